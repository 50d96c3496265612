//! A broadcast request's checks, shared by the API's
//! `POST /v1/tenants/{tenant}/broadcasts` and the console's Broadcasts
//! pages: neither checks a broadcast on its own.

use chrono::{DateTime, Utc};
use tayori_core::Channel;

pub use crate::deliveries::{BroadcastContent, CreateBroadcast, MAX_BROADCAST_BODY};
pub use tayori_scheduler::{Audience, MonthRange, NewBroadcast, Reach};

/// Why a broadcast request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BroadcastProblem {
    /// The subject or the body holds a NUL character (the API's JSON
    /// reader refuses it first; a form reaches this check with it).
    Nul(&'static str),
    /// The body is blank.
    BodyEmpty,
    /// The body is longer than [`MAX_BROADCAST_BODY`] characters.
    BodyTooLong,
    /// The audience is not an audience object.
    Audience(String),
    /// An age range whose `to` is not above its `from`.
    AgeRange { from: u32, to: u32 },
    /// An audience channel the tenant does not have.
    UnknownChannel(String),
}

impl BroadcastProblem {
    /// The request's field at fault, as the API names it.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Nul(field) => field,
            Self::BodyEmpty | Self::BodyTooLong => "content.body",
            Self::Audience(_) => "audience",
            Self::AgeRange { .. } => "audience.child_age_months",
            Self::UnknownChannel(_) => "audience.channels",
        }
    }

    /// What is wrong, in the API's words.
    pub fn message(&self, tenant: &str) -> String {
        match self {
            Self::Nul(_) => crate::input::NUL_MESSAGE.into(),
            Self::BodyEmpty => "must not be empty".into(),
            Self::BodyTooLong => format!("must be at most {MAX_BROADCAST_BODY} characters"),
            Self::Audience(e) => e.clone(),
            Self::AgeRange { from, to } => {
                format!("`to` ({to}) must be greater than `from` ({from})")
            }
            Self::UnknownChannel(c) => format!("tenant `{tenant}` has no channel `{c}`"),
        }
    }
}

/// Checks a broadcast request against the tenant's channels: the body not
/// blank nor too long, the audience an audience (age ranges in order,
/// channels the tenant's). The request as the scheduler takes it.
pub fn check_broadcast(
    request: CreateBroadcast,
    channels: &[Channel],
) -> Result<NewBroadcast, BroadcastProblem> {
    let CreateBroadcast {
        content,
        audience: audience_json,
        send_at,
    } = request;
    if content.subject.as_deref().is_some_and(|s| s.contains('\0')) {
        return Err(BroadcastProblem::Nul("content.subject"));
    }
    if content.body.contains('\0') {
        return Err(BroadcastProblem::Nul("content.body"));
    }
    if content.body.trim().is_empty() {
        return Err(BroadcastProblem::BodyEmpty);
    }
    if content.body.chars().count() > MAX_BROADCAST_BODY {
        return Err(BroadcastProblem::BodyTooLong);
    }
    let audience: Audience = serde_json::from_value(audience_json.clone())
        .map_err(|e| BroadcastProblem::Audience(e.to_string()))?;
    for r in &audience.child_age_months {
        if let Some(to) = r.to.filter(|to| *to <= r.from) {
            return Err(BroadcastProblem::AgeRange { from: r.from, to });
        }
    }
    for c in &audience.channels {
        if !channels.iter().any(|x| &x.name == c) {
            return Err(BroadcastProblem::UnknownChannel(c.clone()));
        }
    }
    Ok(NewBroadcast {
        subject: content.subject.filter(|s| !s.is_empty()),
        body: content.body,
        audience,
        audience_json,
        send_at,
    })
}

/// The request the console's form makes: a subject, a body, an audience
/// object and when.
pub fn request(
    subject: Option<String>,
    body: String,
    audience: serde_json::Value,
    send_at: Option<DateTime<Utc>>,
) -> CreateBroadcast {
    CreateBroadcast {
        content: BroadcastContent { subject, body },
        audience,
        send_at,
    }
}
