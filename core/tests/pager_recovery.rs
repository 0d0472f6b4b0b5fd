//! Crash recovery, torn and damaged files, poisoning: the durability half of the pager,
//! on `CrashIO` (writes not covered by a completed fsync are lost at a crash).

#[path = "pager_util.rs"]
mod util;

use std::sync::Arc;

use braid_core::storage::crash_io::CrashIO;
use braid_core::storage::wal::format::frame_offset;
use braid_core::storage::{CheckpointMode, PageAccess};
use braid_core::{Error, IO, IOResult, SyncMode, block_on};
use util::*;

fn crash_io() -> (CrashIO, Arc<dyn IO>) {
    let crash = CrashIO::new();
    let io: Arc<dyn IO> = Arc::new(crash.clone());
    (crash, io)
}

#[test]
fn synced_commits_survive_a_crash_and_the_unsynced_one_does_not() {
    let (crash, io) = crash_io();
    let opts = options(512);
    let pager = open(&io, &opts).expect("create");
    let (pages, _) = allocate_pages(&pager, 6, 1).expect("commit 1");
    rewrite_pages(&pager, &pages[..3], 2).expect("commit 2");
    let acked = rewrite_pages(&pager, &pages[3..], 3).expect("commit 3");
    // Commit 4 submits its frames, then the machine dies before they reach the disk.
    let mut txn = pager.try_begin_write(None).expect("lock");
    txn.write_page(pages[0], image(512, pages[0], 4))
        .expect("write");
    assert!(
        matches!(txn.commit(), Ok(IOResult::IO(_))),
        "commit 4 waits for its frames"
    );
    crash.crash();
    drop(txn);
    drop(pager);
    let pager = open(&io, &opts).expect("recover");
    assert_eq!(pager.commit_seq(), acked);
    assert_eq!(
        read_fills(&pager, &pages).expect("read"),
        vec![2, 2, 2, 3, 3, 3]
    );
}

#[test]
fn sync_normal_loses_only_a_suffix_of_commits() {
    let (crash, io) = crash_io();
    let mut opts = options(512);
    opts.sync = SyncMode::Normal;
    let pager = open(&io, &opts).expect("create");
    let (pages, seq1) = allocate_pages(&pager, 4, 1).expect("commit 1");
    // A passive checkpoint makes the WAL durable before copying.
    checkpoint(&pager, CheckpointMode::Passive).expect("checkpoint");
    rewrite_pages(&pager, &pages, 2).expect("commit 2, never synced");
    rewrite_pages(&pager, &pages[..1], 3).expect("commit 3, never synced");
    crash.crash();
    drop(pager);
    let pager = open(&io, &opts).expect("recover");
    assert_eq!(
        pager.commit_seq(),
        seq1,
        "commits 2 and 3 are lost together"
    );
    assert_eq!(read_fills(&pager, &pages).expect("read"), vec![1; 4]);
}

#[test]
fn a_torn_last_frame_is_ignored() {
    let (crash, io) = crash_io();
    let opts = options(512);
    let pager = open(&io, &opts).expect("create");
    let (pages, seq1) = allocate_pages(&pager, 3, 1).expect("commit 1");
    rewrite_pages(&pager, &pages, 2).expect("commit 2");
    drop(pager);
    let wal = crash.durable_bytes(WAL);
    // Commit 2's last frame loses its final 100 bytes.
    crash.set_file(WAL, wal[..wal.len() - 100].to_vec());
    let pager = open(&io, &opts).expect("recover");
    assert_eq!(pager.commit_seq(), seq1);
    assert_eq!(read_fills(&pager, &pages).expect("read"), vec![1; 3]);
    // The next commit overwrites the torn tail and survives another reopen.
    let seq = rewrite_pages(&pager, &pages[..1], 5).expect("commit after recovery");
    assert_eq!(seq, seq1 + 1);
    drop(pager);
    let pager = open(&io, &opts).expect("reopen");
    assert_eq!(pager.commit_seq(), seq);
    assert_eq!(read_fills(&pager, &pages).expect("read"), vec![5, 1, 1]);
}

