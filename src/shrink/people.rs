//! Reductions at the level people think in, tried before the tape passes and again between
//! them. Each one uses the structure of the current run (`DecisionRecord`s: which
//! decisions served which transaction, its I/O, a crash, recovery) to remove a whole unit a
//! person would remove when writing the failure by hand:
//!
//! 1. cut the run right after the failure is detected (`steps` = failure step + 1);
//! 2. drop a workload from the config;
//! 3. drop whole crash epochs: the run goes on from the first open straight into what
//!    followed a later crash, latest crash first;
//! 4. drop a connection and its history (every decision of its transactions and their I/O),
//!    with and without one connection fewer in the config;
//! 5. drop transactions: half of them at once, then quarters, ... down to one (long runs
//!    stop at chunks of a sixty-fourth), each with every decision it took and the
//!    completions of the I/O it issued;
//! 6. drop a fault: an I/O fault's draws become the no-fault answer, a crash decision goes.
//!
//! Whole decisions are removed, so the draws of every later decision still start where
//! that decision starts: later decisions mostly keep their meaning, though a scheduler
//! draw picks among the events enabled then, which removing others can change. As with
//! every tape edit, a candidate is kept only if it still fails the same way and its tape
//! is smaller.

use super::Shrinker;
use crate::sim::{DecisionRecord, Owner};

/// Above this many transactions a run is long: dropping them one by one would take too
/// many replays, so the transaction pass stops at chunks of `1 / LONG_RUN_FINEST` of them.
const LONG_RUN_TRANSACTIONS: usize = 256;
const LONG_RUN_FINEST: usize = 64;

/// Above this many faults (or crashes) in a run, `drop_faults` leaves them to the bulk
/// passes.
const MOST_FAULTS: usize = 64;

/// Labels of the spans whose draws decide a fault (0 = no fault).
const FAULT_LABELS: [&str; 2] = ["io-fault", "crash-fate"];

/// Runs every reduction once; returns whether any candidate was kept.
pub(crate) fn run(s: &mut Shrinker<'_>) -> bool {
    let mut changed = cut_after_failure(s);
    changed |= drop_workloads(s);
    changed |= drop_crash_epochs(s);
    changed |= drop_connections(s);
    changed |= drop_transactions(s);
    changed |= drop_faults(s);
    changed
}

/// `steps` cut to just past the failure: nothing after it runs.
fn cut_after_failure(s: &mut Shrinker<'_>) -> bool {
    let steps = s.failure_step().saturating_add(1);
    if steps >= s.config.run.steps || s.out_of_time() {
        return false;
    }
    let mut config = s.config.clone();
    config.run.steps = steps;
    let values = s.tape.values.clone();
    s.try_candidate(
        config,
        values,
        &format!("cut the run after the failure: steps -> {steps}"),
    )
}

/// Each workload removed from the config in turn (the tape stays).
fn drop_workloads(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    let mut index = s.config.workloads.len();
    while index > 0 && s.config.workloads.len() > 1 {
        index -= 1;
        if s.out_of_time() {
            break;
        }
        let Some(workload) = s.config.workloads.get(index) else {
            continue;
        };
        let mut config = s.config.clone();
        let kind = workload.kind.clone();
        config.workloads.remove(index);
        if config.validate("shrink").is_err() {
            continue;
        }
        let values = s.tape.values.clone();
        changed |= s.try_candidate(config, values, &format!("drop workload {kind:?}"));
    }
    changed
}

/// The tape without the draws of every decision `drop` picks.
fn without_decisions(
    values: &[u64],
    decisions: &[DecisionRecord],
    mut drop: impl FnMut(usize, &DecisionRecord) -> bool,
) -> Vec<u64> {
    let len = values.len();
    let mut kept = Vec::with_capacity(len);
    let mut at = 0;
    for (index, decision) in decisions.iter().enumerate() {
        let (start, end) = (decision.start.min(len), decision.end.min(len));
        if start >= len {
            break;
        }
        if drop(index, decision) {
            kept.extend_from_slice(&values[at.min(start)..start]);
            at = at.max(end);
        }
    }
    kept.extend_from_slice(&values[at.min(len)..]);
    kept
}

