// resources.test.mjs - the Resources view in a real Chromium against a real
// `hotpath serve` loaded with the demo's history (`hotpath demo --backfill
// 3`, docs/DEMO.md): the heatmaps draw the rows and cells the API answers,
// the hour-of-week grid fills the hours the API has values for, the pool
// chart draws used and max, the runtime charts draw the heap, GC and
// event-loop series a Node service sends (posted here: the demo sends none),
// and a filter that selects nothing shows what to send instead of an empty
// chart.
//
//   node --test --test-reporter=tap tests/browser/resources.test.mjs
//
// Screenshots go to build/screenshots/resources-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { SHOTS, closeAll, getApi, startDemoPage } from './lib/harness.mjs';

let hotpath = null;
let base = null;
let browser = null;
let page = null;
let consoleErrors = [];

// The dashboard's defaults: the last 24 h of the production environment.
const SCOPE = { range: '24h', env: 'production' };

before(async () => {
  ({ hotpath, base, browser, page, consoleErrors } = await startDemoPage('hotpath-resources-', { width: 1440, height: 1400 }));
});

after(() => closeAll(browser, hotpath));

const api = (path, params) => getApi(base, path, params);

async function settled(panelId) {
  await page.waitForSelector(`#panel-${panelId}:not([data-state="loading"])`);
  return page.getAttribute(`#panel-${panelId}`, 'data-state');
}

test('the heatmaps draw one row per instance or pool and a cell per value of the API', async () => {
  await page.goto(`${base}/dashboard/performance?view=resources`);
  for (const kind of ['cpu', 'memory', 'pool', 'db']) {
    assert.equal(await settled(`res-${kind}`), 'ready', await page.textContent(`#panel-res-${kind}`));
    const want = await api('/api/v1/performance/heatmap', { ...SCOPE, kind });
    assert.ok(want.rows.length > 0, `the demo sends ${kind} metrics`);
    const cells = want.rows.reduce((n, r) => n + r.values.filter((v) => v != null && v !== 0).length, 0);
    const drawn = Number(await page.getAttribute(`#panel-res-${kind} svg`, 'data-cells'));
    assert.equal(drawn, cells, `${kind}: cells drawn = non-empty cells answered`);
    const labels = await page.$$eval(`#panel-res-${kind} .axis-y text`, (ts) => ts.length);
    assert.equal(labels, want.rows.length, `${kind}: one labelled row per ${want.by}`);
  }
  await page.screenshot({ path: join(SHOTS, 'resources-view.png'), fullPage: true });
});

test('latency with the CPU and pool strips beneath, step for step', async () => {
  assert.equal(await settled('res-strip'), 'ready', await page.textContent('#panel-res-strip'));
  const lat = await api('/api/v1/performance/timeseries', SCOPE);
  const cpu = await api('/api/v1/metrics/query', { ...SCOPE, measure: 'cpu', step: `${lat.step_s}s` });
  assert.equal(cpu.step_s, lat.step_s);
  const buckets = async (which) => Number(await page.getAttribute(`#panel-res-strip [data-strip="${which}"] svg`, 'data-buckets'));
  assert.equal(await buckets('latency'), lat.times_ms.length, 'a latency bucket per step');
  assert.equal(await buckets('cpu'), cpu.times_ms.length, 'a CPU bucket per step');
  assert.equal(await buckets('pool'), cpu.times_ms.length, 'the demo has pools: their strip too');
});

test('the hour-of-week grid colours the hours the API has values for', async () => {
  assert.equal(await settled('res-tod'), 'ready');
  const want = await api('/api/v1/performance/heatmap', { ...SCOPE, kind: 'cpu', layout: 'time-of-day' });
  const known = want.values.flat().filter((v) => v != null).length;
  assert.ok(known >= 3, `three hours of history fill at least three hours (${known})`);
  const filled = await page.$$eval('#panel-res-tod td.tod-cell', (tds) => tds.filter((td) => td.dataset.v !== '').length);
  assert.equal(filled, known);
  await page.selectOption('#panel-res-tod select', 'pool');
  await page.waitForFunction(() => document.querySelector('#panel-res-tod table')?.getAttribute('aria-label')?.startsWith('pool'));
  const pool = await api('/api/v1/performance/heatmap', { ...SCOPE, kind: 'pool', layout: 'time-of-day' });
  const cells = await page.$$eval('#panel-res-tod td.tod-cell', (tds) => tds.map((td) => td.dataset.v).filter((v) => v !== ''));
  assert.deepEqual(cells.map(Number), pool.values.flat().filter((v) => v != null));
});

test('per-service CPU and the pools against their maximum are drawn from the API', async () => {
  assert.equal(await settled('res-services'), 'ready');
  const svc = await api('/api/v1/metrics/query', { ...SCOPE, measure: 'cpu', group_by: 'service' });
  const legend = await page.$$eval('#panel-res-services .legend li, #panel-res-services .chart-legend li', (l) => l.length);
  assert.equal(legend, Math.min(8, svc.lines.length));
  assert.equal(await settled('res-pools'), 'ready');
  const text = await page.textContent('#panel-res-pools');
  const used = await api('/api/v1/metrics/query', { ...SCOPE, measure: 'pool_used', group_by: 'pool' });
  assert.ok(text.includes(`${used.lines[0].key} used`) && text.includes(`${used.lines[0].key} max`), text);
});

