// analytics.test.mjs - latency analytics end to end: /api/v1/performance/*
// and q= on /api/v1/traces, against a real server fed OTLP/JSON.
//
// A seeded generator makes requests with known durations, services and
// statuses over five minutes of the past hour; the test computes every
// expected figure itself (exact quantiles by rank) and checks the answers:
// counts and error rates exactly, percentiles within the sketch's 1%.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { hotpathBin, startServer } from './lib/server.mjs';
import { getJson, jsonTraceRequest, postOtlpJson, postSlowShare, sleep, spanId, traceId } from './lib/util.mjs';
import { gaussian, rng } from './lib/random.mjs';

const MS = 1_000_000;
const N = 420;

const SERVICES = [
	{ name: 'checkout', env: 'production', version: '2.1.0', routes: ['/api/cart', '/api/pay'], scale: 180 },
	{ name: 'orders', env: 'production', version: '1.4.2', routes: ['/api/orders'], scale: 90 },
	{ name: 'search', env: 'staging', version: '0.9.0', routes: ['/api/search'], scale: 40 },
];
const TIER_EDGES_MS = [100, 500, 2000];

/** The generated requests: {traceId, spanId, service, env, version, endpoint, startNs, durNs, status}. */
function generate(baseNs) {
	const rand = rng(20240611);
	const gauss = () => gaussian(rand);
	const reqs = [];
	for (let i = 0; i < N; i++) {
		const svc = SERVICES[i % SERVICES.length];
		const route = svc.routes[Math.floor(rand() * svc.routes.length)];
		let ms;
		// lognormal, kept away (2%) from the tier edges so tiers are exact
		do {
			ms = svc.scale * Math.exp(0.9 * gauss());
		} while (ms < 0.05 || ms > 20000 || TIER_EDGES_MS.some((e) => Math.abs(ms - e) < e * 0.02));
		const durNs = Math.round(ms * 1000) * 1000; // whole microseconds
		const u = rand();
		const status = u < 0.08 ? 'error' : u < 0.12 ? 'timeout' : 'ok';
		// five minutes, spread evenly, away from the minute edges
		const minute = i % 5;
		const startNs = baseNs + BigInt(minute) * 60_000_000_000n + BigInt(1 + Math.floor(rand() * 50)) * 1_000_000_000n + BigInt(i) * 1000n;
		reqs.push({
			traceId: traceId(), spanId: spanId(), service: svc.name, env: svc.env, version: svc.version,
			endpoint: `GET ${route}`, route, startNs, durNs, status,
		});
	}
	return reqs;
}

/** OTLP/JSON: one SERVER root per request with a db.query and a render child. */
function otlpBody(reqs) {
	const resources = SERVICES.map((svc) => ({
		attrs: { 'service.name': svc.name, 'deployment.environment': svc.env, 'service.version': svc.version },
		spans: [],
	}));
	const statusOf = new Map();
	for (const r of reqs) {
		const res = resources[SERVICES.findIndex((s) => s.name === r.service)];
		const attrs = { 'http.request.method': 'GET', 'http.route': r.route };
		if (r.status === 'error') attrs['http.response.status_code'] = 500;
		if (r.status === 'timeout') attrs['error.type'] = 'TimeoutError';
		const end = r.startNs + BigInt(r.durNs);
		res.spans.push({ traceId: r.traceId, spanId: r.spanId, name: r.endpoint, kind: 2, start: r.startNs, end, attrs });
		if (r.status !== 'ok') statusOf.set(r.spanId, { code: 2, message: r.status === 'timeout' ? 'deadline exceeded' : 'internal error' });
		const db = Math.floor(r.durNs * 0.4), render = Math.floor(r.durNs * 0.3);
		const dbStart = r.startNs + BigInt(Math.floor(r.durNs * 0.05));
		const renderStart = r.startNs + BigInt(Math.floor(r.durNs * 0.5));
		res.spans.push({ traceId: r.traceId, spanId: spanId(), parentSpanId: r.spanId, name: 'db.query', kind: 3, start: dbStart, end: dbStart + BigInt(db), attrs: { 'db.system': 'postgresql' } });
		// search requests call a tool: the request's tool comes from its child span
		const renderAttrs = r.service === 'search' ? { 'gen_ai.tool.name': 'web_search' } : {};
		res.spans.push({ traceId: r.traceId, spanId: spanId(), parentSpanId: r.spanId, name: 'render', kind: 1, start: renderStart, end: renderStart + BigInt(render), attrs: renderAttrs });
		r.dbNs = db;
		r.renderNs = render;
	}
	const body = jsonTraceRequest(resources);
	for (const rs of body.resourceSpans) {
		for (const sp of rs.scopeSpans[0].spans) {
			if (statusOf.has(sp.spanId)) sp.status = statusOf.get(sp.spanId);
		}
	}
	return body;
}

/** Exact q-quantile in ms: the ceil(q n)-th smallest (1-based), as the sketch defines it. */
function quantile(durs, q) {
	const s = [...durs].sort((a, b) => a - b);
	const r = Math.min(Math.max(Math.ceil(q * s.length), 1), s.length);
	return s[r - 1] / MS;
}

function near(got, want, what, rel = 0.01) {
	assert.equal(typeof got, 'number', `${what}: got ${got}, want ${want}`);
	assert.ok(Math.abs(got - want) <= rel * Math.abs(want) + 1e-9, `${what}: got ${got}, want ${want} (±${rel * 100}%)`);
}

