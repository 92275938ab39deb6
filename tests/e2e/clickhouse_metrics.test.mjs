// clickhouse_metrics.test.mjs - metric series with the ClickHouse store
// (Debian's clickhouse-server, started privately by lib/clickhouse.mjs),
// side by side with the embedded store on the same OTLP metrics:
//  - the metrics list and queries over points answer the same (gauges
//    summed over series, rates of cumulative sums, histograms);
//  - over 30 days by the hour, the ClickHouse store answers from its hourly
//    aggregates (metric_hours, computed by the background lease's holder):
//    the same answer as the embedded store, and still the same once the
//    points of the past days are gone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { clickhouseSkip, getBoth, newClickHouse } from './lib/clickhouse.mjs';
import { startServer } from './lib/server.mjs';
import { getJson, sleep } from './lib/util.mjs';

const skip = clickhouseSkip();
const HOUR = 3_600_000;

const attr = (key, v) => ({ key, value: typeof v === 'number' ? { intValue: v } : { stringValue: v } });
const ns = (ms) => String(BigInt(ms) * 1_000_000n);

/** Points every 10 minutes over the 3 days before `end` (ms): heap per space, a CPU counter with a restart, a histogram. */
function metricsBody(end) {
	const heap = [], cpu = [], hist = [];
	let counter = 0;
	for (let t = end - 72 * HOUR, k = 0; t < end; t += 600_000, k++) {
		for (const space of ['new', 'old']) heap.push({ timeUnixNano: ns(t), asDouble: (space === 'old' ? 5e7 : 1e6) + (k % 7) * 1e5, attributes: [attr('v8js.heap.space.name', space)] });
		counter = k === 200 ? 3 : counter + 60 + (k % 5); // a restart at k = 200
		cpu.push({ timeUnixNano: ns(t), startTimeUnixNano: ns(end - 80 * HOUR), asDouble: counter, attributes: [attr('cpu.mode', 'user')] });
		hist.push({ timeUnixNano: ns(t), startTimeUnixNano: ns(t - 600_000), count: String(4 + (k % 3)), sum: 10 + k, explicitBounds: [1, 5, 10], bucketCounts: ['1', '1', String(1 + (k % 3)), '1'] });
	}
	return { resourceMetrics: [{ resource: { attributes: [attr('service.name', 'meter'), attr('service.instance.id', 'm-1')] },
		scopeMetrics: [{ metrics: [
			{ name: 'v8js.memory.heap.used', unit: 'By', gauge: { dataPoints: heap } },
			{ name: 'process.cpu.time', unit: 's', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: cpu } },
			{ name: 'http.server.request.duration', unit: 's', histogram: { aggregationTemporality: 1, dataPoints: hist } },
		] }] }] };
}

describe('metric series with the ClickHouse store', { skip, timeout: 300000 }, () => {
	let ch, embedded, clickhouse, end;
	before(async () => {
		ch = await newClickHouse();
		[embedded, clickhouse] = await Promise.all([
			startServer({ args: ['--analysis-interval', '0'] }),
			startServer({ args: ['--analysis-interval', '0', '--lease-seconds', '3', '--store', ch.storeUrl('meter')] }),
		]);
		end = Math.floor(Date.now() / HOUR) * HOUR - HOUR; // whole hours, the last one finished
		const body = JSON.stringify(metricsBody(end));
		for (const srv of [embedded, clickhouse]) {
			const r = await fetch(`${srv.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
			assert.equal(r.status, 200, await r.text());
		}
	});
	after(async () => {
		await Promise.all([embedded?.dispose(), clickhouse?.dispose()]);
		await ch?.stop();
	});

	const both = (p) => getBoth(embedded, clickhouse, p);
	const close = (c, e, what) => {
		assert.equal(c.lines.length, e.lines.length, `${what}: lines`);
		for (let i = 0; i < e.lines.length; i++) {
			const [x, y] = [e.lines[i].values, c.lines[i].values];
			assert.equal(y.length, x.length, `${what}: steps`);
			for (let k = 0; k < x.length; k++) {
				if (x[k] === null) assert.equal(y[k], null, `${what}: step ${k}`);
				else assert.ok(Math.abs(y[k] - x[k]) <= Math.abs(x[k]) * 1e-9, `${what}: step ${k}: clickhouse ${y[k]}, embedded ${x[k]}`);
			}
		}
	};

	test('points: the list and the queries answer the same', async () => {
		const w = `from=${end - 6 * HOUR}&to=${end}`;
		const [el, cl] = await both(`/api/v1/metrics?${w}`);
		assert.deepEqual(cl, el, 'the metrics list');
		for (const q of ['measure=heap&step=10m', 'name=process.cpu.time&agg=rate&step=30m', 'name=http.server.request.duration&agg=p90&step=30m',
			'name=v8js.memory.heap.used&agg=max&group_by=attr.v8js.heap.space.name&step=20m']) {
			const [e, c] = await both(`/api/v1/metrics/query?${w}&${q}`);
			assert.ok(e.points > 0, `${q}: points read`);
			assert.equal(c.points, e.points, `${q}: points`);
			close(c, e, q);
		}
	});

	test('30 days by the hour come from the hourly aggregates', async () => {
		const qs = ['measure=heap', 'name=process.cpu.time&agg=rate', 'name=v8js.memory.heap.used&agg=avg&group_by=attr.v8js.heap.space.name'];
		const w = `from=${end - 30 * 24 * HOUR}&to=${end}&step=1h`;
		// the holder computes the finished hours once it holds the lease
		const hours = async () => Number((await ch.query('SELECT count() FROM meter.metric_hours FINAL FORMAT TSV')).trim());
		for (let i = 0; i < 100 && (await hours()) < 3 * 72; i++) await sleep(200);
		assert.equal(await hours(), 3 * 72, 'an aggregate per series (heap 2, cpu 1) and hour');
		const answers = [];
		for (const q of qs) {
			const [e, c] = await both(`/api/v1/metrics/query?${w}&${q}`);
			close(c, e, q);
			answers.push(c);
		}
		// without the points of the past days, the hours still answer the same
		await ch.query(`ALTER TABLE meter.metric_points DELETE WHERE time_ns < ${BigInt(end) * 1_000_000n}`);
		for (let i = 0; i < 100 && Number((await ch.query('SELECT count() FROM meter.metric_points FORMAT TSV')).trim()) > 0; i++) await sleep(100);
		assert.equal((await ch.query('SELECT count() FROM meter.metric_points FORMAT TSV')).trim(), '0', 'the points are gone');
		for (let i = 0; i < qs.length; i++) {
			const r = await getJson(`${clickhouse.url}/api/v1/metrics/query?${w}&${qs[i]}`);
			assert.equal(r.status, 200, r.text);
			close(r.json, answers[i], `${qs[i]} from the hours alone`);
		}
	});
});
