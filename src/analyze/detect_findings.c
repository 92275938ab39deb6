/*
 * detect_findings.c - judging what the trace detectors accumulated: which
 * keys pass their thresholds, and the numbers and estimates of each finding
 * (formulas in docs/DETECTORS.md).  Pool exhaustion, memory and CPU are
 * judged in detect_metrics.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/detect_internal.h"
#include "core/alloc.h"

static double hours_of(const struct detector *d)
{
	return detect_window_s(d) / 3600.0;
}

static uint64_t endpoint_requests(struct detector *d, uint32_t svc, uint32_t ep)
{
	struct acc *a = acc_find(d, T_ENDPOINT, svc, ep, 0, 0, 0, 0);
	return a ? a->n : 0;
}

/*
 * The common estimate: `waste` ns summed over the affected requests.
 *   saving per request = waste / affected
 *   saving %           = saving per request / mean latency of the affected requests
 *   saved per hour     = waste / observed hours
 */
static void estimate(struct detector *d, struct finding *f, double waste)
{
	double hours = hours_of(d);
	if (waste < 0)
		waste = 0;
	f->saving_ns = f->affected_requests ? waste / (double)f->affected_requests : 0;
	if (f->affected_latency_ns > 0)
		f->saving_pct = fmin(100.0, 100.0 * f->saving_ns / f->affected_latency_ns);
	f->saved_s_per_hour = hours > 0 ? waste / NS_PER_S / hours : 0;
	if (hours > 0)
		f->per_hour = (double)f->occurrences / hours;
	if (f->affected_requests)
		f->per_request = (double)f->occurrences / (double)f->affected_requests;
}

static const char *out_str(struct detector *d, const char *s)
{
	return s ? arena_strdup(&d->out, s) : NULL;
}

static void judge_n_plus_one(struct detector *d)
{
	struct table *t = &d->t[T_NPLUS1];
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		if (a->affected < d->cfg.min_requests)
			continue;
		struct finding *f = detect_add_finding(d, FINDING_N_PLUS_ONE, a);
		f->occurrences = a->n;
		f->avg_ns = a->sum / (double)a->n;
		f->subject_requests = endpoint_requests(d, a->service, a->endpoint);
		estimate(d, f, a->waste);
		detect_rank(d, f);
	}
}

static void judge_sequential(struct detector *d)
{
	struct table *t = &d->t[T_SEQ];
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		uint64_t subject = endpoint_requests(d, a->service, a->endpoint);
		if (a->affected < d->cfg.min_requests ||
		    (double)a->affected < d->cfg.sequential_share * (double)subject)
			continue;
		struct finding *f = detect_add_finding(d, FINDING_SEQUENTIAL, a);
		f->occurrences = a->n;
		f->avg_ns = a->sum / (double)a->n2;	  /* the run, all calls */
		f->baseline_ns = a->sum2 / (double)a->n2; /* its longest call */
		f->subject_requests = subject;
		f->ratio = subject ? (double)a->affected / (double)subject : 0;
		estimate(d, f, a->waste);
		detect_rank(d, f);
	}
}

/*
 * A cache with time-to-live T in front of calls arriving at rate λ serves
 * all but the first call of every T: hit ratio h = λT / (1 + λT).
 */
static void judge_cacheable(struct detector *d, uint64_t *reported, size_t *n_reported, size_t max_reported)
{
	struct table *t = &d->t[T_CACHE];
	double window = detect_window_s(d), hours = window / 3600.0;
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		uint64_t n = a->n > a->err ? a->n - a->err : 0; /* a lower bound */
		if (n < d->cfg.min_requests || hours <= 0 || (double)n / hours < d->cfg.cache_min_per_hour ||
		    !a->text)
			continue;
		double lambda = (double)n / window, lt = lambda * d->cfg.cache_ttl_s;
		double hit = lt / (1 + lt), avg = a->sum / (double)a->n;
		struct finding *f = detect_add_finding(d, FINDING_CACHEABLE, a);
		f->detail = out_str(d, a->text);
		f->endpoint = detect_name(d, a->where);
		f->occurrences = n;
		f->avg_ns = avg;
		f->rate = hit;
		if (a->tool) {
			struct acc *calls = acc_find(d, T_ENDPOINT, a->service, 0, a->tool, 0, 0, 0);
			f->subject_requests = calls ? calls->n : 0;
		} else {
			f->subject_requests = endpoint_requests(d, a->service, a->where);
		}
		estimate(d, f, hit * avg * (double)n);
		detect_rank(d, f);
		if (*n_reported < max_reported)
			reported[(*n_reported)++] = a->hash;
	}
}