function checkPercentiles(obj, durs, what) {
	for (const [key, q] of [['p50_ms', 0.5], ['p75_ms', 0.75], ['p90_ms', 0.9], ['p95_ms', 0.95], ['p99_ms', 0.99]]) {
		if (obj[key] === undefined) continue;
		near(obj[key], quantile(durs, q), `${what} ${key}`);
	}
}

const expectedFailures = (reqs) => ({
	errors: reqs.filter((r) => r.status === 'error').length,
	timeouts: reqs.filter((r) => r.status === 'timeout').length,
});

describe('latency analytics', () => {
	let srv, reqs;
	const api = (path, params = {}) => getJson(`${srv.url}${path}?${new URLSearchParams({ range: '1h', ...params })}`);
	const ok = async (path, params) => {
		const r = await api(path, params);
		assert.equal(r.status, 200, `${path} ${JSON.stringify(params)}: ${r.text.slice(0, 500)}`);
		return r.json;
	};

	before(async () => {
		srv = await startServer();
		const nowNs = BigInt(Date.now()) * 1_000_000n;
		const baseNs = (nowNs - 40n * 60_000_000_000n) / 60_000_000_000n * 60_000_000_000n; // a whole minute, 40 min ago
		reqs = generate(baseNs);
		await postOtlpJson(srv.url, otlpBody(reqs));
	});
	after(() => srv?.dispose());

	test('summary: counts and error rate exact, percentiles within 1%', async () => {
		const s = await ok('/api/v1/performance/summary');
		const { errors, timeouts } = expectedFailures(reqs);
		const durs = reqs.map((r) => r.durNs);
		assert.equal(s.source, 'rollups');
		assert.equal(s.resolution_s, 60);
		assert.equal(s.error_bound, 0.01);
		assert.equal(s.count, N);
		assert.equal(s.errors, errors);
		assert.equal(s.timeouts, timeouts);
		assert.deepEqual(s.by_status, { success: N - errors - timeouts, error: errors, timeout: timeouts });
		assert.equal(s.error_rate, (errors + timeouts) / N);
		near(s.rps, N / s.range_s, 'rps', 1e-9);
		const types = Object.fromEntries(s.errors_by_type.map((t) => [t.type, t.count]));
		assert.deepEqual(types, { 'HTTP 500': errors, timeout: timeouts });
		checkPercentiles(s, durs, 'summary');
		near(s.max_ms, Math.max(...durs) / MS, 'max', 1e-9);
		near(s.min_ms, Math.min(...durs) / MS, 'min', 1e-9);
		near(s.mean_ms, durs.reduce((a, b) => a + b, 0) / N / MS, 'mean', 1e-9);
	});

	test('summary with filters: service, env, status, tier', async () => {
		for (const svc of SERVICES) {
			const sub = reqs.filter((r) => r.service === svc.name);
			const s = await ok('/api/v1/performance/summary', { service: svc.name });
			assert.equal(s.count, sub.length, svc.name);
			const f = expectedFailures(sub);
			assert.equal(s.errors, f.errors, `${svc.name} errors`);
			checkPercentiles(s, sub.map((r) => r.durNs), svc.name);
		}
		const staging = await ok('/api/v1/performance/summary', { env: 'staging' });
		assert.equal(staging.count, reqs.filter((r) => r.env === 'staging').length);
		const errs = await ok('/api/v1/performance/summary', { status: 'error' });
		assert.equal(errs.count, expectedFailures(reqs).errors);
		const tiers = { fast: [0, 100], normal: [100, 500], slow: [500, 2000], critical: [2000, Infinity] };
		for (const [tier, [lo, hi]] of Object.entries(tiers)) {
			const sub = reqs.filter((r) => r.durNs / MS >= lo && r.durNs / MS < hi);
			const s = await ok('/api/v1/performance/summary', { tier });
			assert.equal(s.count, sub.length, `tier ${tier}`);
			if (sub.length) checkPercentiles(s, sub.map((r) => r.durNs), `tier ${tier}`);
		}
	});

	test('timeseries: per-minute buckets and group_by', async () => {
		const ts = await ok('/api/v1/performance/timeseries', { step: '60' });
		assert.equal(ts.step_s, 60);
		assert.equal(ts.group_by, null);
		assert.equal(ts.series.length, 1);
		const pts = ts.series[0].points;
		assert.equal(pts.length, ts.times_ms.length);
		assert.equal(pts.reduce((a, p) => a + p.count, 0), N);
		const byMinute = new Map();
		for (const r of reqs) {
			const t = Number(r.startNs / 60_000_000_000n) * 60000;
			(byMinute.get(t) || byMinute.set(t, []).get(t)).push(r);
		}
		for (const p of pts) {
			const sub = byMinute.get(p.t_ms) || [];
			assert.equal(p.count, sub.length, `bucket ${p.t_ms}`);
			if (!sub.length) {
				assert.equal(p.p95_ms, null);
				continue;
			}
			const f = expectedFailures(sub);
			assert.equal(p.errors, f.errors);
			assert.equal(p.timeouts, f.timeouts);
			near(p.rps, sub.length / 60, 'bucket rps', 1e-9);
			checkPercentiles(p, sub.map((r) => r.durNs), `bucket ${p.t_ms}`);
		}
		const five = await ok('/api/v1/performance/timeseries', { step: '300' });
		assert.equal(five.series[0].points.reduce((a, p) => a + p.count, 0), N);

		const g = await ok('/api/v1/performance/timeseries', { step: '60', group_by: 'service', top: '2' });
		assert.equal(g.group_by, 'service');
		assert.equal(g.series.length, 3); // two services and "other"
		const counts = SERVICES.map((s) => reqs.filter((r) => r.service === s.name).length).sort((a, b) => b - a);
		assert.deepEqual(g.series.map((s) => s.count), counts);
		assert.equal(g.series[2].other, true);
		for (const s of g.series) assert.equal(s.points.reduce((a, p) => a + p.count, 0), s.count);
	});

	test('compare by service: rows and p95 trend', async () => {
		const c = await ok('/api/v1/performance/compare', { by: 'service' });
		assert.equal(c.by, 'service');
		assert.equal(c.count, N);
		assert.equal(c.rows.length, SERVICES.length);
		for (const svc of SERVICES) {
			const row = c.rows.find((r) => r.key === svc.name);
			const sub = reqs.filter((r) => r.service === svc.name);
			const f = expectedFailures(sub);
			assert.ok(row, `row ${svc.name}`);
			assert.equal(row.count, sub.length);
			assert.equal(row.error_rate, (f.errors + f.timeouts) / sub.length);
			checkPercentiles(row, sub.map((r) => r.durNs), `compare ${svc.name}`);
			assert.equal(row.p95_trend_ms.length, c.times_ms.length);
			assert.equal(row.p95_trend_ms.filter((v) => v !== null).length > 0, true);
		}
		const byEndpoint = await ok('/api/v1/performance/compare', { by: 'endpoint' });
		const endpoints = new Set(reqs.map((r) => r.endpoint));
		assert.equal(byEndpoint.rows.length, endpoints.size);
		for (const row of byEndpoint.rows) assert.equal(row.count, reqs.filter((r) => r.endpoint === row.key).length);
	});

	test('heatmap and distribution totals equal the count', async () => {
		const h = await ok('/api/v1/performance/heatmap', { kind: 'latency', step: '60' });
		assert.equal(h.count, N);
		assert.equal(h.counts.length, h.times_ms.length);
		let total = 0;
		h.counts.forEach((col, t) => {
			assert.equal(col.length, h.bins.length);
			const sum = col.reduce((a, b) => a + b, 0);
			assert.equal(sum, h.totals[t]);
			total += sum;
		});
		assert.equal(total, N);
		const p = await ok('/api/v1/performance/heatmap', { kind: 'percentile', step: '60' });
		assert.equal(p.totals.reduce((a, b) => a + b, 0), N);
		for (const k of ['p50_ms', 'p75_ms', 'p90_ms', 'p95_ms', 'p99_ms']) assert.equal(p.percentiles[k].length, p.times_ms.length);

		const d = await ok('/api/v1/performance/distribution', { bins: '30' });
		assert.equal(d.count, N);
		assert.ok(d.bins.length <= 30 && d.bins.length > 1, `${d.bins.length} bins`);
		assert.equal(d.bins.reduce((a, b) => a + b.count, 0), N);
		for (let i = 1; i < d.bins.length; i++) near(d.bins[i].lo_ms, d.bins[i - 1].hi_ms, 'bins are contiguous', 1e-9);
		const durs = reqs.map((r) => r.durNs);
		// every value lies in the bin whose (lo, hi] holds it
		for (const b of d.bins) {
			const inBin = durs.filter((v) => v / MS > b.lo_ms * (1 + 1e-12) && v / MS <= b.hi_ms * (1 - 1e-12)).length;
			assert.ok(Math.abs(inBin - b.count) <= 1, `bin (${b.lo_ms}, ${b.hi_ms}]: ${b.count} vs ${inBin}`);
		}
		checkPercentiles(d, durs, 'distribution');
	});

	test('breakdown: self time by span name, shares sum to 1', async () => {
		const b = await ok('/api/v1/performance/breakdown');
		assert.equal(b.source, 'spans');
		assert.equal(b.requests, N);
		assert.equal(b.truncated, false);
		assert.equal(b.spans, 3 * N);
		const share = b.rows.reduce((a, r) => a + r.share, 0);
		near(share, 1, 'shares', 1e-9);
		const totalNs = reqs.reduce((a, r) => a + r.durNs, 0);
		near(b.total_ms, totalNs / MS, 'total_ms', 1e-9);
		const dbNs = reqs.reduce((a, r) => a + r.dbNs, 0);
		const db = b.rows.filter((r) => r.name === 'db.query');
		assert.equal(db.reduce((a, r) => a + r.count, 0), N);
		near(db.reduce((a, r) => a + r.share, 0), dbNs / totalNs, 'db.query share', 1e-9);
		const checkout = await ok('/api/v1/performance/breakdown', { service: 'checkout' });
		assert.equal(checkout.requests, reqs.filter((r) => r.service === 'checkout').length);
	});

	test('q= filters requests from raw spans', async () => {
		const slow = reqs.filter((r) => r.durNs > 300 * MS);
		const s = await ok('/api/v1/performance/summary', { q: 'duration > 300ms' });
		assert.equal(s.source, 'spans');
		assert.equal(s.count, slow.length);
		const f = expectedFailures(slow);
		assert.equal(s.errors, f.errors);
		assert.equal(s.timeouts, f.timeouts);
		checkPercentiles(s, slow.map((r) => r.durNs), 'q summary');

		const orders = reqs.filter((r) => r.service === 'orders' && r.status !== 'ok');
		const s2 = await ok('/api/v1/performance/summary', { q: 'resource.service.name = "orders" && status = error' });
		assert.equal(s2.count, orders.length);

		// q matching everything agrees with the rollups exactly on counts
		const all = await ok('/api/v1/performance/compare', { by: 'service', q: 'duration >= 0ms' });
		const roll = await ok('/api/v1/performance/compare', { by: 'service' });
		assert.equal(all.source, 'spans');
		assert.deepEqual(all.rows.map((r) => [r.key, r.count, r.errors]), roll.rows.map((r) => [r.key, r.count, r.errors]));

		// the tool of a request comes from another span of its trace, in both paths
		const toolsQ = await ok('/api/v1/performance/compare', { by: 'tool', q: 'duration >= 0ms' });
		const tools = await ok('/api/v1/performance/compare', { by: 'tool' });
		const searchN = reqs.filter((r) => r.service === 'search').length;
		assert.deepEqual(tools.rows.map((r) => [r.key, r.count]), [[null, N - searchN], ['web_search', searchN]].sort((a, b) => b[1] - a[1]));
		assert.deepEqual(toolsQ.rows.map((r) => [r.key, r.count]), tools.rows.map((r) => [r.key, r.count]));
		const toolQ = await ok('/api/v1/performance/summary', { tool: 'web_search', q: 'duration > 300ms' });
		assert.equal(toolQ.count, slow.filter((r) => r.service === 'search').length);

		const ts = await ok('/api/v1/performance/timeseries', { q: 'duration > 300ms', group_by: 'service' });
		for (const series of ts.series) assert.equal(series.count, slow.filter((r) => r.service === series.key).length);

		const tr = await ok('/api/v1/traces', { q: 'duration > 300ms', limit: '1000' });
		assert.equal(tr.count, slow.length);
		assert.deepEqual(new Set(tr.traces.map((t) => t.trace_id)), new Set(slow.map((r) => r.traceId)));
		const few = await ok('/api/v1/traces', { q: 'duration > 300ms', limit: '5', order: 'slowest' });
		assert.equal(few.count, 5);
		const slowest = [...slow].sort((a, b) => b.durNs - a.durNs).slice(0, 5).map((r) => r.traceId);
		assert.deepEqual(few.traces.map((t) => t.trace_id), slowest);
		const plain = await ok('/api/v1/traces', { limit: '1000' });
		assert.equal(plain.count, N);

		const bd = await ok('/api/v1/performance/breakdown', { q: 'duration > 300ms' });
		assert.equal(bd.requests, slow.length);
	});

	test('hotpath top --once prints endpoints by impact', async () => {
		const { stdout } = await promisify(execFile)(hotpathBin(), ['top', '--server', srv.url, '--once', '--range', '1h']);
		const lines = stdout.split('\n');
		assert.match(lines[0], new RegExp(`${N} requests`));
		const header = lines.findIndex((l) => l.startsWith('ENDPOINT'));
		assert.ok(header > 0, stdout);
		const rows = lines.slice(header + 1).filter((l) => l.trim()).map((l) => l.trim().split(/\s+/));
		const endpoints = [...new Set(reqs.map((r) => r.endpoint))];
		assert.equal(rows.length, endpoints.length, stdout);
		const impact = (ep) => {
			const sub = reqs.filter((r) => r.endpoint === ep);
			return sub.length * quantile(sub.map((r) => r.durNs), 0.95);
		};
		// sorted by the printed impact (count x p95, in s), which is within
		// the sketch's 1% of the exact one
		assert.deepEqual(new Set(rows.map((r) => `${r[0]} ${r[1]}`)), new Set(endpoints));
		for (let i = 1; i < rows.length; i++) assert.ok(Number(rows[i][8]) <= Number(rows[i - 1][8]), stdout);
		for (const r of rows) {
			const ep = `${r[0]} ${r[1]}`;
			assert.equal(Number(r[2]), reqs.filter((x) => x.endpoint === ep).length, ep);
			near(Number(r[8]), impact(ep) / 1000, `impact of ${ep}`, 0.0101);
		}
	});

	test('invalid parameters answer 400 naming the parameter', async () => {
		const cases = [
			['/api/v1/performance/summary', { range: 'forever' }, 'range'],
			['/api/v1/performance/summary', { tier: 'glacial' }, 'tier'],
			['/api/v1/performance/summary', { status: 'sad' }, 'status'],
			['/api/v1/performance/timeseries', { step: '7' }, 'step'],
			['/api/v1/performance/timeseries', { step: 'often' }, 'step'],
			['/api/v1/performance/timeseries', { range: '24h', step: '60' }, 'step'],
			['/api/v1/performance/timeseries', { range: '30d', step: '60' }, 'step'],
			['/api/v1/performance/timeseries', { group_by: 'colour' }, 'group_by'],
			['/api/v1/performance/timeseries', { top: '0' }, 'top'],
			['/api/v1/performance/compare', { by: 'colour' }, 'by'],
			['/api/v1/performance/heatmap', { kind: 'temperature' }, 'kind'],
			['/api/v1/performance/distribution', { bins: 'many' }, 'bins'],
			['/api/v1/performance/summary', { q: 'duration >' }, 'q'],
			['/api/v1/performance/breakdown', { q: 'name = ' }, 'q'],
			['/api/v1/traces', { q: '(duration > 1ms' }, 'q'],
		];
		for (const [path, params, name] of cases) {
			const r = await api(path, params);
			assert.equal(r.status, 400, `${path} ${JSON.stringify(params)}: ${r.text}`);
			const msg = r.json?.error?.message || '';
			assert.match(msg, new RegExp(`\\b${name}\\b`), `${path} ${JSON.stringify(params)}: ${msg}`);
			if (name === 'q') assert.match(msg, /column \d+/, msg);
		}
	});
});

