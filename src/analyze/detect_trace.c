/*
 * detect_trace.c - the detectors that read spans: N+1 queries, sequential
 * calls, cacheable calls, slow statements, large payloads, retry storms,
 * timeouts, and the per-endpoint and per-version latencies and the own
 * work of entry spans that the version-regression, CPU and own-work
 * detectors compare (see detect.h and docs/DETECTORS.md).
 *
 * One detect_trace() call: read the attributes each detector needs in one
 * pass over every span, resolve parents through a scratch hash table, walk
 * the tree once in pre-order (ancestors before descendants), then look at
 * each parent's children as a group.  Scratch arrays live in the detector
 * and only grow.  The spans of a trace share their strings, so small memos
 * keyed by address (attribute keys, interned names, statement texts) look
 * at each string about once a trace rather than at every span.  Pool waits
 * are read here but judged in detect_metrics.c, together with the pool
 * metrics.
 *
 * Overlaps are decided with the resolution of each resource's start times
 * (analyze/timeres.h); calls exporting telemetry (ingest/telemetry.h) are
 * left out; call targets are address and port, and who answered them is
 * learned (T_TARGET) to name them at detect_finish().
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/detect_internal.h"
#include "ingest/telemetry.h"
#include "analyze/timeres.h"
#include "core/alloc.h"
#include "core/hex.h"
#include "ingest/semconv.h"

#define NORM_MAX 512
/* Distinct call shapes compared under one parent; more are not grouped. */
#define MAX_GROUPS 32

/* ---- reading a span ------------------------------------------------------- */

/* The slot of the string at `s` in a memo of 2^bits slots: a hash of its address. */
static size_t memo_slot(const char *s, unsigned bits)
{
	return (size_t)(((uint64_t)(uintptr_t)s * 0x9e3779b97f4a7c15ull) >> (64 - bits));
}

/*
 * detect_intern() of a string, remembered by address: spans share their
 * strings (one string table per stored block), so a service, host or span
 * name is hashed once rather than at every span.  In a later call the
 * address may hold another string, so the first hit of a call is checked by
 * content.  A full name table (id 0) is not remembered: each call counts
 * as folded, as detect_intern() does.
 */
static uint32_t intern_str(struct detector *d, const char *s)
{
	struct name_memo *m = &d->name_memo[memo_slot(s, DETECT_NAME_MEMO_BITS)];
	if (m->s == s && (m->seq == d->seq || !strcmp(detect_name(d, m->id), s))) {
		m->seq = d->seq;
		return m->id;
	}
	uint32_t id = detect_intern(d, s, strlen(s));
	if (id) {
		m->s = s;
		m->seq = d->seq;
		m->id = id;
	}
	return id;
}

static struct res_ids *res_lookup(struct detector *d, const struct resource *r)
{
	for (unsigned i = 0; i < d->n_res; i++)
		if (d->res[i].r == r)
			return &d->res[i];
	if (d->n_res < 32)
		d->res[d->n_res].tflags = 0;
	struct res_ids *x = &d->res[d->n_res < 32 ? d->n_res++ : 31];
	const char *svc = r && r->service_name ? r->service_name : "unknown_service";
	x->r = r;
	x->svc = intern_str(d, svc);
	x->env = r && r->environment ? intern_str(d, r->environment) : 0;
	x->ver = r && r->service_version ? intern_str(d, r->service_version) : 0;
	return x;
}

static int has_timeout_word(const char *s)
{
	return s && (strcasestr(s, "timeout") || strcasestr(s, "timed out") || strcasestr(s, "deadline"));
}

static double attr_num(const struct attr *a)
{
	return a->type == ATTR_DOUBLE ? a->v.d : a->type == ATTR_INT ? (double)a->v.i : 0;
}

static const char *attr_s(const struct attr *a)
{
	return a->type == ATTR_STRING || a->type == ATTR_JSON ? a->v.s : NULL;
}

/* A port, sent as a number or a string; 0 when it is none. */
static uint32_t attr_port(const struct attr *a)
{
	double v = a->type == ATTR_STRING ? atof(a->v.s) : attr_num(a);
	return v > 0 && v < 65536 ? (uint32_t)v : 0;
}

/* The attribute keys the detectors read. */
enum akey {
	K_OTHER,
	K_DB_SYSTEM_NAME,
	K_DB_SYSTEM, /* older name: only when the newer is absent */
	K_DB_QUERY_TEXT,
	K_DB_STATEMENT,
	K_DB_OPERATION_NAME,
	K_DB_OPERATION,
	K_DB_NAMESPACE,
	K_DB_NAME,
	K_DB_PARAMETER, /* db.query.parameter.* */
	K_POOL_WAIT_MS,
	K_POOL_WAIT_S,
	K_POOL_NAME,
	K_POOL_MAX,
	K_POOL_EXHAUSTED,
	K_POOL_CONN,
	K_HTTP_METHOD,
	K_HTTP_METHOD_OLD,
	K_HTTP_ROUTE,
	K_HTTP_URL,
	K_BODY_SIZE,
	K_URL_FULL,
	K_URL_TEMPLATE,
	K_SERVER_ADDRESS,
	K_SERVER_PORT,
	K_NET_PEER_NAME,
	K_NET_PEER_PORT,
	K_URL_PATH,
	K_HTTP_TARGET,
	K_USER_AGENT,
	K_RPC_SERVICE,
	K_RPC_METHOD,
	K_TOOL_NAME,
	K_TOOL_ARGS,
	K_GEN_OPERATION,
	K_ARGS_HASH,
	K_TOOL_NAME_OLD,
	K_MESSAGING_SYSTEM,
	K_ERROR_TYPE,
};

/* `k` (of length `len`) is the literal: a length test, then an inlined memcmp. */
#define KEY_IS(lit) (len == sizeof(lit) - 1 && !memcmp(k, lit, sizeof(lit) - 1))

static enum akey classify_db(const char *k, size_t len)
{
	if (KEY_IS("db.system.name"))
		return K_DB_SYSTEM_NAME;
	if (KEY_IS("db.system"))
		return K_DB_SYSTEM;
	if (KEY_IS("db.query.text"))
		return K_DB_QUERY_TEXT;
	if (KEY_IS("db.statement"))
		return K_DB_STATEMENT;
	if (KEY_IS("db.operation.name"))
		return K_DB_OPERATION_NAME;
	if (KEY_IS("db.operation"))
		return K_DB_OPERATION;
	if (KEY_IS("db.namespace"))
		return K_DB_NAMESPACE;
	if (KEY_IS("db.name"))
		return K_DB_NAME;
	if (len > 19 && !memcmp(k, "db.query.parameter.", 19))
		return K_DB_PARAMETER;
	if (KEY_IS("db.connection_string"))
		return K_POOL_CONN;
	if (KEY_IS("db.postgresql.max.client"))
		return K_POOL_MAX;
	if (len > 21 && !memcmp(k, "db.client.connection.", 21)) {
		k += 21;
		len -= 21;
		if (KEY_IS("wait_time_ms"))
			return K_POOL_WAIT_MS;
		if (KEY_IS("wait_time"))
			return K_POOL_WAIT_S;
		if (KEY_IS("pool.name"))
			return K_POOL_NAME;
		if (KEY_IS("max"))
			return K_POOL_MAX;
		if (KEY_IS("pool.exhausted"))
			return K_POOL_EXHAUSTED;
	}
	return K_OTHER;
}

