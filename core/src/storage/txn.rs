//! Transactions as the B-tree sees them: `ReadTxn` and `WriteTxn` implement `PageAccess`.
//!
//! A `ReadTxn` reads the pages of its snapshot and writes nothing. A `WriteTxn` holds the
//! write lock; its writes go to private dirty images in the shared cache, pinned and
//! keyed by its transaction id, invisible to every other transaction until `commit`
//! publishes them (commit.rs). Dropping either releases what it holds; dropping a
//! `WriteTxn` without committing rolls it back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::io::IOResult;
use crate::storage::format::{DbHeader, HEADER_PAGE};
use crate::storage::page_access::{CellIndex, PageAccess, PageNo, PageRef};
use crate::storage::pager::commit_state::CommitState;
use crate::storage::pager::fetch::{PageView, PendingRead};
use crate::storage::pager::{Pager, Snapshot};
use crate::yields::YieldPoint;
use crate::{Error, Result};

/// A read-only transaction on one snapshot. Beginning and ending it need no I/O.
pub struct ReadTxn {
    pager: Arc<Pager>,
    id: u64,
    snapshot: Snapshot,
    pending: Option<PendingRead>,
}

impl std::fmt::Debug for ReadTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTxn")
            .field("id", &self.id)
            .field("seq", &self.snapshot.seq())
            .finish()
    }
}

impl ReadTxn {
    pub(crate) fn new(pager: Arc<Pager>, id: u64, snapshot: Snapshot) -> Self {
        ReadTxn {
            pager,
            id,
            snapshot,
            pending: None,
        }
    }

    /// The snapshot this transaction reads.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The commit sequence of the snapshot.
    pub fn snapshot_seq(&self) -> u64 {
        self.snapshot.seq()
    }

    /// The header (root, freelist, page count) as of the snapshot.
    pub fn header(&self) -> &DbHeader {
        self.snapshot.header()
    }

    /// Ends the transaction (the same as dropping it).
    pub fn end(self) {}
}

impl Drop for ReadTxn {
    fn drop(&mut self) {
        self.pager.release_reader(self.id);
    }
}

impl Pager {
    /// Starts a read-only transaction on the latest published commit. No I/O.
    pub fn begin_read(self: &Arc<Self>) -> Result<ReadTxn> {
        let (id, snapshot) = self.register_reader()?;
        Ok(ReadTxn::new(self.clone(), id, snapshot))
    }

    /// Takes the write lock. `snapshot` is the caller's read snapshot if it already read
    /// (a deferred transaction upgrading), `None` to start from the latest commit.
    /// `Busy` if another writer holds the lock; `BusySnapshot` if a commit was published
    /// after `snapshot`. On error nothing changes. No I/O.
    pub fn try_begin_write(self: &Arc<Self>, snapshot: Option<&Snapshot>) -> Result<WriteTxn> {
        let (id, snapshot) = self.lock_for_write(snapshot)?;
        Ok(WriteTxn::new(self.clone(), id, snapshot))
    }
}

fn read_only<T>(what: &str) -> Result<T> {
    Err(Error::Misuse(format!("{what} in a read-only transaction")))
}

impl PageAccess for ReadTxn {
    fn page_size(&self) -> usize {
        self.pager.page_size()
    }

    fn root(&self) -> PageNo {
        self.snapshot.header().root
    }

    fn set_root(&mut self, _root: PageNo) -> Result<()> {
        read_only("set_root")
    }

    fn read_page_checked(
        &mut self,
        pgno: PageNo,
    ) -> Result<IOResult<(PageRef, Option<CellIndex>)>> {
        let view = PageView {
            snapshot: &self.snapshot,
            page_count: self.snapshot.header().page_count,
            dirty_txn: None,
        };
        self.pager.fetch(view, pgno, &mut self.pending)
    }

    fn mark_checked(&mut self, pgno: PageNo, image: &PageRef, index: CellIndex) {
        self.pager.mark_checked(pgno, image, index);
    }

    fn write_page(&mut self, _pgno: PageNo, _image: Vec<u8>) -> Result<()> {
        read_only("write_page")
    }

    fn reserve_pages(&mut self, _count: usize) -> Result<IOResult<()>> {
        read_only("reserve_pages")
    }

    fn allocate_page(&mut self) -> Result<PageNo> {
        read_only("allocate_page")
    }

    fn free_page(&mut self, _pgno: PageNo) -> Result<()> {
        read_only("free_page")
    }

    fn should_yield(&self, point: YieldPoint) -> bool {
        self.pager.options().should_yield(point)
    }
}

/// The one write transaction: holds the write lock from `Pager::try_begin_write` until
/// commit, rollback or drop.
pub struct WriteTxn {
    pub(super) pager: Arc<Pager>,
    pub(super) id: u64,
    pub(super) snapshot: Snapshot,
    /// The header as this transaction changed it (root, freelist, page count).
    pub(super) header: DbHeader,
    /// Pages with a private dirty image in the cache.
    pub(super) dirty: BTreeSet<PageNo>,
    /// Known successors of free pages (loaded by `reserve_pages`, or freed here).
    pub(super) free_next: BTreeMap<PageNo, PageNo>,
    /// Allocations still covered by the last `reserve_pages`.
    pub(super) reserved: usize,
    pub(super) pending: Option<PendingRead>,
    pub(super) commit_state: CommitState,
    /// Set once the transaction released its locks (committed, failed or rolled back).
    finished: bool,
    /// Debug builds: every page known to be on the freelist (its head, the pages whose
    /// successors were loaded and those successors, pages freed here), so that freeing a
    /// page twice is caught even where `free_next` cannot see it.
    #[cfg(debug_assertions)]
    pub(super) known_free: BTreeSet<PageNo>,
}

