//! Tayori's own one-click stop link in every email (RFC 8058; DESIGN.md,
//! "Parents register and look after their own registration").
//!
//! Each recipient of an email channel is given `{public_url}/u/{token}`,
//! a signed [`LinkPurpose::Unsubscribe`] link naming the tenant, the
//! channel and the contact's address (the claims the parents' pages sign
//! and accept). The email plugin puts it in `List-Unsubscribe` beside
//! `List-Unsubscribe-Post: List-Unsubscribe=One-Click`; a mail client's
//! POST there stops that contact at once, a GET shows the stop page. The
//! channel's own `unsubscribe_url` template stays the plugin's fallback
//! (a host without links, a 0.1.0 plugin).
//!
//! Links are made only for channels whose plugin sends email, decided once
//! per batch: other channels (LINE and the rest) do no work per recipient.
//! A link is valid for long ([`DEFAULT_VALID_FOR_DAYS`]): mail is read,
//! and stopped, months after it was sent.

use chrono::{DateTime, Duration, Utc};
use tayori_core::{Channel, LinkClaims, LinkPurpose, LinkSigner, Recipient};

/// The plugins whose channels send email (and so carry a stop link).
pub const EMAIL_PLUGINS: &[&str] = &["email"];
/// How long a stop link works by default: two years.
pub const DEFAULT_VALID_FOR_DAYS: i64 = 730;

/// Signs the stop links the dispatcher gives email recipients.
#[derive(Debug, Clone)]
pub struct StopLinks {
    signer: LinkSigner,
    /// `public_url` without a trailing slash.
    base: String,
    valid_for: Duration,
    plugins: Vec<String>,
}

impl StopLinks {
    /// Links under `public_url` (where parents reach this host), signed
    /// with `signer` (the key the parents' pages check them with: the
    /// host's secret derived for `links`), valid for two years, for the
    /// channels of [`EMAIL_PLUGINS`].
    pub fn new(signer: LinkSigner, public_url: &str) -> Self {
        let base = public_url.trim().trim_end_matches('/').to_string();
        if !base.starts_with("https://") {
            tracing::warn!(
                public_url = %base,
                "the public URL is not https: mailbox providers may ignore the one-click stop link of each email"
            );
        }
        Self {
            signer,
            base,
            valid_for: Duration::days(DEFAULT_VALID_FOR_DAYS),
            plugins: EMAIL_PLUGINS.iter().map(|p| (*p).to_string()).collect(),
        }
    }

    /// Links valid for `valid_for` from when they are made.
    pub fn valid_for(self, valid_for: Duration) -> Self {
        Self { valid_for, ..self }
    }

    /// Links for the channels of these plugins instead.
    pub fn for_plugins<I, S>(self, plugins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            plugins: plugins.into_iter().map(Into::into).collect(),
            ..self
        }
    }

    /// Whether `channel`'s recipients get a stop link.
    pub fn applies_to(&self, channel: &Channel) -> bool {
        self.plugins.contains(&channel.plugin_id)
    }

    /// The links of one batch's recipients on `channel`, made at `now`;
    /// `None` when the channel sends no email.
    pub fn for_channel<'a>(
        &'a self,
        channel: &'a Channel,
        now: DateTime<Utc>,
    ) -> Option<ChannelStops<'a>> {
        self.applies_to(channel).then(|| ChannelStops {
            links: self,
            channel,
            expires_at: now + self.valid_for,
        })
    }
}

/// The stop links of one channel's recipients, all expiring alike.
#[derive(Debug, Clone, Copy)]
pub struct ChannelStops<'a> {
    links: &'a StopLinks,
    channel: &'a Channel,
    expires_at: DateTime<Utc>,
}

impl ChannelStops<'_> {
    /// `{public_url}/u/{token}` for the contact at `address`.
    pub fn url(&self, address: &str) -> String {
        let token = self.links.signer.sign(&LinkClaims {
            purpose: LinkPurpose::Unsubscribe,
            tenant: self.channel.tenant_id.clone(),
            channel: self.channel.name.clone(),
            address: address.to_string(),
            data: String::new(),
            expires_at: self.expires_at,
        });
        format!("{}/u/{token}", self.links.base)
    }

    /// When these links stop working.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
}

/// A batch's recipient, with its stop link when its channel has them.
pub fn recipient(stops: Option<&ChannelStops<'_>>, address: String, key: String) -> Recipient {
    Recipient {
        unsubscribe_url: stops.map(|s| s.url(&address)),
        address,
        idempotency_key: key,
    }
}

#[cfg(test)]
mod tests {
    use tayori_core::LinkError;

    use super::*;

    const KEY: [u8; 32] = [9; 32];

