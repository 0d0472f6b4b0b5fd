//! Crash rules: which recovered states are allowed (the durability contract the engine
//! under test promises; braid-core states its side in core/src/db/connection.rs).
//!
//! - `Durability::Full` (and any reopen that lost no volatile data): every acknowledged
//!   commit survives, and so does every commit a reader saw. A commit in doubt (it
//!   returned an error, or was in flight at the crash) may survive only if it was the
//!   last one attempted, and then wholly or not at all.
//! - `Durability::Normal`: the recovered state is the state after some prefix of the
//!   commit order, no older than the last commit known durable (a WAL reset, a WAL sync the
//!   simulator saw complete after the commit was acknowledged, or what the previous crash
//!   recovered): never a hole, never part of a transaction.
//!
//! The engine reports the sequence it recovered to; the oracle builds the state at that
//! sequence (filling sequences nobody acknowledged with in-doubt commits, in every
//! order that fits) and compares the full contents. When nothing fits, it says which
//! states would have matched, to name the failure: lost commit, partial transaction,
//! prefix hole.

use std::collections::BTreeMap;

use crate::model::fill::FillSearch;
use crate::model::oracle::{CrashState, HISTORY_WINDOW_COMMITS, PendingCommit, SeqOracle};
use crate::model::reads::check_read_at_some;
use crate::model::versions::WriteSet;
use crate::model::view::View;
use crate::op::{Key, Value};
use crate::violation::{Violation, ViolationKind, show_rows, show_value};

/// How many recent commits the diagnosis considers when naming a failed recovery.
const DIAGNOSIS_WINDOW: u64 = HISTORY_WINDOW_COMMITS;

/// Several orders of in-doubt commits explained a recovery that lost no volatile data.
/// They differ only in intermediate states, which a later crash (under Normal) may expose,
/// so each order stays allowed until a durable state covers them all.
#[derive(Debug, Clone)]
pub(super) struct Ambiguity {
    /// The filled sequences, ascending.
    slots: Vec<u64>,
    /// Each explaining order: the writes at each slot, in slot order. The store holds the
    /// first.
    orders: Vec<Vec<WriteSet>>,
    /// The sequence that reopen recovered to: every order gives the same state there and
    /// after; states in `slots[0]..agreed_from` may differ.
    agreed_from: u64,
}

impl Ambiguity {
    /// Whether a durable state at `durable` leaves no room for another order to show.
    pub(super) fn settled_by(&self, durable: u64) -> bool {
        durable >= self.agreed_from
    }
}

/// At most this many explaining orders are remembered after an ambiguous reopen.
const MAX_REMEMBERED_ORDERS: usize = 1024;

/// Recovered rows by key.
pub(super) type RowMap<'a> = BTreeMap<&'a [u8], &'a [u8]>;

