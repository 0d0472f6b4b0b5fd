//! Yield points: named places where a state machine may hand control back to the
//! scheduler without waiting for I/O. In production no injector is installed and no
//! yield happens; the simulator installs one that answers from its seeded choices.

/// A named place inside the engine where an injected yield may happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum YieldPoint {
    /// Trying to take the write lock or a read snapshot.
    LockAcquire,
    /// After a commit's frames are written, before `max_frame` is published.
    CommitBeforePublish,
    /// Inside a B-tree page split.
    BtreeSplit,
    /// Inside a B-tree merge or redistribution.
    BtreeMerge,
    /// Between pages of the checkpoint copy loop.
    CheckpointCopy,
    /// Between frames read during recovery.
    Recovery,
    /// Before a page is evicted from the cache.
    CacheEvict,
}

impl YieldPoint {
    pub const ALL: [YieldPoint; 7] = [
        YieldPoint::LockAcquire,
        YieldPoint::CommitBeforePublish,
        YieldPoint::BtreeSplit,
        YieldPoint::BtreeMerge,
        YieldPoint::CheckpointCopy,
        YieldPoint::Recovery,
        YieldPoint::CacheEvict,
    ];

    /// Stable kebab-case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            YieldPoint::LockAcquire => "lock-acquire",
            YieldPoint::CommitBeforePublish => "commit-before-publish",
            YieldPoint::BtreeSplit => "btree-split",
            YieldPoint::BtreeMerge => "btree-merge",
            YieldPoint::CheckpointCopy => "checkpoint-copy",
            YieldPoint::Recovery => "recovery",
            YieldPoint::CacheEvict => "cache-evict",
        }
    }
}

/// Decides, at each yield point reached, whether the state machine yields there.
pub trait YieldInjector: Send + Sync {
    fn should_yield(&self, point: YieldPoint) -> bool;
}
