//! `SimIO`: the simulator's I/O backend, the third implementation of `braid_core::IO`.
//! Nothing it is asked to do happens until the simulation loop decides when and how.
//!
//! Fault model (what can fail, and what must survive):
//! - Each file has a durable image and a volatile image. Reads see the volatile image.
//!   A write lands in the volatile image when it completes; a sync that completes
//!   successfully makes that file's volatile image durable (including writes that completed
//!   after the sync was submitted). Creating and removing a file take effect at once and
//!   are durable (directory metadata is not part of the fault model).
//! - Every submitted operation stays pending until the loop completes it, in any order, with
//!   an `IoOutcome`. Ids are sequential `u64`s in submission order. Submission never
//!   finishes a completion; callbacks run inside `complete`, `fail_group`, `cancel_group`
//!   and `IO::step`, never while `SimIO`'s lock is held, so they may submit more I/O.
//! - Per-operation faults: an error (`IoOutcome::Error`) on a read, write or truncate
//!   changes no data and leaves earlier writes exactly as durable or volatile as they were;
//!   a short read or write (`IoOutcome::Short(n)`) moves only the first `n` bytes and
//!   reports `n`, fewer than asked, which the engine must treat as an error; latency
//!   (`hold`) marks an operation not ready until a later decision.
//! - A failed sync covers every completed write and truncate of its file not yet durable,
//!   and what becomes of them follows a real file system (`FsyncFailure`, chosen by
//!   `[faults] fsync_failure`; the simulator's default is `Ext4`). Source: Rebello et al.,
//!   "Can Applications Recover from fsync Failures?" (USENIX ATC 2020), which injected
//!   block write errors under ext4, XFS and Btrfs: on all three the dirty pages are marked
//!   clean after the failed fsync, so a later fsync reports success although the data never
//!   reached the disk; what the page cache then holds, and whether the file system stays
//!   usable, differ.
//!   - `Ext4` (ext4, data=ordered; the harshest: nothing shows the loss until a crash):
//!     the covered writes are lost at the next crash unless written again; reads keep
//!     seeing their new contents; later syncs succeed and make only later writes durable.
//!   - `Xfs`: the pages as under ext4, and the file system shuts down, as XFS does when the
//!     failed block is its log or metadata (the study's "certain block writes always lead
//!     to unavailability"; braid takes that case for every failed sync): the unsynced
//!     writes of every file are lost, every later operation (and every one still pending)
//!     fails with an I/O error and changes nothing, until the machine restarts (`crash`).
//!   - `Btrfs`: the covered writes are lost and the file goes back to its durable image
//!     (reads see the old contents, and the old length).
//!   - `Retry` (lenient, braid before it modelled fsync failures; for engines not ready
//!     for the others): a failed sync changes nothing; the writes stay unsynced and the
//!     next successful sync makes them durable.
//!
//!   A raw `SimIO::new()` is lenient (`Retry`): the simulation sets the configured mode.
//! - Group faults, by label: `fail_group` errors one member of a labelled completion group;
//!   `cancel_group` aborts the whole innermost labelled group in flight. An aborted pending
//!   operation is dropped without touching data.
//! - Crash (`crash`): each write or truncate not yet durable (completed-but-unsynced and
//!   still pending) survives whole, is torn at 512-byte sector granularity (a prefix of its
//!   sector pieces, or any subset), or vanishes, as the loop's fate function decides; see
//!   `crash.rs`. Every pending operation is dropped and never finishes. Afterwards each
//!   file's durable and volatile images both equal durable-plus-survivors.
//! - Bit flips (`flip_bit`, off unless the loop calls it): flip one bit of durable data
//!   (and of the volatile copy where it still mirrors the durable byte). The engine must
//!   answer `Error::Corrupt`, never a wrong value.
//! - `IO::step()` completes the oldest pending operation successfully, ignoring holds, so
//!   `block_on` works on `SimIO` outside the simulation loop (setup, tests).
//!
//! Determinism: pending operations and files live in `BTreeMap`s keyed by sequential ids;
//! nothing depends on time, threads or hash order. `SimIO` is `Send + Sync` (one mutex) but
//! is meant to be driven by one thread.

