// notify_durable.test.mjs - notifications that outlive the server, remind,
// and keep to a channel's rate limit.
//
// A rule fires while its webhook receiver is down; the server is killed
// (SIGKILL) between two attempts; the receiver comes up and the server is
// started again on the same data: the message arrives, once, signed with
// the channel's secret.  A rule with "repeat" reminds while it fires and
// stops once acknowledged.  A channel limited to one message per 3 s gets
// the first of three pages and then one summary naming the other two;
// /metrics counts them.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { startServer } from './lib/server.mjs';
import { apiCall, getJson, sleep, waitFor } from './lib/util.mjs';

const SECRET = 'outbox-secret-91c2';

function startReceiver(port = 0) {
	const got = [];
	const server = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const body = Buffer.concat(chunks).toString();
			got.push({ body, json: JSON.parse(body), headers: req.headers, path: req.url });
			res.writeHead(200).end();
		});
	});
	return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({
		url: `http://127.0.0.1:${server.address().port}/hook`, got, close: () => server.close(),
	})));
}

function freePort() {
	return new Promise((resolve) => {
		const s = net.createServer();
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

async function metric(srv, name) {
	const text = await (await fetch(`${srv.url}/metrics`)).text();
	const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
	return m ? Number(m[1]) : NaN;
}

// A rule that holds from the first evaluation: throughput >= 0 of no requests.
const always = (id, channels, extra = {}) => ({
	id, measure: 'throughput', comparison: '>=', threshold: 0, min_requests: 0, window: 60,
	filters: { service: `none-${id}` }, channels, ...extra,
});

describe('a message waiting for a receiver that is down survives a crash', () => {
	let srv, rx;
	after(async () => {
		rx?.close();
		await srv?.stop();
	});

	test('delivered once after the restart, signed', async () => {
		const port = await freePort();
		srv = await startServer({ args: ['--watch-interval', '1'] });
		let r = await apiCall(srv, 'POST', '/api/v1/alerts/channels', { id: 'later', url: `http://127.0.0.1:${port}/hook`, secret: SECRET });
		assert.equal(r.status, 201, r.text);
		r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', always('down', ['later']));
		assert.equal(r.status, 201, r.text);
		await waitFor('the first failed attempt', () => /notification for rule:down to channel later failed \(attempt 1 of 4\)/.test(srv.logs()));
		await srv.kill(); // a crash between two attempts
		rx = await startReceiver(port);
		srv = await startServer({ dataDir: srv.dataDir, args: ['--watch-interval', '1'] });
		const m = await waitFor('the kept message', () => rx.got.find((x) => x.json.alert?.id === 'rule:down'));
		assert.equal(m.json.event, 'firing');
		const want = 'sha256=' + crypto.createHmac('sha256', SECRET).update(m.body).digest('hex');
		assert.equal(m.headers['x-hotpath-signature'], want, 'signed with the channel\'s secret');
		assert.equal(await metric(srv, 'hotpath_notifications_restored_total'), 1);
		await sleep(3000); // more evaluations: the alert still fires, and paged already
		assert.equal(rx.got.filter((x) => x.json.alert?.id === 'rule:down').length, 1, 'exactly once');
		assert.equal(await metric(srv, 'hotpath_notifications_pending'), 0);
		const al = (await getJson(`${srv.url}/api/v1/alerts/rule:down`)).json;
		assert.equal(al.state, 'firing');
		assert.equal(al.pages, 1);
		assert.ok(!srv.logs().includes(SECRET), 'no secret in the log');
	});
});

describe('reminders and rate limits', () => {
	let srv, rx;
	before(async () => {
		rx = await startReceiver();
		srv = await startServer({ args: ['--watch-interval', '1'] });
	});
	after(async () => {
		rx?.close();
		await srv?.stop();
	});

	test('a firing alert nobody acknowledged pages again every "repeat"; acknowledged, it stops', async () => {
		let r = await apiCall(srv, 'POST', '/api/v1/alerts/channels', { id: 'nagged', url: `${rx.url}/nag` });
		assert.equal(r.status, 201, r.text);
		r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', always('nag', ['nagged'], { repeat: '2s' }));
		assert.equal(r.status, 201, r.text);
		assert.equal(r.json.repeat, 2);
		const of = () => rx.got.filter((x) => x.json.alert?.id === 'rule:nag');
		await waitFor('two reminders', () => of().filter((x) => x.json.event === 'reminder').length >= 2, 15000);
		assert.equal(of()[0].json.event, 'firing', 'the page first');
		assert.equal(of().filter((x) => x.json.event === 'firing').length, 1);
		r = await apiCall(srv, 'POST', '/api/v1/alerts/rule:nag', { action: 'acknowledge' }, 'dave');
		assert.equal(r.status, 200, r.text);
		await sleep(1500);
		const n = of().length;
		await sleep(4000);
		assert.equal(of().length, n, 'no reminder once acknowledged');
		r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', always('bad-repeat', [], { repeat: '9d' }));
		assert.equal(r.status, 400);
		assert.match(r.json.error.message, /repeat/);
	});

	test('past its rate limit a channel gets one summary of what it held', async () => {
		const grouped0 = await metric(srv, 'hotpath_notifications_grouped_total');
		let r = await apiCall(srv, 'POST', '/api/v1/alerts/channels', { id: 'limited', url: `${rx.url}/limited`, rate_limit: 1, rate_window: 3 });
		assert.equal(r.status, 201, r.text);
		assert.equal(r.json.rate_limit, 1);
		assert.equal(r.json.rate_window, 3);
		for (const id of ['lim-a', 'lim-b', 'lim-c']) {
			r = await apiCall(srv, 'POST', '/api/v1/alerts/rules', always(id, ['limited']));
			assert.equal(r.status, 201, r.text);
		}
		const at = () => rx.got.filter((x) => x.path === '/hook/limited');
		const summary = await waitFor('the summary', () => at().find((x) => x.json.event === 'summary'), 20000);
		const pages = at().filter((x) => x.json.event === 'firing');
		assert.equal(pages.length, 1, 'one page within the limit');
		assert.equal(summary.json.held, 2);
		const held = summary.json.alerts.map((a) => a.id).sort();
		const all = ['rule:lim-a', 'rule:lim-b', 'rule:lim-c'];
		assert.deepEqual([...held, pages[0].json.alert.id].sort(), all, 'every page is either sent or in the summary');
		assert.equal(await metric(srv, 'hotpath_notifications_grouped_total'), grouped0 + 2);
		assert.ok(await metric(srv, 'hotpath_notifications_summaries_total') >= 1);
		r = await apiCall(srv, 'POST', '/api/v1/alerts/channels', { id: 'bad', url: rx.url, rate_limit: 0 });
		assert.equal(r.status, 400);
		assert.match(r.json.error.message, /rate_limit/);
	});
});
