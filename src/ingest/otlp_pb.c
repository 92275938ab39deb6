/*
 * otlp_pb.c - OTLP/HTTP binary protobuf: decode ExportTraceServiceRequest and
 * ExportMetricsServiceRequest into a batch; encode requests, responses and
 * google.rpc.Status.
 *
 * The wire format is parsed by protobuf-c's generated code (build/gen, from
 * proto/).  protobuf-c allocates the unpacked message from the batch's arena,
 * so the decoded strings already live where batch.h wants them: spans point
 * to them without a copy, and batch_release() frees the message with
 * everything else.  What this file owns is the mapping from the OTLP message
 * tree onto struct span / struct metric_point, and the validation.
 *
 * Mapping choices:
 * - Array, key-value-list and bytes attribute values become ATTR_JSON text:
 *   arrays as JSON arrays, kvlists as JSON objects, bytes as a JSON string of
 *   standard base64 (as in OTLP/JSON), an empty AnyValue as null.  Doubles in
 *   that text always carry a '.' or an exponent, so the encoder can tell them
 *   from ints; NaN and infinities are the strings "NaN", "Infinity",
 *   "-Infinity".
 * - Strings that are not valid UTF-8 have each offending byte replaced by
 *   '?' in place (proto3 requires UTF-8; the renderers emit JSON and HTML).
 * - Empty scope name/version, status message and metric unit become NULL.
 * - A span whose trace_id, span_id, parent_span_id or link ids have the
 *   wrong length, or that fails span_validate(), is dropped and counted with
 *   batch_reject().  Histogram points whose bucket counts do not match their
 *   bounds, or whose bounds are not increasing, are rejected likewise.
 * - Exponential histograms and summaries are skipped without error and are
 *   not counted as rejected: hotpath has no data model for them yet.
 *   Number points flagged NO_RECORDED_VALUE are skipped the same way.
 *
 * Memory: protobuf-c allocates a struct of 50-200 bytes for every message,
 * and a message can be 2 bytes on the wire, so a payload of empty messages
 * would expand a hundredfold.  Real requests expand 2-10 times (16 for
 * nothing but one-letter int attributes), so the allocator gives up past
 * UNPACK_EXPANSION times the payload size plus UNPACK_SLACK.
 *
 * Nesting: protobuf-c recurses once per nested message and has no depth
 * limit, so a few kilobytes of nested AnyValue arrays could overflow the
 * stack.  The arena allocator doubles as the guard: protobuf-c allocates every
 * submessage before descending into it, and the allocator refuses (making the
 * unpack fail cleanly) once the unpack has used UNPACK_STACK_MAX bytes of
 * stack.  Threads that decode need a stack comfortably larger than that.
 */
#include "ingest/otlp_pb.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/utf8.h"
#include "google/rpc/status.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Common__V1__ArrayValue pb_array;
typedef Opentelemetry__Proto__Common__V1__KeyValueList pb_kvlist;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event pb_event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link pb_link;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics pb_resource_metrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics pb_scope_metrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric pb_metric;
typedef Opentelemetry__Proto__Metrics__V1__Gauge pb_gauge;
typedef Opentelemetry__Proto__Metrics__V1__Sum pb_sum;
typedef Opentelemetry__Proto__Metrics__V1__Histogram pb_histogram;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint pb_number_point;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint pb_histogram_point;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_trace_request;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest pb_metrics_request;

#define UNPACK_STACK_MAX (256 * 1024)
#define UNPACK_EXPANSION 32
#define UNPACK_SLACK	 (1024 * 1024)
/* Deepest AnyValue nesting turned into JSON (the unpack guard binds first). */
#define JSON_MAX_DEPTH 200

/* ------------------------------------------------------------------------ */
/* Decoding context and the arena allocator handed to protobuf-c.          */

struct pb_dec {
	struct batch *b;
	struct buf json; /* scratch for ATTR_JSON text */
	uintptr_t stack_base;
	size_t budget; /* bytes protobuf-c may still allocate */
	int too_deep, too_big;
	int json_failed;
};

static void *dec_alloc(void *data, size_t size)
{
	struct pb_dec *d = data;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	if (sp < d->stack_base && d->stack_base - sp > UNPACK_STACK_MAX) {
		d->too_deep = 1;
		return NULL;
	}
	if (size > d->budget) {
		d->too_big = 1;
		return NULL;
	}
	d->budget -= size;
	return arena_alloc(&d->b->arena, size);
}

static void dec_free(void *data, void *ptr)
{
	/* arena memory dies with batch_release() */
}

static void dec_init(struct pb_dec *d, struct batch *b, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->b = b;
	d->budget = len > (SIZE_MAX - UNPACK_SLACK) / UNPACK_EXPANSION
			    ? SIZE_MAX
			    : len * UNPACK_EXPANSION + UNPACK_SLACK;
	/* JSON text of one attribute stays within a small multiple of the payload */
	buf_init(&d->json, len * 8 + 1024);
}

static void *dec_unpack(struct pb_dec *d, const ProtobufCMessageDescriptor *desc, const uint8_t *data,
			size_t len)
{
	ProtobufCAllocator a = {dec_alloc, dec_free, d};
	d->stack_base = (uintptr_t)__builtin_frame_address(0);
	return protobuf_c_message_unpack(desc, &a, len, data);
}

static int read_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*off >= len)
			return -1;
		uint8_t c = p[(*off)++];
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

