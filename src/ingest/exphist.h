/*
 * exphist.h - an OTLP exponential histogram point as explicit buckets, the
 * one histogram form the store and the queries know.
 *
 * Positive bucket i (index offset + i) holds values in (base^(offset+i),
 * base^(offset+i+1)] with base = 2^(2^-scale).  The explicit form: bounds
 * 0, base^offset, ..., base^(offset+n); counts: the zero bucket and every
 * negative value (values <= 0; negative latencies and sizes do not occur),
 * an empty bucket (0, base^offset], the n positive buckets, an empty
 * overflow bucket.  Quantiles interpolated in it are those of the
 * exponential form.
 */
#ifndef HOTPATH_INGEST_EXPHIST_H
#define HOTPATH_INGEST_EXPHIST_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/batch.h"

/* Positive buckets of one point at most. */
#define EXPHIST_MAX_BUCKETS 4096

/* Fill p->bounds, p->bucket_counts, p->n_bounds (in b's arena).  -1 with
 * a message: a scale outside [-10, 20], too many buckets, bounds that
 * overflow a double. */
int exphist_to_explicit(struct batch *b, struct metric_point *p, int32_t scale, uint64_t zero_and_negative,
			int32_t offset, const uint64_t *positive, size_t n, char *err, size_t errlen);

#endif