static enum akey classify(const char *k)
{
	size_t len;
	/* Most keys are none of these: the first letter tells, before strlen(). */
	switch (k[0]) {
	case 'd':
	case 'h':
	case 'u':
	case 's':
	case 'n':
	case 'r':
	case 'g':
	case 't':
	case 'm':
	case 'e': break;
	default: return K_OTHER;
	}
	len = strlen(k);
	switch (k[0]) {
	case 'd': return classify_db(k, len);
	case 'h':
		if (KEY_IS("http.request.method"))
			return K_HTTP_METHOD;
		if (KEY_IS("http.method"))
			return K_HTTP_METHOD_OLD;
		if (KEY_IS("http.route"))
			return K_HTTP_ROUTE;
		if (KEY_IS("http.url"))
			return K_HTTP_URL;
		if (KEY_IS("http.request.body.size") || KEY_IS("http.response.body.size"))
			return K_BODY_SIZE;
		if (KEY_IS("http.target"))
			return K_HTTP_TARGET;
		break;
	case 'u':
		if (KEY_IS("url.full"))
			return K_URL_FULL;
		if (KEY_IS("url.template"))
			return K_URL_TEMPLATE;
		if (KEY_IS("url.path"))
			return K_URL_PATH;
		if (KEY_IS("user_agent.original"))
			return K_USER_AGENT;
		break;
	case 's':
		if (KEY_IS("server.address"))
			return K_SERVER_ADDRESS;
		if (KEY_IS("server.port"))
			return K_SERVER_PORT;
		break;
	case 'n':
		if (KEY_IS("net.peer.name"))
			return K_NET_PEER_NAME;
		if (KEY_IS("net.peer.port"))
			return K_NET_PEER_PORT;
		break;
	case 'r':
		if (KEY_IS("rpc.service"))
			return K_RPC_SERVICE;
		if (KEY_IS("rpc.method"))
			return K_RPC_METHOD;
		break;
	case 'g':
		if (KEY_IS("gen_ai.tool.name"))
			return K_TOOL_NAME;
		if (KEY_IS("gen_ai.tool.call.arguments"))
			return K_TOOL_ARGS;
		if (KEY_IS("gen_ai.operation.name"))
			return K_GEN_OPERATION;
		break;
	case 't':
		if (KEY_IS("tool.args_hash"))
			return K_ARGS_HASH;
		if (KEY_IS("tool.name"))
			return K_TOOL_NAME_OLD;
		break;
	case 'm':
		if (KEY_IS("messaging.system"))
			return K_MESSAGING_SYSTEM;
		if (KEY_IS("messaging.message.body.size"))
			return K_BODY_SIZE;
		break;
	case 'e':
		if (KEY_IS("error.type"))
			return K_ERROR_TYPE;
		break;
	}
	return K_OTHER;
}

/*
 * The class of a key, remembered by address for the current trace: the
 * spans of a trace share their key strings (one string table per stored
 * block), and the addresses are only good while detect_trace() runs.
 */
static enum akey key_class(struct detector *d, const char *k)
{
	struct key_memo *m = &d->key_memo[memo_slot(k, DETECT_KEY_MEMO_BITS)];
	if (m->key != k || m->seq != d->seq) {
		m->key = k;
		m->seq = d->seq;
		m->code = (uint8_t)classify(k);
	}
	return (enum akey)m->code;
}

static void read_param(struct tspan *t, const struct attr *a)
{
	const char *v = attr_s(a);
	t->has_params = 1;
	t->param_hash = detect_hash(t->param_hash ? t->param_hash : DETECT_HASH_INIT, a->key, strlen(a->key));
	if (v)
		t->param_hash = detect_hash(t->param_hash, v, strlen(v) + 1);
	else
		t->param_hash = detect_hash(t->param_hash, &a->v, sizeof(a->v));
}

static void max_of(double *m, double v)
{
	if (v > *m)
		*m = v;
}

static void read_attr(struct detector *d, struct tspan *t, const struct attr *a, const char **error_type)
{
	if (!a->key)
		return;
	enum akey c = key_class(d, a->key);
	if (c == K_OTHER)
		return; /* most keys */
	switch (c) {
	case K_OTHER: break;
	case K_DB_SYSTEM_NAME: t->db_system = attr_s(a); break;
	case K_DB_SYSTEM:
		if (!t->db_system)
			t->db_system = attr_s(a);
		break;
	case K_DB_QUERY_TEXT: t->db_text = attr_s(a); break;
	case K_DB_STATEMENT:
		if (!t->db_text)
			t->db_text = attr_s(a);
		break;
	case K_DB_OPERATION_NAME: t->db_op = attr_s(a); break;
	case K_DB_OPERATION:
		if (!t->db_op)
			t->db_op = attr_s(a);
		break;
	case K_DB_NAMESPACE: t->db_ns = attr_s(a); break;
	case K_DB_NAME:
		if (!t->db_ns)
			t->db_ns = attr_s(a);
		break;
	case K_DB_PARAMETER: read_param(t, a); break;
	case K_POOL_WAIT_MS:
	case K_POOL_WAIT_S:
		t->has_wait = 1;
		t->wait_ms = attr_num(a) * (c == K_POOL_WAIT_S ? 1000 : 1);
		break;
	case K_POOL_NAME: t->pool = attr_s(a); break;
	case K_POOL_MAX: t->pool_max = (int64_t)attr_num(a); break;
	case K_POOL_EXHAUSTED:
		t->pool_exhausted = (a->type == ATTR_BOOL || a->type == ATTR_INT) && a->v.i;
		break;
	case K_POOL_CONN: t->pool_conn = attr_s(a); break;
	case K_HTTP_METHOD: t->method = attr_s(a); break;
	case K_HTTP_METHOD_OLD:
		if (!t->method)
			t->method = attr_s(a);
		break;
	case K_HTTP_ROUTE: t->route = attr_s(a); break;
	case K_HTTP_URL:
		if (!t->url_full)
			t->url_full = attr_s(a);
		break;
	case K_BODY_SIZE: max_of(&t->body_bytes, attr_num(a)); break;
	case K_URL_FULL: t->url_full = attr_s(a); break;
	case K_URL_TEMPLATE: t->url_tmpl = attr_s(a); break;
	case K_SERVER_ADDRESS: t->server = attr_s(a); break;
	case K_NET_PEER_NAME:
		if (!t->server)
			t->server = attr_s(a);
		break;
	case K_SERVER_PORT: t->port = attr_port(a); break;
	case K_NET_PEER_PORT:
		if (!t->port)
			t->port = attr_port(a);
		break;
	case K_URL_PATH: t->url_path = attr_s(a); break;
	case K_HTTP_TARGET:
		if (!t->url_path)
			t->url_path = attr_s(a);
		break;
	case K_USER_AGENT: t->user_agent = attr_s(a); break;
	case K_RPC_SERVICE: t->rpc_service = attr_s(a); break;
	case K_RPC_METHOD: t->rpc_method = attr_s(a); break;
	case K_TOOL_NAME: t->tool = attr_s(a); break;
	case K_TOOL_ARGS: t->args = attr_s(a); break;
	case K_GEN_OPERATION: t->gen_op = attr_s(a); break;
	case K_ARGS_HASH: t->args_hash = attr_s(a); break;
	case K_TOOL_NAME_OLD:
		if (!t->tool)
			t->tool = attr_s(a);
		break;
	case K_MESSAGING_SYSTEM: t->msg_system = attr_s(a); break;
	case K_ERROR_TYPE: *error_type = attr_s(a); break;
	}
}

/* Caches and key-value stores: their reads are not the queries the
 * statement and cache detectors are about. */
static int db_is_cache(const char *sys)
{
	if (!sys)
		return 0;
	switch (sys[0]) {
	case 'r': return !strcmp(sys, "redis");
	case 'm': return !strcmp(sys, "memcached");
	case 'v': return !strcmp(sys, "valkey");
	case 'h': return !strcmp(sys, "hazelcast");
	case 'g': return !strcmp(sys, "geode");
	case 'a': return !strcmp(sys, "aerospike");
	default: return 0;
	}
}

/* A CLIENT or PRODUCER span exporting telemetry (ingest/telemetry.h). */
static int is_export(const struct tspan *t)
{
	const struct span *sp = t->sp;
	if ((sp->kind != SPAN_KIND_CLIENT && sp->kind != SPAN_KIND_PRODUCER) || t->db_system)
		return 0; /* not a call, or a database's */
	return telemetry_url_is_export(t->url_full) || telemetry_url_is_export(t->url_path) ||
	       telemetry_rpc_is_export(t->rpc_service) || telemetry_agent_is_export(t->user_agent);
}

