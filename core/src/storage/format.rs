//! The database file's formats: the header page and the per-page checksum.
//!
//! Database file: pages of `page_size` bytes; page `n` (1-based) lives at byte
//! `(n - 1) * page_size`. All integers are little-endian.
//!
//! Every page ends with `PAGE_RESERVED_BYTES` (8) reserved bytes:
//! ```text
//! [page_size - 8 .. page_size - 4]  crc32 of bytes [0 .. page_size - 8] followed by the
//!                                   page number (u32), so a page written at the wrong place
//!                                   fails too
//! [page_size - 4 .. page_size]      zero
//! ```
//! The pager writes the checksum whenever a page leaves memory (WAL frame or database
//! write) and verifies it on every read from disk: a mismatch is `Error::Corrupt`, never
//! wrong data. An all-zero page never verifies.
//!
//! Page 1, the header page (only the header; the B-tree never uses it):
//! ```text
//! [0..8]    magic "braid-db"
//! [8..12]   format version (1)
//! [12..16]  page size in bytes
//! [16..20]  page count (pages 1..=count exist)
//! [20..24]  freelist head page (0 = empty)
//! [24..28]  freelist length in pages
//! [28..32]  B-tree root page (0 = no tree yet)
//! [32..40]  commit sequence of the last checkpoint
//! [40..44]  crc32 of bytes [0..40]: the record's own checksum
//! [512..556]  a copy of bytes [0..44] when the page is 1024 bytes or larger
//! everything else up to the reserved tail: zero
//! ```
//! Why two records: checkpoints rewrite page 1 in the database file, and a crash before
//! the database fsync may leave it torn at 512-byte sector granularity. Sectors are
//! atomic, so at least one record is whole and is either the old or the new header; both
//! are safe, because the WAL is reset only after that fsync, so every frame the new header
//! describes is still in the WAL. A header page whose page checksum fails is read from its
//! first valid record; with no valid record it is `Error::Corrupt`.
//! A free page holds the next free page number in bytes [0..4] (0 ends the list); the rest
//! of its usable bytes are zero.

use crate::storage::page_access::{PAGE_RESERVED_BYTES, PageNo};
use crate::{Error, Result};

/// The header page's number.
pub const HEADER_PAGE: PageNo = 1;
/// First bytes of every braid database file.
pub const DB_MAGIC: [u8; 8] = *b"braid-db";
/// Version of the formats written down in this file.
pub const FORMAT_VERSION: u32 = 1;

/// Bytes of one header record (fields and their crc32).
const HEADER_RECORD_BYTES: usize = 44;
/// Sector size whose writes are assumed atomic; the record copy starts one sector in.
const SECTOR_BYTES: usize = 512;

/// Where the header page keeps its records: one per sector of the first two sectors.
fn record_offsets(page_size: usize) -> Vec<usize> {
    if page_size >= 2 * SECTOR_BYTES {
        vec![0, SECTOR_BYTES]
    } else {
        vec![0]
    }
}

/// The fields of the header page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbHeader {
    /// Bytes per page.
    pub page_size: u32,
    /// Number of pages in the database, header page included.
    pub page_count: u32,
    /// First page of the freelist, 0 when empty.
    pub freelist_head: PageNo,
    /// Number of pages on the freelist.
    pub freelist_count: u32,
    /// Root page of the B-tree, 0 before the tree exists.
    pub root: PageNo,
    /// Commit sequence of the last checkpoint that reached this file.
    pub checkpoint_seq: u64,
}

impl DbHeader {
    /// The header of a new, empty database: one page, no tree, nothing free.
    pub fn new(page_size: usize) -> Self {
        DbHeader {
            page_size: u32::try_from(page_size).expect("page size is at most 65536"),
            page_count: 1,
            freelist_head: 0,
            freelist_count: 0,
            root: 0,
            checkpoint_seq: 0,
        }
    }

    /// Whether `other` differs in anything a transaction can change (root, freelist, page
    /// count); the checkpoint sequence is the checkpointer's business.
    pub fn differs_in_content(&self, other: &DbHeader) -> bool {
        let mut a = *self;
        a.checkpoint_seq = other.checkpoint_seq;
        a != *other
    }

