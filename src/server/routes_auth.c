/*
 * routes_auth.c - signing the dashboard in and out (/api/v1/session) and
 * the API keys (/api/v1/keys, admin).
 */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/json_doc.h"
#include "server/auth.h"
#include "server/http.h"
#include "core/json_write.h"

#define SESSION_BODY_MAX 4096

static void put_whoami(struct buf *b, struct http_request *req, const char *csrf)
{
	int open = auth_live_keys(req->srv->auth) == 0;
	struct json_w w;
	jw_init(&w, b);
	jw_obj_begin(&w);
	jw_kstr(&w, "mode", open ? "open" : "keys");
	jw_kbool(&w, "signed_in", req->actor[0]);
	if (req->actor[0]) {
		jw_kstr(&w, "name", req->actor);
		jw_kstr(&w, "role", auth_role_name((enum auth_role)req->actor_role));
	}
	if (csrf)
		jw_kstr(&w, "csrf_token", csrf);
	jw_obj_end(&w);
}

/* {"KEY":true|false}: what an action did. */
static void reply_flag(struct http_request *req, const char *key, bool v)
{
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kbool(&w, key, v);
	jw_obj_end(&w);
}

/* GET /api/v1/session: who the caller is, and its session's CSRF token. */
static int get_session(struct http_request *req)
{
	char sid[80], csrf[65];
	struct auth_principal p;
	int has = http_session_cookie(req, sid) == 0 && auth_session_find(req->srv->auth, sid, &p, csrf) == 0;
	put_whoami(http_json(req), req, has ? csrf : NULL);
	return HTTP_DONE;
}

/* The key of a sign-in body {"key": "..."}, copied to out. */
static int body_key(struct http_request *req, char *out, size_t outlen)
{
	struct json_doc d;
	char err[128];
	int rc = -1;
	if (req->body_too_large || req->body.len > SESSION_BODY_MAX)
		return -1;
	if (json_doc_parse(&d, req->body.data ? req->body.data : "", req->body.len, 0, err, sizeof(err)) ==
		    0 &&
	    d.root) {
		const char *k = json_str(json_get(d.root, "key"));
		if (k && strlen(k) < outlen) {
			snprintf(out, outlen, "%s", k);
			rc = 0;
		}
	}
	json_doc_release(&d);
	return rc;
}

/* POST /api/v1/session {"key": KEY}: a session cookie for the dashboard. */
static int post_session(struct http_request *req)
{
	char key[AUTH_TOKEN_MAX + 1], sid[65], csrf[65];
	struct auth_principal p;
	if (body_key(req, key, sizeof(key)) < 0) {
		http_error(req, 400, "bad_request", "the body must be {\"key\": \"hpk_...\"}");
		return HTTP_DONE;
	}
	if (auth_token_check(req->srv->auth, key, &p) < 0) {
		http_refused(req->srv, REFUSE_AUTH_INVALID, "sign-in with an unknown or revoked key");
		http_error(req, 401, "unauthorized", "unknown or revoked API key");
		return HTTP_DONE;
	}
	auth_session_new(req->srv->auth, &p, sid, csrf);
	char *cookie = arena_alloc(&req->arena, 200);
	snprintf(cookie, 200, "hotpath_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", sid,
		 AUTH_SESSION_TTL, req->srv->tls ? "; Secure" : "");
	req->res.set_cookie = cookie;
	snprintf(req->actor, sizeof(req->actor), "%s", p.name);
	req->actor_role = p.role;
	put_whoami(http_json(req), req, csrf);
	return HTTP_DONE;
}

/* DELETE /api/v1/session: sign out. */
static int delete_session(struct http_request *req)
{
	char sid[80];
	if (http_session_cookie(req, sid) == 0)
		auth_session_end(req->srv->auth, sid);
	req->res.set_cookie = "hotpath_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";
	reply_flag(req, "signed_in", false);
	return HTTP_DONE;
}

static void put_key(struct json_w *w, const struct auth_key *k)
{
	jw_obj_begin(w);
	jw_kstr(w, "id", k->id);
	jw_kstr(w, "name", k->name);
	jw_kstr(w, "role", k->role);
	jw_kuint(w, "created_ns", k->created_ns);
	jw_kbool(w, "revoked", k->revoked_ns != 0);
	if (k->revoked_ns)
		jw_kuint(w, "revoked_ns", k->revoked_ns);
	jw_obj_end(w);
}

static int list_keys(struct http_request *req)
{
	struct auth_key *keys;
	size_t n;
	char err[256];
	if (auth_keys_list(req->srv->store, &req->arena, &keys, &n, err, sizeof(err)) < 0) {
		http_error_class(req, ERR_INTERNAL, "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_karr_begin(&w, "keys");
	for (size_t i = 0; i < n; i++)
		put_key(&w, &keys[i]);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* POST /api/v1/keys {"name": N, "role": R}: the token is in this answer only. */
static int create_key(struct http_request *req)
{
	struct json_doc d;
	char err[256], token[AUTH_TOKEN_MAX], id[AUTH_ID_LEN + 1];
	if (req->body_too_large || req->body.len > SESSION_BODY_MAX ||
	    json_doc_parse(&d, req->body.data ? req->body.data : "", req->body.len, 0, err, sizeof(err)) <
		    0 ||
	    !d.root) {
		http_error(req, 400, "bad_request",
			   "the body must be {\"name\": \"...\", \"role\": \"viewer\"}");
		return HTTP_DONE;
	}
	const char *name = json_str(json_get(d.root, "name")), *role = json_str(json_get(d.root, "role"));
	int rc = auth_key_create(req->srv->store, name, role, token, id, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
	} else {
		auth_changed(req->srv->auth);
		struct json_w w;
		jw_init(&w, http_json(req));
		req->res.status = 201;
		jw_obj_begin(&w);
		jw_kstr(&w, "id", id);
		jw_kstr(&w, "name", name);
		jw_kstr(&w, "role", role);
		jw_kstr(&w, "token", token);
		jw_obj_end(&w);
	}
	json_doc_release(&d);
	return HTTP_DONE;
}

/* DELETE /api/v1/keys/ID (or NAME): revoke. */
static int revoke_key(struct http_request *req)
{
	char err[256];
	const char *id = req->url + strlen("/api/v1/keys/");
	int rc = auth_key_revoke(req->srv->store, id, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	auth_changed(req->srv->auth);
	reply_flag(req, "revoked", true);
	return HTTP_DONE;
}

const struct route auth_routes[] = {
	{"GET", "/api/v1/session", get_session, NULL, 0, ROUTE_PUBLIC},
	{"POST", "/api/v1/session", post_session, NULL, 1, ROUTE_PUBLIC},
	{"DELETE", "/api/v1/session", delete_session, NULL, 0, ROUTE_PUBLIC},
	{"GET", "/api/v1/keys", list_keys, NULL, 0, ROUTE_ADMIN},
	{"POST", "/api/v1/keys", create_key, NULL, 1, ROUTE_ADMIN},
	{"DELETE", "/api/v1/keys/*", revoke_key, NULL, 0, ROUTE_ADMIN},
	{NULL, NULL, NULL, NULL, 0, 0},
};
