//! Schedulers: at every decision of a simulation, pick one enabled event.
//!
//! The enabled events are "step fiber i" (a fiber not waiting on I/O) and "complete pending
//! I/O j" (an operation whose `ready_at` has come). The loop builds a `SchedView` listing
//! them, asks `Scheduler::choose`, and carries out the `Decision`. One file per strategy:
//!
//! - `random`: uniform over the enabled events.
//! - `round_robin`: the baseline. Fibers in turn; after each fiber step, every ready I/O is
//!   completed in submission order. Draws nothing.
//! - `pct`: Burckhardt et al. 2010. Random fiber priorities, `depth - 1` priority change
//!   points; runs the highest-priority runnable fiber; a draw interleaves I/O completions.
//! - `replay`: follows a recorded decision log (not a tape). Replaying a tape needs no
//!   strategy of its own: any strategy fed a replaying `Choices` repeats its decisions.
//!   `ReplayScheduler` is for what a tape cannot do: re-running a timeline after the
//!   strategy's code changed, or replaying a hand-edited list of decisions.
//!
//! Every draw is encoded so that 0 is the simplest outcome: keep running the current fiber,
//! complete the oldest ready I/O, no priority change. `simplest_decision` is what an
//! all-zero tape does under `random`.
//!
//! Contract with the loop: call `choose` only when `SchedView::has_enabled` holds (when
//! nothing is enabled but I/O is held, advance the clock to the earliest `ready_at`
//! instead); the returned decision is always one of the enabled events. A fiber backing
//! off after `Busy` should be reported as not runnable until some other event happens,
//! or a tape of zeros (which never switches fibers) could spin it forever.

mod pct;
mod random;
mod replay;
mod round_robin;

pub use pct::PctScheduler;
pub use random::RandomScheduler;
pub use replay::ReplayScheduler;
pub use round_robin::RoundRobinScheduler;

use serde::{Deserialize, Serialize};

use super::choices::Choices;
use super::sim_io::PendingOp;

/// One pending I/O as a scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoCandidate {
    /// The operation's id (`PendingOp::id`).
    pub id: u64,
    /// Whether it may complete now (its hold, if any, has expired).
    pub ready: bool,
}

impl IoCandidate {
    /// The candidate for `op` at decision `now`.
    pub fn from_pending(op: &PendingOp, now: u64) -> Self {
        IoCandidate {
            id: op.id,
            ready: op.is_ready(now),
        }
    }
}

/// What a scheduler may choose from at one decision.
#[derive(Debug, Clone, Copy)]
pub struct SchedView<'a> {
    /// The decision number (0-based).
    pub step: u64,
    /// Number of fibers that exist (runnable or not); fibers are `0..fiber_count`.
    pub fiber_count: usize,
    /// Fibers that may step now, in ascending order.
    pub runnable: &'a [usize],
    /// The fiber that stepped most recently, if any.
    pub last_fiber: Option<usize>,
    /// Pending I/O in submission order (ascending id), ready or held.
    pub ios: &'a [IoCandidate],
}

