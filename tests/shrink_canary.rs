//! Failure artifacts, replay and shrinking on a real canary failure (built with
//! `--features canaries`): a failure directory replays to the same trace hash, shrinking
//! makes it smaller, and the shrunk failure replays to the same kind.
#![cfg(feature = "canaries")]

use std::path::PathBuf;
use std::time::Duration;

use braid::artifacts::{FailureArtifact, FailureRecord, replay_tape, write_failure_dir};
use braid::campaign::{run_seed, seed_dir};
use braid::config;
use braid::shrink::{ShrinkOptions, shrink, shrink_with};
use braid_core::Canary;

fn temp_out(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("braid-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs one canary seed and returns its failure directory.
fn failure_dir(canary: Canary, seed: u64, out: &std::path::Path) -> PathBuf {
    let mut config = config::default_config();
    config.run.steps = 20_000;
    let result = run_seed(&config, seed, Some(canary), out);
    assert!(result.warning.is_none(), "{:?}", result.warning);
    let failure = result.record.failure.expect("the canary fails this seed");
    let dir = seed_dir(out, seed);
    assert_eq!(failure.dir.as_deref(), Some(dir.to_str().expect("utf-8")));
    dir
}

#[test]
fn a_failure_directory_replays_to_the_same_trace_hash() {
    let out = temp_out("replay");
    let dir = failure_dir(Canary::SkipBusySnapshot, 3, &out);
    for file in ["failure.json", "tape.bin", "timeline.txt", "history.edn"] {
        assert!(dir.join(file).exists(), "{file} written");
    }
    let artifact = FailureArtifact::load(&dir).expect("readable");
    let run = artifact.replay(false).expect("replays");
    let failure = run.outcome.failure.expect("fails again");
    assert_eq!(failure.kind, artifact.record.kind);
    assert_eq!(failure.step, artifact.record.step);
    assert_eq!(run.outcome.trace_hash, artifact.record.trace_hash);
    std::fs::remove_dir_all(&out).expect("cleanup");
}

#[test]
fn a_damaged_tape_does_not_reproduce_the_recorded_trace() {
    let out = temp_out("damaged");
    let dir = failure_dir(Canary::SkipBusySnapshot, 3, &out);
    let mut artifact = FailureArtifact::load(&dir).expect("readable");
    // Zero every draw: the simplest run, which is not the recorded one.
    artifact.tape.values.iter_mut().for_each(|v| *v = 0);
    let run = artifact.replay(false).expect("replays");
    assert_ne!(run.outcome.trace_hash, artifact.record.trace_hash);
    std::fs::remove_dir_all(&out).expect("cleanup");
}

#[test]
fn shrinking_a_canary_failure_makes_it_smaller_and_it_still_replays() {
    let out = temp_out("shrink");
    let dir = failure_dir(Canary::SkipBusySnapshot, 3, &out);
    let artifact = FailureArtifact::load(&dir).expect("readable");
    let mut lines = 0;
    let shrunk = shrink(&artifact, Duration::from_secs(30), &mut |_| lines += 1).expect("shrinks");
    assert!(lines > 0, "progress is reported");
    assert!(shrunk.kept > 0);
    assert!(
        shrunk.after.tape_len < shrunk.before.tape_len,
        "{:?} -> {:?}",
        shrunk.before,
        shrunk.after
    );
    assert!(shrunk.after.decisions < shrunk.before.decisions);
    let failure = shrunk.run.outcome.failure.clone().expect("still fails");
    assert_eq!(failure.kind, artifact.record.kind);

    // Written beside the original, the shrunk failure replays exactly.
    let record = FailureRecord::new(
        &shrunk.config,
        Some(Canary::SkipBusySnapshot),
        &shrunk.run.outcome,
    )
    .expect("a failure");
    let shrunk_dir = dir.join("shrunk");
    write_failure_dir(&shrunk_dir, &record, &shrunk.run).expect("written");
    let again = FailureArtifact::load(&shrunk_dir)
        .expect("readable")
        .replay(false)
        .expect("replays");
    assert_eq!(again.outcome.failure.map(|f| f.kind), Some(failure.kind));
    assert_eq!(again.outcome.trace_hash, record.trace_hash);
    std::fs::remove_dir_all(&out).expect("cleanup");
}

/// The acceptance bar of shrinking: a canary failure ends at most a tenth of its original
/// decisions, with `steps` cut near the failure so the shrunk run does not go past it.
#[test]
fn canary_failures_shrink_to_a_tenth_of_their_decisions() {
    for (canary, seed) in [(Canary::CounterBeforeYield, 0), (Canary::LeakWriteLock, 0)] {
        let out = temp_out(&format!("tenth-{canary:?}"));
        let dir = failure_dir(canary, seed, &out);
        let artifact = FailureArtifact::load(&dir).expect("readable");
        let shrunk = shrink(&artifact, Duration::from_secs(30), &mut |_| {}).expect("shrinks");
        let failure = shrunk.run.outcome.failure.clone().expect("still fails");
        assert_eq!(failure.kind, artifact.record.kind, "{canary:?}");
        assert!(
            shrunk.after.decisions * 10 <= shrunk.before.decisions,
            "{canary:?}: {:?} -> {:?}",
            shrunk.before,
            shrunk.after
        );
        assert!(
            shrunk.config.run.steps < shrunk.before.decisions,
            "{canary:?}: steps {} not cut below the original failure",
            shrunk.config.run.steps
        );
        std::fs::remove_dir_all(&out).expect("cleanup");
    }
}

/// A failure that needs a full page cache cannot get small by editing its own tape: the
/// search finds the same kind under a smaller cache, and the result is still the canary's
/// (the engine without the canary does not fail on the shrunk tape).
#[test]
fn search_shrinks_a_full_cache_failure_to_a_tenth_and_it_is_the_canarys() {
    let out = temp_out("search-evict");
    let dir = failure_dir(Canary::EvictDirtyPage, 0, &out);
    let artifact = FailureArtifact::load(&dir).expect("readable");
    let shrunk = shrink(&artifact, Duration::from_secs(60), &mut |_| {}).expect("shrinks");
    let failure = shrunk.run.outcome.failure.clone().expect("still fails");
    assert_eq!(failure.kind, artifact.record.kind);
    assert!(
        shrunk.after.decisions * 10 <= shrunk.before.decisions,
        "{:?} -> {:?}",
        shrunk.before,
        shrunk.after
    );
    let seed = artifact.record.seed;
    let again = replay_tape(
        &shrunk.config,
        seed,
        Some(Canary::EvictDirtyPage),
        &shrunk.run.tape,
        false,
    );
    assert_eq!(again.outcome.trace_hash, shrunk.run.outcome.trace_hash);
    let without = replay_tape(&shrunk.config, seed, None, &shrunk.run.tape, false);
    assert!(
        without
            .outcome
            .failure
            .is_none_or(|f| f.kind != failure.kind),
        "the correct engine fails the shrunk run the same way"
    );
    std::fs::remove_dir_all(&out).expect("cleanup");
}

/// Without the search the shrinker only edits the failure's own tape: it never runs
/// another seed, so the shrunk tape's seed is the original's and the kind is kept.
#[test]
fn no_search_keeps_to_the_original_tape() {
    let out = temp_out("no-search");
    let dir = failure_dir(Canary::EvictDirtyPage, 0, &out);
    let artifact = FailureArtifact::load(&dir).expect("readable");
    let options = ShrinkOptions {
        time_limit: Duration::from_secs(5),
        search: false,
    };
    let shrunk = shrink_with(&artifact, options, &mut |p| {
        assert!(!p.what.contains("search"), "{}", p.what);
    })
    .expect("shrinks");
    assert_eq!(shrunk.run.tape.seed, artifact.tape.seed);
    assert_eq!(shrunk.config.run.seed, artifact.record.seed);
    let failure = shrunk.run.outcome.failure.clone().expect("still fails");
    assert_eq!(failure.kind, artifact.record.kind);
    std::fs::remove_dir_all(&out).expect("cleanup");
}

/// The reductions people make come first and keep candidates of their own: on a long
/// failure, without the search, whole transactions (or connections, crash epochs, faults)
/// are dropped, and progress counts every candidate tried, not only the kept ones.
#[test]
fn people_level_reductions_drop_whole_units_and_progress_counts_every_candidate() {
    let out = temp_out("people");
    let dir = failure_dir(Canary::LeakWriteLock, 0, &out);
    let artifact = FailureArtifact::load(&dir).expect("readable");
    let options = ShrinkOptions {
        time_limit: Duration::from_secs(10),
        search: false,
    };
    let mut dropped = Vec::new();
    let mut reports = 0u64;
    let mut last_tried = 0;
    let shrunk = shrink_with(&artifact, options, &mut |p| {
        reports += 1;
        assert!(p.tried >= last_tried, "tried never goes back");
        last_tried = p.tried;
        if p.last_kept && p.what.starts_with("drop") {
            dropped.push(p.what.to_string());
        }
    })
    .expect("shrinks");
    assert!(!dropped.is_empty(), "no whole unit was dropped");
    assert!(
        reports > shrunk.kept,
        "{reports} reports for {} kept",
        shrunk.kept
    );
    let failure = shrunk.run.outcome.failure.clone().expect("still fails");
    assert_eq!(failure.kind, artifact.record.kind);
    assert!(shrunk.after.operations * 10 <= shrunk.before.operations);
    std::fs::remove_dir_all(&out).expect("cleanup");
}