impl SeqOracle {
    /// After recovery: `rows` is the full contents of the reopened database, `integrity`
    /// its integrity report, and `recovered_seq` the commit sequence the engine claims it
    /// recovered to. Checks them against the crash rules, then continues from that state.
    pub fn on_recovered(
        &mut self,
        step: u64,
        rows: &[(Key, Value)],
        integrity: &[String],
        recovered_seq: u64,
    ) -> Result<(), Violation> {
        let crash = self.crash.take().expect("on_recovered follows on_crash");
        if !integrity.is_empty() {
            return Err(Violation::new(
                ViolationKind::Integrity,
                step,
                "a clean integrity check after recovery",
                integrity.join("; "),
            )
            .op("recovery")
            .detail(format!("crash at step {}", crash.step)));
        }
        let actual = row_map(rows).ok_or_else(|| {
            Violation::new(
                ViolationKind::RecoveryMismatch,
                step,
                "distinct keys in ascending order",
                show_rows(rows),
            )
        })?;
        let lowest = self.lowest_allowed(crash);
        if recovered_seq < lowest {
            return Err(self.diagnose(step, crash, &actual, recovered_seq, lowest));
        }
        let slots = self.unresolved_through(recovered_seq);
        // The first filling that explains the rows and every read kept for judgement
        // wins; failing that, a read no matching filling explains is the violation.
        let mut read_violation = None;
        let mut search = FillSearch::new(&self.store, &self.in_doubt, &actual, recovered_seq);
        let found = search.find(&slots, &mut |filling| {
            if !self.view_with(recovered_seq, filling).rows_equal(&actual) {
                return false;
            }
            match self.judge_kept_reads(recovered_seq, filling) {
                Ok(()) => true,
                Err(violation) => {
                    read_violation.get_or_insert(violation);
                    false
                }
            }
        });
        let exhausted = search.exhausted();
        if let Some(filling) = found {
            let ambiguity = self.other_orders(crash, recovered_seq, &actual, &slots, &filling);
            self.accept(crash, recovered_seq, &filling);
            if ambiguity.is_some() {
                self.ambiguity = ambiguity;
            }
            return Ok(());
        }
        if slots.is_empty()
            && let Some(order) = self.ambiguous_order_matching(recovered_seq, &actual)
        {
            let ambiguity = self.ambiguity.take().expect("an order was found in it");
            self.store.remove_versions(&ambiguity.slots);
            for (slot, writes) in ambiguity.slots.iter().zip(&ambiguity.orders[order]) {
                self.store.apply(*slot, writes, 0);
            }
            self.accept(crash, recovered_seq, &[]);
            return Ok(());
        }
        let violation = read_violation
            .unwrap_or_else(|| self.diagnose(step, crash, &actual, recovered_seq, lowest));
        if exhausted {
            let detail = format!(
                "{}; the search over in-doubt commit orders ran out of budget",
                violation.detail
            );
            return Err(violation.detail(detail));
        }
        Err(violation)
    }

    /// After a reopen that lost nothing, the other orders of in-doubt commits that also
    /// explain the rows (they differ in intermediate states a later crash may expose).
    fn other_orders(
        &self,
        crash: CrashState,
        recovered_seq: u64,
        actual: &RowMap<'_>,
        slots: &[u64],
        chosen: &[(u64, usize)],
    ) -> Option<Ambiguity> {
        if crash.lost_volatile || slots.len() < 2 {
            return None;
        }
        let mut fillings: Vec<Vec<(u64, usize)>> = vec![chosen.to_vec()];
        let mut search = FillSearch::new(&self.store, &self.in_doubt, actual, recovered_seq);
        search.find(slots, &mut |filling| {
            let explains = self.view_with(recovered_seq, filling).rows_equal(actual);
            if explains && filling != chosen {
                fillings.push(filling.clone());
            }
            fillings.len() >= MAX_REMEMBERED_ORDERS
        });
        if fillings.len() < 2 {
            return None;
        }
        let orders = fillings
            .iter()
            .map(|filling| {
                filling
                    .iter()
                    .map(|(_, index)| self.in_doubt[*index].writes.clone())
                    .collect()
            })
            .collect();
        let mut sorted_slots = slots.to_vec();
        sorted_slots.sort_unstable();
        Some(Ambiguity {
            slots: sorted_slots,
            orders,
            agreed_from: recovered_seq,
        })
    }

    /// The index of a remembered order whose intermediate state at `recovered_seq`
    /// equals the rows.
    fn ambiguous_order_matching(&self, recovered_seq: u64, actual: &RowMap<'_>) -> Option<usize> {
        let ambiguity = self.ambiguity.as_ref()?;
        let first = *ambiguity.slots.first()?;
        if recovered_seq < first || ambiguity.settled_by(recovered_seq) {
            return None;
        }
        ambiguity.orders.iter().position(|order| {
            let mut view = View::at(&self.store, recovered_seq);
            for slot in &ambiguity.slots {
                view = view.skipping(*slot);
            }
            for (slot, writes) in ambiguity.slots.iter().zip(order) {
                view = view.with_extra(*slot, writes);
            }
            view.rows_equal(actual)
        })
    }

    /// The oldest sequence recovery may land on.
    fn lowest_allowed(&self, crash: CrashState) -> u64 {
        if crash.keep_acknowledged {
            self.acked_max.max(self.max_seen_snapshot)
        } else {
            self.durable_floor.min(self.acked_max)
        }
    }

