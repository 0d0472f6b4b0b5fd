//! `replay`: follows a recorded log of decisions instead of drawing them.
//!
//! Replaying a tape does not need this: any strategy given a replaying `Choices` makes the
//! same decisions again. A decision log is for what a tape cannot carry across: the
//! strategy's code changed since the run, or a person edited the timeline by hand. When the
//! logged decision is not enabled (the run diverged) or the log has ended, the scheduler
//! takes the simplest enabled event and remembers the first decision where that happened.

use super::{Decision, SchedView, Scheduler, simplest_decision};
use crate::sim::choices::Choices;

/// Replays a decision log.
#[derive(Debug, Clone)]
pub struct ReplayScheduler {
    log: Vec<Decision>,
    next: usize,
    diverged_at: Option<u64>,
}

impl ReplayScheduler {
    /// A scheduler that makes the decisions of `log`, in order.
    pub fn new(log: Vec<Decision>) -> Self {
        ReplayScheduler {
            log,
            next: 0,
            diverged_at: None,
        }
    }

    /// The first decision (its `SchedView::step`) that could not follow the log.
    pub fn diverged_at(&self) -> Option<u64> {
        self.diverged_at
    }
}

impl Scheduler for ReplayScheduler {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn choose(&mut self, view: &SchedView, _choices: &mut Choices) -> Decision {
        let logged = self.log.get(self.next).copied();
        self.next += 1;
        match logged {
            Some(decision) if view.is_enabled(decision) => decision,
            _ => {
                self.diverged_at.get_or_insert(view.step);
                simplest_decision(view)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scheduler::IoCandidate;

    #[test]
    fn follows_the_log_and_reports_where_it_diverged() {
        let ios = [IoCandidate { id: 2, ready: true }];
        let view = SchedView {
            step: 0,
            fiber_count: 2,
            runnable: &[0, 1],
            last_fiber: None,
            ios: &ios,
        };
        let log = vec![
            Decision::StepFiber(1),
            Decision::CompleteIo(2),
            Decision::CompleteIo(9),
        ];
        let mut replay = ReplayScheduler::new(log);
        let mut choices = Choices::recording(0);
        assert_eq!(replay.choose(&view, &mut choices), Decision::StepFiber(1));
        assert_eq!(
            replay.choose(&SchedView { step: 1, ..view }, &mut choices),
            Decision::CompleteIo(2)
        );
        assert_eq!(replay.diverged_at(), None);
        let third = replay.choose(&SchedView { step: 2, ..view }, &mut choices);
        assert_eq!(
            third,
            Decision::CompleteIo(2),
            "falls back to the simplest event"
        );
        assert_eq!(replay.diverged_at(), Some(2));
        assert_eq!(choices.position(), 0, "replay draws nothing");
    }
}
