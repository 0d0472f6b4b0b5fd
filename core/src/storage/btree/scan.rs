//! `Scan`: the rows with keys in `[start, end)`, in key order, at most `limit` of them.
//!
//! Leaves have no sibling links, so the scan descends from the root once per leaf: each
//! descent looks for the current lower bound and remembers the tightest separator above it
//! (the leaf's upper bound), which becomes the lower bound of the next descent.
//!
//! Pages are read in place through their cell index (`get::checked_index`): interior pages
//! are searched, and only the rows returned are copied out of a leaf.

use super::node::{LookupStep, indexed_cell, lookup_indexed};
use super::read::{checked_index, read_image_checked};
use crate::error::Corruption;
use crate::io::IOResult;
use crate::storage::{PageAccess, PageNo};
use crate::{Error, Result, return_if_io};

/// Key/value rows in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// A leaf image with its cell index.
#[derive(Clone, Copy)]
struct IndexedLeaf<'a> {
    image: &'a [u8],
    usable_size: usize,
    index: &'a [u16],
}

/// A range scan.
#[derive(Debug)]
pub struct Scan {
    end: Option<Vec<u8>>,
    limit: usize,
    rows: Rows,
    state: ScanState,
}

#[derive(Debug)]
enum ScanState {
    /// Waiting to start a descent for keys `>= lower`.
    Descend { lower: Vec<u8> },
    /// Waiting for page `pgno` of a descent; `upper` is the tightest separator above
    /// `lower` seen so far on the way down (the end of this page's key range).
    WaitPage {
        lower: Vec<u8>,
        upper: Option<Vec<u8>>,
        pgno: PageNo,
        depth: usize,
    },
    /// Finished; stepping again is a bug.
    Done,
}

impl Scan {
    /// Rows with `start <= key < end` (no `end`: to the last key), at most `limit`.
    pub fn new(start: Vec<u8>, end: Option<Vec<u8>>, limit: usize) -> Scan {
        Scan {
            end,
            limit,
            rows: Vec::new(),
            state: ScanState::Descend { lower: start },
        }
    }

    /// Advances the scan; `Done(rows)` in key order.
    pub fn step<P: PageAccess + ?Sized>(&mut self, pages: &mut P) -> Result<IOResult<Rows>> {
        loop {
            match &mut self.state {
                ScanState::Descend { lower } => {
                    let root = pages.root();
                    let empty_range = self.end.as_ref().is_some_and(|end| end <= lower);
                    if root == 0 || self.limit == 0 || empty_range {
                        return Ok(IOResult::Done(self.finish()));
                    }
                    let lower = std::mem::take(lower);
                    self.state = ScanState::WaitPage {
                        lower,
                        upper: None,
                        pgno: root,
                        depth: 0,
                    };
                }
                ScanState::WaitPage {
                    lower,
                    upper,
                    pgno,
                    depth,
                } => {
                    let (image, index) = return_if_io!(read_image_checked(pages, *pgno, *depth));
                    let page = *pgno;
                    let usable_size = pages.usable_size();
                    let index = checked_index(pages, page, &image, index)?;
                    let corrupt = |why: String| Error::from(Corruption::node(page, why));
                    match lookup_indexed(&image, usable_size, &index, lower).map_err(corrupt)? {
                        LookupStep::Child {
                            page: child,
                            index: position,
                        } => {
                            if position < index.len() {
                                let (separator, _) =
                                    indexed_cell(&image, usable_size, &index, position)
                                        .map_err(corrupt)?;
                                *upper = Some(separator.to_vec());
                            }
                            *pgno = child;
                            *depth += 1;
                        }
                        LookupStep::Leaf(_) => {
                            let lower = std::mem::take(lower);
                            let upper = upper.take();
                            let leaf = IndexedLeaf {
                                image: &image,
                                usable_size,
                                index: &index,
                            };
                            if self.take_rows(leaf, &lower).map_err(corrupt)? {
                                return Ok(IOResult::Done(self.finish()));
                            }
                            match upper {
                                Some(next) if self.end.as_ref().is_none_or(|end| &next < end) => {
                                    self.state = ScanState::Descend { lower: next };
                                }
                                _ => return Ok(IOResult::Done(self.finish())),
                            }
                        }
                    }
                }
                ScanState::Done => panic!("a finished B-tree scan was stepped again"),
            }
        }
    }

    /// Adds the leaf's rows at or above `lower` and below the end; true when the scan is
    /// complete (limit reached, or a key at or past the end seen).
    fn take_rows(&mut self, leaf: IndexedLeaf<'_>, lower: &[u8]) -> Result<bool, String> {
        let cell =
            |position: usize| indexed_cell(leaf.image, leaf.usable_size, leaf.index, position);
        // The first cell at or above `lower`.
        let (mut low, mut high) = (0, leaf.index.len());
        while low < high {
            let middle = (low + high) / 2;
            if cell(middle)?.0 < lower {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        for position in low..leaf.index.len() {
            let (key, value) = cell(position)?;
            if self.end.as_deref().is_some_and(|end| key >= end) {
                return Ok(true);
            }
            self.rows.push((key.to_vec(), value.to_vec()));
            if self.rows.len() >= self.limit {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn finish(&mut self) -> Rows {
        assert!(
            self.rows.len() <= self.limit,
            "a scan returns at most its limit"
        );
        debug_assert!(
            self.rows.windows(2).all(|pair| pair[0].0 < pair[1].0),
            "a scan's rows ascend by key"
        );
        self.state = ScanState::Done;
        std::mem::take(&mut self.rows)
    }
}
