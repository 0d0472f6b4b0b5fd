//! Shrinking (README: "Campaigns, replay and shrinking"): make a failing run as small as it can be while it still fails
//! with the same kind, Hypothesis style — by editing the tape of draws, not the run.
//!
//! A candidate is a config plus a tape; it is tested by replaying the tape (draws past its
//! end are 0, the simplest outcome) and kept if the run fails with the original kind and
//! is smaller. The tape the replay actually consumed, with trailing zeros cut, becomes the
//! new current tape (normalization), so every kept candidate is a real run. Smaller means
//! fewer operations (what a person has to read), else a tape smaller in shortlex order
//! (shorter, or as long and lexicographically smaller); a search adopts only runs with
//! fewer decisions. Configs only get simpler, so shrinking ends.
//!
//! After every kept candidate the run's `steps` is cut to the failure step plus a margin
//! (checked by one replay), so later candidates that do not fail stop soon after the
//! point where the failure was.
//!
//! Before the passes, and again each time they reach a fixed point, a search (`search.rs`)
//! runs fresh seeds under simpler configs and adopts any run that fails with the same kind
//! in fewer decisions: some failures (a full cache, a long log before a crash) cannot get
//! small by editing their tape. `ShrinkOptions::search` turns it off.
//!
//! Passes, repeated until a whole round changes nothing or the time runs out:
//! 1. config: fewer steps (the failure step plus a margin), fewer connections, a smaller
//!    page cache, earlier checkpoints;
//! 2. reductions people make (`people.rs`): cut the run after the failure, drop a workload,
//!    crash epochs, a connection and its history, transactions, faults; again after 5;
//! 3. truncate: the shortest failing prefix of the tape, by binary search (`bulk.rs`);
//! 4. delete every span of one label at once, else half of them (`bulk.rs`);
//! 5. delete runs of consecutive outermost spans: halves, quarters, ... down to pairs;
//! 6. delete spans, largest first (a transaction, a program, a decision, a fault ...);
//! 7. zero spans, largest first (every decision inside becomes the simplest);
//! 8. delete runs of 8, 4, 2, 1 values, from the end;
//! 9. lower each value: to 0 first, then by binary search.

mod bulk;
mod passes;
mod people;
mod search;

use std::time::{Duration, Instant};

use braid_core::Canary;

use crate::artifacts::{ArtifactError, FailureArtifact, replay_tape};
use crate::config::Config;
use crate::sim::{Choices, DecisionRecord, FailureKind, Outcome, RunArtifacts, SimOptions, Tape};

/// Extra decisions past the failure step when cutting `steps` (the failure may need a few
/// decisions of slack to be detected the same way).
const STEP_MARGIN: u64 = 50;

/// How big a failing run is, for before/after reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub decisions: u64,
    pub operations: u64,
    pub transactions: u64,
    pub connections: u32,
    /// Faults injected (by kind and on groups), crashes included.
    pub faults: u64,
    /// Draws on the tape.
    pub tape_len: usize,
}

impl Sizes {
    fn of(config: &Config, outcome: &Outcome, tape: &Tape) -> Sizes {
        let s = &outcome.stats;
        Sizes {
            decisions: s.decisions,
            operations: s.operations,
            transactions: s.transactions,
            connections: config.run.connections,
            faults: s.faults.values().sum::<u64>() + s.group_faults.values().sum::<u64>(),
            tape_len: tape.values.len(),
        }
    }

    /// One line: `decisions 85  operations 12  ...`.
    pub fn describe(&self) -> String {
        format!(
            "decisions {}  operations {}  transactions {}  connections {}  faults {}  tape {}",
            self.decisions,
            self.operations,
            self.transactions,
            self.connections,
            self.faults,
            self.tape_len
        )
    }
}

/// Where a shrink stands, handed to the progress callback after every candidate.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Candidates tried and kept so far.
    pub tried: u64,
    pub kept: u64,
    /// The current (smallest) failure.
    pub decisions: u64,
    pub operations: u64,
    pub tape_len: usize,
    /// What the last candidate tried.
    pub what: &'a str,
    /// Whether the last candidate was kept.
    pub last_kept: bool,
}

/// What shrinking produced.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smallest config found (steps and connections may be lower).
    pub config: Config,
    /// The final run, replayed with a timeline and history: its tape, outcome and trace.
    pub run: RunArtifacts,
    pub before: Sizes,
    pub after: Sizes,
    /// Candidates tried and kept.
    pub tried: u64,
    pub kept: u64,
    pub elapsed: Duration,
    /// Whether a whole round of passes changed nothing (false: the time ran out first).
    pub fixed_point: bool,
}

/// How to shrink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShrinkOptions {
    /// Stop after this long (the best failure so far is kept).
    pub time_limit: Duration,
    /// Also search fresh seeds under simpler configs for a smaller failure of the same kind
    /// (see `search.rs`); off keeps to the original run's interleaving.
    pub search: bool,
}

