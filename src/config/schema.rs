//! The config schema: what a braid TOML file may say. Every field has a default (so an
//! empty file is a valid config), unknown keys are rejected, and each field's doc states its
//! unit and bounds (checked in `validate`). Probabilities are written as fractions in
//! `0..=1` and become integer parts per million in `ResolvedConfig`.

use serde::{Deserialize, Serialize};

pub use crate::sim::sim_io::FsyncFailure;

/// A whole config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub run: RunConfig,
    pub scheduler: SchedulerConfig,
    pub storage: StorageConfig,
    pub faults: FaultsConfig,
    pub liveness: LivenessConfig,
    /// The workloads, each a `[[workload]]` table. Default: the mix of `default_workloads`.
    #[serde(rename = "workload")]
    pub workloads: Vec<WorkloadConfig>,
    pub swarm: SwarmConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            run: RunConfig::default(),
            scheduler: SchedulerConfig::default(),
            storage: StorageConfig::default(),
            faults: FaultsConfig::default(),
            liveness: LivenessConfig::default(),
            workloads: default_workloads(),
            swarm: SwarmConfig::default(),
        }
    }
}

/// `[run]`: how long and how wide one simulation is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Scheduler decisions to run (a step is one decision). At least 1. Default 200000
    /// (a few seconds in a release build).
    pub steps: u64,
    /// Simulated connections (each a fiber running transactions). 1..=256. Default 4.
    pub connections: u32,
    /// The seed of every random decision. Any u64. Default 0.
    pub seed: u64,
    /// The engine to simulate: `"braid"` (braid-core, built in), `"sqlite"` (SQLite itself;
    /// builds with `--features sqlite`; no I/O faults or crashes). Default `"braid"`.
    pub target: TargetName,
    /// Set by `braid diff --against NAME` (and `fuzz --diff NAME`): run `target` and this
    /// reference side by side, op by op, without faults, comparing every result. Unset
    /// by default (a simulation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_against: Option<TargetName>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            steps: 200_000,
            connections: 4,
            seed: 0,
            target: TargetName::Braid,
            diff_against: None,
        }
    }
}

/// The engines a run can simulate (`src/target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TargetName {
    /// braid-core, the engine in this repository.
    #[default]
    Braid,
    /// SQLite, bundled (cargo feature `sqlite`).
    Sqlite,
    /// Turso's engine, turso_core (cargo feature `turso`).
    Turso,
}

impl TargetName {
    /// Every target, in declaration order.
    pub const ALL: [TargetName; 3] = [TargetName::Braid, TargetName::Sqlite, TargetName::Turso];

    /// The name as written in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TargetName::Braid => "braid",
            TargetName::Sqlite => "sqlite",
            TargetName::Turso => "turso",
        }
    }

    /// Whether this binary was built with the target.
    pub fn available(self) -> bool {
        match self {
            TargetName::Braid => true,
            TargetName::Sqlite => cfg!(feature = "sqlite"),
            TargetName::Turso => cfg!(feature = "turso"),
        }
    }

    /// The target named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<TargetName> {
        TargetName::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Scheduling strategies (one file each in `src/sim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Every enabled event equally likely at each decision.
    Random,
    /// Fibers in turn, I/O completed in order after each step (the baseline).
    RoundRobin,
    /// Probabilistic concurrency testing: random priorities, `pct_depth - 1` change points.
    Pct,
}

impl Strategy {
    /// Every strategy, in declaration order.
    pub const ALL: [Strategy; 3] = [Strategy::Random, Strategy::RoundRobin, Strategy::Pct];

    /// The name as written in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::RoundRobin => "round-robin",
            Strategy::Pct => "pct",
        }
    }
}

/// `[scheduler]`: who runs next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// `"random"`, `"round-robin"` or `"pct"`. Default `"random"`.
    pub strategy: Strategy,
    /// PCT's bug depth d (d - 1 priority change points). 1..=64. Default 3.
    pub pct_depth: u32,
    /// Chance that the engine yields at a yield point it reaches. 0..=1. Default 0.05.
    pub yield_probability: f64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            strategy: Strategy::Random,
            pct_depth: 3,
            yield_probability: 0.05,
        }
    }
}

/// When commits reach stable storage (mirrors the engine's `SyncMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Sync {
    /// Every commit fsyncs the WAL before it is acknowledged.
    #[default]
    Full,
    /// Commits skip the fsync; a crash may lose a suffix of commits.
    Normal,
}

/// `[storage]`: how the database is opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Bytes per page: a power of two in 512..=65536. Default 512 (small pages split often).
    pub page_size: u32,
    /// Pages the shared cache holds. At least 8. Default 64.
    pub cache_pages: u32,
    /// `"full"` or `"normal"`. Default `"full"`.
    pub sync: Sync,
    /// WAL frames after which a commit runs a passive checkpoint; 0 disables. Default 200.
    pub autocheckpoint_frames: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            page_size: 512,
            cache_pages: 64,
            sync: Sync::Full,
            autocheckpoint_frames: 200,
        }
    }
}

