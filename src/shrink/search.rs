//! The search phase of shrinking: fresh runs under simpler configs, looking for a failure of
//! the same kind in fewer decisions than the current one.
//!
//! Editing the tape cannot make some failures small: a failure that needs the page cache to
//! fill, or a long write-ahead log before a crash, needs that much run before it, whatever
//! the interleaving. A smaller cache, earlier checkpoints or more frequent crashes make the
//! same bug appear far sooner, but replaying the old tape under such a config usually fails
//! differently (or earlier with another kind). So, as Hypothesis keeps the smallest failing
//! example it has seen, the search tries new seeds under config variants — fewer
//! connections, a smaller cache, earlier checkpoints, fewer or more crash-prone faults, a
//! subset of the workloads, a short step budget — and adopts any run that fails with the
//! same kind in fewer decisions (and no more operations). The passes then shrink the
//! adopted run's tape as usual.
//!
//! The variants and seeds come from a generator seeded by the failure's seed, and each
//! search stops after a fixed number of attempts without an improvement, so a shrink that
//! is not cut short by its time limit is deterministic.
//!
//! A caveat, as in every shrinker that explores: an adopted run fails the same way but may
//! do so through another bug of the engine than the original run. `braid shrink
//! --no-search` keeps to the original interleaving.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{Shrinker, normalize};
use crate::config::{Config, FAULT_KINDS};
use crate::sim::{Choices, SimOptions};

/// Separates the search's generator from any other seeded with the failure's seed.
const SEARCH_STREAM: u64 = 0x5348_5249_4e4b_5352;

/// A search gives up after this many attempts in a row that found nothing smaller.
const PATIENCE: u64 = 1500;

/// The fewest steps a search run is given.
const MIN_STEPS: u64 = 10;

/// Step budgets of search runs, as fractions (numerator, denominator) of the current
/// failure's decisions: most runs are much shorter than the failure, so they are cheap
/// and anything they find is a big step down.
const STEP_FRACTIONS: [(u64, u64); 4] = [(1, 20), (1, 10), (1, 4), (1, 2)];

/// Page cache sizes tried (never more than the current one).
const CACHE_PAGES: [u32; 3] = [8, 16, 32];

/// Auto-checkpoint thresholds tried, in frames (never more than the current one).
const CHECKPOINT_FRAMES: [u64; 3] = [2, 8, 32];

/// Crash probabilities are raised by one of these factors, up to `MAX_CRASH`.
const CRASH_FACTORS: [f64; 2] = [10.0, 100.0];
const MAX_CRASH: f64 = 0.01;

/// Searches until `until`, the shrink's own deadline, or `PATIENCE` attempts in a row
/// without an improvement. Returns whether a smaller failure was adopted.
pub(crate) fn search(s: &mut Shrinker<'_>, until: Instant, round: u64) -> bool {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(s.seed ^ SEARCH_STREAM ^ round);
    let mut changed = false;
    let mut fruitless = 0;
    while fruitless < PATIENCE && Instant::now() < until && !s.out_of_time() {
        fruitless += 1;
        let seed = rng.next_u64();
        let Some(config) = variant(&s.config, s.outcome.stats.decisions, seed, &mut rng) else {
            continue;
        };
        if try_seed(s, config, seed) {
            changed = true;
            fruitless = 0;
        }
    }
    changed
}

/// Runs `seed` under `config`; adopts the run if it fails with the current kind in fewer
/// decisions than the current failure.
fn try_seed(s: &mut Shrinker<'_>, config: Config, seed: u64) -> bool {
    s.tried += 1;
    let settings = config
        .settings()
        .expect("variants are validated before they run");
    let options = SimOptions {
        canary: s.canary,
        ..SimOptions::default()
    };
    let (run, structure) =
        crate::target::simulate_structured(settings, seed, Choices::recording(seed), options);
    let what = format!(
        "search: seed {seed} ({} connections, cache {} pages, checkpoint every {} frames, {} \
         workloads)",
        config.run.connections,
        config.storage.cache_pages,
        config.storage.autocheckpoint_frames,
        config.workloads.len(),
    );
    let smaller = run.outcome.stats.decisions < s.outcome.stats.decisions
        && run.outcome.stats.operations <= s.outcome.stats.operations;
    if !s.fails_same_way(&run.outcome) || !smaller {
        s.report(&what, false);
        return false;
    }
    s.adopt(config, normalize(run.tape), run.outcome, structure);
    s.report(&what, true);
    s.cap_steps();
    true
}

