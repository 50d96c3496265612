//! Generated bindings of each contract version, and their conversion into
//! the version-free types of `tayori-core`.
//!
//! All `bindgen!` invocations live here. When `0.2.0` is released it gets a
//! module beside `v0_1_0`, and `plugin.rs` picks the bindings by the exports a
//! component has.

pub mod v0_1_0 {
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

    use tayori::plugin::types as w;
    use tayori_core as tc;

    pub use tayori::plugin::log;

    impl From<&tc::Batch> for w::Batch {
        fn from(b: &tc::Batch) -> Self {
            w::Batch {
                message_id: b.message_id.clone(),
                content: w::Content {
                    subject: b.content.subject.clone(),
                    body: b.content.body.clone(),
                    locale: b.content.locale.clone(),
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
    }

    impl From<w::Outcome> for tc::Outcome {
        fn from(o: w::Outcome) -> Self {
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
    }

    impl From<w::ConfigError> for tc::ConfigError {
        fn from(e: w::ConfigError) -> Self {
            tc::ConfigError {
                field: e.field,
                message: e.message,
            }
        }
    }

    impl From<&tc::WebhookRequest> for w::HttpRequest {
        fn from(r: &tc::WebhookRequest) -> Self {
            w::HttpRequest {
                method: r.method.clone(),
                path: r.path.clone(),
                query: r.query.clone(),
                headers: r.headers.clone(),
                body: r.body.clone(),
            }
        }
    }

    impl From<w::WebhookResult> for tc::WebhookResult {
        fn from(r: w::WebhookResult) -> Self {
            tc::WebhookResult {
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
                    })
                    .collect(),
            }
        }
    }

    impl From<log::Level> for tc::LogLevel {
        fn from(l: log::Level) -> Self {
            match l {
                log::Level::Debug => tc::LogLevel::Debug,
                log::Level::Info => tc::LogLevel::Info,
                log::Level::Warn => tc::LogLevel::Warn,
                log::Level::Error => tc::LogLevel::Error,
            }
        }
    }

    /// The manifest as the guest returned it, before the host checks it.
    pub type RawManifest = w::Manifest;
}
