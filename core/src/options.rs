//! `DbOptions`: how a database is opened.

use std::sync::Arc;

use crate::canary::Canary;
use crate::yields::YieldInjector;

/// When commits reach stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Every commit fsyncs the WAL before it is acknowledged.
    #[default]
    Full,
    /// Commits skip the fsync; a crash may lose a suffix of commits, never a hole.
    Normal,
}

/// Options for opening a database. Public fields; `Default` gives production values.
#[derive(Clone)]
pub struct DbOptions {
    /// Bytes per page: a power of two in 512..=65536.
    pub page_size: usize,
    /// Pages the shared cache may hold (dirty pages are never evicted, so it may exceed
    /// this while a large transaction is open).
    pub cache_pages: usize,
    pub sync: SyncMode,
    /// Run a passive checkpoint after a commit once the WAL holds more frames than this
    /// (0 disables auto-checkpoint).
    pub autocheckpoint_frames: u64,
    /// A known-bad behaviour to switch on (acts only with the `canaries` feature).
    pub canary: Option<Canary>,
    /// Answers the engine's yield points; `None` in production (never yields).
    pub yield_injector: Option<Arc<dyn YieldInjector>>,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            page_size: 4096,
            cache_pages: 256,
            sync: SyncMode::Full,
            autocheckpoint_frames: 1000,
            canary: None,
            yield_injector: None,
        }
    }
}

impl std::fmt::Debug for DbOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbOptions")
            .field("page_size", &self.page_size)
            .field("cache_pages", &self.cache_pages)
            .field("sync", &self.sync)
            .field("autocheckpoint_frames", &self.autocheckpoint_frames)
            .field("canary", &self.canary)
            .field("yield_injector", &self.yield_injector.is_some())
            .finish()
    }
}

impl DbOptions {
    /// Checks the options, naming the field and what was expected.
    pub fn validate(&self) -> crate::Result<()> {
        let ps = self.page_size;
        if !(512..=65536).contains(&ps) || !ps.is_power_of_two() {
            return Err(crate::Error::InvalidOptions(format!(
                "page_size {ps}: expected a power of two in 512..=65536"
            )));
        }
        if self.cache_pages < 8 {
            return Err(crate::Error::InvalidOptions(format!(
                "cache_pages {}: expected at least 8",
                self.cache_pages
            )));
        }
        Ok(())
    }

    /// Whether `canary` is switched on for this database in this build.
    pub fn canary_active(&self, canary: Canary) -> bool {
        canary.is_active(self.canary)
    }

    /// Asks the injector (if any) whether to yield at `point`.
    pub fn should_yield(&self, point: crate::YieldPoint) -> bool {
        self.yield_injector
            .as_ref()
            .is_some_and(|i| i.should_yield(point))
    }
}