test('the slow requests show their service\'s CPU and pool at their start', async () => {
  // what the view's own request answered, and what its cells show
  const answered = page.waitForResponse((r) => r.url().includes('/api/v1/slow-requests?') && !r.url().includes('format=csv'));
  await page.goto(`${base}/dashboard/performance?view=slow`);
  const want = await (await answered).json();
  await page.waitForSelector('#panel-slow-table[data-state="ready"]');
  const got = await page.$$eval('.slow-table tbody tr', (trs) => trs.map((tr) => ({
    id: `${tr.dataset.traceId}/${tr.dataset.spanId}`, cpu: tr.querySelector('.col-resources')?.dataset.cpu ?? null,
    title: tr.querySelector('.col-resources')?.title ?? '',
  })));
  const byId = new Map(want.requests.map((r) => [`${r.trace_id}/${r.span_id}`, r]));
  let withCpu = 0;
  for (const g of got) {
    const r = byId.get(g.id);
    assert.ok(r, `row ${g.id} is in the view's answer`);
    const cpu = r.resources?.cpu_utilization;
    if (cpu == null) {
      assert.ok(g.cpu == null || g.cpu === '', `${g.id}: no CPU in the answer, none shown`);
    } else {
      assert.equal(Number(g.cpu), cpu, `${g.id}: the answer's CPU ${JSON.stringify(r.resources)} ${JSON.stringify(g)}`);
      if (r.resources.memory_bytes != null) assert.match(g.title, /memory \d/, g.title);
      withCpu++;
    }
  }
  assert.ok(withCpu > 0, 'the demo\'s services report CPU near their slow requests');
});

// A Node service's runtime metrics, as @opentelemetry/instrumentation-runtime-node
// names them, over the last ten minutes: heap in two spaces (10 + 40 MiB) under a
// 256 MiB limit, a p99 event-loop delay of 12 ms, GC pauses of 4 ms each.
const RUNTIME_SERVICE = 'runtime-node';

async function postRuntime() {
  const now = Date.now();
  const ns = (ms) => String(BigInt(ms) * 1000000n);
  const times = Array.from({ length: 20 }, (_, i) => now - (20 - i) * 30000);
  const attr = (key, v) => ({ key, value: { stringValue: v } });
  const gauge = (name, unit, value, attributes = []) => ({ name, unit, gauge: { dataPoints: times.map((t) => ({ timeUnixNano: ns(t), asDouble: value, attributes })) } });
  const start = now - 700000;
  const gc = { name: 'v8js.gc.duration', unit: 's', histogram: { aggregationTemporality: 2, dataPoints: times.map((t) => ({
    startTimeUnixNano: ns(start), timeUnixNano: ns(t), count: String((t - start) / 1000), sum: ((t - start) / 1000) * 0.004,
    bucketCounts: [], explicitBounds: [] })) } };
  const body = { resourceMetrics: [{
    resource: { attributes: [attr('service.name', RUNTIME_SERVICE), attr('deployment.environment.name', 'production'), attr('service.instance.id', `${RUNTIME_SERVICE}-1`)] },
    scopeMetrics: [{ metrics: [
      gauge('v8js.memory.heap.used', 'By', 10485760, [attr('v8js.heap.space.name', 'new_space')]),
      gauge('v8js.memory.heap.limit', 'By', 268435456),
      gauge('nodejs.eventloop.delay.p99', 's', 0.012),
      gc,
    ] }, { metrics: [gauge('v8js.memory.heap.used', 'By', 41943040, [attr('v8js.heap.space.name', 'old_space')])] }] }] };
  const res = await fetch(`${base}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.text());
}

test('the runtime charts: heap against its limit, GC pauses and event-loop delay, as the API answers them', async () => {
  await postRuntime();
  await page.goto(`${base}/dashboard/performance?view=resources`);
  assert.equal(await settled('res-runtime'), 'ready', await page.textContent('#panel-res-runtime'));
  const want = {};
  for (const [id, measure, value] of [['heap', 'heap', 52428800], ['gc', 'gc_pause', 4], ['loop', 'loop_delay', 12]]) {
    want[id] = await api('/api/v1/metrics/query', { ...SCOPE, measure, group_by: 'service' });
    const line = want[id].lines.find((l) => l.key === RUNTIME_SERVICE);
    assert.ok(line, `${measure}: a line for ${RUNTIME_SERVICE}`);
    const known = line.values.filter((v) => v != null);
    assert.ok(known.length > 0 && known.every((v) => Math.abs(v - value) < 1e-6 * value), `${measure}: ${known}`);
    const buckets = Number(await page.getAttribute(`#panel-res-runtime [data-runtime="${id}"] svg`, 'data-buckets'));
    assert.equal(buckets, want[id].times_ms.length, `${id}: a bucket per step of the answer`);
  }
  const text = await page.textContent('#panel-res-runtime');
  assert.ok(text.includes(`${RUNTIME_SERVICE} heap used`) && text.includes(`${RUNTIME_SERVICE} heap limit`), text);
  assert.match(text, /GC pause/);
  assert.match(text, /Event-loop delay/);
  await page.locator('#panel-res-runtime').screenshot({ path: join(SHOTS, 'resources-runtime.png') });
});

test('a filter that selects no producer says what to send', async () => {
  await page.goto(`${base}/dashboard/performance?view=resources&service=no-such-service`);
  assert.equal(await settled('res-cpu'), 'empty');
  const text = await page.textContent('#panel-res-cpu');
  assert.match(text, /process\.cpu\.utilization/);
  assert.equal(await settled('res-pool'), 'empty');
  assert.match(await page.textContent('#panel-res-pool'), /db\.client\.connection\.count/);
  assert.equal(await settled('res-runtime'), 'empty');
  assert.match(await page.textContent('#panel-res-runtime'), /v8js\.memory\.heap\.used/);
  assert.deepEqual(consoleErrors, []);
});
