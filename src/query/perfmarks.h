/*
 * perfmarks.h - the performance.* attributes a span query reads on spans
 * that do not carry them (docs/QUERY.md, "Performance marks").
 *
 * SDKs that watch slow operations mark a slow span with performance.slow,
 * performance.threshold, performance.slowness_ratio and the process's heap
 * at that time (performance.memory.heap_used_mb).  hotpath derives the same
 * marks for every span, so `q=` finds slow operations whatever the SDK:
 * the slow-operation marks from the thresholds in effect and the span's
 * operation type (analyze/slowops.h), the heap from the metric samples of
 * the span's process in the store.  A span's own attribute always wins.
 *
 * This module owns those derivations and the spanql_ctx that hands them to
 * spanql; it does not parse or evaluate queries (analyze/spanql.h).
 *
 * Ownership: perfmarks_open() fills a caller-owned struct; release it with
 * perfmarks_release().  The context only reads it, so several threads may
 * match with it at once.
 */
#ifndef HOTPATH_QUERY_PERFMARKS_H
#define HOTPATH_QUERY_PERFMARKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "analyze/slowops.h"
#include "analyze/spanql.h"
#include "core/strmap.h"
#include "store/store.h"

/* A heap sample counts for spans ending at most this long after it. */
#define PERFMARKS_HEAP_MAX_AGE_NS (120ull * 1000000000ull)
/* Heap samples one query holds at most. */
#define PERFMARKS_MAX_SAMPLES 2000000

struct perfmarks_sample {
	uint32_t process; /* index of (service, service.instance.id) */
	uint64_t time_ns;
	double bytes;
};

struct perfmarks {
	struct slowops_config cfg;
	struct strmap services; /* the fleet's service names: a call to one is http */
	/* Heap samples by process, then time: v8js.memory.heap.used (summed
	 * over heap spaces) in heap[0], process.memory.usage in heap[1]. */
	struct strmap processes; /* "service\0instance" -> index */
	struct perfmarks_sample *heap[2];
	size_t n_heap[2], cap_heap[2];
	struct spanql_ctx ctx;
};

/*
 * Prepare the marks for spans of [from_ns, to_ns): the thresholds in
 * effect and the fleet's services; the heap samples too when `q` reads a
 * performance.memory.* attribute.  Nothing is read when `q` reads no
 * performance.* attribute.  0, -1 with a message, or ERR_TOO_MUCH when the
 * range holds more than PERFMARKS_MAX_SAMPLES heap samples.
 */
int perfmarks_open(struct perfmarks *pm, struct store *st, const struct spanql *q, uint64_t from_ns,
		   uint64_t to_ns, char *err, size_t errlen);
/* The same with the given thresholds and services (NULL: none), no heap. */
void perfmarks_init(struct perfmarks *pm, const struct slowops_config *cfg, const char *const *services,
		    size_t n_services);
/* Add one heap sample: `metric` is v8js.memory.heap.used or
 * process.memory.usage (others are ignored), `value` in bytes.  Samples of
 * v8js.memory.heap.used at the same time of one process add up (one per
 * heap space).  Call perfmarks_sort() after the last. */
void perfmarks_add_sample(struct perfmarks *pm, const char *metric, const struct resource *res,
			  uint64_t time_ns, double value);
void perfmarks_sort(struct perfmarks *pm);
void perfmarks_release(struct perfmarks *pm);

/* The context for spanql: NULL-safe (a NULL pm gives NULL). */
const struct spanql_ctx *perfmarks_ctx(const struct perfmarks *pm);

#endif
