//! The async I/O model: no async/await. Every function
//! that may need I/O returns `Result<IOResult<T>>` and is re-entered until `Done`.
//!
//! Re-entrancy rules, which every state machine in this crate keeps:
//! - Progress lives in a state enum, with the data that must survive a yield inside the
//!   variant; one state machine per concern.
//! - Nothing observable changes before a possible yield: mutate on the transition, after
//!   the awaited completion has been seen to finish (a counter bumped, a vector pushed or a
//!   map entry inserted before `return_if_io!` happens again at every re-entry; see
//!   core/tests/io_reentrancy.rs for the bug and its fix).
//! - A `CompletionGroup` fans many completions into one, finishes with its last member
//!   and reports the first error in completion order; link every member before looking
//!   at any.
//!
//! Backends (`MemoryIO`, `FileIO`, and the simulator's `SimIO`) obey one contract:
//! submitting an operation never runs its callback; callbacks run only inside `IO::step()`.

mod block_on;
mod completion;
mod file_io;
mod group;
mod machine;
mod memory;
mod shuffle;

pub use block_on::block_on;
pub use completion::{Completion, CompletionError, CompletionResult};
pub use file_io::FileIO;
pub use group::CompletionGroup;
pub(crate) use machine::{FlowResult, MachineState, finish, next_state, run_machine};
pub use memory::MemoryIO;
pub use shuffle::ShuffleIO;

use std::sync::Arc;

use crate::Result;

/// What a state machine hands back when it cannot finish yet.
#[derive(Debug, Clone)]
pub enum IOCompletions {
    /// Re-enter once this completion has finished.
    Single(Completion),
}

impl IOCompletions {
    /// Whether everything waited on has finished.
    pub fn finished(&self) -> bool {
        match self {
            IOCompletions::Single(c) => c.finished(),
        }
    }

    /// The completion waited on.
    pub fn completion(&self) -> &Completion {
        match self {
            IOCompletions::Single(c) => c,
        }
    }
}

/// Either the finished value or the I/O to wait for before calling again.
#[must_use]
#[derive(Debug)]
pub enum IOResult<T> {
    Done(T),
    IO(IOCompletions),
}

impl<T> IOResult<T> {
    pub fn is_done(&self) -> bool {
        matches!(self, IOResult::Done(_))
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> IOResult<U> {
        match self {
            IOResult::Done(t) => IOResult::Done(f(t)),
            IOResult::IO(io) => IOResult::IO(io),
        }
    }
}

/// Unwraps a `Result<IOResult<T>>`: yields the value, or returns the pending I/O (and
/// errors) to the caller.
#[macro_export]
macro_rules! return_if_io {
    ($expr:expr) => {
        match $expr? {
            $crate::IOResult::Done(value) => value,
            $crate::IOResult::IO(io) => return Ok($crate::IOResult::IO(io)),
        }
    };
}

/// Returns `Ok(IOResult::IO(Single(completion)))` from the enclosing function.
#[macro_export]
macro_rules! io_yield_one {
    ($completion:expr) => {
        return Ok($crate::IOResult::IO($crate::IOCompletions::Single(
            $completion,
        )))
    };
}

/// One open file. Positions and lengths are in bytes. Each call returns the completion it
/// was given, which finishes later, inside `IO::step()`.
pub trait File: Send + Sync {
    /// Reads up to `len` bytes at `pos`. The completion's result is the number of bytes
    /// read; fewer than `len` is a short read (at end of file, or an injected fault) and the
    /// caller must treat it as an error. The bytes are in `Completion::take_read_buffer`.
    fn pread(&self, pos: u64, len: usize, c: Completion) -> Result<Completion>;
    /// Writes `bytes` at `pos`. The result is the number of bytes written; fewer is a
    /// short write, an error for the caller.
    fn pwrite(&self, pos: u64, bytes: &[u8], c: Completion) -> Result<Completion>;
    /// Makes every completed write durable.
    fn sync(&self, c: Completion) -> Result<Completion>;
    /// Sets the file's length.
    fn truncate(&self, len: u64, c: Completion) -> Result<Completion>;
    /// The current length in bytes, counting writes that have completed.
    fn size(&self) -> Result<u64>;
}

/// The event loop: opens files and makes pending operations progress.
pub trait IO: Send + Sync {
    /// Opens `path`, creating an empty file if it does not exist.
    fn open_file(&self, path: &str) -> Result<Arc<dyn File>>;
    /// Removes `path` if it exists.
    fn remove_file(&self, path: &str) -> Result<()>;
    /// Whether `path` exists.
    fn file_exists(&self, path: &str) -> Result<bool>;
    /// Completes pending operations (all of them, or those the backend chooses).
    fn step(&self) -> Result<()>;
    /// Number of operations submitted and not yet completed.
    fn pending(&self) -> usize;
}
