/*
 * test_latency.c - latency analytics over rollup rows (src/analyze/latency.c).
 *
 * Rows are constructed from known durations (a seeded generator), one row
 * per (minute, service, status); every figure is checked against an exact
 * computation over the same durations: counts exactly, percentiles within
 * SKETCH_ALPHA of the exact rank quantile (sketch.h's definition), tier
 * restriction against the exact subset.  Then bins, grids, rows built from
 * spans, and the self-time breakdown on a hand-made trace.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/latency.h"
#include "tap.h"

#define MS	  1000000.0
#define MIN_NS	  60000000000ull
#define T0	  (1700000000ull / 60 * 60 * 1000000000ull) /* a whole minute */
#define N_VALUES  6000
#define N_MINUTES 5

static const char *const services[] = {"checkout", "orders", "search"};
static const char *const status_type[] = {NULL, "HTTP 500", "timeout"};

/* One request of the data set. */
struct value {
	double ns;
	int minute, service, status;
};

static struct value values[N_VALUES];

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

static int near_tier_edge(double ms)
{
	static const double edges[] = {100, 500, 2000};
	for (size_t i = 0; i < 3; i++)
		if (fabs(ms - edges[i]) < edges[i] * 0.02)
			return 1;
	return 0;
}

static void make_values(void)
{
	for (int i = 0; i < N_VALUES; i++) {
		double ms;
		do { /* lognormal around 150 ms, away from the tier edges */
			double z = sqrt(-2 * log(uniform() + 1e-300)) * cos(2 * M_PI * uniform());
			ms = 150 * exp(1.0 * z);
		} while (near_tier_edge(ms) || ms < 0.01);
		double u = uniform();
		values[i] = (struct value){.ns = round(ms * 1000) * 1000,
					   .minute = i % N_MINUTES,
					   .service = (i / N_MINUTES) % 3,
					   .status = u < 0.07  ? 1
						     : u < 0.1 ? 2
							       : 0};
	}
}

/* Rows: one per (minute, service, status), like the store's rollups. */
static struct rollup_row *make_rows(size_t *n)
{
	size_t cap = N_MINUTES * 3 * 3;
	struct rollup_row *rows = calloc(cap, sizeof(*rows));
	for (int m = 0; m < N_MINUTES; m++)
		for (int s = 0; s < 3; s++)
			for (int st = 0; st < 3; st++) {
				struct rollup_row *r = &rows[(m * 3 + s) * 3 + st];
				r->t_ns = T0 + (uint64_t)m * MIN_NS;
				r->service = services[s];
				r->endpoint = "GET /x";
				r->status = (uint8_t)st;
				r->error_type = status_type[st];
				sketch_init(&r->sketch);
			}
	for (int i = 0; i < N_VALUES; i++) {
		const struct value *v = &values[i];
		struct rollup_row *r = &rows[(v->minute * 3 + v->service) * 3 + v->status];
		sketch_add(&r->sketch, v->ns);
		r->tiers[request_tier_of((uint64_t)v->ns)]++;
		r->count++;
		r->sum_ns += (uint64_t)v->ns;
	}
	*n = cap;
	return rows;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The exact q-quantile (ms) of the values for which keep() holds. */
struct exact {
	double *v;
	size_t n;
	double sum;
	uint64_t by_status[3];
};

static void exact_collect(struct exact *e, int (*keep)(const struct value *, const void *), const void *arg)
{
	memset(e, 0, sizeof(*e));
	e->v = malloc(N_VALUES * sizeof(double));
	for (int i = 0; i < N_VALUES; i++)
		if (keep(&values[i], arg)) {
			e->v[e->n++] = values[i].ns;
			e->sum += values[i].ns;
			e->by_status[values[i].status]++;
		}
	qsort(e->v, e->n, sizeof(double), cmp_double);
}

static double exact_q(const struct exact *e, double q)
{
	size_t r = (size_t)ceil(q * (double)e->n);
	if (r < 1)
		r = 1;
	if (r > e->n)
		r = e->n;
	return e->v[r - 1] / MS;
}

static int keep_all(const struct value *v, const void *arg)
{
	return 1;
}

static int keep_service(const struct value *v, const void *arg)
{
	return v->service == *(const int *)arg;
}

static int keep_minute(const struct value *v, const void *arg)
{
	return v->minute == *(const int *)arg;
}

static int keep_range(const struct value *v, const void *arg)
{
	const double *lohi = arg;
	return v->ns >= lohi[0] && (!lohi[1] || v->ns < lohi[1]);
}

static const double qs[] = {0.5, 0.75, 0.9, 0.95, 0.99};

static void check_quantiles(const struct latency_stats *s, const struct exact *e, const char *what)
{
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double got = latency_stats_quantile_ms(s, qs[i]), want = exact_q(e, qs[i]);
		if (!ok(fabs(got - want) <= SKETCH_ALPHA * want, "%s: p%g within 1%%", what, qs[i] * 100))
			printf("#   got %.6f ms, want %.6f ms\n", got, want);
	}
}

