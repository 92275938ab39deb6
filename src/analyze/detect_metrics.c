/*
 * detect_metrics.c - the detectors that read metric points: connection
 * pools (together with the waits detect_trace.c read from spans, and
 * leaving out the series that cannot be true), memory growing without
 * release and CPU saturation (per process, against one core for a
 * single-threaded runtime, naming the route whose own work detect_trace.c
 * summed), and routes whose time is their own work (held against the CPU
 * their process used, and folded into a saturation finding that names
 * them) (see detect.h and docs/DETECTORS.md).
 *
 * Points are kept per series as (time, value) samples, at most
 * DETECT_MAX_SAMPLES a series, so that arrival order does not matter;
 * everything is judged in detect_finish().
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analyze/detect_internal.h"
#include "core/alloc.h"
#include "ingest/semconv_metrics.h"

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

uint32_t detect_process_tag(const struct resource *r)
{
	const char *inst = r ? attr_str(r->attrs, r->n_attrs, "service.instance.id") : NULL;
	if (!inst && r)
		inst = attr_str(r->attrs, r->n_attrs, "host.name");
	return inst ? (uint32_t)detect_hash(DETECT_HASH_INIT, inst, strlen(inst)) | 1 : 0;
}

static uint32_t pool_of(struct detector *d, const struct metric_point *p)
{
	const char *pool = semconv_pool_name(p);
	return pool ? detect_intern(d, pool, strlen(pool)) : 0;
}

static double point_value(const struct metric_point *p)
{
	if (p->type == METRIC_HISTOGRAM)
		return p->count ? p->sum / (double)p->count : 0;
	return p->value;
}

/* What a pool metric measures: "max", "count" or "pending_requests", or NULL (ingest/semconv_metrics.h). */
static const char *pool_metric(const char *name)
{
	const char *what = semconv_pool_metric(name);
	return what && strcmp(what, "wait_time") ? what : NULL;
}

/* T_POOLM: max = the pool's maximum, samples = (used, pending), n2 = impossible (negative) points. */
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
	if (v < 0) { /* a count below zero: the series drifted (one counter shared by several pools) */
		a->n2++;
		return;
	}
	if (!strcmp(what, "max")) {
		if (v > a->max)
			a->max = v;
	} else if (!strcmp(what, "count")) {
		const char *state = semconv_pool_state(p);
		if (state && !strcmp(state, "used"))
			acc_add_sample(d, a, p->time_ns, v, -1);
	} else {
		acc_add_sample(d, a, p->time_ns, -1, v);
	}
}

/* ---- CPU points ------------------------------------------------------------ */

/*
 * T_CPU keeps, per service and environment, samples (time, value, process
 * * CPU_KINDS + kind); per process (detail = its instance, 0 when the
 * resource names none, which is then the service's own key) what is known
 * of it: max = its host's logical CPUs, n3 > 0 = a single-threaded runtime.
 */
enum cpu_kind {
	CPU_UTIL,	/* process.cpu.utilization, one point per state: summed */
	CPU_LOOP_UTIL,	/* nodejs.eventloop.utilization: the share of time the one thread was busy */
	CPU_LOOP_DELAY, /* nodejs.eventloop.delay.p99, in ms */
	CPU_KINDS
};

static int is_cpu_metric(const char *name)
{
	switch (name[0]) {
	case 'p':
		return !strncmp(name, "process.cpu.utilization", 23) ||
		       !strncmp(name, "process.runtime.", 16);
	case 'n':
	case 'v': return !strncmp(name, "nodejs.", 7) || !strncmp(name, "v8js.", 5);
	case 's': return !strncmp(name, "system.cpu.", 11);
	default: return 0;
	}
}

/* A runtime that runs the application's code on one thread: Node.js, CPython (the GIL), Ruby (the GVL). */
static int runtime_single_threaded(const struct resource *r)
{
	static const char *const runtimes[] = {"nodejs", "node", "cpython", "pypy", "ruby"};
	static const char *const languages[] = {"nodejs", "python", "ruby"};
	const char *rt = r ? attr_str(r->attrs, r->n_attrs, "process.runtime.name") : NULL;
	const char *lang = r ? attr_str(r->attrs, r->n_attrs, "telemetry.sdk.language") : NULL;
	if (rt) {
		for (size_t i = 0; i < sizeof(runtimes) / sizeof(*runtimes); i++)
			if (!strcasecmp(rt, runtimes[i]))
				return 1;
		return 0;
	}
	for (size_t i = 0; lang && i < sizeof(languages) / sizeof(*languages); i++)
		if (!strcasecmp(lang, languages[i]))
			return 1;
	return 0;
}

