//! The storage traits. `tayori-store` implements them on SQLite and
//! PostgreSQL; nothing above it sees a SQL dialect.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::conversation::{ChatTexts, Conversation, FrontDoorKind};
use crate::domain::{
    ApiToken, AudienceMember, Broadcast, CatalogImported, CatalogMessage, Channel,
    ChannelSetupOutcome, ChannelSpec, Child, ClaimedDelivery, Complete, Contact, ContactStatus,
    Delivery, DeliveryFilter, ImportRefusal, ImportRow, ImportSummary, InboundRecord,
    InboundRecorded, InsertTarget, LocalInsert, NewApiToken, NewChild, NewDelivery, NewSubscriber,
    NewTenant, OutboxStats, Page, PageRequest, PlanSource, PlanState, Program, ProgramImport,
    PutChannel, Subscriber, SubscriberCounts, SubscriberPatch, Tenant, TenantMessage, TenantPatch,
};
use crate::plugin::{InboundEvent, Manifest};

/// A store failure, in terms callers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    /// The database failed. The text is for logs, never for API answers.
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A published plugin version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginVersionRecord {
    pub plugin_id: String,
    pub version: semver::Version,
    /// SHA-256 of the component bytes, lower-case hex.
    pub digest: String,
    /// The WIT contract version the component was built against (`0.1.0`).
    pub contract: String,
    pub size: u64,
    pub manifest: Manifest,
    pub published_at: DateTime<Utc>,
}

/// What inserting a plugin version did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertVersion {
    /// A new version.
    Inserted,
    /// The same version with the same bytes was already there: nothing changed.
    AlreadyPresent,
    /// The version exists with other bytes (its digest is given): refused.
    DifferentBytes(String),
}

/// Where an activation applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scope", content = "tenant")]
pub enum ActivationScope {
    /// Every tenant without a tenant-specific activation.
    All,
    /// One tenant (a canary).
    Tenant(String),
}

/// One row of a plugin's activation history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activation {
    pub id: i64,
    pub plugin_id: String,
    pub version: semver::Version,
    pub scope: ActivationScope,
    pub activated_at: DateTime<Utc>,
}

/// Deliveries of one plugin version with one outcome (a status), counted:
/// what the operator's error rate per version reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginOutcome {
    /// The plugin of the delivery's channel.
    pub plugin_id: String,
    /// The version that made the last attempt.
    pub version: String,
    /// The delivery's status now (`sent`, `failed`, `dead`, or `pending`
    /// while a retry waits).
    pub status: crate::domain::OutboxStatus,
    pub count: u64,
}

