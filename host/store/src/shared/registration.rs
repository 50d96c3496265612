//! Registering subscribers with group commit.
//!
//! A registration is a handful of statements (check the tenant, the external
//! id and the addresses; insert the subscriber, its contacts, its children).
//! One at a time, each statement is a round trip to the database (on SQLite,
//! a hand-off to sqlx's worker thread), and on SQLite every registration
//! waits for the single writer: with 50 clients at once, the queue alone
//! made the 99th percentile several times the budget of 10 ms.
//!
//! So registrations go through one task per store, the [`Registrar`]'s (run
//! where the engine chooses: on SQLite, on a thread of its own), which takes
//! whatever requests are waiting (up to [`MAX_BATCH`]) and writes them in one
//! transaction: one query per check for the whole batch, one
//! multi-row `INSERT` per table and tenant. Requests are checked in arrival
//! order, so the answers are those of the same requests one after another: a
//! request refused (unknown tenant, taken external id or address, also within
//! the batch) gets its own error and writes nothing, and the others go in.
//! Should the batch fail as a whole regardless (another node inserted the
//! same address on PostgreSQL, or the database failed), each request is
//! retried on its own, so no request fails because of another.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tayori_core::{
    NewContact, NewSubscriber, StoreError, StoreResult, Subscriber, SubscriberStatus,
};
use tokio::sync::{mpsc, oneshot};

use super::subscribers::{
    ChildInsert, ContactInsert, SubscriberInsert, address_owners, check_addresses_free,
    insert_children, insert_contacts, insert_subscribers, new_children, owner_of,
};
use super::{Conn, Pools, fetch_in, require_tenant, tenant_not_found};
use crate::error::{DbResultExt, new_id, now};

/// The most registrations written in one transaction.
const MAX_BATCH: usize = 128;
/// Registrations waiting for the registrar before callers wait to enqueue.
const QUEUE: usize = 1024;

/// One registration and where its answer goes.
struct Request {
    tenant_id: String,
    subscriber: NewSubscriber,
    reply: oneshot::Sender<StoreResult<Subscriber>>,
}

/// The queue to a store's registration task. The task ends when the last
/// clone of the store (and so of this sender) is dropped.
#[derive(Debug, Clone)]
pub(in super::super) struct Registrar {
    queue: mpsc::Sender<Request>,
    /// When the last registration arrived (milliseconds since the Unix
    /// epoch): bulk writers keep their transactions short while people are
    /// registering.
    last_arrival: Arc<AtomicI64>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn stopped() -> StoreError {
    StoreError::Backend("the registration task has stopped".to_string())
}

impl Registrar {
    /// The queue, and the task that serves it, for the engine to run where
    /// its writes are served best. The task ends when the last clone of the
    /// queue is dropped.
    pub(in super::super) fn new(pools: Pools) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let (queue, requests) = mpsc::channel(QUEUE);
        let last_arrival = Arc::new(AtomicI64::new(i64::MIN));
        (
            Self {
                queue,
                last_arrival,
            },
            run(pools, requests),
        )
    }

    /// Whether a registration arrived within the last `window`.
    pub(super) fn registering(&self, window: std::time::Duration) -> bool {
        let last = self.last_arrival.load(Ordering::Relaxed);
        let window = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        now_ms().saturating_sub(last) <= window
    }

