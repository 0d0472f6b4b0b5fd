//! The WAL file's format (`<path>-wal`). All integers are little-endian.
//!
//! Header, `WAL_HEADER_SIZE` (32) bytes at offset 0:
//! ```text
//! [0..4]    magic 0x4c415742 ("BWAL")
//! [4..8]    page size in bytes
//! [8..16]   commit sequence of the checkpoint that started this WAL generation
//! [16..20]  salt 1
//! [20..24]  salt 2
//! [24..28]  crc32 of bytes [0..24]: the start of the checksum chain
//! [28..32]  zero
//! ```
//! Frame `i` (1-based) at `WAL_HEADER_SIZE + (i - 1) * (FRAME_HEADER_SIZE + page_size)`:
//! ```text
//! [0..4]    page number
//! [4..12]   commit sequence: non-zero only on the last frame of a commit
//! [12..16]  salt 1 (must equal the header's)
//! [16..20]  salt 2 (must equal the header's)
//! [20..24]  commit attempt: differs between any two commit attempts of one open, so a
//!           new attempt never reproduces the bytes of a failed one and cannot complete
//!           its leftover frames into a valid chain
//! [24..28]  chain checksum: crc32 over (previous chain value, bytes [0..24], page image)
//! [28..32]  zero
//! [32..]    page image (sealed with its own page checksum, see storage/format.rs)
//! ```
//! The chain value before frame 1 is the header's checksum, so frame `i`'s checksum covers
//! the header and every frame before it. Recovery keeps frames up to the last commit
//! frame whose chain and salts are valid; anything after is a torn or stale tail. A reset
//! (checkpoint Restart/Truncate) writes a header with new salts, which invalidates every
//! old frame at once.

use crate::storage::format::{get_u32, get_u64, put_u32};
use crate::storage::page_access::{PAGE_RESERVED_BYTES, PageNo};

/// Identifies a WAL file.
pub const WAL_MAGIC: u32 = 0x4c41_5742;
/// Bytes of the WAL header.
pub const WAL_HEADER_SIZE: usize = 32;
/// Bytes of a frame header.
pub const FRAME_HEADER_SIZE: usize = 32;
// The header's fields end with its checksum at [24..28]; a frame header's fields with the
// chain checksum at [CHAIN_FIELD..CHAIN_FIELD + 4]: both fit, with a zero word after.
const _: () = assert!(WAL_HEADER_SIZE >= 28 && FRAME_HEADER_SIZE >= CHAIN_FIELD + 4 + 4);
// Frames start 8-byte aligned after the header, whatever the page size.
const _: () = assert!(WAL_HEADER_SIZE.is_multiple_of(8) && FRAME_HEADER_SIZE.is_multiple_of(8));

/// The fields of the WAL header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalHeader {
    /// Bytes per page; must equal the database's.
    pub page_size: u32,
    /// Commit sequence of the checkpoint that started this WAL generation.
    pub checkpoint_seq: u64,
    /// Change at every reset; every frame of this generation repeats them.
    pub salts: [u32; 2],
}

