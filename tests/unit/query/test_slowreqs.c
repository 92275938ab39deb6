/*
 * test_slowreqs.c - the slow requests kept in memory (src/query/slowreqs.c)
 * against a real store: every selection answers the rows store_search()
 * answers, in the same order (ties of duration and start included), the
 * rows written since are taken at once, many writes are merged, and the
 * selections the list cannot answer say so.
 *
 * Requests of three services in two environments and two versions, ok and
 * failed, root and nested, from 200 ms to 3 s, many sharing a duration and
 * some a duration and a start.
 */
#include <stdlib.h>
#include <string.h>

#include "ingest/semconv.h"
#include "query/slowreqs.h"
#include "store/store.h"
#include "store_fixture.h"
#include "tap.h"

static char tmpdir[64];
static const char *const services[] = {"shop", "cart", "pay"};
static const char *const envs[] = {"production", "staging"};
static const char *const versions[] = {"1.0", "2.0"};

/* Request `trace`: an entry span (failed every fifth), a nested SERVER
 * span of another service every third. */
static void add_request(struct batch *b, struct resource *const *res, int trace, uint64_t t, uint64_t ms)
{
	struct span *sp = add_span(b, res[trace % 12], trace, 1, 0, trace % 2 ? "GET /orders" : "GET /pay",
				   SPAN_KIND_SERVER, t, ms);
	set_attr(b, sp, "http.route", trace % 2 ? "/orders" : "/pay");
	if (trace % 5 == 0)
		sp->status = SPAN_STATUS_ERROR;
	if (trace % 3 == 0) {
		sp = add_span(b, res[(trace + 1) % 12], trace, 2, 1, "GET /inner", SPAN_KIND_SERVER, t + MS,
			      ms - 2);
		set_attr(b, sp, "http.route", "/inner");
	}
}

static void resources(struct batch *b, struct resource **res)
{
	for (int i = 0; i < 12; i++)
		res[i] = make_version_resource(b, services[i % 3], envs[i / 3 % 2], versions[i / 6]);
}

