//! Scenario tests for the sequential oracle: for each rule, a hand-made history that
//! breaks it (caught with the right name) and a close one that keeps it (accepted).

#![allow(clippy::result_large_err)]

use braid_oracle::{
    Claims, Durability, Op, OpError, OpOutput, OpResult, SeqOracle, TxMode, Violation,
    ViolationKind,
};

fn b(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

fn snap(seq: u64) -> Claims {
    Claims {
        snapshot_seq: Some(seq),
        commit_seq: None,
    }
}

fn committed_implicit(snapshot: u64, seq: u64) -> Claims {
    Claims {
        snapshot_seq: Some(snapshot),
        commit_seq: Some(seq),
    }
}

fn none() -> Claims {
    Claims::default()
}

fn io() -> OpResult {
    Err(OpError::Io("injected".into()))
}

fn value(text: Option<&str>) -> OpResult {
    Ok(OpOutput::Value(text.map(b)))
}

fn rows(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs.iter().map(|(k, v)| (b(k), b(v))).collect()
}

/// Drives an oracle with a step counter.
struct Run {
    oracle: SeqOracle,
    step: u64,
}

impl Run {
    fn new(durability: Durability) -> Self {
        Run {
            oracle: SeqOracle::new(durability),
            step: 0,
        }
    }

    fn invoke(&mut self, conn: u64, op: &Op) {
        self.step += 1;
        self.oracle.on_invoke(self.step, conn, op);
    }

    fn complete(
        &mut self,
        conn: u64,
        op: &Op,
        result: OpResult,
        claims: Claims,
    ) -> Result<(), Violation> {
        self.step += 1;
        self.oracle
            .on_complete(self.step, conn, op, &result, claims)
    }

    /// Invokes and completes at once.
    fn op(&mut self, conn: u64, op: Op, result: OpResult, claims: Claims) -> Result<(), Violation> {
        self.invoke(conn, &op);
        self.complete(conn, &op, result, claims)
    }

    /// An implicit put acknowledged as commit `seq` (snapshot `seq - 1`).
    fn put(&mut self, conn: u64, key: &str, val: &str, seq: u64) {
        self.op(
            conn,
            Op::Put(b(key), b(val)),
            Ok(OpOutput::Done),
            committed_implicit(seq - 1, seq),
        )
        .expect("a well-formed put is accepted");
    }

    fn crash(&mut self, lost_volatile: bool) {
        self.step += 1;
        self.oracle.on_crash(self.step, lost_volatile);
    }

    fn recover(&mut self, pairs: &[(&str, &str)], seq: u64) -> Result<(), Violation> {
        self.step += 1;
        self.oracle.on_recovered(self.step, &rows(pairs), &[], seq)
    }
}

fn kind(outcome: Result<(), Violation>) -> ViolationKind {
    outcome.expect_err("the history breaks a rule").kind
}

#[test]
fn serial_history_with_explicit_and_implicit_transactions_is_accepted() {
    let mut run = Run::new(Durability::Full);
    run.put(1, "a", "1", 1);
    run.op(2, Op::Begin(TxMode::Deferred), Ok(OpOutput::Done), none())
        .unwrap();
    run.op(2, Op::Get(b("a")), value(Some("1")), snap(1))
        .unwrap();
    run.op(2, Op::Put(b("b"), b("2")), Ok(OpOutput::Done), snap(1))
        .unwrap();
    run.op(2, Op::Delete(b("a")), Ok(OpOutput::Done), snap(1))
        .unwrap();
    run.op(2, Op::Get(b("a")), value(None), snap(1)).unwrap();
    let scan = Op::Scan {
        start: b(""),
        end: None,
        limit: 10,
    };
    run.op(
        2,
        scan.clone(),
        Ok(OpOutput::Rows(rows(&[("b", "2")]))),
        snap(1),
    )
    .unwrap();
    // Another connection does not see the uncommitted writes.
    run.op(3, Op::Get(b("b")), value(None), snap(1)).unwrap();
    run.op(2, Op::Commit, Ok(OpOutput::Committed { seq: 2 }), snap(1))
        .unwrap();
    run.op(3, scan, Ok(OpOutput::Rows(rows(&[("b", "2")]))), snap(2))
        .unwrap();
    // A read-only transaction commits with sequence 0.
    run.op(3, Op::Begin(TxMode::Deferred), Ok(OpOutput::Done), none())
        .unwrap();
    run.op(3, Op::Get(b("b")), value(Some("2")), snap(2))
        .unwrap();
    run.op(3, Op::Commit, Ok(OpOutput::Committed { seq: 0 }), snap(2))
        .unwrap();
    assert_eq!(run.oracle.committed_seq(), 2);
}

#[test]
fn stale_read_is_caught() {
    let mut run = Run::new(Durability::Full);
    run.put(1, "a", "1", 1);
    run.put(1, "a", "2", 2);
    run.op(2, Op::Get(b("a")), value(Some("2")), snap(2))
        .expect("the fresh value is right");
    let violation = run
        .op(2, Op::Get(b("a")), value(Some("1")), snap(2))
        .unwrap_err();
    assert_eq!(violation.kind, ViolationKind::StaleRead);
    assert_eq!(violation.conn, Some(2));
    let text = violation.to_string();
    assert!(text.contains("expected \"2\", but got \"1\""), "{text}");
    assert!(text.contains("commit 1"), "{text}");
}

#[test]
fn reads_without_snapshot_claims_are_still_judged() {
    let mut run = Run::new(Durability::Full);
    run.put(1, "a", "1", 1);
    run.op(2, Op::Get(b("a")), value(Some("1")), none())
        .expect("the value is right");
    assert_eq!(
        kind(run.op(2, Op::Get(b("a")), value(Some("9")), none())),
        ViolationKind::WrongValue
    );
}

#[test]
fn snapshot_older_than_an_acknowledged_commit_is_caught() {
    let mut run = Run::new(Durability::Full);
    run.put(1, "a", "1", 1);
    assert_eq!(
        kind(run.op(2, Op::Get(b("a")), value(None), snap(0))),
        ViolationKind::SnapshotTooOld
    );
    // Invoked before the commit was acknowledged, the old snapshot is fine.
    let mut run = Run::new(Durability::Full);
    let get = Op::Get(b("a"));
    run.invoke(2, &get);
    run.put(1, "a", "1", 1);
    run.complete(2, &get, value(None), snap(0))
        .expect("the read began before commit 1");
}

#[test]
fn snapshot_going_backwards_is_caught() {
    let history = |second_snapshot: u64, second_value: &str| {
        let mut run = Run::new(Durability::Full);
        run.put(1, "a", "1", 1);
        // Connection 3's commit 2 is in flight and already published.
        let put = Op::Put(b("a"), b("2"));
        run.invoke(3, &put);
        run.op(2, Op::Get(b("a")), value(Some("2")), snap(2))
            .expect("one commit in flight");
        run.op(
            2,
            Op::Get(b("a")),
            value(Some(second_value)),
            snap(second_snapshot),
        )?;
        run.complete(3, &put, Ok(OpOutput::Done), committed_implicit(1, 2))
    };
    history(2, "2").expect("the same snapshot again");
    assert_eq!(kind(history(1, "1")), ViolationKind::SnapshotBackwards);
}

#[test]
fn snapshot_moving_inside_a_transaction_is_caught() {
    let mut run = Run::new(Durability::Full);
    run.op(2, Op::Begin(TxMode::Deferred), Ok(OpOutput::Done), none())
        .unwrap();
    run.op(2, Op::Get(b("a")), value(None), snap(0)).unwrap();
    run.put(1, "a", "1", 1);
    run.op(2, Op::Get(b("a")), value(None), snap(0))
        .expect("repeatable read at snapshot 0");
    assert_eq!(
        kind(run.op(2, Op::Get(b("a")), value(Some("1")), snap(1))),
        ViolationKind::SnapshotMoved
    );
}

#[test]
fn read_of_a_commit_in_flight_binds_it_and_its_failure_is_an_aborted_read() {
    let history = |commit_result: OpResult, claims: Claims| {
        let mut run = Run::new(Durability::Full);
        let put = Op::Put(b("a"), b("1"));
        run.invoke(1, &put);
        run.op(2, Op::Get(b("a")), value(Some("1")), snap(1))
            .expect("bound to the commit");
        run.complete(1, &put, commit_result, claims)
    };
    history(Ok(OpOutput::Done), committed_implicit(0, 1)).expect("the commit succeeded");
    assert_eq!(kind(history(io(), none())), ViolationKind::AbortedRead);
}

#[test]
fn read_of_a_commit_in_flight_with_the_wrong_value_is_caught_at_once() {
    let mut run = Run::new(Durability::Full);
    run.invoke(1, &Op::Put(b("a"), b("1")));
    assert_eq!(
        kind(run.op(2, Op::Get(b("a")), value(Some("7")), snap(1))),
        ViolationKind::WrongValue
    );
}

#[test]
fn reads_past_two_commits_in_flight_are_judged_when_they_are_acknowledged() {
    let history = |a_seen: Option<&str>| {
        let mut run = Run::new(Durability::Full);
        let put_a = Op::Put(b("a"), b("1"));
        let put_b = Op::Put(b("b"), b("2"));
        run.invoke(1, &put_a);
        run.invoke(3, &put_b);
        run.op(2, Op::Get(b("a")), value(a_seen), snap(2))
            .expect("cannot be judged yet");
        run.complete(3, &put_b, Ok(OpOutput::Done), committed_implicit(0, 1))
            .unwrap();
        run.complete(1, &put_a, Ok(OpOutput::Done), committed_implicit(1, 2))
    };
    history(Some("1")).expect("snapshot 2 holds a = 1");
    let violation = history(None).unwrap_err();
    assert_eq!(violation.kind, ViolationKind::StaleRead);
    assert_eq!(violation.step, 4, "the violation names the read's step");
}

#[test]
fn snapshot_no_commit_could_reach_is_a_future_read() {
    let mut run = Run::new(Durability::Full);
    run.put(1, "a", "1", 1);
    assert_eq!(
        kind(run.op(2, Op::Get(b("a")), value(Some("1")), snap(2))),
        ViolationKind::FutureRead
    );
}

#[test]
fn failed_commit_visible_without_crash_is_caught() {
    let history = |seen: Option<&str>| {
        let mut run = Run::new(Durability::Full);
        run.op(1, Op::Put(b("a"), b("1")), io(), none())
            .expect("a failed commit is fine");
        run.op(2, Op::Get(b("a")), value(seen), snap(0))
    };
    history(None).expect("the failed commit stays invisible");
    assert_eq!(kind(history(Some("1"))), ViolationKind::FailedCommitVisible);
    let mut run = Run::new(Durability::Full);
    run.op(1, Op::Put(b("a"), b("1")), io(), none()).unwrap();
    assert_eq!(
        kind(run.op(2, Op::Get(b("a")), value(Some("1")), snap(1))),
        ViolationKind::FailedCommitVisible,
        "a snapshot only the failed commit could have published"
    );
}

#[test]
fn scan_with_a_phantom_row_is_caught() {
    let history = |returned: &[(&str, &str)]| {
        let mut run = Run::new(Durability::Full);
        run.put(1, "a", "1", 1);
        run.put(1, "c", "3", 2);
        let scan = Op::Scan {
            start: b("a"),
            end: Some(b("z")),
            limit: 10,
        };
        run.op(2, scan, Ok(OpOutput::Rows(rows(returned))), snap(2))
    };
    history(&[("a", "1"), ("c", "3")]).expect("exactly the model's rows");
    assert_eq!(
        kind(history(&[("a", "1"), ("b", "2"), ("c", "3")])),
        ViolationKind::PhantomRow
    );
    assert_eq!(kind(history(&[("c", "3")])), ViolationKind::MissingRow);
    assert_eq!(
        kind(history(&[("c", "3"), ("a", "1")])),
        ViolationKind::ScanMismatch
    );
}

#[test]
fn scan_limit_is_respected() {
    let mut run = Run::new(Durability::Full);
    run.put(1, "a", "1", 1);
    run.put(1, "b", "2", 2);
    let scan = Op::Scan {
        start: b(""),
        end: None,
        limit: 1,
    };
    run.op(
        2,
        scan.clone(),
        Ok(OpOutput::Rows(rows(&[("a", "1")]))),
        snap(2),
    )
    .unwrap();
    let too_many = Ok(OpOutput::Rows(rows(&[("a", "1"), ("b", "2")])));
    assert_eq!(
        kind(run.op(2, scan, too_many, snap(2))),
        ViolationKind::ScanMismatch
    );
}

#[test]
fn writer_whose_snapshot_is_not_the_previous_commit_is_caught() {
    let history = |intervening_commit: bool, seq: u64| {
        let mut run = Run::new(Durability::Full);
        run.put(1, "a", "1", 1);
        run.op(2, Op::Begin(TxMode::Deferred), Ok(OpOutput::Done), none())
            .unwrap();
        run.op(2, Op::Get(b("a")), value(Some("1")), snap(1))
            .unwrap();
        if intervening_commit {
            run.put(3, "b", "2", 2);
        }
        run.op(2, Op::Put(b("a"), b("x")), Ok(OpOutput::Done), snap(1))
            .unwrap();
        run.op(2, Op::Commit, Ok(OpOutput::Committed { seq }), snap(1))
    };
    history(false, 2).expect("the writer read commit 1 and committed as 2");
    // Commit 2 came between the writer's snapshot and its commit: it should have been
    // refused with BusySnapshot.
    assert_eq!(kind(history(true, 3)), ViolationKind::WriterSnapshot);
}

#[test]
fn commit_sequences_must_be_contiguous() {
    let mut run = Run::new(Durability::Full);
    run.put(1, "a", "1", 1);
    let put = Op::Put(b("a"), b("2"));
    let seq_only = |seq| Claims {
        snapshot_seq: None,
        commit_seq: Some(seq),
    };
    let skipped = run.op(1, put.clone(), Ok(OpOutput::Done), seq_only(3));
    assert_eq!(kind(skipped), ViolationKind::SeqGap);
    let mut run = Run::new(Durability::Full);
    run.put(1, "a", "1", 1);
    let reused = run.op(1, put.clone(), Ok(OpOutput::Done), seq_only(1));
    assert_eq!(kind(reused), ViolationKind::SeqReused);
    run.op(1, put, Ok(OpOutput::Done), seq_only(2))
        .expect("the next sequence is fine");
}

#[test]
fn read_only_acknowledgement_of_a_writer_is_caught() {
    let mut run = Run::new(Durability::Full);
    run.op(1, Op::Delete(b("a")), Ok(OpOutput::Done), none())
        .expect("deleting nothing is read-only");
    assert_eq!(
        kind(run.op(1, Op::Put(b("a"), b("1")), Ok(OpOutput::Done), none())),
        ViolationKind::WrongCommitSeq
    );
}

#[test]
fn busy_keeps_the_transaction_and_other_errors_roll_it_back() {
    let mut run = Run::new(Durability::Full);
    run.op(1, Op::Begin(TxMode::Deferred), Ok(OpOutput::Done), none())
        .unwrap();
    run.op(1, Op::Put(b("a"), b("1")), Ok(OpOutput::Done), snap(0))
        .unwrap();
    run.op(1, Op::Put(b("b"), b("2")), Err(OpError::Busy), snap(0))
        .unwrap();
    run.op(1, Op::Get(b("a")), value(Some("1")), snap(0))
        .expect("busy kept the write");
    run.op(1, Op::Get(b("c")), io(), snap(0))
        .expect("an error rolls back");
    // Back to idle: this get is its own implicit transaction and sees nothing.
    run.op(1, Op::Get(b("a")), value(None), snap(0))
        .expect("the write was rolled back");
    let commit = run.op(1, Op::Commit, Ok(OpOutput::Committed { seq: 0 }), none());
    assert_eq!(
        kind(commit),
        ViolationKind::Protocol,
        "no transaction was open"
    );
}

#[test]
fn integrity_problems_are_violations() {
    let mut run = Run::new(Durability::Full);
    let report = Ok(OpOutput::Integrity(vec!["page 3 unreachable".into()]));
    assert_eq!(
        kind(run.op(1, Op::IntegrityCheck, report, none())),
        ViolationKind::Integrity
    );
    let mut run = Run::new(Durability::Full);
    run.op(
        1,
        Op::IntegrityCheck,
        Ok(OpOutput::Integrity(vec![])),
        none(),
    )
    .unwrap();
    run.crash(true);
    let outcome = run.oracle.on_recovered(9, &[], &["bad checksum".into()], 0);
    assert_eq!(kind(outcome), ViolationKind::Integrity);
}

#[test]
fn lost_acknowledged_commit_after_crash_is_caught() {
    let history = |kept: &[(&str, &str)], seq: u64| {
        let mut run = Run::new(Durability::Full);
        run.put(1, "a", "1", 1);
        run.put(1, "b", "2", 2);
        run.crash(true);
        run.recover(kept, seq)
    };
    history(&[("a", "1"), ("b", "2")], 2).expect("everything acknowledged survived");
    assert_eq!(kind(history(&[("a", "1")], 1)), ViolationKind::LostCommit);
    assert_eq!(kind(history(&[("a", "1")], 2)), ViolationKind::LostCommit);
}

#[test]
fn seen_commit_must_survive_under_full_durability() {
    let mut run = Run::new(Durability::Full);
    run.invoke(1, &Op::Put(b("a"), b("1")));
    run.op(2, Op::Get(b("a")), value(Some("1")), snap(1))
        .unwrap();
    run.crash(true);
    assert_eq!(kind(run.recover(&[], 0)), ViolationKind::LostCommit);
}

#[test]
fn in_doubt_commit_may_survive_wholly_or_not_at_all() {
    let history = |kept: &[(&str, &str)], seq: u64| {
        let mut run = Run::new(Durability::Full);
        run.put(1, "a", "1", 1);
        run.op(2, Op::Begin(TxMode::Immediate), Ok(OpOutput::Done), snap(1))
            .unwrap();
        run.op(2, Op::Put(b("b"), b("2")), Ok(OpOutput::Done), snap(1))
            .unwrap();
        run.op(2, Op::Put(b("c"), b("3")), Ok(OpOutput::Done), snap(1))
            .unwrap();
        run.invoke(2, &Op::Commit);
        run.crash(true);
        run.recover(kept, seq).map(|()| run)
    };
    history(&[("a", "1")], 1).expect("the in-doubt commit may vanish");
    let mut run = history(&[("a", "1"), ("b", "2"), ("c", "3")], 2).expect("or survive whole");
    assert_eq!(run.oracle.committed_seq(), 2);
    run.put(5, "d", "4", 3);
    let scan = Op::Scan {
        start: b(""),
        end: None,
        limit: 10,
    };
    let all = rows(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
    run.op(5, scan, Ok(OpOutput::Rows(all)), snap(3))
        .expect("the survivor is committed");
    let partial = history(&[("a", "1"), ("b", "2")], 2);
    assert_eq!(kind(partial.map(drop)), ViolationKind::PartialTransaction);
}

#[test]
fn failed_commit_is_in_doubt_at_the_next_crash() {
    let mut run = Run::new(Durability::Full);
    run.op(1, Op::Put(b("a"), b("1")), io(), none()).unwrap();
    run.crash(false);
    run.recover(&[("a", "1")], 1)
        .expect("a failed fsync may still have written the commit");
}

#[test]
fn part_of_an_acknowledged_transaction_after_crash_is_caught() {
    let mut run = Run::new(Durability::Normal);
    run.op(1, Op::Begin(TxMode::Deferred), Ok(OpOutput::Done), none())
        .unwrap();
    run.op(1, Op::Put(b("a"), b("1")), Ok(OpOutput::Done), snap(0))
        .unwrap();
    run.op(1, Op::Put(b("b"), b("2")), Ok(OpOutput::Done), snap(0))
        .unwrap();
    run.op(1, Op::Commit, Ok(OpOutput::Committed { seq: 1 }), snap(0))
        .unwrap();
    run.crash(true);
    assert_eq!(
        kind(run.recover(&[("a", "1")], 1)),
        ViolationKind::PartialTransaction
    );
}

#[test]
fn hole_in_the_commit_prefix_under_normal_is_caught() {
    let history = |kept: &[(&str, &str)], seq: u64| {
        let mut run = Run::new(Durability::Normal);
        run.put(1, "a", "1", 1);
        run.put(1, "b", "2", 2);
        run.put(1, "c", "3", 3);
        run.crash(true);
        run.recover(kept, seq)
    };
    history(&[("a", "1"), ("b", "2")], 2).expect("losing a suffix is allowed under Normal");
    history(&[], 0).expect("even all of it");
    assert_eq!(
        kind(history(&[("a", "1"), ("c", "3")], 3)),
        ViolationKind::PrefixHole
    );
    assert_eq!(
        kind(history(&[("a", "1")], 2)),
        ViolationKind::RecoveryMismatch
    );
}

#[test]
fn normal_durability_keeps_what_a_wal_reset_made_durable() {
    let mut run = Run::new(Durability::Normal);
    run.put(1, "a", "1", 1);
    let done = Ok(OpOutput::Checkpointed {
        backfilled_frames: 1,
        wal_reset: true,
    });
    run.op(
        1,
        Op::Checkpoint(braid_oracle::CheckpointMode::Truncate),
        done,
        none(),
    )
    .unwrap();
    run.put(1, "b", "2", 2);
    run.crash(true);
    assert_eq!(kind(run.recover(&[], 0)), ViolationKind::LostCommit);
}

/// What the simulator reports after a WAL sync completed: every acknowledged commit is
/// durable, so under Normal a recovery may no longer go back before them.
#[test]
fn normal_durability_keeps_what_a_completed_wal_sync_made_durable() {
    let history = |noted: bool| {
        let mut run = Run::new(Durability::Normal);
        run.put(1, "a", "1", 1);
        run.put(1, "b", "2", 2);
        if noted {
            let acknowledged = run.oracle.committed_seq();
            assert_eq!(acknowledged, 2);
            run.oracle.note_durable(acknowledged);
        }
        run.put(1, "c", "3", 3);
        run.crash(true);
        run.recover(&[("a", "1")], 1)
    };
    history(false).expect("without a known durable commit, losing a suffix is allowed");
    assert_eq!(kind(history(true)), ViolationKind::LostCommit);
    // What the sync did not cover may still be lost.
    let mut run = Run::new(Durability::Normal);
    run.put(1, "a", "1", 1);
    run.oracle.note_durable(1);
    run.put(1, "b", "2", 2);
    run.crash(true);
    run.recover(&[("a", "1")], 1)
        .expect("the commit after the sync was not durable");
}

/// An engine that claims no snapshots (SQLite) holding a read transaction open while many
/// commits land: every later read must be judged at the snapshot its first read took, far
/// behind the newest commit, and still a read no snapshot since the transaction began
/// explains is caught.
#[test]
fn a_claimless_long_reader_far_behind_is_judged_at_its_own_snapshot() {
    let history = |late_read: &str| {
        let mut run = Run::new(Durability::Full);
        run.put(1, "a", "0", 1);
        run.op(2, Op::Begin(TxMode::Deferred), Ok(OpOutput::Done), none())
            .unwrap();
        run.op(2, Op::Get(b("a")), value(Some("0")), none())
            .expect("the first read takes the snapshot at commit 1");
        for seq in 2..=40 {
            run.put(1, "a", &seq.to_string(), seq);
        }
        run.op(2, Op::Get(b("a")), value(Some(late_read)), none())
    };
    history("0").expect("the long reader still sees its snapshot, 39 commits behind");
    history("25").expect("any snapshot since the transaction began explains a claimless read");
    assert_eq!(kind(history("not written")), ViolationKind::WrongValue);
}

#[test]
fn work_continues_from_the_recovered_state() {
    let mut run = Run::new(Durability::Normal);
    run.put(1, "a", "1", 1);
    run.put(1, "a", "2", 2);
    run.crash(true);
    run.recover(&[("a", "1")], 1).unwrap();
    run.put(7, "b", "x", 2);
    run.op(7, Op::Get(b("a")), value(Some("1")), snap(2))
        .expect("commit 2 was lost");
    assert_eq!(
        kind(run.op(7, Op::Get(b("a")), value(Some("2")), snap(2))),
        ViolationKind::WrongValue
    );
}

#[test]
#[should_panic(expected = "must not come back")]
fn a_crashed_connection_never_invokes_again() {
    let mut run = Run::new(Durability::Full);
    run.put(1, "a", "1", 1);
    run.crash(true);
    run.recover(&[("a", "1")], 1).unwrap();
    run.invoke(1, &Op::Get(b("a")));
}

#[test]
fn versions_stay_bounded_over_a_long_run() {
    let mut run = Run::new(Durability::Full);
    let mut kept_halfway = 0;
    for seq in 1..=20_000u64 {
        let key = format!("k{}", seq % 50);
        run.put(1 + seq % 4, &key, &seq.to_string(), seq);
        if seq == 10_000 {
            kept_halfway = run.oracle.version_count();
        }
    }
    // Per key: the current version plus those written in the last 64 commits (kept so
    // that violations can name stale values) — it does not grow with the run.
    let kept = run.oracle.version_count();
    assert_eq!(kept, kept_halfway);
    assert!(kept <= 50 * 3, "{kept} versions kept");
}

#[test]
fn what_a_crash_recovered_stays_durable_under_normal() {
    let history = |second_recovery: &[(&str, &str)], seq: u64| {
        let mut run = Run::new(Durability::Normal);
        run.put(1, "a", "1", 1);
        run.put(1, "b", "2", 2);
        run.crash(true);
        run.recover(&[("a", "1"), ("b", "2")], 2)
            .expect("nothing lost");
        run.put(5, "c", "3", 3);
        run.crash(true);
        run.recover(second_recovery, seq)
    };
    history(&[("a", "1"), ("b", "2")], 2).expect("commit 3 was not yet durable");
    assert_eq!(kind(history(&[("a", "1")], 1)), ViolationKind::LostCommit);
}

#[test]
fn stale_claims_behind_a_failure_are_ignored() {
    let mut run = Run::new(Durability::Full);
    run.op(2, Op::Get(b("a")), value(None), snap(0)).unwrap();
    run.put(1, "a", "1", 1);
    // The failed put reports the previous op's snapshot 0, older than commit 1.
    run.op(2, Op::Put(b("a"), b("2")), Err(OpError::Busy), snap(0))
        .expect("claims ignored");
    run.op(2, Op::Put(b("a"), b("2")), io(), snap(0))
        .expect("claims ignored");
    assert_eq!(
        kind(run.op(2, Op::Get(b("a")), value(Some("1")), snap(0))),
        ViolationKind::SnapshotTooOld,
        "a successful op's claim is checked"
    );
}

#[test]
fn violations_print_keys_and_values_as_text() {
    let mut run = Run::new(Durability::Full);
    run.op(
        1,
        Op::Put(b("w1.k"), vec![0, 255]),
        Ok(OpOutput::Done),
        committed_implicit(0, 1),
    )
    .unwrap();
    let wrong = run
        .op(1, Op::Get(b("w1.k")), value(Some("v")), snap(1))
        .expect_err("the key holds other bytes");
    let message = wrong.to_string();
    assert!(message.contains(r#"get "w1.k""#), "{message}");
    assert!(message.contains(r#""\x00\xff""#), "{message}");
    // A result of the wrong shape is named as a result, not as a byte array.
    let shape = run
        .op(
            1,
            Op::Get(b("w1.k")),
            Ok(OpOutput::Rows(rows(&[("w1.k", "x")]))),
            snap(1),
        )
        .expect_err("a get answers with a value");
    assert_eq!(shape.kind, ViolationKind::Protocol);
    assert!(shape.to_string().contains(r#"["w1.k"="x"]"#), "{shape}");
}

/// After a failed WAL fsync, the frames it covered may be lost (the file system marked them
/// clean): a later successful fsync makes the earlier commits durable only if the engine
/// acknowledged a commit after the failure (it must then have written them again). A
/// correct engine, which stops acknowledging, may lose them; one that goes on may not.
#[test]
fn a_failed_wal_fsync_keeps_earlier_commits_in_doubt_until_the_engine_acknowledges_another() {
    let history = |ack_after_failure: bool| {
        let mut run = Run::new(Durability::Normal);
        run.put(1, "a", "1", 1);
        run.put(1, "b", "2", 2);
        run.oracle.note_sync_failed();
        if ack_after_failure {
            run.put(1, "c", "3", 3);
        }
        // Another fsync (a concurrent one, or the engine's next) succeeds.
        let acknowledged = run.oracle.committed_seq();
        run.oracle.note_durable(acknowledged);
        run.crash(true);
        run.recover(&[], 0)
    };
    history(false).expect("commits the failed fsync covered may be lost");
    assert_eq!(kind(history(true)), ViolationKind::LostCommit);
    // Recovery settles it: afterwards a durable point counts again.
    let mut run = Run::new(Durability::Normal);
    run.put(1, "a", "1", 1);
    run.oracle.note_sync_failed();
    run.crash(true);
    run.recover(&[], 0).expect("lost with the failed fsync");
    run.put(2, "b", "2", 1);
    run.oracle.note_durable(1);
    run.crash(true);
    assert_eq!(kind(run.recover(&[], 0)), ViolationKind::LostCommit);
}
