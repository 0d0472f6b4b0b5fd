//! The simulator's foundations (the fault model is written down in sim_io/mod.rs): the recorded source of every decision, the
//! simulated I/O backend with its fault model, and the scheduling strategies.
//!
//! How a simulation loop uses them, one decision at a time:
//! 1. `SimIO::begin_decision(step)` (the clock moves to `step`, as with `set_now`, and the
//!    ids and readiness of `SimIO::pending_ops()` go into a reused buffer); build a
//!    `SchedView` from them and the fibers not waiting on I/O. If nothing is enabled but
//!    I/O is held, advance the clock to the earliest `ready_at`.
//! 2. Inside a `Choices` span ("decision"), ask the `Scheduler` (`Strategy::build`).
//! 3. `StepFiber(i)`: re-enter that fiber's state machine once. `CompleteIo(id)`: draw the
//!    outcome (0 = no fault) and call `SimIO::complete`, or inject a fault with `hold`,
//!    `fail_group`, `cancel_group`; callbacks run inside those calls.
//! 4. A crash: `SimIO::crash` with a fate function drawing from `Choices`, then reopen.
//!    A yield injector answering the engine's yield points shares the `Choices` behind a
//!    mutex: never hold that lock while stepping a fiber.
//! 5. Feed every event into a `StableHasher` for the trace hash; at the end save
//!    `Choices::into_tape()` with `Tape::save`. `Choices::replaying_tape` reruns it exactly.
//!
//! Workloads draw through `braid_workloads::Draw`, which `Choices` implements.

pub mod choices;
pub mod fault_draws;
mod fiber;
mod finish;
pub mod hash;
mod nemesis;
mod notes;
pub mod outcome;
pub mod scheduler;
pub mod sim_io;
pub mod simulation;
pub mod structure;
pub mod tape;
mod watch;
pub mod yields;

pub use choices::Choices;
pub use hash::{StableHasher, stable_hash};
pub use outcome::{Failure, FailureKind, Outcome, RunStats};
pub use scheduler::{Decision, IoCandidate, SchedView, Scheduler, Strategy};
pub use sim_io::{
    CrashReport, FaultCounts, IoOutcome, OpKind, PendingOp, SimIO, SimIoError, UnsyncedWrite,
    WriteFate,
};
pub use simulation::{DB_PATH, RunArtifacts, SimOptions, Simulation};
pub use structure::{DecisionRecord, Owner};
pub use tape::{Span, Tape, TapeError};
