/*
 * spantree.h - the parent/child structure of one trace's spans.
 *
 * Spans point to their parent by id; this resolves those ids to indexes and
 * lists each span's children by start time.  A span whose parent is absent
 * (not received, or the span is a root) becomes a root; so does a span in
 * a parent cycle, and a span that would sit deeper than SPANTREE_MAX_DEPTH,
 * so every walk of the tree ends and recursion over it is bounded.
 *
 * Not owned here: what the tree means (critical path: analyze/critpath.h).
 * Ownership: the tree borrows the span array, which must outlive it, and
 * owns its index arrays (spantree_release()).
 */
#ifndef HOTPATH_ANALYZE_SPANTREE_H
#define HOTPATH_ANALYZE_SPANTREE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/batch.h"

#define SPANTREE_NONE	   SIZE_MAX
#define SPANTREE_MAX_DEPTH 512

struct spantree {
	const struct span *spans;
	size_t n;
	size_t *parent;	 /* SPANTREE_NONE for a root */
	size_t *kid_off; /* children of i: kids[kid_off[i] .. kid_off[i + 1]) */
	size_t *kids;	 /* by start time, then index */
	size_t *roots;	 /* by start time, then index */
	size_t n_roots;
};

/* Build the tree of `n` spans (of one trace).  Returns 0. */
int spantree_build(struct spantree *t, const struct span *spans, size_t n);
void spantree_release(struct spantree *t);

/* The root with the longest duration (earliest on ties); SPANTREE_NONE if empty. */
size_t spantree_longest_root(const struct spantree *t);

/*
 * Self time of span i: its duration less the time its children (clipped to
 * it) cover, overlapping children counted once.
 */
uint64_t spantree_self_ns(const struct spantree *t, size_t i);

#endif
