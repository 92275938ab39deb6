/*
 * values.h - what the filters can choose in a time range: the distinct
 * values of each dimension (store_filter_values(), store_values()) and
 * each service's newest version (store_latest_versions()).
 *
 * Read from data kept as it is written, not from a scan of the request
 * rows: the range's whole hours from the hour rollups, its other whole
 * minutes from the minute rollups (their keys hold every dimension), and
 * the seconds before its first and after its last whole minute from the
 * request rows (two short scans of the time index).  The rollups fold a
 * service's endpoints past --max-endpoints into "other" (rollup.h): a
 * service with an "other" key in the range gets its endpoints from its
 * own request rows (the service index), so the answers are exactly those
 * of a DISTINCT over the request rows.  The caller has waited for the
 * rollups to be flushed (read-your-writes).  Internal to the store; see
 * store.h.
 */
#ifndef HOTPATH_STORE_VALUES_H
#define HOTPATH_STORE_VALUES_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/store.h"

/* The query behind store_filter_values(). */
int values_read(sqlite3 *db, uint64_t from_ns, uint64_t to_ns, unsigned kinds, struct arena *a,
		struct store_dim_values *out, char *err, size_t errlen);

/* The query behind store_latest_versions(): the pairs, not sorted. */
int values_latest(sqlite3 *db, const struct store_query *q, struct arena *a, struct service_version **pairs,
		  size_t *n, char *err, size_t errlen);

#endif