static int reported_has(const uint64_t *r, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		if (r[i] == h)
			return 1;
	return 0;
}

static double median_of(double *v, size_t n)
{
	/* n is small: insertion sort */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double x = v[j];
			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * A statement is slow when its p50 is at least slow_query_factor times the
 * median p50 of the other statements of the same database (and at least
 * slow_query_min_ms).  A statement mostly run inside a call already
 * reported as cacheable is left to that finding.
 */
static void judge_statements(struct detector *d, const uint64_t *reported, size_t n_reported)
{
	struct table *t = &d->t[T_STMT];
	size_t *idx = xmalloc((t->n + 1) * sizeof(*idx)), n = 0;
	double *p50 = xmalloc((t->n + 1) * sizeof(*p50)), *others = xmalloc((t->n + 1) * sizeof(*others));
	for (size_t i = 0; i < t->n; i++) {
		if (t->a[i].n < d->cfg.min_requests || !t->a[i].sk)
			continue;
		p50[n] = sketch_quantile(t->a[i].sk, 0.5);
		idx[n++] = i;
	}
	for (size_t x = 0; x < n; x++) {
		struct acc *a = &t->a[idx[x]];
		size_t k = 0;
		for (size_t y = 0; y < n; y++)
			if (y != x && t->a[idx[y]].endpoint == a->endpoint &&
			    t->a[idx[y]].detail != a->detail)
				others[k++] = p50[y];
		if (!k)
			continue;
		double base = median_of(others, k);
		if (p50[x] < d->cfg.slow_query_factor * base || p50[x] < d->cfg.slow_query_min_ms * 1e6)
			continue;
		if (a->n2 * 2 >= a->n && reported_has(reported, n_reported, a->tag))
			continue;
		struct finding *f = detect_add_finding(d, FINDING_MISSING_INDEX, a);
		f->endpoint = NULL;
		f->environment = NULL;
		f->tool = detect_name(d, a->endpoint); /* the database */
		f->occurrences = a->n;
		f->avg_ns = a->sum / (double)a->n;
		f->p50_ns = p50[x];
		f->baseline_ns = base;
		f->ratio = p50[x] / base;
		f->subject_requests = a->n;
		estimate(d, f, a->sum - (double)a->n * base);
		detect_rank(d, f);
	}
	free(others);
	free(p50);
	free(idx);
}

static void judge_payloads(struct detector *d)
{
	struct table *t = &d->t[T_PAYLOAD];
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		if (a->n2 < d->cfg.min_requests || (double)a->n2 < d->cfg.large_payload_share * (double)a->n)
			continue;
		struct finding *f = detect_add_finding(d, FINDING_LARGE_PAYLOAD, a);
		f->occurrences = a->n2;
		f->subject_requests = a->n;
		f->avg_ns = a->sum2 / (double)a->n2;
		f->baseline_ns = a->n > a->n2 ? a->sum / (double)(a->n - a->n2) : 0;
		f->bytes = a->sum3 / (double)a->n2;
		f->rate = (double)a->n2 / (double)a->n;
		/* What the large bodies cost over the same operation's small ones. */
		double extra = f->baseline_ns > 0 ? f->avg_ns - f->baseline_ns : 0;
		estimate(d, f, extra * (double)a->n2);
		detect_rank(d, f);
	}
}

