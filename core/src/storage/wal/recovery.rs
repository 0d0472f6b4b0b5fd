//! Recovery: reading the WAL back on open, as a re-entrant state machine.
//!
//! What survives: every frame up to the last commit frame such that the header is valid,
//! every frame on the way carries the header's salts, the checksum chain holds from the
//! header through that frame, every page image verifies against its page checksum, and
//! commit sequences grow. The first frame failing any check ends the scan: it and
//! everything after it (a torn or stale tail) are ignored, as are frames after the last
//! valid commit frame (a commit that never finished). The yield point `Recovery` sits
//! before each frame is checked.
//!
//! Damage is not a tail: under full sync, where at most the one unacknowledged commit can
//! be unsynced at a crash, the frames after a break are probed, and an intact commit
//! frame two or more sequences past the last recovered commit makes the WAL
//! `Error::Corrupt` (a bit flip in the middle of the log must never silently drop
//! acknowledged commits); commits at or below the database's checkpoint sequence do not
//! count, the database file holds them.
//!
//! Frames older than the database file: if the last recovered commit is below the
//! database header's checkpoint sequence, the WAL is the previous generation left behind
//! by a restart whose new header never landed; every page it holds has a newer version
//! in the database file, so nothing is recovered from it. A flip inside the last commit's own frames is
//! indistinguishable from a torn tail and drops that commit.

use std::sync::Arc;

use super::WalIndex;
use super::format::{
    FRAME_HEADER_SIZE, WAL_HEADER_SIZE, WalHeader, decode_frame, frame_offset, frame_salts,
    frame_size,
};
use crate::canary::Canary;
use crate::error::Corruption;
use crate::io::{
    Completion, File, FlowResult, IOResult, MachineState, finish, next_state, run_machine,
};
use crate::options::{DbOptions, SyncMode};
use crate::storage::format::{DbHeader, HEADER_PAGE, verify_page};
use crate::storage::page_access::PageNo;
use crate::yields::YieldPoint;
use crate::{Error, Result, io_yield_one};

/// Frames read per I/O during recovery.
const FRAMES_PER_READ: u32 = 64;
const _: () = assert!(FRAMES_PER_READ > 0);

/// Where recovery is.
#[derive(Debug, Default)]
enum RecoveryState {
    /// Nothing read yet.
    Start,
    /// Waiting for the header read.
    WaitHeader {
        read: Completion,
        frames_on_disk: u32,
    },
    /// Waiting for the read of `count` frames starting at `first`.
    WaitChunk {
        read: Completion,
        first: u32,
        count: u32,
    },
    /// Checking the frames of a read chunk one by one.
    CheckFrames {
        chunk: Vec<u8>,
        first: u32,
        count: u32,
        next: u32,
        yield_taken: bool,
    },
    /// Finished.
    #[default]
    Finished,
}

impl MachineState for RecoveryState {
    fn waiting_on(&self) -> Option<&Completion> {
        match self {
            RecoveryState::WaitHeader { read, .. } | RecoveryState::WaitChunk { read, .. } => {
                Some(read)
            }
            RecoveryState::Start | RecoveryState::CheckFrames { .. } | RecoveryState::Finished => {
                None
            }
        }
    }
}

/// What recovery found.
#[derive(Debug)]
pub(crate) struct RecoveredWal {
    /// The index of every recovered frame (empty if none).
    pub(crate) index: WalIndex,
    /// Commit sequence of the last recovered commit.
    pub(crate) last_seq: Option<u64>,
    /// The header page as of the last recovered commit that wrote it.
    pub(crate) header: Option<DbHeader>,
    /// Checkpoint sequence in the WAL header, if the header was valid.
    pub(crate) wal_checkpoint_seq: Option<u64>,
    /// Bytes of the WAL that matter: the header and the recovered frames (0 when the
    /// next commit writes a new header). Anything after is a torn or stale tail.
    pub(crate) valid_len: u64,
}

/// The recovery state machine.
pub(crate) struct WalRecovery {
    wal: Arc<dyn File>,
    options: DbOptions,
    page_size: usize,
    /// Checkpoint sequence of the database file (names a new generation).
    db_checkpoint_seq: u64,
    state: RecoveryState,
    // Progress, advanced only after the frame it describes has been checked.
    header: Option<WalHeader>,
    frames_on_disk: u32,
    chain: u32,
    /// Pages of the commit being read, from `txn_first` on.
    txn_pages: Vec<PageNo>,
    txn_header: Option<DbHeader>,
    index: Option<WalIndex>,
    last_seq: Option<u64>,
    committed_header: Option<DbHeader>,
    /// The frame where the chain broke, while probing the frames after it.
    broken_at: Option<u32>,
}

