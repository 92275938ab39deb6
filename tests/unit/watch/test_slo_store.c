/*
 * test_slo_store.c - slo_count() against a real store: good and total
 * requests of windows that start and end inside hours (minute rollups at
 * the edges, hourly ones between) equal a count over the requests
 * themselves, to the request; and rule_value() measures the same requests.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../query/store_fixture.h"
#include "analyze/slowops.h"
#include "store/store.h"
#include "tap.h"
#include "watch/rule.h"
#include "watch/slo.h"
#include "watch/snapshot.h"

#define N_REQ 400
#define HOUR  (60 * MIN)
/* A whole hour, minus 37 minutes: the requests span four hours. */
#define START (T0 / HOUR * HOUR + 23 * MIN)

static const uint64_t durations_ms[] = {50, 150, 499, 500, 1999, 2000, 80};

static char tmpdir[64];

struct req {
	uint64_t start, ms;
	int failed;
	const char *service;
};
static struct req reqs[N_REQ];

static struct store *fill(void)
{
	struct store *s = temp_store_open(tmpdir);
	struct batch b;
	if (!s)
		return NULL;
	batch_init(&b);
	struct resource *res[2] = {make_resource(&b, "pay", NULL), make_resource(&b, "shop", NULL)};
	for (int i = 0; i < N_REQ; i++) {
		reqs[i] = (struct req){START + (uint64_t)i * 37 * 1000 * MS, durations_ms[i % 7], i % 11 == 3,
				       i % 3 ? "pay" : "shop"};
		struct span *sp = batch_add_span(&b);
		memset(sp->trace_id, 0, 16);
		sp->trace_id[0] = (uint8_t)(i >> 8);
		sp->trace_id[1] = (uint8_t)i;
		sp->trace_id[15] = 0x51;
		sp->span_id[0] = 1;
		sp->span_id[1] = (uint8_t)i;
		sp->name = "POST /pay";
		sp->kind = SPAN_KIND_SERVER;
		sp->start_ns = reqs[i].start;
		sp->end_ns = reqs[i].start + reqs[i].ms * MS;
		sp->status = reqs[i].failed ? SPAN_STATUS_ERROR : SPAN_STATUS_OK;
		sp->resource = res[i % 3 ? 0 : 1];
	}
	if (store_write_sync(s, &b) < 0) {
		printf("# write failed\n");
		batch_release(&b);
		store_close(s);
		return NULL;
	}
	batch_release(&b);
	return s;
}

static struct slo_counts brute(const struct slo *slo, uint64_t from, uint64_t to)
{
	struct slo_counts c = {0, 0};
	for (int i = 0; i < N_REQ; i++) {
		if (reqs[i].start < from || reqs[i].start >= to ||
		    (slo->scope.service && strcmp(slo->scope.service, reqs[i].service)))
			continue;
		c.total++;
		if (slo->kind == SLO_AVAILABILITY ? !reqs[i].failed : reqs[i].ms < slo->threshold_ms)
			c.good++;
	}
	return c;
}

static const struct slo all_slos[] = {
	{.id = "lat", .kind = SLO_LATENCY, .objective = 95, .threshold_ms = 500},
	{.id = "lat2", .kind = SLO_LATENCY, .objective = 95, .threshold_ms = 2000},
	{.id = "av", .kind = SLO_AVAILABILITY, .objective = 99},
	{.id = "pay", .kind = SLO_AVAILABILITY, .objective = 99, .scope = {.service = "pay"}},
	{.id = "pay-lat",
	 .kind = SLO_LATENCY,
	 .objective = 99,
	 .threshold_ms = 100,
	 .scope = {.service = "pay"}},
};

static void windows(struct store *s)
{
	/* Windows from a few minutes to the whole range, cut inside hours. */
	const uint64_t from[] = {START, START + 7 * MIN, START + 40 * MIN, START + 95 * MIN};
	const uint64_t len[] = {5 * MIN, 37 * MIN, 2 * HOUR + 11 * MIN, 5 * HOUR};
	char err[256];
	for (size_t k = 0; k < sizeof(all_slos) / sizeof(all_slos[0]); k++)
		for (size_t i = 0; i < 4; i++)
			for (size_t j = 0; j < 4; j++) {
				struct slo_counts got, want = brute(&all_slos[k], from[i], from[i] + len[j]);
				int rc = slo_count(s, &all_slos[k], from[i], from[i] + len[j], &got, err,
						   sizeof(err));
				ok(rc == 0 && got.good == want.good && got.total == want.total,
				   "%s [+%llu min, %llu min): good %llu of %llu, want %llu of %llu",
				   all_slos[k].id, (unsigned long long)((from[i] - START) / MIN),
				   (unsigned long long)(len[j] / MIN), (unsigned long long)got.good,
				   (unsigned long long)got.total, (unsigned long long)want.good,
				   (unsigned long long)want.total);
			}
}

