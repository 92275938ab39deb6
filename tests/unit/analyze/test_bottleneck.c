/*
 * test_bottleneck.c - ranking components of constructed requests by their
 * impact on the critical path: what each moment is charged to (a call's
 * answer to the call, framework wrappers and connection set-up to their
 * parent), what tells components apart (kind, statement, target), and the
 * kind of each bottleneck.  The spans follow what real SDKs send (express,
 * @fastify/otel, pg, undici/http, dns and net instrumentations).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/bottleneck.h"
#include "analyze/slowops.h"
#include "analyze/spantree.h"
#include "core/buf.h"
#include "tap.h"

#define MS	  1000000ull
#define MAX_SPANS 24
#define MAX_ATTRS 96

struct trace {
	struct span spans[MAX_SPANS];
	struct attr attrs[MAX_ATTRS];
	struct resource res[MAX_SPANS];
	size_t n, n_attrs;
};

/* Span `id` under parent id (0: root), times in ms. */
static void add(struct trace *t, int id, int parent, const char *service, const char *name, int kind,
		double start_ms, double end_ms)
{
	size_t i = t->n++;
	struct span *s = &t->spans[i];
	memset(s, 0, sizeof(*s));
	s->span_id[7] = (uint8_t)id;
	s->parent_span_id[7] = (uint8_t)parent;
	s->start_ns = (uint64_t)llround(start_ms * MS);
	s->end_ns = (uint64_t)llround(end_ms * MS);
	s->kind = (uint8_t)kind;
	s->name = name;
	t->res[i] = (struct resource){.service_name = service};
	s->resource = &t->res[i];
	s->attrs = &t->attrs[t->n_attrs];
}

/* An attribute of the last span added. */
static void attr(struct trace *t, const char *key, const char *value)
{
	t->attrs[t->n_attrs++] = (struct attr){.key = key, .type = ATTR_STRING, .v.s = value};
	t->spans[t->n - 1].n_attrs++;
}

static void attr_i(struct trace *t, const char *key, int64_t value)
{
	t->attrs[t->n_attrs++] = (struct attr){.key = key, .type = ATTR_INT, .v.i = value};
	t->spans[t->n - 1].n_attrs++;
}

static void add_request(struct bottleneck *b, struct trace *t, int no)
{
	struct slowops_config c;
	struct slowops_class cls[MAX_SPANS];
	struct spantree tree;
	uint8_t trace_id[16] = {0};
	trace_id[15] = (uint8_t)no;
	slowops_config_init(&c);
	for (size_t i = 0; i < t->n; i++)
		slowops_classify(&c, &t->spans[i], NULL, &cls[i]);
	spantree_build(&tree, t->spans, t->n);
	slowops_resolve(&tree, cls);
	bottleneck_add(b, &tree, cls, NULL, t->spans[0].resource->service_name, trace_id);
	spantree_release(&tree);
	slowops_config_release(&c);
}

static const struct bottleneck_entry *find_kind(const struct bottleneck *b, const char *service,
						const char *name, int span_kind, size_t *rank)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->e[i].service, service) && !strcmp(b->e[i].name, name) &&
		    (span_kind < 0 || b->e[i].span_kind == span_kind)) {
			if (rank)
				*rank = i;
			return &b->e[i];
		}
	if (rank)
		*rank = SIZE_MAX;
	return NULL;
}

static const struct bottleneck_entry *find(const struct bottleneck *b, const char *service, const char *name,
					   size_t *rank)
{
	return find_kind(b, service, name, -1, rank);
}

/* No entry of any service by this span name (wrappers, set-up). */
static int listed_span_name(const struct bottleneck *b, const char *span_name)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->e[i].span_name, span_name))
			return 1;
	return 0;
}

static uint64_t shares_sum(const struct bottleneck *b)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < b->n; i++)
		sum += b->e[i].critical_ns;
	return sum;
}

static double busy_cpu(void *arg, const char *service, uint64_t t_ns)
{
	return !strcmp(service, "front") ? 0.95 : 0.2;
}

/*
 * 20 requests of 100 ms:
 *   front: GET /x [0,100]
 *     front: load           [0,100] CLIENT to db  (on the path, every request)
 *       db: SELECT items    [10,40] the answer: charged to the call
 *     front: side_task      [5,95]   parallel, in load's shadow: never on the path
 *   and in request 0 only, a rare 300 ms step after it: the root is then 400 ms.
 */
