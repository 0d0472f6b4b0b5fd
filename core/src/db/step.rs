//! The state machine behind `Connection::execute`: one `Running` op, its `Stage` at the top.
//!
//! Every stage that waits keeps its progress inside its variant; the connection's
//! transaction changes only on a transition, after whatever it waited for was observed.

use super::database::Database;
use super::op::OpClaims;
use super::op::{CheckpointMode, Op, Output, TxMode};
use super::txn::Txn;
use crate::storage::btree::{CreateTree, Delete, Get, IntegrityCheck, Put, Scan};
use crate::storage::format::DbHeader;
use crate::storage::pager::Checkpoint;
use crate::storage::pager::freelist::FreelistScan;
use crate::{Completion, Error, IOResult, Result, YieldPoint, io_yield_one, return_if_io};

/// A connection's state between calls: its transaction, its op in flight, and the claims
/// about its last finished op.
pub(crate) struct ConnState {
    /// The open transaction, if any.
    pub(crate) txn: Option<Txn>,
    /// The op in flight, between an `IO` return and the re-entry that finishes it.
    pub(crate) running: Option<Running>,
    pub(crate) claims: OpClaims,
}

/// The op in flight and where it is.
pub(crate) struct Running {
    pub(crate) op: Op,
    stage: Stage,
}

/// Where a running op is. Checkpoints and integrity checks are boxed: they are rare and
/// several times the size of the other stages, which move on every stage change.
pub(crate) enum Stage {
    /// Taking the snapshot or write lock the op needs; `yielded` once the injected
    /// `LockAcquire` yield has been taken.
    Lock {
        yielded: bool,
    },
    /// Waiting for an empty database's root leaf to be created.
    CreateTree(CreateTree),
    WaitGet(Get),
    WaitPut(Put),
    WaitDelete(Delete),
    WaitScan(Scan),
    /// Waiting for the commit (the write transaction keeps the commit's own progress).
    /// `output` is what the op returns afterwards; None for an explicit `Commit`.
    WaitCommit {
        output: Option<Output>,
    },
    /// Waiting for the passive checkpoint a commit triggered; then returns `output`.
    WaitAutoCheckpoint {
        checkpoint: Box<Checkpoint>,
        output: Output,
    },
    WaitCheckpoint(Box<Checkpoint>),
    /// Waiting for the freelist walk of an integrity check; `problems` found so far.
    WaitIntegrityFreelist {
        scan: FreelistScan,
        header: DbHeader,
        problems: Vec<String>,
    },
    /// Waiting for the B-tree walk of an integrity check.
    WaitIntegrityTree {
        check: Box<IntegrityCheck>,
        problems: Vec<String>,
    },
}

impl Running {
    /// Starts `op`, opening the transaction it runs in (explicit for `Begin`, else implicit
    /// unless one is open). Checkpoints run outside any transaction.
    pub(crate) fn start(op: &Op, txn: &mut Option<Txn>) -> Running {
        let needs_txn = !matches!(op, Op::Checkpoint(_) | Op::Commit | Op::Rollback);
        if txn.is_none() && needs_txn {
            *txn = Some(Txn::new(matches!(op, Op::Begin(_))));
        }
        Running {
            op: op.clone(),
            stage: Stage::Lock { yielded: false },
        }
    }
}

/// What an op must hold before it runs.
struct LockNeed {
    snapshot: bool,
    write: bool,
}

fn lock_need(op: &Op) -> LockNeed {
    match op {
        Op::Begin(mode) => {
            let immediate = *mode == TxMode::Immediate;
            LockNeed {
                snapshot: immediate,
                write: immediate,
            }
        }
        Op::Get(_) | Op::Scan { .. } | Op::IntegrityCheck => LockNeed {
            snapshot: true,
            write: false,
        },
        Op::Put(..) | Op::Delete(_) => LockNeed {
            snapshot: true,
            write: true,
        },
        Op::Commit | Op::Rollback | Op::Checkpoint(_) => LockNeed {
            snapshot: false,
            write: false,
        },
    }
}

