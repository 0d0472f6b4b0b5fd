//! What a campaign reports: one `SeedRecord` per finished seed (also the line format of the
//! progress file) and the `Summary` built from them in seed order, so two campaigns over the
//! same seeds report the same thing however their threads interleaved. Summaries of shards
//! merge (`Summary::merge`) into the summary of the whole campaign.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::histogram::Distribution;
use crate::sim::{FailureKind, Outcome};

/// One finished seed: its failure (if any), its counts and its measurements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRecord {
    pub seed: u64,
    /// `None` when the seed passed.
    pub failure: Option<FailureLine>,
    pub totals: Totals,
    pub txn_latency_decisions: Distribution,
    pub ops_per_txn: Distribution,
}

/// A failing seed as the summary lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureLine {
    pub seed: u64,
    pub kind: FailureKind,
    pub step: u64,
    pub message: String,
    pub trace_hash: String,
    /// The artifact directory (None if it could not be written).
    pub dir: Option<String>,
}

/// Counts summed over seeds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub decisions: u64,
    pub operations: u64,
    pub transactions: u64,
    pub commits: u64,
    pub crashes: u64,
    pub recoveries: u64,
    pub injected_yields: u64,
    pub busy_retries: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.decisions += other.decisions;
        self.operations += other.operations;
        self.transactions += other.transactions;
        self.commits += other.commits;
        self.crashes += other.crashes;
        self.recoveries += other.recoveries;
        self.injected_yields += other.injected_yields;
        self.busy_retries += other.busy_retries;
        for (kind, count) in &other.faults {
            *self.faults.entry(kind.clone()).or_default() += count;
        }
    }
}

impl SeedRecord {
    /// The record of one run; `dir` is where its failure artifacts went.
    pub fn from_outcome(outcome: &Outcome, dir: Option<String>) -> SeedRecord {
        let s = &outcome.stats;
        let mut latency = Distribution::default();
        s.txn_latency_decisions
            .iter()
            .for_each(|&v| latency.record(v));
        let mut ops = Distribution::default();
        s.txn_ops.iter().for_each(|&v| ops.record(v));
        SeedRecord {
            seed: outcome.seed,
            failure: outcome.failure.as_ref().map(|f| FailureLine {
                seed: outcome.seed,
                kind: f.kind,
                step: f.step,
                message: f.message.clone(),
                trace_hash: outcome.trace_hash.clone(),
                dir,
            }),
            totals: Totals {
                decisions: s.decisions,
                operations: s.operations,
                transactions: s.transactions,
                commits: s.commits,
                crashes: s.crashes,
                recoveries: s.recoveries,
                injected_yields: s.injected_yields,
                busy_retries: s.busy_retries,
                faults: s.faults.clone(),
            },
            txn_latency_decisions: latency,
            ops_per_txn: ops,
        }
    }
}

/// The distributions a campaign reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histograms {
    /// Scheduler decisions from a transaction's first op to its end.
    pub txn_latency_decisions: Distribution,
    /// Operations per finished transaction.
    pub ops_per_txn: Distribution,
    /// Scheduler decisions per seed.
    pub decisions_per_seed: Distribution,
}

/// A campaign's (or a merge of shards') JSON summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub braid_version: String,
    /// The config file (or `<default>`), and the canary if any.
    pub config: String,
    pub canary: Option<String>,
    pub swarm: bool,
    /// What each contributing shard was asked to run (`A..B shard I/N`).
    pub shards: Vec<String>,
    /// Seeds finished.
    pub seeds: u64,
    pub passed: u64,
    pub failed: u64,
    /// Failing seeds in seed order.
    pub failures: Vec<FailureLine>,
    pub totals: Totals,
    pub histograms: Histograms,
    /// Wall-clock seconds (for a merge, the longest shard).
    pub elapsed_seconds: f64,
    /// Whether some shard stopped early (Ctrl-C or the time limit) before its range ended.
    pub interrupted: bool,
}

/// What a summary says about the campaign that produced it (not derived from the seeds).
#[derive(Debug, Clone)]
pub struct SummaryHeader {
    pub config: String,
    pub canary: Option<String>,
    pub swarm: bool,
    pub shard: String,
    pub elapsed_seconds: f64,
    pub interrupted: bool,
}

