/*
 * routes_analysis.c - recommendations: GET /api/v1/recommendations,
 * GET /api/v1/recommendations/{id} (with its audit trail) and
 * POST /api/v1/recommendations/{id}/status (docs/API.md).
 *
 * A GET never writes: it answers from the last analysis of the same range
 * at once, whatever its age (advisor/advisor.h: advisor_current, which
 * also reads the summary an earlier process stored), and when that is
 * older than ANALYSIS_MAX_AGE asks the analysis job for a new one without
 * waiting; only with none ever finished, or with refresh=1, does it ask the
 * job and wait for it.  The server's analysis watch keeps the dashboard's
 * ranges and those asked lately analysed.  The analyses and their storing happen in the job.  The
 * pages the recommendations link to are embedded assets
 * (/docs/recommendations/, routes_static.c).  Each recommendation carries
 * the resources of its service at its worst example's time, in that
 * example's environment (query/request_metrics.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hex.h"
#include "core/json_doc.h"
#include "advisor/advisor.h"
#include "query/request_metrics.h"
#include "server/filters.h"
#include "server/actor.h"
#include "server/http.h"
#include "server/json_out.h"

#define ANALYSIS_MAX_AGE (60 * NS_PER_S)
#define MAX_TRACES	 10000000
#define REASON_MAX	 1000

/* One recommendation as listed: what sorting and filtering need, and its JSON. */
struct item {
	struct rec_state st;
	const char *finding; /* JSON text */
	int priority;	     /* 2 HIGH .. 0 LOW */
	double saved;	     /* s per hour */
	const char *service;
	const char *env;     /* the finding's environment, or NULL */
	uint8_t example[16]; /* its worst example's trace id, when has_example */
	int has_example;
};

static int priority_rank(const char *p)
{
	if (!p)
		return 0;
	return !strcasecmp(p, "high") ? 2 : !strcasecmp(p, "medium") ? 1 : 0;
}

/* Active first, then priority, then time saved, then id. */
static int by_rank(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	if (a->st.active != b->st.active)
		return b->st.active - a->st.active;
	if (a->priority != b->priority)
		return b->priority - a->priority;
	if (a->saved != b->saved)
		return a->saved < b->saved ? 1 : -1;
	return strcmp(a->st.id, b->st.id);
}

/* The recommendations (only `id` unless NULL) with their latest findings,
 * in the request's arena.  -1: the error answer is set. */
