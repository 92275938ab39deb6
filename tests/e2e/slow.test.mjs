// slow.test.mjs - slow operations, slow requests and bottlenecks end to end:
// thresholds from a config file, the environment and the API (validation,
// persistence across a restart), per-type statistics, the slow request list
// with its phase breakdown, CSV export, spike alerts, the bottleneck
// ranking with the part of the range it covers, and q= on their traces.
//
// Ten requests of service "front", all in the last few minutes (times in ms
// from each request's start):
//   6 x POST /api/checkout  SERVER [0, 1500 + 10 i]        (i = 0..5)
//         auth               INTERNAL [0, 100]
//           GET session      CLIENT redis       [10, 30]    cache, 20 ms
//         SELECT orders      CLIENT postgresql  [100, 700]  database, 600 ms
//         POST               CLIENT api.pay.example [700, 1400]  external, 700 ms
//         response_serialize INTERNAL [1400, 1450]
//     (the last one's route holds a comma and quotes, for the CSV)
//   4 x GET /api/items      SERVER [0, 200]
//         pool.acquire       INTERNAL [0, 50] with db.client.connection.wait_time_ms
//         SELECT items       CLIENT postgresql  [50, 150]
// The config file sets cache_ms 50, HOTPATH_SLOW_DB_MS=400.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { makeTempDir, startServer } from './lib/server.mjs';
import { getJson, jsonTraceRequest, sleep, spanId, traceId } from './lib/util.mjs';

const MS = 1_000_000n;
const near = (got, want, what) => assert.ok(Math.abs(got - want) < 1e-6, `${what}: got ${got}, want ${want}`);

function checkout(startNs, i) {
	const tid = traceId();
	const id = { root: spanId(), auth: spanId(), sess: spanId(), sel: spanId(), pay: spanId(), ser: spanId() };
	const at = (ms) => startNs + BigInt(ms) * MS;
	const span = (sid, parent, name, kind, from, to, attrs) => ({
		traceId: tid, spanId: sid, parentSpanId: parent, name, kind, start: at(from), end: at(to), attrs,
	});
	const route = i === 5 ? '/api/checkout,"x"' : '/api/checkout';
	return {
		traceId: tid,
		duration: 1500 + 10 * i,
		route,
		spans: [
			span(id.root, undefined, 'POST /api/checkout', 2, 0, 1500 + 10 * i,
				{ 'http.request.method': 'POST', 'http.route': route }),
			span(id.auth, id.root, 'auth', 1, 0, 100),
			span(id.sess, id.auth, 'GET session', 3, 10, 30, { 'db.system.name': 'redis' }),
			span(id.sel, id.root, 'SELECT orders', 3, 100, 700, { 'db.system.name': 'postgresql' }),
			span(id.pay, id.root, 'POST', 3, 700, 1400,
				{ 'http.request.method': 'POST', 'server.address': 'api.pay.example' }),
			span(id.ser, id.root, 'response_serialize', 1, 1400, 1450),
		],
	};
}

function items(startNs) {
	const tid = traceId();
	const root = spanId();
	const at = (ms) => startNs + BigInt(ms) * MS;
	return {
		traceId: tid,
		spans: [
			{ traceId: tid, spanId: root, name: 'GET /api/items', kind: 2, start: at(0), end: at(200),
				attrs: { 'http.request.method': 'GET', 'http.route': '/api/items' } },
			{ traceId: tid, spanId: spanId(), parentSpanId: root, name: 'pool.acquire', kind: 1, start: at(0),
				end: at(50), attrs: { 'db.client.connection.wait_time_ms': 50.0 } },
			{ traceId: tid, spanId: spanId(), parentSpanId: root, name: 'SELECT items', kind: 3, start: at(50),
				end: at(150), attrs: { 'db.system.name': 'postgresql' } },
		],
	};
}

async function post(srv, pathName, body) {
	const res = await fetch(`${srv.url}${pathName}`, {
		method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
	});
	assert.equal(res.status, 200, await res.text());
}

async function put(srv, body) {
	const res = await fetch(`${srv.url}/api/v1/slow-operations/thresholds`, {
		method: 'PUT', headers: { 'content-type': 'application/json' }, body,
	});
	return { status: res.status, json: JSON.parse(await res.text()) };
}

