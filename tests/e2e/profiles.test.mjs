// profiles.test.mjs - CPU profiles end to end: the real Pyroscope Node
// client pushing to /ingest, folded / perf script / pprof uploads to
// POST /api/v1/profiles, merged and differential flame graphs (of a
// default type when none is asked for), traces linked by service, time
// and version, `hotpath diff`, and bad input answered 400 with nothing
// stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { hotpathBin, makeTempDir, sharedDir, sharedSkip, useServer } from './lib/server.mjs';
import { uniq } from './lib/util.mjs';

const require = createRequire(import.meta.url);
const fixtures = path.resolve('tests/fixtures/pprof');
const T0 = 1700000000; // seconds
// the profiles here are dated 2023: kept for ever, not trimmed by the default retention
const KEEP = ['--retention-profiles', '0'];

async function post(url, body, headers = {}) {
	const res = await fetch(url, { method: 'POST', body, headers });
	return { status: res.status, text: await res.text() };
}

async function getJson(url) {
	const res = await fetch(url);
	const text = await res.text();
	assert.equal(res.status, 200, `GET ${url}: ${text}`);
	return JSON.parse(text);
}

async function getText(url) {
	const res = await fetch(url);
	const text = await res.text();
	assert.equal(res.status, 200, `GET ${url}: ${text}`);
	return text;
}

async function upload(srv, query, body, headers) {
	const r = await post(`${srv.url}/api/v1/profiles?${query}`, body, headers);
	assert.equal(r.status, 200, r.text);
	return JSON.parse(r.text);
}

async function countProfiles(srv) {
	return (await getJson(`${srv.url}/api/v1/profiles?limit=1000`)).count;
}

// A node of the JSON tree by path of names.
function node(root, ...names) {
	let n = root;
	for (const name of names) {
		n = n.children.find((c) => c.name === name);
		assert.ok(n, `no frame ${names.join(';')}`);
	}
	return n;
}

