//! The Hermitage anomalies, replayed through the connection API as explicit interleavings.
//!
//! Each test is one Hermitage table: a fixed order of steps on connections T1, T2 (and T3),
//! with the expected answer of every step asserted (a value, `Busy`, `BusySnapshot`,
//! `Committed`). braid prevents each anomaly the way SQLite's WAL mode does:
//! - a deferred transaction reads from the snapshot its first read took;
//! - one write lock: a second writer gets `Busy` while it is held (and keeps its
//!   transaction);
//! - a deferred transaction whose snapshot went stale gets `BusySnapshot` at its first
//!   write, which rolls it back;
//!
//! so every history that commits is serializable. Every test starts from k1 = 10, k2 = 20,
//! committed as sequence 1, and ends by reading the whole keyspace from a fresh connection
//! (T0) to check that the outcome is one a serial order produces.

use std::sync::Arc;

use braid_core::{
    Connection, Database, DbOptions, Error, IO, MemoryIO, Op, Output, Result, TxMode, block_on,
};

const T0: usize = 0;
const T1: usize = 1;
const T2: usize = 2;
const T3: usize = 3;

/// One database, an observer T0 and three transaction connections T1..T3.
struct Table {
    io: Arc<MemoryIO>,
    conns: Vec<Connection>,
}

impl Table {
    /// k1 = 10 and k2 = 20, committed as sequence 1.
    fn new() -> Table {
        let io = Arc::new(MemoryIO::new());
        let options = DbOptions {
            page_size: 512,
            ..DbOptions::default()
        };
        let db = Database::open_blocking(io.clone(), "hermitage.db", options).expect("open");
        let conns: Vec<Connection> = (0..4).map(|_| db.connect()).collect();
        let table = Table { io, conns };
        table.step(T0, begin(), done());
        table.step(T0, put(1, 10), done());
        table.step(T0, put(2, 20), done());
        table.step(T0, commit(), committed(1));
        table
    }

    fn run(&self, conn: usize, op: &Op) -> Result<Output> {
        let io: &dyn IO = self.io.as_ref();
        let conn = &self.conns[conn];
        block_on(io, || conn.execute(op))
    }

    /// Runs `op` on connection `conn` and asserts its answer.
    #[track_caller]
    fn step(&self, conn: usize, op: Op, expected: Result<Output>) {
        let got = self.run(conn, &op);
        assert_eq!(got, expected, "T{conn}: {op:?}");
    }

    /// Asserts the whole keyspace as a fresh implicit read sees it.
    #[track_caller]
    fn final_state(&self, expected: &[(u32, u32)]) {
        self.step(T0, scan(), rows(expected));
    }

    fn conn(&self, conn: usize) -> &Connection {
        &self.conns[conn]
    }
}

fn key(k: u32) -> Vec<u8> {
    format!("k{k}").into_bytes()
}

fn value(v: u32) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn begin() -> Op {
    Op::Begin(TxMode::Deferred)
}

fn begin_immediate() -> Op {
    Op::Begin(TxMode::Immediate)
}

fn get(k: u32) -> Op {
    Op::Get(key(k))
}

fn put(k: u32, v: u32) -> Op {
    Op::Put(key(k), value(v))
}

fn delete(k: u32) -> Op {
    Op::Delete(key(k))
}

/// Every row (all keys start with "k").
fn scan() -> Op {
    Op::Scan {
        start: b"k".to_vec(),
        end: Some(b"l".to_vec()),
        limit: 100,
    }
}

fn commit() -> Op {
    Op::Commit
}

fn rollback() -> Op {
    Op::Rollback
}

fn done() -> Result<Output> {
    Ok(Output::Done)
}

fn val(v: u32) -> Result<Output> {
    Ok(Output::Value(Some(value(v))))
}

fn absent() -> Result<Output> {
    Ok(Output::Value(None))
}

fn rows(expected: &[(u32, u32)]) -> Result<Output> {
    Ok(Output::Rows(
        expected.iter().map(|&(k, v)| (key(k), value(v))).collect(),
    ))
}

fn committed(seq: u64) -> Result<Output> {
    Ok(Output::Committed { seq })
}

/// A read-only transaction commits without I/O and publishes nothing.
fn committed_read_only() -> Result<Output> {
    Ok(Output::Committed { seq: 0 })
}

fn busy() -> Result<Output> {
    Err(Error::Busy)
}

fn busy_snapshot() -> Result<Output> {
    Err(Error::BusySnapshot)
}

fn no_transaction() -> Result<Output> {
    Err(Error::NoTransaction)
}

