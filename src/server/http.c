/*
 * http.c - request lifecycle on libmicrohttpd (see http.h).
 *
 * libmicrohttpd calls access_handler several times per request: once with
 * the headers, then once per chunk of body, then once with no data.  We
 * route on the first call (so a 404/405/413 never reads a body), collect the
 * body into a bounded buffer, and run the handler on the last call.  A
 * suspended request comes back through the same handler after http_resume().
 */
#include "server/http.h"
#include "core/json_write.h"

#include <microhttpd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "server/auth.h"
#include "server/conn_watch.h"
#include "server/status.h"

enum { ST_NEW, ST_BODY, ST_SUSPENDED, ST_RESUMED, ST_READING };

static const struct route *route_tables[] = {ingest_routes, perf_routes,     flame_routes, profile_routes,
					     slow_routes,   analysis_routes, watch_routes, change_routes,
					     fleet_routes,  metrics_routes,  query_routes, auth_routes,
					     static_routes};

const char *const refusal_names[REFUSE_N] = {
	"auth_missing", "auth_invalid", "role",	   "csrf",  "origin",	     "host",	  "connection_limit",
	"timeout",	"inflight",	"framing", "reads", "query_timeout", "read_only",
};

void http_refused(struct server *srv, enum refusal why, const char *fmt, ...)
{
	static _Atomic uint64_t last_log_ns[REFUSE_N];
	uint64_t n = atomic_fetch_add(&srv->ctr.refused[why], 1) + 1, now = clock_now_ns();
	uint64_t last = atomic_load(&last_log_ns[why]);
	if (now - last < 10000000000ull || !atomic_compare_exchange_strong(&last_log_ns[why], &last, now))
		return;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("http: refused (%s, %llu so far): %s", refusal_names[why], (unsigned long long)n, msg);
}

int http_charge(struct http_request *req, size_t n)
{
	struct server *srv = req->srv;
	int64_t total = atomic_fetch_add(&srv->bytes_in_flight, (int64_t)n) + (int64_t)n;
	int64_t others = total - (int64_t)(req->charged + n);
	if (total > (int64_t)srv->opt.max_inflight && others > 0) { /* one request alone always may */
		atomic_fetch_sub(&srv->bytes_in_flight, (int64_t)n);
		return ERR_BUSY;
	}
	req->charged += n;
	return 0;
}

static int path_matches(const struct route *r, const char *url)
{
	size_t n = strlen(r->path);
	if (n && r->path[n - 1] == '*')
		return strncmp(url, r->path, n - 1) == 0 && url[n - 1];
	return strcmp(url, r->path) == 0;
}

/* The route for method + url; *path_known tells a 405 from a 404 (the
 * static files' catch-all route does not make a path known). */
static const struct route *find_route(const char *method, const char *url, int *path_known)
{
	*path_known = 0;
	for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]); t++)
		for (const struct route *r = route_tables[t]; r->path; r++) {
			if (!path_matches(r, url))
				continue;
			if (!strcmp(r->method, method) ||
			    (!strcmp(method, "HEAD") && !strcmp(r->method, "GET")))
				return r;
			if (strcmp(r->path, "/*"))
				*path_known = 1;
		}
	return NULL;
}

