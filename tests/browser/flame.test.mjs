// flame.test.mjs - the Flame graphs view and the waterfall's critical path
// in a real Chromium against a real `hotpath serve`, and the draw time of
// the canvas viewer on a generated 100,000-frame graph.
//
//   node --test --test-reporter=tap tests/browser/flame.test.mjs
//
// The figures are printed as TAP comments ("# draw …"); docs/PERFORMANCE.md
// records them.  Screenshots go to build/screenshots/flame-*.png.

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
const attrs = (obj) => Object.entries(obj).map(([key, v]) => ({ key, value: { stringValue: String(v) } }));

// A trace: {svc, version, tool, root: {name, at, ms, attrs, children}}.
function makeTrace(agoMs, svc, version, root) {
  const traceId = hex(16);
  const t0 = NOW_NS - msNs(agoMs);
  const spans = [];
  const walk = (node, parentId) => {
    node.spanId = hex(8);
    const start = t0 + msNs(node.at);
    spans.push({
      traceId, spanId: node.spanId, parentSpanId: parentId, name: node.name, kind: parentId ? 1 : 2,
      startTimeUnixNano: String(start), endTimeUnixNano: String(start + msNs(node.ms)),
      attributes: attrs(node.attrs || {}), status: { code: 0 },
    });
    for (const c of node.children || []) walk(c, node.spanId);
  };
  walk(root, '');
  return { traceId, svc, version, root, spans };
}

const invoke = (extra) => ({
  'http.request.method': 'POST', 'http.route': '/tools/invoke', 'gen_ai.tool.name': 'search', ...extra,
});

// Critical path: from the root's end back through "store result" (last to
// finish), then "llm call" (finished last before "store result" started)
// and its "http POST"; "auth" starts after "llm call" and ends before it,
// so the request never waits on it (nor on its "cache get").
const crit = makeTrace(50000, 'gateway', '1.0.0', {
  name: 'POST /tools/invoke', at: 0, ms: 300, attrs: invoke(),
  children: [
    { name: 'auth', at: 25, ms: 75, children: [{ name: 'cache get', at: 30, ms: 20 }] },
    { name: 'llm call', at: 20, ms: 230, children: [{ name: 'http POST', at: 30, ms: 210 }] },
    { name: 'store result', at: 260, ms: 30 },
  ],
});
const ON_CRITICAL_PATH = () => [crit.root, crit.root.children[1], crit.root.children[1].children[0],
  crit.root.children[2]].map((n) => n.spanId).sort();

// The newer version: no cache, no store, a rate limiter.
const newer = (ago) => makeTrace(ago, 'gateway', '1.1.0', {
  name: 'POST /tools/invoke', at: 0, ms: 200, attrs: invoke(),
  children: [
    { name: 'auth', at: 5, ms: 45 },
    { name: 'llm call', at: 60, ms: 130, children: [{ name: 'http POST', at: 65, ms: 120 }] },
    { name: 'rate limit', at: 190, ms: 8 },
  ],
});
const newA = newer(40000);
const newB = newer(30000);
const checkout = makeTrace(20000, 'web', '2.0.0', {
  name: 'GET /checkout', at: 0, ms: 100, attrs: { 'http.request.method': 'GET', 'http.route': '/checkout' },
  children: [{ name: 'SELECT cart', at: 10, ms: 30 }, { name: 'render', at: 50, ms: 40 }],
});

function otlpRequest(traces) {
  return {
    resourceSpans: traces.map((t) => ({
      resource: { attributes: attrs({ 'service.name': t.svc, 'service.version': t.version, 'deployment.environment.name': 'production' }) },
      scopeSpans: [{ scope: { name: 'hotpath-flame-test' }, spans: t.spans }],
    })),
  };
}

// --- helpers -------------------------------------------------------------------------

const query = () => new URL(page.url()).searchParams;
const frameName = (n) => (n.service ? `${n.service}: ${n.name}` : n.name);

