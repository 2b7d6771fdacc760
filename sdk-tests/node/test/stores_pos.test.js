'use strict';
// Stores, classic POS and v2 POS: the SDK has no clients for them, so they go
// through its own HTTP layer (RestClient.fetch), as a POS written with it would.
const test = require('node:test');
const assert = require('node:assert/strict');
const { required, rest, uniq } = require('../lib/env');
const { MPBadRequestError, MPNotFoundError, MercadoPagoError } = require('mercadopago');

const user = () => required('MP_USER_ID');

function storeBody(name, externalId) {
  return {
    name,
    external_id: externalId,
    business_hours: { monday: [{ open: '08:00', close: '12:00' }, { open: '14:00', close: '18:00' }] },
    location: {
      street_number: '3039', street_name: 'Caseros', city_name: 'Belgrano', state_name: 'Capital Federal',
      latitude: -34.6, longitude: -58.4, reference: 'near the square',
    },
  };
}

test('a store is created, read, found, updated and deleted', async () => {
  const ext = uniq('SUC');
  const created = await rest(`/users/${user()}/stores`, { method: 'POST', body: storeBody('SDK store', ext) });
  assert.ok([200, 201].includes(created.api_response.status), `status ${created.api_response.status}`);
  assert.equal(typeof created.id, 'number');
  assert.equal(created.name, 'SDK store');
  assert.equal(created.external_id, ext);
  assert.ok(created.date_created);
  assert.match(created.location.address_line, /Caseros/);

  const got = await rest(`/stores/${created.id}`);
  assert.equal(got.id, created.id);
  assert.deepEqual(got.business_hours.monday, storeBody('', '').business_hours.monday);

  const found = await rest(`/users/${user()}/stores/search`, { query: { external_id: ext } });
  assert.equal(found.paging.total, 1);
  assert.equal(found.results[0].id, created.id);
  assert.ok(found.results[0].date_creation);

  const updated = await rest(`/users/${user()}/stores/${created.id}`, { method: 'PUT', body: storeBody('SDK store 2', ext) });
  assert.equal(updated.name, 'SDK store 2');
  assert.equal((await rest(`/stores/${created.id}`)).name, 'SDK store 2');

  await assert.rejects(
    rest(`/users/${user()}/stores`, { method: 'POST', body: { ...storeBody('x', uniq('SUC')), location: undefined } }),
    (e) => e instanceof MPBadRequestError,
  );

  const deleted = await rest(`/users/${user()}/stores/${created.id}`, { method: 'DELETE' });
  assert.equal(String(deleted.store), String(created.id));
  await assert.rejects(rest(`/stores/${created.id}`), (e) => e instanceof MPNotFoundError);
});

test('a classic POS is created in a store, searched, updated and deleted', async () => {
  const storeExt = uniq('SUC');
  const store = await rest(`/users/${user()}/stores`, { method: 'POST', body: storeBody('SDK POS store', storeExt) });
  const ext = uniq('POS');
  const pos = await rest('/pos', {
    method: 'POST',
    body: { name: 'SDK caja', fixed_amount: false, store_id: store.id, external_store_id: storeExt, external_id: ext, category: 621102 },
  });
  assert.equal(pos.api_response.status, 200);
  assert.equal(typeof pos.id, 'number');
  assert.equal(pos.external_id, ext);
  assert.equal(pos.external_store_id, storeExt);
  assert.equal(String(pos.store_id), String(store.id));
  assert.equal(pos.status, 'active');
  assert.match(pos.qr.image, /^https?:\/\//);

  await assert.rejects(
    rest('/pos', { method: 'POST', body: { name: 'dup', store_id: store.id, external_id: ext } }),
    (e) => e instanceof MercadoPagoError && e.status === 409,
  );
  const found = await rest('/pos', { query: { external_id: ext } });
  assert.equal(found.paging.total, 1);
  assert.equal(found.results[0].id, pos.id);
  assert.equal((await rest(`/pos/${pos.id}`)).name, 'SDK caja');
  const updated = await rest(`/pos/${pos.id}`, { method: 'PUT', body: { name: 'SDK caja 2' } });
  assert.equal(updated.name, 'SDK caja 2');
  assert.equal((await rest(`/pos/${pos.id}`)).name, 'SDK caja 2');

  const deleted = await rest(`/pos/${pos.id}`, { method: 'DELETE' });
  assert.equal(deleted.api_response.status, 200);
  await assert.rejects(rest(`/pos/${pos.id}`), (e) => e instanceof MPNotFoundError);
  await rest(`/users/${user()}/stores/${store.id}`, { method: 'DELETE' });
});

test('a v2 POS is created (idempotently), searched, patched and deleted', async () => {
  const store = await rest(`/users/${user()}/stores`, { method: 'POST', body: storeBody('SDK v2 store', uniq('SUC')) });
  const ext = uniq('POSV');
  const key = `node-v2pos-${ext}`;
  const body = { name: 'SDK v2 caja', store_id: String(store.id), external_id: ext };
  const pos = await rest('/v2/pos', { method: 'POST', body, idempotencyKey: key });
  assert.equal(pos.api_response.status, 201);
  assert.equal(pos.external_id, ext);
  assert.equal(String(pos.store_id), String(store.id));
  assert.ok(pos.qr_response && pos.qr_response.qr_code, 'qr_response.qr_code');
  // Same key and body: the same POS again; another POS under that key is refused.
  const again = await rest('/v2/pos', { method: 'POST', body, idempotencyKey: key });
  assert.equal(again.id, pos.id);
  await assert.rejects(
    rest('/v2/pos', { method: 'POST', body: { ...body, external_id: uniq('POSV') }, idempotencyKey: key }),
    (e) => e instanceof MPBadRequestError,
  );
  // store_id must be a string (reference 5.3).
  await assert.rejects(
    rest('/v2/pos', { method: 'POST', body: { ...body, store_id: store.id, external_id: uniq('POSV') } }),
    (e) => e instanceof MPBadRequestError,
  );

  const found = await rest('/v2/pos', { query: { external_id: ext } });
  assert.deepEqual(found.results.map((p) => p.id), [pos.id]);
  assert.equal((await rest(`/v2/pos/${pos.id}`)).external_id, ext);
  const patched = await rest(`/v2/pos/${pos.id}`, { method: 'PATCH', body: { name: 'SDK v2 caja 2' } });
  assert.equal(patched.name, 'SDK v2 caja 2');

  const deleted = await rest(`/v2/pos/${pos.id}`, { method: 'DELETE' });
  assert.equal(deleted.api_response.status, 204);
  await assert.rejects(rest(`/v2/pos/${pos.id}`), (e) => e instanceof MPNotFoundError);
  await rest(`/users/${user()}/stores/${store.id}`, { method: 'DELETE' });
});