/* Why protobuf-c refused the payload: walk its top-level fields (error path only). */
static int dec_fail(struct pb_dec *d, const uint8_t *p, size_t len, const char *what, char *err,
		    size_t errlen)
{
	size_t off = 0;
	if (d->too_deep)
		return errf(err, errlen, "invalid OTLP protobuf: %s nested too deeply", what);
	if (d->too_big)
		return errf(err, errlen,
			    "invalid OTLP protobuf: %s expands to more than %d times its %zu bytes", what,
			    UNPACK_EXPANSION, len);
	while (off < len) {
		size_t at = off;
		uint64_t tag, n;
		if (read_varint(p, len, &off, &tag) < 0)
			return errf(err, errlen, "invalid OTLP protobuf: truncated field tag at byte %zu",
				    at);
		unsigned field = (unsigned)(tag >> 3), wt = (unsigned)(tag & 7);
		if (field == 0)
			return errf(err, errlen, "invalid OTLP protobuf: field number 0 at byte %zu", at);
		switch (wt) {
		case 0:
			if (read_varint(p, len, &off, &n) < 0)
				return errf(err, errlen,
					    "invalid OTLP protobuf: truncated varint in field %u at byte %zu",
					    field, at);
			break;
		case 1:
		case 5:
			n = wt == 1 ? 8 : 4;
			if (len - off < n)
				return errf(err, errlen,
					    "invalid OTLP protobuf: truncated fixed%d field %u at byte %zu",
					    wt == 1 ? 64 : 32, field, at);
			off += n;
			break;
		case 2:
			if (read_varint(p, len, &off, &n) < 0)
				return errf(err, errlen,
					    "invalid OTLP protobuf: truncated length of field %u at byte %zu",
					    field, at);
			if (n > len - off)
				return errf(err, errlen,
					    "invalid OTLP protobuf: field %u at byte %zu is %" PRIu64
					    " bytes long but only %zu remain (truncated?)",
					    field, at, n, len - off);
			off += n;
			break;
		default:
			return errf(err, errlen,
				    "invalid OTLP protobuf: bad wire type %u in field %u at byte %zu", wt,
				    field, at);
		}
	}
	return errf(err, errlen, "invalid OTLP protobuf: malformed message inside %s", what);
}

/* ------------------------------------------------------------------------ */
/* Strings and attribute values.                                            */

/* Make `s` valid UTF-8 in place; empty strings become NULL when `empty_null`. */
static const char *clean_str(char *s, int empty_null)
{
	unsigned char *p = (unsigned char *)s;
	if (!s || !*s)
		return empty_null ? NULL : "";
	/*
	 * Fast path, 8 bytes at a time while they are ASCII and not NUL.  Only
	 * aligned words are read: they never cross a page, and arena blocks
	 * (where protobuf-c put every string) are padded to 16 bytes.
	 */
	while (((uintptr_t)p & 7) && *p && *p < 0x80)
		p++;
	if (!((uintptr_t)p & 7)) {
		for (;;) {
			uint64_t w;
			memcpy(&w, p, 8);
			if (((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull) |
			    (w & 0x8080808080808080ull))
				break;
			p += 8;
		}
	}
	while (*p) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t n = utf8_decode(p, 4, NULL); /* stops at the NUL */
		if (n)
			p += n;
		else
			*p++ = '?';
	}
	return s;
}

static int json_put_base64(struct buf *j, const uint8_t *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (buf_reserve(j, (n + 2) / 3 * 4 + 2) < 0)
		return -1;
	char *o = j->data + j->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o++ = '"';
	j->len = (size_t)(o - j->data);
	j->data[j->len] = 0;
	return 0;
}

static int json_put_double(struct buf *j, double v)
{
	char tmp[40];
	if (isnan(v))
		return buf_puts(j, "\"NaN\"");
	if (isinf(v))
		return buf_puts(j, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	/* the shortest form that reads back as the same double */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	if (!strpbrk(tmp, ".eE"))
		return buf_printf(j, "%s.0", tmp);
	return buf_puts(j, tmp);
}

static int json_put_value(struct buf *j, const pb_any *v, int depth);

static int json_put_kvlist(struct buf *j, const pb_kvlist *l, int depth)
{
	if (buf_putc(j, '{') < 0)
		return -1;
	for (size_t i = 0; l && i < l->n_values; i++) {
		const pb_kv *kv = l->values[i];
		if ((i && buf_putc(j, ',') < 0) || buf_put_json_str(j, clean_str(kv->key, 0)) < 0 ||
		    buf_putc(j, ':') < 0 || json_put_value(j, kv->value, depth + 1) < 0)
			return -1;
	}
	return buf_putc(j, '}');
}

static int json_put_value(struct buf *j, const pb_any *v, int depth)
{
	if (depth > JSON_MAX_DEPTH)
		return -1;
	switch (v ? v->value_case : OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET) {
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
		return buf_put_json_str(j, clean_str(v->string_value, 0));
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
		return buf_puts(j, v->bool_value ? "true" : "false");
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
		return buf_printf(j, "%" PRId64, v->int_value);
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
		return json_put_double(j, v->double_value);
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
		return json_put_base64(j, v->bytes_value.data, v->bytes_value.len);
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
		return json_put_kvlist(j, v->kvlist_value, depth);
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
		const pb_array *a = v->array_value;
		if (buf_putc(j, '[') < 0)
			return -1;
		for (size_t i = 0; a && i < a->n_values; i++)
			if ((i && buf_putc(j, ',') < 0) || json_put_value(j, a->values[i], depth + 1) < 0)
				return -1;
		return buf_putc(j, ']');
	}
	default: return buf_puts(j, "null");
	}
}

static void map_value(struct pb_dec *d, struct attr *a, const pb_any *v)
{
	switch (v ? v->value_case : OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET) {
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
		a->type = ATTR_STRING;
		a->v.s = clean_str(v->string_value, 0);
		return;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
		a->type = ATTR_BOOL;
		a->v.i = v->bool_value ? 1 : 0;
		return;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
		a->type = ATTR_INT;
		a->v.i = v->int_value;
		return;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
		a->type = ATTR_DOUBLE;
		a->v.d = v->double_value;
		return;
	default:
		a->type = ATTR_JSON;
		buf_reset(&d->json);
		if (json_put_value(&d->json, v, 0) < 0) {
			d->json_failed = 1;
			a->v.s = "null";
			return;
		}
		a->v.s = arena_strndup(&d->b->arena, d->json.data, d->json.len);
		return;
	}
}

