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
use super::op::{Op, OpClaims, Output};
use super::step::{ConnState, Running};
use super::txn::Txn;
use crate::storage::btree::{MAX_KEY_BYTES, max_value_bytes};
use crate::{Error, IOResult, Result};

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

impl Database {
    /// A new connection. No I/O.
    pub fn connect(self: &Arc<Self>) -> Connection {
        Connection::new(self.clone())
    }
}

impl Connection {
    fn new(db: Arc<Database>) -> Connection {
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
                let txn = state.txn.as_ref();
                match op {
                    Op::Begin(_) => assert!(
                        txn.is_some_and(|t| t.explicit),
                        "a begin opens an explicit transaction"
                    ),
                    Op::Commit | Op::Rollback => {
                        assert!(txn.is_none(), "a commit or rollback ends its transaction");
                    }
                    _ => assert!(
                        txn.is_none_or(|t| t.explicit),
                        "an implicit transaction ends with its op"
                    ),
                }
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
                assert!(
                    state.txn.is_none() || err == Error::Busy,
                    "only Busy keeps a transaction open"
                );
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
        state.running.is_some() || state.txn.as_ref().is_some_and(Txn::is_write)
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
