//! The stuck detector never calls a live run stuck. A run whose only workloads are
//! checkpoints, integrity checks and a long reader has no writer at all: checkpoints take
//! the write lock and get `Busy` from each other, but the lock keeps changing hands, so
//! nothing is stuck (the detector used to wait for a commit that no workload makes). The
//! other side, a leaked lock always ending as `stuck`, is the `leak-write-lock` canary's
//! test (tests/sim_canaries.rs).

use braid::config;
use braid::sim::{SimOptions, Simulation};

fn no_writers(strategy: &str, connections: u32) -> String {
    format!(
        r#"
[run]
steps = 30000
connections = {connections}
[scheduler]
strategy = "{strategy}"
[liveness]
stuck_decisions = 2000
[[workload]]
kind = "checkpoint"
weight = 1
[[workload]]
kind = "integrity"
weight = 1
[[workload]]
kind = "long-reader"
weight = 1
"#
    )
}

#[test]
fn a_run_without_writers_is_never_stuck() {
    for strategy in ["random", "pct", "round-robin"] {
        for connections in [2, 7] {
            let text = no_writers(strategy, connections);
            let config = config::parse(&text, "no-writers.toml").expect("a valid config");
            let settings = config.settings().expect("valid settings");
            for seed in 0..4 {
                let outcome = Simulation::new(settings.clone(), seed, SimOptions::default()).run();
                assert!(
                    outcome.failure.is_none(),
                    "{strategy}, {connections} connections, seed {seed}: {:?}",
                    outcome.failure
                );
                assert!(
                    outcome.stats.busy_retries > 0 || connections == 2,
                    "{strategy}, seed {seed}: checkpoints contended for the lock"
                );
            }
        }
    }
}
