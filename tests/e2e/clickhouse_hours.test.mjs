// clickhouse_hours.test.mjs - the hourly rollups of the ClickHouse store
// (rollup_hours, schema 9), against a real clickhouse-server:
//  - parity: over 24 h (hour resolution: whole hours from rollup_hours, the
//    partial ones from the minutes) each hour of the timeseries answers as
//    the summary of that hour alone (a 1 h range: minutes only), with and
//    without the service and env filters the dashboard sends: the same
//    counts, errors, tiers, minimum, maximum and mean, percentiles within
//    the sketch's 1 %;
//  - the hour read does come from rollup_hours (a row added there by hand
//    shows in the 24 h answer, not in the minutes');
//  - a store of schema 8 (no hours) migrated: the hours are built from the
//    stored minutes, the answers stay the same, rows written afterwards
//    reach the hours through the view;
//  - retention drops the hours' day partitions with the minutes';
//  - the blocks of a new database are in granules of 32 rows (a trace by
//    id reads its blocks' granules whole).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { clickhouseSkip, newClickHouse } from './lib/clickhouse.mjs';
import { rng } from './lib/random.mjs';
import { makeTempDir, startServer } from './lib/server.mjs';
import { getJson, jsonTraceRequest, postOtlpJson, spanId, traceId, waitFor } from './lib/util.mjs';

const skip = clickhouseSkip();
const MS = 1_000_000n, HOUR_MS = 3_600_000;

const SERVICES = [
	{ name: 'cart', env: 'production', version: '1.2.0', routes: ['/cart', '/cart/{id}'], ms: 120 },
	{ name: 'search', env: 'staging', version: '0.3.1', routes: ['/search'], ms: 40 },
	{ name: 'pay', env: 'production', version: '4.0.0', routes: ['/pay'], ms: 700 },
];

/** OTLP/JSON bodies of n requests (SERVER roots, one child each) starting in [fromMs, toMs). */
function makeBodies(n, fromMs, toMs, seed) {
	const rand = rng(seed), bodies = [];
	for (let b = 0; b < n / 25; b++) {
		const resources = SERVICES.map((svc) => ({
			attrs: { 'service.name': svc.name, 'deployment.environment.name': svc.env, 'service.version': svc.version },
			spans: [],
		}));
		for (let i = 0; i < 25; i++) {
			const k = Math.floor(rand() * SERVICES.length), svc = SERVICES[k];
			const dur = BigInt(Math.max(1, Math.round(svc.ms * Math.exp(2.4 * (rand() - 0.5))))) * MS;
			const start = BigInt(fromMs + Math.floor(rand() * (toMs - fromMs))) * MS;
			const tid = traceId(), root = spanId(), route = svc.routes[Math.floor(rand() * svc.routes.length)];
			const code = rand() < 0.1 ? 500 : 200;
			resources[k].spans.push({
				traceId: tid, spanId: root, name: `GET ${route}`, kind: 2, start, end: start + dur,
				attrs: { 'http.request.method': 'GET', 'http.route': route, 'http.response.status_code': code },
			}, {
				traceId: tid, spanId: spanId(), parentSpanId: root, name: 'SELECT items', kind: 3,
				start, end: start + dur / 2n, attrs: { 'db.system': 'postgresql' },
			});
		}
		const body = jsonTraceRequest(resources.filter((r) => r.spans.length));
		// a failed request: its span's status an error (STATUS_CODE_ERROR)
		for (const rs of body.resourceSpans) {
			for (const sp of rs.scopeSpans[0].spans) {
				if (sp.attributes.some((a) => a.key === 'http.response.status_code' && a.value.intValue === '500')) sp.status = { code: 2 };
			}
		}
		bodies.push(body);
	}
	return bodies;
}

async function send(srv, bodies) {
	for (const body of bodies) await postOtlpJson(srv.url, body); // each asserted 200
}

function near(got, want, rel, what) {
	assert.ok(got === want || Math.abs(got - want) <= Math.abs(want) * rel + 1e-9, `${what}: hours ${got}, minutes ${want}`);
}

async function get(srv, p) {
	const r = await getJson(`${srv.url}${p}`);
	assert.equal(r.status, 200, `${p}: ${r.text.slice(0, 300)}`);
	return r.json;
}

