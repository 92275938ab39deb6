/*
 * http.h - hotpath's HTTP server: libmicrohttpd underneath, routes on top.
 *
 * Each request gets a `struct http_request` with an arena and a bounded
 * body buffer.  A route handler fills `req->res` and returns HTTP_DONE, or
 * starts asynchronous work and returns HTTP_SUSPEND: the connection is
 * suspended until someone calls http_resume(), then the route's `finish`
 * callback fills the response.  Ingest uses this to answer only after the
 * store's commit.
 */
#ifndef HOTPATH_SERVER_HTTP_H
#define HOTPATH_SERVER_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "store/store.h"

struct server;
struct http_request;

enum http_result { HTTP_DONE = 0, HTTP_SUSPEND = 1 };

struct http_response {
	int status;
	const char *content_type;
	struct buf body;
	const char *retry_after; /* Retry-After header, or NULL */
	const char *allow;	 /* Allow header for 405, or NULL */
};

struct route {
	const char *method; /* "GET", "POST" */
	const char *path;   /* exact, or a prefix when it ends with '*' */
	int (*handle)(struct http_request *req);
	void (*finish)(struct http_request *req); /* after http_resume(), or NULL */
	int body; /* 1: the route takes a body, and answers req->body_too_large itself */
};

struct http_request {
	struct server *srv;
	void *conn; /* struct MHD_Connection * */
	const char *method, *url;
	const struct route *route;
	struct arena arena;
	struct buf body;
	int body_too_large; /* the body passed opt.max_body and was dropped */
	struct http_response res;
	int state;	  /* internal: see http.c */
	int async_status; /* set by the asynchronous work before http_resume() */
	void *route_data; /* free for the route's use */
	uint64_t n_items; /* e.g. spans in an ingest request, for counters */
};

struct server_options {
	const char *listen; /* "127.0.0.1:4318", "[::1]:4318", ":4318" */
	unsigned threads;   /* worker threads; 0: number of CPUs */
	size_t max_body;    /* request body limit, before and after decompression */
};

struct server_counters {
	_Atomic uint64_t requests, responses_2xx, responses_4xx, responses_5xx;
	_Atomic uint64_t bytes_in, spans_accepted, spans_rejected, points_accepted, busy;
};

struct server {
	struct store *store;
	struct server_options opt;
	void *daemon; /* struct MHD_Daemon * */
	unsigned port;
	_Atomic int in_flight; /* requests between first byte and response */
	struct server_counters ctr;
};

#define HTTP_DEFAULT_MAX_BODY (64u << 20)

int server_start(struct server *srv, struct store *st, const struct server_options *o, char *err,
		 size_t errlen);
/* Stop accepting, wait (bounded) for in-flight requests, stop the daemon. */
void server_stop(struct server *srv);

/* Suspend the connection; the handler then returns HTTP_SUSPEND. */
void http_suspend(struct http_request *req);
/* Wake a suspended request: the route's finish() runs, then the answer goes. */
void http_resume(struct http_request *req);
/* A query-string parameter, or NULL. */
const char *http_query(struct http_request *req, const char *key);
/* A request header, or NULL. */
const char *http_header(struct http_request *req, const char *name);

/* Response helpers: set status, content type and body. */
void http_reply(struct http_request *req, int status, const char *content_type, const void *body, size_t len);
/* {"error":{"code":CODE,"message":MSG}} */
void http_error(struct http_request *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same for a class of failure (core/error.h): its status and code from
 * one table (ERR_INVALID and ERR_TOO_MUCH 400, ERR_TOO_BIG 413, ERR_BUSY
 * 503, ERR_NOT_FOUND 404, anything else 500). */
void http_error_class(struct http_request *req, int cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Start a 200 JSON response whose body the caller appends to req->res.body. */
struct buf *http_json(struct http_request *req);

/* The routes, defined in routes_*.c. */
extern const struct route ingest_routes[], query_routes[], static_routes[];
extern const struct route perf_routes[];     /* before query_routes: adds q= to GET /api/v1/traces */
extern const struct route flame_routes[];    /* GET /api/v1/flamegraph */
extern const struct route profile_routes[];  /* /api/v1/profiles, Pyroscope's /ingest */
extern const struct route slow_routes[];     /* slow operations, slow requests, bottlenecks */
extern const struct route analysis_routes[]; /* recommendations, their documentation */
extern const struct route watch_routes[];    /* SLOs, alert rules, channels, alerts, audit */
extern const struct route change_routes[];   /* deployments, version gates, regressions */
extern const struct route fleet_routes[];    /* parity, capacity, error patterns */
extern const struct route metrics_routes[];  /* metrics read back, /health/performance */

#endif
