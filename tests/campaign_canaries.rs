//! Canary campaigns (built with `--features canaries`): every known-bad engine behaviour is
//! still caught by a short campaign of the default config, and the failing seeds a campaign
//! finds do not depend on how many threads ran it.
#![cfg(feature = "canaries")]

use std::sync::atomic::{AtomicBool, Ordering};

use braid::campaign::{CampaignSpec, SeedRange, Shard, run_campaign};
use braid::config;
use braid_core::Canary;

/// Decisions per seed: every caught canary fails well within this (measured: the first
/// failing seed is below 25 for each).
const STEPS: u64 = 20_000;

fn spec(canary: Canary, seeds: &str, jobs: usize, name: &str) -> CampaignSpec {
    let mut config = config::default_config();
    config.run.steps = STEPS;
    let out = std::env::temp_dir().join(format!("braid-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    CampaignSpec {
        config,
        config_name: "<default>".into(),
        seeds: SeedRange::parse(seeds).expect("a range"),
        shard: Shard::ALL,
        jobs,
        time_limit: None,
        out,
        resume: false,
        canary: Some(canary),
    }
}

/// Runs seeds 0..40 until the first failure; returns (seed, kind) of the first one found.
fn first_failure(canary: Canary) -> Option<(u64, String)> {
    let spec = spec(canary, "0..40", 2, canary.name());
    let stop = AtomicBool::new(false);
    let result = run_campaign(&spec, &stop, |seed| {
        if seed.record.failure.is_some() {
            stop.store(true, Ordering::SeqCst);
        }
    })
    .expect("campaign runs");
    let _ = std::fs::remove_dir_all(&spec.out);
    result
        .summary
        .failures
        .first()
        .map(|f| (f.seed, f.kind.to_string()))
}

fn assert_caught(canary: Canary) {
    let found = first_failure(canary);
    let (seed, kind) =
        found.unwrap_or_else(|| panic!("canary {} was not caught in seeds 0..40", canary.name()));
    assert_ne!(kind, "config", "canary {} seed {seed}", canary.name());
    eprintln!("canary {}: seed {seed} ({kind})", canary.name());
}

#[test]
fn counter_before_yield_is_caught() {
    assert_caught(Canary::CounterBeforeYield);
}

#[test]
fn publish_before_fsync_is_caught() {
    assert_caught(Canary::PublishBeforeFsync);
}

#[test]
fn skip_busy_snapshot_is_caught() {
    assert_caught(Canary::SkipBusySnapshot);
}

#[test]
fn checkpoint_past_reader_is_caught() {
    assert_caught(Canary::CheckpointPastReader);
}

#[test]
fn group_first_member_is_caught() {
    assert_caught(Canary::GroupFirstMember);
}

#[test]
fn recovery_skip_checksum_is_caught() {
    assert_caught(Canary::RecoverySkipChecksum);
}

#[test]
fn evict_dirty_page_is_caught() {
    assert_caught(Canary::EvictDirtyPage);
}

#[test]
fn leak_write_lock_is_caught() {
    assert_caught(Canary::LeakWriteLock);
}

#[test]
fn ack_failed_sync_is_caught() {
    assert_caught(Canary::AckFailedSync);
}

#[test]
fn every_canary_has_a_test_here() {
    // A new canary must get its own test above (and this count raised).
    assert_eq!(Canary::ALL.len(), 9);
}

#[test]
fn one_and_two_jobs_find_the_same_failing_seeds() {
    let canary = Canary::SkipBusySnapshot;
    let stop = AtomicBool::new(false);
    let mut found = Vec::new();
    for jobs in [1, 2] {
        let spec = spec(canary, "0..8", jobs, "jobs");
        let summary = run_campaign(&spec, &stop, |_| {})
            .expect("campaign runs")
            .summary;
        let _ = std::fs::remove_dir_all(&spec.out);
        assert!(summary.failed > 0, "the canary fails some seed");
        found.push((summary.failures, summary.totals, summary.histograms));
    }
    assert_eq!(found[0], found[1], "the summary does not depend on --jobs");
}
