//! API tokens, by hash.

use sqlx::types::Json;
use tayori_core::{ApiToken, NewApiToken, StoreError, StoreResult, TokenStore};

use super::{Engine, require_tenant};
use crate::error::{DbResultExt, new_id, now};
use crate::rows::TokenRow;
use crate::validate;

const SELECT_TOKEN: &str =
    "SELECT id, role, tenant_id, plugin_ids, label, created_at, revoked_at FROM api_tokens";

#[async_trait::async_trait]
impl TokenStore for Engine {
    async fn insert_token(&self, token: &NewApiToken) -> StoreResult<ApiToken> {
        validate::token(token)?;
        let mut tx = self.begin_write().await?;
        if let Some(tenant_id) = &token.tenant_id {
            require_tenant(&mut tx, tenant_id).await?;
        }
        let stored = ApiToken {
            id: new_id(),
            role: token.role,
            tenant_id: token.tenant_id.clone(),
            plugin_ids: token.plugin_ids.clone(),
            label: token.label.clone(),
            created_at: now(),
            revoked_at: None,
        };
        sqlx::query(
            "INSERT INTO api_tokens (id, token_hash, role, tenant_id, plugin_ids, label, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&stored.id)
        .bind(&token.token_hash)
        .bind(stored.role.as_str())
        .bind(stored.tenant_id.as_deref())
        .bind(Json(&stored.plugin_ids))
        .bind(stored.label.as_deref())
        .bind(stored.created_at)
        .execute(&mut *tx)
        .await
        .conflict(|| "a token with this hash is already stored".to_string())?;
        tx.commit().await.db()?;
        Ok(stored)
    }

    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
        sqlx::query_as::<_, TokenRow>(&format!(
            "{SELECT_TOKEN} WHERE token_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(self.reader())
        .await
        .db()?
        .map(TokenRow::into_token)
        .transpose()
    }

    async fn revoke_token(&self, id: &str) -> StoreResult<ApiToken> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
        )
        .bind(id)
        .bind(now())
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound(format!("token `{id}`")));
        }
        let token = sqlx::query_as::<_, TokenRow>(&format!("{SELECT_TOKEN} WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .db()?
            .into_token()?;
        tx.commit().await.db()?;
        Ok(token)
    }

    async fn tokens(&self, tenant_id: Option<&str>) -> StoreResult<Vec<ApiToken>> {
        let rows = match tenant_id {
            Some(t) => {
                sqlx::query_as::<_, TokenRow>(&format!(
                    "{SELECT_TOKEN} WHERE tenant_id = $1 ORDER BY id"
                ))
                .bind(t)
                .fetch_all(self.reader())
                .await
            }
            None => {
                sqlx::query_as::<_, TokenRow>(&format!("{SELECT_TOKEN} ORDER BY id"))
                    .fetch_all(self.reader())
                    .await
            }
        }
        .db()?;
        rows.into_iter().map(TokenRow::into_token).collect()
    }
}
