// The dashboard story in a real browser (Debian's Chromium, driven by
// playwright-core; no browser is ever downloaded). Started by
// crates/puente/tests/it/browser.rs with PUENTE_URL, SANDBOX_URL and SHOTS_DIR.
//
// Every wait is on a condition (a selector, a URL), never a fixed sleep.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const PUENTE = process.env.PUENTE_URL;
const SANDBOX = process.env.SANDBOX_URL;
const SHOTS = process.env.SHOTS_DIR || '';
assert.ok(PUENTE && SANDBOX, 'PUENTE_URL and SANDBOX_URL are required');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
});
const step = (name) => console.log(`step: ${name}`);
const shot = async (page, name) => { if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true }); };
const json = async (res) => { assert.ok(res.ok, `${res.url} answered ${res.status}`); return res.json(); };

// The integrator's own webhook receiver, on loopback (allowed in sandbox
// mode). It verifies the Standard Webhooks signature once it knows the
// secret, and lets the story wait for an event type.
const received = [];
const waiters = [];
let webhookSecret = '';
const verified = (headers, body) => {
  const key = Buffer.from(webhookSecret.replace(/^whsec_/, ''), 'base64');
  const signed = `${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`;
  const expected = Buffer.from(createHmac('sha256', key).update(signed).digest('base64'));
  return (headers['webhook-signature'] || '').split(' ').some((part) => {
    const got = Buffer.from(part.replace(/^v1,/, ''));
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
};
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const event = JSON.parse(body);
    received.push({ event, ok: verified(req.headers, body) });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
    for (const w of waiters.splice(0)) w();
  });
});
await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
const receiverUrl = `http://127.0.0.1:${receiver.address().port}/puente-hook`;
const eventReceived = async (type) => {
  for (;;) {
    const hit = received.find((r) => r.event.type === type);
    if (hit) return hit;
    await new Promise((ok) => waiters.push(ok));
  }
};

