//! Random commits and checkpoints cut short by crashes at random points, on `CrashIO`
//! with shuffled completion order and torn unsynced writes. After every recovery the
//! database must hold exactly the state of one commit: under full sync, at least the
//! last acknowledged one and at most the one in flight; under normal sync, any commit
//! not beyond the one in flight (a lost suffix, never a hole). Injected write, short-write
//! and fsync faults make single commits and checkpoints fail on the way: a failed commit
//! is in doubt until the next attempt replaces it, and a poisoned pager is reopened.

#[path = "pager_util.rs"]
mod util;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use braid_core::storage::crash_io::CrashIO;
use braid_core::storage::{CheckpointMode, PageAccess, PageNo, Pager};
use braid_core::{DbOptions, IO, IOResult, Result, SyncMode, YieldInjector, YieldPoint};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use util::*;

/// Yields at a seeded 30% of yield points.
struct SeededYields(Mutex<Xoshiro256PlusPlus>);

impl YieldInjector for SeededYields {
    fn should_yield(&self, _point: YieldPoint) -> bool {
        self.0.lock().expect("not poisoned").next_u64() % 10 < 3
    }
}

/// Drives `f` like `block_on`, but crashes (returns None) once `budget` I/O steps ran.
fn drive<T>(
    io: &CrashIO,
    mut budget: Option<u64>,
    mut f: impl FnMut() -> Result<IOResult<T>>,
) -> Option<Result<T>> {
    loop {
        match f() {
            Err(e) => return Some(Err(e)),
            Ok(IOResult::Done(value)) => return Some(Ok(value)),
            Ok(IOResult::IO(waiting)) => {
                while !waiting.finished() {
                    match budget.as_mut() {
                        Some(0) => return None,
                        Some(left) => *left -= 1,
                        None => {}
                    }
                    assert!(io.pending() > 0, "waiting on I/O that was never submitted");
                    io.step().expect("step");
                }
            }
        }
    }
}

/// How a driven operation ended, for the operations that have more to check on success:
/// `Ok(value)`, or the outcome of a crash or of a failure (which only an injected fault may
/// cause; `what` names the operation in that assertion).
fn finished<T>(
    result: Option<Result<T>>,
    fault: Option<Fault>,
    what: &str,
) -> std::result::Result<T, Outcome> {
    match result {
        None => Err(Outcome::Crashed),
        Some(Err(_)) => {
            assert!(fault.is_some(), "{what} fails only under an injected fault");
            Err(Outcome::Failed)
        }
        Some(Ok(value)) => Ok(value),
    }
}

struct World {
    crash: CrashIO,
    io: Arc<dyn IO>,
    opts: DbOptions,
    pager: Arc<Pager>,
    pages: Vec<PageNo>,
    /// Page fills after each commit sequence.
    states: BTreeMap<u64, Vec<u8>>,
    acked: u64,
    /// Highest sequence a commit may have reached (acked, or one in flight).
    attempted: u64,
    /// Crashes during a commit after which it survived / was lost.
    in_flight_survived: u32,
    in_flight_lost: u32,
}

impl World {
    fn new(seed: u64, sync: SyncMode, page_size: usize) -> World {
        let crash = CrashIO::shuffled(seed);
        let io: Arc<dyn IO> = Arc::new(crash.clone());
        let mut opts = options(page_size);
        opts.sync = sync;
        opts.yield_injector = Some(Arc::new(SeededYields(Mutex::new(
            Xoshiro256PlusPlus::seed_from_u64(seed),
        ))));
        let pager = open(&io, &opts).expect("create");
        let (pages, seq) = allocate_pages(&pager, 6, 1).expect("first commit");
        // Make the starting state durable whatever the sync mode.
        checkpoint(&pager, CheckpointMode::Full).expect("checkpoint");
        let states = BTreeMap::from([(0, Vec::new()), (seq, vec![1; 6])]);
        World {
            crash,
            io,
            opts,
            pager,
            pages,
            states,
            acked: seq,
            attempted: seq,
            in_flight_survived: 0,
            in_flight_lost: 0,
        }
    }

    /// Switches `fault` on in the I/O (or everything off).
    fn set_fault(&self, fault: Option<Fault>) {
        self.crash.set_fail_writes(fault == Some(Fault::FailWrites));
        self.crash
            .set_short_writes(fault == Some(Fault::ShortWrites));
        self.crash.set_fail_syncs(fault == Some(Fault::FailSyncs));
    }

    /// One commit rewriting a random subset, under `fault`.
    fn commit(
        &mut self,
        rng: &mut Xoshiro256PlusPlus,
        budget: Option<u64>,
        fault: Option<Fault>,
    ) -> Outcome {
        let seq = self.acked + 1;
        let mut fills = self.states[&self.acked].clone();
        let mut txn = self.pager.try_begin_write(None).expect("write lock");
        for (i, &pgno) in self.pages.iter().enumerate() {
            if i == 0 || rng.next_u64().is_multiple_of(2) {
                fills[i] = seq as u8;
                txn.write_page(pgno, image(self.pager.page_size(), pgno, seq as u8))
                    .expect("write");
            }
        }
        // A new attempt at `seq` replaces any failed one: only its content may survive.
        self.states.insert(seq, fills);
        self.attempted = seq;
        self.set_fault(fault);
        let result = drive(&self.crash, budget, || txn.commit());
        self.set_fault(None);
        match finished(result, fault, "a commit") {
            Ok(committed) => {
                assert_eq!(committed, Some(seq), "sequences are contiguous");
                self.acked = seq;
                Outcome::Done
            }
            Err(outcome) => outcome,
        }
    }

