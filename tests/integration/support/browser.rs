//! A real Chromium driven over WebDriver, as a parent's phone would show
//! the pages: `chromedriver` on a free loopback port (a child process,
//! killed with the [`Browser`]), headless Chromium at 390×844, and
//! [fantoccini] as the client. Conditions are waited for by polling the
//! DOM (WebDriver waits), never by sleeping.
//!
//! Screenshots go to a temporary directory; those docs/parents.md shows
//! are written there with `TAYORI_WRITE_DOCS=1`.
//!
//! [`Browser::axe`] runs axe-core (its `axe.min.js` from `TAYORI_AXE_JS`)
//! on the page and answers its violations; [`Browser::assert_accessible`]
//! fails on any `serious` or `critical` one and prints them all.
//!
//! Without `chromedriver` (or `TAYORI_CHROMEDRIVER`) a test skips with a
//! note, unless `TAYORI_REQUIRE_BROWSER` is set (scripts/test sets it): then
//! a missing browser or axe-core fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// How long a page may take to show what a test waits for (a first page
/// compiles nothing, but the machine may be busy with other builds).
const WAIT: Duration = Duration::from_secs(30);
/// How long chromedriver may take to listen.
const DRIVER_START: Duration = Duration::from_secs(60);
/// What chromedriver prints once it listens.
const DRIVER_READY: &str = "started successfully";
/// A phone's viewport (iPhone 12–15).
pub const PHONE: (u32, u32) = (390, 844);

/// Whether a missing browser fails the test (scripts/test) or skips it.
fn required() -> bool {
    std::env::var_os("TAYORI_REQUIRE_BROWSER").is_some_and(|v| !v.is_empty() && v != "0")
}

fn chromedriver() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TAYORI_CHROMEDRIVER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromedriver"))
        .find(|candidate| candidate.is_file())
}

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TAYORI_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// axe-core's script, when it is there.
fn axe_source() -> Option<String> {
    let path = std::env::var_os("TAYORI_AXE_JS")?;
    std::fs::read_to_string(&path).ok()
}

/// A free port on 127.0.0.1 when asked.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One axe-core violation.
#[derive(Debug, Clone)]
pub struct Violation {
    pub id: String,
    pub impact: String,
    pub help: String,
    /// The offending elements' selectors and axe's summary for each.
    pub nodes: Vec<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "[{}] {}: {}", self.impact, self.id, self.help)?;
        for node in &self.nodes {
            writeln!(f, "    {node}")?;
        }
        Ok(())
    }
}

/// A headless Chromium at a phone's size.
pub struct Browser {
    pub client: Client,
    driver: Child,
    axe: Option<String>,
    /// Every screenshot, for the test's life.
    shots: tempfile::TempDir,
    /// docs/, with `TAYORI_WRITE_DOCS=1`.
    docs: Option<PathBuf>,
}

