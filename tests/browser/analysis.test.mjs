// analysis.test.mjs - the Slow requests, Bottlenecks and Recommendations
// views in a real Chromium against a real `hotpath serve` loaded with the
// demo's history (`hotpath demo --backfill 3`, docs/DEMO.md): what each view
// shows is checked against the API's own answer to the same query.
//
//   node --test --test-reporter=tap tests/browser/analysis.test.mjs
//
// Screenshots go to build/screenshots/analysis-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { SHOTS, closeAll, getApi, startDemoPage, waitFor } from './lib/harness.mjs';

let hotpath = null;
let base = null;
let browser = null;
let page = null;
let consoleErrors = [];

// The dashboard's defaults: the last 24 h of the production environment.
const SCOPE = { range: '24h', env: 'production' };

before(async () => {
  ({ hotpath, base, browser, page, consoleErrors } = await startDemoPage('hotpath-analysis-', { width: 1440, height: 1000 }));
  // the server analysed the dashboard's ranges as it started, before the
  // demo's history came, and a GET answers from that analysis at once:
  // ask for one over the history, as "Analyse again" does
  await getApi(base, '/api/v1/recommendations', { range: '24h', refresh: '1' });
});

after(() => closeAll(browser, hotpath));

// --- helpers -------------------------------------------------------------------

const query = () => new URL(page.url()).searchParams;

const api = (path, params) => getApi(base, path, params);

// Chromium reports a failed request on the console; drop the ones a step
// provokes on purpose, so that any other error still fails the last test.
function expectConsoleError(re, before) {
  const extra = consoleErrors.splice(before);
  consoleErrors.push(...extra.filter((e) => !re.test(e)));
}

async function ready(panelId) {
  await page.waitForSelector(`#panel-${panelId}[data-state="ready"], #panel-${panelId}[data-state="error"]`);
  assert.equal(await page.getAttribute(`#panel-${panelId}`, 'data-state'), 'ready',
    await page.textContent(`#panel-${panelId}`));
}

const slowRows = () => page.$$eval('.slow-table tbody tr', (trs) => trs.map((tr) => ({
  traceId: tr.dataset.traceId, spanId: tr.dataset.spanId, duration: Number(tr.dataset.duration),
  service: tr.querySelector('.col-service').textContent,
})));

async function openSlow(extra = '') {
  await page.goto(`${base}/dashboard/performance?view=slow${extra}`);
  await ready('slow-table');
}

// --- slow requests (4.4) ---------------------------------------------------------

test('slow requests: the table lists the API\'s rows in its order, with a phase bar each', async () => {
  await openSlow();
  const want = await api('/api/v1/slow-requests', { ...SCOPE, limit: '100', group_by: 'endpoint' });
  assert.ok(want.requests.length > 10, `the demo has slow requests (${want.requests.length})`);
  const rows = await slowRows();
  assert.deepEqual(rows.map((r) => `${r.traceId}/${r.spanId}`), want.requests.map((r) => `${r.trace_id}/${r.span_id}`));
  assert.deepEqual(rows.map((r) => r.duration), want.requests.map((r) => r.duration_ms));

  // The first row's bar: a segment per phase with time, widths in proportion.
  const first = want.requests[0];
  const segs = await page.$$eval('.slow-table tbody tr:first-child .phase-seg', (xs) => xs.map((x) => ({
    phase: x.dataset.phase, width: parseFloat(x.style.width),
  })));
  const phases = Object.entries(first.phases).filter(([, ms]) => ms > 0);
  assert.deepEqual(segs.map((s) => `${s.phase}_ms`), phases.map(([k]) => k));
  for (const s of segs) {
    assert.ok(Math.abs(s.width - (first.phases[`${s.phase}_ms`] / first.phases_total_ms) * 100) < 0.01, s.phase);
  }
  // Legend and bars use the same colours.
  const legend = await page.$$eval('.phase-legend li', (lis) => lis.map((li) => li.textContent.trim()));
  assert.deepEqual(legend, ['Auth', 'Rate limit', 'Plugins', 'Tool execution', 'DB', 'LLM', 'Serialization', 'External', 'Other']);
  assert.match(await page.textContent('#slow-count'), new RegExp(want.matched.toLocaleString('en-US')));
  assert.match(await page.textContent('#slow-count'), /each trace once, at its edge request/);
  await page.screenshot({ path: join(SHOTS, 'analysis-slow.png'), fullPage: true });
});

