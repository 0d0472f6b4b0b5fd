//! Commit: the state machine that makes a write transaction's pages durable and visible.
//!
//! 1. Write every dirty page (sealed with its checksum), plus the header page when the
//!    root, freelist or page count changed, as WAL frames after `max_frame`, all in ONE
//!    completion group labelled "commit-frames" (wal/append.rs). The last frame is the
//!    commit frame and carries the new commit sequence. These frames are beyond every
//!    snapshot's `max_frame`, so writing them changes nothing anyone can see.
//! 2. With `SyncMode::Full`, fsync the WAL inside a group labelled "wal-sync". A failed
//!    WAL fsync poisons the pager.
//! 3. Yield point `CommitBeforePublish`, then publish: append the frames to the WAL index,
//!    advance `max_frame` and the commit sequence, turn the dirty cache entries into clean
//!    entries of their frames, release the write lock. If the pager was poisoned since the
//!    frames were written, the commit fails with `Poisoned` instead, even when its own
//!    fsync succeeded: another fsync of the WAL failed, and it may have covered these
//!    frames (a file system marks the pages of a failed fsync clean, so a later fsync
//!    succeeds without writing them).
//!
//! Before step 1, if every WAL frame is already in the database file and no snapshot
//! needs the WAL, the commit starts a new WAL generation (see `restart_wal_if_idle`).
//!
//! Any error before publishing rolls the transaction back. If frames may have reached
//! the WAL, the WAL is first cut back to its published end and fsynced (a failure there
//! poisons), so a later commit can never complete a leftover frame into a valid chain.
//! A transaction that wrote nothing commits without I/O and returns `None`.

use crate::canary::Canary;
use crate::io::{Completion, FlowResult, IOResult, finish, next_state, run_machine};
use crate::options::SyncMode;
use crate::storage::format::{HEADER_PAGE, seal_page};
use crate::storage::page_access::{PageNo, PageRef};
use crate::storage::txn::WriteTxn;
use crate::storage::wal::append::{FrameBatch, check_members, submit_wal_sync};
use crate::yields::YieldPoint;
use crate::{Error, Result, io_yield_one};

use super::PagerState;
use super::cache::{CacheKey, Version};
use super::commit_state::{CommitPlan, CommitState};
use crate::storage::wal::format::{WalHeader, frame_offset};

/// Starts the WAL over when every frame is in the database file and every snapshot
/// sees the latest commit (so all of them read the database file alone), like a Restart
/// checkpoint without the copying; this keeps the WAL from growing without bound when
/// only passive checkpoints run. Not while a checkpoint runs: it reads frames by number.
/// Changes no content, so it is safe before the commit's first yield even if the commit
/// then fails.
fn restart_wal_if_idle(state: &mut PagerState, page_size: usize) {
    let wal = &state.wal;
    let idle = wal.max_frame > 0
        && wal.backfilled() == wal.max_frame
        && !state.checkpointing
        && state.readers.values().all(|s| s.seq() == state.commit_seq);
    if idle {
        let header = WalHeader::next_generation(page_size, state.commit_seq, wal.header.salts);
        assert_ne!(
            header.salts, wal.header.salts,
            "a new generation has new salts"
        );
        state.wal.reset(header);
    }
}

impl WriteTxn {
    /// Commits. Returns the new commit sequence, or `None` if nothing was written.
    /// Re-enter until Done; after an error the transaction is rolled back (and after a
    /// failed WAL fsync the pager is poisoned).
    pub fn commit(&mut self) -> Result<IOResult<Option<u64>>> {
        if matches!(self.commit_state, CommitState::Start) {
            self.check_open()?;
        }
        run_machine(self, |txn| &mut txn.commit_state, WriteTxn::on_commit_state)
    }

    fn on_commit_state(&mut self, state: CommitState) -> FlowResult<Option<u64>> {
        match state {
            CommitState::Start => self.submit_frames(),
            CommitState::WaitFrameWrites {
                group,
                members,
                plan,
            } => self.frames_written(&group, &members, plan),
            CommitState::WaitSync { sync, plan } => self.wal_synced(&sync, plan),
            CommitState::WaitPublish { plan, yield_taken } => {
                self.publish_and_end(plan, yield_taken)
            }
            CommitState::WaitDiscardTruncate { truncate, error } => {
                self.discard_truncated(&truncate, error)
            }
            CommitState::WaitDiscardSync { sync, error } => {
                if sync.failed() {
                    self.pager.poison();
                }
                self.fail(error)
            }
            CommitState::Finished => {
                Err(Error::Misuse("commit after the transaction ended".into()))
            }
        }
    }

    /// Step 1: plans the commit and submits its frames in one group.
    fn submit_frames(&mut self) -> FlowResult<Option<u64>> {
        let plan = match self.plan_commit() {
            Ok(Some(plan)) => plan,
            Ok(None) => {
                self.release();
                return finish(None);
            }
            Err(e) => return self.fail(e),
        };
        let first_member = self.pager.canary(Canary::GroupFirstMember);
        let (group, members) = match plan.batch.submit(&self.pager.wal, first_member) {
            Ok(submitted) => submitted,
            Err(e) => return self.fail(e),
        };
        self.commit_state = CommitState::WaitFrameWrites {
            group: group.clone(),
            members,
            plan,
        };
        io_yield_one!(group);
    }

