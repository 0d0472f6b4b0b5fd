//! `WorkloadMix`: several workloads with weights behind one `Workload`. One draw picks the
//! workload of each transaction (draw 0 picks the first with a non-zero weight); records
//! come back tagged with the index of the workload that made them and go to it.

use braid_oracle::{OpResult, TxnOutcome};

use crate::draw::Draw;
use crate::params::WorkloadParams;
use crate::program::{Next, TxnProgram, TxnRecord, Workload};
use crate::violation::Violation;
use crate::{bank, churn, counter, list_append, long_reader, maintenance, register, scan};

/// Every workload kind, as written in configs.
pub const KINDS: [&str; 9] = [
    "register",
    "bank",
    "list-append",
    "counter",
    "churn",
    "scan",
    "long-reader",
    "checkpoint",
    "integrity",
];

/// Makes the workload of `kind` writing keys under `prefix`; `None` for an unknown kind.
pub fn build(kind: &str, prefix: String, params: WorkloadParams) -> Option<Box<dyn Workload>> {
    let workload: Box<dyn Workload> = match kind {
        "register" => Box::new(register::Register::new(prefix, params)),
        "bank" => Box::new(bank::Bank::new(prefix, params)),
        "list-append" => Box::new(list_append::ListAppend::new(prefix, params)),
        "counter" => Box::new(counter::Counter::new(prefix, params)),
        "churn" => Box::new(churn::Churn::new(prefix, params)),
        "scan" => Box::new(scan::Scan::new(prefix, params)),
        "long-reader" => Box::new(long_reader::LongReader::new(prefix, params)),
        "checkpoint" => Box::new(maintenance::Checkpoint::new(params)),
        "integrity" => Box::new(maintenance::Integrity::new(params)),
        _ => return None,
    };
    Some(workload)
}

/// Weighted workloads behind one `Workload`.
pub struct WorkloadMix {
    entries: Vec<(u64, Box<dyn Workload>)>,
    total_weight: u64,
}

impl std::fmt::Debug for WorkloadMix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<_> = self.entries.iter().map(|(w, wl)| (wl.kind(), *w)).collect();
        f.debug_struct("WorkloadMix")
            .field("entries", &kinds)
            .finish()
    }
}

impl WorkloadMix {
    /// A mix of `(weight, workload)`; the weights must not all be 0.
    pub fn new(entries: Vec<(u32, Box<dyn Workload>)>) -> WorkloadMix {
        let entries: Vec<_> = entries
            .into_iter()
            .map(|(w, wl)| (u64::from(w), wl))
            .collect();
        let total_weight = entries.iter().map(|(weight, _)| weight).sum();
        assert!(total_weight > 0, "a workload mix needs a non-zero weight");
        WorkloadMix {
            entries,
            total_weight,
        }
    }

    /// The kinds in the mix, in order.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.entries
            .iter()
            .map(|(_, workload)| workload.kind())
            .collect()
    }

    /// The index of the workload a draw of `ticket` in `0..total_weight` lands on.
    fn pick(&self, mut ticket: u64) -> usize {
        for (index, (weight, _)) in self.entries.iter().enumerate() {
            if ticket < *weight {
                return index;
            }
            ticket -= weight;
        }
        unreachable!("ticket below the total weight lands on an entry")
    }
}

impl Workload for WorkloadMix {
    fn kind(&self) -> &'static str {
        "mix"
    }

    fn next_txn(&mut self, conn: u64, draw: &mut dyn Draw) -> Box<dyn TxnProgram> {
        let index = self.pick(draw.draw(self.total_weight));
        let inner = self.entries[index].1.next_txn(conn, draw);
        Box::new(Tagged { index, inner })
    }

    fn txn_finished(&mut self, step: u64, record: TxnRecord) -> Result<(), Violation> {
        let entry = self
            .entries
            .get_mut(record.workload)
            .expect("records carry their mix index");
        entry.1.txn_finished(step, record)
    }

    fn crashed(&mut self, commits_may_be_lost: bool) {
        for (_, workload) in &mut self.entries {
            workload.crashed(commits_may_be_lost);
        }
    }

    fn final_programs(&mut self) -> Vec<Box<dyn TxnProgram>> {
        let mut programs: Vec<Box<dyn TxnProgram>> = Vec::new();
        for (index, (_, workload)) in self.entries.iter_mut().enumerate() {
            for inner in workload.final_programs() {
                programs.push(Box::new(Tagged { index, inner }));
            }
        }
        programs
    }

    fn end_check(&mut self, step: u64) -> Result<(), Violation> {
        for (_, workload) in &mut self.entries {
            workload.end_check(step)?;
        }
        Ok(())
    }
}

/// A program tagged with the index of the workload that made it.
struct Tagged {
    index: usize,
    inner: Box<dyn TxnProgram>,
}

impl TxnProgram for Tagged {
    fn next(&mut self, last: Option<&OpResult>, draw: &mut dyn Draw) -> Next {
        self.inner.next(last, draw)
    }

    fn finish(self: Box<Self>, outcome: TxnOutcome) -> TxnRecord {
        let mut record = self.inner.finish(outcome);
        record.workload = self.index;
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{SeededDraw, SerialKv, ZeroDraw};

    fn mix(weights: &[(&str, u32)]) -> WorkloadMix {
        let entries = weights
            .iter()
            .enumerate()
            .map(|(i, (kind, weight))| {
                let params = WorkloadParams::for_kind(kind).expect("known kind");
                let workload = build(kind, format!("w{i}/"), params).expect("known kind");
                (*weight, workload)
            })
            .collect();
        WorkloadMix::new(entries)
    }

    #[test]
    fn every_kind_builds_and_unknown_kinds_do_not() {
        for kind in KINDS {
            let params = WorkloadParams::for_kind(kind).expect("every kind has defaults");
            assert_eq!(params.validate(), Ok(()));
            assert_eq!(
                build(kind, "p/".into(), params).expect("builds").kind(),
                kind
            );
        }
        assert!(WorkloadParams::for_kind("bogus").is_none());
    }

    #[test]
    fn draw_zero_picks_the_first_weighted_workload() {
        let mut mix = mix(&[("bank", 0), ("register", 3), ("churn", 5)]);
        let mut kv = SerialKv::new();
        let record = kv.run(mix.next_txn(0, &mut ZeroDraw), &mut ZeroDraw);
        assert_eq!(record.workload, 1);
        assert!(
            kv.log
                .iter()
                .any(|op| matches!(op, braid_oracle::Op::Get(k) if k.starts_with(b"w1/")))
        );
    }

    #[test]
    fn weights_set_the_share_and_records_route_back() {
        let mut mix = mix(&[("register", 1), ("counter", 3), ("bank", 0)]);
        let mut draw = SeededDraw::new(9);
        let mut kv = SerialKv::new();
        let mut counts = [0u32; 3];
        for _ in 0..400 {
            let record = kv.run(mix.next_txn(0, &mut draw), &mut draw);
            counts[record.workload] += 1;
            mix.txn_finished(1, record)
                .expect("a serial run breaks no rule");
        }
        assert_eq!(counts[2], 0, "weight 0 never runs");
        assert!(
            counts[1] > 2 * counts[0],
            "counts {counts:?} do not follow weights 1:3"
        );
        for program in mix.final_programs() {
            let record = kv.run(program, &mut draw);
            mix.txn_finished(2, record)
                .expect("final counter read matches");
        }
        mix.end_check(3).expect("nothing wrong");
    }
}
