//! Plugin versions as the dispatcher's senders: each channel's plugin at its
//! pinned version, the tenant's canary or the active one, called in the
//! sandbox with the channel's decrypted config and its approved hosts.

use std::sync::Arc;

use tayori_core::{Batch, Channel, Manifest, Outcome, Tenant};
use tayori_runtime::{CallContext, LoadedPlugin, Plugins};

use crate::dispatch::{SendError, SendLimits, Sender, Senders};

/// Decrypts a channel's config (secrets included) for a call.
pub type ConfigDecryptor = Arc<dyn Fn(&Channel) -> Result<serde_json::Value, String> + Send + Sync>;

/// The counting windows `(seconds, max)` a channel's sends are held to:
/// the plugin's rate windows, and its daily quota (the channel's override,
/// else the manifest's) as a window of a day from the tenant's midnight.
pub fn send_windows(manifest: &Manifest, channel: &Channel) -> Vec<(u32, u32)> {
    let mut windows: Vec<(u32, u32)> = manifest
        .rate_windows
        .iter()
        .map(|w| (w.window_seconds, w.max))
        .collect();
    if let Some(q) = channel.daily_quota.or(manifest.daily_quota) {
        windows.push((86_400, q));
    }
    windows
}

/// Senders backed by the plugin runtime.
pub struct PluginSenders {
    plugins: Arc<Plugins>,
    decrypt: ConfigDecryptor,
}

impl PluginSenders {
    pub fn new(plugins: Arc<Plugins>, decrypt: ConfigDecryptor) -> Self {
        Self { plugins, decrypt }
    }
}

struct PluginSender {
    plugins: Arc<Plugins>,
    plugin: Arc<LoadedPlugin>,
    ctx: CallContext,
    config: String,
    limits: SendLimits,
}

#[async_trait::async_trait]
impl Senders for PluginSenders {
    async fn sender(&self, tenant: &Tenant, channel: &Channel) -> Result<Arc<dyn Sender>, String> {
        let plugin = self
            .plugins
            .resolve(
                &channel.plugin_id,
                Some(&tenant.id),
                channel.version.as_ref(),
            )
            .ok_or_else(|| match &channel.version {
                Some(v) => format!("plugin `{}` {v} is not loaded", channel.plugin_id),
                None => format!("plugin `{}` has no active version", channel.plugin_id),
            })?;
        let config = (self.decrypt)(channel)?;
        let manifest = &plugin.record.manifest;
        let windows = send_windows(manifest, channel);
        Ok(Arc::new(PluginSender {
            plugins: self.plugins.clone(),
            ctx: CallContext {
                tenant: Some(tenant.id.clone()),
                channel: Some(channel.name.clone()),
                approved_hosts: channel.allowed_hosts.clone(),
                capture: false,
            },
            config: config.to_string(),
            limits: SendLimits {
                max_batch: manifest.max_batch_size.max(1) as usize,
                rate_per_second: channel.rate_per_second.unwrap_or(manifest.rate_per_second),
                windows,
            },
            plugin,
        }))
    }
}

#[async_trait::async_trait]
impl Sender for PluginSender {
    fn version(&self) -> String {
        self.plugin.record.version.to_string()
    }

    fn limits(&self) -> SendLimits {
        self.limits.clone()
    }

    async fn deliver(&self, batch: &Batch) -> Result<Vec<Outcome>, SendError> {
        let called = self
            .plugins
            .runtime()
            .deliver(&self.plugin, &self.ctx, &self.config, batch)
            .await;
        called.result.map_err(|e| SendError(e.to_string()))
    }
}
