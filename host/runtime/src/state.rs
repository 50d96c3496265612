//! What one plugin call's `Store` holds: an empty WASI context, the HTTP
//! context with the call's outbound policy, the memory limiter, and the
//! call's log lines and counters.

use std::sync::{Arc, Mutex};

use tayori_core::LogLevel;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::v0_1_0::log;
use crate::outbound::OutboundHooks;
use crate::plugin::RequestRecord;

/// Longest log line kept; the rest is cut. Bounds what a plugin can make the
/// host hold per line.
const MAX_LOG_LINE: usize = 2048;
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
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub hooks: OutboundHooks,
    pub limits: Limits,
    pub who: Who,
    pub logs: Vec<(LogLevel, String)>,
    pub logs_dropped: u32,
    pub max_logs: u32,
    pub calls: Arc<Mutex<CallLog>>,
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
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.http_view()
    }
}

impl log::Host for PluginState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        if self.logs.len() as u32 >= self.max_logs {
            self.logs_dropped += 1;
            return Ok(());
        }
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let w = &self.who;
        let tenant = w.tenant.as_deref().unwrap_or("-");
        let channel = w.channel.as_deref().unwrap_or("-");
        match level {
            log::Level::Debug => {
                tracing::debug!(target: "tayori::plugin", plugin = %w.plugin, version = %w.version, tenant, channel, "{message}")
            }
            log::Level::Info => {
                tracing::info!(target: "tayori::plugin", plugin = %w.plugin, version = %w.version, tenant, channel, "{message}")
            }
            log::Level::Warn => {
                tracing::warn!(target: "tayori::plugin", plugin = %w.plugin, version = %w.version, tenant, channel, "{message}")
            }
            log::Level::Error => {
                tracing::error!(target: "tayori::plugin", plugin = %w.plugin, version = %w.version, tenant, channel, "{message}")
            }
        }
        self.logs.push((level.into(), message));
        Ok(())
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
