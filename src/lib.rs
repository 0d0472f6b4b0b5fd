//! braid: a deterministic simulator for concurrent database connections.
//!
//! `cli` parses the command line; the simulator itself lives in `sim`, configs in `config`.

pub mod artifacts;
pub mod bench;
pub mod campaign;
pub mod cli;
pub mod config;
pub mod diff;
pub mod shrink;
pub mod sim;
pub mod target;
pub mod timeline;
