//! Transaction generators that draw every decision from a `Draw` source.

pub mod draw;

pub use draw::Draw;
