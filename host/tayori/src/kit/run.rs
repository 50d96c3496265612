//! `tayori plugin check` and `tayori plugin test`: the upload checks, then
//! the contract functions in the production sandbox against a fake
//! platform, with every finding turned into what to change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tayori_core::{Batch, Content, DeliveryStatus, FailureKind, Manifest, Recipient};
use tayori_runtime::{
    CallContext, CallErrorKind, CallReport, LoadedPlugin, RequestRecord, Runtime, RuntimeConfig,
    Transport,
};

use super::fake::{Scripted, Upstream};
use super::report::{
    CallView, ComponentInfo, Limits, LogView, OutcomeView, RefusalView, Report, RequestView, bytes,
    millis_f,
};

/// `tayori plugin check FILE.wasm`.
#[derive(clap::Args)]
pub(crate) struct CheckArgs {
    /// The component (`.wasm`).
    file: PathBuf,
    /// Print the report as JSON (for CI).
    #[arg(long)]
    json: bool,
}

/// `tayori plugin test FILE.wasm --config CONFIG.json ...`.
#[derive(clap::Args)]
pub(crate) struct TestArgs {
    /// The component (`.wasm`).
    file: PathBuf,
    /// The channel config (a JSON file), secrets included, as an operator
    /// would store it. Secrets are masked in everything printed.
    #[arg(long)]
    config: PathBuf,
    /// The batch to deliver (JSON: `message_id`, `content` {`subject`,
    /// `body`, `locale`}, `recipients` [{`address`, `idempotency_key`}]).
    /// Default: a sample of up to 3 recipients.
    #[arg(long)]
    batch: Option<PathBuf>,
    /// Answer the plugin's requests from this script (see docs/plugins.md).
    /// Default: `200 {"id": "fake-N"}` to every request.
    #[arg(long, conflicts_with = "upstream")]
    responses: Option<PathBuf>,
    /// Forward the plugin's requests to this base URL instead (a platform's
    /// sandbox, a local fake), keeping method, path, query, headers and body.
    #[arg(long)]
    upstream: Option<String>,
    /// A host the operator approves for the channel (`host[:port]`); repeat
    /// for several. Default: every host of the manifest.
    #[arg(long = "allowed-host")]
    allowed_hosts: Vec<String>,
    /// Lower the call deadline, in seconds, to fail fast in CI (production
    /// allows 30; the kit never raises it).
    #[arg(long, value_name = "SECONDS")]
    call_timeout: Option<f64>,
    /// Print every request in full (default: the first 20 of each call).
    #[arg(long)]
    verbose: bool,
    /// Print the report as JSON (for CI).
    #[arg(long)]
    json: bool,
}

pub(crate) async fn check_plugin(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let bytes = read(&args.file)?;
    let production = RuntimeConfig::default();
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let mut report = Report::new(
        args.file.display().to_string(),
        Limits::of(runtime.config(), &production),
    );
    prepare(&runtime, &bytes, &mut report).await;
    Ok(finish(&report, args.json, false))
}