test('slow requests: a column title sorts the rows, again reverses them', async () => {
  await openSlow();
  const before = await slowRows();
  await page.click('.slow-table th[data-col="duration"] .th-sort');
  let rows = await slowRows();
  assert.equal(await page.getAttribute('.slow-table th[data-col="duration"]', 'aria-sort'), 'ascending');
  assert.deepEqual(rows.map((r) => r.duration), before.map((r) => r.duration).sort((a, b) => a - b));

  await page.click('.slow-table th[data-col="service"] .th-sort');
  rows = await slowRows();
  assert.equal(await page.getAttribute('.slow-table th[data-col="service"]', 'aria-sort'), 'ascending');
  for (let i = 1; i < rows.length; i++) {
    assert.ok(rows[i - 1].service.localeCompare(rows[i].service) <= 0, `${rows[i - 1].service} before ${rows[i].service}`);
  }
  assert.deepEqual(rows.map((r) => r.traceId + r.spanId).sort(), before.map((r) => r.traceId + r.spanId).sort());
  await page.click('.slow-table th[data-col="service"] .th-sort');
  rows = await slowRows();
  assert.equal(await page.getAttribute('.slow-table th[data-col="service"]', 'aria-sort'), 'descending');
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].service.localeCompare(rows[i].service) >= 0);
});

test('slow requests: clicking a row opens its trace', async () => {
  await openSlow();
  const row = (await slowRows())[2];
  await page.click(`.slow-table tbody tr:nth-child(3)`);
  await waitFor(async () => query().get('trace') === row.traceId, 'trace= in the URL');
  assert.equal(query().get('span'), row.spanId);
  assert.equal(query().get('view'), 'slow');
  await page.waitForSelector('.waterfall');
  assert.match(await page.textContent('.view-title'), new RegExp(row.traceId));
  await page.goBack();
  await ready('slow-table');
});

test('slow requests: Export CSV answers text/csv with the listed rows', async () => {
  await openSlow();
  const href = await page.getAttribute('#slow-csv', 'href');
  const url = new URL(href, base);
  assert.equal(url.pathname, '/api/v1/slow-requests');
  assert.equal(url.searchParams.get('format'), 'csv');
  assert.equal(url.searchParams.get('env'), 'production');
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/csv/);
  const lines = (await res.text()).split('\r\n').filter(Boolean);
  assert.match(lines[0], /^trace_id,span_id,start,service,endpoint,tool/);
  const rows = await slowRows();
  assert.equal(lines.length, rows.length + 1);
  assert.ok(lines[1].startsWith(`${rows[0].traceId},${rows[0].spanId},`));
});

test('slow requests: the threshold box, the groups, the trend and the statistics', async () => {
  await openSlow();
  await page.fill('#slow-threshold', '5000');
  await page.press('#slow-threshold', 'Enter');
  await waitFor(async () => query().get('min_duration_ms') === '5000', 'min_duration_ms=5000 in the URL');
  await ready('slow-table');
  const want = await api('/api/v1/slow-requests', { ...SCOPE, min_duration_ms: '5000', limit: '100', group_by: 'endpoint' });
  await waitFor(async () => (await slowRows()).length === want.requests.length, 'the rows over 5 s');
  assert.ok((await slowRows()).every((r) => r.duration >= 5000));

  await page.click('#panel-slow-groups .seg-btn[data-group="tool"]');
  const tools = await api('/api/v1/slow-requests', { ...SCOPE, min_duration_ms: '5000', limit: '1', group_by: 'tool' });
  await waitFor(async () => JSON.stringify(await page.$$eval('.groups-table tbody tr', (trs) => trs.map((tr) => tr.dataset.key)))
    === JSON.stringify(tools.groups.map((g) => g.key ?? '')), 'the groups by tool');

  await ready('slow-trend');
  assert.equal(await page.getAttribute('#panel-slow-trend svg', 'data-buckets'), String(want.trend.counts.length));
  await ready('slow-stats');
  const stats = await api('/api/v1/slow-operations/stats', SCOPE);
  assert.deepEqual(await page.$$eval('.stats-table tbody tr', (trs) => trs.map((tr) => tr.dataset.type)), stats.types.map((t) => t.type));
  await page.waitForSelector('#panel-slow-alerts[data-state="ready"], #panel-slow-alerts[data-state="empty"]');
});

