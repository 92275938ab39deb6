/*
 * bench.h - what the benchmark programs share: a clock in seconds and the
 * median of repeated runs.
 */
#ifndef HOTPATH_BENCH_BENCH_H
#define HOTPATH_BENCH_BENCH_H

#include <stdlib.h>
#include <time.h>

static inline double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sorts `v` in place. */
static inline double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

#endif
