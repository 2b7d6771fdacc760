'use strict';
// In-store QR orders (reference 6) through the SDK's own HTTP layer: the v2
// PUT/GET/DELETE and the legacy /mpmobile/instore/qr POST, a buyer paying the
// QR (a sandbox helper), and that payment through Payment and PaymentRefund.
const test = require('node:test');
const assert = require('node:assert/strict');
const { env, required, rest, sandbox, sellerClient } = require('../lib/env');
const { Payment, PaymentRefund, MPNotFoundError, MercadoPagoError } = require('mercadopago');

const SPONSOR = '446566691';
// Puente replaces the POS's sponsor with the integrator's.
const EXPECTED_SPONSOR = env('MP_EXPECTED_SPONSOR_ID') || SPONSOR;
const user = () => required('MP_USER_ID');
const pos = () => required('MP_POS_EXTERNAL_ID');
const orderPath = () => `/instore/qr/seller/collectors/${user()}/pos/${pos()}/orders`;
const putPath = () => `/instore/qr/seller/collectors/${user()}/stores/${required('MP_STORE_EXTERNAL_ID')}/pos/${pos()}/orders`;

function v2Order(ref, unit, quantity) {
  const total = unit * quantity;
  return {
    external_reference: ref, title: 'SDK QR', description: 'sdk qr scenario',
    expiration_date: new Date(Date.now() + 3600e3).toISOString(),
    total_amount: total,
    items: [{ sku_number: 'A123', category: 'marketplace', title: 'Item', description: 'item', unit_price: unit, quantity, unit_measure: 'unit', total_amount: total }],
    sponsor: { id: Number(SPONSOR) },
  };
}

test('a v2 QR order is put on a POS, read back with the sponsor and deleted', async (t) => {
  t.after(() => rest(orderPath(), { method: 'DELETE' }).catch(() => {}));
  const ref = `node_qr_${Date.now()}`;
  const put = await rest(putPath(), { method: 'PUT', body: v2Order(ref, 12.5, 2) });
  assert.equal(put.api_response.status, 204);
  const got = await rest(orderPath());
  assert.equal(got.api_response.status, 200);
  assert.equal(got.external_reference, ref);
  assert.equal(got.total_amount, 25);
  assert.equal(got.items.length, 1);
  assert.equal(String(got.sponsor.id), EXPECTED_SPONSOR);
  const del = await rest(orderPath(), { method: 'DELETE' });
  assert.equal(del.api_response.status, 204);
  await assert.rejects(rest(orderPath()), (e) => e instanceof MPNotFoundError);
  await assert.rejects(rest(orderPath(), { method: 'DELETE' }), (e) => e instanceof MPNotFoundError);
});

test('a v2 QR order with a wrong total is refused and changes nothing', async () => {
  await assert.rejects(
    rest(putPath(), { method: 'PUT', body: { ...v2Order(`node_qr_bad_${Date.now()}`, 10, 1), total_amount: 11 } }),
    (e) => e instanceof MercadoPagoError && e.status === 400,
  );
  await assert.rejects(rest(orderPath()), (e) => e instanceof MPNotFoundError);
});

test('a buyer pays the QR: the payment is read, searched and refunded', async (t) => {
  t.after(() => rest(orderPath(), { method: 'DELETE' }).catch(() => {}));
  const ref = `node_qrpay_${Date.now()}`;
  await rest(putPath(), { method: 'PUT', body: v2Order(ref, 40, 1) });
  const paid = await sandbox('POST', '/sandbox/qr/pay', { user_id: Number(user()), external_pos_id: pos() });
  assert.equal(paid.status, 201, JSON.stringify(paid.body));
  const id = paid.body.payment_id;
  const payment = await new Payment(sellerClient()).get({ id });
  assert.equal(payment.status, 'approved');
  assert.equal(payment.payment_type_id, 'account_money');
  assert.equal(payment.transaction_amount, 40);
  assert.equal(payment.external_reference, ref);
  assert.equal(String(payment.sponsor_id), EXPECTED_SPONSOR);
  // An approved payment takes the order off the POS.
  await assert.rejects(rest(orderPath()), (e) => e instanceof MPNotFoundError);
  const found = await new Payment(sellerClient()).search({ options: { external_reference: ref } });
  assert.deepEqual(found.results.map((p) => String(p.id)), [String(id)]);
  const refund = await new PaymentRefund(sellerClient()).total({ payment_id: id });
  assert.equal(refund.amount, 40);
  assert.equal((await new Payment(sellerClient()).get({ id })).status, 'refunded');
});

test('a legacy QR order (/mpmobile/instore/qr) carries the sponsor', async (t) => {
  t.after(() => rest(orderPath(), { method: 'DELETE' }).catch(() => {}));
  const ref = `node_qrl_${Date.now()}`;
  const res = await rest(`/mpmobile/instore/qr/${user()}/${pos()}`, {
    method: 'POST',
    headers: { 'X-Ttl-Store-Preference': '180' },
    body: {
      external_reference: ref, notification_url: 'https://example.com/notify', sponsor_id: SPONSOR,
      items: [{ id: 'sku1', title: 'Item', currency_id: 'BRL', unit_price: 7.5, quantity: 2, description: 'item', picture_url: 'https://example.com/i.png' }],
    },
  });
  assert.equal(res.api_response.status, 200);
  assert.equal(res.external_reference, ref);
  assert.equal(String(res.sponsor_id), EXPECTED_SPONSOR);
  assert.equal(String(res.collector_id), user());
  assert.equal(res.total_amount, 15);
  const current = await rest(orderPath());
  assert.equal(current.external_reference, ref);
});
