//! What the loop remembers between decisions to judge the run as a whole.
//!
//! `Liveness`, for the stuck check: when an op last completed, when the write lock last
//! moved, and whether anyone was told `Busy` since. The loop and the fibers report to it;
//! `Simulation::check_liveness` turns its answers into a `stuck` failure.
//!
//! `BitFlips`: after a bit of durable data flipped, `Corrupt` (or an integrity problem) is
//! an acceptable answer, and detecting it ends the run, passing.

/// The liveness watch of one run.
#[derive(Debug, Default)]
pub(crate) struct Liveness {
    /// Last decision at which an op completed successfully.
    last_progress_step: u64,
    /// Last decision at which the write lock was free or changed hands (or a writing
    /// commit was acknowledged).
    last_lock_change_step: u64,
    /// The write lock's owner seen at the last decision.
    owner_seen: Option<u64>,
    /// Whether some connection was told `Busy` since the write lock last moved.
    busy_since_lock_change: bool,
}

impl Liveness {
    /// Starts watching afresh at `step` (a new set of connections).
    pub(crate) fn restart(&mut self, step: u64) {
        *self = Liveness {
            last_progress_step: step,
            last_lock_change_step: step,
            owner_seen: None,
            busy_since_lock_change: false,
        };
    }

    /// An op completed successfully at `step`.
    pub(crate) fn op_completed(&mut self, step: u64) {
        debug_assert!(step >= self.last_progress_step, "decisions only go forward");
        self.last_progress_step = step;
    }

    /// The write lock moved at `step`: it was free or changed hands, or a writing commit
    /// was acknowledged.
    pub(crate) fn lock_moved(&mut self, step: u64) {
        self.last_lock_change_step = step;
        self.busy_since_lock_change = false;
    }

    /// A connection was told `Busy`.
    pub(crate) fn busy(&mut self) {
        self.busy_since_lock_change = true;
    }

    /// The write lock's owner at `step` (`None`: free, or the engine cannot tell).
    pub(crate) fn observe_owner(&mut self, owner: Option<u64>, step: u64) {
        if owner.is_none() || owner != self.owner_seen {
            self.owner_seen = owner;
            self.lock_moved(step);
        }
    }

    /// Whether no op completed for more than `limit` decisions before `step`.
    pub(crate) fn stalled(&self, step: u64, limit: u64) -> bool {
        step.saturating_sub(self.last_progress_step) > limit
    }

    /// Whether connections kept getting `Busy` while one owner held the write lock for
    /// more than `limit` decisions before `step`.
    pub(crate) fn lock_hogged(&self, step: u64, limit: u64) -> bool {
        self.busy_since_lock_change && step.saturating_sub(self.last_lock_change_step) > limit
    }
}

/// Bit flips in durable data: after one, `Corrupt` is an acceptable answer, and its
/// detection ends the run, passing.
#[derive(Debug, Default)]
pub(crate) struct BitFlips {
    /// Injected so far.
    pub(crate) injected: u64,
    /// Set when corruption from an injected flip was detected.
    pub(crate) detected: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_answers_under_one_owner_hog_the_lock_until_it_moves() {
        let mut watch = Liveness::default();
        watch.observe_owner(Some(7), 1);
        watch.busy();
        watch.observe_owner(Some(7), 5);
        assert!(!watch.lock_hogged(10, 10));
        assert!(
            watch.lock_hogged(12, 10),
            "Busy for 11 decisions under owner 7"
        );
        watch.observe_owner(Some(8), 12);
        assert!(!watch.lock_hogged(30, 10), "a new owner is movement");
        watch.busy();
        watch.lock_moved(31);
        assert!(!watch.lock_hogged(50, 10), "a writing commit is movement");
    }

    #[test]
    fn a_run_stalls_only_without_completed_ops() {
        let mut watch = Liveness::default();
        watch.restart(100);
        assert!(!watch.stalled(110, 10));
        assert!(watch.stalled(111, 10));
        watch.op_completed(111);
        assert!(!watch.stalled(121, 10));
    }
}
