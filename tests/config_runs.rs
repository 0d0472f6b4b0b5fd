//! Every shipped config drives a real simulation: its workloads build, run transactions
//! against the engine and commit. (Whether a run passes is the engine's and the oracle's
//! business; this checks that each config is runnable as shipped, on a short budget.)

use std::path::PathBuf;

use braid::config;
use braid::sim::{SimOptions, Simulation};

#[test]
fn every_shipped_config_runs_transactions_that_commit() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("configs/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 8, "{paths:?}");
    for path in paths {
        let mut config = config::load(&path).expect("valid").resolve(1);
        config.run.steps = 1_500;
        let settings = config.settings().expect("valid");
        let outcome = Simulation::new(settings, 1, SimOptions::default()).run();
        let name = path.display();
        assert!(
            outcome.stats.transactions > 10,
            "{name}: {:?}",
            outcome.stats
        );
        assert!(
            outcome.stats.commits > 0,
            "{name}: nothing committed: {:?}",
            outcome.stats
        );
        if let Some(failure) = &outcome.failure {
            eprintln!("{name}: seed 1 found {}: {}", failure.kind, failure.message);
        }
    }
}
