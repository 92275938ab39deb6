// slos.test.mjs - the SLOs view in a real Chromium against a real `hotpath
// serve` (evaluating every second): the compliance grid's colours and
// budgets against the API's answer, the burn-down, the alert feed with its
// acknowledge action, and the SLO editor behind its confirmation dialog
// (cancel creates nothing; the server's refusal is shown in the form).
//
//   node --test --test-reporter=tap tests/browser/slos.test.mjs
//
// Screenshots go to build/screenshots/slos-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { join } from 'node:path';

import { SHOTS, closeAll, launchPage, postOtlpJson, startHotpath, waitFor } from './lib/harness.mjs';

let hotpath = null;
let base = null;
let browser = null;
let page = null;
let consoleErrors = [];

// `good` OK and `bad` failed one-span requests of `service`, ending now.
function requests(service, good, bad) {
  const end = BigInt(Date.now()) * 1000000n;
  const spans = [];
  for (let i = 0; i < good + bad; i++) {
    spans.push({
      traceId: crypto.randomBytes(16).toString('hex'), spanId: crypto.randomBytes(8).toString('hex'),
      name: 'GET /x', kind: 2, startTimeUnixNano: String(end - 30000000n), endTimeUnixNano: String(end),
      status: i < bad ? { code: 2 } : { code: 1 },
    });
  }
  return { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeSpans: [{ spans }] }] };
}

