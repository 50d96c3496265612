//! Inbound events from platforms' webhooks: kept once per (tenant, channel,
//! platform event id), and acted on in the transaction that keeps them.
//!
//! Each event is inserted first (`ON CONFLICT DO NOTHING`): a redelivery
//! finds the row there and does nothing. On PostgreSQL a concurrent insert
//! of the same event waits on the unique index for the first transaction
//! and then does nothing either, so two nodes receiving the same
//! redelivery still act once. Only a new row goes on to change its contact,
//! with a conditional update, and then records what it did.
//!
//! Each event stands alone: one the table cannot keep as it came (a NUL
//! character, an address or a text over the limits, a time out of range)
//! is kept as `refused`, with the reason and without the offending values,
//! and the other events of the same webhook take effect. Only an event
//! without a usable id (the key a redelivery is recognised by) refuses the
//! call, since it cannot be kept at all; the API drops those first.

use chrono::{DateTime, Utc};
use tayori_core::{
    EventKind, InboundAction, InboundEvent, InboundKind, InboundRecord, InboundRecorded,
    InboundStore, Page, PageRequest, StoreResult, address_problem, from_millis, id_problem,
};

use super::{Conn, Engine, outbox_hooks, require_tenant};
use crate::error::{DbResultExt, invalid, now, unreadable};

const SELECT_INBOUND: &str = "SELECT id, tenant_id, channel, event_id, address, kind, unblocked, \
     data, occurred_at, received_at, action, subscriber_id, contact_id, reason FROM inbound_events";

/// An `inbound_events` row.
#[derive(sqlx::FromRow)]
struct InboundRow {
    id: i64,
    tenant_id: String,
    channel: String,
    event_id: String,
    address: Option<String>,
    kind: String,
    unblocked: bool,
    data: Option<String>,
    occurred_at: i64,
    received_at: i64,
    action: String,
    subscriber_id: Option<String>,
    contact_id: Option<String>,
    reason: Option<String>,
}

impl InboundRow {
    fn into_record(self) -> StoreResult<InboundRecord> {
        Ok(InboundRecord {
            id: self.id,
            kind: self
                .kind
                .parse()
                .map_err(|e| unreadable("inbound event kind", e))?,
            action: self
                .action
                .parse()
                .map_err(|e| unreadable("inbound action", e))?,
            tenant_id: self.tenant_id,
            channel: self.channel,
            event_id: self.event_id,
            address: self.address,
            unblocked: self.unblocked,
            data: self.data,
            occurred_at: from_millis(self.occurred_at),
            received_at: from_millis(self.received_at),
            subscriber_id: self.subscriber_id,
            contact_id: self.contact_id,
            reason: self.reason,
        })
    }
}

/// Refuses a call with an event whose id cannot key a row, naming it.
fn check_id(i: usize, event: &InboundEvent) -> StoreResult<()> {
    match id_problem(&event.id) {
        Some(problem) => Err(invalid(format!("events[{i}].id"), problem)),
        None => Ok(()),
    }
}

/// The contact an address is on a channel of the tenant: (id, subscriber).
async fn contact_of(
    conn: &mut Conn,
    tenant_id: &str,
    channel: &str,
    address: &str,
) -> StoreResult<Option<(String, String)>> {
    sqlx::query_as(
        "SELECT id, subscriber_id FROM contacts \
         WHERE tenant_id = $1 AND channel = $2 AND address = $3",
    )
    .bind(tenant_id)
    .bind(channel)
    .bind(address)
    .fetch_optional(conn)
    .await
    .db()
}

