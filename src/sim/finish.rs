//! The end of a run: the fibers drain (no new transactions, no faults), then the
//! workloads' final programs run on a connection of their own and their end checks judge
//! the whole run, and a last integrity check looks at the database.

use braid_core::IO;
use braid_oracle::violation::{show_op, show_result};
use braid_oracle::{Op, OpOutput, OpResult, ViolationKind};
use braid_workloads::Workload;

use super::nemesis::lock_choices;
use super::outcome::{Failure, FailureKind};
use super::simulation::{Phase, Simulation};
use crate::target::{Target, run_blocking};
use crate::timeline::{Answer, ConnId, What};

impl<T: Target> Simulation<T> {
    /// Ends the run: no new transactions, no faults; fibers finish what they started. A
    /// database left poisoned (by a failed fsync nobody has tripped over yet) is
    /// restarted the way a crash restarts it, so the final checks judge a reopened
    /// database, as the engine's contract says a poisoned one must be.
    pub(crate) fn drain(&mut self) {
        self.draining = true;
        let limit = self.step + self.settings.liveness.stuck_decisions.max(1) * 4;
        while self.failure.is_none() && !self.bit_flips.detected {
            let idle = match &self.phase {
                Phase::Running { db } => {
                    self.fibers.iter().all(|f| !f.busy()) && self.io.pending() == 0 && {
                        if T::is_poisoned(db) {
                            self.restart_requested = true;
                        }
                        !self.restart_requested
                    }
                }
                Phase::Recovering { .. } | Phase::Down => false,
            };
            if idle {
                return;
            }
            if self.step >= limit {
                self.fail(
                    FailureKind::Stuck,
                    "the run could not drain: transactions never finished",
                );
                return;
            }
            self.decide();
        }
    }

    /// The workloads' final programs and end checks, and a last integrity check.
    pub(crate) fn finish_checks(&mut self) {
        let Phase::Running { db } = &self.phase else {
            self.fail(
                FailureKind::Stuck,
                "the run ended while the database was still recovering",
            );
            return;
        };
        let conn = T::connect(db);
        self.next_process += 1;
        let process = self.next_process;
        let programs = self.workloads.final_programs();
        for program in programs {
            if let Err(failure) = self.run_final_program(process, &conn, program) {
                self.failure = Some(failure);
                return;
            }
            if self.bit_flips.detected {
                // A final read ran into an injected bit flip and the engine reported it:
                // the run ends there, passing, and nothing judges the flip again.
                return;
            }
        }
        if let Err(v) = self.workloads.end_check(self.step) {
            self.blame_on(&v);
            self.fail(v.kind, &v.to_string());
            return;
        }
        let check = T::to_engine(Op::IntegrityCheck);
        let problems = match run_blocking::<T>(&self.io, &conn, &check) {
            Ok(OpOutput::Integrity(problems)) if problems.is_empty() => return,
            Ok(OpOutput::Integrity(problems)) => problems,
            other => {
                let message = format!("final integrity check: {}", show_result(&other));
                self.fail(ViolationKind::Integrity, &message);
                return;
            }
        };
        if self.bit_flips.injected > 0 {
            self.note(|| {
                What::Note(format!(
                    "corruption detected as expected after a bit flip: final integrity \
                     check: {}",
                    problems.join("; ")
                ))
            });
            self.bit_flips.detected = true;
            return;
        }
        self.fail(
            ViolationKind::Integrity,
            &format!(
                "final integrity check: expected no problem, got {}",
                problems.join("; ")
            ),
        );
    }

    fn run_final_program(
        &mut self,
        process: u64,
        conn: &T::Conn,
        mut program: Box<dyn braid_workloads::TxnProgram>,
    ) -> Result<(), Failure> {
        let started_step = self.step;
        let conn_id = ConnId {
            slot: None,
            process,
        };
        self.note(|| What::TxnBegin { conn: conn_id });
        let mut last: Option<OpResult> = None;
        let mut outcome = braid_oracle::TxnOutcome::Committed;
        loop {
            let next = {
                let mut choices = lock_choices(&self.choices);
                program.next(last.as_ref(), &mut *choices)
            };
            let op = match next {
                braid_workloads::Next::Op(op) => op,
                braid_workloads::Next::Pause => continue,
                braid_workloads::Next::Done => break,
            };
            self.invoke(process, &op);
            self.note(|| What::Invoke {
                conn: conn_id,
                op: show_op(&op),
            });
            let engine_op = T::to_engine(op.clone());
            let result: OpResult = run_blocking::<T>(&self.io, conn, &engine_op);
            self.note(|| What::Complete {
                conn: conn_id,
                op: op.name(),
                result: show_result(&result),
                answer: Answer::of(&result),
            });
            let claims = T::claims(conn);
            self.judge(process, &op, &result, claims, false)?;
            if result.is_err() {
                outcome = braid_oracle::TxnOutcome::Aborted;
                break;
            }
            if op == Op::Rollback {
                outcome = braid_oracle::TxnOutcome::Aborted;
            }
            last = Some(result);
        }
        if self.bit_flips.detected {
            return Ok(());
        }
        self.note(|| What::TxnEnd {
            conn: conn_id,
            outcome,
        });
        let record = program.finish(outcome);
        self.record_txn_form(started_step, &record);
        match self.workloads.txn_finished(self.step, record) {
            Err(v) if self.corruption_explains(&v) => Ok(()),
            Err(v) => Err(self.violated(&v)),
            Ok(()) => Ok(()),
        }
    }
}
