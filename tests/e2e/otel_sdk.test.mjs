// otel_sdk.test.mjs - the real OpenTelemetry JS SDK sends traces (OTLP
// http/protobuf and http/json) and metrics to a real hotpath; every span the
// SDK finished must come back from GET /api/v1/traces/{id} exactly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
	BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';

import { startServer } from './lib/server.mjs';
import { fetchTrace, getJson, searchTraces, uniq } from './lib/util.mjs';

const KIND_NAMES = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

let srv;
before(async () => { srv = await startServer(); });
after(async () => { if (srv) await srv.stop(); });

// ------------------------------------------------------------------ helpers

/** Wrap a SpanExporter / PushMetricExporter to record every export result. */
function recording(inner) {
	const w = {
		results: [],
		exported: [],
		export(items, cb) {
			w.exported.push(items);
			inner.export(items, (r) => { w.results.push(r); cb(r); });
		},
		forceFlush: () => (inner.forceFlush ? inner.forceFlush() : Promise.resolve()),
		shutdown: () => inner.shutdown(),
	};
	if (inner.selectAggregationTemporality) w.selectAggregationTemporality = (t) => inner.selectAggregationTemporality(t);
	if (inner.selectAggregation) w.selectAggregation = (t) => inner.selectAggregation(t);
	return w;
}

function assertExportsSucceeded(rec, what) {
	assert.ok(rec.results.length > 0, `${what}: the exporter was never called`);
	rec.results.forEach((r, i) => {
		assert.equal(r.code, 0, `${what}: export #${i} failed: ${r.error?.stack || r.error}\n${srv.logs()}`);
	});
}

const hrNs = (hr) => BigInt(hr[0]) * 1000000000n + BigInt(hr[1]);

function describeValue(v) { return `${JSON.stringify(v)} (${Array.isArray(v) ? 'array' : typeof v})`; }

/** Type-aware comparison of an SDK attribute value with what the API returned. */
function assertAttrValue(got, want, where) {
	const msg = `${where}: got ${describeValue(got)}, want ${describeValue(want)}`;
	if (Array.isArray(want)) {
		assert.ok(Array.isArray(got), `${msg} (arrays must come back as JSON arrays)`);
		assert.equal(got.length, want.length, msg);
		want.forEach((w, i) => assertAttrValue(got[i], w, `${where}[${i}]`));
	} else if (typeof want === 'number') {
		assert.equal(typeof got, 'number', msg);
		assert.ok(Object.is(got, want), msg);
	} else {
		assert.equal(typeof got, typeof want, msg);
		assert.equal(got, want, msg);
	}
}

function assertAttrs(got, want, where) {
	assert.ok(got && typeof got === 'object' && !Array.isArray(got), `${where}: attributes missing or not an object: ${JSON.stringify(got)}`);
	const gotKeys = Object.keys(got).sort(), wantKeys = Object.keys(want).sort();
	assert.deepEqual(gotKeys, wantKeys, `${where}: attribute keys differ`);
	for (const k of wantKeys) assertAttrValue(got[k], want[k], `${where}.${k}`);
}

