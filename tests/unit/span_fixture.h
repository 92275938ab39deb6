/*
 * span_fixture.h - a span of a small made-up trace, ids built from small
 * numbers, as the tests of the analyses write them.
 */
#ifndef HOTPATH_TESTS_SPAN_FIXTURE_H
#define HOTPATH_TESTS_SPAN_FIXTURE_H

#include <stdint.h>
#include <string.h>

#include "ingest/batch.h"

/* Span `id` of trace `trace` under `parent` (0: none), [ms, ms + len)
 * after `t0_ns`. */
static inline struct span *fixture_span(struct batch *b, const struct resource *r, uint32_t trace, int id,
					int parent, int kind, const char *name, uint64_t t0_ns, double ms,
					double len)
{
	struct span *sp = batch_add_span(b);
	memset(sp, 0, sizeof(*sp));
	memcpy(sp->trace_id, &trace, 4);
	sp->trace_id[15] = 1;
	sp->span_id[0] = (uint8_t)id;
	sp->span_id[7] = 1;
	if (parent) {
		sp->parent_span_id[0] = (uint8_t)parent;
		sp->parent_span_id[7] = 1;
	}
	sp->kind = (uint8_t)kind;
	sp->name = name;
	sp->start_ns = t0_ns + (uint64_t)(ms * 1e6);
	sp->end_ns = sp->start_ns + (uint64_t)(len * 1e6);
	sp->resource = r;
	return sp;
}

#endif
