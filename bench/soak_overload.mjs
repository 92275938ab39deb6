// soak_overload.mjs - overload: many clients post OTLP/JSON batches as fast
// as they can for a while.  Every answer must be 200, or 503/429 with
// Retry-After; the server's RSS is sampled (its pid given), and after the
// load stops the time until a post is accepted again is measured.
//
//   node bench/soak_overload.mjs --target http://127.0.0.1:4318 --pid PID
//        [--clients 64] [--seconds 60] [--spans 500] [--key KEY]
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
	if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
	return acc;
}, []));
const target = new URL(args.target || 'http://127.0.0.1:4318');
const clients = Number(args.clients || 64);
const seconds = Number(args.seconds || 60);
const spansPer = Number(args.spans || 500);
const pid = args.pid;
const auth = args.key ? { authorization: `Bearer ${args.key}` } : {};

function batch() {
	const now = BigInt(Date.now()) * 1000000n;
	const tid = crypto.randomBytes(16).toString('hex');
	const spans = Array.from({ length: spansPer }, (_, i) => ({
		traceId: tid, spanId: crypto.randomBytes(8).toString('hex'), name: i ? 'SELECT items' : 'GET /overload', kind: i ? 3 : 2,
		startTimeUnixNano: String(now - 5000000n), endTimeUnixNano: String(now),
		attributes: [{ key: 'http.route', value: { stringValue: '/overload' } }],
	}));
	return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'overload' } }] }, scopeSpans: [{ spans }] }] });
}

function post(body) {
	return new Promise((resolve) => {
		const req = http.request({ host: target.hostname, port: target.port, path: '/v1/traces', method: 'POST', timeout: 30000,
			headers: { ...auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
			res.resume();
			res.on('end', () => resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] }));
		});
		req.on('timeout', () => req.destroy(new Error('timeout')));
		req.on('error', (e) => resolve({ status: 0, error: e.code || e.message }));
		req.end(body);
	});
}

// VmRSS, or RssAnon: the process's own memory, without the pages of the
// store's file it maps (which the kernel may drop at any time)
const rss = (field = 'VmRSS') => {
	try { return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024; } catch { return NaN; }
};

const counts = {};
let bad = 0, spans = 0, maxRss = 0;
const bodies = Array.from({ length: 16 }, batch);
const end = Date.now() + seconds * 1000;
let maxAnon = 0;
const sampler = setInterval(() => {
	maxRss = Math.max(maxRss, rss() || 0);
	maxAnon = Math.max(maxAnon, rss('RssAnon') || 0);
}, 250);
await Promise.all(Array.from({ length: clients }, async (_, c) => {
	for (let i = c; Date.now() < end; i++) {
		const r = await post(bodies[i % bodies.length]);
		const k = r.status ? String(r.status) : `error ${r.error}`;
		counts[k] = (counts[k] || 0) + 1;
		if (r.status === 200) spans += spansPer;
		else if (!((r.status === 503 || r.status === 429) && r.retryAfter)) bad++;
		else await new Promise((res) => setTimeout(res, Number(r.retryAfter) * 1000 * Math.random()));
	}
}));
clearInterval(sampler);
const t0 = Date.now();
let recovered = null;
while (Date.now() - t0 < 60000) {
	if ((await post(batch())).status === 200) { recovered = Date.now() - t0; break; }
	await new Promise((res) => setTimeout(res, 100));
}
console.log(`answers: ${JSON.stringify(counts)}; not 200 nor 503/429 with Retry-After: ${bad}`);
console.log(`accepted: ${spans} spans in ${seconds} s (${Math.round(spans / seconds)} spans/s)`);
console.log(`server RSS: max ${(maxRss / 1048576).toFixed(0)} MiB sampled every 250 ms, ${(rss() / 1048576).toFixed(0)} MiB after`);
console.log(`server anonymous RSS (without the mapped store file): max ${(maxAnon / 1048576).toFixed(0)} MiB, ${(rss('RssAnon') / 1048576).toFixed(0)} MiB after`);
console.log(`recovery: a post accepted ${recovered === null ? 'not within 60 s' : `${recovered} ms`} after the load stopped`);
process.exit(bad || recovered === null ? 1 : 0);
