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
//! Page 1, the header page (only the header; the B-tree never uses it), holds two header
//! records, slot 0 at byte 0 and slot 1 at byte 512 (pages of 1024 bytes or more) or at
//! byte 452, just before the reserved tail (512-byte pages). Each record:
//! ```text
//! [0..8]    magic "braid-db"
//! [8..12]   format version (2)
//! [12..16]  page size in bytes
//! [16..20]  page count (pages 1..=count exist)
//! [20..24]  freelist head page (0 = empty)
//! [24..28]  freelist length in pages
//! [28..32]  B-tree root page (0 = no tree yet)
//! [32..40]  commit sequence of the last checkpoint
//! [40..48]  header write number: how many times a checkpoint rewrote page 1 in place
//! [48..52]  crc32 of bytes [0..48]: the record's own checksum
//! everything else up to the reserved tail: zero
//! ```
//! The rule that keeps page 1 readable through every fault: **a checkpoint never writes
//! over the newest record.** It writes the whole page, with the new record (write number
//! one higher) in the other slot and the newest record's own bytes again in its slot.
//! Whatever part of that write lands (a short write stops anywhere, even inside a sector;
//! a crash keeps, drops or tears an unsynced write at 512-byte sectors), the newest
//! record's bytes are unchanged, so at least one whole record survives: the new one or
//! the one before it. A reader takes the valid record with the highest write number.
//! Both are safe after a crash: the WAL is reset only after the database fsync that
//! makes the new record durable, so every frame either record is behind is still in the
//! WAL. Only a damaged newest record (a bit flip) can leave an older record that the WAL
//! no longer covers; the opener checks that the WAL generation starts at or before the
//! record it fell back to, and calls the database corrupt otherwise (pager/open.rs).
//! The database's creation writes both slots with the same record (write number 0); a
//! creation cut short by a crash or a short write leaves a file of at most one page and
//! an empty WAL, which the opener creates afresh.
//! A free page holds the next free page number in bytes [0..4] (0 ends the list); the rest
//! of its usable bytes are zero.

use crate::Result;
use crate::error::{Corruption, HeaderDefect, PageDefect};
use crate::storage::page_access::{PAGE_RESERVED_BYTES, PageNo};

/// The header page's number.
pub const HEADER_PAGE: PageNo = 1;
/// First bytes of every braid database file.
pub const DB_MAGIC: [u8; 8] = *b"braid-db";
/// Version of the formats written down in this file.
pub const FORMAT_VERSION: u32 = 2;

/// Bytes of one header record (fields, write number and their crc32).
const HEADER_RECORD_BYTES: usize = 52;
/// Bytes of the record before its checksum.
const RECORD_CHECKED_BYTES: usize = HEADER_RECORD_BYTES - 4;
/// Sector size whose writes a crash keeps or drops whole; slot 1 starts one sector in
/// where the page has a second sector.
pub const SECTOR_BYTES: usize = 512;
/// Smallest page size (also `DbOptions::validate`'s lower bound).
pub const MIN_PAGE_SIZE: usize = 512;

// A record is its fields (magic 8, version, page size, page count, freelist head, freelist
// count, root: 4 each, checkpoint sequence 8), its write number (8), then its crc32.
const _: () = assert!(RECORD_CHECKED_BYTES == DB_MAGIC.len() + 6 * 4 + 8 + 8);
// Page sizes are whole sectors, so a torn write never splits a sector of a page.
const _: () =
    assert!(MIN_PAGE_SIZE.is_power_of_two() && MIN_PAGE_SIZE.is_multiple_of(SECTOR_BYTES));
// The header page is the first page, at offset 0.
const _: () = assert!(HEADER_PAGE == 1);
// Both slots fit a 512-byte page without overlapping each other or the reserved tail.
const _: () = assert!(2 * HEADER_RECORD_BYTES <= MIN_PAGE_SIZE - PAGE_RESERVED_BYTES);
const _: () =
    assert!(SECTOR_BYTES + HEADER_RECORD_BYTES <= 2 * MIN_PAGE_SIZE - PAGE_RESERVED_BYTES);

