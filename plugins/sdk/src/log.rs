//! Structured logs through the host.
//!
//! A plugin has no stdout worth reading: the host keeps these lines with the
//! tenant, channel, plugin and version of the call, and keeps a bounded number
//! per call. Never log a secret (a token, a config's `writeOnly` field).
//!
//! On the native target (unit tests) the lines go to stderr.

/// Log a line at debug level.
pub fn debug(message: impl AsRef<str>) {
    imp::log(Level::Debug, message.as_ref());
}

/// Log a line at info level.
pub fn info(message: impl AsRef<str>) {
    imp::log(Level::Info, message.as_ref());
}

/// Log a line at warn level.
pub fn warn(message: impl AsRef<str>) {
    imp::log(Level::Warn, message.as_ref());
}

/// Log a line at error level.
pub fn error(message: impl AsRef<str>) {
    imp::log(Level::Error, message.as_ref());
}

#[derive(Debug, Clone, Copy)]
enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;
    use crate::__private::bindings::tayori::plugin::log as wit;

    pub(super) fn log(level: Level, message: &str) {
        let level = match level {
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        };
        wit::log(level, message);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Level;

    pub(super) fn log(level: Level, message: &str) {
        eprintln!("[{level:?}] {message}");
    }
}
