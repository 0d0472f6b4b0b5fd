//! Opening a database: create it when the file is new, else read its header page and
//! recover the WAL (wal/recovery.rs). A re-entrant state machine.
//!
//! An empty database file is created: the opener writes a header page and fsyncs it
//! before anything else. An existing file is first probed for the page size its header
//! records, so opening with another `page_size` is `InvalidOptions` and writes nothing.
//! A file of at most one page with no readable header (or only part of its header page)
//! and an empty WAL is a creation cut short by a crash or a short write (no commit ever
//! happened: every commit writes the WAL first) and is created afresh; any other
//! unreadable header is `Corrupt`. Otherwise page 1 must hold a valid header record
//! (`Corrupt` if not) matching the options' page size (`InvalidOptions` if not).
//!
//! Page 1 keeps two header records and a checkpoint never writes over the newest
//! (storage/format.rs). When the newest cannot be told for sure (the page checksum fails
//! and only one record is whole), the opener falls back to the whole record only if the
//! recovered WAL generation started at or before that record's checkpoint: then every
//! commit since is in the WAL. Otherwise the newer record was lost to damage the fault
//! model calls corruption (a bit flip), and the database is `Corrupt`.
//!
//! After recovery the WAL is truncated to its valid part when anything follows it
//! (leftover frames of a commit lost in the crash must never be completed into a valid
//! chain by the bytes of a later commit), then fsynced: what recovery exposes must be
//! durable, or a reopen after a failed fsync could show a commit a later crash takes
//! back. A failed fsync while opening (this one, or a new database's) ends the open with
//! `Error::Poisoned`: the pages it covered may be marked clean but never written, so
//! only a restart of the machine makes the files trustworthy again.
//!
//! The recovered commit sequence is the largest of the database header's checkpoint
//! sequence, the WAL header's, and the last recovered commit's, so sequences keep
//! growing across checkpoints, WAL resets and reopen.

use std::sync::Arc;

use crate::error::{Corruption, HeaderDefect};
use crate::io::{
    Completion, File, FlowResult, IO, IOResult, MachineState, block_on, finish, next_state,
    run_machine,
};
use crate::options::DbOptions;
use crate::storage::format::{DbHeader, HeaderRead, HeaderStamp};
use crate::storage::wal::recovery::WalRecovery;
use crate::{Error, Result, io_yield_one};

use super::{Pager, Recovered};

/// Bytes read first from an existing database file: both header records.
const PROBE_BYTES: usize = 1024;
// The probe covers slot 1 wherever a page size puts it (at most one sector in).
const _: () = assert!(PROBE_BYTES == 2 * crate::storage::format::SECTOR_BYTES);

/// Where opening is.
#[derive(Default)]
enum OpenState {
    /// Nothing done yet.
    Start,
    /// Waiting for the header page write of a new database.
    WaitCreateWrite { write: Completion, header: DbHeader },
    /// Waiting for the fsync of a new database's header page.
    WaitCreateSync { sync: Completion, header: DbHeader },
    /// Waiting for the first bytes of the file, which tell its page size.
    WaitHeaderProbe { read: Completion, len: usize },
    /// Waiting for the read of the header page.
    WaitHeaderRead { read: Completion },
    /// Waiting for the WAL to lose its torn or stale tail, so that no later commit can
    /// ever complete leftover frames into a valid chain.
    WaitTailTruncate {
        truncate: Completion,
        recovered: Box<Recovered>,
    },
    /// Waiting for the WAL fsync that makes what recovery found (and the truncate)
    /// durable before anyone can read it.
    WaitTailSync {
        sync: Completion,
        recovered: Box<Recovered>,
    },
    /// Scanning the WAL.
    Recover {
        recovery: Box<WalRecovery>,
        db_read: HeaderRead,
    },
    /// Opened (or failed).
    #[default]
    Finished,
}

impl MachineState for OpenState {
    fn waiting_on(&self) -> Option<&Completion> {
        match self {
            OpenState::WaitCreateWrite { write, .. } => Some(write),
            OpenState::WaitCreateSync { sync, .. } | OpenState::WaitTailSync { sync, .. } => {
                Some(sync)
            }
            OpenState::WaitHeaderProbe { read, .. } | OpenState::WaitHeaderRead { read } => {
                Some(read)
            }
            OpenState::WaitTailTruncate { truncate, .. } => Some(truncate),
            OpenState::Start | OpenState::Recover { .. } | OpenState::Finished => None,
        }
    }
}

/// Opens a database; `step` until Done. Create with `Pager::opener`.
pub struct Opener {
    io: Arc<dyn IO>,
    path: String,
    options: DbOptions,
    files: Option<(Arc<dyn File>, Arc<dyn File>)>,
    state: OpenState,
}

