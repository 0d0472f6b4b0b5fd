//! How the loop steps a fiber: invoke its next op, re-enter it until it finishes, report the
//! result to the oracle and the workload, end transactions, and what a crash does to fibers
//! in flight. The fiber's own state is in fiber/mod.rs.

use braid_oracle::violation::{show_op, show_result};
use braid_oracle::{ElleTxn, Op, OpError, OpResult, TxnOutcome};
use braid_workloads::{Next, Observed, TxnRecord, Workload};

use super::{Action, Commits, Fiber, Inflight, TxnRun};
use crate::sim::nemesis::lock_choices;
use crate::sim::outcome::{Failure, FailureKind};
use crate::sim::simulation::Simulation;
use crate::sim::structure::Owner;
use crate::target::{Step, Target};
use crate::timeline::{Answer, ConnId, What};

impl<T: Target> Simulation<T> {
    /// One step of fiber `index`: start a transaction, or start or continue one op.
    pub(crate) fn step_connection(&mut self, index: usize) {
        let Some(mut run) = self.fibers[index].txn.take() else {
            if !self.draining {
                self.start_txn(index);
            }
            return;
        };
        self.note_owner(Owner::Txn {
            fiber: index,
            txn: run.number,
        });
        if run.inflight.is_none() {
            match self.next_action(index, &mut run) {
                Action::Run(inflight) => run.inflight = Some(inflight),
                Action::Pause => {
                    self.fibers[index].txn = Some(run);
                    return;
                }
                Action::Done(outcome) => {
                    self.end_txn(index, *run, outcome, None);
                    return;
                }
            }
        }
        let inflight = run.inflight.as_mut().expect("an op is in flight");
        if let Some(early) = inflight.check_finished_wait(&self.fibers[index].conn, &self.io) {
            let process = self.fibers[index].process;
            self.fail(
                FailureKind::GroupFinishedEarly,
                &format!("conn {process}: {}: {early}", inflight.name),
            );
            return;
        }
        match T::execute(&self.fibers[index].conn, &inflight.core) {
            Step::Wait(waiting) => {
                inflight.waiting = Some(waiting);
                self.fibers[index].txn = Some(run);
            }
            Step::Done(output) => self.op_finished(index, run, Ok(output)),
            Step::Failed(err) => self.op_finished(index, run, Err(err)),
        }
    }

    fn start_txn(&mut self, index: usize) {
        let process = self.fibers[index].process;
        let program = {
            let mut choices = lock_choices(&self.choices);
            choices.begin_span("txn-start");
            let program = self.workloads.next_txn(process, &mut *choices);
            choices.end_span();
            program
        };
        let number = self.txns_started;
        self.txns_started += 1;
        self.note_owner(Owner::Txn {
            fiber: index,
            txn: number,
        });
        self.fibers[index].txn = Some(Box::new(TxnRun {
            program,
            number,
            started_step: self.step,
            ops: 0,
            last: None,
            inflight: None,
            busy_retries: 0,
            giving_up: false,
            committed: false,
            rolled_back: false,
        }));
        let conn = self.conn_id(index);
        self.note(|| What::TxnBegin { conn });
    }

    /// Asks the program (or the fiber's own retry logic) what to do next; invokes an op.
    fn next_action(&mut self, index: usize, run: &mut TxnRun<T>) -> Action<T> {
        let process = self.fibers[index].process;
        let (op, by_fiber) = loop {
            if run.giving_up || (self.draining && self.should_wrap_up(index, run)) {
                break (Op::Rollback, true);
            }
            let next = {
                let mut choices = lock_choices(&self.choices);
                choices.begin_span("program");
                let next = run.program.next(run.last.take().as_ref(), &mut *choices);
                choices.end_span();
                next
            };
            match next {
                Next::Op(op) => break (op, false),
                // A draining run does not wait: the program is asked again at once.
                Next::Pause if self.draining => continue,
                Next::Pause => return Action::Pause,
                Next::Done => {
                    // Committed when the last op succeeded and was not a rollback (implicit
                    // ops commit by themselves).
                    let ok = run.committed || (run.ops > 0 && !run.rolled_back);
                    return Action::Done(if ok {
                        TxnOutcome::Committed
                    } else {
                        TxnOutcome::Aborted
                    });
                }
            }
        };
        self.invoke(process, &op);
        let conn = self.conn_id(index);
        self.note(|| What::Invoke {
            conn,
            op: show_op(&op),
        });
        Action::Run(Inflight::new(op, by_fiber))
    }

    /// While draining, a fiber inside an explicit transaction rolls back instead of going on.
    fn should_wrap_up(&self, index: usize, run: &TxnRun<T>) -> bool {
        !run.committed && T::in_transaction(&self.fibers[index].conn)
    }

