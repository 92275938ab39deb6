/*
 * traces.h - the spans of the requests that filters and a span query
 * (`q=`) select, read from the store's blocks on several threads, grouped
 * by trace, and merged into a span flame tree (analyze/spanflame.h).
 *
 * The requests are found in the request index (newest first, `limit` of
 * them; with q=, up to TRACES_QL_CANDIDATES whose traces q= then judges),
 * then their traces are read from the blocks of the requests' time span by
 * TRACES_THREADS threads side by side, each over its own blocks, keeping
 * only what a tree needs: ids, times, kind, span name and service, interned
 * (skeleton spans, unless q= needs the attributes).  A trace whose spans
 * arrived in several writes may come in parts from both threads; the
 * parts are put together by trace number.
 *
 * When only the time range selects (the newest `limit` requests), reading
 * the request rows is skipped: the time index gives the start of the
 * oldest of them, and the scan itself sees which traces have a request (an
 * entry span) from then on.
 *
 * This module owns the reading, its bounds and the threads; the tree and
 * its outputs are profile/folded.h's, parsing and printing the routes'.
 *
 * Ownership: struct traces is the caller's, filled by traces_load() and
 * freed by traces_release() (also after a failed load); the trace ids live
 * in the caller's arena.  The filters and the query are borrowed for the
 * call.  Threading: traces_load() and traces_merge_flame() start and join
 * their own threads; a struct traces is not shared while they run.
 */
#ifndef HOTPATH_QUERY_TRACES_H
#define HOTPATH_QUERY_TRACES_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "analyze/spanql.h"
#include "core/arena.h"
#include "profile/folded.h"
#include "store/store.h"

/* Threads that read the blocks, and that merge the traces. */
#define TRACES_THREADS 2
/* Requests a span query examines, for the first `limit` that match. */
#define TRACES_QL_CANDIDATES 100000
/* Spans one load holds at most. */
#define TRACES_MAX_SPANS 4000000

/* The marks of q= over the range hold too many samples (query/perfmarks.h). */
/* The requests' traces hold more than TRACES_MAX_SPANS spans. */

struct traces_part; /* one thread's spans */
struct traces_kept; /* a span kept */

struct traces {
	size_t n;	     /* traces, numbered 0 .. n-1, newest request first */
	const uint8_t **ids; /* ids[no]: the id of trace number no, in the arena */
	uint8_t *merge;	     /* with q=: merge[no] = 1 for the first `limit` traces it selects; else NULL */
	/* private */
	struct traces_part *parts;
	uint32_t *first;
	const struct traces_kept **at;
};

/*
 * The traces of the `q->limit` newest requests that pass the filters of `q`
 * (its order and limit apply) and, with `ql`, of those the query selects.
 * 0; -1 with a message; ERR_TOO_MUCH or ERR_TOO_BIG with a message.
 */
int traces_load(struct traces *t, struct store *st, const struct store_query *q, const struct spanql *ql,
		struct arena *a, char *err, size_t errlen);

/*
 * Merge the loaded traces (those `merge` marks) into side `side` of the
 * span tree `fs` (folded_tree_init_spans()), trace number no as no, each
 * named by its id, on TRACES_THREADS threads.
 */
void traces_merge_flame(const struct traces *t, struct folded_tree *fs, int side);

void traces_release(struct traces *t);

#endif
