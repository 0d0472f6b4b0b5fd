//! `Database`: one open database shared by many connections (one pager, one WAL, one
//! B-tree). Opening runs recovery as a re-entrant state machine (`Opener`).

use std::sync::Arc;

use crate::Result;
use crate::io::{IO, IOResult, block_on};
use crate::options::DbOptions;
use crate::storage::pager::{self, Pager};

/// An open database.
#[derive(Debug)]
pub struct Database {
    pager: Arc<Pager>,
    path: String,
}

/// Opens a database step by step (recovery included). Re-enter `step` until `Done`.
pub struct Opener {
    inner: pager::Opener,
    path: String,
}

impl Opener {
    pub fn step(&mut self) -> Result<IOResult<Arc<Database>>> {
        let pager = crate::return_if_io!(self.inner.step());
        Ok(IOResult::Done(Arc::new(Database {
            pager,
            path: self.path.clone(),
        })))
    }
}

impl Database {
    /// An opener for the database at `path` (its WAL is `<path>-wal`).
    pub fn opener(io: Arc<dyn IO>, path: &str, options: DbOptions) -> Opener {
        Opener {
            inner: Pager::opener(io, path, options),
            path: path.to_string(),
        }
    }

    /// Opens the database, driving I/O until recovery is done.
    pub fn open_blocking(io: Arc<dyn IO>, path: &str, options: DbOptions) -> Result<Arc<Database>> {
        options.validate()?;
        let mut opener = Database::opener(io.clone(), path, options);
        block_on(io.as_ref(), || opener.step())
    }

    /// The path of the database file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The shared pager (white-box access for tests and the simulator).
    pub fn pager(&self) -> &Arc<Pager> {
        &self.pager
    }

    pub fn options(&self) -> &DbOptions {
        self.pager.options()
    }

    /// Sequence of the last published commit.
    pub fn commit_seq(&self) -> u64 {
        self.pager.commit_seq()
    }
}
