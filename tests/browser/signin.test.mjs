// signin.test.mjs - the dashboard of a server with API keys, in a real
// Chromium: the sign-in form instead of the views, a wrong key refused with
// the server's message, a good key signs in (the session cookie is HttpOnly,
// so the page cannot read it), state-changing calls carry the CSRF token,
// and signing out brings the form back.
//
//   node --test --test-reporter=tap tests/browser/signin.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { SHOTS, closeAll, launchPage, startHotpath, waitFor } from './lib/harness.mjs';

let hotpath = null;
let browser = null;
let page = null;
let consoleErrors = [];
let adminKey = null;

before(async () => {
  hotpath = await startHotpath('hotpath-signin-');
  // open mode on loopback: the first key is made through the API, and from
  // then on every call needs one
  const res = await fetch(`${hotpath.base}/api/v1/keys`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'browser-admin', role: 'admin' }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  adminKey = JSON.parse(text).token;
  ({ browser, page, consoleErrors } = await launchPage({ width: 1280, height: 900 }));
});

after(() => closeAll(browser, hotpath));

test('a server with keys shows the sign-in form, not the views', async () => {
  await page.goto(`${hotpath.base}/dashboard/performance`);
  await page.waitForSelector('#signin');
  assert.equal(await page.$$eval('#nav a', (a) => a.length), 0, 'no view is mounted');
  assert.equal(await page.getAttribute('#signin-key', 'type'), 'password');
});

test('a wrong key is refused with the server\'s message', async () => {
  const before = consoleErrors.length;
  await page.fill('#signin-key', 'hpk_0000000000000000_' + '0'.repeat(64));
  await page.click('#signin button[type=submit]');
  await waitFor(async () => /unknown or revoked API key/.test(await page.textContent('#signin-status')), 'the refusal');
  consoleErrors.splice(before); // Chromium logs the 401 itself
});

test('a good key signs in: the views load and the top bar names the key', async () => {
  await page.fill('#signin-key', adminKey);
  await Promise.all([page.waitForNavigation(), page.click('#signin button[type=submit]')]);
  await page.waitForSelector('#session');
  assert.match(await page.textContent('#session .session-name'), /browser-admin \(admin\)/);
  await waitFor(async () => (await page.$$eval('#nav a', (a) => a.length)) > 0, 'the navigation');
  assert.equal(await page.$('#signin'), null);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'hotpath_session');
  assert.ok(session && session.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
  assert.equal(await page.evaluate(() => document.cookie.includes('hotpath_session')), false, 'the page cannot read it');
  await page.screenshot({ path: join(SHOTS, 'signin-signed-in.png') });
});

test('the dashboard\'s POST carries the CSRF token; a bare fetch from the page does not pass', async () => {
  const viaApp = await page.evaluate(async () => {
    const m = await import('/lib/request.js');
    try {
      await m.apiPost('/api/v1/recommendations/0123456789abcdef/status', { status: 'applied' });
      return 200;
    } catch (err) {
      return err.status;
    }
  });
  assert.equal(viaApp, 404, 'past the CSRF check: no such recommendation');
  const bare = await page.evaluate(async () => (await fetch('/api/v1/recommendations/0123456789abcdef/status', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"status":"applied"}',
  })).status);
  assert.equal(bare, 403, 'the cookie alone is not enough');
  consoleErrors.length = 0; // the two refusals above, on purpose
});

test('signing out brings the form back', async () => {
  await Promise.all([page.waitForNavigation(), page.click('#signout')]);
  await page.waitForSelector('#signin');
  assert.deepEqual(consoleErrors, []);
});
