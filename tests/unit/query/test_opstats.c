/*
 * test_opstats.c - the per-minute operation statistics
 * (src/query/opstats.c) against a real store: what they count, the range
 * they cover, that a read takes the blocks committed since, that a change
 * of the custom type rules rebuilds them, and when they cannot answer.
 *
 * Three traces of a shop service, one a minute: an http request with a
 * database call under it, slow (1200 ms and 600 ms); a fast one (200 ms,
 * 100 ms); and a third, written later, of 300 ms calling a payment
 * provider outside the fleet (a POST, 250 ms: external).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query/opstats.h"
#include "store/store.h"
#include "store_fixture.h"
#include "tap.h"

static char tmpdir[64];

static void add_request(struct batch *b, const struct resource *r, int trace, uint64_t t, uint64_t ms,
			uint64_t db_ms)
{
	struct span *sp = add_span(b, r, trace, 1, 0, "GET /orders", SPAN_KIND_SERVER, t, ms);
	set_attr(b, sp, "http.route", "/orders");
	sp = add_span(b, r, trace, 2, 1, "SELECT orders", SPAN_KIND_CLIENT, t + 10 * MS, db_ms);
	set_attr(b, sp, "db.system", "postgresql");
}

static struct store *fill_store(void)
{
	struct store *s = NULL;
	struct store_options o = {.dir = tmpdir};
	char err[256];
	struct batch b;
	if (store_open(&s, &o, err, sizeof(err)) < 0) {
		printf("# store_open: %s\n", err);
		return NULL;
	}
	batch_init(&b);
	struct resource *shop = make_resource(&b, "shop", NULL);
	add_request(&b, shop, 1, T0 + MIN, 1200, 600);
	add_request(&b, shop, 2, T0 + 2 * MIN, 200, 100);
	ok(store_write_sync(s, &b) == 0, "first write");
	batch_release(&b);
	return s;
}

static void write_third(struct store *s)
{
	struct batch b;
	batch_init(&b);
	struct resource *shop = make_resource(&b, "shop", NULL);
	struct span *sp = add_span(&b, shop, 3, 1, 0, "GET /pay", SPAN_KIND_SERVER, T0 + 3 * MIN, 300);
	set_attr(&b, sp, "http.route", "/pay");
	sp = add_span(&b, shop, 3, 2, 1, "POST", SPAN_KIND_CLIENT, T0 + 3 * MIN + 10 * MS, 250);
	set_attr(&b, sp, "server.address", "api.payments.example.com");
	ok(store_write_sync(s, &b) == 0, "the third request, written later");
	batch_release(&b);
}

static int read_range(struct store *s, const struct slowops_config *c, uint64_t from, uint64_t to,
		      struct opstats_answer *a)
{
	char err[256];
	int rc = opstats_read(s, c, NULL, from, to, a, err, sizeof(err));
	if (rc < 0 && rc != ERR_BUSY)
		printf("# opstats_read: %s\n", err);
	return rc;
}

static void test_counts(struct store *s, const struct slowops_config *c)
{
	struct opstats_answer a;
	if (!ok(read_range(s, c, T0, T0 + 10 * MIN, &a) == 0, "the first two requests, answered"))
		return;
	is_int(a.requests, 2, "requests: the root spans");
	is_int(a.spans, 4, "spans: every span");
	const struct sketch *http = &a.t[slowops_type_slot(c, SLOWOPS_HTTP)];
	const struct sketch *db = &a.t[slowops_type_slot(c, SLOWOPS_DATABASE)];
	is_int(sketch_count(http), 2, "two http spans");
	is_int(sketch_count(db), 2, "two database spans");
	ok(sketch_min(http) == 200 * MS && sketch_max(http) == 1200 * MS, "http min and max exact");
	ok(sketch_sum(db) == 700.0 * MS, "database sum exact");
	is_int(sketch_count_at_least(http, (double)slowops_threshold_ns(c, SLOWOPS_HTTP)), 1,
	       "one http span at or over 1000 ms");
	is_int(sketch_count_at_least(db, (double)slowops_threshold_ns(c, SLOWOPS_DATABASE)), 1,
	       "one database span at or over 500 ms");
	ok(a.from_ns == T0 / MIN * MIN && a.to_ns == (T0 + 10 * MIN + MIN - 1) / MIN * MIN,
	   "the range rounded out to whole minutes");
	opstats_answer_release(&a);

	/* From the second minute on: the first request is outside. */
	if (ok(read_range(s, c, T0 + 2 * MIN, T0 + 10 * MIN, &a) == 0, "a later range")) {
		is_int(a.requests, 1, "one request from minute 2");
		is_int(sketch_count(&a.t[slowops_type_slot(c, SLOWOPS_HTTP)]), 1, "its http span");
		opstats_answer_release(&a);
	}
	/* A range inside a minute reads the whole minute. */
	if (ok(read_range(s, c, T0 + MIN + 30000 * MS, T0 + MIN + 40000 * MS, &a) == 0,
	       "a part of a minute")) {
		is_int(a.requests, 1, "the minute's request");
		opstats_answer_release(&a);
	}
}

