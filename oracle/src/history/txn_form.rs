//! List-append histories in Elle's transaction form, the form Jepsen's Elle reads
//! (`elle-cli --model list-append`): one `:invoke` and one completion per transaction,
//!
//! ```text
//! {:index 0, :time 12, :type :invoke, :process 3, :f :txn, :value [[:r 7 nil] [:append 7 41]]}
//! {:index 1, :time 19, :type :ok, :process 3, :f :txn, :value [[:r 7 [2 9]] [:append 7 41]]}
//! {:index 2, :time 20, :type :info, :process :nemesis, :f :crash, :value nil}
//! ```
//!
//! Keys and elements are integers (the workload's key ids and its unique elements). The
//! completion is `:ok` for a committed transaction (every read with the list it saw),
//! `:fail` for one known not to have committed and `:info` for one in doubt (both with
//! reads `nil`, as invoked); nemesis events (crash, restart) carry `:process :nemesis`.
//! `:time` is the simulator's decision number, so real-time order is the schedule's.
//! A transaction is learnt only when it ends; its invocation is placed at the step it
//! began, so events are sorted by time when written.

use super::edn::Edn;
use super::edn_read::parse_edn;
use super::event::{Event, EventType, EventValue, Nemesis, Process};
use crate::logical::{ElleTxn, Mop, TxnOutcome};

/// One list-append transaction with when it began and ended.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TimedTxn {
    invoked_at: u64,
    completed_at: u64,
    txn: ElleTxn,
}

/// Records list-append transactions and nemesis events for the transaction form.
#[derive(Debug, Clone, Default)]
pub struct TxnHistory {
    txns: Vec<TimedTxn>,
    nemeses: Vec<(u64, Nemesis)>,
}

impl TxnHistory {
    /// An empty history.
    pub fn new() -> Self {
        TxnHistory::default()
    }

    /// A transaction that began at decision `invoked_at` and ended at `completed_at`.
    pub fn txn(&mut self, invoked_at: u64, completed_at: u64, txn: ElleTxn) {
        assert!(
            invoked_at <= completed_at,
            "a transaction ends after it begins"
        );
        self.txns.push(TimedTxn {
            invoked_at,
            completed_at,
            txn,
        });
    }

    /// A nemesis event at decision `time`.
    pub fn nemesis(&mut self, time: u64, nemesis: Nemesis) {
        self.nemeses.push((time, nemesis));
    }

    /// How many transactions were recorded.
    pub fn txn_count(&self) -> usize {
        self.txns.len()
    }

    /// The events in time order (at one time: completions, then nemesis events, then
    /// invocations), indexed from 0.
    pub fn events(&self) -> Vec<Event> {
        // (time, rank within the time, record order, event without its index)
        let mut timed: Vec<(u64, u8, usize, Event)> = Vec::new();
        for (order, timed_txn) in self.txns.iter().enumerate() {
            let TimedTxn {
                invoked_at,
                completed_at,
                txn,
            } = timed_txn;
            let process = Process::Client(txn.process);
            let invoked = EventValue::Txn(unread(&txn.mops));
            let (kind, value, error) = match txn.outcome {
                TxnOutcome::Committed => (EventType::Ok, EventValue::Txn(txn.mops.clone()), None),
                TxnOutcome::Aborted => (EventType::Fail, invoked.clone(), Some("aborted")),
                TxnOutcome::InDoubt => (EventType::Info, invoked.clone(), Some("in doubt")),
            };
            timed.push((
                *invoked_at,
                2,
                order,
                event(process, EventType::Invoke, invoked, None),
            ));
            timed.push((*completed_at, 0, order, event(process, kind, value, error)));
        }
        for (order, (time, nemesis)) in self.nemeses.iter().enumerate() {
            let value = EventValue::Nemesis(nemesis.clone());
            timed.push((
                *time,
                1,
                order,
                event(Process::Nemesis, EventType::Info, value, None),
            ));
        }
        timed.sort_by_key(|(time, rank, order, _)| (*time, *rank, *order));
        timed
            .into_iter()
            .enumerate()
            .map(|(index, (time, _, _, mut event))| {
                event.index = index as u64;
                event.time = time;
                event
            })
            .collect()
    }

