/*
 * test_metrics.c - the arithmetic of metrics read back (src/query/metrics.c)
 * against values worked out by hand: counter increases across resets,
 * rates, quantiles of values and of histogram buckets (cumulative and
 * delta), how series combine in a line, the time-of-day fold, resource
 * measures (src/ingest/semconv_metrics.c); then the same through a real
 * store.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "query/metrics.h"
#include "store/store.h"
#include "tap.h"
#include "temp_store.h"

#define S NS_PER_S

static struct resource res = {.service_name = "api"};

static struct metric_point pt(const char *name, uint8_t type, uint64_t t_s, double v)
{
	return (struct metric_point){
		.resource = &res, .name = name, .unit = "1", .type = type, .time_ns = t_s * S, .value = v};
}

static void test_arithmetic(void)
{
	is_num(metrics_counter_increase(10, 15), 5, "a counter going up increases by the difference");
	is_num(metrics_counter_increase(15, 3), 3, "a counter going down restarted from 0");
	double v[10] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
	/* rank (10 - 1) * 0.95 = 8.55: between 9 and 10 */
	is_num(metrics_quantile_values(v, 10, 0.95), 9.55, "p95 of 1..10");
	ok(isnan(metrics_quantile_values(v, 0, 0.5)), "no values: no quantile");
	double bounds[] = {10, 20, 50};
	uint64_t counts[] = {2, 6, 2, 0};
	/* rank 9.5 of 10: the third bucket (20, 50] holds ranks 8..10: 20 + 30 * 1.5 / 2 */
	is_num(metrics_quantile_buckets(bounds, 3, counts, 0.95), 42.5, "p95 inside (20, 50]");
	/* rank 5: the second bucket (10, 20] holds 2..8: 10 + 10 * 3 / 6 */
	is_num(metrics_quantile_buckets(bounds, 3, counts, 0.5), 15, "p50 inside (10, 20]");
	/* rank 1 of the first bucket, from 0: 10 * 1 / 2 */
	is_num(metrics_quantile_buckets(bounds, 3, counts, 0.1), 5, "p10 in the first bucket, from 0");
	uint64_t over[] = {0, 0, 0, 4};
	is_num(metrics_quantile_buckets(bounds, 3, over, 0.5), 50,
	       "the overflow bucket answers the last bound");
	enum metrics_agg agg;
	double q;
	ok(metrics_agg_parse("p99.9", &agg, &q) == 0 && agg == METRICS_QUANTILE && tap_near(q, 0.999),
	   "p99.9");
	ok(metrics_agg_parse("rate", &agg, &q) == 0 && agg == METRICS_RATE, "rate");
	ok(metrics_agg_parse("p100", &agg, &q) < 0 && metrics_agg_parse("median", &agg, &q) < 0,
	   "p100 and unknown names are refused");
}

/* One step of 60 s from 0, the given aggregation. */
static struct metrics_acc *acc_of(enum metrics_agg agg, double quantile, const char *group_by)
{
	struct metrics_request r = {
		.step_ns = 60 * S, .agg = agg, .quantile = quantile, .group_by = group_by};
	r.f.to_ns = 60 * S;
	return metrics_acc_new(&r, 0, 1);
}

static double answer1(struct metrics_acc *m, struct metrics_answer *ans, struct arena *a)
{
	metrics_acc_answer(m, a, ans);
	return ans->n_lines ? ans->lines[0].values[0] : NAN;
}

static void test_rates(struct arena *a)
{
	char err[256];
	struct metrics_answer ans;
	struct metrics_acc *m = acc_of(METRICS_RATE, 0, NULL);
	double cum[] = {100, 130, 10, 40}; /* a restart after 130 */
	for (int i = 0; i < 4; i++) {
		struct metric_point p = pt("requests", METRIC_SUM, (uint64_t)i * 10, cum[i]);
		metrics_acc_point(m, 1, &p, 0, err, sizeof(err));
	}
	/* increases 30, 10 (from 0), 30 = 70 over 60 s */
	is_num(answer1(m, &ans, a), 70.0 / 60, "cumulative sum: rate across a reset");
	is_int(ans.resets, 1, "one reset counted");
	metrics_acc_free(m);

	m = acc_of(METRICS_RATE, 0, NULL);
	for (int i = 0; i < 3; i++) {
		struct metric_point p = pt("requests", METRIC_SUM, (uint64_t)i * 10, 6);
		p.delta = 1;
		metrics_acc_point(m, 1, &p, 0, err, sizeof(err));
	}
	is_num(answer1(m, &ans, a), 18.0 / 60, "delta sum: every point counts");
	metrics_acc_free(m);

	m = acc_of(METRICS_RATE, 0, NULL);
	struct metric_point g = pt("heap", METRIC_GAUGE, 0, 1);
	ok(metrics_acc_point(m, 1, &g, 0, err, sizeof(err)) == ERR_INVALID && strstr(err, "agg=rate"),
	   "rate of a gauge is refused, naming agg: %s", err);
	metrics_acc_free(m);
}

