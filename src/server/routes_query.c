/*
 * routes_query.c - GET /api/v1/traces, /api/v1/traces/{id}, /api/v1/filters
 * (the values seen, and what version=latest means).
 * The JSON shapes are documented in docs/API.md.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/hex.h"
#include "ingest/telemetry.h"
#include "server/filters.h"
#include "server/json_out.h"
#include "core/clock.h"
#include "server/http.h"

static const char *const kind_names[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
					 "CLIENT",	"PRODUCER", "CONSUMER"};

/* "attributes":{...} (attrs_to_json's object) */
static void put_attrs(struct json_w *w, const char *key, const struct attr *attrs, uint32_t n)
{
	jw_key(w, key);
	struct buf *b = jw_value_buf(w);
	if (b)
		attrs_to_json(b, attrs, n);
}

static void put_events_links(struct json_w *w, const struct span *s)
{
	jw_karr_begin(w, "events");
	for (uint32_t i = 0; i < s->n_events; i++) {
		const struct span_event *e = &s->events[i];
		jw_obj_begin(w);
		jw_kuint_str(w, "time_ns", e->time_ns);
		jw_kstr(w, "name", e->name ? e->name : "");
		put_attrs(w, "attributes", e->attrs, e->n_attrs);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_karr_begin(w, "links");
	for (uint32_t i = 0; i < s->n_links; i++) {
		const struct span_link *l = &s->links[i];
		jw_obj_begin(w);
		jw_kid(w, "trace_id", l->trace_id, 16);
		jw_kid(w, "span_id", l->span_id, 8);
		put_attrs(w, "attributes", l->attrs, l->n_attrs);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void put_span(struct json_w *w, const struct span *s)
{
	jw_obj_begin(w);
	jw_kid(w, "trace_id", s->trace_id, 16);
	jw_kid(w, "span_id", s->span_id, 8);
	jw_kid(w, "parent_span_id", s->parent_span_id, 8);
	jw_kstr(w, "name", s->name);
	jw_kuint(w, "kind", s->kind);
	jw_kstr(w, "kind_name", s->kind < 6 ? kind_names[s->kind] : "UNSPECIFIED");
	if (telemetry_span_is_export(s)) /* the application's telemetry leaving it: labelled */
		jw_kbool(w, "telemetry", true);
	jw_kobj_begin(w, "status");
	jw_kuint(w, "code", s->status);
	jw_kstr(w, "message", s->status_message ? s->status_message : "");
	jw_obj_end(w);
	jw_kuint_str(w, "start_ns", s->start_ns);
	jw_kuint_str(w, "end_ns", s->end_ns);
	jw_kdouble(w, "start_ms", (double)s->start_ns / 1e6);
	jw_kdouble(w, "duration_ms", (double)(s->end_ns - s->start_ns) / 1e6);
	jw_kstr(w, "service", s->resource->service_name);
	put_attrs(w, "resource", s->resource->attrs, s->resource->n_attrs);
	jw_kobj_begin(w, "scope");
	jw_kstr(w, "name", s->scope_name ? s->scope_name : "");
	jw_kstr(w, "version", s->scope_version ? s->scope_version : "");
	jw_obj_end(w);
	put_attrs(w, "attributes", s->attrs, s->n_attrs);
	put_events_links(w, s);
	jw_obj_end(w);
}

static int get_trace(struct http_request *req)
{
	const char *hex = req->url + strlen("/api/v1/traces/");
	uint8_t id[16];
	char err[256];
	struct batch b;
	if (hex_decode(id, 16, hex, strlen(hex)) < 0) {
		http_error(req, 400, "bad_request", "invalid trace id '%.64s': want 32 hex digits", hex);
		return HTTP_DONE;
	}
	batch_init(&b);
	long n = store_get_trace(req->srv->store, id, &b, err, sizeof(err));
	if (n < 0) {
		http_error(req, 500, "internal", "%s", err);
	} else if (n == 0) {
		http_error(req, 404, "not_found", "trace %s not found", hex);
	} else {
		struct json_w w;
		jw_init(&w, http_json(req));
		jw_obj_begin(&w);
		jw_key(&w, "trace_id");
		jw_hex(&w, id, 16);
		jw_karr_begin(&w, "spans");
		for (size_t i = 0; i < b.n_spans; i++)
			put_span(&w, &b.spans[i]);
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	batch_release(&b);
	return HTTP_DONE;
}

static int search_traces(struct http_request *req)
{
	struct store_query q;
	struct request_row *rows;
	size_t n;
	char err[256];
	if (filters_parse_req(req, &q) < 0)
		return HTTP_DONE;
	filters_count_requests(&q, 0); /* one row per trace, unless a service's are asked for */
	if (store_search(req->srv->store, &q, &req->arena, &rows, &n, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_karr_begin(&w, "traces");
	for (size_t i = 0; i < n; i++)
		json_out_request(&w, &rows[i]);
	jw_arr_end(&w);
	jw_kuint(&w, "count", n);
	jw_key(&w, "counted");
	json_out_counted(&w, &q);
	json_out_resolved_versions(&w, &q);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* "latest_versions":{...}: what version=latest means with these filters.
 * -1: the error answer is set. */
static int put_latest_versions(struct http_request *req, struct store_query *q, struct json_w *w)
{
	char err[256];
	if (!q->latest) {
		struct service_version *pairs;
		if (store_latest_versions(req->srv->store, q, &req->arena, &pairs, &q->n_latest, err,
					  sizeof(err)) < 0) {
			http_error(req, 500, "internal", "%s", err);
			return -1;
		}
		q->latest_versions = pairs;
	}
	jw_key(w, "latest_versions");
	json_out_versions(w, q->latest_versions, q->n_latest);
	return 0;
}

/* The performance tiers (the `tier` filter), so that the dashboard needs
 * no copy of them: "tiers":[{"id":"fast","min_ms":0,"max_ms":100},...] */
static void put_tiers(struct json_w *w)
{
	jw_karr_begin(w, "tiers");
	for (int t = 0; t < TIER_COUNT; t++) {
		jw_obj_begin(w);
		jw_kstr(w, "id", request_tier_names[t]);
		jw_kuint(w, "min_ms", request_tier_lo_ns[t] / NS_PER_MS);
		if (t + 1 < TIER_COUNT)
			jw_kuint(w, "max_ms", request_tier_lo_ns[t + 1] / NS_PER_MS);
		else
			jw_knull(w, "max_ms");
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static int get_filters(struct http_request *req)
{
	static const struct {
		const char *key;
		enum dict_kind kind;
	} dims[] = {
		{"services", DICT_SERVICE}, {"endpoints", DICT_ENDPOINT},     {"envs", DICT_ENV},
		{"versions", DICT_VERSION}, {"departments", DICT_DEPARTMENT}, {"intents", DICT_INTENT},
		{"tools", DICT_TOOL},
	};
	struct store_query q;
	char err[256];
	if (filters_parse_req(req, &q) < 0)
		return HTTP_DONE;
	struct store_dim_values v;
	unsigned kinds = 0;
	for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
		kinds |= 1u << dims[d].kind;
	if (store_filter_values(req->srv->store, q.from_ns, q.to_ns, kinds, &req->arena, &v, err,
				sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++) {
		jw_karr_begin(&w, dims[d].key);
		for (size_t i = 0; i < v.n[dims[d].kind]; i++)
			jw_str(&w, v.values[dims[d].kind][i]);
		jw_arr_end(&w);
	}
	if (put_latest_versions(req, &q, &w) < 0)
		return HTTP_DONE;
	put_tiers(&w);
	jw_obj_end(&w);
	return HTTP_DONE;
}

const struct route query_routes[] = {
	{"GET", "/api/v1/traces", search_traces, NULL, 0},
	{"GET", "/api/v1/traces/*", get_trace, NULL, 0},
	{"GET", "/api/v1/filters", get_filters, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
