//! `legacy-echo`: a delivery plugin of contract 0.1.0 (`wit/v0.1.0`), written
//! as a partner wrote one before 0.2.0: straight on the generated bindings,
//! one batch per call, its HTTP on `wasi:http` by hand.
//!
//! It POSTs each recipient's message as JSON to the configured endpoint (the
//! same body as `echo`, with `"contract": "0.1.0"`), and maps the answer:
//! 2xx accepted (the answer's `"id"`, prefixed `legacy-`), 429 retry later,
//! 5xx transient, other 4xx permanent. It stays in the test suite for good.

// Without the SDK, wit-bindgen's bindings and exports expand in this crate.
#![allow(unsafe_code)]

mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/v0.1.0",
        world: "delivery-plugin",
        with: {
            "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
            "wasi:http/types@0.2.12": wasip2::http::types,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        },
    });
}

use bindings::tayori::plugin::types::{
    Batch, ConfigError, DeliveryStatus, Failure, FailureKind, HttpRequest, HttpResponse, Manifest,
    Outcome, WebhookResult,
};
use serde_json::{Value, json};

struct Legacy;

impl bindings::Guest for Legacy {
    fn manifest() -> Manifest {
        Manifest {
            id: "legacy-echo".into(),
            name: "Legacy echo (contract 0.1.0)".into(),
            version: "1.0.0".into(),
            vendor: "Tayori test programs".into(),
            description: "Posts each message as JSON to a configured endpoint.".into(),
            config_schema: json!({
                "type": "object",
                "required": ["endpoint"],
                "properties": { "endpoint": { "type": "string" } }
            })
            .to_string(),
            hosts: vec!["127.0.0.1:*".into()],
            max_batch_size: 10,
            rate_per_second: 1000,
            daily_quota: None,
            rate_windows: Vec::new(),
            handles_webhooks: false,
        }
    }

    fn validate_config(config: String) -> Result<(), ConfigError> {
        endpoint(&config).map(|_| ())
    }

    fn deliver(config: String, batch: Batch) -> Vec<Outcome> {
        let target = endpoint(&config);
        batch
            .recipients
            .iter()
            .map(|r| Outcome {
                idempotency_key: r.idempotency_key.clone(),
                status: match &target {
                    Err(e) => failed(FailureKind::Permanent, e.message.clone()),
                    Ok(url) => {
                        let body = json!({
                            "to": r.address,
                            "key": r.idempotency_key,
                            "message_id": batch.message_id,
                            "subject": batch.content.subject,
                            "body": batch.content.body,
                            "contract": "0.1.0",
                        });
                        match post(url, &r.idempotency_key, body.to_string().as_bytes()) {
                            Ok((status, answer)) => status_of(status, &answer),
                            Err(e) => failed(FailureKind::Transient, e),
                        }
                    }
                },
            })
            .collect()
    }

    fn handle_webhook(_config: String, _request: HttpRequest) -> WebhookResult {
        WebhookResult {
            response: HttpResponse {
                status: 404,
                headers: Vec::new(),
                body: Vec::new(),
            },
            events: Vec::new(),
        }
    }
}

fn failed(kind: FailureKind, message: String) -> DeliveryStatus {
    DeliveryStatus::Failed(Failure { kind, message })
}

fn status_of(status: u16, answer: &[u8]) -> DeliveryStatus {
    match status {
        200..=299 => {
            let id = serde_json::from_slice::<Value>(answer)
                .ok()
                .and_then(|v| match &v["id"] {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
            DeliveryStatus::Accepted(id.map(|id| format!("legacy-{id}")))
        }
        429 => failed(FailureKind::RetryAfter(1), "429 from the endpoint".into()),
        500..=599 => failed(
            FailureKind::Transient,
            format!("{status} from the endpoint"),
        ),
        _ => failed(
            FailureKind::Permanent,
            format!("{status} from the endpoint"),
        ),
    }
}

/// The endpoint of a config: `http://HOST:PORT/PATH`.
struct Endpoint {
    authority: String,
    path: String,
}

fn endpoint(config: &str) -> Result<Endpoint, ConfigError> {
    let bad = |message: &str| ConfigError {
        field: "/endpoint".into(),
        message: message.into(),
    };
    let value: Value = serde_json::from_str(config).map_err(|_| ConfigError {
        field: String::new(),
        message: "not a JSON object".into(),
    })?;
    let url = value["endpoint"].as_str().ok_or_else(|| bad("missing"))?;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("must be an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(bad("has no host"));
    }
    Ok(Endpoint {
        authority: authority.into(),
        path: path.into(),
    })
}

/// One POST on `wasi:http`, blocking: the status and the body.
fn post(url: &Endpoint, retry_key: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    let headers = Fields::from_list(&[
        ("content-type".into(), b"application/json".to_vec()),
        ("x-retry-key".into(), retry_key.as_bytes().to_vec()),
    ])
    .map_err(|e| format!("headers: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    request.set_method(&Method::Post).map_err(|_| "method")?;
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|_| "scheme")?;
    request
        .set_authority(Some(&url.authority))
        .map_err(|_| "authority")?;
    request
        .set_path_with_query(Some(&url.path))
        .map_err(|_| "path")?;
    let outgoing = request.body().map_err(|_| "body")?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    {
        let stream = outgoing.write().map_err(|_| "body stream")?;
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("writing the body: {e:?}"))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    let response = future
        .get()
        .ok_or("no response")?
        .map_err(|_| "response taken twice")?
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let incoming = response.consume().map_err(|_| "response body")?;
    let mut answer = Vec::new();
    {
        let stream = incoming.stream().map_err(|_| "response stream")?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(bytes) => answer.extend(bytes),
                Err(StreamError::Closed) => break,
                Err(e) => return Err(format!("reading the answer: {e:?}")),
            }
        }
    }
    Ok((status, answer))
}

bindings::export!(Legacy with_types_in bindings);
