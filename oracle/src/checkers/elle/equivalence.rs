//! The checker in use against the reference copy of the checker it replaced: on random
//! histories, valid and corrupted in many ways, both must report exactly the same
//! anomalies (kinds, order, explanations, cycles).

use std::collections::{BTreeMap, BTreeSet};

use super::{AnomalyKind, check_list_append, reference};
use crate::logical::{ElleTxn, Mop, TxnOutcome};

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

/// A history of transactions that run in small overlapping batches under snapshot
/// isolation without conflict checks: each reads the state at the start of its batch, so
/// concurrent appenders lose updates and skew, as a weak engine would.
fn history(rng: &mut Rng, txns: usize) -> Vec<ElleTxn> {
    let keys = 1 + rng.below(6);
    let mut lists: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut next_element = 1;
    let mut history = Vec::new();
    while history.len() < txns {
        let snapshot = lists.clone();
        for _ in 0..1 + rng.below(3) {
            let outcome = match rng.below(10) {
                0 => TxnOutcome::Aborted,
                1 => TxnOutcome::InDoubt,
                _ => TxnOutcome::Committed,
            };
            let mut working = snapshot.clone();
            let mut mine: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
            let mut mops = Vec::new();
            for _ in 0..1 + rng.below(4) {
                let key = rng.below(keys);
                let list = working.get(&key).cloned().unwrap_or_default();
                mops.push(Mop::Read {
                    key,
                    list: Some(list),
                });
                if rng.below(3) != 0 {
                    mops.push(Mop::Append {
                        key,
                        element: next_element,
                    });
                    working.entry(key).or_default().push(next_element);
                    mine.entry(key).or_default().push(next_element);
                    next_element += 1;
                }
            }
            let applies = match outcome {
                TxnOutcome::Committed => true,
                TxnOutcome::Aborted => false,
                TxnOutcome::InDoubt => rng.below(2) == 0,
            };
            if applies {
                for (key, appended) in mine {
                    lists.entry(key).or_default().extend(appended);
                }
            }
            history.push(ElleTxn {
                process: rng.below(5),
                outcome,
                mops,
            });
        }
    }
    history
}

/// One random corruption of the kind a broken engine or client could produce.
fn corrupt(rng: &mut Rng, history: &mut [ElleTxn]) {
    let txn = rng.index(history.len());
    match rng.below(9) {
        0 => {
            history[txn].outcome = match rng.below(3) {
                0 => TxnOutcome::Aborted,
                1 => TxnOutcome::InDoubt,
                _ => TxnOutcome::Committed,
            }
        }
        1 => {
            let other = rng.index(history.len());
            history.swap(txn, other);
        }
        _ => {
            let mops = &mut history[txn].mops;
            let at = rng.index(mops.len());
            match &mut mops[at] {
                Mop::Append { element, .. } => *element = 1 + rng.below(*element + 2),
                Mop::Read { list: None, .. } => {}
                Mop::Read {
                    list: Some(list), ..
                } => match rng.below(5) {
                    0 if !list.is_empty() => {
                        list.remove(rng.index(list.len()));
                    }
                    1 if list.len() >= 2 => {
                        let (a, b) = (rng.index(list.len()), rng.index(list.len()));
                        list.swap(a, b);
                    }
                    2 => list.truncate(rng.index(list.len() + 1)),
                    3 => list.push(1 + rng.below(40)),
                    _ => mops[at] = Mop::Read { key: 0, list: None },
                },
            }
        }
    }
}

#[test]
fn reports_equal_the_reference_checker_on_random_histories() {
    let mut kinds: BTreeSet<AnomalyKind> = BTreeSet::new();
    let mut invalid = 0;
    for seed in 0..400u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let size = 2 + rng.index(40);
        let mut txns = history(&mut rng, size);
        for _ in 0..rng.below(4) {
            corrupt(&mut rng, &mut txns);
        }
        let report = check_list_append(&txns);
        assert_eq!(
            report,
            reference::check_list_append(&txns),
            "seed {seed}: {txns:#?}"
        );
        kinds.extend(report.kinds());
        invalid += usize::from(!report.is_valid());
    }
    assert!(
        invalid > 100,
        "only {invalid} of 400 histories had anomalies"
    );
    let all = AnomalyKind::ALL;
    let missing: Vec<_> = all.iter().filter(|kind| !kinds.contains(kind)).collect();
    assert!(missing.is_empty(), "no history showed {missing:?}");
}

#[test]
fn long_histories_equal_the_reference_checker() {
    for seed in 0..4u64 {
        let mut rng = Rng(seed + 77);
        let mut txns = history(&mut rng, 600);
        for _ in 0..seed {
            corrupt(&mut rng, &mut txns);
        }
        assert_eq!(
            check_list_append(&txns),
            reference::check_list_append(&txns),
            "seed {seed}"
        );
    }
}
