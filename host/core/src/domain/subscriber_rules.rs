//! The checks on a tenant's subscriber data, shared by every way it comes
//! in (the API, the CSV import, the console): dates are real calendar
//! dates, a due date is within the pregnancy that could be (not more than
//! 10 months ahead, not long past), a birth date is not in the future,
//! contacts name the tenant's channels, external ids and addresses are
//! bounded, stop reasons are the known ones. "Today" is the tenant's today,
//! in its time zone. A refusal names the field's path.

use std::collections::HashSet;

use chrono::{NaiveDate, Utc};

use super::registration::DateRules;
use super::{Locale, NewChild, NewContact, Tenant};

/// The longest address (an email address is at most 254; LINE ids are 33).
pub const MAX_ADDRESS_LEN: usize = 320;
/// The longest external id.
pub const MAX_EXTERNAL_ID_LEN: usize = 128;

/// Why a child is stopped. Kept coarse on purpose: the reason is personal
/// data (and erased with the subscriber), and reports count by it.
pub const STOP_REASONS: &[&str] = &[
    "pregnancy_loss",
    "child_loss",
    "unsubscribed",
    "moved_away",
    "duplicate",
    "other",
];

/// A refused value: the field's path and what is wrong.
pub type Refusal = (String, String);

fn refuse(field: impl Into<String>, message: impl Into<String>) -> Refusal {
    (field.into(), message.into())
}

/// The checks on a tenant's subscriber data, as of the tenant's today.
pub struct SubscriberRules {
    today: NaiveDate,
    channels: HashSet<String>,
    channel_list: String,
}

impl SubscriberRules {
    /// The rules for `tenant` with its channels' names.
    pub fn new(
        tenant: &Tenant,
        now: chrono::DateTime<Utc>,
        channels: impl IntoIterator<Item = String>,
    ) -> Self {
        let tz = tenant.tz().unwrap_or(chrono_tz::Asia::Tokyo);
        let today = now.with_timezone(&tz).date_naive();
        Self::on(today, channels)
    }

    /// The rules as of `today`.
    pub fn on(today: NaiveDate, channels: impl IntoIterator<Item = String>) -> Self {
        let channels: HashSet<String> = channels.into_iter().collect();
        let mut names: Vec<&str> = channels.iter().map(String::as_str).collect();
        names.sort_unstable();
        let channel_list = if names.is_empty() {
            "it has none yet (PUT /v1/tenants/{tenant}/channels/{channel})".to_string()
        } else {
            format!("its channels: {}", names.join(", "))
        };
        Self {
            today,
            channels,
            channel_list,
        }
    }

