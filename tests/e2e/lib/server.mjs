// server.mjs - start a real `hotpath serve` for an end-to-end test.
//
//   const srv = await startServer();          // fresh temp data dir, free port
//   await fetch(srv.url + '/health');
//   await srv.stop();                          // SIGTERM, asserts exit code 0
//   await srv.kill();                          // SIGKILL (crash), data dir kept
//   const again = await startServer({ dataDir: srv.dataDir });
//
// stderr (and stdout) of the server are captured; srv.logs() returns the
// tail, for assertion messages.  Every server started here is killed and
// every temp dir removed when the test process exits, whatever happens.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const LOG_KEEP = 256 * 1024;
const live = new Set();     // child processes still running
const tempDirs = new Set(); // data dirs created here, removed at exit

process.on('exit', () => {
	for (const child of live) {
		try { child.kill('SIGKILL'); } catch { /* already gone */ }
	}
	for (const dir of tempDirs) {
		try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
	}
});
for (const sig of ['SIGINT', 'SIGTERM']) {
	process.once(sig, () => process.exit(130));
}

/** Path of the hotpath binary: $HOTPATH_BIN, else build/hotpath. */
export function hotpathBin() {
	const bin = process.env.HOTPATH_BIN || path.resolve('build/hotpath');
	if (!fs.existsSync(bin)) {
		throw new Error(`hotpath binary not found at ${bin} (set HOTPATH_BIN or run make)`);
	}
	return bin;
}

/** The shared folder (seeds, testdata): $HOTPATH_SHARED, else ../shared. */
export function sharedDir() {
	return process.env.HOTPATH_SHARED || path.resolve('..', 'shared');
}

/**
 * false when `sub` (e.g. 'seeds') exists in the shared folder, else the
 * reason to skip a test that needs that outside data (a clone of the
 * project alone has none): test(name, { skip: sharedSkip('seeds') }, fn).
 */
export function sharedSkip(sub) {
	const p = path.join(sharedDir(), sub);
	return fs.existsSync(p) ? false : `no outside data at ${p} (set HOTPATH_SHARED)`;
}

/** A fresh, empty temp directory, removed when the process exits. */
export function makeTempDir(prefix = 'hotpath-e2e-') {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
	tempDirs.add(dir);
	return dir;
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Server {
	constructor(child, port, dataDir) {
		this.child = child;
		this.port = port;
		this.dataDir = dataDir;
		this.url = `http://127.0.0.1:${port}`;
		this.dbPath = path.join(dataDir, 'hotpath.db');
		this.output = '';
		this.exited = false;
		this.exitCode = null;
		this.exitSignal = null;
		this.exitPromise = new Promise((resolve) => {
			child.on('exit', (code, signal) => {
				this.exited = true;
				this.exitCode = code;
				this.exitSignal = signal;
				live.delete(child);
				resolve({ code, signal });
			});
		});
		const keep = (chunk) => {
			this.output += chunk.toString('utf8');
			if (this.output.length > LOG_KEEP) this.output = this.output.slice(-LOG_KEEP / 2);
		};
		child.stderr.on('data', keep);
		child.stdout.on('data', keep);
	}

	/** The last `n` characters of the server's stderr/stdout. */
	logs(n = 4000) {
		const s = this.output.slice(-n);
		return `--- hotpath output (pid ${this.child.pid}, ${this.url}, data ${this.dataDir}) ---\n${s}\n--- end ---`;
	}

	async waitExit(ms) {
		let timer;
		const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), ms); });
		const r = await Promise.race([this.exitPromise, timeout]);
		clearTimeout(timer);
		return r;
	}

	/**
	 * Graceful stop: SIGTERM (or `signal`), wait up to `timeoutMs`, and throw
	 * unless the process exited by itself with code 0.  On timeout it is
	 * SIGKILLed and the error says so.  Returns {code, signal}.
	 */
	async stop({ signal = 'SIGTERM', timeoutMs = 30000 } = {}) {
		if (this.exited) {
			return this.checkExit(`hotpath had already exited before ${signal}`);
		}
		this.child.kill(signal);
		const r = await this.waitExit(timeoutMs);
		if (!r) {
			this.child.kill('SIGKILL');
			await this.exitPromise;
			throw new Error(`hotpath did not exit within ${timeoutMs} ms of ${signal}; SIGKILLed\n${this.logs()}`);
		}
		return this.checkExit(`after ${signal}`);
	}

	checkExit(what) {
		if (this.exitCode !== 0 || this.exitSignal) {
			throw new Error(`hotpath ${what}: exit code ${this.exitCode}, signal ${this.exitSignal}; expected exit code 0\n${this.logs()}`);
		}
		return { code: this.exitCode, signal: this.exitSignal };
	}

	/** Crash: SIGKILL and wait for the process to be gone. */
	async kill() {
		if (!this.exited) this.child.kill('SIGKILL');
		return this.exitPromise;
	}

	/** Stop quietly whatever the state (for cleanup hooks): SIGTERM, then SIGKILL. */
	async dispose() {
		if (this.exited) return;
		this.child.kill('SIGTERM');
		if (!(await this.waitExit(10000))) {
			this.child.kill('SIGKILL');
			await this.exitPromise;
		}
	}
}

