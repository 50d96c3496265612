//! Plugin versions, their bytes and compiled artifacts, and activations.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tayori_core::{
    Activation, ActivationScope, InsertVersion, PluginOutcome, PluginStore, PluginVersionRecord,
    StoreError, StoreResult,
};

use super::{Conn, Engine, lock_plugin_changes};
use crate::error::{DbResultExt, invalid, now};
use crate::rows::{ActivationRow, PluginVersionRow, scope_key};

/// Describes a scope for messages.
fn scope_text(scope: &ActivationScope) -> String {
    match scope {
        ActivationScope::All => "for all tenants".to_string(),
        ActivationScope::Tenant(t) => format!("for tenant `{t}`"),
    }
}

/// The activation in force for a plugin and scope: the latest not rolled back.
async fn in_force(
    conn: &mut Conn,
    plugin_id: &str,
    scope: &str,
) -> StoreResult<Option<ActivationRow>> {
    sqlx::query_as::<_, ActivationRow>(
        "SELECT id, plugin_id, version, scope, activated_at FROM plugin_activations \
         WHERE plugin_id = $1 AND scope = $2 AND NOT rolled_back ORDER BY id DESC LIMIT 1",
    )
    .bind(plugin_id)
    .bind(scope)
    .fetch_optional(conn)
    .await
    .db()
}

#[async_trait::async_trait]
impl PluginStore for Engine {
    async fn insert_plugin_version(
        &self,
        record: &PluginVersionRecord,
        bytes: &[u8],
    ) -> StoreResult<InsertVersion> {
        let digest = hex::encode(Sha256::digest(bytes));
        if record.digest != digest {
            return Err(invalid(
                "digest",
                format!(
                    "`{}` is not the SHA-256 of the component bytes ({digest})",
                    record.digest
                ),
            ));
        }
        if record.size != bytes.len() as u64 {
            return Err(invalid(
                "size",
                format!(
                    "{} is not the component's size ({})",
                    record.size,
                    bytes.len()
                ),
            ));
        }
        if record.manifest.id != record.plugin_id || record.manifest.version != record.version {
            return Err(invalid(
                "manifest",
                format!(
                    "the manifest says `{}` {} but the record says `{}` {}",
                    record.manifest.id, record.manifest.version, record.plugin_id, record.version
                ),
            ));
        }
        let mut tx = self.begin_write().await?;
        let version = record.version.to_string();
        let inserted = sqlx::query(
            "INSERT INTO plugin_versions \
             (plugin_id, version, digest, contract, size, manifest, bytes, published_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (plugin_id, version) DO NOTHING",
        )
        .bind(&record.plugin_id)
        .bind(&version)
        .bind(&record.digest)
        .bind(&record.contract)
        .bind(bytes.len() as i64)
        .bind(sqlx::types::Json(&record.manifest))
        .bind(bytes)
        .bind(record.published_at)
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        let outcome = if inserted == 1 {
            InsertVersion::Inserted
        } else {
            let existing: String = sqlx::query_scalar(
                "SELECT digest FROM plugin_versions WHERE plugin_id = $1 AND version = $2",
            )
            .bind(&record.plugin_id)
            .bind(&version)
            .fetch_one(&mut *tx)
            .await
            .db()?;
            if existing == record.digest {
                InsertVersion::AlreadyPresent
            } else {
                InsertVersion::DifferentBytes(existing)
            }
        };
        tx.commit().await.db()?;
        Ok(outcome)
    }

    async fn plugin_versions(&self) -> StoreResult<Vec<PluginVersionRecord>> {
        sqlx::query_as::<_, PluginVersionRow>(
            "SELECT plugin_id, version, digest, contract, size, manifest, published_at \
             FROM plugin_versions ORDER BY seq",
        )
        .fetch_all(self.reader())
        .await
        .db()?
        .into_iter()
        .map(PluginVersionRow::into_record)
        .collect()
    }

