//! Failure artifacts: the directory a failing seed leaves behind, and how to read it back.
//!
//! Layout of one failure directory (README: "Campaigns, replay and shrinking"):
//!
//! ```text
//! failure.json   FailureRecord: braid version, resolved config (TOML text), seed, strategy,
//!                canary, step, kind, message, trace hash, stats
//! tape.bin       every draw of the run (`Tape::save`); replaying it reproduces the run
//! timeline.txt   one line per event of the run, for people
//! timeline.html  the same events drawn: a lane per connection, per file and for the
//!                nemesis (one self-contained page, see `timeline::html`)
//! history.edn    the run's history, Jepsen/Elle EDN, one map per line (the newest events
//!                the simulation keeps, see `SimOptions::record_history`)
//! elle-history.edn  the list-append transactions in Elle's transaction form (`:f :txn`,
//!                micro-ops), when the run had any: what `elle-cli --model list-append` reads
//! ```
//!
//! Writing is atomic: everything goes into a hidden sibling directory that is renamed into
//! place last, so an interrupted campaign never leaves half an artifact under the real name.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{self, Config};
use crate::sim::{Choices, FailureKind, Outcome, RunArtifacts, RunStats, SimOptions, Tape};
use crate::timeline::{self, html::PageFacts};

/// File name of the failure record inside an artifact directory.
pub const FAILURE_FILE: &str = "failure.json";
/// File name of the tape inside an artifact directory.
pub const TAPE_FILE: &str = "tape.bin";
/// File name of the readable timeline inside an artifact directory.
pub const TIMELINE_FILE: &str = "timeline.txt";
/// File name of the timeline drawn as a page, inside an artifact directory.
pub const TIMELINE_HTML_FILE: &str = "timeline.html";
/// File name of the EDN history inside an artifact directory.
pub const HISTORY_FILE: &str = "history.edn";
/// File name of the list-append transactions in Elle's transaction form.
pub const ELLE_HISTORY_FILE: &str = "elle-history.edn";

/// What `failure.json` holds: enough to rerun the failure exactly, and to tell whether a
/// rerun matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// `CARGO_PKG_VERSION` of the braid that wrote the record.
    pub braid_version: String,
    /// The resolved config (swarm already applied) as TOML text `config::parse` reads.
    pub config_toml: String,
    pub seed: u64,
    pub strategy: String,
    /// The canary switched on, by name (`Canary::name`), if any.
    pub canary: Option<String>,
    /// The decision at which the failure was detected.
    pub step: u64,
    /// The failure kind, written by its stable name ("lost-commit", "stuck", ...).
    pub kind: FailureKind,
    pub message: String,
    /// 16 hex digits over every event of the run.
    pub trace_hash: String,
    pub stats: RunStats,
}

/// Why an artifact directory could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a failure record: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    Tape {
        path: PathBuf,
        source: crate::sim::TapeError,
    },
    #[error("{path}: the recorded config is invalid: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{0}")]
    Canary(String),
    #[error("the outcome passed: there is no failure to write")]
    NotAFailure,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ArtifactError + '_ {
    move |source| ArtifactError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl FailureRecord {
    /// The record of a failed `outcome` under `config` (already resolved).
    pub fn new(
        config: &Config,
        canary: Option<braid_core::Canary>,
        outcome: &Outcome,
    ) -> Result<FailureRecord, ArtifactError> {
        let failure = outcome.failure.as_ref().ok_or(ArtifactError::NotAFailure)?;
        Ok(FailureRecord {
            braid_version: env!("CARGO_PKG_VERSION").to_string(),
            config_toml: config::to_toml(config),
            seed: outcome.seed,
            strategy: outcome.strategy.clone(),
            canary: canary.map(|c| c.name().to_string()),
            step: failure.step,
            kind: failure.kind,
            message: failure.message.clone(),
            trace_hash: outcome.trace_hash.clone(),
            stats: outcome.stats.clone(),
        })
    }

    /// The recorded config, parsed and validated.
    pub fn config(&self, origin: &Path) -> Result<Config, ArtifactError> {
        let name = origin.join(FAILURE_FILE);
        config::parse(&self.config_toml, &name.display().to_string()).map_err(|e| {
            ArtifactError::Config {
                path: name,
                message: e.to_string(),
            }
        })
    }

    /// What `timeline.html` says about this failure besides its events.
    pub fn page_facts(&self) -> PageFacts {
        let connections =
            config::parse(&self.config_toml, FAILURE_FILE).map_or(0, |c| c.run.connections);
        let mut facts = vec![
            ("seed".to_string(), self.seed.to_string()),
            ("strategy".to_string(), self.strategy.clone()),
        ];
        if let Some(canary) = &self.canary {
            facts.push(("canary".to_string(), canary.clone()));
        }
        facts.extend([
            ("connections".to_string(), connections.to_string()),
            ("decisions".to_string(), self.stats.decisions.to_string()),
            ("operations".to_string(), self.stats.operations.to_string()),
            (
                "transactions".to_string(),
                self.stats.transactions.to_string(),
            ),
            ("crashes".to_string(), self.stats.crashes.to_string()),
            ("trace hash".to_string(), self.trace_hash.clone()),
            ("braid".to_string(), self.braid_version.clone()),
        ]);
        PageFacts {
            title: format!(
                "braid: {} at step {} (seed {})",
                self.kind, self.step, self.seed
            ),
            facts,
            connections,
            failure: Some((self.kind, self.step, self.message.clone())),
        }
    }

    /// The recorded canary, which this build must know (built with `--features canaries`).
    pub fn canary(&self) -> Result<Option<braid_core::Canary>, ArtifactError> {
        crate::cli::parse_canary(self.canary.as_deref()).map_err(ArtifactError::Canary)
    }
}

