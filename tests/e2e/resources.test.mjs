// resources.test.mjs - resources from real senders, read back: a Node
// process under @opentelemetry/host-metrics and the runtime metrics
// instrumentation (tests/e2e/resources/load.mjs) idles, then keeps a core
// busy and holds 64 MiB more heap; the metrics API, the CPU heatmap and
// /health/performance must see the change, and so must the resource state
// a bottleneck and a slow request carry.  The seeds' `resources` object
// (POST /api/v1/requests) reaches the statistics' currentResources.
//
//   HOTPATH_BIN=build/hotpath node --test --test-reporter=tap tests/e2e/resources.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import os from 'node:os';

import { startServer } from './lib/server.mjs';
import { jsonTraceRequest, spanId, traceId } from './lib/util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SERVICE = 'resources-e2e';
const INSTANCE = 'load-1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let srv = null;
let load = null;
let output = '';
const marks = {};

async function api(p, params = {}) {
	const q = new URLSearchParams(params).toString();
	const res = await fetch(`${srv.url}${p}${q ? `?${q}` : ''}`);
	const text = await res.text();
	assert.equal(res.status, 200, `${p}?${q}: ${res.status} ${text}`);
	return JSON.parse(text);
}

const mean = (v) => {
	const k = v.filter((x) => x != null);
	return k.length ? k.reduce((a, b) => a + b, 0) / k.length : null;
};

// The measure's mean over [from, to) (ms), one line.
async function measureMean(measure, from, to) {
	const a = await api('/api/v1/metrics/query', { measure, from: String(from), to: String(to), step: '1s', service: SERVICE });
	assert.equal(a.lines.length, 1, `${measure}: one line ${JSON.stringify(a).slice(0, 400)}`);
	return mean(a.lines[0].values);
}

before(async () => {
	srv = await startServer();
	load = spawn(process.execPath, [path.join(here, 'resources', 'load.mjs')], {
		env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: srv.url, OTEL_SERVICE_NAME: SERVICE, INSTANCE },
		stdio: ['pipe', 'pipe', 'pipe'],
	});
	load.stdout.on('data', (d) => { output += d; });
	load.stderr.on('data', (d) => { output += d; });
	for (let i = 0; i < 200 && !/ready/.test(output); i++) await sleep(100);
	assert.match(output, /ready/, `the load process started: ${output}`);
	marks.idle = Date.now();
	await sleep(4000);
	marks.busy = Date.now();
	load.stdin.write('busy\nheap\n');
	await sleep(1500);
	load.stdin.write('mark\n');
	await sleep(5000);
	load.stdin.write('mark\n');
	await sleep(300);
	marks.end = Date.now();
	// the CPU the process used while busy, by its own count: the machine may be shared
	const m = [...output.matchAll(/cpu (\d+) (\d+)/g)];
	assert.equal(m.length, 2, output);
	marks.cores = (Number(m[1][1]) - Number(m[0][1])) / 1000 / (Number(m[1][2]) - Number(m[0][2]));
	marks.busyFrom = Number(m[0][2]);
	marks.busyTo = Number(m[1][2]);
});

after(async () => {
	if (load) {
		load.kill('SIGTERM');
		await new Promise((r) => load.once('exit', r));
	}
	if (srv) await srv.stop();
});

test('GET /api/v1/metrics lists what host-metrics and the runtime instrumentation sent', async () => {
	const list = await api('/api/v1/metrics', { range: '5m', service: SERVICE });
	const byName = new Map(list.metrics.map((m) => [m.name, m]));
	for (const name of ['process.cpu.utilization', 'system.cpu.utilization', 'process.memory.usage',
		'v8js.memory.heap.used', 'nodejs.eventloop.delay.p99']) {
		assert.ok(byName.has(name), `${name} listed (got ${[...byName.keys()].join(', ')})`);
	}
	const cpu = byName.get('process.cpu.utilization');
	assert.deepEqual(cpu.services, [SERVICE]);
	assert.ok(cpu.attribute_keys.includes('process.cpu.state'), cpu.attribute_keys.join(','));
	assert.ok(cpu.resource_keys.includes('service.instance.id'), cpu.resource_keys.join(','));
	const other = await api('/api/v1/metrics', { range: '5m', service: 'nobody' });
	assert.equal(other.metrics.length, 0, 'another service lists nothing');
});

