/*
 * spanflame.h - a trace's spans merged into a flame tree (profile/folded.h)
 * by path of (service, span name) from its roots, with each span's time and
 * own time (the part no child covers).
 *
 * Not owned here: the tree and its outputs (profile/folded.h), finding
 * the spans (query/traces.h, or a route for one trace).
 */
#ifndef HOTPATH_ANALYZE_SPANFLAME_H
#define HOTPATH_ANALYZE_SPANFLAME_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/batch.h"
#include "profile/folded.h"

/*
 * Merge the `n` spans of one trace, numbered `no` by the caller, into side
 * `side` of the span tree `t` (folded_tree_init_spans()).  The spans are
 * borrowed for the call; their strings may be remembered by address until
 * folded_spans_forget().
 */
void spanflame_add_trace(struct folded_tree *t, const struct span *spans, size_t n, int side, uint64_t no);

#endif