static void test_ranking(void)
{
	struct bottleneck b;
	bottleneck_init(&b);
	for (int r = 0; r < 20; r++) {
		struct trace t = {0};
		add(&t, 1, 0, "front", "GET /x", SPAN_KIND_SERVER, 0, r ? 100 : 400);
		attr(&t, "http.request.method", "GET");
		add(&t, 2, 1, "front", "load", SPAN_KIND_CLIENT, 0, 100);
		attr(&t, "db.system.name", "postgresql");
		add(&t, 3, 2, "db", "SELECT items", SPAN_KIND_SERVER, 10, 40);
		add(&t, 4, 1, "front", "side_task", SPAN_KIND_INTERNAL, 5, 95);
		if (!r)
			add(&t, 5, 1, "front", "rare_step", SPAN_KIND_INTERNAL, 100, 400);
		add_request(&b, &t, r);
	}
	bottleneck_finish(&b);
	size_t r_load, r_rare, r_side, r_root;
	const struct bottleneck_entry *load = find(&b, "front", "load", &r_load);
	const struct bottleneck_entry *rare = find(&b, "front", "rare_step", &r_rare);
	const struct bottleneck_entry *side = find(&b, "front", "side_task", &r_side);
	const struct bottleneck_entry *root = find(&b, "front", "GET /x", &r_root);
	ok(load && rare && side && root, "every component is listed");
	if (!(load && rare && side && root))
		return;
	ok(!find(&b, "db", "SELECT items", NULL), "the answer to a call is not listed apart from the call");
	is_int(b.requests, 20, "20 requests");
	is_int(b.critical_ns, (19 * 100 + 400) * MS, "critical time = the requests' durations");
	is_int(shares_sum(&b), b.critical_ns, "every moment is charged once: the shares add up");
	is_int(load->critical_ns, 2000 * MS, "the call carries its answer: 100 ms x 20");
	is_str(load->target, "db", "the call names the service that answered");
	is_int(load->requests, 20, "on the path of every request");
	is_int(rare->critical_ns, 300 * MS, "the rare step: 300 ms once");
	is_int(rare->requests, 1, "in one request");
	ok(fabs(load->impact_ns - 100.0 * MS) < 1, "impact of load: 2000 ms over 20 requests");
	ok(fabs(rare->impact_ns - 15.0 * MS) < 1, "impact of the rare step: 300 ms over 20 requests");
	ok(r_load < r_rare, "frequent on the path outranks rare but slow (%zu < %zu)", r_load, r_rare);
	is_int(side->critical_ns, 0, "a parallel task in the shadow has no critical time");
	ok(r_load < r_side, "so the call outranks it");
	is_int(root->critical_ns, 0, "the root's own time: none (load covers it)");
	is_int(load->kind, BOTTLENECK_DEPENDENCY, "a call out is a dependency");
	is_int(side->kind, BOTTLENECK_SLOWEST, "own code is a slowest component");
	is_int(load->n_examples, BOTTLENECK_EXAMPLES, "five examples kept");
	is_int(rare->n_examples, 1, "one example for the rare step");
	is_int(rare->examples[0].trace_id[15], 0, "its trace");
	ok(fabs(load->self_avg_ns - 100.0 * MS) < 1,
	   "the call's self time counts its answer's: 70 + 30 ms (%.0f)", load->self_avg_ns / MS);
	bottleneck_release(&b);
}

/*
 * The demo's agent run (fact: the gateway's SERVER span and its CLIENT
 * call of the same name were one component, 85% "own time"):
 *   gateway  POST /run          SERVER   [0,1000]
 *     gateway agent_execution   INTERNAL [1,999]   a wrapper
 *       gateway POST /run       CLIENT   [2,998]   to agent
 *         agent POST /run       SERVER   [5,995]
 *           agent chat gpt      CLIENT   [10,990]  the LLM
 *             agent POST        CLIENT   [11,989]  its HTTP transport
 */
