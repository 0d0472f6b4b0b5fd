//! Failed fsyncs as real file systems fail them (`[faults] fsync_failure`): the writes a
//! failed sync covered are marked clean, so an engine that goes on as if a later fsync
//! covered them loses acknowledged commits, and the oracle sees it at the next recovery.
//!
//! The engines here carry no completion-group labels (`Unlabelled`: braid-core with every
//! wait wrapped in an unlabelled group, as most engines' I/O looks), so the simulator's own
//! `lost-io-error` invariant, which needs a labelled group, cannot see the swallowed error:
//! only the fault model and the oracle can.
#![cfg(feature = "canaries")]

use braid::config::{self, FsyncFailure};
use braid::sim::{Outcome, SimOptions, Simulation};
use braid::target::{BraidCore, OpenEnv, Step, Target};
use braid_core::{Canary, CompletionGroup};
use braid_oracle::{Claims, Op, OpOutput};

/// braid-core whose waits carry no group label.
struct Unlabelled;

/// The completion `step` waits on, inside an unlabelled group of its own.
fn unlabelled<T>(step: Step<T>) -> Step<T> {
    match step {
        Step::Wait(completion) => {
            let mut group = CompletionGroup::new(|_| {});
            group.add(&completion);
            Step::Wait(group.build())
        }
        other => other,
    }
}

impl Target for Unlabelled {
    type Db = <BraidCore as Target>::Db;
    type Conn = <BraidCore as Target>::Conn;
    type Opener = <BraidCore as Target>::Opener;
    type Op = <BraidCore as Target>::Op;
    const NAME: &'static str = "braid-unlabelled";

    fn opener(env: &OpenEnv<'_>) -> Self::Opener {
        BraidCore::opener(env)
    }
    fn step_open(opener: &mut Self::Opener) -> Step<Self::Db> {
        unlabelled(BraidCore::step_open(opener))
    }
    fn connect(db: &Self::Db) -> Self::Conn {
        BraidCore::connect(db)
    }
    fn commit_seq(db: &Self::Db) -> u64 {
        BraidCore::commit_seq(db)
    }
    fn is_poisoned(db: &Self::Db) -> bool {
        BraidCore::is_poisoned(db)
    }
    fn write_lock_owner(db: &Self::Db) -> Option<Option<u64>> {
        BraidCore::write_lock_owner(db)
    }
    fn to_engine(op: Op) -> Self::Op {
        BraidCore::to_engine(op)
    }
    fn from_engine(op: Self::Op) -> Op {
        BraidCore::from_engine(op)
    }
    fn execute(conn: &Self::Conn, op: &Self::Op) -> Step<OpOutput> {
        unlabelled(BraidCore::execute(conn, op))
    }
    fn claims(conn: &Self::Conn) -> Claims {
        BraidCore::claims(conn)
    }
    fn may_hold_write_lock(conn: &Self::Conn) -> bool {
        BraidCore::may_hold_write_lock(conn)
    }
    fn in_transaction(conn: &Self::Conn) -> bool {
        BraidCore::in_transaction(conn)
    }
    fn transaction_open(conn: &Self::Conn) -> bool {
        BraidCore::transaction_open(conn)
    }
    fn database(conn: &Self::Conn) -> &Self::Db {
        BraidCore::database(conn)
    }
}

fn run(fsync_failure: FsyncFailure, canary: Option<Canary>, seed: u64) -> Outcome {
    let mut config = config::default_config();
    config.faults.fsync_failure = fsync_failure;
    let settings = config.settings().expect("valid");
    let options = SimOptions {
        canary,
        ..SimOptions::default()
    };
    Simulation::<Unlabelled>::on_target(settings, seed, options).run()
}

/// The acceptance test of the fault model: an engine that acknowledges a commit although
/// its WAL fsync failed, and whose error no group label betrays, is caught under the
/// default (`ext4`) within 20 seeds of the default config: a recovery finds the commit
/// gone (`lost-commit`), or finds its frames missing under later commits and refuses to
/// open (`recovery`). Under the lenient `retry` model the same seed passes: the next
/// commit's fsync quietly made the commit durable again.
#[test]
fn an_acknowledged_commit_after_a_failed_fsync_is_lost_under_ext4_within_20_seeds() {
    let canary = Some(Canary::AckFailedSync);
    assert_eq!(
        config::default_config().faults.fsync_failure,
        FsyncFailure::Ext4,
        "the default is the harshest realistic mode"
    );
    let found = (0..20).find_map(|seed| {
        let outcome = run(FsyncFailure::Ext4, canary, seed);
        outcome.failure.map(|failure| (seed, failure))
    });
    let (seed, failure) = found.expect("some seed among 0..20 catches it");
    assert!(
        ["lost-commit", "recovery"].contains(&failure.kind.as_str()),
        "seed {seed}: {} {}",
        failure.kind,
        failure.message
    );
    let lenient = run(FsyncFailure::Retry, canary, seed);
    assert!(
        lenient.failure.is_none(),
        "seed {seed} under retry: {:?}",
        lenient.failure
    );
    // The correct engine passes the same seed.
    let clean = run(FsyncFailure::Ext4, None, seed);
    assert!(clean.failure.is_none(), "seed {seed}: {:?}", clean.failure);
}
