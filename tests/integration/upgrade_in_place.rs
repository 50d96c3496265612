//! Old plugins keep working (issue 13): a database made by the host before
//! contract 0.2.0 (commit 6189478^, whose plugins are all contract 0.1.0),
//! with LINE 0.1.0 active on its channels and deliveries pending, upgrades
//! in place on the first start of today's host and keeps delivering through
//! that plugin, with no operator step.
//!
//! The databases are `tests/fixtures/upgrade-from-0.1/`, made by
//! `scripts/make-upgrade-fixture` with the old binary through its CLI and
//! API (see the README there): the SQLite file with the key file the old
//! host created beside it, and a plain-SQL `pg_dump` of a PostgreSQL
//! database the old host made, restored here into a fresh database. Beside
//! each, `old-host.json` keeps what the old host answered while making it
//! and every request its fake LINE received: what this test expects comes
//! from there, not from the new host.
//!
//! The one thing the test changes before the start is each channel's
//! `api_base`, a plain-text config field: the old host's fake LINE listened
//! on a port of its own, this test's listens on another. The operator's
//! approval of the outbound host (`127.0.0.1:*`), the secrets, the plugin
//! versions, activations and every other row are as the old host left them.
//!
//! Then the new host starts on its clock at the fixture's send time (plus a
//! minute), as `tayori serve` does: migrations 0014-0016 applied, stored
//! plugins loaded by their stored contract version, this binary's bundled
//! plugins (LINE 0.2.0 among them) published beside them. The planner and
//! the dispatcher, which `tayori serve` runs in its loops, are run by hand
//! so that the test knows when they are done.
//!
//! Checked, on SQLite and (when `TAYORI_TEST_DATABASE_URL` is set) on
//! PostgreSQL: the stored LINE 0.1.0 stays active and is what the channels
//! resolve to; the channels have no set-up result; the outbox is as the old
//! host left it; at the send time each pending delivery reaches the LINE
//! fake once, pushed with its stored key as `X-Line-Retry-Key`, with the
//! very text the old host sent for the same message (to `otaru-sent`, a
//! twin tenant whose day it sent before it stopped), and is recorded as
//! sent through 0.1.0; nothing sent or cancelled before moves; planning
//! again, also after a household changes, adds and sends nothing; the API
//! answers for the old tenant with the operator's and the old tenant
//! token; the old inbound events are kept; a signed webhook still goes
//! through LINE 0.1.0.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, Executor};
use tayori_scheduler::ManualClock;

use crate::support::api::DATABASE_URL_VAR;
use crate::support::platforms::line::FakeLine;
use crate::support::server::{Db, TestServer};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/upgrade-from-0.1"
);
/// The tenant whose deliveries are pending in the fixture.
const TENANT: &str = "otaru";
/// The tenant whose day the old host sent (the texts expected of `otaru`).
const SENT_TENANT: &str = "otaru-sent";
/// The broadcast pending at the upgrade, as the script posted it and LINE
/// 0.1.0 renders it (subject, blank line, body).
const PENDING_BROADCAST: &str =
    "【小樽市】\n\n今夜は大雪の予報です。明日の外出はお控えください。(pending at the upgrade)";