static void test_current(struct store *s, const struct slowops_config *c)
{
	struct opstats_answer a;
	write_third(s);
	if (!ok(read_range(s, c, T0, T0 + 10 * MIN, &a) == 0, "after another write"))
		return;
	is_int(a.requests, 3, "the new request is counted at once");
	is_int(sketch_count(&a.t[slowops_type_slot(c, SLOWOPS_EXTERNAL)]), 1, "its call outside: external");
	is_int(sketch_count(&a.t[slowops_type_slot(c, SLOWOPS_HTTP)]), 3, "three http spans");
	opstats_answer_release(&a);
}

/* The same requests ranked as one ranking of them all would rank them. */
static void test_bottlenecks(struct store *s, const struct slowops_config *c)
{
	struct bottleneck bn;
	uint64_t from, to;
	char err[256];
	bottleneck_init(&bn);
	int rc = opstats_bottlenecks(s, c, NULL, T0, T0 + 10 * MIN, &bn, &from, &to, err, sizeof(err));
	if (!ok(rc == 0, "bottlenecks answered"))
		printf("# %d %s\n", rc, err);
	bottleneck_finish(&bn);
	is_int(bn.requests, 3, "three requests ranked");
	ok(bn.critical_ns == (1200 + 200 + 300) * MS, "their durations summed: %llu",
	   (unsigned long long)bn.critical_ns);
	ok(from <= T0 && to >= T0 + 10 * MIN && from % OPSTATS_BN_BUCKET_NS == 0, "whole buckets read");
	const struct bottleneck_entry *db = NULL, *pay = NULL;
	uint64_t sum = 0;
	for (size_t i = 0; i < bn.n; i++) {
		sum += bn.e[i].critical_ns;
		if (!strcmp(bn.e[i].name, "SELECT orders"))
			db = &bn.e[i];
		if (bn.e[i].call && bn.e[i].target && strstr(bn.e[i].target, "payments"))
			pay = &bn.e[i];
	}
	ok(sum == bn.critical_ns, "every moment charged once");
	if (ok(db != NULL, "the database call is a component")) {
		is_int(db->requests, 2, "in two requests");
		ok(db->critical_ns == 700 * MS, "600 + 100 ms on the path");
		is_int(db->n_examples, 2, "two examples");
		ok(db->examples[0].trace_id[0] == 1 && db->examples[0].critical_ns == 600 * MS,
		   "the largest first: trace 1");
		ok(fabs(db->self_p95_ns - 600.0 * MS) <= 0.01 * 600 * MS,
		   "self p95 from the sketch, within 1%%");
	}
	ok(pay != NULL && pay->kind == BOTTLENECK_DEPENDENCY, "the payment call: a dependency");
	bottleneck_release(&bn);
}

static void test_rules(struct store *s)
{
	struct slowops_config c, layer;
	char err[256];
	const char *json =
		"{\"custom\":[{\"type\":\"payments\",\"span_name\":\"POST\",\"threshold_ms\":200}]}";
	slowops_config_init(&c);
	slowops_config_init_layer(&layer);
	if (!ok(slowops_config_parse_json(&layer, json, strlen(json), SLOWOPS_SRC_API, err, sizeof(err)) == 0,
		"a custom type"))
		printf("# %s\n", err);
	slowops_config_merge(&c, &layer);
	struct opstats_answer a;
	if (ok(read_range(s, &c, T0, T0 + 10 * MIN, &a) == 0, "with a custom type: built again")) {
		is_int(a.n, slowops_type_slots(&c), "a slot for the custom type");
		size_t pay = slowops_type_slot(&c, SLOWOPS_BUILTIN);
		is_int(sketch_count(&a.t[pay]), 1, "the POST is a payments call");
		is_int(sketch_count(&a.t[slowops_type_slot(&c, SLOWOPS_EXTERNAL)]), 0,
		       "and no longer external");
		is_int(a.requests, 3, "every block read again");
		opstats_answer_release(&a);
	}
	slowops_config_release(&layer);
	slowops_config_release(&c);
}