    /// The frames' group finished: join it, then fsync the WAL (full sync) or publish.
    fn frames_written(
        &mut self,
        group: &Completion,
        members: &[(Completion, usize)],
        mut plan: CommitPlan,
    ) -> FlowResult<Option<u64>> {
        let allow_unfinished = self.pager.canary(Canary::GroupFirstMember);
        let joined = match group.get_error() {
            Some(e) => Err(Error::Completion(e)),
            None => check_members(members, allow_unfinished),
        };
        if let Err(e) = joined {
            return self.discard_and_fail(e);
        }
        if self.pager.canary(Canary::PublishBeforeFsync) {
            self.publish(&plan);
            plan.published = true;
        }
        if self.pager.options.sync == SyncMode::Normal {
            self.commit_state = CommitState::WaitPublish {
                plan,
                yield_taken: false,
            };
            return next_state();
        }
        let sync = match submit_wal_sync(&self.pager.wal, self.pager.fsync_completion()) {
            Ok(sync) => sync,
            Err(e) => return self.discard_and_fail(e),
        };
        self.commit_state = CommitState::WaitSync {
            sync: sync.clone(),
            plan,
        };
        io_yield_one!(sync);
    }

    /// Step 2 done: a failed WAL fsync poisons the pager; else publish.
    fn wal_synced(&mut self, sync: &Completion, plan: CommitPlan) -> FlowResult<Option<u64>> {
        if let Some(e) = sync.get_error()
            && !self.pager.canary(Canary::AckFailedSync)
        {
            self.pager.poison();
            return self.fail(Error::Completion(e));
        }
        self.commit_state = CommitState::WaitPublish {
            plan,
            yield_taken: false,
        };
        next_state()
    }

    /// Step 3: the `CommitBeforePublish` yield point, then publish and release the lock.
    fn publish_and_end(&mut self, plan: CommitPlan, yield_taken: bool) -> FlowResult<Option<u64>> {
        if self.pager.canary(Canary::CounterBeforeYield) {
            // Known-bad: the shared counter moves before the yield point, and again on
            // every re-entry.
            self.pager.state().commit_seq += 1;
        }
        if !yield_taken
            && self
                .pager
                .options
                .should_yield(YieldPoint::CommitBeforePublish)
        {
            self.commit_state = CommitState::WaitPublish {
                plan,
                yield_taken: true,
            };
            io_yield_one!(Completion::new_yield());
        }
        if !plan.published {
            if self.pager.is_poisoned() {
                return self.fail(Error::Poisoned);
            }
            self.publish(&plan);
        }
        let seq = self.pager.commit_seq();
        self.release();
        finish(Some(seq))
    }

    /// The failed commit's WAL cut finished: make it durable, or poison if it failed.
    fn discard_truncated(
        &mut self,
        truncate: &Completion,
        error: Error,
    ) -> FlowResult<Option<u64>> {
        let truncated = !truncate.failed();
        let sync = match self.pager.wal.sync(self.pager.fsync_completion()) {
            Ok(sync) if truncated => sync,
            _ => {
                // The failed frames may stay behind: trust nothing more.
                self.pager.poison();
                return self.fail(error);
            }
        };
        self.commit_state = CommitState::WaitDiscardSync {
            sync: sync.clone(),
            error,
        };
        io_yield_one!(sync);
    }

    /// Collects the sealed images and encodes the frames. `None` if nothing changed.
    fn plan_commit(&mut self) -> Result<Option<CommitPlan>> {
        let mut state = self.pager.live_state()?;
        assert_eq!(
            state.writer,
            Some(self.id),
            "a committing transaction holds the write lock"
        );
        // The B-tree may free the old root before it records the new one; by commit the
        // root must not be a free page.
        if self.header.root != 0 && self.free_next.contains_key(&self.header.root) {
            return Err(Error::Internal(format!(
                "commit: root page {} is on the freelist",
                self.header.root
            )));
        }
        assert!(
            self.header.page_count >= self.snapshot.header().page_count,
            "a transaction never shrinks the file"
        );
        let mut images: Vec<(PageNo, PageRef)> = Vec::with_capacity(self.dirty.len() + 1);
        // What sealing computed over each image before its tail, for the WAL's chain.
        let mut body_checksums: Vec<Option<u32>> = Vec::with_capacity(self.dirty.len() + 1);
        let mut header = self.header;
        header.checkpoint_seq = state.header.checkpoint_seq;
        if header.differs_in_content(&self.snapshot.header) {
            header
                .check_consistent()
                .map_err(|e| Error::Internal(format!("commit: {e}")))?;
            images.push((HEADER_PAGE, std::sync::Arc::new(header.encode())));
            body_checksums.push(None);
        }
        self.seal_dirty_pages(&mut state, &mut images, &mut body_checksums);
        if images.is_empty() {
            return Ok(None);
        }
        let seq = state.commit_seq + 1;
        assert!(
            state.commit_seq == self.snapshot.seq() || self.pager.canary(Canary::SkipBusySnapshot),
            "the writer's snapshot is the latest commit"
        );
        restart_wal_if_idle(&mut state, self.pager.page_size);
        state.commit_attempts = state.commit_attempts.wrapping_add(1);
        let attempt = state.commit_attempts;
        let batch = FrameBatch::encode(
            &images,
            &body_checksums,
            seq,
            &state.wal,
            attempt,
            self.pager.page_size,
        );
        assert_eq!(batch.len(), images.len(), "one frame per image");
        Ok(Some(CommitPlan {
            seq,
            batch,
            images,
            header,
            published: false,
        }))
    }

