// soak_ingest.mjs - clients post OTLP/JSON batches (one trace of N spans
// each) for a while, in one of two modes:
//
//   overload (default): as fast as they can.  Every answer must be 200, or
//     503/429 with Retry-After; after the load stops, the time until a post
//     is accepted again is measured.
//   soak (--rate R): R spans a second in all, evenly paced.  Every answer
//     must be 200.  A reader asks GET /api/v1/performance/summary every 10 s (must be
//     200), and every --report seconds a line says what the interval took:
//     spans accepted, the server's memory, the store's bytes on disk, and
//     what retention deleted (from /metrics).
//
// The server's RSS is sampled every 250 ms (its pid given); with --data
// the bytes of the store's directory are sampled as well.
//
//   node bench/soak_ingest.mjs --target http://127.0.0.1:4318 --pid PID
//        [--clients 64] [--seconds 60] [--spans 500] [--key KEY]
//        [--rate SPANS_PER_S] [--data DIR] [--report 300]
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
	if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
	return acc;
}, []));
const target = new URL(args.target || 'http://127.0.0.1:4318');
const clients = Number(args.clients || 64);
const seconds = Number(args.seconds || 60);
const spansPer = Number(args.spans || 500);
const rate = Number(args.rate || 0);
const reportS = Number(args.report || 300);
const pid = args.pid;
const auth = args.key ? { authorization: `Bearer ${args.key}` } : {};

// a trace: the server span and spansPer-1 client spans under it, of a
// few operations with durations of 1-20 ms
const OPS = ['SELECT items', 'SELECT prices', 'UPDATE carts', 'GET /inventory', 'redis GET'];
function batch(tid = crypto.randomBytes(16).toString('hex')) {
	const now = BigInt(Date.now()) * 1000000n;
	const root = crypto.randomBytes(8).toString('hex');
	const spans = Array.from({ length: spansPer }, (_, i) => {
		const d = BigInt(1000000 + Math.floor(Math.random() * 19000000));
		return {
			traceId: tid, spanId: i ? crypto.randomBytes(8).toString('hex') : root, ...(i && { parentSpanId: root }),
			name: i ? OPS[i % OPS.length] : 'GET /overload', kind: i ? 3 : 2,
			startTimeUnixNano: String(now - 25000000n), endTimeUnixNano: String(now - 25000000n + (i ? d : 25000000n)),
			attributes: [{ key: 'http.route', value: { stringValue: '/overload' } }],
		};
	});
	return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'overload' } }] }, scopeSpans: [{ spans }] }] });
}

function request(method, urlPath, body) {
	return new Promise((resolve) => {
		const headers = { ...auth };
		if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
		const req = http.request({ host: target.hostname, port: target.port, path: urlPath, method, timeout: 30000, headers }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'], body: Buffer.concat(chunks).toString() }));
		});
		req.on('timeout', () => req.destroy(new Error('timeout')));
		req.on('error', (e) => resolve({ status: 0, error: e.code || e.message }));
		req.end(body);
	});
}
const post = (body) => request('POST', '/v1/traces', body);
const sleep = (ms) => new Promise((res) => setTimeout(res, Math.max(0, ms)));

// VmRSS, or RssAnon: the process's own memory, without the pages of the
// store's file it maps (which the kernel may drop at any time)
const rss = (field = 'VmRSS') => {
	try { return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024; } catch { return NaN; }
};
// bytes the files under dir take on disk
const diskBytes = (dir) => fs.readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => {
	const p = path.join(dir, e.name);
	return sum + (e.isDirectory() ? diskBytes(p) : fs.statSync(p).blocks * 512);
}, 0);
const mib = (b) => (b / 1048576).toFixed(0);

async function retentionDeleted() {
	const r = await request('GET', '/metrics');
	let n = 0;
	for (const m of (r.body || '').matchAll(/^hotpath_retention_deleted_total\{kind="(\w+)"\} (\d+)/gm)) n += Number(m[2]);
	return n;
}

