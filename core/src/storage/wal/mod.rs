//! The write-ahead log: its file format (`format`), how a commit's frames are written
//! (`append`), how the log is read back on open (`recovery`), and the in-memory WAL index
//! the pager consults on every read (`WalIndex`, here).
//!
//! The index maps each page to the frames holding versions of it, each tagged with the
//! commit sequence of the commit it belongs to. `max_frame` is the last published commit
//! frame: readers see only frames at or below their snapshot's `max_frame`.

pub(crate) mod append;
/// The WAL file format.
pub mod format;
pub(crate) mod recovery;

use std::collections::BTreeMap;

use crate::storage::page_access::PageNo;
use format::WalHeader;

/// The in-memory index of the published part of the WAL.
#[derive(Debug, Clone)]
pub(crate) struct WalIndex {
    /// Counts resets since open; a snapshot from an older generation reads no frames.
    pub(crate) generation: u32,
    /// The header of the current generation.
    pub(crate) header: WalHeader,
    /// False until the current header has been written by a commit (after open of an
    /// empty WAL, or after a reset).
    pub(crate) header_on_disk: bool,
    /// Page -> (frame, commit sequence), frames ascending.
    frames: BTreeMap<PageNo, Vec<(u32, u64)>>,
    /// Commit frames and their sequences, ascending.
    commits: Vec<(u32, u64)>,
    /// Last published commit frame (0 = no frames).
    pub(crate) max_frame: u32,
    /// Chain checksum after `max_frame`.
    pub(crate) chain: u32,
    /// Frames `1..=backfilled` are copied into the database file (`mark_backfilled`).
    backfilled: u32,
}

impl WalIndex {
    /// An index with no frames under `header`.
    pub(crate) fn new(header: WalHeader, header_on_disk: bool) -> Self {
        WalIndex {
            generation: 0,
            header,
            header_on_disk,
            frames: BTreeMap::new(),
            commits: Vec::new(),
            max_frame: 0,
            chain: header.checksum(),
            backfilled: 0,
        }
    }

    /// Frames `1..=backfilled()` are copied into the database file.
    pub(crate) fn backfilled(&self) -> u32 {
        self.backfilled
    }

    /// Records that frames `1..=upto` are in the database file (durably: only after the
    /// database fsync covering them). Backfill only grows, and only over published frames.
    pub(crate) fn mark_backfilled(&mut self, upto: u32) {
        assert!(
            upto <= self.max_frame,
            "backfill up to frame {upto} past the published end {}",
            self.max_frame
        );
        self.backfilled = self.backfilled.max(upto);
    }

    /// The latest frame of `page` at or below `max_frame`.
    pub(crate) fn latest_frame(&self, page: PageNo, max_frame: u32) -> Option<u32> {
        let frames = self.frames.get(&page)?;
        let below = frames.partition_point(|&(frame, _)| frame <= max_frame);
        below.checked_sub(1).map(|i| frames[i].0)
    }

    /// Records a published commit: `pages[i]` was written to frame `first_frame + i`.
    pub(crate) fn append_commit(
        &mut self,
        first_frame: u32,
        pages: &[PageNo],
        seq: u64,
        chain: u32,
    ) {
        assert_eq!(
            first_frame,
            self.max_frame + 1,
            "commits append right after max_frame"
        );
        assert!(!pages.is_empty(), "a commit writes at least one frame");
        assert!(
            self.commits.last().is_none_or(|&(_, last)| last < seq),
            "commit sequences grow"
        );
        for (i, &page) in pages.iter().enumerate() {
            let frame = first_frame + u32::try_from(i).expect("frame count fits u32");
            let versions = self.frames.entry(page).or_default();
            assert!(
                versions.last().is_none_or(|&(last, _)| last < frame),
                "a page's frames ascend"
            );
            versions.push((frame, seq));
        }
        let last = first_frame + u32::try_from(pages.len() - 1).expect("frame count fits u32");
        self.commits.push((last, seq));
        self.max_frame = last;
        self.chain = chain;
        self.header_on_disk = true;
    }

    /// Commit sequence of the last commit at or below `frame`, if any.
    pub(crate) fn seq_at(&self, frame: u32) -> Option<u64> {
        debug_assert!(
            self.commits
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1),
            "commit frames and sequences ascend together"
        );
        let below = self.commits.partition_point(|&(f, _)| f <= frame);
        below.checked_sub(1).map(|i| self.commits[i].1)
    }

    /// Pages whose latest frame at or below `upto` is not yet in the database file, with
    /// that frame, in page order.
    pub(crate) fn pages_to_backfill(&self, upto: u32) -> Vec<(PageNo, u32)> {
        assert!(
            upto <= self.max_frame,
            "a checkpoint copies only published frames"
        );
        self.frames
            .keys()
            .filter_map(|&page| {
                let frame = self.latest_frame(page, upto)?;
                (frame > self.backfilled).then_some((page, frame))
            })
            .collect()
    }

    /// Starts a new generation under `header`: no frames; the next commit writes the
    /// header. Only when every frame is backfilled and no reader needs one.
    pub(crate) fn reset(&mut self, header: WalHeader) {
        assert_eq!(
            self.backfilled, self.max_frame,
            "reset only a fully backfilled WAL"
        );
        *self = WalIndex {
            generation: self.generation + 1,
            ..WalIndex::new(header, false)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> WalIndex {
        WalIndex::new(WalHeader::next_generation(512, 0, [0, 0]), false)
    }

    #[test]
    fn latest_frame_respects_the_snapshot() {
        let mut wal = index();
        wal.append_commit(1, &[2, 3], 1, 11);
        wal.append_commit(3, &[2], 2, 12);
        assert_eq!(wal.latest_frame(2, 0), None);
        assert_eq!(wal.latest_frame(2, 2), Some(1));
        assert_eq!(wal.latest_frame(2, 3), Some(3));
        assert_eq!(wal.latest_frame(3, 3), Some(2));
        assert_eq!(wal.latest_frame(4, 3), None);
        assert_eq!(wal.seq_at(1), None);
        assert_eq!(wal.seq_at(2), Some(1));
        assert_eq!(wal.seq_at(3), Some(2));
        assert_eq!((wal.max_frame, wal.chain), (3, 12));
    }

    #[test]
    fn backfill_lists_latest_unbackfilled_frames() {
        let mut wal = index();
        wal.append_commit(1, &[2, 3], 1, 0);
        wal.append_commit(3, &[2, 4], 2, 0);
        assert_eq!(wal.pages_to_backfill(2), vec![(2, 1), (3, 2)]);
        assert_eq!(wal.pages_to_backfill(4), vec![(2, 3), (3, 2), (4, 4)]);
        wal.mark_backfilled(2);
        assert_eq!(wal.pages_to_backfill(4), vec![(2, 3), (4, 4)]);
    }

    #[test]
    #[should_panic(expected = "fully backfilled")]
    fn reset_refuses_unbackfilled_frames() {
        let mut wal = index();
        wal.append_commit(1, &[2], 1, 0);
        wal.reset(WalHeader::next_generation(512, 1, [0, 0]));
    }
}
