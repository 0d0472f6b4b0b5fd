//! Shrink reduction and time per canary (`braid bench shrink`, a binary built with
//! `--features canaries`): for each canary, the first failing seeds of the default config
//! (as `braid fuzz --canary NAME` finds them, seeds 0, 1, 2, ...) are shrunk in turn with a
//! time limit. One row per failure: operations before and after, the operations of the
//! hand-written reproduction (`tests/regressions/hand-NAME.toml`), decisions before and
//! after, and the wall time; then the median time per canary and over every failure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use braid_core::Canary;

use super::engine::Scratch;
use super::stats::median;
use crate::artifacts::FailureArtifact;
use crate::campaign::{run_seed, seed_dir};
use crate::config::{self, Config};
use crate::shrink::{ShrinkOptions, Shrunk, shrink_with};
use crate::sim::{FailureKind, SimOptions, Simulation};

/// Seeds tried per canary before giving up on finding enough failures.
const SEEDS_TRIED: u64 = 64;

/// One shrunk failure.
#[derive(Debug, Clone)]
pub struct Row {
    pub canary: Canary,
    pub seed: u64,
    pub kind: FailureKind,
    pub shrunk: Shrunk,
}

/// The hand-written reproduction of `canary`, if there is one: its failure kind and the
/// operations its run takes.
pub fn by_hand(canary: Canary) -> Option<(FailureKind, u64)> {
    let path = hand_case(canary);
    let text = std::fs::read_to_string(&path).ok()?;
    let case: toml::Table = toml::from_str(&text).ok()?;
    let seed = u64::try_from(case.get("seed")?.as_integer()?).ok()?;
    let config = config::parse(case.get("config")?.as_str()?, &path.display().to_string()).ok()?;
    let options = SimOptions {
        canary: Some(canary),
        ..SimOptions::default()
    };
    let outcome = Simulation::new(config.settings().ok()?, seed, options).run();
    let failure = outcome.failure?;
    Some((failure.kind, outcome.stats.operations))
}

/// Where the hand-written reproduction of `canary` lives.
pub fn hand_case(canary: Canary) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/regressions")
        .join(format!("hand-{}.toml", canary.name()))
}

/// The first `count` failing seeds of `canary` under `config`, each shrunk for at most
/// `time`. Failure directories go to a scratch directory under `base`.
pub fn measure(
    base: &Path,
    config: &Config,
    canary: Canary,
    count: usize,
    time: Duration,
) -> Result<Vec<Row>, String> {
    let scratch = Scratch::new(base, &format!("shrink-{}", canary.name()))?;
    let mut rows = Vec::new();
    for seed in 0..SEEDS_TRIED {
        if rows.len() >= count {
            break;
        }
        let result = run_seed(config, seed, Some(canary), &scratch.dir);
        if result.record.failure.is_none() {
            continue;
        }
        let dir = seed_dir(&scratch.dir, seed);
        let artifact = FailureArtifact::load(&dir).map_err(|e| e.to_string())?;
        let options = ShrinkOptions::new(time);
        let shrunk = shrink_with(&artifact, options, &mut |_| {}).map_err(|e| e.to_string())?;
        rows.push(Row {
            canary,
            seed,
            kind: artifact.record.kind,
            shrunk,
        });
    }
    Ok(rows)
}

/// Every canary: prints the table (markdown) and the medians.
pub fn run(base: &Path, count: usize, time: Duration, steps: Option<u64>) -> Result<(), String> {
    if !cfg!(feature = "canaries") {
        return Err("needs a binary built with `--features canaries`".into());
    }
    let mut config = config::default_config();
    if let Some(steps) = steps {
        config.run.steps = steps;
    }
    println!(
        "bench shrink: default config ({} steps), the first {count} failing seeds per canary, \
         each shrunk for at most {} s",
        config.run.steps,
        time.as_secs()
    );
    println!(
        "| canary | seed | kind | operations before → after | by hand | decisions before → \
         after | % of decisions | shrink s |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut all_seconds = Vec::new();
    let mut medians = Vec::new();
    for canary in Canary::ALL {
        let hand = by_hand(canary);
        let rows = measure(base, &config, canary, count, time)?;
        let mut seconds = Vec::new();
        for row in &rows {
            let (before, after) = (&row.shrunk.before, &row.shrunk.after);
            let hand = hand
                .as_ref()
                .map_or("-".into(), |(kind, ops)| format!("{ops} ({kind})"));
            let elapsed = row.shrunk.elapsed.as_secs_f64();
            println!(
                "| {} | {} | {} | {} → {} | {hand} | {} → {} | {:.2}% | {elapsed:.1}{} |",
                canary.name(),
                row.seed,
                row.kind,
                before.operations,
                after.operations,
                before.decisions,
                after.decisions,
                100.0 * after.decisions as f64 / before.decisions.max(1) as f64,
                if row.shrunk.fixed_point {
                    ""
                } else {
                    " (limit)"
                }
            );
            seconds.push(elapsed);
        }
        all_seconds.extend_from_slice(&seconds);
        medians.push((canary, median(&seconds)));
    }
    println!();
    for (canary, seconds) in medians {
        let seconds = seconds.map_or("-".into(), |s| format!("{s:.1} s"));
        println!("  {:<24} median shrink time {seconds}", canary.name());
    }
    let overall = median(&all_seconds).map_or("-".into(), |s| format!("{s:.1} s"));
    println!("  every failure: median shrink time {overall}");
    Ok(())
}
