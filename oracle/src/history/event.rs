//! History events: one per operation invocation and completion, plus nemesis events,
//! in Jepsen's shape (`index`, `time`, `type`, `process`, `f`, `value`).

use crate::history::edn::Edn;
use crate::logical::Mop;
use crate::op::{Op, OpOutput};

/// Jepsen's event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventType {
    /// An operation began.
    Invoke,
    /// It completed successfully.
    Ok,
    /// It definitely did not take effect.
    Fail,
    /// Its outcome is unknown (a crash cut it off, or a commit failed); the process that
    /// ran it never invokes again.
    Info,
}

impl EventType {
    fn keyword(self) -> &'static str {
        match self {
            EventType::Invoke => "invoke",
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            EventType::Info => "info",
        }
    }
}

/// Who an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Process {
    /// A connection incarnation (after a crash connections get new ids).
    Client(u64),
    /// The fault injector.
    Nemesis,
}

/// A nemesis action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nemesis {
    /// The database and every connection were dropped; volatile data was discarded.
    Crash,
    /// The database was reopened and recovered to `recovered_seq`.
    Restart { recovered_seq: u64 },
    /// A checkpoint ran outside any client (for example an automatic one).
    Checkpoint { label: String },
    /// A fault was injected into an operation or a completion group.
    Fault { label: String },
}

/// What an event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventValue {
    /// Nothing (for example a completion whose result is unknown).
    None,
    /// A key-value operation (invocations, failures).
    Op(Op),
    /// A key-value operation and what it returned.
    Output(Op, OpOutput),
    /// An Elle list-append transaction: reads are `None` until they completed.
    Txn(Vec<Mop>),
    Nemesis(Nemesis),
}

/// One event of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the whole history, from 0.
    pub index: u64,
    /// The simulator step at which it happened.
    pub time: u64,
    pub process: Process,
    pub kind: EventType,
    pub value: EventValue,
    /// Why an operation failed or is unknown, when it did.
    pub error: Option<String>,
}

impl Event {
    /// Jepsen's `:f`: the function name.
    pub fn f(&self) -> &'static str {
        match &self.value {
            EventValue::None => "unknown",
            EventValue::Op(op) | EventValue::Output(op, _) => op.name(),
            EventValue::Txn(_) => "txn",
            EventValue::Nemesis(Nemesis::Crash) => "crash",
            EventValue::Nemesis(Nemesis::Restart { .. }) => "restart",
            EventValue::Nemesis(Nemesis::Checkpoint { .. }) => "checkpoint",
            EventValue::Nemesis(Nemesis::Fault { .. }) => "fault",
        }
    }

    /// The event as one EDN map, in Jepsen's key order.
    pub fn to_edn(&self) -> Edn {
        let process = match self.process {
            Process::Client(id) => Edn::int(id),
            Process::Nemesis => Edn::Keyword("nemesis"),
        };
        let mut entries = vec![
            (Edn::Keyword("index"), Edn::int(self.index)),
            (Edn::Keyword("time"), Edn::int(self.time)),
            (Edn::Keyword("type"), Edn::Keyword(self.kind.keyword())),
            (Edn::Keyword("process"), process),
            (Edn::Keyword("f"), Edn::Keyword(self.f())),
            (Edn::Keyword("value"), value_edn(&self.value)),
        ];
        if let Some(error) = &self.error {
            entries.push((Edn::Keyword("error"), Edn::Str(error.clone())));
        }
        Edn::Map(entries)
    }
}

fn mode_keyword(mode: impl std::fmt::Debug) -> Edn {
    Edn::KeywordOwned(format!("{mode:?}").to_lowercase())
}

