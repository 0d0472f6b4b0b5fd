//! Hand-made list-append histories: each anomaly is caught with its name, and a close
//! history without it is accepted.

use braid_oracle::checkers::{AnomalyKind, ElleReport, check_list_append};
use braid_oracle::{ElleTxn, Mop, TxnOutcome};

fn append(key: u64, element: u64) -> Mop {
    Mop::Append { key, element }
}

fn read(key: u64, list: &[u64]) -> Mop {
    Mop::Read {
        key,
        list: Some(list.to_vec()),
    }
}

fn txn(outcome: TxnOutcome, mops: Vec<Mop>) -> ElleTxn {
    ElleTxn {
        process: 0,
        outcome,
        mops,
    }
}

fn ok(mops: Vec<Mop>) -> ElleTxn {
    txn(TxnOutcome::Committed, mops)
}

fn check(txns: Vec<ElleTxn>) -> ElleReport {
    check_list_append(&txns)
}

fn assert_valid(report: &ElleReport) {
    assert!(
        report.is_valid(),
        "expected no anomaly, got {:#?}",
        report.anomalies
    );
}

fn assert_only(report: &ElleReport, kind: AnomalyKind) {
    assert_eq!(report.kinds(), vec![kind], "{:#?}", report.anomalies);
}

#[test]
fn serial_history_is_valid() {
    let report = check(vec![
        ok(vec![append(1, 1), append(2, 1)]),
        ok(vec![read(1, &[1]), append(1, 2)]),
        ok(vec![read(1, &[1, 2]), read(2, &[1]), read(3, &[])]),
    ]);
    assert_valid(&report);
}

#[test]
fn write_cycle_is_g0() {
    let history = |key2_read: &[u64]| {
        check(vec![
            ok(vec![append(1, 1), append(2, 2)]),
            ok(vec![append(1, 3), append(2, 4)]),
            ok(vec![read(1, &[1, 3]), read(2, key2_read)]),
        ])
    };
    assert_valid(&history(&[2, 4]));
    let report = history(&[4, 2]);
    assert_only(&report, AnomalyKind::G0);
    assert_eq!(report.anomalies[0].cycle.len(), 2);
    assert!(
        report.anomalies[0].explanation.contains("-ww on key"),
        "{}",
        report.anomalies[0]
    );
}

#[test]
fn read_of_an_aborted_append_is_g1a() {
    let history = |appender: TxnOutcome| {
        check(vec![
            txn(appender, vec![append(1, 1)]),
            ok(vec![read(1, &[1])]),
        ])
    };
    assert_only(&history(TxnOutcome::Aborted), AnomalyKind::G1a);
    assert_valid(&history(TxnOutcome::InDoubt));
    assert_valid(&history(TxnOutcome::Committed));
    let garbage = check(vec![ok(vec![read(1, &[9])])]);
    assert_only(&garbage, AnomalyKind::G1a);
}

#[test]
fn read_of_an_intermediate_state_is_g1b() {
    let history = |seen: &[u64]| {
        check(vec![
            ok(vec![append(1, 1), append(1, 2)]),
            ok(vec![read(1, seen)]),
        ])
    };
    assert_valid(&history(&[1, 2]));
    assert_only(&history(&[1]), AnomalyKind::G1b);
}

#[test]
fn circular_information_flow_is_g1c() {
    let history = |t0_reads: &[u64]| {
        check(vec![
            ok(vec![append(1, 1), read(2, t0_reads)]),
            ok(vec![append(2, 2), read(1, &[1])]),
        ])
    };
    assert_valid(&history(&[]));
    let report = history(&[2]);
    assert_only(&report, AnomalyKind::G1c);
    assert_eq!(report.anomalies[0].cycle, vec![0, 1]);
}

#[test]
fn read_skew_is_g_single() {
    let history = |key1_read: &[u64]| {
        check(vec![
            ok(vec![read(1, key1_read), read(2, &[2])]),
            ok(vec![append(1, 1), append(2, 2)]),
            ok(vec![read(1, &[1])]),
        ])
    };
    assert_valid(&history(&[1]));
    let report = history(&[]);
    assert_only(&report, AnomalyKind::GSingle);
    let anomaly = &report.anomalies[0];
    assert_eq!(
        anomaly.cycle,
        vec![0, 1],
        "the rw edge's reader comes first"
    );
    assert!(
        anomaly
            .explanation
            .contains("T0 -rw on key 1-> T1 -wr on key 2-> T0"),
        "{anomaly}"
    );
}

#[test]
fn write_skew_is_g2_item() {
    let history = |t1_key1_read: &[u64]| {
        check(vec![
            ok(vec![read(1, &[]), read(2, &[]), append(1, 1)]),
            ok(vec![read(1, t1_key1_read), read(2, &[]), append(2, 2)]),
            ok(vec![read(1, &[1]), read(2, &[2])]),
        ])
    };
    assert_valid(&history(&[1]));
    assert_only(&history(&[]), AnomalyKind::G2Item);
}

#[test]
fn two_appenders_reading_the_same_version_is_a_lost_update() {
    let history = |t1_read: &[u64]| {
        check(vec![
            ok(vec![read(1, &[]), append(1, 1)]),
            ok(vec![read(1, t1_read), append(1, 2)]),
            ok(vec![read(1, &[1, 2])]),
        ])
    };
    assert_valid(&history(&[1]));
    let report = history(&[]);
    assert!(
        report.has(AnomalyKind::LostUpdate),
        "{:#?}",
        report.anomalies
    );
    let lost = report
        .anomalies
        .iter()
        .find(|a| a.kind == AnomalyKind::LostUpdate)
        .unwrap();
    assert_eq!(lost.cycle, vec![0, 1]);
}

