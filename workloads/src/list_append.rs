//! `list-append`: Elle-style transactions over lists. An append reads the list at a key and
//! writes it back with a new element at the end; a read decodes the list (format in
//! `list_codec`). Every element is unique (one counter for the whole workload), so a read
//! tells which appends it saw and in what order. The recorded `ElleTxn`s go to the oracle's
//! list-append checker periodically and at the end of the run.
//!
//! Each key takes at most `appends_per_key_max` appends and then retires for a fresh key, so
//! lists stay below the engine's value size limit. After a crash that may lose acknowledged
//! commits (sync = normal) every active key retires: later reads never see the lost prefix.

use std::collections::BTreeMap;

use braid_oracle::{ElleTxn, Mop, Op, OpResult, TxMode, TxnOutcome};

use crate::draw::Draw;
use crate::list_codec::{decode_list, encode_list};
use crate::params::{WorkloadParams, draw_begin, draw_rollback, draw_txn_ops, key};
use crate::program::{Next, Observed, TxnProgram, TxnRecord, Workload, value_of};
use crate::register::draw_is_write;
use braid_oracle::checkers::check_list_append;

use crate::violation::{Violation, garbled};

/// Fewest finished transactions between two checks of the whole history. The gap also
/// grows with the history (a quarter of its length), so checking stays linear overall in
/// long runs while short runs are still checked early.
const CHECK_EVERY_TXNS: usize = 256;

/// One active key: its id and how many appends were handed out on it.
#[derive(Debug, Clone, Copy)]
struct ActiveKey {
    id: u64,
    appends: u32,
}

/// The list-append workload over keys `<prefix>00000000..`.
#[derive(Debug)]
pub struct ListAppend {
    prefix: String,
    params: WorkloadParams,
    active: Vec<ActiveKey>,
    next_key_id: u64,
    next_element: u64,
    history: Vec<ElleTxn>,
    unchecked_txns: usize,
    /// Appends of transactions handed out and not finished yet, by connection. Their
    /// commits may already be visible to others (a commit is published before its op
    /// returns), so a check made meanwhile counts them as in doubt, as Jepsen does.
    in_flight: BTreeMap<u64, Vec<Mop>>,
}

impl ListAppend {
    /// A list-append workload with `params.key_count` active keys under `prefix`.
    pub fn new(prefix: String, params: WorkloadParams) -> ListAppend {
        let active = (0..params.key_count)
            .map(|id| ActiveKey { id, appends: 0 })
            .collect();
        let next_key_id = params.key_count;
        let (history, unchecked_txns) = (Vec::new(), 0);
        ListAppend {
            prefix,
            params,
            active,
            next_key_id,
            next_element: 1,
            history,
            unchecked_txns,
            in_flight: BTreeMap::new(),
        }
    }

    /// The transactions recorded so far.
    pub fn history(&self) -> &[ElleTxn] {
        &self.history
    }

    fn retire(&mut self, slot: usize) {
        self.active[slot] = ActiveKey {
            id: self.next_key_id,
            appends: 0,
        };
        self.next_key_id += 1;
    }

    fn check(&mut self, step: u64) -> Result<(), Violation> {
        self.unchecked_txns = 0;
        // Unfinished appends join the checked history at its end for this check only.
        let recorded = self.history.len();
        self.history
            .extend(self.in_flight.iter().map(|(&conn, appends)| ElleTxn {
                process: conn,
                outcome: TxnOutcome::InDoubt,
                mops: appends.clone(),
            }));
        let report = check_list_append(&self.history);
        self.history.truncate(recorded);
        match report.first_violation(step) {
            Some(violation) => Err(violation),
            None => Ok(()),
        }
    }
}