const char *http_query(struct http_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_header(struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void http_reply(struct http_request *req, int status, const char *content_type, const void *body, size_t len)
{
	req->res.status = status;
	req->res.content_type = content_type;
	buf_reset(&req->res.body);
	buf_append(&req->res.body, body, len);
}

void http_error(struct http_request *req, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A failure while the store's server is unreachable is that: the class
	 * is lost on the way up through query/ and analyze/, the state is not. */
	char why[256];
	if (status == 500 && req->srv && req->srv->store &&
	    store_unreachable(req->srv->store, why, sizeof(why))) {
		status = 503;
		code = "store_unavailable";
		if (!req->res.retry_after)
			req->res.retry_after = "5";
		if (!strstr(msg, why)) { /* the store first, then what failed */
			char rest[sizeof(msg)];
			memcpy(rest, msg, sizeof(rest));
			size_t n = strlen(why);
			memcpy(msg, why, n + 1);
			if (n + 4 < sizeof(msg))
				snprintf(msg + n, sizeof(msg) - n, " (%.*s)", (int)(sizeof(msg) - n - 4),
					 rest);
		}
	}
	req->res.status = status;
	req->res.content_type = "application/json";
	buf_reset(&req->res.body);
	struct json_w w;
	jw_init(&w, &req->res.body);
	jw_obj_begin(&w);
	jw_kobj_begin(&w, "error");
	jw_kstr(&w, "code", code);
	jw_kstr(&w, "message", msg);
	jw_obj_end(&w);
	jw_obj_end(&w);
}

/* A class of failure (core/error.h) as an HTTP status and an error code:
 * the table of server/status.c. */
void http_error_class(struct http_request *req, int cls, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	const struct err_status *st = err_status_of(cls);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (st->retry_after && !req->res.retry_after) /* 503: say when to come back */
		req->res.retry_after = st->retry_after;
	http_error(req, st->http, st->code, "%s", msg);
}

struct buf *http_json(struct http_request *req)
{
	req->res.status = 200;
	req->res.content_type = "application/json";
	buf_reset(&req->res.body);
	return &req->res.body;
}

void http_suspend(struct http_request *req)
{
	req->state = ST_SUSPENDED;
	MHD_suspend_connection(req->conn);
}

void http_resume(struct http_request *req)
{
	MHD_resume_connection(req->conn);
}

const unsigned http_read_bucket_ms[HTTP_READ_BUCKETS] = {5,   10,   25,	  50,	100,  250,
							 500, 1000, 2500, 5000, 10000};

/* An API read's time from its first byte to its answer, for /metrics. */
static void count_read(struct server *srv, const struct http_request *req)
{
	if (strcmp(req->method, "GET") != 0 || strncmp(req->url, "/api/", 5) != 0)
		return;
	uint64_t ns = clock_now_ns() - req->started_ns;
	int i = 0;
	while (i < HTTP_READ_BUCKETS && ns > (uint64_t)http_read_bucket_ms[i] * NS_PER_MS)
		i++;
	atomic_fetch_add(&srv->ctr.reads_le[i], 1);
	atomic_fetch_add(&srv->ctr.reads_ns, ns);
}

static enum MHD_Result send_response(struct http_request *req)
{
	struct server *srv = req->srv;
	struct http_response *res = &req->res;
	if (!res->status)
		http_error(req, 500, "internal", "the handler produced no response");
	struct MHD_Response *r =
		MHD_create_response_from_buffer(res->body.len, res->body.data, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (res->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
	if (res->retry_after)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, res->retry_after);
	if (res->allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, res->allow);
	if (res->set_cookie)
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, res->set_cookie);
	if (res->www_auth)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, res->www_auth);
	if (res->close)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)res->status, r);
	MHD_destroy_response(r);
	count_read(srv, req);
	if (res->status < 300)
		atomic_fetch_add(&srv->ctr.responses_2xx, 1);
	else if (res->status < 500)
		atomic_fetch_add(&srv->ctr.responses_4xx, 1);
	else
		atomic_fetch_add(&srv->ctr.responses_5xx, 1);
	return ret;
}

static void busy(struct http_request *req);

/*
 * A change (any method but GET and HEAD) of a route that writes, while the
 * store is read-only on a full or failing disk: 503 with Retry-After and
 * the reason, before the route runs.  Ingest answers the same in its own
 * format; signing in and out keep the sessions in memory meanwhile.
 */
static int refuse_read_only(struct http_request *req)
{
	const struct route *r = req->route;
	if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD") || r->no_write ||
	    r->access == ROUTE_INGEST || r->access == ROUTE_PUBLIC)
		return 0;
	struct store_stats st;
	store_get_stats(req->srv->store, &st);
	if (st.writer_ready)
		return 0;
	http_refused(req->srv, REFUSE_READ_ONLY, "%s %s: %s", req->method, req->url, st.writer_error);
	req->res.retry_after = "30";
	http_error_class(
		req, ERR_BUSY,
		"the store is read-only (%s): nothing was changed; retry once the disk takes writes again",
		st.writer_error[0] ? st.writer_error : "the disk is full or failing");
	return 1;
}

