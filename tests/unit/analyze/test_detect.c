/*
 * test_detect.c - the pattern detectors and recommendation texts.
 *
 * First each detector on constructed traces and points, with a case that
 * must be found and cases that must not; then the ground truth: simulated
 * demo traffic (docs/DEMO.md) where each planted problem F1-F6 must be
 * found, attributed and ranked, with every problem off none of them and no
 * HIGH finding, and with one problem off exactly that one missing.  Last,
 * the same traffic split across two detectors and merged must give what one
 * detector fed everything gives.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/detect.h"
#include "analyze/recommend.h"
#include "ingest/telemetry.h"
#include "demo/scenario.h"
#include "core/json_doc.h"
#include "tap.h"

#define NS_MS  1000000ull
#define NS_S   1000000000ull
#define NS_MIN (60 * NS_S)
#define NS_H   (3600 * NS_S)
#define T0     (1700000000ull * NS_S)

/* ---- building traces ------------------------------------------------------- */

#define MAX_SPANS 128
#define MAX_ATTRS 8

struct tb {
	struct span s[MAX_SPANS];
	struct attr a[MAX_SPANS][MAX_ATTRS];
	char text[MAX_SPANS][96];
	size_t n;
	uint64_t trace;
};

static struct resource res_api = {.service_name = "api", .service_version = "1.0", .environment = "prod"};
static struct resource res_api2 = {.service_name = "api", .service_version = "2.0", .environment = "prod"};
static struct resource res_db = {.service_name = "worker", .service_version = "1.0", .environment = "prod"};

static void tb_init(struct tb *t, uint64_t trace)
{
	t->n = 0;
	t->trace = trace;
}

/* Span `id` (1-based within the trace), parent id or 0, times in µs from `base`. */
static struct span *tb_span(struct tb *t, int id, int parent, uint64_t base, uint64_t start_us,
			    uint64_t end_us, int kind, const char *name, const struct resource *r)
{
	struct span *s = &t->s[t->n];
	memset(s, 0, sizeof(*s));
	memcpy(s->trace_id, &t->trace, 8);
	s->trace_id[15] = 1;
	s->span_id[0] = (uint8_t)id;
	s->span_id[7] = 1;
	if (parent) {
		s->parent_span_id[0] = (uint8_t)parent;
		s->parent_span_id[7] = 1;
	}
	s->start_ns = base + start_us * 1000;
	s->end_ns = base + end_us * 1000;
	s->kind = (uint8_t)kind;
	s->name = name;
	s->resource = r;
	s->attrs = t->a[t->n];
	t->n++;
	return s;
}

static void set_s(struct span *s, const char *k, const char *v)
{
	s->attrs[s->n_attrs++] = (struct attr){.key = k, .type = ATTR_STRING, .v.s = v};
}

static void set_i(struct span *s, const char *k, int64_t v)
{
	s->attrs[s->n_attrs++] = (struct attr){.key = k, .type = ATTR_INT, .v.i = v};
}

static void set_d(struct span *s, const char *k, double v)
{
	s->attrs[s->n_attrs++] = (struct attr){.key = k, .type = ATTR_DOUBLE, .v.d = v};
}

/* The root of a request: api GET /x taking `dur_us`. */
static struct span *tb_root(struct tb *t, uint64_t base, uint64_t dur_us, const struct resource *r)
{
	struct span *s = tb_span(t, 1, 0, base, 0, dur_us, SPAN_KIND_SERVER, "GET /x", r);
	set_s(s, "http.request.method", "GET");
	set_s(s, "http.route", "/x");
	return s;
}

static const struct finding *find_kind(const struct finding *f, size_t n, enum finding_kind k)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].kind == k)
			return &f[i];
	return NULL;
}

static size_t count_kind(const struct finding *f, size_t n, enum finding_kind k)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += f[i].kind == k;
	return c;
}

static int near(double got, double want, double tol)
{
	return fabs(got - want) <= tol;
}

/* ---- normalisation ----------------------------------------------------------- */

static void test_normalize(void)
{
	char out[256];
	detect_normalize_sql(out, sizeof(out), "SELECT * FROM t WHERE id = 42 AND name = 'o''brien'");
	is_str(out, "SELECT * FROM t WHERE id = ? AND name = ?", "sql: numbers and strings");
	detect_normalize_sql(out, sizeof(out), "select  a1 from t2\n where x IN (1, 2,3) and y = $1");
	is_str(out, "select a1 from t2 where x IN (?) and y = ?", "sql: identifiers kept, lists folded");
	detect_normalize_url(out, sizeof(out),
			     "https://h.example/users/123/orders/9f8e7d6c5b4a39281706?page=2&q=x");
	is_str(out, "https://h.example/users/?/orders/??page=?&q=?", "url: ids and query values");
	detect_normalize_url(out, sizeof(out), "/v1/search");
	is_str(out, "/v1/search", "url: a plain path stays");
}

/* ---- N+1 ---------------------------------------------------------------------- */

/* `k` queries under the SERVER span; parallel: all start together. */
static void nplus1_trace(struct tb *t, uint64_t base, int k, int parallel, int literal)
{
	struct span *r = tb_root(t, base, 100 + (uint64_t)k * 1000, &res_api);
	(void)r;
	for (int i = 0; i < k; i++) {
		uint64_t st = parallel ? 50 : 50 + (uint64_t)i * 1000;
		struct span *s = tb_span(t, 2 + i, 1, base, st, st + 800 + (uint64_t)i, SPAN_KIND_CLIENT,
					 "SELECT items", &res_api);
		set_s(s, "db.system.name", "postgresql");
		if (literal) {
			snprintf(t->text[t->n - 1], sizeof(t->text[0]),
				 "SELECT * FROM items WHERE order_id = %d", 1000 + i);
			set_s(s, "db.query.text", t->text[t->n - 1]);
		} else {
			set_s(s, "db.query.text", "SELECT * FROM items WHERE order_id = $1");
		}
	}
}

/* The same under a node:http server: no http.route, the id in url.path. */
static void nplus1_plain_trace(struct tb *t, uint64_t base, int k, int parallel, int literal)
{
	nplus1_trace(t, base, k, parallel, literal);
	struct span *r = &t->s[0];
	r->name = "GET";
	r->n_attrs = 0;
	set_s(r, "http.request.method", "GET");
	snprintf(t->text[t->n], sizeof(t->text[0]), "/orders/%llu", (unsigned long long)base % 100000);
	set_s(r, "url.path", t->text[t->n]);
}

static void run_traces(struct detector *d, void (*fn)(struct tb *, uint64_t, int, int, int), int n, int k,
		       int a, int b)
{
	static struct tb t;
	for (int i = 0; i < n; i++) {
		tb_init(&t, 1000 + (uint64_t)i);
		fn(&t, T0 + (uint64_t)i * NS_MIN, k, a, b);
		detect_trace(d, t.s, t.n);
	}
}

static void test_n_plus_one(void)
{
	const struct finding *f;
	size_t n;
	struct detector *d = detect_new(NULL);
	run_traces(d, nplus1_trace, 25, 10, 0, 1);
	detect_finish(d, &f, &n);
	const struct finding *x = find_kind(f, n, FINDING_N_PLUS_ONE);
	if (ok(x != NULL, "n+1: 10 sequential similar queries under one parent, 25 requests")) {
		is_str(x->service, "api", "n+1: service");
		is_str(x->endpoint, "GET /x", "n+1: endpoint");
		is_str(x->detail, "postgresql SELECT * FROM items WHERE order_id = ?",
		       "n+1: normalised statement");
		is_int(x->occurrences, 250, "n+1: occurrences");
		is_int(x->affected_requests, 25, "n+1: affected requests");
		ok(near(x->per_request, 10, 1e-9), "n+1: 10 per request (%g)", x->per_request);
		/* durations 800..809 µs: sum 8045, longest 809: saving 7236 µs */
		ok(near(x->saving_ns, 7236e3, 1), "n+1: saving = sum - longest (%g ns)", x->saving_ns);
		ok(near(x->affected_latency_ns, 10100e3, 1), "n+1: latency of the root (%g)",
		   x->affected_latency_ns);
		ok(x->n_examples == 5, "n+1: five example traces (%u)", x->n_examples);
		ok(strcmp(x->doc, "n-plus-one") == 0, "n+1: doc slug");
	}
	detect_free(d);

	d = detect_new(NULL);
	run_traces(d, nplus1_trace, 25, 10, 1, 1);
	run_traces(d, nplus1_trace, 25, 3, 0, 1);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_N_PLUS_ONE), "n+1: parallel calls and 3 calls are not N+1");
	detect_free(d);

	d = detect_new(NULL);
	run_traces(d, nplus1_plain_trace, 25, 10, 0, 1);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_N_PLUS_ONE);
	is_str(x ? x->endpoint : NULL, "GET /orders/{id}",
	       "n+1 under a route-less server: the endpoint is the templated path, as the requests have it");
	detect_free(d);

	d = detect_new(NULL);
	run_traces(d, nplus1_trace, 10, 10, 0, 1);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_N_PLUS_ONE), "n+1: 10 requests are too few");
	detect_free(d);
}

/* ---- sequential calls ------------------------------------------------------------ */

static struct span *http_client(struct tb *t, int id, int parent, uint64_t base, uint64_t st, uint64_t en,
				const char *method, const char *host)
{
	struct span *s = tb_span(t, id, parent, base, st, en, SPAN_KIND_CLIENT, method, &res_api);
	set_s(s, "http.request.method", method);
	set_s(s, "server.address", host);
	return s;
}

static struct resource res_callee[3] = {
	{.service_name = "inventory"}, {.service_name = "pricing"}, {.service_name = "shipping"}};

/* mode 0: three sequential lookups then a commit; 1: the lookups overlap; 2: one target thrice */
static void seq_trace(struct tb *t, uint64_t base, int mode, int unused, int unused2)
{
	static const char *const hosts[3] = {"inventory", "pricing", "shipping"};
	uint64_t at = 10;
	tb_root(t, base, 2000, &res_api);
	for (int i = 0; i < 3; i++) {
		uint64_t dur = 100 + (uint64_t)i * 100; /* 100, 200, 300 µs */
		uint64_t st = mode == 1 ? 10 + (uint64_t)i : at;
		struct span *s = http_client(t, 2 + 2 * i, 1, base, st, st + dur, "POST",
					     mode == 2 ? hosts[0] : hosts[i]);
		(void)s;
		/* the callee's SERVER span: a traced service, so not a commit */
		tb_span(t, 3 + 2 * i, 2 + 2 * i, base, st + 5, st + dur - 5, SPAN_KIND_SERVER, "POST /op",
			&res_callee[mode == 2 ? 0 : i]);
		at = st + dur + 5;
	}
	http_client(t, 9, 1, base, 1000, 1500, "POST", "payments.example.com"); /* commit */
}

static void test_sequential(void)
{
	const struct finding *f;
	size_t n;
	struct detector *d = detect_new(NULL);
	run_traces(d, (void (*)(struct tb *, uint64_t, int, int, int))seq_trace, 25, 0, 0, 0);
	detect_finish(d, &f, &n);
	const struct finding *x = find_kind(f, n, FINDING_SEQUENTIAL);
	if (ok(x != NULL, "sequential: three calls to distinct services in a row")) {
		is_str(x->detail, "inventory, pricing, shipping", "sequential: the run, without the commit");
		ok(near(x->saving_ns, 300e3, 1), "sequential: saving = sum - max = 600 - 300 µs (%g)",
		   x->saving_ns);
		is_int(x->occurrences, 75, "sequential: calls");
		ok(near(x->saving_pct, 15, 1e-6), "sequential: 15%% of a 2 ms request (%g)", x->saving_pct);
	}
	detect_free(d);

	d = detect_new(NULL);
	run_traces(d, (void (*)(struct tb *, uint64_t, int, int, int))seq_trace, 25, 1, 0, 0);
	run_traces(d, (void (*)(struct tb *, uint64_t, int, int, int))seq_trace, 25, 2, 0, 0);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_SEQUENTIAL),
	   "sequential: overlapping calls and one target are not flagged");
	detect_free(d);
}

