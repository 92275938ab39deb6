// retention.test.mjs - `hotpath serve --retention-...`: traces older than
// their period are deleted in the background, in steps counted in
// /metrics; the kept window answers as before; ingest goes on meanwhile;
// a bad period is refused at start with a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { hotpathBin, makeTempDir, startServer } from './lib/server.mjs';
import { fetchTrace, getJson, makeTrace, nowNs, pbTraceRequest, rawPost, sleep } from './lib/util.mjs';

const DAY = 86_400_000_000_000n;

async function postTraces(srv, traces) {
	const body = pbTraceRequest([{ attrs: { 'service.name': 'retention-e2e' }, spans: traces.flatMap((t) => t.spans) }]);
	const r = await rawPost(`${srv.url}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body });
	assert.equal(r.status, 200, String(r.body));
}

function metric(text, name) {
	const m = text.match(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm'));
	return m ? Number(m[1]) : NaN;
}

test('old traces are deleted in the background; the kept window is unchanged', async (t) => {
	const dataDir = makeTempDir();
	const args = ['--retention-spans', '7d', '--retention-requests', '7d'];
	let srv = await startServer({ dataDir, args });
	t.after(() => srv.kill());
	const now = nowNs();
	const old = [], kept = [];
	for (let i = 0; i < 30; i++) old.push(makeTrace({ name: 'GET /old', endNs: now - 10n * DAY + BigInt(i) * 1_000_000_000n }));
	for (let i = 0; i < 5; i++) kept.push(makeTrace({ name: 'GET /kept', endNs: now - 3_600_000_000_000n + BigInt(i) * 1_000_000_000n }));
	for (let i = 0; i < 3; i++) await postTraces(srv, old.slice(i * 10, i * 10 + 10));
	await postTraces(srv, kept);
	const window = `from=${(now - 7_200_000_000_000n) / 1_000_000n}&to=${now / 1_000_000n}&limit=100`;
	const before = await getJson(`${srv.url}/api/v1/traces?${window}`);
	assert.equal(before.status, 200, before.text);
	assert.equal(before.json.traces.length, 5, 'the kept window holds the recent traces');
	// restarted: the first retention step runs at once
	await srv.stop();
	srv = await startServer({ dataDir, args });

	let text = '';
	for (let i = 0; i < 100; i++) {
		text = (await getJson(`${srv.url}/metrics`)).text;
		if (metric(text, 'hotpath_retention_deleted_total{kind="spans"}') >= 90 && metric(text, 'hotpath_retention_pending') === 0) break;
		// ingest goes on while retention works
		await postTraces(srv, [makeTrace({ name: 'GET /during' })]);
		await sleep(100);
	}
	assert.equal(metric(text, 'hotpath_retention_deleted_total{kind="spans"}'), 90, 'the 90 old spans deleted');
	assert.equal(metric(text, 'hotpath_retention_deleted_total{kind="requests"}'), 30, 'the 30 old request rows deleted');
	assert.ok(metric(text, 'hotpath_retention_steps_total') >= 1);
	for (const tr of old.slice(0, 5)) assert.equal(await fetchTrace(srv, tr.traceId), null, 'an old trace is gone');
	for (const tr of kept) assert.equal((await fetchTrace(srv, tr.traceId)).length, 3, 'a kept trace is whole');
	const after = await getJson(`${srv.url}/api/v1/traces?${window}`);
	assert.deepEqual(after.json.traces, before.json.traces, 'the kept window answers as before');
	await srv.stop();
});

test('past --disk-budget the oldest spans and their request rows go, even recent ones', async (t) => {
	const srv = await startServer({ args: ['--disk-budget', '1K'] });
	t.after(() => srv.kill());
	const traces = [];
	for (let i = 0; i < 3; i++) {
		const batch = [];
		for (let k = 0; k < 10; k++) batch.push(makeTrace({ name: 'GET /budget' }));
		await postTraces(srv, batch);
		traces.push(...batch);
	}
	let text = '';
	for (let i = 0; i < 150; i++) {
		text = (await getJson(`${srv.url}/metrics`)).text;
		if (metric(text, 'hotpath_retention_deleted_total{kind="spans"}') >= 90 && metric(text, 'hotpath_retention_pending') === 0) break;
		await sleep(100);
	}
	assert.equal(metric(text, 'hotpath_retention_deleted_total{kind="spans"}'), 90, 'every span past the budget deleted');
	assert.equal(metric(text, 'hotpath_retention_deleted_total{kind="requests"}'), 30, 'and the request rows as old');
	assert.ok(metric(text, 'hotpath_store_used_bytes') > 1024, 'the budget cannot be met by raw data alone: the rest stays');
	for (const tr of traces.slice(0, 3)) assert.equal(await fetchTrace(srv, tr.traceId), null);
	await srv.stop();
});

test('a bad retention period or budget is refused at start, with the flag named', () => {
	for (const [flag, value] of [['--retention-spans', '7'], ['--retention-points', '3x'], ['--disk-budget', 'lots']]) {
		const r = spawnSync(hotpathBin(), ['serve', '--data', makeTempDir(), flag, value], { encoding: 'utf8' });
		assert.equal(r.status, 2, `${flag} ${value}: exit ${r.status}`);
		assert.match(r.stderr, new RegExp(`${flag}: '${value}'`));
	}
});
