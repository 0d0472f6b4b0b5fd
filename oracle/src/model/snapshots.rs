//! Snapshots and reads: verifying a snapshot claim, and judging each read against the
//! model at its snapshot — at once when the snapshot's commits are known (or exactly one
//! commit in flight can be bound to the one unknown sequence), otherwise once the
//! commits it saw are acknowledged.

use crate::model::oracle::{Conn, INFERRED_SNAPSHOT_CANDIDATES, PendingCommit, SeqOracle};
use crate::model::reads::{Observed, ReadRecord, check_read};
use crate::model::versions::WriteSet;
use crate::model::view::View;
use crate::op::Op;
use crate::violation::{Violation, ViolationKind, show_op};

impl SeqOracle {
    /// Verifies a snapshot claim and records it on the connection's transaction.
    pub(super) fn claim_snapshot(
        &mut self,
        step: u64,
        conn: u64,
        state: &mut Conn,
        op: &Op,
        claimed: u64,
    ) -> Result<(), Violation> {
        let Some(txn) = state.txn.as_mut() else {
            return Ok(());
        };
        let violation = |kind, expected: String| {
            Violation::new(kind, step, expected, format!("snapshot {claimed}"))
                .conn(conn)
                .txn(txn.id)
                .op(show_op(op))
        };
        if let Some(held) = txn.snapshot {
            if held == claimed {
                return Ok(());
            }
            return Err(
                violation(ViolationKind::SnapshotMoved, format!("snapshot {held}"))
                    .detail("a transaction keeps the snapshot it took first"),
            );
        }
        if claimed < txn.floor {
            return Err(violation(
                ViolationKind::SnapshotTooOld,
                format!("a snapshot >= {}", txn.floor),
            )
            .detail(format!(
                "commit {} was acknowledged before the transaction began",
                txn.floor
            )));
        }
        if claimed < state.last_snapshot {
            return Err(violation(
                ViolationKind::SnapshotBackwards,
                format!("a snapshot >= {}", state.last_snapshot),
            )
            .detail(format!(
                "the connection already held snapshot {}",
                state.last_snapshot
            )));
        }
        let unresolved = self.unresolved_through(claimed).len();
        if unresolved > self.inflight.len() {
            let possible = (self.acked_max + self.inflight.len() as u64)
                .saturating_sub(self.gaps.len() as u64);
            // A skipped sequence, a failed commit's publish, or a commit from nowhere.
            let kind = if !self.gaps.is_empty() {
                ViolationKind::SeqGap
            } else if !self.failed.is_empty() {
                ViolationKind::FailedCommitVisible
            } else {
                ViolationKind::FutureRead
            };
            return Err(
                violation(kind, format!("a snapshot <= {possible}")).detail(format!(
                    "commit {} is acknowledged, {} commit(s) in flight, {} failed since",
                    self.acked_max,
                    self.inflight.len(),
                    self.failed.len()
                )),
            );
        }
        txn.snapshot = Some(claimed);
        state.last_snapshot = claimed;
        self.max_seen_snapshot = self.max_seen_snapshot.max(claimed);
        Ok(())
    }

    /// Sequences at or below `snapshot` that no acknowledged commit holds.
    pub(super) fn unresolved_through(&self, snapshot: u64) -> Vec<u64> {
        let mut slots: Vec<u64> = self.gaps.range(..=snapshot).copied().collect();
        slots.extend(self.acked_max + 1..=snapshot);
        slots
    }

    pub(super) fn failed_writes(&self) -> Vec<&WriteSet> {
        self.failed.iter().map(|commit| &commit.writes).collect()
    }

