/* annotate.c - request rows from entry spans (see annotate.h). */
#include "ingest/annotate.h"

#include <string.h>

#include "core/hex.h"
#include "ingest/semconv.h"

const char *annotate_request(struct arena *a, const struct span *sp, struct request_row *row)
{
	const struct resource *res = sp->resource;
	const char *intent = attr_str(sp->attrs, sp->n_attrs, "intent.category");
	memset(row, 0, sizeof(*row));
	memcpy(row->trace_id, sp->trace_id, 16);
	memcpy(row->span_id, sp->span_id, 8);
	row->start_ns = sp->start_ns;
	row->duration_ns = sp->end_ns > sp->start_ns ? sp->end_ns - sp->start_ns : 0;
	row->status = (uint8_t)span_request_status(sp);
	row->edge = hex_is_zero(sp->parent_span_id, 8);
	if (res) {
		row->service = res->service_name;
		row->env = res->environment;
		row->version = res->service_version;
		row->department = res->department;
	}
	row->intent = intent ? intent : res ? res->intent : NULL;
	row->endpoint = span_endpoint(a, sp);
	return span_error_type(a, sp, (enum request_status)row->status);
}

static int same_trace(const struct span *x, const struct span *y)
{
	return !memcmp(x->trace_id, y->trace_id, 16);
}

const char *annotate_tool(const struct span *const *spans, size_t n, size_t at)
{
	const char *t = span_tool(spans[at]);
	for (size_t i = at; !t && i < n && same_trace(spans[i], spans[at]); i++)
		t = span_tool(spans[i]);
	for (size_t i = at; !t && i-- > 0 && same_trace(spans[i], spans[at]);)
		t = span_tool(spans[i]);
	return t;
}

void annotate_tools(const struct span *const *spans, size_t n, const char **tools)
{
	/* backward: the first tool at or after i in its trace */
	for (size_t i = n; i-- > 0;) {
		tools[i] = span_tool(spans[i]);
		if (!tools[i] && i + 1 < n && same_trace(spans[i], spans[i + 1]))
			tools[i] = tools[i + 1];
	}
	/* forward: else the nearest before i in its trace */
	const char *before = NULL;
	for (size_t i = 0; i < n; i++) {
		if (i && !same_trace(spans[i], spans[i - 1]))
			before = NULL;
		const char *own = span_tool(spans[i]);
		if (!tools[i])
			tools[i] = before;
		if (own)
			before = own;
	}
}
