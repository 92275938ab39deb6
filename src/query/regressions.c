/*
 * regressions.c - deployments recorded and detected, change points and
 * week-over-week regressions of the selection (see regressions.h).
 */
#include "query/regressions.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/changepoint.h"
#include "analyze/latency.h"
#include "core/clock.h"
#include "core/json_doc.h"
#include "query/changes.h"

/* Fewest requests a bucket needs for its p95 to enter a change search. */
#define MIN_BUCKET_COUNT 5
#define MAX_CHANGES	 32

static int same(const char *x, const char *y)
{
	return x == y || (x && y && !strcmp(x, y));
}

static const char *doc_str(const struct json *o, const char *key, struct arena *a)
{
	const char *s = json_str(json_get(o, key));
	return s ? arena_strdup(a, s) : NULL;
}

struct deploys {
	struct deployment *v;
	size_t n, cap;
};

static int recorded(struct store *s, const struct store_query *q, struct arena *a, struct deploys *d,
		    char *err, size_t errlen)
{
	struct store_record *ev;
	size_t ne;
	if (store_events(s, REGRESSIONS_DEPLOY_KIND, q->service, q->from_ns, q->to_ns, 1000, a, &ev, &ne, err,
			 errlen) < 0)
		return ERR_INTERNAL;
	for (size_t i = 0; i < ne; i++) {
		struct json_doc doc;
		char perr[128];
		if (json_doc_parse(&doc, ev[i].json, strlen(ev[i].json), 0, perr, sizeof(perr)) == 0 &&
		    doc.root) {
			struct deployment dp = {.t_ns = ev[i].time_ns, .recorded = 1};
			dp.service = doc_str(doc.root, "service", a);
			dp.version = doc_str(doc.root, "version", a);
			dp.env = doc_str(doc.root, "env", a);
			dp.commit = doc_str(doc.root, "commit", a);
			dp.link = doc_str(doc.root, "link", a);
			dp.source = doc_str(doc.root, "source", a);
			if (!dp.source)
				dp.source = "api";
			if (dp.service && dp.version && (!q->env || same(q->env, dp.env))) {
				d->v = arena_grow(a, d->v, &d->cap, d->n + 1, sizeof(*d->v));
				d->v[d->n++] = dp;
			}
		}
		json_doc_release(&doc);
	}
	return 0;
}

static int detected(struct store *s, const struct store_query *q, struct arena *a, struct deploys *d,
		    char *err, size_t errlen)
{
	struct store_query wq = *q;
	struct changes_first_seen *fs;
	size_t nf, n_recorded = d->n;
	wq.edge_only = 0;
	wq.version = NULL;
	wq.latest = 0;
	if (changes_deployments(s, &wq, REGRESSIONS_LOOKBACK_NS, a, &fs, &nf, err, errlen) < 0)
		return ERR_INTERNAL;
	for (size_t i = 0; i < nf; i++) {
		size_t j = 0;
		while (j < n_recorded &&
		       !(same(d->v[j].service, fs[i].service) && same(d->v[j].version, fs[i].version) &&
			 same(d->v[j].env, fs[i].env)))
			j++;
		if (j < n_recorded)
			continue;
		d->v = arena_grow(a, d->v, &d->cap, d->n + 1, sizeof(*d->v));
		d->v[d->n++] = (struct deployment){.service = fs[i].service,
						   .version = fs[i].version,
						   .env = fs[i].env,
						   .t_ns = fs[i].t_ns,
						   .source = "detected"};
	}
	return 0;
}

static int cmp_newest(const void *pa, const void *pb)
{
	const struct deployment *x = pa, *y = pb;
	return x->t_ns != y->t_ns ? (x->t_ns > y->t_ns ? -1 : 1) : strcmp(x->service, y->service);
}

int regressions_deployments(struct store *s, const struct store_query *q, struct arena *a,
			    struct deployment **out, size_t *n, char *err, size_t errlen)
{
	struct deploys d = {0};
	int rc = recorded(s, q, a, &d, err, errlen);
	if (rc == 0)
		rc = detected(s, q, a, &d, err, errlen);
	if (rc < 0)
		return rc;
	size_t kept = 0; /* q's version filter, when it names one */
	for (size_t i = 0; i < d.n; i++)
		if (!q->version || same(q->version, d.v[i].version))
			d.v[kept++] = d.v[i];
	if (kept)
		qsort(d.v, kept, sizeof(*d.v), cmp_newest);
	*out = d.v;
	*n = kept;
	return 0;
}

