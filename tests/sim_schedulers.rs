//! Schedulers over a synthetic workload: fibers that each take a few steps, most of which
//! submit a write to `SimIO` and wait for it. Checks that every strategy is deterministic
//! for a seed, that the strategies interleave differently on the same seed, that a tape
//! replays the same schedule, and what a tape of zeros means.

use std::sync::Arc;

use braid::sim::scheduler::{PctScheduler, RandomScheduler, ReplayScheduler, RoundRobinScheduler};
use braid::sim::{
    Choices, Decision, IoCandidate, IoOutcome, SchedView, Scheduler, SimIO, Strategy, Tape,
};
use braid_core::{Completion, File, IO};

const FIBERS: usize = 3;
const STEPS: u64 = 6;

struct Fiber {
    steps_taken: u64,
    waiting: Option<Completion>,
}

struct Run {
    trace: Vec<Decision>,
    /// Fiber steps chosen while some I/O was ready to complete.
    steps_with_ready_io: usize,
    tape: Tape,
    final_image: Vec<u8>,
}

/// Drives the synthetic workload to the end under `scheduler`.
fn run(scheduler: &mut dyn Scheduler, mut choices: Choices) -> Run {
    let io = SimIO::new();
    let file: Arc<dyn File> = io.open_file("db").expect("open");
    let mut fibers: Vec<Fiber> = (0..FIBERS)
        .map(|_| Fiber {
            steps_taken: 0,
            waiting: None,
        })
        .collect();
    let mut trace = Vec::new();
    let mut steps_with_ready_io = 0;
    let mut last_fiber = None;
    for step in 0.. {
        assert!(step < 1_000, "the synthetic workload always finishes");
        io.set_now(step);
        for fiber in &mut fibers {
            if fiber.waiting.as_ref().is_some_and(Completion::finished) {
                fiber.waiting = None;
            }
        }
        let runnable: Vec<usize> = (0..FIBERS)
            .filter(|&i| fibers[i].steps_taken < STEPS && fibers[i].waiting.is_none())
            .collect();
        let ios: Vec<IoCandidate> = io
            .pending_ops()
            .iter()
            .map(|op| IoCandidate::from_pending(op, step))
            .collect();
        let view = SchedView {
            step,
            fiber_count: FIBERS,
            runnable: &runnable,
            last_fiber,
            ios: &ios,
        };
        if !view.has_enabled() {
            assert!(ios.is_empty(), "nothing is held in this workload");
            break;
        }
        choices.begin_span("decision");
        let decision = scheduler.choose(&view, &mut choices);
        choices.end_span();
        assert!(
            view.is_enabled(decision),
            "{} chose {decision:?}, not enabled",
            scheduler.name()
        );
        match decision {
            Decision::StepFiber(i) => {
                steps_with_ready_io += usize::from(view.ready_ios().next().is_some());
                let fiber = &mut fibers[i];
                // Two steps in three write their own 8 bytes and wait; the third computes.
                if fiber.steps_taken % 3 != 2 {
                    let offset = (i as u64 * STEPS + fiber.steps_taken) * 8;
                    let bytes = [i as u8 + 1; 8];
                    let c = file
                        .pwrite(offset, &bytes, Completion::new_noop())
                        .expect("submit");
                    fiber.waiting = Some(c);
                }
                fiber.steps_taken += 1;
                last_fiber = Some(i);
            }
            Decision::CompleteIo(id) => io.complete(id, IoOutcome::Ok).expect("pending"),
        }
        trace.push(decision);
    }
    assert!(
        fibers.iter().all(|f| f.steps_taken == STEPS),
        "every fiber finished"
    );
    let final_image = io.volatile_image("db").expect("file");
    Run {
        trace,
        steps_with_ready_io,
        tape: choices.into_tape(),
        final_image,
    }
}

fn strategies() -> Vec<Strategy> {
    vec![
        Strategy::Random,
        Strategy::RoundRobin,
        Strategy::Pct {
            depth: 3,
            expected_steps: FIBERS as u64 * STEPS,
            interleave_ppm: 500_000,
        },
    ]
}

fn run_strategy(strategy: Strategy, seed: u64) -> Run {
    run(strategy.build().as_mut(), Choices::recording(seed))
}

