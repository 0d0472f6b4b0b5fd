//! Checkpoint: copy WAL frames into the database file, and (Restart, Truncate) start the
//! WAL over.
//!
//! 1. Take the locks: one checkpoint at a time (`Busy` otherwise); Full, Restart and
//!    Truncate also take the write lock (`Busy` if a writer holds it). Passive never waits.
//! 2. Choose `upto`: the smallest `max_frame` any registered snapshot can see. Frames
//!    above it stay in the WAL: copying them would change pages under a reader.
//! 3. Fsync the WAL (under `SyncMode::Normal` the frames may not be durable yet, and the
//!    database must never get ahead of a log that can still lose them).
//! 4. Copy loop (yield point `CheckpointCopy` before each page): the latest frame of
//!    each page at or below `upto`, read from the cache or the WAL and verified; then one
//!    group labelled "checkpoint-copy" writes them all, with the header page carrying
//!    the checkpoint's commit sequence.
//! 5. Fsync the database file; only then mark the frames backfilled. A failed fsync here
//!    poisons too (step 3's and step 6's do): the copies may never reach the disk. Once the
//!    pager is poisoned (by this checkpoint or anyone else's failed fsync) the checkpoint
//!    stops at its next step with `Poisoned`.
//! 6. Restart/Truncate: if every frame is backfilled and every snapshot sees the latest
//!    commit (so all of them can read the database file alone), reset the WAL: new salts,
//!    frame numbering from 1; Truncate also shrinks the file to 0 and fsyncs it.
//!    Invariant (asserted): the WAL is reset only after the database fsync covering every
//!    backfilled page has completed.

use std::sync::Arc;

use crate::canary::Canary;
use crate::io::{
    Completion, CompletionGroup, FlowResult, IOResult, MachineState, finish, next_state,
    run_machine,
};
use crate::storage::format::{DbHeader, HEADER_PAGE, HeaderStamp};
use crate::storage::page_access::{PageNo, PageRef};
use crate::storage::wal::append::{check_members, submit_wal_sync};
use crate::storage::wal::format::{WalHeader, frame_image_offset};
use crate::yields::YieldPoint;
use crate::{Error, Result, io_yield_one};

use super::Pager;
use super::cache::{CacheKey, Version};
use super::fetch::verified_image;

/// Label of the group holding a checkpoint's database writes.
pub const CHECKPOINT_COPY_LABEL: &str = "checkpoint-copy";

/// Checkpoint modes (SQLite's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckpointMode {
    /// Copy what no reader needs; never waits, never takes the write lock.
    Passive,
    /// Like Passive, but holds the write lock (`Busy` if a writer has it).
    Full,
    /// Like Full, then resets the WAL when no reader needs it.
    Restart,
    /// Like Restart, and shrinks the WAL file to 0 bytes.
    Truncate,
}

/// What a checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointOutcome {
    /// Frames in the WAL when the checkpoint chose what to copy.
    pub wal_frames: u32,
    /// Frames backfilled into the database file afterwards.
    pub backfilled_frames: u32,
    /// Pages written to the database file (header page included).
    pub copied_pages: usize,
    /// Whether the WAL was reset (Restart, Truncate).
    pub wal_reset: bool,
    /// Commit sequence the database file now holds.
    pub checkpoint_seq: u64,
}

/// Where a checkpoint is.
#[derive(Debug, Default)]
enum CheckpointState {
    /// Nothing done yet.
    Start,
    /// Waiting for the WAL fsync that precedes copying.
    WaitWalSync { sync: Completion, plan: CopyPlan },
    /// Reading frame images one page at a time; `next` indexes `plan.pages`.
    WaitFrameRead {
        plan: CopyPlan,
        next: usize,
        read: Option<Completion>,
        yield_taken: bool,
    },
    /// Waiting for the "checkpoint-copy" group.
    WaitCopy {
        group: Completion,
        members: Vec<(Completion, usize)>,
        plan: CopyPlan,
    },
    /// Waiting for the database fsync.
    WaitDbSync { sync: Completion, plan: CopyPlan },
    /// Waiting for the WAL truncate (Truncate mode).
    WaitWalTruncate { truncate: Completion },
    /// Waiting for the fsync after the WAL truncate.
    WaitTruncateSync { sync: Completion },
    /// Done or failed.
    #[default]
    Finished,
}

