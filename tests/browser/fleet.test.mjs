// fleet.test.mjs - the Overview (fleet) view of the Performance dashboard in
// a real Chromium against a real `hotpath serve`: latency KPIs (4.1), error
// rate by type (4.2), throughput (4.3), the service comparison (4.5), the
// latency heatmap (4.6) and the latency distribution (4.13).
//
//   node --test --test-reporter=tap tests/browser/fleet.test.mjs
//
// HOTPATH_BIN names the binary (default build/hotpath).  The test starts the
// server on a free loopback port with an empty data directory, sends 430
// requests with known durations and errors spread over the last 30 minutes
// as OTLP/JSON, and checks what the page shows against the API's own answers
// and against the exact percentiles of the durations sent.  Screenshot:
// build/screenshots/fleet.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { SHOTS, closeAll, getApi, launchPage, postOtlpJson, sleep, startHotpath, waitFor } from './lib/harness.mjs';
import { fmtDuration } from '../../web/lib/format.js';

let hotpath = null;
let base = null;
let browser = null;
let page = null;
let consoleErrors = [];

// --- the data --------------------------------------------------------------------

const hex = (bytes) => randomBytes(bytes).toString('hex');
const NOW_MS = Date.now();
const msNs = (ms) => BigInt(Math.round(ms * 1e6));

function attrValue(v) {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Number.isInteger(v)) return { intValue: String(v) };
  return { doubleValue: v };
}
const attrs = (obj) => Object.entries(obj).map(([key, v]) => ({ key, value: attrValue(v) }));

// A deterministic generator, so a failure can be reproduced.
let seed = 20240611;
function random() {
  seed = (seed * 48271) % 2147483647;
  return seed / 2147483647;
}
// Log-normal durations around a median, rounded to the microsecond.
function duration(median, spread) {
  const u = Math.max(1e-9, random());
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return Math.round(median * Math.exp(spread * z) * 1000) / 1000;
}

const VERSIONS = { frontend: '3.1.0', orders: '2.4.0', payments: '1.9.2', inventory: '5.0.1' };
// Per service: how many production requests, their median and spread, and
// which of them fail (every n-th) and how.
const PLAN = {
  frontend: { n: 150, median: 120, spread: 0.6, route: '/checkout' },
  orders: { n: 120, median: 60, spread: 0.5, route: '/api/orders', failEvery: 10, fail: 'http500' },
  payments: { n: 90, median: 250, spread: 0.7, route: '/api/charge', failEvery: 6, fail: 'declined' },
  inventory: { n: 40, median: 20, spread: 0.4, route: '/api/stock/{sku}', failEvery: 8, fail: 'timeout' },
};
const WINDOW_MS = 28 * 60000; // requests start between 29 and 1 minutes ago

// One request: an entry (SERVER) span and a child (CLIENT) span, which must
// not count as a request.
function makeRequest(svc, env, agoMs, ms, failure) {
  const traceId = hex(16);
  const rootId = hex(8);
  const t0 = BigInt(Math.round(NOW_MS - agoMs)) * 1000000n;
  const rootAttrs = { 'http.request.method': 'GET', 'http.route': PLAN[svc].route, 'http.response.status_code': 200 };
  let status = { code: 1 };
  const events = [];
  if (failure === 'http500') {
    rootAttrs['http.response.status_code'] = 500;
    status = { code: 2, message: 'internal error' };
  } else if (failure === 'declined') {
    rootAttrs['http.response.status_code'] = 402;
    status = { code: 2, message: 'card declined' };
    events.push({
      timeUnixNano: String(t0 + msNs(ms / 2)), name: 'exception',
      attributes: attrs({ 'exception.type': 'CardDeclinedError', 'exception.message': 'card declined by issuer' }),
    });
  } else if (failure === 'timeout') {
    rootAttrs['error.type'] = 'timeout';
    status = { code: 2, message: 'upstream timed out' };
  }
  const root = {
    traceId, spanId: rootId, parentSpanId: '', name: `GET ${PLAN[svc].route}`, kind: 2,
    startTimeUnixNano: String(t0), endTimeUnixNano: String(t0 + msNs(ms)),
    attributes: attrs(rootAttrs), status, events,
  };
  const child = {
    traceId, spanId: hex(8), parentSpanId: rootId, name: 'SELECT 1', kind: 3,
    startTimeUnixNano: String(t0 + msNs(ms * 0.1)), endTimeUnixNano: String(t0 + msNs(ms * 0.6)),
    attributes: attrs({ 'db.system.name': 'postgresql' }), status: { code: 0 },
  };
  return { svc, env, ms, failure, spans: [root, child] };
}

