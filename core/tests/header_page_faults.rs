//! The header page survives every way its write can stop short (storage/format.rs): a
//! short write of page 1 at every offset, at creation and in a checkpoint, reaching the
//! disk, then a crash, then open. The database opens every time: empty after a creation
//! cut short, with every acknowledged commit after a checkpoint cut short.
//!
//! `CrashIO::short_write_once` lands only a prefix of the targeted write; the test then
//! makes what landed durable (the kernel may write a partial sector back at any time)
//! before the crash, the harshest case for the header page.

use std::collections::BTreeMap;
use std::sync::Arc;

use braid_core::storage::crash_io::CrashIO;
use braid_core::{
    CheckpointMode, CompletionError, Connection, Database, DbOptions, Error, IO, Op, Output,
    Result, SyncMode, TxMode, block_on,
};

const PATH: &str = "header.db";
const WAL_PATH: &str = "header.db-wal";

fn options(page_size: usize) -> DbOptions {
    DbOptions {
        page_size,
        cache_pages: 16,
        sync: SyncMode::Full,
        autocheckpoint_frames: 0,
        ..DbOptions::default()
    }
}

fn run(io: &CrashIO, conn: &Connection, op: &Op) -> Result<Output> {
    block_on(io, || conn.execute(op))
}

/// Every row, in key order.
fn contents(io: &CrashIO, db: &Connection) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let scan = Op::Scan {
        start: vec![],
        end: None,
        limit: usize::MAX,
    };
    match run(io, db, &scan).expect("scan") {
        Output::Rows(rows) => rows.into_iter().collect(),
        other => panic!("a scan returns rows, got {other:?}"),
    }
}

/// Makes every file's current bytes durable: what landed reached the disk.
fn persist_what_landed(io: &CrashIO) {
    for path in [PATH, WAL_PATH] {
        io.set_file(path, io.file_bytes(path));
    }
}

/// Opens the database and one connection to it.
fn open(io: &CrashIO, page_size: usize) -> Result<Connection> {
    let dyn_io: Arc<dyn IO> = Arc::new(io.clone());
    Database::open_blocking(dyn_io, PATH, options(page_size)).map(|db| db.connect())
}

#[track_caller]
fn assert_healthy(io: &CrashIO, db: &Connection, what: &str) {
    assert_eq!(
        run(io, db, &Op::IntegrityCheck).expect("integrity check"),
        Output::Integrity(vec![]),
        "{what}: integrity"
    );
}

/// Creation's write of page 1 lands `landed` bytes and fails short; the partial page
/// reaches the disk; a crash; the next open creates the database afresh and it works.
#[test]
fn a_creation_cut_short_at_any_byte_opens_as_an_empty_database() {
    for page_size in [512usize, 1024] {
        for landed in 0..page_size {
            let what = format!("{page_size}-byte pages, {landed} bytes landed");
            let io = CrashIO::new();
            io.short_write_once(PATH, 0, landed);
            let first = open(&io, page_size);
            assert!(
                matches!(
                    first,
                    Err(Error::Completion(CompletionError::ShortIo { .. }))
                ),
                "{what}: the short write fails the open, got {first:?}"
            );
            persist_what_landed(&io);
            io.crash();
            let db = open(&io, page_size).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(contents(&io, &db).is_empty(), "{what}: empty");
            run(&io, &db, &Op::Put(b"k".to_vec(), b"v".to_vec())).expect("a put");
            drop(db);
            io.crash();
            let db = open(&io, page_size).unwrap_or_else(|e| panic!("{what}, reopen: {e}"));
            assert_eq!(
                contents(&io, &db),
                BTreeMap::from([(b"k".to_vec(), b"v".to_vec())]),
                "{what}: the acknowledged put survives"
            );
        }
    }
}