mod crash;
mod faults;
mod file;
mod pending;
mod state;

pub use crash::{CrashReport, SECTOR_SIZE, UnsyncedKind, UnsyncedWrite, WriteFate};
pub use faults::{FaultCounts, FsyncFailure, kind as fault_kind};

use std::collections::VecDeque;
use std::hash::Hasher;
use std::sync::{Arc, Mutex, MutexGuard};

use braid_core::{Completion, File, IO, Result};

use super::hash::StableHasher;
use super::scheduler::IoCandidate;
use file::SimFile;
use state::{Delivery, FileData, SimState};

/// The kind of a pending operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// `File::pread`.
    Read,
    /// `File::pwrite`.
    Write,
    /// `File::sync`.
    Sync,
    /// `File::truncate`.
    Truncate,
}

impl OpKind {
    /// Stable lower-case name for timelines and reports.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Write => "write",
            OpKind::Sync => "sync",
            OpKind::Truncate => "truncate",
        }
    }

    fn error_fault(self) -> &'static str {
        match self {
            OpKind::Read => fault_kind::READ_ERROR,
            OpKind::Write => fault_kind::WRITE_ERROR,
            OpKind::Sync => fault_kind::SYNC_ERROR,
            OpKind::Truncate => fault_kind::TRUNCATE_ERROR,
        }
    }
}

/// A snapshot of one operation waiting for the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOp {
    /// Sequential id, in submission order.
    pub id: u64,
    /// What it does.
    pub kind: OpKind,
    /// Path of the file.
    pub file: String,
    /// Byte offset of a read or write; new length of a truncate; 0 for a sync.
    pub offset: u64,
    /// Bytes to read or write; 0 for a sync or truncate.
    pub len: u64,
    /// Labels of every completion group that (transitively) waits on it, innermost first.
    /// Read when the snapshot is taken: groups are often built after their members are
    /// submitted.
    pub group_labels: Vec<&'static str>,
    /// Decision at which it was submitted.
    pub submitted_at: u64,
    /// First decision at which it may complete (`hold` moves it later).
    pub ready_at: u64,
}

impl PendingOp {
    /// Whether it may complete at decision `now`.
    pub fn is_ready(&self, now: u64) -> bool {
        self.ready_at <= now
    }
}

/// How the simulator completes one pending operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOutcome {
    /// As asked: all bytes moved, or the sync/truncate done.
    Ok,
    /// Fails with this error; no data changes.
    Error(std::io::ErrorKind),
    /// A read or write moves only this many bytes (fewer than asked).
    Short(usize),
}

/// A request `SimIO` cannot carry out: a bug in the simulation loop, never a fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimIoError {
    /// No pending operation has this id (never submitted, already completed, or dropped).
    #[error("no pending operation with id {0}")]
    UnknownOp(u64),
    /// Only reads and writes can be short.
    #[error("operation {id} is a {kind:?}: only reads and writes can be short")]
    ShortNotApplicable { id: u64, kind: OpKind },
    /// A short transfer must move fewer bytes than asked.
    #[error("operation {id}: a short transfer of {moved} bytes is not shorter than {len}")]
    ShortNotShort { id: u64, moved: usize, len: usize },
    /// Group faults need an operation inside a labelled group.
    #[error("operation {0} belongs to no labelled completion group")]
    NotInGroup(u64),
    /// No file has this path.
    #[error("no simulated file {0:?}")]
    NoSuchFile(String),
    /// A bit flip must land inside the durable image.
    #[error("offset {offset} is past the durable end ({len} bytes) of {file:?}")]
    OutOfRange { file: String, offset: u64, len: u64 },
}

/// The simulator's I/O backend. Clones share the same files and pending operations.
#[derive(Clone, Default)]
pub struct SimIO {
    state: Arc<Mutex<SimState>>,
}

