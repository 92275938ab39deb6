/*
 * abtest.c - the Mann–Whitney U test and a bootstrap interval of the
 * relative p95 change between two samples of durations (see abtest.h).
 */
#include "analyze/abtest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* splitmix64: a small, well-mixed generator; the bootstrap needs no more. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n)
{
	return (size_t)((rng_next(s) >> 11) * (1.0 / 9007199254740992.0) * (double)n);
}

double abtest_normal_sf(double z)
{
	return 0.5 * erfc(z / sqrt(2.0));
}

enum abtest_gate abtest_gate(const struct abtest *t, double max_increase)
{
	if (t->verdict == ABTEST_TOO_FEW)
		return ABTEST_INCONCLUSIVE;
	int significant = t->verdict == ABTEST_SLOWER || t->p95_lo > 0;
	return significant && t->p95_change > max_increase ? ABTEST_FAIL : ABTEST_PASS;
}

double abtest_proportions(uint64_t f1, uint64_t n1, uint64_t f2, uint64_t n2)
{
	if (!n1 || !n2 || f1 > n1 || f2 > n2)
		return 1;
	double p = (double)(f1 + f2) / (double)(n1 + n2);
	double se = sqrt(p * (1 - p) * (1.0 / (double)n1 + 1.0 / (double)n2));
	if (se <= 0)
		return 1;
	double z = ((double)f1 / (double)n1 - (double)f2 / (double)n2) / se;
	return fmin(1.0, 2 * abtest_normal_sf(fabs(z)));
}

double abtest_quantile_sorted(const double *x, size_t n, double q)
{
	if (n == 0)
		return NAN;
	double h = (double)(n - 1) * q;
	size_t lo = (size_t)floor(h);
	if (lo + 1 >= n)
		return x[n - 1];
	return x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]);
}

const char *abtest_verdict_name(enum abtest_verdict v)
{
	switch (v) {
	case ABTEST_SLOWER: return "slower";
	case ABTEST_FASTER: return "faster";
	case ABTEST_TOO_FEW: return "too few requests";
	default: return "no significant difference";
	}
}

/* The k-th smallest of x[0..n) (0-based), reordering x so that no value
 * before k is larger and none after it smaller (Wirth's selection). */
static double select_kth(double *x, size_t n, size_t k)
{
	long l = 0, m = (long)n - 1, kk = (long)k;
	while (l < m) {
		double pivot = x[kk];
		long i = l, j = m;
		do {
			while (x[i] < pivot)
				i++;
			while (pivot < x[j])
				j--;
			if (i <= j) {
				double tmp = x[i];
				x[i++] = x[j];
				x[j--] = tmp;
			}
		} while (i <= j);
		if (j < kk)
			l = i;
		if (kk < i)
			m = j;
	}
	return x[kk];
}

/* Type-7 quantile of an unsorted array (reordered). */
static double quantile_select(double *x, size_t n, double q)
{
	double h = (double)(n - 1) * q;
	size_t lo = (size_t)floor(h);
	double a = select_kth(x, n, lo);
	if (lo + 1 >= n)
		return a;
	double b = x[lo + 1];
	for (size_t i = lo + 2; i < n; i++) /* after select, x[lo+1..] >= a: find their min */
		if (x[i] < b)
			b = x[i];
	return a + (h - (double)lo) * (b - a);
}

/* U of `c` against `b` (both sorted) with the tie-corrected variance. */
static void mann_whitney(struct abtest *t, const double *b, size_t nb, const double *c, size_t nc)
{
	double u = 0, ties = 0;
	size_t i = 0, j = 0;
	while (i < nb || j < nc) {
		double v = i < nb && (j >= nc || b[i] <= c[j]) ? b[i] : c[j];
		size_t eb = 0, ec = 0;
		while (i < nb && b[i] == v)
			i++, eb++;
		while (j < nc && c[j] == v)
			j++, ec++;
		/* each candidate value here beats the baseline values below v */
		u += (double)ec * ((double)(i - eb) + 0.5 * (double)eb);
		double tk = (double)(eb + ec);
		ties += tk * tk * tk - tk;
	}
	double n1 = (double)nb, n2 = (double)nc, n = n1 + n2;
	double mean = n1 * n2 / 2;
	double var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)));
	t->u = u;
	t->prob_slower = u / (n1 * n2);
	if (var <= 0) {
		t->z = 0;
		t->p_value = 1;
		return;
	}
	double d = u - mean;
	d = d > 0.5 ? d - 0.5 : d < -0.5 ? d + 0.5 : 0; /* continuity correction */
	t->z = d / sqrt(var);
	t->p_value = fmin(1.0, 2 * abtest_normal_sf(fabs(t->z)));
}

