//! `Delete`: remove a key (a thin front over the shared write machine of `write.rs`; an
//! absent key changes nothing and writes nothing).

use super::put::check_key;
use super::write::Write;
use crate::Result;
use crate::io::IOResult;
use crate::storage::PageAccess;

/// Removes `key` if present.
#[derive(Debug)]
pub struct Delete {
    write: Write,
}

impl Delete {
    /// A delete of `key` (1..=255 bytes).
    pub fn new(key: Vec<u8>) -> Delete {
        Delete {
            write: Write::new(key, None),
        }
    }

    /// Advances the delete; `Done(true)` if the key was there. Re-enter with the same
    /// `pages` after any `IO` until `Done`.
    pub fn step<P: PageAccess + ?Sized>(&mut self, pages: &mut P) -> Result<IOResult<bool>> {
        check_key(self.write.key_value().0)?;
        self.write.step(pages)
    }
}
