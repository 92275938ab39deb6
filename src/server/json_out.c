/* json_out.c - JSON fragments shared by the API routes (see json_out.h). */
#include "server/json_out.h"

#include <stdio.h>

void json_out_request_members(struct json_w *w, const struct request_row *r)
{
	static const char *const status_names[] = {"ok", "error", "timeout"};
	const char *const dims[][2] = {
		{"service", r->service}, {"endpoint", r->endpoint},	{"env", r->env},
		{"version", r->version}, {"department", r->department}, {"intent", r->intent},
		{"tool", r->tool},
	};
	jw_kid(w, "trace_id", r->trace_id, 16);
	jw_kid(w, "span_id", r->span_id, 8);
	jw_kstr(w, "name", r->endpoint ? r->endpoint : "");
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		jw_kstr(w, dims[i][0], dims[i][1]);
	jw_kuint_str(w, "start_ns", r->start_ns);
	jw_kuint(w, "start_ms", r->start_ns / 1000000u);
	jw_kdouble(w, "duration_ms", (double)r->duration_ns / 1e6);
	jw_kstr(w, "status", status_names[r->status < 3 ? r->status : 1]);
	jw_kbool(w, "edge", r->edge);
}

void json_out_request(struct json_w *w, const struct request_row *r)
{
	jw_obj_begin(w);
	json_out_request_members(w, r);
	jw_obj_end(w);
}

void json_out_counted(struct json_w *w, const struct store_query *q)
{
	char what[300];
	if (q->edge_only)
		snprintf(what, sizeof(what), "edge requests");
	else if (q->service)
		snprintf(what, sizeof(what), "entry spans of %.256s", q->service);
	else if (q->endpoint)
		snprintf(what, sizeof(what), "entry spans of endpoint %.256s", q->endpoint);
	else
		snprintf(what, sizeof(what), "entry spans of each service");
	jw_str(w, what);
}

void json_out_versions(struct json_w *w, const struct service_version *v, size_t n)
{
	jw_obj_begin(w);
	for (size_t i = 0; i < n; i++)
		jw_kstr(w, v[i].service, v[i].version);
	jw_obj_end(w);
}

void json_out_resolved_versions(struct json_w *w, const struct store_query *q)
{
	if (!q->latest)
		return;
	jw_key(w, "resolved_versions");
	json_out_versions(w, q->latest_versions, q->n_latest);
}

void json_out_doc_with_time(struct json_w *w, const char *json, uint64_t time_ns)
{
	struct buf *b = jw_value_buf(w);
	struct json_w in;
	if (!b)
		return;
	buf_puts(b, json);
	b->len--; /* reopen the object */
	jw_init_inside(&in, b, false, true);
	jw_kuint(&in, "time_ms", time_ns / 1000000);
	jw_obj_end(&in);
	if (jw_finish(&in) < 0)
		w->err = true;
}