/// The old host's last migration, and the ones this host adds since.
const OLD_LAST_MIGRATION: i64 = 12;
const NEW_MIGRATIONS: [i64; 3] = [14, 15, 16];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    fn dir(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// What the old host answered while it made one engine's database.
struct OldHost(Value);

impl OldHost {
    fn load(engine: Engine) -> Self {
        let path = Path::new(FIXTURE).join(engine.dir()).join("old-host.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self(serde_json::from_str(&text).expect("old-host.json is JSON"))
    }

    fn deliveries(&self, tenant: &str) -> &[Value] {
        let list = if tenant == TENANT {
            &self.0["deliveries"]
        } else {
            &self.0[tenant]["deliveries"]
        };
        assert!(list["next_cursor"].is_null(), "one page holds them all");
        list["items"].as_array().expect("items")
    }

    fn subscribers(&self, tenant: &str) -> &[Value] {
        let list = if tenant == TENANT {
            &self.0["subscribers"]
        } else {
            &self.0[tenant]["subscribers"]
        };
        list["items"].as_array().expect("items")
    }

    /// A contact's address, and where it sits: (external id, its place
    /// among the household's contacts).
    fn contact(&self, tenant: &str, contact_id: &str) -> (String, (String, usize)) {
        for s in self.subscribers(tenant) {
            for (i, c) in s["contacts"]
                .as_array()
                .expect("contacts")
                .iter()
                .enumerate()
            {
                if c["id"] == contact_id {
                    let address = c["address"].as_str().expect("address").to_string();
                    let external = s["external_id"].as_str().expect("external id").to_string();
                    return (address, (external, i));
                }
            }
        }
        panic!("no contact {contact_id} in {tenant}")
    }

    /// The texts the old host's fake LINE received, by recipient.
    fn sent_texts(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in self.0["line_requests"].as_array().expect("line_requests") {
            assert_eq!(r["path"], "/v2/bot/message/push", "{r}");
            let texts = r["body"]["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .map(|m| m["text"].as_str().expect("a text").to_string());
            out.entry(r["body"]["to"].as_str().expect("to").to_string())
                .or_default()
                .extend(texts);
        }
        out
    }

    fn send_at(&self) -> DateTime<Utc> {
        self.0["send_at"]
            .as_str()
            .expect("send_at")
            .parse()
            .expect("RFC 3339")
    }

    fn str(&self, field: &str) -> &str {
        self.0[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in old-host.json"))
    }
}

/// One delivery pending in the fixture and what must reach LINE for it.
#[derive(Debug)]
struct Expected {
    id: i64,
    key: String,
    address: String,
    text: String,
}

/// The pending deliveries of `otaru`, with the texts the old host sent for
/// the same messages to the same place in `otaru-sent`'s households.
fn expected(old: &OldHost) -> Vec<Expected> {
    let sent = old.sent_texts();
    // The old host's LINE 0.1.0 pushes with the delivery's own key as
    // `X-Line-Retry-Key`: so the fixture's sent rows say.
    for d in old.deliveries(SENT_TENANT) {
        let (address, _) = old.contact(SENT_TENANT, d["contact_id"].as_str().unwrap());
        let request = old.0["line_requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["body"]["to"] == address.as_str())
            .unwrap_or_else(|| panic!("no request to {address}"));
        assert_eq!(request["retry_key"], d["key"], "{request} {d}");
    }
    let mut out = Vec::new();
    for d in old.deliveries(TENANT) {
        if d["status"] != "pending" {
            continue;
        }
        let (address, place) = old.contact(TENANT, d["contact_id"].as_str().unwrap());
        let text = match d["kind"].as_str().unwrap() {
            "broadcast" => PENDING_BROADCAST.to_string(),
            "scheduled" => {
                let twin = old
                    .deliveries(SENT_TENANT)
                    .iter()
                    .find(|s| {
                        s["message_id"] == d["message_id"]
                            && old
                                .contact(SENT_TENANT, s["contact_id"].as_str().unwrap())
                                .1
                                == place
                    })
                    .unwrap_or_else(|| panic!("no sent twin of {d}"));
                let (twin_address, _) =
                    old.contact(SENT_TENANT, twin["contact_id"].as_str().unwrap());
                let texts = &sent[&twin_address];
                assert_eq!(texts.len(), 1, "{twin_address}: {texts:?}");
                texts[0].clone()
            }
            other => panic!("kind {other}"),
        };
        out.push(Expected {
            id: d["id"].as_i64().unwrap(),
            key: d["key"].as_str().unwrap().to_string(),
            address,
            text,
        });
    }
    out
}

/// The fixture's database, copied or restored where the new host may use
/// it; removed on drop (SQLite) or by [`Prepared::remove`] (PostgreSQL).
struct Prepared {
    target: Target,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL server and the database made for this test.
    pg: Option<(String, String)>,
}

/// Where the prepared database is.
#[derive(Clone)]
struct Target {
    url: String,
    postgres: bool,
}

impl Prepared {
    fn sqlite() -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("temp dir");
        for file in ["tayori.db", "tayori.key"] {
            let from = Path::new(FIXTURE).join("sqlite").join(file);
            std::fs::copy(&from, dir.path().join(file))
                .unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        }
        // As an operator restores a backup: the key readable by the host only.
        std::fs::set_permissions(
            dir.path().join("tayori.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod the key file");
        Self {
            target: Target {
                url: format!("sqlite://{}", dir.path().join("tayori.db").display()),
                postgres: false,
            },
            _dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh database on `TAYORI_TEST_DATABASE_URL`'s server with the
    /// dump restored into it; `None` (saying so) when the variable is unset.
    async fn postgres() -> Option<Self> {
        let Ok(base) = std::env::var(DATABASE_URL_VAR) else {
            eprintln!("{DATABASE_URL_VAR} is not set: skipping the PostgreSQL upgrade");
            return None;
        };
        let name = format!("tayori_it_upgrade_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("cannot reach {DATABASE_URL_VAR}: {e}"));
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create the test database");
        let (head, query) = match base.split_once('?') {
            Some((h, q)) => (h, format!("?{q}")),
            None => (base.as_str(), String::new()),
        };
        let (server, _) = head.rsplit_once('/').expect("a database URL with a path");
        let url = format!("{server}/{name}{query}");
        let dump = std::fs::read_to_string(Path::new(FIXTURE).join("postgres/dump.sql"))
            .expect("the dump");
        let mut conn = sqlx::PgConnection::connect(&url)
            .await
            .expect("reach the test database");
        sqlx::raw_sql(&dump)
            .execute(&mut conn)
            .await
            .expect("restore the dump");
        conn.close().await.expect("close");
        Some(Self {
            target: Target {
                url,
                postgres: true,
            },
            _dir: None,
            pg: Some((base, name)),
        })
    }

    async fn remove(self) {
        if let Some((base, name)) = &self.pg {
            let mut admin = sqlx::PgConnection::connect(base)
                .await
                .expect("reach PostgreSQL");
            admin
                .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
                .await
                .expect("drop the test database");
        }
    }
}

impl Target {
    /// The applied migrations' versions (all successful).
    async fn migrations(&self) -> Vec<i64> {
        let rows: Vec<(i64, bool)> = if self.postgres {
            let mut c = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&mut c)
                .await
                .expect("migrations")
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&mut c)
                .await
                .expect("migrations")
        };
        assert!(rows.iter().all(|(_, ok)| *ok), "{rows:?}");
        rows.into_iter().map(|(v, _)| v).collect()
    }

    /// Points every channel at `api_base` (the one change the test makes);
    /// the number of channels changed.
    async fn point_channels_at(&self, api_base: &str) -> u64 {
        if self.postgres {
            let mut c = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query(
                "UPDATE channels SET config = jsonb_set(config, '{api_base}', to_jsonb($1::text))",
            )
            .bind(api_base)
            .execute(&mut c)
            .await
            .expect("update")
            .rows_affected()
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query("UPDATE channels SET config = json_set(config, '$.api_base', ?)")
                .bind(api_base)
                .execute(&mut c)
                .await
                .expect("update")
                .rows_affected()
        }
    }
}

/// Runs `test` on `prepared`, then removes the database even if it failed.
async fn run<F, Fut>(prepared: Prepared, test: F)
where
    F: FnOnce(Target) -> Fut,
    Fut: Future<Output = ()>,
{
    let outcome = AssertUnwindSafe(test(prepared.target.clone()))
        .catch_unwind()
        .await;
    prepared.remove().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn request(
    server: &TestServer,
    token: Option<&str>,
    method: Method,
    path: &str,
) -> (StatusCode, Value) {
    let request = match token {
        None => server.op(method, path),
        Some(t) => server.http.request(method, server.url(path)).bearer_auth(t),
    };
    let response = request.send().await.expect("a request to the host");
    let status = response.status();
    let text = response.text().await.expect("an answer");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: {status}: {text}"))
    };
    (status, body)
}

async fn get(server: &TestServer, path: &str) -> Value {
    let (status, body) = request(server, None, Method::GET, path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// Every delivery of a tenant, oldest first.
async fn deliveries(server: &TestServer, tenant: &str) -> Vec<Value> {
    let page = get(
        server,
        &format!("/v1/tenants/{tenant}/deliveries?limit=500"),
    )
    .await;
    assert!(page["next_cursor"].is_null(), "{page}");
    let mut items = page["items"].as_array().expect("items").clone();
    items.reverse();
    items
}

/// Deliveries by id: key and status.
fn outbox(rows: &[Value]) -> BTreeMap<i64, (String, String)> {
    rows.iter()
        .map(|d| {
            let text = |f: &str| {
                d[f].as_str()
                    .unwrap_or_else(|| panic!("{f}: {d}"))
                    .to_string()
            };
            (d["id"].as_i64().expect("id"), (text("key"), text("status")))
        })
        .collect()
}

/// Runs the planner once and sends everything due, as the loops of
/// `tayori serve` do.
async fn plan_and_send(server: &TestServer) {
    let scheduler = &server.launched.state.scheduler;
    scheduler.planner().run_once().await.expect("planning");
    scheduler.dispatcher().drain().await.expect("dispatching");
}

async fn upgrade(engine: Engine, prepared: Prepared) {
    let old = OldHost::load(engine);
    assert_eq!(old.0["engine"], engine.dir());
    let expected = expected(&old);
    assert_eq!(expected.len(), 8, "{expected:?}");
    let fake = FakeLine::start().await;

    run(prepared, |target| async move {
        // The fixture is the old host's (its migrations end at 0012); the
        // one change: where its channels' LINE is.
        let applied = target.migrations().await;
        assert_eq!(applied.last(), Some(&OLD_LAST_MIGRATION), "{applied:?}");
        let changed = target.point_channels_at(&fake.api_base()).await;
        assert_eq!(changed, 2, "otaru's and otaru-sent's LINE channels");

        // ---- the first start: no operator step ---------------------------
        let clock = Arc::new(ManualClock::new(old.send_at() + Duration::minutes(1)));
        let server = TestServer::start_configured(Db::Url(target.url.clone()), move |c| {
            c.clock = clock;
            c.run_scheduler = false;
        })
        .await;

        // The stored LINE 0.1.0 is still the active version, beside this
        // host's bundled LINE (contract 0.2.0), which waits for an operator.
        let plugins = get(&server, "/v1/plugins").await;
        let line = plugins["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "line")
            .unwrap_or_else(|| panic!("no line in {plugins}"));
        let old_line = old.0["plugins"]["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "line")
            .unwrap();
        assert_eq!(line["active_version"], "0.1.0", "{line}");
        assert_eq!(line["canaries"], json!({}), "{line}");
        let versions = line["versions"].as_array().unwrap();
        let stored = versions
            .iter()
            .find(|v| v["version"] == "0.1.0")
            .unwrap_or_else(|| panic!("{line}"));
        assert_eq!(stored["contract"], "0.1.0", "{stored}");
        assert_eq!(
            stored["digest"], old_line["versions"][0]["digest"],
            "{stored}"
        );
        assert!(
            versions
                .iter()
                .any(|v| v["version"] != "0.1.0" && v["contract"] == "0.2.0"),
            "this host's bundled LINE is published too: {line}"
        );

        // The channels as the old host left them, with nothing set up.
        for tenant in [TENANT, SENT_TENANT] {
            let channel = get(&server, &format!("/v1/tenants/{tenant}/channels/line")).await;
            assert_eq!(channel["plugin"], "line", "{channel}");
            assert_eq!(channel["version"], Value::Null, "{channel}");
            assert_eq!(channel["resolved_version"], "0.1.0", "{channel}");
            assert_eq!(channel["setup"], Value::Null, "{channel}");
            assert_eq!(channel["paused"], Value::Null, "{channel}");
            assert_eq!(channel["secrets_error"], Value::Null, "{channel}");
            assert_eq!(
                channel["secrets_set"], old.0["channel"]["secrets_set"],
                "{channel}"
            );
            assert_eq!(
                channel["allowed_hosts"],
                json!(["127.0.0.1:*"]),
                "{channel}"
            );
            assert_eq!(channel["config"]["mode"], "full", "{channel}");
            assert_eq!(channel["config"]["api_base"], fake.api_base(), "{channel}");
        }
        // The tenant keeps its settings; what 0015 added has its defaults.
        let tenant = get(&server, &format!("/v1/tenants/{TENANT}")).await;
        for field in [
            "name",
            "time_zone",
            "send_time",
            "span",
            "programs",
            "lateness_window_minutes",
        ] {
            assert_eq!(tenant[field], old.0["tenant"][field], "{field}: {tenant}");
        }
        assert_eq!(tenant["program_spans"], json!({}), "{tenant}");
        assert_eq!(tenant["unreported_birth"], "continue", "{tenant}");
        assert_eq!(tenant["corrected_age"], Value::Null, "{tenant}");

        // The outbox as the old host left it.
        for tenant in [TENANT, SENT_TENANT] {
            assert_eq!(
                outbox(&deliveries(&server, tenant).await),
                outbox(old.deliveries(tenant)),
                "{tenant}'s outbox after the start"
            );
        }

        // ---- the send time: the pending deliveries go out, once ----------
        plan_and_send(&server).await;

        let attempts = fake.attempts();
        let seen: Vec<(String, String, u16)> = attempts
            .iter()
            .map(|a| {
                (
                    a.path.clone(),
                    a.header("x-line-retry-key").unwrap_or("-").to_string(),
                    a.status,
                )
            })
            .collect();
        assert_eq!(attempts.len(), expected.len(), "one request each: {seen:?}");
        for e in &expected {
            let to_it: Vec<_> = attempts
                .iter()
                .filter(|a| a.header("x-line-retry-key") == Some(e.key.as_str()))
                .collect();
            assert_eq!(to_it.len(), 1, "delivery {} ({}): {seen:?}", e.id, e.key);
            let a = to_it[0];
            assert_eq!(
                (a.path.as_str(), a.status),
                ("/v2/bot/message/push", 200),
                "{e:?}"
            );
            assert_eq!(
                a.json(),
                json!({"to": e.address, "messages": [{"type": "text", "text": e.text}]}),
                "delivery {}",
                e.id
            );
        }
        assert_eq!(fake.deliveries().len(), expected.len());

        // Each is recorded as sent through 0.1.0, with LINE's message id;
        // the rest of the outbox is as it was.
        let accepted = fake.accepted();
        for tenant in [TENANT, SENT_TENANT] {
            let rows = deliveries(&server, tenant).await;
            assert_eq!(
                rows.len(),
                old.deliveries(tenant).len(),
                "{tenant}: no new rows"
            );
            for d in rows {
                let id = d["id"].as_i64().unwrap();
                let was = old
                    .deliveries(tenant)
                    .iter()
                    .find(|o| o["id"] == id)
                    .unwrap_or_else(|| panic!("{tenant}: a new row {d}"));
                if let Some(e) = expected.iter().find(|e| e.id == id && tenant == TENANT) {
                    assert_eq!(d["status"], "sent", "{d}");
                    assert_eq!(d["attempts"], 1, "{d}");
                    assert_eq!(d["plugin_version"], "0.1.0", "{d}");
                    let request = accepted
                        .iter()
                        .find(|a| a.retry_key.as_deref() == Some(e.key.as_str()))
                        .expect("accepted");
                    assert_eq!(d["receipt"], request.message_ids.join(","), "{d}");
                } else {
                    for field in ["status", "attempts", "receipt", "plugin_version", "sent_at"] {
                        assert_eq!(d[field], was[field], "{tenant} {id} {field}: {d}");
                    }
                }
            }
        }

        // Planned and dispatched again (as the loops do every minute):
        // nothing more goes out.
        plan_and_send(&server).await;
        assert_eq!(fake.attempts().len(), expected.len(), "nothing sent twice");
        // A parent changes the household's language after the upgrade: the
        // planner plans that household's day again and finds what the old
        // host planned under the same keys: nothing more goes out.
        let k3 = old
            .subscribers(TENANT)
            .iter()
            .find(|s| s["external_id"] == "K0003")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let answer = server
            .op(
                Method::PATCH,
                &format!("/v1/tenants/{TENANT}/subscribers/{k3}"),
            )
            .json(&json!({"locale": "ja"}))
            .send()
            .await
            .expect("PATCH");
        assert_eq!(answer.status(), StatusCode::OK);
        plan_and_send(&server).await;
        assert_eq!(
            fake.attempts().len(),
            expected.len(),
            "nothing sent twice after a change"
        );
        assert_eq!(
            deliveries(&server, TENANT).await.len(),
            old.deliveries(TENANT).len(),
            "no new rows after a change"
        );

        // ---- the API answers for the old tenant and channel --------------
        let tenant_token = old.str("tenant_admin_token").to_string();
        let subscriber = old.subscribers(TENANT)[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let broadcast = old
            .deliveries(TENANT)
            .iter()
            .find(|d| d["status"] == "pending" && d["kind"] == "broadcast")
            .unwrap()["broadcast_id"]
            .as_str()
            .unwrap()
            .to_string();
        let day = old.str("day");
        let paths = [
            format!("/v1/tenants/{TENANT}"),
            format!("/v1/tenants/{TENANT}/channels"),
            format!("/v1/tenants/{TENANT}/channels/line"),
            format!("/v1/tenants/{TENANT}/subscribers"),
            format!("/v1/tenants/{TENANT}/subscribers/counts"),
            format!("/v1/tenants/{TENANT}/subscribers/{subscriber}"),
            format!("/v1/tenants/{TENANT}/subscribers/{subscriber}/deliveries"),
            format!("/v1/tenants/{TENANT}/deliveries"),
            format!("/v1/tenants/{TENANT}/broadcasts/{broadcast}"),
            format!("/v1/tenants/{TENANT}/inbound"),
            format!("/v1/tenants/{TENANT}/catalog/inserts"),
            format!("/v1/tenants/{TENANT}/catalog/messages"),
            format!("/v1/tenants/{TENANT}/schedule/preview?from={day}&days=2"),
        ];
        for path in &paths {
            for token in [None, Some(tenant_token.as_str())] {
                let (status, body) = request(&server, token, Method::GET, path).await;
                assert_eq!(status, StatusCode::OK, "GET {path} ({token:?}): {body}");
            }
        }
        for path in [
            "/v1/plugins",
            "/v1/tenants",
            "/v1/tokens",
            "/v1/catalog/programs",
        ] {
            get(&server, path).await;
        }
        // The old tenant_admin token still reaches its tenant only.
        let (status, body) = request(
            &server,
            Some(&tenant_token),
            Method::GET,
            &format!("/v1/tenants/{SENT_TENANT}"),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        // The local insert the old host stored.
        let inserts = get(&server, &format!("/v1/tenants/{TENANT}/catalog/inserts")).await;
        assert!(
            inserts.to_string().contains("赤ちゃん訪問のご案内"),
            "{inserts}"
        );
        // The preview plans today as the old host's preview did.
        let preview = get(
            &server,
            &format!("/v1/tenants/{TENANT}/schedule/preview?from={day}&days=1"),
        )
        .await;
        let planned = |p: &Value| -> BTreeSet<(String, String, String)> {
            p["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| {
                    (
                        i["contact_id"].as_str().unwrap().to_string(),
                        i["message_id"].as_str().unwrap().to_string(),
                        i["due_at"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        assert_eq!(planned(&preview), planned(&old.0["preview"]), "{preview}");

        // ---- webhooks still reach the 0.1.0 plugin -----------------------
        // The father blocks the account: LINE 0.1.0 parses the signed
        // webhook, the host invalidates that contact.
        let father = &old
            .subscribers(TENANT)
            .iter()
            .find(|s| s["external_id"] == "K0001")
            .unwrap()["contacts"][1];
        let body = fake.callback(vec![fake.unfollow(father["address"].as_str().unwrap())]);
        let answer =
            FakeLine::post_webhook(&server.url(&format!("/hooks/{TENANT}/line")), body).await;
        assert_eq!(answer.status(), StatusCode::OK);
        // The old host's inbound events are there as it recorded them
        // (migration 0014 rebuilt their table on SQLite), then the new one.
        let inbound = get(&server, &format!("/v1/tenants/{TENANT}/inbound?limit=500")).await;
        let mut events = inbound["items"].as_array().expect("items").clone();
        events.sort_by_key(|e| e["id"].as_i64());
        let recorded = old.0["inbound"]["items"].as_array().expect("old inbound");
        assert_eq!(recorded.len(), 2, "{recorded:?}");
        assert_eq!(events.len(), recorded.len() + 1, "{inbound}");
        for was in recorded {
            let now = events
                .iter()
                .find(|e| e["id"] == was["id"])
                .unwrap_or_else(|| panic!("lost {was}: {inbound}"));
            for (field, value) in was.as_object().unwrap() {
                assert_eq!(&now[field], value, "{field}: {now}");
            }
            assert_eq!(now["reason"], Value::Null, "{now}");
        }
        let unfollow = events.last().unwrap();
        assert_eq!(unfollow["kind"], "unfollow", "{inbound}");
        assert_eq!(unfollow["action"], "contact_invalidated", "{inbound}");
        assert_eq!(unfollow["contact_id"], father["id"], "{inbound}");
        let household = get(
            &server,
            &format!(
                "/v1/tenants/{TENANT}/subscribers/{}",
                old.subscribers(TENANT)
                    .iter()
                    .find(|s| s["external_id"] == "K0001")
                    .unwrap()["id"]
                    .as_str()
                    .unwrap()
            ),
        )
        .await;
        assert_eq!(household["contacts"][1]["id"], father["id"]);
        assert_eq!(household["contacts"][1]["status"], "invalid", "{household}");
        assert_eq!(household["contacts"][0]["status"], "valid", "{household}");

        server.stop().await;
        // The fake saw no request after the deliveries (the webhook came
        // from the test).
        assert_eq!(fake.attempts().len(), expected.len());

        // Migrations 0014-0016 were applied by that start.
        let applied = target.migrations().await;
        assert!(
            NEW_MIGRATIONS.iter().all(|m| applied.contains(m)),
            "{applied:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_of_the_0_1_host_upgrades_in_place_and_delivers_through_line_0_1_0() {
    upgrade(Engine::Sqlite, Prepared::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_of_the_0_1_host_upgrades_in_place_and_delivers_through_line_0_1_0() {
    let Some(prepared) = Prepared::postgres().await else {
        return;
    };
    upgrade(Engine::Postgres, prepared).await;
}
