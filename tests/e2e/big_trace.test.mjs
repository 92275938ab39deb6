// big_trace.test.mjs - one write carrying one trace of 500,000 spans: it
// is stored in several blocks of bounded size (the trace index lists the
// trace once per block), and reading the trace back returns every span.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

import { startServer, storeKind } from './lib/server.mjs';
import { nowNs, pbTraceRequest, rawPost, spanId, traceId } from './lib/util.mjs';

const SPANS = Number(process.env.HOTPATH_BIG_TRACE_SPANS || 500000);
const BLOCK_MAX_SPANS = 8192;

test(`one write of a ${SPANS}-span trace: bounded blocks, read back whole`, { timeout: 600000 }, async (t) => {
	const srv = await startServer({ args: ['--analysis-interval', '0', '--max-body', String(256 << 20)] });
	t.after(() => srv.dispose());
	const tid = traceId();
	const end = nowNs();
	const root = { traceId: tid, spanId: spanId(), name: 'POST /import', kind: 2, start: end - 60_000_000_000n, end, attrs: { 'http.request.method': 'POST' } };
	const spans = [root];
	for (let i = 1; i < SPANS; i++) {
		const start = root.start + BigInt(i) * 100_000n;
		spans.push({ traceId: tid, spanId: spanId(), parentSpanId: root.spanId, name: 'insert row', kind: 1, start, end: start + 50_000n });
	}
	const body = pbTraceRequest([{ attrs: { 'service.name': 'big-import' }, spans }]);
	const res = await rawPost(`${srv.url}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body });
	assert.equal(res.status, 200, `the write: ${res.status} ${res.body}`);

	const got = await fetch(`${srv.url}/api/v1/traces/${tid}`);
	assert.equal(got.status, 200);
	const trace = await got.json();
	assert.equal(trace.spans.length, SPANS, 'every span of the trace is read back');
	const ids = new Set(trace.spans.map((s) => s.span_id));
	assert.equal(ids.size, SPANS, 'each span once');
	for (const s of [spans[0], spans[1], spans[SPANS >> 1], spans[SPANS - 1]]) assert.ok(ids.has(s.spanId), `span ${s.spanId} is there`);
	await srv.stop();

	if (storeKind() === 'clickhouse') return;
	const db = path.join(srv.dataDir, 'hotpath.db');
	const [blocks, largest, indexed] = execFileSync('sqlite3', [db,
		'SELECT count(*), max(n_spans), (SELECT count(*) FROM trace_index) FROM blocks'], { encoding: 'utf8' }).trim().split('|').map(Number);
	t.diagnostic(`${blocks} blocks, the largest ${largest} spans; ${indexed} trace index entries`);
	assert.ok(blocks >= Math.ceil(SPANS / BLOCK_MAX_SPANS), `${blocks} blocks for ${SPANS} spans`);
	assert.ok(largest <= BLOCK_MAX_SPANS, `the largest block holds ${largest} spans`);
	assert.equal(indexed, blocks, 'the trace index lists the trace once per block');
});
