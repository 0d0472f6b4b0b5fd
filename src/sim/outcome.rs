//! What a simulation ends with: a summary of what happened and, if something went wrong,
//! the failure that stopped it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Why a run failed. The name is stable (it is what `shrink` preserves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Stable kind: an oracle violation's name ("stale-read", "lost-commit", ...), a workload
    /// checker's ("bank-total", "G1c", ...), or "stuck", "panic", "engine-error", "recovery".
    pub kind: String,
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
