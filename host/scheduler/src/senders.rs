//! Plugin versions as the dispatcher's senders: each channel's plugin at its
//! pinned version, the tenant's canary or the active one, called in the
//! sandbox with the channel's decrypted config and its approved hosts.

use std::sync::Arc;

use tayori_core::{Batch, Channel, Manifest, Outcome, Tenant};
use tayori_runtime::{CallContext, LoadedPlugin, Plugins};

use crate::dispatch::{SendError, SendLimits, Sender, Senders};

/// Decrypts a channel's config (secrets included) for a call.
pub type ConfigDecryptor = Arc<dyn Fn(&Channel) -> Result<serde_json::Value, String> + Send + Sync>;

/// The counting windows `(seconds, max)` a channel's sends are held to,
/// shortest first: the plugin's rate windows, and its daily quota (the
/// channel's override, else the manifest's) as a window of a day from the
/// tenant's midnight. Windows of one length are one window with the
/// smallest maximum: the store keeps one counter per channel and length,
/// so X's 1,000 a day and a channel's quota of 300 a day are 300 a day,
/// not two counters of the same sends.
pub fn send_windows(manifest: &Manifest, channel: &Channel) -> Vec<(u32, u32)> {
    let mut windows: std::collections::BTreeMap<u32, u32> = std::collections::BTreeMap::new();
    let daily = channel
        .daily_quota
        .or(manifest.daily_quota)
        .map(|q| (86_400, q));
    let declared = manifest
        .rate_windows
        .iter()
        .map(|w| (w.window_seconds, w.max));
    for (seconds, max) in declared.chain(daily) {
        windows
            .entry(seconds)
            .and_modify(|m| *m = (*m).min(max))
            .or_insert(max);
    }
    windows.into_iter().collect()
}

/// Senders backed by the plugin runtime.
pub struct PluginSenders {
    plugins: Arc<Plugins>,
    decrypt: ConfigDecryptor,
    threads: Option<Arc<CallThreads>>,
}

impl PluginSenders {
    pub fn new(plugins: Arc<Plugins>, decrypt: ConfigDecryptor) -> Self {
        let threads = match CallThreads::start() {
            Ok(t) => Some(Arc::new(t)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start plugin call threads; calling on the dispatcher's");
                None
            }
        };
        Self {
            plugins,
            decrypt,
            threads,
        }
    }
}

/// Threads that run the dispatcher's plugin calls, one per core, each with
/// a single-threaded Tokio runtime.
///
/// A plugin's HTTP request goes through tasks that `wasmtime-wasi-http`
/// spawns (the send, its I/O) and the HTTP client's connection task. On the
/// server's multi-threaded runtime those hop to the other worker and back
/// for every request; on a thread of their own they run where the call
/// runs. Measured on one LINE push (`cargo bench -p tayori --bench plugins
/// -- push`): 250–305 µs per call on a multi-threaded worker, 170–225 µs
/// on a single-threaded runtime.
struct CallThreads {
    queues: Vec<tokio::sync::mpsc::UnboundedSender<CallJob>>,
    next: std::sync::atomic::AtomicUsize,
}

type CallJob = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl CallThreads {
    fn start() -> std::io::Result<Self> {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut queues = Vec::with_capacity(n);
        for i in 0..n {
            let (queue, mut jobs) = tokio::sync::mpsc::unbounded_channel::<CallJob>();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            std::thread::Builder::new()
                .name(format!("tayori-plugin-{i}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        // Ends when the senders are dropped.
                        while let Some(job) = jobs.recv().await {
                            tokio::spawn(job);
                        }
                    });
                })?;
            queues.push(queue);
        }
        Ok(Self {
            queues,
            next: Default::default(),
        })
    }

    /// Runs `call` on one of the threads (round robin); `None` if that
    /// thread is gone.
    async fn run<T: Send + 'static>(
        &self,
        call: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: CallJob = Box::pin(async move {
            let _ = answer.send(call.await);
        });
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.queues.len();
        self.queues[i].send(job).ok()?;
        answered.await.ok()
    }
}

