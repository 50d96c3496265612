//! Outbound HTTP for plugins: who may be reached, and how.
//!
//! A request goes out only when its authority is in the plugin's manifest AND
//! approved by the operator for the channel. The check runs twice: first in
//! `outgoing-handler.handle`, before the guest writes a byte, so the guest
//! sees `HttpRequestDenied` at once; again in `send_request`. A name that
//! resolves to a private, loopback or link-local address is refused unless
//! that address itself was approved. Requests go through the host's pooled
//! client with a timeout and a response size cap.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use tayori_core::parse_host_entry;
use wasmtime::component::Resource;
use wasmtime_wasi_http::p2::bindings::http::{outgoing_handler, types as wt};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::engine::RuntimeConfig;
use crate::plugin::RequestRecord;
use crate::state::{CallLog, PluginState};

/// Request-body bytes kept in a captured [`RequestRecord`] (the partner kit
/// prints them); longer bodies are cut.
const MAX_CAPTURED_BODY: usize = 64 << 10;

/// One `host[:port|:*]` rule, from a manifest or an operator's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostRule {
    host: String,
    /// `None` matches any port.
    port: Option<u16>,
}

impl HostRule {
    pub fn parse(entry: &str) -> Result<Self, String> {
        let (host, port) = parse_host_entry(entry)?;
        Ok(Self { host, port })
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        self.host == host && self.port.is_none_or(|p| p == port)
    }

    fn matches_ip(&self, ip: IpAddr, port: u16) -> bool {
        self.host.parse::<IpAddr>().is_ok_and(|h| h == ip) && self.port.is_none_or(|p| p == port)
    }
}

/// Host-wide outbound settings shared by every call.
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    /// Private addresses approved on some channel. The pooled client's
    /// resolver admits a private address only if it is here; each call checks
    /// its own channel's approval as well.
    approved_private: Arc<RwLock<HashSet<IpAddr>>>,
    /// Names resolved for plugins' requests.
    names: NameCache,
}

/// How long a name's addresses are used before it is resolved again.
const NAME_TTL: Duration = Duration::from_secs(30);
/// Names kept at most; past it, the cache starts again empty.
const MAX_NAMES: usize = 10_000;

/// A name's addresses, and when they were looked up.
type Resolved = (Instant, Arc<[IpAddr]>);

/// Addresses of the names plugins reach, kept for [`NAME_TTL`]. Without it
/// every request to a platform by name (`api.line.me`) asked the system
/// resolver twice, once for the call's own check and once for the pooled
/// client's: at a national morning's thousands of pushes a second, as many
/// DNS queries, each on a blocking thread. With it the call's check and the
/// client's resolver also read the same answer, so a name cannot change
/// between the check and the connection.
#[derive(Debug, Clone, Default)]
struct NameCache {
    entries: Arc<Mutex<std::collections::HashMap<String, Resolved>>>,
    /// Lookups made through the system resolver.
    lookups: Arc<std::sync::atomic::AtomicU64>,
}