/// Drops the crash epochs before the latest crash that can go: the run opens its database
/// and goes on at once with what followed that crash's recovery. Latest crash first (it
/// removes the most), then earlier ones.
fn drop_crash_epochs(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    let crashes = crash_indices(&s.structure);
    for nth in (0..crashes.len()).rev() {
        if s.out_of_time() {
            break;
        }
        let crashes = crash_indices(&s.structure);
        let Some(&crash) = crashes.get(nth) else {
            continue;
        };
        let first_running = s
            .structure
            .iter()
            .position(|d| d.owner != Owner::Recovery)
            .unwrap_or(0);
        // The decisions after the crash up to the first one that serves a transaction:
        // the crash's own recovery goes too.
        let resumed = s.structure[crash..]
            .iter()
            .position(|d| matches!(d.owner, Owner::Txn { .. }))
            .map_or(s.structure.len(), |offset| crash + offset);
        if resumed <= first_running {
            continue;
        }
        let range = first_running..resumed;
        let values = without_decisions(&s.tape.values, &s.structure, |i, _| range.contains(&i));
        let what = format!("drop the crash epochs before crash {}", nth + 1);
        changed |= s.try_values(values, &what);
    }
    changed
}

fn crash_indices(decisions: &[DecisionRecord]) -> Vec<usize> {
    decisions
        .iter()
        .enumerate()
        .filter(|(_, d)| d.owner == Owner::Crash)
        .map(|(i, _)| i)
        .collect()
}

/// Fibers that served some transaction, highest first.
fn fibers(decisions: &[DecisionRecord]) -> Vec<usize> {
    let mut fibers: Vec<usize> = decisions
        .iter()
        .filter_map(|d| match d.owner {
            Owner::Txn { fiber, .. } => Some(fiber),
            _ => None,
        })
        .collect();
    fibers.sort_unstable_by(|a, b| b.cmp(a));
    fibers.dedup();
    fibers
}

/// Drops one connection's whole history: every decision of its transactions. With one
/// connection fewer in the config first (the highest fiber goes; those above the dropped
/// one move down a place), then with the config as it is.
fn drop_connections(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    for fiber in fibers(&s.structure) {
        if s.out_of_time() || s.config.run.connections <= 1 {
            break;
        }
        let values = without_decisions(
            &s.tape.values,
            &s.structure,
            |_, d| matches!(d.owner, Owner::Txn { fiber: f, .. } if f == fiber),
        );
        let mut fewer = s.config.clone();
        fewer.run.connections -= 1;
        let what = format!("drop connection {} and its history", fiber + 1);
        if s.try_candidate(fewer, values.clone(), &what)
            || s.try_values(values, &format!("{what} (config unchanged)"))
        {
            changed = true;
        }
    }
    changed
}

/// Transactions of the current run in the order they started.
fn transactions(decisions: &[DecisionRecord]) -> Vec<u64> {
    let mut txns: Vec<u64> = decisions
        .iter()
        .filter_map(|d| match d.owner {
            Owner::Txn { txn, .. } => Some(txn),
            _ => None,
        })
        .collect();
    txns.sort_unstable();
    txns.dedup();
    txns
}

/// Drops runs of consecutive transactions (by start order) with every decision they took:
/// half of them at once, then quarters, and so on, walking from the end.
fn drop_transactions(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    let count = transactions(&s.structure).len();
    let finest = if count > LONG_RUN_TRANSACTIONS {
        count / LONG_RUN_FINEST
    } else {
        1
    };
    let mut size = count.div_ceil(2);
    while size >= finest.max(1) {
        let mut end = transactions(&s.structure).len();
        while end > 0 {
            if s.out_of_time() {
                return changed;
            }
            let txns = transactions(&s.structure);
            let end_index = end.min(txns.len());
            let first = end_index.saturating_sub(size);
            let dropped = &txns[first..end_index];
            let (low, high) = (dropped[0], dropped[dropped.len() - 1]);
            let values = without_decisions(
                &s.tape.values,
                &s.structure,
                |_, d| matches!(d.owner, Owner::Txn { txn, .. } if (low..=high).contains(&txn)),
            );
            let what = if size == 1 {
                format!("drop transaction {}", low + 1)
            } else {
                format!("drop transactions {}..={}", low + 1, high + 1)
            };
            if s.try_values(values, &what) {
                changed = true;
                end = end_index.min(transactions(&s.structure).len());
            } else {
                end = first;
            }
        }
        if size == 1 {
            break;
        }
        size = size.div_ceil(2);
    }
    changed
}