/** Compare one SDK ReadableSpan with the API's span, field by field. */
function assertSpanMatches(got, want) {
	const id = want.spanContext().spanId;
	const where = `span ${id} "${want.name}"`;
	assert.equal(got.trace_id, want.spanContext().traceId, `${where}: trace_id`);
	assert.equal(got.span_id, id, `${where}: span_id`);
	assert.equal(got.parent_span_id, want.parentSpanContext?.spanId ?? '', `${where}: parent_span_id`);
	assert.equal(got.name, want.name, `${where}: name`);
	assert.equal(got.kind, want.kind + 1, `${where}: kind (OTLP numbering, SDK kind ${want.kind})`);
	assert.equal(got.kind_name, KIND_NAMES[want.kind + 1], `${where}: kind_name`);
	assert.equal(got.status?.code, want.status.code, `${where}: status.code`);
	assert.equal(got.status?.message ?? '', want.status.message ?? '', `${where}: status.message`);
	assert.equal(got.start_ns, String(hrNs(want.startTime)), `${where}: start_ns (exact)`);
	assert.equal(got.end_ns, String(hrNs(want.endTime)), `${where}: end_ns (exact)`);
	const startMs = Number(hrNs(want.startTime)) / 1e6;
	assert.ok(Math.abs(got.start_ms - startMs) < 0.01, `${where}: start_ms ${got.start_ms}, want ~${startMs}`);
	const durMs = Number(hrNs(want.endTime) - hrNs(want.startTime)) / 1e6;
	assert.ok(Math.abs(got.duration_ms - durMs) < 1e-6 + durMs * 1e-9, `${where}: duration_ms ${got.duration_ms}, want ${durMs}`);
	assert.equal(got.service, want.resource.attributes['service.name'], `${where}: service`);
	assertAttrs(got.resource, want.resource.attributes, `${where}: resource`);
	assert.equal(got.scope?.name, want.instrumentationScope.name, `${where}: scope.name`);
	assert.equal(got.scope?.version ?? '', want.instrumentationScope.version ?? '', `${where}: scope.version`);
	assertAttrs(got.attributes, want.attributes, `${where}: attributes`);

	assert.ok(Array.isArray(got.events), `${where}: events is not an array: ${JSON.stringify(got.events)}`);
	assert.equal(got.events.length, want.events.length, `${where}: number of events`);
	want.events.forEach((we, i) => {
		const ge = got.events[i];
		assert.equal(ge.name, we.name, `${where}: events[${i}].name`);
		assert.equal(ge.time_ns, String(hrNs(we.time)), `${where}: events[${i}].time_ns (exact)`);
		assertAttrs(ge.attributes ?? {}, we.attributes ?? {}, `${where}: events[${i}]("${we.name}")`);
	});

	assert.ok(Array.isArray(got.links), `${where}: links is not an array: ${JSON.stringify(got.links)}`);
	assert.equal(got.links.length, want.links.length, `${where}: number of links`);
	want.links.forEach((wl, i) => {
		const gl = got.links[i];
		assert.equal(gl.trace_id, wl.context.traceId, `${where}: links[${i}].trace_id`);
		assert.equal(gl.span_id, wl.context.spanId, `${where}: links[${i}].span_id`);
		assertAttrs(gl.attributes ?? {}, wl.attributes ?? {}, `${where}: links[${i}]`);
	});
}

/**
 * A realistic request: SERVER root, then validation, a DB call, an LLM call
 * with a tool execution under it, a failing payment call and a Kafka
 * publish with a link.  `rootStatus` is set on the root.
 */
