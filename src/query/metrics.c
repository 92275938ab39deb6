/*
 * metrics.c - metric series read back on a grid of steps (see metrics.h):
 * the accumulator that turns points into cells, the arithmetic of counters
 * and quantiles, and the scans of the store that feed it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json_doc.h"
#include "query/metrics.h"

/* ---- arithmetic ---------------------------------------------------------------- */

double metrics_counter_increase(double prev, double cur)
{
	return cur >= prev ? cur - prev : cur;
}

static int dbl_cmp(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return a < b ? -1 : a > b;
}

double metrics_quantile_values(double *v, size_t n, double q)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), dbl_cmp);
	double h = (double)(n - 1) * q;
	size_t lo = (size_t)floor(h);
	if (lo + 1 >= n)
		return v[n - 1];
	return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

double metrics_quantile_buckets(const double *bounds, uint32_t n_bounds, const uint64_t *counts, double q)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i <= n_bounds; i++)
		total += counts[i];
	if (!total)
		return NAN;
	double rank = q * (double)total, cum = 0;
	for (uint32_t i = 0; i <= n_bounds; i++) {
		double c = (double)counts[i];
		if (cum + c < rank || c == 0) {
			cum += c;
			continue;
		}
		if (i == n_bounds) /* the overflow bucket has no upper bound */
			return n_bounds ? bounds[n_bounds - 1] : NAN;
		double hi = bounds[i], lo = i ? bounds[i - 1] : (hi > 0 ? 0 : hi);
		return lo + (hi - lo) * (rank - cum) / c;
	}
	return n_bounds ? bounds[n_bounds - 1] : NAN;
}

int metrics_agg_parse(const char *s, enum metrics_agg *agg, double *q)
{
	static const char *const names[] = {"avg", "max", "min", "sum", "rate"};
	*q = 0;
	for (int i = 0; i < 5; i++)
		if (!strcmp(s, names[i])) {
			*agg = (enum metrics_agg)i;
			return 0;
		}
	if (s[0] != 'p' || s[1] < '0' || s[1] > '9')
		return -1;
	char *end;
	double p = strtod(s + 1, &end);
	if (*end || !(p > 0 && p < 100))
		return -1;
	*agg = METRICS_QUANTILE;
	*q = p / 100;
	return 0;
}

int metrics_grid(uint64_t from_ns, uint64_t to_ns, uint64_t step_ns, uint64_t *t0_ns, size_t *n_steps,
		 char *err, size_t errlen)
{
	if (!step_ns || to_ns <= from_ns) {
		snprintf(err, errlen, "empty time range or step");
		return ERR_INVALID;
	}
	*t0_ns = from_ns / step_ns * step_ns;
	uint64_t n = (to_ns - *t0_ns + step_ns - 1) / step_ns;
	if (n > METRICS_MAX_STEPS) {
		snprintf(err, errlen,
			 "step %llus gives %llu steps over the range, at most %d: use a larger step",
			 (unsigned long long)(step_ns / NS_PER_S), (unsigned long long)n, METRICS_MAX_STEPS);
		return ERR_TOO_MUCH;
	}
	*n_steps = (size_t)n;
	return 0;
}

uint64_t metrics_default_step(uint64_t range_ns)
{
	static const uint64_t steps_s[] = {10, 60, 300, 900, 3600, 21600, 86400};
	uint64_t want = range_ns / 240;
	for (size_t i = 0; i < sizeof(steps_s) / sizeof(*steps_s); i++)
		if (steps_s[i] * NS_PER_S >= want)
			return steps_s[i] * NS_PER_S;
	return 7 * 86400 * NS_PER_S;
}

void metrics_time_of_day(const double *values, size_t n, uint64_t t0_ns, uint64_t step_ns, int tz_offset_min,
			 double out[7][24])
{
	double sum[7][24] = {{0}}, cnt[7][24] = {{0}};
	for (size_t i = 0; i < n; i++) {
		if (isnan(values[i]))
			continue;
		int64_t t = (int64_t)((t0_ns + i * step_ns) / NS_PER_S) + (int64_t)tz_offset_min * 60;
		int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
		int hour = (int)((t - days * 86400) / 3600);
		int dow = (int)(((days + 3) % 7 + 7) % 7); /* 1970-01-01 was a Thursday: 0 = Monday */
		sum[dow][hour] += values[i];
		cnt[dow][hour]++;
	}
	for (int d = 0; d < 7; d++)
		for (int h = 0; h < 24; h++)
			out[d][h] = cnt[d][h] ? sum[d][h] / cnt[d][h] : NAN;
}

