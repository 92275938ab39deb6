/*
 * test_otlp_pb.c - OTLP/HTTP protobuf decoding and encoding (src/ingest/otlp_pb.c).
 *
 * Round trips check every field of the batch model; the golden vector and the
 * hand-built messages (protobuf-c structs packed here) do not go through our
 * encoder, so a bug shared by encoder and decoder still shows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "google/rpc/status.pb-c.h"
#include "ingest/batch.h"
#include "ingest/otlp_pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "tap.h"

typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_resource_spans;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_trace_request;

/* ---- comparisons ------------------------------------------------------ */

static void check_attrs(const struct attr *got, uint32_t ngot, const struct attr *want, uint32_t nwant,
			const char *what)
{
	is_int(ngot, nwant, "%s: attribute count", what);
	for (uint32_t i = 0; i < ngot && i < nwant; i++) {
		is_str(got[i].key, want[i].key, "%s: attr %u key", what, i);
		is_int(got[i].type, want[i].type, "%s: attr %s type", what, want[i].key);
		switch (want[i].type) {
		case ATTR_STRING:
		case ATTR_JSON:
			is_str(got[i].v.s, want[i].v.s, "%s: attr %s value", what, want[i].key);
			break;
		case ATTR_DOUBLE:
			ok(got[i].v.d == want[i].v.d, "%s: attr %s value %g == %g", what, want[i].key,
			   got[i].v.d, want[i].v.d);
			break;
		default: is_int(got[i].v.i, want[i].v.i, "%s: attr %s value", what, want[i].key);
		}
	}
}

static void check_resource(const struct resource *got, const struct resource *want, const char *what)
{
	if (!ok(got != NULL, "%s: resource present", what))
		return;
	is_str(got->service_name, want->service_name, "%s: service.name", what);
	is_str(got->service_version, want->service_version, "%s: service.version", what);
	is_str(got->environment, want->environment, "%s: environment", what);
	check_attrs(got->attrs, got->n_attrs, want->attrs, want->n_attrs, what);
}

static void check_span(const struct span *got, const struct span *want)
{
	const char *w = want->name;
	ok(memcmp(got->trace_id, want->trace_id, 16) == 0, "%s: trace_id", w);
	ok(memcmp(got->span_id, want->span_id, 8) == 0, "%s: span_id", w);
	ok(memcmp(got->parent_span_id, want->parent_span_id, 8) == 0, "%s: parent_span_id", w);
	is_str(got->name, want->name, "%s: name", w);
	is_int(got->kind, want->kind, "%s: kind", w);
	is_int(got->status, want->status, "%s: status", w);
	is_str(got->status_message, want->status_message, "%s: status message", w);
	is_int(got->start_ns, want->start_ns, "%s: start", w);
	is_int(got->end_ns, want->end_ns, "%s: end", w);
	is_str(got->scope_name, want->scope_name, "%s: scope name", w);
	is_str(got->scope_version, want->scope_version, "%s: scope version", w);
	check_resource(got->resource, want->resource, w);
	check_attrs(got->attrs, got->n_attrs, want->attrs, want->n_attrs, w);
	is_int(got->n_events, want->n_events, "%s: event count", w);
	for (uint32_t i = 0; i < got->n_events && i < want->n_events; i++) {
		is_int(got->events[i].time_ns, want->events[i].time_ns, "%s: event %u time", w, i);
		is_str(got->events[i].name, want->events[i].name, "%s: event %u name", w, i);
		check_attrs(got->events[i].attrs, got->events[i].n_attrs, want->events[i].attrs,
			    want->events[i].n_attrs, "event");
	}
	is_int(got->n_links, want->n_links, "%s: link count", w);
	for (uint32_t i = 0; i < got->n_links && i < want->n_links; i++) {
		ok(memcmp(got->links[i].trace_id, want->links[i].trace_id, 16) == 0, "%s: link %u trace_id",
		   w, i);
		ok(memcmp(got->links[i].span_id, want->links[i].span_id, 8) == 0, "%s: link %u span_id", w,
		   i);
		check_attrs(got->links[i].attrs, got->links[i].n_attrs, want->links[i].attrs,
			    want->links[i].n_attrs, "link");
	}
}

/* ---- a batch with every field kind ------------------------------------ */

