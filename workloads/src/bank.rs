//! `bank`: accounts whose total must never change. Transfers move an amount from one
//! account to another with a read-modify-write; audits read every account in one
//! transaction and the sum must equal `accounts * initial balance` (checked by the oracle's
//! `BankChecker`).
//!
//! Balances are stored as decimal ASCII (`-12`, `107`); a missing account holds the initial
//! balance, so no setup transaction is needed. Any other stored form is garbled.

use braid_oracle::violation::show_bytes;
use braid_oracle::{Op, OpResult, TxMode, TxnOutcome};

use crate::draw::Draw;
use crate::params::{
    WorkloadParams, draw_begin, draw_between, draw_rollback, key, push_decimal, push_key,
};
use crate::program::{Next, Observed, TxnProgram, TxnRecord, Workload, rows_of, value_of};
use braid_oracle::checkers::BankChecker;

use crate::violation::{Violation, garbled};

/// The bank workload over accounts `<prefix>00000000..`.
#[derive(Debug)]
pub struct Bank {
    prefix: String,
    params: WorkloadParams,
    checker: BankChecker,
}

impl Bank {
    /// A bank of `params.key_count` accounts of `params.amount` each, under `prefix`.
    pub fn new(prefix: String, params: WorkloadParams) -> Bank {
        let checker = BankChecker::new(params.key_count, params.amount);
        Bank {
            prefix,
            params,
            checker,
        }
    }
}

/// Encodes a balance as stored.
pub fn encode_balance(balance: i64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(20);
    if balance < 0 {
        bytes.push(b'-');
    }
    push_decimal(&mut bytes, balance.unsigned_abs(), 1);
    bytes
}

/// Decodes a stored balance; `None` (missing) is the initial balance.
pub fn decode_balance(stored: Option<&[u8]>, initial: i64) -> Result<i64, String> {
    let Some(bytes) = stored else {
        return Ok(initial);
    };
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("balance {} is not a decimal integer", show_bytes(bytes)))
}

impl Workload for Bank {
    fn kind(&self) -> &'static str {
        "bank"
    }

    fn next_txn(&mut self, conn: u64, draw: &mut dyn Draw) -> Box<dyn TxnProgram> {
        let params = &self.params;
        let mode = draw_begin(draw, params);
        let accounts = params.key_count;
        // An audit is the read-only choice; draw 0 gives a transfer, the workload's point.
        if draw.chance(params.read_ppm) {
            let by_scan = draw.draw(2) == 1;
            return Box::new(Audit::new(
                conn,
                &self.prefix,
                accounts,
                params.amount,
                mode,
                by_scan,
            ));
        }
        let from = draw.draw(accounts);
        let to = if accounts == 1 {
            from
        } else {
            (from + 1 + draw.draw(accounts - 1)) % accounts
        };
        let amount = i64::try_from(draw_between(draw, 1, params.amount.max(1) as u64))
            .expect("bounded by an i64");
        let transfer = Transfer {
            conn,
            from: key(&self.prefix, from),
            to: key(&self.prefix, to),
            amount,
            initial: params.amount,
            mode,
            rollback: draw_rollback(draw, params),
            state: TransferState::Begin,
            garbled: None,
        };
        Box::new(transfer)
    }

    fn txn_finished(&mut self, step: u64, record: TxnRecord) -> Result<(), Violation> {
        match record.observed {
            Observed::Garbled { detail } => Err(garbled(step, record.conn, "bank", detail)),
            Observed::Audit { balances } if record.outcome == TxnOutcome::Committed => {
                self.checker.observe_audit(step, &balances)
            }
            _ => Ok(()),
        }
    }
}

/// Where a transfer is.
#[derive(Debug)]
enum TransferState {
    /// Nothing issued yet.
    Begin,
    /// Waits for `Begin`; reads the source next.
    ReadFrom,
    /// Waits for the source balance.
    ReadTo,
    /// Waits for the destination balance, with the source's.
    WriteFrom { from_balance: i64 },
    /// Waits for the source write, with the destination's balance.
    WriteTo { to_balance: i64 },
    /// Waits for the destination write; ends the transaction next.
    End,
    /// Waits for `Commit` or `Rollback`.
    Ended,
}

/// One transfer: read both balances, write both, commit (or roll back).
#[derive(Debug)]
struct Transfer {
    conn: u64,
    from: Vec<u8>,
    to: Vec<u8>,
    amount: i64,
    initial: i64,
    mode: TxMode,
    rollback: bool,
    state: TransferState,
    garbled: Option<String>,
}

impl Transfer {
    fn balance(&mut self, last: Option<&OpResult>) -> Option<i64> {
        let decoded = value_of(last).and_then(|v| decode_balance(v.as_deref(), self.initial));
        decoded.map_err(|detail| self.garbled = Some(detail)).ok()
    }
}