/* ---- the accumulator ------------------------------------------------------------- */

/* A line: one group's cells. */
struct mline {
	char *key;     /* NULL: none */
	double *v, *n; /* per step: the combined value, and how many series or points it holds */
	double **qv;   /* per step: values for a quantile */
	size_t *qn, *qcap;
	uint64_t **hb;	       /* per step: merged bucket counts (histogram quantiles) */
	double *hsum, *hcount; /* per step: histogram sum and count */
	double *bounds;	       /* the line's histogram bounds */
	uint32_t n_bounds;
	int has_bounds;
	uint64_t points;
};

struct metrics_acc {
	struct metrics_request r;
	uint64_t t0, step;
	size_t n_steps;
	struct mline *lines;
	size_t n_lines, cap_lines;
	struct strmap keys; /* group key -> line index + 1 */
	int truncated;
	int type, delta;
	char unit[64]; /* of the first series read */
	uint64_t points, series, resets, skipped_bounds;
	/* the series under way */
	int64_t cur;
	int64_t factor_series; /* the series `factor` is of (hours of a measure) */
	double factor;
	long line;			 /* its line; -1: left out */
	double scale;			 /* CPU count for a measure of process CPU */
	double *ssum, *sn, *smin, *smax; /* its per-step sums, point counts, extremes */
	double *sinc;			 /* its per-step increases (rates) */
	int has_prev;
	double prev;
	uint64_t prev_count;
	double prev_sum;
	uint64_t *prev_buckets;
	uint32_t prev_nb;
	struct buf kbuf;
};

struct metrics_acc *metrics_acc_new(const struct metrics_request *r, uint64_t t0_ns, size_t n_steps)
{
	struct metrics_acc *m = xcalloc(1, sizeof(*m));
	m->r = *r;
	m->t0 = t0_ns;
	m->step = r->step_ns;
	m->n_steps = n_steps;
	m->cur = -1;
	m->factor_series = -1;
	m->line = -1;
	strmap_init(&m->keys);
	buf_init(&m->kbuf, 1 << 16);
	size_t k = n_steps ? n_steps : 1;
	m->ssum = xcalloc(k, sizeof(double));
	m->sn = xcalloc(k, sizeof(double));
	m->smin = xcalloc(k, sizeof(double));
	m->smax = xcalloc(k, sizeof(double));
	m->sinc = xcalloc(k, sizeof(double));
	return m;
}

static void line_free(struct mline *l, size_t n_steps)
{
	for (size_t t = 0; l->qv && t < n_steps; t++)
		free(l->qv[t]);
	for (size_t t = 0; l->hb && t < n_steps; t++)
		free(l->hb[t]);
	free(l->qv);
	free(l->qn);
	free(l->qcap);
	free(l->hb);
	free(l->hsum);
	free(l->hcount);
	free(l->bounds);
	free(l->key);
	free(l->v);
	free(l->n);
}

void metrics_acc_free(struct metrics_acc *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_lines; i++)
		line_free(&m->lines[i], m->n_steps);
	free(m->lines);
	strmap_release(&m->keys);
	buf_release(&m->kbuf);
	free(m->ssum);
	free(m->sn);
	free(m->smin);
	free(m->smax);
	free(m->sinc);
	free(m->prev_buckets);
	free(m);
}

/* The instance of a producer: service.instance.id, else host.name. */
static const char *instance_of(const struct resource *r)
{
	const char *i = r ? attr_str(r->attrs, r->n_attrs, "service.instance.id") : NULL;
	return i ? i : r ? attr_str(r->attrs, r->n_attrs, "host.name") : NULL;
}

int metrics_filter_match(const struct metrics_filter *f, const struct resource *r)
{
	const char *svc = r && r->service_name ? r->service_name : "";
	if (f->service && strcmp(f->service, svc))
		return 0;
	if (f->env && (!r || !r->environment || strcmp(f->env, r->environment)))
		return 0;
	if (f->version && (!r || !r->service_version || strcmp(f->version, r->service_version)))
		return 0;
	if (f->instance) {
		const char *inst = instance_of(r);
		if (!inst || strcmp(f->instance, inst))
			return 0;
	}
	return 1;
}

