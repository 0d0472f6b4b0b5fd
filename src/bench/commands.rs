//! Benchmarks of whole `braid` commands, run as child processes of this binary so they
//! measure exactly what a user runs: `fuzz --jobs 1` against `--jobs 2` (seeds per second).

use std::path::Path;
use std::process::{Command, Output};

use super::engine::Scratch;
use super::stats::timed;

/// CPU seconds used by the children this process has waited for (`cutime + cstime` of
/// `/proc/self/stat`, in clock ticks of 1/100 s).
fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let cutime: f64 = fields.get(13)?.parse().ok()?;
    let cstime: f64 = fields.get(14)?.parse().ok()?;
    Some((cutime + cstime) / 100.0)
}

/// Runs this binary with `args`; returns its output, the wall seconds it took and the CPU
/// seconds it used (when known).
fn braid_timed(args: &[String]) -> Result<(Output, f64, Option<f64>), String> {
    let cpu_before = children_cpu_seconds();
    let (output, seconds) = braid(args)?;
    let cpu = children_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    Ok((output, seconds, cpu))
}

/// Runs this binary with `args`; returns its output and the wall seconds it took.
fn braid(args: &[String]) -> Result<(Output, f64), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let (output, elapsed) = timed(|| Command::new(&exe).args(args).output());
    let seconds = elapsed.wall_seconds;
    let output = output.map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    // 0: every seed passed, 1: a failure was found; both are measurements.
    match output.status.code() {
        Some(0 | 1) => Ok((output, seconds)),
        _ => Err(format!(
            "braid {} exited with {}: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Campaigns run per job count by `fuzz_scaling`.
const SCALING_ROUNDS: u32 = 3;

/// `fuzz --count seeds --jobs j` for j = 1 and 2, `SCALING_ROUNDS` times; prints seeds/s of
/// each campaign and the speed-up of the fastest of each.
pub fn fuzz_scaling(base: &Path, seeds: u64, steps: Option<u64>) -> Result<f64, String> {
    println!(
        "bench fuzz-scaling: default config, {seeds} seeds per campaign, {SCALING_ROUNDS} rounds \
         of --jobs 1 then --jobs 2; the fastest campaign of each counts"
    );
    // Fastest wall time per job count: a shared virtual machine slows single runs by up to a
    // third at random, and the least time is the one least disturbed.
    let mut fastest = [f64::INFINITY; 2];
    for round in 1..=SCALING_ROUNDS {
        for (slot, jobs) in [1u32, 2].into_iter().enumerate() {
            let scratch = Scratch::new(base, &format!("fuzz-{jobs}"))?;
            let mut args = strings(&["fuzz", "--count"]);
            args.push(seeds.to_string());
            args.extend(strings(&["--jobs", &jobs.to_string(), "--out"]));
            args.push(scratch.dir.display().to_string());
            if let Some(steps) = steps {
                args.extend(strings(&["--steps", &steps.to_string()]));
            }
            let (_, seconds, cpu) = braid_timed(&args)?;
            let rate = seeds as f64 / seconds;
            // CPU seconds per wall second: how many cores the campaign really got.
            let cores = cpu.map_or("unknown".into(), |cpu| format!("{:.2}", cpu / seconds));
            println!(
                "  round {round} --jobs {jobs}: {seeds} seeds in {seconds:.2} s = {rate:.2} \
                 seeds/s (cores busy on average: {cores})"
            );
            fastest[slot] = fastest[slot].min(seconds);
        }
    }
    let speedup = fastest[0] / fastest[1];
    let verdict = if speedup >= 1.8 {
        "reached"
    } else {
        "NOT reached"
    };
    println!(
        "  fastest: --jobs 1 {:.2} s, --jobs 2 {:.2} s; speed-up {speedup:.2}x \
         (target >= 1.8x: {verdict})",
        fastest[0], fastest[1]
    );
    Ok(speedup)
}