    /// A calendar date written `YYYY-MM-DD` (or `YYYY/MM/DD`, as Japanese
    /// spreadsheets write it).
    pub fn date(field: &str, s: &str) -> Result<NaiveDate, Refusal> {
        let s = s.trim();
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(s, "%Y/%m/%d"))
            .map_err(|_| refuse(field, format!("`{s}` is not a date (YYYY-MM-DD)")))
    }

    pub fn locale(field: &str, s: Option<&str>) -> Result<Locale, Refusal> {
        match s.map(str::trim) {
            None | Some("") => Ok(Locale::Ja),
            Some(s) => s.parse().map_err(|e| refuse(field, format!("{e}"))),
        }
    }

    pub fn external_id(field: &str, s: &str) -> Result<String, Refusal> {
        let s = s.trim();
        if s.is_empty() {
            return Err(refuse(field, "is empty"));
        }
        if s.chars().count() > MAX_EXTERNAL_ID_LEN || s.chars().any(char::is_control) {
            return Err(refuse(
                field,
                format!(
                    "must be at most {MAX_EXTERNAL_ID_LEN} characters, without control characters"
                ),
            ));
        }
        Ok(s.to_string())
    }

    /// A child from its dates.
    pub fn child(
        &self,
        prefix: &str,
        due: Option<&str>,
        birth: Option<&str>,
    ) -> Result<NewChild, Refusal> {
        let due_field = format!("{prefix}due_date");
        let birth_field = format!("{prefix}birth_date");
        let due = due
            .filter(|s| !s.trim().is_empty())
            .map(|s| Self::date(&due_field, s))
            .transpose()?;
        let birth = birth
            .filter(|s| !s.trim().is_empty())
            .map(|s| Self::date(&birth_field, s))
            .transpose()?;
        match (due, birth) {
            (None, None) => Err(refuse(
                prefix.trim_end_matches('.'),
                "a child needs a due_date or a birth_date",
            )),
            (_, Some(b)) => {
                DateRules::new(self.today)
                    .birth(b)
                    .map_err(|p| refuse(birth_field, p.api_message(b)))?;
                Ok(NewChild {
                    due_date: due,
                    birth_date: Some(b),
                })
            }
            (Some(d), None) => DateRules::new(self.today)
                .child(false, d)
                .map_err(|p| refuse(due_field, p.api_message(d))),
        }
    }

    /// A contact on one of the tenant's channels.
    pub fn contact(
        &self,
        prefix: &str,
        channel: &str,
        address: &str,
    ) -> Result<NewContact, Refusal> {
        let channel = channel.trim();
        let address = address.trim();
        if channel.is_empty() {
            return Err(refuse(format!("{prefix}channel"), "is empty"));
        }
        if !self.channels.contains(channel) {
            return Err(refuse(
                format!("{prefix}channel"),
                format!(
                    "the tenant has no channel `{channel}`; {}",
                    self.channel_list
                ),
            ));
        }
        if address.is_empty() {
            return Err(refuse(format!("{prefix}address"), "is empty"));
        }
        if address.chars().count() > MAX_ADDRESS_LEN || address.chars().any(char::is_control) {
            return Err(refuse(
                format!("{prefix}address"),
                format!("must be at most {MAX_ADDRESS_LEN} characters, without control characters"),
            ));
        }
        Ok(NewContact {
            channel: channel.to_string(),
            address: address.to_string(),
        })
    }

    /// A household's contacts: at least one, each on one of the tenant's
    /// channels, no two the same.
    pub fn contacts<'a>(
        &self,
        list: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Vec<NewContact>, Refusal> {
        let mut out: Vec<NewContact> = Vec::new();
        for (j, (channel, address)) in list.into_iter().enumerate() {
            let contact = self.contact(&format!("contacts[{j}]."), channel, address)?;
            if let Some(first) = out.iter().position(|o| *o == contact) {
                return Err(refuse(
                    format!("contacts[{j}]"),
                    format!("the same channel and address as contacts[{first}]"),
                ));
            }
            out.push(contact);
        }
        if out.is_empty() {
            return Err(refuse(
                "contacts",
                "at least one contact (channel and address) is needed",
            ));
        }
        Ok(out)
    }

    /// A stop reason, one of [`STOP_REASONS`].
    pub fn stop_reason(field: &str, reason: &str) -> Result<&'static str, Refusal> {
        let reason = reason.trim();
        STOP_REASONS
            .iter()
            .copied()
            .find(|r| *r == reason)
            .ok_or_else(|| {
                refuse(
                    field,
                    format!(
                        "unknown reason `{reason}`; expected one of: {}",
                        STOP_REASONS.join(", ")
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> SubscriberRules {
        SubscriberRules::on("2026-06-15".parse().unwrap(), ["line".to_string()])
    }

    #[test]
    fn dates_follow_the_rules() {
        let r = rules();
        assert!(r.child("c.", Some("2027-04-15"), None).is_ok());
        let (f, m) = r.child("c.", Some("2027-02-30"), None).unwrap_err();
        assert_eq!(
            (f.as_str(), m.as_str()),
            ("c.due_date", "`2027-02-30` is not a date (YYYY-MM-DD)")
        );
        let (f, m) = r.child("c.", Some("2027-04-16"), None).unwrap_err();
        assert_eq!(f, "c.due_date");
        assert!(m.contains("more than 10 months ahead"), "{m}");
        assert!(r.child("c.", Some("2026-06-01"), None).is_ok());
        let (_, m) = r.child("c.", Some("2026-05-31"), None).unwrap_err();
        assert!(m.contains("more than 14 days past"), "{m}");
        let (f, m) = r.child("c.", None, Some("2026-06-16")).unwrap_err();
        assert_eq!(f, "c.birth_date");
        assert!(m.contains("in the future"), "{m}");
        assert!(
            r.child("c.", Some("2025-01-01"), Some("2024/12/24"))
                .is_ok()
        );
        let (f, _) = r.child("children[0].", None, None).unwrap_err();
        assert_eq!(f, "children[0]");
    }

    #[test]
    fn contacts_name_the_tenants_channels() {
        let r = rules();
        assert!(r.contact("", "line", "U1").is_ok());
        let (f, m) = r.contact("contacts[0].", "lin", "U1").unwrap_err();
        assert_eq!(f, "contacts[0].channel");
        assert!(m.contains("its channels: line"), "{m}");
        let (f, _) = r.contact("", "line", " ").unwrap_err();
        assert_eq!(f, "address");
        let (f, m) = r.contacts([("line", "U1"), ("line", "U1")]).unwrap_err();
        assert_eq!(f, "contacts[1]");
        assert!(m.contains("contacts[0]"), "{m}");
        let (f, _) = r.contacts([]).unwrap_err();
        assert_eq!(f, "contacts");
    }

    #[test]
    fn stop_reasons_are_the_known_ones() {
        assert_eq!(
            SubscriberRules::stop_reason("reason", " duplicate ").unwrap(),
            "duplicate"
        );
        let (f, m) = SubscriberRules::stop_reason("reason", "bored").unwrap_err();
        assert_eq!(f, "reason");
        assert!(m.contains("pregnancy_loss"), "{m}");
    }
}
