//! The durability contract (core/src/db/connection.rs; the oracle's crash rules in
//! oracle/src/model/recovery.rs) through the connection API, on `CrashIO`
//! (a crash keeps exactly what completed fsyncs made durable).
//!
//! - sync = full: every commit acknowledged before a crash survives it; a commit cut by
//!   the crash is in doubt and survives wholly or not at all.
//! - A failed WAL fsync poisons the database; reopening recovers the failed commit wholly
//!   or not at all, with everything acknowledged before it.
//! - sync = normal: the recovered state is the state after a prefix of the commit order.
//! - Checkpoints (each mode) keep everything across a crash; commit sequences keep
//!   growing across checkpoints, WAL resets and reopens; a torn WAL tail is ignored.
//!
//! Every test uses fixed seeds and small counts.

use std::collections::BTreeMap;
use std::sync::Arc;

use braid_core::storage::crash_io::CrashIO;
use braid_core::storage::wal::format::{WAL_HEADER_SIZE, frame_size};
use braid_core::{
    CheckpointMode, Connection, Database, DbOptions, Error, IO, IOResult, Op, Output, Result,
    SyncMode, TxMode, block_on,
};

const PATH: &str = "durable.db";
const WAL_PATH: &str = "durable.db-wal";
const PAGE_SIZE: usize = 512;

type Keyspace = BTreeMap<Vec<u8>, Vec<u8>>;

/// A small deterministic generator (SplitMix64), so the tests need no RNG crate API.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn per_mille(&mut self, p: u64) -> bool {
        self.below(1000) < p
    }
}

fn options(sync: SyncMode, autocheckpoint_frames: u64) -> DbOptions {
    DbOptions {
        page_size: PAGE_SIZE,
        cache_pages: 16,
        sync,
        autocheckpoint_frames,
        ..DbOptions::default()
    }
}

fn key(k: u64) -> Vec<u8> {
    format!("key{k:03}").into_bytes()
}

/// A value of `len` bytes that names the transaction and key it was written by.
fn value(txn: u64, k: u64, len: usize) -> Vec<u8> {
    let tag = format!("t{txn}k{k};");
    tag.bytes().cycle().take(len.max(1)).collect()
}

/// A database on a crash-capable disk, with one connection.
struct Disk {
    crash: CrashIO,
    /// Some(seed): crashes tear unsynced writes (`CrashIO::crash_torn`), seeds counting
    /// up from this one; None: crashes drop unsynced writes whole.
    torn_seed: std::cell::Cell<Option<u64>>,
    io: Arc<dyn IO>,
    options: DbOptions,
    /// None only while reopening.
    open: Option<(Arc<Database>, Connection)>,
}

impl Disk {
    /// In-order completions, crashes drop unsynced writes whole.
    fn new(options: DbOptions) -> Disk {
        Disk::on(CrashIO::new(), None, options)
    }

    /// Completions in a seeded random order, crashes tear unsynced writes.
    fn hostile(seed: u64, options: DbOptions) -> Disk {
        Disk::on(CrashIO::shuffled(seed), Some(seed), options)
    }

    fn on(crash: CrashIO, torn_seed: Option<u64>, options: DbOptions) -> Disk {
        let io: Arc<dyn IO> = Arc::new(crash.clone());
        let mut disk = Disk {
            crash,
            torn_seed: std::cell::Cell::new(torn_seed),
            io,
            options,
            open: None,
        };
        disk.reopen();
        disk
    }

    /// Drops the database and its connections, then opens it again (recovery runs).
    fn reopen(&mut self) {
        self.open = None;
        let db = Database::open_blocking(self.io.clone(), PATH, self.options.clone())
            .expect("open runs recovery");
        let conn = db.connect();
        self.open = Some((db, conn));
    }

    /// Loses (or tears) every write no completed fsync covered; pending I/O is aborted.
    fn crash_now(&self) {
        match self.torn_seed.get() {
            Some(seed) => {
                self.crash.crash_torn(seed);
                self.torn_seed.set(Some(seed + 1));
            }
            None => self.crash.crash(),
        }
    }

    /// Crashes, then reopens.
    fn crash_and_reopen(&mut self) {
        self.crash_now();
        self.reopen();
    }