    /// Judges a read (now, or once the sequences it saw are acknowledged).
    pub(super) fn read(
        &mut self,
        step: u64,
        conn: u64,
        state: &mut Conn,
        op: &Op,
        observed: Observed,
    ) -> Result<(), Violation> {
        let txn = state.txn.as_mut().expect("a read runs in a transaction");
        let mut read = ReadRecord {
            step,
            conn,
            txn: txn.id,
            op: op.clone(),
            snapshot: txn.snapshot.unwrap_or(self.acked_max),
            own: txn.writes.clone(),
            observed,
        };
        if txn.snapshot.is_none() {
            // The engine reported no snapshot: adopt the newest one that explains the read.
            let snapshot = self.infer_snapshot(&read, txn.floor);
            read.snapshot = snapshot;
            txn.snapshot = Some(snapshot);
            state.last_snapshot = state.last_snapshot.max(snapshot);
        }
        self.judge_or_keep(read)
    }

    fn infer_snapshot(&self, read: &ReadRecord, floor: u64) -> u64 {
        if !self.gaps.is_empty() {
            return self.acked_max;
        }
        let lowest = floor.max(self.acked_max.saturating_sub(INFERRED_SNAPSHOT_CANDIDATES));
        let failed = self.failed_writes();
        (lowest..=self.acked_max)
            .rev()
            .find(|snapshot| {
                let view = View::at(&self.store, *snapshot).with_own(&read.own);
                let candidate = ReadRecord {
                    snapshot: *snapshot,
                    ..read.clone()
                };
                check_read(&view, &self.store, &candidate, &failed).is_ok()
            })
            .unwrap_or(self.acked_max)
    }

    fn judge_or_keep(&mut self, read: ReadRecord) -> Result<(), Violation> {
        let unresolved = self.unresolved_through(read.snapshot);
        let failed = self.failed_writes();
        if unresolved.is_empty() {
            let view = View::at(&self.store, read.snapshot).with_own(&read.own);
            return check_read(&view, &self.store, &read, &failed);
        }
        if let ([slot], [(_, commit)]) = (
            unresolved.as_slice(),
            Vec::from_iter(&self.inflight).as_slice(),
        ) {
            let view = View::at(&self.store, read.snapshot)
                .with_extra(*slot, &commit.writes)
                .with_own(&read.own);
            if let Err(violation) = check_read(&view, &self.store, &read, &failed) {
                // A failed commit that published anyway explains the read better.
                let published_failure = self.failed.iter().find(|failure| {
                    let view = View::at(&self.store, read.snapshot)
                        .with_extra(*slot, &failure.writes)
                        .with_own(&read.own);
                    check_read(&view, &self.store, &read, &[]).is_ok()
                });
                if let Some(failure) = published_failure {
                    return Err(violation_from_failure(&read, *slot, failure));
                }
                let detail = format!(
                    "{}; the only commit in flight (connection {}, transaction {}) was bound to \
                     sequence {slot}",
                    violation.detail, commit.conn, commit.txn
                );
                return Err(violation.detail(detail));
            }
        }
        self.unconfirmed.push(read);
        Ok(())
    }

    /// Judges every kept read whose sequences are now all acknowledged.
    pub(super) fn judge_resolved_reads(&mut self) -> Result<(), Violation> {
        let reads = std::mem::take(&mut self.unconfirmed);
        let mut outcome = Ok(());
        for read in reads {
            if outcome.is_ok() && self.unresolved_through(read.snapshot).is_empty() {
                let view = View::at(&self.store, read.snapshot).with_own(&read.own);
                outcome = check_read(&view, &self.store, &read, &self.failed_writes());
            } else {
                self.unconfirmed.push(read);
            }
        }
        outcome
    }
}

/// A read that matches the writes of a commit that returned an error.
fn violation_from_failure(read: &ReadRecord, slot: u64, failure: &PendingCommit) -> Violation {
    read.violation(
        ViolationKind::FailedCommitVisible,
        format!(
            "the state at snapshot {} without failed commits",
            read.snapshot
        ),
        format!(
            "the writes of the failed commit of connection {}",
            failure.conn
        ),
    )
    .detail(format!(
        "the read matches sequence {slot} holding the commit of connection {} (transaction \
         {}), which failed at step {}",
        failure.conn, failure.txn, failure.failed_step
    ))
}
