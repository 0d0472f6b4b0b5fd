//! SQLite as a target (cargo feature `sqlite`): every workload runs on real SQLite in WAL
//! mode with the oracle and every checker on, and nothing is reported. A complaint here is
//! a bug in the oracle or the adapter, or a real difference of contract, to be documented.
#![cfg(feature = "sqlite")]

use braid::config;
use braid::sim::{SimOptions, Simulation};
use braid::target::Sqlite;

/// The default config's workloads (plus the long reader), `connections` connections, no
/// I/O faults and no crashes (SQLite's I/O is its own and blocking).
pub fn settings(steps: u64, connections: u32) -> braid::config::Settings {
    let mut config = config::default_config();
    config.run.steps = steps;
    config.run.connections = connections;
    config.faults = braid::config::FaultsConfig::none();
    config.settings().expect("valid")
}

#[test]
fn every_workload_on_sqlite_passes_the_oracle() {
    for (seed, connections) in [(0, 2), (1, 3), (2, 4), (3, 8)] {
        let outcome = Simulation::<Sqlite>::on_target(
            settings(5_000, connections),
            seed,
            SimOptions::default(),
        )
        .run();
        assert!(outcome.passed(), "seed {seed}: {:?}", outcome.failure);
        assert!(
            outcome.stats.commits > 50,
            "seed {seed}: {:?}",
            outcome.stats
        );
    }
}

/// The campaign of the README, by hand: `cargo test --release --features sqlite --test
/// target_sqlite -- --ignored --nocapture`.
#[test]
#[ignore]
fn many_seeds_on_sqlite() {
    let count: u64 = std::env::var("BRAID_SQLITE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut failures = Vec::new();
    for seed in 0..count {
        let connections = 2 + (seed % 7) as u32;
        let outcome = Simulation::<Sqlite>::on_target(
            settings(5_000, connections),
            seed,
            SimOptions::default(),
        )
        .run();
        if let Some(failure) = outcome.failure {
            eprintln!("seed {seed} ({connections} connections): {failure:?}");
            failures.push(seed);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} failed: {failures:?}",
        failures.len()
    );
}

/// `braid diff --against sqlite`: braid-core and SQLite run the same schedule and every
/// result agrees (the one intended difference reconciled), seed 1 included, which has a
/// write SQLite refuses after a WAL reset.
#[test]
fn braid_and_sqlite_agree_op_by_op() {
    use braid::config::TargetName;
    use braid::sim::Choices;
    let mut reconciled = 0;
    for seed in 0..3 {
        let mut config = config::default_config();
        config.run.steps = 20_000;
        config.run.diff_against = Some(TargetName::Sqlite);
        let settings = config.settings().expect("valid");
        let run = braid::target::simulate(
            settings,
            seed,
            Choices::recording(seed),
            SimOptions::default(),
        );
        assert!(
            run.outcome.passed(),
            "seed {seed}: {:?}",
            run.outcome.failure
        );
        assert!(run.outcome.stats.operations > 5_000, "seed {seed}");
        reconciled += run
            .outcome
            .stats
            .aborts
            .get(braid::diff::WAL_RESET_REFUSAL)
            .copied()
            .unwrap_or(0);
    }
    assert!(
        reconciled > 0,
        "seed 1 has a write SQLite refuses after a WAL reset"
    );
}