    fn db(&self) -> &Arc<Database> {
        &self.open.as_ref().expect("the database is open").0
    }

    fn conn(&self) -> &Connection {
        &self.open.as_ref().expect("the database is open").1
    }

    fn run_on(&self, conn: &Connection, op: &Op) -> Result<Output> {
        block_on(self.io.as_ref(), || conn.execute(op))
    }

    fn run(&self, op: &Op) -> Result<Output> {
        self.run_on(self.conn(), op)
    }

    /// Runs `op`, but at each wait for I/O crashes with probability `crash_per_mille`
    /// (before the awaited I/O completes). None when it crashed; reopen afterwards.
    fn run_or_crash(&self, op: &Op, rng: &mut Rng, crash_per_mille: u64) -> Option<Result<Output>> {
        loop {
            match self.conn().execute(op) {
                Err(e) => return Some(Err(e)),
                Ok(IOResult::Done(output)) => return Some(Ok(output)),
                Ok(IOResult::IO(waiting)) => {
                    if rng.per_mille(crash_per_mille) {
                        self.crash_now();
                        return None;
                    }
                    while !waiting.finished() {
                        assert!(self.io.pending() > 0, "waiting on I/O that never completes");
                        self.io.step().expect("step");
                    }
                }
            }
        }
    }

    /// The whole keyspace, read in one implicit transaction.
    fn contents(&self) -> Keyspace {
        let scan = Op::Scan {
            start: vec![0],
            end: None,
            limit: usize::MAX,
        };
        match self.run(&scan).expect("scan") {
            Output::Rows(rows) => rows.into_iter().collect(),
            other => panic!("a scan returns rows, got {other:?}"),
        }
    }

    #[track_caller]
    fn assert_integrity(&self) {
        assert_eq!(
            self.run(&Op::IntegrityCheck).expect("integrity check"),
            Output::Integrity(vec![]),
            "integrity check after reopen"
        );
    }