// Filter keywords, endpoints of servers without http.route, and spike
// alerts that follow the slow share: each against its own server.
describe('filter keywords', () => {
	let srv;
	const api = (path, params = {}) => getJson(`${srv.url}${path}?${new URLSearchParams({ range: '1h', ...params })}`);
	// Deployments, stored in this order: [service, env, version, requests,
	// minutes ago, ms each].  admin's newest (9.9-hotfix) is not its highest
	// version string; cron's version is literally "latest"; one shop
	// instance still serves 2.4.0 after 2.5.0 appeared.
	const deployments = [
		['shop', 'production', '2.4.0', 5, 40, 600],
		['admin', 'staging', '10.0', 4, 35, 20],
		['cron', 'production', 'latest', 3, 30, 20],
		['shop', 'production', '2.5.0', 6, 20, 600],
		['admin', 'staging', '9.9-hotfix', 2, 10, 20],
		['shop', 'production', '2.4.0', 1, 5, 600],
	];
	const newest = { admin: '9.9-hotfix', cron: 'latest', shop: '2.5.0' };
	const count = (pred) => deployments.filter(pred).reduce((n, d) => n + d[3], 0);
	const ofNewest = (svc) => count(([s, , v]) => s === svc && v === newest[svc]);

	before(async () => {
		srv = await startServer();
		// one write each, in order: the server's first-seen order is this one
		for (const [name, env, version, n, ago, ms] of deployments) {
			const t0 = (BigInt(Date.now()) - BigInt(ago) * 60_000n) * 1_000_000n;
			const spans = Array.from({ length: n }, (_, i) => ({
				traceId: traceId(), spanId: spanId(), name: 'GET /x', kind: 2,
				start: t0 + BigInt(i) * 1_000_000_000n, end: t0 + BigInt(i) * 1_000_000_000n + BigInt(ms) * 1_000_000n,
				attrs: { 'http.request.method': 'GET', 'http.route': '/x' },
			}));
			const attrs = { 'service.name': name, 'deployment.environment.name': env, 'service.version': version };
			await postOtlpJson(srv.url, jsonTraceRequest([{ attrs, spans }]));
		}
	});
	after(() => srv?.dispose());

	test('env=all is no environment filter', async () => {
		const all = await api('/api/v1/performance/summary', { env: 'all' });
		assert.equal(all.status, 200, all.text);
		assert.equal(all.json.count, count(() => true), 'every environment');
		const prod = await api('/api/v1/performance/summary', { env: 'production' });
		assert.equal(prod.json.count, count(([, env]) => env === 'production'), 'a real environment still filters');
		const alias = await api('/api/v1/traces', { environment: 'all', limit: '100' });
		assert.equal(alias.status, 200, alias.text);
		assert.equal(alias.json.traces.length, count(() => true), 'environment=all too');
	});

	test('version=latest is the newest version of each service, not the highest string', async () => {
		const f = await api('/api/v1/filters');
		assert.equal(f.status, 200, f.text);
		assert.deepEqual(f.json.latest_versions, newest, 'the filters say what latest means');
		const fleetWide = ofNewest('shop') + ofNewest('admin') + ofNewest('cron');
		const sum = await api('/api/v1/performance/summary', { version: 'latest' });
		assert.equal(sum.status, 200, sum.text);
		assert.deepEqual(sum.json.resolved_versions, newest, 'the answer says what it counted');
		assert.equal(sum.json.count, fleetWide, 'fleet-wide: each service at its newest version');
		const byService = await api('/api/v1/performance/compare', { version: 'latest', by: 'service' });
		assert.equal(byService.status, 200, byService.text);
		const rows = Object.fromEntries(byService.json.rows.map((r) => [r.key, r.count]));
		assert.deepEqual(rows, { shop: ofNewest('shop'), admin: ofNewest('admin'), cron: ofNewest('cron') });
		for (const svc of Object.keys(newest)) {
			const one = await api('/api/v1/performance/summary', { version: 'latest', service: svc });
			assert.equal(one.json.count, ofNewest(svc), `${svc}: its newest version's requests`);
			assert.deepEqual(one.json.resolved_versions, { [svc]: newest[svc] });
		}
		const prod = await api('/api/v1/performance/summary', { version: 'latest', env: 'production' });
		assert.deepEqual(prod.json.resolved_versions, { cron: 'latest', shop: '2.5.0' }, 'only the services selected');
		assert.equal(prod.json.count, ofNewest('shop') + ofNewest('cron'));
		const tr = await api('/api/v1/traces', { version: 'latest', limit: '100' });
		assert.equal(tr.status, 200, tr.text);
		assert.equal(tr.json.traces.length, fleetWide);
		assert.deepEqual(tr.json.traces.filter((t) => t.version !== newest[t.service]), [], 'no older version listed');
	});

	test('version=latest applies to tiers, slow requests and each flame graph side', async () => {
		const slowTier = await api('/api/v1/performance/summary', { version: 'latest', service: 'shop', tier: 'slow' });
		assert.equal(slowTier.json.count, ofNewest('shop'), 'the newest version, not the tier, decides');
		const slow = await api('/api/v1/slow-requests', { version: 'latest', min_duration: '500', limit: '100' });
		assert.equal(slow.status, 200, slow.text);
		assert.equal(slow.json.matched, ofNewest('shop'), 'only shop 2.5.0 is slow at its newest version');
		assert.deepEqual(slow.json.requests.filter((r) => r.version !== '2.5.0'), []);
		const flame = await api('/api/v1/flamegraph', { service: 'shop', 'base.version': '2.4.0', 'compare.version': 'latest' });
		assert.equal(flame.status, 200, flame.text);
		assert.equal(flame.json.base.traces, count(([s, , v]) => s === 'shop' && v === '2.4.0'));
		assert.equal(flame.json.compare.traces, ofNewest('shop'));
	});

	test('a version literally named latest is matched where it is its service\'s newest', async () => {
		const r = await api('/api/v1/performance/summary', { version: 'latest', service: 'cron' });
		assert.equal(r.status, 200, r.text);
		assert.equal(r.json.count, ofNewest('cron'), 'the requests of the version named "latest"');
	});

	test('a range without requests resolves to no version and counts nothing', async () => {
		const r = await api('/api/v1/performance/summary', { version: 'latest', from: String(Date.now() - 60_000) });
		assert.equal(r.status, 200, r.text);
		assert.deepEqual(r.json.resolved_versions, {});
		assert.equal(r.json.count, 0);
	});
});

