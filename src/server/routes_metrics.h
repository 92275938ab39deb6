/*
 * routes_metrics.h - the resource kinds of GET /api/v1/performance/heatmap
 * (cpu, memory, pool, db), answered by routes_metrics.c for routes_perf.c,
 * and the resources beside the slow-operation statistics.
 */
#ifndef HOTPATH_SERVER_ROUTES_METRICS_H
#define HOTPATH_SERVER_ROUTES_METRICS_H

#include "core/buf.h"
#include "core/json_write.h"
#include "server/http.h"

/* Whether `kind` is one of the resource kinds. */
int metrics_heatmap_kind(const char *kind);
/* Answer the heatmap of a resource kind (HTTP_DONE). */
int metrics_heatmap(struct http_request *req, const char *kind);
/* The member "currentResources":{...} of the object open in `w`: the newest
 * resource measures of the request's filters (the last 5 minutes before its
 * end), for the statistics answer. */
void metrics_put_current_resources(struct http_request *req, struct json_w *w);

#endif