/* Every k-th value of sorted x so that at most ABTEST_MAX_BOOTSTRAP_N stay. */
static size_t thin(const double *x, size_t n, double *out)
{
	size_t k = (n + ABTEST_MAX_BOOTSTRAP_N - 1) / ABTEST_MAX_BOOTSTRAP_N, m = 0;
	for (size_t i = k / 2; i < n; i += k)
		out[m++] = x[i];
	return m;
}

static double resample_p95(const double *x, size_t n, double *scratch, uint64_t *seed)
{
	for (size_t i = 0; i < n; i++)
		scratch[i] = x[rng_below(seed, n)];
	return quantile_select(scratch, n, 0.95);
}

static int cmp_ratio(const void *a, const void *b)
{
	return cmp_double(a, b);
}

/* The 2.5 % and 97.5 % quantiles of the resampled p95 ratios. */
static int bootstrap(struct abtest *t, const double *b, size_t nb, const double *c, size_t nc,
		     unsigned rounds, uint64_t seed)
{
	int rc = -1;
	double *tb = malloc(sizeof(double) * (nb < ABTEST_MAX_BOOTSTRAP_N ? nb : ABTEST_MAX_BOOTSTRAP_N));
	double *tc = malloc(sizeof(double) * (nc < ABTEST_MAX_BOOTSTRAP_N ? nc : ABTEST_MAX_BOOTSTRAP_N));
	double *scratch = malloc(sizeof(double) * ABTEST_MAX_BOOTSTRAP_N);
	double *ratios = malloc(sizeof(double) * rounds);
	if (!tb || !tc || !scratch || !ratios)
		goto out;
	size_t mb = thin(b, nb, tb), mc = thin(c, nc, tc), m = 0;
	for (unsigned r = 0; r < rounds; r++) {
		double pb = resample_p95(tb, mb, scratch, &seed);
		double pc = resample_p95(tc, mc, scratch, &seed);
		if (pb > 0)
			ratios[m++] = pc / pb - 1;
	}
	if (m > 0) {
		qsort(ratios, m, sizeof(double), cmp_ratio);
		t->p95_lo = abtest_quantile_sorted(ratios, m, 0.025);
		t->p95_hi = abtest_quantile_sorted(ratios, m, 0.975);
	}
	rc = 0;
out:
	free(tb);
	free(tc);
	free(scratch);
	free(ratios);
	return rc;
}

static void quantiles(const double *x, size_t n, double *p50, double *p95, double *p99)
{
	*p50 = abtest_quantile_sorted(x, n, 0.50);
	*p95 = abtest_quantile_sorted(x, n, 0.95);
	*p99 = abtest_quantile_sorted(x, n, 0.99);
}

int abtest_run(struct abtest *t, const double *base, size_t n_base, const double *cand, size_t n_cand,
	       unsigned resamples, uint64_t seed, double alpha)
{
	int rc = -1;
	double *b = malloc(sizeof(double) * (n_base ? n_base : 1));
	double *c = malloc(sizeof(double) * (n_cand ? n_cand : 1));
	memset(t, 0, sizeof(*t));
	t->p95_change = t->p95_lo = t->p95_hi = t->z = t->prob_slower = NAN;
	t->p_value = 1;
	t->n_base = n_base;
	t->n_cand = n_cand;
	if (!b || !c)
		goto out;
	for (size_t i = 0; i < n_base; i++)
		if (isnan(b[i] = base[i]))
			goto out;
	for (size_t i = 0; i < n_cand; i++)
		if (isnan(c[i] = cand[i]))
			goto out;
	qsort(b, n_base, sizeof(double), cmp_double);
	qsort(c, n_cand, sizeof(double), cmp_double);
	quantiles(b, n_base, &t->base_p50, &t->base_p95, &t->base_p99);
	quantiles(c, n_cand, &t->cand_p50, &t->cand_p95, &t->cand_p99);
	if (n_base && n_cand && t->base_p95 > 0)
		t->p95_change = t->cand_p95 / t->base_p95 - 1;
	if (n_base && n_cand)
		mann_whitney(t, b, n_base, c, n_cand);
	if (n_base < ABTEST_MIN_N || n_cand < ABTEST_MIN_N) {
		t->verdict = ABTEST_TOO_FEW;
		rc = 0;
		goto out;
	}
	t->verdict = t->p_value >= alpha ? ABTEST_SAME : t->z > 0 ? ABTEST_SLOWER : ABTEST_FASTER;
	rc = resamples ? bootstrap(t, b, n_base, c, n_cand, resamples, seed) : 0;
out:
	free(b);
	free(c);
	return rc;
}