/* ---- cacheable calls ---------------------------------------------------------------- */

/* A tool call with arguments `args` (hash and text), `n` an hour for an hour. */
static void feed_tool_calls(struct detector *d, int n, int same, int redis)
{
	static struct tb t;
	for (int i = 0; i < n; i++) {
		uint64_t base = T0 + (uint64_t)i * (NS_H / (uint64_t)n);
		tb_init(&t, 5000 + (uint64_t)i);
		tb_root(&t, base, 500000, &res_api);
		if (redis) {
			struct span *s =
				tb_span(&t, 2, 1, base, 10, 400010, SPAN_KIND_CLIENT, "GET", &res_api);
			set_s(s, "db.system.name", "redis");
			set_s(s, "db.query.text", "GET session:1");
		} else {
			struct span *s = tb_span(&t, 2, 1, base, 10, 400010, SPAN_KIND_INTERNAL,
						 "execute_tool database-query", &res_api);
			set_s(s, "gen_ai.tool.name", "database-query");
			snprintf(t.text[1], sizeof(t.text[1]), "h%04d", same ? 0 : i);
			set_s(s, "tool.args_hash", t.text[1]);
			/* the tool's own query must not count a second time */
			struct span *q =
				tb_span(&t, 3, 2, base, 20, 399000, SPAN_KIND_CLIENT, "SELECT", &res_api);
			set_s(q, "db.system.name", "postgresql");
			set_s(q, "db.query.text", "SELECT sum(x) FROM sales");
		}
		detect_trace(d, t.s, t.n);
	}
}

static void test_cacheable(void)
{
	const struct finding *f;
	size_t n;
	struct detector *d = detect_new(NULL);
	feed_tool_calls(d, 120, 1, 0);
	detect_finish(d, &f, &n);
	const struct finding *x = find_kind(f, n, FINDING_CACHEABLE);
	if (ok(x != NULL, "cacheable: 120 identical tool calls in an hour")) {
		is_str(x->tool, "database-query", "cacheable: tool");
		is_str(x->detail, "h0000", "cacheable: the arguments hash");
		is_int(x->occurrences, 120, "cacheable: occurrences");
		/* window = 119/120 h + 0.5 s; λT = 120 calls / window * 60 s */
		double window = 119.0 * 3600 / 120 + 0.5, lt = 120.0 / window * 60, hit = lt / (1 + lt);
		ok(near(x->rate, hit, 1e-9), "cacheable: hit ratio λT/(1+λT) = %g (%g)", hit, x->rate);
		ok(near(x->saving_ns, hit * 400e6, 1), "cacheable: saving = hit ratio x call (%g)",
		   x->saving_ns);
		ok(x->priority == PRIORITY_HIGH, "cacheable: HIGH (%s)", detect_priority_name(x->priority));
	}
	is_int(count_kind(f, n, FINDING_CACHEABLE), 1,
	       "cacheable: the tool's query is part of the tool call");
	detect_free(d);

	d = detect_new(NULL);
	feed_tool_calls(d, 120, 0, 0);
	feed_tool_calls(d, 120, 1, 1);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_CACHEABLE), "cacheable: distinct arguments and Redis reads are not");
	detect_free(d);
}

/* ---- pools ------------------------------------------------------------------------------ */

static void feed_pool(struct detector *d, double wait_ms, double used)
{
	static struct tb t;
	struct metric_point p[4];
	struct attr pa[4][2];
	for (int i = 0; i < 60; i++) {
		uint64_t base = T0 + (uint64_t)i * NS_MIN;
		tb_init(&t, 7000 + (uint64_t)i);
		tb_root(&t, base, 200000, &res_db);
		struct span *s = tb_span(&t, 2, 1, base, 10, 10 + (uint64_t)(wait_ms * 1000),
					 SPAN_KIND_INTERNAL, "pool.acquire", &res_db);
		set_s(s, "db.client.connection.pool.name", "main-db");
		set_d(s, "db.client.connection.wait_time_ms", i % 2 ? wait_ms : 0.1);
		set_i(s, "db.client.connection.max", 10);
		detect_trace(d, t.s, t.n);
		memset(p, 0, sizeof(p));
		for (int k = 0; k < 3; k++) {
			p[k].resource = &res_db;
			p[k].type = METRIC_GAUGE;
			p[k].time_ns = base;
			p[k].attrs = pa[k];
			pa[k][0] = (struct attr){.key = "db.client.connection.pool.name",
						 .type = ATTR_STRING,
						 .v.s = "main-db"};
			p[k].n_attrs = 1;
		}
		p[0].name = "db.client.connection.count";
		p[0].value = i % 2 ? used : 3;
		pa[0][1] = (struct attr){
			.key = "db.client.connection.state", .type = ATTR_STRING, .v.s = "used"};
		p[0].n_attrs = 2;
		p[1].name = "db.client.connection.max";
		p[1].value = 10;
		p[2].name = "db.client.connection.pending_requests";
		p[2].value = i % 2 && used >= 10 ? 12 : 0;
		detect_points(d, p, 3);
	}
}

static void test_pool(void)
{
	const struct finding *f;
	size_t n;
	struct detector *d = detect_new(NULL);
	feed_pool(d, 100, 10);
	detect_finish(d, &f, &n);
	const struct finding *x = find_kind(f, n, FINDING_POOL_EXHAUSTION);
	if (ok(x != NULL, "pool: waits of 100 ms in half the requests, pool at its max")) {
		is_str(x->detail, "main-db", "pool: name");
		is_int(x->occurrences, 30, "pool: waits");
		ok(near(x->avg_ns, 100e6, 1), "pool: avg wait 100 ms (%g)", x->avg_ns);
		ok(near(x->pool_max, 10, 0), "pool: max 10");
		ok(near(x->pool_peak_demand, 22, 0), "pool: peak demand 10 used + 12 pending (%g)",
		   x->pool_peak_demand);
		ok(near(x->pool_recommended, 25, 0), "pool: recommend 25 (%g)", x->pool_recommended);
		/* 30 exhausted minutes over the 59 minutes the metrics span */
		ok(near(x->episodes_per_hour, 30 / (59.0 / 60), 1e-6), "pool: episodes an hour (%g)",
		   x->episodes_per_hour);
	}
	detect_free(d);

	d = detect_new(NULL);
	feed_pool(d, 0.5, 5);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_POOL_EXHAUSTION),
	   "pool: sub-millisecond waits at half the pool are fine");
	detect_free(d);
}

/* ---- slow statements, payloads, retries, timeouts ---------------------------------------------- */

#define SLOW_STATEMENT "SELECT c FROM v WHERE day = current_date"

static void feed_queries(struct detector *d, uint64_t slow_us, const char *slow_text)
{
	static struct tb t;
	const char *const q[3] = {"SELECT a FROM t WHERE id = $1", "SELECT b FROM u WHERE id = $1",
				  slow_text};
	for (int i = 0; i < 30; i++) {
		uint64_t base = T0 + (uint64_t)i * NS_MIN;
		tb_init(&t, 9000 + (uint64_t)i);
		tb_root(&t, base, slow_us + 10000, &res_api);
		for (int k = 0; k < 3; k++) {
			uint64_t dur = k == 2 ? slow_us : 2000 + (uint64_t)k * 100;
			struct span *s =
				tb_span(&t, 2 + k, 1, base, 10, 10 + dur, SPAN_KIND_CLIENT, "q", &res_api);
			set_s(s, "db.system.name", "postgresql");
			set_s(s, "db.namespace", "shop");
			set_s(s, "db.query.text", q[k]);
		}
		detect_trace(d, t.s, t.n);
	}
}

static void test_missing_index(void)
{
	const struct finding *f;
	size_t n;
	struct detector *d = detect_new(NULL);
	feed_queries(d, 200000, SLOW_STATEMENT);
	detect_finish(d, &f, &n);
	const struct finding *x = find_kind(f, n, FINDING_MISSING_INDEX);
	if (ok(x != NULL, "missing index: one statement 100x the others")) {
		is_str(x->detail, "postgresql SELECT c FROM v WHERE day = current_date",
		       "missing index: statement");
		is_str(x->tool, "shop", "missing index: database");
		ok(x->ratio > 50, "missing index: ratio to the other statements (%g)", x->ratio);
	}
	is_int(count_kind(f, n, FINDING_MISSING_INDEX), 1, "missing index: only the slow one");
	detect_free(d);

	d = detect_new(NULL);
	feed_queries(d, 3000, SLOW_STATEMENT);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_MISSING_INDEX), "missing index: similar statements are fine");
	detect_free(d);

	static const char *const waits[] = {
		"SELECT count(*), pg_sleep($1) FROM orders WHERE customer_id = $2",
		"SELECT pg_advisory_lock($1)", "DO SLEEP(2)"};
	for (size_t i = 0; i < sizeof(waits) / sizeof(*waits); i++) {
		d = detect_new(NULL);
		feed_queries(d, 200000, waits[i]);
		detect_finish(d, &f, &n);
		ok(!find_kind(f, n, FINDING_MISSING_INDEX), "missing index: not for a wait by design (%s)",
		   waits[i]);
		detect_free(d);
	}
}

static void feed_misc(struct detector *d, int64_t body, int failures, int timeouts)
{
	static struct tb t;
	for (int i = 0; i < 40; i++) {
		uint64_t base = T0 + (uint64_t)i * NS_MIN;
		tb_init(&t, 11000 + (uint64_t)i);
		struct span *r = tb_root(&t, base, 20000, &res_api);
		set_i(r, "http.response.body.size", i % 2 ? body : 1000);
		int id = 2;
		for (int k = 0; k < failures; k++, id++) {
			struct span *s = http_client(&t, id, 1, base, 10 + (uint64_t)k * 100,
						     90 + (uint64_t)k * 100, "GET", "flaky.example.com");
			set_s(s, "url.full", "https://flaky.example.com/v1/x");
			s->status = SPAN_STATUS_ERROR;
			set_s(s, "error.type", "503");
		}
		struct span *c = http_client(&t, id, 1, base, 5000, i < timeouts ? 15000 : 6000, "GET",
					     "slow.example.com");
		if (i < timeouts) {
			c->status = SPAN_STATUS_ERROR;
			set_s(c, "error.type", "timeout");
		}
		detect_trace(d, t.s, t.n);
	}
}

static void test_misc(void)
{
	const struct finding *f, *x;
	size_t n;
	struct detector *d = detect_new(NULL);
	feed_misc(d, 5 << 20, 4, 10);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_LARGE_PAYLOAD);
	if (ok(x != NULL, "large payloads: half the responses are 5 MiB"))
		ok(near(x->bytes, 5 << 20, 0) && near(x->rate, 0.5, 1e-9), "large payloads: size and share");
	x = find_kind(f, n, FINDING_RETRY_STORM);
	if (ok(x != NULL, "retry storm: 4 failing calls to one target under one parent"))
		ok(near(x->per_request, 4, 1e-9) && strcmp(x->detail, "flaky.example.com") == 0,
		   "retry storm: 4 a request to flaky.example.com");
	x = find_kind(f, n, FINDING_TIMEOUTS);
	if (ok(x != NULL, "timeouts: 10 of 40 calls time out")) {
		ok(near(x->rate, 0.25, 1e-9), "timeouts: rate 25%% (%g)", x->rate);
		ok(near(x->saving_ns, 9e6, 1), "timeouts: 10 ms against 1 ms normal (%g)", x->saving_ns);
	}
	detect_free(d);

	d = detect_new(NULL);
	feed_misc(d, 2000, 1, 0);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_LARGE_PAYLOAD) && !find_kind(f, n, FINDING_RETRY_STORM) &&
		   !find_kind(f, n, FINDING_TIMEOUTS),
	   "small bodies, one failure and no timeouts: nothing");
	detect_free(d);
}

/* ---- memory and CPU ------------------------------------------------------------------------------ */