// A CPU-busy program with the real Pyroscope client, tags and the wall
// profiler's options as given; stop() flushes the last profiles.
async function runPyroscopeApp(srv, app, wall) {
	const program = `
		const Pyroscope = require(process.env.PYROSCOPE_MODULE);
		Pyroscope.init({
			serverAddress: process.env.HOTPATH_URL,
			appName: process.env.APP,
			tags: { env: 'e2e', version: '1.2.3', region: 'eu-west' },
			flushIntervalMs: 1000,
			wall: JSON.parse(process.env.WALL),
		});
		Pyroscope.start();
		function spinHotLoop(ms) {
			const end = Date.now() + ms;
			let x = 0;
			while (Date.now() < end) for (let i = 0; i < 1e5; i++) x = (x * 33 + i) | 0;
			return x;
		}
		// spin in slices, so the client's flush timer gets its turns
		(async () => {
			const end = Date.now() + 3000;
			while (Date.now() < end) {
				spinHotLoop(50);
				await new Promise((r) => setTimeout(r, 1));
			}
			await Pyroscope.stop();
			process.exit(0);
		})();
	`;
	const child = spawn(process.execPath, ['-e', program], {
		env: {
			...process.env,
			PYROSCOPE_MODULE: require.resolve('@pyroscope/nodejs'),
			HOTPATH_URL: srv.url,
			APP: app,
			WALL: JSON.stringify(wall),
		},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let output = '';
	child.stdout.on('data', (d) => { output += d; });
	child.stderr.on('data', (d) => { output += d; });
	const code = await new Promise((resolve) => child.on('exit', resolve));
	assert.equal(code, 0, `the profiled program failed: ${output}`);
}

test('the Pyroscope Node client pushes CPU profiles to /ingest', async (t) => {
	const srv = await useServer(t, { args: KEEP });
	const app = uniq('busy-app');
	await runPyroscopeApp(srv, app, { samplingDurationMs: 1000, samplingIntervalMicros: 1000, collectCpuTime: true });

	const list = await getJson(`${srv.url}/api/v1/profiles?service=${app}&type=cpu`);
	assert.ok(list.count >= 1, `no CPU profile arrived: ${JSON.stringify(list)}\n${srv.logs()}`);
	const p = list.profiles[0];
	assert.equal(p.service, app);
	assert.equal(p.version, '1.2.3');
	assert.equal(p.env, 'e2e');
	assert.equal(p.unit, 'nanoseconds');
	assert.equal(p.labels.region, 'eu-west');
	assert.equal(p.labels['process.runtime.name'], 'nodejs');
	assert.equal(p.labels.spy_name, 'nodespy');
	assert.ok(p.end_ns >= p.start_ns);
	assert.ok(Math.abs(p.start_ms - Date.now()) < 60000, `start ${p.start_ms} is not now`);

	// The merged CPU profile has the busy function, and it dominates.
	const g = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=${app}&type=cpu`);
	const folded = await getText(`${srv.url}/api/v1/profiles/flamegraph?service=${app}&type=cpu&format=folded`);
	// the client names frames "FILE:FUNCTION:LINE"
	const busy = folded.split('\n').filter((l) => /(^|;)[^;]*:spinHotLoop:\d+ \d+$/.test(l));
	assert.ok(busy.length > 0, `no stack with spinHotLoop:\n${folded}`);
	const busyTotal = busy.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
	assert.ok(busyTotal > g.total / 2, `spinHotLoop has ${busyTotal} of ${g.total} ns`);

	// The heap profiles came too (the client sends both, at each flush).
	const all = await getJson(`${srv.url}/api/v1/profiles?service=${app}`);
	assert.ok(all.profiles.some((x) => x.unit === 'bytes'), JSON.stringify(all.profiles.map((x) => x.type)));

	// Without type=, the CPU profiles are drawn, and the others offered.
	const d = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=${app}`);
	assert.deepEqual([d.type, d.type_default, d.total], ['cpu', true, g.total]);
	assert.deepEqual(d.types.toSorted(), uniqSorted(all.profiles.map((x) => x.type)));
});

const uniqSorted = (xs) => [...new Set(xs)].sort();

test('the Pyroscope client\'s default wall and heap profiles: the flame graph draws wall without type=', async (t) => {
	const srv = await useServer(t, { args: KEEP });
	const app = uniq('wall-app');
	await runPyroscopeApp(srv, app, {});
	const all = await getJson(`${srv.url}/api/v1/profiles?service=${app}`);
	assert.deepEqual(uniqSorted(all.profiles.map((x) => x.type)), ['inuse_space', 'wall'], `${srv.logs()}`);
	const g = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=${app}`);
	assert.deepEqual([g.type, g.unit, g.type_default], ['wall', 'nanoseconds', true]);
	assert.deepEqual(g.types.toSorted(), ['inuse_space', 'wall']);
	const wall = all.profiles.filter((x) => x.type === 'wall');
	assert.equal(g.profiles, wall.length);
	assert.equal(g.total, wall.reduce((sum, x) => sum + x.total, 0));
	const heap = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=${app}&type=inuse_space`);
	assert.deepEqual([heap.type, heap.unit, heap.type_default], ['inuse_space', 'bytes', false]);
	const svg = await getText(`${srv.url}/api/v1/profiles/flamegraph?service=${app}&format=svg`);
	assert.match(svg, /wall profile: \d+ merged/);
});