#[test]
fn a_transaction_disagreeing_with_itself_is_internal() {
    assert_valid(&check(vec![ok(vec![append(1, 1), read(1, &[1])])]));
    let own_append_missing = check(vec![ok(vec![append(1, 1), read(1, &[])])]);
    assert_only(&own_append_missing, AnomalyKind::InternalInconsistency);
    let reads_differ = check(vec![
        ok(vec![append(1, 5), append(1, 6)]),
        ok(vec![read(1, &[5]), read(1, &[5, 6])]),
    ]);
    assert!(reads_differ.has(AnomalyKind::InternalInconsistency));
}

#[test]
fn reads_that_are_not_prefixes_are_incompatible() {
    let history = |second: &[u64]| {
        check(vec![
            ok(vec![append(1, 1)]),
            ok(vec![append(1, 2)]),
            ok(vec![read(1, &[1, 2])]),
            ok(vec![read(1, second)]),
        ])
    };
    assert_valid(&history(&[1]));
    assert!(history(&[2]).has(AnomalyKind::IncompatibleOrder));
}

#[test]
fn duplicates_are_caught() {
    let appended_twice = check(vec![ok(vec![append(1, 1)]), ok(vec![append(1, 1)])]);
    assert!(appended_twice.has(AnomalyKind::DuplicateElement));
    let read_twice = check(vec![ok(vec![append(1, 1)]), ok(vec![read(1, &[1, 1])])]);
    assert!(read_twice.has(AnomalyKind::DuplicateElement));
}

#[test]
fn in_doubt_appends_join_the_graph_only_when_seen() {
    // T1 is in doubt and its append is visible: it takes part in a G1c cycle.
    let report = check(vec![
        ok(vec![append(1, 1), read(2, &[2])]),
        txn(TxnOutcome::InDoubt, vec![append(2, 2), read(1, &[1])]),
        ok(vec![read(1, &[1])]),
    ]);
    assert_valid(&report);
    let cycle_through_in_doubt = |outcome: TxnOutcome| {
        check(vec![
            ok(vec![append(2, 5), read(3, &[7])]),
            txn(outcome, vec![append(2, 2), append(3, 7)]),
            ok(vec![read(2, &[5, 2])]),
        ])
    };
    assert_only(
        &cycle_through_in_doubt(TxnOutcome::InDoubt),
        AnomalyKind::G1c,
    );
    assert_only(
        &cycle_through_in_doubt(TxnOutcome::Committed),
        AnomalyKind::G1c,
    );
    // Unseen, an in-doubt transaction is simply absent.
    assert_valid(&check(vec![
        txn(TxnOutcome::InDoubt, vec![append(1, 1)]),
        ok(vec![read(1, &[])]),
    ]));
}

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

/// A random serial list-append history: transactions run one after another against a
/// model, so every read is right. Some transactions abort (their appends vanish) or end
/// in doubt (their appends may or may not apply).
fn serial_history(seed: u64, txns: usize) -> Vec<ElleTxn> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut lists: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    let mut next_element = 1;
    let mut history = Vec::new();
    for _ in 0..txns {
        let outcome = match rng.below(10) {
            0 => TxnOutcome::Aborted,
            1 => TxnOutcome::InDoubt,
            _ => TxnOutcome::Committed,
        };
        let mut working = lists.clone();
        let mut mops = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let key = rng.below(4);
            if rng.below(2) == 0 {
                mops.push(append(key, next_element));
                working.entry(key).or_default().push(next_element);
                next_element += 1;
            } else {
                let list = working.get(&key).cloned().unwrap_or_default();
                mops.push(Mop::Read {
                    key,
                    list: Some(list),
                });
            }
        }
        let applies = match outcome {
            TxnOutcome::Committed => true,
            TxnOutcome::Aborted => false,
            TxnOutcome::InDoubt => rng.below(2) == 0,
        };
        if applies {
            lists = working;
        }
        history.push(ElleTxn {
            process: rng.below(5),
            outcome,
            mops,
        });
    }
    history
}

#[test]
fn random_serial_histories_are_valid() {
    for seed in 0..50 {
        let report = check_list_append(&serial_history(seed, 200));
        assert!(report.is_valid(), "seed {seed}: {:#?}", report.anomalies);
    }
}

#[test]
fn random_histories_with_a_lost_element_are_caught() {
    let mut caught = 0;
    for seed in 0..50 {
        let mut history = serial_history(seed, 200);
        // Drop the first element of the longest committed read of some key: every
        // other read of that key stops being a prefix of it, or an append goes missing.
        let longest = history
            .iter_mut()
            .filter(|txn| txn.outcome == TxnOutcome::Committed)
            .flat_map(|txn| txn.mops.iter_mut())
            .filter_map(|mop| match mop {
                Mop::Read {
                    list: Some(list), ..
                } if list.len() >= 2 => Some(list),
                _ => None,
            })
            .max_by_key(|list| list.len());
        if let Some(list) = longest {
            list.remove(0);
            caught += usize::from(!check_list_append(&history).is_valid());
        }
    }
    assert!(
        caught >= 45,
        "only {caught} of 50 corrupted histories were caught"
    );
}
