//! Snapshots, the write lock and checkpoints against readers: the concurrency half of
//! the pager, on `MemoryIO` and `ShuffleIO`.

#[path = "pager_util.rs"]
mod util;

use std::sync::Arc;

use braid_core::storage::{CheckpointMode, PageAccess};
use braid_core::{DbOptions, Error, IO, MemoryIO, ShuffleIO, block_on};
use util::*;

fn memory() -> (Arc<dyn IO>, DbOptions) {
    (Arc::new(MemoryIO::new()), options(512))
}

fn shuffled(seed: u64) -> (Arc<dyn IO>, DbOptions) {
    let shuffle = ShuffleIO::new(seed);
    let mut opts = options(512);
    opts.yield_injector = Some(shuffle.injector());
    (Arc::new(shuffle), opts)
}

fn each_io(test: impl Fn(Arc<dyn IO>, DbOptions)) {
    let (io, opts) = memory();
    test(io, opts);
    for seed in 0..4 {
        let (io, opts) = shuffled(seed);
        test(io, opts);
    }
}

#[test]
fn a_reader_keeps_its_snapshot_while_a_writer_commits() {
    each_io(|io, opts| {
        let pager = open(&io, &opts).expect("create");
        let (pages, seq1) = allocate_pages(&pager, 3, 1).expect("commit 1");
        let mut reader = pager.begin_read().expect("reader");
        assert_eq!(reader.snapshot_seq(), seq1);

        let mut writer = pager.try_begin_write(None).expect("writer");
        writer
            .write_page(pages[0], image(512, pages[0], 2))
            .expect("write");
        // The writer sees its own change; the reader does not, before or after commit.
        assert_eq!(
            read_fills_in(&io, &mut writer, &pages[..1]).expect("read"),
            vec![2]
        );
        assert_eq!(
            read_fills_in(&io, &mut reader, &pages).expect("read"),
            vec![1, 1, 1]
        );
        assert_eq!(
            read_fills(&pager, &pages).expect("fresh reader"),
            vec![1, 1, 1]
        );
        let seq2 = block_on(io.as_ref(), || writer.commit())
            .expect("commit")
            .expect("wrote");
        assert_eq!(seq2, seq1 + 1);
        assert_eq!(
            read_fills_in(&io, &mut reader, &pages).expect("read"),
            vec![1, 1, 1]
        );
        assert_eq!(
            read_fills(&pager, &pages).expect("fresh reader"),
            vec![2, 1, 1]
        );
        assert_eq!(reader.snapshot_seq(), seq1);
    });
}

#[test]
fn a_rolled_back_writer_leaves_no_trace() {
    each_io(|io, opts| {
        let pager = open(&io, &opts).expect("create");
        let (pages, seq1) = allocate_pages(&pager, 2, 1).expect("commit 1");
        let mut writer = pager.try_begin_write(None).expect("writer");
        writer
            .write_page(pages[1], image(512, pages[1], 9))
            .expect("write");
        block_on(io.as_ref(), || writer.reserve_pages(1)).expect("reserve");
        writer.allocate_page().expect("allocate");
        writer.rollback();
        assert!(!pager.is_write_locked());
        assert_eq!(pager.commit_seq(), seq1);
        assert_eq!(pager.header().page_count, 3);
        assert_eq!(read_fills(&pager, &pages).expect("read"), vec![1, 1]);
    });
}

#[test]
fn busy_while_another_writer_holds_the_lock() {
    let (io, opts) = memory();
    let pager = open(&io, &opts).expect("create");
    let writer = pager.try_begin_write(None).expect("first writer");
    assert!(matches!(pager.try_begin_write(None), Err(Error::Busy)));
    assert!(matches!(
        pager.checkpoint(CheckpointMode::Full).step(),
        Err(Error::Busy)
    ));
    // Readers need no lock.
    let reader = pager.begin_read().expect("reader");
    drop(writer); // dropping rolls back and releases
    let writer = pager
        .try_begin_write(Some(reader.snapshot()))
        .expect("lock is free");
    drop(writer);
}

