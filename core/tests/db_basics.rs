//! The connection API end to end on `MemoryIO`: implicit and explicit transactions,
//! misuse refusals, commit sequences and the claims a connection reports.

use std::sync::Arc;

use braid_core::{
    Connection, Database, DbOptions, Error, IO, MemoryIO, Op, Output, Result, TxMode, block_on,
};

fn open(io: &Arc<MemoryIO>) -> Arc<Database> {
    let options = DbOptions {
        page_size: 512,
        ..DbOptions::default()
    };
    Database::open_blocking(io.clone(), "db", options).expect("open")
}

fn run(io: &Arc<MemoryIO>, conn: &Connection, op: Op) -> Result<Output> {
    let io: &dyn IO = io.as_ref();
    block_on(io, || conn.execute(&op))
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

#[test]
fn implicit_writes_commit_and_are_visible_to_others() {
    let io = Arc::new(MemoryIO::new());
    let db = open(&io);
    let (a, b) = (db.connect(), db.connect());
    run(&io, &a, Op::Put(key(1), b"one".to_vec())).expect("put");
    let claims = a.last_claims();
    assert_eq!(
        claims.commit_seq,
        Some(1),
        "the implicit put published commit 1"
    );
    assert_eq!(claims.snapshot_seq, Some(0));
    assert_eq!(
        run(&io, &b, Op::Get(key(1))).expect("get"),
        Output::Value(Some(b"one".to_vec()))
    );
    assert_eq!(b.last_claims().snapshot_seq, Some(1));
    assert_eq!(
        run(&io, &b, Op::Get(key(2))).expect("get"),
        Output::Value(None)
    );
}

#[test]
fn explicit_transaction_commits_with_a_growing_sequence() {
    let io = Arc::new(MemoryIO::new());
    let db = open(&io);
    let conn = db.connect();
    for round in 1..=3u64 {
        run(&io, &conn, Op::Begin(TxMode::Deferred)).expect("begin");
        for i in 0..50 {
            run(&io, &conn, Op::Put(key(i), round.to_le_bytes().to_vec())).expect("put");
        }
        assert_eq!(
            run(&io, &conn, Op::Commit).expect("commit"),
            Output::Committed { seq: round }
        );
    }
    let rows = run(
        &io,
        &conn,
        Op::Scan {
            start: key(10),
            end: Some(key(20)),
            limit: 100,
        },
    )
    .expect("scan");
    let Output::Rows(rows) = rows else {
        panic!("scan returns rows")
    };
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|(_, v)| v == &3u64.to_le_bytes().to_vec()));
    assert_eq!(
        run(&io, &conn, Op::IntegrityCheck).expect("check"),
        Output::Integrity(vec![])
    );
}

#[test]
fn rollback_discards_and_read_only_commit_needs_no_io() {
    let io = Arc::new(MemoryIO::new());
    let db = open(&io);
    let conn = db.connect();
    run(&io, &conn, Op::Begin(TxMode::Immediate)).expect("begin");
    run(&io, &conn, Op::Put(key(1), b"x".to_vec())).expect("put");
    assert_eq!(
        run(&io, &conn, Op::Get(key(1))).expect("get"),
        Output::Value(Some(b"x".to_vec()))
    );
    run(&io, &conn, Op::Rollback).expect("rollback");
    assert_eq!(
        run(&io, &conn, Op::Get(key(1))).expect("get"),
        Output::Value(None)
    );
    run(&io, &conn, Op::Begin(TxMode::Deferred)).expect("begin");
    run(&io, &conn, Op::Get(key(1))).expect("get");
    let commit = conn.execute(&Op::Commit).expect("commit");
    assert!(
        commit.is_done(),
        "a read-only commit finishes without waiting for I/O"
    );
}

#[test]
fn misuse_is_refused_without_effect() {
    let io = Arc::new(MemoryIO::new());
    let db = open(&io);
    let conn = db.connect();
    assert_eq!(run(&io, &conn, Op::Commit), Err(Error::NoTransaction));
    assert_eq!(run(&io, &conn, Op::Rollback), Err(Error::NoTransaction));
    run(&io, &conn, Op::Begin(TxMode::Deferred)).expect("begin");
    run(&io, &conn, Op::Put(key(7), b"kept".to_vec())).expect("put");
    assert_eq!(
        run(&io, &conn, Op::Begin(TxMode::Deferred)),
        Err(Error::TransactionActive)
    );
    assert!(matches!(
        run(&io, &conn, Op::Put(vec![1; 256], vec![])),
        Err(Error::KeyTooLarge { .. })
    ));
    assert!(matches!(
        run(&io, &conn, Op::Put(key(1), vec![0; 129])),
        Err(Error::ValueTooLarge { len: 129, max: 128 })
    ));
    assert!(matches!(
        run(&io, &conn, Op::Get(vec![])),
        Err(Error::Misuse(_))
    ));
    assert!(conn.in_transaction(), "refusals leave the transaction open");
    assert_eq!(
        run(&io, &conn, Op::Commit).expect("commit"),
        Output::Committed { seq: 1 }
    );
    assert_eq!(
        run(&io, &conn, Op::Get(key(7))).expect("get"),
        Output::Value(Some(b"kept".to_vec()))
    );
}