impl WalRecovery {
    pub(crate) fn new(wal: Arc<dyn File>, options: DbOptions, db_checkpoint_seq: u64) -> Self {
        let page_size = options.page_size;
        WalRecovery {
            wal,
            options,
            page_size,
            db_checkpoint_seq,
            state: RecoveryState::Start,
            header: None,
            frames_on_disk: 0,
            chain: 0,
            txn_pages: Vec::new(),
            txn_header: None,
            index: None,
            last_seq: None,
            committed_header: None,
            broken_at: None,
        }
    }

    pub(crate) fn step(&mut self) -> Result<IOResult<RecoveredWal>> {
        run_machine(self, |r| &mut r.state, WalRecovery::on_state)
    }

    fn on_state(&mut self, state: RecoveryState) -> FlowResult<RecoveredWal> {
        match state {
            RecoveryState::Start => self.read_header(),
            RecoveryState::WaitHeader {
                read,
                frames_on_disk,
            } => self.header_read(&read, frames_on_disk),
            RecoveryState::WaitChunk { read, first, count } => {
                let len = count as usize * frame_size(self.page_size);
                let chunk = read.read_exactly(len)?;
                self.state = RecoveryState::CheckFrames {
                    chunk,
                    first,
                    count,
                    next: 0,
                    yield_taken: false,
                };
                next_state()
            }
            RecoveryState::CheckFrames {
                chunk,
                first,
                count,
                next,
                yield_taken,
            } => self.check_next_frame(chunk, (first, count, next), yield_taken),
            RecoveryState::Finished => {
                Err(Error::Misuse("recovery stepped after it finished".into()))
            }
        }
    }

    /// Reads the WAL header, if the file holds one.
    fn read_header(&mut self) -> FlowResult<RecoveredWal> {
        let size = self.wal.size()?;
        if size < WAL_HEADER_SIZE as u64 {
            return finish(self.finish());
        }
        let frames = (size - WAL_HEADER_SIZE as u64) / frame_size(self.page_size) as u64;
        let frames_on_disk =
            u32::try_from(frames).map_err(|_| Corruption::WalTooLarge { bytes: size })?;
        let read = Completion::new_read(WAL_HEADER_SIZE, |_| {});
        let read = self.wal.pread(0, WAL_HEADER_SIZE, read)?;
        self.state = RecoveryState::WaitHeader {
            read: read.clone(),
            frames_on_disk,
        };
        io_yield_one!(read);
    }

    /// A valid header starts the chain; an invalid one means no frame is recovered.
    fn header_read(&mut self, read: &Completion, frames_on_disk: u32) -> FlowResult<RecoveredWal> {
        let bytes = read.read_exactly(WAL_HEADER_SIZE)?;
        let Some(header) = WalHeader::decode(&bytes) else {
            return finish(self.finish());
        };
        if header.page_size as usize != self.page_size {
            return Err(Corruption::WalPageSize {
                wal: header.page_size,
                db: self.page_size,
            }
            .into());
        }
        assert!(self.header.is_none(), "the WAL header is read once");
        self.header = Some(header);
        self.chain = header.checksum();
        self.index = Some(WalIndex::new(header, true));
        self.frames_on_disk = frames_on_disk;
        if !self.next_chunk(1)? {
            return finish(self.finish());
        }
        next_state()
    }

    /// Checks frame `first + next` of a read chunk (after the `Recovery` yield point), or
    /// reads the next chunk once this one is done.
    fn check_next_frame(
        &mut self,
        chunk: Vec<u8>,
        (first, count, next): (u32, u32, u32),
        yield_taken: bool,
    ) -> FlowResult<RecoveredWal> {
        if next == count {
            if !self.next_chunk(first + count)? {
                return finish(self.finish());
            }
            return next_state();
        }
        if !yield_taken && self.options.should_yield(YieldPoint::Recovery) {
            self.state = RecoveryState::CheckFrames {
                chunk,
                first,
                count,
                next,
                yield_taken: true,
            };
            io_yield_one!(Completion::new_yield());
        }
        let size = frame_size(self.page_size);
        let start = next as usize * size;
        let frame_no = first + next;
        let frame = &chunk[start..start + size];
        if self.broken_at.is_some() {
            self.probe_frame(frame_no, frame)?;
        } else if !self.check_frame(frame_no, frame) {
            if !self.probes_after_break() {
                return finish(self.finish());
            }
            self.broken_at = Some(frame_no);
        }
        self.state = RecoveryState::CheckFrames {
            chunk,
            first,
            count,
            next: next + 1,
            yield_taken: false,
        };
        next_state()
    }