    fn checkpoint(
        &mut self,
        rng: &mut Xoshiro256PlusPlus,
        budget: Option<u64>,
        fault: Option<Fault>,
    ) -> Outcome {
        let modes = [
            CheckpointMode::Passive,
            CheckpointMode::Full,
            CheckpointMode::Restart,
            CheckpointMode::Truncate,
        ];
        let mut checkpoint = self.pager.checkpoint(modes[(rng.next_u64() % 4) as usize]);
        self.set_fault(fault);
        let result = drive(&self.crash, budget, || checkpoint.step());
        self.set_fault(None);
        finished(result, fault, "a checkpoint").map_or_else(|outcome| outcome, |_| Outcome::Done)
    }

    /// Crash (or, with `crash` false, only reopen), recover and check the state.
    fn reopen_and_check(&mut self, rng: &mut Xoshiro256PlusPlus, crash: bool, context: &str) {
        if !crash {
            // Reopening a poisoned database keeps whatever reached the files.
        } else if rng.next_u64().is_multiple_of(2) {
            self.crash.crash_torn(rng.next_u64());
        } else {
            self.crash.crash();
        }
        self.pager = open(&self.io, &self.opts)
            .unwrap_or_else(|e| panic!("{context}: recovery failed: {e}"));
        let recovered = self.pager.commit_seq();
        assert!(
            recovered <= self.attempted,
            "{context}: recovered {recovered} beyond {}",
            self.attempted
        );
        if self.opts.sync == SyncMode::Full {
            assert!(
                recovered >= self.acked,
                "{context}: lost acked commit {}",
                self.acked
            );
        }
        let fills = read_fills(&self.pager, &self.pages).expect("read after recovery");
        assert_eq!(
            fills, self.states[&recovered],
            "{context}: state of commit {recovered}"
        );
        if self.attempted > self.acked {
            if recovered == self.attempted {
                self.in_flight_survived += 1;
            } else {
                self.in_flight_lost += 1;
            }
        }
        self.states.retain(|&seq, _| seq <= recovered);
        self.acked = recovered;
        self.attempted = recovered;
    }
}

/// I/O faults injected into one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    FailWrites,
    ShortWrites,
    FailSyncs,
}

/// How an operation ended.
enum Outcome {
    Done,
    /// An injected fault made it fail.
    Failed,
    /// Its budget ran out: the machine crashes.
    Crashed,
}

/// Runs one seed; returns how often a commit in flight survived and was lost.
fn run(seed: u64, sync: SyncMode, page_size: usize) -> (u32, u32) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5eed);
    let mut world = World::new(seed, sync, page_size);
    for round in 0..40 {
        let budget = rng
            .next_u64()
            .is_multiple_of(3)
            .then(|| rng.next_u64() % 12);
        let fault = match rng.next_u64() % 12 {
            0 => Some(Fault::FailWrites),
            1 => Some(Fault::ShortWrites),
            2 => Some(Fault::FailSyncs),
            _ => None,
        };
        let outcome = match rng.next_u64() % 5 {
            0..=2 => world.commit(&mut rng, budget, fault),
            3 => world.checkpoint(&mut rng, budget, fault),
            _ => Outcome::Crashed,
        };
        let context =
            format!("seed {seed} round {round} ({sync:?}, page size {page_size}, {fault:?})");
        match outcome {
            Outcome::Crashed => world.reopen_and_check(&mut rng, true, &context),
            Outcome::Failed if world.pager.is_poisoned() => {
                world.reopen_and_check(&mut rng, false, &context);
            }
            Outcome::Failed | Outcome::Done => {}
        }
    }
    let context = format!("seed {seed} at the end");
    world.reopen_and_check(&mut rng, true, &context);
    (world.in_flight_survived, world.in_flight_lost)
}

#[test]
fn crashes_under_full_sync_keep_every_acknowledged_commit() {
    let (mut survived, mut lost) = (0, 0);
    for seed in 0..300 {
        let (s, l) = run(
            seed,
            SyncMode::Full,
            if seed.is_multiple_of(2) { 512 } else { 4096 },
        );
        survived += s;
        lost += l;
    }
    assert!(
        survived > 0 && lost > 0,
        "crashes hit commits in flight both ways: {survived}/{lost}"
    );
}

#[test]
fn crashes_under_normal_sync_lose_only_a_suffix() {
    for seed in 100..400 {
        run(
            seed,
            SyncMode::Normal,
            if seed.is_multiple_of(2) { 512 } else { 4096 },
        );
    }
}
