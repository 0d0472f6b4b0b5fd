//! `Simulation`: one deterministic run. Each loop iteration is one scheduler decision: maybe
//! a nemesis event (crash, bit flip), then either one fiber step or one I/O completion
//! (with a fault drawn for it). Every result goes to the oracle at once, so the first wrong
//! answer stops the run at its exact step.
//!
//! Phases: `Recovering` (the opener, run as fiber 0 under the same scheduler and faults,
//! then a full scan and integrity check judged by the oracle) and `Running` (one fiber per
//! connection). The run starts by recovering (opening an empty database) and goes back to
//! it after every crash. At the end (`finish.rs`), fibers drain (no new transactions, no
//! faults), the workloads' final programs run, and their end checks judge the whole run.

use std::sync::{Arc, Mutex};

use braid_core::{Canary, Completion};
use braid_oracle::history::{History, Nemesis, TxnHistory};
use braid_oracle::violation::show_result;
use braid_oracle::{Claims, Durability, Op, OpError, OpOutput, OpResult, SeqOracle};
use braid_workloads::{Workload, WorkloadMix};

use super::choices::Choices;
use super::fault_draws::draw_write_fate;
use super::fiber::Fiber;
use super::hash::StableHasher;
use super::nemesis::{self, lock_choices};
use super::notes::{crash_fate, dropped_fate, io_event};
use super::outcome::{Failure, FailureKind, Outcome, RunStats};
use super::scheduler::{Decision, IoCandidate, SchedView, Scheduler, Strategy};
use super::sim_io::{OpKind, SimIO};
use super::structure::{DecisionRecord, Owner, StructureRecorder};
use super::tape::Tape;
use super::watch::{BitFlips, Liveness};
use super::yields::SimYields;
use crate::config::{Settings, Strategy as ConfigStrategy};
use crate::target::{BraidCore, OpenEnv, Step, Target, describe, run_blocking};
use crate::timeline::{Blame, CrashFate, IoFate, Timeline, What};

/// Path of the simulated database file (its WAL is beside it).
pub const DB_PATH: &str = "braid.db";
/// Path of the simulated database's WAL.
const WAL_PATH: &str = "braid.db-wal";

/// Attempts at reopening after a crash before the run fails as `recovery`.
const MAX_OPEN_ATTEMPTS: u32 = 64;

/// Everything a finished run leaves behind.
#[derive(Debug, Clone)]
pub struct RunArtifacts {
    pub outcome: Outcome,
    /// Every draw the run made, with its spans: replaying it reproduces the run.
    pub tape: Tape,
    /// Every event a person reads (empty unless `SimOptions::record_timeline`).
    pub timeline: Timeline,
    /// The history of invocations, completions and nemesis events (with
    /// `SimOptions::record_history`).
    pub history: Option<History>,
    /// The list-append transactions and nemesis events in Elle's transaction form (with
    /// `SimOptions::record_history`).
    pub txn_history: Option<TxnHistory>,
}

/// Knobs that are not part of a config.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Known-bad engine behaviour to switch on (acts only with the `canaries` feature).
    pub canary: Option<Canary>,
    /// Keep the timeline (every event a person reads) for artifacts and `replay --trace`.
    pub record_timeline: bool,
    /// Keep the Jepsen-style history (the newest `HISTORY_EVENTS` events) for artifacts.
    pub record_history: bool,
}

/// Events a recorded history keeps (the newest ones), bounding memory on long runs.
pub const HISTORY_EVENTS: usize = 1_000_000;

pub(crate) enum Phase<T: Target> {
    /// No database: between a crash and the start of recovery.
    Down,
    /// Opening (or reopening after a crash): `opener` runs as fiber 0.
    Recovering {
        opener: Box<T::Opener>,
        waiting: Option<Completion>,
        attempts: u32,
        initial: bool,
    },
    Running {
        db: T::Db,
    },
}

