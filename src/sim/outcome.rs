//! What a simulation ends with: a summary of what happened and, if something went wrong,
//! the failure that stopped it.

use std::collections::BTreeMap;

use braid_oracle::ViolationKind;
use serde::{Deserialize, Serialize};

/// What a run failed with. Its name is stable: failure.json, regression cases, reports and
/// the command line spell it (`name()`; serde reads and writes the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum FailureKind {
    /// A rule of the oracle or of a workload checker ("stale-read", "bank-total", "G1c", ...).
    Violation(ViolationKind),
    /// The run stopped progressing, or the write lock leaked ("stuck").
    Stuck,
    /// Reopening failed, or what it recovered failed its checks ("recovery").
    Recovery,
    /// The engine or the simulator panicked inside the run ("panic").
    Panic,
    /// A campaign's worker panicked outside any run's own catch ("braid-panic").
    BraidPanic,
    /// The engine returned an error it must never return ("engine-error").
    EngineError,
    /// `Corrupt` although no bit of durable data flipped ("corrupt").
    Corrupt,
    /// Two engines answered one op differently ("divergence").
    Divergence,
    /// A completion group finished with a member still pending ("group-finished-early").
    GroupFinishedEarly,
    /// An op succeeded although I/O it waited on failed ("lost-io-error").
    LostIoError,
    /// A campaign seed whose config could not be resolved ("config").
    Config,
}

impl FailureKind {
    /// Every kind that is not an oracle or checker violation.
    const OWN: [FailureKind; 10] = [
        FailureKind::Stuck,
        FailureKind::Recovery,
        FailureKind::Panic,
        FailureKind::BraidPanic,
        FailureKind::EngineError,
        FailureKind::Corrupt,
        FailureKind::Divergence,
        FailureKind::GroupFinishedEarly,
        FailureKind::LostIoError,
        FailureKind::Config,
    ];

    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Violation(kind) => kind.name(),
            FailureKind::Stuck => "stuck",
            FailureKind::Recovery => "recovery",
            FailureKind::Panic => "panic",
            FailureKind::BraidPanic => "braid-panic",
            FailureKind::EngineError => "engine-error",
            FailureKind::Corrupt => "corrupt",
            FailureKind::Divergence => "divergence",
            FailureKind::GroupFinishedEarly => "group-finished-early",
            FailureKind::LostIoError => "lost-io-error",
            FailureKind::Config => "config",
        }
    }

    /// The same as `name()`.
    pub fn as_str(&self) -> &'static str {
        self.name()
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<FailureKind> {
        FailureKind::OWN
            .into_iter()
            .find(|kind| kind.name() == name)
            .or_else(|| ViolationKind::from_name(name).map(FailureKind::Violation))
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<ViolationKind> for FailureKind {
    fn from(kind: ViolationKind) -> Self {
        FailureKind::Violation(kind)
    }
}

impl From<FailureKind> for String {
    fn from(kind: FailureKind) -> String {
        kind.name().to_string()
    }
}

impl TryFrom<String> for FailureKind {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        FailureKind::from_name(&name).ok_or_else(|| format!("unknown failure kind {name:?}"))
    }
}

impl PartialEq<str> for FailureKind {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

impl PartialEq<&str> for FailureKind {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// Why a run failed. The kind is what `shrink` preserves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    /// The decision at which it was detected.
    pub step: u64,
    /// A sentence a person can act on: step, connection, transaction, operation, expected
    /// and actual values.
    pub message: String,
}

/// Counts gathered over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStats {
    pub decisions: u64,
    /// Operations that completed (successfully or with an error).
    pub operations: u64,
    pub transactions: u64,
    pub commits: u64,
    /// Transactions that ended without committing, by reason.
    pub aborts: BTreeMap<String, u64>,
    /// Faults injected, by kind ("write-error", "crash", ...).
    pub faults: BTreeMap<String, u64>,
    /// Group faults injected, by group label.
    pub group_faults: BTreeMap<String, u64>,
    pub crashes: u64,
    pub recoveries: u64,
    /// Yields the injector granted at the engine's yield points.
    pub injected_yields: u64,
    /// Busy answers retried.
    pub busy_retries: u64,
    /// Scheduler decisions per transaction, for latency histograms (not in JSON summaries).
    #[serde(skip)]
    pub txn_latency_decisions: Vec<u64>,
    /// Operations per finished transaction (not in JSON summaries).
    #[serde(skip)]
    pub txn_ops: Vec<u64>,
}

impl RunStats {
    pub(crate) fn abort(&mut self, reason: &str) {
        *self.aborts.entry(reason.to_string()).or_default() += 1;
    }

    pub(crate) fn fault(&mut self, kind: &str) {
        *self.faults.entry(kind.to_string()).or_default() += 1;
    }
}

/// The result of one simulation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub seed: u64,
    pub strategy: String,
    pub stats: RunStats,
    /// 16 hex digits over every event of the run.
    pub trace_hash: String,
    /// None when every check passed.
    pub failure: Option<Failure>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds_keep_their_names_on_disk() {
        for (kind, name) in [
            (FailureKind::Stuck, "stuck"),
            (FailureKind::BraidPanic, "braid-panic"),
            (FailureKind::LostIoError, "lost-io-error"),
            (
                FailureKind::Violation(ViolationKind::LostCommit),
                "lost-commit",
            ),
            (
                FailureKind::Violation(ViolationKind::ListAppend(
                    braid_oracle::checkers::elle::AnomalyKind::GSingle,
                )),
                "G-single",
            ),
        ] {
            let json = serde_json::to_string(&kind).expect("serialize");
            assert_eq!(json, format!("{name:?}"));
            assert_eq!(
                serde_json::from_str::<FailureKind>(&json).expect("read"),
                kind
            );
            assert_eq!(kind, name);
        }
        for kind in FailureKind::OWN {
            assert_eq!(FailureKind::from_name(kind.name()), Some(kind));
        }
        assert!(serde_json::from_str::<FailureKind>("\"no-such-kind\"").is_err());
    }
}
