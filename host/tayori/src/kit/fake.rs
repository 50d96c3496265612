//! The fake platform of `tayori plugin test`: a [`Transport`] that answers
//! the plugin's permitted requests from a script, or forwards them to an
//! upstream the partner chose. The runtime has already checked each request
//! against the manifest, the approval, the request cap and the body limit,
//! and applies the request timeout and the response cap around it, as in
//! production.
//!
//! The script (`--responses FILE`) is JSON: a list of entries, or
//! `{"responses": [...]}`. Each request is answered by the first entry whose
//! `when` matches it and which is not used up:
//!
//! ```json
//! {"responses": [
//!   {"when": {"body_contains": "U-gone"}, "status": 404, "json": {"error": "unknown user"}},
//!   {"when": {"method": "POST", "url": "https://api.example.com/v1/"}, "status": 429,
//!    "headers": {"retry-after": "30"}, "times": 1},
//!   {"status": 200, "json": {"id": "msg-{n}"}}
//! ]}
//! ```
//!
//! `when.url` matches as a prefix of the full URL, `when.method` exactly
//! (any case), `when.body_contains` as a substring of the request body; an
//! entry without `when` matches everything. `json` (sent with
//! `content-type: application/json`) or `body` (text) is the answer body, in
//! which `{n}` becomes the request's number (from 1). `times` limits how
//! often an entry answers. `"hang": true` never answers, so the plugin meets
//! the host's request timeout. A request that no entry matches is answered
//! `501` and fails the run: the script is incomplete.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use tayori_runtime::{Transport, TransportFuture};

/// Answers requests from a script.
#[derive(Debug)]
pub(crate) struct Scripted {
    entries: Vec<Entry>,
    state: Mutex<ScriptState>,
}

#[derive(Debug, Default)]
struct ScriptState {
    /// Requests seen so far.
    seen: u64,
    /// Per entry, how often it answered.
    used: Vec<u32>,
    /// Requests no entry matched, as `METHOD URL`.
    unmatched: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(default)]
    when: When,
    #[serde(default = "ok_status")]
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    json: Option<Value>,
    body: Option<String>,
    times: Option<u32>,
    #[serde(default)]
    hang: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct When {
    method: Option<String>,
    url: Option<String>,
    body_contains: Option<String>,
}

fn ok_status() -> u16 {
    200
}

impl When {
    fn matches(&self, method: &str, url: &str, body: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.url.as_deref().is_none_or(|u| url.starts_with(u))
            && self
                .body_contains
                .as_deref()
                .is_none_or(|s| body.contains(s))
    }
}

impl Scripted {
    /// The platform with no script: `200 {"id": "fake-N"}` to every request.
    pub fn default_platform() -> Self {
        Self::new(vec![Entry {
            when: When::default(),
            status: 200,
            headers: BTreeMap::new(),
            json: Some(serde_json::json!({ "id": "fake-{n}" })),
            body: None,
            times: None,
            hang: false,
        }])
    }

