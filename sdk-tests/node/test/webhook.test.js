'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { env, required, client, eventually, sandbox } = require('../lib/env');
const { Order, Point, WebhookSignatureValidator, InvalidWebhookSignatureError } = require('mercadopago');

test("the SDK's WebhookSignatureValidator accepts the notifications it receives", async (t) => {
  if (!env('MP_SANDBOX_URL') || !env('MP_WEBHOOK_SECRET') || !env('MP_CLIENT_ID')) {
    return t.skip('MP_SANDBOX_URL / MP_WEBHOOK_SECRET / MP_CLIENT_ID not set');
  }
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
  for (const h of hits) {
    WebhookSignatureValidator.validate({
      xSignature: h.headers['x-signature'],
      xRequestId: h.headers['x-request-id'],
      dataId: h.url.searchParams.get('data.id'),
      secret: required('MP_WEBHOOK_SECRET'),
    });
    assert.throws(() => WebhookSignatureValidator.validate({
      xSignature: h.headers['x-signature'],
      xRequestId: h.headers['x-request-id'],
      dataId: h.url.searchParams.get('data.id'),
      secret: 'not-the-secret',
    }), InvalidWebhookSignatureError);
  }
  await sandbox('PATCH', `/sandbox/applications/${required('MP_CLIENT_ID')}`, { webhook_url: null });
});
