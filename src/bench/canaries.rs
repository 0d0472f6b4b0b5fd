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

    /// Median decision at which the failure was detected, over the seeds that found it.
    pub fn median_decisions(&self) -> Option<f64> {
        median(&self.found.iter().map(|f| f.0 as f64).collect::<Vec<_>>())
    }

    /// Median decision over every seed run, a seed that found nothing counting as later than
    /// any that did: `None` when the median seed found nothing. This is the figure the
    /// strategies are compared by, so that a strategy that finds a bug in few seeds, but
    /// early in those, does not look better than one that finds it in every seed.
    pub fn median_decisions_all_seeds(&self) -> Option<f64> {
        let mut samples: Vec<f64> = self.found.iter().map(|f| f.0 as f64).collect();
        samples.resize(self.seeds.max(self.found.len()), f64::INFINITY);
        median(&samples).filter(|d| d.is_finite())
    }
}

/// How `cell` compares with round-robin's `baseline` cell, as the report prints it.
pub fn versus_round_robin(cell: &Cell, baseline: &Cell) -> String {
    match (
        cell.median_decisions_all_seeds(),
        baseline.median_decisions_all_seeds(),
    ) {
        (Some(d), Some(base)) => format!("{:.2}x round-robin's decisions", d / base),
        (Some(_), None) => {
            "found by the median seed; round-robin's median seed found nothing".into()
        }
        (None, Some(_)) => "the median seed found nothing; round-robin's did".into(),
        (None, None) => "neither this nor round-robin found it by the median seed".into(),
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
         median decisions over the seeds that failed, and over all seeds (a seed that \
         found nothing counts as later than any that did; the ratio compares these)"
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
            .expect("Strategy::ALL has round-robin");
        for cell in &row {
            let vs = if cell.strategy == Strategy::RoundRobin {
                String::new()
            } else {
                format!("  {}", versus_round_robin(cell, baseline))
            };
            let decisions = |d: Option<f64>| d.map_or("-".into(), |d| format!("{d:.0}"));
            println!(
                "  {:<24} {:<12} found {}/{}  median decision {} (all seeds {})  median time {}{vs}",
                canary.name(),
                cell.strategy.name(),
                cell.found.len(),
                cell.seeds,
                decisions(cell.median_decisions()),
                decisions(cell.median_decisions_all_seeds()),
                cell.median_seconds()
                    .map_or("-".into(), |s| format!("{:.4} s", s))
            );
        }
        cells.extend(row);
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(strategy: Strategy, seeds: usize, found: &[u64]) -> Cell {
        Cell {
            canary: Canary::SkipBusySnapshot,
            strategy,
            seeds,
            found: found.iter().map(|&d| (d, 0.0)).collect(),
        }
    }

    #[test]
    fn a_seed_that_found_nothing_counts_as_later_than_any_that_did() {
        // Found early in two seeds of five: the median seed found nothing.
        let sparse = cell(Strategy::Random, 5, &[10, 20]);
        assert_eq!(sparse.median_decisions(), Some(15.0));
        assert_eq!(sparse.median_decisions_all_seeds(), None);
        // Three of five: the median seed is the latest of the three.
        let most = cell(Strategy::Pct, 5, &[300, 100, 200]);
        assert_eq!(most.median_decisions_all_seeds(), Some(300.0));
        // Every seed: the ordinary median.
        let all = cell(Strategy::RoundRobin, 4, &[40, 10, 30, 20]);
        assert_eq!(all.median_decisions_all_seeds(), Some(25.0));
        // An even count whose middle pair includes a miss: not found.
        assert_eq!(
            cell(Strategy::Random, 4, &[1, 2]).median_decisions_all_seeds(),
            None
        );
    }

    #[test]
    fn the_comparison_uses_the_all_seed_medians() {
        let round_robin = cell(Strategy::RoundRobin, 5, &[100, 100, 100, 100, 100]);
        let sparse_but_early = cell(Strategy::Random, 5, &[1, 2]);
        let steady = cell(Strategy::Pct, 5, &[20, 20, 20, 20, 20]);
        assert_eq!(
            versus_round_robin(&steady, &round_robin),
            "0.20x round-robin's decisions"
        );
        assert_eq!(
            versus_round_robin(&sparse_but_early, &round_robin),
            "the median seed found nothing; round-robin's did"
        );
        let rr_sparse = cell(Strategy::RoundRobin, 5, &[5]);
        assert!(versus_round_robin(&steady, &rr_sparse).starts_with("found by the median seed"));
        assert!(versus_round_robin(&sparse_but_early, &rr_sparse).starts_with("neither"));
    }
}