/* An attribute's value as text into `b`; 0 if present. */
static int attr_text(struct buf *b, const struct attr *a)
{
	if (!a)
		return -1;
	switch (a->type) {
	case ATTR_STRING:
	case ATTR_JSON: buf_puts(b, a->v.s); break;
	case ATTR_BOOL: buf_puts(b, a->v.i ? "true" : "false"); break;
	case ATTR_INT: buf_printf(b, "%lld", (long long)a->v.i); break;
	default: buf_printf(b, "%.17g", a->v.d); break;
	}
	return 0;
}

/* The group key of a point into m->kbuf; -1 when it has none. */
static int group_key(struct metrics_acc *m, const struct metric_point *p)
{
	const char *g = m->r.group_by, *v = NULL;
	const struct resource *r = p->resource;
	buf_reset(&m->kbuf);
	if (!g || !*g)
		return -1;
	if (!strcmp(g, "service"))
		v = r ? r->service_name : NULL;
	else if (!strcmp(g, "instance"))
		v = instance_of(r);
	else if (!strcmp(g, "host"))
		v = r ? attr_str(r->attrs, r->n_attrs, "host.name") : NULL;
	else if (!strcmp(g, "env"))
		v = r ? r->environment : NULL;
	else if (!strcmp(g, "version"))
		v = r ? r->service_version : NULL;
	else if (!strcmp(g, "pool"))
		v = semconv_pool_name(p);
	else if (attr_text(&m->kbuf, attr_find(p->attrs, p->n_attrs, g)) == 0)
		return 0;
	else if (r && attr_text(&m->kbuf, attr_find(r->attrs, r->n_attrs, g)) == 0)
		return 0;
	if (!v)
		return -1;
	buf_puts(&m->kbuf, v);
	return 0;
}

static long line_of(struct metrics_acc *m, const struct metric_point *p)
{
	int has = group_key(m, p) == 0;
	/* "\1" stands for "no value": a key of its own, never a real value */
	const char *k = has ? m->kbuf.data : "\1";
	size_t kl = has ? m->kbuf.len : 1;
	int64_t idx;
	if (strmap_get(&m->keys, k, kl, &idx) == 0)
		return (long)idx - 1;
	if (m->n_lines >= METRICS_MAX_LINES) {
		m->truncated = 1;
		return -1;
	}
	if (m->n_lines == m->cap_lines) {
		m->cap_lines = m->cap_lines ? m->cap_lines * 2 : 8;
		m->lines = xrealloc(m->lines, m->cap_lines * sizeof(*m->lines));
	}
	struct mline *l = &m->lines[m->n_lines];
	memset(l, 0, sizeof(*l));
	l->key = has ? xstrdup(m->kbuf.data) : NULL;
	l->v = xcalloc(m->n_steps ? m->n_steps : 1, sizeof(double));
	l->n = xcalloc(m->n_steps ? m->n_steps : 1, sizeof(double));
	strmap_put(&m->keys, k, kl, (int64_t)m->n_lines + 1);
	return (long)m->n_lines++;
}

/* Fold the series under way into its line. */
static void series_flush(struct metrics_acc *m)
{
	if (m->cur < 0 || m->line < 0)
		goto reset;
	struct mline *l = &m->lines[m->line];
	int hist = m->type == METRIC_HISTOGRAM && !m->r.measure;
	for (size_t t = 0; t < m->n_steps; t++) {
		if (m->r.measure || (!hist && (m->r.agg == METRICS_AVG || m->r.agg == METRICS_SUM))) {
			if (!m->sn[t])
				continue;
			l->v[t] += m->ssum[t] / m->sn[t];
			l->n[t]++;
		} else if (m->r.agg == METRICS_MAX || m->r.agg == METRICS_MIN) {
			if (!m->sn[t])
				continue;
			double x = m->r.agg == METRICS_MAX ? m->smax[t] : m->smin[t];
			if (!l->n[t] || (m->r.agg == METRICS_MAX ? x > l->v[t] : x < l->v[t]))
				l->v[t] = x;
			l->n[t]++;
		} else if (m->r.agg == METRICS_RATE && !hist) {
			if (!m->sn[t])
				continue;
			l->v[t] += m->sinc[t];
			l->n[t]++;
		}
	}
reset:
	memset(m->ssum, 0, m->n_steps * sizeof(double));
	memset(m->sn, 0, m->n_steps * sizeof(double));
	memset(m->sinc, 0, m->n_steps * sizeof(double));
	m->has_prev = 0;
}

