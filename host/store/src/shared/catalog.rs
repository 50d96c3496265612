//! The message catalog and tenants' local inserts and extra messages.

use std::collections::HashSet;

use sqlx::types::Json;
use tayori_core::{
    CatalogImported, CatalogMessage, CatalogStore, InsertTarget, LocalInsert, Program,
    ProgramImport, StoreError, StoreResult, TenantMessage,
};

use super::{Engine, fetch_in, insert_chunked, require_tenant};
use crate::error::{DbResultExt, now};
use crate::rows::{CatalogMessageRow, LocalInsertRow, ProgramRow, TenantMessageRow};
use crate::validate;

const SELECT_MESSAGE: &str = "SELECT id, program_id, stage, rule, content FROM catalog_messages";

/// A message to insert, with its program and position.
struct MessageInsert<'a> {
    message: &'a CatalogMessage,
    position: i64,
}

#[async_trait::async_trait]
impl CatalogStore for Engine {
    async fn import_catalog(&self, programs: &[ProgramImport]) -> StoreResult<CatalogImported> {
        validate::catalog(programs)?;
        let at = now();
        let mut tx = self.begin_write().await?;
        let program_ids: Vec<&str> = programs.iter().map(|p| p.program.id.as_str()).collect();
        let replaced: HashSet<&str> = program_ids.iter().copied().collect();
        let incoming: Vec<&str> = programs
            .iter()
            .flat_map(|p| p.messages.iter().map(|m| m.id.as_str()))
            .collect();

        // A message id belongs to one program; moving one between programs
        // is only possible when both are replaced in this import.
        let owners: Vec<(String, String)> = fetch_in(
            &mut tx,
            "SELECT id, program_id FROM catalog_messages WHERE ",
            &[],
            "id",
            &incoming,
        )
        .await?;
        if let Some((id, owner)) = owners
            .iter()
            .find(|(_, owner)| !replaced.contains(owner.as_str()))
        {
            return Err(StoreError::Conflict(format!(
                "message `{id}` belongs to program `{owner}`, which this import does not replace"
            )));
        }
        // Deliveries are keyed by message id: a tenant's extra message must
        // never share one with the catalog.
        let taken: Vec<(String, String)> = fetch_in(
            &mut tx,
            "SELECT tenant_id, id FROM tenant_messages WHERE ",
            &[],
            "id",
            &incoming,
        )
        .await?;
        if let Some((tenant, id)) = taken.first() {
            return Err(StoreError::Conflict(format!(
                "message id `{id}` is already an extra message of tenant `{tenant}`"
            )));
        }

        let before: Vec<(String, String)> = fetch_in(
            &mut tx,
            "SELECT id, program_id FROM catalog_messages WHERE ",
            &[],
            "program_id",
            &program_ids,
        )
        .await?;
        let incoming_set: HashSet<&str> = incoming.iter().copied().collect();
        let removed = before
            .iter()
            .filter(|(id, _)| !incoming_set.contains(id.as_str()))
            .count() as u64;

        for p in programs {
            sqlx::query(
                "INSERT INTO programs (id, name, description, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 description = excluded.description, updated_at = excluded.updated_at",
            )
            .bind(&p.program.id)
            .bind(&p.program.name)
            .bind(&p.program.description)
            .bind(at)
            .execute(&mut *tx)
            .await
            .db()?;
            sqlx::query("DELETE FROM catalog_messages WHERE program_id = $1")
                .bind(&p.program.id)
                .execute(&mut *tx)
                .await
                .db()?;
        }
        let inserts: Vec<MessageInsert> = programs
            .iter()
            .flat_map(|p| p.messages.iter().zip(0i64..))
            .map(|(message, position)| MessageInsert { message, position })
            .collect();
        insert_chunked(
            &mut tx,
            "INSERT INTO catalog_messages (id, program_id, position, stage, rule, content) ",
            6,
            &inserts,
            |mut b, m| {
                b.push_bind(m.message.id.as_str())
                    .push_bind(m.message.program.as_str())
                    .push_bind(m.position)
                    .push_bind(m.message.stage.as_deref())
                    .push_bind(Json(&m.message.rule))
                    .push_bind(Json(&m.message.content));
            },
            || "a message id is used twice in the catalog".to_string(),
        )
        .await?;
        tx.commit().await.db()?;
        Ok(CatalogImported {
            programs: programs.len() as u64,
            messages: inserts.len() as u64,
            removed,
        })
    }

