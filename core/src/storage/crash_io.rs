//! `CrashIO`: a small crash-capable in-memory I/O backend for the storage engine's own
//! tests (the simulator's `SimIO` is the full fault model).
//!
//! Fault model:
//! - Each file has a durable image and a volatile one. Writes and truncates land in the
//!   volatile image when they complete; a completed `sync` copies the file's volatile
//!   image to its durable one.
//! - Operations complete in submission order inside `step()` (like `MemoryIO`).
//! - `crash()` aborts every pending operation and replaces each volatile image with its
//!   durable one: every write not covered by a completed sync is lost, whole.
//! - Switches: failing syncs, failing writes, short writes (half the bytes land and the
//!   completion reports it), each for every later operation until switched off.
//! - `flip_bit` damages both images of a file, as a bit rot of stored data.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::Result;
use crate::io::{Completion, CompletionError, File, IO};

#[derive(Default)]
struct CrashFile {
    durable: Vec<u8>,
    volatile: Vec<u8>,
}

type Shared = Arc<Mutex<CrashFile>>;

enum Op {
    Read {
        file: Shared,
        pos: u64,
        len: usize,
    },
    Write {
        file: Shared,
        pos: u64,
        bytes: Vec<u8>,
    },
    Sync {
        file: Shared,
    },
    Truncate {
        file: Shared,
        len: u64,
    },
}

#[derive(Default, Clone, Copy)]
struct Faults {
    fail_syncs: bool,
    fail_writes: bool,
    short_writes: bool,
}

#[derive(Default)]
struct Inner {
    files: BTreeMap<String, Shared>,
    queue: VecDeque<(Op, Completion)>,
    faults: Faults,
}

/// Crash-capable in-memory I/O. Cheap to share through `Arc`.
#[derive(Default, Clone)]
pub struct CrashIO {
    inner: Arc<Mutex<Inner>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CrashIO {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loses every write not made durable by a completed sync; pending operations abort.
    pub fn crash(&self) {
        let pending: Vec<Completion> = {
            let mut inner = lock(&self.inner);
            for file in inner.files.values() {
                let mut file = lock(file);
                file.volatile = file.durable.clone();
            }
            inner.queue.drain(..).map(|(_, c)| c).collect()
        };
        for c in pending {
            c.abort();
        }
    }

    /// Every later sync fails (`true`) or succeeds (`false`).
    pub fn set_fail_syncs(&self, on: bool) {
        lock(&self.inner).faults.fail_syncs = on;
    }

    /// Every later write fails without touching the file.
    pub fn set_fail_writes(&self, on: bool) {
        lock(&self.inner).faults.fail_writes = on;
    }

    /// Every later write lands only its first half and reports that.
    pub fn set_short_writes(&self, on: bool) {
        lock(&self.inner).faults.short_writes = on;
    }

    /// Flips one bit at byte `offset` of `path` in both images.
    pub fn flip_bit(&self, path: &str, offset: usize, bit: u8) {
        let inner = lock(&self.inner);
        let file = inner.files.get(path).expect("flip_bit on an existing file");
        let mut guard = lock(file);
        let file = &mut *guard;
        for image in [&mut file.durable, &mut file.volatile] {
            if offset < image.len() {
                image[offset] ^= 1 << (bit % 8);
            }
        }
    }

    /// The current (volatile) bytes of `path`.
    pub fn file_bytes(&self, path: &str) -> Vec<u8> {
        let inner = lock(&self.inner);
        inner
            .files
            .get(path)
            .map(|f| lock(f).volatile.clone())
            .unwrap_or_default()
    }

    /// The durable bytes of `path`.
    pub fn durable_bytes(&self, path: &str) -> Vec<u8> {
        let inner = lock(&self.inner);
        inner
            .files
            .get(path)
            .map(|f| lock(f).durable.clone())
            .unwrap_or_default()
    }

    /// Replaces both images of `path` (creating it), for hand-made damage in tests.
    pub fn set_file(&self, path: &str, bytes: Vec<u8>) {
        let mut inner = lock(&self.inner);
        let file = inner.files.entry(path.to_string()).or_default();
        let mut file = lock(file);
        file.durable = bytes.clone();
        file.volatile = bytes;
    }
}

fn apply(op: Op, c: &Completion, faults: Faults) {
    match op {
        Op::Read { file, pos, len } => {
            let file = lock(&file);
            let start = (pos as usize).min(file.volatile.len());
            let end = start.saturating_add(len).min(file.volatile.len());
            let bytes = file.volatile[start..end].to_vec();
            drop(file);
            let n = bytes.len();
            c.set_read_buffer(bytes);
            c.complete(n as i32);
        }
        Op::Write { file, pos, bytes } => {
            if faults.fail_writes {
                c.error(CompletionError::Io(std::io::ErrorKind::Other));
                return;
            }
            let n = if faults.short_writes {
                bytes.len() / 2
            } else {
                bytes.len()
            };
            let mut file = lock(&file);
            let end = pos as usize + n;
            if file.volatile.len() < end {
                file.volatile.resize(end, 0);
            }
            file.volatile[pos as usize..end].copy_from_slice(&bytes[..n]);
            drop(file);
            c.complete(n as i32);
        }
        Op::Sync { file } => {
            if faults.fail_syncs {
                c.error(CompletionError::Io(std::io::ErrorKind::Other));
                return;
            }
            let mut file = lock(&file);
            file.durable = file.volatile.clone();
            drop(file);
            c.complete(0);
        }
        Op::Truncate { file, len } => {
            lock(&file).volatile.resize(len as usize, 0);
            c.complete(0);
        }
    }
}

struct CrashFileHandle {
    file: Shared,
    io: Arc<Mutex<Inner>>,
}

impl CrashFileHandle {
    fn submit(&self, op: Op, c: Completion) -> Result<Completion> {
        lock(&self.io).queue.push_back((op, c.clone()));
        Ok(c)
    }
}

impl File for CrashFileHandle {
    fn pread(&self, pos: u64, len: usize, c: Completion) -> Result<Completion> {
        self.submit(
            Op::Read {
                file: self.file.clone(),
                pos,
                len,
            },
            c,
        )
    }

