//! turso_core's `IO` and `File` traits served by a braid `IO` (in a simulation, the run's
//! `SimIO`): every pread, pwrite, pwritev, sync and truncate turso issues becomes one
//! pending operation of the braid I/O, which the simulation completes, delays, reorders,
//! fails or tears like any other. turso's `Completion` finishes inside the callback of the
//! braid completion that carried the operation, so it finishes exactly when braid decides.
//!
//! - Names: turso sees every file under a directory that is unique to one open
//!   (`<root>/braid.db`, `<root>/braid.db-wal`); the bridge strips `<root>/` to get the braid
//!   path. turso keeps a process-wide registry of open databases keyed by file identity, and
//!   a fresh root per open (after a crash, say) keeps it from handing back the instance the
//!   crash dropped.
//! - Waiting: a statement that returns `IO` names the turso completion it waits for;
//!   `TursoIo::waiter` turns it into a braid completion with no I/O of its own, finished
//!   by `poll_waiters` as soon as the turso completion has finished (that is checked after
//!   every bridged operation finishes and after every statement step, since a turso
//!   completion may also be finished by another connection's progress).
//! - Blocking: where turso drives the I/O loop itself (`IO::step`, inside opening helpers
//!   and internal statements), the bridge steps the braid I/O, which completes its oldest
//!   pending operation without a fault. With nothing pending, `step` reports an error
//!   rather than spin forever.
//! - Clock and randomness: time is a counter advanced by every clock read (1 µs each) and
//!   by every requested sleep; random numbers come from a xoshiro256++ generator seeded by
//!   the caller (in a simulation, from the run's choices). Nothing reads the real clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use braid_core::CompletionError as BraidError;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use turso_core::io::{FileId, FileSyncType};
use turso_core::{
    Buffer, Clock, Completion, CompletionError, File, IO, LimboError, MonotonicInstant, OpenFlags,
    WallClockInstant,
};

/// Microseconds one clock read advances the simulated clock.
const TICK_MICROS: u64 = 1;
/// The simulated wall clock starts at 2026-01-01T00:00:00Z.
const EPOCH_SECS: i64 = 1_767_225_600;

/// Opens made in this process, so every open gets a root of its own.
static OPENS: AtomicU64 = AtomicU64::new(0);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A wait handed to the simulation: `braid` finishes once `turso` has.
struct Waiter {
    turso: Completion,
    braid: braid_core::Completion,
}

/// State the files and the callbacks they hand to the braid I/O share.
#[derive(Default)]
struct Shared {
    /// Reads in flight, by number: the callback takes its braid completion back from here
    /// to collect the bytes (the completion cannot hold itself).
    reads: Mutex<BTreeMap<u64, braid_core::Completion>>,
    next_read: AtomicU64,
    waiters: Mutex<Vec<Waiter>>,
}

impl Shared {
    /// Finishes every waiter whose turso completion has finished.
    fn poll_waiters(&self) {
        let done: Vec<braid_core::Completion> = {
            let mut waiters = lock(&self.waiters);
            let mut done = Vec::new();
            waiters.retain(|w| {
                let finished = w.turso.finished();
                if finished {
                    done.push(w.braid.clone());
                }
                !finished
            });
            done
        };
        for braid in done {
            braid.complete(0);
        }
    }
}

/// turso's I/O over a braid I/O. One per open of the database.
pub struct TursoIo {
    io: Arc<dyn braid_core::IO>,
    root: String,
    identity: u64,
    rng: Mutex<Xoshiro256PlusPlus>,
    micros: AtomicU64,
    shared: Arc<Shared>,
}

impl TursoIo {
    /// A bridge onto `io`, drawing random numbers from `seed`.
    pub fn new(io: Arc<dyn braid_core::IO>, seed: u64) -> Self {
        let identity = OPENS.fetch_add(1, Ordering::Relaxed);
        TursoIo {
            io,
            root: format!("/braid-sim-{}-{identity}", std::process::id()),
            identity,
            rng: Mutex::new(Xoshiro256PlusPlus::seed_from_u64(seed)),
            micros: AtomicU64::new(0),
            shared: Arc::default(),
        }
    }

    /// The name turso must be given for the braid file `path`.
    pub fn turso_path(&self, path: &str) -> String {
        format!("{}/{path}", self.root)
    }

