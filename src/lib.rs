//! braid: a deterministic simulator for concurrent database connections.
