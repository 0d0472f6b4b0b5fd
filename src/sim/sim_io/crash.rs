//! Crashes: what happens to data that no sync made durable.
//!
//! Every write (and truncate) not yet durable is offered to a fate chosen by the simulator:
//! first the completed-but-unsynced ones in the order they completed, then the still-pending
//! ones in the order they were submitted. Survivors are applied on top of each file's
//! durable image in that same order. A write is cut into sector pieces at 512-byte
//! boundaries of the file (an unaligned write's first and last pieces are partial sectors);
//! a torn write keeps either a prefix of its pieces (`TornPrefix`) or any subset
//! (`TornSectors`). A truncate is all or nothing: only `Survive` applies it. After the crash
//! the resulting image is both durable and volatile (it is what the disk holds when the
//! machine comes back), and every pending operation is dropped without finishing its
//! completion: the process that waited on it is gone.
//!
//! Writes a failed sync marked clean (every `FsyncFailure` mode but `Retry`) are not
//! offered: they never reach the disk. After an XFS shutdown neither are pending writes,
//! and the restart ends the shutdown.

use super::faults::kind;
use super::state::{OpData, SimState, file_len, write_at};

/// Bytes per sector: the unit a torn write keeps or loses (the engine's own, whose header
/// page layout relies on it).
pub const SECTOR_SIZE: u64 = braid_core::storage::format::SECTOR_BYTES as u64;

/// What kind of unsynced change is offered to a fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsyncedKind {
    /// A `pwrite`: its bytes may survive whole, torn, or not at all.
    Write,
    /// A `truncate`: all or nothing.
    Truncate,
}

/// A write or truncate that is not durable when the crash happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsyncedWrite {
    /// The operation's id (as in `PendingOp::id`).
    pub op_id: u64,
    /// Path of the file it changes.
    pub file: String,
    /// Write or truncate.
    pub kind: UnsyncedKind,
    /// Byte offset of a write; the new length of a truncate.
    pub offset: u64,
    /// Bytes written (0 for a truncate).
    pub len: u64,
    /// Whether the operation had completed (true) or was still pending (false).
    pub completed: bool,
}

impl UnsyncedWrite {
    /// Number of sector pieces the write spans (what `TornPrefix` and `TornSectors` index).
    pub fn sector_count(&self) -> usize {
        sector_pieces(self.offset, self.len).len()
    }
}

/// What a crash does to one unsynced write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteFate {
    /// The whole write reached the disk (the no-fault outcome).
    Survive,
    /// None of it reached the disk.
    Vanish,
    /// Only the first `n` sector pieces reached the disk (`n` is capped at the count).
    TornPrefix(usize),
    /// Piece `i` reached the disk when `keep[i]` is true (missing entries are false).
    TornSectors(Vec<bool>),
}

/// What one crash did, for the history and the run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Unsynced writes that survived whole.
    pub survived: usize,
    /// Unsynced writes that survived in part.
    pub torn: usize,
    /// Unsynced writes (and truncates) that did not survive.
    pub vanished: usize,
    /// Pending operations of any kind dropped.
    pub dropped_pending: usize,
}

/// An unsynced change with the bytes it would apply.
pub(crate) struct Candidate {
    pub(crate) file_id: u64,
    pub(crate) described: UnsyncedWrite,
    pub(crate) data: OpData,
}

/// The `[start, end)` byte ranges (relative to the write) of each sector piece.
fn sector_pieces(offset: u64, len: u64) -> Vec<(usize, usize)> {
    let mut pieces = Vec::new();
    let mut at = offset;
    let end = offset + len;
    while at < end {
        let next = ((at / SECTOR_SIZE) + 1) * SECTOR_SIZE;
        let piece_end = next.min(end);
        pieces.push((file_len(at - offset), file_len(piece_end - offset)));
        at = piece_end;
    }
    pieces
}

