// slow_aggregates.test.mjs - slow-operation statistics and bottlenecks with
// service=, env= or both answered from the aggregates kept per service, per
// environment and per pair of them: the same figures as the answer read from the spans (asked
// with an explicit limit, which always reads them), for a service called
// from another one (its requests are its top-most entry spans, nested in
// the caller's traces) and for environments.
//
// In the last few minutes, times in ms from each request's start:
//   4 x front (production) GET /a  SERVER [0, 1200 + 10 i]
//         GET back               CLIENT  [10, 1010]
//           back (production) GET /b  SERVER [20, 1000]
//             SELECT b           CLIENT postgresql [30, 730]
//             back (production) GET /b/inner  SERVER [740, 990]   (nested in back: not a request of its own)
//   3 x front (staging)    GET /a  SERVER [0, 300]
//         SELECT a           CLIENT postgresql [10, 210]
//   1 x loop (production)  GET /l  SERVER [0, 500]
//         loop (staging)     GET /l  SERVER [10, 400]   (one request of loop, one of each of its pairs)
//           SELECT l         CLIENT postgresql [20, 300]
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { makeTempDir, startServer } from './lib/server.mjs';
import { getJson, jsonTraceRequest, sleep, spanId, traceId } from './lib/util.mjs';

const MS = 1_000_000n;

function prodRequest(startNs, i) {
	const tid = traceId();
	const id = { root: spanId(), call: spanId(), back: spanId(), sel: spanId(), inner: spanId() };
	const at = (ms) => startNs + BigInt(ms) * MS;
	const span = (sid, parent, name, kind, from, to, attrs) => ({
		traceId: tid, spanId: sid, parentSpanId: parent, name, kind, start: at(from), end: at(to), attrs,
	});
	return {
		front: [
			span(id.root, undefined, 'GET /a', 2, 0, 1200 + 10 * i, { 'http.request.method': 'GET', 'http.route': '/a' }),
			span(id.call, id.root, 'GET back', 3, 10, 1010, { 'http.request.method': 'GET', 'server.address': 'back' }),
		],
		back: [
			span(id.back, id.call, 'GET /b', 2, 20, 1000, { 'http.request.method': 'GET', 'http.route': '/b' }),
			span(id.sel, id.back, 'SELECT b', 3, 30, 730, { 'db.system.name': 'postgresql' }),
			span(id.inner, id.back, 'GET /b/inner', 2, 740, 990, { 'http.request.method': 'GET', 'http.route': '/b/inner' }),
		],
	};
}

function stagingRequest(startNs) {
	const tid = traceId();
	const root = spanId();
	const at = (ms) => startNs + BigInt(ms) * MS;
	return [
		{ traceId: tid, spanId: root, name: 'GET /a', kind: 2, start: at(0), end: at(300),
			attrs: { 'http.request.method': 'GET', 'http.route': '/a' } },
		{ traceId: tid, spanId: spanId(), parentSpanId: root, name: 'SELECT a', kind: 3, start: at(10), end: at(210),
			attrs: { 'db.system.name': 'postgresql' } },
	];
}

function loopRequest(startNs) {
	const tid = traceId();
	const root = spanId(), inner = spanId();
	const at = (ms) => startNs + BigInt(ms) * MS;
	const http = { 'http.request.method': 'GET', 'http.route': '/l' };
	return {
		production: [{ traceId: tid, spanId: root, name: 'GET /l', kind: 2, start: at(0), end: at(500), attrs: http }],
		staging: [
			{ traceId: tid, spanId: inner, parentSpanId: root, name: 'GET /l', kind: 2, start: at(10), end: at(400), attrs: http },
			{ traceId: tid, spanId: spanId(), parentSpanId: inner, name: 'SELECT l', kind: 3, start: at(20), end: at(300),
				attrs: { 'db.system.name': 'postgresql' } },
		],
	};
}

