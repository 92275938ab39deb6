/*
 * test_slow_details.c - the details of listed slow requests
 * (src/query/slow_details.c) against a real store: a detail found kept is
 * the one read from the trace; a part of the trace written later, other
 * thresholds or another store make it read again; the kept bytes stay
 * within their bound; and store_trace_stamp() changes with the trace's
 * blocks only.
 *
 * The store: ORDERS, a 1.5 s shop request whose database call takes 1.2 s,
 * later joined by a 1.1 s call of the stock service written apart; CART, a
 * 2 s cart request alone; and 40 more requests of 1 s for the bound.
 */
#include <stdlib.h>
#include <string.h>

#include "query/request_rows.h"
#include "query/slow_details.h"
#include "store/store.h"
#include "store_fixture.h"
#include "tap.h"

#define ORDERS 1
#define CART   2
#define MANY   10 /* traces MANY .. MANY + 39 */

static char tmpdir[64];

static void set_attrs(struct batch *b, struct span *s, const char *k1, const char *v1, const char *k2,
		      const char *v2)
{
	s->attrs = arena_zalloc(&b->arena, 2 * sizeof(struct attr));
	s->attrs[s->n_attrs++] = (struct attr){.key = k1, .type = ATTR_STRING, .v.s = v1};
	if (k2)
		s->attrs[s->n_attrs++] = (struct attr){.key = k2, .type = ATTR_STRING, .v.s = v2};
}

static int first_write(struct store *s)
{
	struct batch b;
	batch_init(&b);
	struct resource *shop = make_resource(&b, "shop", NULL), *cart = make_resource(&b, "cart", NULL);
	uint64_t t = T0 + MIN;
	struct span *sp = add_span(&b, shop, ORDERS, 1, 0, "GET /orders", SPAN_KIND_SERVER, t, 1500);
	set_attrs(&b, sp, "http.request.method", "GET", "http.route", "/orders");
	sp = add_span(&b, shop, ORDERS, 2, 1, "SELECT orders", SPAN_KIND_CLIENT, t + 10 * MS, 1200);
	set_attrs(&b, sp, "db.system", "postgresql", NULL, NULL);
	sp = add_span(&b, cart, CART, 1, 0, "GET /cart", SPAN_KIND_SERVER, T0 + 2 * MIN, 2000);
	set_attrs(&b, sp, "http.request.method", "GET", "http.route", "/cart");
	for (int i = 0; i < 40; i++) {
		sp = add_span(&b, cart, MANY + i, 1, 0, "GET /cart", SPAN_KIND_SERVER,
			      T0 + 3 * MIN + (uint64_t)i * MS, 1000 + (uint64_t)i);
		set_attrs(&b, sp, "http.request.method", "GET", "http.route", "/cart");
	}
	int rc = store_write_sync(s, &b);
	batch_release(&b);
	return rc;
}

/* ORDERS' call to stock, as the stock service exports it: later, apart. */
static int late_write(struct store *s)
{
	struct batch b;
	batch_init(&b);
	struct resource *shop = make_resource(&b, "shop", NULL);
	struct span *sp =
		add_span(&b, shop, ORDERS, 3, 1, "GET", SPAN_KIND_CLIENT, T0 + MIN + 1250 * MS, 240);
	set_attrs(&b, sp, "http.request.method", "GET", "server.address", "api.example.com");
	sp = add_span(&b, shop, ORDERS, 4, 1, "POST", SPAN_KIND_CLIENT, T0 + MIN + 20 * MS, 2100);
	set_attrs(&b, sp, "http.request.method", "POST", "server.address", "api.payments.example.com");
	int rc = store_write_sync(s, &b);
	batch_release(&b);
	return rc;
}

static void slow_query(struct store_query *q)
{
	store_query_init(q);
	q->from_ns = T0;
	q->to_ns = T0 + 10 * MIN;
	q->order = STORE_SLOWEST;
	q->min_duration_ns = STORE_SLOW_NS;
	q->limit = 100;
}

struct read {
	struct arena a;
	struct request_row *rows;
	size_t n;
	struct slow_detail *d;
	int rc;
};

/* The slowest requests and their details, read with `c`. */
static void read_details(struct store *s, const struct slowops_config *c, struct read *r)
{
	struct store_query q;
	char err[256];
	slow_query(&q);
	arena_init(&r->a);
	r->n = 0;
	r->rc = request_rows_select(s, &q, NULL, &r->a, &r->rows, &r->n, err, sizeof(err));
	r->d = arena_zalloc(&r->a, (r->n ? r->n : 1) * sizeof(*r->d));
	if (r->rc == 0)
		r->rc = slow_details_read(s, c, &q, r->rows, r->n, &r->a, r->d, err, sizeof(err));
	if (r->rc < 0)
		printf("# read: %d %s\n", r->rc, err);
}

static int same_detail(const struct slow_detail *x, const struct slow_detail *y)
{
	return x->loaded == y->loaded && !memcmp(x->phases, y->phases, sizeof(x->phases)) &&
	       ((!x->span_json && !y->span_json) ||
		(x->span_json && y->span_json && !strcmp(x->span_json, y->span_json))) &&
	       !strcmp(x->slow_spans_json, y->slow_spans_json);
}

/* Every detail of a and b alike (same rows in the same order). */
static int same_details(const struct read *a, const struct read *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(a->rows[i].trace_id, b->rows[i].trace_id, 16) || !same_detail(&a->d[i], &b->d[i]))
			return 0;
	return 1;
}

