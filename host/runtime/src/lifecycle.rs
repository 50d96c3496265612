//! Plugin lifecycle: upload, load, activate, canary, roll back.
//!
//! The registry is an immutable snapshot behind an `ArcSwap`: a call resolves
//! its plugin version once and holds an `Arc` of it, so an activation or a
//! rollback never disturbs calls in flight, and new calls see the new version
//! at once. The store is the source of truth; [`Plugins::refresh`] rebuilds
//! the snapshot from it (at start, and when another node announces a change).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use semver::Version;
use serde::Serialize;
use tayori_core::{
    Activation, ActivationScope, InsertVersion, PluginStore, PluginVersionRecord, StoreError,
};

use crate::checks::UploadError;
use crate::engine::Runtime;
use crate::plugin::LoadedPlugin;

/// Who is uploading: an operator may publish any plugin id, a partner only its own.
#[derive(Debug, Clone)]
pub enum Uploader {
    Operator,
    Partner { plugins: Vec<String> },
}

impl Uploader {
    fn may_publish(&self, id: &str) -> bool {
        match self {
            Uploader::Operator => true,
            Uploader::Partner { plugins } => plugins.iter().any(|p| p == id),
        }
    }
}

/// Why an activation or rollback was refused.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("plugin `{0}` is not published")]
    UnknownPlugin(String),
    #[error("version {1} of plugin `{0}` is not published")]
    UnknownVersion(String, Version),
    #[error("plugin `{0}` has no earlier activation to roll back to{1}")]
    NothingToRollBack(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Default)]
struct Snapshot {
    versions: HashMap<String, BTreeMap<Version, Arc<LoadedPlugin>>>,
    active: HashMap<String, Version>,
    canaries: HashMap<String, BTreeMap<String, Version>>,
}

/// One plugin as listed by the API.
#[derive(Debug, Clone, Serialize)]
pub struct PluginListing {
    pub id: String,
    /// The version every tenant without a canary gets.
    pub active_version: Option<Version>,
    /// Tenant → version, for tenants on a canary.
    pub canaries: BTreeMap<String, Version>,
    pub versions: Vec<PluginVersionRecord>,
}

/// How this node got its plugin versions since it started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LoadStats {
    /// Versions loaded from a stored compiled artifact.
    pub from_artifact: usize,
    /// Versions compiled from their bytes (no artifact for this engine yet).
    pub compiled: usize,
}

/// The plugin registry and lifecycle of one host node.
pub struct Plugins {
    runtime: Arc<Runtime>,
    stats: std::sync::Mutex<LoadStats>,
    store: Arc<dyn PluginStore>,
    snapshot: ArcSwap<Snapshot>,
    /// Serialises changes on this node (the store serialises across nodes).
    change: tokio::sync::Mutex<()>,
    /// Counts the snapshots published (see [`Plugins::changes`]).
    published: tokio::sync::watch::Sender<u64>,
}

impl Plugins {
    /// Loads every stored version (from stored artifacts; compiling and
    /// storing an artifact only when this engine has none) and the
    /// activations in force.
    pub async fn open(
        runtime: Arc<Runtime>,
        store: Arc<dyn PluginStore>,
    ) -> anyhow::Result<Arc<Self>> {
        let this = Arc::new(Self {
            runtime,
            stats: Default::default(),
            store,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            change: tokio::sync::Mutex::new(()),
            published: tokio::sync::watch::Sender::new(0),
        });
        this.refresh().await?;
        Ok(this)
    }

