// otel.mjs - the OpenTelemetry set-up a user of the Node SDK would write,
// loaded before the application with `node --import ./otel.mjs app.mjs`.
//
// Traces and metrics go out as OTLP/HTTP protobuf to $OTEL_EXPORTER_OTLP_ENDPOINT
// (the hotpath under test); the service is $OTEL_SERVICE_NAME.  Spans are
// batched with a short delay and metrics exported every second, so a short
// test sees them; SIGTERM shuts the SDK down, which flushes both.  With
// $PYROSCOPE_URL set the process also pushes its CPU and heap profiles there,
// through the instrumented fetch, as @pyroscope/nodejs does in production.
import { register } from 'node:module';
import { createRequire } from 'node:module';
import { metrics } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { HostMetrics } from '@opentelemetry/host-metrics';

// ES modules are instrumented through import-in-the-middle's loader hook.
register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

// Not a user's: the test's own look at which traces hold the profiler's
// uploads, printed as "telemetry-trace <id>", since hotpath lists no such
// trace among the requests.
const telemetryLog = {
	onStart() {},
	onEnd(span) {
		if (/\/ingest\?/.test(String(span.attributes['url.full'] ?? ''))) {
			console.log(`telemetry-trace ${span.spanContext().traceId}`);
		}
	},
	forceFlush: async () => {},
	shutdown: async () => {},
};

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
const sdk = new NodeSDK({
	spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }), {
		scheduledDelayMillis: 200, maxExportBatchSize: 512, maxQueueSize: 65536,
	}), telemetryLog],
	metricReader: new PeriodicExportingMetricReader({
		exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }),
		exportIntervalMillis: 1000,
	}),
	instrumentations: [getNodeAutoInstrumentations()],
});
sdk.start();
new HostMetrics({ meterProvider: metrics.getMeterProvider(), name: 'host-metrics' }).start();

let Pyroscope = null;
if (process.env.PYROSCOPE_URL) {
	Pyroscope = createRequire(import.meta.url)('@pyroscope/nodejs');
	Pyroscope.init({
		serverAddress: process.env.PYROSCOPE_URL,
		appName: process.env.OTEL_SERVICE_NAME,
		tags: { version: process.env.APP_VERSION || '1.0.0' },
		flushIntervalMs: 2000,
		wall: { samplingDurationMs: 2000, samplingIntervalMicros: 1000, collectCpuTime: true },
	});
	Pyroscope.start();
}

process.once('SIGTERM', async () => {
	try {
		if (Pyroscope) await Pyroscope.stop();
		await sdk.shutdown();
	} catch (e) {
		console.error('telemetry shutdown failed:', e);
		process.exit(1);
	}
	process.exit(0);
});
