//! What one plugin call's `Store` holds: an empty WASI context, the HTTP
//! context with the call's outbound policy, the memory limiter, and the
//! call's log lines and counters.
//!
//! Log lines are forwarded to `tracing` (target `tayori::plugin`) with the
//! channel's secret values masked.

use std::sync::{Arc, Mutex};

use tayori_core::LogLevel;
use tayori_core::answers::{MAX_LOG_LINE_BYTES, Scrub};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::outbound::OutboundHooks;
use crate::plugin::RequestRecord;

/// Table elements an instance may grow to (function tables of Rust programs
/// are small; this only stops a table bomb).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Who a call is for, carried into log lines and errors.
#[derive(Debug, Clone, Default)]
pub(crate) struct Who {
    pub plugin: String,
    pub version: String,
    pub tenant: Option<String>,
    pub channel: Option<String>,
}

/// What a call's requests and logs were, shared with spawned HTTP tasks.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    pub requests: Vec<RequestRecord>,
}

pub(crate) struct PluginState {
    /// Built on the guest's first WASI call (HTTP, clocks, streams): most
    /// calls without HTTP make none, and building one seeds two random
    /// number generators. It grants nothing either way.
    pub wasi: Option<WasiCtx>,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub hooks: OutboundHooks,
    pub limits: Limits,
    pub who: Who,
    pub logs: Vec<(LogLevel, String)>,
    pub logs_dropped: u32,
    pub max_logs: u32,
    pub secrets: Secrets,
    pub calls: Arc<Mutex<CallLog>>,
}

/// A context that grants nothing: no directories, environment, arguments,
/// stdio or sockets.
fn empty_wasi() -> WasiCtx {
    WasiCtxBuilder::new()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// The channel's secret values, to mask in the plugin's log lines: the
/// values, in the call's config, of the properties the plugin's schema marks
/// `writeOnly` (the same fields the API stores encrypted and never shows).
/// The rule is the core's ([`Scrub`]), the same as for the call's answers.
///
/// Found on the first log line, so a call that logs nothing never parses
/// its config a second time.
pub(crate) struct Secrets {
    fields: Arc<[String]>,
    config: Option<Arc<str>>,
    scrub: Option<Scrub>,
}

impl Secrets {
    pub fn new(fields: Arc<[String]>, config: Option<Arc<str>>) -> Self {
        Self {
            fields,
            config,
            scrub: None,
        }
    }

    /// The call's scrubbing rule.
    pub fn scrub(&mut self) -> &Scrub {
        self.scrub.get_or_insert_with(|| match &self.config {
            Some(config) => Scrub::new(&self.fields, config),
            None => Scrub::default(),
        })
    }

    /// `text` with every secret value replaced by `***`.
    #[cfg(test)]
    pub fn mask(&mut self, text: String) -> String {
        self.scrub().mask(text)
    }
}

impl PluginState {
    pub fn http_view(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: self.wasi.get_or_insert_with(empty_wasi),
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.http_view()
    }
}

impl PluginState {
    /// Keeps one of the plugin's log lines (any contract version's `log`),
    /// masked and cut, and forwards it to `tracing`.
    pub(crate) fn record_log(&mut self, level: LogLevel, message: String) {
        if self.logs.len() as u32 >= self.max_logs {
            self.logs_dropped += 1;
            return;
        }
        // Masked before it is cut (see `Scrub::text`), so that a cut cannot
        // leave part of a secret unmasked.
        let message = self.secrets.scrub().text(message, MAX_LOG_LINE_BYTES);
        let w = &self.who;
        let tenant = w.tenant.as_deref().unwrap_or("-");
        let channel = w.channel.as_deref().unwrap_or("-");
        match level {
            LogLevel::Debug => {
                tracing::debug!(target: "tayori::plugin", plugin = %w.plugin, version = %w.version, tenant, channel, "{message}")
            }
            LogLevel::Info => {
                tracing::info!(target: "tayori::plugin", plugin = %w.plugin, version = %w.version, tenant, channel, "{message}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "tayori::plugin", plugin = %w.plugin, version = %w.version, tenant, channel, "{message}")
            }
            LogLevel::Error => {
                tracing::error!(target: "tayori::plugin", plugin = %w.plugin, version = %w.version, tenant, channel, "{message}")
            }
        }
        self.logs.push((level, message));
    }
}

/// The memory limiter: refuses growth past the cap, remembers the peak and
/// whether the cap was hit (so that the failure is reported as out of memory,
/// not as a bare trap).
#[derive(Debug)]
pub(crate) struct Limits {
    pub memory_limit: usize,
    pub peak_memory: usize,
    pub memory_exceeded: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_exceeded = true;
            wasmtime::bail!(
                "linear memory of {desired} bytes exceeds the limit of {} bytes (now {current})",
                self.memory_limit
            );
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            wasmtime::bail!(
                "table of {desired} elements exceeds the limit of {MAX_TABLE_ELEMENTS}"
            );
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(fields: &[&str], config: &str) -> Secrets {
        let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        Secrets::new(fields.into(), Some(config.into()))
    }

    #[test]
    fn write_only_values_are_masked_and_nothing_else() {
        let mut s = secrets(
            &["token", "pin", "unset", "empty"],
            r#"{"endpoint":"https://x.test","token":"tok-123","pin":4321,"unset":null,"empty":""}"#,
        );
        assert_eq!(
            s.mask("POST https://x.test with Bearer tok-123 (pin 4321)".into()),
            "POST https://x.test with Bearer *** (pin ***)"
        );
        assert_eq!(s.mask("nothing secret here".into()), "nothing secret here");
    }

    #[test]
    fn a_secret_containing_another_is_masked_whole() {
        let mut s = secrets(&["a", "b"], r#"{"a":"abc","b":"abcdef"}"#);
        assert_eq!(s.mask("x abcdef y abc".into()), "x *** y ***");
    }

    #[test]
    fn no_config_or_no_secret_fields_masks_nothing() {
        let mut s = Secrets::new(Vec::new().into(), Some(r#"{"token":"t"}"#.into()));
        assert_eq!(s.mask("t".into()), "t");
        let mut s = Secrets::new(vec!["token".to_string()].into(), None);
        assert_eq!(s.mask("t".into()), "t");
        let mut s = secrets(&["token"], "not json");
        assert_eq!(s.mask("not json".into()), "not json");
    }
}
