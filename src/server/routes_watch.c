/*
 * routes_watch.c - SLOs, alert rules, channels, alerts and the audit trail:
 *
 *   GET/POST          /api/v1/slos, /api/v1/alerts/rules, /api/v1/alerts/channels
 *   GET/PUT/DELETE    /api/v1/slos/{id}, /api/v1/alerts/rules/{id},
 *                     /api/v1/alerts/channels/{id}
 *   GET               /api/v1/alerts, /api/v1/alerts/{id}
 *   POST              /api/v1/alerts/{id}  {"action": "acknowledge" | "silence" | "resolve"}
 *   GET               /api/v1/audit
 *
 * Definitions are checked and kept by src/watch (store documents); every
 * change is an audit event with the object before and after.  A deleted
 * definition is a tombstone document ({"deleted": true}).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "server/actor.h"
#include "server/filters.h"
#include "server/http.h"
#include "server/json_out.h"
#include "watch/snapshot.h"
#include "watch/watch.h"

#define ID_MAX	  64
#define TOMBSTONE WATCH_TOMBSTONE
#define BODY_MAX  (64u << 10) /* a definition or an action: small JSON */

/* ---- the three kinds of definitions ------------------------------------------ */

struct kind {
	const char *store_kind, *object, *prefix, *plural;
	/* Check `o` and append its stored form to `out`; `old` is the stored
	 * JSON it replaces (NULL: a new one). */
	int (*normalize)(const struct json *o, const char *id, const char *old, struct arena *a,
			 struct buf *out, char *err, size_t errlen);
	/* Append the public form of stored JSON `json` (with its status). */
	void (*show)(struct http_request *req, struct buf *b, const char *json);
};

static int norm_slo(const struct json *o, const char *id, const char *old, struct arena *a, struct buf *out,
		    char *err, size_t errlen)
{
	struct slo s;
	int rc = slo_parse(o, id, a, &s, err, errlen);
	if (rc == 0)
		slo_write(out, &s);
	return rc;
}

static int norm_rule(const struct json *o, const char *id, const char *old, struct arena *a, struct buf *out,
		     char *err, size_t errlen)
{
	struct alert_rule r;
	int rc = rule_parse(o, id, a, &r, err, errlen);
	if (rc == 0)
		rule_write(out, &r);
	return rc;
}

/* A channel updated without "url" or "secret" keeps them (answers never
 * show them whole, so a client cannot send them back). */
static int norm_channel(const struct json *o, const char *id, const char *old, struct arena *a,
			struct buf *out, char *err, size_t errlen)
{
	struct notify_channel c, prev;
	struct json_doc d = {0};
	int have_prev = old && json_doc_parse(&d, old, strlen(old), 0, err, errlen) == 0 &&
			channel_parse(d.root, id, NULL, a, &prev, err, errlen) == 0;
	int rc = channel_parse(o, id, have_prev ? &prev : NULL, a, &c, err, errlen);
	json_doc_release(&d);
	if (rc == 0)
		channel_write_stored(out, &c);
	return rc;
}

static void show_plain(struct http_request *req, struct buf *b, const char *json)
{
	buf_puts(b, json);
}

static void show_channel(struct http_request *req, struct buf *b, const char *json)
{
	struct json_doc d;
	struct notify_channel c;
	char err[200];
	if (json_doc_parse(&d, json, strlen(json), 0, err, sizeof(err)) == 0 &&
	    channel_parse(d.root, NULL, NULL, &req->arena, &c, err, sizeof(err)) == 0)
		channel_write_public(b, &c);
	else
		buf_puts(b, "null");
	json_doc_release(&d);
}

static void put_burn(struct json_w *w, const struct slo_status *st)
{
	static const char *const names[SLO_BURN_WINDOWS] = {"5m", "30m", "1h", "6h", "3d"};
	jw_kobj_begin(w, "burn_rates");
	for (size_t i = 0; i < SLO_BURN_WINDOWS; i++)
		jw_kdouble(w, names[i], st->burn.rate[i]);
	jw_obj_end(w);
	jw_kobj_begin(w, "alerts");
	jw_kbool(w, "page", st->alert[0] || st->alert[1]);
	jw_kbool(w, "ticket", st->alert[2]);
	jw_obj_end(w);
}