    /// Registers a subscriber (already validated by the caller).
    pub(super) async fn create(
        &self,
        tenant_id: &str,
        subscriber: &NewSubscriber,
    ) -> StoreResult<Subscriber> {
        self.last_arrival.store(now_ms(), Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request {
                tenant_id: tenant_id.to_string(),
                subscriber: subscriber.clone(),
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(pools: Pools, mut requests: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let answers = match create_batch(&pools, &batch).await {
            Ok(answers) => answers,
            Err(e) => {
                tracing::debug!(
                    "a batch of {} registrations failed as a whole ({e}); registering them one by one",
                    batch.len()
                );
                let mut answers = Vec::with_capacity(batch.len());
                for r in &batch {
                    answers.push(create_one(&pools, &r.tenant_id, &r.subscriber).await);
                }
                answers
            }
        };
        for (request, answer) in batch.drain(..).zip(answers) {
            // The caller may have gone away; the registration stands.
            let _ = request.reply.send(answer);
        }
    }
}

fn external_id_taken(tenant_id: &str, external_id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "a subscriber with external id `{external_id}` already exists in tenant `{tenant_id}`"
    ))
}

fn contact_taken(tenant_id: &str, j: usize, c: &NewContact) -> StoreError {
    StoreError::Conflict(format!(
        "contacts[{j}]: this {} address is already registered to another subscriber of tenant `{tenant_id}`",
        c.channel
    ))
}

/// What one accepted registration writes.
struct Accepted<'a> {
    index: usize,
    subscriber: SubscriberInsert<'a>,
    contacts: Vec<ContactInsert<'a>>,
    children: Vec<ChildInsert>,
}

impl Accepted<'_> {
    fn new<'a>(index: usize, s: &'a NewSubscriber) -> Accepted<'a> {
        let id = new_id();
        Accepted {
            index,
            contacts: s
                .contacts
                .iter()
                .zip(0i64..)
                .map(|(c, position)| ContactInsert {
                    id: new_id(),
                    subscriber_id: id.clone(),
                    position,
                    channel: &c.channel,
                    address: &c.address,
                })
                .collect(),
            children: new_children(&id, 0, &s.children),
            subscriber: SubscriberInsert {
                id,
                external_id: s.external_id.as_deref(),
                locale: s.locale,
                status: SubscriberStatus::Active,
                import_digest: None,
            },
        }
    }

    fn into_subscriber(
        self,
        tenant_id: &str,
        s: &NewSubscriber,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Subscriber {
        Subscriber {
            id: self.subscriber.id,
            tenant_id: tenant_id.to_string(),
            external_id: s.external_id.clone(),
            locale: s.locale,
            status: SubscriberStatus::Active,
            contacts: self.contacts.iter().map(ContactInsert::contact).collect(),
            children: self.children.iter().map(ChildInsert::child).collect(),
            created_at: at,
            updated_at: at,
        }
    }
}