static const struct slow_detail *detail_of(const struct read *r, int trace)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->rows[i].trace_id[0] == trace && r->rows[i].span_id[0] == 1)
			return &r->d[i];
	return NULL;
}

static size_t count_of(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static void test_kept(struct store *s, const struct slowops_config *c)
{
	struct read first, again;
	struct slow_details_info in;
	slow_details_reset();
	read_details(s, c, &first);
	slow_details_info(&in);
	ok(first.rc == 0 && first.n == 42 && in.misses == 42 && in.hits == 0 && in.kept == 42,
	   "first read: 42 requests read from their traces (%zu rows, %llu read, %zu kept)", first.n,
	   (unsigned long long)in.misses, in.kept);
	const struct slow_detail *o = detail_of(&first, ORDERS);
	ok(o && o->loaded && o->span_json && strstr(o->span_json, "\"http.route\":\"/orders\"") &&
		   count_of(o->slow_spans_json, "\"span_id\"") == 2,
	   "ORDERS: its entry span with its attributes, its two slow spans (%s)",
	   o ? o->slow_spans_json : "none");
	read_details(s, c, &again);
	slow_details_info(&in);
	ok(again.rc == 0 && in.hits == 42 && in.misses == 42, "again: all 42 kept (%llu kept, %llu read)",
	   (unsigned long long)in.hits, (unsigned long long)in.misses);
	ok(same_details(&first, &again), "the kept details are the ones read");
	arena_release(&again.a);
	arena_release(&first.a);
}

static void test_late_part(struct store *s, const struct slowops_config *c)
{
	struct read before, after, fresh;
	struct slow_details_info in0, in;
	read_details(s, c, &before);
	slow_details_info(&in0);
	ok(late_write(s) == 0, "two calls of ORDERS written later, apart");
	read_details(s, c, &after);
	slow_details_info(&in);
	ok(in.misses == in0.misses + 1 && in.hits == in0.hits + 41,
	   "ORDERS read again, the 41 others kept (%llu more read)",
	   (unsigned long long)(in.misses - in0.misses));
	const struct slow_detail *o = detail_of(&after, ORDERS), *o0 = detail_of(&before, ORDERS);
	ok(o && o0 && count_of(o->slow_spans_json, "\"span_id\"") == 3 && !same_detail(o, o0),
	   "ORDERS: the 2.1 s call is among its slow spans now (%s)", o ? o->slow_spans_json : "none");
	slow_details_reset();
	read_details(s, c, &fresh);
	ok(same_details(&after, &fresh), "the same as read with nothing kept");
	arena_release(&fresh.a);
	arena_release(&after.a);
	arena_release(&before.a);
}

static void test_thresholds(struct store *s, const struct slowops_config *c)
{
	struct slowops_config other;
	struct read a, b;
	struct slow_details_info in0, in;
	read_details(s, c, &a);
	slowops_config_init(&other);
	other.threshold_ns[SLOWOPS_DATABASE] = 2000 * MS;
	slow_details_info(&in0);
	read_details(s, &other, &b);
	slow_details_info(&in);
	const struct slow_detail *o = detail_of(&b, ORDERS), *o0 = detail_of(&a, ORDERS);
	ok(in.misses == in0.misses + 42 && o && o0 &&
		   count_of(o->slow_spans_json, "\"span_id\"") + 1 ==
			   count_of(o0->slow_spans_json, "\"span_id\""),
	   "other thresholds: all read again, the 1.2 s query no longer slow");
	slowops_config_release(&other);
	arena_release(&b.a);
	arena_release(&a.a);
}

static void test_bound(struct store *s, const struct slowops_config *c)
{
	struct read r;
	struct slow_details_info in;
	slow_details_reset();
	slow_details_limit(8000);
	read_details(s, c, &r);
	slow_details_info(&in);
	ok(r.rc == 0 && r.n == 42 && in.bytes <= 8000 && in.kept > 0 && in.kept < 42,
	   "a bound of 8000 bytes: %zu details kept in %zu bytes", in.kept, in.bytes);
	arena_release(&r.a);
	slow_details_limit(0);
}

static void test_stamp(struct store *s)
{
	uint8_t id[16];
	uint64_t st1, st2, st3;
	char err[256];
	trace_id(id, 99);
	is_int(store_trace_stamp(s, id, &st1, err, sizeof(err)), 0, "an unknown trace: no block");
	trace_id(id, CART);
	long n1 = store_trace_stamp(s, id, &st1, err, sizeof(err));
	trace_id(id, ORDERS);
	long n2 = store_trace_stamp(s, id, &st2, err, sizeof(err));
	ok(n1 == 1 && n2 == 2 && st1 != st2, "CART in one block, ORDERS in two, stamped apart");
	store_trace_stamp(s, id, &st3, err, sizeof(err));
	ok(st3 == st2, "the same stamp when nothing was written");
}

int main(void)
{
	struct slowops_config c;
	slowops_config_init(&c);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-slowdetails-XXXXXX");
	struct store *s = temp_store_make(tmpdir);
	if (s) {
		ok(first_write(s) == 0, "first write");
		test_kept(s, &c);
		test_late_part(s, &c);
		test_thresholds(s, &c);
		test_bound(s, &c);
		test_stamp(s);
		slow_details_reset();
		store_close(s);
	}
	if (temp_dir_remove(tmpdir) < 0)
		printf("# could not remove %s\n", tmpdir);
	slowops_config_release(&c);
	return tap_done();
}
