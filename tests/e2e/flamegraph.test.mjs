// flamegraph.test.mjs - GET /api/v1/flamegraph end to end: one trace's span
// tree, self times and critical path; folded and SVG output; three traces
// merged; the difference between two versions.
//
// Every trace has the same known shape (times in ms from its start):
//   front: GET /checkout   SERVER   [0, 100]
//     front: auth          INTERNAL [5, 25]
//     front: db.query      CLIENT   [30, 70]
//       db: SELECT         SERVER   [35, 65]   (version 2.0: [35, 69])
//     front: publish       PRODUCER [72, 75]
//       worker: consume    CONSUMER [74, 98]   asynchronous: not on the path
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startServer } from './lib/server.mjs';
import { getJson, jsonTraceRequest, postOtlpJson, spanId, traceId } from './lib/util.mjs';

const MS = 1_000_000n;

function makeTrace(startNs, version, selectEndMs) {
	const tid = traceId();
	const id = { root: spanId(), auth: spanId(), db: spanId(), sel: spanId(), pub: spanId(), con: spanId() };
	const at = (ms) => startNs + BigInt(ms) * MS;
	const span = (sid, parent, name, kind, from, to) => ({
		traceId: tid, spanId: sid, parentSpanId: parent, name, kind, start: at(from), end: at(to),
	});
	const res = (svc, spans) => ({ attrs: { 'service.name': svc, 'service.version': version }, spans });
	const resources = [
		res('front', [
			span(id.root, undefined, 'GET /checkout', 2, 0, 100),
			span(id.auth, id.root, 'auth', 1, 5, 25),
			span(id.db, id.root, 'db.query', 3, 30, 70),
			span(id.pub, id.root, 'publish', 4, 72, 75),
		]),
		res('db', [span(id.sel, id.db, 'SELECT', 2, 35, selectEndMs)]),
		res('worker', [span(id.con, id.pub, 'consume', 5, 74, 98)]),
	];
	return { traceId: tid, id, resources };
}

// Three traces a second apart, ten minutes ago: versions 1.0, 1.0, 2.0.
function threeTraces() {
	const base = BigInt(Date.now()) * 1_000_000n - 10n * 60_000n * MS;
	return [makeTrace(base, '1.0', 65), makeTrace(base + 1000n * MS, '1.0', 65), makeTrace(base + 2000n * MS, '2.0', 69)];
}

const post = (url, resources) => postOtlpJson(url, jsonTraceRequest(resources));

