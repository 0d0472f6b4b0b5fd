//! Snapshots and reads: verifying a snapshot claim, and judging each read against the
//! model at its snapshot — at once when the snapshot's commits are known (or exactly one
//! commit in flight can be bound to the one unknown sequence), otherwise once the
//! commits it saw are acknowledged.

use std::borrow::Cow;

use crate::model::oracle::{Conn, PendingCommit, SeqOracle};
use crate::model::reads::{Observed, ReadRecord, check_read, check_read_at_some};
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
        if txn.inferred {
            // A claim replaces what the oracle guessed.
            txn.snapshot = None;
            txn.inferred = false;
        }
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
        let unresolved = self.unresolved_count_through(claimed);
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

    /// `unresolved_through(snapshot).len()`, without building the list.
    pub(super) fn unresolved_count_through(&self, snapshot: u64) -> usize {
        let beyond = snapshot.saturating_sub(self.acked_max);
        let beyond = usize::try_from(beyond).expect("sequences seen fit in memory");
        self.gaps.range(..=snapshot).count() + beyond
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
        observed: Observed<'_>,
    ) -> Result<(), Violation> {
        let txn = state.txn.as_mut().expect("a read runs in a transaction");
        let mut read = ReadRecord {
            step,
            conn,
            txn: txn.id,
            op: Cow::Borrowed(op),
            snapshot: txn.snapshot.unwrap_or(self.acked_max),
            lowest: None,
            own: Cow::Borrowed(&txn.writes),
            observed,
        };
        if txn.snapshot.is_none() || txn.inferred {
            // The engine reports no snapshot: judge the read at the newest snapshot that
            // explains it (weaker: reads of one transaction are not tied together, and
            // its writer-snapshot rule cannot be checked).
            let held = txn.snapshot.filter(|_| txn.inferred);
            let Some(snapshot) = self.infer_snapshot(&read, txn.floor, held) else {
                // Commits in flight may explain it: judge once they are settled.
                read.snapshot = self.acked_max + self.inflight.len() as u64;
                read.lowest = Some(txn.floor);
                self.unconfirmed.push(read.into_owned());
                return Ok(());
            };
            read.snapshot = snapshot;
            txn.snapshot = Some(txn.snapshot.map_or(snapshot, |held| held.min(snapshot)));
            txn.inferred = true;
        }
        self.judge_or_keep(read)
    }

    /// A snapshot no older than `floor` that explains `read`: `held` first (the snapshot
    /// the transaction's earlier reads were explained by, which an engine that keeps its
    /// snapshot will use again), else the newest acknowledged one, trying every snapshot
    /// down to `floor` (a long reader's may be far behind), else the sequence the only
    /// commit in flight may have published. `None` when nothing explains it yet but
    /// commits in flight might; the newest acknowledged snapshot when nothing can (the
    /// read is then judged wrong there).
    fn infer_snapshot(&self, read: &ReadRecord, floor: u64, held: Option<u64>) -> Option<u64> {
        if !self.gaps.is_empty() {
            return None;
        }
        let lowest = floor.min(self.acked_max);
        let failed = self.failed_writes();
        let explains = |snapshot: u64, extra: Option<&WriteSet>| {
            let mut view = View::at(&self.store, snapshot).with_own(&read.own);
            if let Some(writes) = extra {
                view = view.with_extra(snapshot, writes);
            }
            let candidate = ReadRecord {
                snapshot,
                ..read.clone()
            };
            check_read(&view, &self.store, &candidate, &failed).is_ok()
        };
        let held = held.filter(|s| (lowest..=self.acked_max).contains(s));
        let candidates = held.into_iter().chain((lowest..=self.acked_max).rev());
        if let Some(snapshot) = candidates.into_iter().find(|s| explains(*s, None)) {
            return Some(snapshot);
        }
        match Vec::from_iter(self.inflight.values()).as_slice() {
            [] => Some(self.acked_max),
            [commit] if explains(self.acked_max + 1, Some(&commit.writes)) => {
                Some(self.acked_max + 1)
            }
            _ => None,
        }
    }

    fn judge_or_keep(&mut self, read: ReadRecord<'_>) -> Result<(), Violation> {
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
        self.unconfirmed.push(read.into_owned());
        Ok(())
    }

    /// Judges every kept read whose sequences are now all acknowledged.
    pub(super) fn judge_resolved_reads(&mut self) -> Result<(), Violation> {
        let mut outcome = Ok(());
        let reachable = self.acked_max + self.inflight.len() as u64;
        // Reads are judged in order and leave the list once judged; the others stay in
        // place, in their order (nothing is moved unless a read is judged).
        let mut index = 0;
        while index < self.unconfirmed.len() {
            let read = &mut self.unconfirmed[index];
            if read.lowest.is_some() {
                // A read of unknown snapshot saw at most what can still be published.
                read.snapshot = read.snapshot.min(reachable);
            }
            let snapshot = read.snapshot;
            if outcome.is_ok() && self.unresolved_count_through(snapshot) == 0 {
                let read = self.unconfirmed.remove(index);
                let view_at = |snapshot| View::at(&self.store, snapshot).with_own(&read.own);
                outcome = check_read_at_some(view_at, &self.store, &read, &self.failed_writes());
            } else {
                index += 1;
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

#[cfg(test)]
mod tests {
    use crate::model::Durability;
    use crate::model::oracle::SeqOracle;

    #[test]
    fn the_unresolved_count_is_the_length_of_the_unresolved_list() {
        let mut oracle = SeqOracle::new(Durability::Full);
        oracle.acked_max = 10;
        oracle.gaps.extend([3, 7, 8]);
        for snapshot in 0..16 {
            assert_eq!(
                oracle.unresolved_count_through(snapshot),
                oracle.unresolved_through(snapshot).len(),
                "snapshot {snapshot}"
            );
        }
        assert_eq!(oracle.unresolved_through(12), vec![3, 7, 8, 11, 12]);
        assert_eq!(oracle.unresolved_count_through(7), 2);
    }
}