static void feed_gauge(struct detector *d, const struct resource *r, const char *name, int minutes,
		       double (*fn)(int))
{
	for (int i = 0; i < minutes; i++) {
		struct metric_point p;
		memset(&p, 0, sizeof(p));
		p.resource = r;
		p.name = name;
		p.type = METRIC_GAUGE;
		p.time_ns = T0 + (uint64_t)i * NS_MIN;
		p.value = fn(i);
		detect_points(d, &p, 1);
	}
}

static double leak(int i)
{
	return 400e6 * (1 + 0.1 * i / 60.0) * (1 + 0.005 * ((i * 7) % 5 - 2));
}

static double sawtooth(int i)
{
	return 400e6 * (1 + 0.15 * (i % 15) / 15.0);
}

static double busy(int i)
{
	return i % 5 == 0 ? 0.95 : 0.4;
}

static double calm(int i)
{
	return 0.4 + 0.01 * (i % 3);
}

static void test_memory_cpu(void)
{
	const struct finding *f, *x;
	size_t n;
	struct detector *d = detect_new(NULL);
	feed_gauge(d, &res_api, "process.memory.usage", 180, leak);
	feed_gauge(d, &res_db, "process.memory.usage", 180, sawtooth);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_MEMORY_GROWTH);
	if (ok(x != NULL, "memory: +10%% an hour for 3 hours")) {
		is_str(x->service, "api", "memory: the growing service");
		ok(near(x->growth_per_hour, 40e6, 2e6), "memory: slope 40 MB/h (%g)", x->growth_per_hour);
	}
	is_int(count_kind(f, n, FINDING_MEMORY_GROWTH), 1, "memory: a sawtooth is released");
	detect_free(d);

	d = detect_new(NULL);
	/* requests: 100 ms in the busy minutes, 20 ms otherwise */
	for (int i = 0; i < 100; i++) {
		static struct tb t;
		tb_init(&t, 13000 + (uint64_t)i);
		tb_root(&t, T0 + (uint64_t)i * NS_MIN + NS_S, i % 5 == 0 ? 100000 : 20000, &res_api);
		detect_trace(d, t.s, t.n);
	}
	feed_gauge(d, &res_api, "process.cpu.utilization", 100, busy);
	feed_gauge(d, &res_db, "process.cpu.utilization", 100, calm);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_CPU_SATURATION);
	if (ok(x != NULL, "cpu: 20%% of samples at 95%%")) {
		is_str(x->service, "api", "cpu: service");
		ok(near(x->avg_ns, 100e6, 1) && near(x->baseline_ns, 20e6, 1),
		   "cpu: 100 ms saturated against 20 ms");
	}
	is_int(count_kind(f, n, FINDING_CPU_SATURATION), 1, "cpu: 40%% is not saturation");
	detect_free(d);
}

/* ---- pools as real SDKs report them ------------------------------------------------------- */

static struct attr worker_attrs[] = {{.key = "service.instance.id", .type = ATTR_STRING, .v.s = "w-1"}};
static struct resource res_worker = {
	.service_name = "settlement-worker", .environment = "prod", .attrs = worker_attrs, .n_attrs = 1};

/*
 * Requests of settlement-worker, each taking a connection through
 * instrumentation-pg's pg-pool.connect (no wait attribute, no pool
 * metrics): every minute `waiting` requests start together and wait
 * `wait_ms` in the pool of 5, then `calm` requests take a connection at
 * once.  `setup_ms` of each connect span is a child pg.connect (opening a
 * connection).  With `stable`, the attributes of the stable database
 * conventions (no connection string), and without the pool's size.
 */
enum pg_attrs {
	PG_OLD,		 /* db.connection_string, db.postgresql.max.client */
	PG_STABLE,	 /* server.address, server.port, db.namespace, db.postgresql.max.client */
	PG_STABLE_NO_MAX /* the same without the pool's size, as instrumentation-pg sends */
};

static void feed_pg_connect(struct detector *d, int waiting, double wait_ms, double setup_ms,
			    enum pg_attrs attrs)
{
	int stable = attrs != PG_OLD;
	static struct tb t;
	const int calm = 6;
	for (int m = 0; m < 30; m++) {
		for (int k = 0; k < waiting + calm; k++) {
			uint64_t base = T0 + (uint64_t)m * NS_MIN + (k < waiting ? 0 : (uint64_t)k * NS_S);
			uint64_t wait_us = (uint64_t)((k < waiting ? wait_ms : 0.3) * 1000 + setup_ms * 1000);
			tb_init(&t, 30000 + (uint64_t)m * 100 + (uint64_t)k);
			tb_root(&t, base, wait_us + 5000, &res_worker);
			struct span *c = tb_span(&t, 2, 1, base, 100, 100 + wait_us, SPAN_KIND_CLIENT,
						 "pg-pool.connect", &res_worker);
			set_s(c, stable ? "db.system.name" : "db.system", "postgresql");
			set_s(c, stable ? "db.namespace" : "db.name", "ledger");
			if (stable) {
				set_s(c, "server.address", "db.local");
				set_i(c, "server.port", 5432);
			} else {
				set_s(c, "db.connection_string", "postgresql://db.local:5432/ledger");
			}
			if (attrs != PG_STABLE_NO_MAX)
				set_i(c, "db.postgresql.max.client", 5);
			if (setup_ms > 0)
				tb_span(&t, 3, 2, base, 100, 100 + (uint64_t)(setup_ms * 1000),
					SPAN_KIND_CLIENT, "pg.connect", &res_worker);
			struct span *q = tb_span(&t, 4, 1, base, 200 + wait_us, 4000 + wait_us,
						 SPAN_KIND_CLIENT, "pg.query:SELECT ledger", &res_worker);
			set_s(q, "db.system", "postgresql");
			set_s(q, "db.statement", "SELECT * FROM entries WHERE account = $1");
			detect_trace(d, t.s, t.n);
		}
	}
}

static void test_pool_connect_spans(void)
{
	const struct finding *f, *x;
	size_t n;
	struct detector *d = detect_new(NULL);
	feed_pg_connect(d, 6, 80, 0, PG_OLD);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_POOL_EXHAUSTION);
	if (ok(x != NULL, "pg-pool.connect: 6 requests a minute wait 80 ms, no pool metrics")) {
		is_str(x->service, "settlement-worker", "pg-pool.connect: the service");
		is_str(x->detail, "db.local:5432/ledger (max 5)",
		       "pg-pool.connect: the pool, named as pg names it");
		is_str(x->endpoint, "GET /x", "pg-pool.connect: the endpoint waiting");
		is_int(x->occurrences, 180, "pg-pool.connect: 180 waits");
		ok(near(x->avg_ns, 80e6, 1e3), "pg-pool.connect: 80 ms a wait (%g)", x->avg_ns);
		ok(near(x->saving_ns, 80e6, 1e3), "pg-pool.connect: the wait is the cost (%g)", x->saving_ns);
		ok(near(x->pool_max, 5, 0), "pg-pool.connect: the pool's size from the span (%g)",
		   x->pool_max);
		ok(near(x->pool_waiters, 6, 0), "pg-pool.connect: 6 waiting at once (%g)", x->pool_waiters);
		ok(near(x->pool_peak_demand, 11, 0), "pg-pool.connect: 5 in use + 6 waiting (%g)",
		   x->pool_peak_demand);
		ok(near(x->pool_recommended, 15, 0), "pg-pool.connect: recommend 15, not 5 (%g)",
		   x->pool_recommended);
		ok(!x->pool_metrics_ignored, "pg-pool.connect: no metrics to leave out");
	}
	detect_free(d);

	d = detect_new(NULL);
	feed_pg_connect(d, 6, 80, 0, PG_STABLE);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_POOL_EXHAUSTION);
	ok(x && !strcmp(x->detail, "db.local:5432/ledger (max 5)"),
	   "pg-pool.connect, stable conventions: the pool named from server.address, server.port and "
	   "db.namespace (%s)",
	   x ? x->detail : "none");
	detect_free(d);

	d = detect_new(NULL);
	feed_pg_connect(d, 6, 0.4, 0, PG_OLD);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_POOL_EXHAUSTION),
	   "pg-pool.connect: a pool handing out connections at once is fine");
	detect_free(d);

	d = detect_new(NULL);
	feed_pg_connect(d, 6, 0.4, 40, PG_OLD);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_POOL_EXHAUSTION),
	   "pg-pool.connect: opening a new connection (a pg.connect child) is no wait for the pool");
	detect_free(d);
}

/* A pool metric point of settlement-worker at minute `m`. */
static void feed_pool_point(struct detector *d, int m, const char *name, const char *pool, const char *state,
			    double v)
{
	struct metric_point p;
	struct attr a[2] = {{.key = "pool.name", .type = ATTR_STRING, .v.s = pool},
			    {.key = "state", .type = ATTR_STRING, .v.s = state}};
	memset(&p, 0, sizeof(p));
	p.resource = &res_worker;
	p.name = name;
	p.type = METRIC_SUM;
	p.time_ns = T0 + (uint64_t)m * NS_MIN + 30 * NS_S;
	p.value = v;
	p.attrs = a;
	p.n_attrs = state ? 2 : 1;
	detect_points(d, &p, 1);
}

static void test_pool_impossible_metrics(void)
{
	const struct finding *f;
	size_t n;
	struct detect_stats st;
	/* instrumentation-pg's one count for two pools: one climbs, the other sinks below zero */
	struct detector *d = detect_new(NULL);
	feed_pg_connect(d, 6, 80, 0, PG_OLD);
	for (int m = 0; m < 30; m++) {
		feed_pool_point(d, m, "db.client.connection.count", "db.local:5432/shop", "used",
				42.0 * m + 20);
		feed_pool_point(d, m, "db.client.connection.count", "db.local:5432/shop", "idle", 0);
		feed_pool_point(d, m, "db.client.connections.usage", "db.local:5432/ledger", "used",
				5 - 42.0 * m);
		feed_pool_point(d, m, "db.client.connection.pending_requests", "db.local:5432/shop", NULL, 3);
	}
	detect_finish(d, &f, &n);
	detect_get_stats(d, &st);
	is_int(count_kind(f, n, FINDING_POOL_EXHAUSTION), 1,
	       "impossible pool series: one finding, from the spans");
	const struct finding *x = find_kind(f, n, FINDING_POOL_EXHAUSTION);
	if (x) {
		is_str(x->detail, "db.local:5432/ledger (max 5)",
		       "impossible pool series: the pool that waits");
		ok(x->pool_metrics_ignored,
		   "impossible pool series: the finding says its metrics were left out");
		ok(near(x->pool_recommended, 15, 0), "impossible pool series: the size from the spans (%g)",
		   x->pool_recommended);
		struct arena a;
		struct recommendation r;
		arena_init(&a);
		recommend_build(&a, x, &r);
		ok(strstr(r.title, "from 5 to 15") && strstr(r.evidence, "6 requests waiting at once") &&
			   strstr(r.evidence, "metrics are impossible"),
		   "impossible pool series: the text says so (\"%s\", \"%s\")", r.title, r.evidence);
		arena_release(&a);
	}
	is_int(st.unreliable_series, 2, "impossible pool series: both series of the service counted as such");
	detect_free(d);

	/* spans without the pool's size, drifting counts: the size from the max series, which holds */
	d = detect_new(NULL);
	feed_pg_connect(d, 6, 80, 0, PG_STABLE_NO_MAX);
	for (int m = 0; m < 30; m++) {
		feed_pool_point(d, m, "db.client.connection.count", "db.local:5432/ledger", "idle", -m);
		feed_pool_point(d, m, "db.client.connection.max", "db.local:5432/ledger", NULL, 5);
	}
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_POOL_EXHAUSTION);
	ok(x && x->pool_metrics_ignored && near(x->pool_max, 5, 0) && near(x->pool_recommended, 15, 0),
	   "impossible pool series: the configured maximum still sizes the advice (max %g, recommend %g)",
	   x ? x->pool_max : -1, x ? x->pool_recommended : -1);
	detect_free(d);

	/* metrics alone, used far above the maximum: no finding, no size */
	d = detect_new(NULL);
	for (int m = 0; m < 30; m++) {
		feed_pool_point(d, m, "db.client.connection.count", "shop", "used", 1259);
		feed_pool_point(d, m, "db.client.connection.max", "shop", NULL, 20);
		feed_pool_point(d, m, "db.client.connection.pending_requests", "shop", NULL, 2);
	}
	detect_finish(d, &f, &n);
	detect_get_stats(d, &st);
	ok(!find_kind(f, n, FINDING_POOL_EXHAUSTION),
	   "impossible pool series: 1259 used of 20 is no evidence");
	is_int(st.unreliable_series, 1, "impossible pool series: counted");
	detect_free(d);

	/* the same pool, possible: at its maximum with requests pending */
	d = detect_new(NULL);
	for (int m = 0; m < 30; m++) {
		feed_pool_point(d, m, "db.client.connection.count", "shop", "used", 20);
		feed_pool_point(d, m, "db.client.connection.max", "shop", NULL, 20);
		feed_pool_point(d, m, "db.client.connection.pending_requests", "shop", NULL, m % 3 ? 0 : 4);
	}
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_POOL_EXHAUSTION);
	ok(x && near(x->pool_recommended, 25, 0) && !x->pool_metrics_ignored,
	   "possible pool series: 20 used + 4 pending, recommend 25 (%g)", x ? x->pool_recommended : -1);
	detect_free(d);
}

