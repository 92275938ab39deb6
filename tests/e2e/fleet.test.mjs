// fleet.test.mjs - environment parity, capacity and error patterns end to
// end, against a real server fed OTLP/JSON:
//  - `api` runs in production, staging (the same latency) and development
//    (40 % slower); production alone fails 5 % of its requests;
//  - `feed` has three days of hourly traffic growing by 2 requests an hour
//    per hour around a daily wave, so the hour its peaks reach a configured
//    capacity is known;
//  - failures carry error types, so the treemap groups are known exactly.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startServer } from './lib/server.mjs';
import { getJson, jsonTraceRequest, postOtlpJson, spanId, traceId } from './lib/util.mjs';
import { gaussian, rng } from './lib/random.mjs';

const HOUR_NS = 3_600_000_000_000n;
const HOURS = 72;

const rand = rng(5);
const gauss = () => gaussian(rand);

/** Requests of the feed in hour h: 100 + 2h + 30 sin(2 pi h / 24). */
const feedPerHour = (h) => Math.round(100 + 2 * h + 30 * Math.sin(2 * Math.PI * h / 24));

function resource(service, env, spans) {
	return { attrs: { 'service.name': service, 'deployment.environment.name': env, 'service.version': '1.0.0' }, spans };
}

function span(start, ms, fail) {
	const attrs = { 'http.request.method': 'GET', 'http.route': '/x' };
	if (fail) attrs['error.type'] = fail;
	return { traceId: traceId(), spanId: spanId(), name: 'GET /x', kind: 2, start, end: start + BigInt(Math.round(ms * 1e6)), attrs, fail };
}

function withStatus(body) {
	for (const rs of body.resourceSpans) {
		for (const sp of rs.scopeSpans[0].spans) {
			if (sp.attributes.some((a) => a.key === 'error.type')) sp.status = { code: 2, message: 'failed' };
		}
	}
	return body;
}

