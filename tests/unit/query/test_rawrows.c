/*
 * test_rawrows.c - latency rows, breakdown spans and the requests q=
 * selects, from the raw spans of a real store (src/query/rawrows.c).
 *
 * The store holds four requests: two of shop (a fast one with a quick
 * SELECT, a failed one with an 800 ms SELECT), two of agent (one whose
 * tool is named by a child span only, one whose entry span names its own).
 */
#include <stdlib.h>
#include <string.h>

#include "query/rawrows.h"
#include "query/request_rows.h"
#include "store/store.h"
#include "store_fixture.h"
#include "tap.h"

enum { FAST = 1, FAILED, SEARCH, CALC, N_TRACES };

static char tmpdir[64];

static void add_shop(struct batch *b, const struct resource *r, int trace, uint64_t t, uint64_t db_ms)
{
	struct span *s = add_span(b, r, trace, 1, 0, "GET /orders", SPAN_KIND_SERVER, t, db_ms + 20);
	set_attr(b, s, "http.request.method", "GET");
	s->status = trace == FAILED ? SPAN_STATUS_ERROR : SPAN_STATUS_UNSET;
	s = add_span(b, r, trace, 2, 1, "SELECT", SPAN_KIND_CLIENT, t + 5 * MS, db_ms);
	set_attr(b, s, "db.system", "postgresql");
}

static struct store *fill_store(void)
{
	struct store *s = temp_store_open(tmpdir);
	struct batch b;
	if (!s)
		return NULL;
	batch_init(&b);
	struct resource *shop = make_resource(&b, "shop", NULL), *agent = make_resource(&b, "agent", NULL);
	add_shop(&b, shop, FAST, T0 + MIN, 100);
	add_shop(&b, shop, FAILED, T0 + 2 * MIN, 800);
	struct span *sp = add_span(&b, agent, SEARCH, 1, 0, "POST /chat", SPAN_KIND_SERVER, T0 + MIN, 3000);
	set_attr(&b, sp, "http.request.method", "POST");
	sp = add_span(&b, agent, SEARCH, 2, 1, "run tool", SPAN_KIND_INTERNAL, T0 + MIN + MS, 2000);
	set_attr(&b, sp, "gen_ai.tool.name", "search");
	sp = add_span(&b, agent, CALC, 1, 0, "POST /calc", SPAN_KIND_SERVER, T0 + 3 * MIN, 1000);
	set_attr(&b, sp, "gen_ai.tool.name", "calc");
	ok(store_write_sync(s, &b) == 0, "write four requests");
	batch_release(&b);
	return s;
}

/* Requests counted by the rows; *with_tool those whose row names `tool`. */
static uint64_t count_rows(const struct rollup_row *rows, size_t n, const char *tool, uint64_t *with_tool)
{
	uint64_t count = 0;
	*with_tool = 0;
	for (size_t i = 0; i < n; i++) {
		count += rows[i].count;
		if (tool && rows[i].tool && !strcmp(rows[i].tool, tool))
			*with_tool += rows[i].count;
	}
	return count;
}

/* rawrows_load() over the whole range: the requests counted, or -1. */
static long load(struct store *st, struct store_query *sq, const char *text, int need_tool, const char *tool,
		 uint64_t *with_tool)
{
	struct spanql *ql = NULL;
	struct rollup_row *rows;
	size_t n;
	struct arena a;
	char err[256];
	long got = -1;
	uint64_t w;
	if (text && spanql_parse(text, &ql, err, sizeof(err)) < 0) {
		printf("# %s: %s\n", text, err);
		return -1;
	}
	arena_init(&a);
	sq->from_ns = T0;
	sq->to_ns = T0 + 10 * MIN;
	if (rawrows_load(st, sq, ql, 60, need_tool, &a, &rows, &n, err, sizeof(err)) == 0)
		got = (long)count_rows(rows, n, tool, with_tool ? with_tool : &w);
	else
		printf("# %s: %s\n", text ? text : "(no q)", err);
	store_rollups_release(rows, n);
	arena_release(&a);
	spanql_free(ql);
	return got;
}

