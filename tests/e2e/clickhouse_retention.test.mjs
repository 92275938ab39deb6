// clickhouse_retention.test.mjs - retention with the ClickHouse store
// (Debian's clickhouse-server, started privately by lib/clickhouse.mjs):
// whole days dropped as partitions once older than their period, counted
// in /metrics; the kept window answers as before; rollups keep their own
// (longer) period; past --disk-budget the oldest days of raw data go but
// never the current day.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { clickhouseSkip, newClickHouse } from './lib/clickhouse.mjs';
import { startServer } from './lib/server.mjs';
import { fetchTrace, getJson, jsonTraceRequest, makeTrace, nowNs, postOtlpJson, sleep } from './lib/util.mjs';

const skip = clickhouseSkip();
const DAY = 86_400_000_000_000n;

function metric(text, name) {
	const m = text.match(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm'));
	return m ? Number(m[1]) : NaN;
}

async function post(srv, traces) {
	await postOtlpJson(srv.url, jsonTraceRequest([{ attrs: { 'service.name': 'retention-ch' }, spans: traces.flatMap((t) => t.spans) }]));
}

/** Traces ending `daysAgo` days ago (one second apart). */
function tracesAt(n, daysAgo, name) {
	const now = nowNs(), out = [];
	for (let i = 0; i < n; i++) out.push(makeTrace({ name, endNs: now - BigInt(daysAgo) * DAY + BigInt(i) * 1_000_000_000n }));
	return out;
}

async function waitMetrics(srv, done) {
	let text = '';
	for (let i = 0; i < 150; i++) {
		text = (await getJson(`${srv.url}/metrics`)).text;
		if (done(text)) break;
		await sleep(100);
	}
	return text;
}

describe('retention with the ClickHouse store', { skip, timeout: 300000 }, () => {
	test('days past their period are dropped; the kept window and the rollups stay', async () => {
		const ch = await newClickHouse();
		const srv = await startServer({ args: ['--analysis-interval', '0', '--lease-seconds', '3', '--retention-spans', '7d',
			'--retention-requests', '7d', '--store', ch.storeUrl('ret')] });
		try {
			const old = tracesAt(10, 10, 'GET /old'), kept = tracesAt(5, 2, 'GET /kept');
			await post(srv, old);
			await post(srv, kept);
			const text = await waitMetrics(srv, (t) => metric(t, 'hotpath_retention_deleted_total{kind="spans"}') >= 30
				&& metric(t, 'hotpath_retention_deleted_total{kind="requests"}') >= 10);
			assert.equal(metric(text, 'hotpath_retention_deleted_total{kind="spans"}'), 30, 'the 30 old spans dropped');
			assert.equal(metric(text, 'hotpath_retention_deleted_total{kind="requests"}'), 10, 'and their 10 request rows');
			assert.equal(metric(text, 'hotpath_retention_deleted_total{kind="minute_rollups"}'), 0, 'rollups keep their 400 days');
			assert.ok(metric(text, 'hotpath_retention_steps_total') >= 1);
			for (const t of old.slice(0, 3)) assert.equal(await fetchTrace(srv, t.traceId), null, 'an old trace is gone');
			for (const t of kept) assert.equal((await fetchTrace(srv, t.traceId))?.length, 3, 'a kept trace is whole');
			const now = Number(nowNs() / 1_000_000n);
			const oldRange = `from=${now - 11 * 86_400_000}&to=${now - 9 * 86_400_000}`;
			const s = await getJson(`${srv.url}/api/v1/performance/summary?${oldRange}`);
			assert.equal(s.json.count, 10, 'the old requests are still counted by the rollups');
			const list = await getJson(`${srv.url}/api/v1/traces?${oldRange}&limit=50`);
			assert.equal(list.json.traces.length, 0, 'but their request rows are gone');
			const parts = await ch.query("SELECT count() FROM system.parts WHERE database = 'ret' AND table = 'blocks' AND active AND toUInt32(partition) < toYYYYMMDD(today() - 7) FORMAT TSV");
			assert.equal(parts.trim(), '0', 'no block partition older than the period is left');
		} finally {
			await srv.dispose();
			await ch.stop();
		}
	});

	test('past --disk-budget the oldest days of raw data go, today stays', async () => {
		const ch = await newClickHouse();
		const srv = await startServer({ args: ['--analysis-interval', '0', '--lease-seconds', '3', '--disk-budget', '1K',
			'--store', ch.storeUrl('budget')] });
		try {
			const older = tracesAt(10, 3, 'GET /older'), old = tracesAt(10, 2, 'GET /old'), today = [makeTrace({ name: 'GET /today' })];
			await post(srv, older);
			await post(srv, old);
			await post(srv, today);
			const text = await waitMetrics(srv, (t) => metric(t, 'hotpath_retention_deleted_total{kind="spans"}') >= 60
				&& metric(t, 'hotpath_retention_deleted_total{kind="requests"}') >= 20);
			assert.equal(metric(text, 'hotpath_retention_deleted_total{kind="spans"}'), 60, 'the spans of the two past days');
			assert.equal(metric(text, 'hotpath_retention_deleted_total{kind="requests"}'), 20, 'and their request rows');
			assert.equal(metric(text, 'hotpath_retention_pending'), 0, 'nothing more is due: only today is left');
			const rows = await ch.query("SELECT count() FROM budget.requests FORMAT TSV");
			assert.equal(rows.trim(), '1', "today's request row stays, over the budget");
			assert.equal((await fetchTrace(srv, today[0].traceId))?.length, 3, 'today stays, over the budget');
			assert.equal(await fetchTrace(srv, older[0].traceId), null);
		} finally {
			await srv.dispose();
			await ch.stop();
		}
	});
});