describe('endpoints of servers without http.route', () => {
	let srv;
	const api = (path, params = {}) => getJson(`${srv.url}${path}?${new URLSearchParams({ range: '1h', ...params })}`);
	// what Node's plain http instrumentation sends: the span named by the method alone
	const paths = [
		['/users/123/profile?tab=orders', 'GET /users/{id}/profile'],
		['/users/98765/profile', 'GET /users/{id}/profile'],
		['/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301', 'GET /orders/{id}'],
		['/reports/2024-01-02', 'GET /reports/{date}'],
		['/v2/items', 'GET /v2/items'],
	];

	before(async () => {
		srv = await startServer();
		const t0 = (BigInt(Date.now()) - 5n * 60_000n) * 1_000_000n;
		const spans = paths.map(([p], i) => ({
			traceId: traceId(), spanId: spanId(), name: 'GET', kind: 2,
			start: t0 + BigInt(i) * 1_000_000_000n, end: t0 + BigInt(i) * 1_000_000_000n + 30_000_000n,
			attrs: i % 2 ? { 'http.method': 'GET', 'http.target': p } : { 'http.request.method': 'GET', 'url.path': p },
		}));
		spans.push({
			traceId: traceId(), spanId: spanId(), name: 'GET', kind: 2, start: t0, end: t0 + 30_000_000n,
			attrs: { 'http.request.method': 'GET', 'url.path': '/users/5/profile', 'http.route': '/users/:id/profile' },
		});
		await postOtlpJson(srv.url, jsonTraceRequest([{ attrs: { 'service.name': 'plain-http' }, spans }]));
	});
	after(() => srv?.dispose());

	test('the templated path is the endpoint; a real route wins', async () => {
		const r = await api('/api/v1/traces', { limit: '100' });
		assert.equal(r.status, 200, r.text);
		const got = r.json.traces.map((t) => t.endpoint).sort();
		const want = [...paths.map(([, e]) => e), 'GET /users/:id/profile'].sort();
		assert.deepEqual(got, want);
		const one = await api('/api/v1/performance/summary', { endpoint: 'GET /users/{id}/profile' });
		assert.equal(one.status, 200, one.text);
		assert.equal(one.json.count, 2, 'two ids, one endpoint');
	});
});

