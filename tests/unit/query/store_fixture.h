/*
 * store_fixture.h - spans and resources written into a store in a temp
 * dir, for the tests of the query and watch layers: traces numbered 1.., span `no`
 * of trace `trace`, times in milliseconds after T0.
 */
#ifndef HOTPATH_TESTS_QUERY_STORE_FIXTURE_H
#define HOTPATH_TESTS_QUERY_STORE_FIXTURE_H

#include <string.h>

#include "ingest/batch.h"
#include "resource_fixture.h"
#include "temp_store.h"

#define MS  1000000ull
#define MIN (60000 * MS)
#define T0  1700000000000000000ull

static inline void trace_id(uint8_t id[16], int trace)
{
	memset(id, 0, 16);
	id[0] = (uint8_t)trace;
	id[15] = 0x5e;
}

/* Span `no` of trace `trace` (1: the entry), child of `parent` (0: none). */
static inline struct span *add_span(struct batch *b, const struct resource *r, int trace, int no, int parent,
				    const char *name, int kind, uint64_t start, uint64_t ms)
{
	struct span *s = batch_add_span(b);
	trace_id(s->trace_id, trace);
	s->span_id[0] = (uint8_t)no;
	s->span_id[7] = (uint8_t)trace;
	if (parent) {
		s->parent_span_id[0] = (uint8_t)parent;
		s->parent_span_id[7] = (uint8_t)trace;
	}
	s->name = name;
	s->kind = (uint8_t)kind;
	s->start_ns = start;
	s->end_ns = start + ms * MS;
	s->resource = r;
	return s;
}

/* Span `s`'s only attribute: `key` = `value`. */
static inline void set_attr(struct batch *b, struct span *s, const char *key, const char *value)
{
	s->attrs = arena_zalloc(&b->arena, sizeof(struct attr));
	s->attrs[0] = (struct attr){.key = key, .type = ATTR_STRING, .v.s = value};
	s->n_attrs = 1;
}

#endif
