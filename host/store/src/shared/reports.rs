//! What the monthly figures read: a tenant's active households with their
//! children's dates and contacts' channels, registrations in a range, and
//! deliveries by channel and status.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use tayori_core::domain::figures::{ChildDates, HouseholdRow};
use tayori_core::{ChildStatus, ReportStore, StoreResult};

use super::{Engine, require_tenant};
use crate::error::{DbResultExt, unreadable};

#[async_trait::async_trait]
impl ReportStore for Engine {
    async fn report_households(&self, tenant_id: &str) -> StoreResult<Vec<HouseholdRow>> {
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let children: Vec<(String, Option<NaiveDate>, Option<NaiveDate>, String)> = sqlx::query_as(
            "SELECT c.subscriber_id, c.due_date, c.birth_date, c.status FROM children c \
                 JOIN subscribers s ON s.tenant_id = c.tenant_id AND s.id = c.subscriber_id \
                 WHERE c.tenant_id = $1 AND s.status = 'active' AND c.status <> 'stopped'",
        )
        .bind(tenant_id)
        .fetch_all(&mut *tx)
        .await
        .db()?;
        let contacts: Vec<(String, String)> = sqlx::query_as(
            "SELECT ct.subscriber_id, ct.channel FROM contacts ct \
             JOIN subscribers s ON s.tenant_id = ct.tenant_id AND s.id = ct.subscriber_id \
             WHERE ct.tenant_id = $1 AND s.status = 'active' AND ct.status = 'valid' \
             AND ct.address IS NOT NULL",
        )
        .bind(tenant_id)
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        let mut by: BTreeMap<String, HouseholdRow> = BTreeMap::new();
        for (sid, due_date, birth_date, status) in children {
            let status: ChildStatus = status.parse().map_err(|e| unreadable("child status", e))?;
            by.entry(sid)
                .or_insert_with(|| HouseholdRow {
                    children: Vec::new(),
                    channels: Vec::new(),
                })
                .children
                .push(ChildDates {
                    due_date,
                    birth_date,
                    status,
                });
        }
        for (sid, channel) in contacts {
            if let Some(h) = by.get_mut(&sid) {
                h.channels.push(channel);
            }
        }
        Ok(by.into_values().collect())
    }

    async fn subscribers_created(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM subscribers WHERE tenant_id = $1 \
             AND created_at >= $2 AND created_at < $3",
        )
        .bind(tenant_id)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    async fn delivery_counts(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, String, u64)>> {
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT channel, status, COUNT(*) FROM deliveries WHERE tenant_id = $1 \
             AND due_at >= $2 AND due_at < $3 GROUP BY channel, status ORDER BY channel, status",
        )
        .bind(tenant_id)
        .bind(from.timestamp_millis())
        .bind(to.timestamp_millis())
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(rows
            .into_iter()
            .map(|(c, s, n)| (c, s, u64::try_from(n).unwrap_or_default()))
            .collect())
    }
}
