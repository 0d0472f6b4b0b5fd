//! `braid run`: one simulation from a config (or the built-in default), with a summary and
//! the trace hash as the last line.

use std::path::{Path, PathBuf};

use crate::artifacts;
use crate::cli::{EXIT_FAILURE_FOUND, EXIT_INTERNAL, EXIT_PASS, EXIT_USAGE};
use crate::config::{self, Config, Strategy, TargetName};
use crate::sim::{Choices, Outcome, SimOptions};
use crate::target::{simulate, simulate_outcome};

/// What `braid run` was asked for.
#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    pub config: Option<PathBuf>,
    pub seed: Option<u64>,
    pub steps: Option<u64>,
    pub connections: Option<u32>,
    pub strategy: Option<String>,
    pub json: Option<PathBuf>,
    pub canary: Option<String>,
    pub check_determinism: bool,
    /// Where to write the Elle transaction-form history (`--history`).
    pub history: Option<PathBuf>,
    /// `--target NAME`.
    pub target: Option<String>,
}

/// Applies `--target NAME` to `config`; the validation that follows checks the binary has
/// it and the config suits it.
pub fn apply_target(config: &mut Config, name: Option<&str>) -> Result<(), String> {
    let Some(name) = name else { return Ok(()) };
    config.run.target = TargetName::from_name(name).ok_or_else(|| {
        let names: Vec<_> = TargetName::ALL.iter().map(|t| t.name()).collect();
        format!("--target {name}: expected one of {}", names.join(", "))
    })?;
    Ok(())
}

/// Loads the config named on the command line (or the default) and applies overrides.
/// Errors are user-facing messages (exit code 2).
pub fn resolve_config(
    path: Option<&Path>,
    seed: Option<u64>,
    steps: Option<u64>,
    connections: Option<u32>,
    strategy: Option<&str>,
    target: Option<&str>,
) -> Result<(Config, u64), String> {
    let mut config = match path {
        Some(path) => config::load(path).map_err(|e| e.to_string())?,
        None => config::default_config(),
    };
    let seed = seed.unwrap_or(config.run.seed);
    config = config.resolve(seed);
    if let Some(steps) = steps {
        config.run.steps = steps;
    }
    if let Some(connections) = connections {
        config.run.connections = connections;
    }
    if let Some(name) = strategy {
        config.scheduler.strategy = Strategy::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                format!("--strategy {name}: expected one of random, round-robin, pct")
            })?;
    }
    apply_target(&mut config, target)?;
    let origin = path.map_or("<default>".to_string(), |p| p.display().to_string());
    config.validate(&origin).map_err(|e| e.to_string())?;
    Ok((config, seed))
}

/// Parses `--canary NAME` (only in builds with the `canaries` feature).
pub fn parse_canary(name: Option<&str>) -> Result<Option<braid_core::Canary>, String> {
    let Some(name) = name else { return Ok(None) };
    if !cfg!(feature = "canaries") {
        return Err("--canary needs a binary built with `--features canaries`".into());
    }
    braid_core::Canary::from_name(name)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<_> = braid_core::Canary::ALL.iter().map(|c| c.name()).collect();
            format!(
                "--canary {name}: unknown canary; expected one of {}",
                names.join(", ")
            )
        })
}

/// The one-line command that reproduces a run.
pub fn repro_command(args: &RunArgs, seed: u64) -> String {
    let mut line = String::from("braid run");
    if let Some(path) = &args.config {
        line.push_str(&format!(" {}", path.display()));
    }
    line.push_str(&format!(" --seed {seed}"));
    if let Some(steps) = args.steps {
        line.push_str(&format!(" --steps {steps}"));
    }
    if let Some(connections) = args.connections {
        line.push_str(&format!(" --connections {connections}"));
    }
    if let Some(strategy) = &args.strategy {
        line.push_str(&format!(" --strategy {strategy}"));
    }
    if let Some(canary) = &args.canary {
        line.push_str(&format!(" --canary {canary}"));
    }
    if let Some(target) = &args.target {
        line.push_str(&format!(" --target {target}"));
    }
    line
}

