/*
 * access.c - who may call what: the check every routed request passes
 * before its body is read (http.h http_access_check).
 *
 * In order: the Host header (against DNS rebinding), the Origin of a
 * state-changing call (against cross-site requests), then the caller: an
 * API key (Authorization: Bearer, or X-Hotpath-Key) or the dashboard's
 * session cookie, whose state-changing calls also carry the session's
 * CSRF token in X-CSRF-Token; last the role the route needs.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/auth.h"
#include "server/http.h"

static int is_unsafe(const char *method)
{
	return strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "OPTIONS");
}

/* The Origin, if any, names the host the request was sent to. */
static int origin_ok(struct http_request *req, const char *host)
{
	const char *origin = http_header(req, "Origin");
	const char *site = http_header(req, "Sec-Fetch-Site");
	if (!origin)
		return !site || !strcmp(site, "same-origin") || !strcmp(site, "none");
	const char *p = strstr(origin, "://");
	if (!p || !host)
		return 0;
	p += 3;
	return strcasecmp(p, host) == 0;
}

static const char *bearer(struct http_request *req)
{
	const char *a = http_header(req, "Authorization");
	if (a && !strncasecmp(a, "Bearer ", 7)) {
		a += 7;
		while (*a == ' ')
			a++;
		return a;
	}
	return http_header(req, "X-Hotpath-Key");
}

/* The value of cookie `name` in the Cookie header, copied to out. */
static int cookie(struct http_request *req, const char *name, char *out, size_t outlen)
{
	const char *c = http_header(req, "Cookie");
	size_t n = strlen(name);
	while (c && *c) {
		while (*c == ' ' || *c == ';')
			c++;
		size_t m = strcspn(c, ";");
		if (m > n && !strncmp(c, name, n) && c[n] == '=') {
			snprintf(out, outlen, "%.*s", (int)(m - n - 1), c + n + 1);
			return 0;
		}
		c += m;
	}
	return -1;
}

int http_session_cookie(struct http_request *req, char sid[80])
{
	return cookie(req, "hotpath_session", sid, 80);
}

static void set_actor(struct http_request *req, const struct auth_principal *p)
{
	snprintf(req->actor, sizeof(req->actor), "%s", p->name);
	req->actor_role = p->role;
}

static int refuse(struct http_request *req, enum refusal why, int status, const char *code, const char *msg)
{
	http_refused(req->srv, why, "%s %s: %s", req->method, req->url, msg);
	http_error(req, status, code, "%s", msg);
	if (status == 401)
		req->res.www_auth = "Bearer realm=\"hotpath\"";
	return -1;
}

/* The caller from its key or session: 0 found, 1 no credentials, -1
 * refused (answer in req->res). */
static int identify(struct http_request *req, int unsafe)
{
	struct auth_principal p;
	const char *token = bearer(req);
	char sid[80], csrf[65];
	if (token && *token) {
		if (auth_token_check(req->srv->auth, token, &p) < 0)
			return refuse(req, REFUSE_AUTH_INVALID, 401, "unauthorized",
				      "unknown or revoked API key");
		set_actor(req, &p);
		return 0;
	}
	if (http_session_cookie(req, sid) < 0)
		return 1;
	if (auth_session_find(req->srv->auth, sid, &p, csrf) < 0)
		return refuse(req, REFUSE_AUTH_INVALID, 401, "unauthorized",
			      "the session has expired or its key was revoked: sign in again");
	const char *sent = http_header(req, "X-CSRF-Token");
	if (unsafe && (!sent || !auth_str_equal(sent, csrf)))
		return refuse(req, REFUSE_CSRF, 403, "forbidden",
			      "a state-changing call of a session needs its X-CSRF-Token header");
	set_actor(req, &p);
	return 0;
}

static enum auth_role needed_role(const struct http_request *req)
{
	switch (req->route->access) {
	case ROUTE_PUBLIC: return AUTH_NONE;
	case ROUTE_INGEST: return AUTH_INGEST;
	case ROUTE_VIEWER: return AUTH_VIEWER;
	case ROUTE_ADMIN: return AUTH_ADMIN;
	default: return is_unsafe(req->method) ? AUTH_ADMIN : AUTH_VIEWER;
	}
}

int http_access_check(struct http_request *req)
{
	struct server *srv = req->srv;
	const char *host = http_header(req, "Host");
	int open = auth_live_keys(srv->auth) == 0, unsafe = is_unsafe(req->method);
	if ((open || srv->opt.allowed_hosts) && !auth_host_allowed(host, srv->opt.allowed_hosts))
		return refuse(req, REFUSE_HOST, 403, "forbidden",
			      "this Host is not served here (set --allowed-host to add a name)");
	if (unsafe && !origin_ok(req, host))
		return refuse(req, REFUSE_ORIGIN, 403, "forbidden",
			      "cross-origin request refused: the Origin is not this server");
	enum auth_role need = needed_role(req);
	if (open) {
		if (!srv->open_allowed && need != AUTH_NONE)
			return refuse(req, REFUSE_AUTH_MISSING, 401, "unauthorized",
				      "no API key exists yet: create one with `hotpath keys create`");
		snprintf(req->actor, sizeof(req->actor), "open");
		req->actor_role = AUTH_ADMIN;
		return 0;
	}
	int rc = identify(req, unsafe && need != AUTH_NONE);
	if (need == AUTH_NONE) {
		if (rc < 0) { /* a public route: a stale credential is no refusal */
			buf_reset(&req->res.body);
			req->res.status = 0;
			req->res.www_auth = NULL;
		}
		return 0;
	}
	if (rc < 0)
		return -1;
	if (rc > 0)
		return refuse(req, REFUSE_AUTH_MISSING, 401, "unauthorized",
			      "an API key is needed: Authorization: Bearer KEY, or sign in");
	if (!auth_role_allows((enum auth_role)req->actor_role, need)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "the key '%s' (role %s) may not do this: it needs role %s",
			 req->actor, auth_role_name((enum auth_role)req->actor_role), auth_role_name(need));
		return refuse(req, REFUSE_ROLE, 403, "forbidden", msg);
	}
	return 0;
}
