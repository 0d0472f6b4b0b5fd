//! Checking one read (`Get` or `Scan`) against the model, and naming what went wrong:
//! a stale value, a value from the future, a value from a failed commit, a phantom or a
//! missing row.

use std::borrow::Cow;

use crate::model::versions::{VersionStore, WriteSet};
use crate::model::view::View;
use crate::op::{Key, Op, Value};
use crate::violation::{Violation, ViolationKind, show_bytes, show_op, show_rows, show_value};

/// How many snapshots below the newest possible one an unknown snapshot may be.
const UNKNOWN_SNAPSHOT_CANDIDATES: u64 = 16;

/// What a read returned. Borrowed from the completion while the read is judged at once;
/// owned once the oracle keeps it (`ReadRecord::into_owned`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed<'a> {
    Value(Cow<'a, Option<Value>>),
    Rows(Cow<'a, [(Key, Value)]>),
}

/// A read, judged at once (borrowing the op, the reader's writes and the result) or kept
/// by the oracle until it can be judged (`ReadRecord<'static>`, owning them).
#[derive(Debug, Clone)]
pub struct ReadRecord<'a> {
    pub step: u64,
    pub conn: u64,
    pub txn: u64,
    pub op: Cow<'a, Op>,
    pub snapshot: u64,
    /// Set when the engine claimed no snapshot and none could be chosen at the time:
    /// any snapshot in `lowest..=snapshot` may explain the read.
    pub lowest: Option<u64>,
    /// The reader's own uncommitted writes at the time of the read.
    pub own: Cow<'a, WriteSet>,
    pub observed: Observed<'a>,
}

impl ReadRecord<'_> {
    /// The same read, owning what it borrowed, to be kept past the completion.
    pub fn into_owned(self) -> ReadRecord<'static> {
        ReadRecord {
            step: self.step,
            conn: self.conn,
            txn: self.txn,
            op: Cow::Owned(self.op.into_owned()),
            snapshot: self.snapshot,
            lowest: self.lowest,
            own: Cow::Owned(self.own.into_owned()),
            observed: match self.observed {
                Observed::Value(value) => Observed::Value(Cow::Owned(value.into_owned())),
                Observed::Rows(rows) => Observed::Rows(Cow::Owned(rows.into_owned())),
            },
        }
    }

    /// A violation of `kind` located at this read.
    pub fn violation(
        &self,
        kind: ViolationKind,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Violation {
        Violation::new(kind, self.step, expected, actual)
            .conn(self.conn)
            .txn(self.txn)
            .op(show_op(&self.op))
    }
}

/// Judges `read` at its snapshot, or — when its snapshot is unknown — at the newest of
/// the recent snapshots in its range that explains it. `view_at` builds the model at a
/// snapshot (with the read's own writes).
pub fn check_read_at_some<'a>(
    view_at: impl Fn(u64) -> View<'a>,
    store: &VersionStore,
    read: &ReadRecord,
    failed: &[&WriteSet],
) -> Result<(), Violation> {
    let verdict = check_read(&view_at(read.snapshot), store, read, failed);
    let Some(lowest) = read.lowest else {
        return verdict;
    };
    let oldest = lowest.max(read.snapshot.saturating_sub(UNKNOWN_SNAPSHOT_CANDIDATES));
    let explained = (oldest..read.snapshot).rev().any(|snapshot| {
        let candidate = ReadRecord {
            snapshot,
            lowest: None,
            ..read.clone()
        };
        check_read(&view_at(snapshot), store, &candidate, failed).is_ok()
    });
    if explained { Ok(()) } else { verdict }
}

/// Judges `read` against `view` (the model at the read's snapshot plus its own writes).
/// `failed` holds the writes of commits that returned an error since the last
/// acknowledged commit, so a value they wrote can be named.
pub fn check_read(
    view: &View<'_>,
    store: &VersionStore,
    read: &ReadRecord,
    failed: &[&WriteSet],
) -> Result<(), Violation> {
    match (&*read.op, &read.observed) {
        (Op::Get(key), Observed::Value(actual)) => {
            let actual: &Option<Value> = actual;
            let expected = view.get(key);
            if expected == actual.as_ref() {
                return Ok(());
            }
            Err(value_mismatch(
                store,
                read,
                key,
                expected,
                actual.as_ref(),
                failed,
            ))
        }
        (Op::Scan { start, end, limit }, Observed::Rows(actual)) => check_scan(
            view,
            store,
            read,
            (start, end.as_deref(), *limit),
            actual,
            failed,
        ),
        (op, observed) => {
            panic!("a read record pairs a read op with its result: {op:?} {observed:?}")
        }
    }
}

