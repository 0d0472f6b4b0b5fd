//! braid's key-value ops as SQL on turso_core, each op a re-entrant step.
//!
//! The data lives in one table `kv (k BLOB PRIMARY KEY, v BLOB NOT NULL)`. Every
//! connection prepares each statement once and binds it per op. A statement step that
//! returns `IO` hands the simulation a wait for the completion turso named
//! (`TursoIo::waiter`); `Yield` and `Sleep` hand it an explicit yield. The next call with
//! the same op steps the same statement again.
//!
//! Commit sequences: turso has none, so the adapter keeps one in the database itself, in
//! `braid_meta (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)`. A transaction that changed
//! a row bumps it (`UPDATE .. RETURNING seq`) just before its `COMMIT`, inside the same
//! transaction, so the sequence is exactly as durable as the data: after a crash, the
//! recovered `seq` is the commit the engine recovered to. A write outside an explicit
//! transaction runs as `BEGIN; write; bump if it changed a row; COMMIT`, one transaction
//! like the engine's own autocommit write. A commit that changed nothing is sequence 0.
//!
//! braid's error contract, where turso's differs: every error but `Busy` ends the
//! transaction (turso, like SQLite, may leave it open: the adapter rolls it back); a
//! write that fails `Busy` outside a transaction leaves no snapshot behind.

use std::cell::{Cell, RefCell};
use std::num::NonZero;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use braid_oracle::{CheckpointMode, Claims, Op, OpError, OpOutput, TxMode};
use turso_core::{
    Connection, Database, LimboError, Numeric, OpenDbAsyncState, OpenOptions, SqliteDialect,
    Statement, StepResult, Value,
};

use crate::io::TursoIo;

/// How often the engine syncs, as braid's settings name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Every commit syncs the WAL.
    Full,
    /// Syncs only at checkpoints.
    Normal,
    /// Never syncs.
    Off,
}

/// What the turso target takes from the run's settings.
#[derive(Debug, Clone, Copy)]
pub struct TursoSettings {
    pub page_size: u32,
    pub cache_pages: u64,
    pub sync: SyncMode,
    /// Seeds turso's random numbers (drawn from the run's choices).
    pub seed: u64,
}

/// Where one step left an op or an open.
#[derive(Debug)]
pub enum KvStep<T> {
    Done(T),
    /// Call again once this braid completion has finished.
    Wait(braid_core::Completion),
    Failed(OpError),
}

/// One value of a result row, owned.
#[derive(Debug, Clone, PartialEq)]
enum Cell_ {
    Null,
    Int(i64),
    Bytes(Vec<u8>),
    Other(String),
}

fn cell(value: &Value) -> Cell_ {
    match value {
        Value::Null => Cell_::Null,
        Value::Numeric(Numeric::Integer(i)) => Cell_::Int(*i),
        Value::Blob(_) => Cell_::Bytes(value.to_blob().unwrap_or_default().to_vec()),
        Value::Text(_) => Cell_::Other(value.to_text().unwrap_or_default().to_string()),
        Value::Numeric(Numeric::Float(f)) => Cell_::Other(format!("{}", f64::from(*f))),
    }
}

fn blob(bytes: &[u8]) -> Value {
    Value::from_slice(bytes).expect("a key or value fits in memory")
}

fn int(i: i64) -> Value {
    Value::Numeric(Numeric::Integer(i))
}

/// turso's error in the oracle's terms.
pub fn op_error(err: &LimboError) -> OpError {
    match err {
        LimboError::Busy => OpError::Busy,
        LimboError::BusySnapshot => OpError::BusySnapshot,
        LimboError::Corrupt(message) => OpError::Corrupt(message.clone()),
        LimboError::CompletionError(e) => OpError::Io(format!("turso: {e}")),
        LimboError::InternalError(message) if message.starts_with("braid I/O") => {
            OpError::Io(format!("turso: {message}"))
        }
        other => OpError::Refused(format!("turso: {other}")),
    }
}

/// The statements a connection prepares, once each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sql {
    Begin(TxMode),
    Get,
    Scan,
    Put,
    Delete,
    Bump,
    Commit,
    Rollback,
    Checkpoint(CheckpointMode),
    Integrity,
    Seq,
}

