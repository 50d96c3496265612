//! Subscribers, their contacts and children: registration, birth, stop and
//! erasure (bulk import, built on the helpers here, is in `import`).
//!
//! Every statement names the tenant; a subscriber, contact or child of
//! another tenant is simply not found. Writes that touch several rows happen
//! in one transaction, and whatever the outbox must hear of goes through
//! `outbox_hooks` inside that transaction.

use std::borrow::Borrow;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use tayori_core::{
    Child, ChildStatus, Contact, ContactStatus, ImportRefusal, ImportRow, ImportSummary, Locale,
    NewChild, NewContact, NewSubscriber, Page, PageRequest, StoreError, StoreResult, Subscriber,
    SubscriberCounts, SubscriberPatch, SubscriberStatus, SubscriberStore,
};

use super::{Conn, Engine, fetch_in, insert_chunked, outbox_hooks, require_tenant};
use crate::error::{DbResultExt, invalid, new_id, now};
use crate::rows::{ChildRow, ContactRow, SubscriberRow};
use crate::validate;

pub(super) const SELECT_SUBSCRIBER: &str = "SELECT id, tenant_id, external_id, locale, status, created_at, \
     updated_at FROM subscribers WHERE ";
const SELECT_CONTACT: &str = "SELECT id, subscriber_id, position, channel, address, status \
     FROM contacts WHERE address IS NOT NULL AND ";
const SELECT_CHILD: &str = "SELECT id, subscriber_id, position, due_date, birth_date, status, \
     stopped_reason FROM children WHERE ";

fn subscriber_not_found(tenant_id: &str, id: &str) -> StoreError {
    StoreError::NotFound(format!("subscriber `{id}` of tenant `{tenant_id}`"))
}

fn child_not_found(subscriber_id: &str, child_id: &str) -> StoreError {
    StoreError::NotFound(format!(
        "child `{child_id}` of subscriber `{subscriber_id}`"
    ))
}

fn erased(id: &str) -> StoreError {
    StoreError::Conflict(format!("subscriber `{id}` is erased"))
}

// ---- reading ---------------------------------------------------------------

