//! Tayori's delivery pipeline (DESIGN.md, "Delivery pipeline"): the planner
//! materialises each tenant's due deliveries into the outbox, the dispatcher
//! claims and sends them through the plugins, broadcasts join the same
//! outbox, and previews show what a schedule would send.
//!
//! [`Scheduler`] runs both loops inside `tayori serve`; tests drive the same
//! parts by hand with a [`clock::ManualClock`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tayori_core::{Broadcast, Planned, Store, StoreError};

pub mod broadcast;
pub mod clock;
pub mod dispatch;
pub mod keys;
pub mod lease;
pub mod messenger;
pub mod plan;
pub mod preview;
pub mod render;
pub mod senders;
pub mod unsubscribe;

pub use broadcast::{Audience, MonthRange, Reach};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dispatch::{
    DispatchConfig, Dispatched, Dispatcher, SendError, SendLimits, Sender, Senders,
};
pub use messenger::PluginMessenger;
pub use plan::Planner;
pub use senders::{ConfigDecryptor, PluginSenders, send_windows};
pub use unsubscribe::StopLinks;

/// The scheduler's settings.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How often the planner looks at every tenant.
    pub plan_every: Duration,
    /// The least time between two passes woken by changes. Changes arriving
    /// meanwhile (a burst of registrations: hundreds a second) are planned
    /// together in the next pass, which plans only the tenants they touched.
    pub plan_coalesce: Duration,
    /// How often the outbox gauges are refreshed.
    pub stats_every: Duration,
    pub dispatch: DispatchConfig,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            plan_every: Duration::from_secs(30),
            plan_coalesce: Duration::from_secs(1),
            stats_every: Duration::from_secs(10),
            dispatch: DispatchConfig::default(),
        }
    }
}

/// A broadcast request, validated.
#[derive(Debug, Clone)]
pub struct NewBroadcast {
    pub subject: Option<String>,
    pub body: String,
    pub audience: Audience,
    /// The audience as given, kept with the broadcast.
    pub audience_json: serde_json::Value,
    /// `None`: now.
    pub send_at: Option<DateTime<Utc>>,
}

/// The planner and the dispatcher of one node.
pub struct Scheduler {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    planner: Planner,
    dispatcher: Arc<Dispatcher>,
    config: SchedulerConfig,
    plan_wake: tokio::sync::Notify,
    /// What changed since the last pass began.
    dirty: std::sync::Mutex<Dirty>,
}

