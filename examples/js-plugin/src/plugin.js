// A Tayori delivery plugin in JavaScript, for the `tayori:plugin@0.2.0`
// contract (wit/v0.2.0, world `delivery-plugin`), built to a WebAssembly
// component by componentize-js (see build.sh, and "JavaScript plugins" in
// docs/plugins.md).
//
// It sends each recipient one JSON `POST {api_base}/v1/messages` with the
// channel's API key (a writeOnly secret) as a bearer token and the
// recipient's idempotency key as `Idempotency-Key`, and maps the platform's
// answer onto what the host does next: accepted, retry-after, transient,
// permanent, recipient-gone or unauthorized. `deliver` takes a list of
// batches (different messages for one channel, up to max-batches-per-call)
// and sends every recipient of every batch concurrently.
//
// What it declares beyond that, honestly: the platform shows plain text
// only (`renders` is empty, so the host falls back: buttons and quick
// replies become numbered lines with a link to the web form), it has no
// reply API (`replies: false`; `reply` answers every reply as failed), no
// platform-side set-up (`setup-channel` reports nothing to do) and no
// webhooks (`handle-webhook` answers 404).
//
// The contract's exports are the module's exports, named in camelCase. A
// `result` export returns its ok value and throws its error value; a
// variant is `{tag, val}`, flags an object of booleans. WASI HTTP is the
// host's `wasi:http/outgoing-handler`; `fetch` is compiled out
// (`--disable http`) because it would need imports the host refuses.

import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import { Fields, OutgoingBody, OutgoingRequest } from 'wasi:http/types@0.2.12';
import { log } from 'tayori:plugin/log@0.2.0';

const DEFAULT_API_BASE = 'https://api.js-example.example';

// One request per recipient: 100 recipients × 10 batches is the host's
// 1,000 requests per call.
const MAX_BATCH_SIZE = 100;
const MAX_BATCHES_PER_CALL = 10;

const SCHEMA = {
  type: 'object',
  required: ['api_key'],
  additionalProperties: false,
  properties: {
    api_base: {
      type: 'string',
      default: DEFAULT_API_BASE,
      description: "The platform's API base URL (its sandbox, or a local fake in tests).",
    },
    api_key: {
      type: 'string',
      minLength: 1,
      writeOnly: true,
      description: "The platform's API key for this municipality.",
    },
    sender: { type: 'string', maxLength: 40, description: 'The sender name parents see.' },
  },
};

export function manifest() {
  return {
    id: 'js-example',
    name: 'JS Example',
    version: '0.2.0',
    vendor: 'Tayori examples',
    description: 'A JSON-over-HTTPS delivery plugin written in JavaScript.',
    configSchema: JSON.stringify(SCHEMA),
    // Every host `api_base` may point at; the loopback entries are for
    // sandboxes and local fakes, reachable only where an operator approves.
    hosts: ['api.js-example.example', '127.0.0.1:*', 'localhost:*'],
    maxBatchSize: MAX_BATCH_SIZE,
    maxBatchesPerCall: MAX_BATCHES_PER_CALL,
    ratePerSecond: 50,
    dailyQuota: undefined,
    rateWindows: [],
    handlesWebhooks: false,
    // No reply handles on this platform: the host answers events by push.
    replies: false,
    // Nothing to provision on the platform side.
    setsUpChannels: false,
    // Plain text only: the host never sends buttons, quick replies, date
    // pickers or link buttons, and falls back for them instead.
    renders: { buttons: false, quickReplies: false, datePicker: false, linkButtons: false },
    maxButtons: 0,
    maxQuickReplies: 0,
  };
}

function parseConfig(text) {
  const config = JSON.parse(text);
  return {
    apiBase: (config.api_base ?? DEFAULT_API_BASE).replace(/\/+$/, ''),
    apiKey: config.api_key,
    sender: config.sender ?? null,
  };
}

export function validateConfig(text) {
  const { apiBase } = parseConfig(text);
  const local = apiBase.startsWith('http://127.0.0.1') || apiBase.startsWith('http://localhost');
  if (!apiBase.startsWith('https://') && !local) {
    // The error variant of `result<_, config-error>`.
    throw { field: '/api_base', message: 'must start with https:// (http:// only for 127.0.0.1 or localhost)' };
  }
}

export function deliver(text, batches) {
  const config = parseConfig(text);
  // Send every request of every batch first, then wait for each: the whole
  // call goes out concurrently.
  const pending = batches.map((batch) => {
    log('info', `sending ${batch.messageId} to ${batch.recipients.length} recipients`);
    return batch.recipients.map((r) => {
      try {
        return { future: send(config, batch, r) };
      } catch (e) {
        return { failure: failureOfError(e) };
      }
    });
  });
  // One outcome per recipient, batch after batch, in the order given.
  return batches.flatMap((batch, b) =>
    batch.recipients.map((r, i) => {
      const p = pending[b][i];
      let status;
      if (p.failure) {
        status = { tag: 'failed', val: p.failure };
      } else {
        try {
          status = statusOfResponse(await_(p.future));
        } catch (e) {
          status = { tag: 'failed', val: failureOfError(e) };
        }
      }
      return { idempotencyKey: r.idempotencyKey, status };
    }),
  );
}