async function waitHealthy(srv, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	let last = 'no answer';
	while (Date.now() < deadline) {
		if (srv.exited) return `exited early (code ${srv.exitCode}, signal ${srv.exitSignal})`;
		try {
			const res = await fetch(srv.url + '/health', { signal: AbortSignal.timeout(2000) });
			const body = await res.text();
			if (res.status === 200) return null;
			last = `status ${res.status}: ${body.slice(0, 200)}`;
		} catch (e) {
			last = String(e.cause?.code || e.message);
		}
		await sleep(50);
	}
	return `GET /health not 200 within ${timeoutMs} ms (last: ${last})`;
}

/** The store the tests run against: $HOTPATH_STORE ('clickhouse'), else the embedded one. */
export function storeKind() {
	return process.env.HOTPATH_STORE === 'clickhouse' ? 'clickhouse' : 'embedded';
}

let dbCount = 0;
/*
 * With HOTPATH_STORE=clickhouse, `--store` for a server on `dir`: one
 * ClickHouse database per data directory (kept in DIR/clickhouse-db, so a
 * restart on the same directory finds its data again), in the test
 * process's private ClickHouse (lib/clickhouse.mjs).
 */
async function storeArgs(dir) {
	if (storeKind() !== 'clickhouse') return [];
	const { startClickHouse } = await import('./clickhouse.mjs');
	const ch = await startClickHouse();
	const file = path.join(dir, 'clickhouse-db');
	let db;
	try {
		db = fs.readFileSync(file, 'utf8').trim();
	} catch {
		db = `hp_${process.pid}_${++dbCount}`;
		fs.writeFileSync(file, db);
	}
	return ['--store', ch.storeUrl(db)];
}

/**
 * Start `hotpath serve --listen 127.0.0.1:PORT --data DIR` and wait for
 * GET /health to answer 200.  With HOTPATH_STORE=clickhouse the data goes
 * to a private ClickHouse instead (storeArgs).
 *   dataDir: reuse a directory (restart); default a fresh temp dir
 *   args:    extra command-line arguments
 */
export async function startServer({ dataDir, args = [], env = {}, timeoutMs = 30000 } = {}) {
	const bin = hotpathBin();
	const dir = dataDir || makeTempDir();
	args = [...(await storeArgs(dir)), ...args];
	let lastError = '';
	for (let attempt = 0; attempt < 5; attempt++) {
		const port = await freePort();
		const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data', dir, ...args], {
			stdio: ['ignore', 'pipe', 'pipe'],
			env: { ...process.env, ...env },
		});
		live.add(child);
		const srv = new Server(child, port, dir);
		const spawnError = new Promise((resolve) => child.once('error', (e) => resolve(e)));
		const problem = await Promise.race([waitHealthy(srv, timeoutMs), spawnError.then((e) => `spawn failed: ${e.message}`)]);
		if (!problem) return srv;
		lastError = `${problem}\n${srv.logs()}`;
		await srv.kill();
		// Another process may have taken the port between probe and bind: retry.
		if (!/address|in use|bind/i.test(srv.output)) break;
	}
	throw new Error(`hotpath serve did not become healthy: ${lastError}`);
}

/**
 * Register cleanup with node:test: `const srv = await useServer(t)` in a
 * test, or `useServer({after})` at file level.
 */
export async function useServer(hooks, opts) {
	const srv = await startServer(opts);
	hooks.after(() => srv.dispose());
	return srv;
}