test('the default type: cpu, else wall, else the newest profile\'s; a comparison keeps one type', async (t) => {
	const srv = await useServer(t, { args: KEEP });
	const at = (s) => `&from=${T0 + s}&until=${T0 + s + 10}`;
	await upload(srv, `service=a&type=cpu${at(0)}`, 'main;cpu 5\n');
	await upload(srv, `service=a&type=wall&unit=nanoseconds${at(10)}`, 'main;wall 7\n');
	await upload(srv, `service=a&type=alloc_space&unit=bytes${at(20)}`, 'main;alloc 9\n');
	await upload(srv, `service=b&type=alloc_space&unit=bytes${at(0)}`, 'main;alloc 9\n');
	await upload(srv, `service=b&type=inuse_space&unit=bytes${at(10)}`, 'main;inuse 11\n');
	await upload(srv, `service=b&version=2&type=wall&unit=nanoseconds${at(20)}`, 'main;wall 13\n');

	const a = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=a`);
	assert.deepEqual([a.type, a.type_default, a.types, a.total], ['cpu', true, ['alloc_space', 'wall', 'cpu'], 5]);
	const aw = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=a&type=wall`);
	assert.deepEqual([aw.type, aw.type_default, aw.types, aw.total], ['wall', false, ['alloc_space', 'wall', 'cpu'], 7]);
	assert.equal(await getText(`${srv.url}/api/v1/profiles/flamegraph?service=a&format=folded`), 'main;cpu 5\n');
	// no cpu: wall; no wall either: the newest profile's type
	const b = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=b`);
	assert.deepEqual([b.type, b.total], ['wall', 13]);
	const old = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=b&to=${T0 + 15}`);
	assert.deepEqual([old.type, old.types, old.total], ['inuse_space', ['inuse_space', 'alloc_space'], 11]);
	// an absent type: 404 naming those there are
	const none = await fetch(`${srv.url}/api/v1/profiles/flamegraph?service=b&type=cpu`);
	assert.equal(none.status, 404);
	assert.match((await none.json()).error.message, /no cpu profile matches the filters \(they have: wall, inuse_space, alloc_space\)/);
	// a comparison: the compare side takes the base's type
	const d = await getJson(`${srv.url}/api/v1/profiles/flamegraph?base.service=a&base.type=alloc_space&compare.service=b`);
	assert.deepEqual([d.type, d.base.total, d.compare.total], ['alloc_space', 9, 9]);
	assert.deepEqual(d.compare.types, ['wall', 'inuse_space', 'alloc_space']);
	// one type in two units cannot be summed
	await upload(srv, `service=a&type=cpu&unit=nanoseconds${at(30)}`, 'main;cpu 5\n');
	const units = await fetch(`${srv.url}/api/v1/profiles/flamegraph?service=a`);
	assert.equal(units.status, 400);
	assert.match((await units.json()).error.message, /the matching cpu profiles are in different units \(nanoseconds, samples\)/);
});

