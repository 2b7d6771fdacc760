'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { env, required, client, eventually, rest, sellerToken } = require('../lib/env');
const { Point, MPBadRequestError, MPNotFoundError } = require('mercadopago');

const terminal = () => required('MP_TERMINAL_ID');

test('getDevices lists the terminal with its mode, store and POS', async () => {
  const res = await new Point(client()).getDevices({ request: { options: { limit: 50, offset: 0 } } });
  assert.equal(res.api_response.status, 200);
  const dev = res.devices.find((d) => d.id === terminal());
  assert.ok(dev, `terminal ${terminal()} listed`);
  assert.ok(['PDV', 'STANDALONE'].includes(dev.operating_mode));
  assert.ok(dev.pos_id !== undefined && dev.store_id !== undefined);
  assert.equal(typeof res.paging.total, 'number');
});

test('changeDeviceOperatingMode keeps the terminal in PDV', async () => {
  const res = await new Point(client()).changeDeviceOperatingMode({
    device_id: terminal(),
    request: { operating_mode: 'PDV' },
  });
  assert.equal(res.operating_mode, 'PDV');
});

test('a payment intent is created, processed and visible through every read call', async () => {
  const point = new Point(client());
  const created = await point.createPaymentIntent({
    device_id: terminal(),
    request: {
      amount: 1500,
      description: 'sdk scenario',
      payment: { type: 'credit_card', installments: 1, installments_cost: 'seller' },
      additional_info: { external_reference: `node-${Date.now()}`, print_on_terminal: true },
    },
  });
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  assert.equal(created.amount, 1500);
  assert.equal(created.device_id, terminal());
  const done = await eventually('FINISHED', async () => {
    const r = await new Point(client()).searchPaymentIntent({ payment_intent_id: created.id });
    return r.state === 'FINISHED' ? r : null;
  });
  assert.ok(done.payment.id, 'payment id once processed');
  const status = await new Point(client()).getPaymentIntentStatus({ payment_intent_id: created.id });
  assert.equal(status.status, 'FINISHED');
  const today = new Date().toISOString().slice(0, 10);
  const list = await new Point(client()).getPaymentIntentList({ body: { options: { startDate: today, endDate: today } } });
  assert.ok(list.events.some((e) => e.payment_intent_id === created.id));
});

test('invalid intents and unknown ids are SDK errors', async () => {
  await assert.rejects(
    new Point(client()).createPaymentIntent({ device_id: terminal(), request: { amount: 1 } }),
    (e) => e instanceof MPBadRequestError,
  );
  await assert.rejects(
    new Point(client()).searchPaymentIntent({ payment_intent_id: '00000000-0000-0000-0000-000000000000' }),
    (e) => e instanceof MPNotFoundError,
  );
});

test('an intent waiting on a manual terminal can be cancelled', async (t) => {
  const manual = env('MP_MANUAL_TERMINAL_ID');
  if (!manual) return t.skip('MP_MANUAL_TERMINAL_ID not set');
  const created = await new Point(client()).createPaymentIntent({ device_id: manual, request: { amount: 2500 } });
  const res = await new Point(client()).cancelPaymentIntent({ device_id: manual, payment_intent_id: created.id });
  assert.equal(res.id, created.id);
  const after = await new Point(client()).searchPaymentIntent({ payment_intent_id: created.id });
  assert.equal(after.state, 'CANCELED');
});

// The Terminals API and the integrator settings have no SDK client: the SDK's HTTP layer.
test('terminals/v1/list and setup through the SDK HTTP layer', async () => {
  const token = required('MP_ACCESS_TOKEN');
  const list = await rest('/terminals/v1/list', { token, query: { limit: 50, offset: 0 } });
  assert.equal(list.api_response.status, 200);
  const t = list.data.terminals.find((x) => x.id === terminal());
  assert.ok(t, `terminal ${terminal()} listed`);
  assert.equal(t.operating_mode, 'PDV');
  assert.equal(typeof list.paging.total, 'number');
  const clamped = await rest('/terminals/v1/list', { token, query: { limit: 500 } });
  assert.equal(clamped.paging.limit, 50);
  const setup = await rest('/terminals/v1/setup', {
    token, method: 'PATCH', body: { terminals: [{ id: terminal(), operating_mode: 'PDV' }] },
  });
  assert.deepEqual(setup.terminals, [{ id: terminal(), operating_mode: 'PDV' }]);
  await assert.rejects(
    rest('/terminals/v1/setup', { token, method: 'PATCH', body: { terminals: [{ id: terminal(), operating_mode: 'TURBO' }] } }),
    (e) => e instanceof MPBadRequestError,
  );
});

// The settings of the account the token is: the seller's.
test('integrator settings: device e-mail alerts', async () => {
  const token = sellerToken();
  const patched = await rest('/point/integration-api/integrator', {
    token, method: 'PATCH', body: { event_channel_devices: ['email'] },
  });
  assert.equal(patched.api_response.status, 204);
  const got = await rest('/point/integration-api/integrator', { token });
  assert.equal(got.api_response.status, 200);
  assert.deepEqual(got.event_channel_devices, ['email']);
  assert.equal(typeof got.notification_url_enabled, 'boolean');
  await assert.rejects(
    rest('/point/integration-api/integrator', { token, method: 'PATCH', body: { event_channel_devices: ['pigeon'] } }),
    (e) => e instanceof MPBadRequestError,
  );
});