describe('slow request spikes follow the slow share', () => {
	let srv;
	// the background check runs every second here; a GET never stores alerts
	const ARGS = ['--spike-interval', '1'];
	const alerts = async (s = srv) => (await getJson(`${s.url}/api/v1/slow-requests/alerts`)).json;
	// alerts once at least n are stored (the check runs in the background)
	async function alertsAtLeast(n) {
		const end = Date.now() + 15000;
		for (;;) {
			const a = await alerts();
			if (a.count >= n || Date.now() > end) return a;
			await sleep(200);
		}
	}
	// n requests of service "steady", `slow` of them over the 1 s http
	// threshold, spread over the minute starting minutesAgo before now
	const post = (minutesAgo, n, slow, s = srv) => postSlowShare(s.url, minutesAgo, n, slow);
	const history = async (s) => {
		// an hour at 20 requests a window, 10 % slow, each batch mid-window
		for (let w = 0; w < 12; w++) await post(62.5 - 5 * w, 20, 2, s);
	};

	before(async () => {
		srv = await startServer({ args: ARGS });
		await history(srv);
	});
	after(() => srv?.dispose());

	test('ten times the traffic at the same share: no alert', async () => {
		await post(2.5, 200, 20);
		await sleep(2500); // two background checks
		const a = await alerts();
		assert.equal(a.count, 0, `a traffic step is no spike: ${JSON.stringify(a).slice(0, 300)}`);
	});

	test('a rise of the share: one alert per scope, then none while it lasts', async () => {
		await post(2.5, 60, 60); // now 80 slow of 260: 31 % against 10 %
		const got = await alertsAtLeast(2);
		assert.deepEqual(got.alerts.map((a) => a.scope).sort(), ['*', 'steady'], JSON.stringify(got).slice(0, 300));
		const mine = got.alerts.find((a) => a.scope === 'steady');
		assert.equal(mine.count, 80);
		assert.equal(mine.total, 260);
		near(mine.share, 80 / 260, 'share', 1e-9);
		near(mine.baseline_share, 0.1, 'baseline share', 1e-9);
		near(mine.baseline, 26, 'the slow count usual at this traffic', 1e-9);
		await sleep(2500); // two more background checks
		assert.equal((await alerts()).count, 2, 'the same rise does not alert again');
	});

	test('a GET stores nothing: the slow-requests answer does not run the check', async () => {
		const quiet = await startServer({ args: ['--spike-interval', '86400'] });
		try {
			await history(quiet);
			await post(2.5, 60, 60, quiet);
			const r = await getJson(`${quiet.url}/api/v1/slow-requests?range=15m&limit=1`);
			assert.equal(r.status, 200, r.text);
			assert.ok(r.json.matched >= 60, `the slow requests are listed: ${r.json.matched}`);
			assert.equal(r.json.new_alerts, undefined, 'the answer no longer says what a check stored');
			assert.equal((await alerts(quiet)).count, 0, 'no alert stored by a read');
		} finally {
			await quiet.dispose();
		}
	});
});

