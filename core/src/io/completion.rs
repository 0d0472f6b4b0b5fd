//! `Completion`: a cheap shared handle to one I/O operation, or to a group of them.
//!
//! Rules that hold for every completion:
//! - It finishes exactly once, through `complete(n)` or `error(e)`; later calls are ignored.
//! - Its callback runs exactly once, right after it finishes, outside any internal lock.
//! - Backends never finish a completion inside the call that submitted it: callbacks run
//!   only from `IO::step()`, so a caller may hold its own locks while submitting.
//! - A finished completion tells its parent groups, which count it down (see `group.rs`).

use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Why an operation did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CompletionError {
    /// The operation was cancelled before it finished (`abort`, `CompletionGroup::cancel`).
    #[error("operation aborted")]
    Aborted,
    /// The operating system (or the simulator acting as one) reported an error.
    #[error("I/O error: {0}")]
    Io(std::io::ErrorKind),
    /// A read or write moved fewer bytes than asked for.
    #[error("short I/O: {actual} of {expected} bytes")]
    ShortIo { expected: usize, actual: usize },
}

/// The outcome delivered to a callback: bytes moved (or 0), or the error.
pub type CompletionResult = Result<i32, CompletionError>;

type Callback = Box<dyn FnOnce(CompletionResult) + Send>;

/// Locks a mutex, ignoring poisoning: a panic elsewhere must not hide the state from
/// the code that reports it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A transfer that moved `actual` bytes where `expected` were asked for: anything but
/// exactly `expected` is a short transfer, an error.
fn check_moved(expected: usize, actual: i32) -> Result<(), CompletionError> {
    let actual = usize::try_from(actual).unwrap_or(0);
    if actual != expected {
        return Err(CompletionError::ShortIo { expected, actual });
    }
    Ok(())
}

pub(crate) struct CompletionInner {
    state: Mutex<CompletionState>,
    /// Present only on a group's completion.
    pub(crate) group: Option<Mutex<GroupState>>,
}

struct CompletionState {
    result: Option<CompletionResult>,
    callback: Option<Callback>,
    /// Groups waiting on this completion.
    parents: Vec<Weak<CompletionInner>>,
    /// For reads: the bytes the backend delivered.
    read_buffer: Option<Vec<u8>>,
    /// Bytes a read asked for (0 for other operations).
    read_len: usize,
}

/// What a group's completion carries besides its own result (group.rs builds and counts
/// it down).
pub(crate) struct GroupState {
    pub(crate) label: Option<&'static str>,
    pub(super) members: Vec<Completion>,
    pub(super) outstanding: usize,
    pub(super) first_error: Option<CompletionError>,
    pub(crate) built: bool,
    /// Canary: finish the group as soon as its first member finishes.
    pub(super) complete_on_first: bool,
}

impl GroupState {
    pub(crate) fn unfinished_members(&self) -> Vec<Completion> {
        self.members
            .iter()
            .filter(|m| !m.finished())
            .cloned()
            .collect()
    }
}

/// A handle to one operation. Clones share the same operation.
#[derive(Clone)]
pub struct Completion {
    pub(crate) inner: Arc<CompletionInner>,
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("Completion")
            .field("result", &state.result)
            .field("group", &self.inner.group.is_some())
            .finish()
    }
}

impl Completion {
    /// A pending completion whose callback runs once with the outcome.
    pub fn new(callback: impl Fn(CompletionResult) + Send + Sync + 'static) -> Self {
        Self::with_parts(Some(Box::new(callback)), 0, None)
    }

    /// A pending completion with no callback.
    pub fn new_noop() -> Self {
        Self::with_parts(None, 0, None)
    }

    /// A pending read of `len` bytes; the backend fills the buffer before completing it.
    pub fn new_read(
        len: usize,
        callback: impl Fn(CompletionResult) + Send + Sync + 'static,
    ) -> Self {
        Self::with_parts(Some(Box::new(callback)), len, None)
    }

    /// An explicit yield: already finished and succeeded. Returning it only hands the
    /// scheduler a decision point.
    pub fn new_yield() -> Self {
        let c = Self::with_parts(None, 0, None);
        c.complete(0);
        c
    }

    pub(crate) fn with_parts(
        callback: Option<Callback>,
        read_len: usize,
        group: Option<GroupState>,
    ) -> Self {
        Completion {
            inner: Arc::new(CompletionInner {
                state: Mutex::new(CompletionState {
                    result: None,
                    callback,
                    parents: Vec::new(),
                    read_buffer: None,
                    read_len,
                }),
                group: group.map(Mutex::new),
            }),
        }
    }

    /// Finishes successfully with `n` (bytes moved, or 0). Ignored if already finished.
    pub fn complete(&self, n: i32) {
        assert!(n >= 0, "an operation moves a count of bytes, got {n}");
        self.finish(Ok(n));
    }