describe('fleet: parity, capacity, error patterns', () => {
	let srv, hour0Ns, expectedFailures;
	const api = async (path, params = {}) => {
		const r = await getJson(`${srv.url}${path}?${new URLSearchParams(params)}`);
		assert.equal(r.status, 200, `${path} ${JSON.stringify(params)}: ${r.text.slice(0, 500)}`);
		return r.json;
	};

	before(async () => {
		srv = await startServer({ args: ['--analysis-interval', '0'] });
		const nowNs = BigInt(Date.now()) * 1_000_000n;
		const t0 = nowNs - 40n * 60_000_000_000n;
		// parity: 1,500 requests per environment over 30 minutes
		const envs = { production: [], staging: [], development: [] };
		expectedFailures = 0;
		for (let i = 0; i < 1500; i++) {
			const start = t0 + BigInt(i) * 1_200_000_000n;
			for (const env of Object.keys(envs)) {
				const ms = 80 * Math.exp(0.4 * gauss()) * (env === 'development' ? 1.4 : 1);
				const fail = env === 'production' && i % 20 === 0 ? (i % 40 === 0 ? 'DatabaseError' : 'TimeoutError') : null;
				if (fail) expectedFailures++;
				envs[env].push(span(start, ms, fail));
			}
		}
		await postOtlpJson(srv.url, withStatus(jsonTraceRequest(Object.entries(envs).map(([env, s]) => resource('api', env, s)))));
		// capacity: whole hours ending at the last full hour
		hour0Ns = (nowNs / HOUR_NS - BigInt(HOURS)) * HOUR_NS;
		for (let day = 0; day < HOURS / 24; day++) {
			const spans = [];
			for (let h = day * 24; h < (day + 1) * 24; h++) {
				const n = feedPerHour(h);
				for (let i = 0; i < n; i++) spans.push(span(hour0Ns + BigInt(h) * HOUR_NS + BigInt(Math.floor((i + 0.5) * 3.6e12 / n)), 5, null));
			}
			await postOtlpJson(srv.url, jsonTraceRequest([resource('feed', 'production', spans)]));
		}
	});
	after(() => srv?.dispose());

	test('parity: development is slower, staging is not, production alone fails more', async () => {
		const p = await api('/api/v1/parity', { range: '1h', service: 'api' });
		const s = p.services[0];
		const by = Object.fromEntries(s.envs.map((e) => [e.env, e]));
		assert.equal(by.production.reference, true);
		assert.equal(by.development.vs_reference.verdict, 'slower');
		assert.ok(by.development.vs_reference.p95_lo > 0.2 && by.development.vs_reference.p95_hi < 0.6, JSON.stringify(by.development.vs_reference));
		assert.equal(by.staging.vs_reference.verdict, 'no significant difference', JSON.stringify(by.staging.vs_reference));
		assert.equal(by.production.failed, expectedFailures);
		assert.ok(by.staging.vs_reference.error_rate_p_value < 0.05);
		assert.equal(s.reference_only.more_errors, true);
		assert.equal(s.reference_only.slower, false);
	});

	test('error patterns: failures grouped by type, service and severity', async () => {
		const e = await api('/api/v1/errors/patterns', { range: '1h' });
		assert.equal(e.failed, expectedFailures);
		// a TimeoutError is a timeout: its error type is kept as "timeout"
		const types = Object.fromEntries(e.groups.map((g) => [g.error_type, g]));
		assert.deepEqual(Object.keys(types).sort(), ['DatabaseError', 'timeout']);
		assert.equal(types.DatabaseError.count, Math.ceil(1500 / 40));
		assert.equal(types.timeout.count, expectedFailures - Math.ceil(1500 / 40));
		assert.equal(types.DatabaseError.severity, 'error');
		assert.equal(types.timeout.severity, 'timeout');
		assert.equal(types.DatabaseError.service, 'api');
		assert.ok(Math.abs(e.groups.reduce((a, g) => a + g.share, 0) - 1) < 1e-9);
	});

	test('capacity: utilisation and the hour the peaks reach it', async () => {
		// the noise-free series reaches the capacity first at hour `truth`
		const capacity = (feedPerHour(HOURS + 47) + 0.5) / 3600;
		let truth = HOURS;
		while (100 + 2 * truth + 30 * Math.sin(2 * Math.PI * truth / 24) < capacity * 3600) truth++;
		const set = await fetch(`${srv.url}/api/v1/capacity`, { method: 'POST', body: JSON.stringify({ service: 'feed', capacity_rps: capacity }) });
		assert.equal(set.status, 200);
		const bad = await fetch(`${srv.url}/api/v1/capacity`, { method: 'POST', body: JSON.stringify({ service: 'feed', capacity_rps: -1 }) });
		assert.equal(bad.status, 400);
		const c = await api('/api/v1/capacity', { range: '4d', service: 'feed', horizon_days: '7' });
		const s = c.services[0];
		assert.equal(s.capacity_rps, capacity);
		assert.equal(s.history.length, HOURS);
		const peak = Math.max(...Array.from({ length: HOURS }, (_, h) => feedPerHour(h))) / 3600;
		assert.ok(Math.abs(s.peak_rps - peak) < 1e-9, `peak ${s.peak_rps}, want ${peak}`);
		assert.ok(Math.abs(s.utilisation - peak / capacity) < 1e-9);
		const hw = s.forecasts.find((f) => f.model === 'holt_winters');
		assert.ok(hw && hw.reach_ms, JSON.stringify(s.forecasts.map((f) => [f.model, f.reach_ms])));
		const lead = truth - (HOURS - 1); // hours after the last full hour
		const got = (hw.reach_ms - Number((hour0Ns + BigInt(HOURS - 1) * HOUR_NS) / 1_000_000n)) / 3_600_000;
		assert.ok(Math.abs(got - lead) <= 0.1 * lead, `reached after ${got} h, want ${lead} h (±10 %)`);
		assert.ok(hw.reach_earliest_ms <= hw.reach_ms && (hw.reach_latest_ms === null || hw.reach_latest_ms >= hw.reach_ms));
	});
});
