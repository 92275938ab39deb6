// disk_full.test.mjs - a full disk, on a tiny tmpfs: writes are answered
// 503 with Retry-After (OTLP exporters retry a 503; they drop data on a
// 500), every acknowledged span stays readable and the file passes
// integrity_check; /health/ready reports the read-only writer while
// /health/live stays ok; writing resumes by itself once space returns; and
// a server started on a full disk starts read-only, serves reads, and
// resumes too.  Needs `mount -t tmpfs` (root): skipped with a message
// where mounting is not permitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { makeTempDir, startServer } from './lib/server.mjs';
import { fetchTrace, getJson, makeTrace, pbTraceRequest, rawPost, sleep } from './lib/util.mjs';

function mountTmpfs(dir, size) {
	try {
		execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
		return null;
	} catch (e) {
		return `cannot mount a tmpfs here (${String(e.stderr || e.message).trim()}); needs root`;
	}
}

/** Fill the file system holding `dir` to the last byte; returns the filler's path. */
function fill(dir) {
	const file = path.join(dir, 'filler');
	const fd = fs.openSync(file, 'a');
	const chunk = Buffer.alloc(64 * 1024, 7);
	try {
		for (;;) fs.writeSync(fd, chunk);
	} catch (e) {
		if (e.code !== 'ENOSPC') throw e;
	}
	const small = Buffer.alloc(512, 7);
	try {
		for (;;) fs.writeSync(fd, small);
	} catch (e) {
		if (e.code !== 'ENOSPC') throw e;
	}
	fs.closeSync(fd);
	return file;
}

/** A batch of `n` traces with a few hundred bytes of attributes per span. */
function batch(n) {
	const traces = [];
	for (let i = 0; i < n; i++) {
		const t = makeTrace({ name: `POST /disk/${i % 5}`, children: 3 });
		for (const s of t.spans) s.attrs = { ...s.attrs, note: `${t.traceId}${s.spanId}`.repeat(4) };
		traces.push(t);
	}
	const body = pbTraceRequest([{ attrs: { 'service.name': 'disk-e2e' }, spans: traces.flatMap((t) => t.spans) }]);
	return { body, ids: traces.map((t) => t.traceId) };
}

