//! The pager: one per database, shared by every connection through an `Arc`.
//!
//! It owns the shared state behind one mutex: the WAL index, the page cache, the header
//! as of the latest commit, the registry of read snapshots, the single write lock and
//! the poisoned flag. Operations that need I/O are state machines, one per file:
//! `fetch` (reading a page under a snapshot), `freelist` (loading free pages so that
//! allocation needs no I/O), `commit`, `checkpoint` and `open` (recovery). Nothing
//! blocks: locks are try-locks returning `Error::Busy` / `Error::BusySnapshot`.
//!
//! Lock protocol (db/connection.rs states it for clients): `begin_read` registers a snapshot (no I/O);
//! `try_begin_write` takes the write lock, failing with `Busy` if another writer holds it
//! and `BusySnapshot` if a commit was published after the caller's snapshot. Commit,
//! rollback and drop release everything. The first failed fsync (of the WAL or of the
//! database file) poisons the pager:
//! every later call returns `Error::Poisoned`.

pub(crate) mod cache;
/// Copying WAL frames into the database file; WAL resets.
pub mod checkpoint;
pub(crate) mod commit;
pub(crate) mod commit_state;
pub(crate) mod fetch;
/// Free pages: allocation without I/O, and listing for integrity checks.
pub mod freelist;
/// Opening and creating a database; recovery.
pub mod open;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::canary::Canary;
use crate::io::{Completion, File, IO};
use crate::options::DbOptions;
use crate::storage::format::{DbHeader, HeaderStamp};
use crate::storage::page_access::{CellIndex, PageNo, PageRef};
use crate::storage::wal::WalIndex;
use crate::{Error, Result};
use cache::{CacheKey, PageCache, Version};

pub use checkpoint::{Checkpoint, CheckpointMode, CheckpointOutcome};
pub use open::Opener;

/// A read snapshot: the published state a transaction sees, fixed when it begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    seq: u64,
    generation: u32,
    max_frame: u32,
    header: DbHeader,
}

impl Snapshot {
    /// The commit sequence this snapshot sees (the last commit visible to it).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The header (root, freelist, page count) as of this snapshot.
    pub fn header(&self) -> &DbHeader {
        &self.header
    }

    /// The last WAL frame visible, or 0 if the WAL generation has changed since.
    pub(crate) fn visible_max_frame(&self, wal: &WalIndex) -> u32 {
        if self.generation == wal.generation {
            self.max_frame
        } else {
            0
        }
    }
}

/// State shared by every connection, behind the pager's mutex.
struct PagerState {
    poisoned: bool,
    /// Sequence of the last published commit.
    commit_seq: u64,
    /// Header as of the last published commit.
    header: DbHeader,
    /// Header currently in the database file.
    db_header: DbHeader,
    /// Where `db_header`'s record sits on page 1; a checkpoint writes the other slot.
    db_header_stamp: HeaderStamp,
    wal: WalIndex,
    cache: PageCache,
    /// Registered snapshots by transaction id.
    readers: BTreeMap<u64, Snapshot>,
    next_txn_id: u64,
    /// Transaction (or checkpoint) id holding the write lock.
    writer: Option<u64>,
    /// Whether a checkpoint is running (one at a time).
    checkpointing: bool,
    /// Commit attempts since open (stamped into frames, see wal/format.rs).
    commit_attempts: u32,
}

impl PagerState {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            seq: self.commit_seq,
            generation: self.wal.generation,
            max_frame: self.wal.max_frame,
            header: self.header,
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_txn_id += 1;
        self.next_txn_id
    }

    /// Registers `snapshot` under a new transaction id.
    fn register(&mut self, snapshot: Snapshot) -> u64 {
        assert!(
            snapshot.seq <= self.commit_seq,
            "a snapshot sees no commit past the latest"
        );
        let id = self.next_id();
        let previous = self.readers.insert(id, snapshot);
        assert!(previous.is_none(), "transaction ids are never reused");
        id
    }

    /// Removes transaction `id`'s snapshot; releasing an unknown id is a bug.
    fn unregister(&mut self, id: u64) {
        let registered = self.readers.remove(&id).is_some();
        assert!(
            registered || std::thread::panicking(),
            "release of transaction {id}, which holds no snapshot"
        );
    }

    /// Drops transaction `txn`'s dirty images of `pages` from the cache.
    fn drop_dirty(&mut self, txn: u64, pages: impl IntoIterator<Item = PageNo>) {
        for page in pages {
            self.cache.remove(&CacheKey {
                page,
                version: Version::Dirty { txn },
            });
        }
    }

    /// The frames every registered reader can see: checkpoints copy no further.
    fn oldest_reader_frame(&self) -> u32 {
        self.readers
            .values()
            .map(|s| s.visible_max_frame(&self.wal))
            .min()
            .unwrap_or(self.wal.max_frame)
    }
}

