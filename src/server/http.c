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

#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/alloc.h"
#include "core/log.h"

enum { ST_NEW, ST_BODY, ST_SUSPENDED, ST_RESUMED };

static const struct route *route_tables[] = {ingest_routes, perf_routes,     flame_routes, profile_routes,
					     slow_routes,   analysis_routes, query_routes, static_routes};

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
	req->res.status = status;
	req->res.content_type = "application/json";
	buf_reset(&req->res.body);
	buf_puts(&req->res.body, "{\"error\":{\"code\":");
	buf_put_json_str(&req->res.body, code);
	buf_puts(&req->res.body, ",\"message\":");
	buf_put_json_str(&req->res.body, msg);
	buf_puts(&req->res.body, "}}");
}

/* A class of failure (core/error.h) as an HTTP status and an error code. */
static const struct {
	int cls, status;
	const char *code;
} class_status[] = {
	{ERR_INVALID, 400, "bad_request"}, {ERR_TOO_MUCH, 400, "bad_request"},
	{ERR_TOO_BIG, 413, "too_large"},   {ERR_BUSY, 503, "busy"},
	{ERR_NOT_FOUND, 404, "not_found"}, {ERR_UNSUPPORTED, 501, "unsupported"},
	{ERR_INTERNAL, 500, "internal"},
};

void http_error_class(struct http_request *req, int cls, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	size_t i = 0;
	while (i + 1 < sizeof(class_status) / sizeof(class_status[0]) && class_status[i].cls != cls)
		i++; /* the last, internal, for anything else */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_error(req, class_status[i].status, class_status[i].code, "%s", msg);
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
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)res->status, r);
	MHD_destroy_response(r);
	if (res->status < 300)
		atomic_fetch_add(&srv->ctr.responses_2xx, 1);
	else if (res->status < 500)
		atomic_fetch_add(&srv->ctr.responses_4xx, 1);
	else
		atomic_fetch_add(&srv->ctr.responses_5xx, 1);
	return ret;
}

static enum MHD_Result run_handler(struct http_request *req)
{
	/* Routes that take a body answer 413 in their own format. */
	if (req->body_too_large && !req->route->body) {
		http_error(req, 413, "payload_too_large", "request body exceeds the limit of %zu bytes",
			   req->srv->opt.max_body);
		return send_response(req);
	}
	if (req->route->handle(req) == HTTP_SUSPEND)
		return MHD_YES;
	return send_response(req);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version, const char *upload_data,
				      size_t *upload_size, void **con_cls)
{
	struct server *srv = cls;
	struct http_request *req = *con_cls;

	if (!req) {
		req = xcalloc(1, sizeof(*req));
		req->srv = srv;
		req->conn = conn;
		req->method = method;
		req->url = url;
		arena_init(&req->arena);
		buf_init(&req->body, srv->opt.max_body);
		buf_init(&req->res.body, BUF_NO_LIMIT);
		*con_cls = req;
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
		const char *cl =
			MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		unsigned long long content_length = cl ? strtoull(cl, NULL, 10) : 0;
		/* Too large: the body is still read (and dropped) before the 413,
		 * or closing with unread input would reset the connection and the
		 * client would never see the answer. */
		if (content_length > srv->opt.max_body)
			req->body_too_large = 1;
		else if (content_length)
			buf_reserve(&req->body, (size_t)content_length); /* one allocation, no copies */
		req->state = ST_BODY;
		return MHD_YES;
	}

	if (req->state == ST_BODY && *upload_size) {
		atomic_fetch_add(&srv->ctr.bytes_in, *upload_size);
		if (!req->body_too_large && buf_append(&req->body, upload_data, *upload_size) < 0) {
			req->body_too_large = 1;
			buf_release(&req->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->state == ST_BODY)
		return run_handler(req);
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
	if (!req)
		return;
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
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = 0;
	log_warn("http: %s", line);
}

int server_start(struct server *srv, struct store *st, const struct server_options *o, char *err,
		 size_t errlen)
{
	char host[256], port[16];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
	memset(srv, 0, sizeof(*srv));
	srv->store = st;
	srv->opt = *o;
	if (!srv->opt.max_body)
		srv->opt.max_body = HTTP_DEFAULT_MAX_BODY;
	if (!srv->opt.threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		srv->opt.threads = n > 0 ? (unsigned)n : 2;
	}
	if (parse_listen(o->listen, host, sizeof(host), port, sizeof(port)) < 0)
		return errf(err, errlen, "invalid listen address '%s' (want HOST:PORT)", o->listen);
	int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0)
		return errf(err, errlen, "cannot resolve listen address '%s': %s", o->listen,
			    gai_strerror(rc));

	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->daemon =
		MHD_start_daemon(flags, 0, NULL, NULL, access_handler, srv, MHD_OPTION_EXTERNAL_LOGGER,
				 mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				 MHD_OPTION_THREAD_POOL_SIZE, srv->opt.threads, MHD_OPTION_NOTIFY_COMPLETED,
				 request_completed, srv, MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!srv->daemon)
		return errf(err, errlen, "cannot listen on %s (address in use or not permitted?)", o->listen);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : 0;
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
	MHD_stop_daemon(srv->daemon);
	if (ls != MHD_INVALID_SOCKET)
		close(ls);
	srv->daemon = NULL;
}