/* Write `n` requests numbered from `first`, one every 7 s from `t`. */
static int write_requests(struct store *s, int first, int n, uint64_t t)
{
	struct batch b;
	struct resource *res[12];
	batch_init(&b);
	resources(&b, res);
	for (int i = 0; i < n; i++) {
		int trace = first + i;
		/* durations repeat (ties), starts repeat every 50 (ties of both) */
		uint64_t ms = 200 + (uint64_t)(trace * 37 % 29) * 100;
		add_request(&b, res, trace, t + (uint64_t)(trace % 50) * 7000 * MS, ms);
	}
	int rc = store_write_sync(s, &b);
	batch_release(&b);
	return rc;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int same_row(const struct request_row *a, const struct request_row *b)
{
	return !memcmp(a->trace_id, b->trace_id, 16) && !memcmp(a->span_id, b->span_id, 8) &&
	       a->start_ns == b->start_ns && a->duration_ns == b->duration_ns && a->status == b->status &&
	       a->edge == b->edge && same_str(a->service, b->service) && same_str(a->endpoint, b->endpoint) &&
	       same_str(a->env, b->env) && same_str(a->version, b->version) &&
	       same_str(a->department, b->department) && same_str(a->intent, b->intent) &&
	       same_str(a->tool, b->tool);
}

/* The list's answer to `q` is the store's, row by row. */
static void same_answer(struct store *s, const struct store_query *q, const char *what)
{
	struct arena a;
	struct request_row *mine, *theirs;
	size_t n_mine, n_theirs;
	char err[256];
	arena_init(&a);
	int rc = slowreqs_search(s, q, &a, &mine, &n_mine, err, sizeof(err));
	int rc2 = store_search(s, q, &a, &theirs, &n_theirs, err, sizeof(err));
	if (!ok(rc == 0 && rc2 == 0, "%s: answered", what)) {
		printf("# %d %d %s\n", rc, rc2, err);
		arena_release(&a);
		return;
	}
	size_t first_diff = n_mine;
	for (size_t i = 0; i < n_mine && i < n_theirs && first_diff == n_mine; i++)
		if (!same_row(&mine[i], &theirs[i]))
			first_diff = i;
	ok(n_mine == n_theirs && first_diff == n_mine,
	   "%s: the store's %zu rows (got %zu, first differing %zu)", what, n_theirs, n_mine, first_diff);
	arena_release(&a);
}

static void slow_query(struct store_query *q, uint64_t from, uint64_t to)
{
	store_query_init(q);
	q->from_ns = from;
	q->to_ns = to;
	q->order = STORE_SLOWEST;
	q->min_duration_ns = STORE_SLOW_NS;
	q->limit = 50000;
}

static void test_answers(struct store *s)
{
	struct store_query q;
	struct service_version latest[] = {{"cart", "2.0"}, {"shop", "1.0"}};
	slow_query(&q, T0, T0 + 3600 * 1000 * MS);
	same_answer(s, &q, "the range");
	q.limit = 7;
	same_answer(s, &q, "the first 7");
	q.limit = 50000;
	q.edge_only = 1;
	same_answer(s, &q, "edge requests only");
	q.edge_only = 0;
	q.service = "cart";
	same_answer(s, &q, "service=cart");
	q.env = "staging";
	same_answer(s, &q, "and env=staging");
	q.service = NULL;
	q.version = "2.0";
	same_answer(s, &q, "env and version");
	q.env = q.version = NULL;
	q.endpoint = "GET /pay";
	q.status = REQUEST_ERROR;
	same_answer(s, &q, "endpoint and status");
	q.endpoint = NULL;
	q.status = -1;
	q.min_duration_ns = 2000 * MS;
	q.max_duration_ns = 2500 * MS;
	same_answer(s, &q, "2000 to 2500 ms");
	q.max_exclusive = 1;
	same_answer(s, &q, "2000 to 2500 ms, exclusive");
	q.min_duration_ns = STORE_SLOW_NS;
	q.max_duration_ns = 0;
	q.from_ns = T0 + 100 * 1000 * MS;
	q.to_ns = T0 + 200 * 1000 * MS;
	same_answer(s, &q, "a part of the range");
	q.from_ns = T0;
	q.to_ns = 0;
	q.latest = 1;
	q.latest_versions = latest;
	q.n_latest = 2;
	same_answer(s, &q, "version=latest pairs");
	q.latest = 0;
	q.service = "nosuch";
	same_answer(s, &q, "a service no request has");
}

static void test_busy(struct store *s)
{
	struct store_query q;
	struct arena a;
	struct request_row *rows;
	size_t n;
	char err[256];
	arena_init(&a);
	slow_query(&q, T0, 0);
	is_int(slowreqs_search(s, &q, &a, &rows, &n, err, sizeof(err)), ERR_BUSY,
	       "before the first update: busy");
	if (!ok(slowreqs_update(s, err, sizeof(err)) == 0, "first update"))
		printf("# %s\n", err);
	q.min_duration_ns = 999 * MS;
	is_int(slowreqs_search(s, &q, &a, &rows, &n, err, sizeof(err)), ERR_BUSY, "under 1 s: busy");
	q.min_duration_ns = STORE_SLOW_NS;
	q.order = STORE_NEWEST;
	is_int(slowreqs_search(s, &q, &a, &rows, &n, err, sizeof(err)), ERR_BUSY, "newest first: busy");
	q.order = STORE_SLOWEST;
	q.from_ns = T0 - 3 * 86400 * 1000 * MS;
	is_int(slowreqs_search(s, &q, &a, &rows, &n, err, sizeof(err)), ERR_BUSY,
	       "a range before what is kept: busy");
	arena_release(&a);
}

/* At most 1,000 rows: the newest 900 by start, and ranges before them read
 * the store. */
static void test_limit(struct store *s)
{
	struct store_query q;
	struct arena a;
	struct request_row *rows;
	size_t n;
	uint64_t from;
	char err[256];
	slowreqs_reset();
	slowreqs_limit(1000);
	if (!ok(slowreqs_update(s, err, sizeof(err)) == 0, "filled again, at most 1000 rows"))
		printf("# %s\n", err);
	slowreqs_info(&n, &from);
	ok(n <= 900 && n > 0 && from > T0, "%zu rows kept, from %llu ms after the first", n,
	   (unsigned long long)((from - T0) / MS));
	slow_query(&q, from, 0);
	same_answer(s, &q, "a range the rows kept cover");
	arena_init(&a);
	slow_query(&q, T0, 0);
	is_int(slowreqs_search(s, &q, &a, &rows, &n, err, sizeof(err)), ERR_BUSY,
	       "a range before them: busy");
	arena_release(&a);
	slowreqs_limit(0);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-slowreqs-XXXXXX");
	struct store *s = temp_store_make(tmpdir);
	if (s) {
		ok(write_requests(s, 1, 400, T0) == 0, "400 requests written");
		test_busy(s);
		test_answers(s);
		ok(write_requests(s, 401, 300, T0 + 60 * MIN) == 0, "300 more, written later");
		test_answers(s);
		ok(write_requests(s, 701, 9000, T0 + 30 * MIN) == 0, "9000 more: the recent rows merged");
		test_answers(s);
		size_t n;
		uint64_t from;
		slowreqs_info(&n, &from);
		ok(n > 4096 && from > 0 && from < T0, "%zu slow rows kept, from 48 h before the newest", n);
		test_limit(s);
		slowreqs_reset();
		store_close(s);
	}
	if (temp_dir_remove(tmpdir) < 0)
		printf("# could not remove %s\n", tmpdir);
	return tap_done();
}