    /// Seals every dirty image (in page order) and appends it, with the checksum sealing
    /// computed over its body, to `images` and `body_checksums`.
    fn seal_dirty_pages(
        &self,
        state: &mut PagerState,
        images: &mut Vec<(PageNo, PageRef)>,
        body_checksums: &mut Vec<Option<u32>>,
    ) {
        for &page in &self.dirty {
            let key = CacheKey {
                page,
                version: Version::Dirty { txn: self.id },
            };
            // The dirty image is sealed where it lies: no one else reads it any more, and
            // the seal only fills the checksum tail, which the B-tree never reads. If the
            // commit fails the dirty images are thrown away with the transaction.
            // Absent only when the evict-dirty-page canary dropped it: the change is lost.
            let mut body_checksum = None;
            let Some(sealed) = state.cache.update_tail(&key, |image| {
                body_checksum = Some(seal_page(page, image));
            }) else {
                continue;
            };
            images.push((page, sealed));
            body_checksums.push(body_checksum);
        }
        assert_eq!(
            images.len(),
            body_checksums.len(),
            "one checksum slot per image"
        );
    }

    /// Makes the commit visible: WAL index, commit sequence, header, cache.
    fn publish(&self, plan: &CommitPlan) {
        let mut state = self.pager.state();
        assert_eq!(
            state.writer,
            Some(self.id),
            "only the write lock's holder publishes"
        );
        assert_eq!(
            plan.images.len(),
            plan.batch.pages.len(),
            "one frame per sealed image"
        );
        if self.pager.canary(Canary::CounterBeforeYield) {
            // The canary already advanced the counter (perhaps more than once).
        } else {
            assert_eq!(
                state.commit_seq + 1,
                plan.seq,
                "only the lock holder publishes, in order"
            );
            state.commit_seq = plan.seq;
        }
        state.wal.append_commit(
            plan.batch.first_frame,
            &plan.batch.pages,
            plan.seq,
            plan.batch.chain,
        );
        state.header = plan.header;
        debug_assert!(
            plan.header.check_consistent().is_ok(),
            "a published header is consistent"
        );
        let generation = state.wal.generation;
        for (i, (page, image)) in plan.images.iter().enumerate() {
            let frame = plan.batch.first_frame + u32::try_from(i).expect("frame count fits u32");
            // The sealed image is the dirty one (only its checksum tail changed): its cell
            // index, if the B-tree gave one, still holds.
            let index = state
                .cache
                .remove_checked(&CacheKey {
                    page: *page,
                    version: Version::Dirty { txn: self.id },
                })
                .and_then(|(_, index)| index);
            let key = CacheKey {
                page: *page,
                version: Version::Frame { generation, frame },
            };
            state.cache.insert_checked(key, image.clone(), false, index);
        }
        assert!(
            state.wal.max_frame >= state.wal.backfilled(),
            "backfill never passes the published end"
        );
    }

    /// Fails a commit whose frames may have partly reached the WAL: first cuts the WAL
    /// back to its published end and fsyncs that, still holding the write lock, so no
    /// later commit at the same place can complete a leftover frame of this attempt into
    /// a valid chain (a torn crash mixing the sectors of two attempts).
    fn discard_and_fail(&mut self, error: Error) -> FlowResult<Option<u64>> {
        let valid_len = {
            let state = self.pager.state();
            match state.wal.header_on_disk {
                true => frame_offset(state.wal.max_frame + 1, self.pager.page_size),
                false => 0,
            }
        };
        match self.pager.wal.truncate(valid_len, Completion::new_noop()) {
            Ok(truncate) => {
                self.commit_state = CommitState::WaitDiscardTruncate {
                    truncate: truncate.clone(),
                    error,
                };
                io_yield_one!(truncate);
            }
            Err(_) => {
                self.pager.poison();
                self.fail(error)
            }
        }
    }

    /// Ends a failed commit: rolls back (or, under the canary, leaks the write lock).
    fn fail<T>(&mut self, error: Error) -> Result<T> {
        self.commit_state = CommitState::Finished;
        if self.pager.canary(Canary::LeakWriteLock) {
            self.release_leaking_lock();
        } else {
            self.release();
        }
        Err(error)
    }
}
