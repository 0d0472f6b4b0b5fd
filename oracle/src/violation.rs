//! `Violation`: what the oracle and the checkers report when a history breaks a rule.
//!
//! A violation must be readable without a debugger: its `Display` is one sentence naming
//! the step, the connection, the transaction, the operation, what was expected and what
//! was observed, followed by the detail that explains why the expectation holds.

use std::fmt;

use crate::checkers::elle::AnomalyKind;
use crate::op::{Key, Op, Value};

/// The rule a history broke. `name()` is the stable short name used in reports and in
/// failure artifacts ("stale-read", "lost-commit", ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ViolationKind {
    /// A read returned a value the key held at an older commit than the snapshot.
    StaleRead,
    /// A read returned a value the key never held at the snapshot (nor earlier or later).
    WrongValue,
    /// A read saw a commit newer than its snapshot, or a snapshot no commit could reach.
    FutureRead,
    /// A scan returned a row the model does not hold at the snapshot.
    PhantomRow,
    /// A scan left out a row the model holds at the snapshot.
    MissingRow,
    /// A scan's rows are out of order, out of range or past the limit.
    ScanMismatch,
    /// A connection's snapshot is older than one it held before.
    SnapshotBackwards,
    /// A transaction's snapshot misses a commit acknowledged before it began.
    SnapshotTooOld,
    /// A transaction's snapshot changed while it was open.
    SnapshotMoved,
    /// A read saw a commit that then failed (Adya's G1a).
    AbortedRead,
    /// A committed writer's snapshot was not the commit just before its own.
    WriterSnapshot,
    /// Commit sequences are not contiguous.
    SeqGap,
    /// Two commits were acknowledged with the same sequence.
    SeqReused,
    /// A commit's sequence contradicts what it wrote (read-only with writes, or the reverse).
    WrongCommitSeq,
    /// An acknowledged commit is missing after recovery.
    LostCommit,
    /// Recovery kept part of a transaction.
    PartialTransaction,
    /// Recovery kept later commits but lost an earlier one.
    PrefixHole,
    /// Recovered contents match no allowed state for another reason.
    RecoveryMismatch,
    /// Without a crash, a commit that returned an error became visible.
    FailedCommitVisible,
    /// `integrity_check` reported problems.
    Integrity,
    /// The engine answered an operation in a way its protocol forbids (wrong output shape,
    /// a commit with no transaction acknowledged, ...).
    Protocol,
    /// Bank: the total of all balances changed.
    BankTotal,
    /// Bank: an account is missing from an audit (or appears twice, or is unknown).
    BankAccounts,
    /// Counter: a read lies outside what committed and in-doubt increments allow.
    CounterRange,
    /// The list-append checker found an anomaly (named as Elle names it: "G1c", ...).
    ListAppend(AnomalyKind),
}