/// One simulation of target `T` (braid's own engine unless said otherwise), from a seed
/// (or a tape) and settings.
pub struct Simulation<T: Target = BraidCore> {
    pub(crate) settings: Settings,
    seed: u64,
    pub(crate) options: SimOptions,
    pub(crate) choices: Arc<Mutex<Choices>>,
    pub(crate) io: SimIO,
    scheduler: Box<dyn Scheduler + Send>,
    strategy_name: &'static str,
    pub(crate) oracle: SeqOracle,
    pub(crate) workloads: WorkloadMix,
    pub(crate) phase: Phase<T>,
    pub(crate) fibers: Vec<Fiber<T>>,
    pub(crate) next_process: u64,
    pub(crate) stats: RunStats,
    pub(crate) hasher: StableHasher,
    pub(crate) step: u64,
    last_fiber: Option<usize>,
    /// What the stuck check remembers between decisions.
    pub(crate) liveness: Liveness,
    pub(crate) draining: bool,
    /// A fiber saw `Poisoned`: the database must be reopened (handled as a crash).
    pub(crate) restart_requested: bool,
    /// Bit flips injected, and whether one was detected.
    pub(crate) bit_flips: BitFlips,
    injector: Arc<SimYields>,
    pub(crate) timeline: Timeline,
    pub(crate) history: Option<History>,
    /// List-append transactions for Elle's transaction form (with `record_history`).
    pub(crate) txn_history: Option<TxnHistory>,
    pub(crate) failure: Option<Failure>,
    /// The op the failure being recorded is about (`blame_on`), for the timeline.
    blame: Option<Blame>,
    /// Scratch lists reused by every decision.
    scratch: Scratch,
    /// The fiber last seen possibly holding the write lock (a hint for `check_liveness`).
    write_lock_holder_hint: Option<usize>,
    /// Successful WAL syncs seen so far (`note_wal_syncs`).
    wal_syncs_seen: u64,
    /// Transactions started so far (the next one's number).
    pub(crate) txns_started: u64,
    /// The run's structure, while `run_structured` records it.
    pub(crate) structure: Option<StructureRecorder>,
    /// Failed WAL syncs seen so far (`note_wal_syncs`).
    wal_sync_failures_seen: u64,
}

impl Simulation<BraidCore> {
    /// A simulation of braid's own engine drawing every decision from `seed`.
    pub fn new(settings: Settings, seed: u64, options: SimOptions) -> Simulation {
        Self::with_choices(settings, seed, Choices::recording(seed), options)
    }

    /// A simulation of braid's own engine replaying `choices` (a tape); `seed` is only
    /// reported.
    pub fn with_choices(
        settings: Settings,
        seed: u64,
        choices: Choices,
        options: SimOptions,
    ) -> Simulation {
        Simulation::<BraidCore>::of_target(settings, seed, choices, options)
    }
}

/// Scratch lists reused by every decision (no allocation per decision).
#[derive(Default)]
struct Scratch {
    /// Runnable fibers.
    runnable: Vec<usize>,
    /// Pending I/O candidates.
    ios: Vec<IoCandidate>,
}

/// Why every connection is dropped at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrashCause {
    /// A crash the nemesis drew (SimIO counts it among its faults).
    Nemesis,
    /// A failed WAL fsync poisoned the database: it is restarted like after a crash.
    Poisoned,
}

impl CrashCause {
    /// The name in notes, fault counts and the trace hash.
    fn name(self) -> &'static str {
        match self {
            CrashCause::Nemesis => "crash",
            CrashCause::Poisoned => "poisoned",
        }
    }
}

impl<T: Target> Simulation<T> {
    /// A simulation of target `T` drawing every decision from `seed`.
    pub fn on_target(settings: Settings, seed: u64, options: SimOptions) -> Simulation<T> {
        Self::of_target(settings, seed, Choices::recording(seed), options)
    }

