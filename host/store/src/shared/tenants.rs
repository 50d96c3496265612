//! Tenants and their settings.

use sqlx::types::Json;
use tayori_core::{NewTenant, StoreError, StoreResult, Tenant, TenantPatch, TenantStore, hhmm};

use super::{Conn, Engine, require_tenant, tenant_not_found};
use crate::error::{DbResultExt, invalid, now};
use crate::rows::TenantRow;
use crate::validate;

const SELECT_TENANT: &str = "SELECT id, name, time_zone, send_time, span, programs, \
     lateness_window_minutes, quiet_start, quiet_end, program_spans, unreported_birth, \
     corrected_weeks_early, corrected_months, yearly_births, created_at, updated_at FROM tenants";

/// A tenant's program spans as stored: program id -> span spelling.
fn spans_json(
    t: &std::collections::BTreeMap<String, tayori_core::DeliverySpan>,
) -> Json<std::collections::BTreeMap<&str, &'static str>> {
    Json(t.iter().map(|(p, s)| (p.as_str(), s.as_str())).collect())
}

/// One tenant, read inside a transaction.
async fn load(conn: &mut Conn, id: &str) -> StoreResult<Tenant> {
    sqlx::query_as::<_, TenantRow>(&format!("{SELECT_TENANT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .db()?
        .ok_or_else(|| tenant_not_found(id))?
        .into_tenant()
}

fn check_name(name: &str) -> StoreResult<()> {
    if name.trim().is_empty() {
        return Err(invalid("name", "a tenant needs a name"));
    }
    Ok(())
}

fn check_births(births: Option<u32>) -> StoreResult<()> {
    match births {
        Some(n) if n == 0 || n > tayori_core::MAX_YEARLY_BIRTHS => Err(invalid(
            "yearly_births",
            format!(
                "must be from 1 to {}, not {n}",
                tayori_core::MAX_YEARLY_BIRTHS
            ),
        )),
        _ => Ok(()),
    }
}

#[async_trait::async_trait]
impl TenantStore for Engine {
    async fn create_tenant(&self, t: &NewTenant) -> StoreResult<Tenant> {
        validate::tenant_id(&t.id)?;
        check_name(&t.name)?;
        check_births(t.yearly_births)?;
        let created_at = now();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO tenants (id, name, time_zone, send_time, span, programs, \
             lateness_window_minutes, quiet_start, quiet_end, program_spans, unreported_birth, \
             corrected_weeks_early, corrected_months, created_at, updated_at, yearly_births) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15)",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.time_zone)
        .bind(hhmm::format(t.send_time))
        .bind(t.span.as_str())
        .bind(Json(&t.programs))
        .bind(i64::from(t.lateness_window_minutes))
        .bind(t.quiet_hours.map(|q| hhmm::format(q.start)))
        .bind(t.quiet_hours.map(|q| hhmm::format(q.end)))
        .bind(spans_json(&t.program_spans))
        .bind(t.unreported_birth.as_str())
        .bind(t.corrected_age.map(|c| i64::from(c.weeks_early)))
        .bind(t.corrected_age.map(|c| i64::from(c.months)))
        .bind(created_at)
        .bind(t.yearly_births.map(i64::from))
        .execute(&mut *tx)
        .await
        .conflict(|| format!("tenant `{}` already exists", t.id))?;
        // Read back: the stored form is the truth (times are kept to the minute).
        let stored = load(&mut tx, &t.id).await?;
        tx.commit().await.db()?;
        Ok(stored)
    }

    async fn tenant(&self, id: &str) -> StoreResult<Tenant> {
        sqlx::query_as::<_, TenantRow>(&format!("{SELECT_TENANT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await
            .db()?
            .ok_or_else(|| tenant_not_found(id))?
            .into_tenant()
    }

    async fn tenants(&self) -> StoreResult<Vec<Tenant>> {
        sqlx::query_as::<_, TenantRow>(&format!("{SELECT_TENANT} ORDER BY id"))
            .fetch_all(self.reader())
            .await
            .db()?
            .into_iter()
            .map(TenantRow::into_tenant)
            .collect()
    }

    async fn update_tenant(&self, id: &str, patch: &TenantPatch) -> StoreResult<Tenant> {
        let mut tx = self.begin_write().await?;
        let mut tenant = load(&mut tx, id).await?;
        patch.apply(&mut tenant);
        check_name(&tenant.name)?;
        check_births(tenant.yearly_births)?;
        tenant.updated_at = now();
        sqlx::query(
            "UPDATE tenants SET name = $2, time_zone = $3, send_time = $4, span = $5, \
             programs = $6, lateness_window_minutes = $7, quiet_start = $8, quiet_end = $9, \
             program_spans = $10, unreported_birth = $11, corrected_weeks_early = $12, \
             corrected_months = $13, updated_at = $14, yearly_births = $15 WHERE id = $1",
        )
        .bind(id)
        .bind(&tenant.name)
        .bind(&tenant.time_zone)
        .bind(hhmm::format(tenant.send_time))
        .bind(tenant.span.as_str())
        .bind(Json(&tenant.programs))
        .bind(i64::from(tenant.lateness_window_minutes))
        .bind(tenant.quiet_hours.map(|q| hhmm::format(q.start)))
        .bind(tenant.quiet_hours.map(|q| hhmm::format(q.end)))
        .bind(spans_json(&tenant.program_spans))
        .bind(tenant.unreported_birth.as_str())
        .bind(tenant.corrected_age.map(|c| i64::from(c.weeks_early)))
        .bind(tenant.corrected_age.map(|c| i64::from(c.months)))
        .bind(tenant.updated_at)
        .bind(tenant.yearly_births.map(i64::from))
        .execute(&mut *tx)
        .await
        .db()?;
        let stored = load(&mut tx, id).await?;
        tx.commit().await.db()?;
        Ok(stored)
    }

    async fn delete_tenant(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        require_tenant(&mut tx, id).await?;
        let remaining: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM subscribers WHERE tenant_id = $1 AND status <> 'erased'",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .db()?;
        if remaining > 0 {
            return Err(StoreError::Conflict(format!(
                "tenant `{id}` still has {remaining} subscribers that are not erased; erase them first"
            )));
        }
        sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .db()?;
        tx.commit().await.db()
    }
}
