//! The KV adapter over turso_core on braid's in-memory I/O, driven to completion op by op.

use std::sync::Arc;

use braid_core::IO as _;
use braid_oracle::{Op, OpError, OpOutput, TxMode};
use braid_turso::{KvStep, SyncMode, TursoConn, TursoDb, TursoOpener, TursoSettings};

fn settings() -> TursoSettings {
    TursoSettings {
        page_size: 4096,
        cache_pages: 100,
        sync: SyncMode::Full,
        seed: 7,
    }
}

fn wait(io: &braid_core::MemoryIO, c: &braid_core::Completion) {
    while !c.finished() {
        assert!(io.pending() > 0, "waiting with no I/O pending");
        io.step().unwrap();
    }
}

fn open(io: &Arc<braid_core::MemoryIO>) -> Arc<TursoDb> {
    let mut opener = TursoOpener::new(io.clone(), "braid.db", settings());
    loop {
        match opener.step() {
            KvStep::Done(db) => return db,
            KvStep::Wait(c) => wait(io, &c),
            KvStep::Failed(e) => panic!("open failed: {e:?}"),
        }
    }
}

fn exec(io: &braid_core::MemoryIO, conn: &TursoConn, op: Op) -> Result<OpOutput, OpError> {
    loop {
        match conn.execute(&op) {
            KvStep::Done(out) => return Ok(out),
            KvStep::Failed(e) => return Err(e),
            KvStep::Wait(c) => wait(io, &c),
        }
    }
}

fn put(k: &str, v: &str) -> Op {
    Op::Put(k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

#[test]
fn ops_round_trip_and_commits_count() {
    let io = Arc::new(braid_core::MemoryIO::new());
    let db = open(&io);
    assert_eq!(db.commit_seq(), 0);
    let a = TursoConn::connect(&db);
    exec(&io, &a, put("k1", "v1")).unwrap();
    assert_eq!(a.claims().commit_seq, Some(1));
    exec(&io, &a, put("k1", "v1")).unwrap();
    assert_eq!(
        a.claims().commit_seq,
        Some(0),
        "an unchanged value commits nothing"
    );
    exec(&io, &a, Op::Begin(TxMode::Deferred)).unwrap();
    exec(&io, &a, put("k2", "v2")).unwrap();
    exec(&io, &a, Op::Delete(b"k1".to_vec())).unwrap();
    assert_eq!(
        exec(&io, &a, Op::Commit).unwrap(),
        OpOutput::Committed { seq: 2 }
    );
    let got = exec(&io, &a, Op::Get(b"k2".to_vec())).unwrap();
    assert_eq!(got, OpOutput::Value(Some(b"v2".to_vec())));
    let rows = exec(
        &io,
        &a,
        Op::Scan {
            start: vec![],
            end: None,
            limit: 10,
        },
    )
    .unwrap();
    assert_eq!(rows, OpOutput::Rows(vec![(b"k2".to_vec(), b"v2".to_vec())]));
    assert_eq!(
        exec(&io, &a, Op::IntegrityCheck).unwrap(),
        OpOutput::Integrity(vec![])
    );
    assert_eq!(db.commit_seq(), 2);
}

#[test]
fn busy_in_an_explicit_transaction_reports_what_happened_to_it() {
    let io = Arc::new(braid_core::MemoryIO::new());
    let db = open(&io);
    let a = TursoConn::connect(&db);
    let b = TursoConn::connect(&db);
    exec(&io, &a, Op::Begin(TxMode::Immediate)).unwrap();
    exec(&io, &a, put("a", "1")).unwrap();
    exec(&io, &b, Op::Begin(TxMode::Deferred)).unwrap();
    let err = exec(&io, &b, put("b", "1")).unwrap_err();
    match err {
        OpError::Busy => assert!(b.in_transaction(), "Busy must leave the transaction open"),
        OpError::BusySnapshot => assert!(!b.in_transaction(), "the transaction ended"),
        other => panic!("expected busy, got {other:?}"),
    }
    let open_after = b.in_transaction();
    exec(&io, &a, Op::Commit).unwrap();
    eprintln!("err {err:?} open_after {open_after}");
    let again = exec(&io, &b, put("b", "2"));
    eprintln!("again {again:?} in_txn {}", b.in_transaction());
    if open_after {
        assert!(
            b.in_transaction(),
            "a retried write stays in the transaction"
        );
    }
}