/// Whether a follow or unfollow of the address that happened after
/// `occurred_at` is already recorded (other than the row `id`).
async fn superseded(
    conn: &mut Conn,
    tenant_id: &str,
    channel: &str,
    address: &str,
    occurred_at: i64,
    id: i64,
) -> StoreResult<bool> {
    let later: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM inbound_events WHERE tenant_id = $1 AND channel = $2 AND address = $3 \
         AND occurred_at > $4 AND id <> $5 AND kind IN ('follow', 'unfollow') LIMIT 1",
    )
    .bind(tenant_id)
    .bind(channel)
    .bind(address)
    .bind(occurred_at)
    .bind(id)
    .fetch_optional(conn)
    .await
    .db()?;
    Ok(later.is_some())
}

/// Sets a contact's status if it is not already that; whether it changed.
async fn change_contact(
    conn: &mut Conn,
    tenant_id: &str,
    contact_id: &str,
    to: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let changed = sqlx::query(
        "UPDATE contacts SET status = $3, updated_at = $4 \
         WHERE tenant_id = $1 AND id = $2 AND status <> $3 AND address IS NOT NULL",
    )
    .bind(tenant_id)
    .bind(contact_id)
    .bind(to)
    .bind(at)
    .execute(conn)
    .await
    .db()?
    .rows_affected();
    Ok(changed > 0)
}

/// Keeps one event and, when it is new, does what it asks.
async fn record_one(
    conn: &mut Conn,
    tenant_id: &str,
    channel: &str,
    event: &InboundEvent,
    received_at: i64,
) -> StoreResult<InboundRecorded> {
    let kind = InboundKind::from(&event.kind);
    let reason = tayori_core::inbound_refusal(event);
    let unblocked = matches!(event.kind, EventKind::Follow { unblocked: true });
    let stored = event.kind.stored_data();
    let data = stored.as_deref();
    // A refused event keeps none of what may be wrong: its address only
    // when that is sound, never its data; its time is the arrival's when
    // its own is out of range.
    let (address, data) = match &reason {
        None => (Some(event.address.as_str()), data),
        Some(_) => {
            let sound = address_problem(&event.address).is_none();
            (sound.then_some(event.address.as_str()), None)
        }
    };
    let occurred_at = i64::try_from(event.timestamp_ms).unwrap_or(received_at);
    let action = match reason {
        None => InboundAction::Recorded,
        Some(_) => InboundAction::Refused,
    };
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO inbound_events (tenant_id, channel, event_id, address, kind, unblocked, data, \
         occurred_at, received_at, action, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (tenant_id, channel, event_id) DO NOTHING RETURNING id",
    )
    .bind(tenant_id)
    .bind(channel)
    .bind(&event.id)
    .bind(address)
    .bind(kind.as_str())
    .bind(unblocked)
    .bind(data)
    .bind(occurred_at)
    .bind(received_at)
    .bind(action.as_str())
    .bind(reason.as_deref())
    .fetch_optional(&mut *conn)
    .await
    .db()?;
    let Some(id) = inserted else {
        let first = sqlx::query_as::<_, InboundRow>(&format!(
            "{SELECT_INBOUND} WHERE tenant_id = $1 AND channel = $2 AND event_id = $3"
        ))
        .bind(tenant_id)
        .bind(channel)
        .bind(&event.id)
        .fetch_one(&mut *conn)
        .await
        .db()?
        .into_record()?;
        return Ok(InboundRecorded {
            record: first,
            duplicate: true,
        });
    };
    if let Some(reason) = reason {
        return Ok(InboundRecorded {
            record: InboundRecord {
                id,
                tenant_id: tenant_id.to_string(),
                channel: channel.to_string(),
                event_id: event.id.clone(),
                address: address.map(str::to_string),
                kind,
                unblocked,
                data: None,
                occurred_at: from_millis(occurred_at),
                received_at: from_millis(received_at),
                action,
                contact_id: None,
                subscriber_id: None,
                reason: Some(reason),
            },
            duplicate: false,
        });
    }

    let contact = contact_of(conn, tenant_id, channel, &event.address).await?;
    let mut action = action;
    // An unfollow (a block) stops the contact at once, in the transaction
    // that keeps it, unless a later follow is already recorded. A follow
    // changes nothing here: an unblocking parent is asked whether to
    // resume (the conversation's `Resume`).
    if let Some((contact_id, _)) = &contact
        && kind == InboundKind::Unfollow
    {
        if superseded(conn, tenant_id, channel, &event.address, occurred_at, id).await? {
            action = InboundAction::Superseded;
        } else if change_contact(conn, tenant_id, contact_id, "invalid", now()).await? {
            outbox_hooks::contacts_removed(conn, tenant_id, std::slice::from_ref(contact_id))
                .await?;
            action = InboundAction::ContactInvalidated;
        }
    }
    if action != InboundAction::Recorded || contact.is_some() {
        sqlx::query(
            "UPDATE inbound_events SET action = $2, contact_id = $3, subscriber_id = $4 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(action.as_str())
        .bind(contact.as_ref().map(|(c, _)| c.as_str()))
        .bind(contact.as_ref().map(|(_, s)| s.as_str()))
        .execute(&mut *conn)
        .await
        .db()?;
    }
    Ok(InboundRecorded {
        record: InboundRecord {
            id,
            tenant_id: tenant_id.to_string(),
            channel: channel.to_string(),
            event_id: event.id.clone(),
            address: Some(event.address.clone()),
            kind,
            unblocked,
            data: data.map(str::to_string),
            occurred_at: from_millis(occurred_at),
            received_at: from_millis(received_at),
            action,
            contact_id: contact.as_ref().map(|(c, _)| c.clone()),
            subscriber_id: contact.map(|(_, s)| s),
            reason: None,
        },
        duplicate: false,
    })
}

/// A subscriber is being erased (call before its contacts' addresses are
/// removed): the addresses and words of its inbound events go too; the
/// rows stay, so that a late redelivery is still recognised.
pub(super) async fn subscriber_erased(
    conn: &mut Conn,
    tenant_id: &str,
    subscriber_id: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE inbound_events SET address = NULL, data = NULL \
         WHERE tenant_id = $1 AND (channel, address) IN \
         (SELECT channel, address FROM contacts \
          WHERE tenant_id = $1 AND subscriber_id = $2 AND address IS NOT NULL)",
    )
    .bind(tenant_id)
    .bind(subscriber_id)
    .execute(&mut *conn)
    .await
    .db()?;
    sqlx::query(
        "UPDATE inbound_events SET address = NULL, data = NULL \
         WHERE tenant_id = $1 AND subscriber_id = $2",
    )
    .bind(tenant_id)
    .bind(subscriber_id)
    .execute(&mut *conn)
    .await
    .db()?;
    Ok(())
}