describe('flame graphs', () => {
	let srv;
	const traces = [];
	const get = (path, query) => getJson(`${srv.url}${path}?${new URLSearchParams(query)}`);

	before(async () => {
		srv = await startServer();
		traces.push(...threeTraces());
		await post(srv.url, traces.flatMap((t) => t.resources));
	});
	after(() => srv?.dispose());

	test('one trace: tree, self times and critical path', async () => {
		const t = traces[0];
		const r = await get('/api/v1/flamegraph', { trace_id: t.traceId });
		assert.equal(r.status, 200, r.text);
		assert.equal(r.json.spans, 6);
		assert.equal(r.json.roots.length, 1);
		const root = r.json.roots[0];
		const shape = (n) => [`${n.service}: ${n.name}`, n.value_us, n.self_us, n.span_id, n.children.map(shape)];
		assert.deepEqual(shape(root), [
			'front: GET /checkout', 100000, 37000, t.id.root, [
				['front: auth', 20000, 20000, t.id.auth, []],
				['front: db.query', 40000, 10000, t.id.db, [['db: SELECT', 30000, 30000, t.id.sel, []]]],
				['front: publish', 3000, 2000, t.id.pub, [['worker: consume', 24000, 24000, t.id.con, []]]],
			],
		]);
		assert.deepEqual(r.json.critical_path.map((s) => [s.span_id, s.contribution_us]), [
			[t.id.root, 37000], [t.id.auth, 20000], [t.id.db, 10000], [t.id.sel, 30000], [t.id.pub, 3000],
		]);
		assert.equal(r.json.critical_path[3].service, 'db');
		assert.equal(r.json.critical_path[3].name, 'SELECT');
	});

	test('one trace: folded and svg', async () => {
		const res = await fetch(`${srv.url}/api/v1/flamegraph?trace_id=${traces[0].traceId}&format=folded`);
		assert.equal(res.status, 200);
		assert.equal(await res.text(), [
			'front: GET /checkout 37000',
			'front: GET /checkout;front: auth 20000',
			'front: GET /checkout;front: db.query 10000',
			'front: GET /checkout;front: db.query;db: SELECT 30000',
			'front: GET /checkout;front: publish 2000',
			'front: GET /checkout;front: publish;worker: consume 24000',
			'',
		].join('\n'));
		const svg = await fetch(`${srv.url}/api/v1/flamegraph?trace_id=${traces[0].traceId}&format=svg`);
		assert.equal(svg.status, 200);
		assert.match(svg.headers.get('content-type'), /svg/);
		const text = await svg.text();
		assert.match(text, /^<\?xml|<svg/);
		for (const name of ['front: GET /checkout', 'db: SELECT', 'worker: consume', traces[0].traceId]) {
			assert.ok(text.includes(name), `svg names ${name}`);
		}
	});

	test('aggregated over three traces', async () => {
		const r = await get('/api/v1/flamegraph', { service: 'front' });
		assert.equal(r.status, 200, r.text);
		assert.equal(r.json.mode, 'aggregate');
		assert.equal(r.json.traces, 3);
		assert.equal(r.json.spans, 18);
		const [root] = r.json.root.children;
		assert.equal(root.name, 'GET /checkout');
		assert.deepEqual([root.value_us, root.self_us, root.count], [300000, 111000, 3]);
		const db = root.children.find((c) => c.name === 'db.query');
		assert.deepEqual([db.value_us, db.self_us, db.count], [120000, 26000, 3]);
		assert.deepEqual([db.children[0].service, db.children[0].value_us, db.children[0].self_us], ['db', 94000, 94000]);

		// each frame names a trace it came from, to open from the graph
		const ids = traces.map((t) => t.traceId);
		assert.ok(ids.includes(root.example_trace_id), root.example_trace_id);
		assert.ok(ids.includes(db.children[0].example_trace_id));
		const v2 = await get('/api/v1/flamegraph', { service: 'front', version: '2.0' });
		assert.equal(v2.json.root.children[0].children[0].example_trace_id, traces[2].traceId);

		const one = await get('/api/v1/flamegraph', { service: 'front', version: '2.0', format: 'folded' });
		assert.equal(one.status, 200);
		assert.ok(one.text.includes('front: GET /checkout;front: db.query;db: SELECT 34000\n'), one.text);
	});

	test('q= selects requests by the spans of their traces, on each side', async () => {
		const r = await get('/api/v1/flamegraph', { service: 'front', q: 'resource.service.version = "2.0"' });
		assert.equal(r.status, 200, r.text);
		assert.equal(r.json.traces, 1);
		assert.equal(r.json.root.children[0].value_us, 100000);
		// db's SELECT is 34 ms only in the 2.0 trace: front's request is selected through it
		const deep = await get('/api/v1/flamegraph', { service: 'front', q: 'resource.service.name = "db" && duration > 32ms' });
		assert.equal(deep.json.traces, 1);
		assert.equal(deep.json.root.children[0].example_trace_id, traces[2].traceId);
		const both = await get('/api/v1/flamegraph', { service: 'front', q: '{ name = "consume" } && { duration > 32ms && kind = server && name = "SELECT" }' });
		assert.equal(both.json.traces, 1, 'two spansets, two different spans of one trace');
		const lim = await get('/api/v1/flamegraph', { service: 'front', q: 'name = "GET /checkout"', limit: '2' });
		assert.equal(lim.json.traces, 2, 'limit counts matching requests');
		const none = await get('/api/v1/flamegraph', { service: 'front', q: 'duration > 1s' });
		assert.equal(none.json.traces, 0);
		const d = await fetch(`${srv.url}/api/v1/flamegraph?${new URLSearchParams({
			service: 'front', 'base.q': 'resource.service.version = "1.0"', 'compare.q': 'resource.service.version = "2.0"', format: 'folded',
		})}`);
		const lines = (await d.text()).trim().split('\n');
		assert.ok(lines.includes('front: GET /checkout;front: db.query;db: SELECT 60000 34000'), lines.join('\n'));
		const bad = await get('/api/v1/flamegraph', { 'compare.q': 'duration >', 'base.version': '1.0' });
		assert.equal(bad.status, 400);
		assert.match(bad.json.error.message, /invalid compare\.q: column/);
	});

	test('differential: two versions, and two traces', async () => {
		const r = await fetch(`${srv.url}/api/v1/flamegraph?service=front&base.version=1.0&compare.version=2.0&format=folded`);
		assert.equal(r.status, 200);
		const lines = (await r.text()).trim().split('\n');
		assert.ok(lines.includes('front: GET /checkout;front: db.query 20000 6000'), lines.join('\n'));
		assert.ok(lines.includes('front: GET /checkout;front: db.query;db: SELECT 60000 34000'), lines.join('\n'));
		assert.ok(lines.includes('front: GET /checkout 74000 37000'), lines.join('\n'));

		const j = await get('/api/v1/flamegraph', { 'base.trace_id': traces[0].traceId, 'compare.trace_id': traces[2].traceId });
		assert.equal(j.status, 200, j.text);
		assert.equal(j.json.mode, 'diff');
		assert.deepEqual([j.json.base.traces, j.json.compare.traces], [1, 1]);
		const sel = j.json.root.children[0].children.find((c) => c.name === 'db.query').children[0];
		assert.deepEqual([sel.base.self_us, sel.compare.self_us], [30000, 34000]);

		const svg = await fetch(`${srv.url}/api/v1/flamegraph?service=front&base.version=1.0&compare.version=2.0&format=svg`);
		assert.equal(svg.status, 200);
		const text = await svg.text();
		assert.ok(text.includes('db: SELECT'));
	});

	test('bad parameters and unknown traces', async () => {
		const cases = [
			[{ trace_id: 'xyz' }, 400, /trace_id/],
			[{ trace_id: traceId(), format: 'png' }, 400, /format/],
			[{ limit: '1000001' }, 400, /limit/],
			[{ 'base.version': '1.0', 'compare.status': 'bogus' }, 400, /compare\.status/],
			[{ 'base.trace_id': '00', 'compare.version': '1.0' }, 400, /base\.trace_id/],
			[{ trace_id: traceId() }, 404, /not found/],
		];
		for (const [q, status, msg] of cases) {
			const r = await get('/api/v1/flamegraph', q);
			assert.equal(r.status, status, `${JSON.stringify(q)}: ${r.text}`);
			assert.match(r.json.error.message, msg);
		}
	});
});

