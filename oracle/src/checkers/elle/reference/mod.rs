//! The list-append checker as it was before its indexes were made flat, kept only for
//! tests: the checker in use must report exactly what this one reports (same anomalies,
//! same order, same words, same cycles) on any history.

mod graph;
mod orders;

use crate::checkers::elle::ElleReport;
use crate::logical::ElleTxn;

/// Checks a list-append history the way the checker did before.
pub(super) fn check_list_append(txns: &[ElleTxn]) -> ElleReport {
    let mut anomalies = Vec::new();
    let analysis = orders::analyze(txns, &mut anomalies);
    let graph = graph::Graph::build(txns, &analysis);
    anomalies.extend(graph.cycle_anomalies());
    ElleReport { anomalies }
}
