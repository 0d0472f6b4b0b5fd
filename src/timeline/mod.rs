//! The timeline of a run: every event a person reads to follow a failure, in the order it
//! happened, each stamped with its decision. It is recorded only on request
//! (`SimOptions::record_timeline`: failure directories, `braid replay --trace`), so a run
//! that is not watched formats nothing.
//!
//! Two renderings come from the same events, so they never disagree:
//! - `timeline.txt`: one line per event (`Event`'s `Display`), `step N <what happened>`;
//! - `timeline.html` (`html.rs`): lanes per connection, per file and for the nemesis, with
//!   transactions as bars and ops, I/O and faults as marks.
//!
//! Keys and values are already text here (`braid_oracle::violation::show_op` and
//! `show_result`: printable bytes as themselves, others as `\xNN`, long values cut with
//! their length). Every I/O line says what happened to the operation: done, an error,
//! short (bytes moved of bytes asked), held back (latency), failed or cancelled with its
//! group; at a crash, each write that no sync made durable survived, was torn or was
//! lost, and each other pending operation was dropped.

pub mod html;

use std::fmt;

use braid_oracle::{OpError, OpResult, TxnOutcome};

use crate::sim::FailureKind;

/// Every event of one run, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    events: Vec<Event>,
}

impl Timeline {
    /// An empty timeline.
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// Adds an event at decision `step`. Steps never go back.
    pub fn push(&mut self, step: u64, what: What) {
        debug_assert!(
            self.events.last().is_none_or(|last| last.step <= step),
            "the timeline went back to step {step}"
        );
        self.events.push(Event { step, what });
    }

    /// The events, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// One line per event, as in `timeline.txt`.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.events.iter().map(Event::to_string)
    }

    /// The text of `timeline.txt`: every line, each ending in a newline.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for event in &self.events {
            use std::fmt::Write;
            writeln!(text, "{event}").expect("writing to a String cannot fail");
        }
        text
    }
}

/// One event: what happened at decision `step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub step: u64,
    pub what: What,
}

/// A connection as the timeline names it: its process id in the history (a new one after
/// every crash and after an op whose outcome is unknown) and the simulation's connection
/// slot it runs in (0-based, stable across crashes; `None` for the connection that runs
/// the workloads' final checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnId {
    pub slot: Option<u32>,
    pub process: u64,
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn {}", self.process)
    }
}

/// How an op was answered, for drawing: busy answers are part of normal contention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// `Busy` or `BusySnapshot`.
    Busy,
    /// Any other error.
    Error,
}

impl Answer {
    pub fn of(result: &OpResult) -> Answer {
        match result {
            Ok(_) => Answer::Ok,
            Err(OpError::Busy | OpError::BusySnapshot) => Answer::Busy,
            Err(_) => Answer::Error,
        }
    }
}

/// The op a failure is about: the one connection `process` had answered at decision
/// `step` (the oracle's violation names both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blame {
    pub process: u64,
    pub step: u64,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// A connection starts a transaction program.
    TxnBegin { conn: ConnId },
    /// A connection invokes an op (rendered with `show_op`).
    Invoke { conn: ConnId, op: String },
    /// The op a connection invoked finished (`op` is its name, `result` its `show_result`).
    Complete {
        conn: ConnId,
        op: &'static str,
        result: String,
        answer: Answer,
    },
    /// An op invoked and finished within one decision (`braid diff` runs each op whole).
    Op {
        conn: ConnId,
        op: String,
        result: String,
        answer: Answer,
    },
    /// A connection's transaction program ended.
    TxnEnd { conn: ConnId, outcome: TxnOutcome },
    /// The scheduler completed (or held back) one I/O operation.
    Io(IoEvent),
    /// The nemesis crashed the machine (`why` is "crash"), or the simulator restarted a
    /// database poisoned by a failed fsync ("poisoned").
    Crash { why: String },
    /// What a crash did to one operation that was not durable.
    CrashFate(CrashFate),
    /// The totals of one crash.
    CrashTotals {
        survived: usize,
        torn: usize,
        lost: usize,
        dropped: usize,
    },
    /// The database opened (or reopened after a crash) at this commit.
    Recovered { commit: u64 },
    /// The nemesis flipped one durable bit.
    BitFlip { file: String, offset: u64, bit: u8 },
    /// Anything else worth a line (corruption detected after a bit flip, ...).
    Note(String),
    /// The run failed here. `blame` names the op the failure is about when it is not the
    /// last one answered (a read judged wrong only when a later commit failed, ...).
    Failure {
        kind: FailureKind,
        message: String,
        blame: Option<Blame>,
    },
}