/// What opening found: the pager's starting state.
pub(crate) struct Recovered {
    /// Header in the database file.
    pub(crate) db_header: DbHeader,
    /// Where its record sits on page 1.
    pub(crate) db_header_stamp: HeaderStamp,
    /// Header as of the last recovered commit.
    pub(crate) header: DbHeader,
    pub(crate) wal_index: WalIndex,
    pub(crate) commit_seq: u64,
}

/// One database's pager. Create it with `Pager::opener` (or `open_blocking`).
pub struct Pager {
    io: Arc<dyn IO>,
    db: Arc<dyn File>,
    wal: Arc<dyn File>,
    options: DbOptions,
    page_size: usize,
    state: Mutex<PagerState>,
}

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("page_size", &self.page_size)
            .field("commit_seq", &self.commit_seq())
            .field("wal_frames", &self.wal_frames())
            .finish()
    }
}

impl Pager {
    /// Assembles a pager from what the opener recovered.
    pub(crate) fn from_parts(
        io: Arc<dyn IO>,
        files: (Arc<dyn File>, Arc<dyn File>),
        options: DbOptions,
        recovered: Recovered,
    ) -> Self {
        let page_size = options.page_size;
        assert_eq!(
            recovered.db_header.page_size as usize, page_size,
            "the opener checked the recorded page size"
        );
        assert!(
            recovered.commit_seq >= recovered.db_header.checkpoint_seq,
            "sequences never go back across a reopen"
        );
        let cache = PageCache::new(options.cache_pages);
        let (db, wal) = files;
        Pager {
            io,
            db,
            wal,
            options,
            page_size,
            state: Mutex::new(PagerState {
                poisoned: false,
                commit_seq: recovered.commit_seq,
                header: recovered.header,
                db_header: recovered.db_header,
                db_header_stamp: recovered.db_header_stamp,
                wal: recovered.wal_index,
                cache,
                readers: BTreeMap::new(),
                next_txn_id: 0,
                writer: None,
                checkpointing: false,
                commit_attempts: 0,
            }),
        }
    }

