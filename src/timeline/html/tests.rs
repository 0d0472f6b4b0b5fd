//! Tests of the timeline page.
use super::*;
use crate::timeline::Blame;
use braid_oracle::ViolationKind;

fn conn(slot: u32, process: u64) -> ConnId {
    ConnId {
        slot: Some(slot),
        process,
    }
}

/// A transaction on slot 0 whose get is answered wrongly, with one write before it.
fn failing_timeline() -> Timeline {
    let mut t = Timeline::new();
    t.push(1, What::TxnBegin { conn: conn(0, 1) });
    t.push(
        2,
        What::Invoke {
            conn: conn(0, 1),
            op: "get \"k\"".into(),
        },
    );
    t.push(
        3,
        What::Io(IoEvent {
            id: 0,
            kind: "write",
            file: "braid.db-wal".into(),
            offset: 0,
            len: 544,
            groups: vec!["commit-frames"],
            submitted_at: 2,
            fate: IoFate::Short { moved: 100 },
        }),
    );
    t.push(
        4,
        What::Complete {
            conn: conn(0, 1),
            op: "get",
            result: "\"v</script>\"".into(),
            answer: Answer::Ok,
        },
    );
    t.push(
        4,
        What::Failure {
            kind: FailureKind::Violation(ViolationKind::WrongValue),
            message: "expected \"a\" <b>".into(),
            blame: None,
        },
    );
    t
}

fn facts(connections: u32) -> PageFacts {
    PageFacts {
        title: "braid: wrong-value".into(),
        facts: vec![("seed".into(), "7".into())],
        connections,
        failure: Some((
            FailureKind::Violation(ViolationKind::WrongValue),
            4,
            "expected \"a\" <b>".into(),
        )),
    }
}

#[test]
fn the_page_is_deterministic_and_self_contained() {
    let page = render(&failing_timeline(), &facts(3));
    assert_eq!(page, render(&failing_timeline(), &facts(3)));
    for outside in [
        "http:",
        "https:",
        "<link",
        " src=",
        "@import",
        "url(",
        "@font-face",
    ] {
        assert!(
            !page.contains(outside),
            "the page refers outside itself: {outside}"
        );
    }
    // Text from the run can never end the data's script element early.
    assert_eq!(page.matches("</script>").count(), 2);
    assert!(
        page.contains("expected \"a\" &lt;b&gt;"),
        "the message, escaped"
    );
}

#[test]
fn every_connection_gets_a_lane_and_each_file_one() {
    let data = Data::build(&failing_timeline(), &facts(3));
    let names: Vec<&str> = data.lanes.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "connection 1",
            "connection 2",
            "connection 3",
            "I/O braid.db-wal",
            "nemesis"
        ]
    );
}

#[test]
fn the_failing_op_is_the_result_the_failure_followed() {
    let data = Data::build(&failing_timeline(), &facts(1));
    let failure = data.failure.expect("a failure");
    assert_eq!(failure.ev, 3, "the get's result");
    assert_eq!(failure.detected, 3, "detected at that result too");
    assert_eq!(failure.detected_line, None);
    assert_eq!(
        failure.lines,
        [
            "step 2 conn 1 invoke get \"k\"",
            "step 4 conn 1 get -> \"v</script>\""
        ]
    );
    assert_eq!(data.ops, [[0, 2, 4, 1, op_status::OK, 1, 3]]);
    assert_eq!(data.txns, [[0, 1, -1, 1, code::OPEN, 0, -1]]);
    assert_eq!(data.io, [[1, 2, 3, 3, code::SHORT, 2, 0]]);
    assert_eq!(data.groups, ["commit-frames"]);
}

#[test]
fn a_failure_blamed_on_an_earlier_op_rings_that_op() {
    let mut t = Timeline::new();
    let read = What::Complete {
        conn: conn(1, 2),
        op: "get",
        result: "\"v\"".into(),
        answer: Answer::Ok,
    };
    t.push(3, read.clone());
    t.push(4, read);
    t.push(
        9,
        What::Complete {
            conn: conn(0, 1),
            op: "commit",
            result: "error io (injected)".into(),
            answer: Answer::Error,
        },
    );
    t.push(
        9,
        What::Failure {
            kind: FailureKind::Violation(ViolationKind::AbortedRead),
            message: "aborted-read at step 3 on connection 2".into(),
            blame: Some(Blame {
                process: 2,
                step: 3,
            }),
        },
    );
    let data = Data::build(&t, &facts(2));
    let failure = data.failure.expect("a failure");
    assert_eq!((failure.ev, failure.detected), (0, 2));
    assert_eq!(failure.lines, ["step 3 conn 2 get -> \"v\""]);
    assert_eq!(
        failure.detected_line.as_deref(),
        Some("step 9 conn 1 commit -> error io (injected)")
    );
}

