/*
 * detect_metrics.c - the detectors that read metric points: connection
 * pools (together with the waits detect_trace.c read from spans), memory
 * growing without release and CPU saturation (see detect.h and
 * docs/DETECTORS.md).
 *
 * Points are kept per series as (time, value) samples, at most
 * DETECT_MAX_SAMPLES a series, so that arrival order does not matter;
 * everything is judged in detect_finish().
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/detect_internal.h"
#include "core/alloc.h"

static const struct res_ids *metric_res(struct detector *d, const struct resource *r)
{
	for (unsigned i = 0; i < d->n_res; i++)
		if (d->res[i].r == r)
			return &d->res[i];
	struct res_ids *x = &d->res[d->n_res < 32 ? d->n_res++ : 31];
	const char *svc = r && r->service_name ? r->service_name : "unknown_service";
	const char *inst = r ? attr_str(r->attrs, r->n_attrs, "service.instance.id") : NULL;
	if (!inst && r)
		inst = attr_str(r->attrs, r->n_attrs, "host.name");
	x->r = r;
	x->svc = detect_intern(d, svc, strlen(svc));
	x->env = r && r->environment ? detect_intern(d, r->environment, strlen(r->environment)) : 0;
	x->ver = r && r->service_version ? detect_intern(d, r->service_version, strlen(r->service_version))
					 : 0;
	x->inst = inst ? detect_intern(d, inst, strlen(inst)) : 0;
	return x;
}

static uint32_t pool_of(struct detector *d, const struct metric_point *p)
{
	const char *pool = attr_str(p->attrs, p->n_attrs, "db.client.connection.pool.name");
	if (!pool)
		pool = attr_str(p->attrs, p->n_attrs, "pool.name");
	return pool ? detect_intern(d, pool, strlen(pool)) : 0;
}

static double point_value(const struct metric_point *p)
{
	if (p->type == METRIC_HISTOGRAM)
		return p->count ? p->sum / (double)p->count : 0;
	return p->value;
}

static void on_pool_point(struct detector *d, const struct metric_point *p, const struct res_ids *r,
			  const char *what)
{
	uint32_t pool = pool_of(d, p);
	double v = point_value(p);
	if (!pool)
		return;
	struct acc *a = acc_get(d, T_POOLM, r->svc, 0, 0, pool, r->env, 0);
	if (!a)
		return;
	if (!strcmp(what, "max")) {
		if (v > a->max)
			a->max = v;
	} else if (!strcmp(what, "count")) {
		const char *state = attr_str(p->attrs, p->n_attrs, "db.client.connection.state");
		if (!state)
			state = attr_str(p->attrs, p->n_attrs, "state");
		if (state && !strcmp(state, "used"))
			acc_add_sample(d, a, p->time_ns, v, -1);
	} else {
		acc_add_sample(d, a, p->time_ns, -1, v);
	}
}

int detect_points(struct detector *d, const struct metric_point *points, size_t n)
{
	d->n_res = 0;
	for (size_t i = 0; i < n; i++) {
		const struct metric_point *p = &points[i];
		const char *name = p->name;
		if (!name)
			continue;
		d->st.points++;
		const struct res_ids *r = metric_res(d, p->resource);
		if (!strcmp(name, "process.cpu.utilization")) {
			struct acc *a = acc_get(d, T_CPU, r->svc, 0, 0, 0, r->env, 0);
			if (a)
				acc_add_sample(d, a, p->time_ns, point_value(p), 0);
		} else if (!strcmp(name, "process.memory.usage")) {
			struct acc *a = acc_get(d, T_MEM, r->svc, 0, 0, r->inst, r->env, r->ver);
			if (a)
				acc_add_sample(d, a, p->time_ns, point_value(p), 0);
		} else if (!strncmp(name, "db.client.connection.", 21)) {
			const char *what = name + 21;
			if (!strcmp(what, "max") || !strcmp(what, "count") ||
			    !strcmp(what, "pending_requests"))
				on_pool_point(d, p, r, what);
		}
	}
	return 0;
}

/* ---- judging -------------------------------------------------------------- */

static int sample_cmp(const void *pa, const void *pb)
{
	const struct sample *a = pa, *b = pb;
	return a->t < b->t ? -1 : a->t > b->t;
}

