/*
 * test_changepoint.c - change points and robust anomalies: a clear step
 * found where it is, Welch's p on known data, and the accuracy figures on
 * seeded series (10 % level shifts under 5 % noise: recall, precision,
 * false alarms on series without a shift, detection delay).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "analyze/changepoint.h"
#include "seeded.h"
#include "tap.h"

#define LEN	60
#define TOL	5 /* a change found within this many points of the truth */
#define MAX_OUT 16

static void test_step(void)
{
	double x[40];
	for (int i = 0; i < 40; i++)
		x[i] = i < 25 ? 100 + (i % 3) : 130 + (i % 3);
	struct changepoint cp[MAX_OUT];
	size_t n;
	ok(changepoint_find(x, 40, NULL, cp, MAX_OUT, &n) == 0, "runs");
	is_int(n, 1, "one change");
	is_int(cp[0].index, 25, "at the step");
	ok(fabs(cp[0].rel_change - 0.3) < 0.01, "of +30 %% (got %.3f)", cp[0].rel_change);
	double flat[30];
	for (int i = 0; i < 30; i++)
		flat[i] = 100 + (i % 4);
	changepoint_find(flat, 30, NULL, cp, MAX_OUT, &n);
	is_int(n, 0, "no change in a flat series");
	double a[] = {1, 2, 3, 4, 5}, b[] = {3, 4, 5, 6, 7};
	/* Welch: t = -2, df = 8, two-sided p = 0.0805 */
	ok(fabs(changepoint_welch_p(a, 5, b, 5) - 0.0805) < 0.001, "Welch p %.4f",
	   changepoint_welch_p(a, 5, b, 5));
	x[10] = NAN;
	ok(changepoint_find(x, 40, NULL, cp, MAX_OUT, &n) < 0, "NaN is refused");
}

static void series(double *x, size_t n, size_t shift_at, double shift, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		x[i] = 100 * (i >= shift_at ? 1 + shift : 1) * (1 + 0.05 * seeded_normal(s));
}

/* Whether a change point of x[0..n) lies within TOL of `at`; *others the
 * ones that do not. */
static int found_near(const double *x, size_t n, size_t at, size_t *others)
{
	struct changepoint cp[MAX_OUT];
	size_t m, hit = 0;
	changepoint_find(x, n, NULL, cp, MAX_OUT, &m);
	*others = 0;
	for (size_t i = 0; i < m; i++) {
		if (labs((long)cp[i].index - (long)at) <= TOL)
			hit = 1;
		else
			(*others)++;
	}
	return (int)hit;
}

static void test_accuracy(void)
{
	enum { TRIALS = 400 };
	double x[LEN];
	uint64_t s = 2026;
	int hits = 0, alarms = 0, detected_delay_n = 0;
	size_t wrong = 0, delay_sum = 0;
	for (int t = 0; t < TRIALS; t++) {
		size_t at = 15 + (size_t)(seeded_uniform(&s) * 30);
		size_t others;
		series(x, LEN, at, 0.10, &s);
		hits += found_near(x, LEN, at, &others);
		wrong += others;
		/* delay: the fewest points after the shift that reveal it */
		for (size_t k = 2; at + k <= LEN; k++) {
			size_t o;
			if (found_near(x, at + k, at, &o)) {
				delay_sum += k;
				detected_delay_n++;
				break;
			}
		}
	}
	for (int t = 0; t < TRIALS; t++) {
		size_t others;
		series(x, LEN, LEN, 0, &s);
		found_near(x, LEN, 1000, &others);
		alarms += others > 0;
	}
	double recall = (double)hits / TRIALS, fa = (double)alarms / TRIALS;
	double precision = (double)hits / (double)(hits + wrong);
	printf("# recall %.3f precision %.3f false-alarm series %.3f mean delay %.2f points (%d series)\n",
	       recall, precision, fa, detected_delay_n ? (double)delay_sum / detected_delay_n : NAN,
	       detected_delay_n);
	ok(recall >= 0.95, "10 %% shifts under 5 %% noise: %.1f %% found (at least 95 %%)", recall * 100);
	ok(fa <= 0.05, "series without a shift: %.1f %% with a false alarm (at most 5 %%)", fa * 100);
	ok(precision >= 0.9, "precision %.3f", precision);
	ok(detected_delay_n > 0 && (double)delay_sum / detected_delay_n <= 15, "mean delay %.2f points",
	   detected_delay_n ? (double)delay_sum / detected_delay_n : NAN);
}

static void test_anomaly(void)
{
	/* four weeks of one slot at ~100, then 180 */
	double x[] = {100, 104, 97, 101, 180, 50, 52, 49};
	uint32_t slot[] = {0, 0, 0, 0, 0, 1, 1, 1};
	struct anomaly a[8];
	ok(anomaly_mad(x, slot, 8, 3.5, 3, a) == 0, "runs");
	ok(a[4].flagged, "180 against a median of 100.5 is flagged (score %.1f)", a[4].score);
	ok(!a[0].flagged && !a[5].flagged, "ordinary values are not");
	ok(fabs(a[4].median - 100.5) < 1e-9, "its baseline is the other values of its slot (%.1f)",
	   a[4].median);
	double y[] = {100, 300};
	uint32_t s2[] = {0, 0};
	anomaly_mad(y, s2, 2, 3.5, 3, a);
	ok(!a[1].flagged, "too little history flags nothing");
}

int main(void)
{
	test_step();
	test_accuracy();
	test_anomaly();
	return tap_done();
}
