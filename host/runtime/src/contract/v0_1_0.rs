//! Contract 0.1.0 (`wit/v0.1.0`, released and frozen): its bindings and its
//! adapter onto the version-free types of `tayori-core`.
//!
//! What 0.1.0 lacks, the adapter supplies: one batch per `deliver` call
//! (the manifest says `max-batches-per-call` 1, so the dispatcher sends one;
//! [`crate::Runtime::deliver`] gives each further batch a fresh instance of
//! its own), text only (buttons and quick replies are fitted into the body by
//! [`tayori_core::Content::fit`] first), no replies and no channel set-up.

wasmtime::component::bindgen!({
    path: "../../wit/v0.1.0",
    world: "delivery-plugin",
    imports: { default: trappable },
    exports: { default: async },
    require_store_data_send: true,
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

use tayori::plugin::log;
use tayori::plugin::types as w;
use tayori_core as tc;
use wasmtime::component::{Component, ComponentExportIndex, HasSelf, InstancePre, Linker};

use super::{Call, RawManifest, call_export, export_index};
use crate::state::PluginState;

pub(crate) const VERSION: &str = "0.1.0";

/// Where 0.1.0's exports are in a component, type-checked once per version.
#[derive(Clone, Copy)]
pub(crate) struct Exports {
    manifest: ComponentExportIndex,
    validate_config: ComponentExportIndex,
    deliver: ComponentExportIndex,
    handle_webhook: ComponentExportIndex,
}

impl Exports {
    pub fn bind(component: &Component, pre: &InstancePre<PluginState>) -> Result<Self, String> {
        DeliveryPluginPre::new(pre.clone()).map_err(|e| format!("{e:#}"))?;
        Ok(Self {
            manifest: export_index(component, "manifest")?,
            validate_config: export_index(component, "validate-config")?,
            deliver: export_index(component, "deliver")?,
            handle_webhook: export_index(component, "handle-webhook")?,
        })
    }

    pub async fn manifest(&self, c: Call<'_>) -> wasmtime::Result<RawManifest> {
        let m: w::Manifest = call_export(c, &self.manifest, ()).await?;
        Ok(RawManifest {
            id: m.id,
            name: m.name,
            version: m.version,
            vendor: m.vendor,
            description: m.description,
            config_schema: m.config_schema,
            hosts: m.hosts,
            max_batch_size: m.max_batch_size,
            max_batches_per_call: 1,
            rate_per_second: m.rate_per_second,
            daily_quota: m.daily_quota,
            rate_windows: m
                .rate_windows
                .into_iter()
                .map(|w| (w.max, w.window_seconds))
                .collect(),
            handles_webhooks: m.handles_webhooks,
            replies: false,
            sets_up_channels: false,
            renders: tc::Renders::default(),
        })
    }

    pub async fn validate_config(
        &self,
        c: Call<'_>,
        config: &str,
    ) -> wasmtime::Result<Result<(), tc::ConfigError>> {
        let r: Result<(), w::ConfigError> =
            call_export(c, &self.validate_config, (config,)).await?;
        Ok(r.map_err(|e| tc::ConfigError {
            field: e.field,
            message: e.message,
        }))
    }

    /// One batch: 0.1.0 takes no more in a call.
    pub async fn deliver(
        &self,
        c: Call<'_>,
        config: &str,
        batch: &tc::Batch,
    ) -> wasmtime::Result<Vec<tc::Outcome>> {
        let batch = to_batch(batch);
        let outcomes: Vec<w::Outcome> = call_export(c, &self.deliver, (config, &batch)).await?;
        Ok(outcomes.into_iter().map(from_outcome).collect())
    }

    pub async fn handle_webhook(
        &self,
        c: Call<'_>,
        config: &str,
        request: &tc::WebhookRequest,
    ) -> wasmtime::Result<tc::WebhookResult> {
        let request = w::HttpRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let r: w::WebhookResult = call_export(c, &self.handle_webhook, (config, &request)).await?;
        Ok(tc::WebhookResult {
            response: tc::WebhookResponse {
                status: r.response.status,
                headers: r.response.headers,
                body: r.response.body,
            },
            events: r
                .events
                .into_iter()
                .map(|e| tc::InboundEvent {
                    id: e.id,
                    address: e.address,
                    timestamp_ms: e.timestamp_ms,
                    kind: match e.kind {
                        w::EventKind::Follow(unblocked) => tc::EventKind::Follow { unblocked },
                        w::EventKind::Unfollow => tc::EventKind::Unfollow,
                        w::EventKind::Text(t) => tc::EventKind::Text(t),
                        w::EventKind::Postback(p) => tc::EventKind::Postback(p),
                    },
                    reply: None,
                    redelivery: false,
                })
                .collect(),
        })
    }
}

fn to_batch(b: &tc::Batch) -> w::Batch {
    let fitted;
    let content = if b.content.buttons.is_empty() && b.content.quick_replies.is_empty() {
        &b.content
    } else {
        fitted = b.content.fit(&tc::Renders::default());
        &fitted
    };
    w::Batch {
        message_id: b.message_id.clone(),
        content: w::Content {
            subject: content.subject.clone(),
            body: content.body.clone(),
            locale: content.locale.clone(),
        },
        recipients: b
            .recipients
            .iter()
            .map(|r| w::Recipient {
                address: r.address.clone(),
                idempotency_key: r.idempotency_key.clone(),
            })
            .collect(),
    }
}

fn from_outcome(o: w::Outcome) -> tc::Outcome {
    tc::Outcome {
        idempotency_key: o.idempotency_key,
        status: match o.status {
            w::DeliveryStatus::Accepted(id) => tc::DeliveryStatus::Accepted(id),
            w::DeliveryStatus::Failed(f) => tc::DeliveryStatus::Failed(tc::Failure {
                kind: match f.kind {
                    w::FailureKind::RetryAfter(s) => tc::FailureKind::RetryAfter(s),
                    w::FailureKind::Transient => tc::FailureKind::Transient,
                    w::FailureKind::Permanent => tc::FailureKind::Permanent,
                    w::FailureKind::RecipientGone => tc::FailureKind::RecipientGone,
                    w::FailureKind::Unauthorized => tc::FailureKind::Unauthorized,
                },
                message: f.message,
            }),
        },
    }
}

/// Links 0.1.0's `log` interface.
pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    log::add_to_linker::<_, HasSelf<PluginState>>(linker, |s| s)
}

impl log::Host for PluginState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Debug => tc::LogLevel::Debug,
            log::Level::Info => tc::LogLevel::Info,
            log::Level::Warn => tc::LogLevel::Warn,
            log::Level::Error => tc::LogLevel::Error,
        };
        self.record_log(level, message);
        Ok(())
    }
}