static void judge_retries(struct detector *d)
{
	struct table *t = &d->t[T_RETRY];
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		if (a->affected < d->cfg.min_requests)
			continue;
		struct finding *f = detect_add_finding(d, FINDING_RETRY_STORM, a);
		f->occurrences = a->n;
		f->avg_ns = a->sum / (double)a->n;
		f->subject_requests = endpoint_requests(d, a->service, a->endpoint);
		f->rate = a->n2 ? (double)a->n / (double)a->n2 : 0;
		estimate(d, f, a->waste);
		detect_rank(d, f);
	}
}

static void judge_timeouts(struct detector *d)
{
	struct table *t = &d->t[T_TIMEOUT];
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		if (a->n2 < d->cfg.timeout_min || (double)a->n2 < d->cfg.timeout_rate * (double)a->n)
			continue;
		struct finding *f = detect_add_finding(d, FINDING_TIMEOUTS, a);
		f->occurrences = a->n2;
		f->subject_requests = a->n;
		f->avg_ns = a->sum2 / (double)a->n2;
		f->baseline_ns = a->n3 ? a->sum3 / (double)a->n3 : 0;
		f->rate = (double)a->n2 / (double)a->n;
		/* The wait past a normal call: what failing fast would give back. */
		estimate(d, f, (f->avg_ns - f->baseline_ns) * (double)a->n2);
		detect_rank(d, f);
	}
}

/* ---- version regressions ---------------------------------------------------- */

static int name_cmp(const struct detector *d, uint32_t a, uint32_t b)
{
	if (a == b)
		return 0;
	if (!a || !b)
		return a ? 1 : -1;
	return strcmp(detect_name(d, a), detect_name(d, b));
}

/* By names, not name ids: the ids depend on the order things were seen in. */
static int version_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct detector *d = ctx;
	const struct acc *t = d->t[T_VERSION].a;
	const struct acc *a = &t[*(const size_t *)pa], *b = &t[*(const size_t *)pb];
	const uint32_t ka[4] = {a->service, a->endpoint, a->version, a->env};
	const uint32_t kb[4] = {b->service, b->endpoint, b->version, b->env};
	for (int i = 0; i < 4; i++) {
		int c = name_cmp(d, ka[i], kb[i]);
		if (c)
			return c;
	}
	return 0;
}

static double acc_mean(const struct acc *a)
{
	return a->n ? a->sum / (double)a->n : 0;
}

static double acc_var(const struct acc *a)
{
	if (a->n < 2)
		return 0;
	double m = acc_mean(a);
	return fmax(0, (a->sumsq - (double)a->n * m * m) / (double)(a->n - 1));
}

