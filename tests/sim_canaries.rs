//! The simulator catches known-bad engine behaviours (builds with `--features canaries`).
#![cfg(feature = "canaries")]

use braid::config;
use braid::sim::{SimOptions, Simulation};
use braid_core::Canary;

#[test]
fn a_leaked_write_lock_ends_as_stuck() {
    let mut config = config::default_config();
    config.run.steps = 40_000;
    config.liveness.stuck_decisions = 2_000;
    config.faults.write_error = 0.02;
    let settings = config.settings().expect("valid");
    let options = SimOptions {
        canary: Some(Canary::LeakWriteLock),
        ..SimOptions::default()
    };
    let found = (0..10).find_map(|seed| {
        let outcome = Simulation::new(settings.clone(), seed, options.clone()).run();
        outcome
            .failure
            .filter(|f| f.kind == "stuck")
            .map(|f| (seed, f))
    });
    let (seed, failure) = found.expect("some seed among 0..10 ends stuck");
    assert!(
        failure.message.contains("Busy"),
        "seed {seed}: {}",
        failure.message
    );
}
