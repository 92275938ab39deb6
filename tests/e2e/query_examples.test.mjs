// query_examples.test.mjs - every query in the examples table of
// docs/QUERY.md, run through the HTTP API against stored traces: each one
// parses, selects the traces it should (some only through a span deep in
// the trace, or a mark derived from thresholds and heap samples) and not
// the ones it should not.  A new example without expectations here fails.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { startServer } from './lib/server.mjs';
import { getJson, spanId, traceId } from './lib/util.mjs';

const MS = 1_000_000n;
const MB = 1024 * 1024;

/** The queries of the "query" column of the table under "## Examples". */
export function exampleQueries(markdown) {
	const section = markdown.split('\n## Examples\n')[1].split('\n## ')[0];
	const rows = section.split('\n').filter((l) => l.startsWith('|') && !l.startsWith('| ---'));
	const queries = [];
	for (const row of rows.slice(1)) { // the first row is the header
		const cell = row.split(/(?<!\\)\|/)[2];
		for (const m of cell.matchAll(/(`+)(.+?)\1(?!`)/g)) {
			let q = m[2];
			if (m[1].length > 1 && q.startsWith(' ') && q.endsWith(' ')) q = q.slice(1, -1);
			queries.push(q.replace(/\\\|/g, '|'));
		}
	}
	return queries;
}

// What each example must select (yes) and must not (no), by trace name.
const expect = {
	'duration > 2s': { yes: ['big', 'orders', 'marked'], no: ['small', 'failed'] },
	'resource.service.name = "checkout" && duration >= 750ms': { yes: ['orders'], no: ['failed', 'big'] },
	'{ span.http.response.status_code >= 500 }': { yes: ['failed'], no: ['orders'] },
	'kind = server && status = error': { yes: ['failed'], no: ['orders'] },
	'span.http.route = "/api/orders/{id}"': { yes: ['orders'], no: ['failed', 'big'] },
	'name =~ "SELECT.*" || span.db.operation.name = "SELECT"': { yes: ['orders', 'mixed'], no: ['failed', 'big'] },
	'span.db.system != nil && span.db.system != "redis" && duration > 100ms': { yes: ['orders'], no: ['failed', 'mixed'] },
	'statusMessage =~ ".*(timeout|deadline).*"': { yes: ['failed'], no: ['orders'] },
	'.deployment.environment = "production"': { yes: ['orders', 'failed'], no: ['big'] },
	'span.performance.slow = true': { yes: ['big', 'orders', 'marked'], no: ['small', 'heap', 'mixed'] },
	'!{ span.performance.slow = true }': { yes: ['small', 'heap', 'mixed'], no: ['big', 'orders'] },
	'span.gen_ai.usage.input_tokens > 4000': { yes: ['big'], no: ['small', 'mixed'] },
	'{ span.gen_ai.system = * } && { span.db.system = * }': { yes: ['mixed'], no: ['big', 'orders'] },
	'{ kind = server && duration > 2s } && !{ status = error }': { yes: ['big', 'orders', 'marked'], no: ['small', 'failed'] },
	'span.performance.slow = true AND span.http.method = *': { yes: ['marked'], no: ['big', 'orders'] },
	'span.performance.memory.heap_used_mb > 500': { yes: ['marked', 'heap'], no: ['mixed', 'small'] },
	'span.performance.slowness_ratio > 3': { yes: ['marked', 'big'], no: ['small', 'orders'] },
	'span.url.path =~ `/api/v[0-9]+/users/[^/]+\\.json`': { yes: ['noname'], no: ['orders'] },
	'resource.service.name = "unknown_service"': { yes: ['noname'], no: ['orders'] },
};

const anyValue = (v) => {
	if (typeof v === 'string') return { stringValue: v };
	if (typeof v === 'boolean') return { boolValue: v };
	if (Number.isInteger(v)) return { intValue: String(v) };
	return { doubleValue: v };
};
const kvs = (o) => Object.entries(o).map(([key, value]) => ({ key, value: anyValue(value) }));

// Resources: each trace's spans go out under one of these.
const RES = {
	agent1: { 'service.name': 'agent', 'service.instance.id': 'a-1', 'deployment.environment': 'staging' },
	agent2: { 'service.name': 'agent', 'service.instance.id': 'a-2', 'deployment.environment': 'staging' },
	checkout: { 'service.name': 'checkout', 'service.instance.id': 'c-1', 'deployment.environment': 'production' },
	node1: { 'service.name': 'node-api', 'service.instance.id': 'n-1' },
	node2: { 'service.name': 'node-api', 'service.instance.id': 'n-2' },
	noname: { team: 'platform' },
};

