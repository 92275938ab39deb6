/*
 * exphist.c - exponential histogram points as explicit buckets (see exphist.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ingest/exphist.h"

int exphist_to_explicit(struct batch *b, struct metric_point *p, int32_t scale, uint64_t zero_and_negative,
			int32_t offset, const uint64_t *positive, size_t n, char *err, size_t errlen)
{
	if (scale < -10 || scale > 20) {
		snprintf(err, errlen, "exponential histogram scale %d outside [-10, 20]", scale);
		return -1;
	}
	if (n > EXPHIST_MAX_BUCKETS) {
		snprintf(err, errlen, "exponential histogram with %zu buckets, at most %d", n,
			 EXPHIST_MAX_BUCKETS);
		return -1;
	}
	/* base^k = 2^(k * 2^-scale) */
	double step = ldexp(1.0, -scale);
	double *bounds = arena_alloc(&b->arena, (n + 2) * sizeof(double));
	uint64_t *counts = arena_zalloc(&b->arena, (n + 3) * sizeof(uint64_t));
	bounds[0] = 0;
	for (size_t i = 0; i <= n; i++) {
		bounds[i + 1] = exp2(((double)offset + (double)i) * step);
		if (!isfinite(bounds[i + 1]) || !(bounds[i + 1] > bounds[i])) {
			snprintf(err, errlen,
				 "exponential histogram bounds out of range (offset %d, scale %d)", offset,
				 scale);
			return -1;
		}
	}
	counts[0] = zero_and_negative;
	for (size_t i = 0; i < n; i++)
		counts[i + 2] = positive[i];
	p->n_bounds = (uint32_t)(n + 2);
	p->bounds = bounds;
	p->bucket_counts = counts;
	return 0;
}