static void read_span(struct detector *d, struct tspan *t, const struct span *sp)
{
	const char *error_type = NULL;
	memset(t, 0, sizeof(*t));
	t->sp = sp;
	t->dur = sp->end_ns > sp->start_ns ? sp->end_ns - sp->start_ns : 0;
	t->parent = t->entry = t->tool_anc = DNONE;
	struct res_ids *r = res_lookup(d, sp->resource);
	t->ri = (uint8_t)(r - d->res);
	timeres_note(&r->tflags, sp->start_ns);
	t->svc = r->svc;
	t->env = r->env;
	t->ver = r->ver;
	const struct attr *attrs = sp->attrs;
	for (uint32_t i = 0, n = sp->n_attrs; i < n; i++)
		read_attr(d, t, &attrs[i], &error_type);
	t->is_error = sp->status == SPAN_STATUS_ERROR;
	t->is_timeout = has_timeout_word(error_type) ||
			(sp->status == SPAN_STATUS_ERROR && has_timeout_word(sp->status_message));
	if (error_type)
		t->is_error = 1;
	t->cache_db = db_is_cache(t->db_system);
	t->telemetry = (uint8_t)is_export(t);
	if (sp->start_ns && sp->start_ns < d->t_min)
		d->t_min = sp->start_ns;
	if (sp->end_ns > d->t_max)
		d->t_max = sp->end_ns;
}

static int is_client(const struct tspan *t)
{
	return t->sp->kind == SPAN_KIND_CLIENT;
}

/* A call of the application's own: a CLIENT span that is not a telemetry export. */
static int is_app_call(const struct tspan *t)
{
	return t->sp->kind == SPAN_KIND_CLIENT && !t->telemetry;
}

/* The resolution of a span's start time (analyze/timeres.h). */
static uint64_t res_of(const struct detector *d, const struct tspan *t)
{
	return d->res[t->ri].res_ns;
}

/* ---- the tree ------------------------------------------------------------- */

static void scratch_reserve(struct detector *d, size_t n)
{
	if (n > d->cap_ts) {
		size_t cap = n + n / 2 + 16;
		free(d->ts);
		free(d->order);
		free(d->kids);
		free(d->stack);
		d->ts = xmalloc(cap * sizeof(*d->ts));
		d->order = xmalloc(cap * sizeof(*d->order));
		d->kids = xmalloc(2 * cap * sizeof(*d->kids)); /* children, then orphans */
		d->stack = xmalloc(cap * sizeof(*d->stack));
		d->cap_ts = cap;
	}
	size_t h = 16;
	while (h < 2 * n)
		h *= 2;
	if (h > d->cap_htab) {
		free(d->htab);
		d->htab = xmalloc(h * sizeof(*d->htab));
		d->cap_htab = h;
	}
}

static uint64_t id64(const uint8_t id[8])
{
	uint64_t v;
	memcpy(&v, id, 8);
	return v;
}

static size_t hbits(size_t n)
{
	size_t h = 16;
	while (h < 2 * n)
		h *= 2;
	return h;
}

static void resolve_parents(struct detector *d, size_t n)
{
	size_t mask = hbits(n) - 1;
	memset(d->htab, 0xff, (mask + 1) * sizeof(*d->htab));
	for (size_t i = 0; i < n; i++) {
		uint64_t id = id64(d->ts[i].sp->span_id);
		if (!id)
			continue;
		size_t s = (size_t)((id * 0x9e3779b97f4a7c15ull) >> 40) & mask;
		while (d->htab[s] != DNONE && id64(d->ts[d->htab[s]].sp->span_id) != id)
			s = (s + 1) & mask;
		if (d->htab[s] == DNONE)
			d->htab[s] = (uint32_t)i;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t id = id64(d->ts[i].sp->parent_span_id);
		if (!id)
			continue;
		size_t s = (size_t)((id * 0x9e3779b97f4a7c15ull) >> 40) & mask;
		while (d->htab[s] != DNONE && id64(d->ts[d->htab[s]].sp->span_id) != id)
			s = (s + 1) & mask;
		if (d->htab[s] != DNONE && d->htab[s] != i)
			d->ts[i].parent = d->htab[s];
	}
}

/* Children of each span, by start time (insertion sort: they mostly arrive in order). */
static void link_children(struct detector *d, size_t n)
{
	struct tspan *ts = d->ts;
	for (size_t i = 0; i < n; i++)
		if (ts[i].parent != DNONE)
			ts[ts[i].parent].n_kids++;
	uint32_t off = 0;
	for (size_t i = 0; i < n; i++) {
		ts[i].kid_off = off;
		off += ts[i].n_kids;
		ts[i].n_kids = 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (ts[i].parent == DNONE)
			continue;
		struct tspan *p = &ts[ts[i].parent];
		uint32_t *k = &d->kids[p->kid_off];
		uint32_t j = p->n_kids++;
		uint64_t st = ts[i].sp->start_ns;
		while (j > 0 && ts[k[j - 1]].sp->start_ns > st) {
			k[j] = k[j - 1];
			j--;
		}
		k[j] = (uint32_t)i;
	}
}

/* A pre-order of the spans; spans in a parent cycle become roots. */
static size_t preorder(struct detector *d, size_t n)
{
	struct tspan *ts = d->ts;
	size_t n_order = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t r = 0; r < n; r++) {
			if (ts[r].entry != DNONE || (pass == 0 && ts[r].parent != DNONE))
				continue;
			ts[r].parent = DNONE;
			size_t top = 0;
			d->stack[top++] = (uint32_t)r;
			ts[r].entry = 0; /* visited; set properly by the caller's walk */
			while (top) {
				uint32_t i = d->stack[--top];
				d->order[n_order++] = i;
				for (uint32_t k = ts[i].n_kids; k-- > 0;) {
					uint32_t c = d->kids[ts[i].kid_off + k];
					if (ts[c].entry != DNONE)
						continue;
					ts[c].entry = 0;
					d->stack[top++] = c;
				}
			}
		}
	}
	return n_order;
}

/* ---- per span ------------------------------------------------------------- */

/* Whether `name` is `method`, a space and `route`. */
static int is_method_route(const char *name, const char *method, const char *route)
{
	size_t lm = strlen(method);
	return !strncmp(name, method, lm) && name[lm] == ' ' && !strcmp(name + lm + 1, route);
}

/* "<method> <route>", remembered by the route's address and checked by content as in intern_str(). */
static uint32_t endpoint_of(struct detector *d, const struct span *sp, const struct tspan *t)
{
	char buf[512];
	const char *route = t->route;
	if (route && t->method) {
		struct endpoint_memo *m = &d->endpoint_memo[memo_slot(route, DETECT_ENDPOINT_MEMO_BITS)];
		if (m->route == route && is_method_route(detect_name(d, m->id), t->method, route))
			return m->id;
		size_t lm = strlen(t->method), lr = strlen(route);
		if (lm + lr + 2 <= sizeof(buf)) {
			memcpy(buf, t->method, lm);
			buf[lm] = ' ';
			memcpy(buf + lm + 1, route, lr);
			uint32_t id = detect_intern(d, buf, lm + 1 + lr);
			if (id) {
				m->route = route;
				m->id = id;
			}
			return id;
		}
	}
	const char *url = t->url_path ? t->url_path : t->url_full;
	if (t->method && url && (!sp->name || !strchr(sp->name, '/'))) { /* as span_endpoint() */
		const char *service = sp->resource ? sp->resource->service_name : NULL;
		size_t n = semconv_derived_endpoint(buf, sizeof(buf), service, t->method, url);
		if (n)
			return detect_intern(d, buf, n);
	}
	return sp->name ? intern_str(d, sp->name) : 0;
}

static int is_tool_call(const struct tspan *t)
{
	return t->tool && (t->args_hash || t->args);
}

static int same_tool_call(const struct tspan *a, const struct tspan *b)
{
	if (strcmp(a->tool, b->tool))
		return 0;
	if (a->args_hash && b->args_hash)
		return !strcmp(a->args_hash, b->args_hash);
	return a->args && b->args && !strcmp(a->args, b->args);
}

