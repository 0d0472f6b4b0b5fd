//! The history of a simulation: one event per operation invocation and completion, plus
//! nemesis events (crash, restart, checkpoint, injected faults). Exported as Jepsen/Elle
//! EDN (one map per line) and as JSON lines with the same structure. The list-append
//! workload's transactions also have Elle's transaction form (`txn_form.rs`), and
//! `parse_edn` reads either back.
//!
//! Rules the recorder asserts: a process has at most one operation open; a completion
//! matches an open invocation; a process whose operation ended `:info` never invokes
//! again (after a crash, connections come back under new ids).
//!
//! Long runs can keep only the newest events (`History::bounded`); indices stay global,
//! so an exported tail still says where it sits in the whole history.

mod edn;
mod edn_read;
mod event;
mod txn_form;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, Write};

pub use edn::Edn;
pub use edn_read::parse_edn;
pub use event::{Event, EventType, EventValue, Nemesis, Process};
pub use txn_form::{TxnHistory, parse_txn_history};

use crate::op::{Op, OpResult};

/// Records events in order.
#[derive(Debug, Clone, Default)]
pub struct History {
    events: VecDeque<Event>,
    next_index: u64,
    /// Keep at most this many events (the newest), if set.
    max_events: Option<usize>,
    /// Open invocations: process to the invocation's value.
    open: BTreeMap<u64, EventValue>,
    /// Processes whose last operation ended `:info`.
    ended: BTreeSet<u64>,
}

impl History {
    /// A history that keeps every event.
    pub fn new() -> Self {
        History::default()
    }

    /// A history that keeps only the newest `max_events` events.
    pub fn bounded(max_events: usize) -> Self {
        assert!(max_events > 0, "a bounded history keeps at least one event");
        History {
            max_events: Some(max_events),
            ..History::default()
        }
    }

    /// Process `process` invokes an operation carrying `value`. Returns the event index.
    pub fn invoke(&mut self, time: u64, process: u64, value: EventValue) -> u64 {
        assert!(
            !self.ended.contains(&process),
            "process {process} ended :info and must never invoke again"
        );
        let previous = self.open.insert(process, value.clone());
        assert!(
            previous.is_none(),
            "process {process} invoked with an operation still open"
        );
        self.push(
            time,
            Process::Client(process),
            EventType::Invoke,
            value,
            None,
        )
    }

    /// Process `process`'s open operation completed as `kind` with `value`.
    pub fn complete(
        &mut self,
        time: u64,
        process: u64,
        kind: EventType,
        value: EventValue,
        error: Option<String>,
    ) -> u64 {
        assert!(
            kind != EventType::Invoke,
            "a completion is ok, fail or info"
        );
        let invoked = self.open.remove(&process);
        assert!(
            invoked.is_some(),
            "process {process} completed without an open invocation"
        );
        if kind == EventType::Info {
            self.ended.insert(process);
        }
        self.push(time, Process::Client(process), kind, value, error)
    }

    /// Records the invocation of a key-value operation.
    pub fn invoke_op(&mut self, time: u64, process: u64, op: &Op) -> u64 {
        self.invoke(time, process, EventValue::Op(op.clone()))
    }

    /// Records the completion of a key-value operation. An error is `:fail` unless
    /// `indeterminate` (the operation may have taken effect, as a failed commit may),
    /// which makes it `:info`.
    pub fn complete_op(
        &mut self,
        time: u64,
        process: u64,
        op: &Op,
        result: &OpResult,
        indeterminate: bool,
    ) -> u64 {
        match result {
            Ok(output) => {
                let value = EventValue::Output(op.clone(), output.clone());
                self.complete(time, process, EventType::Ok, value, None)
            }
            Err(error) => {
                let kind = if indeterminate {
                    EventType::Info
                } else {
                    EventType::Fail
                };
                let value = EventValue::Op(op.clone());
                self.complete(time, process, kind, value, Some(format!("{error:?}")))
            }
        }
    }

