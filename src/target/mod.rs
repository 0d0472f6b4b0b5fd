//! Targets: the engines the simulator drives. A target is an engine plus the thin adapter
//! that lets the simulation loop open it on the simulated I/O, connect, run one op as a
//! re-entrant step, and ask it what it can say about its locks and snapshots. The run loop,
//! fibers, oracle, workloads, shrinking and campaigns are written against `Target` only;
//! `src/sim` names no engine type. braid's own engine (`BraidCore`, braid.rs) is the
//! built-in target and the default; the simulation is generic over the target, so the
//! calls are dispatched statically and cost nothing over calling the engine directly.
//!
//! What a target promises:
//! - Every I/O it does goes through the `SimIO` it is given, and every wait is on a
//!   `Completion` of that I/O: the scheduler decides when it finishes, and how.
//! - `execute` is re-entrant: called again with the same op after the completion it
//!   returned finished, it picks up where it was, changing nothing observable before that.
//! - Determinism: no clock, threads or random numbers except what the simulation hands it,
//!   and no iteration over randomly seeded hash maps whose order can reach a result.
//! - Claims (snapshot, commit sequence, who holds the write lock) are white-box hints the
//!   oracle verifies, never trusts; `None` says honestly that the engine cannot tell.
//! - Its contract where it differs from braid's (errors, sync modes, what a failed fsync
//!   does) is written in its own documentation and handed to the oracle explicitly.

mod braid;
pub(crate) mod braid_convert;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "turso")]
mod turso;

pub use braid::BraidCore;
#[cfg(feature = "sqlite")]
pub use sqlite::{Sqlite, SqliteConn, SqliteDb};
#[cfg(feature = "turso")]
pub use turso::Turso;

use std::sync::Arc;

use braid_core::{Canary, Completion, IO};
use braid_oracle::{Claims, Op, OpError, OpOutput};

use crate::config::{Settings, TargetName};
use crate::sim::yields::SimYields;
use crate::sim::{Choices, DecisionRecord, Outcome, RunArtifacts, SimIO, SimOptions, Simulation};

/// Where one step of a target's state machine left it.
#[derive(Debug)]
pub enum Step<T> {
    /// Finished with this value.
    Done(T),
    /// Waiting for this completion of the simulated I/O (or an explicit yield, which is
    /// already finished); call again once it has finished.
    Wait(Completion),
    /// Failed, in the oracle's terms.
    Failed(OpError),
}

/// What a target gets to open (or recover) its database.
pub struct OpenEnv<'a> {
    /// The simulated I/O every read, write and sync must go through.
    pub io: &'a SimIO,
    /// Path of the database file on it.
    pub path: &'a str,
    /// The run's settings (page size, cache, sync mode, ...), as far as the engine has them.
    pub settings: &'a Settings,
    /// A known-bad behaviour to switch on (braid-core's canaries; other targets refuse).
    pub canary: Option<Canary>,
    /// Answers the engine's yield points, drawing from the run's choices.
    pub yields: &'a Arc<SimYields>,
}

/// An engine the simulator can drive. See the module comment for the contract.
pub trait Target: 'static {
    /// An open database, shared by its connections.
    type Db;
    /// One connection.
    type Conn;
    /// An open (or recovery after a crash) in progress.
    type Opener;
    /// An op in the engine's own terms: converted once when invoked, given back when done.
    type Op;

    /// The target's name on the command line and in reports.
    const NAME: &'static str;

    /// Starts opening the database at `env.path`; after a crash this is the recovery.
    fn opener(env: &OpenEnv<'_>) -> Self::Opener;
    /// Advances the open.
    fn step_open(opener: &mut Self::Opener) -> Step<Self::Db>;
    /// A new connection (no I/O).
    fn connect(db: &Self::Db) -> Self::Conn;
    /// The last published commit sequence.
    fn commit_seq(db: &Self::Db) -> u64;
    /// Whether the database refuses every op until it is reopened (a failed fsync
    /// poisoned it). The simulator restarts a poisoned database the way a crash does.
    fn is_poisoned(db: &Self::Db) -> bool;
    /// Who holds the write lock: `Some(None)` nobody, `Some(Some(id))` the holder's id
    /// (ids are never reused within one open), `None` the engine cannot tell.
    fn write_lock_owner(db: &Self::Db) -> Option<Option<u64>>;

    /// The engine's op for a workload's op.
    fn to_engine(op: Op) -> Self::Op;
    /// The workload's op back.
    fn from_engine(op: Self::Op) -> Op;
    /// Runs (or re-enters) `op` on `conn`.
    fn execute(conn: &Self::Conn, op: &Self::Op) -> Step<OpOutput>;

    /// The connection's claims about its last finished op.
    fn claims(conn: &Self::Conn) -> Claims;
    /// Whether this connection may hold the write lock (true when it cannot tell).
    fn may_hold_write_lock(conn: &Self::Conn) -> bool;
    /// Whether an explicit transaction is open on the connection.
    fn in_transaction(conn: &Self::Conn) -> bool;
    /// Whether a transaction is open, explicit or the implicit one of a running op; a
    /// commit that ended its transaction but still runs (an auto-checkpoint) says false.
    fn transaction_open(conn: &Self::Conn) -> bool;
    /// The database a connection belongs to.
    fn database(conn: &Self::Conn) -> &Self::Db;
}

