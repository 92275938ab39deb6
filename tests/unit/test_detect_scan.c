/*
 * test_detect_scan.c - the detectors over a store with kept segment states
 * find exactly what a full read finds: on the first scan and the next, after
 * new writes, for a window that cuts through segments, with a changed
 * configuration, for a sample, and when the cache must let states go.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo/scenario.h"
#include "report/detect_scan.h"
#include "tap.h"

#define S   1000000000ull
#define MIN (60 * S)

static const uint64_t t0 = 1763978400ull * S;

/* Minutes [from, to) of demo traffic, one write (one block) a minute. */
static void write_minutes(struct store *s, struct scenario *sc, int from, int to)
{
	for (int m = from; m < to; m++) {
		struct batch b;
		batch_init(&b);
		scenario_generate(sc, &b, t0 + (uint64_t)m * MIN, t0 + (uint64_t)(m + 1) * MIN, 40);
		store_write_sync(s, &b);
		batch_release(&b);
	}
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

int main(void)
{
	char dir[] = "/tmp/hotpath-test-detect-scan-XXXXXX", err[256];
	ok(mkdtemp(dir) != NULL, "temp dir");
	struct store_options so = {.dir = dir};
	struct store *s;
	if (store_open(&s, &so, err, sizeof(err)) < 0) {
		ok(0, "store: %s", err);
		return tap_done();
	}
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
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