static void map_attrs(struct pb_dec *d, pb_kv *const *kvs, size_t n, struct attr **out, uint32_t *nout)
{
	*out = NULL;
	*nout = 0;
	if (!n)
		return;
	struct attr *a = arena_alloc(&d->b->arena, n * sizeof(*a));
	for (size_t i = 0; i < n; i++) {
		a[i].key = clean_str(kvs[i]->key, 0);
		map_value(d, &a[i], kvs[i]->value);
	}
	*out = a;
	*nout = (uint32_t)n;
}

static const struct resource *map_resource(struct pb_dec *d, const pb_resource *pr)
{
	struct resource *r = arena_zalloc(&d->b->arena, sizeof(*r));
	if (pr)
		map_attrs(d, pr->attributes, pr->n_attributes, &r->attrs, &r->n_attrs);
	resource_derive(r);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Traces.                                                                  */

static uint8_t map_kind(int k)
{
	return k >= SPAN_KIND_UNSPECIFIED && k <= SPAN_KIND_CONSUMER ? (uint8_t)k : SPAN_KIND_UNSPECIFIED;
}

/* 0 when the ids of `ps` have valid lengths, else -1 after batch_reject(). */
static int check_ids(struct batch *b, const pb_span *ps, const char *name)
{
	if (ps->trace_id.len != 16) {
		batch_reject(b, "span \"%.80s\": trace_id is %zu bytes, want 16", name, ps->trace_id.len);
		return -1;
	}
	if (ps->span_id.len != 8) {
		batch_reject(b, "span \"%.80s\": span_id is %zu bytes, want 8", name, ps->span_id.len);
		return -1;
	}
	if (ps->parent_span_id.len != 0 && ps->parent_span_id.len != 8) {
		batch_reject(b, "span \"%.80s\": parent_span_id is %zu bytes, want 0 or 8", name,
			     ps->parent_span_id.len);
		return -1;
	}
	for (size_t i = 0; i < ps->n_links; i++) {
		const pb_link *l = ps->links[i];
		if (l->trace_id.len != 16 || l->span_id.len != 8) {
			batch_reject(b,
				     "span \"%.80s\": link %zu has a %zu-byte trace_id and %zu-byte span_id, "
				     "want 16 and 8",
				     name, i, l->trace_id.len, l->span_id.len);
			return -1;
		}
	}
	return 0;
}

static void map_events(struct pb_dec *d, struct span *s, const pb_span *ps)
{
	if (!ps->n_events)
		return;
	s->events = arena_alloc(&d->b->arena, ps->n_events * sizeof(*s->events));
	s->n_events = (uint32_t)ps->n_events;
	for (size_t i = 0; i < ps->n_events; i++) {
		const pb_event *pe = ps->events[i];
		struct span_event *e = &s->events[i];
		e->time_ns = pe->time_unix_nano;
		e->name = clean_str(pe->name, 0);
		map_attrs(d, pe->attributes, pe->n_attributes, &e->attrs, &e->n_attrs);
	}
}

static void map_links(struct pb_dec *d, struct span *s, const pb_span *ps)
{
	if (!ps->n_links)
		return;
	s->links = arena_alloc(&d->b->arena, ps->n_links * sizeof(*s->links));
	s->n_links = (uint32_t)ps->n_links;
	for (size_t i = 0; i < ps->n_links; i++) {
		const pb_link *pl = ps->links[i];
		struct span_link *l = &s->links[i];
		memcpy(l->trace_id, pl->trace_id.data, 16);
		memcpy(l->span_id, pl->span_id.data, 8);
		map_attrs(d, pl->attributes, pl->n_attributes, &l->attrs, &l->n_attrs);
	}
}

static void map_span(struct pb_dec *d, const pb_span *ps, const struct resource *res, const pb_scope *scope)
{
	struct batch *b = d->b;
	const char *name = clean_str(ps->name, 0);
	char why[128];

	if (check_ids(b, ps, name) < 0)
		return;
	struct span *s = batch_add_span(b);
	memcpy(s->trace_id, ps->trace_id.data, 16);
	memcpy(s->span_id, ps->span_id.data, 8);
	if (ps->parent_span_id.len == 8)
		memcpy(s->parent_span_id, ps->parent_span_id.data, 8);
	s->name = name;
	s->kind = map_kind(ps->kind);
	if (ps->status) {
		int c = ps->status->code;
		s->status = c == SPAN_STATUS_OK || c == SPAN_STATUS_ERROR ? (uint8_t)c : SPAN_STATUS_UNSET;
		s->status_message = clean_str(ps->status->message, 1);
	}
	s->start_ns = ps->start_time_unix_nano;
	s->end_ns = ps->end_time_unix_nano;
	s->resource = res;
	if (scope) {
		s->scope_name = clean_str(scope->name, 1);
		s->scope_version = clean_str(scope->version, 1);
	}
	map_attrs(d, ps->attributes, ps->n_attributes, &s->attrs, &s->n_attrs);
	map_events(d, s, ps);
	map_links(d, s, ps);
	if (span_validate(s, why, sizeof(why)) < 0) {
		batch_drop_last_span(b);
		batch_reject(b, "span \"%.80s\": %s", name, why);
	}
}

int otlp_pb_decode_traces(struct batch *b, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	size_t n0 = b->n_spans, total = 0;
	uint64_t rejected0 = b->rejected;
	struct pb_dec d;
	int rc = -1;

	if (len == 0)
		return 0;
	dec_init(&d, b, len);
	pb_trace_request *req = dec_unpack(
		&d, &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
		data, len);
	if (!req) {
		dec_fail(&d, data, len, "ExportTraceServiceRequest", err, errlen);
		goto out;
	}
	for (size_t i = 0; i < req->n_resource_spans; i++)
		for (size_t j = 0; j < req->resource_spans[i]->n_scope_spans; j++)
			total += req->resource_spans[i]->scope_spans[j]->n_spans;
	if (total)
		b->spans = xgrow(b->spans, &b->cap_spans, b->n_spans + total, sizeof(*b->spans));

	for (size_t i = 0; i < req->n_resource_spans; i++) {
		const pb_resource_spans *rs = req->resource_spans[i];
		const struct resource *res = map_resource(&d, rs->resource);
		for (size_t j = 0; j < rs->n_scope_spans; j++) {
			const pb_scope_spans *ss = rs->scope_spans[j];
			for (size_t k = 0; k < ss->n_spans; k++)
				map_span(&d, ss->spans[k], res, ss->scope);
		}
	}
	if (d.json_failed) {
		errf(err, errlen, "invalid OTLP protobuf: attribute value too large or nested too deeply");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		b->n_spans = n0;
		b->rejected = rejected0;
		if (!rejected0)
			b->reject_msg[0] = 0;
	}
	buf_release(&d.json);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Metrics.                                                                 */

struct metric_ctx {
	const struct resource *res;
	const char *name, *unit;
};

static void map_number_point(struct pb_dec *d, const struct metric_ctx *m, uint8_t type,
			     const pb_number_point *pp)
{
	if (pp->flags &
	    OPENTELEMETRY__PROTO__METRICS__V1__DATA_POINT_FLAGS__DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)
		return;
	struct metric_point *p = batch_add_point(d->b);
	p->resource = m->res;
	p->name = m->name;
	p->unit = m->unit;
	p->type = type;
	p->start_ns = pp->start_time_unix_nano;
	p->time_ns = pp->time_unix_nano;
	if (pp->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
		p->value = (double)pp->as_int;
	else if (pp->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE)
		p->value = pp->as_double;
	map_attrs(d, pp->attributes, pp->n_attributes, &p->attrs, &p->n_attrs);
}

static void map_histogram_point(struct pb_dec *d, const struct metric_ctx *m, const pb_histogram_point *hp)
{
	size_t nb = hp->n_explicit_bounds, nc = hp->n_bucket_counts;
	uint64_t *counts = hp->bucket_counts;

	if (hp->flags &
	    OPENTELEMETRY__PROTO__METRICS__V1__DATA_POINT_FLAGS__DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)
		return;
	if (nb == 0 && nc == 0) {
		/* no buckets at all: one bucket holding everything */
		counts = arena_alloc(&d->b->arena, sizeof(*counts));
		counts[0] = hp->count;
		nc = 1;
	}
	if (nc != nb + 1 || nb > UINT32_MAX - 1) {
		batch_reject(d->b,
			     "metric \"%.80s\": histogram has %zu bucket counts for %zu bounds, want %zu",
			     m->name, nc, nb, nb + 1);
		return;
	}
	for (size_t i = 1; i < nb; i++) {
		if (!(hp->explicit_bounds[i - 1] < hp->explicit_bounds[i])) {
			batch_reject(d->b, "metric \"%.80s\": histogram bounds are not increasing", m->name);
			return;
		}
	}
	struct metric_point *p = batch_add_point(d->b);
	p->resource = m->res;
	p->name = m->name;
	p->unit = m->unit;
	p->type = METRIC_HISTOGRAM;
	p->start_ns = hp->start_time_unix_nano;
	p->time_ns = hp->time_unix_nano;
	p->count = hp->count;
	p->sum = hp->sum;
	p->n_bounds = (uint32_t)nb;
	p->bounds = hp->explicit_bounds; /* unpacked into the arena already */
	p->bucket_counts = counts;
	map_attrs(d, hp->attributes, hp->n_attributes, &p->attrs, &p->n_attrs);
}

static void map_metric(struct pb_dec *d, const struct resource *res, const pb_metric *pm)
{
	struct metric_ctx m = {res, clean_str(pm->name, 0), clean_str(pm->unit, 1)};
	size_t n = 0;

	switch (pm->data_case) {
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: n = pm->gauge->n_data_points; break;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: n = pm->sum->n_data_points; break;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
		n = pm->histogram->n_data_points;
		break;
	default: return; /* exponential histogram, summary, unset: skipped, see the top */
	}
	if (!*m.name) {
		for (size_t i = 0; i < n; i++)
			batch_reject(d->b, "metric has no name");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (pm->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE)
			map_number_point(d, &m, METRIC_GAUGE, pm->gauge->data_points[i]);
		else if (pm->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM)
			map_number_point(d, &m, METRIC_SUM, pm->sum->data_points[i]);
		else
			map_histogram_point(d, &m, pm->histogram->data_points[i]);
	}
}

int otlp_pb_decode_metrics(struct batch *b, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	size_t n0 = b->n_points;
	uint64_t rejected0 = b->rejected;
	struct pb_dec d;
	int rc = -1;

	if (len == 0)
		return 0;
	dec_init(&d, b, len);
	pb_metrics_request *req = dec_unpack(
		&d, &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
		data, len);
	if (!req) {
		dec_fail(&d, data, len, "ExportMetricsServiceRequest", err, errlen);
		goto out;
	}
	for (size_t i = 0; i < req->n_resource_metrics; i++) {
		const pb_resource_metrics *rm = req->resource_metrics[i];
		const struct resource *res = map_resource(&d, rm->resource);
		for (size_t j = 0; j < rm->n_scope_metrics; j++) {
			const pb_scope_metrics *sm = rm->scope_metrics[j];
			for (size_t k = 0; k < sm->n_metrics; k++)
				map_metric(&d, res, sm->metrics[k]);
		}
	}
	if (d.json_failed) {
		errf(err, errlen, "invalid OTLP protobuf: attribute value too large or nested too deeply");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		b->n_points = n0;
		b->rejected = rejected0;
		if (!rejected0)
			b->reject_msg[0] = 0;
	}
	buf_release(&d.json);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Encoding: ATTR_JSON text back to AnyValue.                               */

struct jparse {
	const char *p, *end;
	struct arena *a;
};

static void jp_ws(struct jparse *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int jp_lit(struct jparse *j, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return 0;
	j->p += n;
	return 1;
}

static int hex4(const char *p, uint32_t *v)
{
	uint8_t b[2];
	if (hex_decode(b, 2, p, 4) < 0)
		return -1;
	*v = (uint32_t)b[0] << 8 | b[1];
	return 0;
}

/* A JSON string literal (at the opening quote) into a new arena string. */
static char *jp_string(struct jparse *j)
{
	const char *p = ++j->p;
	/* the decoded text is never longer than the literal */
	char *out = arena_alloc(j->a, (size_t)(j->end - p) + 1), *o = out;
	while (p < j->end && *p != '"') {
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		if (++p >= j->end)
			return NULL;
		char c = *p++;
		uint32_t u, lo;
		switch (c) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'u':
			if (j->end - p < 4 || hex4(p, &u) < 0)
				return NULL;
			p += 4;
			if (u >= 0xd800 && u < 0xdc00 && j->end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
			    hex4(p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else if (u >= 0xd800 && u < 0xe000)
				u = 0xfffd;
			o += utf8_encode(o, u);
			break;
		default: *o++ = c; break;
		}
	}
	if (p >= j->end)
		return NULL;
	j->p = p + 1;
	*o = 0;
	return out;
}

static pb_any *jp_value(struct jparse *j, int depth);

static pb_any *jp_array(struct jparse *j, pb_any *v, int depth)
{
	pb_array *arr = arena_alloc(j->a, sizeof(*arr));
	size_t cap = 0;
	opentelemetry__proto__common__v1__array_value__init(arr);
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		goto done;
	}
	for (;;) {
		pb_any *e = jp_value(j, depth + 1);
		if (!e)
			return NULL;
		arr->values = arena_grow(j->a, arr->values, &cap, arr->n_values + 1, sizeof(*arr->values));
		arr->values[arr->n_values++] = e;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			break;
		}
		return NULL;
	}
done:
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
	v->array_value = arr;
	return v;
}

static pb_any *jp_object(struct jparse *j, pb_any *v, int depth)
{
	pb_kvlist *l = arena_alloc(j->a, sizeof(*l));
	size_t cap = 0;
	opentelemetry__proto__common__v1__key_value_list__init(l);
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		goto done;
	}
	for (;;) {
		pb_kv *kv = arena_alloc(j->a, sizeof(*kv));
		opentelemetry__proto__common__v1__key_value__init(kv);
		jp_ws(j);
		if (j->p >= j->end || *j->p != '"' || !(kv->key = jp_string(j)))
			return NULL;
		jp_ws(j);
		if (j->p >= j->end || *j->p++ != ':')
			return NULL;
		if (!(kv->value = jp_value(j, depth + 1)))
			return NULL;
		l->values = arena_grow(j->a, l->values, &cap, l->n_values + 1, sizeof(*l->values));
		l->values[l->n_values++] = kv;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			break;
		}
		return NULL;
	}
done:
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
	v->kvlist_value = l;
	return v;
}

static pb_any *jp_number(struct jparse *j, pb_any *v)
{
	const char *s = j->p;
	int is_float = 0;
	while (j->p < j->end && strchr("+-0123456789.eE", *j->p)) {
		if (*j->p == '.' || *j->p == 'e' || *j->p == 'E')
			is_float = 1;
		j->p++;
	}
	size_t n = (size_t)(j->p - s);
	char tmp[64], *endp;
	if (n == 0 || n >= sizeof(tmp))
		return NULL;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	if (!is_float) {
		errno = 0;
		long long ll = strtoll(tmp, &endp, 10);
		if (*endp == 0 && errno == 0) {
			v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
			v->int_value = ll;
			return v;
		}
	}
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
	v->double_value = strtod(tmp, &endp);
	return *endp == 0 ? v : NULL;
}

static pb_any *jp_value(struct jparse *j, int depth)
{
	pb_any *v = arena_alloc(j->a, sizeof(*v));
	opentelemetry__proto__common__v1__any_value__init(v);
	if (depth > JSON_MAX_DEPTH)
		return NULL;
	jp_ws(j);
	if (j->p >= j->end)
		return NULL;
	switch (*j->p) {
	case '[': return jp_array(j, v, depth);
	case '{': return jp_object(j, v, depth);
	case '"':
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		return (v->string_value = jp_string(j)) ? v : NULL;
	case 't':
	case 'f':
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
		v->bool_value = *j->p == 't';
		return jp_lit(j, v->bool_value ? "true" : "false") ? v : NULL;
	case 'n': return jp_lit(j, "null") ? v : NULL;
	default: return jp_number(j, v);
	}
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Standard or URL-safe base64, padding optional; -1 if `s` is not base64. */
static int b64_decode(struct arena *a, const char *s, ProtobufCBinaryData *out)
{
	size_t n = strlen(s);
	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	uint8_t *o = arena_alloc(a, n * 3 / 4 + 1);
	size_t len = 0;
	uint32_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			o[len++] = (uint8_t)(acc >> 16);
			o[len++] = (uint8_t)(acc >> 8);
			o[len++] = (uint8_t)acc;
			acc = 0;
		}
	}
	if (n % 4 == 2)
		o[len++] = (uint8_t)(acc >> 4);
	else if (n % 4 == 3) {
		o[len++] = (uint8_t)(acc >> 10);
		o[len++] = (uint8_t)(acc >> 2);
	}
	out->data = o;
	out->len = len;
	return 0;
}

/*
 * ATTR_JSON text as an AnyValue.  A top-level JSON string can only have come
 * from bytes (strings are ATTR_STRING), so it is base64-decoded back into
 * bytes.  Text that is not JSON travels as a plain string.
 */
static pb_any *json_to_any(struct arena *a, const char *text)
{
	struct jparse j = {text, text + strlen(text), a};
	pb_any *v = jp_value(&j, 0);
	if (v) {
		jp_ws(&j);
		if (j.p != j.end)
			v = NULL;
	}
	if (v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE) {
		ProtobufCBinaryData bin;
		if (b64_decode(a, v->string_value, &bin) == 0) {
			v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
			v->bytes_value = bin;
		}
	}
	if (!v) {
		v = arena_alloc(a, sizeof(*v));
		opentelemetry__proto__common__v1__any_value__init(v);
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		v->string_value = (char *)text;
	}
	return v;
}

/* ------------------------------------------------------------------------ */
/* Encoding: batch to protobuf-c messages.                                  */

static char *enc_str(const char *s)
{
	return (char *)(s ? s : "");
}

static pb_kv **enc_attrs(struct arena *a, const struct attr *attrs, uint32_t n)
{
	pb_kv **out = arena_alloc(a, (n ? n : 1) * sizeof(*out));
	for (uint32_t i = 0; i < n; i++) {
		pb_kv *kv = arena_alloc(a, sizeof(*kv));
		pb_any *v;
		opentelemetry__proto__common__v1__key_value__init(kv);
		kv->key = enc_str(attrs[i].key);
		if (attrs[i].type == ATTR_JSON) {
			v = json_to_any(a, attrs[i].v.s ? attrs[i].v.s : "null");
		} else {
			v = arena_alloc(a, sizeof(*v));
			opentelemetry__proto__common__v1__any_value__init(v);
			switch (attrs[i].type) {
			case ATTR_BOOL:
				v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
				v->bool_value = attrs[i].v.i != 0;
				break;
			case ATTR_INT:
				v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
				v->int_value = attrs[i].v.i;
				break;
			case ATTR_DOUBLE:
				v->value_case =
					OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
				v->double_value = attrs[i].v.d;
				break;
			default:
				v->value_case =
					OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
				v->string_value = enc_str(attrs[i].v.s);
				break;
			}
		}
		kv->value = v;
		out[i] = kv;
	}
	return out;
}

static pb_resource *enc_resource(struct arena *a, const struct resource *r)
{
	pb_resource *pr = arena_alloc(a, sizeof(*pr));
	opentelemetry__proto__resource__v1__resource__init(pr);
	if (r) {
		pr->attributes = enc_attrs(a, r->attrs, r->n_attrs);
		pr->n_attributes = r->n_attrs;
	}
	return pr;
}

static ProtobufCBinaryData enc_bytes(const uint8_t *p, size_t n)
{
	ProtobufCBinaryData d = {n, (uint8_t *)p};
	return d;
}

static pb_span *enc_span(struct arena *a, const struct span *s)
{
	pb_span *p = arena_alloc(a, sizeof(*p));
	opentelemetry__proto__trace__v1__span__init(p);
	p->trace_id = enc_bytes(s->trace_id, 16);
	p->span_id = enc_bytes(s->span_id, 8);
	if (!hex_is_zero(s->parent_span_id, 8))
		p->parent_span_id = enc_bytes(s->parent_span_id, 8);
	p->name = enc_str(s->name);
	p->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)s->kind;
	p->start_time_unix_nano = s->start_ns;
	p->end_time_unix_nano = s->end_ns;
	p->attributes = enc_attrs(a, s->attrs, s->n_attrs);
	p->n_attributes = s->n_attrs;
	if (s->n_events) {
		p->events = arena_alloc(a, s->n_events * sizeof(*p->events));
		p->n_events = s->n_events;
		for (uint32_t i = 0; i < s->n_events; i++) {
			pb_event *e = arena_alloc(a, sizeof(*e));
			opentelemetry__proto__trace__v1__span__event__init(e);
			e->time_unix_nano = s->events[i].time_ns;
			e->name = enc_str(s->events[i].name);
			e->attributes = enc_attrs(a, s->events[i].attrs, s->events[i].n_attrs);
			e->n_attributes = s->events[i].n_attrs;
			p->events[i] = e;
		}
	}
	if (s->n_links) {
		p->links = arena_alloc(a, s->n_links * sizeof(*p->links));
		p->n_links = s->n_links;
		for (uint32_t i = 0; i < s->n_links; i++) {
			pb_link *l = arena_alloc(a, sizeof(*l));
			opentelemetry__proto__trace__v1__span__link__init(l);
			l->trace_id = enc_bytes(s->links[i].trace_id, 16);
			l->span_id = enc_bytes(s->links[i].span_id, 8);
			l->attributes = enc_attrs(a, s->links[i].attrs, s->links[i].n_attrs);
			l->n_attributes = s->links[i].n_attrs;
			p->links[i] = l;
		}
	}
	if (s->status != SPAN_STATUS_UNSET || s->status_message) {
		pb_status *st = arena_alloc(a, sizeof(*st));
		opentelemetry__proto__trace__v1__status__init(st);
		st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)s->status;
		st->message = enc_str(s->status_message);
		p->status = st;
	}
	return p;
}

