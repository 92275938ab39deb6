#!/usr/bin/env node
// compare-answers.mjs - every read endpoint's answers from two builds of
// hotpath over the same store, compared byte for byte: the check that a
// restructuring kept every answer the same.
//
//   node scripts/compare-answers.mjs OLD_BIN NEW_BIN [--data DIR] [--port N] [--keep]
//
// Without --data, a store is made first: OLD_BIN serves an empty directory
// while `OLD_BIN demo` sends six hours of history (seed 3), and two small
// CPU profiles of two versions and two of deep stacks (the demo sends
// none) are posted (made by the
// old build, so that a new build that migrates the schema forward can read
// it, as it reads a user's store).  Each build
// then serves its own copy of the store (a build may migrate it) on
// loopback, and the same GETs -- every read endpoint, with filters, q=,
// groupings and the error answers -- are asked of both, with absolute
// from/to so that the clock does not move the window.  Fields that measure
// the run rather than the data (elapsed_ms, when a recommendation was
// first and last seen, when the analysis ran, its age and whether a newer
// one was asked, and the resource state of a finding without example
// traces, read when it was last seen) are blanked before comparing.
// Prints one line per differing answer and a summary; exits 1 when any
// answer differs.  The answers as sent are compared too (the run's fields
// blanked in their text), and those that parse the same but differ in
// their bytes are listed apart, without failing the run.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// when the analysis ran, and how long it took
const RUN_FIELDS = new Set(['elapsed_ms', 'first_seen_ms', 'last_seen_ms', 'analyzed_at_ms', 'age_s', 'refreshing']);

function usage() {
	console.error('usage: compare-answers.mjs OLD_BIN NEW_BIN [--data DIR] [--port N] [--keep]');
	process.exit(2);
}

const args = process.argv.slice(2);
const bins = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--data' && args[i - 1] !== '--port');
if (bins.length !== 2) usage();
const dataArg = args.includes('--data') ? args[args.indexOf('--data') + 1] : null;
const keep = args.includes('--keep');
// the three servers listen on PORT, PORT + 1 and PORT + 2
const port0 = args.includes('--port') ? Number(args[args.indexOf('--port') + 1]) : 14391;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-answers-'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function serve(bin, dir, port) {
	const log = fs.openSync(`${dir}.log`, 'a');
	const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data', dir], { stdio: ['ignore', log, log] });
	const url = `http://127.0.0.1:${port}`;
	let exited = false; // then whatever answers on the port is not this server
	child.on('exit', () => { exited = true; });
	for (let i = 0; i < 200 && !exited; i++) {
		try {
			if ((await fetch(`${url}/health`)).ok) return { url, child };
		} catch { /* not up yet */ }
		await sleep(100);
	}
	child.kill('SIGKILL');
	throw new Error(`${bin} did not start: see ${dir}.log`);
}

async function stop(s) {
	const done = new Promise((r) => s.child.on('exit', r));
	s.child.kill('SIGTERM');
	await done;
}

// The store: six hours of demo history ending now, written by NEW_BIN.
async function makeStore(bin) {
	const dir = path.join(tmp, 'store');
	const s = await serve(bin, dir, port0);
	const demo = spawnSync(bin, ['demo', '--target', s.url, '--backfill', '6', '--backfill-rate', '4',
		'--duration', '1', '--seed', '3', '--quiet'], { stdio: 'inherit' });
	await postProfiles(s.url);
	await stop(s);
	if (demo.status !== 0) throw new Error('demo failed');
	fs.writeFileSync(path.join(dir, 'answers-window'), String(Date.now()));
	return dir;
}

// Two folded CPU profiles of shop-api, one per version, so that the profile
// flame graphs (aggregated and differential) have something to merge; two
// of deep stacks.
async function postProfiles(url) {
	const sides = {
		'1.4.2': 'main;serve;handle;parse 30\nmain;serve;handle;render 50\nmain;gc 7\n',
		'1.5.0': 'main;serve;handle;parse 20\nmain;serve;handle;render 90\nmain;serve;log 5\n',
	};
	for (const [version, body] of Object.entries(sides)) await postFolded(url, 'shop-api', version, body);
	// and stacks deeper than the JSON writer's own levels (a tree of
	// 3,000 frames nests 6,000 levels), with names to escape (the
	// speedscope export escapes '<' and '>' too)
	const frames = Array.from({ length: 3000 }, (_, i) => `f${i}`);
	await postFolded(url, 'deep-stacks', '1', `${frames.join(';')} 5\n${frames.slice(0, 1200).join(';')};"q\\ 3\n` +
		'main;std::vector<int>::push_back;tab\there 2\n');
	await postFolded(url, 'deep-stacks', '2', `${frames.slice(0, 2500).join(';')} 4\nmain 1\n`);
}