impl ShrinkOptions {
    /// Tape passes and search, for at most `time_limit`.
    pub fn new(time_limit: Duration) -> ShrinkOptions {
        ShrinkOptions {
            time_limit,
            search: true,
        }
    }
}

/// The state of one shrink: what must be preserved and the best run so far.
pub(crate) struct Shrinker<'a> {
    seed: u64,
    canary: Option<Canary>,
    kind: FailureKind,
    pub(crate) config: Config,
    pub(crate) tape: Tape,
    outcome: Outcome,
    /// What each decision of the current run served (`people.rs` reads it).
    pub(crate) structure: Vec<DecisionRecord>,
    deadline: Instant,
    tried: u64,
    kept: u64,
    progress: &'a mut dyn FnMut(&Progress<'_>),
}

impl Shrinker<'_> {
    /// Whether the time limit has passed.
    pub(crate) fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Tries `values` under the current config; keeps it if it still fails the same way
    /// and its normalized tape is smaller. Returns whether it was kept.
    pub(crate) fn try_values(&mut self, values: Vec<u64>, what: &str) -> bool {
        let config = self.config.clone();
        self.try_candidate(config, values, what)
    }

    /// Tries a config and tape; a config change may keep an equally long tape.
    pub(crate) fn try_candidate(&mut self, config: Config, values: Vec<u64>, what: &str) -> bool {
        let config_changed = config != self.config;
        if !config_changed && !shortlex_less(&values, &self.tape.values) {
            return false;
        }
        self.tried += 1;
        let candidate = Tape {
            seed: self.tape.seed,
            values,
            spans: Vec::new(),
        };
        let (run, structure) = replay_structured(&config, self.seed, self.canary, &candidate);
        let kept = self.fails_same_way(&run.outcome) && {
            let tape = normalize(run.tape);
            let smaller = self.smaller(&run.outcome, &tape, config_changed);
            if smaller {
                self.adopt(config, tape, run.outcome, structure);
            }
            smaller
        };
        self.report(what, kept);
        if kept {
            self.cap_steps();
        }
        kept
    }

    /// Whether a failing run with `outcome` and normalized `tape` is smaller than the
    /// current one: fewer operations (what a person reads), else a tape smaller in shortlex
    /// order, or, for a simpler config, one no longer. The order is well founded (configs
    /// only ever get simpler), so shrinking ends.
    fn smaller(&self, outcome: &Outcome, tape: &Tape, config_changed: bool) -> bool {
        let (operations, current) = (outcome.stats.operations, self.outcome.stats.operations);
        operations < current
            || (operations == current
                && (shortlex_less(&tape.values, &self.tape.values)
                    || (config_changed && tape.values.len() <= self.tape.values.len())))
    }

    /// Makes a failing run the current one.
    fn adopt(
        &mut self,
        config: Config,
        tape: Tape,
        outcome: Outcome,
        structure: Vec<DecisionRecord>,
    ) {
        self.kept += 1;
        self.config = config;
        self.tape = tape;
        self.outcome = outcome;
        self.structure = structure;
    }

    /// Tells the progress callback about the candidate just tried.
    fn report(&mut self, what: &str, kept: bool) {
        let progress = Progress {
            tried: self.tried,
            kept: self.kept,
            decisions: self.outcome.stats.decisions,
            operations: self.outcome.stats.operations,
            tape_len: self.tape.values.len(),
            what,
            last_kept: kept,
        };
        (self.progress)(&progress);
    }

    /// Cuts `steps` to the current failure step plus `STEP_MARGIN` if the current tape
    /// still fails the same way under it (one replay). Candidates that do not fail then
    /// stop near where the failure was instead of running the whole original length.
    fn cap_steps(&mut self) {
        let steps = self.failure_step().saturating_add(STEP_MARGIN);
        if steps >= self.config.run.steps || self.out_of_time() {
            return;
        }
        let mut config = self.config.clone();
        config.run.steps = steps;
        self.tried += 1;
        let (run, structure) = replay_structured(&config, self.seed, self.canary, &self.tape);
        let same_kind = self.fails_same_way(&run.outcome);
        let tape = normalize(run.tape);
        let kept = same_kind
            && run.outcome.stats.operations <= self.outcome.stats.operations
            && tape.values.len() <= self.tape.values.len();
        if kept {
            self.adopt(config, tape, run.outcome, structure);
        }
        self.report(&format!("steps -> {steps}"), kept);
    }

    /// Whether `outcome` is a failure of the kind being shrunk.
    pub(crate) fn fails_same_way(&self, outcome: &Outcome) -> bool {
        outcome
            .failure
            .as_ref()
            .is_some_and(|f| f.kind == self.kind)
    }

    /// The step of the current failure.
    pub(crate) fn failure_step(&self) -> u64 {
        self.outcome.failure.as_ref().map_or(0, |f| f.step)
    }
}