/* Two answers the same: counts, and each slot's sketch. */
static void same_answers(const struct opstats_answer *a, const struct opstats_answer *b, const char *what)
{
	int same = a->n == b->n && a->requests == b->requests && a->spans == b->spans;
	for (size_t k = 0; same && k < a->n; k++)
		same = sketch_count(&a->t[k]) == sketch_count(&b->t[k]) &&
		       sketch_sum(&a->t[k]) == sketch_sum(&b->t[k]) &&
		       sketch_max(&a->t[k]) == sketch_max(&b->t[k]) &&
		       (!sketch_count(&a->t[k]) ||
			sketch_quantile(&a->t[k], 0.95) == sketch_quantile(&b->t[k], 0.95));
	for (size_t k = 0; !same && k < a->n && k < b->n; k++)
		printf("# slot %zu: %llu/%llu sum %g/%g max %g/%g\n", k,
		       (unsigned long long)sketch_count(&a->t[k]), (unsigned long long)sketch_count(&b->t[k]),
		       sketch_sum(&a->t[k]), sketch_sum(&b->t[k]), sketch_max(&a->t[k]),
		       sketch_max(&b->t[k]));
	ok(same, "%s: the same statistics (%llu requests, %llu spans)", what, (unsigned long long)b->requests,
	   (unsigned long long)b->spans);
}

static void read_bn(struct store *s, const struct slowops_config *c, const struct opstats_filter *f,
		    struct bottleneck *bn)
{
	uint64_t from, to;
	char err[256];
	bottleneck_init(bn);
	if (opstats_bottlenecks(s, c, f, T0, T0 + 10 * MIN, bn, &from, &to, err, sizeof(err)) < 0)
		printf("# opstats_bottlenecks: %s\n", err);
	bottleneck_finish(bn);
}

/* Saved, then loaded by a new start instead of reading the blocks again. */
static void test_saved(struct store *s, const struct slowops_config *c)
{
	struct opstats_answer before, after, kb, ka;
	struct bottleneck bb, ba;
	const struct opstats_filter shop = {.service = "shop"};
	char err[256];
	uint64_t read_id, last;
	size_t loaded;
	if (!ok(read_range(s, c, T0, T0 + 10 * MIN, &before) == 0, "before saving"))
		return;
	opstats_read(s, c, &shop, T0, T0 + 10 * MIN, &kb, err, sizeof(err));
	read_bn(s, c, NULL, &bb);
	if (!ok(opstats_save(s, err, sizeof(err)) == 0, "saved"))
		printf("# %s\n", err);
	opstats_stop();
	if (!ok(opstats_start(s, 3600, err, sizeof(err)) == 0, "a new start"))
		printf("# %s\n", err);
	if (ok(read_range(s, c, T0, T0 + 10 * MIN, &after) == 0, "after the start")) {
		opstats_status(&read_id, &loaded);
		store_last_block(s, &last, err, sizeof(err));
		ok(loaded > 0 && read_id == last, "%zu stored rows loaded, up to the last block", loaded);
		same_answers(&before, &after, "loaded");
		opstats_answer_release(&after);
	}
	if (ok(opstats_read(s, c, &shop, T0, T0 + 10 * MIN, &ka, err, sizeof(err)) == 0,
	       "service=shop loaded")) {
		same_answers(&kb, &ka, "service=shop loaded");
		opstats_answer_release(&ka);
	}
	read_bn(s, c, NULL, &ba);
	ok(ba.requests == bb.requests && ba.critical_ns == bb.critical_ns && ba.n == bb.n &&
		   (!ba.n ||
		    (ba.e[0].critical_ns == bb.e[0].critical_ns && !strcmp(ba.e[0].name, bb.e[0].name) &&
		     ba.e[0].n_examples == bb.e[0].n_examples && ba.e[0].self_p95_ns == bb.e[0].self_p95_ns)),
	   "the same bottlenecks loaded (%zu components)", ba.n);
	bottleneck_release(&ba);

	/* three days later: the first minutes leave the buckets kept, and are
	 * read from the stored rows */
	struct batch b;
	struct opstats_answer old;
	batch_init(&b);
	add_request(&b, make_resource(&b, "shop", NULL), 9, T0 + 3 * 86400 * 1000 * MS, 100, 50);
	ok(store_write_sync(s, &b) == 0, "a request three days later");
	batch_release(&b);
	if (ok(read_range(s, c, T0 + 3 * 86400 * 1000 * MS, 0, &old) == 0, "the new request read")) {
		is_int(old.requests, 1, "one request three days later");
		opstats_answer_release(&old);
	}
	if (ok(read_range(s, c, T0, T0 + 10 * MIN, &old) == 0, "a range before the buckets kept: answered")) {
		same_answers(&before, &old, "from the stored rows");
		opstats_answer_release(&old);
	}
	read_bn(s, c, NULL, &ba);
	ok(ba.requests == bb.requests && ba.critical_ns == bb.critical_ns && ba.n == bb.n,
	   "the same bottlenecks from the stored rows (%zu components)", ba.n);
	bottleneck_release(&ba);
	bottleneck_release(&bb);
	opstats_answer_release(&kb);
	opstats_answer_release(&before);
}

