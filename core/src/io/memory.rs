//! `MemoryIO`: deterministic in-memory files. Operations queue on submit and are applied,
//! in submission order, by `step()`. Everything written is kept (there is no crash here;
//! the simulator's `SimIO` models durability).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::completion::lock;
use super::{Completion, CompletionError, File, IO};
use crate::Result;

/// Bytes of one in-memory file.
type Bytes = Arc<Mutex<Vec<u8>>>;

pub(crate) enum PendingOp {
    Read {
        data: Bytes,
        pos: u64,
        len: usize,
        c: Completion,
    },
    Write {
        data: Bytes,
        pos: u64,
        bytes: Vec<u8>,
        c: Completion,
    },
    Sync {
        c: Completion,
    },
    Truncate {
        data: Bytes,
        len: u64,
        c: Completion,
    },
}

impl PendingOp {
    /// Applies the operation to the file's bytes and finishes its completion.
    pub(crate) fn apply(self) {
        match self {
            PendingOp::Read { data, pos, len, c } => {
                let bytes = {
                    let data = lock(&data);
                    let start = (pos as usize).min(data.len());
                    let end = start.saturating_add(len).min(data.len());
                    data[start..end].to_vec()
                };
                let n = bytes.len();
                assert!(n <= len, "a read returns at most what it asked for");
                c.set_read_buffer(bytes);
                c.complete(n as i32);
            }
            PendingOp::Write {
                data,
                pos,
                bytes,
                c,
            } => {
                write_at(&mut lock(&data), pos, &bytes);
                c.complete(bytes.len() as i32);
            }
            PendingOp::Sync { c } => c.complete(0),
            PendingOp::Truncate { data, len, c } => {
                lock(&data).resize(len as usize, 0);
                c.complete(0);
            }
        }
    }

    pub(crate) fn completion(&self) -> &Completion {
        match self {
            PendingOp::Read { c, .. }
            | PendingOp::Write { c, .. }
            | PendingOp::Sync { c }
            | PendingOp::Truncate { c, .. } => c,
        }
    }
}

/// Writes `bytes` at `pos`, growing the buffer with zeros as needed.
pub(crate) fn write_at(data: &mut Vec<u8>, pos: u64, bytes: &[u8]) {
    let start = pos as usize;
    let end = start + bytes.len();
    if data.len() < end {
        data.resize(end, 0);
    }
    data[start..end].copy_from_slice(bytes);
}

/// Files and the queue of submitted operations, shared by `MemoryIO` and `ShuffleIO`.
#[derive(Default)]
pub(crate) struct MemoryStore {
    files: Mutex<BTreeMap<String, Bytes>>,
    pub(crate) queue: Arc<Mutex<VecDeque<PendingOp>>>,
}

impl MemoryStore {
    pub(crate) fn open_file(&self, path: &str) -> Arc<dyn File> {
        let data = lock(&self.files)
            .entry(path.to_string())
            .or_default()
            .clone();
        Arc::new(MemoryFile {
            data,
            queue: self.queue.clone(),
        })
    }

    pub(crate) fn remove_file(&self, path: &str) {
        lock(&self.files).remove(path);
    }

    pub(crate) fn file_exists(&self, path: &str) -> bool {
        lock(&self.files).contains_key(path)
    }

    pub(crate) fn pending(&self) -> usize {
        lock(&self.queue).len()
    }
}

struct MemoryFile {
    data: Bytes,
    queue: Arc<Mutex<VecDeque<PendingOp>>>,
}

impl MemoryFile {
    fn submit(&self, op: PendingOp) -> Result<Completion> {
        let c = op.completion().clone();
        assert!(
            !c.finished() || c.failed(),
            "an operation is submitted with a completion that has not succeeded yet"
        );
        lock(&self.queue).push_back(op);
        Ok(c)
    }
}

impl File for MemoryFile {
    fn pread(&self, pos: u64, len: usize, c: Completion) -> Result<Completion> {
        self.submit(PendingOp::Read {
            data: self.data.clone(),
            pos,
            len,
            c,
        })
    }

    fn pwrite(&self, pos: u64, bytes: &[u8], c: Completion) -> Result<Completion> {
        let bytes = bytes.to_vec();
        self.submit(PendingOp::Write {
            data: self.data.clone(),
            pos,
            bytes,
            c,
        })
    }

    fn sync(&self, c: Completion) -> Result<Completion> {
        self.submit(PendingOp::Sync { c })
    }

    fn truncate(&self, len: u64, c: Completion) -> Result<Completion> {
        self.submit(PendingOp::Truncate {
            data: self.data.clone(),
            len,
            c,
        })
    }

    fn size(&self) -> Result<u64> {
        Ok(lock(&self.data).len() as u64)
    }
}

/// Deterministic in-memory I/O; `step()` completes everything pending, oldest first.
#[derive(Default)]
pub struct MemoryIO {
    store: MemoryStore,
}

impl MemoryIO {
    pub fn new() -> Self {
        Self::default()
    }
}

impl IO for MemoryIO {
    fn open_file(&self, path: &str) -> Result<Arc<dyn File>> {
        Ok(self.store.open_file(path))
    }

    fn remove_file(&self, path: &str) -> Result<()> {
        self.store.remove_file(path);
        Ok(())
    }

    fn file_exists(&self, path: &str) -> Result<bool> {
        Ok(self.store.file_exists(path))
    }

    fn step(&self) -> Result<()> {
        // Take the whole batch first: callbacks may submit more, which wait for the next step.
        let batch: Vec<PendingOp> = lock(&self.store.queue).drain(..).collect();
        for op in batch {
            // An operation aborted while pending never touches the file.
            if !is_cancelled(&op) {
                op.apply();
            }
        }
        Ok(())
    }

    fn pending(&self) -> usize {
        self.store.pending()
    }
}

/// An aborted operation is dropped from the queue without touching the file.
pub(crate) fn is_cancelled(op: &PendingOp) -> bool {
    op.completion().get_error() == Some(CompletionError::Aborted)
}
