//! What the host says back to an inbound event, after the platform has had
//! its answer (LINE wants one within 2 s; the plugin calls below may take
//! longer): the registration conversation for chat events
//! (`tayori_core::domain::conversation`), the signed link for a mail sent
//! to the tenant's address.
//!
//! Only new events get here: a redelivered one (same platform event id) was
//! recognised when it was recorded and changes nothing. A contact's turns
//! are saved only if its conversation still stands where it was read, so
//! two webhooks racing for one contact cannot both act.
//!
//! Answers go in place where the platform allows (LINE's reply token,
//! within its window, at most [`MAX_REPLY_MESSAGES`] messages), and are
//! pushed otherwise, each under the message id `reply:<event id>:<n>`, so
//! that a retried push is not delivered twice.

use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::Duration as Span;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tayori_core::domain::conversation::{self, Context, Effect, FrontDoorKind, Joined};
use tayori_core::registration::DateRules;
use tayori_core::{
    Channel, ContactStatus, Content, EventKind, InboundAction, InboundEvent, InboundRecord,
    LinkClaims, LinkPurpose, LinkSigner, NewContact, Reply, ReplyStatus, StoreError, Tenant,
};
use tayori_runtime::{CallContext, LoadedPlugin};

use crate::AppState;
use crate::front_door;

/// The most messages one LINE reply carries (its Messaging API's limit);
/// the rest of an answer is pushed.
pub const MAX_REPLY_MESSAGES: usize = 5;
/// How long an invitation for a second parent works.
pub const INVITE_HOURS: i64 = 72;
/// How long the link in the answer to a blank email works.
pub const REGISTER_LINK_HOURS: i64 = 72;
/// Link mails one address may get at once; then one per
/// [`LINK_MAIL_PERIOD`], so that an auto-responder's loop stays a trickle.
const LINK_MAIL_BURST: u32 = 3;
const LINK_MAIL_PERIOD: Duration = Duration::from_secs(600);

/// How often one event is decided again when other turns of its contact
/// keep coming first (each try is one read and one compare-and-save).
const CONVERSATION_TRIES: usize = 3;

/// The places in line of this node's contacts (see [`in_turn`](super::in_turn)).
pub(super) fn in_turn(keys: Vec<super::in_turn::Key>) -> super::in_turn::Place {
    static QUEUES: OnceLock<Arc<super::in_turn::InTurn>> = OnceLock::new();
    QUEUES.get_or_init(Default::default).place(keys)
}

/// A turn decided and saved, with what its effects need.
struct Decided {
    turn: conversation::Turn,
    contact: Option<tayori_core::Contact>,
    subscriber_id: Option<String>,
    locale: tayori_core::Locale,
    now: chrono::DateTime<chrono::Utc>,
}

/// A new event and what the store made of it.
pub(super) struct Heard {
    pub event: InboundEvent,
    pub record: InboundRecord,
}

/// Where the answers of one webhook go.
pub(super) struct Answering {
    pub state: AppState,
    pub tenant: Tenant,
    pub channel: Channel,
    pub plugin: Arc<LoadedPlugin>,
    pub ctx: CallContext,
    pub config: Arc<str>,
}

impl Answering {
    /// Answers each event in order. Failures are logged: the event is kept
    /// either way, and the parent can tap or write again.
    pub async fn answer_all(self, heard: Vec<Heard>) {
        for h in heard {
            let result = match &h.event.kind {
                EventKind::Email(_) => self.link_mail(&h).await,
                _ => self.chat_turn(&h).await,
            };
            if let Err(e) = result {
                tracing::warn!(tenant = %self.tenant.id, channel = %self.channel.name, event = %h.event.id, error = %e, "cannot answer an inbound event");
            }
        }
    }