pub(crate) async fn test_plugin(args: TestArgs) -> anyhow::Result<ExitCode> {
    let bytes = read(&args.file)?;
    // The config may hold secrets: errors name the file, never quote it.
    let config_text = String::from_utf8(read(&args.config)?)
        .map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", args.config.display()))?;
    let config: Value = serde_json::from_str(&config_text).map_err(|e| {
        anyhow::anyhow!(
            "{}: not JSON (line {}, column {})",
            args.config.display(),
            e.line(),
            e.column()
        )
    })?;
    if !config.is_object() {
        anyhow::bail!(
            "{}: a channel config is a JSON object",
            args.config.display()
        );
    }
    let given_batch = match &args.batch {
        Some(path) => Some(parse_batch(path)?),
        None => None,
    };
    for entry in &args.allowed_hosts {
        tayori_core::parse_host_entry(entry).map_err(|e| anyhow::anyhow!("--allowed-host: {e}"))?;
    }

    let production = RuntimeConfig::default();
    let call_timeout = match args.call_timeout {
        None => production.call_timeout,
        Some(s) if s > 0.0 && s <= production.call_timeout.as_secs_f64() => {
            Duration::from_secs_f64(s)
        }
        Some(s) => anyhow::bail!(
            "--call-timeout {s}: give more than 0 and at most {} seconds, the production deadline",
            production.call_timeout.as_secs_f64()
        ),
    };
    let (transport, script): (Arc<dyn Transport>, Option<Arc<Scripted>>) =
        match (&args.responses, &args.upstream) {
            (_, Some(url)) => (
                Arc::new(Upstream::new(url, production.max_response_bytes)?),
                None,
            ),
            (Some(path), None) => {
                let text = String::from_utf8(read(path)?)
                    .map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", path.display()))?;
                let s = Arc::new(Scripted::parse(&text, &path.display().to_string())?);
                (s.clone(), Some(s))
            }
            (None, None) => {
                let s = Arc::new(Scripted::default_platform());
                (s.clone(), Some(s))
            }
        };
    let runtime = Runtime::new(RuntimeConfig {
        call_timeout,
        transport: Some(transport),
        ..RuntimeConfig::default()
    })?;
    let mut report = Report::new(
        args.file.display().to_string(),
        Limits::of(runtime.config(), &production),
    );

    let Some(plugin) = prepare(&runtime, &bytes, &mut report).await else {
        return Ok(finish(&report, args.json, args.verbose));
    };
    let manifest = plugin.record.manifest.clone();
    let masker = Masker::new(&manifest, &config);
    let config_name = args.config.display().to_string();
    if !check_config(&manifest, &config, &masker, &config_name, &mut report) {
        return Ok(finish(&report, args.json, args.verbose));
    }
    let approved = if args.allowed_hosts.is_empty() {
        manifest.hosts.clone()
    } else {
        args.allowed_hosts.clone()
    };
    let ctx = CallContext {
        tenant: Some("partner-kit".into()),
        channel: Some("test".into()),
        approved_hosts: approved,
        capture: true,
    };

    // validate-config, as when an operator saves the channel.
    let called = runtime.validate_config(&plugin, &ctx, &config_text).await;
    let mut view = call_view("validate-config", &called.report, &masker);
    let refused = match called.result {
        Err(e) => {
            view.error = Some(masker.mask(&e.kind.to_string()));
            call_problem(&mut report, "validate-config", &e.kind, &runtime);
            true
        }
        Ok(Err(refusal)) => {
            if let Some(field) = masker.leak(&refusal.message) {
                report.problem(
                    "secret_leak",
                    format!(
                        "validate-config's refusal quotes the secret `{field}`: name the field and what is wrong, never the value"
                    ),
                );
            }
            let at = if refusal.field.is_empty() {
                String::new()
            } else {
                format!(" at {}", refusal.field)
            };
            report.problem(
                "config_refused",
                format!(
                    "validate-config refused {config_name}{at}: {}. Fix the config, or the plugin's check if the config is right",
                    masker.mask(&refusal.message)
                ),
            );
            view.refusal = Some(RefusalView {
                field: refusal.field,
                message: masker.mask(&refusal.message),
            });
            true
        }
        Ok(Ok(())) => false,
    };
    request_findings(&mut report, "validate-config", &called.report, &runtime);
    log_findings(&mut report, "validate-config", &called.report, &masker);
    report.calls.push(view);
    if refused {
        script_findings(&mut report, script.as_deref());
        return Ok(finish(&report, args.json, args.verbose));
    }

    // deliver, as the scheduler calls it.
    let batch = match given_batch {
        Some(b) => {
            if b.recipients.len() > manifest.max_batch_size as usize {
                report.problem(
                    "batch_too_large",
                    format!(
                        "the batch has {} recipients, but the manifest's max-batch-size is {}: the host never sends more in one call; test with a smaller batch or raise max-batch-size",
                        b.recipients.len(),
                        manifest.max_batch_size
                    ),
                );
                return Ok(finish(&report, args.json, args.verbose));
            }
            b
        }
        None => sample_batch(manifest.max_batch_size),
    };
    let called = runtime
        .deliver(&plugin, &ctx, &config_text, std::slice::from_ref(&batch))
        .await;
    let mut view = call_view("deliver", &called.report, &masker);
    match called.result {
        Err(e) => {
            view.error = Some(masker.mask(&e.kind.to_string()));
            call_problem(&mut report, "deliver", &e.kind, &runtime);
        }
        Ok(outcomes) => {
            for o in outcomes {
                let address = batch
                    .recipients
                    .iter()
                    .find(|r| r.idempotency_key == o.idempotency_key)
                    .map(|r| r.address.clone());
                view.outcomes
                    .push(outcome_view(&mut report, &masker, o, address));
            }
        }
    }
    request_findings(&mut report, "deliver", &called.report, &runtime);
    log_findings(&mut report, "deliver", &called.report, &masker);
    usage_findings(&mut report, &view, &batch, &manifest, &runtime);
    report.calls.push(view);
    script_findings(&mut report, script.as_deref());
    Ok(finish(&report, args.json, args.verbose))
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))
}

