/*
 * lib_hotpath.c - hotpath's whole OTLP/JSON decoder as a candidate row:
 * otlp_json_decode_traces() into a batch (ids decoded, strings copied to the
 * batch arena, spans validated), then the same checksum over the batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "ingest/batch.h"
#include "ingest/otlp_json.h"
#include "json_libs.h"

static void sink_id(struct sink *k, const uint8_t *id, size_t n)
{
	if (!hex_is_zero(id, n))
		k->sum += id[0] + id[n - 1];
}

static void sink_attrs(struct sink *k, const struct attr *a, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		sink_str(k, a[i].key);
		k->attrs++;
		switch (a[i].type) {
		case ATTR_STRING: sink_str(k, a[i].v.s); break;
		case ATTR_INT:
		case ATTR_BOOL: k->sum += (uint64_t)a[i].v.i; break;
		case ATTR_DOUBLE: k->sum += (uint64_t)(a[i].v.d * 4); break;
		default: break;
		}
	}
}

int run_hotpath(const char *json, size_t len, struct sink *k)
{
	struct batch b;
	char err[256];
	const struct resource *last_res = NULL;
	const char *last_scope = NULL;
	batch_init(&b);
	if (otlp_json_decode_traces(&b, json, len, err, sizeof(err)) < 0) {
		fprintf(stderr, "hotpath: %s\n", err);
		batch_release(&b);
		return -1;
	}
	for (size_t i = 0; i < b.n_spans; i++) {
		const struct span *s = &b.spans[i];
		if (s->resource != last_res) { /* one resource (and scope) per 100 spans */
			last_res = s->resource;
			sink_attrs(k, s->resource->attrs, s->resource->n_attrs);
			last_scope = NULL;
		}
		if (s->scope_name != last_scope) {
			last_scope = s->scope_name;
			sink_str(k, s->scope_name);
		}
		sink_id(k, s->trace_id, 16);
		sink_id(k, s->span_id, 8);
		sink_id(k, s->parent_span_id, 8);
		sink_str(k, s->name);
		k->sum += s->kind + s->status + s->start_ns + s->end_ns;
		sink_attrs(k, s->attrs, s->n_attrs);
		k->spans++;
	}
	batch_release(&b);
	return 0;
}