static void test_summary(const struct rollup_row *rows, size_t n)
{
	struct latency_stats s;
	struct exact e;
	exact_collect(&e, keep_all, NULL);
	ok(latency_summary(&s, rows, n) == 0, "summary");
	is_int(s.count, N_VALUES, "summary: count");
	for (int st = 0; st < 3; st++)
		is_int(s.by_status[st], e.by_status[st], "summary: status %d count", st);
	double rate = latency_stats_error_rate(&s),
	       want = (double)(e.by_status[1] + e.by_status[2]) / N_VALUES;
	ok(rate == want, "summary: error rate %g == %g", rate, want);
	is_int(s.n_types, 2, "summary: two error types");
	ok(s.n_types == 2 && s.types[0].count >= s.types[1].count, "summary: types by count");
	for (size_t i = 0; i < s.n_types; i++)
		is_int(s.types[i].count, e.by_status[!strcmp(s.types[i].type, "timeout") ? 2 : 1],
		       "summary: type %s", s.types[i].type);
	check_quantiles(&s, &e, "summary");
	ok(latency_stats_max_ms(&s) == e.v[e.n - 1] / MS, "summary: max exact");
	ok(latency_stats_min_ms(&s) == e.v[0] / MS, "summary: min exact");
	ok(fabs(latency_stats_mean_ms(&s) - e.sum / (double)e.n / MS) < 1e-9, "summary: mean exact");
	latency_stats_release(&s);
	free(e.v);

	struct latency_stats empty;
	ok(latency_summary(&empty, rows, 0) == 0 && empty.count == 0, "summary of nothing");
	ok(isnan(latency_stats_quantile_ms(&empty, 0.5)) && isnan(latency_stats_error_rate(&empty)),
	   "empty: percentiles and error rate are NaN");
	latency_stats_release(&empty);
}

