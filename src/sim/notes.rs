//! How the simulator's own records become timeline events (`crate::timeline`): an I/O the
//! scheduler chose and what the nemesis did with it, and what a crash did to each
//! operation that was not durable.

use super::sim_io::{PendingOp, UnsyncedKind, UnsyncedWrite, WriteFate};
use crate::timeline::{CrashFate, IoEvent, IoFate, Loss};

/// The timeline's record of completing (or holding back) `op` with `fate`.
pub(crate) fn io_event(op: PendingOp, fate: IoFate) -> IoEvent {
    IoEvent {
        id: op.id,
        kind: op.kind.name(),
        file: op.file,
        offset: op.offset,
        len: op.len,
        groups: op.group_labels,
        submitted_at: op.submitted_at,
        fate,
    }
}

/// The timeline's record of what a crash did to `write` (`fate` as drawn).
pub(crate) fn crash_fate(write: &UnsyncedWrite, fate: &WriteFate) -> CrashFate {
    let of = write.sector_count();
    let loss = match fate {
        WriteFate::Survive => Loss::Survived,
        WriteFate::Vanish => Loss::Lost,
        WriteFate::TornPrefix(n) => Loss::Torn {
            kept: (0..(*n).min(of)).collect(),
            of,
        },
        WriteFate::TornSectors(keep) => Loss::Torn {
            kept: (0..of).filter(|&i| keep.get(i) == Some(&true)).collect(),
            of,
        },
    };
    CrashFate {
        id: write.op_id,
        kind: match write.kind {
            UnsyncedKind::Write => "write",
            UnsyncedKind::Truncate => "truncate",
        },
        file: write.file.clone(),
        offset: write.offset,
        len: write.len,
        completed: write.completed,
        loss,
    }
}

/// The timeline's record of a pending read or sync that a crash dropped.
pub(crate) fn dropped_fate(op: &PendingOp) -> CrashFate {
    CrashFate {
        id: op.id,
        kind: op.kind.name(),
        file: op.file.clone(),
        offset: op.offset,
        len: op.len,
        completed: false,
        loss: Loss::Dropped,
    }
}
