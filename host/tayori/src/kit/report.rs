//! What `tayori plugin test` and `tayori plugin check` found, printed for a
//! person or as JSON for a partner's CI. Everything in a report is already
//! masked: no secret of the tested config reaches it.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use tayori_core::Manifest;
use tayori_runtime::RuntimeConfig;

/// The whole report. `ok` is false when there is at least one problem.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub ok: bool,
    pub file: String,
    pub component: Option<ComponentInfo>,
    pub manifest: Option<Manifest>,
    /// The production limits every call ran under.
    pub limits: Limits,
    pub calls: Vec<CallView>,
    pub problems: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

/// What the upload checks read off the component.
#[derive(Debug, Serialize)]
pub(crate) struct ComponentInfo {
    pub size: u64,
    pub digest: String,
    /// The `tayori:plugin` contract version it was built against.
    pub contract: String,
}

/// The sandbox's limits, as in production unless the run lowered the deadline.
#[derive(Debug, Serialize)]
pub(crate) struct Limits {
    pub call_timeout_ms: u64,
    /// The production deadline, when the run used a shorter one.
    pub production_call_timeout_ms: Option<u64>,
    pub memory_bytes: usize,
    pub requests_per_call: u32,
    pub request_timeout_ms: u64,
    pub request_body_bytes: usize,
    pub response_body_bytes: usize,
    pub component_bytes: usize,
    pub log_lines_per_call: u32,
    /// The host meters wall time, not instructions: there is no fuel limit.
    pub fuel: Option<u64>,
}

impl Limits {
    pub fn of(config: &RuntimeConfig, production: &RuntimeConfig) -> Self {
        Self {
            call_timeout_ms: millis(config.call_timeout),
            production_call_timeout_ms: (config.call_timeout != production.call_timeout)
                .then(|| millis(production.call_timeout)),
            memory_bytes: config.memory_limit,
            requests_per_call: config.max_requests_per_call,
            request_timeout_ms: millis(config.request_timeout),
            request_body_bytes: config.max_request_bytes,
            response_body_bytes: config.max_response_bytes,
            component_bytes: config.max_component_bytes,
            log_lines_per_call: config.max_log_lines_per_call,
            fuel: None,
        }
    }
}

/// One call of a contract function and what it used.
#[derive(Debug, Serialize)]
pub(crate) struct CallView {
    /// `validate-config`, `deliver`.
    pub function: &'static str,
    /// The call failed as a whole (timeout, out of memory, trap, contract).
    pub error: Option<String>,
    /// `validate-config`'s refusal, when it refused.
    pub refusal: Option<RefusalView>,
    /// `deliver`'s outcomes, one per recipient.
    pub outcomes: Vec<OutcomeView>,
    pub wall_ms: f64,
    pub peak_memory_bytes: usize,
    pub requests: Vec<RequestView>,
    pub logs: Vec<LogView>,
    pub logs_dropped: u32,
}

#[derive(Debug, Serialize)]
pub(crate) struct RefusalView {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutcomeView {
    pub idempotency_key: String,
    pub address: Option<String>,
    /// `accepted` or `failed`.
    pub status: &'static str,
    pub platform_id: Option<String>,
    /// `retry_after`, `transient`, `permanent`, `recipient_gone`, `unauthorized`.
    pub failure: Option<String>,
    pub retry_after_seconds: Option<u32>,
    pub message: Option<String>,
}

/// One outbound request as the plugin made it (secrets masked).
#[derive(Debug, Serialize)]
pub(crate) struct RequestView {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced), cut at 64 KiB by the host.
    pub body: String,
    pub status: Option<u16>,
    pub response_bytes: usize,
    pub elapsed_ms: f64,
    /// Why it failed or was refused.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct LogView {
    pub level: String,
    pub message: String,
}

/// A problem (the run fails) or a warning (it does not).
#[derive(Debug, Serialize)]
pub(crate) struct Finding {
    /// Machine-readable: `timeout`, `host_not_in_manifest`, ...
    pub code: &'static str,
    /// What is wrong and what to change.
    pub message: String,
}

pub(crate) fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

