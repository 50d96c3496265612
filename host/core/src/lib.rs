//! Tayori's domain, free of any runtime, database or web framework.
//!
//! Everything above the stores and the wasm runtime speaks in these types: the
//! plugin contract's values as the host sees them ([`plugin`]), the domain of
//! tenants, channels, subscribers, catalog and tokens ([`domain`]), and the
//! traits that the SQLite and PostgreSQL stores implement ([`store`]).

pub mod console;
pub mod content;
pub mod domain;
pub mod messenger;
pub mod plugin;
pub mod schedule;
pub mod store;

pub use console::{
    AuditEntry, ConsoleAccount, ConsoleInvitation, ConsoleRole, ConsoleSession, ConsoleStore,
    FailedSignIn, NewAuditEntry, NewConsoleAccount, NewConsoleInvitation, Permission,
};
pub use domain::*;
pub use messenger::Messenger;
pub use plugin::*;
pub use store::*;