    fn channel(name: &str, plugin: &str) -> Channel {
        Channel {
            tenant_id: "otaru".into(),
            name: name.into(),
            plugin_id: plugin.into(),
            version: None,
            config: serde_json::json!({}),
            secrets_ciphertext: Vec::new(),
            allowed_hosts: Vec::new(),
            rate_per_second: None,
            daily_quota: None,
            paused: None,
            setup: None,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    fn now() -> DateTime<Utc> {
        "2027-01-04T00:01:00Z".parse().expect("a time")
    }

    fn links() -> StopLinks {
        StopLinks::new(LinkSigner::new(KEY), "https://tayori.example.jp/")
    }

    /// The token of a stop URL under the test's base.
    fn token(url: &str) -> &str {
        url.strip_prefix("https://tayori.example.jp/u/")
            .unwrap_or_else(|| panic!("not a stop link under the base: {url}"))
    }

    #[test]
    fn an_email_recipient_gets_a_link_the_stop_page_accepts() {
        let links = links();
        let mail = channel("mail", "email");
        let stops = links.for_channel(&mail, now()).expect("email has links");
        let r = recipient(Some(&stops), "mother@example.jp".into(), "key-1".into());
        assert_eq!(r.address, "mother@example.jp");
        assert_eq!(r.idempotency_key, "key-1");
        let url = r.unsubscribe_url.expect("a stop link");
        // The claims the parents' pages sign for a stop: the channel's
        // name, the address as stored, nothing else.
        let claims = LinkSigner::new(KEY)
            .verify(token(&url), LinkPurpose::Unsubscribe, now())
            .expect("the same key accepts it");
        assert_eq!(
            claims,
            LinkClaims {
                purpose: LinkPurpose::Unsubscribe,
                tenant: "otaru".into(),
                channel: "mail".into(),
                address: "mother@example.jp".into(),
                data: String::new(),
                expires_at: now() + Duration::days(DEFAULT_VALID_FOR_DAYS),
            }
        );
        // A URL as is in `List-Unsubscribe: <...>`: nothing to escape.
        assert!(
            token(&url)
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'),
            "{url}"
        );
    }

    #[test]
    fn links_work_for_two_years_and_not_after() {
        let links = links();
        let mail = channel("email", "email");
        let stops = links.for_channel(&mail, now()).expect("email has links");
        let url = stops.url("father@example.ne.jp");
        let signer = LinkSigner::new(KEY);
        let later = now() + Duration::days(DEFAULT_VALID_FOR_DAYS) - Duration::minutes(1);
        assert!(
            signer
                .verify(token(&url), LinkPurpose::Unsubscribe, later)
                .is_ok()
        );
        let past = now() + Duration::days(DEFAULT_VALID_FOR_DAYS);
        assert_eq!(
            signer.verify(token(&url), LinkPurpose::Unsubscribe, past),
            Err(LinkError::Expired)
        );
        let short = links.valid_for(Duration::days(1));
        let stops = short.for_channel(&mail, now()).expect("email has links");
        assert_eq!(stops.expires_at(), now() + Duration::days(1));
    }

    #[test]
    fn each_contact_has_its_own_link_and_no_other_key_accepts_it() {
        let links = links();
        let mail = channel("email", "email");
        let stops = links.for_channel(&mail, now()).expect("email has links");
        let (a, b) = (stops.url("a@example.jp"), stops.url("b@example.jp"));
        assert_ne!(a, b);
        assert_eq!(
            LinkSigner::new([8; 32]).verify(token(&a), LinkPurpose::Unsubscribe, now()),
            Err(LinkError::Altered)
        );
        // A stop link is no other kind of link.
        assert_eq!(
            LinkSigner::new(KEY).verify(token(&a), LinkPurpose::Manage, now()),
            Err(LinkError::WrongPurpose)
        );
    }

    #[test]
    fn other_channels_get_no_link_and_no_work() {
        let links = links();
        for plugin in ["line", "x-dm", "kanameto", "muni-app"] {
            let other = channel(plugin, plugin);
            assert!(!links.applies_to(&other), "{plugin}");
            assert!(links.for_channel(&other, now()).is_none(), "{plugin}");
        }
        let r = recipient(None, "Uabc".into(), "key-2".into());
        assert_eq!(r.unsubscribe_url, None);
        // Another email plugin can be named.
        let ses = links.for_plugins(["email", "ses-email"]);
        assert!(ses.applies_to(&channel("mail", "ses-email")));
        assert!(!ses.applies_to(&channel("line", "line")));
    }

    #[test]
    fn the_base_is_the_public_url_without_its_trailing_slash() {
        for base in [
            "https://tayori.example.jp",
            "https://tayori.example.jp/",
            " https://tayori.example.jp// ",
        ] {
            let links = StopLinks::new(LinkSigner::new(KEY), base);
            let mail = channel("email", "email");
            let url = links
                .for_channel(&mail, now())
                .expect("email has links")
                .url("a@example.jp");
            assert!(
                url.starts_with("https://tayori.example.jp/u/") && !url.contains("//u/"),
                "{url}"
            );
        }
        // Under a path prefix (behind a proxy) the prefix is kept.
        let links = StopLinks::new(LinkSigner::new(KEY), "https://example.jp/tayori/");
        let mail = channel("email", "email");
        let url = links
            .for_channel(&mail, now())
            .expect("email has links")
            .url("a@example.jp");
        assert!(url.starts_with("https://example.jp/tayori/u/"), "{url}");
    }
}
