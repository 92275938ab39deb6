/*
 * requests.h - the seeds' simple request model (POST /api/v1/requests).
 *
 *   {"trace_id": "uuid", "request": {"method", "path", "tool", "duration_ms"},
 *    "spans": [{"name", "duration_ms"}],
 *    "resources": {"cpu_percent", "memory_mb", "db_connections"}}
 *
 * One object, a JSON array of objects, or NDJSON (one object per line).
 * Each record becomes a SERVER root span plus one child span per entry of
 * `spans` laid end to end, and `resources` become gauge data points.  See
 * docs/INGEST.md for the optional fields and the exact mapping.
 * Returns 0, or -1 with a message naming the record and field at fault; a
 * batch is all or nothing.
 */
#ifndef HOTPATH_INGEST_REQUESTS_H
#define HOTPATH_INGEST_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/batch.h"

/* `now_ns` is the receive time, used for records without a timestamp. */
int requests_decode(struct batch *b, const char *data, size_t len, uint64_t now_ns, char *err, size_t errlen);

#endif
