/*
 * test_request_trees.c - the request rows of a selection
 * (src/query/request_rows.c), their span trees (src/query/request_trees.c)
 * and the metric points around them (src/query/request_metrics.c), against
 * a real store.
 *
 * The store holds three traces: ORDERS, whose shop request calls the stock
 * service, with the stock request and its database call written in a
 * second write (a request nested in another); CART, a shop request in
 * error calling a payment provider outside the fleet; USERS, a lone admin
 * request.  The shop service reports CPU, memory and database connections
 * around ORDERS; admin reports nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query/request_metrics.h"
#include "query/request_rows.h"
#include "query/request_trees.h"
#include "store/store.h"
#include "store_fixture.h"
#include "tap.h"

#define CART   1
#define ORDERS 2
#define USERS  3

static char tmpdir[64];

static void set_attrs(struct batch *b, struct span *s, const char *method, const char *key, const char *value)
{
	s->attrs = arena_zalloc(&b->arena, 2 * sizeof(struct attr));
	if (method)
		s->attrs[s->n_attrs++] =
			(struct attr){.key = "http.request.method", .type = ATTR_STRING, .v.s = method};
	if (key)
		s->attrs[s->n_attrs++] = (struct attr){.key = key, .type = ATTR_STRING, .v.s = value};
}

/* A gauge point of `r`; `state` (NULL: none) is its db.client.connection.state. */
static void add_point(struct batch *b, const struct resource *r, const char *name, uint64_t t, double v,
		      const char *state)
{
	struct metric_point *p = batch_add_point(b);
	p->resource = r;
	p->name = name;
	p->type = METRIC_GAUGE;
	p->time_ns = t;
	p->value = v;
	if (!state)
		return;
	p->n_attrs = 1;
	p->attrs = arena_zalloc(&b->arena, sizeof(struct attr));
	p->attrs[0] = (struct attr){.key = "db.client.connection.state", .type = ATTR_STRING, .v.s = state};
}

/* Around ORDERS' start: CPU 10 s before (0.5) and 30 s after (0.9), of a
 * second instance 20 s after (0.7), the memory of two processes 5 s after, connections in use 5 s after (idle
 * ones are not counted), and a CPU sample of another minute, too far. */
static void add_points(struct batch *b, const struct resource *shop)
{
	const struct resource *shop2 = make_resource(b, "shop", "s-2");
	uint64_t t = T0 + MIN;
	add_point(b, shop, "process.cpu.utilization", t - 10000 * MS, 0.5, NULL);
	add_point(b, shop, "process.cpu.utilization", t + 30000 * MS, 0.9, NULL);
	add_point(b, shop2, "process.cpu.utilization", t + 20000 * MS, 0.7, NULL);
	add_point(b, shop, "process.cpu.utilization", t + 5 * MIN, 0.2, NULL);
	add_point(b, shop, "process.memory.usage", t + 5000 * MS, 100e6, NULL);
	add_point(b, shop2, "process.memory.usage", t + 5000 * MS, 300e6, NULL);
	add_point(b, shop, "db.client.connection.count", t + 5000 * MS, 3, "used");
	add_point(b, shop, "db.client.connection.count", t + 1000 * MS, 7, "idle");
}

static struct store *fill_store(void)
{
	struct store *s = temp_store_open(tmpdir);
	struct batch b;
	if (!s)
		return NULL;
	batch_init(&b);
	struct resource *shop = make_resource(&b, "shop", NULL), *admin = make_resource(&b, "admin", NULL);
	uint64_t t = T0 + MIN;
	struct span *sp = add_span(&b, shop, ORDERS, 1, 0, "GET /orders", SPAN_KIND_SERVER, t, 400);
	set_attrs(&b, sp, "GET", "http.route", "/orders");
	sp = add_span(&b, shop, ORDERS, 2, 1, "GET", SPAN_KIND_CLIENT, t + 10 * MS, 300);
	set_attrs(&b, sp, "GET", "server.address", "stock");
	t = T0 + 2 * MIN;
	sp = add_span(&b, shop, CART, 1, 0, "GET /cart", SPAN_KIND_SERVER, t, 200);
	set_attrs(&b, sp, "GET", "http.route", "/cart");
	sp->status = SPAN_STATUS_ERROR;
	sp = add_span(&b, shop, CART, 2, 1, "POST", SPAN_KIND_CLIENT, t + 10 * MS, 150);
	set_attrs(&b, sp, "POST", "server.address", "api.payments.example.com");
	sp = add_span(&b, admin, USERS, 1, 0, "GET /users", SPAN_KIND_SERVER, T0 + 3 * MIN, 5);
	set_attrs(&b, sp, "GET", NULL, NULL);
	add_points(&b, shop);
	ok(store_write_sync(s, &b) == 0, "first write");
	batch_reset(&b);
	struct resource *stock = make_resource(&b, "stock", NULL);
	t = T0 + MIN;
	sp = add_span(&b, stock, ORDERS, 3, 2, "GET /stock", SPAN_KIND_SERVER, t + 20 * MS, 280);
	set_attrs(&b, sp, "GET", NULL, NULL);
	sp = add_span(&b, stock, ORDERS, 4, 3, "SELECT stock", SPAN_KIND_CLIENT, t + 30 * MS, 250);
	set_attrs(&b, sp, NULL, "db.system", "postgresql");
	ok(store_write_sync(s, &b) == 0, "the stock request, written apart");
	batch_release(&b);
	return s;
}

