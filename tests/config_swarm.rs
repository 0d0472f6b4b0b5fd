//! Swarm mode: `Config::resolve(seed)` is deterministic per seed, keeps every drawn value
//! inside its range, varies across seeds, and yields a plain config (swarm off) that
//! replays without the swarm draw.

use std::collections::BTreeSet;

use braid::config::{self, Config, FAULT_KINDS};

fn nightly() -> Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/nightly.toml");
    let config = config::load(&path).expect("nightly.toml is valid");
    assert!(config.swarm.enabled, "nightly.toml is the swarm config");
    config
}

#[test]
fn resolve_is_deterministic_per_seed() {
    let config = nightly();
    for seed in [0, 1, 42, u64::MAX] {
        assert_eq!(config.resolve(seed), config.resolve(seed));
        assert_eq!(
            config::to_toml(&config.resolve(seed)),
            config::to_toml(&config.resolve(seed))
        );
    }
}

#[test]
fn resolved_configs_stay_within_their_ranges() {
    let config = nightly();
    let swarm = &config.swarm;
    for seed in 0..200 {
        let resolved = config.resolve(seed);
        resolved
            .validate("resolved")
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(!resolved.swarm.enabled);
        assert_eq!(resolved.run.seed, seed);
        assert_eq!(resolved.run.steps, config.run.steps);
        let [low, high] = swarm.connections;
        assert!((low..=high).contains(&resolved.run.connections));
        let [low, high] = swarm.pct_depth;
        assert!((low..=high).contains(&resolved.scheduler.pct_depth));
        assert!(swarm.strategies.contains(&resolved.scheduler.strategy));
        let [low, high] = swarm.yield_probability;
        assert!((low..=high).contains(&resolved.scheduler.yield_probability));
        assert!(!resolved.workloads.is_empty());
        assert!(resolved.workloads.iter().any(|w| w.weight > 0));
        assert!(
            resolved
                .workloads
                .iter()
                .all(|w| config.workloads.contains(w))
        );
        for ((name, base), (_, drawn)) in config
            .faults
            .probabilities()
            .into_iter()
            .zip(resolved.faults.probabilities())
        {
            if base == 0.0 {
                assert_eq!(drawn, 0.0, "seed {seed}: {name} was off and must stay off");
            } else if drawn != 0.0 {
                let ([low, high], _) = swarm.range_for(name);
                assert!(
                    (low..=high).contains(&drawn),
                    "seed {seed}: {name} = {drawn}"
                );
            }
        }
    }
}

#[test]
fn seeds_pick_different_subsets() {
    let config = nightly();
    let mut workload_sets = BTreeSet::new();
    let mut fault_sets = BTreeSet::new();
    let mut connection_counts = BTreeSet::new();
    for seed in 0..64 {
        let resolved = config.resolve(seed);
        let kinds: Vec<_> = resolved.workloads.iter().map(|w| w.kind.clone()).collect();
        workload_sets.insert(kinds);
        let on: Vec<_> = FAULT_KINDS
            .iter()
            .zip(resolved.faults.probabilities())
            .filter(|(_, (_, p))| *p > 0.0)
            .map(|(name, _)| *name)
            .collect();
        fault_sets.insert(on);
        connection_counts.insert(resolved.run.connections);
    }
    assert!(
        workload_sets.len() > 10,
        "only {} workload subsets",
        workload_sets.len()
    );
    assert!(
        fault_sets.len() > 10,
        "only {} fault subsets",
        fault_sets.len()
    );
    assert!(
        connection_counts.len() > 2,
        "connections never vary: {connection_counts:?}"
    );
}

#[test]
fn a_resolved_config_replays_without_the_swarm_draw() {
    let config = nightly();
    let resolved = config.resolve(7);
    let stored = config::to_toml(&resolved);
    let reloaded = config::parse(&stored, "failure.json config").expect("valid");
    assert_eq!(reloaded, resolved);
    assert_eq!(
        reloaded.resolve(7),
        resolved,
        "resolving again changes nothing"
    );
    assert_eq!(
        reloaded.settings().expect("valid"),
        resolved.settings().expect("valid")
    );
}

#[test]
fn without_swarm_resolve_only_sets_the_seed() {
    let config = config::default_config();
    let resolved = config.resolve(99);
    assert_eq!(resolved.run.seed, 99);
    assert_eq!(
        Config {
            run: config.run.clone(),
            ..resolved
        },
        config
    );
}

#[test]
fn nightly_seeds_draw_the_storage_settings_from_their_ranges() {
    let config = nightly();
    let swarm = &config.swarm;
    let [page_low, page_high] = swarm.page_size.expect("nightly draws page sizes");
    let [cache_low, cache_high] = swarm.cache_pages.expect("nightly draws cache sizes");
    let [checkpoint_low, checkpoint_high] = swarm
        .autocheckpoint_frames
        .expect("nightly draws checkpoint intervals");
    let mut syncs = BTreeSet::new();
    let mut pages = BTreeSet::new();
    let mut fsync_failures = BTreeSet::new();
    for seed in 0..400 {
        let storage = config.resolve(seed).storage;
        let faults = config.resolve(seed).faults;
        assert!(swarm.sync_modes.contains(&storage.sync));
        assert!(storage.page_size.is_power_of_two());
        assert!((page_low..=page_high).contains(&storage.page_size));
        assert!((cache_low..=cache_high).contains(&storage.cache_pages));
        let frames = storage.autocheckpoint_frames;
        assert!((checkpoint_low..=checkpoint_high).contains(&frames));
        assert!(swarm.fsync_failures.contains(&faults.fsync_failure));
        syncs.insert(format!("{:?}", storage.sync));
        pages.insert(storage.page_size);
        fsync_failures.insert(faults.fsync_failure);
    }
    assert_eq!(syncs.len(), 2, "both sync modes: {syncs:?}");
    assert_eq!(pages.len(), 8, "every page size 512..=65536: {pages:?}");
    assert_eq!(fsync_failures.len(), 4, "every mode: {fsync_failures:?}");
}

#[test]
fn a_swarm_without_storage_ranges_keeps_the_storage_section_and_its_draws() {
    let mut plain = nightly();
    plain.swarm.sync_modes.clear();
    plain.swarm.page_size = None;
    plain.swarm.cache_pages = None;
    plain.swarm.autocheckpoint_frames = None;
    plain.swarm.fsync_failures.clear();
    let with_ranges = nightly();
    for seed in 0..50 {
        let resolved = plain.resolve(seed);
        assert_eq!(resolved.storage, plain.storage);
        assert_eq!(resolved.faults.fsync_failure, plain.faults.fsync_failure);
        // The storage draws come after every other: the rest of the draw is the same.
        let other = with_ranges.resolve(seed);
        assert_eq!(resolved.workloads, other.workloads);
        assert_eq!(resolved.scheduler, other.scheduler);
        assert_eq!(resolved.run.connections, other.run.connections);
    }
}