/// Locks `SimIO`'s state, ignoring poisoning so a panic elsewhere does not hide it.
pub(crate) fn lock(state: &Mutex<SimState>) -> MutexGuard<'_, SimState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SimIO {
    /// An empty file system at decision 0, lenient about failed syncs
    /// (`FsyncFailure::Retry`).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty file system at decision 0 whose failed syncs behave as `mode` says.
    pub fn with_fsync_failure(mode: FsyncFailure) -> Self {
        let io = Self::default();
        io.set_fsync_failure(mode);
        io
    }

    /// From now on a failed sync behaves as `mode` says.
    pub fn set_fsync_failure(&self, mode: FsyncFailure) {
        self.state().fsync_failure = mode;
    }

    /// What a failed sync does to the writes it covered.
    pub fn fsync_failure(&self) -> FsyncFailure {
        self.state().fsync_failure
    }

    /// Whether the file system is shut down after a failed sync (`FsyncFailure::Xfs`):
    /// every operation fails until the next crash.
    pub fn is_shut_down(&self) -> bool {
        self.state().shut_down
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        lock(&self.state)
    }

    /// Sets the clock to decision `now` (never backwards). Submissions are stamped with it
    /// and readiness is judged against it.
    pub fn set_now(&self, now: u64) {
        advance_clock(&mut self.state(), now);
    }

    /// Operations submitted so far (the id the next one will get).
    pub fn submitted(&self) -> u64 {
        self.state().next_op
    }

    /// The current decision.
    pub fn now(&self) -> u64 {
        self.state().now
    }

    /// Every operation still pending, in submission order (aborted ones are dropped first).
    pub fn pending_ops(&self) -> Vec<PendingOp> {
        let mut state = self.state();
        state.drop_finished();
        state
            .pending
            .iter()
            .map(|(&id, pending)| state.describe(id, pending))
            .collect()
    }

    /// The scheduler's view of every pending operation at decision `now`, in submission
    /// order (aborted ones are dropped first): `pending_ops()` without describing each one
    /// (no path or group labels copied). `out` is cleared first, so a caller can reuse it
    /// at every decision. Returns the earliest `ready_at` (None when nothing is pending).
    pub fn candidates_into(&self, now: u64, out: &mut Vec<IoCandidate>) -> Option<u64> {
        let mut state = self.state();
        list_candidates(&mut state, now, out)
    }

    /// `set_now(now)` and `candidates_into(now, out)` under one lock: what the simulation
    /// loop does at every decision that reaches the scheduler.
    pub fn begin_decision(&self, now: u64, out: &mut Vec<IoCandidate>) -> Option<u64> {
        let mut state = self.state();
        advance_clock(&mut state, now);
        list_candidates(&mut state, now, out)
    }

    /// Pending operation `id` described as in `pending_ops()`, if it is pending.
    pub fn pending_op(&self, id: u64) -> Option<PendingOp> {
        let mut state = self.state();
        state.drop_if_finished(id);
        let pending = state.pending.get(&id)?;
        Some(state.describe(id, pending))
    }

    /// Completes operation `id` with `outcome` and runs its callback.
    pub fn complete(&self, id: u64, outcome: IoOutcome) -> Result<(), SimIoError> {
        self.complete_counted(id, outcome, None)
    }

    fn complete_counted(
        &self,
        id: u64,
        outcome: IoOutcome,
        fault: Option<&'static str>,
    ) -> Result<(), SimIoError> {
        let delivery: Delivery = {
            let mut state = self.state();
            // Only this operation matters here: other aborted ones are dropped by the next
            // call that lists, holds or crashes pending operations.
            state.drop_if_finished(id);
            state.validate(id, outcome)?;
            state.complete(id, outcome, fault)
        };
        delivery.deliver();
        Ok(())
    }

    /// Latency: operation `id` may not complete before decision `until_decision`.
    pub fn hold(&self, id: u64, until_decision: u64) -> Result<(), SimIoError> {
        let mut state = self.state();
        state.drop_finished();
        let pending = state
            .pending
            .get_mut(&id)
            .ok_or(SimIoError::UnknownOp(id))?;
        pending.ready_at = pending.ready_at.max(until_decision);
        let labels = pending.completion.group_labels();
        state.faults.record(fault_kind::LATENCY, &labels);
        Ok(())
    }

    /// Fails operation `id`, a member of a labelled group, with `error`: the group then
    /// finishes with that error once its other members finish. Counted as `group-fail`.
    /// Returns the group's label.
    pub fn fail_group(
        &self,
        id: u64,
        error: std::io::ErrorKind,
    ) -> Result<&'static str, SimIoError> {
        let (_, label) = self.labelled_group_of(id)?;
        self.complete_counted(id, IoOutcome::Error(error), Some(fault_kind::GROUP_FAIL))?;
        Ok(label)
    }

    /// Aborts, in flight, the innermost labelled group that operation `id` belongs to: every
    /// unfinished member finishes `Aborted` and its operation is dropped without touching
    /// data. Returns the group's label and the ids of the operations it aborted, ascending.
    pub fn cancel_group(&self, id: u64) -> Result<(&'static str, Vec<u64>), SimIoError> {
        // `labelled_group_of` drops operations aborted earlier, so every pending operation
        // finished after the abort below was aborted by it.
        let (group, label) = self.labelled_group_of(id)?;
        {
            let mut state = self.state();
            let labels = state.pending.get(&id).map(|p| p.completion.group_labels());
            state
                .faults
                .record(fault_kind::GROUP_CANCEL, &labels.unwrap_or_default());
        }
        group.abort();
        let mut state = self.state();
        let aborted = state
            .pending
            .iter()
            .filter(|(_, pending)| pending.completion.finished())
            .map(|(&id, _)| id)
            .collect();
        state.drop_finished();
        Ok((label, aborted))
    }

    /// The innermost labelled group waiting on pending operation `id`.
    fn labelled_group_of(&self, id: u64) -> Result<(Completion, &'static str), SimIoError> {
        let completion = {
            let mut state = self.state();
            state.drop_finished();
            state
                .pending
                .get(&id)
                .ok_or(SimIoError::UnknownOp(id))?
                .completion
                .clone()
        };
        let mut frontier: VecDeque<Completion> = completion.groups().into();
        while let Some(group) = frontier.pop_front() {
            if let Some(label) = group.label() {
                return Ok((group, label));
            }
            frontier.extend(group.groups());
        }
        Err(SimIoError::NotInGroup(id))
    }

    /// Crashes the machine. `fate` decides, for each write not yet durable (see `crash.rs`
    /// for the order), what reached the disk; it is called without `SimIO`'s lock held.
    pub fn crash(&self, fate: &mut dyn FnMut(&UnsyncedWrite) -> WriteFate) -> CrashReport {
        let candidates = {
            let mut state = self.state();
            state.drop_finished();
            state.crash_candidates()
        };
        let fates = candidates
            .into_iter()
            .map(|candidate| {
                let chosen = fate(&candidate.described);
                (candidate, chosen)
            })
            .collect();
        self.state().apply_crash(fates)
    }

    /// Flips bit `bit` (0..8) of the durable byte at `offset` of `path`, and of the volatile
    /// byte there if it still equals the durable one.
    pub fn flip_bit(&self, path: &str, offset: u64, bit: u8) -> Result<(), SimIoError> {
        assert!(bit < 8, "bit {bit} is not a bit of a byte");
        let mut state = self.state();
        let id = *state
            .names
            .get(path)
            .ok_or_else(|| SimIoError::NoSuchFile(path.into()))?;
        let file = state.files.get_mut(&id).expect("every named file has data");
        let index = usize::try_from(offset).unwrap_or(usize::MAX);
        let Some(&old) = file.durable.get(index) else {
            let len = file.durable.len() as u64;
            return Err(SimIoError::OutOfRange {
                file: path.into(),
                offset,
                len,
            });
        };
        file.durable[index] = old ^ (1 << bit);
        if file.volatile.get(index) == Some(&old) {
            file.volatile[index] = old ^ (1 << bit);
        }
        state.faults.record(fault_kind::BIT_FLIP, &[]);
        Ok(())
    }

    /// Faults injected so far.
    pub fn fault_counts(&self) -> FaultCounts {
        self.state().faults.clone()
    }

    /// A copy of the durable image of `path`, if the file exists.
    pub fn durable_image(&self, path: &str) -> Option<Vec<u8>> {
        let state = self.state();
        let id = state.names.get(path)?;
        state.files.get(id).map(|f| f.durable.clone())
    }

    /// A member of `group` (directly or through nested groups) that completed with a
    /// fault, described, if one did recently (see `SimState::member_failures`).
    pub fn failed_member_of(&self, group: &Completion) -> Option<String> {
        let state = self.state();
        state
            .member_failures
            .iter()
            .rev()
            .find(|(g, _)| g.same_as(group))
            .map(|(_, what)| what.clone())
    }

    /// A pending operation, not yet finished, that belongs to `group` (directly or through
    /// nested groups): a group that finished while it waits finished early.
    pub fn unfinished_member_of(&self, group: &Completion) -> Option<PendingOp> {
        let state = self.state();
        state.pending.iter().find_map(|(id, pending)| {
            let mut frontier: VecDeque<Completion> = pending.completion.groups().into();
            while let Some(g) = frontier.pop_front() {
                if g.same_as(group) {
                    return (!pending.completion.finished()).then(|| state.describe(*id, pending));
                }
                frontier.extend(g.groups());
            }
            None
        })
    }

    /// How many syncs of `path` have completed successfully so far (0 for no such file).
    /// After each one, everything written to the file before it is durable.
    pub fn syncs_completed(&self, path: &str) -> u64 {
        self.sync_count(path, |f| f.syncs_completed)
    }

    /// How many syncs of `path` have failed so far (0 for no such file). Unless the mode is
    /// `FsyncFailure::Retry`, each lost the writes it covered.
    pub fn syncs_failed(&self, path: &str) -> u64 {
        self.sync_count(path, |f| f.syncs_failed)
    }

    /// One of `path`'s sync counters, 0 for no such file.
    fn sync_count(&self, path: &str, counter: impl Fn(&FileData) -> u64) -> u64 {
        let state = self.state();
        state
            .names
            .get(path)
            .and_then(|id| state.files.get(id))
            .map_or(0, counter)
    }

    /// A copy of the volatile image of `path` (what reads see), if the file exists.
    pub fn volatile_image(&self, path: &str) -> Option<Vec<u8>> {
        let state = self.state();
        let id = state.names.get(path)?;
        state.files.get(id).map(|f| f.volatile.clone())
    }

    /// A stable hash of every file's path and both images, for determinism checks.
    pub fn images_hash(&self) -> u64 {
        let state = self.state();
        let mut hasher = StableHasher::new();
        for (path, id) in &state.names {
            let file = state.files.get(id).expect("every named file has data");
            hasher.write_str(path);
            hasher.write_u64(file.durable.len() as u64);
            hasher.write(&file.durable);
            hasher.write_u64(file.volatile.len() as u64);
            hasher.write(&file.volatile);
        }
        hasher.finish()
    }
}

