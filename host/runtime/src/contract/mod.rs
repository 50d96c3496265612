//! The contract versions this host loads, one module each.
//!
//! Each module (`v0_1_0`, `v0_2_0`) holds its version's generated bindings
//! and its adapter onto the version-free types of `tayori-core`; nothing
//! outside this folder names a version's generated types. The version
//! stored with each plugin version chooses the module that loads it
//! ([`Bound::bind`]); at upload the component's exports decide
//! ([`Bound::detect`]). Adding 0.3.0 is a folder under `wit/`, a module
//! here and one arm in each match below.

pub(crate) mod v0_1_0;
pub(crate) mod v0_2_0;

use tayori_core as tc;
use wasmtime::Store;
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentNamedList, Instance, InstancePre, Lift, Linker, Lower,
};

use crate::state::PluginState;

/// An instance being called and its store.
pub(crate) struct Call<'a> {
    pub instance: &'a Instance,
    pub store: &'a mut Store<PluginState>,
}

/// The manifest as a guest returned it, in version-free form, before the
/// host checks it (`checks::check_manifest`).
#[derive(Debug, Clone)]
pub(crate) struct RawManifest {
    pub id: String,
    pub name: String,
    pub version: String,
    pub vendor: String,
    pub description: String,
    pub config_schema: String,
    pub hosts: Vec<String>,
    pub max_batch_size: u32,
    pub max_batches_per_call: u32,
    pub rate_per_second: u32,
    pub daily_quota: Option<u32>,
    /// `(max, window_seconds)`.
    pub rate_windows: Vec<(u32, u32)>,
    pub handles_webhooks: bool,
    pub replies: bool,
    pub sets_up_channels: bool,
    pub renders: tc::Renders,
}

/// A component bound to one contract version: where its exports are.
#[derive(Clone, Copy)]
pub(crate) enum Bound {
    V0_1_0(v0_1_0::Exports),
    V0_2_0(v0_2_0::Exports),
}

impl Bound {
    /// Binds `component` as contract `version` (the stored one).
    pub fn bind(
        component: &Component,
        pre: &InstancePre<PluginState>,
        version: &str,
    ) -> Result<Self, String> {
        match version {
            v0_1_0::VERSION => v0_1_0::Exports::bind(component, pre).map(Bound::V0_1_0),
            v0_2_0::VERSION => v0_2_0::Exports::bind(component, pre).map(Bound::V0_2_0),
            other => Err(format!(
                "contract {other} is not one this host loads ({})",
                tc::CONTRACT_VERSIONS.join(", ")
            )),
        }
    }

    /// Binds an uploaded component to the newest version whose world its
    /// exports match. `imported` is the version of the `tayori:plugin`
    /// interfaces it imports, if it imports any: then only that one.
    pub fn detect(
        component: &Component,
        pre: &InstancePre<PluginState>,
        imported: Option<&str>,
    ) -> Result<Self, String> {
        if let Some(version) = imported {
            return Self::bind(component, pre, version)
                .map_err(|e| format!("as contract {version} (the version it imports): {e}"));
        }
        let mut why = Vec::new();
        for version in tc::CONTRACT_VERSIONS.iter().rev() {
            match Self::bind(component, pre, version) {
                Ok(bound) => return Ok(bound),
                Err(e) => why.push(format!("as {version}: {e}")),
            }
        }
        Err(why.join("; "))
    }

    /// The contract version, as stored with the plugin version.
    pub fn version(&self) -> &'static str {
        match self {
            Bound::V0_1_0(_) => v0_1_0::VERSION,
            Bound::V0_2_0(_) => v0_2_0::VERSION,
        }
    }

    /// Whether one call may carry more than one batch.
    pub fn many_batches(&self) -> bool {
        matches!(self, Bound::V0_2_0(_))
    }

    pub async fn manifest(&self, c: Call<'_>) -> wasmtime::Result<RawManifest> {
        match self {
            Bound::V0_1_0(e) => e.manifest(c).await,
            Bound::V0_2_0(e) => e.manifest(c).await,
        }
    }

    pub async fn validate_config(
        &self,
        c: Call<'_>,
        config: &str,
    ) -> wasmtime::Result<Result<(), tc::ConfigError>> {
        match self {
            Bound::V0_1_0(e) => e.validate_config(c, config).await,
            Bound::V0_2_0(e) => e.validate_config(c, config).await,
        }
    }

    /// `batches` in one call; a 0.1.0 component is given exactly one.
    pub async fn deliver(
        &self,
        c: Call<'_>,
        config: &str,
        batches: &[tc::Batch],
        renders: &tc::Renders,
    ) -> wasmtime::Result<Vec<tc::Outcome>> {
        match self {
            Bound::V0_1_0(e) => {
                let [batch] = batches else {
                    wasmtime::bail!("a 0.1.0 plugin takes one batch per call");
                };
                e.deliver(c, config, batch).await
            }
            Bound::V0_2_0(e) => e.deliver(c, config, batches, renders).await,
        }
    }

    /// `None` when the version has no `reply`.
    pub async fn reply(
        &self,
        c: Call<'_>,
        config: &str,
        replies: &[tc::Reply],
        renders: &tc::Renders,
    ) -> Option<wasmtime::Result<Vec<tc::ReplyOutcome>>> {
        match self {
            Bound::V0_1_0(_) => None,
            Bound::V0_2_0(e) => Some(e.reply(c, config, replies, renders).await),
        }
    }

    /// `None` when the version has no `setup-channel`.
    pub async fn setup_channel(
        &self,
        c: Call<'_>,
        config: &str,
        setup: &tc::ChannelSetup,
    ) -> Option<wasmtime::Result<Result<tc::SetupReport, tc::Failure>>> {
        match self {
            Bound::V0_1_0(_) => None,
            Bound::V0_2_0(e) => Some(e.setup_channel(c, config, setup).await),
        }
    }

    pub async fn handle_webhook(
        &self,
        c: Call<'_>,
        config: &str,
        request: &tc::WebhookRequest,
    ) -> wasmtime::Result<tc::WebhookResult> {
        match self {
            Bound::V0_1_0(e) => e.handle_webhook(c, config, request).await,
            Bound::V0_2_0(e) => e.handle_webhook(c, config, request).await,
        }
    }
}

/// Links the host interfaces of every version (their `log`).
pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    v0_1_0::add_to_linker(linker)?;
    v0_2_0::add_to_linker(linker)?;
    Ok(())
}

pub(crate) fn export_index(
    component: &Component,
    name: &str,
) -> Result<ComponentExportIndex, String> {
    component
        .get_export_index(None, name)
        .ok_or_else(|| format!("the component has no export `{name}`"))
}

/// Calls the export at `index` with `params`; it returns one value (every
/// export of every version does).
pub(crate) async fn call_export<P, R>(
    c: Call<'_>,
    index: &ComponentExportIndex,
    params: P,
) -> wasmtime::Result<R>
where
    P: ComponentNamedList + Lower + Send + Sync,
    R: Lift + Send + Sync + 'static,
{
    let func = c.instance.get_typed_func::<P, (R,)>(&mut *c.store, index)?;
    Ok(func.call_async(&mut *c.store, params).await?.0)
}
