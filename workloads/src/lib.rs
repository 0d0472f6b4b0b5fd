//! braid-workloads: transaction generators. A `Workload` hands out one `TxnProgram` per
//! transaction; a simulator fiber runs the program op by op and hands back what it
//! observed; the workload checks it (bank totals, counter sums, list-append histories).
//! Every decision is drawn from a `Draw`, so runs replay and shrink.
//!
//! One file per workload: `register`, `bank`, `list_append` (format in `list_codec`),
//! `counter`, `churn`, `scan`, `long_reader`, `maintenance` (`checkpoint`, `integrity`).
//! `mix` weighs them; `params` holds the shared knobs; `testing` has fakes for tests.

// A violation ends the run, so returning the oracle's `Violation` by value costs nothing
// that matters; the fixed interface (`Result<(), Violation>`) reads better than a box.
#![allow(clippy::result_large_err)]

pub mod bank;
pub mod churn;
pub mod counter;
pub mod draw;
pub mod list_append;
pub mod list_codec;
pub mod long_reader;
pub mod maintenance;
pub mod mix;
pub mod params;
pub mod program;
pub mod register;
pub mod scan;
pub mod script;
pub mod testing;
mod violation;

pub use draw::Draw;
pub use mix::{KINDS, WorkloadMix, build};
pub use params::WorkloadParams;
pub use program::{Next, Observed, TxnProgram, TxnRecord, Workload};
pub use violation::{Violation, ViolationKind};
