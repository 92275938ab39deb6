// clickhouse_outage.test.mjs - the ClickHouse server stopped in the middle
// of a run (Debian's clickhouse-server, started privately by
// lib/clickhouse.mjs):
//  - reads answer 503 with Retry-After and a message naming the
//    unreachable store (not 500), /health/ready is not ready and says why;
//  - ingest is held, then refused with 503 once the bounded queue is full;
//  - after the server is back: reads, readiness and writes recover, and
//    every span that was acknowledged, before or during the outage, is there.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { clickhouseSkip, newClickHouse } from './lib/clickhouse.mjs';
import { startServer } from './lib/server.mjs';
import { fetchTrace, jsonTraceRequest, makeTrace, sleep } from './lib/util.mjs';

const skip = clickhouseSkip();

const post = (srv, body) => fetch(`${srv.url}/v1/traces`, {
	method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});

/** A request of a few traces (3 spans each); their trace ids. */
function traces(n) {
	const ids = [], spans = [];
	for (let i = 0; i < n; i++) {
		const t = makeTrace({ name: 'GET /outage', children: 2 });
		ids.push(t.traceId);
		spans.push(...t.spans);
	}
	return { ids, body: jsonTraceRequest([{ attrs: { 'service.name': 'outage' }, spans }]) };
}

async function getJson(url) {
	const res = await fetch(url);
	const text = await res.text();
	let json = null;
	try { json = JSON.parse(text); } catch { /* not JSON */ }
	return { status: res.status, headers: res.headers, json, text };
}

const READS = ['/api/v1/performance/summary', '/api/v1/performance/timeseries', '/api/v1/traces?limit=5',
	'/api/v1/flamegraph?format=folded', '/api/v1/filters', '/api/v1/slow-requests'];

describe('ClickHouse stopped mid-run', { skip, timeout: 300000 }, () => {
	test('reads 503 naming the store, not ready, ingest 503; all back after, no acknowledged span lost', async () => {
		const ch = await newClickHouse();
		const srv = await startServer({ args: ['--analysis-interval', '0', '--max-queue', '60000', '--store', ch.storeUrl('outage')] });
		try {
			const acked = [];
			for (let i = 0; i < 4; i++) {
				const { ids, body } = traces(10);
				const r = await post(srv, body);
				assert.equal(r.status, 200, await r.text());
				acked.push(...ids);
			}
			for (const p of READS) assert.equal((await getJson(`${srv.url}${p}`)).status, 200, `${p} before`);
			assert.equal((await fetch(`${srv.url}/health/ready`)).status, 200, 'ready before');

			await ch.stop();
			for (const p of READS) {
				const r = await getJson(`${srv.url}${p}`);
				assert.equal(r.status, 503, `${p}: ${r.text.slice(0, 300)}`);
				assert.ok(Number(r.headers.get('retry-after')) >= 1, `${p}: Retry-After ${r.headers.get('retry-after')}`);
				assert.equal(r.json.error.code, 'store_unavailable', p);
				assert.match(r.json.error.message, new RegExp(`ClickHouse store at 127\\.0\\.0\\.1:${ch.httpPort} \\(database outage\\) is unreachable`), p);
			}
			const ready = await fetch(`${srv.url}/health/ready`);
			assert.equal(ready.status, 503, 'not ready while ClickHouse is down');
			assert.match((await ready.json()).reason, /ClickHouse store .* is unreachable/);
			assert.equal((await fetch(`${srv.url}/health`)).status, 200, 'alive all the same');

			// ingest: held until ClickHouse has the rows, 503 once the queue is full
			const pending = [];
			let refused = null;
			for (let i = 0; i < 200 && !refused; i++) {
				const { ids, body } = traces(10);
				const r = post(srv, body);
				const first = await Promise.race([r, sleep(200).then(() => null)]);
				if (!first) pending.push({ ids, r });
				else refused = first;
			}
			assert.ok(pending.length >= 1, 'a batch waits for ClickHouse');
			assert.ok(refused, `refused after ${pending.length} held batches`);
			const refusal = await refused.text();
			assert.equal(refused.status, 503, refusal);
			assert.ok(Number(refused.headers.get('retry-after')) >= 1);
			assert.match(refusal, /the store cannot write now \(the ClickHouse store at .* is unreachable\)/, 'the refusal says why');

			await ch.restart();
			for (const { ids, r } of pending) {
				const res = await r;
				assert.equal(res.status, 200, `a held batch is acknowledged once ClickHouse is back: ${await res.text()}`);
				acked.push(...ids);
			}
			const until = Date.now() + 20000;
			while ((await fetch(`${srv.url}/health/ready`)).status !== 200 && Date.now() < until) await sleep(200);
			assert.equal((await fetch(`${srv.url}/health/ready`)).status, 200, 'ready again');
			for (const p of READS) assert.equal((await getJson(`${srv.url}${p}`)).status, 200, `${p} after`);
			const { ids, body } = traces(3);
			assert.equal((await post(srv, body)).status, 200, 'writes go through again');
			acked.push(...ids);
			for (const id of acked) {
				const spans = await fetchTrace(srv, id);
				assert.equal(spans?.length, 3, `acknowledged trace ${id} is readable`);
			}
			const s = await getJson(`${srv.url}/api/v1/performance/summary`);
			assert.equal(s.json.count, acked.length, 'every acknowledged request is counted once');
		} finally {
			await srv.dispose();
			await ch.stop();
		}
	});
});
