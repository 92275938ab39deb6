/*
 * test_detect_scan.c - the detectors over a store with kept segment states
 * find exactly what a full read finds: on the first scan and the next, after
 * new writes, for a window that cuts through segments, with a changed
 * configuration, for a sample, and when the cache must let states go; and
 * the parts of traces written apart are joined before the detectors see them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo/scenario.h"
#include "advisor/detect_scan.h"
#include "scenario_fixture.h"
#include "span_fixture.h"
#include "tap.h"
#include "temp_store.h"

#define S   1000000000ull
#define MIN (60 * S)

static const uint64_t t0 = 1763978400ull * S;

/* Minutes [from, to) of demo traffic, one write (one block) a minute. */
static void write_minutes(struct store *s, struct scenario *sc, int from, int to)
{
	scenario_write_minutes(s, sc, t0 + (uint64_t)from * MIN, to - from, 40, 0);
}

static int close_to(double a, double b)
{
	return fabs(a - b) <= 1e-9 * (fabs(a) > fabs(b) ? fabs(a) : fabs(b)) + 1e-12;
}

struct result {
	struct detector *d;
	struct detect_scan_stats st;
	struct detect_stats ds;
	const struct finding *f;
	size_t n;
};

static int scan(struct store *s, struct detect_cache *c, const struct detect_config *cfg, uint64_t from,
		uint64_t to, unsigned every, struct result *r)
{
	char err[256];
	r->d = detect_new(cfg);
	if (detect_scan(s, c, cfg, from, to, every, r->d, &r->st, err, sizeof(err)) < 0) {
		printf("# scan: %s\n", err);
		return -1;
	}
	detect_finish(r->d, &r->f, &r->n);
	detect_get_stats(r->d, &r->ds);
	return 0;
}

/* A scan with the cache against one without; returns the kept traces. */
static uint64_t check(struct store *s, struct detect_cache *c, const struct detect_config *cfg, uint64_t from,
		      uint64_t to, unsigned every, const char *what)
{
	struct result got, want;
	if (scan(s, c, cfg, from, to, every, &got) < 0 || scan(s, NULL, cfg, from, to, every, &want) < 0) {
		ok(0, "%s: scans", what);
		return 0;
	}
	ok(got.st.traces == want.st.traces && got.st.spans == want.st.spans &&
		   got.ds.requests == want.ds.requests && got.ds.traces == want.ds.traces,
	   "%s: the same %llu traces, %llu spans (%llu from kept states)", what,
	   (unsigned long long)want.st.traces, (unsigned long long)want.st.spans,
	   (unsigned long long)got.st.kept_traces);
	size_t same = 0;
	for (size_t i = 0; i < got.n && i < want.n; i++) {
		const struct finding *a = &got.f[i], *b = &want.f[i];
		same += !strcmp(a->id, b->id) && a->priority == b->priority &&
			a->occurrences == b->occurrences && a->affected_requests == b->affected_requests &&
			close_to(a->saved_s_per_hour, b->saved_s_per_hour) && close_to(a->avg_ns, b->avg_ns);
	}
	ok(got.n == want.n && same == want.n && want.n > 0, "%s: the same %zu findings (%zu match)", what,
	   want.n, same);
	uint64_t kept = got.st.kept_traces;
	detect_free(got.d);
	detect_free(want.d);
	return kept;
}

/* Span `id` of trace `trace` under `parent` (0: none), [ms, ms + len) after t0. */
static struct span *add_span(struct batch *b, const struct resource *r, uint32_t trace, int id, int parent,
			     int kind, const char *name, double ms, double len)
{
	return fixture_span(b, r, trace, id, parent, kind, name, t0, ms, len);
}

/* 40 requests doing 10 queries one after another, their queries written
 * (as a batch processor exports them) a write before the request itself:
 * the N+1 is found in every request only when the parts are joined. */
