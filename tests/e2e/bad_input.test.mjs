// bad_input.test.mjs - hostile and broken requests get a precise 4xx, store
// nothing, and never disturb a well-behaved client sending in parallel.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import zlib from 'node:zlib';

import { hotpathBin, startServer } from './lib/server.mjs';
import {
	decodeExportResponse, decodeRpcStatus, fetchTrace, getJson, jsonTraceRequest, makeTrace,
	nowNs, pbTraceRequest, rawPost, searchTraces, sleep, spanId, traceId, uniq,
} from './lib/util.mjs';

const PB = 'application/x-protobuf';
const JSON_CT = 'application/json';

let srv;
let maxBody;

// ------------------------------------------------------------ the good client

const steady = {
	service: uniq('steady-client'),
	stop: false,
	acked: [],     // {traceId, spanIds}
	failures: [],  // strings
	retries: 0,
	done: null,
};

async function steadyLoop() {
	let n = 0;
	while (!steady.stop) {
		n++;
		const t = makeTrace({ name: `GET /steady/${n % 5}`, children: 2 });
		const resources = [{ attrs: { 'service.name': steady.service }, spans: t.spans }];
		let body, headers;
		switch (n % 3) {
		case 0: body = pbTraceRequest(resources); headers = { 'Content-Type': PB }; break;
		case 1: body = Buffer.from(JSON.stringify(jsonTraceRequest(resources))); headers = { 'Content-Type': JSON_CT }; break;
		default: body = zlib.gzipSync(pbTraceRequest(resources)); headers = { 'Content-Type': PB, 'Content-Encoding': 'gzip' };
		}
		for (let attempt = 0; ; attempt++) {
			let res;
			try {
				res = await fetch(`${srv.url}/v1/traces`, { method: 'POST', headers, body, signal: AbortSignal.timeout(60000) });
				await res.arrayBuffer();
			} catch (e) {
				steady.failures.push(`batch ${n}: network error ${e.cause?.code || e.message}`);
				break;
			}
			if ((res.status === 429 || res.status === 503) && attempt < 20) {
				steady.retries++;
				await sleep(1000 * (Number(res.headers.get('retry-after')) || 1));
				continue;
			}
			if (res.status === 200) steady.acked.push({ traceId: t.traceId, spanIds: t.spans.map((s) => s.spanId) });
			else steady.failures.push(`batch ${n}: status ${res.status}`);
			break;
		}
		await sleep(10);
	}
}

before(async () => {
	srv = await startServer();
	const help = execFileSync(hotpathBin(), ['serve', '--help'], { encoding: 'utf8' });
	const m = /--max-body[^\n]*default (\d+)/.exec(help);
	maxBody = m ? Number(m[1]) : 64 * 1024 * 1024;
	steady.done = steadyLoop();
});
after(async () => {
	steady.stop = true;
	await steady.done;
	if (srv) await srv.stop();
});

// ------------------------------------------------------------------- helpers

/** POST with fetch; returns {status, headers, body: Buffer}. */
async function post(path, { headers = {}, body = '' } = {}) {
	const res = await fetch(srv.url + path, { method: 'POST', headers, body });
	return { status: res.status, headers: Object.fromEntries(res.headers), body: Buffer.from(await res.arrayBuffer()) };
}

function show(res) {
	return `status ${res.status}, content-type ${res.headers['content-type']}, body ${JSON.stringify(res.body.toString('utf8').slice(0, 400))}`;
}

/**
 * The google.rpc.Status of an OTLP error answer, in the request's content
 * type (`media` 'protobuf' or 'json'); asserts the shape.
 */