    /// The state at `snapshot` with in-doubt commits filling the given sequences.
    fn view_with(&self, snapshot: u64, filled: &[(u64, usize)]) -> View<'_> {
        let mut view = View::at(&self.store, snapshot);
        for (slot, index) in filled {
            view = view.with_extra(*slot, &self.in_doubt[*index].writes);
        }
        view
    }

    /// Judges the reads kept for judgement that the recovered state resolves (snapshots
    /// at or below `recovered_seq`); reads of lost commits cannot be judged and are dropped.
    fn judge_kept_reads(
        &self,
        recovered_seq: u64,
        filled: &[(u64, usize)],
    ) -> Result<(), Violation> {
        for read in self
            .unconfirmed
            .iter()
            .filter(|read| read.snapshot <= recovered_seq)
        {
            let view_at = |snapshot| self.view_with(snapshot, filled).with_own(&read.own);
            check_read_at_some(view_at, &self.store, read, &[])?;
        }
        Ok(())
    }

    /// Continues from the recovered state: lost commits are forgotten and surviving
    /// in-doubt commits become ordinary ones.
    fn accept(&mut self, crash: CrashState, recovered_seq: u64, filled: &[(u64, usize)]) {
        self.store.truncate_after(recovered_seq);
        let in_doubt = std::mem::take(&mut self.in_doubt);
        for (slot, index) in filled {
            self.store.apply(*slot, &in_doubt[*index].writes, 0);
        }
        self.acked_max = recovered_seq;
        self.sync_failed_at = None;
        self.gaps.clear();
        self.failed.clear();
        self.unconfirmed.clear();
        self.max_seen_snapshot = recovered_seq;
        // After a real crash, recovery read only durable data, so that state can never be
        // lost again (this also settles which order in-doubt commits took, when several
        // orders give the same rows). After a reopen it may still be volatile.
        self.durable_floor = if crash.lost_volatile {
            recovered_seq
        } else {
            self.durable_floor.min(recovered_seq)
        };
        if self
            .ambiguity
            .as_ref()
            .is_some_and(|a| a.settled_by(self.durable_floor))
        {
            self.ambiguity = None;
        }
        let floor = self.compaction_floor();
        self.store.compact_all(floor);
    }

    /// Names a recovery that matches no allowed state.
    fn diagnose(
        &self,
        step: u64,
        crash: CrashState,
        actual: &RowMap<'_>,
        recovered_seq: u64,
        lowest: u64,
    ) -> Violation {
        let highest = self.acked_max + self.in_doubt.len() as u64;
        let expected = if lowest == highest {
            format!("the state after commit {lowest}")
        } else {
            format!("the state after a commit in {lowest}..={highest}")
        };
        let got = format!(
            "{} rows, recovered to sequence {recovered_seq}",
            actual.len()
        );
        let violation = |kind, detail: String| {
            Violation::new(kind, step, expected.clone(), got.clone())
                .op("recovery")
                .detail(format!("crash at step {}; {detail}", crash.step))
        };
        let matching = self.matching_states(actual);
        let matched_text = if matching.is_empty() {
            "no recent state matches".to_string()
        } else {
            format!("rows match the state after commit(s) {matching:?}")
        };
        if crash.keep_acknowledged && matching.iter().any(|seq| *seq < lowest) {
            return violation(
                ViolationKind::LostCommit,
                format!("commits up to {lowest} were acknowledged or seen; {matched_text}"),
            );
        }
        if let Some(what) = self.partial_commit(actual, recovered_seq) {
            return violation(ViolationKind::PartialTransaction, what);
        }
        if let Some(hole) = self.hole(actual, recovered_seq) {
            let kind = if crash.keep_acknowledged && hole <= self.acked_max {
                ViolationKind::LostCommit
            } else {
                ViolationKind::PrefixHole
            };
            return violation(
                kind,
                format!("rows are the state after {recovered_seq} without commit {hole}"),
            );
        }
        if recovered_seq < lowest {
            return violation(
                ViolationKind::LostCommit,
                format!("commits up to {lowest} were acknowledged or seen; {matched_text}"),
            );
        }
        let expected_rows = View::at(&self.store, recovered_seq.min(self.acked_max)).rows();
        violation(
            ViolationKind::RecoveryMismatch,
            format!(
                "{matched_text}; {}",
                first_difference(&expected_rows, actual)
            ),
        )
    }

    /// Recent acknowledged states the rows equal.
    fn matching_states(&self, actual: &RowMap<'_>) -> Vec<u64> {
        if !self.gaps.is_empty() {
            return Vec::new();
        }
        let oldest = self.acked_max.saturating_sub(DIAGNOSIS_WINDOW);
        (oldest..=self.acked_max)
            .filter(|seq| View::at(&self.store, *seq).rows_equal(actual))
            .collect()
    }

    /// Whether the rows hold part of one commit: the one at `recovered_seq`, or one in doubt.
    fn partial_commit(&self, actual: &RowMap<'_>, recovered_seq: u64) -> Option<String> {
        if recovered_seq > 0 && recovered_seq <= self.acked_max && self.gaps.is_empty() {
            let writes = self.store.writes_at(recovered_seq);
            let base = View::at(&self.store, recovered_seq - 1);
            if is_partial(actual, &base, &writes) {
                return Some(format!("only part of commit {recovered_seq} survived"));
            }
        }
        let base = View::at(&self.store, self.acked_max);
        self.in_doubt
            .iter()
            .find(|commit| is_partial(actual, &base, &commit.writes))
            .map(|commit: &PendingCommit| {
                format!(
                    "only part of the in-doubt commit of connection {} (transaction {}) survived",
                    commit.conn, commit.txn
                )
            })
    }

    /// A commit whose absence alone explains the rows (a hole in the prefix).
    fn hole(&self, actual: &RowMap<'_>, recovered_seq: u64) -> Option<u64> {
        let newest = recovered_seq.min(self.acked_max);
        let oldest = newest.saturating_sub(DIAGNOSIS_WINDOW).max(1);
        (oldest..newest).rev().find(|seq| {
            let view = View::at(&self.store, newest).skipping(*seq);
            view.rows_equal(actual)
        })
    }
}

