//! `Draw`: the only source of randomness a workload may use. The simulator's `Choices`
//! implements it, so every workload decision is recorded on the tape, replays exactly
//! and shrinks toward 0 (the simplest outcome).

/// A source of recorded, shrinkable decisions.
pub trait Draw {
    /// A value in `0..bound` (`bound` > 0). 0 must be the simplest choice.
    fn draw(&mut self, bound: u64) -> u64;

    /// True with probability `ppm` parts per million. False is the simple outcome.
    fn chance(&mut self, ppm: u32) -> bool {
        self.draw(1_000_000) >= 1_000_000 - u64::from(ppm.min(1_000_000))
    }

    /// Opens a labelled span of draws (for example one transaction) the shrinker may delete.
    fn begin_span(&mut self, label: &'static str);

    /// Closes the innermost open span.
    fn end_span(&mut self);
}