/* "status":{...}: the SLO's compliance, budget and burn now. */
static void put_slo_status(struct json_w *w, const struct slo_status *st)
{
	jw_kobj_begin(w, "status");
	jw_kuint(w, "good", st->window.good);
	jw_kuint(w, "total", st->window.total);
	jw_kdouble(w, "compliance", st->budget.compliance);
	jw_kobj_begin(w, "budget");
	jw_kdouble(w, "total", st->budget.total);
	jw_kuint(w, "consumed", st->budget.consumed);
	jw_kdouble(w, "remaining", st->budget.remaining);
	jw_kdouble(w, "remaining_pct", 100 * st->budget.remaining_ratio);
	jw_obj_end(w);
	if (st->exhaustion_s >= 0)
		jw_kdouble(w, "exhaustion_s", st->exhaustion_s);
	else
		jw_knull(w, "exhaustion_s");
	put_burn(w, st);
	if (st->exact && st->exact_since_ns)
		jw_kuint(w, "exact_since_ms", st->exact_since_ns / 1000000);
	else if (st->exact)
		jw_knull(w, "exact_since_ms");
	jw_obj_end(w);
}

/* An SLO with its figures now: "status" holds compliance, budget, burn. */
static void show_slo(struct http_request *req, struct buf *b, const char *json)
{
	struct json_doc d;
	struct slo s;
	struct slo_status st;
	char err[256];
	size_t at = b->len;
	buf_puts(b, json);
	/* A list reads one snapshot of the rollups for all (route_data). */
	const struct slo_snapshot *sn = req->route_data;
	if (json_doc_parse(&d, json, strlen(json), 0, err, sizeof(err)) < 0 ||
	    slo_parse(d.root, NULL, &req->arena, &s, err, sizeof(err)) < 0 ||
	    (!sn && watch_slo_status(req->srv->store, &s, clock_now_ns(), &st, err, sizeof(err)) < 0)) {
		json_doc_release(&d);
		return;
	}
	if (sn)
		watch_slo_status_of(sn, &s, &st);
	json_doc_release(&d);
	b->len = at + strlen(json) - 1; /* reopen the object */
	struct json_w w;
	jw_init_inside(&w, b, false, true);
	put_slo_status(&w, &st);
	jw_obj_end(&w);
}

static const struct kind kinds[] = {
	{SLO_KIND, "slo", "/api/v1/slos", "slos", norm_slo, show_slo},
	{RULE_KIND, "rule", "/api/v1/alerts/rules", "rules", norm_rule, show_plain},
	{CHANNEL_KIND, "channel", "/api/v1/alerts/channels", "channels", norm_channel, show_channel},
};

static const struct kind *kind_of(struct http_request *req)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);
		if (!strncmp(req->url, kinds[i].prefix, n) && (req->url[n] == '/' || !req->url[n]))
			return &kinds[i];
	}
	return NULL;
}

static int id_ok(const char *id, size_t n)
{
	return n && n <= ID_MAX &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") >= n;
}

/* The {id} after the kind's prefix, or NULL (and a 404 is set). */
static const char *path_id(struct http_request *req, const struct kind *k)
{
	const char *p = req->url + strlen(k->prefix) + 1;
	size_t n = strlen(p);
	if (!id_ok(p, n)) {
		http_error(req, 404, "not_found", "no such %s: %.80s", k->object, req->url);
		return NULL;
	}
	return arena_strndup(&req->arena, p, n);
}

/* The stored JSON of (kind, id), NULL if none or deleted. */
static const char *load_one(struct http_request *req, const struct kind *k, const char *id, int *rc,
			    char *err, size_t errlen)
{
	struct store_record *rows;
	size_t n;
	*rc = store_docs(req->srv->store, k->store_kind, id, &req->arena, &rows, &n, err, errlen);
	if (*rc < 0 || !n || !strcmp(rows[0].json, TOMBSTONE))
		return NULL;
	return rows[0].json;
}

