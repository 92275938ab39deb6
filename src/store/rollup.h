/*
 * rollup.h - latency rollups: per minute and per hour, per key, a count, a
 * sum, exact counts per performance tier and a quantile sketch of request
 * durations.
 *
 * A key is one combination of the filter dimensions (service, endpoint,
 * tool, environment, version, department, intent, status class, error
 * type, and whether the requests are their traces' edge), stored as dictionary ids in rollup_keys.  The writer thread feeds
 * every request it commits through rollup_writer_add(), which only updates
 * aggregates in memory; rollup_writer_flush() writes the touched ones, in
 * the same transaction as the requests up to a watermark (meta
 * 'rollup_watermark': the last requests.id rolled up).  So the stored
 * rollups are always exactly the roll-up of the requests up to the
 * watermark, and rollup_catch_up() adds whatever came after it (at start-up,
 * or after a failed transaction).  Queries merge sketches: their cost grows
 * with buckets × keys, not with spans.  Internal to the store; see store.h.
 */
#ifndef HOTPATH_STORE_ROLLUP_H
#define HOTPATH_STORE_ROLLUP_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/store.h"

enum { ROLLUP_MINUTE = 60, ROLLUP_HOUR = 3600 };

/* Dictionary ids of a key's dimensions; 0 means absent.  `edge` is the
 * request row's edge flag (1: the entry span that starts its trace). */
struct rollup_dims {
	int64_t service, endpoint, tool, env, version, department, intent, status, error_type, edge;
};

struct rollup_writer;

/* `max_endpoints` per service before new endpoints fold into "other". */
struct rollup_writer *rollup_writer_new(sqlite3 *db, unsigned max_endpoints, char *err, size_t errlen);
void rollup_writer_free(struct rollup_writer *w);
/* The endpoint id to roll up under: `endpoint`, or that of "other" once
 * the service has max_endpoints others. */
int64_t rollup_writer_endpoint(struct rollup_writer *w, int64_t service, int64_t endpoint);
/* Add one request (inside the writer's transaction). */
int rollup_writer_add(struct rollup_writer *w, const struct rollup_dims *d, uint64_t start_ns,
		      uint64_t duration_ns);
/* Write every aggregate touched since the last flush and set the watermark
 * to `last_request_id` (inside the caller's transaction). */
int rollup_writer_flush(struct rollup_writer *w, int64_t last_request_id);
/* Forget cached state after a rolled-back transaction. */
void rollup_writer_forget(struct rollup_writer *w);
/* Requests whose endpoint was folded into "other" so far. */
uint64_t rollup_writer_folded(const struct rollup_writer *w);

/* Roll up the stored requests after the watermark and flush (inside the
 * caller's transaction).  Returns the requests rolled up, or -1. */
long rollup_catch_up(struct rollup_writer *w, char *err, size_t errlen);

/* The query behind store_rollups(). */
int rollup_query(sqlite3 *db, const struct store_query *q, unsigned res, struct arena *a,
		 struct rollup_row **rows, size_t *n, char *err, size_t errlen);

#endif
