//! Commits: an acknowledged commit takes the next sequence (contiguous, after the
//! writer's own snapshot) and enters the versioned store; a failed one is remembered as
//! possibly surviving a later crash, and any read that depended on it was an aborted read.

use crate::model::Durability;
use crate::model::oracle::{HISTORY_WINDOW_COMMITS, PendingCommit, SeqOracle};
use crate::model::view::View;
use crate::op::{Op, OpError};
use crate::violation::{Violation, ViolationKind, show_op};

impl SeqOracle {
    /// A writing commit (explicit `Commit`, or an implicit write) was acknowledged.
    pub(super) fn commit_acked(
        &mut self,
        step: u64,
        op: &Op,
        commit: PendingCommit,
        snapshot: Option<u64>,
        seq: u64,
    ) -> Result<(), Violation> {
        let violation = |kind, expected: String, actual: String| {
            Violation::new(kind, step, expected, actual)
                .conn(commit.conn)
                .txn(commit.txn)
                .op(show_op(op))
        };
        if seq == 0 {
            let base = snapshot.unwrap_or(self.acked_max);
            let view = View::at(&self.store, base);
            let changes = commit
                .writes
                .iter()
                .any(|(key, value)| view.get(key) != value.as_ref());
            if changes && self.unresolved_through(base).is_empty() {
                return Err(violation(
                    ViolationKind::WrongCommitSeq,
                    format!("sequence {}", self.acked_max + 1),
                    "sequence 0 (read-only)".into(),
                )
                .detail(format!(
                    "the transaction wrote {} key(s)",
                    commit.writes.len()
                )));
            }
            return Ok(());
        }
        if commit.writes.is_empty() {
            return Err(violation(
                ViolationKind::WrongCommitSeq,
                "sequence 0 (read-only)".into(),
                format!("sequence {seq}"),
            )
            .detail("the transaction wrote nothing"));
        }
        if seq <= self.acked_max && !self.gaps.contains(&seq) {
            return Err(violation(
                ViolationKind::SeqReused,
                format!("sequence {}", self.acked_max + 1),
                format!("sequence {seq}"),
            )
            .detail(format!("sequence {seq} was already acknowledged")));
        }
        let new_gaps = (self.acked_max + 1)..seq;
        let open_slots =
            self.gaps.len() + new_gaps.clone().count() - usize::from(self.gaps.contains(&seq));
        if open_slots > self.inflight.len() {
            return Err(violation(
                ViolationKind::SeqGap,
                format!("sequence {}", self.acked_max + 1),
                format!("sequence {seq}"),
            )
            .detail(format!(
                "{open_slots} earlier sequence(s) would stay unfilled with {} commit(s) in flight",
                self.inflight.len()
            )));
        }
        if let Some(snapshot) = snapshot
            && snapshot + 1 != seq
        {
            return Err(violation(
                ViolationKind::WriterSnapshot,
                format!("snapshot {}", seq - 1),
                format!("snapshot {snapshot}"),
            )
            .detail(format!(
                "a writer committed as {seq} must have read the commit just before it"
            )));
        }
        self.gaps.remove(&seq);
        self.gaps.extend(new_gaps);
        self.acked_max = self.acked_max.max(seq);
        self.failed.clear();
        let floor = self.compaction_floor();
        self.store.apply(seq, &commit.writes, floor);
        self.judge_resolved_reads()
    }

    /// A writing commit returned an error (no crash so far): it must never become visible.
    pub(super) fn commit_failed(
        &mut self,
        step: u64,
        commit: PendingCommit,
        error: &OpError,
    ) -> Result<(), Violation> {
        self.failed.push(commit);
        let commit = self.failed.last().expect("just pushed");
        if self.gaps.len() > self.inflight.len() {
            return Err(Violation::new(
                ViolationKind::SeqGap,
                step,
                format!("sequences {:?} filled by commits in flight", self.gaps),
                format!("{} commit(s) in flight", self.inflight.len()),
            )
            .conn(commit.conn)
            .txn(commit.txn)
            .detail(format!("the commit failed with {error:?}")));
        }
        let inflight = self.inflight.len();
        for read in &self.unconfirmed {
            if self.unresolved_through(read.snapshot).len() > inflight {
                return Err(read
                    .violation(
                        ViolationKind::AbortedRead,
                        format!("a snapshot <= {}", self.acked_max),
                        format!("snapshot {}", read.snapshot),
                    )
                    .detail(format!(
                        "the read saw a sequence only the commit of connection {} (transaction \
                         {}) could fill, and that commit failed at step {step} with {error:?}",
                        commit.conn, commit.txn
                    )));
            }
        }
        Ok(())
    }

    /// The oldest sequence any open snapshot, pending read or allowed recovery may need.
    pub(super) fn compaction_floor(&self) -> u64 {
        let mut floor = match self.durability {
            Durability::Full => self.acked_max,
            Durability::Normal => self.durable_floor.min(self.acked_max),
        };
        if let Some(first_gap) = self.gaps.first() {
            floor = floor.min(first_gap - 1);
        }
        for txn in self.conns.values().filter_map(|state| state.txn.as_ref()) {
            floor = floor.min(txn.snapshot.unwrap_or(txn.floor));
        }
        for read in &self.unconfirmed {
            floor = floor.min(read.snapshot);
        }
        floor.saturating_sub(HISTORY_WINDOW_COMMITS)
    }
}
