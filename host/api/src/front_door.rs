//! What parents do at the front door, one way for every channel: the chat's
//! registration, the form's, a confirmed email address, a stop. Each writes
//! what it writes, records the event by channel for the monthly figures,
//! and wakes the planner, so that the household's messages (the one due
//! today among them) are planned at once.

use chrono::{DateTime, NaiveDate, Utc};
use tayori_core::domain::conversation::FrontDoorKind;
use tayori_core::{Locale, NewChild, NewContact, NewSubscriber, StoreResult, Subscriber, Tenant};

use crate::AppState;

/// The tenant's today, in its zone.
pub fn today(tenant: &Tenant, now: DateTime<Utc>) -> NaiveDate {
    let tz = tenant.tz().unwrap_or(chrono_tz::Asia::Tokyo);
    now.with_timezone(&tz).date_naive()
}

/// Registers a household with one contact and one child. `Conflict` when
/// the contact already belongs to a household of the tenant.
pub async fn register(
    state: &AppState,
    tenant: &str,
    contact: NewContact,
    locale: Locale,
    child: NewChild,
) -> StoreResult<Subscriber> {
    let channel = contact.channel.clone();
    let created = state
        .store
        .create_subscriber(
            tenant,
            &NewSubscriber {
                external_id: None,
                locale,
                contacts: vec![contact],
                children: vec![child],
            },
        )
        .await?;
    tracing::info!(%tenant, id = %created.id, %channel, "a parent registered");
    state.scheduler.subscribers_changed(tenant);
    record(
        state,
        tenant,
        &channel,
        FrontDoorKind::Registered,
        Some(&created.id),
    )
    .await;
    Ok(created)
}

/// Records what a parent did. A failure to record is logged and does not
/// undo what was done: the parent's registration or stop stands.
pub async fn record(
    state: &AppState,
    tenant: &str,
    channel: &str,
    kind: FrontDoorKind,
    subscriber: Option<&str>,
) {
    let now = state.scheduler.clock().now();
    metrics::counter!("tayori_front_door_total", "kind" => kind.as_str()).increment(1);
    if let Err(e) = state
        .store
        .record_front_door(tenant, channel, kind, subscriber, now)
        .await
    {
        tracing::warn!(%tenant, %channel, kind = kind.as_str(), error = %e, "cannot record a front door event");
    }
}