impl Sql {
    fn text(self) -> &'static str {
        match self {
            Sql::Begin(TxMode::Deferred) => "BEGIN DEFERRED",
            Sql::Begin(TxMode::Immediate) => "BEGIN IMMEDIATE",
            Sql::Get => "SELECT v FROM kv WHERE k = ?1",
            Sql::Scan => {
                "SELECT k, v FROM kv WHERE k >= ?1 AND (?2 IS NULL OR k < ?2) ORDER BY k LIMIT ?3"
            }
            // The update fires only for a new value: a put of the value a key holds
            // changes nothing (no commit), as in braid's engine.
            Sql::Put => {
                "INSERT INTO kv (k, v) VALUES (?1, ?2) \
                 ON CONFLICT (k) DO UPDATE SET v = excluded.v WHERE v IS NOT excluded.v"
            }
            Sql::Delete => "DELETE FROM kv WHERE k = ?1",
            Sql::Bump => "UPDATE braid_meta SET seq = seq + 1 WHERE id = 0 RETURNING seq",
            Sql::Commit => "COMMIT",
            Sql::Rollback => "ROLLBACK",
            Sql::Checkpoint(CheckpointMode::Passive) => "PRAGMA wal_checkpoint(PASSIVE)",
            Sql::Checkpoint(CheckpointMode::Full) => "PRAGMA wal_checkpoint(FULL)",
            Sql::Checkpoint(CheckpointMode::Restart) => "PRAGMA wal_checkpoint(RESTART)",
            Sql::Checkpoint(CheckpointMode::Truncate) => "PRAGMA wal_checkpoint(TRUNCATE)",
            Sql::Integrity => "PRAGMA integrity_check",
            Sql::Seq => "SELECT seq FROM braid_meta WHERE id = 0",
        }
    }
}

/// Setup of a new database, one transaction: the tables and the commit counter at 0.
const SCHEMA: [&str; 5] = [
    "BEGIN IMMEDIATE",
    "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS braid_meta (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO braid_meta (id, seq) VALUES (0, 0)",
    "COMMIT",
];

/// Rows a finished statement returned, and the rows it changed.
struct Finished {
    rows: Vec<Vec<Cell_>>,
    changes: i64,
}

/// One statement in flight on a connection.
struct Running {
    stmt: Statement,
    rows: Vec<Vec<Cell_>>,
}

/// What turso's fail-stop on a failed fsync panics with (`data_sync_retry` off, the
/// default): the process is meant to die there, so the adapter stops the database.
const FSYNC_FAIL_STOP: &str = "fsync error (data_sync_retry=off)";

/// The text of a panic's payload, if it has one.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default()
}

/// Installs (once per process) a panic hook that keeps turso's fail-stop panic quiet,
/// since the adapter catches it, and hands every other panic to the hook before it.
fn quiet_fail_stop() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !panic_text(info.payload()).starts_with(FSYNC_FAIL_STOP) {
                previous(info);
            }
        }));
    });
}

/// Steps the statement once. turso's deliberate fail-stop panic on a failed fsync becomes
/// `Err(())` (the database must stop); any other panic is a defect and goes on up.
fn step_once(stmt: &mut Statement) -> Result<turso_core::Result<StepResult>, ()> {
    quiet_fail_stop();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stmt.step()));
    caught.or_else(|panic| {
        if panic_text(panic.as_ref()).starts_with(FSYNC_FAIL_STOP) {
            Err(())
        } else {
            std::panic::resume_unwind(panic)
        }
    })
}

/// Steps `running` until it finishes, waits or fails; `stopped` is set when turso
/// fail-stopped.
fn step_statement(io: &TursoIo, running: &mut Running, stopped: &AtomicBool) -> KvStep<Finished> {
    loop {
        let Ok(stepped) = step_once(&mut running.stmt) else {
            stopped.store(true, Ordering::Relaxed);
            return KvStep::Failed(OpError::Poisoned);
        };
        io.poll_waiters();
        match stepped {
            Ok(StepResult::Row) => {
                let row = running
                    .stmt
                    .row()
                    .map(|row| row.get_values().map(cell).collect())
                    .unwrap_or_default();
                running.rows.push(row);
            }
            Ok(StepResult::Done) => {
                return KvStep::Done(Finished {
                    rows: std::mem::take(&mut running.rows),
                    changes: running.stmt.n_change(),
                });
            }
            Ok(StepResult::IO) => {
                return KvStep::Wait(match running.stmt.take_io_completions() {
                    Some(waiting) => io.waiter(waiting.0),
                    None => braid_core::Completion::new_yield(),
                });
            }
            Ok(StepResult::Yield | StepResult::Sleep { .. }) => {
                return KvStep::Wait(braid_core::Completion::new_yield());
            }
            Ok(StepResult::Busy) => return KvStep::Failed(OpError::Busy),
            Ok(StepResult::Interrupt) => {
                return KvStep::Failed(OpError::Refused("turso: interrupted".into()));
            }
            Err(err) => return KvStep::Failed(op_error(&err)),
        }
    }
}

