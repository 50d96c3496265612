//! The Tayori plugin SDK: write a delivery plugin in plain Rust.
//!
//! A delivery plugin is a WebAssembly component of the world
//! `tayori:plugin/delivery-plugin@0.2.0` (see `wit/v0.2.0/plugin.wit`). This
//! crate exists so that a partner never touches that contract's generated
//! bindings: they implement [`Plugin`] on a type of their own, with their
//! channel config as a `serde` type, and name it once in [`export_plugin!`].
//! The SDK turns the config text into that type, converts every contract type
//! into a plain Rust one, gives them a blocking HTTP client ([`http`]) over
//! `wasi:http`, and maps a platform's answers onto the contract's failure kinds
//! ([`failure`]).
//!
//! ```no_run
//! use tayori_plugin_sdk::{Batch, Manifest, Outcome, Plugin, export_plugin, http};
//!
//! #[derive(serde::Deserialize)]
//! struct Config { endpoint: String }
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     type Config = Config;
//!     fn manifest() -> Manifest {
//!         Manifest::new("hello", env!("CARGO_PKG_VERSION")).host("api.example.com")
//!     }
//!     fn deliver(config: &Config, batch: Batch) -> Vec<Outcome> {
//!         batch.recipients.iter().map(|r| {
//!             let body = serde_json::json!({ "to": r.address, "text": batch.content.body });
//!             r.outcome(http::post_json(&config.endpoint, &[], &body)
//!                 .map_err(Into::into)
//!                 .and_then(|resp| resp.error_for_status())
//!                 .map(|_| None))
//!         }).collect()
//!     }
//! }
//!
//! export_plugin!(Hello);
//! ```
//!
//! Everything but the HTTP client also works natively, so a plugin's own
//! logic is unit-tested with `cargo test` on the host target.

#![warn(missing_docs)]

pub mod failure;
mod glue;
pub mod http;
pub mod log;
mod types;

pub use failure::classify;
pub use types::{
    Action, Batch, Button, ChannelSetup, ConfigError, Content, DEFAULT_BATCHES_PER_CALL,
    DatePicker, DeliveryStatus, EmailMessage, EventKind, Failure, FailureKind, InboundEvent,
    Manifest, Outcome, PickerMode, Postback, RateWindow, Recipient, Renders, Reply, ReplyHandle,
    ReplyOutcome, ReplyStatus, SetupReport, WebhookRequest, WebhookResponse, WebhookResult,
};

/// The version of the WIT contract (`tayori:plugin`) this SDK builds plugins for.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// A delivery platform, written against plain Rust types.
///
/// Every call runs in a fresh instance: keep no state between calls. The
/// channel config arrives as JSON text that the host has already validated
/// against [`Manifest::config_schema`]; the SDK deserialises it into
/// [`Plugin::Config`] before calling you, and answers for you when it does
/// not deserialise (a [`ConfigError`] from `validate-config`, a permanent
/// failure per recipient from `deliver`).
pub trait Plugin {
    /// The channel config, deserialised from the JSON the operator stored.
    type Config: serde::de::DeserializeOwned;

    /// Describe the plugin. Read once, at upload; must not make requests.
    fn manifest() -> Manifest;

    /// Check a config beyond what its JSON Schema says (a URL that must be
    /// HTTPS, two fields that go together...). Called when a channel is saved.
    fn validate_config(config: &Self::Config) -> Result<(), ConfigError> {
        let _ = config;
        Ok(())
    }

    /// Send `batch` to its recipients: return exactly one [`Outcome`] per
    /// recipient, keyed by its idempotency key ([`Recipient::outcome`] makes one).
    fn deliver(config: &Self::Config, batch: Batch) -> Vec<Outcome>;

    /// Send several batches (different messages) for one channel in one
    /// call, as the host hands them (up to [`Manifest::max_batches_per_call`]).
    /// By default, [`Plugin::deliver`] for each in turn; override it to share
    /// work between batches (one connection, one token).
    fn deliver_batches(config: &Self::Config, batches: Vec<Batch>) -> Vec<Outcome> {
        batches
            .into_iter()
            .flat_map(|batch| Self::deliver(config, batch))
            .collect()
    }

    /// Answer inbound events with their reply tokens: one [`ReplyOutcome`]
    /// per reply, keyed by its token. Called only when the manifest says
    /// [`Manifest::replies`]; by default every reply fails permanently.
    fn reply(config: &Self::Config, replies: Vec<Reply>) -> Vec<ReplyOutcome> {
        let _ = config;
        replies
            .into_iter()
            .map(|r| ReplyOutcome {
                token: r.token,
                status: ReplyStatus::Failed(Failure::permanent("this plugin does not reply")),
            })
            .collect()
    }

    /// Provision the platform side of a channel when it is put or changed
    /// (LINE: the tenant's rich menu). Called only when the manifest says
    /// [`Manifest::sets_up_channels`]; by default there is nothing to do.
    fn setup_channel(config: &Self::Config, setup: ChannelSetup) -> Result<SetupReport, Failure> {
        let _ = (config, setup);
        Ok(SetupReport::new("nothing to set up"))
    }

    /// Handle a platform's webhook request. By default: `404`, no events.
    fn handle_webhook(config: &Self::Config, request: WebhookRequest) -> WebhookResult {
        let _ = (config, request);
        WebhookResult::not_found()
    }
}

/// Export a [`Plugin`] as the component's `delivery-plugin` world.
///
/// Use it once, at the root of a `cdylib` crate built for `wasm32-wasip2`:
/// `tayori_plugin_sdk::export_plugin!(MyPlugin);`
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = {
            type __TayoriPluginExport = $crate::__private::Export<$plugin>;
            $crate::__export_delivery_plugin_impl!(__TayoriPluginExport);
        };
    };
}

/// What [`export_plugin!`] expands to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::glue::Export;

    /// The contract's generated bindings.
    #[allow(missing_docs, unsafe_code, clippy::all)]
    pub mod bindings {
        wit_bindgen::generate!({
            path: "../../wit/v0.2.0",
            world: "delivery-plugin",
            // The SDK never calls wasi:http itself (wstd does): point its
            // types at the `wasip2` crate instead of generating them again.
            with: {
                "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
                "wasi:http/types@0.2.12": wasip2::http::types,
                "wasi:io/error@0.2.12": wasip2::io::error,
                "wasi:io/poll@0.2.12": wasip2::io::poll,
                "wasi:io/streams@0.2.12": wasip2::io::streams,
                "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
            },
            pub_export_macro: true,
            export_macro_name: "__export_delivery_plugin",
            default_bindings_module: "tayori_plugin_sdk::__private::bindings",
        });
    }
}
