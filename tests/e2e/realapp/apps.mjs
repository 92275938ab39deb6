// apps.mjs - start and stop the real-application test's Node services, each
// under the OpenTelemetry Node SDK (`node --import otel.mjs SCRIPT`), and
// drive bounded load at them.
//
//   const app = await startApp('shop', 'shop.mjs', env);  // waits for "listening PORT"
//   await drive(app.url, paths, 4, deadlineMs);           // {sent, failures}
//   await app.stop();                                      // SIGTERM: the SDK flushes
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const live = new Set();
process.on('exit', () => { for (const c of live) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });

/** Start SCRIPT (in this directory) as service NAME; resolves when it listens. */
export function startApp(name, script, env, timeoutMs = 60000) {
	const child = spawn(process.execPath, ['--import', path.join(here, 'otel.mjs'), path.join(here, script)], {
		env: {
			...process.env,
			OTEL_SERVICE_NAME: name,
			OTEL_RESOURCE_ATTRIBUTES: 'service.version=1.0.0,deployment.environment.name=e2e',
			OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process', // no cloud metadata look-ups
			PORT: '0',
			...env,
		},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	live.add(child);
	const app = { name, child, output: '', url: null };
	const exited = new Promise((resolve) => child.on('exit', (code, signal) => { live.delete(child); resolve({ code, signal }); }));
	app.logs = () => `--- ${name} (pid ${child.pid}) ---\n${app.output.slice(-3000)}\n--- end ---`;
	app.stop = async () => {
		child.kill('SIGTERM');
		let timer;
		const r = await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(() => resolve(null), 30000); })]);
		clearTimeout(timer);
		if (!r) {
			child.kill('SIGKILL');
			throw new Error(`${name} did not exit within 30 s of SIGTERM\n${app.logs()}`);
		}
		if (r.code !== 0) throw new Error(`${name} exited with ${r.code ?? r.signal} after SIGTERM\n${app.logs()}`);
	};
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`${name} did not listen within ${timeoutMs} ms\n${app.logs()}`)), timeoutMs);
		const keep = (d) => {
			app.output += d;
			const m = /listening (\d+)/.exec(app.output);
			if (m && !app.url) {
				app.url = `http://127.0.0.1:${m[1]}`;
				app.port = Number(m[1]);
				clearTimeout(timer);
				resolve(app);
			}
		};
		child.stdout.on('data', keep);
		child.stderr.on('data', keep);
		exited.then((r) => { clearTimeout(timer); reject(new Error(`${name} exited (${r.code ?? r.signal}) before listening\n${app.logs()}`)); });
	});
}

/**
 * GET each of `paths` from `base` with `concurrency` requests in flight,
 * stopping early at `deadline` (ms since the epoch).  Resolves
 * {sent, failures: ["PATH: status"]}.
 */
export async function drive(base, paths, concurrency, deadline) {
	let next = 0;
	const failures = [];
	const worker = async () => {
		while (next < paths.length && Date.now() < deadline) {
			const p = paths[next++];
			try {
				const r = await fetch(base + p, { signal: AbortSignal.timeout(20000) });
				await r.arrayBuffer();
				if (r.status !== 200) failures.push(`${p}: ${r.status}`);
			} catch (e) {
				failures.push(`${p}: ${e.cause?.code || e.message}`);
			}
		}
	};
	await Promise.all(Array.from({ length: concurrency }, worker));
	return { sent: next, failures };
}
