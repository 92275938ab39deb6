/*
 * test_store_limits.c - the store's bounds on one read or one write: a
 * read under a deadline that has passed stops with ERR_TIMEOUT and a
 * message naming the limit (a scan of blocks, a search of request rows),
 * the same read without a deadline answers in full, and threads started by
 * parallel_run() see their caller's deadline.
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

int main(void)
{
	char dir[] = "/tmp/hotpath-limits-XXXXXX";
	struct store *s = temp_store_make(dir);
	ok(s != NULL, "store opened");
	if (s) {
		test_deadline(s);
		store_close(s);
	}
	temp_dir_remove(dir);
	return tap_done();
}
