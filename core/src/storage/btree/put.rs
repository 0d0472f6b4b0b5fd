//! `Put`: insert a key or replace its value (a thin front over the shared write machine of
//! `write.rs`, which gathers, reserves and applies).

use super::node::max_value_bytes;
use super::read::check_key;
use super::write::Write;
use crate::io::IOResult;
use crate::storage::PageAccess;
use crate::{Error, Result};

/// Inserts `key` with `value`, or replaces the value of an existing `key`.
#[derive(Debug)]
pub struct Put {
    write: Write,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl Put {
    /// A put of `key` (1..=255 bytes) with `value` (at most `page_size / 4` bytes; checked
    /// on the first step, when the page size is known).
    pub fn new(key: Vec<u8>, value: Vec<u8>) -> Put {
        Put {
            write: Write::new(),
            key,
            value,
        }
    }

    /// A put whose key and value the caller keeps and hands to every `step_with` (the
    /// connection's, which borrows them from its op instead of copying them).
    pub(crate) fn borrowing() -> Put {
        Put::new(Vec::new(), Vec::new())
    }

    /// Advances the put; `Done(true)` if an existing value was replaced. Re-enter with the
    /// same `pages` after any `IO` until `Done`.
    pub fn step<P: PageAccess + ?Sized>(&mut self, pages: &mut P) -> Result<IOResult<bool>> {
        let Put { write, key, value } = self;
        step(write, pages, key, value)
    }

    /// `step` of a put made by `borrowing`, with its key and value: the same ones at every
    /// step.
    pub(crate) fn step_with<P: PageAccess + ?Sized>(
        &mut self,
        pages: &mut P,
        key: &[u8],
        value: &[u8],
    ) -> Result<IOResult<bool>> {
        debug_assert!(
            self.key.is_empty(),
            "a put that owns its key is stepped with its own"
        );
        step(&mut self.write, pages, key, value)
    }
}

fn step<P: PageAccess + ?Sized>(
    write: &mut Write,
    pages: &mut P,
    key: &[u8],
    value: &[u8],
) -> Result<IOResult<bool>> {
    check_key(key)?;
    let max = max_value_bytes(pages.page_size());
    if value.len() > max {
        return Err(Error::ValueTooLarge {
            len: value.len(),
            max,
        });
    }
    write.step(pages, key, Some(value))
}
