// changes.test.mjs - change over time end to end: a service switches from
// version 1.0.0 to 1.1.0, whose requests take 30 % longer, half-way
// through the last hour.  Against a real server fed OTLP/JSON, the test
// checks that the deployment is listed (recorded through the API and
// detected), that the regression timeline finds a p95 change point at the
// switch naming 1.1.0, that the version comparison calls 1.1.0 slower with
// an interval around +30 %, that the gate fails it (API and `hotpath gate`
// exit status) and passes an equal pair, and that flags and dismissals
// leave an audit trail.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { hotpathBin, startServer } from './lib/server.mjs';
import { getJson, jsonTraceRequest, postOtlpJson, spanId, traceId } from './lib/util.mjs';
import { gaussian, rng } from './lib/random.mjs';

const MIN_NS = 60_000_000_000n;
const MINUTES = 50;	// of history
const SWITCH = 25;	// minutes ago the new version takes over
const PER_MIN = 60;

/** Requests of `shop` (production) and of `steady` (no change), by minute. */
function generate(baseNs) {
	const rand = rng(17);
	const gauss = () => gaussian(rand);
	const out = { shop: { '1.0.0': [], '1.1.0': [] }, steady: { '7.0.0': [], '7.0.1': [] } };
	for (let m = 0; m < MINUTES; m++) {
		const newer = m >= MINUTES - SWITCH;
		for (let i = 0; i < PER_MIN; i++) {
			const start = baseNs + BigInt(m) * MIN_NS + BigInt(Math.floor((i + 0.5) * 1e9 * 60 / PER_MIN));
			const ms = 100 * Math.exp(0.3 * gauss()) * (newer ? 1.3 : 1);
			out.shop[newer ? '1.1.0' : '1.0.0'].push({ start, durNs: Math.round(ms * 1e6) });
			// steady: both versions side by side, the same distribution
			const sms = 50 * Math.exp(0.3 * gauss());
			out.steady[i % 2 ? '7.0.1' : '7.0.0'].push({ start, durNs: Math.round(sms * 1e6) });
		}
	}
	return out;
}

function body(service, version, reqs) {
	return jsonTraceRequest([{
		attrs: { 'service.name': service, 'deployment.environment.name': 'production', 'service.version': version },
		spans: reqs.map((r) => ({
			traceId: traceId(), spanId: spanId(), name: 'GET /api/items', kind: 2, start: r.start,
			end: r.start + BigInt(r.durNs), attrs: { 'http.request.method': 'GET', 'http.route': '/api/items' },
		})),
	}]);
}