static void query_init(struct store_query *q, const char *service, unsigned limit)
{
	store_query_init(q);
	q->from_ns = T0;
	q->to_ns = T0 + 10 * MIN;
	q->service = service;
	q->limit = limit;
}

/* The traces of rows, one bit per trace number, and how many rows. */
static int traces_of(const struct request_row *rows, size_t n)
{
	int got = 0;
	for (size_t i = 0; i < n; i++)
		got |= 1 << rows[i].trace_id[0];
	return got;
}

#define B(t) (1 << (t))

/* Rows of `service` (NULL: any) and the span query `text` (NULL: none). */
static int select_rows(struct store *st, struct arena *a, const char *service, const char *text,
		       struct request_row **rows, size_t *n)
{
	struct store_query q;
	struct spanql *ql = NULL;
	char err[256];
	int rc;
	if (text && spanql_parse(text, &ql, err, sizeof(err)) < 0) {
		printf("# %s: %s\n", text, err);
		return -100;
	}
	query_init(&q, service, 100);
	rc = request_rows_select(st, &q, ql, a, rows, n, err, sizeof(err));
	if (rc < 0)
		printf("# %s\n", err);
	spanql_free(ql);
	return rc;
}

static void test_select(struct store *st)
{
	static const struct {
		const char *service, *q;
		size_t n;
		int traces;
	} cases[] = {
		{NULL, NULL, 4, B(CART) | B(ORDERS) | B(USERS)},
		{"shop", NULL, 2, B(CART) | B(ORDERS)},
		/* the database call is in the second write: the whole trace is judged */
		{NULL, "span.db.system = *", 2, B(ORDERS)},
		{"shop", "span.db.system = *", 1, B(ORDERS)},
		{NULL, "{ status = error }", 1, B(CART)},
		{"admin", "{ status = error }", 0, 0},
	};
	struct arena a;
	arena_init(&a);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct request_row *rows = NULL;
		size_t n = 0;
		const char *svc = cases[i].service ? cases[i].service : "any",
			   *q = cases[i].q ? cases[i].q : "-";
		is_int(select_rows(st, &a, cases[i].service, cases[i].q, &rows, &n), 0, "select %s, q=%s",
		       svc, q);
		is_int(n, cases[i].n, "rows of %s, q=%s", svc, q);
		is_int(traces_of(rows, n), cases[i].traces, "their traces");
	}
	arena_release(&a);
}

static void test_cover(struct store *st)
{
	static const struct {
		unsigned limit;
		size_t n;
		int sampled;
	} cases[] = {
		{10, 4, 0}, /* all of the range */
		{3, 3, 1},  /* CART, ORDERS' two: whole traces */
		{2, 1, 1},  /* the limit cuts ORDERS: CART alone */
	};
	struct arena a;
	arena_init(&a);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_query q;
		struct request_cover cov;
		struct request_row *rows = NULL;
		size_t n = 0;
		char err[256];
		query_init(&q, NULL, cases[i].limit);
		is_int(request_rows_cover(st, &q, &a, &cov, &rows, &n, err, sizeof(err)), 0,
		       "cover, limit %u", cases[i].limit);
		is_int(cov.in_range, 4, "requests in range");
		is_int(cov.sampled, cases[i].sampled, "sampled");
		is_int(q.order, cases[i].sampled ? STORE_BY_TRACE : STORE_NEWEST, "order");
		is_int(q.limit, cases[i].limit, "limit as it was");
		is_int(n, cases[i].n, "rows covered");
	}
	arena_release(&a);
}

