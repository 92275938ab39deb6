// compact.test.mjs - a store made without incremental vacuum (as by an
// older hotpath): the server says at start-up that its file will not
// shrink and works as before; `hotpath compact` (server stopped) turns
// incremental vacuum on and keeps the data; a new store has it from the
// start.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { hotpathBin, makeTempDir, startServer } from './lib/server.mjs';
import { fetchTrace, makeTrace, postOtlpJson, jsonTraceRequest } from './lib/util.mjs';

const run = promisify(execFile);
const mode = async (db) => (await run('sqlite3', [db, 'PRAGMA auto_vacuum'])).stdout.trim();

test('an older store opens, says it will not shrink, and hotpath compact converts it', { timeout: 120000 }, async () => {
	const dir = makeTempDir();
	const db = path.join(dir, 'hotpath.db');
	let srv = await startServer({ dataDir: dir, args: ['--analysis-interval', '0'] });
	const tr = makeTrace({ name: 'GET /compact', children: 3 });
	try {
		await postOtlpJson(srv.url, jsonTraceRequest([{ attrs: { 'service.name': 'c' }, spans: tr.spans }])); // asserts 200
		assert.doesNotMatch(srv.output, /created without incremental vacuum/, 'a new store is not told to convert');
	} finally {
		await srv.stop();
	}
	assert.equal(await mode(db), '2', 'a new store is created with auto_vacuum=INCREMENTAL');
	await run('sqlite3', [db, 'PRAGMA auto_vacuum=NONE; VACUUM;']);
	assert.equal(await mode(db), '0', 'made like an older store');

	srv = await startServer({ dataDir: dir, args: ['--analysis-interval', '0'] });
	try {
		assert.match(srv.output, /created without incremental vacuum.*hotpath compact --data/, 'the server says how to convert it');
		assert.equal((await fetchTrace(srv, tr.traceId))?.length, 4, 'and serves the data');
		const m = await (await fetch(`${srv.url}/metrics`)).text();
		assert.match(m, /^hotpath_store_free_bytes \d+$/m);
		assert.doesNotMatch(m, /hotpath_store_vacuumed_pages_total/, 'no vacuum counter without incremental vacuum');
	} finally {
		await srv.stop();
	}
	const out = await run(hotpathBin(), ['compact', '--data', dir]);
	assert.match(out.stderr, /compacted .*incremental vacuum is on/);
	assert.equal(await mode(db), '2', 'compact turned incremental vacuum on');

	srv = await startServer({ dataDir: dir, args: ['--analysis-interval', '0'] });
	try {
		assert.doesNotMatch(srv.output, /created without incremental vacuum/);
		assert.equal((await fetchTrace(srv, tr.traceId))?.length, 4, 'the data is kept');
		assert.match(await (await fetch(`${srv.url}/metrics`)).text(), /^hotpath_store_vacuumed_pages_total 0$/m);
	} finally {
		await srv.stop();
	}
	await assert.rejects(run(hotpathBin(), ['compact', '--data', path.join(dir, 'nonesuch')]), /no store in/);
});
