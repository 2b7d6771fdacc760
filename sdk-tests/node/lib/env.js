// Target and credentials come from the environment, so the same scenarios run
// against the Puente sandbox or against Puente's own MP-compatible API.
//   MP_BASE_URL          API base URL (required)
//   MP_ACCESS_TOKEN      seller access token (required)
//   MP_TERMINAL_ID       a PDV terminal that completes charges by itself (required)
//   MP_MANUAL_TERMINAL_ID a terminal that waits for "charge" (cancel scenarios; optional)
//   MP_CLIENT_ID, MP_CLIENT_SECRET, MP_REDIRECT_URI, MP_REFRESH_TOKEN  OAuth scenarios (optional)
//   MP_WEBHOOK_SECRET    the application's secret signature (optional)
//   MP_SANDBOX_URL       sandbox base URL for /sandbox helpers (optional; sandbox-only scenarios)
//   MP_TARGET            `sandbox` (default) or `puente`: Puente's MP-compatible API serves the
//                        Point/Orders/Terminals calls only, so the Users calls are skipped there
//   MP_EXPECTED_SPONSOR_ID the sponsor id orders must carry (Puente replaces the POS's with the
//                        integrator's); default: the one the scenarios send
'use strict';
const { AppConfig } = require('mercadopago/dist/utils/config');
const { MercadoPagoConfig } = require('mercadopago');

const env = (name) => process.env[name] || undefined;
const targetIsPuente = () => env('MP_TARGET') === 'puente';

function required(name) {
  const v = env(name);
  if (!v) throw new Error(`${name} must be set (see sdk-tests/README.md)`);
  return v;
}

// The SDK's only base-URL knob (reference section 9): a writable static.
AppConfig.BASE_URL = required('MP_BASE_URL').replace(/\/$/, '');

// Each call gets its own config: the SDK merges requestOptions into the config it is given.
function client(token = required('MP_ACCESS_TOKEN')) {
  return new MercadoPagoConfig({ accessToken: token, options: { timeout: 10000, maxRetries: 0 } });
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

async function sandbox(method, path, body) {
  const base = required('MP_SANDBOX_URL').replace(/\/$/, '');
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

module.exports = { env, required, client, eventually, sandbox, targetIsPuente };