static int pack_into(const ProtobufCMessage *m, struct buf *out)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	if (buf_reserve(out, n) < 0)
		return -1;
	protobuf_c_message_pack(m, (uint8_t *)out->data + out->len);
	out->len += n;
	out->data[out->len] = 0;
	return 0;
}

/*
 * Grouping for the encoders: items with equal (ptr, s1, s2, k) share a
 * group; groups are numbered in order of first appearance.  A hash table
 * keeps it linear in the number of items.
 */
struct gkey {
	const void *ptr;
	const char *s1, *s2;
	int k;
};

static uint64_t gkey_hash(const struct gkey *g)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)g->ptr ^ (uint64_t)g->k << 48;
	for (const char *s = g->s1 ? g->s1 : ""; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *s = g->s2 ? g->s2 : ""; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h ^ h >> 29;
}

static int str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static int gkey_eq(const struct gkey *a, const struct gkey *b)
{
	return a->ptr == b->ptr && a->k == b->k && str_eq(a->s1, b->s1) && str_eq(a->s2, b->s2);
}

/* Fill group_of[i] for each key; returns the number of groups. */
static size_t group_keys(struct arena *a, const struct gkey *keys, size_t n, size_t *group_of)
{
	size_t cap = 16, ngroups = 0;
	while (cap < 2 * n)
		cap *= 2;
	size_t *slot = arena_zalloc(a, cap * sizeof(*slot)); /* first item index + 1 */
	for (size_t i = 0; i < n; i++) {
		if (i && gkey_eq(&keys[i], &keys[i - 1])) {
			group_of[i] = group_of[i - 1];
			continue;
		}
		size_t h = (size_t)gkey_hash(&keys[i]) & (cap - 1);
		while (slot[h] && !gkey_eq(&keys[slot[h] - 1], &keys[i]))
			h = (h + 1) & (cap - 1);
		if (slot[h]) {
			group_of[i] = group_of[slot[h] - 1];
		} else {
			slot[h] = i + 1;
			group_of[i] = ngroups++;
		}
	}
	return ngroups;
}

