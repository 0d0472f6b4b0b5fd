//! `braid diff`: one schedule, two engines, every result compared. The engine under test
//! (`[run] target`) and the reference (`[run] diff_against`, SQLite) each get the same
//! connections; at every decision one connection (drawn from the run's choices) runs its
//! next op to completion on both, outside any fault (no I/O faults, no crashes, no injected
//! yields), and the two results must agree. The first disagreement ends the run as the
//! failure kind `divergence`, with both results and every connection's ops so far.
//!
//! Workload programs see the engine under test's results (the reference's only need to
//! equal them), and Busy is retried as the simulator's fibers retry it: the same op again
//! later, a bounded number of times, then a rollback.
//!
//! What is compared: values and rows exactly, `Committed { seq }` with its sequence, errors
//! by kind (`Busy`, `BusySnapshot`, ...). Engine-specific, by design: a checkpoint's figures
//! (an engine copies pages its own way) and whether a Full, Restart or Truncate checkpoint
//! answers `Busy` (SQLite does whenever it cannot finish, braid only when a writer holds the
//! lock, copying what it can otherwise); an integrity check's wording (both must be clean).
//!
//! One known difference is reconciled instead of reported: SQLite refuses a write with
//! `BusySnapshot` after a WAL reset under the writer's read snapshot although no commit
//! happened since (`refused_after_wal_reset`); the engine under test's transaction is then
//! rolled back too, and the count is in the run's aborts as `WAL_RESET_REFUSAL`.
//!
//! The run is drawn from `Choices` like a simulation, so its tape replays it exactly and
//! `braid shrink` reduces it like any failure.

use std::fmt::Write as _;
use std::hash::Hasher;
use std::sync::{Arc, Mutex};

use braid_oracle::{Op, OpError, OpOutput, OpResult, TxnOutcome};
use braid_workloads::{Next, TxnProgram, Workload, WorkloadMix};

use crate::config::Settings;
use crate::sim::yields::SimYields;
use crate::sim::{
    Choices, Failure, FailureKind, Outcome, RunArtifacts, RunStats, SimIO, SimOptions, StableHasher,
};
use crate::target::{OpenEnv, Step, Target, describe, run_blocking};
use crate::timeline::{Answer, ConnId, Timeline, What};
use braid_oracle::violation::{show_op, show_result};

/// Failure kind of a disagreement.
pub const DIVERGENCE: FailureKind = FailureKind::Divergence;

/// One engine's side of the comparison.
struct Side<T: Target> {
    io: SimIO,
    db: T::Db,
    conns: Vec<T::Conn>,
}

impl<T: Target> Side<T> {
    /// Opens the engine (blocking, without faults) and its connections.
    fn open(
        settings: &Settings,
        yields: &Arc<SimYields>,
        canary: Option<braid_core::Canary>,
    ) -> Result<Side<T>, String> {
        let io = SimIO::new();
        let mut opener = T::opener(&OpenEnv {
            io: &io,
            path: crate::sim::DB_PATH,
            settings,
            canary,
            yields,
        });
        let db = loop {
            match T::step_open(&mut opener) {
                Step::Done(db) => break db,
                Step::Failed(error) => {
                    return Err(format!("{}: open failed: {}", T::NAME, describe(&error)));
                }
                Step::Wait(waiting) => {
                    while !waiting.finished() {
                        braid_core::IO::step(&io).map_err(|e| format!("{}: open: {e}", T::NAME))?;
                    }
                }
            }
        };
        let conns = (0..settings.run.connections)
            .map(|_| T::connect(&db))
            .collect();
        Ok(Side { io, db, conns })
    }

    fn run(&self, conn: usize, op: &Op) -> OpResult {
        run_blocking::<T>(&self.io, &self.conns[conn], &T::to_engine(op.clone()))
    }
}

/// One connection's transaction program and retry state.
struct Lane {
    process: u64,
    program: Option<Box<dyn TxnProgram>>,
    last: Option<OpResult>,
    /// Busy: the same op runs again at this lane's next turn.
    retry: Option<Op>,
    busy_retries: u32,
    giving_up: bool,
    /// The reference's published commit sequence when the transaction took its snapshot
    /// (its first op that succeeded, a deferred `Begin` aside), if it took one yet.
    reference_seq_at_snapshot: Option<u64>,
    /// Ops compared on this connection, for the divergence report.
    log: Vec<String>,
}

/// Abort reason counted for each reconciled SQLite refusal after a WAL reset.
pub const WAL_RESET_REFUSAL: &str = "reference-refused-after-wal-reset";