/// One I/O operation the scheduler chose at a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoEvent {
    /// The operation's id (sequential in submission order).
    pub id: u64,
    /// "read", "write", "sync" or "truncate".
    pub kind: &'static str,
    pub file: String,
    /// Byte offset of a read or write; the new length of a truncate.
    pub offset: u64,
    /// Bytes asked to read or write.
    pub len: u64,
    /// Labels of the completion groups waiting on it, innermost first.
    pub groups: Vec<&'static str>,
    /// Decision at which it was submitted.
    pub submitted_at: u64,
    pub fate: IoFate,
}

/// What the scheduler did with an I/O operation it chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoFate {
    /// Completed as asked.
    Done,
    /// Completed with this error (its `Display`); no data changed.
    Error(String),
    /// A read or write that moved only `moved` of its bytes.
    Short { moved: u64 },
    /// Latency: not completed, held back until decision `until`.
    Held { until: u64 },
    /// Failed with `error` as the injected failure of its group `label`.
    GroupFail { label: &'static str, error: String },
    /// Its group `label` was cancelled in flight: these operations (itself included) were
    /// aborted.
    GroupCancel {
        label: &'static str,
        aborted: Vec<u64>,
    },
}

impl IoFate {
    /// Whether a fault was injected.
    pub fn is_fault(&self) -> bool {
        !matches!(self, IoFate::Done)
    }

    /// The fault's short name, as the run summary counts it ("ok" for none).
    pub fn name(&self, kind: &str) -> &'static str {
        match self {
            IoFate::Done => "ok",
            IoFate::Error(_) => match kind {
                "read" => "read-error",
                "sync" => "sync-error",
                "truncate" => "truncate-error",
                _ => "write-error",
            },
            IoFate::Short { .. } if kind == "read" => "short-read",
            IoFate::Short { .. } => "short-write",
            IoFate::Held { .. } => "latency",
            IoFate::GroupFail { .. } => "group-fail",
            IoFate::GroupCancel { .. } => "group-cancel",
        }
    }
}

/// What a crash did to one operation that no sync had made durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashFate {
    pub id: u64,
    /// "write", "truncate", or the kind of a dropped pending operation.
    pub kind: &'static str,
    pub file: String,
    pub offset: u64,
    pub len: u64,
    /// Whether it had completed (written but not synced) or was still pending.
    pub completed: bool,
    pub loss: Loss,
}

/// How much of an operation survived a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loss {
    /// It reached the disk whole.
    Survived,
    /// None of it reached the disk.
    Lost,
    /// These sector pieces (0-based, ascending) of `of` reached the disk.
    Torn { kept: Vec<usize>, of: usize },
    /// A pending read or sync, dropped with the process that waited on it.
    Dropped,
}

impl Event {
    /// The connection the event belongs to, if any.
    pub fn conn(&self) -> Option<ConnId> {
        match &self.what {
            What::TxnBegin { conn }
            | What::Invoke { conn, .. }
            | What::Complete { conn, .. }
            | What::Op { conn, .. }
            | What::TxnEnd { conn, .. } => Some(*conn),
            _ => None,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} {}", self.step, self.what)
    }
}

