//! `FaultCounts`: how many faults of each kind `SimIO` injected, in total and per completion
//! group label, for the run summary. Ordered maps keep reports deterministic; string keys
//! let campaign reports from many runs be merged. `FsyncFailure`: what a failed sync does
//! to the writes it covered (the modes are described in the fault model, mod.rs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Stable names of the fault kinds counted (the keys of `FaultCounts::by_kind`).
pub mod kind {
    pub const READ_ERROR: &str = "read-error";
    pub const WRITE_ERROR: &str = "write-error";
    pub const SYNC_ERROR: &str = "sync-error";
    pub const TRUNCATE_ERROR: &str = "truncate-error";
    pub const SHORT_READ: &str = "short-read";
    pub const SHORT_WRITE: &str = "short-write";
    /// An operation held back for a number of decisions.
    pub const LATENCY: &str = "latency";
    /// One member of a labelled group failed on purpose.
    pub const GROUP_FAIL: &str = "group-fail";
    /// A whole labelled group aborted in flight.
    pub const GROUP_CANCEL: &str = "group-cancel";
    pub const CRASH: &str = "crash";
    /// An unsynced write that survived a crash only in part.
    pub const TORN_WRITE: &str = "torn-write";
    /// An unsynced write (or truncate) that did not survive a crash.
    pub const LOST_WRITE: &str = "lost-write";
    pub const BIT_FLIP: &str = "bit-flip";
    /// A write or truncate a failed sync covered and marked clean without making it
    /// durable (every `FsyncFailure` mode but `Retry`).
    pub const SYNC_LOST_WRITE: &str = "sync-lost-write";
    /// An operation refused with an error because the file system shut down after a
    /// failed sync (`FsyncFailure::Xfs`).
    pub const FS_SHUTDOWN: &str = "fs-shutdown";
}

/// What a failed sync does to the writes it covered (every completed write and truncate of
/// the file not yet durable), after Rebello et al., "Can Applications Recover from fsync
/// Failures?" (USENIX ATC 2020). See the fault model in mod.rs for each mode.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum FsyncFailure {
    /// ext4 (data=ordered): the covered pages are marked clean but keep their new contents,
    /// so reads see data that is not durable; a later sync succeeds without writing them.
    Ext4,
    /// XFS: as ext4 for the pages, and the file system shuts down: every later operation
    /// fails until the machine restarts, and nothing more reaches the disk.
    Xfs,
    /// Btrfs: the covered pages go back to what is on disk (reads see the old contents).
    Btrfs,
    /// Lenient (braid's model before fsync failures were modelled, and what the `IO` trait
    /// alone promises): the covered writes stay pending and the next successful sync makes
    /// them durable.
    #[default]
    Retry,
}

impl FsyncFailure {
    /// Every mode, in declaration order.
    pub const ALL: [FsyncFailure; 4] = [
        FsyncFailure::Ext4,
        FsyncFailure::Xfs,
        FsyncFailure::Btrfs,
        FsyncFailure::Retry,
    ];

    /// The name as written in configs.
    pub fn name(self) -> &'static str {
        match self {
            FsyncFailure::Ext4 => "ext4",
            FsyncFailure::Xfs => "xfs",
            FsyncFailure::Btrfs => "btrfs",
            FsyncFailure::Retry => "retry",
        }
    }

    /// Whether a failed sync loses the writes it covered (every mode but `Retry`).
    pub fn loses_writes(self) -> bool {
        self != FsyncFailure::Retry
    }
}

/// Fault counters of one run (or, merged, of a campaign).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    /// Faults by kind (see `kind`).
    pub by_kind: BTreeMap<String, u64>,
    /// Faults on operations inside labelled groups: group label, then kind. An operation
    /// inside nested labelled groups counts once under each label.
    pub by_group: BTreeMap<String, BTreeMap<String, u64>>,
}

impl FaultCounts {
    /// Counts one fault of `kind` on an operation inside groups labelled `labels`.
    pub fn record(&mut self, kind: &str, labels: &[&'static str]) {
        *self.by_kind.entry(kind.to_string()).or_default() += 1;
        for label in labels {
            let per_label = self.by_group.entry((*label).to_string()).or_default();
            *per_label.entry(kind.to_string()).or_default() += 1;
        }
    }

    /// Faults of `kind` so far.
    pub fn count(&self, kind: &str) -> u64 {
        self.by_kind.get(kind).copied().unwrap_or(0)
    }

    /// Faults of `kind` on operations inside a group labelled `label`.
    pub fn count_in_group(&self, label: &str, kind: &str) -> u64 {
        self.by_group
            .get(label)
            .and_then(|kinds| kinds.get(kind))
            .copied()
            .unwrap_or(0)
    }

    /// Every fault counted, of any kind.
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }

    /// Adds another run's counts to these.
    pub fn merge(&mut self, other: &FaultCounts) {
        for (kind, n) in &other.by_kind {
            *self.by_kind.entry(kind.clone()).or_default() += n;
        }
        for (label, kinds) in &other.by_group {
            let mine = self.by_group.entry(label.clone()).or_default();
            for (kind, n) in kinds {
                *mine.entry(kind.clone()).or_default() += n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_kind_and_label_and_merges() {
        let mut a = FaultCounts::default();
        a.record(kind::WRITE_ERROR, &["commit-frames"]);
        a.record(kind::WRITE_ERROR, &[]);
        a.record(kind::LATENCY, &["commit-frames", "checkpoint-copy"]);
        assert_eq!(a.count(kind::WRITE_ERROR), 2);
        assert_eq!(a.count_in_group("commit-frames", kind::WRITE_ERROR), 1);
        assert_eq!(a.count_in_group("checkpoint-copy", kind::LATENCY), 1);
        assert_eq!(a.count(kind::CRASH), 0);
        let mut b = a.clone();
        b.merge(&a);
        assert_eq!(b.count(kind::WRITE_ERROR), 4);
        assert_eq!(b.total(), 6);
        assert_eq!(b.count_in_group("commit-frames", kind::LATENCY), 2);
    }
}
