//! The completion-group labels the simulator targets faults by: a commit's frame writes
//! are one "commit-frames" group, its fsync a "wal-sync" group, a checkpoint's database
//! writes one "checkpoint-copy" group. Checked by an I/O wrapper that records the labels
//! each operation carries when it is submitted.

#[path = "pager_util.rs"]
mod util;

use std::sync::{Arc, Mutex};

use braid_core::storage::CheckpointMode;
use braid_core::{Completion, File, IO, MemoryIO, Result};
use util::*;

type Log = Arc<Mutex<Vec<(String, &'static str, Vec<&'static str>)>>>;

struct Recording {
    inner: MemoryIO,
    log: Log,
}

struct RecordingFile {
    path: String,
    inner: Arc<dyn File>,
    log: Log,
}

impl RecordingFile {
    fn record(&self, kind: &'static str, c: &Completion) {
        let entry = (self.path.clone(), kind, c.group_labels());
        self.log.lock().expect("not poisoned").push(entry);
    }
}

impl File for RecordingFile {
    fn pread(&self, pos: u64, len: usize, c: Completion) -> Result<Completion> {
        self.inner.pread(pos, len, c)
    }

    fn pwrite(&self, pos: u64, bytes: &[u8], c: Completion) -> Result<Completion> {
        self.record("write", &c);
        self.inner.pwrite(pos, bytes, c)
    }

    fn sync(&self, c: Completion) -> Result<Completion> {
        self.record("sync", &c);
        self.inner.sync(c)
    }

    fn truncate(&self, len: u64, c: Completion) -> Result<Completion> {
        self.record("truncate", &c);
        self.inner.truncate(len, c)
    }

    fn size(&self) -> Result<u64> {
        self.inner.size()
    }
}

impl IO for Recording {
    fn open_file(&self, path: &str) -> Result<Arc<dyn File>> {
        let inner = self.inner.open_file(path)?;
        Ok(Arc::new(RecordingFile {
            path: path.to_string(),
            inner,
            log: self.log.clone(),
        }))
    }

    fn remove_file(&self, path: &str) -> Result<()> {
        self.inner.remove_file(path)
    }

    fn file_exists(&self, path: &str) -> Result<bool> {
        self.inner.file_exists(path)
    }

    fn step(&self) -> Result<()> {
        self.inner.step()
    }

    fn pending(&self) -> usize {
        self.inner.pending()
    }
}

#[test]
fn commits_and_checkpoints_label_their_groups() {
    let log: Log = Arc::default();
    let io: Arc<dyn IO> = Arc::new(Recording {
        inner: MemoryIO::new(),
        log: log.clone(),
    });
    let pager = open(&io, &options(512)).expect("create");
    log.lock().expect("not poisoned").clear();

    allocate_pages(&pager, 3, 1).expect("commit");
    let commit: Vec<_> = log.lock().expect("not poisoned").drain(..).collect();
    let writes: Vec<_> = commit
        .iter()
        .filter(|(_, kind, _)| *kind == "write")
        .collect();
    assert_eq!(
        writes.len(),
        5,
        "the WAL header, three pages and the header page"
    );
    for (path, _, labels) in &writes {
        assert_eq!(
            (path.as_str(), labels.as_slice()),
            (WAL, ["commit-frames"].as_slice())
        );
    }
    let syncs: Vec<_> = commit
        .iter()
        .filter(|(_, kind, _)| *kind == "sync")
        .collect();
    assert_eq!(syncs.len(), 1, "one commit fsync");
    assert_eq!(
        (syncs[0].0.as_str(), syncs[0].2.as_slice()),
        (WAL, ["wal-sync"].as_slice())
    );

    checkpoint(&pager, CheckpointMode::Truncate).expect("checkpoint");
    let copy: Vec<_> = log.lock().expect("not poisoned").drain(..).collect();
    let db_writes: Vec<_> = copy
        .iter()
        .filter(|(path, kind, _)| path == DB && *kind == "write")
        .collect();
    assert_eq!(db_writes.len(), 4, "three pages and the header page");
    for (_, _, labels) in &db_writes {
        assert_eq!(labels.as_slice(), ["checkpoint-copy"].as_slice());
    }
    let kinds: Vec<_> = copy
        .iter()
        .map(|(path, kind, _)| format!("{kind} {path}"))
        .collect();
    let db_sync = kinds
        .iter()
        .position(|k| k == "sync test.db")
        .expect("database fsync");
    let truncate = kinds
        .iter()
        .position(|k| k == "truncate test.db-wal")
        .expect("WAL truncate");
    assert!(
        db_sync < truncate,
        "the database is durable before the WAL is reset: {kinds:?}"
    );
}