static void test_timeseries(const struct rollup_row *rows, size_t n)
{
	struct latency_grid g;
	struct latency_timeseries ts;
	/* a range from the middle of the minute before T0 to the end of the data */
	ok(latency_grid_init(&g, T0 - MIN_NS / 2, T0 + N_MINUTES * MIN_NS, 60) == 0, "grid");
	is_int(g.n, N_MINUTES + 1, "grid: buckets");
	is_int(g.t0_ns, T0 - MIN_NS, "grid: aligned start");
	is_int(latency_grid_index(&g, T0), 1, "grid: index");
	is_int(latency_grid_index(&g, T0 + N_MINUTES * MIN_NS), -1, "grid: end is outside");

	ok(latency_timeseries_build(&ts, rows, n, &g, LATENCY_BY_NONE, 0) == 0, "timeseries");
	is_int(ts.n_series, 1, "timeseries: one series");
	is_int(ts.series[0].points[0].count, 0, "timeseries: empty first bucket");
	for (int m = 0; m < N_MINUTES; m++) {
		struct exact e;
		char what[64];
		exact_collect(&e, keep_minute, &m);
		is_int(ts.series[0].points[m + 1].count, e.n, "timeseries: minute %d count", m);
		is_int(ts.series[0].points[m + 1].by_status[1], e.by_status[1],
		       "timeseries: minute %d errors", m);
		snprintf(what, sizeof(what), "timeseries minute %d", m);
		check_quantiles(&ts.series[0].points[m + 1], &e, what);
		free(e.v);
	}
	latency_timeseries_release(&ts);

	/* 5-minute step: everything in one or two buckets, counts add up */
	ok(latency_grid_init(&g, T0, T0 + N_MINUTES * MIN_NS, 300) == 0, "grid 300");
	ok(latency_timeseries_build(&ts, rows, n, &g, LATENCY_BY_NONE, 0) == 0, "timeseries 300");
	uint64_t sum = 0;
	for (size_t t = 0; t < g.n; t++)
		sum += ts.series[0].points[t].count;
	is_int(sum, N_VALUES, "timeseries 300: total");
	latency_timeseries_release(&ts);

	/* group by service, top 2: two series and "other" */
	ok(latency_grid_init(&g, T0, T0 + N_MINUTES * MIN_NS, 60) == 0, "grid");
	ok(latency_timeseries_build(&ts, rows, n, &g, LATENCY_BY_SERVICE, 2) == 0, "grouped");
	is_int(ts.n_series, 3, "grouped: 2 + other");
	ok(ts.series[2].other && !ts.series[0].other, "grouped: other last");
	ok(ts.series[0].total.count >= ts.series[1].total.count, "grouped: by count");
	for (int i = 0; i < 2; i++) {
		int svc = !strcmp(ts.series[i].key, "checkout") ? 0
			  : !strcmp(ts.series[i].key, "orders") ? 1
								: 2;
		struct exact e;
		exact_collect(&e, keep_service, &svc);
		is_int(ts.series[i].total.count, e.n, "grouped: %s count", ts.series[i].key);
		check_quantiles(&ts.series[i].total, &e, ts.series[i].key);
		free(e.v);
	}
	is_int(ts.series[0].total.count + ts.series[1].total.count + ts.series[2].total.count, N_VALUES,
	       "grouped: total");
	latency_timeseries_release(&ts);

	/* compare (every group, by service): p50/p95/p99 per row */
	ok(latency_timeseries_build(&ts, rows, n, &g, LATENCY_BY_SERVICE, 0) == 0, "compare");
	is_int(ts.n_series, 3, "compare: three rows");
	for (size_t i = 0; i < ts.n_series; i++) {
		int svc = !strcmp(ts.series[i].key, "checkout") ? 0
			  : !strcmp(ts.series[i].key, "orders") ? 1
								: 2;
		struct exact e;
		exact_collect(&e, keep_service, &svc);
		is_int(ts.series[i].total.count, e.n, "compare: %s count", ts.series[i].key);
		check_quantiles(&ts.series[i].total, &e, ts.series[i].key);
		uint64_t trend = 0;
		for (size_t t = 0; t < g.n; t++)
			trend += !isnan(latency_stats_quantile_ms(&ts.series[i].points[t], 0.95));
		is_int(trend, N_MINUTES, "compare: %s p95 per minute", ts.series[i].key);
		free(e.v);
	}
	latency_timeseries_release(&ts);

	/* by status: the dimension values are the class names */
	ok(latency_timeseries_build(&ts, rows, n, &g, LATENCY_BY_STATUS, 0) == 0, "by status");
	int seen = 0;
	for (size_t i = 0; i < ts.n_series; i++)
		seen |= (!strcmp(ts.series[i].key, "success") ? 1 : 0) |
			(!strcmp(ts.series[i].key, "error") ? 2 : 0) |
			(!strcmp(ts.series[i].key, "timeout") ? 4 : 0);
	is_int(seen, 7, "by status: success, error, timeout");
	latency_timeseries_release(&ts);

	ok(latency_grid_init(&g, T0, T0 + 3000 * MIN_NS, 60) < 0, "grid: too many buckets refused");
	is_int(latency_resolution(6 * 3600 * 1000000000ull), 60, "resolution: 6 h in minutes");
	is_int(latency_resolution(6 * 3600 * 1000000000ull + 1), 3600, "resolution: longer in hours");
	is_int(latency_auto_step(T0, T0 + 3600 * 1000000000ull, 60), 60, "auto step: 1 h by minutes");
	is_int(latency_auto_step(T0, T0 + 24 * 3600 * 1000000000ull, 3600), 3600, "auto step: 24 h by hours");
	uint64_t day = 24 * 3600 * 1000000000ull, t6h = T0 / (day / 4) * (day / 4);
	is_int(latency_auto_step(t6h, t6h + 30 * day, 3600), 21600,
	       "auto step: 30 d aligned, 120 buckets of 6 h");
	is_int(latency_auto_step(t6h + 1, t6h + 1 + 30 * day, 3600), 43200,
	       "auto step: 30 d unaligned needs 12 h");
}

