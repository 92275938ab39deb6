/*
 * otlp_pb.c - OTLP/HTTP binary protobuf: decode ExportTraceServiceRequest and
 * ExportMetricsServiceRequest into a batch (the encoder is otlp_pb_encode.c).
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
 * - Exponential histograms become explicit-bucket histograms
 *   (ingest/exphist.h); a point that cannot (a scale outside [-10, 20],
 *   more than 4096 buckets) is rejected.  Summaries are skipped without
 *   error and are not counted as rejected: hotpath has no data model for
 *   them yet.
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

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/utf8.h"
#include "ingest/exphist.h"
#include "ingest/otlp_pb_types.h"

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
	uint8_t delta; /* DELTA temporality */
};

#define METRIC_DELTA OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA

/* A new point of metric `m`, of `type`, over [start_ns, time_ns]. */
static struct metric_point *add_point(struct pb_dec *d, const struct metric_ctx *m, uint8_t type,
				      uint64_t start_ns, uint64_t time_ns)
{
	struct metric_point *p = batch_add_point(d->b);
	p->resource = m->res;
	p->name = m->name;
	p->unit = m->unit;
	p->type = type;
	p->delta = m->delta;
	p->start_ns = start_ns;
	p->time_ns = time_ns;
	return p;
}

static void map_number_point(struct pb_dec *d, const struct metric_ctx *m, uint8_t type,
			     const pb_number_point *pp)
{
	if (pp->flags &
	    OPENTELEMETRY__PROTO__METRICS__V1__DATA_POINT_FLAGS__DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)
		return;
	struct metric_point *p = add_point(d, m, type, pp->start_time_unix_nano, pp->time_unix_nano);
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
	struct metric_point *p =
		add_point(d, m, METRIC_HISTOGRAM, hp->start_time_unix_nano, hp->time_unix_nano);
	p->count = hp->count;
	p->sum = hp->sum;
	p->n_bounds = (uint32_t)nb;
	p->bounds = hp->explicit_bounds; /* unpacked into the arena already */
	p->bucket_counts = counts;
	map_attrs(d, hp->attributes, hp->n_attributes, &p->attrs, &p->n_attrs);
}

static void
map_exp_histogram_point(struct pb_dec *d, const struct metric_ctx *m,
			const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint *hp)
{
	char msg[160];
	uint64_t low = hp->zero_count;
	const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets *pos = hp->positive,
											*neg = hp->negative;
	for (size_t i = 0; neg && i < neg->n_bucket_counts; i++)
		low += neg->bucket_counts[i];
	struct metric_point *p =
		add_point(d, m, METRIC_HISTOGRAM, hp->start_time_unix_nano, hp->time_unix_nano);
	p->count = hp->count;
	p->sum = hp->sum;
	if (exphist_to_explicit(d->b, p, hp->scale, low, pos ? pos->offset : 0,
				pos ? pos->bucket_counts : NULL, pos ? pos->n_bucket_counts : 0, msg,
				sizeof(msg)) < 0) {
		d->b->n_points--;
		batch_reject(d->b, "metric \"%.80s\": %s", m->name, msg);
		return;
	}
	map_attrs(d, hp->attributes, hp->n_attributes, &p->attrs, &p->n_attrs);
}

static void map_metric(struct pb_dec *d, const struct resource *res, const pb_metric *pm)
{
	struct metric_ctx m = {res, clean_str(pm->name, 0), clean_str(pm->unit, 1), 0};
	size_t n = 0;

	switch (pm->data_case) {
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: n = pm->gauge->n_data_points; break;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
		n = pm->sum->n_data_points;
		m.delta = pm->sum->aggregation_temporality == METRIC_DELTA;
		break;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
		n = pm->histogram->n_data_points;
		m.delta = pm->histogram->aggregation_temporality == METRIC_DELTA;
		break;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
		n = pm->exponential_histogram->n_data_points;
		m.delta = pm->exponential_histogram->aggregation_temporality == METRIC_DELTA;
		break;
	default: return; /* summary, unset: skipped, see the top */
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
		else if (pm->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM)
			map_histogram_point(d, &m, pm->histogram->data_points[i]);
		else
			map_exp_histogram_point(d, &m, pm->exponential_histogram->data_points[i]);
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