static void quantile_add(struct mline *l, size_t n_steps, size_t t, double v)
{
	if (!l->qv) {
		l->qv = xcalloc(n_steps, sizeof(*l->qv));
		l->qn = xcalloc(n_steps, sizeof(*l->qn));
		l->qcap = xcalloc(n_steps, sizeof(*l->qcap));
	}
	l->qv[t] = xgrow(l->qv[t], &l->qcap[t], l->qn[t] + 1, sizeof(double));
	l->qv[t][l->qn[t]++] = v;
}

/* A histogram point: its observations in the step (the increase since the
 * previous point of a cumulative series) into the line. */
static void histogram_point(struct metrics_acc *m, struct mline *l, size_t t, const struct metric_point *p)
{
	uint32_t nb = p->bucket_counts ? p->n_bounds : 0;
	int cumulative = !p->delta;
	int have_prev = cumulative && m->has_prev && m->prev_nb == nb;
	int reset = have_prev && p->count < m->prev_count;
	if (reset)
		m->resets++;
	if (cumulative && !m->has_prev)
		goto keep; /* its first point: the increase is unknown */
	double dcount = (double)p->count - (have_prev && !reset ? (double)m->prev_count : 0);
	double dsum = p->sum - (have_prev && !reset ? m->prev_sum : 0);
	if (!l->hsum) {
		l->hsum = xcalloc(m->n_steps, sizeof(double));
		l->hcount = xcalloc(m->n_steps, sizeof(double));
	}
	l->hsum[t] += dsum;
	l->hcount[t] += dcount;
	l->n[t]++;
	if (m->r.agg != METRICS_QUANTILE || !p->bucket_counts)
		goto keep;
	if (!l->has_bounds) {
		l->has_bounds = 1;
		l->n_bounds = nb;
		l->bounds = xmalloc((nb ? nb : 1) * sizeof(double));
		memcpy(l->bounds, p->bounds, nb * sizeof(double));
		l->hb = xcalloc(m->n_steps, sizeof(*l->hb));
	}
	if (l->n_bounds != nb || (nb && memcmp(l->bounds, p->bounds, nb * sizeof(double)))) {
		m->skipped_bounds++;
		goto keep;
	}
	if (!l->hb[t])
		l->hb[t] = xcalloc(nb + 1, sizeof(uint64_t));
	for (uint32_t i = 0; i <= nb; i++) {
		uint64_t prev = have_prev && !reset ? m->prev_buckets[i] : 0;
		l->hb[t][i] += p->bucket_counts[i] >= prev ? p->bucket_counts[i] - prev : p->bucket_counts[i];
	}
keep:
	if (cumulative) {
		m->has_prev = 1;
		m->prev_count = p->count;
		m->prev_sum = p->sum;
		m->prev_nb = nb;
		m->prev_buckets = xrealloc(m->prev_buckets, (nb + 1) * sizeof(uint64_t));
		if (p->bucket_counts)
			memcpy(m->prev_buckets, p->bucket_counts, (nb + 1) * sizeof(uint64_t));
		else
			memset(m->prev_buckets, 0, (nb + 1) * sizeof(uint64_t));
	}
}

static int type_check(struct metrics_acc *m, const struct metric_point *p, char *err, size_t errlen)
{
	if (!m->type) {
		m->type = p->type;
		m->delta = p->delta;
		snprintf(m->unit, sizeof(m->unit), "%s", p->unit ? p->unit : "");
	}
	if (m->r.measure)
		return 0;
	if (m->r.agg == METRICS_RATE && p->type == METRIC_GAUGE) {
		snprintf(err, errlen,
			 "agg=rate needs a sum or a histogram; %.100s is a gauge: use avg, max, min, "
			 "sum or a percentile",
			 p->name);
		return ERR_INVALID;
	}
	if (p->type == METRIC_HISTOGRAM && (m->r.agg == METRICS_MAX || m->r.agg == METRICS_MIN)) {
		snprintf(err, errlen,
			 "agg=%s: %.100s is a histogram, which keeps no extremes: use avg, sum, rate "
			 "or a percentile",
			 m->r.agg == METRICS_MAX ? "max" : "min", p->name);
		return ERR_INVALID;
	}
	return 0;
}

