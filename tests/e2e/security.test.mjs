// security.test.mjs - safe to expose: API keys and roles, the dashboard's
// session and its CSRF token, Host and Origin checks, the refusal to listen
// beyond loopback without keys, connection limits against slowloris, the
// budget of bytes in flight, and ambiguous HTTP framing, all against a real
// `hotpath serve`.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';

import { hotpathBin, makeTempDir, startServer } from './lib/server.mjs';
import { jsonTraceRequest, makeTrace, rawPost, sleep } from './lib/util.mjs';

const run = promisify(execFile);

/** One HTTP request with any headers (Host included); {status, headers, text}. */
function request(url, { method = 'GET', headers = {}, body, localAddress, timeoutMs = 10000 } = {}) {
	return new Promise((resolve, reject) => {
		const u = new URL(url);
		const req = http.request({
			host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, localAddress,
			agent: false, timeout: timeoutMs,
		}, (res) => {
			let text = '';
			res.setEncoding('utf8');
			res.on('data', (c) => { text += c; });
			res.on('end', () => {
				let json = null;
				try { json = JSON.parse(text); } catch { /* not JSON */ }
				resolve({ status: res.statusCode, headers: res.headers, text, json });
			});
		});
		req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
		req.on('error', reject);
		if (body !== undefined) req.write(body);
		req.end();
	});
}

/** Raw bytes on one connection; resolves everything read until close (or timeout). */
function raw(port, bytes, timeoutMs = 5000) {
	return new Promise((resolve) => {
		const sock = net.connect(port, '127.0.0.1');
		let out = '';
		const done = () => { clearTimeout(timer); sock.destroy(); resolve(out); };
		const timer = setTimeout(() => { out += '<timeout>'; done(); }, timeoutMs);
		sock.on('data', (d) => { out += d.toString('latin1'); });
		sock.on('close', done);
		sock.on('error', done);
		sock.write(bytes);
	});
}

async function createKey(dataDir, name, role) {
	const { stdout } = await run(hotpathBin(), ['keys', 'create', '--data', dataDir, '--name', name, '--role', role]);
	const token = stdout.trim();
	assert.match(token, /^hpk_[0-9a-f]{16}_[0-9a-f]{64}$/);
	return token;
}

const bearer = (k) => ({ authorization: `Bearer ${k}` });
const traceBody = () => JSON.stringify(jsonTraceRequest([{ attrs: { 'service.name': 'sec' }, spans: makeTrace().spans }]));

async function metric(srv, line) {
	const r = await request(`${srv.url}/metrics`, { headers: srv.key ? bearer(srv.key) : {} });
	const m = r.text.split('\n').find((l) => l.startsWith(line + ' '));
	return m ? Number(m.split(' ').pop()) : NaN;
}

