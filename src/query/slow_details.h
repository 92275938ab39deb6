/*
 * slow_details.h - what GET /api/v1/slow-requests shows of each listed
 * request beyond its row: its time by phase (slowops_phases()), its entry
 * span with all its attributes, and its slow spans (at most
 * SLOW_DETAILS_SPANS), the spans as JSON ready to print.  They come from
 * the request's trace (query/request_trees.h), read once: a detail is kept
 * once computed, so the next answers that list the same request (the
 * dashboard asks again and again for the slowest of a day) do not read and
 * decompress its trace again.
 *
 * A kept detail is used only while it would be computed the same:
 *  - the same trace: the blocks holding its spans have the same stamp
 *    (store_trace_stamp(), taken before the trace is read: a part of the
 *    trace written since, or deleted by retention, makes it read again);
 *  - the same thresholds and type rules (their JSON), and the same services
 *    of the fleet (those a call is judged against: seen from a day before
 *    the range to its end); another set forgets every kept detail.
 * A backend without stamps (ClickHouse) keeps none: every answer reads.
 *
 * Bounds: SLOW_DETAILS_MAX_BYTES of kept details in all (strings and
 * record); past it, the least recently used are forgotten down to half.
 *
 * Ownership: the details handed out live in the caller's arena.
 * Thread-safe: one process-wide set of kept details, for the store of the
 * last read.
 */
#ifndef HOTPATH_QUERY_SLOW_DETAILS_H
#define HOTPATH_QUERY_SLOW_DETAILS_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/slowops.h"
#include "core/arena.h"
#include "store/store.h"

/* Slow spans listed per request at most. */
#define SLOW_DETAILS_SPANS 20
/* Kept details at most, in bytes. */
#define SLOW_DETAILS_MAX_BYTES (16u << 20)

struct slow_detail {
	int loaded;			 /* the request was found in its trace: phases are set */
	uint64_t phases[SLOWOPS_PHASES]; /* ns */
	const char *span_json;		 /* the entry span with the performance.slow marks; NULL: not read */
	const char *slow_spans_json;	 /* a JSON array (never NULL) */
};

/*
 * The details of rows[0 .. n) (request rows of `s` found for `q`, whose
 * range bounds the services a call is judged against), with the thresholds
 * `c`, into out[0 .. n) (strings in `a`).  0, or an error class with a
 * message: request_trees_load()'s (ERR_TOO_BIG, ERR_INTERNAL, ERR_TIMEOUT
 * ...); nothing is kept from a failed read.
 */
int slow_details_read(struct store *s, const struct slowops_config *c, const struct store_query *q,
		      const struct request_row *rows, size_t n, struct arena *a, struct slow_detail *out,
		      char *err, size_t errlen);

/* What is kept: details, their bytes, and the details found kept and read
 * since the start (or the last reset). */
struct slow_details_info {
	size_t kept, bytes;
	uint64_t hits, misses;
};
void slow_details_info(struct slow_details_info *out);

/* Keep at most `max_bytes` of details (0: SLOW_DETAILS_MAX_BYTES). */
void slow_details_limit(size_t max_bytes);

/* Forget every kept detail and the counts. */
void slow_details_reset(void);

#endif
