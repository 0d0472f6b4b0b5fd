//! An Elle-style checker for list-append histories, in Rust so no JVM is needed.
//!
//! Every key holds a list; transactions append unique elements and read whole lists.
//! Because an append never overwrites, the longest read of a key reveals the order in
//! which its elements were appended (the version order), and each read names the exact
//! version it saw. From that the checker derives dependencies between transactions —
//! ww (consecutive appenders), wr (appender of the last element read → reader), rw
//! (reader → appender of the next element) — and searches the graph for cycles:
//! only ww → G0; ww and wr → G1c; exactly one rw → G-single; two or more → G2-item.
//! Non-cycle anomalies are found directly: aborted reads (G1a), intermediate reads
//! (G1b), lost updates, internal inconsistency, duplicates and incompatible orders.
//!
//! Transactions in doubt (their commit failed or was cut off) may or may not have
//! applied: their appends are never reported as G1a, and they join the graph only when
//! some read shows one of their elements.

#[cfg(test)]
mod equivalence;
mod graph;
mod orders;
#[cfg(test)]
mod reference;

use std::fmt;

use crate::logical::ElleTxn;
use crate::violation::{Violation, ViolationKind};

/// The kinds of anomaly the checker reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnomalyKind {
    /// A transaction's reads disagree with its own earlier reads and appends.
    InternalInconsistency,
    /// A cycle of write-write dependencies (dirty write).
    G0,
    /// A read saw an element appended only by an aborted transaction.
    G1a,
    /// A read saw a state some transaction left in the middle of its appends.
    G1b,
    /// A cycle of write-write and write-read dependencies (circular information flow).
    G1c,
    /// A cycle with exactly one read-write anti-dependency (read skew).
    GSingle,
    /// A cycle with two or more read-write anti-dependencies (write skew).
    G2Item,
    /// Two committed transactions read the same version of a key and both appended to it.
    LostUpdate,
    /// An element was appended twice, or a read shows it twice.
    DuplicateElement,
    /// Two reads of a key are not prefixes of one another.
    IncompatibleOrder,
}

impl AnomalyKind {
    /// Every anomaly.
    pub const ALL: [AnomalyKind; 10] = [
        AnomalyKind::InternalInconsistency,
        AnomalyKind::G0,
        AnomalyKind::G1a,
        AnomalyKind::G1b,
        AnomalyKind::G1c,
        AnomalyKind::GSingle,
        AnomalyKind::G2Item,
        AnomalyKind::LostUpdate,
        AnomalyKind::DuplicateElement,
        AnomalyKind::IncompatibleOrder,
    ];

    /// The short name Elle users know.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::InternalInconsistency => "internal",
            AnomalyKind::G0 => "G0",
            AnomalyKind::G1a => "G1a",
            AnomalyKind::G1b => "G1b",
            AnomalyKind::G1c => "G1c",
            AnomalyKind::GSingle => "G-single",
            AnomalyKind::G2Item => "G2-item",
            AnomalyKind::LostUpdate => "lost-update",
            AnomalyKind::DuplicateElement => "duplicate-element",
            AnomalyKind::IncompatibleOrder => "incompatible-order",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One anomaly with its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// What happened, in words, naming transactions by their index in the input.
    pub explanation: String,
    /// For cycles, the transactions of the shortest cycle found, in edge order (the first
    /// is not repeated at the end); otherwise the transactions involved.
    pub cycle: Vec<usize>,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.explanation)
    }
}

/// Everything the checker found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElleReport {
    pub anomalies: Vec<Anomaly>,
}

impl ElleReport {
    /// True when no anomaly was found.
    pub fn is_valid(&self) -> bool {
        self.anomalies.is_empty()
    }

    /// The kinds found, sorted and without repeats.
    pub fn kinds(&self) -> Vec<AnomalyKind> {
        let mut kinds: Vec<AnomalyKind> = self.anomalies.iter().map(|a| a.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// Whether an anomaly of `kind` was found.
    pub fn has(&self, kind: AnomalyKind) -> bool {
        self.anomalies.iter().any(|a| a.kind == kind)
    }

    /// The first anomaly as a `Violation` observed at `step` (the end of the run, when the
    /// checker runs over the whole history), or `None` when the history is valid.
    pub fn first_violation(&self, step: u64) -> Option<Violation> {
        let first = self.anomalies.first()?;
        let others = self.anomalies.len() - 1;
        Some(
            Violation::new(
                ViolationKind::ListAppend(first.kind),
                step,
                "a serializable list-append history",
                first.explanation.clone(),
            )
            .op("list-append check")
            .detail(format!(
                "transactions {:?} (indices in the checked history); {others} more anomalies",
                first.cycle
            )),
        )
    }
}

/// Checks a list-append history. Transactions are named by their index in `txns`.
pub fn check_list_append(txns: &[ElleTxn]) -> ElleReport {
    let mut anomalies = Vec::new();
    let analysis = orders::analyze(txns, &mut anomalies);
    let graph = graph::Graph::build(txns, &analysis);
    anomalies.extend(graph.cycle_anomalies());
    ElleReport { anomalies }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_anomaly_becomes_a_violation() {
        let report = ElleReport {
            anomalies: vec![Anomaly {
                kind: AnomalyKind::G1c,
                explanation: "dependency cycle T0 -wr on key 1-> T1 -wr on key 2-> T0".into(),
                cycle: vec![0, 1],
            }],
        };
        let violation = report.first_violation(99).expect("one anomaly");
        assert_eq!(violation.kind.name(), "G1c");
        assert!(
            violation
                .to_string()
                .starts_with("G1c at step 99 during list-append check")
        );
        assert!(ElleReport::default().first_violation(1).is_none());
    }

    #[test]
    fn names_are_elle_names() {
        assert_eq!(AnomalyKind::GSingle.name(), "G-single");
        assert_eq!(AnomalyKind::G2Item.name(), "G2-item");
        assert_eq!(AnomalyKind::InternalInconsistency.name(), "internal");
    }
}