describe('change over time', () => {
	let srv, switchMs, weekHourMs;
	const api = async (path, params = {}) => {
		const r = await getJson(`${srv.url}${path}?${new URLSearchParams({ range: '1h', ...params })}`);
		assert.equal(r.status, 200, `${path} ${JSON.stringify(params)}: ${r.text.slice(0, 500)}`);
		return r.json;
	};
	const post = async (path, obj) => {
		const res = await fetch(`${srv.url}${path}`, { method: 'POST', body: typeof obj === 'string' ? obj : JSON.stringify(obj) });
		return { status: res.status, json: await res.json() };
	};

	before(async () => {
		srv = await startServer({ args: ['--analysis-interval', '0'] });
		const nowNs = BigInt(Date.now()) * 1_000_000n;
		const baseNs = (nowNs - BigInt(MINUTES + 2) * MIN_NS) / MIN_NS * MIN_NS;
		switchMs = Number((baseNs + BigInt(MINUTES - SWITCH) * MIN_NS) / 1_000_000n);
		const data = generate(baseNs);
		// weekly: the same version, 30 % slower in the previous clock hour
		// than in the same hour a week ago
		const week = [];
		const hourStart = (nowNs / (60n * MIN_NS) - 1n) * 60n * MIN_NS;
		weekHourMs = Number(hourStart / 1_000_000n);
		for (const [ago, scale] of [[7n * 24n * 60n * MIN_NS, 1], [0n, 1.3]]) {
			for (let i = 0; i < 60; i++) week.push({ start: hourStart - ago + 10n * MIN_NS + BigInt(i) * 30_000_000_000n, durNs: Math.round(100e6 * scale * (1 + (i % 10) / 100)) });
		}
		await postOtlpJson(srv.url, body('weekly', '3.0.0', week));
		for (const [service, versions] of Object.entries(data)) {
			for (const [version, reqs] of Object.entries(versions)) await postOtlpJson(srv.url, body(service, version, reqs));
		}
	});
	after(() => srv?.dispose());

	test('a deployment is recorded through the API, and bad ones are refused', async () => {
		const r = await post('/api/v1/deployments', {
			service: 'shop', version: '1.1.0', env: 'production', time: switchMs, commit: 'abc123', link: 'https://ci.example/1',
		});
		assert.equal(r.status, 201, JSON.stringify(r.json));
		const bad = await post('/api/v1/deployments', { service: 'shop' });
		assert.equal(bad.status, 400);
		assert.match(bad.json.error.message, /version/);
		const notJson = await post('/api/v1/deployments', '{"service":');
		assert.equal(notJson.status, 400);
		const d = await api('/api/v1/deployments', { service: 'shop' });
		const v11 = d.deployments.filter((x) => x.version === '1.1.0');
		assert.equal(v11.length, 1, `recorded and detected 1.1.0 are one: ${JSON.stringify(d.deployments)}`);
		assert.equal(v11[0].commit, 'abc123');
		assert.equal(v11[0].time_ms, switchMs);
		const only = await api('/api/v1/deployments', { service: 'shop', version: '1.0.0' });
		assert.deepEqual(only.deployments.map((x) => x.version), ['1.0.0'], 'filtered by version');
		const v10 = d.deployments.find((x) => x.version === '1.0.0');
		assert.ok(v10 && v10.source === 'detected', `1.0.0's first appearance is detected: ${JSON.stringify(d.deployments)}`);
	});

	test('the regression timeline finds the p95 change at the switch and names the version', async () => {
		const t = await api('/api/v1/regressions', { service: 'shop' });
		const p95 = t.changes.filter((c) => c.measure === 'p95_ms' && c.endpoint === null);
		assert.equal(p95.length, 1, JSON.stringify(t.changes));
		const c = p95[0];
		assert.equal(c.direction, 'worse');
		assert.ok(Math.abs(c.t_ms - switchMs) <= 3 * 60_000, `change at ${c.t_ms}, switch at ${switchMs}`);
		assert.ok(c.rel_change > 0.15 && c.rel_change < 0.45, `relative change ${c.rel_change}`);
		assert.equal(c.deployment?.version, '1.1.0');
		const steady = await api('/api/v1/regressions', { service: 'steady' });
		assert.equal(steady.changes.length, 0, `no change in a steady service: ${JSON.stringify(steady.changes)}`);
		assert.equal(steady.versions.length, 0, `its two versions are alike: ${JSON.stringify(steady.versions)}`);
		const v = t.versions.find((x) => x.endpoint === null);
		assert.deepEqual([v?.baseline, v?.candidate, v?.gate], ['1.0.0', '1.1.0', 'fail'], JSON.stringify(t.versions));
		const flagged = await post('/api/v1/regressions', { service: 'shop', candidate: '1.1.0' });
		assert.equal(flagged.json.id, v.id, 'a version\'s regression flagged by hand takes its id');
	});

	test('a regression without a version change: the last hour against the same hour a week before', async () => {
		const t = await api('/api/v1/regressions', { service: 'weekly', range: '2h' });
		assert.equal(t.time_based.length, 2, JSON.stringify(t.time_based)); // the service and its endpoint
		const w = t.time_based.find((r) => r.endpoint === null);
		assert.equal(w.kind, 'week_over_week');
		assert.equal(w.hours, 1);
		assert.equal(w.t_ms, weekHourMs, 'the previous clock hour');
		assert.ok(Math.abs(w.rel_change - 0.3) < 0.05, `relative change ${w.rel_change}`);
		assert.equal(w.count, 60);
		assert.equal(w.count_week_before, 60);
		const steady = await api('/api/v1/regressions', { service: 'steady', range: '2h' });
		assert.equal(steady.time_based.length, 0);
	});

	test('the comparison calls 1.1.0 slower at p95 by about 30 %', async () => {
		const c = await api('/api/v1/versions/compare', { service: 'shop', candidate: '1.1.0', baseline: '1.0.0' });
		assert.equal(c.verdict, 'slower');
		assert.ok(c.p95_change.lo > 0.1 && c.p95_change.hi < 0.6 && c.p95_change.lo < c.p95_change.hi, JSON.stringify(c.p95_change));
		assert.match(c.summary, /^1\.1\.0 is slower than 1\.0\.0 at p95 by \d+ %/);
		assert.equal(c.candidate.count, SWITCH * PER_MIN);
		const same = await api('/api/v1/versions/compare', { service: 'steady', candidate: '7.0.1', baseline: '7.0.0' });
		assert.equal(same.verdict, 'same', same.summary);
	});

	test('the gate fails the slower version and passes the equal one, in the API and the CLI', async () => {
		const g = await api('/api/v1/versions/gate', { service: 'shop', candidate: '1.1.0', baseline: '1.0.0', max_p95_increase: '10%' });
		assert.equal(g.status, 'fail');
		assert.equal(g.pass, false);
		const loose = await api('/api/v1/versions/gate', { service: 'shop', candidate: '1.1.0', baseline: '1.0.0', max_p95_increase: '80%' });
		assert.equal(loose.status, 'pass');
		const bad = await getJson(`${srv.url}/api/v1/versions/gate?service=shop&candidate=1.1.0&baseline=1.0.0&max_p95_increase=ten`);
		assert.equal(bad.status, 400);
		const run = promisify(execFile);
		const args = ['gate', '--server', srv.url, '--service', 'shop', '--candidate', '1.1.0', '--baseline', '1.0.0', '--range', '1h'];
		await assert.rejects(run(hotpathBin(), args), (e) => e.code === 1 && /^fail/.test(e.stdout));
		const ok = await run(hotpathBin(), ['gate', '--server', srv.url, '--service', 'steady', '--candidate', '7.0.1', '--baseline', '7.0.0', '--range', '1h']);
		assert.match(ok.stdout, /^pass/);
		await assert.rejects(run(hotpathBin(), [...args.slice(0, 5), '--candidate', '9.9.9', '--baseline', '1.0.0', '--range', '1h']),
			(e) => e.code === 3 && /^inconclusive/.test(e.stdout));
	});

	test('a regression is flagged by hand, dismissed as a false positive, and both are audited', async () => {
		const f = await post('/api/v1/regressions', { service: 'steady', measure: 'p95_ms', t_ms: switchMs, note: 'looks slow' });
		assert.equal(f.status, 201, JSON.stringify(f.json));
		const id = f.json.id;
		const d = await post('/api/v1/regressions/dismiss', { id, note: 'load test' });
		assert.equal(d.status, 200);
		const audit = await api('/api/v1/regressions/audit', { id });
		assert.deepEqual(audit.events.map((e) => e.event.action), ['dismiss', 'flag']);
		const badMeasure = await post('/api/v1/regressions', { service: 'steady', measure: 'p42' });
		assert.equal(badMeasure.status, 400);
		// the timeline shows the state of a change point flagged, then dismissed
		const found = (await api('/api/v1/regressions', { service: 'shop' })).changes.find((c) => c.measure === 'p95_ms' && !c.endpoint);
		assert.equal(found.state, null);
		const flagged = await post('/api/v1/regressions', { service: 'shop', measure: 'p95_ms', t_ms: found.t_ms });
		assert.equal(flagged.json.id, found.id, 'a flag by hand takes the id the timeline gives');
		assert.equal((await api('/api/v1/regressions', { service: 'shop' })).changes.find((c) => c.id === found.id).state, 'flagged');
		await post('/api/v1/regressions/dismiss', { id: found.id });
		assert.equal((await api('/api/v1/regressions', { service: 'shop' })).changes.find((c) => c.id === found.id).state, 'dismissed');
	});
});

