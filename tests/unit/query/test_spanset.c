/*
 * test_spanset.c - the traces a span query selects, from a real store
 * (src/query/spanset.c), and the performance.* marks derived for spans
 * that lack them (src/query/perfmarks.c): thresholds and stored heap
 * samples.
 *
 * The store holds agent traces with a gen_ai call two levels below the
 * entry span (5000 input tokens in one, 100 in the other), a trace whose
 * deep call came in a later write than its entry span, a trace with a slow
 * database call under an error, and spans that carry their own marks.
 */
#include <stdlib.h>
#include <string.h>

#include "query/perfmarks.h"
#include "query/spanset.h"
#include "store/store.h"
#include "store_fixture.h"
#include "tap.h"

#define MB	 1048576.0
#define NONE	 0
#define BIG	 1 /* the 5000-token agent trace */
#define SMALL	 2 /* the 100-token one */
#define SPLIT	 3 /* 5000 tokens, the call written after the entry span */
#define DB	 4 /* error, with an 800 ms SELECT */
#define OWN	 5 /* a 10 s SELECT marked not slow, a fast call marked slowness 7 */
#define LATE	 6 /* like BIG, six minutes after the heap samples */
#define N_TRACES 7

static char tmpdir[64];

static void set_attrs(struct batch *b, struct span *s, const struct attr *a, uint32_t n)
{
	s->attrs = arena_zalloc(&b->arena, n * sizeof(*a));
	memcpy(s->attrs, a, n * sizeof(*a));
	s->n_attrs = n;
}

static void add_llm_call(struct batch *b, const struct resource *r, int trace, uint64_t t, int tokens)
{
	struct span *s = add_span(b, r, trace, 3, 2, "chat gpt-4o", SPAN_KIND_CLIENT, t + 10 * MS, 3000);
	struct attr a[] = {
		{.key = "gen_ai.system", .type = ATTR_STRING, .v.s = "openai"},
		{.key = "gen_ai.usage.input_tokens", .type = ATTR_INT, .v.i = tokens},
	};
	set_attrs(b, s, a, 2);
}

/* An agent request: SERVER entry, INTERNAL step, the LLM call below it. */
static void add_agent(struct batch *b, const struct resource *r, int trace, uint64_t t, int tokens, int call)
{
	struct span *s = add_span(b, r, trace, 1, 0, "POST /chat", SPAN_KIND_SERVER, t, 3100);
	struct attr http[] = {{.key = "http.request.method", .type = ATTR_STRING, .v.s = "POST"},
			      {.key = "http.route", .type = ATTR_STRING, .v.s = "/chat"}};
	set_attrs(b, s, http, 2);
	add_span(b, r, trace, 2, 1, "plan", SPAN_KIND_INTERNAL, t + 5 * MS, 3050);
	if (call)
		add_llm_call(b, r, trace, t, tokens);
}

static void add_db(struct batch *b, const struct resource *r, int trace, uint64_t t, uint64_t db_ms,
		   const struct attr *own, uint32_t n_own)
{
	struct span *s = add_span(b, r, trace, 1, 0, "GET /orders", SPAN_KIND_SERVER, t, db_ms + 20);
	struct attr http[] = {{.key = "http.request.method", .type = ATTR_STRING, .v.s = "GET"}};
	set_attrs(b, s, http, 1);
	s->status = trace == DB ? SPAN_STATUS_ERROR : SPAN_STATUS_UNSET;
	s = add_span(b, r, trace, 2, 1, "SELECT", SPAN_KIND_CLIENT, t + 5 * MS, db_ms);
	struct attr a[4] = {{.key = "db.system", .type = ATTR_STRING, .v.s = "postgresql"}};
	if (n_own)
		memcpy(a + 1, own, n_own * sizeof(*own));
	set_attrs(b, s, a, 1 + n_own);
}

/* A heap sample: v8js.memory.heap.used of one space, or (space NULL) the
 * process's memory, process.memory.usage. */
static void add_heap(struct batch *b, const struct resource *r, uint64_t t, const char *space, double mb)
{
	struct metric_point *p = batch_add_point(b);
	p->resource = r;
	p->name = space ? "v8js.memory.heap.used" : "process.memory.usage";
	p->unit = "By";
	p->type = METRIC_GAUGE;
	p->time_ns = t;
	p->value = mb * MB;
	if (!space)
		return;
	p->n_attrs = 1;
	p->attrs = arena_zalloc(&b->arena, sizeof(struct attr));
	p->attrs[0] = (struct attr){.key = "v8js.heap.space.name", .type = ATTR_STRING, .v.s = space};
}

