//! The sequential oracle against a small reference engine with SQLite WAL semantics, on
//! random interleavings with crashes: every legal history is accepted (no false alarms),
//! and an engine with a planted bug is caught.
//!
//! The reference engine separates each operation into invoke, effect and completion, so
//! other connections run between an operation's effect (for a commit: its publish) and
//! its acknowledgement — the window the oracle must reason about.

#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use braid_oracle::{
    Claims, Durability, Key, Op, OpError, OpOutput, OpResult, SeqOracle, TxMode, Value, Violation,
};

/// A tiny deterministic generator (xorshift64*), so the test needs no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Bugs the reference engine can be asked to have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bug {
    None,
    /// Reads sometimes come from the snapshot before the right one.
    StaleRead,
    /// A crash loses the newest acknowledged commit even under full durability.
    LoseLastCommit,
    /// Writes skip the BusySnapshot check.
    NoBusySnapshot,
    /// A commit is published, then reports a failure (a failed fsync after publish).
    PublishThenFail,
}

#[derive(Default)]
struct Txn {
    explicit: bool,
    snapshot: Option<u64>,
    writes: BTreeMap<Key, Option<Value>>,
    holds_lock: bool,
}

/// An operation between its invocation and completion.
struct Pending {
    op: Op,
    /// Set once the operation took effect: its result and claims.
    outcome: Option<(OpResult, Claims)>,
}

#[derive(Default)]
struct Conn {
    txn: Option<Txn>,
    pending: Option<Pending>,
}

struct Engine {
    /// `states[seq]`: the database after commit `seq`.
    states: Vec<BTreeMap<Key, Value>>,
    /// The newest commit acknowledged to a client.
    acknowledged: u64,
    /// The newest commit known durable (what the last recovery found).
    durable: u64,
    lock: Option<u64>,
    conns: BTreeMap<u64, Conn>,
    bug: Bug,
}

impl Engine {
    fn current(&self) -> u64 {
        self.states.len() as u64 - 1
    }

    fn read_state(&self, txn: &Txn, rng: &mut Rng) -> BTreeMap<Key, Value> {
        let mut snapshot = txn.snapshot.expect("reads run at a snapshot");
        if self.bug == Bug::StaleRead && snapshot > 0 && rng.chance(20) {
            snapshot -= 1;
        }
        let mut state = self.states[snapshot as usize].clone();
        for (key, value) in &txn.writes {
            match value {
                Some(value) => state.insert(key.clone(), value.clone()),
                None => state.remove(key),
            };
        }
        state
    }

    fn release(&mut self, conn: u64, txn: &Txn) {
        if txn.holds_lock {
            assert_eq!(self.lock, Some(conn));
            self.lock = None;
        }
    }

    /// Publishes `txn`'s writes as the next commit (or fails first).
    fn commit(&mut self, conn: u64, txn: Txn, rng: &mut Rng) -> (OpResult, Option<u64>) {
        self.release(conn, &txn);
        if txn.writes.is_empty() {
            return (Ok(OpOutput::Committed { seq: 0 }), Some(0));
        }
        if rng.chance(5) {
            return (Err(OpError::Io("injected write error".into())), None);
        }
        let mut state = self.states.last().expect("state 0 exists").clone();
        for (key, value) in txn.writes {
            match value {
                Some(value) => state.insert(key, value),
                None => state.remove(&key),
            };
        }
        self.states.push(state);
        if self.bug == Bug::PublishThenFail && rng.chance(10) {
            return (Err(OpError::Io("fsync failed after publish".into())), None);
        }
        let seq = self.current();
        (Ok(OpOutput::Committed { seq }), Some(seq))
    }

    /// Takes the write lock for `txn`, or says why not.
    fn lock_for_write(&mut self, conn: u64, txn: &mut Txn) -> Result<(), OpError> {
        if txn.holds_lock {
            return Ok(());
        }
        if self.lock.is_some() {
            return Err(OpError::Busy);
        }
        if let Some(snapshot) = txn.snapshot
            && snapshot != self.current()
            && self.bug != Bug::NoBusySnapshot
        {
            return Err(OpError::BusySnapshot);
        }
        self.lock = Some(conn);
        txn.holds_lock = true;
        txn.snapshot.get_or_insert(self.current());
        Ok(())
    }