static void test_tiers(const struct rollup_row *src, size_t n)
{
	static const double tiers[][2] = {
		{0, 100 * MS}, {100 * MS, 500 * MS}, {500 * MS, 2000 * MS}, {2000 * MS, 0}};
	static const char *const names[] = {"fast", "normal", "slow", "critical"};
	for (size_t t = 0; t < 4; t++) {
		struct rollup_row *rows = calloc(n, sizeof(*rows));
		for (size_t i = 0; i < n; i++) {
			rows[i] = src[i];
			sketch_init(&rows[i].sketch);
			sketch_merge(&rows[i].sketch, &src[i].sketch);
		}
		struct store_query q;
		struct latency_bounds b;
		struct latency_stats s;
		struct exact e;
		store_query_init(&q);
		q.min_duration_ns = (uint64_t)tiers[t][0];
		q.max_duration_ns = (uint64_t)tiers[t][1];
		q.max_exclusive = 1;
		latency_bounds_from_query(&b, &q);
		ok(latency_bounds_active(&b) == (t != 0 || tiers[t][1] != 0), "%s: bounds active", names[t]);
		ok(latency_rows_restrict(rows, n, &b) == 0, "%s: restrict", names[t]);
		latency_summary(&s, rows, n);
		exact_collect(&e, keep_range, tiers[t]);
		is_int(s.count, e.n, "%s: count", names[t]);
		for (int st = 0; st < 3; st++)
			is_int(s.by_status[st], e.by_status[st], "%s: status %d", names[t], st);
		if (e.n) {
			check_quantiles(&s, &e, names[t]);
			double mean = latency_stats_mean_ms(&s), want = e.sum / (double)e.n / MS;
			ok(fabs(mean - want) <= SKETCH_ALPHA * want, "%s: mean %g within 1%% of %g", names[t],
			   mean, want);
			ok(fabs(latency_stats_max_ms(&s) - e.v[e.n - 1] / MS) <=
				   SKETCH_ALPHA * e.v[e.n - 1] / MS,
			   "%s: max", names[t]);
		}
		latency_stats_release(&s);
		store_rollups_release(rows, n);
		free(rows);
		free(e.v);
	}

	/* nothing dropped: an exact copy */
	struct sketch a, c;
	struct latency_bounds all = {.lo_ns = 0, .hi_ns = 1e15, .hi_exclusive = 1};
	sketch_init(&a);
	sketch_init(&c);
	sketch_add(&a, 0.25);
	sketch_add(&a, 1234567);
	sketch_add(&a, 7654321);
	latency_sketch_restrict(&c, &a, &all);
	ok(c.count == 3 && c.sum == a.sum && c.min == a.min && c.max == a.max, "restrict: all kept is exact");
	sketch_release(&c);
	sketch_init(&c);
	struct latency_bounds above = {.lo_ns = 1e6};
	latency_sketch_restrict(&c, &a, &above);
	/* src's min was in the dropped zero bucket: the new min is its bucket's value */
	ok(c.count == 2 && c.zero_count == 0 && fabs(c.min - 1234567) <= SKETCH_ALPHA * 1234567 &&
		   c.max == 7654321,
	   "restrict: zero bucket dropped, min within 1%%, max exact (min %g max %g)", c.min, c.max);
	sketch_release(&c);
	sketch_init(&c);
	struct latency_bounds below = {.hi_ns = 1, .hi_exclusive = 1};
	latency_sketch_restrict(&c, &a, &below);
	ok(c.count == 1 && c.zero_count == 1 && c.min == 0.25 && c.max < SKETCH_MIN_VALUE,
	   "restrict: only the zero bucket");
	sketch_release(&c);
	sketch_release(&a);
}