static struct metric_point hist(uint64_t t_s, const uint64_t *counts, uint64_t count, double sum, int delta)
{
	static double bounds[] = {10, 20, 50};
	struct metric_point p = pt("latency", METRIC_HISTOGRAM, t_s, 0);
	p.n_bounds = 3;
	p.bounds = bounds;
	p.bucket_counts = (uint64_t *)counts;
	p.count = count;
	p.sum = sum;
	p.delta = (uint8_t)delta;
	return p;
}

static void test_histograms(struct arena *a)
{
	char err[256];
	struct metrics_answer ans;
	static const uint64_t c1[] = {1, 1, 0, 0}, c2[] = {3, 7, 2, 0}, d[] = {1, 3, 1, 0};
	struct metrics_acc *m = acc_of(METRICS_QUANTILE, 0.95, NULL);
	struct metric_point p1 = hist(0, c1, 2, 12, 0), p2 = hist(30, c2, 12, 112, 0);
	metrics_acc_point(m, 1, &p1, 0, err, sizeof(err));
	metrics_acc_point(m, 1, &p2, 0, err, sizeof(err));
	/* the increase {2, 6, 2, 0}: p95 = 42.5 as above */
	is_num(answer1(m, &ans, a), 42.5, "cumulative histogram: p95 of the increase");
	metrics_acc_free(m);

	m = acc_of(METRICS_AVG, 0, NULL);
	metrics_acc_point(m, 1, &p1, 0, err, sizeof(err));
	metrics_acc_point(m, 1, &p2, 0, err, sizeof(err));
	is_num(answer1(m, &ans, a), 100.0 / 10, "cumulative histogram: mean = sum increase / count increase");
	metrics_acc_free(m);

	m = acc_of(METRICS_QUANTILE, 0.95, NULL);
	struct metric_point q1 = hist(0, d, 5, 60, 1), q2 = hist(30, d, 5, 60, 1);
	metrics_acc_point(m, 1, &q1, 0, err, sizeof(err));
	metrics_acc_point(m, 2, &q2, 0, err, sizeof(err));
	is_num(answer1(m, &ans, a), 42.5, "delta histograms of two series merge into {2, 6, 2, 0}");
	metrics_acc_free(m);

	m = acc_of(METRICS_MAX, 0, NULL);
	ok(metrics_acc_point(m, 1, &q1, 0, err, sizeof(err)) == ERR_INVALID, "max of a histogram is refused");
	metrics_acc_free(m);
}

static void test_combining(struct arena *a)
{
	char err[256];
	struct metrics_answer ans;
	enum metrics_agg aggs[] = {METRICS_AVG, METRICS_SUM, METRICS_MAX, METRICS_MIN};
	double want[] = {6, 12, 10, 1}; /* series 1: 1 and 3 (mean 2); series 2: 10 */
	for (int i = 0; i < 4; i++) {
		struct metrics_acc *m = acc_of(aggs[i], 0, NULL);
		struct metric_point p[] = {pt("g", METRIC_GAUGE, 0, 1), pt("g", METRIC_GAUGE, 20, 3),
					   pt("g", METRIC_GAUGE, 5, 10)};
		metrics_acc_point(m, 1, &p[0], 0, err, sizeof(err));
		metrics_acc_point(m, 1, &p[1], 0, err, sizeof(err));
		metrics_acc_point(m, 2, &p[2], 0, err, sizeof(err));
		is_num(answer1(m, &ans, a), want[i], "gauge, two series, agg %d", i);
		metrics_acc_free(m);
	}
	/* grouped by an attribute: one line per value, sorted, a line for "absent" last */
	struct metrics_acc *m = acc_of(METRICS_SUM, 0, "state");
	struct attr st[2] = {{.key = "state", .type = ATTR_STRING, .v.s = "used"},
			     {.key = "state", .type = ATTR_STRING, .v.s = "idle"}};
	struct metric_point p[] = {pt("c", METRIC_GAUGE, 0, 4), pt("c", METRIC_GAUGE, 0, 6),
				   pt("c", METRIC_GAUGE, 0, 1)};
	p[0].attrs = &st[0], p[0].n_attrs = 1;
	p[1].attrs = &st[1], p[1].n_attrs = 1;
	for (int i = 0; i < 3; i++)
		metrics_acc_point(m, i + 1, &p[i], 0, err, sizeof(err));
	metrics_acc_answer(m, a, &ans);
	ok(ans.n_lines == 3 && ans.lines[0].key && !strcmp(ans.lines[0].key, "idle") &&
		   tap_near(ans.lines[0].values[0], 6) && tap_near(ans.lines[1].values[0], 4) &&
		   !ans.lines[2].key,
	   "group_by=state: idle 6, used 4, then the series without a state");
	metrics_acc_free(m);
}