static enum MHD_Result run_handler(struct http_request *req)
{
	if (req->over_budget) {
		busy(req);
		return send_response(req);
	}
	if (refuse_read_only(req))
		return send_response(req);
	/* Routes that take a body answer 413 in their own format. */
	if (req->body_too_large && !req->route->body) {
		http_error(req, 413, "payload_too_large", "request body exceeds the limit of %zu bytes",
			   req->srv->opt.max_body);
		return send_response(req);
	}
	/* A read of the API runs on a read thread (readers.c): a slow query
	 * does not hold this thread, which serves other clients' ingest too. */
	if (req->srv->readers && req->route->access != ROUTE_PUBLIC && !req->route->body &&
	    !strcmp(req->route->method, "GET")) {
		req->state = ST_READING;
		MHD_suspend_connection(req->conn);
		if (readers_submit(req->srv->readers, req) == 0)
			return MHD_YES;
		http_refused(req->srv, REFUSE_READS, "%s %s: %d reads waiting", req->method, req->url,
			     HTTP_READ_QUEUE_MAX);
		req->res.retry_after = "1";
		http_error_class(req, ERR_BUSY, "too many reads waiting; retry later");
		MHD_resume_connection(req->conn);
		return MHD_YES;
	}
	if (req->route->handle(req) == HTTP_SUSPEND)
		return MHD_YES;
	return send_response(req);
}

/* Counts what a header says, over all its occurrences. */
struct framing {
	int n_cl, conflicting, te, te_other;
	const char *cl;
};

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct framing *f = cls;
	(void)kind;
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		if (f->n_cl++ && strcmp(f->cl, value ? value : ""))
			f->conflicting = 1;
		f->cl = value ? value : "";
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		f->te++;
		if (!value || strcasecmp(value, "chunked"))
			f->te_other = 1;
	}
	return MHD_YES;
}

/* Framing a proxy in front could read otherwise is refused: 400, close. */
static int framing_check(struct http_request *req)
{
	struct framing f = {0};
	const char *why = NULL;
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, framing_header, &f);
	if (f.conflicting)
		why = "conflicting Content-Length headers";
	else if (f.n_cl && f.te)
		why = "Content-Length together with Transfer-Encoding";
	else if (f.te_other || f.te > 1)
		why = "a Transfer-Encoding other than one \"chunked\"";
	else if (f.n_cl && (!*f.cl || strspn(f.cl, "0123456789") != strlen(f.cl)))
		why = "a Content-Length that is not a number";
	if (!why)
		return 0;
	http_refused(req->srv, REFUSE_FRAMING, "%s %s: %s", req->method, req->url, why);
	http_error(req, 400, "bad_request", "ambiguous request framing: %s", why);
	req->res.close = 1;
	return -1;
}

static void busy(struct http_request *req)
{
	req->res.retry_after = "1";
	http_error_class(req, ERR_BUSY, "too many request bytes in memory now; retry later");
	req->res.close = 1;
}

/* A declared length: over the limit, the body is read and dropped before
 * the 413; over what the in-flight budget has left, 503 before reading.
 * No memory is reserved up front: the buffer grows with what arrives. */
static int body_admit(struct http_request *req)
{
	struct server *srv = req->srv;
	const char *cl =
		MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long content_length = cl ? strtoull(cl, NULL, 10) : 0;
	req->state = ST_BODY;
	if (content_length > srv->opt.max_body) {
		req->body_too_large = 1;
		return 0;
	}
	/* The declared length is counted at once (nothing is allocated for
	 * it): requests let in can finish, the others wait their turn. */
	if (content_length && http_charge(req, (size_t)content_length) < 0) {
		http_refused(srv, REFUSE_INFLIGHT, "%s %s: %llu bytes declared, %lld in flight", req->method,
			     req->url, content_length, (long long)atomic_load(&srv->bytes_in_flight));
		busy(req);
		return -1;
	}
	return 0;
}

static enum MHD_Result nul_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
			       const char *value, size_t value_size)
{
	const char **bad = cls;
	(void)kind;
	if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
		*bad = key;
		return MHD_NO;
	}
	return MHD_YES;
}

/* A NUL byte (%00) in a query parameter would cut it short: refused. */
static int args_check(struct http_request *req)
{
	const char *bad = NULL;
	MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, nul_arg, &bad);
	if (!bad)
		return 0;
	http_error(req, 400, "bad_request", "the query parameter '%.64s' contains a NUL byte (%%00)", bad);
	return -1;
}

/* A body still arriving after the body timeout: the connection is closed. */
static int body_late(struct http_request *req)
{
	uint64_t limit = (uint64_t)req->srv->opt.body_timeout_s * 1000000000ull;
	if (clock_now_ns() - req->started_ns <= limit)
		return 0;
	http_refused(req->srv, REFUSE_TIMEOUT, "%s %s: the body took over %u s", req->method, req->url,
		     req->srv->opt.body_timeout_s);
	return 1;
}

