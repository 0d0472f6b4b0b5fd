//! `Delete`: remove a key (a thin front over the shared write machine of `write.rs`; an
//! absent key changes nothing and writes nothing).

use super::read::check_key;
use super::write::Write;
use crate::Result;
use crate::io::IOResult;
use crate::storage::PageAccess;

/// Removes `key` if present.
#[derive(Debug)]
pub struct Delete {
    write: Write,
    key: Vec<u8>,
}

impl Delete {
    /// A delete of `key` (1..=255 bytes).
    pub fn new(key: Vec<u8>) -> Delete {
        Delete {
            write: Write::new(),
            key,
        }
    }

    /// A delete whose key the caller keeps and hands to every `step_with` (see
    /// `Put::borrowing`).
    pub(crate) fn borrowing() -> Delete {
        Delete::new(Vec::new())
    }

    /// Advances the delete; `Done(true)` if the key was there. Re-enter with the same
    /// `pages` after any `IO` until `Done`.
    pub fn step<P: PageAccess + ?Sized>(&mut self, pages: &mut P) -> Result<IOResult<bool>> {
        check_key(&self.key)?;
        self.write.step(pages, &self.key, None)
    }

    /// `step` of a delete made by `borrowing`, with its key: the same one at every step.
    pub(crate) fn step_with<P: PageAccess + ?Sized>(
        &mut self,
        pages: &mut P,
        key: &[u8],
    ) -> Result<IOResult<bool>> {
        debug_assert!(
            self.key.is_empty(),
            "a delete that owns its key is stepped with its own"
        );
        check_key(key)?;
        self.write.step(pages, key, None)
    }
}
