//! `FileIO`: real files through positioned reads and writes, `fsync` for sync.
//! Operations queue on submit and run, oldest first, inside `step()`, so callbacks never
//! run inside the submitting call (the same contract as every backend).

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use super::completion::lock;
use super::{Completion, CompletionError, File, IO};
use crate::{Error, Result};

enum FileOp {
    Read { pos: u64, len: usize },
    Write { pos: u64, bytes: Vec<u8> },
    Sync,
    Truncate { len: u64 },
}

struct QueuedOp {
    file: Arc<std::fs::File>,
    op: FileOp,
    c: Completion,
}

type Queue = Arc<Mutex<VecDeque<QueuedOp>>>;

/// Real-file I/O.
#[derive(Default)]
pub struct FileIO {
    queue: Queue,
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
            if c.finished() {
                continue; // aborted while queued
            }
            run(&file, op, &c);
        }
        Ok(())
    }

    fn pending(&self) -> usize {
        lock(&self.queue).len()
    }
}

/// Performs one operation and finishes its completion with the outcome.
fn run(file: &std::fs::File, op: FileOp, c: &Completion) {
    let outcome: std::io::Result<usize> = match op {
        FileOp::Read { pos, len } => read_fully(file, pos, len).map(|bytes| {
            let n = bytes.len();
            c.set_read_buffer(bytes);
            n
        }),
        FileOp::Write { pos, bytes } => file.write_all_at(&bytes, pos).map(|()| bytes.len()),
        FileOp::Sync => file.sync_all().map(|()| 0),
        FileOp::Truncate { len } => file.set_len(len).map(|()| 0),
    };
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
}

impl RealFile {
    fn submit(&self, op: FileOp, c: Completion) -> Result<Completion> {
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
        self.submit(
            FileOp::Write {
                pos,
                bytes: bytes.to_vec(),
            },
            c,
        )
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
