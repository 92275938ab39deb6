// agent.test.mjs - `hotpath agent` against a running server: it samples
// /proc for the host and a busy Node process, and what it sends reads back
// through the metrics API in the units of the resource measures; while the
// server is away it keeps its samples and sends them once it is back.
//
//   HOTPATH_BIN=build/hotpath node --test --test-reporter=tap tests/e2e/agent.test.mjs
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';

import { hotpathBin, startServer } from './lib/server.mjs';

const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const servers = [];
let burner = null;

after(async () => {
	if (burner) burner.kill('SIGKILL');
	for (const s of servers) await s.stop().catch(() => {});
});

async function api(srv, p, params = {}) {
	const q = new URLSearchParams(params).toString();
	const res = await fetch(`${srv.url}${p}?${q}`);
	const text = await res.text();
	assert.equal(res.status, 200, `${p}?${q}: ${text}`);
	return JSON.parse(text);
}

const known = (v) => v.filter((x) => x != null);
const mean = (v) => known(v).reduce((a, b) => a + b, 0) / known(v).length;

test('host and process metrics from /proc, in cores and bytes', async () => {
	const srv = await startServer();
	servers.push(srv);
	burner = spawn(process.execPath, ['-e', 'const end = Date.now() + 20000; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1);']);
	const { stderr } = await run(hotpathBin(), ['agent', '--target', srv.url, '--interval', '500ms', '--count', '8',
		'--pid', String(burner.pid), '--service', 'burner'], { timeout: 30000 });
	assert.match(stderr, /8 samples sent, 0 dropped, 0 refused, 0 unsent/);
	burner.kill('SIGKILL');
	burner = null;

	const list = await api(srv, '/api/v1/metrics', { range: '5m' });
	const names = list.metrics.map((m) => m.name);
	for (const n of ['system.cpu.utilization', 'system.cpu.logical.count', 'system.cpu.load_average.1m',
		'system.memory.usage', 'system.memory.limit', 'system.network.io', 'process.cpu.utilization',
		'process.cpu.time', 'process.memory.usage', 'process.thread.count', 'process.context_switches']) {
		assert.ok(names.includes(n), `${n} sent (got ${names.join(', ')})`);
	}
	const count = await api(srv, '/api/v1/metrics/query', { name: 'system.cpu.logical.count', agg: 'max', range: '5m', step: '1m' });
	assert.equal(Math.max(...known(count.lines[0].values)), os.cpus().length, 'the CPU count is the host\'s');
	const mem = await api(srv, '/api/v1/metrics/query', { name: 'system.memory.limit', agg: 'max', range: '5m', step: '1m' });
	assert.equal(Math.max(...known(mem.lines[0].values)), os.totalmem(), 'MemTotal is the host\'s memory');

	// two readings of the same CPU: the utilisation (a share of the host, times
	// its CPU count again) and the rate of the cumulative CPU time
	const cores = await api(srv, '/api/v1/metrics/query', { measure: 'cpu', service: 'burner', range: '5m', step: '10s' });
	const rate = await api(srv, '/api/v1/metrics/query', { name: 'process.cpu.time', agg: 'rate', group_by: 'service', service: 'burner', range: '5m', step: '10s' });
	const c = mean(cores.lines[0].values);
	const r = known(rate.lines[0].values).reduce((a, b) => a + b, 0) * 10 / 3.5; // 7 intervals of 0.5 s
	assert.ok(c > 0.05, `the busy process used ${c} cores`);
	assert.ok(Math.abs(c - r) < 0.3 * r + 0.05, `utilisation ${c} cores against the CPU time rate ${r} cores`);
	const rss = await api(srv, '/api/v1/metrics/query', { measure: 'memory', service: 'burner', range: '5m', step: '1m' });
	assert.ok(mean(rss.lines[0].values) > 10 * 1048576, 'a Node process has more than 10 MiB resident');
	const hm = await api(srv, '/api/v1/performance/heatmap', { kind: 'cpu', service: 'burner', range: '5m', step: '10s' });
	assert.equal(hm.rows.length, 1);
	assert.match(hm.rows[0].key, new RegExp(`/${'\\d+'}$`), 'a row per process instance (host/pid)');
});

test('samples are kept while the server is away and sent when it is back', async () => {
	const first = await startServer();
	const port = new URL(first.url).port;
	const dataDir = first.dataDir;
	await first.stop();
	const agent = spawn(hotpathBin(), ['agent', '--target', `http://127.0.0.1:${port}`, '--interval', '500ms', '--count', '10']);
	let err = '';
	agent.stderr.on('data', (d) => { err += d; });
	await sleep(2000);
	// the server back on the port the agent sends to
	const back = spawn(hotpathBin(), ['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir]);
	const srv = { url: `http://127.0.0.1:${port}`, stop: async () => { back.kill('SIGTERM'); await new Promise((r) => back.on('exit', r)); } };
	servers.push(srv);
	for (let i = 0; i < 100; i++) {
		if (await fetch(`${srv.url}/health`).then((r) => r.ok, () => false)) break;
		await sleep(100);
	}
	const code = await new Promise((r) => agent.on('exit', r));
	assert.equal(code, 0, err);
	assert.match(err, /no answer/, 'the agent saw the server away');
	assert.match(err, /10 samples sent, 0 dropped, 0 refused, 0 unsent/, err);
	const count = await api(srv, '/api/v1/metrics/query', { name: 'system.cpu.logical.count', agg: 'sum', range: '5m', step: '5m' });
	const points = count.lines.reduce((n, l) => n + l.points, 0);
	assert.equal(points, 10, 'every sample arrived, the ones taken while the server was away too');
});

test('the buffer bound drops the oldest samples, and says so', async () => {
	const { stderr } = await run(hotpathBin(), ['agent', '--target', 'http://127.0.0.1:9', '--interval', '100ms',
		'--count', '6', '--buffer', '4096'], { timeout: 60000 });
	const m = /(\d+) samples sent, (\d+) dropped, \d+ refused, (\d+) unsent/.exec(stderr);
	assert.ok(m, stderr);
	assert.equal(Number(m[1]), 0);
	assert.ok(Number(m[2]) >= 1, `some samples dropped past 4096 bytes: ${m[0]}`);
	assert.equal(Number(m[2]) + Number(m[3]), 6);
});
