//! `FileIO`: real files through positioned reads and writes, `fsync` for sync.
//! Operations queue on submit and run, oldest first, inside `step()`, so callbacks never
//! run inside the submitting call (the same contract as every backend).
//!
//! A write queued right behind a write to the same file that ends where it starts joins
//! that write: the queue holds one buffer for both and `step()` hands it to the kernel in
//! one call, then finishes each member's completion in submission order with its own
//! byte count. A commit's frames are such a run, so a commit costs one `pwrite` instead
//! of one per frame (and a frame no longer straddles two kernel page-cache pages on its
//! own). Nothing a caller sees changes: every write keeps its completion, its order and
//! its result; a failed joined write fails every member; a member aborted while queued
//! splits the run back into single writes, skipping the aborted one.
//!
//! The largest write buffer `step()` has finished with is kept and reused by the next
//! write that starts a run, so a commit-sized run is not allocated, grown and returned to
//! the system (and faulted in again) at every commit.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use super::completion::lock;
use super::{Completion, CompletionError, File, IO};
use crate::{Error, Result};

enum FileOp {
    Read {
        pos: u64,
        len: usize,
    },
    /// `bytes` at `pos`: the queued op's own write first, then the writes in `joined`,
    /// each continuing where the one before it ends.
    Write {
        pos: u64,
        bytes: Vec<u8>,
        /// Writes that joined this one: completion and byte count, in submission order.
        joined: Vec<(Completion, usize)>,
    },
    Sync,
    Truncate {
        len: u64,
    },
}

/// Bytes a run of joined writes may grow to; a longer run starts a new queued write.
const JOINED_WRITE_MAX_BYTES: usize = 8 << 20;

struct QueuedOp {
    file: Arc<std::fs::File>,
    op: FileOp,
    c: Completion,
}

type Queue = Arc<Mutex<VecDeque<QueuedOp>>>;
/// A finished write's buffer, kept for the next run (see the module header).
type SpareBuffer = Arc<Mutex<Vec<u8>>>;

/// Real-file I/O.
#[derive(Default)]
pub struct FileIO {
    queue: Queue,
    spare: SpareBuffer,
}

impl FileIO {
    pub fn new() -> Self {
        Self::default()
    }
}

fn io_error(path: &str, action: &str, err: std::io::Error) -> Error {
    Error::Io {
        kind: err.kind(),
        context: format!("{action} {path}: {err}"),
    }
}

impl IO for FileIO {
    fn open_file(&self, path: &str) -> Result<Arc<dyn File>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io_error(path, "open", e))?;
        Ok(Arc::new(RealFile {
            path: path.to_string(),
            file: Arc::new(file),
            queue: self.queue.clone(),
            spare: self.spare.clone(),
        }))
    }

    fn remove_file(&self, path: &str) -> Result<()> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(path, "remove", e)),
        }
    }

    fn file_exists(&self, path: &str) -> Result<bool> {
        Ok(std::path::Path::new(path).exists())
    }

    fn step(&self) -> Result<()> {
        let batch: Vec<QueuedOp> = lock(&self.queue).drain(..).collect();
        for QueuedOp { file, op, c } in batch {
            let joined = matches!(&op, FileOp::Write { joined, .. } if !joined.is_empty());
            if c.finished() && !joined {
                continue; // aborted while queued
            }
            if let Some(buffer) = run(&file, op, &c) {
                let mut spare = lock(&self.spare);
                if buffer.capacity() > spare.capacity() {
                    *spare = buffer;
                }
            }
        }
        Ok(())
    }

    fn pending(&self) -> usize {
        let queue = lock(&self.queue);
        let joined: usize = queue
            .iter()
            .map(|queued| match &queued.op {
                FileOp::Write { joined, .. } => joined.len(),
                _ => 0,
            })
            .sum();
        queue.len() + joined
    }
}

/// Performs one operation and finishes its completion with the outcome. Gives back a
/// write's buffer for reuse.
fn run(file: &std::fs::File, op: FileOp, c: &Completion) -> Option<Vec<u8>> {
    let outcome: std::io::Result<usize> = match op {
        FileOp::Write { pos, bytes, joined } if !joined.is_empty() => {
            run_joined(file, pos, &bytes, c, &joined);
            return Some(bytes);
        }
        FileOp::Read { pos, len } => read_fully(file, pos, len).map(|bytes| {
            let n = bytes.len();
            c.set_read_buffer(bytes);
            n
        }),
        FileOp::Write { pos, bytes, .. } => {
            let outcome = file.write_all_at(&bytes, pos).map(|()| bytes.len());
            finish(c, outcome);
            return Some(bytes);
        }
        FileOp::Sync => file.sync_all().map(|()| 0),
        FileOp::Truncate { len } => file.set_len(len).map(|()| 0),
    };
    finish(c, outcome);
    None
}

