/*
 * sketch.h - a mergeable quantile sketch (DDSketch) for latencies.
 *
 * Owns the estimation of quantiles (P50/P95/P99) from a stream of
 * durations, their merging across time and keys, and the compact binary
 * form stored per minute per key.  It does not know about spans, keys or
 * SQLite: callers feed it numbers and store its bytes.
 *
 * Values are durations in nanoseconds (a double, so callers may pass
 * fractions).  Values in [0, 1) ns go to a zero bucket; negative, NaN and
 * infinite values are refused.  Every sketch has the same relative accuracy
 * SKETCH_ALPHA, so any two sketches can be merged.
 *
 * Guarantee: for a q-quantile whose true value x is >= 1 ns and lies above
 * the collapsed low buckets (see SKETCH_MAX_BUCKETS),
 * |sketch_quantile(s, q) - x| <= SKETCH_ALPHA * x.  The rank of the
 * q-quantile of n values is r = ceil(q * n) clamped to [1, n] (1-based), so
 * the true value is the r-th smallest; q = 0 gives min and q = 1 gives max
 * exactly.  Count, min and max are exact; sum is the floating-point sum of
 * the values added.  docs/internals/SKETCH.md has the details.
 *
 * Ownership: struct sketch is caller-owned (on the stack or embedded); the
 * sketch owns its bucket array, freed by sketch_release().  No function
 * keeps a pointer to its arguments.  A sketch is not thread-safe; use one
 * per thread and merge.
 */
#ifndef HOTPATH_CORE_SKETCH_H
#define HOTPATH_CORE_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Relative accuracy of every quantile estimate. */
#define SKETCH_ALPHA 0.01
/* Smallest value with its own bucket (1 ns); below it is the zero bucket. */
#define SKETCH_MIN_VALUE 1.0
/* Most buckets a sketch holds.  Beyond it the lowest buckets are collapsed
 * into one, which only loosens the lowest quantiles.  2048 buckets span
 * 1 ns .. 19 years (17.8 decades), so latencies never get there. */
#define SKETCH_MAX_BUCKETS 2048

struct sketch {
	uint64_t *counts;    /* counts[i - base] is bucket i, for i in [lo, hi] */
	int32_t base;	     /* bucket index of counts[0] */
	int32_t lo, hi;	     /* lowest and highest non-empty bucket; lo > hi when none */
	uint32_t cap;	     /* elements in counts, at most SKETCH_MAX_BUCKETS */
	uint64_t count;	     /* values added, zero bucket included */
	uint64_t zero_count; /* values in [0, SKETCH_MIN_VALUE) */
	double sum, min, max;
};

/* Set up an empty sketch. */
void sketch_init(struct sketch *s);
/* Free the bucket array.  The sketch is empty afterwards. */
void sketch_release(struct sketch *s);
/* Release and init again: forget every value. */
void sketch_clear(struct sketch *s);

/* Add one value (nanoseconds), or `count` times the same value.  Returns 0,
 * or -1 (and adds nothing) for a negative, NaN or infinite value or when
 * the total count would overflow 64 bits. */
int sketch_add(struct sketch *s, double value);
int sketch_add_n(struct sketch *s, double value, uint64_t count);

/* Add every value of src to dst (src is not changed; dst == src doubles
 * it).  Returns 0, or -1 when the total count would overflow (dst is then
 * unchanged). */
int sketch_merge(struct sketch *dst, const struct sketch *src);

/* Estimate of the q-quantile, q in [0, 1], clamped to [min, max].  NaN for
 * an empty sketch or q outside [0, 1]. */
double sketch_quantile(const struct sketch *s, double q);

static inline uint64_t sketch_count(const struct sketch *s)
{
	return s->count;
}

/* Sum, min and max of the values added; 0 for an empty sketch. */
static inline double sketch_sum(const struct sketch *s)
{
	return s->sum;
}

static inline double sketch_min(const struct sketch *s)
{
	return s->count ? s->min : 0;
}

static inline double sketch_max(const struct sketch *s)
{
	return s->count ? s->max : 0;
}

/* How many values are >= v, by the buckets' estimates (sketch_quantile()'s;
 * the highest bucket's is the max): exact when v <= min or v > max, else
 * off by at most the values of the bucket holding v, those within
 * SKETCH_ALPHA of it. */
uint64_t sketch_count_at_least(const struct sketch *s, double v);

/* The relative accuracy of sketch_quantile(): SKETCH_ALPHA. */
double sketch_error_bound(void);

/* Append the compact binary form (docs/internals/SKETCH.md) to `out`.
 * Returns 0, or -1 when out's limit is reached (out is then as before). */
int sketch_encode(const struct sketch *s, struct buf *out);

/* Replace the contents of an initialised sketch with the decoded bytes.
 * The input is untrusted: every length, index and count is checked.
 * Returns 0, or -1 with a message in err (s is then unchanged). */
int sketch_decode(struct sketch *s, const void *data, size_t len, char *err, size_t errlen);
/* Merge an encoded sketch into `dst` without building it: the same checks
 * as sketch_decode(), no allocation for the source.  -1 with a message on
 * corrupt input (dst unchanged) or count overflow. */
int sketch_merge_encoded(struct sketch *dst, const void *data, size_t len, char *err, size_t errlen);

/* Bucket of a value >= SKETCH_MIN_VALUE: the smallest i with
 * value <= gamma^i, gamma = (1 + alpha) / (1 - alpha).  For tests. */
int32_t sketch_index(double value);
/* The estimate reported for bucket i: 2 gamma^i / (gamma + 1). */
double sketch_bucket_value(int32_t index);

#endif
