// util.mjs - helpers shared by the end-to-end tests: ids, a minimal
// protobuf writer/reader, OTLP/JSON builders and HTTP helpers.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const hexId = (bytes) => crypto.randomBytes(bytes).toString('hex');
export const traceId = () => hexId(16);
export const spanId = () => hexId(8);
export const uniq = (prefix) => `${prefix}-${crypto.randomBytes(4).toString('hex')}`;

/** Current time in ns since the epoch, as a BigInt. */
export function nowNs() {
	return BigInt(Date.now()) * 1000000n;
}

// ---------------------------------------------------------------- protobuf

/** A tiny protobuf writer: enough to hand-craft OTLP requests. */
export class PbWriter {
	constructor() { this.parts = []; }
	varint(v) {
		let n = BigInt(v);
		if (n < 0n) n += 1n << 64n;
		const out = [];
		do {
			let b = Number(n & 0x7fn);
			n >>= 7n;
			if (n) b |= 0x80;
			out.push(b);
		} while (n);
		this.parts.push(Buffer.from(out));
		return this;
	}
	tag(field, wire) { return this.varint((field << 3) | wire); }
	uint(field, v) { return this.tag(field, 0).varint(v); }
	bool(field, v) { return this.uint(field, v ? 1 : 0); }
	fixed64(field, v) {
		const b = Buffer.alloc(8);
		b.writeBigUInt64LE(BigInt(v));
		this.tag(field, 1);
		this.parts.push(b);
		return this;
	}
	double(field, v) {
		const b = Buffer.alloc(8);
		b.writeDoubleLE(v);
		this.tag(field, 1);
		this.parts.push(b);
		return this;
	}
	bytes(field, buf) {
		const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf);
		this.tag(field, 2).varint(b.length);
		this.parts.push(b);
		return this;
	}
	string(field, s) { return this.bytes(field, Buffer.from(s, 'utf8')); }
	message(field, fn) {
		const w = new PbWriter();
		fn(w);
		return this.bytes(field, w.finish());
	}
	finish() { return Buffer.concat(this.parts); }
}

/**
 * Decode one protobuf message shallowly: {field: [value, ...]} where a
 * value is a BigInt (varint, fixed) or a Buffer (length-delimited).
 * Throws on malformed input.
 */
export function pbDecode(buf) {
	const out = {};
	let i = 0;
	const varint = () => {
		let v = 0n, shift = 0n;
		for (;;) {
			if (i >= buf.length) throw new Error('truncated varint');
			const b = buf[i++];
			v |= BigInt(b & 0x7f) << shift;
			if (!(b & 0x80)) return v;
			shift += 7n;
			if (shift > 63n) throw new Error('varint too long');
		}
	};
	while (i < buf.length) {
		const key = varint();
		const field = Number(key >> 3n), wire = Number(key & 7n);
		let val;
		if (wire === 0) val = varint();
		else if (wire === 1) { if (i + 8 > buf.length) throw new Error('truncated fixed64'); val = buf.readBigUInt64LE(i); i += 8; }
		else if (wire === 5) { if (i + 4 > buf.length) throw new Error('truncated fixed32'); val = BigInt(buf.readUInt32LE(i)); i += 4; }
		else if (wire === 2) {
			const n = Number(varint());
			if (i + n > buf.length) throw new Error('truncated bytes');
			val = buf.subarray(i, i + n); i += n;
		} else throw new Error(`unsupported wire type ${wire}`);
		(out[field] ||= []).push(val);
	}
	return out;
}

/** google.rpc.Status {1: code, 2: message} from protobuf bytes. */
export function decodeRpcStatus(buf) {
	const m = pbDecode(buf);
	return {
		code: m[1] ? Number(m[1][0]) : 0,
		message: m[2] ? m[2][0].toString('utf8') : '',
		details: m[3] || [],
	};
}

