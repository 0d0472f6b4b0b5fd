//! `braid diff`: the same schedule on two engines, every result compared. An engine
//! against itself agrees everywhere; a planted divergence (a canary switched on in the
//! engine under test only) is found, written as a failure directory that replays, and
//! shrinks to a handful of ops.

use std::time::Duration;

use braid::artifacts::{FailureArtifact, FailureRecord, write_failure_dir};
use braid::config::{self, TargetName};
use braid::diff::{DIVERGENCE, agree};
use braid::shrink::{ShrinkOptions, shrink_with};
use braid::sim::{Choices, SimOptions};
use braid::target::simulate;
use braid_oracle::{CheckpointMode, Op, OpError, OpOutput};

fn diff_config(steps: u64) -> config::Config {
    let mut config = config::default_config();
    config.run.steps = steps;
    config.run.diff_against = Some(TargetName::Braid);
    config
}

#[test]
fn an_engine_agrees_with_itself_over_a_whole_run() {
    let config = diff_config(5_000);
    let settings = config.settings().expect("valid");
    let run = simulate(settings, 2, Choices::recording(2), SimOptions::default());
    assert!(run.outcome.passed(), "{:?}", run.outcome.failure);
    assert!(
        run.outcome.stats.operations > 1_000,
        "{:?}",
        run.outcome.stats
    );
}

#[test]
fn results_agree_by_value_and_error_kind_and_checkpoints_may_differ_in_busy() {
    let get = Op::Get(b"k".to_vec());
    let value = |v: &str| Ok(OpOutput::Value(Some(v.as_bytes().to_vec())));
    assert!(agree(&get, &value("a"), &value("a")));
    assert!(!agree(&get, &value("a"), &value("b")));
    assert!(!agree(&get, &value("a"), &Err(OpError::Busy)));
    assert!(agree(
        &Op::Commit,
        &Err(OpError::Io("x".into())),
        &Err(OpError::Io("y".into()))
    ));
    assert!(!agree(
        &Op::Commit,
        &Err(OpError::Busy),
        &Err(OpError::BusySnapshot)
    ));
    let committed = |seq| Ok(OpOutput::Committed { seq });
    assert!(!agree(&Op::Commit, &committed(3), &committed(4)));
    let checkpoint = Op::Checkpoint(CheckpointMode::Truncate);
    let done = Ok(OpOutput::Checkpointed {
        backfilled_frames: 3,
        wal_reset: true,
    });
    assert!(agree(&checkpoint, &done, &Err(OpError::Busy)));
    assert!(!agree(&checkpoint, &done, &Err(OpError::Io("eio".into()))));
    assert!(!agree(&get, &Ok(OpOutput::Done), &Err(OpError::Busy)));
}

#[cfg(feature = "canaries")]
#[test]
fn a_planted_divergence_is_found_replayed_and_shrunk_to_a_few_ops() {
    let canary = Some(braid_core::Canary::SkipBusySnapshot);
    let config = diff_config(5_000);
    let settings = config.settings().expect("valid");
    let options = SimOptions {
        canary,
        record_timeline: true,
        ..SimOptions::default()
    };
    let run = simulate(settings, 0, Choices::recording(0), options);
    let failure = run
        .outcome
        .failure
        .clone()
        .expect("the planted divergence is found");
    assert_eq!(failure.kind, DIVERGENCE);
    assert!(
        failure.message.contains("error busy-snapshot"),
        "{}",
        failure.message
    );
    let out = std::env::temp_dir().join(format!("braid-test-diff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let dir = out.join("seed-0");
    let record = FailureRecord::new(&config, canary, &run.outcome).expect("a failure");
    write_failure_dir(&dir, &record, &run).expect("written");
    let artifact = FailureArtifact::load(&dir).expect("readable");
    let again = artifact.replay(false).expect("replays");
    assert_eq!(
        again.outcome.trace_hash, record.trace_hash,
        "the tape reproduces it"
    );
    let shrunk = shrink_with(
        &artifact,
        ShrinkOptions::new(Duration::from_secs(60)),
        &mut |_| {},
    )
    .expect("shrinks");
    let after = shrunk.run.outcome.failure.as_ref().expect("still diverges");
    assert_eq!(after.kind, DIVERGENCE);
    assert!(
        shrunk.after.operations <= 10,
        "shrunk to {} ops: {}",
        shrunk.after.operations,
        after.message
    );
    std::fs::remove_dir_all(&out).expect("cleanup");
}
