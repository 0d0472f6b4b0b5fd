//! The oracle: braid's independent judge of simulation histories. It never depends on
//! the engine.
//!
//! - `op`, `logical`: the vocabulary shared with workloads and the simulator.
//! - `history`: events (invokes, completions, nemesis), exported as EDN and JSON lines.
//! - `model`: the online sequential oracle with its crash-recovery rules.
//! - `checkers`: workload checkers (bank, counter, Elle-style list-append).
//! - `violation`: what every judge reports.

// A violation ends the run, so returning it by value costs nothing that matters, and the
// fixed API (`Result<(), Violation>`) reads better than a boxed error.
#![allow(clippy::result_large_err)]

pub mod checkers;
pub mod history;
pub mod logical;
pub mod model;
pub mod op;
pub mod violation;

pub use logical::{ElleTxn, Mop, TxnOutcome};
pub use model::{Claims, Durability, SeqOracle};
pub use op::{CheckpointMode, Key, Op, OpError, OpOutput, OpResult, TxMode, Value};
pub use violation::{Violation, ViolationKind};