fn check_scan(
    view: &View<'_>,
    store: &VersionStore,
    read: &ReadRecord,
    (start, end, limit): (&[u8], Option<&[u8]>, usize),
    actual: &[(Key, Value)],
    failed: &[&WriteSet],
) -> Result<(), Violation> {
    let expected = view.scan(start, end, limit);
    if expected == actual {
        return Ok(());
    }
    let ordered = actual.windows(2).all(|pair| pair[0].0 < pair[1].0);
    let in_range = actual
        .iter()
        .all(|(key, _)| key.as_slice() >= start && end.is_none_or(|end| key.as_slice() < end));
    if !ordered || !in_range || actual.len() > limit {
        return Err(read
            .violation(
                ViolationKind::ScanMismatch,
                show_rows(&expected),
                show_rows(actual),
            )
            .detail(format!(
                "rows must be strictly ascending, inside the range and at most {limit}"
            )));
    }
    let first_difference = (0..expected.len().max(actual.len()))
        .find(|i| expected.get(*i) != actual.get(*i))
        .expect("the lists differ");
    let detail_of = |what: String| {
        format!(
            "{what}; expected rows {}, got {} at snapshot {}",
            show_rows(&expected),
            show_rows(actual),
            read.snapshot
        )
    };
    match (expected.get(first_difference), actual.get(first_difference)) {
        (Some((ek, ev)), Some((ak, av))) if ek == ak => {
            let v = value_mismatch(store, read, ek, Some(ev), Some(av), failed);
            let detail = detail_of(v.detail.clone());
            Err(v.detail(detail))
        }
        (Some((ek, ev)), Some((ak, _))) if ak > ek => Err(missing(read, ek, ev, detail_of)),
        (_, Some((ak, av)))
            if failed
                .iter()
                .any(|writes| writes.get(ak) == Some(&Some(av.clone()))) =>
        {
            Err(read
                .violation(
                    ViolationKind::FailedCommitVisible,
                    format!("no row {}", show_bytes(ak)),
                    format!("row {}={}", show_bytes(ak), show_bytes(av)),
                )
                .detail(detail_of(
                    "only a commit that failed wrote this row".to_string(),
                )))
        }
        (_, Some((ak, av))) => Err(read
            .violation(
                ViolationKind::PhantomRow,
                format!("no row {}", show_bytes(ak)),
                format!("row {}={}", show_bytes(ak), show_bytes(av)),
            )
            .detail(detail_of(
                "the model holds no such row at the snapshot".to_string(),
            ))),
        (Some((ek, ev)), None) => Err(missing(read, ek, ev, detail_of)),
        (None, None) => unreachable!("a difference exists at this index"),
    }
}

fn missing(
    read: &ReadRecord,
    key: &[u8],
    value: &[u8],
    detail_of: impl Fn(String) -> String,
) -> Violation {
    read.violation(
        ViolationKind::MissingRow,
        format!("row {}={}", show_bytes(key), show_bytes(value)),
        format!("no row {}", show_bytes(key)),
    )
    .detail(detail_of(
        "the model holds this row at the snapshot".to_string(),
    ))
}

/// Names a wrong value of `key`: stale, from the future, from a failed commit, or wrong.
fn value_mismatch(
    store: &VersionStore,
    read: &ReadRecord,
    key: &[u8],
    expected: Option<&Value>,
    actual: Option<&Value>,
    failed: &[&WriteSet],
) -> Violation {
    let expected_text = show_value(expected.map(Vec::as_slice));
    let actual_text = show_value(actual.map(Vec::as_slice));
    let key_text = show_value(Some(key));
    if failed
        .iter()
        .any(|writes| writes.get(key).map(Option::as_ref) == Some(actual))
    {
        return read
            .violation(
                ViolationKind::FailedCommitVisible,
                expected_text,
                actual_text,
            )
            .detail(format!(
                "key {key_text}: the value was written only by a commit that failed"
            ));
    }
    let current = store
        .version_at(key, read.snapshot, &[])
        .map_or(0, |(seq, _)| seq);
    let history = store.history(key);
    let absent_at_start = history.first().is_none_or(|(seq, _)| *seq > 0);
    let mut writers = history
        .iter()
        .filter(|(_, value)| value.as_ref() == actual)
        .map(|(seq, _)| *seq)
        .collect::<Vec<_>>();
    if actual.is_none() && absent_at_start {
        writers.insert(0, 0);
    }
    let read_text = format!("key {key_text} read at snapshot {}", read.snapshot);
    if let Some(seq) = writers.iter().find(|seq| **seq > read.snapshot) {
        return read
            .violation(ViolationKind::FutureRead, expected_text, actual_text)
            .detail(format!(
                "{read_text}: the value was written by later commit {seq}"
            ));
    }
    if let Some(seq) = writers.iter().rev().find(|seq| **seq < current) {
        return read
            .violation(ViolationKind::StaleRead, expected_text, actual_text)
            .detail(format!(
                "{read_text}: the value is from commit {seq}, overwritten by commit {current}"
            ));
    }
    read.violation(ViolationKind::WrongValue, expected_text, actual_text)
        .detail(format!("{read_text}: no commit wrote this value"))
}
