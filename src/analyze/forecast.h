/*
 * forecast.h - where a throughput series is heading, and when it reaches a
 * capacity.
 *
 * Two models: a straight line fitted by least squares (with its classical
 * prediction interval), and Holt–Winters additive smoothing (level, trend
 * and a season of `period` points, a day of hours), its smoothing
 * parameters chosen on a grid by the one-step-ahead squared error, and its
 * interval from the ETS(A,A,A) variance formula.  The date capacity is
 * reached is the first forecast step at which the forecast (and each bound
 * of its 95 % interval) is at or above the capacity.
 *
 * Pure functions over evenly spaced points without NaN; steps are counted
 * from the last point (step 1 is the next).  Ownership: struct forecast is
 * the caller's; forecast_release() frees its arrays.
 */
#ifndef HOTPATH_ANALYZE_FORECAST_H
#define HOTPATH_ANALYZE_FORECAST_H

#include <stddef.h>

#define FORECAST_MAX_N	     20000
#define FORECAST_MAX_HORIZON 20000

enum forecast_model { FORECAST_LINEAR, FORECAST_HOLT_WINTERS };

struct forecast {
	enum forecast_model model;
	size_t horizon;
	double *mean, *lo, *hi;	   /* [horizon]: step h + 1 */
	double sigma;		   /* residual standard deviation */
	double alpha, beta, gamma; /* Holt–Winters smoothing (NaN for linear) */
	double slope;		   /* per step: the line's, or the final trend */
	/* First step (1-based) at which mean / hi / lo reach the capacity;
	 * 0: not within the horizon.  hi crosses first: the earliest date. */
	size_t cross, cross_early, cross_late;
};

/* Fit y[0..n) and forecast `horizon` steps; `capacity` NaN: no crossing.
 * Linear needs n >= 3; Holt–Winters n >= 2 * period (period >= 2).
 * 0, or -1 (too few points, too many, or no memory). */
int forecast_linear(struct forecast *f, const double *y, size_t n, size_t horizon, double capacity);
int forecast_holt_winters(struct forecast *f, const double *y, size_t n, size_t period, size_t horizon,
			  double capacity);
void forecast_release(struct forecast *f);

#endif
