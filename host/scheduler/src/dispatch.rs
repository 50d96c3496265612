//! The dispatcher: claims due deliveries with a lease, renders them, groups
//! them by (channel, plugin version, content) up to the plugin's batch size,
//! holds each channel to its rate limit and quotas, calls the plugin and
//! records every outcome, with retries, expiry and dead-lettering. One call
//! carries every batch of a claim for one channel, up to the sender's
//! `max_batches_per_call` and `max_recipients_per_call`.
//!
//! What each failure does (docs/plugins.md has the partner's view):
//!
//! | outcome | the delivery | beyond it |
//! |---|---|---|
//! | accepted | sent, with the platform's receipt | |
//! | retry-after(N) | pending again in N seconds | |
//! | transient, or the call failed | pending again after an exponential backoff with jitter | |
//! | permanent | failed | |
//! | recipient-gone | failed | the contact is marked invalid; its other pending deliveries are cancelled |
//! | unauthorized | held, attempt not counted | the channel is paused until its config changes |
//!
//! A delivery whose next attempt would fall after its expiry is expired; one
//! that failed on its last attempt is dead.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use tayori_core::{
    Anchor, Batch, Broadcast, Channel, ClaimedDelivery, Complete, Completed, Completion, Content,
    DeliverySource, FailureKind, LocalInsert, Outcome, Store, StoreResult, Tenant,
};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::plan::{MessageIndex, tenant_messages};
use crate::render::{ChildOnDay, Renderer};
use crate::unsubscribe::StopLinks;

/// How a channel's sender may be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendLimits {
    /// The most recipients one batch takes.
    pub max_batch: usize,
    /// The most batches (different messages) one call takes.
    pub max_batches_per_call: usize,
    /// The most recipients of all its batches one call takes.
    pub max_recipients_per_call: usize,
    /// Sustained recipients per second.
    pub rate_per_second: u32,
    /// Counting windows `(seconds, max)`; a daily quota is `(86400, quota)`.
    pub windows: Vec<(u32, u32)>,
}

/// Why a send failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError(pub String);

/// What delivers a channel's batches: a plugin version (the product), or a
/// native sender compiled into a benchmark.
#[async_trait::async_trait]
pub trait Sender: Send + Sync {
    /// The version that will make the attempt, recorded on each delivery.
    fn version(&self) -> String;
    /// Its limits for this channel.
    fn limits(&self) -> SendLimits;
    /// Sends batches in one call: one outcome per recipient of every batch.
    async fn deliver(&self, batches: &[Batch]) -> Result<Vec<Outcome>, SendError>;
}

/// Finds the sender of a tenant's channel.
#[async_trait::async_trait]
pub trait Senders: Send + Sync {
    async fn sender(&self, tenant: &Tenant, channel: &Channel) -> Result<Arc<dyn Sender>, String>;
}

/// The dispatcher's settings.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Rows one claim takes.
    pub claim_size: u32,
    /// How long a claim holds its rows before another dispatcher may
    /// rescue them; renewed while the claim is worked on (see `lease.rs`).
    pub lease: Duration,
    /// Attempts before a delivery is dead.
    pub max_attempts: u32,
    /// The first retry's delay; each next one doubles, up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Batches sent at once by one worker. With the default 3 workers, 48
    /// calls are in flight at most: fewer than the runtime's 64 pooled
    /// connections per host, so that requests reuse connections instead of
    /// opening (and the platform accepting) new ones. At 64 a worker (192
    /// in all) the 2-core benchmark spent a third more CPU per delivery.
    pub concurrency: usize,
    /// Claim-and-send loops.
    pub workers: usize,
    /// The longest idle wait before looking for due rows again.
    pub idle_poll: Duration,
    /// How long cached tenants, channels and catalog stay fresh.
    pub cache_ttl: Duration,
    /// The longest a batch waits for its channel's rate limit before being
    /// put back for later.
    pub max_rate_wait: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            claim_size: 1_000,
            lease: crate::lease::DEFAULT_LEASE,
            max_attempts: 8,
            backoff_base: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(3_600),
            concurrency: 16,
            workers: 3,
            idle_poll: Duration::from_secs(1),
            cache_ttl: Duration::from_secs(2),
            max_rate_wait: Duration::from_secs(2),
        }
    }
}

/// A tenant as the dispatcher uses it, cached briefly.
struct TenantCtx {
    tenant: Tenant,
    tz: Tz,
    index: MessageIndex,
    inserts: Vec<LocalInsert>,
    channels: HashMap<String, Arc<Channel>>,
    loaded: Instant,
}

/// A channel's sender, the config time it was made for, and when.
type CachedSender = (DateTime<Utc>, Instant, Arc<dyn Sender>);

