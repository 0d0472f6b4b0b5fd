//! `Get`: point lookup, one page per level from the root down to a leaf.

use super::node::{LookupStep, Node, cell_index, lookup_indexed};
use super::put::check_key;
use crate::io::IOResult;
use crate::storage::{CellIndex, PageAccess, PageNo, PageRef};
use crate::{Error, Result, return_if_io};

/// A path longer than this means a cycle in corrupt pages.
const MAX_DEPTH: usize = 64;

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

/// Reads and decodes page `pgno`, found `depth` levels below the root. Corrupt pages and
/// impossible depths are `Error::Corrupt`.
pub(super) fn read_node<P: PageAccess + ?Sized>(
    pages: &mut P,
    pgno: PageNo,
    depth: usize,
) -> Result<IOResult<Node>> {
    let image = return_if_io!(read_image(pages, pgno, depth));
    let node = Node::decode(&image, pages.usable_size())
        .map_err(|why| Error::Corrupt(format!("page {pgno}: {why}")))?;
    Ok(IOResult::Done(node))
}

/// Reads page `pgno`, found `depth` levels below the root; impossible page numbers and
/// depths are `Error::Corrupt`.
fn read_image<P: PageAccess + ?Sized>(
    pages: &mut P,
    pgno: PageNo,
    depth: usize,
) -> Result<IOResult<PageRef>> {
    let (image, _) = return_if_io!(read_image_checked(pages, pgno, depth));
    Ok(IOResult::Done(image))
}

/// `read_image`, and the image's cell index if it already passed the whole-page check.
pub(super) fn read_image_checked<P: PageAccess + ?Sized>(
    pages: &mut P,
    pgno: PageNo,
    depth: usize,
) -> Result<IOResult<(PageRef, Option<CellIndex>)>> {
    if depth > MAX_DEPTH {
        return Err(Error::Corrupt(format!(
            "page {pgno}: tree deeper than {MAX_DEPTH} levels"
        )));
    }
    if pgno < 2 {
        return Err(Error::Corrupt(format!("child pointer to page {pgno}")));
    }
    pages.read_page_checked(pgno)
}

/// Where `key` leads from `image`, the image of `pgno`. The first time an image is seen it
/// is checked as a whole and its cells indexed (`cell_index`), and the index recorded with
/// it (`mark_checked`); every lookup then searches the index (`lookup_indexed`).
pub(super) fn lookup_in<'a, P: PageAccess + ?Sized>(
    pages: &mut P,
    pgno: PageNo,
    image: &'a PageRef,
    index: Option<CellIndex>,
    key: &[u8],
) -> Result<LookupStep<'a>> {
    let usable_size = pages.usable_size();
    let index = checked_index(pages, pgno, image, index)?;
    lookup_indexed(image, usable_size, &index, key)
        .map_err(|why| Error::Corrupt(format!("page {pgno}: {why}")))
}

/// The cell index of `image`, the image of `pgno`: `index` when the cache had one, else
/// built now (which checks the page as a whole) and recorded with the image.
pub(super) fn checked_index<P: PageAccess + ?Sized>(
    pages: &mut P,
    pgno: PageNo,
    image: &PageRef,
    index: Option<CellIndex>,
) -> Result<CellIndex> {
    if let Some(index) = index {
        return Ok(index);
    }
    let index: CellIndex = cell_index(image, pages.usable_size())
        .map_err(|why| Error::Corrupt(format!("page {pgno}: {why}")))?
        .into();
    pages.mark_checked(pgno, image, index.clone());
    Ok(index)
}
