//! `View`: the model as one reader sees it — the committed versions at a snapshot, plus
//! commits the oracle has bound to sequences it has not seen acknowledged yet (`extras`),
//! plus the reader's own uncommitted writes.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::versions::{VersionStore, WriteSet, version_among};
use crate::op::{Key, Value};

/// A read-only lens over the model.
pub struct View<'a> {
    store: &'a VersionStore,
    snapshot: u64,
    /// `(sequence, writes)` of commits not in the store, bound to sequences ≤ `snapshot`.
    extras: Vec<(u64, &'a WriteSet)>,
    own: Option<&'a WriteSet>,
    /// Commits to leave out (to test "the state with this commit missing", or to
    /// replace commits by another order of them).
    skip: Vec<u64>,
}

impl<'a> View<'a> {
    /// The committed state at `snapshot`.
    pub fn at(store: &'a VersionStore, snapshot: u64) -> Self {
        View {
            store,
            snapshot,
            extras: Vec::new(),
            own: None,
            skip: Vec::new(),
        }
    }

    /// Adds a commit bound to `seq` that the store does not hold yet.
    pub fn with_extra(mut self, seq: u64, writes: &'a WriteSet) -> Self {
        if seq <= self.snapshot {
            self.extras.push((seq, writes));
            self.extras.sort_by_key(|(s, _)| *s);
        }
        self
    }

    /// Adds the reader's own uncommitted writes, which shadow everything else.
    pub fn with_own(mut self, own: &'a WriteSet) -> Self {
        self.own = Some(own);
        self
    }

    /// Leaves the stored commit at `seq` out (extras are never skipped, so an order of
    /// commits can replace the stored one).
    pub fn skipping(mut self, seq: u64) -> Self {
        self.skip.push(seq);
        self
    }

