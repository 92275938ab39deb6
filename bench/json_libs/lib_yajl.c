/* lib_yajl.c - the yajl (DOM and event API) candidate of the JSON library benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>
#include <yajl/yajl_version.h>

#include "json_libs.h"

/* --- yajl_tree (DOM) ---------------------------------------------------- */

static yajl_val yt_get(yajl_val o, const char *key)
{
	if (!YAJL_IS_OBJECT(o))
		return NULL;
	for (size_t i = 0; i < o->u.object.len; i++)
		if (!strcmp(o->u.object.keys[i], key))
			return o->u.object.values[i];
	return NULL;
}

static void yt_attrs(struct sink *k, yajl_val arr)
{
	if (!YAJL_IS_ARRAY(arr))
		return;
	for (size_t i = 0; i < arr->u.array.len; i++) {
		yajl_val a = arr->u.array.values[i];
		sink_str(k, YAJL_GET_STRING(yt_get(a, "key")));
		yajl_val v = yt_get(a, "value");
		if (!YAJL_IS_OBJECT(v) || !v->u.object.len)
			continue;
		const char *vk = v->u.object.keys[0];
		yajl_val x = v->u.object.values[0];
		k->attrs++;
		if (!strcmp(vk, "stringValue"))
			sink_str(k, YAJL_GET_STRING(x));
		else if (!strcmp(vk, "intValue"))
			k->sum += YAJL_IS_STRING(x) ? strtoull(x->u.string, NULL, 10)
						    : (uint64_t)YAJL_GET_INTEGER(x);
		else if (!strcmp(vk, "doubleValue"))
			k->sum += (uint64_t)(YAJL_GET_DOUBLE(x) * 4);
		else if (!strcmp(vk, "boolValue"))
			k->sum += YAJL_IS_TRUE(x);
	}
}

int run_yajl_tree(const char *json, size_t len, struct sink *k)
{
	/* yajl_tree_parse wants a NUL-terminated string: the copy is part of its cost */
	char *z = malloc(len + 1);
	memcpy(z, json, len);
	z[len] = 0;
	char errbuf[128];
	yajl_val root = yajl_tree_parse(z, errbuf, sizeof(errbuf));
	free(z);
	if (!root)
		return -1;
	yajl_val rsa = yt_get(root, "resourceSpans");
	for (size_t i = 0; YAJL_IS_ARRAY(rsa) && i < rsa->u.array.len; i++) {
		yajl_val rs = rsa->u.array.values[i];
		yt_attrs(k, yt_get(yt_get(rs, "resource"), "attributes"));
		yajl_val ssa = yt_get(rs, "scopeSpans");
		for (size_t j = 0; YAJL_IS_ARRAY(ssa) && j < ssa->u.array.len; j++) {
			yajl_val ss = ssa->u.array.values[j];
			sink_str(k, YAJL_GET_STRING(yt_get(yt_get(ss, "scope"), "name")));
			yajl_val spa = yt_get(ss, "spans");
			for (size_t m = 0; YAJL_IS_ARRAY(spa) && m < spa->u.array.len; m++) {
				yajl_val sp = spa->u.array.values[m];
				for (size_t f = 0; YAJL_IS_OBJECT(sp) && f < sp->u.object.len; f++) {
					const char *n = sp->u.object.keys[f];
					yajl_val v = sp->u.object.values[f];
					if (!strcmp(n, "traceId") || !strcmp(n, "spanId") ||
					    !strcmp(n, "parentSpanId"))
						sink_hex(k, YAJL_GET_STRING(v),
							 YAJL_IS_STRING(v) ? strlen(v->u.string) : 0);
					else if (!strcmp(n, "name"))
						sink_str(k, YAJL_GET_STRING(v));
					else if (!strcmp(n, "kind"))
						k->sum += (uint64_t)YAJL_GET_INTEGER(v);
					else if (!strcmp(n, "startTimeUnixNano") ||
						 !strcmp(n, "endTimeUnixNano"))
						sink_u64str(k, YAJL_GET_STRING(v));
					else if (!strcmp(n, "attributes"))
						yt_attrs(k, v);
					else if (!strcmp(n, "status"))
						k->sum += (uint64_t)YAJL_GET_INTEGER(yt_get(v, "code"));
				}
				k->spans++;
			}
		}
	}
	yajl_tree_free(root);
	return 0;
}

