//! The shrink passes (listed at the top of `shrink/mod.rs`). Each one walks the current
//! tape, proposes smaller candidates to `Shrinker::try_*`, and says whether any was kept.
//! After a kept candidate the tape has changed, so a pass recomputes what it walks and
//! carries on from about the same place.

use super::{STEP_MARGIN, Shrinker, bulk, people};

/// Runs every pass in turn until a whole round keeps nothing (returns true) or the time runs
/// out (returns false).
pub(crate) fn run_to_fixed_point(s: &mut Shrinker<'_>) -> bool {
    loop {
        let mut changed = shrink_config(s);
        changed |= people::run(s);
        changed |= bulk::truncate(s);
        changed |= bulk::delete_by_label(s);
        changed |= delete_span_runs(s);
        changed |= people::run(s);
        changed |= delete_spans(s);
        changed |= zero_spans(s);
        changed |= delete_runs(s);
        changed |= lower_values(s);
        if s.out_of_time() {
            return false;
        }
        if !changed {
            return true;
        }
    }
}

/// Fewer steps (failure step + margin), then fewer connections (fewest first).
fn shrink_config(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    let steps = s.failure_step().saturating_add(STEP_MARGIN);
    if steps < s.config.run.steps && !s.out_of_time() {
        let mut config = s.config.clone();
        config.run.steps = steps;
        let values = s.tape.values.clone();
        changed |= s.try_candidate(config, values, &format!("steps -> {steps}"));
    }
    for connections in 1..s.config.run.connections {
        if s.out_of_time() {
            break;
        }
        let mut config = s.config.clone();
        config.run.connections = connections;
        let values = s.tape.values.clone();
        if s.try_candidate(config, values, &format!("connections -> {connections}")) {
            changed = true;
            break;
        }
    }
    changed |= shrink_storage(s);
    changed
}

/// A smaller page cache (down to the least allowed, 8 pages) and earlier checkpoints: a
/// failure that needs evictions or a checkpoint then needs far less data to appear.
fn shrink_storage(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    for divisor in [8, 2] {
        if s.out_of_time() {
            return changed;
        }
        let pages = (s.config.storage.cache_pages / divisor).max(8);
        if pages < s.config.storage.cache_pages {
            let mut config = s.config.clone();
            config.storage.cache_pages = pages;
            let values = s.tape.values.clone();
            changed |= s.try_candidate(config, values, &format!("cache_pages -> {pages}"));
        }
        let frames = (s.config.storage.autocheckpoint_frames / u64::from(divisor)).max(1);
        if frames < s.config.storage.autocheckpoint_frames {
            let mut config = s.config.clone();
            config.storage.autocheckpoint_frames = frames;
            let values = s.tape.values.clone();
            let what = format!("autocheckpoint_frames -> {frames}");
            changed |= s.try_candidate(config, values, &what);
        }
    }
    changed
}

/// Distinct non-empty spans of the current tape, largest first (then earliest).
fn spans_by_size(s: &Shrinker<'_>) -> Vec<(usize, usize, String)> {
    let mut spans: Vec<_> = s
        .tape
        .spans
        .iter()
        .filter(|span| !span.is_empty() && span.end <= s.tape.values.len())
        .map(|span| (span.start, span.end, span.label.to_string()))
        .collect();
    spans.sort_by(|a, b| (b.1 - b.0, a.0).cmp(&(a.1 - a.0, b.0)));
    spans.dedup_by(|a, b| (a.0, a.1) == (b.0, b.1));
    spans
}

/// Outermost spans in tape order, as `(start, end)` draw ranges.
fn outermost_spans(s: &Shrinker<'_>) -> Vec<(usize, usize)> {
    let mut spans: Vec<_> = s
        .tape
        .spans
        .iter()
        .filter(|span| span.depth == 0 && !span.is_empty() && span.end <= s.tape.values.len())
        .map(|span| (span.start, span.end))
        .collect();
    spans.sort_unstable();
    spans
}