impl Pager {
    /// A state machine opening (or creating) the database at `path`, with its WAL at
    /// `<path>-wal`.
    pub fn opener(io: Arc<dyn IO>, path: &str, options: DbOptions) -> Opener {
        Opener {
            io,
            path: path.to_string(),
            options,
            files: None,
            state: OpenState::Start,
        }
    }

    /// Opens by driving the opener with `block_on`.
    pub fn open_blocking(io: Arc<dyn IO>, path: &str, options: DbOptions) -> Result<Arc<Pager>> {
        let mut opener = Pager::opener(io.clone(), path, options);
        block_on(io.as_ref(), || opener.step())
    }
}

impl Opener {
    /// Advances the open. Done carries the shared pager.
    pub fn step(&mut self) -> Result<IOResult<Arc<Pager>>> {
        run_machine(self, |o| &mut o.state, Opener::on_state)
    }

    fn on_state(&mut self, state: OpenState) -> FlowResult<Arc<Pager>> {
        match state {
            OpenState::Start => self.open_files(),
            OpenState::WaitHeaderProbe { read, len } => self.probed(&read, len),
            OpenState::WaitCreateWrite { write, header } => {
                write.moved_exactly(self.options.page_size)?;
                let sync = self.db().sync(Completion::new_noop())?;
                self.state = OpenState::WaitCreateSync {
                    sync: sync.clone(),
                    header,
                };
                io_yield_one!(sync);
            }
            OpenState::WaitCreateSync { sync, header } => {
                synced(&sync)?;
                self.start_recovery(HeaderRead {
                    header,
                    stamp: HeaderStamp::CREATED,
                    surely_newest: true,
                });
                next_state()
            }
            OpenState::WaitHeaderRead { read } => {
                let image = read.read_exactly(self.options.page_size)?;
                match read_db_header(&image, self.options.page_size) {
                    Ok(db_read) => self.start_recovery(db_read),
                    Err(Error::Corrupt(_)) if self.creation_never_finished()? => {
                        let write = self.create()?;
                        io_yield_one!(write);
                    }
                    Err(e) => return Err(e),
                }
                next_state()
            }
            OpenState::Recover { recovery, db_read } => self.recover(recovery, db_read),
            OpenState::WaitTailTruncate {
                truncate,
                recovered,
            } => {
                truncate.moved_exactly(0)?;
                self.sync_tail(recovered)
            }
            OpenState::WaitTailSync { sync, recovered } => {
                synced(&sync)?;
                finish(self.finish(*recovered))
            }
            OpenState::Finished => Err(Error::Misuse("opener stepped after it finished".into())),
        }
    }

    /// Opens both files; an empty database file is created, else its first bytes are read.
    fn open_files(&mut self) -> FlowResult<Arc<Pager>> {
        self.options.validate()?;
        let db = self.io.open_file(&self.path)?;
        let wal = self.io.open_file(&format!("{}-wal", self.path))?;
        let size = db.size()?;
        self.files = Some((db.clone(), wal));
        if size > 0 {
            // The page size is not known yet: read what holds both records.
            let len = usize::try_from(size).unwrap_or(usize::MAX).min(PROBE_BYTES);
            let read = db.pread(0, len, Completion::new_read(len, |_| {}))?;
            self.state = OpenState::WaitHeaderProbe {
                read: read.clone(),
                len,
            };
            io_yield_one!(read);
        }
        let write = self.create()?;
        io_yield_one!(write);
    }

    /// The first bytes tell the page size the file was created with: read the whole header
    /// page, or create a database whose creation never finished.
    fn probed(&mut self, read: &Completion, len: usize) -> FlowResult<Arc<Pager>> {
        let prefix = read.read_exactly(len)?;
        let page_size = self.options.page_size;
        let whole_page = self.db().size()? >= page_size as u64;
        match DbHeader::recorded_page_size(&prefix) {
            Some(recorded) if recorded as usize != page_size => {
                Err(Error::InvalidOptions(format!(
                    "page_size {page_size}: the database was created with page size {recorded}"
                )))
            }
            Some(_) if whole_page => {
                let read = Completion::new_read(page_size, |_| {});
                let read = self.db().pread(0, page_size, read)?;
                self.state = OpenState::WaitHeaderRead { read: read.clone() };
                io_yield_one!(read);
            }
            _ if self.creation_never_finished()? => {
                let write = self.create()?;
                io_yield_one!(write);
            }
            _ => Err(Corruption::DbHeader(HeaderDefect::NoRecord).into()),
        }
    }

