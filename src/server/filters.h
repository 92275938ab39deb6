/*
 * filters.h - the common query filters of the API, parsed into a
 * store_query.  Every invalid value is an error naming its parameter.
 */
#ifndef HOTPATH_SERVER_FILTERS_H
#define HOTPATH_SERVER_FILTERS_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/spanql.h"
#include "server/http.h"
#include "store/store.h"

/*
 * The dashboard's keywords: env=all is no environment filter; version=latest
 * is resolved here, from the store, into the newest version of each service
 * the other filters select (store_query.latest, store_latest_versions()),
 * so that every query of an answer counts the same versions.  The pairs
 * live in the request's arena.
 */
int filters_parse(struct http_request *req, struct store_query *q, uint64_t now_ns, char *err, size_t errlen);
/* filters_parse() at the current time; a bad filter gets the 400 answer
 * that names it.  -1: the answer is set. */
int filters_parse_req(struct http_request *req, struct store_query *q);
/*
 * Which requests an answer counts (store_query.edge_only): the fleet counts
 * each trace once, at its edge request; a question about one service or
 * endpoint (a filter, or `per_component`: grouped by service or endpoint)
 * counts their entry spans.
 */
void filters_count_requests(struct store_query *q, int per_component);
#define FILTERS_MAX_LIMIT 1000
/* The same filters read as PREFIX+name (e.g. "base.service"), each falling
 * back to the plain name; `limit` may go up to max_limit.  Messages name
 * the prefixed parameter. */
int filters_parse_prefixed(struct http_request *req, const char *prefix, unsigned max_limit,
			   struct store_query *q, uint64_t now_ns, char *err, size_t errlen);

/*
 * The `q=` span query of the request, compiled.  0 with *out = NULL when
 * there is none (absent or blank); 0 with a query the caller frees with
 * spanql_free(); -1 with a message naming `q` and the column at fault.
 */
int filters_parse_q(struct http_request *req, struct spanql **out, char *err, size_t errlen);

/* An integer parameter in [lo, hi], `def` when absent.  -1 when it is
 * invalid: the 400 answer naming it is set. */
int filters_int(struct http_request *req, const char *name, long lo, long hi, long def, long *out);

/* The accepted window of times in parameters: before 2200-01-01; a range
 * of at most 3660 days. */
#define FILTERS_TIME_MAX_NS  7258118400000000000ull
#define FILTERS_RANGE_MAX_NS (3660ull * 86400 * 1000000000)
/* "1700000000000" (unix ms) or RFC 3339 ("2026-11-23T10:00:00.5+01:00"), a
 * date that exists (not 2024-02-30), in the window above. */
int filters_parse_time(const char *s, uint64_t *ns);
/* "15m", "1h", "7d", "30s" -> nanoseconds. */
int filters_parse_range(const char *s, uint64_t *ns);
/* A time as Pyroscope's clients send it: unix seconds, milliseconds,
 * microseconds or nanoseconds told apart by magnitude, RFC 3339, "now",
 * "now-1h" (before `now_ns`); in the window above.  0 or -1. */
int filters_parse_pyroscope_time(const char *s, uint64_t now_ns, uint64_t *ns);

#endif
