'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { required, client, sellerClient, rest, sandbox, refusal, expectRefusal } = require('../lib/env');
const { OAuth, User, MPBadRequestError, MPAuthenticationError } = require('mercadopago');

test('User.get returns the seller behind the token', async () => {
  const me = await new User(sellerClient()).get();
  assert.equal(me.api_response.status, 200);
  assert.equal(typeof me.id, 'number');
  assert.equal(String(me.id), required('MP_USER_ID'));
  assert.ok(me.site_id && me.nickname && me.email);
  assert.ok(me.tags.includes('test_user'), `tags ${me.tags}`);
});

test('an invalid token is an authentication error', async () => {
  await assert.rejects(new User(client('APP_USR-invalid')).get(), (e) => e instanceof MPAuthenticationError);
});

test('getAuthorizationURL builds the consent URL', () => {
  const url = new URL(new OAuth(client()).getAuthorizationURL({
    options: { client_id: '123', redirect_uri: 'https://pos.example/cb', state: 'st' },
  }));
  assert.equal(url.origin + url.pathname, 'https://auth.mercadopago.com/authorization');
  assert.equal(url.searchParams.get('response_type'), 'code');
  assert.equal(url.searchParams.get('platform_id'), 'mp');
  assert.equal(url.searchParams.get('client_id'), '123');
  assert.equal(url.searchParams.get('redirect_uri'), 'https://pos.example/cb');
  assert.equal(url.searchParams.get('state'), 'st');
});

// A real authorization code and refresh token, from the sandbox (Mercado Pago) for a
// fresh application: the sandbox exchanges and rotates them; Puente refuses even valid
// ones (refusals.json) and neither uses nor forwards them, so they still work upstream.
test('OAuth.create (code exchange) and OAuth.refresh (rotation)', async () => {
  const redirect = 'http://127.0.0.1:9/sdk/callback';
  const app = await sandbox('POST', '/sandbox/applications', { redirect_uris: [redirect] });
  assert.equal(app.status, 201, JSON.stringify(app.body));
  const creds = { client_id: app.body.client_id, client_secret: app.body.client_secret };
  const oauth = new OAuth(client());
  const url = new URL(oauth.getAuthorizationURL({
    options: { client_id: creds.client_id, redirect_uri: redirect, state: 'node-state' },
  }));
  const userId = required('MP_USER_ID');
  const r = await sandbox('POST', `/sandbox/authorize?${url.searchParams}&user_id=${userId}&decision=allow`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const back = new URL(r.body.redirect_to);
  assert.equal(back.searchParams.get('state'), 'node-state');
  const code = back.searchParams.get('code');

  if (refusal('OAuth.create')) {
    await expectRefusal('OAuth.create', oauth.create({ body: { ...creds, code, redirect_uri: redirect } }));
    const upstream = await sandbox('POST', '/oauth/token', { ...creds, grant_type: 'authorization_code', code, redirect_uri: redirect });
    assert.equal(upstream.status, 200, `the code is still unused upstream: ${JSON.stringify(upstream.body)}`);
    const refresh = upstream.body.refresh_token;
    await expectRefusal('OAuth.refresh', new OAuth(client()).refresh({ body: { ...creds, refresh_token: refresh } }));
    const rotated = await sandbox('POST', '/oauth/token', { ...creds, grant_type: 'refresh_token', refresh_token: refresh });
    assert.equal(rotated.status, 200, `the refresh token is still unused upstream: ${JSON.stringify(rotated.body)}`);
    return;
  }
  const tokens = await oauth.create({ body: { ...creds, code, redirect_uri: redirect } });
  assert.match(tokens.access_token, /^APP_USR-/);
  assert.equal(tokens.expires_in, 15552000);
  assert.equal(String(tokens.user_id), userId);
  // The new token is the seller's.
  assert.equal(String((await new User(client(tokens.access_token)).get()).id), userId);
  const refreshed = await new OAuth(client()).refresh({ body: { ...creds, refresh_token: tokens.refresh_token } });
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  await assert.rejects(
    new OAuth(client()).refresh({ body: { ...creds, refresh_token: tokens.refresh_token } }),
    (e) => e instanceof MPBadRequestError && e.error === 'invalid_grant',
  );
  await assert.rejects(
    new OAuth(client()).create({ body: { ...creds, code, redirect_uri: redirect } }),
    (e) => e instanceof MPBadRequestError && e.error === 'invalid_grant',
  );
});

test('a test user is created through the SDK HTTP layer', async () => {
  const u = await rest('/users/test_user', { method: 'POST', token: required('MP_ACCESS_TOKEN'), body: { site_id: 'MLB' } });
  assert.equal(u.api_response.status, 201);
  assert.equal(typeof u.id, 'number');
  assert.ok(u.nickname && u.password && u.email);
  assert.equal(u.site_status, 'active');
  await assert.rejects(
    rest('/users/test_user', { method: 'POST', token: required('MP_ACCESS_TOKEN'), body: { site_id: 'XXX' } }),
    (e) => e instanceof MPBadRequestError,
  );
});

