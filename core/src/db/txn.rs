//! The transaction a connection holds: nothing yet, a read snapshot, or the write lock.

use crate::storage::txn::{ReadTxn, WriteTxn};
use crate::storage::{DbHeader, PageAccess, Snapshot};

/// The transaction a connection holds, explicit or implicit (for the duration of one op).
pub(crate) struct Txn {
    /// Opened with `Begin` (ends with Commit/Rollback) rather than for one op.
    pub(crate) explicit: bool,
    hold: Hold,
}

/// What a transaction holds. A write transaction reads through its own snapshot, so a
/// transaction never holds a read and a write transaction at once.
#[expect(
    clippy::large_enum_variant,
    reason = "one per connection, moved only when it begins; a box allocated per write"
)]
enum Hold {
    /// Nothing yet (a deferred `Begin`).
    Nothing,
    /// A read snapshot.
    Read(ReadTxn),
    /// The write lock, with the snapshot the write started from.
    Write(WriteTxn),
}

impl Txn {
    /// A transaction that holds nothing yet.
    pub(crate) fn new(explicit: bool) -> Txn {
        Txn {
            explicit,
            hold: Hold::Nothing,
        }
    }

    /// The pages as this transaction sees them (its write view when it has one).
    pub(crate) fn pages(&mut self) -> Option<&mut dyn PageAccess> {
        match &mut self.hold {
            Hold::Nothing => None,
            Hold::Read(read) => Some(read),
            Hold::Write(write) => Some(write),
        }
    }

    pub(crate) fn snapshot_seq(&self) -> Option<u64> {
        self.snapshot().map(Snapshot::seq)
    }

    /// The snapshot it reads, once it has taken one.
    pub(crate) fn snapshot(&self) -> Option<&Snapshot> {
        match &self.hold {
            Hold::Nothing => None,
            Hold::Read(read) => Some(read.snapshot()),
            Hold::Write(write) => Some(write.snapshot()),
        }
    }

    /// The header as this transaction sees it, once it has a snapshot.
    pub(crate) fn header(&self) -> Option<DbHeader> {
        match &self.hold {
            Hold::Nothing => None,
            Hold::Read(read) => Some(*read.header()),
            Hold::Write(write) => Some(*write.header()),
        }
    }

    /// Whether it holds the write lock.
    pub(crate) fn is_write(&self) -> bool {
        matches!(self.hold, Hold::Write(_))
    }

    /// The write transaction, if it holds the write lock.
    pub(crate) fn write_mut(&mut self) -> Option<&mut WriteTxn> {
        match &mut self.hold {
            Hold::Write(write) => Some(write),
            Hold::Nothing | Hold::Read(_) => None,
        }
    }

    /// The read snapshot a deferred transaction upgrading to a write must still see.
    pub(crate) fn read_snapshot(&self) -> Option<&Snapshot> {
        match &self.hold {
            Hold::Read(read) => Some(read.snapshot()),
            Hold::Nothing | Hold::Write(_) => None,
        }
    }

    /// Takes `read` as its snapshot; only a transaction holding nothing takes one.
    pub(crate) fn hold_read(&mut self, read: ReadTxn) {
        assert!(
            matches!(self.hold, Hold::Nothing),
            "a transaction takes its snapshot once"
        );
        self.hold = Hold::Read(read);
    }

    /// Takes the write lock; its read snapshot, if any, is released (the write keeps it).
    pub(crate) fn hold_write(&mut self, write: WriteTxn) {
        assert!(!self.is_write(), "a transaction takes the write lock once");
        if let Some(snapshot) = self.read_snapshot() {
            assert_eq!(
                snapshot.seq(),
                write.snapshot_seq(),
                "an upgraded transaction keeps its snapshot"
            );
        }
        self.hold = Hold::Write(write);
    }
}
