/*
 * changes.c - durations, first appearances and series for the answers on
 * change over time (see changes.h).
 */
#include "query/changes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/latency.h"
#include "core/clock.h"

#define ROLLUP_MINUTE_S 60u
#define ROLLUP_HOUR_S	3600u

/* Requests of each of `k` equal slices of q's range, from the rollups
 * (a bucket counts in the slice holding its start). */
static int slice_counts(struct store *s, const struct store_query *q, size_t k, uint64_t *counts, char *err,
			size_t errlen)
{
	struct rollup_row *rows = NULL;
	size_t nr = 0;
	struct arena a;
	arena_init(&a);
	int rc = store_rollups(s, q, latency_resolution(q->to_ns - q->from_ns), &a, &rows, &nr, err, errlen);
	memset(counts, 0, k * sizeof(*counts));
	uint64_t len = q->to_ns - q->from_ns;
	for (size_t i = 0; rc == 0 && i < nr; i++) {
		uint64_t t = rows[i].t_ns < q->from_ns ? q->from_ns : rows[i].t_ns;
		size_t j =
			t >= q->to_ns ? k - 1 : (size_t)((double)(t - q->from_ns) / (double)len * (double)k);
		counts[j < k ? j : k - 1] += rows[i].count;
	}
	store_rollups_release(rows, nr);
	arena_release(&a);
	return rc < 0 ? ERR_INTERNAL : 0;
}

/* Append the durations of `rows` to d (capacity already there). */
static void put_durations(double *d, size_t *m, const struct request_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[(*m)++] = (double)rows[i].duration_ns / 1e6;
}

int changes_durations(struct store *s, const struct store_query *q, unsigned limit, struct arena *a,
		      double **out, size_t *n, char *err, size_t errlen)
{
	enum { SLICES = 24 };
	struct store_query sq = *q;
	struct request_row *rows;
	uint64_t counts[SLICES], total = 0, failed;
	size_t got, m = 0;
	if (limit == 0 || limit > CHANGES_MAX_SAMPLE)
		limit = CHANGES_MAX_SAMPLE;
	double *d = arena_alloc(a, sizeof(double) * limit);
	*out = d;
	*n = 0;
	sq.order = STORE_NEWEST;
	sq.ids_only = 1;
	if (changes_counts(s, q, &total, &failed, err, errlen) < 0)
		return ERR_INTERNAL;
	if (total <= limit || q->to_ns - q->from_ns < SLICES) {
		sq.limit = limit;
		if (store_search(s, &sq, a, &rows, &got, err, errlen) < 0)
			return ERR_INTERNAL;
		put_durations(d, &m, rows, got);
		*n = m;
		return 0;
	}
	/* a sample stratified in time: each slice of the range gives its share
	 * of `limit`, its newest requests */
	if (slice_counts(s, q, SLICES, counts, err, errlen) < 0)
		return ERR_INTERNAL;
	uint64_t len = q->to_ns - q->from_ns;
	for (size_t j = 0; j < SLICES; j++) {
		unsigned want = (unsigned)((double)limit * (double)counts[j] / (double)total);
		if (want == 0 || m + want > limit)
			want = (unsigned)(limit - m < want ? limit - m : want);
		if (want == 0)
			continue;
		sq.from_ns = q->from_ns + len / SLICES * j;
		sq.to_ns = j + 1 == SLICES ? q->to_ns : q->from_ns + len / SLICES * (j + 1);
		sq.limit = want;
		if (store_search(s, &sq, a, &rows, &got, err, errlen) < 0)
			return ERR_INTERNAL;
		put_durations(d, &m, rows, got);
	}
	*n = m;
	return 0;
}

int changes_counts(struct store *s, const struct store_query *q, uint64_t *total, uint64_t *failed, char *err,
		   size_t errlen)
{
	struct store_query sq = *q;
	struct rollup_row *rows = NULL;
	size_t nr = 0;
	struct arena a;
	arena_init(&a);
	sq.status = -1;
	if (store_rollups(s, &sq, latency_resolution(q->to_ns - q->from_ns), &a, &rows, &nr, err, errlen) <
	    0) {
		arena_release(&a);
		return ERR_INTERNAL;
	}
	*total = *failed = 0;
	for (size_t i = 0; i < nr; i++) {
		*total += rows[i].count;
		if (rows[i].status != REQUEST_OK)
			*failed += rows[i].count;
	}
	store_rollups_release(rows, nr);
	arena_release(&a);
	return 0;
}

static int cmp_first_seen(const void *pa, const void *pb)
{
	const struct changes_first_seen *x = pa, *y = pb;
	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	int c = strcmp(x->service, y->service);
	return c ? c : strcmp(x->version, y->version);
}

static int same_str(const char *x, const char *y)
{
	return x == y || (x && y && !strcmp(x, y));
}

