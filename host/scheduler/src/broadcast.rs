//! Broadcasts: a tenant's message to an audience, now or at a time, through
//! the same outbox as scheduled messages (same keys, retries, guarantees).
//!
//! The audience is chosen when the broadcast is created: one delivery per
//! valid contact of each active subscriber that matches. `{}` is everyone;
//! `pregnant` and `child_age_months` select subscribers with a child in
//! that stage on the send date (either one matching when both are given);
//! `channels` keeps only contacts on those channels.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tayori_core::{AudienceMember, Broadcast, DeliverySource, NewDelivery, OutboxStatus, Tenant};

use crate::keys;

/// A range of completed months of age, `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthRange {
    #[serde(default)]
    pub from: u32,
    pub to: Option<u32>,
}

/// Who a broadcast goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Subscribers expecting a child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pregnant: Option<bool>,
    /// Subscribers with a born child of an age in one of these ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub child_age_months: Vec<MonthRange>,
    /// Only contacts on these channels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
}

impl Audience {
    /// Whether a member is in the audience on `day`.
    pub fn includes(&self, m: &AudienceMember, day: NaiveDate) -> bool {
        if !self.channels.is_empty() && !self.channels.contains(&m.channel) {
            return false;
        }
        let by_stage = self.pregnant == Some(true) || !self.child_age_months.is_empty();
        if !by_stage {
            return true;
        }
        m.children.iter().any(|(due, birth)| match birth {
            None => self.pregnant == Some(true) && due.is_some(),
            Some(b) => {
                let months = completed_months(*b, day);
                months >= 0
                    && self.child_age_months.iter().any(|r| {
                        months as u32 >= r.from && r.to.is_none_or(|to| (months as u32) < to)
                    })
            }
        })
    }
}

fn completed_months(from: NaiveDate, to: NaiveDate) -> i64 {
    use chrono::Datelike;
    if to < from {
        return -1;
    }
    let mut m =
        i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month());
    if tayori_core::schedule::add_months(from, m as u32).is_none_or(|a| a > to) {
        m -= 1;
    }
    m
}

/// The members in the audience on `send_day`: the one matching of a
/// broadcast's deliveries and of its count before sending ([`reach`]).
pub fn matching<'a>(
    audience: &'a Audience,
    members: &'a [AudienceMember],
    send_day: NaiveDate,
) -> impl Iterator<Item = &'a AudienceMember> + 'a {
    members
        .iter()
        .filter(move |m| audience.includes(m, send_day))
}

/// Who a broadcast would reach, counted before it is created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// Households (subscribers) with at least one contact in the audience.
    pub households: u64,
    /// Contacts: the deliveries the broadcast would make.
    pub contacts: u64,
    /// Contacts per channel, by channel name.
    pub by_channel: std::collections::BTreeMap<String, u64>,
    /// The first few households reached (subscriber ids, in the store's
    /// order).
    pub sample: Vec<String>,
}

/// Counts the audience among `members` on `send_day`, keeping up to
/// `sample` household ids.
pub fn reach(
    audience: &Audience,
    members: &[AudienceMember],
    send_day: NaiveDate,
    sample: usize,
) -> Reach {
    let mut r = Reach::default();
    let mut households = std::collections::BTreeSet::new();
    for m in matching(audience, members, send_day) {
        r.contacts += 1;
        *r.by_channel.entry(m.channel.clone()).or_default() += 1;
        if households.insert(m.subscriber_id.as_str()) && r.sample.len() < sample {
            r.sample.push(m.subscriber_id.clone());
        }
    }
    r.households = households.len() as u64;
    r
}

/// The deliveries of a broadcast to the members of its audience.
pub fn deliveries(
    tenant: &Tenant,
    broadcast: &Broadcast,
    audience: &Audience,
    members: &[AudienceMember],
    send_day: NaiveDate,
) -> Vec<NewDelivery> {
    let due_at = broadcast.send_at.timestamp_millis();
    let expires_at = due_at + i64::from(tenant.lateness_window_minutes.max(1)) * 60_000;
    matching(audience, members, send_day)
        .map(|m| NewDelivery {
            key: keys::broadcast(&tenant.id, &broadcast.id, &m.contact_id),
            tenant_id: tenant.id.clone(),
            subscriber_id: m.subscriber_id.clone(),
            contact_id: m.contact_id.clone(),
            channel: m.channel.clone(),
            source: DeliverySource::Broadcast {
                broadcast_id: broadcast.id.clone(),
            },
            due_at,
            expires_at,
            status: OutboxStatus::Pending,
            late: None,
        })
        .collect()
}

/// A broadcast as created, to answer with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub broadcast: Broadcast,
}

/// The send date of a broadcast in the tenant's zone.
pub fn send_day(tenant: &Tenant, send_at: DateTime<Utc>) -> NaiveDate {
    let tz = tenant.tz().unwrap_or(chrono_tz::Asia::Tokyo);
    send_at.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn member(channel: &str, children: Vec<(Option<&str>, Option<&str>)>) -> AudienceMember {
        AudienceMember {
            subscriber_id: "s".into(),
            contact_id: "c".into(),
            channel: channel.into(),
            children: children
                .into_iter()
                .map(|(a, b)| (a.map(d), b.map(d)))
                .collect(),
        }
    }

    #[test]
    fn audiences() {
        let day = d("2027-06-01");
        let expecting = member("line", vec![(Some("2027-09-01"), None)]);
        let baby = member("line", vec![(None, Some("2027-01-15"))]); // 4 months
        let toddler = member("email", vec![(None, Some("2025-05-01"))]); // 25 months
        let nobody = member("line", vec![]);
        let everyone = Audience::default();
        for m in [&expecting, &baby, &toddler, &nobody] {
            assert!(everyone.includes(m, day));
        }
        let pregnant = Audience {
            pregnant: Some(true),
            ..Audience::default()
        };
        assert!(pregnant.includes(&expecting, day));
        assert!(!pregnant.includes(&baby, day));
        assert!(!pregnant.includes(&nobody, day));
        let under_one = Audience {
            child_age_months: vec![MonthRange {
                from: 0,
                to: Some(12),
            }],
            ..Audience::default()
        };
        assert!(under_one.includes(&baby, day));
        assert!(!under_one.includes(&toddler, day));
        assert!(!under_one.includes(&expecting, day));
        // Exactly 4 months on the 15th: in [4, 5), not in [0, 4).
        let four = Audience {
            child_age_months: vec![MonthRange {
                from: 4,
                to: Some(5),
            }],
            ..Audience::default()
        };
        assert!(four.includes(&baby, d("2027-05-15")));
        assert!(!four.includes(&baby, d("2027-05-14")));
        let email_only = Audience {
            channels: vec!["email".into()],
            ..Audience::default()
        };
        assert!(email_only.includes(&toddler, day));
        assert!(!email_only.includes(&baby, day));
        assert!(serde_json::from_str::<Audience>(r#"{"pregant": true}"#).is_err());
        let members = [
            expecting.clone(),
            baby.clone(),
            toddler.clone(),
            nobody.clone(),
        ];
        let r = reach(&under_one, &members, day, 5);
        assert_eq!((r.households, r.contacts), (1, 1));
        assert_eq!(r.by_channel.get("line"), Some(&1));
        let all = reach(&everyone, &members, day, 5);
        assert_eq!(
            (all.households, all.contacts),
            (1, 4),
            "one subscriber id `s`"
        );
    }
}
