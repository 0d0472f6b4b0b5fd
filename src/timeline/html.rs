//! `timeline.html`: the timeline drawn as one self-contained page (inline style and script,
//! nothing fetched: no network, no fonts), from the same events as `timeline.txt`.
//!
//! Lanes, top to bottom: one per connection slot (transactions as bars from begin to end,
//! coloured by outcome; ops as marks, with their invocation and result on hover or click),
//! one for the connection of the workloads' final checks when it ran, one per file for I/O
//! (each completion at its decision, coloured by its fault, with its group label and a line
//! back to its submission; what a crash did to each write no sync had made durable), and
//! one for the nemesis (crashes, recoveries, bit flips). Crashes and the recoveries after
//! them cross every lane. The failure is a red line; the event it was detected at (an op's
//! result, a transaction's end, a recovery) is ringed, and the oracle's message heads the
//! page. The axis counts decisions.
//!
//! Long runs (aggregate plus a window): the page holds every event of the last
//! `DETAIL_EVENTS` events, which end at the failure, and for the whole run the number of
//! events per lane (and of errors other than busy, or faults other than latency, among them) in `OVERVIEW_BUCKETS` equal
//! slices of decisions. The overview strip draws those counts for the whole run; in the
//! main view, decisions before the window show the same counts as shading. Crashes and
//! recoveries of the whole run are kept. A 200,000-decision run stays a few megabytes and
//! draws at once; `timeline.txt` keeps every line.
//!
//! Deterministic: the page depends only on the events and the page's facts.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Answer, ConnId, Event, IoEvent, IoFate, Loss, Timeline, What};
use crate::sim::FailureKind;
use braid_oracle::TxnOutcome;

/// Events the page holds in full: the last ones of the run, ending at the failure.
pub const DETAIL_EVENTS: usize = 40_000;

/// Slices of the whole run that the overview counts events in.
pub const OVERVIEW_BUCKETS: u64 = 1_000;

const STYLE: &str = include_str!("viewer.css");
const LEGEND: &str = "<div class=\"legend\">transactions: <span style=\"background:#cfe8cf\">\
    </span>committed<span style=\"background:#e4e4e4\"></span>aborted<span \
    style=\"background:#f6e0b5\"></span>in doubt<span style=\"background:#dde6f5\"></span>open \
    &nbsp; ops: <span style=\"background:#2b2b2b\"></span>ok<span style=\"background:#d32f2f\">\
    </span>error<span style=\"background:#c9a0a0\"></span>busy<span style=\"background:#e65100\">\
    </span>cut by a crash &nbsp; I/O: <span \
    style=\"background:#90a4ae\"></span>ok<span style=\"background:#d32f2f\"></span>error<span \
    style=\"background:#f57c00\"></span>short<span style=\"background:#f9a825\"></span>latency\
    <span style=\"background:#c2185b\"></span>group-fail<span style=\"background:#7b1fa2\">\
    </span>group-cancel<span style=\"background:#b71c1c\"></span>lost or torn at a crash</div>\n";
const SCRIPT: &str = include_str!("viewer.js");

/// What the page says about the run besides its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageFacts {
    /// The page's title and heading.
    pub title: String,
    /// Label and value pairs shown under the heading (seed, strategy, reproduction, ...).
    pub facts: Vec<(String, String)>,
    /// Connection slots of the run: each gets a lane even if it did nothing.
    pub connections: u32,
    /// The failure, if the run failed: kind, decision and message.
    pub failure: Option<(FailureKind, u64, String)>,
}

