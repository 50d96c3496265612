//! Calling a plugin: one fresh instance per call, under a deadline and the
//! call's limits, with the outcome checked against the contract.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tayori_core::{
    Batch, ChannelSetup, ConfigError, Failure, LogLevel, Outcome, PluginVersionRecord, Reply,
    ReplyOutcome, SetupReport, WebhookRequest, WebhookResult,
};
use wasmtime::component::{InstancePre, ResourceTable};
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::contract::{Bound, Call, RawManifest};
use crate::engine::Runtime;
use crate::error::{CallError, CallErrorKind};
use crate::outbound::{CallPolicy, HostRule, OutboundHooks};
use crate::state::{CallLog, Limits, PluginState, Secrets, Who};

/// A compiled, pre-instantiated plugin version. Cheap to share; calls in
/// flight keep the version they started with alive.
pub struct LoadedPlugin {
    pub record: PluginVersionRecord,
    pub(crate) pre: InstancePre<PluginState>,
    /// The contract version it was built for, and where its exports are
    /// (found and type-checked once per version: a call looks up only the
    /// export it calls).
    pub(crate) bound: Bound,
    pub(crate) hosts: Arc<Vec<HostRule>>,
    /// The config properties the manifest's schema marks `writeOnly`: their
    /// values are masked in the plugin's log lines.
    pub(crate) secret_fields: Arc<[String]>,
}

impl LoadedPlugin {
    /// The contract version the component was built for (`0.1.0`, `0.2.0`).
    pub fn contract(&self) -> &'static str {
        self.bound.version()
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LoadedPlugin({} {})",
            self.record.plugin_id, self.record.version
        )
    }
}

/// Who a call is for and what the operator approved for it.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    pub tenant: Option<String>,
    pub channel: Option<String>,
    /// The operator's `allowed_hosts` for the channel; intersected with the
    /// manifest's hosts.
    pub approved_hosts: Vec<String>,
    /// Keep each request's headers and body in the report (the partner kit).
    pub capture: bool,
}

/// One outbound request a call made or tried to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub url: String,
    /// Only when the call captures.
    pub headers: Vec<(String, String)>,
    /// Only when the call captures; cut at 64 KiB.
    pub body: Vec<u8>,
    pub status: Option<u16>,
    pub response_bytes: usize,
    pub elapsed: Duration,
    /// Why it failed or was refused.
    pub error: Option<String>,
}

impl RequestRecord {
    pub(crate) fn refused(method: String, url: String, why: String) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            body: Vec::new(),
            status: None,
            response_bytes: 0,
            elapsed: Duration::ZERO,
            error: Some(why),
        }
    }
}

/// What a call used, for metrics and for the partner kit.
#[derive(Debug, Clone, Default)]
pub struct CallReport {
    pub wall: Duration,
    /// Largest linear memory the instance grew to, in bytes.
    pub peak_memory: usize,
    pub requests: Vec<RequestRecord>,
    pub logs: Vec<(LogLevel, String)>,
    pub logs_dropped: u32,
}

/// A call's result and its report (there is a report even when it failed).
///
/// The error is boxed: a [`CallError`] names the plugin, version, tenant and
/// channel, and would otherwise make every `Result` on the success path as
/// large as itself.
#[derive(Debug)]
pub struct Called<T> {
    pub result: Result<T, Box<CallError>>,
    pub report: CallReport,
}