fn fiber_steps(trace: &[Decision]) -> Vec<usize> {
    trace
        .iter()
        .filter_map(|d| match d {
            Decision::StepFiber(i) => Some(*i),
            Decision::CompleteIo(_) => None,
        })
        .collect()
}

#[test]
fn every_strategy_is_deterministic_for_a_seed() {
    for strategy in strategies() {
        for seed in [1, 2] {
            let (a, b) = (run_strategy(strategy, seed), run_strategy(strategy, seed));
            assert_eq!(a.trace, b.trace, "{strategy:?} seed {seed}");
            assert_eq!(a.tape, b.tape, "{strategy:?} seed {seed}");
        }
    }
}

#[test]
fn strategies_interleave_differently_on_the_same_seed() {
    for seed in [7, 8, 9] {
        let runs: Vec<Run> = strategies()
            .into_iter()
            .map(|s| run_strategy(s, seed))
            .collect();
        for i in 0..runs.len() {
            for j in i + 1..runs.len() {
                assert_ne!(
                    runs[i].trace, runs[j].trace,
                    "strategies {i} and {j}, seed {seed}"
                );
            }
            assert_eq!(
                runs[i].final_image, runs[0].final_image,
                "all finish the same work"
            );
        }
    }
}

#[test]
fn random_seeds_give_different_interleavings() {
    let traces: Vec<Vec<Decision>> = (0..4)
        .map(|seed| run_strategy(Strategy::Random, seed).trace)
        .collect();
    assert!(traces.windows(2).all(|w| w[0] != w[1]));
}

#[test]
fn replaying_the_tape_reproduces_the_schedule() {
    for strategy in strategies() {
        let recorded = run_strategy(strategy, 21);
        let replayed = run(
            strategy.build().as_mut(),
            Choices::replaying_tape(&recorded.tape),
        );
        assert_eq!(replayed.trace, recorded.trace, "{strategy:?}");
        assert_eq!(replayed.tape.values, recorded.tape.values, "{strategy:?}");
    }
}

#[test]
fn the_decision_log_replays_without_drawing() {
    let recorded = run_strategy(Strategy::Random, 33);
    let mut replay = ReplayScheduler::new(recorded.trace.clone());
    let replayed = run(&mut replay, Choices::replaying(Vec::new()));
    assert_eq!(replayed.trace, recorded.trace);
    assert_eq!(replay.diverged_at(), None);
    assert!(replayed.tape.values.is_empty());
}

#[test]
fn round_robin_steps_fibers_in_turn_and_drains_io_between_steps() {
    let run = run(&mut RoundRobinScheduler::new(), Choices::recording(5));
    let steps = fiber_steps(&run.trace);
    let expected: Vec<usize> = (0..STEPS as usize * FIBERS).map(|k| k % FIBERS).collect();
    assert_eq!(steps, expected);
    assert_eq!(
        run.steps_with_ready_io, 0,
        "I/O is drained before the next fiber steps"
    );
    assert!(run.tape.values.is_empty(), "round-robin draws nothing");
}

#[test]
fn a_tape_of_zeros_never_switches_fibers_voluntarily() {
    for scheduler in [
        &mut RandomScheduler::new() as &mut dyn Scheduler,
        &mut PctScheduler::new(3, FIBERS as u64 * STEPS),
    ] {
        let run = run(scheduler, Choices::replaying(Vec::new()));
        let steps = fiber_steps(&run.trace);
        let mut sorted = steps.clone();
        sorted.sort_unstable();
        assert_eq!(steps, sorted, "fiber 0 runs to the end, then fiber 1, ...");
    }
}

#[test]
fn pct_depth_sets_the_number_of_change_points_and_changes_the_schedule() {
    let expected_steps = FIBERS as u64 * STEPS;
    let mut differs = false;
    for seed in 0..5 {
        let mut traces = Vec::new();
        for depth in 1..=4u32 {
            let mut pct = PctScheduler::new(depth, expected_steps);
            let run = run(&mut pct, Choices::recording(seed));
            assert_eq!(pct.change_points().len(), depth as usize - 1);
            assert!(
                pct.change_points()
                    .iter()
                    .all(|&p| (1..=expected_steps).contains(&p))
            );
            traces.push(run.trace);
        }
        differs |= traces.windows(2).any(|w| w[0] != w[1]);
    }
    assert!(differs, "depth changes some schedule");
}
