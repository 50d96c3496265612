//! Subscribers: a registration (a household) with its contacts (where the
//! messages go) and its children (whose dates the messages follow).
//!
//! A child's anchor is its due date while expecting and its birth date once
//! born; a stopped child gets nothing more. An erased subscriber keeps only an
//! anonymous row (tenant, status, creation time) so that counts survive; its
//! contacts' addresses, children's dates, stop reasons and external id are
//! gone.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::string_enum;

string_enum! {
    /// The language variant a subscriber reads.
    pub enum Locale ("locale") {
        /// Standard Japanese.
        Ja = "ja",
        /// やさしい日本語, plain Japanese.
        JaEasy = "ja-easy",
        /// English.
        En = "en",
    }
}

string_enum! {
    /// Where a subscriber stands.
    pub enum SubscriberStatus ("subscriber status") {
        /// Registered; messages go to its children's contacts.
        Active = "active",
        /// Every child is stopped (or the household asked to stop).
        Stopped = "stopped",
        /// Personal data removed; only an anonymous row remains.
        Erased = "erased",
    }
}

string_enum! {
    /// Whether a contact can be delivered to.
    pub enum ContactStatus ("contact status") {
        /// Deliverable.
        Valid = "valid",
        /// The platform said the recipient is gone (blocked, unknown).
        Invalid = "invalid",
    }
}

string_enum! {
    /// Where a child stands.
    pub enum ChildStatus ("child status") {
        /// Anchored on the due date.
        Expecting = "expecting",
        /// Anchored on the birth date.
        Born = "born",
        /// Nothing more is sent for this child.
        Stopped = "stopped",
    }
}

/// Where a subscriber's messages go: an address on one of the tenant's
/// channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// A UUID.
    pub id: String,
    /// The tenant's channel name, e.g. `line`.
    pub channel: String,
    /// The address on that platform (a LINE user id, an email address).
    pub address: String,
    /// Whether it can be delivered to.
    pub status: ContactStatus,
}

/// A contact to add.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NewContact {
    /// The tenant's channel name.
    pub channel: String,
    /// The address on that platform.
    pub address: String,
}

/// What a child's schedule counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The due date (pregnancy messages).
    Due(NaiveDate),
    /// The birth date (child messages).
    Birth(NaiveDate),
}

/// A child (or a pregnancy) of a subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    /// A UUID.
    pub id: String,
    /// The due date, when one was given.
    pub due_date: Option<NaiveDate>,
    /// The birth date, once known.
    pub birth_date: Option<NaiveDate>,
    /// Where the child stands.
    pub status: ChildStatus,
    /// Why the child was stopped (free text from the family or the tenant).
    pub stopped_reason: Option<String>,
}

impl Child {
    /// The date the child's schedule counts from, unless it is stopped.
    pub fn anchor(&self) -> Option<Anchor> {
        match self.status {
            ChildStatus::Stopped => None,
            ChildStatus::Born => self.birth_date.map(Anchor::Birth),
            ChildStatus::Expecting => self.due_date.map(Anchor::Due),
        }
    }
}

/// A child to add: a due date, a birth date, or both (born: the birth date
/// anchors).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewChild {
    /// The due date.
    pub due_date: Option<NaiveDate>,
    /// The birth date.
    pub birth_date: Option<NaiveDate>,
}

impl NewChild {
    /// Expecting, due on `date`.
    pub fn due(date: NaiveDate) -> Self {
        Self {
            due_date: Some(date),
            birth_date: None,
        }
    }

    /// Born on `date`.
    pub fn born(date: NaiveDate) -> Self {
        Self {
            due_date: None,
            birth_date: Some(date),
        }
    }

    /// The status a child with these dates starts in; `None` when it has no
    /// date at all (nothing to anchor a schedule on).
    pub fn initial_status(&self) -> Option<ChildStatus> {
        match (self.birth_date, self.due_date) {
            (Some(_), _) => Some(ChildStatus::Born),
            (None, Some(_)) => Some(ChildStatus::Expecting),
            (None, None) => None,
        }
    }
}

/// A registration: a household in a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    /// A UUID.
    pub id: String,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// The tenant's own id for it (from a CSV import), unique in the tenant.
    pub external_id: Option<String>,
    /// The language variant it reads.
    pub locale: Locale,
    /// Where it stands.
    pub status: SubscriberStatus,
    /// Where its messages go, in the order given (none once erased).
    pub contacts: Vec<Contact>,
    /// Its children, in the order added.
    pub children: Vec<Child>,
    /// When it registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A subscriber to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSubscriber {
    /// The tenant's own id, if any.
    pub external_id: Option<String>,
    /// The language variant.
    pub locale: Locale,
    /// Its contacts (may be empty while a registration is in progress).
    pub contacts: Vec<NewContact>,
    /// Its children (may be empty until the family enters a date).
    pub children: Vec<NewChild>,
}

/// A change to a subscriber: `None` leaves a part as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriberPatch {
    /// A new locale.
    pub locale: Option<Locale>,
    /// The new full list of contacts. A contact whose channel and address are
    /// unchanged keeps its id and status; the others are removed.
    pub contacts: Option<Vec<NewContact>>,
}

/// One row of a bulk import: a subscriber identified by the tenant's own id.
///
/// Importing a row whose `external_id` is new creates the subscriber.
/// Importing it again updates it: the locale; the contacts (the row's list
/// replaces the stored one, as in [`SubscriberPatch`]); and the children by
/// position (the row's i-th child updates the subscriber's i-th child, a birth
/// date reports the birth, extra children are added, stopped children are left
/// alone, and no child is ever removed by an import). A row equal to what is
/// stored changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    /// The tenant's own id, unique in the tenant and in the file.
    pub external_id: String,
    /// The language variant.
    pub locale: Locale,
    /// The contacts.
    pub contacts: Vec<NewContact>,
    /// The children.
    pub children: Vec<NewChild>,
}

/// What a bulk import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Subscribers created.
    pub created: u64,
    /// Existing subscribers changed.
    pub updated: u64,
    /// Existing subscribers the file left as they were.
    pub unchanged: u64,
}

/// A reason an import would refuse one of its rows given what is stored
/// (an address registered to a subscriber the row is not), with the row's
/// field path (`rows[17].contacts[0].address`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRefusal {
    /// Where, as `rows[i]...`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A tenant's subscribers by status. Erased subscribers stay counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberCounts {
    /// Active subscribers.
    pub active: u64,
    /// Stopped subscribers.
    pub stopped: u64,
    /// Erased subscribers.
    pub erased: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn anchors() {
        let mut c = Child {
            id: "c".into(),
            due_date: Some(d("2027-05-01")),
            birth_date: None,
            status: ChildStatus::Expecting,
            stopped_reason: None,
        };
        assert_eq!(c.anchor(), Some(Anchor::Due(d("2027-05-01"))));
        c.birth_date = Some(d("2027-04-28"));
        c.status = ChildStatus::Born;
        assert_eq!(c.anchor(), Some(Anchor::Birth(d("2027-04-28"))));
        c.status = ChildStatus::Stopped;
        assert_eq!(c.anchor(), None);
    }

    #[test]
    fn initial_status_follows_the_dates() {
        assert_eq!(
            NewChild::due(d("2027-05-01")).initial_status(),
            Some(ChildStatus::Expecting)
        );
        let both = NewChild {
            due_date: Some(d("2027-05-01")),
            birth_date: Some(d("2027-04-28")),
        };
        assert_eq!(both.initial_status(), Some(ChildStatus::Born));
        assert_eq!(NewChild::default().initial_status(), None);
    }
}
