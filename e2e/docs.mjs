// The API reference (/docs) in a real browser: it renders under the strict
// CSP with no violation, lists the create-intent operation with its curl
// example, and the operation list links to it. Started by
// crates/puente/tests/it/browser.rs with PUENTE_URL.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

const PUENTE = process.env.PUENTE_URL;
assert.ok(PUENTE, 'PUENTE_URL is required');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
});
const page = await browser.newPage();
const violations = [];
page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text()); });

const res = await page.goto(`${PUENTE}/docs`);
assert.equal(res.status(), 200);
assert.match(res.headers()['content-security-policy'] || '', /script-src 'self'/);
await page.click('nav a[href="#createPaymentIntent"]');
const op = page.locator('[data-operation-id="createPaymentIntent"]');
await op.waitFor();
assert.match(await op.locator('h3').innerText(), /POST \/v1\/payment-intents/);
const curl = await op.locator('pre.curl').innerText();
assert.match(curl, /curl -X POST "\$PUENTE_URL\/v1\/payment-intents"/);
assert.match(curl, /Idempotency-Key/);
assert.match(curl, /"terminal_id"/);
assert.equal(new URL(page.url()).hash, '#createPaymentIntent');
assert.deepEqual(violations, []);
await browser.close();
console.log('docs story: ok');
