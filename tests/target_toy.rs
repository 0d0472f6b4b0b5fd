//! An engine braid did not write, driven through the target seam: `ToyKv`, an in-memory
//! multi-version key-value store with SQLite's WAL lock rules (deferred and immediate
//! transactions, one write lock, `Busy`, `BusySnapshot`). It does no I/O, so it runs
//! without I/O faults or crashes; the oracle and every workload checker judge it like
//! braid's own engine. The README's "Simulating your own engine" shows its shape.
//!
//! The same engine with one deliberate bug (a deferred transaction that writes without
//! checking its snapshot) is caught, which proves the seam hands the oracle what it needs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use braid::config;
use braid::sim::{SimOptions, Simulation};
use braid::target::{OpenEnv, Step, Target};
use braid_oracle::{Claims, Op, OpError, OpOutput, TxMode};

/// One committed version of a key: (commit sequence, value or deleted).
type Version = (u64, Option<Vec<u8>>);

/// Committed state shared by every connection.
#[derive(Default)]
struct Store {
    /// Per key, its versions, oldest first.
    versions: BTreeMap<Vec<u8>, Vec<Version>>,
    commit_seq: u64,
    /// The transaction holding the write lock.
    writer: Option<u64>,
    next_txn: u64,
    /// Switches on the deliberate bug.
    skip_snapshot_check: bool,
}

impl Store {
    fn read(&self, key: &[u8], seq: u64) -> Option<Vec<u8>> {
        let versions = self.versions.get(key)?;
        let (_, value) = versions.iter().rev().find(|(at, _)| *at <= seq)?;
        value.clone()
    }
}

/// One transaction: explicit (`Begin`) or the implicit one of a single op.
struct Txn {
    id: u64,
    explicit: bool,
    snapshot: Option<u64>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    holds_lock: bool,
}

type Db = Arc<Mutex<Store>>;

struct Conn {
    db: Db,
    txn: Mutex<Option<Txn>>,
    claims: Mutex<Claims>,
}

struct ToyKv;

impl Conn {
    fn run(&self, op: &Op) -> Step<OpOutput> {
        let mut store = self.db.lock().expect("store");
        let mut slot = self.txn.lock().expect("txn");
        let mut txn = slot.take().unwrap_or_else(|| {
            store.next_txn += 1;
            Txn {
                id: store.next_txn,
                explicit: false,
                snapshot: None,
                writes: BTreeMap::new(),
                holds_lock: false,
            }
        });
        let mut claims = Claims::default();
        let result = self.apply(&mut store, &mut txn, op, &mut claims);
        // An implicit transaction ends with its op; an explicit one with its commit or
        // rollback, or with any error but Busy (which leaves it as it was).
        let ends = !txn.explicit
            || match &result {
                Ok(_) => matches!(op, Op::Commit | Op::Rollback),
                Err(error) => *error != OpError::Busy,
            };
        if !ends {
            *slot = Some(txn);
        } else if txn.holds_lock {
            store.writer = None;
        }
        *self.claims.lock().expect("claims") = claims;
        match result {
            Ok(output) => Step::Done(output),
            Err(error) => Step::Failed(error),
        }
    }