const struct deployment *regressions_deployment_near(const struct deployment *d, size_t n,
						     const char *service, uint64_t t_ns, uint64_t step_ns)
{
	const struct deployment *best = NULL;
	uint64_t best_d = UINT64_MAX;
	for (size_t i = 0; i < n; i++) {
		if (!same(d[i].service, service) || d[i].t_ns + 2 * step_ns < t_ns ||
		    d[i].t_ns > t_ns + step_ns)
			continue;
		uint64_t dist = d[i].t_ns > t_ns ? d[i].t_ns - t_ns : t_ns - d[i].t_ns;
		if (dist < best_d) {
			best_d = dist;
			best = &d[i];
		}
	}
	return best;
}

const char *regressions_version_id(struct arena *a, const char *service, const char *endpoint,
				   const char *candidate)
{
	char id[1024];
	snprintf(id, sizeof(id), "%s|%s|p95_ms|version:%s", service, endpoint ? endpoint : "", candidate);
	return arena_strdup(a, id);
}

const char *regressions_id(struct arena *a, const char *service, const char *endpoint, const char *measure,
			   uint64_t t_ms)
{
	char id[1024];
	snprintf(id, sizeof(id), "%s|%s|%s|%llu", service, endpoint ? endpoint : "", measure,
		 (unsigned long long)t_ms);
	return arena_strdup(a, id);
}

struct found {
	struct regression *v;
	size_t n, cap;
	struct arena *a;
	const struct deployment *d;
	size_t n_d;
};

/* Change points of one measure of one series; x, idx: scratch of s->n. */
static void series_changes(struct found *f, const struct changes_series *s, int error_rate, double min_change,
			   double *x, size_t *idx)
{
	struct changepoint cp[MAX_CHANGES];
	size_t m = 0, n_cp = 0;
	for (size_t t = 0; t < s->n; t++) {
		if (s->count[t] < (error_rate ? 1 : MIN_BUCKET_COUNT) || (!error_rate && isnan(s->p95_ms[t])))
			continue;
		x[m] = error_rate ? (double)s->errors[t] / (double)s->count[t] : s->p95_ms[t];
		idx[m++] = t;
	}
	struct changepoint_options o = {.min_size = 4, .min_rel = error_rate ? 0 : min_change};
	if (changepoint_find(x, m, &o, cp, MAX_CHANGES, &n_cp) < 0)
		return;
	for (size_t i = 0; i < n_cp; i++) {
		if (error_rate && fabs(cp[i].mean_after - cp[i].mean_before) < 0.01)
			continue;
		uint64_t t_ns = s->t0_ns + idx[cp[i].index] * s->step_ns;
		const char *measure = error_rate ? "error_rate" : "p95_ms";
		f->v = arena_grow(f->a, f->v, &f->cap, f->n + 1, sizeof(*f->v));
		f->v[f->n++] = (struct regression){
			.id = regressions_id(f->a, s->service, s->endpoint, measure, t_ns / NS_PER_MS),
			.service = s->service,
			.endpoint = s->endpoint,
			.measure = measure,
			.kind = REGRESSION_CHANGE_POINT,
			.t_ns = t_ns,
			.before = cp[i].mean_before,
			.after = cp[i].mean_after,
			.rel_change = cp[i].rel_change,
			.p_value = cp[i].p_value,
			.worse = cp[i].mean_after > cp[i].mean_before,
			.deployment = regressions_deployment_near(f->d, f->n_d, s->service, t_ns, s->step_ns),
		};
	}
}

int regressions_find(struct store *s, const struct store_query *q, const struct regressions_options *o,
		     const struct deployment *d, size_t n_d, struct arena *a, struct regression **out,
		     size_t *n, char *err, size_t errlen)
{
	struct changes_series *cs;
	size_t ns;
	struct found f = {.a = a, .d = d, .n_d = n_d};
	int rc = changes_series_load(s, q, o->step_s, o->top > 0, o->top, a, &cs, &ns, err, errlen);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < ns; i++) {
		if (cs[i].endpoint && q->endpoint && strcmp(cs[i].endpoint, q->endpoint))
			continue;
		double *x = arena_alloc(a, sizeof(double) * (cs[i].n ? cs[i].n : 1));
		size_t *idx = arena_alloc(a, sizeof(size_t) * (cs[i].n ? cs[i].n : 1));
		series_changes(&f, &cs[i], 0, o->min_change, x, idx);
		series_changes(&f, &cs[i], 1, o->min_change, x, idx);
	}
	*out = f.v;
	*n = f.n;
	return 0;
}