async function postFolded(url, service, version, body) {
	const r = await fetch(`${url}/api/v1/profiles?service=${service}&version=${version}&format=folded`,
		{ method: 'POST', body });
	if (!r.ok) throw new Error(`posting a profile: ${r.status} ${await r.text()}`);
}

// The GETs: each read endpoint, plain and with the options that take
// another path through the code.
function questions(from, to) {
	const w = `from=${from}&to=${to}`;
	const q = encodeURIComponent;
	const perf = ['summary', 'timeseries', 'distribution', 'heatmap', 'compare', 'breakdown'];
	const list = [
		'/health',
		`/api/v1/filters?${w}`,
		`/api/v1/filters?${w}&service=api-gateway`,
		// version=latest with each filter that selects services; windows
		// within one minute, of whole minutes only, and without requests
		`/api/v1/filters?${w}&version=latest`,
		`/api/v1/filters?${w}&env=production&version=latest`,
		`/api/v1/filters?${w}&service=checkout-service&version=latest`,
		`/api/v1/filters?${w}&endpoint=${q('POST /api/checkout')}&version=latest`,
		`/api/v1/filters?${w}&intent=${q('code-generation')}&tool=${q('code-interpreter')}&version=latest`,
		`/api/v1/filters?${w}&endpoint=${q('GET /nowhere')}&version=latest`,
		`/api/v1/filters?from=${to - 3600_000 + 1234}&to=${to - 3600_000 + 31_234}`,
		`/api/v1/filters?from=${to - 7200_000 - 59_999}&to=${to - 5400_000 + 1}`,
		`/api/v1/filters?from=${from - 86400_000}&to=${from - 3600_000}`,
		`/api/v1/traces?${w}&version=latest&limit=20`,
		`/api/v1/performance/summary?${w}&version=latest`,
		`/api/v1/traces?${w}`,
		`/api/v1/traces?${w}&order=slowest&limit=50`,
		`/api/v1/traces?${w}&service=shop-api&min_duration_ms=200`,
		`/api/v1/traces?${w}&q=${q('duration > 500ms')}`,
		`/api/v1/flamegraph?${w}`,
		`/api/v1/flamegraph?${w}&service=api-gateway&format=folded`,
		`/api/v1/flamegraph?${w}&mode=diff&base.version=1.4.2&compare.version=1.5.0`,
		`/api/v1/flamegraph?${w}&format=svg`,
		`/api/v1/flamegraph?${w}&service=shop-api&format=json&limit=200`,
		`/api/v1/flamegraph?${w}&base.version=1.4.2&compare.version=1.5.0&format=svg`,
		`/api/v1/flamegraph?${w}&base.version=1.4.2&compare.version=1.5.0&format=folded`,
		`/api/v1/flamegraph?${w}&q=${q('duration > 300ms')}&format=svg`,
		`/api/v1/flamegraph?${w}&format=xml`,
		'/api/v1/profiles/flamegraph?service=shop-api',
		'/api/v1/profiles/flamegraph?service=shop-api&format=folded',
		'/api/v1/profiles/flamegraph?service=shop-api&format=svg',
		'/api/v1/profiles/flamegraph?service=shop-api&format=speedscope',
		'/api/v1/profiles/flamegraph?service=shop-api&base.version=1.4.2&compare.version=1.5.0',
		'/api/v1/profiles/flamegraph?service=shop-api&base.version=1.4.2&compare.version=1.5.0&format=folded',
		'/api/v1/profiles/flamegraph?service=shop-api&base.version=1.4.2&compare.version=1.5.0&format=svg',
		'/api/v1/profiles/flamegraph?service=nobody',
		'/api/v1/profiles/flamegraph?service=deep-stacks',
		'/api/v1/profiles/flamegraph?service=deep-stacks&base.version=1&compare.version=2',
		'/api/v1/profiles/flamegraph?service=deep-stacks&format=speedscope',
		'/api/v1/profiles/flamegraph?service=deep-stacks&base.version=1&compare.version=2&format=speedscope',
		`/api/v1/slow-operations/thresholds`,
		`/api/v1/slow-operations/stats?${w}`,
		`/api/v1/slow-requests?${w}&group_by=endpoint`,
		`/api/v1/slow-requests?${w}&format=csv`,
		`/api/v1/slow-requests?${w}&service=shop-api&group_by=tool&limit=20`,
		`/api/v1/slow-requests?${w}&status=error&min_duration=1500&group_by=service`,
		`/api/v1/bottlenecks?${w}`,
		`/api/v1/bottlenecks?${w}&limit=500`,
		// q= on the requests read: judged before listing, or on the traces loaded
		`/api/v1/slow-requests?${w}&q=${q('span.db.system = * && duration > 200ms')}&group_by=service`,
		`/api/v1/slow-operations/stats?${w}&q=${q('{ status = error }')}`,
		`/api/v1/bottlenecks?${w}&service=shop-api&q=${q('duration > 500ms')}`,
		`/api/v1/slow-requests?${w}&q=${q('duration >')}`,
		// a window without requests, right after the store's last one
		`/api/v1/slow-requests?from=${to}&to=${to + 300_000}`,
		`/api/v1/slow-operations/stats?from=${to}&to=${to + 300_000}`,
		`/api/v1/bottlenecks?from=${to}&to=${to + 300_000}`,
		`/api/v1/slow-requests/alerts?${w}`,
		`/api/v1/slow-requests/alerts?${w}&service=shop-api&limit=5`,
		'/api/v1/recommendations?range=24h', // its window ends now: one that holds the whole store
		`/api/v1/profiles?${w}`,
		`/api/v1/traces?${w}&limit=nope`,
		`/api/v1/performance/summary?${w}&q=${q('duration >')}`,
		// metrics: the list, raw points (minute steps), the hourly aggregates
		// (steps of whole hours), percentiles, measures, heatmaps, errors
		`/api/v1/metrics?${w}`,
		`/api/v1/metrics?${w}&service=shop-api`,
		`/api/v1/metrics/query?${w}&name=process.cpu.utilization`,
		`/api/v1/metrics/query?${w}&name=process.cpu.utilization&group_by=instance&agg=max&step=1m`,
		`/api/v1/metrics/query?${w}&name=process.memory.usage&group_by=service&step=1h`,
		`/api/v1/metrics/query?${w}&name=process.memory.usage&agg=min&step=2h&service=shop-api`,
		`/api/v1/metrics/query?${w}&name=process.memory.usage&agg=p95&step=30m`,
		`/api/v1/metrics/query?${w}&name=db.client.connection.count&group_by=pool&agg=sum&step=5m`,
		`/api/v1/metrics/query?${w}&measure=cpu&group_by=service&step=1h`,
		`/api/v1/metrics/query?${w}&measure=pool_used&group_by=pool`,
		`/api/v1/metrics/query?${w}&name=process.cpu.utilization&agg=rate`,
		`/api/v1/metrics/query?${w}&name=no.such.metric`,
		`/api/v1/performance/heatmap?${w}&kind=cpu`,
		`/api/v1/performance/heatmap?${w}&kind=memory&layout=time-of-day`,
		`/api/v1/performance/heatmap?${w}&kind=pool&step=3600`,
	];
	for (const p of perf) {
		list.push(`/api/v1/performance/${p}?${w}`);
		list.push(`/api/v1/performance/${p}?${w}&service=shop-api&env=production`);
	}
	list.push(`/api/v1/performance/summary?${w}&group_by=endpoint`);
	list.push(`/api/v1/performance/summary?${w}&tier=critical`);
	list.push(`/api/v1/performance/summary?${w}&q=${q('resource.service.name = "shop-api" && duration > 100ms')}`);
	list.push(`/api/v1/performance/timeseries?${w}&step=600`);
	list.push(`/api/v1/performance/compare?${w}&by=version`);
	// fleet, changes, health settings and the watch's lists
	list.push(`/api/v1/parity?${w}`, `/api/v1/parity?${w}&service=shop-api&reference=staging`,
		`/api/v1/capacity?${w}`, `/api/v1/capacity?${w}&service=shop-api&capacity_rps=5&horizon_days=20`,
		`/api/v1/errors/patterns?${w}`, `/api/v1/errors/patterns?${w}&service=shop-api`,
		`/api/v1/deployments?${w}`, `/api/v1/versions/compare?${w}&service=shop-api`,
		`/api/v1/versions/gate?${w}&service=shop-api`, `/api/v1/regressions?${w}`,
		'/api/v1/health/thresholds', '/api/v1/slos', '/api/v1/alerts/rules', '/api/v1/alerts/channels',
		'/api/v1/alerts', '/api/v1/audit');
	return list;
}

