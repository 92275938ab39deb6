// realapp.test.mjs - a real instrumented application against a real
// hotpath and a real PostgreSQL: are its planted problems found, for the
// right service, route and target, with a right change, and nothing wrong
// said about what is healthy?
//
// The application (tests/e2e/realapp/) is an express 5 + pg 8 service under
// the OpenTelemetry Node SDK with auto-instrumentations, host metrics, the
// runtime metrics and the Pyroscope client, plus plain node:http services
// it calls; PostgreSQL is a private cluster in a temp dir.  Each planted
// problem lives on its own route:
//
//   shop GET /orders/:id      N+1: 10 sequential order_items queries   (fact 1)
//   shop GET /checkout/:id    inventory, pricing, shipping one by one  (facts 1, 4)
//   shop GET /reports/:id     the tiny `reports` pool (max 2) exhausted (fact 3)
//   shop GET /catalog/:id     the same load on the large `shop` pool: fine
//   shop GET /recommend/:id   own CPU work in scoreRecommendations      (fact 2)
//   shop GET /quote/:id       a call to shipping that times out at 25 ms (fact 10)
//   shop GET /health-check    healthy: one indexed query
//   users GET /users/N/profile, /sessions/UUID: node:http, no http.route (fact 6),
//                             answering after a 25 ms timer: waiting, not own work (fact 2)
//   shop's profile uploads and exports to hotpath itself                (fact 7)
//   express's `request handler` / `middleware` wrapper spans            (facts 5, 9)
//
// Without PostgreSQL (scripts/install-deps.sh installs it) the suite
// reports itself skipped.
//
// HOTPATH_REALAPP_DUMP=DIR writes what the API answered and what the SDK
// sent there: recommendations, bottlenecks, slow requests, requests, three
// stored traces of each endpoint, profiles and the metric points as stored.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';

import { startServer } from './lib/server.mjs';
import { getJson, searchTraces } from './lib/util.mjs';
import { drive, startApp } from './realapp/apps.mjs';
import { postgresMissing, startPostgres } from './realapp/postgres.mjs';

const SKIP = postgresMissing();
const TELEMETRY_PATH = /\/v1\/(traces|metrics|logs)\b|\/ingest\b/;
const WRAPPER_SPAN = /request handler|middleware|router|^request$|handler - fastify/i;
const REPORTS_CONCURRENCY = 8;

const ROUTES = {
	orders: 'GET /orders/:id',
	checkout: 'GET /checkout/:id',
	reports: 'GET /reports/:id',
	catalog: 'GET /catalog/:id',
	recommend: 'GET /recommend/:id',
	quote: 'GET /quote/:id',
	health: 'GET /health-check',
};

async function createSchema(pgc) {
	const connect = async (database) => {
		const c = new pg.Client({ host: pgc.host, port: pgc.port, user: 'app', database });
		await c.connect();
		return c;
	};
	const admin = await connect('postgres');
	await admin.query('CREATE DATABASE shop');
	await admin.query('CREATE DATABASE reports');
	await admin.end();
	const orders = `
		CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL);
		CREATE INDEX orders_customer ON orders (customer_id);
		INSERT INTO orders SELECT i, i % 50, 'paid' FROM generate_series(1, 2000) i;`;
	const shop = await connect('shop');
	await shop.query(`${orders}
		CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
		INSERT INTO customers SELECT i, 'customer ' || i FROM generate_series(0, 49) i;
		CREATE TABLE order_items (order_id int, line int, sku text, quantity int, price numeric,
		                          PRIMARY KEY (order_id, line));
		INSERT INTO order_items SELECT o, l, 'sku-' || (o * 10 + l), 1 + l % 3, 9.99
		  FROM generate_series(1, 2000) o, generate_series(1, 10) l;
		ANALYZE;`);
	await shop.end();
	const reports = await connect('reports');
	await reports.query(`${orders} ANALYZE;`);
	await reports.end();
}

