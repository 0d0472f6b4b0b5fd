//! Workload checkers that judge the meaning of data above the key-value layer.
//!
//! - `bank`: the total over all accounts is conserved and no account goes missing.
//! - `counter`: a counter's value lies between its committed and possible increments.
//! - `elle`: an Elle-style list-append checker (dependency cycles and read anomalies).

pub mod bank;
pub mod counter;
pub mod elle;

pub use bank::BankChecker;
pub use counter::CounterChecker;
pub use elle::{Anomaly, AnomalyKind, ElleReport, check_list_append};
