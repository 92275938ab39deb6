/*
 * json_out.h - JSON fragments the API routes share: ids, optional strings,
 * the request row of GET /api/v1/traces and what an answer counted
 * (docs/API.md).
 * All are written through the structural writer (core/json_write.h).
 */
#ifndef HOTPATH_SERVER_JSON_OUT_H
#define HOTPATH_SERVER_JSON_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/json_write.h"
#include "store/store.h"

/* one request of GET /api/v1/traces, as an object */
void json_out_request(struct json_w *w, const struct request_row *r);
/* its members, written into an object the caller has open */
void json_out_request_members(struct json_w *w, const struct request_row *r);
/* What an answer to `q` counts, as a string value: "edge requests" (each
 * trace once, q->edge_only), "entry spans of SERVICE", "entry spans of
 * endpoint ENDPOINT" or "entry spans of each service"
 * (filters_count_requests). */
void json_out_counted(struct json_w *w, const struct store_query *q);
/* {"SERVICE":"VERSION"|null, ...}: the pairs of version=latest. */
void json_out_versions(struct json_w *w, const struct service_version *v, size_t n);
/* the member "resolved_versions":{...} when `q` asked for version=latest,
 * else nothing. */
void json_out_resolved_versions(struct json_w *w, const struct store_query *q);

/* A stored object `json` (well-formed, ending in '}') with the member
 * "time_ms" added last: an entry of an object's history or of the audit. */
void json_out_doc_with_time(struct json_w *w, const char *json, uint64_t time_ns);

#endif