/**
 * Export{Trace,Metrics}ServiceResponse from protobuf bytes:
 * {partialSuccess: {rejected, errorMessage}} or {partialSuccess: null}.
 */
export function decodeExportResponse(buf) {
	const m = pbDecode(buf);
	if (!m[1]) return { partialSuccess: null };
	const ps = pbDecode(m[1][0]);
	return {
		partialSuccess: {
			rejected: ps[1] ? Number(ps[1][0]) : 0,
			errorMessage: ps[2] ? ps[2][0].toString('utf8') : '',
		},
	};
}

/**
 * A hand-written OTLP ExportTraceServiceRequest.
 *   resources: [{attrs: {k: string}, spans: [{traceId, spanId, parentSpanId?,
 *                name, kind?, start: BigInt ns, end: BigInt ns, attrs?: {k: string|int}}]}]
 * Ids are hex strings here and go out as raw bytes (any length: the caller
 * may pass a wrong one on purpose).
 */
export function pbTraceRequest(resources) {
	const kv = (w, field, k, v) => w.message(field, (m) => {
		m.string(1, k);
		m.message(2, (av) => {
			if (typeof v === 'string') av.string(1, v);
			else if (typeof v === 'boolean') av.bool(2, v);
			else if (Number.isInteger(v)) av.uint(3, v);
			else av.double(4, v);
		});
	});
	const w = new PbWriter();
	for (const r of resources) {
		w.message(1, (rs) => {
			rs.message(1, (res) => {
				for (const [k, v] of Object.entries(r.attrs || {})) kv(res, 1, k, v);
			});
			rs.message(2, (ss) => {
				ss.message(1, (sc) => sc.string(1, 'e2e-handmade').string(2, '1.0'));
				for (const s of r.spans) {
					ss.message(2, (sp) => {
						sp.bytes(1, Buffer.from(s.traceId, 'hex'));
						sp.bytes(2, Buffer.from(s.spanId, 'hex'));
						if (s.parentSpanId) sp.bytes(4, Buffer.from(s.parentSpanId, 'hex'));
						sp.string(5, s.name);
						sp.uint(6, s.kind ?? 2);
						sp.fixed64(7, s.start);
						sp.fixed64(8, s.end);
						for (const [k, v] of Object.entries(s.attrs || {})) kv(sp, 9, k, v);
					});
				}
			});
		});
	}
	return w.finish();
}

/** The same request in OTLP/JSON (hex ids, decimal-string nanos). */
export function jsonTraceRequest(resources) {
	const anyValue = (v) => {
		if (typeof v === 'string') return { stringValue: v };
		if (typeof v === 'boolean') return { boolValue: v };
		if (Number.isInteger(v)) return { intValue: String(v) };
		return { doubleValue: v };
	};
	const kvs = (o) => Object.entries(o || {}).map(([key, v]) => ({ key, value: anyValue(v) }));
	return {
		resourceSpans: resources.map((r) => ({
			resource: { attributes: kvs(r.attrs) },
			scopeSpans: [{
				scope: { name: 'e2e-handmade', version: '1.0' },
				spans: r.spans.map((s) => ({
					traceId: s.traceId,
					spanId: s.spanId,
					...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
					name: s.name,
					kind: s.kind ?? 2,
					startTimeUnixNano: String(s.start),
					endTimeUnixNano: String(s.end),
					attributes: kvs(s.attrs),
				})),
			}],
		})),
	};
}

/**
 * A small valid trace: one SERVER root and `children` INTERNAL children,
 * ending now.  Returns {traceId, spans} in the pbTraceRequest span shape.
 */
