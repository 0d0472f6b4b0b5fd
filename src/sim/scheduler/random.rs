//! `random`: every decision is uniform over the enabled events.
//!
//! The events are ordered simplest first (`SchedView::enabled_simplest_first`): the fiber
//! that ran last, then ready I/O oldest first, then the other fibers in turn. One draw
//! picks the index, so draw 0 keeps running the current fiber, or completes the oldest
//! ready I/O when that fiber waits.

use super::{Decision, SchedView, Scheduler};
use crate::sim::choices::Choices;

/// Uniform choice among enabled events.
#[derive(Debug, Clone, Default)]
pub struct RandomScheduler;

impl RandomScheduler {
    /// A random scheduler (it keeps no state: every decision is one draw).
    pub fn new() -> Self {
        RandomScheduler
    }
}

impl Scheduler for RandomScheduler {
    fn name(&self) -> &'static str {
        "random"
    }

    fn choose(&mut self, view: &SchedView, choices: &mut Choices) -> Decision {
        let count = view.enabled_count();
        assert!(count > 0, "choose is called only with an enabled event");
        view.enabled_at(choices.draw_index(count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scheduler::IoCandidate;

    #[test]
    fn draw_indexes_the_simplest_first_list() {
        let ios = [IoCandidate { id: 9, ready: true }];
        let view = SchedView {
            step: 0,
            fiber_count: 2,
            runnable: &[0, 1],
            last_fiber: Some(0),
            ios: &ios,
        };
        let mut choices = Choices::replaying(vec![0, 1, 2]);
        let mut random = RandomScheduler::new();
        assert_eq!(random.choose(&view, &mut choices), Decision::StepFiber(0));
        assert_eq!(random.choose(&view, &mut choices), Decision::CompleteIo(9));
        assert_eq!(random.choose(&view, &mut choices), Decision::StepFiber(1));
    }
}