impl Browser {
    /// Starts chromedriver and a session; `None` (saying why) when there
    /// is no browser here and none is required.
    pub async fn start() -> Option<Self> {
        let (Some(driver), Some(chromium)) = (chromedriver(), chromium()) else {
            let note = "chromedriver or chromium is not installed";
            assert!(!required(), "{note}, and TAYORI_REQUIRE_BROWSER is set");
            eprintln!("{note}: skipping the browser test (scripts/test installs them)");
            return None;
        };
        let axe = axe_source();
        if axe.is_none() {
            assert!(
                !required(),
                "TAYORI_AXE_JS does not name axe-core's axe.min.js, and TAYORI_REQUIRE_BROWSER is set"
            );
            eprintln!("TAYORI_AXE_JS is not set: pages are not checked with axe-core");
        }
        let (child, port) = start_driver(&driver).await;
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--no-sandbox",
                    "--headless=new",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    // Phones overlay their scroll bars on the page.
                    "--hide-scrollbars",
                    format!("--window-size={},{}", PHONE.0, PHONE.1),
                ],
            },
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session through chromedriver: {e}"));
        // Headless Chromium keeps its window at least 500 pixels wide: the
        // page is laid out at a phone's width by emulating one.
        client
            .issue_cmd(Cdp {
                cmd: "Emulation.setDeviceMetricsOverride",
                params: json!({
                    "width": PHONE.0,
                    "height": PHONE.1,
                    "deviceScaleFactor": 1,
                    "mobile": true,
                }),
            })
            .await
            .expect("emulate a phone's screen");
        let shots = tempfile::tempdir().expect("a directory for screenshots");
        let docs = std::env::var_os("TAYORI_WRITE_DOCS")
            .is_some()
            .then(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs")));
        Some(Self {
            client,
            driver: child,
            axe,
            shots,
            docs,
        })
    }

    /// Opens `url` and waits for its `<main>`.
    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
        self.wait_for("main").await;
    }

    /// The element `css` once it is on the page.
    pub async fn wait_for(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                let shot = self.failure_shot().await;
                panic!(
                    "`{css}` did not appear within {WAIT:?} ({e}) on {}; screenshot {}; the page:\n{}",
                    self.url().await,
                    shot.display(),
                    self.client.source().await.unwrap_or_default()
                )
            }
        }
    }

    /// Waits until the page's `<h1>` says `text` (after a submit).
    pub async fn wait_for_heading(&self, text: &str) {
        let xpath = format!("//h1[normalize-space()={}]", xpath_literal(text));
        if let Err(e) = self
            .client
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(50))
            .for_element(Locator::XPath(&xpath))
            .await
        {
            let shot = self.failure_shot().await;
            panic!(
                "no heading `{text}` within {WAIT:?} ({e}) on {}; screenshot {}; the page:\n{}",
                self.url().await,
                shot.display(),
                self.client.source().await.unwrap_or_default()
            );
        }
    }

    /// Types `text` into the field `css` (emptied first).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.expect("clear a field");
        field.send_keys(text).await.expect("type into a field");
    }

    /// Clicks `css` (a radio, a checkbox, a button, a link).
    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// The text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css)
            .await
            .text()
            .await
            .expect("an element's text")
    }

    /// An attribute of `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.wait_for(css)
            .await
            .attr(name)
            .await
            .expect("an element's attribute")
    }

    /// The value of the input `css`.
    pub async fn value(&self, css: &str) -> String {
        self.wait_for(css)
            .await
            .prop("value")
            .await
            .expect("an input's value")
            .unwrap_or_default()
    }

    /// Whether the radio or checkbox `css` is checked.
    pub async fn checked(&self, css: &str) -> bool {
        self.wait_for(css)
            .await
            .prop("checked")
            .await
            .expect("a checkbox's state")
            .as_deref()
            == Some("true")
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// The `document.documentElement.lang`.
    pub async fn lang(&self) -> String {
        self.attr("html", "lang").await.unwrap_or_default()
    }

    /// A screenshot of the whole page (Chromium's own capture beyond the
    /// viewport, through chromedriver's CDP endpoint) into a temporary
    /// directory: the page renders and can be captured.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let path = self.shots.path().join(format!("parents-{name}.png"));
        self.capture(&path).await;
        path
    }

    /// [`Self::screenshot`] of a page docs/parents.md shows: written there
    /// as `parents-{name}.png` with `TAYORI_WRITE_DOCS=1`.
    pub async fn screenshot_for_docs(&self, name: &str) -> PathBuf {
        match &self.docs {
            Some(docs) => {
                let path = docs.join(format!("parents-{name}.png"));
                self.capture(&path).await;
                path
            }
            None => self.screenshot(name).await,
        }
    }

    /// [`Self::screenshot`] of a page another doc shows under its own
    /// name (`console-sign-in`): written as `docs/{file}.png` with
    /// `TAYORI_WRITE_DOCS=1`.
    pub async fn screenshot_as_doc(&self, file: &str) -> PathBuf {
        let path = match &self.docs {
            Some(docs) => docs.join(format!("{file}.png")),
            None => self.shots.path().join(format!("{file}.png")),
        };
        self.capture(&path).await;
        path
    }

    /// Lays pages out at a desktop's size (1280×900), or back at a phone's.
    pub async fn desktop(&self, desktop: bool) {
        let (width, height, mobile) = if desktop {
            (1280, 900, false)
        } else {
            (PHONE.0, PHONE.1, true)
        };
        self.client
            .issue_cmd(Cdp {
                cmd: "Emulation.setDeviceMetricsOverride",
                params: json!({
                    "width": width,
                    "height": height,
                    "deviceScaleFactor": 1,
                    "mobile": mobile,
                }),
            })
            .await
            .expect("set the screen's size");
    }

    /// A screenshot for a failing test, kept after it (the temporary
    /// directory of [`Self::screenshot`] goes with the browser).
    async fn failure_shot(&self) -> PathBuf {
        let dir = std::env::temp_dir().join("tayori-browser-failures");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{}.png", uuid::Uuid::new_v4().simple()));
        self.capture(&path).await;
        path
    }

    async fn capture(&self, path: &Path) {
        let png = self
            .client
            .issue_cmd(Cdp {
                cmd: "Page.captureScreenshot",
                params: json!({ "format": "png", "captureBeyondViewport": true }),
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|answer| {
                let data = answer["data"].as_str().ok_or("no data in the answer")?;
                base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| e.to_string())
            });
        match png {
            Ok(png) => std::fs::write(path, png)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display())),
            Err(e) => eprintln!("no screenshot {}: {e}", path.display()),
        }
    }

    /// axe-core's violations on the page (WCAG 2.0–2.2 A and AA, and
    /// best practices); empty when axe-core is not installed here.
    pub async fn axe(&self) -> Vec<Violation> {
        let Some(source) = &self.axe else {
            return Vec::new();
        };
        self.client
            .execute(&format!("{source}\n;return true;"), vec![])
            .await
            .expect("inject axe-core");
        let answer = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, {
                    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
                    resultTypes: ["violations"],
                }).then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify({ error: String(e) })));"#,
                vec![],
            )
            .await
            .expect("run axe-core");
        let text = answer.as_str().expect("axe's answer as JSON text");
        let value: Value = serde_json::from_str(text).expect("axe's JSON");
        if let Some(error) = value.get("error") {
            panic!("axe-core failed: {error}");
        }
        value
            .as_array()
            .expect("a list of violations")
            .iter()
            .map(|v| Violation {
                id: v["id"].as_str().unwrap_or_default().into(),
                impact: v["impact"].as_str().unwrap_or("unknown").into(),
                help: v["help"].as_str().unwrap_or_default().into(),
                nodes: v["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        format!(
                            "{} — {}",
                            n["target"],
                            n["failureSummary"].as_str().unwrap_or("")
                        )
                    })
                    .collect(),
            })
            .collect()
    }

    /// Fails on a `serious` or `critical` axe-core violation, printing
    /// every violation of the page; `page` names it in the message.
    pub async fn assert_accessible(&self, page: &str) {
        let violations = self.axe().await;
        let all: String = violations.iter().map(ToString::to_string).collect();
        let grave = violations
            .iter()
            .any(|v| v.impact == "serious" || v.impact == "critical");
        if grave {
            let shot = self.failure_shot().await;
            panic!(
                "axe-core on {page} ({}): serious or critical violations (screenshot {}):\n{all}",
                self.url().await,
                shot.display()
            );
        }
        if !violations.is_empty() {
            eprintln!("axe-core on {page}: minor violations:\n{all}");
        }
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Never leave chromedriver (and its Chromium) after a test.
        let _ = self.driver.start_kill();
    }
}

