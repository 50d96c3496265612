//! Contract 0.2.0 (`wit/v0.2.0`): its bindings and its adapter onto the
//! version-free types of `tayori-core`.
//!
//! 0.2.0 is the shape of the core types, so the adapter is a plain mapping;
//! the one rule it adds is that content is fitted to what the manifest says
//! the plugin renders ([`tayori_core::Content::fit`]) before it is lowered.

wasmtime::component::bindgen!({
    path: "../../wit/v0.2.0",
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

pub(crate) const VERSION: &str = "0.2.0";

/// Where 0.2.0's exports are in a component, type-checked once per version.
#[derive(Clone, Copy)]
pub(crate) struct Exports {
    manifest: ComponentExportIndex,
    validate_config: ComponentExportIndex,
    deliver: ComponentExportIndex,
    reply: ComponentExportIndex,
    setup_channel: ComponentExportIndex,
    handle_webhook: ComponentExportIndex,
}

impl Exports {
    pub fn bind(component: &Component, pre: &InstancePre<PluginState>) -> Result<Self, String> {
        DeliveryPluginPre::new(pre.clone()).map_err(|e| format!("{e:#}"))?;
        Ok(Self {
            manifest: export_index(component, "manifest")?,
            validate_config: export_index(component, "validate-config")?,
            deliver: export_index(component, "deliver")?,
            reply: export_index(component, "reply")?,
            setup_channel: export_index(component, "setup-channel")?,
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
            max_batches_per_call: m.max_batches_per_call,
            rate_per_second: m.rate_per_second,
            daily_quota: m.daily_quota,
            rate_windows: m
                .rate_windows
                .into_iter()
                .map(|w| (w.max, w.window_seconds))
                .collect(),
            handles_webhooks: m.handles_webhooks,
            replies: m.replies,
            sets_up_channels: m.sets_up_channels,
            renders: tc::Renders {
                buttons: m.renders.contains(w::Renders::BUTTONS),
                quick_replies: m.renders.contains(w::Renders::QUICK_REPLIES),
                date_picker: m.renders.contains(w::Renders::DATE_PICKER),
                link_buttons: m.renders.contains(w::Renders::LINK_BUTTONS),
                max_buttons: m.max_buttons,
                max_quick_replies: m.max_quick_replies,
            },
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

    /// Every batch in one call.
    pub async fn deliver(
        &self,
        c: Call<'_>,
        config: &str,
        batches: &[tc::Batch],
        renders: &tc::Renders,
    ) -> wasmtime::Result<Vec<tc::Outcome>> {
        let batches: Vec<w::Batch> = batches.iter().map(|b| to_batch(b, renders)).collect();
        let outcomes: Vec<w::Outcome> =
            call_export(c, &self.deliver, (config, batches.as_slice())).await?;
        Ok(outcomes.into_iter().map(from_outcome).collect())
    }

    pub async fn reply(
        &self,
        c: Call<'_>,
        config: &str,
        replies: &[tc::Reply],
        renders: &tc::Renders,
    ) -> wasmtime::Result<Vec<tc::ReplyOutcome>> {
        let replies: Vec<w::Reply> = replies
            .iter()
            .map(|r| w::Reply {
                token: r.token.clone(),
                address: r.address.clone(),
                messages: r.messages.iter().map(|m| to_content(m, renders)).collect(),
            })
            .collect();
        let outcomes: Vec<w::ReplyOutcome> =
            call_export(c, &self.reply, (config, replies.as_slice())).await?;
        Ok(outcomes
            .into_iter()
            .map(|o| tc::ReplyOutcome {
                token: o.token,
                status: match o.status {
                    w::ReplyStatus::Sent(id) => tc::ReplyStatus::Sent(id),
                    w::ReplyStatus::Expired => tc::ReplyStatus::Expired,
                    w::ReplyStatus::Failed(f) => tc::ReplyStatus::Failed(from_failure(f)),
                },
            })
            .collect())
    }

    pub async fn setup_channel(
        &self,
        c: Call<'_>,
        config: &str,
        setup: &tc::ChannelSetup,
    ) -> wasmtime::Result<Result<tc::SetupReport, tc::Failure>> {
        let setup = w::ChannelSetup {
            tenant_name: setup.tenant_name.clone(),
            locale: setup.locale.clone(),
            webhook_url: setup.webhook_url.clone(),
            form_url: setup.form_url.clone(),
            menu: setup.menu.iter().map(to_button).collect(),
        };
        let r: Result<w::SetupReport, w::Failure> =
            call_export(c, &self.setup_channel, (config, &setup)).await?;
        Ok(r.map(|r| tc::SetupReport {
            summary: r.summary,
            details: r.details,
        })
        .map_err(from_failure))
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
            events: r.events.into_iter().map(from_event).collect(),
        })
    }
}

fn from_event(e: w::InboundEvent) -> tc::InboundEvent {
    tc::InboundEvent {
        id: e.id,
        address: e.address,
        timestamp_ms: e.timestamp_ms,
        kind: match e.kind {
            w::EventKind::Follow(unblocked) => tc::EventKind::Follow { unblocked },
            w::EventKind::Unfollow => tc::EventKind::Unfollow,
            w::EventKind::Text(t) => tc::EventKind::Text(t),
            w::EventKind::Postback(p) => match p.chosen {
                None => tc::EventKind::Postback(p.data),
                Some(chosen) => tc::EventKind::Picked {
                    data: p.data,
                    chosen,
                },
            },
            w::EventKind::Email(m) => tc::EventKind::Email(tc::EmailMessage {
                subject: m.subject,
                text: m.text,
                to: m.to,
            }),
        },
        reply: e.reply.map(|h| tc::ReplyHandle {
            token: h.token,
            expires_at_ms: h.expires_at_ms,
        }),
        redelivery: e.redelivery,
    }
}

fn to_button(b: &tc::Button) -> w::Button {
    w::Button {
        label: b.label.clone(),
        action: match &b.action {
            tc::Action::Postback { data } => w::Action::Postback(data.clone()),
            tc::Action::Link { url } => w::Action::Link(url.clone()),
            tc::Action::DatePicker(p) => w::Action::DatePicker(w::DatePicker {
                data: p.data.clone(),
                mode: match p.mode {
                    tc::PickerMode::Date => w::PickerMode::Date,
                    tc::PickerMode::Time => w::PickerMode::Time,
                    tc::PickerMode::Datetime => w::PickerMode::Datetime,
                },
                initial: p.initial.clone(),
                min: p.min.clone(),
                max: p.max.clone(),
            }),
        },
    }
}

fn to_content(c: &tc::Content, renders: &tc::Renders) -> w::Content {
    let fitted;
    let c = if c.buttons.is_empty() && c.quick_replies.is_empty() {
        c
    } else {
        fitted = c.fit(renders);
        &fitted
    };
    w::Content {
        subject: c.subject.clone(),
        body: c.body.clone(),
        locale: c.locale.clone(),
        buttons: c.buttons.iter().map(to_button).collect(),
        quick_replies: c.quick_replies.iter().map(to_button).collect(),
    }
}

fn to_batch(b: &tc::Batch, renders: &tc::Renders) -> w::Batch {
    w::Batch {
        message_id: b.message_id.clone(),
        content: to_content(&b.content, renders),
        recipients: b
            .recipients
            .iter()
            .map(|r| w::Recipient {
                address: r.address.clone(),
                idempotency_key: r.idempotency_key.clone(),
                unsubscribe_url: r.unsubscribe_url.clone(),
            })
            .collect(),
    }
}

fn from_failure(f: w::Failure) -> tc::Failure {
    tc::Failure {
        kind: match f.kind {
            w::FailureKind::RetryAfter(s) => tc::FailureKind::RetryAfter(s),
            w::FailureKind::Transient => tc::FailureKind::Transient,
            w::FailureKind::Permanent => tc::FailureKind::Permanent,
            w::FailureKind::RecipientGone => tc::FailureKind::RecipientGone,
            w::FailureKind::Unauthorized => tc::FailureKind::Unauthorized,
        },
        message: f.message,
    }
}

fn from_outcome(o: w::Outcome) -> tc::Outcome {
    tc::Outcome {
        idempotency_key: o.idempotency_key,
        status: match o.status {
            w::DeliveryStatus::Accepted(id) => tc::DeliveryStatus::Accepted(id),
            w::DeliveryStatus::Failed(f) => tc::DeliveryStatus::Failed(from_failure(f)),
        },
    }
}

/// Links 0.2.0's `log` interface.
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
