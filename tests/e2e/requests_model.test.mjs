// requests_model.test.mjs - POST /api/v1/requests with the seeds' own
// "Performance Data Model" example (seed 000): one object, an array, NDJSON;
// each record reads back as a SERVER root span plus one child per entry of
// `spans`, with the right names and durations and the tool.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { sharedDir, sharedSkip, startServer } from './lib/server.mjs';
import { fetchTrace, searchTraces, uniq } from './lib/util.mjs';

// the seeds are outside data: without them every test here is skipped
const skip = sharedSkip('seeds');
let srv;
before(async () => { if (!skip) srv = await startServer(); });
after(async () => { if (srv) await srv.stop(); });

/** The example object of seed 000's "Performance Data Model", parsed from the seed text. */
function seedExample() {
	const dir = path.join(sharedDir(), 'seeds');
	const file = fs.readdirSync(dir).find((f) => f.startsWith('000_'));
	assert.ok(file, `no seeds/000_*.txt in ${dir}`);
	const text = fs.readFileSync(path.join(dir, file), 'utf8');
	const at = text.indexOf('Performance Data Model');
	assert.ok(at >= 0, 'seed 000 has no "Performance Data Model" section');
	const start = text.indexOf('{', at);
	let depth = 0, end = start;
	for (; end < text.length; end++) {
		if (text[end] === '{') depth++;
		else if (text[end] === '}' && --depth === 0) break;
	}
	const raw = text.slice(start, end + 1);
	return { raw, obj: JSON.parse(raw) };
}

const { raw: SEED_RAW, obj: SEED } = skip ? {} : seedExample();

