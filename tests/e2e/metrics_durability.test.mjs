// metrics_durability.test.mjs - "a 200 means the metric points are on
// disk", hourly aggregates included: concurrent clients stream OTLP/JSON
// gauge points of ten hosts (one point per host a batch, two seconds apart,
// over more than an hour); the server is SIGKILLed mid-stream; after a
// restart on the same data directory every acknowledged point is answered
// by /api/v1/metrics/query, and the hours (answered from the store's hourly
// aggregates) hold exactly the points that are there: none lost, none
// counted twice.  The embedded store commits a write's points to a log and
// folds the log into points and hours about once a second, so a kill
// usually leaves log rows that the restart folds (counted in the output).
//
//   HOTPATH_BIN=build/hotpath node --test --test-reporter=tap tests/e2e/metrics_durability.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { makeTempDir, startServer, storeKind } from './lib/server.mjs';
import { sleep, uniq } from './lib/util.mjs';

const CLIENTS = 4;
const BATCHES_PER_CLIENT = 700;
const HOSTS = 10;
const SPACING_S = 2;
const HOUR_MS = 3600e3;
const NAME = 'e2e.durable.gauge';

const str = (key, v) => ({ key, value: { stringValue: v } });

/** Batch k: one point per host at base + k * SPACING_S, value k * 100 + host + 0.25. */
function batchBody(service, baseMs, k) {
	const t = BigInt(baseMs + k * SPACING_S * 1000) * 1000000n;
	return JSON.stringify({
		resourceMetrics: Array.from({ length: HOSTS }, (_, h) => ({
			resource: { attributes: [str('service.name', service), str('host.name', `host-${h}`)] },
			scopeMetrics: [{
				scope: { name: 'e2e-metrics-durability' },
				metrics: [{ name: NAME, unit: '1', gauge: { dataPoints: [{ timeUnixNano: String(t), asDouble: k * 100 + h + 0.25 }] } }],
			}],
		})),
	});
}

async function stream(srv, service, baseMs, state) {
	let next = 0;
	const total = CLIENTS * BATCHES_PER_CLIENT;
	await Promise.all(Array.from({ length: CLIENTS }, async () => {
		while (!state.stop && next < total) {
			const k = next++;
			try {
				const res = await fetch(`${srv.url}/v1/metrics`, {
					method: 'POST', headers: { 'Content-Type': 'application/json' },
					body: batchBody(service, baseMs, k), signal: AbortSignal.timeout(30000),
				});
				await res.arrayBuffer();
				if (res.status === 200) state.acked.add(k);
				else if (res.status === 503 || res.status === 429) await sleep(20);
				else state.problems.push(`batch ${k}: status ${res.status}`);
			} catch {
				if (state.stop) break;
				await sleep(20);
			}
		}
	}));
}

async function api(srv, params) {
	const res = await fetch(`${srv.url}/api/v1/metrics/query?${new URLSearchParams(params)}`);
	const text = await res.text();
	assert.equal(res.status, 200, `${JSON.stringify(params)}: ${res.status} ${text}`);
	return JSON.parse(text);
}

/** host -> Map(k -> value) of every point the server answers, read 1500 steps at a time. */
async function rawPoints(srv, service, baseMs, batches) {
	const got = new Map();
	for (let from = 0; from < batches; from += 1500) {
		const to = Math.min(batches, from + 1500);
		const a = await api(srv, {
			name: NAME, service, agg: 'max', group_by: 'host', step: `${SPACING_S}s`,
			from: String(baseMs + from * SPACING_S * 1000), to: String(baseMs + to * SPACING_S * 1000),
		});
		for (const line of a.lines) {
			if (!got.has(line.key)) got.set(line.key, new Map());
			line.values.forEach((v, i) => { if (v != null) got.get(line.key).set(from + i, v); });
		}
	}
	return got;
}

function logRows(dataDir) {
	if (storeKind() === 'clickhouse') return null;
	const dir = makeTempDir('hotpath-metrics-crash-copy-');
	for (const f of fs.readdirSync(dataDir)) {
		if (f.startsWith('hotpath.db') && !f.endsWith('-shm')) fs.copyFileSync(path.join(dataDir, f), path.join(dir, f));
	}
	return Number(execFileSync('sqlite3', [path.join(dir, 'hotpath.db'), 'SELECT count(*) FROM metric_log;'], { encoding: 'utf8' }).trim());
}

test('SIGKILL mid-stream: every acknowledged metric point survives, and the hours hold exactly the points there', async (t) => {
	const service = uniq('metrics-durable');
	const baseMs = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 3 * HOUR_MS;
	const srv = await startServer();
	const state = { stop: false, acked: new Set(), problems: [] };
	const streaming = stream(srv, service, baseMs, state);
	// kill once more than an hour of points is acknowledged (or after 20 s)
	for (const t0 = Date.now(); Date.now() - t0 < 20000 && state.acked.size < 2000;) await sleep(10);
	const killed = await srv.kill();
	state.stop = true;
	await streaming;
	assert.equal(killed.signal, 'SIGKILL');
	assert.deepEqual(state.problems, [], srv.logs());
	assert.ok(state.acked.size >= 1800, `only ${state.acked.size} batches acknowledged: the test would prove little\n${srv.logs()}`);
	const unfolded = logRows(srv.dataDir);
	t.diagnostic(`${state.acked.size} batches acknowledged; ${unfolded ?? 'n/a'} write(s) in the metric log, not yet folded, when killed`);

	const again = await startServer({ dataDir: srv.dataDir });
	try {
		const batches = CLIENTS * BATCHES_PER_CLIENT;
		const got = await rawPoints(again, service, baseMs, batches);
		const lost = [];
		for (const k of state.acked) {
			for (let h = 0; h < HOSTS; h++) {
				const v = got.get(`host-${h}`)?.get(k);
				if (v !== k * 100 + h + 0.25) lost.push(`batch ${k} host-${h}: ${v}`);
			}
		}
		assert.deepEqual(lost.slice(0, 10), [], `${lost.length} acknowledged points lost or wrong\n${again.logs()}`);

		// the hours: each host's mean and point count per hour, from the
		// hourly aggregates, against the points answered one by one
		const hours = Math.ceil((Math.max(...got.get('host-0').keys()) + 1) * SPACING_S * 1000 / HOUR_MS);
		const a = await api(again, {
			name: NAME, service, agg: 'avg', group_by: 'host', step: '1h',
			from: String(baseMs), to: String(baseMs + hours * HOUR_MS),
		});
		assert.equal(a.lines.length, HOSTS, JSON.stringify(a).slice(0, 300));
		const perHour = HOUR_MS / 1000 / SPACING_S;
		for (const line of a.lines) {
			const pts = got.get(line.key);
			let n = 0;
			for (let hr = 0; hr < hours; hr++) {
				const vs = [...pts].filter(([k]) => Math.floor(k / perHour) === hr).map(([, v]) => v);
				n += vs.length;
				const want = vs.length ? vs.reduce((x, y) => x + y, 0) / vs.length : null;
				const have = line.values[hr];
				assert.ok(want === null ? have == null : Math.abs(have - want) <= 1e-9 * Math.abs(want),
					`${line.key} hour ${hr}: mean ${have} from the hours, ${want} from the ${vs.length} points`);
			}
			assert.equal(line.points, n, `${line.key}: the hours count ${line.points} points, ${n} are answered one by one`);
		}
	} finally {
		await again.stop();
	}
});
