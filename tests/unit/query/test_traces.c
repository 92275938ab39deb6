/*
 * test_traces.c - the spans of the selected requests' traces, read from a
 * real store on several threads and merged into a span flame tree
 * (src/query/traces.c): by time window, by search, with a span query, and
 * a trace whose spans came in two writes.
 *
 * The store holds six requests a minute apart: shop's GET /orders with a
 * SELECT below (traces 1-4 and 6, the sixth failed) and agent's POST /chat
 * (trace 5), whose LLM call was written after the rest of its trace.
 */
#include <stdlib.h>
#include <string.h>

#include "query/traces.h"
#include "store/store.h"
#include "store_fixture.h"
#include "tap.h"

#define AGENT	 5
#define N_TRACES 6

static char tmpdir[64];

static struct store *fill_store(void)
{
	struct store *s = temp_store_open(tmpdir);
	struct batch b;
	if (!s)
		return NULL;
	batch_init(&b);
	struct resource *shop = make_resource(&b, "shop", NULL), *agent = make_resource(&b, "agent", NULL);
	for (int t = 1; t <= N_TRACES; t++) {
		uint64_t at = T0 + (uint64_t)t * MIN;
		if (t == AGENT) {
			struct span *sp =
				add_span(&b, agent, t, 1, 0, "POST /chat", SPAN_KIND_SERVER, at, 3000);
			set_attr(&b, sp, "http.request.method", "POST");
			add_span(&b, agent, t, 2, 1, "plan", SPAN_KIND_INTERNAL, at + MS, 2900);
			continue;
		}
		struct span *sp = add_span(&b, shop, t, 1, 0, "GET /orders", SPAN_KIND_SERVER, at, 120);
		set_attr(&b, sp, "http.request.method", "GET");
		sp->status = t == N_TRACES ? SPAN_STATUS_ERROR : SPAN_STATUS_UNSET;
		sp = add_span(&b, shop, t, 2, 1, "SELECT", SPAN_KIND_CLIENT, at + 5 * MS, 100);
		set_attr(&b, sp, "db.system", "postgresql");
	}
	ok(store_write_sync(s, &b) == 0, "first write: six requests");
	batch_reset(&b);
	agent = make_resource(&b, "agent", NULL);
	struct span *sp = add_span(&b, agent, AGENT, 3, 2, "chat gpt-4o", SPAN_KIND_CLIENT,
				   T0 + AGENT * MIN + 2 * MS, 2800);
	set_attr(&b, sp, "gen_ai.system", "openai");
	ok(store_write_sync(s, &b) == 0, "second write: the agent's LLM call");
	batch_release(&b);
	return s;
}

struct got {
	int rc;
	size_t n;		/* traces loaded */
	int first;		/* trace number (of fill_store) of the newest */
	uint64_t traces, spans; /* merged into the tree */
};

static struct got load(struct store *st, struct store_query *q, const char *text)
{
	struct got g = {.rc = -100};
	struct spanql *ql = NULL;
	struct traces t;
	struct folded_tree fs;
	struct arena a;
	char err[256];
	if (text && spanql_parse(text, &ql, err, sizeof(err)) < 0) {
		printf("# %s: %s\n", text, err);
		return g;
	}
	arena_init(&a);
	folded_tree_init_spans(&fs, 1000);
	if ((g.rc = traces_load(&t, st, q, ql, &a, err, sizeof(err))) < 0)
		printf("# traces_load: %s\n", err);
	g.n = t.n;
	g.first = t.n ? t.ids[0][0] : 0;
	if (g.rc == 0)
		traces_merge_flame(&t, &fs, 0);
	folded_spans_forget(&fs);
	g.traces = folded_spans_traces(&fs, 0);
	g.spans = folded_spans_count_spans(&fs, 0);
	traces_release(&t);
	folded_tree_release(&fs);
	arena_release(&a);
	spanql_free(ql);
	return g;
}

static void query(struct store_query *q, unsigned limit)
{
	store_query_init(q);
	q->from_ns = T0;
	q->to_ns = T0 + 10 * MIN;
	q->limit = limit;
}

static void test_window(struct store *st)
{
	struct store_query q;
	query(&q, 1000);
	struct got g = load(st, &q, NULL);
	is_int(g.rc, 0, "by window");
	is_int(g.n, N_TRACES, "every trace with a request in the window");
	is_int(g.first, N_TRACES, "the newest request's trace first");
	is_int(g.traces, N_TRACES, "all merged");
	is_int(g.spans, 5 * 2 + 3, "with the call written apart");
	query(&q, 2);
	g = load(st, &q, NULL);
	is_int(g.n, 2, "limit 2: the two newest");
	is_int(g.spans, 2 + 3, "their spans");
	q.from_ns = T0 + 20 * MIN;
	q.to_ns = T0 + 30 * MIN;
	g = load(st, &q, NULL);
	is_int(g.rc, 0, "an empty window");
	is_int(g.n, 0, "no trace");
	is_int(g.traces, 0, "nothing merged");
}

static void test_search(struct store *st)
{
	struct store_query q;
	query(&q, 1000);
	q.service = "shop";
	struct got g = load(st, &q, NULL);
	is_int(g.rc, 0, "by search");
	is_int(g.n, 5, "shop's five requests");
	is_int(g.first, N_TRACES, "newest first");
	is_int(g.spans, 10, "entry and SELECT each");
	q.service = NULL;
	q.status = REQUEST_ERROR;
	g = load(st, &q, NULL);
	is_int(g.n, 1, "the failed request");
	is_int(g.first, N_TRACES, "its trace");
}

static void test_query(struct store *st)
{
	struct store_query q;
	query(&q, 1000);
	struct got g = load(st, &q, "span.gen_ai.system = *");
	is_int(g.rc, 0, "q=");
	is_int(g.n, N_TRACES, "every candidate is read");
	is_int(g.traces, 1, "only the agent's trace is merged");
	is_int(g.spans, 3, "with its call written apart, which q= saw");
	query(&q, 2);
	g = load(st, &q, "span.db.system = *");
	is_int(g.traces, 2, "q= and limit 2: the first two it selects");
	is_int(g.spans, 4, "their spans");
	g = load(st, &q, "{ status = error } && { span.db.system = * }");
	is_int(g.traces, 1, "a query no other trace satisfies");
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-traces-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	struct store *st = fill_store();
	if (st) {
		test_window(st);
		test_search(st);
		test_query(st);
		store_close(st);
	}
	temp_dir_remove(tmpdir);
	return tap_done();
}