const requests = [];
for (const [svc, plan] of Object.entries(PLAN)) {
  for (let i = 0; i < plan.n; i++) {
    const ago = 60000 + ((i + random()) / plan.n) * WINDOW_MS;
    const failure = plan.failEvery && i % plan.failEvery === plan.failEvery - 1 ? plan.fail : null;
    requests.push(makeRequest(svc, 'production', ago, duration(plan.median, plan.spread), failure));
  }
}
// Staging: slow requests that the dashboard's default environment
// (production) leaves out.
for (let i = 0; i < 30; i++) {
  requests.push(makeRequest('inventory', 'staging', 60000 + (i / 30) * WINDOW_MS, duration(2500, 0.3), null));
}
const production = requests.filter((r) => r.env === 'production');

function otlpRequest(batch) {
  return {
    resourceSpans: batch.map((r) => ({
      resource: {
        attributes: attrs({
          'service.name': r.svc, 'service.version': VERSIONS[r.svc],
          'deployment.environment.name': r.env, 'host.name': `${r.svc}-1`,
        }),
      },
      scopeSpans: [{ scope: { name: 'hotpath-fleet-test', version: '1.0.0' }, spans: r.spans }],
    })),
  };
}

// The exact q-quantile as the sketch defines it: the value of rank
// ceil(q × n) (1-based) of the sorted durations.
function exactQuantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

// --- helpers ---------------------------------------------------------------------

const postTraces = (batch) => postOtlpJson(base, otlpRequest(batch));

const api = (path, params) => getApi(base, path, params);

const query = () => new URL(page.url()).searchParams;
const OVERVIEW = () => `${base}/dashboard/performance?view=overview&range=1h`;
// What the page asks the API with by default: the last hour, production.
const DEFAULTS = { range: '1h', env: 'production' };

async function panelState(p, id) {
  return p.getAttribute(`#panel-${id}`, 'data-state');
}