/// A failure directory read back: the record and the tape.
#[derive(Debug, Clone)]
pub struct FailureArtifact {
    pub dir: PathBuf,
    pub record: FailureRecord,
    pub tape: Tape,
}

impl FailureArtifact {
    /// Reads `dir/failure.json` and `dir/tape.bin`.
    pub fn load(dir: &Path) -> Result<FailureArtifact, ArtifactError> {
        let path = dir.join(FAILURE_FILE);
        let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
        let record = serde_json::from_str(&text).map_err(|source| ArtifactError::Json {
            path: path.clone(),
            source,
        })?;
        let tape_path = dir.join(TAPE_FILE);
        let tape = Tape::load(&tape_path).map_err(|source| ArtifactError::Tape {
            path: tape_path,
            source,
        })?;
        Ok(FailureArtifact {
            dir: dir.to_path_buf(),
            record,
            tape,
        })
    }

    /// The same failure to rerun on another engine (`--target` of replay and shrink): the
    /// recorded config with `[run] target` replaced; refused when this binary lacks it.
    pub fn on_target(mut self, name: Option<&str>) -> Result<FailureArtifact, String> {
        let Some(name) = name else {
            return Ok(self);
        };
        let mut config = self.record.config(&self.dir).map_err(|e| e.to_string())?;
        config.run.target = config::TargetName::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = config::TargetName::ALL.iter().map(|t| t.name()).collect();
            format!("--target {name}: expected one of {}", names.join(", "))
        })?;
        config
            .validate(&format!("{} with --target {name}", self.dir.display()))
            .map_err(|e| e.to_string())?;
        self.record.config_toml = config::to_toml(&config);
        Ok(self)
    }

    /// Reruns the recorded failure from its tape (same config, canary and seed).
    pub fn replay(&self, record_timeline: bool) -> Result<RunArtifacts, ArtifactError> {
        let config = self.record.config(&self.dir)?;
        let canary = self.record.canary()?;
        Ok(replay_tape(
            &config,
            self.record.seed,
            canary,
            &self.tape,
            record_timeline,
        ))
    }
}

/// Runs `config` with every draw taken from `tape`; `record_timeline` also keeps the
/// timeline and the history (for artifacts and `replay --trace`).
pub fn replay_tape(
    config: &Config,
    seed: u64,
    canary: Option<braid_core::Canary>,
    tape: &Tape,
    record_timeline: bool,
) -> RunArtifacts {
    let settings = config
        .settings()
        .expect("the config was validated when it was parsed");
    let options = SimOptions {
        canary,
        record_timeline,
        record_history: record_timeline,
    };
    crate::target::simulate(settings, seed, Choices::replaying_tape(tape), options)
}