fn parse_batch(path: &Path) -> anyhow::Result<Batch> {
    let text = read(path)?;
    let batch: Batch = serde_json::from_slice(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a batch ({e}); write {{\"message_id\": ..., \"content\": {{\"subject\": null, \"body\": ..., \"locale\": \"ja\"}}, \"recipients\": [{{\"address\": ..., \"idempotency_key\": ...}}]}}",
            path.display()
        )
    })?;
    if batch.recipients.is_empty() {
        anyhow::bail!("{}: a batch has at least one recipient", path.display());
    }
    let mut keys = BTreeSet::new();
    for r in &batch.recipients {
        if !keys.insert(r.idempotency_key.as_str()) {
            anyhow::bail!(
                "{}: idempotency key `{}` appears twice; the host gives every recipient its own",
                path.display(),
                r.idempotency_key
            );
        }
    }
    Ok(batch)
}

/// The batch `deliver` gets without `--batch`: up to three recipients of one
/// catalog message, keyed by fixed UUIDs as the host would key them.
fn sample_batch(max_batch_size: u32) -> Batch {
    let n = max_batch_size.clamp(1, 3) as usize;
    Batch {
        message_id: "pregnancy-day-100".into(),
        content: Content {
            subject: Some("妊娠15週目のあなたへ".into()),
            body: "そろそろ安定期。からだを冷やさないように、温かい飲み物でひと休みしましょう。"
                .into(),
            locale: "ja".into(),
            ..Content::default()
        },
        recipients: (1..=n)
            .map(|i| Recipient {
                address: format!("user-{i:04}"),
                idempotency_key: format!("5f0e7a2c-3b1d-4c8e-9a6f-{i:012x}"),
                unsubscribe_url: None,
            })
            .collect(),
    }
}

/// The upload checks; the loaded plugin when they pass.
async fn prepare(
    runtime: &Arc<Runtime>,
    bytes: &[u8],
    report: &mut Report,
) -> Option<Arc<LoadedPlugin>> {
    match runtime.prepare(bytes).await {
        Ok(prepared) => {
            let r = &prepared.record;
            report.component = Some(ComponentInfo {
                size: r.size,
                digest: r.digest.clone(),
                contract: r.contract.clone(),
            });
            manifest_findings(report, &r.manifest);
            report.manifest = Some(r.manifest.clone());
            Some(prepared.plugin)
        }
        Err(e) => {
            report.problem(
                "upload_refused",
                format!("the host would refuse this upload: {e}"),
            );
            None
        }
    }
}

