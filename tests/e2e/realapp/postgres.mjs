// postgres.mjs - a private PostgreSQL cluster for an end-to-end test: initdb
// in a temp dir, listening on 127.0.0.1 at a free port (and a Unix socket in
// the temp dir), superuser `app` trusted, fsync off.  Uses Debian's
// packaging (/usr/lib/postgresql/<version>/bin).  As root, the server runs
// as the `postgres` system user (initdb refuses root) and the temp dir is
// handed to it.  The cluster is stopped and removed by stop(), and at
// process exit whatever happens.
//
//   const why = postgresMissing();            // null, or why it cannot run
//   const pg = await startPostgres();         // {host, port, socketDir, stop()}
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const PG_ROOT = '/usr/lib/postgresql';
const RUN_AS = 'postgres';

/** The bin dir of the newest installed PostgreSQL, or null. */
function pgBinDir() {
	let versions = [];
	try { versions = fs.readdirSync(PG_ROOT); } catch { return null; }
	versions = versions.filter((v) => fs.existsSync(path.join(PG_ROOT, v, 'bin', 'initdb')))
		.sort((a, b) => Number(b) - Number(a));
	return versions.length ? path.join(PG_ROOT, versions[0], 'bin') : null;
}

const isRoot = () => process.getuid && process.getuid() === 0;

function runAsUid() {
	const r = spawnSync('id', ['-u', RUN_AS], { encoding: 'utf8' });
	return r.status === 0 ? Number(r.stdout.trim()) : null;
}

/** null when a cluster can be started here, else the reason it cannot. */
export function postgresMissing() {
	if (!pgBinDir()) return `PostgreSQL is not installed (no ${PG_ROOT}/<version>/bin/initdb; scripts/install-deps.sh installs it)`;
	if (isRoot() && runAsUid() === null) return `running as root and there is no '${RUN_AS}' user to run PostgreSQL as`;
	return null;
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

const live = new Set(); // {bin, dataDir, dir} of clusters still running

function pgCommand(bin, tool, args) {
	const exe = path.join(bin, tool);
	return isRoot() ? ['runuser', ['-u', RUN_AS, '--', exe, ...args]] : [exe, args];
}

function stopCluster(c) {
	if (c.running) {
		const [cmd, args] = pgCommand(c.bin, 'pg_ctl', ['-D', c.dataDir, '-m', 'immediate', '-w', 'stop']);
		spawnSync(cmd, args, { stdio: 'ignore', timeout: 30000 });
		c.running = false;
	}
	fs.rmSync(c.dir, { recursive: true, force: true });
	live.delete(c);
}

process.on('exit', () => { for (const c of [...live]) stopCluster(c); });

/** Start a fresh cluster; rejects with the server log when it does not start. */
export async function startPostgres() {
	const bin = pgBinDir();
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-pg-'));
	const c = { bin, dir, dataDir: path.join(dir, 'data'), running: false };
	live.add(c);
	if (isRoot()) {
		const uid = runAsUid();
		fs.chownSync(dir, uid, uid);
	}
	const run = (tool, args) => {
		const [cmd, argv] = pgCommand(bin, tool, args);
		try {
			return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 });
		} catch (e) {
			const log = fs.existsSync(path.join(dir, 'log')) ? fs.readFileSync(path.join(dir, 'log'), 'utf8') : '';
			throw new Error(`${tool} failed: ${e.stderr || e.message}\n${log}`);
		}
	};
	try {
		run('initdb', ['-D', c.dataDir, '-U', 'app', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
		const port = await freePort();
		const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=100`;
		c.running = true;
		run('pg_ctl', ['-D', c.dataDir, '-l', path.join(dir, 'log'), '-w', '-t', '60', '-o', opts, 'start']);
		return { host: '127.0.0.1', port, socketDir: dir, stop: () => stopCluster(c) };
	} catch (e) {
		stopCluster(c);
		throw e;
	}
}