// Waits until every panel is in one of `states` (a panel in the error state
// when that is not wanted fails at once, with its message).
async function waitForPanels(p, ids, states = ['ready']) {
  for (const id of ids) {
    await waitFor(async () => {
      const s = await panelState(p, id);
      if (s === 'error' && !states.includes('error')) {
        throw Object.assign(new Error(`panel ${id}: ${await p.textContent(`#panel-${id} .panel-body`)}`), { fatal: true });
      }
      return states.includes(s);
    }, `panel ${id} ${states.join('|')}`);
  }
}

const ALL_PANELS = ['kpi', 'throughput', 'errors', 'heatmap', 'distribution', 'compare'];

async function kpis(p) {
  return p.$$eval('.kpi', (ks) => Object.fromEntries(ks.map((k) => {
    const v = k.querySelector('.kpi-value');
    return [k.dataset.kpi, { text: v.textContent.trim(), value: v.dataset.value }];
  })));
}

function assertWithinBound(got, exact, what) {
  assert.ok(Math.abs(got - exact) <= 0.01 * exact + 1e-9,
    `${what}: the dashboard shows ${got} ms, the exact value is ${exact} ms (more than 1% apart)`);
}

// --- setup -----------------------------------------------------------------------

before(async () => {
  hotpath = await startHotpath('hotpath-fleet-');
  base = hotpath.base;

  for (let i = 0; i < requests.length; i += 100) await postTraces(requests.slice(i, i + 100));

  ({ browser, page, consoleErrors } = await launchPage({ width: 1440, height: 1300 }));
});

after(() => closeAll(browser, hotpath));

// --- the tests ---------------------------------------------------------------------

test('the Overview asks each endpoint once and does not poll', async () => {
  const asked = [];
  const onRequest = (req) => {
    const u = new URL(req.url());
    if (u.pathname.startsWith('/api/v1/performance/')) asked.push(`${u.pathname.slice(20)}${u.searchParams.get('kind') ? `:${u.searchParams.get('kind')}` : ''}`);
  };
  page.on('request', onRequest);
  try {
    await page.goto(OVERVIEW());
    await waitForPanels(page, ALL_PANELS);
    await sleep(1500);
  } finally {
    page.off('request', onRequest);
  }
  assert.deepEqual(asked.sort(), ['compare', 'distribution', 'heatmap:percentile', 'summary', 'timeseries']);
  assert.equal(await page.getAttribute('#auto-refresh', 'aria-pressed'), 'false');
});

test('the latency KPIs are the API summary, within 1% of the exact percentiles', async () => {
  const sum = await api('/api/v1/performance/summary', DEFAULTS);
  assert.equal(sum.count, production.length, 'the API counts every production request once');
  const shown = await kpis(page);
  const durations = production.map((r) => r.ms);
  for (const [key, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]]) {
    const v = sum[`${key}_ms`];
    assert.equal(shown[key].value, String(v), `${key}: the page's value is the API's`);
    assert.equal(shown[key].text, fmtDuration(v), `${key} as printed`);
    assertWithinBound(Number(shown[key].value), exactQuantile(durations, q), key);
  }
  assert.equal(shown.count.text, production.length.toLocaleString('en-US'));
  const failed = production.filter((r) => r.failure).length;
  assert.ok(Math.abs(sum.error_rate - failed / production.length) < 1e-9, `error rate ${sum.error_rate}`);
  assert.equal(shown.error_rate.text, `${((failed / production.length) * 100).toFixed(2)} %`);
  assert.match(await page.textContent('#panel-kpi'), /±1% error bound/);
  // what is counted: each trace once in the fleet, entry spans per service
  assert.match(await page.textContent('#panel-kpi'), /each trace once, at its edge request/);
  assert.match(await page.textContent('#panel-compare'), /each service's entry spans/);
  // The p95 sparkline has a point per non-empty minute.
  const points = Number(await page.getAttribute('#panel-kpi .sparkline', 'data-points'));
  assert.ok(points >= 20 && points <= 31, `p95 sparkline points: ${points}`);
  await page.screenshot({ path: join(SHOTS, 'fleet.png'), fullPage: true });
});

test('throughput has one bar per time bucket and sums to the requests sent', async () => {
  const ts = await api('/api/v1/performance/timeseries', DEFAULTS);
  const step = ts.step_s * 1000;
  assert.equal(ts.step_s, 60, 'minute buckets for the last hour');
  const expected = Math.floor(ts.to_ms / step) - Math.floor(ts.from_ms / step) + (ts.to_ms % step ? 1 : 0);
  assert.equal(ts.times_ms.length, expected, 'the API has a bucket per minute of the range');
  const bars = await page.$$eval('#panel-throughput .tc-bar', (rs) => rs.map((r) => Number(r.dataset.v)));
  assert.equal(bars.length, ts.times_ms.length, 'one bar per bucket');
  assert.ok(bars.length >= 60 && bars.length <= 61, `${bars.length} bars for an hour of minutes`);
  const total = bars.reduce((a, v) => a + v * ts.step_s, 0);
  assert.ok(Math.abs(total - production.length) < 0.5, `the bars add up to ${total} requests, sent ${production.length}`);
  // Nothing was sent in the first half hour.
  assert.ok(bars.slice(0, 25).every((v) => v === 0), 'the first half hour is empty');
  assert.match(await page.textContent('#panel-throughput .axis-unit'), /req\/s/);
});

test('the error rate is stacked by error type', async () => {
  const sum = await api('/api/v1/performance/summary', DEFAULTS);
  const legend = await page.$$eval('#panel-errors .chart-legend li', (ls) => ls.map((l) => l.textContent.trim()));
  assert.deepEqual(legend.sort(), sum.errors_by_type.map((t) => t.type).sort());
  assert.equal(legend.length, 3, `three kinds of failure: ${legend}`);
  assert.equal(await page.$$eval('#panel-errors .tc-series', (gs) => gs.length), 3);
  assert.match(await page.textContent('#panel-errors .axis-unit'), /%/);
});

test('the comparison table lists every service with its count', async () => {
  const rows = await page.$$eval('.compare-table tbody tr', (trs) => trs.map((tr) => ({
    key: tr.dataset.key, count: tr.querySelector('.col-count').textContent.trim(),
    trend: Number(tr.querySelector('.sparkline').dataset.points),
  })));
  const want = Object.entries(PLAN).map(([svc, p]) => ({ key: svc, count: String(p.n) }))
    .sort((a, b) => Number(b.count) - Number(a.count));
  assert.deepEqual(rows.map(({ key, count }) => ({ key, count })), want);
  for (const r of rows) assert.ok(r.trend > 0, `${r.key} has a p95 trend`);
  const cmp = await api('/api/v1/performance/compare', { ...DEFAULTS, by: 'service' });
  assert.deepEqual(cmp.rows.map((r) => [r.key, r.count]), want.map((w) => [w.key, Number(w.count)]));
});

test('the percentile heatmap and the latency heatmap draw a cell per value', async () => {
  const hm = await api('/api/v1/performance/heatmap', { ...DEFAULTS, kind: 'percentile' });
  const values = Object.values(hm.percentiles).flat().filter((v) => v != null && v > 0).length;
  assert.ok(values > 0);
  assert.equal(await page.$$eval('#panel-heatmap .hm-cell', (cs) => cs.length), values, 'percentile cells');
  assert.ok(await page.isVisible('#panel-heatmap .heat-legend-bar'), 'a colour legend');

  await page.click('#panel-heatmap .seg-btn[data-kind="latency"]');
  await waitFor(async () => (await page.getAttribute('#panel-heatmap .chart-box', 'data-kind')) === 'latency', 'the latency heatmap');
  assert.equal(query().get('heatmap'), 'latency');
  const lat = await api('/api/v1/performance/heatmap', { ...DEFAULTS, kind: 'latency' });
  const nonzero = lat.counts.flat().filter((v) => v > 0).length;
  assert.equal(await page.$$eval('#panel-heatmap .hm-cell', (cs) => cs.length), nonzero, 'latency cells');
  assert.equal(lat.counts.flat().reduce((a, v) => a + v, 0), production.length);
});

test('the histogram has a bar per bin and the percentile markers', async () => {
  const dist = await api('/api/v1/performance/distribution', DEFAULTS);
  const bars = await page.$$eval('#panel-distribution .hist-bar', (rs) => rs.map((r) => Number(r.dataset.count)));
  assert.equal(bars.length, dist.bins.length);
  assert.deepEqual(bars, dist.bins.map((b) => b.count));
  assert.equal(bars.reduce((a, v) => a + v, 0), production.length);
  const markers = await page.$$eval('#panel-distribution .hist-marker', (ms) => ms.map((m) => m.textContent));
  assert.deepEqual(markers, [`p50 ${fmtDuration(dist.p50_ms)}`, `p95 ${fmtDuration(dist.p95_ms)}`, `p99 ${fmtDuration(dist.p99_ms)}`]);
  assert.match(await page.textContent('#panel-distribution'), /log scale/);
  await page.hover('#panel-distribution .hist-overlay');
  await page.waitForSelector('.chart-tip:not([hidden])');
  assert.match(await page.textContent('.chart-tip'), /Requests/);
  await page.mouse.move(0, 0);
});

test('hovering the throughput shows the bucket\'s exact values', async () => {
  const bars = page.locator('#panel-throughput .tc-bar');
  const n = await bars.count();
  const last = await bars.nth(n - 3).boundingBox();
  const overlay = await page.locator('#panel-throughput .tc-overlay').boundingBox();
  await page.mouse.move(last.x + last.width / 2, overlay.y + overlay.height / 2);
  await page.waitForSelector('.chart-tip:not([hidden])');
  assert.match(await page.textContent('.chart-tip'), /\d\d:\d\d–\d\d:\d\d.*Throughput.*req\/s.*Requests/s);
  await page.mouse.move(0, 0);
});

test('a comparison row sets the service filter and the KPIs follow it', async () => {
  const before = await kpis(page);
  await page.click('.compare-table tbody tr[data-key="payments"]');
  await waitFor(async () => query().get('service') === 'payments', 'service=payments in the URL');
  assert.equal(await page.inputValue('#filter-service'), 'payments');
  await waitForPanels(page, ALL_PANELS);
  const sum = await api('/api/v1/performance/summary', { ...DEFAULTS, service: 'payments' });
  await waitFor(async () => (await kpis(page)).p50.value === String(sum.p50_ms), 'the payments KPIs');
  const after = await kpis(page);
  assert.notEqual(after.p50.value, before.p50.value, 'the p50 changed');
  assert.equal(after.count.text, String(PLAN.payments.n));
  const durations = production.filter((r) => r.svc === 'payments').map((r) => r.ms);
  for (const [key, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]]) {
    assert.equal(after[key].value, String(sum[`${key}_ms`]));
    assertWithinBound(Number(after[key].value), exactQuantile(durations, q), `payments ${key}`);
  }
  const rows = await page.$$eval('.compare-table tbody tr', (trs) => trs.map((tr) => tr.dataset.key));
  assert.deepEqual(rows, ['payments']);
  // Clicking the selected row again clears the filter.
  await page.click('.compare-table tbody tr[data-key="payments"]');
  await waitFor(async () => query().get('service') === null, 'no service filter');
  await waitFor(async () => (await kpis(page)).p50.value === before.p50.value, 'the fleet KPIs again');
});

test('the environment filter reaches every chart', async () => {
  await page.selectOption('#filter-env', 'staging');
  await waitForPanels(page, ALL_PANELS, ['ready', 'empty']);
  const sum = await api('/api/v1/performance/summary', { range: '1h', env: 'staging' });
  assert.equal(sum.count, 30);
  await waitFor(async () => (await kpis(page)).count.text === '30', 'the staging requests');
  const rows = await page.$$eval('.compare-table tbody tr', (trs) => trs.map((tr) => tr.dataset.key));
  assert.deepEqual(rows, ['inventory']);
  assert.equal((await kpis(page)).p50.value, String(sum.p50_ms));
  // Staging had no failures: the error chart says so instead of drawing zeros.
  assert.equal(await panelState(page, 'errors'), 'empty');
  assert.match(await page.textContent('#panel-errors'), /No failed requests/);
});

test('auto refresh reloads the charts without a reload of the page', async () => {
  await page.goto(OVERVIEW());
  await waitForPanels(page, ALL_PANELS);
  await page.click('#auto-refresh');
  await waitFor(async () => query().get('refresh') === '5s', 'refresh=5s in the URL');
  const late = makeRequest('frontend', 'production', 5000, 42, null);
  await postTraces([late]);
  const want = (production.length + 1).toLocaleString('en-US');
  await waitFor(async () => (await kpis(page)).count.text === want, 'the new request in the KPIs', 15000);
  await waitFor(async () => (await page.textContent('.compare-table tr[data-key="frontend"] .col-count')) === String(PLAN.frontend.n + 1),
    'the new request in the table', 15000);
  await page.click('#auto-refresh');
  await waitFor(async () => query().get('refresh') === null, 'refresh off');
});

test('a filter nothing matches gives every chart an empty state', async () => {
  await page.goto(`${OVERVIEW()}&service=nothing-here`);
  await waitForPanels(page, ALL_PANELS, ['empty']);
  assert.match(await page.textContent('#panel-kpi'), /No requests/);
});

test('the browser console stayed free of errors', () => {
  assert.deepEqual(consoleErrors, []);
});

test('a failing request shows the API\'s error message in each chart', async () => {
  const other = await browser.newPage();
  try {
    // The URL carries a value the filter bar would refuse; the API answers 400.
    await other.goto(`${OVERVIEW()}&min_duration_ms=fast`);
    await waitForPanels(other, ALL_PANELS, ['error']);
    const text = await other.textContent('#panel-kpi .notice-error');
    assert.match(text, /Could not load the latency summary\.\s*GET \/api\/v1\/performance\/summary: 400 \S.*min_duration_ms/);
    assert.match(await other.textContent('#panel-compare .notice-error'), /performance\/compare: 400/);
  } finally {
    await other.close();
  }
});
