//! `SimYields`: the simulator's answer to the engine's yield points. Each time a state
//! machine reaches a yield point it asks; the answer is drawn from the run's `Choices`
//! (yes with `yield_ppm` parts per million; 0 = do not yield), so injected yields are
//! recorded, replayed and shrunk like every other decision.
//!
//! The engine asks through `&self` from inside a fiber step, so the `Choices` is shared
//! behind a mutex: the loop must not hold that lock while it steps a fiber.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use braid_core::{YieldInjector, YieldPoint};

use super::choices::Choices;

/// Yield injector drawing from a shared `Choices`.
pub struct SimYields {
    choices: Arc<Mutex<Choices>>,
    yield_ppm: u32,
    /// Yields injected, by yield point.
    yielded: Mutex<BTreeMap<YieldPoint, u64>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SimYields {
    /// An injector that yields with `yield_ppm` parts per million at every yield point.
    pub fn new(choices: Arc<Mutex<Choices>>, yield_ppm: u32) -> Self {
        SimYields {
            choices,
            yield_ppm,
            yielded: Mutex::new(BTreeMap::new()),
        }
    }

    /// A value drawn from the run's choices, to seed an engine's own random numbers
    /// (recorded, replayed and shrunk like every other draw).
    pub fn draw_seed(&self) -> u64 {
        lock(&self.choices).draw(u64::MAX)
    }

    /// Yields injected so far, by yield point name, for the run summary.
    pub fn yields_by_point(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.yielded)
            .iter()
            .map(|(point, n)| (point.name(), *n))
            .collect()
    }
}

impl YieldInjector for SimYields {
    fn should_yield(&self, point: YieldPoint) -> bool {
        let yields = lock(&self.choices).chance(self.yield_ppm);
        if yields {
            *lock(&self.yielded).entry(point).or_default() += 1;
        }
        yields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_from_the_shared_tape_and_counts_by_point() {
        let choices = Arc::new(Mutex::new(Choices::replaying(vec![999_999, 0, 999_999])));
        let yields = SimYields::new(choices.clone(), 1);
        assert!(yields.should_yield(YieldPoint::BtreeSplit));
        assert!(!yields.should_yield(YieldPoint::BtreeSplit));
        assert!(yields.should_yield(YieldPoint::LockAcquire));
        assert_eq!(lock(&choices).position(), 3, "every answer is on the tape");
        let counts = yields.yields_by_point();
        assert_eq!(counts.get("btree-split"), Some(&1));
        assert_eq!(counts.get("lock-acquire"), Some(&1));
        let never = SimYields::new(choices.clone(), 0);
        assert!(!never.should_yield(YieldPoint::CommitBeforePublish));
        assert_eq!(
            lock(&choices).position(),
            3,
            "a zero probability draws nothing"
        );
    }
}
