//! braid-turso: Turso's engine (turso_core) driven by braid.
//!
//! Two parts. `io` serves turso_core's `IO` and `File` traits from a braid `IO`, so that in
//! a simulation every read, write, sync and truncate turso issues is a pending operation
//! of the run's simulated I/O, completed (or failed, delayed, torn, lost in a crash) when
//! the scheduler says. `kv` runs braid's key-value ops as SQL on turso, each op a
//! re-entrant step that either finishes, fails, or names the braid completion to wait on.
//! The simulator's `turso` target (behind the root package's `turso` feature) is a thin
//! layer over these two. The target's contract, where it differs from braid's engine, is
//! written in this crate's README.md.

pub mod io;
pub mod kv;

pub use io::TursoIo;
pub use kv::{KvStep, SyncMode, TursoConn, TursoDb, TursoOpener, TursoSettings, op_error};
