//! `tayori schedule preview`: what the planner would send for a tenant (or
//! one subscriber) over a range of days, without writing anything.

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
}

/// The most days one preview covers.
pub const MAX_PREVIEW_DAYS: u32 = 1_100;

/// The deliveries of `days` days from `from`.
pub async fn preview(
    store: &dyn Store,
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
    let mut out = Vec::new();
    for i in 0..days {
        let day = from + Duration::days(i64::from(i));
        // `now_ms` 0: nothing is late in a preview.
        for d in plan_day(&tenant, tz, &index, &sources, day, 0, true) {
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
                });
            }
        }
    }
    Ok(out)
}
