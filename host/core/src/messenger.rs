//! Sending one message now, outside the schedule: the answer to a parent
//! in the chat when the reply window has passed, a confirmation mail, the
//! link a blank email asks for. The host implements it with the channel's
//! plugin (`deliver`, one batch of one recipient); the parents' pages and
//! the conversation call it.

use crate::plugin::Content;

/// Sends one message to one contact through a channel of a tenant.
#[async_trait::async_trait]
pub trait Messenger: Send + Sync {
    /// Sends `content` to `address` on the tenant's `channel` now.
    /// `message_id` names the message for the plugin and the logs
    /// (`reply:<event id>`, `confirm`, `register-link`). An error says why
    /// (no such channel, the channel paused, what the platform answered),
    /// without secrets.
    async fn send_now(
        &self,
        tenant: &str,
        channel: &str,
        address: &str,
        message_id: &str,
        content: Content,
    ) -> Result<(), String>;
}