#[test]
fn busy_snapshot_after_a_commit_the_snapshot_missed() {
    let (io, opts) = memory();
    let pager = open(&io, &opts).expect("create");
    let (pages, _) = allocate_pages(&pager, 1, 1).expect("commit");
    let stale = pager.begin_read().expect("reader");
    rewrite_pages(&pager, &pages, 2).expect("another commit");
    assert!(matches!(
        pager.try_begin_write(Some(stale.snapshot())),
        Err(Error::BusySnapshot)
    ));
    assert!(!pager.is_write_locked(), "a refused upgrade takes nothing");
    let fresh = pager.begin_read().expect("reader");
    let writer = pager
        .try_begin_write(Some(fresh.snapshot()))
        .expect("a current snapshot may write");
    assert_eq!(writer.snapshot_seq(), fresh.snapshot_seq());
    // A read-only commit needs no I/O and publishes nothing.
    let mut writer = writer;
    assert!(matches!(
        writer.commit(),
        Ok(braid_core::IOResult::Done(None))
    ));
    assert!(!pager.is_write_locked());
    assert_eq!(io.pending(), 0);
}

#[test]
fn passive_checkpoint_stops_at_the_oldest_reader() {
    each_io(|io, opts| {
        let pager = open(&io, &opts).expect("create");
        let (pages, seq1) = allocate_pages(&pager, 3, 1).expect("commit 1");
        let frames_at_reader = pager.wal_frames();
        let mut reader = pager.begin_read().expect("reader");
        rewrite_pages(&pager, &pages, 2).expect("commit 2");
        let outcome = checkpoint(&pager, CheckpointMode::Passive).expect("passive");
        assert_eq!(
            outcome.backfilled_frames, frames_at_reader,
            "stops at the reader"
        );
        assert_eq!(outcome.checkpoint_seq, seq1);
        assert_eq!(
            read_fills_in(&io, &mut reader, &pages).expect("read"),
            vec![1, 1, 1]
        );
        // Restart cannot reset while the reader needs the WAL.
        let outcome = checkpoint(&pager, CheckpointMode::Restart).expect("restart");
        assert!(!outcome.wal_reset);
        assert_eq!(
            read_fills_in(&io, &mut reader, &pages).expect("read"),
            vec![1, 1, 1]
        );
        drop(reader);
        let outcome = checkpoint(&pager, CheckpointMode::Restart).expect("restart");
        assert!(outcome.wal_reset);
        assert_eq!(outcome.backfilled_frames, outcome.wal_frames);
        assert_eq!(pager.wal_frames(), 0);
        assert_eq!(read_fills(&pager, &pages).expect("read"), vec![2, 2, 2]);
    });
}

#[test]
fn a_reader_on_the_latest_commit_survives_a_wal_reset() {
    each_io(|io, opts| {
        let pager = open(&io, &opts).expect("create");
        let (pages, _) = allocate_pages(&pager, 2, 1).expect("commit 1");
        rewrite_pages(&pager, &pages, 2).expect("commit 2");
        let mut reader = pager.begin_read().expect("reader on the latest commit");
        let outcome = checkpoint(&pager, CheckpointMode::Truncate).expect("truncate");
        assert!(
            outcome.wal_reset,
            "a reader on the latest commit can read the database file"
        );
        rewrite_pages(&pager, &pages, 3).expect("commit 3 into the new WAL generation");
        assert_eq!(
            read_fills_in(&io, &mut reader, &pages).expect("read"),
            vec![2, 2]
        );
        assert_eq!(read_fills(&pager, &pages).expect("read"), vec![3, 3]);
        // Checkpointing the new generation must not copy past the old reader either.
        let outcome = checkpoint(&pager, CheckpointMode::Passive).expect("passive");
        assert_eq!(outcome.backfilled_frames, 0);
        assert_eq!(
            read_fills_in(&io, &mut reader, &pages).expect("read"),
            vec![2, 2]
        );
    });
}

