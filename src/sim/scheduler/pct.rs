//! `pct`: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
//! ASPLOS 2010), adapted to fibers and simulated I/O.
//!
//! - Each fiber gets a random priority when first seen: it is inserted at a uniformly drawn
//!   place in the priority order, which over all fibers gives a uniform random permutation.
//!   Draw 0 appends it below the fibers already known, so a tape of zeros runs fiber 0
//!   first, then fiber 1, and so on (no context switch until a fiber waits).
//! - At the first decision `depth - 1` change points are drawn in `1..=expected_steps`
//!   (counted in fiber steps), each as `expected_steps - draw`, so draw 0 puts it at the
//!   very end, where it changes nothing in a run of the expected length.
//! - When the next fiber step is a change point, the fiber that would run is demoted below
//!   every other fiber (later demotions sink below earlier ones) and the choice is remade.
//! - The highest-priority runnable fiber runs. When I/O is ready too, one draw decides
//!   whether to complete I/O instead (`io_ppm` parts per million; 0 = run the fiber); which
//!   ready I/O is one more draw (0 = the oldest). With no fiber runnable, I/O completes.
//!
//! A bug of depth d among n fibers in k steps is found with probability at least
//! 1/(n·k^(d−1)) per run, for the fiber interleaving part of the schedule.

use super::{Decision, SchedView, Scheduler};
use crate::sim::choices::Choices;
use braid_workloads::Draw;

/// PCT with configurable depth.
#[derive(Debug, Clone)]
pub struct PctScheduler {
    depth: u32,
    expected_steps: u64,
    io_ppm: u32,
    /// Fibers never demoted, highest priority first.
    order: Vec<usize>,
    /// Demoted fibers, highest priority first (each demotion appends).
    demoted: Vec<usize>,
    /// Fibers assigned a priority so far (`0..known`).
    known: usize,
    /// Fiber-step numbers (1-based) at which a demotion happens, ascending.
    change_points: Vec<u64>,
    /// Fiber steps chosen so far.
    fiber_steps: u64,
    started: bool,
}

impl PctScheduler {
    /// Default chance of completing ready I/O instead of stepping a fiber: one in two.
    pub const DEFAULT_IO_PPM: u32 = 500_000;

    /// PCT of bug depth `depth` (>= 1) over about `expected_steps` fiber steps (>= 1).
    pub fn new(depth: u32, expected_steps: u64) -> Self {
        assert!(depth >= 1, "PCT depth is at least 1");
        PctScheduler {
            depth,
            expected_steps: expected_steps.max(1),
            io_ppm: Self::DEFAULT_IO_PPM,
            order: Vec::new(),
            demoted: Vec::new(),
            known: 0,
            change_points: Vec::new(),
            fiber_steps: 0,
            started: false,
        }
    }

    /// Sets the chance (parts per million) of completing ready I/O instead of a fiber step.
    pub fn with_io_ppm(mut self, io_ppm: u32) -> Self {
        self.io_ppm = io_ppm.min(1_000_000);
        self
    }

    /// The drawn change points (fiber-step numbers), ascending.
    pub fn change_points(&self) -> &[u64] {
        &self.change_points
    }

    /// Fibers from highest to lowest priority.
    pub fn priority_order(&self) -> Vec<usize> {
        self.order.iter().chain(&self.demoted).copied().collect()
    }

    fn start(&mut self, choices: &mut Choices) {
        choices.begin_span("pct-change-points");
        for _ in 1..self.depth {
            let point = self.expected_steps - choices.draw(self.expected_steps);
            self.change_points.push(point);
        }
        choices.end_span();
        self.change_points.sort_unstable();
        self.started = true;
    }

    fn assign_priorities(&mut self, fiber_count: usize, choices: &mut Choices) {
        while self.known < fiber_count {
            let from_bottom = choices.draw(self.order.len() as u64 + 1) as usize;
            self.order
                .insert(self.order.len() - from_bottom, self.known);
            self.known += 1;
        }
    }

