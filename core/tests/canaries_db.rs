//! Each canary of `core/src/canary.rs`, observed through the connection API: the same
//! scenario runs on the correct engine and with the canary switched on
//! (`DbOptions { canary: Some(..) }`), and the two must behave differently, the canary in
//! the way the simulator is meant to catch. Run with
//! `cargo test -p braid-core --features canaries`.
#![cfg(feature = "canaries")]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use braid_core::storage::crash_io::CrashIO;
use braid_core::storage::wal::format::frame_size;
use braid_core::{
    Canary, CheckpointMode, Completion, CompletionError, Connection, Database, DbOptions, Error,
    File, IO, IOResult, Op, Output, Result, TxMode, YieldInjector, YieldPoint, block_on,
};

const PATH: &str = "canary.db";
const WAL_PATH: &str = "canary.db-wal";

fn options(canary: Option<Canary>) -> DbOptions {
    DbOptions {
        page_size: 512,
        cache_pages: 16,
        autocheckpoint_frames: 0,
        canary,
        ..DbOptions::default()
    }
}

fn key(k: u32) -> Vec<u8> {
    format!("key{k:04}").into_bytes()
}

fn value(tag: &str, k: u32) -> Vec<u8> {
    format!("{tag}-{k}-").repeat(6).into_bytes()
}

fn run(io: &dyn IO, conn: &Connection, op: &Op) -> Result<Output> {
    block_on(io, || conn.execute(op))
}

fn open(io: &Arc<dyn IO>, options: DbOptions) -> Arc<Database> {
    Database::open_blocking(io.clone(), PATH, options).expect("open")
}

fn crash_io() -> (CrashIO, Arc<dyn IO>) {
    let crash = CrashIO::new();
    let io: Arc<dyn IO> = Arc::new(crash.clone());
    (crash, io)
}

/// Puts `keys` with `tag`'s values in one explicit transaction and commits.
fn commit_keys(
    io: &dyn IO,
    conn: &Connection,
    tag: &str,
    keys: impl Iterator<Item = u32>,
) -> Result<Output> {
    run(io, conn, &Op::Begin(TxMode::Deferred))?;
    for k in keys {
        run(io, conn, &Op::Put(key(k), value(tag, k)))?;
    }
    run(io, conn, &Op::Commit)
}

fn contents(io: &dyn IO, conn: &Connection) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let scan = Op::Scan {
        start: vec![0],
        end: None,
        limit: usize::MAX,
    };
    match run(io, conn, &scan)? {
        Output::Rows(rows) => Ok(rows.into_iter().collect()),
        other => panic!("a scan returns rows, got {other:?}"),
    }
}

#[test]
fn skip_busy_snapshot_lets_a_stale_deferred_transaction_write() {
    fn stale_write(canary: Option<Canary>) -> Result<Output> {
        let (_, io) = crash_io();
        let db = open(&io, options(canary));
        let (t1, t2) = (db.connect(), db.connect());
        run(io.as_ref(), &t1, &Op::Put(key(1), value("v0", 1))).expect("seed");
        run(io.as_ref(), &t1, &Op::Begin(TxMode::Deferred)).expect("begin");
        run(io.as_ref(), &t1, &Op::Get(key(1))).expect("read: snapshot 1");
        run(io.as_ref(), &t2, &Op::Put(key(1), value("v2", 1))).expect("commit 2");
        run(io.as_ref(), &t1, &Op::Put(key(1), value("v1", 1)))
    }
    assert_eq!(stale_write(None), Err(Error::BusySnapshot));
    assert_eq!(
        stale_write(Some(Canary::SkipBusySnapshot)),
        Ok(Output::Done),
        "the canary lets a writer on a stale snapshot in (a lost update)"
    );
}

