//! The progress file `--out/progress.jsonl`: one `SeedRecord` per finished seed, one JSON
//! object per line, appended (and flushed) as each seed finishes, after its failure
//! artifacts are in place. `--resume` reads it back and skips those seeds; a last line cut
//! short by a kill is ignored (that seed simply runs again).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::summary::SeedRecord;

/// File name of the progress file inside the output directory.
pub const PROGRESS_FILE: &str = "progress.jsonl";

/// An open progress file.
pub struct ProgressFile {
    path: PathBuf,
    file: std::fs::File,
}

impl ProgressFile {
    /// Opens `out/progress.jsonl`: kept and appended to when resuming, started afresh
    /// otherwise.
    pub fn open(out: &Path, resume: bool) -> std::io::Result<ProgressFile> {
        std::fs::create_dir_all(out)?;
        let path = out.join(PROGRESS_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(resume)
            .write(true)
            .truncate(!resume)
            .open(&path)?;
        Ok(ProgressFile { path, file })
    }

    /// Appends one finished seed.
    pub fn append(&mut self, record: &SeedRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_string(record).expect("a seed record serializes");
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The seeds already finished according to `out/progress.jsonl` (empty when there is none).
pub fn load_finished(out: &Path) -> std::io::Result<BTreeMap<u64, SeedRecord>> {
    let path = out.join(PROGRESS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(err) => return Err(err),
    };
    let mut finished = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // A line that does not parse was cut short by a kill: its seed runs again.
        if let Ok(record) = serde_json::from_str::<SeedRecord>(line) {
            finished.insert(record.seed, record);
        }
    }
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::summary::Totals;

    fn record(seed: u64) -> SeedRecord {
        SeedRecord {
            seed,
            failure: None,
            totals: Totals::default(),
            txn_latency_decisions: Default::default(),
            ops_per_txn: Default::default(),
        }
    }

    #[test]
    fn appended_records_read_back_and_a_torn_line_is_ignored() {
        let out = std::env::temp_dir().join(format!("braid-progress-{}", std::process::id()));
        let mut file = ProgressFile::open(&out, false).expect("open");
        file.append(&record(3)).expect("append");
        file.append(&record(1)).expect("append");
        drop(file);
        let mut raw = std::fs::OpenOptions::new()
            .append(true)
            .open(out.join(PROGRESS_FILE))
            .expect("reopen");
        raw.write_all(b"{\"seed\":9,\"fail").expect("torn line");
        drop(raw);
        let finished = load_finished(&out).expect("load");
        assert_eq!(finished.keys().copied().collect::<Vec<_>>(), vec![1, 3]);
        // Not resuming starts afresh.
        drop(ProgressFile::open(&out, false).expect("open"));
        assert!(load_finished(&out).expect("load").is_empty());
        std::fs::remove_dir_all(&out).expect("cleanup");
    }
}
