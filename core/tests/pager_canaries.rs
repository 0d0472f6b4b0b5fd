//! Each pager canary changes behaviour in the way its name says (run with
//! `cargo test -p braid-core --features canaries`). Every test runs the same scenario
//! with the canary off and on and asserts both outcomes.
#![cfg(feature = "canaries")]

#[path = "pager_util.rs"]
mod util;

use std::sync::Arc;

use braid_core::storage::crash_io::CrashIO;
use braid_core::storage::wal::format::frame_offset;
use braid_core::storage::{CheckpointMode, PageAccess};
use braid_core::{
    Canary, DbOptions, Error, IO, MemoryIO, ShuffleIO, YieldInjector, YieldPoint, block_on,
};
use util::*;

fn with_canary(mut opts: DbOptions, canary: Option<Canary>) -> DbOptions {
    opts.canary = canary;
    opts
}

/// Fills of 30 pages written in one transaction through an 8-page cache.
fn big_transaction(canary: Option<Canary>) -> Vec<u8> {
    let io: Arc<dyn IO> = Arc::new(MemoryIO::new());
    let mut opts = options(512);
    opts.cache_pages = 8;
    let pager = open(&io, &opts).expect("create");
    let (pages, _) = allocate_pages(&pager, 30, 1).expect("commit");
    drop(pager);
    let pager = open(&io, &with_canary(opts, canary)).expect("reopen");
    let mut txn = pager.try_begin_write(None).expect("lock");
    for &pgno in &pages {
        txn.write_page(pgno, image(512, pgno, 2)).expect("write");
    }
    // Reads of other versions push entries through the cache meanwhile.
    let mut reader = pager.begin_read().expect("reader");
    read_fills_in(&io, &mut reader, &pages).expect("read");
    block_on(io.as_ref(), || txn.commit()).expect("commit");
    read_fills(&pager, &pages).expect("read")
}

#[test]
fn evict_dirty_page_loses_uncommitted_changes() {
    assert_eq!(big_transaction(None), vec![2; 30]);
    let with = big_transaction(Some(Canary::EvictDirtyPage));
    assert!(
        with.contains(&1),
        "some dirty pages were evicted and their change lost: {with:?}"
    );
}

/// Commit sequence recovered after damaging commit 2's last frame.
fn recover_damaged(canary: Option<Canary>) -> u64 {
    let crash = CrashIO::new();
    let io: Arc<dyn IO> = Arc::new(crash.clone());
    let opts = with_canary(options(512), canary);
    let pager = open(&io, &opts).expect("create");
    let (pages, _) = allocate_pages(&pager, 1, 1).expect("commit 1"); // frames 1-2
    rewrite_pages(&pager, &pages, 2).expect("commit 2"); // frame 3
    drop(pager);
    crash.flip_bit(WAL, frame_offset(3, 512) as usize + 24 + 100, 0);
    open(&io, &opts).expect("recover").commit_seq()
}

#[test]
fn recovery_skip_checksum_accepts_a_damaged_frame() {
    assert_eq!(recover_damaged(None), 1);
    assert_eq!(recover_damaged(Some(Canary::RecoverySkipChecksum)), 2);
}

/// What an old reader sees after a Restart checkpoint.
fn old_reader_after_restart(canary: Option<Canary>) -> (bool, Vec<u8>) {
    let io: Arc<dyn IO> = Arc::new(MemoryIO::new());
    let opts = with_canary(options(512), canary);
    let pager = open(&io, &opts).expect("create");
    let (pages, _) = allocate_pages(&pager, 2, 1).expect("commit 1");
    let mut reader = pager.begin_read().expect("reader");
    rewrite_pages(&pager, &pages, 2).expect("commit 2");
    let outcome = checkpoint(&pager, CheckpointMode::Restart).expect("restart");
    (
        outcome.wal_reset,
        read_fills_in(&io, &mut reader, &pages).expect("read"),
    )
}

#[test]
fn checkpoint_past_reader_breaks_the_readers_snapshot() {
    assert_eq!(old_reader_after_restart(None), (false, vec![1, 1]));
    assert_eq!(
        old_reader_after_restart(Some(Canary::CheckpointPastReader)),
        (true, vec![2, 2])
    );
}