#[test]
fn leak_write_lock_keeps_every_writer_busy_after_a_failed_commit() {
    fn writers_after_failed_commit(canary: Option<Canary>) -> Vec<Result<Output>> {
        let (crash, io) = crash_io();
        let db = open(&io, options(canary));
        let (t1, t2) = (db.connect(), db.connect());
        run(io.as_ref(), &t1, &Op::Begin(TxMode::Immediate)).expect("begin");
        run(io.as_ref(), &t1, &Op::Put(key(1), value("lost", 1))).expect("put");
        crash.set_fail_writes(true);
        let commit = run(io.as_ref(), &t1, &Op::Commit);
        assert!(
            matches!(commit, Err(Error::Completion(_))),
            "the commit fails: {commit:?}"
        );
        crash.set_fail_writes(false);
        let mut answers = Vec::new();
        for round in 0..3 {
            answers.push(run(
                io.as_ref(),
                &t2,
                &Op::Put(key(2), value("later", round)),
            ));
            answers.push(run(io.as_ref(), &t1, &Op::Begin(TxMode::Immediate)));
            let _ = run(io.as_ref(), &t1, &Op::Rollback);
        }
        answers
    }
    assert!(
        writers_after_failed_commit(None).iter().all(Result::is_ok),
        "the correct engine releases the lock when a commit fails"
    );
    assert!(
        writers_after_failed_commit(Some(Canary::LeakWriteLock))
            .iter()
            .all(|answer| answer == &Err(Error::Busy)),
        "the canary leaves the lock held by nobody, forever"
    );
}

#[test]
fn publish_before_fsync_shows_readers_a_commit_whose_fsync_fails() {
    /// What a reader sees while the commit's fsync is in flight, and the commit's answer.
    fn read_during_failing_fsync(canary: Option<Canary>) -> (Result<Output>, Result<Output>) {
        let (crash, io) = crash_io();
        let db = open(&io, options(canary));
        let (writer, reader) = (db.connect(), db.connect());
        run(io.as_ref(), &writer, &Op::Put(key(1), value("old", 1))).expect("seed");
        run(io.as_ref(), &writer, &Op::Begin(TxMode::Deferred)).expect("begin");
        run(io.as_ref(), &writer, &Op::Put(key(1), value("new", 1))).expect("put");
        let first = writer.execute(&Op::Commit).expect("commit starts");
        assert!(
            matches!(first, IOResult::IO(_)),
            "the commit writes its frames"
        );
        io.step().expect("frames land");
        let second = writer.execute(&Op::Commit).expect("commit moves on");
        assert!(
            matches!(second, IOResult::IO(_)),
            "the commit waits for its fsync"
        );
        crash.set_fail_syncs(true);
        let seen = run(io.as_ref(), &reader, &Op::Get(key(1)));
        let commit = run(io.as_ref(), &writer, &Op::Commit);
        (seen, commit)
    }
    let (seen, commit) = read_during_failing_fsync(None);
    assert_eq!(seen, Ok(Output::Value(Some(value("old", 1)))));
    assert!(matches!(commit, Err(Error::Completion(_))), "{commit:?}");
    let (seen, commit) = read_during_failing_fsync(Some(Canary::PublishBeforeFsync));
    assert_eq!(
        seen,
        Ok(Output::Value(Some(value("new", 1)))),
        "the canary shows a commit that has not been made durable"
    );
    assert!(
        matches!(commit, Err(Error::Completion(_))),
        "and then fails: {commit:?}"
    );
}

#[test]
fn evict_dirty_page_loses_writes_of_a_large_transaction() {
    /// Commits 300 keys in one transaction through an 8-page cache; reads them back.
    fn large_transaction(canary: Option<Canary>) -> Result<bool> {
        let (_, io) = crash_io();
        let db = open(
            &io,
            DbOptions {
                cache_pages: 8,
                ..options(canary)
            },
        );
        let conn = db.connect();
        commit_keys(io.as_ref(), &conn, "big", 0..300)?;
        let expected: BTreeMap<_, _> = (0..300).map(|k| (key(k), value("big", k))).collect();
        let intact = contents(io.as_ref(), &conn)? == expected;
        let clean = run(io.as_ref(), &conn, &Op::IntegrityCheck)? == Output::Integrity(vec![]);
        Ok(intact && clean)
    }
    assert_eq!(large_transaction(None), Ok(true));
    assert_ne!(
        large_transaction(Some(Canary::EvictDirtyPage)),
        Ok(true),
        "the canary drops uncommitted pages from the cache, losing writes"
    );
}

/// Answers yes at `CommitBeforePublish` only.
struct YieldBeforePublish;

impl YieldInjector for YieldBeforePublish {
    fn should_yield(&self, point: YieldPoint) -> bool {
        point == YieldPoint::CommitBeforePublish
    }
}