const FILTERS = ['', '&service=cart', '&env=production', '&env=production&service=pay', '&status=error'];

/* Each hour of the 24 h timeseries (hour resolution) against the summary
 * of that hour alone (minute resolution); the total requests compared. */
async function assertHoursAsMinutes(srv, f) {
	const ts = await get(srv, `/api/v1/performance/timeseries?range=24h&step=3600${f}`);
	assert.equal(ts.resolution_s, 3600, 'a day is read at hour resolution');
	const points = ts.series[0]?.points ?? [];
	let total = 0;
	for (const p of points) {
		const s = await get(srv, `/api/v1/performance/summary?from=${p.t_ms}&to=${p.t_ms + HOUR_MS}${f}`);
		assert.equal(s.resolution_s, 60, 'an hour is read at minute resolution');
		const at = `hour ${new Date(p.t_ms).toISOString()} (${f})`;
		for (const k of ['count', 'errors', 'timeouts']) assert.equal(p[k], s[k], `${k}, ${at}`);
		if (!p.count) continue;
		for (const k of ['max_ms', 'mean_ms']) near(p[k], s[k], 1e-12, `${k}, ${at}`);
		for (const k of ['p50_ms', 'p75_ms', 'p90_ms', 'p95_ms', 'p99_ms']) near(p[k], s[k], 0.01, `${k}, ${at}`);
		total += p.count;
	}
	return { total, points };
}