static struct store *fill_store(void)
{
	struct store *s = temp_store_open(tmpdir);
	struct batch b;
	if (!s)
		return NULL;
	batch_init(&b);
	struct resource *i1 = make_resource(&b, "agent", "i-1"), *i2 = make_resource(&b, "agent", "i-2");
	struct resource *shop = make_resource(&b, "shop", "s-1");
	add_agent(&b, i1, BIG, T0 + MIN, 5000, 1);
	add_agent(&b, i2, SMALL, T0 + MIN, 100, 1);
	add_agent(&b, i1, SPLIT, T0 + MIN, 0, 0);
	add_agent(&b, i1, LATE, T0 + 6 * MIN, 5000, 1);
	add_db(&b, shop, DB, T0 + MIN, 800, NULL, 0);
	struct attr own[] = {{.key = "performance.slow", .type = ATTR_BOOL, .v.i = 0}};
	add_db(&b, shop, OWN, T0 + MIN, 10000, own, 1);
	struct span *fast = add_span(&b, shop, OWN, 3, 1, "GET /stock", SPAN_KIND_CLIENT, T0 + MIN, 5);
	struct attr ratio[] = {{.key = "http.request.method", .type = ATTR_STRING, .v.s = "GET"},
			       {.key = "performance.slowness_ratio", .type = ATTR_STRING, .v.s = "7.00"}};
	set_attrs(&b, fast, ratio, 2);
	/* i-1's heap: 300 + 250 MB in two spaces; i-2's 100 MB */
	add_heap(&b, i1, T0 + MIN - 10000 * MS, "new_space", 300);
	add_heap(&b, i1, T0 + MIN - 10000 * MS, "old_space", 250);
	add_heap(&b, i2, T0 + MIN - 10000 * MS, "old_space", 100);
	/* the process's memory: shop's 800 MB is its only sample; i-1's 50 MB
	 * loses to its heap */
	add_heap(&b, shop, T0 + MIN - 5000 * MS, NULL, 800);
	add_heap(&b, i1, T0 + MIN - 5000 * MS, NULL, 50);
	ok(store_write_sync(s, &b) == 0, "first write");
	batch_reset(&b);
	i1 = make_resource(&b, "agent", "i-1");
	add_llm_call(&b, i1, SPLIT, T0 + MIN, 5000);
	ok(store_write_sync(s, &b) == 0, "the split trace's call, written apart");
	batch_release(&b);
	return s;
}

/* Which of the traces 1 .. N_TRACES-1 the set has, as a bit set. */
static int members(const struct spanset *set)
{
	int got = 0;
	for (int t = 1; t < N_TRACES; t++) {
		uint8_t id[16];
		trace_id(id, t);
		got |= spanset_has(set, id) << t;
	}
	return got;
}

#define B(t) (1 << (t))

static int build(struct store *st, const char *text, const struct spanql_ctx *ctx, int *got, size_t max)
{
	struct spanql *q;
	struct spanset set;
	struct spanset_scan sc = {.from_ns = T0, .to_ns = T0 + 10 * MIN};
	char err[256];
	int rc;
	if (spanql_parse(text, &q, err, sizeof(err)) < 0) {
		printf("# %s: %s\n", text, err);
		return -100;
	}
	spanset_init(&set, q, ctx, max);
	rc = spanset_build(&set, st, &sc, err, sizeof(err));
	if (rc < 0)
		printf("# %s: %s\n", text, err);
	*got = members(&set);
	spanset_release(&set);
	spanql_free(q);
	return rc;
}

static const struct {
	const char *q;
	int want;
} queries[] = {
	{"span.gen_ai.usage.input_tokens > 4000", B(BIG) | B(SPLIT) | B(LATE)},
	{"span.gen_ai.usage.input_tokens < 4000", B(SMALL)},
	{"{ kind = server } && { span.gen_ai.usage.input_tokens > 4000 }", B(BIG) | B(SPLIT) | B(LATE)},
	{"{ kind = server && span.gen_ai.usage.input_tokens > 4000 }", 0},
	{"{ status = error } || { span.gen_ai.usage.input_tokens = 100 }", B(DB) | B(SMALL)},
	{"!{ status = error }", B(BIG) | B(SMALL) | B(SPLIT) | B(OWN) | B(LATE)},
	{"{ kind = server } && !{ span.gen_ai.system = * }", B(DB) | B(OWN)},
	{"span.db.system = * AND duration > 1s", B(OWN)},
};

static void test_queries(struct store *st)
{
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		int got = -1;
		is_int(build(st, queries[i].q, NULL, &got, 0), 0, "built: %s", queries[i].q);
		is_int(got, queries[i].want, "traces of %s", queries[i].q);
	}
	int got;
	is_int(build(st, "kind = server", NULL, &got, 2), ERR_TOO_MUCH,
	       "more traces than the cap: refused, so the caller asks to narrow the range");
	is_int(build(st, "span.gen_ai.usage.input_tokens > 4000", NULL, &got, 3), 0,
	       "only traces with a selected span count against the cap");
}

