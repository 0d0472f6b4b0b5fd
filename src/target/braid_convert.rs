//! Translation between braid-core's types and the oracle's vocabulary. The oracle never
//! depends on the engine, so the target adapter is where the two meet.

use braid_core::{CheckpointMode as CoreCheckpoint, Error, Op as CoreOp, Output, TxMode as CoreTx};
use braid_oracle::{CheckpointMode, Op, OpError, OpOutput, TxMode};

/// The engine's op for a workload's op, copying its keys and values.
pub fn to_core(op: &Op) -> CoreOp {
    into_core(op.clone())
}

/// The engine's op for a workload's op, taking its keys and values instead of copying them
/// (a fiber converts every op it runs, and back with `from_core` when it finishes).
pub fn into_core(op: Op) -> CoreOp {
    match op {
        Op::Begin(TxMode::Deferred) => CoreOp::Begin(CoreTx::Deferred),
        Op::Begin(TxMode::Immediate) => CoreOp::Begin(CoreTx::Immediate),
        Op::Get(key) => CoreOp::Get(key),
        Op::Put(key, value) => CoreOp::Put(key, value),
        Op::Delete(key) => CoreOp::Delete(key),
        Op::Scan { start, end, limit } => CoreOp::Scan { start, end, limit },
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

/// The workload's op an engine op came from: the inverse of `into_core`.
pub fn from_core(op: CoreOp) -> Op {
    match op {
        CoreOp::Begin(CoreTx::Deferred) => Op::Begin(TxMode::Deferred),
        CoreOp::Begin(CoreTx::Immediate) => Op::Begin(TxMode::Immediate),
        CoreOp::Get(key) => Op::Get(key),
        CoreOp::Put(key, value) => Op::Put(key, value),
        CoreOp::Delete(key) => Op::Delete(key),
        CoreOp::Scan { start, end, limit } => Op::Scan { start, end, limit },
        CoreOp::Commit => Op::Commit,
        CoreOp::Rollback => Op::Rollback,
        CoreOp::Checkpoint(mode) => Op::Checkpoint(match mode {
            CoreCheckpoint::Passive => CheckpointMode::Passive,
            CoreCheckpoint::Full => CheckpointMode::Full,
            CoreCheckpoint::Restart => CheckpointMode::Restart,
            CoreCheckpoint::Truncate => CheckpointMode::Truncate,
        }),
        CoreOp::IntegrityCheck => Op::IntegrityCheck,
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
        Error::Corrupt(corruption) => OpError::Corrupt(corruption.to_string()),
        Error::Poisoned => OpError::Poisoned,
        Error::NoTransaction
        | Error::TransactionActive
        | Error::KeyTooLarge { .. }
        | Error::ValueTooLarge { .. }
        | Error::Misuse(_) => OpError::Refused(err.to_string()),
        Error::InvalidOptions(_) | Error::Internal(_) => OpError::Refused(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_converts_to_the_engine_and_back_unchanged() {
        let ops = vec![
            Op::Begin(TxMode::Deferred),
            Op::Begin(TxMode::Immediate),
            Op::Get(b"k".to_vec()),
            Op::Put(b"k".to_vec(), b"v".to_vec()),
            Op::Delete(b"d".to_vec()),
            Op::Scan {
                start: b"a".to_vec(),
                end: Some(b"z".to_vec()),
                limit: 7,
            },
            Op::Scan {
                start: vec![],
                end: None,
                limit: usize::MAX,
            },
            Op::Commit,
            Op::Rollback,
            Op::Checkpoint(CheckpointMode::Passive),
            Op::Checkpoint(CheckpointMode::Full),
            Op::Checkpoint(CheckpointMode::Restart),
            Op::Checkpoint(CheckpointMode::Truncate),
            Op::IntegrityCheck,
        ];
        for op in ops {
            let core = into_core(op.clone());
            assert_eq!(core, to_core(&op), "moving and copying agree on {op:?}");
            assert_eq!(from_core(core), op);
        }
    }
}
