//! Calling a plugin: one fresh instance per call, under a deadline and the
//! call's limits, with the outcome checked against the contract.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tayori_core::{
    Batch, ConfigError, LogLevel, Outcome, PluginVersionRecord, WebhookRequest, WebhookResult,
};
use wasmtime::component::{
    ComponentExportIndex, ComponentNamedList, Instance, Lift, Lower, ResourceTable,
};
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::bindings::v0_1_0;
use crate::bindings::v0_1_0::tayori::plugin::types as wt;
use crate::engine::Runtime;
use crate::error::{CallError, CallErrorKind};
use crate::outbound::{CallPolicy, HostRule, OutboundHooks};
use crate::state::{CallLog, Limits, PluginState, Secrets, Who};

/// A compiled, pre-instantiated plugin version. Cheap to share; calls in
/// flight keep the version they started with alive.
pub struct LoadedPlugin {
    pub record: PluginVersionRecord,
    pub(crate) pre: v0_1_0::DeliveryPluginPre<PluginState>,
    pub(crate) hosts: Arc<Vec<HostRule>>,
    /// The config properties the manifest's schema marks `writeOnly`: their
    /// values are masked in the plugin's log lines.
    pub(crate) secret_fields: Arc<[String]>,
    pub(crate) exports: Exports,
}

/// Where the contract's exports are in the component, found once per
/// version (`pre` has type-checked them). A call looks up only the one it
/// calls: the bindings' `instantiate_async` would look up and type-check all
/// four on every call.
#[derive(Clone, Copy)]
pub(crate) struct Exports {
    pub manifest: ComponentExportIndex,
    pub validate_config: ComponentExportIndex,
    pub deliver: ComponentExportIndex,
    pub handle_webhook: ComponentExportIndex,
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
            who: Who {
                plugin: plugin.record.plugin_id.clone(),
                version: plugin.record.version.to_string(),
                tenant: ctx.tenant.clone(),
                channel: ctx.channel.clone(),
            },
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
            &'a Instance,
            &'a mut Store<PluginState>,
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
                .instance_pre()
                .instantiate_async(&mut store)
                .await
                .map_err(|e| (true, e))?;
            f(&instance, &mut store).await.map_err(|e| (false, e))
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
    pub(crate) async fn call_manifest(&self, plugin: &LoadedPlugin) -> Called<v0_1_0::RawManifest> {
        let export = plugin.exports.manifest;
        self.call(plugin, &CallContext::default(), None, move |i, s| {
            Box::pin(async move { call_export(i, s, &export, ()).await })
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
        let export = plugin.exports.validate_config;
        let called = self
            .call(plugin, ctx, Some(config), move |i, s| {
                Box::pin(async move {
                    call_export::<_, Result<(), wt::ConfigError>>(i, s, &export, (&*text,)).await
                })
            })
            .await;
        Called {
            result: called.result.map(|r| r.map_err(Into::into)),
            report: called.report,
        }
    }

    /// `deliver`: exactly one outcome per recipient, or a contract error.
    pub async fn deliver(
        &self,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        config: &str,
        batch: &Batch,
    ) -> Called<Vec<Outcome>> {
        let wbatch = wt::Batch::from(batch);
        let scrub = tayori_core::answers::Scrub::new(&plugin.secret_fields, config);
        let config: Arc<str> = config.into();
        let text = config.clone();
        let export = plugin.exports.deliver;
        let called = self
            .call(plugin, ctx, Some(config), move |i, s| {
                Box::pin(async move {
                    call_export::<_, Vec<wt::Outcome>>(i, s, &export, (&*text, &wbatch)).await
                })
            })
            .await;
        let result = called.result.and_then(|outcomes| {
            let outcomes: Vec<Outcome> = outcomes.into_iter().map(Into::into).collect();
            check_outcomes(batch, &outcomes).map_err(|why| {
                Box::new(CallError::new(
                    &Who {
                        plugin: plugin.record.plugin_id.clone(),
                        version: plugin.record.version.to_string(),
                        tenant: ctx.tenant.clone(),
                        channel: ctx.channel.clone(),
                    },
                    CallErrorKind::Contract(why),
                ))
            })?;
            Ok(scrub.outcomes(outcomes))
        });
        Called {
            result,
            report: called.report,
        }
    }

    /// `handle-webhook`.
    pub async fn handle_webhook(
        &self,
        plugin: &LoadedPlugin,
        ctx: &CallContext,
        config: &str,
        request: &WebhookRequest,
    ) -> Called<WebhookResult> {
        let wreq = wt::HttpRequest::from(request);
        let config: Arc<str> = config.into();
        let text = config.clone();
        let export = plugin.exports.handle_webhook;
        let called = self
            .call(plugin, ctx, Some(config), move |i, s| {
                Box::pin(async move {
                    call_export::<_, wt::WebhookResult>(i, s, &export, (&*text, &wreq)).await
                })
            })
            .await;
        Called {
            result: called.result.map(Into::into),
            report: called.report,
        }
    }
}

/// Calls the export at `index` of `instance` with `params`; it returns one
/// value (every export of the contract does).
async fn call_export<P, R>(
    instance: &Instance,
    store: &mut Store<PluginState>,
    index: &ComponentExportIndex,
    params: P,
) -> wasmtime::Result<R>
where
    P: ComponentNamedList + Lower + Send + Sync,
    R: Lift + Send + Sync + 'static,
{
    let func = instance.get_typed_func::<P, (R,)>(&mut *store, index)?;
    Ok(func.call_async(&mut *store, params).await?.0)
}

/// One outcome per recipient, each key from the batch, none twice.
fn check_outcomes(batch: &Batch, outcomes: &[Outcome]) -> Result<(), String> {
    let expected: HashSet<&str> = batch
        .recipients
        .iter()
        .map(|r| r.idempotency_key.as_str())
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
    if outcomes.len() != batch.recipients.len() {
        let missing: Vec<&str> = expected.difference(&seen).copied().take(3).collect();
        return Err(format!(
            "returned {} outcomes for {} recipients (missing {})",
            outcomes.len(),
            batch.recipients.len(),
            missing.join(", ")
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
