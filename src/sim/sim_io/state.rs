//! The state behind one `SimIO`: files with their durable and volatile images, the writes
//! not yet made durable, and the operations still pending. Everything here runs under
//! `SimIO`'s mutex; completions are finished by the caller after the lock is released.

use std::collections::{BTreeMap, VecDeque};

use braid_core::{Completion, CompletionError, CompletionResult};

use super::faults::{FaultCounts, FsyncFailure, kind};
use super::pending::PendingOps;
use super::{IoOutcome, OpKind, PendingOp, SimIoError};

/// Identity of one file for its whole life (a path removed and created again gets a new one).
pub(crate) type FileId = u64;

/// What a pending operation will do when completed.
#[derive(Debug, Clone)]
pub(crate) enum OpData {
    Read { offset: u64, len: usize },
    Write { offset: u64, bytes: Vec<u8> },
    Sync,
    Truncate { len: u64 },
}

impl OpData {
    pub(crate) fn kind(&self) -> OpKind {
        match self {
            OpData::Read { .. } => OpKind::Read,
            OpData::Write { .. } => OpKind::Write,
            OpData::Sync => OpKind::Sync,
            OpData::Truncate { .. } => OpKind::Truncate,
        }
    }
}

/// A submitted operation waiting for the simulator.
pub(crate) struct Pending {
    pub(crate) file: FileId,
    pub(crate) data: OpData,
    pub(crate) completion: Completion,
    pub(crate) submitted_at: u64,
    pub(crate) ready_at: u64,
}

/// A completed write or truncate that no sync has made durable yet.
#[derive(Debug, Clone)]
pub(crate) struct Unsynced {
    pub(crate) op_id: u64,
    /// Global completion order, across files.
    pub(crate) completed_seq: u64,
    pub(crate) data: OpData,
}

/// One file's two images.
pub(crate) struct FileData {
    pub(crate) path: String,
    /// What survives a crash for certain.
    pub(crate) durable: Vec<u8>,
    /// What reads see: durable plus every write completed since.
    pub(crate) volatile: Vec<u8>,
    /// Completed writes and truncates since the last successful sync, in completion order.
    pub(crate) unsynced: Vec<Unsynced>,
    /// Syncs of this file that completed successfully, ever (a crash keeps the count).
    pub(crate) syncs_completed: u64,
    /// Syncs of this file that failed, ever (a crash keeps the count).
    pub(crate) syncs_failed: u64,
    /// Whether the volatile image holds bytes outside `unsynced` that are not durable: a
    /// failed sync marked writes clean without making them durable (`FsyncFailure::Ext4`,
    /// `Xfs`). Until a crash makes both images equal again, a sync must not copy the
    /// volatile image wholesale.
    pub(crate) diverged: bool,
}

/// Everything `SimIO` knows.
#[derive(Default)]
pub(crate) struct SimState {
    pub(crate) files: BTreeMap<FileId, FileData>,
    pub(crate) names: BTreeMap<String, FileId>,
    pub(crate) next_file: FileId,
    pub(crate) pending: PendingOps<Pending>,
    pub(crate) next_op: u64,
    pub(crate) next_completed_seq: u64,
    /// The simulator's clock, in decisions.
    pub(crate) now: u64,
    pub(crate) faults: FaultCounts,
    /// The newest groups with a member that completed with a fault, each with that
    /// member's description (`MEMBER_FAILURES_KEPT` at most, oldest dropped first).
    pub(crate) member_failures: VecDeque<(Completion, String)>,
    /// What a failed sync does to the writes it covered.
    pub(crate) fsync_failure: FsyncFailure,
    /// Set by a failed sync under `FsyncFailure::Xfs`: every operation fails and nothing
    /// reaches the disk until the next crash.
    pub(crate) shut_down: bool,
}

/// Group failures `SimState::member_failures` keeps: far more than can be awaited at once.
const MEMBER_FAILURES_KEPT: usize = 64;

/// The outcome to deliver to a completion once the lock is released.
pub(crate) struct Delivery {
    pub(crate) completion: Completion,
    pub(crate) result: CompletionResult,
    pub(crate) read_buffer: Option<Vec<u8>>,
}