/// Plugin versions, their bytes and compiled artifacts, and which version is
/// active where.
#[async_trait::async_trait]
pub trait PluginStore: Send + Sync {
    /// Stores a version and its component bytes, atomically.
    async fn insert_plugin_version(
        &self,
        record: &PluginVersionRecord,
        bytes: &[u8],
    ) -> StoreResult<InsertVersion>;
    /// Every published version, oldest first.
    async fn plugin_versions(&self) -> StoreResult<Vec<PluginVersionRecord>>;
    /// A version's component bytes.
    async fn plugin_bytes(&self, digest: &str) -> StoreResult<Option<Vec<u8>>>;
    /// A compiled artifact for the given component digest and engine key.
    async fn plugin_artifact(&self, digest: &str, engine_key: &str)
    -> StoreResult<Option<Vec<u8>>>;
    /// Stores a compiled artifact (idempotent).
    async fn put_plugin_artifact(
        &self,
        digest: &str,
        engine_key: &str,
        artifact: &[u8],
    ) -> StoreResult<()>;
    /// Makes `version` the active version of `plugin_id` for `scope`.
    async fn activate_plugin(
        &self,
        plugin_id: &str,
        version: &semver::Version,
        scope: &ActivationScope,
    ) -> StoreResult<Activation>;
    /// Undoes the latest activation of `plugin_id` for `scope`; returns the
    /// activation now in force for that scope, if any. `NotFound` when there
    /// is nothing to roll back.
    async fn rollback_plugin(
        &self,
        plugin_id: &str,
        scope: &ActivationScope,
    ) -> StoreResult<Option<Activation>>;
    /// The activations in force: per plugin and scope, the latest one not rolled back.
    async fn active_plugins(&self) -> StoreResult<Vec<Activation>>;
    /// A value that changes whenever a version is published, activated or
    /// rolled back (by any node).
    async fn plugin_generation(&self) -> StoreResult<String>;
    /// Returns when another node may have changed plugins, or after
    /// `max_wait` at the latest (PostgreSQL announces changes with
    /// LISTEN/NOTIFY; SQLite has one node and simply waits).
    async fn wait_plugin_change(&self, max_wait: std::time::Duration);
    /// Deliveries attempted by a plugin version whose row changed at or
    /// after `since` (their last attempt), by plugin, version and status;
    /// only `plugin_id`'s when given. The plugin is the one of the
    /// delivery's channel now. Ordered by plugin, version and status.
    async fn plugin_outcomes(
        &self,
        plugin_id: Option<&str>,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<PluginOutcome>>;
    /// How many channels (of every tenant) use each plugin, by plugin id.
    async fn plugin_channel_counts(&self) -> StoreResult<Vec<(String, u64)>>;
}

/// Tenants (municipalities) and their settings.
#[async_trait::async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates a tenant. `Conflict` when the id is taken.
    async fn create_tenant(&self, tenant: &NewTenant) -> StoreResult<Tenant>;
    /// One tenant. `NotFound` when there is none.
    async fn tenant(&self, id: &str) -> StoreResult<Tenant>;
    /// Every tenant, by id.
    async fn tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// Changes a tenant's settings and returns it as stored.
    async fn update_tenant(&self, id: &str, patch: &TenantPatch) -> StoreResult<Tenant>;
    /// Deletes a tenant with its channels, catalog additions, tokens and the
    /// anonymous rows of erased subscribers. `Conflict` while it still has
    /// subscribers that are not erased: their data is never dropped as a side
    /// effect.
    async fn delete_tenant(&self, id: &str) -> StoreResult<()>;
}

/// A tenant's channels. Every method is scoped by the tenant.
#[async_trait::async_trait]
pub trait ChannelStore: Send + Sync {
    /// Creates or replaces a channel; a put clears any pause.
    /// `NotFound` when the tenant does not exist.
    async fn put_channel(&self, tenant_id: &str, spec: &ChannelSpec) -> StoreResult<PutChannel>;
    /// One channel of the tenant. `NotFound` when there is none.
    async fn channel(&self, tenant_id: &str, name: &str) -> StoreResult<Channel>;
    /// The tenant's channels, by name.
    async fn channels(&self, tenant_id: &str) -> StoreResult<Vec<Channel>>;
    /// Deletes a channel. Contacts naming it stay (a channel put again under
    /// the same name reaches them). `NotFound` when there is none.
    async fn delete_channel(&self, tenant_id: &str, name: &str) -> StoreResult<()>;
    /// Pauses a channel with a reason (`Some`) or resumes it (`None`).
    async fn set_channel_pause(
        &self,
        tenant_id: &str,
        name: &str,
        reason: Option<&str>,
    ) -> StoreResult<Channel>;
    /// Keeps what the plugin's set-up did for the channel as it was put at
    /// `put_at` (its `updated_at`); `Ok(false)`, keeping nothing, when the
    /// channel was put again since (that put's own set-up is the one to
    /// show) or is gone.
    async fn set_channel_setup(
        &self,
        tenant_id: &str,
        name: &str,
        put_at: DateTime<Utc>,
        outcome: &ChannelSetupOutcome,
    ) -> StoreResult<bool>;
}