/* The measure's value of `p` scaled to the measure's unit; 0 when `p` is not of it. */
static int measured(const struct metrics_acc *m, const struct metric_point *p, double cpus, double *v)
{
	if (semconv_resource_measure(p, v) != m->r.measure)
		return 0;
	if (m->r.measure == MEASURE_CPU && cpus > 0)
		*v *= cpus;
	return 1;
}

/* The step of a point of `series`, after the series' checks; -1: not counted. */
static long point_step(struct metrics_acc *m, int64_t series, const struct metric_point *p)
{
	if (series != m->cur) {
		series_flush(m);
		m->cur = series;
		m->series++;
		m->line = line_of(m, p);
	}
	if (m->line < 0 || p->time_ns < m->t0)
		return -1;
	size_t t = (size_t)((p->time_ns - m->t0) / m->step);
	return t < m->n_steps ? (long)t : -1;
}

static void add_extremes(struct metrics_acc *m, size_t t, double lo, double hi)
{
	if (!m->sn[t] || lo < m->smin[t])
		m->smin[t] = lo;
	if (!m->sn[t] || hi > m->smax[t])
		m->smax[t] = hi;
}

int metrics_acc_point(struct metrics_acc *m, int64_t series, const struct metric_point *p, double cpus,
		      char *err, size_t errlen)
{
	double v = p->value;
	if (m->r.measure && !measured(m, p, cpus, &v))
		return 0;
	int rc = type_check(m, p, err, errlen);
	if (rc < 0)
		return rc;
	long t = point_step(m, series, p);
	if (t < 0)
		return 0;
	struct mline *l = &m->lines[m->line];
	m->points++;
	l->points++;
	if (p->type == METRIC_HISTOGRAM && !m->r.measure) {
		histogram_point(m, l, (size_t)t, p);
		return 0;
	}
	add_extremes(m, (size_t)t, v, v);
	m->ssum[t] += v;
	m->sn[t]++;
	if (m->r.agg == METRICS_QUANTILE && !m->r.measure)
		quantile_add(l, m->n_steps, (size_t)t, v);
	if (m->r.agg == METRICS_RATE && !m->r.measure) {
		if (p->delta)
			m->sinc[t] += v;
		else if (m->has_prev) {
			if (v < m->prev)
				m->resets++;
			m->sinc[t] += metrics_counter_increase(m->prev, v);
		}
		m->has_prev = 1;
		m->prev = v;
	}
	return 0;
}

/*
 * Whether a cumulative counter restarted inside the hour.  The aggregate
 * keeps the hour's increase (a drop counted as a restart from 0), not its
 * drops; without one, the increases add up to last - first, and each drop
 * adds the value it dropped from (at least `first`, the counter rising until
 * then).  So an hour with restarts is told apart, but not how many: it
 * counts as one.  The margin covers the rounding of a sum of increases.
 */
static int hour_restarted(const struct store_metric_hour *h)
{
	double scale = fmax(fmax(fabs(h->first), fabs(h->last)), fmax(h->inc, 1));
	return h->n > 1 && h->inc - (h->last - h->first) > 1e-9 * scale;
}

int metrics_acc_hour(struct metrics_acc *m, int64_t series, const struct metric_point *p,
		     const struct store_metric_hour *h, double cpus, char *err, size_t errlen)
{
	double f = 1;
	if (m->r.measure) { /* the factor of a series' values is its own: worked out once */
		if (series != m->factor_series) {
			struct metric_point one = *p;
			one.value = 1;
			m->factor_series = series;
			m->factor = measured(m, &one, cpus, &f) ? f : NAN;
		}
		if (isnan(m->factor))
			return 0;
		f = m->factor;
	}
	int rc = type_check(m, p, err, errlen);
	if (rc < 0)
		return rc;
	long t = point_step(m, series, p);
	if (t < 0 || !h->n)
		return 0;
	m->points += h->n;
	m->lines[m->line].points += h->n;
	add_extremes(m, (size_t)t, h->min * f, h->max * f);
	m->ssum[t] += h->sum * f;
	m->sn[t] += (double)h->n;
	if (m->r.agg == METRICS_RATE && !m->r.measure) {
		if (p->delta) {
			m->sinc[t] += h->sum;
		} else {
			if (m->has_prev) {
				if (h->first < m->prev)
					m->resets++;
				m->sinc[t] += metrics_counter_increase(m->prev, h->first);
			}
			if (hour_restarted(h))
				m->resets++;
			m->sinc[t] += h->inc;
		}
		m->has_prev = 1;
		m->prev = h->last;
	}
	return 0;
}