    fn pwrite(&self, pos: u64, bytes: &[u8], c: Completion) -> Result<Completion> {
        self.submit(
            Op::Write {
                file: self.file.clone(),
                pos,
                bytes: bytes.to_vec(),
            },
            c,
        )
    }

    fn sync(&self, c: Completion) -> Result<Completion> {
        self.submit(
            Op::Sync {
                file: self.file.clone(),
            },
            c,
        )
    }

    fn truncate(&self, len: u64, c: Completion) -> Result<Completion> {
        self.submit(
            Op::Truncate {
                file: self.file.clone(),
                len,
            },
            c,
        )
    }

    fn size(&self) -> Result<u64> {
        Ok(lock(&self.file).volatile.len() as u64)
    }
}

impl IO for CrashIO {
    fn open_file(&self, path: &str) -> Result<Arc<dyn File>> {
        let file = lock(&self.inner)
            .files
            .entry(path.to_string())
            .or_default()
            .clone();
        Ok(Arc::new(CrashFileHandle {
            file,
            io: self.inner.clone(),
        }))
    }

    fn remove_file(&self, path: &str) -> Result<()> {
        lock(&self.inner).files.remove(path);
        Ok(())
    }

    fn file_exists(&self, path: &str) -> Result<bool> {
        Ok(lock(&self.inner).files.contains_key(path))
    }

    fn step(&self) -> Result<()> {
        let (batch, faults): (Vec<(Op, Completion)>, Faults) = {
            let mut inner = lock(&self.inner);
            (inner.queue.drain(..).collect(), inner.faults)
        };
        for (op, c) in batch {
            if !c.finished() {
                apply(op, &c, faults);
            }
        }
        Ok(())
    }

    fn pending(&self) -> usize {
        lock(&self.inner).queue.len()
    }
}