static int load_items(struct http_request *req, const char *id, struct item **items, size_t *n)
{
	struct store_record *states, *finds;
	size_t n_states, n_finds;
	char err[256];
	struct store *s = req->srv->store;
	if (store_docs(s, ADVISOR_KIND_STATE, id, &req->arena, &states, &n_states, err, sizeof(err)) < 0 ||
	    store_docs(s, ADVISOR_KIND_FINDING, id, &req->arena, &finds, &n_finds, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return -1;
	}
	*items = arena_zalloc(&req->arena, (n_states + 1) * sizeof(**items));
	*n = 0;
	for (size_t i = 0, j = 0; i < n_states; i++) {
		struct item *it = &(*items)[*n];
		if (rec_state_parse(&it->st, states[i].json, &req->arena) < 0)
			continue;
		/* both lists are by id */
		while (j < n_finds && strcmp(finds[j].id, states[i].id) < 0)
			j++;
		if (j == n_finds || strcmp(finds[j].id, states[i].id))
			continue;
		it->finding = finds[j].json;
		struct json_doc d;
		if (json_doc_parse(&d, it->finding, strlen(it->finding), 0, err, sizeof(err)) == 0) {
			const struct json *sv = json_get(json_get(d.root, "estimate"), "saved_s_per_hour");
			const char *service = json_str(json_get(json_get(d.root, "subject"), "service"));
			it->priority = priority_rank(json_str(json_get(d.root, "priority")));
			it->saved = sv && sv->type == JSON_NUMBER ? strtod(sv->s, NULL) : 0;
			it->service = service ? arena_strdup(&req->arena, service) : NULL;
			const char *env = json_str(json_get(json_get(d.root, "subject"), "environment"));
			it->env = env ? arena_strdup(&req->arena, env) : NULL;
			const struct json *ex = json_get(d.root, "examples");
			const char *hex = ex && ex->type == JSON_ARRAY ? json_str(ex->child) : NULL;
			it->has_example = hex && hex_decode(it->example, 16, hex, strlen(hex)) == 0;
		}
		json_doc_release(&d);
		(*n)++;
	}
	qsort(*items, *n, sizeof(**items), by_rank);
	return 0;
}

/* The resources of its service when its worst example reached that
 * service (else when the trace started); without an example, when the
 * latest analysis found it. */
static void put_resources(struct json_w *w, struct store *st, const struct item *it)
{
	uint64_t at_ns = it->st.last_seen_ns;
	const char *env = it->env;
	char err[256], why[300], trace_env[128];
	if (!it->service) {
		request_metrics_snapshot_put_at(w, st, NULL, NULL, 0, "the finding names no service");
		return;
	}
	if (it->has_example) {
		int rc = request_metrics_trace_time(st, it->example, it->service, &at_ns, trace_env,
						    sizeof(trace_env), err, sizeof(err));
		if (rc < 0) {
			snprintf(why, sizeof(why), "its example trace: %s", err);
			request_metrics_snapshot_put_at(w, st, it->service, env, 0, why);
			return;
		}
		if (trace_env[0])
			env = trace_env;
	}
	request_metrics_snapshot_put_at(w, st, it->service, env, at_ns, "it was never found by an analysis");
}

/* One recommendation: its state, its finding and its resources, in an
 * object left open. */
static void put_item(struct json_w *w, struct store *st, const struct item *it)
{
	jw_obj_begin(w);
	rec_state_members(w, &it->st);
	jw_kraw(w, "finding", it->finding);
	put_resources(w, st, it);
}

static int eq_or_any(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

/* The analysis a GET answers from (see the top of this file).  -1: the answer is set. */
static int current_analysis(struct http_request *req, uint64_t range_ns, size_t max_traces, int refresh,
			    struct advisor_current *cur)
{
	char err[256];
	int rc = advisor_current(req->srv->store, range_ns, max_traces, ANALYSIS_MAX_AGE, refresh, cur, err,
				 sizeof(err));
	if (rc == ERR_BUSY)
		http_error(req, 503, "busy", "analysis: %s", err);
	else if (rc < 0)
		http_error(req, 500, "internal", "analysis failed: %s", err);
	return rc < 0 ? -1 : 0;
}

/* "analysis": what the answer was read from, when, and whether a newer one is coming. */
static void put_analysis(struct json_w *w, uint64_t range_ns, const struct advisor_current *cur)
{
	const struct advisor_result *res = &cur->res;
	jw_kobj_begin(w, "analysis");
	jw_kuint(w, "range_s", range_ns / NS_PER_S);
	jw_kuint(w, "traces", res->traces);
	jw_kuint(w, "traces_kept", res->kept_traces);
	jw_kuint(w, "spans", res->spans);
	jw_kuint(w, "points", res->points);
	jw_kuint(w, "requests_in_window", res->requests_in_window);
	jw_kdouble_fmt(w, "sample_rate", "%.4f", res->sample_rate);
	jw_kuint(w, "findings", res->findings);
	jw_kdouble_fmt(w, "elapsed_ms", "%.1f", res->elapsed_ms);
	jw_kuint(w, "analyzed_at_ms", res->analyzed_ns / NS_PER_MS);
	jw_kdouble_fmt(w, "age_s", "%.1f", (double)cur->age_ns / NS_PER_S);
	jw_kbool(w, "refreshing", cur->refreshing);
	jw_obj_end(w);
}

static int list_recommendations(struct http_request *req)
{
	const char *status = http_query(req, "status"), *prio = http_query(req, "priority"),
		   *service = http_query(req, "service"), *range = http_query(req, "range"),
		   *refresh = http_query(req, "refresh");
	uint64_t range_ns = ADVISOR_DEFAULT_RANGE;
	if (range && filters_parse_range(range, &range_ns) < 0) {
		http_error(req, 400, "bad_request", "invalid range '%.32s': use e.g. 1h, 6h, 24h", range);
		return HTTP_DONE;
	}
	long max_traces;
	if (filters_int(req, "max_traces", 1, MAX_TRACES, 0, &max_traces) < 0)
		return HTTP_DONE;
	if (status && rec_status_parse(status) < 0) {
		http_error(req, 400, "bad_request",
			   "invalid status '%.32s': use open, applied, dismissed or verified", status);
		return HTTP_DONE;
	}
	if (prio && strcasecmp(prio, "high") && strcasecmp(prio, "medium") && strcasecmp(prio, "low")) {
		http_error(req, 400, "bad_request", "invalid priority '%.32s': use high, medium or low",
			   prio);
		return HTTP_DONE;
	}
	struct advisor_current cur;
	if (current_analysis(req, range_ns, (size_t)max_traces, refresh && !strcmp(refresh, "1"), &cur) < 0)
		return HTTP_DONE;
	struct item *items;
	size_t n;
	if (load_items(req, NULL, &items, &n) < 0)
		return HTTP_DONE;
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	put_analysis(&w, range_ns, &cur);
	jw_karr_begin(&w, "recommendations");
	for (size_t i = 0; i < n; i++) {
		const struct item *it = &items[i];
		if ((status && (int)it->st.status != rec_status_parse(status)) ||
		    (prio && it->priority != priority_rank(prio)) || !eq_or_any(service, it->service))
			continue;
		put_item(&w, req->srv->store, it);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* "/api/v1/recommendations/ID[/status]": the id, or NULL if malformed. */
static const char *path_id(struct http_request *req, const char *suffix)
{
	const char *p = req->url + strlen("/api/v1/recommendations/");
	size_t len = strcspn(p, "/?");
	if (!len || len > 16 || strspn(p, "0123456789abcdef") < len || strcmp(p + len, suffix))
		return NULL;
	return arena_strndup(&req->arena, p, len);
}

static int get_recommendation(struct http_request *req)
{
	const char *id = path_id(req, "");
	struct item *items;
	struct store_record *ev;
	size_t n, n_ev;
	char err[256];
	if (!id) {
		http_error(req, 404, "not_found", "no such recommendation: %.80s", req->url);
		return HTTP_DONE;
	}
	if (load_items(req, id, &items, &n) < 0)
		return HTTP_DONE;
	if (!n) {
		http_error(req, 404, "not_found", "no recommendation %s", id);
		return HTTP_DONE;
	}
	if (store_events(req->srv->store, ADVISOR_KIND_AUDIT, id, 0, 0, 100, &req->arena, &ev, &n_ev, err,
			 sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	put_item(&w, req->srv->store, &items[0]);
	jw_karr_begin(&w, "audit");
	for (size_t i = 0; i < n_ev; i++)
		json_out_doc_with_time(&w, ev[i].json, ev[i].time_ns);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return HTTP_DONE;
}

static int set_status(struct http_request *req)
{
	const char *id = path_id(req, "/status");
	struct json_doc d = {0};
	struct item *items;
	size_t n;
	char err[256];
	if (!id) {
		http_error(req, 404, "not_found", "no such recommendation: %.80s", req->url);
		return HTTP_DONE;
	}
	if (req->body_too_large) {
		http_error(req, 413, "too_large", "the body is over the limit");
		return HTTP_DONE;
	}
	if (json_doc_parse(&d, req->body.data ? req->body.data : "", req->body.len, 0, err, sizeof(err)) <
		    0 ||
	    !d.root || d.root->type != JSON_OBJECT) {
		http_error(req, 400, "bad_request",
			   "the body must be a JSON object {\"status\": \"applied\", \"reason\": \"...\"}");
		goto out;
	}
	const char *status = json_str(json_get(d.root, "status")),
		   *reason = json_str(json_get(d.root, "reason"));
	const char *actor = http_actor(req);
	if (!status) {
		http_error(req, 400, "bad_request", "missing \"status\": use open, applied or dismissed");
		goto out;
	}
	if (reason && strlen(reason) > REASON_MAX) {
		http_error(req, 400, "bad_request", "\"reason\" is longer than %d bytes", REASON_MAX);
		goto out;
	}
	int rc = advisor_set_status(req->srv->store, id, status, reason, actor, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		goto out;
	}
	if (load_items(req, id, &items, &n) == 0 && n) {
		struct json_w w;
		jw_init(&w, http_json(req));
		put_item(&w, req->srv->store, &items[0]);
		jw_obj_end(&w);
	}
out:
	json_doc_release(&d);
	return HTTP_DONE;
}

const struct route analysis_routes[] = {
	{"GET", "/api/v1/recommendations", list_recommendations, NULL, 0},
	{"POST", "/api/v1/recommendations/*", set_status, NULL, 1},
	{"GET", "/api/v1/recommendations/*", get_recommendation, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