impl Summary {
    /// The summary of `records` (any order; reported in seed order).
    pub fn build(header: SummaryHeader, records: &BTreeMap<u64, SeedRecord>) -> Summary {
        let mut summary = Summary {
            braid_version: env!("CARGO_PKG_VERSION").to_string(),
            config: header.config,
            canary: header.canary,
            swarm: header.swarm,
            shards: vec![header.shard],
            seeds: 0,
            passed: 0,
            failed: 0,
            failures: Vec::new(),
            totals: Totals::default(),
            histograms: Histograms::default(),
            elapsed_seconds: header.elapsed_seconds,
            interrupted: header.interrupted,
        };
        for record in records.values() {
            summary.seeds += 1;
            match &record.failure {
                None => summary.passed += 1,
                Some(failure) => {
                    summary.failed += 1;
                    summary.failures.push(failure.clone());
                }
            }
            summary.totals.add(&record.totals);
            let h = &mut summary.histograms;
            h.txn_latency_decisions.merge(&record.txn_latency_decisions);
            h.ops_per_txn.merge(&record.ops_per_txn);
            h.decisions_per_seed.record(record.totals.decisions);
        }
        summary
    }

    /// Joins shard summaries: sums, the union of failures (in seed order; a seed reported
    /// twice is listed once), merged histograms, the longest elapsed time.
    pub fn merge(parts: &[Summary]) -> Result<Summary, String> {
        let first = parts.first().ok_or("nothing to merge")?;
        let mut merged = Summary {
            shards: Vec::new(),
            seeds: 0,
            passed: 0,
            failed: 0,
            failures: Vec::new(),
            totals: Totals::default(),
            histograms: Histograms::default(),
            elapsed_seconds: 0.0,
            interrupted: false,
            ..first.clone()
        };
        let mut failures = BTreeMap::new();
        for part in parts {
            if (&part.config, &part.canary, part.swarm)
                != (&first.config, &first.canary, first.swarm)
            {
                return Err(format!(
                    "cannot merge campaigns of different configs: {} (canary {:?}, swarm {}) \
                     and {} (canary {:?}, swarm {})",
                    first.config, first.canary, first.swarm, part.config, part.canary, part.swarm
                ));
            }
            merged.shards.extend(part.shards.iter().cloned());
            merged.seeds += part.seeds;
            merged.passed += part.passed;
            merged.failed += part.failed;
            for failure in &part.failures {
                failures.insert(failure.seed, failure.clone());
            }
            merged.totals.add(&part.totals);
            let h = &mut merged.histograms;
            h.txn_latency_decisions
                .merge(&part.histograms.txn_latency_decisions);
            h.ops_per_txn.merge(&part.histograms.ops_per_txn);
            h.decisions_per_seed
                .merge(&part.histograms.decisions_per_seed);
            merged.elapsed_seconds = merged.elapsed_seconds.max(part.elapsed_seconds);
            merged.interrupted |= part.interrupted;
        }
        merged.failures = failures.into_values().collect();
        Ok(merged)
    }

    /// The summary as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a summary serializes") + "\n"
    }

    /// Lines for the terminal.
    pub fn describe(&self) -> Vec<String> {
        let rate = if self.elapsed_seconds > 0.0 {
            self.seeds as f64 / self.elapsed_seconds
        } else {
            0.0
        };
        let t = &self.totals;
        let mut lines = vec![
            format!(
                "seeds {}  passed {}  failed {}  elapsed {:.1}s  ({rate:.2} seeds/s){}",
                self.seeds,
                self.passed,
                self.failed,
                self.elapsed_seconds,
                if self.interrupted {
                    "  INTERRUPTED"
                } else {
                    ""
                }
            ),
            format!(
                "decisions {}  operations {}  transactions {}  commits {}  crashes {}",
                t.decisions, t.operations, t.transactions, t.commits, t.crashes
            ),
            format!(
                "txn latency (decisions): {}",
                self.histograms.txn_latency_decisions.describe()
            ),
            format!(
                "ops per txn:             {}",
                self.histograms.ops_per_txn.describe()
            ),
            format!(
                "decisions per seed:      {}",
                self.histograms.decisions_per_seed.describe()
            ),
        ];
        for failure in &self.failures {
            lines.push(format!(
                "FAILED seed {}: {} at step {}{}",
                failure.seed,
                failure.kind,
                failure.step,
                failure
                    .dir
                    .as_ref()
                    .map_or(String::new(), |d| format!("  ({d})"))
            ));
        }
        lines
    }
}
