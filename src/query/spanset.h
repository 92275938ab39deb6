/*
 * spanset.h - which traces satisfy a span query (`q=`): the first piece of
 * the query layer that turns filters and q= into request rows.
 *
 * A trace satisfies a query when the combination of its spansets holds
 * with each spanset true iff some span of the trace satisfies it
 * (analyze/spanql.h).  A spanset set is built from one pass over spans:
 * each span's mask is OR-ed into its trace's, and only traces with a
 * non-zero mask are tracked, so memory grows with the traces that have a
 * span satisfying some spanset, up to a cap.  A trace never met has the
 * empty mask (`!{ a }` holds for it).
 *
 * Which spans a trace has is what the scan met: the spans stored in the
 * blocks that overlap the scanned range.  Spans of a trace written apart
 * from it, after the range, are not seen.
 *
 * This module owns the masks and the scan that fills them; it does not
 * parse queries nor decide which requests an answer lists
 * (query/request_rows.h).
 * Ownership: a struct spanset is the caller's; spanset_release() frees
 * what it holds.  The query and context must outlive it.
 */
#ifndef HOTPATH_QUERY_SPANSET_H
#define HOTPATH_QUERY_SPANSET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "analyze/spanql.h"
#include "core/idmap.h"
#include "store/store.h"

/* Traces one set tracks at most, by default. */
#define SPANSET_MAX_TRACES 1000000
/* Returned when the cap is passed: the caller asks to narrow the range. */

struct spanset {
	const struct spanql *q;
	const struct spanql_ctx *ctx;
	struct idmap ids; /* trace id -> index in masks */
	uint64_t *masks;
	size_t n, cap, max;
	int too_many;
};

/* An empty set for `q` (NULL: every trace matches); `max` traces at most
 * (0: SPANSET_MAX_TRACES). */
void spanset_init(struct spanset *set, const struct spanql *q, const struct spanql_ctx *ctx, size_t max);
/* OR span `sp` into its trace.  0, or ERR_TOO_MUCH once more than `max`
 * traces are tracked (the set is then incomplete). */
int spanset_add(struct spanset *set, const struct span *sp);
/* Whether trace `trace_id` satisfies the query, from the spans added. */
int spanset_has(const struct spanset *set, const uint8_t trace_id[16]);
void spanset_release(struct spanset *set);

/* What spanset_build() reads. */
struct spanset_scan {
	uint64_t from_ns, to_ns; /* blocks overlapping [from_ns, to_ns) */
	/* Only these traces (NULL: all): the others' spans are not decoded. */
	int (*keep_trace)(void *arg, const uint8_t trace_id[16]);
	void *keep_trace_arg;
};

/*
 * Fill an initialised set from one scan of the store.  0, -1 with a
 * message, or ERR_TOO_MUCH with a message naming the cap.
 */
int spanset_build(struct spanset *set, struct store *st, const struct spanset_scan *sc, char *err,
		  size_t errlen);

/*
 * The set of the traces of `rows` (request rows): one scan of their time
 * span, from the earliest start to the latest end, reading only their
 * traces.  Returns as spanset_build().
 */
int spanset_of_rows(struct spanset *set, struct store *st, const struct request_row *rows, size_t n,
		    char *err, size_t errlen);

#endif