/* Compare version block [s0, s1) with the fastest [f0, f1), environment by environment. */
static void compare_versions(struct detector *d, const size_t *idx, size_t s0, size_t s1, size_t f0,
			     size_t f1)
{
	const struct acc *t = d->t[T_VERSION].a;
	double w_sum = 0, r_mean = 0, r_p50 = 0, z_sum = 0, min_r = INFINITY;
	double n_slow = 0, sum_slow = 0, n_fast = 0, sum_fast = 0;
	unsigned k = 0;
	struct sketch slow;
	sketch_init(&slow);
	for (size_t i = s0; i < s1; i++) {
		const struct acc *s = &t[idx[i]];
		for (size_t j = f0; j < f1; j++) {
			const struct acc *f = &t[idx[j]];
			if (f->env != s->env || s->n < d->cfg.version_min_samples ||
			    f->n < d->cfg.version_min_samples)
				continue;
			double ms = acc_mean(s), mf = acc_mean(f);
			double ps = sketch_quantile(s->sk, 0.5), pf = sketch_quantile(f->sk, 0.5);
			double se = sqrt(acc_var(s) / (double)s->n + acc_var(f) / (double)f->n);
			double w = (double)(s->n < f->n ? s->n : f->n);
			if (mf <= 0 || pf <= 0)
				continue;
			r_mean += w * ms / mf;
			r_p50 += w * ps / pf;
			w_sum += w;
			min_r = fmin(min_r, ms / mf);
			z_sum += se > 0 ? (ms - mf) / se : 0;
			n_slow += (double)s->n;
			sum_slow += s->sum;
			n_fast += (double)f->n;
			sum_fast += f->sum;
			sketch_merge(&slow, s->sk);
			k++;
		}
	}
	if (!k)
		goto out;
	r_mean /= w_sum;
	r_p50 /= w_sum;
	if (r_mean < d->cfg.version_ratio || r_p50 < d->cfg.version_ratio || min_r < 1.0 ||
	    z_sum / sqrt((double)k) < d->cfg.version_min_z)
		goto out;
	const struct acc *a = &t[idx[s0]];
	char buf[256];
	const char *vs = detect_name(d, a->version), *vf = detect_name(d, t[idx[f0]].version);
	snprintf(buf, sizeof(buf), "%s vs %s", vs ? vs : "(none)", vf ? vf : "(none)");
	struct finding *f = detect_add_finding(d, FINDING_VERSION_REGRESSION, a);
	f->environment = NULL;
	f->detail = arena_strdup(&d->out, buf);
	f->occurrences = (uint64_t)n_slow;
	f->affected_requests = (uint64_t)n_slow;
	f->subject_requests = endpoint_requests(d, a->service, a->endpoint);
	f->avg_ns = sum_slow / n_slow;
	f->p50_ns = sketch_quantile(&slow, 0.5);
	f->baseline_ns = sum_fast / n_fast;
	f->ratio = r_mean;
	f->rate = r_p50;
	/* The saving is measured on the service's own span, so the share is of it too. */
	f->affected_latency_ns = f->avg_ns;
	estimate(d, f, (f->avg_ns - f->baseline_ns) * n_slow);
	detect_rank(d, f);
out:
	sketch_release(&slow);
}

/*
 * Same service and endpoint, per environment: a version whose mean and p50
 * are version_ratio times those of the fastest version (weighted over the
 * environments where both have version_min_samples requests), with a mean
 * no better in any of them, and with a combined z of the mean difference
 * of at least version_min_z.
 */
static void judge_versions(struct detector *d)
{
	struct table *t = &d->t[T_VERSION];
	size_t *idx = xmalloc((t->n + 1) * sizeof(*idx));
	for (size_t i = 0; i < t->n; i++)
		idx[i] = i;
	qsort_r(idx, t->n, sizeof(*idx), version_cmp, d);
	for (size_t b0 = 0, b1; b0 < t->n; b0 = b1) {
		const struct acc *a = &t->a[idx[b0]];
		for (b1 = b0; b1 < t->n && t->a[idx[b1]].service == a->service &&
			      t->a[idx[b1]].endpoint == a->endpoint;
		     b1++)
			;
		/* the fastest version by mean over all environments */
		size_t best0 = b0, best1 = b0;
		double best = INFINITY;
		for (size_t v0 = b0, v1; v0 < b1; v0 = v1) {
			double n = 0, s = 0;
			for (v1 = v0; v1 < b1 && t->a[idx[v1]].version == t->a[idx[v0]].version; v1++) {
				n += (double)t->a[idx[v1]].n;
				s += t->a[idx[v1]].sum;
			}
			if (n > 0 && s / n < best) {
				best = s / n;
				best0 = v0;
				best1 = v1;
			}
		}
		for (size_t v0 = b0, v1; v0 < b1; v0 = v1) {
			for (v1 = v0; v1 < b1 && t->a[idx[v1]].version == t->a[idx[v0]].version; v1++)
				;
			if (v0 != best0)
				compare_versions(d, idx, v0, v1, best0, best1);
		}
	}
	free(idx);
}

void detect_finish_traces(struct detector *d)
{
	uint64_t reported[256];
	size_t n_reported = 0;
	judge_n_plus_one(d);
	judge_sequential(d);
	judge_cacheable(d, reported, &n_reported, sizeof(reported) / sizeof(reported[0]));
	judge_statements(d, reported, n_reported);
	judge_payloads(d);
	judge_retries(d);
	judge_timeouts(d);
	judge_versions(d);
}