/// A simpler variant of `config` for one search run, or `None` if the draw made an invalid
/// config. Every knob only ever moves toward a smaller failure.
fn variant(
    config: &Config,
    decisions: u64,
    seed: u64,
    rng: &mut Xoshiro256PlusPlus,
) -> Option<Config> {
    let mut variant = config.clone();
    variant.run.seed = seed;

    let (num, den) = STEP_FRACTIONS[pick(rng, STEP_FRACTIONS.len())];
    variant.run.steps = (decisions * num / den).max(MIN_STEPS);

    let connections = u64::from(config.run.connections);
    variant.run.connections = u32::try_from(1 + below(rng, connections)).ok()?;

    variant.storage.cache_pages = at_most(rng, &CACHE_PAGES, config.storage.cache_pages);
    variant.storage.autocheckpoint_frames = at_most(
        rng,
        &CHECKPOINT_FRAMES,
        config.storage.autocheckpoint_frames,
    );

    match below(rng, 4) {
        // Only crashes (and torn writes at a crash) stay.
        0 => {
            for name in FAULT_KINDS {
                if !matches!(name, "crash" | "torn_write") {
                    *variant.faults.probability_mut(name)? = 0.0;
                }
            }
        }
        // Crashes made more frequent.
        1 if config.faults.crash > 0.0 => {
            let factor = CRASH_FACTORS[pick(rng, CRASH_FACTORS.len())];
            variant.faults.crash = (config.faults.crash * factor).min(MAX_CRASH);
        }
        // No faults at all.
        2 => {
            for name in FAULT_KINDS {
                *variant.faults.probability_mut(name)? = 0.0;
            }
        }
        _ => {}
    }

    let kept: Vec<_> = config
        .workloads
        .iter()
        .filter(|_| below(rng, 10) < 6)
        .cloned()
        .collect();
    if kept.iter().any(|workload| workload.weight > 0) {
        variant.workloads = kept;
    }

    variant.validate("shrink search").ok()?;
    Some(variant)
}

/// One of the `options` below `current`, or `current` itself, with equal chances.
fn at_most<T: Copy + PartialOrd>(rng: &mut Xoshiro256PlusPlus, options: &[T], current: T) -> T {
    let mut choices: Vec<T> = options.iter().copied().filter(|&o| o < current).collect();
    choices.push(current);
    choices[pick(rng, choices.len())]
}

fn below(rng: &mut Xoshiro256PlusPlus, bound: u64) -> u64 {
    rng.next_u64() % bound
}

fn pick(rng: &mut Xoshiro256PlusPlus, len: usize) -> usize {
    usize::try_from(below(rng, len as u64)).expect("an index below a length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_config;

    #[test]
    fn variants_only_simplify_and_are_valid() {
        let config = default_config();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut seen_fewer_connections = false;
        let mut seen_smaller_cache = false;
        for seed in 0..200 {
            let Some(v) = variant(&config, 10_000, seed, &mut rng) else {
                continue;
            };
            assert!(v.validate("test").is_ok());
            assert_eq!(v.run.seed, seed);
            assert!(
                v.run.steps <= 5_000 && v.run.steps >= 500,
                "{}",
                v.run.steps
            );
            assert!(v.run.connections >= 1 && v.run.connections <= config.run.connections);
            assert!(v.storage.cache_pages <= config.storage.cache_pages);
            assert!(v.storage.autocheckpoint_frames <= config.storage.autocheckpoint_frames);
            assert!(v.faults.crash <= MAX_CRASH.max(config.faults.crash));
            assert!(!v.workloads.is_empty() && v.workloads.len() <= config.workloads.len());
            for (name, p) in v.faults.probabilities() {
                if name != "crash" {
                    let before = config.faults.probabilities();
                    let original = before.iter().find(|(n, _)| *n == name).expect("a kind").1;
                    assert!(p <= original, "{name} raised from {original} to {p}");
                }
            }
            seen_fewer_connections |= v.run.connections < config.run.connections;
            seen_smaller_cache |= v.storage.cache_pages < config.storage.cache_pages;
        }
        assert!(seen_fewer_connections && seen_smaller_cache);
    }

    #[test]
    fn variants_are_deterministic_per_generator_seed() {
        let config = default_config();
        let draw = |seed: u64| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            (0..20)
                .map(|s| variant(&config, 1_000, s, &mut rng).map(|v| crate::config::to_toml(&v)))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }
}