static void sort_samples(struct acc *a)
{
	if (a->n_samples > 1)
		qsort(a->samples, a->n_samples, sizeof(*a->samples), sample_cmp);
}

static double span_of(const struct acc *a)
{
	return a->n_samples ? (double)(a->samples[a->n_samples - 1].t - a->samples[0].t) / NS_PER_S : 0;
}

/* What the pool metrics say: exhausted minutes, samples at the maximum, peak demand. */
struct pool_view {
	double max, peak_demand, exhausted_samples, samples, minutes, hours;
};

static void pool_metrics(struct acc *m, struct pool_view *v)
{
	memset(v, 0, sizeof(*v));
	if (!m)
		return;
	sort_samples(m);
	v->max = m->max;
	v->hours = span_of(m) / 3600.0;
	uint64_t last_minute = UINT64_MAX;
	for (size_t i = 0; i < m->n_samples;) {
		/* the used count and pending requests of one time */
		double used = -1, pending = 0;
		size_t j = i;
		for (; j < m->n_samples && m->samples[j].t == m->samples[i].t; j++) {
			if (m->samples[j].v >= 0)
				used = m->samples[j].v;
			if (m->samples[j].v2 > pending)
				pending = m->samples[j].v2;
		}
		if (used >= 0) {
			v->samples++;
			if (used + pending > v->peak_demand)
				v->peak_demand = used + pending;
			if ((v->max > 0 && used >= v->max) || pending > 0) {
				v->exhausted_samples++;
				if (m->samples[i].t / NS_PER_MIN_U != last_minute) {
					last_minute = m->samples[i].t / NS_PER_MIN_U;
					v->minutes++;
				}
			}
		}
		i = j;
	}
}

static double distinct_minutes(struct acc *a)
{
	double n = 0;
	uint64_t last = UINT64_MAX;
	sort_samples(a);
	for (size_t i = 0; i < a->n_samples; i++) {
		uint64_t m = a->samples[i].t / NS_PER_MIN_U;
		if (m != last)
			n++;
		last = m;
	}
	return n;
}

/* Little's law at the worst observed minute: the connections asked for at once, rounded up to 5. */
static double recommend_pool(double max, double peak)
{
	double want = peak > max ? peak : max * 2;
	return ceil(want / 5.0) * 5.0;
}

static void pool_finding(struct detector *d, struct acc *w, struct acc *m)
{
	struct pool_view v;
	double trace_hours = detect_window_s(d) / 3600.0;
	pool_metrics(m, &v);
	struct finding *f = detect_add_finding(d, FINDING_POOL_EXHAUSTION, w ? w : m);
	f->pool_max = v.max > 0 ? v.max : w ? w->max : 0;
	f->pool_peak_demand = v.peak_demand;
	f->pool_recommended = recommend_pool(f->pool_max, v.peak_demand);
	if (w) {
		f->endpoint = detect_name(d, w->where);
		f->occurrences = w->n2;
		f->subject_requests = w->n;
		f->avg_ns = w->sum2 / (double)w->n2 * 1e6;
		f->baseline_ns = (w->sum - w->sum2) / (double)(w->n > w->n2 ? w->n - w->n2 : 1) * 1e6;
		f->rate = (double)w->n2 / (double)w->n;
		double waste = w->sum2 * 1e6;
		f->saving_ns = w->affected ? waste / (double)w->affected : 0;
		if (f->affected_latency_ns > 0)
			f->saving_pct = fmin(100, 100 * f->saving_ns / f->affected_latency_ns);
		f->saved_s_per_hour = trace_hours > 0 ? waste / NS_PER_S / trace_hours : 0;
		f->per_hour = trace_hours > 0 ? (double)w->n2 / trace_hours : 0;
		f->per_request = w->affected ? (double)w->n2 / (double)w->affected : 0;
	} else {
		f->occurrences = (uint64_t)v.exhausted_samples;
		f->subject_requests = (uint64_t)v.samples;
		f->rate = v.samples ? v.exhausted_samples / v.samples : 0;
	}
	if (m && v.hours > 0)
		f->episodes_per_hour = v.minutes / v.hours;
	else if (w && trace_hours > 0)
		f->episodes_per_hour = distinct_minutes(w) / trace_hours;
	detect_rank(d, f);
	if (!w) /* metrics alone: no request figures to rank by */
		f->priority = f->rate >= 0.1 ? PRIORITY_MEDIUM : PRIORITY_LOW;
}

