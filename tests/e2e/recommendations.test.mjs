// recommendations.test.mjs - the ground truth of docs/DEMO.md through the
// API: three hours of demo history with the six planted problems must give
// a recommendation for each, attributed to the right service and subject,
// ranked above the noise; the same history without them gives no HIGH
// recommendation and none of the six.  Then the life of a recommendation
// (apply, dismiss with a reason, the audit trail, stable identity), the
// pattern pages it links to, and `hotpath report`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { hotpathBin, startServer } from './lib/server.mjs';
import { getJson } from './lib/util.mjs';

const run = promisify(execFile);

async function loadDemo(srv, extra = []) {
	await run(hotpathBin(), ['demo', '--target', srv.url, '--backfill', '3', '--duration', '1', '--quiet', ...extra],
		{ timeout: 240000 });
}

// The six expected findings: kind, and what the subject must say.
const expected = [
	['n-plus-one', { service: 'order-service', endpoint: 'GET /api/orders' }, /order_items/],
	['cacheable-calls', { service: 'support-agent', tool: 'database-query' }, /b41fd9b207dea436/],
	['pool-exhaustion', { service: 'inventory-service', environment: 'production' }, /inventory-db/],
	['version-regression', { service: 'pricing-service', endpoint: 'GET /api/prices/{sku}' }, /2\.5\.0 vs 2\.4\.0/],
	['sequential-calls', { service: 'checkout-service', endpoint: 'POST /api/checkout' }, /inventory-service.*pricing-service.*shipping-service/],
	['memory-growth', { service: 'code-agent' }, /process\.memory\.usage/],
];

function findOf(recs, kind, subject) {
	return recs.find((r) => r.finding.kind === kind &&
		Object.entries(subject).every(([k, v]) => r.finding.subject[k] === v));
}

