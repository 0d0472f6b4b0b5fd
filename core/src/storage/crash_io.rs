//! `CrashIO`: a small crash-capable in-memory I/O backend for the storage engine's own
//! tests (the simulator's `SimIO` is the full fault model).
//!
//! Fault model:
//! - Each file has a durable image and a volatile one. Writes and truncates land in the
//!   volatile image when they complete, and are remembered as unsynced; a completed
//!   `sync` copies the file's volatile image to its durable one and forgets them.
//! - `step()` completes every pending operation in submission order, or, in a
//!   `shuffled(seed)` instance, one pending operation chosen by a seeded generator.
//! - `crash()` aborts every pending operation and replaces each volatile image with its
//!   durable one: every write not covered by a completed sync is lost, whole.
//! - `crash_torn(seed)` is harsher: each unsynced write, including writes still pending,
//!   independently survives whole, not at all, or torn (a random subset of its 512-byte
//!   sectors lands); each unsynced truncate survives or not.
//! - Switches: failing syncs, failing writes, short writes (half the bytes land and the
//!   completion reports it), each for every later operation until switched off; and one
//!   targeted short write (`short_write_once`: the next write at a given file and offset
//!   lands only its first bytes).
//! - `flip_bit` damages both images of a file, as a bit rot of stored data.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::Result;
use crate::io::{Completion, CompletionError, File, IO};

/// Sector size: the unit a torn write keeps or loses.
const SECTOR_BYTES: u64 = crate::storage::format::SECTOR_BYTES as u64;

/// A change to a file not yet covered by a sync.
#[derive(Clone)]
enum Unsynced {
    Write { pos: u64, bytes: Vec<u8> },
    Truncate { len: u64 },
}

#[derive(Default)]
struct CrashFile {
    durable: Vec<u8>,
    volatile: Vec<u8>,
    unsynced: Vec<Unsynced>,
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
    /// Present in a shuffled instance: picks the one operation each step completes.
    shuffle: Option<Xoshiro256PlusPlus>,
    /// The next write to this file at this offset lands only this many bytes.
    short_once: Option<(Shared, u64, usize)>,
}

/// Crash-capable in-memory I/O. Clones share the same files.
#[derive(Default, Clone)]
pub struct CrashIO {
    inner: Arc<Mutex<Inner>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn write_at(image: &mut Vec<u8>, pos: u64, bytes: &[u8]) {
    let end = pos as usize + bytes.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[pos as usize..end].copy_from_slice(bytes);
}

impl CrashIO {
    /// Completes everything pending, in order, at each step.
    pub fn new() -> Self {
        Self::default()
    }

    /// Completes one pending operation, chosen from `seed`, at each step.
    pub fn shuffled(seed: u64) -> Self {
        let io = Self::default();
        lock(&io.inner).shuffle = Some(Xoshiro256PlusPlus::seed_from_u64(seed));
        io
    }

    /// Loses every write not made durable by a completed sync; pending operations abort.
    pub fn crash(&self) {
        let pending: Vec<Completion> = {
            let mut inner = lock(&self.inner);
            for file in inner.files.values() {
                let mut file = lock(file);
                file.volatile = file.durable.clone();
                file.unsynced.clear();
            }
            inner.queue.drain(..).map(|(_, c)| c).collect()
        };
        for c in pending {
            c.abort();
        }
    }