static void test_measures(struct arena *a)
{
	char err[256];
	struct metrics_answer ans;
	struct metrics_request r = {.step_ns = 60 * S, .measure = MEASURE_CPU};
	r.f.to_ns = 60 * S;
	struct metrics_acc *m = metrics_acc_new(&r, 0, 1);
	const char *states[] = {"user", "system", "idle"};
	double util[] = {0.1, 0.05, 0.85};
	struct attr at[3];
	for (int i = 0; i < 3; i++) {
		at[i] = (struct attr){.key = "process.cpu.state", .type = ATTR_STRING, .v.s = states[i]};
		struct metric_point p = pt("process.cpu.utilization", METRIC_GAUGE, 10, util[i]);
		p.attrs = &at[i];
		p.n_attrs = 1;
		metrics_acc_point(m, i + 1, &p, 4, err, sizeof(err));
	}
	/* user + system of a 4-CPU host, idle left out: (0.1 + 0.05) * 4 cores */
	is_num(answer1(m, &ans, a), 0.6, "process CPU in cores: states summed, times the host's CPUs");
	is_str(ans.unit, "cores", "unit of the cpu measure");
	metrics_acc_free(m);

	double v;
	struct metric_point old = pt("db.client.connections.usage", METRIC_SUM, 0, 7);
	struct attr used = {.key = "state", .type = ATTR_STRING, .v.s = "used"};
	old.attrs = &used;
	old.n_attrs = 1;
	ok(semconv_resource_measure(&old, &v) == MEASURE_POOL_USED && v == 7,
	   "older pool name: used connections");
	struct metric_point wait = pt("db.client.connection.wait_time", METRIC_HISTOGRAM, 0, 0);
	wait.unit = "s";
	wait.count = 4;
	wait.sum = 0.2;
	ok(semconv_resource_measure(&wait, &v) == MEASURE_POOL_WAIT && tap_near(v, 50),
	   "pool wait: mean 0.05 s = 50 ms");
	struct metric_point mem = pt("process.memory.usage", METRIC_GAUGE, 0, 512.0 * 1048576);
	ok(semconv_resource_measure(&mem, &v) == MEASURE_MEMORY && v == 512.0 * 1048576, "memory in bytes");
}

static void test_time_of_day(void)
{
	/* 1970-01-05 was a Monday: a week of hourly values from there, value = hour index */
	double v[24 * 14], out[7][24];
	uint64_t t0 = 4 * 86400 * S;
	for (size_t i = 0; i < 24 * 14; i++)
		v[i] = (double)(i % (24 * 7));
	metrics_time_of_day(v, 24 * 14, t0, 3600 * S, 0, out);
	is_num(out[0][0], 0, "Monday 00:00 UTC");
	is_num(out[1][1], 25, "Tuesday 01:00 UTC");
	is_num(out[6][23], 167, "Sunday 23:00 UTC");
	metrics_time_of_day(v, 24 * 14, t0, 3600 * S, 120, out);
	is_num(out[0][2], 0, "two hours east of UTC, Monday 00:00 UTC is Monday 02:00");
}

/* A gauge and a cumulative counter (restarting once), every 10 minutes for 5 hours. */
static double gauge_at(int i)
{
	return (double)((i * 7) % 11);
}

static double counter_at(int i)
{
	return i < 17 ? 1000 + 13.0 * i : 5.0 * (i - 17);
}

/*
 * Hours read from the hourly aggregates (steps of an hour) give what the
 * points themselves give: the same points fed by hand on the same grid,
 * the range starting and ending inside an hour.
 */