impl WalHeader {
    /// A header for a new WAL generation. Salts follow from the previous salts and the
    /// checkpoint sequence, so they change at every reset without any randomness.
    pub fn next_generation(page_size: usize, checkpoint_seq: u64, previous: [u32; 2]) -> Self {
        let salt1 = previous[0].wrapping_add(1);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&salt1.to_le_bytes());
        hasher.update(&previous[1].to_le_bytes());
        hasher.update(&checkpoint_seq.to_le_bytes());
        WalHeader {
            page_size: u32::try_from(page_size).expect("page size is at most 65536"),
            checkpoint_seq,
            salts: [salt1, hasher.finalize()],
        }
    }

    /// The 32 header bytes.
    pub fn encode(&self) -> [u8; WAL_HEADER_SIZE] {
        let mut bytes = [0u8; WAL_HEADER_SIZE];
        put_u32(&mut bytes, 0, WAL_MAGIC);
        put_u32(&mut bytes, 4, self.page_size);
        bytes[8..16].copy_from_slice(&self.checkpoint_seq.to_le_bytes());
        put_u32(&mut bytes, 16, self.salts[0]);
        put_u32(&mut bytes, 20, self.salts[1]);
        let checksum = crc32fast::hash(&bytes[0..24]);
        put_u32(&mut bytes, 24, checksum);
        bytes
    }

    /// Parses a header; `None` if the bytes are not a valid header (torn, stale, absent).
    pub fn decode(bytes: &[u8]) -> Option<WalHeader> {
        if bytes.len() < WAL_HEADER_SIZE || get_u32(bytes, 0) != WAL_MAGIC {
            return None;
        }
        if crc32fast::hash(&bytes[0..24]) != get_u32(bytes, 24) {
            return None;
        }
        Some(WalHeader {
            page_size: get_u32(bytes, 4),
            checkpoint_seq: get_u64(bytes, 8),
            salts: [get_u32(bytes, 16), get_u32(bytes, 20)],
        })
    }

    /// The chain value before frame 1.
    pub fn checksum(&self) -> u32 {
        get_u32(&self.encode(), 24)
    }
}

/// Bytes one frame takes in the WAL.
pub fn frame_size(page_size: usize) -> usize {
    FRAME_HEADER_SIZE + page_size
}

/// Byte offset of frame `frame` (1-based).
pub fn frame_offset(frame: u32, page_size: usize) -> u64 {
    assert!(frame >= 1, "frames are numbered from 1");
    WAL_HEADER_SIZE as u64 + u64::from(frame - 1) * frame_size(page_size) as u64
}

/// Byte offset of frame `frame`'s page image.
pub fn frame_image_offset(frame: u32, page_size: usize) -> u64 {
    frame_offset(frame, page_size) + FRAME_HEADER_SIZE as u64
}

/// Offset of the chain checksum in a frame header; the bytes before it are chained.
const CHAIN_FIELD: usize = 24;

fn chain(previous: u32, header: &[u8], image: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&previous.to_le_bytes());
    hasher.update(&header[0..CHAIN_FIELD]);
    hasher.update(image);
    hasher.finalize()
}

/// `chain`, for a sealed image whose `body_checksum` (the CRC of everything before the
/// reserved tail) is known: the image's CRC continues from it over the tail, and is
/// joined to the CRC of the chained fields by CRC combination (appending zeros to the
/// first part costs one multiplication modulo the polynomial), so the page is not read
/// a second time. The same value as `chain`.
fn chain_sealed(previous: u32, header: &[u8], image: &[u8], body_checksum: u32) -> u32 {
    let body = image.len() - PAGE_RESERVED_BYTES;
    let amount = u64::try_from(body).expect("a page length fits u64");
    let mut image_crc = crc32fast::Hasher::new_with_initial_len(body_checksum, amount);
    image_crc.update(&image[body..]);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&previous.to_le_bytes());
    hasher.update(&header[0..CHAIN_FIELD]);
    hasher.combine(&image_crc);
    hasher.finalize()
}

/// Encodes one frame continuing the chain at `previous`; returns the bytes and the new
/// chain value. `attempt` identifies the commit attempt (see the format above).
pub fn encode_frame(
    previous: u32,
    page: PageNo,
    commit_seq: u64,
    salts: [u32; 2],
    attempt: u32,
    image: &[u8],
) -> (Vec<u8>, u32) {
    let mut bytes = Vec::with_capacity(FRAME_HEADER_SIZE + image.len());
    let fields = FrameFields {
        page,
        commit_seq,
        salts,
        attempt,
    };
    let checksum = append_frame(&mut bytes, previous, fields, image, None);
    (bytes, checksum)
}

/// A frame's header fields besides the chain value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameFields {
    pub page: PageNo,
    /// Non-zero on a commit frame.
    pub commit_seq: u64,
    pub salts: [u32; 2],
    pub attempt: u32,
}

