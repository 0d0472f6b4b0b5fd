//! Translation between the engine's types and the oracle's vocabulary. The oracle never
//! depends on the engine, so the simulator is where the two meet.

use braid_core::{CheckpointMode as CoreCheckpoint, Error, Op as CoreOp, Output, TxMode as CoreTx};
use braid_oracle::{CheckpointMode, Op, OpError, OpOutput, TxMode};

/// The engine's op for a workload's op.
pub fn to_core(op: &Op) -> CoreOp {
    match op {
        Op::Begin(TxMode::Deferred) => CoreOp::Begin(CoreTx::Deferred),
        Op::Begin(TxMode::Immediate) => CoreOp::Begin(CoreTx::Immediate),
        Op::Get(key) => CoreOp::Get(key.clone()),
        Op::Put(key, value) => CoreOp::Put(key.clone(), value.clone()),
        Op::Delete(key) => CoreOp::Delete(key.clone()),
        Op::Scan { start, end, limit } => CoreOp::Scan {
            start: start.clone(),
            end: end.clone(),
            limit: *limit,
        },
        Op::Commit => CoreOp::Commit,
        Op::Rollback => CoreOp::Rollback,
        Op::Checkpoint(mode) => CoreOp::Checkpoint(match mode {
            CheckpointMode::Passive => CoreCheckpoint::Passive,
            CheckpointMode::Full => CoreCheckpoint::Full,
            CheckpointMode::Restart => CoreCheckpoint::Restart,
            CheckpointMode::Truncate => CoreCheckpoint::Truncate,
        }),
        Op::IntegrityCheck => CoreOp::IntegrityCheck,
    }
}

/// The oracle's view of an engine output.
pub fn output(out: Output) -> OpOutput {
    match out {
        Output::Done => OpOutput::Done,
        Output::Value(value) => OpOutput::Value(value),
        Output::Rows(rows) => OpOutput::Rows(rows),
        Output::Committed { seq } => OpOutput::Committed { seq },
        Output::Checkpointed(outcome) => OpOutput::Checkpointed {
            backfilled_frames: u64::from(outcome.backfilled_frames),
            wal_reset: outcome.wal_reset,
        },
        Output::Integrity(problems) => OpOutput::Integrity(problems),
    }
}

/// The oracle's view of an engine error.
pub fn error(err: &Error) -> OpError {
    match err {
        Error::Busy => OpError::Busy,
        Error::BusySnapshot => OpError::BusySnapshot,
        Error::Io { .. } | Error::Completion(_) => OpError::Io(err.to_string()),
        Error::Corrupt(msg) => OpError::Corrupt(msg.clone()),
        Error::Poisoned => OpError::Poisoned,
        Error::NoTransaction
        | Error::TransactionActive
        | Error::KeyTooLarge { .. }
        | Error::ValueTooLarge { .. }
        | Error::Misuse(_) => OpError::Refused(err.to_string()),
        Error::InvalidOptions(_) | Error::Internal(_) => OpError::Refused(err.to_string()),
    }
}

/// Whether `err` can only come from a bug: workloads issue well-formed ops within limits,
/// so a refusal or an internal error means the engine lost track of its state.
pub fn is_engine_bug(err: &Error) -> bool {
    matches!(error(err), OpError::Refused(_))
}
