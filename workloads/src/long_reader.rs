//! `long-reader`: begins, reads, then holds its snapshot for many turns while other
//! connections commit, and reads again. Checkpoints must not copy past its snapshot and its
//! second reads must still see the old state. Its reads are open-ended scans from the start
//! of the keyspace (they see every workload's keys). With the write share of `read_ppm` it
//! ends by writing a key of its own, which must fail as a stale snapshot if anyone
//! committed meanwhile.

use braid_oracle::{Op, OpResult, TxMode, TxnOutcome};

use crate::draw::Draw;
use crate::params::{WorkloadParams, draw_begin, draw_between, draw_rollback, key, value};
use crate::program::{Next, TxnProgram, TxnRecord, Workload};
use crate::register::draw_is_write;

/// The long-reader workload; its own writes go to keys under its prefix.
#[derive(Debug)]
pub struct LongReader {
    prefix: String,
    params: WorkloadParams,
    next_tag: u64,
}

impl LongReader {
    /// A long-reader workload writing (rarely) under `prefix`.
    pub fn new(prefix: String, params: WorkloadParams) -> LongReader {
        LongReader {
            prefix,
            params,
            next_tag: 1,
        }
    }
}

impl Workload for LongReader {
    fn kind(&self) -> &'static str {
        "long-reader"
    }

    fn next_txn(&mut self, conn: u64, draw: &mut dyn Draw) -> Box<dyn TxnProgram> {
        let params = &self.params;
        let mode = draw_begin(draw, params);
        let mut scan = || Op::Scan {
            start: Vec::new(),
            end: None,
            limit: usize::try_from(draw_between(draw, 1, params.scan_limit_max as u64))
                .expect("bounded by scan_limit_max"),
        };
        let (before, after) = (scan(), scan());
        let hold_turns = u32::try_from(draw_between(draw, 0, params.hold_turns_max.into()))
            .expect("bounded by hold_turns_max");
        let write = if draw_is_write(draw, params) {
            let tag = self.next_tag;
            self.next_tag += 1;
            Some(Op::Put(
                key(&self.prefix, conn),
                value(tag, params.value_bytes_min),
            ))
        } else {
            None
        };
        let end = if draw_rollback(draw, params) {
            Op::Rollback
        } else {
            Op::Commit
        };
        Box::new(LongRead {
            conn,
            mode,
            before,
            hold_turns,
            after,
            write,
            end,
            stage: 0,
        })
    }
}

/// One long read: begin, scan, pause `hold_turns` times, scan, maybe write, end.
#[derive(Debug)]
struct LongRead {
    conn: u64,
    mode: TxMode,
    before: Op,
    hold_turns: u32,
    after: Op,
    write: Option<Op>,
    end: Op,
    /// 0 begin, 1 first scan, 2 holding, 3 second scan, 4 write, 5 end, 6 done.
    stage: u8,
}

impl TxnProgram for LongRead {
    fn next(&mut self, _last: Option<&OpResult>, _draw: &mut dyn Draw) -> Next {
        loop {
            let stage = self.stage;
            self.stage += 1;
            match stage {
                0 => return Next::Op(Op::Begin(self.mode)),
                1 => return Next::Op(self.before.clone()),
                2 if self.hold_turns > 0 => {
                    self.hold_turns -= 1;
                    self.stage = 2;
                    return Next::Pause;
                }
                2 => {}
                3 => return Next::Op(self.after.clone()),
                4 => {
                    if let Some(write) = self.write.take() {
                        return Next::Op(write);
                    }
                }
                5 => return Next::Op(self.end.clone()),
                _ => {
                    self.stage = 6;
                    return Next::Done;
                }
            }
        }
    }

    fn finish(self: Box<Self>, outcome: TxnOutcome) -> TxnRecord {
        TxnRecord::nothing(self.conn, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{SeededDraw, ZeroDraw};

    #[test]
    fn holds_its_snapshot_between_two_scans() {
        let params = WorkloadParams::for_kind("long-reader").expect("known kind");
        let mut workload = LongReader::new("l/".into(), params);
        let mut draw = SeededDraw::new(5);
        let mut longest_hold = 0;
        for _ in 0..50 {
            let mut program = workload.next_txn(2, &mut draw);
            let mut steps = Vec::new();
            loop {
                let next = program.next(None, &mut draw);
                let done = next == Next::Done;
                steps.push(next);
                if done {
                    break;
                }
            }
            assert!(matches!(steps[0], Next::Op(Op::Begin(_))));
            assert!(matches!(steps[1], Next::Op(Op::Scan { .. })));
            let pauses = steps.iter().filter(|s| **s == Next::Pause).count();
            let first_after = 2 + pauses;
            assert!(steps[2..first_after].iter().all(|s| *s == Next::Pause));
            assert!(matches!(steps[first_after], Next::Op(Op::Scan { .. })));
            assert!(pauses <= 64);
            longest_hold = longest_hold.max(pauses);
        }
        assert!(longest_hold > 32, "never held long: {longest_hold} turns");
    }

    #[test]
    fn draw_zero_holds_for_no_turns_and_commits() {
        let params = WorkloadParams::for_kind("long-reader").expect("known kind");
        let mut program = LongReader::new("l/".into(), params).next_txn(0, &mut ZeroDraw);
        let mut ops = Vec::new();
        while let Next::Op(op) = program.next(None, &mut ZeroDraw) {
            ops.push(op);
        }
        assert_eq!(ops.len(), 4, "begin, scan, scan, commit: {ops:?}");
        assert_eq!(ops[3], Op::Commit);
    }
}
