//! Time to first failure for each canary (known-bad engine behaviour) under each
//! scheduling strategy: decisions and wall time until the run fails, median over seeds,
//! compared with round-robin (the Whopper baseline). Needs a build with `--features
//! canaries`; without it the canaries are compiled away and nothing is measured.

use braid_core::Canary;

use super::decisions::default_config_with;
use super::stats::{median, timed};
use crate::config::Strategy;
use crate::sim::{SimOptions, Simulation};

/// One (canary, strategy) cell: how many seeds found the bug and how fast.
#[derive(Debug, Clone)]
pub struct Cell {
    pub canary: Canary,
    pub strategy: Strategy,
    pub seeds: usize,
    /// Per seed that failed: (decision of the failure, wall seconds to it; CPU time is too
    /// coarse for runs this short).
    pub found: Vec<(u64, f64)>,
}

impl Cell {
    /// Median wall seconds to the failure over the seeds that found it.
    pub fn median_seconds(&self) -> Option<f64> {
        median(&self.found.iter().map(|f| f.1).collect::<Vec<_>>())
    }

    /// Median decision at which the failure was detected.
    pub fn median_decisions(&self) -> Option<f64> {
        median(&self.found.iter().map(|f| f.0 as f64).collect::<Vec<_>>())
    }
}

/// Runs `canary` under `strategy` for each seed (at most `steps` decisions each).
pub fn measure(canary: Canary, strategy: Strategy, seeds: &[u64], steps: u64) -> Cell {
    let mut config = default_config_with(Some(steps));
    config.scheduler.strategy = strategy;
    let mut found = Vec::new();
    for &seed in seeds {
        let settings = config
            .resolve(seed)
            .settings()
            .expect("the default config gives valid settings");
        let options = SimOptions {
            canary: Some(canary),
            ..SimOptions::default()
        };
        let (outcome, elapsed) = timed(|| Simulation::new(settings, seed, options).run());
        if let Some(failure) = outcome.failure {
            found.push((failure.step, elapsed.wall_seconds));
        }
    }
    Cell {
        canary,
        strategy,
        seeds: seeds.len(),
        found,
    }
}

/// Every canary under every strategy; prints a table with the ratio to round-robin.
pub fn run(seeds: &[u64], steps: u64) -> Vec<Cell> {
    if !cfg!(feature = "canaries") {
        println!("bench canaries: this binary has no canaries; rerun with `--features canaries`");
        return Vec::new();
    }
    println!(
        "bench canaries: default config, at most {steps} decisions per seed, seeds {seeds:?}; \
         medians over the seeds that failed"
    );
    let mut cells = Vec::new();
    for canary in Canary::ALL {
        let row: Vec<Cell> = Strategy::ALL
            .into_iter()
            .map(|strategy| measure(canary, strategy, seeds, steps))
            .collect();
        // Compared in decisions: deterministic, and free of timer resolution on short runs.
        let baseline = row
            .iter()
            .find(|c| c.strategy == Strategy::RoundRobin)
            .and_then(Cell::median_decisions);
        for cell in &row {
            let vs = match (cell.median_decisions(), baseline) {
                (Some(d), Some(base)) if cell.strategy != Strategy::RoundRobin => {
                    format!("  {:.2}x round-robin's decisions", d / base)
                }
                (Some(_), None) => "  (round-robin found nothing)".into(),
                _ => String::new(),
            };
            println!(
                "  {:<24} {:<12} found {}/{}  median decision {}  median time {}{vs}",
                canary.name(),
                cell.strategy.name(),
                cell.found.len(),
                cell.seeds,
                cell.median_decisions()
                    .map_or("-".into(), |d| format!("{d:.0}")),
                cell.median_seconds()
                    .map_or("-".into(), |s| format!("{:.4} s", s))
            );
        }
        cells.extend(row);
    }
    cells
}
