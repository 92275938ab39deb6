/*
 * test_forecast.c - linear and Holt–Winters forecasts: exact on a clean
 * line, and the date a capacity is reached within ±10 % on seeded
 * linear-plus-daily series.
 */
#include <math.h>
#include <stdio.h>

#include "analyze/forecast.h"
#include "seeded.h"
#include "tap.h"

#define PI 3.14159265358979323846

static void test_line(void)
{
	double y[50];
	for (int i = 0; i < 50; i++)
		y[i] = 10 + 2.0 * i;
	struct forecast f;
	ok(forecast_linear(&f, y, 50, 100, 200) == 0, "a line fits");
	ok(fabs(f.slope - 2) < 1e-9, "slope 2 (got %g)", f.slope);
	ok(fabs(f.mean[0] - 110) < 1e-9, "next point 110 (got %g)", f.mean[0]);
	/* 10 + 2t >= 200 at t = 95: step 95 - 49 = 46 */
	is_int(f.cross, 46, "capacity 200 reached 46 steps on");
	forecast_release(&f);
	ok(forecast_linear(&f, y, 2, 10, NAN) < 0, "two points are too few");
	ok(forecast_holt_winters(&f, y, 30, 24, 10, NAN) < 0, "Holt-Winters needs two seasons");
}

/* Hourly throughput: 100 + 0.5 t + 20 sin(daily) + noise(sd 5). */
static double truth(double t)
{
	return 100 + 0.5 * t + 20 * sin(2 * PI * t / 24);
}

static void test_capacity_date(void)
{
	enum { N = 28 * 24, LEAD = 600, H = 2000 };
	double y[N];
	/* capacity: the noise-free series reaches it first at hour N - 1 + LEAD */
	double capacity = truth(N - 1 + LEAD);
	size_t first = 0, first_trend = 0;
	for (size_t h = 1; h <= H && !first; h++)
		if (truth((double)(N - 1 + h)) >= capacity)
			first = h;
	for (size_t h = 1; h <= H && !first_trend; h++)
		if (100 + 0.5 * (double)(N - 1 + h) >= capacity)
			first_trend = h;
	int hw_ok = 0, lin_ok = 0, inside = 0, seeds = 20;
	for (int k = 0; k < seeds; k++) {
		uint64_t s = 1000 + (uint64_t)k;
		for (int i = 0; i < N; i++)
			y[i] = truth(i) + 5 * seeded_normal(&s);
		struct forecast hw, lin;
		if (forecast_holt_winters(&hw, y, N, 24, H, capacity) < 0 ||
		    forecast_linear(&lin, y, N, H, capacity) < 0) {
			ok(0, "forecasts run");
			return;
		}
		hw_ok += hw.cross && fabs((double)hw.cross - (double)first) <= 0.1 * (double)first;
		lin_ok += lin.cross &&
			  fabs((double)lin.cross - (double)first_trend) <= 0.1 * (double)first_trend;
		inside += hw.cross_early <= first && (hw.cross_late == 0 || hw.cross_late >= first);
		if (k == 0)
			printf("# seed 0: Holt-Winters %zu (interval %zu..%zu), linear %zu; truth %zu / "
			       "%zu\n",
			       hw.cross, hw.cross_early, hw.cross_late, lin.cross, first, first_trend);
		forecast_release(&hw);
		forecast_release(&lin);
	}
	ok(hw_ok == seeds, "Holt-Winters: date within 10 %% in %d of %d series", hw_ok, seeds);
	ok(lin_ok == seeds, "linear (trend crossing): date within 10 %% in %d of %d series", lin_ok, seeds);
	ok(inside >= seeds * 9 / 10, "the true date lies in the interval in %d of %d series", inside, seeds);
}

int main(void)
{
	test_line();
	test_capacity_date();
	return tap_done();
}
