//! `Settings`: a validated config in the form the simulator reads. Every probability is an
//! integer in parts per million (so no float arithmetic happens during a run), each
//! workload's parameters are complete, and the storage section is ready as `DbOptions`.

use braid_core::{DbOptions, SyncMode};
use braid_workloads::{WorkloadMix, WorkloadParams};

use super::schema::{
    Config, FsyncFailure, LivenessConfig, RunConfig, Strategy, Sync, WorkloadConfig,
};

/// One million: probabilities are integers in `0..=PPM`.
pub const PPM: u32 = 1_000_000;

/// A probability in `0..=1` as parts per million (rounded to nearest).
pub fn to_ppm(probability: f64) -> u32 {
    assert!(
        (0.0..=1.0).contains(&probability),
        "probability {probability} was validated"
    );
    // In range by the assertion, so the cast neither truncates nor wraps.
    (probability * f64::from(PPM)).round() as u32
}

/// The simulator's view of a config.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub run: RunConfig,
    pub strategy: Strategy,
    /// PCT's depth d.
    pub pct_depth: u32,
    /// Chance of yielding at a reached yield point.
    pub yield_ppm: u32,
    pub page_size: usize,
    pub cache_pages: usize,
    pub sync: SyncMode,
    pub autocheckpoint_frames: u64,
    pub faults: FaultSettings,
    pub liveness: LivenessConfig,
    pub workloads: Vec<WorkloadSpec>,
}

/// Fault probabilities in parts per million (meanings as in `FaultsConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSettings {
    pub read_error_ppm: u32,
    pub write_error_ppm: u32,
    pub sync_error_ppm: u32,
    /// What a failed sync does to the writes it covered.
    pub fsync_failure: FsyncFailure,
    pub short_read_ppm: u32,
    pub short_write_ppm: u32,
    pub latency_ppm: u32,
    pub max_latency_decisions: u32,
    pub group_fail_ppm: u32,
    pub group_cancel_ppm: u32,
    /// Group labels the group faults target; empty = every group.
    pub group_labels: Vec<String>,
    pub crash_ppm: u32,
    pub torn_write_ppm: u32,
    pub bit_flip_ppm: u32,
}

impl FaultSettings {
    /// Whether group faults may hit a group labelled `label`.
    pub fn targets_group(&self, label: &str) -> bool {
        self.group_labels.is_empty() || self.group_labels.iter().any(|l| l == label)
    }
}

/// One workload with complete parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadSpec {
    pub kind: String,
    pub weight: u32,
    pub params: WorkloadParams,
}

impl Settings {
    /// Settings from a config that passed validation (`load`/`parse` guarantee it).
    pub fn new(config: &Config) -> Settings {
        let faults = &config.faults;
        let page_size = config.storage.page_size;
        let workloads = config
            .workloads
            .iter()
            .map(|workload| WorkloadSpec {
                kind: workload.kind.clone(),
                weight: workload.weight,
                params: workload_params(workload, page_size).expect("validated workload"),
            })
            .collect();
        Settings {
            run: config.run.clone(),
            strategy: config.scheduler.strategy,
            pct_depth: config.scheduler.pct_depth,
            yield_ppm: to_ppm(config.scheduler.yield_probability),
            page_size: usize::try_from(page_size).expect("at most 65536"),
            cache_pages: usize::try_from(config.storage.cache_pages).expect("a u32 fits"),
            sync: match config.storage.sync {
                Sync::Full => SyncMode::Full,
                Sync::Normal => SyncMode::Normal,
            },
            autocheckpoint_frames: config.storage.autocheckpoint_frames,
            faults: FaultSettings {
                read_error_ppm: to_ppm(faults.read_error),
                write_error_ppm: to_ppm(faults.write_error),
                sync_error_ppm: to_ppm(faults.sync_error),
                fsync_failure: faults.fsync_failure,
                short_read_ppm: to_ppm(faults.short_read),
                short_write_ppm: to_ppm(faults.short_write),
                latency_ppm: to_ppm(faults.latency),
                max_latency_decisions: faults.max_latency_decisions,
                group_fail_ppm: to_ppm(faults.group_fail),
                group_cancel_ppm: to_ppm(faults.group_cancel),
                group_labels: faults.group_labels.clone(),
                crash_ppm: to_ppm(faults.crash),
                torn_write_ppm: to_ppm(faults.torn_write),
                bit_flip_ppm: to_ppm(faults.bit_flip),
            },
            liveness: config.liveness.clone(),
            workloads,
        }
    }