function blankResources(r) {
	return { ...r, at_ms: null, time_ms: null, cpu_utilization: null, memory_bytes: null };
}

function blank(v) {
	if (Array.isArray(v)) return v.map(blank);
	if (v && typeof v === 'object') {
		const o = {};
		for (const [k, x] of Object.entries(v)) o[k] = RUN_FIELDS.has(k) ? null : blank(x);
		// a finding without example traces takes its resource state when it
		// was last seen, which is a field of the run too
		if (o.resources && o.finding && !(o.finding.examples || []).length) o.resources = blankResources(o.resources);
		return o;
	}
	return v;
}

// The answer as sent, with the run's fields blanked in its text: numbers
// printed another way, or members in another order, show here although
// they parse the same.
function blankText(text) {
	return text.replace(/"(elapsed_ms|first_seen_ms|last_seen_ms|analyzed_at_ms|age_s|refreshing)":(-?[0-9.eE+-]+|null|true|false)/g, '"$1":null');
}

async function ask(url) {
	const r = await fetch(url);
	const text = await r.text();
	let body = text;
	try {
		body = JSON.stringify(blank(JSON.parse(text)));
	} catch { /* not JSON: compared as it is */ }
	const head = `${r.status} ${r.headers.get('content-type')}\n`;
	return { parsed: head + body, bytes: head + blankText(text) };
}