/// Renders the page.
pub fn render(timeline: &Timeline, facts: &PageFacts) -> String {
    let data = Data::build(timeline, facts);
    let json = serde_json::to_string(&data).expect("the page data serializes");
    // Inside <script> only "</" could end the element early; `<` occurs in JSON only
    // inside strings, where the escape reads back as the same character.
    let json = json.replace('<', "\\u003c");
    let mut page = String::with_capacity(json.len() + STYLE.len() + SCRIPT.len() + 8_192);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str(&format!("<title>{}</title>\n", escape(&facts.title)));
    page.push_str("<style>\n");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n");
    page.push_str(&header(facts, &data));
    page.push_str(&lanes_html(&data));
    page.push_str(
        "<div id=\"details\"><p class=\"hint\">Hover over a mark for what happened; click \
         it to pin it here with the timeline lines around it. Wheel or +/- zooms, drag or \
         arrow keys pan, the strip above moves the view; #view=FROM-TO in the address opens those decisions.</p></div>\n",
    );
    page.push_str("<script id=\"braid-data\" type=\"application/json\">");
    page.push_str(&json);
    page.push_str("</script>\n<script>\n");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</body>\n</html>\n");
    page
}

/// Escapes text for an HTML text node: `&`, `<` and `>`.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes text for a double-quoted HTML attribute value.
fn escape_attribute(text: &str) -> String {
    escape(text).replace('"', "&quot;")
}

/// The heading, the facts and the failure box (the failing event in words).
fn header(facts: &PageFacts, data: &Data) -> String {
    let mut html = format!(
        "<header>\n<h1>{}</h1>\n<dl class=\"facts\">",
        escape(&facts.title)
    );
    for (label, value) in &facts.facts {
        html.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>",
            escape(label),
            escape(value)
        ));
    }
    html.push_str("</dl>\n");
    if let Some(failure) = &data.failure {
        html.push_str(&format!(
            "<div id=\"failure\"><p><b>FAILURE {}</b> at decision {}</p>",
            escape(&failure.kind),
            failure.step,
        ));
        let lines = failure.message.lines().count();
        match failure.message.lines().next() {
            // A long message (a divergence lists every connection's ops) shows its first
            // line; the whole of it is one click away.
            Some(first) if lines > 3 => html.push_str(&format!(
                "<p class=\"message\">{}</p><details><summary>the whole message ({lines} \
                 lines)</summary><pre class=\"message\">{}</pre></details>",
                escape(first),
                escape(&failure.message)
            )),
            _ => html.push_str(&format!(
                "<p class=\"message\">{}</p>",
                escape(&failure.message)
            )),
        }
        if !failure.lines.is_empty() {
            html.push_str(&format!(
                "<p>{}</p><pre class=\"failing\">",
                failure.heading
            ));
            for line in &failure.lines {
                html.push_str(&escape(line));
                html.push('\n');
            }
            html.push_str("</pre>");
        }
        if let Some(line) = &failure.detected_line {
            html.push_str(&format!(
                "<p>Detected at:</p><pre class=\"detected\">{}\n</pre>",
                escape(line)
            ));
        }
        html.push_str("<button id=\"goto-failure\">show the failure</button></div>\n");
    }
    if data.skipped_events > 0 {
        html.push_str(&format!(
            "<p class=\"note\">A long run: the page holds the last {} of {} events in full \
             (decisions {} to {}); earlier decisions are shown as counts per {} decisions. \
             timeline.txt has every line.</p>\n",
            data.lines.len(),
            data.lines.len() + data.skipped_events,
            data.first_step,
            data.last_step,
            data.overview.bucket
        ));
    }
    html.push_str("</header>\n");
    html
}

/// The lane labels, one element per lane (the script draws the lanes beside them).
fn lanes_html(data: &Data) -> String {
    let mut html = String::from(
        "<div id=\"controls\"><button id=\"zoom-in\">+</button><button id=\"zoom-out\">\
         &minus;</button><button id=\"fit\">whole run</button><button id=\"fit-window\">\
         detailed part</button><span id=\"range\"></span></div>\n<div id=\"overview-box\">\
         <canvas id=\"overview\"></canvas></div>\n<div id=\"view\"><div id=\"labels\">\
         <div class=\"axis-label\">decision</div>",
    );
    for (index, lane) in data.lanes.iter().enumerate() {
        html.push_str(&format!(
            "<div class=\"lane-label lane-{}\" data-lane=\"{index}\" style=\"height:{}px\" \
             title=\"{}\">{}</div>",
            lane.kind,
            lane.height,
            escape_attribute(&lane.title),
            escape(&lane.name)
        ));
    }
    html.push_str("</div><div id=\"plot\"><canvas id=\"main\"></canvas></div></div>\n");
    html.push_str(LEGEND);
    html.push_str("<div id=\"tooltip\"></div>\n");
    html
}