/* The watch of a connection (conn_watch.h), or NULL. */
static struct conn_slot *conn_slot_of(struct server *srv, struct MHD_Connection *conn)
{
	if (!srv->cw)
		return NULL;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version, const char *upload_data,
				      size_t *upload_size, void **con_cls)
{
	struct server *srv = cls;
	struct http_request *req = *con_cls;

	if (!req) {
		struct conn_slot *slot = conn_slot_of(srv, conn);
		if (slot) /* the headers are all in: no header deadline until the answer */
			conn_watch_headers_done(srv->cw, slot);
		req = xcalloc(1, sizeof(*req));
		req->srv = srv;
		req->conn = conn;
		req->method = method;
		req->url = url;
		arena_init(&req->arena);
		buf_init(&req->body, srv->opt.max_body);
		buf_init(&req->res.body, BUF_NO_LIMIT);
		*con_cls = req;
		req->started_ns = clock_now_ns();
		atomic_fetch_add(&srv->in_flight, 1);
		atomic_fetch_add(&srv->ctr.requests, 1);

		int path_known;
		req->route = find_route(method, url, &path_known);
		if (!req->route) {
			if (path_known) {
				http_error(req, 405, "method_not_allowed", "%s is not allowed on %s", method,
					   url);
				req->res.allow = "GET, POST";
			} else {
				http_error(req, 404, "not_found", "no such endpoint: %s", url);
			}
			return send_response(req);
		}
		if (framing_check(req) < 0 || http_access_check(req) < 0 || args_check(req) < 0 ||
		    body_admit(req) < 0)
			return send_response(req);
		req->state = ST_BODY;
		return MHD_YES;
	}

	if (req->state == ST_BODY && *upload_size) {
		atomic_fetch_add(&srv->ctr.bytes_in, *upload_size);
		if (body_late(req))
			return MHD_NO; /* closes the connection */
		/* Past the budget mid-body (a chunked body declares no length): the
		 * rest is read and dropped, and the answer is 503. */
		size_t need = req->body.len + *upload_size; /* past what was declared: chunked */
		if (!req->body_too_large && !req->over_budget && need > req->charged &&
		    http_charge(req, need - req->charged) < 0) {
			http_refused(srv, REFUSE_INFLIGHT, "%s %s: bytes in flight over %zu", method, url,
				     srv->opt.max_inflight);
			req->over_budget = 1;
			buf_release(&req->body);
		}
		if (!req->body_too_large && !req->over_budget &&
		    buf_append(&req->body, upload_data, *upload_size) < 0) {
			req->body_too_large = 1;
			buf_release(&req->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->state == ST_BODY)
		return run_handler(req);
	if (req->state == ST_READING) {
		req->state = ST_RESUMED;
		return send_response(req);
	}
	if (req->state == ST_SUSPENDED) {
		req->state = ST_RESUMED;
		if (req->route->finish)
			req->route->finish(req);
		return send_response(req);
	}
	return MHD_YES; /* a response is already queued */
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct http_request *req = *con_cls;
	struct conn_slot *slot = conn_slot_of(srv, conn);
	if (slot) /* a kept-alive connection's next headers have the deadline */
		conn_watch_request_done(srv->cw, slot);
	if (!req)
		return;
	atomic_fetch_sub(&srv->bytes_in_flight, (int64_t)req->charged);
	arena_release(&req->arena);
	buf_release(&req->body);
	buf_release(&req->res.body);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->in_flight, 1);
}

/* Split "host:port" / "[v6]:port" / ":port". */
static int parse_listen(const char *listen, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon = strrchr(listen, ':');
	if (!colon || !colon[1])
		return -1;
	const char *h = listen;
	size_t hl = (size_t)(colon - listen);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= hostlen || strlen(colon + 1) >= portlen)
		return -1;
	memcpy(host, h, hl);
	host[hl] = 0;
	snprintf(port, portlen, "%s", colon + 1);
	return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct server *srv = cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = 0;
	if (strstr(line, "connection limit")) /* overall, or per client address */
		http_refused(srv, REFUSE_CONN_LIMIT, "%s", line);
	else if (strstr(line, "closed") || strstr(line, "disconnected")) /* a client gone, or shut */
		log_debug("http: %s", line); /* by the header deadline: a line each would flood the log */
	else
		log_warn("http: %s", line);
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			      enum MHD_ConnectionNotificationCode code)
{
	struct server *srv = cls;
	atomic_fetch_add(&srv->ctr.connections, code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
	if (!srv->cw)
		return;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = ci ? conn_watch_add(srv->cw, ci->connect_fd) : NULL;
	} else if (*socket_context) { /* closed: before libmicrohttpd closes the socket */
		conn_watch_remove(srv->cw, *socket_context);
		*socket_context = NULL;
	}
}

