//! The `tayori` service: wiring of the store, the plugin runtime and the
//! HTTP API, and the command line for operators and partners.
//!
//! [`launch`] starts the real server on a listener the caller chose, so tests
//! run exactly what `tayori serve` runs, on port 0.

pub mod cli;
mod client;
mod kit;
mod server;

pub use server::{Launched, ServeConfig, launch, launch_with_key};
pub use tayori_api::SecretKey;