function otlpStatus(res, media, what) {
	const ct = res.headers['content-type'] || '';
	if (media === 'protobuf') {
		assert.match(ct, /^application\/(x-)?protobuf/, `${what}: OTLP/protobuf error must be a protobuf google.rpc.Status: ${show(res)}`);
		let st;
		assert.doesNotThrow(() => { st = decodeRpcStatus(res.body); }, `${what}: body is not a protobuf Status: ${show(res)}`);
		assert.ok(st.code !== 0, `${what}: Status.code is 0 (OK) in an error: ${show(res)}`);
		assert.ok(st.message.length > 0, `${what}: Status.message is empty: ${show(res)}`);
		return st;
	}
	assert.match(ct, /^application\/json/, `${what}: OTLP/JSON error must be a JSON google.rpc.Status: ${show(res)}`);
	let st;
	assert.doesNotThrow(() => { st = JSON.parse(res.body.toString('utf8')); }, `${what}: body is not JSON: ${show(res)}`);
	assert.equal(typeof st.code, 'number', `${what}: JSON Status has no numeric "code": ${show(res)}`);
	assert.ok(st.code !== 0, `${what}: Status.code is 0 in an error: ${show(res)}`);
	assert.equal(typeof st.message, 'string', `${what}: JSON Status has no "message": ${show(res)}`);
	assert.ok(st.message.length > 0, `${what}: Status.message is empty`);
	return st;
}

/** The {"error": {code, message}} answer of a non-OTLP endpoint. */
function apiError(res, what) {
	let j;
	assert.doesNotThrow(() => { j = JSON.parse(res.body.toString('utf8')); }, `${what}: body is not JSON: ${show(res)}`);
	assert.ok(j.error && typeof j.error.code === 'string' && typeof j.error.message === 'string',
		`${what}: want {"error": {"code", "message"}}: ${show(res)}`);
	return j.error;
}

/** Assert that none of these traces / services were stored. */
async function assertNothingStored({ traceIds = [], services = [], tools = [] }, what) {
	for (const id of traceIds) {
		const spans = await fetchTrace(srv, id);
		assert.equal(spans, null, `${what}: trace ${id} was stored (${spans?.length} spans) although the request was refused`);
	}
	for (const service of services) {
		const list = await searchTraces(srv, { service });
		assert.equal(list.length, 0, `${what}: service ${service} has stored requests: ${JSON.stringify(list).slice(0, 300)}`);
	}
	for (const tool of tools) {
		const list = await searchTraces(srv, { tool });
		assert.equal(list.length, 0, `${what}: tool ${tool} has stored requests: ${JSON.stringify(list).slice(0, 300)}`);
	}
}

/** A valid one-trace request for a fresh service, in both encodings. */
function validRequest(children = 2) {
	const service = uniq('bad-input');
	const t = makeTrace({ children });
	const resources = [{ attrs: { 'service.name': service }, spans: t.spans }];
	return {
		service, traceId: t.traceId, spans: t.spans, resources,
		pb: pbTraceRequest(resources),
		json: Buffer.from(JSON.stringify(jsonTraceRequest(resources))),
	};
}

const refused = []; // every service name whose data must never show up

// --------------------------------------------------------------------- tests

test('truncated protobuf: 400, protobuf google.rpc.Status, nothing stored', async () => {
	const v = validRequest(4);
	refused.push(v.service);
	for (const cut of [v.pb.length - 1, v.pb.length - 9, Math.floor(v.pb.length / 2), 3]) {
		const res = await post('/v1/traces', { headers: { 'Content-Type': PB }, body: v.pb.subarray(0, cut) });
		const what = `truncated to ${cut}/${v.pb.length} bytes`;
		assert.equal(res.status, 400, `${what}: ${show(res)}`);
		const st = otlpStatus(res, 'protobuf', what);
		assert.equal(st.code, 3, `${what}: Status.code want 3 (INVALID_ARGUMENT), got ${st.code} "${st.message}"`);
		assert.match(st.message, /truncat|end of|length|malformed|invalid|decode|protobuf|unexpected|short|exceeds/i,
			`${what}: message does not name the problem: "${st.message}"`);
	}
	await assertNothingStored({ traceIds: [v.traceId], services: [v.service] }, 'truncated protobuf');
});