static struct attr res_a_attrs[] = {
	{"service.name", ATTR_STRING, {.s = "checkout"}},
	{"service.version", ATTR_STRING, {.s = "1.4.2"}},
	{"deployment.environment.name", ATTR_STRING, {.s = "prod"}},
	{"host.cpus", ATTR_INT, {.i = 8}},
};
static struct attr res_b_attrs[] = {
	{"service.name", ATTR_STRING, {.s = "payments"}},
};
static struct attr span_attrs[] = {
	{"http.route", ATTR_STRING, {.s = "/cart/{id}"}},
	{"unicode", ATTR_STRING, {.s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"}},
	{"empty", ATTR_STRING, {.s = ""}},
	{"cache.hit", ATTR_BOOL, {.i = 1}},
	{"cache.miss", ATTR_BOOL, {.i = 0}},
	{"http.status_code", ATTR_INT, {.i = 503}},
	{"negative", ATTR_INT, {.i = -9223372036854775807LL - 1}},
	{"ratio", ATTR_DOUBLE, {.d = 0.125}},
	{"whole", ATTR_DOUBLE, {.d = -3.0}},
	{"list", ATTR_JSON, {.s = "[\"a\",1,2.5,true,null,[]]"}},
	{"map", ATTR_JSON, {.s = "{\"k\":\"v \\\"q\\\"\",\"n\":{\"x\":[1e+300,-7]},\"e\":{}}"}},
	{"blob", ATTR_JSON, {.s = "\"AAEC/w==\""}},
};
static struct attr event_attrs[] = {
	{"exception.type", ATTR_STRING, {.s = "Timeout"}},
	{"retry", ATTR_INT, {.i = 2}},
};
static struct attr link_attrs[] = {
	{"link.kind", ATTR_STRING, {.s = "follows"}},
};

static void fill_ids(struct span *s, uint8_t seed)
{
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(seed + i + 1);
	for (int i = 0; i < 8; i++)
		s->span_id[i] = (uint8_t)(0x80 + seed + i);
}

static void build_trace_batch(struct batch *b, struct resource *ra, struct resource *rb)
{
	static struct span_event events[2];
	static struct span_link links[1];

	memset(ra, 0, sizeof(*ra));
	ra->attrs = res_a_attrs;
	ra->n_attrs = 4;
	resource_derive(ra);
	memset(rb, 0, sizeof(*rb));
	rb->attrs = res_b_attrs;
	rb->n_attrs = 1;
	resource_derive(rb);

	events[0] = (struct span_event){1700000000100000000ull, "exception", event_attrs, 2};
	events[1] = (struct span_event){1700000000200000000ull, "retry", NULL, 0};
	memset(links, 0, sizeof(links));
	for (int i = 0; i < 16; i++)
		links[0].trace_id[i] = (uint8_t)(0xf0 - i);
	for (int i = 0; i < 8; i++)
		links[0].span_id[i] = (uint8_t)(0x10 + i);
	links[0].attrs = link_attrs;
	links[0].n_attrs = 1;

	/* resource A, scope "http" 1.0: a root server span with everything */
	struct span *s = batch_add_span(b);
	fill_ids(s, 0);
	s->name = "GET /cart/{id}";
	s->kind = SPAN_KIND_SERVER;
	s->status = SPAN_STATUS_ERROR;
	s->status_message = "upstream timeout";
	s->start_ns = 1700000000000000000ull;
	s->end_ns = 1700000000250000000ull;
	s->resource = ra;
	s->scope_name = "http";
	s->scope_version = "1.0";
	s->attrs = span_attrs;
	s->n_attrs = sizeof(span_attrs) / sizeof(span_attrs[0]);
	s->events = events;
	s->n_events = 2;
	s->links = links;
	s->n_links = 1;

	/* resource A, same scope: a client child span */
	s = batch_add_span(b);
	fill_ids(s, 0);
	s->span_id[7] = 0x01;
	memcpy(s->parent_span_id, b->spans[0].span_id, 8);
	s->name = "SELECT carts";
	s->kind = SPAN_KIND_CLIENT;
	s->status = SPAN_STATUS_OK;
	s->start_ns = 1700000000010000000ull;
	s->end_ns = 1700000000020000000ull;
	s->resource = ra;
	s->scope_name = "http";
	s->scope_version = "1.0";

	/* resource A, scope without version */
	s = batch_add_span(b);
	fill_ids(s, 0);
	s->span_id[7] = 0x02;
	memcpy(s->parent_span_id, b->spans[0].span_id, 8);
	s->name = "render";
	s->kind = SPAN_KIND_INTERNAL;
	s->start_ns = s->end_ns = 1700000000030000000ull;
	s->resource = ra;
	s->scope_name = "tmpl";

	/* resource B, no scope, kind unspecified */
	s = batch_add_span(b);
	fill_ids(s, 0x40);
	s->name = "charge";
	s->start_ns = 1;
	s->end_ns = 2;
	s->resource = rb;
}

static void test_trace_round_trip(void)
{
	struct batch in, out;
	struct resource ra, rb;
	struct buf wire;
	char err[256] = "";

	batch_init(&in);
	batch_init(&out);
	buf_init(&wire, BUF_NO_LIMIT);
	build_trace_batch(&in, &ra, &rb);

	is_int(otlp_pb_encode_traces(&in, &wire), 0, "encode traces");
	ok(wire.len > 200, "encoded %zu bytes", wire.len);
	is_int(otlp_pb_decode_traces(&out, (const uint8_t *)wire.data, wire.len, err, sizeof(err)), 0,
	       "decode traces: %s", err);
	is_int(out.n_spans, in.n_spans, "span count");
	is_int(out.rejected, 0, "nothing rejected");
	for (size_t i = 0; i < out.n_spans && i < in.n_spans; i++)
		check_span(&out.spans[i], &in.spans[i]);
	if (out.n_spans == 4) {
		ok(out.spans[0].resource == out.spans[2].resource, "spans of one resource share it");
		ok(out.spans[0].resource != out.spans[3].resource, "the other resource is distinct");
	}

	/* the encoder groups by resource and scope */
	pb_trace_request *req =
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
			NULL, wire.len, (const uint8_t *)wire.data);
	if (ok(req != NULL, "protobuf-c unpacks our request")) {
		is_int(req->n_resource_spans, 2, "two ResourceSpans");
		is_int(req->resource_spans[0]->n_scope_spans, 2, "resource A has two ScopeSpans");
		is_int(req->resource_spans[0]->scope_spans[0]->n_spans, 2, "scope http has two spans");
		is_int(req->resource_spans[1]->n_scope_spans, 1, "resource B has one ScopeSpans");
		ok(req->resource_spans[1]->scope_spans[0]->scope == NULL, "no scope sent when there is none");
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
													NULL);
	}

	/* interleaved resources still give one ResourceSpans per resource */
	struct span tmp = in.spans[1];
	in.spans[1] = in.spans[3];
	in.spans[3] = tmp;
	buf_reset(&wire);
	otlp_pb_encode_traces(&in, &wire);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, wire.len, (const uint8_t *)wire.data);
	if (ok(req != NULL, "unpack interleaved")) {
		is_int(req->n_resource_spans, 2, "interleaved: two ResourceSpans");
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
													NULL);
	}

	buf_release(&wire);
	batch_release(&out);
	batch_release(&in);
}

/* ---- golden vector ---------------------------------------------------- */

