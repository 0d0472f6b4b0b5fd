//! Swarm mode (Groce et al. 2012, "Swarm Testing"): instead of running every feature in
//! every test, each seed runs a random subset. Per seed, `Config::resolve` keeps each
//! workload with `workload_keep`, keeps each enabled fault kind with `fault_keep` and draws
//! its probability from the kind's range, and draws connections, strategy, PCT depth and
//! yield probability from their ranges, then the storage settings the config gives ranges
//! for (sync mode, page size, cache size, auto-checkpoint interval, what a failed sync
//! does). Those come last, and only when set, so a config without them draws as before. The draw comes from its own generator seeded by the
//! run seed, not from the run's tape; the result is a plain config with swarm off, which is
//! what failure artifacts store.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::schema::{Config, FAULT_KINDS, SwarmConfig};
use super::settings::{PPM, to_ppm};

/// Separates the swarm draw's stream from any other generator seeded with the same seed.
const SWARM_STREAM: u64 = 0x5357_4152_4d5f_5631;

/// The swarm draw: a seeded generator with bounded integer helpers.
struct SwarmDraw {
    rng: Xoshiro256PlusPlus,
}

impl SwarmDraw {
    fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "a draw needs a positive bound");
        self.rng.next_u64() % bound
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "range [{low}, {high}] was validated");
        low + self.below(high - low + 1)
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.below(u64::from(PPM)) < u64::from(to_ppm(probability))
    }

    /// A probability in `[low, high]`, drawn in whole parts per million.
    fn probability(&mut self, [low, high]: [f64; 2]) -> f64 {
        let ppm = self.between(to_ppm(low).into(), to_ppm(high).into());
        ppm as f64 / f64::from(PPM)
    }
}

impl Config {
    /// The config seed `seed` runs: `run.seed` set to `seed` and, when swarm mode is on, the
    /// swarm draw applied and swarm mode turned off. Deterministic per (config, seed).
    pub fn resolve(&self, seed: u64) -> Config {
        let mut config = self.clone();
        config.run.seed = seed;
        if !self.swarm.enabled {
            return config;
        }
        let swarm = &self.swarm;
        let mut draw = SwarmDraw {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ SWARM_STREAM),
        };

        let mut kept: Vec<_> = self
            .workloads
            .iter()
            .filter(|_| draw.chance(swarm.workload_keep))
            .cloned()
            .collect();
        if kept.iter().all(|workload| workload.weight == 0) {
            let weighted: Vec<_> = self.workloads.iter().filter(|w| w.weight > 0).collect();
            let pick = usize::try_from(draw.below(weighted.len() as u64)).expect("an index");
            kept = vec![weighted[pick].clone()];
        }
        config.workloads = kept;

        for name in FAULT_KINDS {
            let (range, _) = swarm.range_for(name);
            let field = config
                .faults
                .probability_mut(name)
                .expect("every fault kind has a field");
            if *field > 0.0 {
                *field = if draw.chance(swarm.fault_keep) {
                    draw.probability(range)
                } else {
                    0.0
                };
            }
        }

        let [low, high] = swarm.connections;
        config.run.connections =
            u32::try_from(draw.between(low.into(), high.into())).expect("bounded by a u32");
        let pick = usize::try_from(draw.below(swarm.strategies.len() as u64)).expect("an index");
        config.scheduler.strategy = swarm.strategies[pick];
        let [low, high] = swarm.pct_depth;
        config.scheduler.pct_depth =
            u32::try_from(draw.between(low.into(), high.into())).expect("bounded by a u32");
        config.scheduler.yield_probability = draw.probability(swarm.yield_probability);
        draw_storage(&mut config, swarm, &mut draw);
        config.swarm.enabled = false;
        config
    }
}

/// The storage settings `[swarm]` gives ranges or lists for, drawn in a fixed order.
fn draw_storage(config: &mut Config, swarm: &SwarmConfig, draw: &mut SwarmDraw) {
    if !swarm.sync_modes.is_empty() {
        let pick = usize::try_from(draw.below(swarm.sync_modes.len() as u64)).expect("an index");
        config.storage.sync = swarm.sync_modes[pick];
    }
    if let Some([low, high]) = swarm.page_size {
        let exponent = draw.between(low.trailing_zeros().into(), high.trailing_zeros().into());
        config.storage.page_size = 1 << exponent;
    }
    if let Some([low, high]) = swarm.cache_pages {
        config.storage.cache_pages =
            u32::try_from(draw.between(low.into(), high.into())).expect("bounded by a u32");
    }
    if let Some([low, high]) = swarm.autocheckpoint_frames {
        config.storage.autocheckpoint_frames = draw.between(low, high);
    }
    if !swarm.fsync_failures.is_empty() {
        let count = swarm.fsync_failures.len() as u64;
        let pick = usize::try_from(draw.below(count)).expect("an index");
        config.faults.fsync_failure = swarm.fsync_failures[pick];
    }
}
