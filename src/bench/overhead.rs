//! The simulator's overhead: the same operations run once under the simulator and once
//! directly on `MemoryIO` through `Connection::execute` + `block_on`, compared by wall time.
//!
//! How "the same operations" are obtained: a simulation records its history; every
//! operation that completed in it (successfully or with an error, in completion order, each
//! on its own process's connection) is replayed directly. A crash in the history drops
//! every connection and reopens the database (recovery runs, as in the simulator), and a
//! restart runs the same full scan and integrity check the simulator's judge runs. Ops that
//! a crash cut off are skipped. The direct replay runs each op to completion at once, so
//! lock conflicts can come out differently; the report says how many ops ended the same way
//! (success or failure) in both runs.
//!
//! The simulator's time comes from a separate run of the same seed without the history
//! recorder, so recording costs nothing in the comparison.
//!
//! Timing: each side is run `REPEATS` times, alternating (simulation, direct, simulation,
//! ...) after the recording run has warmed the allocator up, and the least CPU time of each
//! side counts. On a shared machine a run is only ever slowed down by others (a neighbour
//! evicting its caches, a busy sibling hyperthread), never sped up, so the minimum is the
//! closest to the cost of the code itself; both sides get the same treatment.

use std::collections::BTreeMap;
use std::sync::Arc;

use braid_core::{Connection, Database, IO, MemoryIO, block_on};
use braid_oracle::history::{EventType, EventValue, Nemesis, Process};
use braid_oracle::{Op, history::History};

use super::decisions::default_config_with;
use super::stats::{Summary, timed};
use crate::config::{Config, Settings};
use crate::sim::{SimOptions, Simulation};
use crate::target::braid_convert::to_core;

/// One step of a recorded op stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// `process` ran `op`; `ok` says whether it succeeded in the simulation.
    Op { process: u64, op: Op, ok: bool },
    /// Every connection was dropped and the database reopened.
    Crash,
    /// The reopened database was probed with a full scan and an integrity check.
    Restart,
}

/// The ops (and crashes) of a recorded history, in completion order.
pub fn op_stream(history: &History) -> Vec<Recorded> {
    let mut stream = Vec::new();
    for event in history.events() {
        match (&event.process, &event.value) {
            (Process::Nemesis, EventValue::Nemesis(Nemesis::Crash)) => stream.push(Recorded::Crash),
            (Process::Nemesis, EventValue::Nemesis(Nemesis::Restart { .. })) => {
                stream.push(Recorded::Restart)
            }
            (Process::Client(process), EventValue::Output(op, _))
                if event.kind == EventType::Ok =>
            {
                stream.push(Recorded::Op {
                    process: *process,
                    op: op.clone(),
                    ok: true,
                });
            }
            (Process::Client(process), EventValue::Op(op))
                if event.kind != EventType::Invoke && event.error.as_deref() != Some("crashed") =>
            {
                stream.push(Recorded::Op {
                    process: *process,
                    op: op.clone(),
                    ok: false,
                });
            }
            _ => {}
        }
    }
    stream
}

/// What replaying a stream directly did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirectRun {
    /// Ops executed.
    pub ops: u64,
    /// Ops whose success or failure matched the simulation's.
    pub same_outcome: u64,
}

/// Replays `stream` on a fresh `MemoryIO` database opened with `settings`' storage options.
pub fn run_direct(settings: &Settings, stream: &[Recorded]) -> braid_core::Result<DirectRun> {
    let io = Arc::new(MemoryIO::new());
    let path = "direct.db";
    let options = settings.db_options();
    let open = |io: &Arc<MemoryIO>| {
        let io: Arc<dyn IO> = io.clone();
        Database::open_blocking(io, path, options.clone())
    };
    let mut db = open(&io)?;
    let mut connections: BTreeMap<u64, Connection> = BTreeMap::new();
    let mut run = DirectRun::default();
    for item in stream {
        match item {
            Recorded::Crash => {
                connections.clear();
                db = open(&io)?;
            }
            Recorded::Restart => probe(io.as_ref(), &db)?,
            Recorded::Op { process, op, ok } => {
                let conn = connections.entry(*process).or_insert_with(|| db.connect());
                let core = to_core(op);
                let result = block_on(io.as_ref(), || conn.execute(&core));
                run.ops += 1;
                if result.is_ok() == *ok {
                    run.same_outcome += 1;
                }
            }
        }
    }
    Ok(run)
}

/// The full scan and integrity check the simulator runs after every recovery.
fn probe(io: &dyn IO, db: &Arc<Database>) -> braid_core::Result<()> {
    let conn = db.connect();
    let scan = braid_core::Op::Scan {
        start: vec![],
        end: None,
        limit: usize::MAX,
    };
    block_on(io, || conn.execute(&scan))?;
    block_on(io, || conn.execute(&braid_core::Op::IntegrityCheck))?;
    Ok(())
}

/// One seed's comparison.
#[derive(Debug, Clone)]
pub struct OverheadSample {
    pub seed: u64,
    pub ops: u64,
    pub same_outcome: u64,
    /// CPU seconds of the simulation (wall seconds where CPU time cannot be read).
    pub sim_seconds: f64,
    /// CPU seconds of the direct replay.
    pub direct_seconds: f64,
}

