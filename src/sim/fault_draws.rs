//! How the simulation loop draws faults from `Choices`, encoded so that 0 is no fault.
//!
//! - `draw_io_fault`, once per I/O completion: an error, else a short transfer, else
//!   latency, each with its own chance in parts per million. A chance of 0 draws nothing.
//!   A short transfer moves `len - 1 - draw` bytes (draw 0 = one byte short); latency holds
//!   the operation `1 + draw` decisions.
//! - `draw_write_fate`, once per unsynced write at a crash: vanish with `lose_ppm`, else
//!   tear with `tear_ppm`, else survive. A tear is a prefix (draw 0) or a subset (draw 1)
//!   of its sector pieces; a prefix keeps `count - 1 - draw` pieces (draw 0 = only the last
//!   piece lost), a subset draws each piece (draw 0 = kept).

use std::io::ErrorKind;

use super::choices::Choices;
use super::sim_io::{OpKind, PendingOp, UnsyncedKind, UnsyncedWrite, WriteFate};

/// Chances of the per-operation faults, in parts per million.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoFaultOdds {
    /// The operation fails (`IoOutcome::Error`).
    pub error_ppm: u32,
    /// A read or write moves fewer bytes than asked.
    pub short_ppm: u32,
    /// The operation is held back.
    pub latency_ppm: u32,
    /// Longest hold, in decisions (at least 1 when `latency_ppm` > 0).
    pub max_latency_decisions: u64,
}

/// What to do with one I/O the scheduler chose to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoFault {
    /// Complete it as asked.
    None,
    /// Complete it with this error.
    Error(ErrorKind),
    /// Complete a read or write moving only this many bytes.
    Short(usize),
    /// Do not complete it yet: hold it this many decisions (`SimIO::hold`).
    Hold(u64),
}

/// Draws the fault, if any, for completing `op`. Draws sit in a span labelled "io-fault".
pub fn draw_io_fault(choices: &mut Choices, op: &PendingOp, odds: &IoFaultOdds) -> IoFault {
    choices.begin_span("io-fault");
    let fault = if choices.chance(odds.error_ppm) {
        IoFault::Error(ErrorKind::Other)
    } else if matches!(op.kind, OpKind::Read | OpKind::Write)
        && op.len > 0
        && choices.chance(odds.short_ppm)
    {
        let moved = op.len - 1 - choices.draw(op.len);
        IoFault::Short(usize::try_from(moved).expect("an I/O length fits in usize"))
    } else if choices.chance(odds.latency_ppm) {
        IoFault::Hold(1 + choices.draw(odds.max_latency_decisions.max(1)))
    } else {
        IoFault::None
    };
    choices.end_span();
    fault
}

/// Chances of what a crash does to one unsynced write, in parts per million.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrashOdds {
    /// The write is lost whole.
    pub lose_ppm: u32,
    /// The write is torn (only for writes spanning more than one sector piece).
    pub tear_ppm: u32,
}

/// Draws the fate of one unsynced write at a crash. Draws sit in a span labelled "crash-fate".
pub fn draw_write_fate(
    choices: &mut Choices,
    write: &UnsyncedWrite,
    odds: &CrashOdds,
) -> WriteFate {
    choices.begin_span("crash-fate");
    let pieces = write.sector_count();
    let fate = if choices.chance(odds.lose_ppm) {
        WriteFate::Vanish
    } else if write.kind == UnsyncedKind::Write && pieces > 1 && choices.chance(odds.tear_ppm) {
        if choices.draw(2) == 0 {
            WriteFate::TornPrefix(pieces - 1 - choices.draw_index(pieces))
        } else {
            WriteFate::TornSectors((0..pieces).map(|_| choices.draw(2) == 0).collect())
        }
    } else {
        WriteFate::Survive
    };
    choices.end_span();
    fate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, len: u64) -> PendingOp {
        PendingOp {
            id: 0,
            kind,
            file: "db".into(),
            offset: 0,
            len,
            group_labels: Vec::new(),
            submitted_at: 0,
            ready_at: 0,
        }
    }

    fn unsynced(len: u64) -> UnsyncedWrite {
        UnsyncedWrite {
            op_id: 0,
            file: "db".into(),
            kind: UnsyncedKind::Write,
            offset: 0,
            len,
            completed: true,
        }
    }

    #[test]
    fn zeros_mean_no_fault_and_disabled_faults_draw_nothing() {
        let odds = IoFaultOdds {
            error_ppm: 10,
            short_ppm: 10,
            latency_ppm: 10,
            max_latency_decisions: 5,
        };
        let mut zeros = Choices::replaying(Vec::new());
        assert_eq!(
            draw_io_fault(&mut zeros, &op(OpKind::Write, 8), &odds),
            IoFault::None
        );
        let crash = CrashOdds {
            lose_ppm: 10,
            tear_ppm: 10,
        };
        assert_eq!(
            draw_write_fate(&mut zeros, &unsynced(4096), &crash),
            WriteFate::Survive
        );
        let mut choices = Choices::recording(1);
        let none = IoFaultOdds::default();
        assert_eq!(
            draw_io_fault(&mut choices, &op(OpKind::Read, 8), &none),
            IoFault::None
        );
        assert_eq!(
            draw_write_fate(&mut choices, &unsynced(4096), &CrashOdds::default()),
            WriteFate::Survive
        );
        assert_eq!(choices.position(), 0);
    }

    #[test]
    fn faults_decode_from_their_draws() {
        let odds = IoFaultOdds {
            error_ppm: 1,
            short_ppm: 1,
            latency_ppm: 1,
            max_latency_decisions: 5,
        };
        let top = 999_999;
        let mut error = Choices::replaying(vec![top]);
        assert_eq!(
            draw_io_fault(&mut error, &op(OpKind::Sync, 0), &odds),
            IoFault::Error(ErrorKind::Other)
        );
        let mut short = Choices::replaying(vec![0, top, 2]);
        assert_eq!(
            draw_io_fault(&mut short, &op(OpKind::Read, 8), &odds),
            IoFault::Short(5)
        );
        let mut hold = Choices::replaying(vec![0, 0, top, 4]);
        assert_eq!(
            draw_io_fault(&mut hold, &op(OpKind::Write, 8), &odds),
            IoFault::Hold(5)
        );
        // A sync cannot be short: the short chance is not drawn for it.
        let mut sync_hold = Choices::replaying(vec![0, top, 0]);
        assert_eq!(
            draw_io_fault(&mut sync_hold, &op(OpKind::Sync, 0), &odds),
            IoFault::Hold(1)
        );

        let crash = CrashOdds {
            lose_ppm: 1,
            tear_ppm: 1,
        };
        let mut lost = Choices::replaying(vec![top]);
        assert_eq!(
            draw_write_fate(&mut lost, &unsynced(4096), &crash),
            WriteFate::Vanish
        );
        let mut prefix = Choices::replaying(vec![0, top, 0, 0]);
        assert_eq!(
            draw_write_fate(&mut prefix, &unsynced(4096), &crash),
            WriteFate::TornPrefix(7)
        );
        let mut subset = Choices::replaying(vec![0, top, 1, 1, 0]);
        assert_eq!(
            draw_write_fate(&mut subset, &unsynced(1024), &crash),
            WriteFate::TornSectors(vec![false, true])
        );
        let mut single = Choices::replaying(vec![0, top]);
        assert_eq!(
            draw_write_fate(&mut single, &unsynced(100), &crash),
            WriteFate::Survive,
            "one piece cannot tear"
        );
    }
}