    /// The full, sealed image of page 1.
    pub fn encode(&self) -> Vec<u8> {
        let mut image = vec![0u8; self.page_size as usize];
        let mut record = [0u8; HEADER_RECORD_BYTES];
        record[0..8].copy_from_slice(&DB_MAGIC);
        put_u32(&mut record, 8, FORMAT_VERSION);
        put_u32(&mut record, 12, self.page_size);
        put_u32(&mut record, 16, self.page_count);
        put_u32(&mut record, 20, self.freelist_head);
        put_u32(&mut record, 24, self.freelist_count);
        put_u32(&mut record, 28, self.root);
        record[32..40].copy_from_slice(&self.checkpoint_seq.to_le_bytes());
        let crc = crc32fast::hash(&record[0..40]);
        put_u32(&mut record, 40, crc);
        for at in record_offsets(image.len()) {
            image[at..at + HEADER_RECORD_BYTES].copy_from_slice(&record);
        }
        seal_page(HEADER_PAGE, &mut image);
        image
    }

    /// Reads a header page image: its first record if the page checksum holds, else the
    /// first record copy that still verifies (a torn page); then checks magic, version,
    /// page size and consistency.
    pub fn decode(image: &[u8]) -> Result<DbHeader> {
        let page = verify_page(HEADER_PAGE, image);
        let offsets = if page.is_ok() {
            vec![0]
        } else {
            record_offsets(image.len())
        };
        let mut first_error = page.err();
        for at in offsets {
            match Self::decode_record(image, at) {
                Ok(header) => return Ok(header),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| Error::Corrupt("header page: no record".into())))
    }

    /// The page size recorded by the first valid header record in `prefix` (the first
    /// bytes of a database file, any length), without knowing the page size first.
    pub fn recorded_page_size(prefix: &[u8]) -> Option<u32> {
        [0, SECTOR_BYTES].into_iter().find_map(|at| {
            let record = prefix.get(at..at + HEADER_RECORD_BYTES)?;
            let valid = crc32fast::hash(&record[0..40]) == get_u32(record, 40)
                && record[0..8] == DB_MAGIC
                && get_u32(record, 8) == FORMAT_VERSION;
            valid.then(|| get_u32(record, 12))
        })
    }

    fn decode_record(image: &[u8], at: usize) -> Result<DbHeader> {
        if image.len() < at + HEADER_RECORD_BYTES {
            return Err(Error::Corrupt(format!(
                "header page of {} bytes",
                image.len()
            )));
        }
        let record = &image[at..at + HEADER_RECORD_BYTES];
        if crc32fast::hash(&record[0..40]) != get_u32(record, 40) {
            return Err(Error::Corrupt(format!(
                "header page: record at {at} fails its checksum"
            )));
        }
        if record[0..8] != DB_MAGIC {
            return Err(Error::Corrupt("header page: bad magic".into()));
        }
        let version = get_u32(record, 8);
        if version != FORMAT_VERSION {
            return Err(Error::Corrupt(format!(
                "header page: unknown format version {version}"
            )));
        }
        let header = DbHeader {
            page_size: get_u32(record, 12),
            page_count: get_u32(record, 16),
            freelist_head: get_u32(record, 20),
            freelist_count: get_u32(record, 24),
            root: get_u32(record, 28),
            checkpoint_seq: get_u64(record, 32),
        };
        if header.page_size as usize != image.len() {
            return Err(Error::Corrupt(format!(
                "header page: page size {} but the page has {} bytes",
                header.page_size,
                image.len()
            )));
        }
        header.check_consistent()?;
        Ok(header)
    }

