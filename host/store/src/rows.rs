//! Table rows as sqlx reads them, and their conversion into domain values.
//!
//! The column types are chosen so that one Rust type reads each column on
//! both engines (TEXT/`String`, INTEGER|BIGINT/`i64`, TEXT|TIMESTAMPTZ/
//! `DateTime<Utc>`, TEXT|JSONB/`Json<T>`, BLOB|BYTEA/`Vec<u8>`); these structs
//! are therefore engine-independent and compiled once.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;
use tayori_core::{
    Activation, ActivationScope, ApiToken, CatalogMessage, Channel, ChannelPause,
    ChannelSetupOutcome, Child, ChildStatus, Contact, ContactStatus, InsertTarget, LocalInsert,
    Locale, Manifest, MessageContent, PluginVersionRecord, Program, QuietHours, ScheduleRule,
    StoreResult, SubscriberStatus, Tenant, TenantMessage, hhmm,
};

use crate::error::unreadable;

/// How `ActivationScope::All` is stored in `plugin_activations.scope`; any
/// other value is a tenant id (which can never be `*`).
pub(crate) const SCOPE_ALL: &str = "*";

/// The stored form of a scope.
pub(crate) fn scope_key(scope: &ActivationScope) -> &str {
    match scope {
        ActivationScope::All => SCOPE_ALL,
        ActivationScope::Tenant(t) => t,
    }
}

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| unreadable(what, e))
}

fn to_u32(what: &str, v: i64) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| unreadable(what, format!("{v} is out of range")))
}

/// A `plugin_versions` row without its bytes.
#[derive(sqlx::FromRow)]
pub(crate) struct PluginVersionRow {
    pub plugin_id: String,
    pub version: String,
    pub digest: String,
    pub contract: String,
    pub size: i64,
    pub manifest: Json<Manifest>,
    pub published_at: DateTime<Utc>,
}

impl PluginVersionRow {
    pub fn into_record(self) -> StoreResult<PluginVersionRecord> {
        Ok(PluginVersionRecord {
            version: parse("plugin version", &self.version)?,
            size: u64::try_from(self.size).map_err(|_| unreadable("plugin size", self.size))?,
            plugin_id: self.plugin_id,
            digest: self.digest,
            contract: self.contract,
            manifest: self.manifest.0,
            published_at: self.published_at,
        })
    }
}

/// A `plugin_activations` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ActivationRow {
    pub id: i64,
    pub plugin_id: String,
    pub version: String,
    pub scope: String,
    pub activated_at: DateTime<Utc>,
}

impl ActivationRow {
    pub fn into_activation(self) -> StoreResult<Activation> {
        Ok(Activation {
            id: self.id,
            version: parse("activated plugin version", &self.version)?,
            scope: if self.scope == SCOPE_ALL {
                ActivationScope::All
            } else {
                ActivationScope::Tenant(self.scope)
            },
            plugin_id: self.plugin_id,
            activated_at: self.activated_at,
        })
    }
}