test('CPU in cores follows what the process used, and the heap rises with the load', async () => {
	const idle = await measureMean('cpu', marks.idle + 1000, marks.busy);
	const busy = await measureMean('cpu', marks.busyFrom, marks.busyTo);
	// host-metrics divides by the CPU count; the measure is in cores again
	assert.ok(Math.abs(busy - marks.cores) < 0.25 * marks.cores + 0.05,
		`busy: ${busy} cores measured, the process used ${marks.cores} cores by its own count`);
	assert.ok(busy > idle + 0.5 * (marks.cores - idle), `busy ${busy} cores against idle ${idle}`);
	const heapIdle = await measureMean('heap', marks.idle + 1000, marks.busy);
	const heapBusy = await measureMean('heap', marks.busy + 1500, marks.end);
	assert.ok(heapBusy - heapIdle > 32 * 1048576, `heap ${heapIdle} -> ${heapBusy} bytes after 64 MiB held`);
	const total = await measureMean('heap_total', marks.busyFrom, marks.busyTo);
	assert.ok(total >= heapBusy, `the heap's size ${total} holds the heap used ${heapBusy}`);
});

test('the CPU heatmap shows the busy seconds hotter than the idle ones', async () => {
	const hm = await api('/api/v1/performance/heatmap', {
		kind: 'cpu', from: String(marks.idle), to: String(marks.end), step: '1s', service: SERVICE,
	});
	assert.equal(hm.rows.length, 1);
	assert.equal(hm.rows[0].key, INSTANCE);
	const at = (t) => hm.times_ms.findIndex((x) => x >= t);
	const idle = mean(hm.rows[0].values.slice(at(marks.idle + 1000), at(marks.busy)));
	const busy = mean(hm.rows[0].values.slice(at(marks.busyFrom), at(marks.busyTo)));
	assert.ok(busy > idle + 0.5 * (marks.cores - idle), `heatmap cells: busy ${busy}, idle ${idle}, used ${marks.cores}`);
	const byService = await api('/api/v1/metrics/query', {
		name: 'process.cpu.utilization', agg: 'max', group_by: 'process.cpu.state', range: '5m', service: SERVICE,
	});
	assert.deepEqual(byService.lines.map((l) => l.key).sort(), ['system', 'user']);
});

test('/health/performance: the resource indicator follows the CPU', async () => {
	const put = await fetch(`${srv.url}/api/v1/health/thresholds`, {
		method: 'PUT', body: JSON.stringify({ resource_usage: [0.001, 0.95], window_s: 60 }),
	});
	assert.equal(put.status, 200, await put.text());
	const h = await api('/health/performance');
	assert.equal(h.performance_metrics.resource.kind, 'cpu');
	assert.equal(h.performance_metrics.resource.key, INSTANCE);
	// the CPU as reported (a share of the host), user + system, over the same window
	const to = Date.parse(h.timestamp) + 999;
	const share = await api('/api/v1/metrics/query', {
		name: 'process.cpu.utilization', agg: 'sum', from: String(to - 60000), to: String(to), step: '60s', service: SERVICE,
	});
	const want = share.lines[0].values.filter((v) => v != null).pop();
	assert.ok(Math.abs(h.performance_metrics.resource_usage - want) < 0.2 * want,
		`resource usage ${h.performance_metrics.resource_usage} against the CPU share ${want}`);
	assert.equal(h.health_indicators.resource_usage, 'yellow');
	assert.equal(h.health_indicators.response_time, 'no_data', 'no requests were sent');
	assert.equal(h.status, 'degraded');
	const bad = await fetch(`${srv.url}/api/v1/health/thresholds`, { method: 'PUT', body: '{"error_rate": [0.5, 0.1]}' });
	assert.equal(bad.status, 400);
	assert.match(await bad.text(), /error_rate/);
});

// A request of the load process's service (environment e2e) at `atMs`,
// 1.2 s long, its time in one step named `step`.
function request(atMs, step) {
	const tid = traceId();
	const root = spanId();
	const ns = (ms) => BigInt(Math.round(ms)) * 1000000n;
	return {
		attrs: { 'service.name': SERVICE, 'service.instance.id': INSTANCE, 'deployment.environment.name': 'e2e' },
		spans: [
			{ traceId: tid, spanId: root, name: 'GET /work', kind: 2, start: ns(atMs), end: ns(atMs + 1200),
				attrs: { 'http.request.method': 'GET', 'http.route': '/work' } },
			{ traceId: tid, spanId: spanId(), parentSpanId: root, name: step, kind: 1, start: ns(atMs + 10), end: ns(atMs + 1190) },
		],
	};
}