/// Warnings about a manifest that passed the upload checks.
fn manifest_findings(report: &mut Report, m: &Manifest) {
    let secrets = m.secret_fields();
    if let Some(props) = m
        .config_schema
        .get("properties")
        .and_then(|p| p.as_object())
    {
        for name in props.keys() {
            let lower = name.to_ascii_lowercase();
            let looks_secret = [
                "token",
                "secret",
                "password",
                "api_key",
                "apikey",
                "credential",
            ]
            .iter()
            .any(|hint| lower.contains(hint));
            if looks_secret && !secrets.contains(name) {
                report.warning(
                    "secret_not_write_only",
                    format!(
                        "config property `{name}` looks like a secret but the schema does not mark it \"writeOnly\": true, so the host would store it in clear and return it from the API"
                    ),
                );
            }
        }
    }
    let nested = count_write_only(&m.config_schema).saturating_sub(secrets.len());
    if nested > 0 {
        report.warning(
            "nested_write_only",
            "the schema marks a nested property \"writeOnly\": only top-level properties are treated as secrets; move secrets to the top level",
        );
    }
}

fn count_write_only(v: &Value) -> usize {
    match v {
        Value::Object(map) => {
            usize::from(map.get("writeOnly") == Some(&Value::Bool(true)))
                + map.values().map(count_write_only).sum::<usize>()
        }
        Value::Array(items) => items.iter().map(count_write_only).sum(),
        _ => 0,
    }
}

/// The config against the manifest's schema, as the host checks it when a
/// channel is saved. False when it fails.
fn check_config(
    manifest: &Manifest,
    config: &Value,
    masker: &Masker,
    config_name: &str,
    report: &mut Report,
) -> bool {
    let validator = match jsonschema::options()
        .should_validate_formats(true)
        .build(&manifest.config_schema)
    {
        Ok(v) => v,
        Err(e) => {
            report.problem(
                "config_schema",
                format!("the manifest's config schema does not compile: {e}"),
            );
            return false;
        }
    };
    let errors: Vec<String> = validator
        .iter_errors(config)
        .take(10)
        .map(|e| {
            masker.mask(&format!(
                "{config_name}: config{}: {e}",
                e.instance_path.as_str()
            ))
        })
        .collect();
    for e in &errors {
        report.problem(
            "config_invalid",
            format!(
                "{e} (the host refuses a channel config that does not match the plugin's schema)"
            ),
        );
    }
    errors.is_empty()
}

fn call_view(function: &'static str, r: &CallReport, masker: &Masker) -> CallView {
    CallView {
        function,
        error: None,
        refusal: None,
        outcomes: Vec::new(),
        wall_ms: millis_f(r.wall),
        peak_memory_bytes: r.peak_memory,
        requests: r.requests.iter().map(|q| request_view(q, masker)).collect(),
        logs: r
            .logs
            .iter()
            .map(|(level, message)| LogView {
                level: format!("{level:?}").to_ascii_lowercase(),
                message: masker.mask(message),
            })
            .collect(),
        logs_dropped: r.logs_dropped,
    }
}

fn request_view(r: &RequestRecord, masker: &Masker) -> RequestView {
    RequestView {
        method: r.method.clone(),
        url: masker.mask(&r.url),
        headers: r
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), masker.header(n, v)))
            .collect(),
        body: masker.mask(&String::from_utf8_lossy(&r.body)),
        status: r.status,
        response_bytes: r.response_bytes,
        elapsed_ms: millis_f(r.elapsed),
        error: r.error.as_deref().map(|e| masker.mask(e)),
    }
}

