//! `SeqOracle`: the online sequential oracle (SQLite WAL semantics: the lock protocol
//! braid-core states in core/src/db/connection.rs, which SQLite itself is held to by the
//! sqlite target).
//!
//! What it enforces at every completion:
//! - Serial order is commit order. A writing commit gets the sequence after the previous
//!   one (contiguous); a read-only commit is acknowledged with sequence 0 (also accepted: a
//!   transaction whose writes change nothing, such as deleting an absent key).
//! - A transaction's snapshot (claimed by the engine, verified here) is at least the last
//!   commit acknowledged before the transaction began, at most what in-flight commits could
//!   have published, never older than the connection's previous snapshot, and fixed once
//!   taken. A committed writer's snapshot is the commit just before its own.
//! - Every read equals the model at the snapshot plus the transaction's own writes.
//! - `Busy` leaves the transaction as it was; every other error rolls it back. A commit
//!   that returned an error is never visible unless a crash follows (then it is in doubt).
//!
//! Commits may become visible before their `Commit` completes (publish happens inside
//! the operation). A read whose snapshot reaches a sequence not yet acknowledged is
//! judged at once when exactly one commit is in flight (tentatively binding it to that
//! sequence); otherwise, or in addition, it is kept until those sequences are
//! acknowledged and judged then (the violation still names the read's step). After every
//! completion, each sequence a reader saw or a later commit skipped must still be
//! fillable by a distinct commit in flight; when one leaves without filling it, the
//! reader saw an aborted commit (G1a) or the sequences have a gap.
//!
//! Snapshot claims make the oracle precise. Without them it still judges every read, at
//! the newest snapshot that explains it (keeping reads only in-flight commits can
//! explain until those settle), but it cannot tie a transaction's reads together nor
//! check the writer-snapshot rule.
//!
//! Memory: versions older than every open snapshot and every allowed recovery point are
//! compacted (keeping a window of recent history for naming violations). Under
//! `Durability::Normal` a recovery may go back to the last durable commit, so call
//! `note_durable` when the simulator knows one (a WAL reset is noticed on its own).
//!
//! A failed WAL fsync (`note_sync_failed`) may have lost every frame it covered: real file
//! systems mark those pages clean, so a later fsync succeeds without writing them. Commits
//! acknowledged before it and not yet known durable are then in doubt (under `Normal`; under
//! `Full` each was durable before it was acknowledged), and a commit whose own fsync failed
//! may be reported failed or in doubt, never acknowledged and then lost. Until the next
//! recovery, a later durable point proves the earlier commits survive only if the engine
//! acknowledged a commit after the failure: an engine that goes on acknowledging must
//! have written the lost frames again.

use std::borrow::Cow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use crate::model::reads::{Observed, ReadRecord};
use crate::model::recovery::Ambiguity;
use crate::model::versions::{VersionStore, WriteSet};
use crate::model::{Claims, Durability};
use crate::op::{Op, OpError, OpOutput, OpResult};
use crate::violation::{Violation, ViolationKind, show_op, show_result};

/// Commits of history kept below what any snapshot or recovery can read, so that
/// violations can name a stale value's commit and a recovery's matching state. The
/// extra memory is bounded by the writes of this many commits.
pub(super) const HISTORY_WINDOW_COMMITS: u64 = 64;

/// A writing commit the oracle knows the writes of: in flight, failed, or in doubt.
#[derive(Debug, Clone)]
pub(super) struct PendingCommit {
    pub conn: u64,
    pub txn: u64,
    /// Step at which the commit was invoked.
    pub step: u64,
    /// Step at which it returned an error (0 while in flight or acknowledged).
    pub failed_step: u64,
    pub writes: WriteSet,
}

/// An open transaction (explicit, or the implicit one of a single operation).
#[derive(Debug, Clone)]
pub(super) struct Txn {
    pub(super) id: u64,
    pub(super) explicit: bool,
    /// The last commit acknowledged before the transaction began: its snapshot's floor.
    pub(super) floor: u64,
    pub(super) snapshot: Option<u64>,
    /// The engine never claimed a snapshot: `snapshot` is the oldest one the oracle
    /// inferred from reads (each read is then judged at any snapshot that explains it).
    pub(super) inferred: bool,
    pub(super) writes: WriteSet,
}

