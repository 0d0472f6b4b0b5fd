//! `Script`: a program whose ops are all decided when it is made and do not depend on
//! results (register, churn, scan, checkpoint). It observes nothing a checker needs; the
//! sequential oracle checks every read it makes.

use std::collections::VecDeque;

use braid_oracle::{Op, OpResult, TxnOutcome};

use crate::draw::Draw;
use crate::params::{WorkloadParams, draw_rollback};
use crate::program::{Next, TxnProgram, TxnRecord};

/// A fixed list of ops run in order.
#[derive(Debug)]
pub struct Script {
    conn: u64,
    ops: VecDeque<Op>,
}

impl Script {
    /// A program for connection `conn` that runs `ops` in order and ends.
    pub fn new(conn: u64, ops: Vec<Op>) -> Script {
        assert!(!ops.is_empty(), "a script runs at least one op");
        Script {
            conn,
            ops: ops.into(),
        }
    }

    /// The ops not yet handed out, in order.
    pub fn remaining(&self) -> impl Iterator<Item = &Op> {
        self.ops.iter()
    }
}

impl TxnProgram for Script {
    fn next(&mut self, _last: Option<&OpResult>, _draw: &mut dyn Draw) -> Next {
        match self.ops.pop_front() {
            Some(op) => Next::Op(op),
            None => Next::Done,
        }
    }

    fn finish(self: Box<Self>, outcome: TxnOutcome) -> TxnRecord {
        TxnRecord::nothing(self.conn, outcome)
    }
}

/// Ends `ops` with a commit or, as drawn from the rollback rate, a rollback, and runs them
/// as one script (the shape of every scripted read/write transaction).
pub(crate) fn commit_or_rollback(
    conn: u64,
    mut ops: Vec<Op>,
    draw: &mut dyn Draw,
    params: &WorkloadParams,
) -> Box<dyn TxnProgram> {
    ops.push(if draw_rollback(draw, params) {
        Op::Rollback
    } else {
        Op::Commit
    });
    Box::new(Script::new(conn, ops))
}