impl Delivery {
    /// Finishes the completion (runs its callback): call without holding `SimIO`'s lock.
    pub(crate) fn deliver(self) {
        if let Some(bytes) = self.read_buffer {
            self.completion.set_read_buffer(bytes);
        }
        match self.result {
            Ok(n) => self.completion.complete(n),
            Err(e) => self.completion.error(e),
        }
    }
}

impl SimState {
    pub(crate) fn open(&mut self, path: &str) -> FileId {
        if let Some(&id) = self.names.get(path) {
            return id;
        }
        let id = self.next_file;
        self.next_file += 1;
        let data = FileData {
            path: path.to_string(),
            durable: Vec::new(),
            volatile: Vec::new(),
            unsynced: Vec::new(),
            syncs_completed: 0,
            syncs_failed: 0,
            diverged: false,
        };
        self.files.insert(id, data);
        self.names.insert(path.to_string(), id);
        id
    }

    pub(crate) fn submit(&mut self, file: FileId, data: OpData, completion: Completion) -> u64 {
        let id = self.next_op;
        self.next_op += 1;
        let pending = Pending {
            file,
            data,
            completion,
            submitted_at: self.now,
            ready_at: self.now,
        };
        self.pending.insert(id, pending);
        id
    }

    /// Drops pending operations whose completion already finished (aborted, directly or
    /// through a group): they never touch data.
    pub(crate) fn drop_finished(&mut self) {
        self.pending
            .retain(|_, pending| !pending.completion.finished());
    }

    /// Drops operation `id` if its completion already finished (aborted): what
    /// `drop_finished` does for that one operation, without a pass over all of them.
    pub(crate) fn drop_if_finished(&mut self, id: u64) {
        if self
            .pending
            .get(&id)
            .is_some_and(|pending| pending.completion.finished())
        {
            self.pending.remove(&id);
        }
    }

    pub(crate) fn describe(&self, id: u64, pending: &Pending) -> PendingOp {
        let (offset, len) = match &pending.data {
            OpData::Read { offset, len } => (*offset, *len as u64),
            OpData::Write { offset, bytes } => (*offset, bytes.len() as u64),
            OpData::Sync => (0, 0),
            OpData::Truncate { len } => (*len, 0),
        };
        let file = self
            .files
            .get(&pending.file)
            .map_or_else(String::new, |f| f.path.clone());
        PendingOp {
            id,
            kind: pending.data.kind(),
            file,
            offset,
            len,
            group_labels: pending.completion.group_labels(),
            submitted_at: pending.submitted_at,
            ready_at: pending.ready_at,
        }
    }

    /// Remembers that `member` completed with a fault, for every group it belongs to,
    /// directly or through nested groups.
    fn remember_member_failure(&mut self, member: &Completion, what: &str) {
        let mut frontier: VecDeque<Completion> = member.groups().into();
        while let Some(group) = frontier.pop_front() {
            frontier.extend(group.groups());
            if self.member_failures.len() == MEMBER_FAILURES_KEPT {
                self.member_failures.pop_front();
            }
            self.member_failures.push_back((group, what.to_string()));
        }
    }

    /// Checks that `outcome` makes sense for operation `id`.
    pub(crate) fn validate(&self, id: u64, outcome: IoOutcome) -> Result<(), SimIoError> {
        let pending = self.pending.get(&id).ok_or(SimIoError::UnknownOp(id))?;
        if let IoOutcome::Short(n) = outcome {
            let len = match &pending.data {
                OpData::Read { len, .. } => *len,
                OpData::Write { bytes, .. } => bytes.len(),
                OpData::Sync | OpData::Truncate { .. } => {
                    return Err(SimIoError::ShortNotApplicable {
                        id,
                        kind: pending.data.kind(),
                    });
                }
            };
            if n >= len {
                return Err(SimIoError::ShortNotShort { id, moved: n, len });
            }
        }
        Ok(())
    }

