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
#include "core/ticker.h"
#include "store/store.h"

struct server;
struct auth;
struct http_request;

enum http_result { HTTP_DONE = 0, HTTP_SUSPEND = 1 };

struct http_response {
	int status;
	const char *content_type;
	struct buf body;
	const char *retry_after; /* Retry-After header, or NULL */
	const char *allow;	 /* Allow header for 405, or NULL */
	const char *set_cookie;	 /* Set-Cookie header, or NULL (arena or static) */
	const char *www_auth;	 /* WWW-Authenticate header for 401, or NULL */
	int close;		 /* answer with Connection: close */
};

/* Who may call a route (auth.h roles).  ROUTE_BY_METHOD, the default of a
 * route that says nothing: GET and HEAD need a viewer, anything else an
 * admin.  ROUTE_PUBLIC: anyone (health, the dashboard's files, signing in). */
enum route_access { ROUTE_BY_METHOD = 0, ROUTE_PUBLIC, ROUTE_INGEST, ROUTE_VIEWER, ROUTE_ADMIN };

struct route {
	const char *method; /* "GET", "POST" */
	const char *path;   /* exact, or a prefix when it ends with '*' */
	int (*handle)(struct http_request *req);
	void (*finish)(struct http_request *req); /* after http_resume(), or NULL */
	int body;   /* 1: the route takes a body, and answers req->body_too_large itself */
	int access; /* enum route_access */
	/* 1: a POST/PUT/DELETE that writes nothing, still served while the
	 * store is read-only (every other state-changing route answers 503) */
	int no_write;
};

struct http_request {
	struct server *srv;
	void *conn; /* struct MHD_Connection * */
	const char *method, *url;
	const struct route *route;
	struct arena arena;
	struct buf body;
	int body_too_large; /* the body passed opt.max_body and was dropped */
	int over_budget;    /* the bytes in flight passed opt.max_inflight: dropped, 503 */
	struct http_response res;
	int state;	  /* internal: see http.c */
	int async_status; /* set by the asynchronous work before http_resume() */
	void *route_data; /* free for the route's use */
	uint64_t n_items; /* e.g. spans in an ingest request, for counters */
	char actor[72];	  /* who is calling: the key's name, or "open" (no keys) */
	int actor_role;	  /* enum auth_role of the caller */
	uint64_t started_ns;
	size_t charged; /* bytes this request counts in srv->bytes_in_flight */
};

struct server_options {
	const char *listen;			 /* "127.0.0.1:4318", "[::1]:4318", ":4318" */
	unsigned threads;			 /* worker threads; 0: number of CPUs */
	size_t max_body;			 /* request body limit, before and after decompression */
	unsigned max_connections, max_per_ip;	 /* 0: defaults */
	unsigned idle_timeout_s, body_timeout_s; /* 0: defaults */
	size_t max_inflight;			 /* bytes of bodies in memory at once; 0: default */
	const char *allowed_hosts;		 /* comma-separated names accepted in Host */
	int insecure_open;			 /* allow no keys beyond loopback */
	const char *tls_cert, *tls_key;		 /* PEM files: serve HTTPS */
	unsigned query_timeout_ms;		 /* time limit of an API read; 0: none */
	unsigned header_timeout_s;		 /* a request's headers, at most; 0: default */
};

/* Why requests or connections were refused, counted in /metrics. */
enum refusal {
	REFUSE_AUTH_MISSING,
	REFUSE_AUTH_INVALID,
	REFUSE_ROLE,
	REFUSE_CSRF,
	REFUSE_ORIGIN,
	REFUSE_HOST,
	REFUSE_CONN_LIMIT,
	REFUSE_TIMEOUT,
	REFUSE_INFLIGHT,
	REFUSE_FRAMING,
	REFUSE_READS,
	REFUSE_QUERY_TIMEOUT, /* a read passed --query-timeout: 504 */
	REFUSE_READ_ONLY,     /* a change while the store is read-only: 503 */
	REFUSE_N
};
extern const char *const refusal_names[REFUSE_N];