/// Performs a run of joined writes: `first` owns the first bytes of `bytes`, then each
/// of `joined` in turn. One kernel call when every member is still wanted; when one was
/// aborted while queued, the others go one by one and the aborted one is skipped.
fn run_joined(
    file: &std::fs::File,
    pos: u64,
    bytes: &[u8],
    first: &Completion,
    joined: &[(Completion, usize)],
) {
    let joined_bytes: usize = joined.iter().map(|(_, len)| len).sum();
    let first_len = bytes.len() - joined_bytes;
    let members = std::iter::once((first, first_len)).chain(joined.iter().map(|(c, n)| (c, *n)));
    if first.finished() || joined.iter().any(|(c, _)| c.finished()) {
        let mut at = 0;
        for (c, len) in members {
            if !c.finished() {
                let outcome = file.write_all_at(&bytes[at..at + len], pos + at as u64);
                finish(c, outcome.map(|()| len));
            }
            at += len;
        }
        return;
    }
    match file.write_all_at(bytes, pos) {
        Ok(()) => members.for_each(|(c, len)| finish(c, Ok(len))),
        Err(e) => {
            let kind = e.kind();
            members.for_each(|(c, _)| finish(c, Err(std::io::Error::from(kind))));
        }
    }
}

/// Finishes `c` with an operation's outcome.
fn finish(c: &Completion, outcome: std::io::Result<usize>) {
    match outcome {
        Ok(n) => c.complete(i32::try_from(n).unwrap_or(i32::MAX)),
        Err(e) => c.error(CompletionError::Io(e.kind())),
    }
}

