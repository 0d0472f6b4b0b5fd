//! Canaries: known-bad behaviours the engine can be switched into, per database, to prove
//! that the simulator catches each one. They act only in builds with the `canaries`
//! feature; without it `Canary::is_active` is always false and the bad paths compile away.

/// One known-bad behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Canary {
    /// A shared counter (the commit sequence) is advanced before a yield and again on re-entry.
    CounterBeforeYield,
    /// A commit is published to readers before its WAL fsync completes.
    PublishBeforeFsync,
    /// A deferred transaction takes the write lock without the stale-snapshot check.
    SkipBusySnapshot,
    /// Checkpoint copies frames past the oldest reader's snapshot and resets the WAL.
    CheckpointPastReader,
    /// A completion group finishes when its first member finishes.
    GroupFirstMember,
    /// Recovery accepts WAL frames without verifying their checksum chain.
    RecoverySkipChecksum,
    /// The page cache may evict a dirty page, losing the uncommitted change.
    EvictDirtyPage,
    /// The write lock is not released when a commit fails.
    LeakWriteLock,
    /// A commit whose WAL fsync failed is acknowledged anyway (no poisoning): the error of
    /// the "wal-sync" group is lost, and the commit may vanish at the next crash.
    AckFailedSync,
}

impl Canary {
    pub const ALL: [Canary; 9] = [
        Canary::CounterBeforeYield,
        Canary::PublishBeforeFsync,
        Canary::SkipBusySnapshot,
        Canary::CheckpointPastReader,
        Canary::GroupFirstMember,
        Canary::RecoverySkipChecksum,
        Canary::EvictDirtyPage,
        Canary::LeakWriteLock,
        Canary::AckFailedSync,
    ];

    /// The name used on the command line (`--canary NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Canary::CounterBeforeYield => "counter-before-yield",
            Canary::PublishBeforeFsync => "publish-before-fsync",
            Canary::SkipBusySnapshot => "skip-busy-snapshot",
            Canary::CheckpointPastReader => "checkpoint-past-reader",
            Canary::GroupFirstMember => "group-first-member",
            Canary::RecoverySkipChecksum => "recovery-skip-checksum",
            Canary::EvictDirtyPage => "evict-dirty-page",
            Canary::LeakWriteLock => "leak-write-lock",
            Canary::AckFailedSync => "ack-failed-sync",
        }
    }

    pub fn from_name(name: &str) -> Option<Canary> {
        Canary::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether `selected` switches on `self` in this build.
    pub fn is_active(self, selected: Option<Canary>) -> bool {
        cfg!(feature = "canaries") && selected == Some(self)
    }
}