/*
 * Two-level grouping shared by both encoders: items into groups by `keys`,
 * groups into resources by their resource pointer.  Outputs, all in `a`:
 * group_of[item], res_of[group], first[group] (first item), the counts.
 */
struct grouping {
	size_t *group_of, *res_of, *first, *n_items, *n_groups_of_res;
	size_t ngroups, nres;
};

static void group_two_levels(struct arena *a, const struct gkey *keys, size_t n, struct grouping *g)
{
	g->group_of = arena_alloc(a, (n ? n : 1) * sizeof(size_t));
	g->ngroups = group_keys(a, keys, n, g->group_of);
	g->first = arena_alloc(a, (g->ngroups ? g->ngroups : 1) * sizeof(size_t));
	g->n_items = arena_zalloc(a, (g->ngroups ? g->ngroups : 1) * sizeof(size_t));
	for (size_t i = n; i-- > 0;) {
		g->first[g->group_of[i]] = i;
		g->n_items[g->group_of[i]]++;
	}
	struct gkey *rkeys = arena_zalloc(a, (g->ngroups ? g->ngroups : 1) * sizeof(*rkeys));
	for (size_t i = 0; i < g->ngroups; i++)
		rkeys[i].ptr = keys[g->first[i]].ptr;
	g->res_of = arena_alloc(a, (g->ngroups ? g->ngroups : 1) * sizeof(size_t));
	g->nres = group_keys(a, rkeys, g->ngroups, g->res_of);
	g->n_groups_of_res = arena_zalloc(a, (g->nres ? g->nres : 1) * sizeof(size_t));
	for (size_t i = 0; i < g->ngroups; i++)
		g->n_groups_of_res[g->res_of[i]]++;
}