#[test]
fn a_transaction_ends_at_its_acknowledged_commit_and_a_crash_cuts_ops_off() {
    let mut t = Timeline::new();
    t.push(1, What::TxnBegin { conn: conn(0, 1) });
    let commit = What::Invoke {
        conn: conn(0, 1),
        op: "commit".into(),
    };
    t.push(2, commit.clone());
    t.push(
        5,
        What::Complete {
            conn: conn(0, 1),
            op: "commit",
            result: "committed 1".into(),
            answer: Answer::Ok,
        },
    );
    t.push(6, What::TxnBegin { conn: conn(1, 2) });
    t.push(
        7,
        What::Invoke {
            conn: conn(1, 2),
            op: "commit".into(),
        },
    );
    t.push(
        9,
        What::Crash {
            why: "crash".into(),
        },
    );
    t.push(
        9,
        What::TxnEnd {
            conn: conn(1, 2),
            outcome: TxnOutcome::InDoubt,
        },
    );
    t.push(12, What::Recovered { commit: 1 });
    let data = Data::build(&t, &facts(2));
    assert_eq!(
        data.txns,
        [
            [1, 6, 9, 2, code::IN_DOUBT, 3, 6],
            [0, 1, 5, 1, code::COMMITTED, 0, 2]
        ]
    );
    assert!(
        data.ops.contains(&[1, 7, 9, 2, op_status::CUT, 4, -1]),
        "{:?}",
        data.ops
    );
    assert_eq!(data.crashes, [[9, 12]]);
    assert_eq!(data.nemesis[0], [code::CRASH, 9, 12, 5]);
}

#[test]
fn lines_and_steps_are_the_text_timeline() {
    let timeline = failing_timeline();
    let data = Data::build(&timeline, &facts(1));
    let mut step = 0;
    let rebuilt: Vec<String> = data
        .step_deltas
        .iter()
        .zip(&data.lines)
        .map(|(delta, line)| {
            step += delta;
            format!("step {step} {line}")
        })
        .collect();
    assert_eq!(rebuilt, timeline.lines().collect::<Vec<_>>());
}

#[test]
fn a_long_run_keeps_the_last_events_in_full_and_counts_the_rest() {
    let mut t = Timeline::new();
    let mut step = 0;
    t.push(
        0,
        What::Crash {
            why: "crash".into(),
        },
    );
    t.push(3, What::Recovered { commit: 0 });
    let ops = DETAIL_EVENTS; // twice as many events as the page keeps in full
    for i in 0..ops {
        step = 10 + i as u64;
        let c = conn((i % 2) as u32, 1 + (i % 2) as u64);
        t.push(
            step,
            What::Invoke {
                conn: c,
                op: "commit".into(),
            },
        );
        let answer = if i % 5 == 0 { Answer::Busy } else { Answer::Ok };
        t.push(
            step,
            What::Complete {
                conn: c,
                op: "commit",
                result: "done".into(),
                answer,
            },
        );
    }
    let data = Data::build(&t, &facts(2));
    assert!(data.lines.len() <= DETAIL_EVENTS);
    assert!(data.lines.len() >= DETAIL_EVENTS - 2);
    assert_eq!(data.skipped_events + data.lines.len(), t.len());
    assert_eq!(data.last_step, step);
    assert_eq!(data.crashes, [[0, 3]], "crashes before the window are kept");
    let counted: u32 = data.overview.count.iter().flatten().sum();
    assert_eq!(
        counted as usize,
        ops + 2,
        "every result and the crash and recovery"
    );
    assert!(data.overview.count[0].len() as u64 <= OVERVIEW_BUCKETS);
    assert_eq!(
        data.overview.bad.iter().flatten().sum::<u32>(),
        1,
        "the crash"
    );
    // Every op in the window was invoked in it or just before it.
    assert!(data.ops.iter().all(|op| op[6] >= 0));
    let page = render(&t, &facts(2));
    assert!(page.contains("A long run"), "the page says it is windowed");
}
