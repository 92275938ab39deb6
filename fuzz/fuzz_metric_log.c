/*
 * fuzz_metric_log.c - the metric log's row decoder (store/metric_log.h) on
 * arbitrary bytes: it reads only inside the row, and every point it hands
 * over has its bounds and bucket counts inside the row too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/metric_log.h"

struct row_bytes {
	const uint8_t *data;
	size_t size;
	uint64_t sum;
};

static int touch(void *arg, const struct metric_log_point *p)
{
	struct row_bytes *s = arg;
	if (p->bounds) {
		if (p->bounds < s->data || p->bounds + (size_t)p->n_bounds * 8 > s->data + s->size)
			abort();
		for (size_t i = 0; i < (size_t)p->n_bounds * 8; i++)
			s->sum += p->bounds[i];
	}
	if (p->buckets) {
		if (p->buckets < s->data || p->buckets + ((size_t)p->n_bounds + 1) * 8 > s->data + s->size)
			abort();
		for (size_t i = 0; i < ((size_t)p->n_bounds + 1) * 8; i++)
			s->sum += p->buckets[i];
	}
	s->sum += p->time_ns + (uint64_t)p->series + p->count;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly `size` bytes, so that a read past the row is caught */
	uint8_t *row = malloc(size ? size : 1);
	if (size)
		memcpy(row, data, size);
	struct row_bytes s = {row, size, 0};
	metric_log_decode(row, size, touch, &s);
	free(row);
	return 0;
}