    fn highest_runnable(&self, view: &SchedView) -> Option<usize> {
        self.order
            .iter()
            .chain(&self.demoted)
            .copied()
            .find(|f| view.runnable.contains(f))
    }

    fn demote(&mut self, fiber: usize) {
        self.order.retain(|&f| f != fiber);
        self.demoted.retain(|&f| f != fiber);
        self.demoted.push(fiber);
    }
}

impl Scheduler for PctScheduler {
    fn name(&self) -> &'static str {
        "pct"
    }

    fn choose(&mut self, view: &SchedView, choices: &mut Choices) -> Decision {
        if !self.started {
            self.start(choices);
        }
        self.assign_priorities(view.fiber_count, choices);
        let ready: Vec<u64> = view.ready_ios().collect();
        let mut fiber = self.highest_runnable(view);
        if let Some(f) = fiber {
            if !ready.is_empty() && choices.chance(self.io_ppm) {
                return Decision::CompleteIo(ready[choices.draw_index(ready.len())]);
            }
            let step = self.fiber_steps + 1;
            if self.change_points.contains(&step) {
                // Several change points on one step demote the same fiber: once is enough.
                self.demote(f);
                fiber = self.highest_runnable(view);
            }
        }
        match fiber {
            Some(f) => {
                self.fiber_steps += 1;
                Decision::StepFiber(f)
            }
            None => {
                assert!(
                    !ready.is_empty(),
                    "choose is called only with an enabled event"
                );
                Decision::CompleteIo(ready[choices.draw_index(ready.len())])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scheduler::IoCandidate;

    fn view<'a>(runnable: &'a [usize], ios: &'a [IoCandidate]) -> SchedView<'a> {
        SchedView {
            step: 0,
            fiber_count: 3,
            runnable,
            last_fiber: None,
            ios,
        }
    }

    #[test]
    fn zeros_run_fibers_in_index_order_without_switching() {
        let mut pct = PctScheduler::new(3, 10);
        let mut zeros = Choices::replaying(Vec::new());
        assert_eq!(
            pct.choose(&view(&[0, 1, 2], &[]), &mut zeros),
            Decision::StepFiber(0)
        );
        assert_eq!(pct.change_points(), &[10, 10]);
        assert_eq!(pct.priority_order(), vec![0, 1, 2]);
        let ios = [IoCandidate { id: 1, ready: true }];
        assert_eq!(
            pct.choose(&view(&[1, 2], &ios), &mut zeros),
            Decision::StepFiber(1)
        );
        assert_eq!(
            pct.choose(&view(&[], &ios), &mut zeros),
            Decision::CompleteIo(1)
        );
    }

    #[test]
    fn a_change_point_demotes_the_running_fiber_below_everyone() {
        let mut pct = PctScheduler::new(2, 4);
        // Change point: 4 - 2 = fiber step 2; priorities: zeros keep 0 > 1 > 2.
        let mut choices = Choices::replaying(vec![2]);
        let all = [0, 1, 2];
        assert_eq!(
            pct.choose(&view(&all, &[]), &mut choices),
            Decision::StepFiber(0)
        );
        assert_eq!(
            pct.choose(&view(&all, &[]), &mut choices),
            Decision::StepFiber(1)
        );
        assert_eq!(pct.priority_order(), vec![1, 2, 0]);
        assert_eq!(
            pct.choose(&view(&all, &[]), &mut choices),
            Decision::StepFiber(1)
        );
    }

    #[test]
    fn new_fibers_are_inserted_at_drawn_places() {
        let mut pct = PctScheduler::new(1, 10);
        // Fiber 0 alone; fiber 1 draws 1 (one above the bottom: top); fiber 2 draws 1.
        let mut choices = Choices::replaying(vec![1, 1]);
        pct.choose(&view(&[0, 1, 2], &[]), &mut choices);
        assert_eq!(pct.priority_order(), vec![1, 2, 0]);
    }
}