    async fn programs(&self) -> StoreResult<Vec<Program>> {
        Ok(sqlx::query_as::<_, ProgramRow>(
            "SELECT id, name, description FROM programs ORDER BY id",
        )
        .fetch_all(self.reader())
        .await
        .db()?
        .into_iter()
        .map(ProgramRow::into_program)
        .collect())
    }

    async fn catalog_messages(&self, program_id: Option<&str>) -> StoreResult<Vec<CatalogMessage>> {
        let rows = match program_id {
            Some(p) => {
                sqlx::query_as::<_, CatalogMessageRow>(&format!(
                    "{SELECT_MESSAGE} WHERE program_id = $1 ORDER BY position"
                ))
                .bind(p)
                .fetch_all(self.reader())
                .await
            }
            None => {
                sqlx::query_as::<_, CatalogMessageRow>(&format!(
                    "{SELECT_MESSAGE} ORDER BY program_id, position"
                ))
                .fetch_all(self.reader())
                .await
            }
        }
        .db()?;
        Ok(rows
            .into_iter()
            .map(CatalogMessageRow::into_message)
            .collect())
    }

    async fn delete_program(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM programs WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .db()?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(format!("program `{id}`")));
        }
        tx.commit().await.db()
    }

    async fn put_local_insert(&self, tenant_id: &str, insert: &LocalInsert) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        require_tenant(&mut tx, tenant_id).await?;
        sqlx::query(
            "INSERT INTO local_inserts (tenant_id, target_kind, target, content, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, target_kind, target) \
             DO UPDATE SET content = excluded.content, updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(insert.target.kind())
        .bind(insert.target.key())
        .bind(Json(&insert.content))
        .bind(now())
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()
    }

    async fn local_inserts(&self, tenant_id: &str) -> StoreResult<Vec<LocalInsert>> {
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let rows = sqlx::query_as::<_, LocalInsertRow>(
            "SELECT target_kind, target, content FROM local_inserts WHERE tenant_id = $1 \
             ORDER BY target_kind, target",
        )
        .bind(tenant_id)
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        rows.into_iter().map(LocalInsertRow::into_insert).collect()
    }

    async fn delete_local_insert(&self, tenant_id: &str, target: &InsertTarget) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query(
            "DELETE FROM local_inserts WHERE tenant_id = $1 AND target_kind = $2 AND target = $3",
        )
        .bind(tenant_id)
        .bind(target.kind())
        .bind(target.key())
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(format!(
                "local insert for {} `{}` of tenant `{tenant_id}`",
                target.kind(),
                target.key()
            )));
        }
        tx.commit().await.db()
    }

    async fn put_tenant_message(
        &self,
        tenant_id: &str,
        message: &TenantMessage,
    ) -> StoreResult<()> {
        if message.id.is_empty() {
            return Err(crate::error::invalid("id", "is empty"));
        }
        let mut tx = self.begin_write().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let catalog: Option<String> =
            sqlx::query_scalar("SELECT program_id FROM catalog_messages WHERE id = $1")
                .bind(&message.id)
                .fetch_optional(&mut *tx)
                .await
                .db()?;
        if let Some(program) = catalog {
            return Err(StoreError::Conflict(format!(
                "message id `{}` is already a catalog message (program `{program}`); choose another id",
                message.id
            )));
        }
        sqlx::query(
            "INSERT INTO tenant_messages (tenant_id, id, stage, rule, content, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant_id, id) DO UPDATE SET stage = excluded.stage, \
             rule = excluded.rule, content = excluded.content, updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(&message.id)
        .bind(message.stage.as_deref())
        .bind(Json(&message.rule))
        .bind(Json(&message.content))
        .bind(now())
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()
    }

    async fn tenant_messages(&self, tenant_id: &str) -> StoreResult<Vec<TenantMessage>> {
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let rows = sqlx::query_as::<_, TenantMessageRow>(
            "SELECT id, stage, rule, content FROM tenant_messages WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant_id)
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(rows
            .into_iter()
            .map(TenantMessageRow::into_message)
            .collect())
    }

    async fn delete_tenant_message(&self, tenant_id: &str, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM tenant_messages WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .db()?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound(format!(
                "extra message `{id}` of tenant `{tenant_id}`"
            )));
        }
        tx.commit().await.db()
    }
}
