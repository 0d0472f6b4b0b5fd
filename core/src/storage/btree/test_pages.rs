//! `TestPages`: an in-memory `PageAccess` for tests of the B-tree and of anything built on
//! it. Pages live in a `BTreeMap`; freed pages go on a freelist and are reused first.
//!
//! It is hostile on purpose, from one seeded generator: `read_page` and `reserve_pages`
//! return an explicit yield on a chosen fraction of calls (the caller must re-enter and get
//! the same answer), and `should_yield` says yes on another chosen fraction. It also
//! refuses misuse that a real pager might let through silently: reading, writing or freeing
//! a page that is not in use, and allocating more pages than were reserved.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::io::{Completion, IOCompletions, IOResult};
use crate::storage::{CellIndex, PageAccess, PageNo, PageRef};
use crate::yields::YieldPoint;
use crate::{Error, Result};

const PPM: u64 = 1_000_000;

/// In-memory pages with seeded, injectable yields.
#[derive(Debug)]
pub struct TestPages {
    page_size: usize,
    pages: BTreeMap<PageNo, PageRef>,
    root: PageNo,
    /// Highest page number ever handed out; page 1 (the header) always exists.
    page_count: u32,
    freelist: Vec<PageNo>,
    reserved: usize,
    rng: RefCell<Xoshiro256PlusPlus>,
    read_yield_ppm: u32,
    point_yield_ppm: u32,
    yields_taken: RefCell<BTreeMap<YieldPoint, u64>>,
}

impl TestPages {
    /// Pages of `page_size` bytes that never yield.
    pub fn new(page_size: usize) -> TestPages {
        TestPages::with_yields(page_size, 0, 0, 0)
    }

    /// Pages whose reads and reservations yield with chance `read_yield_ppm` and whose
    /// yield points say yes with chance `point_yield_ppm` (parts per million; 1_000_000
    /// means always), drawn from a generator seeded with `seed`.
    pub fn with_yields(
        page_size: usize,
        seed: u64,
        read_yield_ppm: u32,
        point_yield_ppm: u32,
    ) -> TestPages {
        assert!(
            page_size.is_power_of_two() && (512..=65536).contains(&page_size),
            "page size {page_size} is not a power of two in 512..=65536"
        );
        TestPages {
            page_size,
            pages: BTreeMap::new(),
            root: 0,
            page_count: 1,
            freelist: Vec::new(),
            reserved: 0,
            rng: RefCell::new(Xoshiro256PlusPlus::seed_from_u64(seed)),
            read_yield_ppm,
            point_yield_ppm,
            yields_taken: RefCell::new(BTreeMap::new()),
        }
    }

    /// Highest page number in the file (page 1 is the header).
    pub fn page_count(&self) -> u32 {
        self.page_count
    }

    /// Free pages; the last one is reused first.
    pub fn freelist(&self) -> &[PageNo] {
        &self.freelist
    }

    /// Pages in use by the tree (allocated and not freed).
    pub fn pages_in_use(&self) -> usize {
        self.pages.len()
    }

    /// How many times `should_yield(point)` said yes.
    pub fn yields_taken(&self, point: YieldPoint) -> u64 {
        self.yields_taken.borrow().get(&point).copied().unwrap_or(0)
    }

    /// The stored image of `pgno`, bypassing yields (for tests that inspect pages).
    pub fn raw_page(&self, pgno: PageNo) -> Option<&PageRef> {
        self.pages.get(&pgno)
    }

    /// Overwrites `pgno` with `image`, in use or not, bypassing every check (for tests that
    /// corrupt pages on purpose). Grows `page_count` to cover `pgno`.
    pub fn put_raw_page(&mut self, pgno: PageNo, image: Vec<u8>) {
        assert_eq!(image.len(), self.page_size, "raw page of the wrong size");
        self.page_count = self.page_count.max(pgno);
        self.pages.insert(pgno, Arc::new(image));
    }

    /// Puts `pgno` on the freelist without removing it from use (for corruption tests).
    pub fn push_raw_free(&mut self, pgno: PageNo) {
        self.freelist.push(pgno);
    }

    /// Steps a state machine over these pages until it is done. Every `IO` these pages
    /// return is an already finished yield, so re-entering at once is always right.
    pub fn drive<T>(
        &mut self,
        mut step: impl FnMut(&mut TestPages) -> Result<IOResult<T>>,
    ) -> Result<T> {
        loop {
            match step(self)? {
                IOResult::Done(value) => return Ok(value),
                IOResult::IO(io) => assert!(io.finished(), "test pages only ever yield"),
            }
        }
    }

    fn chance(&self, ppm: u32) -> bool {
        ppm > 0 && self.rng.borrow_mut().next_u64() % PPM < u64::from(ppm)
    }

    fn explicit_yield<T>() -> Result<IOResult<T>> {
        Ok(IOResult::IO(IOCompletions::Single(Completion::new_yield())))
    }
}

impl PageAccess for TestPages {
    fn page_size(&self) -> usize {
        self.page_size
    }

    fn root(&self) -> PageNo {
        self.root
    }

    fn set_root(&mut self, root: PageNo) -> Result<()> {
        self.root = root;
        Ok(())
    }

    fn read_page_checked(
        &mut self,
        pgno: PageNo,
    ) -> Result<IOResult<(PageRef, Option<CellIndex>)>> {
        if self.chance(self.read_yield_ppm) {
            return Self::explicit_yield();
        }
        match self.pages.get(&pgno) {
            Some(page) => Ok(IOResult::Done((page.clone(), None))),
            None => Err(Error::Internal(format!(
                "read of page {pgno}, which is not in use"
            ))),
        }
    }

    fn write_page(&mut self, pgno: PageNo, image: Vec<u8>) -> Result<()> {
        if image.len() != self.page_size {
            return Err(Error::Internal(format!(
                "page {pgno} written with {} bytes",
                image.len()
            )));
        }
        match self.pages.get_mut(&pgno) {
            Some(page) => {
                *page = Arc::new(image);
                Ok(())
            }
            None => Err(Error::Internal(format!(
                "write of page {pgno}, which is not in use"
            ))),
        }
    }

    fn reserve_pages(&mut self, count: usize) -> Result<IOResult<()>> {
        if self.chance(self.read_yield_ppm) {
            return Self::explicit_yield();
        }
        self.reserved = count;
        Ok(IOResult::Done(()))
    }

    fn allocate_page(&mut self) -> Result<PageNo> {
        if self.reserved == 0 {
            return Err(Error::Internal(
                "page allocated without a reservation".into(),
            ));
        }
        self.reserved -= 1;
        let pgno = match self.freelist.pop() {
            Some(pgno) => pgno,
            None => {
                self.page_count += 1;
                self.page_count
            }
        };
        self.pages.insert(pgno, Arc::new(vec![0; self.page_size]));
        Ok(pgno)
    }

    fn free_page(&mut self, pgno: PageNo) -> Result<()> {
        if self.pages.remove(&pgno).is_none() {
            return Err(Error::Internal(format!(
                "free of page {pgno}, which is not in use"
            )));
        }
        self.freelist.push(pgno);
        Ok(())
    }

    fn should_yield(&self, point: YieldPoint) -> bool {
        let yes = self.chance(self.point_yield_ppm);
        if yes {
            *self.yields_taken.borrow_mut().entry(point).or_insert(0) += 1;
        }
        yes
    }
}