/// Reads up to `len` bytes, stopping early only at end of file (a short read).
fn read_fully(file: &std::fs::File, pos: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        match file.read_at(&mut buf[done..], pos + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    buf.truncate(done);
    Ok(buf)
}

struct RealFile {
    path: String,
    file: Arc<std::fs::File>,
    queue: Queue,
    spare: SpareBuffer,
}

impl RealFile {
    fn submit(&self, op: FileOp, c: Completion) -> Result<Completion> {
        assert!(
            !c.succeeded(),
            "an operation is submitted before it succeeds"
        );
        lock(&self.queue).push_back(QueuedOp {
            file: self.file.clone(),
            op,
            c: c.clone(),
        });
        Ok(c)
    }
}

impl File for RealFile {
    fn pread(&self, pos: u64, len: usize, c: Completion) -> Result<Completion> {
        self.submit(FileOp::Read { pos, len }, c)
    }

    fn pwrite(&self, pos: u64, bytes: &[u8], c: Completion) -> Result<Completion> {
        let mut queue = lock(&self.queue);
        if let Some(QueuedOp {
            file,
            op:
                FileOp::Write {
                    pos: run_pos,
                    bytes: run,
                    joined,
                },
            c: run_first,
        }) = queue.back_mut()
        {
            let continues = Arc::ptr_eq(file, &self.file)
                && *run_pos + run.len() as u64 == pos
                && run.len() + bytes.len() <= JOINED_WRITE_MAX_BYTES
                && !run_first.finished();
            if continues {
                run.extend_from_slice(bytes);
                joined.push((c.clone(), bytes.len()));
                return Ok(c);
            }
        }
        let mut buffer = std::mem::take(&mut *lock(&self.spare));
        buffer.clear();
        buffer.extend_from_slice(bytes);
        queue.push_back(QueuedOp {
            file: self.file.clone(),
            op: FileOp::Write {
                pos,
                bytes: buffer,
                joined: Vec::new(),
            },
            c: c.clone(),
        });
        Ok(c)
    }

    fn sync(&self, c: Completion) -> Result<Completion> {
        self.submit(FileOp::Sync, c)
    }

    fn truncate(&self, len: u64, c: Completion) -> Result<Completion> {
        self.submit(FileOp::Truncate { len }, c)
    }

    fn size(&self) -> Result<u64> {
        let meta = self
            .file
            .metadata()
            .map_err(|e| io_error(&self.path, "stat", e))?;
        Ok(meta.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(io: &FileIO, dir: &tempfile::TempDir, name: &str) -> Arc<dyn File> {
        let path = dir.path().join(name);
        io.open_file(path.to_str().expect("utf-8 temp path"))
            .expect("open")
    }

    fn write(file: &Arc<dyn File>, pos: u64, bytes: &[u8]) -> Completion {
        file.pwrite(pos, bytes, Completion::new_noop())
            .expect("submit write")
    }

    fn contents(io: &FileIO, file: &Arc<dyn File>) -> Vec<u8> {
        let len = usize::try_from(file.size().expect("size")).expect("small file");
        let c = file
            .pread(0, len, Completion::new_read(len, |_| {}))
            .expect("submit read");
        io.step().expect("step");
        c.take_read_buffer().expect("read buffer")
    }

    fn queued_ops(io: &FileIO) -> usize {
        lock(&io.queue).len()
    }

    #[test]
    fn contiguous_writes_join_and_each_member_gets_its_own_count() {
        let dir = tempfile::tempdir().expect("temp dir");
        let io = FileIO::new();
        let file = open(&io, &dir, "a");
        let members = [
            write(&file, 0, b"abc"),
            write(&file, 3, b"defg"),
            write(&file, 7, b"h"),
        ];
        assert_eq!(queued_ops(&io), 1, "one run of three writes");
        assert_eq!(io.pending(), 3, "pending counts every write");
        assert!(
            members.iter().all(|c| !c.finished()),
            "nothing runs on submit"
        );
        io.step().expect("step");
        let counts: Vec<_> = members.iter().map(|c| c.result()).collect();
        assert_eq!(counts, vec![Some(Ok(3)), Some(Ok(4)), Some(Ok(1))]);
        assert_eq!(io.pending(), 0);
        assert_eq!(contents(&io, &file), b"abcdefgh");
    }

    #[test]
    fn gaps_other_files_and_other_operations_break_a_run() {
        let dir = tempfile::tempdir().expect("temp dir");
        let io = FileIO::new();
        let (a, b) = (open(&io, &dir, "a"), open(&io, &dir, "b"));
        write(&a, 0, b"aa");
        write(&a, 3, b"bb"); // a gap of one byte
        write(&b, 5, b"cc"); // where a's run ends, but another file
        write(&a, 5, b"dd");
        let read = a
            .pread(0, 7, Completion::new_read(7, |_| {}))
            .expect("submit read");
        write(&a, 7, b"ee"); // after the read: must not join the write before it
        assert_eq!(queued_ops(&io), 6, "no two of these writes join");
        io.step().expect("step");
        assert_eq!(
            read.take_read_buffer().expect("read buffer"),
            b"aa\0bbdd",
            "the read sees the writes queued before it and not the one after"
        );
        assert_eq!(contents(&io, &a), b"aa\0bbddee");
        assert_eq!(contents(&io, &b), b"\0\0\0\0\0cc");
    }

    #[test]
    fn a_member_aborted_while_queued_is_skipped_and_the_others_land() {
        let dir = tempfile::tempdir().expect("temp dir");
        let io = FileIO::new();
        let file = open(&io, &dir, "a");
        let first = write(&file, 0, b"12");
        let middle = write(&file, 2, b"34");
        let last = write(&file, 4, b"56");
        assert_eq!(queued_ops(&io), 1);
        middle.abort();
        io.step().expect("step");
        assert_eq!(first.result(), Some(Ok(2)));
        assert_eq!(last.result(), Some(Ok(2)));
        assert!(middle.failed(), "the aborted write keeps its abort");
        assert_eq!(contents(&io, &file), b"12\0\x0056");
        // A run whose first write was aborted still writes the rest.
        let first = write(&file, 10, b"ab");
        let second = write(&file, 12, b"cd");
        first.abort();
        io.step().expect("step");
        assert_eq!(second.result(), Some(Ok(2)));
        assert_eq!(&contents(&io, &file)[10..], b"\0\0cd");
    }

    #[test]
    fn a_finished_run_buffer_is_reused_and_carries_no_old_bytes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let io = FileIO::new();
        let file = open(&io, &dir, "a");
        write(&file, 0, &[1; 100]);
        write(&file, 100, &[2; 100]);
        io.step().expect("step");
        let kept = lock(&io.spare).capacity();
        assert!(kept >= 200, "the run's buffer is kept ({kept} bytes)");
        write(&file, 300, b"xyz");
        assert_eq!(lock(&io.spare).capacity(), 0, "the next run took it");
        io.step().expect("step");
        let bytes = contents(&io, &file);
        assert_eq!(&bytes[300..], b"xyz", "only the new bytes were written");
        assert_eq!(&bytes[200..300], &[0; 100][..]);
    }

    #[test]
    fn a_run_stops_growing_at_its_byte_limit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let io = FileIO::new();
        let file = open(&io, &dir, "a");
        let half = vec![7u8; JOINED_WRITE_MAX_BYTES / 2];
        write(&file, 0, &half);
        write(&file, half.len() as u64, &half);
        write(&file, 2 * half.len() as u64, b"x");
        assert_eq!(queued_ops(&io), 2, "the third write starts a new run");
        io.step().expect("step");
        assert_eq!(file.size().expect("size"), 2 * half.len() as u64 + 1);
    }
}
