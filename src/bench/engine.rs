//! The storage engine on real files, measured by four scenarios that the SQLite comparison
//! (`sqlite.rs`, feature `sqlite-bench`) runs identically:
//! - single puts, each in its own transaction (an implicit one for braid, autocommit for
//!   SQLite): every commit fsyncs under sync = full;
//! - puts in transactions of 100;
//! - point gets of keys that exist (every one must be found);
//! - range scans of 100 keys from a key that exists.
//!
//! Keys are 13 bytes, inserted in a scrambled order; values are 100 bytes. Both engines run
//! with 4096-byte pages and a 256-page cache, one connection, in a fresh directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use braid_core::{Connection, Database, DbOptions, FileIO, IO, Op, Output, SyncMode, TxMode};

/// Operations of each scenario.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub single_puts: u64,
    /// Transactions of `BATCH` puts.
    pub batches: u64,
    pub gets: u64,
    pub scans: u64,
}

/// Puts per transaction in the batched scenario; rows per scan.
pub const BATCH: u64 = 100;

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            single_puts: 500,
            batches: 100,
            gets: 20_000,
            scans: 2_000,
        }
    }
}

/// The four scenarios, in the order they run.
pub const SCENARIOS: [&str; 4] = [
    "single puts (1 per txn)",
    "puts (100 per txn)",
    "point gets",
    "range scans (100 keys)",
];

/// One scenario's result: operations (puts, gets or scans) and seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScenarioTime {
    pub ops: u64,
    pub seconds: f64,
}

impl ScenarioTime {
    pub fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.seconds
    }
}

/// Rows of a scan: (key, value) in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// What the scenarios need from an engine. Errors are messages for the report.
pub trait KvEngine {
    fn begin(&mut self) -> Result<(), String>;
    fn commit(&mut self) -> Result<(), String>;
    /// A put; inside `begin`/`commit` or, outside, in its own transaction.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), String>;
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, String>;
    /// Up to `limit` rows from `start` on, in key order.
    fn scan(&mut self, start: &[u8], limit: u64) -> Result<Rows, String>;
}

/// Key number `i`.
pub fn key(i: u64) -> Vec<u8> {
    format!("key{i:010}").into_bytes()
}

/// The value stored under key number `i` (100 bytes).
pub fn value(i: u64) -> Vec<u8> {
    let mut value = format!("value-{i:010}-").into_bytes();
    value.resize(100, b'a' + (i % 26) as u8);
    value
}

/// The `n`-th key number of a scrambled walk over `0..count` (a permutation: the step is
/// prime and does not divide `count`).
fn scrambled(n: u64, count: u64) -> u64 {
    const STEP: u64 = 7_919;
    assert!(
        !count.is_multiple_of(STEP),
        "the step must not divide the count"
    );
    (n * STEP) % count
}

/// Runs the four scenarios on `engine`.
pub fn run_scenarios(engine: &mut dyn KvEngine, sizes: Sizes) -> Result<Vec<ScenarioTime>, String> {
    let loaded = sizes.batches * BATCH;
    let mut times = Vec::new();
    // Single puts use their own key range above the batched keys.
    let start = Instant::now();
    for i in 0..sizes.single_puts {
        let n = loaded + i;
        engine.put(&key(n), &value(n))?;
    }
    times.push(finish(sizes.single_puts, start));

    let start = Instant::now();
    for batch in 0..sizes.batches {
        engine.begin()?;
        for j in 0..BATCH {
            let n = scrambled(batch * BATCH + j, loaded);
            engine.put(&key(n), &value(n))?;
        }
        engine.commit()?;
    }
    times.push(finish(loaded, start));

    let start = Instant::now();
    for g in 0..sizes.gets {
        let n = scrambled(g % loaded, loaded);
        let got = engine.get(&key(n))?;
        if got.as_deref() != Some(value(n).as_slice()) {
            return Err(format!("get of key {n} returned {got:?}"));
        }
    }
    times.push(finish(sizes.gets, start));

    let start = Instant::now();
    for s in 0..sizes.scans {
        let n = scrambled(s % loaded, loaded).min(loaded - BATCH);
        let rows = engine.scan(&key(n), BATCH)?;
        let first_ok = rows.first().is_some_and(|(k, _)| *k == key(n));
        if rows.len() as u64 != BATCH || !first_ok {
            return Err(format!("scan from key {n} returned {} rows", rows.len()));
        }
    }
    times.push(finish(sizes.scans, start));
    Ok(times)
}

