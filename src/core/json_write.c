/* json_write.c - a structural JSON writer (see json_write.h). */
#include "core/json_write.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/hex.h"

void jw_init(struct json_w *w, struct buf *b)
{
	*w = (struct json_w){.b = b};
}

void jw_init_inside(struct json_w *w, struct buf *b, bool array, bool items)
{
	*w = (struct json_w){.b = b, .depth = 1, .base = 1};
	w->frame[0] = (uint8_t)((array ? JW_F_ARRAY : 0) | (items ? JW_F_ITEMS : 0));
}

void jw_lend_frames(struct json_w *w, uint8_t *more, size_t n)
{
	w->more = more;
	w->n_more = more ? n : 0;
}

/* The bits of the innermost open container (depth > 0). */
static uint8_t *top(struct json_w *w)
{
	int i = w->depth - 1;
	return i < JW_MAX_DEPTH ? &w->frame[i] : &w->more[i - JW_MAX_DEPTH];
}

int jw_finish(const struct json_w *w)
{
	return w->err || w->want_value || w->depth > w->base ? -1 : 0;
}

static void check(struct json_w *w, int rc)
{
	if (rc < 0)
		w->err = true;
}

/* Before a value: the comma, or nothing after a key; false (and the error
 * set) when no value may come here. */
static bool value_start(struct json_w *w)
{
	if (w->err)
		return false;
	if (w->depth == 0) {
		if (w->top_done)
			w->err = true;
		return !w->err;
	}
	uint8_t *f = top(w);
	if (*f & JW_F_ARRAY) {
		if (*f & JW_F_ITEMS)
			check(w, buf_putc(w->b, ','));
		*f |= JW_F_ITEMS;
	} else if (w->want_value) {
		w->want_value = false;
	} else {
		w->err = true; /* a value in an object needs its key */
	}
	return !w->err;
}

/* After a scalar value or the end of a container. */
static void value_done(struct json_w *w)
{
	if (w->depth == 0)
		w->top_done = true;
}

static void begin(struct json_w *w, char open, uint8_t array)
{
	if (!value_start(w))
		return;
	if ((size_t)w->depth == JW_MAX_DEPTH + w->n_more) {
		w->err = true;
		return;
	}
	w->depth++;
	*top(w) = array;
	check(w, buf_putc(w->b, open));
}

static void end(struct json_w *w, char close, uint8_t array)
{
	if (w->err)
		return;
	if (w->depth == 0 || (*top(w) & JW_F_ARRAY) != array || w->want_value) {
		w->err = true;
		return;
	}
	w->depth--;
	if (w->depth < w->base)
		w->base = w->depth;
	check(w, buf_putc(w->b, close));
	value_done(w);
}

void jw_obj_begin(struct json_w *w)
{
	begin(w, '{', 0);
}

void jw_obj_end(struct json_w *w)
{
	end(w, '}', 0);
}

void jw_arr_begin(struct json_w *w)
{
	begin(w, '[', JW_F_ARRAY);
}

void jw_arr_end(struct json_w *w)
{
	end(w, ']', JW_F_ARRAY);
}

void jw_key(struct json_w *w, const char *key)
{
	if (w->err)
		return;
	if (w->depth == 0 || (*top(w) & JW_F_ARRAY) || w->want_value || !key) {
		w->err = true;
		return;
	}
	uint8_t *f = top(w);
	if (*f & JW_F_ITEMS)
		check(w, buf_putc(w->b, ','));
	*f |= JW_F_ITEMS;
	check(w, buf_put_json_str(w->b, key));
	check(w, buf_putc(w->b, ':'));
	w->want_value = !w->err;
}

/* A scalar whose text is `s`, already JSON. */
static void scalar(struct json_w *w, const char *s)
{
	if (!value_start(w))
		return;
	check(w, buf_puts(w->b, s));
	value_done(w);
}

void jw_str(struct json_w *w, const char *s)
{
	if (!s) {
		scalar(w, "null");
		return;
	}
	if (!value_start(w))
		return;
	check(w, buf_put_json_str(w->b, s));
	value_done(w);
}