/* "host:port" (or "host") into buf; 0 when it does not fit. */
static size_t host_port(char *buf, size_t cap, const char *host, size_t lh, uint32_t port)
{
	char digits[10];
	size_t nd = 0;
	while (port && nd < sizeof(digits)) {
		digits[nd++] = (char)('0' + port % 10);
		port /= 10;
	}
	if (lh + 1 + nd >= cap)
		return 0;
	memcpy(buf, host, lh);
	if (nd)
		buf[lh++] = ':';
	while (nd)
		buf[lh++] = digits[--nd];
	buf[lh] = 0;
	return lh;
}

/* The host and port of url.full ("scheme://host[:port]/..."), or 0. */
static size_t url_target(char *buf, size_t cap, const char *url)
{
	const char *h = url ? strstr(url, "://") : NULL;
	if (!h)
		return 0;
	h += 3;
	size_t lh = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/?#");
	uint32_t port = h[lh] == ':' ? (uint32_t)strtoul(h + lh + 1, NULL, 10) : 0;
	return lh ? host_port(buf, cap, h, lh, port < 65536 ? port : 0) : 0;
}

/* Whether the name `name` is `host`:`port`. */
static int is_host_port(const char *name, const char *host, uint32_t port)
{
	size_t lh = strlen(host);
	uint64_t v = 0;
	const char *p;
	if (strncmp(name, host, lh) || name[lh] != ':')
		return 0;
	for (p = name + lh + 1; *p >= '0' && *p <= '9' && v <= port; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	return !*p && v == port && p > name + lh + 1;
}

/*
 * "host:port" of server.address and server.port, remembered by the host's
 * address and checked by content in a later call, as in intern_str().
 */
static uint32_t server_target(struct detector *d, const struct tspan *t)
{
	char buf[300];
	if (!t->port)
		return intern_str(d, t->server);
	struct target_memo *m = &d->target_memo[memo_slot(t->server, DETECT_TEXT_MEMO_BITS)];
	if (m->host == t->server && m->port == t->port &&
	    (m->seq == d->seq || is_host_port(detect_name(d, m->id), t->server, t->port))) {
		m->seq = d->seq;
		return m->id;
	}
	size_t n = host_port(buf, sizeof(buf), t->server, strlen(t->server), t->port);
	uint32_t id = n ? detect_intern(d, buf, n) : intern_str(d, t->server);
	if (id) {
		m->host = t->server;
		m->seq = d->seq;
		m->port = t->port;
		m->id = id;
	}
	return id;
}

/*
 * Who a call goes to: server.address and server.port ("127.0.0.1:3002"),
 * else the host and port of url.full, else the database namespace or the
 * RPC service.  The service that answered, when traced, is learned apart
 * (T_TARGET) and named at detect_finish().
 */
static uint32_t target_of(struct detector *d, struct tspan *t)
{
	char buf[300];
	size_t n;
	if (t->target)
		return t->target;
	if (t->server)
		t->target = server_target(d, t);
	else if ((n = url_target(buf, sizeof(buf), t->url_full)) > 0)
		t->target = detect_intern(d, buf, n);
	else if (t->db_ns || t->rpc_service)
		t->target = intern_str(d, t->db_ns ? t->db_ns : t->rpc_service);
	return t->target;
}

/* The span of the service that answered call `c` in this trace: a SERVER or CONSUMER child. */
static const struct tspan *callee_of(const struct detector *d, const struct tspan *c)
{
	const uint32_t *k = &d->kids[c->kid_off];
	for (uint32_t j = 0; j < c->n_kids; j++) {
		const struct tspan *x = &d->ts[k[j]];
		if (x->sp->kind == SPAN_KIND_SERVER || x->sp->kind == SPAN_KIND_CONSUMER)
			return x;
	}
	return NULL;
}

/*
 * What is known of a statement text in this trace: an N+1 loop sends one
 * text (at one address) dozens of times.  Its hash, and its shape (`norm`,
 * 0 = not known) under the system `sys`.
 */
static struct text_memo *text_memo(struct detector *d, const char *text)
{
	struct text_memo *m = &d->text_memo[memo_slot(text, DETECT_TEXT_MEMO_BITS)];
	if (m->text != text || m->seq != d->seq) {
		m->text = text;
		m->seq = d->seq;
		m->hash = detect_hash(DETECT_HASH_INIT, text, strlen(text)) | 1;
		m->sys = NULL;
		m->norm = 0;
	}
	return m;
}

/* A hash of the statement's text, computed once. */
static uint64_t text_hash(struct detector *d, struct tspan *t)
{
	if (!t->text_hash)
		t->text_hash = text_memo(d, t->db_text)->hash;
	return t->text_hash;
}

/* The normalised shape of a call, for grouping: "<system> <statement>" or "<METHOD> <url>". */
static uint32_t norm_of(struct detector *d, struct tspan *t)
{
	char buf[NORM_MAX];
	size_t n = 0;
	if (t->norm)
		return t->norm;
	if (t->db_text) {
		const char *sys = t->db_system ? t->db_system : "db";
		struct text_memo *tm = text_memo(d, t->db_text);
		if (tm->norm && tm->sys == sys)
			return t->norm = tm->norm; /* what the lookup below would give */
		/* The same statement comes again and again: remember its shape. */
		uint64_t h = detect_hash(text_hash(d, t), sys, strlen(sys));
		uint32_t *memo = u64map_slot(&d->norm_memo, h);
		if (*memo == DNONE) {
			size_t ls = strlen(sys);
			if (ls + 2 >= sizeof(buf))
				return 0;
			memcpy(buf, sys, ls);
			buf[ls] = ' ';
			n = ls + 1 + detect_normalize_sql(buf + ls + 1, sizeof(buf) - ls - 1, t->db_text);
			uint32_t id = detect_intern(d, buf, n);
			if (d->norm_memo.count > DETECT_MAX_KEYS * 4) {
				/* bounded: start over, and forget the shapes text_memo() has from it */
				u64map_release(&d->norm_memo);
				memset(d->text_memo, 0, sizeof(d->text_memo));
				return t->norm = id;
			}
			memo = u64map_slot(&d->norm_memo, h);
			*memo = id;
		}
		/* Until norm_memo starts over, it has the shape of `h` and a lookup changes nothing. */
		tm->sys = sys;
		tm->norm = *memo;
		return t->norm = *memo;
	} else if (t->method && (t->url_tmpl || t->url_full)) {
		size_t lm = strlen(t->method);
		if (lm + 2 >= sizeof(buf))
			return 0;
		memcpy(buf, t->method, lm);
		buf[lm] = ' ';
		if (t->url_tmpl) {
			uint32_t target = t->server ? target_of(d, t) : 0;
			const char *host = target ? detect_name(d, target) : "";
			size_t lh = strlen(host), lt = strlen(t->url_tmpl);
			if (lm + 1 + lh + lt >= sizeof(buf))
				return 0;
			memcpy(buf + lm + 1, host, lh);
			memcpy(buf + lm + 1 + lh, t->url_tmpl, lt);
			n = lm + 1 + lh + lt;
		} else {
			n = lm + 1 + detect_normalize_url(buf + lm + 1, sizeof(buf) - lm - 1, t->url_full);
		}
	} else if (t->rpc_service && t->rpc_method) {
		size_t a = strlen(t->rpc_service), b = strlen(t->rpc_method);
		if (a + b + 2 >= sizeof(buf))
			return 0;
		memcpy(buf, t->rpc_service, a);
		buf[a] = '/';
		memcpy(buf + a + 1, t->rpc_method, b);
		n = a + 1 + b;
	} else {
		return 0;
	}
	t->norm = detect_intern(d, buf, n);
	return t->norm;
}

static uint64_t minute_of(uint64_t ns)
{
	return ns / NS_PER_MIN;
}

static void on_entry(struct detector *d, struct tspan *t)
{
	struct acc *a = acc_get(d, T_ENDPOINT, t->svc, t->endpoint, 0, 0, 0, 0);
	if (a) {
		a->n++;
		a->sum += (double)t->dur;
	}
	a = acc_get(d, T_VERSION, t->svc, t->endpoint, 0, 0, t->env, t->ver);
	if (a) {
		if (!a->sk) {
			a->sk = xmalloc(sizeof(*a->sk));
			sketch_init(a->sk);
		}
		sketch_add(a->sk, (double)t->dur);
		a->n++;
		a->sum += (double)t->dur;
		a->sumsq += (double)t->dur * (double)t->dur;
		acc_touch(d, a, (double)t->dur);
	}
	/* Latency per minute, for the CPU detector. */
	a = acc_get(d, T_CPU, t->svc, 0, 0, 0, t->env, 0);
	if (a) {
		struct minute_v *m =
			detect_minute(d, T_CPU, (size_t)(a - d->t[T_CPU].a), minute_of(t->sp->start_ns));
		a->n++;
		a->sum += (double)t->dur;
		if (m) {
			m->a += (double)t->dur;
			m->n++;
		}
	}
}

/* A call out of the process not inside another (a CLIENT or PRODUCER span whose parent is no CLIENT span). */
static int is_call_out(const struct tspan *t, const struct tspan *p)
{
	return (is_client(t) || t->sp->kind == SPAN_KIND_PRODUCER) && !(p && is_client(p));
}

/*
 * What of its entry's time a span explains.  Own work (CPU routes) is the
 * entry's time outside the calls out under it; the entry's work nothing
 * explains is its time outside every span under it but framework wrappers
 * (a named INTERNAL span, a call, another service's entry), counted at the
 * outermost such span.  Another service's entry right under this one's
 * work (a callee whose caller sent no CLIENT span) is a call too.
 */
static void cover_entry(struct tspan *ts, struct tspan *t, const struct tspan *p, uint32_t i)
{
	t->wrapper = (uint8_t)span_is_framework_wrapper(t->sp);
	if (!p || p->entry == DNONE)
		return;
	struct tspan *e = &ts[p->entry];
	int nested = t->entry == i; /* a request of its own inside this one */
	int bare_parent = !p->covered && (t->parent == p->entry || p->wrapper);
	if (!nested)
		t->covered = !bare_parent;
	if (bare_parent && (nested || !t->wrapper))
		e->covered_ns += t->dur;
	if (bare_parent && nested && t->svc != e->svc)
		e->calls_ns += t->dur;
}

/*
 * An entry's own work: its time outside the calls out under it (parallel
 * calls counted each, so never more than it is), summed per endpoint (n,
 * sum = own work, sum2 = time), for the CPU detector to name the route
 * whose own work a saturated process spends its time on; sum3 = the work
 * no span under it explains.  The requests where that is at least
 * own_work_share of the time count as affected; their own work is the
 * finding's waste, and is summed per tick of DETECT_OWN_TICK_NS (a) for
 * judge_own_work of detect_metrics.c to hold against the CPU the process
 * used.
 */
static void on_entry_work(struct detector *d, const struct tspan *t)
{
	struct acc *a = t->endpoint ? acc_get(d, T_CPU, t->svc, t->endpoint, 0, 0, t->env, 0) : NULL;
	if (!a)
		return;
	double bare = (double)(t->covered_ns < t->dur ? t->dur - t->covered_ns : 0);
	a->n++;
	a->sum += (double)(t->calls_ns < t->dur ? t->dur - t->calls_ns : 0);
	a->sum2 += (double)t->dur;
	a->sum3 += bare;
	if (bare >= d->cfg.own_work_share * (double)t->dur && bare > 0) {
		/* the tick of a request the pattern affects: few routes, few ticks */
		struct minute_v *m = detect_minute(d, T_CPU, (size_t)(a - d->t[T_CPU].a),
						   t->sp->start_ns / DETECT_OWN_TICK_NS);
		a->waste += bare;
		acc_touch_at(d, a, bare, (double)t->dur);
		if (m) {
			m->a += bare;
			m->n++;
		}
	}
}

static void on_tool_call(struct detector *d, struct tspan *t)
{
	uint32_t tool = intern_str(d, t->tool);
	struct acc *a = acc_get(d, T_ENDPOINT, t->svc, 0, tool, 0, 0, 0);
	if (a) {
		a->n++;
		a->sum += (double)t->dur;
	}
}

/*
 * A span around taking a connection from a pool, whose own time is the wait
 * (docs/DETECTORS.md): instrumentation-pg's pg-pool.connect,
 * instrumentation-generic-pool's generic-pool.acquire and the plain names.
 */
static int is_pool_connect(const struct span *sp)
{
	const char *n = sp->name;
	if (!n || sp->kind == SPAN_KIND_SERVER || sp->kind == SPAN_KIND_CONSUMER)
		return 0;
	switch (n[0]) {
	case 'p':
		return !strcmp(n, "pg-pool.connect") || !strcmp(n, "pool.acquire") ||
		       !strcmp(n, "pool.connect");
	case 'g': return !strcmp(n, "generic-pool.acquire");
	case 'c': return !strcmp(n, "connection.acquire");
	default: return 0;
	}
}

/* The port a connect span names (server.port, net.peer.port), or -1. */
static long long pool_port(const struct span *sp)
{
	const struct attr *a = attr_find(sp->attrs, sp->n_attrs, "server.port");
	if (!a)
		a = attr_find(sp->attrs, sp->n_attrs, "net.peer.port");
	if (a && a->type == ATTR_INT)
		return (long long)a->v.i;
	return a && a->type == ATTR_STRING ? strtoll(a->v.s, NULL, 10) : -1;
}

/*
 * The pool of a connect span that names none: "<host>:<port>/<database>" of
 * db.connection_string (the pool.name instrumentation-pg gives its metrics),
 * else the same from server.address (net.peer.name), server.port
 * (net.peer.port) and db.namespace (db.name), else the span's name; with
 * " (max N)" when the span gives the pool's size, so that two pools of one
 * database stay apart.
 */
static uint32_t pool_key(struct detector *d, const struct tspan *t)
{
	char buf[256];
	int n;
	long long port;
	const char *s = t->pool_conn;
	if (s) {
		const char *p = strstr(s, "://"), *at;
		s = p ? p + 3 : s;
		at = strchr(s, '@'); /* user:password@ is not part of the name */
		if (at && (size_t)(at - s) < strcspn(s, "/"))
			s = at + 1;
		n = snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(s, "?"), s);
	} else if ((t->server || t->db_ns) && (port = pool_port(t->sp)) >= 0) {
		n = snprintf(buf, sizeof(buf), "%s:%lld/%s", t->server ? t->server : "?", port,
			     t->db_ns ? t->db_ns : "?");
	} else if (t->server || t->db_ns) {
		n = snprintf(buf, sizeof(buf), "%s/%s", t->server ? t->server : "?",
			     t->db_ns ? t->db_ns : "?");
	} else {
		n = snprintf(buf, sizeof(buf), "%s", t->sp->name);
	}
	if (n >= 0 && (size_t)n < sizeof(buf) && t->pool_max > 0)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " (max %lld)", (long long)t->pool_max);
	return n > 0 ? detect_intern(d, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1) : 0;
}

