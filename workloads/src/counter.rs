//! `counter`: one counter incremented by read-modify-write transactions (`Get`, then `Put`
//! of the value plus a drawn amount). At quiescence at the end a final read must equal the
//! sum of committed increments, allowing for in-doubt ones (the oracle's `CounterChecker`).
//!
//! The counter is stored as decimal ASCII; a missing key is 0. After a crash that may lose
//! acknowledged commits (sync = normal) the workload moves to a fresh counter key (a new
//! epoch) with a fresh checker, since the surviving prefix of increments is unknown.

use braid_oracle::{Op, OpResult, TxMode, TxnOutcome};

use crate::bank::{decode_balance, encode_balance};
use crate::draw::Draw;
use crate::params::{WorkloadParams, draw_begin, draw_between, draw_rollback, key};
use crate::program::{Next, Observed, TxnProgram, TxnRecord, Workload, value_of};
use braid_oracle::checkers::CounterChecker;

use crate::violation::{Violation, garbled};

/// The counter workload over the keys `<prefix><epoch>`.
#[derive(Debug)]
pub struct Counter {
    prefix: String,
    params: WorkloadParams,
    epoch: u64,
    checker: CounterChecker,
    /// True once the final read was handed out: its record is the one to check.
    final_read_pending: bool,
}

impl Counter {
    /// A counter workload under `prefix`.
    pub fn new(prefix: String, params: WorkloadParams) -> Counter {
        let checker = CounterChecker::new();
        Counter {
            prefix,
            params,
            epoch: 0,
            checker,
            final_read_pending: false,
        }
    }

    fn program(
        &self,
        conn: u64,
        mode: TxMode,
        amount: Option<i64>,
        rollback: bool,
    ) -> Box<dyn TxnProgram> {
        let key = key(&self.prefix, self.epoch);
        let state = CounterState::Begin;
        Box::new(CounterProgram {
            conn,
            key,
            epoch: self.epoch,
            mode,
            amount,
            rollback,
            state,
            read: None,
            garbled: None,
        })
    }
}

impl Workload for Counter {
    fn kind(&self) -> &'static str {
        "counter"
    }

    fn next_txn(&mut self, conn: u64, draw: &mut dyn Draw) -> Box<dyn TxnProgram> {
        let mode = draw_begin(draw, &self.params);
        // Draw 0 gives an increment of 1, the workload's point; a read is the rarer choice.
        let amount = if draw.chance(self.params.read_ppm) {
            None
        } else {
            let amount = draw_between(draw, 1, self.params.amount.max(1) as u64);
            Some(i64::try_from(amount).expect("bounded by an i64"))
        };
        let rollback = draw_rollback(draw, &self.params);
        self.program(conn, mode, amount, rollback)
    }

    fn txn_finished(&mut self, step: u64, record: TxnRecord) -> Result<(), Violation> {
        match record.observed {
            Observed::Garbled { detail } => Err(garbled(step, record.conn, "counter", detail)),
            Observed::Increment { epoch, amount } if epoch == self.epoch => {
                self.checker.record(amount, record.outcome);
                Ok(())
            }
            Observed::CounterRead { epoch, value }
                if epoch == self.epoch
                    && self.final_read_pending
                    && record.outcome == TxnOutcome::Committed =>
            {
                self.final_read_pending = false;
                self.checker.observe_read(step, value)
            }
            _ => Ok(()),
        }
    }

    fn crashed(&mut self, commits_may_be_lost: bool) {
        if commits_may_be_lost {
            self.epoch += 1;
            self.checker = CounterChecker::new();
        }
    }

    fn final_programs(&mut self) -> Vec<Box<dyn TxnProgram>> {
        self.final_read_pending = true;
        vec![self.program(0, TxMode::Deferred, None, false)]
    }
}

/// Where a counter transaction is.
#[derive(Debug)]
enum CounterState {
    /// Nothing issued yet.
    Begin,
    /// Waits for `Begin`; reads the counter next.
    Read,
    /// Waits for the counter's value.
    Write,
    /// Waits for the write (or the read, for a read-only transaction); ends next.
    End,
    /// Waits for `Commit` or `Rollback`.
    Ended,
}

/// One counter transaction: begin, read, (write the sum,) commit or roll back.
#[derive(Debug)]
struct CounterProgram {
    conn: u64,
    key: Vec<u8>,
    epoch: u64,
    mode: TxMode,
    /// The increment, or `None` for a read-only transaction.
    amount: Option<i64>,
    rollback: bool,
    state: CounterState,
    read: Option<i64>,
    garbled: Option<String>,
}

impl CounterProgram {
    fn observe(&mut self, last: Option<&OpResult>) -> bool {
        match value_of(last).and_then(|v| decode_balance(v.as_deref(), 0)) {
            Ok(value) => {
                self.read = Some(value);
                true
            }
            Err(detail) => {
                self.garbled = Some(detail);
                false
            }
        }
    }