/* A minimal ExportTraceServiceRequest, encoded by hand from the .proto. */
/* clang-format off */
static const uint8_t golden[] = {
	0x0a, 0x89, 0x01, /* resource_spans (1), 137 bytes */
	0x0a, 0x17,       /*   resource (1), 23 bytes */
	0x0a, 0x15,       /*     attributes (1): KeyValue, 21 bytes */
	0x0a, 0x0c, 's', 'e', 'r', 'v', 'i', 'c', 'e', '.', 'n', 'a', 'm', 'e', /* key */
	0x12, 0x05,       /*       value (2): AnyValue, 5 bytes */
	0x0a, 0x03, 'a', 'p', 'i', /* string_value (1) "api" */
	0x12, 0x6e,       /*   scope_spans (2), 110 bytes */
	0x0a, 0x0a,       /*     scope (1), 10 bytes */
	0x0a, 0x03, 'l', 'i', 'b', /* name (1) */
	0x12, 0x03, '1', '.', '0', /* version (2) */
	0x12, 0x60,       /*     spans (2), 96 bytes */
	0x0a, 0x10,       /*       trace_id (1), 16 bytes */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
	0x12, 0x08,       /*       span_id (2), 8 bytes */
	0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
	0x22, 0x08,       /*       parent_span_id (4), 8 bytes */
	0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8,
	0x2a, 0x06, 'G', 'E', 'T', ' ', '/', 'x', /* name (5) */
	0x30, 0x02,       /*       kind (6) = SPAN_KIND_SERVER */
	0x39,             /*       start_time_unix_nano (7, fixed64) = 1700000000000000000 */
	0x00, 0x00, 0x2a, 0x36, 0xfe, 0x9c, 0x97, 0x17,
	0x41,             /*       end_time_unix_nano (8, fixed64) = 1700000000250000000 */
	0x80, 0xb2, 0x10, 0x45, 0xfe, 0x9c, 0x97, 0x17,
	0x4a, 0x12,       /*       attributes (9): KeyValue, 18 bytes */
	0x0a, 0x0b, 'h', 't', 't', 'p', '.', 's', 't', 'a', 't', 'u', 's', /* key */
	0x12, 0x03,       /*         value (2): AnyValue, 3 bytes */
	0x18, 0xc8, 0x01, /*           int_value (3) = 200 */
	0x7a, 0x08,       /*       status (15), 8 bytes */
	0x12, 0x04, 'b', 'o', 'o', 'm', /* message (2) */
	0x18, 0x02,       /*         code (3) = STATUS_CODE_ERROR */
};
/* clang-format on */

static void test_golden(void)
{
	static const uint8_t trace_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t span_id[8] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
	static const uint8_t parent[8] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8};
	struct batch b;
	char err[256] = "";

	batch_init(&b);
	is_int(otlp_pb_decode_traces(&b, golden, sizeof(golden), err, sizeof(err)), 0, "golden decodes: %s",
	       err);
	is_int(b.n_spans, 1, "golden: one span");
	if (b.n_spans == 1) {
		const struct span *s = &b.spans[0];
		ok(memcmp(s->trace_id, trace_id, 16) == 0, "golden: trace_id");
		ok(memcmp(s->span_id, span_id, 8) == 0, "golden: span_id");
		ok(memcmp(s->parent_span_id, parent, 8) == 0, "golden: parent_span_id");
		is_str(s->name, "GET /x", "golden: name");
		is_int(s->kind, SPAN_KIND_SERVER, "golden: kind");
		is_int(s->start_ns, 1700000000000000000ll, "golden: start");
		is_int(s->end_ns, 1700000000250000000ll, "golden: end");
		is_int(s->status, SPAN_STATUS_ERROR, "golden: status");
		is_str(s->status_message, "boom", "golden: status message");
		is_str(s->scope_name, "lib", "golden: scope name");
		is_str(s->scope_version, "1.0", "golden: scope version");
		is_str(s->resource->service_name, "api", "golden: service.name derived");
		is_int(s->n_attrs, 1, "golden: one attribute");
		is_str(s->attrs[0].key, "http.status", "golden: attr key");
		is_int(s->attrs[0].type, ATTR_INT, "golden: attr type");
		is_int(s->attrs[0].v.i, 200, "golden: attr value");
		is_int(s->n_events + s->n_links, 0, "golden: no events or links");
	}
	batch_release(&b);
}

/* ---- malformed input --------------------------------------------------- */

static void test_malformed(void)
{
	struct batch b;
	char err[256];

	batch_init(&b);
	err[0] = 0;
	is_int(otlp_pb_decode_traces(&b, golden, sizeof(golden) - 5, err, sizeof(err)), -1,
	       "truncated -> -1");
	ok(strncmp(err, "invalid OTLP protobuf: ", 23) == 0, "truncated message: %s", err);
	ok(strstr(err, "remain") != NULL, "truncated message says bytes are missing: %s", err);
	is_int(b.n_spans, 0, "truncated: no spans");

	/* every strict prefix that cuts the outer field fails, none crashes */
	int failures = 0;
	for (size_t n = 1; n < sizeof(golden); n++) {
		batch_release(&b);
		batch_init(&b);
		failures += otlp_pb_decode_traces(&b, golden, n, err, sizeof(err)) < 0;
	}
	is_int(failures, sizeof(golden) - 1, "every prefix is rejected");

	static const uint8_t bad_wire[] = {0x0f, 0x01}; /* field 1, wire type 7 */
	err[0] = 0;
	is_int(otlp_pb_decode_traces(&b, bad_wire, sizeof(bad_wire), err, sizeof(err)), -1,
	       "bad wire type -> -1");
	ok(strstr(err, "bad wire type 7") != NULL, "bad wire type message: %s", err);

	/* a span field with the wrong wire type inside the message */
	uint8_t inner[sizeof(golden)];
	memcpy(inner, golden, sizeof(golden));
	inner[82] = 0x2d; /* span name (5) as fixed32 instead of bytes */
	ok(golden[82] == 0x2a, "golden[82] is the span name tag");
	err[0] = 0;
	is_int(otlp_pb_decode_traces(&b, inner, sizeof(inner), err, sizeof(err)), -1,
	       "nested bad field -> -1");
	ok(strncmp(err, "invalid OTLP protobuf: ", 23) == 0, "nested bad field message: %s", err);
	is_int(otlp_pb_decode_metrics(&b, golden, sizeof(golden) - 1, err, sizeof(err)), -1,
	       "truncated metrics -> -1");

	/* empty body: a valid empty request */
	batch_release(&b);
	batch_init(&b);
	is_int(otlp_pb_decode_traces(&b, (const uint8_t *)"", 0, err, sizeof(err)), 0, "empty body -> 0");
	is_int(b.n_spans, 0, "empty body: no spans");
	is_int(otlp_pb_decode_metrics(&b, NULL, 0, err, sizeof(err)), 0, "empty metrics body -> 0");
	is_int(b.n_points + b.rejected, 0, "empty metrics body: nothing");
	batch_release(&b);
}

