/*
 * semconv.c - what spans mean, read from OpenTelemetry semantic-convention
 * attributes (see semconv.h and docs/ATTRIBUTES.md).
 */
#include "ingest/semconv.h"

#include <stdio.h>
#include <string.h>

#include "core/hex.h"

int span_is_entry(const struct span *sp)
{
	return hex_is_zero(sp->parent_span_id, 8) || sp->kind == SPAN_KIND_SERVER ||
	       sp->kind == SPAN_KIND_CONSUMER;
}

static int contains_timeout(const char *s)
{
	return s && (strcasestr(s, "timeout") || strcasestr(s, "timed out") || strcasestr(s, "deadline"));
}

enum request_status span_request_status(const struct span *sp)
{
	if (contains_timeout(attr_str(sp->attrs, sp->n_attrs, "error.type")))
		return REQUEST_TIMEOUT;
	if (sp->status != SPAN_STATUS_ERROR)
		return REQUEST_OK;
	return contains_timeout(sp->status_message) ? REQUEST_TIMEOUT : REQUEST_ERROR;
}

const char *span_endpoint(struct arena *a, const struct span *sp)
{
	const char *route = attr_str(sp->attrs, sp->n_attrs, "http.route");
	const char *method = attr_str(sp->attrs, sp->n_attrs, "http.request.method");
	if (!method)
		method = attr_str(sp->attrs, sp->n_attrs, "http.method");
	if (route && method) {
		size_t lm = strlen(method), lr = strlen(route);
		char *s = arena_alloc(a, lm + lr + 2);
		memcpy(s, method, lm);
		s[lm] = ' ';
		memcpy(s + lm + 1, route, lr + 1);
		return s;
	}
	return sp->name;
}

const char *span_error_type(struct arena *a, const struct span *sp, enum request_status st)
{
	if (st == REQUEST_OK)
		return NULL;
	if (st == REQUEST_TIMEOUT)
		return "timeout";
	const char *t = attr_str(sp->attrs, sp->n_attrs, "error.type");
	for (uint32_t i = 0; !t && i < sp->n_events; i++)
		if (sp->events[i].name && !strcmp(sp->events[i].name, "exception"))
			t = attr_str(sp->events[i].attrs, sp->events[i].n_attrs, "exception.type");
	const struct attr *code = attr_find(sp->attrs, sp->n_attrs, "http.response.status_code");
	if (!t && code && code->type == ATTR_INT) {
		char *s = arena_alloc(a, 24);
		snprintf(s, 24, "HTTP %lld", (long long)code->v.i);
		t = s;
	}
	return t ? t : "error";
}

const char *span_tool(const struct span *sp)
{
	const char *t = attr_str(sp->attrs, sp->n_attrs, "gen_ai.tool.name");
	return t ? t : attr_str(sp->attrs, sp->n_attrs, "tool.name");
}