impl MachineState for CheckpointState {
    fn waiting_on(&self) -> Option<&Completion> {
        match self {
            CheckpointState::WaitWalSync { sync, .. }
            | CheckpointState::WaitDbSync { sync, .. }
            | CheckpointState::WaitTruncateSync { sync } => Some(sync),
            CheckpointState::WaitCopy { group, .. } => Some(group),
            CheckpointState::WaitWalTruncate { truncate } => Some(truncate),
            // A frame read is waited for inside its handler, after the yield point.
            CheckpointState::Start
            | CheckpointState::WaitFrameRead { .. }
            | CheckpointState::Finished => None,
        }
    }
}

/// What one checkpoint copies.
#[derive(Debug)]
struct CopyPlan {
    upto: u32,
    seq: u64,
    /// (page, frame) to copy, page order; the header page is handled apart.
    pages: Vec<(PageNo, u32)>,
    /// Images read so far, parallel to `pages`.
    images: Vec<PageRef>,
    /// The header the database file gets.
    header: DbHeader,
    /// The database file's newest header record, which the write of page 1 keeps, and
    /// where it sits.
    newest: (DbHeader, HeaderStamp),
}

/// A checkpoint in progress. Drive it with `step` until Done.
pub struct Checkpoint {
    pager: Arc<Pager>,
    mode: CheckpointMode,
    state: CheckpointState,
    /// Id under which it holds the write lock, if it does.
    lock_id: Option<u64>,
    /// Whether it holds the one-checkpoint-at-a-time flag.
    running: bool,
    outcome: Option<CheckpointOutcome>,
    /// Set when the database fsync covering every copied page has completed.
    db_synced: bool,
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("mode", &self.mode)
            .field("state", &self.state)
            .finish()
    }
}

impl Checkpoint {
    fn new(pager: Arc<Pager>, mode: CheckpointMode) -> Self {
        Checkpoint {
            pager,
            mode,
            state: CheckpointState::Start,
            lock_id: None,
            running: false,
            outcome: None,
            db_synced: false,
        }
    }

    /// Runs the checkpoint. Re-enter until Done; errors release every lock it took.
    pub fn step(&mut self) -> Result<IOResult<CheckpointOutcome>> {
        let stepped = if self.pager.is_poisoned() {
            Err(Error::Poisoned)
        } else {
            run_machine(self, |c| &mut c.state, Checkpoint::on_state)
        };
        match stepped {
            Err(e) => {
                self.state = CheckpointState::Finished;
                self.release();
                Err(e)
            }
            ok => ok,
        }
    }

    fn on_state(&mut self, state: CheckpointState) -> FlowResult<CheckpointOutcome> {
        if self.pager.is_poisoned() {
            // An fsync failed somewhere since the last step: the WAL may no longer hold what
            // the index says (Btrfs puts back the durable image), so nothing more is copied,
            // synced or reset.
            return Err(Error::Poisoned);
        }
        match state {
            CheckpointState::Start => self.start(),
            CheckpointState::WaitWalSync { sync, plan } => {
                if let Some(e) = sync.get_error() {
                    self.pager.poison();
                    return Err(Error::Completion(e));
                }
                self.state = CheckpointState::WaitFrameRead {
                    plan,
                    next: 0,
                    read: None,
                    yield_taken: false,
                };
                next_state()
            }
            CheckpointState::WaitFrameRead {
                plan,
                next,
                read,
                yield_taken,
            } => self.read_frame(plan, next, read, yield_taken),
            CheckpointState::WaitCopy {
                group,
                members,
                plan,
            } => self.copied(&group, &members, plan),
            CheckpointState::WaitDbSync { sync, plan } => self.db_synced(&sync, plan),
            CheckpointState::WaitWalTruncate { truncate } => {
                if let Some(e) = truncate.get_error() {
                    return Err(Error::Completion(e));
                }
                let sync = submit_wal_sync(&self.pager.wal, self.pager.fsync_completion())?;
                self.state = CheckpointState::WaitTruncateSync { sync: sync.clone() };
                io_yield_one!(sync);
            }
            CheckpointState::WaitTruncateSync { sync } => {
                if let Some(e) = sync.get_error() {
                    self.pager.poison();
                    return Err(Error::Completion(e));
                }
                self.end()
            }
            CheckpointState::Finished => {
                Err(Error::Misuse("checkpoint stepped after it finished".into()))
            }
        }
    }

