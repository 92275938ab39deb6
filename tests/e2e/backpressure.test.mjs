// backpressure.test.mjs - a full write queue answers 503 with Retry-After,
// in the OTLP way, and a client that retries gets everything stored once.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { startServer } from './lib/server.mjs';
import { decodeRpcStatus, fetchTrace, makeTrace, pbTraceRequest, sleep } from './lib/util.mjs';

const CLIENTS = 16;

// One request: 40 traces of 30 spans, protobuf.
function batch() {
	const traces = Array.from({ length: 40 }, () => makeTrace({ children: 29 }));
	const body = pbTraceRequest([{ attrs: { 'service.name': 'bp' }, spans: traces.flatMap((t) => t.spans) }]);
	return { traces, body };
}

test('a full queue answers 503 + Retry-After; retried batches are all stored once', async () => {
	// A queue of one byte holds one batch at a time: concurrent batches overflow it.
	const srv = await startServer({ args: ['--max-queue', '1'] });
	try {
		const batches = Array.from({ length: CLIENTS }, batch);
		let busy = 0;
		const send = async ({ body }) => {
			for (let attempt = 0; attempt < 200; attempt++) {
				const res = await fetch(`${srv.url}/v1/traces`, {
					method: 'POST', headers: { 'Content-Type': 'application/x-protobuf' }, body,
				});
				const bytes = Buffer.from(await res.arrayBuffer());
				if (res.status === 200) return;
				assert.equal(res.status, 503, `unexpected status ${res.status}`);
				assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After names a delay');
				const st = decodeRpcStatus(bytes);
				assert.equal(st.code, 14, 'google.rpc.Status UNAVAILABLE');
				assert.match(st.message, /queue is full/);
				busy++;
				await sleep(20);
			}
			assert.fail('a batch was never accepted');
		};
		await Promise.all(batches.map(send));
		assert.ok(busy > 0, `the queue overflowed at least once (${busy} times)`);

		// every trace is there, each span exactly once
		for (const { traces } of batches) {
			for (const t of [traces[0], traces[traces.length - 1]]) {
				const got = await fetchTrace(srv, t.traceId);
				assert.equal(got?.length, t.spans.length, `trace ${t.traceId} has each span once`);
			}
		}
		const metrics = await (await fetch(`${srv.url}/metrics`)).text();
		const counted = Number(/^hotpath_ingest_busy_total (\d+)$/m.exec(metrics)[1]);
		assert.equal(counted, busy, '/metrics counts the refusals');
	} finally {
		await srv.stop();
	}
});
