/*
 * test_annotate.c - a request row from its entry span: ids, times, status
 * and error type, the edge flag, the resource's dimensions, the span's
 * intent over the resource's, the endpoint; the tool from the entry span
 * or another span of its trace, never from another trace.
 */
#include <string.h>

#include "ingest/annotate.h"
#include "ingest/semconv.h"
#include "tap.h"

static struct attr res_attrs[] = {
	{.key = "service.name", .type = ATTR_STRING, .v.s = "agent"},
	{.key = "deployment.environment.name", .type = ATTR_STRING, .v.s = "prod"},
	{.key = "service.version", .type = ATTR_STRING, .v.s = "2.1.0"},
	{.key = "intent.category", .type = ATTR_STRING, .v.s = "billing"},
};

static void mk(struct span *s, uint8_t trace, uint8_t id, uint8_t parent, int kind, struct attr *a,
	       uint32_t n, const struct resource *r)
{
	memset(s, 0, sizeof(*s));
	s->trace_id[15] = trace;
	s->span_id[7] = id;
	s->parent_span_id[7] = parent;
	s->kind = (uint8_t)kind;
	s->name = "POST /chat";
	s->start_ns = 1000;
	s->end_ns = 3500;
	s->attrs = a;
	s->n_attrs = n;
	s->resource = r;
}

int main(void)
{
	struct resource r = {.attrs = res_attrs, .n_attrs = 4};
	struct arena a;
	struct request_row row;
	resource_derive(&r);
	arena_init(&a);

	struct attr entry_attrs[] = {
		{.key = "http.request.method", .type = ATTR_STRING, .v.s = "POST"},
		{.key = "http.route", .type = ATTR_STRING, .v.s = "/chat"},
		{.key = "intent.category", .type = ATTR_STRING, .v.s = "support"},
		{.key = "error.type", .type = ATTR_STRING, .v.s = "TimeoutError"},
	};
	struct span s[4];
	mk(&s[0], 1, 1, 0, SPAN_KIND_SERVER, entry_attrs, 4, &r);
	const char *error_type = annotate_request(&a, &s[0], &row);
	ok(row.trace_id[15] == 1 && row.span_id[7] == 1 && row.start_ns == 1000 && row.duration_ns == 2500,
	   "ids and times");
	ok(row.edge == 1 && row.status == REQUEST_TIMEOUT,
	   "no parent: the edge; a timeout by its error type");
	is_str(error_type, "timeout", "the error type of a timeout");
	is_str(row.endpoint, "POST /chat", "the endpoint: method and route");
	ok(!strcmp(row.service, "agent") && !strcmp(row.env, "prod") && !strcmp(row.version, "2.1.0"),
	   "the resource's dimensions");
	is_str(row.intent, "support", "the span's intent over the resource's");
	ok(row.tool == NULL, "the tool is left to annotate_tool");

	mk(&s[0], 1, 2, 9, SPAN_KIND_SERVER, entry_attrs, 2, &r);
	error_type = annotate_request(&a, &s[0], &row);
	ok(row.edge == 0 && row.status == REQUEST_OK && error_type == NULL, "a parent: not the edge; ok");
	is_str(row.intent, "billing", "without its own, the resource's intent");

	/* tools: trace 1 = entry, a tool call after it; trace 2 = an entry alone */
	struct attr tool_attr = {.key = "gen_ai.tool.name", .type = ATTR_STRING, .v.s = "search"};
	struct attr other_tool = {.key = "gen_ai.tool.name", .type = ATTR_STRING, .v.s = "refund"};
	mk(&s[0], 1, 1, 0, SPAN_KIND_SERVER, entry_attrs, 2, &r);
	mk(&s[1], 1, 3, 1, SPAN_KIND_INTERNAL, &tool_attr, 1, &r);
	mk(&s[2], 2, 4, 0, SPAN_KIND_SERVER, entry_attrs, 2, &r);
	mk(&s[3], 3, 5, 0, SPAN_KIND_INTERNAL, &other_tool, 1, &r);
	const struct span *sorted[] = {&s[0], &s[1], &s[2], &s[3]};
	is_str(annotate_tool(sorted, 4, 0), "search", "the tool of a span after the entry, in its trace");
	ok(annotate_tool(sorted, 4, 2) == NULL, "none from another trace");
	const struct span *before[] = {&s[1], &s[0]};
	is_str(annotate_tool(before, 2, 1), "search", "or before the entry");

	/* annotate_tools: the same answers for every span, in one pass; a
	 * trace of entries with tools before and after, and one without */
	struct span m[7];
	mk(&m[0], 1, 1, 0, SPAN_KIND_SERVER, entry_attrs, 2, &r);
	mk(&m[1], 1, 2, 1, SPAN_KIND_INTERNAL, &tool_attr, 1, &r);
	mk(&m[2], 1, 3, 1, SPAN_KIND_SERVER, entry_attrs, 2, &r);
	mk(&m[3], 1, 4, 1, SPAN_KIND_INTERNAL, &other_tool, 1, &r);
	mk(&m[4], 1, 5, 1, SPAN_KIND_SERVER, entry_attrs, 2, &r);
	mk(&m[5], 2, 6, 0, SPAN_KIND_SERVER, entry_attrs, 2, &r);
	mk(&m[6], 2, 7, 6, SPAN_KIND_SERVER, entry_attrs, 2, &r);
	const struct span *ms[] = {&m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &m[6]};
	const char *tools[7];
	annotate_tools(ms, 7, tools);
	int same = 1;
	for (size_t i = 0; i < 7; i++) {
		const char *one = annotate_tool(ms, 7, i);
		same &= (one == NULL) == (tools[i] == NULL) && (!one || !strcmp(one, tools[i]));
	}
	ok(same, "annotate_tools agrees with annotate_tool on every span");
	is_str(tools[4], "refund", "the last entry takes the nearest tool before it");
	ok(tools[5] == NULL && tools[6] == NULL, "a trace without tools has none");
	arena_release(&a);
	return tap_done();
}
