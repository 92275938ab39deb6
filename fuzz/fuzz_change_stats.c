/*
 * fuzz_change_stats.c - the statistics of change over time on arbitrary
 * series: the bytes are read as doubles (NaN, infinities and huge values
 * included) and fed to the version test, the change-point search, the
 * median/MAD anomalies and both forecasts.
 *
 * Promises checked: nothing crashes or reads out of bounds; a p-value is
 * within [0, 1]; change points are in range, in order and at least
 * min_size from each end; a forecast's crossing steps are within the
 * horizon.  A broken promise aborts, so libFuzzer reports it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/abtest.h"
#include "analyze/changepoint.h"
#include "analyze/forecast.h"

#define MAX_N 600

static void check_abtest(const double *x, size_t n)
{
	struct abtest t;
	size_t half = n / 2;
	int nan = 0;
	for (size_t i = 0; i < n; i++)
		nan |= isnan(x[i]);
	int rc = abtest_run(&t, x, half, x + half, n - half, 20, 1, 0.05);
	if (nan != (rc < 0))
		abort();
	if (rc == 0 && !(t.p_value >= 0 && t.p_value <= 1))
		abort();
}

static void check_changepoints(const double *x, size_t n)
{
	struct changepoint cp[16];
	size_t m;
	struct changepoint_options o = {.min_size = 3};
	if (changepoint_find(x, n, &o, cp, 16, &m) < 0)
		return;
	for (size_t i = 0; i < m; i++)
		if (cp[i].index < 3 || cp[i].index + 3 > n || (i && cp[i].index <= cp[i - 1].index))
			abort();
}

static void check_forecasts(const double *x, size_t n)
{
	struct forecast f;
	if (forecast_linear(&f, x, n, 50, 100) == 0) {
		if (f.cross > 50 || f.cross_early > 50 || f.cross_late > 50)
			abort();
		forecast_release(&f);
	}
	if (forecast_holt_winters(&f, x, n, 4, 50, 100) == 0) {
		if (f.cross > 50 || f.cross_early > 50 || f.cross_late > 50)
			abort();
		forecast_release(&f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size / sizeof(double);
	if (n > MAX_N)
		n = MAX_N;
	double *x = malloc(sizeof(double) * (n ? n : 1));
	uint32_t *slot = malloc(sizeof(uint32_t) * (n ? n : 1));
	struct anomaly *an = malloc(sizeof(*an) * (n ? n : 1));
	if (!x || !slot || !an)
		abort();
	memcpy(x, data, n * sizeof(double));
	for (size_t i = 0; i < n; i++)
		slot[i] = (uint32_t)(i % 24);
	check_abtest(x, n);
	check_changepoints(x, n);
	if (anomaly_mad(x, slot, n, 3.5, 3, an) < 0)
		abort();
	check_forecasts(x, n);
	free(x);
	free(slot);
	free(an);
	return 0;
}
