// slow_details.test.mjs - the details of listed slow requests (phases, entry
// span, slow spans) are kept once read from the traces: asked again, the
// answer is the same; a part of a trace written later, or new thresholds,
// show at once; and a server started afresh on the same store (nothing
// kept) answers the same as the one that kept them.
//
// Three requests of "shop", in the last few minutes (ms from their start):
//   GET /orders SERVER [0, 1500 + 100 i]            (i = 0..2)
//     SELECT orders CLIENT postgresql [10, 1210]    database, 1200 ms
// and, written later, apart, under the slowest one (a second export of the
// same service, so that the services of the fleet stay the same):
//     GET /stock SERVER [1220, 1690]  (its own request: below the bar)
//       SELECT stock CLIENT postgresql [1230, 1680]  database, 450 ms
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { makeTempDir, startServer } from './lib/server.mjs';
import { getJson, jsonTraceRequest, spanId, traceId } from './lib/util.mjs';

const MS = 1_000_000n;

function orders(startNs, i) {
	const tid = traceId();
	const root = spanId();
	const at = (ms) => String(startNs + BigInt(ms) * MS);
	return {
		traceId: tid,
		root,
		startNs,
		spans: [
			{ traceId: tid, spanId: root, name: 'GET /orders', kind: 2, start: at(0), end: at(1500 + 100 * i),
				attrs: { 'http.request.method': 'GET', 'http.route': '/orders' } },
			{ traceId: tid, spanId: spanId(), parentSpanId: root, name: 'SELECT orders', kind: 3, start: at(10),
				end: at(1210), attrs: { 'db.system.name': 'postgresql' } },
		],
	};
}

function stockPart(t) {
	const at = (ms) => String(t.startNs + BigInt(ms) * MS);
	const call = spanId();
	return [
		{ traceId: t.traceId, spanId: call, parentSpanId: t.root, name: 'GET /stock', kind: 2, start: at(1220),
			end: at(1690), attrs: { 'http.request.method': 'GET', 'http.route': '/stock' } },
		{ traceId: t.traceId, spanId: spanId(), parentSpanId: call, name: 'SELECT stock', kind: 3, start: at(1230),
			end: at(1680), attrs: { 'db.system.name': 'postgresql' } },
	];
}

async function post(srv, service, spans) {
	const res = await fetch(`${srv.url}/v1/traces`, {
		method: 'POST', headers: { 'content-type': 'application/json' },
		body: JSON.stringify(jsonTraceRequest([{ attrs: { 'service.name': service }, spans }])),
	});
	assert.equal(res.status, 200, await res.text());
}

describe('slow requests: the listed requests\' details kept once read', () => {
	let srv;
	const dataDir = makeTempDir();
	const traces = [];
	let from;
	let to;
	// absolute times, so that a restarted server reads the same window
	const list = () => getJson(`${srv.url}/api/v1/slow-requests?${new URLSearchParams({
		from: String(from), to: String(to), group_by: 'endpoint', limit: '10' })}`);

	before(async () => {
		srv = await startServer({ dataDir });
		const base = BigInt(Date.now()) * MS - 120_000n * MS;
		for (let i = 0; i < 3; i++) traces.push(orders(base + BigInt(i) * 1000n * MS, i));
		await post(srv, 'shop', traces.flatMap((t) => t.spans));
		from = Number(base / MS) - 1000;
		to = Number(base / MS) + 60_000;
	});
	after(() => srv?.dispose());

	test('asked twice: the same answer', async () => {
		const a = await list();
		assert.equal(a.status, 200, a.text);
		assert.equal(a.json.count, 3);
		const slowest = a.json.requests[0];
		assert.equal(slowest.trace_id, traces[2].traceId);
		assert.deepEqual(slowest.slow_spans.map((s) => s.name).sort(), ['GET /orders', 'SELECT orders']);
		assert.equal(slowest.span.attributes['http.route'], '/orders');
		const b = await list();
		assert.equal(b.text, a.text);
	});

	test('a part written later shows at once, as a server that kept nothing reads it', async () => {
		const prev = (await list()).json;
		const before_ = prev.requests[0];
		await post(srv, 'shop', stockPart(traces[2]));
		const r = await list();
		assert.equal(r.status, 200, r.text);
		const slowest = r.json.requests[0];
		assert.equal(slowest.trace_id, traces[2].traceId);
		assert.deepEqual(slowest.slow_spans.map((s) => s.name).sort(), ['GET /orders', 'SELECT orders'],
			'the stock query (450 ms) is under the database bar (500 ms)');
		assert.notDeepEqual(slowest.phases, before_.phases, 'its phases count the stock call now');
		assert.ok(slowest.phases.db_ms > before_.phases.db_ms, `db ${before_.phases.db_ms} -> ${slowest.phases.db_ms}`);
		assert.deepEqual(r.json.requests.slice(1), prev.requests.slice(1), 'the others unchanged');

		await srv.stop();
		srv = await startServer({ dataDir });
		const fresh = await list();
		assert.equal(fresh.text, r.text, 'a server started afresh answers the same');
	});

	test('new thresholds apply to the details at once', async () => {
		const res = await fetch(`${srv.url}/api/v1/slow-operations/thresholds`, {
			method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ database_ms: 400 }),
		});
		assert.equal(res.status, 200, await res.text());
		const r = await list();
		const slowest = r.json.requests[0];
		assert.deepEqual(slowest.slow_spans.map((s) => s.name).sort(), ['GET /orders', 'SELECT orders', 'SELECT stock']);
		const q = slowest.slow_spans.find((s) => s.name === 'SELECT orders');
		assert.equal(q.attributes['performance.slow.threshold_ms'], 400);
		const others = r.json.requests.slice(1).map((x) => x.slow_spans.find((s) => s.name === 'SELECT orders'));
		assert.ok(others.every((s) => s.attributes['performance.slow.threshold_ms'] === 400));
	});
});