/// Takes what `need` asks for that `txn` does not hold yet. No I/O; `Busy`/`BusySnapshot`
/// leave `txn` unchanged.
fn acquire(db: &Database, txn: &mut Txn, need: &LockNeed) -> Result<()> {
    if need.write && !txn.is_write() {
        let write = db.pager().try_begin_write(txn.read_snapshot())?;
        txn.hold_write(write);
    } else if need.snapshot && txn.snapshot().is_none() {
        txn.hold_read(db.pager().begin_read()?);
    }
    Ok(())
}

fn holds(txn: Option<&Txn>, need: &LockNeed) -> bool {
    let Some(txn) = txn else {
        return !need.snapshot && !need.write;
    };
    (!need.write || txn.is_write()) && (!need.snapshot || txn.snapshot().is_some())
}

/// What a stage's handler decided.
enum Then {
    /// Go on to this stage now.
    Next(Stage),
    /// The op is done.
    Done(Output),
}

type StageResult = Result<IOResult<Then>>;

/// Drives the running op as far as it can go without waiting.
pub(crate) fn drive(db: &Database, state: &mut ConnState) -> Result<IOResult<Output>> {
    let ConnState {
        txn,
        running,
        claims,
    } = state;
    let Running { op, stage } = running
        .as_mut()
        .expect("drive is called with an op running");
    loop {
        let then = match stage {
            Stage::Lock { yielded } => take_locks(db, op, txn, claims, yielded),
            Stage::CreateTree(create) => {
                return_if_io!(create.step(pages(txn)?));
                Ok(IOResult::Done(Then::Next(write_stage(op))))
            }
            Stage::WaitGet(_) | Stage::WaitScan(_) | Stage::WaitPut(_) | Stage::WaitDelete(_) => {
                data_op(op, stage, txn, claims)
            }
            Stage::WaitCommit { output } => commit(db, txn, claims, output),
            Stage::WaitAutoCheckpoint { checkpoint, output } => {
                // The commit is already acknowledged: a failed checkpoint only leaves the
                // WAL longer, so its error is not the op's.
                if let Ok(IOResult::IO(waiting)) = checkpoint.step() {
                    return Ok(IOResult::IO(waiting));
                }
                Ok(IOResult::Done(Then::Done(std::mem::replace(
                    output,
                    Output::Done,
                ))))
            }
            Stage::WaitCheckpoint(checkpoint) => {
                let outcome = return_if_io!(checkpoint.step());
                Ok(IOResult::Done(Then::Done(Output::Checkpointed(outcome))))
            }
            Stage::WaitIntegrityFreelist {
                scan,
                header,
                problems,
            } => integrity_freelist(txn, scan, header, problems),
            Stage::WaitIntegrityTree { check, problems } => {
                integrity_tree(txn, claims, check, problems)
            }
        };
        match return_if_io!(then) {
            Then::Next(next) => *stage = next,
            Then::Done(output) => return Ok(IOResult::Done(output)),
        }
    }
}

/// A get, scan, put or delete: its B-tree operation, then the end of the op.
fn data_op(
    op: &Op,
    stage: &mut Stage,
    txn: &mut Option<Txn>,
    claims: &mut OpClaims,
) -> StageResult {
    let output = match (stage, op) {
        (Stage::WaitGet(get), _) => Output::Value(return_if_io!(get.step(pages(txn)?))),
        (Stage::WaitScan(scan), _) => Output::Rows(return_if_io!(scan.step(pages(txn)?))),
        (Stage::WaitPut(put), Op::Put(key, value)) => {
            return_if_io!(put.step_with(pages(txn)?, key, value));
            Output::Done
        }
        (Stage::WaitDelete(delete), Op::Delete(key)) => {
            return_if_io!(delete.step_with(pages(txn)?, key));
            Output::Done
        }
        _ => unreachable!("a data stage runs the op it was started for"),
    };
    Ok(IOResult::Done(finish_op(txn, claims, output)))
}