/// An open database.
pub struct TursoDb {
    db: Arc<Database>,
    io: Arc<TursoIo>,
    settings: TursoSettings,
    /// The newest commit sequence acknowledged (or recovered).
    commits: AtomicU64,
    /// Set when turso fail-stopped after a failed fsync: nothing runs until a reopen.
    stopped: AtomicBool,
}

impl TursoDb {
    /// The last published commit sequence.
    pub fn commit_seq(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Whether turso fail-stopped (a failed fsync) and the database must be reopened.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    fn published(&self, seq: u64) {
        self.commits.fetch_max(seq, Ordering::Relaxed);
    }
}

/// Stages of an open.
enum OpenStage {
    Open(Box<OpenDbAsyncState>),
    Setup { conn: Arc<Connection>, next: usize },
    ReadSeq { conn: Arc<Connection> },
}

/// An open (or recovery after a crash) in progress.
pub struct TursoOpener {
    io: Arc<TursoIo>,
    path: String,
    settings: TursoSettings,
    stage: Option<OpenStage>,
    db: Option<Arc<Database>>,
    running: Option<Running>,
}

impl TursoOpener {
    /// Starts opening `path` on `io` (the braid I/O of the run).
    pub fn new(io: Arc<dyn braid_core::IO>, path: &str, settings: TursoSettings) -> Self {
        let io = Arc::new(TursoIo::new(io, settings.seed));
        let path = io.turso_path(path);
        TursoOpener {
            io,
            path,
            settings,
            stage: Some(OpenStage::Open(Box::new(OpenDbAsyncState::new()))),
            db: None,
            running: None,
        }
    }

    /// Advances the open.
    pub fn step(&mut self) -> KvStep<Arc<TursoDb>> {
        loop {
            let stage = self
                .stage
                .take()
                .expect("an open is not stepped after it ended");
            match self.advance(stage) {
                Ok(Some(next)) => self.stage = Some(next),
                Ok(None) => unreachable!("advance ends through Err"),
                Err(step) => return step,
            }
        }
    }

    /// One stage: `Ok` the next stage, `Err` what the caller gets now.
    fn advance(&mut self, stage: OpenStage) -> Result<Option<OpenStage>, KvStep<Arc<TursoDb>>> {
        match stage {
            OpenStage::Open(mut state) => {
                let options = self.options()?;
                let io: Arc<dyn turso_core::IO> = self.io.clone();
                match Database::do_open_async(&mut state, io, &self.path, &options) {
                    Ok(turso_core::IOResult::Done(db)) => {
                        let conn = db.connect().map_err(|e| KvStep::Failed(op_error(&e)))?;
                        self.db = Some(db);
                        let page_size = format!("PRAGMA page_size = {}", self.settings.page_size);
                        // Only a new database takes a page size; an existing one keeps its own.
                        let _ = conn.execute(page_size);
                        Ok(Some(OpenStage::Setup { conn, next: 0 }))
                    }
                    Ok(turso_core::IOResult::IO(waiting)) => {
                        let wait = self.io.waiter(waiting.0);
                        self.stage = Some(OpenStage::Open(state));
                        Err(KvStep::Wait(wait))
                    }
                    Err(e) => Err(KvStep::Failed(op_error(&e))),
                }
            }
            OpenStage::Setup { conn, next } if next == SCHEMA.len() => {
                Ok(Some(OpenStage::ReadSeq { conn }))
            }
            OpenStage::Setup { conn, next } => {
                self.run(
                    &conn,
                    SCHEMA[next],
                    OpenStage::Setup {
                        conn: conn.clone(),
                        next,
                    },
                )?;
                Ok(Some(OpenStage::Setup {
                    conn,
                    next: next + 1,
                }))
            }
            OpenStage::ReadSeq { conn } => {
                let finished = self.run(
                    &conn,
                    Sql::Seq.text(),
                    OpenStage::ReadSeq { conn: conn.clone() },
                )?;
                let seq = match finished.rows.first().and_then(|row| row.first()) {
                    Some(Cell_::Int(seq)) => u64::try_from(*seq).unwrap_or(0),
                    other => {
                        let message = format!("braid_meta holds {other:?}, not a sequence");
                        return Err(KvStep::Failed(OpError::Corrupt(message)));
                    }
                };
                let db = TursoDb {
                    db: self.db.take().expect("opened before reading the sequence"),
                    io: self.io.clone(),
                    settings: self.settings,
                    commits: AtomicU64::new(seq),
                    stopped: AtomicBool::new(false),
                };
                Err(KvStep::Done(Arc::new(db)))
            }
        }
    }

