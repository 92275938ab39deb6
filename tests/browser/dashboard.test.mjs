// dashboard.test.mjs - the Performance dashboard in a real Chromium against
// a real `hotpath serve`.
//
//   node --test --test-reporter=tap tests/browser/dashboard.test.mjs
//
// HOTPATH_BIN names the binary (default build/hotpath).  The test starts the
// server on a free loopback port with an empty data directory, sends traces
// as OTLP/JSON, drives Debian's /usr/bin/chromium through playwright-core,
// and saves screenshots to build/screenshots/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { SHOTS, closeAll, launchPage, postOtlpJson, startHotpath, waitFor } from './lib/harness.mjs';

let hotpath = null;
let base = null;
let browser = null;
let page = null;
let consoleErrors = [];

// --- the data ------------------------------------------------------------------

const hex = (bytes) => randomBytes(bytes).toString('hex');
const NOW_NS = BigInt(Date.now()) * 1000000n;
const msNs = (ms) => BigInt(Math.round(ms * 1e6));

function attrValue(v) {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Number.isInteger(v)) return { intValue: String(v) };
  return { doubleValue: v };
}
const attrs = (obj) => Object.entries(obj).map(([key, v]) => ({ key, value: attrValue(v) }));

// A span tree: {svc, name, kind, at (ms from trace start), ms, attrs,
// error, events, children}.
function flatten(traceId, t0, node, parentId, out) {
  const spanId = hex(8);
  const start = t0 + msNs(node.at);
  const span = {
    traceId, spanId, parentSpanId: parentId, name: node.name, kind: node.kind ?? 1,
    startTimeUnixNano: String(start), endTimeUnixNano: String(start + msNs(node.ms)),
    attributes: attrs(node.attrs || {}),
    status: node.error ? { code: 2, message: node.error } : { code: 0 },
    events: (node.events || []).map((e) => ({
      timeUnixNano: String(t0 + msNs(e.at)), name: e.name, attributes: attrs(e.attrs || {}),
    })),
  };
  out.push({ svc: node.svc, span, node });
  node.spanId = spanId;
  for (const c of node.children || []) flatten(traceId, t0, c, spanId, out);
  return out;
}

function makeTrace(agoMs, env, root) {
  const traceId = hex(16);
  const spans = flatten(traceId, NOW_NS - msNs(agoMs), root, '', []);
  return { traceId, env, root, spans };
}

const VERSIONS = { frontend: '3.1.0', orders: '2.4.0', payments: '1.9.2', inventory: '5.0.1' };

function otlpRequest(traces) {
  const resourceSpans = [];
  for (const t of traces) {
    const bySvc = new Map();
    for (const s of t.spans) {
      if (!bySvc.has(s.svc)) bySvc.set(s.svc, []);
      bySvc.get(s.svc).push(s.span);
    }
    for (const [svc, spans] of bySvc) {
      resourceSpans.push({
        resource: {
          attributes: attrs({
            'service.name': svc, 'service.version': VERSIONS[svc],
            'deployment.environment.name': t.env, 'host.name': `${svc}-7f9c`,
          }),
        },
        scopeSpans: [{ scope: { name: 'hotpath-browser-test', version: '1.0.0' }, spans }],
      });
    }
  }
  return { resourceSpans };
}