/// Takes the snapshot or write lock the op needs (after the `LockAcquire` yield point),
/// then starts its first stage.
fn take_locks(
    db: &Database,
    op: &Op,
    txn: &mut Option<Txn>,
    claims: &mut OpClaims,
    yielded: &mut bool,
) -> StageResult {
    let need = lock_need(op);
    if !holds(txn.as_ref(), &need) {
        if !*yielded && db.options().should_yield(YieldPoint::LockAcquire) {
            *yielded = true;
            io_yield_one!(Completion::new_yield());
        }
        let open = txn
            .as_mut()
            .expect("ops that take locks run in a transaction");
        acquire(db, open, &need)?;
        assert!(
            holds(txn.as_ref(), &need),
            "the op holds what it needs once acquire succeeded"
        );
    }
    Ok(IOResult::Done(match first_stage(db, op, txn, claims)? {
        Some(stage) => Then::Next(stage),
        None => Then::Done(Output::Done),
    }))
}

/// Commits the transaction (a read-only one ends without I/O), then starts the passive
/// checkpoint its WAL length asks for.
fn commit(
    db: &Database,
    txn: &mut Option<Txn>,
    claims: &mut OpClaims,
    output: &mut Option<Output>,
) -> StageResult {
    let open = txn.as_mut().expect("a commit runs in a transaction");
    assert_eq!(
        open.explicit,
        output.is_none(),
        "an explicit Commit answers with its sequence, an implicit commit with its op's output"
    );
    let Some(write) = open.write_mut() else {
        // Read-only: nothing to write, no I/O.
        *claims = OpClaims {
            snapshot_seq: open.snapshot_seq(),
            commit_seq: None,
        };
        *txn = None;
        let output = output.take().unwrap_or(Output::Committed { seq: 0 });
        return Ok(IOResult::Done(Then::Done(output)));
    };
    let snapshot_seq = write.snapshot_seq();
    let seq = return_if_io!(write.commit());
    assert!(
        seq.is_none_or(|seq| seq > snapshot_seq),
        "a commit publishes after its snapshot"
    );
    *claims = OpClaims {
        snapshot_seq: Some(snapshot_seq),
        commit_seq: seq,
    };
    *txn = None;
    let output = output.take().unwrap_or(Output::Committed {
        seq: seq.unwrap_or(0),
    });
    // Count only frames not yet copied: a passive checkpoint does not reset the WAL, and a
    // writer restarts it only when no snapshot needs it, so its length alone could
    // checkpoint after every commit.
    let limit = db.options().autocheckpoint_frames;
    let pager = db.pager();
    let uncopied = pager.wal_frames().saturating_sub(pager.wal_backfilled());
    if limit > 0 && u64::from(uncopied) > limit {
        let checkpoint = Box::new(pager.checkpoint(CheckpointMode::Passive));
        return Ok(IOResult::Done(Then::Next(Stage::WaitAutoCheckpoint {
            checkpoint,
            output,
        })));
    }
    Ok(IOResult::Done(Then::Done(output)))
}

