// Target and credentials come from the environment, so the same scenarios run
// against the Puente sandbox or against Puente's own MP-compatible API.
// The variables are listed in sdk-tests/README.md.
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { AppConfig } = require('mercadopago/dist/utils/config');
const { RestClient } = require('mercadopago/dist/utils/restClient');
const { MercadoPagoConfig, MercadoPagoError } = require('mercadopago');

const env = (name) => process.env[name] || undefined;
const targetIsPuente = () => env('MP_TARGET') === 'puente';
const target = () => (targetIsPuente() ? 'puente' : 'sandbox');
if (![undefined, 'sandbox', 'puente'].includes(env('MP_TARGET'))) {
  throw new Error(`MP_TARGET must be sandbox or puente, not ${env('MP_TARGET')}`);
}

function required(name) {
  const v = env(name);
  if (!v) throw new Error(`${name} must be set (see sdk-tests/README.md)`);
  return v;
}

// The SDK's only base-URL knob (reference section 9): a writable static.
AppConfig.BASE_URL = required('MP_BASE_URL').replace(/\/$/, '');

const REQUEST_OPTIONS = { timeout: 10000, maxRetries: 0 };

// Each call gets its own config: the SDK merges requestOptions into the config it is given.
function client(token = required('MP_ACCESS_TOKEN')) {
  return new MercadoPagoConfig({ accessToken: token, options: { ...REQUEST_OPTIONS } });
}

// The seller's own account (users, stores, POS, QR, payments): Puente needs a key
// scoped to one seller there; the sandbox's seller token is both.
const sellerToken = () => env('MP_SELLER_ACCESS_TOKEN') || required('MP_ACCESS_TOKEN');
const sellerClient = () => client(sellerToken());

// The SDK's own HTTP layer (RestClient.fetch: base URL, headers, X-Idempotency-Key on
// every non-GET, error classes) for the endpoints it has no client for.
function rest(endpoint, { method = 'GET', body, query, token = sellerToken(), idempotencyKey, headers } = {}) {
  return RestClient.fetch(endpoint, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    queryParams: query,
    ...(idempotencyKey ? { idempotencyKey } : {}),
    ...REQUEST_OPTIONS,
  });
}

// Calls refused on purpose (sdk-tests/refusals.json): the documented answer per target.
const REFUSALS = require(path.join(__dirname, '../../refusals.json')).calls;

function refusal(call) {
  const entry = REFUSALS[call];
  if (!entry) throw new Error(`${call} is not in sdk-tests/refusals.json`);
  return entry[target()];
}

// Asserts `promise` fails exactly as refusals.json documents for this target.
async function expectRefusal(call, promise) {
  const want = refusal(call);
  assert.ok(want, `${call} is served on ${target()}: expected no refusal`);
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof MercadoPagoError, `${call}: ${e}`);
    assert.equal(e.status, want.status, `${call}: HTTP ${e.status} (${e.message})`);
    if (want.error) assert.equal(e.error, want.error, `${call}: error ${e.error}`);
    return true;
  });
}

async function eventually(what, fn, { tries = 200, everyMs = 25 } = {}) {
  let last;
  for (let i = 0; i < tries; i++) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function sandbox(method, p, body) {
  const base = required('MP_SANDBOX_URL').replace(/\/$/, '');
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// Unique, alphanumeric (POS external ids allow nothing else).
const uniq = (prefix) => `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.toUpperCase();

module.exports = {
  env, required, client, sellerClient, sellerToken, rest, refusal, expectRefusal,
  eventually, sandbox, targetIsPuente, uniq,
};
