//! The wasmtime sandbox that runs Tayori's delivery plugins.
//!
//! One [`Runtime`] owns one wasmtime `Engine` (pooling allocator, epoch
//! interruption) shared by every plugin. Each plugin version is compiled once
//! and pre-instantiated ([`LoadedPlugin`]); every call gets a fresh `Store`
//! with a wall-clock deadline, a memory cap and an outbound-HTTP policy, so a
//! plugin that loops, explodes or misbehaves fails that call alone.
//!
//! [`Plugins`] is the lifecycle on top: upload checks, compiled artifacts kept
//! by digest and engine, activation, canaries and rollback, swapped atomically.

mod checks;
mod contract;
mod engine;
mod error;
mod lifecycle;
mod outbound;
mod plugin;
mod state;

pub use checks::{ALLOWED_IMPORTS, Prepared, UploadError};
pub use engine::{Runtime, RuntimeConfig};
pub use error::{CallError, CallErrorKind};
pub use lifecycle::{LifecycleError, LoadStats, PluginListing, Plugins, Uploader};
pub use outbound::{HostPolicy, Transport, TransportFuture};
pub use plugin::{CallContext, CallReport, Called, LoadedPlugin, RequestRecord};
