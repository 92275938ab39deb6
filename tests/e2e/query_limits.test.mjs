// query_limits.test.mjs - one heavy read cannot hold the server: with
// --query-timeout a wide q= summary over a store of a few hundred thousand
// spans stops at its limit and answers 504 with the limit named, counted
// in /metrics, while /health and ingest from other clients keep answering
// and a narrow read still succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { startServer } from './lib/server.mjs';
import { makeTrace, nowNs, pbTraceRequest, rawPost } from './lib/util.mjs';

const LIMIT_S = 0.02;
const BATCHES = Number(process.env.HOTPATH_QUERY_LIMIT_BATCHES || 40);
const TRACES_PER_BATCH = 1000; // 5 spans each

function batch(i, endNs) {
	const spans = [];
	for (let t = 0; t < TRACES_PER_BATCH; t++) {
		const tr = makeTrace({ name: `GET /heavy/${t % 13}`, children: 4, endNs: endNs - BigInt(t) * 1000n });
		for (const s of tr.spans) s.attrs = { ...s.attrs, 'app.batch': i, 'app.note': `n${t % 97}` };
		spans.push(...tr.spans);
	}
	return pbTraceRequest([{ attrs: { 'service.name': `heavy-${i % 3}` }, spans }]);
}

async function post(srv, body) {
	return rawPost(`${srv.url}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body });
}

async function timed(fn) {
	const t0 = Date.now();
	const r = await fn();
	return { r, ms: Date.now() - t0 };
}

test('a wide q= query stops at --query-timeout (504, limit named) while health and ingest answer', { timeout: 300000 }, async (t) => {
	const srv = await startServer({ args: ['--query-timeout', String(LIMIT_S), '--analysis-interval', '0'] });
	t.after(() => srv.dispose());
	const end = nowNs();
	for (let i = 0; i < BATCHES; i++) {
		const res = await post(srv, batch(i, end - BigInt(i) * 1_000_000_000n));
		assert.equal(res.status, 200, `batch ${i}: ${res.body}`);
	}
	const wide = `${srv.url}/api/v1/performance/summary?from=${Date.now() - 3600000}&to=${Date.now() + 60000}&q=${encodeURIComponent('span.app.note = "absent" && duration > 1ms')}`;
	const first = await fetch(wide);
	const body = await first.json();
	assert.equal(first.status, 504, `the wide query answered ${first.status}: ${JSON.stringify(body).slice(0, 300)}`);
	assert.equal(body.error.code, 'timeout');
	assert.match(body.error.message, new RegExp(`time limit of ${LIMIT_S} s \\(--query-timeout\\)`));
	assert.equal(first.headers.get('retry-after'), null, '504 asks for a narrower read, not the same again');

	// Heavy reads keep coming from 4 clients while health and ingest are timed.
	let stop = false, heavy = 0, heavy504 = 0, heavySlowest = 0;
	const loops = Array.from({ length: 4 }, async () => {
		while (!stop) {
			const { r, ms } = await timed(() => fetch(wide).then(async (res) => ({ status: res.status, text: await res.text() })));
			heavy++;
			if (r.status === 504) heavy504++;
			else assert.fail(`a wide query answered ${r.status}: ${r.text.slice(0, 200)}`);
			heavySlowest = Math.max(heavySlowest, ms);
		}
	});
	const health = [], ingest = [];
	for (let i = 0; i < 10; i++) {
		const h = await timed(() => fetch(`${srv.url}/health`).then((res) => res.status));
		health.push(h);
		const g = await timed(async () => (await post(srv, batch(1000 + i, nowNs()))).status);
		ingest.push(g);
	}
	stop = true;
	await Promise.all(loops);
	t.diagnostic(`${heavy} wide reads (${heavy504} 504, slowest ${heavySlowest} ms); health ${health.map((h) => h.ms).join(',')} ms; ingest ${ingest.map((g) => g.ms).join(',')} ms`);
	for (const h of health) assert.equal(h.r, 200);
	for (const g of ingest) assert.equal(g.r, 200);
	assert.ok(Math.max(...health.map((h) => h.ms)) < 1000, 'health answered within 1 s');
	assert.ok(Math.max(...ingest.map((g) => g.ms)) < 5000, 'ingest answered within 5 s');
	assert.ok(heavy504 >= 4, `only ${heavy504} wide reads ran alongside`);

	// A narrow read is not cut.
	const narrow = await fetch(`${srv.url}/api/v1/traces?from=${Date.now() - 3600000}&to=${Date.now() + 60000}&limit=5`);
	assert.equal(narrow.status, 200, await narrow.text());

	const metrics = await (await fetch(`${srv.url}/metrics`)).text();
	const m = metrics.match(/hotpath_http_refused_total\{reason="query_timeout"\} (\d+)/);
	assert.ok(m, 'the refusal reason query_timeout is in /metrics');
	assert.ok(Number(m[1]) >= heavy504 + 1, `query_timeout counted ${m[1]}, want at least ${heavy504 + 1}`);
});
