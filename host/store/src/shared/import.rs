//! Bulk import of subscribers by the tenant's own ids (CSV import): one
//! transaction, all or nothing, idempotent.
//!
//! The import reads what exists in a few wide queries (by external id, by
//! address, by subscriber), decides in memory what each row creates or
//! changes, and writes: new subscribers, contacts and children with
//! multi-row `INSERT`s, changes to existing ones one statement each. A file
//! imported twice changes nothing the second time. Everything a row could be
//! refused for is checked before the first write, and names the row.
//!
//! Each subscriber remembers a digest of the row last imported into it, and
//! any other change (API, birth report, stop) forgets it. A row whose digest
//! matches is therefore already in place and is not read at all, which keeps
//! the common monthly re-upload of a whole registry cheap.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use tayori_core::{
    ChildStatus, ImportRefusal, ImportRow, ImportSummary, Locale, NewChild, NewContact,
    StoreResult, SubscriberStatus,
};

use super::subscribers::{
    ChildInsert, ContactInsert, ContactPlan, SubscriberInsert, address_owners,
    apply_moves_and_removals, children_of, contacts_of, group, insert_children, insert_contacts,
    insert_subscribers, new_children, owner_of, set_subscriber_status, touch_subscriber,
};
use super::{Conn, Engine, fetch_in, outbox_hooks, require_tenant};
use crate::error::{DbResultExt, invalid, new_id, now};
use crate::rows::{ChildRow, ImportedRow};
use crate::validate;

/// What importing one row over an existing subscriber changes.
struct RowUpdate<'a> {
    subscriber_id: String,
    locale: Option<Locale>,
    reactivate: bool,
    contacts: ContactPlan<'a>,
    children: Vec<ChildUpdate>,
    new_children: Vec<ChildInsert>,
    /// The row's digest, stored once the row is applied.
    digest: String,
}

struct ChildUpdate {
    id: String,
    due_date: Option<NaiveDate>,
    birth_date: Option<NaiveDate>,
    status: ChildStatus,
    born_now: bool,
}

impl RowUpdate<'_> {
    fn changes_anything(&self) -> bool {
        self.locale.is_some()
            || self.reactivate
            || self.contacts.changes_anything()
            || !self.children.is_empty()
            || !self.new_children.is_empty()
    }
}

/// The i-th child of the row updates the i-th stored child (see `ImportRow`).
fn plan_children(
    subscriber_id: &str,
    stored: &[ChildRow],
    wanted: &[NewChild],
) -> StoreResult<(Vec<ChildUpdate>, Vec<ChildInsert>)> {
    let mut updates = Vec::new();
    for (have, want) in stored.iter().zip(wanted) {
        let status = have.status()?;
        if status == ChildStatus::Stopped {
            continue;
        }
        let due_date = want.due_date.or(have.due_date);
        let birth_date = want.birth_date.or(have.birth_date);
        let born_now = status == ChildStatus::Expecting && birth_date.is_some();
        if due_date != have.due_date || birth_date != have.birth_date {
            updates.push(ChildUpdate {
                id: have.id.clone(),
                due_date,
                birth_date,
                status: if birth_date.is_some() {
                    ChildStatus::Born
                } else {
                    status
                },
                born_now,
            });
        }
    }
    let next = stored.iter().map(|c| c.position + 1).max().unwrap_or(0);
    let inserts = wanted
        .get(stored.len()..)
        .map(|extra| new_children(subscriber_id, next, extra))
        .unwrap_or_default();
    Ok((updates, inserts))
}

/// A digest of everything a row says, to recognise a row imported before.
fn row_digest(row: &ImportRow) -> StoreResult<String> {
    let canonical = serde_json::to_vec(row).map_err(|e| invalid("rows", e.to_string()))?;
    Ok(hex::encode(Sha256::digest(&canonical)))
}