// A trace: [resource, name, kind, fromMs, toMs, attrs, status?, parent index?]...
function buildTraces(base) {
	const llm = (tokens, from, to) => ['chat gpt-4o', 3, from, to, { 'gen_ai.system': 'openai', 'gen_ai.usage.input_tokens': tokens }];
	const chat = { 'http.request.method': 'POST', 'http.route': '/chat' };
	const shapes = {
		big: ['agent2', [['POST /chat', 2, 0, 3100, chat], ['plan', 1, 5, 3055, {}, null, 0], [...llm(5000, 10, 3010), null, 1]]],
		small: ['agent2', [['POST /chat', 2, 0, 300, chat], ['plan', 1, 5, 250, {}, null, 0], [...llm(100, 10, 210), null, 1]]],
		mixed: ['agent1', [['POST /chat', 2, 0, 500, chat], [...llm(300, 10, 110), null, 0],
			['SELECT memory', 3, 120, 170, { 'db.system': 'postgresql' }, null, 0]]],
		orders: ['checkout', [
			['GET /api/orders/{id}', 2, 0, 2500, { 'http.request.method': 'GET', 'http.route': '/api/orders/{id}', 'url.path': '/api/orders/42', 'http.response.status_code': 200 }],
			['SELECT orders', 3, 10, 810, { 'db.system': 'postgresql', 'db.operation.name': 'SELECT' }, null, 0]]],
		failed: ['checkout', [
			['GET /api/cart', 2, 0, 200, { 'http.request.method': 'GET', 'http.route': '/api/cart', 'http.response.status_code': 503 },
				{ code: 2, message: 'upstream timeout' }],
			['GET', 3, 10, 160, { 'db.system': 'redis' }, null, 0]]],
		noname: ['noname', [['GET /api/v2/users/{id}', 2, 0, 50, { 'http.request.method': 'GET', 'url.path': '/api/v2/users/ab12.json' }]]],
		// what the seed's SDK sets on a slow span: the ratio and the heap as toFixed(2) strings
		marked: ['node1', [['GET /users', 2, 0, 3520, {
			'http.method': 'GET', 'http.route': '/users', 'performance.slow': true, 'performance.threshold': 1000,
			'performance.duration': 3520, 'performance.slowness_ratio': '3.52', 'performance.memory.heap_used_mb': '612.40',
		}]]],
		heap: ['node2', [['GET /items', 2, 0, 100, { 'http.request.method': 'GET', 'http.route': '/items' }]]],
	};
	const traces = {};
	for (const [name, [res, spans]] of Object.entries(shapes)) {
		const tid = traceId();
		const ids = spans.map(() => spanId());
		traces[name] = {
			traceId: tid, res,
			spans: spans.map(([sname, kind, from, to, attrs, status, parent], i) => ({
				traceId: tid, spanId: ids[i], ...(parent != null ? { parentSpanId: ids[parent] } : {}), name: sname, kind,
				startTimeUnixNano: String(base + BigInt(from) * MS), endTimeUnixNano: String(base + BigInt(to) * MS),
				attributes: kvs(attrs), ...(status ? { status } : {}),
			})),
		};
	}
	return traces;
}

// v8js.memory.heap.used of a process: one point per heap space.
function heapMetrics(res, timeNs, spaces) {
	return {
		resource: { attributes: kvs(RES[res]) },
		scopeMetrics: [{
			metrics: [{
				name: 'v8js.memory.heap.used', unit: 'By',
				gauge: {
					dataPoints: Object.entries(spaces).map(([space, mb]) => ({
						timeUnixNano: String(timeNs), asDouble: mb * MB,
						attributes: kvs({ 'v8js.heap.space.name': space }),
					})),
				},
			}],
		}],
	};
}

async function post(url, path, body) {
	const res = await fetch(`${url}${path}`, {
		method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
	});
	assert.equal(res.status, 200, await res.text());
}

describe('docs/QUERY.md examples', () => {
	let srv, traces;
	const names = new Map();
	const queries = exampleQueries(fs.readFileSync(new URL('../../docs/QUERY.md', import.meta.url), 'utf8'));

	before(async () => {
		srv = await startServer();
		const base = BigInt(Date.now()) * MS - 5n * 60_000n * MS;
		traces = buildTraces(base);
		for (const [name, t] of Object.entries(traces)) names.set(t.traceId, name);
		const byRes = {};
		for (const t of Object.values(traces)) (byRes[t.res] ||= []).push(...t.spans);
		await post(srv.url, '/v1/traces', {
			resourceSpans: Object.entries(byRes).map(([res, spans]) => ({
				resource: { attributes: kvs(RES[res]) },
				scopeSpans: [{ scope: { name: 'e2e-query-examples' }, spans }],
			})),
		});
		const sample = base - 10_000n * MS; // ten seconds before the requests
		await post(srv.url, '/v1/metrics', {
			resourceMetrics: [heapMetrics('node2', sample, { new_space: 300, old_space: 400 }),
				heapMetrics('agent1', sample, { old_space: 100 })],
		});
	});
	after(() => srv?.dispose());

	test('the table is read, and every example has expectations', () => {
		assert.ok(queries.length >= 19, `examples read: ${queries.length}`);
		assert.deepEqual([...queries].sort(), Object.keys(expect).sort());
	});

	for (const q of Object.keys(expect)) {
		test(q, async () => {
			const params = new URLSearchParams({ range: '1h', limit: '1000', q });
			const r = await getJson(`${srv.url}/api/v1/traces?${params}`);
			assert.equal(r.status, 200, r.text);
			const got = new Set(r.json.traces.map((t) => names.get(t.trace_id)));
			for (const name of expect[q].yes) assert.ok(got.has(name), `${name} selected (got ${[...got]})`);
			for (const name of expect[q].no) assert.ok(!got.has(name), `${name} not selected (got ${[...got]})`);
			// the performance answers select the same requests
			const s = await getJson(`${srv.url}/api/v1/performance/summary?${params}`);
			assert.equal(s.status, 200, s.text);
			assert.equal(s.json.count, r.json.count, 'summary counts the requests /traces lists');
			const bd = await getJson(`${srv.url}/api/v1/performance/breakdown?${params}`);
			assert.equal(bd.status, 200, bd.text);
			assert.equal(bd.json.requests, r.json.count, 'breakdown covers the same requests');
		});
	}
});
