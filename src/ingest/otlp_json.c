/*
 * otlp_json.c - OTLP/HTTP JSON traces and metrics (see otlp_json.h).
 *
 * Owns the mapping from the OTLP JSON encoding to `struct batch` and back.
 * Parsing the JSON text itself is json_doc.c's job; the semantic checks
 * shared with the protobuf decoder are batch.c's (span_validate()).
 *
 * Errors: a payload that breaks the encoding (bad JSON, a field of the wrong
 * type, an id that is not hex) fails the whole request; a span that decodes
 * but is invalid (ids of the wrong length, span_validate()) is dropped and
 * counted with batch_reject().
 */
#include "ingest/otlp_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/hex.h"
#include "core/log.h"
#include "core/json_doc.h"
#include "ingest/exphist.h"

/* Largest ATTR_JSON text kept for one attribute. */
#define ATTR_JSON_MAX (1u << 20)

struct dec {
	struct batch *b;
	char *err;
	size_t errlen;
	struct buf tmp;	 /* ATTR_JSON text being built */
	int metrics;	 /* decoding metrics rather than traces */
	long rs, ss, it; /* indices of the resource, scope and span/metric at hand, -1 = none */
};

/* --- field names ------------------------------------------------------------ */

/* Does the snake_case member name `k` spell lowerCamelCase `camel`? */
static int snake_is(const char *k, size_t n, const char *camel)
{
	size_t i = 0;
	for (; *camel; camel++) {
		char c = *camel;
		if (c >= 'A' && c <= 'Z') {
			if (i + 1 >= n || k[i] != '_' || k[i + 1] != c - 'A' + 'a')
				return 0;
			i += 2;
		} else {
			if (i >= n || k[i] != c)
				return 0;
			i++;
		}
	}
	return i == n;
}

static inline int name_is(const struct json *m, const char *camel, size_t n)
{
	if (m->key_len == n)
		return memcmp(m->key, camel, n) == 0;
	return m->key_len > n && snake_is(m->key, m->key_len, camel);
}

#define NAME(m, lit) name_is(m, lit, sizeof(lit) - 1)

/* The member of `obj` named `camel` (or its snake_case form), or NULL. */
static const struct json *member(const struct json *obj, const char *camel)
{
	size_t n = strlen(camel);
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (const struct json *m = obj->child; m; m = m->next)
		if (name_is(m, camel, n))
			return m;
	return NULL;
}

/* --- errors ------------------------------------------------------------------- */

