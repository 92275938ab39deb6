// load.mjs - a Node process reporting its resources as a user's would:
// @opentelemetry/host-metrics and @opentelemetry/instrumentation-runtime-node
// on a MeterProvider exporting OTLP/HTTP protobuf every 500 ms to
// $OTEL_EXPORTER_OTLP_ENDPOINT, as $OTEL_SERVICE_NAME, instance $INSTANCE.
//
// It idles until a line "busy" arrives on stdin, then keeps one core busy
// (50 ms of work, then a turn of the event loop, so the exporters still
// run) until "idle"; "heap" also holds 64 MiB of live objects; "mark"
// prints "cpu <µs of CPU used so far> <unix ms>".  It prints "ready" once
// the first export went out.
import readline from 'node:readline';
import { metrics } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { HostMetrics } from '@opentelemetry/host-metrics';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
const provider = new MeterProvider({
	resource: resourceFromAttributes({
		'service.name': process.env.OTEL_SERVICE_NAME,
		'service.instance.id': process.env.INSTANCE,
		'deployment.environment.name': 'e2e',
	}),
	readers: [new PeriodicExportingMetricReader({
		exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }),
		exportIntervalMillis: 500,
	})],
});
metrics.setGlobalMeterProvider(provider);
new HostMetrics({ meterProvider: provider, name: 'host-metrics' }).start();
const runtime = new RuntimeNodeInstrumentation({ monitoringPrecision: 100 });
runtime.setMeterProvider(provider);
runtime.enable();

let busy = false;
let held = [];
function work() {
	if (!busy) return;
	const end = Date.now() + 50;
	let x = 0;
	while (Date.now() < end) x += Math.sqrt(x + 1);
	setImmediate(work);
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
	if (line === 'busy' && !busy) {
		busy = true;
		work();
	} else if (line === 'idle') {
		busy = false;
	} else if (line === 'mark') {
		const u = process.cpuUsage();
		console.log(`cpu ${u.user + u.system} ${Date.now()}`);
	} else if (line === 'heap') {
		held = Array.from({ length: 64 }, () => new Array(131072).fill(1.5));
	}
});

setTimeout(async () => {
	await provider.forceFlush();
	console.log('ready');
}, 600);

process.once('SIGTERM', async () => {
	held = null;
	await provider.shutdown();
	process.exit(0);
});