    async fn plugin_bytes(&self, digest: &str) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT bytes FROM plugin_versions WHERE digest = $1 LIMIT 1")
            .bind(digest)
            .fetch_optional(self.reader())
            .await
            .db()
    }

    async fn plugin_artifact(
        &self,
        digest: &str,
        engine_key: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar(
            "SELECT artifact FROM plugin_artifacts WHERE digest = $1 AND engine_key = $2",
        )
        .bind(digest)
        .bind(engine_key)
        .fetch_optional(self.reader())
        .await
        .db()
    }

    async fn put_plugin_artifact(
        &self,
        digest: &str,
        engine_key: &str,
        artifact: &[u8],
    ) -> StoreResult<()> {
        // Replaces: the runtime puts again after finding a stored artifact
        // unusable, and the new one must win.
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO plugin_artifacts (digest, engine_key, artifact, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (digest, engine_key) \
             DO UPDATE SET artifact = excluded.artifact, created_at = excluded.created_at",
        )
        .bind(digest)
        .bind(engine_key)
        .bind(artifact)
        .bind(now())
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()
    }

    async fn activate_plugin(
        &self,
        plugin_id: &str,
        version: &semver::Version,
        scope: &ActivationScope,
    ) -> StoreResult<Activation> {
        let mut tx = self.begin_write().await?;
        lock_plugin_changes(&mut tx, plugin_id).await?;
        let version_text = version.to_string();
        let known: Option<String> = sqlx::query_scalar(
            "SELECT digest FROM plugin_versions WHERE plugin_id = $1 AND version = $2",
        )
        .bind(plugin_id)
        .bind(&version_text)
        .fetch_optional(&mut *tx)
        .await
        .db()?;
        if known.is_none() {
            return Err(StoreError::NotFound(format!(
                "version {version} of plugin `{plugin_id}`"
            )));
        }
        if let ActivationScope::Tenant(tenant) = scope {
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1")
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await
                .db()?;
            if exists.is_none() {
                return Err(invalid(
                    "tenants",
                    format!("tenant `{tenant}` does not exist"),
                ));
            }
        }
        let activated_at = now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO plugin_activations (plugin_id, version, scope, activated_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(plugin_id)
        .bind(&version_text)
        .bind(scope_key(scope))
        .bind(activated_at)
        .fetch_one(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(Activation {
            id,
            plugin_id: plugin_id.to_string(),
            version: version.clone(),
            scope: scope.clone(),
            activated_at,
        })
    }

    async fn rollback_plugin(
        &self,
        plugin_id: &str,
        scope: &ActivationScope,
    ) -> StoreResult<Option<Activation>> {
        let mut tx = self.begin_write().await?;
        lock_plugin_changes(&mut tx, plugin_id).await?;
        let key = scope_key(scope);
        let latest = in_force(&mut tx, plugin_id, key).await?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "an activation of plugin `{plugin_id}` {} to roll back",
                scope_text(scope)
            ))
        })?;
        sqlx::query(
            "UPDATE plugin_activations SET rolled_back = TRUE, rolled_back_at = $2 WHERE id = $1",
        )
        .bind(latest.id)
        .bind(now())
        .execute(&mut *tx)
        .await
        .db()?;
        let now_in_force = in_force(&mut tx, plugin_id, key).await?;
        tx.commit().await.db()?;
        now_in_force.map(ActivationRow::into_activation).transpose()
    }

    async fn plugin_generation(&self) -> StoreResult<String> {
        let (versions, latest, rolled_back): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM plugin_versions), \
             (SELECT COALESCE(MAX(id), 0) FROM plugin_activations), \
             (SELECT COUNT(*) FROM plugin_activations WHERE rolled_back)",
        )
        .fetch_one(self.reader())
        .await
        .db()?;
        Ok(format!("{versions}/{latest}/{rolled_back}"))
    }

    async fn wait_plugin_change(&self, max_wait: std::time::Duration) {
        super::wait_plugin_change(self, max_wait).await;
    }

    async fn active_plugins(&self) -> StoreResult<Vec<Activation>> {
        sqlx::query_as::<_, ActivationRow>(
            "SELECT a.id, a.plugin_id, a.version, a.scope, a.activated_at \
             FROM plugin_activations a \
             WHERE a.id = (SELECT MAX(b.id) FROM plugin_activations b \
                           WHERE b.plugin_id = a.plugin_id AND b.scope = a.scope \
                             AND NOT b.rolled_back) \
             ORDER BY a.plugin_id, a.scope",
        )
        .fetch_all(self.reader())
        .await
        .db()?
        .into_iter()
        .map(ActivationRow::into_activation)
        .collect()
    }

    async fn plugin_outcomes(
        &self,
        plugin_id: Option<&str>,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<PluginOutcome>> {
        // `deliveries_attempted` (migration 0019) holds the attempted rows
        // by `updated_at`: the scan is of the window's rows alone.
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT ch.plugin_id, d.plugin_version, d.status, COUNT(*) FROM deliveries d \
             JOIN channels ch ON ch.tenant_id = d.tenant_id AND ch.name = d.channel \
             WHERE d.plugin_version IS NOT NULL AND d.updated_at >= $1 \
             AND (CAST($2 AS TEXT) IS NULL OR ch.plugin_id = $2) \
             GROUP BY ch.plugin_id, d.plugin_version, d.status \
             ORDER BY ch.plugin_id, d.plugin_version, d.status",
        )
        .bind(since.timestamp_millis())
        .bind(plugin_id)
        .fetch_all(self.reader())
        .await
        .db()?;
        rows.into_iter()
            .map(
                |(plugin_id, version, status, count)| -> StoreResult<PluginOutcome> {
                    Ok(PluginOutcome {
                        plugin_id,
                        version,
                        status: status
                            .parse()
                            .map_err(|e| crate::error::unreadable("delivery status", e))?,
                        count: u64::try_from(count).unwrap_or_default(),
                    })
                },
            )
            .collect()
    }

    async fn plugin_channel_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT plugin_id, COUNT(*) FROM channels GROUP BY plugin_id ORDER BY plugin_id",
        )
        .fetch_all(self.reader())
        .await
        .db()?;
        Ok(rows
            .into_iter()
            .map(|(p, n)| (p, u64::try_from(n).unwrap_or_default()))
            .collect())
    }
}