static void test_server_and_call_apart(void)
{
	struct bottleneck b;
	bottleneck_init(&b);
	for (int r = 0; r < 4; r++) {
		struct trace t = {0};
		add(&t, 1, 0, "gateway", "POST /run", SPAN_KIND_SERVER, 0, 1000);
		attr(&t, "http.request.method", "POST");
		attr(&t, "http.route", "/run");
		add(&t, 2, 1, "gateway", "agent_execution", SPAN_KIND_INTERNAL, 1, 999);
		add(&t, 3, 2, "gateway", "POST /run", SPAN_KIND_CLIENT, 2, 998);
		attr(&t, "http.request.method", "POST");
		attr(&t, "server.address", "agent");
		attr_i(&t, "server.port", 8080);
		add(&t, 4, 3, "agent", "POST /run", SPAN_KIND_SERVER, 5, 995);
		attr(&t, "http.request.method", "POST");
		attr(&t, "http.route", "/run");
		add(&t, 5, 4, "agent", "chat gpt", SPAN_KIND_CLIENT, 10, 990);
		attr(&t, "gen_ai.operation.name", "chat");
		attr(&t, "server.address", "api.openai.com");
		attr_i(&t, "server.port", 443);
		add(&t, 6, 5, "agent", "POST", SPAN_KIND_CLIENT, 11, 989); /* its transport */
		attr(&t, "http.request.method", "POST");
		attr(&t, "server.address", "api.openai.com");
		add_request(&b, &t, r);
	}
	bottleneck_finish(&b);
	const struct bottleneck_entry *own = find_kind(&b, "gateway", "POST /run", SPAN_KIND_SERVER, NULL);
	const struct bottleneck_entry *call = find_kind(&b, "gateway", "POST /run", SPAN_KIND_CLIENT, NULL);
	ok(own && call && own != call, "the SERVER span and the CLIENT call of one name are two components");
	if (!own || !call)
		return;
	is_str(b.e[0].name, "chat gpt", "#1 is the wait on the LLM");
	is_int(b.e[0].kind, BOTTLENECK_DEPENDENCY, "a dependency");
	is_str(b.e[0].target, "api.openai.com:443", "named by address and port");
	is_int(own->critical_ns, 4 * 4 * MS, "the gateway's own time: 2 ms + 2 ms of its wrapper, x4");
	is_int(own->kind, BOTTLENECK_SLOWEST, "own code");
	is_int(call->critical_ns, 4 * 16 * MS, "the call: 6 ms of network and 10 ms of the agent's own, x4");
	is_str(call->target, "agent", "named by the service that answered");
	ok(!find_kind(&b, "agent", "POST /run", SPAN_KIND_SERVER, NULL), "the answer is not a second row");
	ok(!listed_span_name(&b, "agent_execution"), "a wrapper covered by its child is not listed");
	ok(!listed_span_name(&b, "POST"), "the LLM call's HTTP transport is the call's, not a second row");
	is_int(b.e[0].critical_ns, 4 * 980 * MS, "the LLM call: all of its 980 ms, x4");
	is_int(shares_sum(&b), b.critical_ns, "the shares add up");
	ok(fabs(own->self_avg_ns - 4.0 * MS) < 1, "self time where the work is: %.1f ms",
	   own->self_avg_ns / MS);
	bottleneck_release(&b);
}

/*
 * express 5 with pg, as the SDK sends it:
 *   shop GET /orders/:id            SERVER   [0,100]  http.route
 *     middleware - query            INTERNAL [0,1]    express.type=middleware
 *     middleware - expressInit      INTERNAL [1,2]
 *     request handler - /orders/:id INTERNAL [2,100]  express.type=request_handler
 *       pg.query:SELECT shop        CLIENT   [10,30]  id = 42
 *       pg.query:SELECT shop        CLIENT   [30,50]  id = 7 (same statement)
 *       (its own work: 8 + 50 ms)
 * and @fastify/otel:
 *   api GET /items                  SERVER   [0,60]
 *     request                       INTERNAL [0,60]  scope @fastify/otel
 *       handler - fastify -> @fastify/otel INTERNAL [1,60] fastify.type=request-handler
 *         GET                       CLIENT   [5,25]  127.0.0.1:3001
 */