test('invalid JSON: 400 with a JSON google.rpc.Status {code, message}, nothing stored', async () => {
	const v = validRequest();
	refused.push(v.service);
	const text = v.json.toString('utf8');
	const cases = {
		'cut in the middle': text.slice(0, Math.floor(text.length / 2)),
		'trailing garbage': `${text}}`,
		'missing comma': text.replace('","', '" "'),
		'not JSON at all': 'hello, world',
		'resourceSpans is a number': '{"resourceSpans": 5}',
	};
	for (const [label, body] of Object.entries(cases)) {
		const res = await post('/v1/traces', { headers: { 'Content-Type': JSON_CT }, body });
		assert.equal(res.status, 400, `${label}: ${show(res)}`);
		const st = otlpStatus(res, 'json', label);
		assert.match(st.message, /json|pars|syntax|unexpected|invalid|expected|resourceSpans|array|trailing|end/i,
			`${label}: message does not name the problem: "${st.message}"`);
	}
	await assertNothingStored({ traceIds: [v.traceId], services: [v.service] }, 'invalid JSON');
});

test('base64 ids in OTLP/JSON: 400 naming the id, whole request refused', async () => {
	for (const which of ['traceId', 'spanId', 'parentSpanId']) {
		const v = validRequest(2);
		refused.push(v.service);
		const doc = JSON.parse(v.json.toString('utf8'));
		const spans = doc.resourceSpans[0].scopeSpans[0].spans;
		const bad = spans[2]; // a child; spans[0] and spans[1] stay valid
		bad[which] = Buffer.from(bad[which], 'hex').toString('base64');
		assert.match(bad[which], /[^0-9a-f]/i, 'the base64 form has non-hex characters');
		const res = await post('/v1/traces', { headers: { 'Content-Type': JSON_CT }, body: JSON.stringify(doc) });
		assert.equal(res.status, 400, `base64 ${which}: ${show(res)}`);
		const st = otlpStatus(res, 'json', `base64 ${which}`);
		assert.ok(st.message.toLowerCase().includes(which.toLowerCase()) || /hex/i.test(st.message),
			`base64 ${which}: the message should name ${which} (or say hex): "${st.message}"`);
		await assertNothingStored({ traceIds: [v.traceId], services: [v.service] }, `base64 ${which}`);
	}
});

test('hex id of the wrong length: 200 with partialSuccess, the other spans stored (JSON and protobuf)', async () => {
	for (const media of ['json', 'protobuf']) {
		const good = validRequest(3); // root + 3 children; child 2 gets a 7-byte span id
		const t = good.spans;
		t[2].spanId = t[2].spanId.slice(0, 14);            // 7 bytes
		const strayService = uniq('bad-input-stray');
		refused.push(strayService);
		const stray = { traceId: traceId().slice(0, 30), spanId: spanId(), name: 'stray root', kind: 2, start: nowNs() - 1000000n, end: nowNs() };
		const resources = [
			{ attrs: { 'service.name': good.service }, spans: t },
			{ attrs: { 'service.name': strayService }, spans: [stray] }, // 15-byte trace id, a root
		];
		const body = media === 'json' ? JSON.stringify(jsonTraceRequest(resources)) : pbTraceRequest(resources);
		const res = await post('/v1/traces', { headers: { 'Content-Type': media === 'json' ? JSON_CT : PB }, body });
		assert.equal(res.status, 200, `${media}: ${show(res)}`);
		let ps;
		if (media === 'json') {
			const j = JSON.parse(res.body.toString('utf8'));
			assert.ok(j.partialSuccess, `${media}: no partialSuccess in ${show(res)}`);
			ps = { rejected: Number(j.partialSuccess.rejectedSpans), errorMessage: j.partialSuccess.errorMessage };
		} else {
			assert.match(res.headers['content-type'] || '', /protobuf/, `${media}: answer not protobuf: ${show(res)}`);
			ps = decodeExportResponse(res.body).partialSuccess;
			assert.ok(ps, `${media}: no partial_success in the protobuf answer (${res.body.toString('hex')})`);
		}
		assert.equal(ps.rejected, 2, `${media}: rejectedSpans want 2, got ${ps.rejected} (${show(res)})`);
		assert.ok(typeof ps.errorMessage === 'string' && ps.errorMessage.length > 0, `${media}: errorMessage empty (${show(res)})`);
		assert.match(ps.errorMessage, /trace.?id|span.?id|length|bytes|hex/i, `${media}: errorMessage does not name the problem: "${ps.errorMessage}"`);

		const stored = await fetchTrace(srv, good.traceId);
		assert.ok(stored, `${media}: the valid spans of the request were not stored\n${srv.logs()}`);
		const ids = stored.map((s) => s.span_id).sort();
		const want = [t[0], t[1], t[3]].map((s) => s.spanId).sort();
		assert.deepEqual(ids, want, `${media}: stored span ids`);
		await assertNothingStored({ services: [strayService] }, `${media}: span with a 15-byte trace id`);
	}
});

