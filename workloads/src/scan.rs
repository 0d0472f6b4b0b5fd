//! `scan`: range scans with limits over a key pool the workload also writes, so scans cross
//! page boundaries, see deletions and stop at their limit. Some scans are open-ended and
//! run on into the keys of whatever workloads sort after this one. The sequential oracle
//! checks every row.

use braid_oracle::Op;

use crate::draw::Draw;
use crate::params::{
    WorkloadParams, draw_begin, draw_between, draw_key_index, draw_txn_ops, draw_value, key,
};
use crate::program::{TxnProgram, Workload};
use crate::register::draw_is_write;
use crate::script::commit_or_rollback;

/// The scan workload over keys `<prefix>00000000..`.
#[derive(Debug)]
pub struct Scan {
    prefix: String,
    params: WorkloadParams,
    next_tag: u64,
}

impl Scan {
    /// A scan workload over keys under `prefix`.
    pub fn new(prefix: String, params: WorkloadParams) -> Scan {
        Scan {
            prefix,
            params,
            next_tag: 1,
        }
    }
}

/// A scan from a drawn key of the pool; draw 0 gives `[first key, next key)` with limit 1.
pub(crate) fn draw_scan(draw: &mut dyn Draw, prefix: &str, params: &WorkloadParams) -> Op {
    let start_index = draw_key_index(draw, params);
    let end = match draw.draw(3) {
        0 => Some(key(prefix, start_index + 1)),
        1 => Some(key(prefix, start_index + 1 + draw.draw(params.key_count))),
        _ => None,
    };
    let limit = draw_between(draw, 1, params.scan_limit_max as u64);
    let limit = usize::try_from(limit).expect("bounded by scan_limit_max, a usize");
    Op::Scan {
        start: key(prefix, start_index),
        end,
        limit,
    }
}

impl Workload for Scan {
    fn kind(&self) -> &'static str {
        "scan"
    }

    fn next_txn(&mut self, conn: u64, draw: &mut dyn Draw) -> Box<dyn TxnProgram> {
        let params = &self.params;
        let mut ops = vec![Op::Begin(draw_begin(draw, params))];
        for _ in 0..draw_txn_ops(draw, params) {
            if !draw_is_write(draw, params) {
                ops.push(draw_scan(draw, &self.prefix, params));
                continue;
            }
            let key = key(&self.prefix, draw_key_index(draw, params));
            if draw.draw(4) == 3 {
                ops.push(Op::Delete(key));
            } else {
                ops.push(Op::Put(key, draw_value(draw, params, self.next_tag)));
                self.next_tag += 1;
            }
        }
        commit_or_rollback(conn, ops, draw, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{SeededDraw, SerialKv, ZeroDraw};

    #[test]
    fn draw_zero_scans_one_key_with_limit_one() {
        let params = WorkloadParams::for_kind("scan").expect("known kind");
        let op = draw_scan(&mut ZeroDraw, "s/", &params);
        let expected = Op::Scan {
            start: b"s/00000000".to_vec(),
            end: Some(b"s/00000001".to_vec()),
            limit: 1,
        };
        assert_eq!(op, expected);
    }

    #[test]
    fn scans_vary_bounds_and_limits_and_some_hit_their_limit() {
        let params = WorkloadParams::for_kind("scan").expect("known kind");
        let mut workload = Scan::new("s/".into(), params);
        let mut draw = SeededDraw::new(11);
        let mut kv = SerialKv::new();
        let (mut open_ended, mut limited) = (0, 0);
        for _ in 0..200 {
            let program = workload.next_txn(0, &mut draw);
            kv.run(program, &mut draw);
        }
        let log = kv.log.clone();
        let mut replay = SerialKv::new();
        for op in &log {
            let result = replay.execute(op);
            if let (Op::Scan { end, limit, .. }, Ok(braid_oracle::OpOutput::Rows(rows))) =
                (op, result)
            {
                assert!(rows.len() <= *limit);
                open_ended += usize::from(end.is_none());
                limited += usize::from(rows.len() == *limit && *limit > 1);
            }
        }
        assert!(open_ended > 10, "{open_ended} open-ended scans");
        assert!(limited > 5, "only {limited} scans stopped at their limit");
    }
}