    /// A simulation of target `T` replaying `choices` (a tape); `seed` is only reported.
    pub fn of_target(
        settings: Settings,
        seed: u64,
        choices: Choices,
        options: SimOptions,
    ) -> Simulation<T> {
        let choices = Arc::new(Mutex::new(choices));
        let strategy = match settings.strategy {
            ConfigStrategy::Random => Strategy::Random,
            ConfigStrategy::RoundRobin => Strategy::RoundRobin,
            ConfigStrategy::Pct => {
                Strategy::from_name("pct", settings.pct_depth, settings.run.steps)
                    .expect("pct is a strategy name")
            }
        };
        let scheduler = strategy.build();
        let strategy_name = scheduler.name();
        let durability = match settings.sync {
            braid_core::SyncMode::Full => Durability::Full,
            braid_core::SyncMode::Normal => Durability::Normal,
        };
        let injector = Arc::new(SimYields::new(choices.clone(), settings.yield_ppm));
        let io = SimIO::with_fsync_failure(settings.faults.fsync_failure);
        let workloads = settings.workload_mix();
        let mut sim = Simulation {
            oracle: SeqOracle::new(durability),
            workloads,
            phase: Phase::Down,
            settings,
            seed,
            options,
            choices,
            io,
            scheduler,
            strategy_name,
            fibers: Vec::new(),
            next_process: 0,
            stats: RunStats::default(),
            hasher: StableHasher::new(),
            step: 0,
            last_fiber: None,
            liveness: Liveness::default(),
            draining: false,
            restart_requested: false,
            bit_flips: BitFlips::default(),
            injector,
            timeline: Timeline::new(),
            history: None,
            txn_history: None,
            failure: None,
            blame: None,
            scratch: Scratch::default(),
            write_lock_holder_hint: None,
            wal_syncs_seen: 0,
            txns_started: 0,
            structure: None,
            wal_sync_failures_seen: 0,
        };
        if sim.options.record_history {
            sim.history = Some(History::bounded(HISTORY_EVENTS));
            sim.txn_history = Some(TxnHistory::new());
        }
        sim.phase = sim.recovering(true);
        sim
    }

    /// Starts opening the database (the first open, or recovery after a crash).
    fn opener(&self) -> T::Opener {
        T::opener(&OpenEnv {
            io: &self.io,
            path: DB_PATH,
            settings: &self.settings,
            canary: self.options.canary,
            yields: &self.injector,
        })
    }

    fn recovering(&self, initial: bool) -> Phase<T> {
        let opener = Box::new(self.opener());
        Phase::Recovering {
            opener,
            waiting: None,
            attempts: 0,
            initial,
        }
    }

    /// Runs to the end (or the first failure) and reports. Engine panics become failures.
    /// The tape is not kept (nobody gets it), so memory does not grow with the run's length.
    pub fn run(self) -> Outcome {
        lock_choices(&self.choices).discard_tape();
        self.run_full().outcome
    }

    /// Like `run`, and also hands back the tape of every draw made and the timeline.
    pub fn run_full(mut self) -> RunArtifacts {
        self.run_to_end()
    }