// A trace id and a recommendation id from the first answers, so the
// by-id endpoints are asked too.
async function withIds(url, list, from, to) {
	const t = await (await fetch(`${url}/api/v1/traces?from=${from}&to=${to}&limit=1`)).json();
	const id = t.traces && t.traces[0] && t.traces[0].trace_id;
	if (id) {
		list.push(`/api/v1/traces/${id}`, `/api/v1/flamegraph?trace_id=${id}`);
		for (const f of ['folded', 'svg']) list.push(`/api/v1/flamegraph?trace_id=${id}&format=${f}`);
		list.push(`/api/v1/flamegraph?base.trace_id=${id}&${new URLSearchParams({ 'compare.from': from, 'compare.to': to })}`);
	}
	const p = await (await fetch(`${url}/api/v1/profiles?limit=1`)).json();
	const pid = p.profiles && p.profiles[0] && p.profiles[0].id;
	if (pid) for (const f of ['json', 'folded', 'svg']) list.push(`/api/v1/profiles/${pid}?format=${f}`);
	const r = await (await fetch(`${url}/api/v1/recommendations?range=24h`)).json();
	const rec = r.recommendations && r.recommendations[0] && r.recommendations[0].id;
	if (rec) list.push(`/api/v1/recommendations/${rec}`);
	return list;
}

async function settled(log) {
	for (let i = 0; i < 600; i++) {
		const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
		if (/caught up with the stored blocks|stored rows loaded/.test(text)) break;
		await sleep(100);
	}
	await sleep(1000);
}

async function answers(bin, store, port, from, to) {
	const dir = path.join(tmp, `copy-${port}`);
	fs.cpSync(store, dir, { recursive: true });
	const s = await serve(bin, dir, port);
	try {
		// the background jobs' first pass: answers then come from what they
		// keep (the slow requests' list, the aggregates), as on a server that
		// has been running; a build that keeps none is asked after 60 s
		await settled(`${dir}.log`);
		const list = await withIds(s.url, questions(from, to), from, to);
		const out = new Map();
		for (const p of list) out.set(p, await ask(`${s.url}${p}`));
		return out;
	} finally {
		await stop(s);
	}
}

async function main() {
	const store = dataArg || await makeStore(bins[0]);
	const to = Number(fs.readFileSync(path.join(store, 'answers-window'), 'utf8'));
	const from = to - 6 * 3600 * 1000;
	const old = await answers(bins[0], store, port0 + 1, from, to);
	const now = await answers(bins[1], store, port0 + 2, from, to);
	let same = 0;
	const differ = [], parsedOnly = [];
	for (const [p, a] of now) {
		const o = old.get(p);
		if (o && o.parsed === a.parsed) same++;
		else differ.push(p);
		if (o && o.parsed === a.parsed && o.bytes !== a.bytes) parsedOnly.push(p);
	}
	for (const p of old.keys()) if (!now.has(p)) differ.push(`${p} (asked of the old build only)`);
	for (const p of differ) {
		const file = path.join(tmp, `${differ.indexOf(p)}`);
		fs.writeFileSync(`${file}.old`, (old.get(p) || {}).parsed || '');
		fs.writeFileSync(`${file}.new`, (now.get(p) || {}).parsed || '');
		console.log(`differs: ${p}  (${file}.old / .new)`);
	}
	// the same once parsed, but not byte for byte: shown, not failed (a
	// field of the run blanked only in the parsed answer lands here)
	for (const p of parsedOnly) {
		const file = path.join(tmp, `bytes-${parsedOnly.indexOf(p)}`);
		fs.writeFileSync(`${file}.old`, old.get(p).bytes);
		fs.writeFileSync(`${file}.new`, now.get(p).bytes);
		console.log(`same once parsed, bytes differ: ${p}  (${file}.old / .new)`);
	}
	console.log(`${same + differ.length} answers compared: ${same} identical, ${differ.length} differ; ` +
		`${same - parsedOnly.length} byte for byte`);
	if (!keep && !differ.length) fs.rmSync(tmp, { recursive: true, force: true });
	else console.log(`kept: ${tmp}`);
	process.exit(differ.length ? 1 : 0);
}

main().catch((err) => {
	console.error(`compare-answers: ${err.message}`);
	process.exit(1);
});