impl TxnProgram for Transfer {
    fn next(&mut self, last: Option<&OpResult>, _draw: &mut dyn Draw) -> Next {
        let state = std::mem::replace(&mut self.state, TransferState::Ended);
        let (next_state, op) = match state {
            TransferState::Begin => (TransferState::ReadFrom, Op::Begin(self.mode)),
            TransferState::ReadFrom => (TransferState::ReadTo, Op::Get(self.from.clone())),
            TransferState::ReadTo => match self.balance(last) {
                Some(from_balance) => (
                    TransferState::WriteFrom { from_balance },
                    Op::Get(self.to.clone()),
                ),
                None => (TransferState::Ended, Op::Rollback),
            },
            TransferState::WriteFrom { from_balance } => match self.balance(last) {
                // With from == to, the second read sees the same balance; the two writes
                // below then leave it unchanged, as a transfer to oneself must.
                Some(to_balance) => {
                    let op = Op::Put(
                        self.from.clone(),
                        encode_balance(from_balance - self.amount),
                    );
                    (TransferState::WriteTo { to_balance }, op)
                }
                None => (TransferState::Ended, Op::Rollback),
            },
            TransferState::WriteTo { to_balance } => {
                let to_balance = if self.from == self.to {
                    to_balance - self.amount
                } else {
                    to_balance
                };
                let op = Op::Put(self.to.clone(), encode_balance(to_balance + self.amount));
                (TransferState::End, op)
            }
            TransferState::End => (
                TransferState::Ended,
                if self.rollback {
                    Op::Rollback
                } else {
                    Op::Commit
                },
            ),
            TransferState::Ended => return Next::Done,
        };
        self.state = next_state;
        Next::Op(op)
    }

    fn finish(self: Box<Self>, outcome: TxnOutcome) -> TxnRecord {
        let observed = match self.garbled {
            Some(detail) => Observed::Garbled { detail },
            None => Observed::Nothing,
        };
        TxnRecord {
            conn: self.conn,
            workload: 0,
            outcome,
            observed,
        }
    }
}

/// One audit: read every account in one transaction (by gets or by one scan), commit.
#[derive(Debug)]
struct Audit {
    conn: u64,
    ops: std::collections::VecDeque<Op>,
    prefix: String,
    accounts: u64,
    initial: i64,
    balances: Vec<(u64, i64)>,
    /// Which account the pending `Get` reads, if the last op was one.
    pending_get: Option<u64>,
    by_scan: bool,
    garbled: Option<String>,
}

impl Audit {
    fn new(
        conn: u64,
        prefix: &str,
        accounts: u64,
        initial: i64,
        mode: TxMode,
        by_scan: bool,
    ) -> Audit {
        let mut ops = vec![Op::Begin(mode)];
        if by_scan {
            let start = prefix.as_bytes().to_vec();
            let end = key(prefix, accounts);
            let limit = usize::try_from(accounts).expect("account count fits a usize");
            ops.push(Op::Scan {
                start,
                end: Some(end),
                limit,
            });
        } else {
            ops.extend((0..accounts).map(|account| Op::Get(key(prefix, account))));
        }
        ops.push(Op::Commit);
        let balances = Vec::new();
        let prefix = prefix.to_string();
        Audit {
            conn,
            ops: ops.into(),
            prefix,
            accounts,
            initial,
            balances,
            pending_get: None,
            by_scan,
            garbled: None,
        }
    }

    fn observe(&mut self, last: Option<&OpResult>) -> Result<(), String> {
        if let Some(account) = self.pending_get.take() {
            let stored = value_of(last)?;
            self.balances
                .push((account, decode_balance(stored.as_deref(), self.initial)?));
        } else if self.by_scan && matches!(last, Some(Ok(braid_oracle::OpOutput::Rows(_)))) {
            let rows = rows_of(last)?;
            let mut stored = std::collections::BTreeMap::new();
            let mut account_key = Vec::new();
            for (row_key, value) in rows {
                let account = (0..self.accounts).find(|a| {
                    account_key.clear();
                    push_key(&mut account_key, &self.prefix, *a);
                    account_key == row_key
                });
                let account = account
                    .ok_or_else(|| format!("audit scan returned key {}", show_bytes(&row_key)))?;
                stored.insert(account, value);
            }
            for account in 0..self.accounts {
                let balance =
                    decode_balance(stored.get(&account).map(Vec::as_slice), self.initial)?;
                self.balances.push((account, balance));
            }
        }
        Ok(())
    }
}

impl TxnProgram for Audit {
    fn next(&mut self, last: Option<&OpResult>, _draw: &mut dyn Draw) -> Next {
        if let Err(detail) = self.observe(last) {
            self.garbled = Some(detail);
            self.ops.clear();
            return Next::Op(Op::Rollback);
        }
        let Some(op) = self.ops.pop_front() else {
            return Next::Done;
        };
        if let Op::Get(_) = &op {
            self.pending_get = Some(u64::try_from(self.balances.len()).expect("fits"));
        }
        Next::Op(op)
    }

