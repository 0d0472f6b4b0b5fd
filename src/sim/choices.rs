//! `Choices`: the one source of every nondeterministic decision in a simulation (schedule,
//! faults, yields, workload generation).
//!
//! - Recording: draws come from a seeded xoshiro256++ and each value returned (already
//!   reduced to its bound) is appended to the tape.
//! - Replaying: draws are read from a given tape, in order. Past its end every draw is 0.
//!   A replayed value that is not below its bound (the shrinker edited the tape, or
//!   deleted draws so later ones shifted) is reduced to `value % bound`, which is
//!   deterministic and keeps small values small.
//! - Either way, the values actually returned are kept, so a replay yields the tape it
//!   really consumed (`into_tape`); that normalized tape replays identically.
//! - Every draw is encoded so that 0 is the simplest outcome: no fault, no yield, no
//!   context switch, the oldest I/O first. A tape of zeros is the simplest run there is.
//! - A draw with bound 1 (or 0) has one possible outcome: it returns 0 and is not recorded;
//!   likewise `chance(0)` is false without a draw.
//! - Draws are grouped into labelled, nested spans (a transaction, a fiber step, a fault,
//!   a whole connection) so the shrinker can delete meaningful units.
//! - A run that throws its tape away (`discard_tape`) keeps neither values nor spans, so its
//!   memory stays flat however long it runs; the values drawn are the same either way.

use std::borrow::Cow;

use braid_workloads::Draw;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::tape::{Span, Tape};

/// The `open` entry of a span that is not kept.
const NOT_KEPT: usize = usize::MAX;

/// Where draws come from.
enum Source {
    Seeded(Box<Xoshiro256PlusPlus>),
    Replay { values: Vec<u64> },
}

/// The recorded, replayable, shrinkable source of every decision of one run.
pub struct Choices {
    source: Source,
    seed: Option<u64>,
    /// Every value returned so far, in order (nothing once the tape is discarded).
    drawn: Vec<u64>,
    /// Draws made so far (the index of the next one), kept or not.
    position: usize,
    /// Whether values and spans are kept for the tape.
    keep_tape: bool,
    /// Spans in the order they were opened; open ones have `end == start` until closed.
    spans: Vec<Span>,
    /// Indices into `spans` of the spans still open, innermost last (`NOT_KEPT` for spans
    /// opened while the tape is discarded).
    open: Vec<usize>,
    /// Draws answered with 0 because a replayed tape had ended.
    past_end_draws: u64,
    /// Replayed values that were not below their bound and were reduced.
    reduced_draws: u64,
}

impl Choices {
    /// Recording mode: draws from xoshiro256++ seeded with `seed`.
    pub fn recording(seed: u64) -> Self {
        let rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        Self::with_source(Source::Seeded(Box::new(rng)), Some(seed))
    }

    /// Replay mode: draws are `values` in order, then zeros.
    pub fn replaying(values: Vec<u64>) -> Self {
        Self::with_source(Source::Replay { values }, None)
    }

    /// Replay mode over a saved tape (its spans are rebuilt by the run, not copied).
    pub fn replaying_tape(tape: &Tape) -> Self {
        let mut choices = Self::replaying(tape.values.clone());
        choices.seed = tape.seed;
        choices
    }

    fn with_source(source: Source, seed: Option<u64>) -> Self {
        Choices {
            source,
            seed,
            drawn: Vec::new(),
            position: 0,
            keep_tape: true,
            spans: Vec::new(),
            open: Vec::new(),
            past_end_draws: 0,
            reduced_draws: 0,
        }
    }

    /// A value in `0..bound`, 0 being the simplest outcome. `bound <= 1` returns 0 and
    /// records nothing.
    pub fn draw(&mut self, bound: u64) -> u64 {
        if bound <= 1 {
            return 0;
        }
        let position = self.position;
        let value = match &mut self.source {
            Source::Seeded(rng) => uniform_below(rng, bound),
            Source::Replay { values } => match values.get(position) {
                Some(&value) if value < bound => value,
                Some(&value) => {
                    self.reduced_draws += 1;
                    value % bound
                }
                None => {
                    self.past_end_draws += 1;
                    0
                }
            },
        };
        debug_assert!(value < bound, "a draw must lie below its bound");
        self.position += 1;
        if self.keep_tape {
            self.drawn.push(value);
        }
        value
    }

