//! `StableHasher`: a 64-bit FNV-1a hash whose value depends only on the bytes fed to it.
//!
//! The standard library's hashers are seeded per process, so two runs of the same seed
//! would disagree. The trace hash printed at the end of every run (`trace-hash=<16 hex>`)
//! and the tape file's checksum use this hasher instead. Integers are fed as little-endian
//! bytes and `usize` as a `u64`, so the value is the same on every platform.

use std::hash::Hasher;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over a byte stream; stable across processes, runs and platforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StableHasher {
    state: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl StableHasher {
    /// A hasher holding the FNV offset basis (the hash of no bytes).
    pub fn new() -> Self {
        StableHasher {
            state: FNV_OFFSET_BASIS,
        }
    }

    /// Feeds a string with its length first, so `("ab", "c")` and `("a", "bc")` differ.
    pub fn write_str(&mut self, s: &str) {
        self.write_u64(s.len() as u64);
        self.write(s.as_bytes());
    }

    /// The hash so far as 16 lower-case hex digits (the `trace-hash=` format).
    pub fn hex(&self) -> String {
        format!("{:016x}", self.state)
    }
}

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        self.state
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.state ^= u64::from(byte);
            self.state = self.state.wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    fn write_u16(&mut self, i: u16) {
        self.write(&i.to_le_bytes());
    }

    fn write_u32(&mut self, i: u32) {
        self.write(&i.to_le_bytes());
    }

    fn write_u64(&mut self, i: u64) {
        self.write(&i.to_le_bytes());
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    fn write_i64(&mut self, i: i64) {
        self.write(&i.to_le_bytes());
    }

    fn write_isize(&mut self, i: isize) {
        self.write_i64(i as i64);
    }
}

/// The stable hash of one byte string.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut hasher = StableHasher::new();
    hasher.write(bytes);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_published_fnv1a_vectors() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn integers_hash_as_little_endian_and_strings_carry_their_length() {
        let mut a = StableHasher::new();
        a.write_usize(7);
        let mut b = StableHasher::new();
        b.write(&7u64.to_le_bytes());
        assert_eq!(a.finish(), b.finish());

        let mut split_one = StableHasher::new();
        split_one.write_str("ab");
        split_one.write_str("c");
        let mut split_two = StableHasher::new();
        split_two.write_str("a");
        split_two.write_str("bc");
        assert_ne!(split_one.finish(), split_two.finish());
        assert_eq!(StableHasher::new().hex(), "cbf29ce484222325");
    }
}
