/*
 * request_rows.h - the request rows of a selection: the common filters
 * (a struct store_query) and a span query (`q=`) turned into the rows of
 * the requests an answer covers.
 *
 * The filters select rows in the store (store_search()); q= keeps the rows
 * of the traces it selects, judged from one scan of those traces' spans
 * (query/spanset.h), with the performance.* marks derived where spans lack
 * them (query/perfmarks.h).  A ranking that must speak for a whole range
 * takes all of it when it fits the limit, else whole traces sampled across
 * it (request_rows_cover()).
 *
 * This module owns which rows are selected; it does not read the rows'
 * spans into trees (query/request_trees.h) nor parse filters (the routes).
 *
 * Ownership: rows and their strings live in the caller's arena; the query
 * and the span query are only read.  Threading: no state of its own, so
 * any number of threads may select at once (the store's reads are
 * concurrent).
 *
 * Errors: 0, or a negative code with a message in `err`:
 * ERR_INTERNAL (a read failed) or ERR_TOO_MUCH (q= would
 * need more than its bounds: ask the client to narrow the range).
 */
#ifndef HOTPATH_QUERY_REQUEST_ROWS_H
#define HOTPATH_QUERY_REQUEST_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "analyze/spanql.h"
#include "core/arena.h"
#include "store/store.h"

/*
 * The rows matching `q` (its order and limit apply), then with `ql` (NULL:
 * none) only those of the traces it selects, in the same order.  The traces
 * are judged from the spans stored in the blocks that overlap the rows'
 * time span, from the earliest start to the latest end.
 */
int request_rows_select(struct store *st, const struct store_query *q, const struct spanql *ql,
			struct arena *a, struct request_row **rows, size_t *n, char *err, size_t errlen);

/*
 * Which of `rows` belong to a trace `ql` selects: one scan of their traces
 * (query/spanset.h, spanset_of_rows()).  matched[i] (n bytes, the
 * caller's) becomes 1 or 0.  0, ERR_INTERNAL or ERR_TOO_MUCH with a
 * message.
 */
int request_rows_match(struct store *st, const struct spanql *ql, const struct request_row *rows, size_t n,
		       uint8_t *matched, char *err, size_t errlen);

/* Which requests a ranking covers. */
struct request_cover {
	uint64_t in_range; /* requests matching the filters (q= aside) */
	int sampled;	   /* more than the limit: whole traces chosen by id */
};

/*
 * The rows a ranking covers: all of the range (newest first) when the
 * requests matching `q` fit q->limit, else whole traces chosen by trace id
 * from the whole range (a sample of the range, not its newest part, and a
 * request's nested ones come with it): at most q->limit rows, less the
 * last trace's when the limit cuts through it (unless that is all there
 * is).  Sets q->order to the order used.  q= is left to the reader of the
 * rows' traces (request_trees.h), which judges it on the spans it reads.
 */
int request_rows_cover(struct store *st, struct store_query *q, struct arena *a, struct request_cover *cov,
		       struct request_row **rows, size_t *n, char *err, size_t errlen);

#endif