    /// An index into a collection of `len` items (`len` > 0); 0 is the simplest pick.
    pub fn draw_index(&mut self, len: usize) -> usize {
        assert!(len > 0, "draw_index over an empty collection");
        self.draw(len as u64) as usize
    }

    /// True with probability `ppm` parts per million; false (draw 0) is the simple outcome.
    /// With `ppm == 0` it is false without drawing, so a disabled fault costs no tape.
    pub fn chance(&mut self, ppm: u32) -> bool {
        if ppm == 0 {
            return false;
        }
        self.draw(1_000_000) >= 1_000_000 - u64::from(ppm.min(1_000_000))
    }

    /// Opens a labelled span; every draw until the matching `end_span` belongs to it.
    pub fn begin_span(&mut self, label: impl Into<Cow<'static, str>>) {
        if !self.keep_tape {
            self.open.push(NOT_KEPT);
            return;
        }
        let start = self.drawn.len();
        let depth = u32::try_from(self.open.len()).expect("span nesting fits in u32");
        self.open.push(self.spans.len());
        self.spans.push(Span {
            label: label.into(),
            start,
            end: start,
            depth,
        });
    }

    /// Closes the innermost open span.
    pub fn end_span(&mut self) {
        let index = self
            .open
            .pop()
            .expect("end_span without a matching begin_span");
        if index != NOT_KEPT {
            self.spans[index].end = self.drawn.len();
        }
    }

    /// Runs `f` inside a span labelled `label`.
    pub fn in_span<T>(&mut self, label: &'static str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.begin_span(label);
        let value = f(self);
        self.end_span();
        value
    }

    /// Number of draws made so far (the index the next draw will have).
    pub fn position(&self) -> usize {
        self.position
    }

    /// Stops keeping values and spans and frees those kept so far: for a run whose tape is
    /// thrown away. Draws go on returning exactly what they would have; `tape` is then empty.
    pub fn discard_tape(&mut self) {
        self.keep_tape = false;
        self.drawn = Vec::new();
        self.spans = Vec::new();
        self.open.fill(NOT_KEPT);
    }

    /// Whether values and spans are kept for the tape.
    pub fn keeps_tape(&self) -> bool {
        self.keep_tape
    }

    /// Whether draws are read from a tape rather than a seeded generator.
    pub fn is_replaying(&self) -> bool {
        matches!(self.source, Source::Replay { .. })
    }

    /// The recording seed (for a replay, the seed of the tape when it had one).
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// Every value returned so far.
    pub fn values(&self) -> &[u64] {
        &self.drawn
    }

    /// Spans opened so far (open ones end at the current position once closed).
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// Number of spans still open.
    pub fn open_spans(&self) -> usize {
        self.open.len()
    }

    /// Draws a replay answered with 0 because the tape had ended.
    pub fn past_end_draws(&self) -> u64 {
        self.past_end_draws
    }

    /// Replayed values that were reduced because they were not below their bound.
    pub fn reduced_draws(&self) -> u64 {
        self.reduced_draws
    }

    /// The tape of this run so far: the values returned and the spans, with any span still
    /// open closed at the current position.
    pub fn tape(&self) -> Tape {
        let mut spans = self.spans.clone();
        for &index in self.open.iter().filter(|&&index| index != NOT_KEPT) {
            spans[index].end = self.drawn.len();
        }
        Tape {
            seed: self.seed,
            values: self.drawn.clone(),
            spans,
        }
    }

    /// Like `tape`, consuming the source.
    pub fn into_tape(mut self) -> Tape {
        while !self.open.is_empty() {
            self.end_span();
        }
        Tape {
            seed: self.seed,
            values: self.drawn,
            spans: self.spans,
        }
    }
}

impl Draw for Choices {
    fn draw(&mut self, bound: u64) -> u64 {
        Choices::draw(self, bound)
    }