    fn apply(
        &self,
        store: &mut Store,
        txn: &mut Txn,
        op: &Op,
        claims: &mut Claims,
    ) -> Result<OpOutput, OpError> {
        let snapshot = |store: &Store, txn: &mut Txn| *txn.snapshot.get_or_insert(store.commit_seq);
        match op {
            Op::Begin(_) if txn.explicit => Err(OpError::Refused("nested begin".into())),
            Op::Begin(mode) => {
                if *mode == TxMode::Immediate {
                    if store.writer.is_some() {
                        return Err(OpError::Busy);
                    }
                    store.writer = Some(txn.id);
                    txn.holds_lock = true;
                    claims.snapshot_seq = Some(snapshot(store, txn));
                }
                txn.explicit = true;
                Ok(OpOutput::Done)
            }
            Op::Get(key) => {
                let seq = snapshot(store, txn);
                claims.snapshot_seq = Some(seq);
                let value = match txn.writes.get(key) {
                    Some(written) => written.clone(),
                    None => store.read(key, seq),
                };
                Ok(OpOutput::Value(value))
            }
            Op::Scan { start, end, limit } => {
                let seq = snapshot(store, txn);
                claims.snapshot_seq = Some(seq);
                let mut rows: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
                let in_range = |k: &Vec<u8>| k >= start && end.as_ref().is_none_or(|e| k < e);
                for key in store.versions.keys().filter(|k| in_range(k)) {
                    if let Some(value) = store.read(key, seq) {
                        rows.insert(key.clone(), value);
                    }
                }
                for (key, value) in txn.writes.iter().filter(|(k, _)| in_range(k)) {
                    match value {
                        Some(v) => rows.insert(key.clone(), v.clone()),
                        None => rows.remove(key),
                    };
                }
                Ok(OpOutput::Rows(rows.into_iter().take(*limit).collect()))
            }
            Op::Put(key, _) | Op::Delete(key) => {
                if !txn.holds_lock {
                    if store.writer.is_some() {
                        return Err(OpError::Busy);
                    }
                    let stale = txn.snapshot.is_some_and(|s| s < store.commit_seq);
                    if stale && !store.skip_snapshot_check {
                        return Err(OpError::BusySnapshot);
                    }
                    store.writer = Some(txn.id);
                    txn.holds_lock = true;
                }
                claims.snapshot_seq = Some(snapshot(store, txn));
                let value = match op {
                    Op::Put(_, value) => Some(value.clone()),
                    _ => None,
                };
                txn.writes.insert(key.clone(), value);
                if txn.explicit {
                    return Ok(OpOutput::Done);
                }
                self.commit(store, txn, claims);
                Ok(OpOutput::Done)
            }
            Op::Commit if !txn.explicit => Err(OpError::Refused("no transaction".into())),
            Op::Commit => {
                claims.snapshot_seq = txn.snapshot;
                let seq = self.commit(store, txn, claims);
                Ok(OpOutput::Committed { seq })
            }
            Op::Rollback if !txn.explicit => Err(OpError::Refused("no transaction".into())),
            Op::Rollback => Ok(OpOutput::Done),
            Op::Checkpoint(_) | Op::IntegrityCheck if txn.explicit => {
                Err(OpError::Refused("inside a transaction".into()))
            }
            Op::Checkpoint(_) => Ok(OpOutput::Checkpointed {
                backfilled_frames: 0,
                wal_reset: false,
            }),
            Op::IntegrityCheck => Ok(OpOutput::Integrity(Vec::new())),
        }
    }

    /// Publishes the transaction's writes as the next commit (sequence 0 if it wrote
    /// nothing) and releases the write lock.
    fn commit(&self, store: &mut Store, txn: &mut Txn, claims: &mut Claims) -> u64 {
        if txn.writes.is_empty() {
            return 0;
        }
        store.commit_seq += 1;
        let seq = store.commit_seq;
        for (key, value) in std::mem::take(&mut txn.writes) {
            store.versions.entry(key).or_default().push((seq, value));
        }
        claims.commit_seq = Some(seq);
        seq
    }
}

impl Target for ToyKv {
    type Db = Db;
    type Conn = Conn;
    type Opener = Option<Db>;
    type Op = Op;

    const NAME: &'static str = "toy";

    fn opener(env: &OpenEnv<'_>) -> Option<Db> {
        let store = Store {
            // The test switches the bug on through the run's canary slot.
            skip_snapshot_check: env.canary.is_some(),
            ..Store::default()
        };
        Some(Arc::new(Mutex::new(store)))
    }

    fn step_open(opener: &mut Option<Db>) -> Step<Db> {
        Step::Done(opener.take().expect("opened once"))
    }