    /// Marks every new snapshot of versions and activations this node
    /// publishes (an upload, an activation, a rollback, a reload after
    /// another node's change): `changed()` on the receiver wakes then.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.published.subscribe()
    }

    /// How versions were loaded since start (a restart should compile none).
    pub fn load_stats(&self) -> LoadStats {
        *self.stats.lock().expect("stats lock")
    }

    /// The runtime that runs the plugins.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Re-reads versions and activations from the store; loads versions this
    /// node has not loaded yet.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let _guard = self.change.lock().await;
        self.rebuild(None).await
    }

    /// Rebuilds the snapshot from the store. `fresh` is a version this node
    /// has just compiled (an upload), used as is.
    async fn rebuild(&self, fresh: Option<&Arc<LoadedPlugin>>) -> anyhow::Result<()> {
        let current = self.snapshot.load_full();
        let records = self.store.plugin_versions().await?;
        let mut versions: HashMap<String, BTreeMap<Version, Arc<LoadedPlugin>>> = HashMap::new();
        for record in records {
            let known = current
                .versions
                .get(&record.plugin_id)
                .and_then(|v| v.get(&record.version));
            let loaded = match (known, fresh) {
                (Some(p), _) if p.record.digest == record.digest => p.clone(),
                (_, Some(p)) if p.record.digest == record.digest => Arc::new(LoadedPlugin {
                    // The stored record (its publication time) with the fresh compilation.
                    record: record.clone(),
                    pre: p.pre.clone(),
                    bound: p.bound,
                    hosts: p.hosts.clone(),
                    secret_fields: p.secret_fields.clone(),
                }),
                _ => self.load(&record).await?,
            };
            versions
                .entry(record.plugin_id.clone())
                .or_default()
                .insert(record.version.clone(), loaded);
        }
        let mut active = HashMap::new();
        let mut canaries: HashMap<String, BTreeMap<String, Version>> = HashMap::new();
        for a in self.store.active_plugins().await? {
            match a.scope {
                ActivationScope::All => {
                    active.insert(a.plugin_id, a.version);
                }
                ActivationScope::Tenant(t) => {
                    canaries
                        .entry(a.plugin_id)
                        .or_default()
                        .insert(t, a.version);
                }
            }
        }
        self.snapshot.store(Arc::new(Snapshot {
            versions,
            active,
            canaries,
        }));
        self.published.send_modify(|n| *n += 1);
        Ok(())
    }

    async fn load(&self, record: &PluginVersionRecord) -> anyhow::Result<Arc<LoadedPlugin>> {
        let key = self.runtime.engine_key();
        if let Some(artifact) = self.store.plugin_artifact(&record.digest, key).await? {
            match self.runtime.load_artifact(record, &artifact) {
                Ok(p) => {
                    self.stats.lock().expect("stats lock").from_artifact += 1;
                    return Ok(p);
                }
                Err(e) => {
                    tracing::warn!(plugin = %record.plugin_id, version = %record.version, "stored artifact unusable, compiling again: {e:#}")
                }
            }
        }
        let bytes = self
            .store
            .plugin_bytes(&record.digest)
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the bytes of plugin `{}` {} are missing",
                    record.plugin_id,
                    record.version
                )
            })?;
        tracing::info!(plugin = %record.plugin_id, version = %record.version, "compiling plugin (no artifact for this engine)");
        let (plugin, artifact) = self.runtime.compile_stored(record, bytes).await?;
        self.store
            .put_plugin_artifact(&record.digest, key, &artifact)
            .await?;
        self.stats.lock().expect("stats lock").compiled += 1;
        Ok(plugin)
    }

    /// Checks, compiles, stores and publishes a component. The first version
    /// of a plugin id is activated for all tenants; later versions wait for
    /// an operator's activation. Uploading the same bytes again is a no-op
    /// (`created` is false).
    pub async fn upload(
        &self,
        bytes: &[u8],
        uploader: &Uploader,
    ) -> Result<(PluginVersionRecord, bool), UploadError> {
        let prepared = self.runtime.prepare(bytes).await?;
        let record = prepared.record;
        if !uploader.may_publish(&record.plugin_id) {
            return Err(UploadError::NotPermitted(record.plugin_id));
        }
        let _guard = self.change.lock().await;
        let created = match self.store.insert_plugin_version(&record, bytes).await? {
            InsertVersion::Inserted => true,
            InsertVersion::AlreadyPresent => false,
            InsertVersion::DifferentBytes(existing) => {
                return Err(UploadError::VersionConflict {
                    plugin: record.plugin_id,
                    version: record.version.to_string(),
                    existing,
                });
            }
        };
        self.store
            .put_plugin_artifact(
                &record.digest,
                self.runtime.engine_key(),
                &prepared.artifact,
            )
            .await?;
        let snap = self.snapshot.load();
        let first = !snap.active.contains_key(&record.plugin_id)
            && !snap.versions.contains_key(&record.plugin_id);
        if first {
            self.store
                .activate_plugin(&record.plugin_id, &record.version, &ActivationScope::All)
                .await?;
        }
        self.rebuild(Some(&prepared.plugin))
            .await
            .map_err(|e| StoreError::Backend(format!("{e:#}")))?;
        let stored = self
            .snapshot
            .load()
            .versions
            .get(&record.plugin_id)
            .and_then(|v| v.get(&record.version))
            .map(|p| p.record.clone());
        Ok((stored.unwrap_or(record), created))
    }

    /// Activates a version for all tenants (`tenants` empty) or as a canary
    /// for the given tenants.
    pub async fn activate(
        &self,
        plugin: &str,
        version: &Version,
        tenants: &[String],
    ) -> Result<Vec<Activation>, LifecycleError> {
        let _guard = self.change.lock().await;
        {
            let snap = self.snapshot.load();
            let versions = snap
                .versions
                .get(plugin)
                .ok_or_else(|| LifecycleError::UnknownPlugin(plugin.into()))?;
            if !versions.contains_key(version) {
                return Err(LifecycleError::UnknownVersion(
                    plugin.into(),
                    version.clone(),
                ));
            }
        }
        let mut done = Vec::new();
        for scope in scopes(tenants) {
            done.push(self.store.activate_plugin(plugin, version, &scope).await?);
        }
        self.rebuild(None)
            .await
            .map_err(|e| StoreError::Backend(format!("{e:#}")))?;
        Ok(done)
    }

    /// Undoes the latest activation for all tenants (`tenants` empty) or for
    /// each given tenant. Returns what is in force afterwards.
    pub async fn rollback(
        &self,
        plugin: &str,
        tenants: &[String],
    ) -> Result<Vec<Option<Activation>>, LifecycleError> {
        let _guard = self.change.lock().await;
        if !self.snapshot.load().versions.contains_key(plugin) {
            return Err(LifecycleError::UnknownPlugin(plugin.into()));
        }
        let mut now = Vec::new();
        for scope in scopes(tenants) {
            let before = self.snapshot.load().active.get(plugin).cloned();
            match self.store.rollback_plugin(plugin, &scope).await {
                // Rolling back the only activation for all tenants would leave
                // the plugin with no version at all: undo and refuse.
                Ok(None) if scope == ActivationScope::All => {
                    if let Some(v) = before {
                        self.store
                            .activate_plugin(plugin, &v, &ActivationScope::All)
                            .await?;
                    }
                    return Err(LifecycleError::NothingToRollBack(
                        plugin.into(),
                        String::new(),
                    ));
                }
                Ok(a) => now.push(a),
                Err(StoreError::NotFound(_)) => {
                    let whom = match &scope {
                        ActivationScope::All => String::new(),
                        ActivationScope::Tenant(t) => format!(" for tenant `{t}`"),
                    };
                    return Err(LifecycleError::NothingToRollBack(plugin.into(), whom));
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.rebuild(None)
            .await
            .map_err(|e| StoreError::Backend(format!("{e:#}")))?;
        Ok(now)
    }

    /// The version a call for `tenant` should use: the pinned version if
    /// given, else the tenant's canary, else the active version.
    pub fn resolve(
        &self,
        plugin: &str,
        tenant: Option<&str>,
        pin: Option<&Version>,
    ) -> Option<Arc<LoadedPlugin>> {
        let snap = self.snapshot.load();
        let versions = snap.versions.get(plugin)?;
        let version = match pin {
            Some(v) => v,
            None => tenant
                .and_then(|t| snap.canaries.get(plugin).and_then(|c| c.get(t)))
                .or_else(|| snap.active.get(plugin))?,
        };
        versions.get(version).cloned()
    }

    /// A specific version, active or not.
    pub fn version(&self, plugin: &str, version: &Version) -> Option<Arc<LoadedPlugin>> {
        self.snapshot
            .load()
            .versions
            .get(plugin)?
            .get(version)
            .cloned()
    }

    /// Every plugin with its versions and activations.
    pub fn list(&self) -> Vec<PluginListing> {
        let snap = self.snapshot.load();
        let mut out: Vec<PluginListing> = snap
            .versions
            .iter()
            .map(|(id, versions)| PluginListing {
                id: id.clone(),
                active_version: snap.active.get(id).cloned(),
                canaries: snap.canaries.get(id).cloned().unwrap_or_default(),
                versions: versions.values().map(|p| p.record.clone()).collect(),
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

fn scopes(tenants: &[String]) -> Vec<ActivationScope> {
    if tenants.is_empty() {
        vec![ActivationScope::All]
    } else {
        tenants
            .iter()
            .cloned()
            .map(ActivationScope::Tenant)
            .collect()
    }
}