static void on_cpu_point(struct detector *d, const struct metric_point *p, const struct res_ids *r)
{
	const char *name = p->name;
	double process = (double)detect_process_tag(p->resource) * CPU_KINDS;
	struct acc *proc = acc_get(d, T_CPU, r->svc, 0, 0, r->inst, r->env, 0);
	if (!proc)
		return;
	if (runtime_single_threaded(p->resource) || !strncmp(name, "nodejs.", 7) ||
	    !strncmp(name, "v8js.", 5) || !strncmp(name, "process.runtime.cpython.", 24))
		proc->n3 = 1;
	if (!strncmp(name, "system.cpu.", 11)) {
		proc->max = fmax(proc->max, semconv_metric_cpus(p));
		return;
	}
	struct acc *svc = acc_get(d, T_CPU, r->svc, 0, 0, 0, r->env, 0); /* may move `proc` */
	if (!svc)
		return;
	if (!strcmp(name, "process.cpu.utilization")) {
		const char *state = attr_str(p->attrs, p->n_attrs, "cpu.mode");
		if (!state)
			state = attr_str(p->attrs, p->n_attrs, "process.cpu.state");
		if (!state)
			state = attr_str(p->attrs, p->n_attrs, "state");
		if (!state || (strcmp(state, "idle") && strcmp(state, "wait")))
			acc_add_sample(d, svc, p->time_ns, point_value(p), process + CPU_UTIL);
	} else if (!strcmp(name, "nodejs.eventloop.utilization")) {
		acc_add_sample(d, svc, p->time_ns, point_value(p), process + CPU_LOOP_UTIL);
	} else if (!strcmp(name, "nodejs.eventloop.delay.p99")) {
		acc_add_sample(d, svc, p->time_ns, semconv_duration_ms(point_value(p), p->unit),
			       process + CPU_LOOP_DELAY);
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
		if (is_cpu_metric(name)) {
			on_cpu_point(d, p, r);
		} else if (!strcmp(name, "process.memory.usage")) {
			struct acc *a = acc_get(d, T_MEM, r->svc, 0, 0, r->inst, r->env, r->ver);
			if (a)
				acc_add_sample(d, a, p->time_ns, point_value(p), 0);
		} else if (pool_metric(name)) {
			on_pool_point(d, p, r, pool_metric(name));
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
	double max, peak_demand, peak_used, exhausted_samples, samples, minutes, hours;
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
			v->peak_used = fmax(v->peak_used, used);
			if (used + pending > v->peak_demand)
				v->peak_demand = used + pending;
			if ((v->max > 0 && used >= v->max) || pending > 0) {
				v->exhausted_samples++;
				if (m->samples[i].t / NS_PER_MIN != last_minute) {
					last_minute = m->samples[i].t / NS_PER_MIN;
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
		uint64_t m = a->samples[i].t / NS_PER_MIN;
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

/* One end of a wait: +1 at its start, -1 at its end, in one process. */
struct wait_edge {
	uint64_t t;
	double process;
	int step;
};

static int edge_cmp(const void *pa, const void *pb)
{
	const struct wait_edge *a = pa, *b = pb;
	if (a->process != b->process)
		return a->process < b->process ? -1 : 1;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return a->step - b->step; /* an end before a start at the same time */
}

/*
 * The most waits of one process under way at once: each sample of a T_POOL
 * key is a wait (start, ms, process).  A wait counts a millisecond short,
 * as start times may be whole milliseconds (the JavaScript SDK's) while
 * ends are finer: back-to-back waits must not seem to overlap.
 */
static double peak_waiters(const struct acc *w)
{
	struct wait_edge *e = xmalloc((2 * w->n_samples + 1) * sizeof(*e));
	size_t n = 0;
	double peak = 0, cur = 0;
	for (size_t i = 0; i < w->n_samples; i++) {
		const struct sample *s = &w->samples[i];
		double ms = s->v > 2 ? s->v - 1 : s->v / 2;
		e[n++] = (struct wait_edge){s->t, s->v2, 1};
		e[n++] = (struct wait_edge){s->t + (uint64_t)(ms * 1e6), s->v2, -1};
	}
	qsort(e, n, sizeof(*e), edge_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && e[i].process != e[i - 1].process)
			cur = 0;
		cur += e[i].step;
		peak = fmax(peak, cur);
	}
	free(e);
	return peak;
}

/* T_POOLM n3 while judging: */
#define POOL_REPORTED	1 /* reported with the waits of the same pool */
#define POOL_IMPOSSIBLE 2 /* not to be believed */

static void pool_finding(struct detector *d, struct acc *w, struct acc *m)
{
	struct pool_view v;
	double trace_hours = detect_window_s(d) / 3600.0;
	struct finding *f = detect_add_finding(d, FINDING_POOL_EXHAUSTION, w ? w : m);
	/* the configured maximum holds even where the counts drifted */
	double configured = m ? m->max : 0;
	if (m && (m->n3 & POOL_IMPOSSIBLE)) {
		f->pool_metrics_ignored = 1;
		m = NULL;
	}
	pool_metrics(m, &v);
	f->pool_max = v.max > 0 ? v.max : configured > 0 ? configured : w ? w->max : 0;
	f->pool_waiters = w ? peak_waiters(w) : 0;
	/* while requests wait, every connection is in use: the pool's size plus the waiters */
	f->pool_peak_demand = fmax(v.peak_demand, f->pool_max > 0 ? f->pool_max + f->pool_waiters : 0);
	f->pool_recommended = f->pool_max > 0 ? recommend_pool(f->pool_max, f->pool_peak_demand) : 0;
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
 * Impossible pool series: a count below zero, or used above twice the
 * maximum.  instrumentation-pg keeps one count for all the pools of a
 * process, so with two pools one series climbs as the other sinks below
 * zero: one impossible series makes every pool series of its service and
 * environment suspect.  Marks them POOL_IMPOSSIBLE; returns how many.
 */
static uint64_t mark_impossible_pools(struct detector *d)
{
	struct table *tm = &d->t[T_POOLM];
	uint64_t n = 0;
	for (size_t i = 0; i < tm->n; i++) {
		struct acc *m = &tm->a[i];
		struct pool_view v;
		pool_metrics(m, &v);
		if (m->n2 || (v.max > 0 && v.peak_used > 2 * v.max))
			m->n3 |= POOL_IMPOSSIBLE;
	}
	for (size_t i = 0; i < tm->n; i++)
		for (size_t j = 0; j < tm->n; j++)
			if ((tm->a[j].n3 & POOL_IMPOSSIBLE) && tm->a[j].service == tm->a[i].service &&
			    tm->a[j].env == tm->a[i].env)
				tm->a[i].n3 |= POOL_IMPOSSIBLE;
	for (size_t i = 0; i < tm->n; i++)
		n += (tm->a[i].n3 & POOL_IMPOSSIBLE) != 0;
	return n;
}

/* The metric series of the pool of waits `w`: by its name, else by the name without " (max N)". */
static struct acc *pool_series(struct detector *d, const struct acc *w)
{
	struct acc *m = acc_find(d, T_POOLM, w->service, 0, 0, w->detail, w->env, 0);
	const char *name = detect_name(d, w->detail), *cut = name ? strstr(name, " (max ") : NULL;
	if (m || !cut)
		return m;
	uint32_t base = detect_intern(d, name, (size_t)(cut - name));
	return base ? acc_find(d, T_POOLM, w->service, 0, 0, base, w->env, 0) : NULL;
}

/*
 * From spans: waits of at least pool_wait_ms in at least pool_wait_share of
 * the acquisitions and min_requests requests.  From metrics alone: the pool
 * at its maximum, or requests pending, in at least 1% of the samples, unless
 * its series are impossible.
 */
static void judge_pools(struct detector *d)
{
	struct table *tw = &d->t[T_POOL], *tm = &d->t[T_POOLM];
	d->st.unreliable_series = mark_impossible_pools(d);
	for (size_t i = 0; i < tw->n; i++) {
		struct acc *w = &tw->a[i];
		if (w->n2 < d->cfg.min_requests || (double)w->n2 < d->cfg.pool_wait_share * (double)w->n)
			continue;
		struct acc *m = pool_series(d, w);
		if (m)
			m->n3 |= POOL_REPORTED;
		pool_finding(d, w, m);
	}
	for (size_t i = 0; i < tm->n; i++) {
		struct acc *m = &tm->a[i];
		struct pool_view v;
		if (m->n3)
			continue; /* reported with its waits, or not to be believed */
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

static int cpu_sample_cmp(const void *pa, const void *pb)
{
	const struct sample *a = pa, *b = pb;
	if (a->v2 != b->v2)
		return a->v2 < b->v2 ? -1 : 1;
	return a->t < b->t ? -1 : a->t > b->t;
}

static int u64_cmp(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return a < b ? -1 : a > b;
}

static enum cpu_kind kind_of(const struct sample *s)
{
	return (enum cpu_kind)((uint64_t)s->v2 % CPU_KINDS);
}

/* What the samples of one service say, over its processes. */
struct cpu_view {
	double samples, hot, peak, cpus, delay_sum, delay_n;
	int single, from_util;
	uint64_t *hot_minutes; /* of each process in time order; a minute may repeat */
	size_t n_hot, cap_hot;
};

static int minute_in(const uint64_t *m, size_t n, uint64_t minute)
{
	return bsearch(&minute, m, n, sizeof(*m), u64_cmp) != NULL;
}

/* What is known of the process of tag `process` of the service `svc`: its key, or NULL. */
static const struct acc *process_info(const struct detector *d, const struct acc *svc, uint32_t process)
{
	const struct table *t = &d->t[T_CPU];
	if (!process)
		return svc;
	for (size_t i = 0; i < t->n; i++) {
		const struct acc *a = &t->a[i];
		const char *inst = detect_name(d, a->detail);
		if (a->detail && a->service == svc->service && a->env == svc->env &&
		    ((uint32_t)detect_hash(DETECT_HASH_INIT, inst, strlen(inst)) | 1) == process)
			return a;
	}
	return NULL;
}

/* What a process's figures are judged against: one core for a single-threaded runtime whose host's
 * CPU count is known (its figures are divided by that count), else as sent. */
static double process_scale(const struct detector *d, const struct acc *svc, const struct sample *s,
			    double *cpus, int *single)
{
	const struct acc *info = process_info(d, svc, (uint32_t)((uint64_t)s->v2 / CPU_KINDS));
	*cpus = info ? info->max : 0;
	*single = info && info->n3;
	return *single && *cpus > 1 ? *cpus : 1;
}

/*
 * How busy one process was at each of its times, from its samples `s`
 * (sorted by kind and time; `l` utilisation samples, then event-loop
 * utilisation up to `e`): its CPU states summed and scaled, or its event
 * loop's utilisation, whichever is higher.  Writes (t, busy) into `out`
 * (room for `e`) and returns how many.
 */
static size_t process_busy(const struct sample *s, size_t l, size_t e, double scale, struct sample *out)
{
	size_t i = 0, j = l, k = 0;
	while (i < l || j < e) {
		uint64_t t = i < l && (j >= e || s[i].t <= s[j].t) ? s[i].t : s[j].t;
		double busy = 0;
		if (i < l && s[i].t == t) {
			double sum = 0;
			for (; i < l && s[i].t == t; i++)
				sum += s[i].v;
			busy = sum * scale;
		}
		for (; j < e && s[j].t == t; j++)
			busy = fmax(busy, s[j].v);
		out[k++] = (struct sample){.t = t, .v = busy};
	}
	return k;
}

/* Where the utilisation samples (l) and the event-loop ones (e) of one process end. */
static void process_kinds(const struct sample *s, size_t n, size_t *l, size_t *e)
{
	for (*l = 0; *l < n && kind_of(&s[*l]) == CPU_UTIL; (*l)++)
		;
	for (*e = *l; *e < n && kind_of(&s[*e]) == CPU_LOOP_UTIL; (*e)++)
		;
}

/*
 * The samples `s` of one process, sorted by kind and time, judged as
 * process_busy() says; the event-loop delay of its busy minutes is kept as
 * evidence.
 */
static void cpu_process(struct detector *d, const struct acc *svc, const struct sample *s, size_t n,
			struct cpu_view *v)
{
	double cpus;
	int single;
	double scale = process_scale(d, svc, s, &cpus, &single);
	size_t l, e, first_hot = v->n_hot;
	process_kinds(s, n, &l, &e);
	v->single |= single;
	v->cpus = fmax(v->cpus, cpus);
	v->from_util |= l > 0;
	struct sample *busy = xmalloc((e + 1) * sizeof(*busy));
	size_t nb = process_busy(s, l, e, scale, busy);
	for (size_t k = 0; k < nb; k++) {
		v->samples++;
		v->peak = fmax(v->peak, busy[k].v);
		if (busy[k].v >= d->cfg.cpu_high) {
			v->hot++;
			v->hot_minutes =
				xgrow(v->hot_minutes, &v->cap_hot, v->n_hot + 1, sizeof(*v->hot_minutes));
			v->hot_minutes[v->n_hot++] = busy[k].t / NS_PER_MIN;
		}
	}
	free(busy);
	for (size_t k = e; k < n; k++) {
		if (kind_of(&s[k]) != CPU_LOOP_DELAY ||
		    !minute_in(v->hot_minutes + first_hot, v->n_hot - first_hot, s[k].t / NS_PER_MIN))
			continue;
		v->delay_sum += s[k].v;
		v->delay_n++;
	}
}

static void cpu_view_of(struct detector *d, struct acc *a, struct cpu_view *v)
{
	memset(v, 0, sizeof(*v));
	if (a->n_samples > 1)
		qsort(a->samples, a->n_samples, sizeof(*a->samples), cpu_sample_cmp);
	for (size_t i = 0, j; i < a->n_samples; i = j) {
		uint64_t process = (uint64_t)a->samples[i].v2 / CPU_KINDS;
		for (j = i + 1; j < a->n_samples && (uint64_t)a->samples[j].v2 / CPU_KINDS == process; j++)
			;
		cpu_process(d, a, &a->samples[i], j - i, v);
	}
}

/*
 * The endpoint of the service whose requests spent the most time in their
 * own work (outside any call out), when that is at least half their time
 * over at least min_requests requests: what the saturated CPU likely runs.
 */
static void cpu_route(struct detector *d, const struct acc *svc, struct finding *f)
{
	const struct table *t = &d->t[T_CPU];
	const struct acc *best = NULL;
	for (size_t i = 0; i < t->n; i++) {
		const struct acc *a = &t->a[i];
		if (a->endpoint && a->service == svc->service && a->env == svc->env &&
		    a->n >= d->cfg.min_requests && a->sum >= 0.5 * a->sum2 && (!best || a->sum > best->sum))
			best = a;
	}
	if (!best)
		return;
	f->cpu_endpoint = detect_name(d, best->endpoint);
	f->cpu_own_ns = best->sum / (double)best->n;
	f->cpu_own_share = best->sum2 > 0 ? best->sum / best->sum2 : 0;
}

/*
 * Saturated: at least cpu_share of the samples (of every process of the
 * service and environment) at or above cpu_high, and 3 of at least 10.  The
 * cost is the entry-span latency of the service in saturated minutes
 * against its other minutes.
 */
static void judge_cpu(struct detector *d)
{
	struct table *t = &d->t[T_CPU];
	double hours = detect_window_s(d) / 3600.0;
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		struct cpu_view v;
		if (a->detail || a->endpoint) /* what is known of one process, an endpoint's own work */
			continue;
		cpu_view_of(d, a, &v);
		if (v.samples < 10 || v.hot < 3 || v.hot < d->cfg.cpu_share * v.samples) {
			free(v.hot_minutes);
			continue;
		}
		/* latency in saturated minutes (each minute once) and in the others */
		double hot_sum = 0, hot_n = 0, all_sum = a->sum, all_n = (double)a->n;
		qsort(v.hot_minutes, v.n_hot, sizeof(*v.hot_minutes), u64_cmp);
		for (size_t j = 0; j < v.n_hot; j++) {
			struct minute_v *m = j && v.hot_minutes[j] == v.hot_minutes[j - 1]
						     ? NULL
						     : detect_minute_get(d, T_CPU, i, v.hot_minutes[j]);
			if (m) {
				hot_sum += m->a;
				hot_n += (double)m->n;
			}
		}
		free(v.hot_minutes);
		struct finding *f = detect_add_finding(d, FINDING_CPU_SATURATION, a);
		f->detail = v.from_util ? "process.cpu.utilization" : "nodejs.eventloop.utilization";
		f->occurrences = (uint64_t)v.hot;
		f->subject_requests = (uint64_t)v.samples;
		f->rate = v.hot / v.samples;
		f->ratio = v.peak;
		f->cpu_count = v.cpus;
		f->single_threaded = v.single;
		f->loop_delay_ms = v.delay_n ? v.delay_sum / v.delay_n : 0;
		f->affected_requests = (uint64_t)hot_n;
		f->n_examples = 0;
		cpu_route(d, a, f);
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

/* ---- own work -------------------------------------------------------------- */

/* The CPU a service used while a route ran, against the route's own work. */
struct own_cpu {
	double cores;	 /* the processes' mean busy figure in those ticks, in cores, summed */
	uint64_t *ticks; /* the route's ticks that have a sample */
	size_t n_ticks, cap_ticks;
};

/* One process's samples `s` (sorted by kind and time), in the ticks of route `ri`'s affected requests. */
static void own_cpu_process(struct detector *d, const struct acc *svc, const struct sample *s, size_t n,
			    size_t ri, struct own_cpu *c)
{
	double cpus, sum = 0, k = 0;
	int single;
	double scale = process_scale(d, svc, s, &cpus, &single);
	size_t l, e;
	process_kinds(s, n, &l, &e);
	struct sample *busy = xmalloc((e + 1) * sizeof(*busy));
	size_t nb = process_busy(s, l, e, scale, busy);
	/* cores: a single-threaded runtime's figure is of its one core, another's of the host */
	double to_cores = !single && cpus > 1 ? cpus : 1;
	for (size_t i = 0; i < nb; i++) {
		uint64_t tick = busy[i].t / DETECT_OWN_TICK_NS;
		const struct minute_v *m = detect_minute_get(d, T_CPU, ri, tick);
		if (!m || !m->n)
			continue;
		sum += busy[i].v * to_cores;
		k++;
		c->ticks = xgrow(c->ticks, &c->cap_ticks, c->n_ticks + 1, sizeof(*c->ticks));
		c->ticks[c->n_ticks++] = tick;
	}
	free(busy);
	if (k > 0)
		c->cores += sum / k;
}

/* The own work of every route of `route`'s service and environment in `tick`:
 * the processes had to do all of it, not only this route's. */
static double service_own_in_tick(struct detector *d, const struct acc *route, uint64_t tick)
{
	const struct table *t = &d->t[T_CPU];
	double own = 0;
	for (size_t r = 0; r < t->n; r++) {
		const struct acc *a = &t->a[r];
		if (!a->endpoint || a->service != route->service || a->env != route->env)
			continue;
		const struct minute_v *m = detect_minute_get(d, T_CPU, r, tick);
		own += m ? m->a : 0;
	}
	return own;
}

/*
 * The CPU the service's processes used in the ticks of the route's
 * affected requests (`ri`, an endpoint's key of T_CPU) that have a sample,
 * against the cores the own work of all its routes needed then: at least
 * own_work_min_cpu says it is
 * CPU work, less that its time is waiting no span shows (a timer, an
 * uninstrumented call); -1 when no CPU figure was sent then.
 */
static double own_work_cpu(struct detector *d, const struct acc *route, size_t ri)
{
	struct acc *svc = acc_find(d, T_CPU, route->service, 0, 0, 0, route->env, 0);
	struct own_cpu c = {0};
	double own = 0;
	if (!svc || !svc->n_samples)
		return -1;
	if (svc->n_samples > 1)
		qsort(svc->samples, svc->n_samples, sizeof(*svc->samples), cpu_sample_cmp);
	for (size_t i = 0, j; i < svc->n_samples; i = j) {
		uint64_t process = (uint64_t)svc->samples[i].v2 / CPU_KINDS;
		for (j = i + 1; j < svc->n_samples && (uint64_t)svc->samples[j].v2 / CPU_KINDS == process;
		     j++)
			;
		own_cpu_process(d, svc, &svc->samples[i], j - i, ri, &c);
	}
	if (!c.n_ticks)
		return -1;
	qsort(c.ticks, c.n_ticks, sizeof(*c.ticks), u64_cmp);
	size_t distinct = 0;
	for (size_t i = 0; i < c.n_ticks; i++) {
		if (i && c.ticks[i] == c.ticks[i - 1])
			continue;
		own += service_own_in_tick(d, route, c.ticks[i]);
		distinct++;
	}
	free(c.ticks);
	double need = own / ((double)distinct * (double)DETECT_OWN_TICK_NS); /* cores */
	return need > 0 ? c.cores / need : -1;
}

/*
 * Routes whose time is their own work: over at least min_requests requests
 * (and as many affected), at least own_work_share of their time and
 * own_work_min_ms a request on average outside every span under the entry
 * but a framework's wrappers.  Not when the CPU the service used then
 * cannot have done that work.  The saving is all of that work (an
 * upper bound), so it never ranks a finding above MEDIUM.
 */
static void judge_own_work(struct detector *d)
{
	const struct table *t = &d->t[T_CPU];
	double hours = detect_window_s(d) / 3600.0;
	for (size_t i = 0; i < t->n; i++) {
		const struct acc *a = &t->a[i];
		if (!a->endpoint || a->n < d->cfg.min_requests || a->affected < d->cfg.min_requests ||
		    a->sum3 < d->cfg.own_work_share * a->sum2 ||
		    a->sum3 < d->cfg.own_work_min_ms * 1e6 * (double)a->n)
			continue;
		double cpu = own_work_cpu(d, a, i);
		if (cpu >= 0 && cpu < d->cfg.own_work_min_cpu)
			continue;
		struct finding *f = detect_add_finding(d, FINDING_OWN_WORK, a);
		f->occurrences = a->affected;
		f->subject_requests = a->n;
		f->avg_ns = a->sum3 / (double)a->n;
		f->baseline_ns = a->sum2 / (double)a->n;
		f->rate = a->sum3 / a->sum2;
		f->cpu_own_ns = f->avg_ns;
		f->cpu_own_share = f->rate;
		f->ratio = cpu > 0 ? cpu : 0; /* 0: no CPU figures were sent */
		f->saving_ns = a->waste / (double)a->affected;
		f->saving_pct = f->affected_latency_ns > 0 ? 100 * f->saving_ns / f->affected_latency_ns : 0;
		f->saved_s_per_hour = hours > 0 ? a->waste / NS_PER_S / hours : 0;
		detect_rank(d, f);
		if (f->priority == PRIORITY_HIGH)
			f->priority = PRIORITY_MEDIUM;
	}
}

static int same_name(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The CPU-saturation finding that names the route of own-work finding `o`, or NULL. */
static struct finding *saturation_of(struct detector *d, const struct finding *o)
{
	for (size_t j = 0; j < d->n_f; j++)
		if (d->f[j].kind == FINDING_CPU_SATURATION && same_name(d->f[j].service, o->service) &&
		    same_name(d->f[j].environment, o->environment) &&
		    same_name(d->f[j].cpu_endpoint, o->endpoint))
			return &d->f[j];
	return NULL;
}

/*
 * One finding per problem: a CPU-saturation finding names the route whose
 * own work the CPU runs; that route's own-work finding is folded into it
 * (its example requests kept when the saturation has none, and its
 * priority when higher).
 */
static void fold_own_work(struct detector *d)
{
	uint8_t *gone = xcalloc(d->n_f + 1, 1);
	size_t k = 0;
	for (size_t i = 0; i < d->n_f; i++) {
		struct finding *sat = d->f[i].kind == FINDING_OWN_WORK ? saturation_of(d, &d->f[i]) : NULL;
		if (!sat)
			continue;
		gone[i] = 1;
		if (d->f[i].priority > sat->priority)
			sat->priority = d->f[i].priority;
		if (!sat->n_examples) {
			sat->n_examples = d->f[i].n_examples;
			memcpy(sat->examples, d->f[i].examples, sizeof(sat->examples));
		}
	}
	for (size_t i = 0; i < d->n_f; i++)
		if (!gone[i])
			d->f[k++] = d->f[i];
	d->n_f = k;
	free(gone);
}

void detect_finish_metrics(struct detector *d)
{
	judge_pools(d);
	judge_memory(d);
	judge_cpu(d);
	judge_own_work(d);
	fold_own_work(d);
}