impl SchedView<'_> {
    /// Ids of the I/Os that may complete now, oldest first.
    pub fn ready_ios(&self) -> impl Iterator<Item = u64> + '_ {
        self.ios.iter().filter(|io| io.ready).map(|io| io.id)
    }

    /// Whether any event is enabled.
    pub fn has_enabled(&self) -> bool {
        !self.runnable.is_empty() || self.ios.iter().any(|io| io.ready)
    }

    /// Whether `decision` is one of the enabled events.
    pub fn is_enabled(&self, decision: Decision) -> bool {
        match decision {
            Decision::StepFiber(f) => self.runnable.contains(&f),
            Decision::CompleteIo(id) => self.ios.iter().any(|io| io.id == id && io.ready),
        }
    }

    /// Whether the fiber that stepped last may step again.
    pub fn last_is_runnable(&self) -> bool {
        self.last_fiber.is_some_and(|f| self.runnable.contains(&f))
    }

    /// Runnable fibers in turn after the last one: those above it ascending, then those
    /// below it, then the last fiber itself (if runnable).
    pub fn fibers_in_turn(&self) -> Vec<usize> {
        let Some(last) = self.last_fiber else {
            return self.runnable.to_vec();
        };
        let after = self.runnable.iter().filter(|&&f| f > last);
        let before = self.runnable.iter().filter(|&&f| f < last);
        let mut turn: Vec<usize> = after.chain(before).copied().collect();
        if self.runnable.contains(&last) {
            turn.push(last);
        }
        turn
    }

    /// Number of I/Os that may complete now.
    pub fn ready_count(&self) -> usize {
        self.ios.iter().filter(|io| io.ready).count()
    }

    /// Runnable fibers in turn after the last one, without the last one itself: the first
    /// of them is the next fiber in turn (`fibers_in_turn` without building a list).
    fn others_in_turn(&self) -> impl Iterator<Item = usize> + '_ {
        let last = self.last_fiber;
        let after = self
            .runnable
            .iter()
            .filter(move |&&f| last.is_none_or(|last| f > last));
        let before = self
            .runnable
            .iter()
            .filter(move |&&f| last.is_some_and(|last| f < last));
        after.chain(before).copied()
    }

    /// The first runnable fiber in turn after the last one (`fibers_in_turn()[0]`).
    pub fn next_in_turn(&self) -> Option<usize> {
        self.others_in_turn()
            .next()
            .or(self.last_fiber.filter(|_| self.last_is_runnable()))
    }

    /// Number of enabled events (`enabled_simplest_first().len()`).
    pub fn enabled_count(&self) -> usize {
        self.runnable.len() + self.ready_count()
    }

    /// Event `index` of `enabled_simplest_first()`, found without building the list (the
    /// random scheduler asks this at every decision). `index < enabled_count()`.
    pub fn enabled_at(&self, index: usize) -> Decision {
        let mut rest = index;
        if let Some(last) = self.last_fiber.filter(|_| self.last_is_runnable()) {
            if rest == 0 {
                return Decision::StepFiber(last);
            }
            rest -= 1;
        }
        let mut ready = 0;
        for id in self.ready_ios() {
            if ready == rest {
                return Decision::CompleteIo(id);
            }
            ready += 1;
        }
        let fiber = self
            .others_in_turn()
            .nth(rest - ready)
            .expect("index < enabled_count()");
        Decision::StepFiber(fiber)
    }

    /// Every enabled event, simplest first: the last fiber (no context switch), then ready
    /// I/O oldest first, then the other runnable fibers in turn.
    pub fn enabled_simplest_first(&self) -> Vec<Decision> {
        let mut events = Vec::with_capacity(self.runnable.len() + self.ios.len());
        let last = self.last_fiber.filter(|_| self.last_is_runnable());
        if let Some(last) = last {
            events.push(Decision::StepFiber(last));
        }
        events.extend(self.ready_ios().map(Decision::CompleteIo));
        let others = self
            .fibers_in_turn()
            .into_iter()
            .filter(|&f| Some(f) != last);
        events.extend(others.map(Decision::StepFiber));
        events
    }
}

/// One scheduling decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Decision {
    /// Run fiber `i` until its next yield.
    StepFiber(usize),
    /// Complete pending I/O with this id (the loop also decides its outcome: success or
    /// an injected fault).
    CompleteIo(u64),
}

/// The simplest enabled event (what draw 0 picks under `random`).
pub fn simplest_decision(view: &SchedView) -> Decision {
    *view
        .enabled_simplest_first()
        .first()
        .expect("choose is called only with an enabled event")
}

/// A scheduling strategy. Deterministic: the same views and draws give the same decisions.
pub trait Scheduler {
    /// Stable name, as written in configs ("random", "round-robin", "pct", "replay").
    fn name(&self) -> &'static str;
    /// Picks one enabled event; `view.has_enabled()` must hold.
    fn choose(&mut self, view: &SchedView, choices: &mut Choices) -> Decision;
}

/// A strategy as configured (everything but `replay`, which needs a decision log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `RandomScheduler`.
    Random,
    /// `RoundRobinScheduler`.
    RoundRobin,
    /// `PctScheduler`. `depth`: the bug depth d (d − 1 change points, d >= 1);
    /// `expected_steps`: the number of fiber steps change points are spread over;
    /// `interleave_ppm`: chance, in parts per million, of taking the less simple of "step a
    /// fiber" and "complete I/O".
    Pct {
        depth: u32,
        expected_steps: u64,
        interleave_ppm: u32,
    },
}

