// A POS talking to Puente's native API with nothing but Node's global fetch
// (Node 18+): charge, wait for the outcome, refund, then charge again and
// cancel. Prints a one-line JSON summary last; exits 1 on anything unexpected.
//
//   PUENTE_URL=http://127.0.0.1:8080 PUENTE_KEY=pk_test_… PUENTE_TERMINAL=trm_… node pos.mjs
//
// PUENTE_CANCEL_TERMINAL (optional, default PUENTE_TERMINAL) is the terminal
// used for the intent that is canceled.

import { randomUUID } from "node:crypto";

const BASE = (process.env.PUENTE_URL || "http://127.0.0.1:8080").replace(/\/+$/, "");
const KEY = required("PUENTE_KEY");
const TERMINAL = required("PUENTE_TERMINAL");
const CANCEL_TERMINAL = process.env.PUENTE_CANCEL_TERMINAL || TERMINAL;
// Not 11.00, 12.00 or 13.00: in the sandbox those end reversed, rejected or in error.
const AMOUNT = 1500;
// Statuses after which an intent does not change any more (except processed → refunded).
const FINAL = new Set(["processed", "failed", "canceled", "expired", "refunded"]);

function required(name) {
  const v = process.env[name];
  if (!v) fail(`set ${name}`);
  return v;
}

function fail(message) {
  console.error(`pos.mjs: ${message}`);
  process.exit(1);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One API call: { status, body } with the body parsed as JSON (null when empty).
async function api(method, path, { body, idempotencyKey } = {}) {
  const headers = { Authorization: `Bearer ${KEY}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const res = await fetch(BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(70_000),
  });
  const text = await res.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      fail(`${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
  }
  return { status: res.status, body: parsed };
}

function expectStatus(what, res, ...codes) {
  if (!codes.includes(res.status)) {
    fail(`${what}: expected HTTP ${codes.join(" or ")}, got ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

// Creates an intent. The Idempotency-Key makes a retry (after a timeout or a
// 503) safe: the same key and body answer with the same intent.
async function createIntent(terminal, reference) {
  const idempotencyKey = `pos-example-${randomUUID()}`;
  const body = { terminal_id: terminal, amount: AMOUNT, description: "Café", external_reference: reference };
  for (let attempt = 1; ; attempt++) {
    const res = await api("POST", "/v1/payment-intents", { body, idempotencyKey });
    if ((res.status === 503 || res.status === 429) && attempt < 5) {
      await sleep(1000);
      continue;
    }
    const intent = expectStatus("create intent", res, 201);
    if (intent.status !== "queued") fail(`a new intent should be queued, it is ${intent.status}`);
    return intent;
  }
}

// Long-polls (wait=30) until the intent is final; gives up after `limitMs`.
async function waitFinal(id, limitMs = 90_000) {
  const end = Date.now() + limitMs;
  for (;;) {
    const intent = expectStatus("get intent", await api("GET", `/v1/payment-intents/${id}?wait=30`), 200);
    if (FINAL.has(intent.status)) return intent;
    if (Date.now() > end) fail(`intent ${id} still ${intent.status} after ${limitMs / 1000} s`);
  }
}

// 1. Charge and wait for the outcome.
const charge = await createIntent(TERMINAL, `example-charge-${Date.now()}`);
console.log(`created ${charge.id} (${charge.status})`);
const charged = await waitFinal(charge.id);
console.log(`${charged.id}: ${charged.status}`);
if (charged.status !== "processed") fail(`expected the charge to be processed, it is ${charged.status}`);

// 2. Refund all of it (no amount = everything still refundable) and wait for the refund.
let refund = expectStatus(
  "refund",
  await api("POST", `/v1/payment-intents/${charged.id}/refunds`, { body: {}, idempotencyKey: `refund-${charged.id}` }),
  202,
);
console.log(`refund ${refund.id} (${refund.status})`);
for (const end = Date.now() + 60_000; refund.status === "queued" || refund.status === "pending"; ) {
  if (Date.now() > end) fail(`refund ${refund.id} still ${refund.status} after 60 s`);
  await sleep(250);
  const list = expectStatus("list refunds", await api("GET", `/v1/payment-intents/${charged.id}/refunds`), 200);
  refund = list.data.find((r) => r.id === refund.id) || fail(`refund ${refund.id} is not listed`);
}
console.log(`refund ${refund.id}: ${refund.status}`);
if (refund.status !== "succeeded") fail(`expected the refund to succeed, it ${refund.status}`);

// 3. A second intent, canceled before the buyer pays.
const second = await createIntent(CANCEL_TERMINAL, `example-cancel-${Date.now()}`);
console.log(`created ${second.id} (${second.status})`);
let cancelBody = {};
let canceled = null;
for (let attempt = 1; !canceled; attempt++) {
  const res = await api("POST", `/v1/payment-intents/${second.id}/cancel`, { body: cancelBody });
  const code = res.body && res.body.code;
  if (res.status === 200) {
    canceled = res.body; // canceled, at Mercado Pago too
  } else if (res.status === 202 || (res.status === 504 && code === "cancel_pending")) {
    canceled = await waitFinal(second.id); // the terminal or Mercado Pago decides; follow it
  } else if (res.status === 409 && code === "intent_at_terminal" && attempt < 5) {
    cancelBody = { at_terminal: true }; // the terminal shows it already: ask the terminal
  } else if (res.status === 409 && code === "concurrent_update" && attempt < 5) {
    await sleep(200);
  } else {
    fail(`cancel: HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  }
}
console.log(`${canceled.id}: ${canceled.status}`);
if (canceled.status !== "canceled") fail(`expected the intent to be canceled, it is ${canceled.status}`);

console.log(
  JSON.stringify({
    charged: charged.id,
    status: charged.status,
    refund: refund.status,
    canceled: canceled.id,
    cancel_status: canceled.status,
  }),
);
