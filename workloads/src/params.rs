//! `WorkloadParams`: the knobs every workload shares, with per-kind defaults, and the small
//! drawing helpers all generators use. Every helper maps draw 0 to the simplest choice:
//! the first key, the shortest value, the fewest ops, a deferred begin, a commit.

use braid_oracle::{Key, TxMode, Value};

use crate::draw::Draw;

/// Parameters of one workload instance. Probabilities are parts per million (0..=1_000_000).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadParams {
    /// Keys in the pool (accounts for `bank`, active lists for `list-append`). At least 1.
    pub key_count: u64,
    /// Shortest value written, in bytes.
    pub value_bytes_min: usize,
    /// Longest value written, in bytes (the engine accepts at most page_size / 4).
    pub value_bytes_max: usize,
    /// Fewest ops between begin and commit (at least 1).
    pub txn_ops_min: u32,
    /// Most ops between begin and commit (at least `txn_ops_min`).
    pub txn_ops_max: u32,
    /// Chance that an op (or, for `bank` and `counter`, a whole transaction) only reads.
    pub read_ppm: u32,
    /// Chance that a transaction begins `Immediate` rather than `Deferred`.
    pub immediate_ppm: u32,
    /// Chance that a transaction ends with `Rollback` rather than `Commit`.
    pub rollback_ppm: u32,
    /// `bank`: every account's balance before any transfer. `counter`: largest increment.
    pub amount: i64,
    /// `scan` and `long-reader`: most rows one scan may return (at least 1).
    pub scan_limit_max: usize,
    /// `long-reader`: most turns it holds its snapshot between its two reading phases.
    pub hold_turns_max: u32,
    /// `list-append`: appends per key before the key retires for a fresh one (at least 1).
    pub appends_per_key_max: u32,
}

impl WorkloadParams {
    /// The defaults for `kind`, or `None` for an unknown kind.
    pub fn for_kind(kind: &str) -> Option<WorkloadParams> {
        let base = WorkloadParams {
            key_count: 16,
            value_bytes_min: 1,
            value_bytes_max: 64,
            txn_ops_min: 1,
            txn_ops_max: 4,
            read_ppm: 500_000,
            immediate_ppm: 100_000,
            rollback_ppm: 20_000,
            amount: 0,
            scan_limit_max: 16,
            hold_turns_max: 0,
            appends_per_key_max: 16,
        };
        let params = match kind {
            "register" => WorkloadParams {
                key_count: 4,
                value_bytes_max: 16,
                ..base
            },
            "bank" => WorkloadParams {
                key_count: 8,
                read_ppm: 200_000,
                amount: 100,
                ..base
            },
            "list-append" => WorkloadParams {
                key_count: 8,
                txn_ops_max: 4,
                ..base
            },
            "counter" => WorkloadParams {
                key_count: 1,
                read_ppm: 100_000,
                amount: 5,
                ..base
            },
            "churn" => WorkloadParams {
                key_count: 256,
                value_bytes_max: 128,
                txn_ops_max: 8,
                read_ppm: 100_000,
                ..base
            },
            "scan" => WorkloadParams {
                key_count: 64,
                read_ppm: 700_000,
                ..base
            },
            "long-reader" => WorkloadParams {
                read_ppm: 900_000,
                immediate_ppm: 0,
                rollback_ppm: 0,
                hold_turns_max: 64,
                ..base
            },
            "checkpoint" | "integrity" => base,
            _ => return None,
        };
        Some(params)
    }

    /// Checks the bounds documented on each field; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let ppm = [
            ("read_ppm", self.read_ppm),
            ("immediate_ppm", self.immediate_ppm),
            ("rollback_ppm", self.rollback_ppm),
        ];
        for (name, value) in ppm {
            if value > 1_000_000 {
                return Err(format!("{name}: expected at most 1000000, got {value}"));
            }
        }
        if self.key_count == 0 {
            return Err("key_count: expected at least 1".into());
        }
        if self.value_bytes_min > self.value_bytes_max {
            return Err("value_bytes_min: expected at most value_bytes_max".into());
        }
        if self.txn_ops_min == 0 || self.txn_ops_min > self.txn_ops_max {
            return Err("txn_ops_min: expected 1..=txn_ops_max".into());
        }
        if self.scan_limit_max == 0 {
            return Err("scan_limit_max: expected at least 1".into());
        }
        if self.appends_per_key_max == 0 {
            return Err("appends_per_key_max: expected at least 1".into());
        }
        if self.amount < 0 {
            return Err("amount: expected at least 0".into());
        }
        Ok(())
    }
}

/// A value in `min..=max`; draw 0 gives `min`.
pub fn draw_between(draw: &mut dyn Draw, min: u64, max: u64) -> u64 {
    assert!(min <= max, "draw_between: min {min} > max {max}");
    min + draw.draw(max - min + 1)
}