static void test_split_traces(void)
{
	char dir[] = "/tmp/hotpath-test-detect-join-XXXXXX";
	struct store *s = temp_store_make(dir);
	if (!s) {
		ok(0, "store for split traces");
		return;
	}
	struct batch children, parents;
	batch_init(&children);
	batch_init(&parents);
	struct resource *r = arena_zalloc(&parents.arena, sizeof(*r));
	static struct attr svc = {.key = "service.name", .type = ATTR_STRING, .v.s = "shop"};
	static struct attr stmt = {.key = "db.query.text",
				   .type = ATTR_STRING,
				   .v.s = "SELECT * FROM order_items WHERE order_id = $1"};
	static struct attr sys = {.key = "db.system.name", .type = ATTR_STRING, .v.s = "postgresql"};
	static struct attr route = {.key = "http.route", .type = ATTR_STRING, .v.s = "/orders/:id"};
	r->attrs = &svc;
	r->n_attrs = 1;
	resource_derive(r);
	for (uint32_t t = 1; t <= 40; t++) {
		double at = t * 1000.0;
		struct span *root =
			add_span(&parents, r, t, 1, 0, SPAN_KIND_SERVER, "GET /orders/:id", at, 40);
		root->attrs = &route;
		root->n_attrs = 1;
		for (int q = 0; q < 10; q++) {
			struct span *c = add_span(&children, r, t, 2 + q, 1, SPAN_KIND_CLIENT,
						  "pg.query:SELECT", at + 2 + 3.5 * q, 3);
			c->attrs = arena_alloc(&children.arena, 2 * sizeof(struct attr));
			c->attrs[0] = stmt;
			c->attrs[1] = sys;
			c->n_attrs = 2;
		}
	}
	store_write_sync(s, &children);
	store_write_sync(s, &parents);

	struct detect_config cfg;
	struct result res;
	detect_config_init(&cfg);
	if (scan(s, NULL, &cfg, t0, t0 + 60 * S, 1, &res) == 0) {
		const struct finding *f = NULL;
		for (size_t i = 0; i < res.n; i++)
			if (res.f[i].kind == FINDING_N_PLUS_ONE)
				f = &res.f[i];
		is_int(res.st.joined_parts, 40, "each request's queries joined to it");
		is_int(res.st.traces, 40, "40 traces fed, whole");
		ok(f && f->affected_requests == 40 && f->per_request == 10,
		   "the N+1 found in all 40 requests, 10 queries each (%llu, %.1f)",
		   f ? (unsigned long long)f->affected_requests : 0ull, f ? f->per_request : 0.0);
		detect_free(res.d);
	}
	batch_release(&children);
	batch_release(&parents);
	store_close(s);
	temp_dir_remove(dir);
}

int main(void)
{
	char dir[] = "/tmp/hotpath-test-detect-scan-XXXXXX";
	struct store *s = temp_store_make(dir);
	if (!ok(s != NULL, "store in a temporary directory"))
		return tap_done();
	struct scenario_config scfg;
	struct scenario sc;
	struct detect_config cfg;
	scenario_config_init(&scfg);
	scenario_init(&sc, &scfg);
	detect_config_init(&cfg);
	write_minutes(s, &sc, 0, 61);

	struct detect_cache *c = detect_cache_new(8);
	uint64_t end = t0 + 200 * MIN;
	is_int(check(s, c, &cfg, t0, end, 1, "first scan"), 0, "first scan: nothing kept yet");
	uint64_t kept = check(s, c, &cfg, t0, end, 1, "second scan");
	ok(kept > 0, "second scan: finished segments come from the cache");

	write_minutes(s, &sc, 61, 100);
	ok(check(s, c, &cfg, t0, end, 1, "after new writes") == kept,
	   "after new writes: the segments they finished are read once");
	ok(check(s, c, &cfg, t0, end, 1, "and again") > kept, "and kept from then on");
	check(s, c, &cfg, t0 + 20 * MIN + 30 * S, t0 + 70 * MIN + 10 * S, 1, "a window cutting segments");
	check(s, c, &cfg, t0 + 20 * MIN + 30 * S, t0 + 70 * MIN + 10 * S, 1, "the same window again");

	struct detect_config other = cfg;
	other.min_requests++;
	is_int(check(s, c, &other, t0, end, 1, "another configuration"), 0,
	       "another configuration: the kept states are dropped");
	is_int(check(s, c, &other, t0, end, 3, "a sample"), 0, "a sample: nothing kept");
	detect_cache_free(c);

	/* one block a segment: more segments than the cache keeps */
	c = detect_cache_new(1);
	check(s, c, &cfg, t0, end, 1, "more segments than states, first scan");
	ok(check(s, c, &cfg, t0, end, 1, "more segments than states, again") > 0,
	   "more segments than states: some are kept");
	detect_cache_free(c);

	scenario_release(&sc);
	store_close(s);
	test_split_traces();
	temp_dir_remove(dir);
	return tap_done();
}
