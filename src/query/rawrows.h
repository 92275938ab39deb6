/*
 * rawrows.h - the latency answers that rollups cannot give, computed from
 * the raw spans of the store: rollup rows of the requests that pass the
 * filters and a span query (`q=`), and the spans of the newest requests'
 * traces for a phase breakdown (which request rows q= selects is
 * request_rows_match(), query/request_rows.h).
 *
 * A request is an entry span (ingest/semconv.h) annotated as the write path
 * annotates it (ingest/annotate.h), so these rows hold what the rollups of
 * the same requests hold.  With q=, a request counts when its trace
 * satisfies the query (query/spanset.h) from the spans one scan meets; the
 * performance.* marks are derived for spans that lack them
 * (query/perfmarks.h).
 *
 * This module owns the scans and the bounds they keep; the arithmetic is
 * analyze/latency.h's, parsing and printing are the routes'.
 *
 * Ownership: results live in the caller's arena (rows, their strings, the
 * spans and their names), except the rows' sketches, which the caller frees
 * with store_rollups_release().  The query and the filters are borrowed for
 * the call.  Threading: one call runs on the caller's thread; calls on
 * different arenas may run side by side.
 *
 * Errors: 0 on success; -1 with a message (the store failed, counts
 * overflowed); ERR_TOO_MUCH with a message naming the bound passed,
 * which the caller answers as "narrow the range".
 */
#ifndef HOTPATH_QUERY_RAWROWS_H
#define HOTPATH_QUERY_RAWROWS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "analyze/latency.h"
#include "analyze/spanql.h"
#include "core/arena.h"
#include "store/store.h"

/* Requests a q= answer holds until their traces are judged. */
#define RAWROWS_PENDING_MAX 2000000
/* Spans rawrows_request_spans() reads at most. */
#define RAWROWS_MAX_SPANS 1000000
/* A bound passed: the answer needs a narrower range. */

/*
 * Rollup rows, at resolution `res_s` seconds, of the requests of `q`'s
 * range that pass its filters (service, endpoint, env, version, department,
 * intent, status, tool, duration bounds, edge_only) and whose trace `ql`
 * selects (NULL: every trace).  The range is that of store_rollups(): entry
 * spans whose bucket starts in [from rounded down to res_s, to rounded up
 * to a second).  `need_tool`: fill each row's tool (the tool of a span of
 * its trace when the entry span names none); else rows have no tool and
 * the tool filter is not applied.
 *
 * On success *rows (n of them) are built in `a`.  On failure they hold
 * what was built so far, also to be released with store_rollups_release().
 * ERR_TOO_MUCH: more than RAWROWS_PENDING_MAX requests wait for their
 * traces, or more than SPANSET_MAX_TRACES traces have a span ql selects.
 */
int rawrows_load(struct store *st, const struct store_query *q, const struct spanql *ql, unsigned res_s,
		 int need_tool, struct arena *a, struct rollup_row **rows, size_t *n, char *err,
		 size_t errlen);

/* What rawrows_request_spans() found. */
struct rawrows_spans {
	struct latency_span *spans; /* malloc'ed: free() it; names in the arena */
	size_t n;
	int truncated; /* RAWROWS_MAX_SPANS were read before the scan ended */
};

/*
 * The spans of the traces of `rows` (request rows, e.g. the newest of
 * store_search()), from one scan of the blocks of the rows' time span, in
 * the order the scan meets them.  A span is `selected` when it is the entry
 * span of one of the rows and `ql` (NULL: every trace) selects its trace.
 * Stops at RAWROWS_MAX_SPANS (truncated, not an error).  0, -1 with a
 * message, or ERR_TOO_MUCH when the marks of ql hold too many samples.
 */
int rawrows_request_spans(struct store *st, const struct request_row *rows, size_t n, const struct spanql *ql,
			  struct arena *a, struct rawrows_spans *out, char *err, size_t errlen);

#endif
