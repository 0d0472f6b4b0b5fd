//! Commits: an acknowledged commit takes the next sequence (contiguous, after the
//! writer's own snapshot) and enters the versioned store; a failed one is remembered as
//! possibly surviving a later crash, and any read that depended on it was an aborted read.

use crate::model::Durability;
use crate::model::oracle::{HISTORY_WINDOW_COMMITS, PendingCommit, SeqOracle};
use crate::model::view::View;
use crate::op::Op;
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
            if changes && self.unresolved_count_through(base) == 0 {
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
        // A failed commit is dead once a commit invoked after its failure is acknowledged
        // (that commit overwrote whatever the failed one left in the log).
        self.failed
            .retain(|failed| failed.failed_step >= commit.step);
        let floor = self.compaction_floor();
        self.store.apply(seq, &commit.writes, floor);
        self.judge_resolved_reads()
    }

    /// A writing commit returned an error (no crash so far): it must never become visible.
    pub(super) fn commit_failed(&mut self, step: u64, mut commit: PendingCommit) {
        commit.failed_step = step;
        self.failed.push(commit);
    }

    /// After every completion: each sequence a later commit skipped, and each sequence a
    /// reader saw beyond the last acknowledged commit, must still be fillable by a
    /// distinct commit in flight. When a commit leaves the flight without filling one
    /// (it failed, was busy, or never published), the history is broken.
    pub(super) fn check_fillable(&self, step: u64, conn: u64, op: &Op) -> Result<(), Violation> {
        // Runs after every completion: nothing is allocated or formatted unless a rule
        // is broken.
        let inflight = self.inflight.len();
        let cause = || match self.failed.last() {
            Some(commit) => format!(
                "the commit of connection {} (transaction {}), invoked at step {}, failed",
                commit.conn, commit.txn, commit.step
            ),
            None => "no commit in flight can fill it".to_string(),
        };
        let read_kind = if self.failed.is_empty() {
            ViolationKind::FutureRead
        } else {
            ViolationKind::AbortedRead
        };
        for read in self.unconfirmed.iter().filter(|read| read.lowest.is_none()) {
            if self.unresolved_count_through(read.snapshot) > inflight {
                let unresolved = self.unresolved_through(read.snapshot);
                let cause = cause();
                return Err(read
                    .violation(
                        read_kind,
                        format!("a snapshot <= {}", self.acked_max),
                        format!("snapshot {}", read.snapshot),
                    )
                    .detail(format!(
                        "the read saw sequence(s) {unresolved:?} and only {inflight} commit(s) \
                         remain in flight; {cause}"
                    )));
            }
        }
        let violation = |kind, expected: String, actual: String, detail: String| {
            Violation::new(kind, step, expected, actual)
                .conn(conn)
                .op(show_op(op))
                .detail(detail)
        };
        if self.gaps.len() > inflight {
            let cause = cause();
            return Err(violation(
                ViolationKind::SeqGap,
                format!("sequences {:?} filled by commits in flight", self.gaps),
                format!("{inflight} commit(s) in flight"),
                format!(
                    "commit {} was acknowledged past them; {cause}",
                    self.acked_max
                ),
            ));
        }
        if self.unresolved_count_through(self.max_seen_snapshot) > inflight {
            let seen = self.unresolved_through(self.max_seen_snapshot);
            let cause = cause();
            return Err(violation(
                read_kind,
                format!("snapshots <= {}", self.acked_max),
                format!("a transaction holding snapshot {}", self.max_seen_snapshot),
                format!(
                    "sequence(s) {seen:?} were seen and only {inflight} commit(s) remain in \
                     flight; {cause}"
                ),
            ));
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
            // An inferred snapshot is only the newest that explained the reads so far: a
            // later read may need any snapshot down to the transaction's floor.
            let oldest = match txn.snapshot {
                Some(snapshot) if !txn.inferred => snapshot,
                _ => txn.floor,
            };
            floor = floor.min(oldest);
        }
        for read in &self.unconfirmed {
            floor = floor.min(read.lowest.unwrap_or(read.snapshot));
        }
        floor.saturating_sub(HISTORY_WINDOW_COMMITS)
    }
}