/// Which lane an event is drawn in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LaneKey {
    Conn(u32),
    Checks,
    File(String),
    Nemesis,
}

#[derive(Serialize)]
struct Lane {
    name: String,
    /// Hover text of the label.
    title: String,
    /// "conn", "checks", "io" or "nemesis".
    kind: &'static str,
    height: u32,
}

/// Fault and fate codes of an `io` item (the script's `IO_CODES`).
mod code {
    pub const DONE: i64 = 0;
    pub const ERROR: i64 = 1;
    pub const SHORT: i64 = 2;
    pub const HELD: i64 = 3;
    pub const GROUP_FAIL: i64 = 4;
    pub const GROUP_CANCEL: i64 = 5;
    pub const LOST: i64 = 6;
    pub const TORN: i64 = 7;
    pub const DROPPED: i64 = 8;
    pub const SURVIVED: i64 = 9;

    /// Nemesis items.
    pub const CRASH: i64 = 0;
    pub const RECOVERED: i64 = 1;
    pub const BIT_FLIP: i64 = 2;
    pub const NOTE: i64 = 3;
    pub const FAILURE: i64 = 4;
    pub const CRASH_TOTALS: i64 = 5;

    /// Transaction outcomes; `OPEN` has not ended when the timeline ends.
    pub const COMMITTED: i64 = 0;
    pub const ABORTED: i64 = 1;
    pub const IN_DOUBT: i64 = 2;
    pub const OPEN: i64 = 3;
}

/// Status of an `ops` item (the script's `OP_STATUS`).
mod op_status {
    use crate::timeline::Answer;

    pub const OK: i64 = 0;
    pub const FAILED: i64 = 1;
    /// Never answered: a crash cut it off at its result step.
    pub const CUT: i64 = 2;
    /// Not answered when the timeline ends.
    pub const OPEN: i64 = 3;
    /// Busy or BusySnapshot.
    pub const BUSY: i64 = 4;

    pub fn of(answer: Answer) -> i64 {
        match answer {
            Answer::Ok => OK,
            Answer::Busy => BUSY,
            Answer::Error => FAILED,
        }
    }
}

#[derive(Serialize)]
struct Overview {
    /// Decisions per slice.
    bucket: u64,
    /// Per lane, events per slice.
    count: Vec<Vec<u32>>,
    /// Per lane, ops answered with an error other than busy, or faults other than latency,
    /// per slice.
    bad: Vec<Vec<u32>>,
}

#[derive(Serialize)]
struct FailureData {
    kind: String,
    step: u64,
    message: String,
    /// The event (index into `lines`) the failure is about, or -1.
    ev: i64,
    /// The event the failure was detected at, when it is another (index into `lines`).
    detected: i64,
    /// The failing event's line, and the op's invocation before it when it is a result.
    lines: Vec<String>,
    /// The line of the event the failure was detected at, when it is another.
    detected_line: Option<String>,
    /// What `lines` show: "The failing op:", or "Detected at:" for another event.
    #[serde(skip)]
    heading: &'static str,
}

/// The page's data, as the script reads it. Items are arrays of integers; `ev` fields index
/// `lines` (-1: before the window), steps are decisions (-1: not reached).
#[derive(Serialize)]
struct Data {
    lanes: Vec<Lane>,
    /// First and last decision of the detailed window.
    first_step: u64,
    last_step: u64,
    /// Events before the window (counted only in the overview).
    skipped_events: usize,
    /// Decision of each line, as differences from the line before (the first from 0).
    step_deltas: Vec<u64>,
    /// Each event of the window as its `timeline.txt` line after `step N `.
    lines: Vec<String>,
    /// [lane, begin step, end step, process, outcome, begin ev, end ev]
    txns: Vec<[i64; 7]>,
    /// [lane, invoke step, result step (-1: open at the end), process, status (`op_status`),
    /// invoke ev, result ev]
    ops: Vec<[i64; 7]>,
    /// [lane, submitted step, step, until step, code, ev, group (index into `groups`)]
    io: Vec<[i64; 7]>,
    /// [code, step, end step, ev]
    nemesis: Vec<[i64; 4]>,
    groups: Vec<&'static str>,
    /// Every crash of the run: [crash step, recovered step].
    crashes: Vec<[i64; 2]>,
    overview: Overview,
    failure: Option<FailureData>,
}