async function post(srv, body) {
	return rawPost(`${srv.url}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body });
}

async function waitReady(srv, want, timeoutMs = 20000) {
	const until = Date.now() + timeoutMs;
	let last;
	while (Date.now() < until) {
		last = await getJson(`${srv.url}/health/ready`);
		if ((last.status === 200) === want) return last;
		await sleep(200);
	}
	assert.fail(`/health/ready never became ${want ? 200 : 503}: ${last && last.text}`);
}

/** Post batches until one is refused; every answer must be 200 or 503 + Retry-After. */
async function postUntilRefused(srv, acked) {
	for (let i = 0; i < 400; i++) {
		const b = batch(40);
		const r = await post(srv, b.body);
		if (r.status === 200) {
			acked.push(...b.ids);
			continue;
		}
		assert.equal(r.status, 503, `a write on a full disk: ${r.status} ${r.body}`);
		assert.ok(Number(r.headers['retry-after']) > 0, 'the 503 carries Retry-After');
		assert.match(String(r.body), /disk full or failing/);
		return;
	}
	assert.fail('the disk never filled');
}

// Every state-changing route of the API, with a body it would accept.
const CHANGES = [
	['PUT', '/api/v1/slow-operations/thresholds', { http_ms: 1500 }],
	['DELETE', '/api/v1/slow-operations/thresholds'],
	['PUT', '/api/v1/health/thresholds', { cpu: { warn: 0.7, crit: 0.9 } }],
	['POST', '/api/v1/recommendations/some-recommendation', { status: 'dismissed', reason: 'full disk' }],
	['POST', '/api/v1/slos', { name: 'disk', service: 'disk-e2e', objective: 0.99, window: '7d' }],
	['PUT', '/api/v1/slos/disk', { name: 'disk', service: 'disk-e2e', objective: 0.99, window: '7d' }],
	['DELETE', '/api/v1/slos/disk'],
	['POST', '/api/v1/alerts/rules', { name: 'slow', service: 'disk-e2e', metric: 'p95_ms', op: '>', threshold: 500 }],
	['DELETE', '/api/v1/alerts/rules/slow'],
	['POST', '/api/v1/alerts/channels', { name: 'hook', url: 'http://127.0.0.1:9/hook' }],
	['POST', '/api/v1/keys', { name: 'ci', role: 'ingest' }],
	['DELETE', '/api/v1/keys/ci'],
	['POST', '/api/v1/deployments', { service: 'disk-e2e', version: '2.0.0' }],
	['POST', '/api/v1/regressions', { service: 'disk-e2e', endpoint: 'POST /disk/1' }],
	['POST', '/api/v1/regressions/dismiss', { id: 'some-regression' }],
	['POST', '/api/v1/capacity', { service: 'disk-e2e', capacity_rps: 100 }],
];

/** While read-only, each change answers 503 + Retry-After naming the read-only store, and is counted. */
async function assertChangesRefused(srv) {
	for (const [method, url, body] of CHANGES) {
		const res = await fetch(`${srv.url}${url}`, {
			method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
		});
		const text = await res.text();
		assert.equal(res.status, 503, `${method} ${url} while read-only: ${res.status} ${text}`);
		assert.ok(Number(res.headers.get('retry-after')) > 0, `${method} ${url}: Retry-After`);
		assert.match(JSON.parse(text).error.message, /the store is read-only \(.+\): nothing was changed/, `${method} ${url}`);
	}
	const metrics = (await getJson(`${srv.url}/metrics`)).text;
	const m = metrics.match(/hotpath_http_refused_total\{reason="read_only"\} (\d+)/);
	// a deployment is sent with the ingest role: the store refuses it, as it does telemetry
	assert.ok(m && Number(m[1]) >= CHANGES.length - 1, `read_only refusals counted: ${m && m[1]}`);
}

test('a full disk: 503 + Retry-After, read-only, resumes; a start on a full disk too', async (t) => {
	const mnt = makeTempDir('hotpath-diskfull-');
	const why = mountTmpfs(mnt, '24m');
	if (why) {
		t.skip(why);
		return;
	}
	t.after(() => {
		try { execFileSync('umount', ['-l', mnt]); } catch { /* already */ }
	});
	const dataDir = path.join(mnt, 'data');
	let srv = await startServer({ dataDir });
	t.after(() => srv.kill());
	const acked = [];
	const first = batch(20);
	assert.equal((await post(srv, first.body)).status, 200, 'a write while there is room');
	acked.push(...first.ids);

	let filler = fill(mnt);
	await postUntilRefused(srv, acked);
	const ready = await waitReady(srv, false);
	assert.equal(ready.json.writer, 'read_only');
	assert.ok(ready.json.reason, `the reason is given: ${ready.text}`);
	assert.equal((await getJson(`${srv.url}/health/live`)).status, 200, 'live while read-only');
	const metrics = (await getJson(`${srv.url}/metrics`)).text;
	assert.match(metrics, /^hotpath_store_writer_ready 0$/m);
	assert.match(metrics, /^hotpath_store_disk_errors_total [1-9]/m);
	assert.ok(await fetchTrace(srv, acked[0]), 'reads work while read-only');
	const profile = await fetch(`${srv.url}/api/v1/profiles?service=disk-e2e&format=folded`, { method: 'POST', body: 'main;work 3\n' });
	assert.equal(profile.status, 503, `a profile while read-only: ${profile.status} ${await profile.text()}`);
	assert.ok(Number(profile.headers.get('retry-after')) > 0, 'with Retry-After');
	await assertChangesRefused(srv);

	fs.unlinkSync(filler);
	await waitReady(srv, true);
	const put = await fetch(`${srv.url}/api/v1/slow-operations/thresholds`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"http_ms":1500}' });
	assert.equal(put.status, 200, `thresholds once writes resume: ${put.status} ${await put.text()}`);
	const after = batch(5);
	assert.equal((await post(srv, after.body)).status, 200, 'writes resume once space returns');
	acked.push(...after.ids);
	for (const id of acked) assert.ok(await fetchTrace(srv, id), `acknowledged trace ${id} is there`);
	await srv.stop();
	const db = path.join(dataDir, 'hotpath.db');
	assert.equal(execFileSync('sqlite3', [db, 'PRAGMA integrity_check;'], { encoding: 'utf8' }).trim(), 'ok');

	// started on a full disk: it starts, read-only, and resumes when there is room
	filler = fill(mnt);
	srv = await startServer({ dataDir });
	const r0 = await waitReady(srv, false);
	assert.equal(r0.json.writer, 'read_only', r0.text);
	assert.ok(await fetchTrace(srv, acked[acked.length - 1]), 'reads work after a start on a full disk');
	const refused = await post(srv, batch(5).body);
	assert.equal(refused.status, 503, `a write after a start on a full disk: ${refused.status}`);
	assert.ok(Number(refused.headers['retry-after']) > 0);
	fs.unlinkSync(filler);
	await waitReady(srv, true);
	const last = batch(5);
	assert.equal((await post(srv, last.body)).status, 200, 'writes resume after a start on a full disk');
	for (const id of last.ids) assert.ok(await fetchTrace(srv, id));
	await srv.stop();
	assert.equal(execFileSync('sqlite3', [db, 'PRAGMA integrity_check;'], { encoding: 'utf8' }).trim(), 'ok');
});
