//! A channel's platform side, set up by its plugin each time the channel is
//! put (contract 0.2.0 `setup-channel`, for a plugin whose manifest says
//! `sets-up-channels`): LINE makes the tenant's rich menu from the menu
//! below and sets it as the account's default. The call runs after the
//! channel is stored, within the plugin's time limit, and what it did (or
//! why it could not) is kept on the channel and shown by the API; a failed
//! set-up does not undo the put, since the channel sends either way.

use chrono::Utc;
use serde_json::Value;
use tayori_core::answers::{MAX_FAILURE_BYTES, MAX_RECEIPT_BYTES, Scrub};
use tayori_core::{Channel, ChannelSetup, ChannelSetupOutcome};
use tayori_runtime::{CallContext, LoadedPlugin};

use crate::AppState;
use crate::error::ApiResult;

/// The most platform ids a set-up report keeps.
pub const MAX_SETUP_DETAILS: usize = 32;

/// What the plugin is told of the channel: the tenant's name, where the
/// platform sends webhooks, the registration form, and the parents' menu.
pub fn channel_setup(public_url: &str, tenant_name: &str, channel: &Channel) -> ChannelSetup {
    let base = public_url.trim_end_matches('/');
    let locale = "ja";
    ChannelSetup {
        tenant_name: tenant_name.to_owned(),
        locale: locale.to_owned(),
        webhook_url: format!("{base}/hooks/{}/{}", channel.tenant_id, channel.name),
        form_url: format!("{base}/r/{}", channel.tenant_id),
        menu: tayori_core::default_menu(locale),
    }
}

/// Runs the plugin's set-up for `channel` (as just put, with its whole
/// `config`, secrets included) and keeps what it did on the channel.
/// `None` when the plugin sets nothing up.
pub async fn run(
    state: &AppState,
    plugin: &LoadedPlugin,
    channel: &Channel,
    config: &Value,
) -> ApiResult<Option<ChannelSetupOutcome>> {
    let tenant = state.store.tenant(&channel.tenant_id).await?;
    let setup = channel_setup(&state.public_url, &tenant.name, channel);
    let ctx = CallContext {
        tenant: Some(channel.tenant_id.clone()),
        channel: Some(channel.name.clone()),
        approved_hosts: channel.allowed_hosts.clone(),
        capture: false,
    };
    let text = config.to_string();
    let Some(called) = state
        .plugins
        .runtime()
        .setup_channel(plugin, &ctx, &text, &setup)
        .await
    else {
        return Ok(None);
    };
    let scrub = Scrub::new(&plugin.record.manifest.secret_fields(), &text);
    let version = plugin.record.version.to_string();
    let (ok, summary, details) = match called.result {
        Ok(Ok(report)) => (true, report.summary, report.details),
        Ok(Err(failure)) => (false, failure.message, Vec::new()),
        Err(e) => (false, format!("the plugin failed: {e}"), Vec::new()),
    };
    let outcome = ChannelSetupOutcome {
        ok,
        summary: scrub.text(summary, MAX_FAILURE_BYTES),
        details: details
            .into_iter()
            .take(MAX_SETUP_DETAILS)
            .map(|(k, v)| {
                (
                    scrub.text(k, MAX_RECEIPT_BYTES),
                    scrub.text(v, MAX_RECEIPT_BYTES),
                )
            })
            .collect(),
        plugin_version: version.clone(),
        at: Utc::now(),
    };
    let (tenant_id, name) = (&channel.tenant_id, &channel.name);
    if outcome.ok {
        tracing::info!(tenant = %tenant_id, channel = %name, plugin = %channel.plugin_id, %version, "channel set up: {}", outcome.summary);
    } else {
        tracing::warn!(tenant = %tenant_id, channel = %name, plugin = %channel.plugin_id, %version, "channel set-up failed: {}", outcome.summary);
    }
    let kept = state
        .store
        .set_channel_setup(tenant_id, name, channel.updated_at, &outcome)
        .await?;
    // Put again meanwhile: that put's own set-up is the one to show.
    Ok(kept.then_some(outcome))
}