    /// Submits the read of the chunk starting at frame `first`; false past the last frame.
    fn next_chunk(&mut self, first: u32) -> Result<bool> {
        if first > self.frames_on_disk {
            return Ok(false);
        }
        assert!(first >= 1, "frames are numbered from 1");
        let count = FRAMES_PER_READ.min(self.frames_on_disk - first + 1);
        let len = count as usize * frame_size(self.page_size);
        let read = Completion::new_read(len, |_| {});
        let read = self
            .wal
            .pread(frame_offset(first, self.page_size), len, read)?;
        self.state = RecoveryState::WaitChunk { read, first, count };
        Ok(true)
    }

    /// Checks one frame and folds it into the progress; false ends the scan.
    fn check_frame(&mut self, frame_no: u32, bytes: &[u8]) -> bool {
        let header = self
            .header
            .expect("frames are checked only under a valid header");
        let verify = !self.options.canary_active(Canary::RecoverySkipChecksum);
        let Some(frame) = decode_frame(bytes, self.chain, header.salts, verify) else {
            return false;
        };
        let image = &bytes[FRAME_HEADER_SIZE..];
        if frame.page == 0 || (verify && verify_page(frame.page, image).is_err()) {
            return false;
        }
        if frame.page == HEADER_PAGE {
            match DbHeader::decode(image) {
                Ok(h) => self.txn_header = Some(h),
                Err(_) if verify => return false,
                Err(_) => {}
            }
        }
        self.chain = frame.checksum;
        self.txn_pages.push(frame.page);
        if frame.commit_seq != 0 {
            if self.last_seq.is_some_and(|last| frame.commit_seq <= last) {
                return false; // a stale commit from an older life of this generation
            }
            let pages = std::mem::take(&mut self.txn_pages);
            let txn_first = frame_no + 1 - u32::try_from(pages.len()).expect("fits u32");
            let index = self
                .index
                .as_mut()
                .expect("an index exists under a valid header");
            index.append_commit(txn_first, &pages, frame.commit_seq, frame.checksum);
            assert_eq!(
                index.max_frame, frame_no,
                "a commit ends at its commit frame"
            );
            self.last_seq = Some(frame.commit_seq);
            if let Some(h) = self.txn_header.take() {
                self.committed_header = Some(h);
            }
        }
        true
    }

    /// Whether to look past a broken frame for proof of damage: only under full sync,
    /// where at most one commit (the last, unacknowledged) can be unsynced at a crash.
    fn probes_after_break(&self) -> bool {
        self.options.sync == SyncMode::Full
            && !self.options.canary_active(Canary::RecoverySkipChecksum)
    }

    /// A frame after the break: if it is an intact commit frame of this generation whose
    /// sequence is two or more past the last recovered commit, a durable commit sits
    /// beyond damaged frames (a torn tail holds at most the one commit in flight, whose
    /// sequence is the last plus one), so the log is corrupt, not merely torn.
    fn probe_frame(&self, frame_no: u32, bytes: &[u8]) -> Result<()> {
        let header = self
            .header
            .expect("frames are probed only under a valid header");
        let Some(frame) = decode_frame(bytes, 0, header.salts, false) else {
            return Ok(());
        };
        let image = &bytes[FRAME_HEADER_SIZE..];
        let salts_match = frame_salts(bytes) == header.salts;
        let intact = frame.page != 0 && verify_page(frame.page, image).is_ok();
        // Commits up to the database's checkpoint are in the database file already.
        let last = self.last_seq.unwrap_or(0).max(self.db_checkpoint_seq);
        if salts_match && intact && frame.commit_seq >= last.saturating_add(2) {
            let broken = self.broken_at.expect("probing after a break");
            return Err(Corruption::WalDamaged {
                broken,
                commit: frame.commit_seq,
                frame: frame_no,
            }
            .into());
        }
        Ok(())
    }

    fn finish(&mut self) -> RecoveredWal {
        self.state = RecoveryState::Finished;
        let wal_checkpoint_seq = self.header.map(|h| h.checkpoint_seq);
        if self
            .last_seq
            .is_some_and(|last| last < self.db_checkpoint_seq)
        {
            // Everything recovered is older than the database file (a WAL restarted
            // after a checkpoint whose new header never landed): its frames would only
            // bring back old versions of pages. Start a new generation instead.
            self.index = None;
            self.last_seq = None;
            self.committed_header = None;
        }
        let index = self.index.take().unwrap_or_else(|| {
            let previous = self.header.map_or([0, 0], |h| h.salts);
            let header =
                WalHeader::next_generation(self.page_size, self.db_checkpoint_seq, previous);
            WalIndex::new(header, false)
        });
        let valid_len = if index.header_on_disk {
            frame_offset(index.max_frame + 1, self.page_size)
        } else {
            0
        };
        RecoveredWal {
            valid_len,
            index,
            last_seq: self.last_seq,
            header: self.committed_header,
            wal_checkpoint_seq,
        }
    }
}
