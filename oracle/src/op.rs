//! The vocabulary shared by workloads, the simulator and the oracle: the operations a
//! connection can run and what they return. It mirrors the engine's `Op`/`Output`
//! without depending on the engine, so the oracle stays an independent judge.

use serde::{Deserialize, Serialize};

pub type Key = Vec<u8>;
pub type Value = Vec<u8>;

/// How a transaction begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxMode {
    /// Takes nothing until the first read (snapshot) or write (write lock).
    Deferred,
    /// Takes the snapshot and the write lock at once.
    Immediate,
}

/// Checkpoint modes (SQLite's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointMode {
    Passive,
    Full,
    Restart,
    Truncate,
}

/// One operation a connection executes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Begin(TxMode),
    Get(Key),
    Put(Key, Value),
    Delete(Key),
    /// Rows with `start <= key < end` (no upper bound when `end` is None), at most `limit`.
    Scan {
        start: Key,
        end: Option<Key>,
        limit: usize,
    },
    Commit,
    Rollback,
    Checkpoint(CheckpointMode),
    IntegrityCheck,
}

impl Op {
    /// Stable short name ("get", "commit", ...), as in histories and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Begin(_) => "begin",
            Op::Get(_) => "get",
            Op::Put(..) => "put",
            Op::Delete(_) => "delete",
            Op::Scan { .. } => "scan",
            Op::Commit => "commit",
            Op::Rollback => "rollback",
            Op::Checkpoint(_) => "checkpoint",
            Op::IntegrityCheck => "integrity-check",
        }
    }
}

/// What a successful operation returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpOutput {
    Done,
    Value(Option<Value>),
    Rows(Vec<(Key, Value)>),
    /// A commit was acknowledged with this commit sequence (0 for a read-only commit).
    Committed {
        seq: u64,
    },
    Checkpointed {
        backfilled_frames: u64,
        wal_reset: bool,
    },
    /// Problems found by an integrity check; empty means clean.
    Integrity(Vec<String>),
}

/// Why an operation failed, as far as the oracle needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpError {
    /// Write lock held elsewhere; the transaction is intact.
    Busy,
    /// Snapshot stale for writing; the transaction was rolled back.
    BusySnapshot,
    /// I/O failed; the transaction was rolled back (a failed commit is in doubt).
    Io(String),
    Corrupt(String),
    Poisoned,
    /// Misuse or size limits: the operation was refused without effect.
    Refused(String),
}

pub type OpResult = Result<OpOutput, OpError>;