    /// Removes operation `id`, applies `outcome` to the images and counts the fault (as
    /// `fault_kind` when given, else by the outcome). Call `validate` first.
    pub(crate) fn complete(
        &mut self,
        id: u64,
        outcome: IoOutcome,
        fault_kind: Option<&'static str>,
    ) -> Delivery {
        let pending = self
            .pending
            .remove(&id)
            .expect("validated: the operation is pending");
        let op_kind = pending.data.kind();
        // A shut-down file system refuses everything, whatever the loop asked for.
        let (outcome, fault_kind) = if self.shut_down {
            let refused = IoOutcome::Error(std::io::ErrorKind::Other);
            (refused, Some(kind::FS_SHUTDOWN))
        } else {
            (outcome, fault_kind)
        };
        let fault = fault_kind.or(match outcome {
            IoOutcome::Ok => None,
            IoOutcome::Error(_) => Some(op_kind.error_fault()),
            IoOutcome::Short(_) if op_kind == OpKind::Read => Some(kind::SHORT_READ),
            IoOutcome::Short(_) => Some(kind::SHORT_WRITE),
        });
        if let Some(fault) = fault {
            self.faults
                .record(fault, &pending.completion.group_labels());
            let member = self.describe(id, &pending);
            let what = format!(
                "member #{id} {} {}@{}+{} completed with {fault}",
                member.kind.name(),
                member.file,
                member.offset,
                member.len
            );
            self.remember_member_failure(&pending.completion, &what);
        }
        let completed_seq = self.next_completed_seq;
        self.next_completed_seq += 1;
        let failed_sync = matches!(
            (&pending.data, outcome, self.shut_down),
            (OpData::Sync, IoOutcome::Error(_), false)
        );
        let (result, read_buffer) = match self.files.get_mut(&pending.file) {
            None => (Err(CompletionError::Io(std::io::ErrorKind::NotFound)), None),
            Some(file) => file.apply(id, completed_seq, pending.data, outcome),
        };
        if failed_sync {
            self.sync_failed(pending.file);
        }
        Delivery {
            completion: pending.completion,
            result,
            read_buffer,
        }
    }
}

impl SimState {
    /// A sync of `file` failed: what happens to the writes it covered depends on the file
    /// system (`FsyncFailure`; the fault model in mod.rs says what each mode does).
    fn sync_failed(&mut self, file: FileId) {
        let mode = self.fsync_failure;
        let mut lost = 0;
        if let Some(data) = self.files.get_mut(&file) {
            data.syncs_failed += 1;
            lost += data.lose_unsynced(mode);
        }
        if mode == FsyncFailure::Xfs {
            // The shutdown stops writeback of every file, not only the one synced.
            for data in self.files.values_mut() {
                lost += data.lose_unsynced(mode);
            }
            self.shut_down = true;
        }
        for _ in 0..lost {
            self.faults.record(kind::SYNC_LOST_WRITE, &[]);
        }
    }
}

impl FileData {
    /// Marks every unsynced write clean without making it durable, as a failed sync under
    /// `mode` does; returns how many were lost. Ext4 and XFS keep the new contents in the
    /// volatile image (reads still see them), Btrfs puts back the durable image; `Retry`
    /// loses nothing.
    fn lose_unsynced(&mut self, mode: FsyncFailure) -> usize {
        let lost = self.unsynced.len();
        match mode {
            FsyncFailure::Retry => return 0,
            FsyncFailure::Ext4 | FsyncFailure::Xfs => {
                self.diverged |= lost > 0;
            }
            FsyncFailure::Btrfs => {
                // Outside the unsynced writes the volatile image already mirrors the
                // durable one (or holds what an earlier lossy failure left there, which a
                // Btrfs file system never does).
                self.volatile.clone_from(&self.durable);
            }
        }
        self.unsynced.clear();
        lost
    }

