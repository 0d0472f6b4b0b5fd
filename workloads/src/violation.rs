//! The one place workloads build a `Violation`, so the shape of the oracle's violation type
//! is known in a single function.

/// A check that failed: which checker, at which step, and what it saw.
/// (Stands in until the oracle's shared `Violation` lands.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The scheduler decision at which the check failed.
    pub step: u64,
    /// Which check failed (`"bank"`, `"integrity"`, ...).
    pub kind: String,
    /// What was seen against what was expected.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} violation at step {}: {}",
            self.kind, self.step, self.message
        )
    }
}

/// A violation found by the workload named `kind`.
pub(crate) fn violation(step: u64, kind: &str, message: String) -> Violation {
    Violation {
        step,
        kind: kind.to_string(),
        message,
    }
}
