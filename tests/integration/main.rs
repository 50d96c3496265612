//! Tayori's integration suites: the real server, real plugins built from
//! `plugins/`, real databases, and loopback fakes of partner platforms.
//! They run as tests of the `tayori` package (see host/tayori/Cargo.toml) so
//! that they can start the real binary.

mod support;

mod plugins_api;
mod sandbox;