/// Three commits of three pages each (commit 1 also writes the header page), optionally
/// a passive checkpoint, then a flipped bit in the first frame of commit `damaged` (2 or
/// 3); reopens under `sync` and reads.
fn damaged_wal(sync: SyncMode, damaged: u32, checkpointed: bool) -> (Result<u64, Error>, Vec<u8>) {
    let (crash, io) = crash_io();
    let mut opts = options(512);
    opts.sync = sync;
    let pager = open(&io, &opts).expect("create");
    let (pages, _) = allocate_pages(&pager, 3, 1).expect("commit 1");
    rewrite_pages(&pager, &pages, 2).expect("commit 2");
    rewrite_pages(&pager, &pages, 3).expect("commit 3");
    if checkpointed {
        checkpoint(&pager, CheckpointMode::Passive).expect("checkpoint");
    }
    drop(pager);
    // Frames: commit 1 = 1..=4, commit 2 = 5..=7, commit 3 = 8..=10.
    let frame = if damaged == 2 { 5 } else { 8 };
    crash.flip_bit(WAL, frame_offset(frame, 512) as usize + 40, 3);
    match open(&io, &opts) {
        Ok(pager) => (
            Ok(pager.commit_seq()),
            read_fills(&pager, &pages).expect("read"),
        ),
        Err(e) => (Err(e), Vec::new()),
    }
}

#[test]
fn a_damaged_frame_before_a_durable_commit_is_corrupt_under_full_sync() {
    let (result, _) = damaged_wal(SyncMode::Full, 2, false);
    assert!(matches!(result, Err(Error::Corrupt(_))), "got {result:?}");
}

#[test]
fn a_damaged_frame_under_normal_sync_is_a_lost_suffix() {
    assert_eq!(damaged_wal(SyncMode::Normal, 2, false), (Ok(1), vec![1; 3]));
}

#[test]
fn a_damaged_frame_in_the_last_commit_drops_only_that_commit() {
    for sync in [SyncMode::Full, SyncMode::Normal] {
        assert_eq!(damaged_wal(sync, 3, false), (Ok(2), vec![2; 3]), "{sync:?}");
    }
}

#[test]
fn a_damaged_frame_already_checkpointed_loses_nothing() {
    for sync in [SyncMode::Full, SyncMode::Normal] {
        for damaged in [2, 3] {
            let got = damaged_wal(sync, damaged, true);
            assert_eq!(
                got,
                (Ok(3), vec![3; 3]),
                "{sync:?}, commit {damaged} damaged"
            );
        }
    }
}

#[test]
fn a_stale_wal_left_by_a_restart_brings_back_nothing_old() {
    let (crash, io) = crash_io();
    let opts = options(512);
    let pager = open(&io, &opts).expect("create");
    let (pages, _) = allocate_pages(&pager, 1, 1).expect("commit 1: frames 1-2");
    let seq = rewrite_pages(&pager, &pages, 2).expect("commit 2: frame 3");
    let outcome = checkpoint(&pager, CheckpointMode::Restart).expect("restart");
    assert!(outcome.wal_reset);
    drop(pager);
    // The old generation is still on disk (the new header is written by the next
    // commit). Damage its last frame: only commit 1 would be recovered from it.
    crash.flip_bit(WAL, frame_offset(3, 512) as usize + 40, 0);
    let pager = open(&io, &opts).expect("recover");
    assert_eq!(pager.commit_seq(), seq);
    assert_eq!(
        read_fills(&pager, &pages).expect("read"),
        vec![2],
        "never the older frame 1"
    );
    assert_eq!(pager.wal_frames(), 0);
}

#[test]
fn a_stale_wal_header_hides_every_frame() {
    let (crash, io) = crash_io();
    let opts = options(512);
    let pager = open(&io, &opts).expect("create");
    allocate_pages(&pager, 3, 1).expect("commit 1");
    drop(pager);
    crash.flip_bit(WAL, 10, 0); // inside the 32-byte WAL header
    let pager = open(&io, &opts).expect("recover");
    assert_eq!(pager.commit_seq(), 0, "no valid header, no frames");
    assert_eq!(pager.header().page_count, 1);
}

#[test]
fn a_flipped_bit_in_a_database_page_is_corrupt_never_wrong_data() {
    let (crash, io) = crash_io();
    let opts = options(512);
    let pager = open(&io, &opts).expect("create");
    let (pages, _) = allocate_pages(&pager, 3, 1).expect("commit");
    checkpoint(&pager, CheckpointMode::Truncate).expect("checkpoint");
    assert!(crash.file_bytes(WAL).is_empty(), "truncate empties the WAL");
    drop(pager);
    crash.flip_bit(DB, 512 * (pages[1] as usize - 1) + 77, 5);
    let pager = open(&io, &opts).expect("reopen");
    let mut txn = pager.begin_read().expect("read");
    let good = block_on(io.as_ref(), || txn.read_page(pages[0])).expect("intact page");
    assert_eq!(fill_of(&good, pages[0]), 1);
    let bad = block_on(io.as_ref(), || txn.read_page(pages[1]));
    assert!(matches!(bad, Err(Error::Corrupt(_))), "got {bad:?}");
}

