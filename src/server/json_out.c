/* json_out.c - JSON fragments shared by the API routes (see json_out.h). */
#include "server/json_out.h"

#include <stdio.h>

#include "core/hex.h"

void json_put_id(struct buf *b, const char *key, const uint8_t *id, size_t n)
{
	buf_printf(b, "\"%s\":\"", key);
	if (!hex_is_zero(id, n))
		buf_put_hex(b, id, n);
	buf_putc(b, '"');
}

void json_put_str_or_null(struct buf *b, const char *v)
{
	if (v)
		buf_put_json_str(b, v);
	else
		buf_puts(b, "null");
}

void json_put_request(struct buf *b, const struct request_row *r)
{
	static const char *const status_names[] = {"ok", "error", "timeout"};
	const char *const dims[][2] = {
		{"service", r->service}, {"endpoint", r->endpoint},	{"env", r->env},
		{"version", r->version}, {"department", r->department}, {"intent", r->intent},
		{"tool", r->tool},
	};
	buf_putc(b, '{');
	json_put_id(b, "trace_id", r->trace_id, 16);
	buf_putc(b, ',');
	json_put_id(b, "span_id", r->span_id, 8);
	buf_puts(b, ",\"name\":");
	buf_put_json_str(b, r->endpoint ? r->endpoint : "");
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		buf_printf(b, ",\"%s\":", dims[i][0]);
		json_put_str_or_null(b, dims[i][1]);
	}
	buf_printf(b, ",\"start_ns\":\"%llu\",\"start_ms\":%llu,\"duration_ms\":",
		   (unsigned long long)r->start_ns, (unsigned long long)(r->start_ns / 1000000u));
	buf_put_json_double(b, (double)r->duration_ns / 1e6);
	buf_printf(b, ",\"status\":\"%s\",\"edge\":%s}", status_names[r->status < 3 ? r->status : 1],
		   r->edge ? "true" : "false");
}

void json_put_counted(struct buf *b, const struct store_query *q)
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
	buf_put_json_str(b, what);
}

void json_put_versions(struct buf *b, const struct service_version *v, size_t n)
{
	buf_putc(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_put_json_str(b, v[i].service);
		buf_putc(b, ':');
		json_put_str_or_null(b, v[i].version);
	}
	buf_putc(b, '}');
}

void json_put_resolved_versions(struct buf *b, const struct store_query *q)
{
	if (!q->latest)
		return;
	buf_puts(b, ",\"resolved_versions\":");
	json_put_versions(b, q->latest_versions, q->n_latest);
}