    /// Records a nemesis action.
    pub fn nemesis(&mut self, time: u64, nemesis: Nemesis) -> u64 {
        let value = EventValue::Nemesis(nemesis);
        self.push(time, Process::Nemesis, EventType::Info, value, None)
    }

    /// A crash: every open operation ends `:info` (its process is gone), then the crash.
    pub fn crash(&mut self, time: u64) -> u64 {
        let open = std::mem::take(&mut self.open);
        for (process, value) in open {
            self.ended.insert(process);
            let error = Some("crashed".to_string());
            self.push(
                time,
                Process::Client(process),
                EventType::Info,
                value,
                error,
            );
        }
        self.nemesis(time, Nemesis::Crash)
    }

    fn push(
        &mut self,
        time: u64,
        process: Process,
        kind: EventType,
        value: EventValue,
        error: Option<String>,
    ) -> u64 {
        let index = self.next_index;
        self.next_index += 1;
        self.events.push_back(Event {
            index,
            time,
            process,
            kind,
            value,
            error,
        });
        if let Some(max) = self.max_events {
            while self.events.len() > max {
                self.events.pop_front();
            }
        }
        index
    }

    /// The events kept, oldest first.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    /// How many events were recorded in all (kept or not).
    pub fn recorded(&self) -> u64 {
        self.next_index
    }

    /// How many of the oldest events a bounded history dropped.
    pub fn dropped(&self) -> u64 {
        self.next_index - self.events.len() as u64
    }

    /// Writes the kept events as EDN, one map per line.
    pub fn write_edn(&self, out: &mut impl Write) -> io::Result<()> {
        for event in &self.events {
            writeln!(out, "{}", event.to_edn())?;
        }
        Ok(())
    }

    /// The kept events as EDN text, one map per line.
    pub fn to_edn(&self) -> String {
        let mut out = Vec::new();
        self.write_edn(&mut out)
            .expect("writing to memory cannot fail");
        String::from_utf8(out).expect("EDN output is UTF-8")
    }

    /// Writes the kept events as JSON lines (one object per line, the EDN structure with
    /// keywords as strings).
    pub fn write_jsonl(&self, out: &mut impl Write) -> io::Result<()> {
        for event in &self.events {
            serde_json::to_writer(&mut *out, &event.to_edn().to_json())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// The kept events as JSON lines.
    pub fn to_jsonl(&self) -> String {
        let mut out = Vec::new();
        self.write_jsonl(&mut out)
            .expect("writing to memory cannot fail");
        String::from_utf8(out).expect("JSON output is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{OpError, OpOutput};

    #[test]
    fn a_bounded_history_keeps_the_newest_events() {
        let mut history = History::bounded(2);
        let op = Op::Get(b"k".to_vec());
        history.invoke_op(1, 1, &op);
        history.complete_op(2, 1, &op, &Ok(OpOutput::Value(None)), false);
        history.invoke_op(3, 1, &op);
        assert_eq!(history.recorded(), 3);
        assert_eq!(history.dropped(), 1);
        assert_eq!(history.events().next().map(|e| e.index), Some(1));
    }

    #[test]
    fn errors_are_fail_or_info() {
        let mut history = History::new();
        let op = Op::Commit;
        history.invoke_op(1, 1, &op);
        history.complete_op(2, 1, &op, &Err(OpError::Busy), false);
        history.invoke_op(3, 1, &op);
        history.complete_op(4, 1, &op, &Err(OpError::Io("eio".into())), true);
        let kinds: Vec<EventType> = history.events().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventType::Invoke,
                EventType::Fail,
                EventType::Invoke,
                EventType::Info
            ]
        );
    }

    #[test]
    #[should_panic(expected = "never invoke again")]
    fn a_process_that_ended_info_never_invokes_again() {
        let mut history = History::new();
        history.invoke_op(1, 4, &Op::Commit);
        history.crash(2);
        history.invoke_op(3, 4, &Op::Commit);
    }
}