int changes_first_seen(struct store *s, const struct store_query *q, unsigned res, struct arena *a,
		       struct changes_first_seen **out, size_t *n, char *err, size_t errlen)
{
	struct rollup_row *rows = NULL;
	size_t nr = 0, m = 0, cap = 0;
	struct changes_first_seen *fs = NULL;
	if (store_rollups(s, q, res, a, &rows, &nr, err, errlen) < 0)
		return ERR_INTERNAL;
	for (size_t i = 0; i < nr; i++) {
		const struct rollup_row *r = &rows[i];
		if (!r->version || !r->service)
			continue;
		size_t j = 0;
		while (j < m && !(same_str(fs[j].service, r->service) && same_str(fs[j].env, r->env) &&
				  same_str(fs[j].version, r->version)))
			j++;
		if (j == m) {
			fs = arena_grow(a, fs, &cap, m + 1, sizeof(*fs));
			fs[m++] = (struct changes_first_seen){
				.service = r->service, .env = r->env, .version = r->version, .t_ns = r->t_ns};
		}
		if (r->t_ns < fs[j].t_ns)
			fs[j].t_ns = r->t_ns;
		fs[j].requests += r->count;
	}
	store_rollups_release(rows, nr);
	if (m)
		qsort(fs, m, sizeof(*fs), cmp_first_seen);
	*out = fs;
	*n = m;
	return 0;
}

static int seen_in(const struct changes_first_seen *v, size_t n, const struct changes_first_seen *x)
{
	for (size_t i = 0; i < n; i++)
		if (same_str(v[i].service, x->service) && same_str(v[i].env, x->env) &&
		    same_str(v[i].version, x->version))
			return 1;
	return 0;
}

int changes_deployments(struct store *s, const struct store_query *q, uint64_t lookback_ns, struct arena *a,
			struct changes_first_seen **out, size_t *n, char *err, size_t errlen)
{
	struct store_query before_h = *q, before_m = *q;
	struct changes_first_seen *in, *bh = NULL, *bm = NULL;
	size_t n_in, n_bh = 0, n_bm = 0, m = 0;
	uint64_t hour = q->from_ns - q->from_ns % NS_PER_HOUR;
	before_h.from_ns = q->from_ns > lookback_ns ? q->from_ns - lookback_ns : 0;
	before_h.to_ns = hour;
	before_m.from_ns = hour;
	before_m.to_ns = q->from_ns;
	if (changes_first_seen(s, q, latency_resolution(q->to_ns - q->from_ns), a, &in, &n_in, err, errlen) <
		    0 ||
	    (before_h.to_ns > before_h.from_ns &&
	     changes_first_seen(s, &before_h, ROLLUP_HOUR_S, a, &bh, &n_bh, err, errlen) < 0) ||
	    (before_m.to_ns > before_m.from_ns &&
	     changes_first_seen(s, &before_m, ROLLUP_MINUTE_S, a, &bm, &n_bm, err, errlen) < 0))
		return ERR_INTERNAL;
	for (size_t i = 0; i < n_in; i++)
		if (in[i].t_ns >= q->from_ns - q->from_ns % (ROLLUP_MINUTE_S * NS_PER_S) &&
		    !seen_in(bh, n_bh, &in[i]) && !seen_in(bm, n_bm, &in[i]))
			in[m++] = in[i];
	*out = in;
	*n = m;
	return 0;
}

/* One series from a latency series on grid g. */
static void fill_series(struct changes_series *cs, const struct latency_series *ls,
			const struct latency_grid *g, struct arena *a)
{
	cs->n = g->n;
	cs->t0_ns = g->t0_ns;
	cs->step_ns = g->step_ns;
	cs->count = arena_alloc(a, sizeof(uint64_t) * (g->n ? g->n : 1));
	cs->errors = arena_alloc(a, sizeof(uint64_t) * (g->n ? g->n : 1));
	cs->p95_ms = arena_alloc(a, sizeof(double) * (g->n ? g->n : 1));
	cs->total = ls->total.count;
	cs->p95_total_ms = latency_stats_quantile_ms(&ls->total, 0.95);
	for (size_t t = 0; t < g->n; t++) {
		const struct latency_stats *p = &ls->points[t];
		cs->count[t] = p->count;
		cs->errors[t] = p->by_status[REQUEST_ERROR] + p->by_status[REQUEST_TIMEOUT];
		cs->p95_ms[t] = latency_stats_quantile_ms(p, 0.95);
	}
}

static int cmp_row_service(const void *pa, const void *pb)
{
	const struct rollup_row *x = pa, *y = pb;
	return strcmp(x->service ? x->service : "", y->service ? y->service : "");
}

struct series_out {
	struct changes_series *v;
	size_t n, cap;
};