/* --- yajl events (no DOM) ------------------------------------------------ */

/*
 * A decoder on the event API keeps its own stack of "where am I" states;
 * each map key picks the state of the value that follows.
 */
enum ys {
	YS_SKIP,
	YS_ROOT,
	YS_RS_ARR,
	YS_RS,
	YS_RES,
	YS_ATTR_ARR,
	YS_ATTR,
	YS_ANY,
	YS_SS_ARR,
	YS_SS,
	YS_SCOPE,
	YS_SPAN_ARR,
	YS_SPAN,
	YS_STATUS,
};

enum yf { YF_NONE, YF_ID, YF_NAME, YF_KIND, YF_TIME, YF_KEY, YF_STR, YF_INT, YF_DBL, YF_BOOL, YF_CODE };

struct yctx {
	struct sink *k;
	enum ys stack[64];
	int depth;
	enum ys next; /* state of the value after the current key */
	enum yf field;
};

static int y_push(struct yctx *c)
{
	if (c->depth + 1 >= 64)
		return 0;
	c->depth++;
	c->stack[c->depth] = c->depth == 0 ? YS_ROOT : c->next;
	c->next = YS_SKIP;
	c->field = YF_NONE;
	return 1;
}

static int y_pop(void *ctx)
{
	struct yctx *c = ctx;
	if (c->stack[c->depth] == YS_SPAN)
		c->k->spans++;
	c->depth--;
	/* inside an array the next element has the array's element state */
	switch (c->depth >= 0 ? c->stack[c->depth] : YS_SKIP) {
	case YS_RS_ARR: c->next = YS_RS; break;
	case YS_SS_ARR: c->next = YS_SS; break;
	case YS_SPAN_ARR: c->next = YS_SPAN; break;
	case YS_ATTR_ARR: c->next = YS_ATTR; break;
	default: c->next = YS_SKIP;
	}
	return 1;
}

static int y_start_map(void *ctx)
{
	return y_push(ctx);
}

static int y_start_array(void *ctx)
{
	struct yctx *c = ctx;
	if (!y_push(c))
		return 0;
	switch (c->stack[c->depth]) {
	case YS_RS_ARR: c->next = YS_RS; break;
	case YS_SS_ARR: c->next = YS_SS; break;
	case YS_SPAN_ARR: c->next = YS_SPAN; break;
	case YS_ATTR_ARR: c->next = YS_ATTR; break;
	default: c->next = YS_SKIP;
	}
	return 1;
}

#define KEY_IS(lit) (len == sizeof(lit) - 1 && !memcmp(key, lit, len))

