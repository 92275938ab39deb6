// alerts.test.mjs - SLOs, alert rules and webhook notifications end to end.
//
// A webhook receiver runs in this process (a node http server).  The server
// evaluates every second (--watch-interval 1).  Generated requests of
// service "pay" break a 99 % availability SLO (every request fails): the
// page alert fires (14.4x over 1 h and 5 min), its webhook arrives signed,
// after the receiver failed twice (retries with backoff), once only; good
// requests then bring the error rate under 6x the budget and the page
// resolves.  A rule on service "acked" fires, is acknowledged and resolved
// by hand while its condition still holds: it does not page again.  A rule
// on a metric series (the connections a pool has in use, sent as OTLP
// metrics) fires through the webhook.  Every action is in the audit trail
// with its actor, the evaluator's transitions with actor "system"; no
// secret leaves the server.  A version switch that the
// background change watch flags fires the default rule "regression".
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { hotpathBin, startServer } from './lib/server.mjs';
import { apiCall, getJson, jsonTraceRequest, nowNs, postOtlpJson, postSlowShare, sleep, spanId, traceId, waitFor } from './lib/util.mjs';

const SECRET = 'hook-secret-7f3a';

/** A webhook receiver: answers 500 to the first `failFirst` posts. */
function startReceiver(failFirst) {
	const got = [];
	let seen = 0;
	const server = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const body = Buffer.concat(chunks).toString();
			const failed = seen++ < failFirst;
			got.push({ body, json: JSON.parse(body), headers: req.headers, failed });
			res.writeHead(failed ? 500 : 200).end();
		});
	});
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
		url: `http://127.0.0.1:${server.address().port}/hook`, got, close: () => server.close(),
	})));
}

/** `n` one-span requests of `service` ending now; `failed` sets status ERROR. */
function requests(service, n, failed) {
	const end = nowNs();
	const spans = [];
	for (let i = 0; i < n; i++) {
		spans.push({
			traceId: traceId(), spanId: spanId(), name: 'POST /pay', kind: 2,
			startTimeUnixNano: String(end - 20_000_000n), endTimeUnixNano: String(end),
			attributes: [{ key: 'http.route', value: { stringValue: '/pay' } }],
			status: failed ? { code: 2, message: 'boom' } : { code: 1 },
		});
	}
	return {
		resourceSpans: [{
			resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
			scopeSpans: [{ scope: { name: 'alerts-e2e' }, spans }],
		}],
	};
}

async function send(srv, body) {
	const res = await fetch(`${srv.url}/v1/traces`, {
		method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
	});
	assert.equal(res.status, 200, await res.text());
}

const delivered = (rx, id, event) => rx.got.filter((m) => !m.failed && m.json.event === event && m.json.alert?.id === id);

