"""A Tayori delivery plugin in Python, for the `tayori:plugin@0.2.0` contract
(wit/v0.2.0, world `delivery-plugin`), built to a WebAssembly component by
componentize-py (see build.sh and README.md).

It sends each recipient one JSON `POST {api_base}/v1/messages` with the
channel's API key (a writeOnly secret) as a bearer token and the recipient's
idempotency key as `Idempotency-Key`, and maps the platform's answer onto
what the host does next: accepted, retry-after, transient, permanent,
recipient-gone or unauthorized.

The contract's exports are the methods of the class `WitWorld`, in
snake_case, with records as dataclasses and variants as one class per case
(`t.DeliveryStatus_Accepted(id)`). A `result` export returns its ok value
and raises `Err(error value)`. HTTP goes through the world's own
`wasi:http/outgoing-handler` import, the only network there is. CPython's
own WASI imports are stubs that trap (see build.sh): no files, sockets,
stdio, clocks or OS randomness; log with `tayori:plugin/log`.
"""

import json
from urllib.parse import urlsplit

import wit_world
from componentize_py_types import Err
from wit_world.imports import outgoing_handler
from wit_world.imports import types as t
from wit_world.imports import http_types as http
from wit_world.imports.log import Level, log
from wit_world.imports.streams import StreamError_Closed

DEFAULT_API_BASE = "https://api.py-example.example"

SCHEMA = {
    "type": "object",
    "required": ["api_key"],
    "additionalProperties": False,
    "properties": {
        "api_base": {
            "type": "string",
            "default": DEFAULT_API_BASE,
            "description": "The platform's API base URL (its sandbox, or a local fake in tests).",
        },
        "api_key": {
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "description": "The platform's API key for this municipality.",
        },
        "sender": {"type": "string", "maxLength": 40, "description": "The sender name parents see."},
    },
}

# WASI streams take at most 4096 bytes per blocking write.
WRITE_CHUNK = 4096
READ_CHUNK = 65536


class Config:
    def __init__(self, text: str):
        config = json.loads(text)
        self.api_base = (config.get("api_base") or DEFAULT_API_BASE).rstrip("/")
        self.api_key = config.get("api_key", "")
        self.sender = config.get("sender")


class Response:
    def __init__(self, status: int, headers: dict, body: str):
        self.status = status
        self.headers = headers
        self.body = body