impl ViolationKind {
    /// The stable short name.
    pub fn name(self) -> &'static str {
        match self {
            ViolationKind::StaleRead => "stale-read",
            ViolationKind::WrongValue => "wrong-value",
            ViolationKind::FutureRead => "future-read",
            ViolationKind::PhantomRow => "phantom-row",
            ViolationKind::MissingRow => "missing-row",
            ViolationKind::ScanMismatch => "scan-mismatch",
            ViolationKind::SnapshotBackwards => "snapshot-backwards",
            ViolationKind::SnapshotTooOld => "snapshot-too-old",
            ViolationKind::SnapshotMoved => "snapshot-moved",
            ViolationKind::AbortedRead => "aborted-read",
            ViolationKind::WriterSnapshot => "writer-snapshot",
            ViolationKind::SeqGap => "seq-gap",
            ViolationKind::SeqReused => "seq-reused",
            ViolationKind::WrongCommitSeq => "wrong-commit-seq",
            ViolationKind::LostCommit => "lost-commit",
            ViolationKind::PartialTransaction => "partial-transaction",
            ViolationKind::PrefixHole => "prefix-hole",
            ViolationKind::RecoveryMismatch => "recovery-mismatch",
            ViolationKind::FailedCommitVisible => "failed-commit-visible",
            ViolationKind::Integrity => "integrity",
            ViolationKind::Protocol => "protocol",
            ViolationKind::BankTotal => "bank-total",
            ViolationKind::BankAccounts => "bank-accounts",
            ViolationKind::CounterRange => "counter-range",
            ViolationKind::ListAppend(anomaly) => anomaly.name(),
        }
    }

    /// Every kind but the list-append anomalies (`AnomalyKind::ALL`).
    pub const ALL: [ViolationKind; 24] = [
        ViolationKind::StaleRead,
        ViolationKind::WrongValue,
        ViolationKind::FutureRead,
        ViolationKind::PhantomRow,
        ViolationKind::MissingRow,
        ViolationKind::ScanMismatch,
        ViolationKind::SnapshotBackwards,
        ViolationKind::SnapshotTooOld,
        ViolationKind::SnapshotMoved,
        ViolationKind::AbortedRead,
        ViolationKind::WriterSnapshot,
        ViolationKind::SeqGap,
        ViolationKind::SeqReused,
        ViolationKind::WrongCommitSeq,
        ViolationKind::LostCommit,
        ViolationKind::PartialTransaction,
        ViolationKind::PrefixHole,
        ViolationKind::RecoveryMismatch,
        ViolationKind::FailedCommitVisible,
        ViolationKind::Integrity,
        ViolationKind::Protocol,
        ViolationKind::BankTotal,
        ViolationKind::BankAccounts,
        ViolationKind::CounterRange,
    ];

    /// The kind whose `name()` is `name`.
    pub fn from_name(name: &str) -> Option<ViolationKind> {
        let anomalies = AnomalyKind::ALL.map(ViolationKind::ListAppend);
        Self::ALL
            .into_iter()
            .chain(anomalies)
            .find(|kind| kind.name() == name)
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken rule, located in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    /// The simulator step at which the offending result was observed.
    pub step: u64,
    /// The connection (incarnation id) that observed it, if one did.
    pub conn: Option<u64>,
    /// The oracle's number for the transaction involved (counted from 1 in begin order).
    pub txn: Option<u64>,
    /// The operation, rendered for humans.
    pub op: Option<String>,
    pub expected: String,
    pub actual: String,
    /// Why the expectation holds, and anything else that helps a reader.
    pub detail: String,
}

impl Violation {
    /// A violation with no connection, transaction or operation attached yet.
    pub fn new(
        kind: ViolationKind,
        step: u64,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Violation {
            kind,
            step,
            conn: None,
            txn: None,
            op: None,
            expected: expected.into(),
            actual: actual.into(),
            detail: String::new(),
        }
    }

    /// Names the connection.
    pub fn conn(mut self, conn: u64) -> Self {
        self.conn = Some(conn);
        self
    }

    /// Names the transaction.
    pub fn txn(mut self, txn: u64) -> Self {
        self.txn = Some(txn);
        self
    }

    /// Names the operation.
    pub fn op(mut self, op: impl Into<String>) -> Self {
        self.op = Some(op.into());
        self
    }

    /// Adds the explanation.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at step {}", self.kind, self.step)?;
        if let Some(conn) = self.conn {
            write!(f, " on connection {conn}")?;
        }
        if let Some(txn) = self.txn {
            write!(f, " in transaction {txn}")?;
        }
        if let Some(op) = &self.op {
            write!(f, " during {op}")?;
        }
        write!(f, ": expected {}, but got {}", self.expected, self.actual)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}

/// Bytes `show_bytes` prints of a longer value before it cuts the rest and gives the length.
pub const SHOWN_BYTES: usize = 48;