/// The lanes of a run: every connection slot, the final checks if they ran, each file, the
/// nemesis.
fn lane_keys(events: &[Event], connections: u32) -> Vec<LaneKey> {
    let mut keys: Vec<LaneKey> = (0..connections).map(LaneKey::Conn).collect();
    let mut extra = std::collections::BTreeSet::new();
    for event in events {
        match &event.what {
            What::Io(io) => {
                extra.insert(LaneKey::File(io.file.clone()));
            }
            What::CrashFate(fate) => {
                extra.insert(LaneKey::File(fate.file.clone()));
            }
            _ => {
                if let Some(conn) = event.conn() {
                    match conn.slot {
                        Some(slot) if slot >= connections => {
                            extra.insert(LaneKey::Conn(slot));
                        }
                        Some(_) => {}
                        None => {
                            extra.insert(LaneKey::Checks);
                        }
                    }
                }
            }
        }
    }
    keys.extend(extra);
    keys.push(LaneKey::Nemesis);
    keys
}

fn lane_of(conn: ConnId) -> LaneKey {
    conn.slot.map_or(LaneKey::Checks, LaneKey::Conn)
}

/// Where the detailed window starts: `DETAIL_EVENTS` from the end, moved forward to the
/// first event of a decision so no decision is split.
fn window_start(events: &[Event]) -> usize {
    let mut start = events.len().saturating_sub(DETAIL_EVENTS);
    while start > 0 && start < events.len() && events[start].step == events[start - 1].step {
        start += 1;
    }
    start
}

/// The events a failure points at: the op it is about (the result its blame names) and
/// the event it was detected at (the last op result, transaction end, recovery or I/O at
/// the failure's decision before its `Failure` event); the first falls back to the second.
fn failing_events(events: &[Event]) -> (Option<usize>, Option<usize>) {
    let Some(at) = events
        .iter()
        .rposition(|e| matches!(e.what, What::Failure { .. }))
    else {
        return (None, None);
    };
    let step = events[at].step;
    let detected = events[..at]
        .iter()
        .rposition(|e| {
            e.step != step
                || matches!(
                    e.what,
                    What::Complete { .. }
                        | What::Op { .. }
                        | What::TxnEnd { .. }
                        | What::Recovered { .. }
                        | What::Io(_)
                )
        })
        .filter(|&i| events[i].step == step);
    let blamed = match &events[at].what {
        What::Failure {
            blame: Some(blame), ..
        } => events[..at].iter().rposition(|e| {
            e.step == blame.step
                && matches!(e.what, What::Complete { .. } | What::Op { .. })
                && e.conn().is_some_and(|c| c.process == blame.process)
        }),
        _ => None,
    };
    (blamed.or(detected), detected)
}

/// Open transactions and ops while walking the events. A connection runs one transaction
/// and one op at a time, so both are kept per lane (a connection's process id may change
/// inside a transaction, after an op whose outcome is unknown).
#[derive(Default)]
struct Walk {
    /// Per lane: process, begin step, begin ev.
    txns: BTreeMap<usize, (u64, u64, i64)>,
    /// Per lane: process, invoke step, invoke ev.
    ops: BTreeMap<usize, (u64, u64, i64)>,
    /// Per lane: the step and ev of a commit acknowledged in the open transaction (its
    /// program may not have said it is done when the timeline ends).
    committed: BTreeMap<usize, (u64, i64)>,
    /// The crash waiting for its recovery: index into `crashes`.
    open_crash: Option<usize>,
    /// Same, index into the window's `nemesis` items.
    open_crash_item: Option<usize>,
}