/// Whether any commit returned while some of its frame writes were still pending.
fn commit_returns_early(canary: Option<Canary>) -> bool {
    (0..20).any(|seed| {
        let shuffle = Arc::new(ShuffleIO::with_yields(seed, 0));
        let io: Arc<dyn IO> = shuffle;
        let opts = with_canary(options(512), canary);
        let pager = open(&io, &opts).expect("create");
        let mut txn = pager.try_begin_write(None).expect("lock");
        block_on(io.as_ref(), || txn.reserve_pages(20)).expect("reserve");
        for _ in 0..20 {
            let pgno = txn.allocate_page().expect("allocate");
            txn.write_page(pgno, image(512, pgno, 1)).expect("write");
        }
        block_on(io.as_ref(), || txn.commit()).expect("commit");
        io.pending() > 0
    })
}

#[test]
fn group_first_member_finishes_the_commit_before_its_frames() {
    assert!(!commit_returns_early(None));
    assert!(commit_returns_early(Some(Canary::GroupFirstMember)));
}

/// (commit result, published sequence) when the WAL fsync fails.
fn failed_fsync(canary: Option<Canary>) -> (bool, u64) {
    let crash = CrashIO::new();
    let io: Arc<dyn IO> = Arc::new(crash.clone());
    let opts = with_canary(options(512), canary);
    let pager = open(&io, &opts).expect("create");
    crash.set_fail_syncs(true);
    let committed = allocate_pages(&pager, 1, 1).is_ok();
    (committed, pager.commit_seq())
}

#[test]
fn publish_before_fsync_shows_a_commit_that_failed() {
    assert_eq!(failed_fsync(None), (false, 0));
    assert_eq!(failed_fsync(Some(Canary::PublishBeforeFsync)), (false, 1));
}

struct YieldBeforePublish;

impl YieldInjector for YieldBeforePublish {
    fn should_yield(&self, point: YieldPoint) -> bool {
        point == YieldPoint::CommitBeforePublish
    }
}

fn sequence_after_one_commit(canary: Option<Canary>) -> u64 {
    let io: Arc<dyn IO> = Arc::new(MemoryIO::new());
    let mut opts = with_canary(options(512), canary);
    opts.yield_injector = Some(Arc::new(YieldBeforePublish));
    let pager = open(&io, &opts).expect("create");
    allocate_pages(&pager, 1, 1).expect("commit").1
}

#[test]
fn counter_before_yield_skips_a_sequence() {
    assert_eq!(sequence_after_one_commit(None), 1);
    assert_eq!(
        sequence_after_one_commit(Some(Canary::CounterBeforeYield)),
        2
    );
}

fn writer_after_failed_commit(canary: Option<Canary>) -> bool {
    let crash = CrashIO::new();
    let io: Arc<dyn IO> = Arc::new(crash.clone());
    let opts = with_canary(options(512), canary);
    let pager = open(&io, &opts).expect("create");
    crash.set_fail_writes(true);
    assert!(allocate_pages(&pager, 1, 1).is_err());
    crash.set_fail_writes(false);
    !matches!(pager.try_begin_write(None), Err(Error::Busy))
}

#[test]
fn leak_write_lock_keeps_the_lock_after_a_failed_commit() {
    assert!(writer_after_failed_commit(None));
    assert!(!writer_after_failed_commit(Some(Canary::LeakWriteLock)));
}

fn stale_upgrade(canary: Option<Canary>) -> bool {
    let io: Arc<dyn IO> = Arc::new(MemoryIO::new());
    let opts = with_canary(options(512), canary);
    let pager = open(&io, &opts).expect("create");
    let stale = pager.begin_read().expect("reader");
    allocate_pages(&pager, 1, 1).expect("commit");
    pager.try_begin_write(Some(stale.snapshot())).is_ok()
}

#[test]
fn skip_busy_snapshot_lets_a_stale_snapshot_write() {
    assert!(!stale_upgrade(None));
    assert!(stale_upgrade(Some(Canary::SkipBusySnapshot)));
}