/* ---- exact tier counts on a mix with values at the tier bounds ---------- */

#define EDGE_N 20000

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* 20,000 requests, 20 of them over 2 s, many within 1 % of a tier bound
 * on either side (the values that a sketch bucket straddling the bound
 * holds).  Durations in ns; *want gets the exact count per tier. */
static void make_edge_mix(uint64_t *d, uint64_t want[TIER_COUNT])
{
	static const uint64_t bounds[] = {100000000, 500000000, 2000000000};
	/* offsets around each bound, in ns: just below, on it, just above */
	static const int64_t near[] = {-1, 0, 1, -900000, 900000, -4000000, 4000000};
	size_t n = 0;
	memset(want, 0, TIER_COUNT * sizeof(*want));
	for (size_t b = 0; b < 3; b++)
		for (size_t k = 0; k < sizeof(near) / sizeof(near[0]); k++)
			for (int rep = 0; rep < (b == 2 ? 4 : 40); rep++) {
				int64_t off = near[k] * (b == 2 ? 5 : 1); /* ~1 % of 2 s */
				d[n++] = (uint64_t)((int64_t)bounds[b] + off);
			}
	/* the rest: 4 more over 2 s (20 in all: 16 above), the others below */
	for (int i = 0; i < 4; i++)
		d[n++] = 2500000000ull + (uint64_t)i * 700000000ull;
	while (n < EDGE_N) {
		double ms = 40 * exp(1.2 * sqrt(-2 * log(uniform() + 1e-300)) * cos(2 * M_PI * uniform()));
		if (ms < 0.01 || ms >= 1990)
			continue;
		d[n++] = (uint64_t)llround(ms * MS);
	}
	for (size_t i = 0; i < n; i++)
		want[request_tier_of(d[i])]++;
}