#[test]
fn a_flipped_bit_in_the_header_page_fails_the_open() {
    let (crash, io) = crash_io();
    let opts = options(512);
    let pager = open(&io, &opts).expect("create");
    allocate_pages(&pager, 1, 1).expect("commit");
    checkpoint(&pager, CheckpointMode::Truncate).expect("checkpoint");
    drop(pager);
    crash.flip_bit(DB, 17, 1);
    assert!(matches!(open(&io, &opts), Err(Error::Corrupt(_))));
}

#[test]
fn a_failed_wal_fsync_poisons_the_pager_until_reopen() {
    let (crash, io) = crash_io();
    let opts = options(512);
    let pager = open(&io, &opts).expect("create");
    let (pages, seq1) = allocate_pages(&pager, 2, 1).expect("commit 1");
    crash.set_fail_syncs(true);
    let failed = rewrite_pages(&pager, &pages, 2);
    assert!(
        matches!(failed, Err(Error::Completion(_))),
        "got {failed:?}"
    );
    assert!(pager.is_poisoned());
    assert_eq!(
        pager.commit_seq(),
        seq1,
        "a failed commit is never published"
    );
    assert!(matches!(pager.begin_read(), Err(Error::Poisoned)));
    assert!(matches!(pager.try_begin_write(None), Err(Error::Poisoned)));
    let mut checkpoint = pager.checkpoint(CheckpointMode::Passive);
    assert!(matches!(checkpoint.step(), Err(Error::Poisoned)));
    crash.set_fail_syncs(false);
    crash.crash();
    drop(pager);
    let pager = open(&io, &opts).expect("reopen recovers");
    assert_eq!(pager.commit_seq(), seq1);
    assert_eq!(read_fills(&pager, &pages).expect("read"), vec![1, 1]);
}

#[test]
fn a_short_wal_write_fails_the_commit_without_poisoning() {
    let (crash, io) = crash_io();
    let opts = options(512);
    let pager = open(&io, &opts).expect("create");
    let (pages, seq1) = allocate_pages(&pager, 2, 1).expect("commit 1");
    crash.set_short_writes(true);
    let failed = rewrite_pages(&pager, &pages, 2);
    assert!(
        matches!(
            failed,
            Err(Error::Completion(
                braid_core::CompletionError::ShortIo { .. }
            ))
        ),
        "got {failed:?}"
    );
    assert!(!pager.is_poisoned());
    assert!(
        !pager.is_write_locked(),
        "the failed commit released the write lock"
    );
    assert_eq!(pager.commit_seq(), seq1);
    crash.set_short_writes(false);
    let seq = rewrite_pages(&pager, &pages, 3).expect("the next commit works");
    assert_eq!(seq, seq1 + 1);
    drop(pager);
    let pager = open(&io, &opts).expect("reopen");
    assert_eq!(read_fills(&pager, &pages).expect("read"), vec![3, 3]);
}

#[test]
fn a_failed_wal_write_fails_the_commit() {
    let (crash, io) = crash_io();
    let opts = options(512);
    let pager = open(&io, &opts).expect("create");
    let (pages, seq1) = allocate_pages(&pager, 2, 1).expect("commit 1");
    crash.set_fail_writes(true);
    assert!(rewrite_pages(&pager, &pages, 2).is_err());
    crash.set_fail_writes(false);
    assert_eq!(pager.commit_seq(), seq1);
    assert_eq!(read_fills(&pager, &pages).expect("read"), vec![1, 1]);
}

#[test]
fn commit_sequences_grow_across_truncate_and_reopen() {
    let (_crash, io) = crash_io();
    let opts = options(512);
    let pager = open(&io, &opts).expect("create");
    let (pages, _) = allocate_pages(&pager, 2, 1).expect("commit");
    let seq = rewrite_pages(&pager, &pages, 2).expect("commit");
    checkpoint(&pager, CheckpointMode::Truncate).expect("truncate");
    drop(pager);
    let pager = open(&io, &opts).expect("reopen with an empty WAL");
    assert_eq!(
        pager.commit_seq(),
        seq,
        "the database header carries the sequence"
    );
    let next = rewrite_pages(&pager, &pages, 3).expect("commit");
    assert_eq!(next, seq + 1);
    checkpoint(&pager, CheckpointMode::Restart).expect("restart");
    drop(pager);
    let pager = open(&io, &opts).expect("reopen after restart");
    assert_eq!(pager.commit_seq(), next);
    assert_eq!(read_fills(&pager, &pages).expect("read"), vec![3, 3]);
}

