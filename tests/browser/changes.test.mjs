// changes.test.mjs - the Changes view in a real Chromium against a real
// `hotpath serve`: a service switches to a 30 % slower version half-way
// through the last hour (and runs in staging too).  The timeline must draw
// the deployment's marker and list the p95 change point with its version,
// its "Flame diff" must open the differential flame graph of the two
// versions, the version benchmark must show the gate's failing verdict,
// and parity the environments, each as the API answers.
//
//   node --test --test-reporter=tap tests/browser/changes.test.mjs
//
// Screenshots go to build/screenshots/changes-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

import { SHOTS, closeAll, getApi, launchPage, postOtlpJson, startHotpath, waitFor } from './lib/harness.mjs';
import { gaussian, rng } from '../e2e/lib/random.mjs';

const MIN_NS = 60_000_000_000n;
const MINUTES = 50;
const SWITCH = 25;

let hotpath = null;
let base = null;
let browser = null;
let page = null;
let consoleErrors = [];
let switchMs = 0;

const kv = (o) => Object.entries(o).map(([key, v]) => ({ key, value: { stringValue: v } }));

function request(env, version, spans) {
  return {
    resourceSpans: [{
      resource: { attributes: kv({ 'service.name': 'shop', 'deployment.environment.name': env, 'service.version': version }) },
      scopeSpans: [{ scope: { name: 'browser-test' }, spans }],
    }],
  };
}

// A request: a SERVER span and a db child, so the flame graph has frames.
function spansOf(start, ms) {
  const traceId = randomBytes(16).toString('hex'), root = randomBytes(8).toString('hex');
  const end = start + BigInt(Math.round(ms * 1e6));
  const dbEnd = start + BigInt(Math.round(ms * 0.7e6));
  return [
    { traceId, spanId: root, name: 'GET /api/items', kind: 2, startTimeUnixNano: String(start), endTimeUnixNano: String(end), attributes: kv({ 'http.request.method': 'GET', 'http.route': '/api/items' }) },
    { traceId, spanId: randomBytes(8).toString('hex'), parentSpanId: root, name: 'SELECT items', kind: 3, startTimeUnixNano: String(start), endTimeUnixNano: String(dbEnd), attributes: kv({ 'db.system': 'postgresql' }) },
  ];
}

before(async () => {
  hotpath = await startHotpath('hotpath-changes-');
  base = hotpath.base;
  const rand = rng(11);
  const gauss = () => gaussian(rand);
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const t0 = (nowNs - BigInt(MINUTES + 2) * MIN_NS) / MIN_NS * MIN_NS;
  switchMs = Number((t0 + BigInt(MINUTES - SWITCH) * MIN_NS) / 1_000_000n);
  const sides = { 'production 1.0.0': [], 'production 1.1.0': [], 'staging 1.0.0': [] };
  for (let m = 0; m < MINUTES; m++) {
    const newer = m >= MINUTES - SWITCH;
    for (let i = 0; i < 40; i++) {
      const start = t0 + BigInt(m) * MIN_NS + BigInt(i) * 1_500_000_000n;
      sides[`production ${newer ? '1.1.0' : '1.0.0'}`].push(...spansOf(start, 100 * Math.exp(0.3 * gauss()) * (newer ? 1.3 : 1)));
      if (i % 4 === 0) sides['staging 1.0.0'].push(...spansOf(start, 100 * Math.exp(0.3 * gauss())));
    }
  }
  for (const [key, spans] of Object.entries(sides)) {
    const [env, version] = key.split(' ');
    await postOtlpJson(base, request(env, version, spans));
  }
  ({ browser, page, consoleErrors } = await launchPage({ width: 1440, height: 1200 }));
});

after(() => closeAll(browser, hotpath));

const api = (path, params) => getApi(base, path, params);

async function ready(panelId) {
  await page.waitForSelector(`#panel-${panelId}[data-state="ready"], #panel-${panelId}[data-state="error"], #panel-${panelId}[data-state="empty"]`, { timeout: 20000 });
  assert.equal(await page.getAttribute(`#panel-${panelId}`, 'data-state'), 'ready', await page.textContent(`#panel-${panelId}`));
}

const SCOPE = { range: '1h', env: 'production', service: 'shop' };