/// The rows not already in place (see the module's note on digests), each
/// with its stored subscriber if it has one; `summary.unchanged` counts the
/// others.
async fn pending_rows(
    conn: &mut Conn,
    tenant_id: &str,
    rows: &[ImportRow],
    digests: &[String],
    summary: &mut ImportSummary,
) -> StoreResult<Vec<(usize, Option<ImportedRow>)>> {
    // Who exists already, by external id.
    let external_ids: Vec<&str> = rows.iter().map(|r| r.external_id.as_str()).collect();
    let existing: Vec<ImportedRow> = fetch_in(
        conn,
        "SELECT id, external_id, locale, status, import_digest FROM subscribers WHERE ",
        &[("tenant_id", tenant_id)],
        "external_id",
        &external_ids,
    )
    .await?;
    let mut by_external: HashMap<String, ImportedRow> = existing
        .into_iter()
        .filter_map(|r| r.external_id.clone().map(|e| (e, r)))
        .collect();

    // A row identical to the one last imported, with nothing changed since
    // (any other change clears the digest), is already in place. The rest
    // are new or need comparing with what is stored.
    let mut pending = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        match by_external.remove(&row.external_id) {
            Some(stored) if stored.import_digest.as_deref() == Some(digests[i].as_str()) => {
                summary.unchanged += 1;
            }
            stored => pending.push((i, stored)),
        }
    }
    Ok(pending)
}

/// Every address of a pending row that a subscriber other than the row's
/// own already has, in row order.
async fn address_refusals(
    conn: &mut Conn,
    tenant_id: &str,
    rows: &[ImportRow],
    pending: &[(usize, Option<ImportedRow>)],
) -> StoreResult<Vec<ImportRefusal>> {
    let all_contacts: Vec<&NewContact> = pending
        .iter()
        .flat_map(|(i, _)| rows[*i].contacts.iter())
        .collect();
    let owners = address_owners(conn, tenant_id, &all_contacts).await?;
    let mut refusals = Vec::new();
    for (i, stored) in pending {
        let mine = stored.as_ref().map(|s| s.id.as_str());
        for (j, c) in rows[*i].contacts.iter().enumerate() {
            if let Some(owner) = owner_of(&owners, c)
                && Some(owner) != mine
            {
                refusals.push(ImportRefusal {
                    field: format!("rows[{i}].contacts[{j}].address"),
                    message: format!(
                        "this {} address is already registered to another subscriber",
                        c.channel
                    ),
                });
            }
        }
    }
    Ok(refusals)
}

fn digests(rows: &[ImportRow]) -> StoreResult<Vec<String>> {
    rows.iter().map(row_digest).collect()
}

/// What importing `rows` would be refused for by what is stored (see
/// `SubscriberStore::import_refusals`).
pub(super) async fn refusals(
    store: &Engine,
    tenant_id: &str,
    rows: &[ImportRow],
) -> StoreResult<Vec<ImportRefusal>> {
    validate::import_rows(rows)?;
    let digests = digests(rows)?;
    let mut tx = store.begin_read().await?;
    require_tenant(&mut tx, tenant_id).await?;
    let pending = pending_rows(
        &mut tx,
        tenant_id,
        rows,
        &digests,
        &mut ImportSummary::default(),
    )
    .await?;
    let refusals = address_refusals(&mut tx, tenant_id, rows, &pending).await?;
    tx.commit().await.db()?;
    Ok(refusals)
}