/* Prepend a length-delimited field: tag, varint length, then what follows. */
static size_t prepend_field(uint8_t *buf, size_t start, size_t end, unsigned field)
{
	uint8_t v[10];
	size_t n = 0, len = end - start;
	do {
		v[n++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
		len >>= 7;
	} while (len);
	for (size_t i = n; i-- > 0;)
		buf[--start] = v[i];
	buf[--start] = (uint8_t)(field << 3 | 2);
	return start;
}

/* A request whose one span has an attribute nested `depth` arrays deep. */
static size_t build_nested(uint8_t *buf, size_t size, int depth)
{
	size_t end = size, p = size;
	for (int i = 0; i < depth; i++) {
		p = prepend_field(buf, p, end, 1); /* ArrayValue.values */
		p = prepend_field(buf, p, end, 5); /* AnyValue.array_value */
	}
	p = prepend_field(buf, p, end, 2); /* KeyValue.value */
	buf[--p] = 'k';
	buf[--p] = 1;
	buf[--p] = 0x0a;		   /* KeyValue.key "k" */
	p = prepend_field(buf, p, end, 9); /* Span.attributes */
	/* ids, name "n", start and end times (fixed64: 0x0101... ns, 1972) */
	static const uint8_t ids[] = {0x0a, 16,	  1, 1, 1, 1, 1,    1, 1, 1, 1, 1,    1, 1,   1,    1, 1,
				      1,    0x12, 8, 2, 2, 2, 2,    2, 2, 2, 2, 0x2a, 1, 'n', 0x39, 1, 1,
				      1,    1,	  1, 1, 1, 1, 0x41, 1, 1, 1, 1, 1,    1, 1,   1};
	p -= sizeof(ids);
	memcpy(buf + p, ids, sizeof(ids));
	p = prepend_field(buf, p, end, 2); /* ScopeSpans.spans */
	p = prepend_field(buf, p, end, 2); /* ResourceSpans.scope_spans */
	p = prepend_field(buf, p, end, 1); /* request.resource_spans */
	memmove(buf, buf + p, end - p);
	return end - p;
}

static void test_nesting(void)
{
	size_t size = 4 << 20;
	uint8_t *buf = malloc(size);
	struct batch b;
	char err[256] = "";

	batch_init(&b);
	size_t n = build_nested(buf, size, 3);
	is_int(otlp_pb_decode_traces(&b, buf, n, err, sizeof(err)), 0, "3-deep arrays decode: %s", err);
	is_int(b.n_spans, 1, "3-deep: one span");
	if (b.n_spans == 1) {
		is_int(b.spans[0].attrs[0].type, ATTR_JSON, "nested array is JSON");
		is_str(b.spans[0].attrs[0].v.s, "[[[null]]]", "nested array text");
	}
	batch_release(&b);

	batch_init(&b);
	n = build_nested(buf, size, 200000);
	err[0] = 0;
	is_int(otlp_pb_decode_traces(&b, buf, n, err, sizeof(err)), -1,
	       "200000-deep arrays -> -1 (%zu bytes)", n);
	ok(strstr(err, "nested too deeply") != NULL, "nesting message: %s", err);
	is_int(b.n_spans, 0, "too deep: no spans");
	batch_release(&b);

	/* 200000 empty spans: 2 bytes each on the wire, ~200 bytes unpacked */
	size_t end = size, p = size - 400000;
	for (size_t i = p; i < end; i += 2) {
		buf[i] = 0x12; /* ScopeSpans.spans, length 0 */
		buf[i + 1] = 0;
	}
	p = prepend_field(buf, p, end, 2); /* ResourceSpans.scope_spans */
	p = prepend_field(buf, p, end, 1); /* request.resource_spans */
	batch_init(&b);
	err[0] = 0;
	is_int(otlp_pb_decode_traces(&b, buf + p, end - p, err, sizeof(err)), -1, "200000 empty spans -> -1");
	ok(strstr(err, "expands to more than") != NULL, "expansion message: %s", err);
	batch_release(&b);
	free(buf);
}

/* ---- invalid spans: rejected, the others kept -------------------------- */

static pb_span *mk_span(const char *name, size_t tid_len, size_t sid_len, size_t parent_len)
{
	static uint8_t ids[32];
	pb_span *s = calloc(1, sizeof(*s));
	opentelemetry__proto__trace__v1__span__init(s);
	memset(ids, 0x5a, sizeof(ids));
	s->name = (char *)name;
	s->trace_id = (ProtobufCBinaryData){tid_len, ids};
	s->span_id = (ProtobufCBinaryData){sid_len, ids};
	s->parent_span_id = (ProtobufCBinaryData){parent_len, ids};
	s->start_time_unix_nano = 10;
	s->end_time_unix_nano = 20;
	return s;
}

static size_t pack_spans(pb_span **spans, size_t n, uint8_t **out)
{
	pb_scope_spans ss;
	pb_resource_spans rs;
	pb_trace_request req;
	pb_scope_spans *ssp = &ss;
	pb_resource_spans *rsp = &rs;
	opentelemetry__proto__trace__v1__scope_spans__init(&ss);
	opentelemetry__proto__trace__v1__resource_spans__init(&rs);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
	ss.spans = spans;
	ss.n_spans = n;
	rs.scope_spans = &ssp;
	rs.n_scope_spans = 1;
	req.resource_spans = &rsp;
	req.n_resource_spans = 1;
	size_t len = protobuf_c_message_get_packed_size(&req.base);
	*out = malloc(len + 1);
	protobuf_c_message_pack(&req.base, *out);
	return len;
}

static void test_invalid_spans(void)
{
	pb_span *spans[7];
	uint8_t *wire;
	struct batch b;
	char err[256] = "";

	spans[0] = mk_span("good", 16, 8, 0);
	spans[1] = mk_span("short trace", 5, 8, 0);
	spans[2] = mk_span("short span", 16, 3, 0);
	spans[3] = mk_span("odd parent", 16, 8, 4);
	spans[4] = mk_span("zero ids", 16, 8, 8);
	spans[4]->trace_id.data = (uint8_t *)"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
	spans[5] = mk_span("backwards", 16, 8, 8);
	spans[5]->end_time_unix_nano = 5;
	spans[6] = mk_span("good child", 16, 8, 8);
	size_t len = pack_spans(spans, 7, &wire);

	batch_init(&b);
	is_int(otlp_pb_decode_traces(&b, wire, len, err, sizeof(err)), 0, "invalid spans are not fatal: %s",
	       err);
	is_int(b.n_spans, 2, "the two valid spans are kept");
	if (b.n_spans == 2) {
		is_str(b.spans[0].name, "good", "first kept span");
		is_str(b.spans[1].name, "good child", "second kept span");
		is_str(b.spans[1].resource->service_name, "unknown_service",
		       "absent resource -> unknown_service");
	}
	is_int(b.rejected, 5, "five spans rejected");
	is_str(b.reject_msg, "span \"short trace\": trace_id is 5 bytes, want 16", "first reject message");
	batch_release(&b);

	/* each problem has its own message */
	static const struct {
		int idx;
		const char *msg;
	} cases[] = {
		{2, "span \"short span\": span_id is 3 bytes, want 8"},
		{3, "span \"odd parent\": parent_span_id is 4 bytes, want 0 or 8"},
		{4, "span \"zero ids\": span has an all-zero trace id"},
		{5, "span \"backwards\": span ends before it starts"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *w;
		size_t n = pack_spans(&spans[cases[i].idx], 1, &w);
		batch_init(&b);
		otlp_pb_decode_traces(&b, w, n, err, sizeof(err));
		is_int(b.n_spans * 10 + b.rejected, 1, "%s: dropped and counted", spans[cases[i].idx]->name);
		is_str(b.reject_msg, cases[i].msg, "reject message %zu", i);
		batch_release(&b);
		free(w);
	}
	for (int i = 0; i < 7; i++)
		free(spans[i]);
	free(wire);
}

static void test_utf8(void)
{
	pb_span *s = mk_span("a long ASCII prefix, then \xff and \xc3 and \xc3\xa9 \xed\xa0\x80", 16, 8, 0);
	uint8_t *wire;
	size_t len = pack_spans(&s, 1, &wire);
	struct batch b;
	char err[256] = "";

	batch_init(&b);
	is_int(otlp_pb_decode_traces(&b, wire, len, err, sizeof(err)), 0, "invalid UTF-8 decodes: %s", err);
	if (b.n_spans == 1)
		is_str(b.spans[0].name, "a long ASCII prefix, then ? and ? and \xc3\xa9 ???",
		       "invalid UTF-8 bytes replaced, valid ones kept (surrogates are invalid)");
	batch_release(&b);
	free(wire);
	free(s);
}

/* ---- metrics ----------------------------------------------------------- */

static void check_point(const struct metric_point *got, const struct metric_point *want)
{
	const char *w = want->name;
	is_str(got->name, want->name, "%s: name", w);
	is_str(got->unit, want->unit, "%s: unit", w);
	is_int(got->type, want->type, "%s: type", w);
	is_int(got->start_ns, want->start_ns, "%s: start", w);
	is_int(got->time_ns, want->time_ns, "%s: time", w);
	ok(got->value == want->value, "%s: value %g == %g", w, got->value, want->value);
	is_int(got->count, want->count, "%s: count", w);
	ok(got->sum == want->sum, "%s: sum %g == %g", w, got->sum, want->sum);
	is_int(got->n_bounds, want->n_bounds, "%s: bound count", w);
	for (uint32_t i = 0; i < got->n_bounds && i < want->n_bounds; i++)
		ok(got->bounds[i] == want->bounds[i], "%s: bound %u", w, i);
	if (want->bucket_counts && ok(got->bucket_counts != NULL, "%s: bucket counts", w))
		for (uint32_t i = 0; i <= want->n_bounds; i++)
			is_int(got->bucket_counts[i], want->bucket_counts[i], "%s: bucket %u", w, i);
	check_resource(got->resource, want->resource, w);
	check_attrs(got->attrs, got->n_attrs, want->attrs, want->n_attrs, w);
}

static void test_metrics_round_trip(void)
{
	static double bounds[] = {0.005, 0.01, 0.1, 1};
	static uint64_t counts[] = {3, 0, 7, 1, 2};
	static struct attr pattrs[] = {
		{"route", ATTR_STRING, {.s = "/pay"}},
		{"ok", ATTR_BOOL, {.i = 1}},
		{"tags", ATTR_JSON, {.s = "[\"x\",\"y\"]"}},
	};
	struct resource ra, rb;
	struct batch in, out;
	struct buf wire;
	char err[256] = "";

	batch_init(&in);
	batch_init(&out);
	buf_init(&wire, BUF_NO_LIMIT);
	build_trace_batch(&in, &ra, &rb); /* for the resources */

	struct metric_point *p = batch_add_point(&in);
	*p = (struct metric_point){.resource = &ra,
				   .name = "queue.depth",
				   .unit = "{item}",
				   .type = METRIC_GAUGE,
				   .time_ns = 1700000000000000000ull,
				   .value = -2.5,
				   .attrs = pattrs,
				   .n_attrs = 3};
	p = batch_add_point(&in);
	*p = (struct metric_point){.resource = &ra,
				   .name = "queue.depth",
				   .unit = "{item}",
				   .type = METRIC_GAUGE,
				   .time_ns = 1700000001000000000ull,
				   .value = 4};
	p = batch_add_point(&in);
	*p = (struct metric_point){.resource = &rb,
				   .name = "requests",
				   .type = METRIC_SUM,
				   .start_ns = 1600000000000000000ull,
				   .time_ns = 1700000000000000000ull,
				   .value = 12345,
				   .attrs = pattrs,
				   .n_attrs = 1};
	p = batch_add_point(&in);
	*p = (struct metric_point){.resource = &rb,
				   .name = "latency",
				   .unit = "s",
				   .type = METRIC_HISTOGRAM,
				   .start_ns = 5,
				   .time_ns = 9,
				   .count = 13,
				   .sum = 2.75,
				   .n_bounds = 4,
				   .bounds = bounds,
				   .bucket_counts = counts};

	is_int(otlp_pb_encode_metrics(&in, &wire), 0, "encode metrics");
	is_int(otlp_pb_decode_metrics(&out, (const uint8_t *)wire.data, wire.len, err, sizeof(err)), 0,
	       "decode metrics: %s", err);
	is_int(out.n_points, 4, "four points");
	is_int(out.rejected, 0, "no point rejected");
	for (size_t i = 0; i < out.n_points && i < in.n_points; i++)
		check_point(&out.points[i], &in.points[i]);

	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *req =
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__unpack(
			NULL, wire.len, (const uint8_t *)wire.data);
	if (ok(req != NULL, "protobuf-c unpacks our metrics request")) {
		is_int(req->n_resource_metrics, 2, "two ResourceMetrics");
		Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm =
			req->resource_metrics[0]->scope_metrics[0];
		is_int(sm->n_metrics, 1, "resource A: one metric");
		is_int(sm->metrics[0]->gauge->n_data_points, 2, "gauge holds both points");
		sm = req->resource_metrics[1]->scope_metrics[0];
		is_int(sm->n_metrics, 2, "resource B: two metrics");
		ok(sm->metrics[0]->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM &&
			   sm->metrics[0]->sum->is_monotonic &&
			   sm->metrics[0]->sum->aggregation_temporality ==
				   OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE,
		   "sum is cumulative and monotonic");
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__free_unpacked(
			req, NULL);
	}
	buf_release(&wire);
	batch_release(&out);
	batch_release(&in);
}

/* Metric kinds our encoder never writes: int values, skipped types, bad histograms. */
static void test_metrics_handmade(void)
{
	Opentelemetry__Proto__Metrics__V1__NumberDataPoint np, stale, *npp[2] = {&np, &stale};
	Opentelemetry__Proto__Metrics__V1__Gauge gauge;
	Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ep, *epp = &ep;
	Opentelemetry__Proto__Metrics__V1__ExponentialHistogram eh;
	Opentelemetry__Proto__Metrics__V1__SummaryDataPoint sp, *spp = &sp;
	Opentelemetry__Proto__Metrics__V1__Summary summary;
	Opentelemetry__Proto__Metrics__V1__HistogramDataPoint hp, hp2, *hpp[2] = {&hp, &hp2};
	Opentelemetry__Proto__Metrics__V1__Histogram hist;
	Opentelemetry__Proto__Metrics__V1__Metric m[4], *mp[4] = {&m[0], &m[1], &m[2], &m[3]};
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics sm, *smp = &sm;
	Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm, *rmp = &rm;
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req;
	double bounds[] = {1, 2};
	uint64_t counts[] = {1, 2};

	opentelemetry__proto__metrics__v1__number_data_point__init(&np);
	np.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
	np.as_int = -42;
	np.time_unix_nano = 77;
	opentelemetry__proto__metrics__v1__number_data_point__init(&stale);
	stale.flags =
		OPENTELEMETRY__PROTO__METRICS__V1__DATA_POINT_FLAGS__DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK;
	opentelemetry__proto__metrics__v1__gauge__init(&gauge);
	gauge.data_points = npp;
	gauge.n_data_points = 2;
	opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(&ep);
	ep.count = 4;
	opentelemetry__proto__metrics__v1__exponential_histogram__init(&eh);
	eh.data_points = &epp;
	eh.n_data_points = 1;
	opentelemetry__proto__metrics__v1__summary_data_point__init(&sp);
	sp.count = 4;
	opentelemetry__proto__metrics__v1__summary__init(&summary);
	summary.data_points = &spp;
	summary.n_data_points = 1;
	opentelemetry__proto__metrics__v1__histogram_data_point__init(&hp);
	hp.explicit_bounds = bounds;
	hp.n_explicit_bounds = 2;
	hp.bucket_counts = counts;
	hp.n_bucket_counts = 2; /* want 3 */
	opentelemetry__proto__metrics__v1__histogram_data_point__init(&hp2);
	hp2.count = 9; /* no buckets at all: one implicit bucket */
	opentelemetry__proto__metrics__v1__histogram__init(&hist);
	hist.data_points = hpp;
	hist.n_data_points = 2;
	for (int i = 0; i < 4; i++)
		opentelemetry__proto__metrics__v1__metric__init(&m[i]);
	m[0].name = "int.gauge";
	m[0].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
	m[0].gauge = &gauge;
	m[1].name = "exp";
	m[1].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
	m[1].exponential_histogram = &eh;
	m[2].name = "summary";
	m[2].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
	m[2].summary = &summary;
	m[3].name = "hist";
	m[3].data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
	m[3].histogram = &hist;
	opentelemetry__proto__metrics__v1__scope_metrics__init(&sm);
	sm.metrics = mp;
	sm.n_metrics = 4;
	opentelemetry__proto__metrics__v1__resource_metrics__init(&rm);
	rm.scope_metrics = &smp;
	rm.n_scope_metrics = 1;
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(&req);
	req.resource_metrics = &rmp;
	req.n_resource_metrics = 1;

	size_t len = protobuf_c_message_get_packed_size(&req.base);
	uint8_t *wire = malloc(len);
	protobuf_c_message_pack(&req.base, wire);
	struct batch b;
	char err[256] = "";
	batch_init(&b);
	is_int(otlp_pb_decode_metrics(&b, wire, len, err, sizeof(err)), 0, "handmade metrics decode: %s",
	       err);
	is_int(b.n_points, 3,
	       "int gauge, exponential and bucketless histograms kept; stale, summary skipped");
	if (b.n_points == 3) {
		is_str(b.points[0].name, "int.gauge", "int gauge name");
		ok(b.points[0].value == -42.0, "as_int value becomes %g", b.points[0].value);
		is_int(b.points[0].time_ns, 77, "int gauge time");
		ok(b.points[0].unit == NULL, "empty unit is NULL");
		is_int(b.points[1].type, METRIC_HISTOGRAM, "the exponential histogram as explicit buckets");
		is_int(b.points[2].type, METRIC_HISTOGRAM, "bucketless histogram");
		is_int(b.points[2].n_bounds, 0, "no bounds");
		is_int(b.points[2].bucket_counts[0], 9, "its one bucket holds the count");
	}
	is_int(b.rejected, 1, "the mismatched histogram is rejected");
	is_str(b.reject_msg, "metric \"hist\": histogram has 2 bucket counts for 2 bounds, want 3",
	       "histogram message");
	batch_release(&b);
	free(wire);
}

/* ---- real client: the OpenTelemetry JS SDK ------------------------------ */

/* Written by fuzz/seeds_otlp_pb.mjs; tests run from the repository root. */
static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = malloc(1 << 20);
	*len = f ? fread(p, 1, 1 << 20, f) : 0;
	if (f)
		fclose(f);
	return p;
}

static const struct span *span_named(const struct batch *b, const char *name)
{
	for (size_t i = 0; i < b->n_spans; i++)
		if (strcmp(b->spans[i].name, name) == 0)
			return &b->spans[i];
	return NULL;
}

static void check_attr_str(const struct attr *a, uint32_t n, const char *key, int type, const char *want)
{
	const struct attr *got = attr_find(a, n, key);
	if (!ok(got != NULL, "attribute %s present", key))
		return;
	is_int(got->type, type, "%s type", key);
	is_str(got->v.s, want, "%s value", key);
}

static void check_attr_num(const struct attr *a, uint32_t n, const char *key, int type, double want)
{
	const struct attr *got = attr_find(a, n, key);
	if (!ok(got != NULL, "attribute %s present", key))
		return;
	is_int(got->type, type, "%s type", key);
	double v = type == ATTR_DOUBLE ? got->v.d : (double)got->v.i;
	ok(v == want, "%s value %g, want %g", key, v, want);
}

static void test_sdk_js_traces(void)
{
	size_t len;
	uint8_t *wire = read_file("fuzz/corpus/fuzz_otlp_pb/sdk-js-traces.bin", &len);
	struct batch b;
	char err[256] = "";

	batch_init(&b);
	ok(len > 0, "read sdk-js-traces.bin (%zu bytes)", len);
	is_int(otlp_pb_decode_traces(&b, wire, len, err, sizeof(err)), 0, "JS SDK traces decode: %s", err);
	is_int(b.n_spans, 2, "JS SDK: two spans");
	is_int(b.rejected, 0, "JS SDK: nothing rejected");
	const struct span *root = span_named(&b, "GET /checkout"), *child = span_named(&b, "SELECT orders");
	if (ok(root && child, "JS SDK: both spans by name")) {
		is_int(root->kind, SPAN_KIND_SERVER, "root kind");
		is_int(child->kind, SPAN_KIND_CLIENT, "child kind");
		is_int(root->status, SPAN_STATUS_ERROR, "root status");
		is_str(root->status_message, "upstream timeout", "root status message");
		is_int(child->status, SPAN_STATUS_UNSET, "child status");
		is_int(root->start_ns, 1700000000000000000ll, "root start");
		is_int(root->end_ns, 1700000000010000000ll, "root end");
		is_int(child->start_ns, 1700000000001000000ll, "child start");
		is_int(child->end_ns, 1700000000003000000ll, "child end");
		ok(hex_is_zero(root->parent_span_id, 8), "root has no parent");
		ok(memcmp(child->parent_span_id, root->span_id, 8) == 0, "child's parent is root");
		ok(memcmp(child->trace_id, root->trace_id, 16) == 0, "one trace");
		is_str(root->scope_name, "shop-lib", "scope name");
		is_str(root->scope_version, "0.3.0", "scope version");
		is_str(root->resource->service_name, "js-shop", "service.name");
		is_str(root->resource->service_version, "2.0.1", "service.version");
		is_str(root->resource->environment, "staging", "environment");
		check_attr_str(root->attrs, root->n_attrs, "http.request.method", ATTR_STRING, "GET");
		check_attr_num(root->attrs, root->n_attrs, "http.response.status_code", ATTR_INT, 500);
		check_attr_num(root->attrs, root->n_attrs, "app.ratio", ATTR_DOUBLE, 0.75);
		check_attr_num(root->attrs, root->n_attrs, "app.cached", ATTR_BOOL, 0);
		check_attr_str(root->attrs, root->n_attrs, "app.tags", ATTR_JSON, "[\"a\",\"b\"]");
		check_attr_str(root->attrs, root->n_attrs, "app.codes", ATTR_JSON, "[1,2,3]");
		is_int(root->n_events, 1, "root: one event");
		if (root->n_events == 1) {
			is_str(root->events[0].name, "exception", "event name");
			is_int(root->events[0].time_ns, 1700000000005000000ll, "event time");
			check_attr_str(root->events[0].attrs, root->events[0].n_attrs, "exception.type",
				       ATTR_STRING, "Timeout");
		}
		check_attr_str(child->attrs, child->n_attrs, "db.system.name", ATTR_STRING, "postgresql");
		is_int(child->n_links, 1, "child: one link");
		if (child->n_links == 1) {
			ok(memcmp(child->links[0].span_id, root->span_id, 8) == 0, "link points at root");
			ok(memcmp(child->links[0].trace_id, root->trace_id, 16) == 0, "link trace id");
			check_attr_str(child->links[0].attrs, child->links[0].n_attrs, "link.kind",
				       ATTR_STRING, "follows");
		}
	}
	batch_release(&b);
	free(wire);
}

static const struct metric_point *point_named(const struct batch *b, const char *name)
{
	for (size_t i = 0; i < b->n_points; i++)
		if (strcmp(b->points[i].name, name) == 0)
			return &b->points[i];
	return NULL;
}

static void test_sdk_js_metrics(void)
{
	static const double bounds[] = {0,   5,	  10,	25,   50,   75,	  100,	250,
					500, 750, 1000, 2500, 5000, 7500, 10000};
	static const uint64_t counts[] = {0, 1, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
	size_t len;
	uint8_t *wire = read_file("fuzz/corpus/fuzz_otlp_pb/sdk-js-metrics.bin", &len);
	struct batch b;
	char err[256] = "";

	batch_init(&b);
	ok(len > 0, "read sdk-js-metrics.bin (%zu bytes)", len);
	is_int(otlp_pb_decode_metrics(&b, wire, len, err, sizeof(err)), 0, "JS SDK metrics decode: %s", err);
	is_int(b.n_points, 3, "JS SDK: three points");
	const struct metric_point *c = point_named(&b, "http.requests"), *g = point_named(&b, "queue.depth"),
				  *h = point_named(&b, "http.duration");
	if (ok(c && g && h, "JS SDK: all three metrics")) {
		is_int(c->type, METRIC_SUM, "counter is a sum");
		ok(c->value == 7, "counter value %g", c->value);
		is_str(c->unit, "{request}", "counter unit");
		ok(c->start_ns > 0 && c->time_ns >= c->start_ns, "counter times");
		check_attr_str(c->attrs, c->n_attrs, "route", ATTR_STRING, "/checkout");
		is_str(c->resource->service_name, "js-shop", "metrics resource");
		is_int(g->type, METRIC_GAUGE, "gauge type");
		ok(g->value == 7.5, "gauge value %g", g->value);
		is_int(h->type, METRIC_HISTOGRAM, "histogram type");
		is_int(h->count, 4, "histogram count");
		ok(h->sum == 727, "histogram sum %g", h->sum);
		is_int(h->n_bounds, 15, "default bucket bounds");
		for (uint32_t i = 0; i < h->n_bounds && i < 15; i++)
			ok(h->bounds[i] == bounds[i], "bound %u = %g", i, h->bounds[i]);
		for (uint32_t i = 0; i <= h->n_bounds && i < 16; i++)
			is_int(h->bucket_counts[i], counts[i], "bucket %u", i);
	}
	batch_release(&b);
	free(wire);
}

/* ---- responses ---------------------------------------------------------- */

static void test_responses(void)
{
	struct buf out;
	buf_init(&out, 4096);

	is_int(otlp_pb_encode_response(&out, 0, 0, NULL), 0, "trace response, nothing rejected");
	is_int(out.len, 0, "an empty ExportTraceServiceResponse is zero bytes");

	buf_reset(&out);
	otlp_pb_encode_response(&out, 0, 3, "span \"x\": trace_id is 5 bytes, want 16");
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *tr =
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
			NULL, out.len, (const uint8_t *)out.data);
	if (ok(tr && tr->partial_success, "trace response has partial_success")) {
		is_int(tr->partial_success->rejected_spans, 3, "rejected_spans");
		is_str(tr->partial_success->error_message, "span \"x\": trace_id is 5 bytes, want 16",
		       "error_message");
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(tr, NULL);

	buf_reset(&out);
	otlp_pb_encode_response(&out, 1, 2, "bad histogram");
	/* ExportMetricsServiceResponse{partial_success{rejected_data_points: 2, error_message}} */
	static const uint8_t want[] = {0x0a, 0x11, 0x08, 0x02, 0x12, 0x0d, 'b', 'a', 'd', ' ',
				       'h',  'i',  's',	 't',  'o',  'g',  'r', 'a', 'm'};
	ok(out.len == sizeof(want) && memcmp(out.data, want, sizeof(want)) == 0,
	   "metrics response bytes (%zu)", out.len);
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *mr =
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(
			NULL, out.len, (const uint8_t *)out.data);
	if (ok(mr && mr->partial_success, "metrics response has partial_success"))
		is_int(mr->partial_success->rejected_data_points, 2, "rejected_data_points");
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(mr,
												     NULL);

	buf_reset(&out);
	is_int(otlp_pb_encode_status(&out, 3, "invalid OTLP protobuf: truncated"), 0, "status");
	Google__Rpc__Status *st = google__rpc__status__unpack(NULL, out.len, (const uint8_t *)out.data);
	if (ok(st != NULL, "status unpacks")) {
		is_int(st->code, 3, "status code");
		is_str(st->message, "invalid OTLP protobuf: truncated", "status message");
		google__rpc__status__free_unpacked(st, NULL);
	}

	/* the buffer limit is honoured */
	struct buf tiny;
	buf_init(&tiny, 4);
	is_int(otlp_pb_encode_status(&tiny, 3, "longer than four bytes"), -1, "status over the limit -> -1");
	buf_release(&tiny);
	buf_release(&out);
}

int main(void)
{
	test_trace_round_trip();
	test_golden();
	test_malformed();
	test_nesting();
	test_invalid_spans();
	test_utf8();
	test_metrics_round_trip();
	test_metrics_handmade();
	test_sdk_js_traces();
	test_sdk_js_metrics();
	test_responses();
	return tap_done();
}