/* ---- CPU of single-threaded runtimes ------------------------------------------------------------ */

static struct attr node_attrs[] = {{.key = "service.instance.id", .type = ATTR_STRING, .v.s = "n-1"},
				   {.key = "telemetry.sdk.language", .type = ATTR_STRING, .v.s = "nodejs"}};
static struct resource res_node = {
	.service_name = "shop", .environment = "prod", .attrs = node_attrs, .n_attrs = 2};
static struct attr java_attrs[] = {{.key = "service.instance.id", .type = ATTR_STRING, .v.s = "j-1"},
				   {.key = "telemetry.sdk.language", .type = ATTR_STRING, .v.s = "java"}};
static struct resource res_java = {
	.service_name = "shop", .environment = "prod", .attrs = java_attrs, .n_attrs = 2};

static void feed_point_attr(struct detector *d, const struct resource *r, const char *name, const char *unit,
			    uint64_t t, double v, const char *key, const char *sv, int64_t iv)
{
	struct metric_point p;
	struct attr a = {.key = key, .type = sv ? ATTR_STRING : ATTR_INT};
	if (sv)
		a.v.s = sv;
	else
		a.v.i = iv;
	memset(&p, 0, sizeof(p));
	p.resource = r;
	p.name = name;
	p.unit = unit;
	p.type = METRIC_GAUGE;
	p.time_ns = t;
	p.value = v;
	p.attrs = &a;
	p.n_attrs = key ? 1 : 0;
	detect_points(d, &p, 1);
}

/*
 * 100 minutes of host-metrics from `r` on a host of `cpus` CPUs (0: not
 * told): process.cpu.utilization divided by the CPU count and split into
 * user, system (and idle), one core busy every fifth minute; with `loop`,
 * the event loop's utilisation and delay p99 (in seconds) as
 * instrumentation-runtime-node sends them.  Requests take 100 ms in the
 * busy minutes, 20 ms otherwise; with `waiting`, 90% of it in a call out.
 */
static void feed_host_metrics(struct detector *d, const struct resource *r, int cpus, int loop, int waiting)
{
	for (int i = 0; i < 100; i++) {
		static struct tb t;
		uint64_t at = T0 + (uint64_t)i * NS_MIN;
		int busy = i % 5 == 0;
		double core = busy ? 0.97 : 0.2;
		tb_init(&t, 40000 + (uint64_t)i);
		uint64_t dur = busy ? 100000 : 20000;
		tb_root(&t, at + NS_S, dur, r);
		if (waiting)
			tb_span(&t, 2, 1, at + NS_S, dur / 20, dur - dur / 20, SPAN_KIND_CLIENT, "GET", r);
		detect_trace(d, t.s, t.n);
		for (int c = 0; c + 1 < cpus; c++)
			feed_point_attr(d, r, "system.cpu.utilization", "1", at, 0.3,
					"system.cpu.logical_number", NULL, c);
		if (cpus) { /* the last CPU as the Collector names it */
			static const char *const cpu_names[] = {"cpu0", "cpu1", "cpu2",
								"cpu3", "cpu4", "cpu5"};
			feed_point_attr(d, r, "system.cpu.time", "s", at, 1e4, "cpu", cpu_names[cpus - 1], 0);
		}
		double share = core / (cpus ? cpus : 4);
		feed_point_attr(d, r, "process.cpu.utilization", "1", at, share * 0.8, "process.cpu.state",
				"user", 0);
		feed_point_attr(d, r, "process.cpu.utilization", "1", at, share * 0.2, "process.cpu.state",
				"system", 0);
		/* the newer attribute, and a state that is no work */
		feed_point_attr(d, r, "process.cpu.utilization", "1", at, 1 - share, "cpu.mode", "idle", 0);
		if (loop) {
			feed_point_attr(d, r, "nodejs.eventloop.utilization", "1", at, busy ? 0.96 : 0.25,
					NULL, NULL, 0);
			feed_point_attr(d, r, "nodejs.eventloop.delay.p99", "s", at, busy ? 0.25 : 0.012,
					NULL, NULL, 0);
		}
	}
}

static void test_cpu_single_threaded(void)
{
	const struct finding *f, *x;
	size_t n;
	struct detector *d = detect_new(NULL);
	feed_host_metrics(d, &res_node, 4, 0, 0);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_CPU_SATURATION);
	if (ok(x != NULL, "cpu, Node.js on 4 CPUs: 0.24 of the host is 97%% of its one core")) {
		ok(x->single_threaded && near(x->cpu_count, 4, 0),
		   "cpu, Node.js: single-threaded, 4 CPUs (%g)", x->cpu_count);
		ok(near(x->ratio, 0.97, 1e-9), "cpu, Node.js: peak 97%% of a core, states summed (%g)",
		   x->ratio);
		ok(near(x->rate, 0.2, 1e-9), "cpu, Node.js: saturated in a fifth of the samples (%g)",
		   x->rate);
		ok(near(x->avg_ns, 100e6, 1) && near(x->baseline_ns, 20e6, 1),
		   "cpu, Node.js: 100 ms against 20 ms");
		ok(x->loop_delay_ms == 0, "cpu, Node.js: no event-loop delay sent");
		ok(x->cpu_endpoint && !strcmp(x->cpu_endpoint, "GET /x") && near(x->cpu_own_share, 1, 1e-9) &&
			   near(x->cpu_own_ns, 36e6, 1),
		   "cpu, Node.js: GET /x is all its own work, 36 ms a request (%s, %g, %g)",
		   x->cpu_endpoint ? x->cpu_endpoint : "none", x->cpu_own_share, x->cpu_own_ns);
		struct arena a;
		struct recommendation r;
		arena_init(&a);
		recommend_build(&a, x, &r);
		ok(strstr(r.evidence, "97% of one core") && strstr(r.change, "one thread") &&
			   strstr(r.evidence, "GET /x spends 100% of its time") &&
			   strstr(r.change, "GET /x first"),
		   "cpu, Node.js: the text says one core (\"%s\", \"%s\")", r.evidence, r.change);
		arena_release(&a);
	}
	detect_free(d);

	d = detect_new(NULL);
	feed_host_metrics(d, &res_node, 4, 0, 1);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_CPU_SATURATION);
	ok(x && !x->cpu_endpoint,
	   "cpu, Node.js: a route waiting on a call 90%% of its time is not named (%s)",
	   x && x->cpu_endpoint ? x->cpu_endpoint : "none");
	detect_free(d);

	d = detect_new(NULL);
	feed_host_metrics(d, &res_java, 4, 0, 0);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_CPU_SATURATION),
	   "cpu, Java on 4 CPUs: 0.24 of the host is not saturation");
	detect_free(d);

	d = detect_new(NULL);
	feed_host_metrics(d, &res_node, 0, 0, 0);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_CPU_SATURATION),
	   "cpu, Node.js, CPU count unknown, no event loop figures: judged as sent, not saturated");
	detect_free(d);

	d = detect_new(NULL);
	feed_host_metrics(d, &res_node, 0, 1, 0);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_CPU_SATURATION);
	if (ok(x != NULL, "cpu, Node.js, CPU count unknown: its event loop busy 96%% of the time")) {
		ok(near(x->loop_delay_ms, 250, 1e-6),
		   "cpu, Node.js: event-loop delay p99 250 ms, sent in s (%g)", x->loop_delay_ms);
		ok(near(x->ratio, 0.96, 1e-9), "cpu, Node.js: peak from the event loop (%g)", x->ratio);
	}
	detect_free(d);
}

/* ---- own work ------------------------------------------------------------------------------------------ */

enum own_mode {
	OWN_BARE,    /* 80 ms: a 20 ms query, the rest no span explains */
	OWN_COVERED, /* 80 ms: a 60 ms INTERNAL span of the application and the query */
	OWN_WRAPPED, /* 80 ms: express's request handler around the query, the rest no span explains */
	OWN_SMALL,   /* 25 ms: the query and 5 ms of its own */
	OWN_HEALTHY, /* GET /ok, 20 ms: a 19 ms query */
	OWN_BARE_Y,  /* as OWN_BARE, on GET /y */
};

/* `n` requests of shop GET /x (GET /ok when healthy) `per_min` a minute, from `r`. */
static void feed_own(struct detector *d, const struct resource *r, enum own_mode mode, int n, int per_min)
{
	static struct tb t;
	for (int i = 0; i < n; i++) {
		uint64_t base = T0 + (uint64_t)(i / per_min) * NS_MIN +
				(uint64_t)(i % per_min) * NS_MIN / (uint64_t)per_min;
		uint64_t dur = mode == OWN_SMALL ? 25000 : mode == OWN_HEALTHY ? 20000 : 80000;
		tb_init(&t, 50000 + (uint64_t)i * 8 + mode);
		struct span *root = tb_root(&t, base, dur, r);
		int parent = 1;
		if (mode == OWN_HEALTHY)
			set_s(root, "http.route", "/ok");
		if (mode == OWN_BARE_Y)
			root->attrs[1].v.s = "/y"; /* its http.route (tb_root) */
		if (mode == OWN_WRAPPED) {
			struct span *w = tb_span(&t, 3, 1, base, 100, dur - 100, SPAN_KIND_INTERNAL,
						 "request handler - /x", r);
			w->scope_name = "@opentelemetry/instrumentation-express";
			set_s(w, "express.type", "request_handler");
			parent = 3;
		}
		if (mode == OWN_COVERED) {
			struct span *c = tb_span(&t, 4, 1, base, 200, 60200, SPAN_KIND_INTERNAL, "score", r);
			c->scope_name = "shop";
		}
		uint64_t q = mode == OWN_HEALTHY ? 19000 : 20000, at = dur - q - 100;
		struct span *s = tb_span(&t, 2, parent, base, at, at + q, SPAN_KIND_CLIENT, "SELECT", r);
		set_s(s, "db.system.name", "postgresql");
		set_s(s, "db.query.text", "SELECT name FROM products WHERE id = $1");
		detect_trace(d, t.s, t.n);
	}
}

/* The CPU of `r` on a host of 2 CPUs every 10 s, `core` of its one core busy, for `minutes` minutes. */
static void feed_core(struct detector *d, const struct resource *r, int minutes, double core)
{
	for (int k = 0; k < minutes * 6; k++) {
		uint64_t at = T0 + (uint64_t)k * 10 * NS_S + 5 * NS_S;
		feed_point_attr(d, r, "system.cpu.logical.count", "{cpu}", at, 2, NULL, NULL, 0);
		feed_point_attr(d, r, "process.cpu.utilization", "1", at, core / 2, "process.cpu.state",
				"user", 0);
	}
}

