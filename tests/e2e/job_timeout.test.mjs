// job_timeout.test.mjs - a background job that passes --job-timeout stops,
// is counted in /metrics by job, and stores nothing; on the same data with
// the default limit the same analysis stores its findings.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { hotpathBin, makeTempDir, startServer } from './lib/server.mjs';
import { waitFor } from './lib/util.mjs';

const run = promisify(execFile);

function metric(text, name) {
	const m = text.match(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm'));
	return m ? Number(m[1]) : null;
}

test('an analysis run past --job-timeout is counted and stores nothing; the next with room stores', { timeout: 400000 }, async () => {
	const dir = makeTempDir();
	const db = path.join(dir, 'hotpath.db');
	const count = async (where) => Number((await run('sqlite3', [db, `SELECT count(*) FROM docs WHERE ${where}`])).stdout.trim());
	const findings = () => count("kind IN ('recommendation', 'recommendation.finding')");
	// the analyses' summaries: only whole runs store theirs (those of the
	// empty store at the start, before the demo's data, have no trace)
	const summariesWithTraces = () => count("kind = 'recommendation.analysis' AND json_extract(json, '$.traces') > 0");
	let srv = await startServer({ dataDir: dir, args: ['--job-timeout', '0.001', '--analysis-interval', '1'] });
	try {
		await run(hotpathBin(), ['demo', '--target', srv.url, '--backfill', '1', '--duration', '1', '--quiet'], { timeout: 240000 });
		const text = await waitFor('two timed-out analysis runs', async () => {
			const t = await (await fetch(`${srv.url}/metrics`)).text();
			return metric(t, 'hotpath_job_timeouts_total{job="analysis"}') >= 2 ? t : null;
		}, 60000);
		assert.match(text, /^hotpath_job_timeouts_total\{job="change_watch"\} \d+$/m, 'every job is listed');
		assert.match(srv.output, /the background job analysis took longer than its time limit of 0\.001 s \(--job-timeout\)/);
	} finally {
		await srv.stop();
	}
	assert.equal(await findings(), 0, 'the timed-out runs stored no recommendation');
	assert.equal(await summariesWithTraces(), 0, 'nor the summary of a run cut short');

	srv = await startServer({ dataDir: dir, args: ['--analysis-interval', '1'] });
	try {
		await waitFor('the analysis to store its findings', async () => (await findings()) > 0, 120000);
		await waitFor('a whole run to store its summary', async () => (await summariesWithTraces()) > 0, 60000);
		const t = await (await fetch(`${srv.url}/metrics`)).text();
		assert.equal(metric(t, 'hotpath_job_timeouts_total{job="analysis"}'), 0, 'within the default limit');
	} finally {
		await srv.stop();
	}
});
