//! A tenant's channels.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use tayori_core::{
    Channel, ChannelSetupOutcome, ChannelSpec, ChannelStore, PutChannel, StoreError, StoreResult,
};

use super::outbox::{cancel_open, hold_channel};
use super::{Conn, Engine, require_tenant};
use crate::error::{DbResultExt, now};
use crate::rows::ChannelRow;
use crate::validate;

const SELECT_CHANNEL: &str = "SELECT tenant_id, name, plugin_id, version_pin, config, \
     secrets_ciphertext, allowed_hosts, rate_per_second, daily_quota, paused_reason, paused_at, \
     setup, created_at, updated_at FROM channels";

fn not_found(tenant_id: &str, name: &str) -> StoreError {
    StoreError::NotFound(format!("channel `{name}` of tenant `{tenant_id}`"))
}

async fn load(conn: &mut Conn, tenant_id: &str, name: &str) -> StoreResult<Channel> {
    sqlx::query_as::<_, ChannelRow>(&format!(
        "{SELECT_CHANNEL} WHERE tenant_id = $1 AND name = $2"
    ))
    .bind(tenant_id)
    .bind(name)
    .fetch_optional(conn)
    .await
    .db()?
    .ok_or_else(|| not_found(tenant_id, name))?
    .into_channel()
}

#[async_trait::async_trait]
impl ChannelStore for Engine {
    async fn put_channel(&self, tenant_id: &str, spec: &ChannelSpec) -> StoreResult<PutChannel> {
        validate::channel_name(&spec.name)?;
        let mut tx = self.begin_write().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let existed: Option<String> =
            sqlx::query_scalar("SELECT name FROM channels WHERE tenant_id = $1 AND name = $2")
                .bind(tenant_id)
                .bind(&spec.name)
                .fetch_optional(&mut *tx)
                .await
                .db()?;
        sqlx::query(
            "INSERT INTO channels (tenant_id, name, plugin_id, version_pin, config, \
             secrets_ciphertext, allowed_hosts, rate_per_second, daily_quota, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET \
             plugin_id = excluded.plugin_id, version_pin = excluded.version_pin, \
             config = excluded.config, secrets_ciphertext = excluded.secrets_ciphertext, \
             allowed_hosts = excluded.allowed_hosts, rate_per_second = excluded.rate_per_second, \
             daily_quota = excluded.daily_quota, paused_reason = NULL, paused_at = NULL, setup = NULL, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(&spec.name)
        .bind(&spec.plugin_id)
        .bind(spec.version.as_ref().map(ToString::to_string))
        .bind(Json(&spec.config))
        .bind(spec.secrets_ciphertext.as_slice())
        .bind(Json(&spec.allowed_hosts))
        .bind(spec.rate_per_second.map(i64::from))
        .bind(spec.daily_quota.map(i64::from))
        .bind(now())
        .execute(&mut *tx)
        .await
        .db()?;
        // A new config resumes a paused channel and what it held.
        hold_channel(&mut tx, tenant_id, &spec.name, false).await?;
        let channel = load(&mut tx, tenant_id, &spec.name).await?;
        tx.commit().await.db()?;
        Ok(PutChannel {
            channel,
            created: existed.is_none(),
        })
    }

    async fn channel(&self, tenant_id: &str, name: &str) -> StoreResult<Channel> {
        sqlx::query_as::<_, ChannelRow>(&format!(
            "{SELECT_CHANNEL} WHERE tenant_id = $1 AND name = $2"
        ))
        .bind(tenant_id)
        .bind(name)
        .fetch_optional(self.reader())
        .await
        .db()?
        .ok_or_else(|| not_found(tenant_id, name))?
        .into_channel()
    }

    async fn channels(&self, tenant_id: &str) -> StoreResult<Vec<Channel>> {
        sqlx::query_as::<_, ChannelRow>(&format!(
            "{SELECT_CHANNEL} WHERE tenant_id = $1 ORDER BY name"
        ))
        .bind(tenant_id)
        .fetch_all(self.reader())
        .await
        .db()?
        .into_iter()
        .map(ChannelRow::into_channel)
        .collect()
    }

    async fn delete_channel(&self, tenant_id: &str, name: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM channels WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .execute(&mut *tx)
            .await
            .db()?
            .rows_affected();
        if deleted == 0 {
            return Err(not_found(tenant_id, name));
        }
        cancel_open(
            &mut tx,
            tenant_id,
            "channel",
            &[name.to_string()],
            "",
            "the channel was deleted",
        )
        .await?;
        tx.commit().await.db()
    }

    async fn set_channel_pause(
        &self,
        tenant_id: &str,
        name: &str,
        reason: Option<&str>,
    ) -> StoreResult<Channel> {
        let mut tx = self.begin_write().await?;
        let at = now();
        let query = match reason {
            // Pausing a paused channel updates the reason but keeps `since`.
            Some(reason) => sqlx::query(
                "UPDATE channels SET paused_reason = $3, paused_at = COALESCE(paused_at, $4), \
                 updated_at = $4 WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant_id)
            .bind(name)
            .bind(reason)
            .bind(at),
            None => sqlx::query(
                "UPDATE channels SET paused_reason = NULL, paused_at = NULL, updated_at = $3 \
                 WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant_id)
            .bind(name)
            .bind(at),
        };
        if query.execute(&mut *tx).await.db()?.rows_affected() == 0 {
            return Err(not_found(tenant_id, name));
        }
        // A paused channel's deliveries wait, held, until it resumes.
        hold_channel(&mut tx, tenant_id, name, reason.is_some()).await?;
        let channel = load(&mut tx, tenant_id, name).await?;
        tx.commit().await.db()?;
        Ok(channel)
    }

    async fn set_channel_setup(
        &self,
        tenant_id: &str,
        name: &str,
        put_at: DateTime<Utc>,
        outcome: &ChannelSetupOutcome,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        // Fenced by the put it belongs to: a set-up that ends after the
        // channel was put again keeps nothing. `updated_at` is left alone,
        // so the fence holds for a second set-up of the same put.
        let kept = sqlx::query(
            "UPDATE channels SET setup = $4 WHERE tenant_id = $1 AND name = $2 AND updated_at = $3",
        )
        .bind(tenant_id)
        .bind(name)
        .bind(put_at)
        .bind(Json(outcome))
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        tx.commit().await.db()?;
        Ok(kept > 0)
    }
}
