//! `SimIO` driven by hand: completions in any order, durability across crashes, torn writes,
//! failed syncs, group faults by label, short transfers, latency, bit flips, and the rule
//! that nothing finishes inside the submitting call.

use std::io::ErrorKind;
use std::sync::{Arc, Mutex};

use braid::sim::sim_io::{UnsyncedKind, fault_kind};
use braid::sim::{IoOutcome, OpKind, SimIO, SimIoError, UnsyncedWrite, WriteFate};
use braid_core::{Completion, CompletionError, CompletionGroup, File, IO, IOResult, block_on};

/// A completion that appends `name` to `log` when it finishes.
fn logged(log: &Arc<Mutex<Vec<String>>>, name: &str) -> Completion {
    let log = log.clone();
    let name = name.to_string();
    Completion::new(move |result| log.lock().expect("log").push(format!("{name}:{result:?}")))
}

fn write(file: &Arc<dyn File>, pos: u64, bytes: &[u8]) -> Completion {
    file.pwrite(pos, bytes, Completion::new_noop())
        .expect("submit write")
}

fn sync(file: &Arc<dyn File>) -> Completion {
    file.sync(Completion::new_noop()).expect("submit sync")
}

/// Completes every pending operation successfully, oldest first.
fn drain(io: &SimIO) {
    while io.pending() > 0 {
        io.step().expect("step");
    }
}

#[test]
fn sim_io_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SimIO>();
}

#[test]
fn nothing_finishes_inside_the_submitting_call_and_ids_follow_submission() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    let a = write(&file, 0, b"aaaa");
    let b = file
        .pread(0, 4, Completion::new_read(4, |_| {}))
        .expect("submit read");
    let c = sync(&file);
    assert!(!a.finished() && !b.finished() && !c.finished());
    let ops = io.pending_ops();
    let kinds: Vec<(u64, OpKind)> = ops.iter().map(|op| (op.id, op.kind)).collect();
    assert_eq!(
        kinds,
        vec![(0, OpKind::Write), (1, OpKind::Read), (2, OpKind::Sync)]
    );
    assert_eq!(
        (ops[0].file.as_str(), ops[0].offset, ops[0].len),
        ("db", 0, 4)
    );
    assert_eq!(
        io.volatile_image("db"),
        Some(Vec::new()),
        "a pending write lands nowhere"
    );
}

#[test]
fn pending_operations_complete_in_any_order() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    let log = Arc::new(Mutex::new(Vec::new()));
    file.pwrite(0, b"first", logged(&log, "first"))
        .expect("submit");
    file.pwrite(0, b"secnd", logged(&log, "second"))
        .expect("submit");
    io.complete(1, IoOutcome::Ok)
        .expect("complete the newer write first");
    io.complete(0, IoOutcome::Ok).expect("then the older");
    assert_eq!(
        *log.lock().expect("log"),
        vec!["second:Ok(5)", "first:Ok(5)"]
    );
    assert_eq!(
        io.volatile_image("db").expect("file"),
        b"first",
        "the last to complete wins"
    );
    assert_eq!(io.complete(0, IoOutcome::Ok), Err(SimIoError::UnknownOp(0)));
}

#[test]
fn a_callback_may_submit_more_io() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    let chained = file.clone();
    let first = Completion::new(move |_| {
        chained
            .pwrite(8, b"next", Completion::new_noop())
            .expect("submit from a callback");
    });
    file.pwrite(0, b"head", first).expect("submit");
    io.complete(0, IoOutcome::Ok).expect("complete");
    let pending = io.pending_ops();
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].id, pending[0].offset), (1, 8));
}

