//! `hostile`: a plugin that misbehaves on demand, for the host's sandbox tests.
//!
//! The channel config picks the misbehaviour, so one component covers every
//! limit the host enforces (deadline, memory, stack, traps, outbound requests)
//! and every contract rule it checks (one outcome per recipient, known keys).

use std::hint::black_box;

use serde::Deserialize;
use serde_json::json;
use tayori_plugin_sdk::{
    Batch, ChannelSetup, Failure, Manifest, Outcome, Plugin, SetupReport, WebhookRequest,
    WebhookResponse, WebhookResult, export_plugin, http, log,
};

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Behaviour {
    /// Spin forever.
    Loop,
    /// Allocate until allocation fails.
    MemoryBomb,
    /// Recurse until the stack runs out.
    Recursion,
    /// Execute `unreachable`.
    Trap,
    /// `panic!` (a trap, with `panic = "abort"`).
    Panic,
    /// One GET to `url`; the outcome says what happened.
    Request,
    /// `count` GETs to `url`; fails naming the first refused request.
    ManyRequests,
    /// One outcome fewer than recipients.
    TooFewOutcomes,
    /// Outcomes keyed by made-up idempotency keys.
    UnknownKeys,
    /// Log the config's secret `token` (the host must mask it), then accept
    /// everyone.
    LogSecret,
    /// Accept everyone with a 10 MiB platform message id ending in a NUL
    /// (the host keeps at most a few hundred bytes of it).
    HugeReceipt,
    /// Fail everyone for good with a message quoting the secret `token`
    /// and 1 MiB more (the host masks and cuts it).
    LeakSecret,
    /// Webhooks: answer with `status`, cookies and other headers the host
    /// must not pass on; deliveries: accept everyone.
    BadAnswer,
    /// Accept everyone, no HTTP.
    Ok,
}

/// What `setup-channel` does (nothing by default).
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Setup {
    /// POST the set-up as JSON to `url`; the answer's `id` is the report's
    /// `menu_id`.
    Echo,
    /// Fail for good, quoting the secret `token` (the host masks it).
    Fail,
    /// Execute `unreachable`.
    Trap,
}

#[derive(Deserialize)]
struct Config {
    behaviour: Behaviour,
    #[serde(default)]
    setup: Option<Setup>,
    #[serde(default)]
    url: String,
    #[serde(default = "one")]
    count: u32,
    #[serde(default)]
    token: String,
    #[serde(default = "ok_status")]
    status: u16,
}

fn ok_status() -> u16 {
    200
}

fn one() -> u32 {
    1
}

struct Hostile;

impl Plugin for Hostile {
    type Config = Config;

    fn manifest() -> Manifest {
        Manifest::new("hostile", env!("CARGO_PKG_VERSION"))
            .name("Hostile")
            .vendor("Tayori test programs")
            .description("Misbehaves as its config says, to test the sandbox.")
            .config_schema(json!({
                "type": "object",
                "required": ["behaviour"],
                "properties": {
                    "behaviour": { "enum": [
                        "loop", "memory-bomb", "recursion", "trap", "panic", "request",
                        "many-requests", "too-few-outcomes", "unknown-keys", "log-secret",
                        "huge-receipt", "leak-secret", "bad-answer", "ok"
                    ] },
                    "setup": { "enum": ["echo", "fail", "trap"] },
                    "url": { "type": "string" },
                    "token": { "type": "string", "writeOnly": true },
                    "count": { "type": "integer", "minimum": 0 },
                    "status": { "type": "integer", "minimum": 0, "maximum": 65535 }
                }
            }))
            .hosts(["127.0.0.1:*", "localhost:*", "example.invalid"])
            .max_batch_size(100)
            .rate_per_second(1000)
            .handles_webhooks(true)
            .sets_up_channels(true)
    }

    /// Nothing to set up unless the config's `setup` says what to do.
    fn setup_channel(config: &Config, setup: ChannelSetup) -> Result<SetupReport, Failure> {
        match config.setup {
            None => Ok(SetupReport::new("nothing to set up")),
            Some(Setup::Trap) => trap(),
            Some(Setup::Fail) => Err(Failure::permanent(format!(
                "the platform refused the menu for token {}",
                config.token
            ))),
            Some(Setup::Echo) => {
                let response = http::send(http::Request::post(&config.url).json(&setup)?)?;
                if let Some(failure) = Failure::from_response(&response) {
                    return Err(failure);
                }
                let id = response
                    .json::<serde_json::Value>()
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                Ok(SetupReport {
                    summary: format!(
                        "menu of {} buttons set for {}",
                        setup.menu.len(),
                        setup.tenant_name
                    ),
                    details: vec![("menu_id".into(), id)],
                })
            }
        }
    }

