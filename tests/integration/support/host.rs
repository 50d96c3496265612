//! The host end to end, as the `e2e_*` suites drive it: the real server on
//! a fresh SQLite file with the bundled plugins, on a clock the test moves,
//! with the planner and the dispatcher run by hand (as in `pipeline.rs`); a
//! tenant with the demo catalog; and the API calls the suites share.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_scheduler::{Clock, ManualClock};

use super::server::{Db, TestServer};

/// The tenant every suite uses.
pub const TENANT: &str = "otaru";
/// Its display name (the demo catalog signs each message with it).
pub const TENANT_NAME: &str = "小樽市";

/// A time in the tenant's zone (Asia/Tokyo).
pub fn jst(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Tokyo
        .from_local_datetime(&day.and_hms_opt(h, m, 0).expect("a time of day"))
        .single()
        .expect("Tokyo has no ambiguous times")
        .with_timezone(&Utc)
}

/// The day the suites run on.
pub fn today() -> NaiveDate {
    "2027-01-04".parse().expect("a date")
}

/// A birth date whose child gets the demo catalog's `child-day-005` today.
pub fn born_five_days_ago() -> NaiveDate {
    today() - Duration::days(5)
}

/// The running host.
pub struct Host {
    pub server: TestServer,
    pub clock: Arc<ManualClock>,
}

impl Host {
    /// A host at 09:01 today (just after the tenant's 09:00 send time), with
    /// the tenant and the demo catalog.
    pub async fn start() -> Self {
        Self::start_at(jst(today(), 9, 1)).await
    }

    /// A host at `at`, with the tenant and the demo catalog.
    pub async fn start_at(at: DateTime<Utc>) -> Self {
        Self::open(at, false).await
    }

    /// [`Host::start_at`] with the planner and dispatcher running as
    /// `tayori serve` runs them (on the manual clock).
    pub async fn start_running_at(at: DateTime<Utc>) -> Self {
        Self::open(at, true).await
    }

    async fn open(at: DateTime<Utc>, run_scheduler: bool) -> Self {
        let clock = Arc::new(ManualClock::new(at));
        let shared = clock.clone();
        let server = TestServer::start_configured(Db::FreshSqlite, move |c| {
            c.clock = shared;
            c.run_scheduler = run_scheduler;
        })
        .await;
        let host = Self { server, clock };
        host.call(
            Method::POST,
            "/v1/tenants",
            Some(json!({"id": TENANT, "name": TENANT_NAME})),
        )
        .await;
        let catalog = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../catalog/demo.yaml"
        ))
        .expect("the demo catalog");
        let response = host
            .server
            .op(Method::POST, "/v1/catalog/import")
            .header("content-type", "application/yaml")
            .body(catalog)
            .send()
            .await
            .expect("import the catalog");
        assert!(
            response.status().is_success(),
            "catalog import: {}",
            response.text().await.unwrap_or_default()
        );
        host
    }

    /// A request with the operator token: its status and JSON body (`null`
    /// when empty).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.server.op(method, path);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.expect("a request to the host");
        let status = response.status();
        let text = response.text().await.expect("an answer");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"))
        };
        (status, body)
    }

    /// A request that must succeed; its JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.request(method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    /// Puts a channel of the tenant; answers it as the API shows it.
    pub async fn put_channel(&self, name: &str, channel: Value) -> Value {
        self.call(
            Method::PUT,
            &format!("/v1/tenants/{TENANT}/channels/{name}"),
            Some(channel),
        )
        .await
    }

    /// Puts the LINE channel `line` on the LINE fake (its token, secret
    /// and API base, the fake's address approved).
    pub async fn put_line_channel(&self, fake: &super::platforms::line::FakeLine) -> Value {
        use super::platforms::line::{ACCESS_TOKEN, CHANNEL_SECRET};
        self.put_channel(
            "line",
            json!({
                "plugin": "line",
                "config": {
                    "channel_access_token": ACCESS_TOKEN,
                    "channel_secret": CHANNEL_SECRET,
                    "api_base": fake.api_base(),
                },
                "allowed_hosts": approved(fake.addr),
            }),
        )
        .await
    }

    /// The channel as `GET` shows it.
    pub async fn channel(&self, name: &str) -> Value {
        self.call(
            Method::GET,
            &format!("/v1/tenants/{TENANT}/channels/{name}"),
            None,
        )
        .await
    }

    /// Registers a household with one contact and a child born on `birth`.
    pub async fn subscriber(
        &self,
        locale: &str,
        channel: &str,
        address: &str,
        birth: NaiveDate,
    ) -> Value {
        self.call(
            Method::POST,
            &format!("/v1/tenants/{TENANT}/subscribers"),
            Some(json!({
                "locale": locale,
                "contacts": [{"channel": channel, "address": address}],
                "children": [{"birth_date": birth.to_string()}],
            })),
        )
        .await
    }

    /// A subscriber as `GET` shows it.
    pub async fn get_subscriber(&self, id: &str) -> Value {
        self.call(
            Method::GET,
            &format!("/v1/tenants/{TENANT}/subscribers/{id}"),
            None,
        )
        .await
    }

    /// A broadcast to every subscriber, now.
    pub async fn broadcast(&self, subject: Option<&str>, body: &str) -> Value {
        self.call(
            Method::POST,
            &format!("/v1/tenants/{TENANT}/broadcasts"),
            Some(json!({"content": {"subject": subject, "body": body}, "audience": {}})),
        )
        .await
    }

    /// Plans the tenant's day as of the clock, then sends what is due.
    pub async fn plan_and_send(&self) {
        let scheduler = &self.server.launched.state.scheduler;
        scheduler.planner().run_once().await.expect("planning");
        self.send().await;
    }

    /// Sends what is due as of the clock.
    pub async fn send(&self) {
        self.server
            .launched
            .state
            .scheduler
            .dispatcher()
            .drain()
            .await
            .expect("dispatching");
    }

    /// Every delivery of the tenant matching `query` (`&status=sent`...),
    /// oldest first.
    pub async fn deliveries(&self, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/tenants/{TENANT}/deliveries?limit=500{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.call(Method::GET, &path, None).await;
            out.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        out.reverse();
        out
    }

    /// Every inbound event of the tenant, in order of arrival.
    pub async fn inbound(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/tenants/{TENANT}/inbound?limit=2");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.call(Method::GET, &path, None).await;
            out.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        out
    }

    /// The channel's webhook URL, as a platform is given it.
    pub fn hook_url(&self, channel: &str) -> String {
        self.server.url(&format!("/hooks/{TENANT}/{channel}"))
    }

    /// The host's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// `loopback:port` of a fake, as an operator approves it for a channel.
pub fn approved(addr: std::net::SocketAddr) -> Vec<String> {
    vec![format!("127.0.0.1:{}", addr.port())]
}

/// A delivery's time field.
pub fn time(delivery: &Value, field: &str) -> DateTime<Utc> {
    delivery[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {delivery}"))
        .parse()
        .expect("an RFC 3339 time")
}
