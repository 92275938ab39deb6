// clickhouse.test.mjs - the ClickHouse store against a real clickhouse-server
// (Debian's, started privately by lib/clickhouse.mjs):
//  - parity: the same OTLP requests sent to an embedded-store server and a
//    ClickHouse-store server give the same answers (figures, request
//    lists, traces, filters, flame graphs), percentiles within the sketch's
//    1 % (docs/internals/CLICKHOUSE.md lists the differences);
//  - ClickHouse down: a client is not acknowledged until ClickHouse took
//    its rows, the bounded queue then answers 503 with Retry-After, the
//    server stays up, and after ClickHouse is back the waiting batch is in;
//  - two instances on one ClickHouse answer the same;
//  - profiles are kept: an upload reads back the same through either store.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { clickhouseSkip, getBoth, newClickHouse } from './lib/clickhouse.mjs';
import { rng } from './lib/random.mjs';
import { makeTempDir, startServer } from './lib/server.mjs';
import { fetchTrace, getJson, jsonTraceRequest, postOtlpJson, sleep, spanId, traceId } from './lib/util.mjs';

const skip = clickhouseSkip();
const MS = 1_000_000n;

const SERVICES = [
	{ name: 'cart', env: 'production', version: '1.2.0', routes: ['/cart', '/cart/{id}'], ms: 120 },
	{ name: 'search', env: 'staging', version: '0.3.1', routes: ['/search'], ms: 40 },
	{ name: 'pay', env: 'production', version: '4.0.0', routes: ['/pay'], ms: 700 },
];

/** OTLP/JSON requests: traces of a SERVER root and two children over 20 minutes ending 2 min ago. */
function makeRequests(n, endNs) {
	const rand = rng(7);
	const bodies = [];
	for (let b = 0; b < n / 20; b++) {
		const resources = SERVICES.map((svc) => ({
			attrs: { 'service.name': svc.name, 'deployment.environment.name': svc.env, 'service.version': svc.version },
			spans: [],
		}));
		for (let i = 0; i < 20; i++) {
			const k = (b * 20 + i) % SERVICES.length, svc = SERVICES[k];
			const dur = BigInt(Math.max(1, Math.round(svc.ms * Math.exp(0.8 * (rand() - 0.5) * 3)))) * MS;
			const start = endNs - 120_000n * MS - BigInt(Math.floor(rand() * 1_200_000)) * MS;
			const tid = traceId(), root = spanId();
			const route = svc.routes[Math.floor(rand() * svc.routes.length)];
			const failed = rand() < 0.1;
			resources[k].spans.push({
				traceId: tid, spanId: root, name: `GET ${route}`, kind: 2, start, end: start + dur,
				attrs: { 'http.request.method': 'GET', 'http.route': route, 'http.response.status_code': failed ? 500 : 200 },
			});
			for (let c = 0; c < 2; c++) {
				resources[k].spans.push({
					traceId: tid, spanId: spanId(), parentSpanId: root, name: c ? 'SELECT items' : 'redis GET',
					kind: 3, start: start + BigInt(c) * dur / 3n, end: start + BigInt(c + 1) * dur / 3n,
					attrs: c ? { 'db.system': 'postgresql' } : { 'db.system': 'redis' },
				});
			}
		}
		bodies.push(jsonTraceRequest(resources));
	}
	return bodies;
}

function near(got, want, rel, what) {
	assert.ok(Math.abs(got - want) <= Math.abs(want) * rel + 1e-9, `${what}: clickhouse ${got}, embedded ${want}`);
}