fn outcome_view(
    report: &mut Report,
    masker: &Masker,
    o: tayori_core::Outcome,
    address: Option<String>,
) -> OutcomeView {
    match o.status {
        DeliveryStatus::Accepted(id) => OutcomeView {
            idempotency_key: o.idempotency_key,
            address,
            status: "accepted",
            platform_id: id.map(|i| masker.mask(&i)),
            failure: None,
            retry_after_seconds: None,
            message: None,
        },
        DeliveryStatus::Failed(f) => {
            if let Some(field) = masker.leak(&f.message) {
                report.problem(
                    "secret_leak",
                    format!(
                        "the failure message for `{}` quotes the secret `{field}`: operators read these messages; say what the platform said without credentials",
                        o.idempotency_key
                    ),
                );
            }
            let (kind, seconds) = match f.kind {
                FailureKind::RetryAfter(s) => ("retry_after", Some(s)),
                FailureKind::Transient => ("transient", None),
                FailureKind::Permanent => ("permanent", None),
                FailureKind::RecipientGone => ("recipient_gone", None),
                FailureKind::Unauthorized => ("unauthorized", None),
            };
            OutcomeView {
                idempotency_key: o.idempotency_key,
                address,
                status: "failed",
                platform_id: None,
                failure: Some(kind.to_string()),
                retry_after_seconds: seconds,
                message: Some(masker.mask(&f.message)),
            }
        }
    }
}

/// A call that failed as a whole, and what to change.
fn call_problem(report: &mut Report, function: &str, kind: &CallErrorKind, runtime: &Runtime) {
    let limits = runtime.config();
    let (code, message) = match kind {
        CallErrorKind::Timeout(d) => (
            "timeout",
            format!(
                "{function} ran past the call deadline ({d:?}; production allows {:?}, HTTP included) and was stopped. Look for a loop that never ends or requests that wait too long; a call must finish a whole batch within the deadline, so lower max-batch-size if a full batch is slow",
                RuntimeConfig::default().call_timeout
            ),
        ),
        CallErrorKind::OutOfMemory => (
            "out_of_memory",
            format!(
                "{function} ran out of memory: linear memory may grow to {} per call. Keep less at once (one batch and its answers must fit) and free what you no longer need",
                bytes(limits.memory_limit)
            ),
        ),
        CallErrorKind::StackOverflow => (
            "stack_overflow",
            format!("{function} overflowed its stack: look for unbounded recursion"),
        ),
        CallErrorKind::Trap(t) => (
            "trap",
            format!(
                "{function} trapped ({t}): a panic, an `unreachable`, or an access out of bounds (often unbounded recursion running out of stack). Return a failure (transient, permanent...) instead of panicking; the plugin's log lines may say where"
            ),
        ),
        CallErrorKind::Contract(t) => (
            "contract_violation",
            format!(
                "{function} broke the contract: {t}. Return exactly one outcome per recipient, keyed by its idempotency key exactly as given"
            ),
        ),
        CallErrorKind::Busy(t) | CallErrorKind::Instantiate(t) => (
            "instantiate",
            format!("{function} could not start an instance: {t}"),
        ),
        CallErrorKind::Unsupported(call) => (
            "unsupported",
            format!(
                "{function}: the plugin does not offer `{call}` (its contract version or manifest leaves it out)"
            ),
        ),
    };
    report.problem(code, message);
}

/// Why the runtime refused or failed a request, from its record.
#[derive(Debug, PartialEq, Eq)]
enum RequestFault {
    NotInManifest,
    NotApproved,
    TooMany,
    RequestTooLarge,
    ResponseTooLarge,
    Timeout,
    Other,
}

fn request_fault(error: &str) -> RequestFault {
    if error.contains("is not among the hosts in the plugin's manifest") {
        RequestFault::NotInManifest
    } else if error.contains("is not approved by the operator") {
        RequestFault::NotApproved
    } else if error.contains("outbound requests per call") {
        RequestFault::TooMany
    } else if error.starts_with("request body") {
        RequestFault::RequestTooLarge
    } else if error.contains("exceeds the cap") {
        RequestFault::ResponseTooLarge
    } else if error.contains("no complete answer within") {
        RequestFault::Timeout
    } else {
        RequestFault::Other
    }
}

