//! Pages round-trip through the WAL, every checkpoint mode and reopen, under the
//! deterministic `MemoryIO` and under `ShuffleIO` (random completion order, random yields).

#[path = "pager_util.rs"]
mod util;

use std::sync::Arc;

use braid_core::storage::{CheckpointMode, FreelistScan, PageAccess};
use braid_core::{IO, MemoryIO, ShuffleIO, block_on};
use util::*;

/// The whole life of a small database; panics on the first wrong answer.
fn round_trip(io: Arc<dyn IO>, opts: braid_core::DbOptions) {
    let pager = open(&io, &opts).expect("create");
    assert_eq!(pager.commit_seq(), 0);
    let (pages, seq1) = allocate_pages(&pager, 40, 1).expect("first commit");
    assert_eq!(seq1, 1);
    assert_eq!(
        pages,
        (2..42).collect::<Vec<_>>(),
        "a new database grows from page 2"
    );
    assert_eq!(read_fills(&pager, &pages).expect("read"), vec![1; 40]);

    let seq2 = rewrite_pages(&pager, &pages[..20], 2).expect("second commit");
    assert_eq!(seq2, 2);
    let mut expected = vec![2u8; 20];
    expected.extend([1u8; 20]);
    assert_eq!(read_fills(&pager, &pages).expect("read"), expected);

    for (round, mode) in [
        CheckpointMode::Passive,
        CheckpointMode::Full,
        CheckpointMode::Restart,
        CheckpointMode::Truncate,
    ]
    .into_iter()
    .enumerate()
    {
        let fill = 3 + round as u8;
        let seq = rewrite_pages(&pager, &pages[round * 5..round * 5 + 5], fill).expect("commit");
        expected[round * 5..round * 5 + 5].fill(fill);
        let outcome = checkpoint(&pager, mode).expect("checkpoint");
        assert_eq!(
            outcome.checkpoint_seq, seq,
            "{mode:?} copies everything without readers"
        );
        assert_eq!(outcome.backfilled_frames, outcome.wal_frames);
        let reset = matches!(mode, CheckpointMode::Restart | CheckpointMode::Truncate);
        assert_eq!(outcome.wal_reset, reset, "{mode:?}");
        assert_eq!(pager.wal_frames() == 0, reset, "{mode:?}");
        assert_eq!(
            read_fills(&pager, &pages).expect("read"),
            expected,
            "after {mode:?}"
        );
    }
    let seq = pager.commit_seq();
    // One more commit after the WAL was truncated, then reopen.
    let last = rewrite_pages(&pager, &pages[39..], 9).expect("commit after truncate");
    assert_eq!(last, seq + 1, "sequences keep growing across WAL resets");
    expected[39] = 9;
    drop(pager);
    let pager = open(&io, &opts).expect("reopen");
    assert_eq!(pager.commit_seq(), last, "sequences survive reopen");
    assert_eq!(read_fills(&pager, &pages).expect("read"), expected);
    assert_eq!(pager.header().page_count, 41);
}

#[test]
fn pages_round_trip_through_wal_checkpoints_and_reopen_on_memory_io() {
    round_trip(Arc::new(MemoryIO::new()), options(512));
}

#[test]
fn pages_round_trip_with_large_pages() {
    round_trip(Arc::new(MemoryIO::new()), options(65536));
}

#[test]
fn pages_round_trip_under_shuffle_io() {
    for seed in 0..8 {
        let shuffle = ShuffleIO::new(seed);
        let mut opts = options(512);
        opts.yield_injector = Some(shuffle.injector());
        round_trip(Arc::new(shuffle), opts);
    }
}

#[test]
fn pages_round_trip_when_every_yield_point_yields() {
    let mut opts = options(512);
    opts.yield_injector = Some(Arc::new(AlwaysYield));
    round_trip(Arc::new(MemoryIO::new()), opts);
}

/// Freed pages come back before the file grows; the freelist lists them.
fn freelist_reuse(io: Arc<dyn IO>, opts: braid_core::DbOptions) {
    let pager = open(&io, &opts).expect("create");
    let (pages, _) = allocate_pages(&pager, 10, 1).expect("allocate");
    let mut txn = pager.try_begin_write(None).expect("lock");
    for &pgno in &pages[2..7] {
        txn.free_page(pgno).expect("free");
    }
    assert!(txn.free_page(pages[3]).is_err(), "a double free is refused");
    block_on(io.as_ref(), || txn.commit()).expect("commit frees");
    drop(txn);
    let header = pager.header();
    assert_eq!((header.page_count, header.freelist_count), (11, 5));

    let mut reader = pager.begin_read().expect("read");
    let mut scan = FreelistScan::new(
        reader.header().freelist_head,
        reader.header().freelist_count,
    );
    let mut listed = block_on(io.as_ref(), || scan.step(&mut reader)).expect("scan");
    listed.sort_unstable();
    assert_eq!(listed, pages[2..7].to_vec());
    drop(reader);

    let mut txn = pager.try_begin_write(None).expect("lock");
    block_on(io.as_ref(), || txn.reserve_pages(7)).expect("reserve");
    let mut reused: Vec<_> = (0..7)
        .map(|_| txn.allocate_page().expect("allocate"))
        .collect();
    assert!(
        txn.allocate_page().is_err(),
        "no allocation beyond the reservation"
    );
    for &pgno in &reused {
        txn.write_page(pgno, image(pager.page_size(), pgno, 7))
            .expect("write");
    }
    block_on(io.as_ref(), || txn.commit()).expect("commit");
    drop(txn);
    reused.sort_unstable();
    let mut want = pages[2..7].to_vec();
    want.extend([12, 13]);
    assert_eq!(
        reused, want,
        "the five freed pages first, then two new ones"
    );
    let header = pager.header();
    assert_eq!(
        (
            header.page_count,
            header.freelist_count,
            header.freelist_head
        ),
        (13, 0, 0)
    );
}

#[test]
fn freed_pages_are_reused_before_the_file_grows() {
    freelist_reuse(Arc::new(MemoryIO::new()), options(512));
    for seed in 0..4 {
        let shuffle = ShuffleIO::new(seed);
        let mut opts = options(512);
        opts.yield_injector = Some(shuffle.injector());
        freelist_reuse(Arc::new(shuffle), opts);
    }
}

#[test]
fn pages_freed_in_the_same_transaction_are_reused() {
    let io: Arc<dyn IO> = Arc::new(MemoryIO::new());
    let pager = open(&io, &options(512)).expect("create");
    let (pages, _) = allocate_pages(&pager, 3, 1).expect("allocate");
    let mut txn = pager.try_begin_write(None).expect("lock");
    txn.free_page(pages[1]).expect("free");
    block_on(io.as_ref(), || txn.reserve_pages(1)).expect("reserve");
    assert_eq!(txn.allocate_page().expect("allocate"), pages[1]);
    assert_eq!(txn.header().freelist_count, 0);
}
