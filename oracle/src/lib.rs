//! The oracle: braid's independent judge of simulation histories. It never depends on
//! the engine.

pub mod logical;
pub mod op;

pub use op::{CheckpointMode, Key, Op, OpError, OpOutput, OpResult, TxMode, Value};
pub use logical::{ElleTxn, Mop, TxnOutcome};
