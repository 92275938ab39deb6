/*
 * metric_log.h - metric points on their way into metric_points and
 * metric_hours (the embedded store only; docs/internals/STORE.md, "Metric
 * points and hours").
 *
 * A write's points are committed as one row of `metric_log`: its bytes
 * appended at the end of one table, so that a commit writes a page or two
 * whatever the number of series the points belong to.  Every second or so
 * (with the latency rollups' flush, or at once when a reader waits) the
 * writer folds the whole log into `metric_points` (one row per point, in
 * series order) and `metric_hours` (each touched hour read once, its
 * points added in memory in the order they were written, then written
 * once), and empties the log, in one transaction.  A crash loses nothing:
 * the log rows that were not folded are folded when the store opens.
 *
 * Internal to src/store; called by the writer thread only.
 */
#ifndef HOTPATH_STORE_METRIC_LOG_H
#define HOTPATH_STORE_METRIC_LOG_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ingest/batch.h"

/* Append to `out` the log bytes of `n` points, point i of series
 * series[i].  Nothing is kept: `out` owns the bytes. */
void metric_log_encode(struct buf *out, const struct metric_point *points, const int64_t *series, size_t n);

/* Decode one log row into `fn` calls, in the order the points were
 * written.  The pointers of a point (bounds, buckets, as bytes: they may
 * be unaligned) point into `data`.  -1 when the bytes are not a log row. */
struct metric_log_point {
	int64_t series;
	uint64_t time_ns;
	double value;			 /* gauge and sum */
	uint64_t count;			 /* histogram */
	double sum;			 /* histogram */
	uint32_t n_bounds;		 /* histogram */
	const uint8_t *bounds, *buckets; /* histogram: NULL when the point had none */
	int histogram;
};
typedef int (*metric_log_fn)(void *arg, const struct metric_log_point *p);
int metric_log_decode(const uint8_t *data, size_t len, metric_log_fn fn, void *arg);

/* Fold the whole log into metric_points and metric_hours and empty it,
 * inside the caller's transaction.  Returns the points folded, or -1 with
 * `err` set (the caller rolls back; the log is then as it was). */
long metric_log_fold(sqlite3 *db, char *err, size_t errlen);

#endif