    fn options(&self) -> Result<OpenOptions, KvStep<Arc<TursoDb>>> {
        let file = turso_core::IO::open_file(
            self.io.as_ref(),
            &self.path,
            turso_core::OpenFlags::Create,
            false,
        )
        .map_err(|e| KvStep::Failed(op_error(&e)))?;
        let storage = turso_core::storage::database::DatabaseFile::new(file);
        Ok(OpenOptions::new(Arc::new(SqliteDialect)).storage(Arc::new(storage)))
    }

    /// Runs `sql` (re-entrantly: `again` is the stage to come back to while it waits).
    fn run(
        &mut self,
        conn: &Arc<Connection>,
        sql: &str,
        again: OpenStage,
    ) -> Result<Finished, KvStep<Arc<TursoDb>>> {
        if self.running.is_none() {
            let stmt = conn
                .prepare(sql)
                .map_err(|e| KvStep::Failed(op_error(&e)))?;
            self.running = Some(Running {
                stmt,
                rows: Vec::new(),
            });
        }
        let running = self.running.as_mut().expect("just prepared");
        let stopped = AtomicBool::new(false);
        match step_statement(&self.io, running, &stopped) {
            KvStep::Done(finished) => {
                self.running = None;
                Ok(finished)
            }
            KvStep::Wait(wait) => {
                self.stage = Some(again);
                Err(KvStep::Wait(wait))
            }
            KvStep::Failed(error) => {
                self.running = None;
                // A fail-stop while opening is `Poisoned`, and the simulator restarts the
                // machine: a retried open in the same machine would read back, and build
                // on, writes a failed fsync marked clean without making them durable.
                Err(KvStep::Failed(error))
            }
        }
    }
}

/// Where an op stands between steps.
#[derive(Default)]
struct OpState {
    /// Index of the statement the op is at (see `TursoConn::plan`).
    stage: usize,
    /// The statement in flight.
    running: Option<(Sql, Running)>,
    /// Whether this op began the transaction it runs in (a write outside one).
    wrapped: bool,
    /// Whether an explicit transaction was open when the op began.
    in_explicit: bool,
    /// Rows changed by the op's write.
    changed: bool,
    /// The sequence the bump gave.
    seq: Option<u64>,
    /// Rows of the op's read.
    rows: Vec<Vec<Cell_>>,
    /// Set once the op failed and the adapter is rolling its transaction back.
    failed: Option<OpError>,
}

/// One connection.
pub struct TursoConn {
    db: Arc<TursoDb>,
    conn: Result<Arc<Connection>, OpError>,
    stmts: RefCell<Vec<(Sql, Statement)>>,
    op: RefCell<Option<OpState>>,
    /// Whether the open explicit transaction changed a row.
    wrote: Cell<bool>,
    claims: Cell<Claims>,
}

/// What an op's next statement is.
enum Next {
    Run(Sql, Vec<Value>),
    Finish(OpOutput),
}

impl TursoConn {
    /// A new connection to `db`, set up for the run's settings.
    pub fn connect(db: &Arc<TursoDb>) -> TursoConn {
        let conn = db.db.connect().map_err(|e| op_error(&e)).and_then(|conn| {
            conn.set_busy_timeout(std::time::Duration::ZERO);
            let sync = match db.settings.sync {
                SyncMode::Full => "FULL",
                SyncMode::Normal => "NORMAL",
                SyncMode::Off => "OFF",
            };
            for pragma in [
                format!("PRAGMA synchronous = {sync}"),
                format!("PRAGMA cache_size = {}", db.settings.cache_pages),
                // Temporary tables and sorts stay in memory, off the simulated disk.
                "PRAGMA temp_store = memory".to_string(),
            ] {
                conn.execute(&pragma).map_err(|e| op_error(&e))?;
            }
            Ok(conn)
        });
        TursoConn {
            db: db.clone(),
            conn,
            stmts: RefCell::new(Vec::new()),
            op: RefCell::new(None),
            wrote: Cell::new(false),
            claims: Cell::new(Claims::default()),
        }
    }