/* The value of a cell once every series is in. */
static double cell_value(const struct metrics_acc *m, struct mline *l, size_t t)
{
	double step_s = (double)m->step / NS_PER_S;
	int hist = m->type == METRIC_HISTOGRAM && !m->r.measure;
	if (m->r.measure)
		return l->n[t] ? l->v[t] : NAN;
	if (hist) {
		if (!l->n[t])
			return NAN;
		switch (m->r.agg) {
		case METRICS_AVG: return l->hcount[t] > 0 ? l->hsum[t] / l->hcount[t] : NAN;
		case METRICS_SUM: return l->hsum[t];
		case METRICS_RATE: return l->hcount[t] / step_s;
		case METRICS_QUANTILE:
			return l->hb && l->hb[t] ? metrics_quantile_buckets(l->bounds, l->n_bounds, l->hb[t],
									    m->r.quantile)
						 : NAN;
		default: return NAN;
		}
	}
	if (m->r.agg == METRICS_QUANTILE)
		return l->qv && l->qn[t] ? metrics_quantile_values(l->qv[t], l->qn[t], m->r.quantile) : NAN;
	if (!l->n[t])
		return NAN;
	if (m->r.agg == METRICS_AVG)
		return l->v[t] / l->n[t];
	if (m->r.agg == METRICS_RATE)
		return l->v[t] / step_s;
	return l->v[t];
}

static int line_cmp(const void *pa, const void *pb)
{
	const struct metrics_line *a = pa, *b = pb;
	if (!a->key || !b->key)
		return !a->key - !b->key;
	return strcmp(a->key, b->key);
}

void metrics_acc_answer(struct metrics_acc *m, struct arena *a, struct metrics_answer *out)
{
	series_flush(m);
	m->cur = -1;
	memset(out, 0, sizeof(*out));
	out->t0_ns = m->t0;
	out->step_ns = m->step;
	out->n_steps = m->n_steps;
	out->type = m->type;
	out->delta = m->delta;
	if (m->r.measure)
		out->unit = resource_measure_units[m->r.measure];
	else if (m->r.agg == METRICS_RATE)
		out->unit = "1/s";
	else if (m->type == METRIC_HISTOGRAM && m->r.agg != METRICS_AVG && m->r.agg != METRICS_QUANTILE &&
		 m->r.agg != METRICS_SUM)
		out->unit = NULL;
	else
		out->unit = m->type ? arena_strdup(a, m->unit) : NULL;
	out->truncated = m->truncated;
	out->points = m->points;
	out->series = m->series;
	out->resets = m->resets;
	out->skipped_bounds = m->skipped_bounds;
	out->n_lines = m->n_lines;
	out->lines = arena_zalloc(a, (m->n_lines ? m->n_lines : 1) * sizeof(*out->lines));
	for (size_t i = 0; i < m->n_lines; i++) {
		struct mline *l = &m->lines[i];
		struct metrics_line *o = &out->lines[i];
		o->key = l->key ? arena_strdup(a, l->key) : NULL;
		o->points = l->points;
		o->values = arena_alloc(a, (m->n_steps ? m->n_steps : 1) * sizeof(double));
		for (size_t t = 0; t < m->n_steps; t++)
			o->values[t] = cell_value(m, l, t);
	}
	qsort(out->lines, out->n_lines, sizeof(*out->lines), line_cmp);
}

/* ---- reading the store ------------------------------------------------------------ */

/* The CPU count of each producer (service \x1f instance) that reports system.cpu.*. */
struct cpu_counts {
	struct strmap m;
	struct buf key;
};

static void producer_key(struct buf *b, const struct resource *r)
{
	const char *inst = instance_of(r);
	buf_reset(b);
	buf_printf(b, "%s\x1f%s", r && r->service_name ? r->service_name : "", inst ? inst : "");
}

/* "\x1e" host.name: the CPUs a host reports count for every process on it
 * (hotpath agent sends the host and its processes as separate producers). */
static int host_key(struct buf *b, const struct resource *r)
{
	const char *host = r ? attr_str(r->attrs, r->n_attrs, "host.name") : NULL;
	if (!host)
		return -1;
	buf_reset(b);
	buf_printf(b, "\x1e%s", host);
	return 0;
}