fn finish(ops: u64, start: Instant) -> ScenarioTime {
    ScenarioTime {
        ops,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// A fresh, empty directory for one engine's files (removed by `Scratch::drop`).
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    /// `base/braid-bench-<pid>-<name>`, emptied first.
    pub fn new(base: &Path, name: &str) -> Result<Scratch, String> {
        let dir = base.join(format!("braid-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        Ok(Scratch { dir })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// braid's engine on `FileIO`, one connection.
pub struct BraidEngine {
    io: Arc<FileIO>,
    conn: Connection,
}

impl BraidEngine {
    /// Opens (creates) `dir/bench.db` with 4096-byte pages, a 256-page cache and `sync`.
    pub fn open(dir: &Path, sync: SyncMode) -> Result<BraidEngine, String> {
        let io = Arc::new(FileIO::new());
        let path = dir.join("bench.db");
        let options = DbOptions {
            page_size: 4096,
            cache_pages: 256,
            sync,
            ..DbOptions::default()
        };
        let dyn_io: Arc<dyn IO> = io.clone();
        let db = Database::open_blocking(dyn_io, &path.to_string_lossy(), options)
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        Ok(BraidEngine {
            io,
            conn: db.connect(),
        })
    }

    fn execute(&self, op: &Op) -> Result<Output, String> {
        braid_core::block_on(self.io.as_ref(), || self.conn.execute(op))
            .map_err(|e| format!("{}: {e}", op.name()))
    }
}

impl KvEngine for BraidEngine {
    fn begin(&mut self) -> Result<(), String> {
        self.execute(&Op::Begin(TxMode::Deferred)).map(drop)
    }

    fn commit(&mut self) -> Result<(), String> {
        self.execute(&Op::Commit).map(drop)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.execute(&Op::Put(key.to_vec(), value.to_vec()))
            .map(drop)
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match self.execute(&Op::Get(key.to_vec()))? {
            Output::Value(value) => Ok(value),
            other => Err(format!("get answered {other:?}")),
        }
    }

    fn scan(&mut self, start: &[u8], limit: u64) -> Result<Rows, String> {
        let op = Op::Scan {
            start: start.to_vec(),
            end: None,
            limit: limit as usize,
        };
        match self.execute(&op)? {
            Output::Rows(rows) => Ok(rows),
            other => Err(format!("scan answered {other:?}")),
        }
    }
}

/// The name of a sync mode as the report prints it.
pub fn sync_name(sync: SyncMode) -> &'static str {
    match sync {
        SyncMode::Full => "full",
        SyncMode::Normal => "normal",
    }
}

/// Runs the scenarios on braid's engine with `sync` in a scratch directory under `base`.
pub fn run_braid(base: &Path, sync: SyncMode, sizes: Sizes) -> Result<Vec<ScenarioTime>, String> {
    let scratch = Scratch::new(base, &format!("braid-{}", sync_name(sync)))?;
    let mut engine = BraidEngine::open(&scratch.dir, sync)?;
    run_scenarios(&mut engine, sizes)
}

/// Prints one engine's scenario times.
pub fn print_times(name: &str, times: &[ScenarioTime]) {
    println!("  {name}:");
    for (scenario, time) in SCENARIOS.iter().zip(times) {
        println!(
            "    {scenario:<26} {:>8} ops in {:>7.3} s = {:>10.0} ops/s",
            time.ops,
            time.seconds,
            time.ops_per_second()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrambled_walk_is_a_permutation() {
        let count = 1_000;
        let mut seen: Vec<u64> = (0..count).map(|n| scrambled(n, count)).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..count).collect::<Vec<_>>());
    }

    #[test]
    fn scenarios_run_on_real_files_and_check_their_answers() {
        let base = std::env::temp_dir();
        let sizes = Sizes {
            single_puts: 5,
            batches: 3,
            gets: 50,
            scans: 5,
        };
        let times = run_braid(&base, SyncMode::Normal, sizes).expect("scenarios pass");
        assert_eq!(
            times.iter().map(|t| t.ops).collect::<Vec<_>>(),
            [5, 300, 50, 5]
        );
    }

    /// An engine that loses every put: the scenario checks must catch it.
    struct Forgetful;

    impl KvEngine for Forgetful {
        fn begin(&mut self) -> Result<(), String> {
            Ok(())
        }
        fn commit(&mut self) -> Result<(), String> {
            Ok(())
        }
        fn put(&mut self, _: &[u8], _: &[u8]) -> Result<(), String> {
            Ok(())
        }
        fn get(&mut self, _: &[u8]) -> Result<Option<Vec<u8>>, String> {
            Ok(None)
        }
        fn scan(&mut self, _: &[u8], _: u64) -> Result<Rows, String> {
            Ok(vec![])
        }
    }

    #[test]
    fn an_engine_that_loses_writes_fails_the_scenarios() {
        let sizes = Sizes {
            single_puts: 1,
            batches: 2,
            gets: 1,
            scans: 1,
        };
        let err = run_scenarios(&mut Forgetful, sizes).expect_err("gets find nothing");
        assert!(err.contains("get of key"), "{err}");
    }
}
