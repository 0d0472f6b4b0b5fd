//! The connection API on real files (`FileIO` in a temporary directory): writes, commits,
//! snapshots, checkpoints, reopen with and without a WAL to recover, integrity.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use braid_core::{
    CheckpointMode, Connection, Database, DbOptions, FileIO, IO, Op, Output, Result, TxMode,
    block_on,
};

type Keyspace = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(k: u32) -> Vec<u8> {
    format!("file-key-{k:05}").into_bytes()
}

fn value(round: u32, k: u32) -> Vec<u8> {
    format!("round {round} key {k} ")
        .repeat(1 + (k % 4) as usize)
        .into_bytes()
}

fn options(page_size: usize) -> DbOptions {
    DbOptions {
        page_size,
        cache_pages: 32,
        autocheckpoint_frames: 0,
        ..DbOptions::default()
    }
}

fn open(io: &Arc<FileIO>, path: &str, page_size: usize) -> Arc<Database> {
    Database::open_blocking(io.clone(), path, options(page_size)).expect("open on real files")
}

fn run(io: &Arc<FileIO>, conn: &Connection, op: Op) -> Result<Output> {
    let io: &dyn IO = io.as_ref();
    block_on(io, || conn.execute(&op))
}

fn contents(io: &Arc<FileIO>, conn: &Connection) -> Keyspace {
    let scan = Op::Scan {
        start: vec![0],
        end: None,
        limit: usize::MAX,
    };
    match run(io, conn, scan).expect("scan") {
        Output::Rows(rows) => rows.into_iter().collect(),
        other => panic!("a scan returns rows, got {other:?}"),
    }
}

#[track_caller]
fn assert_clean(io: &Arc<FileIO>, conn: &Connection) {
    assert_eq!(
        run(io, conn, Op::IntegrityCheck).expect("integrity check"),
        Output::Integrity(vec![])
    );
}

/// One transaction: puts every key in `keys` with `round`'s value, deletes every key in
/// `deletes`.
fn write_round(
    io: &Arc<FileIO>,
    conn: &Connection,
    model: &mut Keyspace,
    round: u32,
    keys: impl Iterator<Item = u32>,
    deletes: impl Iterator<Item = u32>,
) -> u64 {
    run(io, conn, Op::Begin(TxMode::Immediate)).expect("begin");
    for k in keys {
        run(io, conn, Op::Put(key(k), value(round, k))).expect("put");
        model.insert(key(k), value(round, k));
    }
    for k in deletes {
        run(io, conn, Op::Delete(key(k))).expect("delete");
        model.remove(&key(k));
    }
    match run(io, conn, Op::Commit).expect("commit") {
        Output::Committed { seq } => seq,
        other => panic!("commit answered {other:?}"),
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("file exists").len()
}

#[test]
fn write_checkpoint_reopen_and_read_back_on_real_files() {
    for page_size in [512, 4096] {
        let dir = tempfile::tempdir().expect("tempdir");
        let db_path = dir.path().join("braid.db");
        let wal_path = dir.path().join("braid.db-wal");
        let path = db_path.to_str().expect("utf-8 path").to_string();
        let io = Arc::new(FileIO::new());
        let mut model = Keyspace::new();

        let db = open(&io, &path, page_size);
        let conn = db.connect();
        assert_eq!(write_round(&io, &conn, &mut model, 1, 0..300, 0..0), 1);
        assert_eq!(
            write_round(&io, &conn, &mut model, 2, (0..300).step_by(3), 100..200),
            2
        );
        assert!(file_len(&wal_path) > 0, "commits went to the WAL");

        // A reader keeps its snapshot on real files while a writer commits.
        let reader = db.connect();
        run(&io, &reader, Op::Begin(TxMode::Deferred)).expect("begin");
        let before = contents(&io, &reader);
        assert_eq!(before, model);
        let mut later = model.clone();
        write_round(&io, &conn, &mut later, 3, 150..250, 0..10);
        assert_eq!(
            contents(&io, &reader),
            before,
            "the reader's snapshot holds"
        );
        run(&io, &reader, Op::Commit).expect("end reader");
        model = later;

        let passive = run(&io, &conn, Op::Checkpoint(CheckpointMode::Passive)).expect("ckpt");
        assert!(
            matches!(passive, Output::Checkpointed(o) if o.backfilled_frames == o.wal_frames),
            "a passive checkpoint with no reader copies every frame: {passive:?}"
        );
        write_round(&io, &conn, &mut model, 4, 280..320, 0..0);
        assert_clean(&io, &conn);
        drop((conn, reader, db));

        // Reopen: commit 4 is only in the WAL and must be recovered from it.
        let db = open(&io, &path, page_size);
        assert_eq!(db.commit_seq(), 4, "page size {page_size}");
        let conn = db.connect();
        assert_eq!(
            contents(&io, &conn),
            model,
            "page size {page_size}: after reopen"
        );
        assert_clean(&io, &conn);

        let truncate = run(&io, &conn, Op::Checkpoint(CheckpointMode::Truncate)).expect("ckpt");
        assert!(matches!(truncate, Output::Checkpointed(o) if o.wal_reset));
        assert_eq!(file_len(&wal_path), 0, "truncate shrinks the WAL file");
        drop((conn, db));

        // Reopen from the database file alone.
        let db = open(&io, &path, page_size);
        assert_eq!(db.commit_seq(), 4);
        let conn = db.connect();
        assert_eq!(
            contents(&io, &conn),
            model,
            "page size {page_size}: from the file"
        );
        assert_eq!(write_round(&io, &conn, &mut model, 5, 0..5, 5..10), 5);
        assert_eq!(contents(&io, &conn), model);
        assert_clean(&io, &conn);
        assert_eq!(
            file_len(&db_path) % page_size as u64,
            0,
            "the database file holds whole pages"
        );
    }
}

#[test]
fn reopen_on_real_files_rejects_another_page_size_or_keeps_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sized.db");
    let path = path.to_str().expect("utf-8 path").to_string();
    let io = Arc::new(FileIO::new());
    let mut model = Keyspace::new();
    let db = open(&io, &path, 1024);
    let conn = db.connect();
    write_round(&io, &conn, &mut model, 1, 0..50, 0..0);
    run(&io, &conn, Op::Checkpoint(CheckpointMode::Truncate)).expect("checkpoint");
    drop((conn, db));
    // Opening with a different page size must never read the file with the wrong
    // geometry: either it is refused, or the stored page size wins.
    match Database::open_blocking(io.clone(), &path, options(4096)) {
        Err(e) => assert_ne!(e.kind_name(), "internal", "a typed refusal: {e}"),
        Ok(db) => {
            let conn = db.connect();
            assert_eq!(contents(&io, &conn), model);
        }
    }
    let db = open(&io, &path, 1024);
    assert_eq!(contents(&io, &db.connect()), model);
}

#[test]
fn another_page_size_is_refused_without_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sized.db");
    let path = path.to_str().expect("utf-8 path").to_string();
    let io = Arc::new(FileIO::new());
    let mut model = Keyspace::new();
    let db = open(&io, &path, 1024);
    write_round(&io, &db.connect(), &mut model, 1, 0..10, 0..0);
    drop(db);
    let reopened = Database::open_blocking(io.clone(), &path, options(4096));
    assert!(
        matches!(reopened, Err(braid_core::Error::InvalidOptions(_))),
        "an intact database opened with another page size is an options error: {reopened:?}"
    );
    let db = Database::open_blocking(io.clone(), &path, options(1024))
        .expect("the refused open left the database intact");
    assert_eq!(contents(&io, &db.connect()), model);
}
