/*
 * bench_change.c - the costs of the statistics of change over time, for
 * `make bench`: a version comparison as GET /api/v1/versions/compare runs
 * it (5,000 durations a side, Mann-Whitney U and 1,000 bootstrap
 * resamples), the change-point search over a timeline series (120 points,
 * the dashboard's grid) and over the longest series it takes (5,000), and
 * the Holt-Winters fit of 30 days of hourly throughput (720 points, 729
 * parameter triples).  Each figure is the median of 5 runs.  Prints
 * `name value unit` lines for bench/run.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "analyze/abtest.h"
#include "analyze/changepoint.h"
#include "analyze/forecast.h"
#include "bench.h"

#define RUNS 5

static uint64_t rng_state = 0xc4a9ull;

static double rng_unit(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return ((double)((z ^ (z >> 31)) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
	return sqrt(-2 * log(rng_unit())) * cos(2 * M_PI * rng_unit());
}

static double time_compare(const double *a, const double *b, size_t n)
{
	struct abtest t;
	double t0 = clock_s(CLOCK_MONOTONIC);
	if (abtest_run(&t, a, n, b, n, 1000, 1, 0.05) < 0)
		exit(1);
	return clock_s(CLOCK_MONOTONIC) - t0;
}

static double time_changepoints(const double *x, size_t n)
{
	struct changepoint cp[32];
	size_t m;
	double t0 = clock_s(CLOCK_MONOTONIC);
	if (changepoint_find(x, n, NULL, cp, 32, &m) < 0)
		exit(1);
	return clock_s(CLOCK_MONOTONIC) - t0;
}

static double time_holt_winters(const double *x, size_t n)
{
	struct forecast f;
	double t0 = clock_s(CLOCK_MONOTONIC);
	if (forecast_holt_winters(&f, x, n, 24, 720, 1e9) < 0)
		exit(1);
	double s = clock_s(CLOCK_MONOTONIC) - t0;
	forecast_release(&f);
	return s;
}

int main(void)
{
	enum { SIDE = 5000, LONG = 5000 };
	static double a[SIDE], b[SIDE], series[LONG], hourly[720];
	double v[RUNS];
	for (size_t i = 0; i < SIDE; i++) {
		a[i] = 100 * exp(0.5 * normal());
		b[i] = 110 * exp(0.5 * normal());
	}
	for (size_t i = 0; i < LONG; i++)
		series[i] = 100 * (1 + 0.05 * normal()) * (i >= LONG / 2 ? 1.1 : 1);
	for (size_t i = 0; i < 720; i++)
		hourly[i] = 100 + 0.1 * (double)i + 20 * sin(2 * M_PI * (double)i / 24) + 5 * normal();

	for (int r = 0; r < RUNS; r++)
		v[r] = time_compare(a, b, SIDE);
	printf("change_version_compare_5000x2 %.1f ms\n", median(v, RUNS) * 1e3);
	for (int r = 0; r < RUNS; r++)
		v[r] = time_changepoints(series + LONG / 2 - 60, 120);
	printf("change_points_120 %.3f ms\n", median(v, RUNS) * 1e3);
	for (int r = 0; r < RUNS; r++)
		v[r] = time_changepoints(series, LONG);
	printf("change_points_5000 %.1f ms\n", median(v, RUNS) * 1e3);
	for (int r = 0; r < RUNS; r++)
		v[r] = time_holt_winters(hourly, 720);
	printf("holt_winters_720 %.1f ms\n", median(v, RUNS) * 1e3);
	return 0;
}
