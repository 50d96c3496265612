//! What a component must be to be published: checked at upload, before
//! anything is stored.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tayori_core::{
    Manifest, PluginVersionRecord, RateWindow, StoreError, is_valid_plugin_id, parse_host_entry,
};
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use crate::contract::{Bound, RawManifest};
use crate::engine::Runtime;
use crate::outbound::HostRule;
use crate::plugin::LoadedPlugin;

/// Interfaces a plugin may import, by name without version. Everything else
/// (notably `wasi:filesystem` and `wasi:sockets`) is refused at upload.
/// The `wasi:cli` ones are linked because Rust's std imports them; the
/// context behind them is empty.
pub const ALLOWED_IMPORTS: &[&str] = &[
    "tayori:plugin/types",
    "tayori:plugin/log",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
];

/// The largest batch a manifest may declare.
const MAX_BATCH_SIZE: u32 = 10_000;
/// The most batches per call a manifest may declare.
const MAX_BATCHES_PER_CALL: u32 = 1_000;

/// Why an upload was refused. Each says what to change.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(
        "the component is {size} bytes, over the upload limit of {limit} bytes ({mib:.1} MiB)",
        mib = *.limit as f64 / f64::from(1 << 20)
    )]
    TooLarge { size: usize, limit: usize },
    #[error("not a WebAssembly binary (it does not start with the wasm magic number)")]
    NotWasm,
    #[error(
        "a core WebAssembly module, not a component: build for the wasm32-wasip2 target (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    #[error("the component does not compile: {0}")]
    Compile(String),
    #[error(
        "the component imports `{0}`, which is outside the tayori:plugin delivery-plugin world (allowed: wasi:http, wasi:io, wasi:clocks, wasi:random, wasi:cli streams and tayori:plugin/log)"
    )]
    ForbiddenImport(String),
    #[error("the component is not a tayori:plugin delivery-plugin (contract {contracts}): {detail}", contracts = tayori_core::CONTRACT_VERSIONS.join(", "))]
    WrongWorld { detail: String },
    #[error("the manifest's {field} is invalid: {message}")]
    Manifest {
        field: &'static str,
        message: String,
    },
    #[error("calling the plugin's manifest() failed: {0}")]
    ManifestCall(String),
    #[error("you may not publish plugin `{0}`")]
    NotPermitted(String),
    #[error(
        "version {version} of plugin `{plugin}` is already published with other bytes (digest {existing}); publish a new version"
    )]
    VersionConflict {
        plugin: String,
        version: String,
        existing: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UploadError {
    /// A short machine-readable code for API answers.
    pub fn code(&self) -> &'static str {
        match self {
            UploadError::TooLarge { .. } => "too_large",
            UploadError::NotWasm => "not_wasm",
            UploadError::CoreModule => "core_module",
            UploadError::Compile(_) => "does_not_compile",
            UploadError::ForbiddenImport(_) => "forbidden_import",
            UploadError::WrongWorld { .. } => "wrong_world",
            UploadError::Manifest { .. } | UploadError::ManifestCall(_) => "invalid_manifest",
            UploadError::NotPermitted(_) => "forbidden",
            UploadError::VersionConflict { .. } => "version_conflict",
            UploadError::Store(_) => "internal",
        }
    }
}

/// A component that passed every check, compiled, with its manifest read.
pub struct Prepared {
    pub record: PluginVersionRecord,
    pub artifact: Vec<u8>,
    pub plugin: Arc<LoadedPlugin>,
}