// Checkout: three services, five levels, a failed payment with an exception.
const checkout = makeTrace(40000, 'production', {
  svc: 'frontend', name: 'GET /checkout', kind: 2, at: 0, ms: 480,
  attrs: { 'http.request.method': 'GET', 'http.route': '/checkout', 'http.response.status_code': 200 },
  children: [{
    svc: 'frontend', name: 'POST orders', kind: 3, at: 10, ms: 440,
    attrs: { 'http.request.method': 'POST', 'server.address': 'orders' },
    children: [{
      svc: 'orders', name: 'POST /api/orders', kind: 2, at: 15, ms: 420,
      attrs: { 'http.request.method': 'POST', 'http.route': '/api/orders', 'http.response.status_code': 201 },
      children: [
        {
          svc: 'orders', name: 'SELECT orders', kind: 3, at: 25, ms: 120,
          attrs: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM orders WHERE customer_id = $1' },
        },
        {
          svc: 'orders', name: 'charge card', kind: 3, at: 150, ms: 260,
          attrs: { 'server.address': 'payments' },
          children: [{
            svc: 'payments', name: 'POST /api/charge', kind: 2, at: 155, ms: 250,
            attrs: {
              'http.request.method': 'POST', 'http.route': '/api/charge', 'http.response.status_code': 402,
              'payment.provider': 'acme-pay', 'payment.amount_cents': 4999,
            },
            error: 'card declined',
            events: [{
              at: 390, name: 'exception',
              attrs: {
                'exception.type': 'CardDeclinedError', 'exception.message': 'card declined by issuer',
                'exception.stacktrace': 'CardDeclinedError: card declined by issuer\n    at charge (payments/charge.js:42:11)',
              },
            }],
          }],
        },
      ],
    }],
  }],
});
const stock = makeTrace(30000, 'production', {
  svc: 'inventory', name: 'GET /api/stock/{sku}', kind: 2, at: 0, ms: 45,
  attrs: { 'http.request.method': 'GET', 'http.route': '/api/stock/{sku}', 'http.response.status_code': 200 },
  children: [{ svc: 'inventory', name: 'SELECT stock', kind: 3, at: 5, ms: 30, attrs: { 'db.system.name': 'sqlite' } }],
});
const order = makeTrace(20000, 'production', {
  svc: 'orders', name: 'GET /api/orders/{id}', kind: 2, at: 0, ms: 150,
  attrs: { 'http.request.method': 'GET', 'http.route': '/api/orders/{id}', 'http.response.status_code': 200 },
  children: [{ svc: 'orders', name: 'redis GET', kind: 3, at: 2, ms: 3, attrs: { 'db.system.name': 'redis' } }],
});
// Staging only: hidden by the dashboard's default environment (Production).
const stagingStock = makeTrace(10000, 'staging', {
  svc: 'inventory', name: 'GET /api/stock/{sku}', kind: 2, at: 0, ms: 2500,
  attrs: { 'http.request.method': 'GET', 'http.route': '/api/stock/{sku}', 'http.response.status_code': 200 },
});

// The requests the list shows by default, newest first: one per trace, its
// edge request (the checkout's orders and payments spans are not listed
// again; service= lists a service's entry spans).  [service, duration as
// the dashboard prints it].
const PRODUCTION_ROWS = [['orders', '150 ms'], ['inventory', '45.0 ms'], ['frontend', '480 ms']];

// --- helpers -------------------------------------------------------------------

const postTraces = (traces) => postOtlpJson(base, otlpRequest(traces));

async function tableRows() {
  return page.$$eval('.traces-table tbody tr', (trs) => trs.map((tr) => ({
    service: tr.querySelector('.col-service').textContent.trim(),
    endpoint: tr.querySelector('.col-endpoint .endpoint').textContent.trim(),
    duration: tr.querySelector('.dur-text').textContent.trim(),
    status: tr.querySelector('.col-status').textContent.trim(),
    env: tr.querySelector('.col-env').textContent.trim(),
    version: tr.querySelector('.col-version').textContent.trim(),
    traceId: tr.dataset.traceId,
  })));
}

const pairs = (rows) => rows.map((r) => [r.service, r.duration]);

// Waits until the table shows exactly `expected` ([service, duration] in
// order) and returns its rows.
async function waitForRows(expected, what) {
  let seen = null;
  try {
    return await waitFor(async () => {
      const rows = await tableRows();
      seen = pairs(rows);
      return JSON.stringify(seen) === JSON.stringify(expected) ? rows : null;
    }, what);
  } catch (err) {
    throw new Error(`${what}: the table shows ${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`);
  }
}

const query = () => new URL(page.url()).searchParams;

// --- setup -------------------------------------------------------------------------

before(async () => {
  hotpath = await startHotpath('hotpath-browser-');
  base = hotpath.base;

  await postTraces([checkout, stock, order, stagingStock]);

  ({ browser, page, consoleErrors } = await launchPage({ width: 1440, height: 900 }));
});