#[test]
fn a_crash_during_checkpoint_keeps_every_commit() {
    for steps_before_crash in 0..6 {
        let (crash, io) = crash_io();
        let opts = options(512);
        let pager = open(&io, &opts).expect("create");
        let (pages, _) = allocate_pages(&pager, 4, 1).expect("commit");
        let seq = rewrite_pages(&pager, &pages[..2], 2).expect("commit");
        let mut checkpoint = pager.checkpoint(CheckpointMode::Truncate);
        for _ in 0..steps_before_crash {
            match checkpoint.step().expect("checkpoint step") {
                IOResult::Done(_) => break,
                IOResult::IO(_) => io.step().expect("step"),
            }
        }
        crash.crash();
        drop(checkpoint);
        drop(pager);
        let pager = open(&io, &opts).expect("recover");
        assert_eq!(
            pager.commit_seq(),
            seq,
            "crash after {steps_before_crash} steps"
        );
        assert_eq!(read_fills(&pager, &pages).expect("read"), vec![2, 2, 1, 1]);
    }
}

#[test]
fn a_header_page_torn_by_a_checkpoint_crash_still_opens() {
    let (crash, io) = crash_io();
    let opts = options(4096);
    let pager = open(&io, &opts).expect("create");
    let (pages, _) = allocate_pages(&pager, 3, 1).expect("commit 1");
    checkpoint(&pager, CheckpointMode::Passive).expect("checkpoint 1");
    let seq = rewrite_pages(&pager, &pages, 2).expect("commit 2");
    drop(pager);
    // A second checkpoint's header write tore: only its last sectors landed.
    let mut db = crash.durable_bytes(DB);
    db[..512].fill(0x5a);
    db[3000] ^= 0xff;
    crash.set_file(DB, db);
    let pager = open(&io, &opts).expect("the header's second record is whole");
    assert_eq!(pager.commit_seq(), seq);
    assert_eq!(read_fills(&pager, &pages).expect("read"), vec![2, 2, 2]);
    // The next checkpoint rewrites page 1 whole.
    checkpoint(&pager, CheckpointMode::Truncate).expect("checkpoint 2");
    drop(pager);
    let pager = open(&io, &opts).expect("reopen");
    assert_eq!(pager.commit_seq(), seq);
    assert_eq!(read_fills(&pager, &pages).expect("read"), vec![2, 2, 2]);
}

#[test]
fn a_creation_torn_by_a_crash_is_created_again() {
    let (crash, io) = crash_io();
    let opts = options(4096);
    // The header page of a new database, torn: its first sector never landed.
    let mut torn = braid_core::storage::DbHeader::new(4096).encode();
    torn[..1024].fill(0);
    crash.set_file(DB, torn);
    let pager = open(&io, &opts).expect("created afresh");
    assert_eq!(pager.commit_seq(), 0);
    let (pages, seq) = allocate_pages(&pager, 2, 1).expect("commit");
    drop(pager);
    // Once the WAL holds data, the same damage is corruption, never a silent reset.
    crash.flip_bit(DB, 3, 0);
    crash.flip_bit(DB, 515, 0);
    assert!(matches!(open(&io, &opts), Err(Error::Corrupt(_))));
    assert_eq!(seq, 1);
    assert_eq!(pages, vec![2, 3]);
}

#[test]
fn another_page_size_is_refused_and_writes_nothing() {
    let (crash, io) = crash_io();
    let small = options(512);
    let pager = open(&io, &small).expect("create");
    let (pages, seq) = allocate_pages(&pager, 2, 1).expect("commit");
    drop(pager);
    let before = (crash.file_bytes(DB), crash.file_bytes(WAL));
    assert_eq!(before.0.len(), 512, "the data is still only in the WAL");
    for page_size in [1024, 4096] {
        let refused = open(&io, &options(page_size));
        assert!(
            matches!(refused, Err(Error::InvalidOptions(_))),
            "{page_size}: {refused:?}"
        );
        assert_eq!(
            (crash.file_bytes(DB), crash.file_bytes(WAL)),
            before,
            "nothing written"
        );
    }
    let pager = open(&io, &small).expect("the right page size still opens");
    assert_eq!(pager.commit_seq(), seq);
    assert_eq!(read_fills(&pager, &pages).expect("read"), vec![1, 1]);
}
