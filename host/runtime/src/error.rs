//! Errors of plugin calls, naming who failed.

use std::time::Duration;

use crate::state::Who;

/// How a plugin call failed. Each is that call's failure alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallErrorKind {
    /// The call ran past its wall-clock budget.
    Timeout(Duration),
    /// The instance tried to grow its memory past the cap.
    OutOfMemory,
    /// Unbounded recursion.
    StackOverflow,
    /// A trap or a panic in the guest.
    Trap(String),
    /// The plugin broke the contract (outcomes that do not match the batch).
    Contract(String),
    /// No instance slot was free; try again.
    Busy(String),
    /// The component could not be instantiated.
    Instantiate(String),
    /// The plugin does not offer this call (a 0.1.0 plugin's `reply`).
    Unsupported(&'static str),
}

impl CallErrorKind {
    /// A short machine-readable name (`timeout`, `out_of_memory`...).
    pub fn code(&self) -> &'static str {
        match self {
            CallErrorKind::Timeout(_) => "timeout",
            CallErrorKind::OutOfMemory => "out_of_memory",
            CallErrorKind::StackOverflow => "stack_overflow",
            CallErrorKind::Trap(_) => "trap",
            CallErrorKind::Contract(_) => "contract_violation",
            CallErrorKind::Busy(_) => "busy",
            CallErrorKind::Instantiate(_) => "instantiate",
            CallErrorKind::Unsupported(_) => "unsupported",
        }
    }
}

impl std::fmt::Display for CallErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallErrorKind::Timeout(d) => write!(f, "timed out after {d:?}"),
            CallErrorKind::OutOfMemory => {
                f.write_str("ran out of memory (linear memory limit reached)")
            }
            CallErrorKind::StackOverflow => {
                f.write_str("overflowed its stack (unbounded recursion?)")
            }
            CallErrorKind::Trap(t) => write!(f, "trapped: {t}"),
            CallErrorKind::Contract(t) => write!(f, "broke the contract: {t}"),
            CallErrorKind::Busy(t) => write!(f, "could not get an instance slot: {t}"),
            CallErrorKind::Instantiate(t) => write!(f, "could not be instantiated: {t}"),
            CallErrorKind::Unsupported(call) => write!(f, "does not offer `{call}`"),
        }
    }
}

/// A failed plugin call: which plugin and version, for which tenant and
/// channel, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin `{plugin}` {version}{}: {kind}", where_(.tenant, .channel))]
pub struct CallError {
    pub plugin: String,
    pub version: String,
    pub tenant: Option<String>,
    pub channel: Option<String>,
    pub kind: CallErrorKind,
}

fn where_(tenant: &Option<String>, channel: &Option<String>) -> String {
    match (tenant, channel) {
        (Some(t), Some(c)) => format!(" (tenant `{t}`, channel `{c}`)"),
        (Some(t), None) => format!(" (tenant `{t}`)"),
        _ => String::new(),
    }
}

impl CallError {
    pub(crate) fn new(who: &Who, kind: CallErrorKind) -> Self {
        Self {
            plugin: who.plugin.clone(),
            version: who.version.clone(),
            tenant: who.tenant.clone(),
            channel: who.channel.clone(),
            kind,
        }
    }
}
