//! Checks a parsed `Config` against the bounds documented in `schema`. The first problem
//! found is returned, naming the key and what was expected.

use super::error::ConfigError;
use super::schema::{Config, SwarmConfig, TargetName};
use super::settings::workload_params;

/// Checks every field of `config`; `origin` names the file in the error.
pub fn validate(config: &Config, origin: &str) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| Err(ConfigError::at(origin, key, message));
    if config.run.steps == 0 {
        return fail("run.steps", "expected at least 1 step".into());
    }
    if !(1..=256).contains(&config.run.connections) {
        let got = config.run.connections;
        return fail(
            "run.connections",
            format!("expected 1..=256 connections, got {got}"),
        );
    }
    if !(1..=64).contains(&config.scheduler.pct_depth) {
        let got = config.scheduler.pct_depth;
        return fail("scheduler.pct_depth", format!("expected 1..=64, got {got}"));
    }
    probability(
        origin,
        "scheduler.yield_probability",
        config.scheduler.yield_probability,
    )?;
    let page_size = config.storage.page_size;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        let message = format!("expected a power of two in 512..=65536, got {page_size}");
        return fail("storage.page_size", message);
    }
    if config.storage.cache_pages < 8 {
        let got = config.storage.cache_pages;
        return fail(
            "storage.cache_pages",
            format!("expected at least 8 pages, got {got}"),
        );
    }
    for (name, value) in config.faults.probabilities() {
        probability(origin, &format!("faults.{name}"), value)?;
    }
    if config.faults.max_latency_decisions == 0 {
        return fail(
            "faults.max_latency_decisions",
            "expected at least 1 decision".into(),
        );
    }
    for (index, label) in config.faults.group_labels.iter().enumerate() {
        if label.is_empty() {
            return fail(
                &format!("faults.group_labels[{index}]"),
                "expected a group label".into(),
            );
        }
    }
    if config.liveness.stuck_decisions == 0 {
        return fail(
            "liveness.stuck_decisions",
            "expected at least 1 decision".into(),
        );
    }
    validate_workloads(config, origin)?;
    validate_swarm(&config.swarm, origin)?;
    validate_swarm_storage(config, origin)?;
    validate_target(config, origin)
}

/// The target must be in this binary, and a target without simulated I/O (SQLite's is its
/// own and blocking) takes no I/O faults and no crashes.
fn validate_target(config: &Config, origin: &str) -> Result<(), ConfigError> {
    if let Some(reference) = config.run.diff_against
        && !reference.available()
    {
        let message = format!(
            "diffing against {} needs a binary built with `--features {}`",
            reference.name(),
            reference.name()
        );
        return Err(ConfigError::at(origin, "run.diff_against", message));
    }
    if config.run.diff_against == Some(TargetName::Turso) {
        let message = "expected braid or sqlite: turso can be diffed against a reference, not \
                       be one"
            .to_string();
        return Err(ConfigError::at(origin, "run.diff_against", message));
    }
    let target = config.run.target;
    if !target.available() {
        let message = format!(
            "the {} target needs a binary built with `--features {}`",
            target.name(),
            target.name()
        );
        return Err(ConfigError::at(origin, "run.target", message));
    }
    // A diff runs without faults whatever the config says.
    if target == TargetName::Sqlite && config.run.diff_against.is_none() {
        let asked = config
            .faults
            .probabilities()
            .into_iter()
            .find(|(name, value)| *name != "torn_write" && *value > 0.0);
        if let Some((name, value)) = asked {
            let message = format!(
                "expected 0 with target = \"sqlite\" (SQLite does its own blocking I/O: no \
                 I/O faults, no crashes), got {value}"
            );
            return Err(ConfigError::at(origin, format!("faults.{name}"), message));
        }
    }
    Ok(())
}

