//! The versioned key-value model: for every key, the values it held after each commit
//! that wrote it, oldest first, with `None` for a delete (a tombstone).
//!
//! Memory stays bounded by compaction: once no open snapshot and no possible recovery
//! point can be older than a `floor` sequence, every version older than the newest one at
//! or below the floor is unreachable and is dropped.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::op::{Key, Value};

/// The writes of one transaction: key to new value, `None` for a delete.
pub type WriteSet = BTreeMap<Key, Option<Value>>;

/// Per key, `(commit sequence, value or tombstone)` in increasing sequence order.
#[derive(Debug, Default, Clone)]
pub struct VersionStore {
    keys: BTreeMap<Key, Vec<(u64, Option<Value>)>>,
}

impl VersionStore {
    /// An empty store (the state at sequence 0).
    pub fn new() -> Self {
        VersionStore::default()
    }

    /// The newest version of `key` at or below `snapshot`, ignoring the sequences in
    /// `skip`: `(its sequence, its value)`.
    pub fn version_at(
        &self,
        key: &[u8],
        snapshot: u64,
        skip: &[u64],
    ) -> Option<(u64, Option<&Value>)> {
        version_among(self.keys.get(key)?, snapshot, skip)
    }

    /// Every version the store still holds for `key`.
    pub fn history(&self, key: &[u8]) -> &[(u64, Option<Value>)] {
        self.keys.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Keys with `start <= key < end` (no upper bound when `end` is None) and their
    /// versions, in key order: a scan reads each key's versions without looking it up again.
    pub fn entries_in<'a>(
        &'a self,
        start: &[u8],
        end: Option<&[u8]>,
    ) -> impl Iterator<Item = (&'a Key, &'a [(u64, Option<Value>)])> + use<'a> {
        // An empty range (`end <= start`) must yield nothing, never panic.
        let upper = match end {
            Some(end) => Bound::Excluded(end.max(start)),
            None => Bound::Unbounded,
        };
        self.keys
            .range::<[u8], _>((Bound::Included(start), upper))
            .map(|(key, versions)| (key, versions.as_slice()))
    }

    /// The writes committed at exactly `seq` (reconstructed from the versions).
    pub fn writes_at(&self, seq: u64) -> WriteSet {
        let mut writes = WriteSet::new();
        for (key, versions) in &self.keys {
            if let Some((_, value)) = versions.iter().find(|(s, _)| *s == seq) {
                writes.insert(key.clone(), value.clone());
            }
        }
        writes
    }

    /// Records `writes` as committed at `seq` (in sequence order even when an older
    /// sequence is filled late), then compacts the written keys below `floor`.
    pub fn apply(&mut self, seq: u64, writes: &WriteSet, floor: u64) {
        assert!(
            seq > 0,
            "sequence 0 is the empty initial state, never a commit"
        );
        for (key, value) in writes {
            // One lookup for a key the store holds; a new key is copied only if it stays.
            let emptied = match self.keys.get_mut(key) {
                Some(versions) => add_version(versions, seq, value, floor),
                None => {
                    let mut versions = Vec::new();
                    if !add_version(&mut versions, seq, value, floor) {
                        self.keys.insert(key.clone(), versions);
                    }
                    false
                }
            };
            if emptied {
                self.keys.remove(key);
            }
        }
    }

    /// Forgets the versions written at the given sequences (to re-apply them in
    /// another order).
    pub fn remove_versions(&mut self, seqs: &[u64]) {
        self.keys.retain(|_, versions| {
            versions.retain(|(s, _)| !seqs.contains(s));
            !versions.is_empty()
        });
    }

    /// Forgets every version newer than `seq` (commits lost in a crash).
    pub fn truncate_after(&mut self, seq: u64) {
        self.keys.retain(|_, versions| {
            versions.retain(|(s, _)| *s <= seq);
            !versions.is_empty()
        });
    }

    /// Compacts every key below `floor` (a whole-store pass; use after recovery).
    pub fn compact_all(&mut self, floor: u64) {
        self.keys.retain(|_, versions| {
            compact_versions(versions, floor);
            !versions.is_empty()
        });
    }

    /// How many versions the store holds (for memory tests and statistics).
    pub fn version_count(&self) -> usize {
        self.keys.values().map(Vec::len).sum()
    }
}