/* What the callbacks saw. */
struct seen {
	size_t requests, entries, with_desc;
	int traces;
	size_t orders_spans, stock_spans;
	int call_type[4];	   /* by trace: the class of span 2 */
	int select_type;	   /* the stock request's database call */
	int shared_service;	   /* its spans of one service share the string */
	int entry_attrs;	   /* the CART entry span came with its attributes */
	const char *first_service; /* ORDERS' root, kept past the load */
};

static void on_request(void *arg, const struct request_row *row, size_t idx, const struct spantree *t,
		       const struct slowops_class *cls, const struct bottleneck_span *desc)
{
	struct seen *s = arg;
	int trace = row->trace_id[0];
	s->requests++;
	s->traces |= B(trace);
	s->with_desc += desc != NULL;
	for (size_t i = 0; i < t->n; i++) {
		if (t->spans[i].span_id[0] == 2)
			s->call_type[trace] = cls[i].type;
		if (!strcmp(t->spans[i].name, "SELECT stock"))
			s->select_type = cls[i].type;
		if (desc && !desc[i].label)
			s->with_desc = 0;
	}
	if (trace != ORDERS)
		return;
	if (!strcmp(t->spans[0].name, "GET /orders")) {
		s->orders_spans = t->n;
		s->shared_service =
			t->n > 1 && t->spans[0].resource->service_name == t->spans[1].resource->service_name;
		s->first_service = t->spans[0].resource->service_name;
	} else if (!strcmp(t->spans[0].name, "GET /stock")) {
		s->stock_spans = t->n;
	}
}

static void on_entry(void *arg, size_t idx, const struct span *sp, const struct slowops_class *cls)
{
	struct seen *s = arg;
	s->entries++;
	if (sp->trace_id[0] == CART)
		s->entry_attrs = attr_str(sp->attrs, sp->n_attrs, "http.route") != NULL;
}

/* Load the trees of all four rows with the given settings. */
static int load(struct store *st, struct arena *a, struct request_trees *rt, struct seen *s, char *err,
		size_t errlen)
{
	struct store_query q;
	struct request_row *rows;
	size_t n;
	query_init(&q, NULL, 100);
	if (request_rows_select(st, &q, NULL, a, &rows, &n, err, errlen) < 0 || n != 4)
		return -100;
	return request_trees_load(rt, &q, rows, n, on_request, s, err, errlen);
}

static void test_trees(struct store *st, int per_trace)
{
	struct slowops_config c;
	struct request_trees rt;
	struct seen s = {0};
	struct arena a;
	char err[256];
	const char *how = per_trace ? "trace by trace" : "one scan";
	slowops_config_init(&c);
	arena_init(&a);
	request_trees_init(&rt, st, &c, &a);
	rt.per_trace = per_trace;
	rt.on_entry = on_entry;
	is_int(load(st, &a, &rt, &s, err, sizeof(err)), 0, "load (%s)", how);
	is_int(rt.requests, 3, "three requests handed on: the stock one is inside the shop one");
	is_int(s.requests, rt.requests, "each once");
	is_int(rt.nested, 1, "one nested");
	is_int(rt.matched, 4, "without q=, every row matches");
	is_int(s.traces, B(CART) | B(ORDERS) | B(USERS), "every trace");
	is_int(s.orders_spans, 4, "the shop request's tree holds both writes' spans");
	is_int(s.stock_spans, 0, "the nested request is not handed on by itself");
	is_int(s.call_type[ORDERS], SLOWOPS_HTTP, "a call answered in the trace: http");
	is_int(s.call_type[CART], SLOWOPS_EXTERNAL, "a call out of the fleet: external");
	is_int(s.select_type, SLOWOPS_DATABASE, "the database call");
	ok(s.shared_service, "one service's spans share its interned name");
	is_int(s.with_desc, 0, "no descriptions unless asked");
	is_int(s.entries, 4, "every row's entry span met while read");
	ok(s.entry_attrs, "the entry span comes with its attributes");
	request_trees_release(&rt);
	is_str(s.first_service, "shop", "interned strings outlive the load, in the arena");
	arena_release(&a);
	slowops_config_release(&c);
}