fn authority(url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|u| {
            let https = u.scheme_str() != Some("http");
            u.host().map(|h| {
                format!(
                    "{h}:{}",
                    u.port_u16().unwrap_or(if https { 443 } else { 80 })
                )
            })
        })
        .unwrap_or_else(|| url.to_string())
}

fn request_findings(report: &mut Report, function: &str, r: &CallReport, runtime: &Runtime) {
    let limits = runtime.config();
    let mut seen = BTreeSet::new();
    let mut refused_over_cap = 0usize;
    for (i, q) in r.requests.iter().enumerate() {
        let Some(error) = &q.error else { continue };
        let fault = request_fault(error);
        let host = authority(&q.url);
        match fault {
            RequestFault::TooMany => refused_over_cap += 1,
            RequestFault::NotInManifest if seen.insert((0, host.clone())) => report.problem(
                "host_not_in_manifest",
                format!(
                    "{function} requested {} {}, but {host} is not among the manifest's hosts, so the host refused it before it left (the plugin saw HttpRequestDenied). Add `{}` to the manifest's `hosts` (operators then approve it per channel), or do not call it",
                    q.method,
                    origin(&q.url),
                    host_entry(&host)
                ),
            ),
            RequestFault::NotApproved if seen.insert((1, host.clone())) => report.problem(
                "host_not_approved",
                format!(
                    "{function} requested {host}, which is in the manifest but not approved for this channel (--allowed-host), so it was refused; in production operators approve hosts per channel"
                ),
            ),
            RequestFault::RequestTooLarge if seen.insert((2, host.clone())) => report.problem(
                "request_too_large",
                format!(
                    "{function}'s request {} to {host} has a body over the host's limit of {}: send less per request",
                    i + 1,
                    bytes(limits.max_request_bytes)
                ),
            ),
            RequestFault::ResponseTooLarge if seen.insert((3, host.clone())) => report.warning(
                "response_too_large",
                format!(
                    "the answer to {function}'s request {} ({host}) was over the host's cap of {}, so the plugin got an error; in production the same answer fails the same way",
                    i + 1,
                    bytes(limits.max_response_bytes)
                ),
            ),
            RequestFault::Timeout if seen.insert((4, host.clone())) => report.warning(
                "request_timeout",
                format!(
                    "{function}'s request {} to {host} got no complete answer within the host's {:?} request timeout; check that the plugin reports it as transient",
                    i + 1,
                    limits.request_timeout
                ),
            ),
            RequestFault::Other if seen.insert((5, host.clone())) => report.warning(
                "request_failed",
                format!("{function}'s request {} to {host} failed: {error}", i + 1),
            ),
            _ => {}
        }
    }
    if refused_over_cap > 0 {
        report.problem(
            "too_many_requests",
            format!(
                "{function} tried {} outbound requests; a call may make {}, so the last {refused_over_cap} were refused (the plugin saw ConnectionLimitReached). Make fewer requests per call: lower max-batch-size, or use the platform's bulk endpoint",
                r.requests.len(),
                limits.max_requests_per_call
            ),
        );
    }
}

fn origin(url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .map(|u| {
            format!(
                "{}://{}{}",
                u.scheme_str().unwrap_or("https"),
                u.authority().map(|a| a.as_str()).unwrap_or(""),
                u.path()
            )
        })
        .unwrap_or_else(|| url.to_string())
}

/// `api.example.com:443` → `api.example.com` (port 443 is the default).
fn host_entry(authority: &str) -> String {
    authority
        .strip_suffix(":443")
        .unwrap_or(authority)
        .to_string()
}