#[test]
fn g0_dirty_write() {
    // Prevented: the single write lock makes T2's write Busy until T1 commits; T2 had not
    // read, so its retry writes on top of T1's commit (serial order T1, T2).
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, put(1, 11), done());
    t.step(T2, put(1, 12), busy());
    assert!(t.conn(T2).in_transaction(), "Busy keeps T2's transaction");
    assert_eq!(
        t.conn(T2).snapshot_seq(),
        None,
        "a Busy write takes no snapshot"
    );
    t.step(T1, put(2, 21), done());
    t.step(T1, commit(), committed(2));
    t.step(T2, put(1, 12), done());
    t.step(T2, put(2, 22), done());
    t.step(T2, commit(), committed(3));
    t.final_state(&[(1, 12), (2, 22)]);
}

#[test]
fn g1a_aborted_read() {
    // Prevented: T1's writes are private to T1 until commit; T2 reads its snapshot and the
    // rollback leaves nothing behind.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, put(1, 101), done());
    t.step(T1, put(2, 201), done());
    t.step(T2, get(1), val(10));
    t.step(T1, rollback(), done());
    t.step(T2, get(1), val(10));
    t.step(T2, get(2), val(20));
    t.step(T2, commit(), committed_read_only());
    t.final_state(&[(1, 10), (2, 20)]);
}

#[test]
fn g1b_intermediate_read() {
    // Prevented: T2 never sees T1's intermediate 101, and after T1 commits it still reads
    // its own snapshot (sequence 1), not T1's final 11.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, put(1, 101), done());
    t.step(T2, get(1), val(10));
    assert_eq!(t.conn(T2).snapshot_seq(), Some(1));
    t.step(T1, put(1, 11), done());
    t.step(T1, commit(), committed(2));
    t.step(T2, get(1), val(10));
    assert_eq!(
        t.conn(T2).snapshot_seq(),
        Some(1),
        "the snapshot never moves"
    );
    t.step(T2, commit(), committed_read_only());
    t.step(T2, get(1), val(11));
    t.final_state(&[(1, 11), (2, 20)]);
}

#[test]
fn g1c_circular_information_flow() {
    // Prevented: T2 cannot write while T1 holds the lock, and once T1 has committed T2's
    // snapshot is stale, so its write gets BusySnapshot: only T1's write survives.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, put(1, 11), done());
    t.step(T2, put(2, 22), busy());
    t.step(T1, get(2), val(20));
    t.step(T2, get(1), val(10));
    t.step(T1, commit(), committed(2));
    t.step(T2, put(2, 22), busy_snapshot());
    assert!(
        !t.conn(T2).in_transaction(),
        "BusySnapshot rolls T2 back and returns it to idle"
    );
    t.step(T2, rollback(), no_transaction());
    t.final_state(&[(1, 11), (2, 20)]);
}

#[test]
fn otv_observed_transaction_vanishes() {
    // Prevented: T3's snapshot is T1's commit; T2's later commit never shows up in it, so
    // T3 cannot see T1's k1 and then T2's k2.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T3, begin(), done());
    t.step(T1, put(1, 11), done());
    t.step(T1, put(2, 19), done());
    t.step(T2, put(1, 12), busy());
    t.step(T1, commit(), committed(2));
    t.step(T3, get(1), val(11));
    t.step(T2, put(1, 12), done());
    t.step(T2, put(2, 18), done());
    t.step(T3, get(2), val(19));
    t.step(T2, commit(), committed(3));
    t.step(T3, get(2), val(19));
    t.step(T3, get(1), val(11));
    t.step(T3, commit(), committed_read_only());
    t.final_state(&[(1, 12), (2, 18)]);
}

#[test]
fn pmp_predicate_many_preceders_read() {
    // Prevented: T1's repeated range scan reads the same snapshot, so a row T2 inserted
    // and committed in between does not appear.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, scan(), rows(&[(1, 10), (2, 20)]));
    t.step(T2, put(3, 30), done());
    t.step(T2, commit(), committed(2));
    t.step(T1, scan(), rows(&[(1, 10), (2, 20)]));
    t.step(T1, get(3), absent());
    t.step(T1, commit(), committed_read_only());
    t.final_state(&[(1, 10), (2, 20), (3, 30)]);
}

#[test]
fn pmp_predicate_many_preceders_write() {
    // Prevented: T2 chose its delete from a scan of a snapshot that T1's commit made
    // stale, so the delete gets BusySnapshot instead of acting on an old predicate.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, scan(), rows(&[(1, 10), (2, 20)]));
    t.step(T1, put(1, 20), done());
    t.step(T1, put(2, 30), done());
    t.step(T2, scan(), rows(&[(1, 10), (2, 20)]));
    t.step(T1, commit(), committed(2));
    // T2: "delete where value = 20" picked k2 from its snapshot.
    t.step(T2, delete(2), busy_snapshot());
    t.final_state(&[(1, 20), (2, 30)]);
}

#[test]
fn p4_lost_update() {
    // Prevented: both read k1 = 10; T2's write is Busy while T1 holds the lock and
    // BusySnapshot once T1 committed, so T1's increment is never overwritten.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, get(1), val(10));
    t.step(T2, get(1), val(10));
    t.step(T1, put(1, 11), done());
    t.step(T2, put(1, 11), busy());
    t.step(T1, commit(), committed(2));
    t.step(T2, put(1, 11), busy_snapshot());
    t.step(T2, commit(), no_transaction());
    t.final_state(&[(1, 11), (2, 20)]);
}