static int cpu_point(void *arg, const struct metric_point *p)
{
	struct cpu_counts *c = arg;
	double n = semconv_metric_cpus(p);
	int64_t have = 0;
	if (n <= 0)
		return 0;
	for (int by_host = 0; by_host < 2; by_host++) {
		if (by_host ? host_key(&c->key, p->resource) < 0 : (producer_key(&c->key, p->resource), 0))
			continue;
		if (strmap_get(&c->m, c->key.data, c->key.len, &have) < 0 || (double)have < n)
			strmap_put(&c->m, c->key.data, c->key.len, (int64_t)n);
	}
	return 0;
}

/* The CPU counts told in the last 15 minutes of the range (the count of a host rarely changes). */
static int cpu_counts_read(struct cpu_counts *c, struct store *s, const struct metrics_filter *f, char *err,
			   size_t errlen)
{
	uint64_t from = f->to_ns > f->from_ns + 900 * NS_PER_S ? f->to_ns - 900 * NS_PER_S : f->from_ns;
	if (store_scan_points(s, from, f->to_ns, "system.cpu.logical.count", cpu_point, c, err, errlen) < 0)
		return ERR_INTERNAL;
	return store_scan_points(s, from, f->to_ns, "system.cpu.utilization", cpu_point, c, err, errlen) < 0
		       ? ERR_INTERNAL
		       : 0;
}

struct scan_ctx {
	struct metrics_acc *acc;
	const struct metrics_request *r;
	struct cpu_counts *cpus;
	int64_t series; /* the series under way, and whether it passes the filter */
	int pass;
	double ncpu;
	int rc;
	char *err;
	size_t errlen;
};

/* A new series: whether it passes the filters, and its producer's CPUs. */
static void scan_point_series(struct scan_ctx *c, int64_t series, const struct metric_point *p)
{
	int64_t n;
	c->series = series;
	c->pass =
		metrics_filter_match(&c->r->f, p->resource) && (!c->r->name || !strcmp(p->name, c->r->name));
	c->ncpu = 0;
	if (c->pass && c->cpus) {
		producer_key(&c->cpus->key, p->resource);
		if (strmap_get(&c->cpus->m, c->cpus->key.data, c->cpus->key.len, &n) == 0 ||
		    (host_key(&c->cpus->key, p->resource) == 0 &&
		     strmap_get(&c->cpus->m, c->cpus->key.data, c->cpus->key.len, &n) == 0))
			c->ncpu = (double)n;
	}
}

static int scan_point(void *arg, int64_t series, const struct metric_point *p)
{
	struct scan_ctx *c = arg;
	if (series != c->series)
		scan_point_series(c, series, p);
	if (!c->pass)
		return 0;
	c->rc = metrics_acc_point(c->acc, series, p, c->ncpu, c->err, c->errlen);
	return c->rc < 0;
}

static int scan_hour(void *arg, int64_t series, const struct metric_point *p,
		     const struct store_metric_hour *h)
{
	struct scan_ctx *c = arg;
	if (!h)
		return scan_point(arg, series, p);
	if (series != c->series)
		scan_point_series(c, series, p);
	if (!c->pass)
		return 0;
	c->rc = metrics_acc_hour(c->acc, series, p, h, c->ncpu, c->err, c->errlen);
	return c->rc < 0;
}

/* Whole hours a step, and no percentile: the hourly aggregates answer. */
static int use_hours(const struct metrics_request *r)
{
	return r->step_ns % STORE_METRIC_HOUR_NS == 0 && (r->measure || r->agg != METRICS_QUANTILE) &&
	       (!r->exact_from || r->f.from_ns % STORE_METRIC_HOUR_NS == 0);
}

