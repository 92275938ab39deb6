/*
 * critpath.h - the critical path of one trace: the chain of spans that
 * determined its end-to-end latency.
 *
 * From the end of the root (the longest one when parents are missing), walk
 * back through the child that finished last before the current point, then
 * on from that child's start; the time between children is the parent's own.
 * Children are clipped to their parent's interval (and to the point where
 * the walk is).  A child that seems to start before its predecessor on the
 * path ended, by less than the resolution of its start time (SDKs that take
 * starts in whole milliseconds, analyze/timeres.h), starts where that one
 * ended.  Asynchronous children do not block their parent and are
 * never on the path: a CONSUMER span under a PRODUCER, a span that
 * FOLLOWS_FROM its parent (a link to the parent with opentracing.ref_type =
 * follows_from), and a span that starts at or after its parent's end.
 *
 * Not owned here: the tree (analyze/spantree.h), presenting the path.
 * Ownership: the result array is the caller's to free().
 */
#ifndef HOTPATH_ANALYZE_CRITPATH_H
#define HOTPATH_ANALYZE_CRITPATH_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/spantree.h"

struct critpath_step {
	size_t span;		  /* index into the tree's span array */
	uint64_t contribution_ns; /* the span's own time on the path */
};

/*
 * The path of a built tree, in order: the root first, then each span after
 * its parent, siblings in time order.  The contributions add up to the
 * root's duration.  Returns 0 with *steps = NULL and *n = 0 for no spans.
 */
int critpath_compute(const struct spantree *t, struct critpath_step **steps, size_t *n);

/* 1 if span `kid` runs asynchronously to its parent `parent`. */
int critpath_is_async(const struct span *parent, const struct span *kid);

#endif
