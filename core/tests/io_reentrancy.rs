//! The re-entrancy pitfall of the I/O model (core/src/io/mod.rs), shown on a tiny state machine driven by an
//! I/O that yields on every call: mutating shared state before a possible yield repeats the
//! mutation on every re-entry; the state-machine form performs it exactly once.

use std::sync::Arc;

use braid_core::{
    Completion, File, IO, IOCompletions, IOResult, MemoryIO, Result, block_on, io_yield_one,
    return_if_io,
};

/// Reads an 8-byte record and counts how many records were processed.
struct RecordReader {
    file: Arc<dyn File>,
    pending: Option<Completion>,
}

impl RecordReader {
    /// Submits the read on first call; returns the bytes once it has finished.
    fn read_record(&mut self) -> Result<IOResult<Vec<u8>>> {
        if let Some(c) = self.pending.take() {
            assert!(c.finished(), "re-entered before the awaited read finished");
            let bytes = c
                .take_read_buffer()
                .expect("a finished read carries its bytes");
            return Ok(IOResult::Done(bytes));
        }
        let c = self.file.pread(0, 8, Completion::new_read(8, |_| {}))?;
        self.pending = Some(c.clone());
        io_yield_one!(c);
    }
}

/// Wrong: bumps the counter, then may yield; every re-entry bumps it again.
fn process_buggy(reader: &mut RecordReader, processed: &mut u32) -> Result<IOResult<Vec<u8>>> {
    *processed += 1;
    let bytes = return_if_io!(reader.read_record());
    Ok(IOResult::Done(bytes))
}

enum ProcessState {
    /// Waiting for the record read to finish.
    WaitRecord,
    /// Finished; holds nothing because the result was handed out.
    Done,
}

/// Right: the counter moves on the transition after the awaited read was observed.
fn process_correct(
    state: &mut ProcessState,
    reader: &mut RecordReader,
    processed: &mut u32,
) -> Result<IOResult<Vec<u8>>> {
    match state {
        ProcessState::WaitRecord => {
            let bytes = return_if_io!(reader.read_record());
            *processed += 1;
            *state = ProcessState::Done;
            Ok(IOResult::Done(bytes))
        }
        ProcessState::Done => panic!("process_correct called after it finished"),
    }
}

fn setup() -> (MemoryIO, RecordReader) {
    let io = MemoryIO::new();
    let file = io.open_file("records").expect("memory open cannot fail");
    let c = file
        .pwrite(0, b"record01", Completion::new_noop())
        .expect("submit");
    io.step().expect("memory step cannot fail");
    assert!(c.succeeded());
    (
        io,
        RecordReader {
            file,
            pending: None,
        },
    )
}

#[test]
fn mutation_before_yield_counts_twice() {
    let (io, mut reader) = setup();
    let mut processed = 0;
    let bytes = block_on(&io, || process_buggy(&mut reader, &mut processed)).expect("read");
    assert_eq!(bytes, b"record01");
    assert_eq!(
        processed, 2,
        "the buggy form re-runs its increment after the yield"
    );
}

#[test]
fn mutation_after_yield_counts_once() {
    let (io, mut reader) = setup();
    let mut processed = 0;
    let mut state = ProcessState::WaitRecord;
    let bytes = block_on(&io, || {
        process_correct(&mut state, &mut reader, &mut processed)
    })
    .expect("read");
    assert_eq!(bytes, b"record01");
    assert_eq!(processed, 1);
}

#[test]
fn block_on_reports_a_completion_that_can_never_finish() {
    let io = MemoryIO::new();
    let never = Completion::new_noop();
    let err = block_on(&io, || -> Result<IOResult<()>> {
        Ok(IOResult::IO(IOCompletions::Single(never.clone())))
    })
    .expect_err("nothing pending can finish the completion");
    assert!(err.to_string().contains("no I/O is pending"), "{err}");
}
