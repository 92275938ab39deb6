// clickhouse_lease_writes.test.mjs - a job of the background lease's holder
// checks the lease at each write, not only at the start of its cycle
// (docs/SCALING.md, "Each write checks the lease"), on a real
// clickhouse-server started privately by lib/clickhouse.mjs.
//
// Instance A holds the lease (3 s) and evaluates alerts every second;
// instance B on the same database evaluates none.  100 alert rules fire
// in one evaluation cycle of A, which then writes each alert's state and
// its audit entries (a few hundred inserts).  Once the first alert is
// stored, A is stopped (SIGSTOP) for longer than its lease, so that B
// takes the lease over; then A goes on (SIGCONT) in the middle of its
// cycle.  A stale holder checking only at the start of the cycle writes
// the rest of the alerts; here A writes none of them and logs why.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { clickhouseSkip, newClickHouse } from './lib/clickhouse.mjs';
import { startServer } from './lib/server.mjs';
import { apiCall, jsonTraceRequest, makeTrace, postOtlpJson, sleep, waitFor } from './lib/util.mjs';

const skip = clickhouseSkip();
const LEASE_S = 3;
const RULES = 100;

async function held(srv) {
	const text = await (await fetch(`${srv.url}/metrics`)).text();
	const m = text.match(/^hotpath_background_lease_held (\d+)$/m);
	return m ? Number(m[1]) : NaN;
}

describe('the lease checked at each write of a job', { skip, timeout: 300000 }, () => {
	test('a holder stopped mid-cycle past its lease writes nothing more of that cycle', async () => {
		const ch = await newClickHouse();
		const db = 'leasew';
		const common = ['--analysis-interval', '0', '--lease-seconds', String(LEASE_S), '--spike-interval', '3600',
			'--change-interval', '3600', '--store', ch.storeUrl(db)];
		const a = await startServer({ args: [...common, '--watch-interval', '1'] });
		let b = null, stopped = false;
		try {
			await waitFor('A holds the lease', async () => (await held(a)) === 1, 20000);
			b = await startServer({ args: [...common, '--watch-interval', '3600'] });
			for (let i = 0; i < RULES; i++) {
				const r = await apiCall(a, 'POST', '/api/v1/alerts/rules', {
					id: `r${i}`, name: `rule ${i}`, measure: 'p95', comparison: '>=', threshold: 0, window: 60,
					min_requests: 1, severity: 'info', filters: { service: 'leasew' },
				});
				assert.equal(r.status, 201, r.text);
			}
			const alerts = async () => Number((await ch.query(`SELECT uniqExact(id) FROM ${db}.docs WHERE kind = 'alert' FORMAT TSV`)).trim());
			assert.equal(await alerts(), 0, 'no alert before there are requests');

			// requests: every rule fires at A's next cycle
			const spans = [];
			for (let i = 0; i < 5; i++) spans.push(...makeTrace({ name: 'GET /w' }).spans);
			await postOtlpJson(a.url, jsonTraceRequest([{ attrs: { 'service.name': 'leasew' }, spans }]));
			await waitFor('the first alert stored', async () => (await alerts()) > 0, 20000);
			a.child.kill('SIGSTOP');
			stopped = true;
			await sleep(1000); // what A had sent before it stopped lands
			const atStop = await alerts();
			assert.ok(atStop < RULES, `A was stopped in the middle of its cycle (${atStop} of ${RULES} alerts stored)`);

			await waitFor('B takes the lease over', async () => (await held(b)) === 1, 20000);
			a.child.kill('SIGCONT');
			stopped = false;
			await sleep(3 * LEASE_S * 1000); // the rest of A's cycle, and more cycles
			assert.equal(await alerts(), atStop, 'A stored no alert after the lease passed to B');
			await waitFor('A says its writes are refused', async () => /background lease lost during a job/.test(a.output), 20000)
				.catch((e) => { throw new Error(`${e.message}; alerts ${atStop}\n${a.logs()}`); });
			assert.match(a.output, /document alert not written: \S+ no longer holds the background lease/, 'the first write refused, and why');
			assert.equal(await held(a), 0, 'A knows it does not hold the lease');
			assert.equal(await held(b), 1, 'B holds it');
			assert.match(a.output, /background lease lost during a job: \d+ of its writes skipped/, 'the skipped writes counted in the log');
		} finally {
			if (stopped) a.child.kill('SIGCONT');
			await Promise.all([a.dispose(), b?.dispose()]);
			await ch.stop();
		}
	});
});