static void test_framework_wrappers(void)
{
	struct bottleneck b;
	bottleneck_init(&b);
	for (int r = 0; r < 3; r++) {
		struct trace t = {0};
		add(&t, 1, 0, "shop", "GET /orders/:id", SPAN_KIND_SERVER, 0, 100);
		attr(&t, "http.request.method", "GET");
		attr(&t, "http.route", "/orders/:id");
		add(&t, 2, 1, "shop", "middleware - query", SPAN_KIND_INTERNAL, 0, 1);
		attr(&t, "express.name", "query");
		attr(&t, "express.type", "middleware");
		add(&t, 3, 1, "shop", "middleware - expressInit", SPAN_KIND_INTERNAL, 1, 2);
		attr(&t, "express.type", "middleware");
		add(&t, 4, 1, "shop", "request handler - /orders/:id", SPAN_KIND_INTERNAL, 2, 100);
		attr(&t, "express.type", "request_handler");
		attr(&t, "http.route", "/orders/:id");
		for (int q = 0; q < 2; q++) {
			add(&t, 5 + q, 4, "shop", "pg.query:SELECT shop", SPAN_KIND_CLIENT, 10 + 20 * q,
			    30 + 20 * q);
			attr(&t, "db.system", "postgresql");
			attr(&t, "db.statement",
			     q ? "SELECT * FROM orders WHERE id = 7" : "SELECT * FROM orders WHERE id = 42");
			attr(&t, "db.name", "shop");
			attr(&t, "net.peer.name", "127.0.0.1");
			attr_i(&t, "net.peer.port", 5432);
		}
		add_request(&b, &t, r);

		struct trace f = {0};
		add(&f, 1, 0, "api", "GET /items", SPAN_KIND_SERVER, 0, 60);
		attr(&f, "http.request.method", "GET");
		attr(&f, "http.route", "/items");
		add(&f, 2, 1, "api", "request", SPAN_KIND_INTERNAL, 0, 60);
		f.spans[1].scope_name = "@fastify/otel";
		add(&f, 3, 2, "api", "handler - fastify -> @fastify/otel", SPAN_KIND_INTERNAL, 1, 60);
		attr(&f, "fastify.type", "request-handler");
		f.spans[2].scope_name = "@fastify/otel";
		add(&f, 4, 3, "api", "GET", SPAN_KIND_CLIENT, 5, 25);
		attr(&f, "http.request.method", "GET");
		attr(&f, "server.address", "127.0.0.1");
		attr_i(&f, "server.port", 3001);
		attr(&f, "url.full", "http://127.0.0.1:3001/stock");
		add_request(&b, &f, 10 + r);
	}
	bottleneck_finish(&b);
	ok(!listed_span_name(&b, "request handler - /orders/:id") &&
		   !listed_span_name(&b, "middleware - query") &&
		   !listed_span_name(&b, "middleware - expressInit"),
	   "express's wrappers are never listed");
	ok(!listed_span_name(&b, "request") && !listed_span_name(&b, "handler - fastify -> @fastify/otel"),
	   "@fastify/otel's wrappers are never listed");
	const struct bottleneck_entry *route = find(&b, "shop", "GET /orders/:id", NULL);
	const struct bottleneck_entry *sel = find(&b, "shop", "SELECT * FROM orders WHERE id = ?", NULL);
	ok(route && sel, "the route and its statement are listed");
	if (!route || !sel)
		return;
	is_int(route->critical_ns, 3 * 60 * MS, "the handler's own work is the route's own time: 60 ms x3");
	is_int(sel->critical_ns, 3 * 40 * MS, "one statement, two literals: one row, 40 ms x3");
	is_int(sel->spans, 6, "of six spans");
	is_str(sel->target, "127.0.0.1:5432/shop", "its target: address, port, database");
	is_str(sel->span_name, "pg.query:SELECT shop", "its span name kept beside it");
	const struct bottleneck_entry *api = find(&b, "api", "GET /items", NULL);
	const struct bottleneck_entry *stock = find(&b, "api", "GET 127.0.0.1:3001", NULL);
	ok(api && stock, "the fastify route and its call are listed");
	if (api && stock) {
		is_int(api->critical_ns, 3 * 40 * MS, "the route: 60 - 20 ms of call, x3");
		is_int(stock->critical_ns, 3 * 20 * MS, "the call");
	}
	is_int(shares_sum(&b), b.critical_ns, "the shares add up");
	bottleneck_release(&b);
}

/* Two statements named SELECT are two rows; one statement on two databases too; Redis commands by key shape. */
static void test_statements_and_targets(void)
{
	static const char *const text[] = {"SELECT * FROM a WHERE id = $1", "SELECT * FROM b WHERE id = 5",
					   "SELECT * FROM b WHERE id = 6", "SELECT * FROM a WHERE id = $1"};
	static const int port[] = {5432, 5432, 5432, 5433};
	struct bottleneck b;
	bottleneck_init(&b);
	struct trace t = {0};
	add(&t, 1, 0, "svc", "GET /r", SPAN_KIND_SERVER, 0, 200);
	for (int q = 0; q < 4; q++) {
		add(&t, 2 + q, 1, "svc", "SELECT", SPAN_KIND_CLIENT, 10 * q, 10 * q + 10);
		attr(&t, "db.system.name", "postgresql");
		attr(&t, "db.query.text", text[q]);
		attr(&t, "server.address", "db.internal");
		attr_i(&t, "server.port", port[q]);
	}
	for (int q = 0; q < 3; q++) {
		add(&t, 6 + q, 1, "svc", q < 2 ? "get" : "set", SPAN_KIND_CLIENT, 50 + 10 * q, 60 + 10 * q);
		attr(&t, "db.system", "redis");
		attr(&t, "db.statement", q == 0 ? "get user:1" : q == 1 ? "get user:2" : "set user:2 ?");
	}
	add(&t, 9, 1, "svc", "find", SPAN_KIND_CLIENT, 80, 90);
	attr(&t, "db.system", "mongodb");
	attr(&t, "db.operation", "find");
	attr(&t, "db.mongodb.collection", "users");
	add_request(&b, &t, 1);
	bottleneck_finish(&b);
	const struct bottleneck_entry *a = find(&b, "svc", "SELECT * FROM a WHERE id = ?", NULL);
	const struct bottleneck_entry *bb = find(&b, "svc", "SELECT * FROM b WHERE id = ?", NULL);
	ok(a && bb && a != bb, "two statements named SELECT: two rows");
	if (bb)
		is_int(bb->spans, 2, "literals replaced: one row for b");
	size_t n_a = 0;
	for (size_t i = 0; i < b.n; i++)
		n_a += !strcmp(b.e[i].name, "SELECT * FROM a WHERE id = ?");
	is_int(n_a, 2, "the same statement on two ports: two rows");
	ok(a && a->target && strstr(a->target, "db.internal:543"), "target %s", a ? a->target : "-");
	size_t n_get = 0, n_set = 0;
	for (size_t i = 0; i < b.n; i++) {
		n_get += !strcmp(b.e[i].span_name, "get");
		n_set += !strcmp(b.e[i].span_name, "set");
	}
	is_int(n_get, 1, "Redis gets of one key shape: one row");
	is_int(n_set, 1, "a set apart");
	ok(find(&b, "svc", "find users", NULL) != NULL, "without a statement: operation and collection");
	bottleneck_release(&b);
}

