/*
 * test_bottleneck.c - ranking components of constructed requests by their
 * impact on the critical path, and the kind of each bottleneck.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/bottleneck.h"
#include "analyze/slowops.h"
#include "analyze/spantree.h"
#include "tap.h"

#define MS	  1000000ull
#define MAX_SPANS 16

struct trace {
	struct span spans[MAX_SPANS];
	struct attr attrs[MAX_SPANS];
	struct resource res[MAX_SPANS];
	size_t n;
};

/* Span id k under parent id (0: root), times in ms, an optional attribute. */
static void add(struct trace *t, int id, int parent, const char *service, const char *name, int kind,
		uint64_t start_ms, uint64_t end_ms, const char *key, const char *value)
{
	size_t i = t->n++;
	struct span *s = &t->spans[i];
	memset(s, 0, sizeof(*s));
	s->span_id[7] = (uint8_t)id;
	s->parent_span_id[7] = (uint8_t)parent;
	s->start_ns = start_ms * MS;
	s->end_ns = end_ms * MS;
	s->kind = (uint8_t)kind;
	s->name = name;
	t->res[i] = (struct resource){.service_name = service};
	s->resource = &t->res[i];
	if (key) {
		t->attrs[i] = (struct attr){.key = key, .type = ATTR_STRING, .v.s = value};
		s->attrs = &t->attrs[i];
		s->n_attrs = 1;
	}
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
	bottleneck_add(b, &tree, cls, "front", trace_id);
	spantree_release(&tree);
	slowops_config_release(&c);
}

static const struct bottleneck_entry *find(const struct bottleneck *b, const char *service, const char *name,
					   size_t *rank)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->e[i].service, service) && !strcmp(b->e[i].name, name)) {
			*rank = i;
			return &b->e[i];
		}
	*rank = SIZE_MAX;
	return NULL;
}

static double busy_cpu(void *arg, const char *service, uint64_t t_ns)
{
	return !strcmp(service, "front") ? 0.95 : 0.2;
}

/*
 * 20 requests of 100 ms:
 *   front: GET /x [0,100]
 *     front: load           [0,100] CLIENT to db  (on the path, every request)
 *       db: SELECT items    [10,40]
 *     front: side_task      [5,95]   parallel, in load's shadow: never on the path
 *   and in request 0 only, a rare 300 ms step after it: the root is then 400 ms.
 */
static void test_ranking(void)
{
	struct bottleneck b;
	bottleneck_init(&b);
	for (int r = 0; r < 20; r++) {
		struct trace t = {0};
		add(&t, 1, 0, "front", "GET /x", SPAN_KIND_SERVER, 0, r ? 100 : 400, "http.request.method",
		    "GET");
		add(&t, 2, 1, "front", "load", SPAN_KIND_CLIENT, 0, 100, "db.system.name", "postgresql");
		add(&t, 3, 2, "db", "SELECT items", SPAN_KIND_SERVER, 10, 40, NULL, NULL);
		add(&t, 4, 1, "front", "side_task", SPAN_KIND_INTERNAL, 5, 95, NULL, NULL);
		if (!r)
			add(&t, 5, 1, "front", "rare_step", SPAN_KIND_INTERNAL, 100, 400, NULL, NULL);
		add_request(&b, &t, r);
	}
	bottleneck_finish(&b);
	size_t r_load, r_rare, r_side, r_sel, r_root;
	const struct bottleneck_entry *load = find(&b, "front", "load", &r_load);
	const struct bottleneck_entry *rare = find(&b, "front", "rare_step", &r_rare);
	const struct bottleneck_entry *side = find(&b, "front", "side_task", &r_side);
	const struct bottleneck_entry *sel = find(&b, "db", "SELECT items", &r_sel);
	const struct bottleneck_entry *root = find(&b, "front", "GET /x", &r_root);
	ok(load && rare && side && sel && root, "every component is listed");
	if (!(load && rare && side && sel && root))
		return;
	is_int(b.requests, 20, "20 requests");
	is_int(b.critical_ns, (19 * 100 + 400) * MS, "critical time = the requests' durations");
	is_int(load->critical_ns, 2000 * MS, "the call carries its subtree: 100 ms x 20");
	is_int(load->requests, 20, "on the path of every request");
	is_int(rare->critical_ns, 300 * MS, "the rare step: 300 ms once");
	is_int(rare->requests, 1, "in one request");
	ok(fabs(load->impact_ns - 2000.0 * MS) < 1, "impact of load: 2000 ms x 20/20");
	ok(fabs(rare->impact_ns - 15.0 * MS) < 1, "impact of the rare step: 300 ms x 1/20");
	ok(r_load < r_rare, "frequent on the path outranks rare but slow (%zu < %zu)", r_load, r_rare);
	is_int(side->critical_ns, 0, "a parallel task in the shadow has no critical time");
	ok(side->self_avg_ns > sel->self_avg_ns, "though it is slower per span than the query");
	ok(r_sel < r_side, "so the query outranks it (%zu < %zu)", r_sel, r_side);
	is_int(sel->critical_ns, 600 * MS, "the query: 30 ms x 20");
	is_int(root->critical_ns, 0, "the root's own time: none (load covers it)");
	is_int(load->kind, BOTTLENECK_DEPENDENCY, "a call out is a dependency");
	is_str(bottleneck_kind_name(sel->kind), "dependency", "a span of another service is a dependency");
	is_int(side->kind, BOTTLENECK_SLOWEST, "own code is a slowest component");
	is_int(load->n_examples, BOTTLENECK_EXAMPLES, "five examples kept");
	is_int(rare->n_examples, 1, "one example for the rare step");
	is_int(rare->examples[0].trace_id[15], 0, "its trace");
	ok(fabs(sel->self_avg_ns - 30.0 * MS) < 1 && fabs(sel->self_p95_ns - 30.0 * MS) < 1,
	   "self avg and p95");
	ok(fabs(load->self_avg_ns - 70.0 * MS) < 1, "the call's self time excludes its child");
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
		add(&t, 1, 0, "front", "POST /reserve", SPAN_KIND_SERVER, 0, 100, "http.request.method",
		    "POST");
		add(&t, 2, 1, "front", "pool.acquire", SPAN_KIND_INTERNAL, 0, 50,
		    "db.client.connection.wait_time_ms", "50");
		add(&t, 3, 1, "front", "compute", SPAN_KIND_INTERNAL, 50, 90, NULL, NULL);
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
	bottleneck_release(&b);
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

int main(void)
{
	test_ranking();
	test_kinds();
	test_normalize();
	return tap_done();
}