/*
 * The stored definition named by the URL less its `suffix` ("/burndown"):
 * its id in *id and its JSON parsed into `d` (release `d` in every case).
 * Returns 0; 1 when a 404 for the path is set; or an error class with `err`.
 */
static int load_def(struct http_request *req, const struct kind *k, const char *suffix, struct json_doc *d,
		    const char **id, char *err, size_t errlen)
{
	int rc;
	req->url = arena_strndup(&req->arena, req->url, strlen(req->url) - strlen(suffix));
	*id = path_id(req, k);
	if (!*id)
		return 1;
	const char *json = load_one(req, k, *id, &rc, err, errlen);
	if (rc == 0 && !json)
		rc = (snprintf(err, errlen, "no such %s: %s", k->object, *id), ERR_NOT_FOUND);
	if (rc == 0 && json_doc_parse(d, json, strlen(json), 0, err, errlen) < 0)
		rc = ERR_INTERNAL;
	return rc;
}

static int list_defs(struct http_request *req)
{
	const struct kind *k = kind_of(req);
	struct store_record *rows;
	size_t n;
	char err[256];
	int rc = store_docs(req->srv->store, k->store_kind, NULL, &req->arena, &rows, &n, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	struct slo_snapshot sn;
	if (k->show == show_slo && n) {
		if ((rc = slo_snapshot_take(&sn, req->srv->store, clock_now_ns(), err, sizeof(err))) < 0) {
			slo_snapshot_release(&sn);
			http_error_class(req, rc, "%s", err);
			return HTTP_DONE;
		}
		req->route_data = &sn;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_karr_begin(&w, k->plural);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(rows[i].json, TOMBSTONE))
			continue;
		struct buf *b = jw_value_buf(&w);
		if (b)
			k->show(req, b, rows[i].json);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	if (req->route_data) {
		slo_snapshot_release(&sn);
		req->route_data = NULL;
	}
	return HTTP_DONE;
}

/* GET /api/v1/slos/{id}/burndown: the budget spent hour by hour. */
static int slo_burndown(struct http_request *req)
{
	const struct kind *k = kind_of(req);
	char err[256];
	const char *id;
	struct json_doc d = {0};
	struct slo s;
	struct slo_burndown bd;
	int rc = load_def(req, k, "/burndown", &d, &id, err, sizeof(err));
	if (rc == 1)
		return HTTP_DONE;
	if (rc == 0 && slo_parse(d.root, id, &req->arena, &s, err, sizeof(err)) < 0)
		rc = ERR_INTERNAL;
	if (rc == 0)
		rc = watch_slo_burndown(req->srv->store, &s, clock_now_ns(), &req->arena, &bd, err,
					sizeof(err));
	json_doc_release(&d);
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kdouble(&w, "objective", s.objective);
	jw_kuint(&w, "step_s", 3600);
	jw_karr_begin(&w, "points");
	for (size_t i = 0; i < bd.n; i++) {
		jw_obj_begin(&w);
		jw_kuint(&w, "t_ms", (bd.first_ns + i * NS_PER_HOUR) / 1000000);
		jw_kuint(&w, "good", bd.points[i].good);
		jw_kuint(&w, "total", bd.points[i].total);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* GET /api/v1/alerts/rules/{id}/series?range=24h&step=300: the rule's
 * measure step by step (a performance budget's consumption over time). */
static int rule_series_of(struct http_request *req)
{
	const struct kind *k = kind_of(req);
	char err[256];
	int rc;
	uint64_t range = 24 * NS_PER_HOUR, now = clock_now_ns();
	long step;
	struct json_doc d = {0};
	struct alert_rule r;
	double *v;
	size_t n;
	const char *rs = http_query(req, "range");
	if (rs && filters_parse_range(rs, &range) < 0) {
		http_error(req, 400, "bad_request", "range must be a duration such as 24h or 7d");
		return HTTP_DONE;
	}
	if (filters_int(req, "step", 60, 86400, 300, &step) < 0)
		return HTTP_DONE;
	const char *id;
	rc = load_def(req, k, "/series", &d, &id, err, sizeof(err));
	if (rc == 1)
		return HTTP_DONE;
	if (rc == 0 && rule_parse(d.root, id, &req->arena, &r, err, sizeof(err)) < 0)
		rc = ERR_INTERNAL;
	uint64_t end = slo_window_end(now), st = (uint64_t)step / 60 * 60 * NS_PER_S;
	uint64_t from = end - (range + st - 1) / st * st;
	if (rc == 0)
		rc = rule_series(req->srv->store, &r, from, end, st / NS_PER_S, &req->arena, &v, &n, err,
				 sizeof(err));
	json_doc_release(&d);
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kstr(&w, "measure", rule_measure_names[r.measure]);
	jw_kdouble(&w, "limit", r.factor > 0 ? NAN : r.threshold);
	jw_kuint(&w, "step_s", st / NS_PER_S);
	jw_karr_begin(&w, "points");
	for (size_t i = 0; i < n; i++) {
		jw_obj_begin(&w);
		jw_kuint(&w, "t_ms", (from + i * st) / 1000000);
		jw_kdouble(&w, "value", v[i]); /* null when not finite */
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* {"KEY":"ID"}: what an action did, to which object. */
static void reply_id(struct http_request *req, const char *key, const char *id)
{
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kstr(&w, key, id);
	jw_obj_end(&w);
}

/* POST /api/v1/alerts/channels/{id}/test: a test message through the
 * channel now (delivered, with its retries, in the background). */
static int test_channel(struct http_request *req)
{
	const struct kind *k = &kinds[2];
	char err[256];
	int rc;
	struct json_doc d = {0};
	struct notify_channel c;
	if (strlen(req->url) <= strlen("/test") || strcmp(req->url + strlen(req->url) - 5, "/test")) {
		http_error(req, 404, "not_found", "POST %s: use .../channels/{id}/test", req->url);
		return HTTP_DONE;
	}
	const char *id;
	rc = load_def(req, k, "/test", &d, &id, err, sizeof(err));
	if (rc == 1)
		return HTTP_DONE;
	if (rc == 0 && channel_parse(d.root, id, NULL, &req->arena, &c, err, sizeof(err)) < 0)
		rc = ERR_INTERNAL;
	if (rc == 0) {
		struct notify_event e = {"test", "test", "test message from hotpath",
					 "info", "test", "this channel works",
					 NAN,	 NAN,	 clock_now_ns()};
		notify_send(&c, 1, &e);
		reply_id(req, "queued", id);
	} else
		http_error_class(req, rc, "%s", err);
	json_doc_release(&d);
	return HTTP_DONE;
}

/* "/api/v1/.../{id}SUFFIX"? */
static int has_suffix(const char *url, const char *suffix)
{
	size_t n = strlen(url), m = strlen(suffix);
	return n > m && !strcmp(url + n - m, suffix);
}

static int get_def(struct http_request *req)
{
	const struct kind *k = kind_of(req);
	if (k->show == show_slo && has_suffix(req->url, "/burndown"))
		return slo_burndown(req);
	if (k->normalize == norm_rule && has_suffix(req->url, "/series"))
		return rule_series_of(req);
	const char *id = path_id(req, k);
	char err[256];
	int rc;
	if (!id)
		return HTTP_DONE;
	const char *json = load_one(req, k, id, &rc, err, sizeof(err));
	if (rc < 0)
		http_error_class(req, rc, "%s", err);
	else if (!json)
		http_error(req, 404, "not_found", "no such %s: %s", k->object, id);
	else
		k->show(req, http_json(req), json);
	return HTTP_DONE;
}

/* The public form of stored JSON, for the audit trail (no secrets). */
static char *public_form(struct http_request *req, const struct kind *k, const char *json)
{
	struct buf b;
	if (!json)
		return NULL;
	buf_init(&b, BUF_NO_LIMIT);
	if (k->show == show_channel)
		show_channel(req, &b, json);
	else
		buf_puts(&b, json);
	char *s = arena_strndup(&req->arena, b.data, b.len);
	buf_release(&b);
	return s;
}

/* Store `json` (or the tombstone) under (kind, id) and audit the change. */
static int save_def(struct http_request *req, const struct kind *k, const char *id, const char *action,
		    const char *old, const char *json, char *err, size_t errlen)
{
	uint64_t now = clock_now_ns();
	struct store_record r = {k->store_kind, id, now, json ? json : TOMBSTONE};
	int rc = store_put_doc(req->srv->store, &r, err, errlen);
	if (rc == 0)
		rc = watch_audit(req->srv->store, http_actor(req), action, k->object, id,
				 public_form(req, k, old), public_form(req, k, json), now, err, errlen);
	return rc;
}

/* POST (id NULL: from the body, or made up) and PUT of a definition. */
static int write_def(struct http_request *req, const struct kind *k, const char *id)
{
	struct json_doc d = {0};
	struct buf out;
	char err[512], made[40];
	int rc = 0;
	buf_init(&out, BUF_NO_LIMIT);
	if (req->body_too_large || req->body.len > BODY_MAX) {
		http_error(req, 413, "too_large", "a %s is at most %u bytes of JSON", k->object, BODY_MAX);
		goto done;
	}
	if (json_doc_parse(&d, req->body.data ? req->body.data : "", req->body.len, 0, err, sizeof(err)) <
		    0 ||
	    !d.root || d.root->type != JSON_OBJECT) {
		http_error(req, 400, "bad_request", "the body must be a JSON object: a %s", k->object);
		goto done;
	}
	const char *body_id = json_str(json_get(d.root, "id"));
	if (!id && body_id && !id_ok(body_id, strlen(body_id))) {
		http_error(req, 400, "bad_request", "\"id\" must be 1 to %d letters, digits, '.', '_' or '-'",
			   ID_MAX);
		goto done;
	}
	if (!id && !body_id)
		snprintf(made, sizeof(made), "%s-%llx", k->object,
			 (unsigned long long)(clock_now_ns() / 1000));
	const char *use = id ? id : body_id ? body_id : made;
	const char *old = load_one(req, k, use, &rc, err, sizeof(err));
	if (rc == 0 && !id && old)
		rc = (snprintf(err, sizeof(err), "%s %s exists already: PUT replaces it", k->object, use),
		      ERR_INVALID);
	if (rc == 0)
		rc = k->normalize(d.root, use, old, &req->arena, &out, err, sizeof(err));
	if (rc == 0)
		rc = save_def(req, k, use, old ? "update" : "create", old, out.data, err, sizeof(err));
	if (rc < 0)
		http_error_class(req, rc, "%s", err);
	else {
		k->show(req, http_json(req), out.data);
		req->res.status = old ? 200 : 201;
	}
done:
	json_doc_release(&d);
	buf_release(&out);
	return HTTP_DONE;
}

static int create_def(struct http_request *req)
{
	return write_def(req, kind_of(req), NULL);
}

static int replace_def(struct http_request *req)
{
	const struct kind *k = kind_of(req);
	const char *id = path_id(req, k);
	return id ? write_def(req, k, id) : HTTP_DONE;
}

static int delete_def(struct http_request *req)
{
	const struct kind *k = kind_of(req);
	const char *id = path_id(req, k);
	char err[256];
	int rc;
	if (!id)
		return HTTP_DONE;
	const char *old = load_one(req, k, id, &rc, err, sizeof(err));
	if (rc == 0 && !old)
		rc = (snprintf(err, sizeof(err), "no such %s: %s", k->object, id), ERR_NOT_FOUND);
	if (rc == 0)
		rc = save_def(req, k, id, "delete", old, NULL, err, sizeof(err));
	if (rc < 0)
		http_error_class(req, rc, "%s", err);
	else
		reply_id(req, "deleted", id);
	return HTTP_DONE;
}

/* ---- alerts --------------------------------------------------------------------- */

static int list_alerts(struct http_request *req)
{
	struct arena *a = &req->arena;
	struct alert *al;
	size_t n;
	char err[256];
	const char *state = http_query(req, "state"), *source = http_query(req, "source");
	int rc = alerts_load(req->srv->store, a, &al, &n, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	if (state && strcmp(state, "pending") && strcmp(state, "firing") && strcmp(state, "resolved") &&
	    strcmp(state, "all")) {
		http_error(req, 400, "bad_request", "state must be pending, firing, resolved or all");
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_karr_begin(&w, "alerts");
	for (size_t i = 0; i < n; i++) {
		const char *st = alert_state_names[al[i].state];
		if ((state && strcmp(state, "all") && strcmp(state, st)) ||
		    (!state && al[i].state == ALERT_INACTIVE) ||
		    (source && (!al[i].source || strcmp(source, al[i].source))))
			continue;
		struct buf *b = jw_value_buf(&w);
		if (b)
			alert_write(b, &al[i]);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	return HTTP_DONE;
}

static const char *alert_id(struct http_request *req)
{
	const char *p = req->url + strlen("/api/v1/alerts/");
	size_t n = strlen(p);
	if (!n || n > 3 * ID_MAX ||
	    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:") < n) {
		http_error(req, 404, "not_found", "no such alert: %.80s", req->url);
		return NULL;
	}
	return p;
}

static int get_alert(struct http_request *req)
{
	const char *id = alert_id(req);
	struct store_record *docs, *ev;
	size_t n, n_ev;
	char err[256];
	if (!id)
		return HTTP_DONE;
	int rc = store_docs(req->srv->store, ALERT_KIND, id, &req->arena, &docs, &n, err, sizeof(err));
	if (rc == 0 && n)
		rc = store_events(req->srv->store, ALERT_HISTORY_KIND, id, 0, 0, 200, &req->arena, &ev, &n_ev,
				  err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	if (!n) {
		http_error(req, 404, "not_found", "no such alert: %s", id);
		return HTTP_DONE;
	}
	struct buf *b = http_json(req);
	struct json_w w;
	buf_puts(b, docs[0].json);
	b->len--; /* reopen the stored alert */
	jw_init_inside(&w, b, false, true);
	jw_karr_begin(&w, "history");
	for (size_t i = 0; i < n_ev; i++)
		json_out_doc_with_time(&w, ev[i].json, ev[i].time_ns);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* "until": a time, or "for": a duration from now. */
static int silence_until(struct http_request *req, const struct json *o, uint64_t now, uint64_t *until)
{
	const char *u = json_str(json_get(o, "until")), *f = json_str(json_get(o, "for"));
	uint64_t ms, d;
	*until = 0;
	if (u && filters_parse_time(u, until) == 0)
		return 0;
	if (!u && json_uint64(json_get(o, "until"), &ms) == 0) {
		*until = ms * 1000000;
		return 0;
	}
	if (f && filters_parse_range(f, &d) == 0) {
		*until = now + d;
		return 0;
	}
	http_error(req, 400, "bad_request",
		   "silence needs \"until\" (unix ms or RFC 3339) or \"for\" (a duration such as \"1h\")");
	return -1;
}

static int act_alert(struct http_request *req)
{
	const char *id = alert_id(req);
	struct json_doc d = {0};
	char err[256];
	uint64_t now = clock_now_ns(), until = 0;
	if (!id)
		return HTTP_DONE;
	if (req->body_too_large || req->body.len > BODY_MAX) {
		http_error(req, 413, "too_large", "an action is at most %u bytes of JSON", BODY_MAX);
		return HTTP_DONE;
	}
	if (json_doc_parse(&d, req->body.data ? req->body.data : "", req->body.len, 0, err, sizeof(err)) <
		    0 ||
	    !d.root || d.root->type != JSON_OBJECT) {
		http_error(req, 400, "bad_request",
			   "the body must be a JSON object {\"action\": \"acknowledge\" | \"silence\" | "
			   "\"resolve\"}");
		goto out;
	}
	const char *action = json_str(json_get(d.root, "action"));
	if (!action) {
		http_error(req, 400, "bad_request", "missing \"action\": acknowledge, silence or resolve");
		goto out;
	}
	if (!strcmp(action, "silence") && silence_until(req, d.root, now, &until) < 0)
		goto out;
	int rc = alert_act(req->srv->store, id, action, until, http_actor(req), now, err, sizeof(err));
	if (rc < 0)
		http_error_class(req, rc, "%s", err);
	else
		get_alert(req);
out:
	json_doc_release(&d);
	return HTTP_DONE;
}

/* ---- the audit trail ----------------------------------------------------------- */

#define AUDIT_READ_MAX 10000

struct audit_row {
	uint64_t time_ns;
	const char *json; /* an audit event, or a recommendation's status change */
	const char *rec_id;
};

static int by_time_desc(const void *x, const void *y)
{
	const struct audit_row *a = x, *b = y;
	return a->time_ns < b->time_ns ? 1 : a->time_ns > b->time_ns ? -1 : 0;
}

/* The row as an audit entry if it passes the filters: 1 when written. */
static int put_audit(struct json_w *w, const struct audit_row *r, const char *actor, const char *object_id)
{
	struct json_doc d;
	char err[128];
	int shown = 0;
	if (json_doc_parse(&d, r->json, strlen(r->json), 0, err, sizeof(err)) < 0 || !d.root)
		goto out;
	const char *who = json_str(json_get(d.root, "actor"));
	const char *oid = r->rec_id ? r->rec_id : json_str(json_get(d.root, "object_id"));
	if ((actor && (!who || strcmp(actor, who))) || (object_id && (!oid || strcmp(object_id, oid))))
		goto out;
	if (!r->rec_id) {
		json_out_doc_with_time(w, r->json, r->time_ns);
		shown = 1;
		goto out;
	}
	const char *const what[][2] = {{"before", "from"}, {"after", "to"}};
	jw_obj_begin(w);
	jw_kstr(w, "actor", who ? who : "");
	jw_kstr(w, "action", "status");
	jw_kstr(w, "object", "recommendation");
	jw_kstr(w, "object_id", r->rec_id);
	for (int i = 0; i < 2; i++) {
		jw_kobj_begin(w, what[i][0]);
		jw_key(w, "status");
		struct buf *b = jw_value_buf(w);
		if (b)
			json_write(b, json_get(d.root, what[i][1]));
		if (i == 1) {
			jw_key(w, "reason");
			if ((b = jw_value_buf(w)))
				json_write(b, json_get(d.root, "reason"));
		}
		jw_obj_end(w);
	}
	jw_kuint(w, "time_ms", r->time_ns / 1000000);
	jw_obj_end(w);
	shown = 1;
out:
	json_doc_release(&d);
	return shown;
}

/* The audit events of `kind` (id `object` unless NULL) in [from, to) into
 * `a`, appended to *rows. */
static int read_events(struct http_request *req, const char *kind, const char *object, uint64_t from,
		       uint64_t to, int rec, struct audit_row **rows, size_t *n, size_t *cap, char *err,
		       size_t errlen)
{
	struct store_record *ev;
	size_t ne;
	int rc = store_events(req->srv->store, kind, object, from, to, AUDIT_READ_MAX, &req->arena, &ev, &ne,
			      err, errlen);
	if (rc < 0)
		return rc;
	*rows = arena_grow(&req->arena, *rows, cap, *n + ne + 1, sizeof(**rows));
	for (size_t i = 0; i < ne; i++)
		(*rows)[(*n)++] = (struct audit_row){ev[i].time_ns, ev[i].json, rec ? ev[i].id : NULL};
	return 0;
}

/* People's actions, the evaluator's transitions (unless the filters leave
 * them out) and recommendations' status changes, newest first. */
static int read_audit(struct http_request *req, const char *object, const char *actor, uint64_t from,
		      uint64_t to, struct audit_row **rows, size_t *n, char *err, size_t errlen)
{
	size_t cap = 0;
	int rc = 0;
	*rows = NULL;
	*n = 0;
	if (!object || strcmp(object, "recommendation"))
		rc = read_events(req, AUDIT_KIND, object, from, to, 0, rows, n, &cap, err, errlen);
	if (rc == 0 && (!object || !strcmp(object, "alert")) && (!actor || !strcmp(actor, WATCH_ACTOR)))
		rc = read_events(req, AUDIT_SYSTEM_KIND, object, from, to, 0, rows, n, &cap, err, errlen);
	if (rc == 0 && (!object || !strcmp(object, "recommendation")))
		rc = read_events(req, "recommendation.audit", NULL, from, to, 1, rows, n, &cap, err, errlen);
	if (rc < 0)
		return rc;
	if (!*rows)
		*rows = arena_zalloc(&req->arena, sizeof(**rows));
	qsort(*rows, *n, sizeof(**rows), by_time_desc);
	return 0;
}

static int get_audit(struct http_request *req)
{
	const char *object = http_query(req, "object"), *actor = http_query(req, "actor"),
		   *object_id = http_query(req, "object_id"), *f = http_query(req, "from"),
		   *t = http_query(req, "to");
	uint64_t from = 0, to = 0;
	long limit;
	struct audit_row *rows;
	size_t n;
	char err[256];
	if (filters_int(req, "limit", 1, 1000, 100, &limit) < 0)
		return HTTP_DONE;
	if ((f && filters_parse_time(f, &from) < 0) || (t && filters_parse_time(t, &to) < 0)) {
		http_error(req, 400, "bad_request", "from and to are unix ms or RFC 3339 times");
		return HTTP_DONE;
	}
	if (object && strcmp(object, "slo") && strcmp(object, "rule") && strcmp(object, "channel") &&
	    strcmp(object, "alert") && strcmp(object, "recommendation")) {
		http_error(req, 400, "bad_request",
			   "object must be slo, rule, channel, alert or recommendation");
		return HTTP_DONE;
	}
	int rc = read_audit(req, object, actor, from, to, &rows, &n, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_karr_begin(&w, "entries");
	long shown = 0;
	for (size_t i = 0; i < n && shown < limit; i++)
		shown += put_audit(&w, &rows[i], actor, object_id);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return HTTP_DONE;
}

const struct route watch_routes[] = {
	{"GET", "/api/v1/slos", list_defs, NULL, 0},
	{"POST", "/api/v1/slos", create_def, NULL, 1},
	{"GET", "/api/v1/slos/*", get_def, NULL, 0},
	{"PUT", "/api/v1/slos/*", replace_def, NULL, 1},
	{"DELETE", "/api/v1/slos/*", delete_def, NULL, 0},
	{"GET", "/api/v1/alerts/rules", list_defs, NULL, 0},
	{"POST", "/api/v1/alerts/rules", create_def, NULL, 1},
	{"GET", "/api/v1/alerts/rules/*", get_def, NULL, 0},
	{"PUT", "/api/v1/alerts/rules/*", replace_def, NULL, 1},
	{"DELETE", "/api/v1/alerts/rules/*", delete_def, NULL, 0},
	{"GET", "/api/v1/alerts/channels", list_defs, NULL, 0},
	{"POST", "/api/v1/alerts/channels", create_def, NULL, 1},
	{"GET", "/api/v1/alerts/channels/*", get_def, NULL, 0},
	{"PUT", "/api/v1/alerts/channels/*", replace_def, NULL, 1},
	{"DELETE", "/api/v1/alerts/channels/*", delete_def, NULL, 0},
	{"POST", "/api/v1/alerts/channels/*", test_channel, NULL, 1, .no_write = 1},
	{"GET", "/api/v1/alerts", list_alerts, NULL, 0},
	{"GET", "/api/v1/alerts/*", get_alert, NULL, 0},
	{"POST", "/api/v1/alerts/*", act_alert, NULL, 1},
	{"GET", "/api/v1/audit", get_audit, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