after(() => closeAll(browser, hotpath));

// --- the tests ------------------------------------------------------------------------

test('the traces list shows the production requests, newest first', async () => {
  await page.goto(`${base}/dashboard/performance`);
  const rows = await waitForRows(PRODUCTION_ROWS, 'the production requests');
  for (const r of rows) {
    assert.equal(r.env, 'production');
    assert.equal(r.version, VERSIONS[r.service]);
    assert.ok(r.endpoint.length > 0, `empty endpoint in ${JSON.stringify(r)}`);
  }
  assert.deepEqual(rows.map((r) => r.status), ['OK', 'OK', 'OK']);
  assert.match(await page.textContent('.traces-count'), /one per trace/);
  // Production is the seed's default environment: the filter says so.
  assert.equal(await page.inputValue('#filter-env'), 'production');
  assert.equal(await page.inputValue('#filter-range'), '24h');
  // Options come from /api/v1/filters.
  const services = await page.$$eval('#filter-service option', (os) => os.map((o) => o.value));
  assert.deepEqual(services, ['', 'frontend', 'inventory', 'orders', 'payments']);
  await page.screenshot({ path: join(SHOTS, 'dashboard-traces.png') });
});

test('slowest first is a toggle kept in the URL', async () => {
  await page.click('.seg-btn:has-text("Slowest")');
  await waitForRows([['frontend', '480 ms'], ['orders', '150 ms'], ['inventory', '45.0 ms']], 'slowest first');
  assert.equal(query().get('order'), 'slowest');
  assert.equal(await page.getAttribute('.seg-btn:has-text("Slowest")', 'aria-pressed'), 'true');
});

test('a row opens the trace as a waterfall with bars proportional to durations', async () => {
  await page.click(`.traces-table tbody tr[data-trace-id="${checkout.traceId}"]:has-text("frontend")`);
  await page.waitForSelector('.waterfall .wf-row');
  assert.equal(query().get('trace'), checkout.traceId);

  const bars = await page.$$('.waterfall .wf-bar');
  assert.equal(bars.length, checkout.spans.length, 'one bar per span');
  const rowsInfo = await page.$$eval('.waterfall .wf-row', (rs) => rs.map((r) => ({
    name: r.querySelector('.wf-span-name').textContent,
    level: Number(r.getAttribute('aria-level')),
    error: r.classList.contains('has-error'),
  })));
  assert.deepEqual(rowsInfo.map((r) => [r.name, r.level]), [
    ['GET /checkout', 1], ['POST orders', 2], ['POST /api/orders', 3],
    ['SELECT orders', 4], ['charge card', 4], ['POST /api/charge', 5]]);
  assert.deepEqual(rowsInfo.filter((r) => r.error).map((r) => r.name), ['POST /api/charge']);

  const box = async (spanId) => {
    const b = await page.locator(`.wf-bar[data-span-id="${spanId}"]`).boundingBox();
    assert.ok(b, `bar of span ${spanId}`);
    return b;
  };
  const track = await page.locator('.wf-row .wf-track').first().boundingBox();
  const root = await box(checkout.root.spanId);
  const select = checkout.root.children[0].children[0].children[0];
  const payment = checkout.root.children[0].children[0].children[1].children[0];
  const sel = await box(select.spanId);
  const pay = await box(payment.spanId);
  const close = (got, want, what) => assert.ok(Math.abs(got - want) <= Math.max(2, want * 0.02),
    `${what}: ${got.toFixed(1)} px, expected ${want.toFixed(1)} px`);
  close(root.width, track.width, 'the root spans the whole axis');
  close(pay.width, root.width * (250 / 480), 'payment bar width');
  close(sel.width, root.width * (120 / 480), 'SELECT bar width');
  close(pay.width / sel.width * 120, 250, 'payment/SELECT width ratio × 120 ms');
  close(pay.x - track.x, track.width * (155 / 480), 'payment bar offset');

  const legend = await page.$$eval('.legend li', (ls) => ls.map((l) => l.textContent));
  for (const svc of ['frontend', 'orders', 'payments']) assert.ok(legend.some((l) => l.startsWith(svc)), `legend has ${svc}`);
  assert.ok((await page.$$('.wf-tick')).length >= 3, 'the time axis has ticks');
});