/* A connect span's wait: its time less its children's (opening a new connection). */
static double connect_wait_ms(const struct detector *d, const struct tspan *t)
{
	uint64_t kids = 0;
	for (uint32_t j = 0; j < t->n_kids; j++)
		kids += d->ts[d->kids[t->kid_off + j]].dur;
	return kids >= t->dur ? 0 : (double)(t->dur - kids) / 1e6;
}

/* A connection acquired: from a span with a wait attribute, or a connect span. */
static void on_pool_wait(struct detector *d, struct tspan *t)
{
	uint32_t pool;
	if (!t->has_wait) {
		t->wait_ms = connect_wait_ms(d, t);
		pool = t->pool ? intern_str(d, t->pool) : pool_key(d, t);
	} else {
		pool = t->pool ? intern_str(d, t->pool) : 0;
	}
	if (!pool)
		return;
	struct acc *a = acc_get(d, T_POOL, t->svc, 0, 0, pool, t->env, 0);
	if (!a)
		return;
	a->n++;
	a->sum += t->wait_ms;
	if ((double)t->pool_max > a->max)
		a->max = (double)t->pool_max;
	if (t->wait_ms >= d->cfg.pool_wait_ms || t->pool_exhausted) {
		a->n2++;
		a->sum2 += t->wait_ms;
		if (t->wait_ms > a->sumsq2)
			a->sumsq2 = t->wait_ms; /* the longest wait */
		if (t->entry != DNONE)
			acc_where(d, a, d->ts[t->entry].endpoint, t->sp->start_ns);
		acc_touch(d, a, t->wait_ms);
		/* the wait, by process: how many waited at once (detect_metrics.c) */
		acc_add_sample(d, a, t->sp->start_ns, t->wait_ms, detect_process_tag(t->sp->resource));
	}
}

