//! Turso's engine as a target (cargo feature `turso`): turso_core runs on the simulated
//! I/O under the oracle, deterministically, and survives the faults its contract covers.
//! Its known defects are regression cases (`tests/regressions/turso-finding-*.toml`).

use std::path::Path;

use braid::config::{self, TargetName};

#[cfg(feature = "turso")]
fn config_file(name: &str) -> config::Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(name);
    config::load(&path).expect("a shipped config")
}

#[cfg(feature = "turso")]
mod with_turso {
    use super::*;
    use braid::sim::SimOptions;
    use braid::target::simulate_outcome;

    fn run(config: &config::Config, seed: u64) -> braid::sim::Outcome {
        let settings = config.resolve(seed).settings().expect("valid");
        simulate_outcome(settings, seed, SimOptions::default())
    }

    #[test]
    fn clean_interleavings_pass_and_commit() {
        let mut config = config_file("turso-clean.toml");
        config.run.steps = 4_000;
        for seed in 0..3 {
            let outcome = run(&config, seed);
            assert!(outcome.passed(), "seed {seed}: {:?}", outcome.failure);
            assert!(
                outcome.stats.commits > 20,
                "seed {seed}: {:?}",
                outcome.stats
            );
        }
    }

    #[test]
    fn failed_fsyncs_crashes_and_short_writes_are_survived() {
        let mut config = config_file("turso.toml");
        config.run.steps = 4_000;
        config.faults.sync_error = 0.01;
        config.faults.short_write = 0.01;
        config.faults.crash = 0.001;
        let mut crashes = 0;
        let mut stops = 0;
        for seed in 0..4 {
            let outcome = run(&config, seed);
            assert!(outcome.passed(), "seed {seed}: {:?}", outcome.failure);
            crashes += outcome.stats.crashes;
            stops += outcome.stats.faults.get("poisoned").copied().unwrap_or(0);
        }
        assert!(crashes > 0, "the runs crashed and recovered");
        assert!(
            stops > 0,
            "turso fail-stopped on a failed fsync and was reopened"
        );
    }

    #[test]
    fn same_seed_same_trace_hash() {
        // The default config with the turso target: I/O faults and crashes, 4 connections.
        let mut config = config::default_config();
        config.run.target = TargetName::Turso;
        config.run.steps = 3_000;
        let first = run(&config, 1);
        let second = run(&config, 1);
        assert_eq!(first.trace_hash, second.trace_hash);
        assert!(first.stats.commits > 0, "{:?}", first.stats);
        let other = run(&config, 2);
        assert_ne!(first.trace_hash, other.trace_hash, "the seed matters");
    }
}

/// Without the feature, asking for the target is a configuration error that names it.
#[cfg(not(feature = "turso"))]
#[test]
fn a_binary_without_the_feature_refuses_the_target() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/turso.toml");
    let error = config::load(&path).expect_err("refused");
    assert!(error.to_string().contains("--features turso"), "{error}");
    let mut config = config::default_config();
    config.run.target = TargetName::Turso;
    assert!(config.validate("default").is_err());
}
