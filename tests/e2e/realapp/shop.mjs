// shop.mjs - an express 5 service with planted performance problems, one
// per route, for the real-application end-to-end test (realapp.test.mjs).
//
//   GET /orders/:id       N+1: the order's items read one line at a time
//   GET /checkout/:id     three downstream services called one after another
//   GET /reports/:id      a query on the tiny `reports` pool (max 2): exhausted
//   GET /catalog/:id      the same query on the large `shop` pool: fine
//   GET /recommend/:id    CPU-bound: own JS work, no child spans
//   GET /quote/:id        a shipping quote given up after 25 ms (timed out)
//   GET /health-check     healthy: one indexed query
//
// Configuration from the environment: PORT, PGHOST, PGPORT (the shop and
// reports databases), INVENTORY_URL, PRICING_URL, SHIPPING_URL.
// Prints "listening PORT" when ready.
import express from 'express';
import pg from 'pg';

const pgConf = { host: process.env.PGHOST, port: Number(process.env.PGPORT), user: 'app' };
const shopPool = new pg.Pool({ ...pgConf, database: 'shop', max: 20 });
const reportsPool = new pg.Pool({ ...pgConf, database: 'reports', max: 2 });

const app = express();

app.get('/health-check', async (req, res) => {
	const r = await shopPool.query('SELECT id, status FROM orders WHERE id = $1', [1]);
	res.json({ ok: r.rowCount === 1 });
});

// N+1: the item ids first, then each item by its own query, awaited in turn.
app.get('/orders/:id', async (req, res) => {
	const orderId = Number(req.params.id);
	const items = [];
	for (let line = 1; line <= 10; line++) {
		const r = await shopPool.query(
			'SELECT sku, quantity, price FROM order_items WHERE order_id = $1 AND line = $2',
			[orderId, line]);
		items.push(r.rows[0]);
	}
	res.json({ order: orderId, items });
});

async function getJson(url) {
	const r = await fetch(url);
	if (!r.ok) throw new Error(`${url}: ${r.status}`);
	return r.json();
}

// Three independent look-ups awaited one after another.
app.get('/checkout/:id', async (req, res) => {
	const id = req.params.id;
	const stock = await getJson(`${process.env.INVENTORY_URL}/stock/${id}`);
	const price = await getJson(`${process.env.PRICING_URL}/prices/${id}`);
	const quote = await getJson(`${process.env.SHIPPING_URL}/quotes/${id}`);
	res.json({ stock, price, quote });
});

// The express quote waits 25 ms at most; it is slower, so the call times out.
app.get('/quote/:id', async (req, res) => {
	try {
		const r = await fetch(`${process.env.SHIPPING_URL}/quotes/${req.params.id}?express=1`, { signal: AbortSignal.timeout(25) });
		res.json(await r.json());
	} catch {
		res.json({ quote: null });
	}
});

const REPORT_SQL = 'SELECT count(*) AS n, pg_sleep(0.03) FROM orders WHERE customer_id = $1';

app.get('/reports/:id', async (req, res) => {
	const r = await reportsPool.query(REPORT_SQL, [Number(req.params.id) % 50]);
	res.json(r.rows[0]);
});

app.get('/catalog/:id', async (req, res) => {
	const r = await shopPool.query(REPORT_SQL, [Number(req.params.id) % 50]);
	res.json(r.rows[0]);
});

// CPU-bound: scores every product by a hash of the customer and the product.
function scoreRecommendations(customerId, products) {
	let best = 0, bestScore = -1;
	for (let p = 0; p < products; p++) {
		let h = 2166136261 ^ customerId;
		for (let round = 0; round < 5000; round++) h = Math.imul(h ^ (p + round), 16777619) >>> 0;
		if (h > bestScore) { bestScore = h; best = p; }
	}
	return best;
}

app.get('/recommend/:id', (req, res) => {
	res.json({ product: scoreRecommendations(Number(req.params.id), 6000) });
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => {
	console.log(`listening ${server.address().port}`);
});