int otlp_pb_encode_traces(const struct batch *b, struct buf *out)
{
	struct arena a = ARENA_INIT;
	struct grouping g;
	size_t n = b->n_spans;
	pb_trace_request req;
	int rc;

	opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
	struct gkey *keys = arena_alloc(&a, (n ? n : 1) * sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		const struct span *s = &b->spans[i];
		keys[i] = (struct gkey){s->resource, s->scope_name, s->scope_version, 0};
	}
	group_two_levels(&a, keys, n, &g);

	pb_resource_spans **rs = arena_alloc(&a, (g.nres ? g.nres : 1) * sizeof(*rs));
	for (size_t r = 0; r < g.nres; r++) {
		rs[r] = arena_alloc(&a, sizeof(*rs[r]));
		opentelemetry__proto__trace__v1__resource_spans__init(rs[r]);
		rs[r]->scope_spans = arena_alloc(&a, g.n_groups_of_res[r] * sizeof(*rs[r]->scope_spans));
	}
	pb_scope_spans **ss = arena_alloc(&a, (g.ngroups ? g.ngroups : 1) * sizeof(*ss));
	for (size_t i = 0; i < g.ngroups; i++) {
		const struct span *s = &b->spans[g.first[i]];
		pb_resource_spans *r = rs[g.res_of[i]];
		ss[i] = arena_alloc(&a, sizeof(*ss[i]));
		opentelemetry__proto__trace__v1__scope_spans__init(ss[i]);
		ss[i]->spans = arena_alloc(&a, g.n_items[i] * sizeof(*ss[i]->spans));
		if (s->scope_name || s->scope_version) {
			pb_scope *sc = arena_alloc(&a, sizeof(*sc));
			opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
			sc->name = enc_str(s->scope_name);
			sc->version = enc_str(s->scope_version);
			ss[i]->scope = sc;
		}
		if (!r->resource)
			r->resource = enc_resource(&a, s->resource);
		r->scope_spans[r->n_scope_spans++] = ss[i];
	}
	for (size_t i = 0; i < n; i++) {
		pb_scope_spans *sc = ss[g.group_of[i]];
		sc->spans[sc->n_spans++] = enc_span(&a, &b->spans[i]);
	}
	req.n_resource_spans = g.nres;
	req.resource_spans = rs;
	rc = pack_into(&req.base, out);
	arena_release(&a);
	return rc;
}