/// `encode_frame`, appending the frame to `out` (a commit encodes all its frames into one
/// buffer); returns the new chain value. `body_checksum`, when given, is the CRC of the
/// image before its reserved tail (`format::seal_page` computed it), which the chain
/// continues instead of reading the page again.
pub fn append_frame(
    out: &mut Vec<u8>,
    previous: u32,
    fields: FrameFields,
    image: &[u8],
    body_checksum: Option<u32>,
) -> u32 {
    let FrameFields {
        page,
        commit_seq,
        salts,
        attempt,
    } = fields;
    // Built by appending, not by zeroing a buffer and copying over it: a commit encodes
    // one frame per page.
    let start = out.len();
    out.extend_from_slice(&page.to_le_bytes());
    out.extend_from_slice(&commit_seq.to_le_bytes());
    out.extend_from_slice(&salts[0].to_le_bytes());
    out.extend_from_slice(&salts[1].to_le_bytes());
    out.extend_from_slice(&attempt.to_le_bytes());
    assert_eq!(
        out.len() - start,
        CHAIN_FIELD,
        "the chained header fields come first"
    );
    let checksum = match body_checksum {
        Some(body) => chain_sealed(previous, &out[start..], image, body),
        None => chain(previous, &out[start..], image),
    };
    out.extend_from_slice(&checksum.to_le_bytes());
    out.resize(start + FRAME_HEADER_SIZE, 0);
    out.extend_from_slice(image);
    checksum
}

/// The salts a frame carries.
pub fn frame_salts(bytes: &[u8]) -> [u32; 2] {
    [get_u32(bytes, 12), get_u32(bytes, 16)]
}

/// A frame that passed the salt and chain checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    /// The page this frame holds an image of.
    pub page: PageNo,
    /// Non-zero on a commit frame.
    pub commit_seq: u64,
    /// The chain value after this frame.
    pub checksum: u32,
}