pub(crate) fn millis_f(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl Report {
    pub fn new(file: String, limits: Limits) -> Self {
        Self {
            ok: true,
            file,
            component: None,
            manifest: None,
            limits,
            calls: Vec::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn problem(&mut self, code: &'static str, message: impl Into<String>) {
        self.ok = false;
        self.problems.push(Finding {
            code,
            message: message.into(),
        });
    }

    pub fn warning(&mut self, code: &'static str, message: impl Into<String>) {
        self.warnings.push(Finding {
            code,
            message: message.into(),
        });
    }

    /// The report for a person.
    pub fn to_text(&self, verbose_requests: bool) -> String {
        let mut out = String::new();
        let _ = self.write_text(&mut out, verbose_requests);
        out
    }

    fn write_text(&self, out: &mut String, verbose_requests: bool) -> std::fmt::Result {
        writeln!(out, "plugin    {}", self.file)?;
        if let Some(c) = &self.component {
            writeln!(
                out,
                "component {} of {} allowed, contract tayori:plugin@{}, sha256 {}",
                bytes(c.size as usize),
                bytes(self.limits.component_bytes),
                c.contract,
                c.digest
            )?;
        }
        if let Some(m) = &self.manifest {
            write_manifest(out, m)?;
        }
        for call in &self.calls {
            writeln!(out)?;
            self.write_call(out, call, verbose_requests)?;
        }
        writeln!(out)?;
        for w in &self.warnings {
            writeln!(out, "warning: {}", w.message)?;
        }
        for p in &self.problems {
            writeln!(out, "problem: {}", p.message)?;
        }
        if self.ok {
            writeln!(
                out,
                "result: passed ({} warning{})",
                self.warnings.len(),
                plural(self.warnings.len())
            )?;
        } else {
            writeln!(
                out,
                "result: FAILED, {} problem{} to fix",
                self.problems.len(),
                plural(self.problems.len())
            )?;
        }
        Ok(())
    }

    fn write_call(
        &self,
        out: &mut String,
        call: &CallView,
        verbose_requests: bool,
    ) -> std::fmt::Result {
        let l = &self.limits;
        let verdict = match (&call.error, &call.refusal) {
            (Some(e), _) => format!("FAILED: {e}"),
            (None, Some(r)) if r.field.is_empty() => format!("refused the config: {}", r.message),
            (None, Some(r)) => format!("refused the config: {}: {}", r.field, r.message),
            (None, None) if call.function == "deliver" => {
                let accepted = call
                    .outcomes
                    .iter()
                    .filter(|o| o.status == "accepted")
                    .count();
                format!(
                    "{} outcome{}, {accepted} accepted",
                    call.outcomes.len(),
                    plural(call.outcomes.len())
                )
            }
            (None, None) => "ok".to_string(),
        };
        writeln!(out, "{}  {verdict}", call.function)?;
        let shown = if verbose_requests {
            call.requests.len()
        } else {
            MAX_REQUESTS_SHOWN
        };
        for (i, r) in call.requests.iter().enumerate().take(shown) {
            let answer = match (r.status, &r.error) {
                (Some(s), _) => format!(
                    "{s} ({} in {:.1} ms)",
                    bytes(r.response_bytes),
                    r.elapsed_ms
                ),
                (None, Some(e)) => format!("no answer: {e}"),
                (None, None) => "no answer".to_string(),
            };
            writeln!(
                out,
                "  request {}  {} {} → {answer}",
                i + 1,
                r.method,
                r.url
            )?;
            for (name, value) in &r.headers {
                writeln!(out, "      {name}: {value}")?;
            }
            if !r.body.is_empty() {
                let body = cut(&r.body, MAX_BODY_SHOWN);
                for line in body.lines() {
                    writeln!(out, "      {line}")?;
                }
            }
        }
        if call.requests.len() > shown {
            writeln!(
                out,
                "  ... {} more requests (all of them with --json)",
                call.requests.len() - shown
            )?;
        }
        for o in &call.outcomes {
            let what = match o.status {
                "accepted" => format!(
                    "accepted{}",
                    o.platform_id
                        .as_deref()
                        .map(|id| format!(", platform id {id}"))
                        .unwrap_or_default()
                ),
                _ => {
                    let kind = match (o.failure.as_deref(), o.retry_after_seconds) {
                        (Some("retry_after"), Some(s)) => format!("retry-after {s} s"),
                        (Some(k), _) => k.replace('_', "-"),
                        (None, _) => "failed".to_string(),
                    };
                    format!(
                        "failed, {kind}: {}",
                        o.message.as_deref().unwrap_or_default()
                    )
                }
            };
            let to = o
                .address
                .as_deref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default();
            writeln!(out, "  outcome {}{to}  {what}", o.idempotency_key)?;
        }
        for log in &call.logs {
            writeln!(out, "  log {}  {}", log.level, log.message)?;
        }
        if call.logs_dropped > 0 {
            writeln!(
                out,
                "  ... {} log lines dropped (the host keeps {} per call)",
                call.logs_dropped, l.log_lines_per_call
            )?;
        }
        let largest = call
            .requests
            .iter()
            .map(|r| r.response_bytes)
            .max()
            .unwrap_or(0);
        let deadline = match l.production_call_timeout_ms {
            Some(p) => format!(
                "{} (lowered from production's {})",
                ms(l.call_timeout_ms as f64),
                ms(p as f64)
            ),
            None => ms(l.call_timeout_ms as f64),
        };
        let over_cap = call
            .requests
            .iter()
            .filter(|r| {
                r.status.is_none()
                    && r.error
                        .as_deref()
                        .is_some_and(|e| e.contains("outbound requests per call"))
            })
            .count();
        let requests = if over_cap > 0 {
            format!(
                "{} of {} (and {over_cap} refused over the cap)",
                call.requests.len() - over_cap,
                l.requests_per_call
            )
        } else {
            format!("{} of {}", call.requests.len(), l.requests_per_call)
        };
        writeln!(
            out,
            "  used  wall {} of {deadline}; peak memory {} of {}; requests {requests}; largest response {} of {}; log lines {} of {}; fuel: not metered",
            ms(call.wall_ms),
            bytes(call.peak_memory_bytes),
            bytes(l.memory_bytes),
            bytes(largest),
            bytes(l.response_body_bytes),
            call.logs.len(),
            l.log_lines_per_call,
        )
    }
}

/// Requests printed in full per call without `--verbose`.
const MAX_REQUESTS_SHOWN: usize = 20;
/// Body characters printed per request (the JSON report has them all).
const MAX_BODY_SHOWN: usize = 2000;

fn write_manifest(out: &mut String, m: &Manifest) -> std::fmt::Result {
    writeln!(
        out,
        "manifest  {} {}: {} by {}",
        m.id, m.version, m.name, m.vendor
    )?;
    if !m.description.is_empty() {
        writeln!(out, "  description  {}", m.description)?;
    }
    writeln!(
        out,
        "  hosts        {}",
        if m.hosts.is_empty() {
            "none (the plugin makes no requests)".to_string()
        } else {
            m.hosts.join(", ")
        }
    )?;
    let quota = m
        .daily_quota
        .map(|q| format!("{q} a day"))
        .unwrap_or_else(|| "no daily quota".into());
    let windows: Vec<String> = m
        .rate_windows
        .iter()
        .map(|w| format!("{} per {} s", w.max, w.window_seconds))
        .collect();
    writeln!(
        out,
        "  delivery     batches of up to {}, {}/s per channel, {quota}{}",
        m.max_batch_size,
        m.rate_per_second,
        if windows.is_empty() {
            String::new()
        } else {
            format!(", {}", windows.join(", "))
        }
    )?;
    writeln!(
        out,
        "  webhooks     {}",
        if m.handles_webhooks {
            "handled"
        } else {
            "not handled"
        }
    )?;
    let secrets = m.secret_fields();
    let fields: Vec<String> = m
        .config_schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|props| {
            props
                .iter()
                .map(|(name, schema)| {
                    let ty = schema
                        .get("type")
                        .map(|t| t.to_string().trim_matches('"').to_string())
                        .unwrap_or_else(|| "any".into());
                    let secret = if secrets.contains(name) {
                        ", secret"
                    } else {
                        ""
                    };
                    format!("{name} ({ty}{secret})")
                })
                .collect()
        })
        .unwrap_or_default();
    writeln!(
        out,
        "  config       {}",
        if fields.is_empty() {
            "no properties".to_string()
        } else {
            fields.join(", ")
        }
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max).collect();
    s.push_str(" …");
    s
}

/// `512 B`, `1.5 KiB`, `64.0 MiB`.
pub(crate) fn bytes(n: usize) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if f < KIB {
        format!("{n} B")
    } else if f < KIB * KIB {
        format!("{:.1} KiB", f / KIB)
    } else {
        format!("{:.1} MiB", f / (KIB * KIB))
    }
}

/// `0.4 ms`, `1.2 s`.
pub(crate) fn ms(v: f64) -> String {
    if v < 1000.0 {
        format!("{v:.1} ms")
    } else {
        format!("{:.1} s", v / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(64 << 20), "64.0 MiB");
        assert_eq!(ms(0.42), "0.4 ms");
        assert_eq!(ms(30_000.0), "30.0 s");
    }

    #[test]
    fn a_problem_fails_the_report_and_a_warning_does_not() {
        let limits = Limits::of(&RuntimeConfig::default(), &RuntimeConfig::default());
        let mut r = Report::new("p.wasm".into(), limits);
        r.warning("w", "close to the limit");
        assert!(r.ok);
        assert!(r.to_text(false).contains("result: passed (1 warning)"));
        r.problem("timeout", "deliver ran past the deadline");
        assert!(!r.ok);
        let text = r.to_text(false);
        assert!(
            text.contains("problem: deliver ran past the deadline"),
            "{text}"
        );
        assert!(text.contains("result: FAILED, 1 problem to fix"), "{text}");
    }
}
