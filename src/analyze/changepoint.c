/*
 * changepoint.c - Hunter-style E-Divisive change points, Welch's t-test,
 * and median/MAD anomalies (see changepoint.h).
 */
#include "analyze/changepoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Student's t distribution, via the regularised incomplete beta ---- */

/* Continued fraction of the incomplete beta (Numerical Recipes' betacf). */
static double betacf(double a, double b, double x)
{
	const double eps = 3e-14, fpmin = 1e-300;
	double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
	if (fabs(d) < fpmin)
		d = fpmin;
	d = 1 / d;
	double h = d;
	for (int m = 1; m <= 300; m++) {
		int m2 = 2 * m;
		double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
		d = 1 + aa * d;
		c = 1 + aa / c;
		d = fabs(d) < fpmin ? 1 / fpmin : 1 / d;
		c = fabs(c) < fpmin ? fpmin : c;
		h *= d * c;
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
		d = 1 + aa * d;
		c = 1 + aa / c;
		d = fabs(d) < fpmin ? 1 / fpmin : 1 / d;
		c = fabs(c) < fpmin ? fpmin : c;
		double del = d * c;
		h *= del;
		if (fabs(del - 1) < eps)
			break;
	}
	return h;
}

static double betai(double a, double b, double x)
{
	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	double bt = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1 - x));
	if (x < (a + 1) / (a + b + 2))
		return bt * betacf(a, b, x) / a;
	return 1 - bt * betacf(b, a, 1 - x) / b;
}

static void mean_var(const double *x, size_t n, double *mean, double *var)
{
	double m = 0, s = 0;
	for (size_t i = 0; i < n; i++)
		m += x[i];
	m /= (double)n;
	for (size_t i = 0; i < n; i++)
		s += (x[i] - m) * (x[i] - m);
	*mean = m;
	*var = n > 1 ? s / (double)(n - 1) : 0;
}

double changepoint_welch_p(const double *a, size_t na, const double *b, size_t nb)
{
	double ma, va, mb, vb;
	if (na < 2 || nb < 2)
		return 1;
	mean_var(a, na, &ma, &va);
	mean_var(b, nb, &mb, &vb);
	double sa = va / (double)na, sb = vb / (double)nb, se2 = sa + sb;
	if (se2 <= 0)
		return ma == mb ? 1 : 0;
	double t = (ma - mb) / sqrt(se2);
	double df = se2 * se2 / (sa * sa / (double)(na - 1) + sb * sb / (double)(nb - 1));
	return betai(df / 2, 0.5, df / (df + t * t));
}

/* ---- E-Divisive split ---- */

/* The split of x[lo..hi) with the largest energy statistic, with at least
 * `min` points a side; hi - lo >= 2 * min.  Returns the index. */
static size_t best_split(const double *x, size_t lo, size_t hi, size_t min, double *energy)
{
	double total = 0, wl = 0, wr;
	for (size_t i = lo; i < hi; i++)
		for (size_t k = i + 1; k < hi; k++)
			total += fabs(x[i] - x[k]);
	wr = total;
	size_t best = lo + min;
	double best_q = -INFINITY;
	for (size_t tau = lo + 1; tau + min <= hi; tau++) {
		/* move x[tau - 1] from the right side to the left */
		double to_left = 0, to_right = 0;
		for (size_t i = lo; i < tau - 1; i++)
			to_left += fabs(x[i] - x[tau - 1]);
		for (size_t k = tau; k < hi; k++)
			to_right += fabs(x[tau - 1] - x[k]);
		wl += to_left;
		wr -= to_right;
		if (tau - lo < min)
			continue;
		double p = (double)(tau - lo), q = (double)(hi - tau);
		double cross = total - wl - wr;
		double within_l = p > 1 ? wl / (p * (p - 1) / 2) : 0;
		double within_r = q > 1 ? wr / (q * (q - 1) / 2) : 0;
		double qstat = p * q / (p + q) * (2 * cross / (p * q) - within_l - within_r);
		if (qstat > best_q) {
			best_q = qstat;
			best = tau;
		}
	}
	*energy = best_q;
	return best;
}

struct cp_run {
	const double *x;
	size_t min;
	double max_p, min_rel;
	struct changepoint *out;
	size_t max_out, n;
};

static void bisect(struct cp_run *r, size_t lo, size_t hi, int depth)
{
	if (hi - lo < 2 * r->min || r->n >= r->max_out || depth > 64)
		return;
	double energy;
	size_t tau = best_split(r->x, lo, hi, r->min, &energy);
	double p = changepoint_welch_p(r->x + lo, tau - lo, r->x + tau, hi - tau);
	if (!(p < r->max_p))
		return;
	struct changepoint c = {.index = tau, .p_value = p, .energy = energy};
	double v;
	mean_var(r->x + lo, tau - lo, &c.mean_before, &v);
	mean_var(r->x + tau, hi - tau, &c.mean_after, &v);
	c.rel_change = c.mean_before != 0 ? c.mean_after / c.mean_before - 1 : NAN;
	if (r->min_rel > 0 && !(fabs(c.rel_change) >= r->min_rel))
		return;
	r->out[r->n++] = c;
	bisect(r, lo, tau, depth + 1);
	bisect(r, tau, hi, depth + 1);
}

static int cmp_index(const void *a, const void *b)
{
	size_t x = ((const struct changepoint *)a)->index, y = ((const struct changepoint *)b)->index;
	return (x > y) - (x < y);
}

int changepoint_find(const double *x, size_t n, const struct changepoint_options *o, struct changepoint *out,
		     size_t max_out, size_t *n_out)
{
	*n_out = 0;
	if (n > CHANGEPOINT_MAX_N)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (isnan(x[i]))
			return -1;
	struct cp_run r = {.x = x, .out = out, .max_out = max_out};
	r.min = o && o->min_size >= 2 ? o->min_size : 5;
	r.max_p = o && o->max_p > 0 ? o->max_p : 0.001;
	r.min_rel = o ? o->min_rel : 0;
	bisect(&r, 0, n, 0);
	qsort(out, r.n, sizeof(*out), cmp_index);
	*n_out = r.n;
	return 0;
}

/* ---- median / MAD ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double changepoint_median(double *x, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(x, n, sizeof(double), cmp_double);
	return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

int anomaly_mad(const double *x, const uint32_t *slot, size_t n, double threshold, size_t min_history,
		struct anomaly *out)
{
	double *h = malloc(sizeof(double) * (n ? n : 1));
	if (!h)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t m = 0;
		for (size_t j = 0; j < n; j++)
			if (j != i && slot[j] == slot[i] && !isnan(x[j]))
				h[m++] = x[j];
		struct anomaly *a = &out[i];
		a->median = changepoint_median(h, m);
		for (size_t j = 0; j < m; j++)
			h[j] = fabs(h[j] - a->median);
		a->mad = changepoint_median(h, m);
		double floor = fabs(a->median) * 0.05 > 1e-9 ? fabs(a->median) * 0.05 : 1e-9;
		double scale = 1.4826 * (a->mad > floor ? a->mad : floor);
		a->score = m > 0 && !isnan(x[i]) ? (x[i] - a->median) / scale : NAN;
		a->flagged = m >= min_history && a->score > threshold;
	}
	free(h);
	return 0;
}