static void test_all_entries_and_describe(struct store *st)
{
	struct slowops_config c;
	struct request_trees rt;
	struct seen s = {0};
	struct arena a;
	char err[256];
	slowops_config_init(&c);
	arena_init(&a);
	request_trees_init(&rt, st, &c, &a);
	rt.all_entries = 1;
	rt.describe = 1;
	is_int(load(st, &a, &rt, &s, err, sizeof(err)), 0, "load every request, described");
	is_int(rt.requests, 4, "all four handed on");
	is_int(rt.nested, 1, "one of them nested");
	is_int(s.orders_spans, 4, "the shop request: its whole tree");
	is_int(s.stock_spans, 2, "the stock request: its own subtree");
	is_int(s.with_desc, 4, "each with its spans described");
	is_int(s.select_type, SLOWOPS_DATABASE, "the database call, in both");
	request_trees_release(&rt);
	arena_release(&a);
	slowops_config_release(&c);
}

static void test_q(struct store *st)
{
	struct slowops_config c;
	struct request_trees rt;
	struct seen s = {0};
	struct spanql *ql;
	struct arena a;
	char err[256];
	slowops_config_init(&c);
	arena_init(&a);
	ok(spanql_parse("span.db.system = *", &ql, err, sizeof(err)) == 0, "parse");
	request_trees_init(&rt, st, &c, &a);
	rt.ql = ql;
	is_int(load(st, &a, &rt, &s, err, sizeof(err)), 0, "load with q=");
	is_int(s.traces, B(ORDERS), "only the trace q= selects, judged on both writes");
	is_int(rt.requests, 1, "its outer request");
	is_int(rt.matched, 2, "its two rows match");
	request_trees_release(&rt);
	spanql_free(ql);
	arena_release(&a);
	slowops_config_release(&c);
}

static void test_bound(struct store *st)
{
	struct slowops_config c;
	struct request_trees rt;
	struct seen s = {0};
	struct arena a;
	char err[256] = "";
	slowops_config_init(&c);
	arena_init(&a);
	request_trees_init(&rt, st, &c, &a);
	rt.max_spans = 7;
	is_int(load(st, &a, &rt, &s, err, sizeof(err)), 0,
	       "the seven spans of the rows' traces: within the bound");
	request_trees_release(&rt);
	s = (struct seen){0};
	request_trees_init(&rt, st, &c, &a);
	rt.max_spans = 6;
	is_int(load(st, &a, &rt, &s, err, sizeof(err)), ERR_TOO_BIG, "a bound of six: refused");
	is_str(err, "the selected requests hold more than 6 spans", "the message names the bound");
	is_int(s.requests, 0, "nothing handed on");
	is_int(rt.requests, 0, "nothing counted");
	request_trees_release(&rt);
	arena_release(&a);
	slowops_config_release(&c);
}

static void test_empty(struct store *st)
{
	struct slowops_config c;
	struct request_trees rt;
	struct store_query q;
	struct seen s = {0};
	struct arena a;
	char err[256];
	slowops_config_init(&c);
	arena_init(&a);
	request_trees_init(&rt, st, &c, &a);
	query_init(&q, NULL, 100);
	is_int(request_trees_load(&rt, &q, NULL, 0, on_request, &s, err, sizeof(err)), 0, "no rows");
	is_int(s.requests + rt.requests + rt.matched, 0, "nothing read, nothing handed on");
	request_trees_release(&rt);
	arena_release(&a);
	slowops_config_release(&c);
}