static const struct finding *own_finding(struct detector *d, const char *endpoint, size_t *count)
{
	const struct finding *f, *x = NULL;
	size_t n;
	detect_finish(d, &f, &n);
	*count = count_kind(f, n, FINDING_OWN_WORK);
	for (size_t i = 0; i < n; i++)
		if (f[i].kind == FINDING_OWN_WORK && f[i].endpoint && !strcmp(f[i].endpoint, endpoint))
			x = &f[i];
	return x;
}

static void test_own_work(void)
{
	size_t count;
	struct detector *d = detect_new(NULL);
	feed_own(d, &res_node, OWN_BARE, 30, 1);
	feed_own(d, &res_node, OWN_HEALTHY, 30, 1);
	const struct finding *x = own_finding(d, "GET /x", &count);
	if (ok(x != NULL, "own work: 60 ms of an 80 ms request outside any span, 30 requests")) {
		is_str(x->service, "shop", "own work: service");
		is_str(x->environment, "prod", "own work: environment");
		ok(x->priority != PRIORITY_HIGH, "own work: never HIGH from spans alone (%s)",
		   detect_priority_name(x->priority));
		ok(near(x->avg_ns, 60e6, 1) && near(x->rate, 0.75, 1e-9) && near(x->baseline_ns, 80e6, 1),
		   "own work: 60 ms of 80 ms a request (%g, %g, %g)", x->avg_ns, x->rate, x->baseline_ns);
		is_int(x->affected_requests, 30, "own work: every request");
		ok(near(x->saving_ns, 60e6, 1) && near(x->saving_pct, 75, 1e-6),
		   "own work: the saving is all of the own work, an upper bound (%g, %g)", x->saving_ns,
		   x->saving_pct);
		ok(x->ratio == 0, "own work: no CPU figures sent (%g)", x->ratio);
		struct arena a;
		struct recommendation r;
		arena_init(&a);
		recommend_build(&a, x, &r);
		ok(strstr(r.title, "shop GET /x in prod") && strstr(r.evidence, "75% of their time") &&
			   strstr(r.evidence, "no CPU figures") && strstr(r.change, "/api/v1/profiles") &&
			   strstr(r.gain, "At most"),
		   "own work: the text (\"%s\", \"%s\", \"%s\", \"%s\")", r.title, r.evidence, r.change,
		   r.gain);
		arena_release(&a);
	}
	is_int(count, 1, "own work: the healthy route gets nothing");
	detect_free(d);

	static const struct {
		enum own_mode mode;
		int found;
		const char *what;
	} cases[] = {
		{OWN_COVERED, 0, "an application's span covering the time: none"},
		{OWN_WRAPPED, 1, "express's request handler covering the time is no cover: found"},
		{OWN_SMALL, 0, "5 ms of its own a request: none"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		d = detect_new(NULL);
		feed_own(d, &res_node, cases[i].mode, 30, 1);
		x = own_finding(d, "GET /x", &count);
		ok((x != NULL) == cases[i].found && count == (size_t)cases[i].found, "own work: %s (%zu)",
		   cases[i].what, count);
		detect_free(d);
	}

	/* 60 requests a minute for 10 minutes: the own work needs 6% of a core */
	d = detect_new(NULL);
	feed_own(d, &res_node, OWN_BARE, 600, 60);
	feed_core(d, &res_node, 10, 0.01);
	x = own_finding(d, "GET /x", &count);
	ok(!x, "own work: a process 1%% busy cannot have done 6%% of a core's work: waiting, none");
	detect_free(d);
	d = detect_new(NULL);
	feed_own(d, &res_node, OWN_BARE, 600, 60);
	feed_core(d, &res_node, 10, 0.3);
	x = own_finding(d, "GET /x", &count);
	ok(x && near(x->ratio, 5, 1e-6) && x->priority != PRIORITY_HIGH,
	   "own work: a process 30%% busy can: found, the CPU 5 times the work (%g)", x ? x->ratio : -1);
	detect_free(d);

	/* two routes needing 6% of a core each: a process 4% busy did neither */
	d = detect_new(NULL);
	feed_own(d, &res_node, OWN_BARE, 600, 60);
	feed_own(d, &res_node, OWN_BARE_Y, 600, 60);
	feed_core(d, &res_node, 10, 0.04);
	own_finding(d, "GET /x", &count);
	is_int(count, 0, "own work: the CPU is held against the work of all the service's routes, not one's");
	detect_free(d);
}

/* A saturated CPU names the route; its own-work finding is not a second one. */
static void test_own_work_fold(void)
{
	const struct finding *f, *x;
	size_t n;
	struct detector *d = detect_new(NULL);
	feed_host_metrics(d, &res_node, 4, 0, 0);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_CPU_SATURATION);
	ok(x && x->cpu_endpoint && !strcmp(x->cpu_endpoint, "GET /x") && x->n_examples > 0,
	   "own work, saturated: the saturation names GET /x and takes its examples (%u)",
	   x ? x->n_examples : 0);
	is_int(count_kind(f, n, FINDING_OWN_WORK), 0, "own work, saturated: folded into the saturation");
	ok(x && x->priority >= PRIORITY_MEDIUM, "own work, saturated: the saturation at least as urgent (%s)",
	   x ? detect_priority_name(x->priority) : "none");
	detect_free(d);

	/* saturated every fifth minute, but no slower then: a LOW saturation takes the MEDIUM own work's rank */
	d = detect_new(NULL);
	feed_own(d, &res_node, OWN_BARE, 100, 1);
	for (int m = 0; m < 100; m++) {
		uint64_t at = T0 + (uint64_t)m * NS_MIN + 30 * NS_S;
		feed_point_attr(d, &res_node, "system.cpu.logical.count", "{cpu}", at, 2, NULL, NULL, 0);
		feed_point_attr(d, &res_node, "process.cpu.utilization", "1", at, m % 5 ? 0.1 : 0.49,
				"process.cpu.state", "user", 0);
	}
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_CPU_SATURATION);
	ok(x && x->saving_ns == 0 && x->cpu_endpoint && !strcmp(x->cpu_endpoint, "GET /x") &&
		   x->priority == PRIORITY_MEDIUM && !find_kind(f, n, FINDING_OWN_WORK),
	   "own work, saturated at no cost: one finding, as urgent as the own work (%s)",
	   x ? detect_priority_name(x->priority) : "none");
	detect_free(d);

	d = detect_new(NULL);
	feed_host_metrics(d, &res_java, 4, 0, 0);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_OWN_WORK);
	ok(!find_kind(f, n, FINDING_CPU_SATURATION) && x && !strcmp(x->endpoint, "GET /x") && x->ratio > 0,
	   "own work, not saturated: found on its own, the CPU figures agreeing (%g)", x ? x->ratio : 0);
	detect_free(d);
}

/* ---- version regression ------------------------------------------------------------------------------ */

static void feed_versions(struct detector *d, double factor)
{
	static struct tb t;
	for (int i = 0; i < 400; i++) {
		int v2 = i % 2;
		uint64_t dur = (uint64_t)((10000 + (i * 37) % 2000) * (v2 ? factor : 1.0));
		tb_init(&t, 20000 + (uint64_t)i);
		tb_root(&t, T0 + (uint64_t)i * NS_S, dur, v2 ? &res_api2 : &res_api);
		detect_trace(d, t.s, t.n);
	}
}

static void test_versions(void)
{
	const struct finding *f, *x;
	size_t n;
	struct detector *d = detect_new(NULL);
	feed_versions(d, 1.4);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_VERSION_REGRESSION);
	if (ok(x != NULL, "version: 2.0 is 40%% slower than 1.0")) {
		is_str(x->detail, "2.0 vs 1.0", "version: which");
		ok(near(x->ratio, 1.4, 0.01), "version: mean ratio (%g)", x->ratio);
		is_int(x->occurrences, 200, "version: requests of the slower version");
	}
	detect_free(d);

	d = detect_new(NULL);
	feed_versions(d, 1.05);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_VERSION_REGRESSION), "version: 5%% is not a regression");
	detect_free(d);
}

/* ---- ids, parts, text, JSON --------------------------------------------------------------------------- */

static void test_ids_parts_text(void)
{
	const struct finding *f;
	size_t n;
	char id1[17] = "";
	struct detector *d = detect_new(NULL);
	run_traces(d, nplus1_trace, 25, 10, 0, 1);
	detect_finish(d, &f, &n);
	if (n)
		memcpy(id1, f[0].id, 17);
	detect_free(d);

	/* More data and other numbers, the same finding: the same id. */
	d = detect_new(NULL);
	run_traces(d, nplus1_trace, 40, 12, 0, 1);
	detect_finish(d, &f, &n);
	ok(n && f[0].occurrences == 480 && !strcmp(f[0].id, id1),
	   "id: hash of kind and subject, not of the numbers");
	detect_free(d);

	/* Each trace in two parts. */
	d = detect_new(NULL);
	static struct tb t;
	for (int i = 0; i < 40; i++) {
		tb_init(&t, 3000 + (uint64_t)i);
		nplus1_trace(&t, T0 + (uint64_t)i * NS_MIN, 12, 0, 1);
		detect_trace(d, t.s, 1);	   /* the root alone */
		detect_trace(d, t.s + 1, t.n - 1); /* the queries, their parent absent */
	}
	detect_finish(d, &f, &n);
	const struct finding *x = find_kind(f, n, FINDING_N_PLUS_ONE);
	if (ok(x != NULL, "parts: siblings without their parent are still grouped")) {
		ok(strcmp(x->id, id1) != 0, "id: another subject (no endpoint), another id");
		is_int(x->occurrences, 480, "parts: 40 x 12 calls");
		ok(x->endpoint == NULL, "parts: no entry span seen, no endpoint");
	}

	struct arena a;
	struct recommendation r;
	struct buf b;
	struct json_doc doc;
	char err[200];
	arena_init(&a);
	buf_init(&b, BUF_NO_LIMIT);
	run_traces(d, nplus1_trace, 25, 10, 0, 1);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_N_PLUS_ONE);
	if (x) {
		recommend_build(&a, x, &r);
		ok(strstr(r.title, "Batch the N+1 queries") != NULL, "text: title \"%s\"", r.title);
		ok(strstr(r.evidence, "similar calls per request") != NULL, "text: evidence \"%s\"",
		   r.evidence);
		ok(strstr(r.gain, "a request") != NULL, "text: gain \"%s\"", r.gain);
		is_str(r.doc, "/docs/recommendations/n-plus-one.md", "text: doc link");
		ok(recommend_json(&b, x, &r) == 0, "json: written");
		int parsed = json_doc_parse(&doc, b.data, b.len, 0, err, sizeof(err)) == 0;
		if (ok(parsed, "json: parses (%s)", parsed ? "" : err)) {
			const struct json *ev = json_get(doc.root, "evidence"),
					  *su = json_get(doc.root, "subject");
			uint64_t occ = 0;
			ok(ev && json_uint64(json_get(ev, "occurrences"), &occ) == 0 && occ == x->occurrences,
			   "json: evidence.occurrences = %llu", (unsigned long long)occ);
			is_str(json_str(json_get(su, "service")), "api", "json: subject.service");
			is_str(json_str(json_get(doc.root, "id")), x->id, "json: id");
		}
		json_doc_release(&doc);
		buf_reset(&b);
		recommend_markdown(&b, x, NULL);
		ok(!strncmp(b.data, "- **", 4) && strstr(b.data, "n-plus-one.md") &&
			   b.data[b.len - 1] == '\n',
		   "markdown: one list item");
	}
	buf_release(&b);
	arena_release(&a);
	detect_free(d);
}

/* ---- what real SDKs send ---------------------------------------------------------------------------- */

static struct resource res_gw = {.service_name = "gateway"};
static struct resource res_js = {.service_name = "orders", .environment = "prod"};
static struct resource res_js_callee[3] = {
	{.service_name = "inventory"}, {.service_name = "pricing"}, {.service_name = "shipping"}};