// One user request through gateway -> agent is one request of the fleet,
// whichever order the two services' exports arrive in; per-service figures
// count each service's entry spans.  Tier counts are exact even for
// durations within 1% of a tier bound.
describe('counting requests: edge requests and exact tiers', () => {
	let srv;
	const TRACES = 40;
	const api = async (path, params = {}) => {
		const r = await getJson(`${srv.url}${path}?${new URLSearchParams({ range: '1h', ...params })}`);
		assert.equal(r.status, 200, `${path} ${JSON.stringify(params)}: ${r.text.slice(0, 500)}`);
		return r.json;
	};
	const gwAttrs = { 'service.name': 'gateway', 'deployment.environment': 'production' };
	const agAttrs = { 'service.name': 'agent', 'deployment.environment': 'production' };
	const edge = []; // {traceId, durNs}: the gateway's SERVER spans
	const agentDurs = [];
	const mix = []; // durations of the single-span requests of `tiers`

	before(async () => {
		srv = await startServer();
		const t0 = (BigInt(Date.now()) - 20n * 60000n) * 1_000_000n;
		for (let i = 0; i < TRACES; i++) {
			const tid = traceId(), gwServer = spanId(), gwClient = spanId(), agServer = spanId();
			const start = t0 + BigInt(i) * 10_000_000_000n;
			// every 8th request is slow: the agent waits 2.3 s
			const agentNs = i % 8 === 0 ? 2_300_000_000 : 40_000_000 + i * 1_000_000;
			const gwNs = agentNs + 6_000_000;
			edge.push({ traceId: tid, durNs: gwNs });
			agentDurs.push(agentNs);
			const gateway = [
				{ traceId: tid, spanId: gwServer, name: 'POST /chat', kind: 2, start, end: start + BigInt(gwNs), attrs: { 'http.request.method': 'POST', 'http.route': '/chat' } },
				{ traceId: tid, spanId: gwClient, parentSpanId: gwServer, name: 'POST', kind: 3, start: start + 2_000_000n, end: start + BigInt(agentNs + 4_000_000), attrs: { 'http.request.method': 'POST' } },
			];
			const agent = [
				{ traceId: tid, spanId: agServer, parentSpanId: gwClient, name: 'POST /run', kind: 2, start: start + 3_000_000n, end: start + 3_000_000n + BigInt(agentNs), attrs: { 'http.request.method': 'POST', 'http.route': '/run' } },
			];
			// each service exports on its own; half the time the agent's batch comes first
			const gwBody = jsonTraceRequest([{ attrs: gwAttrs, spans: gateway }]);
			const agBody = jsonTraceRequest([{ attrs: agAttrs, spans: agent }]);
			for (const body of i % 2 ? [agBody, gwBody] : [gwBody, agBody]) await postOtlpJson(srv.url, body);
		}
		// 2,000 single-span requests of `tiers`, many within 1% of a bound
		const rand = rng(7);
		for (const b of [100, 500, 2000]) {
			for (const off of [-0.009, -0.004, -0.000001, 0, 0.000001, 0.004, 0.009]) {
				for (let k = 0; k < 3; k++) mix.push(Math.round(b * (1 + off) * MS));
			}
		}
		while (mix.length < 2000) mix.push(Math.round((1 + rand() * 1900) * MS));
		const spans = mix.map((d, i) => {
			const start = t0 + BigInt(i) * 1_000_000n;
			return { traceId: traceId(), spanId: spanId(), name: 'GET /t', kind: 2, start, end: start + BigInt(d), attrs: { 'http.request.method': 'GET', 'http.route': '/t' } };
		});
		await postOtlpJson(srv.url, jsonTraceRequest([{ attrs: { 'service.name': 'tiers', 'deployment.environment': 'production' }, spans }]));
	});
	after(() => srv?.dispose());

	const tierOf = (ns) => (ns < 100 * MS ? 'fast' : ns < 500 * MS ? 'normal' : ns < 2000 * MS ? 'slow' : 'critical');

	test('the fleet counts each trace once, at its edge request', async () => {
		const s = await api('/api/v1/performance/summary', { endpoint: 'POST /chat' });
		assert.equal(s.count, TRACES);
		const fleet = await api('/api/v1/performance/summary');
		assert.equal(fleet.counted, 'edge requests');
		assert.equal(fleet.count, TRACES + mix.length, 'gateway traces + tier requests, no agent span');
		const fleetGw = edge.map((e) => e.durNs);
		const fleetDurs = [...fleetGw, ...mix];
		checkPercentiles(fleet, fleetDurs, 'fleet');
		const agent = await api('/api/v1/performance/summary', { service: 'agent' });
		assert.equal(agent.counted, 'entry spans of agent');
		assert.equal(agent.count, TRACES);
		checkPercentiles(agent, agentDurs, 'agent');
		const c = await api('/api/v1/performance/compare', { by: 'service' });
		assert.equal(c.counted, 'entry spans of each service');
		assert.deepEqual(Object.fromEntries(c.rows.map((r) => [r.key, r.count])), { tiers: mix.length, gateway: TRACES, agent: TRACES });
		const ts = await api('/api/v1/performance/timeseries');
		assert.equal(ts.series[0].count, TRACES + mix.length);
	});

	test('Traces lists each slow request once; service= lists that service', async () => {
		const slow = edge.filter((e) => e.durNs >= 2000 * MS);
		const tr = await api('/api/v1/traces', { min_duration_ms: '2000', limit: '1000' });
		assert.equal(tr.counted, 'edge requests');
		assert.equal(tr.count, slow.length + mix.filter((d) => d >= 2000 * MS).length);
		const ids = tr.traces.map((t) => t.trace_id);
		assert.equal(new Set(ids).size, ids.length, 'no trace twice');
		for (const e of slow) assert.ok(ids.includes(e.traceId), e.traceId);
		assert.ok(tr.traces.every((t) => t.edge === true));
		const ag = await api('/api/v1/traces', { service: 'agent', min_duration_ms: '2000', limit: '1000' });
		assert.equal(ag.counted, 'entry spans of agent');
		assert.equal(ag.count, slow.length);
		assert.ok(ag.traces.every((t) => t.edge === false && t.service === 'agent'));
		const q = await api('/api/v1/traces', { q: 'duration >= 2s', limit: '1000' });
		assert.equal(q.count, tr.count, 'q= lists each trace once too');
	});

	test('tier counts are exact, percentiles within 1%', async () => {
		const want = { fast: 0, normal: 0, slow: 0, critical: 0 };
		for (const d of mix) want[tierOf(d)]++;
		assert.ok(mix.some((d) => d < 2000 * MS && d > 1990 * MS) && mix.some((d) => d >= 2000 * MS && d < 2010 * MS));
		const all = await api('/api/v1/performance/summary', { service: 'tiers' });
		assert.deepEqual(all.by_tier, want);
		for (const tier of Object.keys(want)) {
			const s = await api('/api/v1/performance/summary', { service: 'tiers', tier });
			assert.equal(s.count, want[tier], `tier ${tier}`);
			assert.equal(s.by_tier[tier], want[tier]);
			checkPercentiles(s, mix.filter((d) => tierOf(d) === tier), `tier ${tier}`);
			const ts = await api('/api/v1/performance/timeseries', { service: 'tiers', tier });
			assert.equal(ts.series[0].count, want[tier], `timeseries tier ${tier}`);
		}
		const over500 = await api('/api/v1/performance/summary', { service: 'tiers', min_duration_ms: '500' });
		assert.equal(over500.count, want.slow + want.critical);
		const cut = await api('/api/v1/performance/summary', { service: 'tiers', min_duration_ms: '300' });
		assert.equal(cut.by_tier.normal, null, 'a tier cut by the bounds has no exact count');
		assert.equal(cut.by_tier.fast, 0);
	});

	test('the tiers are served with the filters: the dashboard keeps no copy', async () => {
		const f = await api('/api/v1/filters');
		const tiers = f.tiers;
		assert.deepEqual(tiers.map((t) => t.id), ['fast', 'normal', 'slow', 'critical']);
		assert.equal(tiers[0].min_ms, 0);
		assert.equal(tiers[tiers.length - 1].max_ms, null);
		for (let i = 1; i < tiers.length; i++) assert.equal(tiers[i].min_ms, tiers[i - 1].max_ms, 'no gap, no overlap');
		// each served tier is the one the tier filter counts
		for (const t of tiers) {
			const inside = mix.filter((d) => d >= t.min_ms * MS && (t.max_ms == null || d < t.max_ms * MS)).length;
			const s = await api('/api/v1/performance/summary', { service: 'tiers', tier: t.id });
			assert.equal(s.count, inside, `tier ${t.id}`);
		}
	});
});
