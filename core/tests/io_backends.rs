//! `MemoryIO` and `FileIO` behave alike: operations finish only inside `step()`, reads
//! return what was written, and a read past the end of the file is reported as short.

use std::sync::Arc;

use braid_core::{Completion, CompletionError, File, FileIO, IO, MemoryIO};

fn write(io: &dyn IO, file: &Arc<dyn File>, pos: u64, bytes: &[u8]) {
    let c = file
        .pwrite(pos, bytes, Completion::new_noop())
        .expect("submit write");
    assert!(
        !c.finished(),
        "a backend must not finish an operation inside submit"
    );
    io.step().expect("step");
    assert_eq!(c.result(), Some(Ok(bytes.len() as i32)));
}

fn read(io: &dyn IO, file: &Arc<dyn File>, pos: u64, len: usize) -> (i32, Vec<u8>) {
    let c = file
        .pread(pos, len, Completion::new_read(len, |_| {}))
        .expect("submit read");
    assert!(!c.finished());
    io.step().expect("step");
    let n = c
        .result()
        .expect("finished after step")
        .expect("read succeeded");
    (n, c.take_read_buffer().expect("read buffer"))
}

fn round_trip(io: &dyn IO, path: &str) {
    let file = io.open_file(path).expect("open");
    write(io, &file, 0, b"hello, ");
    write(io, &file, 7, b"braid");
    assert_eq!(file.size().expect("size"), 12);
    assert_eq!(read(io, &file, 0, 12), (12, b"hello, braid".to_vec()));
    // Past the end: fewer bytes than asked for, reported as such (a short read).
    let (n, bytes) = read(io, &file, 7, 100);
    assert_eq!((n, bytes.as_slice()), (5, &b"braid"[..]));
    let sync = file.sync(Completion::new_noop()).expect("sync");
    io.step().expect("step");
    assert!(sync.succeeded());
    let truncate = file.truncate(5, Completion::new_noop()).expect("truncate");
    io.step().expect("step");
    assert!(truncate.succeeded());
    assert_eq!(file.size().expect("size"), 5);
    assert_eq!(read(io, &file, 0, 12), (5, b"hello".to_vec()));
    assert!(io.file_exists(path).expect("exists"));
    io.remove_file(path).expect("remove");
    assert!(!io.file_exists(path).expect("exists"));
}

#[test]
fn memory_io_round_trip() {
    round_trip(&MemoryIO::new(), "db");
}

#[test]
fn file_io_round_trip_in_a_temporary_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    round_trip(&FileIO::new(), path.to_str().expect("utf-8 path"));
}

#[test]
fn file_io_data_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let path = path.to_str().expect("utf-8 path");
    let io = FileIO::new();
    let file = io.open_file(path).expect("open");
    write(&io, &file, 4096, &[7u8; 512]);
    drop(file);
    let io = FileIO::new();
    let file = io.open_file(path).expect("reopen");
    assert_eq!(file.size().expect("size"), 4096 + 512);
    let (n, bytes) = read(&io, &file, 4096, 512);
    assert_eq!(n, 512);
    assert!(bytes.iter().all(|&b| b == 7));
}

#[test]
fn operation_aborted_while_pending_never_touches_the_file() {
    let io = MemoryIO::new();
    let file = io.open_file("db").expect("open");
    let c = file
        .pwrite(0, b"lost", Completion::new_noop())
        .expect("submit");
    c.abort();
    io.step().expect("step");
    assert_eq!(c.get_error(), Some(CompletionError::Aborted));
    assert_eq!(file.size().expect("size"), 0);
}

#[test]
fn memory_io_completes_in_submission_order() {
    let io = MemoryIO::new();
    let file = io.open_file("db").expect("open");
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    for i in 0..4u8 {
        let order = order.clone();
        let c = Completion::new(move |_| order.lock().expect("test mutex").push(i));
        file.pwrite(u64::from(i), &[i], c).expect("submit");
    }
    assert_eq!(io.pending(), 4);
    io.step().expect("step");
    assert_eq!(io.pending(), 0);
    assert_eq!(*order.lock().expect("test mutex"), vec![0, 1, 2, 3]);
}