test('folded uploads merge, diff and render exactly', async (t) => {
	const srv = await useServer(t, { args: KEEP });
	const from = `&from=${T0}&until=${T0 + 10}`;
	const a1 = await upload(srv, `service=shop&version=2.4.0&env=prod&format=folded${from}`, 'main;handle;parse 30\nmain;handle;render 50\nmain;gc 20\n');
	assert.deepEqual([a1.samples, a1.stacks, a1.type, a1.unit], [100, 3, 'cpu', 'samples']);
	await upload(srv, `service=shop&version=2.4.0&env=prod${from}`, 'main;handle;parse 10\nmain;handle;parse 10\nmain;idle 40\n');
	// metadata as headers
	await upload(srv, `format=folded${from}`, 'main;handle;parse 90\nmain;handle;render 30\n', {
		'X-Profile-Service': 'shop', 'X-Profile-Version': '2.5.0', 'X-Profile-Env': 'prod',
	});

	const merged = await getText(`${srv.url}/api/v1/profiles/flamegraph?service=shop&version=2.4.0&format=folded`);
	assert.equal(merged, 'main;gc 20\nmain;handle;parse 50\nmain;handle;render 50\nmain;idle 40\n');
	const g = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=shop&version=2.4.0`);
	assert.equal(g.mode, 'aggregate');
	assert.equal(g.profiles, 2);
	assert.equal(g.total, 160);
	assert.equal(node(g.root, 'main').value, 160);
	assert.equal(node(g.root, 'main', 'handle').value, 100);
	assert.equal(node(g.root, 'main', 'handle', 'parse').self, 50);

	// 2.4.0 (160 samples) against 2.5.0 (120): normalised by the totals
	const d = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=shop&base.version=2.4.0&compare.version=2.5.0`);
	assert.equal(d.mode, 'diff');
	assert.deepEqual(d.base, { profiles: 2, total: 160, types: ['cpu'] });
	assert.deepEqual(d.compare, { profiles: 1, total: 120, types: ['cpu'] });
	assert.equal(d.scale, 0.75);
	const parse = node(d.root, 'main', 'handle', 'parse');
	assert.deepEqual([parse.base.self, parse.compare.self], [50, 90]);
	assert.equal(parse.delta, 90 - 50 * 0.75);
	assert.equal(node(d.root, 'main', 'idle').delta, -30);
	const df = await getText(`${srv.url}/api/v1/profiles/flamegraph?service=shop&base.version=2.4.0&compare.version=2.5.0&format=folded`);
	assert.equal(df, 'main;gc 15 0\nmain;handle;parse 37 90\nmain;handle;render 37 30\nmain;idle 30 0\n');
	const raw = await getText(`${srv.url}/api/v1/profiles/flamegraph?service=shop&base.version=2.4.0&compare.version=2.5.0&format=folded&raw=1`);
	assert.equal(raw, 'main;gc 20 0\nmain;handle;parse 50 90\nmain;handle;render 50 30\nmain;idle 40 0\n');

	const svg = await fetch(`${srv.url}/api/v1/profiles/flamegraph?service=shop&base.version=2.4.0&compare.version=2.5.0&format=svg`);
	assert.equal(svg.headers.get('content-type'), 'image/svg+xml');
	const svgText = await svg.text();
	assert.match(svgText, /<\/svg>\s*$/);
	assert.match(svgText, /parse/);
	const ss = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=shop&version=2.5.0&format=speedscope`);
	assert.equal(ss.profiles[0].type, 'sampled');
	assert.deepEqual(ss.profiles[0].weights.reduce((s, w) => s + w, 0), 120);

	// one profile's stacks
	const one = await getJson(`${srv.url}/api/v1/profiles/${a1.id}`);
	assert.equal(one.service, 'shop');
	assert.deepEqual(one.stacks, [
		{ stack: 'main;gc', value: 20 }, { stack: 'main;handle;parse', value: 30 }, { stack: 'main;handle;render', value: 50 },
	]);
	assert.equal((await fetch(`${srv.url}/api/v1/profiles/999999`)).status, 404);
	assert.equal((await fetch(`${srv.url}/api/v1/profiles/flamegraph?service=nobody`)).status, 404);
});

test('hotpath diff A B writes the differential flame graph SVG; --folded the difffolded lines', () => {
	const dir = makeTempDir();
	const a = path.join(dir, 'a.folded'), b = path.join(dir, 'b.folded');
	fs.writeFileSync(a, 'main;parse 10\nmain;render 10\n');
	fs.writeFileSync(b, 'main;parse 30\nmain;gc 5\n');
	const svg = execFileSync(hotpathBin(), ['diff', a, b], { encoding: 'utf8' });
	assert.match(svg, /^<\?xml[^]*<svg [^]*<\/svg>\s*$/);
	// B's shape, red where a frame's share grew, blue where it shrank
	const frame = (name) => {
		const m = svg.match(new RegExp(`<title>${name} \\(([^<]*)\\)</title><rect [^>]*fill="rgb\\((\\d+),(\\d+),(\\d+)\\)"`));
		assert.ok(m, `no frame ${name} in the SVG`);
		return { title: m[1], rgb: m.slice(2).map(Number) };
	};
	const parse = frame('parse'), render = frame('render');
	assert.match(parse.title, /A: 10 samples.*B: 30 samples.*self change \+/);
	assert.ok(parse.rgb[0] > parse.rgb[2], `parse grew: red, not ${parse.rgb}`);
	assert.match(render.title, /only in A/);
	assert.ok(render.rgb[2] > render.rgb[0], `render shrank: blue, not ${render.rgb}`);
	// the same picture as the folded difference drawn by hotpath flamegraph
	const folded = execFileSync(hotpathBin(), ['diff', '--folded', a, b], { encoding: 'utf8' });
	assert.equal(folded, 'main;gc 0 5\nmain;parse 10 30\nmain;render 10 0\n');
	assert.equal(execFileSync(hotpathBin(), ['flamegraph'], { input: folded, encoding: 'utf8' }), svg);
	assert.equal(execFileSync(hotpathBin(), ['diff', '--format', 'folded', a, b], { encoding: 'utf8' }), folded);
});

// a real recording from the outside reference data, skipped without it
test('perf script uploads', { skip: sharedSkip('testdata/flamegraph') }, async (t) => {
	const srv = await useServer(t, { args: KEEP });
	const perfFile = path.join(sharedDir(), 'testdata/flamegraph/perf-dd-stacks-01.txt');
	const want = execFileSync(hotpathBin(), ['collapse', 'perf', perfFile], { encoding: 'utf8' });
	const up = await upload(srv, `service=dd&format=perf&from=${T0}&until=${T0 + 5}`, fs.readFileSync(perfFile));
	assert.equal(up.stacks, want.trim().split('\n').length);
	assert.equal(await getText(`${srv.url}/api/v1/profiles/${up.id}?format=folded`), want);
});

test('pprof uploads', async (t) => {
	const srv = await useServer(t, { args: KEEP });
	// a hand-built pprof: inlined frames, addresses, labels; its time from the profile
	const inline = await upload(srv, 'service=go-svc', fs.readFileSync(path.join(fixtures, 'inline.pb')), {
		'Content-Type': 'application/octet-stream',
	});
	assert.deepEqual([inline.type, inline.unit, inline.samples], ['cpu', 'nanoseconds', 90000000]);
	assert.equal(inline.start_ns, '1700000000123456789');
	assert.equal(inline.end_ns, '1700000010123456789');
	assert.equal(await getText(`${srv.url}/api/v1/profiles/${inline.id}?format=folded`),
		fs.readFileSync(path.join(fixtures, 'inline.folded'), 'utf8'));
	const meta = await getJson(`${srv.url}/api/v1/profiles?service=go-svc`);
	assert.deepEqual(meta.profiles[0].labels, { region: 'eu' });
	const alloc = await upload(srv, 'service=go-svc&format=pprof&sample_type=alloc_space', fs.readFileSync(path.join(fixtures, 'inline.pb')));
	assert.deepEqual([alloc.type, alloc.unit, alloc.samples], ['alloc_space', 'bytes', 704]);

	// a real profiler's output, gzip-compressed, through Pyroscope's multipart form
	const form = new FormData();
	form.append('profile', new Blob([fs.readFileSync(path.join(fixtures, 'cpu.pb.gz'))]), 'profile.pprof');
	const r = await fetch(`${srv.url}/ingest?name=${encodeURIComponent('node-app{service_name=web,env=staging}')}&from=${T0}&until=${T0 + 1}`, {
		method: 'POST', body: form,
	});
	assert.equal(r.status, 200, await r.text());
	const web = await getJson(`${srv.url}/api/v1/profiles?service=web`);
	assert.equal(web.count, 1);
	assert.equal(web.profiles[0].env, 'staging');
	assert.equal(web.profiles[0].labels.app_name, 'node-app');
	assert.equal(web.profiles[0].start_ms, T0 * 1000);
	assert.equal(await getText(`${srv.url}/api/v1/profiles/${web.profiles[0].id}?format=folded`),
		fs.readFileSync(path.join(fixtures, 'cpu.folded'), 'utf8'));

	// Pyroscope's folded and lines formats; times in milliseconds
	let res = await post(`${srv.url}/ingest?name=batch.cpu{version=7}&from=${T0 * 1000}&until=${T0 * 1000 + 10000}&format=folded&units=samples&sampleRate=100`, 'a;b 2\na;c 1\n');
	assert.deepEqual([res.status, res.text], [200, '']);
	res = await post(`${srv.url}/ingest?name=batch.cpu{version=8}&from=${T0}&until=${T0 + 10}&format=lines`, 'a;b\na;b\na;c\n');
	assert.equal(res.status, 200, res.text);
	const batch = await getJson(`${srv.url}/api/v1/profiles?service=batch`);
	assert.deepEqual(batch.profiles.map((x) => [x.version, x.type, x.total, x.start_ms]).sort(),
		[['7', 'cpu', 3, T0 * 1000], ['8', 'cpu', 3, T0 * 1000]]);
	assert.equal(batch.profiles.find((x) => x.version === '7').labels.sample_rate, '100');
	const bd = await getJson(`${srv.url}/api/v1/profiles/flamegraph?service=batch&base.version=7&compare.version=8`);
	assert.deepEqual([node(bd.root, 'a', 'b').base.value, node(bd.root, 'a', 'b').compare.value], [2, 2]);
});

test('profiles are linked to the requests of their service and time', async (t) => {
	const srv = await useServer(t, { args: KEEP });
	const now = Date.now();
	const records = [0, 1, 2].map((i) => ({
		trace_id: `0000000000000000000000000000000${i + 1}`,
		service: 'checkout',
		timestamp: now - 5000 + i * 1000,
		request: { method: 'GET', path: '/cart', duration_ms: 20 },
	}));
	records.push({ ...records[0], trace_id: 'ffffffffffffffffffffffffffffff01', service: 'other' });
	const r = await post(`${srv.url}/api/v1/requests`, JSON.stringify(records), { 'Content-Type': 'application/json' });
	assert.equal(r.status, 200, r.text);
	await upload(srv, `service=checkout&from=${now - 10000}&until=${now}`, 'main;cart 5\n');
	await upload(srv, `service=checkout&from=${now - 60000}&until=${now - 30000}`, 'main;cart 5\n');
	const list = await getJson(`${srv.url}/api/v1/profiles?service=checkout`);
	const [recent, older] = list.profiles;
	assert.equal(recent.traces.count, 3);
	assert.deepEqual(recent.traces.examples.sort(), records.slice(0, 3).map((x) => x.trace_id).sort());
	assert.equal(older.traces.count, 0);
});

test('a profile of one version (or environment) is not linked to the requests of another', async (t) => {
	const srv = await useServer(t, { args: KEEP });
	const now = Date.now();
	const record = (n, fields) => ({
		trace_id: `0000000000000000000000000000${String(n).padStart(4, '0')}`,
		service: 'shop',
		timestamp: now - 5000 + n * 100,
		request: { method: 'GET', path: '/cart', duration_ms: 20 },
		...fields,
	});
	const records = [
		record(1, { version: '2.4.0', environment: 'prod' }),
		record(2, { version: '2.4.0', environment: 'prod' }),
		record(3, { version: '2.5.0', environment: 'prod' }),
		record(4, { environment: 'prod' }), // version unknown: may have run either
		record(5, { version: '2.4.0', environment: 'staging' }),
	];
	const r = await post(`${srv.url}/api/v1/requests`, JSON.stringify(records), { 'Content-Type': 'application/json' });
	assert.equal(r.status, 200, r.text);
	const span = `from=${now - 10000}&until=${now}`;
	await upload(srv, `service=shop&version=2.4.0&env=prod&${span}`, 'main;cart 5\n');
	await upload(srv, `service=shop&version=2.5.0&env=prod&${span}`, 'main;cart 5\n');
	await upload(srv, `service=shop&${span}`, 'main;cart 5\n');
	const linked = async (query) => {
		const list = await getJson(`${srv.url}/api/v1/profiles?service=shop&${query}`);
		assert.equal(list.count, 1, query);
		const { traces } = list.profiles[0];
		assert.equal(traces.count, traces.examples.length);
		return traces.examples.map((id) => Number.parseInt(id.slice(-4), 10)).sort();
	};
	assert.deepEqual(await linked('version=2.4.0'), [1, 2, 4]);
	assert.deepEqual(await linked('version=2.5.0'), [3, 4]);
	// a profile without version or environment: every request of its service and time
	const all = await getJson(`${srv.url}/api/v1/profiles?service=shop`);
	const unversioned = all.profiles.find((p) => p.version === null);
	assert.equal(unversioned.traces.count, 5);
});

test('bad input is refused with a message, and nothing is stored', async (t) => {
	const srv = await useServer(t, { args: [...KEEP, '--max-body', '65536'] });
	const inline = fs.readFileSync(path.join(fixtures, 'inline.pb'));
	const gz = fs.readFileSync(path.join(fixtures, 'cpu.pb.gz'));
	const damaged = Buffer.from(gz);
	damaged.fill(0x55, 20, 40);
	const cases = [
		['POST', '/api/v1/profiles?service=s&format=pprof', inline.subarray(0, inline.length - 5), {}, /invalid pprof/],
		['POST', '/api/v1/profiles?service=s', damaged, {}, /gzip/],
		['POST', '/api/v1/profiles?service=s&format=folded', 'a;b 1\n', { 'Content-Encoding': 'gzip' }, /bad gzip body/],
		['POST', '/api/v1/profiles?format=folded', 'a;b 1\n', {}, /missing service/],
		['POST', '/api/v1/profiles?service=s&format=folded', 'a;b 1\na;b x\n', {}, /line 2/],
		['POST', '/api/v1/profiles?service=s&format=flame', 'a;b 1\n', {}, /invalid format 'flame'/],
		['POST', '/api/v1/profiles?service=s&format=pprof&sample_type=wall', inline, {}, /no sample type 'wall'/],
		['POST', '/api/v1/profiles?service=s&from=yesterday', 'a 1\n', {}, /invalid from 'yesterday'/],
		['POST', '/api/v1/profiles?service=s', '', {}, /no samples/],
		['POST', '/ingest?name=app{env=prod&format=folded', 'a 1\n', {}, /invalid name: missing '}'/],
		['POST', '/ingest?name=app{=x}', 'a 1\n', {}, /invalid name: a label key is expected/],
		['POST', '/ingest?format=folded', 'a 1\n', {}, /missing name/],
		['POST', '/ingest?name=app&format=trie', 'a 1\n', {}, /unsupported format 'trie'/],
		['POST', '/ingest?name=app&format=pprof', Buffer.from('not a profile at all'), {}, /invalid pprof/],
		['POST', '/ingest?name=app', 'x', { 'Content-Type': 'multipart/form-data; boundary=zz' }, /multipart/],
		['GET', '/api/v1/profiles?limit=0', undefined, {}, /invalid limit/],
		['GET', '/api/v1/profiles/flamegraph?service=s&format=png', undefined, {}, /invalid format 'png'/],
	];
	for (const [method, url, body, headers, want] of cases) {
		const res = await fetch(srv.url + url, { method, body, headers });
		const text = await res.text();
		assert.equal(res.status, 400, `${method} ${url}: ${text}`);
		assert.match(JSON.parse(text).error.message, want, `${method} ${url}`);
	}
	const big = await post(`${srv.url}/api/v1/profiles?service=s`, 'a;b 1\n'.repeat(20000));
	assert.equal(big.status, 413, big.text);
	assert.equal(await countProfiles(srv), 0, 'nothing was stored');
});