    fn chance(&mut self, ppm: u32) -> bool {
        Choices::chance(self, ppm)
    }

    fn begin_span(&mut self, label: &'static str) {
        Choices::begin_span(self, label);
    }

    fn end_span(&mut self) {
        Choices::end_span(self);
    }
}

impl std::fmt::Debug for Choices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Choices")
            .field("replaying", &self.is_replaying())
            .field("seed", &self.seed)
            .field("position", &self.position)
            .field("open_spans", &self.open.len())
            .finish()
    }
}

/// A uniform value in `0..bound` without modulo bias: multiply a 64-bit draw by `bound`
/// and keep the high word, rejecting the few low words that would favour some results.
fn uniform_below(rng: &mut Xoshiro256PlusPlus, bound: u64) -> u64 {
    let mut product = u128::from(rng.next_u64()) * u128::from(bound);
    if (product as u64) < bound {
        let threshold = bound.wrapping_neg() % bound;
        while (product as u64) < threshold {
            product = u128::from(rng.next_u64()) * u128::from(bound);
        }
    }
    (product >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_draws_cover_the_range_and_stay_below_it() {
        let mut choices = Choices::recording(3);
        let mut seen = [0u32; 6];
        for _ in 0..600 {
            seen[choices.draw(6) as usize] += 1;
        }
        assert!(
            seen.iter().all(|&n| n > 60),
            "every outcome drawn often: {seen:?}"
        );
    }

    #[test]
    fn trivial_bounds_draw_nothing() {
        let mut choices = Choices::recording(1);
        assert_eq!(choices.draw(1), 0);
        assert_eq!(choices.draw(0), 0);
        assert_eq!(choices.position(), 0);
    }

    #[test]
    fn replayed_values_above_the_bound_are_reduced_modulo_it() {
        let mut choices = Choices::replaying(vec![7, 2]);
        assert_eq!(choices.draw(5), 2);
        assert_eq!(choices.draw(5), 2);
        assert_eq!(choices.reduced_draws(), 1);
        assert_eq!(choices.values(), &[2, 2]);
    }

    #[test]
    fn chance_is_false_on_zero_and_true_on_the_largest_value() {
        let mut zero = Choices::replaying(vec![0]);
        assert!(!zero.chance(999_999));
        let mut top = Choices::replaying(vec![999_999]);
        assert!(top.chance(1));
        let mut never = Choices::replaying(vec![999_999]);
        assert!(!never.chance(0));
        assert_eq!(never.position(), 0, "a disabled chance draws nothing");
    }

    #[test]
    fn a_discarded_tape_draws_the_same_values_and_keeps_nothing() {
        let mut kept = Choices::recording(9);
        let mut discarded = Choices::recording(9);
        kept.begin_span("outer");
        discarded.begin_span("outer");
        assert_eq!(kept.draw(100), discarded.draw(100));
        discarded.discard_tape();
        for _ in 0..50 {
            kept.begin_span("inner");
            discarded.begin_span("inner");
            assert_eq!(kept.draw(1_000), discarded.draw(1_000));
            assert_eq!(kept.chance(500_000), discarded.chance(500_000));
            kept.end_span();
            discarded.end_span();
        }
        discarded.end_span();
        assert_eq!(discarded.position(), kept.position());
        assert_eq!(discarded.open_spans(), 0);
        let tape = discarded.into_tape();
        assert!(tape.values.is_empty() && tape.spans.is_empty());
        assert_eq!(kept.values().len(), 101);
    }

    #[test]
    fn a_discarded_replay_reads_the_tape_by_position() {
        let mut choices = Choices::replaying(vec![3, 4, 5]);
        choices.discard_tape();
        assert_eq!(
            [choices.draw(10), choices.draw(10), choices.draw(10)],
            [3, 4, 5]
        );
        assert_eq!(choices.draw(10), 0, "past the end");
        assert!(choices.values().is_empty());
    }

    #[test]
    #[should_panic(expected = "end_span without a matching begin_span")]
    fn unbalanced_end_span_is_a_bug() {
        Choices::recording(0).end_span();
    }
}