static int only_small(void *arg, const uint8_t id[16])
{
	return id[0] == SMALL;
}

static void test_rows_and_keep(struct store *st)
{
	struct spanql *q;
	struct spanset set;
	struct store_query sq;
	struct request_row *rows;
	size_t n;
	struct arena a;
	char err[256];
	ok(spanql_parse("span.gen_ai.usage.input_tokens > 0", &q, err, sizeof(err)) == 0, "parse");
	spanset_init(&set, q, NULL, 0);
	struct spanset_scan sc = {.from_ns = T0, .to_ns = T0 + 10 * MIN, .keep_trace = only_small};
	is_int(spanset_build(&set, st, &sc, err, sizeof(err)), 0, "scan of one trace");
	is_int(members(&set), B(SMALL), "only the kept trace is read");
	spanset_release(&set);

	arena_init(&a);
	store_query_init(&sq);
	sq.from_ns = T0;
	sq.to_ns = T0 + 10 * MIN;
	sq.service = "agent";
	sq.limit = 100;
	ok(store_search(st, &sq, &a, &rows, &n, err, sizeof(err)) == 0, "search the agent's requests");
	is_int(n, 4, "four agent requests");
	spanset_init(&set, q, NULL, 0);
	is_int(spanset_of_rows(&set, st, rows, n, err, sizeof(err)), 0, "the set of their traces");
	is_int(members(&set), B(BIG) | B(SMALL) | B(SPLIT) | B(LATE), "each reached through its deep call");
	spanset_release(&set);
	spanset_init(&set, NULL, NULL, 0);
	ok(members(&set) == (B(N_TRACES) - 2), "no query: every trace");
	spanset_release(&set);
	arena_release(&a);
	spanql_free(q);
}

static const struct {
	const char *q;
	int want;
} marks[] = {
	/* entry spans of 3.1 s (http: 1 s) and 10 s are slow, so is each agent's 3 s LLM call
	 * (external: 2 s) and the 800 ms SELECT (database: 500 ms); the 10 s SELECT says it is not */
	{"span.performance.slow = true", B(BIG) | B(SMALL) | B(SPLIT) | B(LATE) | B(DB) | B(OWN)},
	{"span.performance.slow = true AND span.db.system = *", B(DB)},
	{"span.performance.slowness_ratio > 3", B(BIG) | B(SMALL) | B(SPLIT) | B(LATE) | B(OWN)},
	{"span.performance.slowness_ratio = 7", B(OWN)},
	{"span.performance.slow.ratio = 7", B(OWN)}, /* the alias reads the span's own under the other name */
	{"span.performance.threshold_ms = 2000 && span.performance.type = \"external\"",
	 B(BIG) | B(SMALL) | B(SPLIT) | B(LATE) | B(OWN)},
	{"span.performance.slow.ratio >= 1.6 && kind = client", B(DB) | B(OWN)},
	{"span.performance.slowness_ratio = 1.5", B(BIG) | B(SMALL) | B(SPLIT) | B(LATE)},
	{"span.performance.threshold = 500 && kind = client", B(DB) | B(OWN)},
	{"span.performance.type = \"database\"", B(DB) | B(OWN)},
	{"span.performance.memory.heap_used_mb > 500", B(BIG) | B(SPLIT) | B(DB) | B(OWN)},
	{"span.performance.memory.heap_used_mb = 100", B(SMALL)},
	{"span.performance.memory.heap_used_mb = 800", B(DB) | B(OWN)},
	{"span.performance.memory.heap_used_mb < 100", 0},
	{"span.performance.memory.heap_used_mb = *", B(BIG) | B(SMALL) | B(SPLIT) | B(DB) | B(OWN)},
	{"span.performance.nope = *", 0},
};

static void test_marks(struct store *st)
{
	struct perfmarks pm;
	char err[256];
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		struct spanql *q;
		int got = -1;
		if (!ok(spanql_parse(marks[i].q, &q, err, sizeof(err)) == 0, "parse %s", marks[i].q))
			continue;
		is_int(perfmarks_open(&pm, st, q, T0, T0 + 10 * MIN, err, sizeof(err)), 0, "marks for %s",
		       marks[i].q);
		is_int(build(st, marks[i].q, perfmarks_ctx(&pm), &got, 0), 0, "built");
		is_int(got, marks[i].want, "traces of %s", marks[i].q);
		perfmarks_release(&pm);
		spanql_free(q);
	}
	int got = -1;
	is_int(build(st, "span.performance.slow = true", NULL, &got, 0), 0, "without the marks");
	is_int(got, 0, "no span carries performance.slow = true itself");
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-spanset-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	struct store *st = fill_store();
	if (st) {
		test_queries(st);
		test_rows_and_keep(st);
		test_marks(st);
		store_close(st);
	}
	temp_dir_remove(tmpdir);
	return tap_done();
}