static int y_map_key(void *ctx, const unsigned char *key, size_t len)
{
	struct yctx *c = ctx;
	c->next = YS_SKIP;
	c->field = YF_NONE;
	switch (c->stack[c->depth]) {
	case YS_ROOT:
		if (KEY_IS("resourceSpans"))
			c->next = YS_RS_ARR;
		break;
	case YS_RS:
		if (KEY_IS("resource"))
			c->next = YS_RES;
		else if (KEY_IS("scopeSpans"))
			c->next = YS_SS_ARR;
		break;
	case YS_RES:
		if (KEY_IS("attributes"))
			c->next = YS_ATTR_ARR;
		break;
	case YS_SS:
		if (KEY_IS("scope"))
			c->next = YS_SCOPE;
		else if (KEY_IS("spans"))
			c->next = YS_SPAN_ARR;
		break;
	case YS_SCOPE:
		if (KEY_IS("name"))
			c->field = YF_NAME;
		break;
	case YS_SPAN:
		if (KEY_IS("traceId") || KEY_IS("spanId") || KEY_IS("parentSpanId"))
			c->field = YF_ID;
		else if (KEY_IS("name"))
			c->field = YF_NAME;
		else if (KEY_IS("kind"))
			c->field = YF_KIND;
		else if (KEY_IS("startTimeUnixNano") || KEY_IS("endTimeUnixNano"))
			c->field = YF_TIME;
		else if (KEY_IS("attributes"))
			c->next = YS_ATTR_ARR;
		else if (KEY_IS("status"))
			c->next = YS_STATUS;
		break;
	case YS_ATTR:
		if (KEY_IS("key"))
			c->field = YF_KEY;
		else if (KEY_IS("value"))
			c->next = YS_ANY;
		break;
	case YS_ANY:
		c->k->attrs++;
		if (KEY_IS("stringValue"))
			c->field = YF_STR;
		else if (KEY_IS("intValue"))
			c->field = YF_INT;
		else if (KEY_IS("doubleValue"))
			c->field = YF_DBL;
		else if (KEY_IS("boolValue"))
			c->field = YF_BOOL;
		break;
	case YS_STATUS:
		if (KEY_IS("code"))
			c->field = YF_CODE;
		break;
	default: break;
	}
	return 1;
}

static int y_string(void *ctx, const unsigned char *s, size_t len)
{
	struct yctx *c = ctx;
	char tmp[64];
	switch (c->field) {
	case YF_ID: sink_hex(c->k, (const char *)s, len); break;
	case YF_NAME:
	case YF_KEY:
	case YF_STR: c->k->sum += s[0] + len; break;
	case YF_TIME:
	case YF_INT:
		if (len < sizeof(tmp)) {
			memcpy(tmp, s, len);
			tmp[len] = 0;
			c->k->sum += strtoull(tmp, NULL, 10);
		}
		break;
	default: break;
	}
	c->field = YF_NONE;
	return 1;
}

static int y_number(void *ctx, const char *s, size_t len)
{
	struct yctx *c = ctx;
	char tmp[64];
	if (len >= sizeof(tmp))
		return 1;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	switch (c->field) {
	case YF_KIND:
	case YF_CODE:
	case YF_INT:
	case YF_TIME: c->k->sum += strtoull(tmp, NULL, 10); break;
	case YF_DBL: c->k->sum += (uint64_t)(strtod(tmp, NULL) * 4); break;
	default: break;
	}
	c->field = YF_NONE;
	return 1;
}

static int y_bool(void *ctx, int v)
{
	struct yctx *c = ctx;
	if (c->field == YF_BOOL)
		c->k->sum += (uint64_t)v;
	c->field = YF_NONE;
	return 1;
}

static int y_null(void *ctx)
{
	((struct yctx *)ctx)->field = YF_NONE;
	return 1;
}

static const yajl_callbacks y_callbacks = {
	.yajl_null = y_null,
	.yajl_boolean = y_bool,
	.yajl_number = y_number,
	.yajl_string = y_string,
	.yajl_start_map = y_start_map,
	.yajl_map_key = y_map_key,
	.yajl_end_map = y_pop,
	.yajl_start_array = y_start_array,
	.yajl_end_array = y_pop,
};

int run_yajl_events(const char *json, size_t len, struct sink *k)
{
	struct yctx c = {.k = k, .depth = -1};
	yajl_handle h = yajl_alloc(&y_callbacks, NULL, &c);
	int rc = yajl_parse(h, (const unsigned char *)json, len) == yajl_status_ok &&
				 yajl_complete_parse(h) == yajl_status_ok
			 ? 0
			 : -1;
	yajl_free(h);
	return rc;
}

const char *version_yajl(void)
{
	static char v[32];
	int n = yajl_version();
	snprintf(v, sizeof(v), "%d.%d.%d", n / 10000, n / 100 % 100, n % 100);
	return v;
}
