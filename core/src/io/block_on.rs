//! `block_on`: drive a re-entrant state machine to completion on one `IO`.

use super::{IO, IOResult};
use crate::{Error, Result};

/// Steps `io` until `f()` returns `Done`, re-entering `f` each time the completion it
/// waited on has finished. Fails if a completion can never finish (nothing pending).
pub fn block_on<T>(io: &dyn IO, mut f: impl FnMut() -> Result<IOResult<T>>) -> Result<T> {
    loop {
        match f()? {
            IOResult::Done(value) => return Ok(value),
            IOResult::IO(waiting) => {
                while !waiting.finished() {
                    if io.pending() == 0 {
                        return Err(Error::Internal(
                            "block_on: waiting on a completion while no I/O is pending".into(),
                        ));
                    }
                    io.step()?;
                }
            }
        }
    }
}