test('a span opens its detail: attributes, exception, timing', async () => {
  const payment = checkout.root.children[0].children[0].children[1].children[0];
  await page.click(`.wf-row[data-span-id="${payment.spanId}"]`);
  const detail = page.locator('.span-detail');
  await detail.waitFor({ state: 'visible' });
  assert.equal(query().get('span'), payment.spanId);
  const attrRows = await detail.locator('.sd-attributes tr').evaluateAll((trs) => trs
    .map((tr) => [tr.querySelector('th').textContent, tr.querySelector('td')?.textContent]));
  const map = Object.fromEntries(attrRows);
  assert.equal(map['payment.provider'], 'acme-pay');
  assert.equal(map['payment.amount_cents'], '4999');
  assert.equal(map['http.route'], '/api/charge');
  const exc = detail.locator('.event.is-exception');
  assert.equal(await exc.count(), 1);
  assert.match(await exc.textContent(), /CardDeclinedError: card declined by issuer/);
  assert.match(await detail.textContent(), /ERROR\s*card declined/);
  assert.match(await detail.locator('.sd-resource').textContent(), /service\.version\s*1\.9\.2/);

  // Self time of POST /api/orders: 420 ms minus its children's union
  // (SELECT 25–145 ms, charge card 150–410 ms) = 40 ms.
  const orders = checkout.root.children[0].children[0];
  await page.click(`.wf-row[data-span-id="${orders.spanId}"] .wf-span-name`);
  await waitFor(async () => /Self time\s*40\.0 ms/.test(await detail.textContent()), 'self time 40.0 ms');

  await page.click(`.wf-row[data-span-id="${payment.spanId}"]`);
  await waitFor(async () => /acme-pay/.test(await detail.textContent()), 'payment detail again');
  await page.screenshot({ path: join(SHOTS, 'dashboard.png') });
});

test('a filter changes the URL and the rows; reload and back keep the state', async () => {
  await page.click('.btn-back');
  await page.waitForSelector('.traces-table');
  await page.selectOption('#filter-service', 'inventory');
  await waitForRows([['inventory', '45.0 ms']], 'inventory in production');
  assert.equal(query().get('service'), 'inventory');

  await page.selectOption('#filter-env', 'all');
  const rows = await waitForRows([['inventory', '2.50 s'], ['inventory', '45.0 ms']], 'inventory in every environment');
  assert.deepEqual(rows.map((r) => r.env), ['staging', 'production']);
  assert.equal(query().get('env'), 'all');

  await page.reload();
  await waitForRows([['inventory', '2.50 s'], ['inventory', '45.0 ms']], 'the same rows after a reload');
  assert.equal(await page.inputValue('#filter-service'), 'inventory');
  assert.equal(await page.inputValue('#filter-env'), 'all');
  assert.equal(await page.getAttribute('.seg-btn:has-text("Slowest")', 'aria-pressed'), 'true');

  await page.goBack();
  await waitForRows([['inventory', '45.0 ms']], 'back to production only');
  assert.equal(query().get('env'), null);
  await page.goForward();
  await waitForRows([['inventory', '2.50 s'], ['inventory', '45.0 ms']], 'forward again');
});

test('tier, status and min duration filters reach the API', async () => {
  await page.goto(`${base}/dashboard/performance?env=all&tier=critical`);
  await waitForRows([['inventory', '2.50 s']], 'critical tier');
  await page.goto(`${base}/dashboard/performance?service=payments&status=error`);
  await waitForRows([['payments', '250 ms']], 'errors of payments');
  await page.goto(`${base}/dashboard/performance?service=orders`);
  await waitForRows([['orders', '150 ms'], ['orders', '420 ms']], 'every entry span of orders');
  await page.goto(`${base}/dashboard/performance`);
  await page.waitForSelector('.traces-table');
  await page.fill('#filter-min_duration_ms', '300');
  await page.press('#filter-min_duration_ms', 'Enter');
  await waitForRows([['frontend', '480 ms']], 'min duration 300 ms');
  assert.equal(query().get('min_duration_ms'), '300');
  await page.fill('#filter-min_duration_ms', '100000');
  await page.press('#filter-min_duration_ms', 'Enter');
  await page.waitForSelector('.empty-title');
  assert.match(await page.textContent('.empty-title'), /No requests/);
});