    /// Parses a script; errors name the entry and the field at fault.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: not JSON: {e}"))?;
        let list = match value {
            Value::Array(list) => list,
            Value::Object(mut map) => {
                let Some(Value::Array(list)) = map.remove("responses") else {
                    anyhow::bail!(
                        "{origin}: write a list of responses, or an object with a `responses` list"
                    );
                };
                if let Some(other) = map.keys().next() {
                    anyhow::bail!("{origin}: unknown field `{other}` (only `responses`)");
                }
                list
            }
            _ => anyhow::bail!(
                "{origin}: write a list of responses, or an object with a `responses` list"
            ),
        };
        let mut entries = Vec::with_capacity(list.len());
        for (i, item) in list.into_iter().enumerate() {
            let entry: Entry = serde_json::from_value(item)
                .map_err(|e| anyhow::anyhow!("{origin}: responses[{i}]: {e}"))?;
            if entry.json.is_some() && entry.body.is_some() {
                anyhow::bail!("{origin}: responses[{i}]: give `json` or `body`, not both");
            }
            if http::StatusCode::from_u16(entry.status).is_err() {
                anyhow::bail!(
                    "{origin}: responses[{i}]: status {} is not an HTTP status",
                    entry.status
                );
            }
            for (name, value) in &entry.headers {
                if http::HeaderName::try_from(name.as_str()).is_err()
                    || http::HeaderValue::try_from(value.as_str()).is_err()
                {
                    anyhow::bail!("{origin}: responses[{i}]: header `{name}` is not valid");
                }
            }
            entries.push(entry);
        }
        if entries.is_empty() {
            anyhow::bail!("{origin}: the list of responses is empty");
        }
        Ok(Self::new(entries))
    }

    fn new(entries: Vec<Entry>) -> Self {
        let used = vec![0; entries.len()];
        Self {
            entries,
            state: Mutex::new(ScriptState {
                used,
                ..ScriptState::default()
            }),
        }
    }

    /// Requests that no entry answered, as `METHOD URL`.
    pub fn unmatched(&self) -> Vec<String> {
        self.state.lock().expect("script lock").unmatched.clone()
    }

    /// The answer to one request, or `None` to hang.
    fn answer(&self, method: &str, url: &str, body: &str) -> Option<http::Response<Bytes>> {
        let mut state = self.state.lock().expect("script lock");
        state.seen += 1;
        let n = state.seen;
        let found = self.entries.iter().enumerate().find(|(i, e)| {
            e.when.matches(method, url, body) && e.times.is_none_or(|t| state.used[*i] < t)
        });
        let Some((i, entry)) = found else {
            state.unmatched.push(format!("{method} {url}"));
            return Some(
                http::Response::builder()
                    .status(501)
                    .header("content-type", "text/plain; charset=utf-8")
                    .body(Bytes::from(format!(
                        "tayori plugin test: no entry of the responses file matches {method} {url}"
                    )))
                    .expect("a valid response"),
            );
        };
        state.used[i] += 1;
        if entry.hang {
            return None;
        }
        let number = n.to_string();
        let (body, json) = match (&entry.json, &entry.body) {
            (Some(v), _) => (v.to_string().replace("{n}", &number), true),
            (None, Some(text)) => (text.replace("{n}", &number), false),
            (None, None) => (String::new(), false),
        };
        let mut builder = http::Response::builder().status(entry.status);
        let has_content_type = entry
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"));
        if json && !has_content_type {
            builder = builder.header("content-type", "application/json");
        }
        for (name, value) in &entry.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        Some(
            builder
                .body(Bytes::from(body))
                .expect("status and headers were checked when the script was read"),
        )
    }
}

impl Transport for Scripted {
    fn send(&self, request: http::Request<Bytes>) -> TransportFuture {
        let method = request.method().to_string();
        let url = request.uri().to_string();
        let body = String::from_utf8_lossy(request.body()).into_owned();
        let answer = self.answer(&method, &url, &body);
        Box::pin(async move {
            match answer {
                Some(response) => Ok(response),
                // The runtime's request timeout ends it, as a platform that
                // never answers would.
                None => std::future::pending().await,
            }
        })
    }
}

/// Forwards requests to another base URL (a platform's sandbox, a local
/// fake), keeping method, path, query, headers and body.
#[derive(Debug)]
pub(crate) struct Upstream {
    base: String,
    client: reqwest::Client,
    /// Reading stops past this many bytes: the runtime refuses the response
    /// anyway, and the kit must not hold an unbounded body.
    max_body: usize,
}

impl Upstream {
    pub fn new(base: &str, max_response_bytes: usize) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(base)
            .map_err(|e| anyhow::anyhow!("--upstream `{base}`: not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            anyhow::bail!("--upstream `{base}`: write http://host[:port][/path] or https://...");
        }
        if url.query().is_some() {
            anyhow::bail!("--upstream `{base}`: a base URL has no query");
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            client,
            max_body: max_response_bytes + 1,
        })
    }
}

impl Transport for Upstream {
    fn send(&self, request: http::Request<Bytes>) -> TransportFuture {
        let (parts, body) = request.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let url = format!("{}{path}", self.base);
        let mut headers = parts.headers;
        headers.remove(http::header::HOST);
        let request = self
            .client
            .request(parts.method, &url)
            .headers(headers)
            .body(body);
        let max_body = self.max_body;
        Box::pin(async move {
            let mut response = request
                .send()
                .await
                .map_err(|e| format!("forwarding to {url}: {e}"))?;
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(h) = builder.headers_mut() {
                *h = std::mem::take(response.headers_mut());
            }
            let mut buf = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| format!("reading the answer of {url}: {e}"))?
            {
                buf.extend_from_slice(&chunk);
                if buf.len() >= max_body {
                    break;
                }
            }
            builder
                .body(Bytes::from(buf))
                .map_err(|e| format!("relaying the answer of {url}: {e}"))
        })
    }
}

