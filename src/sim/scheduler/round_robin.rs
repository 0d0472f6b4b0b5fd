//! `round-robin`: the baseline every other strategy is measured against (Whopper's). Fibers
//! step in turn; after each step every ready I/O is completed in submission order before
//! the next fiber runs. It draws nothing, so a run depends only on the workload's draws.

use super::{Decision, SchedView, Scheduler};
use crate::sim::choices::Choices;

/// Fibers in turn, I/O drained in order between steps.
#[derive(Debug, Clone, Default)]
pub struct RoundRobinScheduler;

impl RoundRobinScheduler {
    /// A round-robin scheduler (it keeps no state: the view says which fiber ran last).
    pub fn new() -> Self {
        RoundRobinScheduler
    }
}

impl Scheduler for RoundRobinScheduler {
    fn name(&self) -> &'static str {
        "round-robin"
    }

    fn choose(&mut self, view: &SchedView, _choices: &mut Choices) -> Decision {
        if let Some(oldest) = view.ready_ios().next() {
            return Decision::CompleteIo(oldest);
        }
        let next = view.next_in_turn();
        Decision::StepFiber(next.expect("choose is called only with an enabled event"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scheduler::IoCandidate;

    #[test]
    fn drains_ready_io_in_order_then_moves_to_the_next_fiber() {
        let ios = [
            IoCandidate {
                id: 3,
                ready: false,
            },
            IoCandidate { id: 4, ready: true },
            IoCandidate { id: 5, ready: true },
        ];
        let mut choices = Choices::recording(1);
        let mut rr = RoundRobinScheduler::new();
        let view = SchedView {
            step: 0,
            fiber_count: 3,
            runnable: &[0, 2],
            last_fiber: Some(0),
            ios: &ios,
        };
        assert_eq!(rr.choose(&view, &mut choices), Decision::CompleteIo(4));
        let view = SchedView {
            ios: &ios[..1],
            ..view
        };
        assert_eq!(rr.choose(&view, &mut choices), Decision::StepFiber(2));
        let view = SchedView {
            last_fiber: Some(2),
            ..view
        };
        assert_eq!(rr.choose(&view, &mut choices), Decision::StepFiber(0));
        assert_eq!(choices.position(), 0, "round-robin draws nothing");
    }
}