/// Runs one simulation of the target `settings.run.target` names, drawing from `choices`
/// (`Choices::recording(seed)`, or a tape to replay), and hands back everything it left.
pub fn simulate(
    settings: Settings,
    seed: u64,
    choices: Choices,
    options: SimOptions,
) -> RunArtifacts {
    if let Some(reference) = settings.run.diff_against {
        return diff(settings, seed, choices, options, reference);
    }
    match settings.run.target {
        TargetName::Braid => {
            Simulation::<BraidCore>::of_target(settings, seed, choices, options).run_full()
        }
        #[cfg(feature = "sqlite")]
        TargetName::Sqlite => {
            Simulation::<Sqlite>::of_target(settings, seed, choices, options).run_full()
        }
        #[cfg(feature = "turso")]
        TargetName::Turso => {
            Simulation::<Turso>::of_target(settings, seed, choices, options).run_full()
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!("validated: a config names only targets this binary has"),
    }
}

/// `simulate`, also handing back the run's structure (`Simulation::run_structured`); a diff
/// of two engines has none.
pub fn simulate_structured(
    settings: Settings,
    seed: u64,
    choices: Choices,
    options: SimOptions,
) -> (RunArtifacts, Vec<DecisionRecord>) {
    if settings.run.diff_against.is_some() {
        return (simulate(settings, seed, choices, options), Vec::new());
    }
    match settings.run.target {
        TargetName::Braid => {
            Simulation::<BraidCore>::of_target(settings, seed, choices, options).run_structured()
        }
        #[cfg(feature = "sqlite")]
        TargetName::Sqlite => {
            Simulation::<Sqlite>::of_target(settings, seed, choices, options).run_structured()
        }
        #[cfg(feature = "turso")]
        TargetName::Turso => {
            Simulation::<Turso>::of_target(settings, seed, choices, options).run_structured()
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!("validated: a config names only targets this binary has"),
    }
}

/// A diff of the target against `reference` (`crate::diff`).
fn diff(
    settings: Settings,
    seed: u64,
    choices: Choices,
    options: SimOptions,
    reference: TargetName,
) -> RunArtifacts {
    use crate::diff::run_diff;
    match (settings.run.target, reference) {
        (TargetName::Braid, TargetName::Braid) => {
            run_diff::<BraidCore, BraidCore>(settings, seed, choices, options)
        }
        #[cfg(feature = "sqlite")]
        (TargetName::Braid, TargetName::Sqlite) => {
            run_diff::<BraidCore, Sqlite>(settings, seed, choices, options)
        }
        #[cfg(feature = "sqlite")]
        (TargetName::Sqlite, TargetName::Braid) => {
            run_diff::<Sqlite, BraidCore>(settings, seed, choices, options)
        }
        #[cfg(feature = "sqlite")]
        (TargetName::Sqlite, TargetName::Sqlite) => {
            run_diff::<Sqlite, Sqlite>(settings, seed, choices, options)
        }
        #[cfg(feature = "turso")]
        (TargetName::Turso, TargetName::Braid) => {
            run_diff::<Turso, BraidCore>(settings, seed, choices, options)
        }
        #[cfg(all(feature = "turso", feature = "sqlite"))]
        (TargetName::Turso, TargetName::Sqlite) => {
            run_diff::<Turso, Sqlite>(settings, seed, choices, options)
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!("validated: a config names only targets this binary has"),
    }
}

/// Like `simulate` from a seed, keeping only the outcome (the tape is not kept, so memory
/// does not grow with the run's length).
pub fn simulate_outcome(settings: Settings, seed: u64, options: SimOptions) -> Outcome {
    if settings.run.diff_against.is_some() {
        return simulate(settings, seed, Choices::recording(seed), options).outcome;
    }
    match settings.run.target {
        TargetName::Braid => Simulation::<BraidCore>::on_target(settings, seed, options).run(),
        #[cfg(feature = "sqlite")]
        TargetName::Sqlite => Simulation::<Sqlite>::on_target(settings, seed, options).run(),
        #[cfg(feature = "turso")]
        TargetName::Turso => Simulation::<Turso>::on_target(settings, seed, options).run(),
        #[allow(unreachable_patterns)]
        _ => unreachable!("validated: a config names only targets this binary has"),
    }
}

/// Runs `op` on `conn` to the end outside the scheduler, completing the oldest pending I/O
/// first, without faults (the judge's probes: recovery scans, final checks).
pub fn run_blocking<T: Target>(
    io: &SimIO,
    conn: &T::Conn,
    op: &T::Op,
) -> Result<OpOutput, OpError> {
    loop {
        match T::execute(conn, op) {
            Step::Done(output) => return Ok(output),
            Step::Failed(error) => return Err(error),
            Step::Wait(waiting) => {
                while !waiting.finished() {
                    if io.pending() == 0 {
                        return Err(OpError::Refused(
                            "waiting on a completion while no I/O is pending".into(),
                        ));
                    }
                    if let Err(e) = io.step() {
                        return Err(OpError::Io(e.to_string()));
                    }
                }
            }
        }
    }
}

/// A short description of an error, for failure messages.
pub fn describe(error: &OpError) -> String {
    match error {
        OpError::Busy => "database is busy".into(),
        OpError::BusySnapshot => "snapshot is stale".into(),
        OpError::Io(message) => message.clone(),
        OpError::Corrupt(message) => format!("database is corrupt: {message}"),
        OpError::Poisoned => "database is poisoned by a failed fsync".into(),
        OpError::Refused(message) => message.clone(),
    }
}
