//! The one place workloads build a `Violation` of their own (checkers in the oracle build
//! theirs), so the shape of the oracle's violation type is known in a single function.

pub use braid_oracle::{Violation, ViolationKind};

/// A read in a workload transaction returned bytes the workload never writes in that form.
/// Damaged data must end in an error, never in a wrong answer, so this is always a violation.
pub(crate) fn garbled(step: u64, conn: u64, workload: &str, detail: String) -> Violation {
    Violation::new(
        ViolationKind::WrongValue,
        step,
        format!("a {workload} value"),
        detail,
    )
    .conn(conn)
    .detail(format!("the {workload} workload never writes such bytes"))
}
