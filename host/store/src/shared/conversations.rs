//! Chat conversations (one row per contact address of a channel, the
//! domain's `Conversation` as JSON) and the front door's events.

use chrono::{DateTime, NaiveDate, Utc};
use tayori_core::domain::conversation::{ChatTexts, Conversation, FrontDoorKind};
use tayori_core::{BirthQuestion, ContactStatus, ConversationStore, StoreResult};

use super::{Conn, Engine, require_tenant};
use crate::error::{DbResultExt, unreadable};

/// A subscriber is being erased (call before its contacts' addresses are
/// removed): the conversations of its addresses go.
pub(super) async fn subscriber_erased(
    conn: &mut Conn,
    tenant_id: &str,
    subscriber_id: &str,
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM conversations WHERE tenant_id = $1 AND (channel, address) IN \
         (SELECT channel, address FROM contacts \
          WHERE tenant_id = $1 AND subscriber_id = $2 AND address IS NOT NULL)",
    )
    .bind(tenant_id)
    .bind(subscriber_id)
    .execute(&mut *conn)
    .await
    .db()?;
    Ok(())
}

#[async_trait::async_trait]
impl ConversationStore for Engine {
    async fn conversation(
        &self,
        tenant_id: &str,
        channel: &str,
        address: &str,
    ) -> StoreResult<Option<Conversation>> {
        let state: Option<String> = sqlx::query_scalar(
            "SELECT state FROM conversations \
             WHERE tenant_id = $1 AND channel = $2 AND address = $3",
        )
        .bind(tenant_id)
        .bind(channel)
        .bind(address)
        .fetch_optional(self.reader())
        .await
        .db()?;
        state
            .map(|s| serde_json::from_str(&s).map_err(|e| unreadable("conversation state", e)))
            .transpose()
    }

    async fn save_conversation(
        &self,
        tenant_id: &str,
        channel: &str,
        address: &str,
        read_round: Option<u32>,
        next: &Conversation,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let state = serde_json::to_string(next).expect("a conversation is plain data");
        let mut tx = self.begin_write().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let saved = match read_round {
            None => sqlx::query(
                "INSERT INTO conversations (tenant_id, channel, address, state, round, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(tenant_id)
            .bind(channel)
            .bind(address)
            .bind(&state)
            .bind(i64::from(next.round))
            .bind(at.timestamp_millis())
            .execute(&mut *tx)
            .await
            .db()?,
            Some(round) => sqlx::query(
                "UPDATE conversations SET state = $4, round = $5, updated_at = $6 \
                 WHERE tenant_id = $1 AND channel = $2 AND address = $3 AND round = $7",
            )
            .bind(tenant_id)
            .bind(channel)
            .bind(address)
            .bind(&state)
            .bind(i64::from(next.round))
            .bind(at.timestamp_millis())
            .bind(i64::from(round))
            .execute(&mut *tx)
            .await
            .db()?,
        }
        .rows_affected();
        tx.commit().await.db()?;
        Ok(saved > 0)
    }

    async fn record_front_door(
        &self,
        tenant_id: &str,
        channel: &str,
        kind: FrontDoorKind,
        subscriber_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        require_tenant(&mut tx, tenant_id).await?;
        sqlx::query(
            "INSERT INTO front_door_events (tenant_id, channel, kind, subscriber_id, occurred_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant_id)
        .bind(channel)
        .bind(kind.as_str())
        .bind(subscriber_id)
        .bind(at.timestamp_millis())
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn claim_birth_questions(
        &self,
        tenant_id: &str,
        due_by: NaiveDate,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<BirthQuestion>> {
        let mut tx = self.begin_write().await?;
        require_tenant(&mut tx, tenant_id).await?;
        // The WHERE settles SQLite's reading of ON CONFLICT after a SELECT.
        let claimed: Vec<String> = sqlx::query_scalar(
            "INSERT INTO birth_questions (tenant_id, child_id, asked_at) \
             SELECT c.tenant_id, c.id, $3 FROM children c JOIN subscribers s \
             ON s.tenant_id = c.tenant_id AND s.id = c.subscriber_id \
             WHERE c.tenant_id = $1 AND c.status = 'expecting' AND c.due_date <= $2 \
             AND s.status = 'active' \
             ORDER BY c.due_date, c.id LIMIT 500 \
             ON CONFLICT DO NOTHING RETURNING child_id",
        )
        .bind(tenant_id)
        .bind(due_by)
        .bind(at.timestamp_millis())
        .fetch_all(&mut *tx)
        .await
        .db()?;
        let mut out = Vec::with_capacity(claimed.len());
        for child_id in claimed {
            let subscriber_id: String = sqlx::query_scalar(
                "SELECT subscriber_id FROM children WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant_id)
            .bind(&child_id)
            .fetch_one(&mut *tx)
            .await
            .db()?;
            let subscriber = super::subscribers::load(&mut tx, tenant_id, &subscriber_id).await?;
            let Some(child) = subscriber
                .children
                .iter()
                .find(|c| c.id == child_id)
                .cloned()
            else {
                continue;
            };
            out.push(BirthQuestion {
                subscriber_id,
                child,
                locale: subscriber.locale,
                contacts: subscriber
                    .contacts
                    .iter()
                    .filter(|c| c.status == ContactStatus::Valid)
                    .map(|c| (c.channel.clone(), c.address.clone()))
                    .collect(),
            });
        }
        tx.commit().await.db()?;
        Ok(out)
    }

    async fn chat_texts(&self, tenant_id: &str) -> StoreResult<ChatTexts> {
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let texts: Option<String> =
            sqlx::query_scalar("SELECT texts FROM tenant_texts WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await
                .db()?;
        tx.commit().await.db()?;
        match texts {
            None => Ok(ChatTexts::new()),
            Some(t) => serde_json::from_str(&t).map_err(|e| unreadable("tenant texts", e)),
        }
    }

    async fn put_chat_texts(&self, tenant_id: &str, texts: &ChatTexts) -> StoreResult<()> {
        let json = serde_json::to_string(texts).expect("texts are plain data");
        let mut tx = self.begin_write().await?;
        require_tenant(&mut tx, tenant_id).await?;
        sqlx::query(
            "INSERT INTO tenant_texts (tenant_id, texts) VALUES ($1, $2) \
             ON CONFLICT (tenant_id) DO UPDATE SET texts = excluded.texts",
        )
        .bind(tenant_id)
        .bind(json)
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn front_door_counts(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, FrontDoorKind, u64)>> {
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT channel, kind, COUNT(*) FROM front_door_events \
             WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 \
             GROUP BY channel, kind ORDER BY channel, kind",
        )
        .bind(tenant_id)
        .bind(from.timestamp_millis())
        .bind(to.timestamp_millis())
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        rows.into_iter()
            .map(|(channel, kind, n)| {
                let kind = kind
                    .parse()
                    .map_err(|e| unreadable("front door event kind", e))?;
                Ok((channel, kind, u64::try_from(n).unwrap_or_default()))
            })
            .collect()
    }
}
