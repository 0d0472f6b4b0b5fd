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

/// An engine that acknowledges a commit although its WAL fsync failed is caught the moment
/// the commit returns: the "wal-sync" group it waited on had a failed member.
#[test]
fn an_acknowledged_commit_after_a_failed_fsync_is_a_lost_io_error_within_20_seeds() {
    let settings = config::default_config().settings().expect("valid");
    let options = SimOptions {
        canary: Some(Canary::AckFailedSync),
        ..SimOptions::default()
    };
    let found = (0..20).find_map(|seed| {
        let outcome = Simulation::new(settings.clone(), seed, options.clone()).run();
        outcome.failure.map(|f| (seed, f))
    });
    let (seed, failure) = found.expect("some seed among 0..20 catches it");
    assert_eq!(
        failure.kind, "lost-io-error",
        "seed {seed}: {}",
        failure.message
    );
    assert!(
        failure.message.contains("wal-sync")
            && failure.message.contains("still returned committed"),
        "seed {seed}: {}",
        failure.message
    );
    // The correct engine passes the same seed.
    let clean = Simulation::new(settings, seed, SimOptions::default()).run();
    assert!(clean.failure.is_none(), "{:?}", clean.failure);
}