function emitCheckout(tracer, { rootStatus }) {
	const under = (span) => trace.setSpan(context.active(), span);
	const nowSec = Math.floor(Date.now() / 1000);
	const root = tracer.startSpan('POST /api/checkout', {
		kind: SpanKind.SERVER,
		attributes: {
			'http.request.method': 'POST',
			'http.route': '/api/checkout',
			'url.path': '/api/checkout',
			'url.scheme': 'https',
			'server.address': 'shop.example.com',
			'http.response.status_code': rootStatus.code === SpanStatusCode.ERROR ? 502 : 200,
			'user_agent.original': 'e2e/1.0',
			'app.cart.items': 3,
			'app.cart.total': 129.95,
			'app.ratio': 1 / 3,
			'app.negative': -42,
			'app.user.premium': true,
			'app.user.trial': false,
			'app.tags': ['checkout', 'mobile', 'eu'],
			'app.ids': [1, 2, 3],
			'app.weights': [0.5, 1.25, -3.75],
			'app.flags': [true, false, true],
			'app.note': 'naïve café — 日本語 "quoted" \\ back\\slash\nnew line\ttab',
		},
	});
	root.addEvent('request.received', { 'app.bytes': 512, 'app.compressed': false });

	const validate = tracer.startSpan('validate cart', { kind: SpanKind.INTERNAL, attributes: { 'app.rules': 12 } }, under(root));
	validate.end();

	const db = tracer.startSpan('SELECT shop.orders', {
		kind: SpanKind.CLIENT,
		attributes: {
			'db.system': 'postgresql',
			'db.system.name': 'postgresql',
			'db.namespace': 'shop',
			'db.operation.name': 'SELECT',
			'db.collection.name': 'orders',
			'db.query.text': 'SELECT id, total FROM orders WHERE user_id = $1 AND status = \'open\'',
			'server.address': 'db.internal',
			'server.port': 5432,
		},
	}, under(root));
	db.addEvent('rows.fetched', { 'db.rows': 17 });
	db.end();

	const llm = tracer.startSpan('chat gpt-4o', {
		kind: SpanKind.CLIENT,
		attributes: {
			'gen_ai.system': 'openai',
			'gen_ai.operation.name': 'chat',
			'gen_ai.request.model': 'gpt-4o',
			'gen_ai.response.model': 'gpt-4o-2024-08-06',
			'gen_ai.request.temperature': 0.2,
			'gen_ai.usage.input_tokens': 1234,
			'gen_ai.usage.output_tokens': 567,
			'gen_ai.response.finish_reasons': ['stop'],
		},
	}, under(root));
	const tool = tracer.startSpan('execute_tool database-query', {
		kind: SpanKind.INTERNAL,
		attributes: { 'gen_ai.tool.name': 'database-query', 'gen_ai.operation.name': 'execute_tool' },
	}, under(llm));
	tool.end();
	llm.end();

	const pay = tracer.startSpan('POST payments', {
		kind: SpanKind.CLIENT,
		attributes: {
			'http.request.method': 'POST',
			'url.full': 'https://payments.example.com/v2/charge',
			'server.address': 'payments.example.com',
			'http.response.status_code': 402,
			'error.type': 'PaymentDeclined',
		},
	}, under(root));
	const err = new Error('card declined: insufficient funds');
	err.name = 'PaymentDeclined';
	pay.recordException(err);
	pay.setStatus({ code: SpanStatusCode.ERROR, message: 'payment declined' });
	pay.end();

	const other = { traceId: crypto.randomBytes(16).toString('hex'), spanId: crypto.randomBytes(8).toString('hex'), traceFlags: 1 };
	const publish = tracer.startSpan('orders publish', {
		kind: SpanKind.PRODUCER,
		attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders', 'messaging.batch.message_count': 2 },
		links: [{ context: other, attributes: { 'link.reason': 'batched-with', 'link.index': 0 } }],
	}, under(root));
	publish.end();

	// explicit times with odd nanoseconds, to check exactness
	const precise = tracer.startSpan('render receipt', {
		kind: SpanKind.INTERNAL,
		startTime: [nowSec, 123456789],
	}, under(root));
	precise.addEvent('template.loaded', { 'template.name': 'receipt' }, [nowSec, 223456791]);
	precise.end([nowSec, 987654321]);

	const consumer = tracer.startSpan('orders process', {
		kind: SpanKind.CONSUMER,
		attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'process' },
	}, under(publish));
	consumer.end();

	root.setStatus(rootStatus);
	root.end();
	return { traceId: root.spanContext().traceId, rootSpanId: root.spanContext().spanId };
}

/** Send one trace through `ProviderClass` + `exporter`; return what the SDK finished. */
async function sendTrace({ ProviderClass, exporter, batch, service, rootStatus }) {
	const resourceAttrs = {
		'service.name': service,
		'service.version': '2.4.0',
		'deployment.environment.name': 'staging',
		department: 'payments-team',
		'host.name': 'e2e-host',
		'service.instance.id': crypto.randomUUID(),
	};
	const memory = new InMemorySpanExporter();
	const rec = recording(exporter);
	const provider = new ProviderClass({
		resource: resourceFromAttributes(resourceAttrs),
		spanProcessors: [
			batch ? new BatchSpanProcessor(rec, { scheduledDelayMillis: 60000 }) : new SimpleSpanProcessor(rec),
			new SimpleSpanProcessor(memory),
		],
	});
	const tracer = provider.getTracer('e2e-checkout', '1.2.3');
	const ids = emitCheckout(tracer, { rootStatus });
	await provider.forceFlush();
	const finished = memory.getFinishedSpans().filter((s) => s.spanContext().traceId === ids.traceId);
	await provider.shutdown();
	assertExportsSucceeded(rec, `${service} trace export`);
	const exportedCount = rec.exported.reduce((n, b) => n + b.length, 0);
	assert.equal(exportedCount, finished.length, 'the OTLP exporter did not get every finished span');
	return { ...ids, finished, resourceAttrs };
}