impl std::fmt::Debug for WriteTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTxn")
            .field("id", &self.id)
            .field("seq", &self.snapshot.seq())
            .field("dirty", &self.dirty.len())
            .finish()
    }
}

impl WriteTxn {
    pub(crate) fn new(pager: Arc<Pager>, id: u64, snapshot: Snapshot) -> Self {
        let header = *snapshot.header();
        WriteTxn {
            pager,
            id,
            snapshot,
            header,
            dirty: BTreeSet::new(),
            free_next: BTreeMap::new(),
            reserved: 0,
            pending: None,
            commit_state: CommitState::Start,
            finished: false,
            #[cfg(debug_assertions)]
            known_free: (header.freelist_head != 0)
                .then_some(header.freelist_head)
                .into_iter()
                .collect(),
        }
    }

    /// The snapshot this transaction started from.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The commit sequence of the snapshot (the commit just before this one's).
    pub fn snapshot_seq(&self) -> u64 {
        self.snapshot.seq()
    }

    /// The header as this transaction has changed it so far.
    pub fn header(&self) -> &DbHeader {
        &self.header
    }

    /// Pages written so far.
    pub fn dirty_pages(&self) -> usize {
        self.dirty.len()
    }

    /// Throws every change away and releases the write lock (the same as dropping it).
    pub fn rollback(mut self) {
        self.release();
    }

    /// Releases the snapshot, the write lock and the dirty images, once.
    pub(crate) fn release(&mut self) {
        if !self.finished {
            self.finished = true;
            self.pager
                .release_writer(self.id, std::mem::take(&mut self.dirty));
        }
        debug_assert!(
            self.dirty.is_empty(),
            "an ended transaction has no dirty pages"
        );
    }

    /// Releases everything but the write lock (the leak-write-lock canary).
    pub(crate) fn release_leaking_lock(&mut self) {
        assert!(!self.finished, "a transaction ends once");
        self.finished = true;
        self.pager
            .release_leaking_lock(self.id, std::mem::take(&mut self.dirty));
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.finished {
            return Err(Error::Misuse(
                "the write transaction has already ended".into(),
            ));
        }
        Ok(())
    }

    /// Checks that `pgno` is a page this transaction may write or free.
    pub(crate) fn check_writable(&self, pgno: PageNo) -> Result<()> {
        self.check_open()?;
        if pgno == HEADER_PAGE || pgno == 0 || pgno > self.header.page_count {
            return Err(Error::Misuse(format!(
                "page {pgno} is not a writable page (2..={})",
                self.header.page_count
            )));
        }
        Ok(())
    }
}

impl Drop for WriteTxn {
    fn drop(&mut self) {
        self.release();
    }
}

impl PageAccess for WriteTxn {
    fn page_size(&self) -> usize {
        self.pager.page_size()
    }

    fn root(&self) -> PageNo {
        self.header.root
    }

    fn set_root(&mut self, root: PageNo) -> Result<()> {
        if root != 0 {
            self.check_writable(root)?;
        }
        self.header.root = root;
        Ok(())
    }

    fn read_page_checked(
        &mut self,
        pgno: PageNo,
    ) -> Result<IOResult<(PageRef, Option<CellIndex>)>> {
        self.check_open()?;
        let view = PageView {
            snapshot: &self.snapshot,
            page_count: self.header.page_count,
            dirty_txn: Some(self.id),
        };
        self.pager.fetch(view, pgno, &mut self.pending)
    }

    fn mark_checked(&mut self, pgno: PageNo, image: &PageRef, index: CellIndex) {
        self.pager.mark_checked(pgno, image, index);
    }

    fn write_page(&mut self, pgno: PageNo, image: Vec<u8>) -> Result<()> {
        self.write_page_checked(pgno, image, None)
    }

    fn write_page_checked(
        &mut self,
        pgno: PageNo,
        image: Vec<u8>,
        index: Option<CellIndex>,
    ) -> Result<()> {
        self.check_writable(pgno)?;
        if image.len() != self.pager.page_size() {
            return Err(Error::Misuse(format!(
                "page {pgno} image has {} bytes, the page size is {}",
                image.len(),
                self.pager.page_size()
            )));
        }
        self.pager
            .write_dirty(self.id, pgno, Arc::new(image), index)?;
        self.dirty.insert(pgno);
        Ok(())
    }

    fn reserve_pages(&mut self, count: usize) -> Result<IOResult<()>> {
        self.reserve_free_pages(count)
    }

    fn allocate_page(&mut self) -> Result<PageNo> {
        self.allocate()
    }

    fn free_page(&mut self, pgno: PageNo) -> Result<()> {
        self.free(pgno)
    }

    fn should_yield(&self, point: YieldPoint) -> bool {
        self.pager.options().should_yield(point)
    }
}
