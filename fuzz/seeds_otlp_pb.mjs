// seeds_otlp_pb.mjs - OTLP protobuf requests serialized by the real
// OpenTelemetry JS SDK (tests/node_modules), written to
// fuzz/corpus/fuzz_otlp_pb/sdk-js-{traces,metrics}.bin.  They seed the fuzzer
// and are the real-client vectors of tests/unit/ingest/test_otlp_pb.c, which checks
// the values set below; regenerate both together.
//
//   node fuzz/seeds_otlp_pb.mjs      (from the repository root)
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const api = require('@opentelemetry/api');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ProtobufTraceSerializer, ProtobufMetricsSerializer } = require('@opentelemetry/otlp-transformer');

const out = new URL('corpus/fuzz_otlp_pb/', import.meta.url);
const resource = resourceFromAttributes({
	'service.name': 'js-shop',
	'service.version': '2.0.1',
	'deployment.environment.name': 'staging',
});

// Traces: a server span with every attribute kind the API allows, an event
// and an error status; a client child with a link back to it.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('shop-lib', '0.3.0');
const t0 = 1700000000000; // ms
const root = tracer.startSpan('GET /checkout', { kind: api.SpanKind.SERVER, startTime: t0 });
root.setAttributes({
	'http.request.method': 'GET',
	'http.response.status_code': 500,
	'app.ratio': 0.75,
	'app.cached': false,
	'app.tags': ['a', 'b'],
	'app.codes': [1, 2, 3],
});
root.addEvent('exception', { 'exception.type': 'Timeout' }, t0 + 5);
root.setStatus({ code: api.SpanStatusCode.ERROR, message: 'upstream timeout' });
const ctx = api.trace.setSpan(api.context.active(), root);
const child = tracer.startSpan('SELECT orders', {
	kind: api.SpanKind.CLIENT,
	startTime: t0 + 1,
	links: [{ context: root.spanContext(), attributes: { 'link.kind': 'follows' } }],
}, ctx);
child.setAttribute('db.system.name', 'postgresql');
child.end(t0 + 3);
root.end(t0 + 10);
writeFileSync(new URL('sdk-js-traces.bin', out), ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans()));

// Metrics: an int counter, a double gauge, a histogram with default buckets.
class Reader extends MetricReader {
	async onForceFlush() {}
	async onShutdown() {}
}
const reader = new Reader();
const meters = new MeterProvider({ resource, readers: [reader] });
const meter = meters.getMeter('shop-metrics', '1.0.0');
const requests = meter.createCounter('http.requests', { unit: '{request}', valueType: api.ValueType.INT });
requests.add(5, { route: '/checkout' });
requests.add(2, { route: '/checkout' });
meter.createObservableGauge('queue.depth', { unit: '{item}' })
	.addCallback((r) => r.observe(7.5, { queue: 'orders' }));
const latency = meter.createHistogram('http.duration', { unit: 'ms' });
for (const v of [3, 12, 12, 700]) latency.record(v, { route: '/checkout' });
const { resourceMetrics } = await reader.collect();
writeFileSync(new URL('sdk-js-metrics.bin', out), ProtobufMetricsSerializer.serializeRequest(resourceMetrics));