/// Drops faults, latest first: a crash decision is removed whole; the draws of an I/O
/// fault span with a fault in it become the no-fault answer (one, two or three zeros: one
/// per chance the no-fault path draws, fewest first). A run with more than `MOST_FAULTS`
/// faults is left to the bulk passes (one replay per fault would take too long).
fn drop_faults(s: &mut Shrinker<'_>) -> bool {
    let mut changed = false;
    let crashes = crash_indices(&s.structure);
    for &index in crashes.iter().rev() {
        if s.out_of_time() || crashes.len() > MOST_FAULTS {
            break;
        }
        let Some(&decision) = s.structure.get(index) else {
            continue;
        };
        if decision.owner != Owner::Crash {
            continue;
        }
        let values = without_decisions(&s.tape.values, &s.structure, |i, _| i == index);
        changed |= s.try_values(values, &format!("drop the crash at step {}", decision.step));
    }
    let faults = fault_spans(s);
    if faults.len() > MOST_FAULTS {
        return changed;
    }
    for (start, end) in faults.into_iter().rev() {
        if s.out_of_time() {
            break;
        }
        // An earlier kept candidate may have moved this span: skip it unless it is still
        // a fault span with a fault in it.
        if !fault_spans(s).contains(&(start, end)) {
            continue;
        }
        for zeros in 1..=3 {
            let mut values = s.tape.values.clone();
            values.splice(start..end, std::iter::repeat_n(0, zeros));
            if s.try_values(values, &format!("drop the I/O fault at draw {start}")) {
                changed = true;
                break;
            }
        }
    }
    changed
}

/// The draws of every fault span that holds a fault, in tape order.
fn fault_spans(s: &Shrinker<'_>) -> Vec<(usize, usize)> {
    let values = &s.tape.values;
    let mut spans: Vec<(usize, usize)> = s
        .tape
        .spans
        .iter()
        .filter(|span| FAULT_LABELS.contains(&span.label.as_ref()) && span.end <= values.len())
        .filter(|span| values[span.start..span.end].iter().any(|&v| v != 0))
        .map(|span| (span.start, span.end))
        .collect();
    spans.sort_unstable();
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(start: usize, end: usize, owner: Owner) -> DecisionRecord {
        DecisionRecord {
            start,
            end,
            step: start as u64,
            owner,
        }
    }

    #[test]
    fn without_decisions_removes_exactly_the_picked_ranges() {
        let values: Vec<u64> = (0..10).collect();
        let txn = |t| Owner::Txn { fiber: 0, txn: t };
        let decisions = [
            decision(0, 2, Owner::Recovery),
            decision(2, 5, txn(0)),
            decision(5, 6, txn(1)),
            decision(6, 9, txn(0)),
            decision(9, 12, Owner::Crash), // runs past the (normalized) tape's end
        ];
        let dropped = without_decisions(&values, &decisions, |_, d| d.owner == txn(0));
        assert_eq!(dropped, vec![0, 1, 5, 9]);
        let crash = without_decisions(&values, &decisions, |_, d| d.owner == Owner::Crash);
        assert_eq!(crash, (0..9).collect::<Vec<_>>());
        let none = without_decisions(&values, &decisions, |_, _| false);
        assert_eq!(none, values);
    }

    #[test]
    fn transactions_and_fibers_are_listed_once_each() {
        let decisions = [
            decision(0, 1, Owner::Txn { fiber: 1, txn: 3 }),
            decision(1, 2, Owner::Txn { fiber: 0, txn: 2 }),
            decision(2, 3, Owner::Txn { fiber: 1, txn: 3 }),
            decision(3, 4, Owner::Crash),
        ];
        assert_eq!(transactions(&decisions), vec![2, 3]);
        assert_eq!(fibers(&decisions), vec![1, 0]);
        assert_eq!(crash_indices(&decisions), vec![3]);
    }
}