impl Runtime {
    fn new_store(
        &self,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        config: Option<Arc<str>>,
        deadline: Instant,
    ) -> Store<PluginState> {
        let log = Arc::new(Mutex::new(CallLog::default()));
        let state = PluginState {
            // Built on the guest's first WASI call (see `state.rs`): a call
            // that makes none never pays for it.
            wasi: None,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: OutboundHooks {
                client: self.http.clone(),
                policy: CallPolicy::new(
                    plugin.hosts.clone(),
                    &ctx.approved_hosts,
                    &self.config.policy,
                ),
                host_policy: self.config.policy.clone(),
                request_timeout: self.config.request_timeout,
                max_response_bytes: self.config.max_response_bytes,
                max_request_bytes: self.config.max_request_bytes,
                max_requests: self.config.max_requests_per_call,
                requests_made: 0,
                capture: ctx.capture,
                transport: self.config.transport.clone(),
                log: log.clone(),
            },
            limits: Limits {
                memory_limit: self.config.memory_limit,
                peak_memory: 0,
                memory_exceeded: false,
            },
            who: who(plugin, ctx),
            logs: Vec::new(),
            logs_dropped: 0,
            max_logs: self.config.max_log_lines_per_call,
            secrets: Secrets::new(plugin.secret_fields.clone(), config),
            calls: log,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }

    /// Runs `f` on a fresh instance of `plugin` under the call's deadline.
    /// `config` is the channel config the call is given (its secret values
    /// are masked in the plugin's log lines).
    async fn call<T, F>(
        &self,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        config: Option<Arc<str>>,
        f: F,
    ) -> Called<T>
    where
        F: for<'a> FnOnce(
            Call<'a>,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = wasmtime::Result<T>> + Send + 'a>,
        >,
    {
        let timeout = self.config.call_timeout;
        let started = Instant::now();
        let deadline = started + timeout;
        let mut store = self.new_store(plugin, ctx, config, deadline);
        let outcome = tokio::time::timeout_at(deadline.into(), async {
            let instance = plugin
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| (true, e))?;
            f(Call {
                instance: &instance,
                store: &mut store,
            })
            .await
            .map_err(|e| (false, e))
        })
        .await;
        let state = store.data_mut();
        let requests = std::mem::take(&mut state.calls.lock().expect("call log lock").requests);
        let report = CallReport {
            wall: started.elapsed(),
            peak_memory: state.limits.peak_memory,
            requests,
            logs: std::mem::take(&mut state.logs),
            logs_dropped: state.logs_dropped,
        };
        let kind = match outcome {
            Ok(Ok(value)) => {
                return Called {
                    result: Ok(value),
                    report,
                };
            }
            Err(_elapsed) => CallErrorKind::Timeout(timeout),
            Ok(Err((instantiating, e))) => {
                classify(e, instantiating, state.limits.memory_exceeded, timeout)
            }
        };
        Called {
            result: Err(Box::new(CallError::new(&state.who, kind))),
            report,
        }
    }

    /// Asks a plugin version for its manifest (used at upload).
    pub(crate) async fn call_manifest(&self, plugin: &LoadedPlugin) -> Called<RawManifest> {
        let bound = plugin.bound;
        self.call(plugin, &CallContext::default(), None, move |c| {
            Box::pin(async move { bound.manifest(c).await })
        })
        .await
    }

    /// `validate-config`: `Ok(Err(..))` is the plugin's refusal.
    pub async fn validate_config(
        &self,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        config: &str,
    ) -> Called<Result<(), ConfigError>> {
        let config: Arc<str> = config.into();
        let text = config.clone();
        let bound = plugin.bound;
        self.call(plugin, ctx, Some(config), move |c| {
            Box::pin(async move { bound.validate_config(c, &text).await })
        })
        .await
    }

    /// `deliver`: exactly one outcome per recipient of every batch, or a
    /// contract error.
    ///
    /// A 0.2.0 plugin gets every batch in one call, on one instance. A 0.1.0
    /// plugin takes one batch per call: the dispatcher gives it one (its
    /// manifest says `max_batches_per_call` 1); given more, each gets a
    /// call of its own, in order, and the first that fails fails the rest
    /// unsent.
    pub async fn deliver(
        &self,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        config: &str,
        batches: &[Batch],
    ) -> Called<Vec<Outcome>> {
        let config: Arc<str> = config.into();
        if plugin.bound.many_batches() || batches.len() <= 1 {
            return self
                .deliver_call(plugin, ctx, &config, batches.to_vec())
                .await;
        }
        let mut all = Vec::new();
        let mut report = CallReport::default();
        for batch in batches {
            let called = self
                .deliver_call(plugin, ctx, &config, vec![batch.clone()])
                .await;
            report.absorb(called.report);
            match called.result {
                Ok(outcomes) => all.extend(outcomes),
                Err(e) => {
                    return Called {
                        result: Err(e),
                        report,
                    };
                }
            }
        }
        Called {
            result: Ok(all),
            report,
        }
    }

