/*
 * lib_json_doc.c - the candidate hotpath uses: yajl's event parser building
 * hotpath's arena tree (src/core/json_doc.c), walked like the DOMs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_doc.h"
#include "json_libs.h"

#define KEY_IS(m, lit) ((m)->key_len == sizeof(lit) - 1 && !memcmp((m)->key, lit, sizeof(lit) - 1))

static void jd_attrs(struct sink *k, const struct json *arr)
{
	if (!arr || arr->type != JSON_ARRAY)
		return;
	for (const struct json *a = arr->child; a; a = a->next) {
		sink_str(k, json_str(json_get(a, "key")));
		const struct json *v = json_get(a, "value");
		const struct json *x = v ? v->child : NULL;
		if (!x)
			continue;
		k->attrs++;
		if (KEY_IS(x, "stringValue")) {
			sink_str(k, json_str(x));
		} else if (KEY_IS(x, "intValue")) {
			int64_t i = 0;
			json_int64(x, &i);
			k->sum += (uint64_t)i;
		} else if (KEY_IS(x, "doubleValue")) {
			double d = 0;
			json_double(x, &d);
			k->sum += (uint64_t)(d * 4);
		} else if (KEY_IS(x, "boolValue")) {
			k->sum += x->type == JSON_TRUE;
		}
	}
}

static void jd_each(const struct json *arr, void (*fn)(struct sink *, const struct json *), struct sink *k)
{
	if (arr && arr->type == JSON_ARRAY)
		for (const struct json *e = arr->child; e; e = e->next)
			fn(k, e);
}

static void jd_span(struct sink *k, const struct json *sp)
{
	for (const struct json *f = sp->child; f; f = f->next) {
		if (KEY_IS(f, "traceId") || KEY_IS(f, "spanId") || KEY_IS(f, "parentSpanId")) {
			sink_hex(k, json_str(f), f->len);
		} else if (KEY_IS(f, "name")) {
			sink_str(k, json_str(f));
		} else if (KEY_IS(f, "kind")) {
			int64_t i = 0;
			json_int64(f, &i);
			k->sum += (uint64_t)i;
		} else if (KEY_IS(f, "startTimeUnixNano") || KEY_IS(f, "endTimeUnixNano")) {
			uint64_t u = 0;
			json_uint64(f, &u);
			k->sum += u;
		} else if (KEY_IS(f, "attributes")) {
			jd_attrs(k, f);
		} else if (KEY_IS(f, "status")) {
			int64_t i = 0;
			json_int64(json_get(f, "code"), &i);
			k->sum += (uint64_t)i;
		}
	}
	k->spans++;
}

static void jd_scope_spans(struct sink *k, const struct json *ss)
{
	sink_str(k, json_str(json_get(json_get(ss, "scope"), "name")));
	jd_each(json_get(ss, "spans"), jd_span, k);
}

static void jd_resource_spans(struct sink *k, const struct json *rs)
{
	jd_attrs(k, json_get(json_get(rs, "resource"), "attributes"));
	jd_each(json_get(rs, "scopeSpans"), jd_scope_spans, k);
}

int run_json_doc(const char *json, size_t len, struct sink *k)
{
	struct json_doc d;
	char err[256];
	if (json_doc_parse(&d, json, len, 0, err, sizeof(err)) < 0) {
		json_doc_release(&d);
		return -1;
	}
	jd_each(json_get(d.root, "resourceSpans"), jd_resource_spans, k);
	json_doc_release(&d);
	return 0;
}
