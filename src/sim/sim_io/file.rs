//! `SimFile`: the `File` handle `SimIO` hands out. Every call only queues an operation;
//! nothing completes until the simulator says so (or `IO::step()` runs).

use std::sync::{Arc, Mutex};

use braid_core::{Completion, Error, File, Result};

use super::lock;
use super::state::{FileId, OpData, SimState};

/// One open simulated file.
pub(crate) struct SimFile {
    pub(crate) state: Arc<Mutex<SimState>>,
    pub(crate) id: FileId,
}

impl SimFile {
    fn submit(&self, data: OpData, c: Completion) -> Result<Completion> {
        let mut state = lock(&self.state);
        if !state.files.contains_key(&self.id) {
            return Err(removed());
        }
        state.submit(self.id, data, c.clone());
        Ok(c)
    }
}

fn removed() -> Error {
    Error::Io {
        kind: std::io::ErrorKind::NotFound,
        context: "simulated file was removed".into(),
    }
}

impl File for SimFile {
    fn pread(&self, pos: u64, len: usize, c: Completion) -> Result<Completion> {
        self.submit(OpData::Read { offset: pos, len }, c)
    }

    fn pwrite(&self, pos: u64, bytes: &[u8], c: Completion) -> Result<Completion> {
        self.submit(
            OpData::Write {
                offset: pos,
                bytes: bytes.to_vec(),
            },
            c,
        )
    }

    fn sync(&self, c: Completion) -> Result<Completion> {
        self.submit(OpData::Sync, c)
    }

    fn truncate(&self, len: u64, c: Completion) -> Result<Completion> {
        self.submit(OpData::Truncate { len }, c)
    }

    /// The volatile image's length: it counts every write that has completed.
    fn size(&self) -> Result<u64> {
        let state = lock(&self.state);
        let file = state.files.get(&self.id).ok_or_else(removed)?;
        Ok(file.volatile.len() as u64)
    }
}