/// Byte offset of header slot `slot` (0 or 1) in a header page of `page_size` bytes.
fn slot_offset(page_size: usize, slot: usize) -> usize {
    debug_assert!(slot < 2, "the header page has two slots");
    match slot {
        0 => 0,
        _ if page_size >= 2 * SECTOR_BYTES => SECTOR_BYTES,
        _ => page_size - PAGE_RESERVED_BYTES - HEADER_RECORD_BYTES,
    }
}

/// Which header slot holds the newest record, and that record's write number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderStamp {
    /// 0 or 1.
    pub slot: usize,
    /// How many times a checkpoint rewrote page 1 before this record.
    pub writes: u64,
}

impl HeaderStamp {
    /// The stamp of a page written by `DbHeader::encode` (both slots alike).
    pub const CREATED: HeaderStamp = HeaderStamp { slot: 0, writes: 0 };

    /// Where the next in-place write puts its record: the other slot, one write later.
    pub fn next(self) -> HeaderStamp {
        assert!(self.slot < 2, "the header page has two slots");
        HeaderStamp {
            slot: 1 - self.slot,
            writes: self.writes + 1,
        }
    }
}

/// A header page read from the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRead {
    /// The newest valid record.
    pub header: DbHeader,
    /// Where it lives.
    pub stamp: HeaderStamp,
    /// Whether the record is surely the newest ever written: the page checksum holds (the
    /// page is one write's image) or both records are whole. When false, the other slot
    /// is damaged and may have held a newer record (see the module comment).
    pub surely_newest: bool,
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

    /// The full, sealed image of page 1 with this header in both slots (write number 0):
    /// a new database's first write, and the header page's image in WAL frames.
    pub fn encode(&self) -> Vec<u8> {
        let mut image = vec![0u8; self.page_size as usize];
        let record = self.record(0);
        for slot in 0..2 {
            let at = slot_offset(image.len(), slot);
            image[at..at + HEADER_RECORD_BYTES].copy_from_slice(&record);
        }
        seal_page(HEADER_PAGE, &mut image);
        image
    }

    /// The image a checkpoint writes over page 1 when `newest` (at `stamp`) is the newest
    /// record in the database file: `newest`'s record byte for byte in its own slot, this
    /// header in the other one write later. Returns the image and the new record's stamp.
    pub fn encode_over(&self, newest: &DbHeader, stamp: HeaderStamp) -> (Vec<u8>, HeaderStamp) {
        assert_eq!(
            self.page_size, newest.page_size,
            "a checkpoint keeps the page size"
        );
        let next = stamp.next();
        let mut image = vec![0u8; self.page_size as usize];
        for (slot, record) in [
            (stamp.slot, newest.record(stamp.writes)),
            (next.slot, self.record(next.writes)),
        ] {
            let at = slot_offset(image.len(), slot);
            image[at..at + HEADER_RECORD_BYTES].copy_from_slice(&record);
        }
        seal_page(HEADER_PAGE, &mut image);
        (image, next)
    }

    fn record(&self, writes: u64) -> [u8; HEADER_RECORD_BYTES] {
        let mut record = [0u8; HEADER_RECORD_BYTES];
        record[0..8].copy_from_slice(&DB_MAGIC);
        put_u32(&mut record, 8, FORMAT_VERSION);
        put_u32(&mut record, 12, self.page_size);
        put_u32(&mut record, 16, self.page_count);
        put_u32(&mut record, 20, self.freelist_head);
        put_u32(&mut record, 24, self.freelist_count);
        put_u32(&mut record, 28, self.root);
        record[32..40].copy_from_slice(&self.checkpoint_seq.to_le_bytes());
        record[40..48].copy_from_slice(&writes.to_le_bytes());
        let crc = crc32fast::hash(&record[..RECORD_CHECKED_BYTES]);
        put_u32(&mut record, RECORD_CHECKED_BYTES, crc);
        record
    }

    /// The newest valid record of a header page image (see `read_page`).
    pub fn decode(image: &[u8]) -> Result<DbHeader> {
        Self::read_page(image).map(|read| read.header)
    }

    /// Reads a header page image: the valid record with the highest write number, then
    /// checks magic, version, page size and consistency. With no valid record the page
    /// is `Error::Corrupt`, naming why the first slot failed.
    pub fn read_page(image: &[u8]) -> Result<HeaderRead> {
        if image.len() < MIN_PAGE_SIZE {
            return Err(HeaderDefect::Size { len: image.len() }.into());
        }
        let page_verified = verify_page(HEADER_PAGE, image).is_ok();
        let mut newest: Option<(DbHeader, HeaderStamp)> = None;
        let mut valid = 0;
        let mut first_error = None;
        for slot in 0..2 {
            match Self::decode_record(image, slot_offset(image.len(), slot)) {
                Ok((header, writes)) => {
                    valid += 1;
                    if newest.is_none_or(|(_, stamp)| writes > stamp.writes) {
                        newest = Some((header, HeaderStamp { slot, writes }));
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match newest {
            Some((header, stamp)) => Ok(HeaderRead {
                header,
                stamp,
                surely_newest: page_verified || valid == 2,
            }),
            None => Err(first_error.expect("a slot that failed left its error")),
        }
    }

    /// The page size recorded by a valid header record in `prefix` (the first bytes of a
    /// database file, any length), without knowing the page size first: slot 0, or slot
    /// 1 where each page size puts it.
    pub fn recorded_page_size(prefix: &[u8]) -> Option<u32> {
        let slot1_of_small_page = slot_offset(MIN_PAGE_SIZE, 1);
        [
            (0, None),
            (slot1_of_small_page, Some(MIN_PAGE_SIZE)),
            (SECTOR_BYTES, None),
        ]
        .into_iter()
        .find_map(|(at, only)| {
            let record = prefix.get(at..at + HEADER_RECORD_BYTES)?;
            let valid = crc32fast::hash(&record[..RECORD_CHECKED_BYTES])
                == get_u32(record, RECORD_CHECKED_BYTES)
                && record[0..8] == DB_MAGIC
                && get_u32(record, 8) == FORMAT_VERSION;
            let page_size = get_u32(record, 12);
            let in_place = match only {
                Some(size) => page_size as usize == size,
                None if at == 0 => true,
                None => page_size as usize >= 2 * SECTOR_BYTES,
            };
            (valid && in_place).then_some(page_size)
        })
    }

    /// The record at byte `at`: its header and write number.
    fn decode_record(image: &[u8], at: usize) -> Result<(DbHeader, u64)> {
        if image.len() < at + HEADER_RECORD_BYTES {
            return Err(HeaderDefect::Size { len: image.len() }.into());
        }
        let record = &image[at..at + HEADER_RECORD_BYTES];
        if crc32fast::hash(&record[..RECORD_CHECKED_BYTES]) != get_u32(record, RECORD_CHECKED_BYTES)
        {
            return Err(HeaderDefect::RecordChecksum { at }.into());
        }
        if record[0..8] != DB_MAGIC {
            return Err(HeaderDefect::Magic.into());
        }
        let version = get_u32(record, 8);
        if version != FORMAT_VERSION {
            return Err(HeaderDefect::Version { version }.into());
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
            return Err(HeaderDefect::PageSize {
                recorded: header.page_size,
                len: image.len(),
            }
            .into());
        }
        header.check_consistent()?;
        Ok((header, get_u64(record, 40)))
    }

    /// Field relations every valid header satisfies.
    pub fn check_consistent(&self) -> Result<()> {
        let page_count = self.page_count;
        let defect = if page_count == 0 {
            HeaderDefect::NoPages
        } else if self.root == HEADER_PAGE || self.root > page_count {
            HeaderDefect::Root {
                root: self.root,
                page_count,
            }
        } else if self.freelist_head == HEADER_PAGE || self.freelist_head > page_count {
            HeaderDefect::FreelistHead {
                head: self.freelist_head,
                page_count,
            }
        } else if (self.freelist_head == 0) != (self.freelist_count == 0) {
            HeaderDefect::FreelistEmptiness {
                head: self.freelist_head,
                count: self.freelist_count,
            }
        } else if self.freelist_count >= page_count {
            HeaderDefect::FreelistCount {
                count: self.freelist_count,
                page_count,
            }
        } else {
            return Ok(());
        };
        Err(defect.into())
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
        return Err(Corruption::page(pgno, PageDefect::ImageSize { len: image.len() }).into());
    }
    let body = image.len() - PAGE_RESERVED_BYTES;
    let stored = get_u32(image, body);
    let computed = page_checksum(pgno, image);
    if stored != computed || image[body + 4..].iter().any(|&b| b != 0) {
        return Err(Corruption::page(pgno, PageDefect::Checksum { stored, computed }).into());
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

    /// Two headers that differ in every field a checkpoint can change.
    fn old_and_new(page_size: usize) -> (DbHeader, DbHeader) {
        let mut old = DbHeader::new(page_size);
        old.page_count = 3;
        old.root = 2;
        old.checkpoint_seq = 4;
        let mut new = old;
        new.page_count = 9;
        new.root = 5;
        new.freelist_head = 7;
        new.freelist_count = 2;
        new.checkpoint_seq = 11;
        (old, new)
    }

    /// The database file's page 1 after `old` was checkpointed over a fresh database.
    fn page_holding(old: &DbHeader) -> (Vec<u8>, HeaderStamp) {
        let created = DbHeader::new(old.page_size as usize);
        old.encode_over(&created, HeaderStamp::CREATED)
    }

    #[test]
    fn a_checkpoint_write_keeps_the_newest_record_and_adds_one() {
        for page_size in [512, 1024, 4096] {
            let (old, new) = old_and_new(page_size);
            let (old_image, old_stamp) = page_holding(&old);
            let read = DbHeader::read_page(&old_image).unwrap();
            assert_eq!((read.header, read.stamp), (old, old_stamp));
            assert!(read.surely_newest);
            let (new_image, new_stamp) = new.encode_over(&old, old_stamp);
            assert_eq!(new_stamp, old_stamp.next());
            assert_ne!(new_stamp.slot, old_stamp.slot);
            let at = slot_offset(page_size, old_stamp.slot);
            assert_eq!(
                old_image[at..at + HEADER_RECORD_BYTES],
                new_image[at..at + HEADER_RECORD_BYTES],
                "the newest record's bytes are written again unchanged"
            );
            let read = DbHeader::read_page(&new_image).unwrap();
            assert_eq!((read.header, read.stamp), (new, new_stamp));
        }
    }

    /// A short write lands any prefix of the new image over the old one: some whole record
    /// always remains, old or new, and the whole write gives the new one.
    #[test]
    fn every_prefix_of_a_header_write_leaves_the_old_or_the_new_header() {
        for page_size in [512, 1024, 4096] {
            let (old, new) = old_and_new(page_size);
            let (old_image, stamp) = page_holding(&old);
            let (new_image, _) = new.encode_over(&old, stamp);
            let mut seen_new = false;
            for landed in 0..=page_size {
                let mut disk = old_image.clone();
                disk[..landed].copy_from_slice(&new_image[..landed]);
                let read = DbHeader::read_page(&disk)
                    .unwrap_or_else(|e| panic!("{page_size}-byte page, {landed} bytes: {e}"));
                assert!(
                    read.header == old || read.header == new,
                    "{page_size}-byte page, {landed} bytes: {read:?}"
                );
                seen_new |= read.header == new;
                if landed == page_size {
                    assert_eq!(read.header, new);
                    assert!(read.surely_newest);
                }
            }
            assert!(seen_new);
        }
    }

    /// A crash keeps any subset of an unsynced write's sectors.
    #[test]
    fn every_sector_tear_of_a_header_write_leaves_the_old_or_the_new_header() {
        for page_size in [512usize, 1024, 2048] {
            let (old, new) = old_and_new(page_size);
            let (old_image, stamp) = page_holding(&old);
            let (new_image, _) = new.encode_over(&old, stamp);
            let sectors = page_size / SECTOR_BYTES;
            for kept in 0u32..(1 << sectors) {
                let mut disk = old_image.clone();
                for sector in 0..sectors {
                    if kept & (1 << sector) != 0 {
                        let range = sector * SECTOR_BYTES..(sector + 1) * SECTOR_BYTES;
                        disk[range.clone()].copy_from_slice(&new_image[range]);
                    }
                }
                let header = DbHeader::decode(&disk).unwrap();
                assert!(header == old || header == new, "sectors {kept:b}");
            }
        }
    }

    /// Two checkpoints in a row whose writes of page 1 both stop short: the second
    /// targets the same slot again (the first never became the newest), so the newest
    /// record is still whole whatever prefixes landed.
    #[test]
    fn two_short_header_writes_in_a_row_still_leave_a_whole_record() {
        for page_size in [512, 1024] {
            let (old, first) = old_and_new(page_size);
            let mut second = first;
            second.checkpoint_seq = 12;
            second.root = 6;
            let (old_image, stamp) = page_holding(&old);
            let (first_image, _) = first.encode_over(&old, stamp);
            let (second_image, _) = second.encode_over(&old, stamp);
            for n1 in (0..=page_size).step_by(7) {
                for n2 in (0..=page_size).step_by(11) {
                    let mut disk = old_image.clone();
                    disk[..n1].copy_from_slice(&first_image[..n1]);
                    disk[..n2].copy_from_slice(&second_image[..n2]);
                    let header = DbHeader::decode(&disk)
                        .unwrap_or_else(|e| panic!("{page_size}: {n1} then {n2} bytes: {e}"));
                    assert!(
                        [old, first, second].contains(&header),
                        "{page_size}: {n1} then {n2} bytes"
                    );
                }
            }
        }
    }

    #[test]
    fn a_damaged_record_falls_back_to_the_other_but_not_surely() {
        for page_size in [512, 1024] {
            let (old, new) = old_and_new(page_size);
            let (old_image, stamp) = page_holding(&old);
            let (image, new_stamp) = new.encode_over(&old, stamp);
            // A flip in the newest record: the older one is read, flagged as maybe stale.
            let mut flipped = image.clone();
            flipped[slot_offset(page_size, new_stamp.slot) + 20] ^= 1;
            let read = DbHeader::read_page(&flipped).unwrap();
            assert_eq!(read.header, old);
            assert!(!read.surely_newest, "the newer record may have been lost");
            // A flip outside both records: both are whole, the newest is read surely.
            let mut flipped = image.clone();
            flipped[300] ^= 1;
            assert!(verify_page(HEADER_PAGE, &flipped).is_err());
            let read = DbHeader::read_page(&flipped).unwrap();
            assert_eq!(read.header, new);
            assert!(read.surely_newest);
            // Both records damaged: corrupt.
            let mut both = image.clone();
            both[slot_offset(page_size, 0) + 3] ^= 1;
            both[slot_offset(page_size, 1) + 3] ^= 1;
            assert!(matches!(
                DbHeader::decode(&both),
                Err(crate::Error::Corrupt(_))
            ));
            // The old page alone, fully valid.
            assert_eq!(DbHeader::decode(&old_image), Ok(old));
        }
    }

    #[test]
    fn the_page_size_is_readable_from_a_prefix_through_either_slot() {
        for page_size in [512usize, 1024, 4096] {
            let image = DbHeader::new(page_size).encode();
            let prefix = &image[..page_size.min(1024)];
            assert_eq!(DbHeader::recorded_page_size(prefix), Some(page_size as u32));
            let mut torn = image.clone();
            torn[..HEADER_RECORD_BYTES].fill(0);
            let prefix = &torn[..page_size.min(1024)];
            assert_eq!(
                DbHeader::recorded_page_size(prefix),
                Some(page_size as u32),
                "slot 1 of a {page_size}-byte page"
            );
        }
        let mut torn = DbHeader::new(4096).encode();
        torn[..HEADER_RECORD_BYTES].fill(0);
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