async function api(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method, headers: { 'Content-Type': 'application/json' }, body: body && JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

before(async () => {
  hotpath = await startHotpath('hotpath-slos-', ['--watch-interval', '1']);
  base = hotpath.base;
  // green 100 %, yellow 97 %, red 90 % (10x its 1 % budget: the 6x page holds)
  await postOtlpJson(base, requests('green', 100, 0));
  await postOtlpJson(base, requests('yellow', 97, 3));
  await postOtlpJson(base, requests('red', 90, 10));
  for (const [id, objective] of [['green', 99], ['yellow', 90], ['red', 99]]) {
    await api('POST', '/api/v1/slos', { id, name: `${id} availability`, kind: 'availability', objective, filters: { service: id } });
  }
  await waitFor(async () => (await api('GET', '/api/v1/alerts')).alerts.some((a) => a.id === 'slo:red:page' && a.state === 'firing'),
    'the red SLO pages', 15000);
  ({ browser, page, consoleErrors } = await launchPage({ width: 1440, height: 1000 }));
});

after(() => closeAll(browser, hotpath));

const cards = () => page.$$eval('.slo-card', (cs) => cs.map((c) => ({
  id: c.dataset.slo, cls: c.className, compliance: c.querySelector('.slo-compliance').textContent,
  budget: c.querySelector('.slo-budget').textContent,
})));

test('the compliance grid: a card per SLO, coloured by compliance, with the API\'s budget', async () => {
  await page.goto(`${base}/dashboard/performance?view=slos`);
  await page.waitForSelector('.slo-card');
  const want = (await api('GET', '/api/v1/slos')).slos;
  const got = await cards();
  assert.deepEqual(got.map((c) => c.id), want.map((s) => s.id));
  const colour = { green: 'slo-green', yellow: 'slo-yellow', red: 'slo-red' };
  for (const c of got) {
    const s = want.find((x) => x.id === c.id);
    assert.ok(c.cls.includes(colour[c.id]), `${c.id}: ${c.cls} (compliance ${s.status.compliance})`);
    assert.equal(c.compliance, `${s.status.compliance} %`);
    assert.match(c.budget, new RegExp(`${s.status.budget.consumed} of`));
  }
  assert.match(await page.textContent('.slo-card[data-slo="red"] .slo-name'), /page/);
  await page.screenshot({ path: join(SHOTS, 'slos-grid.png'), fullPage: true });
});

test('the burn-down of the selected SLO counts its requests', async () => {
  await page.click('.slo-card[data-slo="red"] .slo-compliance');
  await page.waitForSelector('.slo-card.slo-selected[data-slo="red"]');
  await waitFor(async () => /100 requests in the window, 10 bad of 1 allowed/.test(await page.textContent('#burndown-summary')), 'the red burn-down');
  const n = await page.$eval('.slo-line', (l) => l.getAttribute('points').split(' ').length);
  assert.ok(n >= 720, `a point per hour of 30 days (${n})`);
});

test('the alert feed acknowledges behind a confirmation', async () => {
  const row = '#alert-feed tr[data-alert="slo:red:page"]';
  await page.waitForSelector(row);
  assert.match(await page.textContent(`${row} .badge`), /firing/);
  await page.click(`${row} .alert-ack`);
  await page.waitForSelector('#slo-dialog[open]');
  assert.match(await page.textContent('#dlg-title'), /Acknowledge/);
  await page.click('#dlg-ok');
  await waitFor(async () => (await api('GET', '/api/v1/alerts/slo:red:page')).acknowledged_ms, 'the acknowledgement');
  await page.waitForSelector(`${row} >> text=acknowledged by api`);
  const audit = await api('GET', '/api/v1/audit?object=alert&actor=api');
  assert.equal(audit.entries[0].action, 'acknowledge');
  const all = await api('GET', '/api/v1/audit?object=alert');
  assert.ok(all.entries.some((e) => e.actor === 'system' && e.object_id === 'slo:red:page' && e.action === 'firing'),
    'the evaluator\'s transitions are there too');
});

test('the SLO editor creates only after confirmation, and shows the server\'s refusal', async () => {
  const count = async () => (await api('GET', '/api/v1/slos')).slos.length;
  await page.click('#slo-new');
  await page.fill('#slo-form input[name="name"]', 'Green latency');
  await page.fill('#slo-form input[name="service"]', 'green');
  await page.click('#dlg-ok'); // Review
  await page.waitForSelector('#dlg-question');
  assert.match(await page.textContent('#dlg-question'), /99 % of requests under 500 ms over 30d/);
  await page.click('#dlg-cancel');
  assert.equal(await count(), 3, 'cancelled: nothing created');

  await page.click('#slo-new');
  await page.fill('#slo-form input[name="name"]', 'Too strict');
  await page.fill('#slo-form input[name="service"]', 'green');
  await page.fill('#slo-form input[name="objective"]', '100');
  await page.click('#dlg-ok');
  const errorsBefore = consoleErrors.length;
  await page.click('#dlg-ok'); // confirm
  await waitFor(async () => /objective/.test(await page.textContent('.dlg-error')), 'the server\'s reason in the form');
  // Chromium logs the refused POST; that one is expected.
  const extra = consoleErrors.splice(errorsBefore);
  consoleErrors.push(...extra.filter((e) => !/status of 400/.test(e)));
  await page.fill('#slo-form input[name="name"]', 'Green latency');
  await page.fill('#slo-form input[name="objective"]', '99.5');
  await page.click('#dlg-ok');
  await page.click('#dlg-ok');
  await waitFor(async () => (await count()) === 4, 'the new SLO');
  const made = (await api('GET', '/api/v1/slos')).slos.find((s) => s.name === 'Green latency');
  assert.equal(made.objective, 99.5);
  assert.equal(made.threshold_ms, 500);
  assert.deepEqual(made.filters, { service: 'green' });
  await page.waitForSelector(`.slo-card[data-slo="${made.id}"]`);

  await page.click(`.slo-card[data-slo="${made.id}"] .slo-delete`);
  await page.click('#dlg-ok');
  await waitFor(async () => (await count()) === 3, 'the deletion');
  await page.screenshot({ path: join(SHOTS, 'slos-after.png'), fullPage: true });
});

test('the rule editor creates a rule after confirmation; silence holds an alert back', async () => {
  await page.goto(`${base}/dashboard/performance?view=slos`);
  await page.click('#rule-new');
  await page.fill('#rule-form input[name="name"]', 'Red p99');
  await page.selectOption('#rule-form select[name="measure"]', 'p99');
  await page.fill('#rule-form input[name="threshold"]', '800');
  await page.fill('#rule-form input[name="service"]', 'red');
  await page.click('#dlg-ok');
  assert.match(await page.textContent('#dlg-question'), /Create the rule “Red p99”: p99 > 800 over 5 min \(warning\)\?/);
  await page.click('#dlg-ok');
  const rule = await waitFor(async () => (await api('GET', '/api/v1/alerts/rules')).rules.find((r) => r.name === 'Red p99'), 'the new rule');
  assert.deepEqual([rule.measure, rule.comparison, rule.threshold, rule.window, rule.for, rule.filters],
    ['p99', '>', 800, 300, 60, { service: 'red' }]);

  // a rule on a metric series: the measure is offered, its inputs appear with it
  await page.click('#rule-new');
  const measures = await page.$$eval('#rule-form select[name="measure"] option', (o) => o.map((x) => x.value));
  for (const m of ['metric', 'regressions', 'slow_spikes']) assert.ok(measures.includes(m), `measure ${m} offered: ${measures}`);
  assert.equal(await page.isVisible('#rule-metric'), false, 'the metric inputs hide until the measure is chosen');
  await page.fill('#rule-form input[name="name"]', 'Red pool busy');
  await page.selectOption('#rule-form select[name="measure"]', 'metric');
  assert.equal(await page.isVisible('#rule-metric'), true, 'and show with it');
  await page.selectOption('#rule-form select[name="metric_measure"]', 'pool_used');
  await page.selectOption('#rule-form select[name="metric_agg"]', 'max');
  await page.fill('#rule-form input[name="metric_group_by"]', 'pool');
  await page.fill('#rule-form input[name="threshold"]', '45');
  await page.fill('#rule-form input[name="service"]', 'red');
  await page.screenshot({ path: join(SHOTS, 'slos-metric-rule.png') });
  await page.click('#dlg-ok');
  assert.match(await page.textContent('#dlg-question'), /Create the rule “Red pool busy”: max of pool_used \(worst pool\) > 45 over 5 min \(warning\)\?/);
  await page.click('#dlg-ok');
  const pool = await waitFor(async () => (await api('GET', '/api/v1/alerts/rules')).rules.find((r) => r.name === 'Red pool busy'), 'the metric rule');
  assert.deepEqual([pool.measure, pool.metric, pool.threshold, pool.filters],
    ['metric', { measure: 'pool_used', agg: 'max', group_by: 'pool' }, 45, { service: 'red' }]);

  // a slow count at a threshold of its own, reminding every hour
  await page.click('#rule-new');
  assert.equal(await page.isVisible('#rule-form input[name="slow_ms"]'), false, 'slow_ms hides until a slow measure');
  await page.fill('#rule-form input[name="name"]', 'Red over 300 ms');
  await page.selectOption('#rule-form select[name="measure"]', 'slow_count');
  assert.equal(await page.isVisible('#rule-form input[name="slow_ms"]'), true, 'and shows with it');
  await page.fill('#rule-form input[name="slow_ms"]', '300');
  await page.fill('#rule-form input[name="threshold"]', '100');
  await page.selectOption('#rule-form select[name="repeat"]', '3600');
  await page.fill('#rule-form input[name="service"]', 'red');
  await page.click('#dlg-ok');
  assert.match(await page.textContent('#dlg-question'), /slow_count at 300 ms or more > 100/);
  await page.click('#dlg-ok');
  const slow = await waitFor(async () => (await api('GET', '/api/v1/alerts/rules')).rules.find((r) => r.name === 'Red over 300 ms'), 'the slow rule');
  assert.deepEqual([slow.measure, slow.slow_ms, slow.repeat, slow.threshold], ['slow_count', 300, 3600, 100]);

  const row = '#alert-feed tr[data-alert="slo:red:ticket"]';
  await page.waitForSelector(`${row} .alert-silence`);
  await page.click(`${row} .alert-silence`);
  await page.click('#dlg-ok');
  const al = await waitFor(async () => {
    const a = await api('GET', '/api/v1/alerts/slo:red:ticket');
    return a.silenced_until_ms ? a : null;
  }, 'the silence');
  assert.ok(Math.abs(al.silenced_until_ms - (Date.now() + 3600e3)) < 60e3, 'silenced for an hour');
  await page.waitForSelector(`${row} >> text=silenced until`);
});

test('a performance budget shows its consumption against the API\'s series', async () => {
  await api('POST', '/api/v1/alerts/rules', { id: 'green-budget', name: 'Green budget', measure: 'service_p95_mean', threshold: 60, filters: { service: 'green' } });
  await page.goto(`${base}/dashboard/performance?view=slos`);
  const row = '#slo-budgets tr[data-rule="green-budget"]';
  await page.waitForSelector(row);
  const series = await api('GET', '/api/v1/alerts/rules/green-budget/series?range=24h&step=3600');
  const now = series.points.filter((p) => p.value != null).at(-1);
  assert.ok(now && Math.abs(now.value - 30) < 1, `p95 of 30 ms requests: ${now && now.value}`);
  assert.equal(await page.textContent(`${row} .budget-now`), `${Number(now.value.toPrecision(3))} ms`);
  assert.match(await page.textContent(`${row} .budget-used`), /^5\d(\.\d+)? %$/, 'about half of 60 ms used');
  assert.equal(await page.$$eval(`${row} .budget-spark polyline`, (x) => x.length), 1);
  assert.equal(await page.$$eval('#slo-budgets tbody tr', (x) => x.length), 1, 'only budget rules are listed');
});

test('the overview draws the selection\'s latency SLO on the distribution', async () => {
  await api('POST', '/api/v1/slos', { id: 'green-lat', kind: 'latency', objective: 95, threshold_ms: 500, filters: { service: 'green' } });
  await page.goto(`${base}/dashboard/performance?view=overview&service=green&env=all`);
  await page.waitForSelector('#panel-distribution .hist-marker');
  await page.waitForSelector('#panel-distribution .marker-slo');
  assert.equal(await page.getAttribute('#panel-distribution .marker-slo', 'data-marker'), 'SLO p95');
  await page.goto(`${base}/dashboard/performance?view=overview&service=yellow&env=all`);
  await page.waitForSelector('#panel-distribution .hist-marker');
  assert.equal(await page.$$eval('#panel-distribution .marker-slo', (x) => x.length), 0, 'no latency SLO for yellow');
  await api('DELETE', '/api/v1/slos/green-lat');
});

test('the service comparison colours each service by its SLO', async () => {
  await page.goto(`${base}/dashboard/performance?view=overview&env=all`);
  await page.waitForSelector('.compare-table .slo-dot');
  const dots = await page.$$eval('.compare-table tr[data-key]', (trs) => Object.fromEntries(trs.map((tr) => {
    const d = tr.querySelector('.slo-dot');
    return [tr.dataset.key, d ? d.className : null];
  })));
  assert.match(dots.green, /slo-green/);
  assert.match(dots.yellow, /slo-yellow/);
  assert.match(dots.red, /slo-red/);
});

test('an SLO at 300 ms, counted from the request rows, says since when', async () => {
  await api('POST', '/api/v1/slos', { id: 'green-300', kind: 'latency', objective: 95, threshold_ms: 300, filters: { service: 'green' } });
  const card = '.slo-card[data-slo="green-300"]';
  await waitFor(async () => {
    await page.goto(`${base}/dashboard/performance?view=slos`);
    await page.waitForSelector(card);
    return /Counted exactly since/.test(await page.textContent(`${card} .slo-exact`));
  }, 'the exact counts of the card');
  const st = (await api('GET', '/api/v1/slos/green-300')).status;
  assert.ok(st.exact_since_ms > 0 && st.total > 0, JSON.stringify(st));
  assert.match(await page.textContent(`${card} .slo-objective`), /under 300 ms/);
  assert.equal(await page.$$eval('.slo-card[data-slo="green"] .slo-exact', (x) => x.length), 0, 'none on an availability SLO');
  await api('DELETE', '/api/v1/slos/green-300');
});

test('the browser console stayed free of errors', () => {
  assert.deepEqual(consoleErrors, []);
});
