//! Helpers shared by the pager's scenario tests (`#[path]`-included by each of them).
#![allow(dead_code)]

use std::sync::Arc;

use braid_core::storage::{CheckpointMode, CheckpointOutcome, PageAccess, PageNo, Pager};
use braid_core::{DbOptions, IO, Result, YieldInjector, YieldPoint, block_on};

pub const DB: &str = "test.db";
pub const WAL: &str = "test.db-wal";

/// Small pages and a small cache, so tests exercise eviction.
pub fn options(page_size: usize) -> DbOptions {
    DbOptions {
        page_size,
        cache_pages: 16,
        ..DbOptions::default()
    }
}

pub fn open(io: &Arc<dyn IO>, opts: &DbOptions) -> Result<Arc<Pager>> {
    Pager::open_blocking(io.clone(), DB, opts.clone())
}

/// A recognisable page image: `fill` everywhere, the page number and a tag up front.
pub fn image(page_size: usize, pgno: PageNo, fill: u8) -> Vec<u8> {
    let mut image = vec![fill; page_size];
    image[0..4].copy_from_slice(&pgno.to_le_bytes());
    image
}

/// The fill byte a page was written with (checked against the page number).
pub fn fill_of(image: &[u8], pgno: PageNo) -> u8 {
    assert_eq!(
        &image[0..4],
        &pgno.to_le_bytes(),
        "page {pgno} carries its own number"
    );
    image[8]
}

/// Allocates `count` new pages filled with `fill`, commits; returns the pages and seq.
pub fn allocate_pages(pager: &Arc<Pager>, count: usize, fill: u8) -> Result<(Vec<PageNo>, u64)> {
    let io = pager.io().clone();
    let mut txn = pager.try_begin_write(None)?;
    block_on(io.as_ref(), || txn.reserve_pages(count))?;
    let mut pages = Vec::new();
    for _ in 0..count {
        let pgno = txn.allocate_page()?;
        txn.write_page(pgno, image(pager.page_size(), pgno, fill))?;
        pages.push(pgno);
    }
    let seq = block_on(io.as_ref(), || txn.commit())?.expect("the commit wrote pages");
    Ok((pages, seq))
}

/// Rewrites `pages` with `fill` in one transaction; returns the commit sequence.
pub fn rewrite_pages(pager: &Arc<Pager>, pages: &[PageNo], fill: u8) -> Result<u64> {
    let io = pager.io().clone();
    let mut txn = pager.try_begin_write(None)?;
    for &pgno in pages {
        txn.write_page(pgno, image(pager.page_size(), pgno, fill))?;
    }
    Ok(block_on(io.as_ref(), || txn.commit())?.expect("the commit wrote pages"))
}

/// The fill of each page as a fresh reader sees it.
pub fn read_fills(pager: &Arc<Pager>, pages: &[PageNo]) -> Result<Vec<u8>> {
    let io = pager.io().clone();
    let mut txn = pager.begin_read()?;
    read_fills_in(&io, &mut txn, pages)
}

pub fn read_fills_in(
    io: &Arc<dyn IO>,
    txn: &mut dyn PageAccess,
    pages: &[PageNo],
) -> Result<Vec<u8>> {
    pages
        .iter()
        .map(|&pgno| block_on(io.as_ref(), || txn.read_page(pgno)).map(|img| fill_of(&img, pgno)))
        .collect()
}

pub fn checkpoint(pager: &Arc<Pager>, mode: CheckpointMode) -> Result<CheckpointOutcome> {
    let io = pager.io().clone();
    let mut checkpoint = pager.checkpoint(mode);
    block_on(io.as_ref(), || checkpoint.step())
}

/// Says yes at every yield point.
pub struct AlwaysYield;

impl YieldInjector for AlwaysYield {
    fn should_yield(&self, _point: YieldPoint) -> bool {
        true
    }
}