void jw_int(struct json_w *w, int64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "%" PRId64, v);
	scalar(w, s);
}

void jw_uint(struct json_w *w, uint64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "%" PRIu64, v);
	scalar(w, s);
}

void jw_uint_str(struct json_w *w, uint64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "\"%" PRIu64 "\"", v);
	scalar(w, s);
}

void jw_double(struct json_w *w, double d)
{
	if (!value_start(w))
		return;
	check(w, buf_put_json_double(w->b, d));
	value_done(w);
}

void jw_double_fmt(struct json_w *w, const char *fmt, double d)
{
	char s[64];
	if (!isfinite(d)) {
		scalar(w, "null");
		return;
	}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	int n = snprintf(s, sizeof(s), fmt, d);
#pragma GCC diagnostic pop
	if (n < 0 || (size_t)n >= sizeof(s)) { /* past any number the API prints */
		w->err = true;
		return;
	}
	scalar(w, s);
}

void jw_bool(struct json_w *w, bool v)
{
	scalar(w, v ? "true" : "false");
}

void jw_null(struct json_w *w)
{
	scalar(w, "null");
}

void jw_hex(struct json_w *w, const uint8_t *p, size_t n)
{
	if (!value_start(w))
		return;
	check(w, buf_putc(w->b, '"'));
	check(w, buf_put_hex(w->b, p, n));
	check(w, buf_putc(w->b, '"'));
	value_done(w);
}

void jw_id(struct json_w *w, const uint8_t *id, size_t n)
{
	jw_hex(w, id, hex_is_zero(id, n) ? 0 : n);
}

void jw_raw(struct json_w *w, const char *json)
{
	if (!json) {
		w->err = true;
		return;
	}
	scalar(w, json);
}

void jw_members(struct json_w *w, const char *obj)
{
	size_t n = obj ? strlen(obj) : 0;
	if (w->err)
		return;
	if (n < 2 || obj[0] != '{' || obj[n - 1] != '}' || w->depth == 0 || (*top(w) & JW_F_ARRAY) ||
	    w->want_value) {
		w->err = true;
		return;
	}
	const char *in = obj + 1;
	n -= 2;
	while (n && isspace((unsigned char)*in))
		in++, n--;
	while (n && isspace((unsigned char)in[n - 1]))
		n--;
	if (!n)
		return; /* an empty object has no members */
	uint8_t *f = top(w);
	if (*f & JW_F_ITEMS)
		check(w, buf_putc(w->b, ','));
	*f |= JW_F_ITEMS;
	check(w, buf_append(w->b, in, n));
}

struct buf *jw_value_buf(struct json_w *w)
{
	if (!value_start(w))
		return NULL;
	value_done(w);
	return w->b;
}

void jw_kstr(struct json_w *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_str(w, s);
}

void jw_kint(struct json_w *w, const char *key, int64_t v)
{
	jw_key(w, key);
	jw_int(w, v);
}

void jw_kuint(struct json_w *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	jw_uint(w, v);
}

void jw_kuint_str(struct json_w *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	jw_uint_str(w, v);
}

void jw_kdouble(struct json_w *w, const char *key, double d)
{
	jw_key(w, key);
	jw_double(w, d);
}

void jw_kdouble_fmt(struct json_w *w, const char *key, const char *fmt, double d)
{
	jw_key(w, key);
	jw_double_fmt(w, fmt, d);
}

void jw_kbool(struct json_w *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_bool(w, v);
}

void jw_kid(struct json_w *w, const char *key, const uint8_t *id, size_t n)
{
	jw_key(w, key);
	jw_id(w, id, n);
}

void jw_knull(struct json_w *w, const char *key)
{
	jw_key(w, key);
	jw_null(w);
}

void jw_kraw(struct json_w *w, const char *key, const char *json)
{
	jw_key(w, key);
	jw_raw(w, json);
}

void jw_kobj_begin(struct json_w *w, const char *key)
{
	jw_key(w, key);
	jw_obj_begin(w);
}

void jw_karr_begin(struct json_w *w, const char *key)
{
	jw_key(w, key);
	jw_arr_begin(w);
}