/// A `tenants` row.
#[derive(sqlx::FromRow)]
pub(crate) struct TenantRow {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub send_time: String,
    pub span: String,
    pub programs: Json<Vec<String>>,
    pub lateness_window_minutes: i64,
    pub quiet_start: Option<String>,
    pub quiet_end: Option<String>,
    pub program_spans: Json<std::collections::BTreeMap<String, String>>,
    pub unreported_birth: String,
    pub corrected_weeks_early: Option<i64>,
    pub corrected_months: Option<i64>,
    pub yearly_births: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TenantRow {
    pub fn into_tenant(self) -> StoreResult<Tenant> {
        let time = |what: &str, s: &str| hhmm::parse(s).map_err(|e| unreadable(what, e));
        let quiet_hours = match (self.quiet_start, self.quiet_end) {
            (Some(start), Some(end)) => Some(QuietHours {
                start: time("quiet hours start", &start)?,
                end: time("quiet hours end", &end)?,
            }),
            _ => None,
        };
        let program_spans = self
            .program_spans
            .0
            .into_iter()
            .map(|(p, s)| Ok((p, parse("program span", &s)?)))
            .collect::<StoreResult<_>>()?;
        let corrected_age = match (self.corrected_weeks_early, self.corrected_months) {
            (Some(w), Some(m)) => Some(tayori_core::CorrectedAge {
                weeks_early: to_u32("corrected weeks early", w)?,
                months: to_u32("corrected months", m)?,
            }),
            _ => None,
        };
        Ok(Tenant {
            program_spans,
            unreported_birth: parse("unreported birth rule", &self.unreported_birth)?,
            corrected_age,
            yearly_births: self
                .yearly_births
                .map(|n| to_u32("yearly births", n))
                .transpose()?,
            send_time: time("send time", &self.send_time)?,
            span: parse("delivery span", &self.span)?,
            lateness_window_minutes: to_u32("lateness window", self.lateness_window_minutes)?,
            id: self.id,
            name: self.name,
            time_zone: self.time_zone,
            programs: self.programs.0,
            quiet_hours,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A `channels` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ChannelRow {
    pub tenant_id: String,
    pub name: String,
    pub plugin_id: String,
    pub version_pin: Option<String>,
    pub config: Json<serde_json::Value>,
    pub secrets_ciphertext: Vec<u8>,
    pub allowed_hosts: Json<Vec<String>>,
    pub rate_per_second: Option<i64>,
    pub daily_quota: Option<i64>,
    pub paused_reason: Option<String>,
    pub paused_at: Option<DateTime<Utc>>,
    pub setup: Option<Json<ChannelSetupOutcome>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ChannelRow {
    pub fn into_channel(self) -> StoreResult<Channel> {
        Ok(Channel {
            version: self
                .version_pin
                .as_deref()
                .map(|v| parse("channel version pin", v))
                .transpose()?,
            rate_per_second: self
                .rate_per_second
                .map(|v| to_u32("channel rate", v))
                .transpose()?,
            daily_quota: self
                .daily_quota
                .map(|v| to_u32("channel quota", v))
                .transpose()?,
            paused: match (self.paused_reason, self.paused_at) {
                (Some(reason), Some(since)) => Some(ChannelPause { reason, since }),
                _ => None,
            },
            setup: self.setup.map(|s| s.0),
            tenant_id: self.tenant_id,
            name: self.name,
            plugin_id: self.plugin_id,
            config: self.config.0,
            secrets_ciphertext: self.secrets_ciphertext,
            allowed_hosts: self.allowed_hosts.0,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A `subscribers` row.
#[derive(sqlx::FromRow)]
pub(crate) struct SubscriberRow {
    pub id: String,
    pub tenant_id: String,
    pub external_id: Option<String>,
    pub locale: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SubscriberRow {
    pub fn locale(&self) -> StoreResult<Locale> {
        parse("subscriber locale", &self.locale)
    }

    pub fn status(&self) -> StoreResult<SubscriberStatus> {
        parse("subscriber status", &self.status)
    }
}

/// What an import needs of an existing subscriber.
#[derive(sqlx::FromRow)]
pub(crate) struct ImportedRow {
    pub id: String,
    pub external_id: Option<String>,
    pub locale: String,
    pub status: String,
    pub import_digest: Option<String>,
}

impl ImportedRow {
    pub fn locale(&self) -> StoreResult<Locale> {
        parse("subscriber locale", &self.locale)
    }

    pub fn status(&self) -> StoreResult<SubscriberStatus> {
        parse("subscriber status", &self.status)
    }
}

/// A live `contacts` row (address not NULL).
#[derive(sqlx::FromRow, Clone)]
pub(crate) struct ContactRow {
    pub id: String,
    pub subscriber_id: String,
    pub position: i64,
    pub channel: String,
    pub address: String,
    pub status: String,
}

impl ContactRow {
    pub fn into_contact(self) -> StoreResult<Contact> {
        Ok(Contact {
            status: parse::<ContactStatus>("contact status", &self.status)?,
            id: self.id,
            channel: self.channel,
            address: self.address,
        })
    }
}

/// A `children` row.
#[derive(sqlx::FromRow, Clone)]
pub(crate) struct ChildRow {
    pub id: String,
    pub subscriber_id: String,
    pub position: i64,
    pub due_date: Option<NaiveDate>,
    pub birth_date: Option<NaiveDate>,
    pub status: String,
    pub stopped_reason: Option<String>,
}

impl ChildRow {
    pub fn status(&self) -> StoreResult<ChildStatus> {
        parse("child status", &self.status)
    }

    pub fn into_child(self) -> StoreResult<Child> {
        Ok(Child {
            status: self.status()?,
            id: self.id,
            due_date: self.due_date,
            birth_date: self.birth_date,
            stopped_reason: self.stopped_reason,
        })
    }
}

/// A `programs` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ProgramRow {
    pub id: String,
    pub name: String,
    pub description: String,
}

impl ProgramRow {
    pub fn into_program(self) -> Program {
        Program {
            id: self.id,
            name: self.name,
            description: self.description,
        }
    }
}

/// Per-locale message content as stored.
pub(crate) type ContentJson = Json<BTreeMap<Locale, MessageContent>>;

/// A `catalog_messages` row.
#[derive(sqlx::FromRow)]
pub(crate) struct CatalogMessageRow {
    pub id: String,
    pub program_id: String,
    pub stage: Option<String>,
    pub rule: Json<ScheduleRule>,
    pub content: ContentJson,
}

impl CatalogMessageRow {
    pub fn into_message(self) -> CatalogMessage {
        CatalogMessage {
            id: self.id,
            program: self.program_id,
            stage: self.stage,
            rule: self.rule.0,
            content: self.content.0,
        }
    }
}

/// A `local_inserts` row.
#[derive(sqlx::FromRow)]
pub(crate) struct LocalInsertRow {
    pub target_kind: String,
    pub target: String,
    pub content: Json<BTreeMap<Locale, String>>,
}

impl LocalInsertRow {
    pub fn into_insert(self) -> StoreResult<LocalInsert> {
        let target = match self.target_kind.as_str() {
            "message" => InsertTarget::Message(self.target),
            "stage" => InsertTarget::Stage(self.target),
            other => return Err(unreadable("local insert target kind", other)),
        };
        Ok(LocalInsert {
            target,
            content: self.content.0,
        })
    }
}

/// A `tenant_messages` row.
#[derive(sqlx::FromRow)]
pub(crate) struct TenantMessageRow {
    pub id: String,
    pub stage: Option<String>,
    pub rule: Json<ScheduleRule>,
    pub content: ContentJson,
}

impl TenantMessageRow {
    pub fn into_message(self) -> TenantMessage {
        TenantMessage {
            id: self.id,
            stage: self.stage,
            rule: self.rule.0,
            content: self.content.0,
        }
    }
}

/// An `api_tokens` row (without the hash).
#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub id: String,
    pub role: String,
    pub tenant_id: Option<String>,
    pub plugin_ids: Json<Vec<String>>,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    pub fn into_token(self) -> StoreResult<ApiToken> {
        Ok(ApiToken {
            role: parse("token role", &self.role)?,
            id: self.id,
            tenant_id: self.tenant_id,
            plugin_ids: self.plugin_ids.0,
            label: self.label,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        })
    }
}
