// slo_exact.test.mjs - latency objectives and slow-count rules at thresholds
// that are not the rollups' tier bounds (300 ms, 750 ms), counted exactly.
//
// Requests of known durations are sent before the SLO exists (its counts are
// back-filled from the request rows) and after (the evaluator counts them as
// they come); the SLO's good and total requests equal the counts of the
// requests sent, to the request, and so does a slow-count rule of 750 ms.  A
// restart keeps the counts.  Runs against either store (HOTPATH_STORE).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startServer } from './lib/server.mjs';
import { apiCall, getJson, nowNs, sleep, spanId, traceId } from './lib/util.mjs';

/** One-span requests of `service`, one per duration (ms), ending now. */
function requests(service, durations) {
	const end = nowNs();
	const spans = durations.map((ms) => ({
		traceId: traceId(), spanId: spanId(), name: 'GET /cart', kind: 2,
		startTimeUnixNano: String(end - BigInt(ms) * 1_000_000n), endTimeUnixNano: String(end),
		attributes: [{ key: 'http.route', value: { stringValue: '/cart' } }],
		status: { code: 1 },
	}));
	return {
		resourceSpans: [{
			resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
			scopeSpans: [{ scope: { name: 'slo-exact-e2e' }, spans }],
		}],
	};
}

async function send(srv, service, durations) {
	const res = await fetch(`${srv.url}/v1/traces`, {
		method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(requests(service, durations)),
	});
	assert.equal(res.status, 200, await res.text());
}


async function waitFor(what, fn, ms = 30000) {
	const t0 = Date.now();
	let last;
	for (;;) {
		last = await fn();
		if (last?.ok) return last;
		if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
		await sleep(250);
	}
}

// Durations around both thresholds: 299 and 749 are faster, 300 and 750 are not.
const first = [10, 120, 299, 300, 301, 480, 520, 749, 750, 751, 1200, 2100];
const later = [50, 299, 300, 700, 749, 750, 760, 900];
const faster = (list, ms) => list.filter((d) => d < ms).length;

async function sloStatus(srv, id) {
	const r = await getJson(`${srv.url}/api/v1/slos/${id}`);
	return r.json.status;
}

describe('exact counts at any latency threshold', () => {
	let srv;
	before(async () => {
		srv = await startServer({ args: ['--watch-interval', '1'] });
	});
	after(async () => {
		await srv?.stop();
	});

	test('an SLO of 300 ms counts the requests before it (back-fill) and after it, exactly', async () => {
		await send(srv, 'cart', first);
		let r = await apiCall(srv, 'POST', '/api/v1/slos', { id: 'cart-300', kind: 'latency', objective: 95, threshold_ms: 300, window: '7d', filters: { service: 'cart' } });
		assert.equal(r.status, 201, r.text);
		assert.equal(r.json.threshold_ms, 300);
		let st = await waitFor('the back-filled counts', async () => {
			const s = await sloStatus(srv, 'cart-300');
			return { ok: s.total === first.length, ...s };
		});
		assert.equal(st.good, faster(first, 300), 'good: the requests under 300 ms');
		assert.ok(st.exact_since_ms > 0 && st.exact_since_ms <= Date.now() - 3600e3, `exact since ${st.exact_since_ms}`);
		assert.equal(st.budget.consumed, first.length - faster(first, 300));

		await send(srv, 'cart', later);
		const all = [...first, ...later];
		st = await waitFor('the requests sent after', async () => {
			const s = await sloStatus(srv, 'cart-300');
			return { ok: s.total === all.length, ...s };
		});
		assert.equal(st.good, faster(all, 300));
		const list = (await getJson(`${srv.url}/api/v1/slos`)).json.slos.find((s) => s.id === 'cart-300');
		assert.equal(list.status.good, faster(all, 300), 'the list reads the same counts');
		assert.equal(list.status.exact_since_ms, st.exact_since_ms);
		const burn = (await getJson(`${srv.url}/api/v1/slos/cart-300/burndown`)).json;
		const sum = (burn.points ?? []).reduce((a, p) => a + (p.total ?? 0), 0);
		assert.equal(sum, all.length, `the burn-down counts every request: ${JSON.stringify(burn).slice(0, 300)}`);
	});

	test('a tier-bound SLO has no exact_since_ms; a bad threshold is refused', async () => {
		let r = await apiCall(srv, 'POST', '/api/v1/slos', { id: 'cart-500', kind: 'latency', objective: 95, threshold_ms: 500, filters: { service: 'cart' } });
		assert.equal(r.status, 201, r.text);
		const st = await sloStatus(srv, 'cart-500');
		assert.equal(st.exact_since_ms, undefined);
		r = await apiCall(srv, 'POST', '/api/v1/slos', { kind: 'latency', objective: 95, threshold_ms: 3600001 });
		assert.equal(r.status, 400);
		assert.match(r.json.error.message, /threshold_ms/);
	});

	test('a slow-count rule of 750 ms fires on the exact count', async () => {
		const all = [...first, ...later];
		const slow = all.length - faster(all, 750);
		let r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', { id: 'cart-slow', measure: 'slow_count', slow_ms: 750, comparison: '>=', threshold: slow, window: '1h', filters: { service: 'cart' } });
		assert.equal(r.status, 201, r.text);
		assert.equal(r.json.slow_ms, 750);
		const al = await waitFor('the rule firing', async () => {
			const a = (await getJson(`${srv.url}/api/v1/alerts/rule:cart-slow`)).json;
			return { ok: a?.state === 'firing', ...a };
		});
		assert.equal(al.value, slow, `the requests at 750 ms or more: ${al.message}`);
		r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', { measure: 'p95', slow_ms: 750, threshold: 1 });
		assert.equal(r.status, 400);
		assert.match(r.json.error.message, /slow_ms/);
	});

	test('a restart keeps the counts', async () => {
		await srv.stop();
		srv = await startServer({ dataDir: srv.dataDir, args: ['--watch-interval', '1'] });
		const all = [...first, ...later];
		const st = await waitFor('the counts after the restart', async () => {
			const s = await sloStatus(srv, 'cart-300');
			return { ok: s.total === all.length, ...s };
		});
		assert.equal(st.good, faster(all, 300));
	});
});