/// Moves the clock to decision `now`; it never goes back.
fn advance_clock(state: &mut SimState, now: u64) {
    assert!(
        now >= state.now,
        "the clock went back from {} to {now}",
        state.now
    );
    state.now = now;
}

/// Drops aborted operations and lists the rest for the scheduler (see `candidates_into`).
fn list_candidates(state: &mut SimState, now: u64, out: &mut Vec<IoCandidate>) -> Option<u64> {
    // One pass lists the unfinished operations and finds the earliest ready time; the
    // finished (aborted) ones, rare, are dropped afterwards, leaving what `drop_finished`
    // first and a listing after it would leave.
    out.clear();
    let mut earliest_ready: Option<u64> = None;
    let mut any_finished = false;
    for (&id, pending) in &state.pending {
        if pending.completion.finished() {
            any_finished = true;
            continue;
        }
        out.push(IoCandidate {
            id,
            ready: pending.ready_at <= now,
        });
        earliest_ready = Some(earliest_ready.map_or(pending.ready_at, |e| e.min(pending.ready_at)));
    }
    if any_finished {
        state.drop_finished();
    }
    earliest_ready
}

impl IO for SimIO {
    fn open_file(&self, path: &str) -> Result<Arc<dyn File>> {
        let id = self.state().open(path);
        Ok(Arc::new(SimFile {
            state: self.state.clone(),
            id,
        }))
    }