/* A key of the call a cache would serve, or 0 when it is not one. */
static uint64_t cache_key_of(struct detector *d, struct tspan *t, const char **text)
{
	uint64_t h = DETECT_HASH_INIT;
	if (is_tool_call(t)) {
		h = detect_hash(h, "tool", 5);
		h = detect_hash(h, t->tool, strlen(t->tool) + 1);
		*text = t->args_hash ? t->args_hash : t->args;
		return detect_hash(h, *text, strlen(*text));
	}
	if (t->tool_anc != DNONE || !is_client(t))
		return 0; /* a tool's own calls are part of its result */
	if (t->db_text && !t->cache_db) {
		const char *op = t->db_op ? t->db_op : t->db_text;
		if (strncasecmp(op, "SELECT", 6) && strncasecmp(op, "WITH", 4) && strncasecmp(op, "find", 4))
			return 0;
		/* A parameterised statement without its parameters is not a known argument set. */
		if (!t->has_params && (strchr(t->db_text, '$') || strchr(t->db_text, '?')))
			return 0;
		h = detect_hash(h ^ text_hash(d, t), "db", 3);
		if (t->db_ns)
			h = detect_hash(h, t->db_ns, strlen(t->db_ns) + 1);
		*text = t->db_text;
		return t->has_params ? detect_hash(h, &t->param_hash, sizeof(t->param_hash)) : h;
	}
	/* A GET without a query string takes its arguments from headers we do not see. */
	if (t->url_full && t->method && !strcmp(t->method, "GET") && strchr(t->url_full, '?') &&
	    !t->msg_system) {
		*text = t->url_full;
		return detect_hash(detect_hash(h, "get", 4), t->url_full, strlen(t->url_full));
	}
	return 0;
}

/*
 * The latency of the request span `t` (or the calls under it) belongs to:
 * its entry span's, the route's request, else the trace's longest root.
 */
static double request_ns(const struct detector *d, const struct tspan *t)
{
	return t->entry != DNONE ? (double)d->ts[t->entry].dur : d->root_ns;
}

static void on_cacheable(struct detector *d, struct tspan *t)
{
	const char *text = NULL;
	uint64_t h = cache_key_of(d, t, &text);
	if (!h)
		return;
	uint32_t tool = t->tool ? intern_str(d, t->tool) : 0;
	uint32_t ep = t->entry != DNONE ? d->ts[t->entry].endpoint : 0;
	struct acc *a = acc_cache(d, h, t->svc, tool);
	a->n++;
	a->sum += (double)t->dur;
	acc_where(d, a, ep, t->sp->start_ns);
	if (t->nplus1_tag) {
		/* the latest such call's N+1 (then the larger tag): independent of the feeding order */
		uint64_t st = t->sp->start_ns;
		a->n3++;
		if (st > a->tag_ns || (st == a->tag_ns && t->nplus1_tag > a->tag)) {
			a->tag = t->nplus1_tag;
			a->tag_ns = st;
		}
	}
	if (!a->text && a->n - a->err >= 2)
		a->text = xstrdup(text);
	acc_touch_at(d, a, (double)t->dur, request_ns(d, t));
}

static void on_statement(struct detector *d, struct tspan *t)
{
	uint32_t norm = norm_of(d, t);
	uint32_t db = t->db_ns ? intern_str(d, t->db_ns) : target_of(d, t);
	struct acc *a = acc_get(d, T_STMT, t->svc, db, 0, norm, 0, 0);
	if (!a)
		return;
	if (!a->sk) {
		a->sk = xmalloc(sizeof(*a->sk));
		sketch_init(a->sk);
	}
	sketch_add(a->sk, (double)t->dur);
	a->n++;
	a->sum += (double)t->dur;
	if (t->tool_anc != DNONE) {
		/* the latest statement's call (then the larger key): independent of the feeding order */
		uint64_t st = t->sp->start_ns;
		a->n2++;
		if (st >= a->tag_ns) {
			const char *text = NULL;
			uint64_t tag = cache_key_of(d, &d->ts[t->tool_anc], &text);
			if (st > a->tag_ns || tag > a->tag) {
				a->tag = tag;
				a->tag_ns = st;
			}
		}
	}
	acc_touch(d, a, (double)t->dur);
}

static void on_payload(struct detector *d, struct tspan *t)
{
	const char *name = t->sp->name ? t->sp->name : "";
	uint32_t op = intern_str(d, name);
	struct acc *a = acc_get(d, T_PAYLOAD, t->svc, op, 0, 0, 0, 0);
	if (!a)
		return;
	a->n++;
	if (t->body_bytes > a->max)
		a->max = t->body_bytes;
	if (t->body_bytes >= d->cfg.large_payload_bytes) {
		a->n2++;
		a->sum2 += (double)t->dur;
		a->sum3 += t->body_bytes;
		acc_touch(d, a, t->body_bytes);
	} else {
		a->sum += (double)t->dur;
	}
}

/* Who answers at an address: a call's SERVER child, or a SERVER span's own
 * server.address and server.port (what its clients addressed), which is
 * known even when the caller's spans came in another write. */
static void learn_target(struct detector *d, uint32_t service, uint32_t target)
{
	struct acc *who = acc_get(d, T_TARGET, service, 0, 0, target, 0, 0);
	if (who)
		who->n++;
}

/* A SERVER span whose caller's span is not in this part of the trace (it
 * came in another write): the service learns its address from its own
 * server.address and server.port.  Calls whose answer is in the trace are
 * learned from the call (on_client_call). */
static int answers_unseen_call(const struct tspan *t, const struct tspan *p)
{
	return t->sp->kind == SPAN_KIND_SERVER && !p && !hex_is_zero(t->sp->parent_span_id, 8) && t->server &&
	       t->port && t->svc;
}

static void on_client_call(struct detector *d, struct tspan *t)
{
	uint32_t target = target_of(d, t);
	if (!target || t->cache_db)
		return;
	const struct tspan *callee = callee_of(d, t);
	if (callee && callee->svc != t->svc)
		learn_target(d, callee->svc, target);
	struct acc *a = acc_get(d, T_TIMEOUT, t->svc, 0, 0, target, 0, 0);
	if (!a)
		return;
	a->n++;
	if (t->is_timeout && t->timeout_below) {
		a->n--; /* the timeout of a call further down, reported there */
	} else if (t->is_timeout) {
		a->n2++;
		a->sum2 += (double)t->dur;
		acc_touch(d, a, (double)t->dur);
	} else if (!t->is_error) {
		a->n3++;
		a->sum3 += (double)t->dur;
	}
}

/* ---- sibling groups ------------------------------------------------------- */

struct group {
	uint32_t norm, count, fails, seq_pairs;
	uint64_t prev_end;
	double sum, max, fail_sum;
	uint32_t target;
};

/*
 * What identifies an N+1 across detectors and merges: its service,
 * endpoint and call shape by content (never 0).  A cacheable call made
 * inside it carries it (acc.tag) and is folded into it.
 */