static Opentelemetry__Proto__Metrics__V1__NumberDataPoint *enc_number_point(struct arena *a,
									    const struct metric_point *p)
{
	pb_number_point *np = arena_alloc(a, sizeof(*np));
	opentelemetry__proto__metrics__v1__number_data_point__init(np);
	np->start_time_unix_nano = p->start_ns;
	np->time_unix_nano = p->time_ns;
	np->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
	np->as_double = p->value;
	np->attributes = enc_attrs(a, p->attrs, p->n_attrs);
	np->n_attributes = p->n_attrs;
	return np;
}

static pb_histogram_point *enc_histogram_point(struct arena *a, const struct metric_point *p)
{
	pb_histogram_point *hp = arena_alloc(a, sizeof(*hp));
	opentelemetry__proto__metrics__v1__histogram_data_point__init(hp);
	hp->start_time_unix_nano = p->start_ns;
	hp->time_unix_nano = p->time_ns;
	hp->count = p->count;
	hp->sum = p->sum;
	hp->n_explicit_bounds = p->n_bounds;
	hp->explicit_bounds = p->bounds;
	hp->n_bucket_counts = p->bucket_counts ? p->n_bounds + 1 : 0;
	hp->bucket_counts = p->bucket_counts;
	hp->attributes = enc_attrs(a, p->attrs, p->n_attrs);
	hp->n_attributes = p->n_attrs;
	return hp;
}