    /// Judges a finished op and moves the transaction on.
    fn op_finished(&mut self, index: usize, mut run: Box<TxnRun<T>>, result: OpResult) {
        let process = self.fibers[index].process;
        let Inflight {
            core,
            by_fiber,
            failed_wait,
            ..
        } = run.inflight.take().expect("an op was in flight");
        let op = T::from_engine(core);
        if let (Some(failed), Ok(output)) = (&failed_wait, &result) {
            // Judged before the oracle: the data may even look right, the lost error is
            // the bug (an engine must never report success over a failed write or sync).
            self.fail(
                FailureKind::LostIoError,
                &format!(
                    "conn {}: {} waited on I/O that failed ({failed}) and still returned {}",
                    self.fibers[index].process,
                    op.name(),
                    show_result(&Ok(output.clone()))
                ),
            );
            return;
        }
        self.stats.operations += 1;
        self.hash_result(process, &op, &result);
        let conn = self.conn_id(index);
        self.note(|| What::Complete {
            conn,
            op: op.name(),
            result: show_result(&result),
            answer: Answer::of(&result),
        });
        let claims = T::claims(&self.fibers[index].conn);
        let indeterminate = match &result {
            Err(err) if !matches!(err, OpError::Busy | OpError::BusySnapshot) => {
                in_doubt_or_aborted(&op) == TxnOutcome::InDoubt
            }
            _ => false,
        };
        if let Err(failure) = self.judge(process, &op, &result, claims, indeterminate) {
            self.fail_with(failure);
            return;
        }
        if indeterminate {
            // An :info outcome ends the process (Jepsen's rule): the connection goes on as a
            // new process.
            self.next_process += 1;
            self.fibers[index].process = self.next_process;
        }
        let err = match result {
            Ok(output) => {
                self.liveness.op_completed(self.step);
                run.ops += 1;
                run.busy_retries = 0;
                // Progress for writers: a commit that published something.
                if claims.commit_seq.is_some_and(|seq| seq > 0) {
                    self.liveness.lock_moved(self.step);
                }
                if matches!(op, Op::Commit) {
                    run.committed = true;
                }
                if matches!(op, Op::Rollback) {
                    run.rolled_back = true;
                }
                if by_fiber {
                    self.end_txn(index, *run, TxnOutcome::Aborted, Some("busy"));
                    return;
                }
                run.last = Some(Ok(output));
                self.fibers[index].txn = Some(run);
                return;
            }
            Err(err) => err,
        };
        match err {
            OpError::Busy => {
                self.stats.busy_retries += 1;
                self.liveness.busy();
                run.busy_retries += 1;
                if run.busy_retries > self.settings.liveness.busy_retries {
                    if T::in_transaction(&self.fibers[index].conn) {
                        run.giving_up = true;
                        self.fibers[index].txn = Some(run);
                    } else {
                        self.end_txn(index, *run, TxnOutcome::Aborted, Some("busy"));
                    }
                    return;
                }
                // Retry the same op after backing off (a fresh invoke).
                self.fibers[index].backing_off = true;
                self.invoke(process, &op);
                run.inflight = Some(Inflight::new(op, by_fiber));
                self.fibers[index].txn = Some(run);
            }
            OpError::BusySnapshot => {
                self.end_txn(index, *run, TxnOutcome::Aborted, Some("busy-snapshot"))
            }
            OpError::Poisoned => {
                let outcome = in_doubt_or_aborted(&op);
                self.end_txn(index, *run, outcome, Some("poisoned"));
                self.restart_requested = true;
            }
            OpError::Corrupt(msg) => {
                if self.bit_flips.injected > 0 {
                    self.bit_flips.detected = true;
                    self.note(|| {
                        What::Note(format!(
                            "corruption detected as expected after a bit flip: {msg}"
                        ))
                    });
                } else {
                    let message = format!(
                        "conn {process}: {} failed with Corrupt ({msg}) although no bit was \
                         flipped",
                        op.name()
                    );
                    self.fail(FailureKind::Corrupt, &message);
                }
            }
            OpError::Io(_) => {
                let outcome = in_doubt_or_aborted(&op);
                if T::is_poisoned(T::database(&self.fibers[index].conn)) {
                    self.restart_requested = true;
                }
                self.end_txn(index, *run, outcome, Some("io"));
            }
            OpError::Refused(message) => {
                self.fail(
                    FailureKind::EngineError,
                    &format!("conn {process}: {} was refused: {message}", op.name()),
                );
            }
        }
    }