/// `[faults]`: what the simulated I/O does wrong, each a probability in `0..=1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultsConfig {
    /// Chance that a submitted read fails. Default 0.001.
    pub read_error: f64,
    /// Chance that a submitted write fails. Default 0.001.
    pub write_error: f64,
    /// Chance that a submitted sync fails. Default 0.0005.
    pub sync_error: f64,
    /// What a failed sync does to the writes it covered, as a file system does (Rebello et
    /// al., USENIX ATC 2020; src/sim/sim_io/mod.rs describes each): `"ext4"` (marked clean
    /// and lost at the next crash, reads still see them), `"xfs"` (as ext4, and the file
    /// system shuts down until the machine restarts), `"btrfs"` (lost, and reads go back
    /// to the durable contents) or `"retry"` (lenient: kept, the next successful sync
    /// makes them durable). Default `"ext4"`, the harshest.
    pub fsync_failure: FsyncFailure,
    /// Chance that a read completes short. Default 0.0005.
    pub short_read: f64,
    /// Chance that a write completes short. Default 0.0005.
    pub short_write: f64,
    /// Chance that an operation is held back before it may complete. Default 0.05.
    pub latency: f64,
    /// Most decisions a held-back operation waits. At least 1. Default 20.
    pub max_latency_decisions: u32,
    /// Chance that a completion group has one member fail. Default 0.001.
    pub group_fail: f64,
    /// Chance that a completion group is cancelled while in flight. Default 0.0005.
    pub group_cancel: f64,
    /// Group labels the two group faults target (e.g. `"commit-frames"`); empty = all.
    pub group_labels: Vec<String>,
    /// Chance, per decision, of a crash (drop everything, lose volatile data, reopen).
    /// Default 0.0001.
    pub crash: f64,
    /// At a crash, chance that each unsynced write is torn at a 512-byte sector boundary
    /// (otherwise it survives whole or is lost, evenly). Default 0.2.
    pub torn_write: f64,
    /// Chance, per decision, that one bit of durable data flips. Must end in `Corrupt`,
    /// never in a wrong answer. Default 0 (off).
    pub bit_flip: f64,
}

impl Default for FaultsConfig {
    fn default() -> Self {
        FaultsConfig {
            read_error: 0.001,
            write_error: 0.001,
            sync_error: 0.0005,
            fsync_failure: FsyncFailure::Ext4,
            short_read: 0.0005,
            short_write: 0.0005,
            latency: 0.05,
            max_latency_decisions: 20,
            group_fail: 0.001,
            group_cancel: 0.0005,
            group_labels: Vec::new(),
            crash: 0.0001,
            torn_write: 0.2,
            bit_flip: 0.0,
        }
    }
}

impl FaultsConfig {
    /// No fault of any kind: what a target without simulated I/O (SQLite's blocking I/O,
    /// an in-memory engine) runs with.
    pub fn none() -> Self {
        FaultsConfig {
            read_error: 0.0,
            write_error: 0.0,
            sync_error: 0.0,
            short_read: 0.0,
            short_write: 0.0,
            latency: 0.0,
            group_fail: 0.0,
            group_cancel: 0.0,
            crash: 0.0,
            torn_write: 0.0,
            bit_flip: 0.0,
            ..FaultsConfig::default()
        }
    }
}

/// Names of the fault probabilities, in declaration order (for messages and swarm mode).
pub const FAULT_KINDS: [&str; 11] = [
    "read_error",
    "write_error",
    "sync_error",
    "short_read",
    "short_write",
    "latency",
    "group_fail",
    "group_cancel",
    "crash",
    "torn_write",
    "bit_flip",
];