    /// Field relations every valid header satisfies.
    pub fn check_consistent(&self) -> Result<()> {
        let fail = |what: String| Err(Error::Corrupt(format!("header page: {what}")));
        if self.page_count == 0 {
            return fail("page count is 0".into());
        }
        if self.root == HEADER_PAGE || self.root > self.page_count {
            return fail(format!(
                "root {} outside 2..={}",
                self.root, self.page_count
            ));
        }
        if self.freelist_head == HEADER_PAGE || self.freelist_head > self.page_count {
            return fail(format!(
                "freelist head {} outside 2..={}",
                self.freelist_head, self.page_count
            ));
        }
        if (self.freelist_head == 0) != (self.freelist_count == 0) {
            return fail(format!(
                "freelist head {} disagrees with freelist length {}",
                self.freelist_head, self.freelist_count
            ));
        }
        if self.freelist_count >= self.page_count {
            return fail(format!(
                "freelist length {} not below page count {}",
                self.freelist_count, self.page_count
            ));
        }
        Ok(())
    }
}

/// The checksum of page `pgno`'s image (everything before the reserved tail, then `pgno`).
pub fn page_checksum(pgno: PageNo, image: &[u8]) -> u32 {
    page_checksum_from_body(pgno, body_checksum(image))
}

/// The CRC-32 of everything before the reserved tail of `image` (the pass over the page
/// that its checksum needs, which the WAL's chain can continue from instead of reading
/// the page again).
pub fn body_checksum(image: &[u8]) -> u32 {
    crc32fast::hash(&image[..image.len() - PAGE_RESERVED_BYTES])
}

/// `page_checksum`, given the image's `body_checksum`.
fn page_checksum_from_body(pgno: PageNo, body: u32) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(body);
    hasher.update(&pgno.to_le_bytes());
    hasher.finalize()
}

/// Writes the checksum of page `pgno` into the reserved tail of `image`. Returns the
/// image's `body_checksum`, which stays valid: sealing changes only the tail.
pub fn seal_page(pgno: PageNo, image: &mut [u8]) -> u32 {
    assert!(
        image.len() > PAGE_RESERVED_BYTES,
        "a page is larger than its reserved tail"
    );
    let body = image.len() - PAGE_RESERVED_BYTES;
    let body_checksum = body_checksum(image);
    let checksum = page_checksum_from_body(pgno, body_checksum);
    image[body..body + 4].copy_from_slice(&checksum.to_le_bytes());
    image[body + 4..].fill(0);
    debug_assert!(verify_page(pgno, image).is_ok(), "a sealed page verifies");
    body_checksum
}

/// Checks the checksum of page `pgno`: `Error::Corrupt` on mismatch.
pub fn verify_page(pgno: PageNo, image: &[u8]) -> Result<()> {
    if image.len() <= PAGE_RESERVED_BYTES {
        return Err(Error::Corrupt(format!(
            "page {pgno}: image of {} bytes",
            image.len()
        )));
    }
    let body = image.len() - PAGE_RESERVED_BYTES;
    let stored = get_u32(image, body);
    let computed = page_checksum(pgno, image);
    if stored != computed || image[body + 4..].iter().any(|&b| b != 0) {
        return Err(Error::Corrupt(format!(
            "page {pgno}: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
        )));
    }
    Ok(())
}

/// The image of a free page whose successor on the freelist is `next` (unsealed: the
/// pager seals every page on write-out).
pub fn free_page_image(page_size: usize, next: PageNo) -> Vec<u8> {
    let mut image = vec![0u8; page_size];
    put_u32(&mut image, 0, next);
    image
}

/// The successor stored in a free page.
pub fn free_page_next(image: &[u8]) -> PageNo {
    get_u32(image, 0)
}

pub(crate) fn put_u32(buf: &mut [u8], at: usize, value: u32) {
    buf[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn get_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().expect("a 4-byte slice"))
}