/// An invoked operation awaiting completion. The completion hands the operation back, so
/// only its stamp is kept, to check that the completion names the op that was invoked.
#[derive(Debug, Clone)]
pub(super) struct PendingOp {
    pub(super) stamp: OpStamp,
    /// The last commit acknowledged when it was invoked.
    pub(super) floor: u64,
}

/// What identifies an invoked operation without copying its keys and values: its kind, the
/// lengths of its byte strings, its scan limit or mode, and the first and last eight bytes
/// of each key (so keys up to 16 bytes, as every workload writes, are compared whole). A
/// completion that names another op (a simulator bug) differs in one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OpStamp {
    kind: &'static str,
    lengths: [usize; 3],
    key_edges: [[u64; 2]; 2],
}

impl OpStamp {
    pub(super) fn of(op: &Op) -> OpStamp {
        let (keys, value_len, limit): ([&[u8]; 2], usize, usize) = match op {
            Op::Get(key) | Op::Delete(key) => ([key, &[]], 0, 0),
            Op::Put(key, value) => ([key, &[]], value.len(), 0),
            Op::Scan { start, end, limit } => ([start, end.as_deref().unwrap_or(&[])], 0, *limit),
            Op::Begin(mode) => ([&[], &[]], 0, *mode as usize),
            Op::Checkpoint(mode) => ([&[], &[]], 0, *mode as usize),
            Op::Commit | Op::Rollback | Op::IntegrityCheck => ([&[], &[]], 0, 0),
        };
        OpStamp {
            kind: op.name(),
            lengths: [keys[0].len(), keys[1].len() + value_len, limit],
            key_edges: [key_edges(keys[0]), key_edges(keys[1])],
        }
    }
}

