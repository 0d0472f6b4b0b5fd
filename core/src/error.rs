//! The engine's operating errors. Bugs are assertions, never variants here.

use crate::io::CompletionError;

/// Every error the engine returns to its callers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A backend call failed before any completion existed (open, stat, remove).
    #[error("I/O error ({kind:?}): {context}")]
    Io {
        kind: std::io::ErrorKind,
        context: String,
    },
    /// A submitted operation finished with an error (including short reads and writes).
    #[error("I/O failed: {0}")]
    Completion(#[from] CompletionError),
    /// Another connection holds the write lock. The transaction is left as it was.
    #[error("database is busy: another connection holds the write lock")]
    Busy,
    /// A commit happened after this transaction's snapshot, so it may not write.
    #[error("snapshot is stale: another commit happened after this transaction's snapshot")]
    BusySnapshot,
    /// Stored data failed a check (checksum, magic, structure).
    #[error("database is corrupt: {0}")]
    Corrupt(String),
    /// A WAL fsync failed; nothing more can be trusted until the database is reopened.
    #[error("database is poisoned by a failed WAL fsync; reopen it to recover")]
    Poisoned,
    /// Commit, rollback or a read-your-writes op with no transaction open.
    #[error("no transaction is active")]
    NoTransaction,
    /// Begin or checkpoint inside a transaction.
    #[error("a transaction is already active on this connection")]
    TransactionActive,
    #[error("key too large: {len} bytes, at most {max}")]
    KeyTooLarge { len: usize, max: usize },
    #[error("value too large: {len} bytes, at most {max}")]
    ValueTooLarge { len: usize, max: usize },
    /// `DbOptions` that cannot work (page size not a power of two, zero cache, ...).
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// An operation that makes no sense in the current state.
    #[error("misuse: {0}")]
    Misuse(String),
    /// The engine could not continue for a reason that is its own fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Short stable name for statistics and reports ("busy", "io", ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Error::Io { .. } | Error::Completion(_) => "io",
            Error::Busy => "busy",
            Error::BusySnapshot => "busy-snapshot",
            Error::Corrupt(_) => "corrupt",
            Error::Poisoned => "poisoned",
            Error::NoTransaction | Error::TransactionActive | Error::Misuse(_) => "misuse",
            Error::KeyTooLarge { .. } | Error::ValueTooLarge { .. } => "too-large",
            Error::InvalidOptions(_) => "invalid-options",
            Error::Internal(_) => "internal",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