#[derive(Default)]
struct Caches {
    tenants: HashMap<String, Arc<TenantCtx>>,
    catalog: Option<(Instant, Arc<Vec<tayori_core::CatalogMessage>>)>,
    broadcasts: HashMap<(String, String), Arc<Broadcast>>,
    senders: HashMap<(String, String), CachedSender>,
    limiters: HashMap<(String, String), (u32, Arc<DefaultDirectRateLimiter>)>,
}

/// One group of deliveries to send as one batch.
struct Group {
    tenant: Arc<TenantCtx>,
    channel: Arc<Channel>,
    message_id: String,
    content: Content,
    /// The batch the rows are recorded in (see `OutboxStore::assign_batches`).
    kept_batch: Option<String>,
    /// The batch was recorded by an earlier claim: it may have gone out
    /// already, so it goes out whole or not at all (the platform's retry
    /// key is derived from exactly its members).
    resent: bool,
    rows: Vec<ClaimedDelivery>,
}

/// The delivery dispatcher.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    senders: Arc<dyn Senders>,
    clock: Arc<dyn Clock>,
    config: DispatchConfig,
    renderer: Renderer,
    caches: Mutex<Caches>,
    wake: Notify,
    /// Signs each email recipient's one-click stop link; `None`: none
    /// (the channel's own template, in tools and benchmarks).
    stop_links: Option<StopLinks>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What one claim came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// Rows claimed.
    pub claimed: usize,
    /// Rows recorded as sent (not those whose completion was refused as stale).
    pub sent: usize,
    /// Completions refused because another dispatcher re-claimed the row.
    pub stale: u64,
}

impl Dispatched {
    fn add(&mut self, d: Dispatched) {
        self.claimed += d.claimed;
        self.sent += d.sent;
        self.stale += d.stale;
    }
}

