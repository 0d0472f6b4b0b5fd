//! Bulk shrink passes, tried before the fine-grained ones in `passes.rs`: they remove most
//! of a long failure in a few dozen candidates.
//!
//! - `truncate`: the shortest prefix of the tape whose replay (zero past its end: no fault,
//!   no context switch) still fails the same way, by binary search over the prefix length;
//! - `delete_by_label`: every span with one label deleted at once (all faults, all
//!   yields ...), then the later half of them, then the earlier half.

use std::collections::BTreeMap;

use super::Shrinker;
use crate::sim::Tape;

/// Binary search for the shortest failing prefix. The search is not exact (failing is not
/// monotone in the prefix length) but every kept candidate is a real, shorter failure.
pub(crate) fn truncate(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    // Invariant: a prefix of `low` draws was tried (or assumed) not to fail; the whole
    // current tape fails.
    let mut low = 0usize;
    if s.try_values(Vec::new(), "truncate to 0 draws") {
        return true;
    }
    while s.tape.values.len() > low + 1 && !s.out_of_time() {
        let high = s.tape.values.len();
        let mid = low + (high - low) / 2;
        let values = s.tape.values[..mid].to_vec();
        if s.try_values(values, &format!("truncate to {mid} draws")) {
            changed = true;
            // The kept tape may be shorter than `mid` (trailing zeros are cut).
            low = low.min(s.tape.values.len());
        } else {
            low = mid;
        }
    }
    changed
}

/// Draw ranges of every span labelled `label`, outermost only (a span nested in another of
/// the same label is covered by it), in tape order.
fn ranges_with_label(tape: &Tape, label: &str) -> Vec<(usize, usize)> {
    let len = tape.values.len();
    let mut ranges: Vec<(usize, usize)> = tape
        .spans
        .iter()
        .filter(|span| span.label == label && !span.is_empty() && span.end <= len)
        .map(|span| (span.start, span.end))
        .collect();
    ranges.sort_unstable();
    let mut outer: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match outer.last_mut() {
            Some(last) if start < last.1 => last.1 = last.1.max(end),
            _ => outer.push((start, end)),
        }
    }
    outer
}

/// The tape without the given (sorted, disjoint) draw ranges.
fn without(values: &[u64], ranges: &[(usize, usize)]) -> Vec<u64> {
    let mut kept = Vec::with_capacity(values.len());
    let mut at = 0;
    for &(start, end) in ranges {
        kept.extend_from_slice(&values[at..start]);
        at = end;
    }
    kept.extend_from_slice(&values[at..]);
    kept
}

/// For each label (in name order): delete all its spans, else the later half, else the
/// earlier half.
pub(crate) fn delete_by_label(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    let labels: BTreeMap<String, ()> = s
        .tape
        .spans
        .iter()
        .map(|span| (span.label.to_string(), ()))
        .collect();
    for label in labels.keys() {
        if s.out_of_time() {
            return changed;
        }
        let ranges = ranges_with_label(&s.tape, label);
        if ranges.len() < 2 {
            continue;
        }
        let half = ranges.len() / 2;
        let tries = [
            (&ranges[..], "all"),
            (&ranges[half..], "later half of"),
            (&ranges[..half], "earlier half of"),
        ];
        for (subset, which) in tries {
            let values = without(&s.tape.values, subset);
            let what = format!("delete {which} {} {label} spans", subset.len());
            if s.try_values(values, &what) {
                changed = true;
                break;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Span;

    fn span(label: &'static str, start: usize, end: usize, depth: u32) -> Span {
        Span {
            label: label.into(),
            start,
            end,
            depth,
        }
    }

    #[test]
    fn ranges_with_label_keeps_outermost_in_tape_order() {
        let tape = Tape {
            seed: None,
            values: vec![1; 10],
            spans: vec![
                span("fault", 6, 8, 0),
                span("fault", 0, 4, 0),
                span("fault", 1, 2, 1),
                span("yield", 4, 6, 0),
                span("fault", 8, 8, 0),
                span("fault", 9, 12, 0),
            ],
        };
        // Nested (1..2) is covered, empty (8..8) and past the end (9..12) are skipped.
        assert_eq!(ranges_with_label(&tape, "fault"), vec![(0, 4), (6, 8)]);
        assert_eq!(ranges_with_label(&tape, "yield"), vec![(4, 6)]);
        assert!(ranges_with_label(&tape, "none").is_empty());
    }

    #[test]
    fn without_removes_exactly_the_ranges() {
        let values = [0, 1, 2, 3, 4, 5, 6];
        assert_eq!(without(&values, &[(1, 3), (4, 5)]), vec![0, 3, 5, 6]);
        assert_eq!(without(&values, &[]), values.to_vec());
        assert_eq!(without(&values, &[(0, 7)]), Vec::<u64>::new());
    }
}
