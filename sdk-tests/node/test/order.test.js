'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { env, required, client, eventually, expectRefusal } = require('../lib/env');
const { Order, MPIdempotencyError, MPBadRequestError } = require('mercadopago');

const SPONSOR = '446566691';
// Puente replaces the POS's sponsor with the integrator's.
const EXPECTED_SPONSOR = env('MP_EXPECTED_SPONSOR_ID') || SPONSOR;

function body(terminalId, amount, ref) {
  return {
    type: 'point',
    external_reference: ref,
    expiration_time: 'PT16M',
    description: 'sdk scenario',
    transactions: { payments: [{ amount }] },
    config: { point: { terminal_id: terminalId, print_on_terminal: 'no_ticket' }, payment_method: { default_type: 'credit_card' } },
    integration_data: { sponsor: { id: SPONSOR } },
  };
}

test('an order is processed, then partially and fully refunded', async () => {
  const ref = `node_${Date.now()}`;
  const created = await new Order(client()).create({ body: body(required('MP_TERMINAL_ID'), '30.00', ref) });
  assert.equal(created.api_response.status, 201);
  assert.match(created.id, /^ORD[0-9A-Z]{26}$/);
  assert.equal(created.type, 'point');
  assert.equal(created.integration_data.sponsor.id, EXPECTED_SPONSOR);
  const pay = created.transactions.payments[0];
  assert.match(pay.id, /^PAY/);
  const processed = await eventually('processed', async () => {
    const o = await new Order(client()).get({ id: created.id });
    return o.status === 'processed' ? o : null;
  });
  assert.equal(processed.transactions.payments[0].status_detail, 'accredited');
  const partial = await new Order(client()).refund({
    id: created.id,
    body: { transactions: [{ id: pay.id, amount: '10.00' }] },
  });
  assert.equal(partial.status_detail, 'partially_refunded');
  const full = await new Order(client()).refund({ id: created.id });
  assert.equal(full.status, 'refunded');
  assert.ok(full.transactions.refunds.length >= 2);
  const found = await new Order(client()).search({ options: { external_reference: ref } });
  assert.ok(JSON.stringify(found).includes(created.id));
});

test('an order waiting on a manual terminal is canceled; a second cancel is refused', async (t) => {
  const manual = env('MP_MANUAL_TERMINAL_ID');
  if (!manual) return t.skip('MP_MANUAL_TERMINAL_ID not set');
  const created = await new Order(client()).create({ body: body(manual, '15.00', `node_c_${Date.now()}`) });
  const canceled = await new Order(client()).cancel({ id: created.id });
  assert.equal(canceled.status, 'canceled');
  assert.equal(canceled.transactions.payments[0].status_detail, 'canceled_by_api');
  await assert.rejects(new Order(client()).cancel({ id: created.id }), (e) => e instanceof MPIdempotencyError && e.status !== undefined);
});

test('order validation errors and idempotent replays', async () => {
  await assert.rejects(
    new Order(client()).create({ body: { ...body(required('MP_TERMINAL_ID'), '10.00', 'x'), type: 'online_bad' } }),
    (e) => e instanceof MPBadRequestError,
  );
  const key = `node-idem-${Date.now()}`;
  const manual = env('MP_MANUAL_TERMINAL_ID') || required('MP_TERMINAL_ID');
  const b = body(manual, '11.50', `node_i_${Date.now()}`);
  const a = await new Order(client()).create({ body: b, requestOptions: { idempotencyKey: key } });
  const again = await new Order(client()).create({ body: b, requestOptions: { idempotencyKey: key } });
  assert.equal(again.id, a.id);
  await assert.rejects(
    new Order(client()).create({ body: { ...b, description: 'changed' }, requestOptions: { idempotencyKey: key } }),
    (e) => e instanceof MPIdempotencyError,
  );
  if (a.status === 'created') await new Order(client()).cancel({ id: a.id });
});

test('online-order calls (process, capture, transactions) on a Point order are refused as documented', async () => {
  const created = await new Order(client()).create({ body: body(required('MP_TERMINAL_ID'), '16.00', `node_o_${Date.now()}`) });
  const done = await eventually('processed', async () => {
    const o = await new Order(client()).get({ id: created.id });
    return o.status === 'processed' ? o : null;
  });
  const id = created.id;
  const pay = done.transactions.payments[0].id;
  await expectRefusal('Order.process', new Order(client()).process({ id }));
  await expectRefusal('Order.capture', new Order(client()).capture({ id }));
  await expectRefusal('Order.createTransaction', new Order(client()).createTransaction({
    id, body: { payments: [{ amount: '1.00', payment_method: { id: 'master', type: 'credit_card', token: 'card-token', installments: 1 } }] },
  }));
  await expectRefusal('Order.updateTransaction', new Order(client()).updateTransaction({
    id, transactionId: pay, body: { payment_method: { installments: 2 } },
  }));
  await expectRefusal('Order.deleteTransaction', new Order(client()).deleteTransaction({ id, transactionId: pay }));
  // Nothing changed: the order is still processed with its one payment.
  const after = await new Order(client()).get({ id });
  assert.equal(after.status, 'processed');
  assert.deepEqual(after.transactions.payments.map((p) => p.id), [pay]);
});
