//! The freelist: pages freed by the B-tree, kept as a linked list through the free pages
//! themselves (each stores its successor, see storage/format.rs); the header holds the
//! head and the length.
//!
//! Allocation never does I/O: `reserve_pages(n)` first walks up to `n` links of the list
//! (reading free pages as needed, re-entrantly), so the next `n` calls to
//! `allocate_page` can pop known pages, or grow the file once the list is exhausted.
//! `free_page` never does I/O either: it writes the page's new image (pointing at the old
//! head) into the transaction's dirty set and makes it the head. Freed pages are
//! therefore reused first, and the page count grows only when the list is empty.
//!
//! `FreelistScan` lists the whole freelist under any `PageAccess`, for integrity checks.

use crate::error::Corruption;
use crate::io::IOResult;
use crate::storage::format::{free_page_image, free_page_next};
use crate::storage::page_access::{PageAccess, PageNo};
use crate::storage::txn::WriteTxn;
use crate::{Error, Result, return_if_io};

impl WriteTxn {
    /// Loads free pages until `count` allocations are covered. Re-entrant: it only
    /// records successors of pages it has finished reading.
    pub(crate) fn reserve_free_pages(&mut self, count: usize) -> Result<IOResult<()>> {
        self.check_open()?;
        loop {
            let mut page = self.header.freelist_head;
            let mut known = 0;
            while page != 0 && known < count {
                match self.free_next.get(&page) {
                    Some(&next) => {
                        known += 1;
                        page = next;
                    }
                    None => break,
                }
            }
            if known == count || page == 0 {
                self.reserved = count;
                return Ok(IOResult::Done(()));
            }
            let image = return_if_io!(self.read_page(page));
            let next = free_page_next(&image);
            if next == 1 || next > self.header.page_count || self.free_next.contains_key(&next) {
                return Err(Corruption::FreeLink {
                    page,
                    next,
                    page_count: self.header.page_count,
                }
                .into());
            }
            let previous = self.free_next.insert(page, next);
            assert!(previous.is_none(), "a free page's successor is loaded once");
            #[cfg(debug_assertions)]
            self.known_free
                .extend([page, next].into_iter().filter(|&p| p != 0));
        }
    }

    /// Takes a reserved page: the freelist head if its successor is known, else a new
    /// page at the end of the file.
    pub(crate) fn allocate(&mut self) -> Result<PageNo> {
        self.check_open()?;
        if self.reserved == 0 {
            return Err(Error::Misuse("allocate_page without a reservation".into()));
        }
        let head = self.header.freelist_head;
        let page = match self.free_next.remove(&head) {
            Some(next) if head != 0 => {
                self.header.freelist_head = next;
                self.header.freelist_count = self
                    .header
                    .freelist_count
                    .checked_sub(1)
                    .ok_or(Corruption::FreelistOverCount)?;
                head
            }
            _ => {
                self.header.page_count = self
                    .header
                    .page_count
                    .checked_add(1)
                    .ok_or_else(|| Error::Internal("page count overflow".into()))?;
                self.header.page_count
            }
        };
        self.reserved -= 1;
        assert!(
            page > 1 && page <= self.header.page_count,
            "allocated page {page} exists"
        );
        #[cfg(debug_assertions)]
        self.known_free.remove(&page);
        Ok(page)
    }

    /// Puts `pgno` at the head of the freelist. No I/O.
    pub(crate) fn free(&mut self, pgno: PageNo) -> Result<()> {
        self.check_writable(pgno)?;
        // A caller of the page API can free a page twice; the check here sees the freelist
        // as far as this transaction knows it, the debug-only set below sees a page
        // anywhere on the part it loaded.
        if pgno == self.header.freelist_head || self.free_next.contains_key(&pgno) {
            return Err(Error::Misuse(format!("page {pgno} freed twice")));
        }
        #[cfg(debug_assertions)]
        assert!(
            self.known_free.insert(pgno),
            "page {pgno} freed while it is on the freelist"
        );
        let head = self.header.freelist_head;
        let image = free_page_image(self.pager.page_size, head);
        crate::storage::page_access::PageAccess::write_page(self, pgno, image)?;
        self.free_next.insert(pgno, head);
        self.header.freelist_head = pgno;
        self.header.freelist_count += 1;
        assert!(
            self.header.freelist_count < self.header.page_count,
            "the freelist holds fewer pages than the file (page 1 is never free)"
        );
        Ok(())
    }
}

/// Walks the freelist from `head`, collecting its pages. Re-entrant; reports a cycle or a
/// length different from the header's count as `Error::Corrupt`.
#[derive(Debug, Clone)]
pub struct FreelistScan {
    next: PageNo,
    expected: u32,
    pages: Vec<PageNo>,
}

impl FreelistScan {
    /// A scan of the list starting at `head` that the header says holds `count` pages.
    pub fn new(head: PageNo, count: u32) -> Self {
        FreelistScan {
            next: head,
            expected: count,
            pages: Vec::new(),
        }
    }

    /// Reads the list to its end; returns its pages in list order.
    pub fn step(&mut self, pages: &mut dyn PageAccess) -> Result<IOResult<Vec<PageNo>>> {
        while self.next != 0 {
            if self.pages.len() >= self.expected as usize {
                return Err(Corruption::FreelistCycle {
                    count: self.expected,
                }
                .into());
            }
            let image = return_if_io!(pages.read_page(self.next));
            self.pages.push(self.next);
            self.next = free_page_next(&image);
        }
        if self.pages.len() != self.expected as usize {
            return Err(Corruption::FreelistLength {
                found: self.pages.len(),
                count: self.expected,
            }
            .into());
        }
        Ok(IOResult::Done(self.pages.clone()))
    }
}
