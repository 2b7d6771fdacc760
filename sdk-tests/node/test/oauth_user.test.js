'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { env, required, client, sandbox, targetIsPuente } = require('../lib/env');
const { OAuth, User, MPBadRequestError, MPAuthenticationError } = require('mercadopago');

test('User.get returns the seller behind the token', async (t) => {
  if (targetIsPuente()) return t.skip('MP_TARGET=puente: Puente does not serve /users/me');
  const me = await new User(client()).get();
  assert.equal(typeof me.id, 'number');
  assert.ok(me.site_id && me.nickname);
});

test('an invalid token is an authentication error', async (t) => {
  if (targetIsPuente()) return t.skip('MP_TARGET=puente: Puente does not serve /users/me');
  await assert.rejects(new User(client('APP_USR-invalid')).get(), (e) => e instanceof MPAuthenticationError);
});

test('authorization URL, code exchange and refresh rotation', async (t) => {
  if (!env('MP_CLIENT_ID') || !env('MP_SANDBOX_URL')) return t.skip('MP_CLIENT_ID / MP_SANDBOX_URL not set');
  const oauth = new OAuth(client());
  const url = new URL(oauth.getAuthorizationURL({
    options: { client_id: required('MP_CLIENT_ID'), redirect_uri: required('MP_REDIRECT_URI'), state: 'node-state' },
  }));
  assert.equal(url.origin + url.pathname, 'https://auth.mercadopago.com/authorization');
  assert.equal(url.searchParams.get('response_type'), 'code');
  const me = await new User(client()).get();
  const r = await sandbox('POST', `/sandbox/authorize?${url.searchParams}&user_id=${me.id}&decision=allow`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const back = new URL(r.body.redirect_to);
  assert.equal(back.searchParams.get('state'), 'node-state');
  const creds = { client_id: required('MP_CLIENT_ID'), client_secret: required('MP_CLIENT_SECRET') };
  const tokens = await oauth.create({ body: { ...creds, code: back.searchParams.get('code'), redirect_uri: required('MP_REDIRECT_URI') } });
  assert.match(tokens.access_token, /^APP_USR-/);
  assert.equal(tokens.expires_in, 15552000);
  assert.equal(tokens.user_id, me.id);
  const refreshed = await new OAuth(client()).refresh({ body: { ...creds, refresh_token: tokens.refresh_token } });
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  await assert.rejects(
    new OAuth(client()).refresh({ body: { ...creds, refresh_token: tokens.refresh_token } }),
    (e) => e instanceof MPBadRequestError && e.error === 'invalid_grant',
  );
});