impl FaultsConfig {
    /// The probability of each fault kind, named as in `FAULT_KINDS`.
    pub fn probabilities(&self) -> [(&'static str, f64); 11] {
        let values = [
            self.read_error,
            self.write_error,
            self.sync_error,
            self.short_read,
            self.short_write,
            self.latency,
            self.group_fail,
            self.group_cancel,
            self.crash,
            self.torn_write,
            self.bit_flip,
        ];
        std::array::from_fn(|i| (FAULT_KINDS[i], values[i]))
    }

    /// The probability field of the fault kind `name`.
    pub fn probability_mut(&mut self, name: &str) -> Option<&mut f64> {
        let field = match name {
            "read_error" => &mut self.read_error,
            "write_error" => &mut self.write_error,
            "sync_error" => &mut self.sync_error,
            "short_read" => &mut self.short_read,
            "short_write" => &mut self.short_write,
            "latency" => &mut self.latency,
            "group_fail" => &mut self.group_fail,
            "group_cancel" => &mut self.group_cancel,
            "crash" => &mut self.crash,
            "torn_write" => &mut self.torn_write,
            "bit_flip" => &mut self.bit_flip,
            _ => return None,
        };
        Some(field)
    }
}

/// `[liveness]`: when a run counts as stuck.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LivenessConfig {
    /// Decisions without any completed operation, while work remains, before the run fails
    /// as stuck. At least 1. Default 10000.
    pub stuck_decisions: u64,
    /// Times a fiber retries an op that failed with `Busy` before it rolls back. Default 16.
    pub busy_retries: u32,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        LivenessConfig {
            stuck_decisions: 10_000,
            busy_retries: 16,
        }
    }
}

/// One `[[workload]]`: a kind, its weight in the mix, and overrides of its parameters
/// (unset parameters take the kind's defaults; see `braid_workloads::WorkloadParams`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// One of `braid_workloads::KINDS`: register, bank, list-append, counter, churn, scan,
    /// long-reader, checkpoint, integrity. Required.
    pub kind: String,
    /// Relative share of transactions. Default 1; at least one workload above 0.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Keys in the pool (accounts for bank, active lists for list-append). At least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_count: Option<u64>,
    /// Shortest value written, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_bytes_min: Option<u32>,
    /// Longest value written, in bytes; at most page_size / 4. Unset: the kind's default,
    /// capped at page_size / 4 (churn: exactly page_size / 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_bytes_max: Option<u32>,
    /// Fewest ops per transaction. At least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn_ops_min: Option<u32>,
    /// Most ops per transaction. At least `txn_ops_min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn_ops_max: Option<u32>,
    /// Chance that an op (bank, counter: a transaction) only reads. 0..=1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_probability: Option<f64>,
    /// Chance that a transaction begins immediate rather than deferred. 0..=1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immediate_probability: Option<f64>,
    /// Chance that a transaction rolls back instead of committing. 0..=1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_probability: Option<f64>,
    /// bank: initial balance per account; counter: largest increment. At least 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// scan, long-reader: most rows per scan. At least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_limit_max: Option<u32>,
    /// long-reader: most scheduler turns it holds its snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_turns_max: Option<u32>,
    /// list-append: appends per key before it retires. At least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appends_per_key_max: Option<u32>,
}

fn default_weight() -> u32 {
    1
}

impl WorkloadConfig {
    /// A workload of `kind` with `weight` and every parameter at its default.
    pub fn new(kind: &str, weight: u32) -> WorkloadConfig {
        WorkloadConfig {
            kind: kind.to_string(),
            weight,
            key_count: None,
            value_bytes_min: None,
            value_bytes_max: None,
            txn_ops_min: None,
            txn_ops_max: None,
            read_probability: None,
            immediate_probability: None,
            rollback_probability: None,
            amount: None,
            scan_limit_max: None,
            hold_turns_max: None,
            appends_per_key_max: None,
        }
    }
}

/// The workloads of a config that lists none (the mix of `configs/default.toml`).
pub fn default_workloads() -> Vec<WorkloadConfig> {
    [
        ("register", 30),
        ("bank", 20),
        ("list-append", 20),
        ("counter", 10),
        ("churn", 20),
        ("scan", 10),
        ("checkpoint", 5),
        ("integrity", 2),
    ]
    .into_iter()
    .map(|(kind, weight)| WorkloadConfig::new(kind, weight))
    .collect()
}