/// Renders bytes for a human as quoted text: printable ASCII as itself, `"` and `\` with
/// a backslash, `\n`, `\r` and `\t` as such, every other byte as `\xNN`. A value longer
/// than `SHOWN_BYTES` shows its first `SHOWN_BYTES` bytes, then `...` and its length:
/// `"w1.list-append/00000000"`, `"\x00\xff"`, `"aaaa..."... (300 bytes)`.
pub fn show_bytes(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let shown = &bytes[..bytes.len().min(SHOWN_BYTES)];
    let mut text = String::with_capacity(shown.len() + 2);
    text.push('"');
    for &byte in shown {
        match byte {
            b'"' => text.push_str("\\\""),
            b'\\' => text.push_str("\\\\"),
            b'\n' => text.push_str("\\n"),
            b'\r' => text.push_str("\\r"),
            b'\t' => text.push_str("\\t"),
            0x20..=0x7e => text.push(char::from(byte)),
            _ => write!(text, "\\x{byte:02x}").expect("writing to a String cannot fail"),
        }
    }
    text.push('"');
    if bytes.len() > shown.len() {
        write!(text, "... ({} bytes)", bytes.len()).expect("writing to a String cannot fail");
    }
    text
}

/// Renders an optional value: the bytes, or "nothing" for an absent key.
pub fn show_value(value: Option<&[u8]>) -> String {
    match value {
        Some(bytes) => show_bytes(bytes),
        None => "nothing".to_string(),
    }
}

/// Renders an operation for a human: `get "k"`, `put "k" = "v"`, `scan ["a", "z") limit 5`.
pub fn show_op(op: &Op) -> String {
    match op {
        Op::Begin(mode) => format!("begin {}", format!("{mode:?}").to_lowercase()),
        Op::Get(key) => format!("get {}", show_bytes(key)),
        Op::Put(key, value) => format!("put {} = {}", show_bytes(key), show_bytes(value)),
        Op::Delete(key) => format!("delete {}", show_bytes(key)),
        Op::Scan { start, end, limit } => {
            let end = end.as_deref().map_or_else(|| "end".to_string(), show_bytes);
            let start = show_bytes(start);
            if *limit == usize::MAX {
                format!("scan [{start}, {end})")
            } else {
                format!("scan [{start}, {end}) limit {limit}")
            }
        }
        Op::Commit => "commit".to_string(),
        Op::Rollback => "rollback".to_string(),
        Op::Checkpoint(mode) => format!("checkpoint {}", format!("{mode:?}").to_lowercase()),
        Op::IntegrityCheck => "integrity check".to_string(),
    }
}

/// Renders an op's result for a human: `"v"`, `nothing`, rows, `committed 7`, `busy`, ...
pub fn show_result(result: &crate::op::OpResult) -> String {
    use crate::op::{OpError, OpOutput};
    match result {
        Ok(OpOutput::Done) => "done".to_string(),
        Ok(OpOutput::Value(value)) => show_value(value.as_deref()),
        Ok(OpOutput::Rows(rows)) => show_rows(rows),
        Ok(OpOutput::Committed { seq }) => format!("committed {seq}"),
        Ok(OpOutput::Checkpointed {
            backfilled_frames,
            wal_reset,
        }) => format!(
            "checkpointed {backfilled_frames} frames{}",
            if *wal_reset { ", WAL reset" } else { "" }
        ),
        Ok(OpOutput::Integrity(problems)) if problems.is_empty() => "integrity ok".to_string(),
        Ok(OpOutput::Integrity(problems)) => format!("integrity problems: {}", problems.join("; ")),
        Err(OpError::Busy) => "error busy".to_string(),
        Err(OpError::BusySnapshot) => "error busy-snapshot".to_string(),
        Err(OpError::Poisoned) => "error poisoned".to_string(),
        Err(OpError::Io(why)) => format!("error io ({why})"),
        Err(OpError::Corrupt(why)) => format!("error corrupt ({why})"),
        Err(OpError::Refused(why)) => format!("error refused ({why})"),
    }
}