    /// Steps 1 to 3: locks, the plan, and the WAL fsync before copying (or, with nothing
    /// to copy, straight to step 6).
    fn start(&mut self) -> FlowResult<CheckpointOutcome> {
        let plan = self.take_locks_and_plan()?;
        if plan.pages.is_empty() && plan.header == self.pager.state().db_header {
            // Nothing new: every backfilled frame was made durable by the database fsync
            // of the checkpoint that backfilled it.
            self.db_synced = true;
            return self.after_copy(0);
        }
        let sync = submit_wal_sync(&self.pager.wal, self.pager.fsync_completion())?;
        self.state = CheckpointState::WaitWalSync {
            sync: sync.clone(),
            plan,
        };
        io_yield_one!(sync);
    }

    /// Step 4, one page: the `CheckpointCopy` yield point, then the image of frame `next`
    /// from the cache or the WAL; after the last page, the copy group.
    fn read_frame(
        &mut self,
        mut plan: CopyPlan,
        next: usize,
        read: Option<Completion>,
        yield_taken: bool,
    ) -> FlowResult<CheckpointOutcome> {
        if next == plan.pages.len() {
            let (group, members) = self.submit_copy(&plan)?;
            self.state = CheckpointState::WaitCopy {
                group: group.clone(),
                members,
                plan,
            };
            io_yield_one!(group);
        }
        if !yield_taken && self.pager.options.should_yield(YieldPoint::CheckpointCopy) {
            self.state = CheckpointState::WaitFrameRead {
                plan,
                next,
                read,
                yield_taken: true,
            };
            io_yield_one!(Completion::new_yield());
        }
        let (page, frame) = plan.pages[next];
        let pending = match read {
            None => match self.pager.cached_frame(page, frame) {
                Some(image) => Ok(image),
                None => Err(self.pager.submit_frame_read(frame)?),
            },
            Some(c) if !c.finished() => Err(c),
            Some(c) => Ok(verified_image(&c, page, self.pager.page_size, None)
                .map_err(|e| self.pager.unless_poisoned(e))?),
        };
        let image = match pending {
            Ok(image) => image,
            Err(read) => {
                self.state = CheckpointState::WaitFrameRead {
                    plan,
                    next,
                    read: Some(read.clone()),
                    yield_taken,
                };
                io_yield_one!(read);
            }
        };
        if page == HEADER_PAGE {
            plan.header = DbHeader {
                checkpoint_seq: plan.seq,
                ..DbHeader::decode(&image)?
            };
        }
        plan.images.push(image);
        assert_eq!(plan.images.len(), next + 1, "one image per page, in order");
        self.state = CheckpointState::WaitFrameRead {
            plan,
            next: next + 1,
            read: None,
            yield_taken: false,
        };
        next_state()
    }

    /// The copy group finished: join it, forget the stale database images, fsync.
    fn copied(
        &mut self,
        group: &Completion,
        members: &[(Completion, usize)],
        plan: CopyPlan,
    ) -> FlowResult<CheckpointOutcome> {
        let joined = match group.get_error() {
            Some(e) => Err(Error::Completion(e)),
            None => check_members(members, false),
        };
        self.pager.forget_db_images(&plan);
        joined?;
        let sync = self.pager.db.sync(self.pager.fsync_completion())?;
        self.state = CheckpointState::WaitDbSync {
            sync: sync.clone(),
            plan,
        };
        io_yield_one!(sync);
    }