    fn connect(db: &Db) -> Conn {
        Conn {
            db: db.clone(),
            txn: Mutex::new(None),
            claims: Mutex::new(Claims::default()),
        }
    }

    fn commit_seq(db: &Db) -> u64 {
        db.lock().expect("store").commit_seq
    }

    fn is_poisoned(_: &Db) -> bool {
        false
    }

    fn write_lock_owner(db: &Db) -> Option<Option<u64>> {
        Some(db.lock().expect("store").writer)
    }

    fn to_engine(op: Op) -> Op {
        op
    }

    fn from_engine(op: Op) -> Op {
        op
    }

    fn execute(conn: &Conn, op: &Op) -> Step<OpOutput> {
        conn.run(op)
    }

    fn claims(conn: &Conn) -> Claims {
        *conn.claims.lock().expect("claims")
    }

    fn may_hold_write_lock(conn: &Conn) -> bool {
        conn.txn
            .lock()
            .expect("txn")
            .as_ref()
            .is_some_and(|t| t.holds_lock)
    }

    fn in_transaction(conn: &Conn) -> bool {
        conn.txn.lock().expect("txn").is_some()
    }

    fn transaction_open(conn: &Conn) -> bool {
        Self::in_transaction(conn)
    }

    fn database(conn: &Conn) -> &Db {
        &conn.db
    }
}

/// The default config's workloads, without I/O faults or crashes (the toy does no I/O).
fn settings(steps: u64) -> braid::config::Settings {
    let mut config = config::default_config();
    config.run.steps = steps;
    let faults = &mut config.faults;
    for p in [
        &mut faults.read_error,
        &mut faults.write_error,
        &mut faults.sync_error,
        &mut faults.short_read,
        &mut faults.short_write,
        &mut faults.latency,
        &mut faults.group_fail,
        &mut faults.group_cancel,
        &mut faults.crash,
        &mut faults.bit_flip,
    ] {
        *p = 0.0;
    }
    config.settings().expect("valid")
}

#[test]
fn an_outside_engine_runs_under_the_oracle_and_every_checker() {
    for seed in 0..6 {
        let outcome =
            Simulation::<ToyKv>::on_target(settings(20_000), seed, SimOptions::default()).run();
        assert!(outcome.passed(), "seed {seed}: {:?}", outcome.failure);
        assert!(
            outcome.stats.commits > 100,
            "seed {seed}: {:?}",
            outcome.stats
        );
        let again =
            Simulation::<ToyKv>::on_target(settings(20_000), seed, SimOptions::default()).run();
        assert_eq!(
            again.trace_hash, outcome.trace_hash,
            "seed {seed}: deterministic"
        );
    }
}

#[test]
fn the_outside_engine_with_a_skipped_snapshot_check_is_caught() {
    let options = SimOptions {
        // Any canary switches the toy's one bug on.
        canary: Some(braid_core::Canary::SkipBusySnapshot),
        ..SimOptions::default()
    };
    let caught = (0..10).find_map(|seed| {
        Simulation::<ToyKv>::on_target(settings(20_000), seed, options.clone())
            .run()
            .failure
    });
    let failure = caught.expect("a stale writer is caught within 10 seeds");
    assert_eq!(failure.kind, "writer-snapshot", "{failure:?}");
}

/// Many seeds by hand: `cargo test --release --test target_toy -- --ignored`.
#[test]
#[ignore]
fn the_outside_engine_is_clean_over_many_seeds() {
    for seed in 0..300 {
        let outcome =
            Simulation::<ToyKv>::on_target(settings(20_000), seed, SimOptions::default()).run();
        assert!(outcome.passed(), "seed {seed}: {:?}", outcome.failure);
    }
    for seed in 0..10 {
        let options = SimOptions {
            canary: Some(braid_core::Canary::SkipBusySnapshot),
            ..SimOptions::default()
        };
        let failure = Simulation::<ToyKv>::on_target(settings(20_000), seed, options)
            .run()
            .failure;
        eprintln!("seed {seed}: {failure:?}");
    }
}