#[async_trait::async_trait]
impl InboundStore for Engine {
    async fn record_inbound(
        &self,
        tenant_id: &str,
        channel: &str,
        events: &[InboundEvent],
        received_at: DateTime<Utc>,
    ) -> StoreResult<Vec<InboundRecorded>> {
        for (i, event) in events.iter().enumerate() {
            check_id(i, event)?;
        }
        let received_at = received_at.timestamp_millis();
        let mut tx = self.begin_write().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            out.push(record_one(&mut tx, tenant_id, channel, event, received_at).await?);
        }
        tx.commit().await.db()?;
        Ok(out)
    }

    async fn inbound_events(
        &self,
        tenant_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<InboundRecord>> {
        let limit = page.effective_limit() as usize;
        let after: i64 = match &page.after {
            None => 0,
            Some(c) => c
                .parse()
                .map_err(|_| invalid("cursor", format!("`{c}` is not a cursor this list gave")))?,
        };
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let mut rows = sqlx::query_as::<_, InboundRow>(&format!(
            "{SELECT_INBOUND} WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(tenant_id)
        .bind(after)
        .bind(limit as i64 + 1)
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|r| r.id.to_string())
        } else {
            None
        };
        let items = rows
            .into_iter()
            .map(InboundRow::into_record)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items, next_cursor })
    }
}