async function postRequests(body, contentType = 'application/json') {
	const res = await fetch(`${srv.url}/api/v1/requests`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
	const text = await res.text();
	let json = null;
	try { json = JSON.parse(text); } catch { /* reported below */ }
	return { status: res.status, text, json };
}

/** A copy of the seed record with a fresh tool (to find it) and optionally a trace id. */
function variant({ tool = uniq('database-query'), traceId } = {}) {
	const rec = structuredClone(SEED);
	rec.request.tool = tool;
	if (traceId !== undefined) rec.trace_id = traceId;
	return rec;
}

const near = (a, b) => Math.abs(a - b) < 1e-6;

/**
 * Find the record's request by its tool and check the whole trace against
 * the record. Returns the root span.
 */
async function checkStored(rec, { wantTraceId } = {}) {
	const tool = rec.request.tool;
	const list = await searchTraces(srv, { tool, range: '1h' });
	assert.equal(list.length, 1, `GET /api/v1/traces?tool=${tool}: want 1 request, got ${JSON.stringify(list).slice(0, 600)}`);
	const item = list[0];
	assert.equal(item.tool, tool, 'search: tool');
	assert.ok(near(item.duration_ms, rec.request.duration_ms), `search: duration_ms ${item.duration_ms}, want ${rec.request.duration_ms}`);
	if (wantTraceId) assert.equal(item.trace_id, wantTraceId, 'the record\'s trace_id is the trace id');

	const spans = await fetchTrace(srv, item.trace_id);
	assert.ok(spans, `GET /api/v1/traces/${item.trace_id}: 404`);
	assert.equal(spans.length, 1 + rec.spans.length,
		`span count: got ${spans.length} (${spans.map((s) => s.name).join(', ')}), want 1 root + ${rec.spans.length} children`);
	const roots = spans.filter((s) => s.parent_span_id === '');
	assert.equal(roots.length, 1, `want exactly one root span, got ${roots.length}`);
	const root = roots[0];
	assert.equal(root.span_id, item.span_id, 'the search hit is the root span');
	assert.equal(root.kind_name, 'SERVER', 'root kind');
	assert.ok(root.name.includes(rec.request.path), `root name "${root.name}" should contain the path ${rec.request.path}`);
	assert.ok(root.name.includes(rec.request.method) || Object.values(root.attributes).includes(rec.request.method),
		`the method ${rec.request.method} is neither in the root name "${root.name}" nor in its attributes`);
	assert.ok(near(root.duration_ms, rec.request.duration_ms), `root duration_ms ${root.duration_ms}, want ${rec.request.duration_ms}`);
	assert.equal(BigInt(root.end_ns) - BigInt(root.start_ns), BigInt(rec.request.duration_ms) * 1000000n, 'root end_ns - start_ns');
	const toolAttrs = Object.entries(root.attributes).filter(([k, v]) => /tool/.test(k) && v === tool);
	assert.ok(toolAttrs.length > 0, `no tool attribute with value "${tool}" on the root: ${JSON.stringify(root.attributes)}`);
	const now = Date.now();
	assert.ok(root.start_ms > now - 10 * 60000 && root.start_ms <= now + 1000, `root start_ms ${root.start_ms} is not around now (${now}) for a record without timestamp`);

	const children = spans.filter((s) => s.parent_span_id === root.span_id)
		.sort((a, b) => (BigInt(a.start_ns) < BigInt(b.start_ns) ? -1 : 1));
	assert.deepEqual(children.map((s) => s.name), rec.spans.map((s) => s.name), 'child span names, in start order');
	children.forEach((c, i) => {
		const want = rec.spans[i].duration_ms;
		assert.ok(near(c.duration_ms, want), `child "${c.name}": duration_ms ${c.duration_ms}, want ${want}`);
		assert.equal(BigInt(c.end_ns) - BigInt(c.start_ns), BigInt(want) * 1000000n, `child "${c.name}": end_ns - start_ns`);
		assert.equal(c.trace_id, root.trace_id, `child "${c.name}": trace_id`);
		assert.ok(BigInt(c.start_ns) >= BigInt(root.start_ns) && BigInt(c.end_ns) <= BigInt(root.end_ns),
			`child "${c.name}" [${c.start_ns}, ${c.end_ns}] lies outside the root [${root.start_ns}, ${root.end_ns}]`);
		if (i === 0) assert.equal(c.start_ns, root.start_ns, 'the first child starts with the root');
		else assert.equal(c.start_ns, children[i - 1].end_ns, `child "${c.name}" starts where "${children[i - 1].name}" ends (laid end to end)`);
	});
	return root;
}

test('the seed 000 example object, verbatim (trace_id "uuid")', { skip }, async () => {
	assert.equal(SEED.trace_id, 'uuid', 'the seed example still has its placeholder trace id');
	assert.equal(SEED.spans.length, 6, 'the seed example has 6 spans');
	const before = await searchTraces(srv, { tool: SEED.request.tool, range: '1h' });
	const res = await postRequests(SEED_RAW);
	assert.equal(res.status, 200, `POST /api/v1/requests with the seed's example verbatim: ${res.status} ${res.text}`);
	assert.deepEqual(res.json, { accepted: 1 }, 'answer');
	const after = await searchTraces(srv, { tool: SEED.request.tool, range: '1h' });
	assert.equal(after.length, before.length + 1, 'one more request with tool database-query');
	// check it like the others: it is the only database-query request on this fresh server
	assert.equal(before.length, 0, 'fresh server');
	await checkStored(SEED);
});

test('one object with a real UUID trace id: the trace id is the UUID\'s 32 hex digits', { skip }, async () => {
	const uuid = crypto.randomUUID();
	const rec = variant({ traceId: uuid });
	const res = await postRequests(JSON.stringify(rec));
	assert.equal(res.status, 200, res.text);
	assert.deepEqual(res.json, { accepted: 1 });
	await checkStored(rec, { wantTraceId: uuid.replaceAll('-', '') });
});

test('a JSON array of records', { skip }, async () => {
	const recs = [variant({ traceId: crypto.randomUUID() }), variant({ traceId: crypto.randomBytes(16).toString('hex') }), variant()];
	delete recs[2].trace_id;
	const res = await postRequests(JSON.stringify(recs));
	assert.equal(res.status, 200, res.text);
	assert.deepEqual(res.json, { accepted: 3 });
	await checkStored(recs[0], { wantTraceId: recs[0].trace_id.replaceAll('-', '') });
	await checkStored(recs[1], { wantTraceId: recs[1].trace_id });
	await checkStored(recs[2]);
});

test('NDJSON, with a blank line and CRLF line ends', { skip }, async () => {
	const recs = [variant({ traceId: crypto.randomUUID() }), variant({ traceId: crypto.randomUUID() }), variant({ traceId: crypto.randomUUID() })];
	const body = `${JSON.stringify(recs[0])}\n\n${JSON.stringify(recs[1])}\r\n${JSON.stringify(recs[2])}\n`;
	const res = await postRequests(body, 'application/x-ndjson');
	assert.equal(res.status, 200, res.text);
	assert.deepEqual(res.json, { accepted: 3 });
	for (const r of recs) await checkStored(r, { wantTraceId: r.trace_id.replaceAll('-', '') });
});