class RequestFailed(Exception):
    """No response: the request was refused or failed on the way."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class WitWorld(wit_world.WitWorld):
    def manifest(self) -> t.Manifest:
        return t.Manifest(
            id="py-example",
            name="Python Example",
            version="0.1.0",
            vendor="Tayori examples",
            description="A JSON-over-HTTPS delivery plugin written in Python.",
            config_schema=json.dumps(SCHEMA),
            # Every host `api_base` may point at; the loopback entries are for
            # sandboxes and local fakes, reachable only where an operator approves.
            hosts=["api.py-example.example", "127.0.0.1:*", "localhost:*"],
            max_batch_size=100,
            # One request per recipient: 10 full batches are the host's cap of
            # 1,000 requests per call.
            max_batches_per_call=10,
            rate_per_second=50,
            daily_quota=None,
            rate_windows=[],
            handles_webhooks=False,
            replies=False,
            sets_up_channels=False,
            renders=t.Renders(0),
            max_buttons=0,
            max_quick_replies=0,
        )

    def validate_config(self, config: str) -> None:
        api_base = Config(config).api_base
        local = api_base.startswith("http://127.0.0.1") or api_base.startswith("http://localhost")
        if not api_base.startswith("https://") and not local:
            raise Err(
                t.ConfigError(
                    field="/api_base",
                    message="must start with https:// (http:// only for 127.0.0.1 or localhost)",
                )
            )

    def deliver(self, config: str, batches: list) -> list:
        cfg = Config(config)
        # Start every request of every batch first, then wait for each: the
        # call's requests go out concurrently.
        pending = []
        for batch in batches:
            log(Level.INFO, f"sending {batch.message_id} to {len(batch.recipients)} recipients")
            for recipient in batch.recipients:
                try:
                    pending.append((recipient, send(cfg, batch, recipient), None))
                except RequestFailed as e:
                    pending.append((recipient, None, failure_of_error(e.code)))
        outcomes = []
        for recipient, future, failure in pending:
            if failure is None:
                try:
                    status = status_of_response(wait(future))
                except RequestFailed as e:
                    status = t.DeliveryStatus_Failed(failure_of_error(e.code))
            else:
                status = t.DeliveryStatus_Failed(failure)
            outcomes.append(t.Outcome(idempotency_key=recipient.idempotency_key, status=status))
        return outcomes

    def reply(self, config: str, replies: list) -> list:
        # The manifest says `replies: false`, so the host pushes answers with
        # `deliver` and never calls this; should it, every reply fails: there
        # is no reply API to send it through, now or on a retry.
        unsupported = "this platform has no reply API: replies are not supported"
        return [
            t.ReplyOutcome(
                token=r.token,
                status=t.ReplyStatus_Failed(t.Failure(kind=t.FailureKind_Permanent(), message=unsupported)),
            )
            for r in replies
        ]

    def setup_channel(self, config: str, setup: t.ChannelSetup) -> t.SetupReport:
        # The ok value of `result<setup-report, failure>`.
        return t.SetupReport(summary="nothing to set up: this platform has no channel-side settings", details=[])

    def handle_webhook(self, config: str, request: t.HttpRequest) -> t.WebhookResult:
        return t.WebhookResult(response=t.HttpResponse(status=404, headers=[], body=b""), events=[])


def send(cfg: Config, batch: t.Batch, recipient: t.Recipient) -> http.FutureIncomingResponse:
    """Starts one POST; returns the future response."""
    url = urlsplit(f"{cfg.api_base}/v1/messages")
    body = json.dumps(
        {
            "to": recipient.address,
            "from": cfg.sender,
            "subject": batch.content.subject,
            "text": batch.content.body,
            "locale": batch.content.locale,
            "reference": batch.message_id,
        },
        ensure_ascii=False,
    ).encode()
    try:
        headers = http.Fields.from_list(
            [
                ("authorization", f"Bearer {cfg.api_key}".encode()),
                ("idempotency-key", recipient.idempotency_key.encode()),
                ("content-type", b"application/json"),
                ("content-length", str(len(body)).encode()),
            ]
        )
    except Err as e:
        # A header value the HTTP layer refuses (a key with a line break).
        raise RequestFailed(e.value)
    request = http.OutgoingRequest(headers)
    request.set_method(http.Method_Post())
    request.set_scheme(http.Scheme_Http() if url.scheme == "http" else http.Scheme_Https())
    request.set_authority(url.netloc)
    request.set_path_with_query(url.path + (f"?{url.query}" if url.query else ""))
    outgoing = request.body()
    try:
        future = outgoing_handler.handle(request, None)
    except Err as e:
        outgoing.__exit__(None, None, None)
        raise RequestFailed(e.value)
    try:
        with outgoing.write() as stream:
            for at in range(0, len(body), WRITE_CHUNK):
                stream.blocking_write_and_flush(body[at : at + WRITE_CHUNK])
        http.OutgoingBody.finish(outgoing, None)
    except Err:
        # The request failed while its body was written: the future says why.
        pass
    return future


def wait(future: http.FutureIncomingResponse) -> Response:
    """Waits for a future response and reads it whole."""
    with future:
        with future.subscribe() as ready:
            ready.block()
        got = future.get()
    # option<result<result<incoming-response, error-code>>>
    if got is None or isinstance(got, Err):
        raise RequestFailed("the response never came")
    inner = got.value
    if isinstance(inner, Err):
        raise RequestFailed(inner.value)
    with inner.value as response:
        status = response.status()
        with response.headers() as fields:
            headers = {k.lower(): v.decode(errors="replace") for k, v in fields.entries()}
        chunks = []
        with response.consume() as incoming:
            with incoming.stream() as stream:
                while True:
                    try:
                        chunks.append(stream.blocking_read(READ_CHUNK))
                    except Err as e:
                        if isinstance(e.value, StreamError_Closed):
                            break
                        raise RequestFailed(e.value)
    return Response(status, headers, b"".join(chunks).decode(errors="replace"))


def status_of_response(response: Response):
    """The platform's answer as the contract's delivery status."""
    status = response.status
    if 200 <= status < 300:
        try:
            platform_id = json.loads(response.body).get("id")
        except (ValueError, AttributeError):
            platform_id = None
        return t.DeliveryStatus_Accepted(platform_id if isinstance(platform_id, str) else None)
    said = f"HTTP {status}: {response.body[:200]}"

    def fail(kind):
        return t.DeliveryStatus_Failed(t.Failure(kind=kind, message=said))

    if status == 404:
        return fail(t.FailureKind_RecipientGone())
    if status in (401, 403):
        return fail(t.FailureKind_Unauthorized())
    if status in (429, 503):
        seconds = response.headers.get("retry-after", "").strip()
        if seconds.isascii() and seconds.isdigit():
            return fail(t.FailureKind_RetryAfter(min(int(seconds), 2**32 - 1)))
        return fail(t.FailureKind_Transient())
    if status == 408 or status >= 500:
        return fail(t.FailureKind_Transient())
    return fail(t.FailureKind_Permanent())


# What will fail the same way on every retry.
PERMANENT_ERRORS = (
    http.HeaderError_InvalidSyntax,
    http.HeaderError_Forbidden,
    http.ErrorCode_HttpRequestDenied,
    http.ErrorCode_DestinationIpProhibited,
    http.ErrorCode_HttpRequestBodySize,
    http.ErrorCode_HttpRequestLengthRequired,
    http.ErrorCode_HttpRequestMethodInvalid,
    http.ErrorCode_HttpRequestUriInvalid,
    http.ErrorCode_HttpRequestUriTooLong,
    http.ErrorCode_HttpResponseBodySize,
)


def failure_of_error(code) -> t.Failure:
    """A request that got no response, as the contract's failure."""
    name = code if isinstance(code, str) else type(code).__name__.split("_", 1)[-1]
    kind = t.FailureKind_Permanent() if isinstance(code, PERMANENT_ERRORS) else t.FailureKind_Transient()
    return t.Failure(kind=kind, message=f"request failed: {name}")