    /// The effect of `op` on `conn`: its result and the claims reported at completion.
    fn execute(&mut self, conn: u64, op: &Op, rng: &mut Rng) -> (OpResult, Claims) {
        let state = self.conns.get_mut(&conn).expect("known connection");
        let mut txn = match (state.txn.take(), op) {
            (Some(txn), _) => txn,
            (None, Op::Get(_) | Op::Put(..) | Op::Delete(_) | Op::Scan { .. }) => Txn::default(),
            (None, Op::Begin(_)) => Txn {
                explicit: true,
                ..Txn::default()
            },
            (None, _) => {
                let refused = Err(OpError::Refused("no transaction".into()));
                return (refused, Claims::default());
            }
        };
        let current = self.current();
        let (result, keep, commit_seq) = match op {
            Op::Begin(TxMode::Deferred) => (Ok(OpOutput::Done), true, None),
            Op::Begin(TxMode::Immediate) => match self.lock_for_write(conn, &mut txn) {
                Ok(()) => (Ok(OpOutput::Done), true, None),
                Err(error) => (Err(error), false, None),
            },
            Op::Get(key) => {
                txn.snapshot.get_or_insert(current);
                let value = self.read_state(&txn, rng).get(key).cloned();
                (Ok(OpOutput::Value(value)), txn.explicit, None)
            }
            Op::Scan { start, end, limit } => {
                txn.snapshot.get_or_insert(current);
                let rows = self
                    .read_state(&txn, rng)
                    .into_iter()
                    .filter(|(k, _)| k >= start && end.as_ref().is_none_or(|end| k < end))
                    .take(*limit)
                    .collect();
                (Ok(OpOutput::Rows(rows)), txn.explicit, None)
            }
            Op::Put(key, _) | Op::Delete(key) => match self.lock_for_write(conn, &mut txn) {
                Err(OpError::Busy) => (Err(OpError::Busy), txn.explicit, None),
                Err(error) => (Err(error), false, None),
                Ok(()) => {
                    let value = match op {
                        Op::Put(_, value) => Some(value.clone()),
                        _ => None,
                    };
                    txn.writes.insert(key.clone(), value);
                    if txn.explicit {
                        (Ok(OpOutput::Done), true, None)
                    } else {
                        let snapshot = txn.snapshot;
                        let (result, seq) = self.commit(conn, txn, rng);
                        let result = result.map(|_| OpOutput::Done);
                        let claims = Claims {
                            snapshot_seq: snapshot,
                            commit_seq: seq,
                        };
                        return (result, claims);
                    }
                }
            },
            Op::Commit => {
                let snapshot = txn.snapshot;
                let (result, seq) = self.commit(conn, txn, rng);
                return (
                    result,
                    Claims {
                        snapshot_seq: snapshot,
                        commit_seq: seq,
                    },
                );
            }
            Op::Rollback => (Ok(OpOutput::Done), false, None),
            Op::Checkpoint(_) | Op::IntegrityCheck => unreachable!("not generated"),
        };
        let claims = Claims {
            snapshot_seq: txn.snapshot,
            commit_seq,
        };
        if keep {
            self.conns.get_mut(&conn).expect("known connection").txn = Some(txn);
        } else {
            self.release(conn, &txn);
        }
        (result, claims)
    }
}

fn random_op(rng: &mut Rng, in_txn: bool) -> Op {
    let key = |rng: &mut Rng| format!("k{}", rng.below(5)).into_bytes();
    match rng.below(if in_txn { 7 } else { 6 }) {
        0 => Op::Get(key(rng)),
        1 | 2 => Op::Put(key(rng), format!("v{}", rng.below(1000)).into_bytes()),
        3 => Op::Delete(key(rng)),
        4 => {
            let start = key(rng);
            let end = rng.chance(50).then(|| key(rng));
            Op::Scan {
                start,
                end,
                limit: 1 + rng.below(4) as usize,
            }
        }
        5 if in_txn => Op::Rollback,
        5 => Op::Begin(if rng.chance(50) {
            TxMode::Deferred
        } else {
            TxMode::Immediate
        }),
        _ => Op::Commit,
    }
}

/// Runs one random history; returns the first violation the oracle reports.
/// Whether the engine reports its snapshots to the oracle.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SnapshotClaims {
    Reported,
    Withheld,
}

fn run(seed: u64, durability: Durability, bug: Bug, steps: u64) -> Result<(), Violation> {
    run_with(seed, durability, bug, steps, SnapshotClaims::Reported)
}

