//! The state machine behind `Connection::execute`: one `Running` op, its `Stage` at the top.
//!
//! Every stage that waits keeps its progress inside its variant; the connection's
//! transaction changes only on a transition, after whatever it waited for was observed.

use super::connection::{ConnState, OpClaims, Txn};
use super::database::Database;
use super::op::{CheckpointMode, Op, Output, TxMode};
use crate::storage::btree::{CreateTree, Delete, Get, IntegrityCheck, Put, Scan};
use crate::storage::format::DbHeader;
use crate::storage::pager::Checkpoint;
use crate::storage::pager::freelist::FreelistScan;
use crate::{Completion, Error, IOResult, Result, YieldPoint, io_yield_one, return_if_io};

/// The op in flight and where it is.
pub(crate) struct Running {
    pub(crate) op: Op,
    stage: Stage,
}

/// Where a running op is.
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
        checkpoint: Checkpoint,
        output: Output,
    },
    WaitCheckpoint(Checkpoint),
    /// Waiting for the freelist walk of an integrity check; `problems` found so far.
    WaitIntegrityFreelist {
        scan: FreelistScan,
        header: DbHeader,
        problems: Vec<String>,
    },
    /// Waiting for the B-tree walk of an integrity check.
    WaitIntegrityTree {
        check: IntegrityCheck,
        problems: Vec<String>,
    },
}