#[test]
fn full_checkpoint_needs_the_write_lock_and_passive_does_not() {
    let (io, opts) = memory();
    let pager = open(&io, &opts).expect("create");
    let (pages, seq) = allocate_pages(&pager, 2, 1).expect("commit");
    let mut writer = pager.try_begin_write(None).expect("writer");
    for mode in [
        CheckpointMode::Full,
        CheckpointMode::Restart,
        CheckpointMode::Truncate,
    ] {
        assert!(
            matches!(checkpoint(&pager, mode), Err(Error::Busy)),
            "{mode:?}"
        );
    }
    let outcome =
        checkpoint(&pager, CheckpointMode::Passive).expect("passive runs beside a writer");
    assert_eq!(outcome.checkpoint_seq, seq);
    writer
        .write_page(pages[0], image(512, pages[0], 5))
        .expect("write");
    block_on(io.as_ref(), || writer.commit()).expect("commit");
    assert!(!pager.is_write_locked());
    let outcome = checkpoint(&pager, CheckpointMode::Full).expect("full");
    assert_eq!(outcome.checkpoint_seq, seq + 1);
    assert!(!outcome.wal_reset);
    assert!(
        !pager.is_write_locked(),
        "the checkpoint released the write lock"
    );
}

#[test]
fn reads_through_a_tiny_cache_stay_correct() {
    each_io(|io, mut opts| {
        opts.cache_pages = 8;
        let pager = open(&io, &opts).expect("create");
        let (pages, _) = allocate_pages(&pager, 50, 1).expect("commit");
        rewrite_pages(&pager, &pages[25..], 2).expect("commit");
        checkpoint(&pager, CheckpointMode::Passive).expect("checkpoint");
        let mut expected = vec![1u8; 25];
        expected.extend([2u8; 25]);
        assert_eq!(read_fills(&pager, &pages).expect("read"), expected);
        assert!(
            pager.cached_pages() <= 8,
            "clean pages are evicted to the bound"
        );
    });
}

#[test]
fn a_writer_restarts_a_fully_checkpointed_wal_nobody_needs() {
    each_io(|io, opts| {
        let pager = open(&io, &opts).expect("create");
        let (pages, _) = allocate_pages(&pager, 3, 1).expect("commit 1");
        rewrite_pages(&pager, &pages, 2).expect("commit 2");
        let outcome = checkpoint(&pager, CheckpointMode::Passive).expect("passive");
        assert_eq!(outcome.backfilled_frames, outcome.wal_frames);
        let mut current = pager.begin_read().expect("reader on the latest commit");
        rewrite_pages(&pager, &pages[..1], 3).expect("commit 3");
        assert_eq!(
            pager.wal_frames(),
            1,
            "commit 3 started a new WAL generation"
        );
        assert_eq!(
            read_fills_in(&io, &mut current, &pages).expect("read"),
            vec![2, 2, 2]
        );
        assert_eq!(read_fills(&pager, &pages).expect("read"), vec![3, 2, 2]);

        // With a reader behind the latest commit the WAL keeps growing.
        checkpoint(&pager, CheckpointMode::Passive).expect("passive");
        let behind = pager.begin_read().expect("reader");
        rewrite_pages(&pager, &pages[..1], 4).expect("commit 4");
        checkpoint(&pager, CheckpointMode::Passive).expect("passive");
        rewrite_pages(&pager, &pages[..1], 5).expect("commit 5");
        assert_eq!(pager.wal_frames(), 3, "no restart while a reader is behind");
        drop(behind);
        drop(current);
        drop(pager);
        let pager = open(&io, &opts).expect("reopen");
        assert_eq!(read_fills(&pager, &pages).expect("read"), vec![5, 2, 2]);
    });
}

#[test]
fn the_checkpoint_sequence_follows_what_reached_the_database_file() {
    let (io, opts) = memory();
    let pager = open(&io, &opts).expect("create");
    let (pages, seq1) = allocate_pages(&pager, 2, 1).expect("commit 1");
    assert_eq!(pager.checkpoint_seq(), 0);
    checkpoint(&pager, CheckpointMode::Passive).expect("checkpoint");
    assert_eq!(pager.checkpoint_seq(), seq1);
    let seq2 = rewrite_pages(&pager, &pages, 2).expect("commit 2");
    assert_eq!(
        pager.checkpoint_seq(),
        seq1,
        "a commit does not reach the database file"
    );
    checkpoint(&pager, CheckpointMode::Full).expect("checkpoint");
    assert_eq!(pager.checkpoint_seq(), seq2);
}