test('unsupported content type: 415 naming Content-Type, nothing stored', async () => {
	const v = validRequest();
	refused.push(v.service);
	for (const ct of ['text/plain', 'application/xml', 'application/grpc']) {
		const res = await post('/v1/traces', { headers: { 'Content-Type': ct }, body: v.json });
		assert.equal(res.status, 415, `${ct}: ${show(res)}`);
		const st = otlpStatus(res, 'json', `Content-Type ${ct}`);
		assert.match(st.message, /content.?type/i, `${ct}: message does not name Content-Type: "${st.message}"`);
	}
	const res = await post('/v1/metrics', { headers: { 'Content-Type': 'text/plain' }, body: '{}' });
	assert.equal(res.status, 415, `/v1/metrics text/plain: ${show(res)}`);

	const tool = uniq('tool');
	const rec = JSON.stringify({ request: { method: 'GET', path: '/x', tool, duration_ms: 5 }, spans: [] });
	const r2 = await post('/api/v1/requests', { headers: { 'Content-Type': 'text/plain' }, body: rec });
	assert.equal(r2.status, 415, `/api/v1/requests text/plain: ${show(r2)}`);
	assert.match(apiError(r2, '/api/v1/requests text/plain').message, /content.?type/i, 'message names Content-Type');
	await assertNothingStored({ traceIds: [v.traceId], services: [v.service], tools: [tool] }, 'unsupported content type');
});

/** A valid OTLP/JSON body padded with whitespace to exactly `size` bytes. */
function paddedJson(v, size) {
	const core = v.json;
	assert.ok(core.length < size);
	const buf = Buffer.alloc(size, 0x20);
	core.copy(buf, 0);
	return buf;
}

test('body exactly at the limit is accepted (the limit is not off by one)', async () => {
	const v = validRequest();
	const res = await rawPost(`${srv.url}/v1/traces`, { headers: { 'Content-Type': JSON_CT }, body: paddedJson(v, maxBody) });
	assert.equal(res.status, 200, `${maxBody}-byte body: status ${res.status} ${res.body.toString().slice(0, 300)}`);
	assert.ok(await fetchTrace(srv, v.traceId), 'the trace of the at-limit body was not stored');
});

/**
 * POST a body the server is expected to refuse before reading it all; a
 * connection closed without an answer fails with an explanation.
 */
async function postTooLarge(what, headers, body) {
	try {
		return await rawPost(`${srv.url}/v1/traces`, { headers, body });
	} catch (e) {
		assert.fail(`${what}: no HTTP answer at all (${e.message}). The server must answer 413 and then read and `
			+ 'discard the rest of the body before closing (a "lingering close", RFC 9112 section 9.6); closing at once '
			+ 'with unread input makes the kernel send a RST that destroys the 413 before the client reads it, and '
			+ 'OTLP exporters then retry the same oversized batch as a network error.');
	}
}

