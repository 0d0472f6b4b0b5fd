//! `Tape`: the recorded draws of one run and the labelled spans grouping them, plus its file
//! format. A tape is the whole of a run's nondeterminism: replaying it reproduces the run.
//!
//! File format (all integers little-endian; `varint` is unsigned LEB128: 7 bits per byte,
//! low bits first, high bit set on every byte but the last, at most 10 bytes):
//!
//! ```text
//! bytes 0..8    magic "BRAIDTAP"
//! bytes 8..12   format version, u32 (currently 1)
//! byte  12      flags: bit 0 = a recording seed follows meaningfully (others must be 0)
//! bytes 13..21  recording seed, u64 (0 when flag bit 0 is clear)
//! varint        number of values, then each value as a varint
//! varint        number of spans, then per span (in the order spans were opened):
//!                 varint label length, the label's UTF-8 bytes,
//!                 varint start, varint end (draw indices, start <= end <= number of values),
//!                 varint depth (0 for an outermost span)
//! last 8 bytes  FNV-1a 64 (`StableHasher`) of every byte before it, u64
//! ```
//!
//! Varints keep the file small because most draws are small (0 is the common, simple
//! outcome): a million draws below 128 take about a megabyte.

use std::borrow::Cow;
use std::hash::Hasher;
use std::path::Path;

use super::hash::StableHasher;

const MAGIC: &[u8; 8] = b"BRAIDTAP";
const VERSION: u32 = 1;
const FLAG_SEED: u8 = 1;
const HEADER_LEN: usize = 21;
const CHECKSUM_LEN: usize = 8;

/// A labelled run of consecutive draws, `values[start..end]`: a unit the shrinker may delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// What the draws decide ("txn", "fiber-step", "fault", "connection", ...).
    pub label: Cow<'static, str>,
    /// Index of the first draw inside the span.
    pub start: usize,
    /// Index one past the last draw inside the span (`start == end` for an empty span).
    pub end: usize,
    /// Number of spans enclosing this one (0 = outermost).
    pub depth: u32,
}

impl Span {
    /// Number of draws inside the span.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span holds no draw.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// Every draw of a run (already reduced to its bound) and the spans over them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tape {
    /// The seed the values were recorded from, if they came from a recording.
    pub seed: Option<u64>,
    /// The draws in the order they were made.
    pub values: Vec<u64>,
    /// Spans in the order they were opened (a parent before its children).
    pub spans: Vec<Span>,
}

/// Why a tape file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TapeError {
    /// Reading or writing the file failed.
    #[error("tape file I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with `BRAIDTAP`.
    #[error("not a braid tape (bad magic)")]
    BadMagic,
    /// Written by another version of the format.
    #[error("tape format version {0} is not supported (expected {VERSION})")]
    UnsupportedVersion(u32),
    /// The file ends early.
    #[error("tape file is truncated")]
    Truncated,
    /// The trailing checksum does not match the contents.
    #[error("tape checksum mismatch: the file is damaged")]
    ChecksumMismatch,
    /// The contents break a rule of the format (see the top of this file).
    #[error("tape is malformed: {0}")]
    Malformed(String),
}

impl Tape {
    /// The stable hash of the values (not the spans): two runs that drew the same values
    /// made the same decisions.
    pub fn values_hash(&self) -> u64 {
        let mut hasher = StableHasher::new();
        for &value in &self.values {
            hasher.write_u64(value);
        }
        hasher.finish()
    }