static void test_tier_edges(void)
{
	static uint64_t d[EDGE_N];
	uint64_t want[TIER_COUNT];
	struct arena a;
	struct latency_rowbuilder rb;
	struct rollup_row key = {.service = "checkout", .endpoint = "GET /x", .status = REQUEST_OK};
	make_edge_mix(d, want);
	is_int(want[TIER_CRITICAL], 20, "edge mix: 20 requests at or over 2 s");
	is_int(request_tier_of(1999999999), TIER_SLOW, "1999.999999 ms is slow");
	is_int(request_tier_of(2000000000), TIER_CRITICAL, "2000 ms is critical");
	is_int(request_tier_of(99999999), TIER_FAST, "99.999999 ms is fast");
	is_int(request_tier_of(100000000), TIER_NORMAL, "100 ms is normal");
	arena_init(&a);
	latency_rowbuilder_init(&rb, &a, 60);
	for (size_t i = 0; i < EDGE_N; i++) /* spread over three minutes */
		latency_rowbuilder_add(&rb, &key, T0 + (uint64_t)(i % 3) * MIN_NS, d[i]);
	for (int t = 0; t < TIER_COUNT; t++) {
		const char *name = request_tier_names[t];
		struct rollup_row *rows = calloc(rb.n, sizeof(*rows));
		struct latency_bounds b = {.lo_ns = (double)request_tier_lo_ns[t],
					   .hi_ns = t < TIER_CRITICAL ? (double)request_tier_lo_ns[t + 1] : 0,
					   .hi_exclusive = 1};
		uint64_t bucket_count = 0;
		for (size_t i = 0; i < rb.n; i++) {
			struct sketch by_value;
			sketch_init(&by_value);
			latency_sketch_restrict(&by_value, &rb.rows[i].sketch, &b);
			bucket_count += sketch_count(&by_value);
			sketch_release(&by_value);
			rows[i] = rb.rows[i];
			sketch_init(&rows[i].sketch);
			sketch_merge(&rows[i].sketch, &rb.rows[i].sketch);
		}
		int first, last;
		ok(latency_bounds_tiers(&b, &first, &last) && first == t && last == t,
		   "%s: bounds are one tier", name);
		struct latency_stats s;
		latency_rows_restrict(rows, rb.n, &b);
		latency_summary(&s, rows, rb.n);
		is_int(s.count, want[t], "%s: exact count", name);
		is_int(s.by_tier[t], want[t], "%s: by_tier", name);
		is_int(sketch_count(&s.sketch), want[t], "%s: the restricted sketch holds exactly the tier",
		       name);
		if (t) /* the straddling buckets: by bucket values alone the count is off */
			ok(bucket_count != want[t], "%s: bucket values alone would count %llu", name,
			   (unsigned long long)bucket_count);
		/* exact quantiles of the tier's values */
		uint64_t *v = malloc(EDGE_N * sizeof(*v));
		size_t m = 0;
		for (size_t i = 0; i < EDGE_N; i++)
			if (request_tier_of(d[i]) == (enum request_tier)t)
				v[m++] = d[i];
		qsort(v, m, sizeof(*v), cmp_u64);
		for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]) && m; i++) {
			size_t r = (size_t)ceil(qs[i] * (double)m);
			double wq = (double)v[(r < 1 ? 1 : r > m ? m : r) - 1] / MS;
			double got = latency_stats_quantile_ms(&s, qs[i]);
			ok(fabs(got - wq) <= SKETCH_ALPHA * wq, "%s: p%g %.6f within 1%% of %.6f", name,
			   qs[i] * 100, got, wq);
		}
		ok(m && latency_stats_min_ms(&s) >= (double)request_tier_lo_ns[t] / MS &&
			   (t == TIER_CRITICAL ||
			    latency_stats_max_ms(&s) < (double)request_tier_lo_ns[t + 1] / MS),
		   "%s: min and max inside the tier", name);
		free(v);
		latency_stats_release(&s);
		store_rollups_release(rows, rb.n);
		free(rows);
	}
	/* two tiers at once (min_duration_ms=500): slow + critical */
	struct latency_bounds two = {.lo_ns = 500 * MS};
	int first, last;
	ok(latency_bounds_tiers(&two, &first, &last) && first == TIER_SLOW && last == TIER_CRITICAL,
	   "min 500 ms: the slow and critical tiers");
	struct latency_bounds cut = {.lo_ns = 150 * MS};
	ok(!latency_bounds_tiers(&cut, &first, &last), "min 150 ms: not whole tiers");
	/* tier counts that do not add up: restricted by bucket values instead */
	struct sketch src, dst;
	uint64_t bad[TIER_COUNT] = {1, 0, 0, 0};
	sketch_init(&src);
	sketch_init(&dst);
	sketch_add(&src, 50 * MS);
	sketch_add(&src, 3000 * MS);
	is_int(latency_sketch_restrict_tiers(&dst, &src, bad, TIER_CRITICAL, TIER_CRITICAL), 1,
	       "inconsistent tier counts are refused");
	is_int(sketch_count(&dst), 0, "and nothing is added");
	sketch_release(&src);
	sketch_release(&dst);
	store_rollups_release(rb.rows, rb.n);
	latency_rowbuilder_release(&rb);
	arena_release(&a);
}