/// Writes a failure directory at `dir` atomically (a hidden sibling renamed into place).
/// An existing directory at `dir` is replaced. `history.edn` is written when the run kept
/// a history.
pub fn write_failure_dir(
    dir: &Path,
    record: &FailureRecord,
    run: &RunArtifacts,
) -> Result<(), ArtifactError> {
    let tape = &run.tape;
    let name = dir
        .file_name()
        .expect("an artifact directory has a name")
        .to_string_lossy();
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
    }
    std::fs::create_dir(&staging).map_err(io_error(&staging))?;

    let json = serde_json::to_string_pretty(record).expect("a failure record serializes");
    let path = staging.join(FAILURE_FILE);
    std::fs::write(&path, json + "\n").map_err(io_error(&path))?;
    let path = staging.join(TAPE_FILE);
    tape.save(&path)
        .map_err(|source| ArtifactError::Tape { path, source })?;
    let path = staging.join(TIMELINE_FILE);
    std::fs::write(&path, run.timeline.to_text()).map_err(io_error(&path))?;
    let path = staging.join(TIMELINE_HTML_FILE);
    let html = timeline::html::render(&run.timeline, &record.page_facts());
    std::fs::write(&path, html).map_err(io_error(&path))?;
    if let Some(history) = &run.history {
        let path = staging.join(HISTORY_FILE);
        std::fs::write(&path, history.to_edn()).map_err(io_error(&path))?;
    }
    if let Some(history) = run.txn_history.as_ref().filter(|h| h.txn_count() > 0) {
        let path = staging.join(ELLE_HISTORY_FILE);
        std::fs::write(&path, history.to_edn()).map_err(io_error(&path))?;
    }

    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io_error(dir))?;
    }
    std::fs::rename(&staging, dir).map_err(io_error(dir))
}

/// Writes `text` to `path` atomically (a temporary sibling renamed into place).
pub fn write_file_atomic(path: &Path, text: &str) -> Result<(), ArtifactError> {
    let name = path
        .file_name()
        .expect("a file path has a name")
        .to_string_lossy();
    let parent = path.parent().unwrap_or(Path::new("."));
    if !parent.as_os_str().is_empty() {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    let temp = parent.join(format!(".{name}.partial-{}", std::process::id()));
    std::fs::write(&temp, text).map_err(io_error(&temp))?;
    std::fs::rename(&temp, path).map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Failure;

    fn failed_outcome() -> Outcome {
        Outcome {
            seed: 7,
            strategy: "random".into(),
            stats: RunStats::default(),
            trace_hash: "00000000000000ff".into(),
            failure: Some(Failure {
                kind: FailureKind::Stuck,
                step: 12,
                message: "nothing moved".into(),
            }),
        }
    }

    #[test]
    fn a_written_directory_reads_back_and_leaves_no_staging() {
        let root = std::env::temp_dir().join(format!("braid-artifacts-{}", std::process::id()));
        let dir = root.join("seed-7");
        let config = config::default_config().resolve(7);
        let record = FailureRecord::new(&config, None, &failed_outcome()).expect("a failure");
        let tape = Tape {
            seed: Some(7),
            values: vec![1, 0, 3],
            spans: Vec::new(),
        };
        let mut timeline = crate::timeline::Timeline::new();
        timeline.push(0, crate::timeline::What::Note("a".into()));
        let run = RunArtifacts {
            outcome: failed_outcome(),
            tape: tape.clone(),
            timeline,
            history: None,
            txn_history: None,
        };
        write_failure_dir(&dir, &record, &run).expect("written");
        // Writing again replaces the directory.
        write_failure_dir(&dir, &record, &run).expect("rewritten");
        let back = FailureArtifact::load(&dir).expect("readable");
        let text = std::fs::read_to_string(dir.join(TIMELINE_FILE)).expect("timeline.txt");
        assert_eq!(text, "step 0 a\n");
        let html = std::fs::read_to_string(dir.join(TIMELINE_HTML_FILE)).expect("timeline.html");
        assert!(
            html.contains("nothing moved"),
            "the failure's message is on the page"
        );
        assert_eq!(back.record, record);
        assert_eq!(back.tape, tape);
        assert_eq!(back.record.config(&dir).expect("valid config"), config);
        let names: Vec<_> = std::fs::read_dir(&root)
            .expect("root exists")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("seed-7")]);
        std::fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn a_passing_outcome_is_not_a_failure_record() {
        let mut outcome = failed_outcome();
        outcome.failure = None;
        let config = config::default_config();
        assert!(matches!(
            FailureRecord::new(&config, None, &outcome),
            Err(ArtifactError::NotAFailure)
        ));
    }

    #[test]
    fn a_damaged_record_is_reported_with_its_path() {
        let dir = std::env::temp_dir().join(format!("braid-artifacts-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join(FAILURE_FILE), "{ not json").expect("write");
        let err = FailureArtifact::load(&dir).expect_err("damaged");
        assert!(err.to_string().contains(FAILURE_FILE), "{err}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