    /// Step 5 done: the database file holds every copied page durably; mark them
    /// backfilled and record the header now on page 1.
    fn db_synced(&mut self, sync: &Completion, plan: CopyPlan) -> FlowResult<CheckpointOutcome> {
        if let Some(e) = sync.get_error() {
            // The copied pages may be marked clean without reaching the disk: trust no later
            // fsync of this file (see `Pager::poison`).
            self.pager.poison();
            return Err(Error::Completion(e));
        }
        self.db_synced = true;
        let copied = plan.pages.iter().filter(|(p, _)| *p != HEADER_PAGE).count() + 1;
        {
            let mut state = self.pager.state();
            assert_eq!(
                (state.db_header, state.db_header_stamp),
                plan.newest,
                "only the one running checkpoint rewrites page 1"
            );
            assert!(
                plan.upto <= state.wal.max_frame,
                "a checkpoint copies only published frames"
            );
            state.db_header = plan.header;
            state.db_header_stamp = plan.newest.1.next();
            state.wal.mark_backfilled(plan.upto);
        }
        self.after_copy(copied)
    }

    /// Step 1 and 2: locks, then what to copy.
    fn take_locks_and_plan(&mut self) -> Result<CopyPlan> {
        assert!(
            !self.running && self.lock_id.is_none(),
            "a checkpoint takes its locks once"
        );
        let mut state = self.pager.live_state()?;
        if state.checkpointing {
            return Err(Error::Busy);
        }
        if self.mode != CheckpointMode::Passive {
            if state.writer.is_some() {
                return Err(Error::Busy);
            }
            let id = state.next_id();
            state.writer = Some(id);
            self.lock_id = Some(id);
        }
        state.checkpointing = true;
        self.running = true;
        let upto = if self.pager.canary(Canary::CheckpointPastReader) {
            state.wal.max_frame
        } else {
            state.oldest_reader_frame()
        };
        assert!(
            upto >= state.wal.backfilled() || state.wal.max_frame == 0,
            "no reader sees fewer frames than are backfilled"
        );
        let mut pages = state.wal.pages_to_backfill(upto);
        let seq = state
            .wal
            .seq_at(upto)
            .unwrap_or(state.db_header.checkpoint_seq);
        let seq = seq.max(state.db_header.checkpoint_seq);
        let header = DbHeader {
            checkpoint_seq: seq,
            ..state.db_header
        };
        // The header page is written last, from the copied frame if there is one.
        let header_frame = pages.iter().position(|&(page, _)| page == HEADER_PAGE);
        if let Some(i) = header_frame {
            let entry = pages.remove(i);
            pages.push(entry);
        }
        Ok(CopyPlan {
            upto,
            seq,
            pages,
            images: Vec::new(),
            header,
            newest: (state.db_header, state.db_header_stamp),
        })
    }

    /// One group writing every copied page and the header page to the database file.
    fn submit_copy(&self, plan: &CopyPlan) -> Result<(Completion, Vec<(Completion, usize)>)> {
        let page_size = self.pager.page_size;
        let mut writes: Vec<(PageNo, &[u8])> = plan
            .pages
            .iter()
            .zip(&plan.images)
            .filter(|((page, _), _)| *page != HEADER_PAGE)
            .map(|((page, _), image)| (*page, image.as_slice()))
            .collect();
        let (newest, stamp) = plan.newest;
        assert_eq!(
            plan.images.len(),
            plan.pages.len(),
            "every page to copy was read"
        );
        let (header_image, _) = plan.header.encode_over(&newest, stamp);
        writes.push((HEADER_PAGE, &header_image));
        let mut group = CompletionGroup::new(|_| {}).with_label(CHECKPOINT_COPY_LABEL);
        let members: Vec<(Completion, usize)> = writes
            .iter()
            .map(|_| (Completion::new_noop(), page_size))
            .collect();
        for (c, _) in &members {
            group.add(c);
        }
        let built = group.build();
        for ((page, bytes), (c, _)) in writes.iter().zip(&members) {
            assert_eq!(bytes.len(), page_size, "page {page} is written whole");
            let offset = u64::from(page - 1) * page_size as u64;
            if let Err(e) = self.pager.db.pwrite(offset, bytes, c.clone()) {
                built.abort();
                return Err(e);
            }
        }
        Ok((built, members))
    }

