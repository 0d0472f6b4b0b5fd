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
//! - When a fiber steps, it is the highest-priority runnable one.
//! - I/O completions are interleaved by a draw, PCT's own extension to simulated I/O. When
//!   both a fiber and a ready I/O are enabled, the simple choice (draw 0) keeps the fiber
//!   that ran last going if it is runnable, and otherwise completes I/O (it usually waits on
//!   it); with `interleave_ppm` parts per million the other choice is taken. Which ready I/O
//!   completes is one more draw (0 = the oldest). A tape of zeros thus runs fiber 0 to the
//!   end, then fiber 1, and so on.
//!
//! A bug of depth d among n fibers in k steps is found with probability at least
//! 1/(n·k^(d−1)) per run, for the fiber interleaving part of the schedule.

use super::{Decision, SchedView, Scheduler};
use crate::sim::choices::Choices;

/// PCT with configurable depth.
#[derive(Debug, Clone)]
pub struct PctScheduler {
    depth: u32,
    expected_steps: u64,
    interleave_ppm: u32,
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
    /// Default chance of taking the less simple of "step a fiber" and "complete I/O".
    pub const DEFAULT_INTERLEAVE_PPM: u32 = 500_000;

    /// PCT of bug depth `depth` (>= 1) over about `expected_steps` fiber steps (>= 1).
    pub fn new(depth: u32, expected_steps: u64) -> Self {
        assert!(depth >= 1, "PCT depth is at least 1");
        PctScheduler {
            depth,
            expected_steps: expected_steps.max(1),
            interleave_ppm: Self::DEFAULT_INTERLEAVE_PPM,
            order: Vec::new(),
            demoted: Vec::new(),
            known: 0,
            change_points: Vec::new(),
            fiber_steps: 0,
            started: false,
        }
    }

    /// Sets the chance (parts per million) of taking the less simple of "step a fiber" and
    /// "complete I/O" when both are enabled.
    pub fn with_interleave_ppm(mut self, interleave_ppm: u32) -> Self {
        self.interleave_ppm = interleave_ppm.min(1_000_000);
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
        let ready = view.ready_count();
        let step_fiber = match (view.runnable.is_empty(), ready == 0) {
            (false, true) => true,
            (true, false) => false,
            // The simple choice keeps the current fiber going; when it waits, I/O first.
            (false, false) => view.last_is_runnable() != choices.chance(self.interleave_ppm),
            (true, true) => panic!("choose is called only with an enabled event"),
        };
        if !step_fiber {
            let index = choices.draw_index(ready);
            let id = view.ready_ios().nth(index).expect("index < ready I/Os");
            return Decision::CompleteIo(id);
        }
        let mut fiber = self.highest_runnable(view).expect("a fiber is runnable");
        if self.change_points.contains(&(self.fiber_steps + 1)) {
            // Several change points on one step demote the same fiber: once is enough.
            self.demote(fiber);
            fiber = self
                .highest_runnable(view)
                .expect("the demoted fiber is still runnable");
        }
        self.fiber_steps += 1;
        Decision::StepFiber(fiber)
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

    fn after<'a>(last: usize, runnable: &'a [usize], ios: &'a [IoCandidate]) -> SchedView<'a> {
        SchedView {
            last_fiber: Some(last),
            ..view(runnable, ios)
        }
    }

    #[test]
    fn zeros_run_fibers_in_index_order_without_switching() {
        let mut pct = PctScheduler::new(3, 10);
        let mut zeros = Choices::replaying(Vec::new());
        let first = pct.choose(&view(&[0, 1, 2], &[]), &mut zeros);
        assert_eq!(first, Decision::StepFiber(0));
        assert_eq!(pct.change_points(), &[10, 10]);
        assert_eq!(pct.priority_order(), vec![0, 1, 2]);
        let ios = [IoCandidate { id: 1, ready: true }];
        let waiting = pct.choose(&after(0, &[1, 2], &ios), &mut zeros);
        assert_eq!(
            waiting,
            Decision::CompleteIo(1),
            "fiber 0 waits: its I/O first"
        );
        let resumed = pct.choose(&after(0, &[0, 1, 2], &ios), &mut zeros);
        assert_eq!(resumed, Decision::StepFiber(0), "then fiber 0 again");
        assert_eq!(
            pct.choose(&view(&[], &ios), &mut zeros),
            Decision::CompleteIo(1)
        );
    }

    #[test]
    fn a_drawn_interleave_completes_io_while_the_current_fiber_could_run() {
        let mut pct = PctScheduler::new(1, 10);
        // Priorities of fibers 1 and 2 (zeros), then the interleave draw (the largest value).
        let mut choices = Choices::replaying(vec![0, 0, 999_999]);
        let ios = [IoCandidate { id: 4, ready: true }];
        let decision = pct.choose(&after(0, &[0, 1, 2], &ios), &mut choices);
        assert_eq!(decision, Decision::CompleteIo(4));
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
