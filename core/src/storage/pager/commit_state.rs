//! Where a commit is: the states commit.rs runs, and what one commit writes. Apart from
//! commit.rs so that a write transaction can carry its commit's state without the
//! transaction and the code that commits it depending on each other.

use crate::Error;
use crate::io::{Completion, MachineState};
use crate::storage::format::DbHeader;
use crate::storage::page_access::{PageNo, PageRef};
use crate::storage::wal::append::FrameBatch;

/// Where a commit is.
#[derive(Debug, Default)]
pub(crate) enum CommitState {
    /// Nothing submitted yet.
    Start,
    /// Waiting for the "commit-frames" group.
    WaitFrameWrites {
        group: Completion,
        members: Vec<(Completion, usize)>,
        plan: CommitPlan,
    },
    /// Waiting for the WAL fsync ("wal-sync" group).
    WaitSync { sync: Completion, plan: CommitPlan },
    /// Frames are written (and durable under full sync); publish after the
    /// `CommitBeforePublish` yield point.
    WaitPublish { plan: CommitPlan, yield_taken: bool },
    /// A failed commit waits for the WAL to be cut back to its published end.
    WaitDiscardTruncate { truncate: Completion, error: Error },
    /// ... and for the fsync making that cut durable; then it returns `error`.
    WaitDiscardSync { sync: Completion, error: Error },
    /// Committed, failed or rolled back.
    #[default]
    Finished,
}

/// What one commit writes.
#[derive(Debug)]
pub(crate) struct CommitPlan {
    pub(super) seq: u64,
    pub(super) batch: FrameBatch,
    /// Sealed images in frame order.
    pub(super) images: Vec<(PageNo, PageRef)>,
    pub(super) header: DbHeader,
    /// Set when published early (publish-before-fsync canary).
    pub(super) published: bool,
}

impl MachineState for CommitState {
    fn waiting_on(&self) -> Option<&Completion> {
        match self {
            CommitState::WaitFrameWrites { group, .. } => Some(group),
            CommitState::WaitSync { sync, .. } | CommitState::WaitDiscardSync { sync, .. } => {
                Some(sync)
            }
            CommitState::WaitDiscardTruncate { truncate, .. } => Some(truncate),
            CommitState::Start | CommitState::WaitPublish { .. } | CommitState::Finished => None,
        }
    }
}
