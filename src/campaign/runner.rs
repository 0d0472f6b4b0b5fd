//! Running one seed of a campaign: resolve the config for the seed (swarm), simulate, and
//! for a failure rerun its tape with a timeline and write the failure directory.

use std::path::{Path, PathBuf};

use braid_core::Canary;

use super::summary::SeedRecord;
use crate::artifacts::{FailureRecord, replay_tape, write_failure_dir};
use crate::config::Config;
use crate::sim::{Choices, Failure, FailureKind, Outcome, RunArtifacts, RunStats, SimOptions};

/// The failure directory of `seed` under `out`.
pub fn seed_dir(out: &Path, seed: u64) -> PathBuf {
    out.join(format!("seed-{seed}"))
}

/// What running one seed produced.
pub struct SeedResult {
    pub record: SeedRecord,
    /// A problem worth telling the user that did not stop the campaign (an artifact that
    /// could not be written, a replay that did not reproduce).
    pub warning: Option<String>,
}

/// Runs `seed` of `config` (resolved for the seed here) and writes its failure artifacts.
pub fn run_seed(config: &Config, seed: u64, canary: Option<Canary>, out: &Path) -> SeedResult {
    let resolved = config.resolve(seed);
    let settings = match resolved.settings() {
        Ok(settings) => settings,
        Err(err) => {
            let outcome = Outcome {
                seed,
                strategy: resolved.scheduler.strategy.name().to_string(),
                stats: RunStats::default(),
                trace_hash: String::new(),
                failure: Some(Failure {
                    kind: FailureKind::Config,
                    step: 0,
                    message: format!("the config resolved for this seed is invalid: {err}"),
                }),
            };
            return SeedResult {
                record: SeedRecord::from_outcome(&outcome, None),
                warning: None,
            };
        }
    };
    let options = SimOptions {
        canary,
        ..SimOptions::default()
    };
    let run = crate::target::simulate(settings, seed, Choices::recording(seed), options);
    if run.outcome.passed() {
        return SeedResult {
            record: SeedRecord::from_outcome(&run.outcome, None),
            warning: None,
        };
    }
    // Rerun from the tape for the timeline; this also proves the failure replays.
    let again = replay_tape(&resolved, seed, canary, &run.tape, true);
    let mut warning = None;
    if again.outcome.trace_hash != run.outcome.trace_hash {
        warning = Some(format!(
            "seed {seed}: replaying the tape gave trace hash {} (recorded {}); the timeline \
             may not match the failure",
            again.outcome.trace_hash, run.outcome.trace_hash
        ));
    }
    let dir = seed_dir(out, seed);
    let record = FailureRecord::new(&resolved, canary, &run.outcome).expect("the outcome failed");
    let written = match write_failure_dir(
        &dir,
        &record,
        &RunArtifacts {
            tape: run.tape.clone(),
            ..again
        },
    ) {
        Ok(()) => Some(dir.display().to_string()),
        Err(err) => {
            warning = Some(format!("seed {seed}: cannot write its artifacts: {err}"));
            None
        }
    };
    SeedResult {
        record: SeedRecord::from_outcome(&run.outcome, written),
        warning,
    }
}

/// The result of a seed whose campaign-side work (not the simulation) panicked: reported as
/// a failure of kind "braid-panic" without artifacts, so the campaign goes on.
pub fn internal_panic(seed: u64, panic: &(dyn std::any::Any + Send)) -> SeedResult {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into());
    let outcome = Outcome {
        seed,
        strategy: String::new(),
        stats: RunStats::default(),
        trace_hash: String::new(),
        failure: Some(Failure {
            kind: FailureKind::BraidPanic,
            step: 0,
            message: format!("braid itself panicked while running seed {seed}: {message}"),
        }),
    };
    SeedResult {
        record: SeedRecord::from_outcome(&outcome, None),
        warning: Some(format!("seed {seed}: braid panicked: {message}")),
    }
}