// With only a time range, the newest `limit` requests are found without
// reading the request index's rows: the scan itself sees the traces'
// entry spans.  The answer must be the one the index gives.
describe('flame graphs by time range alone', () => {
	let srv;
	const traces = [];
	const get = (query) => getJson(`${srv.url}/api/v1/flamegraph?${new URLSearchParams(query)}`);

	before(async () => {
		srv = await startServer();
		traces.push(...threeTraces());
		// the middle trace arrives in two writes, its front part last
		const front = (r) => r.attrs['service.name'] === 'front';
		await post(srv.url, [traces[0], traces[2]].flatMap((t) => t.resources)
			.concat(traces[1].resources.filter((r) => !front(r))));
		await post(srv.url, traces[1].resources.filter(front));
	});
	after(() => srv?.dispose());

	test('the same answer as a search of the request index', async () => {
		for (const format of ['json', 'folded']) {
			const all = await get({ format });
			const front = await get({ format, service: 'front' });
			assert.equal(all.status, 200, all.text);
			assert.equal(all.text, front.text, `${format}: every trace has one front request`);
		}
		const all = await get({});
		assert.deepEqual([all.json.traces, all.json.spans], [3, 18]);
		const sel = all.json.root.children[0].children.find((c) => c.name === 'db.query').children[0];
		assert.deepEqual([sel.service, sel.count], ['db', 3], 'the part written later is joined to its trace');
	});

	test('limit counts requests, newest first', async () => {
		// each trace has three requests (front, db, worker): the newest four
		// are the last trace's three and the middle trace's worker request
		const four = await get({ limit: '4' });
		assert.deepEqual([four.json.traces, four.json.spans], [2, 12]);
		const ids = [traces[1].traceId, traces[2].traceId];
		assert.ok(ids.includes(four.json.root.children[0].example_trace_id));
		const one = await get({ limit: '1' });
		assert.deepEqual([one.json.traces, one.json.root.children[0].example_trace_id], [1, traces[2].traceId]);
		const before = await get({ to: String(Date.now() - 3_600_000) });
		assert.equal(before.json.traces, 0);
	});
});