pub(crate) fn get_u64(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(buf[at..at + 8].try_into().expect("an 8-byte slice"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checksum continues the body's CRC with the page number: the same value as one
    /// pass over both, and `seal_page` hands out the body's part.
    #[test]
    fn page_checksum_is_the_crc_of_the_body_then_the_page_number() {
        for (pgno, fill) in [(2u32, 0u8), (7, 0x5a), (70_000, 0xff)] {
            let mut image: Vec<u8> = (0..512u32).map(|i| (i as u8) ^ fill).collect();
            let mut one_pass = crc32fast::Hasher::new();
            one_pass.update(&image[..512 - PAGE_RESERVED_BYTES]);
            one_pass.update(&pgno.to_le_bytes());
            assert_eq!(page_checksum(pgno, &image), one_pass.finalize());
            let body = seal_page(pgno, &mut image);
            assert_eq!(body, crc32fast::hash(&image[..512 - PAGE_RESERVED_BYTES]));
            assert_eq!(verify_page(pgno, &image), Ok(()));
            assert!(
                verify_page(pgno + 1, &image).is_err(),
                "the page number counts"
            );
        }
    }

    #[test]
    fn header_round_trips() {
        let mut header = DbHeader::new(512);
        header.page_count = 9;
        header.root = 2;
        header.freelist_head = 7;
        header.freelist_count = 3;
        header.checkpoint_seq = 42;
        let image = header.encode();
        assert_eq!(image.len(), 512);
        assert_eq!(DbHeader::decode(&image), Ok(header));
    }

    #[test]
    fn flipped_bit_fails_the_checksum() {
        let image = DbHeader::new(512).encode();
        for bit in [0usize, 100, 8 * 41] {
            let mut bad = image.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(verify_page(HEADER_PAGE, &bad).is_err(), "bit {bit}");
            let decoded = DbHeader::decode(&bad);
            assert!(
                matches!(decoded, Err(Error::Corrupt(_))),
                "bit {bit}: {decoded:?}"
            );
        }
        // Outside the record only the page checksum fails; the record still holds.
        for byte in [300, 505] {
            let mut bad = image.clone();
            bad[byte] ^= 1;
            assert!(verify_page(HEADER_PAGE, &bad).is_err());
            assert_eq!(DbHeader::decode(&bad), DbHeader::decode(&image));
        }
    }

    #[test]
    fn a_torn_header_page_reads_from_its_whole_record() {
        let mut old = DbHeader::new(4096);
        old.page_count = 3;
        old.root = 2;
        let mut new = old;
        new.checkpoint_seq = 9;
        new.page_count = 5;
        let (old_image, new_image) = (old.encode(), new.encode());
        // New first sector, old rest: the first record is whole and new.
        let mut torn = old_image.clone();
        torn[..512].copy_from_slice(&new_image[..512]);
        assert_eq!(DbHeader::decode(&torn), Ok(new));
        // Garbage first sector: the copy in the second sector is whole and old.
        let mut torn = old_image.clone();
        torn[..512].fill(0xa5);
        assert_eq!(DbHeader::decode(&torn), Ok(old));
        // Both records damaged: corrupt.
        torn[520] ^= 1;
        assert!(matches!(DbHeader::decode(&torn), Err(Error::Corrupt(_))));
        // A 512-byte page has one record, so one flipped bit there is corrupt.
        let mut small = DbHeader::new(512).encode();
        small[20] ^= 1;
        assert!(matches!(DbHeader::decode(&small), Err(Error::Corrupt(_))));
    }

    #[test]
    fn the_page_size_is_readable_from_a_prefix() {
        let image = DbHeader::new(4096).encode();
        assert_eq!(DbHeader::recorded_page_size(&image[..512]), Some(4096));
        let mut torn = image.clone();
        torn[..512].fill(0);
        assert_eq!(DbHeader::recorded_page_size(&torn[..1024]), Some(4096));
        assert_eq!(DbHeader::recorded_page_size(&torn[..512]), None);
        assert_eq!(DbHeader::recorded_page_size(&[]), None);
    }

    #[test]
    fn checksum_binds_the_page_number() {
        let mut image = vec![7u8; 512];
        seal_page(5, &mut image);
        assert!(verify_page(5, &image).is_ok());
        assert!(verify_page(6, &image).is_err());
    }

    #[test]
    fn zero_page_never_verifies() {
        assert!(verify_page(3, &[0u8; 512]).is_err());
    }

    #[test]
    fn inconsistent_header_is_corrupt() {
        let mut header = DbHeader::new(512);
        header.freelist_head = 3; // beyond page count 1, and count 0
        assert!(header.check_consistent().is_err());
        assert!(DbHeader::decode(&header.encode()).is_err());
    }
}
