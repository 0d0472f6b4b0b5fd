//! `Get`: point lookup, one page per level from the root down to a leaf.

use super::node::LookupStep;
use super::read::{check_key, lookup_in, read_image_checked};
use crate::io::IOResult;
use crate::storage::{PageAccess, PageNo};
use crate::{Result, return_if_io};

/// Looks up one key.
#[derive(Debug)]
pub struct Get {
    key: Vec<u8>,
    state: GetState,
}

#[derive(Debug)]
enum GetState {
    /// Waiting for the root number to be read from the pager (no I/O needed).
    Start,
    /// Waiting for page `pgno`, `depth` levels below the root.
    WaitPage { pgno: PageNo, depth: usize },
    /// Finished; stepping again is a bug.
    Done,
}

impl Get {
    /// A lookup of `key`.
    pub fn new(key: Vec<u8>) -> Get {
        Get {
            key,
            state: GetState::Start,
        }
    }

    /// Advances the lookup; `Done(Some(value))` if the key is present.
    pub fn step<P: PageAccess + ?Sized>(
        &mut self,
        pages: &mut P,
    ) -> Result<IOResult<Option<Vec<u8>>>> {
        loop {
            match self.state {
                GetState::Start => {
                    check_key(&self.key)?;
                    let root = pages.root();
                    if root == 0 {
                        self.state = GetState::Done;
                        return Ok(IOResult::Done(None));
                    }
                    self.state = GetState::WaitPage {
                        pgno: root,
                        depth: 0,
                    };
                }
                GetState::WaitPage { pgno, depth } => {
                    // Read straight from the page image: decoding a whole node per level
                    // (every key and value copied) dominated point lookups.
                    let (image, index) = return_if_io!(read_image_checked(pages, pgno, depth));
                    match lookup_in(pages, pgno, &image, index, &self.key)? {
                        LookupStep::Child { page: child, .. } => {
                            self.state = GetState::WaitPage {
                                pgno: child,
                                depth: depth + 1,
                            };
                        }
                        LookupStep::Leaf(value) => {
                            self.state = GetState::Done;
                            return Ok(IOResult::Done(value.map(<[u8]>::to_vec)));
                        }
                    }
                }
                GetState::Done => panic!("a finished B-tree lookup was stepped again"),
            }
        }
    }
}
