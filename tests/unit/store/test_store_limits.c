/*
 * test_store_limits.c - the store's bounds on one read or one write: a
 * read under a deadline that has passed stops with ERR_TIMEOUT and a
 * message naming the limit (a scan of blocks, a search of request rows),
 * the same read without a deadline answers in full, and threads started by
 * parallel_run() see their caller's deadline; one write of a trace far
 * larger than a block is cut into blocks of bounded size, and the trace is
 * still read back whole, with the small traces written beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/deadline.h"
#include "core/error.h"
#include "core/parallel.h"
#include "span_fixture.h"
#include "store/store.h"
#include "tap.h"
#include "temp_store.h"

#define T0 1700000000000000000ull

static struct resource *make_resource(struct batch *b)
{
	struct resource *r = arena_zalloc(&b->arena, sizeof(*r));
	r->n_attrs = 1;
	r->attrs = arena_zalloc(&b->arena, sizeof(struct attr));
	r->attrs[0] = (struct attr){.key = "service.name", .type = ATTR_STRING, .v.s = "limits"};
	resource_derive(r);
	return r;
}

/* `traces` traces of 3 spans, a millisecond apart, in one write. */
static int write_traces(struct store *s, uint32_t first, int traces)
{
	struct batch b;
	batch_init(&b);
	struct resource *r = make_resource(&b);
	for (int i = 0; i < traces; i++) {
		uint32_t id = first + (uint32_t)i;
		fixture_span(&b, r, id, 1, 0, SPAN_KIND_SERVER, "GET /limits", T0, i, 5);
		fixture_span(&b, r, id, 2, 1, SPAN_KIND_CLIENT, "SELECT", T0, i + 0.5, 1);
		fixture_span(&b, r, id, 3, 1, SPAN_KIND_CLIENT, "SELECT", T0, i + 1.5, 1);
	}
	int rc = store_write_sync(s, &b);
	batch_release(&b);
	return rc;
}

static int count_spans(void *arg, const struct span *spans, size_t n)
{
	(void)spans;
	*(size_t *)arg += n;
	return 0;
}

static int scan_all(struct store *s, size_t *spans, char *err, size_t errlen)
{
	struct store_scan sc = {.from_ns = 0};
	*spans = 0;
	return store_scan(s, &sc, count_spans, spans, err, errlen);
}

struct part {
	int passed;
};

static void *look(void *arg)
{
	((struct part *)arg)->passed = deadline_passed();
	return NULL;
}

static void test_deadline(struct store *s)
{
	char err[256] = "";
	size_t spans = 0;
	ok(write_traces(s, 1, 2000) == 0, "deadline: 2000 traces written");
	is_int(scan_all(s, &spans, err, sizeof(err)), 0, "deadline: a scan without a deadline succeeds");
	is_int((long)spans, 6000, "deadline: and reads every span");

	struct deadline dl;
	deadline_enter(&dl, 1); /* one nanosecond: passed by the first look */
	struct timespec pause = {0, 1000};
	nanosleep(&pause, NULL);
	int rc = scan_all(s, &spans, err, sizeof(err));
	is_int(rc, ERR_TIMEOUT, "deadline: a scan past its deadline stops with ERR_TIMEOUT");
	ok(strstr(err, "time limit of") && strstr(err, "--query-timeout"),
	   "deadline: the message names the limit: %s", err);
	ok(atomic_load(&dl.passed), "deadline: the deadline remembers it passed");

	struct arena a;
	arena_init(&a);
	struct store_query q;
	store_query_init(&q);
	q.from_ns = T0 - NS_PER_S;
	q.to_ns = T0 + 10 * NS_PER_S;
	q.limit = 100000;
	struct request_row *rows;
	size_t n = 0;
	err[0] = 0;
	rc = store_search(s, &q, &a, &rows, &n, err, sizeof(err));
	is_int(rc, ERR_TIMEOUT, "deadline: a search past its deadline stops with ERR_TIMEOUT (%s)", err);

	struct part parts[3] = {{0}, {0}, {0}};
	parallel_run(look, parts, sizeof(parts[0]), 3);
	ok(parts[0].passed && parts[1].passed && parts[2].passed,
	   "deadline: threads of parallel_run() see their caller's deadline");
	deadline_leave();

	rc = store_search(s, &q, &a, &rows, &n, err, sizeof(err));
	ok(rc == 0 && n == 2000, "deadline: after leaving it, the search answers in full (%d, %zu rows)", rc,
	   n);
	parallel_run(look, parts, sizeof(parts[0]), 3);
	ok(!parts[0].passed && !parts[1].passed && !parts[2].passed, "deadline: no deadline, none passed");

	deadline_enter(&dl, 60 * NS_PER_S);
	ok(scan_all(s, &spans, err, sizeof(err)) == 0 && spans == 6000,
	   "deadline: a scan well within its limit");
	ok(deadline_left_ns() > 0 && deadline_left_ns() <= 60 * NS_PER_S,
	   "deadline: time left is within the limit");
	deadline_leave();
	ok(deadline_left_ns() == UINT64_MAX, "deadline: none left after leaving");
	arena_release(&a);
}