export function makeTrace({ name = 'GET /e2e', children = 2, endNs = nowNs() } = {}) {
	const tid = traceId();
	const root = { traceId: tid, spanId: spanId(), name, kind: 2, start: endNs - 10_000_000n, end: endNs, attrs: { 'http.request.method': 'GET' } };
	const spans = [root];
	for (let i = 0; i < children; i++) {
		spans.push({
			traceId: tid, spanId: spanId(), parentSpanId: root.spanId, name: `child-${i}`, kind: 1,
			start: root.start + BigInt(i) * 1_000_000n, end: root.start + BigInt(i + 1) * 1_000_000n,
			attrs: { index: i },
		});
	}
	return { traceId: tid, spans };
}

// -------------------------------------------------------------------- http

/**
 * POST over a raw TCP socket rather than fetch, so that a server answering
 * before it has read the whole body (413 on Content-Length) is still seen:
 * the answer is parsed as it arrives and write errors (EPIPE, ECONNRESET)
 * after that are ignored.  `body` is a Buffer (sent with Content-Length) or
 * an async iterable of Buffers (sent chunked).
 * Resolves {status, headers (lower-case names), body: Buffer}.
 */
export function rawPost(url, { headers = {}, body, timeoutMs = 120000 } = {}) {
	return new Promise((resolve, reject) => {
		const u = new URL(url);
		const chunked = !Buffer.isBuffer(body);
		const head = [`POST ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, 'Connection: close'];
		for (const [k, v] of Object.entries(headers)) if (!/^(transfer-encoding|content-length)$/i.test(k)) head.push(`${k}: ${v}`);
		head.push(chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`);
		const sock = net.connect(Number(u.port), u.hostname);
		let settled = false, writeError = null;
		let inBuf = Buffer.alloc(0);
		const done = (fn, v) => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			sock.destroy();
			fn(v);
		};
		const timer = setTimeout(() => done(reject, new Error(`no answer from ${url} within ${timeoutMs} ms`)), timeoutMs);
		const tryParse = (eof) => {
			const end = inBuf.indexOf('\r\n\r\n');
			if (end < 0) return eof ? done(reject, new Error(`POST ${url}: connection closed without an answer${writeError ? ` (${writeError})` : ''}`)) : undefined;
			const lines = inBuf.subarray(0, end).toString('latin1').split('\r\n');
			const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
			if (!m) return done(reject, new Error(`bad status line ${JSON.stringify(lines[0])}`));
			const hdrs = {};
			for (const l of lines.slice(1)) {
				const c = l.indexOf(':');
				if (c > 0) hdrs[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
			}
			let rest = inBuf.subarray(end + 4);
			let resBody;
			if (hdrs['content-length'] !== undefined) {
				const n = Number(hdrs['content-length']);
				if (rest.length < n) return eof ? done(reject, new Error('answer body cut short')) : undefined;
				resBody = rest.subarray(0, n);
			} else if (/chunked/i.test(hdrs['transfer-encoding'] || '')) {
				const parts = [];
				for (;;) {
					const le = rest.indexOf('\r\n');
					if (le < 0) return eof ? done(reject, new Error('chunked answer cut short')) : undefined;
					const size = parseInt(rest.subarray(0, le).toString('latin1'), 16);
					if (rest.length < le + 2 + size + 2) return eof ? done(reject, new Error('chunked answer cut short')) : undefined;
					if (size === 0) break;
					parts.push(rest.subarray(le + 2, le + 2 + size));
					rest = rest.subarray(le + 2 + size + 2);
				}
				resBody = Buffer.concat(parts);
			} else {
				if (!eof) return undefined;
				resBody = rest;
			}
			return done(resolve, { status: Number(m[1]), headers: hdrs, body: Buffer.from(resBody) });
		};
		sock.on('data', (c) => { inBuf = Buffer.concat([inBuf, c]); tryParse(false); });
		sock.on('end', () => tryParse(true));
		sock.on('close', () => tryParse(true));
		sock.on('error', (e) => { writeError = e.code || e.message; });
		const write = (b) => new Promise((r) => {
			if (settled || sock.destroyed) return r(false);
			if (sock.write(b)) return r(true);
			const go = () => { sock.off('drain', go); sock.off('close', go); r(!sock.destroyed); };
			sock.once('drain', go);
			sock.once('close', go);
		});
		sock.once('connect', async () => {
			if (!(await write(Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1')))) return;
			if (!chunked) {
				for (let i = 0; i < body.length; i += 1 << 20) {
					if (!(await write(body.subarray(i, Math.min(i + (1 << 20), body.length))))) return;
				}
				return;
			}
			try {
				for await (const c of body) {
					if (!c.length) continue;
					if (!(await write(Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')])))) return;
				}
				await write(Buffer.from('0\r\n\r\n'));
			} catch { /* the answer decides */ }
		});
	});
}

/** POST an OTLP/JSON request body to the server at url; it must be accepted. */
export async function postOtlpJson(url, body) {
	const res = await fetch(`${url}/v1/traces`, {
		method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
	});
	assert.equal(res.status, 200, await res.text());
}

/** GET url and parse JSON; returns {status, json, text}. */
export async function getJson(url) {
	const res = await fetch(url);
	const text = await res.text();
	let json = null;
	try { json = JSON.parse(text); } catch { /* not JSON */ }
	return { status: res.status, json, text };
}

/** GET /api/v1/traces/{id}: the trace's spans, or null when 404. */
export async function fetchTrace(srv, id) {
	const r = await getJson(`${srv.url}/api/v1/traces/${id}`);
	if (r.status === 404) return null;
	if (r.status !== 200 || !r.json || !Array.isArray(r.json.spans)) {
		throw new Error(`GET /api/v1/traces/${id}: status ${r.status}, body ${r.text.slice(0, 500)}`);
	}
	return r.json.spans;
}

/** GET /api/v1/traces?<query>: the `traces` list. */
export async function searchTraces(srv, query) {
	const qs = new URLSearchParams({ range: '30d', limit: '1000', ...query }).toString();
	const r = await getJson(`${srv.url}/api/v1/traces?${qs}`);
	if (r.status !== 200 || !r.json || !Array.isArray(r.json.traces)) {
		throw new Error(`GET /api/v1/traces?${qs}: status ${r.status}, body ${r.text.slice(0, 500)}`);
	}
	return r.json.traces;
}

/**
 * `n` requests "GET /feed" of service "steady", `slow` of them 1.5 s long
 * (over the 1 s http threshold) and the rest 50 ms, spread over the first
 * half of the minute that started `minutesAgo` minutes before now: the
 * traffic of the slow-request spike checks.
 */
export async function postSlowShare(url, minutesAgo, n, slow) {
	const minNs = 60_000_000_000n;
	const t0 = BigInt(Date.now()) * 1_000_000n - BigInt(Math.round(minutesAgo * 60)) * 1_000_000_000n;
	const spans = Array.from({ length: n }, (_, i) => {
		const start = t0 + BigInt(i) * (minNs / 2n / BigInt(n));
		return {
			traceId: traceId(), spanId: spanId(), name: 'GET /feed', kind: 2, start,
			end: start + (i < slow ? 1_500_000_000n : 50_000_000n),
			attrs: { 'http.request.method': 'GET', 'http.route': '/feed' },
		};
	});
	await postOtlpJson(url, jsonTraceRequest([{ attrs: { 'service.name': 'steady' }, spans }]));
}

/* A JSON call of the API as user `user` (the audit's actor in open mode):
 * {status, json, text}. */
export async function apiCall(srv, method, path, body, user = 'alice') {
	const res = await fetch(srv.url + path, {
		method, headers: { 'content-type': 'application/json', 'x-hotpath-user': user },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	return { status: res.status, json: text ? JSON.parse(text) : null, text };
}

/* fn()'s first truthy answer, asked every 200 ms for at most `ms`. */
export async function waitFor(what, fn, ms = 20000) {
	const t0 = Date.now();
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
		await sleep(200);
	}
}
