//! `ShuffleIO`: an in-memory test backend that stresses re-entrancy. Every operation
//! stays pending until `step()`, which completes one pending operation chosen by a
//! seeded generator; its yield injector answers yield points at random. Used by the
//! engine's property tests and reusable by anything that wants a hostile but correct I/O.

use std::sync::{Arc, Mutex};

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::completion::lock;
use super::memory::{MemoryStore, is_cancelled};
use super::{File, IO};
use crate::Result;
use crate::yields::{YieldInjector, YieldPoint};

pub struct ShuffleIO {
    store: MemoryStore,
    rng: Arc<Mutex<Xoshiro256PlusPlus>>,
    /// Chance, in parts per million, that an injected yield point yields.
    yield_ppm: u32,
}

impl ShuffleIO {
    pub fn new(seed: u64) -> Self {
        Self::with_yields(seed, 300_000)
    }

    /// `yield_ppm`: chance in parts per million that each yield point yields.
    pub fn with_yields(seed: u64, yield_ppm: u32) -> Self {
        ShuffleIO {
            store: MemoryStore::default(),
            rng: Arc::new(Mutex::new(Xoshiro256PlusPlus::seed_from_u64(seed))),
            yield_ppm,
        }
    }

    /// A yield injector drawing from the same seeded generator.
    pub fn injector(&self) -> Arc<dyn YieldInjector> {
        Arc::new(RandomYields {
            rng: self.rng.clone(),
            yield_ppm: self.yield_ppm,
        })
    }
}

impl IO for ShuffleIO {
    fn open_file(&self, path: &str) -> Result<Arc<dyn File>> {
        Ok(self.store.open_file(path))
    }

    fn remove_file(&self, path: &str) -> Result<()> {
        self.store.remove_file(path);
        Ok(())
    }

    fn file_exists(&self, path: &str) -> Result<bool> {
        Ok(self.store.file_exists(path))
    }

    fn step(&self) -> Result<()> {
        let op = {
            let mut queue = lock(&self.store.queue);
            if queue.is_empty() {
                return Ok(());
            }
            let index = (lock(&self.rng).next_u64() % queue.len() as u64) as usize;
            queue
                .remove(index)
                .expect("index is below the queue length")
        };
        debug_assert!(!op.completion().succeeded(), "an operation completes once");
        if !is_cancelled(&op) {
            op.apply();
        }
        Ok(())
    }

    fn pending(&self) -> usize {
        self.store.pending()
    }
}

struct RandomYields {
    rng: Arc<Mutex<Xoshiro256PlusPlus>>,
    yield_ppm: u32,
}

impl YieldInjector for RandomYields {
    fn should_yield(&self, _point: YieldPoint) -> bool {
        (lock(&self.rng).next_u64() % 1_000_000) < u64::from(self.yield_ppm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Completion;

    /// Submits eight one-byte writes and records the order in which they complete.
    fn completion_order(seed: u64) -> Vec<u8> {
        let io = ShuffleIO::new(seed);
        let file = io.open_file("f").expect("open");
        let order = Arc::new(Mutex::new(Vec::new()));
        for i in 0..8u8 {
            let order = order.clone();
            let c = Completion::new(move |_| order.lock().expect("test mutex").push(i));
            file.pwrite(u64::from(i), &[i], c).expect("submit");
        }
        while io.pending() > 0 {
            io.step().expect("step");
        }
        order.lock().expect("test mutex").clone()
    }

    #[test]
    fn same_seed_same_order_and_seeds_differ() {
        assert_eq!(completion_order(7), completion_order(7));
        let orders: std::collections::BTreeSet<Vec<u8>> = (0..5).map(completion_order).collect();
        assert!(
            orders.len() > 1,
            "different seeds should reorder differently"
        );
        assert!(orders.iter().any(|o| o != &(0..8).collect::<Vec<u8>>()));
    }

    #[test]
    fn injector_yields_at_roughly_the_configured_rate() {
        let io = ShuffleIO::with_yields(3, 500_000);
        let injector = io.injector();
        let yes = (0..1000)
            .filter(|_| injector.should_yield(YieldPoint::BtreeSplit))
            .count();
        assert!((350..650).contains(&yes), "{yes} of 1000");
        let never = ShuffleIO::with_yields(3, 0).injector();
        assert!(!(0..100).any(|_| never.should_yield(YieldPoint::Recovery)));
    }
}