/* A span with times in ns from `base`. */
static struct span *tb_span_ns(struct tb *t, int id, int parent, uint64_t base, uint64_t start_ns,
			       uint64_t end_ns, int kind, const char *name, const struct resource *r)
{
	struct span *s = tb_span(t, id, parent, base + start_ns, 0, 0, kind, name, r);
	s->end_ns = base + end_ns;
	return s;
}

/* The start time a JS SDK records: Date.now(), whole milliseconds. */
static uint64_t ms_floor(uint64_t ns)
{
	return ns / NS_MS * NS_MS;
}

enum js_mode {
	JS_SEQUENTIAL,	  /* back to back, starts cut to the millisecond */
	JS_CONCURRENT,	  /* each starts 0.5 ms after the one before: overlapping by ms */
	JS_FINE_OVERLAP,  /* sub-ms starts, each overlapping the one before by 0.5 ms */
	JS_NO_ENTRY_PART, /* as JS_SEQUENTIAL, the SERVER spans fed apart */
};

/*
 * A gateway request (100 ms) calling orders GET /orders/:id (an express app:
 * SERVER, then an INTERNAL "request handler" wrapper) whose handler issues
 * 10 statements, then 3 HTTP calls to three services on 127.0.0.1.
 * `base` is a whole millisecond.
 */
static void js_trace(struct detector *d, struct tb *t, uint64_t base, enum js_mode mode, int callees)
{
	static const char *const names[3] = {"GET", "GET", "GET"};
	static const int64_t ports[3] = {3001, 3002, 3003};
	int fine = mode == JS_FINE_OVERLAP;
	tb_span_ns(t, 1, 0, base, 0, 100 * NS_MS, SPAN_KIND_SERVER, "GET /orders/:id", &res_gw);
	tb_span_ns(t, 2, 1, base, 1 * NS_MS, 90 * NS_MS, SPAN_KIND_CLIENT, "GET", &res_gw);
	struct span *srv = tb_span_ns(t, 3, 2, base, 2 * NS_MS, 60 * NS_MS + 123456, SPAN_KIND_SERVER,
				      "GET /orders/:id", &res_js);
	set_s(srv, "http.request.method", "GET");
	set_s(srv, "http.route", "/orders/:id");
	struct span *h = tb_span_ns(t, 4, 3, base, 3 * NS_MS, 60 * NS_MS, SPAN_KIND_INTERNAL,
				    "request handler - /orders/:id", &res_js);
	set_s(h, "http.route", "/orders/:id");
	uint64_t at = 3 * NS_MS + 350000; /* the true start of the next call */
	for (int i = 0; i < 13; i++) {
		uint64_t dur = i < 10 ? 2 * NS_MS + 170000 : 4 * NS_MS + 90000;
		uint64_t st = fine ? at : ms_floor(at);
		struct span *c = tb_span_ns(t, 5 + i, 4, base, st, at + dur, SPAN_KIND_CLIENT,
					    i < 10 ? "pg.query:SELECT shop" : names[i - 10], &res_js);
		if (i < 10) {
			set_s(c, "db.system", "postgresql");
			set_s(c, "db.statement", "SELECT * FROM order_items WHERE order_id = $1");
			set_s(c, "server.address", "127.0.0.1");
			set_i(c, "server.port", 5432);
		} else {
			set_s(c, "http.request.method", "GET");
			set_s(c, "server.address", "127.0.0.1");
			set_i(c, "server.port", ports[i - 10]);
			if (callees)
				tb_span_ns(t, 20 + i, 5 + i, base, at + 300000, at + dur - 200000,
					   SPAN_KIND_SERVER, "GET /stock", &res_js_callee[i - 10]);
		}
		/* back to back: the next starts 0.2 ms after this one ends; or well inside it */
		at = mode == JS_CONCURRENT ? at + 500000 : fine ? at + dur - 500000 : at + dur + 200000;
	}
	if (mode == JS_NO_ENTRY_PART) {
		/* the SERVER span exported later than its children: two parts */
		detect_trace(d, t->s, 3);
		detect_trace(d, t->s + 3, t->n - 3);
	} else {
		detect_trace(d, t->s, t->n);
	}
}

static void feed_js(struct detector *d, int n, enum js_mode mode, int callees)
{
	static struct tb t;
	for (int i = 0; i < n; i++) {
		tb_init(&t, 20000 + (uint64_t)i);
		js_trace(d, &t, T0 + (uint64_t)i * NS_MIN, mode, callees);
	}
}

static void test_clock_resolution(void)
{
	const struct finding *f, *x;
	size_t n;
	struct detector *d = detect_new(NULL);
	feed_js(d, 25, JS_SEQUENTIAL, 1);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_N_PLUS_ONE);
	if (ok(x != NULL, "resolution: 10 back-to-back statements with ms starts are an N+1")) {
		is_str(x->service, "orders", "resolution: N+1 of the service that made the calls");
		is_str(x->endpoint, "GET /orders/:id",
		       "wrapper: the endpoint of the SERVER span, not the handler's");
		is_int(x->subject_requests, 25, "wrapper: the route's requests");
		is_int(x->affected_requests, 25, "wrapper: every one affected");
		ok(near(x->affected_latency_ns, 58123456, 1),
		   "wrapper: savings against the route's request time, not the gateway's (%g)",
		   x->affected_latency_ns);
	}
	x = find_kind(f, n, FINDING_SEQUENTIAL);
	if (ok(x != NULL, "resolution: three back-to-back calls with ms starts are sequential"))
		is_str(x->detail,
		       "inventory (127.0.0.1:3001), pricing (127.0.0.1:3002), shipping (127.0.0.1:3003)",
		       "targets: three services on one host, by port, named by who answered");
	detect_free(d);

	d = detect_new(NULL);
	feed_js(d, 25, JS_SEQUENTIAL, 0);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_SEQUENTIAL);
	if (ok(x != NULL, "targets: untraced callees"))
		is_str(x->detail, "127.0.0.1:3001, 127.0.0.1:3002, 127.0.0.1:3003",
		       "targets: untraced callees by address and port");
	detect_free(d);

	/* the callees' SERVER spans came in writes of their own, as each process
	 * exports apart: their server.address and server.port name them */
	d = detect_new(NULL);
	feed_js(d, 25, JS_SEQUENTIAL, 0);
	static struct tb parts;
	for (int k = 0; k < 3; k++) {
		tb_init(&parts, 26000 + (uint64_t)k);
		struct span *sp =
			tb_span_ns(&parts, 2, 1, T0, 0, NS_MS, SPAN_KIND_SERVER, "GET", &res_js_callee[k]);
		set_s(sp, "server.address", "127.0.0.1");
		set_i(sp, "server.port", 3001 + k);
		detect_trace(d, parts.s, parts.n); /* without its parent */
	}
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_SEQUENTIAL);
	if (ok(x != NULL, "targets: callees traced in parts of their own"))
		is_str(x->detail,
		       "inventory (127.0.0.1:3001), pricing (127.0.0.1:3002), shipping (127.0.0.1:3003)",
		       "targets: named by the address their SERVER spans answered at");
	detect_free(d);

	/* calls known only by url.full: its host and port */
	d = detect_new(NULL);
	static struct tb u;
	static const char *const urls[3] = {"http://localhost:3001/stock/7", "http://localhost:3002/price",
					    "http://[::1]:3003/ship"};
	for (int i = 0; i < 25; i++) {
		uint64_t base = T0 + (uint64_t)i * NS_MIN;
		tb_init(&u, 24000 + (uint64_t)i);
		tb_root(&u, base, 2000, &res_api);
		for (int k = 0; k < 3; k++) {
			struct span *c = tb_span(&u, 2 + k, 1, base, 10 + (uint64_t)k * 300,
						 300 + (uint64_t)k * 300, SPAN_KIND_CLIENT, "GET", &res_api);
			set_s(c, "http.request.method", "GET");
			set_s(c, "url.full", urls[k]);
		}
		detect_trace(d, u.s, u.n);
	}
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_SEQUENTIAL);
	if (ok(x != NULL, "targets: calls with only url.full"))
		is_str(x->detail, "localhost:3001, localhost:3002, [::1]:3003",
		       "targets: url.full's host and port");
	detect_free(d);

	d = detect_new(NULL);
	feed_js(d, 25, JS_CONCURRENT, 1);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_N_PLUS_ONE) && !find_kind(f, n, FINDING_SEQUENTIAL),
	   "resolution: calls overlapping by ms are concurrent, not N+1 or sequential");
	detect_free(d);

	d = detect_new(NULL);
	feed_js(d, 25, JS_FINE_OVERLAP, 1);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_N_PLUS_ONE) && !find_kind(f, n, FINDING_SEQUENTIAL),
	   "resolution: with sub-ms starts, a 0.5 ms overlap is an overlap");
	detect_free(d);
}

static int has_of_zero(const char *s)
{
	return strstr(s, " of 0 ") != NULL;
}

static void test_entry_parts(void)
{
	const struct finding *f, *x;
	size_t n, n_nplus1 = 0;
	struct detector *d = detect_new(NULL);
	feed_js(d, 20, JS_SEQUENTIAL, 1);
	static struct tb t;
	for (int i = 0; i < 10; i++) {
		tb_init(&t, 21000 + (uint64_t)i);
		js_trace(d, &t, T0 + (uint64_t)(30 + i) * NS_MIN, JS_NO_ENTRY_PART, 1);
	}
	detect_finish(d, &f, &n);
	for (size_t i = 0; i < n; i++)
		n_nplus1 += f[i].kind == FINDING_N_PLUS_ONE;
	is_int(n_nplus1, 1, "parts: the parts without their SERVER span fold into the route's N+1");
	x = find_kind(f, n, FINDING_N_PLUS_ONE);
	if (x) {
		is_str(x->endpoint, "GET /orders/:id", "parts: the route's endpoint");
		is_int(x->subject_requests, 30, "parts: all 30 requests of the route");
		is_int(x->affected_requests, 30, "parts: 30 affected, not more than the route's requests");
		is_int(x->occurrences, 300, "parts: every call counted");
		ok(near(x->affected_latency_ns, 58123456, 1),
		   "parts: the route's latency for the parts too (%g)", x->affected_latency_ns);
	}
	struct arena a;
	struct recommendation r;
	arena_init(&a);
	for (size_t i = 0; i < n; i++) {
		recommend_build(&a, &f[i], &r);
		ok(!has_of_zero(r.evidence), "text: no \"of 0\" in \"%s\"", r.evidence);
	}
	struct finding fake = *find_kind(f, n, FINDING_N_PLUS_ONE);
	fake.subject_requests = 0;
	fake.affected_requests = 53;
	recommend_build(&a, &fake, &r);
	ok(!has_of_zero(r.evidence) && strstr(r.evidence, "in 53 requests"),
	   "text: a subject without a request count says \"in 53 requests\" (%s)", r.evidence);
	fake.kind = FINDING_SEQUENTIAL;
	recommend_build(&a, &fake, &r);
	ok(!has_of_zero(r.evidence), "text: sequential, no \"of 0\" (%s)", r.evidence);
	arena_release(&a);
	detect_free(d);
}

/* ---- telemetry's own traffic -------------------------------------------------------------------------- */