function overLimitRequest() {
	const v = validRequest();
	refused.push(v.service);
	return v;
}

test('body over the limit with Content-Length (JSON): 413 with a JSON google.rpc.Status, nothing stored', async () => {
	const v = overLimitRequest();
	const size = maxBody + 1; // a valid JSON document, one byte too long
	const res = await postTooLarge(`${size}-byte JSON body`, { 'Content-Type': JSON_CT }, paddedJson(v, size));
	assert.equal(res.status, 413, `${size} bytes with Content-Length: ${show(res)}`);
	const st = otlpStatus(res, 'json', 'over the limit (Content-Length)');
	assert.match(st.message, /limit|large|exceed|size/i, `message does not name the limit: "${st.message}"`);
	await assertNothingStored({ traceIds: [v.traceId], services: [v.service] }, 'JSON body over the limit');
});

test('body over the limit, chunked without Content-Length: 413, nothing stored', async () => {
	const v = overLimitRequest();
	const body = paddedJson(v, maxBody + 1);
	async function* chunks() {
		for (let i = 0; i < body.length; i += 1 << 20) yield body.subarray(i, Math.min(i + (1 << 20), body.length));
	}
	const res = await postTooLarge('chunked body', { 'Content-Type': JSON_CT }, chunks());
	assert.equal(res.status, 413, `${body.length} bytes chunked: ${show(res)}`);
	otlpStatus(res, 'json', 'over the limit (chunked)');
	await assertNothingStored({ traceIds: [v.traceId], services: [v.service] }, 'chunked body over the limit');
});

test('body over the limit with Content-Length (protobuf): 413 with a protobuf google.rpc.Status, nothing stored', async () => {
	const v = overLimitRequest();
	// a valid request plus an unknown padding field 127: valid protobuf, one byte too long
	const padLen = maxBody + 1 - v.pb.length - 2 - encodeVarint(maxBody).length;
	const pbBody = Buffer.concat([v.pb, Buffer.from([0xfa, 0x07]), encodeVarint(padLen), Buffer.alloc(padLen, 0x61)]);
	assert.equal(pbBody.length, maxBody + 1);
	const res = await postTooLarge('protobuf body', { 'Content-Type': PB }, pbBody);
	assert.equal(res.status, 413, `protobuf over the limit: ${show(res)}`);
	otlpStatus(res, 'protobuf', 'protobuf over the limit');
	await assertNothingStored({ traceIds: [v.traceId], services: [v.service] }, 'protobuf body over the limit');
});

function encodeVarint(n) {
	const out = [];
	do { let b = n & 0x7f; n = Math.floor(n / 128); if (n) b |= 0x80; out.push(b); } while (n);
	return Buffer.from(out);
}

/** gzip `prefix` followed by `total - prefix.length` bytes of `fill`, streaming. */
async function gzipOf(prefix, total, fill) {
	const gz = zlib.createGzip({ level: 6 });
	const out = [];
	gz.on('data', (c) => out.push(c));
	const ended = new Promise((resolve, reject) => { gz.on('end', resolve); gz.on('error', reject); });
	const block = Buffer.alloc(1 << 20, fill);
	const write = (b) => (gz.write(b) ? null : new Promise((r) => gz.once('drain', r)));
	await write(prefix);
	let left = total - prefix.length;
	while (left > 0) {
		const b = left >= block.length ? block : block.subarray(0, left);
		await write(b);
		left -= b.length;
	}
	gz.end();
	await ended;
	return Buffer.concat(out);
}