/// The newest of one key's `versions` at or below `snapshot`, ignoring the sequences in
/// `skip`: `(its sequence, its value)`.
pub fn version_among<'a>(
    versions: &'a [(u64, Option<Value>)],
    snapshot: u64,
    skip: &[u64],
) -> Option<(u64, Option<&'a Value>)> {
    versions
        .iter()
        .rev()
        .find(|(seq, _)| *seq <= snapshot && !skip.contains(seq))
        .map(|(seq, value)| (*seq, value.as_ref()))
}

/// Inserts `(seq, value)` into one key's `versions` in sequence order, then compacts them
/// below `floor`; true when no version is left.
fn add_version(
    versions: &mut Vec<(u64, Option<Value>)>,
    seq: u64,
    value: &Option<Value>,
    floor: u64,
) -> bool {
    // Recovery may fill a sequence below one already recorded, so insert in order.
    let at = versions.partition_point(|(s, _)| *s < seq);
    assert!(
        versions.get(at).is_none_or(|(s, _)| *s != seq),
        "a key gets at most one version per commit sequence"
    );
    versions.insert(at, (seq, value.clone()));
    compact_versions(versions, floor);
    versions.is_empty()
}

/// Drops versions no snapshot at or above `floor` can read: everything before the newest
/// version at or below the floor, and that version too when it is a tombstone.
fn compact_versions(versions: &mut Vec<(u64, Option<Value>)>, floor: u64) {
    let Some(base) = versions.iter().rposition(|(seq, _)| *seq <= floor) else {
        return;
    };
    versions.drain(..base);
    if versions.first().is_some_and(|(_, value)| value.is_none()) {
        versions.remove(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes(pairs: &[(&str, Option<&str>)]) -> WriteSet {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn versions_answer_by_snapshot() {
        let mut store = VersionStore::new();
        store.apply(1, &writes(&[("a", Some("1"))]), 0);
        store.apply(2, &writes(&[("a", Some("2"))]), 0);
        store.apply(3, &writes(&[("a", None)]), 0);
        assert_eq!(store.version_at(b"a", 0, &[]), None);
        assert_eq!(
            store.version_at(b"a", 1, &[]),
            Some((1, Some(&b"1".to_vec())))
        );
        assert_eq!(
            store.version_at(b"a", 2, &[]),
            Some((2, Some(&b"2".to_vec())))
        );
        assert_eq!(
            store.version_at(b"a", 2, &[2]),
            Some((1, Some(&b"1".to_vec())))
        );
        assert_eq!(store.version_at(b"a", 9, &[]), Some((3, None)));
        assert_eq!(store.writes_at(2), writes(&[("a", Some("2"))]));
        assert_eq!(
            store.entries_in(b"b", Some(b"a")).count(),
            0,
            "an inverted range is empty"
        );
    }

    #[test]
    fn compaction_keeps_what_the_floor_can_read() {
        let mut store = VersionStore::new();
        for seq in 1..=10 {
            store.apply(seq, &writes(&[("a", Some("x"))]), seq - 1);
        }
        // At floor 9 only version 9 (readable at 9) and 10 remain.
        assert_eq!(store.version_count(), 2);
        assert!(store.version_at(b"a", 9, &[]).is_some());
        store.apply(11, &writes(&[("a", None)]), 11);
        assert_eq!(
            store.version_count(),
            0,
            "a tombstone at the floor is dropped"
        );
    }

    #[test]
    fn truncate_forgets_lost_commits() {
        let mut store = VersionStore::new();
        store.apply(1, &writes(&[("a", Some("1"))]), 0);
        store.apply(2, &writes(&[("b", Some("2"))]), 0);
        store.truncate_after(1);
        assert_eq!(store.version_count(), 1);
        assert_eq!(store.version_at(b"b", 5, &[]), None);
    }
}
