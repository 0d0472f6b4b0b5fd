//! `Put`: insert a key or replace its value (a thin front over the shared write machine of
//! `write.rs`, which gathers, reserves and applies).

use super::node::{MAX_KEY_BYTES, max_value_bytes};
use super::write::Write;
use crate::io::IOResult;
use crate::storage::PageAccess;
use crate::{Error, Result};

/// Inserts `key` with `value`, or replaces the value of an existing `key`.
#[derive(Debug)]
pub struct Put {
    write: Write,
}

impl Put {
    /// A put of `key` (1..=255 bytes) with `value` (at most `page_size / 4` bytes; checked
    /// on the first step, when the page size is known).
    pub fn new(key: Vec<u8>, value: Vec<u8>) -> Put {
        Put {
            write: Write::new(key, Some(value)),
        }
    }

    /// Advances the put; `Done(true)` if an existing value was replaced. Re-enter with the
    /// same `pages` after any `IO` until `Done`.
    pub fn step<P: PageAccess + ?Sized>(&mut self, pages: &mut P) -> Result<IOResult<bool>> {
        let (key, value) = self.write.key_value();
        check_key(key)?;
        let max = max_value_bytes(pages.page_size());
        let len = value.map_or(0, <[u8]>::len);
        if len > max {
            return Err(Error::ValueTooLarge { len, max });
        }
        self.write.step(pages)
    }
}

/// Checks that `key` is 1..=255 bytes.
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
