//! The console as its people use it over plain HTTP: an agent that keeps
//! its cookies, the first operator, invitations and their acceptance, and
//! households made through the API. Shared by the console's suites.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::host::{Host, TENANT};

/// Every account's password in these tests.
pub const PASSWORD: &str = "a long enough passphrase";

/// A plain HTTP client of the console that keeps its cookies and does not
/// follow redirects.
pub struct Agent {
    base: String,
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

/// An answer: status, body, `Location`.
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    pub location: Option<String>,
}

impl Agent {
    pub fn new(host: &Host) -> Self {
        Self {
            base: host.server.url(""),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn keep(&self, headers: &HeaderMap) {
        let mut jar = self.cookies.lock().unwrap();
        for set in headers.get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
    }

    pub async fn answer(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("the console answers");
        self.keep(response.headers());
        let location = response
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        Answer {
            status: response.status(),
            location,
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.answer(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.answer(self.http.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    /// The page's CSRF field.
    pub async fn csrf(&self, path: &str) -> String {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        between(&page.body, "name=\"csrf\" value=\"", "\"")
    }
}

pub fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no `{start}` in:\n{text}"))
        + start.len();
    let to = text[from..].find(end).expect("the end") + from;
    text[from..to].to_string()
}

/// The path of a link to this host.
pub fn path_of(host: &Host, link: &str) -> String {
    link.strip_prefix(&host.server.url(""))
        .unwrap_or_else(|| panic!("{link} is not on this host"))
        .to_string()
}

/// The first operator, signed in through the first start's link.
pub async fn first_operator(host: &Host) -> Agent {
    let link = host
        .server
        .launched
        .first_sign_in
        .clone()
        .expect("a first start's link");
    let path = path_of(host, &link);
    let op = Agent::new(host);
    let csrf = op.csrf(&path).await;
    let made = op
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "運営 太郎"),
                ("email", "operator@example.jp"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    assert_eq!(made.location.as_deref(), Some("/operator"));
    op
}

/// An invitation link made on the team page of `tenant`.
pub async fn invite(host: &Host, by: &Agent, tenant: &str, email: &str) -> String {
    invite_with(host, by, tenant, email, &["dashboard", "team"]).await
}

/// An invitation link with these permissions, made on the team page of
/// `tenant`.
pub async fn invite_with(
    host: &Host,
    by: &Agent,
    tenant: &str,
    email: &str,
    permissions: &[&str],
) -> String {
    let path = format!("/t/{tenant}/team");
    let csrf = by.csrf(&path).await;
    let mut form = vec![("csrf", csrf.as_str()), ("email", email)];
    form.extend(permissions.iter().map(|p| ("permission", *p)));
    let made = by.post(&path, &form).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let link = between(
        &made.body,
        "id=\"invite-link\" type=\"text\" readonly value=\"",
        "\"",
    );
    path_of(host, &link)
}

/// A staff member who accepted `invitation`.
pub async fn accept(host: &Host, invitation: &str) -> Agent {
    let staff = Agent::new(host);
    let csrf = staff.csrf(invitation).await;
    let made = staff
        .post(
            invitation,
            &[
                ("csrf", &csrf),
                ("name", "職員 花子"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    staff
}

pub async fn household(host: &Host, address: &str, child: Value) {
    host.call(
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers"),
        Some(json!({
            "locale": "ja",
            "contacts": [{"channel": "line", "address": address}],
            "children": [child],
        })),
    )
    .await;
}