/// An integrity check's freelist walk; a corrupt freelist is a problem found, not an error.
fn integrity_freelist(
    txn: &mut Option<Txn>,
    scan: &mut FreelistScan,
    header: &DbHeader,
    problems: &mut Vec<String>,
) -> StageResult {
    let freelist = match scan.step(pages(txn)?) {
        Ok(IOResult::IO(waiting)) => return Ok(IOResult::IO(waiting)),
        Ok(IOResult::Done(freelist)) => freelist,
        Err(Error::Corrupt(msg)) => {
            problems.push(format!("freelist: {msg}"));
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let check = Box::new(IntegrityCheck::new(freelist, header.page_count));
    let problems = std::mem::take(problems);
    Ok(IOResult::Done(Then::Next(Stage::WaitIntegrityTree {
        check,
        problems,
    })))
}

/// An integrity check's B-tree walk; corruption it meets is a problem found.
fn integrity_tree(
    txn: &mut Option<Txn>,
    claims: &mut OpClaims,
    check: &mut IntegrityCheck,
    problems: &mut Vec<String>,
) -> StageResult {
    match check.step(pages(txn)?) {
        Ok(IOResult::IO(waiting)) => return Ok(IOResult::IO(waiting)),
        Ok(IOResult::Done(found)) => problems.extend(found),
        Err(Error::Corrupt(msg)) => problems.push(format!("b-tree: {msg}")),
        Err(e) => return Err(e),
    }
    let report = Output::Integrity(std::mem::take(problems));
    Ok(IOResult::Done(finish_op(txn, claims, report)))
}

/// The stage an op starts with once it holds its locks; None when it is already done.
fn first_stage(
    db: &Database,
    op: &Op,
    txn: &mut Option<Txn>,
    claims: &mut OpClaims,
) -> Result<Option<Stage>> {
    let stage = match op {
        Op::Begin(_) => {
            *claims = OpClaims {
                snapshot_seq: txn.as_ref().and_then(Txn::snapshot_seq),
                commit_seq: None,
            };
            return Ok(None);
        }
        Op::Rollback => {
            assert!(
                txn.as_ref().is_some_and(|t| t.explicit),
                "a rollback runs inside an explicit transaction"
            );
            *txn = None;
            return Ok(None);
        }
        Op::Commit => Stage::WaitCommit { output: None },
        Op::Checkpoint(mode) => Stage::WaitCheckpoint(Box::new(db.pager().checkpoint(*mode))),
        Op::Get(key) => Stage::WaitGet(Get::new(key.clone())),
        Op::Scan { start, end, limit } => {
            Stage::WaitScan(Scan::new(start.clone(), end.clone(), *limit))
        }
        // A delete on a database without a tree deletes nothing: it must not create the
        // tree, or its transaction would publish a commit that changed nothing (SQLite
        // writes nothing for a DELETE that matches no row).
        Op::Put(..) if pages(txn)?.root() == 0 => Stage::CreateTree(CreateTree::new()),
        Op::Put(..) | Op::Delete(_) => write_stage(op),
        Op::IntegrityCheck => {
            let open = txn
                .as_ref()
                .expect("an integrity check runs in a transaction");
            let header = open
                .header()
                .expect("the lock stage took a snapshot for the check");
            let mut problems = Vec::new();
            if let Err(e) = header.check_consistent() {
                problems.push(format!("header: {e}"));
            }
            let scan = FreelistScan::new(header.freelist_head, header.freelist_count);
            Stage::WaitIntegrityFreelist {
                scan,
                header,
                problems,
            }
        }
    };
    Ok(Some(stage))
}

fn write_stage(op: &Op) -> Stage {
    match op {
        // The op stays in `Running` while it runs: the write borrows its key and value.
        Op::Put(..) => Stage::WaitPut(Put::borrowing()),
        Op::Delete(_) => Stage::WaitDelete(Delete::borrowing()),
        other => unreachable!("{} is not a write", other.name()),
    }
}

fn pages(txn: &mut Option<Txn>) -> Result<&mut dyn crate::storage::PageAccess> {
    txn.as_mut()
        .and_then(Txn::pages)
        .ok_or_else(|| Error::Internal("op needs pages but holds no snapshot".into()))
}

/// Ends a data op: an explicit transaction stays open; an implicit one commits (writes)
/// or ends (reads).
fn finish_op(txn: &mut Option<Txn>, claims: &mut OpClaims, output: Output) -> Then {
    let open = txn.as_ref().expect("data ops run in a transaction");
    if !open.explicit && open.is_write() {
        return Then::Next(Stage::WaitCommit {
            output: Some(output),
        });
    }
    *claims = OpClaims {
        snapshot_seq: open.snapshot_seq(),
        commit_seq: None,
    };
    if !open.explicit {
        *txn = None;
    }
    Then::Done(output)
}
