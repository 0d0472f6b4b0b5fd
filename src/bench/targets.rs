//! The targets side by side: the same list-append schedule (4 connections, latency and
//! reordering, no other faults: every target survives them) on each engine this binary
//! has, one seed at a time on one thread. Figures: committed transactions the oracle
//! checked per CPU second, and scheduler decisions per CPU second. Each seed runs
//! `REPEATS` times and its least CPU time counts (see `decisions.rs`).

use super::decisions::REPEATS;
use super::stats::{Summary, timed};
use crate::config::{self, Config, FaultsConfig, TargetName, WorkloadConfig};
use crate::sim::SimOptions;
use crate::target::simulate_outcome;

/// The comparison's config: list-append only, 4 connections, latency only.
pub fn config(target: TargetName, steps: Option<u64>) -> Config {
    let mut config = config::default_config();
    config.run.steps = steps.unwrap_or(100_000);
    config.run.connections = 4;
    config.run.target = target;
    config.faults = FaultsConfig {
        latency: 0.05,
        ..FaultsConfig::none()
    };
    config.workloads = vec![WorkloadConfig {
        kind: "list-append".into(),
        ..config::default_config().workloads[0].clone()
    }];
    config
}

/// One target's figures.
pub struct TargetFigures {
    pub target: TargetName,
    pub commits_per_second: Summary,
    pub decisions_per_second: Summary,
}

/// Runs every seed on every target this binary has, printing one line per seed.
pub fn run(seeds: &[u64], steps: Option<u64>) -> Vec<TargetFigures> {
    let mut figures = Vec::new();
    for target in TargetName::ALL {
        // SQLite does its own blocking I/O: no decisions of the same kind to compare.
        if !target.available() || target == TargetName::Sqlite {
            continue;
        }
        let config = config(target, steps);
        println!(
            "bench targets: {}, list-append, 4 connections, latency only, {} steps per seed, \
             least CPU time of {REPEATS} runs per seed",
            target.name(),
            config.run.steps
        );
        let mut commits = Vec::new();
        let mut decisions = Vec::new();
        for &seed in seeds {
            let settings = config.resolve(seed).settings().expect("a valid config");
            let mut best: Option<(u64, u64, f64, bool)> = None;
            for _ in 0..REPEATS {
                let (outcome, elapsed) =
                    timed(|| simulate_outcome(settings.clone(), seed, SimOptions::default()));
                let seconds = elapsed.best_seconds();
                if best.is_none_or(|b| seconds < b.2) {
                    let stats = &outcome.stats;
                    best = Some((stats.commits, stats.decisions, seconds, outcome.passed()));
                }
            }
            let (c, d, seconds, passed) = best.expect("ran at least once");
            println!(
                "  seed {seed:>3}: {c:>6} commits {d:>8} decisions in {seconds:.3} s CPU = \
                 {:>8.0} commits/s {:>9.0} decisions/s{}",
                c as f64 / seconds,
                d as f64 / seconds,
                if passed { "" } else { " (FAILED run)" }
            );
            commits.push(c as f64 / seconds);
            decisions.push(d as f64 / seconds);
        }
        let (Some(commits), Some(decisions)) = (Summary::of(&commits), Summary::of(&decisions))
        else {
            continue;
        };
        println!(
            "  {}: commits checked per CPU second {}; decisions per CPU second {}",
            target.name(),
            commits.describe(0),
            decisions.describe(0)
        );
        figures.push(TargetFigures {
            target,
            commits_per_second: commits,
            decisions_per_second: decisions,
        });
    }
    figures
}
