//! Benchmarks (figures and commands in BENCHMARKS.md), run by `braid bench <name>`, never by `cargo test`: each one
//! prints its figures, the spread over repetitions, and the ratio wherever two things are
//! compared. BENCHMARKS.md lists the commands and the figures measured with them.
//!
//! - `decisions`: decisions per second of the default config on one core (several seeds).
//! - `overhead`: the simulator against the same ops run directly on `MemoryIO`.
//! - `memory`: peak resident memory of a ten-million-decision run.
//! - `engine`: braid's engine on real files, against SQLite with `--features sqlite-bench`.
//! - `canaries`: time to first failure per canary and strategy (`--features canaries`).
//! - `fuzz-scaling`: whole `braid fuzz` commands, `--jobs 1` against `--jobs 2`.
//! - `shrink`: each canary's first failures shrunk: operations and decisions before and
//!   after, against a hand-written reproduction, and the time.

pub mod canaries;
pub mod commands;
pub mod compare;
pub mod decisions;
pub mod engine;
pub mod machine;
pub mod memory;
pub mod overhead;
pub mod shrink;
#[cfg(feature = "sqlite-bench")]
pub mod sqlite;
pub mod stats;
pub mod targets;

pub use stats::Summary;
