//! Writing one commit's frames: encode every page as a frame continuing the chain, the
//! last one carrying the commit sequence, and submit all writes (plus the WAL header when
//! the generation is new) as ONE completion group labelled "commit-frames", so the
//! simulator can fail or cancel a commit's writes as a unit.

use std::sync::Arc;

use super::WalIndex;
use super::format::{
    FrameFields, WAL_HEADER_SIZE, WalHeader, append_frame, frame_offset, frame_size,
};
use crate::Result;
use crate::io::{Completion, CompletionGroup, File};
use crate::storage::page_access::{PageNo, PageRef};

/// Label of the group holding a commit's frame writes.
pub const COMMIT_FRAMES_LABEL: &str = "commit-frames";
/// Label of the group holding a commit's WAL fsync.
pub const WAL_SYNC_LABEL: &str = "wal-sync";

/// A commit's frames, encoded and ready to write.
#[derive(Debug, Clone)]
pub(crate) struct FrameBatch {
    /// Frame number of the first page.
    pub(crate) first_frame: u32,
    /// Pages in frame order; the last one is the commit frame.
    pub(crate) pages: Vec<PageNo>,
    /// Every frame's bytes, back to back as they lie in the WAL from `first_frame` on
    /// (one buffer for the commit instead of one per frame; each is still written as its
    /// own operation).
    frames: Vec<u8>,
    /// Bytes of one page image.
    page_size: usize,
    /// Chain value after the commit frame.
    pub(crate) chain: u32,
    /// The header to write at offset 0 first, for a new generation.
    header: Option<WalHeader>,
}

impl FrameBatch {
    /// Encodes `images` (sealed pages, page order) as frames after `wal`'s last
    /// published frame, continuing its chain; the header is written too when the
    /// generation's header is not on disk yet. `attempt` numbers this commit attempt.
    /// `body_checksums` gives, for each image, the CRC of its bytes before the reserved
    /// tail when sealing computed it (the chain continues from it), else `None`.
    pub(crate) fn encode(
        images: &[(PageNo, PageRef)],
        body_checksums: &[Option<u32>],
        seq: u64,
        wal: &WalIndex,
        attempt: u32,
        page_size: usize,
    ) -> Self {
        let (max_frame, salts) = (wal.max_frame, wal.header.salts);
        let header = (!wal.header_on_disk).then_some(wal.header);
        assert!(!images.is_empty(), "a commit writes at least one frame");
        assert!(seq > 0, "commit sequences start at 1");
        let mut chain = wal.chain;
        let frame_size = frame_size(page_size);
        let mut frames = Vec::with_capacity(images.len() * frame_size);
        assert_eq!(
            body_checksums.len(),
            images.len(),
            "one body checksum per image"
        );
        for (i, ((page, image), body)) in images.iter().zip(body_checksums).enumerate() {
            assert_eq!(
                image.len(),
                page_size,
                "page {page} image has the page size"
            );
            let fields = FrameFields {
                page: *page,
                commit_seq: if i + 1 == images.len() { seq } else { 0 },
                salts,
                attempt,
            };
            chain = append_frame(&mut frames, chain, fields, image, *body);
        }
        assert_eq!(
            frames.len(),
            images.len() * frame_size,
            "frames of one size"
        );
        FrameBatch {
            first_frame: max_frame + 1,
            pages: images.iter().map(|(page, _)| *page).collect(),
            frames,
            page_size,
            chain,
            header,
        }
    }

    /// Number of frames.
    pub(crate) fn len(&self) -> usize {
        self.frames.len() / frame_size(self.page_size)
    }

    /// Submits every write in one group labelled "commit-frames". Returns the group's
    /// completion and each member with the byte count it must report.
    pub(crate) fn submit(
        &self,
        wal: &Arc<dyn File>,
        first_member_canary: bool,
    ) -> Result<(Completion, Vec<(Completion, usize)>)> {
        let mut group = CompletionGroup::new(|_| {}).with_label(COMMIT_FRAMES_LABEL);
        #[cfg(feature = "canaries")]
        if first_member_canary {
            group = group.complete_on_first_member();
        }
        #[cfg(not(feature = "canaries"))]
        let _ = first_member_canary;
        let mut members = Vec::with_capacity(self.len() + 1);
        // Link every member before submitting any, so none can finish before the group
        // knows about all of them.
        let mut writes: Vec<(u64, &[u8])> = Vec::with_capacity(self.len() + 1);
        let header_bytes = self.header.map(|h| h.encode());
        if let Some(bytes) = &header_bytes {
            writes.push((0, &bytes[..WAL_HEADER_SIZE]));
        }
        let frames = self.frames.chunks_exact(frame_size(self.page_size));
        writes.extend(
            (self.first_frame..)
                .zip(frames)
                .map(|(frame, bytes)| (frame_offset(frame, self.page_size), bytes)),
        );
        for (_, bytes) in &writes {
            let c = Completion::new_noop();
            group.add(&c);
            members.push((c, bytes.len()));
        }
        let built = group.build();
        for ((offset, bytes), (c, _)) in writes.iter().zip(&members) {
            if let Err(e) = wal.pwrite(*offset, bytes, c.clone()) {
                built.abort();
                return Err(e);
            }
        }
        Ok((built, members))
    }
}

/// Submits an fsync of the WAL as the one member of a group labelled "wal-sync" (so the
/// simulator can fail it as a unit) and returns the group's completion. If the fsync cannot
/// even be submitted, the group is aborted before the error is returned, so nothing is left
/// waiting on a member that will never finish.
pub(crate) fn submit_wal_sync(wal: &Arc<dyn File>, sync: Completion) -> Result<Completion> {
    let mut group = CompletionGroup::new(|_| {}).with_label(WAL_SYNC_LABEL);
    group.add(&sync);
    let built = group.build();
    if let Err(e) = wal.sync(sync) {
        built.abort();
        return Err(e);
    }
    Ok(built)
}

/// The join of a group: every finished member must have moved exactly the bytes asked
/// for. Unfinished members are a bug unless `allow_unfinished` (the group-first-member
/// canary).
pub(crate) fn check_members(members: &[(Completion, usize)], allow_unfinished: bool) -> Result<()> {
    for (c, expected) in members {
        if !c.finished() {
            assert!(
                allow_unfinished,
                "a finished group has only finished members"
            );
            continue;
        }
        c.moved_exactly(*expected)?;
    }
    Ok(())
}