impl Strategy {
    /// Names accepted by `from_name`.
    pub const NAMES: [&'static str; 3] = ["random", "round-robin", "pct"];

    /// The strategy called `name`, with PCT's parameters when it is "pct".
    pub fn from_name(name: &str, pct_depth: u32, expected_steps: u64) -> Option<Strategy> {
        match name {
            "random" => Some(Strategy::Random),
            "round-robin" => Some(Strategy::RoundRobin),
            "pct" => Some(Strategy::Pct {
                depth: pct_depth,
                expected_steps,
                interleave_ppm: PctScheduler::DEFAULT_INTERLEAVE_PPM,
            }),
            _ => None,
        }
    }

    /// A fresh scheduler of this strategy.
    pub fn build(self) -> Box<dyn Scheduler + Send> {
        match self {
            Strategy::Random => Box::new(RandomScheduler::new()),
            Strategy::RoundRobin => Box::new(RoundRobinScheduler::new()),
            Strategy::Pct {
                depth,
                expected_steps,
                interleave_ppm,
            } => Box::new(
                PctScheduler::new(depth, expected_steps).with_interleave_ppm(interleave_ppm),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fibers_take_turns_after_the_last_one() {
        let ios = [
            IoCandidate {
                id: 4,
                ready: false,
            },
            IoCandidate { id: 5, ready: true },
        ];
        let view = SchedView {
            step: 0,
            fiber_count: 4,
            runnable: &[0, 1, 3],
            last_fiber: Some(1),
            ios: &ios,
        };
        assert_eq!(view.fibers_in_turn(), vec![3, 0, 1]);
        assert_eq!(
            view.enabled_simplest_first(),
            vec![
                Decision::StepFiber(1),
                Decision::CompleteIo(5),
                Decision::StepFiber(3),
                Decision::StepFiber(0)
            ]
        );
        assert!(
            !view.is_enabled(Decision::CompleteIo(4)),
            "held I/O is not enabled"
        );
        assert!(!view.is_enabled(Decision::StepFiber(2)));
    }

    #[test]
    fn enabled_at_indexes_the_simplest_first_list_without_building_it() {
        let io_sets: [&[IoCandidate]; 3] = [
            &[],
            &[IoCandidate { id: 3, ready: true }],
            &[
                IoCandidate { id: 4, ready: true },
                IoCandidate {
                    id: 5,
                    ready: false,
                },
                IoCandidate { id: 6, ready: true },
            ],
        ];
        let runnable_sets: [&[usize]; 5] = [&[], &[0], &[2], &[0, 2, 3], &[1, 2, 3, 4]];
        let mut checked = 0;
        for ios in io_sets {
            for runnable in runnable_sets {
                for last_fiber in [None, Some(0), Some(2), Some(4)] {
                    let view = SchedView {
                        step: 0,
                        fiber_count: 5,
                        runnable,
                        last_fiber,
                        ios,
                    };
                    let list = view.enabled_simplest_first();
                    assert_eq!(view.enabled_count(), list.len(), "{view:?}");
                    for (index, &decision) in list.iter().enumerate() {
                        assert_eq!(view.enabled_at(index), decision, "{view:?} at {index}");
                    }
                    assert_eq!(
                        view.next_in_turn(),
                        view.fibers_in_turn().first().copied(),
                        "{view:?}"
                    );
                    checked += list.len();
                }
            }
        }
        assert!(checked > 100, "the views cover many events: {checked}");
    }

    #[test]
    fn simplest_completes_the_oldest_ready_io_when_the_last_fiber_waits() {
        let ios = [
            IoCandidate { id: 7, ready: true },
            IoCandidate { id: 8, ready: true },
        ];
        let view = SchedView {
            step: 3,
            fiber_count: 2,
            runnable: &[0],
            last_fiber: Some(1),
            ios: &ios,
        };
        assert_eq!(simplest_decision(&view), Decision::CompleteIo(7));
    }

    #[test]
    fn strategies_are_found_by_name() {
        for name in Strategy::NAMES {
            let strategy = Strategy::from_name(name, 3, 100).expect("known name");
            assert_eq!(strategy.build().name(), name);
        }
        assert_eq!(Strategy::from_name("fifo", 3, 100), None);
    }
}
