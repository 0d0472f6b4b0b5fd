//! The storage engine: pager (shared page cache, WAL index, freelist), write-ahead log
//! with recovery and checkpoints, and the B-tree over one ordered keyspace.

mod page_access;

pub use page_access::{PAGE_RESERVED_BYTES, PageAccess, PageNo, PageRef};
