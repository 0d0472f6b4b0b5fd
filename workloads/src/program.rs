//! The workload interface: a `Workload` hands out one `TxnProgram` per transaction, the
//! simulator's fiber runs it op by op, and the workload checks what the program observed.
//!
//! Contract between a fiber and a program:
//! - The fiber calls `next(None, ..)` first, runs the returned op, then calls
//!   `next(Some(&result), ..)` with that op's result, until the program returns `Done`.
//! - An op that failed with `Busy` is retried by the fiber (a bounded number of times, then
//!   the fiber issues `Rollback` itself); the program never sees `Busy`.
//! - On any other error the fiber ends the transaction without asking the program: the
//!   outcome is `Aborted`, or `InDoubt` when the failed op was `Commit`. So a program only
//!   ever sees successful results, and ops it never got to run simply did not happen.
//! - `Pause` asks the fiber to give up this turn without running an op (a reader holding
//!   its snapshot); the fiber asks again, with `last = None`, the next time it is scheduled.
//! - `Done` ends the transaction: the program has issued `Commit` or `Rollback` itself, or it
//!   ran ops outside an explicit transaction (each op its own implicit transaction).
//! - `finish(outcome)` hands the observations to the workload's `txn_finished`. The outcome
//!   is `Committed` when the last op succeeded and was not `Rollback`.

use braid_oracle::{Mop, Op, OpResult, TxnOutcome};

use crate::draw::Draw;
use crate::violation::Violation;

/// What a program wants its fiber to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Run this op and call back with its result.
    Op(Op),
    /// Run nothing this turn; call back later with `last = None`.
    Pause,
    /// The transaction is over.
    Done,
}

/// One transaction as a state machine over ops.
pub trait TxnProgram: Send {
    /// First call with `None`, then with the result of the op returned last (or `None` after
    /// a `Pause`). Every decision is drawn from `draw`.
    fn next(&mut self, last: Option<&OpResult>, draw: &mut dyn Draw) -> Next;

    /// What the program observed, for the workload's checker.
    fn finish(self: Box<Self>, outcome: TxnOutcome) -> TxnRecord;
}

/// What one finished transaction observed, handed back to the workload that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnRecord {
    /// The connection that ran it.
    pub conn: u64,
    /// Which workload of a `WorkloadMix` made it (0 outside a mix; the mix sets it).
    pub workload: usize,
    pub outcome: TxnOutcome,
    pub observed: Observed,
}

/// Workload-specific observations of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Nothing a checker above the oracle needs (register, churn, scan, checkpoint...).
    Nothing,
    /// A bank audit: every account's balance read in one transaction, all accounts present.
    Audit { balances: Vec<(u64, i64)> },
    /// List-append micro-operations as observed (reads filled in).
    ListAppend { mops: Vec<Mop> },
    /// A counter increment of `amount` (read-modify-write) on the counter of `epoch`.
    Increment { epoch: u64, amount: i64 },
    /// A read of the counter of `epoch`.
    CounterRead { epoch: u64, value: i64 },
    /// The problems an integrity check reported (empty = clean).
    Integrity { problems: Vec<String> },
    /// A read returned bytes the workload never writes in that form (always a violation:
    /// damaged data must end in an error, never in a wrong answer).
    Garbled { detail: String },
}

impl TxnRecord {
    /// A record with nothing to check.
    pub fn nothing(conn: u64, outcome: TxnOutcome) -> TxnRecord {
        TxnRecord {
            conn,
            workload: 0,
            outcome,
            observed: Observed::Nothing,
        }
    }
}

/// A generator of transactions plus the checks on what they observed.
pub trait Workload: Send {
    /// The workload's kind as written in configs (`"bank"`, `"list-append"`, ...).
    fn kind(&self) -> &'static str;

    /// The next transaction program for connection `conn`; every decision drawn from `draw`.
    fn next_txn(&mut self, conn: u64, draw: &mut dyn Draw) -> Box<dyn TxnProgram>;

    /// Called when a program ends, with its record; may check and report a violation.
    /// `step` is the scheduler decision at which the transaction ended.
    /// The default has nothing to check (the sequential oracle judges every read).
    fn txn_finished(&mut self, step: u64, record: TxnRecord) -> Result<(), Violation> {
        let _ = (step, record);
        Ok(())
    }

    /// Called after a crash and recovery. `commits_may_be_lost` is true when acknowledged
    /// commits may not have survived (sync = normal): checks that count on every committed
    /// transaction surviving must start over (for example on fresh keys).
    fn crashed(&mut self, commits_may_be_lost: bool) {
        let _ = commits_may_be_lost;
    }

    /// Programs to run once, one after another on one connection, when the run is quiescent
    /// at its end (for example the final counter read). Their records go to `txn_finished`.
    fn final_programs(&mut self) -> Vec<Box<dyn TxnProgram>> {
        Vec::new()
    }

    /// The last check, after the final programs have finished.
    fn end_check(&mut self, step: u64) -> Result<(), Violation> {
        let _ = step;
        Ok(())
    }
}

/// The value a `Get` returned, from the result the fiber passed back. An error message when
/// the result is not a `Get`'s (a fiber bug, reported as garbled rather than panicking).
pub(crate) fn value_of(last: Option<&OpResult>) -> Result<Option<braid_oracle::Value>, String> {
    match last {
        Some(Ok(braid_oracle::OpOutput::Value(value))) => Ok(value.clone()),
        other => Err(format!(
            "expected the result of a get, got {}",
            show_last(other)
        )),
    }
}

/// The rows a `Scan` returned, as `value_of` does for `Get`.
pub(crate) fn rows_of(
    last: Option<&OpResult>,
) -> Result<Vec<(braid_oracle::Key, braid_oracle::Value)>, String> {
    match last {
        Some(Ok(braid_oracle::OpOutput::Rows(rows))) => Ok(rows.clone()),
        other => Err(format!(
            "expected the result of a scan, got {}",
            show_last(other)
        )),
    }
}

/// A result handed back to a program, for messages.
fn show_last(last: Option<&OpResult>) -> String {
    last.map_or_else(
        || "no result".to_string(),
        braid_oracle::violation::show_result,
    )
}