/// Imports `rows` into the tenant (see `SubscriberStore::import_subscribers`).
pub(super) async fn import(
    store: &Engine,
    tenant_id: &str,
    rows: &[ImportRow],
) -> StoreResult<ImportSummary> {
    validate::import_rows(rows)?;
    let digests = digests(rows)?;
    let at = now();
    let mut tx = store.begin_write().await?;
    require_tenant(&mut tx, tenant_id).await?;
    let mut summary = ImportSummary::default();
    let pending = pending_rows(&mut tx, tenant_id, rows, &digests, &mut summary).await?;

    // Every address must be free or already this row's subscriber's.
    if let Some(first) = address_refusals(&mut tx, tenant_id, rows, &pending)
        .await?
        .into_iter()
        .next()
    {
        return Err(invalid(first.field, first.message));
    }

    // The stored contacts and children of the subscribers to compare.
    let matched: Vec<&str> = pending
        .iter()
        .filter_map(|(_, s)| s.as_ref().map(|s| s.id.as_str()))
        .collect();
    let mut stored_contacts = group(contacts_of(&mut tx, tenant_id, &matched).await?, |c| {
        &c.subscriber_id
    });
    let mut stored_children = group(children_of(&mut tx, tenant_id, &matched).await?, |c| {
        &c.subscriber_id
    });

    let mut new_subscribers = Vec::new();
    let mut contact_inserts = Vec::new();
    let mut child_inserts = Vec::new();
    let mut updates = Vec::new();
    for (i, stored) in pending {
        let row = &rows[i];
        let digest = digests[i].clone();
        match stored {
            None => {
                let id = new_id();
                contact_inserts.extend(row.contacts.iter().zip(0i64..).map(|(c, position)| {
                    ContactInsert {
                        id: new_id(),
                        subscriber_id: id.clone(),
                        position,
                        channel: &c.channel,
                        address: &c.address,
                    }
                }));
                child_inserts.extend(new_children(&id, 0, &row.children));
                new_subscribers.push(SubscriberInsert {
                    id,
                    external_id: Some(&row.external_id),
                    locale: row.locale,
                    status: SubscriberStatus::Active,
                    import_digest: Some(digest),
                });
                summary.created += 1;
            }
            Some(stored) => {
                let contacts = stored_contacts.remove(&stored.id).unwrap_or_default();
                let children = stored_children.remove(&stored.id).unwrap_or_default();
                let (child_updates, new_kids) =
                    plan_children(&stored.id, &children, &row.children)?;
                let update = RowUpdate {
                    locale: (stored.locale()? != row.locale).then_some(row.locale),
                    reactivate: stored.status()? == SubscriberStatus::Stopped
                        && !new_kids.is_empty(),
                    contacts: ContactPlan::new(&stored.id, &contacts, &row.contacts),
                    children: child_updates,
                    new_children: new_kids,
                    subscriber_id: stored.id,
                    digest,
                };
                if update.changes_anything() {
                    summary.updated += 1;
                } else {
                    summary.unchanged += 1;
                }
                updates.push(update);
            }
        }
    }

    for mut update in updates {
        let id = update.subscriber_id.as_str();
        if update.changes_anything() {
            apply(&mut tx, tenant_id, at, &update).await?;
            contact_inserts.append(&mut update.contacts.inserts);
            child_inserts.append(&mut update.new_children);
        }
        // Remember the row (after `touch_subscriber`, which clears it).
        sqlx::query("UPDATE subscribers SET import_digest = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .bind(&update.digest)
            .execute(&mut *tx)
            .await
            .db()?;
    }

    insert_subscribers(&mut tx, tenant_id, at, &new_subscribers).await?;
    insert_contacts(&mut tx, tenant_id, at, &contact_inserts).await?;
    insert_children(&mut tx, tenant_id, at, &child_inserts).await?;
    tx.commit().await.db()?;
    Ok(summary)
}

/// Applies one row's changes to an existing subscriber, except the inserts
/// (which the import batches).
async fn apply(
    conn: &mut Conn,
    tenant_id: &str,
    at: DateTime<Utc>,
    update: &RowUpdate<'_>,
) -> StoreResult<()> {
    let id = update.subscriber_id.as_str();
    if let Some(locale) = update.locale {
        sqlx::query("UPDATE subscribers SET locale = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .bind(locale.as_str())
            .execute(&mut *conn)
            .await
            .db()?;
    }
    if update.reactivate {
        set_subscriber_status(conn, tenant_id, id, SubscriberStatus::Active, at).await?;
    }
    apply_moves_and_removals(conn, tenant_id, at, &update.contacts).await?;
    for c in &update.children {
        sqlx::query(
            "UPDATE children SET due_date = $3, birth_date = $4, status = $5, updated_at = $6 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(&c.id)
        .bind(c.due_date)
        .bind(c.birth_date)
        .bind(c.status.as_str())
        .bind(at)
        .execute(&mut *conn)
        .await
        .db()?;
        if c.born_now {
            outbox_hooks::birth_reported(conn, tenant_id, &c.id, c.due_date != c.birth_date)
                .await?;
        }
    }
    touch_subscriber(conn, tenant_id, id, at).await
}