/// The rows as a map, or `None` if keys repeat or are out of order.
fn row_map(rows: &[(Key, Value)]) -> Option<RowMap<'_>> {
    if !rows.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        return None;
    }
    Some(
        rows.iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect(),
    )
}

/// Whether `actual` is `base` with some, but not all, of the effective `writes` applied,
/// and nothing else changed.
fn is_partial(actual: &RowMap<'_>, base: &View<'_>, writes: &WriteSet) -> bool {
    let mut applied = 0;
    let mut unapplied = 0;
    for (key, value) in writes {
        let before = base.get(key).map(Vec::as_slice);
        let after = value.as_deref();
        if before == after {
            continue;
        }
        let now = actual.get(key.as_slice()).copied();
        if now == after {
            applied += 1;
        } else if now == before {
            unapplied += 1;
        } else {
            return false;
        }
    }
    if applied == 0 || unapplied == 0 {
        return false;
    }
    let base_rows = base.rows();
    let untouched_same = base_rows
        .iter()
        .filter(|(k, _)| !writes.contains_key(k))
        .all(|(k, v)| actual.get(k.as_slice()) == Some(&v.as_slice()));
    let no_strangers = actual
        .keys()
        .all(|k| writes.contains_key(*k) || base.get(k).is_some());
    untouched_same && no_strangers
}

fn first_difference(expected: &[(Key, Value)], actual: &RowMap<'_>) -> String {
    let expected_map: RowMap<'_> = expected
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    let keys: std::collections::BTreeSet<&[u8]> =
        expected_map.keys().chain(actual.keys()).copied().collect();
    for key in keys {
        let (want, got) = (expected_map.get(key), actual.get(key));
        if want != got {
            return format!(
                "first difference at key {}: expected {}, got {}",
                show_value(Some(key)),
                show_value(want.copied()),
                show_value(got.copied())
            );
        }
    }
    "no difference from the newest acknowledged state".to_string()
}