fn log_findings(report: &mut Report, function: &str, r: &CallReport, masker: &Masker) {
    if let Some((_, field)) = r
        .logs
        .iter()
        .find_map(|(_, line)| masker.leak(line).map(|f| (line, f)))
    {
        report.problem(
            "secret_leak",
            format!(
                "{function} logs the secret `{field}`: never log a config's writeOnly fields (the host keeps plugin logs with the tenant's)"
            ),
        );
    }
    if r.logs_dropped > 0 {
        report.warning(
            "logs_dropped",
            format!(
                "{function} logged {} lines; the host keeps {} per call and dropped the rest",
                r.logs.len() + r.logs_dropped as usize,
                r.logs.len()
            ),
        );
    }
}

/// Close to a limit, or a full batch that would pass one.
fn usage_findings(
    report: &mut Report,
    view: &CallView,
    batch: &Batch,
    manifest: &Manifest,
    runtime: &Runtime,
) {
    let limits = runtime.config();
    let deadline_ms = millis_f(limits.call_timeout);
    if view.error.is_none() && view.wall_ms > deadline_ms / 2.0 {
        report.warning(
            "slow",
            format!(
                "deliver took {:.0} ms, over half of the {:.0} ms deadline",
                view.wall_ms, deadline_ms
            ),
        );
    }
    if view.error.is_none() && view.peak_memory_bytes > limits.memory_limit / 4 * 3 {
        report.warning(
            "memory",
            format!(
                "deliver's memory grew to {}, over three quarters of the {} limit",
                bytes(view.peak_memory_bytes),
                bytes(limits.memory_limit)
            ),
        );
    }
    let made = view.requests.len();
    let n = batch.recipients.len();
    let full = manifest.max_batch_size as usize;
    let cap = limits.max_requests_per_call as usize;
    if view.error.is_none() && made > 0 && made <= cap && n < full {
        let projected = made.div_ceil(n) * full;
        if projected > cap {
            report.warning(
                "full_batch_requests",
                format!(
                    "deliver made {made} requests for {n} recipients; a full batch of {full} (the manifest's max-batch-size) would need about {projected}, over the limit of {cap} per call: lower max-batch-size to at most {}",
                    cap * n / made
                ),
            );
        }
    }
}

fn script_findings(report: &mut Report, script: Option<&Scripted>) {
    let Some(script) = script else { return };
    let unmatched = script.unmatched();
    if let Some(first) = unmatched.first() {
        report.problem(
            "script_unmatched",
            format!(
                "{} request{} matched no entry of the responses file (first: {first}) and got 501: add an entry whose `when` fits (an entry without `when` matches every request)",
                unmatched.len(),
                if unmatched.len() == 1 { "" } else { "s" }
            ),
        );
    }
}