fn validate_workloads(config: &Config, origin: &str) -> Result<(), ConfigError> {
    if config.workloads.is_empty() {
        return Err(ConfigError::at(
            origin,
            "workload",
            "expected at least one [[workload]]",
        ));
    }
    for (index, workload) in config.workloads.iter().enumerate() {
        if !braid_workloads::KINDS.contains(&workload.kind.as_str()) {
            let message = format!(
                "expected one of {}, got {:?}",
                braid_workloads::KINDS.join(", "),
                workload.kind
            );
            return Err(ConfigError::at(
                origin,
                format!("workload[{index}].kind"),
                message,
            ));
        }
        if let Err((field, message)) = workload_params(workload, config.storage.page_size) {
            return Err(ConfigError::at(
                origin,
                format!("workload[{index}].{field}"),
                message,
            ));
        }
    }
    if config.workloads.iter().all(|workload| workload.weight == 0) {
        let message = "expected at least one workload with a weight above 0";
        return Err(ConfigError::at(origin, "workload", message));
    }
    Ok(())
}

fn validate_swarm(swarm: &SwarmConfig, origin: &str) -> Result<(), ConfigError> {
    probability(origin, "swarm.workload_keep", swarm.workload_keep)?;
    probability(origin, "swarm.fault_keep", swarm.fault_keep)?;
    let ranges = [
        ("fault_probability", swarm.fault_probability),
        ("latency_probability", swarm.latency_probability),
        ("crash_probability", swarm.crash_probability),
        ("torn_write_probability", swarm.torn_write_probability),
        ("bit_flip_probability", swarm.bit_flip_probability),
        ("yield_probability", swarm.yield_probability),
    ];
    for (name, [low, high]) in ranges {
        let key = format!("swarm.{name}");
        probability(origin, &format!("{key}[0]"), low)?;
        probability(origin, &format!("{key}[1]"), high)?;
        if low > high {
            return Err(ConfigError::at(
                origin,
                key,
                format!("expected low <= high, got [{low}, {high}]"),
            ));
        }
    }
    let counts = [
        ("connections", swarm.connections, 256),
        ("pct_depth", swarm.pct_depth, 64),
    ];
    for (name, [low, high], max) in counts {
        if low == 0 || low > high || high > max {
            let message = format!("expected 1 <= low <= high <= {max}, got [{low}, {high}]");
            return Err(ConfigError::at(origin, format!("swarm.{name}"), message));
        }
    }
    if swarm.strategies.is_empty() {
        return Err(ConfigError::at(
            origin,
            "swarm.strategies",
            "expected at least one strategy",
        ));
    }
    Ok(())
}

/// The storage ranges of `[swarm]`: page sizes are powers of two in 512..=65536 that every
/// workload's values fit (at most a quarter page), caches hold at least 8 pages, and every
/// range is `[low, high]` with low <= high.
fn validate_swarm_storage(config: &Config, origin: &str) -> Result<(), ConfigError> {
    let swarm = &config.swarm;
    let fail = |key: &str, message: String| Err(ConfigError::at(origin, key, message));
    if let Some([low, high]) = swarm.page_size {
        let page = |size: u32| (512..=65536).contains(&size) && size.is_power_of_two();
        if !page(low) || !page(high) || low > high {
            let message = format!(
                "expected [low, high], powers of two in 512..=65536 with low <= high, got \
                 [{low}, {high}]"
            );
            return fail("swarm.page_size", message);
        }
        for (index, workload) in config.workloads.iter().enumerate() {
            if let Err((field, message)) = workload_params(workload, low) {
                let message = format!("with the smallest page size of swarm.page_size: {message}");
                return fail(&format!("workload[{index}].{field}"), message);
            }
        }
    }
    if let Some([low, high]) = swarm.cache_pages
        && (low < 8 || low > high)
    {
        let message = format!("expected [low, high] with 8 <= low <= high, got [{low}, {high}]");
        return fail("swarm.cache_pages", message);
    }
    if let Some([low, high]) = swarm.autocheckpoint_frames
        && (low > high || high > u64::from(u32::MAX))
    {
        let message = format!(
            "expected [low, high] with low <= high <= {}, got [{low}, {high}]",
            u32::MAX
        );
        return fail("swarm.autocheckpoint_frames", message);
    }
    Ok(())
}

/// Checks that `value` is a probability (0..=1, not NaN).
pub(crate) fn probability(origin: &str, key: &str, value: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::at(
            origin,
            key,
            format!("expected a probability in 0..=1, got {value}"),
        ))
    }
}
