// clickhouse_lease.test.mjs - two hotpath instances on one ClickHouse
// database (Debian's clickhouse-server, started privately by
// lib/clickhouse.mjs):
//  - exactly one holds the background lease (hotpath_background_lease_held
//    in /metrics), never both at once;
//  - block ids written through both never repeat and carry each writer's
//    slot;
//  - both answer the same queries;
//  - the holder killed (SIGKILL), the other takes the lease over within
//    a few lease periods, and answers as before.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { clickhouseSkip, newClickHouse } from './lib/clickhouse.mjs';
import { startServer } from './lib/server.mjs';
import { fetchTrace, getJson, jsonTraceRequest, makeTrace, postOtlpJson, sleep } from './lib/util.mjs';

const skip = clickhouseSkip();
const LEASE_S = 3;

async function held(srv) {
	const text = await (await fetch(`${srv.url}/metrics`)).text();
	const m = text.match(/^hotpath_background_lease_held (\d+)$/m);
	assert.ok(m, 'the metric is there');
	return Number(m[1]);
}

/** Poll until `fn` is true, at most `ms`; how long it took, or null. */
async function until(fn, ms) {
	const t0 = Date.now();
	while (Date.now() - t0 < ms) {
		if (await fn()) return Date.now() - t0;
		await sleep(100);
	}
	return null;
}

function traces(n, service) {
	const ids = [], spans = [];
	for (let i = 0; i < n; i++) {
		const t = makeTrace({ name: `GET /${service}`, children: 2 });
		ids.push(t.traceId);
		spans.push(...t.spans);
	}
	return { ids, body: jsonTraceRequest([{ attrs: { 'service.name': service }, spans }]) };
}

const TO = Date.now() + 3600_000, FROM = TO - 3 * 3600_000, W = `from=${FROM}&to=${TO}`;
const QUERIES = [`/api/v1/performance/summary?${W}`, `/api/v1/filters?${W}`, `/api/v1/traces?${W}&limit=500`,
	`/api/v1/performance/timeseries?${W}&group_by=service`];

describe('the background lease among instances on one ClickHouse', { skip, timeout: 300000 }, () => {
	test('one holder at a time, unique block ids, the same answers, a takeover when the holder dies', async () => {
		const ch = await newClickHouse();
		const args = ['--analysis-interval', '0', '--lease-seconds', String(LEASE_S), '--store', ch.storeUrl('lease')];
		const [a, b] = await Promise.all([startServer({ args }), startServer({ args })]);
		try {
			const one = await until(async () => (await held(a)) + (await held(b)) === 1, 4 * LEASE_S * 1000);
			assert.ok(one !== null, 'one instance holds the lease');
			for (let i = 0; i < 20; i++) { // never both, while both run
				assert.ok((await held(a)) + (await held(b)) <= 1, 'never two holders');
				await sleep(150);
			}

			const acked = [];
			for (let i = 0; i < 10; i++) {
				const { ids, body } = traces(5, i % 2 ? 'left' : 'right');
				await postOtlpJson((i % 2 ? a : b).url, body);
				acked.push(...ids);
			}
			const [n, uniq, slots] = (await ch.query('SELECT count(), uniqExact(id), uniqExact(id % 16) FROM lease.blocks FORMAT TSV')).trim().split('\t').map(Number);
			assert.equal(uniq, n, `block ids never repeat: ${n} blocks, ${uniq} ids`);
			assert.equal(slots, 2, 'each instance writes with its own slot');

			const answers = async (srv) => Promise.all(QUERIES.map(async (p) => {
				const r = await getJson(`${srv.url}${p}`);
				assert.equal(r.status, 200, `${p}: ${r.text.slice(0, 200)}`);
				return r.json;
			}));
			const [fromA, fromB] = await Promise.all([answers(a), answers(b)]);
			assert.deepEqual(fromB, fromA, 'both instances answer the same');
			assert.equal(fromA[0].count, acked.length, 'every request written through either is counted');

			const [holder, other] = (await held(a)) ? [a, b] : [b, a];
			await holder.kill();
			const took = await until(async () => (await held(other)) === 1, 6 * LEASE_S * 1000);
			assert.ok(took !== null, `the other instance takes the lease over\n${other.logs()}`);
			assert.ok(took >= 1000, `not before the dead holder's lease has run out (${took} ms)`);
			const after = await answers(other);
			assert.deepEqual(after, fromA, 'the survivor answers as both did');
			for (const id of acked.slice(0, 10)) assert.equal((await fetchTrace(other, id))?.length, 3, `trace ${id}`);
			const holders = (await ch.query("SELECT uniqExact(holder) FROM lease.leases WHERE name = 'background' FORMAT TSV")).trim();
			assert.equal(holders, '2', 'two holders in turn');
		} finally {
			await Promise.all([a.dispose(), b.dispose()]);
			await ch.stop();
		}
	});
});