async fn subscriber_row(conn: &mut Conn, tenant_id: &str, id: &str) -> StoreResult<SubscriberRow> {
    sqlx::query_as::<_, SubscriberRow>(&format!("{SELECT_SUBSCRIBER}tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(conn)
        .await
        .db()?
        .ok_or_else(|| subscriber_not_found(tenant_id, id))
}

/// A subscriber row that is not erased.
async fn live_subscriber_row(
    conn: &mut Conn,
    tenant_id: &str,
    id: &str,
) -> StoreResult<SubscriberRow> {
    let row = subscriber_row(conn, tenant_id, id).await?;
    if row.status()? == SubscriberStatus::Erased {
        return Err(erased(id));
    }
    Ok(row)
}

pub(super) async fn contacts_of(
    conn: &mut Conn,
    tenant_id: &str,
    ids: &[&str],
) -> StoreResult<Vec<ContactRow>> {
    let mut rows: Vec<ContactRow> = fetch_in(
        conn,
        SELECT_CONTACT,
        &[("tenant_id", tenant_id)],
        "subscriber_id",
        ids,
    )
    .await?;
    rows.sort_by_key(|r| r.position);
    Ok(rows)
}

pub(super) async fn children_of(
    conn: &mut Conn,
    tenant_id: &str,
    ids: &[&str],
) -> StoreResult<Vec<ChildRow>> {
    let mut rows: Vec<ChildRow> = fetch_in(
        conn,
        SELECT_CHILD,
        &[("tenant_id", tenant_id)],
        "subscriber_id",
        ids,
    )
    .await?;
    rows.sort_by_key(|r| r.position);
    Ok(rows)
}

pub(super) fn group<R>(rows: Vec<R>, key: impl Fn(&R) -> &str) -> HashMap<String, Vec<R>> {
    let mut out: HashMap<String, Vec<R>> = HashMap::new();
    for row in rows {
        out.entry(key(&row).to_string()).or_default().push(row);
    }
    out
}

/// Subscribers with their contacts and children, in the order of `rows`.
async fn assemble(
    conn: &mut Conn,
    tenant_id: &str,
    rows: Vec<SubscriberRow>,
) -> StoreResult<Vec<Subscriber>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut contacts = group(contacts_of(conn, tenant_id, &ids).await?, |c| {
        &c.subscriber_id
    });
    let mut children = group(children_of(conn, tenant_id, &ids).await?, |c| {
        &c.subscriber_id
    });
    rows.into_iter()
        .map(|row| {
            Ok(Subscriber {
                locale: row.locale()?,
                status: row.status()?,
                contacts: contacts
                    .remove(&row.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(ContactRow::into_contact)
                    .collect::<StoreResult<_>>()?,
                children: children
                    .remove(&row.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(ChildRow::into_child)
                    .collect::<StoreResult<_>>()?,
                id: row.id,
                tenant_id: row.tenant_id,
                external_id: row.external_id,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

pub(super) async fn load(conn: &mut Conn, tenant_id: &str, id: &str) -> StoreResult<Subscriber> {
    let row = subscriber_row(conn, tenant_id, id).await?;
    let mut all = assemble(conn, tenant_id, vec![row]).await?;
    Ok(all.remove(0))
}

async fn child_row(
    conn: &mut Conn,
    tenant_id: &str,
    subscriber_id: &str,
    child_id: &str,
) -> StoreResult<ChildRow> {
    sqlx::query_as::<_, ChildRow>(&format!(
        "{SELECT_CHILD}tenant_id = $1 AND subscriber_id = $2 AND id = $3"
    ))
    .bind(tenant_id)
    .bind(subscriber_id)
    .bind(child_id)
    .fetch_optional(conn)
    .await
    .db()?
    .ok_or_else(|| child_not_found(subscriber_id, child_id))
}

/// Who owns each of these channel addresses in the tenant: channel →
/// address → subscriber id. Looked up per channel, so that each lookup walks
/// the `(tenant_id, channel, address)` index.
pub(super) async fn address_owners(
    conn: &mut Conn,
    tenant_id: &str,
    contacts: &[&NewContact],
) -> StoreResult<HashMap<String, HashMap<String, String>>> {
    let mut by_channel: HashMap<&str, Vec<&str>> = HashMap::new();
    for c in contacts {
        by_channel.entry(&c.channel).or_default().push(&c.address);
    }
    let mut owners = HashMap::new();
    for (channel, addresses) in by_channel {
        let rows: Vec<(String, String)> = fetch_in(
            conn,
            "SELECT address, subscriber_id FROM contacts WHERE ",
            &[("tenant_id", tenant_id), ("channel", channel)],
            "address",
            &addresses,
        )
        .await?;
        owners.insert(channel.to_string(), rows.into_iter().collect());
    }
    Ok(owners)
}

/// The owner of a contact's address, if any.
pub(super) fn owner_of<'a>(
    owners: &'a HashMap<String, HashMap<String, String>>,
    contact: &NewContact,
) -> Option<&'a str> {
    owners
        .get(&contact.channel)?
        .get(&contact.address)
        .map(String::as_str)
}

/// `Conflict` naming the first contact that another subscriber than `owner`
/// already has.
pub(super) async fn check_addresses_free(
    conn: &mut Conn,
    tenant_id: &str,
    contacts: &[NewContact],
    owner: Option<&str>,
) -> StoreResult<()> {
    let refs: Vec<&NewContact> = contacts.iter().collect();
    let owners = address_owners(conn, tenant_id, &refs).await?;
    for (j, c) in contacts.iter().enumerate() {
        if let Some(other) = owner_of(&owners, c)
            && Some(other) != owner
        {
            return Err(StoreError::Conflict(format!(
                "contacts[{j}]: this {} address is already registered to another subscriber of tenant `{tenant_id}`",
                c.channel
            )));
        }
    }
    Ok(())
}

// ---- writing ---------------------------------------------------------------

pub(super) struct SubscriberInsert<'a> {
    pub(super) id: String,
    pub(super) external_id: Option<&'a str>,
    pub(super) locale: Locale,
    pub(super) status: SubscriberStatus,
    pub(super) import_digest: Option<String>,
}

pub(super) struct ContactInsert<'a> {
    pub(super) id: String,
    pub(super) subscriber_id: String,
    pub(super) position: i64,
    pub(super) channel: &'a str,
    pub(super) address: &'a str,
}

impl ContactInsert<'_> {
    pub(super) fn contact(&self) -> Contact {
        Contact {
            id: self.id.clone(),
            channel: self.channel.to_string(),
            address: self.address.to_string(),
            status: ContactStatus::Valid,
        }
    }
}

pub(super) struct ChildInsert {
    pub(super) id: String,
    pub(super) subscriber_id: String,
    pub(super) position: i64,
    pub(super) due_date: Option<NaiveDate>,
    pub(super) birth_date: Option<NaiveDate>,
    pub(super) status: ChildStatus,
}

impl ChildInsert {
    /// A new child at `position`; `None` when it has no date (refused earlier
    /// by validation).
    fn new(subscriber_id: &str, position: i64, child: &NewChild) -> Option<Self> {
        Some(Self {
            id: new_id(),
            subscriber_id: subscriber_id.to_string(),
            position,
            due_date: child.due_date,
            birth_date: child.birth_date,
            status: child.initial_status()?,
        })
    }

    pub(super) fn child(&self) -> Child {
        Child {
            id: self.id.clone(),
            due_date: self.due_date,
            birth_date: self.birth_date,
            status: self.status,
            stopped_reason: None,
        }
    }
}

pub(super) fn new_children(
    subscriber_id: &str,
    first: i64,
    children: &[NewChild],
) -> Vec<ChildInsert> {
    children
        .iter()
        .zip(first..)
        .filter_map(|(c, position)| ChildInsert::new(subscriber_id, position, c))
        .collect()
}

pub(super) async fn insert_subscribers<'a, R: Borrow<SubscriberInsert<'a>> + Sync>(
    conn: &mut Conn,
    tenant_id: &str,
    at: DateTime<Utc>,
    rows: &[R],
) -> StoreResult<()> {
    insert_chunked(
        conn,
        "INSERT INTO subscribers \
         (id, tenant_id, external_id, locale, status, import_digest, created_at, updated_at) ",
        8,
        rows,
        |mut b, r| {
            let r = r.borrow();
            b.push_bind(r.id.as_str())
                .push_bind(tenant_id)
                .push_bind(r.external_id)
                .push_bind(r.locale.as_str())
                .push_bind(r.status.as_str())
                .push_bind(r.import_digest.as_deref())
                .push_bind(at)
                .push_bind(at);
        },
        || format!("a subscriber with this external id already exists in tenant `{tenant_id}`"),
    )
    .await
}

pub(super) async fn insert_contacts<'a, R: Borrow<ContactInsert<'a>> + Sync>(
    conn: &mut Conn,
    tenant_id: &str,
    at: DateTime<Utc>,
    rows: &[R],
) -> StoreResult<()> {
    insert_chunked(
        conn,
        "INSERT INTO contacts (id, tenant_id, subscriber_id, position, channel, address, status, \
         created_at, updated_at) ",
        9,
        rows,
        |mut b, r| {
            let r = r.borrow();
            b.push_bind(r.id.as_str())
                .push_bind(tenant_id)
                .push_bind(r.subscriber_id.as_str())
                .push_bind(r.position)
                .push_bind(r.channel)
                .push_bind(r.address)
                .push_bind(ContactStatus::Valid.as_str())
                .push_bind(at)
                .push_bind(at);
        },
        || {
            format!(
                "a contact address is already registered to another subscriber of tenant `{tenant_id}`"
            )
        },
    )
    .await
}

pub(super) async fn insert_children<R: Borrow<ChildInsert> + Sync>(
    conn: &mut Conn,
    tenant_id: &str,
    at: DateTime<Utc>,
    rows: &[R],
) -> StoreResult<()> {
    insert_chunked(
        conn,
        "INSERT INTO children (id, tenant_id, subscriber_id, position, due_date, birth_date, \
         status, created_at, updated_at) ",
        9,
        rows,
        |mut b, r| {
            let r = r.borrow();
            b.push_bind(r.id.as_str())
                .push_bind(tenant_id)
                .push_bind(r.subscriber_id.as_str())
                .push_bind(r.position)
                .push_bind(r.due_date)
                .push_bind(r.birth_date)
                .push_bind(r.status.as_str())
                .push_bind(at)
                .push_bind(at);
        },
        || format!("a child id clashed in tenant `{tenant_id}`"),
    )
    .await
}

/// How a subscriber's stored contacts become a new list: contacts whose
/// channel and address stay keep their id and status (and move to their new
/// position); the others are removed; new ones are added.
pub(super) struct ContactPlan<'a> {
    moves: Vec<(String, i64)>,
    removals: Vec<String>,
    pub(super) inserts: Vec<ContactInsert<'a>>,
}

impl<'a> ContactPlan<'a> {
    pub(super) fn new(
        subscriber_id: &str,
        stored: &[ContactRow],
        wanted: &'a [NewContact],
    ) -> Self {
        let mut stored_by_key: HashMap<(&str, &str), &ContactRow> = stored
            .iter()
            .map(|c| ((c.channel.as_str(), c.address.as_str()), c))
            .collect();
        let mut plan = ContactPlan {
            moves: Vec::new(),
            removals: Vec::new(),
            inserts: Vec::new(),
        };
        for (c, position) in wanted.iter().zip(0i64..) {
            match stored_by_key.remove(&(c.channel.as_str(), c.address.as_str())) {
                Some(kept) if kept.position != position => {
                    plan.moves.push((kept.id.clone(), position))
                }
                Some(_) => {}
                None => plan.inserts.push(ContactInsert {
                    id: new_id(),
                    subscriber_id: subscriber_id.to_string(),
                    position,
                    channel: &c.channel,
                    address: &c.address,
                }),
            }
        }
        plan.removals = stored
            .iter()
            .filter(|c| stored_by_key.contains_key(&(c.channel.as_str(), c.address.as_str())))
            .map(|c| c.id.clone())
            .collect();
        plan
    }

    pub(super) fn changes_anything(&self) -> bool {
        !(self.moves.is_empty() && self.removals.is_empty() && self.inserts.is_empty())
    }
}

/// Applies a plan's moves and removals (its inserts are the caller's, so an
/// import can batch them).
pub(super) async fn apply_moves_and_removals(
    conn: &mut Conn,
    tenant_id: &str,
    at: DateTime<Utc>,
    plan: &ContactPlan<'_>,
) -> StoreResult<()> {
    if !plan.removals.is_empty() {
        for id in &plan.removals {
            sqlx::query(
                "UPDATE contacts SET address = NULL, status = 'invalid', updated_at = $3 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant_id)
            .bind(id)
            .bind(at)
            .execute(&mut *conn)
            .await
            .db()?;
        }
        outbox_hooks::contacts_removed(conn, tenant_id, &plan.removals).await?;
    }
    for (id, position) in &plan.moves {
        sqlx::query(
            "UPDATE contacts SET position = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(position)
        .bind(at)
        .execute(&mut *conn)
        .await
        .db()?;
    }
    Ok(())
}

pub(super) async fn set_subscriber_status(
    conn: &mut Conn,
    tenant_id: &str,
    id: &str,
    status: SubscriberStatus,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE subscribers SET status = $3, updated_at = $4, import_digest = NULL \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(status.as_str())
    .bind(at)
    .execute(conn)
    .await
    .db()?;
    Ok(())
}

pub(super) async fn touch_subscriber(
    conn: &mut Conn,
    tenant_id: &str,
    id: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE subscribers SET updated_at = $3, import_digest = NULL \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(at)
    .execute(conn)
    .await
    .db()?;
    Ok(())
}

/// Stops the given children of a subscriber and tells the outbox.
async fn stop_children(
    conn: &mut Conn,
    tenant_id: &str,
    ids: &[String],
    reason: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    for id in ids {
        sqlx::query(
            "UPDATE children SET status = 'stopped', stopped_reason = $3, stopped_at = $4, \
             updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(reason)
        .bind(at)
        .execute(&mut *conn)
        .await
        .db()?;
    }
    outbox_hooks::children_stopped(conn, tenant_id, ids).await
}

#[async_trait::async_trait]
impl SubscriberStore for Engine {
    async fn create_subscriber(
        &self,
        tenant_id: &str,
        new: &NewSubscriber,
    ) -> StoreResult<Subscriber> {
        validate::contacts("", &new.contacts)?;
        validate::children("", &new.children)?;
        self.registrar().create(tenant_id, new).await
    }

    async fn subscriber(&self, tenant_id: &str, id: &str) -> StoreResult<Subscriber> {
        let mut tx = self.begin_read().await?;
        let subscriber = load(&mut tx, tenant_id, id).await?;
        tx.commit().await.db()?;
        Ok(subscriber)
    }

    async fn subscribers(
        &self,
        tenant_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Subscriber>> {
        let limit = page.effective_limit() as usize;
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let mut rows = sqlx::query_as::<_, SubscriberRow>(&format!(
            "{SELECT_SUBSCRIBER}tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(tenant_id)
        .bind(page.after.as_deref().unwrap_or_default())
        .bind(limit as i64 + 1)
        .fetch_all(&mut *tx)
        .await
        .db()?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let items = assemble(&mut tx, tenant_id, rows).await?;
        tx.commit().await.db()?;
        let next_cursor = if more {
            items.last().map(|s| s.id.clone())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn subscriber_by_contact(
        &self,
        tenant_id: &str,
        channel: &str,
        address: &str,
    ) -> StoreResult<Option<Subscriber>> {
        let mut tx = self.begin_read().await?;
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT subscriber_id FROM contacts WHERE tenant_id = $1 AND channel = $2 AND address = $3",
        )
        .bind(tenant_id)
        .bind(channel)
        .bind(address)
        .fetch_optional(&mut *tx)
        .await
        .db()?;
        let found = match owner {
            Some(id) => Some(load(&mut tx, tenant_id, &id).await?),
            None => None,
        };
        tx.commit().await.db()?;
        Ok(found)
    }

    async fn update_subscriber(
        &self,
        tenant_id: &str,
        id: &str,
        patch: &SubscriberPatch,
    ) -> StoreResult<Subscriber> {
        if let Some(contacts) = &patch.contacts {
            validate::contacts("", contacts)?;
        }
        let at = now();
        let mut tx = self.begin_write().await?;
        live_subscriber_row(&mut tx, tenant_id, id).await?;
        if let Some(locale) = patch.locale {
            sqlx::query("UPDATE subscribers SET locale = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(id)
                .bind(locale.as_str())
                .execute(&mut *tx)
                .await
                .db()?;
        }
        if let Some(wanted) = &patch.contacts {
            check_addresses_free(&mut tx, tenant_id, wanted, Some(id)).await?;
            let stored = contacts_of(&mut tx, tenant_id, &[id]).await?;
            let plan = ContactPlan::new(id, &stored, wanted);
            apply_moves_and_removals(&mut tx, tenant_id, at, &plan).await?;
            insert_contacts(&mut tx, tenant_id, at, &plan.inserts).await?;
        }
        touch_subscriber(&mut tx, tenant_id, id, at).await?;
        let subscriber = load(&mut tx, tenant_id, id).await?;
        tx.commit().await.db()?;
        Ok(subscriber)
    }

    async fn add_child(
        &self,
        tenant_id: &str,
        subscriber_id: &str,
        child: &NewChild,
    ) -> StoreResult<Child> {
        validate::children("", std::slice::from_ref(child))
            .map_err(|_| invalid("child", "a child needs a due_date or a birth_date"))?;
        let at = now();
        let mut tx = self.begin_write().await?;
        let row = live_subscriber_row(&mut tx, tenant_id, subscriber_id).await?;
        let next: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(position) + 1, 0) FROM children WHERE tenant_id = $1 AND subscriber_id = $2",
        )
        .bind(tenant_id)
        .bind(subscriber_id)
        .fetch_one(&mut *tx)
        .await
        .db()?;
        let inserts = new_children(subscriber_id, next, std::slice::from_ref(child));
        insert_children(&mut tx, tenant_id, at, &inserts).await?;
        if row.status()? == SubscriberStatus::Stopped {
            set_subscriber_status(
                &mut tx,
                tenant_id,
                subscriber_id,
                SubscriberStatus::Active,
                at,
            )
            .await?;
        } else {
            touch_subscriber(&mut tx, tenant_id, subscriber_id, at).await?;
        }
        tx.commit().await.db()?;
        Ok(inserts[0].child())
    }

    async fn report_birth(
        &self,
        tenant_id: &str,
        subscriber_id: &str,
        child_id: &str,
        birth_date: NaiveDate,
    ) -> StoreResult<Child> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let row = child_row(&mut tx, tenant_id, subscriber_id, child_id).await?;
        if row.status()? == ChildStatus::Stopped {
            return Err(StoreError::Conflict(format!(
                "child `{child_id}` of subscriber `{subscriber_id}` is stopped"
            )));
        }
        sqlx::query(
            "UPDATE children SET birth_date = $3, status = 'born', updated_at = $4 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(child_id)
        .bind(birth_date)
        .bind(at)
        .execute(&mut *tx)
        .await
        .db()?;
        let whole_track = row.birth_date.is_none() && row.due_date != Some(birth_date);
        outbox_hooks::birth_reported(&mut tx, tenant_id, child_id, whole_track).await?;
        touch_subscriber(&mut tx, tenant_id, subscriber_id, at).await?;
        let child = child_row(&mut tx, tenant_id, subscriber_id, child_id)
            .await?
            .into_child()?;
        tx.commit().await.db()?;
        Ok(child)
    }

    async fn stop_child(
        &self,
        tenant_id: &str,
        subscriber_id: &str,
        child_id: &str,
        reason: &str,
    ) -> StoreResult<Child> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let row = child_row(&mut tx, tenant_id, subscriber_id, child_id).await?;
        if row.status()? == ChildStatus::Stopped {
            return row.into_child();
        }
        stop_children(&mut tx, tenant_id, &[child_id.to_string()], reason, at).await?;
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM children WHERE tenant_id = $1 AND subscriber_id = $2 \
             AND status <> 'stopped'",
        )
        .bind(tenant_id)
        .bind(subscriber_id)
        .fetch_one(&mut *tx)
        .await
        .db()?;
        let status = if left == 0 {
            SubscriberStatus::Stopped
        } else {
            SubscriberStatus::Active
        };
        set_subscriber_status(&mut tx, tenant_id, subscriber_id, status, at).await?;
        let child = child_row(&mut tx, tenant_id, subscriber_id, child_id)
            .await?
            .into_child()?;
        tx.commit().await.db()?;
        Ok(child)
    }

    async fn stop_subscriber(
        &self,
        tenant_id: &str,
        id: &str,
        reason: &str,
    ) -> StoreResult<Subscriber> {
        let at = now();
        let mut tx = self.begin_write().await?;
        live_subscriber_row(&mut tx, tenant_id, id).await?;
        let running: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM children WHERE tenant_id = $1 AND subscriber_id = $2 AND status <> 'stopped'",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .db()?;
        stop_children(&mut tx, tenant_id, &running, reason, at).await?;
        set_subscriber_status(&mut tx, tenant_id, id, SubscriberStatus::Stopped, at).await?;
        let subscriber = load(&mut tx, tenant_id, id).await?;
        tx.commit().await.db()?;
        Ok(subscriber)
    }

    async fn set_contact_status(
        &self,
        tenant_id: &str,
        contact_id: &str,
        status: ContactStatus,
    ) -> StoreResult<Contact> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE contacts SET status = $3, updated_at = $4 \
             WHERE tenant_id = $1 AND id = $2 AND address IS NOT NULL",
        )
        .bind(tenant_id)
        .bind(contact_id)
        .bind(status.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound(format!(
                "contact `{contact_id}` of tenant `{tenant_id}`"
            )));
        }
        if status == ContactStatus::Invalid {
            outbox_hooks::contacts_removed(&mut tx, tenant_id, &[contact_id.to_string()]).await?;
        } else {
            // Valid again: touched, so that the planner plans its
            // household again from today.
            let subscriber: String = sqlx::query_scalar(
                "SELECT subscriber_id FROM contacts WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant_id)
            .bind(contact_id)
            .fetch_one(&mut *tx)
            .await
            .db()?;
            touch_subscriber(&mut tx, tenant_id, &subscriber, at).await?;
        }
        let contact =
            sqlx::query_as::<_, ContactRow>(&format!("{SELECT_CONTACT}tenant_id = $1 AND id = $2"))
                .bind(tenant_id)
                .bind(contact_id)
                .fetch_one(&mut *tx)
                .await
                .db()?
                .into_contact()?;
        tx.commit().await.db()?;
        Ok(contact)
    }

    async fn erase_subscriber(&self, tenant_id: &str, id: &str) -> StoreResult<()> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let row = subscriber_row(&mut tx, tenant_id, id).await?;
        if row.status()? == SubscriberStatus::Erased {
            return Ok(());
        }
        let children: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM children WHERE tenant_id = $1 AND subscriber_id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .db()?;
        let contacts: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM contacts WHERE tenant_id = $1 AND subscriber_id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .db()?;
        super::inbound::subscriber_erased(&mut tx, tenant_id, id).await?;
        super::conversations::subscriber_erased(&mut tx, tenant_id, id).await?;
        sqlx::query(
            "UPDATE subscribers SET external_id = NULL, import_digest = NULL, status = 'erased', \
             erased_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .db()?;
        sqlx::query(
            "UPDATE contacts SET address = NULL, status = 'invalid', updated_at = $3 \
             WHERE tenant_id = $1 AND subscriber_id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .db()?;
        // Stop reasons can be health information (pregnancy loss): gone too.
        sqlx::query(
            "UPDATE children SET due_date = NULL, birth_date = NULL, status = 'stopped', \
             stopped_reason = 'erased', stopped_at = COALESCE(stopped_at, $3), updated_at = $3 \
             WHERE tenant_id = $1 AND subscriber_id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .db()?;
        outbox_hooks::children_stopped(&mut tx, tenant_id, &children).await?;
        outbox_hooks::contacts_removed(&mut tx, tenant_id, &contacts).await?;
        tx.commit().await.db()
    }

    async fn import_subscribers(
        &self,
        tenant_id: &str,
        rows: &[ImportRow],
    ) -> StoreResult<ImportSummary> {
        super::import::import(self, tenant_id, rows).await
    }

    async fn import_refusals(
        &self,
        tenant_id: &str,
        rows: &[ImportRow],
    ) -> StoreResult<Vec<ImportRefusal>> {
        super::import::refusals(self, tenant_id, rows).await
    }

    async fn subscriber_counts(&self, tenant_id: &str) -> StoreResult<SubscriberCounts> {
        let mut tx = self.begin_read().await?;
        require_tenant(&mut tx, tenant_id).await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM subscribers WHERE tenant_id = $1 GROUP BY status",
        )
        .bind(tenant_id)
        .fetch_all(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        let mut counts = SubscriberCounts::default();
        for (status, n) in rows {
            let n = u64::try_from(n).unwrap_or_default();
            match status.parse::<SubscriberStatus>() {
                Ok(SubscriberStatus::Active) => counts.active = n,
                Ok(SubscriberStatus::Stopped) => counts.stopped = n,
                Ok(SubscriberStatus::Erased) => counts.erased = n,
                Err(e) => return Err(crate::error::unreadable("subscriber status", e)),
            }
        }
        Ok(counts)
    }
}