/// How a transaction begins; draw 0 gives `Deferred`.
pub fn draw_begin(draw: &mut dyn Draw, params: &WorkloadParams) -> TxMode {
    if draw.chance(params.immediate_ppm) {
        TxMode::Immediate
    } else {
        TxMode::Deferred
    }
}

/// Whether a transaction ends with `Rollback`; draw 0 gives commit.
pub fn draw_rollback(draw: &mut dyn Draw, params: &WorkloadParams) -> bool {
    draw.chance(params.rollback_ppm)
}

/// How many ops a transaction runs; draw 0 gives `txn_ops_min`.
pub fn draw_txn_ops(draw: &mut dyn Draw, params: &WorkloadParams) -> u32 {
    let ops = draw_between(draw, params.txn_ops_min.into(), params.txn_ops_max.into());
    u32::try_from(ops).expect("bounded by txn_ops_max, a u32")
}

/// The index of a key in the pool; draw 0 gives the first key.
pub fn draw_key_index(draw: &mut dyn Draw, params: &WorkloadParams) -> u64 {
    draw.draw(params.key_count)
}

/// The key of pool entry `index` under `prefix`. Fixed-width so byte order is index order.
pub fn key(prefix: &str, index: u64) -> Key {
    let mut bytes = Vec::with_capacity(prefix.len() + KEY_INDEX_DIGITS.max(20));
    push_key(&mut bytes, prefix, index);
    bytes
}

/// Appends the key of pool entry `index` under `prefix` to `out` (the bytes `key` returns),
/// so a caller comparing many keys can reuse one buffer.
pub fn push_key(out: &mut Vec<u8>, prefix: &str, index: u64) {
    out.extend_from_slice(prefix.as_bytes());
    push_decimal(out, index, KEY_INDEX_DIGITS);
}

/// A value of `len` bytes that carries `tag` (so distinct writes write distinct values when
/// they have room): the tag in decimal, a `/`, then a filler letter.
pub fn value(tag: u64, len: usize) -> Value {
    let mut bytes = Vec::with_capacity(len.max(21));
    push_decimal(&mut bytes, tag, 1);
    bytes.push(b'/');
    let filler = b'a' + u8::try_from(tag % 26).expect("below 26");
    bytes.resize(len, filler);
    bytes.truncate(len);
    bytes
}

/// Digits of a key's pool index: zero-padded to this width, wider only past 99,999,999.
const KEY_INDEX_DIGITS: usize = 8;

/// Appends `n` in decimal, zero-padded on the left to at least `min_width` digits: the bytes
/// `format!("{n:0min_width$}")` would give, without building a `String`.
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64, min_width: usize) {
    // u64::MAX has 20 digits; every width braid asks for is below that.
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + u8::try_from(n % 10).expect("a digit is below 10");
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let written = digits.len() - start;
    out.extend(std::iter::repeat_n(b'0', min_width.saturating_sub(written)));
    out.extend_from_slice(&digits[start..]);
}

/// A value with a drawn length; draw 0 gives the shortest.
pub fn draw_value(draw: &mut dyn Draw, params: &WorkloadParams, tag: u64) -> Value {
    let min = params.value_bytes_min as u64;
    let len = draw_between(draw, min, params.value_bytes_max as u64);
    value(
        tag,
        usize::try_from(len).expect("bounded by value_bytes_max, a usize"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NUMBERS: [u64; 12] = [
        0,
        1,
        9,
        10,
        255,
        1_000,
        12_345_678,
        99_999_999,
        100_000_000,
        4_294_967_296,
        u64::MAX - 1,
        u64::MAX,
    ];

    #[test]
    fn key_bytes_equal_the_zero_padded_decimal_format() {
        for prefix in ["", "w0/", "w12/"] {
            for index in NUMBERS {
                assert_eq!(
                    key(prefix, index),
                    format!("{prefix}{index:08}").into_bytes(),
                    "prefix {prefix:?}, index {index}"
                );
            }
        }
    }

    #[test]
    fn value_bytes_equal_the_tag_format_resized_to_len() {
        for tag in NUMBERS {
            for len in [0, 1, 2, 5, 21, 22, 64, 128] {
                let mut expected = format!("{tag}/").into_bytes();
                let filler = b'a' + u8::try_from(tag % 26).expect("below 26");
                expected.resize(len, filler);
                expected.truncate(len);
                assert_eq!(value(tag, len), expected, "tag {tag}, len {len}");
            }
        }
    }

    #[test]
    fn push_decimal_pads_to_width_and_appends() {
        let mut out = b"x".to_vec();
        push_decimal(&mut out, 42, 5);
        push_decimal(&mut out, 123_456, 3);
        push_decimal(&mut out, 0, 0);
        assert_eq!(out, b"x000421234560");
    }
}