#define T3 (T0 + 3 * 86400 * 1000 * MS + 10 * MIN)

static int read_pair(struct store *s, const struct slowops_config *c, const char *svc, const char *env,
		     struct opstats_answer *a)
{
	char err[256];
	const struct opstats_filter f = {.service = svc, .env = env};
	int rc = opstats_read(s, c, &f, T3, T3 + 10 * MIN, a, err, sizeof(err));
	if (rc < 0 && rc != ERR_BUSY)
		printf("# opstats_read: %s\n", err);
	return rc;
}

/* A request of shop in production calling shop in staging: one request of
 * shop (the staging one is nested), one of each pair. */
static void test_pair_nesting(struct store *s, const struct slowops_config *c)
{
	struct batch b;
	struct opstats_answer a;
	batch_init(&b);
	struct resource *prod = make_version_resource(&b, "shop", "production", "1");
	struct resource *staging = make_version_resource(&b, "shop", "staging", "1");
	struct span *sp = add_span(&b, prod, 200, 1, 0, "GET /orders", SPAN_KIND_SERVER, T3, 1000);
	set_attr(&b, sp, "http.route", "/orders");
	sp = add_span(&b, staging, 200, 2, 1, "GET /orders", SPAN_KIND_SERVER, T3 + 10 * MS, 400);
	set_attr(&b, sp, "http.route", "/orders");
	sp = add_span(&b, staging, 200, 3, 2, "SELECT orders", SPAN_KIND_CLIENT, T3 + 20 * MS, 300);
	set_attr(&b, sp, "db.system", "postgresql");
	ok(store_write_sync(s, &b) == 0, "shop in production calling shop in staging");
	batch_release(&b);
	if (ok(read_pair(s, c, "shop", "staging", &a) == 0, "shop in staging: answered")) {
		ok(a.requests == 1 && a.spans == 2, "its own request: %llu requests, %llu spans",
		   (unsigned long long)a.requests, (unsigned long long)a.spans);
		is_int(sketch_count(&a.t[slowops_type_slot(c, SLOWOPS_DATABASE)]), 1, "its database call");
		opstats_answer_release(&a);
	}
	if (ok(read_pair(s, c, "shop", "production", &a) == 0, "shop in production: answered")) {
		ok(a.requests == 1 && a.spans == 3, "the whole trace: %llu requests, %llu spans",
		   (unsigned long long)a.requests, (unsigned long long)a.spans);
		opstats_answer_release(&a);
	}
	if (ok(read_pair(s, c, "shop", NULL, &a) == 0, "shop: answered")) {
		ok(a.requests == 1 && a.spans == 3, "one request of shop, not the sum of its pairs' two");
		opstats_answer_release(&a);
	}
	if (ok(read_pair(s, c, "shop", "nowhere", &a) == 0, "a pair never seen: answered")) {
		is_int(a.requests, 0, "no requests");
		opstats_answer_release(&a);
	}
}