    /// The value of `key`, `None` when absent.
    pub fn get(&self, key: &[u8]) -> Option<&'a Value> {
        if let Some(own) = self.own
            && let Some(value) = own.get(key)
        {
            return value.as_ref();
        }
        let stored = self.store.version_at(key, self.snapshot, &self.skip);
        self.over_stored(key, stored)
    }

    /// The value of `key` given its stored version `stored` (the caller looked it up),
    /// once the reader's own writes are known not to hold `key`.
    fn over_stored(
        &self,
        key: &[u8],
        stored: Option<(u64, Option<&'a Value>)>,
    ) -> Option<&'a Value> {
        let stored_seq = stored.map_or(0, |(seq, _)| seq);
        for (seq, writes) in self.extras.iter().rev() {
            if *seq > stored_seq
                && let Some(value) = writes.get(key)
            {
                return value.as_ref();
            }
        }
        stored.and_then(|(_, value)| value)
    }

    /// Rows with `start <= key < end`, in key order, at most `limit` of them.
    pub fn scan(&self, start: &[u8], end: Option<&[u8]>, limit: usize) -> Vec<(Key, Value)> {
        let mut rows = Vec::new();
        if limit == 0 {
            return rows;
        }
        self.visit(start, end, |key, value| {
            rows.push((key.to_vec(), value.clone()));
            rows.len() < limit
        });
        rows
    }

    /// Whether every row equals `actual`, key for key and value for value (the rows of
    /// the view and of `actual` compared in key order, without copying either).
    pub fn rows_equal(&self, actual: &BTreeMap<&[u8], &[u8]>) -> bool {
        let mut actual_rows = actual.iter();
        let mut equal = true;
        self.visit(&[], None, |key, value| {
            equal = actual_rows
                .next()
                .is_some_and(|(k, v)| *k == key && *v == value.as_slice());
            equal
        });
        equal && actual_rows.next().is_none()
    }

    /// Calls `row` with every row with `start <= key < end`, in key order, while it
    /// returns true.
    fn visit(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        mut row: impl FnMut(&'a [u8], &'a Value) -> bool,
    ) {
        let in_range = |key: &[u8]| key >= start && end.is_none_or(|end| key < end);
        let mut side: BTreeSet<&'a [u8]> = BTreeSet::new();
        let side_sets = self
            .extras
            .iter()
            .map(|(_, writes)| *writes)
            .chain(self.own);
        for writes in side_sets {
            side.extend(writes.keys().map(Vec::as_slice).filter(|key| in_range(key)));
        }
        let mut stored = self.store.entries_in(start, end).peekable();
        let mut side = side.into_iter().peekable();
        loop {
            // A key and its stored versions (none for a key only the side sets hold).
            let (key, versions): (&'a [u8], &'a [_]) = match (stored.peek(), side.peek()) {
                (None, None) => break,
                (Some(_), None) => {
                    let (key, versions) = stored.next().expect("peeked");
                    (key, versions)
                }
                (None, Some(_)) => (side.next().expect("peeked"), &[]),
                (Some((a, _)), Some(b)) => {
                    if a.as_slice() < *b {
                        let (key, versions) = stored.next().expect("peeked");
                        (key, versions)
                    } else if *b < a.as_slice() {
                        (side.next().expect("peeked"), &[])
                    } else {
                        side.next();
                        let (key, versions) = stored.next().expect("peeked");
                        (key, versions)
                    }
                }
            };
            let value = match self.own.and_then(|own| own.get(key)) {
                Some(own) => own.as_ref(),
                None => {
                    let version = version_among(versions, self.snapshot, &self.skip);
                    self.over_stored(key, version)
                }
            };
            if let Some(value) = value
                && !row(key, value)
            {
                break;
            }
        }
    }

    /// Every row.
    pub fn rows(&self) -> Vec<(Key, Value)> {
        self.scan(&[], None, usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(pairs: &[(&str, Option<&str>)]) -> WriteSet {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
            .collect()
    }

    fn row(k: &str, v: &str) -> (Key, Value) {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    #[test]
    fn own_writes_and_extras_layer_over_the_store() {
        let mut store = VersionStore::new();
        store.apply(1, &ws(&[("a", Some("1")), ("c", Some("1"))]), 0);
        let extra = ws(&[("b", Some("2")), ("c", None)]);
        let own = ws(&[("d", Some("3"))]);
        let view = View::at(&store, 2).with_extra(2, &extra).with_own(&own);
        assert_eq!(
            view.rows(),
            vec![row("a", "1"), row("b", "2"), row("d", "3")]
        );
        assert_eq!(view.scan(b"b", Some(b"d"), 10), vec![row("b", "2")]);
        assert_eq!(view.scan(b"a", None, 2), vec![row("a", "1"), row("b", "2")]);
        let older = View::at(&store, 1).with_extra(2, &extra);
        assert_eq!(older.rows(), vec![row("a", "1"), row("c", "1")]);
    }

    #[test]
    fn skipping_a_commit_removes_only_its_writes() {
        let mut store = VersionStore::new();
        store.apply(1, &ws(&[("a", Some("1"))]), 0);
        store.apply(2, &ws(&[("a", Some("2")), ("b", Some("2"))]), 0);
        let view = View::at(&store, 2).skipping(2);
        assert_eq!(view.rows(), vec![row("a", "1")]);
    }

    #[test]
    fn a_scan_returns_what_get_returns_for_every_key_in_range() {
        let mut store = VersionStore::new();
        store.apply(
            1,
            &ws(&[("a", Some("1")), ("b", Some("1")), ("e", Some("1"))]),
            0,
        );
        store.apply(
            2,
            &ws(&[("b", None), ("c", Some("2")), ("e", Some("2"))]),
            0,
        );
        store.apply(4, &ws(&[("a", Some("4")), ("f", Some("4"))]), 0);
        let extra = ws(&[("b", Some("3")), ("d", Some("3")), ("e", None)]);
        let own = ws(&[("c", None), ("g", Some("own"))]);
        let keys = ["a", "b", "c", "d", "e", "f", "g"];
        for snapshot in 0..=4 {
            for skip in [None, Some(1), Some(2)] {
                let mut view = View::at(&store, snapshot)
                    .with_extra(3, &extra)
                    .with_own(&own);
                if let Some(seq) = skip {
                    view = view.skipping(seq);
                }
                let by_get: Vec<(Key, Value)> = keys
                    .iter()
                    .filter_map(|k| {
                        view.get(k.as_bytes())
                            .map(|v| (k.as_bytes().to_vec(), v.clone()))
                    })
                    .collect();
                assert_eq!(view.rows(), by_get, "snapshot {snapshot}, skip {skip:?}");
                let middle: Vec<_> = by_get
                    .iter()
                    .filter(|(k, _)| k.as_slice() >= b"b" && k.as_slice() < b"f")
                    .take(2)
                    .cloned()
                    .collect();
                assert_eq!(view.scan(b"b", Some(b"f"), 2), middle);
                assert!(view.scan(b"a", None, 0).is_empty());
                // rows_equal agrees with comparing the rows, and fails on any change.
                let actual: BTreeMap<&[u8], &[u8]> = by_get
                    .iter()
                    .map(|(k, v)| (k.as_slice(), v.as_slice()))
                    .collect();
                assert!(view.rows_equal(&actual));
                let mut extra = actual.clone();
                extra.insert(b"zz", b"1");
                assert!(!view.rows_equal(&extra), "a row too many");
                if let Some((first, _)) = actual.iter().next() {
                    let mut missing = actual.clone();
                    missing.remove(first);
                    assert!(!view.rows_equal(&missing), "a row missing");
                    let mut changed = actual.clone();
                    changed.insert(first, b"changed");
                    assert!(!view.rows_equal(&changed), "a value changed");
                }
            }
        }
    }
}