const range = (n, f) => Array.from({ length: n }, (_, i) => f(i + 1));

/** The load, phase by phase (bounded in count and time; loopback only). */
async function driveLoad(shop, users) {
	const deadline = Date.now() + 90000;
	const phases = [
		// the pools first, so that their metrics cover the whole run
		[shop, ROUTES.reports, range(200, (i) => `/reports/${i}`), REPORTS_CONCURRENCY],
		[shop, ROUTES.catalog, range(200, (i) => `/catalog/${i}`), REPORTS_CONCURRENCY],
		[shop, ROUTES.orders, range(100, (i) => `/orders/${i}`), 2],
		[shop, ROUTES.checkout, range(80, (i) => `/checkout/${i}`), 2],
		[shop, ROUTES.quote, range(40, (i) => `/quote/${i}`), 2],
		[shop, ROUTES.recommend, range(80, (i) => `/recommend/${i}`), 2],
		[shop, ROUTES.health, range(100, () => '/health-check'), 2],
		[users, 'profiles', range(60, (i) => `/users/${1000 + i}/profile`), 2],
		[users, 'sessions', range(40, () => `/sessions/${crypto.randomUUID()}`), 2],
	];
	const sent = {};
	for (const [app, name, paths, concurrency] of phases) {
		const r = await drive(app.url, paths, concurrency, deadline);
		assert.deepEqual(r.failures, [], `${name}: requests failed\n${app.logs()}`);
		assert.equal(r.sent, paths.length, `${name}: the load ran out of time`);
		sent[name] = r.sent;
	}
	return sent;
}

const finding = (rec) => rec.finding;
const texts = (f) => Object.values(f.recommendation || {}).join(' ');
const describeFindings = (fs_) => fs_.map((f) => `${f.priority} ${f.kind} ${f.subject.service} ` +
	`${f.subject.endpoint} [${f.subject.detail}]: ${f.recommendation?.title}`).join('\n');

