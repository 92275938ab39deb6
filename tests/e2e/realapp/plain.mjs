// plain.mjs - a service on node:http alone (no framework, so its spans carry
// no http.route), for the real-application end-to-end test.  Every path
// answers after DELAY_MS (SLOW_MS when the query has express=1) with a small
// JSON body; /users/ID/... paths also read the user from PostgreSQL when
// PGHOST is set.
//
// Configuration from the environment: PORT, DELAY_MS, SLOW_MS, PGHOST, PGPORT.
// Prints "listening PORT" when ready.
import http from 'node:http';
import pg from 'pg';

const delay = Number(process.env.DELAY_MS || 0);
const slowDelay = Number(process.env.SLOW_MS || delay);
const pool = process.env.PGHOST
	? new pg.Pool({ host: process.env.PGHOST, port: Number(process.env.PGPORT), user: 'app', database: 'shop', max: 5 })
	: null;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function answer(req) {
	await sleep(/[?&]express=1\b/.test(req.url) ? slowDelay : delay);
	const user = /^\/users\/(\d+)\//.exec(req.url);
	if (pool && user) {
		const r = await pool.query('SELECT id, name FROM customers WHERE id = $1', [Number(user[1]) % 50]);
		return { user: r.rows[0] || null };
	}
	return { path: req.url, value: req.url.length };
}

const server = http.createServer((req, res) => {
	answer(req).then((body) => {
		res.writeHead(200, { 'content-type': 'application/json' });
		res.end(JSON.stringify(body));
	}, (e) => {
		res.writeHead(500);
		res.end(String(e));
	});
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
	console.log(`listening ${server.address().port}`);
});