describe('SLO and alert notifications', () => {
	let srv, rx;
	before(async () => {
		rx = await startReceiver(2);
		srv = await startServer({ args: ['--watch-interval', '1'] });
	});
	after(async () => {
		rx?.close();
		await srv?.stop();
	});

	test('definitions are checked and kept, secrets never shown', async () => {
		let r = await apiCall(srv, 'POST', '/api/v1/alerts/channels', { id: 'hook', url: rx.url, secret: SECRET });
		assert.equal(r.status, 201, r.text);
		assert.equal(r.json.secret_set, true);
		assert.ok(!r.text.includes(SECRET), 'the secret is not in the answer');
		const origin = new URL(rx.url).origin;
		assert.equal(r.json.url, `${origin}/…`, 'the address shows its origin only');
		// An update without url and secret keeps both (the deliveries below use them).
		r = await apiCall(srv, 'PUT', '/api/v1/alerts/channels/hook', { name: 'The hook' });
		assert.equal(r.status, 200, r.text);
		assert.equal(r.json.name, 'The hook');
		assert.equal(r.json.secret_set, true);
		assert.equal(r.json.url, `${origin}/…`);
		r = await apiCall(srv, 'POST', '/api/v1/alerts/channels', { id: 'chat', url: `${rx.url}/slack`, format: 'slack' });
		assert.equal(r.status, 201, r.text);
		r = await apiCall(srv, 'POST', '/api/v1/slos', { id: 'pay-avail', name: 'pay availability', kind: 'availability', objective: 99, window: '30d', filters: { service: 'pay' }, channels: ['hook', 'chat'] });
		assert.equal(r.status, 201, r.text);
		r = await apiCall(srv, 'POST', '/api/v1/slos', { kind: 'latency', objective: 95, threshold_ms: 0 });
		assert.equal(r.status, 400);
		assert.match(r.json.error.message, /threshold_ms/);
		r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', { id: 'acked-errors', measure: 'error_rate', comparison: '>', threshold: 50, severity: 'critical', filters: { service: 'acked' }, channels: ['hook'] });
		assert.equal(r.status, 201, r.text);
		r = await apiCall(srv, 'POST', '/api/v1/slos', { kind: 'availability', objective: 99, name: 'x'.repeat(70000) });
		assert.equal(r.status, 413, 'a definition is small');
		r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', { measure: 'cpu', threshold: 1 });
		assert.equal(r.status, 400);
		assert.match(r.json.error.message, /measure/);
		const rules = await getJson(`${srv.url}/api/v1/alerts/rules`);
		assert.deepEqual(rules.json.rules.map((x) => x.id).sort(), ['acked-errors', 'regression', 'slow-spike'], 'the spike check and the flagged regressions are default rules');
		r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', { measure: 'metric', metric: { measure: 'disk' }, threshold: 1 });
		assert.equal(r.status, 400);
		assert.match(r.json.error.message, /metric\.measure/);
		r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', { measure: 'metric', threshold: 1 });
		assert.equal(r.status, 400);
		assert.match(r.json.error.message, /"metric"/);
	});

	test('a broken SLO pages once, signed, after retries, and resolves', async () => {
		await send(srv, requests('pay', 50, true));
		const fired = await waitFor('the page', () => delivered(rx, 'slo:pay-avail:page', 'firing')[0]);
		const tries = rx.got.filter((m) => m.json.alert?.id === 'slo:pay-avail:page' && m.json.event === 'firing');
		assert.ok(tries.length >= 3 && tries[0].failed && tries[1].failed, `two failed tries before delivery: ${tries.length}`);
		const want = 'sha256=' + crypto.createHmac('sha256', SECRET).update(fired.body).digest('hex');
		assert.equal(fired.headers['x-hotpath-signature'], want, 'HMAC-SHA256 of the body');
		assert.equal(fired.json.alert.severity, 'page');
		assert.ok(fired.json.alert.value > 14.4, `burn rate ${fired.json.alert.value}`);
		assert.ok(!fired.body.includes(SECRET));

		const slo = (await getJson(`${srv.url}/api/v1/slos/pay-avail`)).json;
		assert.equal(slo.status.total, 50);
		assert.equal(slo.status.good, 0);
		assert.equal(slo.status.budget.consumed, 50);
		assert.ok(Math.abs(slo.status.budget.total - 0.5) < 1e-9, `budget ${slo.status.budget.total}`);
		assert.ok(Math.abs(slo.status.burn_rates['5m'] - 100) < 1e-9, 'all bad against 1 % allowed: 100x');
		assert.equal(slo.status.alerts.page, true);

		const slack = await waitFor('the Slack message', () => rx.got.find((m) => !m.failed && m.json.text && /pay availability/.test(m.json.text)));
		assert.deepEqual(Object.keys(slack.json), ['text'], 'a Slack incoming-webhook body');
		assert.match(slack.json.text, /^:red_circle: \[page\] pay availability: error budget burning/);
		assert.equal(slack.headers['x-hotpath-signature'], undefined, 'no secret, no signature');

		await sleep(3500); // three more evaluations: no second page
		assert.equal(delivered(rx, 'slo:pay-avail:page', 'firing').length, 1, 'one incident pages once');
		assert.equal(rx.got.filter((m) => !m.failed && /^:red_circle: \[page\]/.test(m.json.text || '')).length, 1, 'one Slack page too');

		// 50 bad of 2,550: 1.96 % = 1.96x, under both page rates.
		await send(srv, requests('pay', 2500, false));
		await waitFor('the resolution', () => delivered(rx, 'slo:pay-avail:page', 'resolved')[0]);
		const al = (await getJson(`${srv.url}/api/v1/alerts/slo:pay-avail:page`)).json;
		assert.equal(al.state, 'resolved');
		assert.deepEqual(al.history.map((h) => h.event).reverse(), ['firing', 'resolved']);

		const bd = (await getJson(`${srv.url}/api/v1/slos/pay-avail/burndown`)).json;
		assert.equal(bd.step_s, 3600);
		assert.ok(bd.points.length >= 720 && bd.points.length <= 721, `${bd.points.length} hours in 30 days`);
		const sum = (k) => bd.points.reduce((a, p) => a + p[k], 0);
		assert.equal(sum('total'), 2550);
		assert.equal(sum('good'), 2500);
		assert.equal((await getJson(`${srv.url}/api/v1/slos/nope/burndown`)).status, 404);

		// A performance budget: the mean p95 of the services in scope, step by step.
		const r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', { id: 'pay-budget', measure: 'service_p95_mean', comparison: '>', threshold: 600, filters: { service: 'pay' } });
		assert.equal(r.status, 201, r.text);
		const series = (await getJson(`${srv.url}/api/v1/alerts/rules/pay-budget/series?range=1h&step=300`)).json;
		assert.equal(series.points.length, 12);
		assert.equal(series.limit, 600);
		const seen = series.points.filter((p) => p.value !== null);
		assert.ok(seen.length >= 1 && seen.length <= 2, `only the last minutes had requests: ${seen.length} steps`);
		for (const p of seen) assert.ok(Math.abs(p.value - 20) < 0.5, `p95 of 20 ms requests: ${p.value}`);
		assert.notEqual(series.points.at(-1).value, null, 'the newest step has them');
		assert.equal((await getJson(`${srv.url}/api/v1/alerts/rules/pay-budget/series?step=7`)).status, 400);
	});

	test('an acknowledged alert does not page again', async () => {
		await send(srv, requests('acked', 30, true));
		await waitFor('the rule page', () => delivered(rx, 'rule:acked-errors', 'firing')[0]);
		let r = await apiCall(srv, 'POST', '/api/v1/alerts/rule:acked-errors', { action: 'acknowledge' }, 'bob');
		assert.equal(r.status, 200, r.text);
		assert.equal(r.json.acknowledged_by, 'bob');
		r = await apiCall(srv, 'POST', '/api/v1/alerts/rule:acked-errors', { action: 'resolve' }, 'bob');
		assert.equal(r.status, 200, r.text);
		assert.equal(r.json.state, 'resolved');
		r = await apiCall(srv, 'POST', '/api/v1/alerts/rule:acked-errors', { action: 'fly' });
		assert.equal(r.status, 400);
		await sleep(3500); // the condition still holds: the same incident, no page
		assert.equal(delivered(rx, 'rule:acked-errors', 'firing').length, 1);
		const al = (await getJson(`${srv.url}/api/v1/alerts/rule:acked-errors`)).json;
		assert.equal(al.state, 'firing', 'the condition holds again: the incident is back');
		assert.equal(al.pages, 1);
	});

	test('a rule on a metric series fires through the webhook', async () => {
		// The connections pool "main" of service pool-e2e has in use: 9 for
		// the last three minutes, as an OTLP metrics JSON body.
		const now = nowNs();
		const dataPoints = [150, 90, 30].map((ago) => ({
			timeUnixNano: String(now - BigInt(ago) * 1_000_000_000n), asDouble: 9,
			attributes: [
				{ key: 'db.client.connection.state', value: { stringValue: 'used' } },
				{ key: 'db.client.connection.pool.name', value: { stringValue: 'main' } },
			],
		}));
		let r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', {
			id: 'pool-busy', measure: 'metric', metric: { measure: 'pool_used', agg: 'max', group_by: 'pool' },
			comparison: '>', threshold: 8, window: '5m', filters: { service: 'pool-e2e' }, channels: ['hook'],
		});
		assert.equal(r.status, 201, r.text);
		assert.deepEqual(r.json.metric, { measure: 'pool_used', agg: 'max', group_by: 'pool' });
		await sleep(2500);
		assert.equal(delivered(rx, 'rule:pool-busy', 'firing').length, 0, 'no points yet: no alert');
		const res = await fetch(`${srv.url}/v1/metrics`, {
			method: 'POST', headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ resourceMetrics: [{
				resource: { attributes: [{ key: 'service.name', value: { stringValue: 'pool-e2e' } }] },
				scopeMetrics: [{ scope: { name: 'alerts-e2e' }, metrics: [{ name: 'db.client.connection.count', unit: '{connection}', gauge: { dataPoints } }] }],
			}] }),
		});
		assert.equal(res.status, 200, await res.text());
		const m = await waitFor('the pool alert', () => delivered(rx, 'rule:pool-busy', 'firing')[0]);
		assert.equal(m.json.alert.value, 9, 'the highest minute of connections in use');
		assert.equal(m.json.alert.limit, 8);
		assert.match(m.json.alert.message, /^max of pool_used, worst pool is 9 \(limit 8\) over the last 300 s$/);
		const series = (await getJson(`${srv.url}/api/v1/alerts/rules/pool-busy/series?range=10m&step=60`)).json;
		assert.equal(series.measure, 'metric');
		const seen = series.points.filter((p) => p.value !== null);
		assert.ok(seen.length >= 2 && seen.length <= 4, `the minutes with points: ${JSON.stringify(series.points)}`);
		for (const p of seen) assert.equal(p.value, 9);
		r = await apiCall(srv, 'DELETE', '/api/v1/alerts/rules/pool-busy');
		assert.equal(r.status, 200, r.text);
	});

	test('the audit trail has who did what, before and after', async () => {
		const a = (await getJson(`${srv.url}/api/v1/audit?actor=bob`)).json.entries;
		assert.deepEqual(a.map((e) => e.action), ['resolve', 'acknowledge']);
		assert.equal(a[1].before.state, 'firing');
		assert.equal(a[1].after.acknowledged_by, 'bob');
		const c = (await getJson(`${srv.url}/api/v1/audit?object=channel&object_id=hook`)).json.entries;
		assert.deepEqual(c.map((e) => e.action), ['update', 'create']);
		assert.equal(c[0].actor, 'alice');
		assert.equal(c[0].before.name, 'hook');
		assert.equal(c[0].after.name, 'The hook');
		assert.equal(c[0].after.secret_set, true);
		const all = await getJson(`${srv.url}/api/v1/audit?limit=1000`);
		assert.ok(!all.text.includes(SECRET), 'no secret in the audit trail');
		assert.ok(!all.text.includes(rx.url), 'nor the webhook\'s address');
		assert.ok(!srv.logs().includes(SECRET), 'no secret in the log');
		assert.ok(!srv.logs().includes(rx.url), 'nor the webhook\'s address');
		assert.equal((await getJson(`${srv.url}/api/v1/audit?object=nope`)).status, 400);
		// The evaluator's transitions, by actor "system", filtered like the others.
		const sys = (await getJson(`${srv.url}/api/v1/audit?actor=system&object=alert&object_id=slo:pay-avail:page`)).json.entries;
		assert.deepEqual(sys.map((e) => e.action), ['resolved', 'firing'], JSON.stringify(sys).slice(0, 400));
		assert.ok(sys.every((e) => e.actor === 'system' && e.object === 'alert' && e.object_id === 'slo:pay-avail:page'));
		assert.equal(sys[1].before.state, 'inactive');
		assert.equal(sys[1].after.state, 'firing');
		assert.equal(sys[0].before.state, 'firing');
		assert.equal(sys[0].after.state, 'resolved');
		const hist = (await getJson(`${srv.url}/api/v1/alerts/slo:pay-avail:page`)).json.history;
		assert.equal(hist.length, sys.length, 'as many audit entries as history entries');
		const acked = (await getJson(`${srv.url}/api/v1/audit?actor=system&object_id=rule:acked-errors`)).json.entries;
		assert.ok(acked.some((e) => e.action === 'firing'), 'the rule\'s firing too');
		assert.ok(!acked.some((e) => e.action === 'acknowledge'), 'the acknowledgement is bob\'s, not the system\'s');
		const every = (await getJson(`${srv.url}/api/v1/audit?limit=1000`)).json.entries;
		assert.ok(every.some((e) => e.actor === 'system') && every.some((e) => e.actor === 'bob'), 'unfiltered: people and the system');
		assert.ok(every.every((e, i) => i === 0 || every[i - 1].time_ms >= e.time_ms), 'newest first, merged');
	});

	test('hotpath slo and hotpath alerts list and act from the terminal', async () => {
		const run = (...args) => execFileSync(hotpathBin(), [...args, '--server', srv.url], { encoding: 'utf8' });
		const slo = run('slo');
		const line = slo.split('\n').find((l) => l.startsWith('pay-avail'));
		assert.ok(line, slo);
		const api = (await getJson(`${srv.url}/api/v1/slos/pay-avail`)).json.status;
		assert.ok(line.includes(`${api.compliance.toFixed(3)}%`), `compliance ${api.compliance} in: ${line}`);
		const list = run('alerts', 'list', '--state', 'all');
		assert.match(list, /^slo:pay-avail:page\s+resolved\s+page/m);
		assert.match(list, /^rule:acked-errors\s+firing\s+critical .* bob /m);
		const out = run('alerts', 'silence', 'rule:acked-errors', '--for', '1h', '--user', 'carol');
		assert.match(out, /^rule:acked-errors\s+firing/m);
		const al = (await getJson(`${srv.url}/api/v1/alerts/rule:acked-errors`)).json;
		assert.ok(al.silenced_until_ms > Date.now() + 3500e3, `silenced until ${al.silenced_until_ms}`);
		const a = (await getJson(`${srv.url}/api/v1/audit?actor=carol`)).json.entries;
		assert.deepEqual(a.map((e) => e.action), ['silence']);
		assert.throws(() => run('alerts', 'silence', 'rule:acked-errors'), (e) => e.status === 2, 'silence needs --for or --until');
	});

	test('a test message goes through a channel; one that never answers is given up after its retries', async () => {
		const metric = async (name) => Number((await (await fetch(`${srv.url}/metrics`)).text()).match(new RegExp(`^${name} (\\d+)$`, 'm'))[1]);
		let r = await apiCall(srv, 'POST', '/api/v1/alerts/channels/hook/test');
		assert.equal(r.status, 200, r.text);
		const m = await waitFor('the test message', () => rx.got.find((x) => !x.failed && x.json.event === 'test'));
		const want = 'sha256=' + crypto.createHmac('sha256', SECRET).update(m.body).digest('hex');
		assert.equal(m.headers['x-hotpath-signature'], want);
		assert.equal((await apiCall(srv, 'POST', '/api/v1/alerts/channels/nope/test')).status, 404);

		const failed0 = await metric('hotpath_notifications_failed_total');
		const retries0 = await metric('hotpath_notifications_retries_total');
		r = await apiCall(srv, 'POST', '/api/v1/alerts/channels', { id: 'dead', url: 'http://127.0.0.1:1/never' });
		assert.equal(r.status, 201, r.text);
		r = await apiCall(srv, 'POST', '/api/v1/alerts/channels/dead/test');
		assert.equal(r.status, 200, r.text);
		await waitFor('the message given up', async () => (await metric('hotpath_notifications_failed_total')) === failed0 + 1, 15000);
		assert.equal(await metric('hotpath_notifications_retries_total'), retries0 + 3, '4 attempts: 3 retries, 1, 2 and 4 s apart');
		assert.ok((await metric('hotpath_notifications_sent_total')) >= rx.got.filter((x) => !x.failed).length);
		assert.match(srv.logs(), /notification for test to channel dead failed \(attempt 4 of 4\)/);
	});

	test('deleting a rule ends its alert; a silenced one sends nothing', async () => {
		const r = await apiCall(srv, 'DELETE', '/api/v1/alerts/rules/acked-errors');
		assert.equal(r.status, 200, r.text);
		const al = await waitFor('the end of the alert', async () => {
			const a = (await getJson(`${srv.url}/api/v1/alerts/rule:acked-errors`)).json;
			return a.state === 'resolved' ? a : null;
		});
		assert.match(al.message, /deleted or disabled/);
		await sleep(1500);
		assert.equal(delivered(rx, 'rule:acked-errors', 'resolved').length, 0, 'silenced: no resolved message');
		assert.match(srv.logs(), /alert rule:acked-errors resolved \(silenced: nothing sent\)/);
		assert.equal((await apiCall(srv, 'GET', '/api/v1/alerts/rules/acked-errors')).status, 404);
	});
});