    fn run_to_end(&mut self) -> RunArtifacts {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_inner()));
        if let Err(panic) = caught {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".into());
            self.failure = Some(Failure {
                kind: FailureKind::Panic,
                step: self.step,
                message: format!(
                    "step {}: the engine or simulator panicked: {message}",
                    self.step
                ),
            });
        }
        self.stats.injected_yields = self.injector.yields_by_point().values().sum();
        let io_faults = self.io.fault_counts();
        for (kind, count) in &io_faults.by_kind {
            *self.stats.faults.entry(kind.clone()).or_default() += count;
        }
        for (label, kinds) in &io_faults.by_group {
            *self.stats.group_faults.entry(label.clone()).or_default() +=
                kinds.values().sum::<u64>();
        }
        let outcome = Outcome {
            seed: self.seed,
            strategy: self.strategy_name.to_string(),
            trace_hash: self.hasher.hex(),
            failure: self.failure.take(),
            stats: std::mem::take(&mut self.stats),
        };
        if let Some(failure) = &outcome.failure
            && self.options.record_timeline
            && !self
                .timeline
                .events()
                .last()
                .is_some_and(|e| matches!(e.what, What::Failure { .. }))
        {
            // Failures found outside `fail` (a recovery check, a panic) get their line too.
            self.timeline.push(
                failure.step,
                What::Failure {
                    kind: failure.kind,
                    message: failure.message.clone(),
                    blame: self.blame.take(),
                },
            );
        }
        let timeline = std::mem::take(&mut self.timeline);
        // Drop the engine (it holds the injector, which holds the choices) before taking
        // the tape out.
        self.fibers.clear();
        self.phase = Phase::Down;
        let tape = lock_choices(&self.choices).tape();
        let history = self.history.take();
        let txn_history = self.txn_history.take();
        RunArtifacts {
            outcome,
            tape,
            timeline,
            history,
            txn_history,
        }
    }

    /// Like `run_full`, and also hands back what every decision served and where its draws
    /// lie on the tape (for the shrinker; the run itself is the same).
    pub fn run_structured(mut self) -> (RunArtifacts, Vec<DecisionRecord>) {
        self.structure = Some(StructureRecorder::default());
        let run = self.run_to_end();
        let decisions = self.structure.take().map(|s| s.decisions);
        (run, decisions.unwrap_or_default())
    }

    /// The timeline (empty unless `SimOptions::record_timeline`).
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    fn run_inner(&mut self) {
        while self.step < self.settings.run.steps && self.failure.is_none() {
            self.decide();
            if self.bit_flips.detected {
                return;
            }
        }
        if self.failure.is_none() {
            self.drain();
        }
        if self.failure.is_none() && !self.bit_flips.detected {
            self.finish_checks();
        }
    }

    /// One scheduler decision (`decide` in structure.rs wraps it).
    pub(crate) fn decide_now(&mut self) {
        // The clock moves to this decision before anything can read it: here on the paths
        // that end the decision early, otherwise with the candidate list (one lock).
        self.stats.decisions += 1;
        if self.restart_requested {
            self.io.set_now(self.step);
            self.restart_requested = false;
            self.crash(CrashCause::Poisoned);
            self.step += 1;
            return;
        }
        if !self.draining && self.nemesis_strikes() {
            self.step += 1;
            return;
        }
        // The per-decision lists live in buffers reused from one decision to the next.
        let mut runnable = std::mem::take(&mut self.scratch.runnable);
        let mut ios = std::mem::take(&mut self.scratch.ios);
        self.schedule(&mut runnable, &mut ios);
        self.scratch.runnable = runnable;
        self.scratch.ios = ios;
    }

    /// The part of a decision that picks among the enabled events and carries one out;
    /// `runnable` and `ios` are scratch buffers.
    fn schedule(&mut self, runnable: &mut Vec<usize>, ios: &mut Vec<IoCandidate>) {
        let earliest_ready_at = self.io.begin_decision(self.step, ios);
        self.runnable_into(runnable);
        if runnable.is_empty() && !ios.iter().any(|io| io.ready) {
            // Everyone backing off: let them try again.
            for fiber in &mut self.fibers {
                fiber.backing_off = false;
            }
            self.runnable_into(runnable);
        }
        let view = SchedView {
            step: self.step,
            fiber_count: self.fiber_count(),
            runnable,
            last_fiber: self.last_fiber,
            ios,
        };
        if !view.has_enabled() {
            if let Some(next) = earliest_ready_at {
                // Only held I/O remains: time passes until the first becomes ready.
                self.step = self.step.max(next);
                return;
            }
            if self.has_work() {
                self.fail(
                    FailureKind::Stuck,
                    "no fiber can run and no I/O is pending while work remains",
                );
            }
            self.step += 1;
            return;
        }
        let decision = {
            let mut choices = lock_choices(&self.choices);
            choices.begin_span("decision");
            let decision = self.scheduler.choose(&view, &mut choices);
            choices.end_span();
            decision
        };
        self.hash_decision(decision);
        match decision {
            Decision::StepFiber(index) => {
                self.last_fiber = Some(index);
                self.step_fiber(index);
            }
            Decision::CompleteIo(id) => {
                if let Some(recorder) = self.structure.as_mut() {
                    recorder.owner = recorder.io_owner(id);
                }
                for fiber in &mut self.fibers {
                    fiber.backing_off = false;
                }
                let op = self.io.pending_op(id).expect("chosen among pending");
                let fate = if self.draining {
                    self.io
                        .complete(id, super::sim_io::IoOutcome::Ok)
                        .expect("pending");
                    IoFate::Done
                } else {
                    let mut choices = lock_choices(&self.choices);
                    nemesis::complete_io(&self.io, &op, &self.settings.faults, &mut choices)
                };
                self.note(|| What::Io(io_event(op, fate)));
                self.note_wal_syncs();
            }
        }
        self.check_liveness();
        self.step += 1;
    }

    /// Tells the oracle what the simulator saw become durable: when a WAL sync completes
    /// successfully while the database runs, every commit acknowledged before it is
    /// durable (the engine acknowledges a commit only after its frames were written, and
    /// a completed sync makes every completed write durable). Under `sync = "normal"`
    /// the oracle then no longer lets a later recovery go back before those commits, so
    /// an engine that counts on a commit it never made durable is caught at the next
    /// crash. Syncs during recovery are not used: a crash may have lost acknowledged
    /// commits, which only the recovery's result tells.
    ///
    /// A WAL sync that failed under a file system that then marks the pages clean
    /// (`fsync_failure` other than "retry") lost the frames it covered: the oracle hears of
    /// it, and a later successful sync proves nothing about the commits before it.
    fn note_wal_syncs(&mut self) {
        let failures = self.io.syncs_failed(WAL_PATH);
        if failures != self.wal_sync_failures_seen {
            self.wal_sync_failures_seen = failures;
            if self.settings.faults.fsync_failure.loses_writes() {
                self.oracle.note_sync_failed();
            }
        }
        let syncs = self.io.syncs_completed(WAL_PATH);
        if syncs == self.wal_syncs_seen {
            return;
        }
        self.wal_syncs_seen = syncs;
        if matches!(self.phase, Phase::Running { .. }) {
            let acknowledged = self.oracle.committed_seq();
            self.oracle.note_durable(acknowledged);
        }
    }

    /// Draws the per-decision nemesis events; returns whether one happened.
    fn nemesis_strikes(&mut self) -> bool {
        let faults = &self.settings.faults;
        let (crash_ppm, flip_ppm) = (faults.crash_ppm, faults.bit_flip_ppm);
        // One lock for both draws (the flip is drawn only when no crash was).
        let (crash, flip) = {
            let mut choices = lock_choices(&self.choices);
            let crash = choices.chance(crash_ppm);
            (crash, !crash && choices.chance(flip_ppm))
        };
        if crash {
            self.io.set_now(self.step);
            self.crash(CrashCause::Nemesis);
            return true;
        }
        if flip && matches!(self.phase, Phase::Running { .. }) {
            self.io.set_now(self.step);
            return self.flip_bit();
        }
        false
    }

    /// Flips one bit of the durable database file past its header page.
    fn flip_bit(&mut self) -> bool {
        let Some(image) = self.io.durable_image(DB_PATH) else {
            return false;
        };
        let page = self.settings.page_size as u64;
        if (image.len() as u64) <= page {
            return false;
        }
        let (offset, bit) = {
            let mut choices = lock_choices(&self.choices);
            let offset = page + choices.draw(image.len() as u64 - page);
            (offset, choices.draw(8) as u8)
        };
        if self.io.flip_bit(DB_PATH, offset, bit).is_ok() {
            self.bit_flips.injected += 1;
            self.stats.fault("bit-flip");
            self.note(|| What::BitFlip {
                file: DB_PATH.to_string(),
                offset,
                bit,
            });
        }
        true
    }

    fn fiber_count(&self) -> usize {
        match self.phase {
            Phase::Recovering { .. } => 1,
            Phase::Running { .. } | Phase::Down => self.fibers.len(),
        }
    }

    /// The fibers that may step now, ascending, written into `out` (cleared first).
    fn runnable_into(&self, out: &mut Vec<usize>) {
        out.clear();
        match &self.phase {
            Phase::Recovering { waiting, .. } => {
                if waiting.as_ref().is_none_or(Completion::finished) {
                    out.push(0);
                }
            }
            Phase::Down => {}
            Phase::Running { .. } => out.extend(
                self.fibers
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.runnable(self.draining))
                    .map(|(i, _)| i),
            ),
        }
    }

    /// Whether anything still has to happen (a fiber mid-transaction, or recovery).
    fn has_work(&self) -> bool {
        match self.phase {
            Phase::Recovering { .. } | Phase::Down => true,
            Phase::Running { .. } => self.fibers.iter().any(|f| f.busy() || !self.draining),
        }
    }

    fn step_fiber(&mut self, index: usize) {
        if matches!(self.phase, Phase::Recovering { .. }) {
            self.step_recovery();
        } else {
            self.step_connection(index);
        }
    }

    /// Advances the opener; once open, verifies the recovered state and starts the fibers.
    fn step_recovery(&mut self) {
        self.note_owner(Owner::Recovery);
        let Phase::Recovering {
            opener,
            waiting,
            attempts,
            initial,
        } = &mut self.phase
        else {
            unreachable!("only called while recovering");
        };
        match T::step_open(opener) {
            Step::Wait(completion) => *waiting = Some(completion),
            Step::Done(db) => {
                let initial = *initial;
                let commit = T::commit_seq(&db);
                self.note(|| What::Recovered { commit });
                if let Err(failure) = self.verify_recovery(&db, initial) {
                    self.failure = Some(failure);
                    return;
                }
                self.start_fibers(db);
            }
            Step::Failed(OpError::Poisoned) => {
                // The engine gave up on this incarnation (a failed fsync while opening):
                // the machine restarts, as for a database poisoned while running.
                self.note(|| What::Note("recovery poisoned: restarting".into()));
                self.restart_requested = true;
            }
            Step::Failed(err) => {
                *attempts += 1;
                let attempts = *attempts;
                if matches!(err, OpError::Corrupt(_)) && self.bit_flips.injected > 0 {
                    self.bit_flips.detected = true;
                    return;
                }
                let retryable = matches!(err, OpError::Io(_));
                if !retryable || attempts >= MAX_OPEN_ATTEMPTS {
                    self.fail(
                        FailureKind::Recovery,
                        &format!(
                            "reopening failed after {attempts} attempts: {}",
                            describe(&err)
                        ),
                    );
                    return;
                }
                let fresh = self.opener();
                let Phase::Recovering {
                    opener, waiting, ..
                } = &mut self.phase
                else {
                    unreachable!("still recovering");
                };
                **opener = fresh;
                *waiting = None;
            }
        }
    }

    /// Full scan and integrity check of a freshly opened database, judged by the oracle.
    /// Runs outside the scheduler, without faults (it is the judge's probe).
    fn verify_recovery(&mut self, db: &T::Db, initial: bool) -> Result<(), Failure> {
        let conn = T::connect(db);
        let scan = T::to_engine(Op::Scan {
            start: vec![],
            end: None,
            limit: usize::MAX,
        });
        let rows = match run_blocking::<T>(&self.io, &conn, &scan) {
            Ok(OpOutput::Rows(rows)) => rows,
            Ok(other) => {
                let message = format!("scan gave {}", show_result(&Ok(other)));
                return Err(self.failure_now(FailureKind::Recovery, &message));
            }
            Err(OpError::Corrupt(_)) if self.bit_flips.injected > 0 => {
                self.bit_flips.detected = true;
                return Ok(());
            }
            Err(err) => {
                let message = format!("full scan failed: {}", describe(&err));
                return Err(self.failure_now(FailureKind::Recovery, &message));
            }
        };
        let check = T::to_engine(Op::IntegrityCheck);
        let integrity = match run_blocking::<T>(&self.io, &conn, &check) {
            Ok(OpOutput::Integrity(problems)) => problems,
            Ok(other) => {
                let message = format!("check gave {}", show_result(&Ok(other)));
                return Err(self.failure_now(FailureKind::Recovery, &message));
            }
            Err(err) => vec![format!("integrity check failed: {}", describe(&err))],
        };
        if !integrity.is_empty() && self.bit_flips.injected > 0 {
            self.bit_flips.detected = true;
            return Ok(());
        }
        if initial {
            // A new database: nothing to recover, so nothing may be there.
            if !rows.is_empty() || !integrity.is_empty() || T::commit_seq(db) != 0 {
                let message = format!(
                    "a new database is not empty: {} rows, commit {}, integrity {integrity:?}",
                    rows.len(),
                    T::commit_seq(db)
                );
                return Err(self.failure_now(FailureKind::Recovery, &message));
            }
            return Ok(());
        }
        self.stats.recoveries += 1;
        let restart = Nemesis::Restart {
            recovered_seq: T::commit_seq(db),
        };
        if let Some(history) = self.txn_history.as_mut() {
            history.nemesis(self.step, restart.clone());
        }
        if let Some(history) = self.history.as_mut() {
            history.nemesis(self.step, restart);
        }
        self.oracle
            .on_recovered(self.step, &rows, &integrity, T::commit_seq(db))
            .map_err(|v| self.violated(&v))
    }

    fn start_fibers(&mut self, db: T::Db) {
        self.fibers = (0..self.settings.run.connections)
            .map(|_| {
                self.next_process += 1;
                Fiber::new(self.next_process, T::connect(&db))
            })
            .collect();
        self.last_fiber = None;
        self.liveness.restart(self.step);
        self.phase = Phase::Running { db };
    }

    /// Crash (or restart after poisoning): every connection dies mid-flight, volatile data
    /// is lost (each unsynced write survives, tears or vanishes), recovery runs again.
    pub(crate) fn crash(&mut self, cause: CrashCause) {
        self.note_owner(Owner::Crash);
        self.stats.crashes += 1;
        let why = cause.name();
        if cause != CrashCause::Nemesis {
            self.stats.fault(why); // SimIO counts every crash itself
        }
        self.note(|| What::Crash {
            why: why.to_string(),
        });
        // Pending reads and syncs die with the crash (writes get a fate below).
        let dropped: Vec<CrashFate> = if self.options.record_timeline {
            self.io
                .pending_ops()
                .into_iter()
                .filter(|op| matches!(op.kind, OpKind::Read | OpKind::Sync))
                .map(|op| dropped_fate(&op))
                .collect()
        } else {
            Vec::new()
        };
        self.hasher.write_str(why);
        if let Some(history) = self.history.as_mut() {
            history.crash(self.step);
        }
        let fibers = std::mem::take(&mut self.fibers);
        for (index, fiber) in fibers.into_iter().enumerate() {
            if let Err(failure) = self.abandon_fiber(index, fiber) {
                self.failure = Some(failure);
                return;
            }
        }
        if let Some(history) = self.txn_history.as_mut() {
            history.nemesis(self.step, Nemesis::Crash);
        }
        let was_recovering = matches!(self.phase, Phase::Recovering { initial: false, .. });
        self.phase = Phase::Down;
        let odds = nemesis::crash_odds(&self.settings.faults);
        let record = self.options.record_timeline;
        let mut fates = Vec::new();
        let report = {
            let mut choices = lock_choices(&self.choices);
            choices.begin_span("crash");
            let report = self.io.crash(&mut |write| {
                let fate = draw_write_fate(&mut choices, write, &odds);
                if record {
                    fates.push(crash_fate(write, &fate));
                }
                fate
            });
            choices.end_span();
            report
        };
        for fate in fates.into_iter().chain(dropped) {
            self.note(|| What::CrashFate(fate));
        }
        self.note(|| What::CrashTotals {
            survived: report.survived,
            torn: report.torn,
            lost: report.vanished,
            dropped: report.dropped_pending,
        });
        // A crash while recovering from the last one is part of the same outage for the
        // oracle: it still waits for the one recovery that follows.
        if !was_recovering {
            self.oracle.on_crash(self.step, true);
        }
        self.workloads
            .crashed(self.settings.sync == braid_core::SyncMode::Normal);
        self.phase = self.recovering(false);
    }

    /// Whether some fiber's connection may hold the write lock. The fiber found last time
    /// is asked first: it usually still holds it, so most decisions ask one connection.
    fn some_fiber_may_hold_write_lock(&mut self) -> bool {
        let hint = self
            .write_lock_holder_hint
            .filter(|&i| self.fibers.get(i).is_some_and(Fiber::may_hold_write_lock));
        if hint.is_some() {
            return true;
        }
        self.write_lock_holder_hint = self.fibers.iter().position(Fiber::may_hold_write_lock);
        self.write_lock_holder_hint.is_some()
    }

    fn check_liveness(&mut self) {
        let limit = self.settings.liveness.stuck_decisions.max(1);
        let Phase::Running { db } = &self.phase else {
            return;
        };
        if self.failure.is_some() {
            return;
        }
        // An engine that cannot say who holds its write lock gets only the progress check.
        let known = T::write_lock_owner(db);
        let owner = known.flatten();
        self.liveness.observe_owner(owner, self.step);
        if owner.is_some() && !self.some_fiber_may_hold_write_lock() {
            self.fail(
                FailureKind::Stuck,
                "the write lock is held but no connection holds it: it leaked, and every \
                 writer will get Busy forever",
            );
        } else if self.liveness.stalled(self.step, limit) && self.has_work() {
            self.fail(
                FailureKind::Stuck,
                &format!("no operation completed for {limit} decisions while work remained"),
            );
        } else if self.liveness.lock_hogged(self.step, limit) {
            self.fail(
                FailureKind::Stuck,
                &format!(
                    "connections kept getting Busy while one owner held the write lock for \
                     {limit} decisions (is the write lock leaked?)"
                ),
            );
        }
    }

    fn hash_decision(&mut self, decision: Decision) {
        use std::hash::Hasher;
        match decision {
            Decision::StepFiber(i) => {
                self.hasher.write_u8(1);
                self.hasher.write_u64(i as u64);
            }
            Decision::CompleteIo(id) => {
                self.hasher.write_u8(2);
                self.hasher.write_u64(id);
            }
        }
    }

    /// A client invokes `op`: the oracle and the history hear of it.
    pub(crate) fn invoke(&mut self, process: u64, op: &Op) {
        self.oracle.on_invoke(self.step, process, op);
        if let Some(history) = self.history.as_mut() {
            history.invoke_op(self.step, process, op);
        }
    }

    /// `op` finished with `result`: the oracle judges it and the history records it
    /// (`indeterminate` when it may have taken effect although it failed).
    pub(crate) fn judge(
        &mut self,
        process: u64,
        op: &Op,
        result: &OpResult,
        claims: Claims,
        indeterminate: bool,
    ) -> Result<(), Failure> {
        if let Some(history) = self.history.as_mut() {
            history.complete_op(self.step, process, op, result, indeterminate);
        }
        match self
            .oracle
            .on_complete(self.step, process, op, result, claims)
        {
            Err(v) if self.corruption_explains(&v) => Ok(()),
            Err(v) => Err(self.violated(&v)),
            Ok(()) => Ok(()),
        }
    }

    /// After an injected bit flip, an integrity problem is the engine doing its job: the run
    /// ends there, passing.
    pub(crate) fn corruption_explains(&mut self, v: &braid_oracle::Violation) -> bool {
        if self.bit_flips.injected > 0 && v.kind == braid_oracle::ViolationKind::Integrity {
            self.note(|| {
                What::Note(format!(
                    "corruption detected as expected after a bit flip: {v}"
                ))
            });
            self.bit_flips.detected = true;
            return true;
        }
        false
    }

    /// Adds a timeline event. Takes a closure so that nothing is formatted (keys and values
    /// are long) unless the timeline is being recorded.
    pub(crate) fn note(&mut self, what: impl FnOnce() -> What) {
        if self.options.record_timeline {
            self.timeline.push(self.step, what());
        }
    }

    /// The failure `v` is, remembering for the timeline which op it is about.
    pub(crate) fn violated(&mut self, v: &braid_oracle::Violation) -> Failure {
        self.blame_on(v);
        self.failure_now(v.kind, &v.to_string())
    }

    /// Remembers for the timeline's failure event which op `v` is about, when it names one.
    pub(crate) fn blame_on(&mut self, v: &braid_oracle::Violation) {
        if self.options.record_timeline {
            self.blame = v.conn.map(|process| Blame {
                process,
                step: v.step,
            });
        }
    }

    pub(crate) fn failure_now(&self, kind: impl Into<FailureKind>, message: &str) -> Failure {
        Failure {
            kind: kind.into(),
            step: self.step,
            message: message.to_string(),
        }
    }

    /// Records `failure` unless the run already failed.
    pub(crate) fn fail_with(&mut self, failure: Failure) {
        if self.failure.is_none() {
            let blame = self.blame.take();
            self.note(|| What::Failure {
                kind: failure.kind,
                message: failure.message.clone(),
                blame,
            });
            self.failure = Some(failure);
        }
    }

    pub(crate) fn fail(&mut self, kind: impl Into<FailureKind>, message: &str) {
        if self.failure.is_none() {
            let failure = self.failure_now(kind, &format!("step {}: {message}", self.step));
            self.fail_with(failure);
        }
    }
}
