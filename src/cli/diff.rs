//! `braid diff [CONFIG] --against NAME`: one schedule on the target and a reference side
//! by side, every op's result compared (src/diff). Exit 0 when every result agreed, 1 at
//! the first divergence (with a failure directory that `braid replay` reproduces and
//! `braid shrink` reduces), 2 for bad arguments or config.

use std::path::PathBuf;

use super::run::{apply_target, resolve_config};
use super::{EXIT_FAILURE_FOUND, EXIT_INTERNAL, EXIT_PASS, EXIT_USAGE};
use crate::artifacts::{FailureRecord, write_failure_dir};
use crate::config::TargetName;
use crate::sim::{Choices, SimOptions};
use crate::target::simulate;

/// The arguments of `braid diff`.
#[derive(Debug, Clone)]
pub struct DiffArgs {
    pub config: Option<PathBuf>,
    pub against: String,
    pub seed: Option<u64>,
    pub steps: Option<u64>,
    pub connections: Option<u32>,
    pub target: Option<String>,
    pub out: PathBuf,
    pub canary: Option<String>,
}

fn usage_error(message: &str) -> i32 {
    eprintln!("braid diff: {message}");
    EXIT_USAGE
}

/// Runs `braid diff`; returns the exit code.
pub fn run(args: &DiffArgs) -> i32 {
    let canary = match super::run::parse_canary(args.canary.as_deref()) {
        Ok(canary) => canary,
        Err(message) => return usage_error(&message),
    };
    let (mut config, seed) = match resolve_config(
        args.config.as_deref(),
        args.seed,
        args.steps,
        args.connections,
        None,
        None,
    ) {
        Ok(resolved) => resolved,
        Err(message) => return usage_error(&message),
    };
    let Some(reference) = TargetName::from_name(&args.against) else {
        let names: Vec<_> = TargetName::ALL.iter().map(|t| t.name()).collect();
        return usage_error(&format!(
            "--against {}: expected one of {}",
            args.against,
            names.join(", ")
        ));
    };
    if let Err(message) = apply_target(&mut config, args.target.as_deref()) {
        return usage_error(&message);
    }
    config.run.diff_against = Some(reference);
    let origin = args
        .config
        .as_ref()
        .map_or("<default>".to_string(), |p| p.display().to_string());
    if let Err(err) = config.validate(&origin) {
        return usage_error(&err.to_string());
    }
    let settings = match config.settings() {
        Ok(settings) => settings,
        Err(err) => return usage_error(&err.to_string()),
    };
    println!(
        "braid diff: {} against {}, seed {seed}, {} connections, {} steps",
        config.run.target.name(),
        reference.name(),
        config.run.connections,
        config.run.steps
    );
    let options = SimOptions {
        canary,
        record_timeline: true,
        ..SimOptions::default()
    };
    let run = simulate(settings, seed, Choices::recording(seed), options);
    let outcome = &run.outcome;
    println!(
        "compared {} ops in {} transactions ({} commits)",
        outcome.stats.operations, outcome.stats.transactions, outcome.stats.commits
    );
    let reconciled = outcome
        .stats
        .aborts
        .get(crate::diff::WAL_RESET_REFUSAL)
        .copied()
        .unwrap_or(0);
    if reconciled > 0 {
        println!(
            "reconciled: {reconciled} writes the reference refused after a WAL reset \
             (an intended difference, see the README)"
        );
    }
    let Some(failure) = &outcome.failure else {
        println!("result: every result agreed");
        println!("trace-hash={}", outcome.trace_hash);
        return EXIT_PASS;
    };
    println!("result: {} at step {}", failure.kind, failure.step);
    println!("{}", failure.message);
    let dir = args.out.join(format!("seed-{seed}"));
    let record = match FailureRecord::new(&config, canary, outcome) {
        Ok(record) => record,
        Err(err) => {
            eprintln!("braid diff: {err}");
            return EXIT_INTERNAL;
        }
    };
    if let Err(err) = write_failure_dir(&dir, &record, &run) {
        eprintln!("braid diff: cannot write {}: {err}", dir.display());
        return EXIT_INTERNAL;
    }
    println!(
        "failure directory: {} (braid replay / braid shrink it)",
        dir.display()
    );
    println!("trace-hash={}", outcome.trace_hash);
    EXIT_FAILURE_FOUND
}