impl Data {
    fn build(timeline: &Timeline, facts: &PageFacts) -> Data {
        let events = timeline.events();
        let keys = lane_keys(events, facts.connections);
        let lane_index: BTreeMap<&LaneKey, usize> =
            keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
        let lane = |key: &LaneKey| lane_index[key];
        let start = window_start(events);
        let last_step = events.last().map_or(0, |e| e.step);
        let first_step = events.get(start).map_or(0, |e| e.step);
        let bucket = (last_step + 1).div_ceil(OVERVIEW_BUCKETS).max(1);
        let buckets = usize::try_from(last_step / bucket + 1).expect("buckets fit");
        let mut data = Data {
            lanes: keys.iter().map(lane_facts).collect(),
            first_step,
            last_step,
            skipped_events: start,
            step_deltas: Vec::with_capacity(events.len() - start),
            lines: Vec::with_capacity(events.len() - start),
            txns: Vec::new(),
            ops: Vec::new(),
            io: Vec::new(),
            nemesis: Vec::new(),
            groups: Vec::new(),
            crashes: Vec::new(),
            overview: Overview {
                bucket,
                count: vec![vec![0; buckets]; keys.len()],
                bad: vec![vec![0; buckets]; keys.len()],
            },
            failure: None,
        };
        let mut walk = Walk::default();
        let mut previous_step = 0;
        for (index, event) in events.iter().enumerate() {
            let ev = if index >= start {
                data.step_deltas.push(event.step - previous_step);
                previous_step = event.step;
                data.lines.push(event.what.to_string());
                i64::try_from(index - start).expect("fits")
            } else {
                -1
            };
            data.add(event, ev, &mut walk, &lane);
        }
        data.close_open(&walk);
        if let Some((kind, step, message)) = &facts.failure {
            let in_window = |i: Option<usize>| {
                i.filter(|&i| i >= start)
                    .map_or(-1, |i| i64::try_from(i - start).expect("fits"))
            };
            let (blamed, detected) = failing_events(events);
            let (ev, detected) = (in_window(blamed), in_window(detected));
            let mut lines = Vec::new();
            let mut heading = "Detected at:";
            if ev >= 0 {
                let event = &events[start + ev as usize];
                if matches!(event.what, What::Complete { .. } | What::Op { .. }) {
                    heading = "The failing op:";
                }
                if let What::Complete { conn, .. } = &event.what
                    && let Some(invoke) = data.ops.iter().find(|op| op[6] == ev && op[5] >= 0)
                {
                    let invoked = &events[start + invoke[5] as usize];
                    debug_assert_eq!(invoked.conn(), Some(*conn));
                    lines.push(invoked.to_string());
                }
                lines.push(event.to_string());
            }
            let mut detected_line = None;
            if detected >= 0 && detected != ev {
                detected_line = Some(events[start + detected as usize].to_string());
            }
            data.failure = Some(FailureData {
                kind: kind.to_string(),
                step: *step,
                message: message.clone(),
                ev,
                detected,
                lines,
                detected_line,
                heading,
            });
        }
        data
    }

    /// Counts `event` in the overview and, inside the window (`ev` >= 0), adds its items.
    fn add(&mut self, event: &Event, ev: i64, walk: &mut Walk, lane: &dyn Fn(&LaneKey) -> usize) {
        match &event.what {
            What::Io(io) => {
                let at = lane(&LaneKey::File(io.file.clone()));
                self.add_io(at, event.step, ev, io);
            }
            What::CrashFate(fate) => {
                let at = lane(&LaneKey::File(fate.file.clone()));
                let code = match fate.loss {
                    Loss::Survived => code::SURVIVED,
                    Loss::Lost => code::LOST,
                    Loss::Torn { .. } => code::TORN,
                    Loss::Dropped => code::DROPPED,
                };
                let bad = matches!(fate.loss, Loss::Lost | Loss::Torn { .. });
                self.count(at, event.step, bad);
                if ev >= 0 {
                    let step = event.step as i64;
                    self.io.push([at as i64, step, step, step, code, ev, -1]);
                }
            }
            _ => match event.conn() {
                Some(conn) => self.add_conn_event(lane(&lane_of(conn)), event, ev, walk),
                None => self.add_nemesis(event, ev, walk),
            },
        }
    }