/// SQLite refuses a write with `SQLITE_BUSY_SNAPSHOT` when the WAL was reset under the
/// transaction's reader (a reader of a fully checkpointed WAL reads the database file only,
/// so a Restart or Truncate checkpoint may reset the WAL beneath it), although no commit
/// happened since its snapshot; braid lets it write, since its snapshot is still the latest
/// commit. The signature: the engine under test's write succeeded, the reference said
/// `BusySnapshot`, and the reference published no commit since the transaction took its
/// snapshot.
fn refused_after_wal_reset(
    op: &Op,
    under_test: &OpResult,
    reference: &OpResult,
    lane: &Lane,
    reference_seq_now: u64,
) -> bool {
    matches!(op, Op::Put(..) | Op::Delete(_))
        && under_test.is_ok()
        && matches!(reference, Err(OpError::BusySnapshot))
        && lane.reference_seq_at_snapshot == Some(reference_seq_now)
}

/// Whether two results of `op` agree (see the module comment for what is compared).
pub fn agree(op: &Op, a: &OpResult, b: &OpResult) -> bool {
    match (a, b) {
        // SQLite's Full, Restart and Truncate answer Busy whenever they cannot finish
        // (a reader on an older snapshot is enough); braid's copy what they can and skip
        // the reset. Either may say Busy where the other did its part.
        (
            Ok(OpOutput::Checkpointed { .. }) | Err(OpError::Busy),
            Ok(OpOutput::Checkpointed { .. }),
        )
        | (Ok(OpOutput::Checkpointed { .. }), Err(OpError::Busy))
            if matches!(op, Op::Checkpoint(_)) =>
        {
            true
        }
        (Ok(OpOutput::Integrity(x)), Ok(OpOutput::Integrity(y))) => x.is_empty() == y.is_empty(),
        (Ok(x), Ok(y)) => x == y,
        (Err(x), Err(y)) => std::mem::discriminant(x) == std::mem::discriminant(y),
        _ => false,
    }
}

/// Runs a diff of engine `A` (under test) against engine `B` (the reference).
pub fn run_diff<A: Target, B: Target>(
    settings: Settings,
    seed: u64,
    choices: Choices,
    options: SimOptions,
) -> RunArtifacts {
    let choices = Arc::new(Mutex::new(choices));
    let yields = Arc::new(SimYields::new(choices.clone(), 0));
    let mut stats = RunStats::default();
    let mut timeline = Timeline::new();
    let mut hasher = StableHasher::new();
    let failure = match (
        // A canary switches the engine under test only: a planted divergence.
        Side::<A>::open(&settings, &yields, options.canary),
        Side::<B>::open(&settings, &yields, None),
    ) {
        (Ok(a), Ok(b)) => {
            let mut run = Run {
                settings: &settings,
                choices: &choices,
                workloads: settings.workload_mix(),
                stats: &mut stats,
                timeline: options.record_timeline.then_some(&mut timeline),
                hasher: &mut hasher,
            };
            run.loop_over::<A, B>(&a, &b)
        }
        (Err(message), _) | (_, Err(message)) => Some(Failure {
            kind: FailureKind::Recovery,
            step: 0,
            message,
        }),
    };
    if let Some(failure) = failure.as_ref().filter(|_| options.record_timeline) {
        let what = What::Failure {
            kind: failure.kind,
            message: failure.message.clone(),
            blame: None,
        };
        timeline.push(failure.step, what);
    }
    drop(yields);
    let tape = lock(&choices).tape();
    RunArtifacts {
        outcome: Outcome {
            seed,
            strategy: "diff".into(),
            stats,
            trace_hash: hasher.hex(),
            failure,
        },
        tape,
        timeline,
        history: None,
        txn_history: None,
    }
}

fn lock(choices: &Mutex<Choices>) -> std::sync::MutexGuard<'_, Choices> {
    choices.lock().unwrap_or_else(|p| p.into_inner())
}

struct Run<'a> {
    settings: &'a Settings,
    choices: &'a Mutex<Choices>,
    workloads: WorkloadMix,
    stats: &'a mut RunStats,
    timeline: Option<&'a mut Timeline>,
    hasher: &'a mut StableHasher,
}