/*
 * From spans: waits of at least pool_wait_ms in at least pool_wait_share of
 * the acquisitions and min_requests requests.  From metrics alone: the pool
 * at its maximum, or requests pending, in at least 1% of the samples.
 */
static void judge_pools(struct detector *d)
{
	struct table *tw = &d->t[T_POOL], *tm = &d->t[T_POOLM];
	for (size_t i = 0; i < tw->n; i++) {
		struct acc *w = &tw->a[i];
		if (w->n2 < d->cfg.min_requests || (double)w->n2 < d->cfg.pool_wait_share * (double)w->n)
			continue;
		struct acc *m = acc_find(d, T_POOLM, w->service, 0, 0, w->detail, w->env, 0);
		if (m)
			m->n3 = 1; /* reported with the waits */
		pool_finding(d, w, m);
	}
	for (size_t i = 0; i < tm->n; i++) {
		struct acc *m = &tm->a[i];
		struct pool_view v;
		if (m->n3)
			continue;
		pool_metrics(m, &v);
		if (v.samples >= 10 && v.exhausted_samples >= 0.01 * v.samples)
			pool_finding(d, NULL, m);
	}
	for (size_t i = 0; i < tm->n; i++)
		tm->a[i].n3 = 0;
}

/* ---- memory --------------------------------------------------------------- */

static int dbl_cmp(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return a < b ? -1 : a > b;
}

struct growth {
	double slope; /* per hour */
	double start, end, max_drop, hours;
};

static double median3(const struct sample *s, size_t i, size_t n)
{
	double a = s[i > 0 ? i - 1 : i].v, b = s[i].v, c = s[i + 1 < n ? i + 1 : i].v;
	return a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
}

/*
 * Theil-Sen on pairs half the series apart (robust to outliers, linear
 * time); start and end levels are the medians of the first and last tenth;
 * the largest drop is measured on a 3-point running median against its
 * running peak.
 */
static int growth_of(struct acc *a, struct growth *g)
{
	size_t n = a->n_samples, h = n / 2, tenth = n / 10 ? n / 10 : 1;
	struct sample *s = a->samples;
	memset(g, 0, sizeof(*g));
	if (n < 10)
		return -1;
	qsort(s, n, sizeof(*s), sample_cmp);
	double *v = xmalloc(n * sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i + h < n; i++)
		if (s[i + h].t > s[i].t)
			v[k++] = (s[i + h].v - s[i].v) / ((double)(s[i + h].t - s[i].t) / 3600e9);
	qsort(v, k, sizeof(*v), dbl_cmp);
	g->slope = k ? v[k / 2] : 0;
	for (size_t i = 0; i < tenth; i++)
		v[i] = s[i].v;
	qsort(v, tenth, sizeof(*v), dbl_cmp);
	g->start = v[tenth / 2];
	for (size_t i = 0; i < tenth; i++)
		v[i] = s[n - tenth + i].v;
	qsort(v, tenth, sizeof(*v), dbl_cmp);
	g->end = v[tenth / 2];
	double peak = 0;
	for (size_t i = 0; i < n; i++) {
		double m = median3(s, i, n);
		if (m > peak)
			peak = m;
		else if (peak > 0 && (peak - m) / peak > g->max_drop)
			g->max_drop = (peak - m) / peak;
	}
	g->hours = span_of(a) / 3600.0;
	free(v);
	return 0;
}

/*
 * A series grows without release when, over at least memory_min_hours, its
 * robust slope is at least memory_growth_per_hour of its starting level,
 * it ends at least half that rate above where it started, and it never
 * drops more than memory_max_drop below its running peak.  One finding per
 * service, about its steepest series.
 */