test('a bottleneck and a slow request carry the CPU of their time: busy against idle', async () => {
	const idleAt = marks.idle + 2000;
	const busyAt = marks.busyFrom + 1000;
	const res = await fetch(`${srv.url}/v1/traces`, {
		method: 'POST', headers: { 'content-type': 'application/json' },
		body: JSON.stringify(jsonTraceRequest([request(idleAt, 'idle_step'), request(busyAt, 'busy_step')])),
	});
	assert.equal(res.status, 200, await res.text());
	// host-metrics sends the process's CPU as a share of the host, by state
	const share = marks.cores / os.cpus().length;
	const bn = await api('/api/v1/bottlenecks', { range: '5m', service: SERVICE, env: 'e2e' });
	const by = Object.fromEntries(bn.bottlenecks.map((b) => [b.name, b]));
	assert.ok(by.idle_step && by.busy_step, bn.bottlenecks.map((b) => b.name).join(', '));
	for (const [name, at] of [['idle_step', idleAt], ['busy_step', busyAt]]) {
		const r = by[name].resources;
		assert.ok(r, `${name}: ${by[name].resources_reason}`);
		assert.equal(r.at_ms, at, `${name}: at its example's start`);
		assert.ok(Math.abs(r.time_ms - at) <= 1000, `${name}: a point of the 500 ms exports nearby (${r.time_ms - at} ms)`);
		assert.equal(r.instances, 1);
		assert.ok(r.memory_bytes > 10 * 1048576, `${name}: the process's memory ${r.memory_bytes}`);
	}
	const busy = by.busy_step.resources.cpu_utilization;
	const idle = by.idle_step.resources.cpu_utilization;
	// one 500 ms sample on a shared machine: near the process's own count, not equal to it
	assert.ok(busy > 0.3 * share && busy <= 1,
		`busy: ${busy} of the host (user + system), the process used ${share} over its busy seconds`);
	assert.ok(idle < 0.5 * busy, `idle ${idle} against busy ${busy}`);
	// the slow requests read the same snapshot
	const slow = await api('/api/v1/slow-requests', { range: '5m', service: SERVICE, env: 'e2e', min_duration: '1000' });
	const busyReq = slow.requests.find((x) => x.resources?.at_ms === busyAt);
	assert.ok(busyReq, JSON.stringify(slow.requests.map((x) => x.resources)));
	assert.equal(busyReq.resources.cpu_utilization, busy);
	// the same service in another environment sent no metrics: null, and why
	const staging = request(busyAt, 'staging_step');
	staging.attrs['deployment.environment.name'] = 'staging';
	const sent = await fetch(`${srv.url}/v1/traces`, {
		method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(jsonTraceRequest([staging])),
	});
	assert.equal(sent.status, 200);
	const other = await api('/api/v1/bottlenecks', { range: '5m', service: SERVICE, env: 'staging' });
	const st = other.bottlenecks.find((b) => b.name === 'staging_step');
	assert.ok(st, other.bottlenecks.map((b) => b.name).join(', '));
	assert.equal(st.resources, null, 'the e2e environment\'s points are not staging\'s');
	assert.match(st.resources_reason, new RegExp(`service ${SERVICE} \\(environment staging\\)`));
});

test('the seeds\' resources object reaches currentResources', async () => {
	const now = Date.now();
	const res = await fetch(`${srv.url}/api/v1/requests`, {
		method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({
			service: 'seed-app', timestamp: now - 1000,
			request: { method: 'POST', path: '/checkout', duration_ms: 120 },
			resources: { cpu_percent: 45, memory_mb: 512, db_connections: 8 },
		}),
	});
	assert.equal(res.status, 200, await res.text());
	const st = await api('/api/v1/slow-operations/stats', { range: '15m', service: 'seed-app' });
	assert.equal(typeof st.totalSlowOperations, 'number');
	const r = st.currentResources;
	assert.ok(Math.abs(r.cpu_cores - 0.45) < 1e-9, JSON.stringify(r));
	assert.equal(r.memory_bytes, 512 * 1048576);
	assert.equal(r.pool_used, 8);
	assert.equal(r.pool_max, null, 'no maximum was sent');
});

test('bad parameters get a 400 naming them', async () => {
	for (const [params, word] of [[{ name: 'x', agg: 'median' }, 'agg'], [{ name: 'x', step: 'soon' }, 'step'],
		[{ measure: 'temperature' }, 'measure'], [{}, 'name'], [{ name: 'x', step: '1s', range: '7d' }, 'step'],
		[{ name: 'process.cpu.utilization', agg: 'rate', range: '5m' }, 'agg=rate']]) {
		const q = new URLSearchParams(params).toString();
		const res = await fetch(`${srv.url}/api/v1/metrics/query?${q}`);
		const text = await res.text();
		assert.equal(res.status, 400, `${q}: ${res.status} ${text}`);
		assert.ok(text.includes(word), `${q}: ${text}`);
	}
	const res = await fetch(`${srv.url}/api/v1/performance/heatmap?kind=cpu&layout=round`);
	assert.equal(res.status, 400);
	assert.match(await res.text(), /layout/);
});