    /// Applies one operation's outcome: writes land in the volatile image, a successful
    /// sync makes the unsynced writes durable, failures change no data (what a failed sync
    /// does to the writes it covered is `SimState::sync_failed`'s business).
    fn apply(
        &mut self,
        op_id: u64,
        completed_seq: u64,
        data: OpData,
        outcome: IoOutcome,
    ) -> (CompletionResult, Option<Vec<u8>>) {
        if let IoOutcome::Error(error_kind) = outcome {
            return (Err(CompletionError::Io(error_kind)), None);
        }
        let limit = match outcome {
            IoOutcome::Short(n) => n,
            IoOutcome::Ok | IoOutcome::Error(_) => usize::MAX,
        };
        match data {
            OpData::Read { offset, len } => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(self.volatile.len());
                let end = start
                    .saturating_add(len.min(limit))
                    .min(self.volatile.len());
                let bytes = self.volatile[start..end].to_vec();
                (Ok(byte_count(bytes.len())), Some(bytes))
            }
            OpData::Write { offset, mut bytes } => {
                bytes.truncate(limit);
                write_at(&mut self.volatile, offset, &bytes);
                let moved = byte_count(bytes.len());
                let data = OpData::Write { offset, bytes };
                self.unsynced.push(Unsynced {
                    op_id,
                    completed_seq,
                    data,
                });
                (Ok(moved), None)
            }
            OpData::Sync => {
                self.make_durable();
                self.syncs_completed += 1;
                (Ok(0), None)
            }
            OpData::Truncate { len } => {
                self.volatile.resize(file_len(len), 0);
                self.unsynced.push(Unsynced {
                    op_id,
                    completed_seq,
                    data,
                });
                (Ok(0), None)
            }
        }
    }

    /// A successful sync: the durable image becomes the volatile one, or, after a failed
    /// sync lost writes the volatile image still shows (`diverged`), the durable image with
    /// the unsynced writes and truncates applied in the order they completed.
    ///
    /// Outside the byte ranges of the unsynced writes the two images are already equal
    /// (every change to the volatile image is recorded in `unsynced` until a sync or a
    /// crash makes both images equal again; a bit flip changes the volatile byte only where
    /// it equalled the durable one), so only those ranges are copied, not the whole file.
    /// A truncate may have cut or zero-filled anything past its length: then the whole
    /// image is copied.
    fn make_durable(&mut self) {
        if self.diverged {
            for unsynced in &self.unsynced {
                match &unsynced.data {
                    OpData::Write { offset, bytes } => write_at(&mut self.durable, *offset, bytes),
                    OpData::Truncate { len } => self.durable.resize(file_len(*len), 0),
                    OpData::Read { .. } | OpData::Sync => {}
                }
            }
            self.unsynced.clear();
            self.diverged = self.durable != self.volatile;
            return;
        }
        let truncated = self
            .unsynced
            .iter()
            .any(|unsynced| matches!(unsynced.data, OpData::Truncate { .. }));
        if truncated || self.volatile.len() < self.durable.len() {
            self.durable.clone_from(&self.volatile);
        } else {
            // Bytes past the old durable end that no write covers are the zeros
            // `write_at` filled the volatile image with.
            self.durable.resize(self.volatile.len(), 0);
            for unsynced in &self.unsynced {
                if let OpData::Write { offset, bytes } = &unsynced.data {
                    let start = file_len(*offset);
                    let end = start + bytes.len();
                    self.durable[start..end].copy_from_slice(&self.volatile[start..end]);
                }
            }
        }
        debug_assert!(
            self.durable == self.volatile,
            "after a sync the durable image of {} equals the volatile one",
            self.path
        );
        self.unsynced.clear();
    }
}

fn byte_count(n: usize) -> i32 {
    i32::try_from(n).expect("a single I/O moves fewer than 2 GiB")
}

pub(crate) fn file_len(len: u64) -> usize {
    usize::try_from(len).expect("simulated files fit in memory")
}

