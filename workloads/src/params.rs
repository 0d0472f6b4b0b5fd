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
    format!("{prefix}{index:08}").into_bytes()
}

/// A value of `len` bytes that carries `tag` (so distinct writes write distinct values when
/// they have room): the tag in decimal, a `/`, then a filler letter.
pub fn value(tag: u64, len: usize) -> Value {
    let mut bytes = format!("{tag}/").into_bytes();
    let filler = b'a' + u8::try_from(tag % 26).expect("below 26");
    bytes.resize(len, filler);
    bytes.truncate(len);
    bytes
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
