// clickhouse_retention.test.mjs - retention with the ClickHouse store
// (Debian's clickhouse-server, started privately by lib/clickhouse.mjs):
// whole days dropped as partitions once older than their period, counted
// in /metrics; the kept window answers as before; rollups keep their own
// (longer) period; past --disk-budget the oldest days of raw data go but
// never the current day; the stored aggregates (operation statistics)
// go with the minute rollups' period, from a store migrated from schema 6.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { clickhouseSkip, newClickHouse } from './lib/clickhouse.mjs';
import { startServer } from './lib/server.mjs';
import { fetchTrace, getJson, jsonTraceRequest, makeTrace, nowNs, postOtlpJson, sleep, waitFor } from './lib/util.mjs';

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
			// the drops are counted table by table, the step once it went through every table
			const text = await waitMetrics(srv, (t) => metric(t, 'hotpath_retention_deleted_total{kind="spans"}') >= 30
				&& metric(t, 'hotpath_retention_deleted_total{kind="requests"}') >= 10
				&& metric(t, 'hotpath_retention_steps_total') >= 1);
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
	test('the stored aggregates go with the minute rollups, from a store migrated from schema 6', async () => {
		const ch = await newClickHouse();
		const db = 'aggret', dayNs = BigInt(86_400) * 1_000_000_000n;
		const count = async (where) => Number((await ch.query(`SELECT uniqExact(kind, t, key) FROM ${db}.aggregates_by_day WHERE ${where} FORMAT TSV`)).trim());
		const cut = (days) => `t < ${nowNs() - BigInt(days) * dayNs}`;
		// 1. a store with aggregates of 10 days ago, then of 2 days ago
		// (spans kept for ever here, so that the statistics read them)
		let srv = await startServer({ args: ['--analysis-interval', '0', '--lease-seconds', '3', '--retention-spans', '0',
			'--retention-requests', '0', '--store', ch.storeUrl(db)] });
		try {
			await post(srv, tracesAt(10, 10, 'GET /old'));
			await waitFor('aggregates of 10 days ago', async () => await count(cut(9)) > 0, 60000);
			await post(srv, tracesAt(5, 2, 'GET /kept'));
			await waitFor('aggregates of 2 days ago', async () => await count(`${cut(3).replace('<', '>=')} AND t < ${nowNs()}`) > 0, 60000);
		} finally {
			await srv.dispose();
		}
		const old = await count(cut(9)), recent = await count(`${cut(3).replace('<', '>=')} AND t < ${nowNs()}`);
		const state = await count('t = 18446744073709551615');
		assert.ok(old > 0 && recent > 0 && state === 1, `rows of both days and the state row (${old}, ${recent}, ${state})`);
		// 2. back to schema 6: the aggregates in the unpartitioned table of then
		for (const sql of [
			`CREATE TABLE ${db}.aggregates (kind UInt32, t UInt64, key String, data String, ver UInt64) ENGINE = ReplacingMergeTree(ver) ORDER BY (kind, t, key)`,
			`INSERT INTO ${db}.aggregates SELECT * FROM ${db}.aggregates_by_day`,
			`DROP TABLE ${db}.aggregates_by_day`,
			`DROP TABLE ${db}.hotpath_schema`,
			`CREATE TABLE ${db}.hotpath_schema (version UInt32, applied_ns UInt64) ENGINE = MergeTree ORDER BY version`,
			`INSERT INTO ${db}.hotpath_schema VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0)`,
		]) await ch.query(sql);
		// 3. minute rollups (and so the aggregates) kept 7 days; the rollups
		// themselves keep the longer hour period
		srv = await startServer({ args: ['--analysis-interval', '0', '--lease-seconds', '3', '--retention-minute-rollups', '7d',
			'--store', ch.storeUrl(db)] });
		try {
			const version = Number((await ch.query(`SELECT max(version) FROM ${db}.hotpath_schema FORMAT TSV`)).trim());
			assert.ok(version >= 7, `migrated past schema 7, the aggregates by day (${version})`);
			assert.equal((await ch.query(`EXISTS TABLE ${db}.aggregates FORMAT TSV`)).trim(), '0', 'the old table is dropped');
			await waitFor('the old aggregates dropped', async () => await count(cut(8)) === 0, 30000);
			assert.ok(await count(`${cut(3).replace('<', '>=')} AND t < ${nowNs()}`) >= recent, 'the aggregates of 2 days ago stay');
			assert.equal(await count('t = 18446744073709551615'), 1, 'the state row stays');
			const parts = await ch.query(`SELECT count() FROM system.parts WHERE database = '${db}' AND table = 'aggregates_by_day' AND active AND toUInt32(partition) < toYYYYMMDD(today() - 8) FORMAT TSV`);
			assert.equal(parts.trim(), '0', 'no partition of the aggregates older than the period is left');
			const s = await getJson(`${srv.url}/api/v1/performance/summary?from=${Number(nowNs() / 1_000_000n) - 11 * 86_400_000}&to=${Number(nowNs() / 1_000_000n) - 9 * 86_400_000}`);
			assert.equal(s.json.count, 10, 'the rollups of 10 days ago stay (their hour period is longer)');
		} finally {
			await srv.dispose();
			await ch.stop();
		}
	});
});
