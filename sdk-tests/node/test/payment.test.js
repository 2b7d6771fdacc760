'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { required, client, sellerClient, eventually, expectRefusal } = require('../lib/env');
const { Order, Payment, PaymentRefund, MPBadRequestError, MPNotFoundError } = require('mercadopago');

// A terminal payment of an Orders API order, as the Payments API shows it (its `reference_id`).
async function terminalPayment(amount, ref) {
  const created = await new Order(client()).create({
    body: {
      type: 'point', external_reference: ref, description: 'sdk payment scenario',
      transactions: { payments: [{ amount }] },
      config: { point: { terminal_id: required('MP_TERMINAL_ID'), print_on_terminal: 'no_ticket' } },
    },
  });
  const done = await eventually('processed', async () => {
    const o = await new Order(client()).get({ id: created.id });
    return o.status === 'processed' && o.transactions.payments[0].reference_id ? o : null;
  });
  return { order: done, paymentId: done.transactions.payments[0].reference_id };
}

test('a terminal payment is read, searched and refunded through Payment and PaymentRefund', async () => {
  const ref = `node_pay_${Date.now()}`;
  const { order, paymentId } = await terminalPayment('30.00', ref);

  const payment = await new Payment(sellerClient()).get({ id: paymentId });
  assert.equal(payment.api_response.status, 200);
  assert.equal(String(payment.id), String(paymentId));
  assert.equal(payment.status, 'approved');
  assert.equal(payment.status_detail, 'accredited');
  assert.equal(payment.transaction_amount, 30);
  assert.equal(payment.external_reference, ref);
  assert.equal(payment.point_of_interaction.type, 'POINT');

  const found = await new Payment(sellerClient()).search({ options: { external_reference: ref } });
  assert.equal(found.api_response.status, 200);
  assert.deepEqual(found.results.map((p) => String(p.id)), [String(paymentId)]);
  assert.equal(found.paging.total, 1);
  const all = [];
  for await (const p of new Payment(sellerClient()).searchAll({ options: { external_reference: ref } })) all.push(String(p.id));
  assert.deepEqual(all, [String(paymentId)]);

  const partial = await new PaymentRefund(sellerClient()).create({ payment_id: paymentId, body: { amount: 10 } });
  assert.equal(partial.api_response.status, 201);
  assert.equal(partial.amount, 10);
  assert.equal(partial.status, 'approved');
  assert.equal(String(partial.payment_id), String(paymentId));
  const one = await new PaymentRefund(sellerClient()).get({ payment_id: paymentId, refund_id: partial.id });
  assert.equal(String(one.id), String(partial.id));
  assert.equal(one.amount, 10);
  const listed = await new PaymentRefund(sellerClient()).list({ payment_id: paymentId });
  assert.deepEqual(listed.map((r) => String(r.id)), [String(partial.id)]);
  const afterPartial = await new Payment(sellerClient()).get({ id: paymentId });
  assert.equal(afterPartial.status, 'approved');
  assert.equal(afterPartial.status_detail, 'partially_refunded');
  // The order is the same money: it shows the refund too.
  const orderAfterPartial = await new Order(client()).get({ id: order.id });
  assert.equal(orderAfterPartial.status_detail, 'partially_refunded');

  const rest = await new PaymentRefund(sellerClient()).total({ payment_id: paymentId });
  assert.equal(rest.api_response.status, 201);
  assert.equal(rest.amount, 20);
  const refunded = await new Payment(sellerClient()).get({ id: paymentId });
  assert.equal(refunded.status, 'refunded');
  assert.equal(refunded.transaction_amount_refunded, 30);
  assert.equal((await new PaymentRefund(sellerClient()).list({ payment_id: paymentId })).length, 2);
  assert.equal((await new Order(client()).get({ id: order.id })).status, 'refunded');
  await assert.rejects(
    new PaymentRefund(sellerClient()).total({ payment_id: paymentId }),
    (e) => e instanceof MPBadRequestError && e.error === 'bad_request',
  );
});

test('unknown payments and refunds are not found', async () => {
  await assert.rejects(new Payment(sellerClient()).get({ id: 1 }), (e) => e instanceof MPNotFoundError);
  await assert.rejects(new PaymentRefund(sellerClient()).list({ payment_id: 1 }), (e) => e instanceof MPNotFoundError);
  const none = await new Payment(sellerClient()).search({ options: { external_reference: `none_${Date.now()}` } });
  assert.deepEqual(none.results, []);
  assert.equal(none.paging.total, 0);
});

test('online-payment calls (create, update, capture, cancel) are refused as documented', async () => {
  const { paymentId } = await terminalPayment('12.50', `node_online_${Date.now()}`);
  await expectRefusal('Payment.create', new Payment(sellerClient()).create({
    body: {
      transaction_amount: 12.5, token: 'ff8080814c11e237014c1ff593b57b4d', description: 'online',
      installments: 1, payment_method_id: 'visa', payer: { email: 'buyer@example.com' },
    },
  }));
  await expectRefusal('Payment.update', new Payment(sellerClient()).update({ id: paymentId, body: { description: 'changed' } }));
  await expectRefusal('Payment.capture', new Payment(sellerClient()).capture({ id: paymentId, transaction_amount: 12.5 }));
  await expectRefusal('Payment.cancel', new Payment(sellerClient()).cancel({ id: paymentId }));
  // Nothing changed.
  const p = await new Payment(sellerClient()).get({ id: paymentId });
  assert.equal(p.status, 'approved');
  assert.equal(p.transaction_amount, 12.5);
});
