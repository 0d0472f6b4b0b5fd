//! `Connection`: one client of a shared `Database`, running one transaction at a time.
//!
//! Lock protocol (SQLite WAL semantics; every lock is a try-lock):
//! - `Begin(Deferred)` takes nothing. The first read takes a snapshot; the first write takes
//!   the write lock: `Busy` if another connection holds it, `BusySnapshot` if a commit was
//!   published after this transaction's snapshot. `Begin(Immediate)` takes both at once.
//! - Outside an explicit transaction each op runs in its own implicit transaction (a write
//!   commits before the op returns).
//! - `Busy` leaves the transaction as it was. Every other operating error rolls it back and
//!   returns the connection to idle. Misuse (begin inside a transaction, commit outside one,
//!   a key or value too large) is refused before anything changes.
//! - After a failed fsync (of the WAL or the database file) the database is poisoned: every
//!   op returns `Poisoned`, and a commit not yet published fails with it.
//!
//! `execute` is re-entrant: it returns `IO` while waiting and must be called again with the
//! same op; the progress of the op lives in `Running`.

use std::sync::{Arc, Mutex, MutexGuard};

use super::database::Database;
use super::op::{Op, Output};
use super::step::Running;
use crate::storage::PageAccess;
use crate::storage::btree::{MAX_KEY_BYTES, max_value_bytes};
use crate::storage::txn::{ReadTxn, WriteTxn};
use crate::{Error, IOResult, Result};

/// The transaction a connection holds, explicit or implicit (for the duration of one op).
#[derive(Default)]
pub(crate) struct Txn {
    /// Opened with `Begin` (ends with Commit/Rollback) rather than for one op.
    pub(crate) explicit: bool,
    pub(crate) read: Option<ReadTxn>,
    pub(crate) write: Option<WriteTxn>,
}

impl Txn {
    /// The pages as this transaction sees them (its write view when it has one).
    pub(crate) fn pages(&mut self) -> Option<&mut dyn PageAccess> {
        if let Some(w) = self.write.as_mut() {
            return Some(w);
        }
        self.read.as_mut().map(|r| r as &mut dyn PageAccess)
    }

    pub(crate) fn snapshot_seq(&self) -> Option<u64> {
        match (&self.write, &self.read) {
            (Some(w), _) => Some(w.snapshot_seq()),
            (None, Some(r)) => Some(r.snapshot_seq()),
            (None, None) => None,
        }
    }
}

/// What the engine claims about the last finished op: white-box facts the oracle checks
/// against what it observed, never trusts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpClaims {
    /// Snapshot the op's transaction read from (None if it took none).
    pub snapshot_seq: Option<u64>,
    /// Commit sequence the op published (an explicit Commit, or an implicit write).
    pub commit_seq: Option<u64>,
}

pub(crate) struct ConnState {
    /// The open transaction, if any.
    pub(crate) txn: Option<Txn>,
    /// The op in flight, between an `IO` return and the re-entry that finishes it.
    pub(crate) running: Option<Running>,
    pub(crate) claims: OpClaims,
}

/// A connection to a shared database. Cheap to create; no I/O until used.
pub struct Connection {
    pub(crate) db: Arc<Database>,
    state: Mutex<ConnState>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("Connection")
            .field(
                "in_transaction",
                &state.txn.as_ref().is_some_and(|t| t.explicit),
            )
            .field("running", &state.running.is_some())
            .finish()
    }
}

impl Connection {
    pub(crate) fn new(db: Arc<Database>) -> Connection {
        Connection {
            db,
            state: Mutex::new(ConnState {
                txn: None,
                running: None,
                claims: OpClaims::default(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, ConnState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `op`. Returns `IO` while it waits; call again with the same op until `Done`.
    pub fn execute(&self, op: &Op) -> Result<IOResult<Output>> {
        let mut state = self.state();
        match &state.running {
            Some(running) if running.op != *op => {
                return Err(Error::Misuse(format!(
                    "re-entered with {} while {} is still running",
                    op.name(),
                    running.op.name()
                )));
            }
            Some(_) => {}
            None => {
                state.claims = OpClaims::default();
                if self.db.pager().is_poisoned() {
                    state.txn = None;
                    return Err(Error::Poisoned);
                }
                self.validate(&state, op)?;
                state.running = Some(Running::start(op, &mut state.txn));
            }
        }
        let outcome = super::step::drive(&self.db, &mut state);
        match outcome {
            Ok(IOResult::IO(waiting)) => Ok(IOResult::IO(waiting)),
            Ok(IOResult::Done(output)) => {
                state.running = None;
                Ok(IOResult::Done(output))
            }
            Err(err) => {
                state.running = None;
                let explicit = state.txn.as_ref().is_some_and(|t| t.explicit);
                // Busy keeps an explicit transaction as it was; anything else ends it. A
                // `Begin` that failed (Busy included) never opened one: stay idle.
                let began = matches!(op, Op::Begin(_));
                if !(err == Error::Busy && explicit) || began {
                    state.txn = None;
                }
                Err(err)
            }
        }
    }

    /// Refuses ops that make no sense now, before anything changes.
    fn validate(&self, state: &ConnState, op: &Op) -> Result<()> {
        let in_txn = state.txn.as_ref().is_some_and(|t| t.explicit);
        let key_ok = |key: &[u8]| -> Result<()> {
            if key.is_empty() {
                return Err(Error::Misuse("keys must not be empty".into()));
            }
            if key.len() > MAX_KEY_BYTES {
                return Err(Error::KeyTooLarge {
                    len: key.len(),
                    max: MAX_KEY_BYTES,
                });
            }
            Ok(())
        };
        match op {
            Op::Begin(_) if in_txn => Err(Error::TransactionActive),
            Op::Checkpoint(_) if in_txn => Err(Error::TransactionActive),
            Op::Commit | Op::Rollback if !in_txn => Err(Error::NoTransaction),
            Op::Get(key) | Op::Delete(key) => key_ok(key),
            Op::Put(key, value) => {
                key_ok(key)?;
                let max = max_value_bytes(self.db.pager().page_size());
                if value.len() > max {
                    return Err(Error::ValueTooLarge {
                        len: value.len(),
                        max,
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Whether this connection may be the holder of the database's write lock: it has a
    /// write transaction, or an op in flight (a checkpoint holds the lock while it runs).
    /// When the lock is held and no connection may hold it, it has leaked.
    pub fn may_hold_write_lock(&self) -> bool {
        let state = self.state();
        state.running.is_some() || state.txn.as_ref().is_some_and(|t| t.write.is_some())
    }

    /// Whether a transaction is open: an explicit one, or the implicit one of an op
    /// still running. A commit (explicit, or an implicit write's) ends its transaction
    /// before the auto-checkpoint that may follow it inside the same op.
    pub fn transaction_open(&self) -> bool {
        self.state().txn.is_some()
    }

    /// Whether an explicit transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.state().txn.as_ref().is_some_and(|t| t.explicit)
    }

    /// The snapshot sequence of the open transaction, once it has taken one.
    pub fn snapshot_seq(&self) -> Option<u64> {
        self.state().txn.as_ref().and_then(Txn::snapshot_seq)
    }

    /// Claims about the last op that finished successfully.
    pub fn last_claims(&self) -> OpClaims {
        self.state().claims
    }

    /// The database this connection belongs to.
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }
}