impl NameCache {
    async fn resolve(&self, host: &str) -> std::io::Result<Arc<[IpAddr]>> {
        if let Some((at, addrs)) = self.entries.lock().expect("name cache lock").get(host)
            && at.elapsed() < NAME_TTL
        {
            return Ok(addrs.clone());
        }
        self.lookups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let addrs: Arc<[IpAddr]> = tokio::net::lookup_host((host, 0))
            .await?
            .map(|a| a.ip())
            .collect();
        let mut entries = self.entries.lock().expect("name cache lock");
        if entries.len() >= MAX_NAMES {
            entries.clear();
        }
        entries.insert(host.to_string(), (Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}

impl HostPolicy {
    /// A name's addresses, from the cache while they are fresh.
    async fn resolve(&self, host: &str) -> std::io::Result<Arc<[IpAddr]>> {
        self.names.resolve(host).await
    }

    /// How many names were resolved through the system resolver (the rest
    /// came from the cache).
    pub fn name_lookups(&self) -> u64 {
        self.names
            .lookups
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn note_approved(&self, rules: &[HostRule]) {
        let ips: Vec<IpAddr> = rules
            .iter()
            .filter_map(|r| r.host.parse::<IpAddr>().ok())
            .filter(|ip| !is_public(*ip))
            .collect();
        if ips.is_empty() {
            return;
        }
        let known = self
            .approved_private
            .read()
            .expect("policy lock")
            .iter()
            .copied()
            .collect::<HashSet<_>>();
        if ips.iter().any(|ip| !known.contains(ip)) {
            self.approved_private
                .write()
                .expect("policy lock")
                .extend(ips);
        }
    }

    fn admits(&self, ip: IpAddr) -> bool {
        is_public(ip)
            || self
                .approved_private
                .read()
                .expect("policy lock")
                .contains(&ip)
    }
}

/// Whether an address is on the public internet (not loopback, private,
/// link-local, unspecified, documentation, shared or multicast space).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, shared
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15, benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

/// A call's outbound policy: the manifest's hosts and the channel's approval.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallPolicy {
    pub manifest: Arc<Vec<HostRule>>,
    pub approved: Vec<HostRule>,
}

impl CallPolicy {
    pub fn new(manifest: Arc<Vec<HostRule>>, approved: &[String], host: &HostPolicy) -> Self {
        // Approval entries were validated when the channel was saved; an
        // entry that does not parse approves nothing.
        let approved: Vec<HostRule> = approved
            .iter()
            .filter_map(|e| HostRule::parse(e).ok())
            .collect();
        host.note_approved(&approved);
        Self { manifest, approved }
    }

    /// Why `authority` may not be reached, or `None` if it may.
    fn refusal(&self, host: &str, port: u16) -> Option<String> {
        if !self.manifest.iter().any(|r| r.matches(host, port)) {
            return Some(format!(
                "{host}:{port} is not among the hosts in the plugin's manifest"
            ));
        }
        if !self.approved.iter().any(|r| r.matches(host, port)) {
            return Some(format!(
                "{host}:{port} is not approved by the operator for this channel"
            ));
        }
        None
    }

    fn approves_ip(&self, ip: IpAddr, port: u16) -> bool {
        self.approved.iter().any(|r| r.matches_ip(ip, port))
    }
}

/// `GET`, `POST`... as on the wire.
fn method_name(method: &wt::Method) -> String {
    match method {
        wt::Method::Get => "GET".into(),
        wt::Method::Head => "HEAD".into(),
        wt::Method::Post => "POST".into(),
        wt::Method::Put => "PUT".into(),
        wt::Method::Delete => "DELETE".into(),
        wt::Method::Connect => "CONNECT".into(),
        wt::Method::Options => "OPTIONS".into(),
        wt::Method::Trace => "TRACE".into(),
        wt::Method::Patch => "PATCH".into(),
        wt::Method::Other(m) => m.clone(),
    }
}

/// Splits a request's scheme and authority into a lower-case host and a port.
fn host_and_port(authority: &str, https: bool) -> Option<(String, u16)> {
    let auth: http::uri::Authority = authority.parse().ok()?;
    let host = auth
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = auth.port_u16().unwrap_or(if https { 443 } else { 80 });
    Some((host, port))
}

/// What a [`Transport`] answers: the whole response, or why there is none
/// (the guest sees a refused connection).
pub type TransportFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, String>> + Send>>;

/// Where a call's permitted requests go instead of the network.
///
/// Production has none. The partner kit (`tayori plugin test`) answers from
/// a scripted file or forwards to an upstream of the partner's choosing, so
/// a plugin runs against a fake platform with the URLs it really uses: the
/// manifest and approval checks, the request cap, the body limits and the
/// request timeout all apply before and around it, as in production. Only
/// name resolution and the connection are replaced.
pub trait Transport: std::fmt::Debug + Send + Sync + 'static {
    /// Answers one request (absolute URI, whole body).
    fn send(&self, request: http::Request<Bytes>) -> TransportFuture;
}

/// The per-call hooks handed to wasmtime-wasi-http.
pub(crate) struct OutboundHooks {
    pub client: reqwest::Client,
    pub policy: CallPolicy,
    pub host_policy: HostPolicy,
    pub request_timeout: Duration,
    pub max_response_bytes: usize,
    pub max_request_bytes: usize,
    pub max_requests: u32,
    pub requests_made: u32,
    pub capture: bool,
    pub transport: Option<Arc<dyn Transport>>,
    pub log: Arc<Mutex<CallLog>>,
}

impl OutboundHooks {
    fn record(&self, record: RequestRecord) {
        self.log
            .lock()
            .expect("call log lock")
            .requests
            .push(record);
    }
}

/// Replaces `wasi:http/outgoing-handler.handle` in the linker: counts the
/// call's requests and refuses one that is over the limit or not allowed
/// before the guest writes a byte; passes the rest to wasmtime-wasi-http.
pub(crate) fn add_guarded_handler(
    linker: &mut wasmtime::component::Linker<PluginState>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut instance = linker.instance("wasi:http/outgoing-handler@0.2.12")?;
    instance.func_wrap(
        "handle",
        |mut store: wasmtime::StoreContextMut<'_, PluginState>,
         (request, options): (Resource<HostOutgoingRequest>, Option<Resource<wt::RequestOptions>>)|
         -> wasmtime::Result<(Result<Resource<HostFutureIncomingResponse>, wt::ErrorCode>,)> {
            let state = store.data_mut();
            if let Some(code) = state.refuse(&request)? {
                state.table.delete(request)?;
                return Ok((Err(code),));
            }
            let mut view = state.http_view();
            match outgoing_handler::Host::handle(&mut view, request, options) {
                Ok(future) => Ok((Ok(future),)),
                Err(e) => Ok((Err(e.downcast()?),)),
            }
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

impl PluginState {
    /// Why a request must not go out (as the code the guest sees), if so.
    fn refuse(
        &mut self,
        request: &Resource<HostOutgoingRequest>,
    ) -> wasmtime::Result<Option<wt::ErrorCode>> {
        let req = self.table.get(request)?;
        let https = !matches!(req.scheme, Some(wt::Scheme::Http));
        let authority = req.authority.clone().unwrap_or_default();
        let url = format!(
            "{}://{}{}",
            if https { "https" } else { "http" },
            authority,
            req.path_with_query.as_deref().unwrap_or("/")
        );
        let method = method_name(&req.method);
        let hooks = &mut self.hooks;
        hooks.requests_made += 1;
        if hooks.requests_made > hooks.max_requests {
            let why = format!(
                "request {} exceeds the limit of {} outbound requests per call",
                hooks.requests_made, hooks.max_requests
            );
            hooks.record(RequestRecord::refused(method, url, why));
            return Ok(Some(wt::ErrorCode::ConnectionLimitReached));
        }
        let refusal = match host_and_port(&authority, https) {
            None => Some(format!("`{authority}` is not a valid authority")),
            Some((host, port)) => hooks.policy.refusal(&host, port),
        };
        Ok(refusal.map(|why| {
            hooks.record(RequestRecord::refused(method, url, why));
            wt::ErrorCode::HttpRequestDenied
        }))
    }
}

impl WasiHttpHooks for OutboundHooks {
    fn set_host_header(&mut self) -> bool {
        // The client sets Host from the URL.
        false
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                    ),
                    HttpError,
                >,
            > + Send,
    > {
        let client = self.client.clone();
        let policy = self.policy.clone();
        let host_policy = self.host_policy.clone();
        let timeout = self.request_timeout;
        let max_response = self.max_response_bytes;
        let max_request = self.max_request_bytes;
        let capture = self.capture;
        let transport = self.transport.clone();
        let log = self.log.clone();
        Box::new(async move {
            let started = Instant::now();
            let method = request.method().to_string();
            let url = request.uri().to_string();
            let (parts, body) = request.into_parts();
            let mut record = RequestRecord {
                method: method.clone(),
                url: url.clone(),
                headers: if capture {
                    parts
                        .headers
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.to_string(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                body: Vec::new(),
                status: None,
                response_bytes: 0,
                elapsed: Duration::ZERO,
                error: None,
            };
            let result = send(
                &client,
                transport.as_deref(),
                &policy,
                &host_policy,
                parts,
                body,
                timeout,
                max_request,
                max_response,
                capture.then_some(&mut record.body),
            )
            .await;
            record.elapsed = started.elapsed();
            match &result {
                Ok(resp) => {
                    record.status = Some(resp.status().as_u16());
                    record.response_bytes = resp.body().len();
                }
                Err(e) => record.error = Some(e.to_string()),
            }
            log.lock().expect("call log lock").requests.push(record);
            let resp = result.map_err(|e| e.code)?;
            let (parts, body) = resp.into_parts();
            let body: WasiBody = Full::new(body)
                .map_err(|never| match never {})
                .boxed_unsync();
            Ok((http::Response::from_parts(parts, body), fut))
        })
    }
}

/// A failed send: the code the guest sees and what the host records.
struct SendError {
    code: HttpError,
    why: String,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

fn fail(code: HttpError, why: impl Into<String>) -> SendError {
    SendError {
        code,
        why: why.into(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn send(
    client: &reqwest::Client,
    transport: Option<&dyn Transport>,
    policy: &CallPolicy,
    host_policy: &HostPolicy,
    parts: http::request::Parts,
    body: WasiBody,
    timeout: Duration,
    max_request: usize,
    max_response: usize,
    captured_body: Option<&mut Vec<u8>>,
) -> Result<http::Response<Bytes>, SendError> {
    let https = parts.uri.scheme_str() != Some("http");
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    let (host, port) = host_and_port(&authority, https)
        .ok_or_else(|| fail(HttpError::HttpRequestUriInvalid, "invalid authority"))?;
    // Second wall: the same rule as in `handle`.
    if let Some(why) = policy.refusal(&host, port) {
        return Err(fail(HttpError::HttpRequestDenied, why));
    }
    // A name must not lead to a private address the channel did not approve.
    if transport.is_none() && host.parse::<IpAddr>().is_err() {
        let addrs = tokio::time::timeout(timeout, host_policy.resolve(&host))
            .await
            .map_err(|_| fail(HttpError::DnsTimeout, format!("resolving {host} timed out")))?
            .map_err(|e| {
                fail(
                    HttpError::DnsError {
                        rcode: None,
                        info_code: None,
                    },
                    format!("resolving {host}: {e}"),
                )
            })?;
        if let Some(bad) = addrs
            .iter()
            .find(|ip| !is_public(**ip) && !policy.approves_ip(**ip, port))
        {
            return Err(fail(
                HttpError::DestinationIpProhibited,
                format!(
                    "{host} resolves to {bad}, a non-public address not approved for this channel"
                ),
            ));
        }
        if addrs.is_empty() {
            return Err(fail(
                HttpError::DestinationNotFound,
                format!("{host} has no address"),
            ));
        }
        // The client's resolver reads the same cached answer and admits
        // only public or approved addresses.
    }
    let body = Limited::new(body, max_request)
        .collect()
        .await
        .map_err(|e| {
            fail(
                HttpError::HttpRequestBodySize(None),
                format!("request body: {e}"),
            )
        })?
        .to_bytes();
    if let Some(cap) = captured_body {
        cap.extend_from_slice(&body[..body.len().min(MAX_CAPTURED_BODY)]);
    }
    let request = http::Request::from_parts(parts, body);
    if let Some(transport) = transport {
        return send_through(transport, request, timeout, max_response).await;
    }
    let mut request = reqwest::Request::try_from(request)
        .map_err(|e| fail(HttpError::HttpRequestUriInvalid, e.to_string()))?;
    *request.timeout_mut() = Some(timeout);
    let mut response = client.execute(request).await.map_err(|e| {
        if e.is_timeout() {
            fail(
                HttpError::HttpResponseTimeout,
                format!("no complete answer within {timeout:?}"),
            )
        } else if e.is_connect() {
            fail(HttpError::ConnectionRefused, format!("connecting: {e}"))
        } else {
            fail(HttpError::HttpProtocolError, e.to_string())
        }
    })?;
    if let Some(len) = response.content_length()
        && len as usize > max_response
    {
        return Err(fail(
            HttpError::HttpResponseBodySize(Some(len)),
            format!("response of {len} bytes exceeds the cap of {max_response} bytes"),
        ));
    }
    let mut builder = http::Response::builder()
        .status(response.status())
        .version(response.version());
    if let Some(h) = builder.headers_mut() {
        *h = std::mem::take(response.headers_mut());
        // The body handed to the guest is whole and not chunked any more.
        h.remove(http::header::TRANSFER_ENCODING);
    }
    let mut buf = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > max_response {
                    return Err(fail(
                        HttpError::HttpResponseBodySize(None),
                        format!("response exceeds the cap of {max_response} bytes"),
                    ));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return Err(fail(
                    HttpError::HttpResponseTimeout,
                    format!("no complete answer within {timeout:?}"),
                ));
            }
            Err(e) => {
                return Err(fail(
                    HttpError::HttpResponseIncomplete,
                    format!("reading the answer: {e}"),
                ));
            }
        }
    }
    builder
        .body(Bytes::from(buf))
        .map_err(|e| fail(HttpError::InternalError(Some(e.to_string())), e.to_string()))
}

/// A permitted request answered by a [`Transport`], under the same request
/// timeout and response cap as a real one.
async fn send_through(
    transport: &dyn Transport,
    request: http::Request<Bytes>,
    timeout: Duration,
    max_response: usize,
) -> Result<http::Response<Bytes>, SendError> {
    let mut response = tokio::time::timeout(timeout, transport.send(request))
        .await
        .map_err(|_| {
            fail(
                HttpError::HttpResponseTimeout,
                format!("no complete answer within {timeout:?}"),
            )
        })?
        .map_err(|why| fail(HttpError::ConnectionRefused, format!("connecting: {why}")))?;
    let len = response.body().len();
    if len > max_response {
        return Err(fail(
            HttpError::HttpResponseBodySize(Some(len as u64)),
            format!("response of {len} bytes exceeds the cap of {max_response} bytes"),
        ));
    }
    response
        .headers_mut()
        .remove(http::header::TRANSFER_ENCODING);
    Ok(response)
}

/// The host's pooled client. Its resolver drops non-public addresses that no
/// channel approved, so a name cannot be re-pointed at a private address
/// between the per-call check and the connection.
pub(crate) fn client(config: &RuntimeConfig) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver(config.policy.clone())))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .pool_idle_timeout(Duration::from_secs(60))
        .connect_timeout(config.request_timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("tayori/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

struct GuardedResolver(HostPolicy);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = policy
                .resolve(name.as_str())
                .await?
                .iter()
                .filter(|ip| policy.admits(**ip))
                .map(|ip| SocketAddr::new(*ip, 0))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{} has no admissible address", name.as_str()).into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.1.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["203.0.114.1", "147.92.0.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn names_are_resolved_once_while_fresh() {
        let policy = HostPolicy::default();
        let first = policy.resolve("localhost").await.unwrap();
        assert!(first.iter().any(|ip| ip.is_loopback()), "{first:?}");
        for _ in 0..100 {
            assert_eq!(policy.resolve("localhost").await.unwrap(), first);
        }
        // The pooled client's resolver reads the same answer.
        let resolver = GuardedResolver(policy.clone());
        policy.note_approved(&[HostRule::parse("127.0.0.1:*").unwrap()]);
        let addrs: Vec<SocketAddr> =
            reqwest::dns::Resolve::resolve(&resolver, "localhost".parse().unwrap())
                .await
                .unwrap()
                .collect();
        assert!(addrs.iter().any(|a| a.ip().is_loopback()), "{addrs:?}");
        assert_eq!(policy.name_lookups(), 1);
    }

    #[test]
    fn call_policy_needs_manifest_and_approval() {
        let manifest = Arc::new(vec![
            HostRule::parse("api.line.me").unwrap(),
            HostRule::parse("127.0.0.1:*").unwrap(),
        ]);
        let p = CallPolicy::new(manifest, &["127.0.0.1:8080".into()], &HostPolicy::default());
        assert!(p.refusal("127.0.0.1", 8080).is_none());
        assert!(
            p.refusal("127.0.0.1", 8081)
                .unwrap()
                .contains("not approved")
        );
        assert!(
            p.refusal("api.line.me", 443)
                .unwrap()
                .contains("not approved")
        );
        assert!(p.refusal("evil.example", 443).unwrap().contains("manifest"));
        assert!(p.approves_ip("127.0.0.1".parse().unwrap(), 8080));
    }
}