    fn finish(self: Box<Self>, outcome: TxnOutcome) -> TxnRecord {
        let complete = u64::try_from(self.balances.len()).expect("fits") == self.accounts;
        let observed = match self.garbled {
            Some(detail) => Observed::Garbled { detail },
            None if complete => Observed::Audit {
                balances: self.balances,
            },
            None => Observed::Nothing,
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
    use crate::testing::{ScriptDraw, SeededDraw, SerialKv, ZeroDraw};

    fn bank() -> Bank {
        Bank::new(
            "b/".into(),
            WorkloadParams::for_kind("bank").expect("known kind"),
        )
    }

    /// Runs an audit (by gets, or by scan when `by_scan`) and hands it to the checker.
    fn audit(bank: &mut Bank, kv: &mut SerialKv, by_scan: bool) -> Result<(), Violation> {
        // Draws: begin deferred, audit chosen (chance needs the top of the range), by_scan.
        let mut draw = ScriptDraw::new(&[0, 999_999, u64::from(by_scan)]);
        let record = kv.run(bank.next_txn(0, &mut draw), &mut draw);
        assert!(
            matches!(record.observed, Observed::Audit { .. }),
            "{record:?}"
        );
        bank.txn_finished(1, record)
    }

    #[test]
    fn draw_zero_transfers_one_from_the_first_account_to_the_second() {
        let mut kv = SerialKv::new();
        kv.run(bank().next_txn(0, &mut ZeroDraw), &mut ZeroDraw);
        assert_eq!(
            kv.committed.get(b"b/00000000".as_slice()),
            Some(&b"99".to_vec())
        );
        assert_eq!(
            kv.committed.get(b"b/00000001".as_slice()),
            Some(&b"101".to_vec())
        );
    }

    #[test]
    fn serial_transfers_conserve_the_total_and_audits_pass() {
        let mut bank = bank();
        let mut kv = SerialKv::new();
        let mut draw = SeededDraw::new(21);
        let mut audits = 0;
        for _ in 0..300 {
            let record = kv.run(bank.next_txn(0, &mut draw), &mut draw);
            audits += usize::from(matches!(record.observed, Observed::Audit { .. }));
            bank.txn_finished(0, record)
                .expect("serial transfers conserve the total");
        }
        assert!(audits > 20, "only {audits} audits");
        let total: i64 = kv
            .committed
            .values()
            .map(|v| decode_balance(Some(v), 100).expect("decimal"))
            .sum();
        let untouched = 8 - kv.committed.len() as i64;
        assert_eq!(total + untouched * 100, 800);
        audit(&mut bank, &mut kv, false).expect("gets audit passes");
        audit(&mut bank, &mut kv, true).expect("scan audit passes");
    }

    #[test]
    fn a_transfer_credited_twice_is_caught() {
        let mut bank = bank();
        let mut kv = SerialKv::new();
        kv.run(bank.next_txn(0, &mut ZeroDraw), &mut ZeroDraw);
        // The engine applies the credit of account 1 a second time.
        kv.committed
            .insert(b"b/00000001".to_vec(), encode_balance(102));
        let violation = audit(&mut bank, &mut kv, false).expect_err("total is 801");
        assert_eq!(
            violation.kind,
            braid_oracle::ViolationKind::BankTotal,
            "{violation}"
        );
        assert!(violation.to_string().contains("801"), "{violation}");
        assert!(
            audit(&mut bank, &mut kv, true).is_err(),
            "the scan audit catches it too"
        );
    }

    #[test]
    fn a_lost_update_between_overlapping_transfers_is_caught() {
        let mut bank = bank();
        let kv = SerialKv::new();
        // Both transfers read the same snapshot and both commit (no stale-snapshot check).
        let (mut a, mut b) = (kv.clone(), kv.clone());
        a.run(bank.next_txn(0, &mut ZeroDraw), &mut ZeroDraw); // 0 -> 1, amount 1
        let mut draw = ScriptDraw::new(&[0, 0, 1, 0, 4, 0]); // 1 -> 2, amount 5
        b.run(bank.next_txn(1, &mut draw), &mut draw);
        let mut merged = a.clone();
        for (key, value) in &b.committed {
            merged.committed.insert(key.clone(), value.clone());
        }
        assert!(
            audit(&mut bank, &mut merged, false).is_err(),
            "the update of account 1 was lost"
        );
    }

    #[test]
    fn balances_encode_as_their_decimal_text() {
        for balance in [0, 7, -7, 100, -801, i64::MAX, i64::MIN] {
            assert_eq!(encode_balance(balance), balance.to_string().into_bytes());
            assert_eq!(
                decode_balance(Some(&encode_balance(balance)), 0),
                Ok(balance)
            );
        }
    }

    #[test]
    fn garbled_balances_are_violations() {
        let mut bank = bank();
        let mut kv = SerialKv::new();
        kv.committed.insert(b"b/00000003".to_vec(), b"12x".to_vec());
        let mut draw = ScriptDraw::new(&[0, 999_999, 0]);
        let record = kv.run(bank.next_txn(0, &mut draw), &mut draw);
        assert!(
            matches!(record.observed, Observed::Garbled { .. }),
            "{record:?}"
        );
        assert!(bank.txn_finished(0, record).is_err());
    }
}