    /// The database this connection belongs to.
    pub fn database(&self) -> &Arc<TursoDb> {
        &self.db
    }

    /// Whether an explicit transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.conn.as_ref().is_ok_and(|c| !c.get_auto_commit()) && !self.wrapped()
    }

    /// Whether a transaction is open, explicit or the one an op runs in.
    pub fn transaction_open(&self) -> bool {
        self.conn.as_ref().is_ok_and(|c| !c.get_auto_commit()) || self.op.borrow().is_some()
    }

    fn wrapped(&self) -> bool {
        self.op.borrow().as_ref().is_some_and(|op| op.wrapped)
    }

    /// The claims of the last finished op.
    pub fn claims(&self) -> Claims {
        self.claims.get()
    }

    /// Runs (or re-enters) `op`.
    pub fn execute(&self, op: &Op) -> KvStep<OpOutput> {
        let conn = match &self.conn {
            _ if self.db.is_stopped() => return KvStep::Failed(OpError::Poisoned),
            Ok(conn) => conn.clone(),
            Err(error) => return KvStep::Failed(error.clone()),
        };
        let mut state = self.op.borrow_mut().take().unwrap_or_else(|| OpState {
            wrapped: matches!(op, Op::Put(..) | Op::Delete(_)) && conn.get_auto_commit(),
            in_explicit: !conn.get_auto_commit(),
            ..OpState::default()
        });
        loop {
            if let Some(error) = state.failed.clone() {
                return self.finish_failed(&conn, state, error);
            }
            let next = match self.plan(op, &mut state) {
                Ok(next) => next,
                Err(error) => {
                    state.failed = Some(error);
                    continue;
                }
            };
            let (sql, params) = match next {
                Next::Finish(output) => {
                    self.finished(op, &state);
                    return KvStep::Done(output);
                }
                Next::Run(sql, params) => (sql, params),
            };
            match self.run(&conn, &mut state, sql, params) {
                KvStep::Done(finished) => {
                    self.absorb(sql, &mut state, finished);
                    state.stage += 1;
                }
                KvStep::Wait(wait) => {
                    *self.op.borrow_mut() = Some(state);
                    return KvStep::Wait(wait);
                }
                KvStep::Failed(OpError::Busy) if state.in_explicit && conn.get_auto_commit() => {
                    // turso ends the explicit transaction a statement got Busy in (SQLite
                    // keeps it open): the transaction is gone, as after a stale snapshot.
                    self.wrote.set(false);
                    self.claims.set(Claims::default());
                    return KvStep::Failed(OpError::BusySnapshot);
                }
                KvStep::Failed(OpError::Busy) if !state.wrapped => {
                    // braid's contract: Busy leaves the transaction as it was.
                    self.claims.set(Claims::default());
                    return KvStep::Failed(OpError::Busy);
                }
                KvStep::Failed(error) => state.failed = Some(error),
            }
        }
    }