/// Runs `braid run`; returns the exit code.
pub fn run(args: &RunArgs) -> i32 {
    if args.canary.as_deref() == Some("list") {
        for canary in braid_core::Canary::ALL {
            println!("{}", canary.name());
        }
        return EXIT_PASS;
    }
    let canary = match parse_canary(args.canary.as_deref()) {
        Ok(canary) => canary,
        Err(message) => return usage_error(&message),
    };
    let (config, seed) = match resolve_config(
        args.config.as_deref(),
        args.seed,
        args.steps,
        args.connections,
        args.strategy.as_deref(),
        args.target.as_deref(),
    ) {
        Ok(resolved) => resolved,
        Err(message) => return usage_error(&message),
    };
    println!(
        "braid run: target {}, seed {seed}, strategy {}, {} connections, {} steps",
        config.run.target.name(),
        config.scheduler.strategy.name(),
        config.run.connections,
        config.run.steps
    );
    println!("reproduce: {}", repro_command(args, seed));
    let settings = match config.settings() {
        Ok(settings) => settings,
        Err(err) => return usage_error(&err.to_string()),
    };
    let options = SimOptions {
        canary,
        ..SimOptions::default()
    };
    let (outcome, txn_history) = if args.history.is_some() {
        let recording = SimOptions {
            record_history: true,
            ..options.clone()
        };
        let run = simulate(settings.clone(), seed, Choices::recording(seed), recording);
        (run.outcome, run.txn_history)
    } else {
        (
            simulate_outcome(settings.clone(), seed, options.clone()),
            None,
        )
    };
    if args.check_determinism {
        let again = simulate_outcome(settings, seed, options);
        if again.trace_hash != outcome.trace_hash {
            eprintln!(
                "braid run: NOT DETERMINISTIC: trace hash {} then {} for seed {seed}",
                outcome.trace_hash, again.trace_hash
            );
            return EXIT_INTERNAL;
        }
        println!("determinism: two runs gave the same trace hash");
    }
    print_summary(&outcome);
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&outcome).expect("an outcome serializes");
        if let Err(err) = std::fs::write(path, json + "\n") {
            eprintln!("braid run: cannot write {}: {err}", path.display());
            return EXIT_INTERNAL;
        }
    }
    if let (Some(path), Some(history)) = (&args.history, &txn_history) {
        if let Err(err) = artifacts::write_file_atomic(path, &history.to_edn()) {
            eprintln!("braid run: cannot write {}: {err}", path.display());
            return EXIT_INTERNAL;
        }
        println!(
            "history: {} list-append transactions in Elle's form in {}{}",
            history.txn_count(),
            path.display(),
            if history.txn_count() == 0 {
                " (the config runs no list-append workload)"
            } else {
                ""
            }
        );
    }
    println!("trace-hash={}", outcome.trace_hash);
    if outcome.passed() {
        EXIT_PASS
    } else {
        EXIT_FAILURE_FOUND
    }
}

fn usage_error(message: &str) -> i32 {
    eprintln!("braid run: {message}");
    EXIT_USAGE
}

/// Prints the end-of-run summary (everything but the trace hash).
pub fn print_summary(outcome: &Outcome) {
    let s = &outcome.stats;
    println!(
        "decisions {}  operations {}  transactions {}  commits {}  crashes {}  recoveries {}  \
         injected yields {}  busy retries {}",
        s.decisions,
        s.operations,
        s.transactions,
        s.commits,
        s.crashes,
        s.recoveries,
        s.injected_yields,
        s.busy_retries
    );
    println!("aborts by reason: {}", join_counts(&s.aborts));
    println!("faults by kind: {}", join_counts(&s.faults));
    println!("faults by group label: {}", join_counts(&s.group_faults));
    match &outcome.failure {
        None => println!("result: PASS"),
        Some(failure) => {
            println!("result: FAILURE {} at step {}", failure.kind, failure.step);
            println!("  {}", failure.message);
        }
    }
}

fn join_counts(counts: &std::collections::BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