static void test_load(struct store *st)
{
	struct store_query sq;
	uint64_t with_tool;
	store_query_init(&sq);
	is_int(load(st, &sq, NULL, 0, NULL, NULL), 4, "no q=: every request");
	is_int(load(st, &sq, "span.db.system = *", 0, NULL, NULL), 2, "q=: the requests of shop");
	is_int(load(st, &sq, "span.db.system = * && duration > 500ms", 0, NULL, NULL), 1,
	       "q=: the request with the slow SELECT");
	is_int(load(st, &sq, "{ status = error }", 0, NULL, NULL), 1, "q=: the failed request");
	sq.min_duration_ns = 900 * MS;
	is_int(load(st, &sq, "kind = server", 0, NULL, NULL), 2,
	       "duration bounds: 820 ms and 3 s are kept out");
	sq.min_duration_ns = 0;
	sq.status = REQUEST_ERROR;
	is_int(load(st, &sq, "kind = server", 0, NULL, NULL), 1, "status filter");
	sq.status = -1;
	sq.service = "agent";
	is_int(load(st, &sq, "kind = server", 1, "search", &with_tool), 2, "service filter: agent's two");
	is_int(with_tool, 1, "a request's tool from a child span of its trace");
	is_int(load(st, &sq, NULL, 1, "calc", &with_tool), 2, "no q=, tools asked for");
	is_int(with_tool, 1, "the entry span's own tool");
	sq.tool = "search";
	is_int(load(st, &sq, "kind = server", 1, NULL, NULL), 1, "tool filter");
	sq.tool = NULL;
	sq.service = "nobody";
	is_int(load(st, &sq, "kind = server", 0, NULL, NULL), 0, "no request of an unknown service");
}

static void search(struct store *st, const char *service, struct arena *a, struct request_row **rows,
		   size_t *n)
{
	struct store_query sq;
	char err[256];
	store_query_init(&sq);
	sq.from_ns = T0;
	sq.to_ns = T0 + 10 * MIN;
	sq.service = service;
	sq.limit = 100;
	if (store_search(st, &sq, a, rows, n, err, sizeof(err)) < 0) {
		printf("# search: %s\n", err);
		*n = 0;
	}
}

static size_t selected(const struct rawrows_spans *sp)
{
	size_t k = 0;
	for (size_t i = 0; i < sp->n; i++)
		k += sp->spans[i].selected;
	return k;
}

static void test_request_spans(struct store *st)
{
	struct arena a;
	struct request_row *rows;
	size_t n;
	struct rawrows_spans sp;
	struct spanql *ql;
	char err[256];
	arena_init(&a);
	search(st, "shop", &a, &rows, &n);
	is_int(n, 2, "two requests of shop");
	is_int(rawrows_request_spans(st, rows, n, NULL, &a, &sp, err, sizeof(err)), 0, "their spans");
	is_int(sp.n, 4, "both traces' spans, entry and SELECT");
	is_int(selected(&sp), 2, "the entry spans are selected");
	ok(!sp.truncated, "not truncated");
	is_str(sp.spans[0].service, "shop", "names interned");
	free(sp.spans);
	ok(spanql_parse("span.db.system = * && duration > 500ms", &ql, err, sizeof(err)) == 0, "parse");
	is_int(rawrows_request_spans(st, rows, n, ql, &a, &sp, err, sizeof(err)), 0, "their spans with q=");
	is_int(sp.n, 4, "q= reads the same spans");
	is_int(selected(&sp), 1, "only the request whose trace q= selects");
	free(sp.spans);
	is_int(rawrows_request_spans(st, rows, 0, ql, &a, &sp, err, sizeof(err)), 0, "no rows");
	is_int(sp.n, 0, "no spans");
	free(sp.spans);
	spanql_free(ql);
	arena_release(&a);
}

static void test_match(struct store *st)
{
	struct arena a;
	struct request_row *rows;
	size_t n;
	struct spanql *ql;
	uint8_t matched[8];
	char err[256];
	arena_init(&a);
	search(st, NULL, &a, &rows, &n);
	is_int(n, 4, "four requests");
	ok(spanql_parse("span.gen_ai.tool.name = \"search\"", &ql, err, sizeof(err)) == 0, "parse");
	is_int(request_rows_match(st, ql, rows, n, matched, err, sizeof(err)), 0, "match");
	int got = 0;
	for (size_t i = 0; i < n; i++)
		if (matched[i])
			got |= 1 << rows[i].trace_id[0];
	is_int(got, 1 << SEARCH, "only the request whose child span ran the search tool");
	spanql_free(ql);
	arena_release(&a);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-rawrows-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	struct store *st = fill_store();
	if (st) {
		test_load(st);
		test_request_spans(st);
		test_match(st);
		store_close(st);
	}
	temp_dir_remove(tmpdir);
	return tap_done();
}
