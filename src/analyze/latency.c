/*
 * latency.c - latency analytics over rollup rows (see latency.h).
 *
 * Everything here merges DDSketches: per group, per time bucket, per tier.
 * It owns no storage and no wire format; the routes in
 * src/server/routes_perf.c load rows (rollups, or src/query/rawrows.h) and
 * print the results.
 */
#include "analyze/latency.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"

/* ---- duration bounds ---------------------------------------------------- */

void latency_bounds_from_query(struct latency_bounds *b, const struct store_query *q)
{
	b->lo_ns = (double)q->min_duration_ns;
	b->hi_ns = (double)q->max_duration_ns;
	b->hi_exclusive = q->max_duration_ns ? q->max_exclusive : 0;
}

int latency_bounds_active(const struct latency_bounds *b)
{
	return b->lo_ns > 0 || b->hi_ns > 0;
}

int latency_bounds_contain(const struct latency_bounds *b, double ns)
{
	if (ns < b->lo_ns)
		return 0;
	if (b->hi_ns > 0 && (b->hi_exclusive ? ns >= b->hi_ns : ns > b->hi_ns))
		return 0;
	return 1;
}

int latency_sketch_restrict(struct sketch *dst, const struct sketch *src, const struct latency_bounds *b)
{
	uint64_t kept = 0;
	double sum = 0;
	int keep_zero = src->zero_count && latency_bounds_contain(b, 0);
	int32_t lo_kept = INT32_MAX, hi_kept = INT32_MIN;

	if (keep_zero)
		kept += src->zero_count;
	for (int32_t i = src->lo; i <= src->hi; i++) {
		uint64_t c = src->counts[i - src->base];
		if (!c || !latency_bounds_contain(b, sketch_bucket_value(i)))
			continue;
		kept += c;
		if (i < lo_kept)
			lo_kept = i;
		hi_kept = i;
	}
	if (kept == src->count) /* nothing dropped: exact copy */
		return sketch_merge(dst, src);
	if (!kept)
		return 0;

	if (keep_zero && sketch_add_n(dst, 0, src->zero_count) < 0)
		return -1;
	for (int32_t i = lo_kept; i <= hi_kept; i++) {
		uint64_t c = src->counts[i - src->base];
		double v = sketch_bucket_value(i);
		if (!c || !latency_bounds_contain(b, v))
			continue;
		if (sketch_add_n(dst, v, c) < 0)
			return -1;
		sum += v * (double)c;
	}
	/* Extremes: exact when src's own lie in a kept bucket. */
	if (keep_zero && src->min < SKETCH_MIN_VALUE)
		dst->min = src->min;
	else if (!keep_zero && src->min >= SKETCH_MIN_VALUE && sketch_index(src->min) == lo_kept)
		dst->min = src->min;
	if (hi_kept != INT32_MIN && src->max >= SKETCH_MIN_VALUE && sketch_index(src->max) == hi_kept)
		dst->max = src->max;
	else if (hi_kept == INT32_MIN && src->max < SKETCH_MIN_VALUE)
		dst->max = src->max;
	dst->sum = sum; /* zero bucket values count as 0 */
	return 0;
}

int latency_bounds_tiers(const struct latency_bounds *b, int *first, int *last)
{
	*first = *last = -1;
	for (int t = 0; t < TIER_COUNT; t++) {
		double lo = (double)request_tier_lo_ns[t];
		if (b->lo_ns == lo)
			*first = t;
		if (t && b->hi_ns == lo && b->hi_exclusive)
			*last = t - 1;
	}
	if (b->hi_ns == 0)
		*last = TIER_CRITICAL;
	return *first >= 0 && *last >= *first;
}

/* Tier filling for latency_sketch_restrict_tiers(). */
struct tier_fill {
	struct sketch *dst;
	uint64_t left[TIER_COUNT];
	int t, first, last;
	double lo, hi; /* the kept values: [lo, hi) */
	double sum;
};