/// A tenant's subscribers, their contacts and children. Every method is
/// scoped by the tenant: a subscriber of another tenant is `NotFound`.
#[async_trait::async_trait]
pub trait SubscriberStore: Send + Sync {
    /// Creates a subscriber with its contacts and children, in one
    /// transaction. `Conflict` when its external id, or a contact's channel
    /// and address, is already registered in the tenant; `Invalid` when a child
    /// has no date.
    async fn create_subscriber(
        &self,
        tenant_id: &str,
        subscriber: &NewSubscriber,
    ) -> StoreResult<Subscriber>;
    /// One subscriber.
    async fn subscriber(&self, tenant_id: &str, id: &str) -> StoreResult<Subscriber>;
    /// A page of the tenant's subscribers, in id order (creation order).
    async fn subscribers(
        &self,
        tenant_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Subscriber>>;
    /// The subscriber a channel address belongs to (for inbound events).
    async fn subscriber_by_contact(
        &self,
        tenant_id: &str,
        channel: &str,
        address: &str,
    ) -> StoreResult<Option<Subscriber>>;
    /// Changes a subscriber's locale or contacts. `Conflict` when it is erased
    /// or a new contact belongs to another subscriber.
    async fn update_subscriber(
        &self,
        tenant_id: &str,
        id: &str,
        patch: &SubscriberPatch,
    ) -> StoreResult<Subscriber>;
    /// Adds a child (a new pregnancy or a sibling); the subscriber becomes
    /// active again if it was stopped. `Conflict` when it is erased.
    async fn add_child(
        &self,
        tenant_id: &str,
        subscriber_id: &str,
        child: &NewChild,
    ) -> StoreResult<Child>;
    /// Records a birth: the birth date becomes the child's anchor. Reporting
    /// again corrects the date. `Conflict` when the child is stopped.
    async fn report_birth(
        &self,
        tenant_id: &str,
        subscriber_id: &str,
        child_id: &str,
        birth_date: chrono::NaiveDate,
    ) -> StoreResult<Child>;
    /// Stops a child (including pregnancy loss) and, once the outbox exists,
    /// cancels its pending deliveries in the same transaction. The subscriber
    /// becomes stopped when no child is left to send for. Stopping a stopped
    /// child changes nothing.
    async fn stop_child(
        &self,
        tenant_id: &str,
        subscriber_id: &str,
        child_id: &str,
        reason: &str,
    ) -> StoreResult<Child>;
    /// Stops every child and the subscriber ("stop at once when asked").
    async fn stop_subscriber(
        &self,
        tenant_id: &str,
        id: &str,
        reason: &str,
    ) -> StoreResult<Subscriber>;
    /// Marks a contact valid or invalid (a platform said the recipient is gone).
    async fn set_contact_status(
        &self,
        tenant_id: &str,
        contact_id: &str,
        status: ContactStatus,
    ) -> StoreResult<Contact>;
    /// Removes a subscriber's personal data (addresses, dates, stop reasons,
    /// external id) and keeps an anonymous row so counts survive. Erasing an
    /// erased subscriber changes nothing.
    async fn erase_subscriber(&self, tenant_id: &str, id: &str) -> StoreResult<()>;
    /// Creates or updates subscribers by external id (see [`ImportRow`]), all
    /// or nothing, in one transaction. A bad row is `Invalid` with a `field`
    /// that starts with its index: `rows[17].contacts[0].address`.
    async fn import_subscribers(
        &self,
        tenant_id: &str,
        rows: &[ImportRow],
    ) -> StoreResult<ImportSummary>;
    /// Every refusal [`import_subscribers`](Self::import_subscribers) would
    /// meet in what is stored, for all the rows at once (it stops at the
    /// first): each address of a row that a subscriber other than the row's
    /// own already has. Reads only. `rows` must be a valid file (ids unique,
    /// no address twice); rows may lack contacts or children, so that a file
    /// with other bad lines can still be checked.
    async fn import_refusals(
        &self,
        tenant_id: &str,
        rows: &[ImportRow],
    ) -> StoreResult<Vec<ImportRefusal>>;
    /// The tenant's subscribers by status.
    async fn subscriber_counts(&self, tenant_id: &str) -> StoreResult<SubscriberCounts>;
}

/// The message catalog, and each tenant's local inserts and extra messages.
#[async_trait::async_trait]
pub trait CatalogStore: Send + Sync {
    /// Replaces each given program and all of its messages, all or nothing.
    /// `Conflict` when a message id belongs to another program or is a
    /// tenant's extra message; `Invalid` when a message names another
    /// program than the one it is imported in, or an id repeats.
    async fn import_catalog(&self, programs: &[ProgramImport]) -> StoreResult<CatalogImported>;
    /// Every program, by id.
    async fn programs(&self) -> StoreResult<Vec<Program>>;
    /// The messages of one program, or of all (`None`), in catalog order.
    async fn catalog_messages(&self, program_id: Option<&str>) -> StoreResult<Vec<CatalogMessage>>;
    /// Deletes a program and its messages.
    async fn delete_program(&self, id: &str) -> StoreResult<()>;
    /// Creates or replaces a tenant's local insert for its target.
    async fn put_local_insert(&self, tenant_id: &str, insert: &LocalInsert) -> StoreResult<()>;
    /// The tenant's local inserts, by target.
    async fn local_inserts(&self, tenant_id: &str) -> StoreResult<Vec<LocalInsert>>;
    /// Deletes a tenant's local insert.
    async fn delete_local_insert(&self, tenant_id: &str, target: &InsertTarget) -> StoreResult<()>;
    /// Creates or replaces a tenant's extra message. `Conflict` when its id is
    /// a catalog message's.
    async fn put_tenant_message(&self, tenant_id: &str, message: &TenantMessage)
    -> StoreResult<()>;
    /// The tenant's extra messages, by id.
    async fn tenant_messages(&self, tenant_id: &str) -> StoreResult<Vec<TenantMessage>>;
    /// Deletes a tenant's extra message.
    async fn delete_tenant_message(&self, tenant_id: &str, id: &str) -> StoreResult<()>;
}

/// API tokens, stored hashed.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new token and gives it an id. `Invalid` when the role and
    /// tenant or plugins disagree; `NotFound` when the tenant does not exist;
    /// `Conflict` when the hash is already stored.
    async fn insert_token(&self, token: &NewApiToken) -> StoreResult<ApiToken>;
    /// The unrevoked token with this hash.
    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>>;
    /// Revokes a token (revoking twice keeps the first time).
    async fn revoke_token(&self, id: &str) -> StoreResult<ApiToken>;
    /// Tokens, revoked ones included, oldest first; only one tenant's admin
    /// tokens when `tenant_id` is given.
    async fn tokens(&self, tenant_id: Option<&str>) -> StoreResult<Vec<ApiToken>>;
}