#[test]
fn counter_before_yield_skips_commit_sequences() {
    fn sequences(canary: Option<Canary>) -> Vec<u64> {
        let (_, io) = crash_io();
        let db = open(
            &io,
            DbOptions {
                yield_injector: Some(Arc::new(YieldBeforePublish)),
                ..options(canary)
            },
        );
        let conn = db.connect();
        (1..=3)
            .map(
                |round| match commit_keys(io.as_ref(), &conn, "seq", round..round + 1) {
                    Ok(Output::Committed { seq }) => seq,
                    other => panic!("commit answered {other:?}"),
                },
            )
            .collect()
    }
    assert_eq!(sequences(None), vec![1, 2, 3]);
    let skipped = sequences(Some(Canary::CounterBeforeYield));
    assert_ne!(
        skipped,
        vec![1, 2, 3],
        "the canary advances the counter again on re-entry after the yield"
    );
}

#[test]
fn checkpoint_past_reader_changes_what_an_open_reader_sees() {
    /// A reader's second read of k1 after a writer changed it and a Restart checkpoint.
    fn reread_after_checkpoint(canary: Option<Canary>) -> Result<Output> {
        let (_, io) = crash_io();
        let db = open(&io, options(canary));
        let (writer, reader) = (db.connect(), db.connect());
        commit_keys(io.as_ref(), &writer, "old", 0..20).expect("commit 1");
        run(io.as_ref(), &reader, &Op::Begin(TxMode::Deferred)).expect("begin");
        let first = run(io.as_ref(), &reader, &Op::Get(key(1))).expect("read");
        assert_eq!(first, Output::Value(Some(value("old", 1))));
        commit_keys(io.as_ref(), &writer, "new", 0..20).expect("commit 2");
        run(
            io.as_ref(),
            &writer,
            &Op::Checkpoint(CheckpointMode::Restart),
        )
        .expect("checkpoint");
        run(io.as_ref(), &reader, &Op::Get(key(1)))
    }
    assert_eq!(
        reread_after_checkpoint(None),
        Ok(Output::Value(Some(value("old", 1)))),
        "a reader keeps its snapshot across a checkpoint"
    );
    assert_eq!(
        reread_after_checkpoint(Some(Canary::CheckpointPastReader)),
        Ok(Output::Value(Some(value("new", 1)))),
        "the canary overwrites pages under an open reader: it sees a later commit"
    );
}

#[test]
fn recovery_skip_checksum_accepts_a_damaged_commit() {
    /// Three commits, a damaged image in the last frame, reopen: the recovered sequence
    /// and what a read of the damaged commit's keys answers.
    fn reopen_damaged(canary: Option<Canary>) -> (u64, Result<Output>) {
        let (crash, io) = crash_io();
        let db = open(&io, options(canary));
        let conn = db.connect();
        commit_keys(io.as_ref(), &conn, "one", 0..10).expect("commit 1");
        commit_keys(io.as_ref(), &conn, "two", 0..10).expect("commit 2");
        commit_keys(io.as_ref(), &conn, "three", 0..10).expect("commit 3");
        drop((conn, db));
        let mut wal = crash.durable_bytes(WAL_PATH);
        let at = wal.len() - frame_size(512) / 2;
        wal[at] ^= 0x10;
        crash.set_file(WAL_PATH, wal);
        let db = open(&io, options(canary));
        let conn = db.connect();
        (db.commit_seq(), run(io.as_ref(), &conn, &Op::Get(key(5))))
    }
    assert_eq!(
        reopen_damaged(None),
        (2, Ok(Output::Value(Some(value("two", 5))))),
        "recovery drops the damaged commit"
    );
    let (seq, read) = reopen_damaged(Some(Canary::RecoverySkipChecksum));
    assert_eq!(seq, 3, "the canary accepts the damaged commit");
    assert_ne!(read, Ok(Output::Value(Some(value("two", 5)))), "{read:?}");
}

/// One queued operation of `TrickleIO`.
struct Queued {
    file: Arc<dyn File>,
    op: TrickleOp,
    c: Completion,
}

enum TrickleOp {
    Read { pos: u64, len: usize },
    Write { pos: u64, bytes: Vec<u8> },
    Sync,
    Truncate { len: u64 },
}

