//! Workload-level (logical) records that checkers above the key-value layer consume.
//! Workloads produce them; the simulator attaches the transaction's outcome.

use serde::{Deserialize, Serialize};

/// How a transaction ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOutcome {
    /// Commit acknowledged.
    Committed,
    /// Definitely not applied (rolled back, or failed before commit).
    Aborted,
    /// Commit attempted and failed (or a crash cut it off): may or may not have applied.
    InDoubt,
}

/// One Elle list-append micro-operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mop {
    /// Append `element` to the list at `key`.
    Append { key: u64, element: u64 },
    /// Read the list at `key`; `None` until the read completed (or for a missing key read
    /// as the empty list, use `Some(vec![])`).
    Read { key: u64, list: Option<Vec<u64>> },
}

/// One list-append transaction as the client observed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElleTxn {
    /// The connection (Jepsen's process) that ran it.
    pub process: u64,
    pub outcome: TxnOutcome,
    pub mops: Vec<Mop>,
}