/// How many deliveries a plan or a broadcast wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    /// New rows (pending or held).
    pub inserted: u64,
    /// New rows recorded as expired (a day caught up too late).
    pub expired: u64,
    /// Rows that were already there (planning again adds nothing).
    pub existing: u64,
}

/// What [`OutboxStore::complete`] recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completed {
    /// The rows whose completion was recorded.
    pub applied: Vec<i64>,
    /// Completions refused because another dispatcher re-claimed the row
    /// after this claim's lease ran out (its own completion counts).
    pub stale: u64,
}

impl Completed {
    /// (recorded, refused as stale).
    pub fn counts(&self) -> (u64, u64) {
        (self.applied.len() as u64, self.stale)
    }
}

/// What a dispatcher's claim took.
#[derive(Debug, Clone, Default)]
pub struct Claim {
    /// Rows now in flight under the claim's lease.
    pub deliveries: Vec<ClaimedDelivery>,
}

/// The delivery outbox: planning writes it, dispatchers claim and complete
/// it, the API reads it.
#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync {
    /// Where the planner stands for a tenant, if it ever planned it.
    async fn plan_state(&self, tenant_id: &str) -> StoreResult<Option<PlanState>>;
    /// A change number such that every subscriber change committed after
    /// this call is numbered above it. Every write to a subscriber row is
    /// numbered by the store, in the same transaction (a change to its
    /// contacts or children touches it). A planner reads the cursor before it reads
    /// subscribers, and next time reads the changes above it: it then sees
    /// every change exactly once, however long a transaction took to
    /// commit, and on PostgreSQL on however many nodes (there a change a
    /// pass already saw may be read once more; planning is idempotent).
    async fn change_cursor(&self) -> StoreResult<i64>;
    /// The tenant's living children with each valid contact of their active
    /// subscribers; only subscribers whose last change is numbered above
    /// `changed_after` when given (see
    /// [`change_cursor`](Self::change_cursor)). Ordered by subscriber.
    async fn plan_sources(
        &self,
        tenant_id: &str,
        changed_after: Option<i64>,
    ) -> StoreResult<Vec<PlanSource>>;
    /// [`plan_sources`](Self::plan_sources) of the children anchored on
    /// these dates only: born on one of `births`, or (no birth date yet) due
    /// on one of `due_dates`. The planner passes the anchors that have a
    /// message on the days it plans, so that a day reads the children with
    /// something due (about 4 in 10) instead of all of them.
    async fn plan_sources_anchored(
        &self,
        tenant_id: &str,
        births: &[NaiveDate],
        due_dates: &[NaiveDate],
    ) -> StoreResult<Vec<PlanSource>>;
    /// Writes a day's planned deliveries (rows already there are left as
    /// they are) and the planner's new state: in transactions of a bounded
    /// number of rows, the state with the last, so that a big day does not
    /// hold up other writes. A failure part way leaves the state as it was
    /// (the day is planned again; its rows are idempotent).
    async fn write_plan(
        &self,
        tenant_id: &str,
        rows: &[NewDelivery],
        state: &PlanState,
    ) -> StoreResult<Planned>;
    /// The valid contacts of the tenant's active subscribers, with their
    /// living children (for a broadcast's audience).
    async fn audience(&self, tenant_id: &str) -> StoreResult<Vec<AudienceMember>>;
    /// Stores a broadcast and its deliveries, atomically.
    async fn create_broadcast(
        &self,
        broadcast: &Broadcast,
        rows: &[NewDelivery],
    ) -> StoreResult<Planned>;
    /// A broadcast of the tenant.
    async fn broadcast(&self, tenant_id: &str, id: &str) -> StoreResult<Broadcast>;
    /// The tenant's latest broadcasts, newest first, at most `limit`.
    async fn broadcasts(&self, tenant_id: &str, limit: u32) -> StoreResult<Vec<Broadcast>>;
    /// A broadcast's deliveries by status: `(status, count)`, by status.
    /// `NotFound` when the tenant has no such broadcast.
    async fn broadcast_progress(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Vec<(String, u64)>>;
    /// Cancels a broadcast's open (pending or held) deliveries; answers
    /// how many. `NotFound` when the tenant has no such broadcast.
    async fn cancel_broadcast(&self, tenant_id: &str, id: &str) -> StoreResult<u64>;
    /// Claims up to `limit` pending deliveries due at `now`, oldest first,
    /// putting them in flight until `lease_until` with a new fencing token
    /// each; the other pending members of a claimed row's kept batch come
    /// with it.
    async fn claim(&self, now: i64, lease_until: i64, limit: u32) -> StoreResult<Claim>;
    /// Records the batches the claimed deliveries are about to be sent in
    /// (`(id, fence, batch)`), so that a crash before their completion sends
    /// the same batches again. Rows whose fence moved on are skipped; the
    /// answer lists the ids that were assigned (a batch with a skipped row
    /// belongs to another dispatcher now and must not be sent).
    async fn assign_batches(&self, rows: &[(i64, i64, String)]) -> StoreResult<Vec<i64>>;
    /// Records completions. A row whose claim was superseded (another
    /// dispatcher re-claimed it after its lease ran out) is left alone and
    /// counted as stale; the answer lists the rows recorded.
    async fn complete(&self, completions: &[Complete], now: i64) -> StoreResult<Completed>;
    /// Puts in-flight deliveries whose lease ran out before `now` back to
    /// pending (their dispatcher died); answers how many.
    async fn rescue_expired_leases(&self, now: i64) -> StoreResult<u64>;
    /// Extends the leases of claimed deliveries still in flight under
    /// these claims (`(id, fence)`) to `lease_until`: a dispatcher renews
    /// its claims while their call runs, so leases can be short and a dead
    /// node's claims are taken over soon. Answers how many were extended
    /// (a row re-claimed by another dispatcher is not).
    async fn renew_leases(&self, claims: &[(i64, i64)], lease_until: i64) -> StoreResult<u64>;
    /// Takes back, when the dispatcher starts, the claims a predecessor
    /// left in flight, if this store can know that no other dispatcher
    /// holds them: on SQLite (one host per file) every in-flight delivery
    /// goes back to pending at once, in its kept batch, so that it is sent
    /// again under the same key. On PostgreSQL other nodes may hold them:
    /// nothing changes, and a dead node's claims wait for their lease.
    /// Answers how many.
    async fn take_over_claims(&self, now: i64) -> StoreResult<u64>;
    /// The earliest `next_attempt_at` of a pending delivery, if any.
    async fn next_due(&self) -> StoreResult<Option<i64>>;
    /// A tenant's deliveries, newest first.
    async fn deliveries(
        &self,
        tenant_id: &str,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>>;
    /// Reserves up to `n` sends on a channel within each of its counting
    /// windows (`(window_seconds, max)`; windows start at multiples of their
    /// length from `align` ms, e.g. the tenant's local midnight for a daily
    /// quota); answers how many were granted and, when fewer than `n`, when
    /// the exhausted window ends (ms).
    async fn reserve_sends(
        &self,
        tenant_id: &str,
        channel: &str,
        windows: &[(u32, u32)],
        align: i64,
        n: u32,
        now: i64,
    ) -> StoreResult<(u32, Option<i64>)>;
    /// When a channel's exhausted window ends, if one is exhausted now.
    async fn quota_exhausted_until(
        &self,
        tenant_id: &str,
        channel: &str,
        windows: &[(u32, u32)],
        align: i64,
        now: i64,
    ) -> StoreResult<Option<i64>>;
    /// The outbox at a glance.
    async fn outbox_stats(&self, now: i64) -> StoreResult<OutboxStats>;
}

/// Inbound events from platforms' webhooks: kept once per platform event
/// id, and acted on in the same transaction (see [`crate::domain::inbound`]).
#[async_trait::async_trait]
pub trait InboundStore: Send + Sync {
    /// Records the events a channel's webhook carried, in their order, and
    /// does what each asks, all in one transaction: an unfollow marks the
    /// contact with that address on the channel invalid (cancelling its
    /// pending deliveries), and any other event is only kept (a follow of a
    /// stopped contact is answered by the conversation, which asks whether
    /// to resume). An event whose id the channel already
    /// recorded changes nothing and answers the first record with
    /// `duplicate`. An unfollow older than one already recorded for
    /// the same address is kept as superseded. `NotFound` when the tenant
    /// does not exist; `Invalid` when an event's id or address is empty or
    /// a field exceeds its limit (nothing is recorded then).
    async fn record_inbound(
        &self,
        tenant_id: &str,
        channel: &str,
        events: &[InboundEvent],
        received_at: DateTime<Utc>,
    ) -> StoreResult<Vec<InboundRecorded>>;
    /// A page of the tenant's inbound events, in order of arrival.
    async fn inbound_events(
        &self,
        tenant_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<InboundRecord>>;
}

/// An expected child whose parents are to be asked whether it was born.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirthQuestion {
    pub subscriber_id: String,
    pub child: crate::domain::Child,
    pub locale: crate::domain::Locale,
    /// The household's valid contacts: (channel, address).
    pub contacts: Vec<(String, String)>,
}

/// The chat conversations of contacts (see
/// [`crate::domain::conversation`]) and what parents did at the front door.
#[async_trait::async_trait]
pub trait ConversationStore: Send + Sync {
    /// Where the conversation of `address` on the tenant's channel stands;
    /// `None` before its first event.
    async fn conversation(
        &self,
        tenant_id: &str,
        channel: &str,
        address: &str,
    ) -> StoreResult<Option<Conversation>>;
    /// Saves the conversation's next state if it still stands where it was
    /// read (`read_round`: the round read, `None` for none stored); whether
    /// it was saved. `false` means another event moved it meanwhile.
    async fn save_conversation(
        &self,
        tenant_id: &str,
        channel: &str,
        address: &str,
        read_round: Option<u32>,
        next: &Conversation,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records what a parent did, for the figures.
    async fn record_front_door(
        &self,
        tenant_id: &str,
        channel: &str,
        kind: FrontDoorKind,
        subscriber_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Claims the tenant's expected children due on or before `due_by`
    /// (in active households) whose parents were never asked whether the
    /// baby was born: each is claimed once, whatever the node. With each,
    /// the household's locale and valid contacts.
    async fn claim_birth_questions(
        &self,
        tenant_id: &str,
        due_by: NaiveDate,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<BirthQuestion>>;
    /// The tenant's own words for the chat (empty: the defaults).
    /// `NotFound` when the tenant does not exist.
    async fn chat_texts(&self, tenant_id: &str) -> StoreResult<ChatTexts>;
    /// Replaces the tenant's own words (empty: back to the defaults).
    async fn put_chat_texts(&self, tenant_id: &str, texts: &ChatTexts) -> StoreResult<()>;
    /// How many of each kind the tenant's channels recorded in `[from, to)`:
    /// `(channel, kind, count)`, ordered by channel then kind.
    async fn front_door_counts(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, FrontDoorKind, u64)>>;
}

/// What the monthly figures read (see [`crate::domain::figures`]).
#[async_trait::async_trait]
pub trait ReportStore: Send + Sync {
    /// The tenant's active households: their children's dates and the
    /// channels of their valid contacts. `NotFound` when the tenant does
    /// not exist.
    async fn report_households(
        &self,
        tenant_id: &str,
    ) -> StoreResult<Vec<crate::domain::figures::HouseholdRow>>;
    /// Every tenant's households that are not stopped, with their children
    /// that are not stopped (the households of [`Self::report_households`],
    /// without their channels), ordered by tenant; a tenant without such a
    /// household is left out. What the operator's all-tenant figures count
    /// active users from, in one read.
    async fn report_households_all(
        &self,
    ) -> StoreResult<Vec<crate::domain::figures::TenantHouseholds>>;
    /// Every tenant's front-door events in `[from, to)`, summed over
    /// channels: `(tenant, kind, count)`, ordered by tenant then kind.
    async fn front_door_counts_all(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, FrontDoorKind, u64)>>;
    /// Every tenant's deliveries due in `[from, to)`, summed over channels:
    /// `(tenant, status, count)`, ordered by tenant then status.
    async fn delivery_counts_all(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, String, u64)>>;
    /// Every tenant's channels that are not paused: `(tenant, count)`,
    /// ordered by tenant; tenants without one are left out.
    async fn active_channel_counts(&self) -> StoreResult<Vec<(String, u64)>>;
    /// Households created in `[from, to)`, whatever their status now.
    async fn subscribers_created(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Deliveries due in `[from, to)`: `(channel, status, count)`.
    async fn delivery_counts(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, String, u64)>>;
    /// Front-door events of `kind` in each range `[bounds[i], bounds[i + 1])`
    /// (bounds ascending): one count per range, `bounds.len() - 1` of them.
    async fn front_door_by_range(
        &self,
        tenant_id: &str,
        kind: crate::domain::conversation::FrontDoorKind,
        bounds: &[DateTime<Utc>],
    ) -> StoreResult<Vec<u64>>;
    /// Deliveries due in each range `[bounds[i], bounds[i + 1])` (bounds
    /// ascending): `(i, channel, status, count)`, ordered so; ranges
    /// without deliveries are absent.
    async fn delivery_counts_by_range(
        &self,
        tenant_id: &str,
        bounds: &[DateTime<Utc>],
    ) -> StoreResult<Vec<(usize, String, String, u64)>>;
    /// Deliveries due in `[from, to)` that failed for good (`failed`,
    /// `dead`) by reason: `(reason, count)`, ordered by reason. A row from
    /// before reasons were stored counts by its status.
    async fn failure_counts(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(crate::domain::FailureReason, u64)>>;
}

/// The store's own life.
#[async_trait::async_trait]
pub trait StoreLifecycle: Send + Sync {
    /// Ends the store's use on a clean shutdown, once nothing writes any
    /// more: SQLite copies its write-ahead log into the database file and
    /// empties the log (so the file alone holds every commit), PostgreSQL
    /// closes its connections. Calls after it fail.
    async fn close(&self) -> StoreResult<()>;
}

/// Everything Tayori stores, behind one object: `Arc<dyn Store>`.
pub trait Store:
    StoreLifecycle
    + PluginStore
    + TenantStore
    + ChannelStore
    + SubscriberStore
    + CatalogStore
    + TokenStore
    + OutboxStore
    + InboundStore
    + ConversationStore
    + ReportStore
    + crate::console::ConsoleStore
{
}

impl<T> Store for T where
    T: StoreLifecycle
        + PluginStore
        + TenantStore
        + ChannelStore
        + SubscriberStore
        + CatalogStore
        + TokenStore
        + OutboxStore
        + InboundStore
        + ConversationStore
        + ReportStore
        + crate::console::ConsoleStore
{
}
