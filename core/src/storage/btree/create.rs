//! `CreateTree`: gives an empty database its B-tree, a root leaf with no cells.

use super::node::Node;
use crate::io::IOResult;
use crate::storage::{PageAccess, PageNo};
use crate::{Result, return_if_io};

/// Creates the tree if the database has none (root 0); otherwise does nothing.
#[derive(Debug, Default)]
pub struct CreateTree {
    done: bool,
}

impl CreateTree {
    pub fn new() -> CreateTree {
        CreateTree { done: false }
    }

    /// Advances the creation; `Done(root)` with the root page (new or existing).
    pub fn step<P: PageAccess + ?Sized>(&mut self, pages: &mut P) -> Result<IOResult<PageNo>> {
        assert!(!self.done, "a finished tree creation was stepped again");
        let root = pages.root();
        if root != 0 {
            self.done = true;
            return Ok(IOResult::Done(root));
        }
        return_if_io!(pages.reserve_pages(1));
        let root = pages.allocate_page()?;
        let mut image = vec![0; pages.page_size()];
        Node::empty_leaf().encode_into(&mut image, pages.usable_size());
        pages.write_page(root, image)?;
        pages.set_root(root)?;
        self.done = true;
        Ok(IOResult::Done(root))
    }
}