/* Append the series of rows[0..n) grouped by `by` (service or endpoint). */
static int add_grouped(struct series_out *o, const struct rollup_row *rows, size_t n,
		       const struct latency_grid *g, enum latency_dim by, size_t top, const char *service,
		       struct arena *a)
{
	struct latency_timeseries ts = {0};
	if (latency_timeseries_build(&ts, rows, n, g, by, top) < 0)
		return -1;
	for (size_t i = 0; i < ts.n_series; i++) {
		const struct latency_series *ls = &ts.series[i];
		if (ls->other || !ls->key)
			continue;
		o->v = arena_grow(a, o->v, &o->cap, o->n + 1, sizeof(*o->v));
		struct changes_series *cs = &o->v[o->n++];
		memset(cs, 0, sizeof(*cs));
		cs->service = by == LATENCY_BY_SERVICE ? arena_strdup(a, ls->key) : service;
		cs->endpoint = by == LATENCY_BY_ENDPOINT ? arena_strdup(a, ls->key) : NULL;
		fill_series(cs, ls, g, a);
	}
	latency_timeseries_release(&ts);
	return 0;
}

int changes_series_load(struct store *s, const struct store_query *q, unsigned step_s, int endpoints,
			size_t top, struct arena *a, struct changes_series **out, size_t *n, char *err,
			size_t errlen)
{
	struct rollup_row *rows = NULL;
	size_t nr = 0;
	struct latency_grid g;
	struct series_out o = {0};
	int rc = ERR_INTERNAL;
	unsigned res = latency_resolution(q->to_ns - q->from_ns);
	if (step_s % res || latency_grid_init(&g, q->from_ns, q->to_ns, step_s) < 0) {
		snprintf(err, errlen, "step %u s: must be a multiple of %u s and give at most %d buckets",
			 step_s, res, LATENCY_MAX_BUCKETS);
		return ERR_INVALID;
	}
	if (store_rollups(s, q, res, a, &rows, &nr, err, errlen) < 0)
		return ERR_INTERNAL;
	if (nr)
		qsort(rows, nr, sizeof(*rows), cmp_row_service);
	if (add_grouped(&o, rows, nr, &g, LATENCY_BY_SERVICE, 0, NULL, a) < 0)
		goto fail;
	for (size_t lo = 0, hi; endpoints && lo < nr; lo = hi) {
		for (hi = lo + 1; hi < nr && !cmp_row_service(&rows[lo], &rows[hi]); hi++)
			;
		if (rows[lo].service && add_grouped(&o, rows + lo, hi - lo, &g, LATENCY_BY_ENDPOINT, top,
						    rows[lo].service, a) < 0)
			goto fail;
	}
	rc = 0;
	*out = o.v;
	*n = o.n;
	goto out;
fail:
	snprintf(err, errlen, "counts overflow");
out:
	store_rollups_release(rows, nr);
	return rc;
}

static int cmp_group(const void *pa, const void *pb)
{
	const struct changes_error_group *x = pa, *y = pb;
	return x->count != y->count ? (x->count > y->count ? -1 : 1) : strcmp(x->service, y->service);
}

int changes_error_groups(struct store *s, const struct store_query *q, struct arena *a,
			 struct changes_error_group **out, size_t *n, char *err, size_t errlen)
{
	struct rollup_row *rows = NULL;
	size_t nr = 0, m = 0, cap = 0;
	struct changes_error_group *g = NULL;
	if (store_rollups(s, q, latency_resolution(q->to_ns - q->from_ns), a, &rows, &nr, err, errlen) < 0)
		return ERR_INTERNAL;
	for (size_t i = 0; i < nr; i++) {
		const struct rollup_row *r = &rows[i];
		if (r->status == REQUEST_OK || !r->service)
			continue;
		size_t j = 0;
		while (j < m && !(g[j].status == r->status && same_str(g[j].service, r->service) &&
				  same_str(g[j].error_type, r->error_type)))
			j++;
		if (j == m) {
			g = arena_grow(a, g, &cap, m + 1, sizeof(*g));
			g[m++] = (struct changes_error_group){
				.error_type = r->error_type, .service = r->service, .status = r->status};
		}
		g[j].count += r->count;
	}
	store_rollups_release(rows, nr);
	if (m)
		qsort(g, m, sizeof(*g), cmp_group);
	*out = g;
	*n = m;
	return 0;
}

int changes_endpoints(struct store *s, const struct store_query *q, struct arena *a, const char ***out,
		      size_t *n, char *err, size_t errlen)
{
	struct rollup_row *rows = NULL;
	size_t nr = 0, m = 0, cap = 0;
	const char **v = NULL;
	if (store_rollups(s, q, latency_resolution(q->to_ns - q->from_ns), a, &rows, &nr, err, errlen) < 0)
		return ERR_INTERNAL;
	for (size_t i = 0; i < nr; i++) {
		size_t j = 0;
		if (!rows[i].endpoint)
			continue;
		while (j < m && strcmp(v[j], rows[i].endpoint))
			j++;
		if (j < m)
			continue;
		v = arena_grow(a, v, &cap, m + 1, sizeof(*v));
		v[m++] = rows[i].endpoint;
	}
	store_rollups_release(rows, nr);
	*out = v;
	*n = m;
	return 0;
}