static void test_bins(const struct rollup_row *rows, size_t n)
{
	struct latency_stats s;
	latency_summary(&s, rows, n);
	for (unsigned want = 2; want <= 200; want = want * 3 + 1) {
		struct latency_bins b;
		latency_bins_plan(&b, &s.sketch, want);
		uint64_t *counts = calloc(b.n, sizeof(*counts)), sum = 0;
		latency_bins_count(&b, &s.sketch, counts);
		int contiguous = 1, holds = 1;
		for (size_t i = 0; i < b.n; i++) {
			double lo, hi, plo, phi;
			sum += counts[i];
			latency_bins_edges(&b, i, &lo, &hi);
			if (i) {
				latency_bins_edges(&b, i - 1, &plo, &phi);
				contiguous &= fabs(lo - phi) <= 1e-9 * lo;
			}
		}
		/* each value lies in its bin: recount from the values */
		uint64_t *recount = calloc(b.n, sizeof(*recount));
		for (int i = 0; i < N_VALUES; i++)
			for (size_t j = 0; j < b.n; j++) {
				double lo, hi;
				latency_bins_edges(&b, j, &lo, &hi);
				if (values[i].ns > lo && values[i].ns <= hi) {
					recount[j]++;
					break;
				}
			}
		for (size_t j = 0; j < b.n; j++)
			holds &= recount[j] == counts[j];
		ok(b.n <= want && b.n >= 1, "bins %u: %zu bins", want, b.n);
		is_int(sum, N_VALUES, "bins %u: counts sum to the count", want);
		ok(contiguous, "bins %u: contiguous", want);
		ok(holds, "bins %u: every value in its bin", want);
		ok(fabs(latency_bins_ratio(&b) - pow(1.01 / 0.99, b.width)) < 1e-12, "bins %u: ratio", want);
		free(counts);
		free(recount);
	}
	latency_stats_release(&s);

	struct sketch z;
	struct latency_bins b;
	uint64_t counts[4] = {0};
	sketch_init(&z);
	sketch_add_n(&z, 0.5, 3);
	sketch_add(&z, 1000);
	latency_bins_plan(&b, &z, 3);
	latency_bins_count(&b, &z, counts);
	ok(b.zero && b.n == 2 && counts[0] == 3 && counts[1] == 1, "bins: zero bin first (%zu bins)", b.n);
	sketch_release(&z);
}

static void test_rowbuilder(void)
{
	struct arena a;
	struct latency_rowbuilder rb;
	struct rollup_row key = {.service = "checkout", .endpoint = "GET /x", .status = REQUEST_OK};
	struct rollup_row key2 = {.service = "checkout",
				  .endpoint = "GET /x",
				  .status = REQUEST_ERROR,
				  .error_type = "HTTP 500"};
	struct rollup_row key3 = {.service = "checkout", .endpoint = NULL, .status = REQUEST_OK};
	arena_init(&a);
	latency_rowbuilder_init(&rb, &a, 60);
	for (int i = 0; i < 100; i++)
		latency_rowbuilder_add(&rb, i % 10 ? &key : &key2, T0 + (uint64_t)(i % 2) * MIN_NS + 5,
				       1000000 + i);
	latency_rowbuilder_add(&rb, &key3, T0, 5);
	/* key in both minutes, key2 (even i only) in the first, key3 once */
	is_int(rb.n, 4, "rowbuilder: rows per (minute, key)");
	uint64_t total = 0;
	for (size_t i = 0; i < rb.n; i++) {
		total += rb.rows[i].count;
		ok(rb.rows[i].t_ns == T0 || rb.rows[i].t_ns == T0 + MIN_NS, "rowbuilder: bucket start");
		ok(rb.rows[i].count == sketch_count(&rb.rows[i].sketch), "rowbuilder: count matches sketch");
	}
	is_int(total, 101, "rowbuilder: total");
	store_rollups_release(rb.rows, rb.n);
	latency_rowbuilder_release(&rb);
	arena_release(&a);
}

static void span(struct latency_span *s, int trace, int id, int parent, uint64_t start, uint64_t end,
		 const char *name, int selected)
{
	memset(s, 0, sizeof(*s));
	s->trace_id[15] = (uint8_t)trace;
	s->span_id[7] = (uint8_t)id;
	s->parent_span_id[7] = (uint8_t)parent;
	s->start_ns = start;
	s->end_ns = end;
	s->service = "svc";
	s->name = name;
	s->selected = (uint8_t)selected;
}

static const struct latency_phase *phase(const struct latency_breakdown *b, const char *name)
{
	for (size_t i = 0; i < b->n_rows; i++)
		if (!strcmp(b->rows[i].name, name))
			return &b->rows[i];
	return NULL;
}