test('gzip bomb: 1 GiB of zeros, and a valid body inflating to one byte over the limit: 413', async () => {
	const zeros = await gzipOf(Buffer.alloc(0), 1 << 30, 0);
	assert.ok(zeros.length < maxBody, 'the bomb itself is under the limit');
	const res = await rawPost(`${srv.url}/v1/traces`, { headers: { 'Content-Type': PB, 'Content-Encoding': 'gzip' }, body: zeros });
	assert.equal(res.status, 413, `1 GiB gzip bomb (${zeros.length} bytes compressed): status ${res.status} ${res.body.toString('hex').slice(0, 200)}`);
	const st = otlpStatus(res, 'protobuf', 'gzip bomb');
	assert.match(st.message, /limit|large|exceed|size|decompress/i, `gzip bomb: message does not name the limit: "${st.message}"`);

	const v = validRequest();
	refused.push(v.service);
	const bomb = await gzipOf(v.json, maxBody + 1, 0x20);
	const res2 = await rawPost(`${srv.url}/v1/traces`, { headers: { 'Content-Type': JSON_CT, 'Content-Encoding': 'gzip' }, body: bomb });
	assert.equal(res2.status, 413, `valid JSON inflating to ${maxBody + 1} bytes: status ${res2.status} ${res2.body.toString().slice(0, 300)}`);
	otlpStatus(res2, 'json', 'gzip one byte over');
	await assertNothingStored({ traceIds: [v.traceId], services: [v.service] }, 'gzip bomb');

	// and exactly at the limit once inflated is fine
	const ok = validRequest();
	const atLimit = await gzipOf(ok.json, maxBody, 0x20);
	const res3 = await rawPost(`${srv.url}/v1/traces`, { headers: { 'Content-Type': JSON_CT, 'Content-Encoding': 'gzip' }, body: atLimit });
	assert.equal(res3.status, 200, `valid JSON inflating to exactly ${maxBody} bytes: status ${res3.status} ${res3.body.toString().slice(0, 300)}`);
	assert.ok(await fetchTrace(srv, ok.traceId), 'the at-limit gzip body was not stored');
});

test('bad Content-Encoding: 415; gzip header on a non-gzip body: 400; nothing stored', async () => {
	const v = validRequest();
	refused.push(v.service);
	for (const enc of ['x-bogus', 'br, gzip', 'compress']) {
		const res = await post('/v1/traces', { headers: { 'Content-Type': PB, 'Content-Encoding': enc }, body: v.pb });
		assert.equal(res.status, 415, `Content-Encoding ${enc}: ${show(res)}`);
		const st = otlpStatus(res, 'protobuf', `Content-Encoding ${enc}`);
		assert.match(st.message, /encoding/i, `Content-Encoding ${enc}: message does not name Content-Encoding: "${st.message}"`);
	}
	const res = await post('/v1/traces', { headers: { 'Content-Type': JSON_CT, 'Content-Encoding': 'gzip' }, body: v.json });
	assert.equal(res.status, 400, `gzip-labelled plain body: ${show(res)}`);
	const st = otlpStatus(res, 'json', 'gzip-labelled plain body');
	assert.match(st.message, /gzip|compress|inflate|header|magic|encoding/i, `message does not name gzip: "${st.message}"`);
	const truncatedGzip = zlib.gzipSync(v.pb).subarray(0, 20);
	const res2 = await post('/v1/traces', { headers: { 'Content-Type': PB, 'Content-Encoding': 'gzip' }, body: truncatedGzip });
	assert.equal(res2.status, 400, `truncated gzip stream: ${show(res2)}`);
	otlpStatus(res2, 'protobuf', 'truncated gzip stream');
	await assertNothingStored({ traceIds: [v.traceId], services: [v.service] }, 'bad Content-Encoding');
});

