//! The host's [`Messenger`]: one message to one contact now, outside the
//! schedule, through the channel's plugin (`deliver`, one batch of one
//! recipient) with the same sender the dispatcher uses: the channel's
//! pinned or active version (the tenant's canary included), its decrypted
//! config and its approved hosts.

use std::sync::Arc;

use tayori_core::{Batch, Content, DeliveryStatus, Messenger, Recipient, Store};

use crate::dispatch::Senders;
use crate::keys;

/// Sends through the plugins; a paused channel or a refusal is an error
/// that names it.
pub struct PluginMessenger {
    store: Arc<dyn Store>,
    senders: Arc<dyn Senders>,
}

impl PluginMessenger {
    pub fn new(store: Arc<dyn Store>, senders: Arc<dyn Senders>) -> Self {
        Self { store, senders }
    }
}

#[async_trait::async_trait]
impl Messenger for PluginMessenger {
    async fn send_now(
        &self,
        tenant: &str,
        channel: &str,
        address: &str,
        message_id: &str,
        content: Content,
    ) -> Result<(), String> {
        let tenant_row = self
            .store
            .tenant(tenant)
            .await
            .map_err(|e| format!("tenant `{tenant}`: {e}"))?;
        let channel_row = self
            .store
            .channel(tenant, channel)
            .await
            .map_err(|e| format!("channel `{channel}`: {e}"))?;
        if let Some(pause) = &channel_row.paused {
            return Err(format!(
                "the channel `{channel}` is paused: {}",
                pause.reason
            ));
        }
        let sender = self.senders.sender(&tenant_row, &channel_row).await?;
        let key = keys::now(tenant, channel, address, message_id);
        let batch = Batch {
            message_id: message_id.to_string(),
            content,
            recipients: vec![Recipient {
                address: address.to_string(),
                idempotency_key: key.clone(),
                unsubscribe_url: None,
            }],
        };
        let outcomes = sender
            .deliver(std::slice::from_ref(&batch))
            .await
            .map_err(|e| e.0)?;
        match outcomes.into_iter().find(|o| o.idempotency_key == key) {
            Some(outcome) => match outcome.status {
                DeliveryStatus::Accepted(_) => {
                    metrics::counter!("tayori_messages_sent_now_total", "outcome" => "accepted")
                        .increment(1);
                    Ok(())
                }
                DeliveryStatus::Failed(failure) => {
                    metrics::counter!("tayori_messages_sent_now_total", "outcome" => "failed")
                        .increment(1);
                    Err(failure.message)
                }
            },
            None => Err(format!(
                "the plugin `{}` gave no outcome for the message",
                channel_row.plugin_id
            )),
        }
    }
}