describe('a real instrumented application', { skip: SKIP || false }, () => {
	let srv, pgc;
	const apps = [];
	const data = {};

	before(async () => {
		const t0 = Date.now();
		srv = await startServer();
		pgc = await startPostgres();
		await createSchema(pgc);
		const env = { OTEL_EXPORTER_OTLP_ENDPOINT: srv.url, PGHOST: pgc.host, PGPORT: String(pgc.port) };
		const backends = await Promise.all([
			startApp('inventory', 'plain.mjs', { ...env, DELAY_MS: '8' }),
			startApp('pricing', 'plain.mjs', { ...env, DELAY_MS: '12' }),
			startApp('shipping', 'plain.mjs', { ...env, DELAY_MS: '10', SLOW_MS: '80' }),
			startApp('users', 'plain.mjs', { ...env, DELAY_MS: '25' }),
		]);
		apps.push(...backends);
		const [inventory, pricing, shipping, users] = backends;
		const shop = await startApp('shop', 'shop.mjs', {
			...env, PYROSCOPE_URL: srv.url,
			INVENTORY_URL: inventory.url, PRICING_URL: pricing.url, SHIPPING_URL: shipping.url,
		});
		apps.push(shop);
		data.backends = { inventory, pricing, shipping };
		data.sent = await driveLoad(shop, users);
		await new Promise((r) => setTimeout(r, 3000)); // a few more metric exports and a profile flush
		for (const app of apps.splice(0)) await app.stop();
		data.loadSeconds = (Date.now() - t0) / 1000;

		const api = async (p) => {
			const r = await getJson(`${srv.url}${p}`);
			assert.equal(r.status, 200, `GET ${p}: ${r.text.slice(0, 500)}`);
			return r.json;
		};
		data.recommendations = await api('/api/v1/recommendations?range=1h&refresh=1');
		data.findings = data.recommendations.recommendations.map(finding);
		data.bottlenecks = await api('/api/v1/bottlenecks?range=1h&top=50');
		data.routeBottlenecks = {};
		for (const ep of Object.values(ROUTES)) {
			data.routeBottlenecks[ep] = await api(`/api/v1/bottlenecks?range=1h&top=50&service=shop&endpoint=${encodeURIComponent(ep)}`);
		}
		data.partialBottlenecks = await api('/api/v1/bottlenecks?range=1h&limit=100');
		data.summary = await api('/api/v1/performance/summary?range=1h');
		data.slow = await api('/api/v1/slow-requests?range=1h&min_duration=20&limit=500&group_by=endpoint');
		data.slowQuotes = await api(`/api/v1/slow-requests?range=1h&min_duration=1&limit=500&service=shop&endpoint=${encodeURIComponent(ROUTES.quote)}`);
		data.requests = {};
		for (const service of ['shop', 'users', 'inventory', 'pricing', 'shipping']) {
			data.requests[service] = await searchTraces(srv, { service, range: '1h' });
		}
		data.telemetryTraces = await telemetryTraces(srv, shop);
		if (process.env.HOTPATH_REALAPP_DUMP) await dump(srv, data, process.env.HOTPATH_REALAPP_DUMP);
	}, { timeout: 170000 });

	after(async () => {
		for (const app of apps) await app.stop().catch(() => {});
		if (srv) await srv.dispose();
		if (pgc) pgc.stop();
	});

	const findingsOf = (kind, service, endpoint) => data.findings.filter((f) => f.kind === kind &&
		f.subject.service === service && (endpoint === undefined || f.subject.endpoint === endpoint));
	const meanDurationMs = (service, endpoint) => {
		const rs = data.requests[service].filter((r) => r.endpoint === endpoint);
		return rs.reduce((s, r) => s + r.duration_ms, 0) / rs.length;
	};

	test('every request the load sent is stored under its route', () => {
		const shop = data.requests.shop;
		for (const ep of Object.values(ROUTES)) {
			const got = shop.filter((r) => r.endpoint === ep).length;
			assert.equal(got, data.sent[ep], `${ep}: ${got} stored of ${data.sent[ep]} sent`);
		}
		const users = data.requests.users.filter((r) => r.endpoint.startsWith('GET '));
		assert.equal(users.length, data.sent.profiles + data.sent.sessions);
	});

	test('connection set-up spans are not requests of a service', () => {
		const setup = Object.values(data.requests).flat().filter((r) => /^(dns\.lookup|tcp\.connect)$/.test(r.endpoint));
		assert.deepEqual(setup.map((r) => `${r.service} ${r.endpoint}`), []);
	});

	test('fleet figures count each user request once, at its edge', () => {
		const total = Object.values(data.sent).reduce((a, b) => a + b, 0);
		assert.equal(data.summary.count, total, `fleet count ${data.summary.count}, ${total} requests were sent`);
	});

	test('N+1: shop GET /orders/:id, the order_items statement, 10 a request', () => {
		const all = findingsOf('n-plus-one', 'shop');
		const f = all.find((x) => x.subject.endpoint === ROUTES.orders);
		assert.ok(f, `no N+1 finding on ${ROUTES.orders}; findings:\n${describeFindings(data.findings)}`);
		assert.match(f.subject.detail, /order_items/);
		assert.match(f.subject.detail, /order_id = \?/);
		assert.ok(f.evidence.per_request >= 9.5 && f.evidence.per_request <= 10.5, `per_request ${f.evidence.per_request}`);
		assert.ok(f.evidence.affected_requests >= 0.9 * data.sent[ROUTES.orders], `in ${f.evidence.affected_requests} of ${data.sent[ROUTES.orders]} requests`);
		assert.match(texts(f), /batch|IN \(|ANY|join/i, 'the change batches the lookups');
	});

	test('N+1 savings are measured against the route\'s request time', () => {
		const f = findingsOf('n-plus-one', 'shop', ROUTES.orders)[0];
		assert.ok(f, 'no N+1 finding');
		const mean = meanDurationMs('shop', ROUTES.orders);
		const got = f.evidence.affected_latency_ms;
		assert.ok(Math.abs(got - mean) <= 0.25 * mean, `affected latency ${got} ms, the route's requests average ${mean.toFixed(2)} ms`);
		assert.ok(f.estimate.saving_ms < mean, `saving ${f.estimate.saving_ms} ms of a ${mean} ms request`);
	});

	test('sequential calls: shop GET /checkout/:id waits for inventory, pricing and shipping in turn', () => {
		const f = findingsOf('sequential-calls', 'shop', ROUTES.checkout)[0];
		assert.ok(f, `no sequential-calls finding on ${ROUTES.checkout}; findings:\n${describeFindings(data.findings)}`);
		const named = (b) => new RegExp(`\\b${b.name}\\b|:${b.port}\\b`).test(f.subject.detail);
		for (const b of Object.values(data.backends)) assert.ok(named(b), `${b.name} (port ${b.port}) not named in ${JSON.stringify(f.subject.detail)}`);
		assert.ok(f.evidence.ratio >= 0.9, `in ${f.evidence.ratio} of the route's requests`);
		assert.match(texts(f), /parallel|concurrent|Promise\.all|at once/i);
	});

	const reportsPool = () => findingsOf('pool-exhaustion', 'shop').find((x) => /reports/.test(x.subject.detail || ''));

	test('pool exhaustion: the tiny reports pool, sized from the observed concurrency', () => {
		const f = reportsPool();
		assert.ok(f, `no pool-exhaustion finding on the reports pool; findings:\n${describeFindings(data.findings)}`);
		const size = f.evidence.pool_recommended;
		assert.ok(size > 2 && size <= 10 * REPORTS_CONCURRENCY,
			`recommended size ${size} for ${REPORTS_CONCURRENCY} concurrent requests on a pool of 2`);
		assert.match(texts(f), new RegExp(`\\b${size}\\b`), 'the change names the size');
	});

	test('pool exhaustion: the wait is measured from pg-pool.connect spans and costed', () => {
		const f = reportsPool();
		assert.ok(f, 'no finding on the reports pool');
		const n = data.sent[ROUTES.reports];
		assert.ok(f.evidence.affected_requests >= n / 2, `${f.evidence.affected_requests} of ${n} requests waited`);
		assert.ok(f.evidence.avg_ms >= 10, `mean wait ${f.evidence.avg_ms} ms`);
		assert.ok(f.evidence.pool_recommended >= REPORTS_CONCURRENCY,
			`recommended ${f.evidence.pool_recommended}: ${REPORTS_CONCURRENCY} requests were seen waiting or holding a connection at once`);
		const mean = meanDurationMs('shop', ROUTES.reports);
		assert.ok(f.estimate.saving_ms > 0 && f.estimate.saving_ms < mean, `saving ${f.estimate.saving_ms} ms of a ${mean.toFixed(1)} ms request`);
	});

	test('the large shop pool, under the same load, gets no pool finding', () => {
		const wrong = findingsOf('pool-exhaustion', 'shop').filter((x) => /\/shop\b/.test(x.subject.detail || '') ||
			/\bshop pool\b/.test(texts(x)));
		assert.deepEqual(wrong.map((x) => texts(x)), []);
	});

	test('pool wait is the reports route\'s top bottleneck, as contention', () => {
		const top = data.routeBottlenecks[ROUTES.reports].bottlenecks[0];
		assert.ok(top, 'no bottleneck');
		assert.equal(top.kind, 'resource_contention', JSON.stringify(top));
	});

	test('CPU-bound shop GET /recommend/:id is found and names scoreRecommendations', () => {
		const fs_ = data.findings.filter((f) => f.subject.service === 'shop' &&
			(f.subject.endpoint === ROUTES.recommend || f.kind === 'cpu-saturation'));
		assert.ok(fs_.length, `no finding about shop's CPU; findings:\n${describeFindings(data.findings)}`);
		assert.ok(fs_.some((f) => /scoreRecommendations/.test(texts(f))), describeFindings(fs_));
	});

	test('time spent waiting on a timer is not taken for own work', () => {
		// users (25 ms), inventory, pricing and shipping answer after a setTimeout: no span
		// covers their requests' time, and their processes are next to idle
		const users = data.requests.users.filter((r) => r.endpoint.startsWith('GET '));
		const mean = users.reduce((s, r) => s + r.duration_ms, 0) / users.length;
		assert.ok(mean >= 25, `users' requests take ${mean.toFixed(1)} ms: the test needs them above the 20 ms an own-work finding asks`);
		const wrong = data.findings.filter((f) => f.kind === 'own-work' && f.subject.service !== 'shop');
		assert.deepEqual(wrong.map((f) => f.recommendation.title), []);
	});

	test('no HIGH finding on the healthy route', () => {
		const high = data.findings.filter((f) => f.priority === 'high' && f.subject.endpoint === ROUTES.health);
		assert.deepEqual(high.map((f) => f.recommendation.title), []);
	});

	// about telemetry: names its endpoints, or all its example traces are telemetry's
	const aboutTelemetry = (o, exampleIds) => TELEMETRY_PATH.test(JSON.stringify(o)) ||
		(exampleIds.length > 0 && exampleIds.every((id) => data.telemetryTraces.has(id)));

	test('the profile uploads were traced, are kept and labelled, and are no requests', () => {
		assert.ok(data.telemetryTraces.size >= 3, `${data.telemetryTraces.size} stored telemetry traces labelled: the test misses fact 7`);
		const listed = Object.values(data.requests).flat().filter((r) => data.telemetryTraces.has(r.trace_id));
		assert.deepEqual(listed.map((r) => `${r.service} ${r.endpoint}`), []);
	});

	test('no finding is about telemetry\'s own traffic', () => {
		const bad = data.findings.filter((f) => aboutTelemetry(f, f.examples || []));
		assert.deepEqual(bad.map((f) => f.recommendation.title), []);
	});

	test('no bottleneck is about telemetry\'s own traffic', () => {
		const bs = [data.bottlenecks, ...Object.values(data.routeBottlenecks)].flatMap((b) => b.bottlenecks);
		const bad = bs.filter((b) => aboutTelemetry(b, (b.examples || []).map((e) => e.trace_id)));
		assert.deepEqual(bad.map((b) => b.component), []);
	});

	test('profile uploads are not listed as slow requests', () => {
		const bad = data.slow.requests.filter((r) => aboutTelemetry(r, [r.trace_id]));
		assert.deepEqual(bad.map((r) => `${r.service} ${r.endpoint}`), []);
	});

	test('no finding says "of 0 requests" or "in 0.0 h"', () => {
		const bad = data.findings.filter((f) => /\bof 0 requests\b|\bin 0\.0 h\b/.test(texts(f)));
		assert.deepEqual(bad.map(texts), []);
	});

	test('the top bottleneck is not a framework wrapper span', () => {
		const top = data.bottlenecks.bottlenecks[0];
		assert.ok(top, 'no bottleneck');
		assert.doesNotMatch(top.name, WRAPPER_SPAN, `top bottleneck ${top.component}`);
	});

	test('no route\'s top bottleneck is a framework wrapper span', () => {
		for (const [ep, b] of Object.entries(data.routeBottlenecks)) {
			const top = b.bottlenecks[0];
			if (top) assert.doesNotMatch(top.name, WRAPPER_SPAN, `${ep}: top bottleneck ${top.component}`);
		}
	});

	test('a partial bottleneck list says which part it covers', () => {
		const b = { ...data.partialBottlenecks, bottlenecks: undefined };
		assert.equal(b.sampled, true, JSON.stringify(b));
		assert.ok(b.requests_in_range > 100, JSON.stringify(b));
		// whole traces, until the next would pass the limit
		assert.ok(b.requests > 0 && b.requests <= 100, JSON.stringify(b));
		assert.ok(b.covered_from_ms >= b.range_from_ms && b.covered_from_ms < b.covered_to_ms, JSON.stringify(b));
	});

	test('the profile flame graph of a service answers without type=', async () => {
		const r = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=shop&range=1h`);
		assert.equal(r.status, 200, r.text.slice(0, 300));
		assert.ok(r.json.total > 0);
	});

	test('the N+1 route\'s top bottleneck is the order_items statement', () => {
		const top = data.routeBottlenecks[ROUTES.orders].bottlenecks[0];
		assert.ok(top, 'no bottleneck');
		assert.equal(top.kind, 'dependency');
		assert.match(`${top.component} ${top.name} ${top.target ?? ''}`, /order_items/);
	});

	test('checkout\'s bottlenecks list each downstream service once, as the shop\'s wait', () => {
		const bs = data.routeBottlenecks[ROUTES.checkout].bottlenecks;
		for (const name of Object.keys(data.backends)) {
			const rows = bs.filter((b) => b.target === name || b.service === name);
			assert.equal(rows.length, 1, `${name}: ${JSON.stringify(rows.map((b) => b.component))}`);
			assert.equal(rows[0].service, 'shop');
			assert.equal(rows[0].kind, 'dependency');
		}
	});

	test('the plain node:http service\'s requests get templated endpoints', () => {
		const eps = [...new Set(data.requests.users.map((r) => r.endpoint))];
		assert.ok(!eps.includes('GET'), `bare "GET" endpoint: ${JSON.stringify(eps)}`);
		assert.ok(eps.length <= 2, `ids not templated: ${eps.length} endpoints, e.g. ${JSON.stringify(eps.slice(0, 5))}`);
		assert.ok(eps.some((e) => /^GET \/users\/\S+\/profile$/.test(e) && !/\d{4}/.test(e)), JSON.stringify(eps));
		assert.ok(eps.some((e) => /^GET \/sessions\/\S+$/.test(e) && !/[0-9a-f]{8}-/.test(e)), JSON.stringify(eps));
	});

	test('the timed-out quote calls are found', () => {
		const f = data.findings.find((x) => x.kind === 'timeouts' && x.subject.service === 'shop');
		assert.ok(f, `no timeouts finding on shop; findings:\n${describeFindings(data.findings)}`);
		assert.ok(f.evidence.occurrences >= 0.9 * data.sent[ROUTES.quote], `${f.evidence.occurrences} timeouts of ${data.sent[ROUTES.quote]}`);
	});

	test('the timed-out quote calls name shipping', () => {
		const f = data.findings.find((x) => x.kind === 'timeouts' && x.subject.service === 'shop');
		assert.ok(f, 'no timeouts finding');
		const s = data.backends.shipping;
		assert.match(`${f.subject.detail} ${texts(f)}`, new RegExp(`\\bshipping\\b|:${s.port}\\b`));
		// 40 of shipping's 120 calls time out; not 40 of every call to 127.0.0.1, queries included
		const calls = data.sent[ROUTES.quote] + data.sent[ROUTES.checkout];
		assert.ok(f.evidence.rate >= 0.9 * data.sent[ROUTES.quote] / calls, `timeout rate ${f.evidence.rate}`);
	});

	test('a timed-out call is external time in the phases', () => {
		const rs = data.slowQuotes.requests.filter((r) => r.phases);
		assert.ok(rs.length >= 10, `${rs.length} quote requests listed`);
		// the first calls over a cold connection may be answered before the
		// timeout fires (the event loop is busy compiling): those are the
		// callee's time, not external; every call that timed out is external
		const external = rs.filter((r) => r.phases.external_ms >= 0.5 * r.duration_ms);
		assert.ok(external.length >= 0.9 * rs.length,
			`${external.length} of ${rs.length}: ${JSON.stringify(rs.filter((r) => !external.includes(r)).map((r) => r.phases))}`);
	});

	test('slow checkouts\' waits are not put in the plugins phase', () => {
		const rs = data.slow.requests.filter((r) => r.service === 'shop' && r.endpoint === ROUTES.checkout && r.phases);
		assert.ok(rs.length >= 10, `${rs.length} slow checkouts listed`);
		for (const r of rs) assert.ok(r.phases.plugins_ms <= 0.1 * r.duration_ms, JSON.stringify(r.phases));
	});
});

/**
 * Trace ids of the requests that are telemetry's own traffic: a span of
 * the trace calls a telemetry path (profile upload, OTLP export) or
 * connects to hotpath's port.  Only requests outside the application's
 * routes are read.
 */
async function telemetryTraces(srv, shop) {
	const ids = new Set();
	for (const [, id] of shop.output.matchAll(/^telemetry-trace ([0-9a-f]{32})$/gm)) {
		const spans = (await getJson(`${srv.url}/api/v1/traces/${id}`)).json?.spans || [];
		const telemetry = (a) => TELEMETRY_PATH.test(String(a['url.path'] ?? '')) || String(a['server.port']) === String(srv.port);
		if (spans.some((sp) => sp.telemetry && telemetry(sp.attributes || {}))) ids.add(id);
	}
	return ids;
}

/** Write the API's answers and a few stored traces a route to DIR. */
async function dump(srv, data, dir) {
	fs.mkdirSync(dir, { recursive: true });
	const write = (name, v) => fs.writeFileSync(path.join(dir, name), `${JSON.stringify(v, null, 1)}\n`);
	write('recommendations.json', data.recommendations);
	write('bottlenecks.json', data.bottlenecks);
	write('bottlenecks-by-route.json', data.routeBottlenecks);
	write('slow-requests.json', data.slow);
	write('slow-requests-quote.json', data.slowQuotes);
	write('bottlenecks-limit-100.json', data.partialBottlenecks);
	write('summary.json', data.summary);
	write('requests.json', data.requests);
	const byEndpoint = {};
	for (const rs of Object.values(data.requests)) {
		for (const r of rs) (byEndpoint[`${r.service} ${r.endpoint}`] ||= []).push(r.trace_id);
	}
	const traces = {};
	for (const [ep, ids] of Object.entries(byEndpoint)) {
		traces[ep] = [];
		for (const id of ids.slice(0, 3)) traces[ep].push((await getJson(`${srv.url}/api/v1/traces/${id}`)).json);
	}
	write('traces.json', traces);
	const all = await searchTraces(srv, { range: '1h' });
	write('requests-all.json', all);
	write('profiles.json', (await getJson(`${srv.url}/api/v1/profiles?range=1h&limit=1000`)).json);
	// The metric points as stored: there is no API for raw points, so read
	// the store (read-only; sqlite3 is one of the build packages).
	const sql = `SELECT d.value AS service, s.name, s.unit, s.type, s.attrs, count(*) AS points,
		min(p.value) AS min, max(p.value) AS max, group_concat(p.value, ' ') AS "values"
		FROM metric_series s JOIN metric_points p ON p.series = s.id LEFT JOIN dict d ON d.id = s.service
		GROUP BY s.id ORDER BY service, s.name, s.attrs`;
	const metrics = execFileSync('sqlite3', ['-readonly', '-json', srv.dbPath, sql], { encoding: 'utf8', maxBuffer: 64 << 20 });
	write('metrics.json', JSON.parse(metrics || '[]'));
	write('run.json', { sent: data.sent, load_seconds: data.loadSeconds, backends: Object.fromEntries(Object.entries(data.backends).map(([k, v]) => [k, v.port])), hotpath_port: srv.port });
}
