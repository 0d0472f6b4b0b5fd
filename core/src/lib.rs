//! braid-core: the storage engine under test. A real embedded key-value store (pager with
//! a shared page cache, write-ahead log, B-tree) written in the async I/O model of
//! io/mod.rs: no async/await, every operation a re-entrant state machine.

pub mod canary;
pub mod db;
pub mod error;
pub mod io;
pub mod options;
pub mod storage;
pub mod yields;

pub use canary::Canary;
pub use db::{
    CheckpointMode, CheckpointOutcome, Connection, Database, Op, OpClaims, Opener, Output, TxMode,
};
pub use error::{Corruption, Error, HeaderDefect, PageDefect, PageSource, Result};
pub use io::{
    Completion, CompletionError, CompletionGroup, CompletionResult, File, FileIO, IO,
    IOCompletions, IOResult, MemoryIO, ShuffleIO, block_on,
};
pub use options::{DbOptions, SyncMode};
pub use yields::{YieldInjector, YieldPoint};