// --- bottlenecks ----------------------------------------------------------------------

test('bottlenecks: the API\'s ranking and kinds, with links to traces and the flame graph', async () => {
  await page.goto(`${base}/dashboard/performance?view=bottlenecks`);
  await ready('bottlenecks');
  const want = await api('/api/v1/bottlenecks', { ...SCOPE, top: '30' });
  assert.ok(want.bottlenecks.length > 3, `bottlenecks found (${want.bottlenecks.length})`);
  const items = await page.$$eval('.bn-item', (lis) => lis.map((li) => ({
    component: li.dataset.component, kind: li.dataset.kind, badge: li.querySelector('.bn-kind').textContent,
  })));
  assert.deepEqual(items.map((i) => [i.component, i.kind]), want.bottlenecks.map((b) => [b.component, b.kind]));
  const labels = { slowest_component: 'Slowest component', resource_contention: 'Resource contention', dependency: 'Dependency' };
  assert.deepEqual(items.map((i) => i.badge), want.bottlenecks.map((b) => labels[b.kind]));
  // the part of the range covered (the counts may move by the requests the
  // demo timestamped a moment ahead, between the view's call and the test's)
  const sub = await page.textContent('#panel-bottlenecks .panel-sub');
  const n = '[0-9][0-9,]*';
  assert.match(sub, new RegExp(`^${n} requests analysed, \\S.* to \\S.* \\(${want.sampled
    ? `a sample: ${n} of the ${n} requests in range, whole traces chosen across it` : `all ${n} requests in range`}`));
  await page.screenshot({ path: join(SHOTS, 'analysis-bottlenecks.png') });
  // each shows its service's resources when its worst example ran, or why there are none
  const res = await page.$$eval('.bn-item', (lis) => lis.map((li) => {
    const el = li.querySelector('.res-state');
    return el && { state: el.dataset.resources, cpu: el.dataset.cpu ?? null, text: el.textContent };
  }));
  assert.ok(res.every(Boolean), 'a resource line on every bottleneck');
  assert.deepEqual(res.map((r) => r.state), want.bottlenecks.map((b) => (b.resources ? 'state' : 'none')));
  assert.ok(res.some((r) => r.state === 'state'), 'the demo sends resource metrics');
  for (const [i, b] of want.bottlenecks.entries()) {
    if (!b.resources) {
      assert.ok(res[i].text.includes(b.resources_reason), res[i].text);
      continue;
    }
    assert.equal(res[i].cpu, b.resources.cpu_utilization == null ? '' : String(b.resources.cpu_utilization), b.component);
    assert.match(res[i].text, new RegExp(`^Resources of ${b.service} at .*\\(its worst example\\): `), res[i].text);
    if (b.resources.cpu_utilization != null) assert.match(res[i].text, /CPU [0-9.]+ %/);
    if (b.resources.db_connections_max != null) assert.match(res[i].text, / of [0-9.,]+/, 'the pool and its size');
  }

  const flame = new URL(await page.getAttribute('.bn-item:first-child .bn-flame', 'href'), base).searchParams;
  assert.equal(flame.get('view'), 'flame');
  assert.equal(flame.get('service'), want.bottlenecks[0].service);

  const example = want.bottlenecks[0].examples[0].trace_id;
  await page.click(`.bn-item:first-child .trace-link[data-trace-id="${example}"]`);
  await waitFor(async () => query().get('trace') === example, 'the example trace opened');
  await page.waitForSelector('.waterfall');
  await page.goBack();
  await ready('bottlenecks');
});

// --- recommendations -------------------------------------------------------------------

const cards = () => page.$$eval('.rec-card', (els) => els.map((el) => ({
  id: el.dataset.id, status: el.dataset.status, title: el.querySelector('.rec-title').textContent,
  priority: el.closest('.rec-group').dataset.priority,
})));
const card = (id) => `.rec-card[data-id="${id}"]`;

async function openRecommendations() {
  await page.goto(`${base}/dashboard/performance?view=recommendations`);
  await page.waitForSelector('.rec-card');
}

