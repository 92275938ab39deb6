/*
 * semconv.h - what a span means, read from its semantic-convention
 * attributes: whether it is where a request enters a service, and the
 * request's endpoint, tool, status class and error type.  One place, so the
 * store's rollups and the analysis of raw spans always agree.  The keys are
 * listed in docs/ATTRIBUTES.md.
 */
#ifndef HOTPATH_INGEST_SEMCONV_H
#define HOTPATH_INGEST_SEMCONV_H

#include "core/arena.h"
#include "ingest/batch.h"

enum request_status { REQUEST_OK = 0, REQUEST_ERROR = 1, REQUEST_TIMEOUT = 2 };

/* A root span, or a SERVER or CONSUMER span: where a request enters a service. */
int span_is_entry(const struct span *sp);
/* Timeout when error.type or an ERROR status message says so; else error/ok. */
enum request_status span_request_status(const struct span *sp);
/* "GET /users/{id}" from method + http.route, else the span name.  The
 * result may live in `a`. */
const char *span_endpoint(struct arena *a, const struct span *sp);
/* The error type of a failed request: error.type, else the type of its first
 * exception event, else "HTTP <code>", else "error"; NULL when `st` is OK. */
const char *span_error_type(struct arena *a, const struct span *sp, enum request_status st);
/* gen_ai.tool.name, else tool.name, else NULL. */
const char *span_tool(const struct span *sp);

#endif