// Every frame of an aggregated answer: [path, value_us, self_us, count].
function jsonFrames(root) {
  const out = [];
  const walk = (n, path) => {
    const p = [...path, frameName(n)];
    out.push([p.join(';'), n.value_us, n.self_us, n.count]);
    for (const c of n.children || []) walk(c, p);
  };
  for (const c of root.children || []) walk(c, []);
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

// The same from the viewer's tree in the page.
const viewerFrames = () => page.evaluate(() => {
  const t = document.querySelector('.flame-graph').flameViewer.tree;
  const out = [];
  for (let i = 1; i < t.n; i++) {
    const path = [];
    for (let p = i; p > 0; p = t.parent[p]) path.unshift(t.names[t.nameId[p]]);
    out.push([path.join(';'), t.value[i], t.self[i], t.count[i]]);
  }
  return out.sort((a, b) => a[0].localeCompare(b[0]));
});

async function waitForGraph(what) {
  await waitFor(async () => (await page.getAttribute('.flame-body', 'data-state')) === 'ready', what);
}

// The page position of a frame's middle: {x, y}, found by name.
const frameCenter = (name) => page.evaluate((n) => {
  const host = document.querySelector('.flame-graph');
  const v = host.flameViewer;
  const t = v.tree;
  const i = [...Array(t.n).keys()].find((k) => k > 0 && t.names[t.nameId[k]] === n);
  const b = v.frameBox(i);
  const r = v.canvas.getBoundingClientRect();
  return b && { x: r.left + b.x + b.w / 2, y: r.top + b.y + 9, w: b.w, canvasW: r.width };
}, name);

// --- setup -------------------------------------------------------------------------

before(async () => {
  hotpath = await startHotpath('hotpath-flame-');
  base = hotpath.base;
  await postOtlpJson(base, otlpRequest([crit, newA, newB, checkout]));
  ({ browser, page, consoleErrors } = await launchPage({ width: 1440, height: 900 }));
});

after(() => closeAll(browser, hotpath));

// --- the tests ------------------------------------------------------------------------

test('the aggregated graph shows the frames and values of the JSON API', async () => {
  await page.goto(`${base}/dashboard/performance?view=flame`);
  await waitForGraph('the aggregated graph');
  const api = await (await fetch(`${base}/api/v1/flamegraph?range=24h&env=production`)).json();
  assert.equal(api.traces, 4);
  assert.deepEqual(await viewerFrames(), jsonFrames(api.root));
  assert.match(await page.textContent('.flame-summary'), /4 requests merged/);

  // Width follows the value.  The children of POST /tools/invoke are
  // worth more than it (auth runs beside llm call), so they are scaled
  // down to fit inside it.
  const post = api.root.children.find((c) => c.name === 'POST /tools/invoke');
  const llmJson = post.children.find((c) => c.name === 'llm call');
  const kids = post.children.reduce((s, c) => s + c.value_us, 0);
  assert.ok(kids > post.value_us, 'parallel children outgrow their parent');
  const postBox = await frameCenter('gateway: POST /tools/invoke');
  const llm = await frameCenter('gateway: llm call');
  const close = (got, want, what) => assert.ok(Math.abs(got - want) <= 2, `${what} is ${got.toFixed(1)} px wide, expected ${want.toFixed(1)}`);
  close(postBox.w, (post.value_us / api.root.value_us) * postBox.canvasW, 'POST /tools/invoke');
  close(llm.w, (llmJson.value_us / kids) * postBox.w, 'llm call');
  // The tooltip tells name, total, self, share and the requests the frame
  // occurs in.
  await page.mouse.move(llm.x, llm.y);
  const tip = page.locator('.chart-tip');
  await tip.waitFor({ state: 'visible' });
  const text = await tip.textContent();
  assert.match(text, /gateway: llm call/);
  assert.match(text, /Total\s*490 ms/); // 230 + 130 + 130
  assert.match(text, /Requests\s*3 of 4/);
  const share = ((llmJson.value_us / api.root.value_us) * 100).toFixed(1); // 490 of 800 ms
  assert.match(text, new RegExp(`% of total\\s*${share} %`));
  await page.screenshot({ path: join(SHOTS, 'flame-aggregate.png') });
});

test('clicking a frame zooms into it; back and reset zoom out', async () => {
  const host = page.locator('.flame-graph');
  assert.equal(await host.getAttribute('data-root'), 'all');
  const llm = await frameCenter('gateway: llm call');
  await page.mouse.click(llm.x, llm.y);
  await waitFor(async () => (await host.getAttribute('data-root')) === 'gateway: llm call', 'zoomed to llm call');
  // The zoomed frame now spans the whole width.
  const zoomed = await frameCenter('gateway: llm call');
  assert.ok(Math.abs(zoomed.w - zoomed.canvasW) <= 1, `zoomed width ${zoomed.w} of ${zoomed.canvasW}`);
  assert.match(await page.textContent('.flame-selected'), /gateway: llm call/);
  const http = await frameCenter('gateway: http POST');
  await page.mouse.click(http.x, http.y);
  await waitFor(async () => (await host.getAttribute('data-root')) === 'gateway: http POST', 'zoomed to http POST');
  await page.click('#flame-back');
  await waitFor(async () => (await host.getAttribute('data-root')) === 'gateway: llm call', 'back to llm call');
  await page.click('#flame-reset');
  await waitFor(async () => (await host.getAttribute('data-root')) === 'all', 'reset to all');
  assert.equal(await page.isDisabled('#flame-reset'), true);
  // a selected frame opens a trace it occurs in, the one the API names
  const api = await (await fetch(`${base}/api/v1/flamegraph?range=24h&env=production`)).json();
  const post = api.root.children.find((c) => c.name === 'POST /tools/invoke');
  const example = post.children.find((c) => c.name === 'llm call').example_trace_id;
  assert.match(example, /^[0-9a-f]{32}$/);
  const again = await frameCenter('gateway: llm call');
  await page.mouse.click(again.x, again.y);
  await page.getByRole('button', { name: 'Example trace →' }).click();
  await waitFor(async () => new URL(page.url()).searchParams.get('trace') === example, 'the example trace opens');
  await page.goto(`${base}/dashboard/performance?view=flame`);
  await waitForGraph('the aggregated graph again');
});

test('search highlights matches and reports their share of the time', async () => {
  const api = await (await fetch(`${base}/api/v1/flamegraph?range=24h&env=production`)).json();
  // Expected: the outermost frames matching /auth|http/ summed over the total.
  let matched = 0;
  let frames = 0;
  const walk = (n, inside) => {
    const hit = /auth|http/i.test(frameName(n));
    if (hit) frames++;
    if (hit && !inside) matched += n.value_us;
    (n.children || []).forEach((c) => walk(c, inside || hit));
  };
  api.root.children.forEach((c) => walk(c, false));
  const want = ((matched / api.root.value_us) * 100).toFixed(2);
  await page.fill('#flame-search', 'auth|http');
  await waitFor(async () => (await page.getAttribute('.flame-graph', 'data-search-percent')) === want,
    `search percent ${want}`);
  assert.equal(frames, 2);
  assert.match(await page.textContent('.flame-search-info'), new RegExp(`2 frames match, ${Number(want).toFixed(1)} %`));
  assert.equal(query().get('fsearch'), 'auth|http');
  await page.screenshot({ path: join(SHOTS, 'flame-search.png') });
  await page.fill('#flame-search', '(');
  await waitFor(async () => /Not a regular expression/.test(await page.textContent('.flame-search-info')), 'bad regex reported');
  await page.fill('#flame-search', '');
});

test('an endpoint is one click, and the graph follows it', async () => {
  await page.click('.flame-quick-endpoint .chip[data-value="POST /tools/invoke"]');
  await waitFor(() => query().get('endpoint') === 'POST /tools/invoke', 'endpoint in the URL');
  await waitFor(async () => /3 requests merged/.test(await page.textContent('.flame-summary').catch(() => '')), '3 requests');
  const api = await (await fetch(`${base}/api/v1/flamegraph?range=24h&env=production&endpoint=${encodeURIComponent('POST /tools/invoke')}`)).json();
  assert.deepEqual(await viewerFrames(), jsonFrames(api.root));
  assert.equal(await page.inputValue('#filter-endpoint'), 'POST /tools/invoke');
  assert.equal(await page.getAttribute('.flame-quick-endpoint .chip[data-value="POST /tools/invoke"]', 'aria-pressed'), 'true');
});

test('the sandwich view lists functions and shows callers and callees', async () => {
  await page.click('.flame-toolbar .seg-btn[data-id="sandwich"]');
  await page.click('.sandwich-table tr[data-name="gateway: http POST"]');
  await waitFor(async () => (await page.getAttribute('.flame-sandwich', 'data-picked')) === 'gateway: http POST', 'picked');
  assert.equal(query().get('ftab'), 'sandwich');
  const halves = await page.evaluate(() => {
    const names = (sel) => {
      const t = document.querySelector(sel).flameViewer.tree;
      return [...Array(t.n).keys()].slice(1).map((i) => [t.depth[i], t.names[t.nameId[i]], t.value[i]]);
    };
    return { callers: names('.sandwich-callers'), callees: names('.sandwich-callees') };
  });
  assert.deepEqual(halves.callers, [[1, 'gateway: http POST', 450000], [2, 'gateway: llm call', 450000],
    [3, 'gateway: POST /tools/invoke', 450000]]);
  assert.deepEqual(halves.callees, [[1, 'gateway: http POST', 450000]]);
  await page.screenshot({ path: join(SHOTS, 'flame-sandwich.png') });
});

test('sandwich of a known tree: merged callers above, merged callees below', async () => {
  const r = await page.evaluate(async () => {
    const { fromObjects, callersTree, calleesTree, functionTable } = await import('/lib/flame/tree.js');
    const t = fromObjects([{
      name: 'main', value: 100,
      children: [
        { name: 'a', value: 60, children: [{ name: 'db', value: 40, children: [{ name: 'sql', value: 30 }] }] },
        { name: 'b', value: 30, children: [{ name: 'db', value: 20, children: [{ name: 'net', value: 5 }, { name: 'db', value: 10 }] }] },
      ],
    }]);
    const flat = (x) => [...Array(x.n).keys()].slice(1).map((i) => `${'.'.repeat(x.depth[i] - 1)}${x.names[x.nameId[i]]}=${x.value[i]}`);
    const db = functionTable(t).find((row) => row.name === 'db');
    return { callers: flat(callersTree(t, 'db')), callees: flat(calleesTree(t, 'db')), db };
  });
  // db is called by a (40) and b (20, with a recursive db inside counted once).
  assert.deepEqual(r.callers, ['db=60', '.a=40', '..main=40', '.b=20', '..main=20']);
  assert.deepEqual(r.callees, ['db=60', '.sql=30', '.net=5', '.db=10']);
  assert.deepEqual(r.db, { name: 'db', self: 10 + 5 + 10, total: 60, count: 0 });
});

test('compare two requests: the legend and one-side-only frames', async () => {
  await page.goto(`${base}/dashboard/performance?view=flame&fmode=compare&fby=traces&fbase=${crit.traceId}&fcompare=${newA.traceId}`);
  await waitForGraph('the differential graph');
  const legend = page.locator('.flame-legend');
  const text = await legend.textContent();
  assert.match(text, /Colour:\s*change in self time/);
  assert.match(text, /both sides hold 1 request: values are not scaled/);
  assert.match(text, /only in compare \(new\): 1/);
  assert.match(text, /only in base \(gone\): 2/);
  const sides = await page.evaluate(() => {
    const v = document.querySelector('.flame-graph').flameViewer;
    const t = v.tree;
    const out = {};
    for (let i = 1; i < t.n; i++) out[t.names[t.nameId[i]]] = t.diff.side[i];
    return { out, drawn: v.stats.oneSided };
  });
  assert.equal(sides.out['gateway: rate limit'], 2, 'rate limit: compare only');
  assert.equal(sides.out['gateway: store result'], 1, 'store result: base only');
  assert.equal(sides.out['gateway: cache get'], 1, 'cache get: base only');
  assert.equal(sides.out['gateway: llm call'], 0, 'llm call: both');
  assert.equal(sides.drawn, 3, 'three hatched frames drawn');
  const rate = await frameCenter('gateway: rate limit');
  await page.mouse.move(rate.x, rate.y);
  await waitFor(async () => /only in compare \(new\)/.test(await page.textContent('.chart-tip')), 'tooltip says new');
  await page.screenshot({ path: join(SHOTS, 'flame-compare.png') });
  await page.click('.flame-legend .seg-btn[data-id="total"]');
  await waitFor(async () => /change in inclusive/.test(await legend.textContent()), 'colour by inclusive');
  assert.equal(query().get('fcolor'), 'total');
});

test('compare two versions: sets of different sizes are normalised by totals', async () => {
  await page.goto(`${base}/dashboard/performance?view=flame&fmode=compare&fby=version&fbase=1.0.0&fcompare=1.1.0`);
  await waitForGraph('the version comparison');
  const text = await page.textContent('.flame-legend');
  assert.match(text, /base 1 requests, compare 2/);
  assert.match(text, /normalised by totals/);
  assert.match(text, /×1\.333/); // 400 ms / 300 ms
  assert.equal(await page.inputValue('#flame-base'), '1.0.0');
  assert.equal(await page.inputValue('#flame-compare'), '1.1.0');
});

test('the waterfall highlights the critical path and links to the flame graph', async () => {
  await page.goto(`${base}/dashboard/performance?trace=${crit.traceId}`);
  await page.waitForSelector('.wf-row[data-critical="true"]');
  const onPath = await page.$$eval('.wf-row[data-critical="true"]', (rs) => rs.map((r) => r.dataset.spanId).sort());
  assert.deepEqual(onPath, ON_CRITICAL_PATH());
  assert.equal(await page.$$eval('.wf-row', (rs) => rs.length), crit.spans.length);
  assert.match(await page.textContent('#critical-toggle'), /Critical path \(4 spans\)/);
  await page.click(`.wf-row[data-span-id="${crit.root.children[2].spanId}"]`);
  await waitFor(async () => /Critical path\s*30\.0 ms/.test(await page.textContent('.span-detail')), 'contribution of store result');
  await page.screenshot({ path: join(SHOTS, 'flame-critical-path.png') });

  await page.click('#trace-flame');
  await waitForGraph('the trace as a flame graph');
  assert.equal(query().get('fmode'), 'trace');
  assert.equal(query().get('ftrace'), crit.traceId);
  assert.equal(query().get('trace'), null);
  assert.match(await page.textContent('.flame-critical summary'), /Critical path: 4 spans/);
  const root = await frameCenter('gateway: POST /tools/invoke');
  assert.ok(Math.abs(root.w - root.canvasW) <= 1, 'the root frame spans the width');
});

// --- performance ---------------------------------------------------------------------

// Two shapes of 100,000 frames: "broad" (1-7 children a frame, shallow)
// and "stacks" (20,000-odd sampled call stacks 8-60 deep merged by path,
// as a CPU profile is: deep, with many frames wide enough to draw).
async function measureDraw(shape) {
  if (!page.url().startsWith(base)) await page.goto(`${base}/dashboard/performance?view=flame`);
  return page.evaluate(async (kind) => {
    const { fromObjects } = await import('/lib/flame/tree.js');
    const { createViewer } = await import('/lib/flame/viewer.js');
    let seed = 42;
    const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 4294967296; };
    const N = 100000;
    const top = { name: 'main', children: [], value: 0 };
    let made = 1;
    if (kind === 'broad') {
      const queue = [[top, 1]];
      for (let q = 0; q < queue.length && made < N; q++) {
        const [node, depth] = queue[q];
        const k = depth > 40 ? 0 : 1 + Math.floor(rnd() * 7);
        const off = Math.floor(rnd() * 3000);
        for (let c = 0; c < k && made < N; c++) {
          const child = { name: `mod${depth % 17}.fn${(off + c) % 3000}`, children: [], value: 0 };
          node.children.push(child);
          queue.push([child, depth + 1]);
          made++;
        }
      }
      const sum = (n) => { n.value = (n.children.length ? 0 : 1) + rnd() * 50 + n.children.reduce((s, c) => s + sum(c), 0); return n.value; };
      sum(top);
    } else {
      // Each stack walks down choosing among few callees per frame, so
      // stacks share prefixes; each sample adds 1 to every frame on it.
      while (made < N) {
        const depth = 8 + Math.floor(rnd() * 53);
        let node = top;
        top.value += 1;
        for (let d = 1; d < depth && made < N; d++) {
          const name = `pkg${d % 23}.fn${Math.floor(rnd() * rnd() * 12)}`;
          let next = node.children.find((c) => c.name === name);
          if (!next) { next = { name, children: [], value: 0 }; node.children.push(next); made++; }
          next.value += 1;
          node = next;
        }
      }
    }
    let t0 = performance.now();
    const tree = fromObjects([top]);
    const buildMs = performance.now() - t0;

    const host = document.createElement('div');
    host.style.width = '1400px';
    document.body.prepend(host);
    const v = createViewer(host, {});
    // getImageData makes Chromium rasterise the canvas now, so a time
    // includes the pixels, not only the recorded drawing commands.
    const flush = () => v.canvas.getContext('2d').getImageData(0, 0, 1, 1);
    const timed = (fn) => { const s = performance.now(); fn(); flush(); return performance.now() - s; };
    const first = timed(() => v.setTree(tree));
    const rects = v.stats.rects;
    const byDepth = (d) => [...Array(tree.n).keys()].filter((i) => tree.depth[i] === d).sort((a, b) => tree.value[b] - tree.value[a]);
    const targets = [...byDepth(2).slice(0, 3), ...byDepth(3).slice(0, 3), ...byDepth(5).slice(0, 2)];
    const times = { zoom: [], search: [], resize: [], select: [] };
    for (const i of targets) {
      times.zoom.push(timed(() => v.zoom(i)));
      times.zoom.push(timed(() => v.reset()));
    }
    for (const re of [/fn1[0-9]{2}$/, /mod3\./, /fn2999/, /fn(5|7)/, /[0-9]\.fn[0-9]*0$/, /xyz/, /fn/, /fn4/]) {
      times.search.push(timed(() => v.setSearch(re)));
    }
    v.setSearch(null);
    for (const w of [900, 1200, 1600, 700, 1400, 1000, 1800, 1400]) {
      times.resize.push(timed(() => { host.style.width = `${w}px`; v.draw(); }));
    }
    for (let k = 0; k < 8; k++) times.select.push(timed(() => v.select(targets[k % targets.length])));
    v.destroy();
    host.remove();
    return { n: tree.n, maxDepth: tree.maxDepth, buildMs, first, times, rects };
  }, shape);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

for (const shape of ['broad', 'stacks']) {
  test(`a 100,000-frame graph (${shape}) redraws in ≤ 100 ms (median)`, async (t) => {
    const r = await measureDraw(shape);
    const all = Object.values(r.times).flat();
    const f = (x) => x.toFixed(1);
    t.diagnostic(`draw ${shape}: ${r.n} frames, depth ${r.maxDepth}, ${r.rects} rectangles drawn at full view`);
    t.diagnostic(`draw ${shape}: tree build + layout ${f(r.buildMs)} ms; first draw ${f(r.first)} ms`);
    for (const [k, xs] of Object.entries(r.times)) {
      t.diagnostic(`draw ${shape}: ${k} median ${f(median(xs))} ms, max ${f(Math.max(...xs))} ms (${xs.length} redraws: ${xs.map(f).join(" ")})`);
    }
    t.diagnostic(`draw ${shape}: all redraws median ${f(median(all))} ms, max ${f(Math.max(...all))} ms (${all.length})`);
    assert.ok(r.n >= 100000, `the tree has ${r.n} frames`);
    assert.ok(median(all) <= 100, `median redraw ${f(median(all))} ms > 100 ms`);
  });
}

test('the browser console stayed free of errors', () => {
  assert.deepEqual(consoleErrors, []);
});