#[derive(Default)]
struct TrickleState {
    queue: VecDeque<Queued>,
    /// Some(n): the next n writes succeed, every later one fails.
    writes_before_failing: Option<usize>,
}

/// Completes ONE operation per `step`, oldest first, on top of `CrashIO`, and can fail
/// every write after the first few: a completion group then sees members finish one by
/// one, some successfully before others fail.
#[derive(Clone)]
struct TrickleIO {
    inner: CrashIO,
    state: Arc<Mutex<TrickleState>>,
}

struct TrickleFile {
    inner: Arc<dyn File>,
    state: Arc<Mutex<TrickleState>>,
}

impl TrickleIO {
    fn new() -> TrickleIO {
        TrickleIO {
            inner: CrashIO::new(),
            state: Arc::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TrickleState> {
        self.state.lock().expect("trickle state")
    }

    fn fail_writes_after(&self, passing: Option<usize>) {
        self.state().writes_before_failing = passing;
    }
}

impl TrickleFile {
    fn queue(&self, op: TrickleOp, c: Completion) -> Result<Completion> {
        let file = self.inner.clone();
        self.state
            .lock()
            .expect("trickle state")
            .queue
            .push_back(Queued {
                file,
                op,
                c: c.clone(),
            });
        Ok(c)
    }
}

impl File for TrickleFile {
    fn pread(&self, pos: u64, len: usize, c: Completion) -> Result<Completion> {
        self.queue(TrickleOp::Read { pos, len }, c)
    }

    fn pwrite(&self, pos: u64, bytes: &[u8], c: Completion) -> Result<Completion> {
        let bytes = bytes.to_vec();
        self.queue(TrickleOp::Write { pos, bytes }, c)
    }

    fn sync(&self, c: Completion) -> Result<Completion> {
        self.queue(TrickleOp::Sync, c)
    }

    fn truncate(&self, len: u64, c: Completion) -> Result<Completion> {
        self.queue(TrickleOp::Truncate { len }, c)
    }

    fn size(&self) -> Result<u64> {
        self.inner.size()
    }
}

impl IO for TrickleIO {
    fn open_file(&self, path: &str) -> Result<Arc<dyn File>> {
        Ok(Arc::new(TrickleFile {
            inner: self.inner.open_file(path)?,
            state: self.state.clone(),
        }))
    }

    fn remove_file(&self, path: &str) -> Result<()> {
        self.inner.remove_file(path)
    }

    fn file_exists(&self, path: &str) -> Result<bool> {
        self.inner.file_exists(path)
    }

    fn step(&self) -> Result<()> {
        let (next, fail) = {
            let mut state = self.state();
            let Some(next) = state.queue.pop_front() else {
                return Ok(());
            };
            let mut fail = false;
            if let (TrickleOp::Write { .. }, Some(left)) = (&next.op, state.writes_before_failing) {
                fail = left == 0;
                state.writes_before_failing = Some(left.saturating_sub(1));
            }
            (next, fail)
        };
        if next.c.finished() {
            return Ok(());
        }
        if fail {
            next.c.error(CompletionError::Io(std::io::ErrorKind::Other));
            return Ok(());
        }
        let Queued { file, op, c } = next;
        match op {
            TrickleOp::Read { pos, len } => file.pread(pos, len, c)?,
            TrickleOp::Write { pos, bytes } => file.pwrite(pos, &bytes, c)?,
            TrickleOp::Sync => file.sync(c)?,
            TrickleOp::Truncate { len } => file.truncate(len, c)?,
        };
        self.inner.step()
    }

    fn pending(&self) -> usize {
        self.state().queue.len()
    }
}

#[test]
fn group_first_member_acknowledges_a_commit_whose_frames_failed() {
    /// A commit of many pages whose frame writes fail after the first one; returns the
    /// commit's answer and the contents after a crash and reopen.
    fn commit_with_failing_frames(
        canary: Option<Canary>,
    ) -> (Result<Output>, BTreeMap<Vec<u8>, Vec<u8>>) {
        let trickle = TrickleIO::new();
        let io: Arc<dyn IO> = Arc::new(trickle.clone());
        let db = open(&io, options(canary));
        let conn = db.connect();
        commit_keys(io.as_ref(), &conn, "base", 0..5).expect("commit 1");
        run(io.as_ref(), &conn, &Op::Begin(TxMode::Deferred)).expect("begin");
        for k in 0..40 {
            run(io.as_ref(), &conn, &Op::Put(key(k), value("big", k))).expect("put");
        }
        trickle.fail_writes_after(Some(1));
        let commit = run(io.as_ref(), &conn, &Op::Commit);
        trickle.fail_writes_after(None);
        drop((conn, db));
        trickle.inner.crash();
        let db = open(&io, options(canary));
        let after = contents(io.as_ref(), &db.connect()).expect("scan after reopen");
        (commit, after)
    }
    let base: BTreeMap<_, _> = (0..5).map(|k| (key(k), value("base", k))).collect();
    let (commit, after) = commit_with_failing_frames(None);
    assert!(
        matches!(commit, Err(Error::Completion(_))),
        "the failure is reported: {commit:?}"
    );
    assert_eq!(after, base, "the failed commit left nothing");
    let (commit, after) = commit_with_failing_frames(Some(Canary::GroupFirstMember));
    assert!(
        matches!(commit, Ok(Output::Committed { .. })),
        "the canary acknowledges the commit once its first frame landed: {commit:?}"
    );
    assert_eq!(after, base, "and the acknowledged commit is lost");
}

#[test]
fn ack_failed_sync_acknowledges_a_commit_whose_fsync_failed() {
    /// The answer to a commit whose WAL fsync fails, and what a crash right after keeps.
    fn commit_with_failing_fsync(
        canary: Option<Canary>,
    ) -> (Result<Output>, BTreeMap<Vec<u8>, Vec<u8>>) {
        let (crash, io) = crash_io();
        let db = open(&io, options(canary));
        let conn = db.connect();
        commit_keys(io.as_ref(), &conn, "base", 0..3).expect("commit 1");
        crash.set_fail_syncs(true);
        let commit = commit_keys(io.as_ref(), &conn, "lost", 3..6);
        crash.set_fail_syncs(false);
        drop((conn, db));
        crash.crash();
        let db = open(&io, options(canary));
        let after = contents(io.as_ref(), &db.connect()).expect("scan after reopen");
        (commit, after)
    }
    let base: BTreeMap<_, _> = (0..3).map(|k| (key(k), value("base", k))).collect();
    let (commit, after) = commit_with_failing_fsync(None);
    assert!(
        matches!(commit, Err(Error::Completion(_))),
        "the failed fsync fails the commit: {commit:?}"
    );
    assert_eq!(after, base);
    let (commit, after) = commit_with_failing_fsync(Some(Canary::AckFailedSync));
    assert!(
        matches!(commit, Ok(Output::Committed { .. })),
        "the canary acknowledges it: {commit:?}"
    );
    assert_eq!(
        after, base,
        "and the crash takes the acknowledged commit back"
    );
}

/// Which test above covers each canary; a new canary fails to compile here until it has
/// one.
fn covering_test(canary: Canary) -> &'static str {
    match canary {
        Canary::CounterBeforeYield => "counter_before_yield_skips_commit_sequences",
        Canary::PublishBeforeFsync => {
            "publish_before_fsync_shows_readers_a_commit_whose_fsync_fails"
        }
        Canary::SkipBusySnapshot => "skip_busy_snapshot_lets_a_stale_deferred_transaction_write",
        Canary::CheckpointPastReader => "checkpoint_past_reader_changes_what_an_open_reader_sees",
        Canary::GroupFirstMember => "group_first_member_acknowledges_a_commit_whose_frames_failed",
        Canary::RecoverySkipChecksum => "recovery_skip_checksum_accepts_a_damaged_commit",
        Canary::EvictDirtyPage => "evict_dirty_page_loses_writes_of_a_large_transaction",
        Canary::LeakWriteLock => "leak_write_lock_keeps_every_writer_busy_after_a_failed_commit",
        Canary::AckFailedSync => "ack_failed_sync_acknowledges_a_commit_whose_fsync_failed",
    }
}

#[test]
fn every_canary_is_covered_and_named() {
    let source = include_str!("canaries_db.rs");
    for canary in Canary::ALL {
        let test = covering_test(canary);
        assert!(
            source.contains(&format!("fn {test}()")),
            "{} is covered by {test}",
            canary.name()
        );
        assert_eq!(Canary::from_name(canary.name()), Some(canary));
    }
}