impl Runtime {
    /// Checks a component as an upload, compiles it (off the async runtime)
    /// and reads its manifest. Nothing is stored.
    pub async fn prepare(self: &Arc<Self>, bytes: &[u8]) -> Result<Prepared, UploadError> {
        let limit = self.config.max_component_bytes;
        if bytes.len() > limit {
            return Err(UploadError::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        if !bytes.starts_with(b"\0asm") {
            return Err(UploadError::NotWasm);
        }
        if wasmparser::Parser::is_core_wasm(bytes) {
            return Err(UploadError::CoreModule);
        }
        if !wasmparser::Parser::is_component(bytes) {
            return Err(UploadError::NotWasm);
        }
        let digest = hex::encode(Sha256::digest(bytes));
        let this = self.clone();
        let owned = bytes.to_vec();
        let (component, artifact) =
            tokio::task::spawn_blocking(move || -> Result<_, UploadError> {
                let component = Component::from_binary(&this.engine, &owned)
                    .map_err(|e| UploadError::Compile(format!("{e:#}")))?;
                let artifact = component
                    .serialize()
                    .map_err(|e| UploadError::Compile(format!("{e:#}")))?;
                Ok((component, artifact))
            })
            .await
            .map_err(|e| UploadError::Compile(format!("compiler task failed: {e}")))??;
        let imported = check_imports(&self.engine, &component)?;
        let instance_pre =
            self.linker
                .instantiate_pre(&component)
                .map_err(|e| UploadError::WrongWorld {
                    detail: format!("{e:#}"),
                })?;
        let bound = Bound::detect(&component, &instance_pre, imported.as_deref())
            .map_err(|detail| UploadError::WrongWorld { detail })?;
        // A provisional record; the manifest fills it in below.
        let mut record = PluginVersionRecord {
            plugin_id: String::new(),
            version: semver::Version::new(0, 0, 0),
            digest,
            contract: bound.version().to_string(),
            size: bytes.len() as u64,
            manifest: placeholder_manifest(),
            published_at: chrono::Utc::now(),
        };
        let plugin = self
            .instantiate_pre(&component, record.clone())
            .map_err(|e| UploadError::WrongWorld { detail: e })?;
        let raw = self
            .call_manifest(&plugin)
            .await
            .result
            .map_err(|e| UploadError::ManifestCall(e.kind.to_string()))?;
        let manifest = check_manifest(raw)?;
        record.plugin_id = manifest.id.clone();
        record.version = manifest.version.clone();
        record.manifest = manifest;
        let plugin = self
            .instantiate_pre(&component, record.clone())
            .map_err(|e| UploadError::WrongWorld { detail: e })?;
        Ok(Prepared {
            record,
            artifact,
            plugin,
        })
    }

    /// Loads a stored, compiled artifact of this engine.
    pub fn load_artifact(
        &self,
        record: &PluginVersionRecord,
        artifact: &[u8],
    ) -> anyhow::Result<Arc<LoadedPlugin>> {
        // SAFETY: artifacts are only ever produced by `Component::serialize`
        // of an engine with the same `engine_key` (checked by the store key),
        // and wasmtime itself refuses artifacts of other engine settings.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(&self.engine, artifact) }?;
        self.instantiate_pre(&component, record.clone())
            .map_err(|e| anyhow::anyhow!(e))
    }

    /// Compiles stored component bytes (when no artifact of this engine is
    /// stored yet); returns the plugin and the new artifact.
    pub async fn compile_stored(
        self: &Arc<Self>,
        record: &PluginVersionRecord,
        bytes: Vec<u8>,
    ) -> anyhow::Result<(Arc<LoadedPlugin>, Vec<u8>)> {
        let this = self.clone();
        let (component, artifact) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let component = Component::from_binary(&this.engine, &bytes)?;
            let artifact = component.serialize()?;
            Ok((component, artifact))
        })
        .await??;
        let plugin = self
            .instantiate_pre(&component, record.clone())
            .map_err(|e| anyhow::anyhow!(e))?;
        Ok((plugin, artifact))
    }

    fn instantiate_pre(
        &self,
        component: &Component,
        record: PluginVersionRecord,
    ) -> Result<Arc<LoadedPlugin>, String> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| format!("{e:#}"))?;
        // The stored contract version chooses the bindings.
        let bound = Bound::bind(component, &pre, &record.contract)?;
        let hosts = record
            .manifest
            .hosts
            .iter()
            .filter_map(|h| HostRule::parse(h).ok())
            .collect();
        let secret_fields = record.manifest.secret_fields().into();
        Ok(Arc::new(LoadedPlugin {
            record,
            pre,
            bound,
            hosts: Arc::new(hosts),
            secret_fields,
        }))
    }
}

/// Refuses imports outside the world; returns the contract version of the
/// `tayori:plugin` interfaces it imports, if it imports any.
fn check_imports(
    engine: &wasmtime::Engine,
    component: &Component,
) -> Result<Option<String>, UploadError> {
    let mut contract = None;
    for (name, item) in component.component_type().imports(engine) {
        let (iface, version) = name.split_once('@').unwrap_or((name, ""));
        let allowed = ALLOWED_IMPORTS.contains(&iface)
            && matches!(item.ty, ComponentItem::ComponentInstance(_));
        let version_ok = if iface.starts_with("tayori:plugin/") {
            let ok = tayori_core::CONTRACT_VERSIONS.contains(&version)
                && contract.as_deref().is_none_or(|c| c == version);
            if ok {
                contract = Some(version.to_string());
            }
            ok
        } else {
            version.starts_with("0.2.")
        };
        if !allowed || !version_ok {
            return Err(UploadError::ForbiddenImport(name.to_string()));
        }
    }
    Ok(contract)
}