#[test]
fn p4_lost_update_with_immediate_transactions() {
    // Prevented: Begin(Immediate) takes the write lock up front, so T2's begin is Busy
    // (leaving T2 outside any transaction) and its retry reads T1's result.
    let t = Table::new();
    t.step(T1, begin_immediate(), done());
    t.step(T2, begin_immediate(), busy());
    assert!(
        !t.conn(T2).in_transaction(),
        "a Busy begin leaves the connection idle"
    );
    t.step(T1, get(1), val(10));
    t.step(T1, put(1, 11), done());
    t.step(T2, begin_immediate(), busy());
    t.step(T1, commit(), committed(2));
    t.step(T2, begin_immediate(), done());
    assert_eq!(
        t.conn(T2).snapshot_seq(),
        Some(2),
        "an immediate begin takes the snapshot"
    );
    t.step(T2, get(1), val(11));
    t.step(T2, put(1, 12), done());
    t.step(T2, commit(), committed(3));
    t.final_state(&[(1, 12), (2, 20)]);
}

#[test]
fn g_single_read_skew() {
    // Prevented: T1 reads k1 and k2 from one snapshot, so it sees both before T2's
    // transfer (10 + 20), never half of it.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, get(1), val(10));
    t.step(T2, get(1), val(10));
    t.step(T2, get(2), val(20));
    t.step(T2, put(1, 12), done());
    t.step(T2, put(2, 18), done());
    t.step(T2, commit(), committed(2));
    t.step(T1, get(2), val(20));
    t.step(T1, commit(), committed_read_only());
    t.final_state(&[(1, 12), (2, 18)]);
}

#[test]
fn g_single_read_skew_with_predicate() {
    // Prevented: T1's range scan after T2's commit still reads T1's snapshot.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, get(1), val(10));
    t.step(T2, put(1, 12), done());
    t.step(T2, put(2, 18), done());
    t.step(T2, commit(), committed(2));
    t.step(T1, scan(), rows(&[(1, 10), (2, 20)]));
    t.step(T1, commit(), committed_read_only());
    t.final_state(&[(1, 12), (2, 18)]);
}

#[test]
fn g_single_read_skew_with_write() {
    // Prevented: T1 read k1 before T2's commit; its write after that commit gets
    // BusySnapshot (and Busy while T2 still held the lock).
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, get(1), val(10));
    t.step(T2, put(1, 12), done());
    t.step(T1, delete(2), busy());
    t.step(T2, put(2, 18), done());
    t.step(T2, commit(), committed(2));
    t.step(T1, delete(2), busy_snapshot());
    t.final_state(&[(1, 12), (2, 18)]);
}

#[test]
fn g2_item_write_skew() {
    // Prevented: both read k1 and k2; only one of them can turn its read snapshot into a
    // write transaction, the other gets Busy and then BusySnapshot.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, get(1), val(10));
    t.step(T1, get(2), val(20));
    t.step(T2, get(1), val(10));
    t.step(T2, get(2), val(20));
    t.step(T1, put(1, 11), done());
    t.step(T2, put(2, 21), busy());
    t.step(T1, commit(), committed(2));
    t.step(T2, put(2, 21), busy_snapshot());
    t.final_state(&[(1, 11), (2, 20)]);
}

#[test]
fn g2_anti_dependency_cycle_with_scans() {
    // Prevented: both scan the range and insert into it; the second inserter's snapshot
    // is stale once the first commits, so it gets BusySnapshot and no cycle forms.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, scan(), rows(&[(1, 10), (2, 20)]));
    t.step(T2, scan(), rows(&[(1, 10), (2, 20)]));
    t.step(T1, put(3, 30), done());
    t.step(T2, put(4, 42), busy());
    t.step(T1, commit(), committed(2));
    t.step(T2, put(4, 42), busy_snapshot());
    t.final_state(&[(1, 10), (2, 20), (3, 30)]);
}

#[test]
fn g2_two_edges() {
    // Prevented: T3 observes T2's commit, and T1 (whose scan predates T2) can no longer
    // write: its first write gets BusySnapshot, so T1 -rw-> T2 -wr-> T3 -rw-> T1 is broken.
    let t = Table::new();
    t.step(T1, begin(), done());
    t.step(T2, begin(), done());
    t.step(T1, scan(), rows(&[(1, 10), (2, 20)]));
    t.step(T2, put(2, 25), done());
    t.step(T2, commit(), committed(2));
    t.step(T3, begin(), done());
    t.step(T3, scan(), rows(&[(1, 10), (2, 25)]));
    t.step(T3, commit(), committed_read_only());
    t.step(T1, put(1, 0), busy_snapshot());
    t.final_state(&[(1, 10), (2, 25)]);
}
