/*
 * forecast.c - linear and Holt–Winters forecasts with prediction
 * intervals and the step at which a capacity is reached (see forecast.h).
 */
#include "analyze/forecast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define Z95 1.959963984540054

static int forecast_alloc(struct forecast *f, enum forecast_model m, size_t horizon)
{
	memset(f, 0, sizeof(*f));
	f->model = m;
	f->horizon = horizon;
	f->alpha = f->beta = f->gamma = NAN;
	f->mean = calloc(horizon ? horizon : 1, sizeof(double));
	f->lo = calloc(horizon ? horizon : 1, sizeof(double));
	f->hi = calloc(horizon ? horizon : 1, sizeof(double));
	if (!f->mean || !f->lo || !f->hi) {
		forecast_release(f);
		return -1;
	}
	return 0;
}

void forecast_release(struct forecast *f)
{
	free(f->mean);
	free(f->lo);
	free(f->hi);
	f->mean = f->lo = f->hi = NULL;
}

static void crossings(struct forecast *f, double capacity)
{
	if (isnan(capacity))
		return;
	for (size_t h = 0; h < f->horizon; h++) {
		if (!f->cross && f->mean[h] >= capacity)
			f->cross = h + 1;
		if (!f->cross_early && f->hi[h] >= capacity)
			f->cross_early = h + 1;
		if (!f->cross_late && f->lo[h] >= capacity)
			f->cross_late = h + 1;
	}
}

int forecast_linear(struct forecast *f, const double *y, size_t n, size_t horizon, double capacity)
{
	if (n < 3 || n > FORECAST_MAX_N || horizon > FORECAST_MAX_HORIZON ||
	    forecast_alloc(f, FORECAST_LINEAR, horizon) < 0)
		return -1;
	double tbar = (double)(n - 1) / 2, ybar = 0, sxx = 0, sxy = 0, sse = 0;
	for (size_t i = 0; i < n; i++)
		ybar += y[i];
	ybar /= (double)n;
	for (size_t i = 0; i < n; i++) {
		sxx += ((double)i - tbar) * ((double)i - tbar);
		sxy += ((double)i - tbar) * (y[i] - ybar);
	}
	double b = sxy / sxx, a = ybar - b * tbar;
	for (size_t i = 0; i < n; i++) {
		double e = y[i] - (a + b * (double)i);
		sse += e * e;
	}
	f->sigma = sqrt(sse / (double)(n - 2));
	f->slope = b;
	for (size_t h = 0; h < horizon; h++) {
		double t = (double)(n + h);
		double se = f->sigma * sqrt(1 + 1.0 / (double)n + (t - tbar) * (t - tbar) / sxx);
		f->mean[h] = a + b * t;
		f->lo[h] = f->mean[h] - Z95 * se;
		f->hi[h] = f->mean[h] + Z95 * se;
	}
	crossings(f, capacity);
	return 0;
}

struct hw_state {
	double level, trend, sse;
	double *season;
};

/* Start from a line through the whole seasons of y (its slope from the
 * means of the first and the last season, which a least-squares fit
 * would bias by the part of the wave that correlates with time) and the
 * mean residual of each phase of the season, then run the smoothing over
 * y; the final state in st (season[i % m] is the one for point i), sse
 * of the one-step errors.  A start from the whole series keeps a noisy
 * first season from steering the trend. */
static void hw_run(const double *y, size_t n, size_t m, double a, double b, double g, struct hw_state *st)
{
	size_t k = n / m, whole = k * m;
	double first = 0, last = 0, all = 0;
	for (size_t i = 0; i < m; i++) {
		first += y[i];
		last += y[(k - 1) * m + i];
	}
	for (size_t i = 0; i < whole; i++)
		all += y[i];
	double slope = (last - first) / (double)m / (double)((k - 1) * m);
	double icpt = all / (double)whole - slope * (double)(whole - 1) / 2;
	for (size_t j = 0; j < m; j++) {
		double sum = 0;
		size_t cnt = 0;
		for (size_t i = j; i < n; i += m, cnt++)
			sum += y[i] - (icpt + slope * (double)i);
		st->season[j] = sum / (double)cnt;
	}
	st->level = icpt - slope;
	st->trend = slope;
	st->sse = 0;
	for (size_t i = 0; i < n; i++) {
		double s = st->season[i % m];
		double e = y[i] - (st->level + st->trend + s);
		st->sse += e * e;
		double level = a * (y[i] - s) + (1 - a) * (st->level + st->trend);
		st->trend = b * (level - st->level) + (1 - b) * st->trend;
		st->season[i % m] = g * (y[i] - level) + (1 - g) * s;
		st->level = level;
	}
}

int forecast_holt_winters(struct forecast *f, const double *y, size_t n, size_t period, size_t horizon,
			  double capacity)
{
	static const double grid[] = {0.001, 0.01, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9};
	const size_t ng = sizeof(grid) / sizeof(grid[0]);
	size_t m = period;
	if (m < 2 || n < 2 * m || n > FORECAST_MAX_N || horizon > FORECAST_MAX_HORIZON ||
	    forecast_alloc(f, FORECAST_HOLT_WINTERS, horizon) < 0)
		return -1;
	struct hw_state st = {.season = malloc(sizeof(double) * m)};
	if (!st.season) {
		forecast_release(f);
		return -1;
	}
	double best = INFINITY;
	for (size_t i = 0; i < ng; i++)
		for (size_t j = 0; j < ng; j++)
			for (size_t k = 0; k < ng; k++) {
				hw_run(y, n, m, grid[i], grid[j], grid[k], &st);
				if (st.sse < best) {
					best = st.sse;
					f->alpha = grid[i], f->beta = grid[j], f->gamma = grid[k];
				}
			}
	hw_run(y, n, m, f->alpha, f->beta, f->gamma, &st);
	f->sigma = sqrt(st.sse / (double)(n - 1));
	f->slope = st.trend;
	double var_sum = 1; /* 1 + sum of c_j^2 for j < h */
	for (size_t h = 1; h <= horizon; h++) {
		double mean = st.level + (double)h * st.trend + st.season[(n + h - 1) % m];
		double se = f->sigma * sqrt(var_sum);
		f->mean[h - 1] = mean;
		f->lo[h - 1] = mean - Z95 * se;
		f->hi[h - 1] = mean + Z95 * se;
		double c =
			f->alpha * (1 + (double)h * f->beta) + (h % m == 0 ? f->gamma * (1 - f->alpha) : 0);
		var_sum += c * c;
	}
	free(st.season);
	crossings(f, capacity);
	return 0;
}