/*
 * Connection set-up and pools:
 *   svc GET /p                 SERVER [0,100]
 *     tcp.connect              INTERNAL [0,5]   (net instrumentation, at the top)
 *     GET                      CLIENT [5,35]    127.0.0.1:3002
 *       dns.lookup             CLIENT [5,8]
 *       tls.connect            INTERNAL [8,12]
 *     GET                      CLIENT [35,45]   127.0.0.1:3003 (another service on the host)
 *     pg-pool.connect          INTERNAL [45,80] waits for a connection
 *       pg.connect             INTERNAL [70,80] a new one
 *     real_work                INTERNAL [80,100] with a 1 ms child: slow own work stays
 *       log                    INTERNAL [80,81]
 * and a request that is a lone dns.lookup (not a request of the service).
 */
static void test_setup_pools_and_real_work(void)
{
	struct bottleneck b;
	bottleneck_init(&b);
	struct trace t = {0};
	add(&t, 1, 0, "svc", "GET /p", SPAN_KIND_SERVER, 0, 100);
	add(&t, 2, 1, "svc", "tcp.connect", SPAN_KIND_INTERNAL, 0, 5);
	t.spans[1].scope_name = "@opentelemetry/instrumentation-net";
	add(&t, 3, 1, "svc", "GET", SPAN_KIND_CLIENT, 5, 35);
	attr(&t, "http.request.method", "GET");
	attr(&t, "url.full", "http://127.0.0.1:3002/a");
	add(&t, 4, 3, "svc", "dns.lookup", SPAN_KIND_CLIENT, 5, 8);
	add(&t, 5, 3, "svc", "tls.connect", SPAN_KIND_INTERNAL, 8, 12);
	add(&t, 6, 1, "svc", "GET", SPAN_KIND_CLIENT, 35, 45);
	attr(&t, "http.request.method", "GET");
	attr(&t, "server.address", "127.0.0.1");
	attr_i(&t, "server.port", 3003);
	add(&t, 7, 1, "svc", "pg-pool.connect", SPAN_KIND_INTERNAL, 45, 80);
	add(&t, 8, 7, "svc", "pg.connect", SPAN_KIND_INTERNAL, 70, 80);
	add(&t, 9, 1, "svc", "real_work", SPAN_KIND_INTERNAL, 80, 100);
	add(&t, 10, 9, "svc", "log", SPAN_KIND_INTERNAL, 80, 81);
	add_request(&b, &t, 1);
	struct trace lone = {0};
	add(&lone, 1, 0, "svc", "dns.lookup", SPAN_KIND_CLIENT, 0, 3);
	add_request(&b, &lone, 2);
	bottleneck_finish(&b);
	is_int(b.requests, 1, "a lone dns.lookup is no request");
	is_int(b.skipped, 1, "it is counted as skipped");
	ok(!listed_span_name(&b, "tcp.connect") && !listed_span_name(&b, "dns.lookup") &&
		   !listed_span_name(&b, "tls.connect") && !listed_span_name(&b, "pg.connect"),
	   "connection set-up is never a row of its own");
	const struct bottleneck_entry *root = find(&b, "svc", "GET /p", NULL);
	const struct bottleneck_entry *c2 = find(&b, "svc", "GET 127.0.0.1:3002", NULL);
	const struct bottleneck_entry *c3 = find(&b, "svc", "GET 127.0.0.1:3003", NULL);
	const struct bottleneck_entry *pool = find(&b, "svc", "pg-pool.connect", NULL);
	const struct bottleneck_entry *work = find(&b, "svc", "real_work", NULL);
	ok(root && c2 && c3 && pool && work, "route, two targets on one host, pool wait, real work");
	if (!(root && c2 && c3 && pool && work))
		return;
	is_int(root->critical_ns, 5 * MS, "set-up at the top is the route's own time");
	is_int(c2->critical_ns, 30 * MS, "set-up under a call is the call's");
	is_str(c2->target, "127.0.0.1:3002", "the port from url.full");
	is_int(pool->critical_ns, 35 * MS, "the pool wait, its new connection included");
	is_int(pool->kind, BOTTLENECK_CONTENTION, "a pool checkout is resource contention");
	ok(pool->wait, "and a wait");
	is_int(work->critical_ns, 19 * MS, "a slow INTERNAL span with its own work stays rankable");
	is_int(work->kind, BOTTLENECK_SLOWEST, "as own code");
	const struct bottleneck_entry *log = find(&b, "svc", "log", NULL);
	ok(log && log->critical_ns == 1 * MS, "its child has its own 1 ms");
	is_int(shares_sum(&b), b.critical_ns, "the shares add up");
	bottleneck_release(&b);
}