describe('the slow-request spike check is the default rule slow-spike', () => {
	let srv, rx;
	// n requests of service "steady", `slow` of them over 1 s, in the minute
	// starting minutesAgo before now (as the spike test of analytics does)
	const post = (minutesAgo, n, slow) => postSlowShare(srv.url, minutesAgo, n, slow);
	before(async () => {
		rx = await startReceiver(0);
		srv = await startServer({ args: ['--spike-interval', '1', '--watch-interval', '1'] });
		for (let w = 0; w < 12; w++) await post(62.5 - 5 * w, 20, 2); // an hour at 10 % slow
	});
	after(async () => {
		rx?.close();
		await srv?.stop();
	});

	test('a spike fires the default rule through its channel, once', async () => {
		let r = await apiCall(srv, 'POST', '/api/v1/alerts/channels', { id: 'ops', url: rx.url });
		assert.equal(r.status, 201, r.text);
		const rule = (await getJson(`${srv.url}/api/v1/alerts/rules/slow-spike`)).json;
		r = await apiCall(srv, 'PUT', '/api/v1/alerts/rules/slow-spike', { ...rule, channels: ['ops'] });
		assert.equal(r.status, 200, r.text);
		await sleep(2500);
		assert.equal(delivered(rx, 'rule:slow-spike', 'firing').length, 0, 'no spike yet');
		await post(2.5, 60, 60); // the slow share rises from 10 % to 75 %
		const m = await waitFor('the spike alert', () => delivered(rx, 'rule:slow-spike', 'firing')[0]);
		const spikes = (await getJson(`${srv.url}/api/v1/slow-requests/alerts`)).json;
		// the check stores a spike per scope (the service, and '*'), maybe across two evaluations
		assert.ok(m.json.alert.value >= 1 && m.json.alert.value <= spikes.count,
			`the rule counts the spikes the check stored: ${m.json.alert.value} of ${spikes.count}`);
		await sleep(2500);
		assert.equal(delivered(rx, 'rule:slow-spike', 'firing').length, 1, 'one page for the spike');
	});
});