/* The watch closed a connection whose headers were late. */
static void headers_late(void *arg)
{
	struct server *srv = arg;
	http_refused(srv, REFUSE_TIMEOUT, "a connection sent no complete request headers within %u s: closed",
		     srv->opt.header_timeout_s);
}

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return 0;
}

static void option_defaults(struct server_options *o)
{
	if (!o->max_body)
		o->max_body = HTTP_DEFAULT_MAX_BODY;
	if (!o->threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o->threads = n > 0 ? (unsigned)n : 2;
	}
	if (!o->max_connections)
		o->max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
	if (!o->max_per_ip)
		o->max_per_ip = HTTP_DEFAULT_MAX_PER_IP;
	if (!o->idle_timeout_s)
		o->idle_timeout_s = HTTP_DEFAULT_IDLE_TIMEOUT;
	if (!o->body_timeout_s)
		o->body_timeout_s = HTTP_DEFAULT_BODY_TIMEOUT;
	if (!o->max_inflight)
		o->max_inflight = HTTP_DEFAULT_MAX_INFLIGHT;
	if (!o->header_timeout_s)
		o->header_timeout_s = HTTP_DEFAULT_HEADER_TIMEOUT;
}

/* One bounded step of deleting expired sessions' documents (auth.h), by
 * the instance that runs the background jobs. */
static void sessions_tick(void *arg)
{
	struct server *srv = arg;
	char err[256];
	if (!store_lease_held(srv->store))
		return;
	long n = auth_sessions_purge(srv->store, HTTP_SESSIONS_PURGE_MAX, err, sizeof(err));
	if (n < 0)
		log_warn("auth: expired sessions not deleted this time: %s", err);
	else if (n)
		log_info("auth: %ld expired session(s) deleted from the store", n);
}

/* Open mode (no keys) only on loopback unless forced; said loudly. */
static int access_mode(struct server *srv, const struct sockaddr *sa, char *err, size_t errlen)
{
	srv->auth = auth_new(srv->store);
	if (!srv->auth)
		return errf(err, errlen, "libsodium could not start");
	if (!auth_loaded(srv->auth))
		return errf(err, errlen, "cannot read the API keys from the store");
	size_t keys = auth_live_keys(srv->auth);
	srv->open_allowed = is_loopback(sa) || srv->opt.insecure_open;
	if (keys) {
		log_info("access: %zu API key(s): every API call needs a key or a signed-in session", keys);
		return 0;
	}
	if (!srv->open_allowed)
		return errf(err, errlen,
			    "refusing to listen on %s without API keys: anyone could read and change "
			    "everything; create a key (`hotpath keys create --data DIR --name NAME "
			    "--role admin`) or pass --insecure-open",
			    srv->opt.listen);
	log_warn("access: OPEN MODE: no API key exists, anyone who reaches %s may read, write and "
		 "change everything%s",
		 srv->opt.listen, is_loopback(sa) ? " (loopback only)" : " (forced with --insecure-open)");
	return 0;
}

/* The PEM files of --tls-cert / --tls-key, read into srv's buffers. */
static int read_tls(const struct server_options *o, struct buf *cert, struct buf *key, char *err,
		    size_t errlen)
{
	buf_init(cert, 1 << 20);
	buf_init(key, 1 << 20);
	if (buf_read_file(cert, o->tls_cert) < 0 || buf_putc(cert, 0) < 0)
		return errf(err, errlen, "cannot read the TLS certificate %s", o->tls_cert);
	if (buf_read_file(key, o->tls_key) < 0 || buf_putc(key, 0) < 0)
		return errf(err, errlen, "cannot read the TLS key %s", o->tls_key);
	return 0;
}

