//! Connections and transactions (the lock protocol is in connection.rs): the public API the simulator and outside
//! tests drive. `Database` is shared; each `Connection` runs one transaction at a time and
//! executes `Op`s as re-entrant state machines.

mod connection;
mod database;
mod op;
mod step;
mod txn;

pub use connection::Connection;
pub use database::{Database, Opener};
pub use op::{CheckpointMode, CheckpointOutcome, Op, OpClaims, Output, TxMode};