    /// The op's next statement, or its output once every statement has run.
    fn plan(&self, op: &Op, state: &mut OpState) -> Result<Next, OpError> {
        // Judged when the op began: a COMMIT in flight already reads as autocommit.
        let explicit = state.in_explicit;
        let stage = state.stage;
        let done = |output| Ok(Next::Finish(output));
        match op {
            Op::Begin(mode) => match stage {
                0 => Ok(Next::Run(Sql::Begin(*mode), vec![])),
                _ => done(OpOutput::Done),
            },
            Op::Get(key) => match stage {
                0 => Ok(Next::Run(Sql::Get, vec![blob(key)])),
                _ => {
                    let value = match state.rows.first().and_then(|row| row.first()) {
                        None => None,
                        Some(Cell_::Bytes(v)) => Some(v.clone()),
                        Some(other) => {
                            return Err(OpError::Corrupt(format!("a value reads as {other:?}")));
                        }
                    };
                    done(OpOutput::Value(value))
                }
            },
            Op::Scan { start, end, limit } => match stage {
                0 => {
                    let end = end.as_deref().map_or(Value::Null, blob);
                    let limit = int(i64::try_from(*limit).unwrap_or(-1));
                    Ok(Next::Run(Sql::Scan, vec![blob(start), end, limit]))
                }
                _ => {
                    let mut rows = Vec::with_capacity(state.rows.len());
                    for row in &state.rows {
                        match row.as_slice() {
                            [Cell_::Bytes(k), Cell_::Bytes(v)] => rows.push((k.clone(), v.clone())),
                            other => {
                                return Err(OpError::Corrupt(format!("a row reads as {other:?}")));
                            }
                        }
                    }
                    done(OpOutput::Rows(rows))
                }
            },
            Op::Put(..) | Op::Delete(_) if state.wrapped => {
                let write = self.write_sql(op);
                match stage {
                    0 => Ok(Next::Run(Sql::Begin(TxMode::Deferred), vec![])),
                    1 => Ok(Next::Run(write.0, write.1)),
                    2 if state.changed => Ok(Next::Run(Sql::Bump, vec![])),
                    2 => Ok(Next::Run(Sql::Commit, vec![])),
                    3 if state.changed => Ok(Next::Run(Sql::Commit, vec![])),
                    _ => done(OpOutput::Done),
                }
            }
            Op::Put(..) | Op::Delete(_) => match stage {
                0 => {
                    let (sql, params) = self.write_sql(op);
                    Ok(Next::Run(sql, params))
                }
                _ => done(OpOutput::Done),
            },
            Op::Commit => {
                if !explicit && stage == 0 {
                    return Err(OpError::Refused("no transaction is active".into()));
                }
                let wrote = self.wrote.get();
                match stage {
                    0 if wrote => Ok(Next::Run(Sql::Bump, vec![])),
                    0 => Ok(Next::Run(Sql::Commit, vec![])),
                    1 if wrote => Ok(Next::Run(Sql::Commit, vec![])),
                    _ => done(OpOutput::Committed {
                        seq: state.seq.unwrap_or(0),
                    }),
                }
            }
            Op::Rollback => {
                if !explicit && stage == 0 {
                    return Err(OpError::Refused("no transaction is active".into()));
                }
                match stage {
                    0 => Ok(Next::Run(Sql::Rollback, vec![])),
                    _ => done(OpOutput::Done),
                }
            }
            Op::Checkpoint(mode) => {
                if explicit {
                    return Err(OpError::Refused("a checkpoint inside a transaction".into()));
                }
                match stage {
                    0 => Ok(Next::Run(Sql::Checkpoint(*mode), vec![])),
                    _ => checkpointed(*mode, &state.rows).map(Next::Finish),
                }
            }
            Op::IntegrityCheck => match stage {
                0 => Ok(Next::Run(Sql::Integrity, vec![])),
                _ => {
                    let problems = state
                        .rows
                        .iter()
                        .flatten()
                        .map(|c| match c {
                            Cell_::Other(text) => text.clone(),
                            other => format!("{other:?}"),
                        })
                        .filter(|p| p != "ok")
                        .collect();
                    done(OpOutput::Integrity(problems))
                }
            },
        }
    }

    fn write_sql(&self, op: &Op) -> (Sql, Vec<Value>) {
        match op {
            Op::Put(key, value) => (Sql::Put, vec![blob(key), blob(value)]),
            Op::Delete(key) => (Sql::Delete, vec![blob(key)]),
            _ => unreachable!("only writes"),
        }
    }

    /// Takes what a finished statement tells the op.
    fn absorb(&self, sql: Sql, state: &mut OpState, finished: Finished) {
        match sql {
            Sql::Put | Sql::Delete => state.changed = finished.changes > 0,
            Sql::Bump => {
                state.seq = match finished.rows.first().and_then(|row| row.first()) {
                    Some(Cell_::Int(seq)) => u64::try_from(*seq).ok(),
                    _ => None,
                };
                if state.seq.is_none() {
                    state.failed = Some(OpError::Corrupt("braid_meta has no sequence".into()));
                }
            }
            Sql::Commit => {
                if let Some(seq) = state.seq {
                    self.db.published(seq);
                }
            }
            _ => state.rows = finished.rows,
        }
    }