/// The tenants whose plan may be behind their data.
#[derive(Debug, Default)]
struct Dirty {
    all: bool,
    tenants: std::collections::BTreeSet<String>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Stops the scheduler's loops when dropped or asked.
#[derive(Debug)]
pub struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops the loops and waits for them (in-flight batches finish first).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Scheduler {
    pub fn new(
        store: Arc<dyn Store>,
        senders: Arc<dyn Senders>,
        clock: Arc<dyn Clock>,
        config: SchedulerConfig,
    ) -> Arc<Self> {
        Self::with_stop_links(store, senders, clock, config, None)
    }

    /// [`Scheduler::new`] whose dispatcher gives every email recipient
    /// Tayori's own one-click stop link when `stop_links` is given (as
    /// `tayori serve` does).
    pub fn with_stop_links(
        store: Arc<dyn Store>,
        senders: Arc<dyn Senders>,
        clock: Arc<dyn Clock>,
        config: SchedulerConfig,
        stop_links: Option<StopLinks>,
    ) -> Arc<Self> {
        let dispatcher = Dispatcher::new(
            store.clone(),
            senders,
            clock.clone(),
            config.dispatch.clone(),
        );
        let dispatcher = match stop_links {
            Some(links) => dispatcher.with_stop_links(links),
            None => dispatcher,
        };
        Arc::new(Self {
            planner: Planner::new(store.clone(), clock.clone()),
            dispatcher: Arc::new(dispatcher),
            store,
            clock,
            config,
            plan_wake: tokio::sync::Notify::new(),
            dirty: Default::default(),
        })
    }

    pub fn planner(&self) -> &Planner {
        &self.planner
    }

    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// A tenant's settings or channels changed (`None`: some tenant's, or
    /// several): plan soon, and forget the cached settings.
    pub fn changed(&self, tenant_id: Option<&str>) {
        match tenant_id {
            Some(t) => self.dispatcher.invalidate(t),
            None => self.dispatcher.invalidate_all(),
        }
        self.mark(tenant_id);
    }

    /// A tenant's subscribers changed (registered, updated, a child added or
    /// born, an import): plan their changes soon.
    pub fn subscribers_changed(&self, tenant_id: &str) {
        self.mark(Some(tenant_id));
    }

    /// The catalog changed: every tenant's cached messages are stale.
    pub fn changed_all(&self) {
        self.dispatcher.invalidate_all();
        self.mark(None);
    }

    fn mark(&self, tenant_id: Option<&str>) {
        {
            let mut dirty = self.dirty.lock().unwrap_or_else(|e| e.into_inner());
            match tenant_id {
                Some(t) if !dirty.all => {
                    dirty.tenants.insert(t.to_string());
                }
                Some(_) => {}
                None => dirty.all = true,
            }
        }
        self.plan_wake.notify_one();
    }

    /// What changed since the last call: `None` for every tenant.
    fn take_dirty(&self) -> Option<Vec<String>> {
        let mut dirty = self.dirty.lock().unwrap_or_else(|e| e.into_inner());
        let taken = std::mem::take(&mut *dirty);
        (!taken.all).then(|| taken.tenants.into_iter().collect())
    }

    /// Starts the planner, the dispatcher and the outbox gauges.
    pub fn start(self: &Arc<Self>) -> Running {
        let (stop, rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        let me = self.clone();
        let mut stop_plan = rx.clone();
        tasks.push(tokio::spawn(async move {
            // The first pass plans every tenant.
            let mut only: Option<Vec<String>> = None;
            loop {
                let started = tokio::time::Instant::now();
                let pass = match &only {
                    None => me.planner.run_once().await,
                    Some(tenants) => me.planner.run_tenants(tenants).await,
                };
                tracing::debug!(
                    tenants = only.as_ref().map(Vec::len),
                    outcome = ?pass,
                    elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "planning pass"
                );
                match pass {
                    Ok(p) if p.inserted > 0 => me.dispatcher.wake(),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "planning pass failed"),
                }
                let woken = tokio::select! {
                    () = tokio::time::sleep(me.config.plan_every) => false,
                    () = me.plan_wake.notified() => true,
                    _ = stop_plan.changed() => break,
                };
                if woken {
                    // Let a burst of changes gather.
                    tokio::select! {
                        () = tokio::time::sleep_until(started + me.config.plan_coalesce) => {}
                        _ = stop_plan.changed() => break,
                    }
                }
                if *stop_plan.borrow() {
                    break;
                }
                // A periodic pass looks at every tenant (changes made
                // through other nodes are seen there).
                let dirty = me.take_dirty();
                only = if woken { dirty } else { None };
            }
        }));
        tasks.push(tokio::spawn(self.dispatcher.clone().run(rx.clone())));
        let me = self.clone();
        let mut stop_stats = rx;
        tasks.push(tokio::spawn(async move {
            loop {
                let now = me.clock.now_ms();
                if let Ok(s) = me.store.outbox_stats(now).await {
                    metrics::gauge!("tayori_outbox_pending").set(s.pending as f64);
                    metrics::gauge!("tayori_outbox_in_flight").set(s.in_flight as f64);
                    metrics::gauge!("tayori_outbox_due").set(s.due as f64);
                    metrics::gauge!("tayori_outbox_oldest_due_age_seconds").set(
                        s.oldest_due_at
                            .map_or(0.0, |at| ((now - at).max(0) as f64) / 1000.0),
                    );
                }
                tokio::select! {
                    () = tokio::time::sleep(me.config.stats_every) => {}
                    _ = stop_stats.changed() => break,
                }
                if *stop_stats.borrow() {
                    break;
                }
            }
        }));
        Running { stop, tasks }
    }

    /// Creates a broadcast and its deliveries, and wakes the dispatcher.
    pub async fn broadcast(
        &self,
        tenant_id: &str,
        request: NewBroadcast,
    ) -> Result<(Broadcast, Planned), StoreError> {
        let tenant = self.store.tenant(tenant_id).await?;
        let now = self.clock.now();
        let send_at = request.send_at.unwrap_or(now).max(now);
        let b = Broadcast {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.id.clone(),
            subject: request.subject,
            body: request.body,
            audience: request.audience_json,
            send_at,
            deliveries: 0,
            created_at: now,
        };
        let members = self.store.audience(&tenant.id).await?;
        let rows = broadcast::deliveries(
            &tenant,
            &b,
            &request.audience,
            &members,
            broadcast::send_day(&tenant, send_at),
        );
        let planned = self.store.create_broadcast(&b, &rows).await?;
        let b = Broadcast {
            deliveries: planned.inserted,
            ..b
        };
        self.dispatcher.wake();
        Ok((b, planned))
    }

    /// Who a broadcast to `audience` at `send_at` (`None`: now) would
    /// reach, with up to `sample` households: the same matching as
    /// [`broadcast`](Self::broadcast), creating nothing.
    pub async fn reach(
        &self,
        tenant_id: &str,
        audience: &Audience,
        send_at: Option<DateTime<Utc>>,
        sample: usize,
    ) -> Result<Reach, StoreError> {
        let tenant = self.store.tenant(tenant_id).await?;
        let now = self.clock.now();
        let send_at = send_at.unwrap_or(now).max(now);
        let members = self.store.audience(&tenant.id).await?;
        Ok(broadcast::reach(
            audience,
            &members,
            broadcast::send_day(&tenant, send_at),
            sample,
        ))
    }

    /// What the schedule would send (see [`preview`]).
    pub async fn preview(
        &self,
        tenant_id: &str,
        subscriber_id: Option<&str>,
        from: NaiveDate,
        days: u32,
    ) -> Result<Vec<preview::PreviewItem>, StoreError> {
        preview::preview(
            &*self.store,
            self.clock.now(),
            tenant_id,
            subscriber_id,
            from,
            days,
        )
        .await
    }
}