    /// Finishes with an error. Ignored if already finished.
    pub fn error(&self, err: CompletionError) {
        self.finish(Err(err));
    }

    /// Cancels the operation if it has not finished. On a group's completion, aborts every
    /// unfinished member, which in turn finishes the group with `Aborted`.
    pub fn abort(&self) {
        if self.finished() {
            return;
        }
        if let Some(group) = &self.inner.group {
            let members = lock(group).unfinished_members();
            for member in members {
                member.abort();
            }
            // A group that was never built, or had no members left, still finishes here.
            if !self.finished() && !lock(group).built {
                self.error(CompletionError::Aborted);
            }
            return;
        }
        self.error(CompletionError::Aborted);
    }

    pub fn finished(&self) -> bool {
        lock(&self.inner.state).result.is_some()
    }

    pub fn succeeded(&self) -> bool {
        matches!(lock(&self.inner.state).result, Some(Ok(_)))
    }

    pub fn failed(&self) -> bool {
        matches!(lock(&self.inner.state).result, Some(Err(_)))
    }

    pub fn get_error(&self) -> Option<CompletionError> {
        match lock(&self.inner.state).result {
            Some(Err(e)) => Some(e),
            _ => None,
        }
    }

    /// The outcome, once finished.
    pub fn result(&self) -> Option<CompletionResult> {
        lock(&self.inner.state).result
    }

    /// The outcome of a finished operation that had to move exactly `len` bytes (0 for a
    /// sync or truncate): its error, or a short transfer as `ShortIo`, never success.
    pub fn moved_exactly(&self, len: usize) -> Result<(), CompletionError> {
        match self
            .result()
            .expect("an outcome is read after the operation finished")
        {
            Err(e) => Err(e),
            Ok(n) => check_moved(len, n),
        }
    }

    /// The bytes of a finished read that had to deliver exactly `len` bytes.
    pub fn read_exactly(&self, len: usize) -> Result<Vec<u8>, CompletionError> {
        self.moved_exactly(len)?;
        let bytes = self
            .take_read_buffer()
            .expect("a successful read carries its bytes");
        assert_eq!(bytes.len(), len, "a read's bytes are the count it reported");
        Ok(bytes)
    }

    /// Whether two handles refer to the same operation.
    pub fn same_as(&self, other: &Completion) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Bytes a read asked for; 0 for other operations.
    pub fn read_len(&self) -> usize {
        lock(&self.inner.state).read_len
    }

    /// Called by backends before completing a read: the bytes actually read.
    pub fn set_read_buffer(&self, bytes: Vec<u8>) {
        let mut state = lock(&self.inner.state);
        assert!(
            bytes.len() <= state.read_len,
            "a read delivers at most the {} bytes asked for, got {}",
            state.read_len,
            bytes.len()
        );
        state.read_buffer = Some(bytes);
    }

    /// Takes the bytes a finished read delivered (None for other operations).
    pub fn take_read_buffer(&self) -> Option<Vec<u8>> {
        lock(&self.inner.state).read_buffer.take()
    }

    /// A copy of the bytes a finished read delivered.
    pub fn read_buffer(&self) -> Option<Vec<u8>> {
        lock(&self.inner.state).read_buffer.clone()
    }

    /// The label of this completion when it is a group's completion.
    pub fn label(&self) -> Option<&'static str> {
        self.inner.group.as_ref().and_then(|g| lock(g).label)
    }

    /// The groups this completion is a member of, innermost first (for fault targeting).
    pub fn groups(&self) -> Vec<Completion> {
        lock(&self.inner.state)
            .parents
            .iter()
            .filter_map(Weak::upgrade)
            .map(|inner| Completion { inner })
            .collect()
    }

    /// Labels of every group that (transitively) waits on this completion.
    pub fn group_labels(&self) -> Vec<&'static str> {
        let mut labels = Vec::new();
        let mut frontier = self.groups();
        while let Some(group) = frontier.pop() {
            if let Some(label) = group.label() {
                labels.push(label);
            }
            frontier.extend(group.groups());
        }
        labels
    }

    /// Registers `parent` to be told when this completion finishes. Returns the result
    /// instead if it has already finished (the parent must account for it itself).
    pub(crate) fn attach_parent(&self, parent: &Completion) -> Option<CompletionResult> {
        let mut state = lock(&self.inner.state);
        if let Some(result) = state.result {
            return Some(result);
        }
        state.parents.push(Arc::downgrade(&parent.inner));
        None
    }

    pub(crate) fn finish(&self, result: CompletionResult) {
        let (callback, parents) = {
            let mut state = lock(&self.inner.state);
            if state.result.is_some() {
                return;
            }
            state.result = Some(result);
            (state.callback.take(), std::mem::take(&mut state.parents))
        };
        if let Some(callback) = callback {
            callback(result);
        }
        for parent in parents.iter().filter_map(Weak::upgrade) {
            Completion { inner: parent }.member_finished(result);
        }
    }
}