    /// Counts one event of lane `lane` at `step` in the overview (`bad`: an error other
    /// than busy, or a fault other than latency).
    fn count(&mut self, lane: usize, step: u64, bad: bool) {
        let slice = usize::try_from(step / self.overview.bucket).expect("slices fit");
        self.overview.count[lane][slice] += 1;
        if bad {
            self.overview.bad[lane][slice] += 1;
        }
    }

    /// A connection's event: transactions open and close, ops are invoked and answered.
    fn add_conn_event(&mut self, at: usize, event: &Event, ev: i64, walk: &mut Walk) {
        let step = event.step;
        let step_i = step as i64;
        match &event.what {
            What::TxnBegin { conn } => {
                walk.txns.insert(at, (conn.process, step, ev));
                walk.committed.remove(&at);
            }
            What::TxnEnd { conn, outcome } => {
                let (process, begin, begin_ev) =
                    walk.txns.remove(&at).unwrap_or((conn.process, step, -1));
                walk.committed.remove(&at);
                if ev >= 0 || begin_ev >= 0 {
                    let outcome = match outcome {
                        TxnOutcome::Committed => code::COMMITTED,
                        TxnOutcome::Aborted => code::ABORTED,
                        TxnOutcome::InDoubt => code::IN_DOUBT,
                    };
                    let (lane, process) = (at as i64, process as i64);
                    self.txns
                        .push([lane, begin as i64, step_i, process, outcome, begin_ev, ev]);
                }
                // An op its transaction's end cut off (a crash) was never answered.
                if let Some(op) = walk.ops.remove(&at) {
                    self.cut_op(at, op, step_i, ev);
                }
            }
            What::Invoke { conn, .. } => {
                walk.ops.insert(at, (conn.process, step, ev));
            }
            What::Complete {
                conn, answer, op, ..
            } => {
                self.count(at, step, *answer == Answer::Error);
                if *op == "commit" && *answer == Answer::Ok {
                    walk.committed.insert(at, (step, ev));
                }
                let (process, invoked, invoke_ev) =
                    walk.ops.remove(&at).unwrap_or((conn.process, step, -1));
                if ev >= 0 {
                    let (lane, process) = (at as i64, process as i64);
                    let status = op_status::of(*answer);
                    self.ops
                        .push([lane, invoked as i64, step_i, process, status, invoke_ev, ev]);
                }
            }
            What::Op { conn, answer, .. } => {
                self.count(at, step, *answer == Answer::Error);
                if ev >= 0 {
                    let (lane, process) = (at as i64, conn.process as i64);
                    let status = op_status::of(*answer);
                    self.ops
                        .push([lane, step_i, step_i, process, status, ev, ev]);
                }
            }
            _ => unreachable!("only a connection's events have a connection"),
        }
    }

    /// An I/O the scheduler completed or held back, in lane `at`.
    fn add_io(&mut self, at: usize, step: u64, ev: i64, io: &IoEvent) {
        let bad = !matches!(io.fate, IoFate::Done | IoFate::Held { .. });
        self.count(at, step, bad);
        if ev < 0 {
            return;
        }
        let (code, until) = match &io.fate {
            IoFate::Done => (code::DONE, step),
            IoFate::Error(_) => (code::ERROR, step),
            IoFate::Short { .. } => (code::SHORT, step),
            IoFate::Held { until } => (code::HELD, *until),
            IoFate::GroupFail { .. } => (code::GROUP_FAIL, step),
            IoFate::GroupCancel { .. } => (code::GROUP_CANCEL, step),
        };
        let group = io.groups.first().map_or(-1, |label| self.group(label));
        let submitted = io.submitted_at as i64;
        self.io.push([
            at as i64,
            submitted,
            step as i64,
            until as i64,
            code,
            ev,
            group,
        ]);
    }