/* Whether hour t of series x is 20 % slower than the same hour of y, with
 * 20 requests in each and no deployment of the service near it. */
static int slower_hour(const struct changes_series *x, const struct changes_series *y, size_t t,
		       const struct deployment *d, size_t n_d)
{
	if (x->count[t] < 20 || y->count[t] < 20 || !(x->p95_ms[t] >= 1.2 * y->p95_ms[t]))
		return 0;
	return !regressions_deployment_near(d, n_d, x->service, x->t0_ns + t * x->step_ns, x->step_ns);
}

/* One entry per run of slower hours of series x against y. */
static void slower_runs(struct found *f, const struct changes_series *x, const struct changes_series *y,
			const struct deployment *d, size_t n_d)
{
	for (size_t t = 0; t < x->n && t < y->n; t++) {
		if (!slower_hour(x, y, t, d, n_d))
			continue;
		size_t first = t, worst = t;
		for (; t + 1 < x->n && t + 1 < y->n && slower_hour(x, y, t + 1, d, n_d); t++)
			if (x->p95_ms[t + 1] / y->p95_ms[t + 1] > x->p95_ms[worst] / y->p95_ms[worst])
				worst = t + 1;
		uint64_t t_ns = x->t0_ns + first * x->step_ns;
		f->v = arena_grow(f->a, f->v, &f->cap, f->n + 1, sizeof(*f->v));
		f->v[f->n++] = (struct regression){
			.id = regressions_id(f->a, x->service, x->endpoint, "p95_ms", t_ns / NS_PER_MS),
			.service = x->service,
			.endpoint = x->endpoint,
			.measure = "p95_ms",
			.kind = REGRESSION_WEEK_OVER_WEEK,
			.t_ns = t_ns,
			.hours = t - first + 1,
			.before = y->p95_ms[worst],
			.after = x->p95_ms[worst],
			.rel_change = x->p95_ms[worst] / y->p95_ms[worst] - 1,
			.p_value = NAN,
			.worse = 1,
			.count = x->count[worst],
			.count_before = y->count[worst],
		};
	}
}

int regressions_week_over_week(struct store *s, const struct store_query *q, const struct deployment *d,
			       size_t n_d, struct arena *a, struct regression **out, size_t *n, char *err,
			       size_t errlen)
{
	struct store_query ago_q = *q;
	struct changes_series *x, *y;
	size_t nx, ny;
	struct found f = {.a = a};
	ago_q.from_ns = q->from_ns - 7 * NS_PER_DAY;
	ago_q.to_ns = q->to_ns - 7 * NS_PER_DAY;
	/* hours on the clock: both grids start at whole hours a week apart,
	 * so bucket i of one is bucket i of the other */
	int rc = changes_series_load(s, q, 3600, 1, 20, a, &x, &nx, err, errlen);
	if (rc == 0)
		rc = changes_series_load(s, &ago_q, 3600, 1, 20, a, &y, &ny, err, errlen);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < nx; i++)
		for (size_t j = 0; j < ny; j++)
			if (same(x[i].service, y[j].service) && same(x[i].endpoint, y[j].endpoint))
				slower_runs(&f, &x[i], &y[j], d, n_d);
	*out = f.v;
	*n = f.n;
	return 0;
}

int regressions_version_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			while (*a == '0' && isdigit((unsigned char)a[1]))
				a++;
			while (*b == '0' && isdigit((unsigned char)b[1]))
				b++;
			size_t la = 0, lb = 0;
			while (isdigit((unsigned char)a[la]))
				la++;
			while (isdigit((unsigned char)b[lb]))
				lb++;
			if (la != lb)
				return la < lb ? -1 : 1;
			int c = strncmp(a, b, la);
			if (c)
				return c < 0 ? -1 : 1;
			a += la;
			b += lb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}