#[test]
fn a_crash_keeps_durable_data_and_loses_what_was_only_volatile() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    write(&file, 0, b"durable!");
    sync(&file);
    drain(&io);
    write(&file, 8, b"volatile");
    drain(&io);
    write(&file, 16, b"pending!");
    assert_eq!(io.durable_image("db").expect("file"), b"durable!");
    assert_eq!(io.volatile_image("db").expect("file"), b"durable!volatile");

    let mut offered = Vec::new();
    let report = io.crash(&mut |w: &UnsyncedWrite| {
        offered.push((w.op_id, w.completed));
        WriteFate::Vanish
    });
    assert_eq!(
        offered,
        vec![(2, true), (3, false)],
        "completed first, then pending"
    );
    assert_eq!(
        (report.vanished, report.survived, report.dropped_pending),
        (2, 0, 1)
    );
    assert_eq!(io.durable_image("db").expect("file"), b"durable!");
    assert_eq!(io.volatile_image("db").expect("file"), b"durable!");
    assert_eq!(io.pending(), 0);
    assert_eq!(io.fault_counts().count(fault_kind::LOST_WRITE), 2);
    assert_eq!(io.fault_counts().count(fault_kind::CRASH), 1);
}

#[test]
fn surviving_unsynced_writes_including_pending_ones_become_durable() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    write(&file, 0, b"done");
    drain(&io);
    let pending = write(&file, 4, b"late");
    io.crash(&mut |_| WriteFate::Survive);
    assert_eq!(io.durable_image("db").expect("file"), b"donelate");
    assert_eq!(io.volatile_image("db").expect("file"), b"donelate");
    assert!(
        !pending.finished(),
        "a dropped operation never finishes: its waiter is gone"
    );
}

#[test]
fn a_torn_write_keeps_whole_512_byte_sectors() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    write(&file, 0, &[0u8; 2048]);
    sync(&file);
    drain(&io);
    write(&file, 0, &[0xAA; 2048]);
    write(&file, 0, &[0xBB; 2048]);
    drain(&io);
    let mut sectors = Vec::new();
    io.crash(&mut |w: &UnsyncedWrite| {
        sectors.push(w.sector_count());
        if w.op_id == 2 {
            WriteFate::TornPrefix(2)
        } else {
            WriteFate::TornSectors(vec![false, false, false, true])
        }
    });
    assert_eq!(sectors, vec![4, 4]);
    let image = io.durable_image("db").expect("file");
    assert_eq!(image.len(), 2048);
    assert!(
        image[..1024].iter().all(|&b| b == 0xAA),
        "a prefix of two sectors survived"
    );
    assert!(
        image[1024..1536].iter().all(|&b| b == 0),
        "a lost sector keeps the old data"
    );
    assert!(
        image[1536..].iter().all(|&b| b == 0xBB),
        "the later write's last sector survived"
    );
    assert_eq!(io.fault_counts().count(fault_kind::TORN_WRITE), 2);
}

#[test]
fn an_unaligned_write_tears_at_file_sector_boundaries() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    write(&file, 500, &[7u8; 600]);
    drain(&io);
    io.crash(&mut |w| {
        assert_eq!(
            w.sector_count(),
            3,
            "12 bytes, a full sector, then 76 bytes"
        );
        WriteFate::TornSectors(vec![true, false, true])
    });
    let image = io.durable_image("db").expect("file");
    assert_eq!(image.len(), 1100);
    assert!(image[500..512].iter().all(|&b| b == 7));
    assert!(image[512..1024].iter().all(|&b| b == 0));
    assert!(image[1024..1100].iter().all(|&b| b == 7));
}

#[test]
fn a_failed_sync_keeps_data_volatile() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    write(&file, 0, b"data");
    let failed_sync = sync(&file);
    io.complete(0, IoOutcome::Ok).expect("write");
    io.complete(1, IoOutcome::Error(ErrorKind::Other))
        .expect("sync fails");
    assert_eq!(
        failed_sync.get_error(),
        Some(CompletionError::Io(ErrorKind::Other))
    );
    assert_eq!(io.durable_image("db").expect("file"), b"");
    assert_eq!(io.fault_counts().count(fault_kind::SYNC_ERROR), 1);
    io.crash(&mut |_| WriteFate::Vanish);
    assert_eq!(
        io.durable_image("db").expect("file"),
        b"",
        "the write was never durable"
    );

    write(&file, 0, b"data");
    sync(&file);
    drain(&io);
    io.crash(&mut |_| WriteFate::Vanish);
    assert_eq!(
        io.durable_image("db").expect("file"),
        b"data",
        "a completed sync made it durable"
    );
}