fn run_with(
    seed: u64,
    durability: Durability,
    bug: Bug,
    steps: u64,
    snapshot_claims: SnapshotClaims,
) -> Result<(), Violation> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut oracle = SeqOracle::new(durability);
    let mut engine = Engine {
        states: vec![BTreeMap::new()],
        acknowledged: 0,
        durable: 0,
        lock: None,
        conns: BTreeMap::new(),
        bug,
    };
    let connections = 2 + seed % 7;
    let mut first_conn = 1;
    for conn in first_conn..first_conn + connections {
        engine.conns.insert(conn, Conn::default());
    }
    for step in 1..=steps {
        if rng.chance(1) {
            // Sometimes a reopen that loses nothing (as after poisoning), mostly a crash.
            let reopen = rng.chance(20);
            oracle.on_crash(step, !reopen);
            let keep = match durability {
                _ if reopen => engine.current(),
                Durability::Full => engine.current(),
                // What the previous recovery found is durable; later commits may be lost.
                Durability::Normal => {
                    engine.durable + rng.below(engine.current() - engine.durable + 1)
                }
            };
            let keep = if bug == Bug::LoseLastCommit {
                keep.saturating_sub(1)
            } else {
                keep
            };
            engine.states.truncate(keep as usize + 1);
            engine.acknowledged = keep;
            if !reopen {
                engine.durable = keep;
            }
            engine.lock = None;
            engine.conns.clear();
            first_conn += connections;
            for conn in first_conn..first_conn + connections {
                engine.conns.insert(conn, Conn::default());
            }
            let rows: Vec<(Key, Value)> =
                engine.states[keep as usize].clone().into_iter().collect();
            oracle.on_recovered(step, &rows, &[], keep)?;
            continue;
        }
        let conn = first_conn + rng.below(connections);
        let state = engine.conns.get_mut(&conn).expect("known connection");
        match state.pending.take() {
            None => {
                let op = random_op(&mut rng, state.txn.as_ref().is_some_and(|t| t.explicit));
                oracle.on_invoke(step, conn, &op);
                state.pending = Some(Pending { op, outcome: None });
            }
            Some(Pending { op, outcome: None }) => {
                let outcome = engine.execute(conn, &op, &mut rng);
                let state = engine.conns.get_mut(&conn).expect("known connection");
                state.pending = Some(Pending {
                    op,
                    outcome: Some(outcome),
                });
            }
            Some(Pending {
                op,
                outcome: Some((result, claims)),
            }) => {
                if let Some(seq) = claims.commit_seq.filter(|_| result.is_ok()) {
                    engine.acknowledged = engine.acknowledged.max(seq);
                }
                let claims = match snapshot_claims {
                    SnapshotClaims::Reported => claims,
                    SnapshotClaims::Withheld => Claims {
                        snapshot_seq: None,
                        ..claims
                    },
                };
                oracle.on_complete(step, conn, &op, &result, claims)?;
            }
        }
    }
    Ok(())
}

#[test]
fn legal_histories_are_accepted_under_full_durability() {
    for seed in 0..40 {
        if let Err(violation) = run(seed, Durability::Full, Bug::None, 3_000) {
            panic!("seed {seed}: false alarm: {violation}");
        }
    }
}

#[test]
fn legal_histories_are_accepted_under_normal_durability() {
    for seed in 0..40 {
        if let Err(violation) = run(seed, Durability::Normal, Bug::None, 3_000) {
            panic!("seed {seed}: false alarm: {violation}");
        }
    }
}

fn caught(bug: Bug, durability: Durability) -> Vec<&'static str> {
    (0..40)
        .filter_map(|seed| run(seed, durability, bug, 3_000).err())
        .map(|violation| violation.kind.name())
        .collect()
}

#[test]
fn stale_reads_are_caught() {
    let kinds = caught(Bug::StaleRead, Durability::Full);
    assert!(
        kinds.len() >= 30,
        "only {} of 40 seeds caught: {kinds:?}",
        kinds.len()
    );
}

#[test]
fn a_lost_commit_after_a_crash_is_caught() {
    let kinds = caught(Bug::LoseLastCommit, Durability::Full);
    assert_eq!(kinds.len(), 40, "{kinds:?}");
    assert!(kinds.iter().all(|kind| *kind == "lost-commit"), "{kinds:?}");
}

#[test]
fn writes_without_the_busy_snapshot_check_are_caught() {
    let kinds = caught(Bug::NoBusySnapshot, Durability::Full);
    assert!(
        kinds.len() >= 20,
        "only {} of 40 seeds caught: {kinds:?}",
        kinds.len()
    );
    assert!(
        kinds.iter().all(|kind| *kind == "writer-snapshot"),
        "{kinds:?}"
    );
}

#[test]
fn a_commit_that_fails_after_publishing_is_caught() {
    let kinds = caught(Bug::PublishThenFail, Durability::Full);
    assert_eq!(kinds.len(), 40, "{kinds:?}");
    // Usually named after the failed commit; a read that mixes it with other commits
    // may be named after the value it got instead.
    let expected = [
        "aborted-read",
        "failed-commit-visible",
        "seq-gap",
        "lost-commit",
    ];
    let named = kinds.iter().filter(|kind| expected.contains(kind)).count();
    assert!(named >= 30, "{kinds:?}");
}

#[test]
fn without_snapshot_claims_legal_histories_pass_and_stale_reads_are_caught() {
    for seed in 0..20 {
        for durability in [Durability::Full, Durability::Normal] {
            let outcome = run_with(seed, durability, Bug::None, 3_000, SnapshotClaims::Withheld);
            if let Err(violation) = outcome {
                panic!("seed {seed}: false alarm without claims: {violation}");
            }
        }
    }
    let caught = (0..20)
        .filter(|seed| {
            let bug = Bug::StaleRead;
            run_with(
                *seed,
                Durability::Full,
                bug,
                3_000,
                SnapshotClaims::Withheld,
            )
            .is_err()
        })
        .count();
    assert!(caught >= 15, "only {caught} of 20 seeds caught");
}

#[test]
#[ignore = "a long hunt for false alarms; run by hand"]
fn many_legal_histories_are_accepted() {
    for seed in 0..2_000 {
        for durability in [Durability::Full, Durability::Normal] {
            for claims in [SnapshotClaims::Reported, SnapshotClaims::Withheld] {
                if let Err(violation) = run_with(seed, durability, Bug::None, 5_000, claims) {
                    panic!("seed {seed} {durability:?}: false alarm: {violation}");
                }
            }
        }
    }
}