/* The newest two versions of `service` among fs[0..n) (any environment). */
static int newest_two(const struct changes_first_seen *fs, size_t n, const char *service, const char **cand,
		      const char **base, uint64_t *cand_t)
{
	*cand = *base = NULL;
	*cand_t = UINT64_MAX;
	for (size_t i = 0; i < n; i++) {
		if (!same(fs[i].service, service))
			continue;
		const char *v = fs[i].version;
		if (!*cand || regressions_version_cmp(v, *cand) > 0) {
			if (*cand && !same(*cand, v))
				*base = *cand;
			*cand = v;
		} else if (!same(v, *cand) && (!*base || regressions_version_cmp(v, *base) > 0)) {
			*base = v;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (same(fs[i].service, service) && same(fs[i].version, *cand) && fs[i].t_ns < *cand_t)
			*cand_t = fs[i].t_ns;
	return *cand && *base;
}

/* Compare two versions of one service (of vr->endpoint, or all of it);
 * 1 when it is worth listing. */
static int compare_pair(struct store *s, const struct store_query *q, struct version_regression *vr,
			double min_change, struct arena *a, char *err, size_t errlen)
{
	struct store_query vq = *q;
	double *bd, *cd;
	size_t nb, nc;
	vq.service = vr->service;
	vq.endpoint = vr->endpoint ? vr->endpoint : q->endpoint;
	vq.latest = 0;
	vq.version = vr->baseline;
	if (changes_durations(s, &vq, 1000, a, &bd, &nb, err, errlen) < 0)
		return ERR_INTERNAL;
	vq.version = vr->candidate;
	if (changes_durations(s, &vq, 1000, a, &cd, &nc, err, errlen) < 0)
		return ERR_INTERNAL;
	if (abtest_run(&vr->t, bd, nb, cd, nc, 200, 1, 0.05) < 0)
		return ERR_INTERNAL;
	vr->gate_fail = abtest_gate(&vr->t, min_change) == ABTEST_FAIL;
	return vr->t.verdict == ABTEST_SLOWER || vr->gate_fail;
}

struct vr_list {
	struct version_regression *v;
	size_t n, cap;
};

/* Compare and keep vr when worth listing. */
static int consider(struct store *s, const struct store_query *q, struct version_regression vr,
		    double min_change, struct arena *a, struct vr_list *l, char *err, size_t errlen)
{
	int rc = compare_pair(s, q, &vr, min_change, a, err, errlen);
	if (rc <= 0)
		return rc;
	vr.id = regressions_version_id(a, vr.service, vr.endpoint ? vr.endpoint : q->endpoint, vr.candidate);
	l->v = arena_grow(a, l->v, &l->cap, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = vr;
	return 0;
}

int regressions_versions(struct store *s, const struct store_query *q, double min_change, int endpoints,
			 struct arena *a, struct version_regression **out, size_t *n, char *err,
			 size_t errlen)
{
	struct store_query wq = *q;
	struct changes_first_seen *fs;
	struct vr_list l = {0};
	size_t nf;
	wq.version = NULL;
	wq.latest = 0;
	if (changes_first_seen(s, &wq, latency_resolution(q->to_ns - q->from_ns), a, &fs, &nf, err, errlen) <
	    0)
		return ERR_INTERNAL;
	for (size_t i = 0; i < nf; i++) {
		size_t j = 0;
		while (j < i && !same(fs[j].service, fs[i].service))
			j++;
		struct version_regression vr = {.service = fs[i].service};
		if (j < i || !newest_two(fs, nf, fs[i].service, &vr.candidate, &vr.baseline, &vr.t_ns))
			continue; /* done already, or one version only */
		int rc = consider(s, q, vr, min_change, a, &l, err, errlen);
		const char **eps = NULL; /* the service's own endpoints */
		size_t n_eps = 0;
		wq.service = fs[i].service;
		if (rc == 0 && endpoints && !q->endpoint &&
		    changes_endpoints(s, &wq, a, &eps, &n_eps, err, errlen) < 0)
			rc = ERR_INTERNAL;
		for (size_t e = 0; rc == 0 && e < n_eps; e++) {
			vr.endpoint = eps[e];
			rc = consider(s, q, vr, min_change, a, &l, err, errlen);
		}
		if (rc < 0)
			return rc;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}