fn label(c: &Completion) -> &'static str {
    match c {
        Completion::Sent { .. } => "sent",
        Completion::Retry { .. } => "retry",
        Completion::Defer { .. } => "deferred",
        Completion::Failed { .. } => "failed",
        Completion::RecipientGone { .. } => "recipient_gone",
        Completion::Expired { .. } => "expired",
        Completion::Cancelled { .. } => "cancelled",
        Completion::Dead { .. } => "dead",
        Completion::Unauthorized { .. } => "held",
    }
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        senders: Arc<dyn Senders>,
        clock: Arc<dyn Clock>,
        config: DispatchConfig,
    ) -> Self {
        Self {
            store,
            senders,
            clock,
            config,
            renderer: Renderer::default(),
            caches: Mutex::new(Caches::default()),
            wake: Notify::new(),
            stop_links: None,
        }
    }

    /// Gives every recipient of an email channel Tayori's own one-click
    /// stop link (see [`crate::unsubscribe`]).
    pub fn with_stop_links(self, stop_links: StopLinks) -> Self {
        Self {
            stop_links: Some(stop_links),
            ..self
        }
    }

    /// The stop links, when given.
    pub fn stop_links(&self) -> Option<&StopLinks> {
        self.stop_links.as_ref()
    }

    /// The settings.
    pub fn config(&self) -> &DispatchConfig {
        &self.config
    }

    /// Wakes idle workers: new rows are due.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// Forgets a tenant's cached settings and channels (they changed).
    pub fn invalidate(&self, tenant_id: &str) {
        let mut caches = self.caches.lock().expect("cache lock");
        caches.tenants.remove(tenant_id);
        caches.senders.retain(|(t, _), _| t != tenant_id);
    }

    /// Forgets every cached tenant and the catalog.
    pub fn invalidate_all(&self) {
        let mut caches = self.caches.lock().expect("cache lock");
        caches.tenants.clear();
        caches.catalog = None;
    }

    /// Takes back a predecessor's claims where the store can tell they
    /// are nobody else's (SQLite), then runs `workers` claim loops and the
    /// lease rescuer until `shutdown`, then logs what this node dispatched
    /// in all.
    pub async fn run(self: Arc<Self>, shutdown: tokio::sync::watch::Receiver<bool>) {
        match self.store.take_over_claims(self.clock.now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                rows = n,
                "took back deliveries a previous run left in flight: they go again under their keys"
            ),
            Err(e) => tracing::error!(error = %e, "cannot take back a previous run's claims"),
        }
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..self.config.workers.max(1) {
            let me = self.clone();
            let mut stop = shutdown.clone();
            tasks.spawn(async move {
                let mut total = Dispatched::default();
                loop {
                    if *stop.borrow() {
                        break total;
                    }
                    match me.run_once().await {
                        Ok(d) if d.claimed > 0 => {
                            total.add(d);
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(worker, error = %e, "dispatch failed"),
                    }
                    let wait = me.idle_wait().await;
                    tokio::select! {
                        () = me.wake.notified() => {}
                        () = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => {}
                    }
                }
            });
        }
        let me = self.clone();
        let mut stop = shutdown.clone();
        tasks.spawn(async move {
            let every = crate::lease::renew_every(me.config.lease);
            loop {
                match me.store.rescue_expired_leases(me.clock.now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::warn!(
                            rows = n,
                            "rescued deliveries whose dispatcher's lease ran out"
                        );
                        me.wake();
                    }
                    Err(e) => tracing::error!(error = %e, "lease rescue failed"),
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = stop.changed() => break,
                }
                if *stop.borrow() {
                    break;
                }
            }
            Dispatched::default()
        });
        let mut total = Dispatched::default();
        while let Some(done) = tasks.join_next().await {
            if let Ok(d) = done {
                total.add(d);
            }
        }
        tracing::info!(
            claimed = total.claimed,
            sent = total.sent,
            stale = total.stale,
            "dispatcher stopped"
        );
    }

    /// How long an idle worker waits: until the next due row, at most the idle poll.
    async fn idle_wait(&self) -> Duration {
        let poll = self.config.idle_poll;
        match self.store.next_due().await {
            Ok(Some(at)) => {
                let ms = (at - self.clock.now_ms()).max(10);
                poll.min(Duration::from_millis(ms as u64))
            }
            _ => poll,
        }
    }

    /// Claims, sends and completes until nothing is due (for tests and tools).
    pub async fn drain(&self) -> StoreResult<Dispatched> {
        let mut total = Dispatched::default();
        loop {
            let d = self.run_once().await?;
            if d.claimed == 0 {
                return Ok(total);
            }
            total.add(d);
        }
    }

    /// One claim: claim due rows, send them, record what happened.
    pub async fn run_once(&self) -> StoreResult<Dispatched> {
        let now = self.clock.now_ms();
        let lease_until = now + self.config.lease.as_millis() as i64;
        let claim = self
            .store
            .claim(now, lease_until, self.config.claim_size)
            .await?;
        let claimed = claim.deliveries.len();
        if claimed == 0 {
            return Ok(Dispatched::default());
        }
        // The lease stays ahead of the work until the completions are in.
        let _renewal = crate::lease::Renewal::start(
            self.store.clone(),
            self.clock.clone(),
            self.config.lease,
            claim.deliveries.iter().map(|d| (d.id, d.fence)).collect(),
        );
        let labels: HashMap<i64, (String, String)> = claim
            .deliveries
            .iter()
            .map(|d| (d.id, (d.tenant_id.clone(), d.channel.clone())))
            .collect();
        let mut completions: Vec<Complete> = Vec::with_capacity(claimed);
        let groups = self.group(claim.deliveries, now, &mut completions).await;
        // Chunks up to each sender's batch size.
        let mut chunks: Vec<(Group, Arc<dyn Sender>)> = Vec::new();
        let mut batches: Vec<(i64, i64, String)> = Vec::new();
        for group in groups {
            let sender = match self.sender(&group.tenant, &group.channel).await {
                Ok(s) => s,
                Err(e) => {
                    for d in &group.rows {
                        let c =
                            self.retry(d, now, format!("no sender: {e}"), None, d.batch.is_some());
                        completions.push(Complete {
                            id: d.id,
                            fence: d.fence,
                            completion: c,
                        });
                    }
                    continue;
                }
            };
            let limits = sender.limits();
            let size = limits
                .max_batch
                .min(limits.rate_per_second.max(1) as usize)
                .max(1);
            if group.kept_batch.is_some() {
                chunks.push((group, sender));
                continue;
            }
            let Group {
                tenant,
                channel,
                message_id,
                content,
                rows,
                ..
            } = group;
            let mut rows = rows.into_iter().peekable();
            while rows.peek().is_some() {
                let part: Vec<ClaimedDelivery> = rows.by_ref().take(size).collect();
                let kept_batch = (part.len() > 1).then(|| {
                    let key = crate::keys::batch(&part[0].key, part[0].attempts);
                    for d in &part {
                        batches.push((d.id, d.fence, key.clone()));
                    }
                    key
                });
                chunks.push((
                    Group {
                        tenant: tenant.clone(),
                        channel: channel.clone(),
                        message_id: message_id.clone(),
                        content: content.clone(),
                        kept_batch,
                        resent: false,
                        rows: part,
                    },
                    sender.clone(),
                ));
            }
        }
        // Before any batch goes out, record which rows go together, so
        // that after a crash they go out together again. A batch with a row
        // that could not be recorded was re-claimed by another dispatcher
        // (this claim's lease ran out): that one sends it, maybe cut
        // otherwise, so this one must not.
        let assigned: HashSet<i64> = self
            .store
            .assign_batches(&batches)
            .await?
            .into_iter()
            .collect();
        let recorded: HashSet<i64> = batches.iter().map(|(id, _, _)| *id).collect();
        let mut lost = 0;
        chunks.retain(|(group, _)| {
            let ours = group
                .rows
                .iter()
                .all(|d| !recorded.contains(&d.id) || assigned.contains(&d.id));
            if !ours {
                lost += group.rows.len();
                // The rows still held go back at once (in the batch just
                // recorded for them, which never went out).
                for d in group.rows.iter().filter(|d| assigned.contains(&d.id)) {
                    completions.push(Complete {
                        id: d.id,
                        fence: d.fence,
                        completion: Completion::Defer {
                            at: now,
                            reason: Some("part of its batch was re-claimed".into()),
                        },
                    });
                }
            }
            ours
        });
        if lost > 0 {
            tracing::warn!(
                rows = lost,
                "not sending rows another dispatcher re-claimed before they went out"
            );
        }
        use futures::StreamExt;
        let sends: Vec<_> = calls(chunks)
            .into_iter()
            .map(|(groups, sender)| self.send(groups, sender))
            .collect();
        let results: Vec<Vec<Complete>> = futures::stream::iter(sends)
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        for r in results {
            completions.extend(r);
        }
        let Completed { applied, stale } = self
            .store
            .complete(&completions, self.clock.now_ms())
            .await?;
        if stale > 0 {
            tracing::warn!(
                stale,
                "completions refused: another dispatcher re-claimed those rows"
            );
        }
        // Only what was recorded counts: a refused completion is the other
        // dispatcher's to count, so across nodes each outcome counts once.
        let recorded: HashSet<i64> = applied.into_iter().collect();
        let mut sent = 0;
        for c in completions.iter().filter(|c| recorded.contains(&c.id)) {
            if matches!(c.completion, Completion::Sent { .. }) {
                sent += 1;
            }
            if let Some((tenant, channel)) = labels.get(&c.id) {
                metrics::counter!(
                    "tayori_deliveries_total",
                    "tenant" => tenant.clone(),
                    "channel" => channel.clone(),
                    "status" => label(&c.completion)
                )
                .increment(1);
            }
        }
        Ok(Dispatched {
            claimed,
            sent,
            stale,
        })
    }

    /// Checks, renders and groups claimed rows; rows that need no sending
    /// are completed into `completions`.
    async fn group(
        &self,
        rows: Vec<ClaimedDelivery>,
        now: i64,
        completions: &mut Vec<Complete>,
    ) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::new();
        type Key = (
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            Option<String>,
        );
        let mut by_key: HashMap<Key, usize> = HashMap::new();
        for d in rows {
            let done = |completion| Complete {
                id: d.id,
                fence: d.fence,
                completion,
            };
            if now > d.expires_at {
                completions.push(done(Completion::Expired {
                    error: Some("not sent within the tenant's lateness window".into()),
                }));
                continue;
            }
            let gone = if !d.subscriber_active {
                Some("the subscriber stopped")
            } else if !d.contact_valid || d.address.is_none() {
                Some("the contact is invalid or removed")
            } else if matches!(d.source, DeliverySource::Scheduled { .. }) && d.child_stopped {
                Some("the child was stopped")
            } else {
                None
            };
            if let Some(reason) = gone {
                completions.push(done(Completion::Cancelled {
                    reason: reason.into(),
                }));
                continue;
            }
            let tenant = match self.tenant(&d.tenant_id).await {
                Ok(Some(t)) => t,
                Ok(None) => {
                    completions.push(done(Completion::Cancelled {
                        reason: "the tenant was deleted".into(),
                    }));
                    continue;
                }
                Err(e) => {
                    let c = self.retry(
                        &d,
                        now,
                        format!("cannot load the tenant: {e}"),
                        None,
                        d.batch.is_some(),
                    );
                    completions.push(done(c));
                    continue;
                }
            };
            let Some(channel) = tenant.channels.get(&d.channel).cloned() else {
                completions.push(done(Completion::Cancelled {
                    reason: format!("the channel `{}` does not exist", d.channel),
                }));
                continue;
            };
            if let Some(q) = tenant.tenant.quiet_hours {
                let local = tenant.tz.timestamp_millis_opt(now).single();
                if let Some(local) = local
                    && q.contains(local.time())
                {
                    let end = local.date_naive().and_time(q.end);
                    let mut end = tenant
                        .tz
                        .from_local_datetime(&end)
                        .earliest()
                        .map_or(now + 3_600_000, |t| t.timestamp_millis());
                    if end <= now {
                        end += 86_400_000;
                    }
                    completions.push(done(if end > d.expires_at {
                        Completion::Expired {
                            error: Some(
                                "the tenant's quiet hours outlast its lateness window".into(),
                            ),
                        }
                    } else {
                        Completion::Defer {
                            at: end,
                            reason: Some("quiet hours".into()),
                        }
                    }));
                    continue;
                }
            }
            let rendered = match &d.source {
                DeliverySource::Scheduled {
                    message_id,
                    occurs_on,
                    ..
                } => match tenant.index.get(message_id) {
                    None => Err(format!(
                        "message `{message_id}` is no longer in the tenant's catalog"
                    )),
                    Some(m) => {
                        let anchor = match (d.birth_date, d.due_date) {
                            (Some(b), _) if !m.pregnancy() => Some(Anchor::Birth(b)),
                            (_, Some(due)) => Some(Anchor::Due(due)),
                            (Some(b), None) => Some(Anchor::Birth(b)),
                            (None, None) => None,
                        };
                        let child = anchor.map(|anchor| ChildOnDay {
                            anchor,
                            due_date: d.due_date,
                            birth_date: d.birth_date,
                            day: *occurs_on,
                        });
                        self.renderer
                            .message(
                                &m.content,
                                message_id,
                                m.stage.as_deref(),
                                &tenant.inserts,
                                d.locale,
                                &tenant.tenant.name,
                                child.as_ref(),
                            )
                            .map(|(subject, body, used)| {
                                (
                                    message_id.clone(),
                                    Content {
                                        subject,
                                        body,
                                        locale: used.as_str().to_string(),
                                        ..Content::default()
                                    },
                                )
                            })
                    }
                },
                DeliverySource::Broadcast { broadcast_id } => {
                    match self.broadcast(&d.tenant_id, broadcast_id).await {
                        Ok(b) => Ok((
                            format!("broadcast:{broadcast_id}"),
                            Content {
                                subject: b.subject.clone(),
                                body: b.body.clone(),
                                locale: d.locale.as_str().to_string(),
                                ..Content::default()
                            },
                        )),
                        Err(e) => Err(format!("broadcast `{broadcast_id}`: {e}")),
                    }
                }
            };
            let (message_id, content) = match rendered {
                Ok(r) => r,
                Err(e) => {
                    completions.push(done(Completion::Failed {
                        error: e,
                        plugin_version: None,
                    }));
                    continue;
                }
            };
            let key = (
                d.tenant_id.clone(),
                d.channel.clone(),
                message_id.clone(),
                content.subject.clone(),
                content.body.clone(),
                content.locale.clone(),
                d.batch.clone(),
            );
            match by_key.get(&key) {
                Some(&i) => groups[i].rows.push(d),
                None => {
                    by_key.insert(key, groups.len());
                    groups.push(Group {
                        tenant: tenant.clone(),
                        channel,
                        message_id,
                        content,
                        kept_batch: d.batch.clone(),
                        resent: d.batch.is_some(),
                        rows: vec![d],
                    });
                }
            }
        }
        groups
    }

    /// A tenant's settings, messages and channels, cached for `cache_ttl`.
    async fn tenant(&self, tenant_id: &str) -> StoreResult<Option<Arc<TenantCtx>>> {
        {
            let caches = self.caches.lock().expect("cache lock");
            if let Some(t) = caches.tenants.get(tenant_id)
                && t.loaded.elapsed() < self.config.cache_ttl
            {
                return Ok(Some(t.clone()));
            }
        }
        let tenant = match self.store.tenant(tenant_id).await {
            Ok(t) => t,
            Err(tayori_core::StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let catalog = self.catalog().await?;
        let own = self.store.tenant_messages(tenant_id).await?;
        let inserts = self.store.local_inserts(tenant_id).await?;
        let channels = self.store.channels(tenant_id).await?;
        let tz = tenant.tz().unwrap_or(chrono_tz::Asia::Tokyo);
        let ctx = Arc::new(TenantCtx {
            index: MessageIndex::new(tenant_messages(&tenant, &catalog, &own)),
            tenant,
            tz,
            inserts,
            channels: channels
                .into_iter()
                .map(|c| (c.name.clone(), Arc::new(c)))
                .collect(),
            loaded: Instant::now(),
        });
        self.caches
            .lock()
            .expect("cache lock")
            .tenants
            .insert(tenant_id.to_string(), ctx.clone());
        Ok(Some(ctx))
    }

    async fn catalog(&self) -> StoreResult<Arc<Vec<tayori_core::CatalogMessage>>> {
        {
            let caches = self.caches.lock().expect("cache lock");
            if let Some((at, c)) = &caches.catalog
                && at.elapsed() < self.config.cache_ttl * 5
            {
                return Ok(c.clone());
            }
        }
        let catalog = Arc::new(self.store.catalog_messages(None).await?);
        self.caches.lock().expect("cache lock").catalog = Some((Instant::now(), catalog.clone()));
        Ok(catalog)
    }

    async fn broadcast(&self, tenant_id: &str, id: &str) -> StoreResult<Arc<Broadcast>> {
        let key = (tenant_id.to_string(), id.to_string());
        if let Some(b) = self.caches.lock().expect("cache lock").broadcasts.get(&key) {
            return Ok(b.clone());
        }
        let b = Arc::new(self.store.broadcast(tenant_id, id).await?);
        let mut caches = self.caches.lock().expect("cache lock");
        if caches.broadcasts.len() > 10_000 {
            caches.broadcasts.clear();
        }
        caches.broadcasts.insert(key, b.clone());
        Ok(b)
    }

    /// The sender of a channel, cached while the channel's config is unchanged.
    async fn sender(
        &self,
        tenant: &TenantCtx,
        channel: &Channel,
    ) -> Result<Arc<dyn Sender>, String> {
        let key = (tenant.tenant.id.clone(), channel.name.clone());
        {
            let caches = self.caches.lock().expect("cache lock");
            if let Some((at, loaded, s)) = caches.senders.get(&key)
                && *at == channel.updated_at
                && loaded.elapsed() < self.config.cache_ttl
            {
                return Ok(s.clone());
            }
        }
        let sender = self.senders.sender(&tenant.tenant, channel).await?;
        self.caches
            .lock()
            .expect("cache lock")
            .senders
            .insert(key, (channel.updated_at, Instant::now(), sender.clone()));
        Ok(sender)
    }

    /// The rate limiter of a channel at `rate` recipients per second.
    fn limiter(&self, tenant: &str, channel: &str, rate: u32) -> Arc<DefaultDirectRateLimiter> {
        let mut caches = self.caches.lock().expect("cache lock");
        let key = (tenant.to_string(), channel.to_string());
        match caches.limiters.get(&key) {
            Some((r, l)) if *r == rate => l.clone(),
            _ => {
                let per_second = NonZeroU32::new(rate.max(1)).expect("at least 1");
                let l = Arc::new(RateLimiter::direct(Quota::per_second(per_second)));
                caches.limiters.insert(key, (rate, l.clone()));
                l
            }
        }
    }

    /// A retry of `d` (or its expiry or death).
    fn retry(
        &self,
        d: &ClaimedDelivery,
        now: i64,
        error: String,
        after: Option<Duration>,
        keep_batch: bool,
    ) -> Completion {
        self.retry_with(d, now, error, after, keep_batch, None)
    }

    fn retry_with(
        &self,
        d: &ClaimedDelivery,
        now: i64,
        error: String,
        after: Option<Duration>,
        keep_batch: bool,
        plugin_version: Option<String>,
    ) -> Completion {
        if d.attempts >= self.config.max_attempts {
            return Completion::Dead {
                error: format!(
                    "{error} (attempt {} of {})",
                    d.attempts, self.config.max_attempts
                ),
                plugin_version,
            };
        }
        let delay = after.unwrap_or_else(|| {
            let exp = 2u32.saturating_pow(d.attempts.saturating_sub(1).min(20));
            let full = self
                .config
                .backoff_base
                .saturating_mul(exp)
                .min(self.config.backoff_cap);
            // Full jitter over the upper half: spreads a wave of retries.
            let ms = full.as_millis() as u64;
            Duration::from_millis(rand::rng().random_range(ms / 2..=ms.max(1)))
        });
        let at = now + delay.as_millis() as i64;
        if at > d.expires_at {
            return Completion::Expired {
                error: Some(format!(
                    "{error}; the next attempt would be after the lateness window"
                )),
            };
        }
        Completion::Retry {
            at,
            error,
            plugin_version,
            keep_batch,
        }
    }

    /// Sends one call's chunks (one channel) and maps their outcomes to
    /// completions.
    async fn send(&self, groups: Vec<Group>, sender: Arc<dyn Sender>) -> Vec<Complete> {
        let limits = sender.limits();
        let version = sender.version();
        let mut out = Vec::new();
        let mut ready: Vec<Group> = Vec::with_capacity(groups.len());
        for group in groups {
            if let Some(group) = self.admit(group, &limits, &mut out).await {
                ready.push(group);
            }
        }
        let Some(first) = ready.first() else {
            return out;
        };
        let plugin_id = first.channel.plugin_id.clone();
        // An email channel's recipients get their stop links, decided once
        // per call (a call is one channel's): no work at all elsewhere.
        let stops = self
            .stop_links
            .as_ref()
            .filter(|links| links.applies_to(&first.channel))
            .and_then(|links| links.for_channel(&first.channel, self.clock.now()));
        let batches: Vec<Batch> = ready
            .iter()
            .map(|g| Batch {
                message_id: g.message_id.clone(),
                content: g.content.clone(),
                recipients: g
                    .rows
                    .iter()
                    .map(|d| {
                        crate::unsubscribe::recipient(
                            stops.as_ref(),
                            d.address.clone().unwrap_or_default(),
                            d.key.clone(),
                        )
                    })
                    .collect(),
            })
            .collect();
        let started = Instant::now();
        let result = sender.deliver(&batches).await;
        metrics::histogram!("tayori_plugin_call_seconds", "plugin" => plugin_id.clone())
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("tayori_plugin_calls_total", "plugin" => plugin_id).increment(1);
        let now = self.clock.now_ms();
        match result {
            Err(SendError(e)) => {
                for group in &ready {
                    let several = group.rows.len() > 1;
                    for d in &group.rows {
                        // The batch may or may not have gone out: keep it whole.
                        let c = self.retry_with(
                            d,
                            now,
                            e.clone(),
                            None,
                            several,
                            Some(version.clone()),
                        );
                        out.push(Complete {
                            id: d.id,
                            fence: d.fence,
                            completion: c,
                        });
                    }
                }
            }
            Ok(outcomes) => {
                let by_key: HashMap<&str, &Outcome> = outcomes
                    .iter()
                    .map(|o| (o.idempotency_key.as_str(), o))
                    .collect();
                for group in &ready {
                    self.record_outcomes(group, &by_key, &version, now, &mut out);
                }
            }
        }
        out
    }

    /// Holds a chunk to its channel's quotas, rate windows and rate: the
    /// rows that may go now, or `None` when none may (the rest are put
    /// into `out`, deferred or expired).
    async fn admit(
        &self,
        group: Group,
        limits: &SendLimits,
        out: &mut Vec<Complete>,
    ) -> Option<Group> {
        let tenant_id = group.tenant.tenant.id.clone();
        let channel = group.channel.name.clone();
        let mut rows = group.rows;
        // Quotas and rate windows, counted in the store across nodes.
        if !limits.windows.is_empty() {
            let now = self.clock.now_ms();
            let align = local_midnight_offset(group.tenant.tz, now);
            let n = u32::try_from(rows.len()).unwrap_or(u32::MAX);
            match self
                .store
                .reserve_sends(&tenant_id, &channel, &limits.windows, align, n, now)
                .await
            {
                Ok((granted, until)) => {
                    if (granted as usize) < rows.len() {
                        // A batch that may have gone out before goes out
                        // whole or not at all: a part of it would go under
                        // another retry key. (The part of the quota granted
                        // to it stays unused in this window.)
                        let now_sent = if group.resent { 0 } else { granted as usize };
                        let at = until.unwrap_or(now + 60_000);
                        for d in rows.drain(now_sent..) {
                            let completion = if at > d.expires_at {
                                Completion::Expired {
                                    error: Some("the channel's quota ran out".into()),
                                }
                            } else {
                                Completion::Defer {
                                    at,
                                    reason: Some(format!(
                                        "the channel's quota ran out until {}",
                                        tayori_core::from_millis(at).to_rfc3339()
                                    )),
                                }
                            };
                            out.push(Complete {
                                id: d.id,
                                fence: d.fence,
                                completion,
                            });
                        }
                        metrics::counter!("tayori_quota_exhausted_total", "tenant" => tenant_id.clone(), "channel" => channel.clone()).increment(1);
                        // The part that goes now is recorded as a batch of
                        // its own first; the deferred rest keeps the batch.
                        if let Some(batch) = &group.kept_batch
                            && !rows.is_empty()
                        {
                            let part = crate::keys::batch_part(batch, rows.len());
                            let ids: Vec<(i64, i64, String)> =
                                rows.iter().map(|d| (d.id, d.fence, part.clone())).collect();
                            let recorded = self.store.assign_batches(&ids).await;
                            if !recorded.is_ok_and(|a| a.len() == ids.len()) {
                                // Not sure what is recorded: send nothing now.
                                let now = self.clock.now_ms();
                                for d in rows.drain(..) {
                                    let c = self.retry(
                                        &d,
                                        now,
                                        "cannot record the batch before sending it".into(),
                                        None,
                                        false,
                                    );
                                    out.push(Complete {
                                        id: d.id,
                                        fence: d.fence,
                                        completion: c,
                                    });
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    let now = self.clock.now_ms();
                    for d in rows.drain(..) {
                        let c = self.retry(
                            &d,
                            now,
                            format!("cannot count the quota: {e}"),
                            None,
                            group.kept_batch.is_some(),
                        );
                        out.push(Complete {
                            id: d.id,
                            fence: d.fence,
                            completion: c,
                        });
                    }
                }
            }
            if rows.is_empty() {
                return None;
            }
        }
        // The channel's rate: wait a little, or put the batch back for later.
        let limiter = self.limiter(&tenant_id, &channel, limits.rate_per_second);
        let n = NonZeroU32::new(u32::try_from(rows.len()).unwrap_or(u32::MAX)).expect("non-empty");
        let deadline = Instant::now() + self.config.max_rate_wait;
        loop {
            match limiter.check_n(n) {
                Ok(Ok(())) => break,
                Ok(Err(not_until)) => {
                    let wait = not_until.wait_time_from(governor::clock::Clock::now(
                        &governor::clock::DefaultClock::default(),
                    ));
                    if Instant::now() + wait > deadline {
                        let at = self.clock.now_ms() + wait.as_millis().max(1_000) as i64;
                        for d in rows.drain(..) {
                            out.push(Complete {
                                id: d.id,
                                fence: d.fence,
                                completion: Completion::Defer {
                                    at,
                                    reason: Some("the channel's rate limit".into()),
                                },
                            });
                        }
                        return None;
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(_) => break, // larger than the burst: chunks are cut to fit
            }
        }
        Some(Group { rows, ..group })
    }

    /// Maps a sent chunk's outcomes to completions.
    fn record_outcomes(
        &self,
        group: &Group,
        by_key: &HashMap<&str, &Outcome>,
        version: &str,
        now: i64,
        out: &mut Vec<Complete>,
    ) {
        let rows = &group.rows;
        let version = version.to_string();
        let several = rows.len() > 1;
        {
            {
                // A batch whose every recipient is to be retried alike may
                // have been half-accepted: it is sent again whole.
                let all_retry = rows
                    .iter()
                    .filter_map(|d| by_key.get(d.key.as_str()))
                    .all(|o| {
                    matches!(
                        &o.status,
                        tayori_core::DeliveryStatus::Failed(f)
                            if matches!(f.kind, FailureKind::Transient | FailureKind::RetryAfter(_))
                    )
                });
                for d in rows {
                    let completion = match by_key.get(d.key.as_str()).map(|o| &o.status) {
                        None => self.retry_with(
                            d,
                            now,
                            "the plugin gave no outcome for this recipient".into(),
                            None,
                            false,
                            Some(version.clone()),
                        ),
                        Some(tayori_core::DeliveryStatus::Accepted(receipt)) => Completion::Sent {
                            receipt: receipt.clone(),
                            plugin_version: version.clone(),
                        },
                        Some(tayori_core::DeliveryStatus::Failed(f)) => match f.kind {
                            FailureKind::RetryAfter(s) => self.retry_with(
                                d,
                                now,
                                f.message.clone(),
                                Some(Duration::from_secs(u64::from(s.max(1)))),
                                several && all_retry,
                                Some(version.clone()),
                            ),
                            FailureKind::Transient => self.retry_with(
                                d,
                                now,
                                f.message.clone(),
                                None,
                                several && all_retry,
                                Some(version.clone()),
                            ),
                            FailureKind::Permanent => Completion::Failed {
                                error: f.message.clone(),
                                plugin_version: Some(version.clone()),
                            },
                            FailureKind::RecipientGone => Completion::RecipientGone {
                                error: f.message.clone(),
                                plugin_version: Some(version.clone()),
                            },
                            FailureKind::Unauthorized => Completion::Unauthorized {
                                error: f.message.clone(),
                                config_at: group.channel.updated_at,
                            },
                        },
                    };
                    out.push(Complete {
                        id: d.id,
                        fence: d.fence,
                        completion,
                    });
                }
            }
        }
    }
}

/// Packs chunks into calls: the chunks of one channel (one sender) go
/// together, in claim order, up to the sender's batches and recipients per
/// call.
fn calls(chunks: Vec<(Group, Arc<dyn Sender>)>) -> Vec<(Vec<Group>, Arc<dyn Sender>)> {
    let mut calls: Vec<(Vec<Group>, Arc<dyn Sender>, usize)> = Vec::new();
    let mut open: HashMap<(String, String), usize> = HashMap::new();
    for (group, sender) in chunks {
        let limits = sender.limits();
        let key = (group.tenant.tenant.id.clone(), group.channel.name.clone());
        let n = group.rows.len();
        if let Some(&i) = open.get(&key) {
            let (groups, _, recipients) = &mut calls[i];
            if groups.len() < limits.max_batches_per_call.max(1)
                && *recipients + n <= limits.max_recipients_per_call.max(1)
            {
                groups.push(group);
                *recipients += n;
                continue;
            }
        }
        open.insert(key, calls.len());
        calls.push((vec![group], sender, n));
    }
    calls.into_iter().map(|(g, s, _)| (g, s)).collect()
}

/// Milliseconds of the tenant's local midnight (any day) since the epoch,
/// for aligning daily windows to the tenant's day.
pub fn local_midnight_offset(tz: Tz, now: i64) -> i64 {
    let offset = tz
        .offset_from_utc_datetime(&tayori_core::from_millis(now).naive_utc())
        .fix()
        .local_minus_utc();
    -i64::from(offset) * 1000
}