describe('hourly rollups with the ClickHouse store', { skip, timeout: 600000 }, () => {
	let ch, srv, dataDir, endMs;
	const db = 'hours';
	const start = () => startServer({ dataDir, args: ['--analysis-interval', '0', '--store', ch.storeUrl(db)] });
	const q = async (sql) => (await ch.query(`${sql} FORMAT TSV`)).trim();
	before(async () => {
		ch = await newClickHouse();
		dataDir = makeTempDir();
		srv = await start();
		endMs = Date.now() - 60_000;
		// 20 hours of requests, in random order (late rows of old hours too)
		await send(srv, makeBodies(2000, endMs - 20 * HOUR_MS, endMs, 11));
	});
	after(async () => {
		await srv?.dispose();
		await ch?.stop();
	});

	test('each hour of a day read from the hours answers as its minutes', async () => {
		assert.equal(await q(`SELECT max(version) FROM ${db}.hotpath_schema`), '9');
		assert.equal(await q(`SELECT count() FROM ${db}.rollup_hours_start`), '1', 'the hours\' start recorded');
		// a trace by id reads whole granules of blocks: small ones
		assert.match(await q(`SELECT engine_full FROM system.tables WHERE database = '${db}' AND name = 'blocks'`),
			/index_granularity = 32\b/, 'blocks in granules of 32 rows');
		// the view summed every inserted row into its hour
		const byHour = (table, t) => q(`SELECT ${t} AS h, sum(n) FROM ${db}.${table} GROUP BY h ORDER BY h`);
		assert.equal(await byHour('rollup_hours', 'hour'), await byHour('rollups', 'intDiv(minute, 60)'), 'the hours sum the minutes');
		for (const f of FILTERS) {
			const { total } = await assertHoursAsMinutes(srv, f);
			const s = await get(srv, `/api/v1/performance/summary?range=24h${f}`);
			assert.equal(s.count, total, `the day's count is the hours' (${f})`);
			assert.ok(f === '&status=error' ? total > 20 : total > 300, `requests in the day (${f}): ${total}`);
		}
	});

	test('a store of schema 8 migrated: the hours built from the stored minutes', async () => {
		const before24 = await get(srv, '/api/v1/performance/timeseries?range=24h&step=3600&service=pay');
		await srv.dispose();
		srv = null;
		// back to schema 8: no hours, no view
		for (const sql of [
			`DROP TABLE ${db}.rollup_hours_feed`,
			`DROP TABLE ${db}.rollup_hours`,
			`DROP TABLE ${db}.rollup_hours_start`,
			`DROP TABLE ${db}.hotpath_schema`,
			`CREATE TABLE ${db}.hotpath_schema (version UInt32, applied_ns UInt64) ENGINE = MergeTree ORDER BY version`,
			`INSERT INTO ${db}.hotpath_schema VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0)`,
		]) await ch.query(sql);
		srv = await start();
		assert.equal(await q(`SELECT max(version) FROM ${db}.hotpath_schema`), '9', 'migrated to schema 9');
		assert.match(srv.logs(), /hourly rollups built from the stored minutes/);
		const hour = Number(await q(`SELECT hour FROM ${db}.rollup_hours_start`));
		assert.equal(hour, Math.floor(Date.now() / HOUR_MS), 'the hours began in this hour');
		const rows = Number(await q(`SELECT count() FROM ${db}.rollup_hours WHERE hour < ${hour}`));
		assert.ok(rows > 0, 'hours copied from the minutes');
		const after24 = await get(srv, '/api/v1/performance/timeseries?range=24h&step=3600&service=pay');
		assert.deepEqual(after24.series[0].points.map((p) => [p.t_ms, p.count, p.errors, p.max_ms]),
			before24.series[0].points.map((p) => [p.t_ms, p.count, p.errors, p.max_ms]), 'the same day as before');
		// rows written after the migration, some in old hours (late), reach the hours through the view
		await send(srv, makeBodies(500, endMs - 20 * HOUR_MS, Date.now() - 1000, 12));
		for (const f of FILTERS) await assertHoursAsMinutes(srv, f);
		const copied = (table, t) => q(`SELECT sum(n) FROM ${db}.${table} WHERE ${t} < ${hour} OR ${t} > ${hour + 1}`);
		assert.equal(await copied('rollup_hours', 'hour'), await copied('rollups', 'intDiv(minute, 60)'), 'no hour counted twice');
	});

	test('the day\'s answer reads the hours (a row added to an hour there shows)', async () => {
		const ts = await get(srv, '/api/v1/performance/timeseries?range=24h&step=3600');
		const started = Number(await q(`SELECT hour FROM ${db}.rollup_hours_start`));
		const p = ts.series[0].points.find((x) => x.count > 0 && x.t_ms / HOUR_MS < started - 1 && x.t_ms > ts.from_ms);
		assert.ok(p, 'a whole hour before the hours began');
		const h = p.t_ms / HOUR_MS;
		// one more request of an existing key and bucket, in the hours only
		await ch.query(`INSERT INTO ${db}.rollup_hours SELECT hour, key, status, edge, 1, 0, 1, 0, 0, 0, min_ns, max_ns, [bucketsMap.bucket[1]], [toUInt64(1)] FROM ${db}.rollup_hours WHERE hour = ${h} AND edge = 1 LIMIT 1`);
		const again = await get(srv, '/api/v1/performance/timeseries?range=24h&step=3600');
		assert.equal(again.series[0].points.find((x) => x.t_ms === p.t_ms).count, p.count + 1, 'the hour read from rollup_hours');
		const minutes = await get(srv, `/api/v1/performance/summary?from=${p.t_ms}&to=${p.t_ms + HOUR_MS}`);
		assert.equal(minutes.count, p.count, 'the minutes unchanged');
	});

	test('retention drops the hours\' days with the minutes\'', async () => {
		const rdb = 'hourret', DAY_MS = 86_400_000;
		const r = await startServer({ args: ['--analysis-interval', '0', '--lease-seconds', '3', '--retention-minute-rollups', '7d',
			'--retention-hour-rollups', '7d', '--store', ch.storeUrl(rdb)] });
		try {
			await send(r, makeBodies(100, Date.now() - 10 * DAY_MS, Date.now() - 10 * DAY_MS + HOUR_MS, 13));
			await send(r, makeBodies(100, Date.now() - 2 * DAY_MS, Date.now() - 2 * DAY_MS + HOUR_MS, 14));
			const n = (table, t, cmp) => q(`SELECT sum(n) FROM ${rdb}.${table} WHERE ${t} ${cmp} ${Math.floor((Date.now() - 5 * DAY_MS) / 1000)}`);
			await waitFor('the old minutes dropped', async () => await n('rollups', 'minute * 60', '<') === '0', 30000);
			await waitFor('the old hours dropped', async () => await n('rollup_hours', 'hour * 3600', '<') === '0', 30000);
			assert.equal(await n('rollup_hours', 'hour * 3600', '>='), '100', 'the hours of 2 days ago stay');
			assert.equal(await n('rollups', 'minute * 60', '>='), '100', 'and their minutes');
		} finally {
			await r.dispose();
		}
	});
});