export function reply(_config, replies) {
  // The manifest says `replies: false`, so the host pushes answers with
  // `deliver` and never calls this; should it, every reply fails: there is
  // no reply API to send it through, now or on a retry.
  return replies.map((r) => ({
    token: r.token,
    status: {
      tag: 'failed',
      val: { kind: { tag: 'permanent' }, message: 'this platform has no reply API: replies are not supported' },
    },
  }));
}

export function setupChannel(_config, _setup) {
  // The ok value of `result<setup-report, failure>`.
  return { summary: 'nothing to set up: this platform has no channel-side settings', details: [] };
}

export function handleWebhook(_config, _request) {
  return { response: { status: 404, headers: [], body: new Uint8Array() }, events: [] };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Starts one POST; returns the future response. */
function send(config, batch, recipient) {
  const url = new URL(`${config.apiBase}/v1/messages`);
  const body = encoder.encode(
    JSON.stringify({
      to: recipient.address,
      from: config.sender,
      subject: batch.content.subject ?? null,
      text: batch.content.body,
      locale: batch.content.locale,
      reference: batch.messageId,
    }),
  );
  const headers = Fields.fromList([
    ['authorization', encoder.encode(`Bearer ${config.apiKey}`)],
    ['idempotency-key', encoder.encode(recipient.idempotencyKey)],
    ['content-type', encoder.encode('application/json')],
    ['content-length', encoder.encode(String(body.length))],
  ]);
  const request = new OutgoingRequest(headers);
  request.setMethod({ tag: 'post' });
  request.setScheme(url.protocol === 'http:' ? { tag: 'HTTP' } : { tag: 'HTTPS' });
  request.setAuthority(url.host);
  request.setPathWithQuery(url.pathname + url.search);
  const outgoing = request.body();
  const future = handle(request, undefined);
  const stream = outgoing.write();
  stream.blockingWriteAndFlush(body);
  stream[Symbol.dispose]();
  OutgoingBody.finish(outgoing, undefined);
  return future;
}

/** Waits for a future response and reads it whole. */
function await_(future) {
  future.subscribe().block();
  let got = future.get();
  // option<result<result<incoming-response, error-code>>>
  if (got === undefined) throw new Error('the response never came');
  if (got.tag === 'err') throw new Error('the response was already taken');
  if (got.tag === 'ok') got = got.val;
  if (got && got.tag === 'err') throw { payload: got.val };
  const response = got && got.tag === 'ok' ? got.val : got;
  const status = response.status();
  const headers = response.headers().entries().map(([k, v]) => [k.toLowerCase(), decoder.decode(v)]);
  const incoming = response.consume();
  const stream = incoming.stream();
  const chunks = [];
  for (;;) {
    try {
      chunks.push(stream.blockingRead(65536n));
    } catch (e) {
      const err = e && e.payload !== undefined ? e.payload : e;
      if (err && err.tag === 'closed') break;
      throw e;
    }
  }
  stream[Symbol.dispose]();
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return { status, headers, body: decoder.decode(bytes) };
}

function header(response, name) {
  const found = response.headers.find(([k]) => k === name);
  return found ? found[1] : undefined;
}

/** The platform's answer as the contract's delivery status. */
export function statusOfResponse(response) {
  const { status } = response;
  if (status >= 200 && status < 300) {
    let id;
    try {
      id = JSON.parse(response.body).id;
    } catch {
      id = undefined;
    }
    return { tag: 'accepted', val: typeof id === 'string' ? id : undefined };
  }
  const said = `HTTP ${status}: ${response.body.slice(0, 200)}`;
  const fail = (kind) => ({ tag: 'failed', val: { kind, message: said } });
  if (status === 404) return fail({ tag: 'recipient-gone' });
  if (status === 401 || status === 403) return fail({ tag: 'unauthorized' });
  if (status === 429 || status === 503) {
    const seconds = Number.parseInt(header(response, 'retry-after') ?? '', 10);
    if (Number.isFinite(seconds) && seconds >= 0) return fail({ tag: 'retry-after', val: seconds });
    return fail({ tag: 'transient' });
  }
  if (status === 408 || status >= 500) return fail({ tag: 'transient' });
  return fail({ tag: 'permanent' });
}

/** A request that got no response, as the contract's failure. */
function failureOfError(e) {
  const code = e && e.payload !== undefined ? e.payload : e;
  const tag = code && typeof code.tag === 'string' ? code.tag : String(code);
  let kind = { tag: 'transient' };
  if (tag === 'HTTP-request-denied' || tag === 'destination-IP-prohibited') kind = { tag: 'permanent' };
  else if (/size|invalid|length-required/i.test(tag)) kind = { tag: 'permanent' };
  return { kind, message: `request failed: ${tag}` };
}
