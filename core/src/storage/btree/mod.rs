//! The B-tree: one ordered keyspace of byte-string keys (1..=255 bytes) and
//! values (at most `page_size / 4` bytes) over the `PageAccess` trait.
//!
//! Every operation is a re-entrant state machine with `step(&mut self, pages)`: `Get`,
//! `Put`, `Delete`, `Scan`, `CreateTree` and `IntegrityCheck`. A put that fits in its leaf
//! edits the leaf image in place (`leaf_edit.rs`); other writes plan their change in memory
//! from the pages they read (`plan.rs`), then reserve, then apply without I/O (`write.rs`).
//! The page layout and the minimum-fill rule are in `node.rs`.

mod create;
mod delete;
mod get;
mod integrity;
mod leaf_edit;
mod leaf_split;
mod node;
mod pack;
mod plan;
mod put;
mod read;
mod scan;
pub mod test_pages;
mod write;

pub use create::CreateTree;
pub use delete::Delete;
pub use get::Get;
pub use integrity::IntegrityCheck;
pub use node::{HEADER_BYTES, MAX_KEY_BYTES, Node, capacity, max_value_bytes, min_fill};
pub use put::Put;
pub use scan::{Rows, Scan};
pub use test_pages::TestPages;