    /// Bookkeeping once `op` succeeded.
    fn finished(&self, op: &Op, state: &OpState) {
        let mut claims = Claims::default();
        match op {
            Op::Begin(_) | Op::Rollback => self.wrote.set(false),
            Op::Put(..) | Op::Delete(_) if state.wrapped => {
                claims.commit_seq = Some(state.seq.unwrap_or(0));
            }
            Op::Put(..) | Op::Delete(_) => self.wrote.set(self.wrote.get() || state.changed),
            Op::Commit => {
                self.wrote.set(false);
                claims.commit_seq = state.seq;
            }
            _ => {}
        }
        self.claims.set(claims);
    }

    /// An op failed: roll its transaction back (braid's contract), then report it.
    fn finish_failed(
        &self,
        conn: &Arc<Connection>,
        mut state: OpState,
        error: OpError,
    ) -> KvStep<OpOutput> {
        if !self.db.is_stopped() && !conn.get_auto_commit() {
            match self.run(conn, &mut state, Sql::Rollback, vec![]) {
                KvStep::Wait(wait) => {
                    state.failed = Some(error);
                    *self.op.borrow_mut() = Some(state);
                    return KvStep::Wait(wait);
                }
                KvStep::Done(_) | KvStep::Failed(_) => {}
            }
        }
        self.wrote.set(false);
        self.claims.set(Claims::default());
        KvStep::Failed(error)
    }

    /// Starts or continues `sql` with `params`.
    fn run(
        &self,
        conn: &Arc<Connection>,
        state: &mut OpState,
        sql: Sql,
        params: Vec<Value>,
    ) -> KvStep<Finished> {
        if state
            .running
            .as_ref()
            .is_none_or(|(running, _)| *running != sql)
        {
            let mut stmts = self.stmts.borrow_mut();
            let cached = stmts.iter().position(|(s, _)| *s == sql);
            let mut stmt = match cached.map(|i| stmts.swap_remove(i).1) {
                Some(stmt) => stmt,
                None => match conn.prepare(sql.text()) {
                    Ok(stmt) => stmt,
                    Err(e) => return KvStep::Failed(op_error(&e)),
                },
            };
            stmt.reset_best_effort();
            for (i, value) in params.into_iter().enumerate() {
                let index = NonZero::new(i + 1).expect("1-based");
                if let Err(e) = stmt.bind_at(index, value) {
                    return KvStep::Failed(op_error(&e));
                }
            }
            state.running = Some((
                sql,
                Running {
                    stmt,
                    rows: Vec::new(),
                },
            ));
        }
        let (_, running) = state.running.as_mut().expect("set above");
        let step = step_statement(&self.db.io, running, &self.db.stopped);
        if !matches!(step, KvStep::Wait(_)) {
            let (sql, mut running) = state.running.take().expect("set above");
            running.stmt.reset_best_effort();
            self.stmts.borrow_mut().push((sql, running.stmt));
        }
        step
    }
}

/// The checkpoint's result row `(busy, log, checkpointed)` as braid reports it (turso
/// gives NULL counts when it was busy).
fn checkpointed(mode: CheckpointMode, rows: &[Vec<Cell_>]) -> Result<OpOutput, OpError> {
    let count = |cell: &Cell_| match cell {
        Cell_::Int(n) => Some(u64::try_from(*n).unwrap_or(0)),
        Cell_::Null => Some(0),
        _ => None,
    };
    let parsed = match rows.first().map(Vec::as_slice) {
        Some([busy, log, done]) => count(busy).zip(count(log)).zip(count(done)),
        _ => None,
    };
    let Some(((busy, _log), done)) = parsed else {
        return Err(OpError::Refused(format!(
            "turso: wal_checkpoint returned {rows:?}"
        )));
    };
    if busy != 0 && mode != CheckpointMode::Passive {
        return Err(OpError::Busy);
    }
    Ok(OpOutput::Checkpointed {
        backfilled_frames: done,
        wal_reset: false,
    })
}