describe('recommendations on demo data', { timeout: 600000 }, () => {
	let srv, clean;
	before(async () => {
		[srv, clean] = await Promise.all([startServer(), startServer()]);
		await Promise.all([loadDemo(srv), loadDemo(clean, ['--no-problems'])]);
	});
	after(() => Promise.all([srv?.dispose(), clean?.dispose()]));

	test('each planted problem is found, attributed and ranked above the noise', async () => {
		const r = await getJson(`${srv.url}/api/v1/recommendations?range=4h`);
		assert.equal(r.status, 200, r.text);
		const recs = r.json.recommendations;
		assert.ok(r.json.analysis.traces > 5000, `analysed ${r.json.analysis.traces} traces`);
		for (const [kind, subject, detail] of expected) {
			const rec = findOf(recs, kind, subject);
			assert.ok(rec, `${kind} ${JSON.stringify(subject)} in ${recs.map((x) => x.finding.kind).join(', ')}`);
			assert.match(rec.finding.subject.detail, detail);
			assert.equal(rec.status, 'open');
			assert.ok(rec.finding.recommendation.title && rec.finding.recommendation.evidence, 'title and evidence');
			if (kind === 'memory-growth') {
				// found in metrics, no trace shows it: the resources when it was last found, or why not
				assert.ok(rec.resources ? rec.resources.at_ms === rec.last_seen_ms : /code-agent/.test(rec.resources_reason),
					`memory growth: ${JSON.stringify([rec.resources, rec.resources_reason])}`);
				continue;
			}
			assert.ok(rec.finding.examples.length > 0, `${kind} links example traces`);
			const trace = await getJson(`${srv.url}/api/v1/traces/${rec.finding.examples[0]}`);
			assert.equal(trace.status, 200, `${kind}'s example trace exists`);
			// the demo's services send CPU, memory and pool metrics: the state when the example reached the service
			const own = trace.json.spans.filter((s) => s.service === subject.service).map((s) => Number(BigInt(s.start_ns) / 1000000n));
			assert.ok(rec.resources, `${kind}: resources (${rec.resources_reason})`);
			assert.equal(rec.resources.at_ms, Math.min(...own), `${kind}: at its first span of ${subject.service}`);
			assert.ok(Math.abs(rec.resources.time_ms - rec.resources.at_ms) <= 120000, `${kind}: a point within 2 minutes`);
			assert.ok(rec.resources.cpu_utilization > 0 && rec.resources.memory_bytes > 0, JSON.stringify(rec.resources));
			if (kind === 'pool-exhaustion') assert.ok(rec.resources.db_connections_max > 0, 'the pool\'s size');
		}
		// the cacheable call is the seed's high-impact example; planted problems outrank the rest
		assert.equal(findOf(recs, 'cacheable-calls', expected[1][1]).finding.priority, 'high');
		const rank = (x) => ({ high: 2, medium: 1, low: 0 })[x.finding.priority];
		const planted = expected.map(([k, s]) => findOf(recs, k, s));
		const noise = recs.filter((x) => !planted.includes(x));
		for (const n of noise) {
			assert.notEqual(n.finding.priority, 'high', `noise ranked HIGH: ${n.finding.recommendation.title}`);
		}
		assert.ok(Math.min(...planted.map(rank)) >= Math.max(-1, ...noise.map(rank)),
			'no noise above a planted problem');
	});

	test('without the problems: no HIGH recommendation and none of the six', async () => {
		const r = await getJson(`${clean.url}/api/v1/recommendations?range=4h`);
		assert.equal(r.status, 200, r.text);
		const recs = r.json.recommendations;
		assert.equal(recs.filter((x) => x.finding.priority === 'high').length, 0,
			recs.map((x) => x.finding.recommendation.title).join('; '));
		for (const [kind, subject] of expected) {
			assert.equal(findOf(recs, kind, subject), undefined, `${kind} reported without the problem`);
		}
	});

	test('status changes, audit trail and stable identity', async () => {
		const list = (await getJson(`${srv.url}/api/v1/recommendations?range=4h`)).json.recommendations;
		const rec = findOf(list, 'pool-exhaustion', expected[2][1]);
		const post = (id, body, headers = {}) => fetch(`${srv.url}/api/v1/recommendations/${id}/status`, {
			method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body,
		});
		let res = await post(rec.id, JSON.stringify({ status: 'dismissed' }));
		assert.equal(res.status, 400);
		assert.match((await res.json()).error.message, /reason/);
		res = await post(rec.id, '{"status": "verified"}');
		assert.equal(res.status, 400);
		res = await post(rec.id, 'not json');
		assert.equal(res.status, 400);
		res = await post('0000000000000000', '{"status": "applied"}');
		assert.equal(res.status, 404);
		res = await post(rec.id, JSON.stringify({ status: 'applied', reason: 'pool raised to 25' }), { 'x-hotpath-user': 'sre-on-call' });
		assert.equal(res.status, 200);
		assert.equal((await res.json()).status, 'applied');

		// a fresh analysis of the same data updates, and does not duplicate
		const again = await getJson(`${srv.url}/api/v1/recommendations?range=4h&refresh=1`);
		assert.equal(again.json.recommendations.length, list.length);
		const same = again.json.recommendations.find((x) => x.id === rec.id);
		assert.equal(same.status, 'applied', 'the state survives a new analysis');
		assert.equal(same.persists, false, 'the window began before the change: no verdict yet');

		const one = await getJson(`${srv.url}/api/v1/recommendations/${rec.id}`);
		assert.equal(one.status, 200);
		assert.equal(one.json.audit.length, 1);
		assert.deepEqual([one.json.audit[0].from, one.json.audit[0].to, one.json.audit[0].actor, one.json.audit[0].reason],
			['open', 'applied', 'sre-on-call', 'pool raised to 25']);
		// The same change in the audit trail of every action.
		const audit = await getJson(`${srv.url}/api/v1/audit?object=recommendation&object_id=${rec.id}`);
		assert.equal(audit.status, 200, audit.text);
		assert.equal(audit.json.entries.length, 1);
		const e = audit.json.entries[0];
		assert.deepEqual([e.actor, e.action, e.before.status, e.after.status, e.after.reason],
			['sre-on-call', 'status', 'open', 'applied', 'pool raised to 25']);

		const applied = await getJson(`${srv.url}/api/v1/recommendations?status=applied`);
		assert.deepEqual(applied.json.recommendations.map((x) => x.id), [rec.id]);
		const bad = await getJson(`${srv.url}/api/v1/recommendations?priority=urgent`);
		assert.equal(bad.status, 400);
	});

	test('each recommendation links a page that the server serves', async () => {
		const recs = (await getJson(`${srv.url}/api/v1/recommendations`)).json.recommendations;
		for (const doc of new Set(recs.map((x) => x.finding.doc))) {
			const res = await fetch(`${srv.url}${doc}`);
			assert.equal(res.status, 200, doc);
			assert.match(res.headers.get('content-type'), /markdown/);
			assert.match(await res.text(), /^# /);
		}
	});

	test('bottleneck #1 on the demo is a real wait, not a gateway merged with its own call', async () => {
		const j = (await getJson(`${srv.url}/api/v1/bottlenecks?range=4h&top=50`)).json;
		const first = j.bottlenecks[0];
		assert.equal(first.span_kind, 'client', `#1 ${first.component}`);
		assert.ok(['dependency', 'resource_contention'].includes(first.kind), first.kind);
		assert.notEqual(first.service, 'api-gateway', first.component);
		const gateway = j.bottlenecks.filter((b) => b.service === 'api-gateway' && b.span_kind === 'server');
		assert.ok(gateway.every((b) => b.self_avg_ms < 10 && b.share < 0.01),
			`the gateway's own time is small: ${JSON.stringify(gateway.map((b) => [b.name, b.self_avg_ms, b.share]))}`);
		const shares = j.bottlenecks.reduce((a, b) => a + b.share, 0);
		assert.ok(shares <= 1 + 1e-9, `shares do not overlap: ${shares}`);
		// a call's answer is charged to the call: every SERVER row is the edge's own
		const servers = j.bottlenecks.filter((b) => b.span_kind === 'server').map((b) => b.component);
		assert.ok(servers.every((c) => c.startsWith('api-gateway: ')), servers.join(', '));
		assert.ok(j.bottlenecks.some((b) => b.service === 'api-gateway' && b.span_kind === 'client' && b.target === 'code-agent'),
			'the gateway\'s call names the agent that answered');
		if (j.aggregated) { // the rankings kept per five minutes: every request of the range
			assert.equal(j.sampled, false);
			assert.ok(j.matched > 10000 && j.requests_in_range >= j.matched, `${j.requests_in_range} >= ${j.matched}`);
		} else { // still catching up after the start: a sample of whole traces
			assert.ok(j.sampled, 'the demo has more requests than the default limit');
			assert.ok(j.requests_in_range > j.matched, `${j.requests_in_range} > ${j.matched}`);
		}
		const hours = (j.covered_to_ms - j.covered_from_ms) / 3600000;
		assert.ok(hours > 2.5, `the sample spans the history, not its newest minutes: ${hours.toFixed(2)} h`);
	});

	test('hotpath report: KPIs, bottlenecks and the recommendations by priority', async () => {
		const { stdout } = await run(hotpathBin(), ['report', '--server', srv.url, '--range', '4h'], { timeout: 120000 });
		assert.match(stdout, /^# Performance report/);
		// from the aggregates every request, or (still catching up after the start) a sample
		assert.match(stdout, /A sample: \d+ of the \d+ requests in the last 4h were read \(limit 10000\), whole traces|Every request of the last 4h was read/);
		const all = await run(hotpathBin(), ['report', '--server', srv.url, '--range', '4h', '--limit', '100000'],
			{ timeout: 120000 });
		assert.match(all.stdout, /Every request of the last 4h was read/);
		assert.match(stdout, /\| Latency p95 \| [0-9.]+ ms \| 1000\.0 ms \|/);
		assert.match(stdout, /### High priority/);
		assert.match(stdout, /Cache the result of tool database-query/);
		assert.ok(stdout.indexOf('### High priority') < stdout.indexOf('### Medium priority'));
		const text = await run(hotpathBin(), ['report', '--server', srv.url, '--format', 'text', '--range', '4h']);
		assert.doesNotMatch(text.stdout, /\*\*|\|/);
		await assert.rejects(run(hotpathBin(), ['report', '--server', 'http://127.0.0.1:1']), /report/);
	});
});