    async fn deliver_call(
        &self,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        config: &Arc<str>,
        batches: Vec<Batch>,
    ) -> Called<Vec<Outcome>> {
        let text = config.clone();
        let bound = plugin.bound;
        let renders = plugin.record.manifest.renders;
        let batches = Arc::new(batches);
        let sent = batches.clone();
        let called = self
            .call(plugin, ctx, Some(config.clone()), move |c| {
                Box::pin(async move { bound.deliver(c, &text, &sent, &renders).await })
            })
            .await;
        let result = called.result.and_then(|outcomes| {
            check_outcomes(&batches, &outcomes).map_err(|why| {
                Box::new(CallError::new(
                    &who(plugin, ctx),
                    CallErrorKind::Contract(why),
                ))
            })?;
            let scrub = tayori_core::answers::Scrub::new(&plugin.secret_fields, config);
            Ok(scrub.outcomes(outcomes))
        });
        Called {
            result,
            report: called.report,
        }
    }

    /// `reply`: answers events in place, one outcome per reply. An error of
    /// kind `unsupported` when the plugin does not reply (0.1.0, or a
    /// manifest without `replies`): the caller pushes instead.
    pub async fn reply(
        &self,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        config: &str,
        replies: &[Reply],
    ) -> Called<Vec<ReplyOutcome>> {
        if !plugin.record.manifest.replies || !plugin.bound.many_batches() {
            return Called {
                result: Err(Box::new(CallError::new(
                    &who(plugin, ctx),
                    CallErrorKind::Unsupported("reply"),
                ))),
                report: CallReport::default(),
            };
        }
        let config: Arc<str> = config.into();
        let text = config.clone();
        let bound = plugin.bound;
        let renders = plugin.record.manifest.renders;
        let sent: Arc<Vec<Reply>> = Arc::new(replies.to_vec());
        let given = sent.clone();
        let called = self
            .call(plugin, ctx, Some(config), move |c| {
                Box::pin(async move {
                    match bound.reply(c, &text, &given, &renders).await {
                        Some(r) => r,
                        None => wasmtime::bail!("this contract version has no reply"),
                    }
                })
            })
            .await;
        let result = called.result.and_then(|outcomes| {
            check_reply_outcomes(&sent, &outcomes).map_err(|why| {
                Box::new(CallError::new(
                    &who(plugin, ctx),
                    CallErrorKind::Contract(why),
                ))
            })?;
            Ok(outcomes)
        });
        Called {
            result,
            report: called.report,
        }
    }

    /// `setup-channel`; `None` when the plugin sets nothing up (0.1.0, or
    /// a manifest without `sets-up-channels`). `Ok(Err(..))` is the
    /// plugin's own failure, to show on the channel.
    pub async fn setup_channel(
        &self,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        config: &str,
        setup: &ChannelSetup,
    ) -> Option<Called<Result<SetupReport, Failure>>> {
        if !plugin.record.manifest.sets_up_channels || !plugin.bound.many_batches() {
            return None;
        }
        let config: Arc<str> = config.into();
        let text = config.clone();
        let bound = plugin.bound;
        let setup = setup.clone();
        Some(
            self.call(plugin, ctx, Some(config), move |c| {
                Box::pin(async move {
                    match bound.setup_channel(c, &text, &setup).await {
                        Some(r) => r,
                        None => wasmtime::bail!("this contract version has no setup-channel"),
                    }
                })
            })
            .await,
        )
    }