static void test_metrics(struct store *st)
{
	struct store_query q;
	struct request_row *rows;
	struct request_metrics_snapshot snap;
	struct request_metrics_cpu cm;
	struct arena a;
	size_t n;
	char err[256];
	arena_init(&a);
	query_init(&q, NULL, 100);
	q.order = STORE_NEWEST;
	ok(request_rows_select(st, &q, NULL, &a, &rows, &n, err, sizeof(err)) == 0 && n == 4,
	   "the four rows");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].service, "shop") || rows[i].trace_id[0] != ORDERS)
			continue;
		is_int(request_metrics_snapshot_read(st, &rows[i], &snap, err, sizeof(err)), 0,
		       "ORDERS' snapshot");
		ok(snap.found, "found");
		is_int(snap.time_ns, T0 + MIN + 5000 * MS, "at the nearest point of any metric");
		ok(fabs(snap.value[REQUEST_METRICS_SNAPSHOT_CPU] - 0.6) < 1e-12,
		   "CPU: each instance's nearest sample, averaged (%g)",
		   snap.value[REQUEST_METRICS_SNAPSHOT_CPU]);
		is_int(snap.instances, 2, "two instances");
		ok(snap.value[REQUEST_METRICS_SNAPSHOT_MEMORY] == 200e6,
		   "memory: the mean at the nearest time (%g)", snap.value[REQUEST_METRICS_SNAPSHOT_MEMORY]);
		ok(snap.value[REQUEST_METRICS_SNAPSHOT_DB_USED] == 3, "connections in use, not idle ones");
		ok(isnan(snap.value[REQUEST_METRICS_SNAPSHOT_DB_MAX]), "no pool size reported");
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].service, "admin")) {
			is_int(request_metrics_snapshot_read(st, &rows[i], &snap, err, sizeof(err)), 0,
			       "admin");
			ok(!snap.found, "admin reports nothing");
		}
	request_metrics_cpu_init(&cm);
	is_int(request_metrics_cpu_read(&cm, st, rows, 0, err, sizeof(err)), 0, "no rows");
	ok(!request_metrics_cpu_any(&cm), "no rows: nothing read");
	is_int(request_metrics_cpu_read(&cm, st, rows, n, err, sizeof(err)), 0, "CPU over the rows");
	ok(request_metrics_cpu_any(&cm), "samples read");
	uint64_t minute = (T0 + MIN - 10000 * MS) / (60000 * MS) * (60000 * MS);
	ok(request_metrics_cpu_at(&cm, "shop", minute) == 0.9, "a minute's largest sample");
	ok(request_metrics_cpu_at(&cm, "shop", minute + MIN) == 0.9, "else the minute before");
	ok(request_metrics_cpu_at(&cm, "shop", minute - MIN) == 0.9, "else the minute after");
	ok(isnan(request_metrics_cpu_at(&cm, "shop", minute + 3 * MIN)), "none further");
	ok(isnan(request_metrics_cpu_at(&cm, "shop", T0 + 6 * MIN)),
	   "samples over 2 minutes past the rows: unread");
	ok(isnan(request_metrics_cpu_at(&cm, "admin", minute)), "admin: none");
	request_metrics_cpu_release(&cm);
	arena_release(&a);
}

/* A point of `r` at `t` with the attribute key = value. */
static void add_point_attr(struct batch *b, const struct resource *r, const char *name, uint64_t t, double v,
			   const char *key, const char *value)
{
	add_point(b, r, name, t, v, NULL);
	struct metric_point *p = &b->points[b->n_points - 1];
	p->n_attrs = 1;
	p->attrs = arena_zalloc(&b->arena, sizeof(struct attr));
	p->attrs[0] = (struct attr){.key = key, .type = ATTR_STRING, .v.s = value};
}

/* One instance's points of one time add up: CPU by state (idle left out),
 * connections over its pools. */
static void test_snapshot_sums(struct store *st)
{
	struct batch b;
	struct request_metrics_snapshot snap;
	char err[256];
	uint64_t t = T0 + 20 * MIN;
	batch_init(&b);
	const struct resource *api = make_resource(&b, "api", "a-1");
	add_point_attr(&b, api, "process.cpu.utilization", t, 0.2, "process.cpu.state", "user");
	add_point_attr(&b, api, "process.cpu.utilization", t, 0.1, "process.cpu.state", "system");
	add_point_attr(&b, api, "process.cpu.utilization", t, 0.7, "process.cpu.state", "idle");
	add_point_attr(&b, api, "db.client.connection.max", t, 10, "db.client.connection.pool.name", "p1");
	add_point_attr(&b, api, "db.client.connection.max", t, 10, "db.client.connection.pool.name", "p2");
	struct metric_point *p;
	for (int k = 0; k < 2; k++) {
		add_point(&b, api, "db.client.connection.count", t, k ? 6 : 4, "used");
		p = &b.points[b.n_points - 1];
		struct attr *a = arena_zalloc(&b.arena, 2 * sizeof(struct attr));
		a[0] = p->attrs[0];
		a[1] = (struct attr){
			.key = "db.client.connection.pool.name", .type = ATTR_STRING, .v.s = k ? "p2" : "p1"};
		p->attrs = a;
		p->n_attrs = 2;
	}
	ok(store_write_sync(st, &b) == 0, "api's points written");
	batch_release(&b);
	is_int(request_metrics_snapshot_at(st, "api", NULL, t + 1000 * MS, &snap, err, sizeof(err)), 0,
	       "api");
	ok(fabs(snap.value[REQUEST_METRICS_SNAPSHOT_CPU] - 0.3) < 1e-12, "CPU: user + system, not idle (%g)",
	   snap.value[REQUEST_METRICS_SNAPSHOT_CPU]);
	ok(snap.value[REQUEST_METRICS_SNAPSHOT_DB_USED] == 10, "in use over both pools (%g)",
	   snap.value[REQUEST_METRICS_SNAPSHOT_DB_USED]);
	ok(snap.value[REQUEST_METRICS_SNAPSHOT_DB_MAX] == 20, "their maximums too (%g)",
	   snap.value[REQUEST_METRICS_SNAPSHOT_DB_MAX]);
	is_int(snap.instances, 1, "one instance");
}

