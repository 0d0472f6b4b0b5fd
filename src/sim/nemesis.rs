//! The nemesis: how the simulation loop turns fault settings into the fate of each I/O it
//! completes and of each unsynced write at a crash. Per-operation and crash-fate draws are
//! in `fault_draws`; group faults (by completion-group label) are decided here. Every draw
//! is skipped when its probability is 0, and draw 0 is always "no fault". `SimIO` counts
//! what it injects.

use std::io::ErrorKind;
use std::sync::{Mutex, MutexGuard};

use super::choices::Choices;
use super::fault_draws::{CrashOdds, IoFault, IoFaultOdds, draw_io_fault};
use super::sim_io::{IoOutcome, OpKind, PendingOp, SimIO, SimIoError};
use crate::config::FaultSettings;
use crate::timeline::IoFate;

/// Chance that an unsynced write vanishes at a crash (when it is not torn): a crash loses
/// a random half of what was never made durable.
const LOST_WRITE_PPM: u32 = 500_000;

pub(crate) fn lock_choices(choices: &Mutex<Choices>) -> MutexGuard<'_, Choices> {
    choices
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The odds of each crash fate.
pub(crate) fn crash_odds(faults: &FaultSettings) -> CrashOdds {
    CrashOdds {
        lose_ppm: LOST_WRITE_PPM,
        tear_ppm: faults.torn_write_ppm,
    }
}

/// Completes `op`, or fails, cancels or holds it back, as drawn from `faults`; returns
/// what it did, for the timeline.
pub(crate) fn complete_io(
    io: &SimIO,
    op: &PendingOp,
    faults: &FaultSettings,
    choices: &mut Choices,
) -> IoFate {
    draw_and_apply(io, op, faults, choices).expect("the op was listed as pending")
}

fn draw_and_apply(
    io: &SimIO,
    op: &PendingOp,
    faults: &FaultSettings,
    choices: &mut Choices,
) -> Result<IoFate, SimIoError> {
    if op
        .group_labels
        .iter()
        .any(|label| faults.targets_group(label))
    {
        if choices.chance(faults.group_fail_ppm) {
            let error = ErrorKind::Other;
            let label = io.fail_group(op.id, error)?;
            return Ok(IoFate::GroupFail {
                label,
                error: error.to_string(),
            });
        }
        if choices.chance(faults.group_cancel_ppm) {
            let (label, aborted) = io.cancel_group(op.id)?;
            return Ok(IoFate::GroupCancel { label, aborted });
        }
    }
    let (error_ppm, short_ppm) = match op.kind {
        OpKind::Read => (faults.read_error_ppm, faults.short_read_ppm),
        OpKind::Write => (faults.write_error_ppm, faults.short_write_ppm),
        OpKind::Sync => (faults.sync_error_ppm, 0),
        OpKind::Truncate => (faults.write_error_ppm, 0),
    };
    let odds = IoFaultOdds {
        error_ppm,
        short_ppm,
        latency_ppm: faults.latency_ppm,
        max_latency_decisions: u64::from(faults.max_latency_decisions),
    };
    match draw_io_fault(choices, op, &odds) {
        IoFault::None => io.complete(op.id, IoOutcome::Ok).map(|()| IoFate::Done),
        IoFault::Error(kind) => io
            .complete(op.id, IoOutcome::Error(kind))
            .map(|()| IoFate::Error(kind.to_string())),
        IoFault::Short(moved) => {
            io.complete(op.id, IoOutcome::Short(moved))
                .map(|()| IoFate::Short {
                    moved: moved as u64,
                })
        }
        IoFault::Hold(delay) => {
            let until = io.now() + delay;
            io.hold(op.id, until).map(|()| IoFate::Held { until })
        }
    }
}