describe('the ClickHouse store answers as the embedded one', { skip, timeout: 300000 }, () => {
	let ch, embedded, clickhouse, from, to;
	before(async () => {
		ch = await newClickHouse();
		const chDir = makeTempDir();
		[embedded, clickhouse] = await Promise.all([
			startServer({ args: ['--analysis-interval', '0'] }),
			startServer({ dataDir: chDir, args: ['--analysis-interval', '0', '--store', ch.storeUrl('parity')] }),
		]);
		const endNs = BigInt(Date.now()) * MS;
		for (const body of makeRequests(600, endNs)) {
			await Promise.all([postOtlpJson(embedded.url, body), postOtlpJson(clickhouse.url, body)]);
		}
		from = Number(endNs / MS) - 30 * 60_000;
		to = Number(endNs / MS);
	});
	after(async () => {
		await Promise.all([embedded?.dispose(), clickhouse?.dispose()]);
		await ch?.stop();
	});

	const both = (p) => getBoth(embedded, clickhouse, p);

	test('summary: counts, tiers and errors exact, percentiles within 1%', async () => {
		for (const f of ['', '&service=cart', '&env=production&endpoint=GET%20/pay', '&version=latest']) {
			const [e, c] = await both(`/api/v1/performance/summary?from=${from}&to=${to}${f}`);
			assert.ok(e.count > 0, `requests in the window (${f})`);
			for (const k of ['count', 'errors', 'timeouts']) assert.equal(c[k], e[k], `${k} (${f})`);
			assert.deepEqual(c.by_tier, e.by_tier, `tiers (${f})`);
			assert.deepEqual(c.by_status, e.by_status, `statuses (${f})`);
			for (const k of ['min_ms', 'max_ms', 'mean_ms']) near(c[k], e[k], 1e-9, `${k} (${f})`);
			for (const k of ['p50_ms', 'p90_ms', 'p95_ms', 'p99_ms']) near(c[k], e[k], 0.01, `${k} (${f})`);
		}
	});

	test('timeseries by service: the same buckets and counts', async () => {
		const [e, c] = await both(`/api/v1/performance/timeseries?from=${from}&to=${to}&group_by=service`);
		assert.deepEqual(c.times_ms, e.times_ms, 'bucket times');
		assert.deepEqual(JSON.stringify(c.series.map((s) => [s.key, s.count])), JSON.stringify(e.series.map((s) => [s.key, s.count])), 'counts per service');
	});

	test('filters and the request list', async () => {
		const [ef, cf] = await both(`/api/v1/filters?from=${from}&to=${to}`);
		for (const k of ['services', 'endpoints', 'envs', 'versions']) assert.deepEqual(cf[k], ef[k], k);
		const [e, c] = await both(`/api/v1/traces?from=${from}&to=${to}&limit=40&sort=slowest`);
		assert.equal(c.traces.length, 40);
		// durations are whole milliseconds: ties may come in any order
		assert.deepEqual(c.traces.map((t) => t.duration_ms), e.traces.map((t) => t.duration_ms), 'the 40 slowest');
	});

	test('slow requests: the same list in the same order, kept as rows are written', async () => {
		// the slow rows again in slow_requests, numbered in write order
		const n = (sql) => ch.query(`${sql} FORMAT TSV`).then((t) => Number(t.trim()));
		const slow = await n('SELECT count() FROM parity.requests WHERE duration_ns >= 1000000000');
		assert.ok(slow > 10, `slow requests in the data (${slow})`);
		assert.equal(await n('SELECT uniqExact(id) FROM parity.slow_requests'), slow, 'each slow request numbered once');
		const ids = (r) => r.requests.map((q) => `${q.trace_id} ${q.duration_ms}`);
		for (const f of ['', '&service=pay', '&env=production&group_by=endpoint', '&status=error', '&min_duration=1500']) {
			const p = `/api/v1/slow-requests?from=${from}&to=${to}&limit=500${f}`;
			// the list is filled by the background job (every 5 s); the answers agree before and after
			for (let round = 0; round < 2; round++) {
				const [e, c] = await both(p);
				assert.equal(c.matched, e.matched, `matched (${f})`);
				// equal durations newest first in both: the whole order is the same
				assert.deepEqual(ids(c), ids(e), `the slow requests in order (${f})`);
				assert.deepEqual(c.groups, e.groups, `groups (${f})`);
				assert.deepEqual(c.trend, e.trend, `trend (${f})`);
				if (!round) await sleep(5500);
			}
		}
	});

	test('a trace by id: the same spans', async () => {
		const [, c] = await both(`/api/v1/traces?from=${from}&to=${to}&limit=5`);
		for (const t of c.traces) {
			const [a, b] = await Promise.all([fetchTrace(embedded, t.trace_id), fetchTrace(clickhouse, t.trace_id)]);
			assert.equal(b.length, 3, `spans of ${t.trace_id}`);
			assert.deepEqual(b.map((s) => s.span_id), a.map((s) => s.span_id), `spans of ${t.trace_id}`);
		}
		assert.equal(await fetchTrace(clickhouse, traceId()), null, 'an unknown trace is 404');
	});

	test('flame graph and bottlenecks from the spans', async () => {
		const folded = async (srv) => (await fetch(`${srv.url}/api/v1/flamegraph?from=${from}&to=${to}&format=folded`)).text();
		const [a, b] = await Promise.all([folded(embedded), folded(clickhouse)]);
		assert.ok(a.split('\n').length > 3, `a flame graph: ${a.slice(0, 200)}`);
		assert.equal(b, a, 'the same folded stacks');
		const [e, c] = await both(`/api/v1/bottlenecks?from=${from}&to=${to}`);
		assert.deepEqual(c.bottlenecks.map((x) => x.component), e.bottlenecks.map((x) => x.component), 'bottlenecks');
	});

	test('profiles: an upload reads back the same from both stores', async () => {
		const folded = 'main;handle;parse 30\nmain;idle 12\n';
		const q = `service=cart&version=1.2.0&env=production&type=cpu&from=${from}&to=${to}`;
		const ids = [];
		for (const srv of [embedded, clickhouse]) {
			const r = await fetch(`${srv.url}/api/v1/profiles?${q}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: folded });
			const text = await r.text();
			assert.equal(r.status, 200, text);
			ids.push(JSON.parse(text).id);
		}
		const [e, c] = await both(`/api/v1/profiles?service=cart&from=${from}&to=${to}`);
		assert.equal(c.profiles.length, 1, JSON.stringify(c).slice(0, 300));
		const strip = (p) => ({ ...p, id: 0 });
		assert.deepEqual(c.profiles.map(strip), e.profiles.map(strip), 'the same list but for the ids');
		const text = await (await fetch(`${clickhouse.url}/api/v1/profiles/${ids[1]}?format=folded`)).text();
		assert.equal(text, folded, 'the stacks back as sent');
	});
});

describe('two instances on one ClickHouse', { skip, timeout: 300000 }, () => {
	test('writes through either, the same answers from both', async () => {
		const ch = await newClickHouse();
		const url = ch.storeUrl('shared');
		const [a, b] = await Promise.all([
			startServer({ args: ['--analysis-interval', '0', '--store', url] }),
			startServer({ args: ['--analysis-interval', '0', '--store', url] }),
		]);
		try {
			const endNs = BigInt(Date.now()) * MS;
			const bodies = makeRequests(200, endNs);
			await Promise.all(bodies.map((body, i) => postOtlpJson((i % 2 ? a : b).url, body)));
			const from = Number(endNs / MS) - 30 * 60_000, to = Number(endNs / MS);
			for (const p of [`/api/v1/performance/summary?from=${from}&to=${to}`, `/api/v1/filters?from=${from}&to=${to}`,
				`/api/v1/traces?from=${from}&to=${to}&limit=500`]) {
				const [x, y] = await Promise.all([getJson(`${a.url}${p}`), getJson(`${b.url}${p}`)]);
				assert.equal(x.status, 200, x.text);
				assert.deepEqual(y.json, x.json, p);
			}
			const s = await getJson(`${a.url}/api/v1/performance/summary?from=${from}&to=${to}`);
			assert.equal(s.json.count, 200, 'every request written through either instance is counted');
			const tid = bodies[1].resourceSpans[0].scopeSpans[0].spans[0].traceId; // written through a
			assert.equal((await fetchTrace(b, tid)).length, 3, 'a trace written through one is read through the other');
		} finally {
			await Promise.all([a.dispose(), b.dispose()]);
			await ch.stop();
		}
	});
});

describe('ClickHouse down', { skip, timeout: 300000 }, () => {
	test('no acknowledgement before ClickHouse has the rows; 503 once the queue is full; the batches are in after', async () => {
		const ch = await newClickHouse();
		const srv = await startServer({ args: ['--analysis-interval', '0', '--max-queue', '50000', '--store', ch.storeUrl('outage')] });
		try {
			await ch.stop();
			const bodies = makeRequests(600, BigInt(Date.now()) * MS);
			const post = (body) => fetch(`${srv.url}/v1/traces`, {
				method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
			});
			// batches are queued (and not answered) until the bounded queue is full
			const pending = [];
			let answered = 0, refused = null;
			for (const body of bodies) {
				const r = post(body).then((res) => { answered++; return res; });
				const first = await Promise.race([r, sleep(300).then(() => null)]);
				if (!first) {
					pending.push({ body, r });
					continue;
				}
				refused = first;
				break;
			}
			assert.ok(pending.length >= 1, 'a batch waits for ClickHouse');
			assert.ok(refused, `the queue filled up after ${pending.length} batches`);
			assert.equal(refused.status, 503, await refused.text());
			assert.ok(Number(refused.headers.get('retry-after')) >= 1, `Retry-After: ${refused.headers.get('retry-after')}`);
			await sleep(1000);
			assert.equal(answered, 1, 'no waiting batch is acknowledged while ClickHouse is down');
			assert.equal((await fetch(`${srv.url}/health`)).status, 200, 'the server is up');
			// a read that needs ClickHouse answers at once that it is unreachable
			// (500 or 503, as the route maps the store's failure)
			const read = await getJson(`${srv.url}/api/v1/traces?limit=1`);
			assert.ok([500, 503].includes(read.status), `${read.status}: ${read.text}`);
			assert.match(read.json.error.message, /clickhouse unreachable/);

			await ch.restart();
			for (const { body, r } of pending) {
				const res = await r;
				assert.equal(res.status, 200, await res.text());
				const tid = body.resourceSpans.find((x) => x.spans?.length || x.scopeSpans[0].spans.length).scopeSpans[0].spans[0].traceId;
				const spans = await fetchTrace(srv, tid);
				assert.ok(spans && spans.length === 3, `an acknowledged trace is readable: ${JSON.stringify(spans)?.slice(0, 200)}`);
			}
			const again = await post(bodies[pending.length]);
			assert.equal(again.status, 200, 'and writes go through again');
		} finally {
			await srv.dispose();
			await ch.stop();
		}
	});
});

describe('the endpoint cardinality guard', { skip, timeout: 300000 }, () => {
	test('past --max-endpoints a service\'s new endpoints roll up under "other", as in the embedded store', async () => {
		const ch = await newClickHouse();
		const args = ['--analysis-interval', '0', '--max-endpoints', '3'];
		const [embedded, clickhouse] = await Promise.all([
			startServer({ args }),
			startServer({ args: [...args, '--store', ch.storeUrl('guard')] }),
		]);
		try {
			const endNs = BigInt(Date.now()) * MS;
			for (let e = 0; e < 6; e++) { // one request each to /r0 ... /r5, in turn
				const start = endNs - 600_000n * MS + BigInt(e) * 1000n * MS;
				const body = jsonTraceRequest([{ attrs: { 'service.name': 'wide' }, spans: [{
					traceId: traceId(), spanId: spanId(), name: `GET /r${e}`, kind: 2, start, end: start + 5n * MS,
					attrs: { 'http.request.method': 'GET', 'http.route': `/r${e}` },
				}] }]);
				await Promise.all([postOtlpJson(embedded.url, body), postOtlpJson(clickhouse.url, body)]);
			}
			const w = `from=${Number(endNs / MS) - 30 * 60_000}&to=${Number(endNs / MS)}`;
			const keys = async (srv) => {
				const r = await getJson(`${srv.url}/api/v1/performance/timeseries?${w}&group_by=endpoint`);
				assert.equal(r.status, 200, r.text);
				return r.json.series.map((s) => [s.key, s.count]).sort();
			};
			const [e, c] = await Promise.all([keys(embedded), keys(clickhouse)]);
			assert.deepEqual(e.map((k) => k[0]), ['GET /r0', 'GET /r1', 'GET /r2', 'other'], 'the embedded store folds');
			assert.deepEqual(c, e, 'the same series and counts');
			const folded = async (srv) => Number((await (await fetch(`${srv.url}/metrics`)).text()).match(/^hotpath_rollup_endpoints_folded_total (\d+)$/m)[1]);
			assert.equal(await folded(clickhouse), 3, 'three requests folded');
			const list = await getJson(`${clickhouse.url}/api/v1/traces?${w}&limit=10`);
			assert.equal(list.json.traces.length, 6, 'the request rows keep their endpoints');
		} finally {
			await Promise.all([embedded.dispose(), clickhouse.dispose()]);
			await ch.stop();
		}
	});
});
