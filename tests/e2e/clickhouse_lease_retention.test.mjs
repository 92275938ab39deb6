// clickhouse_lease_retention.test.mjs - the holder's own work on its lease
// thread (retention's drops of day partitions) checks the lease at each
// statement, not once per renewal (docs/SCALING.md, "Each write checks the
// lease"), on a real clickhouse-server started privately by
// lib/clickhouse.mjs.
//
// Instance A holds the lease (3 s) and keeps spans and request rows 7
// days; it reaches ClickHouse through a proxy in this test that watches
// its statements.  Instance B, on the same database directly, keeps them
// ten years, so it drops nothing.  Request rows over 60 old days (a
// partition each) make A's next retention step drop partition after
// partition.  Once A dropped one, the proxy stops A (SIGSTOP) as it reads
// before its next drop, for longer than its lease; B takes the lease over;
// A goes on (SIGCONT) in the middle of its step.  A holder checking only at its renewal would
// send the rest of its drops; here A sends none and logs why.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';

import { clickhouseSkip, newClickHouse } from './lib/clickhouse.mjs';
import { startServer } from './lib/server.mjs';
import { jsonTraceRequest, makeTrace, nowNs, postOtlpJson, sleep, waitFor } from './lib/util.mjs';

const skip = clickhouseSkip();
const LEASE_S = 3;
const DAYS = 60;
const DAY = 86_400_000_000_000n;

async function held(srv) {
	const text = await (await fetch(`${srv.url}/metrics`)).text();
	const m = text.match(/^hotpath_background_lease_held (\d+)$/m);
	return m ? Number(m[1]) : NaN;
}

/** A TCP proxy to `port` that shows each chunk the client sends to `watch`. */
function proxy(port, watch) {
	const server = net.createServer((c) => {
		const up = net.connect(port, '127.0.0.1');
		c.on('data', (d) => {
			watch(d.toString('latin1'));
			up.write(d);
		});
		up.on('data', (d) => c.write(d));
		for (const [x, y] of [[c, up], [up, c]]) {
			x.on('error', () => y.destroy());
			x.on('close', () => y.destroy());
		}
	});
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('the lease checked at each statement of retention', { skip, timeout: 300000 }, () => {
	test('a holder stopped mid-step past its lease drops nothing more', async () => {
		const ch = await newClickHouse();
		const db = 'leaser';
		let a = null, b = null, stopped = false, armed = false, drops = 0, dropsAtStop = -1;
		const px = await proxy(ch.httpPort, (text) => {
			if (/DROP PARTITION/.test(text)) drops++;
			// once A's step has dropped a partition, A stands still as it counts
			// the next day's request rows (a read): its next statement is a drop
			if (armed && !stopped && drops && /SELECT count\(\) FROM requests WHERE/.test(text)) {
				a.child.kill('SIGSTOP');
				stopped = true;
				dropsAtStop = drops;
			}
		});
		const common = ['--analysis-interval', '0', '--lease-seconds', String(LEASE_S), '--spike-interval', '3600',
			'--change-interval', '3600', '--watch-interval', '3600'];
		try {
			a = await startServer({ args: [...common, '--retention-spans', '7d', '--retention-requests', '7d',
				'--store', `clickhouse://127.0.0.1:${px.address().port}/${db}`] });
			await waitFor('A holds the lease', async () => (await held(a)) === 1, 20000);
			b = await startServer({ args: [...common, '--retention-spans', '3650d', '--retention-requests', '3650d',
				'--store', ch.storeUrl(db)] });
			const days = async () => Number((await ch.query(
				`SELECT uniqExact(partition) FROM system.parts WHERE database = '${db}' AND table = 'requests' AND active FORMAT TSV`)).trim());

			// one request a day, 10 to 69 days ago, written by B: A's next step drops them
			armed = true;
			const now = nowNs(), spans = [];
			for (let d = 0; d < DAYS; d++) spans.push(...makeTrace({ name: 'GET /old', endNs: now - BigInt(10 + d) * DAY }).spans);
			await postOtlpJson(b.url, jsonTraceRequest([{ attrs: { 'service.name': 'leaser' }, spans }]));
			await waitFor('A stopped in the middle of its step', async () => stopped, 20000);
			await sleep(1000); // the drop A sent lands
			const atStop = await days();
			assert.ok(atStop > 0, `A's step had days left to drop (${atStop} of ${DAYS})`);

			await waitFor('B takes the lease over', async () => (await held(b)) === 1, 20000);
			a.child.kill('SIGCONT');
			stopped = false;
			armed = false;
			await sleep(3 * LEASE_S * 1000); // the rest of A's step, and more rounds
			assert.equal(drops, dropsAtStop, 'A sent no drop after the lease passed to B');
			assert.equal(await days(), atStop, 'no day of request rows dropped after the lease passed');
			assert.match(a.output, /clickhouse retention: \S+ no longer holds the background lease/, 'the drop refused, and why');
			assert.equal(await held(a), 0, 'A knows it does not hold the lease');
			assert.equal(await held(b), 1, 'B holds it');
		} finally {
			if (stopped) a.child.kill('SIGCONT');
			await Promise.all([a?.dispose(), b?.dispose()]);
			px.close();
			await ch.stop();
		}
	});
});
