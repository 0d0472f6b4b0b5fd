//! What a connection can be asked to do (`Op`) and what it answers (`Output`).

pub use crate::storage::pager::{CheckpointMode, CheckpointOutcome};

/// How a transaction begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    /// Takes nothing until the first read (snapshot) or first write (write lock).
    Deferred,
    /// Takes the snapshot and the write lock at once (`Busy` if another writer holds it).
    Immediate,
}

/// One operation for `Connection::execute`. Re-enter with the same op until `Done`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Begin(TxMode),
    Get(Vec<u8>),
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// Rows with `start <= key < end` (no upper bound when `end` is None), at most `limit`.
    Scan {
        start: Vec<u8>,
        end: Option<Vec<u8>>,
        limit: usize,
    },
    Commit,
    Rollback,
    Checkpoint(CheckpointMode),
    IntegrityCheck,
}

impl Op {
    /// Short stable name for reports.
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

    /// Whether the op changes the keyspace.
    pub fn is_write(&self) -> bool {
        matches!(self, Op::Put(..) | Op::Delete(_))
    }
}

/// What a finished operation returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Begin, Put, Delete, Rollback.
    Done,
    /// Get: the value, or None when the key is absent.
    Value(Option<Vec<u8>>),
    /// Scan: rows in key order.
    Rows(Vec<(Vec<u8>, Vec<u8>)>),
    /// Commit acknowledged. `seq` is the new commit sequence, or 0 for a transaction that
    /// wrote nothing (it commits without I/O).
    Committed {
        seq: u64,
    },
    Checkpointed(CheckpointOutcome),
    /// Problems found; empty means the database is consistent.
    Integrity(Vec<String>),
}

/// What the engine claims about the last finished op: white-box facts the oracle checks
/// against what it observed, never trusts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpClaims {
    /// Snapshot the op's transaction read from (None if it took none).
    pub snapshot_seq: Option<u64>,
    /// Commit sequence the op published (an explicit Commit, or an implicit write).
    pub commit_seq: Option<u64>,
}