    /// Engine options for these settings (no canary, no yield injector: the simulator
    /// installs those).
    pub fn db_options(&self) -> DbOptions {
        DbOptions {
            page_size: self.page_size,
            cache_pages: self.cache_pages,
            sync: self.sync,
            autocheckpoint_frames: self.autocheckpoint_frames,
            ..DbOptions::default()
        }
    }

    /// The weighted workload mix. Workload `i` writes keys under the prefix `w<i>.<kind>/`.
    pub fn workload_mix(&self) -> WorkloadMix {
        let entries = self
            .workloads
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                let prefix = format!("w{index}.{}/", spec.kind);
                let workload = braid_workloads::build(&spec.kind, prefix, spec.params.clone())
                    .expect("validated kind");
                (spec.weight, workload)
            })
            .collect();
        WorkloadMix::new(entries)
    }
}

/// The complete parameters of one `[[workload]]`: the kind's defaults with the config's
/// overrides. An error names the field and what was expected.
pub fn workload_params(
    workload: &WorkloadConfig,
    page_size: u32,
) -> Result<WorkloadParams, (&'static str, String)> {
    let Some(mut params) = WorkloadParams::for_kind(&workload.kind) else {
        return Err((
            "kind",
            format!("expected a workload kind, got {:?}", workload.kind),
        ));
    };
    let value_limit = usize::try_from(page_size / 4).expect("fits");
    params.value_bytes_max = match workload.value_bytes_max {
        Some(max) => usize::try_from(max).expect("fits"),
        None if workload.kind == "churn" => value_limit,
        None => params.value_bytes_max.min(value_limit),
    };
    if params.value_bytes_max > value_limit {
        let message = format!(
            "expected at most page_size / 4 = {value_limit} bytes, got {}",
            params.value_bytes_max
        );
        return Err(("value_bytes_max", message));
    }
    params.value_bytes_min = match workload.value_bytes_min {
        Some(min) => usize::try_from(min).expect("fits"),
        None => params.value_bytes_min.min(params.value_bytes_max),
    };
    let probabilities = [
        (
            "read_probability",
            workload.read_probability,
            &mut params.read_ppm,
        ),
        (
            "immediate_probability",
            workload.immediate_probability,
            &mut params.immediate_ppm,
        ),
        (
            "rollback_probability",
            workload.rollback_probability,
            &mut params.rollback_ppm,
        ),
    ];
    for (name, value, slot) in probabilities {
        if let Some(value) = value {
            if !(0.0..=1.0).contains(&value) {
                return Err((
                    name,
                    format!("expected a probability in 0..=1, got {value}"),
                ));
            }
            *slot = to_ppm(value);
        }
    }
    override_with(&mut params.key_count, workload.key_count);
    override_with(&mut params.txn_ops_min, workload.txn_ops_min);
    override_with(&mut params.txn_ops_max, workload.txn_ops_max);
    override_with(&mut params.amount, workload.amount);
    if let Some(limit) = workload.scan_limit_max {
        params.scan_limit_max = usize::try_from(limit).expect("fits");
    }
    override_with(&mut params.hold_turns_max, workload.hold_turns_max);
    override_with(
        &mut params.appends_per_key_max,
        workload.appends_per_key_max,
    );
    params.validate().map_err(|message| {
        let field = field_of(&message);
        (
            field,
            message
                .split_once(": ")
                .map_or(message.clone(), |(_, rest)| rest.to_string()),
        )
    })?;
    Ok(params)
}

fn override_with<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// The config field a `WorkloadParams::validate` message is about (it starts with it).
fn field_of(message: &str) -> &'static str {
    const FIELDS: [&str; 9] = [
        "key_count",
        "value_bytes_min",
        "txn_ops_min",
        "scan_limit_max",
        "appends_per_key_max",
        "amount",
        "read_ppm",
        "immediate_ppm",
        "rollback_ppm",
    ];
    let name = message.split(':').next().unwrap_or_default();
    match FIELDS.iter().find(|field| **field == name) {
        Some(&"read_ppm") => "read_probability",
        Some(&"immediate_ppm") => "immediate_probability",
        Some(&"rollback_ppm") => "rollback_probability",
        Some(field) => field,
        None => "parameters",
    }
}