test('recommendations: a card per recommendation, grouped by priority, with the analysis line', async () => {
  await openRecommendations();
  const want = await api('/api/v1/recommendations', { range: '24h' });
  assert.ok(want.recommendations.length >= 3, `recommendations found (${want.recommendations.length})`);
  const got = await cards();
  const prio = (r) => r.finding.priority.toUpperCase();
  const expected = ['HIGH', 'MEDIUM', 'LOW'].flatMap((p) => want.recommendations.filter((r) => prio(r) === p)
    .map((r) => ({ id: r.id, status: r.status, title: r.finding.recommendation.title, priority: p })));
  assert.deepEqual(got, expected);
  assert.deepEqual(await page.$$eval('.rec-group', (gs) => gs.map((g) => g.dataset.priority)),
    [...new Set(expected.map((r) => r.priority))]);
  const line = await page.textContent('#rec-analysis');
  assert.match(line, new RegExp(`Analysed ${want.analysis.traces.toLocaleString('en-US')} traces`));
  assert.match(line, /sample rate/);
  assert.match(line, /took/);
  assert.match(line, /\d+(\.\d+)? ?(ms|s|min|h) ago/, 'the analysis line says how old the analysis is');
  await page.screenshot({ path: join(SHOTS, 'analysis-recommendations.png') });
  // each card shows its service's resources when its first example ran, or why there are none
  for (const r of want.recommendations) {
    const el = await page.$(`${card(r.id)} .res-state`);
    assert.ok(el, `a resource line on ${r.id}`);
    const text = await el.textContent();
    assert.equal(await el.getAttribute('data-resources'), r.resources ? 'state' : 'none', text);
    if (r.resources) {
      assert.match(text, new RegExp(`^Resources of ${r.finding.subject.service} at `), text);
      assert.equal(await el.getAttribute('data-cpu'), r.resources.cpu_utilization == null ? '' : String(r.resources.cpu_utilization));
    } else {
      assert.ok(text.includes(r.resources_reason), text);
    }
  }
  assert.ok(want.recommendations.some((r) => r.resources), 'the demo sends resource metrics');
});

test('recommendations: Apply changes the badge and the server\'s state; the history shows it', async () => {
  await openRecommendations();
  const target = (await cards()).find((c) => c.status === 'open');
  await page.click(`${card(target.id)} .rec-apply`);
  await page.waitForSelector(`${card(target.id)}[data-status="applied"]`);
  assert.equal((await page.textContent(`${card(target.id)} .rec-status`)).trim(), 'applied');
  const one = await api(`/api/v1/recommendations/${target.id}`);
  assert.equal(one.status, 'applied');
  assert.deepEqual(one.audit.map((a) => [a.from, a.to]), [['open', 'applied']]);

  await page.click(`${card(target.id)} .rec-history summary`);
  await page.waitForSelector(`${card(target.id)} .audit-item`);
  assert.match(await page.textContent(`${card(target.id)} .audit-item`), /open\s*→\s*applied/);

  await page.click(`${card(target.id)} .rec-reopen`);
  await page.waitForSelector(`${card(target.id)}[data-status="open"]`);
  assert.equal((await api(`/api/v1/recommendations/${target.id}`)).status, 'open');
});

test('recommendations: Dismiss needs a reason (the server says so), then succeeds', async () => {
  await openRecommendations();
  const target = (await cards()).find((c) => c.status === 'open');
  await page.click(`${card(target.id)} .rec-dismiss-btn`);
  await page.waitForSelector(`${card(target.id)} .rec-reason-input`);
  const nErrors = consoleErrors.length;
  await page.click(`${card(target.id)} .rec-dismiss-confirm`);
  await page.waitForSelector(`${card(target.id)} .rec-error:not([hidden])`);
  assert.match(await page.textContent(`${card(target.id)} .rec-error`), /reason/);
  expectConsoleError(/status of 400/, nErrors);
  assert.equal((await api(`/api/v1/recommendations/${target.id}`)).status, 'open');

  await page.fill(`${card(target.id)} .rec-reason-input`, 'handled by the platform team');
  await page.click(`${card(target.id)} .rec-dismiss-confirm`);
  await page.waitForSelector(`${card(target.id)}[data-status="dismissed"]`);
  assert.match(await page.textContent(`${card(target.id)} .rec-reason`), /handled by the platform team/);
  const one = await api(`/api/v1/recommendations/${target.id}`);
  assert.equal(one.status, 'dismissed');
  assert.equal(one.reason, 'handled by the platform team');

  // The status filter asks the server for that status only.
  await page.click('.seg-btn[data-status="dismissed"]');
  await waitFor(async () => JSON.stringify((await cards()).map((c) => c.id)) === JSON.stringify([target.id]), 'only the dismissed card');
  await page.click('.seg-btn[data-status=""]');
  await waitFor(async () => (await cards()).length > 1, 'every card again');
});