    /// Scans the WAL; then cuts its tail if anything follows the valid part, or fsyncs it.
    fn recover(
        &mut self,
        mut recovery: Box<WalRecovery>,
        db_read: HeaderRead,
    ) -> FlowResult<Arc<Pager>> {
        let recovered = match recovery.step()? {
            IOResult::Done(recovered) => recovered,
            IOResult::IO(io) => {
                self.state = OpenState::Recover { recovery, db_read };
                return Ok(IOResult::IO(io));
            }
        };
        check_fallback_covered(&db_read, recovered.wal_checkpoint_seq)?;
        let db_header = db_read.header;
        let commit_seq = db_header
            .checkpoint_seq
            .max(recovered.wal_checkpoint_seq.unwrap_or(0))
            .max(recovered.last_seq.unwrap_or(0));
        let valid_len = recovered.valid_len;
        let recovered = Box::new(Recovered {
            db_header,
            db_header_stamp: db_read.stamp,
            header: recovered.header.unwrap_or(db_header),
            wal_index: recovered.index,
            commit_seq,
        });
        let wal = self.wal().clone();
        if wal.size()? <= valid_len {
            return self.sync_tail(recovered);
        }
        let truncate = wal.truncate(valid_len, Completion::new_noop())?;
        self.state = OpenState::WaitTailTruncate {
            truncate: truncate.clone(),
            recovered,
        };
        io_yield_one!(truncate);
    }

    /// Fsyncs the WAL so that what recovery exposes is durable before anyone reads it.
    fn sync_tail(&mut self, recovered: Box<Recovered>) -> FlowResult<Arc<Pager>> {
        let sync = self.wal().sync(Completion::new_noop())?;
        self.state = OpenState::WaitTailSync {
            sync: sync.clone(),
            recovered,
        };
        io_yield_one!(sync);
    }

    /// The pager over what was recovered.
    fn finish(&mut self, recovered: Recovered) -> Arc<Pager> {
        self.state = OpenState::Finished;
        let files = self
            .files
            .take()
            .expect("files are open until the pager exists");
        Arc::new(Pager::from_parts(
            self.io.clone(),
            files,
            self.options.clone(),
            recovered,
        ))
    }

    /// Writes the header page of a new database; the state waits for the write.
    fn create(&mut self) -> Result<Completion> {
        let header = DbHeader::new(self.options.page_size);
        let write = self
            .db()
            .pwrite(0, &header.encode(), Completion::new_noop())?;
        self.state = OpenState::WaitCreateWrite {
            write: write.clone(),
            header,
        };
        Ok(write)
    }

    /// Whether an unreadable header page is a creation cut short by a crash or a short
    /// write: the file holds at most one page and the WAL was never written. Such a database never held
    /// data (every commit writes the WAL first), so creating it afresh loses nothing.
    fn creation_never_finished(&self) -> Result<bool> {
        let (db, wal) = self
            .files
            .as_ref()
            .expect("files are opened in the first step");
        Ok(db.size()? <= self.options.page_size as u64 && wal.size()? == 0)
    }

    fn db(&self) -> &Arc<dyn File> {
        &self
            .files
            .as_ref()
            .expect("files are opened in the first step")
            .0
    }

    fn wal(&self) -> &Arc<dyn File> {
        &self
            .files
            .as_ref()
            .expect("files are opened in the first step")
            .1
    }

    fn start_recovery(&mut self, db_read: HeaderRead) {
        let wal = self.wal().clone();
        let recovery = WalRecovery::new(wal, self.options.clone(), db_read.header.checkpoint_seq);
        self.state = OpenState::Recover {
            recovery: Box::new(recovery),
            db_read,
        };
    }
}

fn read_db_header(image: &[u8], page_size: usize) -> Result<HeaderRead> {
    let read = DbHeader::read_page(image).map_err(|e| match e {
        Error::Corrupt(Corruption::Header(defect)) => Corruption::DbHeader(defect).into(),
        other => other,
    })?;
    if read.header.page_size as usize != page_size {
        return Err(Error::InvalidOptions(format!(
            "page_size {page_size}: the database was created with page size {}",
            read.header.page_size
        )));
    }
    Ok(read)
}

/// A header record that may not be the newest is usable only if the recovered WAL
/// generation (started at `wal_start_seq`) holds every commit after its checkpoint.
fn check_fallback_covered(db_read: &HeaderRead, wal_start_seq: Option<u64>) -> Result<()> {
    if db_read.surely_newest
        || wal_start_seq.is_some_and(|start| start <= db_read.header.checkpoint_seq)
    {
        return Ok(());
    }
    Err(Corruption::HeaderFallbackUncovered {
        damaged_slot: 1 - db_read.stamp.slot,
        checkpoint_seq: db_read.header.checkpoint_seq,
    }
    .into())
}

/// A finished fsync's verdict. A failed one is `Poisoned`, not an I/O error to retry: the
/// file system may have marked what it covered clean without writing it (so a retried open
/// would read back, and build on, bytes that are not on disk); only a restart, which drops
/// what is not durable, gives an open it can trust.
fn synced(sync: &Completion) -> Result<()> {
    match sync.result().expect("checked after it finished") {
        Err(_) => Err(Error::Poisoned),
        Ok(_) => Ok(()),
    }
}
