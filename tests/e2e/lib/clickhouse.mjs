// clickhouse.mjs - a private ClickHouse server for the tests: Debian's
// clickhouse-server started on loopback with its own data directory,
// configuration and free ports (never the system service), stopped when
// the test process exits.
//
//   const ch = await startClickHouse();   // one per test process, shared
//   ch.storeUrl('mydb')                    // clickhouse://127.0.0.1:PORT/mydb
//   await ch.query('SELECT 1')             // text answer
//
// clickhouseSkip() is false when the server can run here, else the reason
// to skip (test(name, { skip: clickhouseSkip() }, fn)).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { makeTempDir } from './server.mjs';
import { getJson } from './util.mjs';

const CANDIDATES = ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The clickhouse-server binary: $HOTPATH_CLICKHOUSE_SERVER, else Debian's. */
export function clickhouseBin() {
	const env = process.env.HOTPATH_CLICKHOUSE_SERVER;
	if (env) return fs.existsSync(env) ? env : null;
	return CANDIDATES.find((p) => fs.existsSync(p)) || null;
}

export function clickhouseSkip() {
	return clickhouseBin() ? false : 'clickhouse-server is not installed (scripts/install-deps.sh installs it)';
}

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.unref();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

function config(dir, httpPort, tcpPort) {
	return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/log/server.log</log><errorlog>${dir}/log/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/data/tmp/</tmp_path>
  <user_files_path>${dir}/data/user_files/</user_files_path>
  <format_schema_path>${dir}/data/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
</yandex>
`;
}

const USERS = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`;

class ClickHouse {
	constructor(child, httpPort, dir) {
		this.attach(child);
		this.httpPort = httpPort;
		this.dir = dir;
	}

	attach(child) {
		this.child = child;
		this.output = '';
		this.exited = false;
		child.on('exit', () => { this.exited = true; });
		const keep = (c) => { this.output = (this.output + c.toString('utf8')).slice(-16384); };
		child.stdout.on('data', keep);
		child.stderr.on('data', keep);
	}

	storeUrl(db) {
		return `clickhouse://127.0.0.1:${this.httpPort}/${db}`;
	}

	async query(sql) {
		const res = await fetch(`http://127.0.0.1:${this.httpPort}/`, { method: 'POST', body: sql });
		const text = await res.text();
		if (res.status !== 200) throw new Error(`clickhouse: ${res.status}: ${text.slice(0, 500)}`);
		return text;
	}

	logs() {
		let err = '';
		try { err = fs.readFileSync(path.join(this.dir, 'log', 'error.log'), 'utf8').slice(-4000); } catch { /* none */ }
		return `--- clickhouse-server (pid ${this.child.pid}, port ${this.httpPort}) ---\n${this.output}\n${err}\n--- end ---`;
	}

	/** Start it again after stop(), on the same data, configuration and ports. */
	async restart({ timeoutMs = 60000 } = {}) {
		this.attach(spawnServer(this.dir));
		track(this);
		const problem = await waitReady(this, timeoutMs);
		if (problem) throw new Error(`clickhouse-server did not restart: ${problem}\n${this.logs()}`);
	}

	/** Stop the server (SIGTERM, then SIGKILL after 20 s) and wait for it. */
	async stop() {
		if (this.exited) return;
		const gone = new Promise((r) => this.child.once('exit', r));
		this.child.kill('SIGTERM');
		const timer = setTimeout(() => this.child.kill('SIGKILL'), 20000);
		await gone;
		clearTimeout(timer);
	}
}

const live = new Set();
function alive(pid) {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}
// At exit: kill what is left and wait (briefly) until it is gone, so its
// data directory can be removed after it (lib/server.mjs removes temp dirs).
process.on('exit', () => {
	for (const ch of live) {
		try { ch.child.kill('SIGKILL'); } catch { /* gone */ }
		const until = Date.now() + 3000;
		while (alive(ch.child.pid) && Date.now() < until) { /* wait for the kernel */ }
		try { fs.rmSync(ch.dir, { recursive: true, force: true }); } catch { /* best effort */ }
	}
});

async function waitReady(ch, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (ch.exited) return 'exited early';
		try {
			const res = await fetch(`http://127.0.0.1:${ch.httpPort}/ping`, { signal: AbortSignal.timeout(1000) });
			if (res.status === 200) return null;
		} catch { /* not yet */ }
		await sleep(100);
	}
	return `no answer to /ping within ${timeoutMs} ms`;
}

function spawnServer(dir) {
	return spawn(clickhouseBin(), [`--config-file=${path.join(dir, 'config.xml')}`], {
		stdio: ['ignore', 'pipe', 'pipe'], cwd: dir,
	});
}

/* A server must not keep the test process alive: what is left is killed at exit. */
function track(ch) {
	const child = ch.child;
	child.unref();
	child.stdout.unref();
	child.stderr.unref();
	live.add(ch);
	child.on('exit', () => live.delete(ch));
}

/** Start a new private server; stop() it when done (or it dies with the process). */
export async function newClickHouse({ timeoutMs = 60000 } = {}) {
	if (!clickhouseBin()) throw new Error(clickhouseSkip());
	const dir = makeTempDir('hotpath-clickhouse-');
	fs.mkdirSync(path.join(dir, 'log'));
	fs.mkdirSync(path.join(dir, 'data'));
	let last = '';
	for (let attempt = 0; attempt < 3; attempt++) {
		const httpPort = await freePort(), tcpPort = await freePort();
		fs.writeFileSync(path.join(dir, 'config.xml'), config(dir, httpPort, tcpPort));
		fs.writeFileSync(path.join(dir, 'users.xml'), USERS);
		const ch = new ClickHouse(spawnServer(dir), httpPort, dir);
		track(ch);
		const problem = await waitReady(ch, timeoutMs);
		if (!problem) return ch;
		last = `${problem}\n${ch.logs()}`;
		await ch.stop();
	}
	throw new Error(`clickhouse-server did not start: ${last}`);
}

let shared = null;
/** The test process's shared server, started on first use. */
export function startClickHouse() {
	if (!shared) shared = newClickHouse();
	return shared;
}

/* The answers to GET `p` from the embedded-store server and the ClickHouse
 * one, both asserted 200: [embedded json, clickhouse json]. */
export async function getBoth(embedded, clickhouse, p) {
	const [a, b] = await Promise.all([getJson(`${embedded.url}${p}`), getJson(`${clickhouse.url}${p}`)]);
	assert.equal(a.status, 200, `embedded ${p}: ${a.text.slice(0, 300)}`);
	assert.equal(b.status, 200, `clickhouse ${p}: ${b.text.slice(0, 300)}`);
	return [a.json, b.json];
}