#[test]
fn an_unsynced_truncate_is_all_or_nothing() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    write(&file, 0, b"0123456789");
    sync(&file);
    drain(&io);
    file.truncate(4, Completion::new_noop()).expect("submit");
    drain(&io);
    assert_eq!(file.size().expect("size"), 4);
    io.crash(&mut |w| {
        assert_eq!((w.kind, w.offset), (UnsyncedKind::Truncate, 4));
        WriteFate::TornPrefix(1)
    });
    assert_eq!(
        io.durable_image("db").expect("file"),
        b"0123456789",
        "torn = not applied"
    );
    file.truncate(4, Completion::new_noop()).expect("submit");
    drain(&io);
    io.crash(&mut |_| WriteFate::Survive);
    assert_eq!(io.durable_image("db").expect("file"), b"0123");
}

/// Two labelled writes in one group, as a commit would build them.
fn labelled_pair(
    file: &Arc<dyn File>,
    label: &'static str,
) -> (Completion, Completion, Completion) {
    let a = write(file, 0, b"frame-a");
    let b = write(file, 7, b"frame-b");
    let mut group = CompletionGroup::new(|_| {}).with_label(label);
    group.add(&a);
    group.add(&b);
    (a, b, group.build())
}

#[test]
fn fail_group_errors_one_member_and_the_group_reports_it_when_all_finish() {
    let io = SimIO::new();
    let file = io.open_file("wal").expect("open");
    let (a, b, group) = labelled_pair(&file, "commit-frames");
    assert!(
        io.pending_ops()
            .iter()
            .all(|op| op.group_labels == vec!["commit-frames"])
    );
    io.fail_group(0, ErrorKind::Other)
        .expect("member of a labelled group");
    assert!(a.failed());
    assert!(
        !group.finished(),
        "a group finishes with its last member, never earlier"
    );
    io.complete(1, IoOutcome::Ok).expect("the other member");
    assert!(b.succeeded());
    assert_eq!(
        group.get_error(),
        Some(CompletionError::Io(ErrorKind::Other))
    );
    assert_eq!(
        io.volatile_image("wal").expect("file"),
        b"\0\0\0\0\0\0\0frame-b"
    );
    let counts = io.fault_counts();
    assert_eq!(
        counts.count_in_group("commit-frames", fault_kind::GROUP_FAIL),
        1
    );
    assert_eq!(
        counts.count(fault_kind::WRITE_ERROR),
        0,
        "counted as a group fault only"
    );

    let lone = write(&file, 0, b"x");
    let lone_id = io.pending_ops()[0].id;
    assert_eq!(
        io.fail_group(lone_id, ErrorKind::Other),
        Err(SimIoError::NotInGroup(lone_id))
    );
    assert!(!lone.finished());
}

#[test]
fn cancel_group_aborts_every_unfinished_member_without_touching_data() {
    let io = SimIO::new();
    let file = io.open_file("wal").expect("open");
    let (a, b, group) = labelled_pair(&file, "checkpoint-copy");
    let mut outer = CompletionGroup::new(|_| {});
    outer.add(&group);
    let outer = outer.build();
    assert_eq!(io.pending_ops()[0].group_labels, vec!["checkpoint-copy"]);
    assert_eq!(io.cancel_group(1), Ok(("checkpoint-copy", vec![0, 1])));
    assert_eq!(a.get_error(), Some(CompletionError::Aborted));
    assert_eq!(b.get_error(), Some(CompletionError::Aborted));
    assert_eq!(group.get_error(), Some(CompletionError::Aborted));
    assert!(outer.failed(), "the enclosing group sees the abort");
    assert!(
        io.pending_ops().is_empty(),
        "aborted operations are dropped"
    );
    assert_eq!(io.pending(), 0);
    assert_eq!(io.volatile_image("wal").expect("file"), b"");
    assert_eq!(
        io.fault_counts()
            .count_in_group("checkpoint-copy", fault_kind::GROUP_CANCEL),
        1
    );
}