const close = (got, want, tol, what) =>
	assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want}`);

describe('statistics and bottlenecks per service and environment from the aggregates', () => {
	let srv;
	const get = (p, query) => getJson(`${srv.url}${p}?${new URLSearchParams({ range: '1h', ...query })}`);

	before(async () => {
		srv = await startServer({ dataDir: makeTempDir() });
		const base = BigInt(Date.now()) * MS - 240_000n * MS;
		const front = [], back = [], staging = [];
		for (let i = 0; i < 4; i++) {
			const r = prodRequest(base + BigInt(i) * 2000n * MS, i);
			front.push(...r.front);
			back.push(...r.back);
		}
		for (let i = 0; i < 3; i++) staging.push(...stagingRequest(base + BigInt(20 + i) * 1000n * MS));
		const loop = loopRequest(base + 30_000n * MS);
		const res = await fetch(`${srv.url}/v1/traces`, {
			method: 'POST', headers: { 'content-type': 'application/json' },
			body: JSON.stringify(jsonTraceRequest([
				{ attrs: { 'service.name': 'front', 'deployment.environment.name': 'production' }, spans: front },
				{ attrs: { 'service.name': 'back', 'deployment.environment.name': 'production' }, spans: back },
				{ attrs: { 'service.name': 'front', 'deployment.environment.name': 'staging' }, spans: staging },
				{ attrs: { 'service.name': 'loop', 'deployment.environment.name': 'production' }, spans: loop.production },
				{ attrs: { 'service.name': 'loop', 'deployment.environment.name': 'staging' }, spans: loop.staging },
			])),
		});
		assert.equal(res.status, 200, await res.text());
	});
	after(() => srv?.dispose());

	const filters = [
		[{ service: 'front' }, 7],
		[{ service: 'back' }, 4],
		[{ env: 'production' }, 5],
		[{ env: 'staging' }, 4],
		[{ service: 'loop' }, 1],
		[{ service: 'loop', env: 'production' }, 1],
		[{ service: 'loop', env: 'staging' }, 1],
		[{ service: 'front', env: 'production' }, 4],
		[{ service: 'back', env: 'production' }, 4],
		[{ service: 'front', env: 'staging' }, 3],
	];

	for (const [filter, requests] of filters) {
		test(`stats with ${JSON.stringify(filter)}: the span-read figures`, async () => {
			const agg = await get('/api/v1/slow-operations/stats', filter);
			const read = await get('/api/v1/slow-operations/stats', { ...filter, limit: '1000' });
			assert.equal(agg.status, 200, agg.text);
			assert.equal(read.status, 200, read.text);
			assert.equal(agg.json.aggregated?.bucket_s, 300, 'from the aggregates, per five minutes');
			assert.equal(read.json.aggregated, undefined, 'an explicit limit reads the spans');
			assert.deepEqual([agg.json.requests, agg.json.spans], [requests, read.json.spans]);
			assert.equal(read.json.requests, requests);
			const by = Object.fromEntries(agg.json.types.map((t) => [t.type, t]));
			for (const want of read.json.types) {
				const got = by[want.type];
				assert.deepEqual([got.count, got.slow], [want.count, want.slow], want.type);
				if (!want.count) continue;
				close(got.min_ms, want.min_ms, 1e-6, `${want.type} min`);
				close(got.max_ms, want.max_ms, 1e-6, `${want.type} max`);
				close(got.avg_ms, want.avg_ms, 1e-3, `${want.type} avg`);
				close(got.p95_ms, want.p95_ms, 0.01 * want.p95_ms, `${want.type} p95`);
			}
			assert.equal(agg.json.totalSlowOperations, read.json.totalSlowOperations);
		});

		test(`bottlenecks with ${JSON.stringify(filter)}: the span-read ranking`, async () => {
			const agg = await get('/api/v1/bottlenecks', filter);
			const read = await get('/api/v1/bottlenecks', { ...filter, limit: '1000' });
			assert.equal(agg.status, 200, agg.text);
			assert.equal(agg.json.aggregated?.bucket_s, 300);
			assert.equal(read.json.aggregated, undefined);
			assert.deepEqual([agg.json.requests, read.json.requests], [requests, requests]);
			close(agg.json.total_critical_ms, read.json.total_critical_ms, 1e-6, 'total critical time');
			const key = (b) => `${b.component} ${b.span_kind}`;
			assert.deepEqual(agg.json.bottlenecks.map(key), read.json.bottlenecks.map(key), 'the same ranking');
			for (const [i, b] of agg.json.bottlenecks.entries()) {
				const want = read.json.bottlenecks[i];
				close(b.critical_ms_total, want.critical_ms_total, 1e-6, `${key(b)} critical`);
				assert.deepEqual([b.kind, b.requests_affected, b.spans], [want.kind, want.requests_affected, want.spans], key(b));
			}
		});
	}

	test('a restart loads the stored aggregates instead of reading the blocks again', async () => {
		const to = String(Date.now() + 60_000), from = String(Date.now() - 3_600_000); // fixed: now moves
		const at = (p, query) => getJson(`${srv.url}${p}?${new URLSearchParams({ from, to, ...query })}`);
		const before = await at('/api/v1/slow-operations/stats', { service: 'back' });
		const bnBefore = await at('/api/v1/bottlenecks', { env: 'production' });
		const pairBefore = await at('/api/v1/bottlenecks', { service: 'back', env: 'production' });
		assert.equal(pairBefore.json.aggregated?.bucket_s, 300);
		assert.equal(before.json.aggregated?.bucket_s, 300);
		await sleep(6500); // the job's pass (every 5 s) stores what changed
		await srv.stop();
		srv = await startServer({ dataDir: srv.dataDir });
		const after = await at('/api/v1/slow-operations/stats', { service: 'back' });
		const bnAfter = await at('/api/v1/bottlenecks', { env: 'production' });
		const pairAfter = await at('/api/v1/bottlenecks', { service: 'back', env: 'production' });
		assert.match(srv.output, /operation statistics: [1-9][0-9]* stored rows loaded/, 'loaded, not read again');
		assert.deepEqual(after.json, before.json);
		assert.deepEqual(bnAfter.json, bnBefore.json);
		assert.deepEqual(pairAfter.json, pairBefore.json);
	});

	test('a service nobody sends: an empty answer from the aggregates', async () => {
		const r = await get('/api/v1/slow-operations/stats', { service: 'nosuch' });
		assert.equal(r.status, 200, r.text);
		assert.deepEqual([r.json.aggregated?.bucket_s, r.json.requests, r.json.spans], [300, 0, 0]);
	});

	test('a service in an environment it never ran in: empty, from the aggregates and from the spans', async () => {
		const filter = { service: 'back', env: 'staging' };
		const agg = await get('/api/v1/slow-operations/stats', filter);
		const read = await get('/api/v1/slow-operations/stats', { ...filter, limit: '1000' });
		assert.deepEqual([agg.json.aggregated?.bucket_s, agg.json.requests, agg.json.spans], [300, 0, 0]);
		assert.deepEqual([read.json.aggregated, read.json.requests, read.json.spans], [undefined, 0, 0]);
		const bn = await get('/api/v1/bottlenecks', filter);
		assert.deepEqual([bn.json.aggregated?.bucket_s, bn.json.requests, bn.json.bottlenecks.length], [300, 0, 0]);
	});

	test('another filter than the range, service and environment: read from the spans', async () => {
		const ep = await get('/api/v1/bottlenecks', { endpoint: 'GET /a' });
		assert.equal(ep.status, 200, ep.text);
		assert.equal(ep.json.aggregated, undefined);
	});
});
