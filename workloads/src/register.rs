//! `register`: reads and overwrites of a small pool of hot keys, so transactions collide
//! on the write lock and on stale snapshots. The sequential oracle checks every read; the
//! workload itself has nothing more to check.

use braid_oracle::Op;

use crate::draw::Draw;
use crate::params::{WorkloadParams, draw_begin, draw_key_index, draw_txn_ops, draw_value, key};
use crate::program::{TxnProgram, Workload};
use crate::script::commit_or_rollback;

/// The register workload over keys `<prefix>00000000..`.
#[derive(Debug)]
pub struct Register {
    prefix: String,
    params: WorkloadParams,
    /// Distinguishes the values of successive writes.
    next_tag: u64,
}

impl Register {
    /// A register workload writing keys under `prefix`.
    pub fn new(prefix: String, params: WorkloadParams) -> Register {
        Register {
            prefix,
            params,
            next_tag: 1,
        }
    }
}

/// Whether an op writes; draw 0 gives a read (the simpler op).
pub(crate) fn draw_is_write(draw: &mut dyn Draw, params: &WorkloadParams) -> bool {
    draw.chance(1_000_000 - params.read_ppm.min(1_000_000))
}

impl Workload for Register {
    fn kind(&self) -> &'static str {
        "register"
    }

    fn next_txn(&mut self, conn: u64, draw: &mut dyn Draw) -> Box<dyn TxnProgram> {
        let params = &self.params;
        let mut ops = vec![Op::Begin(draw_begin(draw, params))];
        for _ in 0..draw_txn_ops(draw, params) {
            let key = key(&self.prefix, draw_key_index(draw, params));
            if draw_is_write(draw, params) {
                ops.push(Op::Put(key, draw_value(draw, params, self.next_tag)));
                self.next_tag += 1;
            } else {
                ops.push(Op::Get(key));
            }
        }
        commit_or_rollback(conn, ops, draw, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{SeededDraw, SerialKv, ZeroDraw};
    use braid_oracle::TxMode;

    fn register() -> Register {
        Register::new(
            "r/".into(),
            WorkloadParams::for_kind("register").expect("known kind"),
        )
    }

    #[test]
    fn draw_zero_is_one_read_of_the_first_key_then_commit() {
        let mut kv = SerialKv::new();
        let program = register().next_txn(0, &mut ZeroDraw);
        kv.run(program, &mut ZeroDraw);
        let expected = vec![
            Op::Begin(TxMode::Deferred),
            Op::Get(b"r/00000000".to_vec()),
            Op::Commit,
        ];
        assert_eq!(kv.log, expected);
    }

    #[test]
    fn keys_stay_in_the_pool_and_writes_carry_distinct_values() {
        let mut workload = register();
        let mut draw = SeededDraw::new(7);
        let mut written = Vec::new();
        for _ in 0..200 {
            let mut kv = SerialKv::new();
            let program = workload.next_txn(1, &mut draw);
            kv.run(program, &mut draw);
            for op in &kv.log {
                match op {
                    Op::Get(key) => assert!(key.as_slice() < b"r/00000004".as_slice()),
                    Op::Put(key, value) => {
                        assert!(key.as_slice() < b"r/00000004".as_slice());
                        assert!(
                            (1..=16).contains(&value.len()),
                            "value size {}",
                            value.len()
                        );
                        written.push(value.clone());
                    }
                    _ => {}
                }
            }
        }
        assert!(
            written.len() > 50,
            "a 50% write mix wrote only {}",
            written.len()
        );
        let distinct: std::collections::BTreeSet<_> =
            written.iter().filter(|v| v.len() >= 5).collect();
        let long = written.iter().filter(|v| v.len() >= 5).count();
        assert_eq!(
            distinct.len(),
            long,
            "values long enough for their tag are distinct"
        );
    }
}