/* Hand `c` values of bucket value `v` to the tiers in order.  0 or -1. */
static int tier_fill_add(struct tier_fill *f, double v, uint64_t c)
{
	while (c) {
		while (f->t < TIER_COUNT && !f->left[f->t])
			f->t++;
		if (f->t == TIER_COUNT)
			return -1;
		uint64_t take = c < f->left[f->t] ? c : f->left[f->t];
		f->left[f->t] -= take;
		c -= take;
		if (f->t < f->first || f->t > f->last)
			continue;
		double x = v < f->lo ? f->lo : v >= f->hi ? nextafter(f->hi, 0) : v;
		if (sketch_add_n(f->dst, x, take) < 0)
			return -1;
		f->sum += x * (double)take;
	}
	return 0;
}

int latency_sketch_restrict_tiers(struct sketch *dst, const struct sketch *src,
				  const uint64_t tiers[TIER_COUNT], int first, int last)
{
	struct tier_fill f = {.dst = dst, .first = first, .last = last};
	uint64_t total = 0, kept = 0;
	for (int t = 0; t < TIER_COUNT; t++) {
		f.left[t] = tiers[t];
		total += tiers[t];
		kept += t >= first && t <= last ? tiers[t] : 0;
	}
	if (total != src->count)
		return 1;
	if (kept == src->count)
		return sketch_merge(dst, src);
	if (!kept)
		return 0;
	f.lo = (double)request_tier_lo_ns[first];
	f.hi = last < TIER_CRITICAL ? (double)request_tier_lo_ns[last + 1] : INFINITY;
	if (src->zero_count && tier_fill_add(&f, 0, src->zero_count) < 0)
		return -1;
	for (int32_t i = src->lo; i <= src->hi; i++) {
		uint64_t c = src->counts[i - src->base];
		if (c && tier_fill_add(&f, sketch_bucket_value(i), c) < 0)
			return -1;
	}
	/* Extremes: exact when src's own lie in the kept tiers. */
	if (src->min >= f.lo && src->min < f.hi)
		dst->min = src->min;
	if (src->max >= f.lo && src->max < f.hi)
		dst->max = src->max;
	dst->sum = f.sum;
	return 0;
}

static int row_restrict(struct rollup_row *r, const struct latency_bounds *b, int tiers, int first, int last)
{
	struct sketch s;
	char err[128];
	int rc = 1;
	if (rollup_row_decode(r, err, sizeof(err)) < 0)
		return -1;
	sketch_init(&s);
	if (tiers)
		rc = latency_sketch_restrict_tiers(&s, &r->sketch, r->tiers, first, last);
	if (rc == 1)
		rc = latency_sketch_restrict(&s, &r->sketch, b);
	if (rc < 0) {
		sketch_release(&s);
		return -1;
	}
	sketch_release(&r->sketch);
	r->sketch = s;
	r->count = sketch_count(&s);
	r->sum_ns = (uint64_t)llround(sketch_sum(&s));
	for (int t = 0; t < TIER_COUNT; t++) {
		double lo = (double)request_tier_lo_ns[t];
		double hi = t < TIER_CRITICAL ? (double)request_tier_lo_ns[t + 1] : INFINITY;
		/* a tier wholly inside the bounds keeps its count */
		if (!(lo >= b->lo_ns && (b->hi_ns == 0 || hi <= b->hi_ns)))
			r->tiers[t] = 0;
	}
	return 0;
}

int latency_rows_restrict(struct rollup_row *rows, size_t n, const struct latency_bounds *b)
{
	int first, last;
	if (!latency_bounds_active(b))
		return 0;
	int tiers = latency_bounds_tiers(b, &first, &last);
	for (size_t i = 0; i < n; i++)
		if (row_restrict(&rows[i], b, tiers, first, last) < 0)
			return -1;
	return 0;
}

/* ---- statistics ---------------------------------------------------------- */

void latency_stats_init(struct latency_stats *s)
{
	memset(s, 0, sizeof(*s));
	sketch_init(&s->sketch);
}

void latency_stats_release(struct latency_stats *s)
{
	sketch_release(&s->sketch);
	free(s->types);
	latency_stats_init(s);
}