/// A checkpoint's write of page 1 lands `landed` bytes and fails short; the partial page
/// reaches the disk; a crash; the database opens with every acknowledged commit. Then a
/// second checkpoint cut short at another offset, the same again: two failed header
/// writes in a row never leave page 1 without a whole record.
#[test]
fn a_checkpoint_cut_short_at_any_byte_of_page_1_keeps_every_commit() {
    for page_size in [512usize, 1024] {
        let step = if page_size == 512 { 1 } else { 3 };
        for landed in (0..page_size).step_by(step) {
            let what = format!("{page_size}-byte pages, {landed} bytes landed");
            let io = CrashIO::new();
            let db = open(&io, page_size).expect("create");
            let mut expected = BTreeMap::new();
            // Grow the tree so the header changes (root, page count) between checkpoints.
            for round in 0..3u8 {
                run(&io, &db, &Op::Begin(TxMode::Immediate)).expect("begin");
                for k in 0..12u8 {
                    let (key, value) = (vec![b'k', round, k], vec![k; 40]);
                    run(&io, &db, &Op::Put(key.clone(), value.clone())).expect("put");
                    expected.insert(key, value);
                }
                run(&io, &db, &Op::Commit).expect("commit");
                if round == 0 {
                    run(&io, &db, &Op::Checkpoint(CheckpointMode::Truncate)).expect("checkpoint");
                }
            }
            io.short_write_once(PATH, 0, landed);
            let cut = run(&io, &db, &Op::Checkpoint(CheckpointMode::Passive));
            assert!(cut.is_err(), "{what}: the short write fails the checkpoint");
            // Another commit and a second cut-short checkpoint before the crash.
            run(&io, &db, &Op::Put(b"after".to_vec(), b"1".to_vec())).expect("put");
            expected.insert(b"after".to_vec(), b"1".to_vec());
            io.short_write_once(PATH, 0, landed % 40);
            let cut = run(&io, &db, &Op::Checkpoint(CheckpointMode::Full));
            assert!(cut.is_err(), "{what}: the second short write fails too");
            persist_what_landed(&io);
            drop(db);
            io.crash();
            let db = open(&io, page_size).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                contents(&io, &db),
                expected,
                "{what}: every commit survives"
            );
            assert_healthy(&io, &db, &what);
            // The next checkpoint goes through, and the database opens after it too.
            run(&io, &db, &Op::Checkpoint(CheckpointMode::Truncate)).expect("checkpoint");
            drop(db);
            io.crash();
            let db = open(&io, page_size).unwrap_or_else(|e| panic!("{what}, reopen: {e}"));
            assert_eq!(
                contents(&io, &db),
                expected,
                "{what}: after a good checkpoint"
            );
            assert_healthy(&io, &db, &what);
        }
    }
}

/// The newest header record damaged after the WAL was reset past the older one: the
/// older record would bring back a state the WAL no longer covers, so the open refuses
/// with `Corrupt` instead of answering from it.
#[test]
fn a_damaged_newest_header_record_is_corrupt_when_the_wal_moved_on() {
    let page_size = 512;
    let io = CrashIO::new();
    let db = open(&io, page_size).expect("create");
    for round in 0..3u8 {
        run(&io, &db, &Op::Put(vec![b'k', round], vec![round; 30])).expect("put");
        run(&io, &db, &Op::Checkpoint(CheckpointMode::Restart)).expect("checkpoint");
    }
    run(&io, &db, &Op::Put(b"z".to_vec(), b"z".to_vec())).expect("put");
    drop(db);
    io.crash();
    // Find the newest record: the one whose damage the open cannot survive.
    let image = io.file_bytes(PATH)[..page_size].to_vec();
    let newest_slot_at = [0usize, 452]
        .into_iter()
        .find(|&at| {
            let mut damaged = image.clone();
            damaged[at + 20] ^= 1;
            let mut file = io.file_bytes(PATH);
            file[..page_size].copy_from_slice(&damaged);
            let probe = CrashIO::new();
            probe.set_file(PATH, file);
            probe.set_file(WAL_PATH, io.file_bytes(WAL_PATH));
            matches!(open(&probe, page_size), Err(Error::Corrupt(_)))
        })
        .expect("damaging the newest record after WAL resets is corruption");
    // Damaging the other (older) record instead is harmless.
    let older_at = if newest_slot_at == 0 { 452 } else { 0 };
    io.flip_bit(PATH, older_at + 20, 0);
    let db = open(&io, page_size).expect("the newest record alone opens the database");
    assert_eq!(contents(&io, &db).len(), 4);
}