    fn end_op(&self) -> Op {
        if self.rollback {
            Op::Rollback
        } else {
            Op::Commit
        }
    }
}

impl TxnProgram for CounterProgram {
    fn next(&mut self, last: Option<&OpResult>, _draw: &mut dyn Draw) -> Next {
        let state = std::mem::replace(&mut self.state, CounterState::Ended);
        let (next_state, op) = match state {
            CounterState::Begin => (CounterState::Read, Op::Begin(self.mode)),
            CounterState::Read => (CounterState::Write, Op::Get(self.key.clone())),
            CounterState::Write if !self.observe(last) => (CounterState::Ended, Op::Rollback),
            CounterState::Write => match (self.amount, self.read) {
                (Some(amount), Some(read)) => (
                    CounterState::End,
                    Op::Put(self.key.clone(), encode_balance(read + amount)),
                ),
                _ => (CounterState::Ended, self.end_op()),
            },
            CounterState::End => (CounterState::Ended, self.end_op()),
            CounterState::Ended => return Next::Done,
        };
        self.state = next_state;
        Next::Op(op)
    }

    fn finish(self: Box<Self>, outcome: TxnOutcome) -> TxnRecord {
        let observed = match (self.garbled, self.amount, self.read) {
            (Some(detail), _, _) => Observed::Garbled { detail },
            (None, Some(amount), _) => Observed::Increment {
                epoch: self.epoch,
                amount,
            },
            (None, None, Some(value)) => Observed::CounterRead {
                epoch: self.epoch,
                value,
            },
            (None, None, None) => Observed::Nothing,
        };
        TxnRecord {
            conn: self.conn,
            workload: 0,
            outcome,
            observed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{SeededDraw, SerialKv, ZeroDraw};

    fn counter() -> Counter {
        Counter::new(
            "n/".into(),
            WorkloadParams::for_kind("counter").expect("known kind"),
        )
    }

    fn final_read(counter: &mut Counter, kv: &mut SerialKv) -> Result<(), Violation> {
        let mut programs = counter.final_programs();
        assert_eq!(programs.len(), 1);
        let record = kv.run(programs.remove(0), &mut ZeroDraw);
        assert!(
            matches!(record.observed, Observed::CounterRead { .. }),
            "{record:?}"
        );
        counter.txn_finished(99, record)
    }

    #[test]
    fn serial_increments_add_up_at_the_final_read() {
        let mut counter = counter();
        let mut kv = SerialKv::new();
        let mut draw = SeededDraw::new(4);
        let mut expected = 0;
        for _ in 0..200 {
            let record = kv.run(counter.next_txn(0, &mut draw), &mut draw);
            if let (Observed::Increment { amount, .. }, TxnOutcome::Committed) =
                (&record.observed, record.outcome)
            {
                expected += amount;
            }
            counter
                .txn_finished(1, record)
                .expect("no check before the final read");
        }
        let stored = kv
            .committed
            .get(b"n/00000000".as_slice())
            .expect("incremented");
        assert_eq!(decode_balance(Some(stored), 0), Ok(expected));
        final_read(&mut counter, &mut kv).expect("the sum matches");
    }

    #[test]
    fn a_lost_increment_is_caught() {
        let mut counter = counter();
        let kv = SerialKv::new();
        // Two increments read 0 from the same snapshot; both commit; one is lost.
        let (mut a, mut b) = (kv.clone(), kv.clone());
        for side in [&mut a, &mut b] {
            let record = side.run(counter.next_txn(0, &mut ZeroDraw), &mut ZeroDraw);
            counter.txn_finished(1, record).expect("recorded");
        }
        let violation = final_read(&mut counter, &mut b).expect_err("read 1, committed 2");
        assert_eq!(
            violation.kind,
            braid_oracle::ViolationKind::CounterRange,
            "{violation}"
        );
        assert!(
            violation.to_string().contains("expected 2, but got 1"),
            "{violation}"
        );
    }

    #[test]
    fn in_doubt_increments_widen_the_range_and_a_crash_starts_a_fresh_counter() {
        let mut counter = counter();
        let mut kv = SerialKv::new();
        let record = kv.run(counter.next_txn(0, &mut ZeroDraw), &mut ZeroDraw);
        let record = TxnRecord {
            outcome: TxnOutcome::InDoubt,
            ..record
        };
        counter.txn_finished(1, record).expect("recorded");
        final_read(&mut counter, &mut kv).expect("1 is within 0..=1");
        counter.crashed(true);
        let record = kv.run(counter.next_txn(0, &mut ZeroDraw), &mut ZeroDraw);
        counter.txn_finished(1, record).expect("recorded");
        assert!(
            kv.committed.contains_key(b"n/00000001".as_slice()),
            "epoch 1 uses a new key"
        );
        final_read(&mut counter, &mut kv).expect("the fresh counter reads 1");
    }
}