static void add_type(struct latency_stats *s, const char *type, uint64_t count)
{
	if (!type)
		type = "error";
	for (size_t i = 0; i < s->n_types; i++)
		if (!strcmp(s->types[i].type, type)) {
			s->types[i].count += count;
			return;
		}
	s->types = xgrow(s->types, &s->cap_types, s->n_types + 1, sizeof(*s->types));
	s->types[s->n_types].type = type;
	s->types[s->n_types++].count = count;
}

int latency_stats_add_row(struct latency_stats *s, const struct rollup_row *r)
{
	if (!r->count)
		return 0;
	char err[128];
	if (s->count + r->count < s->count || rollup_row_merge(&s->sketch, r, err, sizeof(err)) < 0)
		return -1;
	s->count += r->count;
	s->by_status[r->status < 3 ? r->status : REQUEST_ERROR] += r->count;
	for (int t = 0; t < TIER_COUNT; t++)
		s->by_tier[t] += r->tiers[t];
	s->sum_ns += (double)r->sum_ns;
	if (r->status != REQUEST_OK)
		add_type(s,
			 r->error_type			? r->error_type
			 : r->status == REQUEST_TIMEOUT ? "timeout"
							: "error",
			 r->count);
	return 0;
}

int latency_stats_merge(struct latency_stats *dst, const struct latency_stats *src)
{
	if (!src->count)
		return 0;
	if (dst->count + src->count < dst->count || sketch_merge(&dst->sketch, &src->sketch) < 0)
		return -1;
	dst->count += src->count;
	for (int i = 0; i < 3; i++)
		dst->by_status[i] += src->by_status[i];
	for (int t = 0; t < TIER_COUNT; t++)
		dst->by_tier[t] += src->by_tier[t];
	dst->sum_ns += src->sum_ns;
	for (size_t i = 0; i < src->n_types; i++)
		add_type(dst, src->types[i].type, src->types[i].count);
	return 0;
}

double latency_stats_quantile_ms(const struct latency_stats *s, double q)
{
	return s->count ? sketch_quantile(&s->sketch, q) / NS_PER_MS : NAN;
}

double latency_stats_error_rate(const struct latency_stats *s)
{
	if (!s->count)
		return NAN;
	return (double)(s->by_status[REQUEST_ERROR] + s->by_status[REQUEST_TIMEOUT]) / (double)s->count;
}

double latency_stats_mean_ms(const struct latency_stats *s)
{
	return s->count ? s->sum_ns / (double)s->count / NS_PER_MS : NAN;
}

double latency_stats_min_ms(const struct latency_stats *s)
{
	return s->count ? sketch_min(&s->sketch) / NS_PER_MS : NAN;
}

double latency_stats_max_ms(const struct latency_stats *s)
{
	return s->count ? sketch_max(&s->sketch) / NS_PER_MS : NAN;
}

static int cmp_type(const void *pa, const void *pb)
{
	const struct latency_type_count *a = pa, *b = pb;
	if (a->count != b->count)
		return a->count < b->count ? 1 : -1;
	return strcmp(a->type, b->type);
}

void latency_stats_sort_types(struct latency_stats *s)
{
	if (s->n_types > 1)
		qsort(s->types, s->n_types, sizeof(*s->types), cmp_type);
}

int latency_summary(struct latency_stats *out, const struct rollup_row *rows, size_t n)
{
	latency_stats_init(out);
	for (size_t i = 0; i < n; i++)
		if (latency_stats_add_row(out, &rows[i]) < 0)
			return -1;
	latency_stats_sort_types(out);
	return 0;
}

/* ---- dimensions ---------------------------------------------------------- */

static const struct {
	const char *name, *alias;
	enum latency_dim dim;
} dim_names[] = {
	{"service", NULL, LATENCY_BY_SERVICE},
	{"endpoint", NULL, LATENCY_BY_ENDPOINT},
	{"env", "environment", LATENCY_BY_ENV},
	{"version", NULL, LATENCY_BY_VERSION},
	{"department", "team", LATENCY_BY_DEPARTMENT},
	{"intent", NULL, LATENCY_BY_INTENT},
	{"tool", NULL, LATENCY_BY_TOOL},
	{"status", NULL, LATENCY_BY_STATUS},
	{"error_type", NULL, LATENCY_BY_ERROR_TYPE},
};