static uint64_t nplus1_tag(const struct detector *d, uint32_t svc, uint32_t ep, uint32_t norm)
{
	const uint32_t ids[3] = {svc, ep, norm};
	uint64_t h = DETECT_HASH_INIT;
	for (int i = 0; i < 3; i++) {
		const char *s = ids[i] ? detect_name(d, ids[i]) : "";
		h = detect_hash(h, s, strlen(s) + 1);
	}
	return h | 1;
}

/* Mark the calls of shape `norm` under `p` as the N+1 `tag`. */
static void mark_group(struct detector *d, const struct tspan *p, uint32_t norm, uint64_t tag)
{
	const uint32_t *k = &d->kids[p->kid_off];
	for (uint32_t j = 0; j < p->n_kids; j++) {
		struct tspan *c = &d->ts[k[j]];
		if (c->norm == norm && is_app_call(c))
			c->nplus1_tag = tag;
	}
}

/*
 * N+1 calls and retry storms under parent `p`.  A call is in sequence with
 * the earlier ones of its group when it does not overlap them by the
 * resolution of its start time or more (analyze/timeres.h).
 */
static void similar_children(struct detector *d, struct tspan *p)
{
	struct group g[MAX_GROUPS];
	unsigned ng = 0;
	const uint32_t *k = &d->kids[p->kid_off];
	for (uint32_t j = 0; j < p->n_kids; j++) {
		struct tspan *c = &d->ts[k[j]];
		if (!is_app_call(c))
			continue;
		uint32_t norm = norm_of(d, c);
		if (!norm)
			continue;
		unsigned x;
		for (x = 0; x < ng && g[x].norm != norm; x++)
			;
		if (x == ng) {
			if (ng == MAX_GROUPS)
				continue;
			memset(&g[ng], 0, sizeof(g[ng]));
			g[ng].norm = norm;
			g[ng].target = target_of(d, c);
			ng++;
		} else if (!timeres_overlaps(g[x].prev_end, c->sp->start_ns, res_of(d, c))) {
			g[x].seq_pairs++;
		}
		g[x].count++;
		g[x].sum += (double)c->dur;
		if ((double)c->dur > g[x].max)
			g[x].max = (double)c->dur;
		if (c->sp->end_ns > g[x].prev_end)
			g[x].prev_end = c->sp->end_ns;
		if (c->is_error) {
			g[x].fails++;
			g[x].fail_sum += (double)c->dur;
		}
	}
	uint32_t ep = p->entry != DNONE ? d->ts[p->entry].endpoint : 0;
	double lat = request_ns(d, p);
	for (unsigned x = 0; x < ng; x++) {
		if (g[x].count >= d->cfg.n_plus_one_min &&
		    g[x].seq_pairs >= d->cfg.n_plus_one_sequential * (g[x].count - 1)) {
			struct acc *a = acc_get(d, T_NPLUS1, p->svc, ep, 0, g[x].norm, 0, 0);
			if (a) {
				double waste = g[x].sum - g[x].max; /* one round trip remains */
				a->n += g[x].count;
				a->n2++;
				a->sum += g[x].sum;
				a->waste += waste;
				acc_touch_at(d, a, waste, lat);
			}
			mark_group(d, p, g[x].norm, nplus1_tag(d, p->svc, ep, g[x].norm));
		}
		if (g[x].fails >= d->cfg.retry_min_failures) {
			struct acc *a = acc_get(d, T_RETRY, p->svc, ep, 0,
						g[x].target ? g[x].target : g[x].norm, 0, 0);
			if (a) {
				a->n += g[x].fails;
				a->n2 += g[x].count;
				a->sum += g[x].fail_sum;
				a->waste += g[x].fail_sum;
				acc_touch_at(d, a, g[x].fail_sum, lat);
			}
		}
	}
}

/* A call that commits something outside the traced fleet (a non-GET to an
 * untraced target): the calls before it are what it waits for. */
static int is_commit(const struct tspan *c)
{
	return c->method && strcmp(c->method, "GET") && strcmp(c->method, "HEAD") &&
	       strcmp(c->method, "OPTIONS") && c->n_kids == 0;
}

static int seq_candidate(const struct tspan *c)
{
	return is_app_call(c) && !c->db_system && !c->msg_system &&
	       (c->server || c->rpc_service || c->url_full);
}

#define MAX_RUN 16

static void run_flush(struct detector *d, struct tspan *p, const uint32_t *run, unsigned n)
{
	char buf[NORM_MAX];
	size_t len = 0;
	double sum = 0, max = 0;
	if (n < 2)
		return;
	for (unsigned i = 0; i < n; i++) {
		const char *name = detect_name(d, d->ts[run[i]].target);
		size_t l = strlen(name);
		if (len + l + 3 >= sizeof(buf))
			return;
		if (i) {
			memcpy(buf + len, ", ", 2);
			len += 2;
		}
		memcpy(buf + len, name, l);
		len += l;
		double dur = (double)d->ts[run[i]].dur;
		sum += dur;
		if (dur > max)
			max = dur;
	}
	uint32_t detail = detect_intern(d, buf, len);
	uint32_t ep = p->entry != DNONE ? d->ts[p->entry].endpoint : 0;
	struct acc *a = acc_get(d, T_SEQ, p->svc, ep, 0, detail, 0, 0);
	if (!a)
		return;
	a->n += n;
	a->n2++;
	a->sum += sum;
	a->sum2 += max;
	a->waste += sum - max;
	acc_touch_at(d, a, sum - max, request_ns(d, p));
}

/*
 * Runs of calls that could overlap: consecutive CLIENT calls (HTTP or RPC,
 * not database, cache, messaging or telemetry) to distinct targets, each
 * starting after every earlier call of the parent ended (an overlap
 * shorter than the resolution of its start time is none).  A run ends at
 * an overlap (the code already runs those concurrently), at a repeated
 * target and at a commit, which is left out: it waits for the calls before
 * it.
 */
static void sequential_children(struct detector *d, struct tspan *p)
{
	uint32_t run[MAX_RUN];
	unsigned n = 0;
	uint64_t max_end = 0;
	const uint32_t *k = &d->kids[p->kid_off];
	for (uint32_t j = 0; j < p->n_kids; j++) {
		struct tspan *c = &d->ts[k[j]];
		if (!seq_candidate(c))
			continue;
		uint32_t target = target_of(d, c);
		if (!target)
			continue;
		int overlaps = timeres_overlaps(max_end, c->sp->start_ns, res_of(d, c));
		int repeat = 0;
		for (unsigned i = 0; i < n; i++)
			repeat |= d->ts[run[i]].target == target;
		if (c->sp->end_ns > max_end)
			max_end = c->sp->end_ns;
		if (is_commit(c)) {
			run_flush(d, p, run, n);
			n = 0;
			continue;
		}
		if (overlaps || repeat || n == MAX_RUN) {
			run_flush(d, p, run, n);
			n = 0;
		}
		run[n++] = k[j];
	}
	run_flush(d, p, run, n);
}

/* ---- one trace ------------------------------------------------------------ */

static void walk(struct detector *d, size_t n_order)
{
	struct tspan *ts = d->ts;
	for (size_t o = 0; o < n_order; o++) {
		uint32_t i = d->order[o];
		struct tspan *t = &ts[i];
		const struct tspan *p = t->parent != DNONE ? &ts[t->parent] : NULL;
		if (span_is_entry(t->sp)) {
			t->entry = i;
			t->endpoint = endpoint_of(d, t->sp, t);
			on_entry(d, t);
		} else {
			t->entry = p ? p->entry : DNONE; /* a part of a trace without its entry */
		}
		t->tool_anc = p ? p->tool_anc : DNONE;
		if (is_tool_call(t)) {
			if (t->tool_anc != DNONE && same_tool_call(&ts[t->tool_anc], t))
				ts[t->tool_anc].superseded = 1;
			t->tool_anc = i;
		}
		if (t->tool && t->entry == i)
			on_tool_call(d, t);
		if (t->has_wait || is_pool_connect(t->sp))
			on_pool_wait(d, t);
		if (t->db_text && is_client(t) && !t->cache_db)
			on_statement(d, t);
		cover_entry(ts, t, p, i); /* a telemetry export too: its time is no work of the route */
		if (t->telemetry)
			continue; /* the application's telemetry leaving: not its work */
		if (t->body_bytes > 0)
			on_payload(d, t);
		if (is_client(t))
			on_client_call(d, t);
		else if (answers_unseen_call(t, p))
			learn_target(d, t->svc, server_target(d, t));
		if (is_call_out(t, p) && t->entry != DNONE && t->entry != i)
			ts[t->entry].calls_ns += t->dur;
	}
	for (size_t o = 0; o < n_order; o++) {
		struct tspan *t = &ts[d->order[o]];
		if (t->entry == d->order[o])
			on_entry_work(d, t);
		if (!t->superseded && !t->telemetry)
			on_cacheable(d, t);
		if (t->n_kids >= 2) {
			similar_children(d, t);
			sequential_children(d, t);
		}
	}
}