static void test_hours(struct store *st, struct arena *a)
{
	char err[256];
	uint64_t base = 1700000000ull / 3600 * 3600 * S;
	struct batch b;
	batch_init(&b);
	struct resource *r = arena_zalloc(&b.arena, sizeof(*r));
	r->service_name = "api";
	for (int i = 0; i < 30; i++) {
		struct metric_point *p = batch_add_point(&b);
		*p = pt("queue.depth", METRIC_GAUGE, 0, gauge_at(i));
		p->resource = r;
		p->time_ns = base + (uint64_t)i * 600 * S;
		p = batch_add_point(&b);
		*p = pt("jobs.done", METRIC_SUM, 0, counter_at(i));
		p->resource = r;
		p->time_ns = base + (uint64_t)i * 600 * S;
	}
	ok(store_write_sync(st, &b) == 0, "5 hours of points written");
	batch_release(&b);
	enum metrics_agg aggs[] = {METRICS_AVG, METRICS_MAX, METRICS_MIN, METRICS_SUM, METRICS_RATE};
	for (int k = 0; k < 5; k++) {
		const char *name = aggs[k] == METRICS_RATE ? "jobs.done" : "queue.depth";
		struct metrics_request q = {.name = name, .step_ns = 3600 * S, .agg = aggs[k]};
		q.f.from_ns = base + 25 * 60 * S;
		q.f.to_ns = base + 4 * 3600 * S + 35 * 60 * S;
		struct metrics_answer got, want;
		ok(metrics_query(st, &q, a, &got, err, sizeof(err)) == 0, "hours query: %s", err);
		struct metrics_acc *m = metrics_acc_new(&q, base, 5);
		for (int i = 0; i < 30; i++) {
			uint64_t t = base + (uint64_t)i * 600 * S;
			struct metric_point p = pt(name, aggs[k] == METRICS_RATE ? METRIC_SUM : METRIC_GAUGE,
						   0, aggs[k] == METRICS_RATE ? counter_at(i) : gauge_at(i));
			p.time_ns = t;
			if (t >= q.f.from_ns && t < q.f.to_ns)
				metrics_acc_point(m, 1, &p, 0, err, sizeof(err));
		}
		metrics_acc_answer(m, a, &want);
		int same = got.n_lines == 1 && want.n_lines == 1 && got.n_steps == want.n_steps;
		for (size_t t = 0; same && t < got.n_steps; t++)
			same = (isnan(got.lines[0].values[t]) && isnan(want.lines[0].values[t])) ||
			       tap_near(got.lines[0].values[t], want.lines[0].values[t]);
		ok(same, "agg %d: the hourly aggregates answer what the points do (%zu steps)", k,
		   got.n_steps);
		if (aggs[k] == METRICS_RATE) {
			is_int(want.resets, 1, "the points restart once");
			is_int(got.resets, 1,
			       "a restart inside an aggregated hour: in its increase, and counted");
		}
		metrics_acc_free(m);
	}
}

/* Through the store: a cumulative sum with a reset, written and read back. */
static void test_store(struct arena *a)
{
	char dir[64], err[256];
	snprintf(dir, sizeof(dir), "/tmp/hotpath-metrics-XXXXXX");
	if (!mkdtemp(dir)) {
		tap_skip("store round trip", "no temporary directory");
		return;
	}
	struct store *st;
	struct store_options o = {.dir = dir};
	if (!ok(store_open(&st, &o, err, sizeof(err)) == 0, "store opens: %s", err))
		return;
	struct batch b;
	batch_init(&b);
	struct resource *r = arena_zalloc(&b.arena, sizeof(*r));
	r->service_name = "api";
	double cum[] = {100, 130, 10, 40};
	uint64_t base = 1700000000ull / 60 * 60 * S;
	for (int i = 0; i < 4; i++) {
		struct metric_point *p = batch_add_point(&b);
		*p = pt("http.requests", METRIC_SUM, 0, cum[i]);
		p->resource = r;
		p->time_ns = base + (uint64_t)i * 10 * S;
	}
	ok(store_write_sync(st, &b) == 0, "points written");
	batch_release(&b);
	struct metrics_request q = {.name = "http.requests", .step_ns = 60 * S, .agg = METRICS_RATE};
	q.f.from_ns = base;
	q.f.to_ns = base + 60 * S;
	struct metrics_answer ans;
	ok(metrics_query(st, &q, a, &ans, err, sizeof(err)) == 0, "query: %s", err);
	ok(ans.n_lines == 1 && tap_near(ans.lines[0].values[0], 70.0 / 60) && ans.resets == 1,
	   "the store's series gives the same rate, one reset");
	struct metrics_name *names;
	size_t n;
	ok(metrics_list(st, &q.f, NULL, a, &names, &n, err, sizeof(err)) == 0 && n == 1 &&
		   !strcmp(names[0].name, "http.requests") && names[0].type == METRIC_SUM &&
		   names[0].series == 1,
	   "the series list names it, a cumulative sum");
	q.f.service = "other";
	ok(metrics_list(st, &q.f, NULL, a, &names, &n, err, sizeof(err)) == 0 && n == 0,
	   "another service's filter lists nothing");
	test_hours(st, a);
	store_close(st);
	temp_dir_remove(dir);
}

int main(void)
{
	struct arena a;
	arena_init(&a);
	test_arithmetic();
	test_rates(&a);
	test_histograms(&a);
	test_combining(&a);
	test_measures(&a);
	test_time_of_day();
	test_store(&a);
	arena_release(&a);
	return tap_done();
}
