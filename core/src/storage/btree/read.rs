//! Reading B-tree pages on the way down from the root, shared by every operation: the
//! depth bound, page number checks, the cell index of a checked image, and the key rules.

use super::node::{LookupStep, MAX_KEY_BYTES, Node, cell_index, lookup_indexed};
use crate::error::{Corruption, PageDefect};
use crate::io::IOResult;
use crate::storage::{CellIndex, PageAccess, PageNo, PageRef};
use crate::{Error, Result, return_if_io};

/// A path from the root longer than this means a cycle in corrupt pages.
pub(super) const MAX_DEPTH: usize = 64;

/// The corruption of a path that went deeper than `MAX_DEPTH` at page `pgno`.
pub(super) fn too_deep(pgno: PageNo) -> Corruption {
    Corruption::page(
        pgno,
        PageDefect::TooDeep {
            max_depth: MAX_DEPTH,
        },
    )
}

/// A key the B-tree can hold: at least one byte, at most `MAX_KEY_BYTES`.
pub(super) fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::Misuse("keys are at least one byte long".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::KeyTooLarge {
            len: key.len(),
            max: MAX_KEY_BYTES,
        });
    }
    Ok(())
}

/// Reads and decodes page `pgno`, found `depth` levels below the root. Corrupt pages and
/// impossible depths are `Error::Corrupt`.
pub(super) fn read_node<P: PageAccess + ?Sized>(
    pages: &mut P,
    pgno: PageNo,
    depth: usize,
) -> Result<IOResult<Node>> {
    let image = return_if_io!(read_image(pages, pgno, depth));
    let node =
        Node::decode(&image, pages.usable_size()).map_err(|why| Corruption::node(pgno, why))?;
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
        return Err(too_deep(pgno).into());
    }
    if pgno < 2 {
        return Err(Corruption::ChildPointer { page: pgno }.into());
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
    assert_eq!(image.len(), pages.page_size(), "page {pgno} is read whole");
    let index = checked_index(pages, pgno, image, index)?;
    lookup_indexed(image, usable_size, &index, key)
        .map_err(|why| Corruption::node(pgno, why).into())
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
        .map_err(|why| Corruption::node(pgno, why))?
        .into();
    pages.mark_checked(pgno, image, index.clone());
    Ok(index)
}