    /// The shared state, ignoring mutex poisoning (a panic elsewhere must not hide it).
    fn state(&self) -> MutexGuard<'_, PagerState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The shared state, or `Error::Poisoned` after a failed WAL fsync.
    fn live_state(&self) -> Result<MutexGuard<'_, PagerState>> {
        let state = self.state();
        if state.poisoned {
            return Err(Error::Poisoned);
        }
        Ok(state)
    }

    /// Marks the pager poisoned: every later call fails with `Error::Poisoned`. Called on
    /// the first failed fsync of either file. The engine never retries an fsync: Linux
    /// file systems mark the pages of a failed fsync clean (ext4 and XFS keep their new
    /// contents in memory, Btrfs goes back to what is on disk), so a retry reports success
    /// over data that never reached the disk. Reopening after a restart lets recovery find
    /// what is durable.
    pub(crate) fn poison(&self) {
        self.state().poisoned = true;
    }

    /// A completion for an fsync of either file that poisons the pager the moment the fsync
    /// fails, before any state machine looks at it: a commit of another connection whose
    /// frames the failed fsync covered must not publish in between (it checks for poison
    /// before publishing). Holds the pager weakly, so a pending fsync keeps nothing alive.
    /// (The ack-failed-sync canary loses the error here too.)
    pub(crate) fn fsync_completion(self: &Arc<Self>) -> Completion {
        let pager = Arc::downgrade(self);
        Completion::new(move |result| {
            if result.is_err()
                && let Some(pager) = pager.upgrade()
                && !pager.canary(Canary::AckFailedSync)
            {
                pager.poison();
            }
        })
    }

    /// `error`, or `Poisoned` if it is a corruption and the pager is poisoned: after a failed
    /// fsync a file may have gone back to older contents (Btrfs), so a page failing its
    /// checksum then says nothing about corruption.
    pub(crate) fn unless_poisoned(&self, error: Error) -> Error {
        match error {
            Error::Corrupt(_) if self.is_poisoned() => Error::Poisoned,
            other => other,
        }
    }

    pub(crate) fn canary(&self, canary: Canary) -> bool {
        self.options.canary_active(canary)
    }

    /// Registers a read snapshot of the latest published commit for a new transaction;
    /// returns its id. No I/O (`Pager::begin_read`, in txn.rs, wraps it).
    pub(crate) fn register_reader(&self) -> Result<(u64, Snapshot)> {
        let mut state = self.live_state()?;
        let snapshot = state.snapshot();
        let id = state.register(snapshot.clone());
        Ok((id, snapshot))
    }

    /// Takes the write lock for a new transaction; returns its id and snapshot. `snapshot`
    /// is the caller's read snapshot if it already read (a deferred transaction upgrading),
    /// `None` to start from the latest commit. `Busy` if another writer holds the lock;
    /// `BusySnapshot` if a commit was published after `snapshot`. On error nothing changes.
    pub(crate) fn lock_for_write(&self, snapshot: Option<&Snapshot>) -> Result<(u64, Snapshot)> {
        let mut state = self.live_state()?;
        if state.writer.is_some() {
            return Err(Error::Busy);
        }
        let skip_check = self.canary(Canary::SkipBusySnapshot);
        let snapshot = match snapshot {
            Some(s) if s.seq != state.commit_seq && skip_check => s.clone(),
            Some(s) if s.seq != state.commit_seq => return Err(Error::BusySnapshot),
            _ => state.snapshot(),
        };
        let id = state.register(snapshot.clone());
        state.writer = Some(id);
        Ok((id, snapshot))
    }

    /// Unregisters read transaction `id`.
    pub(crate) fn release_reader(&self, id: u64) {
        let mut state = self.state();
        state.unregister(id);
        assert_ne!(
            state.writer,
            Some(id),
            "a reader never holds the write lock"
        );
    }

    /// Unregisters write transaction `id`: its snapshot, the write lock, and its dirty
    /// pages.
    pub(crate) fn release_writer(&self, id: u64, dirty: impl IntoIterator<Item = PageNo>) {
        let mut state = self.state();
        state.unregister(id);
        assert!(
            state.writer == Some(id) || std::thread::panicking(),
            "write transaction {id} holds the write lock until it ends (held by {:?})",
            state.writer
        );
        state.writer = None;
        state.drop_dirty(id, dirty);
    }

    /// Releases everything of write transaction `id` but the write lock (the
    /// leak-write-lock canary).
    pub(crate) fn release_leaking_lock(&self, id: u64, dirty: impl IntoIterator<Item = PageNo>) {
        assert!(
            self.canary(Canary::LeakWriteLock),
            "only the canary leaks the lock"
        );
        let mut state = self.state();
        state.unregister(id);
        state.drop_dirty(id, dirty);
    }

    /// Records that `image` of `pgno` passed the B-tree's whole-page check (see
    /// `PageCache::mark_checked`).
    pub(crate) fn mark_checked(&self, pgno: PageNo, image: &PageRef, index: CellIndex) {
        self.state().cache.mark_checked(pgno, image, index);
    }

    /// Puts write transaction `txn`'s new image of `pgno` into the cache, pinned.
    pub(crate) fn write_dirty(
        &self,
        txn: u64,
        pgno: PageNo,
        image: PageRef,
        index: Option<CellIndex>,
    ) -> Result<()> {
        let evict_dirty = self.canary(Canary::EvictDirtyPage);
        let mut state = self.live_state()?;
        assert_eq!(
            state.writer,
            Some(txn),
            "only the write lock's holder writes pages"
        );
        let key = CacheKey {
            page: pgno,
            version: Version::Dirty { txn },
        };
        state.cache.insert_checked(key, image, evict_dirty, index);
        Ok(())
    }

    /// Sequence of the last published commit. Grows across checkpoints and reopen.
    pub fn commit_seq(&self) -> u64 {
        self.state().commit_seq
    }

    /// Frames in the WAL's current generation (for auto-checkpoint decisions).
    pub fn wal_frames(&self) -> u32 {
        self.state().wal.max_frame
    }

    /// Frames already copied into the database file.
    pub fn wal_backfilled(&self) -> u32 {
        self.state().wal.backfilled()
    }

    /// Whether a failed WAL fsync poisoned this pager.
    pub fn is_poisoned(&self) -> bool {
        self.state().poisoned
    }

    /// Whether some transaction holds the write lock.
    pub fn is_write_locked(&self) -> bool {
        self.state().writer.is_some()
    }

    /// The id of the transaction (or checkpoint) holding the write lock, if any: ids are
    /// never reused within one open, so a change of owner means the lock changed hands.
    pub fn write_lock_owner(&self) -> Option<u64> {
        self.state().writer
    }

    /// Number of registered snapshots (readers and the writer).
    pub fn reader_count(&self) -> usize {
        self.state().readers.len()
    }

    /// The header as of the latest published commit (root, freelist, page count; its
    /// `checkpoint_seq` is not maintained here, see `checkpoint_seq`).
    pub fn header(&self) -> DbHeader {
        self.state().header
    }

    /// Commit sequence of the last checkpoint that reached the database file.
    pub fn checkpoint_seq(&self) -> u64 {
        self.state().db_header.checkpoint_seq
    }

    /// Pages currently held by the shared cache.
    pub fn cached_pages(&self) -> usize {
        self.state().cache.len()
    }

    /// Bytes per page.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &DbOptions {
        &self.options
    }

    /// The I/O backend this pager submits to.
    pub fn io(&self) -> &Arc<dyn IO> {
        &self.io
    }
}