int metrics_query(struct store *s, const struct metrics_request *r, struct arena *a,
		  struct metrics_answer *out, char *err, size_t errlen)
{
	uint64_t t0;
	size_t n;
	int rc = metrics_grid(r->f.from_ns, r->f.to_ns, r->step_ns, &t0, &n, err, errlen);
	if (rc < 0)
		return rc;
	if (r->exact_from) {
		t0 = r->f.from_ns;
		n = (size_t)((r->f.to_ns - t0 + r->step_ns - 1) / r->step_ns);
	}
	struct cpu_counts cpus;
	strmap_init(&cpus.m);
	buf_init(&cpus.key, 4096);
	struct metrics_acc *acc = metrics_acc_new(r, t0, n);
	struct scan_ctx c = {
		acc, r, r->measure == MEASURE_CPU && !r->cpu_share ? &cpus : NULL, -1, 0, 0, 0, err, errlen};
	if (c.cpus && (rc = cpu_counts_read(&cpus, s, &r->f, err, errlen)) < 0)
		goto out;
	const char *one[] = {r->name, NULL};
	const char *const *prefixes = r->name ? one : semconv_measure_prefixes(r->measure);
	for (; *prefixes && !rc; prefixes++) {
		int failed = use_hours(r) ? store_scan_series_hours(s, r->f.from_ns, r->f.to_ns, *prefixes,
								    scan_hour, &c, err, errlen) < 0
					  : store_scan_series_points(s, r->f.from_ns, r->f.to_ns, *prefixes,
								     scan_point, &c, err, errlen) < 0;
		if (c.rc < 0) /* the accumulator refused: the scan stopped there */
			rc = c.rc;
		else if (failed)
			rc = ERR_INTERNAL;
		c.series = -1;
	}
	if (!rc)
		metrics_acc_answer(acc, a, out);
out:
	metrics_acc_free(acc);
	strmap_release(&cpus.m);
	buf_release(&cpus.key);
	return rc;
}

/* A series' resource identity (a JSON object of strings) as a resource, in `a`. */
static void resource_from_json(struct arena *a, const char *service, const char *json, struct resource *r,
			       struct json_doc *d)
{
	char err[64];
	memset(r, 0, sizeof(*r));
	if (json_doc_parse(d, json, strlen(json), 0, err, sizeof(err)) == 0 && d->root &&
	    d->root->type == JSON_OBJECT) {
		r->attrs = arena_zalloc(a, (d->root->len + 1) * sizeof(*r->attrs));
		for (const struct json *m = d->root->child; m; m = m->next) {
			if (m->type != JSON_STRING)
				continue;
			struct attr *at = &r->attrs[r->n_attrs++];
			at->key = arena_strndup(a, m->key, m->key_len);
			at->type = ATTR_STRING;
			at->v.s = arena_strndup(a, m->s, m->len);
		}
	}
	resource_derive(r);
	r->service_name = service;
}

static void add_key(const char **keys, size_t *n, struct arena *a, const char *k, size_t len)
{
	for (size_t i = 0; i < *n; i++)
		if (strlen(keys[i]) == len && !memcmp(keys[i], k, len))
			return;
	if (*n < METRICS_LIST_KEYS)
		keys[(*n)++] = arena_strndup(a, k, len);
}

static void add_json_keys(const char **keys, size_t *n, struct arena *a, const char *json)
{
	struct json_doc d;
	char err[64];
	if (json_doc_parse(&d, json, strlen(json), 0, err, sizeof(err)) == 0 && d.root &&
	    d.root->type == JSON_OBJECT)
		for (const struct json *m = d.root->child; m; m = m->next)
			add_key(keys, n, a, m->key, m->key_len);
	json_doc_release(&d);
}

int metrics_list(struct store *s, const struct metrics_filter *f, const char *prefix, struct arena *a,
		 struct metrics_name **out, size_t *n, char *err, size_t errlen)
{
	struct metric_series_row *rows;
	size_t nr, cap = 0;
	*out = NULL;
	*n = 0;
	if (store_metric_series(s, f->from_ns, f->to_ns, prefix, 0, a, &rows, &nr, err, errlen) < 0)
		return ERR_INTERNAL;
	for (size_t i = 0; i < nr; i++) {
		struct resource r;
		struct json_doc d;
		resource_from_json(a, rows[i].service, rows[i].resource, &r, &d);
		int pass = metrics_filter_match(f, &r);
		json_doc_release(&d);
		if (!pass)
			continue;
		if (!*n || strcmp((*out)[*n - 1].name, rows[i].name)) {
			*out = arena_grow(a, *out, &cap, *n + 1, sizeof(**out));
			struct metrics_name *m = &(*out)[(*n)++];
			memset(m, 0, sizeof(*m));
			m->name = rows[i].name;
			m->unit = rows[i].unit;
			m->type = rows[i].type;
			m->delta = rows[i].delta;
		}
		struct metrics_name *m = &(*out)[*n - 1];
		m->series++;
		add_key(m->services, &m->n_services, a, rows[i].service, strlen(rows[i].service));
		add_json_keys(m->resource_keys, &m->n_resource_keys, a, rows[i].resource);
		add_json_keys(m->attribute_keys, &m->n_attribute_keys, a, rows[i].attrs);
	}
	return 0;
}