/// Writes a batch in one transaction; each request's answer, or an error
/// for the batch as a whole.
async fn create_batch(
    pools: &Pools,
    batch: &[Request],
) -> StoreResult<Vec<StoreResult<Subscriber>>> {
    let at = now();
    let mut tx = pools.begin_write().await?;
    let mut answers: Vec<Option<StoreResult<Subscriber>>> = batch.iter().map(|_| None).collect();

    let mut tenants: Vec<&str> = batch.iter().map(|r| r.tenant_id.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let known: Vec<(String,)> = fetch_in(
        &mut tx,
        "SELECT id FROM tenants WHERE ",
        &[],
        "id",
        &tenants,
    )
    .await?;
    let known: HashSet<String> = known.into_iter().map(|(id,)| id).collect();
    let mut by_tenant: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in batch.iter().enumerate() {
        if known.contains(&r.tenant_id) {
            by_tenant.entry(&r.tenant_id).or_default().push(i);
        } else {
            answers[i] = Some(Err(tenant_not_found(&r.tenant_id)));
        }
    }

    let mut accepted_all = Vec::new();
    for (tenant_id, indexes) in by_tenant {
        let accepted = accept(&mut tx, tenant_id, batch, &indexes, &mut answers).await?;
        let subscribers: Vec<_> = accepted.iter().map(|a| &a.subscriber).collect();
        let contacts: Vec<_> = accepted.iter().flat_map(|a| &a.contacts).collect();
        let children: Vec<_> = accepted.iter().flat_map(|a| &a.children).collect();
        insert_subscribers(&mut tx, tenant_id, at, &subscribers).await?;
        insert_contacts(&mut tx, tenant_id, at, &contacts).await?;
        insert_children(&mut tx, tenant_id, at, &children).await?;
        accepted_all.extend(accepted);
    }
    tx.commit().await.db()?;

    for a in accepted_all {
        let index = a.index;
        let request = &batch[index];
        answers[index] = Some(Ok(a.into_subscriber(
            &request.tenant_id,
            &request.subscriber,
            at,
        )));
    }
    Ok(answers
        .into_iter()
        .map(|a| {
            a.unwrap_or_else(|| Err(StoreError::Backend("a registration got no answer".into())))
        })
        .collect())
}

/// The requests of one tenant that can go in, in arrival order; the others
/// get their refusal in `answers`.
async fn accept<'a>(
    conn: &mut Conn,
    tenant_id: &str,
    batch: &'a [Request],
    indexes: &[usize],
    answers: &mut [Option<StoreResult<Subscriber>>],
) -> StoreResult<Vec<Accepted<'a>>> {
    let external_ids: Vec<&str> = indexes
        .iter()
        .filter_map(|&i| batch[i].subscriber.external_id.as_deref())
        .collect();
    let taken: Vec<(String,)> = fetch_in(
        conn,
        "SELECT external_id FROM subscribers WHERE ",
        &[("tenant_id", tenant_id)],
        "external_id",
        &external_ids,
    )
    .await?;
    let mut taken_external: HashSet<String> = taken.into_iter().map(|(e,)| e).collect();
    let contacts: Vec<&NewContact> = indexes
        .iter()
        .flat_map(|&i| batch[i].subscriber.contacts.iter())
        .collect();
    let owners = address_owners(conn, tenant_id, &contacts).await?;
    let mut taken_addresses: HashSet<(&str, &str)> = HashSet::new();

    let mut accepted = Vec::with_capacity(indexes.len());
    for &i in indexes {
        let s = &batch[i].subscriber;
        if let Some(e) = s.external_id.as_deref()
            && taken_external.contains(e)
        {
            answers[i] = Some(Err(external_id_taken(tenant_id, e)));
            continue;
        }
        let clash = s.contacts.iter().enumerate().find(|(_, c)| {
            owner_of(&owners, c).is_some()
                || taken_addresses.contains(&(c.channel.as_str(), c.address.as_str()))
        });
        if let Some((j, c)) = clash {
            answers[i] = Some(Err(contact_taken(tenant_id, j, c)));
            continue;
        }
        if let Some(e) = &s.external_id {
            taken_external.insert(e.clone());
        }
        taken_addresses.extend(
            s.contacts
                .iter()
                .map(|c| (c.channel.as_str(), c.address.as_str())),
        );
        accepted.push(Accepted::new(i, s));
    }
    Ok(accepted)
}

/// Registers one subscriber in its own transaction (the fallback when a
/// batch fails as a whole).
async fn create_one(
    pools: &Pools,
    tenant_id: &str,
    new: &NewSubscriber,
) -> StoreResult<Subscriber> {
    let at = now();
    let mut tx = pools.begin_write().await?;
    require_tenant(&mut tx, tenant_id).await?;
    check_addresses_free(&mut tx, tenant_id, &new.contacts, None).await?;
    let one = Accepted::new(0, new);
    insert_subscribers(&mut tx, tenant_id, at, &[&one.subscriber])
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                external_id_taken(tenant_id, new.external_id.as_deref().unwrap_or_default())
            }
            e => e,
        })?;
    let contacts: Vec<_> = one.contacts.iter().collect();
    let children: Vec<_> = one.children.iter().collect();
    insert_contacts(&mut tx, tenant_id, at, &contacts).await?;
    insert_children(&mut tx, tenant_id, at, &children).await?;
    tx.commit().await.db()?;
    Ok(one.into_subscriber(tenant_id, new, at))
}