impl SimState {
    /// Every unsynced change, in the order fates are asked and survivors applied.
    pub(crate) fn crash_candidates(&self) -> Vec<Candidate> {
        let mut completed: Vec<(u64, Candidate)> = Vec::new();
        for (&file_id, file) in &self.files {
            for unsynced in &file.unsynced {
                let candidate =
                    candidate(file_id, &file.path, unsynced.op_id, &unsynced.data, true);
                completed.extend(candidate.map(|c| (unsynced.completed_seq, c)));
            }
        }
        completed.sort_by_key(|(seq, _)| *seq);
        let mut candidates: Vec<Candidate> = completed.into_iter().map(|(_, c)| c).collect();
        if self.shut_down {
            return candidates;
        }
        for (&op_id, pending) in &self.pending {
            if let Some(file) = self.files.get(&pending.file) {
                let c = candidate(pending.file, &file.path, op_id, &pending.data, false);
                candidates.extend(c);
            }
        }
        candidates
    }

    /// Rebuilds every file from its durable image plus the surviving pieces, drops all
    /// pending operations, and counts the faults.
    pub(crate) fn apply_crash(&mut self, fates: Vec<(Candidate, WriteFate)>) -> CrashReport {
        let mut report = CrashReport {
            dropped_pending: self.pending.len(),
            ..Default::default()
        };
        self.pending.clear();
        self.shut_down = false;
        for file in self.files.values_mut() {
            file.volatile.clone_from(&file.durable);
            file.unsynced.clear();
            file.diverged = false;
        }
        self.faults.record(kind::CRASH, &[]);
        for (candidate, fate) in fates {
            let Some(file) = self.files.get_mut(&candidate.file_id) else {
                continue;
            };
            match (&candidate.data, &fate) {
                (_, WriteFate::Survive) => report.survived += 1,
                (OpData::Write { .. }, WriteFate::TornPrefix(_) | WriteFate::TornSectors(_)) => {
                    report.torn += 1;
                    self.faults.record(kind::TORN_WRITE, &[]);
                }
                _ => {
                    report.vanished += 1;
                    self.faults.record(kind::LOST_WRITE, &[]);
                }
            }
            match (&candidate.data, &fate) {
                (OpData::Truncate { len }, WriteFate::Survive) => {
                    file.volatile.resize(file_len(*len), 0);
                }
                (OpData::Write { offset, bytes }, fate) => {
                    let pieces = sector_pieces(*offset, bytes.len() as u64);
                    for (index, &(start, end)) in pieces.iter().enumerate() {
                        if keeps(fate, index) {
                            write_at(
                                &mut file.volatile,
                                offset + start as u64,
                                &bytes[start..end],
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        for file in self.files.values_mut() {
            file.durable.clone_from(&file.volatile);
        }
        report
    }
}

fn keeps(fate: &WriteFate, piece: usize) -> bool {
    match fate {
        WriteFate::Survive => true,
        WriteFate::Vanish => false,
        WriteFate::TornPrefix(n) => piece < *n,
        WriteFate::TornSectors(keep) => keep.get(piece).copied().unwrap_or(false),
    }
}

fn candidate(
    file_id: u64,
    path: &str,
    op_id: u64,
    data: &OpData,
    completed: bool,
) -> Option<Candidate> {
    let (unsynced_kind, offset, len) = match data {
        OpData::Write { offset, bytes } => (UnsyncedKind::Write, *offset, bytes.len() as u64),
        OpData::Truncate { len } => (UnsyncedKind::Truncate, *len, 0),
        OpData::Read { .. } | OpData::Sync => return None,
    };
    let described = UnsyncedWrite {
        op_id,
        file: path.to_string(),
        kind: unsynced_kind,
        offset,
        len,
        completed,
    };
    Some(Candidate {
        file_id,
        described,
        data: data.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_at_file_sector_boundaries() {
        assert_eq!(sector_pieces(0, 1024), vec![(0, 512), (512, 1024)]);
        assert_eq!(
            sector_pieces(500, 600),
            vec![(0, 12), (12, 524), (524, 600)]
        );
        assert_eq!(sector_pieces(512, 1), vec![(0, 1)]);
        assert!(sector_pieces(7, 0).is_empty());
    }

    #[test]
    fn fates_keep_the_pieces_they_name() {
        assert!(keeps(&WriteFate::Survive, 9));
        assert!(!keeps(&WriteFate::Vanish, 0));
        assert!(keeps(&WriteFate::TornPrefix(2), 1));
        assert!(!keeps(&WriteFate::TornPrefix(2), 2));
        let subset = WriteFate::TornSectors(vec![false, true]);
        assert!(!keeps(&subset, 0));
        assert!(keeps(&subset, 1));
        assert!(!keeps(&subset, 2));
    }
}
