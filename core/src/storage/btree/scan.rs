//! `Scan`: the rows with keys in `[start, end)`, in key order, at most `limit` of them.
//!
//! Leaves have no sibling links, so the scan descends from the root once per leaf: each
//! descent looks for the current lower bound and remembers the tightest separator above it
//! (the leaf's upper bound), which becomes the lower bound of the next descent.

use super::get::read_node;
use super::node::{Node, child_index};
use crate::io::IOResult;
use crate::storage::{PageAccess, PageNo};
use crate::{Result, return_if_io};

/// Key/value rows in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

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
                } => match return_if_io!(read_node(pages, *pgno, *depth)) {
                    Node::Interior { keys, children } => {
                        let index = child_index(&keys, lower);
                        if index < keys.len() {
                            *upper = Some(keys[index].clone());
                        }
                        *pgno = children[index];
                        *depth += 1;
                    }
                    Node::Leaf { cells } => {
                        let lower = std::mem::take(lower);
                        let upper = upper.take();
                        if self.take_rows(cells, &lower) {
                            return Ok(IOResult::Done(self.finish()));
                        }
                        match upper {
                            Some(next) if self.end.as_ref().is_none_or(|end| &next < end) => {
                                self.state = ScanState::Descend { lower: next };
                            }
                            _ => return Ok(IOResult::Done(self.finish())),
                        }
                    }
                },
                ScanState::Done => panic!("a finished B-tree scan was stepped again"),
            }
        }
    }

    /// Adds the leaf's rows at or above `lower` and below the end; true when the scan is
    /// complete (limit reached, or a key at or past the end seen).
    fn take_rows(&mut self, cells: Vec<(Vec<u8>, Vec<u8>)>, lower: &[u8]) -> bool {
        for (key, value) in cells {
            if key.as_slice() < lower {
                continue;
            }
            if self.end.as_ref().is_some_and(|end| &key >= end) {
                return true;
            }
            self.rows.push((key, value));
            if self.rows.len() >= self.limit {
                return true;
            }
        }
        false
    }

    fn finish(&mut self) -> Rows {
        self.state = ScanState::Done;
        std::mem::take(&mut self.rows)
    }
}
