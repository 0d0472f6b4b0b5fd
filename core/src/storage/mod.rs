//! The storage engine: pager (shared page cache, WAL index, freelist), write-ahead log
//! with recovery and checkpoints, and the B-tree over one ordered keyspace.

pub mod btree;
pub mod crash_io;
pub mod format;
mod page_access;
pub mod pager;
pub mod txn;
pub mod wal;

pub use format::DbHeader;
pub use page_access::{CellIndex, PAGE_RESERVED_BYTES, PageAccess, PageNo, PageRef};
pub use pager::freelist::FreelistScan;
pub use pager::{Checkpoint, CheckpointMode, CheckpointOutcome, Opener, Pager, Snapshot};
pub use txn::{ReadTxn, WriteTxn};
