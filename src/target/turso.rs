//! `Turso`: Turso's engine (turso_core, pinned in `targets/turso`, cargo feature `turso`)
//! as a target. The engine side (turso's `IO` served by the run's `SimIO`, and the KV ops
//! as SQL on turso) lives in the `braid-turso` crate; this file only fits it to `Target`.
//!
//! turso shares the simulator's I/O, so it takes the whole fault model: I/O errors, short
//! transfers, latency and reordering, crashes with torn writes. It cannot say who holds
//! the write lock or which snapshot a transaction reads: those claims are unknown and the
//! oracle infers them. Commit sequences come from a counter the adapter keeps in the
//! database (see `braid_turso::kv`), so the sequence a recovery reports is the one the
//! engine actually recovered. Its contract where it differs from braid's engine is in
//! `targets/turso/README.md`.

use std::sync::Arc;

use braid_oracle::{Claims, Op, OpOutput};
use braid_turso::{KvStep, SyncMode, TursoConn, TursoDb, TursoOpener, TursoSettings};

use super::{OpenEnv, Step, Target};

/// turso_core as a target.
#[derive(Debug, Clone, Copy, Default)]
pub struct Turso;

fn step<T>(step: KvStep<T>) -> Step<T> {
    match step {
        KvStep::Done(value) => Step::Done(value),
        KvStep::Wait(completion) => Step::Wait(completion),
        KvStep::Failed(error) => Step::Failed(error),
    }
}

impl Target for Turso {
    type Db = Arc<TursoDb>;
    type Conn = TursoConn;
    type Opener = TursoOpener;
    type Op = Op;

    const NAME: &'static str = "turso";

    fn opener(env: &OpenEnv<'_>) -> TursoOpener {
        let settings = TursoSettings {
            page_size: u32::try_from(env.settings.page_size).expect("at most 65536"),
            cache_pages: u64::try_from(env.settings.cache_pages).unwrap_or(u64::MAX),
            sync: match env.settings.sync {
                braid_core::SyncMode::Full => SyncMode::Full,
                braid_core::SyncMode::Normal => SyncMode::Normal,
            },
            seed: env.yields.draw_seed(),
        };
        TursoOpener::new(Arc::new(env.io.clone()), env.path, settings)
    }

    fn step_open(opener: &mut TursoOpener) -> Step<Arc<TursoDb>> {
        step(opener.step())
    }

    fn connect(db: &Arc<TursoDb>) -> TursoConn {
        TursoConn::connect(db)
    }

    fn commit_seq(db: &Arc<TursoDb>) -> u64 {
        db.commit_seq()
    }

    fn is_poisoned(db: &Arc<TursoDb>) -> bool {
        // turso fail-stops on a failed fsync; the simulator reopens it as after a crash.
        db.is_stopped()
    }

    fn write_lock_owner(_: &Arc<TursoDb>) -> Option<Option<u64>> {
        None
    }

    fn to_engine(op: Op) -> Op {
        op
    }

    fn from_engine(op: Op) -> Op {
        op
    }

    fn execute(conn: &TursoConn, op: &Op) -> Step<OpOutput> {
        step(conn.execute(op))
    }

    fn claims(conn: &TursoConn) -> Claims {
        conn.claims()
    }

    fn may_hold_write_lock(_: &TursoConn) -> bool {
        true
    }

    fn in_transaction(conn: &TursoConn) -> bool {
        conn.in_transaction()
    }

    fn transaction_open(conn: &TursoConn) -> bool {
        conn.transaction_open()
    }

    fn database(conn: &TursoConn) -> &Arc<TursoDb> {
        conn.database()
    }
}