/// The first and the last eight bytes of `key` as words (a shorter key, zero-padded, twice).
fn key_edges(key: &[u8]) -> [u64; 2] {
    match (key.first_chunk::<8>(), key.last_chunk::<8>()) {
        (Some(first), Some(last)) => [u64::from_le_bytes(*first), u64::from_le_bytes(*last)],
        _ => {
            let word = key
                .iter()
                .fold(0u64, |word, byte| (word << 8) | u64::from(*byte));
            [word, word]
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Conn {
    pub(super) txn: Option<Txn>,
    pub(super) pending: Option<PendingOp>,
    /// The newest snapshot this connection has held (snapshots never go backwards).
    pub(super) last_snapshot: u64,
}

/// One completion being judged: where, by whom, of what, with which result and claims, and
/// the commit floor recorded when the op was invoked.
struct Completed<'a> {
    step: u64,
    conn: u64,
    op: &'a Op,
    result: &'a OpResult,
    claims: Claims,
    floor: u64,
}

impl Completed<'_> {
    /// A protocol violation by this completion (an answer of the wrong shape).
    fn protocol(&self, expected: &str, txn: Option<u64>) -> Violation {
        let v = Violation::new(
            ViolationKind::Protocol,
            self.step,
            expected,
            show_result(self.result),
        )
        .conn(self.conn)
        .op(show_op(self.op));
        match txn {
            Some(txn) => v.txn(txn),
            None => v,
        }
    }
}

/// Set between `on_crash` and `on_recovered`.
#[derive(Debug, Clone, Copy)]
pub(super) struct CrashState {
    pub step: u64,
    /// Whether every acknowledged (and every observed) commit must survive.
    pub keep_acknowledged: bool,
    /// Whether unsynced data was discarded (a real crash, not a reopen after poisoning):
    /// then whatever recovery finds came from durable storage.
    pub lost_volatile: bool,
}

/// The online sequential oracle.
#[derive(Debug)]
pub struct SeqOracle {
    pub(super) durability: Durability,
    pub(super) store: VersionStore,
    /// The highest acknowledged commit sequence.
    pub(super) acked_max: u64,
    /// Sequences below `acked_max` not acknowledged yet (their commits are in flight).
    pub(super) gaps: BTreeSet<u64>,
    pub(super) conns: BTreeMap<u64, Conn>,
    /// Connection ids that belonged to a crashed incarnation and must never come back.
    retired: BTreeSet<u64>,
    /// Writing commits in flight, by connection.
    pub(super) inflight: BTreeMap<u64, PendingCommit>,
    /// Writing commits that returned an error and may still be the last one attempted
    /// (no commit invoked after the failure has been acknowledged).
    pub(super) failed: Vec<PendingCommit>,
    /// After a crash: commits that may or may not have survived, in invocation order.
    pub(super) in_doubt: Vec<PendingCommit>,
    /// Reads that saw sequences not acknowledged yet, awaiting judgement.
    pub(super) unconfirmed: Vec<ReadRecord<'static>>,
    /// The newest snapshot any reader held since the last recovery.
    pub(super) max_seen_snapshot: u64,
    /// A commit sequence known to be durable (Normal: recovery cannot go below it).
    pub(super) durable_floor: u64,
    /// Set by `note_sync_failed` until the next recovery: the newest acknowledged commit
    /// when a WAL fsync last failed.
    pub(super) sync_failed_at: Option<u64>,
    next_txn: u64,
    pub(super) crash: Option<CrashState>,
    /// Orders of in-doubt commits a reopen could not tell apart (see `recovery`).
    pub(super) ambiguity: Option<Ambiguity>,
}

impl SeqOracle {
    /// An oracle for an empty database.
    pub fn new(durability: Durability) -> Self {
        SeqOracle {
            durability,
            store: VersionStore::new(),
            acked_max: 0,
            gaps: BTreeSet::new(),
            conns: BTreeMap::new(),
            retired: BTreeSet::new(),
            inflight: BTreeMap::new(),
            failed: Vec::new(),
            in_doubt: Vec::new(),
            unconfirmed: Vec::new(),
            max_seen_snapshot: 0,
            durable_floor: 0,
            sync_failed_at: None,
            next_txn: 1,
            crash: None,
            ambiguity: None,
        }
    }

    /// The highest commit sequence acknowledged (or recovered) so far.
    pub fn committed_seq(&self) -> u64 {
        self.acked_max
    }

    /// How many versions the model holds (memory statistics and tests).
    pub fn version_count(&self) -> usize {
        self.store.version_count()
    }

    /// Tells the oracle that every commit up to `seq` is durable (for example after a
    /// checkpoint that reset the WAL), so under `Durability::Normal` recovery may not go
    /// below it and older versions can be compacted.
    pub fn note_durable(&mut self, seq: u64) {
        if self
            .sync_failed_at
            .is_some_and(|acked_then| self.acked_max <= acked_then)
        {
            // Nothing was acknowledged since a WAL fsync failed: the commits it may have
            // lost are in doubt until recovery says what survived.
            return;
        }
        self.durable_floor = self.durable_floor.max(seq.min(self.acked_max));
        if self
            .ambiguity
            .as_ref()
            .is_some_and(|a| a.settled_by(self.durable_floor))
        {
            self.ambiguity = None;
        }
    }

    /// Tells the oracle that a WAL fsync failed and may have lost every frame it covered
    /// (the engine was told through the failed sync's completion). Commits acknowledged so
    /// far and not yet durable stay in doubt: a later successful fsync no longer makes them
    /// durable unless the engine acknowledges another commit first.
    pub fn note_sync_failed(&mut self) {
        self.sync_failed_at = Some(self.acked_max);
    }

    /// Connection `conn` starts `op` at `step`.
    pub fn on_invoke(&mut self, step: u64, conn: u64, op: &Op) {
        assert!(
            self.crash.is_none(),
            "no operation starts between a crash and its recovery"
        );
        let floor = self.acked_max;
        // A crash moves every known connection into `retired`, so only a connection seen
        // for the first time can be a retired one coming back.
        let state = match self.conns.entry(conn) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                assert!(
                    !self.retired.contains(&conn),
                    "connection {conn} crashed and must not come back"
                );
                new.insert(Conn::default())
            }
        };
        assert!(
            state.pending.is_none(),
            "connection {conn} started {} with an op pending",
            show_op(op)
        );
        let data_op = matches!(
            op,
            Op::Get(_) | Op::Put(..) | Op::Delete(_) | Op::Scan { .. }
        );
        if state.txn.is_none() && data_op {
            state.txn = Some(Txn {
                id: self.next_txn,
                explicit: false,
                floor,
                snapshot: None,
                inferred: false,
                writes: WriteSet::new(),
            });
            self.next_txn += 1;
        }
        let txn = state.txn.as_ref();
        let writes = match (op, txn) {
            (Op::Commit, Some(txn)) if txn.explicit && !txn.writes.is_empty() => {
                Some(txn.writes.clone())
            }
            (Op::Put(key, value), Some(txn)) if !txn.explicit => {
                Some(WriteSet::from([(key.clone(), Some(value.clone()))]))
            }
            (Op::Delete(key), Some(txn)) if !txn.explicit => {
                Some(WriteSet::from([(key.clone(), None)]))
            }
            _ => None,
        };
        if let (Some(writes), Some(txn)) = (writes, txn) {
            let commit = PendingCommit {
                conn,
                txn: txn.id,
                step,
                failed_step: 0,
                writes,
            };
            self.inflight.insert(conn, commit);
        }
        state.pending = Some(PendingOp {
            stamp: OpStamp::of(op),
            floor,
        });
    }

    /// Connection `conn`'s `op` completed at `step` with `result`; `claims` are the
    /// engine's white-box facts about it. The first broken rule is returned.
    pub fn on_complete(
        &mut self,
        step: u64,
        conn: u64,
        op: &Op,
        result: &OpResult,
        claims: Claims,
    ) -> Result<(), Violation> {
        // The connection's state is taken out (an idle `Conn` stands in for it, as if it
        // were absent) so that `complete` can borrow both it and the oracle; it goes back
        // into the same map entry afterwards, without removing and reinserting the key.
        let mut state = std::mem::take(
            self.conns
                .get_mut(&conn)
                .expect("an op completes on a known connection"),
        );
        let pending = state
            .pending
            .take()
            .expect("an op completes after its invocation");
        assert_eq!(
            pending.stamp,
            OpStamp::of(op),
            "connection {conn} completed an op it did not invoke: {}",
            show_op(op)
        );
        let inflight = self.inflight.remove(&conn);
        let done = Completed {
            step,
            conn,
            op,
            result,
            claims,
            floor: pending.floor,
        };
        let outcome = self.complete(&done, &mut state, inflight);
        if state.txn.as_ref().is_some_and(|txn| !txn.explicit) {
            state.txn = None;
        }
        *self
            .conns
            .get_mut(&conn)
            .expect("complete neither adds nor removes connections") = state;
        outcome?;
        self.check_fillable(step, conn, op)?;
        self.judge_resolved_reads()?;
        Ok(())
    }

    /// Judges one completion against the connection's `state`; `inflight` is the commit
    /// its invocation started, if any.
    fn complete(
        &mut self,
        done: &Completed<'_>,
        state: &mut Conn,
        inflight: Option<PendingCommit>,
    ) -> Result<(), Violation> {
        if let (Op::Begin(_), Ok(OpOutput::Done)) = (done.op, done.result) {
            self.open_explicit(done, state)?;
        }
        // Claims describe a finished operation: a failed one (and a rollback, which
        // reads nothing) may leave the previous operation's claims in place.
        let claims_hold = done.result.is_ok() && !matches!(done.op, Op::Rollback);
        if let Some(claimed) = done.claims.snapshot_seq.filter(|_| claims_hold) {
            self.claim_snapshot(done.step, done.conn, state, done.op, claimed)?;
        }
        let output = match done.result {
            Ok(output) => output,
            Err(OpError::Busy) => return Ok(()),
            Err(_) => {
                state.txn = None;
                if let Some(commit) = inflight {
                    self.commit_failed(done.step, commit);
                }
                return Ok(());
            }
        };
        let (step, conn, op) = (done.step, done.conn, done.op);
        match (op, output) {
            (Op::Begin(_), OpOutput::Done) => Ok(()),
            (Op::Get(_), OpOutput::Value(value)) => {
                self.read(step, conn, state, op, Observed::Value(Cow::Borrowed(value)))
            }
            (Op::Scan { .. }, OpOutput::Rows(rows)) => {
                self.read(step, conn, state, op, Observed::Rows(Cow::Borrowed(rows)))
            }
            (Op::Put(..) | Op::Delete(_), OpOutput::Done) => self.wrote(done, state, inflight),
            (Op::Commit, OpOutput::Committed { seq }) => {
                self.committed(done, state, inflight, *seq)
            }
            (Op::Rollback, OpOutput::Done) => {
                state.txn = None;
                Ok(())
            }
            (Op::Checkpoint(_), OpOutput::Checkpointed { wal_reset, .. }) => {
                if *wal_reset {
                    // Every commit acknowledged before the checkpoint began was in the WAL
                    // it just backfilled into a durable database file.
                    self.note_durable(done.floor);
                }
                Ok(())
            }
            (Op::IntegrityCheck, OpOutput::Integrity(problems)) if problems.is_empty() => Ok(()),
            (Op::IntegrityCheck, OpOutput::Integrity(problems)) => Err(Violation::new(
                ViolationKind::Integrity,
                step,
                "no problems",
                problems.join("; "),
            )
            .conn(conn)
            .op(show_op(op))),
            _ => Err(done.protocol(
                "an output of the shape this operation returns",
                state.txn.as_ref().map(|txn| txn.id),
            )),
        }
    }

    /// A `Begin` succeeded: the connection now has an explicit transaction.
    fn open_explicit(&mut self, done: &Completed<'_>, state: &mut Conn) -> Result<(), Violation> {
        if let Some(txn) = &state.txn {
            return Err(done.protocol("a refusal: a transaction is already open", Some(txn.id)));
        }
        state.txn = Some(Txn {
            id: self.next_txn,
            explicit: true,
            floor: done.floor,
            snapshot: None,
            inferred: false,
            writes: WriteSet::new(),
        });
        self.next_txn += 1;
        Ok(())
    }

    /// A put or delete succeeded: an explicit transaction records it, an implicit one has
    /// committed it.
    fn wrote(
        &mut self,
        done: &Completed<'_>,
        state: &mut Conn,
        inflight: Option<PendingCommit>,
    ) -> Result<(), Violation> {
        let txn = state.txn.as_mut().expect("a data op runs in a transaction");
        if txn.explicit {
            let (key, value) = match done.op {
                Op::Put(key, value) => (key.clone(), Some(value.clone())),
                Op::Delete(key) => (key.clone(), None),
                _ => unreachable!("matched Put or Delete"),
            };
            txn.writes.insert(key, value);
            return Ok(());
        }
        let commit = inflight.expect("an implicit write is an in-flight commit");
        let seq = done.claims.commit_seq.unwrap_or(0);
        let snapshot = txn.snapshot.filter(|_| !txn.inferred);
        self.commit_acked(done.step, done.op, commit, snapshot, seq)
    }

    /// An explicit `Commit` answered with sequence `seq`.
    fn committed(
        &mut self,
        done: &Completed<'_>,
        state: &mut Conn,
        inflight: Option<PendingCommit>,
        seq: u64,
    ) -> Result<(), Violation> {
        let Some(txn) = state.txn.take() else {
            return Err(done.protocol("a refusal: no transaction is open", None));
        };
        if done.claims.commit_seq.is_some_and(|claimed| claimed != seq) {
            return Err(done.protocol("the claimed commit sequence", Some(txn.id)));
        }
        let snapshot = txn.snapshot.filter(|_| !txn.inferred);
        // The transaction ends here: its writes move into the commit when the invocation
        // recorded none in flight (a read-only or empty transaction).
        let commit = inflight.unwrap_or(PendingCommit {
            conn: done.conn,
            txn: txn.id,
            step: done.step,
            failed_step: 0,
            writes: txn.writes,
        });
        self.commit_acked(done.step, done.op, commit, snapshot, seq)
    }

    /// Every connection is gone (a crash, or a reopen after poisoning when `lost_volatile`
    /// is false). Commits in flight, and those that failed since the last acknowledged
    /// one, are now in doubt until `on_recovered`.
    pub fn on_crash(&mut self, step: u64, lost_volatile: bool) {
        assert!(
            self.crash.is_none(),
            "a crash is followed by recovery before the next"
        );
        let mut in_doubt = std::mem::take(&mut self.failed);
        in_doubt.extend(std::mem::take(&mut self.inflight).into_values());
        in_doubt.sort_by_key(|commit| commit.step);
        self.in_doubt = in_doubt;
        self.retired
            .extend(std::mem::take(&mut self.conns).into_keys());
        let keep_acknowledged = self.durability == Durability::Full || !lost_volatile;
        self.crash = Some(CrashState {
            step,
            keep_acknowledged,
            lost_volatile,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{CheckpointMode, TxMode};

    fn b(text: &str) -> Vec<u8> {
        text.as_bytes().to_vec()
    }

    #[test]
    fn stamps_of_equal_ops_agree_and_of_different_ops_differ() {
        let ops = [
            Op::Begin(TxMode::Deferred),
            Op::Begin(TxMode::Immediate),
            Op::Get(b("k1")),
            Op::Get(b("k2")),
            Op::Get(b("k10")),
            Op::Delete(b("k1")),
            Op::Put(b("k1"), b("v")),
            Op::Put(b("k1"), b("vv")),
            Op::Put(b("k2"), b("v")),
            Op::Scan {
                start: b("a"),
                end: None,
                limit: 3,
            },
            Op::Scan {
                start: b("a"),
                end: Some(b("b")),
                limit: 3,
            },
            Op::Scan {
                start: b("a"),
                end: Some(b("b")),
                limit: 4,
            },
            Op::Scan {
                start: b("ab"),
                end: None,
                limit: 3,
            },
            Op::Commit,
            Op::Rollback,
            Op::Checkpoint(CheckpointMode::Passive),
            Op::Checkpoint(CheckpointMode::Truncate),
            Op::IntegrityCheck,
        ];
        for (i, a) in ops.iter().enumerate() {
            assert_eq!(OpStamp::of(a), OpStamp::of(&a.clone()), "{a:?}");
            for other in &ops[i + 1..] {
                assert_ne!(OpStamp::of(a), OpStamp::of(other), "{a:?} and {other:?}");
            }
        }
    }

    #[test]
    fn stamps_tell_apart_keys_up_to_16_bytes_that_differ_in_any_byte() {
        for len in [1, 7, 8, 9, 12, 16] {
            let key: Vec<u8> = (0..len).map(|i| b'a' + i).collect();
            let stamp = OpStamp::of(&Op::Get(key.clone()));
            for at in 0..usize::from(len) {
                let mut other = key.clone();
                other[at] = b'#';
                assert_ne!(
                    stamp,
                    OpStamp::of(&Op::Get(other)),
                    "length {len}, byte {at}"
                );
            }
            let mut padded = key.clone();
            padded.push(0);
            assert_ne!(
                stamp,
                OpStamp::of(&Op::Get(padded)),
                "length {len} and a zero"
            );
        }
    }

    #[test]
    #[should_panic(expected = "completed an op it did not invoke")]
    fn completing_another_op_than_the_invoked_one_panics() {
        let mut oracle = SeqOracle::new(Durability::Full);
        oracle.on_invoke(1, 7, &Op::Get(b("k1")));
        let _ = oracle.on_complete(
            2,
            7,
            &Op::Get(b("k2")),
            &Ok(OpOutput::Value(None)),
            Claims::default(),
        );
    }

    #[test]
    fn completing_the_invoked_op_is_judged() {
        let mut oracle = SeqOracle::new(Durability::Full);
        oracle.on_invoke(1, 7, &Op::Get(b("k1")));
        let wrong = oracle.on_complete(
            2,
            7,
            &Op::Get(b("k1")),
            &Ok(OpOutput::Value(Some(b("never written")))),
            Claims {
                snapshot_seq: Some(0),
                commit_seq: None,
            },
        );
        assert!(wrong.is_err(), "a value nobody wrote is a violation");
        oracle.on_invoke(3, 7, &Op::Get(b("k1")));
        let right = oracle.on_complete(
            4,
            7,
            &Op::Get(b("k1")),
            &Ok(OpOutput::Value(None)),
            Claims {
                snapshot_seq: Some(0),
                commit_seq: None,
            },
        );
        assert_eq!(right, Ok(()));
    }
}