/// Key-value ops: `[key value]` for get and put (value nil until read), `[key]` for
/// delete, `{:start :end :limit}` for scan, the mode for begin and checkpoint.
fn op_edn(op: &Op) -> Edn {
    match op {
        Op::Begin(mode) => mode_keyword(mode),
        Op::Get(key) => Edn::Vector(vec![Edn::bytes(key), Edn::Nil]),
        Op::Put(key, value) => Edn::Vector(vec![Edn::bytes(key), Edn::bytes(value)]),
        Op::Delete(key) => Edn::Vector(vec![Edn::bytes(key)]),
        Op::Scan { start, end, limit } => Edn::Map(vec![
            (Edn::Keyword("start"), Edn::bytes(start)),
            (Edn::Keyword("end"), Edn::opt_bytes(end.as_deref())),
            (Edn::Keyword("limit"), Edn::int(*limit as u64)),
        ]),
        Op::Checkpoint(mode) => mode_keyword(mode),
        Op::Commit | Op::Rollback | Op::IntegrityCheck => Edn::Nil,
    }
}

/// Completed key-value ops: get `[key value]`, scan `{... :rows [[k v] ...]}`, commit
/// `{:seq n}`, checkpoint `{:backfilled n :wal-reset b}`, integrity `[problem ...]`.
fn output_edn(op: &Op, output: &OpOutput) -> Edn {
    match (op, output) {
        (Op::Get(key), OpOutput::Value(value)) => {
            Edn::Vector(vec![Edn::bytes(key), Edn::opt_bytes(value.as_deref())])
        }
        (Op::Scan { .. }, OpOutput::Rows(rows)) => {
            let Edn::Map(mut entries) = op_edn(op) else {
                unreachable!("scan renders as a map")
            };
            let rows = rows
                .iter()
                .map(|(k, v)| Edn::Vector(vec![Edn::bytes(k), Edn::bytes(v)]));
            entries.push((Edn::Keyword("rows"), Edn::Vector(rows.collect())));
            Edn::Map(entries)
        }
        (_, OpOutput::Committed { seq }) => Edn::Map(vec![(Edn::Keyword("seq"), Edn::int(*seq))]),
        (
            _,
            OpOutput::Checkpointed {
                backfilled_frames,
                wal_reset,
            },
        ) => Edn::Map(vec![
            (Edn::Keyword("backfilled"), Edn::int(*backfilled_frames)),
            (Edn::Keyword("wal-reset"), Edn::Bool(*wal_reset)),
        ]),
        (_, OpOutput::Integrity(problems)) => {
            Edn::Vector(problems.iter().map(|p| Edn::Str(p.clone())).collect())
        }
        _ => op_edn(op),
    }
}

/// Elle's micro-operations: `[:append k e]` and `[:r k [e ...]]` (`nil` before the read).
fn mop_edn(mop: &Mop) -> Edn {
    match mop {
        Mop::Append { key, element } => Edn::Vector(vec![
            Edn::Keyword("append"),
            Edn::int(*key),
            Edn::int(*element),
        ]),
        Mop::Read { key, list } => {
            let list = match list {
                Some(list) => Edn::Vector(list.iter().map(|e| Edn::int(*e)).collect()),
                None => Edn::Nil,
            };
            Edn::Vector(vec![Edn::Keyword("r"), Edn::int(*key), list])
        }
    }
}

fn value_edn(value: &EventValue) -> Edn {
    match value {
        EventValue::None => Edn::Nil,
        EventValue::Op(op) => op_edn(op),
        EventValue::Output(op, output) => output_edn(op, output),
        EventValue::Txn(mops) => Edn::Vector(mops.iter().map(mop_edn).collect()),
        EventValue::Nemesis(Nemesis::Crash) => Edn::Nil,
        EventValue::Nemesis(Nemesis::Restart { recovered_seq }) => Edn::Map(vec![(
            Edn::Keyword("recovered-seq"),
            Edn::int(*recovered_seq),
        )]),
        EventValue::Nemesis(Nemesis::Checkpoint { label } | Nemesis::Fault { label }) => {
            Edn::Str(label.clone())
        }
    }
}
