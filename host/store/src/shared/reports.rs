//! What the monthly figures read: a tenant's active households with their
//! children's dates and contacts' channels, registrations in a range, and
//! deliveries by channel and status.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use tayori_core::domain::conversation::FrontDoorKind;
use tayori_core::domain::figures::{HouseholdRow, TenantHouseholds};
use tayori_core::{FailureReason, ReportStore, StoreResult};

use super::{Db, Engine, report_codes, require_tenant};
use crate::error::{DbResultExt, unreadable};

#[async_trait::async_trait]
impl ReportStore for Engine {
    async fn report_households(&self, tenant_id: &str) -> StoreResult<Vec<HouseholdRow>> {
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let children: Option<report_codes::ChildrenRow> =
            sqlx::query_as(&report_codes::one_tenant_sql())
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await
                .db()?;
        let contacts: (Option<String>, Option<String>) =
            sqlx::query_as(&report_codes::one_tenant_contacts_sql())
                .bind(tenant_id)
                .fetch_one(&mut *tx)
                .await
                .db()?;
        tx.commit().await.db()?;
        report_codes::households(children, contacts)
    }

    async fn report_households_all(&self) -> StoreResult<Vec<TenantHouseholds>> {
        // The country's children are one database's scan on one core: read
        // in runs of tenants, each on a reader of its own, they take every
        // core. Each run is its own snapshot, a moment apart: figures, not
        // a ledger.
        let mut tx = self.begin_read().await?;
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
            .fetch_all(&mut *tx)
            .await
            .db()?;
        tx.commit().await.db()?;
        let parts = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
        let runs =
            report_codes::id_ranges(&ids, parts)
                .into_iter()
                .map(|(first, last)| async move {
                    let mut tx = self.begin_read().await?;
                    let rows: Vec<report_codes::ChildrenRow> =
                        sqlx::query_as(&report_codes::tenant_range_sql())
                            .bind(first)
                            .bind(last)
                            .fetch_all(&mut *tx)
                            .await
                            .db()?;
                    tx.commit().await.db()?;
                    rows.into_iter()
                        .map(report_codes::tenant_households)
                        .collect::<StoreResult<Vec<_>>>()
                });
        let parts = futures::future::try_join_all(runs).await?;
        Ok(parts.into_iter().flatten().collect())
    }