    fn remove_file(&self, path: &str) -> Result<()> {
        let mut state = self.state();
        if let Some(id) = state.names.remove(path) {
            state.files.remove(&id);
        }
        Ok(())
    }

    fn file_exists(&self, path: &str) -> Result<bool> {
        Ok(self.state().names.contains_key(path))
    }

    fn step(&self) -> Result<()> {
        let oldest = {
            let mut state = self.state();
            state.drop_finished();
            state.pending.keys().next().copied()
        };
        if let Some(id) = oldest {
            self.complete(id, IoOutcome::Ok)
                .expect("the oldest pending operation exists");
        }
        Ok(())
    }

    fn pending(&self) -> usize {
        let mut state = self.state();
        state.drop_finished();
        state.pending.len()
    }
}

impl std::fmt::Debug for SimIO {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("SimIO")
            .field("now", &state.now)
            .field("files", &state.names.keys().collect::<Vec<_>>())
            .field("pending", &state.pending.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_decision_moves_the_clock_and_lists_what_candidates_into_lists() {
        let io = SimIO::new();
        let file = io.open_file("f").expect("open");
        file.pwrite(0, b"abc", Completion::new_noop())
            .expect("submit write");
        io.set_now(3);
        io.hold(0, 9).expect("the write is pending");
        file.sync(Completion::new_noop()).expect("submit sync");
        let mut listed = Vec::new();
        let mut begun = Vec::new();
        assert_eq!(io.candidates_into(5, &mut listed), Some(3));
        assert_eq!(io.now(), 3, "candidates_into leaves the clock alone");
        assert_eq!(io.begin_decision(5, &mut begun), Some(3));
        assert_eq!(io.now(), 5);
        assert_eq!(listed, begun);
        let expected = vec![
            IoCandidate {
                id: 0,
                ready: false,
            },
            IoCandidate { id: 1, ready: true },
        ];
        assert_eq!(begun, expected, "the held write waits until decision 9");
    }

    #[test]
    fn an_aborted_operation_is_neither_listed_nor_counted_in_the_earliest_ready_time() {
        let io = SimIO::new();
        let file = io.open_file("f").expect("open");
        io.set_now(2);
        let aborted = Completion::new_noop();
        file.sync(aborted.clone()).expect("submit sync");
        io.set_now(4);
        file.pwrite(0, b"abc", Completion::new_noop())
            .expect("submit write");
        io.hold(1, 7).expect("the write is pending");
        let mut listed = Vec::new();
        assert_eq!(io.begin_decision(5, &mut listed), Some(2));
        assert_eq!(listed.len(), 2);
        aborted.abort();
        assert_eq!(
            io.begin_decision(5, &mut listed),
            Some(7),
            "the aborted sync was the earliest"
        );
        assert_eq!(
            listed,
            vec![IoCandidate {
                id: 1,
                ready: false
            }]
        );
        assert_eq!(io.pending(), 1, "the aborted sync is dropped");
        aborted.abort();
        assert_eq!(io.begin_decision(7, &mut listed), Some(7));
        assert_eq!(listed, vec![IoCandidate { id: 1, ready: true }]);
    }

    #[test]
    #[should_panic(expected = "the clock went back")]
    fn begin_decision_never_moves_the_clock_back() {
        let io = SimIO::new();
        io.set_now(4);
        io.begin_decision(3, &mut Vec::new());
    }
}