static void judge_memory(struct detector *d)
{
	struct table *t = &d->t[T_MEM];
	struct best {
		uint32_t svc;
		size_t acc, growing, series;
		struct growth g;
	} *best = xcalloc(t->n + 1, sizeof(*best));
	size_t nb = 0;
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		struct growth g;
		size_t b;
		for (b = 0; b < nb && best[b].svc != a->service; b++)
			;
		if (b == nb) {
			best[nb].svc = a->service;
			best[nb].acc = SIZE_MAX;
			nb++;
		}
		best[b].series++;
		if (growth_of(a, &g) || g.hours < d->cfg.memory_min_hours || g.start <= 0)
			continue;
		double rel = g.slope / g.start;
		if (rel < d->cfg.memory_growth_per_hour || g.max_drop > d->cfg.memory_max_drop ||
		    (g.end - g.start) / g.start < 0.5 * d->cfg.memory_growth_per_hour * g.hours)
			continue;
		best[b].growing++;
		if (best[b].acc == SIZE_MAX || g.slope > best[b].g.slope) {
			best[b].acc = i;
			best[b].g = g;
		}
	}
	for (size_t b = 0; b < nb; b++) {
		if (best[b].acc == SIZE_MAX)
			continue;
		const struct acc *a = &t->a[best[b].acc];
		const struct growth *g = &best[b].g;
		struct finding *f = detect_add_finding(d, FINDING_MEMORY_GROWTH, a);
		f->detail = "process.memory.usage";
		f->occurrences = best[b].growing;
		f->subject_requests = best[b].series;
		f->affected_requests = 0;
		f->n_examples = 0;
		f->growth_per_hour = g->slope;
		f->start_value = g->start;
		f->end_value = g->end;
		f->window_s = g->hours * 3600;
		f->ratio = g->slope / g->start; /* growth per hour, share of the start */
		f->rate = g->max_drop;
		/* A day of this growth against the starting level. */
		double day = f->ratio * 24;
		f->priority = day >= 1 ? PRIORITY_HIGH : day >= 0.2 ? PRIORITY_MEDIUM : PRIORITY_LOW;
	}
	free(best);
}

/* ---- CPU ------------------------------------------------------------------- */

/*
 * Saturated: at least cpu_share of the samples at or above cpu_high.  The
 * cost is the entry-span latency of the service in saturated minutes
 * against its other minutes.
 */
static void judge_cpu(struct detector *d)
{
	struct table *t = &d->t[T_CPU];
	double hours = detect_window_s(d) / 3600.0;
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		size_t hot = 0;
		double max = 0;
		for (size_t j = 0; j < a->n_samples; j++) {
			hot += a->samples[j].v >= d->cfg.cpu_high;
			max = fmax(max, a->samples[j].v);
		}
		if (a->n_samples < 10 || hot < 3 || (double)hot < d->cfg.cpu_share * (double)a->n_samples)
			continue;
		/* latency in saturated minutes (each minute once) and in the others */
		double hot_sum = 0, hot_n = 0, all_sum = 0, all_n = 0;
		sort_samples(a);
		uint64_t last = UINT64_MAX;
		for (size_t j = 0; j < a->n_samples; j++) {
			uint64_t minute = a->samples[j].t / NS_PER_MIN_U;
			if (minute == last || a->samples[j].v < d->cfg.cpu_high)
				continue;
			last = minute;
			struct minute_v *m = detect_minute_get(d, T_CPU, i, minute);
			if (m) {
				hot_sum += m->a;
				hot_n += (double)m->n;
			}
		}
		all_sum = a->sum;
		all_n = (double)a->n;
		struct finding *f = detect_add_finding(d, FINDING_CPU_SATURATION, a);
		f->detail = "process.cpu.utilization";
		f->occurrences = hot;
		f->subject_requests = a->n_samples;
		f->rate = (double)hot / (double)a->n_samples;
		f->ratio = max;
		f->affected_requests = (uint64_t)hot_n;
		f->n_examples = 0;
		if (hot_n > 0 && all_n > hot_n) {
			f->avg_ns = hot_sum / hot_n;
			f->baseline_ns = (all_sum - hot_sum) / (all_n - hot_n);
			f->affected_latency_ns = f->avg_ns;
			double extra = fmax(0, f->avg_ns - f->baseline_ns);
			f->saving_ns = extra;
			f->saving_pct = f->avg_ns > 0 ? 100 * extra / f->avg_ns : 0;
			f->saved_s_per_hour = hours > 0 ? extra * hot_n / NS_PER_S / hours : 0;
		}
		detect_rank(d, f);
	}
}

void detect_finish_metrics(struct detector *d)
{
	judge_pools(d);
	judge_memory(d);
	judge_cpu(d);
}