/* The cycle's snapshot gives each SLO the counts slo_count() reads. */
static void snapshot(struct store *s, const struct slo *slos, size_t n_slos)
{
	/* "now" inside the data, 13 s into a minute, so windows cut hours */
	const uint64_t nows[] = {START + 3 * HOUR + 17 * MIN + 13 * 1000 * MS, START + 5 * HOUR + 2 * MIN,
				 START + 40 * MIN};
	char err[256];
	for (size_t t = 0; t < 3; t++) {
		struct slo_snapshot sn;
		int rc = slo_snapshot_take(&sn, s, nows[t], err, sizeof(err));
		ok(rc == 0, "snapshot at +%llu min: %s", (unsigned long long)((nows[t] - START) / MIN),
		   rc ? err : "");
		int same = 1;
		for (size_t k = 0; rc == 0 && k < n_slos; k++)
			for (size_t w = 0; w < SNAP_WINDOWS; w++) {
				struct slo_counts a, b;
				uint64_t end = slo_window_end(nows[t]);
				slo_snapshot_counts(&sn, &slos[k], snapshot_windows_s[w], &a);
				slo_count(s, &slos[k], end - snapshot_windows_s[w] * NS_PER_S, end, &b, err,
					  sizeof(err));
				if (a.good != b.good || a.total != b.total) {
					same = 0;
					printf("# %s over %llu s: %llu of %llu, slo_count %llu of %llu\n",
					       slos[k].id, (unsigned long long)snapshot_windows_s[w],
					       (unsigned long long)a.good, (unsigned long long)a.total,
					       (unsigned long long)b.good, (unsigned long long)b.total);
				}
			}
		ok(same, "snapshot counts equal slo_count for %zu SLOs x %d windows", n_slos, SNAP_WINDOWS);
		slo_snapshot_release(&sn);
	}
}

static void rule_measures(struct store *s)
{
	struct alert_rule r = {.measure = RULE_ERROR_RATE, .window_s = 3600};
	uint64_t from = START + 60 * MIN, to = from + HOUR, n, failed = 0, slow = 0, total = 0;
	double v;
	char err[256];
	for (int i = 0; i < N_REQ; i++)
		if (reqs[i].start >= from && reqs[i].start < to) {
			total++;
			failed += reqs[i].failed;
			slow += reqs[i].ms >= 500;
		}
	int rc = rule_value(s, NULL, &r, from, to, &v, &n, err, sizeof(err));
	ok(rc == 0 && n == total && fabs(v - 100.0 * (double)failed / (double)total) < 1e-9,
	   "error rate %g%% of %llu, want %llu of %llu", v, (unsigned long long)n, (unsigned long long)failed,
	   (unsigned long long)total);
	r.measure = RULE_SLOW_COUNT;
	rc = rule_value(s, NULL, &r, from, to, &v, &n, err, sizeof(err));
	ok(rc == 0 && v == (double)slow, "slow count %g, want %llu", v, (unsigned long long)slow);
	struct rule_cache *cache = rule_cache_new();
	double v1, v2;
	uint64_t n1, n2;
	r.measure = RULE_P95;
	rc = rule_value(s, NULL, &r, from, to, &v, &n, err, sizeof(err));
	rc |= rule_value(s, cache, &r, from, to, &v1, &n1, err, sizeof(err));
	r.measure = RULE_P50; /* the same question: answered from the cache */
	rc |= rule_value(s, cache, &r, from, to, &v2, &n2, err, sizeof(err));
	ok(rc == 0 && v1 == v && n1 == n && n2 == n && v2 <= v1 && v2 > 0, "cached p95 %g = %g, p50 %g", v1,
	   v, v2);
	rule_cache_free(cache);
	r.measure = RULE_THROUGHPUT;
	rc = rule_value(s, NULL, &r, from, to, &v, &n, err, sizeof(err));
	ok(rc == 0 && fabs(v - (double)total / 60) < 1e-9, "throughput %g per minute", v);
}

/* The default rule's measure: spikes the built-in check stored. */
static void spikes(struct store *s)
{
	const char *ids[] = {"pay", "pay", "shop", "*"};
	const uint64_t at[] = {START + 10 * MIN, START + 12 * MIN, START + 11 * MIN, START + 30 * MIN};
	char err[256];
	for (int i = 0; i < 4; i++) {
		struct store_record e = {SLOWOPS_EVENT_KIND, ids[i], at[i], "{}"};
		store_add_event(s, &e, err, sizeof(err));
	}
	struct alert_rule r = {.measure = RULE_SLOW_SPIKES, .window_s = 300};
	double v;
	uint64_t n;
	int rc = rule_value(s, NULL, &r, START + 9 * MIN, START + 14 * MIN, &v, &n, err, sizeof(err));
	ok(rc == 0 && v == 3, "three spikes in [+9, +14) min: %g", v);
	r.scope.service = "pay";
	rc = rule_value(s, NULL, &r, START + 9 * MIN, START + 14 * MIN, &v, &n, err, sizeof(err));
	ok(rc == 0 && v == 2, "two of service pay: %g", v);
	rc = rule_value(s, NULL, &r, START + 13 * MIN, START + 18 * MIN, &v, &n, err, sizeof(err));
	ok(rc == 0 && v == 0, "none after: %g", v);
	struct arena a;
	double *vals;
	size_t nv;
	arena_init(&a);
	r.scope.service = NULL;
	rc = rule_series(s, &r, START, START + 35 * MIN, 300, &a, &vals, &nv, err, sizeof(err));
	ok(rc == 0 && nv == 7 && vals[2] == 3 && vals[6] == 1 && vals[0] == 0 && vals[3] == 0,
	   "series by 5 min: %zu steps, [2] %g, [6] %g", nv, nv > 6 ? vals[2] : -1, nv > 6 ? vals[6] : -1);
	arena_release(&a);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-slo-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	struct store *st = fill();
	ok(st != NULL, "a store with %d requests", N_REQ);
	if (st) {
		windows(st);
		snapshot(st, all_slos, sizeof(all_slos) / sizeof(all_slos[0]));
		rule_measures(st);
		spikes(st);
		store_close(st);
	}
	temp_dir_remove(tmpdir);
	return tap_done();
}