/*
 * 100 requests with 14 ms of a plugin's own work each; 3 of them also wait
 * 4.5 s on an LLM.  The LLM adds 135 ms to the average request, the plugin
 * 14 ms: the LLM ranks first (weighing frequency twice, critical time x
 * frequency, put the plugin first: 1400 ms against 405).
 */
static void test_rank_by_time_added(void)
{
	struct bottleneck b;
	bottleneck_init(&b);
	for (int r = 0; r < 100; r++) {
		struct trace t = {0};
		int llm = r % 33 == 0 && r < 99;
		add(&t, 1, 0, "gw", "POST /run", SPAN_KIND_SERVER, 0, llm ? 4514 : 14);
		add(&t, 2, 1, "gw", "plugin", SPAN_KIND_INTERNAL, 0, 14);
		if (llm) {
			add(&t, 3, 1, "gw", "chat", SPAN_KIND_CLIENT, 14, 4514);
			attr(&t, "server.address", "llm.example");
		}
		add_request(&b, &t, r);
	}
	bottleneck_finish(&b);
	size_t r_llm, r_plugin;
	const struct bottleneck_entry *llm = find(&b, "gw", "chat", &r_llm);
	const struct bottleneck_entry *plugin = find(&b, "gw", "plugin", &r_plugin);
	ok(llm && plugin && r_llm < r_plugin,
	   "the rare long wait outranks the frequent short step (%zu < %zu)", r_llm, r_plugin);
	ok(llm && fabs(llm->impact_ns - 135.0 * MS) < 1, "impact: 135 ms added to the average request");
	ok(plugin && fabs(plugin->impact_ns - 14.0 * MS) < 1, "impact: 14 ms");
	bottleneck_release(&b);
}

/* Whole-millisecond starts leave sub-millisecond gaps in a wrapper: still a wrapper. */
static void test_wrapper_slack(void)
{
	struct bottleneck b;
	bottleneck_init(&b);
	struct trace t = {0};
	add(&t, 1, 0, "svc", "GET /w", SPAN_KIND_SERVER, 0, 12);
	add(&t, 2, 1, "svc", "wrap", SPAN_KIND_INTERNAL, 0, 6.9);
	add(&t, 3, 2, "svc", "step_a", SPAN_KIND_INTERNAL, 0, 2.6);
	add(&t, 4, 2, "svc", "step_b", SPAN_KIND_INTERNAL, 3, 6.5);
	add(&t, 5, 1, "svc", "busy", SPAN_KIND_INTERNAL, 7, 12);
	add(&t, 6, 5, "svc", "tiny", SPAN_KIND_INTERNAL, 7, 7.2);
	add_request(&b, &t, 1);
	bottleneck_finish(&b);
	ok(!find(&b, "svc", "wrap", NULL), "0.8 ms of gaps in 6.9 ms: a wrapper");
	const struct bottleneck_entry *busy = find(&b, "svc", "busy", NULL);
	ok(busy && busy->critical_ns == 4800000, "4.8 ms of own work in 5 ms: not a wrapper");
	bottleneck_release(&b);
}