impl OverheadSample {
    /// Simulator time over direct time for the same ops.
    pub fn ratio(&self) -> f64 {
        self.sim_seconds / self.direct_seconds
    }
}

/// Times each side is run per seed; the least CPU time of each counts.
pub const REPEATS: usize = 3;

/// Measures one seed of `config`, each side `repeats` times (at least once).
pub fn measure(config: &Config, seed: u64, repeats: usize) -> OverheadSample {
    let settings = config
        .resolve(seed)
        .settings()
        .expect("the benchmark config gives valid settings");
    let options = SimOptions {
        record_history: true,
        ..SimOptions::default()
    };
    let artifacts = Simulation::new(settings.clone(), seed, options).run_full();
    let history = artifacts
        .history
        .expect("record_history was asked for, so the run has a history");
    assert_eq!(
        history.dropped(),
        0,
        "the history kept every event (use fewer steps)"
    );
    let stream = op_stream(&history);
    let mut sim_seconds = f64::INFINITY;
    let mut direct_seconds = f64::INFINITY;
    let mut direct = DirectRun::default();
    for _ in 0..repeats.max(1) {
        let (_, sim) =
            timed(|| Simulation::new(settings.clone(), seed, SimOptions::default()).run());
        sim_seconds = sim_seconds.min(sim.best_seconds());
        let (run, direct_time) = timed(|| run_direct(&settings, &stream));
        direct = run.expect("the direct replay on MemoryIO has no I/O faults");
        direct_seconds = direct_seconds.min(direct_time.best_seconds());
    }
    OverheadSample {
        seed,
        ops: direct.ops,
        same_outcome: direct.same_outcome,
        sim_seconds,
        direct_seconds,
    }
}

/// The default config with every fault, crash and injected yield switched off: what is left
/// is the cost of scheduling, SimIO and the oracle.
pub fn quiet_config(steps: Option<u64>) -> Config {
    let mut config = default_config_with(steps);
    let faults = &mut config.faults;
    faults.read_error = 0.0;
    faults.write_error = 0.0;
    faults.sync_error = 0.0;
    faults.short_read = 0.0;
    faults.short_write = 0.0;
    faults.latency = 0.0;
    faults.group_fail = 0.0;
    faults.group_cancel = 0.0;
    faults.crash = 0.0;
    faults.bit_flip = 0.0;
    config.scheduler.yield_probability = 0.0;
    config
}

/// Runs the comparison for every seed, on the default config and on its quiet variant.
pub fn run(seeds: &[u64], steps: Option<u64>) -> Vec<(&'static str, Summary)> {
    let mut summaries = Vec::new();
    let configs = [
        ("default config", default_config_with(steps)),
        ("default config, no faults or yields", quiet_config(steps)),
    ];
    for (name, config) in configs {
        println!(
            "bench overhead: {name}, {} steps per seed, seeds {seeds:?}, least CPU time of \
             {REPEATS} runs of each side",
            config.run.steps
        );
        let mut ratios = Vec::new();
        for &seed in seeds {
            let s = measure(&config, seed, REPEATS);
            println!(
                "  seed {:>3}: {:>7} ops ({:.1}% same outcome)  sim {:.3} s CPU = {:.2} µs/op  \
                 direct {:.3} s CPU = {:.2} µs/op  ratio {:.2}x",
                s.seed,
                s.ops,
                100.0 * s.same_outcome as f64 / s.ops.max(1) as f64,
                s.sim_seconds,
                1e6 * s.sim_seconds / s.ops.max(1) as f64,
                s.direct_seconds,
                1e6 * s.direct_seconds / s.ops.max(1) as f64,
                s.ratio()
            );
            ratios.push(s.ratio());
        }
        if let Some(summary) = Summary::of(&ratios) {
            println!("  simulator / direct: {}", summary.describe(2));
            summaries.push((name, summary));
        }
    }
    summaries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_keeps_completed_ops_and_crashes_in_order() {
        let mut history = History::new();
        let put = Op::Put(b"k".to_vec(), b"v".to_vec());
        history.invoke_op(1, 1, &put);
        history.complete_op(2, 1, &put, &Ok(braid_oracle::OpOutput::Done), false);
        history.invoke_op(3, 1, &Op::Commit);
        history.invoke_op(3, 2, &Op::Get(b"k".to_vec()));
        history.complete_op(
            4,
            2,
            &Op::Get(b"k".to_vec()),
            &Err(braid_oracle::OpError::Busy),
            false,
        );
        history.crash(5);
        let stream = op_stream(&history);
        assert_eq!(
            stream,
            vec![
                Recorded::Op {
                    process: 1,
                    op: put,
                    ok: true
                },
                Recorded::Op {
                    process: 2,
                    op: Op::Get(b"k".to_vec()),
                    ok: false
                },
                Recorded::Crash,
            ],
            "the commit cut off by the crash is not replayed"
        );
    }

    #[test]
    fn a_small_simulation_replays_directly_with_matching_outcomes() {
        let config = quiet_config(Some(2_000));
        let sample = measure(&config, 1, 1);
        assert!(sample.ops > 100, "the run completed ops: {sample:?}");
        assert!(
            sample.same_outcome * 10 >= sample.ops * 8,
            "most ops end the same way directly: {sample:?}"
        );
    }
}
