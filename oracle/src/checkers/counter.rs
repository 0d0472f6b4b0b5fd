//! `CounterChecker`: a counter incremented by transactions must read as the sum of the
//! committed increments, give or take the increments whose outcome is unknown.
//!
//! The allowed range of a read is `[committed + negative in-doubt, committed + positive
//! in-doubt]` at the time of the read. Reads taken inside a transaction that is still
//! racing with increments would need their snapshot to be judged; callers therefore pass
//! only final reads taken after quiescence (every increment has an outcome), or reads
//! whose increments were all recorded before the read began.

use crate::logical::TxnOutcome;
use crate::violation::{Violation, ViolationKind};

/// Checks counter reads against recorded increments.
#[derive(Debug, Clone, Default)]
pub struct CounterChecker {
    committed: i64,
    /// Sum of in-doubt increments below zero (the lowest they can take the counter).
    in_doubt_down: i64,
    /// Sum of in-doubt increments above zero.
    in_doubt_up: i64,
}

impl CounterChecker {
    /// A counter at zero with nothing recorded.
    pub fn new() -> Self {
        CounterChecker::default()
    }

    /// Records an increment (negative for a decrement) and how its transaction ended.
    pub fn record(&mut self, increment: i64, outcome: TxnOutcome) {
        match outcome {
            TxnOutcome::Committed => self.committed += increment,
            TxnOutcome::InDoubt if increment < 0 => self.in_doubt_down += increment,
            TxnOutcome::InDoubt => self.in_doubt_up += increment,
            TxnOutcome::Aborted => {}
        }
    }

    /// A crash where acknowledged commits may be lost (sync = normal): from now on the
    /// committed increments are only possible, not certain.
    pub fn on_crash(&mut self, commits_may_be_lost: bool) {
        if commits_may_be_lost {
            let committed = std::mem::take(&mut self.committed);
            self.record(committed, TxnOutcome::InDoubt);
        }
    }

    /// The range a read may return now.
    pub fn allowed(&self) -> (i64, i64) {
        (
            self.committed + self.in_doubt_down,
            self.committed + self.in_doubt_up,
        )
    }

    /// Judges a final read of the counter (see the module notes on when to call it).
    pub fn observe_read(&mut self, step: u64, value: i64) -> Result<(), Violation> {
        let (low, high) = self.allowed();
        if (low..=high).contains(&value) {
            return Ok(());
        }
        let expected = if low == high {
            format!("{low}")
        } else {
            format!("a value in {low}..={high}")
        };
        let cause = if value < low {
            "an increment was lost"
        } else {
            "an increment was counted twice or invented"
        };
        Err(Violation::new(
            ViolationKind::CounterRange,
            step,
            expected,
            format!("{value}"),
        )
        .op("counter read")
        .detail(format!(
            "{cause}: committed increments sum to {}, in-doubt ones span {}..={}",
            self.committed, self.in_doubt_down, self.in_doubt_up
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_increments_are_counted_and_in_doubt_ones_may_be() {
        let mut counter = CounterChecker::new();
        counter.record(5, TxnOutcome::Committed);
        counter.record(3, TxnOutcome::Aborted);
        counter.record(2, TxnOutcome::InDoubt);
        counter.record(-1, TxnOutcome::InDoubt);
        assert_eq!(counter.allowed(), (4, 7));
        for value in 4..=7 {
            counter.observe_read(1, value).unwrap();
        }
        assert!(counter.observe_read(2, 8).is_err());
    }

    #[test]
    fn a_lost_increment_is_caught() {
        let mut counter = CounterChecker::new();
        counter.record(1, TxnOutcome::Committed);
        counter.record(1, TxnOutcome::Committed);
        let v = counter.observe_read(9, 1).unwrap_err();
        assert_eq!(v.kind, ViolationKind::CounterRange);
        assert!(v.to_string().contains("expected 2, but got 1"), "{v}");
        assert!(v.detail.contains("lost"), "{v}");
    }

    #[test]
    fn a_crash_that_may_lose_commits_widens_the_range() {
        let mut counter = CounterChecker::new();
        counter.record(3, TxnOutcome::Committed);
        counter.on_crash(false);
        assert!(
            counter.observe_read(1, 0).is_err(),
            "full durability keeps the increments"
        );
        counter.on_crash(true);
        counter
            .observe_read(2, 0)
            .expect("the increments may all be lost");
        counter.observe_read(3, 3).expect("or all kept");
    }
}
