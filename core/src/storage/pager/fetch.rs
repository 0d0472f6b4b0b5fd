//! Reading one page as a transaction sees it.
//!
//! Where a page comes from, for a snapshot with `max_frame = M`: the transaction's own
//! dirty image if it is a writer that wrote it; else the latest WAL frame of the page at
//! or below `M`; else the database file. The (page, version) pair is the cache key, so
//! every reader of one version shares one cached image.
//!
//! The state of a read in flight lives in the transaction's `PendingRead`, invisible to
//! everyone else: a `read_page` that yields has changed nothing observable, and re-entry
//! picks the read up where it was. Every image read from disk is verified against its
//! page checksum before anyone sees it (`Error::Corrupt` on mismatch); a short read is an
//! error. Before inserting into a full cache the read may yield once at
//! `YieldPoint::CacheEvict`.

use crate::canary::Canary;
use crate::error::{Corruption, PageSource};
use crate::io::{Completion, IOResult};
use crate::storage::format::verify_page;
use crate::storage::page_access::{CellIndex, PageNo, PageRef};
use crate::storage::wal::format::frame_image_offset;
use crate::yields::YieldPoint;
use crate::{Error, Result, io_yield_one};

use super::cache::{CacheKey, Version};
use super::{Pager, Snapshot};

/// A page read in flight for one transaction.
#[derive(Debug)]
pub(crate) struct PendingRead {
    key: CacheKey,
    read: Completion,
    /// The verified image, kept while the read yields before evicting.
    image: Option<PageRef>,
    evict_yield_taken: bool,
}

/// What a transaction reads through.
pub(crate) struct PageView<'a> {
    pub(crate) snapshot: &'a Snapshot,
    /// Pages `1..=page_count` exist for this transaction.
    pub(crate) page_count: u32,
    /// The writer whose dirty images come first.
    pub(crate) dirty_txn: Option<u64>,
}

impl Pager {
    /// The image of `pgno` under `view`, and its cell index if it passed the B-tree's whole-page
    /// check already (see `PageCache::mark_checked`). Re-enter with the same `pending`
    /// until Done.
    pub(crate) fn fetch(
        &self,
        view: PageView<'_>,
        pgno: PageNo,
        pending: &mut Option<PendingRead>,
    ) -> Result<IOResult<(PageRef, Option<CellIndex>)>> {
        let key = {
            let mut state = self.live_state()?;
            if pgno == 0 || pgno > view.page_count {
                return Err(Corruption::NoSuchPage {
                    page: pgno,
                    page_count: view.page_count,
                }
                .into());
            }
            if let Some(txn) = view.dirty_txn {
                let dirty = CacheKey {
                    page: pgno,
                    version: Version::Dirty { txn },
                };
                if let Some(found) = state.cache.get_checked(&dirty) {
                    *pending = None;
                    return Ok(IOResult::Done(found));
                }
            }
            let max_frame = view.snapshot.visible_max_frame(&state.wal);
            assert!(
                max_frame <= state.wal.max_frame,
                "a snapshot sees only published frames"
            );
            let version = match state.wal.latest_frame(pgno, max_frame) {
                Some(frame) => Version::Frame {
                    generation: state.wal.generation,
                    frame,
                },
                None => Version::DbFile,
            };
            let key = CacheKey {
                page: pgno,
                version,
            };
            if let Some(found) = state.cache.get_checked(&key) {
                *pending = None;
                return Ok(IOResult::Done(found));
            }
            key
        };
        let Some(read) = pending.as_mut().filter(|p| p.key == key) else {
            let read = self.submit_read(key)?;
            *pending = Some(PendingRead {
                key,
                read: read.clone(),
                image: None,
                evict_yield_taken: false,
            });
            io_yield_one!(read);
        };
        if read.image.is_none() {
            if !read.read.finished() {
                io_yield_one!(read.read.clone());
            }
            let from = match key.version {
                Version::DbFile => PageSource::DbFile,
                Version::Frame { generation, frame } => PageSource::Frame { generation, frame },
                Version::Dirty { .. } => unreachable!("dirty images are never read from disk"),
            };
            match verified_image(&read.read, key.page, self.page_size, Some(from)) {
                Ok(image) => read.image = Some(image),
                Err(e) => {
                    *pending = None;
                    return Err(self.unless_poisoned(e));
                }
            }
        }
        if !read.evict_yield_taken
            && self.state().cache.is_full()
            && self.options.should_yield(YieldPoint::CacheEvict)
        {
            read.evict_yield_taken = true;
            io_yield_one!(Completion::new_yield());
        }
        let image = read.image.take().expect("the image was stored above");
        *pending = None;
        let evict_dirty = self.canary(Canary::EvictDirtyPage);
        self.live_state()?
            .cache
            .insert(key, image.clone(), evict_dirty);
        Ok(IOResult::Done((image, None)))
    }

    fn submit_read(&self, key: CacheKey) -> Result<Completion> {
        let c = Completion::new_read(self.page_size, |_| {});
        match key.version {
            Version::DbFile => {
                let offset = u64::from(key.page - 1) * self.page_size as u64;
                self.db.pread(offset, self.page_size, c)
            }
            Version::Frame { frame, .. } => {
                self.wal
                    .pread(frame_image_offset(frame, self.page_size), self.page_size, c)
            }
            Version::Dirty { .. } => unreachable!("dirty images are never read from disk"),
        }
    }
}

/// The image of page `page` from a finished read of one page: success, the whole page, a
/// valid page checksum. `from` names where it was read (for the error), when told apart.
pub(crate) fn verified_image(
    read: &Completion,
    page: PageNo,
    page_size: usize,
    from: Option<PageSource>,
) -> Result<PageRef> {
    let image = read.read_exactly(page_size)?;
    verify_page(page, &image).map_err(|e| match e {
        Error::Corrupt(Corruption::Page { page, defect, .. }) => {
            Error::Corrupt(Corruption::Page { page, defect, from })
        }
        other => other,
    })?;
    Ok(std::sync::Arc::new(image))
}