static struct MHD_Daemon *start_daemon(struct server *srv, const struct sockaddr *sa, const struct buf *cert,
				       const struct buf *key)
{
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const struct server_options *o = &srv->opt;
	if (sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (srv->tls)
		flags |= MHD_USE_TLS;
	return MHD_start_daemon(flags, 0, NULL, NULL, access_handler, srv, MHD_OPTION_EXTERNAL_LOGGER,
				mhd_log, srv, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE,
				o->threads, MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv,
				MHD_OPTION_NOTIFY_CONNECTION, notify_connection, srv,
				MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
				o->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip,
				srv->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert->data,
				MHD_OPTION_HTTPS_MEM_KEY, key->data, MHD_OPTION_END);
}

int server_start(struct server *srv, struct store *st, const struct server_options *o, char *err,
		 size_t errlen)
{
	char host[256], port[16];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
	struct buf cert = {0}, key = {0};
	memset(srv, 0, sizeof(*srv));
	srv->store = st;
	srv->opt = *o;
	option_defaults(&srv->opt);
	srv->tls = o->tls_cert && o->tls_key;
	if (!o->tls_cert != !o->tls_key)
		return errf(err, errlen, "--tls-cert and --tls-key go together");
	if (srv->tls && !MHD_is_feature_supported(MHD_FEATURE_TLS))
		return errf(err, errlen,
			    "this libmicrohttpd has no TLS: use a reverse proxy (docs/CONFIG.md)");
	if (parse_listen(o->listen, host, sizeof(host), port, sizeof(port)) < 0)
		return errf(err, errlen, "invalid listen address '%s' (want HOST:PORT)", o->listen);
	int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0)
		return errf(err, errlen, "cannot resolve listen address '%s': %s", o->listen,
			    gai_strerror(rc));
	if (access_mode(srv, ai->ai_addr, err, errlen) < 0 ||
	    (srv->tls && read_tls(o, &cert, &key, err, errlen) < 0)) {
		freeaddrinfo(ai);
		buf_release(&cert);
		buf_release(&key);
		auth_free(srv->auth);
		srv->auth = NULL;
		return -1;
	}
	srv->readers = readers_start(srv->opt.threads, HTTP_READ_QUEUE_MAX);
	/* slots for the connection limit and a few being closed meanwhile */
	srv->cw =
		conn_watch_start(srv->opt.header_timeout_s, srv->opt.max_connections + 64, headers_late, srv);
	if (!srv->cw)
		log_warn("http: no header deadline (its thread did not start); the idle timeout still holds");
	srv->daemon = start_daemon(srv, ai->ai_addr, &cert, &key);
	freeaddrinfo(ai);
	buf_release(&cert);
	buf_release(&key);
	if (!srv->daemon) {
		conn_watch_stop(srv->cw);
		srv->cw = NULL;
		readers_stop(srv->readers);
		srv->readers = NULL;
		auth_free(srv->auth);
		srv->auth = NULL;
		return errf(err, errlen,
			    "cannot listen on %s (address in use, not permitted, or bad TLS files?)",
			    o->listen);
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : 0;
	sessions_tick(srv);
	srv->sessions_job = (struct ticker)TICKER_INIT;
	if (ticker_start_job(&srv->sessions_job, "sessions", HTTP_SESSIONS_PURGE_S, sessions_tick, srv, err,
			     errlen) < 0)
		log_warn("auth: expired sessions are deleted only at start-up: %s", err);
	log_info("http: at most %u connections, %u per client address; idle timeout %u s, header timeout "
		 "%u s, body timeout %u s; %zu bytes of bodies in flight",
		 srv->opt.max_connections, srv->opt.max_per_ip, srv->opt.idle_timeout_s,
		 srv->opt.header_timeout_s, srv->opt.body_timeout_s, srv->opt.max_inflight);
	return 0;
}

void server_stop(struct server *srv)
{
	if (!srv->daemon)
		return;
	MHD_socket ls = MHD_quiesce_daemon(srv->daemon);
	/* In-flight requests finish: their writes commit and they get answers. */
	for (int i = 0; i < 500 && atomic_load(&srv->in_flight) > 0; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&srv->in_flight) > 0)
		log_warn("http: stopping with %d requests still open", atomic_load(&srv->in_flight));
	readers_stop(srv->readers); /* the reads still queued run and resume first */
	srv->readers = NULL;
	MHD_stop_daemon(srv->daemon);
	conn_watch_stop(srv->cw); /* after: every connection was removed */
	srv->cw = NULL;
	if (ls != MHD_INVALID_SOCKET)
		close(ls);
	srv->daemon = NULL;
	ticker_stop(&srv->sessions_job);
	auth_free(srv->auth);
	srv->auth = NULL;
}