test('recommendations: Learn more shows the pattern\'s page, rendered', async (t) => {
  await openRecommendations();
  const first = (await cards())[0];
  const want = await api('/api/v1/recommendations', { range: '24h' });
  const doc = want.recommendations.find((r) => r.id === first.id).finding.doc;
  const res = await fetch(`${base}${doc}`);
  const nErrors = consoleErrors.length;
  await page.click(`${card(first.id)} .rec-learn`);
  await page.waitForSelector('#rec-doc:not([hidden])');
  if (res.status === 200) {
    const md = await res.text();
    const heading = /^#{1,2} +(.+?) *$/m.exec(md)[1].replace(/[`*_]/g, '');
    await page.waitForSelector('#rec-doc[data-state="ready"]');
    const headings = await page.$$eval('#rec-doc .md :is(h1, h2)', (hs) => hs.map((x) => x.textContent));
    assert.ok(headings.includes(heading), `"${heading}" in ${JSON.stringify(headings)}`);
    assert.equal(await page.$$eval('#rec-doc .md script', (x) => x.length), 0);
    await page.screenshot({ path: join(SHOTS, 'analysis-learn-more.png') });
  } else {
    // Without the page the panel says what the server said.
    t.diagnostic(`${doc} is not served (${res.status}); checked the error instead`);
    await page.waitForSelector('#rec-doc[data-state="error"]');
    assert.match(await page.textContent('#rec-doc'), new RegExp(String(res.status)));
    expectConsoleError(new RegExp(`status of ${res.status}`), nErrors);
  }
  await page.keyboard.press('Escape');
  await page.waitForSelector('#rec-doc', { state: 'hidden' });
});

test('the Markdown converter builds elements and never runs markup', async () => {
  const out = await page.evaluate(async () => {
    const { markdownToDom } = await import('/lib/markdown.js');
    window.mdRan = false;
    const box = document.createElement('div');
    box.append(markdownToDom([
      '# N+1 queries <script>window.mdRan = true</script>',
      '',
      'A paragraph with `inline <b>code</b>`, a [link](/docs/x.md), **bold** and',
      'a [bad link](javascript:window.mdRan=true) <img src=x onerror="window.mdRan=true">.',
      '',
      '## How to fix it',
      '',
      '- one',
      '- two with `code`',
      '  - nested',
      '',
      '1. first',
      '2. second',
      '',
      '```sql',
      'SELECT * FROM t WHERE id = ANY($1) -- <b>',
      '```',
      '',
      '| a | b |',
      '|---|--:|',
      '| 1 | 2 |',
    ].join('\n'), { base: `${window.location.origin}/docs/recommendations/n-plus-one.md` }));
    document.body.append(box);
    const res = {
      tags: [...box.children].map((c) => c.tagName.toLowerCase()),
      h1: box.querySelector('h1').textContent,
      links: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
      code: [...box.querySelectorAll('code')].map((c) => c.textContent),
      nested: box.querySelectorAll('ul ul li').length,
      elements: box.querySelectorAll('script, img, b').length,
      cells: [...box.querySelectorAll('td')].map((c) => c.textContent),
      ran: window.mdRan,
    };
    box.remove();
    return res;
  });
  assert.deepEqual(out.tags, ['h1', 'p', 'h2', 'ul', 'ol', 'pre', 'table']);
  assert.equal(out.h1, 'N+1 queries <script>window.mdRan = true</script>');
  assert.deepEqual(out.links, [`${base}/docs/x.md`]);
  assert.deepEqual(out.code, ['inline <b>code</b>', 'code', 'SELECT * FROM t WHERE id = ANY($1) -- <b>']);
  assert.equal(out.nested, 1);
  assert.equal(out.elements, 0);
  assert.deepEqual(out.cells, ['1', '2']);
  assert.equal(out.ran, false);
});

test('the browser console stayed free of errors', () => {
  assert.deepEqual(consoleErrors, []);
});
