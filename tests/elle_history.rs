//! Elle's transaction form of list-append histories (`elle-history.edn`, `braid run
//! --history`): every line has the shape `elle-cli --model list-append` reads, and a
//! history with a known anomaly gets the same verdict from braid's own checker whether it
//! is checked directly or written out in the transaction form and read back.

use std::collections::BTreeMap;

use braid::config;
use braid::sim::{SimOptions, Simulation};
use braid_oracle::checkers::{AnomalyKind, check_list_append};
use braid_oracle::history::{Edn, TxnHistory, parse_edn, parse_txn_history};
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

fn ok(process: u64, mops: Vec<Mop>) -> ElleTxn {
    ElleTxn {
        process,
        outcome: TxnOutcome::Committed,
        mops,
    }
}

/// Writes `txns` in the transaction form (each one its own process, overlapping in time)
/// and reads it back.
fn round_trip(txns: &[ElleTxn]) -> Vec<ElleTxn> {
    let mut history = TxnHistory::new();
    for (i, txn) in txns.iter().enumerate() {
        let begin = 10 * i as u64;
        history.txn(begin, begin + 15, txn.clone());
    }
    parse_txn_history(&history.to_edn()).expect("the form reads back")
}

#[test]
fn known_anomalies_get_the_same_verdict_through_the_transaction_form() {
    let histories: Vec<(AnomalyKind, Vec<ElleTxn>)> = vec![
        (
            AnomalyKind::G1c,
            vec![
                ok(1, vec![append(1, 1), read(2, &[2])]),
                ok(2, vec![append(2, 2), read(1, &[1])]),
            ],
        ),
        (
            AnomalyKind::GSingle,
            vec![
                ok(1, vec![read(1, &[]), read(2, &[2])]),
                ok(2, vec![append(1, 1), append(2, 2)]),
                ok(3, vec![read(1, &[1])]),
            ],
        ),
        (
            AnomalyKind::LostUpdate,
            vec![
                ok(1, vec![read(1, &[]), append(1, 1)]),
                ok(2, vec![read(1, &[]), append(1, 2)]),
                ok(3, vec![read(1, &[1, 2])]),
            ],
        ),
    ];
    for (kind, txns) in histories {
        let live = check_list_append(&txns);
        assert!(live.has(kind), "{kind}: {:#?}", live.anomalies);
        let read_back = round_trip(&txns);
        assert_eq!(
            read_back, txns,
            "{kind}: committed transactions read back whole"
        );
        let exported = check_list_append(&read_back);
        assert_eq!(exported.kinds(), live.kinds(), "{kind}");
        assert_eq!(
            exported.first_violation(0).map(|v| v.to_string()),
            live.first_violation(0).map(|v| v.to_string()),
            "{kind}: the same explanation"
        );
    }
}

#[test]
fn failed_and_in_doubt_transactions_read_back_with_their_outcome() {
    let aborted = ElleTxn {
        process: 4,
        outcome: TxnOutcome::Aborted,
        mops: vec![read(1, &[1]), append(1, 9)],
    };
    let in_doubt = ElleTxn {
        process: 5,
        outcome: TxnOutcome::InDoubt,
        mops: vec![append(2, 8)],
    };
    let read_back = round_trip(&[aborted.clone(), in_doubt.clone()]);
    let unread = Mop::Read { key: 1, list: None };
    assert_eq!(read_back[0].outcome, TxnOutcome::Aborted);
    assert_eq!(
        read_back[0].mops,
        vec![unread, append(1, 9)],
        "reads as invoked"
    );
    assert_eq!(read_back[1], in_doubt);
    // A history whose only committed read shows the aborted append is G1a either way.
    let mut txns = vec![aborted, in_doubt];
    txns.push(ok(6, vec![read(1, &[9])]));
    let live = check_list_append(&txns);
    assert!(live.has(AnomalyKind::G1a), "{:#?}", live.anomalies);
    assert_eq!(check_list_append(&round_trip(&txns)).kinds(), live.kinds());
}

#[test]
fn malformed_transaction_lines_are_errors_naming_the_line() {
    let good = "{:index 0, :time 1, :type :ok, :process 1, :f :txn, :value [[:append 1 2]]}";
    assert_eq!(parse_txn_history(good).expect("valid").len(), 1);
    for (bad, why) in [
        ("{:type :ok, :process 1, :f :put, :value []}", ":f :txn"),
        (
            "{:type :ok, :process 1, :f :txn, :value [[:write 1 2]]}",
            "[:append k e]",
        ),
        (
            "{:type :ok, :process 1, :f :txn, :value [[:r 1 7]]}",
            "vector or nil",
        ),
        (
            "{:type :done, :process 1, :f :txn, :value []}",
            "unknown :type",
        ),
        ("{:type :ok, :process 1", "expected"),
    ] {
        let text = format!("{good}\n{bad}\n");
        let err = parse_txn_history(&text).expect_err(bad);
        assert!(
            err.starts_with("line 2:") && err.contains(why),
            "{bad}: {err}"
        );
    }
}

