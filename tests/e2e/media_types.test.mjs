// media_types.test.mjs - Content-Type is parsed as a media type: parameters
// (charset) and letter case do not matter; gzip bodies are accepted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import zlib from 'node:zlib';

import { startServer } from './lib/server.mjs';
import { fetchTrace, jsonTraceRequest, makeTrace } from './lib/util.mjs';

const CASES = [
	{ type: 'application/json; charset=utf-8', gzip: false },
	{ type: 'Application/JSON ; Charset=UTF-8', gzip: false },
	{ type: 'application/json', gzip: true },
];

test('media type parameters and case are accepted, gzip too; the trace is stored', async () => {
	const srv = await startServer();
	try {
		for (const c of CASES) {
			const t = makeTrace({ children: 3 });
			let body = Buffer.from(JSON.stringify(jsonTraceRequest([{ attrs: { 'service.name': 'media' }, spans: t.spans }])));
			const headers = { 'Content-Type': c.type };
			if (c.gzip) {
				body = zlib.gzipSync(body);
				headers['Content-Encoding'] = 'gzip';
			}
			const res = await fetch(`${srv.url}/v1/traces`, { method: 'POST', headers, body });
			assert.equal(res.status, 200, `${c.type}${c.gzip ? ' gzip' : ''}: ${await res.text()}`);
			assert.match(res.headers.get('content-type'), /^application\/json/, 'answered in JSON');
			const spans = await fetchTrace(srv, t.traceId);
			assert.equal(spans?.length, t.spans.length, `${c.type}: all spans stored`);
		}
	} finally {
		await srv.stop();
	}
});
