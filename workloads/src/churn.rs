//! `churn`: many inserts and deletes over a wide key pool with value sizes drawn up to the
//! engine's maximum, so pages split, merge and redistribute, the tree grows and shrinks, and
//! freed pages return through the freelist. The sequential oracle checks every read.

use braid_oracle::Op;

use crate::draw::Draw;
use crate::params::{WorkloadParams, draw_begin, draw_key_index, draw_txn_ops, draw_value, key};
use crate::program::{TxnProgram, Workload};
use crate::register::draw_is_write;
use crate::script::commit_or_rollback;

/// The churn workload over keys `<prefix>00000000..`.
#[derive(Debug)]
pub struct Churn {
    prefix: String,
    params: WorkloadParams,
    next_tag: u64,
}

impl Churn {
    /// A churn workload writing keys under `prefix`.
    pub fn new(prefix: String, params: WorkloadParams) -> Churn {
        Churn {
            prefix,
            params,
            next_tag: 1,
        }
    }
}

impl Workload for Churn {
    fn kind(&self) -> &'static str {
        "churn"
    }

    fn next_txn(&mut self, conn: u64, draw: &mut dyn Draw) -> Box<dyn TxnProgram> {
        let params = &self.params;
        let mut ops = vec![Op::Begin(draw_begin(draw, params))];
        for _ in 0..draw_txn_ops(draw, params) {
            let key = key(&self.prefix, draw_key_index(draw, params));
            if !draw_is_write(draw, params) {
                ops.push(Op::Get(key));
            } else if draw.draw(2) == 0 {
                ops.push(Op::Put(key, draw_value(draw, params, self.next_tag)));
                self.next_tag += 1;
            } else {
                ops.push(Op::Delete(key));
            }
        }
        commit_or_rollback(conn, ops, draw, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{SeededDraw, SerialKv};

    #[test]
    fn churn_inserts_and_deletes_with_sizes_across_the_range() {
        let params = WorkloadParams::for_kind("churn").expect("known kind");
        let mut workload = Churn::new("c/".into(), params);
        let mut draw = SeededDraw::new(3);
        let mut kv = SerialKv::new();
        let mut peak_keys = 0;
        for _ in 0..300 {
            let program = workload.next_txn(0, &mut draw);
            kv.run(program, &mut draw);
            peak_keys = peak_keys.max(kv.committed.len());
        }
        let sizes: Vec<usize> = kv
            .log
            .iter()
            .filter_map(|op| {
                if let Op::Put(_, v) = op {
                    Some(v.len())
                } else {
                    None
                }
            })
            .collect();
        let deletes = kv
            .log
            .iter()
            .filter(|op| matches!(op, Op::Delete(_)))
            .count();
        assert!(deletes > 100, "only {deletes} deletes");
        assert!(sizes.iter().all(|len| (1..=128).contains(len)));
        assert!(
            sizes.iter().any(|len| *len > 120),
            "never wrote a value near the maximum"
        );
        assert!(
            sizes.iter().any(|len| *len < 10),
            "never wrote a small value"
        );
        assert!(
            peak_keys > 50,
            "the tree never grew: {peak_keys} keys at most"
        );
        assert!(kv.committed.len() < peak_keys, "the tree never shrank");
    }
}
