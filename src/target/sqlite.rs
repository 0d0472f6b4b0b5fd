//! `Sqlite`: SQLite itself (bundled through rusqlite, cargo feature `sqlite`) as a target,
//! the reference braid's oracle and engine are held against.
//!
//! One database file in WAL mode in a fresh temporary directory per run, one rusqlite
//! connection per simulated connection, busy timeout 0 (nothing ever waits), and
//! `synchronous = OFF`: with no crashes an fsync changes nothing a connection can see. SQLite's I/O
//! is blocking, so each op runs to completion in one scheduler step: this target takes no
//! I/O faults and no crashes (the command line refuses a config that asks for them). The
//! KV ops are SQL on one table `kv (k BLOB PRIMARY KEY, v BLOB NOT NULL)`, through
//! statements each connection prepares once (rusqlite's statement cache).
//!
//! Where SQLite's contract differs from braid's and the adapter bridges it:
//! - SQLite keeps a transaction open after `SQLITE_BUSY_SNAPSHOT` or another error;
//!   braid's contract rolls it back (only `Busy` leaves it as it was), so the adapter rolls
//!   back.
//! - SQLite has no commit sequence: the adapter counts the commits that changed something
//!   (an upsert always does; a delete when it removed a row), in the order they happen,
//!   which is the commit order since every op runs whole. A commit that changed nothing
//!   is sequence 0, as in braid.
//! - SQLite does not tell a transaction's snapshot nor who holds the write lock: those
//!   claims are reported as unknown, and the oracle infers snapshots.
//! - A put of the value a key already holds changes nothing in braid (no commit, so no
//!   other snapshot goes stale); SQLite would rewrite the row and commit. The adapter's
//!   upsert updates only a different value, so it takes the write lock and changes nothing,
//!   as braid does.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use braid_oracle::{CheckpointMode, Claims, Op, OpError, OpOutput, TxMode};
use rusqlite::{Connection, OptionalExtension, ffi};

use super::{OpenEnv, Step, Target};
use crate::config::Settings;

/// SQLite as a target.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sqlite;

/// Runs started in this process, to name each run's directory.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// One run's database: its directory (removed when the run drops it) and the commit count.
pub struct SqliteDb {
    dir: PathBuf,
    path: PathBuf,
    settings: Settings,
    commits: AtomicU64,
}

impl Drop for SqliteDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One simulated connection.
pub struct SqliteConn {
    db: Arc<SqliteDb>,
    conn: Connection,
    /// Whether the open transaction changed a row.
    wrote: std::cell::Cell<bool>,
    claims: std::cell::Cell<Claims>,
}

/// An open in progress: SQLite opens in one step.
pub struct SqliteOpener {
    settings: Settings,
}

fn sql_error(err: rusqlite::Error) -> OpError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            _ if failure.extended_code == ffi::SQLITE_BUSY_SNAPSHOT => OpError::BusySnapshot,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                OpError::Busy
            }
            rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase => {
                OpError::Corrupt(err.to_string())
            }
            rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::DiskFull => {
                OpError::Io(err.to_string())
            }
            _ => OpError::Refused(format!("sqlite: {err}")),
        },
        _ => OpError::Refused(format!("sqlite: {err}")),
    }
}