int latency_dim_parse(const char *name, enum latency_dim *out)
{
	for (size_t i = 0; i < sizeof(dim_names) / sizeof(dim_names[0]); i++)
		if (!strcmp(name, dim_names[i].name) ||
		    (dim_names[i].alias && !strcmp(name, dim_names[i].alias))) {
			*out = dim_names[i].dim;
			return 0;
		}
	return -1;
}

const char *latency_dim_name(enum latency_dim d)
{
	for (size_t i = 0; i < sizeof(dim_names) / sizeof(dim_names[0]); i++)
		if (dim_names[i].dim == d)
			return dim_names[i].name;
	return NULL;
}

const char *latency_row_dim(const struct rollup_row *r, enum latency_dim d)
{
	static const char *const status_names[] = {"success", "error", "timeout"};
	switch (d) {
	case LATENCY_BY_SERVICE: return r->service;
	case LATENCY_BY_ENDPOINT: return r->endpoint;
	case LATENCY_BY_ENV: return r->env;
	case LATENCY_BY_VERSION: return r->version;
	case LATENCY_BY_DEPARTMENT: return r->department;
	case LATENCY_BY_INTENT: return r->intent;
	case LATENCY_BY_TOOL: return r->tool;
	case LATENCY_BY_STATUS: return status_names[r->status < 3 ? r->status : REQUEST_ERROR];
	case LATENCY_BY_ERROR_TYPE: return r->error_type;
	default: return NULL;
	}
}

/* ---- time buckets -------------------------------------------------------- */

unsigned latency_resolution(uint64_t range_ns)
{
	return range_ns <= LATENCY_MINUTES_UP_TO_NS ? 60 : 3600;
}

unsigned latency_auto_step(uint64_t from_ns, uint64_t to_ns, unsigned res_s)
{
	static const unsigned steps[] = {60,   120,  300,   600,   900,	  1800,
					 3600, 7200, 10800, 21600, 43200, 86400};
	struct latency_grid g;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i] % res_s == 0 && latency_grid_init(&g, from_ns, to_ns, steps[i]) == 0 &&
		    g.n <= 120)
			return steps[i];
	return (86400 + res_s - 1) / res_s * res_s;
}

int latency_grid_init(struct latency_grid *g, uint64_t from_ns, uint64_t to_ns, unsigned step_s)
{
	memset(g, 0, sizeof(*g));
	if (!step_s || to_ns <= from_ns)
		return -1;
	g->step_ns = (uint64_t)step_s * NS_PER_S;
	g->t0_ns = from_ns / g->step_ns * g->step_ns;
	uint64_t n = (to_ns - 1 - g->t0_ns) / g->step_ns + 1;
	if (n > LATENCY_MAX_BUCKETS)
		return -1;
	g->n = (size_t)n;
	return 0;
}

long latency_grid_index(const struct latency_grid *g, uint64_t t_ns)
{
	if (t_ns < g->t0_ns)
		return -1;
	uint64_t i = (t_ns - g->t0_ns) / g->step_ns;
	return i < g->n ? (long)i : -1;
}

/* ---- time series --------------------------------------------------------- */

struct group {
	const char *key;
	uint64_t count;
	size_t series; /* index in the result */
};

/* Map key for a dimension value: a presence byte, then the string. */
static size_t group_key(const char *v, const char **bytes, char *absent)
{
	if (!v) {
		*bytes = absent;
		return 1;
	}
	*bytes = v;
	return strlen(v) + 1; /* the NUL tells "" from absent */
}

static int cmp_group(const void *pa, const void *pb)
{
	const struct group *a = pa, *b = pb;
	if (a->count != b->count)
		return a->count < b->count ? 1 : -1;
	if (!a->key || !b->key)
		return !a->key - !b->key;
	return strcmp(a->key, b->key);
}

