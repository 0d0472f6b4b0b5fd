//! Which in-doubt commits filled which sequences: after a crash, the recovered sequence
//! may include sequences no acknowledged commit holds, and each must be filled by a
//! distinct commit whose outcome was unknown. The search tries assignments from the
//! highest sequence down, so a commit's write to a key no later commit overwrites must
//! already equal the recovered row — which prunes almost every wrong order at once.

use std::collections::BTreeSet;

use crate::model::oracle::PendingCommit;
use crate::model::versions::VersionStore;
use crate::op::Key;

use super::recovery::RowMap;

/// At most this many partial assignments are explored before the search gives up.
const SEARCH_BUDGET: usize = 200_000;

/// `(sequence, index into the in-doubt commits)` for every filled sequence.
pub(super) type Filling = Vec<(u64, usize)>;

/// A depth-first search over assignments of in-doubt commits to sequences.
pub(super) struct FillSearch<'a> {
    pub store: &'a VersionStore,
    pub in_doubt: &'a [PendingCommit],
    pub actual: &'a RowMap<'a>,
    pub recovered_seq: u64,
    visited: usize,
}

impl<'a> FillSearch<'a> {
    pub fn new(
        store: &'a VersionStore,
        in_doubt: &'a [PendingCommit],
        actual: &'a RowMap<'a>,
        recovered_seq: u64,
    ) -> Self {
        FillSearch {
            store,
            in_doubt,
            actual,
            recovered_seq,
            visited: 0,
        }
    }

    /// Offers every complete assignment of `slots` whose final writes agree with the
    /// recovered rows to `accept`, until it returns true; returns that assignment.
    /// `None` when no assignment was accepted (or the budget ran out).
    pub fn find(
        &mut self,
        slots: &[u64],
        accept: &mut dyn FnMut(&Filling) -> bool,
    ) -> Option<Filling> {
        let mut descending: Vec<u64> = slots.to_vec();
        descending.sort_unstable_by(|a, b| b.cmp(a));
        let mut used = vec![false; self.in_doubt.len()];
        let mut decided: BTreeSet<&'a Key> = BTreeSet::new();
        let mut filling = Filling::new();
        self.extend(&descending, &mut used, &mut decided, &mut filling, accept)
            .then_some(filling)
    }

    /// Whether the search stopped early for lack of budget.
    pub fn exhausted(&self) -> bool {
        self.visited >= SEARCH_BUDGET
    }

    fn extend(
        &mut self,
        remaining: &[u64],
        used: &mut [bool],
        decided: &mut BTreeSet<&'a Key>,
        filling: &mut Filling,
        accept: &mut dyn FnMut(&Filling) -> bool,
    ) -> bool {
        let Some((slot, rest)) = remaining.split_first() else {
            let mut ascending = filling.clone();
            ascending.sort_unstable();
            if accept(&ascending) {
                *filling = ascending;
                return true;
            }
            return false;
        };
        for index in 0..self.in_doubt.len() {
            if used[index] || self.exhausted() {
                continue;
            }
            self.visited += 1;
            let Some(newly_decided) = self.final_writes_agree(*slot, index, decided) else {
                continue;
            };
            used[index] = true;
            decided.extend(newly_decided.iter().copied());
            filling.push((*slot, index));
            if self.extend(rest, used, decided, filling, accept) {
                return true;
            }
            filling.pop();
            for key in &newly_decided {
                decided.remove(key);
            }
            used[index] = false;
        }
        false
    }

    /// If commit `index` at `slot` writes, for every key no later sequence overwrites,
    /// exactly the recovered row, the keys it decides; otherwise `None`.
    fn final_writes_agree(
        &self,
        slot: u64,
        index: usize,
        decided: &BTreeSet<&'a Key>,
    ) -> Option<Vec<&'a Key>> {
        let mut newly_decided = Vec::new();
        for (key, value) in &self.in_doubt[index].writes {
            let overwritten_by_store = self
                .store
                .version_at(key, self.recovered_seq, &[])
                .is_some_and(|(seq, _)| seq > slot);
            if overwritten_by_store || decided.contains(key) {
                continue;
            }
            if self.actual.get(key.as_slice()).copied() != value.as_deref() {
                return None;
            }
            newly_decided.push(key);
        }
        Some(newly_decided)
    }
}
