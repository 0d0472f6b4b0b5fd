//! SQLite through rusqlite (bundled), driven by the same scenarios as braid's engine
//! (`engine.rs`): WAL mode, 4096-byte pages, a 256-page cache, one connection, a
//! `WITHOUT ROWID` table of blob keys and values, prepared statements.
//! Built only with the `sqlite-bench` feature.

use std::path::Path;

use braid_core::SyncMode;
use rusqlite::{Connection, OptionalExtension, params};

use super::engine::{KvEngine, Rows, ScenarioTime, Scratch, Sizes, run_scenarios, sync_name};

/// SQLite in WAL mode with `synchronous` matching braid's sync mode.
pub struct SqliteEngine {
    conn: Connection,
}

fn text(err: rusqlite::Error) -> String {
    format!("sqlite: {err}")
}

impl SqliteEngine {
    /// Opens (creates) `dir/bench.sqlite`: `synchronous = FULL` for sync = full, `NORMAL`
    /// for sync = normal.
    pub fn open(dir: &Path, sync: SyncMode) -> Result<SqliteEngine, String> {
        let conn = Connection::open(dir.join("bench.sqlite")).map_err(text)?;
        let synchronous = match sync {
            SyncMode::Full => "FULL",
            SyncMode::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA page_size = 4096;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = {synchronous};
             PRAGMA cache_size = 256;
             CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;"
        ))
        .map_err(text)?;
        Ok(SqliteEngine { conn })
    }
}

impl KvEngine for SqliteEngine {
    fn begin(&mut self) -> Result<(), String> {
        self.conn.execute_batch("BEGIN").map_err(text)
    }

    fn commit(&mut self) -> Result<(), String> {
        self.conn.execute_batch("COMMIT").map_err(text)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        let mut stmt = self
            .conn
            .prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)")
            .map_err(text)?;
        stmt.execute(params![key, value]).map(drop).map_err(text)
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT v FROM kv WHERE k = ?1")
            .map_err(text)?;
        stmt.query_row(params![key], |row| row.get(0))
            .optional()
            .map_err(text)
    }

    fn scan(&mut self, start: &[u8], limit: u64) -> Result<Rows, String> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2")
            .map_err(text)?;
        let rows = stmt
            .query_map(params![start, limit as i64], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .map_err(text)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(text)
    }
}

/// Runs the scenarios on SQLite with `sync` in a scratch directory under `base`.
pub fn run_sqlite(base: &Path, sync: SyncMode, sizes: Sizes) -> Result<Vec<ScenarioTime>, String> {
    let scratch = Scratch::new(base, &format!("sqlite-{}", sync_name(sync)))?;
    let mut engine = SqliteEngine::open(&scratch.dir, sync)?;
    run_scenarios(&mut engine, sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_runs_the_same_scenarios() {
        let sizes = Sizes {
            single_puts: 5,
            batches: 3,
            gets: 50,
            scans: 5,
        };
        let times = run_sqlite(&std::env::temp_dir(), SyncMode::Normal, sizes).expect("runs");
        assert_eq!(
            times.iter().map(|t| t.ops).collect::<Vec<_>>(),
            [5, 300, 50, 5]
        );
    }
}