static void series_init(struct latency_series *s, const char *key, int other, size_t n_points)
{
	s->key = key;
	s->other = other;
	latency_stats_init(&s->total);
	s->points = xmalloc((n_points ? n_points : 1) * sizeof(*s->points));
	for (size_t i = 0; i < n_points; i++)
		latency_stats_init(&s->points[i]);
}

int latency_timeseries_build(struct latency_timeseries *ts, const struct rollup_row *rows, size_t n,
			     const struct latency_grid *g, enum latency_dim by, size_t top)
{
	struct strmap index;
	struct group *groups = NULL;
	size_t n_groups = 0, cap_groups = 0;
	char absent = 1; /* a present value ends with a NUL, so cannot be "\1" alone */
	int ret = -1;

	memset(ts, 0, sizeof(*ts));
	ts->grid = *g;
	ts->by = by;
	strmap_init(&index);

	/* 1. groups and their counts */
	for (size_t i = 0; i < n; i++) {
		const char *key, *v = latency_row_dim(&rows[i], by);
		size_t len = group_key(v, &key, &absent);
		int64_t gi;
		if (!rows[i].count || latency_grid_index(g, rows[i].t_ns) < 0)
			continue;
		if (strmap_get(&index, key, len, &gi) < 0) {
			groups = xgrow(groups, &cap_groups, n_groups + 1, sizeof(*groups));
			groups[n_groups] = (struct group){.key = v};
			gi = (int64_t)n_groups++;
			strmap_put(&index, key, len, gi);
		}
		groups[gi].count += rows[i].count;
	}
	/* Ungrouped: one series even when there are no rows. */
	if (by == LATENCY_BY_NONE && !n_groups) {
		groups = xgrow(groups, &cap_groups, 1, sizeof(*groups));
		groups[n_groups++] = (struct group){.key = NULL};
	}

	/* 2. the top groups get a series each, the rest share `other` */
	if (n_groups > 1) /* groups is NULL when there are none */
		qsort(groups, n_groups, sizeof(*groups), cmp_group);
	size_t kept = top && n_groups > top ? top : n_groups;
	ts->n_series = kept + (kept < n_groups);
	ts->series = xcalloc(ts->n_series ? ts->n_series : 1, sizeof(*ts->series));
	for (size_t i = 0; i < ts->n_series; i++)
		series_init(&ts->series[i], i < kept ? groups[i].key : NULL, i >= kept, g->n);
	for (size_t i = 0; i < n_groups; i++) {
		const char *key;
		size_t len = group_key(groups[i].key, &key, &absent);
		strmap_put(&index, key, len, (int64_t)(i < kept ? i : kept));
	}

	/* 3. every row into its series and bucket */
	for (size_t i = 0; i < n; i++) {
		const char *key;
		size_t len = group_key(latency_row_dim(&rows[i], by), &key, &absent);
		long t = latency_grid_index(g, rows[i].t_ns);
		int64_t si;
		if (t < 0 || strmap_get(&index, key, len, &si) < 0)
			continue;
		if (latency_stats_add_row(&ts->series[si].points[t], &rows[i]) < 0)
			goto out;
	}
	/* a series' total is the merge of its buckets: each row is read once */
	for (size_t i = 0; i < ts->n_series; i++) {
		for (size_t t = 0; t < g->n; t++)
			if (latency_stats_merge(&ts->series[i].total, &ts->series[i].points[t]) < 0)
				goto out;
		latency_stats_sort_types(&ts->series[i].total);
		for (size_t t = 0; t < g->n; t++)
			latency_stats_sort_types(&ts->series[i].points[t]);
	}
	ret = 0;
out:
	if (ret < 0)
		latency_timeseries_release(ts);
	free(groups);
	strmap_release(&index);
	return ret;
}

void latency_timeseries_release(struct latency_timeseries *ts)
{
	for (size_t i = 0; i < ts->n_series; i++) {
		latency_stats_release(&ts->series[i].total);
		for (size_t t = 0; t < ts->grid.n; t++)
			latency_stats_release(&ts->series[i].points[t]);
		free(ts->series[i].points);
	}
	free(ts->series);
	ts->series = NULL;
	ts->n_series = 0;
}

