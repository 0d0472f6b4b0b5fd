//! Fibers: one per connection. A fiber runs transaction programs from the workload mix, one
//! op per step: it invokes the op, re-enters `Connection::execute` each time it is scheduled
//! until the op finishes, reports the result to the oracle, and hands it to the program.
//!
//! Busy is retried (the fiber backs off until some other event happens), a bounded number of
//! times, then the fiber rolls back by itself. Any other error ends the transaction without
//! asking the program: `Aborted`, or `InDoubt` when the failed op was a commit (an explicit
//! `Commit`, or a write outside a transaction, which commits by itself).
//!
//! This file holds a fiber's state; step.rs is the loop's side, how a decision steps one.

use braid_core::Completion;
use braid_oracle::{Op, OpResult, TxnOutcome};
use braid_workloads::TxnProgram;

use super::sim_io::SimIO;
use crate::target::Target;

mod step;

/// One simulated connection and the transaction it is running.
pub(crate) struct Fiber<T: Target> {
    /// History process id: a connection incarnation (new ones after every crash).
    pub(crate) process: u64,
    conn: T::Conn,
    /// Boxed: it is taken out and put back at every step, so only a pointer moves.
    txn: Option<Box<TxnRun<T>>>,
    /// Told `Busy`: not runnable until the lock may have been released (a transaction
    /// ended or an I/O completed), or until every fiber is backing off. Two fibers told
    /// `Busy` must not wake each other, or they could starve the lock holder forever.
    pub(crate) backing_off: bool,
}

/// A transaction program in progress.
struct TxnRun<T: Target> {
    program: Box<dyn TxnProgram>,
    /// The transaction's number in the run (`Simulation::txns_started` when it began).
    number: u64,
    started_step: u64,
    ops: u64,
    /// The result of the op finished last, handed to the program at its next call.
    last: Option<OpResult>,
    inflight: Option<Inflight<T>>,
    busy_retries: u32,
    /// Busy retries ran out: the fiber rolls back by itself.
    giving_up: bool,
    /// An explicit commit was acknowledged.
    committed: bool,
    /// The program rolled its transaction back itself.
    rolled_back: bool,
}

/// What a fiber does when it has no op in flight.
enum Action<T: Target> {
    Run(Inflight<T>),
    /// The program holds its snapshot and gives up this turn.
    Pause,
    /// The program is finished, with this outcome.
    Done(TxnOutcome),
}

/// Which ops end by committing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commits {
    Never,
    Always,
    OutsideTransaction,
}

/// The op a fiber is running, in the engine's terms (`Target::from_engine` gives back the
/// workload's op when it finishes: its keys and values move, never copied).
struct Inflight<T: Target> {
    core: T::Op,
    /// The op's name (`Op::name`), for messages.
    name: &'static str,
    /// Whether the op commits: a `Commit` always, a write outside an explicit transaction
    /// (which commits by itself) when the connection has none open.
    commits: Commits,
    /// The completion the engine is waiting for (None before the first execute).
    waiting: Option<Completion>,
    /// Issued by the fiber itself (a rollback after Busy), not by the program.
    by_fiber: bool,
    /// A completion group the op waited on that had a failed member before the op's own
    /// commit (if any) ended its transaction: the op must then end with an error
    /// (`check_finished_wait`).
    failed_wait: Option<String>,
}

impl<T: Target> Inflight<T> {
    fn new(op: Op, by_fiber: bool) -> Inflight<T> {
        let commits = match op {
            Op::Commit => Commits::Always,
            Op::Put(..) | Op::Delete(_) => Commits::OutsideTransaction,
            _ => Commits::Never,
        };
        Inflight {
            name: op.name(),
            commits,
            core: T::to_engine(op),
            waiting: None,
            by_fiber,
            failed_wait: None,
        }
    }

    /// Checks the completion group the op waited on, now that it finished and before the
    /// engine sees it. A group finishes only when its last member does: a member still
    /// pending is returned as the failure message at once. A group with a failed member
    /// (it failed, or `io` saw a member complete with a fault) obliges the op to end with
    /// an error, noted in `failed_wait`. The only group failure an op may outlive is one
    /// after its own commit ended its transaction: the auto-checkpoint a commit runs
    /// afterwards reports nothing, the commit stands (`Target::transaction_open`).
    fn check_finished_wait(&mut self, conn: &T::Conn, io: &SimIO) -> Option<String> {
        let c = self.waiting.as_ref()?;
        let label = c.label()?;
        if let Some(member) = io.unfinished_member_of(c) {
            return Some(format!(
                "completion group \"{label}\" finished ({:?}) while its member #{} {} {}@{}+{} \
                 was still pending",
                c.result(),
                member.id,
                member.kind.name(),
                member.file,
                member.offset,
                member.len
            ));
        }
        if self.failed_wait.is_some() {
            return None;
        }
        if self.commits != Commits::Never && !T::transaction_open(conn) {
            return None;
        }
        let member = io.failed_member_of(c);
        if c.failed() || member.is_some() {
            let member = member.unwrap_or_else(|| match c.get_error() {
                Some(braid_core::CompletionError::Aborted) => "its members were aborted".into(),
                _ => "a member failed".into(),
            });
            self.failed_wait = Some(format!(
                "completion group \"{label}\" ({member}) finished with {:?}",
                c.result()
            ));
        }
        None
    }
}

impl<T: Target> Fiber<T> {
    pub(crate) fn new(process: u64, conn: T::Conn) -> Fiber<T> {
        Fiber {
            process,
            conn,
            txn: None,
            backing_off: false,
        }
    }

    /// Whether the fiber can take a step now.
    pub(crate) fn runnable(&self, draining: bool) -> bool {
        if self.backing_off {
            return false;
        }
        match &self.txn {
            None => !draining,
            Some(run) => match &run.inflight {
                Some(Inflight {
                    waiting: Some(c), ..
                }) => c.finished(),
                _ => true,
            },
        }
    }

    /// Whether this fiber's connection may hold the write lock (see
    /// `Target::may_hold_write_lock`).
    pub(crate) fn may_hold_write_lock(&self) -> bool {
        T::may_hold_write_lock(&self.conn)
    }

    /// Whether the fiber is inside a transaction program.
    pub(crate) fn busy(&self) -> bool {
        self.txn.is_some()
    }
}
