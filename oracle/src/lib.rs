//! The oracle: braid's independent judge of simulation histories. It never depends on
//! the engine.

pub mod op;

pub use op::{CheckpointMode, Key, Op, OpError, OpOutput, OpResult, TxMode, Value};