#[test]
fn reentering_with_a_different_op_is_misuse() {
    let io = Arc::new(MemoryIO::new());
    let db = open(&io);
    let conn = db.connect();
    let first = conn.execute(&Op::Put(key(1), b"v".to_vec())).expect("put");
    assert!(!first.is_done(), "a write waits for I/O");
    assert!(matches!(
        conn.execute(&Op::Get(key(1))),
        Err(Error::Misuse(_))
    ));
    assert_eq!(
        run(&io, &conn, Op::Put(key(1), b"v".to_vec())).expect("finish"),
        Output::Done
    );
}

#[test]
fn integrity_check_reports_a_page_whose_checksum_fails() {
    use braid_core::CheckpointMode;
    use braid_core::storage::crash_io::CrashIO;
    let io = Arc::new(CrashIO::new());
    let options = DbOptions {
        page_size: 512,
        ..DbOptions::default()
    };
    let db = Database::open_blocking(io.clone(), "db", options.clone()).expect("open");
    let conn = db.connect();
    let step = |op: Op| -> Result<Output> { block_on(io.as_ref(), || conn.execute(&op)) };
    step(Op::Begin(TxMode::Immediate)).expect("begin");
    for i in 0..200 {
        step(Op::Put(key(i), vec![b'v'; 40])).expect("put");
    }
    step(Op::Commit).expect("commit");
    step(Op::Checkpoint(CheckpointMode::Truncate)).expect("checkpoint");
    assert_eq!(
        step(Op::IntegrityCheck).expect("check"),
        Output::Integrity(vec![])
    );
    drop(conn);
    drop(db);
    // Damage the third page (a B-tree page: the header is page 1 and the tree spans many).
    io.flip_bit("db", 2 * 512 + 100, 3);
    let db = Database::open_blocking(io.clone(), "db", options).expect("reopen");
    let conn = db.connect();
    let Output::Integrity(problems) =
        block_on(io.as_ref(), || conn.execute(&Op::IntegrityCheck)).expect("check runs")
    else {
        panic!("an integrity check returns a report")
    };
    assert!(
        problems.iter().any(|p| p.contains("checksum")),
        "the damaged page is reported: {problems:?}"
    );
}

/// Deleting a key from a database that has never held one changes nothing, so it commits
/// nothing (SQLite writes nothing for a DELETE that matches no row): an open snapshot stays
/// current and its transaction may still write, and an explicit transaction that only
/// deleted commits as sequence 0, without I/O.
#[test]
fn deleting_from_a_database_that_never_held_data_commits_nothing() {
    let io = Arc::new(MemoryIO::new());
    let db = open(&io);
    let (t1, t2) = (db.connect(), db.connect());
    run(&io, &t1, Op::Begin(TxMode::Deferred)).expect("begin");
    assert_eq!(
        run(&io, &t1, Op::Get(b"a".to_vec())),
        Ok(Output::Value(None))
    );
    assert_eq!(run(&io, &t2, Op::Delete(b"a".to_vec())), Ok(Output::Done));
    assert_eq!(db.commit_seq(), 0, "the delete published nothing");
    assert_eq!(
        run(&io, &t1, Op::Put(b"b".to_vec(), b"v1".to_vec())),
        Ok(Output::Done),
        "the snapshot taken before the delete is still current"
    );
    assert_eq!(run(&io, &t1, Op::Commit), Ok(Output::Committed { seq: 1 }));

    let io = Arc::new(MemoryIO::new());
    let db = open(&io);
    let conn = db.connect();
    run(&io, &conn, Op::Begin(TxMode::Immediate)).expect("begin");
    assert_eq!(run(&io, &conn, Op::Delete(b"x".to_vec())), Ok(Output::Done));
    let pending_before = io.pending();
    assert_eq!(
        run(&io, &conn, Op::Commit),
        Ok(Output::Committed { seq: 0 })
    );
    assert_eq!(io.pending(), pending_before, "no I/O");
    assert_eq!(db.commit_seq(), 0);
    // The first put still creates the tree.
    assert_eq!(
        run(&io, &conn, Op::Put(b"x".to_vec(), b"1".to_vec())),
        Ok(Output::Done)
    );
    assert_eq!(db.commit_seq(), 1);
}