fn finish(report: &Report, json: bool, verbose: bool) -> ExitCode {
    use std::io::Write as _;
    let text = if json {
        serde_json::to_string_pretty(report)
            .map(|t| t + "\n")
            .unwrap_or_else(|e| {
                format!("{{\"ok\": false, \"error\": \"writing the report: {e}\"}}\n")
            })
    } else {
        report.to_text(verbose)
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Masks the tested config's secrets (its `writeOnly` fields) wherever they
/// appear, and credential headers whatever they hold.
struct Masker {
    /// (field, value), longest value first.
    secrets: Vec<(String, String)>,
}

/// What a secret looks like in the kit's output.
const MASK: &str = "***";

impl Masker {
    fn new(manifest: &Manifest, config: &Value) -> Self {
        let mut secrets: Vec<(String, String)> = manifest
            .secret_fields()
            .into_iter()
            .filter_map(|field| {
                let text = match config.get(&field)? {
                    Value::Null => return None,
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (!text.is_empty()).then_some((field, text))
            })
            .collect();
        secrets.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        Self { secrets }
    }

    fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (_, value) in &self.secrets {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
        }
        out
    }

    /// The secret field whose value `text` contains, if any.
    fn leak(&self, text: &str) -> Option<&str> {
        self.secrets
            .iter()
            .find(|(_, v)| text.contains(v.as_str()))
            .map(|(f, _)| f.as_str())
    }

    fn header(&self, name: &str, value: &str) -> String {
        match name.to_ascii_lowercase().as_str() {
            "authorization" | "proxy-authorization" => match value.split_once(' ') {
                Some((scheme, _)) => format!("{scheme} {MASK}"),
                None => MASK.to_string(),
            },
            "cookie" => MASK.to_string(),
            _ => self.mask(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest(schema: Value) -> Manifest {
        Manifest {
            id: "acme".into(),
            name: "Acme".into(),
            version: semver::Version::new(1, 0, 0),
            vendor: "Acme".into(),
            description: String::new(),
            config_schema: schema,
            hosts: vec!["api.acme.example".into()],
            max_batch_size: 10,
            rate_per_second: 10,
            daily_quota: None,
            rate_windows: Vec::new(),
            handles_webhooks: false,
            max_batches_per_call: 1,
            replies: false,
            sets_up_channels: false,
            renders: Default::default(),
        }
    }

    #[test]
    fn secrets_are_masked_everywhere_and_leaks_are_named() {
        let m = manifest(json!({"type": "object", "properties": {
            "api_key": {"type": "string", "writeOnly": true},
            "pin": {"type": "integer", "writeOnly": true},
            "sender": {"type": "string"}
        }}));
        let masker = Masker::new(
            &m,
            &json!({"api_key": "k-123456", "pin": 4321, "sender": "Tayori"}),
        );
        assert_eq!(
            masker.mask("https://a.example/?key=k-123456&pin=4321 from Tayori"),
            "https://a.example/?key=***&pin=*** from Tayori"
        );
        assert_eq!(masker.header("Authorization", "Basic abc"), "Basic ***");
        assert_eq!(masker.header("x-api-key", "k-123456"), "***");
        assert_eq!(masker.header("x-sender", "Tayori"), "Tayori");
        assert_eq!(masker.leak("bad key k-123456"), Some("api_key"));
        assert_eq!(masker.leak("bad key"), None);
    }

    #[test]
    fn runtime_refusals_are_recognised() {
        assert_eq!(
            request_fault("evil.example:443 is not among the hosts in the plugin's manifest"),
            RequestFault::NotInManifest
        );
        assert_eq!(
            request_fault("a:443 is not approved by the operator for this channel"),
            RequestFault::NotApproved
        );
        assert_eq!(
            request_fault("request 1001 exceeds the limit of 1000 outbound requests per call"),
            RequestFault::TooMany
        );
        assert_eq!(
            authority("https://api.acme.example/v1"),
            "api.acme.example:443"
        );
        assert_eq!(authority("http://127.0.0.1:8080/x"), "127.0.0.1:8080");
        assert_eq!(host_entry("api.acme.example:443"), "api.acme.example");
    }

    #[test]
    fn secret_looking_fields_must_be_write_only() {
        let limits = Limits::of(&RuntimeConfig::default(), &RuntimeConfig::default());
        let mut r = Report::new("p.wasm".into(), limits);
        manifest_findings(
            &mut r,
            &manifest(json!({"type": "object", "properties": {
                "access_token": {"type": "string"},
                "nested": {"type": "object", "properties": {"k": {"writeOnly": true}}}
            }})),
        );
        let codes: Vec<&str> = r.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, ["secret_not_write_only", "nested_write_only"]);
        assert!(r.ok, "warnings do not fail the run");
    }

    #[test]
    fn the_sample_batch_fits_the_manifest() {
        assert_eq!(sample_batch(1).recipients.len(), 1);
        let b = sample_batch(500);
        assert_eq!(b.recipients.len(), 3);
        let keys: BTreeSet<_> = b.recipients.iter().map(|r| &r.idempotency_key).collect();
        assert_eq!(keys.len(), 3);
        assert!(
            b.recipients
                .iter()
                .all(|r| uuid::Uuid::parse_str(&r.idempotency_key).is_ok())
        );
    }
}