/* Upper bounds (ms) of the buckets of the API reads' latency in /metrics;
 * a last bucket counts the rest. */
#define HTTP_READ_BUCKETS 11
extern const unsigned http_read_bucket_ms[HTTP_READ_BUCKETS];

struct server_counters {
	_Atomic uint64_t requests, responses_2xx, responses_4xx, responses_5xx;
	/* GETs of /api/: how many took at most each bucket's bound, and all */
	_Atomic uint64_t reads_le[HTTP_READ_BUCKETS + 1], reads_ns;
	_Atomic uint64_t bytes_in, spans_accepted, spans_rejected, points_accepted, busy;
	_Atomic uint64_t refused[REFUSE_N];
	_Atomic int64_t connections; /* open now */
};

struct server {
	struct store *store;
	struct server_options opt;
	void *daemon; /* struct MHD_Daemon * */
	unsigned port;
	_Atomic int in_flight;		 /* requests between first byte and response */
	_Atomic int64_t bytes_in_flight; /* bodies and inflated bodies held now */
	struct server_counters ctr;
	struct auth *auth;
	struct readers *readers;    /* the threads of read routes (readers.c), or NULL */
	struct conn_watch *cw;	    /* the header deadline (conn_watch.h), or NULL */
	int open_allowed;	    /* no keys is allowed: loopback, or forced */
	struct ticker sessions_job; /* deletes expired sessions' documents */
	int tls;
};

#define HTTP_DEFAULT_MAX_CONNECTIONS 4096
#define HTTP_DEFAULT_MAX_PER_IP	     256
#define HTTP_DEFAULT_IDLE_TIMEOUT    15
#define HTTP_DEFAULT_BODY_TIMEOUT    60
#define HTTP_DEFAULT_MAX_INFLIGHT    (256u << 20)
#define HTTP_DEFAULT_QUERY_MS	     30000
#define HTTP_DEFAULT_HEADER_TIMEOUT  10
/* Expired sessions are deleted at start-up and every so often, so many at
 * a time (auth_sessions_purge()). */
#define HTTP_SESSIONS_PURGE_S	600
#define HTTP_SESSIONS_PURGE_MAX 500

/* The threads that run read routes (readers.c): a GET of the API runs
 * there with its connection suspended, then the connection resumes and
 * the answer goes.  submit: -1 when the queue is full (answer 503). */
struct readers;
struct readers *readers_start(unsigned threads, size_t queue_max);
int readers_submit(struct readers *r, struct http_request *req);
/* Runs what is queued, then joins the threads. */
void readers_stop(struct readers *r);
#define HTTP_READ_QUEUE_MAX 256

/* Count a refusal; log it at most once per 10 s per reason. */
void http_refused(struct server *srv, enum refusal why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Charge n more bytes of memory to this request against the in-flight
 * budget; ERR_BUSY (nothing charged) when the budget would pass. */
int http_charge(struct http_request *req, size_t n);
/* The access check of a request whose route is known (access.c): 0 to go
 * on, else the refusal is in req->res. */
int http_access_check(struct http_request *req);

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
/* The dashboard's session id from the Cookie header: 0 found, -1 none. */
int http_session_cookie(struct http_request *req, char sid[80]);
/* A request header, or NULL. */
const char *http_header(struct http_request *req, const char *name);

/* Response helpers: set status, content type and body. */
void http_reply(struct http_request *req, int status, const char *content_type, const void *body, size_t len);
/* {"error":{"code":CODE,"message":MSG}} */
void http_error(struct http_request *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same for a class of failure (core/error.h): its status, code and
 * Retry-After (when none is set yet) from server/status.c's table
 * (ERR_INVALID and ERR_TOO_MUCH 400, ERR_TOO_BIG 413, ERR_BUSY 503,
 * ERR_NOT_FOUND 404, ERR_UNSUPPORTED 501, ERR_TIMEOUT 504, anything else
 * 500). */
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
extern const struct route auth_routes[];     /* /api/v1/session, /api/v1/keys */

#endif
