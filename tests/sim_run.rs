//! Whole simulations: determinism of a seed, exact replay of a recorded tape, strategies that
//! differ, and the default config passing on the correct engine.

use braid::config::{self, Config, Settings, Strategy};
use braid::sim::{Choices, SimOptions, Simulation};

/// The default config with every fault kind switched on, small enough for a test.
fn chaos(steps: u64) -> Config {
    let mut config = config::default_config();
    config.run.steps = steps;
    let f = &mut config.faults;
    f.read_error = 0.01;
    f.write_error = 0.01;
    f.sync_error = 0.005;
    f.short_read = 0.005;
    f.short_write = 0.005;
    f.latency = 0.05;
    f.group_fail = 0.01;
    f.group_cancel = 0.01;
    f.crash = 0.001;
    f.torn_write = 0.5;
    f.bit_flip = 0.0005;
    config
}

fn settings(config: &Config) -> Settings {
    config.settings().expect("a valid config")
}

#[test]
fn same_seed_same_trace_hash_with_every_fault_enabled() {
    let settings = settings(&chaos(4_000));
    for seed in [1, 2, 3] {
        let a = Simulation::new(settings.clone(), seed, SimOptions::default()).run();
        let b = Simulation::new(settings.clone(), seed, SimOptions::default()).run();
        assert_eq!(a, b, "seed {seed} must run identically twice");
        assert!(
            a.stats.operations > 100,
            "the run did real work: {:?}",
            a.stats
        );
    }
}

#[test]
fn replaying_the_recorded_tape_gives_the_same_run() {
    let settings = settings(&chaos(4_000));
    for seed in [4, 5] {
        let recorded = Simulation::new(settings.clone(), seed, SimOptions::default()).run_full();
        let replay = Choices::replaying_tape(&recorded.tape);
        let replayed =
            Simulation::with_choices(settings.clone(), seed, replay, SimOptions::default())
                .run_full();
        assert_eq!(recorded.outcome, replayed.outcome);
        assert_eq!(recorded.tape.values, replayed.tape.values);
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let settings = settings(&chaos(2_000));
    let a = Simulation::new(settings.clone(), 10, SimOptions::default()).run();
    let b = Simulation::new(settings, 11, SimOptions::default()).run();
    assert_ne!(a.trace_hash, b.trace_hash);
}

#[test]
fn strategies_are_deterministic_and_interleave_differently() {
    let mut hashes = Vec::new();
    for strategy in Strategy::ALL {
        let mut config = config::default_config();
        config.run.steps = 3_000;
        config.scheduler.strategy = strategy;
        let settings = settings(&config);
        let a = Simulation::new(settings.clone(), 7, SimOptions::default()).run();
        let b = Simulation::new(settings, 7, SimOptions::default()).run();
        assert_eq!(
            a.trace_hash,
            b.trace_hash,
            "{} is deterministic",
            strategy.name()
        );
        assert!(a.passed(), "{}: {:?}", strategy.name(), a.failure);
        hashes.push(a.trace_hash);
    }
    hashes.sort();
    hashes.dedup();
    assert_eq!(
        hashes.len(),
        Strategy::ALL.len(),
        "each strategy interleaves differently"
    );
}

#[test]
fn default_config_passes_on_the_correct_engine() {
    let mut config = config::default_config();
    config.run.steps = 5_000;
    let settings = settings(&config);
    for seed in 0..5 {
        let outcome = Simulation::new(settings.clone(), seed, SimOptions::default()).run();
        assert!(outcome.passed(), "seed {seed}: {:?}", outcome.failure);
        assert!(outcome.stats.commits > 0);
    }
}

#[test]
fn timeline_is_recorded_on_request() {
    let mut config = config::default_config();
    config.run.steps = 300;
    let options = SimOptions {
        record_timeline: true,
        ..SimOptions::default()
    };
    let run = Simulation::new(settings(&config), 1, options).run_full();
    let lines: Vec<String> = run.timeline.lines().collect();
    assert!(
        lines.iter().any(|line| line.contains("invoke")),
        "{:?}",
        &lines[..5]
    );
    let quiet = Simulation::new(settings(&config), 1, SimOptions::default()).run_full();
    assert!(quiet.timeline.is_empty());
    assert_eq!(
        run.outcome.trace_hash, quiet.outcome.trace_hash,
        "recording changes nothing"
    );
}

#[test]
fn history_is_recorded_on_request_and_exports_one_map_per_line() {
    let mut config = chaos(3_000);
    config.faults.crash = 0.002;
    let options = SimOptions {
        record_history: true,
        ..SimOptions::default()
    };
    let run = Simulation::new(settings(&config), 2, options).run_full();
    let history = run.history.expect("history recorded");
    assert!(history.recorded() > 100);
    let edn = history.to_edn();
    for line in edn.lines() {
        assert!(line.starts_with('{') && line.ends_with('}'), "{line}");
        assert!(
            line.contains(":type") && line.contains(":process"),
            "{line}"
        );
    }
    assert!(edn.contains(":invoke") && edn.contains(":ok"));
}

/// The structure of a run covers every draw of its tape, decision by decision, in order,
/// and names what each decision served; recording it changes nothing in the run.
#[test]
fn a_runs_structure_tiles_its_tape_and_leaves_the_run_unchanged() {
    use braid::sim::Owner;
    let mut config = config::default_config();
    config.run.steps = 2_000;
    let settings_short = || config.resolve(5).settings().expect("valid");
    let plain = Simulation::new(settings_short(), 5, SimOptions::default()).run_full();
    let (run, decisions) = Simulation::with_choices(
        settings_short(),
        5,
        Choices::recording(5),
        SimOptions::default(),
    )
    .run_structured();
    assert_eq!(run.outcome.trace_hash, plain.outcome.trace_hash);
    assert_eq!(decisions.len() as u64, run.outcome.stats.decisions);
    let mut at = 0;
    for d in &decisions {
        assert_eq!(d.start, at, "decisions follow one another on the tape");
        assert!(d.end >= d.start);
        at = d.end;
    }
    assert!(at <= run.tape.values.len());
    assert!(decisions.iter().any(|d| d.owner == Owner::Recovery));
    let txns: std::collections::BTreeSet<u64> = decisions
        .iter()
        .filter_map(|d| match d.owner {
            Owner::Txn { txn, .. } => Some(txn),
            _ => None,
        })
        .collect();
    assert!(txns.len() > 10, "{} transactions", txns.len());
    assert!(u64::try_from(txns.len()).expect("fits") >= run.outcome.stats.transactions);
}