    async fn front_door_counts_all(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, FrontDoorKind, u64)>> {
        let mut tx = self.begin_read().await?;
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT tenant_id, kind, COUNT(*) FROM front_door_events \
             WHERE occurred_at >= $1 AND occurred_at < $2 \
             GROUP BY tenant_id, kind ORDER BY tenant_id, kind",
        )
        .bind(from.timestamp_millis())
        .bind(to.timestamp_millis())
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        rows.into_iter()
            .map(|(tenant, kind, n)| {
                let kind = kind
                    .parse()
                    .map_err(|e| unreadable("front door event kind", e))?;
                Ok((tenant, kind, u64::try_from(n).unwrap_or_default()))
            })
            .collect()
    }

    async fn delivery_counts_all(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, String, u64)>> {
        let mut tx = self.begin_read().await?;
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT tenant_id, status, COUNT(*) FROM deliveries \
             WHERE due_at >= $1 AND due_at < $2 \
             GROUP BY tenant_id, status ORDER BY tenant_id, status",
        )
        .bind(from.timestamp_millis())
        .bind(to.timestamp_millis())
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(rows
            .into_iter()
            .map(|(t, s, n)| (t, s, u64::try_from(n).unwrap_or_default()))
            .collect())
    }

    async fn active_channel_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        let mut tx = self.begin_read().await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT tenant_id, COUNT(*) FROM channels WHERE paused_at IS NULL \
             GROUP BY tenant_id ORDER BY tenant_id",
        )
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(rows
            .into_iter()
            .map(|(t, n)| (t, u64::try_from(n).unwrap_or_default()))
            .collect())
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

    async fn front_door_by_range(
        &self,
        tenant_id: &str,
        kind: FrontDoorKind,
        bounds: &[DateTime<Utc>],
    ) -> StoreResult<Vec<u64>> {
        let ranges = bounds.len().saturating_sub(1);
        let mut counts = vec![0; ranges];
        if ranges == 0 {
            return Ok(counts);
        }
        let mut b = QueryBuilder::<Db>::new("SELECT ");
        push_range(&mut b, "occurred_at", bounds);
        b.push(", COUNT(*) FROM front_door_events WHERE tenant_id = ")
            .push_bind(tenant_id)
            .push(" AND kind = ")
            .push_bind(kind.as_str());
        push_within(&mut b, "occurred_at", bounds);
        b.push(" GROUP BY 1 ORDER BY 1");
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let rows: Vec<(i64, i64)> = b.build_query_as().fetch_all(&mut *tx).await.db()?;
        tx.commit().await.db()?;
        for (i, n) in rows {
            if let Some(c) = usize::try_from(i).ok().and_then(|i| counts.get_mut(i)) {
                *c = u64::try_from(n).unwrap_or_default();
            }
        }
        Ok(counts)
    }

    async fn delivery_counts_by_range(
        &self,
        tenant_id: &str,
        bounds: &[DateTime<Utc>],
    ) -> StoreResult<Vec<(usize, String, String, u64)>> {
        if bounds.len() < 2 {
            return Ok(Vec::new());
        }
        let mut b = QueryBuilder::<Db>::new("SELECT ");
        push_range(&mut b, "due_at", bounds);
        b.push(", channel, status, COUNT(*) FROM deliveries WHERE tenant_id = ")
            .push_bind(tenant_id);
        push_within(&mut b, "due_at", bounds);
        b.push(" GROUP BY 1, channel, status ORDER BY 1, channel, status");
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let rows: Vec<(i64, String, String, i64)> =
            b.build_query_as().fetch_all(&mut *tx).await.db()?;
        tx.commit().await.db()?;
        Ok(rows
            .into_iter()
            .filter_map(|(i, c, s, n)| {
                Some((
                    usize::try_from(i).ok()?,
                    c,
                    s,
                    u64::try_from(n).unwrap_or_default(),
                ))
            })
            .collect())
    }

    async fn failure_counts(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(FailureReason, u64)>> {
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let rows: Vec<(Option<String>, String, i64)> = sqlx::query_as(
            "SELECT failure, status, COUNT(*) FROM deliveries WHERE tenant_id = $1 \
             AND due_at >= $2 AND due_at < $3 AND status IN ('failed', 'dead') \
             GROUP BY failure, status",
        )
        .bind(tenant_id)
        .bind(from.timestamp_millis())
        .bind(to.timestamp_millis())
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        let mut by: BTreeMap<FailureReason, u64> = BTreeMap::new();
        for (failure, status, n) in rows {
            let reason = match failure {
                Some(f) => f.parse().map_err(|e| unreadable("failure reason", e))?,
                None => FailureReason::of_status(
                    status
                        .parse()
                        .map_err(|e| unreadable("delivery status", e))?,
                ),
            };
            *by.entry(reason).or_default() += u64::try_from(n).unwrap_or_default();
        }
        Ok(by.into_iter().collect())
    }
}

/// `CAST(CASE WHEN column < bounds[1] THEN 0 … END AS BIGINT)`: the range
/// of `bounds` a row is in (rows are kept within them by [`push_within`]).
fn push_range(b: &mut QueryBuilder<'_, Db>, column: &str, bounds: &[DateTime<Utc>]) {
    if bounds.len() <= 2 {
        b.push("CAST(0 AS BIGINT)");
        return;
    }
    b.push("CAST(CASE");
    let last = bounds.len().saturating_sub(2);
    for (i, upper) in bounds.iter().skip(1).enumerate() {
        if i == last {
            b.push(format!(" ELSE {i}"));
        } else {
            b.push(format!(" WHEN {column} < "))
                .push_bind(upper.timestamp_millis())
                .push(format!(" THEN {i}"));
        }
    }
    b.push(" END AS BIGINT)");
}

/// ` AND column >= bounds[0] AND column < bounds[last]`.
fn push_within(b: &mut QueryBuilder<'_, Db>, column: &str, bounds: &[DateTime<Utc>]) {
    let (first, last) = (bounds[0], bounds[bounds.len() - 1]);
    b.push(format!(" AND {column} >= "))
        .push_bind(first.timestamp_millis())
        .push(format!(" AND {column} < "))
        .push_bind(last.timestamp_millis());
}