/// Searches (if asked), then runs the passes to a fixed point; repeats while a search finds
/// a smaller failure. Returns false if the time ran out first.
fn shrink_loop(s: &mut Shrinker<'_>, search: bool) -> bool {
    let mut round = 0;
    loop {
        let found = search && {
            // A search may use a quarter of the time that is left.
            let left = s.deadline.saturating_duration_since(Instant::now());
            search::search(s, Instant::now() + left / 4, round)
        };
        if !passes::run_to_fixed_point(s) {
            return false;
        }
        if !found {
            return true;
        }
        round += 1;
    }
}

/// Replays `tape` under `config`, keeping the run's structure (no timeline or history).
fn replay_structured(
    config: &Config,
    seed: u64,
    canary: Option<Canary>,
    tape: &Tape,
) -> (RunArtifacts, Vec<DecisionRecord>) {
    let settings = config
        .settings()
        .expect("every config the shrinker tries was validated");
    let options = SimOptions {
        canary,
        ..SimOptions::default()
    };
    crate::target::simulate_structured(settings, seed, Choices::replaying_tape(tape), options)
}

/// Whether `a` is shorter than `b`, or as long and lexicographically smaller.
fn shortlex_less(a: &[u64], b: &[u64]) -> bool {
    (a.len(), a) < (b.len(), b)
}

/// Cuts trailing zeros (a replay draws 0 past the tape's end anyway) and clamps the spans.
fn normalize(mut tape: Tape) -> Tape {
    while tape.values.last() == Some(&0) {
        tape.values.pop();
    }
    let len = tape.values.len();
    tape.spans.retain(|span| span.start < len);
    for span in &mut tape.spans {
        span.end = span.end.min(len);
    }
    tape
}

/// Shrinks the failure in `artifact` for at most `time_limit`, reporting each kept step
/// through `progress`. Fails if the artifact cannot be replayed at all; a failure that does
/// not reproduce is returned as `Err(NotReproduced)` with what the replay found.
pub fn shrink(
    artifact: &FailureArtifact,
    time_limit: Duration,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<Shrunk, ShrinkError> {
    shrink_with(artifact, ShrinkOptions::new(time_limit), progress)
}

/// `shrink` with every option.
pub fn shrink_with(
    artifact: &FailureArtifact,
    options: ShrinkOptions,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<Shrunk, ShrinkError> {
    let time_limit = options.time_limit;
    let started = Instant::now();
    let record = &artifact.record;
    let config = record.config(&artifact.dir)?;
    let canary = record.canary()?;
    let (first, structure) = replay_structured(&config, record.seed, canary, &artifact.tape);
    match &first.outcome.failure {
        Some(failure) if failure.kind == record.kind => {}
        other => {
            return Err(ShrinkError::NotReproduced {
                recorded: record.kind.to_string(),
                found: other.as_ref().map_or("pass".into(), |f| f.kind.to_string()),
            });
        }
    }
    let before = Sizes::of(&config, &first.outcome, &artifact.tape);
    let mut shrinker = Shrinker {
        seed: record.seed,
        canary,
        kind: record.kind,
        tape: normalize(first.tape),
        config,
        outcome: first.outcome,
        structure,
        deadline: started + time_limit,
        tried: 0,
        kept: 0,
        progress,
    };
    let fixed_point = shrink_loop(&mut shrinker, options.search);
    let run = replay_tape(
        &shrinker.config,
        shrinker.seed,
        canary,
        &shrinker.tape,
        true,
    );
    let after = Sizes::of(&shrinker.config, &run.outcome, &shrinker.tape);
    Ok(Shrunk {
        config: shrinker.config,
        run: RunArtifacts {
            tape: shrinker.tape,
            ..run
        },
        before,
        after,
        tried: shrinker.tried,
        kept: shrinker.kept,
        elapsed: started.elapsed(),
        fixed_point,
    })
}

/// Why shrinking could not start.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(
        "the recorded failure does not reproduce: recorded {recorded}, the replay found {found}"
    )]
    NotReproduced { recorded: String, found: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortlex_prefers_shorter_then_smaller() {
        assert!(shortlex_less(&[9], &[0, 0]));
        assert!(shortlex_less(&[1, 0], &[1, 1]));
        assert!(!shortlex_less(&[1, 1], &[1, 1]));
        assert!(!shortlex_less(&[0, 0, 0], &[5, 5]));
    }

    #[test]
    fn normalize_cuts_trailing_zeros_and_clamps_spans() {
        let tape = Tape {
            seed: None,
            values: vec![3, 0, 2, 0, 0],
            spans: vec![
                crate::sim::Span {
                    label: "a".into(),
                    start: 1,
                    end: 5,
                    depth: 0,
                },
                crate::sim::Span {
                    label: "b".into(),
                    start: 3,
                    end: 5,
                    depth: 0,
                },
            ],
        };
        let tape = normalize(tape);
        assert_eq!(tape.values, vec![3, 0, 2]);
        assert_eq!(tape.spans.len(), 1);
        assert_eq!((tape.spans[0].start, tape.spans[0].end), (1, 3));
    }
}
