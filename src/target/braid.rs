//! `BraidCore`: braid's own engine (braid-core) as the built-in target.

use std::sync::Arc;

use braid_core::{Connection, Database, IO, IOResult, Opener};
use braid_oracle::{Claims, Op, OpOutput};

use super::braid_convert as convert;
use super::{OpenEnv, Step, Target};

/// braid-core: the engine in this repository, and the default target.
#[derive(Debug, Clone, Copy, Default)]
pub struct BraidCore;

fn step_of<T>(
    result: braid_core::Result<IOResult<T>>,
    done: impl FnOnce(T) -> OpOutput,
) -> Step<OpOutput> {
    match result {
        Ok(IOResult::Done(value)) => Step::Done(done(value)),
        Ok(IOResult::IO(waiting)) => Step::Wait(waiting.completion().clone()),
        Err(err) => Step::Failed(convert::error(&err)),
    }
}

impl Target for BraidCore {
    type Db = Arc<Database>;
    type Conn = Connection;
    type Opener = Opener;
    type Op = braid_core::Op;

    const NAME: &'static str = "braid";

    fn opener(env: &OpenEnv<'_>) -> Opener {
        let mut options = env.settings.db_options();
        options.canary = env.canary;
        options.yield_injector = Some(env.yields.clone());
        let io: Arc<dyn IO> = Arc::new(env.io.clone());
        Database::opener(io, env.path, options)
    }

    fn step_open(opener: &mut Opener) -> Step<Arc<Database>> {
        match opener.step() {
            Ok(IOResult::Done(db)) => Step::Done(db),
            Ok(IOResult::IO(waiting)) => Step::Wait(waiting.completion().clone()),
            Err(err) => Step::Failed(convert::error(&err)),
        }
    }

    fn connect(db: &Arc<Database>) -> Connection {
        db.connect()
    }

    fn commit_seq(db: &Arc<Database>) -> u64 {
        db.commit_seq()
    }

    fn is_poisoned(db: &Arc<Database>) -> bool {
        db.pager().is_poisoned()
    }

    fn write_lock_owner(db: &Arc<Database>) -> Option<Option<u64>> {
        Some(db.pager().write_lock_owner())
    }

    fn to_engine(op: Op) -> braid_core::Op {
        convert::into_core(op)
    }

    fn from_engine(op: braid_core::Op) -> Op {
        convert::from_core(op)
    }

    fn execute(conn: &Connection, op: &braid_core::Op) -> Step<OpOutput> {
        step_of(conn.execute(op), convert::output)
    }

    fn claims(conn: &Connection) -> Claims {
        let claims = conn.last_claims();
        Claims {
            snapshot_seq: claims.snapshot_seq,
            commit_seq: claims.commit_seq,
        }
    }

    fn may_hold_write_lock(conn: &Connection) -> bool {
        conn.may_hold_write_lock()
    }

    fn in_transaction(conn: &Connection) -> bool {
        conn.in_transaction()
    }

    fn transaction_open(conn: &Connection) -> bool {
        conn.transaction_open()
    }

    fn database(conn: &Connection) -> &Arc<Database> {
        conn.database()
    }
}