const counts = {};
let bad = 0, spans = 0;
const peak = { rss: 0, anon: 0, disk: 0 };
let win = { spans: 0, anon: 0, disk: 0, reads: [], from: Date.now() };
const TEMPLATE_TID = 'f'.repeat(32);
let bodies = Array.from({ length: 16 }, () => batch(rate ? TEMPLATE_TID : undefined));
// paced: a new trace each post, from bodies made again every 10 s (so
// their times stay current) with a new trace id put in
const refresher = rate && setInterval(() => { bodies = bodies.map(() => batch(TEMPLATE_TID)); }, 10000);
const fresh = (i) => bodies[i % bodies.length].replaceAll(TEMPLATE_TID, crypto.randomBytes(16).toString('hex'));
const start = Date.now();
const end = start + seconds * 1000;
const sampler = setInterval(() => {
	peak.rss = Math.max(peak.rss, rss() || 0);
	const anon = rss('RssAnon') || 0;
	peak.anon = Math.max(peak.anon, anon);
	win.anon = Math.max(win.anon, anon);
}, 250);

// one client: post until the end; paced when --rate is given (the batches
// are given out in order, one every spansPer/rate seconds, to whichever
// client is free), else as fast as answers come
let nextAt = start;
async function client(c) {
	for (let i = c; Date.now() < end; i++) {
		if (rate) {
			const at = nextAt;
			nextAt += (1000 * spansPer) / rate;
			await sleep(at - Date.now());
			if (Date.now() >= end) break;
		}
		const r = await post(rate ? fresh(i) : bodies[i % bodies.length]);
		const k = r.status ? String(r.status) : `error ${r.error}`;
		counts[k] = (counts[k] || 0) + 1;
		if (r.status === 200) {
			spans += spansPer;
			win.spans += spansPer;
		} else if (rate || !((r.status === 503 || r.status === 429) && r.retryAfter)) bad++;
		else await sleep(Number(r.retryAfter) * 1000 * Math.random());
	}
}

// soak: a reader, and a line every reportS seconds
async function watcher() {
	let deletedBefore = await retentionDeleted();
	console.log('minute | spans/s | RssAnon max MiB | disk max MiB | summary ms (median / max) | rows deleted by retention');
	while (Date.now() < end) {
		const t = Date.now();
		const r = await request('GET', '/api/v1/performance/summary?range=1h');
		win.reads.push(Date.now() - t);
		if (r.status !== 200) { bad++; counts[`summary ${r.status || r.error}`] = (counts[`summary ${r.status || r.error}`] || 0) + 1; }
		if (args.data) {
			const d = diskBytes(args.data);
			peak.disk = Math.max(peak.disk, d);
			win.disk = Math.max(win.disk, d);
		}
		if (Date.now() - win.from >= reportS * 1000 || Date.now() + 10000 >= end) {
			const deleted = await retentionDeleted();
			const reads = win.reads.sort((a, b) => a - b);
			console.log(`${((Date.now() - start) / 60000).toFixed(0).padStart(6)} | ${Math.round(win.spans * 1000 / (Date.now() - win.from))} | ${mib(win.anon)} | ${mib(win.disk)} | ${reads[reads.length >> 1]} / ${reads[reads.length - 1]} | ${deleted - deletedBefore}`);
			deletedBefore = deleted;
			win = { spans: 0, anon: 0, disk: 0, reads: [], from: Date.now() };
		}
		await sleep(10000 - (Date.now() - t));
	}
}

await Promise.all([...Array.from({ length: clients }, (_, c) => client(c)), ...(rate ? [watcher()] : [])]);
clearInterval(sampler);
clearInterval(refresher);
let recovered = 0;
if (!rate) { // overload: how soon a post is accepted again
	recovered = null;
	const t0 = Date.now();
	while (Date.now() - t0 < 60000) {
		if ((await post(batch())).status === 200) { recovered = Date.now() - t0; break; }
		await sleep(100);
	}
}
console.log(`answers: ${JSON.stringify(counts)}; ${rate ? 'not 200' : 'not 200 nor 503/429 with Retry-After'}: ${bad}`);
console.log(`accepted: ${spans} spans in ${seconds} s (${Math.round(spans / seconds)} spans/s${rate ? `, ${rate} offered` : ''})`);
console.log(`server RSS: max ${mib(peak.rss)} MiB sampled every 250 ms, ${mib(rss())} MiB after`);
console.log(`server anonymous RSS (without the mapped store file): max ${mib(peak.anon)} MiB, ${mib(rss('RssAnon'))} MiB after`);
if (args.data) console.log(`store on disk: max ${mib(peak.disk)} MiB, ${mib(diskBytes(args.data))} MiB after`);
if (!rate) console.log(`recovery: a post accepted ${recovered === null ? 'not within 60 s' : `${recovered} ms`} after the load stopped`);
process.exit(bad || recovered === null ? 1 : 0);