describe('open mode on loopback', () => {
	let srv;
	before(async () => { srv = await startServer(); });
	after(() => srv?.dispose());

	test('start-up says loudly that anyone may do anything', () => {
		assert.match(srv.output, /OPEN MODE/);
	});

	test('a cross-origin text/plain POST cannot change a recommendation', async () => {
		const url = `${srv.url}/api/v1/recommendations/0123456789abcdef/status`;
		const body = JSON.stringify({ status: 'dismissed', reason: 'csrf' });
		const cross = await request(url, { method: 'POST', body, headers: { 'content-type': 'text/plain', origin: 'http://evil.example' } });
		assert.equal(cross.status, 403, cross.text);
		assert.match(cross.json.error.message, /cross-origin/);
		const site = await request(url, { method: 'POST', body, headers: { 'content-type': 'text/plain', 'sec-fetch-site': 'cross-site' } });
		assert.equal(site.status, 403, 'a cross-site fetch without Origin is refused too');
		// the same call from the server's own origin reaches the route (no such id: 404)
		const same = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', origin: srv.url } });
		assert.equal(same.status, 404, same.text);
	});

	test('/metrics: the API reads\' latency as a histogram, and the resident memory', async () => {
		const before = await metric(srv, 'hotpath_http_read_seconds_count');
		for (let i = 0; i < 3; i++) await request(`${srv.url}/api/v1/performance/summary?range=1h`);
		await request(`${srv.url}/health`); // not an API read
		assert.equal(await metric(srv, 'hotpath_http_read_seconds_count'), before + 3);
		const text = (await request(`${srv.url}/metrics`)).text;
		const buckets = [...text.matchAll(/^hotpath_http_read_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map((m) => Number(m[2]));
		assert.ok(buckets.length > 2, 'buckets listed');
		assert.ok(buckets.every((v, i) => i === 0 || v >= buckets[i - 1]), `cumulative buckets: ${buckets}`);
		assert.equal(buckets.at(-1), before + 3, 'the +Inf bucket is the count');
		const rss = await metric(srv, 'hotpath_process_resident_bytes');
		const kb = Number((await readFile(`/proc/${srv.child.pid}/status`, 'utf8')).match(/^VmRSS:\s+(\d+) kB$/m)[1]);
		assert.ok(Math.abs(rss - kb * 1024) < 16 * 2 ** 20, `resident bytes ${rss}, the kernel says ${kb} kB`);
	});

	test('a Host that names another site is refused (DNS rebinding)', async () => {
		const evil = await request(`${srv.url}/api/v1/filters`, { headers: { host: `rebind.evil.example:${srv.port}` } });
		assert.equal(evil.status, 403, evil.text);
		assert.match(evil.json.error.message, /Host/);
		const local = await request(`${srv.url}/api/v1/filters`, { headers: { host: `localhost:${srv.port}` } });
		assert.equal(local.status, 200, local.text);
		assert.ok(await metric(srv, 'hotpath_http_refused_total{reason="host"}') >= 1);
	});

	test('ambiguous framing is answered 400 and the connection closed', async () => {
		const head = (extra) => `POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${extra}\r\n`;
		const two = await raw(srv.port, head('Content-Length: 2\r\nContent-Length: 3\r\n') + '{}');
		assert.match(two, /^HTTP\/1\.1 400/);
		assert.match(two, /conflicting Content-Length/);
		// a smuggled second request in the body must not be executed
		const smuggle = await raw(srv.port, head('Content-Length: 60\r\nTransfer-Encoding: chunked\r\n') +
			'0\r\n\r\nGET /api/v1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
		assert.match(smuggle, /^HTTP\/1\.1 400/);
		assert.equal(smuggle.match(/HTTP\/1\.1 /g).length, 1, `one answer only: ${smuggle}`);
		const unknown = await raw(srv.port, head('Transfer-Encoding: gzip\r\n') + '{}');
		assert.match(unknown, /^HTTP\/1\.1 400/);
		assert.doesNotMatch(unknown, /<timeout>/, 'answered and closed, not held');
		assert.ok(await metric(srv, 'hotpath_http_refused_total{reason="framing"}') >= 3);
	});
});

describe('allowed host names, the header and body timeouts', () => {
	let srv;
	before(async () => { srv = await startServer({ args: ['--allowed-host', 'hotpath.internal,metrics.example', '--body-timeout', '1', '--header-timeout', '2'] }); });
	after(() => srv?.dispose());

	test('--allowed-host adds names to the Host check, exactly', async () => {
		const ok = await request(`${srv.url}/api/v1/filters`, { headers: { host: `hotpath.internal:${srv.port}` } });
		assert.equal(ok.status, 200, ok.text);
		const other = await request(`${srv.url}/api/v1/filters`, { headers: { host: 'hotpath.internal.evil.example' } });
		assert.equal(other.status, 403, other.text);
	});

	test('a body still arriving after --body-timeout: the connection is closed', async () => {
		const sock = net.connect(srv.port, '127.0.0.1');
		await new Promise((r) => sock.on('connect', r));
		let out = '';
		sock.on('data', (d) => { out += d; });
		const closed = new Promise((r) => sock.on('close', r));
		sock.on('error', () => {});
		sock.write('POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"resourceSpans":');
		await sleep(1500);
		sock.write('[');
		await Promise.race([closed, sleep(5000)]);
		assert.ok(sock.destroyed || sock.readyState === 'closed', 'closed by the server');
		assert.equal(out, '', 'without an answer');
		assert.ok(await metric(srv, 'hotpath_http_refused_total{reason="timeout"}') >= 1);
	});

	test('headers trickled a byte at a time: closed at --header-timeout, long before the idle timeout', async () => {
		const before = await metric(srv, 'hotpath_http_refused_total{reason="timeout"}');
		const sock = net.connect(srv.port, '127.0.0.1');
		await new Promise((r) => sock.on('connect', r));
		const t0 = Date.now();
		let out = '', closedAt = 0;
		sock.on('data', (d) => { out += d; });
		sock.on('error', () => {});
		sock.on('close', () => { closedAt = Date.now(); });
		const head = `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n${'X-Slow: trickle\r\n'.repeat(20)}`;
		// a byte every 300 ms keeps the idle timer (15 s) from ever running out
		for (let i = 0; i < head.length && !closedAt && Date.now() - t0 < 12000; i++) {
			sock.write(head[i]);
			if (i === 10) {
				const other = await request(`${srv.url}/health`);
				assert.equal(other.status, 200, 'another client is answered meanwhile');
			}
			await sleep(300);
		}
		sock.destroy();
		assert.ok(closedAt, 'the trickling connection was closed by the server');
		const took = closedAt - t0;
		assert.ok(took >= 1500 && took < 5000, `closed after ${took} ms: want about 2 s`);
		assert.equal(out, '', 'without an answer');
		assert.ok(await metric(srv, 'hotpath_http_refused_total{reason="timeout"}') > before, 'counted as a timeout');
		// headers sent at once are answered, on a connection kept alive for a second request
		const ok = await raw(srv.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
		assert.equal((ok.match(/HTTP\/1\.1 200/g) || []).length, 2, ok);
	});
});

describe('strict input', () => {
	let srv;
	before(async () => { srv = await startServer(); });
	after(() => srv?.dispose());

	test('impossible times and dates, and NUL in parameters, are refused by name', async () => {
		const cases = [
			['from=2024-02-30T00:00:00Z', /invalid from '2024-02-30/],
			['to=2500-01-01T00:00:00Z', /invalid to '2500-01-01/],
			['to=16725225600000', /invalid to/],
			['range=1000000d', /invalid range/],
			['q=%00', /'q' contains a NUL byte/],
			['service=checkout%00x', /'service' contains a NUL byte/],
		];
		for (const [query, message] of cases) {
			const r = await request(`${srv.url}/api/v1/traces?${query}`);
			assert.equal(r.status, 400, `${query}: ${r.text}`);
			assert.match(r.json.error.message, message);
		}
		assert.equal((await request(`${srv.url}/api/v1/traces?from=2024-02-29T00:00:00Z`)).status, 200, 'a leap day is a date');
	});

	test('spans with a null start, a start in 2500 or a length of centuries are rejected', async () => {
		const tid = '0102030405060708090a0b0c0d0e0f10';
		const span = (id, start, end) => ({ traceId: tid, spanId: id, name: `s${id}`, kind: 2, start, end });
		const now = BigInt(Date.now()) * 1000000n;
		const body = JSON.stringify(jsonTraceRequest([{ attrs: { 'service.name': 'window' }, spans: [
			span('0000000000000001', 0n, 5n),
			span('0000000000000002', 16725225600000000000n, 16725225600000000001n),
			span('0000000000000003', now - 1000n, 18446744073709551615n),
			span('0000000000000004', now - 1000n, now),
		] }]));
		const r = await request(`${srv.url}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
		assert.equal(r.status, 200, r.text);
		assert.equal(r.json.partialSuccess.rejectedSpans, '3', r.text);
		assert.match(r.json.partialSuccess.errorMessage, /no start time|after 2200|more than 30 days/);
	});
});

describe('refusing to listen beyond loopback without keys', () => {
	test('0.0.0.0 without a key: exit with a message; --insecure-open: starts', async () => {
		const dir = makeTempDir();
		const r = await run(hotpathBin(), ['serve', '--listen', '0.0.0.0:0', '--data', dir]).catch((e) => e);
		assert.notEqual(r.code, 0);
		assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0:0 without API keys/);
		const child = spawn(hotpathBin(), ['serve', '--listen', '0.0.0.0:0', '--data', dir, '--insecure-open'], { stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		child.stderr.on('data', (d) => { out += d; });
		for (let i = 0; i < 100 && !/listening on/.test(out); i++) await sleep(50);
		child.kill('SIGTERM');
		assert.match(out, /OPEN MODE.*forced with --insecure-open/);
		assert.match(out, /listening on/);
	});
});

describe('API keys and roles', () => {
	let srv, keys = {};
	before(async () => {
		const dir = makeTempDir();
		for (const role of ['admin', 'viewer', 'ingest']) keys[role] = await createKey(dir, `${role}-key`, role);
		srv = await startServer({ dataDir: dir });
		srv.key = keys.admin;
	});
	after(() => srv?.dispose());

	test('no key: 401; a wrong key: 401; /health stays public', async () => {
		const none = await request(`${srv.url}/api/v1/filters`);
		assert.equal(none.status, 401);
		assert.match(none.headers['www-authenticate'], /Bearer/);
		const wrong = await request(`${srv.url}/api/v1/filters`, { headers: bearer(keys.viewer.slice(0, -1) + (keys.viewer.endsWith('0') ? '1' : '0')) });
		assert.equal(wrong.status, 401);
		assert.equal((await request(`${srv.url}/health`)).status, 200);
		const otlp = await request(`${srv.url}/v1/traces`, { method: 'POST', body: traceBody(), headers: { 'content-type': 'application/json' } });
		assert.equal(otlp.status, 401, 'telemetry needs a key too');
	});

	test('ingest writes but cannot read; viewer reads but cannot write or act', async () => {
		const ct = { 'content-type': 'application/json' };
		const ing = await request(`${srv.url}/v1/traces`, { method: 'POST', body: traceBody(), headers: { ...ct, ...bearer(keys.ingest) } });
		assert.equal(ing.status, 200, ing.text);
		// the header form OTel exporters are configured with (OTEL_EXPORTER_OTLP_HEADERS=x-hotpath-key=...)
		const alt = await request(`${srv.url}/v1/traces`, { method: 'POST', body: traceBody(), headers: { ...ct, 'x-hotpath-key': keys.ingest } });
		assert.equal(alt.status, 200, alt.text);
		const read = await request(`${srv.url}/api/v1/traces`, { headers: bearer(keys.ingest) });
		assert.equal(read.status, 403, read.text);
		assert.match(read.json.error.message, /role ingest/);
		assert.equal((await request(`${srv.url}/api/v1/traces`, { headers: bearer(keys.viewer) })).status, 200);
		const vwrite = await request(`${srv.url}/v1/traces`, { method: 'POST', body: traceBody(), headers: { ...ct, ...bearer(keys.viewer) } });
		assert.equal(vwrite.status, 403);
		const thresholds = JSON.stringify({ default_ms: 500 });
		const vput = await request(`${srv.url}/api/v1/slow-operations/thresholds`, { method: 'PUT', body: thresholds, headers: { ...ct, ...bearer(keys.viewer) } });
		assert.equal(vput.status, 403);
		const vkeys = await request(`${srv.url}/api/v1/keys`, { headers: bearer(keys.viewer) });
		assert.equal(vkeys.status, 403, 'keys are for admins');
		const akeys = await request(`${srv.url}/api/v1/keys`, { headers: bearer(keys.admin) });
		assert.equal(akeys.status, 200);
		assert.deepEqual(akeys.json.keys.map((k) => k.name).sort(), ['admin-key', 'ingest-key', 'viewer-key']);
		assert.ok(!akeys.text.includes('hpk_'), 'no token in the list');
		assert.ok(await metric(srv, 'hotpath_http_refused_total{reason="role"}') >= 4);
	});

	test('the OTel SDK exporter sends the key set in OTEL_EXPORTER_OTLP_HEADERS', async () => {
		// one span through the real exporter; the result code of its export
		const exportOne = async (headersEnv) => {
			const saved = process.env.OTEL_EXPORTER_OTLP_HEADERS;
			if (headersEnv) process.env.OTEL_EXPORTER_OTLP_HEADERS = headersEnv;
			else delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
			const exporter = new ProtoTraceExporter({ url: `${srv.url}/v1/traces` });
			if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
			else process.env.OTEL_EXPORTER_OTLP_HEADERS = saved;
			const codes = [];
			const rec = { export: (spans, cb) => exporter.export(spans, (r) => { codes.push(r.code === 0 ? 'ok' : r.error?.code); cb(r); }), shutdown: () => exporter.shutdown(), forceFlush: () => exporter.forceFlush() };
			const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'otel-key' }), spanProcessors: [new SimpleSpanProcessor(rec)] });
			const span = provider.getTracer('sec').startSpan('GET /with-key', { kind: 1 });
			const traceId = span.spanContext().traceId;
			span.end();
			try {
				await provider.forceFlush(); // rejects with the export's error when it failed
			} catch {
				// the failed export, in codes already
			}
			await provider.shutdown().catch(() => {});
			return { codes, traceId };
		};
		const withKey = await exportOne(`x-hotpath-key=${keys.ingest}`);
		assert.deepEqual(withKey.codes, ['ok'], 'exported with the key');
		const bearerForm = await exportOne(`Authorization=Bearer%20${keys.ingest}`);
		assert.deepEqual(bearerForm.codes, ['ok'], 'exported with Authorization=Bearer%20KEY');
		const without = await exportOne(null);
		assert.deepEqual(without.codes, [401], 'refused without a key: 401');
		for (const id of [withKey.traceId, bearerForm.traceId]) {
			const r = await request(`${srv.url}/api/v1/traces/${id}`, { headers: bearer(keys.viewer) });
			assert.equal(r.status, 200, r.text);
		}
		assert.equal((await request(`${srv.url}/api/v1/traces/${without.traceId}`, { headers: bearer(keys.viewer) })).status, 404);
	});

	test('a key created and revoked through the API', async () => {
		const ct = { 'content-type': 'application/json' };
		const made = await request(`${srv.url}/api/v1/keys`, { method: 'POST', body: JSON.stringify({ name: 'ci', role: 'viewer' }), headers: { ...ct, ...bearer(keys.admin) } });
		assert.equal(made.status, 201, made.text);
		assert.equal((await request(`${srv.url}/api/v1/filters`, { headers: bearer(made.json.token) })).status, 200);
		const gone = await request(`${srv.url}/api/v1/keys/${made.json.id}`, { method: 'DELETE', headers: bearer(keys.admin) });
		assert.equal(gone.status, 200, gone.text);
		assert.equal((await request(`${srv.url}/api/v1/filters`, { headers: bearer(made.json.token) })).status, 401);
	});

	test('the dashboard session: cookie flags, CSRF token on every state-changing call', async () => {
		const ct = { 'content-type': 'application/json' };
		const cross = await request(`${srv.url}/api/v1/session`, { method: 'POST', body: JSON.stringify({ key: keys.admin }), headers: { ...ct, origin: 'http://evil.example' } });
		assert.equal(cross.status, 403, 'no sign-in from another site');
		const bad = await request(`${srv.url}/api/v1/session`, { method: 'POST', body: JSON.stringify({ key: 'hpk_nope' }), headers: ct });
		assert.equal(bad.status, 401);
		const s = await request(`${srv.url}/api/v1/session`, { method: 'POST', body: JSON.stringify({ key: keys.admin }), headers: ct });
		assert.equal(s.status, 200, s.text);
		const setCookie = s.headers['set-cookie'][0];
		assert.match(setCookie, /HttpOnly/);
		assert.match(setCookie, /SameSite=Strict/);
		assert.doesNotMatch(setCookie, /Secure/, 'no Secure flag without TLS');
		const cookie = setCookie.split(';')[0];
		assert.equal(s.json.name, 'admin-key');
		const who = await request(`${srv.url}/api/v1/session`, { headers: { cookie } });
		assert.equal(who.json.signed_in, true);
		assert.equal(who.json.csrf_token, s.json.csrf_token);
		assert.equal((await request(`${srv.url}/api/v1/filters`, { headers: { cookie } })).status, 200);
		const body = JSON.stringify({ name: 'from-session', role: 'viewer' });
		const noCsrf = await request(`${srv.url}/api/v1/keys`, { method: 'POST', body, headers: { ...ct, cookie } });
		assert.equal(noCsrf.status, 403, noCsrf.text);
		assert.match(noCsrf.json.error.message, /X-CSRF-Token/);
		const wrongCsrf = await request(`${srv.url}/api/v1/keys`, { method: 'POST', body, headers: { ...ct, cookie, 'x-csrf-token': '0'.repeat(64) } });
		assert.equal(wrongCsrf.status, 403);
		const withCsrf = await request(`${srv.url}/api/v1/keys`, { method: 'POST', body, headers: { ...ct, cookie, 'x-csrf-token': s.json.csrf_token } });
		assert.equal(withCsrf.status, 201, withCsrf.text);
		const out = await request(`${srv.url}/api/v1/session`, { method: 'DELETE', headers: { cookie } });
		assert.equal(out.status, 200);
		assert.equal((await request(`${srv.url}/api/v1/filters`, { headers: { cookie } })).status, 401, 'signed out');
		assert.ok(await metric(srv, 'hotpath_http_refused_total{reason="csrf"}') >= 2);
	});

	test('a Host check with keys only when names are configured', async () => {
		const any = await request(`${srv.url}/api/v1/filters`, { headers: { ...bearer(keys.viewer), host: 'hotpath.internal' } });
		assert.equal(any.status, 200, 'with keys and no --allowed-host any name is served');
	});
});

describe('the audit trail names the key', { timeout: 300000 }, () => {
	let srv, alice, bob, viewer;
	before(async () => {
		const dir = makeTempDir();
		const ingest = await createKey(dir, 'demo-ingest', 'ingest');
		alice = await createKey(dir, 'alice', 'admin');
		bob = await createKey(dir, 'bob', 'admin');
		viewer = await createKey(dir, 'carol', 'viewer');
		srv = await startServer({ dataDir: dir, args: ['--analysis-interval', '0'] });
		srv.key = alice;
		// the demo sends with the key in HOTPATH_KEY
		await run(hotpathBin(), ['demo', '--target', srv.url, '--backfill', '1', '--duration', '1', '--quiet'],
			{ timeout: 240000, env: { ...process.env, HOTPATH_KEY: ingest } });
	});
	after(() => srv?.dispose());

	test('applied with a key: the actor is the key, not a header; a viewer may not', async () => {
		const list = await request(`${srv.url}/api/v1/recommendations?range=2h`, { headers: bearer(viewer) });
		assert.equal(list.status, 200, list.text);
		const rec = list.json.recommendations.find((r) => r.status === 'open');
		assert.ok(rec, 'the demo gives a recommendation');
		const url = `${srv.url}/api/v1/recommendations/${rec.id}/status`;
		const ct = { 'content-type': 'application/json' };
		const denied = await request(url, { method: 'POST', body: JSON.stringify({ status: 'applied' }), headers: { ...ct, ...bearer(viewer) } });
		assert.equal(denied.status, 403);
		const applied = await request(url, { method: 'POST', body: JSON.stringify({ status: 'applied' }), headers: { ...ct, ...bearer(alice), 'x-hotpath-user': 'mallory' } });
		assert.equal(applied.status, 200, applied.text);
		// through bob's dashboard session, with its CSRF token
		const s = await request(`${srv.url}/api/v1/session`, { method: 'POST', body: JSON.stringify({ key: bob }), headers: ct });
		const cookie = s.headers['set-cookie'][0].split(';')[0];
		const reopened = await request(url, { method: 'POST', body: JSON.stringify({ status: 'open', reason: 'not yet' }), headers: { ...ct, cookie, 'x-csrf-token': s.json.csrf_token } });
		assert.equal(reopened.status, 200, reopened.text);
		const one = await request(`${srv.url}/api/v1/recommendations/${rec.id}`, { headers: bearer(viewer) });
		assert.deepEqual(one.json.audit.map((a) => [a.to, a.actor]), [['open', 'bob'], ['applied', 'alice']]);
	});
});

describe('dashboard sessions kept in the store', { timeout: 120000 }, () => {
	test('a restart keeps sessions; signed-out, expired and revoked ones stay ended and are deleted; only hashed ids are stored', async () => {
		const dir = makeTempDir();
		const admin = await createKey(dir, 'keeper', 'admin');
		const temp = await createKey(dir, 'temp', 'admin');
		const expiring = await createKey(dir, 'expiring', 'viewer');
		const quitter = await createKey(dir, 'quitter', 'viewer');
		const ct = { 'content-type': 'application/json' };
		let srv = await startServer({ dataDir: dir, args: ['--analysis-interval', '0'] });
		const signIn = async (key) => {
			const s = await request(`${srv.url}/api/v1/session`, { method: 'POST', body: JSON.stringify({ key }), headers: ct });
			assert.equal(s.status, 200, s.text);
			return { cookie: s.headers['set-cookie'][0].split(';')[0], csrf: s.json.csrf_token };
		};
		const sessions = { admin: await signIn(admin), temp: await signIn(temp), expiring: await signIn(expiring), quitter: await signIn(quitter) };
		assert.equal((await request(`${srv.url}/api/v1/session`, { method: 'DELETE', headers: { cookie: sessions.quitter.cookie } })).status, 200);
		// signing out a made-up session writes nothing
		assert.equal((await request(`${srv.url}/api/v1/session`, { method: 'DELETE', headers: { cookie: `hotpath_session=${'ab'.repeat(32)}` } })).status, 200);
		await srv.stop();

		// the store holds no session id, only its hash; one session is made to have expired
		const db = path.join(dir, 'hotpath.db');
		const storedNames = async () => (await run('sqlite3', [db, "SELECT json_extract(json, '$.name') FROM docs WHERE kind = 'session' ORDER BY 1"])).stdout.trim().split('\n').filter(Boolean);
		const stored = (await run('sqlite3', [db, "SELECT id || ' ' || json FROM docs WHERE kind = 'session'"])).stdout;
		assert.deepEqual(await storedNames(), ['expiring', 'keeper', 'temp'], `the signed-out session's document is deleted at once: ${stored}`);
		for (const [who, s] of Object.entries(sessions)) {
			assert.ok(!stored.includes(s.cookie.split('=')[1]), `${who}'s session id is not stored`);
		}
		await run('sqlite3', [db, "UPDATE docs SET json = json_set(json, '$.expires_ns', 1) WHERE kind = 'session' AND json_extract(json, '$.name') = 'expiring'"]);

		srv = await startServer({ dataDir: dir, args: ['--analysis-interval', '0'] });
		try {
			const who = await request(`${srv.url}/api/v1/session`, { headers: { cookie: sessions.admin.cookie } });
			assert.equal(who.json.signed_in, true, `the admin's session after a restart: ${who.text}`);
			assert.equal(who.json.name, 'keeper');
			assert.equal(who.json.csrf_token, sessions.admin.csrf, 'the same CSRF token');
			const made = await request(`${srv.url}/api/v1/keys`, { method: 'POST', body: JSON.stringify({ name: 'after-restart', role: 'viewer' }), headers: { ...ct, cookie: sessions.admin.cookie, 'x-csrf-token': sessions.admin.csrf } });
			assert.equal(made.status, 201, `a change through the kept session: ${made.text}`);
			const noCsrf = await request(`${srv.url}/api/v1/keys`, { method: 'POST', body: JSON.stringify({ name: 'x', role: 'viewer' }), headers: { ...ct, cookie: sessions.admin.cookie } });
			assert.equal(noCsrf.status, 403, 'the kept session still needs its CSRF token');
			assert.equal((await request(`${srv.url}/api/v1/filters`, { headers: { cookie: sessions.quitter.cookie } })).status, 401, 'signed out stays signed out');
			assert.equal((await request(`${srv.url}/api/v1/filters`, { headers: { cookie: sessions.expiring.cookie } })).status, 401, 'an expired session ends');
			assert.equal((await request(`${srv.url}/api/v1/filters`, { headers: { cookie: sessions.temp.cookie } })).status, 200, 'temp signed in');
			const keys = await request(`${srv.url}/api/v1/keys`, { headers: bearer(admin) });
			const tempId = keys.json.keys.find((k) => k.name === 'temp').id;
			assert.equal((await request(`${srv.url}/api/v1/keys/${tempId}`, { method: 'DELETE', headers: bearer(admin) })).status, 200);
			assert.equal((await request(`${srv.url}/api/v1/filters`, { headers: { cookie: sessions.temp.cookie } })).status, 401, 'revoking the key ends its session');
		} finally {
			await srv.stop();
		}
		// the expired session was deleted at start-up, the revoked key's with the key
		assert.deepEqual(await storedNames(), ['keeper'], 'only the live session is stored');
		srv = await startServer({ dataDir: dir, args: ['--analysis-interval', '0'] });
		try {
			assert.equal((await request(`${srv.url}/api/v1/filters`, { headers: { cookie: sessions.temp.cookie } })).status, 401, 'the revoked key\'s session stays ended after another restart');
			assert.equal((await request(`${srv.url}/api/v1/filters`, { headers: { cookie: sessions.admin.cookie } })).status, 200);
		} finally {
			await srv.stop();
		}
	});
});

describe('TLS through libmicrohttpd', () => {
	test('--tls-cert/--tls-key: HTTPS, and the session cookie is Secure', async (t) => {
		const dir = makeTempDir();
		const cert = path.join(dir, 'cert.pem'), key = path.join(dir, 'key.pem');
		try {
			await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1']);
		} catch (e) {
			t.skip(`no openssl to make a certificate: ${e.message}`);
			return;
		}
		const data = makeTempDir();
		const admin = await createKey(data, 'tls-admin', 'admin');
		const child = spawn(hotpathBin(), ['serve', '--listen', '127.0.0.1:0', '--data', data, '--tls-cert', cert, '--tls-key', key], { stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		child.stderr.on('data', (d) => { out += d; });
		try {
			for (let i = 0; i < 100 && !/listening on https:\/\/.*port (\d+)/.test(out); i++) await sleep(50);
			const port = Number(/port (\d+)\)/.exec(out)?.[1]);
			assert.ok(port, out);
			const answer = await new Promise((resolve, reject) => {
				const req = https.request({ host: '127.0.0.1', port, path: '/api/v1/session', method: 'POST', rejectUnauthorized: false,
					headers: { 'content-type': 'application/json' } }, (res) => {
					res.resume();
					res.on('end', () => resolve(res));
				});
				req.on('error', reject);
				req.end(JSON.stringify({ key: admin }));
			});
			assert.equal(answer.statusCode, 200);
			assert.match(answer.headers['set-cookie'][0], /; Secure/);
		} finally {
			child.kill('SIGTERM');
		}
	});
});

describe('bounded connections and bytes', () => {
	let srv;
	before(async () => {
		srv = await startServer({ args: ['--max-connections-per-ip', '100', '--idle-timeout', '3', '--max-inflight', '1000000'] });
	});
	after(() => srv?.dispose());

	test('600 idle connections from one address: another client still gets /health within 1 s', async () => {
		const socks = [];
		await Promise.all(Array.from({ length: 600 }, () => new Promise((resolve) => {
			const s = net.connect({ port: srv.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
			s.on('error', () => resolve());
			s.on('connect', () => { s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n'); resolve(); }); // headers never end
			s.on('close', resolve);
			socks.push(s);
		})));
		try {
			await sleep(200);
			const t0 = Date.now();
			const r = await request(`${srv.url}/health`, { timeoutMs: 1000 });
			assert.equal(r.status, 200);
			assert.ok(Date.now() - t0 < 1000, `answered in ${Date.now() - t0} ms`);
			const ingest = await request(`${srv.url}/v1/traces`, { method: 'POST', body: traceBody(), headers: { 'content-type': 'application/json' }, timeoutMs: 1000 });
			assert.equal(ingest.status, 200, 'and ingest too');
			assert.ok(await metric(srv, 'hotpath_http_refused_total{reason="connection_limit"}') >= 1, 'refusals are counted');
			const open = await metric(srv, 'hotpath_http_connections');
			assert.ok(open >= 90 && open <= 110, `the per-address limit holds: ${open} open`);
			assert.match(srv.output, /refused \(connection_limit/, 'and logged');
			// idle ones are closed after the idle timeout
			await sleep(4500);
			assert.ok(await metric(srv, 'hotpath_http_connections') < 10, 'idle connections were closed');
		} finally {
			for (const s of socks) s.destroy();
		}
	});

	test('over the budget of bytes in flight: 503 with Retry-After before the body is read', async () => {
		// one slow upload holds 600 kB ...
		const sock = net.connect(srv.port, '127.0.0.1');
		await new Promise((r) => sock.on('connect', r));
		sock.write('POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 900000\r\n\r\n');
		sock.write(Buffer.alloc(600000, 0x20));
		try {
			for (let i = 0; i < 50 && (await metric(srv, 'hotpath_http_inflight_bytes')) < 600000; i++) await sleep(50);
			assert.ok(await metric(srv, 'hotpath_http_inflight_bytes') >= 600000);
			// ... so a second declaring 500 kB is refused at once
			const r = await rawPost(`${srv.url}/v1/traces`, { body: Buffer.alloc(500000, 0x20), headers: { 'content-type': 'application/json' }, timeoutMs: 5000 });
			assert.equal(r.status, 503, r.body.toString());
			assert.equal(r.headers['retry-after'], '1');
			assert.ok(await metric(srv, 'hotpath_http_refused_total{reason="inflight"}') >= 1);
			// a chunked body declares nothing: it is dropped once past the budget, then 503
			async function* chunks() { for (let i = 0; i < 10; i++) yield Buffer.alloc(50000, 0x20); }
			const chunked = await rawPost(`${srv.url}/v1/traces`, { body: chunks(), headers: { 'content-type': 'application/json' }, timeoutMs: 5000 });
			assert.equal(chunked.status, 503, chunked.body.toString());
			assert.equal(chunked.headers['retry-after'], '1');
			// a small one still fits
			const small = await request(`${srv.url}/v1/traces`, { method: 'POST', body: traceBody(), headers: { 'content-type': 'application/json' } });
			assert.equal(small.status, 200, small.text);
		} finally {
			sock.destroy();
		}
		for (let i = 0; i < 50 && (await metric(srv, 'hotpath_http_inflight_bytes')) > 0; i++) await sleep(50);
		assert.equal(await metric(srv, 'hotpath_http_inflight_bytes'), 0, 'released when the connection goes');
	});
});
