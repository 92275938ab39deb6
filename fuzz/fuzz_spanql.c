/*
 * fuzz_spanql.c - libFuzzer target for the span query language.
 *
 * Each input is a query (cut at its first NUL).  A query that parses is
 * matched against a fixed span that has attributes of every type, so the
 * evaluator and the compiled regular expressions run too, and against a
 * trace of that span and a bare one, through the masks as well: both ways
 * must agree.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/spanql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct attr resource_attrs[] = {
	{.key = "service.name", .type = ATTR_STRING, .v.s = "checkout"},
	{.key = "deployment.environment", .type = ATTR_STRING, .v.s = "production"},
	{.key = "host.cpus", .type = ATTR_INT, .v.i = 8},
};

static struct attr span_attrs[] = {
	{.key = "db.system", .type = ATTR_STRING, .v.s = "postgresql"},
	{.key = "db.query.text", .type = ATTR_STRING, .v.s = "SELECT * FROM orders WHERE id = $1"},
	{.key = "http.response.status_code", .type = ATTR_INT, .v.i = 503},
	{.key = "performance.slow", .type = ATTR_BOOL, .v.i = 1},
	{.key = "ratio", .type = ATTR_DOUBLE, .v.d = 0.25},
	{.key = "tags", .type = ATTR_JSON, .v.s = "[\"a\",\"b\"]"},
	{.key = "a", .type = ATTR_STRING, .v.s = ""},
};

static struct resource resource = {
	.service_name = "checkout",
	.attrs = resource_attrs,
	.n_attrs = sizeof(resource_attrs) / sizeof(resource_attrs[0]),
};

static const struct span span = {
	.name = "SELECT orders",
	.kind = SPAN_KIND_CLIENT,
	.status = SPAN_STATUS_ERROR,
	.status_message = "upstream timeout",
	.start_ns = 1700000000000000000ull,
	.end_ns = 1700000000750000000ull,
	.resource = &resource,
	.scope_name = "pg",
	.attrs = span_attrs,
	.n_attrs = sizeof(span_attrs) / sizeof(span_attrs[0]),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spanql *q;
	char err[256];
	char *text = malloc(size + 1);

	memcpy(text, data, size);
	text[size] = 0;
	if (spanql_parse(text, &q, err, sizeof(err)) == 0) {
		struct span trace[2] = {span, {.name = "bare"}};
		int m = spanql_match(q, &span);
		if (m != 0 && m != 1)
			abort();
		uint64_t mask = spanql_span_mask(q, &trace[0], NULL) | spanql_span_mask(q, &trace[1], NULL);
		if (spanql_n_sets(q) < 64 && mask >> spanql_n_sets(q))
			abort(); /* a bit past the last set */
		if (spanql_match_trace(q, trace, 2, NULL) != spanql_mask_match(q, mask))
			abort();
		spanql_free(q);
	} else if (q != NULL || strncmp(err, "column ", 7) != 0) {
		abort(); /* every error names its column */
	}
	free(text);
	return 0;
}
