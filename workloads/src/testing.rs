//! Test helpers for workloads and their users: fake `Draw` sources and `SerialKv`, a tiny
//! serial key-value store that runs one program at a time to completion. They let a test
//! exercise a generator and its checker without the engine or the simulator.

use std::collections::BTreeMap;

use braid_oracle::{Key, Op, OpOutput, OpResult, TxnOutcome, Value};

use crate::draw::Draw;
use crate::program::{Next, TxnProgram, TxnRecord};

/// Always draws 0: every decision takes its simplest outcome.
#[derive(Debug, Default)]
pub struct ZeroDraw;

impl Draw for ZeroDraw {
    fn draw(&mut self, _bound: u64) -> u64 {
        0
    }
    fn begin_span(&mut self, _label: &'static str) {}
    fn end_span(&mut self) {}
}

/// Draws the given values in order (each reduced below its bound), then 0 forever.
#[derive(Debug)]
pub struct ScriptDraw {
    values: std::collections::VecDeque<u64>,
}

impl ScriptDraw {
    /// A draw source that answers `values` in order.
    pub fn new(values: &[u64]) -> ScriptDraw {
        ScriptDraw {
            values: values.iter().copied().collect(),
        }
    }
}

impl Draw for ScriptDraw {
    fn draw(&mut self, bound: u64) -> u64 {
        self.values.pop_front().unwrap_or(0) % bound
    }
    fn begin_span(&mut self, _label: &'static str) {}
    fn end_span(&mut self) {}
}

/// A seeded pseudo-random draw (splitmix64); deterministic per seed.
#[derive(Debug)]
pub struct SeededDraw {
    state: u64,
    /// Spans opened and not yet closed.
    pub open_spans: usize,
}

impl SeededDraw {
    /// A draw source seeded with `seed`.
    pub fn new(seed: u64) -> SeededDraw {
        SeededDraw {
            state: seed,
            open_spans: 0,
        }
    }
}

impl Draw for SeededDraw {
    fn draw(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "draw bound must be positive");
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % bound
    }
    fn begin_span(&mut self, _label: &'static str) {
        self.open_spans += 1;
    }
    fn end_span(&mut self) {
        assert!(self.open_spans > 0, "end_span without begin_span");
        self.open_spans -= 1;
    }
}

/// A serial key-value store: committed state plus the open transaction's writes.
#[derive(Debug, Default, Clone)]
pub struct SerialKv {
    /// The committed state.
    pub committed: BTreeMap<Key, Value>,
    /// Writes of the open transaction (`None` = delete).
    pending: BTreeMap<Key, Option<Value>>,
    /// Every op run, in order.
    pub log: Vec<Op>,
}

impl SerialKv {
    /// An empty store.
    pub fn new() -> SerialKv {
        SerialKv::default()
    }

    fn read(&self, key: &Key) -> Option<Value> {
        match self.pending.get(key) {
            Some(write) => write.clone(),
            None => self.committed.get(key).cloned(),
        }
    }

    /// Runs one op against the store and returns its result.
    pub fn execute(&mut self, op: &Op) -> OpResult {
        self.log.push(op.clone());
        let output = match op {
            Op::Begin(_) => OpOutput::Done,
            Op::Get(key) => OpOutput::Value(self.read(key)),
            Op::Put(key, value) => {
                self.pending.insert(key.clone(), Some(value.clone()));
                OpOutput::Done
            }
            Op::Delete(key) => {
                self.pending.insert(key.clone(), None);
                OpOutput::Done
            }
            Op::Scan { start, end, limit } => {
                let mut view = self.committed.clone();
                for (key, write) in &self.pending {
                    match write {
                        Some(value) => view.insert(key.clone(), value.clone()),
                        None => view.remove(key),
                    };
                }
                let rows = view
                    .range(start.clone()..)
                    .take_while(|(key, _)| end.as_ref().is_none_or(|end| *key < end))
                    .take(*limit)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                OpOutput::Rows(rows)
            }
            Op::Commit => {
                for (key, write) in std::mem::take(&mut self.pending) {
                    match write {
                        Some(value) => self.committed.insert(key, value),
                        None => self.committed.remove(&key),
                    };
                }
                OpOutput::Committed { seq: 1 }
            }
            Op::Rollback => {
                self.pending.clear();
                OpOutput::Done
            }
            Op::Checkpoint(_) => OpOutput::Checkpointed {
                backfilled_frames: 0,
                wal_reset: false,
            },
            Op::IntegrityCheck => OpOutput::Integrity(Vec::new()),
        };
        Ok(output)
    }

    /// Runs `program` to its end (pauses are skipped) and returns its record. The outcome is
    /// `Aborted` if the last op was `Rollback`, else `Committed`. Panics if the program
    /// has not finished after 100000 turns.
    pub fn run(&mut self, mut program: Box<dyn TxnProgram>, draw: &mut dyn Draw) -> TxnRecord {
        let mut last: Option<OpResult> = None;
        let mut last_op: Option<Op> = None;
        for _ in 0..100_000 {
            match program.next(last.as_ref(), draw) {
                Next::Op(op) => {
                    last = Some(self.execute(&op));
                    last_op = Some(op);
                }
                Next::Pause => last = None,
                Next::Done => {
                    // Writes outside an explicit transaction commit at once.
                    let outcome = if last_op == Some(Op::Rollback) {
                        TxnOutcome::Aborted
                    } else {
                        self.execute(&Op::Commit)
                            .expect("serial commit cannot fail");
                        self.log.pop();
                        TxnOutcome::Committed
                    };
                    return program.finish(outcome);
                }
            }
        }
        panic!("program did not finish within 100000 turns");
    }
}