try {
  // The integrator's staff, in Spanish (the default for es browsers).
  const staff = await browser.newContext({ locale: 'es-AR', viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const page = await staff.newPage();
  // No page may miss an asset (the favicon was a 404 on every page).
  const missing = [];
  page.on('response', (r) => { if (r.status() === 404) missing.push(r.url()); });

  step('login in a browser set to French: English, with a language switch');
  const french = await browser.newContext({ locale: 'fr-FR', viewport: { width: 390, height: 844 } });
  const fr = await french.newPage();
  await fr.goto(`${PUENTE}/app/login`);
  assert.equal(await fr.getAttribute('html', 'lang'), 'en');
  await fr.locator('#lang-switch a[hreflang=pt-BR]').click();
  await fr.waitForURL(/\/app\/login/);
  assert.equal(await fr.getAttribute('html', 'lang'), 'pt-BR');
  await shot(fr, 'login-language');
  await french.close();

  step('sign up');
  await page.goto(`${PUENTE}/`);
  await page.waitForURL(/\/app\/login/);
  await shot(page, 'login');
  await page.click('a[href="/app/signup"]');
  // A bad form is shown again with its errors, and creates nothing.
  await page.fill('input[name=company]', 'Kiosco Soft');
  await page.fill('input[name=name]', 'Ana');
  await page.fill('input[name=email]', 'not-an-email');
  await page.fill('input[name=password]', 'short');
  await page.click('button[type=submit]');
  await page.locator('.field-error').first().waitFor();
  assert.equal(await page.locator('.field-error').count(), 2);
  await page.fill('input[name=email]', 'ana@kiosco.test');
  await page.fill('input[name=password]', 'a long enough password');
  await page.fill('input[name=password2]', 'a long enough password');
  await page.click('button[type=submit]');
  await page.waitForURL(/\/app\/settings/);

  step('configure the Mercado Pago application');
  const redirect = await page.inputValue('#redirect-url');
  const app = await json(await fetch(`${SANDBOX}/sandbox/applications`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [redirect], webhook_url: `${PUENTE}/webhooks/mercadopago` }),
  }));
  const sponsor = await json(await fetch(`${SANDBOX}/sandbox/sellers`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ site_id: 'MLB', terminals: 0, authorize: false }),
  }));
  await page.fill('input[name=client_id]', 'abc');
  await page.click('form.stack button[type=submit]');
  await page.locator('.field-error').first().waitFor();
  await page.fill('input[name=client_id]', String(app.client_id));
  await page.fill('input[name=client_secret]', app.client_secret);
  await page.fill('input[name=webhook_secret]', app.webhook_secret);
  await page.fill('input[name=sponsor_id]', String(sponsor.user_id));
  await page.click('form.stack button[type=submit]');
  await page.locator('.notice').waitFor();
  // Write-only: the secret is not in the page.
  assert.ok(!(await page.content()).includes(app.client_secret));
  await shot(page, 'settings');

  step('create a test seller and its onboarding link');
  await page.goto(`${PUENTE}/app/test-sellers`);
  await page.click('#create-test-seller');
  await page.locator('#test-seller-created').waitFor();
  const nickname = await page.textContent('#test-nickname');
  const password = await page.textContent('#test-password');
  const linkUrl = await page.inputValue('#onboarding-url');
  // Where the nickname and password come from, said on the page.
  assert.match(await page.getAttribute('#test-credentials-help a', 'href'), /\/sandbox$/);
  await shot(page, 'test-seller');

  // The seller, in another browser (Portuguese).
  const sellerCtx = await browser.newContext({ locale: 'pt-BR', viewport: { width: 390, height: 844 } });
  const seller = await sellerCtx.newPage();

  step('the seller opens the link and authorizes on the sandbox');
  await seller.goto(linkUrl);
  await seller.locator('#onboard-landing').waitFor();
  assert.match(await seller.textContent('h1'), /Kiosco Soft/);
  await shot(seller, 'onboarding-landing');
  await seller.click('#continue-to-mp');
  await seller.waitForURL(/\/authorization\?/);
  // The sandbox's consent page says where its credentials come from too.
  assert.match(await seller.textContent('#where-credentials'), /Test sellers/);
  await seller.fill('input[name=nickname]', nickname);
  await seller.fill('input[name=password]', password);
  await seller.click('button[value=allow]');
  await seller.locator('#onboard-result[data-outcome=linked]').waitFor();
  const callbackUrl = seller.url();
  await shot(seller, 'onboarding-success');

  step('the same callback again is refused (single-use state)');
  await seller.goto(callbackUrl);
  await seller.locator('#onboard-result[data-outcome=state_reused]').waitFor();
  step('the used link is refused');
  await seller.goto(linkUrl);
  await seller.locator('#onboard-result[data-outcome=link_used]').waitFor();

  step('denial');
  await page.goto(`${PUENTE}/app/links`);
  await page.fill('input[name=label]', 'Denial check');
  await page.click('form.inline-form button[type=submit]');
  const denyUrl = await page.inputValue('#onboarding-url');
  await seller.goto(denyUrl);
  await seller.click('#continue-to-mp');
  await seller.waitForURL(/\/authorization\?/);
  await seller.fill('input[name=nickname]', nickname);
  await seller.fill('input[name=password]', password);
  await seller.click('button[value=deny]');
  await seller.locator('#onboard-result[data-outcome=denied]').waitFor();
  await shot(seller, 'onboarding-denied');

  step('the seller shows as linked with its terminals');
  await page.goto(`${PUENTE}/app/sellers`);
  const row = page.locator('#sellers-table tr', { hasText: nickname });
  await row.waitFor();
  assert.match(await row.textContent(), /Vinculado/);
  await shot(page, 'sellers');
  await row.locator('a').first().click();
  await page.locator('#seller-terminals').waitFor();
  await shot(page, 'seller');

  step('switch a terminal to STANDALONE and back to PDV');
  await page.locator('#seller-terminals a').first().click();
  await page.locator('#terminal-mode').waitFor();
  for (const mode of ['STANDALONE', 'PDV']) {
    await page.check(`input[name=mode][value=${mode}]`);
    await page.click('#save-mode');
    await page.locator('#restart-notice').waitFor();
    assert.equal((await page.textContent('#terminal-mode')).trim(), mode);
  }
  // Saving the mode it already has: no change, no restart asked.
  await page.check('input[name=mode][value=PDV]');
  await page.click('#save-mode');
  await page.waitForURL(/done=mode_unchanged/);
  assert.equal(await page.locator('#restart-notice').count(), 0);
  const device = (await page.textContent('h1')).trim();
  const terminalId = new URL(page.url()).pathname.split('/').pop();
  const upstream = await json(await fetch(`${SANDBOX}/sandbox/terminals/${encodeURIComponent(device)}`));
  assert.equal(upstream.operating_mode, 'PDV');
  await shot(page, 'terminal');

  step('a webhook endpoint pointing at our receiver (secret shown once)');
  await page.goto(`${PUENTE}/app/webhooks`);
  await page.fill('#endpoint-form input[name=url]', 'ftp://nope.example');
  await page.click('#create-endpoint');
  await page.locator('#endpoint-form .field-error').waitFor();
  await page.fill('#endpoint-form input[name=url]', receiverUrl);
  await page.fill('#endpoint-form input[name=description]', 'Caja central');
  await page.click('#create-endpoint');
  await page.locator('#endpoint-created').waitFor();
  webhookSecret = await page.inputValue('#webhook-secret');
  assert.match(webhookSecret, /^whsec_/);
  await page.click('#to-endpoint');
  await page.locator('#endpoint-status').waitFor();
  const endpointUrl = page.url();
  assert.ok(!(await page.content()).includes(webhookSecret), 'the secret is shown once');

  step('charge on the PDV terminal from the dashboard and watch it finish live');
  // From the terminal's own page, as docs/dashboard.md says.
  await page.goto(`${PUENTE}/app/terminals/${terminalId}`);
  await page.click('#new-payment');
  await page.waitForURL(/\/app\/intents\/new\?terminal=/);
  await page.fill('input[name=amount]', 'diez');
  await page.click('#create-intent');
  await page.locator('#intent-form .field-error').waitFor();
  assert.equal(await page.inputValue('select[name=terminal]'), terminalId);
  await page.fill('input[name=amount]', '25.50');
  await page.fill('input[name=description]', 'Café con leche');
  await page.click('#create-intent');
  await page.waitForURL(/\/app\/intents\/pi_/);
  const intentUrl = page.url();
  // The terminal takes a few seconds per step; the page follows over
  // server-sent events, without a reload.
  await page.evaluate(() => { window.__samePage = true; });
  await page.locator('#intent-status[data-status=processed]').waitFor({ timeout: 60_000 });
  assert.equal(await page.evaluate(() => window.__samePage), true, 'updated without a reload');
  assert.match(await page.textContent('#intent-status'), /Aprobado/);
  await page.locator('#intent-timeline li[data-to=processed]').waitFor();
  // "On the terminal" is shown (the pick-up is read back within a second).
  assert.match(await page.textContent('#intent-timeline li[data-to=at_terminal]'), /En la terminal/);
  await shot(page, 'intent');

  step('the webhook delivery reached the receiver, signed, and shows as delivered');
  const hit = await eventReceived('payment_intent.processed');
  assert.ok(hit.ok, 'the webhook signature verifies with the secret shown once');
  assert.equal(hit.event.data.id, intentUrl.split('/').pop());
  await page.goto(endpointUrl);
  const delivered = page.locator('#deliveries-table tr[data-event-type="payment_intent.processed"] [data-status=succeeded]');
  // Its row is committed right after the receiver answered: reload until then.
  for (let i = 0; i < 50 && !(await delivered.count()); i++) await page.reload();
  await delivered.waitFor();
  await shot(page, 'webhook-deliveries');
  await page.locator('#deliveries-table tr[data-event-type="payment_intent.processed"] a').click();
  await page.locator('#attempts-table').waitFor();
  await shot(page, 'webhook-delivery');

  step('intents list and an API key shown once');
  await page.goto(`${PUENTE}/app/intents?status=processed`);
  await page.locator(`#intents-table tr[data-intent="${intentUrl.split('/').pop()}"]`).waitFor();
  await shot(page, 'intents');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'intents-phone');
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.goto(`${PUENTE}/app/api-keys`);
  await page.fill('input[name=name]', 'Caja 1');
  await page.click('#create-key');
  await page.locator('#key-created').waitFor();
  const apiKey = await page.inputValue('#api-key');
  const list = await fetch(`${PUENTE}/v1/payment-intents`, { headers: { authorization: `Bearer ${apiKey}` } });
  assert.equal(list.status, 200);
  await page.goto(`${PUENTE}/app/api-keys`);
  assert.ok(!(await page.content()).includes(apiKey), 'the key is shown once');
  await shot(page, 'api-keys');

  step('a full refund shows on the intent page live');
  await page.goto(intentUrl);
  await page.evaluate(() => { window.__samePage = true; });
  await page.click('#refund-intent');
  await page.waitForURL(/\/app\/intents\/pi_/);
  await page.evaluate(() => { window.__samePage = true; });
  await page.locator('#intent-status[data-status=refunded]').waitFor({ timeout: 60_000 });
  assert.equal(await page.evaluate(() => window.__samePage), true, 'refunded without a reload');
  await shot(page, 'intent-refunded');

  step('lists name the seller, not its id; the fleet view shows the last payment');
  await page.goto(`${PUENTE}/app/terminals`);
  assert.ok((await page.textContent('table.list')).includes(nickname));
  assert.ok(!(await page.textContent('table.list')).includes('sel_'));
  const fleetRow = page.locator(`tr[data-terminal="${terminalId}"]`);
  assert.match(await fleetRow.textContent(), /25\.50 BRL/, 'the last payment');
  assert.equal(await fleetRow.locator('[data-flag]').count(), 0, 'a healthy PDV terminal has no flag');
  await shot(page, 'terminals-fleet');
  await page.locator('nav.langs a[hreflang=en]').click();
  await page.waitForURL(/\/app\/terminals/);
  assert.match(await page.textContent('table.list thead'), /Last payment.*Last error.*Charges today/s);
  await page.locator('nav.langs a[hreflang=es]').click();
  await page.waitForURL(/\/app\/terminals/);

  step('the intents list exports as CSV');
  await page.goto(`${PUENTE}/app/intents?status=refunded`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-intents')]);
  assert.equal(download.suggestedFilename(), 'payment-intents.csv');
  const csvText = readFileSync(await download.path(), 'utf8');
  const [csvHeader, ...csvRows] = csvText.trimEnd().split('\r\n');
  assert.match(csvHeader, /^id,created_at,finalized_at,status,/);
  assert.equal(csvRows.length, 1, 'the one refunded intent');
  assert.match(csvRows[0], /,refunded,/);
  assert.match(csvRows[0], /,25\.50,25\.50,BRL,/, 'amount, refunded amount, currency');
  // The same export from the English page names the same columns (data, not prose).
  await page.locator('nav.langs a[hreflang=en]').click();
  await page.waitForURL(/\/app\/intents/);
  assert.equal(await page.textContent('#export-intents'), 'Export CSV');
  await page.locator('nav.langs a[hreflang=es]').click();
  await page.waitForURL(/\/app\/intents/);

  step('overview charts, in Spanish and in English, on a phone too');
  await page.goto(`${PUENTE}/app?days=7`);
  assert.match(await page.textContent('#approval-rate'), /%/);
  assert.ok((await page.locator('svg.chart rect.bar.day').count()) === 7, 'a bar per day of the week');
  assert.match(await page.textContent('#figures-title'), /Resumen/);
  assert.equal(await page.locator(`#busiest-terminals a[href="/app/terminals/${terminalId}"]`).count(), 1, 'the charged terminal is the busiest');
  await shot(page, 'overview');
  await page.locator('nav.langs a[hreflang=en]').click();
  await page.waitForURL(/\/app/);
  assert.match(await page.textContent('#figures-title'), /Summary/);
  await page.locator('#figures details summary').first().click();
  assert.ok(await page.locator('#figures table.days-table').first().isVisible(), 'the numbers as a table');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'overview-phone');
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.locator('nav.langs a[hreflang=es]').click();
  await page.waitForURL(/\/app/);

  step('team: the owner invites an operator, who joins in a fresh browser (Portuguese)');
  await page.goto(`${PUENTE}/app/team`);
  await page.selectOption('#invite-form select[name=role]', 'operator');
  await page.click('#create-invitation');
  const invitationUrl = await page.inputValue('#invitation-url');
  await page.goto(`${PUENTE}/app/team`);
  assert.ok(!(await page.content()).includes(invitationUrl), 'the link is shown once');
  await page.locator('#invitations-table tr[data-invitation]').waitFor();
  const opCtx = await browser.newContext({ locale: 'pt-BR', viewport: { width: 1200, height: 900 } });
  const op = await opCtx.newPage();
  await op.goto(invitationUrl);
  assert.equal(await op.getAttribute('html', 'lang'), 'pt-BR');
  assert.equal(await op.textContent('#invite-role'), 'Operador');
  await op.fill('input[name=name]', 'Olga');
  await op.fill('input[name=email]', 'olga@kiosco.test');
  await op.fill('input[name=password]', 'another long password');
  await op.click('#invite-accept button[type=submit]');
  await op.waitForURL(/\/app$/);
  // An operator charges and refunds: no Keys, Settings or Team actions.
  for (const href of ['/app/api-keys', '/app/settings', '/app/team']) {
    assert.equal(await op.locator(`nav.main-nav a[href="${href}"]`).count(), 0, href);
  }
  await op.goto(`${PUENTE}/app/intents`);
  await op.locator('#new-intent').waitFor();
  const forbidden = await op.goto(`${PUENTE}/app/settings`);
  assert.equal(forbidden.status(), 403);
  await op.locator('#error-page[data-status="403"]').waitFor();
  assert.equal(await op.getAttribute('html', 'lang'), 'pt-BR');
  await shot(op, 'team-forbidden');
  // The invitation was single use.
  const again = await op.goto(invitationUrl);
  assert.equal(again.status(), 410);
  await page.goto(`${PUENTE}/app/team`);
  await page.locator('#members-table tr[data-role=operator]').waitFor();
  await shot(page, 'team');

  step('removing the operator ends their session at once');
  await page.click('#members-table tr[data-role=operator] form[action$="/remove"] button');
  await page.locator('.notice').waitFor();
  await op.goto(`${PUENTE}/app/intents`);
  await op.waitForURL(/\/app\/login/);
  await opCtx.close();

  step('audit log');
  await page.goto(`${PUENTE}/app/audit`);
  await page.locator('#audit-table').waitFor();
  assert.match(await page.textContent('#audit-table'), /terminal\.mode_changed/);
  assert.match(await page.textContent('#audit-table'), /member\.joined/);
  assert.match(await page.textContent('#audit-table'), /member\.removed/);
  await shot(page, 'audit');

  assert.deepEqual(missing, [], 'no 404 for any asset');
  console.log('browser story: ok');
} finally {
  await browser.close();
  receiver.close();
}