    /// Crashes letting each unsynced write (pending ones too) survive whole, torn at
    /// sector granularity, or not at all, as drawn from `seed`.
    pub fn crash_torn(&self, seed: u64) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let pending: Vec<Completion> = {
            let mut inner = lock(&self.inner);
            let queue: Vec<(Op, Completion)> = inner.queue.drain(..).collect();
            for file in inner.files.values() {
                let mut changes = std::mem::take(&mut lock(file).unsynced);
                for (op, _) in &queue {
                    match op {
                        Op::Write {
                            file: f,
                            pos,
                            bytes,
                        } if Arc::ptr_eq(f, file) => {
                            changes.push(Unsynced::Write {
                                pos: *pos,
                                bytes: bytes.clone(),
                            });
                        }
                        Op::Truncate { file: f, len } if Arc::ptr_eq(f, file) => {
                            changes.push(Unsynced::Truncate { len: *len });
                        }
                        _ => {}
                    }
                }
                let mut file = lock(file);
                let mut image = file.durable.clone();
                for change in changes {
                    apply_torn(&mut image, change, &mut rng);
                }
                file.durable = image.clone();
                file.volatile = image;
            }
            queue.into_iter().map(|(_, c)| c).collect()
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

    /// The next write to `path` at byte `pos` lands only its first `landed` bytes and its
    /// completion reports that count (a short write); later writes are whole again.
    pub fn short_write_once(&self, path: &str, pos: u64, landed: usize) {
        let mut inner = lock(&self.inner);
        let file = inner.files.entry(path.to_string()).or_default().clone();
        inner.short_once = Some((file, pos, landed));
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
        file.unsynced.clear();
    }
}

/// Applies one unsynced change to `image`: whole, not at all, or (writes) torn.
fn apply_torn(image: &mut Vec<u8>, change: Unsynced, rng: &mut Xoshiro256PlusPlus) {
    match (change, rng.next_u64() % 3) {
        (_, 0) => {}
        (Unsynced::Truncate { len }, _) => image.resize(len as usize, 0),
        (Unsynced::Write { pos, bytes }, 1) => write_at(image, pos, &bytes),
        (Unsynced::Write { pos, bytes }, _) => {
            let end = pos + bytes.len() as u64;
            let mut start = pos;
            while start < end {
                let sector_end = ((start / SECTOR_BYTES) + 1) * SECTOR_BYTES;
                let piece_end = sector_end.min(end);
                debug_assert!(piece_end > start && piece_end - start <= SECTOR_BYTES);
                if rng.next_u64().is_multiple_of(2) {
                    let from = (start - pos) as usize;
                    let to = (piece_end - pos) as usize;
                    write_at(image, start, &bytes[from..to]);
                }
                start = piece_end;
            }
        }
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
            write_at(&mut file.volatile, pos, &bytes[..n]);
            file.unsynced.push(Unsynced::Write {
                pos,
                bytes: bytes[..n].to_vec(),
            });
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
            file.unsynced.clear();
            drop(file);
            c.complete(0);
        }
        Op::Truncate { file, len } => {
            let mut file = lock(&file);
            file.volatile.resize(len as usize, 0);
            file.unsynced.push(Unsynced::Truncate { len });
            drop(file);
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
        let mut bytes = bytes;
        {
            let mut inner = lock(&self.io);
            let targeted = matches!(&inner.short_once,
                Some((file, at, _)) if Arc::ptr_eq(file, &self.file) && *at == pos);
            if targeted {
                let (_, _, landed) = inner.short_once.take().expect("matched above");
                bytes = &bytes[..landed.min(bytes.len())];
            }
        }
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
            let faults = inner.faults;
            let len = inner.queue.len() as u64;
            let batch = match inner.shuffle.as_mut() {
                Some(_) if len == 0 => Vec::new(),
                Some(rng) => {
                    let index = (rng.next_u64() % len) as usize;
                    inner.queue.remove(index).into_iter().collect()
                }
                None => inner.queue.drain(..).collect(),
            };
            (batch, faults)
        };
        for (op, c) in batch {
            if !c.finished() {
                apply(op, &c, faults);
                assert!(c.finished(), "applying an operation finishes it");
            }
        }
        Ok(())
    }

    fn pending(&self) -> usize {
        lock(&self.inner).queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(io: &CrashIO, file: &Arc<dyn File>, pos: u64, bytes: &[u8]) {
        file.pwrite(pos, bytes, Completion::new_noop())
            .expect("submit");
        io.step().expect("step");
    }

    fn sync(io: &CrashIO, file: &Arc<dyn File>) {
        file.sync(Completion::new_noop()).expect("submit");
        io.step().expect("step");
    }

    #[test]
    fn crash_keeps_exactly_what_was_synced() {
        let io = CrashIO::new();
        let file = io.open_file("f").expect("open");
        write(&io, &file, 0, &[1; 10]);
        sync(&io, &file);
        write(&io, &file, 5, &[2; 10]);
        assert_eq!(file.size().expect("size"), 15);
        io.crash();
        assert_eq!(io.file_bytes("f"), vec![1; 10]);
    }

    #[test]
    fn torn_crash_keeps_whole_sectors_of_unsynced_writes() {
        for seed in 0..20 {
            let io = CrashIO::new();
            let file = io.open_file("f").expect("open");
            write(&io, &file, 0, &[1; 2048]);
            sync(&io, &file);
            write(&io, &file, 0, &[2; 2048]);
            io.crash_torn(seed);
            let bytes = io.file_bytes("f");
            assert_eq!(bytes.len(), 2048);
            for sector in bytes.chunks(512) {
                assert!(
                    sector.iter().all(|&b| b == sector[0]),
                    "seed {seed}: a sector is atomic"
                );
            }
        }
    }

    #[test]
    fn shuffled_steps_complete_one_operation() {
        let io = CrashIO::shuffled(3);
        let file = io.open_file("f").expect("open");
        for i in 0..4 {
            file.pwrite(i * 10, &[1; 10], Completion::new_noop())
                .expect("submit");
        }
        io.step().expect("step");
        assert_eq!(io.pending(), 3);
    }
}
