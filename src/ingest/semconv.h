/*
 * semconv.h - what a span means, read from its semantic-convention
 * attributes: whether it is where a request enters a service, and the
 * request's endpoint, tool, status class and error type.  One place, so the
 * store's rollups and the analysis of raw spans always agree.  The keys are
 * listed in docs/ATTRIBUTES.md.
 *
 * Also owned here: which spans are a framework's wrappers around the
 * handler, and the templating of a URL path (which segments name one
 * object), used for endpoints without an http.route and meant for every
 * other place that groups paths or names by their shape.
 */
#ifndef HOTPATH_INGEST_SEMCONV_H
#define HOTPATH_INGEST_SEMCONV_H

#include "core/arena.h"
#include "ingest/batch.h"

enum request_status { REQUEST_OK = 0, REQUEST_ERROR = 1, REQUEST_TIMEOUT = 2 };

/*
 * A SERVER or CONSUMER span, or a root span that is neither a connection
 * set-up nor a telemetry export (ingest/telemetry.h): where a request enters
 * a service.
 */
int span_is_entry(const struct span *sp);
/*
 * A span of setting up a connection (dns.lookup and the other dns.*,
 * tcp.connect, tls.connect, ipc.connect, net.connect): Node's dns and net
 * instrumentations send them, as roots when no request is under way.  They
 * are part of a call, never a request or an endpoint of their own.
 */
int span_is_connection_setup(const struct span *sp);
/*
 * A span a web framework's instrumentation puts around the application's
 * handler (express's INTERNAL "request handler - /route" and "middleware -
 * ...", fastify's "request" and "handler - ...", koa, hapi, restify,
 * connect, router, nestjs): it holds the handler's work and says nothing of
 * where inside the handler the time goes.  An INTERNAL (or unspecified)
 * span whose instrumentation scope is such a framework's, or that carries
 * one of their type attributes (express.type, fastify.type, ...).
 */
int span_is_framework_wrapper(const struct span *sp);
/* Whether `key` is one of the attributes span_is_framework_wrapper() reads
 * (a reader that decodes only some attributes must keep these). */
int semconv_is_framework_key(const char *key);
/* Timeout when error.type or an ERROR status message says so; else error/ok. */
enum request_status span_request_status(const struct span *sp);
/*
 * "GET /users/{id}" from method + http.route.  Without a route, and when
 * the span name holds no path (plain HTTP servers name it "GET"), the
 * method + the templated path of url.path, else http.target, else the path
 * of url.full / http.url (semconv_path_template).  Such derived paths are
 * bounded: past SEMCONV_MAX_DERIVED_PATHS distinct ones in a service (in
 * this process), its new ones fold into "<method> {other}".  Else the span
 * name.  The result may live in `a`.  Thread-safe.
 */
#define SEMCONV_MAX_DERIVED_PATHS 200
const char *span_endpoint(struct arena *a, const struct span *sp);

/*
 * The placeholder for a path segment or word of n bytes that names one
 * object rather than a kind of thing: "{date}" for a date (2024-01-02, or
 * an RFC 3339 time), "{id}" for a number, a UUID, a hex hash (8+ hex
 * digits, one a digit) or a code mostly of digits ("ORD-12345"), "{token}"
 * for a long base64-like token; NULL for a word to keep ("v2", "items",
 * "api", "2fa", "page-2").
 */
const char *semconv_id_placeholder(const char *s, size_t n);
/*
 * The path of `url` (a path, a target with a query, or a full URL) with
 * each segment semconv_id_placeholder() names replaced and the query and
 * fragment dropped: "/users/123/profile?x=1" -> "/users/{id}/profile".
 * "/" for an empty path.  Writes at most cap - 1 bytes and a NUL; returns
 * the length.
 */
size_t semconv_path_template(char *out, size_t cap, const char *url);
/*
 * The endpoint of a request without an http.route: "<method> <template of
 * url>", or "<method> {other}" once `service` has SEMCONV_MAX_DERIVED_PATHS
 * of them (process-wide, so ingest and the detectors fold alike).  Returns
 * the length written (with a NUL), 0 when the method does not fit `cap`.
 */
size_t semconv_derived_endpoint(char *out, size_t cap, const char *service, const char *method,
				const char *url);
/* The error type of a failed request: error.type, else the type of its first
 * exception event, else "HTTP <code>", else "error"; NULL when `st` is OK. */
const char *span_error_type(struct arena *a, const struct span *sp, enum request_status st);
/* gen_ai.tool.name, else tool.name, else NULL. */
const char *span_tool(const struct span *sp);

#endif