    /// Encodes the tape in the file format described at the top of this file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.values.len() + CHECKSUM_LEN + 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(if self.seed.is_some() { FLAG_SEED } else { 0 });
        out.extend_from_slice(&self.seed.unwrap_or(0).to_le_bytes());
        put_varint(&mut out, self.values.len() as u64);
        for &value in &self.values {
            put_varint(&mut out, value);
        }
        put_varint(&mut out, self.spans.len() as u64);
        for span in &self.spans {
            put_varint(&mut out, span.label.len() as u64);
            out.extend_from_slice(span.label.as_bytes());
            put_varint(&mut out, span.start as u64);
            put_varint(&mut out, span.end as u64);
            put_varint(&mut out, u64::from(span.depth));
        }
        let mut hasher = StableHasher::new();
        hasher.write(&out);
        out.extend_from_slice(&hasher.finish().to_le_bytes());
        out
    }

    /// Decodes a tape, checking magic, version, checksum and that every span lies inside
    /// the values.
    pub fn from_bytes(bytes: &[u8]) -> Result<Tape, TapeError> {
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(TapeError::BadMagic);
        }
        if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(TapeError::Truncated);
        }
        let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        let version = u32::from_le_bytes(body[8..12].try_into().expect("four bytes"));
        if version != VERSION {
            return Err(TapeError::UnsupportedVersion(version));
        }
        let mut hasher = StableHasher::new();
        hasher.write(body);
        if hasher.finish().to_le_bytes() != checksum {
            return Err(TapeError::ChecksumMismatch);
        }
        let flags = body[12];
        if flags & !FLAG_SEED != 0 {
            return Err(TapeError::Malformed(format!("unknown flags {flags:#04x}")));
        }
        let seed = u64::from_le_bytes(body[13..21].try_into().expect("eight bytes"));
        let mut reader = Reader {
            bytes: body,
            pos: HEADER_LEN,
        };
        let value_count = reader.count()?;
        let mut values = Vec::with_capacity(value_count);
        for _ in 0..value_count {
            values.push(reader.varint()?);
        }
        let span_count = reader.count()?;
        let mut spans = Vec::with_capacity(span_count);
        for _ in 0..span_count {
            spans.push(reader.span(values.len())?);
        }
        if reader.pos != body.len() {
            return Err(TapeError::Malformed(
                "trailing bytes after the spans".into(),
            ));
        }
        let seed = (flags & FLAG_SEED != 0).then_some(seed);
        Ok(Tape {
            seed,
            values,
            spans,
        })
    }

    /// Writes the tape to `path` (replacing any file there).
    pub fn save(&self, path: &Path) -> Result<(), TapeError> {
        std::fs::write(path, self.to_bytes())?;
        Ok(())
    }

    /// Reads a tape written by `save`.
    pub fn load(path: &Path) -> Result<Tape, TapeError> {
        Tape::from_bytes(&std::fs::read(path)?)
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, TapeError> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = *self.bytes.get(self.pos).ok_or(TapeError::Truncated)?;
            self.pos += 1;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(TapeError::Malformed("varint overflows 64 bits".into()));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(TapeError::Malformed("varint longer than 10 bytes".into()))
    }

    /// A count of items that each take at least one byte, so it cannot exceed what is left
    /// (this keeps a damaged count from reserving absurd memory).
    fn count(&mut self) -> Result<usize, TapeError> {
        let count = self.varint()?;
        if count > (self.bytes.len() - self.pos) as u64 {
            return Err(TapeError::Truncated);
        }
        Ok(count as usize)
    }

    fn span(&mut self, value_count: usize) -> Result<Span, TapeError> {
        let label_len = self.count()?;
        let label = std::str::from_utf8(&self.bytes[self.pos..self.pos + label_len])
            .map_err(|_| TapeError::Malformed("span label is not UTF-8".into()))?
            .to_string();
        self.pos += label_len;
        let start = self.varint()?;
        let end = self.varint()?;
        let depth = self.varint()?;
        if start > end || end > value_count as u64 {
            return Err(TapeError::Malformed(format!(
                "span {label:?} covers {start}..{end} but the tape has {value_count} values"
            )));
        }
        let depth = u32::try_from(depth)
            .map_err(|_| TapeError::Malformed(format!("span depth {depth} too large")))?;
        Ok(Span {
            label: Cow::Owned(label),
            start: start as usize,
            end: end as usize,
            depth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Tape {
        Tape {
            seed: Some(42),
            values: vec![0, 1, 127, 128, 300, u64::MAX, 0],
            spans: vec![
                Span {
                    label: Cow::Borrowed("txn"),
                    start: 0,
                    end: 5,
                    depth: 0,
                },
                Span {
                    label: Cow::Borrowed("fault"),
                    start: 2,
                    end: 4,
                    depth: 1,
                },
            ],
        }
    }

    #[test]
    fn round_trips_values_spans_and_seed() {
        let tape = sample();
        assert_eq!(
            Tape::from_bytes(&tape.to_bytes()).expect("valid tape"),
            tape
        );
        let unseeded = Tape {
            seed: None,
            ..Tape::default()
        };
        assert_eq!(
            Tape::from_bytes(&unseeded.to_bytes()).expect("valid tape"),
            unseeded
        );
    }

    #[test]
    fn small_values_take_one_byte_each() {
        let tape = Tape {
            seed: None,
            values: vec![5; 1000],
            spans: Vec::new(),
        };
        assert_eq!(
            tape.to_bytes().len(),
            HEADER_LEN + 2 + 1000 + 1 + CHECKSUM_LEN
        );
    }

    #[test]
    fn rejects_damage() {
        let bytes = sample().to_bytes();
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN + 2] ^= 1;
        assert!(matches!(
            Tape::from_bytes(&flipped),
            Err(TapeError::ChecksumMismatch)
        ));
        assert!(Tape::from_bytes(&bytes[..bytes.len() - 3]).is_err());
        assert!(matches!(
            Tape::from_bytes(b"NOTATAPE........"),
            Err(TapeError::BadMagic)
        ));
        let mut future = bytes.clone();
        future[8] = 9;
        assert!(matches!(
            Tape::from_bytes(&future),
            Err(TapeError::UnsupportedVersion(9))
        ));
    }

    #[test]
    fn rejects_a_span_outside_the_values_even_with_a_valid_checksum() {
        let mut tape = sample();
        tape.spans[1].end = 99;
        assert!(matches!(
            Tape::from_bytes(&tape.to_bytes()),
            Err(TapeError::Malformed(_))
        ));
    }
}