    /// Commits `writes` (None = delete) in one explicit transaction; returns its sequence.
    fn commit_writes(&self, writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> u64 {
        self.run(&Op::Begin(TxMode::Deferred)).expect("begin");
        for (k, v) in writes {
            let op = match v {
                Some(v) => Op::Put(k.clone(), v.clone()),
                None => Op::Delete(k.clone()),
            };
            self.run(&op).expect("write");
        }
        match self.run(&Op::Commit).expect("commit") {
            Output::Committed { seq } => seq,
            other => panic!("commit answers Committed, got {other:?}"),
        }
    }
}

fn apply(model: &mut Keyspace, writes: &[(Vec<u8>, Option<Vec<u8>>)]) {
    for (k, v) in writes {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

/// A random transaction: 1..=6 puts and deletes over 60 keys, values of 1..=120 bytes.
fn random_writes(rng: &mut Rng, txn: u64) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let count = 1 + rng.below(6);
    (0..count)
        .map(|_| {
            let k = rng.below(60);
            let v = if rng.per_mille(250) {
                None
            } else {
                Some(value(txn, k, 1 + rng.below(120) as usize))
            };
            (key(k), v)
        })
        .collect()
}

/// What one random transaction did to the disk.
enum TxnOutcome {
    /// Acknowledged; None when it changed nothing, so it published no commit.
    Committed(Option<u64>),
    /// The crash hit before the commit op started: nothing of it may survive.
    CrashedBeforeCommit,
    /// The crash hit inside the commit op: in doubt.
    CrashedInCommit,
}

/// Runs `writes` as one transaction (explicit, or implicit when it is a single write),
/// with random crashes; reads back one written key inside the transaction.
fn run_random_txn(
    disk: &Disk,
    rng: &mut Rng,
    writes: &[(Vec<u8>, Option<Vec<u8>>)],
    crash_per_mille: u64,
) -> TxnOutcome {
    let write_op = |(k, v): &(Vec<u8>, Option<Vec<u8>>)| match v {
        Some(v) => Op::Put(k.clone(), v.clone()),
        None => Op::Delete(k.clone()),
    };
    if writes.len() == 1 {
        // An implicit transaction: the write op is also the commit.
        return match disk.run_or_crash(&write_op(&writes[0]), rng, crash_per_mille) {
            None => TxnOutcome::CrashedInCommit,
            Some(result) => {
                assert_eq!(result, Ok(Output::Done), "implicit write");
                TxnOutcome::Committed(disk.conn().last_claims().commit_seq)
            }
        };
    }
    let mut ops = vec![Op::Begin(TxMode::Deferred)];
    ops.extend(writes.iter().map(write_op));
    let (last_key, last_value) = writes.last().expect("at least one write").clone();
    ops.push(Op::Get(last_key));
    for op in &ops {
        match disk.run_or_crash(op, rng, crash_per_mille) {
            None => return TxnOutcome::CrashedBeforeCommit,
            Some(Ok(Output::Value(v))) => assert_eq!(v, last_value, "reads its own write"),
            Some(Ok(Output::Done)) => {}
            Some(other) => panic!("{op:?} answered {other:?}"),
        }
    }
    match disk.run_or_crash(&Op::Commit, rng, crash_per_mille) {
        None => TxnOutcome::CrashedInCommit,
        Some(Ok(Output::Committed { seq })) => TxnOutcome::Committed((seq != 0).then_some(seq)),
        Some(other) => panic!("commit answered {other:?}"),
    }
}

/// Runs a checkpoint in a random mode, perhaps crashing; true if it crashed.
fn random_checkpoint(disk: &Disk, rng: &mut Rng, crash_per_mille: u64) -> bool {
    let modes = [
        CheckpointMode::Passive,
        CheckpointMode::Full,
        CheckpointMode::Restart,
        CheckpointMode::Truncate,
    ];
    let mode = modes[rng.below(4) as usize];
    match disk.run_or_crash(&Op::Checkpoint(mode), rng, crash_per_mille) {
        None => true,
        Some(Ok(Output::Checkpointed(_))) => false,
        Some(other) => panic!("checkpoint {mode:?} answered {other:?}"),
    }
}

#[test]
fn full_sync_acknowledged_commits_survive_random_crashes() {
    full_sync_under_crashes(Disk::new(options(SyncMode::Full, 40)), 0x5eed_0001);
}

#[test]
fn full_sync_acknowledged_commits_survive_torn_crashes_with_shuffled_io() {
    for seed in [11, 12] {
        full_sync_under_crashes(Disk::hostile(seed, options(SyncMode::Full, 40)), seed);
    }
}

/// 300 random transactions and checkpoints with random crashes: after each crash every
/// acknowledged commit is there and the one in doubt wholly or not at all.
fn full_sync_under_crashes(mut disk: Disk, seed: u64) {
    let mut rng = Rng(seed);
    let mut acked = Keyspace::new();
    let mut acked_seq = 0u64;
    let mut crashes = 0;
    for txn in 1..=300u64 {
        if rng.per_mille(60) && random_checkpoint(&disk, &mut rng, 20) {
            disk.reopen();
            crashes += 1;
            assert_eq!(
                disk.db().commit_seq(),
                acked_seq,
                "a checkpoint crash loses nothing"
            );
            assert_eq!(disk.contents(), acked, "a checkpoint crash loses nothing");
            continue;
        }
        let writes = random_writes(&mut rng, txn);
        let mut next = acked.clone();
        apply(&mut next, &writes);
        match run_random_txn(&disk, &mut rng, &writes, 20) {
            TxnOutcome::Committed(None) => {
                assert_eq!(
                    next, acked,
                    "only a transaction that changed nothing publishes nothing"
                );
                continue;
            }
            TxnOutcome::Committed(Some(seq)) => {
                assert_eq!(seq, acked_seq + 1, "commit sequences grow by one");
                acked = next;
                acked_seq = seq;
                continue;
            }
            TxnOutcome::CrashedBeforeCommit => {
                disk.reopen();
                assert_eq!(disk.db().commit_seq(), acked_seq, "no commit was attempted");
            }
            TxnOutcome::CrashedInCommit => {
                disk.reopen();
                let seq = disk.db().commit_seq();
                assert!(
                    seq == acked_seq || seq == acked_seq + 1,
                    "recovered seq {seq}: the acknowledged {acked_seq} or the one in doubt"
                );
                if seq == acked_seq + 1 {
                    acked = next;
                    acked_seq = seq;
                }
            }
        }
        crashes += 1;
        assert_eq!(
            disk.contents(),
            acked,
            "after crash {crashes}: every acknowledged commit, the one in doubt wholly or not"
        );
        disk.assert_integrity();
    }
    assert!(crashes >= 10, "the seed crashes often enough ({crashes})");
    assert!(
        acked_seq >= 150,
        "most transactions committed ({acked_seq})"
    );
    disk.crash_and_reopen();
    assert_eq!(
        disk.contents(),
        acked,
        "a final crash at rest loses nothing"
    );
}

#[test]
fn normal_sync_recovers_a_prefix_of_the_commit_order() {
    normal_sync_under_crashes(Disk::new(options(SyncMode::Normal, 25)), 0x5eed_0002);
}

#[test]
fn normal_sync_recovers_a_prefix_after_torn_crashes_with_shuffled_io() {
    for seed in [22, 24] {
        normal_sync_under_crashes(Disk::hostile(seed, options(SyncMode::Normal, 25)), seed);
    }
}

#[test]
fn normal_sync_torn_crashes_seeds_that_found_storage_bugs() {
    for seed in [21, 27, 23, 29] {
        normal_sync_under_crashes(Disk::hostile(seed, options(SyncMode::Normal, 25)), seed);
    }
}

/// 300 random transactions with random crashes under sync = normal: each recovery yields
/// the state after some prefix of the commit order.
fn normal_sync_under_crashes(mut disk: Disk, seed: u64) {
    let mut rng = Rng(seed);
    // states[s] is the keyspace after commit s.
    let mut states: Vec<Keyspace> = vec![Keyspace::new()];
    let mut crashes = 0;
    let mut lost_commits = 0;
    for txn in 1..=300u64 {
        let writes = random_writes(&mut rng, txn);
        let mut next = states.last().expect("state 0 exists").clone();
        apply(&mut next, &writes);
        let in_doubt = match run_random_txn(&disk, &mut rng, &writes, 15) {
            TxnOutcome::Committed(None) => {
                assert_eq!(
                    &next,
                    states.last().expect("state 0 exists"),
                    "changed nothing"
                );
                continue;
            }
            TxnOutcome::Committed(Some(seq)) => {
                assert_eq!(seq, states.len() as u64, "commit sequences grow by one");
                states.push(next);
                continue;
            }
            TxnOutcome::CrashedBeforeCommit => None,
            TxnOutcome::CrashedInCommit => Some(next),
        };
        disk.reopen();
        crashes += 1;
        let seq = disk.db().commit_seq() as usize;
        let last = states.len() - 1;
        let expected = match in_doubt {
            Some(state) if seq == last + 1 => state,
            _ => {
                assert!(
                    seq <= last,
                    "recovered seq {seq} beyond the last commit {last}"
                );
                states[seq].clone()
            }
        };
        assert_eq!(
            disk.contents(),
            expected,
            "after crash {crashes}: the state after commit {seq}, no hole, no partial commit"
        );
        disk.assert_integrity();
        lost_commits += last.saturating_sub(seq);
        states.truncate(seq + 1);
        if states.len() == seq {
            states.push(expected);
        }
    }
    assert!(crashes >= 5, "the seed crashes often enough ({crashes})");
    assert!(lost_commits > 0, "sync = normal lost some unsynced commits");
}

#[test]
fn failed_wal_fsync_poisons_and_reopen_recovers_an_allowed_state() {
    for crash_before_reopen in [false, true] {
        let mut disk = Disk::new(options(SyncMode::Full, 0));
        let mut acked = Keyspace::new();
        for round in 0..5u64 {
            let writes: Vec<_> = (0..20)
                .map(|k| (key(k), Some(value(round, k, 60))))
                .collect();
            assert_eq!(disk.commit_writes(&writes), round + 1);
            apply(&mut acked, &writes);
        }
        let reader = disk.db().connect();
        disk.run_on(&reader, &Op::Begin(TxMode::Deferred))
            .expect("begin");
        disk.run_on(&reader, &Op::Get(key(1))).expect("read");

        // Commit 6 rewrites many pages; its WAL fsync fails.
        let failed: Vec<_> = (0..40).map(|k| (key(k), Some(value(99, k, 100)))).collect();
        let mut with_failed = acked.clone();
        apply(&mut with_failed, &failed);
        disk.run(&Op::Begin(TxMode::Immediate)).expect("begin");
        for (k, v) in &failed {
            let v = v.clone().expect("puts only");
            disk.run(&Op::Put(k.clone(), v)).expect("put");
        }
        disk.crash.set_fail_syncs(true);
        let commit = disk.run(&Op::Commit);
        assert!(
            matches!(commit, Err(Error::Completion(_))),
            "the commit reports its fsync failure, got {commit:?}"
        );
        assert!(
            !disk.conn().in_transaction(),
            "a failed commit ends the transaction"
        );
        disk.crash.set_fail_syncs(false);

        // Poisoned: every op on every connection, old or new, in a transaction or not.
        let fresh = disk.db().connect();
        let ops = [
            Op::Get(key(1)),
            Op::Put(key(1), b"x".to_vec()),
            Op::Begin(TxMode::Deferred),
            Op::Scan {
                start: key(0),
                end: None,
                limit: 10,
            },
            Op::Checkpoint(CheckpointMode::Passive),
            Op::IntegrityCheck,
        ];
        for op in &ops {
            assert_eq!(disk.run(op), Err(Error::Poisoned), "writer conn: {op:?}");
            assert_eq!(
                disk.run_on(&fresh, op),
                Err(Error::Poisoned),
                "new conn: {op:?}"
            );
        }
        assert_eq!(
            disk.run_on(&reader, &Op::Get(key(2))),
            Err(Error::Poisoned),
            "an open reader is poisoned too"
        );
        assert_eq!(
            disk.run_on(&reader, &Op::Commit),
            Err(Error::Poisoned),
            "still poisoned after its transaction ended"
        );
        drop((reader, fresh));

        if crash_before_reopen {
            disk.crash_and_reopen();
        } else {
            disk.reopen();
        }
        let seq = disk.db().commit_seq();
        let got = disk.contents();
        match seq {
            5 => assert_eq!(got, acked, "the failed commit is wholly absent"),
            6 => assert_eq!(got, with_failed, "the failed commit is wholly present"),
            other => panic!("recovered seq {other}: expected 5 or 6"),
        }
        if crash_before_reopen {
            assert_eq!(
                seq, 5,
                "its frames were never made durable, so a crash drops them"
            );
        }
        disk.assert_integrity();
        let next = disk.commit_writes(&[(key(500), Some(b"after".to_vec()))]);
        assert_eq!(next, seq + 1, "the reopened database commits again");
    }
}

/// Switches one of `CrashIO`'s faults on or off.
type FaultSwitch = fn(&CrashIO, bool);

#[test]
fn failed_commit_without_crash_is_never_visible() {
    let faults: [(&str, FaultSwitch); 2] = [
        ("failing writes", CrashIO::set_fail_writes),
        ("short writes", CrashIO::set_short_writes),
    ];
    for (what, fault) in faults {
        let mut disk = Disk::new(options(SyncMode::Full, 0));
        let mut model = Keyspace::new();
        let writes: Vec<_> = (0..20).map(|k| (key(k), Some(value(1, k, 50)))).collect();
        assert_eq!(disk.commit_writes(&writes), 1);
        apply(&mut model, &writes);
        let other = disk.db().connect();

        disk.run(&Op::Begin(TxMode::Deferred)).expect("begin");
        for k in 0..30 {
            let put = Op::Put(key(k), value(2, k, 90));
            disk.run(&put).expect("put");
        }
        fault(&disk.crash, true);
        let commit = disk.run(&Op::Commit);
        fault(&disk.crash, false);
        assert!(
            matches!(commit, Err(Error::Completion(_))),
            "{what}: {commit:?}"
        );
        assert!(
            !disk.conn().in_transaction(),
            "{what}: the failure rolled back"
        );
        assert_eq!(disk.db().commit_seq(), 1, "{what}: nothing published");
        assert_eq!(
            disk.contents(),
            model,
            "{what}: invisible to its own connection"
        );
        let scan = Op::Scan {
            start: vec![0],
            end: None,
            limit: usize::MAX,
        };
        let rows = disk.run_on(&other, &scan).expect("scan");
        assert_eq!(
            rows,
            Output::Rows(model.clone().into_iter().collect()),
            "{what}"
        );
        drop(other);
        disk.reopen();
        assert_eq!(
            disk.db().commit_seq(),
            1,
            "{what}: its partial frames are not recovered"
        );
        assert_eq!(disk.contents(), model, "{what}: reopened");

        // Not poisoned: the next commit takes the failed one's sequence.
        let later = [(key(0), Some(b"later".to_vec()))];
        assert_eq!(disk.commit_writes(&later), 2, "{what}");
        apply(&mut model, &later);
        disk.reopen();
        assert_eq!(disk.db().commit_seq(), 2, "{what}: after reopen");
        assert_eq!(disk.contents(), model, "{what}: after reopen");
        disk.assert_integrity();
    }
}

fn checkpoint(disk: &Disk, mode: CheckpointMode) -> braid_core::CheckpointOutcome {
    match disk.run(&Op::Checkpoint(mode)).expect("checkpoint") {
        Output::Checkpointed(outcome) => outcome,
        other => panic!("checkpoint answered {other:?}"),
    }
}

#[test]
fn checkpoint_then_crash_keeps_everything() {
    let modes = [
        CheckpointMode::Passive,
        CheckpointMode::Full,
        CheckpointMode::Restart,
        CheckpointMode::Truncate,
    ];
    for sync in [SyncMode::Full, SyncMode::Normal] {
        for mode in modes {
            let what = format!("{sync:?} {mode:?}");
            let mut disk = Disk::new(options(sync, 0));
            let mut model = Keyspace::new();
            for round in 0..25u64 {
                let writes: Vec<_> = (0..8)
                    .map(|i| {
                        let k = (round * 5 + i * 7) % 70;
                        (key(k), Some(value(round, k, 90)))
                    })
                    .collect();
                assert_eq!(disk.commit_writes(&writes), round + 1);
                apply(&mut model, &writes);
            }
            let outcome = checkpoint(&disk, mode);
            assert_eq!(outcome.checkpoint_seq, 25, "{what}");
            assert_eq!(
                outcome.backfilled_frames, outcome.wal_frames,
                "{what}: no reader"
            );
            let resets = matches!(mode, CheckpointMode::Restart | CheckpointMode::Truncate);
            assert_eq!(outcome.wal_reset, resets, "{what}");
            if mode == CheckpointMode::Truncate {
                assert!(
                    disk.crash.durable_bytes(WAL_PATH).is_empty(),
                    "{what}: WAL truncated"
                );
            }
            disk.crash_and_reopen();
            assert_eq!(disk.db().commit_seq(), 25, "{what}");
            assert_eq!(
                disk.contents(),
                model,
                "{what}: the checkpoint kept everything"
            );
            disk.assert_integrity();

            // The WAL keeps working after the checkpoint (and the reset).
            let seq = disk.commit_writes(&[(key(3), Some(b"later".to_vec()))]);
            assert_eq!(seq, 26, "{what}");
            model.insert(key(3), b"later".to_vec());
            if sync == SyncMode::Full {
                disk.crash_and_reopen();
                assert_eq!(disk.db().commit_seq(), 26, "{what}");
                assert_eq!(disk.contents(), model, "{what}: the later commit survives");
            }
        }
    }
}

#[test]
fn commit_sequences_keep_growing_across_checkpoints_resets_and_reopen() {
    let mut disk = Disk::new(options(SyncMode::Full, 0));
    let mut expected = 0u64;
    let mut commit = |disk: &Disk, tag: &str| {
        expected += 1;
        let seq = disk.commit_writes(&[(key(expected), Some(tag.as_bytes().to_vec()))]);
        assert_eq!(seq, expected, "commit after {tag}");
        assert_eq!(disk.conn().last_claims().commit_seq, Some(seq));
        assert_eq!(disk.db().commit_seq(), seq);
        seq
    };
    commit(&disk, "start");
    commit(&disk, "start");
    checkpoint(&disk, CheckpointMode::Passive);
    commit(&disk, "passive");
    assert!(checkpoint(&disk, CheckpointMode::Restart).wal_reset);
    commit(&disk, "restart");
    assert!(checkpoint(&disk, CheckpointMode::Truncate).wal_reset);
    let seq = commit(&disk, "truncate");
    // Empty WAL: the sequence must come back from the database header alone.
    assert!(checkpoint(&disk, CheckpointMode::Truncate).wal_reset);
    assert!(disk.crash.file_bytes(WAL_PATH).is_empty());
    disk.reopen();
    assert_eq!(disk.db().commit_seq(), seq, "reopen with an empty WAL");
    commit(&disk, "reopen");
    disk.crash_and_reopen();
    let seq = commit(&disk, "crash");
    disk.reopen();
    assert_eq!(disk.db().commit_seq(), seq, "plain reopen");
    commit(&disk, "end");
    assert_eq!(disk.contents().len() as u64, expected, "one key per commit");
}

/// Commits 1..=3 (commit 3 spans several frames), closes the database and returns the
/// model after commit 2 and after commit 3.
fn three_commits(disk: &Disk) -> (Keyspace, Keyspace) {
    let mut model = Keyspace::new();
    for round in 0..2u64 {
        let writes: Vec<_> = (0..10)
            .map(|k| (key(k), Some(value(round, k, 50))))
            .collect();
        disk.commit_writes(&writes);
        apply(&mut model, &writes);
    }
    let after_two = model.clone();
    let writes: Vec<_> = (0..30).map(|k| (key(k), Some(value(3, k, 110)))).collect();
    assert_eq!(disk.commit_writes(&writes), 3);
    apply(&mut model, &writes);
    (after_two, model)
}

/// Damages the WAL bytes, given the frame size.
type WalDamage = fn(&mut Vec<u8>, usize);

#[test]
fn torn_last_wal_frame_is_ignored() {
    let frame = frame_size(PAGE_SIZE);
    let damages: [(&str, WalDamage); 3] = [
        ("last frame cut in half", |wal, frame| {
            wal.truncate(wal.len() - frame / 2)
        }),
        ("last frame's image damaged", |wal, _| {
            let at = wal.len() - 10;
            wal[at] ^= 0x40;
        }),
        ("middle of the last commit damaged", |wal, frame| {
            let at = wal.len() - 2 * frame - 10;
            wal[at] ^= 0x01;
        }),
    ];
    for (what, damage) in damages {
        let mut disk = Disk::new(options(SyncMode::Full, 0));
        let (after_two, after_three) = three_commits(&disk);
        disk.open = None;
        let mut wal = disk.crash.durable_bytes(WAL_PATH);
        assert_eq!(
            (wal.len() - WAL_HEADER_SIZE) % frame,
            0,
            "whole frames only"
        );
        assert!(
            (wal.len() - WAL_HEADER_SIZE) / frame >= 4,
            "commit 3 spans frames"
        );
        damage(&mut wal, frame);
        disk.crash.set_file(WAL_PATH, wal);
        disk.reopen();
        assert_eq!(disk.db().commit_seq(), 2, "{what}: commit 3 is dropped");
        assert_eq!(
            disk.contents(),
            after_two,
            "{what}: commits 1 and 2, nothing of 3"
        );
        disk.assert_integrity();
        // The damaged tail is overwritten by the next commit, which then survives.
        let writes = [(key(7), Some(b"new".to_vec()))];
        assert_eq!(disk.commit_writes(&writes), 3, "{what}");
        let mut model = after_two.clone();
        apply(&mut model, &writes);
        disk.crash_and_reopen();
        assert_eq!(disk.contents(), model, "{what}: the new commit 3");
        assert_ne!(model, after_three);
    }
}

#[test]
fn auto_checkpoint_runs_once_per_threshold_of_uncopied_frames() {
    let disk = Disk::new(options(SyncMode::Full, 10));
    let pager = disk.db().pager().clone();
    let mut checkpoints = 0;
    let mut frames_written = 0;
    for i in 0..60u64 {
        let before = pager.wal_frames();
        disk.commit_writes(&[(key(i % 7), Some(value(i, i % 7, 40)))]);
        let after = pager.wal_frames();
        // A writer may start the WAL over once everything in it is copied.
        frames_written += if after > before {
            after - before
        } else {
            after
        };
        let uncopied = after - pager.wal_backfilled();
        assert!(
            uncopied <= 10,
            "commit {i}: {uncopied} frames left uncopied"
        );
        if after > 0 && uncopied == 0 {
            checkpoints += 1; // this commit's auto-checkpoint copied everything
        }
    }
    assert!(
        frames_written >= 60,
        "every commit wrote a frame ({frames_written})"
    );
    assert!(
        checkpoints >= 3 && checkpoints <= frames_written / 10,
        "{checkpoints} auto-checkpoints for {frames_written} frames: one per 10 new frames"
    );
}

// ---------------------------------------------------------------------------------------
// Storage bugs found by the tests above, each as a focused failing test (ignored until the
// storage layer fixes it).

#[test]
fn stale_generation_frames_are_not_replayed_after_a_reset() {
    // After a Restart checkpoint the next commit writes the new generation's header and
    // frames over the old ones. A crash may keep any subset of those unsynced writes: here
    // the new header and new frame 1 are lost and new frame 2 survives. The old header then
    // still validates the old frame 1 (commit 2), which recovery replays over a database
    // file that already holds commit 3: page of key 0 goes back to commit 2 while the page
    // of key 39 keeps commit 3, a state no prefix of the commit order produces (and commit
    // 3 was acknowledged under sync = full).
    let mut disk = Disk::new(options(SyncMode::Full, 0));
    let mut states = vec![Keyspace::new()];
    let mut commit = |disk: &Disk, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>| {
        let seq = disk.commit_writes(&writes);
        let mut next = states.last().expect("state 0").clone();
        apply(&mut next, &writes);
        states.push(next);
        assert_eq!(seq as usize, states.len() - 1);
    };
    commit(
        &disk,
        (0..40).map(|k| (key(k), Some(value(1, k, 60)))).collect(),
    );
    checkpoint(&disk, CheckpointMode::Restart);
    commit(&disk, vec![(key(0), Some(value(2, 0, 60)))]);
    commit(
        &disk,
        vec![
            (key(0), Some(value(3, 0, 60))),
            (key(39), Some(value(3, 39, 60))),
        ],
    );
    assert!(checkpoint(&disk, CheckpointMode::Restart).wal_reset);
    let old_wal = disk.crash.durable_bytes(WAL_PATH);
    commit(
        &disk,
        vec![
            (key(0), Some(value(4, 0, 60))),
            (key(39), Some(value(4, 39, 60))),
        ],
    );
    let new_wal = disk.crash.file_bytes(WAL_PATH);
    let frame = frame_size(PAGE_SIZE);
    let second = WAL_HEADER_SIZE + frame..WAL_HEADER_SIZE + 2 * frame;
    assert!(old_wal.len() >= second.end && new_wal.len() >= second.end);
    let mut crashed = old_wal.clone();
    crashed[second.clone()].copy_from_slice(&new_wal[second]);
    disk.open = None;
    disk.crash.crash();
    disk.crash.set_file(WAL_PATH, crashed);
    disk.reopen();
    let got = disk.contents();
    assert!(
        states[3..].contains(&got),
        "recovered a state that is no prefix holding the acknowledged commit 3 (seq {})",
        disk.db().commit_seq()
    );
}

#[test]
fn update_that_shrinks_a_two_leaf_tree_to_one_leaf() {
    let disk = Disk::new(options(SyncMode::Full, 0));
    let puts: [(u64, usize); 8] = [
        (48, 81),
        (18, 69),
        (17, 49),
        (58, 107),
        (16, 38),
        (30, 108),
        (34, 2),
        (58, 4),
    ];
    let mut model = Keyspace::new();
    for (i, (k, len)) in puts.into_iter().enumerate() {
        let v = value(i as u64, k, len);
        assert_eq!(
            disk.run(&Op::Put(key(k), v.clone())),
            Ok(Output::Done),
            "put {i}"
        );
        model.insert(key(k), v);
    }
    assert_eq!(disk.contents(), model);
    disk.assert_integrity();
}