    /// The history as EDN, one map per line.
    pub fn to_edn(&self) -> String {
        let mut out = String::new();
        for event in self.events() {
            out.push_str(&event.to_edn().to_string());
            out.push('\n');
        }
        out
    }
}

/// The micro-ops as invoked: reads not yet done.
fn unread(mops: &[Mop]) -> Vec<Mop> {
    mops.iter()
        .map(|mop| match mop {
            Mop::Read { key, .. } => Mop::Read {
                key: *key,
                list: None,
            },
            append => append.clone(),
        })
        .collect()
}

fn event(process: Process, kind: EventType, value: EventValue, error: Option<&str>) -> Event {
    Event {
        index: 0,
        time: 0,
        process,
        kind,
        value,
        error: error.map(str::to_string),
    }
}

/// Reads a transaction-form history (braid's, or any in the same form) back into the
/// transactions braid's list-append checker takes: one per client completion of `:f :txn`
/// (`:ok` committed, `:fail` aborted, `:info` in doubt), in file order. Invocations and
/// nemesis events are skipped. `Err` names the line and what was wrong with it.
pub fn parse_txn_history(text: &str) -> Result<Vec<ElleTxn>, String> {
    let mut txns = Vec::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line_error = |what: String| format!("line {}: {what}", number + 1);
        let map = parse_edn(line).map_err(line_error)?;
        let Some(process) = map.get("process").and_then(Edn::as_int) else {
            continue; // the nemesis
        };
        if map.get("f").and_then(Edn::keyword_name) != Some("txn") {
            return Err(line_error("a client operation that is not :f :txn".into()));
        }
        let outcome = match map.get("type").and_then(Edn::keyword_name) {
            Some("invoke") => continue,
            Some("ok") => TxnOutcome::Committed,
            Some("fail") => TxnOutcome::Aborted,
            Some("info") => TxnOutcome::InDoubt,
            other => return Err(line_error(format!("unknown :type {other:?}"))),
        };
        let process =
            u64::try_from(process).map_err(|_| line_error("a negative :process".into()))?;
        let mops = match map.get("value") {
            Some(Edn::Vector(mops)) => mops
                .iter()
                .map(parse_mop)
                .collect::<Result<Vec<_>, _>>()
                .map_err(line_error)?,
            _ => return Err(line_error(":value is not a vector of micro-ops".into())),
        };
        txns.push(ElleTxn {
            process,
            outcome,
            mops,
        });
    }
    Ok(txns)
}

fn parse_mop(mop: &Edn) -> Result<Mop, String> {
    let int = |value: Option<&Edn>| {
        value
            .and_then(Edn::as_int)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| format!("micro-op {mop}: expected a non-negative integer"))
    };
    let Edn::Vector(parts) = mop else {
        return Err(format!("micro-op {mop}: expected a vector"));
    };
    match parts.first().and_then(Edn::keyword_name) {
        Some("append") if parts.len() == 3 => Ok(Mop::Append {
            key: int(parts.get(1))?,
            element: int(parts.get(2))?,
        }),
        Some("r") if parts.len() == 3 => {
            let list = match &parts[2] {
                Edn::Nil => None,
                Edn::Vector(items) => Some(
                    items
                        .iter()
                        .map(|item| int(Some(item)))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                _ => return Err(format!("micro-op {mop}: a read's list is a vector or nil")),
            };
            Ok(Mop::Read {
                key: int(parts.get(1))?,
                list,
            })
        }
        _ => Err(format!(
            "micro-op {mop}: expected [:append k e] or [:r k list]"
        )),
    }
}