describe('slow operations, slow requests, bottlenecks', () => {
	let srv;
	const dataDir = makeTempDir();
	const configDir = makeTempDir('hotpath-config-');
	const config = path.join(configDir, 'hotpath.json');
	const opts = () => ({ dataDir, args: ['--config', config, '--spike-interval', '1'], env: { HOTPATH_SLOW_DB_MS: '400' } });
	const slow = [];
	const fast = [];
	let metricNs;
	const get = (p, query = {}) => getJson(`${srv.url}${p}?${new URLSearchParams({ range: '1h', ...query })}`);

	before(async () => {
		fs.writeFileSync(config, JSON.stringify({ slow_operations: { cache_ms: 50 } }));
		srv = await startServer(opts());
		const base = BigInt(Date.now()) * MS - 200_000n * MS;
		for (let i = 0; i < 6; i++) slow.push(checkout(base + BigInt(i) * 1000n * MS, i));
		for (let i = 0; i < 4; i++) fast.push(items(base + BigInt(10 + i) * 1000n * MS));
		const spans = [...slow, ...fast].flatMap((t) => t.spans);
		await post(srv, '/v1/traces', jsonTraceRequest([{ attrs: { 'service.name': 'front' }, spans }]));
		// one CPU and one memory sample of "front" 30 s after the first request
		metricNs = base + 30_000n * MS;
		const gauge = (name, unit, v) => ({ name, unit, gauge: { dataPoints: [{ timeUnixNano: String(metricNs), asDouble: v }] } });
		await post(srv, '/v1/metrics', {
			resourceMetrics: [{
				resource: { attributes: [{ key: 'service.name', value: { stringValue: 'front' } }] },
				scopeMetrics: [{ metrics: [gauge('process.cpu.utilization', '1', 0.42), gauge('process.memory.usage', 'By', 536870912)] }],
			}],
		});
	});
	after(() => srv?.dispose());

	test('thresholds: defaults, file and environment, with their sources', async () => {
		const r = await get('/api/v1/slow-operations/thresholds');
		assert.equal(r.status, 200, r.text);
		assert.deepEqual(r.json, {
			http_ms: 1000, database_ms: 400, cache_ms: 50, external_ms: 2000, custom: [],
			sources: { http_ms: 'default', database_ms: 'env', cache_ms: 'file', external_ms: 'default', custom: 'default' },
		});
	});

	test('statistics past the resource reads\' own limit: one well-formed answer', async () => {
		// the resource snapshot in the answer reads the same filters; a limit
		// the statistics allow (up to 100,000) once had it append an error
		const r = await get('/api/v1/slow-operations/stats', { service: 'front', limit: '100000' });
		assert.equal(r.status, 200, r.text);
		assert.ok(r.json, `not JSON: ${r.text.slice(-120)}`);
		assert.equal(r.json.limit, 100000);
		assert.equal(r.json.requests, 10);
	});

	test('per-type statistics', async () => {
		const r = await get('/api/v1/slow-operations/stats', { service: 'front', limit: '1000' });
		assert.equal(r.status, 200, r.text);
		assert.equal(r.json.requests, 10);
		const by = Object.fromEntries(r.json.types.map((t) => [t.type, t]));
		const rootMs = [...fast.map(() => 200), ...slow.map((t) => t.duration)].sort((a, b) => a - b);
		assert.equal(by.http.count, 10);
		assert.equal(by.http.slow, 6);
		near(by.http.slow_pct, 60, 'http slow %');
		near(by.http.min_ms, 200, 'http min');
		near(by.http.max_ms, 1550, 'http max');
		near(by.http.p95_ms, rootMs[Math.ceil(0.95 * 10) - 1], 'http p95 (nearest rank)');
		near(by.http.avg_ms, rootMs.reduce((a, b) => a + b) / 10, 'http avg');
		assert.deepEqual([by.database.count, by.database.slow, by.database.threshold_ms], [10, 6, 400]);
		near(by.database.avg_ms, (6 * 600 + 4 * 100) / 10, 'database avg');
		assert.deepEqual([by.cache.count, by.cache.slow, by.cache.threshold_ms], [6, 0, 50]);
		assert.deepEqual([by.external.count, by.external.slow], [6, 0]);
		near(by.external.p95_ms, 700, 'external p95');
	});

	test('without filters: statistics and bottlenecks from the aggregates, the same figures', async () => {
		const agg = await get('/api/v1/slow-operations/stats');
		const read = await get('/api/v1/slow-operations/stats', { service: 'front', limit: '1000' });
		assert.equal(agg.status, 200, agg.text);
		assert.equal(agg.json.aggregated.bucket_s, 60);
		assert.equal(read.json.aggregated, undefined, 'an explicit limit reads the spans');
		assert.equal(agg.json.requests, 10);
		assert.equal(agg.json.spans, read.json.spans);
		const by = Object.fromEntries(agg.json.types.map((t) => [t.type, t]));
		for (const want of read.json.types) {
			const got = by[want.type];
			assert.deepEqual([got.count, got.slow, got.threshold_ms], [want.count, want.slow, want.threshold_ms], want.type);
			if (!want.count) continue;
			near(got.min_ms, want.min_ms, `${want.type} min`);
			near(got.max_ms, want.max_ms, `${want.type} max`);
			assert.ok(Math.abs(got.avg_ms - want.avg_ms) < 1e-3, `${want.type} avg: ${got.avg_ms} vs ${want.avg_ms}`);
			assert.ok(Math.abs(got.p95_ms - want.p95_ms) <= 0.01 * want.p95_ms, `${want.type} p95 within 1%`);
		}
		assert.equal(agg.json.totalSlowOperations, read.json.totalSlowOperations, 'the same slow total');
		assert.equal(agg.json.totalSlowOperations, agg.json.types.reduce((n, t) => n + t.slow, 0));
		assert.ok('currentResources' in agg.json, 'the resources beside the aggregates too');
		const bn = await get('/api/v1/bottlenecks');
		const bnRead = await get('/api/v1/bottlenecks', { service: 'front', limit: '1000' });
		assert.equal(bn.status, 200, bn.text);
		assert.equal(bn.json.aggregated.bucket_s, 300);
		assert.deepEqual([bn.json.requests, bn.json.sampled], [10, false]);
		near(bn.json.total_critical_ms, bnRead.json.total_critical_ms, 'total critical time');
		const key = (b) => `${b.component} ${b.span_kind}`;
		// the aggregates keep each example's start: the same resources
		assert.deepEqual(bn.json.bottlenecks[0].resources?.cpu_utilization, 0.42, 'resources from the aggregates');
		assert.equal(bn.json.bottlenecks[0].resources.at_ms, bn.json.bottlenecks[0].examples[0].start_ms);
		assert.deepEqual(bn.json.bottlenecks.map(key), bnRead.json.bottlenecks.map(key), 'the same ranking');
		for (const [i, b] of bn.json.bottlenecks.entries()) {
			const want = bnRead.json.bottlenecks[i];
			near(b.critical_ms_total, want.critical_ms_total, `${key(b)} critical`);
			assert.deepEqual([b.kind, b.requests_affected, b.spans, b.examples.length],
				[want.kind, want.requests_affected, want.spans, want.examples.length], key(b));
		}
		// an explicit limit asks for a bounded sample: the traces are read
		const sample = await get('/api/v1/bottlenecks', { limit: '4' });
		assert.deepEqual([sample.json.aggregated, sample.json.sampled, sample.json.requests], [undefined, true, 4]);
	});

	test('slow requests: list, phases, marks, groups, trend', async () => {
		const r = await get('/api/v1/slow-requests', { group_by: 'endpoint', bucket: '60' });
		assert.equal(r.status, 200, r.text);
		const j = r.json;
		assert.equal(j.min_duration_ms, 1000);
		assert.equal(j.matched, 6);
		assert.deepEqual(j.requests.map((x) => x.trace_id), [...slow].reverse().map((t) => t.traceId), 'slowest first');
		const first = j.requests[0];
		near(first.duration_ms, 1550, 'duration');
		near(first.ratio, 1.55, 'ratio');
		assert.deepEqual(first.phases, {
			auth_ms: 80, rate_limit_ms: 0, plugins_ms: 0, tool_execution_ms: 0, db_ms: 620, llm_ms: 0,
			serialization_ms: 50, external_ms: 700, other_ms: 100,
		});
		near(first.phases_total_ms, first.duration_ms, 'phases add up');
		assert.equal(first.span.attributes['performance.slow'], true);
		assert.equal(first.span.attributes['performance.slow.threshold_ms'], 1000);
		near(first.span.attributes['performance.slow.ratio'], 1.55, 'span ratio');
		assert.equal(first.span.attributes['http.route'], slow[5].route, 'the span keeps its attributes');
		// inside: the query (600 >= 400) and the request itself are slow
		assert.deepEqual(first.slow_spans.map((s) => [s.name, s.type]).sort(),
			[['POST /api/checkout', 'http'], ['SELECT orders', 'database']]);
		const q = first.slow_spans.find((s) => s.name === 'SELECT orders');
		near(q.attributes['performance.slow.ratio'], 1.5, 'query ratio');
		assert.deepEqual(first.resources, { at_ms: Number(BigInt(slow[5].spans[0].start) / MS), time_ms: Number(metricNs / MS), instances: 1,
			cpu_utilization: 0.42, memory_bytes: 536870912, db_connections_used: null, db_connections_max: null });
		assert.equal(first.link, `/dashboard/performance#trace=${first.trace_id}`);
		assert.deepEqual(j.groups.map((g) => [g.key, g.count]), [['POST /api/checkout', 5], ['POST /api/checkout,"x"', 1]]);
		near(j.groups[0].max_ms, 1540, 'group max');
		assert.equal(j.trend.bucket_s, 60);
		assert.equal(j.trend.counts.reduce((a, b) => a + b), 6, 'trend counts every slow request');
		assert.equal(j.trend.times_ms.length, j.trend.counts.length);

		const lower = await get('/api/v1/slow-requests', { min_duration: '150' });
		assert.equal(lower.json.matched, 10, 'min_duration lowers the bar');
		assert.equal(lower.json.requests.at(-1).span.attributes['performance.slow'], false, 'a 200 ms request is not slow for http');
		const bad = await get('/api/v1/slow-requests', { group_by: 'colour' });
		assert.equal(bad.status, 400);
		assert.match(bad.json.error.message, /group_by/);
	});

	test('CSV export', async () => {
		const res = await fetch(`${srv.url}/api/v1/slow-requests?range=1h&format=csv`);
		assert.equal(res.status, 200);
		assert.match(res.headers.get('content-type'), /^text\/csv/);
		const lines = (await res.text()).split('\r\n');
		assert.equal(lines.at(-1), '');
		assert.equal(lines.length, 8, 'header, six rows, final line break');
		assert.equal(lines[0], 'trace_id,span_id,start,service,endpoint,tool,env,version,status,duration_ms,threshold_ms,ratio,'
			+ 'auth_ms,rate_limit_ms,plugins_ms,tool_execution_ms,db_ms,llm_ms,serialization_ms,external_ms,other_ms');
		assert.ok(lines[1].startsWith(`${slow[5].traceId},`));
		assert.ok(lines[1].includes(',front,"POST /api/checkout,""x""",,,,ok,1550.000,1000.000,1.550,80.000,0.000,0.000,0.000,620.000,0.000,50.000,700.000,100.000'), lines[1]);
	});

	test('spike alerts', async () => {
		// stored by the background check (every second here), not by a GET
		let r;
		for (const end = Date.now() + 15000; ;) {
			r = await get('/api/v1/slow-requests/alerts');
			assert.equal(r.status, 200, r.text);
			if (r.json.count >= 2 || Date.now() > end) break;
			await sleep(200);
		}
		const scopes = Object.fromEntries(r.json.alerts.map((a) => [a.scope, a]));
		assert.deepEqual(Object.keys(scopes).sort(), ['*', 'front']);
		assert.equal(scopes.front.count, 6);
		assert.equal(scopes.front.baseline, 0);
		assert.equal(scopes['*'].service, null);
		await sleep(2500); // two more background checks
		const still = await get('/api/v1/slow-requests/alerts', { service: 'front' });
		assert.equal(still.json.count, 1, 'no second alert within the window');
	});

	test('bottlenecks: ranked by critical-path impact', async () => {
		const r = await get('/api/v1/bottlenecks', { service: 'front', limit: '1000' });
		assert.equal(r.status, 200, r.text);
		const j = r.json;
		assert.equal(j.requests, 10);
		const total = slow.reduce((a, t) => a + t.duration, 0) + 4 * 200;
		near(j.total_critical_ms, total, 'total critical time');
		const top = j.bottlenecks.slice(0, 2).map((b) => [b.component, b.kind, b.critical_ms_total, b.requests_affected]);
		assert.deepEqual(top, [
			['front: POST api.pay.example', 'dependency', 4200, 6],
			['front: SELECT orders', 'dependency', 3600, 6],
		]);
		const pay = j.bottlenecks[0];
		near(pay.impact_ms, 420, 'impact = critical time over all analysed requests');
		near(pay.share, 4200 / total, 'share');
		near(pay.critical_ms_per_request, 420, 'per analysed request');
		near(pay.self_p95_ms, 700, 'self p95');
		assert.equal(pay.target, 'api.pay.example');
		assert.equal(pay.examples.length, 5);
		assert.ok(pay.examples.every((e) => slow.some((t) => t.traceId === e.trace_id)));
		assert.equal(pay.examples[0].flamegraph, `/api/v1/flamegraph?trace_id=${pay.examples[0].trace_id}`);
		// the resources of front when the worst example started: the metric points 30 s later
		const ex = slow.find((t) => t.traceId === pay.examples[0].trace_id);
		assert.equal(pay.examples[0].start_ms, Number(BigInt(ex.spans[0].start) / MS), 'the example\'s start');
		assert.deepEqual(pay.resources, { at_ms: pay.examples[0].start_ms, time_ms: Number(metricNs / MS), instances: 1,
			cpu_utilization: 0.42, memory_bytes: 536870912, db_connections_used: null, db_connections_max: null });
		assert.equal(pay.resources_reason, undefined);
		const pool = j.bottlenecks.find((b) => b.name === 'pool.acquire');
		assert.equal(pool.kind, 'resource_contention');
		near(pool.critical_ms_total, 200, 'pool waits');
		assert.equal(j.bottlenecks.find((b) => b.name === 'auth').kind, 'slowest_component');
		const ranks = j.bottlenecks.map((b) => b.impact_ms);
		assert.deepEqual(ranks, [...ranks].sort((a, b) => b - a), 'sorted by impact');
		const shares = j.bottlenecks.reduce((a, b) => a + b.share, 0);
		assert.ok(Math.abs(shares - 1) < 1e-9, `every critical moment is charged once: shares sum to ${shares}`);
		const root = j.bottlenecks.find((b) => b.name === 'POST /api/checkout');
		assert.equal(root.span_kind, 'server');
		assert.equal(root.span_name, 'POST /api/checkout');
		const sameRoute = slow.filter((t) => t.route === '/api/checkout');
		near(root.critical_ms_total, sameRoute.reduce((a, t) => a + t.duration - 1450, 0),
			'the route\'s own time, after its children');
		// all of the range is covered, and the answer says so
		assert.equal(j.requests_in_range, 10);
		assert.equal(j.sampled, false);
		const starts = [...slow, ...fast].map((t) => Number(BigInt(t.spans[0].start) / MS));
		const ends = [...slow, ...fast].map((t) => Number(BigInt(t.spans[0].end) / MS));
		assert.equal(j.covered_from_ms, Math.min(...starts));
		assert.equal(j.covered_to_ms, Math.max(...ends));
		assert.ok(j.range_from_ms <= j.covered_from_ms && j.covered_to_ms <= j.range_to_ms + 1000);
	});

	test('bottlenecks: more requests than the limit, a sample of whole traces across the range that says so', async () => {
		const r = await get('/api/v1/bottlenecks', { service: 'front', limit: '4', top: '50' });
		assert.equal(r.status, 200, r.text);
		const j = r.json;
		assert.equal(j.requests_in_range, 10);
		assert.equal(j.sampled, true);
		assert.equal(j.requests, 4);
		// the sample is by trace id (low 64 bits, signed, as stored), not the newest four
		const low = (t) => BigInt.asIntN(64, BigInt(`0x${t.traceId.slice(16)}`));
		const want = [...slow, ...fast].sort((a, b) => (low(a) < low(b) ? -1 : 1)).slice(0, 4).map((t) => t.traceId);
		const seen = new Set(j.bottlenecks.flatMap((b) => b.examples.map((e) => e.trace_id)));
		assert.deepEqual([...seen].sort(), [...want].sort());
		const chosen = [...slow, ...fast].filter((t) => want.includes(t.traceId));
		assert.equal(j.covered_from_ms, Math.min(...chosen.map((t) => Number(BigInt(t.spans[0].start) / MS))));
	});

	test('bottlenecks: express wrappers charged to the route, statements told apart, set-up never a row', async () => {
		const tid = traceId();
		const at = (ms) => BigInt(Date.now() - 60_000) * MS + BigInt(ms) * MS;
		const id = { root: spanId(), mw: spanId(), rh: spanId(), dns: spanId(), q: [spanId(), spanId(), spanId()] };
		const pg = (sid, from, to, stmt) => ({ traceId: tid, spanId: sid, parentSpanId: id.rh, name: 'pg.query:SELECT shop',
			kind: 3, start: at(from), end: at(to), attrs: { 'db.system': 'postgresql', 'db.statement': stmt,
				'db.name': 'shop', 'net.peer.name': '127.0.0.1', 'net.peer.port': 5432 } });
		const spans = [
			{ traceId: tid, spanId: id.root, name: 'GET /orders/:id', kind: 2, start: at(0), end: at(100),
				attrs: { 'http.request.method': 'GET', 'http.route': '/orders/:id' } },
			{ traceId: tid, spanId: id.mw, parentSpanId: id.root, name: 'middleware - query', kind: 1, start: at(0), end: at(1),
				attrs: { 'express.name': 'query', 'express.type': 'middleware' } },
			{ traceId: tid, spanId: id.rh, parentSpanId: id.root, name: 'request handler - /orders/:id', kind: 1,
				start: at(1), end: at(100), attrs: { 'express.type': 'request_handler', 'http.route': '/orders/:id' } },
			{ traceId: tid, spanId: id.dns, parentSpanId: id.rh, name: 'dns.lookup', kind: 3, start: at(2), end: at(5) },
			pg(id.q[0], 10, 30, 'SELECT * FROM orders WHERE id = 42'),
			pg(id.q[1], 30, 50, 'SELECT * FROM orders WHERE id = 7'),
			pg(id.q[2], 50, 70, 'SELECT * FROM items WHERE order_id = 42'),
		];
		await post(srv, '/v1/traces', jsonTraceRequest([{ attrs: { 'service.name': 'shop' }, spans }]));
		const r = await get('/api/v1/bottlenecks', { service: 'shop', top: '50' });
		assert.equal(r.status, 200, r.text);
		const rows = r.json.bottlenecks;
		const names = rows.map((b) => b.span_name);
		assert.ok(!names.includes('request handler - /orders/:id') && !names.includes('middleware - query') &&
			!names.includes('dns.lookup'), names.join(', '));
		const byName = Object.fromEntries(rows.map((b) => [b.name, b]));
		near(byName['GET /orders/:id'].critical_ms_total, 40, 'the handler\'s own work is the route\'s');
		const orders = byName['SELECT * FROM orders WHERE id = ?'];
		const items = byName['SELECT * FROM items WHERE order_id = ?'];
		assert.ok(orders && items, Object.keys(byName).join(' | '));
		assert.deepEqual([orders.spans, orders.critical_ms_total, orders.target], [2, 40, '127.0.0.1:5432/shop']);
		assert.deepEqual([items.spans, items.critical_ms_total, items.span_kind], [1, 20, 'client']);
		// shop sent no metrics: no resources, and the answer says why
		assert.equal(orders.resources, null);
		assert.match(orders.resources_reason, /no CPU, memory or connection pool metrics of service shop/);
	});

	test('q= selects a request by any span of its trace, in every answer here', async () => {
		const ids = (r) => new Set(r.json.requests.map((x) => x.trace_id));
		const all = { service: 'front', min_duration: '0', limit: '500' };
		// a redis call two levels down: the six checkouts, not the items
		let r = await get('/api/v1/slow-requests', { ...all, q: 'span.db.system.name = "redis"' });
		assert.equal(r.status, 200, r.text);
		assert.equal(r.json.matched, 6);
		assert.deepEqual(ids(r), new Set(slow.map((t) => t.traceId)));
		r = await get('/api/v1/slow-requests', { ...all, q: '!{ span.db.system.name = "redis" }' });
		assert.deepEqual(ids(r), new Set(fast.map((t) => t.traceId)));
		r = await get('/api/v1/slow-requests', { ...all, q: '{ kind = server } && { span.db.client.connection.wait_time_ms > 10 }' });
		assert.deepEqual(ids(r), new Set(fast.map((t) => t.traceId)));
		r = await get('/api/v1/slow-requests', { ...all, q: '{ kind = server && span.db.client.connection.wait_time_ms > 10 }' });
		assert.equal(r.json.matched, 0, 'one span must satisfy all of a spanset');
		// a derived mark: SELECT orders (600 ms) is slow for the 400 ms database threshold, SELECT items (100 ms) is not
		const marked = 'span.performance.slow = true AND span.db.system.name = "postgresql"';
		r = await get('/api/v1/slow-requests', { ...all, q: marked });
		assert.deepEqual(ids(r), new Set(slow.map((t) => t.traceId)));
		const stats = await get('/api/v1/slow-operations/stats', { service: 'front', q: marked });
		assert.equal(stats.status, 200, stats.text);
		assert.equal(stats.json.requests, 6);
		const bn = await get('/api/v1/bottlenecks', { service: 'front', q: 'span.db.client.connection.wait_time_ms = *' });
		assert.equal(bn.status, 200, bn.text);
		assert.deepEqual([bn.json.requests, bn.json.matched, bn.json.requests_in_range], [4, 4, 10]);
		const names = bn.json.bottlenecks.map((b) => b.name);
		assert.ok(!names.some((n) => n.includes('orders')), names.join(', '));
	});

	test('slow requests: the fleet lists each trace once, at its edge; a service lists its own', async () => {
		// gateway -> agent, both slow by the 1 s http threshold
		const tid = traceId();
		const ids = { gw: spanId(), call: spanId(), agent: spanId() };
		const at = (ms) => BigInt(Date.now() - 60_000) * MS + BigInt(ms) * MS;
		const span = (sid, parent, name, kind, from, to) => ({
			traceId: tid, spanId: sid, parentSpanId: parent, name, kind, start: at(from), end: at(to),
			attrs: { 'http.request.method': 'POST', 'http.route': name.slice(5) },
		});
		await post(srv, '/v1/traces', jsonTraceRequest([
			{ attrs: { 'service.name': 'gateway' }, spans: [span(ids.gw, undefined, 'POST /chat', 2, 0, 1200), span(ids.call, ids.gw, 'POST /run', 3, 20, 1180)] },
			{ attrs: { 'service.name': 'agent' }, spans: [span(ids.agent, ids.call, 'POST /run', 2, 30, 1170)] },
		]));
		const fleet = await get('/api/v1/slow-requests');
		const mine = fleet.json.requests.filter((r) => r.trace_id === tid);
		assert.deepEqual(mine.map((r) => r.service), ['gateway'], JSON.stringify(fleet.json.requests.map((r) => [r.service, r.trace_id])));
		assert.equal(fleet.json.counted, 'edge requests');
		const agent = await get('/api/v1/slow-requests', { service: 'agent' });
		assert.deepEqual(agent.json.requests.map((r) => [r.service, r.trace_id]), [['agent', tid]]);
		assert.equal(agent.json.counted, 'entry spans of agent');
	});

	test('thresholds through the API: validation, effect, persistence', async () => {
		let r = await put(srv, '{"cache_ms": 0}');
		assert.equal(r.status, 400);
		assert.match(r.json.error.message, /^cache_ms:/);
		r = await put(srv, '{"custom": [{"type": "x", "threshold_ms": 5}]}');
		assert.equal(r.status, 400);
		assert.match(r.json.error.message, /^custom\[0\]\.span_name/);
		r = await put(srv, 'not json');
		assert.equal(r.status, 400);

		r = await put(srv, JSON.stringify({
			http_ms: 1545,
			custom: [{ type: 'payments', attribute: 'server.address=api.pay.example', threshold_ms: 500 }],
		}));
		assert.equal(r.status, 200, JSON.stringify(r.json));
		assert.equal(r.json.http_ms, 1545);
		assert.equal(r.json.sources.http_ms, 'api');
		assert.equal(r.json.database_ms, 400, 'the environment still applies to what the API leaves out');

		const list = await get('/api/v1/slow-requests');
		assert.equal(list.json.matched, 1, 'a higher threshold applies to stored requests too');
		const stats = await get('/api/v1/slow-operations/stats', { service: 'front' });
		const pay = stats.json.types.find((t) => t.type === 'payments');
		assert.deepEqual([pay.count, pay.slow, pay.threshold_ms], [6, 6, 500]);
		assert.equal(stats.json.types.find((t) => t.type === 'external').count, 0);

		await srv.stop();
		srv = await startServer(opts());
		r = await get('/api/v1/slow-operations/thresholds');
		assert.equal(r.json.http_ms, 1545, 'kept across a restart');
		assert.equal(r.json.custom[0].type, 'payments');

		const res = await fetch(`${srv.url}/api/v1/slow-operations/thresholds`, { method: 'DELETE' });
		assert.equal(res.status, 200);
		const back = await res.json();
		assert.equal(back.http_ms, 1000);
		assert.equal(back.sources.cache_ms, 'file');
	});
});