fn placeholder_manifest() -> Manifest {
    Manifest {
        id: String::new(),
        name: String::new(),
        version: semver::Version::new(0, 0, 0),
        vendor: String::new(),
        description: String::new(),
        config_schema: serde_json::json!({}),
        hosts: Vec::new(),
        max_batch_size: 1,
        rate_per_second: 1,
        daily_quota: None,
        rate_windows: Vec::new(),
        handles_webhooks: false,
        max_batches_per_call: 1,
        replies: false,
        sets_up_channels: false,
        renders: tayori_core::Renders::default(),
    }
}

/// Checks the manifest a plugin returned and turns it into the host's type.
pub(crate) fn check_manifest(raw: RawManifest) -> Result<Manifest, UploadError> {
    let bad = |field: &'static str, message: String| UploadError::Manifest { field, message };
    if !is_valid_plugin_id(&raw.id) {
        return Err(bad(
            "id",
            format!(
                "`{}` must be 1 to 64 of a-z, 0-9 and `-`, not starting with `-`",
                raw.id
            ),
        ));
    }
    if raw.name.trim().is_empty() {
        return Err(bad("name", "must not be empty".into()));
    }
    let version = semver::Version::parse(&raw.version).map_err(|e| {
        bad(
            "version",
            format!("`{}` is not a semantic version: {e}", raw.version),
        )
    })?;
    let schema: serde_json::Value = serde_json::from_str(&raw.config_schema)
        .map_err(|e| bad("config-schema", format!("not JSON: {e}")))?;
    if !schema.is_object() {
        return Err(bad("config-schema", "must be a JSON object".into()));
    }
    jsonschema::meta::validate(&schema)
        .map_err(|e| bad("config-schema", format!("not a valid JSON Schema: {e}")))?;
    jsonschema::validator_for(&schema)
        .map_err(|e| bad("config-schema", format!("does not compile: {e}")))?;
    for h in &raw.hosts {
        parse_host_entry(h).map_err(|e| bad("hosts", e))?;
    }
    if raw.max_batch_size == 0 || raw.max_batch_size > MAX_BATCH_SIZE {
        return Err(bad(
            "max-batch-size",
            format!("{} is not from 1 to {MAX_BATCH_SIZE}", raw.max_batch_size),
        ));
    }
    if raw.max_batches_per_call == 0 || raw.max_batches_per_call > MAX_BATCHES_PER_CALL {
        return Err(bad(
            "max-batches-per-call",
            format!(
                "{} is not from 1 to {MAX_BATCHES_PER_CALL}",
                raw.max_batches_per_call
            ),
        ));
    }
    if raw.renders.buttons && raw.renders.max_buttons == 0 {
        return Err(bad(
            "max-buttons",
            "must be at least 1 when the plugin renders buttons".into(),
        ));
    }
    if raw.renders.quick_replies && raw.renders.max_quick_replies == 0 {
        return Err(bad(
            "max-quick-replies",
            "must be at least 1 when the plugin renders quick replies".into(),
        ));
    }
    if raw.rate_per_second == 0 {
        return Err(bad("rate-per-second", "must be at least 1".into()));
    }
    if raw
        .rate_windows
        .iter()
        .any(|&(max, seconds)| max == 0 || seconds == 0)
    {
        return Err(bad(
            "rate-windows",
            "each window needs a max and a length of at least 1".into(),
        ));
    }
    Ok(Manifest {
        id: raw.id,
        name: raw.name,
        version,
        vendor: raw.vendor,
        description: raw.description,
        config_schema: schema,
        hosts: raw.hosts,
        max_batch_size: raw.max_batch_size,
        rate_per_second: raw.rate_per_second,
        daily_quota: raw.daily_quota,
        rate_windows: raw
            .rate_windows
            .into_iter()
            .map(|(max, window_seconds)| RateWindow {
                max,
                window_seconds,
            })
            .collect(),
        handles_webhooks: raw.handles_webhooks,
        max_batches_per_call: raw.max_batches_per_call,
        replies: raw.replies,
        sets_up_channels: raw.sets_up_channels,
        renders: raw.renders,
    })
}