static void test_telemetry(void)
{
	ok(telemetry_url_is_export("http://localhost:4318/v1/traces"), "telemetry: OTLP/HTTP traces");
	ok(telemetry_url_is_export("https://otlp.example.com/otlp/v1/metrics"), "telemetry: behind a prefix");
	ok(telemetry_url_is_export("http://127.0.0.1:4040/ingest?name=shop&from=1&until=2"),
	   "telemetry: a Pyroscope upload");
	ok(telemetry_url_is_export("/v1/logs"), "telemetry: a path alone");
	ok(!telemetry_url_is_export("http://shop:8080/events/ingest"),
	   "telemetry: an application's own /ingest is not");
	ok(!telemetry_url_is_export("http://shop:8080/v1/tracesx") &&
		   !telemetry_url_is_export("http://a/v1/orders"),
	   "telemetry: other paths are not");
	ok(telemetry_rpc_is_export("opentelemetry.proto.collector.trace.v1.TraceService"),
	   "telemetry: OTLP/gRPC");
	ok(telemetry_agent_is_export("OTel-OTLP-Exporter-JavaScript/0.52.1"),
	   "telemetry: an exporter's agent");
	ok(!telemetry_rpc_is_export("shop.v1.Orders") && !telemetry_agent_is_export("curl/8.0"),
	   "telemetry: others are not");

	/* every request exports: 6 trace uploads in a row, then a profile upload that times out */
	struct detector *d = detect_new(NULL);
	static struct tb t;
	for (int i = 0; i < 60; i++) {
		uint64_t base = T0 + (uint64_t)i * NS_MIN;
		tb_init(&t, 22000 + (uint64_t)i);
		tb_root(&t, base, 20000, &res_api);
		for (int k = 0; k < 6; k++) {
			struct span *s = http_client(&t, 2 + k, 1, base, 10 + (uint64_t)k * 300,
						     200 + (uint64_t)k * 300, "POST", "collector");
			set_s(s, "url.full", "http://collector:4318/v1/traces");
			s->status = SPAN_STATUS_ERROR;
			set_s(s, "error.type", "503");
		}
		struct span *p = http_client(&t, 8, 1, base, 2000, 12000, "GET", "pyroscope");
		set_s(p, "url.full", "http://pyroscope:4040/ingest?name=api&from=1");
		p->status = SPAN_STATUS_ERROR;
		set_s(p, "error.type", "timeout");
		struct span *m = http_client(&t, 9, 1, base, 12100, 13000, "POST", "otel");
		set_s(m, "url.path", "/v1/metrics");
		set_i(m, "http.request.body.size", 5 << 20);
		detect_trace(d, t.s, t.n);
	}
	const struct finding *f;
	size_t n;
	detect_finish(d, &f, &n);
	ok(n == 0,
	   "telemetry: exports are never N+1, sequential, cacheable, retries, timeouts or payloads (%zu: %s)",
	   n, n ? detect_kind_name(f[0].kind) : "");
	detect_free(d);
}

/* ---- one finding per problem ---------------------------------------------------------------------------- */

static struct resource res_stmt = {.service_name = "statement-api"};

/*
 * statement-api GET /statements: one statement listing, then 25-40
 * `SELECT * FROM statement_lines WHERE statement_id = <literal>` in a row,
 * the literals from 41 statements; `loop` 0: one such select a request.
 */
static void feed_statements(struct detector *d, int requests, int loop)
{
	static struct tb t;
	for (int i = 0; i < requests; i++) {
		uint64_t base = T0 + (uint64_t)i * (NS_H / (uint64_t)requests);
		int k = loop ? 25 + (i * 7) % 16 : 1;
		tb_init(&t, 23000 + (uint64_t)i);
		struct span *r =
			tb_span(&t, 1, 0, base, 0, 60000, SPAN_KIND_SERVER, "GET /statements", &res_stmt);
		set_s(r, "http.request.method", "GET");
		set_s(r, "http.route", "/statements");
		for (int j = 0; j < k; j++) {
			uint64_t st = 10 + (uint64_t)j * 1200;
			struct span *s = tb_span(&t, 2 + j, 1, base, st, st + 1000, SPAN_KIND_CLIENT,
						 "SELECT", &res_stmt);
			snprintf(t.text[t.n - 1], sizeof(t.text[0]),
				 "SELECT * FROM statement_lines WHERE statement_id = %d",
				 7000 + (i * 13 + j) % 41);
			set_s(s, "db.system.name", "postgresql");
			set_s(s, "db.query.text", t.text[t.n - 1]);
		}
		detect_trace(d, t.s, t.n);
	}
}

/* Whether two findings share a recommendation title. */
static int titles_unique(const struct finding *f, size_t n, char *dup, size_t cap)
{
	struct arena a;
	const char **title = calloc(n + 1, sizeof(*title));
	int unique = 1;
	arena_init(&a);
	for (size_t i = 0; i < n; i++) {
		struct recommendation r;
		recommend_build(&a, &f[i], &r);
		title[i] = r.title;
		for (size_t j = 0; j < i && unique; j++)
			if (!strcmp(title[i], title[j])) {
				unique = 0;
				snprintf(dup, cap, "%s", title[i]);
			}
	}
	free(title);
	arena_release(&a);
	return unique;
}

static void test_one_per_problem(void)
{
	const struct finding *f, *x;
	size_t n;
	char dup[512] = "";
	struct detector *d = detect_new(NULL);
	feed_statements(d, 300, 1);
	detect_finish(d, &f, &n);
	x = find_kind(f, n, FINDING_N_PLUS_ONE);
	if (ok(x != NULL, "one per problem: the N+1 of 25-40 selects with literals"))
		is_str(x->detail, "postgresql SELECT * FROM statement_lines WHERE statement_id = ?",
		       "one per problem: its statement, literals normalised");
	is_int(count_kind(f, n, FINDING_N_PLUS_ONE), 1, "one per problem: one N+1");
	is_int(count_kind(f, n, FINDING_CACHEABLE), 0,
	       "one per problem: the repeated statements are the N+1's evidence, not 41 cache findings");
	ok(titles_unique(f, n, dup, sizeof(dup)), "one per problem: no two findings share a title (%s)", dup);
	detect_free(d);

	/* the same statements once a request: repeated, not N+1; one finding for the 41 literals */
	d = detect_new(NULL);
	feed_statements(d, 2000, 0);
	detect_finish(d, &f, &n);
	ok(!find_kind(f, n, FINDING_N_PLUS_ONE), "one per problem: one select a request is no N+1");
	is_int(count_kind(f, n, FINDING_CACHEABLE), 1, "one per problem: one cache finding for 41 literals");
	x = find_kind(f, n, FINDING_CACHEABLE);
	if (x) {
		is_str(x->detail, "SELECT * FROM statement_lines WHERE statement_id = ?",
		       "one per problem: the call's shape");
		is_int(x->variants, 41, "one per problem: 41 argument sets");
		is_int(x->occurrences, 2000, "one per problem: every call of the shape");
	}
	ok(titles_unique(f, n, dup, sizeof(dup)), "one per problem: titles unique (%s)", dup);
	detect_free(d);
}

/* ---- ground truth: the demo's planted problems -------------------------------------------------------- */

enum planted { F1, F2, F3, F4, F5, F6, N_PLANTED };
static const unsigned planted_bit[N_PLANTED] = {SCENARIO_N_PLUS_ONE,	  SCENARIO_REPEATED_TOOL,
						SCENARIO_POOL_EXHAUSTION, SCENARIO_SLOW_VERSION,
						SCENARIO_SEQUENTIAL,	  SCENARIO_MEMORY_LEAK};

static int streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* Which planted problem a finding is (docs/DEMO.md "Expected findings"), or -1. */
static int planted_of(const struct finding *f)
{
	switch (f->kind) {
	case FINDING_N_PLUS_ONE:
		return streq(f->service, "order-service") && streq(f->endpoint, "GET /api/orders") &&
				       f->detail && strstr(f->detail, "FROM order_items WHERE order_id = ?")
			       ? F1
			       : -1;
	case FINDING_CACHEABLE:
		return streq(f->service, "support-agent") && streq(f->tool, "database-query") &&
				       streq(f->detail, "b41fd9b207dea436")
			       ? F2
			       : -1;
	case FINDING_POOL_EXHAUSTION:
		return streq(f->service, "inventory-service") && streq(f->detail, "inventory-db") &&
				       streq(f->environment, "production")
			       ? F3
			       : -1;
	case FINDING_VERSION_REGRESSION:
		return streq(f->service, "pricing-service") && streq(f->endpoint, "GET /api/prices/{sku}") &&
				       streq(f->detail, "2.5.0 vs 2.4.0")
			       ? F4
			       : -1;
	case FINDING_SEQUENTIAL:
		return streq(f->service, "checkout-service") && streq(f->endpoint, "POST /api/checkout") &&
				       streq(f->detail,
					     "inventory-service, pricing-service, shipping-service")
			       ? F5
			       : -1;
	case FINDING_MEMORY_GROWTH: return streq(f->service, "code-agent") ? F6 : -1;
	default: return -1;
	}
}

/* The numbers DEMO.md gives for each problem, with room for sampling (2,000 requests an hour). */
static int planted_numbers_ok(int p, const struct finding *f)
{
	switch (p) {
	case F1: /* 20-60 a request, ~2 ms each, ~78 ms saved of order-service's ~100 ms */
		return f->per_request >= 30 && f->per_request <= 50 && f->avg_ns > 1.5e6 && f->avg_ns < 3e6 &&
		       f->saving_ns > 60e6 && f->saving_ns < 95e6 && f->saving_pct > 60 &&
		       f->saving_pct < 90 && f->affected_latency_ns > 80e6 && f->affected_latency_ns < 120e6;
	case F2: /* ~440 ms requests, ~195 identical calls an hour at 2,000 requests an hour (5.4%) */
		return f->affected_latency_ns > 380e6 && f->affected_latency_ns < 520e6 && f->per_hour > 70 &&
		       f->per_hour < 160 && f->saving_pct > 40 && f->priority == PRIORITY_HIGH;
	case F3: /* ~120 ms waits, pool of 10, exhausted 11-19 times an hour */
		return f->avg_ns > 90e6 && f->avg_ns < 150e6 && f->pool_max == 10 &&
		       f->pool_recommended >= 20 && f->episodes_per_hour > 8 && f->episodes_per_hour < 25;
	case F4: /* +31% mean, +32% p50 on the service span */
		return f->ratio > 1.2 && f->ratio < 1.45 && f->rate > 1.2 && f->rate < 1.45;
	case F5: /* ~95 ms saved, ~16% */
		return f->saving_ns > 70e6 && f->saving_ns < 130e6 && f->saving_pct > 10 &&
		       f->saving_pct < 22;
	case F6: /* 48 MiB an hour in production */
		return f->growth_per_hour > 40 * 1048576.0 && f->growth_per_hour < 56 * 1048576.0 &&
		       streq(f->environment, "production");
	}
	return 0;
}

static int cmp_trace(const void *a, const void *b)
{
	return memcmp(((const struct span *)a)->trace_id, ((const struct span *)b)->trace_id, 16);
}

/*
 * Three simulated hours (10:00-13:00 UTC) at 2,000 requests an hour, fed
 * trace by trace to `d`; with `split`, also to split[0] and split[1] in
 * turn (the metric points to split[0]), as two threads would.
 */
static void feed_scenario(unsigned problems, struct detector *d, struct detector *const *split)
{
	struct scenario_config cfg;
	struct scenario sc;
	uint64_t from = 19700ull * 86400 * NS_S + 10 * NS_H;
	unsigned turn = 0;
	scenario_config_init(&cfg);
	cfg.problems = problems;
	cfg.start_ns = from;
	scenario_init(&sc, &cfg);
	for (int k = 0; k < 18; k++) {
		struct batch b;
		uint64_t f = from + (uint64_t)k * 10 * NS_MIN;
		batch_init(&b);
		scenario_generate(&sc, &b, f, f + 10 * NS_MIN, 333);
		scenario_metrics_range(&sc, &b, f, f + 10 * NS_MIN, NS_MIN);
		qsort(b.spans, b.n_spans, sizeof(*b.spans), cmp_trace);
		for (size_t i = 0, j; i < b.n_spans; i = j) {
			for (j = i + 1;
			     j < b.n_spans && !memcmp(b.spans[j].trace_id, b.spans[i].trace_id, 16); j++)
				;
			detect_trace(d, b.spans + i, j - i);
			if (split)
				detect_trace(split[turn++ % 2], b.spans + i, j - i);
		}
		detect_points(d, b.points, b.n_points);
		if (split)
			detect_points(split[0], b.points, b.n_points);
		batch_release(&b);
	}
	scenario_release(&sc);
}

static struct detector *run_scenario(unsigned problems)
{
	struct detector *d = detect_new(NULL);
	feed_scenario(problems, d, NULL);
	return d;
}

