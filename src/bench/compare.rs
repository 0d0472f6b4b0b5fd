//! `braid bench engine`: braid's engine on real files, and (with the `sqlite-bench`
//! feature) SQLite on the same scenarios, for sync = full and normal, several rounds each.
//! Figures are the median ops/s over the rounds; ratios are braid over SQLite (above 1
//! means braid is faster).

use std::path::Path;

use braid_core::SyncMode;

use super::engine::{SCENARIOS, ScenarioTime, Sizes, print_times, run_braid, sync_name};
use super::stats::median;

/// Median ops/s per scenario over `rounds`.
fn median_rates(rounds: &[Vec<ScenarioTime>]) -> Vec<f64> {
    (0..SCENARIOS.len())
        .map(|i| {
            let rates: Vec<f64> = rounds.iter().map(|r| r[i].ops_per_second()).collect();
            median(&rates).expect("at least one round")
        })
        .collect()
}

type Runner = fn(&Path, SyncMode, Sizes) -> Result<Vec<ScenarioTime>, String>;

fn engines() -> Vec<(&'static str, Runner)> {
    #[allow(unused_mut)]
    let mut engines: Vec<(&'static str, Runner)> = vec![("braid", run_braid)];
    #[cfg(feature = "sqlite-bench")]
    engines.push(("sqlite", super::sqlite::run_sqlite));
    engines
}

/// Runs every engine for both sync modes, `rounds` times, under `base`; prints the report.
pub fn run(base: &Path, sizes: Sizes, rounds: usize) -> Result<(), String> {
    let rounds = rounds.max(1);
    println!(
        "bench engine: {} single puts, {} txns of 100 puts, {} point gets, {} scans of 100; \
         {rounds} rounds; files under {}",
        sizes.single_puts,
        sizes.batches,
        sizes.gets,
        sizes.scans,
        base.display()
    );
    if !cfg!(feature = "sqlite-bench") {
        println!("  (SQLite comparison not built: rerun with `--features sqlite-bench`)");
    }
    for sync in [SyncMode::Full, SyncMode::Normal] {
        println!("sync = {}:", sync_name(sync));
        let mut medians = Vec::new();
        for (name, runner) in engines() {
            let mut all = Vec::new();
            for round in 0..rounds {
                let times = runner(base, sync, sizes)?;
                print_times(&format!("{name} round {}", round + 1), &times);
                all.push(times);
            }
            medians.push((name, median_rates(&all)));
        }
        println!("  median ops/s:");
        for (i, scenario) in SCENARIOS.iter().enumerate() {
            let cells: Vec<String> = medians
                .iter()
                .map(|(name, rates)| format!("{name} {:>10.0}", rates[i]))
                .collect();
            let ratio = match medians.as_slice() {
                [(_, ours), (_, theirs)] => format!("  braid/sqlite {:.2}x", ours[i] / theirs[i]),
                _ => String::new(),
            };
            println!("    {scenario:<26} {}{ratio}", cells.join("  "));
        }
    }
    Ok(())
}
