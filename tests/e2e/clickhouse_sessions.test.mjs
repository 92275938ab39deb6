// clickhouse_sessions.test.mjs - the dashboard's sessions with the
// ClickHouse store: signing out deletes the session's document (a tombstone
// at once, then a mutation), so after a restart the cookie is refused and
// the table holds no row of it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { clickhouseSkip, newClickHouse } from './lib/clickhouse.mjs';
import { startServer } from './lib/server.mjs';
import { sleep } from './lib/util.mjs';

const skip = clickhouseSkip();
const ct = { 'content-type': 'application/json' };

describe('sessions with the ClickHouse store', { skip, timeout: 300000 }, () => {
	test('a signed-out session is deleted: refused after a restart, no row left', async () => {
		const ch = await newClickHouse();
		const args = ['--analysis-interval', '0', '--lease-seconds', '3', '--store', ch.storeUrl('sess')];
		let srv = await startServer({ args });
		let dir;
		try {
			dir = srv.dataDir;
			// open mode on loopback: the first key is made through the API
			const made = await fetch(`${srv.url}/api/v1/keys`, { method: 'POST', headers: ct, body: JSON.stringify({ name: 'ch-admin', role: 'admin' }) });
			assert.equal(made.status, 201, await made.clone().text());
			const key = (await made.json()).token;
			const signIn = async () => {
				const s = await fetch(`${srv.url}/api/v1/session`, { method: 'POST', headers: ct, body: JSON.stringify({ key }) });
				assert.equal(s.status, 200);
				return s.headers.get('set-cookie').split(';')[0];
			};
			const stays = await signIn(), leaves = await signIn();
			const rows = async () => Number((await ch.query("SELECT count() FROM sess.docs WHERE kind = 'session'")).trim());
			assert.equal(await rows(), 2, 'both sessions stored');
			assert.equal((await fetch(`${srv.url}/api/v1/session`, { method: 'DELETE', headers: { cookie: leaves } })).status, 200);
			await srv.stop();
			srv = await startServer({ dataDir: dir, args });
			const who = async (cookie) => (await (await fetch(`${srv.url}/api/v1/session`, { headers: { cookie } })).json()).signed_in;
			assert.equal(await who(stays), true, 'the other session is kept over the restart');
			assert.equal(await who(leaves), false, 'the signed-out one is refused');
			let n = await rows();
			for (let i = 0; i < 100 && n !== 1; i++) { // the mutation runs in the background
				await sleep(100);
				n = await rows();
			}
			assert.equal(n, 1, 'the mutation deleted the signed-out session\'s rows, tombstone included');
		} finally {
			await srv.stop();
			await ch.stop();
		}
	});
});