    fn deliver(config: &Config, batch: Batch) -> Vec<Outcome> {
        crash(config.behaviour);
        let recipients = &batch.recipients;
        match config.behaviour {
            Behaviour::Request => {
                let result = http::get(&config.url)
                    .map_err(Into::into)
                    .and_then(|r| r.error_for_status())
                    .map(|r| Some(format!("status {}", r.status)));
                recipients
                    .iter()
                    .map(|r| r.outcome(result.clone()))
                    .collect()
            }
            Behaviour::ManyRequests => {
                let result = many_requests(&config.url, config.count);
                recipients
                    .iter()
                    .map(|r| r.outcome(result.clone()))
                    .collect()
            }
            Behaviour::TooFewOutcomes => recipients
                .iter()
                .skip(1)
                .map(|r| r.accepted(None))
                .collect(),
            Behaviour::LogSecret => {
                let token = &config.token;
                log::warn(format!("calling with token {token}"));
                log::info(format!(r#"{{"authorization":"Bearer {token}"}}"#));
                // Across the host's 2 KiB cut of a log line.
                log::error(format!("{}{token}", "x".repeat(2040)));
                recipients.iter().map(|r| r.accepted(None)).collect()
            }
            Behaviour::HugeReceipt => {
                let id = format!("{}\0", "9".repeat(10 << 20));
                recipients
                    .iter()
                    .map(|r| r.accepted(Some(id.clone())))
                    .collect()
            }
            Behaviour::LeakSecret => {
                let message = format!(
                    "the platform refused token {}: {}",
                    config.token,
                    "e".repeat(1 << 20)
                );
                recipients
                    .iter()
                    .map(|r| r.failed(tayori_plugin_sdk::Failure::permanent(message.clone())))
                    .collect()
            }
            Behaviour::UnknownKeys => (0..recipients.len())
                .map(|i| Outcome::accepted(format!("unknown-{i}"), None))
                .collect(),
            _ => recipients.iter().map(|r| r.accepted(None)).collect(),
        }
    }

    /// Webhooks crash the same way deliveries do, and otherwise answer 200
    /// (`bad-answer`: `status`, with a cookie and other headers for the
    /// host's origin).
    fn handle_webhook(config: &Config, _request: WebhookRequest) -> WebhookResult {
        crash(config.behaviour);
        if config.behaviour == Behaviour::BadAnswer {
            let header = |n: &str, v: &str| (n.to_string(), v.to_string());
            return WebhookResult {
                response: WebhookResponse {
                    status: config.status,
                    headers: vec![
                        header("content-type", "text/html"),
                        header("set-cookie", "session=planted; Path=/; HttpOnly"),
                        header("Set-Cookie", "tayori_console=planted; Path=/"),
                        header("location", "https://evil.example/"),
                        header("access-control-allow-origin", "*"),
                        header("content-security-policy", "script-src *"),
                        header("retry-after", "30"),
                    ],
                    body: b"<script>document.cookie</script>".to_vec(),
                },
                events: Vec::new(),
            };
        }
        WebhookResult::ok(Vec::new())
    }
}

/// Never returns for the behaviours that take the instance down.
fn crash(behaviour: Behaviour) {
    match behaviour {
        Behaviour::Loop => {
            let mut n = 0u64;
            loop {
                n = black_box(n.wrapping_add(1));
            }
        }
        Behaviour::MemoryBomb => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // Touch every page so the memory is really committed.
                hoard.push(black_box(vec![0xA5; 1 << 20]));
            }
        }
        Behaviour::Recursion => {
            black_box(recurse(black_box(0)));
        }
        Behaviour::Trap => trap(),
        Behaviour::Panic => panic!("hostile plugin panics on purpose"),
        _ => {}
    }
}

/// The `unreachable` instruction (an abort off wasm, for native checks).
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}

/// Unbounded recursion that the optimiser can neither see through nor turn
/// into a loop: each frame keeps a buffer and uses the callee's result.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    if black_box(true) {
        recurse(depth + 1).wrapping_add(frame[depth as usize % 64])
    } else {
        frame[0]
    }
}

fn many_requests(url: &str, count: u32) -> Result<Option<String>, tayori_plugin_sdk::Failure> {
    for n in 1..=count {
        let response = http::get(url).map_err(|e| {
            let mut failure = tayori_plugin_sdk::Failure::from(&e);
            failure.message = format!("request {n} of {count} failed: {}", failure.message);
            failure
        })?;
        if let Some(mut failure) = tayori_plugin_sdk::Failure::from_response(&response) {
            failure.message = format!("request {n} of {count} failed: {}", failure.message);
            return Err(failure);
        }
    }
    Ok(Some(format!("{count} requests")))
}

export_plugin!(Hostile);