struct PluginSender {
    plugins: Arc<Plugins>,
    plugin: Arc<LoadedPlugin>,
    ctx: CallContext,
    config: Arc<str>,
    limits: SendLimits,
    threads: Option<Arc<CallThreads>>,
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
            config: config.to_string().into(),
            threads: self.threads.clone(),
            limits: SendLimits {
                max_batch: manifest.max_batch_size.max(1) as usize,
                max_batches_per_call: manifest.max_batches_per_call.max(1) as usize,
                // A plugin that pushes one request per recipient must not
                // meet the call's request cap.
                max_recipients_per_call: (self.plugins.runtime().config().max_requests_per_call
                    as usize)
                    .max(manifest.max_batch_size.max(1) as usize),
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

    async fn deliver(&self, batches: &[Batch]) -> Result<Vec<Outcome>, SendError> {
        let Some(threads) = &self.threads else {
            let called = self
                .plugins
                .runtime()
                .deliver(&self.plugin, &self.ctx, &self.config, batches)
                .await;
            return called.result.map_err(|e| SendError(e.to_string()));
        };
        let runtime = self.plugins.runtime().clone();
        let (plugin, ctx, config, batches) = (
            self.plugin.clone(),
            self.ctx.clone(),
            self.config.clone(),
            batches.to_vec(),
        );
        let called = threads
            .run(async move {
                runtime
                    .deliver(&plugin, &ctx, &config, &batches)
                    .await
                    .result
                    .map_err(|e| e.to_string())
            })
            .await
            .ok_or_else(|| SendError("the plugin call thread stopped".into()))?;
        called.map_err(SendError)
    }
}

#[cfg(test)]
mod tests {
    use tayori_core::RateWindow;

    use super::*;

    fn manifest(windows: &[(u32, u32)], daily_quota: Option<u32>) -> Manifest {
        Manifest {
            id: "x-dm".into(),
            name: "X".into(),
            version: "0.1.0".parse().expect("a version"),
            vendor: "Tayori".into(),
            description: String::new(),
            config_schema: serde_json::json!({"type": "object"}),
            hosts: Vec::new(),
            max_batch_size: 20,
            rate_per_second: 1,
            daily_quota,
            rate_windows: windows
                .iter()
                .map(|&(window_seconds, max)| RateWindow {
                    max,
                    window_seconds,
                })
                .collect(),
            handles_webhooks: false,
            max_batches_per_call: 1,
            replies: false,
            sets_up_channels: false,
            renders: Default::default(),
        }
    }

    fn channel(daily_quota: Option<u32>) -> Channel {
        Channel {
            tenant_id: "otaru".into(),
            name: "x".into(),
            plugin_id: "x-dm".into(),
            version: None,
            config: serde_json::json!({}),
            secrets_ciphertext: Vec::new(),
            allowed_hosts: Vec::new(),
            rate_per_second: None,
            daily_quota,
            paused: None,
            setup: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn windows_of_one_length_are_one_window_with_the_smallest_maximum() {
        let x = manifest(&[(86_400, 1_000), (900, 200)], None);
        assert_eq!(
            send_windows(&x, &channel(None)),
            [(900, 200), (86_400, 1_000)]
        );
        assert_eq!(
            send_windows(&x, &channel(Some(300))),
            [(900, 200), (86_400, 300)]
        );
        assert_eq!(
            send_windows(&x, &channel(Some(5_000))),
            [(900, 200), (86_400, 1_000)]
        );
        let quota = manifest(&[], Some(500));
        assert_eq!(send_windows(&quota, &channel(None)), [(86_400, 500)]);
        assert_eq!(send_windows(&quota, &channel(Some(50))), [(86_400, 50)]);
        assert!(send_windows(&manifest(&[], None), &channel(None)).is_empty());
    }
}