#[test]
fn an_aborted_single_operation_is_dropped_without_touching_data() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    let c = write(&file, 0, b"never");
    c.abort();
    assert!(io.pending_ops().is_empty());
    io.crash(&mut |_| panic!("an aborted write is not offered to the crash"));
    assert_eq!(io.durable_image("db").expect("file"), b"");
}

#[test]
fn short_reads_and_writes_report_fewer_bytes_than_asked() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    let w = write(&file, 0, b"0123456789");
    io.complete(0, IoOutcome::Short(4)).expect("short write");
    assert_eq!(w.result(), Some(Ok(4)));
    assert_eq!(
        io.volatile_image("db").expect("file"),
        b"0123",
        "only the bytes moved land"
    );

    write(&file, 4, b"456789");
    drain(&io);
    let r = file
        .pread(0, 10, Completion::new_read(10, |_| {}))
        .expect("submit");
    io.complete(2, IoOutcome::Short(3)).expect("short read");
    assert_eq!(r.result(), Some(Ok(3)));
    assert_eq!(r.take_read_buffer().expect("buffer"), b"012");
    let counts = io.fault_counts();
    assert_eq!(
        (
            counts.count(fault_kind::SHORT_WRITE),
            counts.count(fault_kind::SHORT_READ)
        ),
        (1, 1)
    );

    let past_end = file
        .pread(8, 10, Completion::new_read(10, |_| {}))
        .expect("submit");
    io.complete(3, IoOutcome::Ok).expect("read at the end");
    assert_eq!(
        past_end.result(),
        Some(Ok(2)),
        "reading past the end is short too"
    );
}

#[test]
fn nonsensical_outcomes_are_refused_and_leave_the_operation_pending() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    write(&file, 0, b"abc");
    sync(&file);
    assert_eq!(
        io.complete(0, IoOutcome::Short(3)),
        Err(SimIoError::ShortNotShort {
            id: 0,
            moved: 3,
            len: 3
        })
    );
    assert_eq!(
        io.complete(1, IoOutcome::Short(0)),
        Err(SimIoError::ShortNotApplicable {
            id: 1,
            kind: OpKind::Sync
        })
    );
    assert_eq!(io.pending(), 2);
}

#[test]
fn hold_delays_readiness_and_is_counted() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    io.set_now(5);
    write(&file, 0, b"x");
    assert_eq!(io.pending_ops()[0].submitted_at, 5);
    assert!(io.pending_ops()[0].is_ready(5));
    io.hold(0, 9).expect("hold");
    let op = &io.pending_ops()[0];
    assert_eq!(op.ready_at, 9);
    assert!(!op.is_ready(8) && op.is_ready(9));
    assert_eq!(io.fault_counts().count(fault_kind::LATENCY), 1);
    assert_eq!(io.hold(7, 9), Err(SimIoError::UnknownOp(7)));
}

#[test]
fn step_completes_the_oldest_operation_so_block_on_works() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    write(&file, 0, b"hello");
    let read = file
        .pread(0, 5, Completion::new_read(5, |_| {}))
        .expect("submit");
    io.step().expect("step");
    assert!(!read.finished(), "the write was older");
    let waited = read.clone();
    let bytes = block_on(&io, || {
        if waited.finished() {
            Ok(IOResult::Done(waited.take_read_buffer()))
        } else {
            Ok(IOResult::IO(braid_core::IOCompletions::Single(
                waited.clone(),
            )))
        }
    })
    .expect("block_on");
    assert_eq!(bytes.expect("buffer"), b"hello");
}

