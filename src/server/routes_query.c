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

static void put_span(struct buf *b, const struct span *s)
{
	buf_putc(b, '{');
	json_put_id(b, "trace_id", s->trace_id, 16);
	buf_putc(b, ',');
	json_put_id(b, "span_id", s->span_id, 8);
	buf_putc(b, ',');
	json_put_id(b, "parent_span_id", s->parent_span_id, 8);
	buf_puts(b, ",\"name\":");
	buf_put_json_str(b, s->name);
	buf_printf(b, ",\"kind\":%u,\"kind_name\":\"%s\"", s->kind,
		   s->kind < 6 ? kind_names[s->kind] : "UNSPECIFIED");
	if (telemetry_span_is_export(s)) /* the application's telemetry leaving it: labelled */
		buf_puts(b, ",\"telemetry\":true");
	buf_printf(b, ",\"status\":{\"code\":%u,\"message\":", s->status);
	buf_put_json_str(b, s->status_message ? s->status_message : "");
	buf_printf(b, "},\"start_ns\":\"%llu\",\"end_ns\":\"%llu\",\"start_ms\":",
		   (unsigned long long)s->start_ns, (unsigned long long)s->end_ns);
	buf_put_json_double(b, (double)s->start_ns / 1e6);
	buf_puts(b, ",\"duration_ms\":");
	buf_put_json_double(b, (double)(s->end_ns - s->start_ns) / 1e6);
	buf_puts(b, ",\"service\":");
	buf_put_json_str(b, s->resource->service_name);
	buf_puts(b, ",\"resource\":");
	attrs_to_json(b, s->resource->attrs, s->resource->n_attrs);
	buf_puts(b, ",\"scope\":{\"name\":");
	buf_put_json_str(b, s->scope_name ? s->scope_name : "");
	buf_puts(b, ",\"version\":");
	buf_put_json_str(b, s->scope_version ? s->scope_version : "");
	buf_puts(b, "},\"attributes\":");
	attrs_to_json(b, s->attrs, s->n_attrs);
	buf_puts(b, ",\"events\":[");
	for (uint32_t i = 0; i < s->n_events; i++) {
		const struct span_event *e = &s->events[i];
		buf_printf(b, "%s{\"time_ns\":\"%llu\",\"name\":", i ? "," : "",
			   (unsigned long long)e->time_ns);
		buf_put_json_str(b, e->name ? e->name : "");
		buf_puts(b, ",\"attributes\":");
		attrs_to_json(b, e->attrs, e->n_attrs);
		buf_putc(b, '}');
	}
	buf_puts(b, "],\"links\":[");
	for (uint32_t i = 0; i < s->n_links; i++) {
		const struct span_link *l = &s->links[i];
		buf_puts(b, i ? ",{" : "{");
		json_put_id(b, "trace_id", l->trace_id, 16);
		buf_putc(b, ',');
		json_put_id(b, "span_id", l->span_id, 8);
		buf_puts(b, ",\"attributes\":");
		attrs_to_json(b, l->attrs, l->n_attrs);
		buf_putc(b, '}');
	}
	buf_puts(b, "]}");
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
		struct buf *out = http_json(req);
		buf_puts(out, "{\"trace_id\":\"");
		buf_put_hex(out, id, 16);
		buf_puts(out, "\",\"spans\":[");
		for (size_t i = 0; i < b.n_spans; i++) {
			if (i)
				buf_putc(out, ',');
			put_span(out, &b.spans[i]);
		}
		buf_puts(out, "]}");
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
	struct buf *out = http_json(req);
	buf_puts(out, "{\"traces\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(out, ',');
		json_put_request(out, &rows[i]);
	}
	buf_printf(out, "],\"count\":%zu,\"counted\":", n);
	json_put_counted(out, &q);
	json_put_resolved_versions(out, &q);
	buf_putc(out, '}');
	return HTTP_DONE;
}

/* ,"latest_versions":{...}: what version=latest means with these filters.
 * -1: the error answer is set. */
static int put_latest_versions(struct http_request *req, struct store_query *q, struct buf *out)
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
	buf_puts(out, ",\"latest_versions\":");
	json_put_versions(out, q->latest_versions, q->n_latest);
	return 0;
}

/* The performance tiers (the `tier` filter), so that the dashboard needs
 * no copy of them: "tiers":[{"id":"fast","min_ms":0,"max_ms":100},...] */
static void put_tiers(struct buf *out)
{
	buf_puts(out, ",\"tiers\":[");
	for (int t = 0; t < TIER_COUNT; t++) {
		buf_printf(out, "%s{\"id\":\"%s\",\"min_ms\":%llu,\"max_ms\":", t ? "," : "",
			   request_tier_names[t], (unsigned long long)(request_tier_lo_ns[t] / NS_PER_MS));
		if (t + 1 < TIER_COUNT)
			buf_printf(out, "%llu}", (unsigned long long)(request_tier_lo_ns[t + 1] / NS_PER_MS));
		else
			buf_puts(out, "null}");
	}
	buf_putc(out, ']');
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
	struct buf *out = http_json(req);
	buf_putc(out, '{');
	for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++) {
		buf_printf(out, "%s\"%s\":[", d ? "," : "", dims[d].key);
		for (size_t i = 0; i < v.n[dims[d].kind]; i++) {
			if (i)
				buf_putc(out, ',');
			buf_put_json_str(out, v.values[dims[d].kind][i]);
		}
		buf_putc(out, ']');
	}
	if (put_latest_versions(req, &q, out) < 0)
		return HTTP_DONE;
	put_tiers(out);
	buf_putc(out, '}');
	return HTTP_DONE;
}

const struct route query_routes[] = {
	{"GET", "/api/v1/traces", search_traces, NULL, 0},
	{"GET", "/api/v1/traces/*", get_trace, NULL, 0},
	{"GET", "/api/v1/filters", get_filters, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