static const struct scenario_case {
	const char *name;
	unsigned problems;
} cases[] = {
	{"all problems", SCENARIO_ALL_PROBLEMS},
	{"no problems", 0},
	{"without F1", SCENARIO_ALL_PROBLEMS & ~SCENARIO_N_PLUS_ONE},
	{"without F2", SCENARIO_ALL_PROBLEMS & ~SCENARIO_REPEATED_TOOL},
	{"without F3", SCENARIO_ALL_PROBLEMS & ~SCENARIO_POOL_EXHAUSTION},
	{"without F4", SCENARIO_ALL_PROBLEMS & ~SCENARIO_SLOW_VERSION},
	{"without F5", SCENARIO_ALL_PROBLEMS & ~SCENARIO_SEQUENTIAL},
	{"without F6", SCENARIO_ALL_PROBLEMS & ~SCENARIO_MEMORY_LEAK},
};

static void test_ground_truth(void)
{
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct scenario_case *sc = &cases[c];
		struct detector *d = run_scenario(sc->problems);
		const struct finding *f;
		size_t n, found[N_PLANTED] = {0}, rank[N_PLANTED] = {0}, first_noise = SIZE_MAX,
			  high_noise = 0;
		detect_finish(d, &f, &n);
		for (size_t i = 0; i < n; i++) {
			int p = planted_of(&f[i]);
			if (p < 0) {
				if (first_noise == SIZE_MAX)
					first_noise = i;
				high_noise += f[i].priority == PRIORITY_HIGH;
				continue;
			}
			found[p]++;
			rank[p] = i;
			if (sc->problems & planted_bit[p])
				ok(planted_numbers_ok(p, &f[i]), "%s: F%d numbers as in DEMO.md (%s)",
				   sc->name, p + 1, f[i].detail ? f[i].detail : "");
			if (!planted_numbers_ok(p, &f[i]))
				printf("#   F%d: per_request %g avg %g ms saving %g ms (%g%%) per_hour %g "
				       "lat %g ms "
				       "ratio %g rate %g pool %g/%g episodes %g growth %g MiB/h\n",
				       p + 1, f[i].per_request, f[i].avg_ns / 1e6, f[i].saving_ns / 1e6,
				       f[i].saving_pct, f[i].per_hour, f[i].affected_latency_ns / 1e6,
				       f[i].ratio, f[i].rate, f[i].pool_max, f[i].pool_recommended,
				       f[i].episodes_per_hour, f[i].growth_per_hour / 1048576);
		}
		for (int p = 0; p < N_PLANTED; p++) {
			int on = (sc->problems & planted_bit[p]) != 0;
			is_int(found[p], on, "%s: F%d %s", sc->name, p + 1,
			       on ? "found once" : "not reported");
		}
		is_int(high_noise, 0, "%s: no HIGH finding beyond the planted problems", sc->name);
		is_int(count_kind(f, n, FINDING_OWN_WORK), 0,
		       "%s: the demo's requests spend their time in their calls: no own-work finding",
		       sc->name);
		char dup[512] = "";
		ok(titles_unique(f, n, dup, sizeof(dup)), "%s: no two findings share a title (%s)", sc->name,
		   dup);
		if (sc->problems & SCENARIO_REPEATED_TOOL)
			ok(found[F2] && f[rank[F2]].priority == PRIORITY_HIGH && rank[F2] < first_noise,
			   "%s: F2 HIGH, ranked above every other finding kind", sc->name);
		if (sc->problems & SCENARIO_N_PLUS_ONE)
			ok(found[F1] && f[rank[F1]].priority >= PRIORITY_MEDIUM && rank[F1] < first_noise,
			   "%s: F1 HIGH or MEDIUM, ranked above the noise", sc->name);
		for (int p = 0; p < N_PLANTED; p++)
			if (found[p])
				ok(f[rank[p]].priority >= PRIORITY_MEDIUM &&
					   (f[rank[p]].n_examples > 0 || p == F6),
				   "%s: F%d at least MEDIUM, with examples", sc->name, p + 1);
		detect_free(d);
	}
}

/* Doubles summed in another order may differ in the last bits, no more. */
static int same_double(double a, double b)
{
	return a == b || fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

/* Every field of two findings: the strings by value, the numbers exactly but for rounding. */
static int same_finding(const struct finding *a, const struct finding *b)
{
	const double da[] = {a->window_s,
			     a->per_hour,
			     a->avg_ns,
			     a->p50_ns,
			     a->baseline_ns,
			     a->ratio,
			     a->per_request,
			     a->affected_latency_ns,
			     a->pool_max,
			     a->pool_peak_demand,
			     a->pool_recommended,
			     a->episodes_per_hour,
			     a->growth_per_hour,
			     a->start_value,
			     a->end_value,
			     a->rate,
			     a->bytes,
			     a->saving_ns,
			     a->saving_pct,
			     a->saved_s_per_hour};
	const double db[] = {b->window_s,
			     b->per_hour,
			     b->avg_ns,
			     b->p50_ns,
			     b->baseline_ns,
			     b->ratio,
			     b->per_request,
			     b->affected_latency_ns,
			     b->pool_max,
			     b->pool_peak_demand,
			     b->pool_recommended,
			     b->episodes_per_hour,
			     b->growth_per_hour,
			     b->start_value,
			     b->end_value,
			     b->rate,
			     b->bytes,
			     b->saving_ns,
			     b->saving_pct,
			     b->saved_s_per_hour};
	const char *sa[] = {a->doc, a->service, a->endpoint, a->tool, a->detail, a->environment};
	const char *sb[] = {b->doc, b->service, b->endpoint, b->tool, b->detail, b->environment};
	int same = a->kind == b->kind && a->priority == b->priority && !strcmp(a->id, b->id) &&
		   a->occurrences == b->occurrences && a->affected_requests == b->affected_requests &&
		   a->subject_requests == b->subject_requests && a->total_requests == b->total_requests &&
		   a->n_examples == b->n_examples &&
		   !memcmp(a->examples, b->examples, sizeof(a->examples[0]) * a->n_examples);
	for (size_t i = 0; i < sizeof(da) / sizeof(da[0]); i++)
		if (!same_double(da[i], db[i])) {
			printf("#   %s: number %zu: %.17g vs %.17g\n", a->id, i, da[i], db[i]);
			same = 0;
		}
	for (size_t i = 0; i < sizeof(sa) / sizeof(sa[0]); i++)
		if (!(sa[i] == sb[i] || (sa[i] && sb[i] && !strcmp(sa[i], sb[i])))) {
			printf("#   %s: string %zu: %s vs %s\n", a->id, i, sa[i] ? sa[i] : "(null)",
			       sb[i] ? sb[i] : "(null)");
			same = 0;
		}
	return same;
}

/* ---- strings reused at one address ---------------------------------------------------------------- */

/*
 * 66 requests in three kinds, one after another: api GET /x and worker
 * GET /y each with 6 sequential statements (under db.query.text and
 * db.statement), and api GET /z whose statements carry no text.  With
 * `reuse`, every key, name, route and text of a request is written into the
 * same buffers, so one address holds other strings from one call to the
 * next, as in a reader that decodes each trace into the same memory.
 */
static void feed_reused(struct detector *d, int reuse)
{
	static const char *const keys[3] = {"db.query.text", "db.statement", "db.query.summary"};
	static const char *const svcs[3] = {"api", "worker", "api"};
	static const char *const routes[3] = {"/x", "/y", "/z"};
	static const char *const texts[3] = {"SELECT * FROM t WHERE id = 7",
					     "SELECT name FROM u WHERE id = 7", "SELECT 1"};
	static char key[3][32], svc[3][16], route[3][16], text[3][64];
	struct tb t;
	for (int i = 0; i < 66; i++) {
		int v = i % 3, b = reuse ? 0 : v;
		snprintf(key[b], sizeof(key[b]), "%s", keys[v]);
		snprintf(svc[b], sizeof(svc[b]), "%s", svcs[v]);
		snprintf(route[b], sizeof(route[b]), "%s", routes[v]);
		snprintf(text[b], sizeof(text[b]), "%s", texts[v]);
		struct resource r = {.service_name = svc[b], .service_version = "1.0", .environment = "prod"};
		uint64_t base = T0 + (uint64_t)i * NS_S;
		tb_init(&t, 5000 + (uint64_t)i);
		struct span *s = tb_span(&t, 1, 0, base, 0, 2000, SPAN_KIND_SERVER, "GET", &r);
		set_s(s, "http.request.method", "GET");
		set_s(s, "http.route", route[b]);
		for (int c = 0; c < 6; c++) {
			s = tb_span(&t, 2 + c, 1, base, 10 + (uint64_t)c * 300, 300 + (uint64_t)c * 300,
				    SPAN_KIND_CLIENT, "query", &r);
			set_s(s, "db.system.name", "postgresql");
			set_s(s, key[b], text[b]);
		}
		detect_trace(d, t.s, t.n);
	}
}

static void test_reused_strings(void)
{
	const struct finding *f, *g;
	size_t nf, ng;
	struct detector *a = detect_new(NULL), *b = detect_new(NULL);
	feed_reused(a, 1);
	feed_reused(b, 0);
	detect_finish(a, &f, &nf);
	detect_finish(b, &g, &ng);
	ok(count_kind(f, nf, FINDING_N_PLUS_ONE) == 2,
	   "reused strings: N+1 in GET /x and GET /y, not GET /z");
	int same = nf == ng;
	for (size_t i = 0; same && i < nf; i++)
		same = !strcmp(f[i].id, g[i].id) && f[i].occurrences == g[i].occurrences &&
		       f[i].affected_requests == g[i].affected_requests;
	ok(same, "reused strings: the findings of distinct strings (%zu and %zu)", nf, ng);
	detect_free(a);
	detect_free(b);
}

/* Two detectors fed half the traces each, merged (one of them compacted first),
 * find what one fed everything finds. */
static void test_merge(void)
{
	for (size_t c = 0; c < 2; c++) {
		struct detector *one = detect_new(NULL), *split[2] = {detect_new(NULL), detect_new(NULL)};
		struct detect_stats s1, s2;
		const struct finding *f1, *f2;
		size_t n1, n2, same = 0;
		feed_scenario(cases[c].problems, one, split);
		detect_compact(split[1]); /* as a kept state is */
		detect_merge(split[0], split[1]);
		detect_finish(one, &f1, &n1);
		detect_finish(split[0], &f2, &n2);
		detect_get_stats(one, &s1);
		detect_get_stats(split[0], &s2);
		ok(s1.traces == s2.traces && s1.spans == s2.spans && s1.points == s2.points &&
			   s1.requests == s2.requests && s1.folded == s2.folded,
		   "merge, %s: the same traces, spans, points, requests and keys folded", cases[c].name);
		if (s1.folded != s2.folded)
			printf("#   folded %llu vs %llu\n", (unsigned long long)s1.folded,
			       (unsigned long long)s2.folded);
		is_int(n2, n1, "merge, %s: as many findings", cases[c].name);
		for (size_t i = 0; i < n1 && i < n2; i++)
			same += same_finding(&f1[i], &f2[i]);
		is_int(same, n1, "merge, %s: every finding the same, in the same order", cases[c].name);
		ok(n1 >= (c == 0 ? 6 : 0), "merge, %s: %zu findings compared", cases[c].name, n1);
		detect_free(one);
		detect_free(split[0]);
		detect_free(split[1]);
	}
}

int main(void)
{
	test_normalize();
	test_n_plus_one();
	test_sequential();
	test_cacheable();
	test_pool();
	test_missing_index();
	test_misc();
	test_memory_cpu();
	test_pool_connect_spans();
	test_pool_impossible_metrics();
	test_cpu_single_threaded();
	test_own_work();
	test_own_work_fold();
	test_versions();
	test_ids_parts_text();
	test_clock_resolution();
	test_entry_parts();
	test_telemetry();
	test_one_per_problem();
	test_ground_truth();
	test_reused_strings();
	test_merge();
	return tap_done();
}