static int orphan_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct tspan *ts = ctx, *a = &ts[*(const uint32_t *)pa], *b = &ts[*(const uint32_t *)pb];
	uint64_t x = id64(a->sp->parent_span_id), y = id64(b->sp->parent_span_id);
	if (x != y)
		return x < y ? -1 : 1;
	return a->sp->start_ns < b->sp->start_ns ? -1 : a->sp->start_ns > b->sp->start_ns;
}

/*
 * A part of a trace may lack the parent of some spans: those with the same
 * absent parent are still siblings.  Group them under a stand-in parent
 * (their first span's service, no entry) for the sibling detectors.
 */
static void orphan_groups(struct detector *d, size_t n)
{
	uint32_t *o = d->kids + n, k = 0;
	for (size_t i = 0; i < n; i++)
		if (d->ts[i].parent == DNONE && id64(d->ts[i].sp->parent_span_id))
			o[k++] = (uint32_t)i;
	if (k < 2)
		return;
	qsort_r(o, k, sizeof(*o), orphan_cmp, d->ts);
	for (uint32_t a = 0, b; a < k; a = b) {
		uint64_t pid = id64(d->ts[o[a]].sp->parent_span_id);
		for (b = a + 1; b < k && id64(d->ts[o[b]].sp->parent_span_id) == pid; b++)
			;
		if (b - a < 2)
			continue;
		struct tspan p = d->ts[o[a]];
		p.entry = DNONE;
		p.kid_off = (uint32_t)n + a;
		p.n_kids = b - a;
		similar_children(d, &p);
		sequential_children(d, &p);
	}
}

int detect_reads_key(const char *key)
{
	/* and the ports that name the pool of a connect span (pool_port), and what
	 * tells a framework's wrapper spans (cover_entry) */
	return key && (classify(key) != K_OTHER || !strcmp(key, "server.port") ||
		       !strcmp(key, "net.peer.port") || semconv_is_framework_key(key));
}

int detect_trace(struct detector *d, const struct span *spans, size_t n)
{
	if (!n)
		return 0;
	if (n > UINT32_MAX / 2)
		n = UINT32_MAX / 2;
	d->seq++;
	d->st.traces++;
	d->st.spans += n;
	d->n_res = 0;
	memcpy(d->trace_id, spans[0].trace_id, 16);
	scratch_reserve(d, n);
	for (size_t i = 0; i < n; i++)
		read_span(d, &d->ts[i], &spans[i]);
	for (unsigned i = 0; i < d->n_res; i++)
		d->res[i].res_ns = timeres_of_flags(d->res[i].tflags);
	resolve_parents(d, n);
	link_children(d, n);
	d->root_ns = 0;
	for (size_t i = 0; i < n; i++) {
		if (d->ts[i].parent == DNONE && (double)d->ts[i].dur > d->root_ns)
			d->root_ns = (double)d->ts[i].dur;
		if (!id64(spans[i].parent_span_id))
			d->st.requests++;
	}
	size_t n_order = preorder(d, n);
	/* Timeouts that only pass on one further down the tree. */
	for (size_t o = n_order; o-- > 0;) {
		const struct tspan *t = &d->ts[d->order[o]];
		if ((t->is_timeout || t->timeout_below) && t->parent != DNONE)
			d->ts[t->parent].timeout_below = 1;
	}
	walk(d, n_order);
	orphan_groups(d, n);
	return 0;
}

/* ---- normalisation -------------------------------------------------------- */

static int is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       (unsigned char)c >= 0x80;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* After writing "?", fold "?, ?" (a list of literals) into one "?". */
static size_t fold_list(char *out, size_t o)
{
	if (o >= 4 && out[o - 1] == '?' && out[o - 2] == ' ' && out[o - 3] == ',' && out[o - 4] == '?')
		return o - 3;
	if (o >= 3 && out[o - 1] == '?' && out[o - 2] == ',' && out[o - 3] == '?')
		return o - 2;
	return o;
}

size_t detect_normalize_sql(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	if (!cap)
		return 0;
	while (*s && o + 1 < cap) {
		char c = *s;
		if (c == '\'' || c == '"') {
			/* 'it''s' is one literal; "quoted identifiers" stay. */
			if (c == '"') {
				out[o++] = *s++;
				continue;
			}
			for (s++; *s; s++)
				if (*s == '\'' && *++s != '\'')
					break;
			out[o++] = '?';
			o = fold_list(out, o);
			continue;
		}
		if ((c == '$' || c == ':') && is_digit(s[1])) {
			for (s++; is_digit(*s); s++)
				;
			out[o++] = '?';
			o = fold_list(out, o);
			continue;
		}
		if ((is_digit(c) || (c == '-' && is_digit(s[1]) && (o == 0 || !is_word(out[o - 1])))) &&
		    (o == 0 || !is_word(out[o - 1]))) {
			for (s++; is_word(*s) || *s == '.'; s++)
				;
			out[o++] = '?';
			o = fold_list(out, o);
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
				s++;
			if (o > 0 && *s)
				out[o++] = ' ';
			continue;
		}
		out[o++] = *s++;
	}
	out[o] = 0;
	return o;
}

/* A path segment that names one object: starting with a digit, mostly
 * digits, or a long hex/uuid-like run ("v1" and "api" stay). */
static int id_like(const char *s, size_t n)
{
	size_t hex = 0, digits = 0;
	if (n && is_digit(s[0]))
		return 1;
	for (size_t i = 0; i < n; i++) {
		digits += is_digit(s[i]);
		hex += is_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F') ||
		       s[i] == '-';
	}
	return (n >= 16 && hex == n) || (n >= 6 && 2 * digits >= n);
}

size_t detect_normalize_url(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	const char *p = strstr(s, "://");
	if (!cap)
		return 0;
	/* scheme and host as they are */
	if (p) {
		const char *host_end = strchr(p + 3, '/');
		size_t n = host_end ? (size_t)(host_end - s) : strlen(s);
		if (n >= cap)
			n = cap - 1;
		memcpy(out, s, n);
		o = n;
		s += n;
	}
	while (*s && *s != '?' && *s != '#' && o + 1 < cap) {
		if (*s == '/') {
			out[o++] = *s++;
			continue;
		}
		size_t n = strcspn(s, "/?#");
		if (id_like(s, n)) {
			out[o++] = '?';
		} else {
			size_t m = n < cap - 1 - o ? n : cap - 1 - o;
			memcpy(out + o, s, m);
			o += m;
		}
		s += n;
	}
	if (*s == '?') {
		/* keep the parameter names, drop their values */
		s++;
		if (o + 1 < cap)
			out[o++] = '?';
		while (*s && *s != '#' && o + 1 < cap) {
			size_t n = strcspn(s, "=&#");
			size_t m = n < cap - 1 - o ? n : cap - 1 - o;
			memcpy(out + o, s, m);
			o += m;
			s += n;
			if (*s == '=') {
				s += strcspn(s, "&#");
				if (o + 2 < cap) {
					out[o++] = '=';
					out[o++] = '?';
				}
			}
			if (*s == '&') {
				s++;
				if (o + 1 < cap)
					out[o++] = '&';
			}
		}
	}
	out[o] = 0;
	return o;
}
