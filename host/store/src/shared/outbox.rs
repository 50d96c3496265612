//! The delivery outbox: planned and broadcast deliveries, claims with a
//! lease and a fencing token, completions, and the per-channel send
//! counters behind daily quotas and rate windows.
//!
//! A claim is one statement: the due rows are chosen and put in flight
//! together (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so that several nodes
//! claim disjoint rows; SQLite's single writer needs no lock). Each claim
//! increments the row's `fence`, and a completion only applies while the
//! fence is the one its claim saw, so a dispatcher whose lease ran out
//! cannot overwrite the work of the one that rescued the row.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use tayori_core::{
    AudienceMember, Broadcast, Claim, ClaimedDelivery, Complete, Completed, Completion, Delivery,
    DeliveryFilter, DeliverySource, Locale, NewDelivery, OutboxStats, OutboxStatus, OutboxStore,
    Page, PageRequest, PlanSource, PlanState, Planned, StoreError, StoreResult, from_millis,
};

use super::{
    CHANGE_CURSOR, CLAIM_LOCK, Conn, Db, Engine, MAX_BIND_PARAMS, MAX_KEYS_PER_IN, ONE_HOST,
    fetch_in, lock_batch_claims, lock_plan, require_tenant, worth_caching,
};
use crate::error::{DbResultExt, unreadable};

/// The columns a claim returns.
const CLAIMED_COLUMNS: &str = "id, fence, attempts, key, tenant_id, subscriber_id, contact_id, \
     channel, child_id, message_id, occurs_on, pregnancy, broadcast_id, due_at, expires_at, batch";

/// Columns of a listed delivery.
const DELIVERY_COLUMNS: &str = "id, key, tenant_id, subscriber_id, contact_id, channel, child_id, \
     message_id, occurs_on, pregnancy, broadcast_id, status, due_at, expires_at, attempts, \
     next_attempt_at, last_error, receipt, plugin_version, sent_at, updated_at";

/// Claims due rows outside kept batches.
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE deliveries SET status = 'in_flight', fence = fence + 1, attempts = attempts + 1, \
         lease_until = $1, updated_at = $2 \
         WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
         AND batch IS NULL ORDER BY next_attempt_at, id LIMIT $3{CLAIM_LOCK}) \
         RETURNING {CLAIMED_COLUMNS}"
    )
});

/// Claims the kept batches with a due row, each whole: every pending member,
/// due or not (a batch's retries are jittered row by row).
static CLAIM_BATCHES_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE deliveries SET status = 'in_flight', fence = fence + 1, attempts = attempts + 1, \
         lease_until = $1, updated_at = $2 \
         WHERE status = 'pending' AND batch IN (SELECT batch FROM deliveries \
         WHERE status = 'pending' AND batch IS NOT NULL AND next_attempt_at <= $2 \
         GROUP BY batch ORDER BY MIN(next_attempt_at), batch LIMIT $3) \
         RETURNING {CLAIMED_COLUMNS}"
    )
});

/// Kept batches one claim takes at most per `BATCH_CLAIM_ROWS` rows it
/// asks for (a batch has up to a plugin's batch size, 500 for LINE).
const BATCH_CLAIM_ROWS: u32 = 500;

/// A delivery row as a claim returns it.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    fence: i64,
    attempts: i64,
    key: String,
    tenant_id: String,
    subscriber_id: String,
    contact_id: String,
    channel: String,
    child_id: Option<String>,
    message_id: Option<String>,
    occurs_on: Option<NaiveDate>,
    pregnancy: bool,
    broadcast_id: Option<String>,
    due_at: i64,
    expires_at: i64,
    batch: Option<String>,
}

fn source(
    child_id: Option<String>,
    message_id: Option<String>,
    occurs_on: Option<NaiveDate>,
    pregnancy: bool,
    broadcast_id: Option<String>,
) -> StoreResult<DeliverySource> {
    match (child_id, message_id, occurs_on, broadcast_id) {
        (Some(child_id), Some(message_id), Some(occurs_on), None) => {
            Ok(DeliverySource::Scheduled {
                child_id,
                message_id,
                occurs_on,
                pregnancy,
            })
        }
        (None, _, _, Some(broadcast_id)) => Ok(DeliverySource::Broadcast { broadcast_id }),
        _ => Err(unreadable("delivery", "neither scheduled nor broadcast")),
    }
}

/// A delivery row as listed.
#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    key: String,
    tenant_id: String,
    subscriber_id: String,
    contact_id: String,
    channel: String,
    child_id: Option<String>,
    message_id: Option<String>,
    occurs_on: Option<NaiveDate>,
    pregnancy: bool,
    broadcast_id: Option<String>,
    status: String,
    due_at: i64,
    expires_at: i64,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    receipt: Option<String>,
    plugin_version: Option<String>,
    sent_at: Option<i64>,
    updated_at: i64,
}

