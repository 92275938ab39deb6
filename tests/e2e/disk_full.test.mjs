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

	fs.unlinkSync(filler);
	await waitReady(srv, true);
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