async function checkStoredTrace(sent) {
	const spans = await fetchTrace(srv, sent.traceId);
	assert.ok(spans, `GET /api/v1/traces/${sent.traceId} answered 404 after a successful export\n${srv.logs()}`);
	const byId = new Map(spans.map((s) => [s.span_id, s]));
	assert.equal(spans.length, sent.finished.length,
		`span count: got ${spans.length} [${spans.map((s) => s.name).join(', ')}], want ${sent.finished.length}`);
	for (const want of sent.finished) {
		const got = byId.get(want.spanContext().spanId);
		assert.ok(got, `span "${want.name}" (${want.spanContext().spanId}) missing from the stored trace`);
		assertSpanMatches(got, want);
	}
	// ordered by start time
	for (let i = 1; i < spans.length; i++) {
		assert.ok(BigInt(spans[i - 1].start_ns) <= BigInt(spans[i].start_ns),
			`spans not ordered by start time at index ${i}: ${spans[i - 1].start_ns} > ${spans[i].start_ns}`);
	}
}

async function checkSearch(sent, service, wantStatus) {
	const root = sent.finished.find((s) => s.spanContext().spanId === sent.rootSpanId);
	const list = await searchTraces(srv, { service, range: '1h' });
	const hit = list.filter((t) => t.span_id === sent.rootSpanId);
	assert.equal(hit.length, 1,
		`GET /api/v1/traces?service=${service}: want the root span once, got ${JSON.stringify(list).slice(0, 800)}`);
	// entry spans are root spans and SERVER/CONSUMER spans: the CONSUMER child is one too
	const consumer = sent.finished.find((s) => s.kind === SpanKind.CONSUMER);
	assert.ok(list.some((t) => t.span_id === consumer.spanContext().spanId),
		`GET /api/v1/traces?service=${service}: the CONSUMER span "${consumer.name}" is not listed as an entry span: ${JSON.stringify(list).slice(0, 800)}`);
	assert.equal(list.length, 2, `GET /api/v1/traces?service=${service}: want exactly the SERVER root and the CONSUMER span, got ${list.map((x) => x.name).join(', ')}`);
	const t = hit[0];
	assert.equal(t.trace_id, sent.traceId, 'search: trace_id');
	assert.equal(t.span_id, sent.rootSpanId, 'search: span_id is the root');
	assert.equal(t.name, 'POST /api/checkout', 'search: name');
	assert.equal(t.service, service, 'search: service');
	assert.equal(t.env, 'staging', 'search: env (deployment.environment.name)');
	assert.equal(t.version, '2.4.0', 'search: version (service.version)');
	assert.equal(t.start_ns, String(hrNs(root.startTime)), 'search: start_ns');
	const durMs = Number(hrNs(root.endTime) - hrNs(root.startTime)) / 1e6;
	assert.ok(Math.abs(t.duration_ms - durMs) < 1e-3, `search: duration_ms ${t.duration_ms}, want ${durMs}`);
	assert.equal(t.status, wantStatus, 'search: status of the root');
	for (const x of list) assert.equal(x.service, service, `search by service returned another service: ${JSON.stringify(x)}`);

	const byDept = await searchTraces(srv, { service, department: 'payments-team', range: '1h' });
	assert.ok(byDept.some((x) => x.trace_id === sent.traceId), 'department=payments-team (resource attribute `department`) does not find the trace');
	const byOtherDept = await searchTraces(srv, { service, department: 'no-such-team', range: '1h' });
	assert.equal(byOtherDept.length, 0, `department=no-such-team still finds ${JSON.stringify(byOtherDept).slice(0, 300)}`);
	const byEnv = await searchTraces(srv, { service, env: 'staging', version: '2.4.0', range: '1h' });
	assert.ok(byEnv.some((x) => x.trace_id === sent.traceId), 'env=staging&version=2.4.0 does not find the trace');
	const byOtherEnv = await searchTraces(srv, { service, env: 'production', range: '1h' });
	assert.equal(byOtherEnv.length, 0, `env=production still finds ${JSON.stringify(byOtherEnv).slice(0, 300)}`);
}

// -------------------------------------------------------------------- tests