/// Starts chromedriver on a free port and waits for it to say it listens;
/// a port lost to another program is tried again on another.
async fn start_driver(driver: &Path) -> (Child, u16) {
    for _ in 0..3 {
        let port = free_port();
        let mut child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = String::new();
        let ready = tokio::time::timeout(DRIVER_START, async {
            while let Ok(Some(line)) = lines.next_line().await {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(DRIVER_READY) {
                    return true;
                }
            }
            false
        })
        .await;
        match ready {
            Ok(true) => {
                // Keep reading its output so that it never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                tokio::spawn(async move {
                    let mut lines = BufReader::new(stderr).lines();
                    while let Ok(Some(_)) = lines.next_line().await {}
                });
                return (child, port);
            }
            Ok(false) if seen.contains("bind") || seen.contains("in use") => {
                let _ = child.kill().await;
                continue;
            }
            Ok(false) => panic!("chromedriver exited before listening:\n{seen}"),
            Err(_) => {
                let _ = child.kill().await;
                panic!("chromedriver did not listen within {DRIVER_START:?}:\n{seen}");
            }
        }
    }
    panic!("chromedriver found no free port in three tries")
}

/// A Chrome DevTools Protocol command through chromedriver
/// (`POST /session/{id}/goog/cdp/execute`).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()),
        )
    }
}

/// `text` as an XPath string literal.
fn xpath_literal(text: &str) -> String {
    if !text.contains('"') {
        format!("\"{text}\"")
    } else if !text.contains('\'') {
        format!("'{text}'")
    } else {
        let parts: Vec<String> = text.split('"').map(|p| format!("\"{p}\"")).collect();
        format!("concat({})", parts.join(", '\"', "))
    }
}
