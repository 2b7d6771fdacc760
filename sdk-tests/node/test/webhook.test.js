'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { required, client, eventually, sandbox, targetIsPuente } = require('../lib/env');
const { Order, Point, WebhookSignatureValidator, InvalidWebhookSignatureError } = require('mercadopago');

function expectValid(xSignature, xRequestId, dataId) {
  WebhookSignatureValidator.validate({ xSignature, xRequestId, dataId, secret: required('MP_WEBHOOK_SECRET') });
  assert.throws(
    () => WebhookSignatureValidator.validate({ xSignature, xRequestId, dataId, secret: 'not-the-secret' }),
    InvalidWebhookSignatureError,
  );
}

test("the SDK's WebhookSignatureValidator accepts the notifications it receives", async (t) => {
  if (targetIsPuente()) return viaPuente();
  const received = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => {
      received.push({ url: new URL(req.url, 'http://x'), headers: req.headers, body: JSON.parse(data) });
      res.writeHead(200).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const hook = `http://127.0.0.1:${server.address().port}/mp`;
  const patched = await sandbox('PATCH', `/sandbox/applications/${required('MP_CLIENT_ID')}`, { webhook_url: hook });
  assert.equal(patched.status, 200);

  const order = await new Order(client()).create({
    body: {
      type: 'point', external_reference: `node_wh_${Date.now()}`,
      transactions: { payments: [{ amount: '20.00' }] },
      config: { point: { terminal_id: required('MP_TERMINAL_ID') } },
    },
  });
  const intent = await new Point(client()).createPaymentIntent({ device_id: required('MP_TERMINAL_ID'), request: { amount: 2000 } })
    .catch(async () => {
      // The terminal may still be busy with the order for a moment.
      await eventually('order done', async () => (await new Order(client()).get({ id: order.id })).status !== 'created');
      return new Point(client()).createPaymentIntent({ device_id: required('MP_TERMINAL_ID'), request: { amount: 2000 } });
    });
  const hits = await eventually('two notifications', async () => {
    const o = received.find((r) => r.url.searchParams.get('data.id') === order.id);
    const i = received.find((r) => r.url.searchParams.get('data.id') === intent.id);
    return o && i ? [o, i] : null;
  });
  assert.equal(hits[0].url.searchParams.get('type'), 'order');
  assert.equal(hits[0].body.action, 'order.processed');
  assert.equal(hits[1].url.searchParams.get('type'), 'point_integration_wh');
  for (const h of hits) expectValid(h.headers['x-signature'], h.headers['x-request-id'], h.url.searchParams.get('data.id'));
  await sandbox('PATCH', `/sandbox/applications/${required('MP_CLIENT_ID')}`, { webhook_url: null });
});

// Against Puente the application's webhook URL is Puente's own inbound endpoint:
// the notifications Mercado Pago (the sandbox) delivered there for an order made
// through Puente must be ones the SDK's validator accepts, and Puente took them (200).
async function viaPuente() {
  const q = `/sandbox/notifications?topic=order&user_id=${required('MP_USER_ID')}&status=delivered`;
  const before = new Set((await sandbox('GET', q)).body.notifications.map((n) => n.id));
  const order = await new Order(client()).create({
    body: {
      type: 'point', external_reference: `node_whp_${Date.now()}`,
      transactions: { payments: [{ amount: '21.00' }] },
      config: { point: { terminal_id: required('MP_TERMINAL_ID') } },
    },
  });
  await eventually('processed', async () => (await new Order(client()).get({ id: order.id })).status === 'processed');
  const fresh = await eventually('a delivered order notification', async () => {
    const n = (await sandbox('GET', q)).body.notifications.filter((x) => !before.has(x.id));
    return n.length ? n : null;
  });
  for (const n of fresh) {
    assert.equal(n.body.type, 'order');
    const ok = n.attempts.find((a) => a.status === 200);
    assert.ok(ok, `attempts ${JSON.stringify(n.attempts)}`);
    expectValid(ok.x_signature, ok.request_id, n.data_id);
  }
}
