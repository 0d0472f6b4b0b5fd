//! The campaign commands end to end through the `braid` binary (built with
//! `--features canaries`): exit codes, the files `fuzz` writes, `replay` of a good and of a
//! tampered failure directory, `shrink` writing `shrunk/`, and `merge` of shard summaries.
#![cfg(feature = "canaries")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn braid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_braid"))
        .args(args)
        .output()
        .expect("the braid binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn temp_out(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("braid-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

#[test]
fn fuzz_replay_shrink_and_merge_through_the_binary() {
    let root = temp_out("flow");
    let out = root.join("out");
    let json = root.join("summary.json");
    let junit = root.join("junit.xml");
    let fuzz = braid(&[
        "fuzz",
        "--seeds",
        "0..3",
        "--steps",
        "20000",
        "--jobs",
        "2",
        "--canary",
        "skip-busy-snapshot",
        "--out",
        path(&out),
        "--json",
        path(&json),
        "--junit",
        path(&junit),
    ]);
    assert_eq!(fuzz.status.code(), Some(1), "{}", stdout(&fuzz));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("summary")).expect("json");
    assert_eq!(summary["seeds"], 3);
    assert_eq!(summary["failed"], 3);
    assert!(summary["histograms"]["txn_latency_decisions"]["p99"].is_u64());
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.contains("name=\"seed 0\""), "{xml}");

    let seed_dir = out.join("seed-0");
    let replay = braid(&["replay", path(&seed_dir)]);
    assert_eq!(replay.status.code(), Some(1), "{}", stdout(&replay));
    assert!(stdout(&replay).contains("REPRODUCED"));

    let shrink = braid(&["shrink", path(&seed_dir), "--time", "20s"]);
    assert_eq!(shrink.status.code(), Some(1), "{}", stdout(&shrink));
    assert!(stdout(&shrink).contains("before:") && stdout(&shrink).contains("after:"));
    let replay_shrunk = braid(&["replay", path(&seed_dir.join("shrunk")), "--trace"]);
    assert_eq!(
        replay_shrunk.status.code(),
        Some(1),
        "{}",
        stdout(&replay_shrunk)
    );
    assert!(stdout(&replay_shrunk).contains("FAILURE writer-snapshot"));

    // A record whose trace hash was tampered with does not reproduce: exit 3.
    let record_path = seed_dir.join("failure.json");
    let text = std::fs::read_to_string(&record_path).expect("record");
    let mut record: serde_json::Value = serde_json::from_str(&text).expect("json");
    record["trace_hash"] = "0000000000000000".into();
    std::fs::write(&record_path, record.to_string()).expect("tamper");
    let tampered = braid(&["replay", path(&seed_dir)]);
    assert_eq!(tampered.status.code(), Some(3), "{}", stdout(&tampered));
    assert!(stdout(&tampered).contains("NOT REPRODUCED"));

    // Two shards merge into the campaign's totals.
    let mut shard_reports = Vec::new();
    for shard in ["1/2", "2/2"] {
        let report = root.join(format!("shard-{}.json", &shard[..1]));
        let run = braid(&[
            "fuzz",
            "--seeds",
            "0..3",
            "--steps",
            "20000",
            "--jobs",
            "1",
            "--canary",
            "skip-busy-snapshot",
            "--shard",
            shard,
            "--out",
            path(&root.join("shards")),
            "--json",
            path(&report),
        ]);
        assert_eq!(run.status.code(), Some(1), "{}", stdout(&run));
        shard_reports.push(report);
    }
    let merged_path = root.join("merged.json");
    let merge = braid(&[
        "merge",
        path(&shard_reports[0]),
        path(&shard_reports[1]),
        "--json",
        path(&merged_path),
    ]);
    assert_eq!(merge.status.code(), Some(1), "{}", stdout(&merge));
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged_path).expect("merged"))
            .expect("json");
    assert_eq!(merged["seeds"], 3);
    assert_eq!(merged["failed"], 3);
    assert_eq!(
        merged["totals"]["decisions"],
        summary["totals"]["decisions"]
    );
    std::fs::remove_dir_all(&root).expect("cleanup");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["fuzz", "--shard", "0/2"][..],
        &["fuzz", "--seeds", "9..1"],
        &["fuzz", "--time", "soon"],
        &["fuzz", "--canary", "no-such-canary"],
        &["replay", "/nonexistent/braid/dir"],
        &["merge", "/nonexistent/summary.json"],
    ] {
        let output = braid(args);
        assert_eq!(output.status.code(), Some(2), "braid {args:?}");
    }
}
