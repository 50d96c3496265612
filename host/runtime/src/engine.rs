//! The one wasmtime engine, its limits, and the epoch ticker.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::outbound::{self, HostPolicy, Transport};
use crate::state::PluginState;

/// How often the engine's epoch advances. A CPU-bound guest holds its tokio
/// worker for at most one tick before it yields.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The sandbox's limits. Every call of every plugin runs under them.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Wall-clock budget of one call (`deliver`, `handle-webhook`, ...),
    /// HTTP included.
    pub call_timeout: Duration,
    /// Linear-memory cap per instance.
    pub memory_limit: usize,
    /// Outbound requests one call may make.
    pub max_requests_per_call: u32,
    /// Time one outbound request may take, connect to last byte.
    pub request_timeout: Duration,
    /// Largest outbound response body a plugin is handed.
    pub max_response_bytes: usize,
    /// Largest outbound request body a plugin may send.
    pub max_request_bytes: usize,
    /// Largest component accepted at upload.
    pub max_component_bytes: usize,
    /// Log lines kept per call; the rest are counted and dropped.
    pub max_log_lines_per_call: u32,
    /// Concurrent plugin instances (the pooling allocator's slots).
    pub max_instances: u32,
    /// Who may be reached besides what a channel approves (tests and the
    /// partner kit use loopback servers).
    pub policy: HostPolicy,
    /// Where permitted requests go instead of the network: `None` in
    /// production; the partner kit's fake platform in `tayori plugin test`.
    /// Every check before the network (manifest, approval, request cap,
    /// sizes, timeout) still applies.
    pub transport: Option<Arc<dyn Transport>>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(30),
            memory_limit: 64 << 20,
            max_requests_per_call: 1_000,
            request_timeout: Duration::from_secs(10),
            max_response_bytes: 1 << 20,
            max_request_bytes: 1 << 20,
            // A plugin in JavaScript or Python carries its language's
            // runtime: componentize-js (StarlingMonkey) components start at
            // about 12.7 MiB, componentize-py (CPython and the standard
            // library it snapshots) at about 18.2 MiB. 24 MiB leaves a Python
            // plugin room for its own code and pure-Python packages
            // (docs/plugins.md, "Python plugins").
            max_component_bytes: 24 << 20,
            max_log_lines_per_call: 100,
            max_instances: 256,
            policy: HostPolicy::default(),
            transport: None,
        }
    }
}

/// The wasm engine and everything shared by all plugins.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<PluginState>,
    pub(crate) config: RuntimeConfig,
    pub(crate) http: reqwest::Client,
    engine_key: String,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("engine_key", &self.engine_key)
            .field("config", &self.config)
            .finish()
    }
}

impl Runtime {
    /// Builds the engine, the linker and the outbound HTTP client, and
    /// starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Arc<Self>> {
        let engine = Engine::new(&engine_config(&config)?)
            .map_err(|e| anyhow::anyhow!("creating the wasm engine: {e:#}"))?;
        let mut linker = Linker::<PluginState>::new(&engine);
        // All of WASI is linked so that a component built with Rust's std
        // links, but the context grants nothing: no preopened directories,
        // no environment, no arguments, no stdio, no sockets. Upload refuses
        // components importing filesystem or sockets in the first place.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        // Our own `outgoing-handler.handle` over the one just added, so that
        // a request to a host that is not allowed is refused before any byte
        // is written.
        outbound::add_guarded_handler(&mut linker)?;
        // Every contract version's own host interfaces.
        crate::contract::add_to_linker(&mut linker)?;

        let http = outbound::client(&config)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!(
            "wasmtime-{}-{:016x}",
            env!("CARGO_PKG_VERSION"),
            hasher.finish()
        );
        let ticker = EpochTicker::start(engine.clone());
        Ok(Arc::new(Self {
            engine,
            linker,
            config,
            http,
            engine_key,
            _ticker: ticker,
        }))
    }

    /// The key under which compiled artifacts of this engine are stored: an
    /// artifact compiled with other settings or another wasmtime never loads.
    pub fn engine_key(&self) -> &str {
        &self.engine_key
    }

    /// The limits in force.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }
}

fn engine_config(rc: &RuntimeConfig) -> anyhow::Result<Config> {
    let mut pool = PoolingAllocationConfig::new();
    let n = rc.max_instances.max(1);
    pool.total_component_instances(n)
        // A Rust component holds several core instances (the program, the
        // WASI adapter shims): leave room for four each.
        .total_core_instances(n * 4)
        .total_memories(n * 2)
        .total_tables(n * 4)
        .total_stacks(n)
        .max_memory_size(rc.memory_limit)
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(2 << 20)
        .pagemap_scan(Enabled::Auto);
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .epoch_interruption(true)
        .concurrency_support(false)
        .max_wasm_stack(1 << 20);
    Ok(config)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("tayori-epoch".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