test('empty requests are a success (OTLP spec): empty protobuf body, {}, empty resourceSpans, empty JSON body', async () => {
	const cases = [
		['empty protobuf body', PB, Buffer.alloc(0)],
		['JSON {}', JSON_CT, Buffer.from('{}')],
		['JSON empty resourceSpans', JSON_CT, Buffer.from('{"resourceSpans":[]}')],
		['JSON resource without spans', JSON_CT, Buffer.from('{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[]}]}')],
		['empty JSON body', JSON_CT, Buffer.alloc(0)],
	];
	for (const [label, ct, body] of cases) {
		const res = await post('/v1/traces', { headers: { 'Content-Type': ct }, body });
		assert.equal(res.status, 200, `${label}: ${show(res)}`);
		if (ct === PB) {
			assert.equal(decodeExportResponse(res.body).partialSuccess?.rejected ?? 0, 0, `${label}: rejected spans in ${res.body.toString('hex')}`);
		} else {
			const j = JSON.parse(res.body.toString('utf8'));
			assert.equal(Number(j.partialSuccess?.rejectedSpans ?? 0), 0, `${label}: ${show(res)}`);
		}
	}
	const m = await post('/v1/metrics', { headers: { 'Content-Type': PB }, body: Buffer.alloc(0) });
	assert.equal(m.status, 200, `empty /v1/metrics: ${show(m)}`);
});

test("the seeds' model with a negative duration: 400 naming the field; the batch is all or nothing", async () => {
	const tool = uniq('neg-tool');
	const good = { request: { method: 'POST', path: '/tools/invoke', tool, duration_ms: 50 }, spans: [{ name: 'auth', duration_ms: 5 }] };
	const cases = [
		['spans[1].duration_ms', { ...good, spans: [{ name: 'auth', duration_ms: 5 }, { name: 'tool_execution', duration_ms: -40 }] }],
		['request.duration_ms', { ...good, request: { ...good.request, duration_ms: -450 } }],
	];
	for (const [field, rec] of cases) {
		const res = await post('/api/v1/requests', { headers: { 'Content-Type': JSON_CT }, body: JSON.stringify([good, rec]) });
		assert.equal(res.status, 400, `${field} < 0: ${show(res)}`);
		const e = apiError(res, `${field} < 0`);
		assert.ok(e.message.includes(field), `${field} < 0: the message should name "${field}": "${e.message}"`);
		const ndjson = `${JSON.stringify(good)}\n${JSON.stringify(rec)}\n`;
		const res2 = await post('/api/v1/requests', { headers: { 'Content-Type': 'application/x-ndjson' }, body: ndjson });
		assert.equal(res2.status, 400, `NDJSON, ${field} < 0: ${show(res2)}`);
		assert.ok(apiError(res2, `NDJSON ${field}`).message.includes(field), `NDJSON: the message should name "${field}": ${show(res2)}`);
	}
	await assertNothingStored({ tools: [tool] }, 'negative duration (the valid record in the same batch too)');
});

test('the parallel client was never disturbed: every batch acknowledged and readable', async (t) => {
	steady.stop = true;
	await steady.done;
	t.diagnostic(`steady client: ${steady.acked.length} batches acknowledged, ${steady.retries} retries after 429/503, ${steady.failures.length} failures`);
	assert.deepEqual(steady.failures, [], `the well-behaved client saw failures while bad input was sent (retries on 429/503: ${steady.retries})\n${srv.logs()}`);
	assert.ok(steady.acked.length >= 20, `only ${steady.acked.length} steady batches were sent`);
	for (const { traceId: id, spanIds } of steady.acked) {
		const spans = await fetchTrace(srv, id);
		assert.ok(spans, `acknowledged steady trace ${id} is missing`);
		assert.deepEqual(spans.map((s) => s.span_id).sort(), [...spanIds].sort(), `acknowledged steady trace ${id}: spans`);
	}
	const all = await searchTraces(srv, { service: steady.service });
	assert.equal(all.length, Math.min(steady.acked.length, 1000), 'search count of the steady client');

	// Nothing from any refused request reached the store, whatever its service.
	const f = await getJson(`${srv.url}/api/v1/filters?range=30d`);
	assert.equal(f.status, 200, f.text);
	for (const s of refused) {
		assert.ok(!f.json.services.includes(s), `service ${s} of a refused request appears in /api/v1/filters: ${JSON.stringify(f.json.services)}`);
	}
});