/// The line of `timeline.txt` after its `step N `.
impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            What::TxnBegin { conn } => write!(f, "{conn} begins a transaction"),
            What::Invoke { conn, op } => write!(f, "{conn} invoke {op}"),
            What::Complete {
                conn, op, result, ..
            } => write!(f, "{conn} {op} -> {result}"),
            What::Op {
                conn, op, result, ..
            } => write!(f, "{conn} {op} -> {result}"),
            What::TxnEnd { conn, outcome } => write!(f, "{conn} transaction ends {outcome:?}"),
            What::Io(io) => write!(f, "{io}"),
            What::Crash { why } => write!(
                f,
                "nemesis {why}: every connection dropped, volatile data discarded"
            ),
            What::CrashFate(fate) => write!(f, "{fate}"),
            What::CrashTotals {
                survived,
                torn,
                lost,
                dropped,
            } => write!(
                f,
                "crash fates: {survived} survived, {torn} torn, {lost} lost, {dropped} pending \
                 dropped"
            ),
            What::Recovered { commit } => write!(f, "recovered at commit {commit}"),
            What::BitFlip { file, offset, bit } => {
                write!(f, "nemesis bit flip {file}@{offset} bit {bit}")
            }
            What::Note(text) => f.write_str(text),
            What::Failure { kind, message, .. } => write!(f, "FAILURE {kind}: {message}"),
        }
    }
}

impl IoEvent {
    /// `write braid.db-wal @4096+528 in "commit-frames"`: the operation, without its fate.
    pub fn describe(&self) -> String {
        let mut text = format!("#{} {} {}", self.id, self.kind, self.file);
        match self.kind {
            "read" | "write" => text.push_str(&format!(" @{}+{}", self.offset, self.len)),
            "truncate" => text.push_str(&format!(" to {}", self.offset)),
            _ => {}
        }
        if !self.groups.is_empty() {
            let labels: Vec<String> = self.groups.iter().map(|l| format!("\"{l}\"")).collect();
            let noun = if labels.len() == 1 { "group" } else { "groups" };
            text.push_str(&format!(" in {noun} {}", labels.join(" < ")));
        }
        text
    }

    /// What happened to it: `ok`, or the fault in words.
    pub fn outcome(&self) -> String {
        match &self.fate {
            IoFate::Done => "ok".to_string(),
            IoFate::Error(error) => format!("FAULT error ({error})"),
            IoFate::Short { moved } => {
                let noun = if self.kind == "read" { "read" } else { "write" };
                format!("FAULT short {noun}: {moved} of {} bytes", self.len)
            }
            IoFate::Held { until } => format!(
                "FAULT latency: held until step {until}, submitted at step {}",
                self.submitted_at
            ),
            IoFate::GroupFail { label, error } => {
                format!("FAULT group-fail: error ({error}) failing group \"{label}\"")
            }
            IoFate::GroupCancel { label, aborted } => {
                let ids: Vec<String> = aborted.iter().map(|id| format!("#{id}")).collect();
                format!(
                    "FAULT group-cancel: group \"{label}\" cancelled, {} aborted: {}",
                    ids.len(),
                    ids.join(" ")
                )
            }
        }
    }
}

impl fmt::Display for IoEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.fate {
            IoFate::Held { .. } => "delay",
            _ => "complete",
        };
        write!(f, "io {verb} {} -> {}", self.describe(), self.outcome())
    }
}

impl CrashFate {
    /// What survived, in words.
    pub fn outcome(&self) -> String {
        match &self.loss {
            Loss::Survived => "survived".to_string(),
            Loss::Lost => "LOST".to_string(),
            Loss::Torn { kept, of } if kept.is_empty() => {
                format!("TORN: none of {of} sectors kept")
            }
            Loss::Torn { kept, of } => {
                let prefix = kept.iter().enumerate().all(|(i, &piece)| i == piece);
                if prefix {
                    format!("TORN: the first {} of {of} sectors kept", kept.len())
                } else {
                    let pieces: Vec<String> = kept.iter().map(usize::to_string).collect();
                    format!("TORN: sectors {} of {of} kept", pieces.join(", "))
                }
            }
            Loss::Dropped => "dropped".to_string(),
        }
    }
}