/// Deletes runs of consecutive outermost spans: half of them at once, then quarters, and
/// so on down to pairs, walking from the end. Long runs (thousands of decisions) lose most
/// of their bulk here in few candidates; single spans are left to `delete_spans`.
fn delete_span_runs(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    let mut size = outermost_spans(s).len() / 2;
    while size >= 2 {
        let mut end = outermost_spans(s).len();
        while end >= size {
            if s.out_of_time() {
                return changed;
            }
            let spans = outermost_spans(s);
            let end_index = end.min(spans.len());
            if end_index < size {
                break;
            }
            let (first, last) = (spans[end_index - size], spans[end_index - 1]);
            let mut values = s.tape.values.clone();
            values.drain(first.0..last.1);
            let what = format!("delete {size} spans ({} draws)", last.1 - first.0);
            if s.try_values(values, &what) {
                changed = true;
                end = end_index.min(outermost_spans(s).len());
            } else {
                end = end_index - size;
            }
        }
        size /= 2;
    }
    changed
}

/// Deletes whole spans, largest first.
fn delete_spans(s: &mut Shrinker<'_>) -> bool {
    edit_spans(s, |s, start, end, label| {
        let mut values = s.tape.values.clone();
        values.drain(start..end);
        s.try_values(
            values,
            &format!("delete span {label} ({} draws)", end - start),
        )
    })
}

/// Sets every draw of a span to 0, largest spans first.
fn zero_spans(s: &mut Shrinker<'_>) -> bool {
    edit_spans(s, |s, start, end, label| {
        if s.tape.values[start..end].iter().all(|&v| v == 0) {
            return false;
        }
        let mut values = s.tape.values.clone();
        values[start..end].fill(0);
        s.try_values(
            values,
            &format!("zero span {label} ({} draws)", end - start),
        )
    })
}

/// Offers each span of the current tape, largest first, to `edit`, which says whether it
/// kept a smaller candidate. After a kept one the span list is recomputed and the walk goes
/// on from the same position (the span there is a new one, or the edited one, which an
/// edit then finds nothing to do on).
fn edit_spans(
    s: &mut Shrinker<'_>,
    mut edit: impl FnMut(&mut Shrinker<'_>, usize, usize, &str) -> bool,
) -> bool {
    let mut changed = false;
    let mut index = 0;
    loop {
        let spans = spans_by_size(s);
        let Some((start, end, label)) = spans.get(index).cloned() else {
            return changed;
        };
        if s.out_of_time() {
            return changed;
        }
        if edit(s, start, end, &label) {
            changed = true;
        } else {
            index += 1;
        }
    }
}

/// Deletes runs of 8, 4, 2 and 1 draws, walking from the end of the tape to its start.
fn delete_runs(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    for width in [8usize, 4, 2, 1] {
        let mut end = s.tape.values.len();
        while end >= width {
            if s.out_of_time() {
                return changed;
            }
            let start = end - width;
            let mut values = s.tape.values.clone();
            values.drain(start..end);
            if s.try_values(values, &format!("delete {width} draws at {start}")) {
                changed = true;
                end = end.min(s.tape.values.len());
            } else {
                end -= 1;
            }
        }
    }
    changed
}

/// Lowers each draw: to 0 first, then the smallest value that still fails, by binary search.
fn lower_values(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    let mut index = 0;
    while index < s.tape.values.len() {
        if s.out_of_time() {
            return changed;
        }
        let value = s.tape.values[index];
        if value > 0 {
            changed |= lower_one(s, index, value);
        }
        index += 1;
    }
    changed
}

/// Binary search for the smallest replacement of `values[index]` (known to fail at `value`).
fn lower_one(s: &mut Shrinker<'_>, index: usize, value: u64) -> bool {
    let with = |s: &mut Shrinker<'_>, v: u64| {
        if index >= s.tape.values.len() || s.tape.values[index] != value {
            return false;
        }
        let mut values = s.tape.values.clone();
        values[index] = v;
        s.try_values(values, &format!("draw {index}: {value} -> {v}"))
    };
    if with(s, 0) {
        return true;
    }
    // Invariant: `low` does not keep the failure, `high` does (the current value).
    let (mut low, mut high) = (0u64, value);
    let mut changed = false;
    while high - low > 1 && !s.out_of_time() {
        let mid = low + (high - low) / 2;
        // Each kept candidate changes the tape: compare against the value now in place.
        let current = if index < s.tape.values.len() {
            s.tape.values[index]
        } else {
            return changed;
        };
        let mut values = s.tape.values.clone();
        values[index] = mid;
        if s.try_values(values, &format!("draw {index}: {current} -> {mid}")) {
            changed = true;
            high = mid;
        } else {
            low = mid;
        }
    }
    changed
}