/* An empty Metric of the type of `p`, with room for `n` points. */
static pb_metric *enc_metric(struct arena *a, const struct metric_point *p, size_t n)
{
	pb_metric *m = arena_alloc(a, sizeof(*m));
	opentelemetry__proto__metrics__v1__metric__init(m);
	m->name = enc_str(p->name);
	m->unit = enc_str(p->unit);
	if (p->type == METRIC_HISTOGRAM) {
		pb_histogram *h = arena_alloc(a, sizeof(*h));
		opentelemetry__proto__metrics__v1__histogram__init(h);
		h->aggregation_temporality =
			OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
		h->data_points = arena_alloc(a, n * sizeof(*h->data_points));
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
		m->histogram = h;
	} else if (p->type == METRIC_SUM) {
		pb_sum *s = arena_alloc(a, sizeof(*s));
		opentelemetry__proto__metrics__v1__sum__init(s);
		s->aggregation_temporality =
			OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
		s->is_monotonic = 1;
		s->data_points = arena_alloc(a, n * sizeof(*s->data_points));
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
		m->sum = s;
	} else {
		pb_gauge *gg = arena_alloc(a, sizeof(*gg));
		opentelemetry__proto__metrics__v1__gauge__init(gg);
		gg->data_points = arena_alloc(a, n * sizeof(*gg->data_points));
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
		m->gauge = gg;
	}
	return m;
}

static void enc_add_point(struct arena *a, pb_metric *m, const struct metric_point *p)
{
	if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM)
		m->histogram->data_points[m->histogram->n_data_points++] = enc_histogram_point(a, p);
	else if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM)
		m->sum->data_points[m->sum->n_data_points++] = enc_number_point(a, p);
	else
		m->gauge->data_points[m->gauge->n_data_points++] = enc_number_point(a, p);
}

int otlp_pb_encode_metrics(const struct batch *b, struct buf *out)
{
	struct arena a = ARENA_INIT;
	struct grouping g;
	size_t n = b->n_points;
	pb_metrics_request req;
	int rc;

	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(&req);
	struct gkey *keys = arena_alloc(&a, (n ? n : 1) * sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		const struct metric_point *p = &b->points[i];
		keys[i] = (struct gkey){p->resource, p->name, p->unit, p->type};
	}
	group_two_levels(&a, keys, n, &g);

	/* one ResourceMetrics per resource, holding one ScopeMetrics */
	pb_resource_metrics **rm = arena_alloc(&a, (g.nres ? g.nres : 1) * sizeof(*rm));
	for (size_t r = 0; r < g.nres; r++) {
		pb_scope_metrics *sm = arena_alloc(&a, sizeof(*sm));
		opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
		sm->metrics = arena_alloc(&a, g.n_groups_of_res[r] * sizeof(*sm->metrics));
		rm[r] = arena_alloc(&a, sizeof(*rm[r]));
		opentelemetry__proto__metrics__v1__resource_metrics__init(rm[r]);
		rm[r]->scope_metrics = arena_alloc(&a, sizeof(*rm[r]->scope_metrics));
		rm[r]->scope_metrics[0] = sm;
		rm[r]->n_scope_metrics = 1;
	}
	pb_metric **metrics = arena_alloc(&a, (g.ngroups ? g.ngroups : 1) * sizeof(*metrics));
	for (size_t i = 0; i < g.ngroups; i++) {
		const struct metric_point *p = &b->points[g.first[i]];
		pb_resource_metrics *r = rm[g.res_of[i]];
		pb_scope_metrics *sm = r->scope_metrics[0];
		metrics[i] = enc_metric(&a, p, g.n_items[i]);
		if (!r->resource)
			r->resource = enc_resource(&a, p->resource);
		sm->metrics[sm->n_metrics++] = metrics[i];
	}
	for (size_t i = 0; i < n; i++)
		enc_add_point(&a, metrics[g.group_of[i]], &b->points[i]);
	req.n_resource_metrics = g.nres;
	req.resource_metrics = rm;
	rc = pack_into(&req.base, out);
	arena_release(&a);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Responses.                                                               */

int otlp_pb_encode_response(struct buf *out, int metrics, uint64_t rejected, const char *message)
{
	int64_t n = rejected > INT64_MAX ? INT64_MAX : (int64_t)rejected;
	if (metrics) {
		Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse r;
		Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess ps;
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__init(&r);
		opentelemetry__proto__collector__metrics__v1__export_metrics_partial_success__init(&ps);
		if (rejected) {
			ps.rejected_data_points = n;
			ps.error_message = enc_str(message);
			r.partial_success = &ps;
		}
		return pack_into(&r.base, out);
	}
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps;
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__init(&r);
	opentelemetry__proto__collector__trace__v1__export_trace_partial_success__init(&ps);
	if (rejected) {
		ps.rejected_spans = n;
		ps.error_message = enc_str(message);
		r.partial_success = &ps;
	}
	return pack_into(&r.base, out);
}

int otlp_pb_encode_status(struct buf *out, int code, const char *message)
{
	Google__Rpc__Status st;
	google__rpc__status__init(&st);
	st.code = code;
	st.message = enc_str(message);
	return pack_into(&st.base, out);
}