    fn braid_path<'a>(&self, path: &'a str) -> &'a str {
        path.strip_prefix(&self.root)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(path)
    }

    /// A braid completion that finishes when `turso` has finished (at once if it has).
    pub fn waiter(&self, turso: Completion) -> braid_core::Completion {
        if turso.finished() || turso.is_explicit_yield() {
            return braid_core::Completion::new_yield();
        }
        let braid = braid_core::Completion::new_noop();
        lock(&self.shared.waiters).push(Waiter {
            turso,
            braid: braid.clone(),
        });
        braid
    }

    /// Finishes the waiters whose turso completion has finished.
    pub fn poll_waiters(&self) {
        self.shared.poll_waiters();
    }

    fn tick(&self, micros: u64) -> u64 {
        self.micros.fetch_add(micros, Ordering::Relaxed) + micros
    }
}

fn braid_error(e: braid_core::Error) -> LimboError {
    LimboError::InternalError(format!("braid I/O: {e}"))
}

/// A braid completion's failure in turso's terms; `what` names the operation.
fn turso_error(e: BraidError, what: &'static str) -> CompletionError {
    match e {
        BraidError::Aborted => CompletionError::Aborted,
        BraidError::Io(kind) => CompletionError::IOError(kind, what),
        BraidError::ShortIo { .. } => CompletionError::IOError(std::io::ErrorKind::Other, what),
    }
}

/// A callback finishing `turso` with the outcome of a braid write, sync or truncate (the
/// bytes moved, fewer than asked on a short write, as a real `pwrite` reports it).
fn relay(
    turso: Completion,
    shared: Weak<Shared>,
    what: &'static str,
) -> impl Fn(braid_core::CompletionResult) + Send + Sync + 'static {
    move |result| {
        match result {
            Ok(n) => turso.complete(n),
            Err(e) => turso.error(turso_error(e, what)),
        }
        if let Some(shared) = shared.upgrade() {
            shared.poll_waiters();
        }
    }
}

impl Clock for TursoIo {
    fn current_time_monotonic(&self) -> MonotonicInstant {
        MonotonicInstant::from_nanos(u128::from(self.tick(TICK_MICROS)) * 1_000)
    }

    fn current_time_wall_clock(&self) -> WallClockInstant {
        let micros = self.tick(TICK_MICROS);
        WallClockInstant {
            secs: EPOCH_SECS + (micros / 1_000_000) as i64,
            micros: (micros % 1_000_000) as u32,
        }
    }
}

impl IO for TursoIo {
    fn open_file(
        &self,
        path: &str,
        _flags: OpenFlags,
        _direct: bool,
    ) -> turso_core::Result<Arc<dyn File>> {
        let braid_path = self.braid_path(path);
        let file = self.io.open_file(braid_path).map_err(braid_error)?;
        Ok(Arc::new(BridgeFile {
            file,
            shared: Arc::downgrade(&self.shared),
            keep: self.shared.clone(),
        }))
    }

    fn remove_file(&self, path: &str) -> turso_core::Result<()> {
        self.io
            .remove_file(self.braid_path(path))
            .map_err(braid_error)
    }

    fn step(&self) -> turso_core::Result<()> {
        self.shared.poll_waiters();
        if self.io.pending() == 0 {
            return Err(LimboError::InternalError(
                "turso waits for I/O while none is pending".into(),
            ));
        }
        self.io.step().map_err(braid_error)?;
        self.shared.poll_waiters();
        Ok(())
    }

    fn generate_random_number(&self) -> i64 {
        lock(&self.rng).next_u64() as i64
    }

    fn fill_bytes(&self, dest: &mut [u8]) {
        lock(&self.rng).fill_bytes(dest);
    }

    fn yield_now(&self) {}

    fn sleep(&self, duration: std::time::Duration) {
        self.tick(u64::try_from(duration.as_micros()).unwrap_or(u64::MAX));
    }

    fn file_id(&self, path: &str) -> turso_core::Result<FileId> {
        // FNV-1a of the name: stable across runs and processes.
        let ino = path.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Ok(FileId {
            dev: self.identity,
            ino,
        })
    }
}

/// One turso file over one braid file.
struct BridgeFile {
    file: Arc<dyn braid_core::File>,
    shared: Weak<Shared>,
    /// Keeps the shared state alive while turso holds the file.
    keep: Arc<Shared>,
}

impl BridgeFile {
    fn write_bytes(&self, pos: u64, bytes: &[u8], c: Completion) -> turso_core::Result<Completion> {
        let bytes: Arc<[u8]> = Arc::from(bytes);
        submit_write(&self.file, pos, bytes, 0, c.clone(), self.shared.clone())
            .map_err(braid_error)?;
        Ok(c)
    }
}