describe('traces from the OpenTelemetry JS SDK', () => {
	test('http/protobuf exporter, BasicTracerProvider + BatchSpanProcessor: every span stored exactly', async () => {
		const service = uniq('checkout-proto');
		const exporter = new ProtoTraceExporter({ url: `${srv.url}/v1/traces` });
		const sent = await sendTrace({
			ProviderClass: BasicTracerProvider, exporter, batch: true, service,
			rootStatus: { code: SpanStatusCode.ERROR, message: 'upstream payment failure' },
		});
		assert.equal(sent.finished.length, 9, 'the SDK finished 9 spans');
		await checkStoredTrace(sent);
		await checkSearch(sent, service, 'error');
	});

	test('http/json exporter, NodeTracerProvider + SimpleSpanProcessor: every span stored exactly', async () => {
		const service = uniq('checkout-json');
		const exporter = new JsonTraceExporter({ url: `${srv.url}/v1/traces` });
		const sent = await sendTrace({
			ProviderClass: NodeTracerProvider, exporter, batch: false, service,
			rootStatus: { code: SpanStatusCode.OK },
		});
		assert.equal(sent.finished.length, 9, 'the SDK finished 9 spans');
		await checkStoredTrace(sent);
		await checkSearch(sent, service, 'ok');
	});
});

describe('metrics from the OpenTelemetry JS SDK', () => {
	for (const [label, Exporter] of [['http/protobuf', ProtoMetricExporter], ['http/json', JsonMetricExporter]]) {
		test(`${label} metric exporter: counter, up/down counter, histogram, gauges accepted`, async () => {
			const service = uniq(`metrics-${label.replace('/', '-')}`);
			const rec = recording(new Exporter({ url: `${srv.url}/v1/metrics` }));
			const provider = new MeterProvider({
				resource: resourceFromAttributes({ 'service.name': service, 'service.version': '1.0.0', 'deployment.environment.name': 'staging', department: 'payments-team' }),
				readers: [new PeriodicExportingMetricReader({ exporter: rec, exportIntervalMillis: 600000, exportTimeoutMillis: 30000 })],
			});
			const meter = provider.getMeter('e2e-metrics', '0.1.0');
			const requests = meter.createCounter('http.server.requests', { unit: '{request}' });
			const inflight = meter.createUpDownCounter('http.server.active_requests', { unit: '{request}' });
			const latency = meter.createHistogram('http.server.request.duration', { unit: 's' });
			const pool = meter.createGauge('db.client.connection.count', { unit: '{connection}' });
			const cpu = meter.createObservableGauge('process.cpu.utilization', { unit: '1' });
			cpu.addCallback((r) => { r.observe(0.45, { 'cpu.mode': 'user' }); r.observe(0.05, { 'cpu.mode': 'system' }); });
			for (let i = 0; i < 50; i++) {
				const attrs = { 'http.route': i % 2 ? '/api/orders' : '/api/checkout', 'http.request.method': 'GET' };
				requests.add(1, attrs);
				inflight.add(i % 3 ? 1 : -1);
				latency.record(0.005 * (i + 1), attrs);
			}
			pool.record(8, { 'db.client.connection.state': 'used' });
			pool.record(2, { 'db.client.connection.state': 'idle' });
			await provider.forceFlush();
			assertExportsSucceeded(rec, `${label} metrics export`);
			const names = rec.exported.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.descriptor.name)));
			for (const n of ['http.server.requests', 'http.server.active_requests', 'http.server.request.duration', 'db.client.connection.count', 'process.cpu.utilization']) {
				assert.ok(names.includes(n), `metric ${n} was not exported (exported: ${names.join(', ')})`);
			}
			await provider.shutdown();
			assertExportsSucceeded(rec, `${label} metrics export at shutdown`);

			const m = await fetch(`${srv.url}/metrics`);
			const text = await m.text();
			assert.equal(m.status, 200, `GET /metrics: ${m.status} ${text.slice(0, 300)}`);
			assert.match(text, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [0-9.eE+-]+$/m, 'GET /metrics is not Prometheus text format');
		});
	}
});

test('server is still healthy after the SDK runs', async () => {
	const r = await getJson(`${srv.url}/health`);
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json?.status, 'ok', `GET /health body: ${r.text}`);
});
