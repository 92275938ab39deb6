/*
 * dbtime.h - database time over time: the time database client spans took,
 * per step and per database or statement shape, read from the stored spans
 * (GET /api/v1/performance/heatmap?kind=db).  A database span is one with
 * db.system.name (or the older db.system); its database is the peer
 * bottleneck_describe() names ("host:port/db"), else its db.namespace,
 * else its system; its statement shape is bottleneck_describe()'s label
 * (the statement with literals replaced, else summary, else operation and
 * collection).
 *
 * Ownership: the answer lives in the caller's arena.  Cost: a scan of the
 * range's spans (their attributes starting "db." and the peer's only),
 * sampled past six hours.
 */
#ifndef HOTPATH_QUERY_DBTIME_H
#define HOTPATH_QUERY_DBTIME_H

#include "query/metrics.h"

/* Lines kept: the ones with the most time. */
#define DBTIME_MAX_LINES 40

struct dbtime_request {
	struct metrics_filter f; /* of the spans' producers */
	uint64_t step_ns;
	int by_statement; /* 0: by database */
	/* Read every N-th block of spans (a sample of whole writes), the
	 * times multiplied by N: 0 picks one block in ceil(range / 6 h), so
	 * that a month costs about what six hours do.  Set to the N used. */
	unsigned every;
};

/* values: ms of database time started in each step (NAN: none); lines by
 * total time, the most first, at most DBTIME_MAX_LINES (truncated: more). */
int dbtime_query(struct store *s, struct dbtime_request *r, struct arena *a, struct metrics_answer *out,
		 char *err, size_t errlen);

#endif