static void test_breakdown(void)
{
	struct latency_span s[10];
	struct latency_breakdown b;
	/* trace 1: root 0..100 with children a 10..40 and b 30..60 (overlap),
	 * c 90..120 (ends after the root); grandchild under a 15..25;
	 * a nested selected SERVER span d 62..80 under the root.
	 * trace 2: not selected.  trace 3: a parent cycle, selected. */
	span(&s[0], 1, 1, 0, 0, 100, "root", 1);
	span(&s[1], 1, 2, 1, 10, 40, "a", 0);
	span(&s[2], 1, 3, 1, 30, 60, "b", 0);
	span(&s[3], 1, 4, 1, 90, 120, "c", 0);
	span(&s[4], 1, 5, 2, 15, 25, "grand", 0);
	span(&s[5], 1, 6, 1, 62, 80, "d", 1);
	span(&s[6], 2, 1, 0, 0, 50, "other-root", 0);
	span(&s[7], 3, 1, 2, 0, 10, "cycle-a", 1);
	span(&s[8], 3, 2, 1, 0, 10, "cycle-b", 0);
	span(&s[9], 1, 7, 9, 0, 10, "orphan", 0);
	ok(latency_breakdown_build(&b, s, 10) == 0, "breakdown");
	is_int(b.spans, 8, "breakdown: spans counted (trace 2 and the orphan left out)");
	/* trace 3 is garbage (a parent cycle): it must neither hang nor count
	 * a request twice; which of its spans is "top level" is arbitrary. */
	ok(b.requests >= 1 && b.requests + b.nested == 3, "breakdown: requests %zu + nested %zu", b.requests,
	   b.nested);
	const struct latency_phase *p;
	/* root: 100 - union(10..60, 62..80, 90..100) = 100 - 50 - 18 - 10 = 22 */
	p = phase(&b, "root");
	ok(p && p->total_ns == 22, "breakdown: root self 22 (%g)", p ? p->total_ns : -1);
	p = phase(&b, "a");
	ok(p && p->total_ns == 20, "breakdown: a self 20");
	p = phase(&b, "b");
	ok(p && p->total_ns == 30, "breakdown: b self 30");
	p = phase(&b, "c");
	ok(p && p->total_ns == 30, "breakdown: c self 30");
	p = phase(&b, "grand");
	ok(p && p->total_ns == 10, "breakdown: grand self 10");
	ok(!phase(&b, "other-root") && !phase(&b, "orphan"), "breakdown: unselected traces left out");
	p = phase(&b, "d");
	ok(p && p->total_ns == 18, "breakdown: nested d self 18");
	double trace1 = 22 + 20 + 30 + 30 + 10 + 18;
	ok(b.total_ns >= trace1 && b.total_ns <= trace1 + 20, "breakdown: total %g", b.total_ns);
	ok(b.rows[0].total_ns >= b.rows[b.n_rows - 1].total_ns, "breakdown: rows by total");
	latency_breakdown_release(&b);

	ok(latency_breakdown_build(&b, s, 0) == 0 && b.n_rows == 0, "breakdown of nothing");
	latency_breakdown_release(&b);
}

static void test_dims(void)
{
	enum latency_dim d;
	ok(latency_dim_parse("environment", &d) == 0 && d == LATENCY_BY_ENV, "dim: environment alias");
	ok(latency_dim_parse("team", &d) == 0 && d == LATENCY_BY_DEPARTMENT, "dim: team alias");
	ok(latency_dim_parse("colour", &d) < 0, "dim: unknown refused");
	is_str(latency_dim_name(LATENCY_BY_ERROR_TYPE), "error_type", "dim: name");
	ok(latency_dim_name(LATENCY_BY_NONE) == NULL, "dim: none has no name");
}

int main(void)
{
	size_t n;
	make_values();
	struct rollup_row *rows = make_rows(&n);
	test_summary(rows, n);
	test_timeseries(rows, n);
	test_tiers(rows, n);
	test_tier_edges();
	test_bins(rows, n);
	test_rowbuilder();
	test_breakdown();
	test_dims();
	store_rollups_release(rows, n);
	free(rows);
	return tap_done();
}
