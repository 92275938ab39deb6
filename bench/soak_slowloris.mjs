// soak_slowloris.mjs - the slowloris check of docs/PERFORMANCE.md: many
// connections that trickle a header byte now and then (reopened when the
// server closes them), from several loopback addresses, while a normal
// client on 127.0.0.1 asks /health and posts a small OTLP request every
// 500 ms.  Prints the normal client's latencies and failures, and the
// server's connection and refusal counters.
//
//   node bench/soak_slowloris.mjs --target http://127.0.0.1:4318 [--conns 2000]
//        [--addresses 8] [--seconds 60] [--trickle-ms 5000] [--key KEY]
//
// The addresses are 127.0.0.2 ... 127.0.0.(1+addresses): Linux routes all
// of 127/8 to loopback, so each is a client address of its own.
import http from 'node:http';
import net from 'node:net';
import crypto from 'node:crypto';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
	if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
	return acc;
}, []));
const target = new URL(args.target || 'http://127.0.0.1:4318');
const conns = Number(args.conns || 2000);
const addresses = Number(args.addresses || 8);
const seconds = Number(args.seconds || 60);
const trickleMs = Number(args['trickle-ms'] || 5000);
const auth = args.key ? { authorization: `Bearer ${args.key}` } : {};

let open = 0, opened = 0, closed = 0, stopping = false;
const socks = new Set();

function attacker(i) {
	if (stopping) return;
	const s = net.connect({ port: Number(target.port), host: target.hostname, localAddress: `127.0.0.${2 + (i % addresses)}` });
	let timer = null;
	s.on('connect', () => {
		open++;
		opened++;
		s.write(`GET /health HTTP/1.1\r\nHost: ${target.host}\r\n`);
		timer = setInterval(() => s.write('X'), trickleMs); // a header that never ends
	});
	s.on('error', () => {});
	s.on('close', (hadConnect) => {
		if (timer) { clearInterval(timer); open--; }
		closed++;
		socks.delete(s);
		if (!stopping) setTimeout(() => attacker(i), 200 + Math.random() * 800);
	});
	socks.add(s);
}

function call(method, path, body) {
	return new Promise((resolve) => {
		const t0 = process.hrtime.bigint();
		const req = http.request({
			host: target.hostname, port: target.port, path, method, agent: false, timeout: 5000,
			headers: { ...auth, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
		}, (res) => {
			res.resume();
			res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
		});
		req.on('timeout', () => req.destroy(new Error('timeout')));
		req.on('error', (e) => resolve({ status: 0, ms: Number(process.hrtime.bigint() - t0) / 1e6, error: e.message }));
		if (body) req.write(body);
		req.end();
	});
}

function otlp() {
	const now = BigInt(Date.now()) * 1000000n;
	return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'soak' } }] },
		scopeSpans: [{ spans: [{ traceId: crypto.randomBytes(16).toString('hex'), spanId: crypto.randomBytes(8).toString('hex'),
			name: 'GET /soak', kind: 2, startTimeUnixNano: String(now - 1000000n), endTimeUnixNano: String(now) }] }] }] });
}

const quantile = (v, q) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN; };

async function main() {
	for (let i = 0; i < conns; i++) {
		attacker(i);
		if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
	}
	await new Promise((r) => setTimeout(r, 2000));
	const health = [], ingest = [];
	let failures = 0;
	const end = Date.now() + seconds * 1000;
	while (Date.now() < end) {
		const [h, p] = await Promise.all([call('GET', '/health'), call('POST', '/v1/traces', otlp())]);
		health.push(h.ms);
		ingest.push(p.ms);
		if (h.status !== 200 || h.ms > 1000) failures++;
		if (p.status !== 200 || p.ms > 1000) failures++;
		await new Promise((r) => setTimeout(r, 500));
	}
	const m = await new Promise((resolve) => {
		const req = http.get({ host: target.hostname, port: target.port, path: '/metrics', headers: auth, timeout: 5000 }, (res) => {
			let t = '';
			res.on('data', (c) => { t += c; });
			res.on('end', () => resolve(t));
		});
		req.on('timeout', () => req.destroy(new Error('timeout')));
		req.on('error', () => resolve(''));
	});
	stopping = true;
	for (const s of socks) s.destroy();
	const pick = (re) => (m.match(re) || [])[1] || '?';
	console.log(`attacker connections: ${conns} wanted from ${addresses} addresses, ${open} open at the end, ${opened} opened, ${closed} closed`);
	console.log(`normal client: ${health.length} health checks, ${ingest.length} ingest posts, ${failures} failed or slower than 1 s`);
	console.log(`health ms: median ${quantile(health, 0.5).toFixed(1)}, p99 ${quantile(health, 0.99).toFixed(1)}, max ${Math.max(...health).toFixed(1)}`);
	console.log(`ingest ms: median ${quantile(ingest, 0.5).toFixed(1)}, p99 ${quantile(ingest, 0.99).toFixed(1)}, max ${Math.max(...ingest).toFixed(1)}`);
	console.log(`server: hotpath_http_connections ${pick(/^hotpath_http_connections (\d+)/m)}, refused connection_limit ${pick(/reason="connection_limit"\} (\d+)/)}`);
	process.exit(failures ? 1 : 0);
}

main();
