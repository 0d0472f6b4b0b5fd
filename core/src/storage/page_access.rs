//! `PageAccess`: the contract between the B-tree and the pager.
//!
//! One value implementing it stands for one transaction's view of the database: the pages
//! as of its read snapshot, plus (for a writer) its private dirty pages. The B-tree only
//! ever sees whole page images; the pager owns checksums, the WAL, the cache and the
//! freelist.
//!
//! Page layout owned by the pager: the last `PAGE_RESERVED_BYTES` bytes of every page hold
//! its checksum; the B-tree may use only the first `usable_size()` bytes and must leave
//! the reserved tail as it found it (the pager rewrites it on write-out).
//! Page 1 is the header page and never belongs to the B-tree.

use std::sync::Arc;

use crate::Result;
use crate::io::IOResult;
use crate::yields::YieldPoint;

/// A page number; 1 is the header page, 0 means "no page".
pub type PageNo = u32;

/// An immutable page image of exactly `page_size` bytes, shared between cache and readers.
pub type PageRef = Arc<Vec<u8>>;

/// The B-tree's index of one page image: the byte offset of each cell, in order. The
/// cache keeps it with the image once the B-tree has checked the page as a whole
/// (`PageAccess::mark_checked`); the pager never looks inside.
pub type CellIndex = Arc<[u16]>;

/// Bytes at the end of every page reserved for the pager's checksum.
pub const PAGE_RESERVED_BYTES: usize = 8;
// The tail holds the page's crc32 and zeros after it.
const _: () = assert!(PAGE_RESERVED_BYTES >= 4);

/// One transaction's view of the pages.
pub trait PageAccess {
    /// Page size in bytes.
    fn page_size(&self) -> usize;

    /// Bytes the B-tree may use at the start of each page.
    fn usable_size(&self) -> usize {
        self.page_size() - PAGE_RESERVED_BYTES
    }

    /// The B-tree's root page (0 when the tree has never been created).
    fn root(&self) -> PageNo;

    /// Records a new root (writers only; takes effect at commit).
    fn set_root(&mut self, root: PageNo) -> Result<()>;

    /// The image of `pgno` as this transaction sees it. May need I/O; re-enter until Done.
    /// Mutates nothing the caller can observe, so re-entry is always safe.
    fn read_page(&mut self, pgno: PageNo) -> Result<IOResult<PageRef>> {
        let (image, _) = crate::return_if_io!(self.read_page_checked(pgno));
        Ok(IOResult::Done(image))
    }

    /// Like `read_page`, with the cell index recorded for this very image by `mark_checked`
    /// if there is one: the image then already passed the B-tree's whole-page check, and a
    /// lookup through it may skip the check and search the index. Implementations that do
    /// not remember give `None`.
    fn read_page_checked(&mut self, pgno: PageNo)
    -> Result<IOResult<(PageRef, Option<CellIndex>)>>;

    /// Records that `image`, just read for `pgno`, passed the B-tree's whole-page check,
    /// with its cell index. Page images never change once read, so the record holds for as
    /// long as the image is shared. Changes nothing a reader can see; the default forgets.
    fn mark_checked(&mut self, _pgno: PageNo, _image: &PageRef, _index: CellIndex) {}

    /// Replaces `pgno`'s image in this transaction's private dirty set. No I/O.
    fn write_page(&mut self, pgno: PageNo, image: Vec<u8>) -> Result<()>;

    /// `write_page`, with the image's cell index when the B-tree vouches for the image (it
    /// edited a checked image), so later lookups need not check it; the index follows the
    /// image when it is committed. The default forgets the index.
    fn write_page_checked(
        &mut self,
        pgno: PageNo,
        image: Vec<u8>,
        _index: Option<CellIndex>,
    ) -> Result<()> {
        self.write_page(pgno, image)
    }

    /// Makes sure the next `count` calls to `allocate_page` need no I/O (loads freelist
    /// pages as needed). Re-entrant: may be called again after yielding.
    fn reserve_pages(&mut self, count: usize) -> Result<IOResult<()>>;

    /// Allocates a page reserved earlier (from the freelist, else by growing the file).
    /// Fails with `Error::Internal` if more pages are taken than were reserved.
    fn allocate_page(&mut self) -> Result<PageNo>;

    /// Returns `pgno` to the freelist. No I/O.
    fn free_page(&mut self, pgno: PageNo) -> Result<()>;

    /// Asks the installed yield injector whether to yield at `point` (false in production).
    fn should_yield(&self, point: YieldPoint) -> bool;
}