    /// `handle-webhook`.
    pub async fn handle_webhook(
        &self,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        config: &str,
        request: &WebhookRequest,
    ) -> Called<WebhookResult> {
        let config: Arc<str> = config.into();
        let text = config.clone();
        let bound = plugin.bound;
        let request = request.clone();
        self.call(plugin, ctx, Some(config), move |c| {
            Box::pin(async move { bound.handle_webhook(c, &text, &request).await })
        })
        .await
    }
}

impl CallReport {
    /// Adds another call's report to this one (a 0.1.0 plugin's batches,
    /// one call each).
    fn absorb(&mut self, other: CallReport) {
        self.wall += other.wall;
        self.peak_memory = self.peak_memory.max(other.peak_memory);
        self.requests.extend(other.requests);
        self.logs.extend(other.logs);
        self.logs_dropped += other.logs_dropped;
    }
}

fn who(plugin: &LoadedPlugin, ctx: &CallContext) -> Who {
    Who {
        plugin: plugin.record.plugin_id.clone(),
        version: plugin.record.version.to_string(),
        tenant: ctx.tenant.clone(),
        channel: ctx.channel.clone(),
    }
}

/// One outcome per recipient of every batch, each key from the batches,
/// none twice.
fn check_outcomes(batches: &[Batch], outcomes: &[Outcome]) -> Result<(), String> {
    let expected: HashSet<&str> = batches
        .iter()
        .flat_map(|b| b.recipients.iter().map(|r| r.idempotency_key.as_str()))
        .collect();
    let mut seen = HashSet::new();
    for o in outcomes {
        if !expected.contains(o.idempotency_key.as_str()) {
            return Err(format!(
                "returned an outcome for `{}`, which is not in the batch",
                tayori_core::answers::cut(o.idempotency_key.clone(), 128)
            ));
        }
        if !seen.insert(o.idempotency_key.as_str()) {
            return Err(format!(
                "returned two outcomes for `{}`",
                tayori_core::answers::cut(o.idempotency_key.clone(), 128)
            ));
        }
    }
    if seen.len() != expected.len() {
        let missing: Vec<&str> = expected.difference(&seen).copied().take(3).collect();
        return Err(format!(
            "returned {} outcomes for {} recipients (missing {})",
            outcomes.len(),
            expected.len(),
            missing.join(", ")
        ));
    }
    Ok(())
}

/// One outcome per reply, each for a token it was given, none twice.
fn check_reply_outcomes(replies: &[Reply], outcomes: &[ReplyOutcome]) -> Result<(), String> {
    let expected: HashSet<&str> = replies.iter().map(|r| r.token.as_str()).collect();
    let mut seen = HashSet::new();
    for o in outcomes {
        if !expected.contains(o.token.as_str()) {
            return Err(format!(
                "answered a reply to handle `{}`, which it was not given",
                o.token
            ));
        }
        if !seen.insert(o.token.as_str()) {
            return Err(format!("answered the reply to handle `{}` twice", o.token));
        }
    }
    if seen.len() != expected.len() {
        return Err(format!(
            "answered {} of {} replies",
            seen.len(),
            expected.len()
        ));
    }
    Ok(())
}

fn classify(
    e: wasmtime::Error,
    instantiating: bool,
    memory_exceeded: bool,
    timeout: Duration,
) -> CallErrorKind {
    if memory_exceeded {
        return CallErrorKind::OutOfMemory;
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallErrorKind::Timeout(timeout),
        Some(Trap::StackOverflow) => CallErrorKind::StackOverflow,
        Some(trap) => CallErrorKind::Trap(trap.to_string()),
        None if instantiating => {
            let text = format!("{e:#}");
            if text.contains("concurrent") || text.contains("pool") || text.contains("maximum") {
                CallErrorKind::Busy(text)
            } else {
                CallErrorKind::Instantiate(text)
            }
        }
        None => CallErrorKind::Trap(format!("{e:#}")),
    }
}
