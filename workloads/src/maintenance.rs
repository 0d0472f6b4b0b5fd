//! `checkpoint` and `integrity`: maintenance ops run outside any transaction. `checkpoint`
//! runs each checkpoint mode (draw 0 gives the gentlest, `Passive`); `integrity` runs the
//! engine's integrity check, and any problem it reports is a violation.

use braid_oracle::{CheckpointMode, Op, OpOutput, OpResult, TxnOutcome};

use crate::draw::Draw;
use crate::params::WorkloadParams;
use crate::program::{Next, Observed, TxnProgram, TxnRecord, Workload};
use crate::script::Script;
use crate::violation::{Violation, ViolationKind};

/// Checkpoint modes in order of how much they do; draw 0 picks the first.
const MODES: [CheckpointMode; 4] = [
    CheckpointMode::Passive,
    CheckpointMode::Full,
    CheckpointMode::Restart,
    CheckpointMode::Truncate,
];

/// The checkpoint workload: one checkpoint per transaction, in a drawn mode.
#[derive(Debug)]
pub struct Checkpoint {
    _params: WorkloadParams,
}

impl Checkpoint {
    /// A checkpoint workload (it uses no parameter).
    pub fn new(params: WorkloadParams) -> Checkpoint {
        Checkpoint { _params: params }
    }
}

impl Workload for Checkpoint {
    fn kind(&self) -> &'static str {
        "checkpoint"
    }

    fn next_txn(&mut self, conn: u64, draw: &mut dyn Draw) -> Box<dyn TxnProgram> {
        let mode = MODES[usize::try_from(draw.draw(MODES.len() as u64)).expect("below 4")];
        Box::new(Script::new(conn, vec![Op::Checkpoint(mode)]))
    }
}

/// The integrity workload: one integrity check per transaction.
#[derive(Debug)]
pub struct Integrity {
    _params: WorkloadParams,
}

impl Integrity {
    /// An integrity workload (it uses no parameter).
    pub fn new(params: WorkloadParams) -> Integrity {
        Integrity { _params: params }
    }
}

impl Workload for Integrity {
    fn kind(&self) -> &'static str {
        "integrity"
    }

    fn next_txn(&mut self, conn: u64, _draw: &mut dyn Draw) -> Box<dyn TxnProgram> {
        Box::new(IntegrityProgram {
            conn,
            issued: false,
            problems: Vec::new(),
        })
    }

    fn txn_finished(&mut self, step: u64, record: TxnRecord) -> Result<(), Violation> {
        match record.observed {
            Observed::Integrity { problems } if !problems.is_empty() => {
                let violation = Violation::new(
                    ViolationKind::Integrity,
                    step,
                    "no integrity problem",
                    problems.join("; "),
                );
                Err(violation.conn(record.conn).op("integrity check"))
            }
            _ => Ok(()),
        }
    }

    fn final_programs(&mut self) -> Vec<Box<dyn TxnProgram>> {
        vec![Box::new(IntegrityProgram {
            conn: 0,
            issued: false,
            problems: Vec::new(),
        })]
    }
}

/// Runs `IntegrityCheck` and keeps what it reported.
#[derive(Debug)]
struct IntegrityProgram {
    conn: u64,
    issued: bool,
    problems: Vec<String>,
}

impl TxnProgram for IntegrityProgram {
    fn next(&mut self, last: Option<&OpResult>, _draw: &mut dyn Draw) -> Next {
        if !self.issued {
            self.issued = true;
            return Next::Op(Op::IntegrityCheck);
        }
        if let Some(Ok(OpOutput::Integrity(problems))) = last {
            self.problems = problems.clone();
        }
        Next::Done
    }

    fn finish(self: Box<Self>, outcome: TxnOutcome) -> TxnRecord {
        let observed = Observed::Integrity {
            problems: self.problems,
        };
        TxnRecord {
            conn: self.conn,
            workload: 0,
            outcome,
            observed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{SeededDraw, ZeroDraw};

    #[test]
    fn checkpoint_runs_every_mode_and_draw_zero_is_passive() {
        let mut workload = Checkpoint::new(WorkloadParams::for_kind("checkpoint").expect("kind"));
        let mut first = workload.next_txn(0, &mut ZeroDraw);
        assert_eq!(
            first.next(None, &mut ZeroDraw),
            Next::Op(Op::Checkpoint(CheckpointMode::Passive))
        );
        let mut seen = std::collections::BTreeSet::new();
        let mut draw = SeededDraw::new(1);
        for _ in 0..64 {
            let mut program = workload.next_txn(0, &mut draw);
            if let Next::Op(Op::Checkpoint(mode)) = program.next(None, &mut draw) {
                seen.insert(format!("{mode:?}"));
            }
            let ok = Ok(OpOutput::Checkpointed {
                backfilled_frames: 0,
                wal_reset: false,
            });
            assert_eq!(program.next(Some(&ok), &mut draw), Next::Done);
        }
        assert_eq!(seen.len(), 4, "modes seen: {seen:?}");
    }

    fn run_integrity(output: OpOutput) -> Result<(), Violation> {
        let mut workload = Integrity::new(WorkloadParams::for_kind("integrity").expect("kind"));
        let mut program = workload.next_txn(3, &mut ZeroDraw);
        assert_eq!(
            program.next(None, &mut ZeroDraw),
            Next::Op(Op::IntegrityCheck)
        );
        assert_eq!(program.next(Some(&Ok(output)), &mut ZeroDraw), Next::Done);
        workload.txn_finished(9, program.finish(TxnOutcome::Committed))
    }

    #[test]
    fn a_clean_integrity_report_passes() {
        assert!(run_integrity(OpOutput::Integrity(Vec::new())).is_ok());
    }

    #[test]
    fn a_non_empty_integrity_report_is_a_violation() {
        let problems = vec!["page 7: keys out of order".to_string()];
        let violation = run_integrity(OpOutput::Integrity(problems)).expect_err("must fail");
        assert!(
            violation.to_string().contains("keys out of order"),
            "{violation}"
        );
    }
}