impl Running {
    /// Starts `op`, opening the transaction it runs in (explicit for `Begin`, else implicit
    /// unless one is open). Checkpoints run outside any transaction.
    pub(crate) fn start(op: &Op, txn: &mut Option<Txn>) -> Running {
        let needs_txn = !matches!(op, Op::Checkpoint(_) | Op::Commit | Op::Rollback);
        if txn.is_none() && needs_txn {
            *txn = Some(Txn {
                explicit: matches!(op, Op::Begin(_)),
                ..Txn::default()
            });
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
    if need.write && txn.write.is_none() {
        let write = db
            .pager()
            .try_begin_write(txn.read.as_ref().map(|r| r.snapshot()))?;
        txn.read = None;
        txn.write = Some(write);
    } else if need.snapshot && txn.read.is_none() && txn.write.is_none() {
        txn.read = Some(db.pager().begin_read()?);
    }
    Ok(())
}

fn holds(txn: Option<&Txn>, need: &LockNeed) -> bool {
    let Some(txn) = txn else {
        return !need.snapshot && !need.write;
    };
    (!need.write || txn.write.is_some())
        && (!need.snapshot || txn.read.is_some() || txn.write.is_some())
}

/// Drives the running op as far as it can go without waiting.
pub(crate) fn drive(db: &Database, state: &mut ConnState) -> Result<IOResult<Output>> {
    let ConnState {
        txn,
        running,
        claims,
    } = state;
    let running = running
        .as_mut()
        .expect("drive is called with an op running");
    loop {
        match &mut running.stage {
            Stage::Lock { yielded } => {
                let need = lock_need(&running.op);
                if !holds(txn.as_ref(), &need) {
                    if !*yielded && db.options().should_yield(YieldPoint::LockAcquire) {
                        *yielded = true;
                        io_yield_one!(Completion::new_yield());
                    }
                    let open = txn
                        .as_mut()
                        .expect("ops that take locks run in a transaction");
                    acquire(db, open, &need)?;
                }
                match first_stage(db, &running.op, txn, claims)? {
                    Some(stage) => running.stage = stage,
                    None => return Ok(IOResult::Done(Output::Done)),
                }
            }
            Stage::CreateTree(create) => {
                let pages = pages(txn)?;
                return_if_io!(create.step(pages));
                running.stage = write_stage(&running.op);
            }
            Stage::WaitGet(get) => {
                let value = return_if_io!(get.step(pages(txn)?));
                if let Some(done) = finish_op(txn, claims, &mut running.stage, Output::Value(value))
                {
                    return Ok(IOResult::Done(done));
                }
            }
            Stage::WaitScan(scan) => {
                let rows = return_if_io!(scan.step(pages(txn)?));
                if let Some(done) = finish_op(txn, claims, &mut running.stage, Output::Rows(rows)) {
                    return Ok(IOResult::Done(done));
                }
            }
            Stage::WaitPut(put) => {
                let Op::Put(key, value) = &running.op else {
                    unreachable!("a put stage runs a put")
                };
                return_if_io!(put.step_with(pages(txn)?, key, value));
                if let Some(done) = finish_op(txn, claims, &mut running.stage, Output::Done) {
                    return Ok(IOResult::Done(done));
                }
            }
            Stage::WaitDelete(delete) => {
                let Op::Delete(key) = &running.op else {
                    unreachable!("a delete stage runs a delete")
                };
                return_if_io!(delete.step_with(pages(txn)?, key));
                if let Some(done) = finish_op(txn, claims, &mut running.stage, Output::Done) {
                    return Ok(IOResult::Done(done));
                }
            }
            Stage::WaitCommit { output } => {
                let open = txn.as_mut().expect("a commit runs in a transaction");
                let Some(write) = open.write.as_mut() else {
                    // Read-only: nothing to write, no I/O.
                    *claims = OpClaims {
                        snapshot_seq: open.snapshot_seq(),
                        commit_seq: None,
                    };
                    *txn = None;
                    return Ok(IOResult::Done(
                        output.take().unwrap_or(Output::Committed { seq: 0 }),
                    ));
                };
                let snapshot_seq = write.snapshot_seq();
                let seq = return_if_io!(write.commit());
                *claims = OpClaims {
                    snapshot_seq: Some(snapshot_seq),
                    commit_seq: seq,
                };
                *txn = None;
                let output = output.take().unwrap_or(Output::Committed {
                    seq: seq.unwrap_or(0),
                });
                // Count only frames not yet copied: a passive checkpoint does not reset
                // the WAL, and a writer restarts it only when no snapshot needs it, so
                // its length alone could checkpoint after every commit.
                let limit = db.options().autocheckpoint_frames;
                let pager = db.pager();
                let uncopied = pager.wal_frames().saturating_sub(pager.wal_backfilled());
                if limit > 0 && u64::from(uncopied) > limit {
                    let checkpoint = db.pager().checkpoint(CheckpointMode::Passive);
                    running.stage = Stage::WaitAutoCheckpoint { checkpoint, output };
                } else {
                    return Ok(IOResult::Done(output));
                }
            }
            Stage::WaitAutoCheckpoint { checkpoint, output } => {
                // The commit is already acknowledged: a failed checkpoint only leaves the WAL
                // longer, so its error is not the op's.
                if let Ok(IOResult::IO(waiting)) = checkpoint.step() {
                    return Ok(IOResult::IO(waiting));
                }
                return Ok(IOResult::Done(std::mem::replace(output, Output::Done)));
            }
            Stage::WaitCheckpoint(checkpoint) => {
                let outcome = return_if_io!(checkpoint.step());
                return Ok(IOResult::Done(Output::Checkpointed(outcome)));
            }
            Stage::WaitIntegrityFreelist {
                scan,
                header,
                problems,
            } => {
                let freelist = match scan.step(pages(txn)?) {
                    Ok(IOResult::IO(waiting)) => return Ok(IOResult::IO(waiting)),
                    Ok(IOResult::Done(freelist)) => freelist,
                    Err(Error::Corrupt(msg)) => {
                        problems.push(format!("freelist: {msg}"));
                        Vec::new()
                    }
                    Err(e) => return Err(e),
                };
                let check = IntegrityCheck::new(freelist, header.page_count);
                let problems = std::mem::take(problems);
                running.stage = Stage::WaitIntegrityTree { check, problems };
            }
            Stage::WaitIntegrityTree { check, problems } => {
                match check.step(pages(txn)?) {
                    Ok(IOResult::IO(waiting)) => return Ok(IOResult::IO(waiting)),
                    Ok(IOResult::Done(found)) => problems.extend(found),
                    Err(Error::Corrupt(msg)) => problems.push(format!("b-tree: {msg}")),
                    Err(e) => return Err(e),
                }
                let report = Output::Integrity(std::mem::take(problems));
                if let Some(done) = finish_op(txn, claims, &mut running.stage, report) {
                    return Ok(IOResult::Done(done));
                }
            }
        }
    }
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
            *txn = None;
            return Ok(None);
        }
        Op::Commit => Stage::WaitCommit { output: None },
        Op::Checkpoint(mode) => Stage::WaitCheckpoint(db.pager().checkpoint(*mode)),
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
            let header = match (&open.write, &open.read) {
                (Some(w), _) => *w.header(),
                (None, Some(r)) => *r.header(),
                (None, None) => unreachable!("the lock stage took a snapshot"),
            };
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
/// or ends (reads). Returns the output when the op is done now.
fn finish_op(
    txn: &mut Option<Txn>,
    claims: &mut OpClaims,
    stage: &mut Stage,
    output: Output,
) -> Option<Output> {
    let open = txn.as_ref().expect("data ops run in a transaction");
    if open.explicit {
        *claims = OpClaims {
            snapshot_seq: open.snapshot_seq(),
            commit_seq: None,
        };
        return Some(output);
    }
    if open.write.is_some() {
        *stage = Stage::WaitCommit {
            output: Some(output),
        };
        return None;
    }
    *claims = OpClaims {
        snapshot_seq: open.snapshot_seq(),
        commit_seq: None,
    };
    *txn = None;
    Some(output)
}