    /// Step 6. Returns the truncate in flight, if Truncate reset the WAL.
    fn reset_wal_if_possible(&mut self) -> Option<Completion> {
        if !matches!(
            self.mode,
            CheckpointMode::Restart | CheckpointMode::Truncate
        ) {
            return None;
        }
        let mut state = self.pager.state();
        let past_readers = self.pager.canary(Canary::CheckpointPastReader);
        let latest = state.commit_seq;
        let readers_current = state.readers.values().all(|s| s.seq() == latest);
        if state.wal.backfilled() != state.wal.max_frame || !(readers_current || past_readers) {
            return None;
        }
        assert!(
            self.db_synced || state.wal.max_frame == 0,
            "the WAL is reset only after the database fsync covering every backfilled frame"
        );
        let header =
            WalHeader::next_generation(self.pager.page_size, latest, state.wal.header.salts);
        if past_readers {
            let end = state.wal.max_frame;
            state.wal.mark_backfilled(end);
        }
        state.wal.reset(header);
        assert_eq!(
            (state.wal.max_frame, state.wal.backfilled()),
            (0, 0),
            "a new WAL generation starts empty"
        );
        drop(state);
        if let Some(outcome) = &mut self.outcome {
            outcome.wal_reset = true;
        }
        if self.mode != CheckpointMode::Truncate {
            return None;
        }
        let truncate = Completion::new_noop();
        // If the truncate cannot even be submitted, the old WAL stays behind under old
        // salts; its frames are all in the database file, so replaying them after a crash
        // changes nothing.
        self.pager.wal.truncate(0, truncate).ok()
    }

    fn outcome_now(&self, copied_pages: usize) -> CheckpointOutcome {
        let state = self.pager.state();
        CheckpointOutcome {
            wal_frames: state.wal.max_frame,
            backfilled_frames: state.wal.backfilled(),
            copied_pages,
            wal_reset: false,
            checkpoint_seq: state.db_header.checkpoint_seq,
        }
    }

    /// Step 6 and the end: reset the WAL if the mode asks and nobody needs it.
    fn after_copy(&mut self, copied_pages: usize) -> FlowResult<CheckpointOutcome> {
        self.outcome = Some(self.outcome_now(copied_pages));
        match self.reset_wal_if_possible() {
            Some(truncate) => {
                self.state = CheckpointState::WaitWalTruncate {
                    truncate: truncate.clone(),
                };
                io_yield_one!(truncate);
            }
            None => self.end(),
        }
    }

    /// The end: the locks go, the outcome is returned.
    fn end(&mut self) -> FlowResult<CheckpointOutcome> {
        let outcome = self
            .outcome
            .expect("the outcome is recorded before finishing");
        self.state = CheckpointState::Finished;
        self.release();
        finish(outcome)
    }

    fn release(&mut self) {
        let mut state = self.pager.state();
        if self.running {
            state.checkpointing = false;
            self.running = false;
        }
        if let Some(id) = self.lock_id.take() {
            assert_eq!(
                state.writer,
                Some(id),
                "the checkpoint still holds the write lock"
            );
            state.writer = None;
        }
    }
}

impl Drop for Checkpoint {
    fn drop(&mut self) {
        self.release();
    }
}

impl Pager {
    /// A checkpoint state machine in `mode`; drive it with `Checkpoint::step`.
    pub fn checkpoint(self: &Arc<Self>, mode: CheckpointMode) -> Checkpoint {
        Checkpoint::new(self.clone(), mode)
    }

    /// A frame image already in the cache.
    fn cached_frame(&self, page: PageNo, frame: u32) -> Option<PageRef> {
        let mut state = self.state();
        let generation = state.wal.generation;
        state.cache.get(&CacheKey {
            page,
            version: Version::Frame { generation, frame },
        })
    }

    fn submit_frame_read(&self, frame: u32) -> Result<Completion> {
        let c = Completion::new_read(self.page_size, |_| {});
        self.wal
            .pread(frame_image_offset(frame, self.page_size), self.page_size, c)
    }

    /// Drops cached database-file images of pages the checkpoint rewrote.
    fn forget_db_images(&self, plan: &CopyPlan) {
        let mut state = self.state();
        for &(page, _) in &plan.pages {
            state.cache.remove(&CacheKey {
                page,
                version: Version::DbFile,
            });
        }
        state.cache.remove(&CacheKey {
            page: HEADER_PAGE,
            version: Version::DbFile,
        });
    }
}
