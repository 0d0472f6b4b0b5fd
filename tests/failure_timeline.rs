//! What a person reads after a failure (built with `--features canaries`): a canary's shrunk
//! failure directory holds a `timeline.html` with a lane for every connection, the failing
//! op and the oracle's message, drawn from the same events as `timeline.txt`; keys and
//! values print as text in the timeline, the failure record and `braid replay --trace`.
#![cfg(feature = "canaries")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use braid::artifacts::{FailureArtifact, FailureRecord, TIMELINE_HTML_FILE, write_failure_dir};
use braid::campaign::{run_seed, seed_dir};
use braid::config;
use braid::shrink::{ShrinkOptions, shrink_with};
use braid::timeline::html::escape;
use braid_core::Canary;

const CANARY: Canary = Canary::SkipBusySnapshot;
const SEED: u64 = 3;

fn temp_out(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("braid-timeline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The canary's failure directory under `out`.
fn failure_dir(out: &Path) -> PathBuf {
    let mut config = config::default_config();
    config.run.steps = 20_000;
    let result = run_seed(&config, SEED, Some(CANARY), out);
    assert!(result.warning.is_none(), "{:?}", result.warning);
    assert!(
        result.record.failure.is_some(),
        "the canary fails this seed"
    );
    seed_dir(out, SEED)
}

/// Shrinks the failure in `dir` (its own tape only, briefly) into `dir/shrunk`.
fn shrunk_dir(dir: &Path) -> PathBuf {
    let artifact = FailureArtifact::load(dir).expect("readable");
    let options = ShrinkOptions {
        time_limit: Duration::from_secs(20),
        search: false,
    };
    let shrunk = shrink_with(&artifact, options, &mut |_| {}).expect("shrinks");
    assert!(shrunk.after.decisions < shrunk.before.decisions);
    let record =
        FailureRecord::new(&shrunk.config, Some(CANARY), &shrunk.run.outcome).expect("fails");
    let shrunk_dir = dir.join("shrunk");
    write_failure_dir(&shrunk_dir, &record, &shrunk.run).expect("written");
    shrunk_dir
}

/// The page's data (the JSON in its `braid-data` script element).
fn page_data(html: &str) -> serde_json::Value {
    let open = "<script id=\"braid-data\" type=\"application/json\">";
    let start = html.find(open).expect("the page holds its data") + open.len();
    let end = start + html[start..].find("</script>").expect("closed");
    serde_json::from_str(&html[start..end]).expect("the data is JSON")
}

/// Whether `text` holds a decimal byte array, the way keys printed before they were text
/// (`[119, 49, 46, ...]`).
fn has_byte_array(text: &str) -> bool {
    text.split('[').skip(1).any(|after| {
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && after[digits..].starts_with(", ") && {
            let rest = &after[digits + 2..];
            rest.chars().next().is_some_and(|c| c.is_ascii_digit())
        }
    })
}

#[test]
fn a_shrunk_canary_failure_draws_every_connection_the_failing_op_and_the_message() {
    let out = temp_out("shrunk");
    let dir = shrunk_dir(&failure_dir(&out));
    let record = FailureArtifact::load(&dir).expect("readable").record;
    let connections = record.config(&dir).expect("config").run.connections;
    let html = std::fs::read_to_string(dir.join(TIMELINE_HTML_FILE)).expect("timeline.html");
    let text = std::fs::read_to_string(dir.join("timeline.txt")).expect("timeline.txt");

    // One page, nothing fetched.
    for outside in ["http:", "https:", "<link", " src=", "@import", "url("] {
        assert!(
            !html.contains(outside),
            "the page refers outside itself: {outside}"
        );
    }
    // A lane for every connection, and for I/O and the nemesis.
    assert!(connections >= 1);
    let data = page_data(&html);
    let lanes: Vec<&str> = data["lanes"]
        .as_array()
        .expect("lanes")
        .iter()
        .map(|lane| lane["name"].as_str().expect("a name"))
        .collect();
    for slot in 1..=connections {
        let name = format!("connection {slot}");
        assert!(lanes.contains(&name.as_str()), "{name} in {lanes:?}");
        assert!(html.contains(&format!(">{name}</div>")), "{name} labelled");
    }
    assert!(lanes.iter().any(|lane| lane.starts_with("I/O braid.db")));
    assert_eq!(lanes.last(), Some(&"nemesis"));
    // The oracle's message heads the page.
    assert!(
        html.contains(&escape(&record.message)),
        "{}",
        record.message
    );

    // The failing op: the last op result before the FAILURE line, at its decision.
    let lines: Vec<&str> = text.lines().collect();
    let failure_at = lines
        .iter()
        .rposition(|line| line.contains(" FAILURE "))
        .expect("the timeline ends with the failure");
    let step_prefix = format!("step {} conn ", record.step);
    let failing = lines[..failure_at]
        .iter()
        .rev()
        .take_while(|line| line.starts_with(&format!("step {} ", record.step)))
        .find(|line| line.starts_with(&step_prefix) && line.contains(" -> "))
        .expect("the failure follows an op's result");
    assert!(
        html.contains("<pre class=\"failing\">") && html.contains(&escape(failing)),
        "the failing op {failing} is on the page"
    );
    let ev = data["failure"]["ev"]
        .as_u64()
        .expect("the failing event is drawn") as usize;
    let drawn = format!(
        "step {} {}",
        record.step,
        data["lines"][ev].as_str().expect("line")
    );
    assert_eq!(&drawn, failing, "the ringed mark is that op's result");

    // The page's events are timeline.txt's, line for line.
    assert_eq!(data["skipped_events"], 0, "a shrunk failure is drawn whole");
    let mut step = 0;
    let rebuilt: Vec<String> = data["step_deltas"]
        .as_array()
        .expect("steps")
        .iter()
        .zip(data["lines"].as_array().expect("lines"))
        .map(|(delta, line)| {
            step += delta.as_u64().expect("a step");
            format!("step {step} {}", line.as_str().expect("text"))
        })
        .collect();
    assert_eq!(rebuilt, lines);
    std::fs::remove_dir_all(&out).expect("cleanup");
}

#[test]
fn keys_and_values_print_as_text() {
    let out = temp_out("text");
    let dir = failure_dir(&out);
    let text = std::fs::read_to_string(dir.join("timeline.txt")).expect("timeline.txt");
    let record = FailureArtifact::load(&dir).expect("readable").record;
    // Workload keys are quoted text: `get "w0.register/00000003"`.
    assert!(text.contains(" invoke get \"w"), "keys print as text");
    assert!(text.contains(" invoke put \"w"), "keys print as text");
    assert!(!has_byte_array(&text), "no byte arrays in timeline.txt");
    assert!(
        !has_byte_array(&record.message),
        "no byte arrays in the failure's message"
    );

    // `replay --trace` prints the same text; `--html` draws the very page the directory
    // holds (same run, same bytes).
    let page = out.join("replayed.html");
    let replay = Command::new(env!("CARGO_BIN_EXE_braid"))
        .args(["replay", "--trace", "--html"])
        .arg(&page)
        .arg(&dir)
        .output()
        .expect("the braid binary runs");
    assert_eq!(replay.status.code(), Some(1), "reproduced");
    let printed = String::from_utf8_lossy(&replay.stdout);
    assert!(
        printed.contains(" invoke put \"w"),
        "replay --trace prints keys as text"
    );
    assert!(!has_byte_array(&printed));
    let drawn = std::fs::read(&page).expect("the page was written");
    let kept = std::fs::read(dir.join(TIMELINE_HTML_FILE)).expect("timeline.html");
    assert!(
        drawn == kept,
        "the same run draws the same page, byte for byte"
    );
    std::fs::remove_dir_all(&out).expect("cleanup");
}

#[test]
fn the_byte_array_detector_detects_byte_arrays() {
    assert!(has_byte_array("Get([119, 49, 46, 108])"));
    assert!(!has_byte_array(
        "get \"w1.list\" [\"a\"=\"1\"] [3] commits [42]"
    ));
}