/// Writes `bytes` at `offset`, growing the image with zeros as needed.
pub(crate) fn write_at(image: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let start = file_len(offset);
    let end = start + bytes.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[start..end].copy_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Submits `data` to file `id` and completes it with `outcome`.
    fn run(state: &mut SimState, id: FileId, data: OpData, outcome: IoOutcome) {
        let op = state.submit(id, data, Completion::new_noop());
        state.validate(op, outcome).expect("a valid outcome");
        state.complete(op, outcome, None).deliver();
    }

    fn write(offset: u64, bytes: &[u8]) -> OpData {
        OpData::Write {
            offset,
            bytes: bytes.to_vec(),
        }
    }

    fn images(state: &SimState, id: FileId) -> (Vec<u8>, Vec<u8>) {
        let file = &state.files[&id];
        (file.durable.clone(), file.volatile.clone())
    }

    #[test]
    fn a_sync_makes_every_unsynced_write_durable_and_nothing_else_changes() {
        let mut state = SimState::default();
        let id = state.open("f");
        run(&mut state, id, write(0, &[1; 10]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        // Overlapping writes, a short one, one past the end leaving a zero gap.
        run(&mut state, id, write(2, &[2; 4]), IoOutcome::Ok);
        run(&mut state, id, write(4, &[3; 4]), IoOutcome::Short(2));
        run(&mut state, id, write(20, &[4; 3]), IoOutcome::Ok);
        run(
            &mut state,
            id,
            write(0, &[9; 2]),
            IoOutcome::Error(std::io::ErrorKind::Other),
        );
        let (durable, volatile) = images(&state, id);
        assert_eq!(durable, vec![1; 10], "nothing is durable before the sync");
        let mut expected = vec![1, 1, 2, 2, 3, 3, 1, 1, 1, 1];
        expected.extend([0; 10]);
        expected.extend([4; 3]);
        assert_eq!(volatile, expected);
        run(
            &mut state,
            id,
            OpData::Sync,
            IoOutcome::Error(std::io::ErrorKind::Other),
        );
        assert_eq!(
            images(&state, id).0,
            vec![1; 10],
            "a failed sync changes nothing"
        );
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        let (durable, volatile) = images(&state, id);
        assert_eq!(durable, expected);
        assert_eq!(volatile, expected);
        assert!(state.files[&id].unsynced.is_empty());
    }

    fn under(fsync_failure: FsyncFailure) -> SimState {
        SimState {
            fsync_failure,
            ..SimState::default()
        }
    }

    fn failed() -> IoOutcome {
        IoOutcome::Error(std::io::ErrorKind::Other)
    }

    #[test]
    fn under_ext4_a_failed_sync_loses_what_it_covered_and_reads_still_see_it() {
        let mut state = under(FsyncFailure::Ext4);
        let id = state.open("f");
        run(&mut state, id, write(0, &[1; 8]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        run(&mut state, id, write(2, &[2; 2]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, failed());
        let lost = vec![1, 1, 2, 2, 1, 1, 1, 1];
        assert_eq!(images(&state, id), (vec![1; 8], lost.clone()));
        assert!(state.files[&id].unsynced.is_empty(), "marked clean");
        assert!(
            state.crash_candidates().is_empty(),
            "a crash is offered nothing"
        );
        // A later write and a successful sync make only that write durable.
        run(&mut state, id, write(6, &[3; 4]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        let (durable, volatile) = images(&state, id);
        assert_eq!(durable, vec![1, 1, 1, 1, 1, 1, 3, 3, 3, 3]);
        assert_eq!(volatile, vec![1, 1, 2, 2, 1, 1, 3, 3, 3, 3]);
        assert_eq!(state.files[&id].syncs_failed, 1);
        assert_eq!(state.faults.count(kind::SYNC_LOST_WRITE), 1);
        // Writing the lost bytes again is what makes them durable.
        run(&mut state, id, write(2, &[2; 2]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        let (durable, volatile) = images(&state, id);
        assert_eq!(durable, volatile);
        assert!(!state.files[&id].diverged);
    }

    #[test]
    fn under_ext4_a_truncate_after_a_lost_write_is_applied_to_the_durable_image() {
        let mut state = under(FsyncFailure::Ext4);
        let id = state.open("f");
        run(&mut state, id, write(0, &[1; 6]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        run(&mut state, id, write(0, &[2; 2]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, failed());
        run(&mut state, id, OpData::Truncate { len: 4 }, IoOutcome::Ok);
        run(&mut state, id, write(5, &[4]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        let (durable, volatile) = images(&state, id);
        assert_eq!(durable, vec![1, 1, 1, 1, 0, 4]);
        assert_eq!(volatile, vec![2, 2, 1, 1, 0, 4]);
    }

    #[test]
    fn under_btrfs_a_failed_sync_puts_the_durable_image_back() {
        let mut state = under(FsyncFailure::Btrfs);
        let id = state.open("f");
        run(&mut state, id, write(0, &[1; 4]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        run(&mut state, id, write(2, &[2; 4]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, failed());
        assert_eq!(images(&state, id), (vec![1; 4], vec![1; 4]));
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        assert_eq!(images(&state, id), (vec![1; 4], vec![1; 4]));
    }

    #[test]
    fn under_xfs_a_failed_sync_shuts_every_file_down_until_a_crash() {
        let mut state = under(FsyncFailure::Xfs);
        let (a, b) = (state.open("a"), state.open("b"));
        run(&mut state, b, write(0, &[7; 2]), IoOutcome::Ok);
        run(&mut state, a, write(0, &[1; 2]), IoOutcome::Ok);
        let pending = state.submit(b, write(4, &[8]), Completion::new_noop());
        run(&mut state, a, OpData::Sync, failed());
        assert!(state.shut_down);
        assert_eq!(
            state.faults.count(kind::SYNC_LOST_WRITE),
            2,
            "both files' writes"
        );
        // Everything now fails and changes nothing, whatever the loop asks.
        let read = Completion::new_read(2, |_| {});
        let op = state.submit(a, OpData::Read { offset: 0, len: 2 }, read.clone());
        state.complete(op, IoOutcome::Ok, None).deliver();
        assert!(read.failed());
        run(&mut state, b, OpData::Sync, IoOutcome::Ok);
        assert_eq!(state.files[&b].syncs_completed, 0);
        assert_eq!(state.faults.count(kind::FS_SHUTDOWN), 2);
        // Nothing pending reaches the disk at the crash, and the restart ends the shutdown.
        assert!(state.crash_candidates().is_empty());
        assert!(state.pending.get(&pending).is_some());
        state.apply_crash(Vec::new());
        assert!(!state.shut_down);
        assert_eq!(images(&state, a), (Vec::new(), Vec::new()));
        assert_eq!(images(&state, b), (Vec::new(), Vec::new()));
    }

    #[test]
    fn a_sync_after_a_truncate_copies_the_cut_and_the_regrown_tail() {
        let mut state = SimState::default();
        let id = state.open("f");
        run(&mut state, id, write(0, &[7; 16]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        run(&mut state, id, OpData::Truncate { len: 4 }, IoOutcome::Ok);
        run(&mut state, id, write(10, &[5; 2]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        let mut expected = vec![7; 4];
        expected.extend([0; 6]);
        expected.extend([5; 2]);
        assert_eq!(images(&state, id), (expected.clone(), expected));
    }

    #[test]
    fn a_sync_keeps_a_bit_flip_wherever_the_volatile_image_kept_it() {
        let mut state = SimState::default();
        let id = state.open("f");
        run(&mut state, id, write(0, &[0; 8]), IoOutcome::Ok);
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        // Byte 1 is rewritten with the value it had, byte 5 with a new one, byte 7 not at
        // all; then all three are flipped the way `SimIO::flip_bit` does.
        run(&mut state, id, write(1, &[0]), IoOutcome::Ok);
        run(&mut state, id, write(5, &[6]), IoOutcome::Ok);
        let file = state.files.get_mut(&id).expect("open");
        for index in [1, 5, 7] {
            let old = file.durable[index];
            file.durable[index] = old ^ 1;
            if file.volatile[index] == old {
                file.volatile[index] = old ^ 1;
            }
        }
        run(&mut state, id, OpData::Sync, IoOutcome::Ok);
        let expected = vec![0, 1, 0, 0, 0, 6, 0, 1];
        assert_eq!(images(&state, id), (expected.clone(), expected));
    }
}
