//! Peak memory of a long run: the default config for many decisions (ten million by
//! default), as `braid run` runs it (no tape kept, history and timeline off), with the
//! process's peak resident set (`VmHWM`) read before and after.

use super::decisions::{default_config_with, run_seed};
use super::machine::peak_rss_kib;

/// Decisions of the memory benchmark unless told otherwise.
pub const DEFAULT_STEPS: u64 = 10_000_000;

/// The goal for the peak resident set of a ten-million-decision run.
pub const TARGET_KIB: u64 = 512 * 1024;

/// What the memory benchmark measured.
#[derive(Debug, Clone, Copy)]
pub struct MemorySample {
    pub decisions: u64,
    pub seconds: f64,
    pub peak_before_kib: Option<u64>,
    pub peak_after_kib: Option<u64>,
}

/// Runs `steps` decisions of the default config for `seed` and reports the peak RSS.
pub fn run(seed: u64, steps: Option<u64>) -> MemorySample {
    let steps = steps.unwrap_or(DEFAULT_STEPS);
    let config = default_config_with(Some(steps));
    let peak_before_kib = peak_rss_kib();
    println!("bench memory: default config, seed {seed}, {steps} steps");
    let sample = run_seed(&config, seed);
    let peak_after_kib = peak_rss_kib();
    let mib = |kib: Option<u64>| {
        kib.map_or("unknown".into(), |k| {
            format!("{:.1} MiB", k as f64 / 1024.0)
        })
    };
    println!(
        "  {} decisions, {} ops in {:.1} s ({}); peak RSS before {}, after {}",
        sample.decisions,
        sample.operations,
        sample.seconds,
        if sample.passed {
            "passed"
        } else {
            "FAILED run"
        },
        mib(peak_before_kib),
        mib(peak_after_kib)
    );
    if let Some(peak) = peak_after_kib {
        let verdict = if peak < TARGET_KIB {
            "reached"
        } else {
            "NOT reached"
        };
        println!("  target < 512 MiB: {verdict}");
    }
    MemorySample {
        decisions: sample.decisions,
        seconds: sample.seconds,
        peak_before_kib,
        peak_after_kib,
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::{SimOptions, Simulation};

    use super::*;

    /// A plain run discards its tape as it goes; that must not change a single decision.
    #[test]
    fn a_run_without_a_tape_matches_one_with_it() {
        let config = default_config_with(Some(3_000));
        for seed in [0, 7] {
            let settings = config.resolve(seed).settings().expect("valid");
            let plain = Simulation::new(settings.clone(), seed, SimOptions::default()).run();
            let full = Simulation::new(settings, seed, SimOptions::default()).run_full();
            assert_eq!(plain, full.outcome, "seed {seed}");
            assert!(
                !full.tape.values.is_empty(),
                "run_full still keeps its tape"
            );
        }
    }
}