    /// Ends a transaction: hands the program's observations to its workload for checking.
    fn end_txn(
        &mut self,
        index: usize,
        run: TxnRun<T>,
        outcome: TxnOutcome,
        abort_reason: Option<&str>,
    ) {
        for fiber in &mut self.fibers {
            fiber.backing_off = false;
        }
        self.stats.transactions += 1;
        self.stats
            .txn_latency_decisions
            .push(self.step - run.started_step);
        self.stats.txn_ops.push(run.ops);
        match outcome {
            TxnOutcome::Committed => self.stats.commits += 1,
            TxnOutcome::Aborted => self.stats.abort(abort_reason.unwrap_or("rollback")),
            TxnOutcome::InDoubt => self.stats.abort("in-doubt"),
        }
        let conn = self.conn_id(index);
        self.note(|| What::TxnEnd { conn, outcome });
        let record = run.program.finish(outcome);
        self.record_txn_form(run.started_step, &record);
        if let Err(v) = self.workloads.txn_finished(self.step, record)
            && !self.corruption_explains(&v)
        {
            self.blame_on(&v);
            self.fail(v.kind, &v.to_string());
        }
    }

    /// A list-append transaction that began at `started_step` and ends now goes into the
    /// transaction-form history (when one is kept).
    pub(crate) fn record_txn_form(&mut self, started_step: u64, record: &TxnRecord) {
        if let (Some(history), Observed::ListAppend { mops }) =
            (self.txn_history.as_mut(), &record.observed)
        {
            let txn = ElleTxn {
                process: record.conn,
                outcome: record.outcome,
                mops: mops.clone(),
            };
            history.txn(started_step, self.step, txn);
        }
    }

    /// How the timeline names fiber `index`'s connection.
    fn conn_id(&self, index: usize) -> ConnId {
        ConnId {
            slot: Some(u32::try_from(index).expect("connections fit in u32")),
            process: self.fibers[index].process,
        }
    }

    /// At a crash: the fiber's transaction ends with whatever outcome is known.
    pub(crate) fn abandon_fiber(&mut self, index: usize, fiber: Fiber<T>) -> Result<(), Failure> {
        let Some(mut run) = fiber.txn else {
            return Ok(());
        };
        let outcome = match run.inflight.take() {
            _ if run.committed => TxnOutcome::Committed,
            Some(inflight) => in_doubt_or_aborted_at_crash(&inflight, &fiber.conn),
            None => TxnOutcome::Aborted,
        };
        let conn = ConnId {
            slot: Some(u32::try_from(index).expect("connections fit in u32")),
            process: fiber.process,
        };
        self.note(|| What::TxnEnd { conn, outcome });
        self.stats.transactions += 1;
        self.stats.abort("crash");
        let record = run.program.finish(outcome);
        self.record_txn_form(run.started_step, &record);
        match self.workloads.txn_finished(self.step, record) {
            Err(v) if self.corruption_explains(&v) => Ok(()),
            Err(v) => Err(self.violated(&v)),
            Ok(()) => Ok(()),
        }
    }

    fn hash_result(&mut self, process: u64, op: &Op, result: &OpResult) {
        use std::hash::Hasher;
        self.hasher.write_u64(process);
        self.hasher.write_str(op.name());
        match result {
            Ok(out) => {
                self.hasher.write_u8(0);
                match out {
                    braid_oracle::OpOutput::Value(Some(v)) => self.hasher.write(v),
                    braid_oracle::OpOutput::Rows(rows) => {
                        self.hasher.write_u64(rows.len() as u64);
                        for (k, v) in rows {
                            self.hasher.write(k);
                            self.hasher.write(v);
                        }
                    }
                    braid_oracle::OpOutput::Committed { seq } => self.hasher.write_u64(*seq),
                    _ => {}
                }
            }
            Err(e) => {
                self.hasher.write_u8(1);
                self.hasher.write_str(error_name(e));
            }
        }
    }
}

/// A failed commit (explicit, or a write outside a transaction) may have applied.
fn in_doubt_or_aborted(op: &Op) -> TxnOutcome {
    match op {
        Op::Commit => TxnOutcome::InDoubt,
        Op::Put(..) | Op::Delete(_) => TxnOutcome::InDoubt,
        _ => TxnOutcome::Aborted,
    }
}

fn in_doubt_or_aborted_at_crash<T: Target>(inflight: &Inflight<T>, conn: &T::Conn) -> TxnOutcome {
    match inflight.commits {
        Commits::Always => TxnOutcome::InDoubt,
        Commits::OutsideTransaction if !T::in_transaction(conn) => TxnOutcome::InDoubt,
        _ => TxnOutcome::Aborted,
    }
}

fn error_name(err: &OpError) -> &'static str {
    match err {
        OpError::Busy => "busy",
        OpError::BusySnapshot => "busy-snapshot",
        OpError::Io(_) => "io",
        OpError::Corrupt(_) => "corrupt",
        OpError::Poisoned => "poisoned",
        OpError::Refused(_) => "refused",
    }
}
