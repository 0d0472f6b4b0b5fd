//! The sequential oracle: an online model of what a serial, durable key-value store would
//! have answered, fed by the simulator at every operation, so the first wrong result
//! stops the run at the step where it was observed.
//!
//! - `versions`: the versioned store (per key, values by commit sequence), compacted.
//! - `view`: the store as one reader sees it (snapshot, bound in-flight commits, own writes).
//! - `reads`: judging one read and naming what went wrong.
//! - `oracle`: `SeqOracle`, connection and transaction bookkeeping, crash entry.
//! - `snapshots`: snapshot claims and judging reads (now or once their commits are known).
//! - `commits`: acknowledged and failed commits, sequences, compaction floor.
//! - `recovery`: crash rules — which recovered states are allowed.
//! - `fill`: which in-doubt commits filled which sequences after a crash.

mod commits;
mod fill;
mod oracle;
mod reads;
mod recovery;
mod snapshots;
mod versions;
mod view;

pub use oracle::SeqOracle;

/// How durable commits are (the engine's sync mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every acknowledged commit survives a crash.
    Full,
    /// A crash may lose a suffix of the commit order, never a hole and never part of one.
    Normal,
}

/// White-box facts the engine reports with each completion. The oracle verifies them and
/// never trusts them. They are read only for operations that succeeded (and never for
/// `Rollback`), so an engine may leave stale claims behind a failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Claims {
    /// The snapshot (a commit sequence) of the transaction the operation ran in, as it was
    /// during the operation; `None` when the transaction holds no snapshot (yet). For a
    /// `Commit`, the snapshot the committed transaction held. For an operation outside an
    /// explicit transaction, the snapshot of its implicit transaction.
    pub snapshot_seq: Option<u64>,
    /// The sequence a commit was given: required for `Put`/`Delete` outside a transaction
    /// (which commit by themselves; `None` or 0 means read-only), optional for `Commit`
    /// (which returns it in `OpOutput::Committed`; when given, the two must agree).
    pub commit_seq: Option<u64>,
}
