//! Shared helpers: the real server on port 0 with a fresh database, and
//! loopback HTTP servers that stand in for platforms.

pub mod fake;
pub mod server;