/* ---- histogram bins ------------------------------------------------------ */

static int32_t floor_div(int32_t a, int32_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static double gamma_pow(int32_t i)
{
	/* gamma^i = bucket value * (gamma + 1) / 2, computed like sketch.c */
	double gamma = (1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA);
	return sketch_bucket_value(i) * (gamma + 1) / 2;
}

void latency_bins_plan(struct latency_bins *b, const struct sketch *s, unsigned max_bins)
{
	memset(b, 0, sizeof(*b));
	b->width = 1;
	if (!s->count)
		return;
	if (max_bins < 2)
		max_bins = 2;
	b->zero = s->zero_count > 0;
	if (s->lo > s->hi) { /* only the zero bucket */
		b->n = 1;
		return;
	}
	int32_t regular = (int32_t)max_bins - b->zero;
	int32_t w = (s->hi - s->lo + regular) / regular;
	if (w < 1)
		w = 1;
	while (floor_div(s->hi, w) - floor_div(s->lo, w) + 1 > regular)
		w++;
	b->width = w;
	b->first = floor_div(s->lo, w) * w;
	b->n = (size_t)(floor_div(s->hi, w) - floor_div(s->lo, w) + 1) + (size_t)b->zero;
}

void latency_bins_edges(const struct latency_bins *b, size_t i, double *lo_ns, double *hi_ns)
{
	if (b->zero && i == 0) {
		*lo_ns = 0;
		*hi_ns = SKETCH_MIN_VALUE;
		return;
	}
	int32_t j = (int32_t)(i - (size_t)b->zero);
	int32_t start = b->first + j * b->width;
	*lo_ns = gamma_pow(start - 1);
	*hi_ns = gamma_pow(start + b->width - 1);
}

double latency_bins_ratio(const struct latency_bins *b)
{
	return pow((1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA), b->width);
}

void latency_bins_count(const struct latency_bins *b, const struct sketch *s, uint64_t *counts)
{
	if (!b->n || !s->count)
		return;
	size_t n_regular = b->n - (size_t)b->zero;
	if (s->zero_count)
		counts[0] += s->zero_count; /* the zero bin, or the first one */
	for (int32_t i = s->lo; i <= s->hi; i++) {
		uint64_t c = s->counts[i - s->base];
		if (!c)
			continue;
		if (!n_regular) {
			counts[0] += c;
			continue;
		}
		int32_t j = floor_div(i - b->first, b->width);
		if (j < 0)
			j = 0;
		if ((size_t)j >= n_regular)
			j = (int32_t)n_regular - 1;
		counts[(size_t)j + (size_t)b->zero] += c;
	}
}

/* ---- rows from raw spans ------------------------------------------------- */

void latency_rowbuilder_init(struct latency_rowbuilder *b, struct arena *a, unsigned res_s)
{
	memset(b, 0, sizeof(*b));
	b->arena = a;
	b->res_s = res_s ? res_s : 60;
	strmap_init(&b->index);
}

/* A tag byte (0 absent, 1 present), then the string and its NUL. */
static void key_put(char *key, size_t *len, const char *s)
{
	key[(*len)++] = s ? 1 : 0;
	if (s) {
		size_t n = strlen(s) + 1;
		memcpy(key + *len, s, n);
		*len += n;
	}
}

int latency_rowbuilder_add(struct latency_rowbuilder *b, const struct rollup_row *k, uint64_t start_ns,
			   uint64_t duration_ns)
{
	uint64_t res_ns = (uint64_t)b->res_s * NS_PER_S, t = start_ns / res_ns * res_ns;
	const char *dims[8] = {k->service, k->endpoint,	  k->tool,   k->env,
			       k->version, k->department, k->intent, k->error_type};
	size_t need = sizeof(t) + 1, len = 0;
	for (int i = 0; i < 8; i++)
		need += dims[i] ? strlen(dims[i]) + 2 : 1;
	char small[512], *key = need <= sizeof(small) ? small : xmalloc(need);
	int64_t ri;
	int ret = -1;

	memcpy(key, &t, sizeof(t));
	len = sizeof(t);
	key[len++] = (char)k->status;
	for (int i = 0; i < 8; i++)
		key_put(key, &len, dims[i]);
	if (strmap_get(&b->index, key, len, &ri) < 0) {
		b->rows = arena_grow(b->arena, b->rows, &b->cap, b->n + 1, sizeof(*b->rows));
		struct rollup_row *r = &b->rows[b->n];
		*r = *k;
		r->t_ns = t;
		r->count = 0;
		r->sum_ns = 0;
		memset(r->tiers, 0, sizeof(r->tiers));
		sketch_init(&r->sketch);
		ri = (int64_t)b->n++;
		strmap_put(&b->index, key, len, ri);
	}
	struct rollup_row *r = &b->rows[ri];
	if (sketch_add(&r->sketch, (double)duration_ns) < 0)
		goto out;
	r->count++;
	r->tiers[request_tier_of(duration_ns)]++;
	r->sum_ns += duration_ns;
	ret = 0;
out:
	if (key != small)
		free(key);
	return ret;
}

void latency_rowbuilder_release(struct latency_rowbuilder *b)
{
	strmap_release(&b->index);
}

/* ---- self-time breakdown ------------------------------------------------- */

static int cmp_span(const void *pa, const void *pb)
{
	const struct latency_span *a = pa, *b = pb;
	int c = memcmp(a->trace_id, b->trace_id, 16);
	return c ? c : memcmp(a->span_id, b->span_id, 8);
}

static int is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Index of the parent of spans[i] within its trace, or -1. */
static long find_parent(const struct latency_span *spans, size_t n, size_t i)
{
	struct latency_span probe;
	if (is_zero(spans[i].parent_span_id, 8))
		return -1;
	memcpy(probe.trace_id, spans[i].trace_id, 16);
	memcpy(probe.span_id, spans[i].parent_span_id, 8);
	const struct latency_span *p = bsearch(&probe, spans, n, sizeof(*spans), cmp_span);
	return p && p != &spans[i] ? (long)(p - spans) : -1;
}

enum { UNKNOWN = 0, COVERED = 1, UNCOVERED = 2, VISITING = 3 };

/* Is spans[i] in the subtree of a selected span?  Walks up the parents
 * once per span overall (states are remembered); a cycle counts as not
 * covered. */
static uint8_t coverage(size_t i, const long *parent, const struct latency_span *spans, uint8_t *state,
			size_t **path, size_t *cap)
{
	size_t n_path = 0;
	uint8_t result = UNCOVERED;
	long j = (long)i;
	for (;;) {
		if (state[j] == COVERED || state[j] == UNCOVERED) {
			result = state[j];
			break;
		}
		if (state[j] == VISITING) {
			result = UNCOVERED;
			break;
		}
		*path = xgrow(*path, cap, n_path + 1, sizeof(**path));
		(*path)[n_path++] = (size_t)j;
		state[j] = VISITING;
		if (spans[j].selected) {
			result = COVERED;
			break;
		}
		if (parent[j] < 0)
			break;
		j = parent[j];
	}
	for (size_t k = 0; k < n_path; k++)
		state[(*path)[k]] = result;
	return result;
}

struct child {
	long parent;
	uint64_t start, end;
};

static int cmp_child(const void *pa, const void *pb)
{
	const struct child *a = pa, *b = pb;
	if (a->parent != b->parent)
		return a->parent < b->parent ? -1 : 1;
	return (a->start > b->start) - (a->start < b->start);
}

static int cmp_phase(const void *pa, const void *pb)
{
	const struct latency_phase *a = pa, *b = pb;
	if (a->total_ns != b->total_ns)
		return a->total_ns < b->total_ns ? 1 : -1;
	int c = strcmp(a->service, b->service);
	return c ? c : strcmp(a->name, b->name);
}

int latency_breakdown_build(struct latency_breakdown *out, struct latency_span *spans, size_t n)
{
	long *parent = NULL;
	uint8_t *state = NULL;
	size_t *path = NULL, cap_path = 0, n_children = 0, cap_rows = 0;
	struct child *children = NULL;
	double *covered_ns = NULL;
	struct strmap index;

	memset(out, 0, sizeof(*out));
	strmap_init(&index);
	if (!n)
		goto out;
	qsort(spans, n, sizeof(*spans), cmp_span);
	parent = xmalloc(n * sizeof(*parent));
	state = xcalloc(n, 1);
	children = xmalloc(n * sizeof(*children));
	covered_ns = xcalloc(n, sizeof(*covered_ns));
	for (size_t i = 0; i < n; i++)
		parent[i] = find_parent(spans, n, i);
	for (size_t i = 0; i < n; i++)
		coverage(i, parent, spans, state, &path, &cap_path);

	/* Time covered by children, per parent: union of their intervals
	 * clipped to the parent's. */
	for (size_t i = 0; i < n; i++)
		if (parent[i] >= 0 && state[i] == COVERED && state[parent[i]] == COVERED)
			children[n_children++] =
				(struct child){parent[i], spans[i].start_ns, spans[i].end_ns};
	qsort(children, n_children, sizeof(*children), cmp_child);
	for (size_t a = 0; a < n_children;) {
		const struct latency_span *p = &spans[children[a].parent];
		uint64_t cur_lo = 0, cur_hi = 0, sum = 0;
		int open = 0;
		size_t b;
		for (b = a; b < n_children && children[b].parent == children[a].parent; b++) {
			uint64_t lo = children[b].start > p->start_ns ? children[b].start : p->start_ns;
			uint64_t hi = children[b].end < p->end_ns ? children[b].end : p->end_ns;
			if (hi <= lo)
				continue;
			if (open && lo <= cur_hi) {
				if (hi > cur_hi)
					cur_hi = hi;
				continue;
			}
			if (open)
				sum += cur_hi - cur_lo;
			cur_lo = lo;
			cur_hi = hi;
			open = 1;
		}
		if (open)
			sum += cur_hi - cur_lo;
		covered_ns[children[a].parent] = (double)sum;
		a = b;
	}

	for (size_t i = 0; i < n; i++) {
		if (state[i] != COVERED)
			continue;
		const struct latency_span *s = &spans[i];
		if (s->selected) {
			if (parent[i] >= 0 && state[parent[i]] == COVERED)
				out->nested++;
			else
				out->requests++;
		}
		double dur = s->end_ns > s->start_ns ? (double)(s->end_ns - s->start_ns) : 0;
		double self = dur - covered_ns[i];
		if (self < 0)
			self = 0;
		const char *svc = s->service ? s->service : "", *name = s->name ? s->name : "";
		size_t ls = strlen(svc) + 1, ln = strlen(name);
		char small[256], *key = ls + ln <= sizeof(small) ? small : xmalloc(ls + ln);
		memcpy(key, svc, ls);
		memcpy(key + ls, name, ln);
		int64_t ri;
		if (strmap_get(&index, key, ls + ln, &ri) < 0) {
			out->rows = xgrow(out->rows, &cap_rows, out->n_rows + 1, sizeof(*out->rows));
			out->rows[out->n_rows] = (struct latency_phase){.service = svc, .name = name};
			ri = (int64_t)out->n_rows++;
			strmap_put(&index, key, ls + ln, ri);
		}
		if (key != small)
			free(key);
		out->rows[ri].count++;
		out->rows[ri].total_ns += self;
		out->total_ns += self;
		out->spans++;
	}
	if (out->n_rows > 1)
		qsort(out->rows, out->n_rows, sizeof(*out->rows), cmp_phase);
out:
	free(parent);
	free(state);
	free(path);
	free(children);
	free(covered_ns);
	strmap_release(&index);
	return 0;
}

void latency_breakdown_release(struct latency_breakdown *b)
{
	free(b->rows);
	memset(b, 0, sizeof(*b));
}