struct parts {
	size_t calls, max, total;
};

static int count_parts(void *arg, const struct span *spans, size_t n)
{
	struct parts *p = arg;
	uint32_t id;
	memcpy(&id, spans[0].trace_id, 4);
	if (id != 900000)
		return 0;
	p->calls++;
	p->total += n;
	if (n > p->max)
		p->max = n;
	return 0;
}

static void test_big_trace(struct store *s)
{
	enum { BIG = 30000, SMALL = 50 };
	struct batch b;
	batch_init(&b);
	struct resource *r = make_resource(&b);
	for (int t = 0; t < SMALL; t++) /* small traces around the big one (ids below and above it) */
		fixture_span(&b, r, t % 2 ? 950000 + (uint32_t)t : 800000 + (uint32_t)t, 1, 0,
			     SPAN_KIND_SERVER, "GET /small", T0 + NS_PER_S, t, 2);
	fixture_span(&b, r, 900000, 1, 0, SPAN_KIND_SERVER, "GET /big", T0 + NS_PER_S, 0, 100);
	for (int i = 1; i < BIG; i++) {
		struct span *sp = fixture_span(&b, r, 900000, 2, 1, SPAN_KIND_SERVER, "GET /item",
					       T0 + NS_PER_S, i * 0.001, 0.0005);
		memcpy(sp->span_id, &i, 4); /* distinct ids */
		sp->span_id[7] = 2;
	}
	ok(store_write_sync(s, &b) == 0, "big trace: one write of a %d-span trace and %d small ones", BIG,
	   SMALL);
	batch_release(&b);

	struct parts p = {0};
	struct store_scan sc = {.from_ns = T0 + NS_PER_S / 2};
	char err[256];
	ok(store_scan(s, &sc, count_parts, &p, err, sizeof(err)) == 0, "big trace: scanned");
	ok(p.calls >= 4, "big trace: cut into %zu blocks", p.calls);
	ok(p.max <= 8192, "big trace: no block holds more than 8192 of its spans (largest %zu)", p.max);
	is_int((long)p.total, BIG, "big trace: the blocks hold all its spans");

	struct batch out;
	batch_init(&out);
	uint8_t id[16] = {0};
	uint32_t big = 900000;
	memcpy(id, &big, 4);
	id[15] = 1;
	long n = store_get_trace(s, id, &out, err, sizeof(err));
	is_int(n, BIG, "big trace: read back whole by its id (%s)", n < 0 ? err : "");
	size_t roots = 0;
	for (size_t i = 0; i < out.n_spans; i++)
		roots += !strcmp(out.spans[i].name, "GET /big");
	is_int((long)roots, 1, "big trace: its root among them");
	batch_release(&out);

	uint32_t small = 800000;
	memcpy(id, &small, 4);
	batch_init(&out);
	is_int(store_get_trace(s, id, &out, err, sizeof(err)), 1,
	       "big trace: a small trace beside it is read too");
	batch_release(&out);
}

int main(void)
{
	char dir[] = "/tmp/hotpath-limits-XXXXXX";
	struct store *s = temp_store_make(dir);
	ok(s != NULL, "store opened");
	if (s) {
		test_deadline(s);
		test_big_trace(s);
		store_close(s);
	}
	temp_dir_remove(dir);
	return tap_done();
}