    /// A nemesis event (a crash and the recovery after it, a bit flip), a note or the
    /// failure.
    fn add_nemesis(&mut self, event: &Event, ev: i64, walk: &mut Walk) {
        let nemesis = self.lanes.len() - 1;
        let step = event.step as i64;
        let (code, bad) = match &event.what {
            What::Crash { .. } => {
                walk.open_crash = Some(self.crashes.len());
                self.crashes.push([step, -1]);
                // Every op in flight dies with the crash.
                for (at, op) in std::mem::take(&mut walk.ops) {
                    self.cut_op(at, op, step, ev);
                }
                walk.open_crash_item = (ev >= 0).then_some(self.nemesis.len());
                (code::CRASH, true)
            }
            What::Recovered { .. } => {
                if let Some(crash) = walk.open_crash.take() {
                    self.crashes[crash][1] = step;
                }
                if let Some(item) = walk.open_crash_item.take() {
                    self.nemesis[item][2] = step;
                }
                (code::RECOVERED, false)
            }
            What::CrashTotals { .. } => (code::CRASH_TOTALS, false),
            What::BitFlip { .. } => (code::BIT_FLIP, true),
            What::Failure { .. } => (code::FAILURE, true),
            _ => (code::NOTE, false),
        };
        if code != code::CRASH_TOTALS {
            self.count(nemesis, event.step, bad);
        }
        if ev >= 0 {
            let end = if code == code::CRASH { -1 } else { step };
            self.nemesis.push([code, step, end, ev]);
        }
    }

    /// Transactions and ops still open when the timeline ends. A transaction whose commit
    /// was acknowledged ends there, committed, though its program never said it was done.
    fn close_open(&mut self, walk: &Walk) {
        for (&at, &(process, begin, begin_ev)) in &walk.txns {
            let (lane, process) = (at as i64, process as i64);
            let (end, outcome, end_ev) = match walk.committed.get(&at) {
                Some(&(step, ev)) => (step as i64, code::COMMITTED, ev),
                None => (-1, code::OPEN, -1),
            };
            self.txns
                .push([lane, begin as i64, end, process, outcome, begin_ev, end_ev]);
        }
        for (&lane, &(process, invoked, invoke_ev)) in &walk.ops {
            let (lane, process) = (lane as i64, process as i64);
            self.ops.push([
                lane,
                invoked as i64,
                -1,
                process,
                op_status::OPEN,
                invoke_ev,
                -1,
            ]);
        }
    }

    /// An op that was never answered: its connection's transaction ended (a crash) at
    /// `step`, event `ev`. Kept when either end is inside the window.
    fn cut_op(
        &mut self,
        lane: usize,
        (process, invoked, invoke_ev): (u64, u64, i64),
        step: i64,
        ev: i64,
    ) {
        if ev >= 0 || invoke_ev >= 0 {
            let (lane, process) = (lane as i64, process as i64);
            self.ops.push([
                lane,
                invoked as i64,
                step,
                process,
                op_status::CUT,
                invoke_ev,
                -1,
            ]);
        }
    }

    /// The index of a group label in `groups`.
    fn group(&mut self, label: &'static str) -> i64 {
        let index = self
            .groups
            .iter()
            .position(|&g| g == label)
            .unwrap_or_else(|| {
                self.groups.push(label);
                self.groups.len() - 1
            });
        index as i64
    }
}

fn lane_facts(key: &LaneKey) -> Lane {
    match key {
        LaneKey::Conn(slot) => Lane {
            name: format!("connection {}", slot + 1),
            title: format!(
                "connection slot {} (its process ids, conn N in timeline.txt, change after \
                 every crash)",
                slot + 1
            ),
            kind: "conn",
            height: 30,
        },
        LaneKey::Checks => Lane {
            name: "final checks".to_string(),
            title: "the connection that runs the workloads' final checks".to_string(),
            kind: "checks",
            height: 30,
        },
        LaneKey::File(file) => Lane {
            name: format!("I/O {file}"),
            title: format!("every I/O on {file}, at the decision it completed"),
            kind: "io",
            height: 26,
        },
        LaneKey::Nemesis => Lane {
            name: "nemesis".to_string(),
            title: "crashes, recoveries, bit flips and the failure".to_string(),
            kind: "nemesis",
            height: 26,
        },
    }
}

#[cfg(test)]
mod tests;
