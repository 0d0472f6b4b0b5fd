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
//!
//! After the tables, random interleavings of random transactions on `ShuffleIO` (random
//! completion order, injected yields) are checked op by op against a versioned model in
//! commit order, and that checker is itself shown to reject forged answers.

use std::sync::Arc;

use braid_core::{
    Connection, Database, DbOptions, Error, IO, IOResult, MemoryIO, Op, Output, Result, TxMode,
    block_on,
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
    // Prevented: the one write lock makes T2 Busy until T1 commits; T2 then writes after T1.
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
    // Prevented: T1's writes stay private until commit; T2 reads its snapshot throughout.
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
    // Prevented: T2 reads its snapshot (seq 1): neither T1's 101 nor its committed 11.
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
    // Prevented: T2 is Busy while T1 writes, then BusySnapshot: only T1's write lands.
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
    // Prevented: T3 reads one snapshot (T1's commit), so T2's commit never shows up in it.
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
    // Prevented: T1's repeated scan reads one snapshot, so T2's insert never appears.
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
    // Prevented: T2's delete was chosen on a snapshot T1 made stale, so it gets BusySnapshot.
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
    // Prevented: T2's write is Busy, then BusySnapshot once T1 commits its increment.
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
    // Prevented: T2's Begin(Immediate) is Busy (T2 stays idle); its retry reads T1's 11.
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
    // Prevented: T1 reads k1 and k2 from one snapshot, so it never sees half a transfer.
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
    // Prevented: T1's scan after T2's commit still reads T1's snapshot.
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
    // Prevented: T1's write is Busy while T2 writes and BusySnapshot after T2 commits.
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
    // Prevented: only T1 upgrades to a writer; T2 gets Busy, then BusySnapshot.
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
    // Prevented: both scan and insert; the second inserter gets Busy, then BusySnapshot.
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
    // Prevented: T1's scan predates T2's commit, so T1's first write gets BusySnapshot.
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

// ---------------------------------------------------------------------------------------
// Beyond the tables: random interleavings of random transactions on a hostile I/O
// (`ShuffleIO` completes pending I/O in random order and injects yields at every yield
// point), checked step by step against a versioned model in commit order.

type Keyspace = std::collections::BTreeMap<Vec<u8>, Vec<u8>>;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// One client: a connection running a program of ops, one `execute` call per step.
struct Client {
    conn: Connection,
    program: Vec<Op>,
    next: usize,
    waiting: Option<braid_core::IOCompletions>,
    /// The transaction's own puts and deletes, for read-your-writes.
    writes: Keyspace,
    deleted: std::collections::BTreeSet<Vec<u8>>,
    /// The snapshot the open transaction reads, once it took one.
    snapshot: Option<u64>,
    /// The last commit acknowledged when the transaction began.
    floor: u64,
    /// Whether the commit this op publishes is already in the model: a commit is visible
    /// to others from its publish on, even while its op still runs (an auto-checkpoint).
    published: bool,
}

impl Client {
    fn new(conn: Connection, program: Vec<Op>) -> Client {
        Client {
            conn,
            program,
            next: 0,
            waiting: None,
            writes: Keyspace::new(),
            deleted: Default::default(),
            snapshot: None,
            floor: 0,
            published: false,
        }
    }
}

fn random_program(rng: &mut Rng, id: usize, serial: &mut u32) -> Vec<Op> {
    let mut op = |rng: &mut Rng| -> Op {
        *serial += 1;
        let k = rng.below(8) as u32;
        match rng.below(10) {
            0..=3 => get(k),
            4..=6 => put(k, id as u32 * 100_000 + *serial),
            7 => delete(k),
            _ => Op::Scan {
                start: key(k),
                end: (rng.below(2) == 0).then(|| key(k + 1 + rng.below(4) as u32)),
                limit: 1 + rng.below(6) as usize,
            },
        }
    };
    match rng.below(12) {
        0 => {
            let modes = [
                braid_core::CheckpointMode::Passive,
                braid_core::CheckpointMode::Full,
                braid_core::CheckpointMode::Restart,
                braid_core::CheckpointMode::Truncate,
            ];
            vec![Op::Checkpoint(modes[rng.below(4) as usize])]
        }
        1..=3 => vec![op(rng)],
        _ => {
            let mode = if rng.below(4) == 0 {
                TxMode::Immediate
            } else {
                TxMode::Deferred
            };
            let mut program = vec![Op::Begin(mode)];
            for _ in 0..1 + rng.below(5) {
                program.push(op(rng));
            }
            program.push(if rng.below(8) == 0 {
                Op::Rollback
            } else {
                Op::Commit
            });
            program
        }
    }
}

/// The model at `snapshot` with `client`'s own writes on top.
fn view(states: &[Keyspace], client: &Client, snapshot: u64) -> Keyspace {
    assert!(
        (snapshot as usize) < states.len(),
        "snapshot {snapshot} sees a commit the model never saw published"
    );
    let mut view = states[snapshot as usize].clone();
    for k in &client.deleted {
        view.remove(k);
    }
    view.extend(client.writes.iter().map(|(k, v)| (k.clone(), v.clone())));
    view
}

/// Adds the commit `client`'s running op published to the model, once.
fn record_publish(states: &mut Vec<Keyspace>, client: &mut Client) {
    let claims = client.conn.last_claims();
    let Some(seq) = claims.commit_seq.filter(|&s| s != 0) else {
        return;
    };
    if client.published {
        return; // other writers may have committed since: the lock went with the publish
    }
    let latest = states.len() as u64 - 1;
    let snap = claims.snapshot_seq.expect("a writer has a snapshot");
    assert_eq!(seq, latest + 1, "commit sequences grow by one");
    assert_eq!(
        snap, latest,
        "a writer's snapshot is the commit before its own"
    );
    let after = view(states, client, snap);
    states.push(after);
    client.published = true;
}

/// Checks one finished op against the model; returns true when the program is over.
fn check_done(states: &mut Vec<Keyspace>, client: &mut Client, op: &Op, output: Output) -> bool {
    let claims = client.conn.last_claims();
    let explicit = client.conn.in_transaction();
    if let Some(seq) = claims.snapshot_seq {
        assert!(
            seq >= client.floor,
            "snapshot {seq} older than acknowledged {}",
            client.floor
        );
        match client.snapshot {
            Some(held) if explicit => assert_eq!(seq, held, "{op:?}: a snapshot never moves"),
            _ if explicit => client.snapshot = Some(seq),
            _ => {}
        }
    }
    match (op, output) {
        (Op::Begin(_), Output::Done) => {}
        (Op::Get(k), Output::Value(v)) => {
            let snap = claims.snapshot_seq.expect("a read takes a snapshot");
            assert_eq!(
                v.as_ref(),
                view(states, client, snap).get(k),
                "{op:?} at {snap}"
            );
        }
        (Op::Scan { start, end, limit }, Output::Rows(rows)) => {
            let snap = claims.snapshot_seq.expect("a scan takes a snapshot");
            let expected: Vec<_> = view(states, client, snap)
                .into_iter()
                .filter(|(k, _)| k >= start && end.as_ref().is_none_or(|e| k < e))
                .take(*limit)
                .collect();
            assert_eq!(rows, expected, "{op:?} at {snap}");
        }
        (Op::Put(k, v), Output::Done) => {
            client.deleted.remove(k);
            client.writes.insert(k.clone(), v.clone());
        }
        (Op::Delete(k), Output::Done) => {
            client.writes.remove(k);
            client.deleted.insert(k.clone());
        }
        (Op::Commit, Output::Committed { .. }) | (Op::Rollback, Output::Done) => {}
        (Op::Checkpoint(_), Output::Checkpointed(_)) => return true,
        (op, output) => panic!("{op:?} answered {output:?}"),
    }
    let write = op.is_write() || *op == Op::Commit;
    if write && !explicit {
        // The op ended a write transaction (an explicit commit or an implicit write).
        if claims.commit_seq.is_some_and(|s| s != 0) {
            record_publish(states, client);
        } else {
            let snap = claims.snapshot_seq.expect("a writer has a snapshot");
            let after = view(states, client, snap);
            assert_eq!(after, states[snap as usize], "no commit, so no change");
        }
    }
    if !explicit {
        client.writes.clear();
        client.deleted.clear();
        client.snapshot = None;
        client.published = false;
    }
    client.next += 1;
    client.next == client.program.len()
}

/// Runs one seeded interleaving; returns (commits, Busy answers, BusySnapshot answers).
fn run_interleaving(seed: u64, clients: usize, steps: usize) -> (usize, usize, usize) {
    let io = Arc::new(braid_core::ShuffleIO::with_yields(seed, 150_000));
    let options = DbOptions {
        page_size: 512,
        cache_pages: 12,
        autocheckpoint_frames: 30,
        yield_injector: Some(io.injector()),
        ..DbOptions::default()
    };
    let db = Database::open_blocking(io.clone(), "mix.db", options).expect("open");
    let mut rng = Rng(seed);
    let mut serial = 0;
    let mut states: Vec<Keyspace> = vec![Keyspace::new()];
    let mut all: Vec<Client> = (0..clients)
        .map(|id| Client::new(db.connect(), random_program(&mut rng, id, &mut serial)))
        .collect();
    let (mut busy, mut stale) = (0, 0);
    for _ in 0..steps {
        if io.pending() > 0 && rng.below(3) == 0 {
            io.step().expect("step");
            continue;
        }
        let id = rng.below(clients as u64) as usize;
        let client = &mut all[id];
        if client.waiting.as_ref().is_some_and(|w| !w.finished()) {
            continue;
        }
        client.waiting = None;
        let op = client.program[client.next].clone();
        if client.next == 0 {
            client.floor = states.len() as u64 - 1;
        }
        let over = match client.conn.execute(&op) {
            Ok(IOResult::IO(waiting)) => {
                client.waiting = Some(waiting);
                record_publish(&mut states, client);
                false
            }
            Ok(IOResult::Done(output)) => check_done(&mut states, client, &op, output),
            Err(Error::Busy) => {
                busy += 1;
                assert_eq!(
                    client.conn.in_transaction(),
                    client.next > 0,
                    "Busy keeps an open transaction and opens none"
                );
                false
            }
            Err(Error::BusySnapshot) => {
                stale += 1;
                assert!(
                    !client.conn.in_transaction(),
                    "BusySnapshot ends the transaction"
                );
                true
            }
            Err(e) => panic!("client {id}: {op:?} failed: {e}"),
        };
        if over {
            client.program = random_program(&mut rng, id, &mut serial);
            client.next = 0;
            client.writes.clear();
            client.deleted.clear();
            client.snapshot = None;
            client.published = false;
        }
    }
    let observer = db.connect();
    let io_ref: &dyn IO = io.as_ref();
    let scan = Op::Scan {
        start: vec![0],
        end: None,
        limit: usize::MAX,
    };
    let Ok(Output::Rows(rows)) = block_on(io_ref, || observer.execute(&scan)) else {
        panic!("final scan")
    };
    let last = states.last().expect("state 0");
    assert_eq!(
        &rows.into_iter().collect::<Keyspace>(),
        last,
        "the final state"
    );
    let check = block_on(io_ref, || observer.execute(&Op::IntegrityCheck));
    assert_eq!(check, Ok(Output::Integrity(vec![])));
    (states.len() - 1, busy, stale)
}

#[test]
fn random_interleavings_are_serializable_in_commit_order() {
    let (mut commits, mut busy, mut stale) = (0, 0, 0);
    for seed in 1..=6 {
        let (c, b, s) = run_interleaving(seed, 3, 6_000);
        commits += c;
        busy += b;
        stale += s;
    }
    assert!(commits >= 300, "the runs commit ({commits})");
    assert!(busy >= 10, "writers meet the lock ({busy})");
    assert!(stale >= 10, "stale snapshots meet a commit ({stale})");
}

/// The seeded table (commit 1) and a client whose connection just read k2 = 20.
fn checked_read() -> (Vec<Keyspace>, Client) {
    let t = Table::new();
    let client = Client::new(t.conns[T2].database().connect(), vec![get(2)]);
    let io: &dyn IO = t.io.as_ref();
    let read = block_on(io, || client.conn.execute(&get(2)));
    assert_eq!(read, val(20));
    let states = vec![
        Keyspace::new(),
        Keyspace::from([(key(1), value(10)), (key(2), value(20))]),
    ];
    (states, client)
}

#[test]
#[should_panic(expected = "at 1")]
fn interleaving_checker_rejects_a_wrong_read() {
    let (mut states, mut client) = checked_read();
    let forged = Output::Value(Some(value(21)));
    check_done(&mut states, &mut client, &get(2), forged);
}

#[test]
#[should_panic(expected = "never saw published")]
fn interleaving_checker_rejects_a_read_of_an_unknown_commit() {
    let (mut states, mut client) = checked_read();
    states.pop();
    check_done(
        &mut states,
        &mut client,
        &get(2),
        Output::Value(Some(value(20))),
    );
}

#[test]
#[should_panic(expected = "commit sequences grow by one")]
fn interleaving_checker_rejects_a_skipped_commit_sequence() {
    let t = Table::new();
    let io: &dyn IO = t.io.as_ref();
    let mut client = Client::new(t.conns[T1].database().connect(), vec![put(1, 11)]);
    let write = block_on(io, || client.conn.execute(&put(1, 11)));
    assert_eq!(write, done());
    // The model lost commit 1, so the engine's commit 2 looks like a skip.
    let mut states = vec![Keyspace::new()];
    check_done(&mut states, &mut client, &put(1, 11), Output::Done);
}