/// Writes `bytes[done..]` at `pos + done`. A short write goes on with the rest, as turso's
/// own files do (`UnixFile::pwrite` loops until everything is written: turso's contract is
/// that a `File` never reports a short write); a write that moves nothing is an error.
/// `turso` finishes with the whole length, or with the first error.
fn submit_write(
    file: &Arc<dyn braid_core::File>,
    pos: u64,
    bytes: Arc<[u8]>,
    done: usize,
    turso: Completion,
    shared: Weak<Shared>,
) -> braid_core::Result<()> {
    let again = (file.clone(), bytes.clone(), shared.clone());
    let asked = bytes.len() - done;
    let braid = braid_core::Completion::new(move |result| {
        let (file, bytes, shared) = again.clone();
        let finished = match result {
            Ok(n) if n as usize >= asked => {
                turso.complete(bytes.len() as i32);
                true
            }
            Ok(0) => {
                turso.error(CompletionError::IOError(
                    std::io::ErrorKind::UnexpectedEof,
                    "pwrite",
                ));
                true
            }
            Ok(n) => {
                let done = done + n as usize;
                let next = submit_write(&file, pos, bytes, done, turso.clone(), shared.clone());
                if next.is_err() {
                    turso.error(CompletionError::IOError(
                        std::io::ErrorKind::Other,
                        "pwrite",
                    ));
                }
                next.is_err()
            }
            Err(e) => {
                turso.error(turso_error(e, "pwrite"));
                true
            }
        };
        if finished && let Some(shared) = shared.upgrade() {
            shared.poll_waiters();
        }
    });
    file.pwrite(pos + done as u64, &bytes[done..], braid)?;
    Ok(())
}

impl File for BridgeFile {
    fn lock_file(&self, _exclusive: bool) -> turso_core::Result<()> {
        Ok(())
    }

    fn unlock_file(&self) -> turso_core::Result<()> {
        Ok(())
    }

    fn pread(&self, pos: u64, c: Completion) -> turso_core::Result<Completion> {
        let buffer = c.as_read().buf_arc();
        let len = buffer.len();
        let number = self.keep.next_read.fetch_add(1, Ordering::Relaxed);
        let shared = self.shared.clone();
        let turso = c.clone();
        let braid = braid_core::Completion::new_read(len, move |result| {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let own = lock(&shared.reads).remove(&number);
            match result {
                Ok(n) => {
                    if let Some(bytes) = own.and_then(|own| own.take_read_buffer()) {
                        let n = bytes.len().min(buffer.len());
                        buffer.as_mut_slice()[..n].copy_from_slice(&bytes[..n]);
                    }
                    turso.complete(n);
                }
                Err(e) => turso.error(turso_error(e, "pread")),
            }
            shared.poll_waiters();
        });
        lock(&self.keep.reads).insert(number, braid.clone());
        if let Err(e) = self.file.pread(pos, len, braid) {
            lock(&self.keep.reads).remove(&number);
            return Err(braid_error(e));
        }
        Ok(c)
    }

    fn pwrite(
        &self,
        pos: u64,
        buffer: Arc<Buffer>,
        c: Completion,
    ) -> turso_core::Result<Completion> {
        self.write_bytes(pos, buffer.as_slice(), c)
    }

    fn pwritev(
        &self,
        pos: u64,
        buffers: Vec<Arc<Buffer>>,
        c: Completion,
    ) -> turso_core::Result<Completion> {
        // One vectored write is one operation of the braid I/O, as `pwritev` is one call.
        let bytes: Vec<u8> = buffers
            .iter()
            .flat_map(|b| b.as_slice().iter().copied())
            .collect();
        self.write_bytes(pos, &bytes, c)
    }

    fn sync(&self, c: Completion, _sync_type: FileSyncType) -> turso_core::Result<Completion> {
        let braid = braid_core::Completion::new(relay(c.clone(), self.shared.clone(), "fsync"));
        self.file.sync(braid).map_err(braid_error)?;
        Ok(c)
    }

    fn size(&self) -> turso_core::Result<u64> {
        self.file.size().map_err(braid_error)
    }

    fn truncate(&self, len: u64, c: Completion) -> turso_core::Result<Completion> {
        let braid = braid_core::Completion::new(relay(c.clone(), self.shared.clone(), "truncate"));
        self.file.truncate(len, braid).map_err(braid_error)?;
        Ok(c)
    }
}
