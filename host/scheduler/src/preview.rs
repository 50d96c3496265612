//! `tayori schedule preview`: what the planner would send for a tenant (or
//! one subscriber) over a range of days, without writing anything.
//!
//! It tells the truth as of now: a message whose day and lateness window
//! have passed is not listed (it was sent, or expired, or never planned
//! because the child was registered later); one whose send time has passed
//! but whose window has not is listed as `late`.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use tayori_core::{DeliverySource, Store, StoreError};

use crate::plan::{MessageIndex, plan_day, tenant_messages};

/// One delivery the schedule would make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewItem {
    /// The day, in the tenant's zone.
    pub date: NaiveDate,
    /// When it is due (the tenant's send time that day).
    pub due_at: chrono::DateTime<chrono::Utc>,
    pub subscriber_id: String,
    pub child_id: String,
    pub channel: String,
    pub contact_id: String,
    pub message_id: String,
    /// Its send time has passed: it would go out now, late, within the
    /// tenant's lateness window.
    pub late: bool,
}

/// The most days one preview covers.
pub const MAX_PREVIEW_DAYS: u32 = 1_100;

/// The deliveries of `days` days from `from` that would still be sent at
/// `now`.
pub async fn preview(
    store: &dyn Store,
    now: chrono::DateTime<chrono::Utc>,
    tenant_id: &str,
    subscriber_id: Option<&str>,
    from: NaiveDate,
    days: u32,
) -> Result<Vec<PreviewItem>, StoreError> {
    if days == 0 || days > MAX_PREVIEW_DAYS {
        return Err(StoreError::Invalid {
            field: "days".into(),
            message: format!("must be between 1 and {MAX_PREVIEW_DAYS}"),
        });
    }
    let tenant = store.tenant(tenant_id).await?;
    let tz = tenant.tz().ok_or_else(|| StoreError::Invalid {
        field: "time_zone".into(),
        message: format!("tenant `{tenant_id}` has an unknown zone"),
    })?;
    if let Some(s) = subscriber_id {
        // Not found (or another tenant's) is an error, not an empty preview.
        store.subscriber(tenant_id, s).await?;
    }
    let catalog = store.catalog_messages(None).await?;
    let own = store.tenant_messages(tenant_id).await?;
    let index = MessageIndex::new(tenant_messages(&tenant, &catalog, &own));
    let mut sources = store.plan_sources(tenant_id, None).await?;
    if let Some(s) = subscriber_id {
        sources.retain(|x| x.subscriber_id == s);
    }
    let now_ms = now.timestamp_millis();
    let mut out = Vec::new();
    for i in 0..days {
        let day = from + Duration::days(i64::from(i));
        // No reason for lateness: what is past its window is left out.
        for d in plan_day(&tenant, tz, &index, &sources, day, now_ms, None) {
            if let DeliverySource::Scheduled {
                child_id,
                message_id,
                ..
            } = d.source
            {
                out.push(PreviewItem {
                    date: day,
                    due_at: tayori_core::from_millis(d.due_at),
                    subscriber_id: d.subscriber_id,
                    child_id,
                    channel: d.channel,
                    contact_id: d.contact_id,
                    message_id,
                    late: d.due_at < now_ms,
                });
            }
        }
    }
    Ok(out)
}