/// `[swarm]`: swarm testing (Groce et al. 2012). When enabled, each seed runs a random
/// subset of the workloads and fault kinds, with random probabilities within the ranges
/// below. `Config::resolve(seed)` makes that draw and returns a plain config (swarm off),
/// which is what artifacts store, so a failure replays without the swarm draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwarmConfig {
    /// Default false.
    pub enabled: bool,
    /// Chance that each `[[workload]]` takes part (at least one always does). 0..=1.
    /// Default 0.6.
    pub workload_keep: f64,
    /// Chance that each fault kind with a non-zero probability in `[faults]` stays on. Only
    /// such kinds are candidates, so `bit_flip` stays off unless `[faults]` enables it.
    /// 0..=1. Default 0.5.
    pub fault_keep: f64,
    /// `[low, high]` for the probability of a kept I/O or group fault. Default
    /// `[0.0001, 0.01]`.
    pub fault_probability: [f64; 2],
    /// `[low, high]` for the probability of a kept latency fault. Default `[0.01, 0.3]`.
    pub latency_probability: [f64; 2],
    /// `[low, high]` for the probability of a kept crash, per decision. Default
    /// `[0.00001, 0.001]`.
    pub crash_probability: [f64; 2],
    /// `[low, high]` for the probability of a kept torn write, per unsynced write at a
    /// crash. Default `[0.0, 1.0]`.
    pub torn_write_probability: [f64; 2],
    /// `[low, high]` for the probability of a kept bit flip, per decision. Default
    /// `[0.00001, 0.0001]`.
    pub bit_flip_probability: [f64; 2],
    /// `[low, high]` for the yield probability. Default `[0.0, 0.3]`.
    pub yield_probability: [f64; 2],
    /// `[low, high]` for the number of connections, both in 1..=256. Default `[2, 8]`.
    pub connections: [u32; 2],
    /// Strategies to pick from (one per seed). Non-empty. Default all three.
    pub strategies: Vec<Strategy>,
    /// `[low, high]` for PCT's depth, both in 1..=64. Default `[1, 5]`.
    pub pct_depth: [u32; 2],
    /// Sync modes to pick from (one per seed); empty keeps `[storage] sync`. Default empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sync_modes: Vec<Sync>,
    /// `[low, high]` for the page size: a power of two drawn between them (both powers of
    /// two in 512..=65536; every exponent equally likely). Unset keeps `[storage]`'s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<[u32; 2]>,
    /// `[low, high]` for the pages the cache holds, both at least 8. Unset keeps
    /// `[storage]`'s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_pages: Option<[u32; 2]>,
    /// `[low, high]` for the auto-checkpoint interval in WAL frames (0 disables). Unset
    /// keeps `[storage]`'s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autocheckpoint_frames: Option<[u64; 2]>,
    /// What a failed sync does, one per seed from this list (`"ext4"`, `"xfs"`, `"btrfs"`,
    /// `"retry"`); empty keeps `[faults] fsync_failure`. Default empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fsync_failures: Vec<FsyncFailure>,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            enabled: false,
            workload_keep: 0.6,
            fault_keep: 0.5,
            fault_probability: [0.0001, 0.01],
            latency_probability: [0.01, 0.3],
            crash_probability: [0.00001, 0.001],
            torn_write_probability: [0.0, 1.0],
            bit_flip_probability: [0.00001, 0.0001],
            yield_probability: [0.0, 0.3],
            connections: [2, 8],
            strategies: Strategy::ALL.to_vec(),
            pct_depth: [1, 5],
            sync_modes: Vec::new(),
            page_size: None,
            cache_pages: None,
            autocheckpoint_frames: None,
            fsync_failures: Vec::new(),
        }
    }
}

impl SwarmConfig {
    /// The `[low, high]` range for the fault kind `name` and its field name.
    pub fn range_for(&self, name: &str) -> ([f64; 2], &'static str) {
        match name {
            "latency" => (self.latency_probability, "latency_probability"),
            "crash" => (self.crash_probability, "crash_probability"),
            "torn_write" => (self.torn_write_probability, "torn_write_probability"),
            "bit_flip" => (self.bit_flip_probability, "bit_flip_probability"),
            _ => (self.fault_probability, "fault_probability"),
        }
    }
}