    fn links(&self) -> LinkSigner {
        LinkSigner::new(self.state.secrets.derive("links"))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.state.public_url.trim_end_matches('/'))
    }

    /// Reads the contact's conversation and household, takes the turn the
    /// event makes, and saves it; `None` when the conversation moved
    /// between the read and the save.
    async fn decide(&self, h: &Heard) -> Result<Option<Decided>, String> {
        let store = &self.state.store;
        let (tenant, channel, address) = (&self.tenant.id, &self.channel.name, &h.event.address);
        let stored = store
            .conversation(tenant, channel, address)
            .await
            .map_err(|e| e.to_string())?;
        let read_round = stored.as_ref().map(|c| c.round);
        let mut state = stored.unwrap_or_default();
        let now = self.state.scheduler.clock().now();
        // The household the address belongs to, and its contact here.
        let household = match &h.record.contact_id {
            Some(id) => store
                .subscriber_by_contact(tenant, channel, address)
                .await
                .map_err(|e| e.to_string())?
                .and_then(|s| {
                    let contact = s.contacts.iter().find(|c| &c.id == id)?.clone();
                    Some((s, contact))
                }),
            None => None,
        };
        if let Some((subscriber, _)) = &household {
            // A household is answered in its own language.
            state.locale = subscriber.locale;
        }
        let texts = store.chat_texts(tenant).await.map_err(|e| e.to_string())?;
        let contact = household.as_ref().map(|(_, c)| c.clone());
        let subscriber_id = household.as_ref().map(|(s, _)| s.id.clone());
        // A parent not yet registered may use the form instead, inside
        // LINE's browser: a link that names this contact.
        let form_url = contact.is_none().then(|| {
            let token = self.links().sign(&LinkClaims {
                purpose: LinkPurpose::Register,
                tenant: tenant.clone(),
                channel: channel.clone(),
                address: address.clone(),
                data: String::new(),
                expires_at: now + Span::hours(REGISTER_LINK_HOURS),
            });
            self.url(&format!("/r/{tenant}?t={token}"))
        });
        let ctx = Context {
            form_url: form_url.as_deref(),
            rules: DateRules::new(front_door::today(&self.tenant, now)),
            tenant_name: &self.tenant.name,
            registered: contact.is_some(),
            stopped: contact
                .as_ref()
                .is_some_and(|c| c.status == ContactStatus::Invalid),
            children: household
                .as_ref()
                .map(|(s, _)| s.children.as_slice())
                .unwrap_or_default(),
            texts: &texts,
        };
        let turn = conversation::step(&state, &h.event.kind, &ctx);
        if let Some(note) = turn.note {
            tracing::info!(%tenant, %channel, event = %h.event.id, ?note, "a tap the conversation did not expect");
            metrics::counter!("tayori_conversation_unexpected_total", "note" => format!("{note:?}").to_lowercase()).increment(1);
        }
        if turn.next != state || read_round.is_none() {
            let saved = store
                .save_conversation(tenant, channel, address, read_round, &turn.next, now)
                .await
                .map_err(|e| e.to_string())?;
            if !saved {
                // Another event of this contact moved it first.
                return Ok(None);
            }
        }
        Ok(Some(Decided {
            turn,
            contact,
            subscriber_id,
            locale: state.locale,
            now,
        }))
    }

    /// One chat event through the conversation. The turn is decided on
    /// the conversation as read and saved only if it still stands there;
    /// when another node's turn of this contact came first, the event is
    /// decided again on what that turn left ([`CONVERSATION_TRIES`] times).
    async fn chat_turn(&self, h: &Heard) -> Result<(), String> {
        let mut decided = None;
        for _ in 0..CONVERSATION_TRIES {
            decided = self.decide(h).await?;
            if decided.is_some() {
                break;
            }
            tracing::info!(tenant = %self.tenant.id, channel = %self.channel.name, event = %h.event.id, "the conversation moved meanwhile; deciding this event again");
        }
        let Some(Decided {
            mut turn,
            contact,
            subscriber_id,
            locale,
            now,
        }) = decided
        else {
            tracing::warn!(tenant = %self.tenant.id, channel = %self.channel.name, event = %h.event.id, "the conversation kept moving; this event is left");
            return Ok(());
        };
        let store = &self.state.store;
        let (tenant, channel, address) = (&self.tenant.id, &self.channel.name, &h.event.address);
        for effect in std::mem::take(&mut turn.effects) {
            match effect {
                Effect::Register { locale, child } => {
                    let contact = NewContact {
                        channel: channel.clone(),
                        address: address.clone(),
                    };
                    match front_door::register(&self.state, tenant, contact, locale, child).await {
                        Ok(_) => {}
                        Err(StoreError::Conflict(_)) => {
                            // Registered meanwhile (the form, another
                            // device): what was said still holds.
                        }
                        Err(e) => {
                            turn.say = vec![conversation::failed_text(locale)];
                            tracing::warn!(%tenant, %channel, error = %e, "cannot register from the chat");
                        }
                    }
                }
                Effect::Resume => {
                    if let Some(c) = &contact {
                        match store
                            .set_contact_status(tenant, &c.id, ContactStatus::Valid)
                            .await
                        {
                            Ok(_) => self.state.scheduler.subscribers_changed(tenant),
                            Err(e) => {
                                turn.say = vec![conversation::failed_text(locale)];
                                tracing::warn!(%tenant, %channel, error = %e, "cannot resume a contact");
                            }
                        }
                    }
                }
                Effect::ReportBirth { child, date } => {
                    let Some(sid) = &subscriber_id else { continue };
                    let done = store.report_birth(tenant, sid, &child, date).await;
                    self.applied(&mut turn, done.map(|_| ()), "report a birth");
                }
                Effect::AddChild { child } => {
                    let Some(sid) = &subscriber_id else { continue };
                    let done = store.add_child(tenant, sid, &child).await;
                    self.applied(&mut turn, done.map(|_| ()), "add a child");
                }
                Effect::StopChild { child } => {
                    let Some(sid) = &subscriber_id else { continue };
                    let done = store.stop_child(tenant, sid, &child, "unsubscribed").await;
                    self.applied(&mut turn, done.map(|_| ()), "stop a child");
                }
                Effect::StopAll => {
                    let Some(sid) = &subscriber_id else { continue };
                    let done = store.stop_subscriber(tenant, sid, "unsubscribed").await;
                    if done.is_ok() {
                        front_door::record(
                            &self.state,
                            tenant,
                            channel,
                            FrontDoorKind::Stopped,
                            Some(sid),
                        )
                        .await;
                    }
                    self.applied(&mut turn, done.map(|_| ()), "stop a household");
                }
                Effect::SetLocale(locale) => {
                    let Some(sid) = &subscriber_id else { continue };
                    let patch = tayori_core::SubscriberPatch {
                        locale: Some(locale),
                        contacts: None,
                    };
                    let done = store.update_subscriber(tenant, sid, &patch).await;
                    self.applied(&mut turn, done.map(|_| ()), "change the language");
                }
                Effect::Invite => {
                    let Some(sid) = &subscriber_id else { continue };
                    let code = self.links().sign(&LinkClaims {
                        purpose: LinkPurpose::Invite,
                        tenant: tenant.clone(),
                        channel: channel.clone(),
                        address: String::new(),
                        data: sid.clone(),
                        expires_at: now + Span::hours(INVITE_HOURS),
                    });
                    turn.say.extend(conversation::invite_texts(
                        turn.next.locale,
                        &self.tenant.name,
                        &code,
                        INVITE_HOURS,
                    ));
                }
                Effect::Join { code } => {
                    let joined = self.join(&code, contact.is_some(), address, now).await;
                    turn.say
                        .push(conversation::joined_text(turn.next.locale, joined));
                }
                Effect::Block => {
                    // The store invalidated the contact as it kept the event.
                    if h.record.action == InboundAction::ContactInvalidated {
                        front_door::record(
                            &self.state,
                            tenant,
                            channel,
                            FrontDoorKind::Blocked,
                            h.record.subscriber_id.as_deref(),
                        )
                        .await;
                    }
                }
            }
        }
        self.say(&h.event, turn.say).await
    }

    /// Adds the sender's contact to the household an invitation names.
    async fn join(
        &self,
        code: &str,
        registered: bool,
        address: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Joined {
        if registered {
            return Joined::Already;
        }
        let claims = match self.links().verify(code, LinkPurpose::Invite, now) {
            Ok(c) if c.tenant == self.tenant.id => c,
            _ => return Joined::BadCode,
        };
        let store = &self.state.store;
        let Ok(household) = store.subscriber(&self.tenant.id, &claims.data).await else {
            return Joined::BadCode;
        };
        let mut contacts: Vec<NewContact> = household
            .contacts
            .iter()
            .map(|c| NewContact {
                channel: c.channel.clone(),
                address: c.address.clone(),
            })
            .collect();
        contacts.push(NewContact {
            channel: self.channel.name.clone(),
            address: address.to_string(),
        });
        let patch = tayori_core::SubscriberPatch {
            locale: None,
            contacts: Some(contacts),
        };
        match store
            .update_subscriber(&self.tenant.id, &household.id, &patch)
            .await
        {
            Ok(_) => {
                tracing::info!(tenant = %self.tenant.id, subscriber = %household.id, channel = %self.channel.name, "a second parent joined a household");
                self.state.scheduler.subscribers_changed(&self.tenant.id);
                Joined::Joined
            }
            Err(StoreError::Conflict(_)) => Joined::Already,
            Err(e) => {
                tracing::warn!(tenant = %self.tenant.id, error = %e, "cannot add a second parent");
                Joined::BadCode
            }
        }
    }

    /// After an effect on the household: the planner is woken, or, when the
    /// store failed, what was about to be said becomes "that did not work".
    fn applied(&self, turn: &mut conversation::Turn, done: Result<(), StoreError>, what: &str) {
        match done {
            Ok(()) => self.state.scheduler.subscribers_changed(&self.tenant.id),
            Err(e) => {
                tracing::warn!(tenant = %self.tenant.id, channel = %self.channel.name, error = %e, "cannot {what} from the chat");
                turn.say = vec![conversation::failed_text(turn.next.locale)];
            }
        }
    }

    /// The answer to a mail sent to the tenant's address.
    async fn link_mail(&self, h: &Heard) -> Result<(), String> {
        let address = &h.event.address;
        let key = format!(
            "{}\u{1f}{}\u{1f}{address}",
            self.tenant.id, self.channel.name
        );
        if link_mail_limiter().check_key(&key).is_err() {
            tracing::info!(tenant = %self.tenant.id, channel = %self.channel.name, "a link mail was not sent: too many for this address");
            return Ok(());
        }
        let now = self.state.scheduler.clock().now();
        let registered = h.record.contact_id.is_some();
        let (purpose, path, hours) = if registered {
            (LinkPurpose::Manage, "/m/", 24)
        } else {
            (LinkPurpose::Register, "", REGISTER_LINK_HOURS)
        };
        let token = self.links().sign(&LinkClaims {
            purpose,
            tenant: self.tenant.id.clone(),
            channel: self.channel.name.clone(),
            address: address.clone(),
            data: String::new(),
            expires_at: now + Span::hours(hours),
        });
        let link = if registered {
            self.url(&format!("{path}{token}"))
        } else {
            self.url(&format!("/r/{}?t={token}", self.tenant.id))
        };
        let content = conversation::link_mail(&self.tenant.name, &link, hours, registered);
        self.state
            .messenger
            .send_now(
                &self.tenant.id,
                &self.channel.name,
                address,
                &format!("reply:{}:0", h.event.id),
                content,
            )
            .await
    }

    /// Says `messages` to the event's sender: in place when the platform
    /// allows, pushed otherwise.
    async fn say(&self, event: &InboundEvent, messages: Vec<Content>) -> Result<(), String> {
        if messages.is_empty() {
            return Ok(());
        }
        // The platform's window is in real time, whatever the scheduler's clock.
        let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
        let mut rest = messages;
        if let Some(handle) = &event.reply
            && self.plugin.record.manifest.replies
            && handle.expires_at_ms > now_ms
        {
            let tail = rest.split_off(rest.len().min(MAX_REPLY_MESSAGES));
            let reply = Reply {
                token: handle.token.clone(),
                address: event.address.clone(),
                messages: std::mem::replace(&mut rest, tail),
            };
            let called = self
                .state
                .plugins
                .runtime()
                .reply(
                    &self.plugin,
                    &self.ctx,
                    &self.config,
                    std::slice::from_ref(&reply),
                )
                .await;
            let sent = match called.result {
                Ok(outcomes) => match outcomes.into_iter().next().map(|o| o.status) {
                    Some(ReplyStatus::Sent(_)) => true,
                    Some(ReplyStatus::Expired) => false,
                    Some(ReplyStatus::Failed(f)) => {
                        tracing::info!(tenant = %self.tenant.id, channel = %self.channel.name, event = %event.id, error = %f.message, "a reply failed; pushing instead");
                        false
                    }
                    None => false,
                },
                Err(e) => {
                    tracing::info!(tenant = %self.tenant.id, channel = %self.channel.name, event = %event.id, error = %e, "a reply failed; pushing instead");
                    false
                }
            };
            if !sent {
                let mut all = reply.messages;
                all.extend(rest);
                rest = all;
            }
        }
        let mut first_error = None;
        for (i, content) in rest.into_iter().enumerate() {
            if let Err(e) = self
                .state
                .messenger
                .send_now(
                    &self.tenant.id,
                    &self.channel.name,
                    &event.address,
                    &format!("reply:{}:{i}", event.id),
                    content,
                )
                .await
            {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn link_mail_limiter() -> &'static DefaultKeyedRateLimiter<String> {
    static LIMITER: OnceLock<DefaultKeyedRateLimiter<String>> = OnceLock::new();
    LIMITER.get_or_init(|| {
        RateLimiter::keyed(
            Quota::with_period(LINK_MAIL_PERIOD)
                .expect("a period")
                .allow_burst(NonZeroU32::new(LINK_MAIL_BURST).expect("a burst")),
        )
    })
}
