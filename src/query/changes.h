/*
 * changes.h - the data behind change over time: request durations of a
 * selection (a version, an environment), the p95 and error-rate series of
 * each service and endpoint, the first appearance of each version of a
 * service in an environment (a deployment), and the throughput series of a
 * service.
 *
 * Owns what is read for these answers, from the rollups (series, first
 * appearances) and request rows (durations); the statistics on them are in
 * analyze/abtest.h, analyze/changepoint.h and analyze/forecast.h.
 *
 * Ownership: results live in the caller's arena.  Errors: 0, or a negative
 * class of core/error.h with a message in `err`.
 */
#ifndef HOTPATH_QUERY_CHANGES_H
#define HOTPATH_QUERY_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "store/store.h"

/* Most durations changes_durations() returns. */
#define CHANGES_MAX_SAMPLE 20000

/*
 * Durations in ms of at most `limit` requests matching `q` (edge or entry
 * requests as q says): all of them when they fit, else a sample stratified
 * in time, so that it speaks for the whole range: each of 24 equal slices
 * of the range gives its share of `limit` (by its requests in the
 * rollups), its newest requests.  It reads about `limit` rows, however
 * many match.
 */
int changes_durations(struct store *s, const struct store_query *q, unsigned limit, struct arena *a,
		      double **out, size_t *n, char *err, size_t errlen);

/* Requests matching `q` (its status filter ignored), and the failed ones
 * among them (errors and timeouts), from the rollups: their buckets round
 * the range out to whole minutes (hours past 6 h). */
int changes_counts(struct store *s, const struct store_query *q, uint64_t *total, uint64_t *failed, char *err,
		   size_t errlen);

/* A version's first appearance in an environment: a deployment seen. */
struct changes_first_seen {
	const char *service, *env, *version;
	uint64_t t_ns;	   /* start of the first rollup bucket holding it */
	uint64_t requests; /* in q's range */
};

/* Every (service, env, version) of the requests `q` selects, with the
 * first bucket of `res_s` seconds (60 or 3600) it appears in, by time.
 * Versionless requests are left out. */
int changes_first_seen(struct store *s, const struct store_query *q, unsigned res_s, struct arena *a,
		       struct changes_first_seen **out, size_t *n, char *err, size_t errlen);

/*
 * Deployments seen in q's range: the versions whose first request in an
 * environment falls in [q->from_ns, q->to_ns) and that served no request
 * in the `lookback_ns` before it (read from hour rollups up to the hour of
 * from_ns, minute rollups after).  Times at the resolution of q's range
 * (a minute up to 6 h, else an hour).
 */
int changes_deployments(struct store *s, const struct store_query *q, uint64_t lookback_ns, struct arena *a,
			struct changes_first_seen **out, size_t *n, char *err, size_t errlen);

/* One service's (or one endpoint's) measures on a grid. */
struct changes_series {
	const char *service, *endpoint; /* endpoint NULL: the whole service */
	size_t n;			/* buckets */
	uint64_t t0_ns, step_ns;
	uint64_t *count, *errors; /* requests, and failed ones (errors and timeouts) */
	double *p95_ms;		  /* NaN where a bucket is empty */
	uint64_t total;
	double p95_total_ms; /* over the whole range */
};

/*
 * Series of the requests `q` selects on a grid of `step_s` seconds over
 * its range: one per service, and with `endpoints` one per (service,
 * endpoint) as well (the `top` busiest endpoints of each service, 0: all).
 */
int changes_series_load(struct store *s, const struct store_query *q, unsigned step_s, int endpoints,
			size_t top, struct arena *a, struct changes_series **out, size_t *n, char *err,
			size_t errlen);

/* The endpoints of q's service (q->service required) with requests in q's
 * range, from the rollups; strings in `a`. */
int changes_endpoints(struct store *s, const struct store_query *q, struct arena *a, const char ***out,
		      size_t *n, char *err, size_t errlen);

/* Failed requests of one error type, service and status. */
struct changes_error_group {
	const char *error_type, *service; /* error_type NULL: none recorded */
	uint8_t status;			  /* REQUEST_ERROR or REQUEST_TIMEOUT */
	uint64_t count;
};

/* The failed requests `q` selects, grouped; by count, descending. */
int changes_error_groups(struct store *s, const struct store_query *q, struct arena *a,
			 struct changes_error_group **out, size_t *n, char *err, size_t errlen);

#endif