/* Pairs past OPSTATS_MAX_PAIRS: read from the spans, also after a start. */
static void test_pair_bound(struct store *s, const struct slowops_config *c)
{
	struct batch b;
	struct opstats_answer a;
	char env[32], err[256];
	size_t busy = 0, answered = 0, n = OPSTATS_MAX_PAIRS + 1;
	batch_init(&b);
	for (size_t k = 0; k < n; k++) {
		snprintf(env, sizeof(env), "e%zu", k);
		struct resource *r = make_version_resource(&b, "shop", arena_strdup(&b.arena, env), "1");
		struct span *sp =
			add_span(&b, r, (int)(k & 0xff), 1, 0, "GET /x", SPAN_KIND_SERVER, T3 + 5 * MIN, 10);
		sp->trace_id[1] = (uint8_t)(0x10 + (k >> 8));
		set_attr(&b, sp, "http.route", "/x");
	}
	ok(store_write_sync(s, &b) == 0, "%zu more pairs of a service and an environment", n);
	batch_release(&b);
	for (int round = 0; round < 2; round++) {
		busy = answered = 0;
		for (size_t k = 0; k < n; k++) {
			snprintf(env, sizeof(env), "e%zu", k);
			int rc = read_pair(s, c, "shop", env, &a);
			busy += rc == ERR_BUSY;
			if (rc == 0) {
				answered += a.requests == 1;
				opstats_answer_release(&a);
			}
		}
		/* two pairs were kept before: production and staging */
		ok(busy == 3 && answered == n - 3,
		   "%s: %zu pairs past the bound read from the spans, %zu answered",
		   round ? "after a start" : "at once", busy, answered);
		if (round)
			break;
		if (!ok(opstats_save(s, err, sizeof(err)) == 0, "saved"))
			printf("# %s\n", err);
		opstats_stop();
		if (!ok(opstats_start(s, 3600, err, sizeof(err)) == 0, "a new start"))
			printf("# %s\n", err);
	}
	if (ok(read_pair(s, c, "shop", "staging", &a) == 0, "a pair kept before the bound: answered")) {
		is_int(a.requests, 1, "its request");
		opstats_answer_release(&a);
	}
	is_int(read_pair(s, c, "shop", "nowhere", &a), ERR_BUSY,
	       "past the bound, a pair never seen: from the spans");
}

/* Rows stored by a build of the previous format (state row version 1, no
 * pairs): not loaded, built again from the blocks, the same answers. */
static void test_old_format(struct store *s, const struct slowops_config *c)
{
	struct opstats_answer before, after;
	char err[256];
	uint64_t read_id;
	size_t loaded;
	if (!ok(read_pair(s, c, "shop", "staging", &before) == 0, "before"))
		return;
	uint64_t last = 0;
	char old[128]; /* version 1, the last block, newest minute, covered from, full; the rules */
	store_last_block(s, &last, err, sizeof(err));
	snprintf(old, sizeof(old), "1 %llu %llu 0 0\n%zu", (unsigned long long)last,
		 (unsigned long long)((T3 + 10 * MIN) / MIN), slowops_type_slots(c));
	struct store_agg row = {.kind = 0, .t_ns = UINT64_MAX, .key = "", .data = old, .len = strlen(old)};
	if (!ok(store_put_aggs(s, &row, 1, 1, err, sizeof(err)) == 0, "rows of the previous format stored"))
		printf("# %s\n", err);
	opstats_stop();
	if (!ok(opstats_start(s, 3600, err, sizeof(err)) == 0, "a new start"))
		printf("# %s\n", err);
	if (ok(read_pair(s, c, "shop", "staging", &after) == 0, "after the start")) {
		opstats_status(&read_id, &loaded);
		is_int(loaded, 0, "the old rows are not loaded");
		same_answers(&before, &after, "built again from the blocks");
		opstats_answer_release(&after);
	}
	opstats_answer_release(&before);
}

static void test_busy(struct store *s, const struct slowops_config *c)
{
	struct opstats_answer a;
	is_int(read_range(s, c, T0, T0 + 10 * MIN, &a), ERR_BUSY, "no job for the store: not answered");
	char err[256];
	if (!ok(opstats_start(s, 3600, err, sizeof(err)) == 0, "job started"))
		printf("# %s\n", err);
	is_int(read_range(s, c, T0 - 3 * 86400 * 1000 * MS, T0 + 10 * MIN, &a), ERR_BUSY,
	       "a range before what is kept: not answered");
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-opstats-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	struct store *st = fill_store();
	if (st) {
		struct slowops_config c;
		slowops_config_init(&c);
		test_busy(st, &c);
		test_counts(st, &c);
		test_current(st, &c);
		test_bottlenecks(st, &c);
		test_rules(st);
		test_saved(st, &c);
		test_pair_nesting(st, &c);
		test_pair_bound(st, &c);
		test_old_format(st, &c);
		opstats_stop();
		slowops_config_release(&c);
		store_close(st);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return tap_done();
}