test('auto refresh shows new requests without a reload', async () => {
  await page.goto(`${base}/dashboard/performance`);
  await waitForRows(PRODUCTION_ROWS, 'the production requests');
  await page.click('#auto-refresh');
  await waitFor(async () => query().get('refresh') === '5s', 'refresh=5s in the URL');
  const late = makeTrace(1000, 'production', {
    svc: 'frontend', name: 'GET /late', kind: 2, at: 0, ms: 12, attrs: { 'http.route': '/late' },
  });
  await postTraces([late]);
  await waitFor(async () => (await tableRows()).some((r) => r.traceId === late.traceId), 'the new request', 12000);
  await page.click('#auto-refresh');
  await waitFor(async () => query().get('refresh') === null, 'refresh off');
});

test('Latest is the newest version of each service, as the server resolves it', async () => {
  // inventory deploys a hotfix: first seen last, though not the highest
  // version string (the dashboard once picked the highest in the fleet)
  const hotfix = makeTrace(5000, 'production', {
    svc: 'inventory', name: 'GET /api/stock/{sku}', kind: 2, at: 0, ms: 60,
    attrs: { 'http.request.method': 'GET', 'http.route': '/api/stock/{sku}' },
  });
  await postOtlpJson(base, {
    resourceSpans: [{
      resource: { attributes: attrs({ 'service.name': 'inventory', 'service.version': '4.9.0-hotfix', 'deployment.environment.name': 'production' }) },
      scopeSpans: [{ scope: { name: 'hotpath-browser-test' }, spans: hotfix.spans.map((s) => s.span) }],
    }],
  });
  const newest = { ...VERSIONS, inventory: '4.9.0-hotfix' };

  await page.goto(`${base}/dashboard/performance?service=inventory&version=latest`);
  const rows = await waitForRows([['inventory', '60.0 ms']], 'inventory at its newest version');
  assert.equal(rows[0].version, '4.9.0-hotfix');
  assert.equal(await page.textContent('#filter-version option[value="latest"]'), 'Latest (4.9.0-hotfix)');

  await page.goto(`${base}/dashboard/performance?version=latest`);
  const all = await waitFor(async () => {
    const r = await tableRows();
    return r.some((x) => x.traceId === hotfix.traceId) ? r : null;
  }, 'every service at its newest version');
  assert.deepEqual(all.filter((r) => r.version !== newest[r.service]), [], 'no row of an older version');
  assert.ok(all.some((r) => r.service === 'frontend'), 'frontend, whose version is not the highest, is listed');
  assert.equal(query().get('version'), 'latest');
  assert.equal(await page.textContent('#filter-version option[value="latest"]'), 'Latest of each service');
});

test('the browser console stayed free of errors', () => {
  assert.deepEqual(consoleErrors, []);
});

test('API errors are shown with the server\'s message', async () => {
  const other = await browser.newPage();
  try {
    await other.goto(`${base}/dashboard/performance?trace=${'0'.repeat(31)}x`);
    const box = other.locator('.notice-error');
    await box.waitFor();
    const text = await box.textContent();
    // The server's JSON error message, whatever its words, follows the status.
    assert.match(text, /Could not load the trace\.\s*GET \/api\/v1\/traces\/\S+: 400 \S/);
    await other.goto(`${base}/dashboard/performance?trace=${'ab'.repeat(16)}`);
    await other.locator('.notice-error').waitFor();
    assert.match(await other.textContent('.notice-error'), /Trace not found\.\s*GET \/api\/v1\/traces\/\S+: 404/);
  } finally {
    await other.close();
  }
});