/// Renders rows for a human, eliding the middle of long lists.
pub fn show_rows(rows: &[(Key, Value)]) -> String {
    const SHOWN: usize = 6;
    let render = |(k, v): &(Key, Value)| format!("{}={}", show_bytes(k), show_bytes(v));
    if rows.len() <= SHOWN {
        let parts: Vec<String> = rows.iter().map(render).collect();
        return format!("[{}]", parts.join(", "));
    }
    let head: Vec<String> = rows[..SHOWN / 2].iter().map(render).collect();
    let tail: Vec<String> = rows[rows.len() - SHOWN / 2..].iter().map(render).collect();
    format!(
        "[{}, ... {} more ..., {}] ({} rows)",
        head.join(", "),
        rows.len() - SHOWN,
        tail.join(", "),
        rows.len()
    )
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn every_name_reads_back_and_names_differ() {
        let mut names = std::collections::BTreeSet::new();
        for kind in ViolationKind::ALL
            .into_iter()
            .chain(AnomalyKind::ALL.map(ViolationKind::ListAppend))
        {
            assert_eq!(ViolationKind::from_name(kind.name()), Some(kind));
            assert!(names.insert(kind.name()), "{kind} named twice");
        }
        assert_eq!(ViolationKind::from_name("no-such-rule"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_as_text() {
        use crate::op::{OpError, OpOutput};
        let value = Ok(OpOutput::Value(Some(b"w1.list-append/00000000".to_vec())));
        assert_eq!(show_result(&value), "\"w1.list-append/00000000\"");
        assert_eq!(
            show_result(&Ok(OpOutput::Value(Some(vec![0, 255])))),
            "\"\\x00\\xff\""
        );
        assert_eq!(show_result(&Ok(OpOutput::Value(None))), "nothing");
        assert_eq!(
            show_result(&Ok(OpOutput::Committed { seq: 7 })),
            "committed 7"
        );
        assert_eq!(
            show_result(&Err(OpError::BusySnapshot)),
            "error busy-snapshot"
        );
        let rows = Ok(OpOutput::Rows(vec![(b"a".to_vec(), b"1".to_vec())]));
        assert_eq!(show_result(&rows), "[\"a\"=\"1\"]");
    }

    #[test]
    fn display_reads_as_a_sentence() {
        let v = Violation::new(ViolationKind::StaleRead, 42, "\"v2\"", "\"v1\"")
            .conn(3)
            .txn(7)
            .op("get \"k\"")
            .detail("commit 5 wrote \"v2\" before the snapshot 6");
        assert_eq!(
            v.to_string(),
            "stale-read at step 42 on connection 3 in transaction 7 during get \"k\": \
             expected \"v2\", but got \"v1\" (commit 5 wrote \"v2\" before the snapshot 6)"
        );
    }

    #[test]
    fn bytes_render_as_text_with_escapes() {
        assert_eq!(show_bytes(b"key-1"), "\"key-1\"");
        assert_eq!(show_bytes(&[0, 255]), r#""\x00\xff""#);
        assert_eq!(show_bytes(b"a\"b\\c\nd\te"), r#""a\"b\\c\nd\te""#);
        assert_eq!(show_bytes(b""), r#""""#);
        assert_eq!(show_value(None), "nothing");
    }

    #[test]
    fn long_values_are_cut_with_their_length() {
        let long = vec![b'a'; 300];
        let shown = show_bytes(&long);
        assert_eq!(
            shown,
            format!("\"{}\"... (300 bytes)", "a".repeat(SHOWN_BYTES))
        );
        let exact = vec![b'b'; SHOWN_BYTES];
        assert_eq!(
            show_bytes(&exact),
            format!("\"{}\"", "b".repeat(SHOWN_BYTES))
        );
        let mut binary = vec![0xffu8; SHOWN_BYTES + 1];
        binary[0] = b'k';
        let shown = show_bytes(&binary);
        assert!(shown.starts_with("\"k\\xff\\xff"), "{shown}");
        assert!(shown.ends_with("\"... (49 bytes)"), "{shown}");
    }

    #[test]
    fn ops_read_as_text() {
        let op = Op::Put(b"w1.list-append/00000000".to_vec(), vec![0x81, 0x01]);
        assert_eq!(
            show_op(&op),
            r#"put "w1.list-append/00000000" = "\x81\x01""#
        );
        let scan = Op::Scan {
            start: b"a".to_vec(),
            end: None,
            limit: usize::MAX,
        };
        assert_eq!(show_op(&scan), r#"scan ["a", end)"#);
        let scan = Op::Scan {
            start: b"a".to_vec(),
            end: Some(b"b".to_vec()),
            limit: 5,
        };
        assert_eq!(show_op(&scan), r#"scan ["a", "b") limit 5"#);
    }
}