/* Where the decoder is, for messages: "resourceSpans[0].scopeSpans[1].spans[2]". */
static void where(const struct dec *d, char *out, size_t len)
{
	const char *names[3][2] = {
		{"resourceSpans", "resourceMetrics"}, {"scopeSpans", "scopeMetrics"}, {"spans", "metrics"}};
	long idx[3] = {d->rs, d->ss, d->it};
	size_t off = 0;
	out[0] = 0;
	for (int i = 0; i < 3 && idx[i] >= 0 && off < len; i++) {
		int n = snprintf(out + off, len - off, "%s%s[%ld]", i ? "." : "", names[i][d->metrics],
				 idx[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* A short description of an offending value. */
static void describe(const struct json *v, char *out, size_t len)
{
	static const char *const types[] = {"null",	"false",    "true",	"a number",
					    "a string", "an array", "an object"};
	if (v->type == JSON_STRING)
		snprintf(out, len, "\"%.40s%s\"", v->s, v->len > 40 ? "..." : "");
	else if (v->type == JSON_NUMBER)
		snprintf(out, len, "%.40s", v->s);
	else
		snprintf(out, len, "%s", types[v->type]);
}

/* Fail the request: field `field` holds `v`, which is not `want`. */
static int bad(struct dec *d, const char *field, const struct json *v, const char *want)
{
	char shown[64], at[128];
	describe(v, shown, sizeof(shown));
	where(d, at, sizeof(at));
	return errf(d->err, d->errlen, "invalid %s %s%s%s: want %s", field, shown, *at ? " in " : "", at,
		    want);
}

/* --- scalar fields -------------------------------------------------------------- */

static int is_null(const struct json *v)
{
	return !v || v->type == JSON_NULL;
}

static const char *str_field(struct dec *d, const struct json *v, const char *field, int *fail)
{
	if (is_null(v))
		return NULL;
	if (v->type != JSON_STRING) {
		*fail = bad(d, field, v, "a string");
		return NULL;
	}
	return arena_strndup(&d->b->arena, v->s, v->len);
}

static int u64_field(struct dec *d, const struct json *v, const char *field, uint64_t *out)
{
	if (is_null(v))
		return 0;
	if (json_uint64(v, out) < 0)
		return bad(d, field, v, "an unsigned 64-bit integer (number or string)");
	return 0;
}

static int f64_field(struct dec *d, const struct json *v, const char *field, double *out)
{
	if (is_null(v))
		return 0;
	if (json_double(v, out) < 0)
		return bad(d, field, v, "a number");
	return 0;
}

/* An enum given as its number or its name; unknown values become 0. */
static int enum_field(struct dec *d, const struct json *v, const char *field, const char *const *names,
		      int n_names, uint8_t *out)
{
	int64_t i;
	if (is_null(v))
		return 0;
	if (v->type == JSON_STRING) {
		for (int k = 0; k < n_names; k++)
			if (strcmp(v->s, names[k]) == 0) {
				*out = (uint8_t)k;
				return 0;
			}
		if (json_int64(v, &i) < 0) {
			*out = 0;
			return 0;
		}
	} else if (json_int64(v, &i) < 0) {
		return bad(d, field, v, "an enum number or name");
	}
	*out = i >= 0 && i < n_names ? (uint8_t)i : 0;
	return 0;
}

static const char *const span_kinds[] = {
	"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
	"SPAN_KIND_CLIENT",	 "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
};
static const char *const status_codes[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};

/* Hex digit value + 1, and 0 for every other byte: ids are decoded on every span. */
static const uint8_t hex1[256] = {
	['0'] = 1,  ['1'] = 2,	['2'] = 3,  ['3'] = 4,	['4'] = 5,  ['5'] = 6,	['6'] = 7,  ['7'] = 8,
	['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!hex1[(unsigned char)s[i]])
			return 0;
	return 1;
}

/* `n` bytes from 2n hex digits, or -1. */
static int decode_hex(uint8_t *out, const char *s, size_t n)
{
	if (!all_hex(s, 2 * n))
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)((hex1[(unsigned char)s[2 * i]] - 1) << 4 |
				   (hex1[(unsigned char)s[2 * i + 1]] - 1));
	return 0;
}

/*
 * A trace or span id of `n` bytes.  Absent or "" leaves zeros.  Not hex at
 * all fails the request; hex of another length sets *wrong to its byte
 * count, and the caller rejects the span.
 */
static int id_field(struct dec *d, const struct json *v, const char *field, uint8_t *out, size_t n,
		    size_t *wrong)
{
	if (is_null(v))
		return 0;
	if (v->type != JSON_STRING) {
		char want[32];
		snprintf(want, sizeof(want), "%zu hex digits", 2 * n);
		return bad(d, field, v, want);
	}
	if (v->len == 2 * n && decode_hex(out, v->s, n) == 0)
		return 0;
	if (v->len == 0)
		return 0;
	if (v->len % 2 || !all_hex(v->s, v->len)) {
		char want[32];
		snprintf(want, sizeof(want), "%zu hex digits", 2 * n);
		return bad(d, field, v, want);
	}
	if (!*wrong)
		*wrong = v->len / 2;
	return 0;
}

/* The array `v` (absent and null are empty), or fail naming `field`. */
static int want_array(struct dec *d, const struct json *v, const char *field, const struct json **first)
{
	*first = NULL;
	if (is_null(v))
		return 0;
	if (v->type != JSON_ARRAY)
		return bad(d, field, v, "an array");
	*first = v->child;
	return 0;
}

/* --- attributes --------------------------------------------------------------- */

enum any_kind { ANY_NONE, ANY_STRING, ANY_BOOL, ANY_INT, ANY_DOUBLE, ANY_ARRAY, ANY_KVLIST, ANY_BYTES };

static enum any_kind any_kind(const struct json *m)
{
	if (NAME(m, "stringValue"))
		return ANY_STRING;
	if (NAME(m, "intValue"))
		return ANY_INT;
	if (NAME(m, "doubleValue"))
		return ANY_DOUBLE;
	if (NAME(m, "boolValue"))
		return ANY_BOOL;
	if (NAME(m, "arrayValue"))
		return ANY_ARRAY;
	if (NAME(m, "kvlistValue"))
		return ANY_KVLIST;
	if (NAME(m, "bytesValue"))
		return ANY_BYTES;
	return ANY_NONE;
}

/* The set member of AnyValue `any` (the last one if several are), or NULL. */
static const struct json *any_value(const struct json *any, enum any_kind *kind)
{
	const struct json *val = NULL;
	*kind = ANY_NONE;
	for (const struct json *m = any->child; m; m = m->next) {
		enum any_kind k = any_kind(m);
		if (k != ANY_NONE && !is_null(m)) {
			val = m;
			*kind = k;
		}
	}
	return val;
}

static int put_double(struct buf *out, double v)
{
	if (isnan(v))
		return buf_puts(out, "\"NaN\"");
	if (isinf(v))
		return buf_puts(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "%.15g", v);
	if (strtod(tmp, NULL) != v)
		snprintf(tmp, sizeof(tmp), "%.17g", v);
	return buf_puts(out, tmp);
}

/* Turn a failed append to d->tmp into the request's error. */
static int room(struct dec *d, int rc)
{
	return rc < 0 ? errf(d->err, d->errlen, "attribute value larger than %u bytes", ATTR_JSON_MAX) : 0;
}

static int any_to_json(struct dec *d, const struct json *any);

/* arrayValue {values: [AnyValue]} as a JSON array, kvlistValue {values: [KeyValue]} as an object. */
static int list_to_json(struct dec *d, const struct json *lv, int kvlist)
{
	const struct json *e;
	if (lv->type != JSON_OBJECT)
		return bad(d, kvlist ? "kvlistValue" : "arrayValue", lv, "an object");
	if (want_array(d, member(lv, "values"), "values", &e) < 0 ||
	    room(d, buf_putc(&d->tmp, kvlist ? '{' : '[')) < 0)
		return -1;
	for (int first = 1; e; e = e->next, first = 0) {
		const struct json *value = e;
		if (!first && room(d, buf_putc(&d->tmp, ',')) < 0)
			return -1;
		if (kvlist) {
			if (e->type != JSON_OBJECT)
				return bad(d, "kvlistValue.values[]", e, "a KeyValue object");
			const struct json *key = member(e, "key");
			if (!is_null(key) && key->type != JSON_STRING)
				return bad(d, "key", key, "a string");
			if (room(d, buf_put_json_str(&d->tmp, json_str(key) ? key->s : "")) < 0 ||
			    room(d, buf_putc(&d->tmp, ':')) < 0)
				return -1;
			value = member(e, "value");
		}
		if (any_to_json(d, value) < 0)
			return -1;
	}
	return room(d, buf_putc(&d->tmp, kvlist ? '}' : ']'));
}

/* Any AnyValue as plain JSON, the form ATTR_JSON keeps (bytes stay base64 text). */
static int any_to_json(struct dec *d, const struct json *any)
{
	enum any_kind kind;
	const struct json *val;
	int64_t i;
	double f;
	if (is_null(any))
		return room(d, buf_puts(&d->tmp, "null"));
	if (any->type != JSON_OBJECT)
		return bad(d, "attribute value", any, "an AnyValue object");
	val = any_value(any, &kind);
	switch (kind) {
	case ANY_NONE: return room(d, buf_puts(&d->tmp, "null"));
	case ANY_STRING:
	case ANY_BYTES:
		if (val->type != JSON_STRING)
			return bad(d, kind == ANY_STRING ? "stringValue" : "bytesValue", val, "a string");
		return room(d, buf_put_json_str(&d->tmp, val->s));
	case ANY_BOOL:
		if (val->type != JSON_TRUE && val->type != JSON_FALSE)
			return bad(d, "boolValue", val, "true or false");
		return room(d, buf_puts(&d->tmp, val->type == JSON_TRUE ? "true" : "false"));
	case ANY_INT:
		if (json_int64(val, &i) < 0)
			return bad(d, "intValue", val, "a 64-bit integer");
		return room(d, buf_printf(&d->tmp, "%" PRId64, i));
	case ANY_DOUBLE:
		if (json_double(val, &f) < 0)
			return bad(d, "doubleValue", val, "a number");
		return room(d, put_double(&d->tmp, f));
	case ANY_ARRAY: return list_to_json(d, val, 0);
	case ANY_KVLIST: return list_to_json(d, val, 1);
	}
	return -1;
}

static int decode_any(struct dec *d, const struct json *any, struct attr *a)
{
	enum any_kind kind = ANY_NONE;
	const struct json *val = NULL;
	if (!is_null(any)) {
		if (any->type != JSON_OBJECT)
			return bad(d, "attribute value", any, "an AnyValue object");
		val = any_value(any, &kind);
	}
	switch (kind) {
	case ANY_STRING:
		if (val->type != JSON_STRING)
			return bad(d, "stringValue", val, "a string");
		a->type = ATTR_STRING;
		a->v.s = arena_strndup(&d->b->arena, val->s, val->len);
		return 0;
	case ANY_INT:
		if (json_int64(val, &a->v.i) < 0)
			return bad(d, "intValue", val, "a 64-bit integer");
		a->type = ATTR_INT;
		return 0;
	case ANY_DOUBLE:
		if (json_double(val, &a->v.d) < 0)
			return bad(d, "doubleValue", val, "a number");
		a->type = ATTR_DOUBLE;
		return 0;
	case ANY_BOOL:
		if (val->type != JSON_TRUE && val->type != JSON_FALSE)
			return bad(d, "boolValue", val, "true or false");
		a->type = ATTR_BOOL;
		a->v.i = val->type == JSON_TRUE;
		return 0;
	default: /* arrays, key-value lists, bytes and empty values: JSON text */
		buf_reset(&d->tmp);
		if (any_to_json(d, any) < 0)
			return -1;
		a->type = ATTR_JSON;
		a->v.s = arena_strndup(&d->b->arena, d->tmp.data ? d->tmp.data : "", d->tmp.len);
		return 0;
	}
}

/* A KeyValue list into an arena array. */
static int decode_attrs(struct dec *d, const struct json *arr, struct attr **out, uint32_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	if (is_null(arr))
		return 0;
	if (arr->type != JSON_ARRAY)
		return bad(d, "attributes", arr, "an array");
	if (!arr->len)
		return 0;
	struct attr *attrs = arena_alloc(&d->b->arena, arr->len * sizeof(*attrs));
	uint32_t n = 0;
	for (const struct json *kv = arr->child; kv; kv = kv->next) {
		const struct json *key = NULL, *value = NULL;
		if (kv->type != JSON_OBJECT)
			return bad(d, "attributes[]", kv, "a KeyValue object");
		for (const struct json *m = kv->child; m; m = m->next) {
			if (NAME(m, "key"))
				key = m;
			else if (NAME(m, "value"))
				value = m;
		}
		struct attr *a = &attrs[n++];
		int fail = 0;
		a->key = str_field(d, key, "key", &fail);
		if (fail)
			return -1;
		if (!a->key)
			a->key = "";
		if (decode_any(d, value, a) < 0)
			return -1;
	}
	*out = attrs;
	*n_out = n;
	return 0;
}

/* --- resources and scopes ---------------------------------------------------- */

static int decode_resource(struct dec *d, const struct json *o, struct resource **out)
{
	struct resource *r = arena_zalloc(&d->b->arena, sizeof(*r));
	if (!is_null(o)) {
		if (o->type != JSON_OBJECT)
			return bad(d, "resource", o, "an object");
		if (decode_attrs(d, member(o, "attributes"), &r->attrs, &r->n_attrs) < 0)
			return -1;
	}
	resource_derive(r);
	*out = r;
	return 0;
}

struct scope {
	const char *name, *version;
};

static int decode_scope(struct dec *d, const struct json *o, struct scope *sc)
{
	int fail = 0;
	sc->name = sc->version = NULL;
	if (is_null(o))
		return 0;
	if (o->type != JSON_OBJECT)
		return bad(d, "scope", o, "an object");
	sc->name = str_field(d, member(o, "name"), "scope.name", &fail);
	sc->version = str_field(d, member(o, "version"), "scope.version", &fail);
	return fail;
}

/* --- spans ------------------------------------------------------------------------ */

static int decode_event(struct dec *d, const struct json *o, struct span_event *ev)
{
	int fail = 0;
	memset(ev, 0, sizeof(*ev));
	if (o->type != JSON_OBJECT)
		return bad(d, "events[]", o, "an object");
	for (const struct json *f = o->child; f; f = f->next) {
		if (NAME(f, "timeUnixNano"))
			fail = u64_field(d, f, "events[].timeUnixNano", &ev->time_ns);
		else if (NAME(f, "name"))
			ev->name = str_field(d, f, "events[].name", &fail);
		else if (NAME(f, "attributes"))
			fail = decode_attrs(d, f, &ev->attrs, &ev->n_attrs);
		if (fail)
			return -1;
	}
	return 0;
}

static int decode_link(struct dec *d, const struct json *o, struct span_link *l, size_t *wrong)
{
	memset(l, 0, sizeof(*l));
	if (o->type != JSON_OBJECT)
		return bad(d, "links[]", o, "an object");
	for (const struct json *f = o->child; f; f = f->next) {
		int fail = 0;
		if (NAME(f, "traceId"))
			fail = id_field(d, f, "links[].traceId", l->trace_id, 16, wrong);
		else if (NAME(f, "spanId"))
			fail = id_field(d, f, "links[].spanId", l->span_id, 8, wrong);
		else if (NAME(f, "attributes"))
			fail = decode_attrs(d, f, &l->attrs, &l->n_attrs);
		if (fail)
			return -1;
	}
	return 0;
}

static int decode_status(struct dec *d, const struct json *o, struct span *s)
{
	int fail = 0;
	if (is_null(o))
		return 0;
	if (o->type != JSON_OBJECT)
		return bad(d, "status", o, "an object");
	for (const struct json *f = o->child; f; f = f->next) {
		if (NAME(f, "code"))
			fail = enum_field(d, f, "status.code", status_codes, 3, &s->status);
		else if (NAME(f, "message"))
			s->status_message = str_field(d, f, "status.message", &fail);
		if (fail)
			return -1;
	}
	return 0;
}

static int decode_events(struct dec *d, const struct json *arr, struct span *s)
{
	const struct json *e;
	s->n_events = 0; /* a repeated member replaces the earlier one */
	if (want_array(d, arr, "events", &e) < 0)
		return -1;
	if (!e)
		return 0;
	s->events = arena_alloc(&d->b->arena, arr->len * sizeof(*s->events));
	for (; e; e = e->next)
		if (decode_event(d, e, &s->events[s->n_events++]) < 0)
			return -1;
	return 0;
}

static int decode_links(struct dec *d, const struct json *arr, struct span *s, size_t *wrong)
{
	const struct json *e;
	s->n_links = 0; /* a repeated member replaces the earlier one */
	if (want_array(d, arr, "links", &e) < 0)
		return -1;
	if (!e)
		return 0;
	s->links = arena_alloc(&d->b->arena, arr->len * sizeof(*s->links));
	for (; e; e = e->next)
		if (decode_link(d, e, &s->links[s->n_links++], wrong) < 0)
			return -1;
	return 0;
}

static int decode_span(struct dec *d, const struct json *o, const struct resource *r, const struct scope *sc)
{
	size_t wrong_trace = 0, wrong_span = 0, wrong_parent = 0, wrong_link = 0;
	char why[200];
	if (o->type != JSON_OBJECT)
		return bad(d, "spans[]", o, "a Span object");
	struct span *s = batch_add_span(d->b);
	s->resource = r;
	s->scope_name = sc->name;
	s->scope_version = sc->version;
	for (const struct json *f = o->child; f; f = f->next) {
		int fail = 0;
		if (NAME(f, "traceId"))
			fail = id_field(d, f, "traceId", s->trace_id, 16, &wrong_trace);
		else if (NAME(f, "spanId"))
			fail = id_field(d, f, "spanId", s->span_id, 8, &wrong_span);
		else if (NAME(f, "parentSpanId"))
			fail = id_field(d, f, "parentSpanId", s->parent_span_id, 8, &wrong_parent);
		else if (NAME(f, "name"))
			s->name = str_field(d, f, "name", &fail);
		else if (NAME(f, "kind"))
			fail = enum_field(d, f, "kind", span_kinds, 6, &s->kind);
		else if (NAME(f, "startTimeUnixNano"))
			fail = u64_field(d, f, "startTimeUnixNano", &s->start_ns);
		else if (NAME(f, "endTimeUnixNano"))
			fail = u64_field(d, f, "endTimeUnixNano", &s->end_ns);
		else if (NAME(f, "attributes"))
			fail = decode_attrs(d, f, &s->attrs, &s->n_attrs);
		else if (NAME(f, "status"))
			fail = decode_status(d, f, s);
		else if (NAME(f, "events"))
			fail = decode_events(d, f, s);
		else if (NAME(f, "links"))
			fail = decode_links(d, f, s, &wrong_link);
		if (fail)
			return -1;
	}
	if (wrong_trace || wrong_span || wrong_parent || wrong_link) {
		const char *field = wrong_trace	   ? "traceId"
				    : wrong_span   ? "spanId"
				    : wrong_parent ? "parentSpanId"
						   : "links[].traceId or spanId";
		size_t got = wrong_trace    ? wrong_trace
			     : wrong_span   ? wrong_span
			     : wrong_parent ? wrong_parent
					    : wrong_link;
		size_t want = wrong_trace ? 16 : wrong_span || wrong_parent ? 8 : 0;
		batch_drop_last_span(d->b);
		if (want)
			batch_reject(d->b, "span \"%s\": %s has %zu bytes, want %zu", s->name ? s->name : "",
				     field, got, want);
		else
			batch_reject(d->b, "span \"%s\": a link id has %zu bytes", s->name ? s->name : "",
				     got);
		return 0;
	}
	if (span_validate(s, why, sizeof(why)) < 0) {
		batch_drop_last_span(d->b);
		batch_reject(d->b, "span \"%s\": %s", s->name ? s->name : "", why);
	}
	return 0;
}

static int decode_scope_spans(struct dec *d, const struct json *o, const struct resource *r)
{
	struct scope sc;
	const struct json *sp;
	if (o->type != JSON_OBJECT)
		return bad(d, "scopeSpans[]", o, "an object");
	if (decode_scope(d, member(o, "scope"), &sc) < 0 ||
	    want_array(d, member(o, "spans"), "spans", &sp) < 0)
		return -1;
	for (d->it = 0; sp; sp = sp->next, d->it++)
		if (decode_span(d, sp, r, &sc) < 0)
			return -1;
	d->it = -1;
	return 0;
}

static int decode_resource_spans(struct dec *d, const struct json *o)
{
	struct resource *r;
	const struct json *ss;
	if (o->type != JSON_OBJECT)
		return bad(d, "resourceSpans[]", o, "an object");
	if (decode_resource(d, member(o, "resource"), &r) < 0 ||
	    want_array(d, member(o, "scopeSpans"), "scopeSpans", &ss) < 0)
		return -1;
	for (d->ss = 0; ss; ss = ss->next, d->ss++)
		if (decode_scope_spans(d, ss, r) < 0)
			return -1;
	d->ss = -1;
	return 0;
}

/* --- metrics -------------------------------------------------------------------- */

struct metric_ctx {
	const struct resource *resource;
	const char *name, *unit;
	uint8_t type;
	uint8_t delta;	     /* aggregationTemporality DELTA */
	uint8_t exponential; /* an exponential histogram */
};

static int decode_number_point(struct dec *d, const struct json *o, const struct metric_ctx *mc)
{
	if (o->type != JSON_OBJECT)
		return bad(d, "dataPoints[]", o, "an object");
	struct metric_point *p = batch_add_point(d->b);
	p->resource = mc->resource;
	p->name = mc->name;
	p->unit = mc->unit;
	p->type = mc->type;
	p->delta = mc->delta;
	for (const struct json *f = o->child; f; f = f->next) {
		int fail = 0;
		int64_t i;
		if (NAME(f, "startTimeUnixNano"))
			fail = u64_field(d, f, "startTimeUnixNano", &p->start_ns);
		else if (NAME(f, "timeUnixNano"))
			fail = u64_field(d, f, "timeUnixNano", &p->time_ns);
		else if (NAME(f, "asDouble"))
			fail = f64_field(d, f, "asDouble", &p->value);
		else if (NAME(f, "asInt") && !is_null(f)) {
			if (json_int64(f, &i) < 0)
				fail = bad(d, "asInt", f, "a 64-bit integer");
			p->value = (double)i;
		} else if (NAME(f, "attributes"))
			fail = decode_attrs(d, f, &p->attrs, &p->n_attrs);
		if (fail)
			return -1;
	}
	return 0;
}

/* A JSON array of numbers into an arena array; *n is its length. */
static int number_list(struct dec *d, const struct json *arr, const char *field, int is_u64, void **out,
		       uint32_t *n)
{
	const struct json *e;
	*out = NULL;
	*n = 0;
	if (want_array(d, arr, field, &e) < 0)
		return -1;
	if (!e)
		return 0;
	uint64_t *u = is_u64 ? arena_alloc(&d->b->arena, arr->len * sizeof(*u)) : NULL;
	double *f = is_u64 ? NULL : arena_alloc(&d->b->arena, arr->len * sizeof(*f));
	for (uint32_t i = 0; e; e = e->next, i++) {
		if (is_u64 ? json_uint64(e, &u[i]) < 0 : json_double(e, &f[i]) < 0)
			return bad(d, field, e, is_u64 ? "unsigned integers" : "numbers");
	}
	*out = is_u64 ? (void *)u : (void *)f;
	*n = arr->len;
	return 0;
}

static int decode_histogram_point(struct dec *d, const struct json *o, const struct metric_ctx *mc)
{
	uint32_t n_counts = 0;
	void *counts = NULL, *bounds = NULL;
	if (o->type != JSON_OBJECT)
		return bad(d, "dataPoints[]", o, "an object");
	struct metric_point *p = batch_add_point(d->b);
	p->resource = mc->resource;
	p->name = mc->name;
	p->unit = mc->unit;
	p->type = mc->type;
	p->delta = mc->delta;
	for (const struct json *f = o->child; f; f = f->next) {
		int fail = 0;
		if (NAME(f, "startTimeUnixNano"))
			fail = u64_field(d, f, "startTimeUnixNano", &p->start_ns);
		else if (NAME(f, "timeUnixNano"))
			fail = u64_field(d, f, "timeUnixNano", &p->time_ns);
		else if (NAME(f, "count"))
			fail = u64_field(d, f, "count", &p->count);
		else if (NAME(f, "sum"))
			fail = f64_field(d, f, "sum", &p->sum);
		else if (NAME(f, "bucketCounts"))
			fail = number_list(d, f, "bucketCounts", 1, &counts, &n_counts);
		else if (NAME(f, "explicitBounds"))
			fail = number_list(d, f, "explicitBounds", 0, &bounds, &p->n_bounds);
		else if (NAME(f, "attributes"))
			fail = decode_attrs(d, f, &p->attrs, &p->n_attrs);
		if (fail)
			return -1;
	}
	p->bounds = bounds;
	p->bucket_counts = counts;
	if (n_counts == 0 && p->n_bounds == 0) {
		/* no buckets: one bucket holding everything */
		p->bucket_counts = arena_alloc(&d->b->arena, sizeof(*p->bucket_counts));
		p->bucket_counts[0] = p->count;
	} else if (n_counts != p->n_bounds + 1) {
		d->b->n_points--;
		batch_reject(d->b, "histogram \"%s\": %u bucket counts for %u bounds, want %u", mc->name,
			     n_counts, p->n_bounds, p->n_bounds + 1);
	}
	return 0;
}

/* An exponential histogram's "positive" or "negative" buckets: offset and counts. */
static int exp_buckets(struct dec *d, const struct json *o, const char *field, int64_t *offset,
		       uint64_t **counts, uint32_t *n)
{
	*offset = 0;
	*counts = NULL;
	*n = 0;
	if (is_null(o))
		return 0;
	if (o->type != JSON_OBJECT)
		return bad(d, field, o, "an object");
	const struct json *off = member(o, "offset");
	if (!is_null(off) && (json_int64(off, offset) < 0 || *offset < INT32_MIN || *offset > INT32_MAX))
		return bad(d, "offset", off, "a 32-bit integer");
	void *c;
	if (number_list(d, member(o, "bucketCounts"), "bucketCounts", 1, &c, n) < 0)
		return -1;
	*counts = c;
	return 0;
}

/* An exponential histogram point, kept as explicit buckets (ingest/exphist.h). */
static int decode_exp_histogram_point(struct dec *d, const struct json *o, const struct metric_ctx *mc)
{
	int64_t scale = 0, off, neg_off;
	uint64_t zero = 0, *pos, *neg;
	uint32_t n_pos, n_neg;
	char msg[160];
	if (o->type != JSON_OBJECT)
		return bad(d, "dataPoints[]", o, "an object");
	struct metric_point *p = batch_add_point(d->b);
	*p = (struct metric_point){.resource = mc->resource,
				   .name = mc->name,
				   .unit = mc->unit,
				   .type = METRIC_HISTOGRAM,
				   .delta = mc->delta};
	const struct json *sc = member(o, "scale");
	if (u64_field(d, member(o, "startTimeUnixNano"), "startTimeUnixNano", &p->start_ns) ||
	    u64_field(d, member(o, "timeUnixNano"), "timeUnixNano", &p->time_ns) ||
	    u64_field(d, member(o, "count"), "count", &p->count) ||
	    f64_field(d, member(o, "sum"), "sum", &p->sum) ||
	    u64_field(d, member(o, "zeroCount"), "zeroCount", &zero) ||
	    (!is_null(sc) && json_int64(sc, &scale) < 0 && bad(d, "scale", sc, "an integer")) ||
	    exp_buckets(d, member(o, "positive"), "positive", &off, &pos, &n_pos) ||
	    exp_buckets(d, member(o, "negative"), "negative", &neg_off, &neg, &n_neg) ||
	    (member(o, "attributes") && decode_attrs(d, member(o, "attributes"), &p->attrs, &p->n_attrs)))
		return -1;
	for (uint32_t i = 0; i < n_neg; i++)
		zero += neg[i];
	if (exphist_to_explicit(d->b, p, scale < INT32_MIN || scale > INT32_MAX ? INT32_MAX : (int32_t)scale,
				zero, (int32_t)off, pos, n_pos, msg, sizeof(msg)) < 0) {
		d->b->n_points--;
		batch_reject(d->b, "metric \"%s\": %s", mc->name, msg);
	}
	return 0;
}

static const char *const temporalities[] = {"AGGREGATION_TEMPORALITY_UNSPECIFIED",
					    "AGGREGATION_TEMPORALITY_DELTA",
					    "AGGREGATION_TEMPORALITY_CUMULATIVE"};

static int decode_metric(struct dec *d, const struct json *o, const struct resource *r)
{
	struct metric_ctx mc = {.resource = r};
	const struct json *data = NULL, *pts;
	int fail = 0;
	if (o->type != JSON_OBJECT)
		return bad(d, "metrics[]", o, "a Metric object");
	for (const struct json *f = o->child; f; f = f->next) {
		if (NAME(f, "name"))
			mc.name = str_field(d, f, "name", &fail);
		else if (NAME(f, "unit"))
			mc.unit = str_field(d, f, "unit", &fail);
		else if (!is_null(f) && NAME(f, "gauge"))
			mc.type = METRIC_GAUGE, data = f;
		else if (!is_null(f) && NAME(f, "sum"))
			mc.type = METRIC_SUM, data = f;
		else if (!is_null(f) && NAME(f, "histogram"))
			mc.type = METRIC_HISTOGRAM, data = f;
		else if (!is_null(f) && NAME(f, "exponentialHistogram"))
			mc.type = METRIC_HISTOGRAM, mc.exponential = 1, data = f;
		if (fail)
			return -1;
	}
	if (!data) /* summaries, or nothing: skipped */
		return 0;
	if (data->type != JSON_OBJECT)
		return bad(d, "metric data", data, "an object");
	if (mc.type != METRIC_GAUGE && enum_field(d, member(data, "aggregationTemporality"),
						  "aggregationTemporality", temporalities, 3, &mc.delta) < 0)
		return -1;
	mc.delta = mc.delta == 1;
	if (want_array(d, member(data, "dataPoints"), "dataPoints", &pts) < 0)
		return -1;
	if (!mc.name || !*mc.name) {
		for (; pts; pts = pts->next)
			batch_reject(d->b, "metric has no name");
		return 0;
	}
	for (; pts; pts = pts->next)
		if ((mc.exponential		   ? decode_exp_histogram_point(d, pts, &mc)
		     : mc.type == METRIC_HISTOGRAM ? decode_histogram_point(d, pts, &mc)
						   : decode_number_point(d, pts, &mc)) < 0)
			return -1;
	return 0;
}

static int decode_scope_metrics(struct dec *d, const struct json *o, const struct resource *r)
{
	const struct json *m;
	if (o->type != JSON_OBJECT)
		return bad(d, "scopeMetrics[]", o, "an object");
	if (want_array(d, member(o, "metrics"), "metrics", &m) < 0)
		return -1;
	for (d->it = 0; m; m = m->next, d->it++)
		if (decode_metric(d, m, r) < 0)
			return -1;
	d->it = -1;
	return 0;
}

static int decode_resource_metrics(struct dec *d, const struct json *o)
{
	struct resource *r;
	const struct json *sm;
	if (o->type != JSON_OBJECT)
		return bad(d, "resourceMetrics[]", o, "an object");
	if (decode_resource(d, member(o, "resource"), &r) < 0 ||
	    want_array(d, member(o, "scopeMetrics"), "scopeMetrics", &sm) < 0)
		return -1;
	for (d->ss = 0; sm; sm = sm->next, d->ss++)
		if (decode_scope_metrics(d, sm, r) < 0)
			return -1;
	d->ss = -1;
	return 0;
}

/* --- entry points ------------------------------------------------------------- */

static int decode(struct batch *b, const char *data, size_t len, char *err, size_t errlen, int metrics)
{
	struct json_doc doc;
	struct dec d = {
		.b = b, .err = err, .errlen = errlen, .metrics = metrics, .rs = -1, .ss = -1, .it = -1};
	size_t n_spans = b->n_spans, n_points = b->n_points;
	uint64_t rejected = b->rejected;
	const struct json *rs;
	int rc = -1;

	buf_init(&d.tmp, ATTR_JSON_MAX);
	if (json_doc_parse(&doc, data, len, 0, err, errlen) < 0)
		goto out;
	if (!doc.root) { /* empty body */
		rc = 0;
		goto out;
	}
	if (doc.root->type != JSON_OBJECT) {
		char shown[64];
		describe(doc.root, shown, sizeof(shown));
		errf(err, errlen, "request body is %s, want an Export%sServiceRequest object", shown,
		     metrics ? "Metrics" : "Trace");
		goto out;
	}
	const char *top = metrics ? "resourceMetrics" : "resourceSpans";
	if (want_array(&d, member(doc.root, top), top, &rs) < 0)
		goto out;
	for (d.rs = 0; rs; rs = rs->next, d.rs++)
		if ((metrics ? decode_resource_metrics(&d, rs) : decode_resource_spans(&d, rs)) < 0)
			goto out;
	rc = 0;
out:
	if (rc < 0) { /* all or nothing */
		b->n_spans = n_spans;
		b->n_points = n_points;
		b->rejected = rejected;
	}
	json_doc_release(&doc);
	buf_release(&d.tmp);
	return rc;
}

int otlp_json_decode_traces(struct batch *b, const char *data, size_t len, char *err, size_t errlen)
{
	return decode(b, data, len, err, errlen, 0);
}

int otlp_json_decode_metrics(struct batch *b, const char *data, size_t len, char *err, size_t errlen)
{
	return decode(b, data, len, err, errlen, 1);
}

/* --- encoders -------------------------------------------------------------------- */

/* Plain JSON (an ATTR_JSON text) back into an AnyValue. */
static int enc_any_json(struct buf *o, const struct json *v)
{
	int rc = 0;
	int64_t i;
	switch (v->type) {
	case JSON_NULL: return buf_puts(o, "{}");
	case JSON_FALSE: return buf_puts(o, "{\"boolValue\":false}");
	case JSON_TRUE: return buf_puts(o, "{\"boolValue\":true}");
	case JSON_NUMBER:
		if (!strpbrk(v->s, ".eE") && json_int64(v, &i) == 0)
			return buf_printf(o, "{\"intValue\":\"%" PRId64 "\"}", i);
		return buf_printf(o, "{\"doubleValue\":%s}", v->s);
	case JSON_STRING:
		rc |= buf_puts(o, "{\"stringValue\":");
		rc |= buf_put_json_str(o, v->s);
		return rc | buf_putc(o, '}');
	case JSON_ARRAY:
	case JSON_OBJECT:
		rc |= buf_puts(o, v->type == JSON_ARRAY ? "{\"arrayValue\":{\"values\":["
							: "{\"kvlistValue\":{\"values\":[");
		for (const struct json *c = v->child; c; c = c->next) {
			if (c != v->child)
				rc |= buf_putc(o, ',');
			if (v->type == JSON_OBJECT) {
				rc |= buf_puts(o, "{\"key\":");
				rc |= json_write_key(o, c);
				rc |= buf_puts(o, ",\"value\":");
			}
			rc |= enc_any_json(o, c);
			if (v->type == JSON_OBJECT)
				rc |= buf_putc(o, '}');
		}
		return rc | buf_puts(o, "]}}");
	}
	return -1;
}

static int enc_attr_value(struct buf *o, const struct attr *a)
{
	struct json_doc doc;
	char err[8];
	int rc = 0;
	switch (a->type) {
	case ATTR_STRING:
		rc |= buf_puts(o, "{\"stringValue\":");
		rc |= buf_put_json_str(o, a->v.s);
		return rc | buf_putc(o, '}');
	case ATTR_BOOL: return buf_puts(o, a->v.i ? "{\"boolValue\":true}" : "{\"boolValue\":false}");
	case ATTR_INT: return buf_printf(o, "{\"intValue\":\"%" PRId64 "\"}", a->v.i);
	case ATTR_DOUBLE:
		rc |= buf_puts(o, "{\"doubleValue\":");
		rc |= put_double(o, a->v.d);
		return rc | buf_putc(o, '}');
	case ATTR_JSON:
		/* a bare string can only have been bytesValue */
		if (json_doc_parse(&doc, a->v.s, strlen(a->v.s), 0, err, sizeof(err)) == 0 && doc.root)
			rc = doc.root->type == JSON_STRING
				     ? buf_puts(o, "{\"bytesValue\":") | buf_put_json_str(o, doc.root->s) |
					       buf_putc(o, '}')
				     : enc_any_json(o, doc.root);
		else /* not JSON after all: keep the text */
			rc = buf_puts(o, "{\"stringValue\":") | buf_put_json_str(o, a->v.s) |
			     buf_putc(o, '}');
		json_doc_release(&doc);
		return rc;
	}
	return buf_puts(o, "{}");
}

/* `lead` comes first: "," after another member, "" as the first one. */
static int enc_attrs(struct buf *o, const char *lead, const struct attr *attrs, uint32_t n)
{
	int rc = buf_printf(o, "%s\"attributes\":[", lead);
	for (uint32_t i = 0; i < n; i++) {
		rc |= buf_puts(o, i ? ",{\"key\":" : "{\"key\":");
		rc |= buf_put_json_str(o, attrs[i].key);
		rc |= buf_puts(o, ",\"value\":");
		rc |= enc_attr_value(o, &attrs[i]);
		rc |= buf_putc(o, '}');
	}
	return rc | buf_putc(o, ']');
}

static int enc_id(struct buf *o, const char *field, const uint8_t *id, size_t n)
{
	return buf_printf(o, ",\"%s\":\"", field) | buf_put_hex(o, id, n) | buf_putc(o, '"');
}

static int enc_span(struct buf *o, const struct span *s)
{
	int rc = buf_puts(o, "{\"traceId\":\"");
	rc |= buf_put_hex(o, s->trace_id, 16);
	rc |= buf_putc(o, '"');
	rc |= enc_id(o, "spanId", s->span_id, 8);
	if (!hex_is_zero(s->parent_span_id, 8))
		rc |= enc_id(o, "parentSpanId", s->parent_span_id, 8);
	rc |= buf_puts(o, ",\"name\":");
	rc |= buf_put_json_str(o, s->name ? s->name : "");
	rc |= buf_printf(
		o, ",\"kind\":%u,\"startTimeUnixNano\":\"%" PRIu64 "\",\"endTimeUnixNano\":\"%" PRIu64 "\"",
		s->kind, s->start_ns, s->end_ns);
	if (s->n_attrs)
		rc |= enc_attrs(o, ",", s->attrs, s->n_attrs);
	if (s->n_events) {
		rc |= buf_puts(o, ",\"events\":[");
		for (uint32_t i = 0; i < s->n_events; i++) {
			const struct span_event *e = &s->events[i];
			rc |= buf_printf(o, "%s{\"timeUnixNano\":\"%" PRIu64 "\",\"name\":", i ? "," : "",
					 e->time_ns);
			rc |= buf_put_json_str(o, e->name ? e->name : "");
			if (e->n_attrs)
				rc |= enc_attrs(o, ",", e->attrs, e->n_attrs);
			rc |= buf_putc(o, '}');
		}
		rc |= buf_putc(o, ']');
	}
	if (s->n_links) {
		rc |= buf_puts(o, ",\"links\":[");
		for (uint32_t i = 0; i < s->n_links; i++) {
			const struct span_link *l = &s->links[i];
			rc |= buf_puts(o, i ? ",{\"traceId\":\"" : "{\"traceId\":\"");
			rc |= buf_put_hex(o, l->trace_id, 16);
			rc |= buf_putc(o, '"');
			rc |= enc_id(o, "spanId", l->span_id, 8);
			if (l->n_attrs)
				rc |= enc_attrs(o, ",", l->attrs, l->n_attrs);
			rc |= buf_putc(o, '}');
		}
		rc |= buf_putc(o, ']');
	}
	if (s->status || s->status_message) {
		rc |= buf_printf(o, ",\"status\":{\"code\":%u", s->status);
		if (s->status_message) {
			rc |= buf_puts(o, ",\"message\":");
			rc |= buf_put_json_str(o, s->status_message);
		}
		rc |= buf_putc(o, '}');
	}
	return rc | buf_putc(o, '}');
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static int enc_scope(struct buf *o, const struct span *s)
{
	int rc = buf_puts(o, "{\"scope\":{");
	if (s->scope_name) {
		rc |= buf_puts(o, "\"name\":");
		rc |= buf_put_json_str(o, s->scope_name);
	}
	if (s->scope_version) {
		rc |= buf_puts(o, s->scope_name ? ",\"version\":" : "\"version\":");
		rc |= buf_put_json_str(o, s->scope_version);
	}
	return rc | buf_puts(o, "},\"spans\":[");
}

/* Consecutive spans of one resource and scope share a resourceSpans / scopeSpans entry. */
int otlp_json_encode_traces(const struct batch *b, struct buf *out)
{
	int rc = buf_puts(out, "{\"resourceSpans\":[");
	size_t i = 0;
	while (i < b->n_spans) {
		const struct resource *r = b->spans[i].resource;
		rc |= buf_puts(out, i ? ",{\"resource\":{" : "{\"resource\":{");
		if (r && r->n_attrs)
			rc |= enc_attrs(out, "", r->attrs, r->n_attrs);
		rc |= buf_puts(out, "},\"scopeSpans\":[");
		for (int first_scope = 1; i < b->n_spans && b->spans[i].resource == r; first_scope = 0) {
			const struct span *s0 = &b->spans[i];
			if (!first_scope)
				rc |= buf_putc(out, ',');
			rc |= enc_scope(out, s0);
			for (size_t k = i; i < b->n_spans && b->spans[i].resource == r &&
					   same_str(b->spans[i].scope_name, s0->scope_name) &&
					   same_str(b->spans[i].scope_version, s0->scope_version);
			     i++) {
				if (i != k)
					rc |= buf_putc(out, ',');
				rc |= enc_span(out, &b->spans[i]);
			}
			rc |= buf_puts(out, "]}");
		}
		rc |= buf_puts(out, "]}");
	}
	rc |= buf_puts(out, "]}");
	return rc ? -1 : 0;
}

int otlp_json_encode_response(struct buf *out, int metrics, uint64_t rejected, const char *message)
{
	int rc;
	if (!rejected)
		return buf_puts(out, "{}");
	rc = buf_printf(out, "{\"partialSuccess\":{\"%s\":\"%" PRIu64 "\",\"errorMessage\":",
			metrics ? "rejectedDataPoints" : "rejectedSpans", rejected);
	rc |= buf_put_json_str(out, message ? message : "");
	rc |= buf_puts(out, "}}");
	return rc ? -1 : 0;
}

int otlp_json_encode_status(struct buf *out, int code, const char *message)
{
	int rc = buf_printf(out, "{\"code\":%d,\"message\":", code);
	rc |= buf_put_json_str(out, message ? message : "");
	rc |= buf_putc(out, '}');
	return rc ? -1 : 0;
}