impl Workload for ListAppend {
    fn kind(&self) -> &'static str {
        "list-append"
    }

    fn next_txn(&mut self, conn: u64, draw: &mut dyn Draw) -> Box<dyn TxnProgram> {
        let mode = draw_begin(draw, &self.params);
        let mut plan = Vec::new();
        for _ in 0..draw_txn_ops(draw, &self.params) {
            let slot = usize::try_from(draw.draw(self.active.len() as u64)).expect("a slot index");
            let key = self.active[slot].id;
            // An append reads the list first; the read is recorded too (it is an observation).
            plan.push(Mop::Read { key, list: None });
            if draw_is_write(draw, &self.params) {
                plan.push(Mop::Append {
                    key,
                    element: self.next_element,
                });
                self.next_element += 1;
                self.active[slot].appends += 1;
                if self.active[slot].appends >= self.params.appends_per_key_max {
                    self.retire(slot);
                }
            }
        }
        let appends = plan
            .iter()
            .filter(|mop| matches!(mop, Mop::Append { .. }))
            .cloned();
        self.in_flight.insert(conn, appends.collect());
        let rollback = draw_rollback(draw, &self.params);
        let max_value_bytes = self.params.value_bytes_max;
        let prefix = self.prefix.clone();
        Box::new(ListProgram::new(
            conn,
            prefix,
            mode,
            plan,
            rollback,
            max_value_bytes,
        ))
    }

    fn txn_finished(&mut self, step: u64, record: TxnRecord) -> Result<(), Violation> {
        self.in_flight.remove(&record.conn);
        match record.observed {
            Observed::Garbled { detail } => Err(garbled(step, record.conn, "list-append", detail)),
            Observed::ListAppend { mops } => {
                self.history.push(ElleTxn {
                    process: record.conn,
                    outcome: record.outcome,
                    mops,
                });
                self.unchecked_txns += 1;
                if self.unchecked_txns >= CHECK_EVERY_TXNS.max(self.history.len() / 4) {
                    self.check(step)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    fn crashed(&mut self, commits_may_be_lost: bool) {
        if commits_may_be_lost {
            for slot in 0..self.active.len() {
                self.retire(slot);
            }
        }
    }

    fn end_check(&mut self, step: u64) -> Result<(), Violation> {
        self.check(step)
    }
}

/// One list-append transaction: begin, the planned mops (a read is a `Get`, an append a
/// `Put` of the list read just before it plus the element), commit or roll back.
#[derive(Debug)]
struct ListProgram {
    conn: u64,
    prefix: String,
    mode: TxMode,
    mops: Vec<Mop>,
    /// Appends dropped because the list had no room left (never written).
    skipped: Vec<bool>,
    rollback: bool,
    max_value_bytes: usize,
    begun: bool,
    /// Index of the next mop to run.
    cursor: usize,
    /// The read whose `Get` result is awaited.
    awaiting: Option<usize>,
    /// The list the last read returned (an append extends it).
    last_list: Vec<u64>,
    ended: bool,
    garbled: Option<String>,
}

impl ListProgram {
    fn new(
        conn: u64,
        prefix: String,
        mode: TxMode,
        mops: Vec<Mop>,
        rollback: bool,
        max_value_bytes: usize,
    ) -> ListProgram {
        let skipped = vec![false; mops.len()];
        ListProgram {
            conn,
            prefix,
            mode,
            mops,
            skipped,
            rollback,
            max_value_bytes,
            begun: false,
            cursor: 0,
            awaiting: None,
            last_list: Vec::new(),
            ended: false,
            garbled: None,
        }
    }

    /// Fills in the awaited read; false if the stored bytes are not a list.
    fn observe(&mut self, last: Option<&OpResult>) -> bool {
        let Some(index) = self.awaiting.take() else {
            return true;
        };
        let decoded = value_of(last).and_then(|v| decode_list(v.as_deref().unwrap_or_default()));
        match decoded {
            Ok(list) => {
                self.last_list = list.clone();
                if let Mop::Read { list: slot, .. } = &mut self.mops[index] {
                    *slot = Some(list);
                }
                true
            }
            Err(detail) => {
                self.garbled = Some(detail);
                false
            }
        }
    }
}

impl TxnProgram for ListProgram {
    fn next(&mut self, last: Option<&OpResult>, _draw: &mut dyn Draw) -> Next {
        if !self.begun {
            self.begun = true;
            return Next::Op(Op::Begin(self.mode));
        }
        if !self.observe(last) {
            self.cursor = self.mops.len();
            self.rollback = true;
        }
        while self.cursor < self.mops.len() {
            let index = self.cursor;
            self.cursor += 1;
            match self.mops[index] {
                Mop::Read { key, .. } => {
                    self.awaiting = Some(index);
                    return Next::Op(Op::Get(key_bytes(&self.prefix, key)));
                }
                Mop::Append { key, element } => {
                    let mut list = std::mem::take(&mut self.last_list);
                    list.push(element);
                    let bytes = encode_list(&list);
                    if bytes.len() > self.max_value_bytes {
                        self.skipped[index] = true;
                        continue;
                    }
                    self.last_list = list;
                    return Next::Op(Op::Put(key_bytes(&self.prefix, key), bytes));
                }
            }
        }
        if self.ended {
            return Next::Done;
        }
        self.ended = true;
        Next::Op(if self.rollback {
            Op::Rollback
        } else {
            Op::Commit
        })
    }

    fn finish(self: Box<Self>, outcome: TxnOutcome) -> TxnRecord {
        let observed = match self.garbled {
            Some(detail) => Observed::Garbled { detail },
            None => {
                let kept = self
                    .mops
                    .into_iter()
                    .zip(self.skipped)
                    .filter(|(_, skipped)| !skipped);
                Observed::ListAppend {
                    mops: kept.map(|(mop, _)| mop).collect(),
                }
            }
        };
        TxnRecord {
            conn: self.conn,
            workload: 0,
            outcome,
            observed,
        }
    }
}

fn key_bytes(prefix: &str, id: u64) -> Vec<u8> {
    key(prefix, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{SeededDraw, SerialKv, ZeroDraw};
    use std::collections::BTreeMap;

    fn list_append() -> ListAppend {
        ListAppend::new(
            "a/".into(),
            WorkloadParams::for_kind("list-append").expect("kind"),
        )
    }

    #[test]
    fn draw_zero_reads_the_first_list() {
        let mut workload = list_append();
        let mut kv = SerialKv::new();
        let record = kv.run(workload.next_txn(0, &mut ZeroDraw), &mut ZeroDraw);
        let expected = vec![Mop::Read {
            key: 0,
            list: Some(vec![]),
        }];
        assert_eq!(record.observed, Observed::ListAppend { mops: expected });
    }

    #[test]
    fn serial_appends_are_unique_and_reads_see_them_in_order() {
        let mut workload = list_append();
        let mut kv = SerialKv::new();
        let mut draw = SeededDraw::new(13);
        let mut appended: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        let mut elements = std::collections::BTreeSet::new();
        for step in 0..400 {
            let record = kv.run(workload.next_txn(step % 3, &mut draw), &mut draw);
            let Observed::ListAppend { mops } = &record.observed else {
                panic!("{record:?}")
            };
            let mut mine = appended.clone();
            for mop in mops {
                match mop {
                    Mop::Append { key, element } => {
                        assert!(
                            elements.insert(*element),
                            "element {element} appended twice"
                        );
                        mine.entry(*key).or_default().push(*element);
                    }
                    Mop::Read { key, list } => {
                        let seen = list.as_ref().expect("serial reads complete");
                        assert_eq!(seen, mine.get(key).unwrap_or(&Vec::new()), "key {key}");
                    }
                }
            }
            if record.outcome == TxnOutcome::Committed {
                appended = mine;
            }
            workload
                .txn_finished(step, record)
                .expect("a serial history is valid");
        }
        assert!(elements.len() > 200, "only {} appends", elements.len());
        assert!(
            appended.len() > 8,
            "keys never retired: {} keys",
            appended.len()
        );
        assert!(
            appended.values().all(|list| list.len() <= 16),
            "a key took over 16 appends"
        );
        workload.end_check(400).expect("a serial history is valid");
    }

    #[test]
    fn a_check_made_meanwhile_counts_unfinished_appends_as_in_doubt() {
        let mut workload = list_append();
        // Draws: deferred, 1 op, slot 0, write, commit: reads key 0, appends element 1.
        let mut draw = crate::testing::ScriptDraw::new(&[0, 0, 0, 999_999, 0]);
        let _appender = workload.next_txn(1, &mut draw);
        let reader = |outcome, mops| TxnRecord {
            conn: 2,
            workload: 0,
            outcome,
            observed: Observed::ListAppend { mops },
        };
        let saw_element = vec![Mop::Read {
            key: 0,
            list: Some(vec![1]),
        }];
        workload
            .txn_finished(3, reader(TxnOutcome::Committed, saw_element))
            .expect("recording is fine");
        workload
            .check(4)
            .expect("the appender is still running: its commit may be visible already");
        let appender_aborted = TxnRecord {
            conn: 1,
            workload: 0,
            outcome: TxnOutcome::Aborted,
            observed: Observed::ListAppend {
                mops: vec![
                    Mop::Read {
                        key: 0,
                        list: Some(vec![]),
                    },
                    Mop::Append { key: 0, element: 1 },
                ],
            },
        };
        workload
            .txn_finished(5, appender_aborted)
            .expect("recording is fine");
        let violation = workload
            .check(6)
            .expect_err("an aborted append was read: G1a");
        assert_eq!(violation.kind.name(), "G1a", "{violation}");
    }

    #[test]
    fn a_list_that_no_longer_fits_skips_the_append() {
        let params = WorkloadParams {
            value_bytes_max: 2,
            ..WorkloadParams::for_kind("list-append").expect("kind")
        };
        let mut workload = ListAppend::new("a/".into(), params);
        let mut kv = SerialKv::new();
        kv.committed
            .insert(b"a/00000000".to_vec(), encode_list(&[5, 6]));
        // Draws: deferred, 1 op, slot 0, write, commit.
        let mut draw = crate::testing::ScriptDraw::new(&[0, 0, 0, 999_999, 0]);
        let record = kv.run(workload.next_txn(0, &mut draw), &mut draw);
        let expected = vec![Mop::Read {
            key: 0,
            list: Some(vec![5, 6]),
        }];
        assert_eq!(record.observed, Observed::ListAppend { mops: expected });
        assert_eq!(
            kv.committed.get(b"a/00000000".as_slice()),
            Some(&vec![5, 6])
        );
    }

    #[test]
    fn garbled_lists_are_violations() {
        let mut workload = list_append();
        let mut kv = SerialKv::new();
        kv.committed.insert(b"a/00000000".to_vec(), vec![0x80]);
        let record = kv.run(workload.next_txn(0, &mut ZeroDraw), &mut ZeroDraw);
        assert!(workload.txn_finished(0, record).is_err());
    }

    fn committed(conn: u64, mops: Vec<Mop>) -> TxnRecord {
        TxnRecord {
            conn,
            workload: 0,
            outcome: TxnOutcome::Committed,
            observed: Observed::ListAppend { mops },
        }
    }

    #[test]
    fn a_g1c_cycle_in_the_recorded_history_is_caught() {
        let mut workload = list_append();
        // T0 appends 1 to key 0 and reads T1's append to key 1; T1 does the mirror image:
        // each saw the other's write, a write-read cycle (circular information flow).
        let t0 = vec![
            Mop::Append { key: 0, element: 1 },
            Mop::Read {
                key: 1,
                list: Some(vec![2]),
            },
        ];
        let t1 = vec![
            Mop::Append { key: 1, element: 2 },
            Mop::Read {
                key: 0,
                list: Some(vec![1]),
            },
        ];
        workload
            .txn_finished(1, committed(0, t0))
            .expect("checked at the end");
        workload
            .txn_finished(2, committed(1, t1))
            .expect("checked at the end");
        let violation = workload.end_check(3).expect_err("G1c");
        let kind =
            braid_oracle::ViolationKind::ListAppend(braid_oracle::checkers::AnomalyKind::G1c);
        assert_eq!(violation.kind, kind, "{violation}");
    }

    #[test]
    fn the_history_is_checked_periodically_not_only_at_the_end() {
        let mut workload = list_append();
        // An aborted append that a committed read saw (G1a), then enough clean records to
        // reach the periodic check.
        let aborted = TxnRecord {
            outcome: TxnOutcome::Aborted,
            ..committed(0, vec![Mop::Append { key: 0, element: 1 }])
        };
        workload.txn_finished(1, aborted).expect("not checked yet");
        workload
            .txn_finished(
                2,
                committed(
                    1,
                    vec![Mop::Read {
                        key: 0,
                        list: Some(vec![1]),
                    }],
                ),
            )
            .expect("not yet");
        let mut result = Ok(());
        for step in 0..CHECK_EVERY_TXNS as u64 {
            result = workload.txn_finished(
                3 + step,
                committed(
                    2,
                    vec![Mop::Read {
                        key: 5,
                        list: Some(vec![]),
                    }],
                ),
            );
            if result.is_err() {
                break;
            }
        }
        let violation = result.expect_err("the periodic check finds G1a");
        assert_eq!(violation.kind.name(), "G1a", "{violation}");
    }
}