#[test]
fn a_bit_flip_changes_durable_data_and_its_volatile_mirror() {
    let io = SimIO::new();
    let file = io.open_file("db").expect("open");
    write(&file, 0, &[0u8; 4]);
    sync(&file);
    drain(&io);
    write(&file, 2, &[9]);
    drain(&io);
    io.flip_bit("db", 1, 3).expect("in range");
    io.flip_bit("db", 2, 0).expect("in range");
    assert_eq!(io.durable_image("db").expect("file"), vec![0, 8, 1, 0]);
    assert_eq!(
        io.volatile_image("db").expect("file"),
        vec![0, 8, 9, 0],
        "newer data kept"
    );
    assert!(matches!(
        io.flip_bit("db", 4, 0),
        Err(SimIoError::OutOfRange { .. })
    ));
    assert!(matches!(
        io.flip_bit("nope", 0, 0),
        Err(SimIoError::NoSuchFile(_))
    ));
    assert_eq!(io.fault_counts().count(fault_kind::BIT_FLIP), 2);
}

#[test]
fn files_open_remove_and_hash_deterministically() {
    let build = || {
        let io = SimIO::new();
        let file = io.open_file("db").expect("open");
        write(&file, 0, b"abc");
        drain(&io);
        io.open_file("db-wal").expect("open");
        io
    };
    let (a, b) = (build(), build());
    assert_eq!(a.images_hash(), b.images_hash());
    assert!(a.file_exists("db-wal").expect("exists"));
    a.remove_file("db-wal").expect("remove");
    assert!(!a.file_exists("db-wal").expect("exists"));
    assert_ne!(a.images_hash(), b.images_hash());
    let removed = b.open_file("db-wal").expect("open");
    b.remove_file("db-wal").expect("remove");
    assert!(
        removed.pwrite(0, b"x", Completion::new_noop()).is_err(),
        "a removed file refuses I/O"
    );
}

/// What the simulator asks SimIO when a fiber resumes from a completion group: which
/// member failed, which member is still pending, and how many syncs completed.
#[test]
fn sim_io_names_a_groups_failed_or_unfinished_member_and_counts_completed_syncs() {
    let io = SimIO::new();
    let file = io.open_file("wal").expect("open");
    let (a, b) = (Completion::new_noop(), Completion::new_noop());
    let mut group = CompletionGroup::new(|_| {}).with_label("commit-frames");
    group.add(&a);
    group.add(&b);
    let built = group.build();
    let a = file.pwrite(0, b"aaaa", a).expect("submit");
    file.pwrite(4, b"bbbb", b).expect("submit");
    let pending = io
        .unfinished_member_of(&built)
        .expect("both members pending");
    assert_eq!((pending.file.as_str(), pending.offset), ("wal", 0));
    assert_eq!(io.failed_member_of(&built), None);
    io.complete(0, IoOutcome::Short(2)).expect("pending");
    assert!(a.finished());
    let failed = io
        .failed_member_of(&built)
        .expect("the short write is remembered");
    assert!(failed.contains("#0 write wal@0+4"), "{failed}");
    let pending = io.unfinished_member_of(&built).expect("one member pending");
    assert_eq!(pending.offset, 4);
    io.complete(1, IoOutcome::Ok).expect("pending");
    assert_eq!(io.unfinished_member_of(&built), None);
    // A short write completes with its short count, so the group itself succeeds: only
    // the remembered member tells the simulator that the op must still fail.
    assert!(built.finished() && !built.failed());
    assert!(io.failed_member_of(&built).is_some());
    // An unrelated group knows nothing of it.
    let other = CompletionGroup::new(|_| {}).with_label("x").build();
    assert_eq!(io.failed_member_of(&other), None);

    assert_eq!(io.syncs_completed("wal"), 0);
    sync(&file);
    io.complete(2, IoOutcome::Error(ErrorKind::Other))
        .expect("pending");
    assert_eq!(io.syncs_completed("wal"), 0, "a failed sync does not count");
    sync(&file);
    drain(&io);
    assert_eq!(io.syncs_completed("wal"), 1);
    assert_eq!(io.syncs_completed("no such file"), 0);
}