impl fmt::Display for CrashFate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.completed {
            "written, not synced"
        } else {
            "pending"
        };
        write!(f, "crash: #{} {} {}", self.id, self.kind, self.file)?;
        match self.kind {
            "write" | "read" => write!(f, " @{}+{}", self.offset, self.len)?,
            "truncate" => write!(f, " to {}", self.offset)?,
            _ => {}
        }
        write!(f, " ({state}) -> {}", self.outcome())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(fate: IoFate) -> IoEvent {
        IoEvent {
            id: 12,
            kind: "write",
            file: "braid.db-wal".into(),
            offset: 4096,
            len: 528,
            groups: vec!["commit-frames"],
            submitted_at: 30,
            fate,
        }
    }

    #[test]
    fn every_io_line_says_what_happened_to_it() {
        let line = |fate| {
            Event {
                step: 40,
                what: What::Io(io(fate)),
            }
            .to_string()
        };
        assert_eq!(
            line(IoFate::Done),
            "step 40 io complete #12 write braid.db-wal @4096+528 in group \"commit-frames\" -> ok"
        );
        assert!(
            line(IoFate::Short { moved: 100 }).ends_with("-> FAULT short write: 100 of 528 bytes")
        );
        assert!(line(IoFate::Error("other error".into())).ends_with("FAULT error (other error)"));
        assert!(line(IoFate::Held { until: 47 }).starts_with("step 40 io delay #12 write"));
        assert!(line(IoFate::Held { until: 47 }).contains("held until step 47"));
        let cancelled = line(IoFate::GroupCancel {
            label: "commit-frames",
            aborted: vec![12, 13],
        });
        assert!(
            cancelled.ends_with("group \"commit-frames\" cancelled, 2 aborted: #12 #13"),
            "{cancelled}"
        );
        let failed = line(IoFate::GroupFail {
            label: "commit-frames",
            error: "other error".into(),
        });
        assert!(failed.contains("group-fail"), "{failed}");
    }

    #[test]
    fn crash_lines_say_what_survived() {
        let fate = |loss| CrashFate {
            id: 3,
            kind: "write",
            file: "braid.db".into(),
            offset: 0,
            len: 2048,
            completed: true,
            loss,
        };
        let line = |loss| fate(loss).to_string();
        assert_eq!(
            line(Loss::Lost),
            "crash: #3 write braid.db @0+2048 (written, not synced) -> LOST"
        );
        assert!(
            line(Loss::Torn {
                kept: vec![0, 1],
                of: 4
            })
            .ends_with("TORN: the first 2 of 4 sectors kept")
        );
        assert!(
            line(Loss::Torn {
                kept: vec![1, 3],
                of: 4
            })
            .ends_with("TORN: sectors 1, 3 of 4 kept")
        );
        assert!(line(Loss::Survived).ends_with("-> survived"));
        assert!(
            line(Loss::Torn {
                kept: vec![],
                of: 2
            })
            .ends_with("TORN: none of 2 sectors kept")
        );
    }

    #[test]
    fn text_has_one_line_per_event() {
        let mut timeline = Timeline::new();
        let conn = ConnId {
            slot: Some(0),
            process: 3,
        };
        timeline.push(
            5,
            What::Invoke {
                conn,
                op: "get \"k\"".into(),
            },
        );
        timeline.push(
            6,
            What::Complete {
                conn,
                op: "get",
                result: "nothing".into(),
                answer: Answer::Ok,
            },
        );
        assert_eq!(
            timeline.to_text(),
            "step 5 conn 3 invoke get \"k\"\nstep 6 conn 3 get -> nothing\n"
        );
        assert_eq!(timeline.lines().count(), timeline.len());
    }
}