/* Contention: a pool wait, and own code while the CPU is saturated. */
static void test_kinds(void)
{
	struct bottleneck b;
	bottleneck_init(&b);
	b.cpu = busy_cpu;
	for (int r = 0; r < 3; r++) {
		struct trace t = {0};
		add(&t, 1, 0, "front", "POST /reserve", SPAN_KIND_SERVER, 0, 100);
		attr(&t, "http.request.method", "POST");
		add(&t, 2, 1, "front", "pool.acquire", SPAN_KIND_INTERNAL, 0, 50);
		attr(&t, "db.client.connection.wait_time_ms", "50");
		add(&t, 3, 1, "front", "compute", SPAN_KIND_INTERNAL, 50, 90);
		add_request(&b, &t, r);
	}
	bottleneck_finish(&b);
	size_t rank;
	const struct bottleneck_entry *pool = find(&b, "front", "pool.acquire", &rank);
	const struct bottleneck_entry *comp = find(&b, "front", "compute", &rank);
	ok(pool && pool->kind == BOTTLENECK_CONTENTION, "a pool wait is resource contention");
	ok(comp && comp->kind == BOTTLENECK_CONTENTION,
	   "own code on the path while CPU is saturated: contention");
	ok(comp && comp->saturated_ns == 120 * MS, "its saturated time is counted");
	is_str(bottleneck_kind_name(BOTTLENECK_CONTENTION), "resource_contention", "kind name");
	is_str(bottleneck_span_kind_name(SPAN_KIND_CLIENT), "client", "span kind name");
	bottleneck_release(&b);
}

static void test_describe(void)
{
	struct trace t = {0};
	struct arena a;
	struct bottleneck_span d;
	arena_init(&a);
	add(&t, 1, 0, "svc", "GET", SPAN_KIND_CLIENT, 0, 1);
	attr(&t, "http.request.method", "GET");
	attr(&t, "server.address", "10.0.0.7");
	attr_i(&t, "server.port", 8443);
	bottleneck_describe(&t.spans[0], &a, &d);
	is_str(d.label, "GET 10.0.0.7:8443", "an address is not normalised into {n}");
	is_int(d.role, BOTTLENECK_ROLE_WORK, "a call is work");
	add(&t, 2, 0, "svc", "GET /users/:id", SPAN_KIND_SERVER, 0, 1);
	attr(&t, "http.request.method", "GET");
	attr(&t, "http.route", "/users/:id");
	bottleneck_describe(&t.spans[1], &a, &d);
	is_str(d.label, "GET /users/:id", "an entry span: its endpoint");
	ok(d.peer == NULL, "and no peer");
	add(&t, 3, 0, "svc", "router - /", SPAN_KIND_INTERNAL, 0, 1);
	attr(&t, "express.type", "router");
	bottleneck_describe(&t.spans[2], &a, &d);
	is_int(d.role, BOTTLENECK_ROLE_FRAMEWORK, "express router: a framework wrapper");
	add(&t, 4, 0, "svc", "render", SPAN_KIND_INTERNAL, 0, 1);
	t.spans[3].scope_name = "@opentelemetry/instrumentation-express";
	bottleneck_describe(&t.spans[3], &a, &d);
	is_int(d.role, BOTTLENECK_ROLE_FRAMEWORK, "by instrumentation scope alone");
	add(&t, 5, 0, "svc", "middleware - auth", SPAN_KIND_CLIENT, 0, 1);
	attr(&t, "express.type", "middleware");
	bottleneck_describe(&t.spans[4], &a, &d);
	is_int(d.role, BOTTLENECK_ROLE_WORK, "only INTERNAL spans are wrappers");
	add(&t, 6, 0, "svc", "ioredis connect", SPAN_KIND_INTERNAL, 0, 1);
	bottleneck_describe(&t.spans[5], &a, &d);
	is_int(d.role, BOTTLENECK_ROLE_WORK, "a name that merely mentions connect stays work");
	arena_release(&a);
}

static void test_normalize(void)
{
	char out[160];
	bottleneck_normalize("GET /orders/123", out, sizeof(out));
	is_str(out, "GET /orders/{n}", "a number in a path");
	bottleneck_normalize("chat gpt-4o-mini", out, sizeof(out));
	is_str(out, "chat gpt-4o-mini", "a model name stays");
	bottleneck_normalize("load 3f2504e0-4f89-11d3-9a0c-0305e82c3301 now", out, sizeof(out));
	is_str(out, "load {id} now", "a UUID");
	bottleneck_normalize("GET session:?", out, sizeof(out));
	is_str(out, "GET session:?", "already parameterised");
	bottleneck_normalize("x 12345678", out, 6);
	is_str(out, "x {n}", "bounded output");
}

/*
 * Each example keeps its request's start, through a merge too (the
 * resources of a bottleneck are read at its worst example's start):
 * request 1 at 1 s spends 300 ms in `work`, request 2 at 5 s 100 ms.
 */