impl DeliveryRow {
    fn into_delivery(self) -> StoreResult<Delivery> {
        let status: OutboxStatus = self
            .status
            .parse()
            .map_err(|e| unreadable("delivery status", e))?;
        Ok(Delivery {
            id: self.id,
            key: self.key,
            tenant_id: self.tenant_id,
            subscriber_id: self.subscriber_id,
            contact_id: self.contact_id,
            channel: self.channel,
            source: source(
                self.child_id,
                self.message_id,
                self.occurs_on,
                self.pregnancy,
                self.broadcast_id,
            )?,
            status,
            due_at: from_millis(self.due_at),
            expires_at: from_millis(self.expires_at),
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            next_attempt_at: matches!(status, OutboxStatus::Pending)
                .then(|| from_millis(self.next_attempt_at)),
            last_error: self.last_error,
            receipt: self.receipt,
            plugin_version: self.plugin_version,
            sent_at: self.sent_at.map(from_millis),
            updated_at: from_millis(self.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct ContactFacts {
    id: String,
    tenant_id: String,
    address: Option<String>,
    status: String,
}

#[derive(sqlx::FromRow)]
struct SubscriberFacts {
    id: String,
    tenant_id: String,
    locale: String,
    status: String,
}

#[derive(sqlx::FromRow)]
struct ChildFacts {
    id: String,
    tenant_id: String,
    due_date: Option<NaiveDate>,
    birth_date: Option<NaiveDate>,
    status: String,
}

#[derive(sqlx::FromRow)]
struct PlanRow {
    subscriber_id: String,
    child_id: String,
    due_date: Option<NaiveDate>,
    birth_date: Option<NaiveDate>,
    contact_id: String,
    channel: String,
}

impl PlanRow {
    fn into_source(self) -> PlanSource {
        PlanSource {
            subscriber_id: self.subscriber_id,
            child_id: self.child_id,
            due_date: self.due_date,
            birth_date: self.birth_date,
            contact_id: self.contact_id,
            channel: self.channel,
        }
    }
}

/// The planner's children with their contacts: this, the tenant, then
/// [`PLAN_SOURCES_LIVING`] and any further `AND` conditions.
const PLAN_SOURCES_FROM: &str = "SELECT ch.subscriber_id, ch.id AS child_id, ch.due_date, \
     ch.birth_date, c.id AS contact_id, c.channel \
     FROM children ch \
     JOIN subscribers s ON s.tenant_id = ch.tenant_id AND s.id = ch.subscriber_id \
     JOIN contacts c ON c.tenant_id = ch.tenant_id AND c.subscriber_id = ch.subscriber_id \
     WHERE ch.tenant_id = ";
const PLAN_SOURCES_LIVING: &str = " AND ch.status <> 'stopped' AND s.status = 'active' \
     AND c.status = 'valid' AND c.address IS NOT NULL";
/// ` IN (dates...)`.
fn push_dates(b: &mut QueryBuilder<'_, Db>, dates: &[NaiveDate]) {
    b.push(" IN (");
    let mut list = b.separated(", ");
    for date in dates {
        list.push_bind(*date);
    }
    b.push(")");
}

/// [`PLAN_SOURCES_FROM`] with the tenant as `$1`.
static PLAN_SOURCES_SQL: LazyLock<String> =
    LazyLock::new(|| format!("{PLAN_SOURCES_FROM}$1{PLAN_SOURCES_LIVING}"));

/// The plan sources of the subscribers changed after `$2`, found through
/// the index of change numbers (a pass reads only what changed).
static PLAN_CHANGES_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT ch.subscriber_id, ch.id AS child_id, ch.due_date, \
         ch.birth_date, c.id AS contact_id, c.channel \
         FROM subscribers s \
         JOIN children ch ON ch.tenant_id = s.tenant_id AND ch.subscriber_id = s.id \
         JOIN contacts c ON c.tenant_id = s.tenant_id AND c.subscriber_id = s.id \
         WHERE s.tenant_id = $1 AND s.changed > $2{PLAN_SOURCES_LIVING}"
    )
});

#[derive(sqlx::FromRow)]
struct AudienceRow {
    subscriber_id: String,
    contact_id: String,
    channel: String,
    child_id: Option<String>,
    due_date: Option<NaiveDate>,
    birth_date: Option<NaiveDate>,
}

#[derive(sqlx::FromRow)]
struct BroadcastRow {
    id: String,
    tenant_id: String,
    subject: Option<String>,
    body: String,
    audience: Json<serde_json::Value>,
    send_at: i64,
    deliveries: i64,
    created_at: i64,
}

impl BroadcastRow {
    fn into_broadcast(self) -> Broadcast {
        Broadcast {
            id: self.id,
            tenant_id: self.tenant_id,
            subject: self.subject,
            body: self.body,
            audience: self.audience.0,
            send_at: from_millis(self.send_at),
            deliveries: u64::try_from(self.deliveries).unwrap_or_default(),
            created_at: from_millis(self.created_at),
        }
    }
}

/// Cancels the open (pending or held) deliveries matching `filter` (a
/// condition on `deliveries` after `tenant_id = $1 AND `, binding from `$4`).
pub(super) async fn cancel_open(
    conn: &mut Conn,
    tenant_id: &str,
    column: &'static str,
    ids: &[String],
    extra: &'static str,
    reason: &str,
) -> StoreResult<u64> {
    let now = Utc::now().timestamp_millis();
    let mut cancelled = 0;
    for chunk in ids.chunks(MAX_KEYS_PER_IN) {
        let mut b = QueryBuilder::<Db>::new(
            "UPDATE deliveries SET status = 'cancelled', batch = NULL, last_error = ",
        );
        b.push_bind(reason)
            .push(", updated_at = ")
            .push_bind(now)
            .push(" WHERE tenant_id = ")
            .push_bind(tenant_id)
            .push(" AND status IN ('pending', 'held')")
            .push(extra)
            .push(" AND ")
            .push(column)
            .push(" IN (");
        let mut list = b.separated(", ");
        for id in chunk {
            list.push_bind(id);
        }
        b.push(")");
        cancelled += b
            .build()
            .persistent(worth_caching(chunk.len(), MAX_KEYS_PER_IN))
            .execute(&mut *conn)
            .await
            .db()?
            .rows_affected();
    }
    Ok(cancelled)
}

/// Holds (`hold`) or releases a channel's open deliveries.
pub(super) async fn hold_channel(
    conn: &mut Conn,
    tenant_id: &str,
    channel: &str,
    hold: bool,
) -> StoreResult<()> {
    let (from, to) = if hold {
        ("pending", "held")
    } else {
        ("held", "pending")
    };
    sqlx::query(
        "UPDATE deliveries SET status = $4, updated_at = $5 \
         WHERE tenant_id = $1 AND channel = $2 AND status = $3",
    )
    .bind(tenant_id)
    .bind(channel)
    .bind(from)
    .bind(to)
    .bind(Utc::now().timestamp_millis())
    .execute(conn)
    .await
    .db()?;
    Ok(())
}

/// `rows` cut for statements that recur: full ones of `full` rows, then the
/// rest in powers of two (610 rows: 512, 64, 32, 2). Each length is its own
/// statement; a tenant's day of any size then reuses a few prepared ones
/// instead of preparing one of its own size (about a millisecond for a
/// day's insert of 16 columns).
fn recurring_chunks<T>(rows: &[T], full: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= full {
            full
        } else {
            1 << rest.len().ilog2()
        };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// Planned rows per transaction while nobody is registering: 4,096 rows
/// hold the writer some 30 ms; smaller transactions write the same index
/// pages to the log again and again (planning 100,000 children took
/// 0.76–0.81 s at 4,096 rows a transaction, 1.35–1.48 s in transactions of
/// 2 ms).
const PLAN_WRITE_MAX: usize = 4_096;
/// While people are registering (a registration within
/// [`REGISTERING_WINDOW`]), each transaction of planned rows is sized to
/// hold the writer for about this long at the pace of the one before: on
/// SQLite every registration waits behind it, and a pass planning a
/// second's registrations in one 4,096-row transaction made the slowest
/// percent of creates wait 30 ms.
const PLAN_WRITE_HOLD: std::time::Duration = std::time::Duration::from_millis(2);
const REGISTERING_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);
/// The fewest rows in a transaction, and the first transaction's while
/// people are registering (before the writer's pace is known): 64 rows
/// hold this machine's writer about 2 ms, most of it the commit.
const PLAN_WRITE_MIN: usize = 64;

/// The rows of a plan's next transaction, a power of two (so that the
/// insert statements' shapes recur and stay prepared): all it may take
/// while nobody registers; otherwise as many as the last one (`rows` in
/// `held`, if any) wrote in [`PLAN_WRITE_HOLD`].
fn plan_chunk(registering: bool, last: Option<(usize, std::time::Duration)>) -> usize {
    if !registering {
        return PLAN_WRITE_MAX;
    }
    let Some((rows, held)) = last else {
        return PLAN_WRITE_MIN;
    };
    let per_hold = rows as f64 * PLAN_WRITE_HOLD.as_secs_f64() / held.as_secs_f64().max(1e-6);
    let n = (per_hold as usize).clamp(PLAN_WRITE_MIN, PLAN_WRITE_MAX);
    1 << n.ilog2()
}

/// Inserts deliveries, leaving rows whose key exists as they are.
async fn insert_deliveries(conn: &mut Conn, rows: &[NewDelivery]) -> StoreResult<Planned> {
    const COLUMNS: usize = 16;
    let per_statement = (MAX_BIND_PARAMS / COLUMNS).min(super::MAX_ROWS_PER_INSERT);
    let now = Utc::now().timestamp_millis();
    let mut planned = Planned::default();
    for chunk in recurring_chunks(rows, per_statement) {
        let mut b = QueryBuilder::<Db>::new(
            "INSERT INTO deliveries (key, tenant_id, subscriber_id, contact_id, channel, child_id, \
             message_id, occurs_on, pregnancy, broadcast_id, due_at, expires_at, status, \
             next_attempt_at, last_error, updated_at) ",
        );
        b.push_values(chunk, |mut row, d| {
            let (child, message, occurs_on, pregnancy, broadcast) = match &d.source {
                DeliverySource::Scheduled {
                    child_id,
                    message_id,
                    occurs_on,
                    pregnancy,
                } => (
                    Some(child_id.as_str()),
                    Some(message_id.as_str()),
                    Some(*occurs_on),
                    *pregnancy,
                    None,
                ),
                DeliverySource::Broadcast { broadcast_id } => {
                    (None, None, None, false, Some(broadcast_id.as_str()))
                }
            };
            row.push_bind(d.key.as_str())
                .push_bind(d.tenant_id.as_str())
                .push_bind(d.subscriber_id.as_str())
                .push_bind(d.contact_id.as_str())
                .push_bind(d.channel.as_str())
                .push_bind(child)
                .push_bind(message)
                .push_bind(occurs_on)
                .push_bind(pregnancy)
                .push_bind(broadcast)
                .push_bind(d.due_at)
                .push_bind(d.expires_at)
                .push_bind(d.status.as_str())
                .push_bind(d.due_at)
                .push_bind((d.status == OutboxStatus::Expired).then(|| {
                    d.late
                        .unwrap_or(tayori_core::LateReason::HostDown)
                        .message()
                }))
                .push_bind(now);
        });
        // The key is unique per tenant and day, or per broadcast (see
        // `0006_outbox.sql`): either index turns a planned row away.
        b.push(" ON CONFLICT DO NOTHING");
        let inserted = b
            .build()
            .persistent(
                worth_caching(chunk.len(), per_statement)
                    || (super::PERSIST_BULK_STATEMENTS && chunk.len().is_power_of_two()),
            )
            .execute(&mut *conn)
            .await
            .db()?
            .rows_affected();
        let expired_in_chunk = chunk
            .iter()
            .filter(|d| d.status == OutboxStatus::Expired)
            .count() as u64;
        // Which of the chunk's rows were new is not reported row by row;
        // count expired ones among the new rows when all were new.
        if inserted == chunk.len() as u64 {
            planned.expired += expired_in_chunk;
            planned.inserted += inserted - expired_in_chunk;
        } else {
            planned.inserted += inserted;
        }
        planned.existing += chunk.len() as u64 - inserted;
    }
    Ok(planned)
}

/// The row of `rows` for each kind of completion: status, next attempt,
/// attempts to give back, error, receipt, plugin version, keep the batch.
struct Applied {
    status: OutboxStatus,
    next_attempt_at: Option<i64>,
    refund: i64,
    error: Option<String>,
    receipt: Option<String>,
    plugin_version: Option<String>,
    keep_batch: bool,
    /// Why it failed for good (`FailureReason`), if it did.
    failure: Option<&'static str>,
}

fn applied(c: &Completion) -> Applied {
    let applied = applied_row(c);
    Applied {
        failure: tayori_core::FailureReason::of(c).map(|f| f.as_str()),
        ..applied
    }
}

fn applied_row(c: &Completion) -> Applied {
    let base = |status| Applied {
        status,
        next_attempt_at: None,
        refund: 0,
        error: None,
        receipt: None,
        plugin_version: None,
        keep_batch: false,
        failure: None,
    };
    match c {
        Completion::Sent {
            receipt,
            plugin_version,
        } => Applied {
            receipt: receipt.clone(),
            plugin_version: Some(plugin_version.clone()),
            ..base(OutboxStatus::Sent)
        },
        Completion::Retry {
            at,
            error,
            plugin_version,
            keep_batch,
        } => Applied {
            next_attempt_at: Some(*at),
            error: Some(error.clone()),
            plugin_version: plugin_version.clone(),
            keep_batch: *keep_batch,
            ..base(OutboxStatus::Pending)
        },
        // Not attempted: a row stays in its batch, which may have gone out
        // whole before and must go out whole again, under the same key.
        Completion::Defer { at, reason } => Applied {
            next_attempt_at: Some(*at),
            refund: 1,
            error: reason.clone(),
            keep_batch: true,
            ..base(OutboxStatus::Pending)
        },
        Completion::Failed {
            error,
            plugin_version,
        }
        | Completion::RecipientGone {
            error,
            plugin_version,
        }
        | Completion::Dead {
            error,
            plugin_version,
        } => Applied {
            error: Some(error.clone()),
            plugin_version: plugin_version.clone(),
            ..base(if matches!(c, Completion::Dead { .. }) {
                OutboxStatus::Dead
            } else {
                OutboxStatus::Failed
            })
        },
        Completion::Expired { error } => Applied {
            error: error.clone(),
            ..base(OutboxStatus::Expired)
        },
        Completion::Cancelled { reason } => Applied {
            error: Some(reason.clone()),
            ..base(OutboxStatus::Cancelled)
        },
        Completion::Unauthorized { error, .. } => Applied {
            refund: 1,
            error: Some(error.clone()),
            ..base(OutboxStatus::Held)
        },
    }
}

#[derive(sqlx::FromRow)]
struct CompletedRow {
    id: i64,
    tenant_id: String,
    contact_id: String,
    channel: String,
}

/// The claimed rows with the facts of their contacts, subscribers and
/// children.
async fn claimed_rows(conn: &mut Conn, rows: Vec<ClaimedRow>) -> StoreResult<Vec<ClaimedDelivery>> {
    let contact_ids: BTreeSet<&str> = rows.iter().map(|r| r.contact_id.as_str()).collect();
    let subscriber_ids: BTreeSet<&str> = rows.iter().map(|r| r.subscriber_id.as_str()).collect();
    let child_ids: BTreeSet<&str> = rows.iter().filter_map(|r| r.child_id.as_deref()).collect();
    let contacts: Vec<ContactFacts> = fetch_in(
        conn,
        "SELECT id, tenant_id, address, status FROM contacts WHERE ",
        &[],
        "id",
        &contact_ids.into_iter().collect::<Vec<_>>(),
    )
    .await?;
    let subscribers: Vec<SubscriberFacts> = fetch_in(
        conn,
        "SELECT id, tenant_id, locale, status FROM subscribers WHERE ",
        &[],
        "id",
        &subscriber_ids.into_iter().collect::<Vec<_>>(),
    )
    .await?;
    let children: Vec<ChildFacts> = fetch_in(
        conn,
        "SELECT id, tenant_id, due_date, birth_date, status FROM children WHERE ",
        &[],
        "id",
        &child_ids.into_iter().collect::<Vec<_>>(),
    )
    .await?;
    let contacts: HashMap<&str, &ContactFacts> =
        contacts.iter().map(|c| (c.id.as_str(), c)).collect();
    let subscribers: HashMap<&str, &SubscriberFacts> =
        subscribers.iter().map(|s| (s.id.as_str(), s)).collect();
    let children: HashMap<&str, &ChildFacts> =
        children.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        // Facts of another tenant are never used, even if ids collided.
        let contact = contacts
            .get(r.contact_id.as_str())
            .filter(|c| c.tenant_id == r.tenant_id);
        let subscriber = subscribers
            .get(r.subscriber_id.as_str())
            .filter(|s| s.tenant_id == r.tenant_id);
        let child = r
            .child_id
            .as_deref()
            .and_then(|id| children.get(id))
            .filter(|c| c.tenant_id == r.tenant_id);
        let locale = subscriber
            .and_then(|s| s.locale.parse::<Locale>().ok())
            .unwrap_or(Locale::Ja);
        out.push(ClaimedDelivery {
            id: r.id,
            fence: r.fence,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            source: source(
                r.child_id,
                r.message_id,
                r.occurs_on,
                r.pregnancy,
                r.broadcast_id,
            )?,
            key: r.key,
            tenant_id: r.tenant_id,
            subscriber_id: r.subscriber_id,
            contact_id: r.contact_id,
            channel: r.channel,
            due_at: r.due_at,
            expires_at: r.expires_at,
            batch: r.batch,
            address: contact.and_then(|c| c.address.clone()),
            contact_valid: contact.is_some_and(|c| c.status == "valid"),
            locale,
            subscriber_active: subscriber.is_some_and(|s| s.status == "active"),
            due_date: child.and_then(|c| c.due_date),
            birth_date: child.and_then(|c| c.birth_date),
            child_stopped: child.is_none_or(|c| c.status == "stopped"),
        });
    }
    Ok(out)
}

#[async_trait::async_trait]
impl OutboxStore for Engine {
    async fn plan_state(&self, tenant_id: &str) -> StoreResult<Option<PlanState>> {
        let row: Option<(NaiveDate, i64)> =
            sqlx::query_as("SELECT day, changes FROM plan_state WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(self.reader())
                .await
                .db()?;
        Ok(row.map(|(day, changes)| PlanState { day, changes }))
    }

    async fn change_cursor(&self) -> StoreResult<i64> {
        sqlx::query_scalar(CHANGE_CURSOR)
            .fetch_one(self.reader())
            .await
            .db()
    }

    async fn plan_sources(
        &self,
        tenant_id: &str,
        changed_after: Option<i64>,
    ) -> StoreResult<Vec<PlanSource>> {
        let base = PLAN_SOURCES_SQL.as_str();
        let rows: Vec<PlanRow> = match changed_after {
            None => {
                sqlx::query_as(base)
                    .bind(tenant_id)
                    .fetch_all(self.reader())
                    .await
            }
            Some(after) => {
                sqlx::query_as(PLAN_CHANGES_SQL.as_str())
                    .bind(tenant_id)
                    .bind(after)
                    .fetch_all(self.reader())
                    .await
            }
        }
        .db()?;
        Ok(rows.into_iter().map(PlanRow::into_source).collect())
    }

    async fn plan_sources_anchored(
        &self,
        tenant_id: &str,
        births: &[NaiveDate],
        due_dates: &[NaiveDate],
    ) -> StoreResult<Vec<PlanSource>> {
        // One statement per chunk of each list (one in all, for a day's
        // anchors); a child matches one list at most, so chunks never
        // return the same row twice.
        let births: Vec<&[NaiveDate]> = births.chunks(MAX_KEYS_PER_IN).collect();
        let due_dates: Vec<&[NaiveDate]> = due_dates.chunks(MAX_KEYS_PER_IN).collect();
        let mut out = Vec::new();
        for i in 0..births.len().max(due_dates.len()) {
            let mut b = QueryBuilder::<Db>::new(PLAN_SOURCES_FROM);
            b.push_bind(tenant_id)
                .push(PLAN_SOURCES_LIVING)
                .push(" AND (");
            match (births.get(i), due_dates.get(i)) {
                (Some(births), Some(dues)) => {
                    b.push("ch.birth_date");
                    push_dates(&mut b, births);
                    b.push(" OR (ch.birth_date IS NULL AND ch.due_date");
                    push_dates(&mut b, dues);
                    b.push(")");
                }
                (Some(births), None) => {
                    b.push("ch.birth_date");
                    push_dates(&mut b, births);
                }
                (None, Some(dues)) => {
                    b.push("ch.birth_date IS NULL AND ch.due_date");
                    push_dates(&mut b, dues);
                }
                (None, None) => unreachable!("i is below one of the lengths"),
            }
            b.push(")");
            let rows: Vec<PlanRow> = b
                .build_query_as()
                .persistent(false)
                .fetch_all(self.reader())
                .await
                .db()?;
            out.extend(rows.into_iter().map(PlanRow::into_source));
        }
        Ok(out)
    }

    async fn write_plan(
        &self,
        tenant_id: &str,
        rows: &[NewDelivery],
        state: &PlanState,
    ) -> StoreResult<Planned> {
        if let Some(other) = rows.iter().find(|r| r.tenant_id != tenant_id) {
            return Err(StoreError::Invalid {
                field: "tenant_id".into(),
                message: format!(
                    "a plan of tenant `{tenant_id}` holds a delivery of `{}`",
                    other.tenant_id
                ),
            });
        }
        // Rows go in several transactions, the state with the last: a
        // national day of a big city would otherwise hold SQLite's single
        // writer for a second, and every registration meanwhile would wait.
        // While people register, the transactions are short (`plan_chunk`),
        // so registrations take turns with the planner whatever the
        // machine's pace. Rows are idempotent, so a crash between
        // transactions only leaves the day to be planned again.
        let mut planned = Planned::default();
        let mut rest = rows;
        let mut last_chunk = None;
        loop {
            let size = plan_chunk(self.registrar().registering(REGISTERING_WINDOW), last_chunk);
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            rest = tail;
            let last = rest.is_empty();
            let mut tx = self.begin_write().await?;
            let began = std::time::Instant::now();
            // One planner at a time per tenant across nodes.
            lock_plan(&mut tx, tenant_id).await?;
            require_tenant(&mut tx, tenant_id).await?;
            let p = insert_deliveries(&mut tx, chunk).await?;
            planned.inserted += p.inserted;
            planned.expired += p.expired;
            planned.existing += p.existing;
            if last {
                sqlx::query(
                    "INSERT INTO plan_state (tenant_id, day, changes) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant_id) DO UPDATE SET day = excluded.day, changes = excluded.changes",
                )
                .bind(tenant_id)
                .bind(state.day)
                .bind(state.changes)
                .execute(&mut *tx)
                .await
                .db()?;
            }
            tx.commit().await.db()?;
            if last {
                return Ok(planned);
            }
            last_chunk = Some((chunk.len(), began.elapsed()));
        }
    }

    async fn audience(&self, tenant_id: &str) -> StoreResult<Vec<AudienceMember>> {
        let rows: Vec<AudienceRow> = sqlx::query_as(
            "SELECT c.subscriber_id, c.id AS contact_id, c.channel, ch.id AS child_id, \
             ch.due_date, ch.birth_date \
             FROM contacts c \
             JOIN subscribers s ON s.tenant_id = c.tenant_id AND s.id = c.subscriber_id \
             LEFT JOIN children ch ON ch.tenant_id = c.tenant_id \
                AND ch.subscriber_id = c.subscriber_id AND ch.status <> 'stopped' \
             WHERE c.tenant_id = $1 AND s.status = 'active' AND c.status = 'valid' \
             AND c.address IS NOT NULL \
             ORDER BY c.subscriber_id, c.position, ch.position",
        )
        .bind(tenant_id)
        .fetch_all(self.reader())
        .await
        .db()?;
        let mut out: Vec<AudienceMember> = Vec::new();
        for r in rows {
            match out.last_mut() {
                Some(m) if m.contact_id == r.contact_id => {
                    if r.child_id.is_some() {
                        m.children.push((r.due_date, r.birth_date));
                    }
                }
                _ => out.push(AudienceMember {
                    subscriber_id: r.subscriber_id,
                    contact_id: r.contact_id,
                    channel: r.channel,
                    children: r
                        .child_id
                        .map(|_| (r.due_date, r.birth_date))
                        .into_iter()
                        .collect(),
                }),
            }
        }
        Ok(out)
    }

    async fn create_broadcast(
        &self,
        broadcast: &Broadcast,
        rows: &[NewDelivery],
    ) -> StoreResult<Planned> {
        let mut tx = self.begin_write().await?;
        require_tenant(&mut tx, &broadcast.tenant_id).await?;
        sqlx::query(
            "INSERT INTO broadcasts (id, tenant_id, subject, body, audience, send_at, deliveries, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&broadcast.id)
        .bind(&broadcast.tenant_id)
        .bind(&broadcast.subject)
        .bind(&broadcast.body)
        .bind(Json(&broadcast.audience))
        .bind(broadcast.send_at.timestamp_millis())
        .bind(i64::try_from(rows.len()).unwrap_or(i64::MAX))
        .bind(broadcast.created_at.timestamp_millis())
        .execute(&mut *tx)
        .await
        .conflict(|| format!("broadcast `{}` exists", broadcast.id))?;
        if rows.iter().any(|r| r.tenant_id != broadcast.tenant_id) {
            return Err(StoreError::Invalid {
                field: "tenant_id".into(),
                message: "a broadcast's deliveries must be its tenant's".into(),
            });
        }
        let planned = insert_deliveries(&mut tx, rows).await?;
        tx.commit().await.db()?;
        Ok(planned)
    }

    async fn broadcast(&self, tenant_id: &str, id: &str) -> StoreResult<Broadcast> {
        let row: BroadcastRow = sqlx::query_as(
            "SELECT id, tenant_id, subject, body, audience, send_at, deliveries, created_at \
             FROM broadcasts WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await
        .db()?
        .ok_or_else(|| StoreError::NotFound(format!("broadcast `{id}` of tenant `{tenant_id}`")))?;
        Ok(row.into_broadcast())
    }

    async fn broadcasts(&self, tenant_id: &str, limit: u32) -> StoreResult<Vec<Broadcast>> {
        let rows: Vec<BroadcastRow> = sqlx::query_as(
            "SELECT id, tenant_id, subject, body, audience, send_at, deliveries, created_at \
             FROM broadcasts WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(tenant_id)
        .bind(i64::from(limit.clamp(1, tayori_core::MAX_PAGE_LIMIT)))
        .fetch_all(self.reader())
        .await
        .db()?;
        Ok(rows.into_iter().map(BroadcastRow::into_broadcast).collect())
    }

    async fn broadcast_progress(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Vec<(String, u64)>> {
        self.broadcast(tenant_id, id).await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM deliveries WHERE tenant_id = $1 AND broadcast_id = $2 \
             GROUP BY status ORDER BY status",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_all(self.reader())
        .await
        .db()?;
        Ok(rows
            .into_iter()
            .map(|(s, n)| (s, u64::try_from(n).unwrap_or_default()))
            .collect())
    }

    async fn cancel_broadcast(&self, tenant_id: &str, id: &str) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM broadcasts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .db()?;
        if found.is_none() {
            return Err(StoreError::NotFound(format!(
                "broadcast `{id}` of tenant `{tenant_id}`"
            )));
        }
        let cancelled = cancel_open(
            &mut tx,
            tenant_id,
            "broadcast_id",
            &[id.to_string()],
            "",
            "the broadcast was cancelled",
        )
        .await?;
        tx.commit().await.db()?;
        Ok(cancelled)
    }

    async fn claim(&self, now: i64, lease_until: i64, limit: u32) -> StoreResult<Claim> {
        let mut tx = self.begin_write().await?;
        // A kept batch goes out whole, claimed by one claim with all its
        // pending members; one claim at a time takes batches.
        let mut rows: Vec<ClaimedRow> = if lock_batch_claims(&mut tx).await? {
            sqlx::query_as(CLAIM_BATCHES_SQL.as_str())
                .bind(lease_until)
                .bind(now)
                .bind(i64::from(limit.div_ceil(BATCH_CLAIM_ROWS).max(1)))
                .fetch_all(&mut *tx)
                .await
                .db()?
        } else {
            Vec::new()
        };
        let rest = limit.saturating_sub(u32::try_from(rows.len()).unwrap_or(u32::MAX));
        if rest > 0 {
            let more: Vec<ClaimedRow> = sqlx::query_as(CLAIM_SQL.as_str())
                .bind(lease_until)
                .bind(now)
                .bind(i64::from(rest))
                .fetch_all(&mut *tx)
                .await
                .db()?;
            rows.extend(more);
        }
        tx.commit().await.db()?;
        if rows.is_empty() {
            return Ok(Claim::default());
        }
        let mut read = self.begin_read().await?;
        let deliveries = claimed_rows(&mut read, rows).await?;
        read.commit().await.db()?;
        Ok(Claim { deliveries })
    }

    async fn assign_batches(&self, rows: &[(i64, i64, String)]) -> StoreResult<Vec<i64>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut assigned = Vec::with_capacity(rows.len());
        let mut tx = self.begin_write().await?;
        const COLUMNS: usize = 3;
        let per_statement = (MAX_BIND_PARAMS / COLUMNS).min(super::MAX_ROWS_PER_INSERT);
        for chunk in rows.chunks(per_statement) {
            let mut b = QueryBuilder::<Db>::new("WITH v (id, fence, batch) AS (");
            b.push_values(chunk, |mut row, (id, fence, batch)| {
                row.push_bind(*id)
                    .push_bind(*fence)
                    .push_bind(batch.as_str());
            });
            b.push(
                ") UPDATE deliveries SET batch = v.batch FROM v \
                 WHERE deliveries.id = v.id AND deliveries.fence = v.fence \
                 AND deliveries.status = 'in_flight' \
                 RETURNING deliveries.id",
            );
            let ids: Vec<i64> = b
                .build_query_scalar()
                .persistent(worth_caching(chunk.len(), per_statement))
                .fetch_all(&mut *tx)
                .await
                .db()?;
            assigned.extend(ids);
        }
        tx.commit().await.db()?;
        Ok(assigned)
    }

    async fn complete(&self, completions: &[Complete], now: i64) -> StoreResult<Completed> {
        if completions.is_empty() {
            return Ok(Completed::default());
        }
        const COLUMNS: usize = 10;
        let per_statement = (MAX_BIND_PARAMS / COLUMNS).min(super::MAX_ROWS_PER_INSERT);
        let mut tx = self.begin_write().await?;
        let mut done: Vec<CompletedRow> = Vec::with_capacity(completions.len());
        for chunk in completions.chunks(per_statement) {
            let mut b = QueryBuilder::<Db>::new(
                "WITH v (id, fence, status, next_at, refund, err, receipt, version, keep, failure) AS (",
            );
            b.push_values(chunk, |mut row, c| {
                let a = applied(&c.completion);
                row.push_bind(c.id)
                    .push_bind(c.fence)
                    .push_bind(a.status.as_str())
                    .push_bind(a.next_attempt_at)
                    .push_bind(a.refund)
                    .push_bind(a.error)
                    .push_bind(a.receipt)
                    .push_bind(a.plugin_version)
                    .push_bind(a.keep_batch)
                    .push_bind(a.failure);
            });
            b.push(
                ") UPDATE deliveries SET status = v.status, \
                 next_attempt_at = COALESCE(v.next_at, deliveries.next_attempt_at), \
                 attempts = deliveries.attempts - v.refund, \
                 last_error = v.err, failure = v.failure, \
                 receipt = COALESCE(v.receipt, deliveries.receipt), \
                 plugin_version = COALESCE(v.version, deliveries.plugin_version), \
                 batch = CASE WHEN v.keep THEN deliveries.batch ELSE NULL END, \
                 lease_until = NULL, \
                 sent_at = CASE WHEN v.status = 'sent' THEN ",
            )
            .push_bind(now)
            .push(" ELSE deliveries.sent_at END, updated_at = ")
            .push_bind(now)
            .push(
                " FROM v WHERE deliveries.id = v.id AND deliveries.fence = v.fence \
                 AND deliveries.status = 'in_flight' \
                 RETURNING deliveries.id, deliveries.tenant_id, deliveries.contact_id, \
                 deliveries.channel",
            );
            let rows: Vec<CompletedRow> = b
                .build_query_as()
                .persistent(worth_caching(chunk.len(), per_statement))
                .fetch_all(&mut *tx)
                .await
                .db()?;
            done.extend(rows);
        }
        // What the completions mean beyond their own rows.
        let by_id: HashMap<i64, &Complete> = completions.iter().map(|c| (c.id, c)).collect();
        let mut gone: HashMap<&str, Vec<String>> = HashMap::new();
        let mut unauthorized: HashMap<(&str, &str), (&str, DateTime<Utc>)> = HashMap::new();
        for row in &done {
            match by_id.get(&row.id).map(|c| &c.completion) {
                Some(Completion::RecipientGone { .. }) => gone
                    .entry(row.tenant_id.as_str())
                    .or_default()
                    .push(row.contact_id.clone()),
                Some(Completion::Unauthorized { error, config_at }) => {
                    unauthorized.insert(
                        (row.tenant_id.as_str(), row.channel.as_str()),
                        (error, *config_at),
                    );
                }
                _ => {}
            }
        }
        let at = from_millis(now);
        for (tenant_id, contacts) in gone {
            for chunk in contacts.chunks(MAX_KEYS_PER_IN) {
                let mut b = QueryBuilder::<Db>::new(
                    "UPDATE contacts SET status = 'invalid', updated_at = ",
                );
                b.push_bind(at)
                    .push(" WHERE tenant_id = ")
                    .push_bind(tenant_id)
                    .push(" AND id IN (");
                let mut list = b.separated(", ");
                for id in chunk {
                    list.push_bind(id);
                }
                b.push(")");
                b.build().persistent(false).execute(&mut *tx).await.db()?;
            }
            cancel_open(
                &mut tx,
                tenant_id,
                "contact_id",
                &contacts,
                "",
                "the platform said the recipient is gone",
            )
            .await?;
        }
        for ((tenant_id, channel), (reason, config_at)) in unauthorized {
            // Pause the channel unless its config changed since the attempt
            // (a pause also moves `updated_at`, so a paused channel stays as
            // it was paused).
            sqlx::query(
                "UPDATE channels SET paused_reason = $3, paused_at = $4, updated_at = $4 \
                 WHERE tenant_id = $1 AND name = $2 AND updated_at <= $5 AND paused_at IS NULL",
            )
            .bind(tenant_id)
            .bind(channel)
            .bind(reason)
            .bind(at)
            .bind(config_at)
            .execute(&mut *tx)
            .await
            .db()?;
            let paused: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
                "SELECT paused_at FROM channels WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant_id)
            .bind(channel)
            .fetch_optional(&mut *tx)
            .await
            .db()?;
            match paused {
                // Paused: what is pending waits with the held rows.
                Some(Some(_)) => hold_channel(&mut tx, tenant_id, channel, true).await?,
                // Its config changed meanwhile: nothing to hold.
                Some(None) => hold_channel(&mut tx, tenant_id, channel, false).await?,
                // Deleted: its rows were cancelled; these too.
                None => {
                    cancel_open(
                        &mut tx,
                        tenant_id,
                        "channel",
                        &[channel.to_string()],
                        "",
                        "the channel was deleted",
                    )
                    .await?;
                }
            }
        }
        tx.commit().await.db()?;
        let stale = (completions.len() - done.len()) as u64;
        Ok(Completed {
            applied: done.into_iter().map(|row| row.id).collect(),
            stale,
        })
    }

    async fn rescue_expired_leases(&self, now: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE deliveries SET status = 'pending', lease_until = NULL, updated_at = $1 \
             WHERE status = 'in_flight' AND lease_until < $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        tx.commit().await.db()?;
        Ok(n)
    }

    async fn renew_leases(&self, claims: &[(i64, i64)], lease_until: i64) -> StoreResult<u64> {
        if claims.is_empty() {
            return Ok(0);
        }
        const COLUMNS: usize = 2;
        let per_statement = (MAX_BIND_PARAMS / COLUMNS).min(super::MAX_ROWS_PER_INSERT);
        let mut tx = self.begin_write().await?;
        let mut renewed = 0;
        for chunk in claims.chunks(per_statement) {
            let mut b = QueryBuilder::<Db>::new("WITH v (id, fence) AS (");
            b.push_values(chunk, |mut row, (id, fence)| {
                row.push_bind(*id).push_bind(*fence);
            });
            // Never shortens a lease (a later claim's own is longer).
            b.push(") UPDATE deliveries SET lease_until = ")
                .push_bind(lease_until)
                .push(
                    " FROM v WHERE deliveries.id = v.id AND deliveries.fence = v.fence \
                     AND deliveries.status = 'in_flight' AND deliveries.lease_until < ",
                )
                .push_bind(lease_until);
            renewed += b
                .build()
                .persistent(worth_caching(chunk.len(), per_statement))
                .execute(&mut *tx)
                .await
                .db()?
                .rows_affected();
        }
        tx.commit().await.db()?;
        Ok(renewed)
    }

    async fn take_over_claims(&self, now: i64) -> StoreResult<u64> {
        if !ONE_HOST {
            return Ok(0);
        }
        // Like a rescue of an expired lease: the row keeps its batch (and
        // so its retry key) and its attempt count.
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE deliveries SET status = 'pending', lease_until = NULL, updated_at = $1 \
             WHERE status = 'in_flight'",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        tx.commit().await.db()?;
        Ok(n)
    }

    async fn next_due(&self) -> StoreResult<Option<i64>> {
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'")
            .fetch_one(self.reader())
            .await
            .db()
    }

    async fn deliveries(
        &self,
        tenant_id: &str,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let limit = page.limit.clamp(1, tayori_core::MAX_PAGE_LIMIT);
        let after: Option<i64> = match &page.after {
            None => None,
            Some(c) => Some(c.parse().map_err(|_| StoreError::Invalid {
                field: "after".into(),
                message: format!("`{c}` is not a cursor this list gave"),
            })?),
        };
        let mut b = QueryBuilder::<Db>::new(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant_id = "
        ));
        b.push_bind(tenant_id);
        if let Some(after) = after {
            b.push(" AND id < ").push_bind(after);
        }
        if let Some(status) = filter.status {
            b.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(channel) = &filter.channel {
            b.push(" AND channel = ").push_bind(channel.as_str());
        }
        if let Some(subscriber) = &filter.subscriber_id {
            b.push(" AND subscriber_id = ")
                .push_bind(subscriber.as_str());
        }
        if let Some(broadcast) = &filter.broadcast_id {
            b.push(" AND broadcast_id = ").push_bind(broadcast.as_str());
        }
        if let Some(since) = filter.since {
            b.push(" AND due_at >= ")
                .push_bind(since.timestamp_millis());
        }
        if let Some(until) = filter.until {
            b.push(" AND due_at < ").push_bind(until.timestamp_millis());
        }
        b.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let mut rows: Vec<DeliveryRow> = b.build_query_as().fetch_all(self.reader()).await.db()?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = more
            .then(|| rows.last().map(|r| r.id.to_string()))
            .flatten();
        Ok(Page {
            items: rows
                .into_iter()
                .map(DeliveryRow::into_delivery)
                .collect::<StoreResult<_>>()?,
            next_cursor,
        })
    }

    async fn reserve_sends(
        &self,
        tenant_id: &str,
        channel: &str,
        windows: &[(u32, u32)],
        align: i64,
        n: u32,
        now: i64,
    ) -> StoreResult<(u32, Option<i64>)> {
        if windows.is_empty() || n == 0 {
            return Ok((n, None));
        }
        let mut tx = self.begin_write().await?;
        let mut grant = n;
        let mut exhausted_until: Option<i64> = None;
        let mut starts = Vec::with_capacity(windows.len());
        for &(seconds, max) in windows {
            let length = i64::from(seconds.max(1)) * 1000;
            let start = now - (now - align).rem_euclid(length);
            starts.push((seconds, start));
            sqlx::query(
                "INSERT INTO channel_sends (tenant_id, channel, window_seconds, window_start, sends) \
                 VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING",
            )
            .bind(tenant_id)
            .bind(channel)
            .bind(i64::from(seconds))
            .bind(start)
            .execute(&mut *tx)
            .await
            .db()?;
            // Row-locks the counter on PostgreSQL until the commit.
            let used: i64 = sqlx::query_scalar(
                "UPDATE channel_sends SET sends = sends WHERE tenant_id = $1 AND channel = $2 \
                 AND window_seconds = $3 AND window_start = $4 RETURNING sends",
            )
            .bind(tenant_id)
            .bind(channel)
            .bind(i64::from(seconds))
            .bind(start)
            .fetch_one(&mut *tx)
            .await
            .db()?;
            let left = u32::try_from((i64::from(max) - used).max(0)).unwrap_or(0);
            if left < grant {
                grant = left;
            }
            if left < n {
                let end = start + length;
                exhausted_until = Some(exhausted_until.map_or(end, |e: i64| e.max(end)));
            }
        }
        if grant > 0 {
            for (seconds, start) in starts {
                sqlx::query(
                    "UPDATE channel_sends SET sends = sends + $5 WHERE tenant_id = $1 \
                     AND channel = $2 AND window_seconds = $3 AND window_start = $4",
                )
                .bind(tenant_id)
                .bind(channel)
                .bind(i64::from(seconds))
                .bind(start)
                .bind(i64::from(grant))
                .execute(&mut *tx)
                .await
                .db()?;
            }
            // Old windows are of no more use.
            sqlx::query(
                "DELETE FROM channel_sends WHERE tenant_id = $1 AND channel = $2 \
                 AND window_start + window_seconds * 1000 < $3",
            )
            .bind(tenant_id)
            .bind(channel)
            .bind(now)
            .execute(&mut *tx)
            .await
            .db()?;
        }
        tx.commit().await.db()?;
        Ok((grant, exhausted_until))
    }

    async fn quota_exhausted_until(
        &self,
        tenant_id: &str,
        channel: &str,
        windows: &[(u32, u32)],
        align: i64,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let mut until: Option<i64> = None;
        for &(seconds, max) in windows {
            let length = i64::from(seconds.max(1)) * 1000;
            let start = now - (now - align).rem_euclid(length);
            let used: Option<i64> = sqlx::query_scalar(
                "SELECT sends FROM channel_sends WHERE tenant_id = $1 AND channel = $2 \
                 AND window_seconds = $3 AND window_start = $4",
            )
            .bind(tenant_id)
            .bind(channel)
            .bind(i64::from(seconds))
            .bind(start)
            .fetch_optional(self.reader())
            .await
            .db()?;
            if used.unwrap_or(0) >= i64::from(max) {
                let end = start + length;
                until = Some(until.map_or(end, |u: i64| u.max(end)));
            }
        }
        Ok(until)
    }

    async fn outbox_stats(&self, now: i64) -> StoreResult<OutboxStats> {
        let (pending, due, oldest): (i64, i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN next_attempt_at <= $1 THEN 1 ELSE 0 END), 0), \
             MIN(CASE WHEN next_attempt_at <= $1 THEN next_attempt_at END) \
             FROM deliveries WHERE status = 'pending'",
        )
        .bind(now)
        .fetch_one(self.reader())
        .await
        .db()?;
        let in_flight: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'in_flight'")
                .fetch_one(self.reader())
                .await
                .db()?;
        Ok(OutboxStats {
            pending: u64::try_from(pending).unwrap_or_default(),
            in_flight: u64::try_from(in_flight).unwrap_or_default(),
            due: u64::try_from(due).unwrap_or_default(),
            oldest_due_at: oldest,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{PLAN_WRITE_MAX, PLAN_WRITE_MIN, plan_chunk};

    #[test]
    fn plans_go_in_big_transactions_unless_people_are_registering() {
        assert_eq!(plan_chunk(false, None), PLAN_WRITE_MAX);
        assert_eq!(
            plan_chunk(false, Some((64, Duration::from_millis(50)))),
            PLAN_WRITE_MAX
        );
        // While people register: small first, then what the last
        // transaction's pace writes in 2 ms, as a power of two.
        assert_eq!(plan_chunk(true, None), PLAN_WRITE_MIN);
        assert_eq!(plan_chunk(true, Some((64, Duration::from_millis(1)))), 128);
        assert_eq!(plan_chunk(true, Some((100, Duration::from_millis(1)))), 128);
        assert_eq!(plan_chunk(true, Some((64, Duration::from_millis(2)))), 64);
        // Bounded both ways.
        assert_eq!(
            plan_chunk(true, Some((64, Duration::from_millis(40)))),
            PLAN_WRITE_MIN
        );
        assert_eq!(
            plan_chunk(true, Some((4_096, Duration::from_micros(10)))),
            PLAN_WRITE_MAX
        );
        assert_eq!(plan_chunk(true, Some((64, Duration::ZERO))), PLAN_WRITE_MAX);
    }
}