/// Checks and parses one frame (`bytes` is exactly one frame). `None` when the salts
/// differ or the chain breaks. With `verify_chain` false (a canary) the checksum is
/// taken on trust.
pub fn decode_frame(
    bytes: &[u8],
    previous: u32,
    salts: [u32; 2],
    verify_chain: bool,
) -> Option<DecodedFrame> {
    assert!(
        bytes.len() > FRAME_HEADER_SIZE,
        "a frame holds a header and a page"
    );
    let stored = get_u32(bytes, CHAIN_FIELD);
    let frame = DecodedFrame {
        page: get_u32(bytes, 0),
        commit_seq: get_u64(bytes, 4),
        checksum: stored,
    };
    if !verify_chain {
        return Some(frame);
    }
    if frame_salts(bytes) != salts {
        return None;
    }
    if chain(previous, bytes, &bytes[FRAME_HEADER_SIZE..]) != stored {
        return None;
    }
    Some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let header = WalHeader::next_generation(512, 7, [1, 2]);
        let bytes = header.encode();
        assert_eq!(WalHeader::decode(&bytes), Some(header));
        let mut bad = bytes;
        bad[9] ^= 4;
        assert_eq!(WalHeader::decode(&bad), None);
        assert_eq!(WalHeader::decode(&[0u8; WAL_HEADER_SIZE]), None);
    }

    #[test]
    fn generations_get_new_salts() {
        let a = WalHeader::next_generation(512, 7, [1, 2]);
        let b = WalHeader::next_generation(512, 7, a.salts);
        assert_ne!(a.salts, b.salts);
        assert_ne!(a.checksum(), b.checksum());
    }

    #[test]
    fn chain_detects_damage_reorder_and_stale_salts() {
        let header = WalHeader::next_generation(512, 0, [0, 0]);
        let image1 = vec![1u8; 512];
        let image2 = vec![2u8; 512];
        let (f1, c1) = encode_frame(header.checksum(), 2, 0, header.salts, 1, &image1);
        let (f2, c2) = encode_frame(c1, 3, 5, header.salts, 1, &image2);
        let d1 = decode_frame(&f1, header.checksum(), header.salts, true).expect("valid");
        assert_eq!(d1.checksum, c1);
        let d2 = decode_frame(&f2, c1, header.salts, true).expect("valid");
        assert_eq!((d2.page, d2.commit_seq, d2.checksum), (3, 5, c2));
        // Out of order: frame 2 does not follow the header.
        assert_eq!(
            decode_frame(&f2, header.checksum(), header.salts, true),
            None
        );
        // A flipped bit in the image.
        let mut bad = f2.clone();
        bad[100] ^= 1;
        assert_eq!(decode_frame(&bad, c1, header.salts, true), None);
        // Other salts (a stale generation).
        assert_eq!(decode_frame(&f2, c1, [9, 9], true), None);
        // The canary accepts anything.
        assert!(decode_frame(&bad, c1, [9, 9], false).is_some());
    }

    #[test]
    fn attempts_make_equal_pages_different_frames() {
        let header = WalHeader::next_generation(512, 0, [0, 0]);
        let image = vec![4u8; 512];
        let (a, ca) = encode_frame(header.checksum(), 2, 0, header.salts, 1, &image);
        let (b, cb) = encode_frame(header.checksum(), 2, 0, header.salts, 2, &image);
        assert_ne!(a, b);
        assert_ne!(
            ca, cb,
            "chains of two attempts diverge at their first frame"
        );
    }

    #[test]
    fn frame_bytes_follow_the_documented_layout() {
        let image: Vec<u8> = (0..512u32).map(|i| (i % 251) as u8).collect();
        let (bytes, chain_value) = encode_frame(77, 9, 5, [11, 12], 3, &image);
        assert_eq!(bytes.len(), FRAME_HEADER_SIZE + image.len());
        assert_eq!(get_u32(&bytes, 0), 9, "page number");
        assert_eq!(get_u64(&bytes, 4), 5, "commit sequence");
        assert_eq!(
            [get_u32(&bytes, 12), get_u32(&bytes, 16)],
            [11, 12],
            "salts"
        );
        assert_eq!(get_u32(&bytes, 20), 3, "attempt");
        assert_eq!(get_u32(&bytes, 24), chain_value, "chain checksum");
        assert_eq!(chain(77, &bytes[..24], &image), chain_value);
        assert_eq!(&bytes[28..32], &[0; 4], "zero");
        assert_eq!(&bytes[FRAME_HEADER_SIZE..], &image[..]);
    }

    #[test]
    fn offsets() {
        assert_eq!(frame_offset(1, 512), 32);
        assert_eq!(frame_offset(3, 512), 32 + 2 * 544);
        assert_eq!(frame_image_offset(1, 512), 64);
    }

    /// A frame of a sealed page whose body checksum is handed in is the same frame, chain
    /// value included, as one encoded by reading the whole page; a wrong body checksum
    /// gives a different chain.
    #[test]
    fn a_sealed_page_chains_from_its_body_checksum_to_the_same_frame() {
        for (page_size, previous, fill) in [(512usize, 77u32, 1u8), (4096, 0, 0x3c), (65536, 9, 7)]
        {
            let mut image: Vec<u8> = (0..page_size).map(|i| (i % 251) as u8 ^ fill).collect();
            let body = crate::storage::format::seal_page(5, &mut image);
            let fields = FrameFields {
                page: 5,
                commit_seq: 3,
                salts: [11, 12],
                attempt: 2,
            };
            let (mut read, mut continued, mut wrong) = (Vec::new(), Vec::new(), Vec::new());
            let a = append_frame(&mut read, previous, fields, &image, None);
            let b = append_frame(&mut continued, previous, fields, &image, Some(body));
            assert_eq!((a, &read), (b, &continued), "page size {page_size}");
            let c = append_frame(&mut wrong, previous, fields, &image, Some(body ^ 1));
            assert_ne!(a, c, "page size {page_size}");
        }
    }
}
