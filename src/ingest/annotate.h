/*
 * annotate.h - what a request is, derived once from its entry span: the
 * row the store keeps for it and the answers computed from raw spans
 * (`q=`) build alike.  The meaning of each part is semconv.h's (endpoint,
 * status, error type, tool); this module owns putting them together.
 */
#ifndef HOTPATH_INGEST_ANNOTATE_H
#define HOTPATH_INGEST_ANNOTATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "ingest/batch.h"

/* One request: an entry span (span_is_entry) and its filter dimensions. */
struct request_row {
	uint8_t trace_id[16], span_id[8];
	uint64_t start_ns, duration_ns;
	uint8_t status; /* enum request_status */
	uint8_t edge;	/* no parent span id: the trace's edge request */
	const char *service, *endpoint, *env, *version, *department, *intent, *tool;
};

/*
 * Fill `row` from the entry span `sp`: ids, times, status, edge, the
 * resource's dimensions, the intent (the span's intent.category, else the
 * resource's) and the endpoint (span_endpoint(), in `a` when derived).  The
 * tool is left NULL: it may come from another span of the trace
 * (annotate_tool).  Returns the error type of a failed request (in `a`),
 * else NULL.
 */
const char *annotate_request(struct arena *a, const struct span *sp, struct request_row *row);

/*
 * The tool of the request whose entry span is spans[at], the spans sorted
 * by trace: the entry span's own (span_tool()), else the first found among
 * the spans of its trace after it, else before it.
 */
const char *annotate_tool(const struct span *const *spans, size_t n, size_t at);

/*
 * The same for every span at once, in time linear in n (annotate_tool per
 * entry span costs the trace's length each: quadratic for a trace of many
 * requests): tools[i] is annotate_tool(spans, n, i).  `tools` holds n.
 */
void annotate_tools(const struct span *const *spans, size_t n, const char **tools);

#endif