/* The moment of a trace's service, the snapshot at a moment and its JSON:
 * what bottlenecks and recommendations show. */

/* The members a snapshot writes into an object that holds one already,
 * from their comma on. */
static const char *snapshot_at(struct buf *b, struct store *st, const char *service, const char *env,
			       uint64_t at_ns, const char *no_time)
{
	static const char head[] = "{\"x\":0";
	struct json_w w;
	buf_reset(b);
	buf_puts(b, head);
	jw_init_inside(&w, b, false, true);
	request_metrics_snapshot_put_at(&w, st, service, env, at_ns, no_time);
	jw_obj_end(&w);
	if (jw_finish(&w) < 0 || b->data[b->len - 1] != '}')
		return "(not well-formed)";
	b->data[--b->len] = 0; /* compared without the closing brace */
	return b->data + sizeof(head) - 1;
}

static void test_snapshot_at(struct store *st)
{
	uint8_t id[16];
	uint64_t t = 0;
	char err[256], env[64];
	struct buf b;
	trace_id(id, ORDERS);
	is_int(request_metrics_trace_time(st, id, "stock", &t, env, sizeof(env), err, sizeof(err)), 0,
	       "ORDERS read");
	is_int(t, T0 + MIN + 20 * MS, "stock's first span, written apart");
	request_metrics_trace_time(st, id, "shop", &t, env, sizeof(env), err, sizeof(err));
	is_int(t, T0 + MIN, "shop's");
	request_metrics_trace_time(st, id, "nobody", &t, env, sizeof(env), err, sizeof(err));
	is_int(t, T0 + MIN, "a service not in the trace: the trace's start");
	trace_id(id, 9);
	is_int(request_metrics_trace_time(st, id, "shop", &t, env, sizeof(env), err, sizeof(err)),
	       ERR_NOT_FOUND, "an unknown trace");

	buf_init(&b, BUF_NO_LIMIT);
	is_str(snapshot_at(&b, st, "shop", NULL, T0 + MIN, NULL),
	       ",\"resources\":{\"at_ms\":1700000060000,\"time_ms\":1700000065000,\"instances\":2,"
	       "\"cpu_utilization\":0.6,\"memory_bytes\":200000000,\"db_connections_used\":3,"
	       "\"db_connections_max\":null}",
	       "shop at ORDERS' start: the nearest points, per instance");
	is_str(snapshot_at(&b, st, "shop", "production", T0 + MIN, NULL),
	       ",\"resources\":null,\"resources_reason\":\"no CPU, memory or connection pool metrics of "
	       "service shop (environment production) within 120 s of that time\"",
	       "another environment's points are not its");
	is_str(snapshot_at(&b, st, "shop", NULL, T0 + 9 * MIN, NULL),
	       ",\"resources\":null,\"resources_reason\":\"no CPU, memory or connection pool metrics of "
	       "service shop within 120 s of that time\"",
	       "nothing within 2 minutes: null, and why");
	ok(strstr(snapshot_at(&b, st, "admin", NULL, T0 + MIN, NULL),
		  "null,\"resources_reason\":\"no CPU, memory or connection pool metrics of service admin") !=
		   NULL,
	   "a service that reports nothing: %s", b.data);
	is_str(snapshot_at(&b, st, "shop", NULL, 0, "no example"),
	       ",\"resources\":null,\"resources_reason\":\"no example\"", "no moment: the caller's reason");
	buf_release(&b);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-reqtrees-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	struct store *st = fill_store();
	if (st) {
		test_select(st);
		test_cover(st);
		test_trees(st, 0);
		test_trees(st, 1);
		test_all_entries_and_describe(st);
		test_q(st);
		test_bound(st);
		test_empty(st);
		test_metrics(st);
		test_snapshot_at(st);
		test_snapshot_sums(st);
		store_close(st);
	}
	temp_dir_remove(tmpdir);
	return tap_done();
}