fn open_db(settings: &Settings) -> Result<Arc<SqliteDb>, OpError> {
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("braid-sqlite-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| OpError::Io(format!("{}: {e}", dir.display())))?;
    let db = Arc::new(SqliteDb {
        path: dir.join("braid.db"),
        dir,
        settings: settings.clone(),
        commits: AtomicU64::new(0),
    });
    let setup = Connection::open(&db.path).map_err(sql_error)?;
    // The page size must be set before the first table exists.
    setup
        .pragma_update(None, "page_size", settings.page_size as i64)
        .map_err(sql_error)?;
    setup
        .pragma_update(None, "journal_mode", "wal")
        .map_err(sql_error)?;
    setup
        .execute_batch("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL)")
        .map_err(sql_error)?;
    Ok(db)
}

impl SqliteConn {
    fn open(db: &Arc<SqliteDb>) -> Result<SqliteConn, rusqlite::Error> {
        let conn = Connection::open(&db.path)?;
        conn.busy_timeout(std::time::Duration::ZERO)?;
        let settings = &db.settings;
        // This target never crashes, so an fsync could only make a run wait: what each
        // connection sees does not depend on it (the sync mode matters to crash recovery).
        conn.pragma_update(None, "synchronous", "OFF")?;
        let cache_pages = i64::try_from(settings.cache_pages).unwrap_or(i64::MAX);
        let autocheckpoint = i64::try_from(settings.autocheckpoint_frames).unwrap_or(i64::MAX);
        conn.pragma_update(None, "cache_size", cache_pages)?;
        conn.pragma_update(None, "wal_autocheckpoint", autocheckpoint)?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(SqliteConn {
            db: db.clone(),
            conn,
            wrote: std::cell::Cell::new(false),
            claims: std::cell::Cell::new(Claims::default()),
        })
    }

    fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// The next commit sequence, for a commit that changed something.
    fn next_commit(&self) -> u64 {
        self.db.commits.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn run(&self, op: &Op) -> Result<OpOutput, OpError> {
        let explicit = self.in_transaction();
        let result = self.apply(op, explicit);
        match &result {
            // braid's contract: every error but Busy ends the transaction.
            Err(error) if *error != OpError::Busy && self.in_transaction() => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.wrote.set(false);
            }
            _ => {}
        }
        result
    }

    fn apply(&self, op: &Op, explicit: bool) -> Result<OpOutput, OpError> {
        let mut claims = Claims::default();
        let output = match op {
            Op::Begin(mode) => {
                let sql = match mode {
                    TxMode::Deferred => "BEGIN DEFERRED",
                    TxMode::Immediate => "BEGIN IMMEDIATE",
                };
                self.conn.execute_batch(sql).map_err(sql_error)?;
                self.wrote.set(false);
                OpOutput::Done
            }
            Op::Get(key) => {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT v FROM kv WHERE k = ?1")
                    .map_err(sql_error)?;
                let value: Option<Vec<u8>> = stmt
                    .query_row([key], |row| row.get(0))
                    .optional()
                    .map_err(sql_error)?;
                OpOutput::Value(value)
            }
            Op::Scan { start, end, limit } => {
                let mut stmt = self
                    .conn
                    .prepare_cached(
                        "SELECT k, v FROM kv WHERE k >= ?1 AND (?2 IS NULL OR k < ?2) \
                         ORDER BY k LIMIT ?3",
                    )
                    .map_err(sql_error)?;
                let limit = i64::try_from(*limit).unwrap_or(-1);
                let rows = stmt
                    .query_map(rusqlite::params![start, end, limit], |row| {
                        Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?))
                    })
                    .map_err(sql_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sql_error)?;
                OpOutput::Rows(rows)
            }
            Op::Put(key, value) => {
                // One statement: a write that fails Busy must leave no read snapshot behind.
                // The update fires only for a new value: braid's put of the value a key
                // holds changes nothing (but still takes the write lock, as this does).
                let mut stmt = self
                    .conn
                    .prepare_cached(
                        "INSERT INTO kv (k, v) VALUES (?1, ?2) \
                         ON CONFLICT (k) DO UPDATE SET v = excluded.v WHERE v IS NOT excluded.v",
                    )
                    .map_err(sql_error)?;
                let changed = stmt
                    .execute(rusqlite::params![key, value])
                    .map_err(sql_error)?;
                self.wrote(explicit, changed > 0, &mut claims);
                OpOutput::Done
            }
            Op::Delete(key) => {
                let mut stmt = self
                    .conn
                    .prepare_cached("DELETE FROM kv WHERE k = ?1")
                    .map_err(sql_error)?;
                let removed = stmt.execute([key]).map_err(sql_error)?;
                self.wrote(explicit, removed > 0, &mut claims);
                OpOutput::Done
            }
            Op::Commit => {
                if !explicit {
                    return Err(OpError::Refused("no transaction is active".into()));
                }
                self.conn.execute_batch("COMMIT").map_err(sql_error)?;
                let seq = if self.wrote.replace(false) {
                    let seq = self.next_commit();
                    claims.commit_seq = Some(seq);
                    seq
                } else {
                    0
                };
                OpOutput::Committed { seq }
            }
            Op::Rollback => {
                if !explicit {
                    return Err(OpError::Refused("no transaction is active".into()));
                }
                self.conn.execute_batch("ROLLBACK").map_err(sql_error)?;
                self.wrote.set(false);
                OpOutput::Done
            }
            Op::Checkpoint(mode) => self.checkpoint(*mode, explicit)?,
            Op::IntegrityCheck => {
                let mut stmt = self
                    .conn
                    .prepare_cached("PRAGMA integrity_check")
                    .map_err(sql_error)?;
                let problems = stmt
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(sql_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sql_error)?;
                OpOutput::Integrity(problems.into_iter().filter(|p| p != "ok").collect())
            }
        };
        self.claims.set(claims);
        Ok(output)
    }

    /// A write changed a row (`changed`): inside a transaction it is remembered for the
    /// commit; outside one it committed by itself.
    fn wrote(&self, explicit: bool, changed: bool, claims: &mut Claims) {
        if explicit {
            self.wrote.set(self.wrote.get() || changed);
        } else if changed {
            claims.commit_seq = Some(self.next_commit());
        }
    }

    fn checkpoint(&self, mode: CheckpointMode, explicit: bool) -> Result<OpOutput, OpError> {
        if explicit {
            return Err(OpError::Refused("a checkpoint inside a transaction".into()));
        }
        let sql = match mode {
            CheckpointMode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
            CheckpointMode::Full => "PRAGMA wal_checkpoint(FULL)",
            CheckpointMode::Restart => "PRAGMA wal_checkpoint(RESTART)",
            CheckpointMode::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
        };
        let (busy, _log, checkpointed): (i64, i64, i64) = self
            .conn
            .query_row(sql, [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .map_err(sql_error)?;
        if busy != 0 && mode != CheckpointMode::Passive {
            return Err(OpError::Busy);
        }
        Ok(OpOutput::Checkpointed {
            backfilled_frames: u64::try_from(checkpointed).unwrap_or(0),
            wal_reset: false,
        })
    }
}

impl Target for Sqlite {
    type Db = Arc<SqliteDb>;
    type Conn = SqliteConn;
    type Opener = SqliteOpener;
    type Op = Op;

    const NAME: &'static str = "sqlite";

    fn opener(env: &OpenEnv<'_>) -> SqliteOpener {
        SqliteOpener {
            settings: env.settings.clone(),
        }
    }

    fn step_open(opener: &mut SqliteOpener) -> Step<Arc<SqliteDb>> {
        match open_db(&opener.settings) {
            Ok(db) => Step::Done(db),
            Err(error) => Step::Failed(error),
        }
    }

    fn connect(db: &Arc<SqliteDb>) -> SqliteConn {
        SqliteConn::open(db).unwrap_or_else(|e| panic!("sqlite: cannot connect: {e}"))
    }

    fn commit_seq(db: &Arc<SqliteDb>) -> u64 {
        db.commits.load(Ordering::Relaxed)
    }

    fn is_poisoned(_: &Arc<SqliteDb>) -> bool {
        false
    }

    fn write_lock_owner(_: &Arc<SqliteDb>) -> Option<Option<u64>> {
        None
    }

    fn to_engine(op: Op) -> Op {
        op
    }

    fn from_engine(op: Op) -> Op {
        op
    }

    fn execute(conn: &SqliteConn, op: &Op) -> Step<OpOutput> {
        match conn.run(op) {
            Ok(output) => Step::Done(output),
            Err(error) => Step::Failed(error),
        }
    }

    fn claims(conn: &SqliteConn) -> Claims {
        conn.claims.get()
    }

    fn may_hold_write_lock(_: &SqliteConn) -> bool {
        true
    }

    fn in_transaction(conn: &SqliteConn) -> bool {
        conn.in_transaction()
    }

    fn transaction_open(conn: &SqliteConn) -> bool {
        conn.in_transaction()
    }

    fn database(conn: &SqliteConn) -> &Arc<SqliteDb> {
        &conn.db
    }
}