/// `tayori plugin fake`: the same script served over real HTTP, so that a
/// channel on a running host can deliver through the plugin to a local fake.
#[derive(clap::Args)]
pub(crate) struct FakeArgs {
    /// The script (the format of `plugin test --responses`). Default:
    /// `200 {"id": "fake-N"}` to every request.
    #[arg(long)]
    responses: Option<std::path::PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8099")]
    bind: std::net::SocketAddr,
}

pub(crate) async fn serve_fake(args: FakeArgs) -> anyhow::Result<std::process::ExitCode> {
    let script = match &args.responses {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            Scripted::parse(&text, &path.display().to_string())?
        }
        None => Scripted::default_platform(),
    };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| anyhow::anyhow!("binding {}: {e}", args.bind))?;
    let addr = listener.local_addr()?;
    println!(
        "fake platform on http://{addr}: point the channel's API base here and approve {addr} for it (Ctrl-C stops)"
    );
    let app = axum::Router::new()
        .fallback(answer_over_http)
        .with_state(std::sync::Arc::new(script));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn answer_over_http(
    axum::extract::State(script): axum::extract::State<std::sync::Arc<Scripted>>,
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: Bytes,
) -> http::Response<axum::body::Body> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("http://{host}{path}");
    let answer = script.answer(method.as_str(), &url, &String::from_utf8_lossy(&body));
    let Some(response) = answer else {
        // `hang`: the client's own timeout ends it.
        println!("{method} {url} ({} bytes) -> no answer", body.len());
        std::future::pending::<()>().await;
        unreachable!("a pending future never completes")
    };
    // Headers and bodies may carry credentials: only the request line.
    println!(
        "{method} {url} ({} bytes) -> {}",
        body.len(),
        response.status().as_u16()
    );
    response.map(axum::body::Body::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(s: &Scripted, method: &str, url: &str, body: &str) -> Option<(u16, String)> {
        s.answer(method, url, body).map(|r| {
            (
                r.status().as_u16(),
                String::from_utf8_lossy(r.body()).into_owned(),
            )
        })
    }

    #[test]
    fn entries_answer_in_order_until_used_up() {
        let s = Scripted::parse(
            r#"{"responses": [
                {"when": {"body_contains": "gone"}, "status": 404, "body": "unknown"},
                {"when": {"method": "post", "url": "https://api.example.com/v1/"}, "status": 429,
                 "headers": {"retry-after": "30"}, "times": 1},
                {"when": {"url": "https://api.example.com/"}, "json": {"id": "m-{n}"}}
            ]}"#,
            "responses.json",
        )
        .unwrap();
        let url = "https://api.example.com/v1/messages";
        assert_eq!(ask(&s, "POST", url, "{}"), Some((429, String::new())));
        assert_eq!(
            ask(&s, "POST", url, "{}"),
            Some((200, r#"{"id":"m-2"}"#.into()))
        );
        assert_eq!(
            ask(&s, "POST", url, r#"{"to":"gone"}"#),
            Some((404, "unknown".into()))
        );
        assert!(s.unmatched().is_empty());
        let (status, body) = ask(&s, "GET", "https://other.example.com/", "").unwrap();
        assert_eq!(status, 501);
        assert!(body.contains("GET https://other.example.com/"), "{body}");
        assert_eq!(s.unmatched(), vec!["GET https://other.example.com/"]);
    }

    #[test]
    fn a_hanging_entry_never_answers() {
        let s = Scripted::parse(r#"[{"hang": true}]"#, "r.json").unwrap();
        assert_eq!(ask(&s, "GET", "https://a.example/", ""), None);
    }

    #[test]
    fn script_errors_name_the_entry_and_field() {
        let e = Scripted::parse(r#"[{"status": 200}, {"stauts": 404}]"#, "r.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("r.json: responses[1]: unknown field `stauts`"),
            "{e}"
        );
        let e = Scripted::parse(r#"[{"status": 20}]"#, "r.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("status 20 is not an HTTP status"), "{e}");
        let e = Scripted::parse(r#"{"responses": [], "x": 1}"#, "r.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `x`"), "{e}");
        assert!(Scripted::parse("[]", "r.json").is_err());
    }
}