impl Run<'_> {
    fn loop_over<A: Target, B: Target>(&mut self, a: &Side<A>, b: &Side<B>) -> Option<Failure> {
        let connections = a.conns.len();
        let mut lanes: Vec<Lane> = (0..connections)
            .map(|i| Lane {
                process: i as u64 + 1,
                program: None,
                last: None,
                retry: None,
                busy_retries: 0,
                giving_up: false,
                reference_seq_at_snapshot: None,
                log: Vec::new(),
            })
            .collect();
        for step in 0..self.settings.run.steps {
            self.stats.decisions += 1;
            let index = {
                let mut choices = lock(self.choices);
                choices.begin_span("decision");
                let index = choices.draw_index(connections);
                choices.end_span();
                index
            };
            let starting = lanes[index].program.is_none();
            let Some(op) = self.next_op(&mut lanes[index]) else {
                continue;
            };
            if starting {
                lanes[index].reference_seq_at_snapshot = None;
            }
            let ra = a.run(index, &op);
            let rb = b.run(index, &op);
            self.stats.operations += 1;
            self.hasher.write_u64(index as u64);
            self.hasher.write_str(&format!("{ra:?}"));
            let line = format!("{} -> {}", show_op(&op), show_result(&ra));
            if let Some(timeline) = self.timeline.as_mut() {
                let conn = ConnId {
                    slot: Some(u32::try_from(index).expect("connections fit in u32")),
                    process: lanes[index].process,
                };
                let what = What::Op {
                    conn,
                    op: show_op(&op),
                    result: show_result(&ra),
                    answer: Answer::of(&ra),
                };
                timeline.push(step, what);
            }
            lanes[index].log.push(line);
            let takes_snapshot = !matches!(op, Op::Begin(braid_oracle::TxMode::Deferred));
            if lanes[index].reference_seq_at_snapshot.is_none() && takes_snapshot && rb.is_ok() {
                lanes[index].reference_seq_at_snapshot = Some(B::commit_seq(&b.db));
            }
            if !agree(&op, &ra, &rb) {
                if refused_after_wal_reset(&op, &ra, &rb, &lanes[index], B::commit_seq(&b.db)) {
                    // An intended difference (README): reconcile and go on comparing.
                    *self
                        .stats
                        .aborts
                        .entry(WAL_RESET_REFUSAL.into())
                        .or_default() += 1;
                    if A::in_transaction(&a.conns[index]) {
                        let _ = a.run(index, &Op::Rollback);
                    }
                    self.after::<A>(&mut lanes[index], &a.conns[index], op, rb);
                    continue;
                }
                return Some(self.divergence::<A, B>(step, index, &op, &ra, &rb, &lanes));
            }
            self.after::<A>(&mut lanes[index], &a.conns[index], op, ra);
        }
        None
    }

    /// The lane's next op: a Busy retry, a rollback after too many, or the program's next;
    /// `None` when the program paused or finished this turn.
    fn next_op(&mut self, lane: &mut Lane) -> Option<Op> {
        if let Some(op) = lane.retry.take() {
            return Some(op);
        }
        if lane.giving_up {
            return Some(Op::Rollback);
        }
        let mut choices = lock(self.choices);
        let program = match lane.program.as_mut() {
            Some(program) => program,
            None => {
                choices.begin_span("txn-start");
                let program = self.workloads.next_txn(lane.process, &mut *choices);
                choices.end_span();
                lane.program.insert(program)
            }
        };
        choices.begin_span("program");
        let next = program.next(lane.last.take().as_ref(), &mut *choices);
        choices.end_span();
        drop(choices);
        match next {
            Next::Op(op) => Some(op),
            Next::Pause => None,
            Next::Done => {
                self.end_txn(lane, TxnOutcome::Committed);
                None
            }
        }
    }

    /// Moves the lane on after `op` returned `result` on the engine under test.
    fn after<A: Target>(&mut self, lane: &mut Lane, conn: &A::Conn, op: Op, result: OpResult) {
        match result {
            Ok(output) => {
                lane.busy_retries = 0;
                if lane.giving_up {
                    lane.giving_up = false;
                    self.end_txn(lane, TxnOutcome::Aborted);
                    return;
                }
                if matches!(output, OpOutput::Committed { .. }) {
                    self.stats.commits += 1;
                }
                lane.last = Some(Ok(output));
            }
            Err(OpError::Busy) => {
                self.stats.busy_retries += 1;
                lane.busy_retries += 1;
                if lane.busy_retries <= self.settings.liveness.busy_retries {
                    lane.retry = Some(op);
                } else if A::in_transaction(conn) {
                    lane.giving_up = true;
                } else {
                    self.end_txn(lane, TxnOutcome::Aborted);
                }
            }
            Err(_) => self.end_txn(lane, TxnOutcome::Aborted),
        }
    }

    fn end_txn(&mut self, lane: &mut Lane, outcome: TxnOutcome) {
        lane.busy_retries = 0;
        lane.last = None;
        lane.giving_up = false;
        if let Some(program) = lane.program.take() {
            self.stats.transactions += 1;
            // The checkers judge one engine's history; a diff judges by comparison.
            let _ = program.finish(outcome);
        }
    }

    fn divergence<A: Target, B: Target>(
        &self,
        step: u64,
        index: usize,
        op: &Op,
        a: &OpResult,
        b: &OpResult,
        lanes: &[Lane],
    ) -> Failure {
        let mut message = format!(
            "step {step}: connection {} ran {}: {} answered {}, {} answered {}",
            lanes[index].process,
            show_op(op),
            A::NAME,
            show_result(a),
            B::NAME,
            show_result(b)
        );
        for lane in lanes {
            let _ = write!(message, "\n  connection {}:", lane.process);
            for line in &lane.log {
                let _ = write!(message, "\n    {line}");
            }
        }
        Failure {
            kind: DIVERGENCE,
            step,
            message,
        }
    }
}