// The demo plants a version regression (docs/DEMO.md, F4): pricing-service
// 2.5.0 serves GET /api/prices/{sku} about 30 % slower than 2.4.0, both
// versions side by side.  The comparison and the gate must find it from the
// demo's own traffic, and pass its equal endpoint POST /api/prices/quote.
describe('the demo\'s version regression', () => {
	let srv;
	before(async () => {
		srv = await startServer({ args: ['--analysis-interval', '0', '--change-interval', '0'] });
		await promisify(execFile)(hotpathBin(), ['demo', '--target', srv.url, '--backfill', '2', '--duration', '1', '--quiet'], { timeout: 240000 });
	});
	after(() => srv?.dispose());

	const gate = async (endpoint) => {
		const params = new URLSearchParams({ range: '3h', service: 'pricing-service', endpoint, candidate: '2.5.0', baseline: '2.4.0', max_p95_increase: '10%' });
		const r = await getJson(`${srv.url}/api/v1/versions/gate?${params}`);
		assert.equal(r.status, 200, r.text);
		return r.json;
	};

	test('the regression timeline lists it as a slower version of that endpoint', async () => {
		const r = await getJson(`${srv.url}/api/v1/regressions?${new URLSearchParams({ range: '3h', service: 'pricing-service' })}`);
		assert.equal(r.status, 200, r.text);
		const v = r.json.versions.find((x) => x.endpoint === 'GET /api/prices/{sku}');
		assert.ok(v, JSON.stringify(r.json.versions));
		assert.deepEqual([v.baseline, v.candidate, v.kind, v.gate], ['2.4.0', '2.5.0', 'version', 'fail']);
		assert.ok(!r.json.versions.some((x) => x.endpoint === 'POST /api/prices/quote'), 'not the unchanged endpoint');
	});

	test('2.5.0 is slower at p95 on GET /api/prices/{sku}, and the gate fails it', async () => {
		const g = await gate('GET /api/prices/{sku}');
		assert.equal(g.verdict, 'slower', g.summary);
		assert.equal(g.status, 'fail', g.summary);
		assert.ok(g.p95_change.lo > 0.1 && g.p95_change.hi < 0.5, g.summary);
	});

	test('its quote endpoint, unchanged, passes', async () => {
		const g = await gate('POST /api/prices/quote');
		assert.equal(g.status, 'pass', g.summary);
	});
});
