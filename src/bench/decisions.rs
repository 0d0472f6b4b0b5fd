//! Simulator throughput: scheduler decisions per second of wall time for the built-in
//! default config, one seed at a time on one thread (one core), over several seeds.
//!
//! Each seed runs `REPEATS` times (in rounds over all seeds) and its least CPU time counts:
//! on a shared machine other work only ever slows a run down, so the minimum is the closest
//! to the code's own cost (the runs are identical: same seed, same decisions).

use super::stats::{Summary, timed};
use crate::config::{self, Config};
use crate::sim::{Outcome, SimOptions, Simulation};

/// One seed's measurement.
#[derive(Debug, Clone)]
pub struct SeedSample {
    pub seed: u64,
    pub decisions: u64,
    pub operations: u64,
    /// CPU seconds of the run (wall seconds where CPU time cannot be read).
    pub seconds: f64,
    pub wall_seconds: f64,
    pub passed: bool,
}

impl SeedSample {
    /// Decisions per CPU second.
    pub fn decisions_per_second(&self) -> f64 {
        self.decisions as f64 / self.seconds
    }
}

/// The default config with `steps` decisions (the config's own when `None`).
pub fn default_config_with(steps: Option<u64>) -> Config {
    let mut config = config::default_config();
    if let Some(steps) = steps {
        config.run.steps = steps;
    }
    config
}

/// Times each seed is run; the least CPU time counts.
pub const REPEATS: usize = 3;

/// Runs `config` once for `seed` and times the whole simulation (setup included).
pub fn run_seed(config: &Config, seed: u64) -> SeedSample {
    let settings = config
        .resolve(seed)
        .settings()
        .expect("the default config gives valid settings");
    let (outcome, elapsed): (Outcome, _) =
        timed(|| Simulation::new(settings, seed, SimOptions::default()).run());
    SeedSample {
        seed,
        decisions: outcome.stats.decisions,
        operations: outcome.stats.operations,
        seconds: elapsed.best_seconds(),
        wall_seconds: elapsed.wall_seconds,
        passed: outcome.passed(),
    }
}

/// Runs every seed `repeats` times (at least once), in rounds over all the seeds so that a
/// slow spell of the machine does not fall on one seed's runs only; keeps each seed's
/// fastest run, in the order of `seeds`.
pub fn fastest_runs(config: &Config, seeds: &[u64], repeats: usize) -> Vec<SeedSample> {
    let mut best: Vec<Option<SeedSample>> = vec![None; seeds.len()];
    for _ in 0..repeats.max(1) {
        for (slot, &seed) in best.iter_mut().zip(seeds) {
            let sample = run_seed(config, seed);
            if slot.as_ref().is_none_or(|b| sample.seconds < b.seconds) {
                *slot = Some(sample);
            }
        }
    }
    best.into_iter()
        .map(|sample| sample.expect("every seed ran at least once"))
        .collect()
}

/// Runs every seed in `seeds`, printing one line each, then the summary.
pub fn run(seeds: &[u64], steps: Option<u64>) -> Option<Summary> {
    let config = default_config_with(steps);
    println!(
        "bench decisions: default config, {} steps per seed, seeds {seeds:?}, one thread, \
         least CPU time of {REPEATS} runs per seed",
        config.run.steps
    );
    let mut rates = Vec::new();
    for sample in fastest_runs(&config, seeds, REPEATS) {
        println!(
            "  seed {:>3}: {:>9} decisions {:>8} ops in {:.3} s CPU ({:.3} s wall) = {:>9.0} \
             decisions/s{}",
            sample.seed,
            sample.decisions,
            sample.operations,
            sample.seconds,
            sample.wall_seconds,
            sample.decisions_per_second(),
            if sample.passed { "" } else { " (FAILED run)" }
        );
        rates.push(sample.decisions_per_second());
    }
    let summary = Summary::of(&rates)?;
    println!("decisions per CPU second: {}", summary.describe(0));
    Some(summary)
}