test('the timeline marks the deployment and lists the change point with its version', async () => {
  await page.goto(`${base}/dashboard/performance?view=changes&${new URLSearchParams(SCOPE)}`);
  await ready('timeline');
  const want = await api('/api/v1/regressions', SCOPE);
  const p95 = want.changes.filter((c) => c.measure === 'p95_ms');
  assert.ok(p95.some((c) => c.deployment?.version === '1.1.0'), `the API finds the change: ${JSON.stringify(want.changes)}`);
  const markers = await page.$$eval('#panel-timeline .deploy-marker', (els) => els.map((e) => e.dataset.version));
  assert.ok(markers.includes('1.1.0'), `deployment markers: ${markers}`);
  const rows = await page.$$eval('#panel-timeline .changes-table tbody tr', (trs) => trs.map((tr) => ({ id: tr.dataset.id, text: tr.textContent })));
  assert.deepEqual(rows.map((r) => r.id).sort(), [...want.changes, ...want.time_based, ...want.versions].map((c) => c.id).sort());
  assert.ok(want.versions.some((v) => v.candidate === '1.1.0' && v.baseline === '1.0.0' && v.gate === 'fail'), JSON.stringify(want.versions));
  const row = rows.find((r) => r.id === p95.find((c) => c.deployment?.version === '1.1.0').id);
  assert.match(row.text, /1\.1\.0/);
  assert.equal(await page.locator('#panel-timeline .change-marker').count(), p95.filter((c) => !c.endpoint).length);
  await page.screenshot({ path: join(SHOTS, 'changes-timeline.png'), fullPage: true });
});

test('the version benchmark shows the gate failing 1.1.0 against 1.0.0', async () => {
  await ready('versions');
  const gate = await api('/api/v1/versions/gate', { ...SCOPE, baseline: '1.0.0', candidate: '1.1.0', max_p95_increase: '10%' });
  assert.equal(gate.status, 'fail');
  await waitFor(async () => (await page.getAttribute('.version-verdict', 'data-status')) === 'fail', `the verdict (${await page.textContent('.version-verdict')})`);
  assert.ok((await page.textContent('.version-verdict')).startsWith(gate.summary));
  const versions = await page.$$eval('.versions-table tbody tr', (trs) => trs.map((tr) => tr.dataset.version));
  assert.deepEqual(versions, ['1.1.0', '1.0.0'], 'newest first');
  // p95 over time, a line per version, with the deployment's marker
  const lines = await page.$$eval('#panel-versions .p95-line', (els) => els.map((e) => e.dataset.label));
  assert.deepEqual(lines, ['1.1.0', '1.0.0']);
  const markers = await page.$$eval('#panel-versions .deploy-marker', (els) => els.map((e) => e.dataset.version));
  assert.ok(markers.includes('1.1.0'), `markers: ${markers}`);
  await page.locator('#panel-versions').screenshot({ path: join(SHOTS, 'changes-versions.png') });
});

test('parity lists production and staging, production as the reference', async () => {
  await ready('parity');
  const envs = await page.$$eval('.parity-table tbody tr', (trs) => trs.map((tr) => tr.dataset.env));
  assert.deepEqual(envs, ['production', 'staging']);
});

test('"Flame diff" opens the differential flame graph of the two versions', async () => {
  const id = (await api('/api/v1/regressions', SCOPE)).changes.find((c) => c.measure === 'p95_ms' && c.deployment?.version === '1.1.0').id;
  await page.click(`#panel-timeline tr[data-id="${id}"] .drill-flame`);
  await waitFor(async () => new URL(page.url()).searchParams.get('view') === 'flame', 'the flame view');
  const q = new URL(page.url()).searchParams;
  assert.deepEqual([q.get('fmode'), q.get('fby'), q.get('fbase'), q.get('fcompare'), q.get('service')], ['compare', 'version', '1.0.0', '1.1.0', 'shop']);
  await waitFor(async () => (await page.getAttribute('.flame-body', 'data-state')) === 'ready', 'the differential flame graph', 20000);
  await page.screenshot({ path: join(SHOTS, 'changes-flame-diff.png') });
  assert.deepEqual(consoleErrors, []);
});