describe('a regression the change watch flags fires the default rule regression', () => {
	let srv, rx;
	const MIN_NS = 60_000_000_000n;
	// shop: 40 minutes of 1.0.0, then 20 of 1.1.0 whose requests take 30 % longer
	function shop(baseNs) {
		const out = { '1.0.0': [], '1.1.0': [] };
		for (let m = 0; m < 60; m++) {
			for (let i = 0; i < 60; i++) {
				const start = baseNs + BigInt(m) * MIN_NS + BigInt(i) * 1_000_000_000n;
				const ms = 100 * (0.9 + 0.02 * (i % 10)) * (m >= 40 ? 1.3 : 1);
				out[m >= 40 ? '1.1.0' : '1.0.0'].push({ start, end: start + BigInt(Math.round(ms * 1e6)) });
			}
		}
		return out;
	}
	before(async () => {
		rx = await startReceiver(0);
		srv = await startServer({ args: ['--watch-interval', '1', '--change-interval', '2', '--analysis-interval', '0'] });
	});
	after(async () => {
		rx?.close();
		await srv?.stop();
	});

	test('the switch to a slower version pages the regression rule\'s channel', async () => {
		let r = await apiCall(srv, 'POST', '/api/v1/alerts/channels', { id: 'ops', url: rx.url });
		assert.equal(r.status, 201, r.text);
		const rule = (await getJson(`${srv.url}/api/v1/alerts/rules/regression`)).json;
		assert.equal(rule.measure, 'regressions', 'a default rule');
		r = await apiCall(srv, 'PUT', '/api/v1/alerts/rules/regression', { ...rule, channels: ['ops'] });
		assert.equal(r.status, 200, r.text);
		await sleep(2500);
		assert.equal(delivered(rx, 'rule:regression', 'firing').length, 0, 'nothing flagged yet');
		const baseNs = (nowNs() - 62n * MIN_NS) / MIN_NS * MIN_NS;
		for (const [version, reqs] of Object.entries(shop(baseNs))) {
			await postOtlpJson(srv.url, jsonTraceRequest([{
				attrs: { 'service.name': 'shop', 'deployment.environment.name': 'production', 'service.version': version },
				spans: reqs.map((q) => ({
					traceId: traceId(), spanId: spanId(), name: 'GET /api/items', kind: 2, start: q.start, end: q.end,
					attrs: { 'http.request.method': 'GET', 'http.route': '/api/items' },
				})),
			}]));
		}
		const m = await waitFor('the regression alert', () => delivered(rx, 'rule:regression', 'firing')[0], 30000);
		const audit = (await getJson(`${srv.url}/api/v1/regressions/audit`)).json.events;
		const flags = audit.filter((e) => e.event.action === 'auto_flag' && e.event.regression.service === 'shop');
		assert.ok(flags.length >= 1, `the change watch flagged the shop: ${JSON.stringify(audit).slice(0, 400)}`);
		assert.ok(m.json.alert.value >= 1 && m.json.alert.value <= flags.length,
			`the rule counts the flags: ${m.json.alert.value} of ${flags.length}`);
		assert.match(m.json.alert.message, /^regressions is \d+/);
		await sleep(2500);
		assert.equal(delivered(rx, 'rule:regression', 'firing').length, 1, 'one page for the regression');
	});
});