fn int(map: &Edn, key: &str) -> Option<i128> {
    map.get(key).and_then(Edn::as_int)
}

fn keyword<'a>(map: &'a Edn, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Edn::keyword_name)
}

/// Checks one micro-op's shape; `read_done` says whether a read must carry its list.
fn check_mop(mop: &Edn, read_done: bool, line: usize) {
    let Edn::Vector(parts) = mop else {
        panic!("line {line}: micro-op {mop} is not a vector");
    };
    assert_eq!(parts.len(), 3, "line {line}: {mop}");
    assert!(
        parts[1].as_int().is_some_and(|k| k >= 0),
        "line {line}: {mop}"
    );
    match parts[0].keyword_name() {
        Some("append") => assert!(parts[2].as_int().is_some(), "line {line}: {mop}"),
        Some("r") => match &parts[2] {
            Edn::Vector(items) if read_done => {
                assert!(
                    items.iter().all(|e| e.as_int().is_some()),
                    "line {line}: {mop}"
                );
            }
            Edn::Nil if !read_done => {}
            other => panic!("line {line}: read list {other} (read done: {read_done})"),
        },
        other => panic!("line {line}: micro-op {other:?}"),
    }
}

#[test]
fn every_line_of_a_run_is_an_elle_transaction_map() {
    let mut config = config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/list-append.toml"
    )))
    .expect("the preset loads");
    config.run.steps = 20_000;
    config.faults.crash = 0.0005;
    let settings = config.settings().expect("valid");
    let options = SimOptions {
        record_history: true,
        ..SimOptions::default()
    };
    let run = Simulation::new(settings, 3, options).run_full();
    assert!(run.outcome.passed(), "{:?}", run.outcome.failure);
    let text = run.txn_history.expect("kept").to_edn();
    let mut open: BTreeMap<i128, usize> = BTreeMap::new();
    let mut ended = Vec::new();
    let (mut last_time, mut counts) = (0, BTreeMap::<String, usize>::new());
    for (number, line) in text.lines().enumerate() {
        let map = parse_edn(line).unwrap_or_else(|e| panic!("line {number}: {e}: {line}"));
        assert_eq!(int(&map, "index"), Some(number as i128), "{line}");
        let time = int(&map, "time").expect(":time");
        assert!(time >= last_time, "line {number}: time goes back");
        last_time = time;
        let kind = keyword(&map, "type").expect(":type");
        assert!(["invoke", "ok", "fail", "info"].contains(&kind), "{line}");
        if keyword(&map, "process") == Some("nemesis") {
            assert!(
                ["crash", "restart"].contains(&keyword(&map, "f").unwrap()),
                "{line}"
            );
            *counts.entry("nemesis".into()).or_default() += 1;
            continue;
        }
        let process = int(&map, "process").expect("a client :process is an integer");
        assert_eq!(keyword(&map, "f"), Some("txn"), "{line}");
        let Some(Edn::Vector(mops)) = map.get("value") else {
            panic!("line {number}: :value is not a vector");
        };
        assert!(!mops.is_empty(), "{line}");
        for mop in mops {
            check_mop(mop, kind == "ok", number);
        }
        if kind == "invoke" {
            assert!(
                !ended.contains(&process),
                "line {number}: {process} ended :info"
            );
            assert!(
                open.insert(process, number).is_none(),
                "line {number}: two open"
            );
        } else {
            assert!(
                open.remove(&process).is_some(),
                "line {number}: no invocation"
            );
            if kind == "info" {
                ended.push(process);
            }
        }
        *counts.entry(kind.to_string()).or_default() += 1;
    }
    assert!(open.is_empty(), "every invocation completes: {open:?}");
    assert_eq!(
        counts["invoke"],
        counts["ok"] + counts["fail"] + counts.get("info").unwrap_or(&0)
    );
    assert!(counts["ok"] > 100 && counts["fail"] > 0, "{counts:?}");
    assert!(
        counts.get("nemesis").is_some_and(|n| *n >= 2),
        "a crash and a restart: {counts:?}"
    );
    // braid's checker agrees with itself through the form: no anomaly in a clean run.
    let read_back = parse_txn_history(&text).expect("reads back");
    assert!(check_list_append(&read_back).is_valid());
}