static void test_example_times(void)
{
	struct bottleneck b, all;
	bottleneck_init(&b);
	bottleneck_init(&all);
	for (int r = 1; r <= 2; r++) {
		struct trace t = {0};
		double at = r == 1 ? 1000 : 5000, work = r == 1 ? 300 : 100;
		add(&t, 1, 0, "front", "GET /x", SPAN_KIND_SERVER, at, at + work + 2);
		add(&t, 2, 1, "front", "work", SPAN_KIND_INTERNAL, at + 1, at + 1 + work);
		add_request(&b, &t, r);
	}
	bottleneck_merge(&all, &b, 0);
	bottleneck_finish(&b);
	bottleneck_finish(&all);
	const struct bottleneck_entry *w = find(&b, "front", "work", NULL),
				      *m = find(&all, "front", "work", NULL);
	ok(w && m, "work is listed, merged too");
	if (!w || !m)
		goto out;
	is_int(w->n_examples, 2, "two examples");
	is_int(w->examples[0].trace_id[15], 1, "the worst first");
	is_int(w->examples[0].start_ns, 1000 * MS, "with its request's start");
	is_int(w->examples[1].start_ns, 5000 * MS, "the other's");
	is_int(m->examples[0].start_ns, 1000 * MS, "kept by a merge");
	is_int(m->examples[1].start_ns, 5000 * MS, "both");
out:
	bottleneck_release(&b);
	bottleneck_release(&all);
}

/* Two rankings, each with requests of its own first, then 20 requests
 * added to both at once: each encodes as the ranking of the same requests
 * added one at a time. */
static void test_add_many(void)
{
	struct bottleneck one[2], many[2];
	struct slowops_config c;
	slowops_config_init(&c);
	for (int k = 0; k < 2; k++) {
		bottleneck_init(&one[k]);
		bottleneck_init(&many[k]);
	}
	for (int r = 0; r < 24; r++) {
		struct trace t = {0};
		struct slowops_class cls[MAX_SPANS];
		struct spantree tree;
		uint8_t trace_id[16] = {0};
		trace_id[15] = (uint8_t)r;
		add(&t, 1, 0, "front", "GET /x", SPAN_KIND_SERVER, 0, 100 + 10 * r);
		attr(&t, "http.request.method", "GET");
		add(&t, 2, 1, "front", "load", SPAN_KIND_CLIENT, 0, 60 + r);
		attr(&t, "db.system.name", "postgresql");
		add(&t, 3, 1, "front", r % 3 ? "render" : "cache_fill", SPAN_KIND_INTERNAL, 60 + r,
		    90 + 5 * r);
		for (size_t i = 0; i < t.n; i++)
			slowops_classify(&c, &t.spans[i], NULL, &cls[i]);
		spantree_build(&tree, t.spans, t.n);
		slowops_resolve(&tree, cls);
		struct bottleneck *both[2] = {&many[0], &many[1]};
		if (r < 4) { /* the first four: the first ranking's or the second's alone */
			bottleneck_add(&one[r % 2], &tree, cls, NULL, "front", trace_id);
			bottleneck_add_many(&both[r % 2], 1, &tree, cls, NULL, "front", trace_id);
		} else {
			bottleneck_add(&one[0], &tree, cls, NULL, "front", trace_id);
			bottleneck_add(&one[1], &tree, cls, NULL, "front", trace_id);
			bottleneck_add_many(both, 2, &tree, cls, NULL, "front", trace_id);
		}
		spantree_release(&tree);
	}
	for (int k = 0; k < 2; k++) {
		struct buf a, b;
		buf_init(&a, BUF_NO_LIMIT);
		buf_init(&b, BUF_NO_LIMIT);
		bottleneck_compact(&one[k]);
		bottleneck_compact(&many[k]);
		bottleneck_encode(&one[k], &a);
		bottleneck_encode(&many[k], &b);
		ok(a.len > 0 && a.len == b.len && !memcmp(a.data, b.data, a.len) &&
			   one[k].critical_ns == many[k].critical_ns && one[k].requests == many[k].requests,
		   "ranking %d: added at once, the same as added one by one (%zu and %zu bytes)", k, a.len,
		   b.len);
		buf_release(&a);
		buf_release(&b);
		bottleneck_release(&one[k]);
		bottleneck_release(&many[k]);
	}
	slowops_config_release(&c);
}

int main(void)
{
	test_add_many();
	test_ranking();
	test_example_times();
	test_server_and_call_apart();
	test_framework_wrappers();
	test_statements_and_targets();
	test_setup_pools_and_real_work();
	test_wrapper_slack();
	test_rank_by_time_added();
	test_kinds();
	test_describe();
	test_normalize();
	return tap_done();
}
