//! Simulator throughput: scheduler decisions per second of wall time for the built-in
//! default config, one seed at a time on one thread (one core), over several seeds.

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

/// Runs every seed in `seeds`, printing one line each, then the summary.
pub fn run(seeds: &[u64], steps: Option<u64>) -> Option<Summary> {
    let config = default_config_with(steps);
    println!(
        "bench decisions: default config, {} steps per seed, seeds {seeds:?}, one thread",
        config.run.steps
    );
    let mut rates = Vec::new();
    for &seed in seeds {
        let sample = run_seed(&config, seed);
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
