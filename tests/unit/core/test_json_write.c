/*
 * test_json_write.c - the structural JSON writer: commas and colons put by
 * the writer at every depth, strings escaped as buf_put_json_str escapes
 * them, doubles in the shortest form and in a fixed format, null for what
 * is not finite, and misuse (a value without its key, a key in an array,
 * an end that does not match, too deep, two values at the top, a full
 * buffer) reported by the error flag with nothing written after it.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/json_doc.h"
#include "core/json_write.h"
#include "tap.h"

static void test_shape(void)
{
	struct buf b;
	struct json_w w;
	static const uint8_t id[] = {0x01, 0xab};
	buf_init(&b, BUF_NO_LIMIT);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "s", "a\"b\\\n\x01\xff");
	jw_kstr(&w, "none", NULL);
	jw_kint(&w, "i", -42);
	jw_kuint(&w, "u", UINT64_MAX);
	jw_kuint_str(&w, "ns", 1700000000123456789ull);
	jw_kdouble(&w, "d", 0.1);
	jw_kdouble(&w, "nan", NAN);
	jw_kdouble_fmt(&w, "f", "%.1f", 2.25);
	jw_kdouble_fmt(&w, "inf", "%.1f", INFINITY);
	jw_karr_begin(&w, "a");
	jw_bool(&w, true);
	jw_null(&w);
	jw_obj_begin(&w);
	jw_obj_end(&w);
	jw_arr_begin(&w);
	jw_arr_end(&w);
	jw_raw(&w, "{\"x\":[1,2]}");
	jw_hex(&w, id, sizeof(id));
	buf_puts(jw_value_buf(&w), "7");
	jw_arr_end(&w);
	jw_kbool(&w, "no", false);
	jw_kid(&w, "id", id, sizeof(id));
	jw_kid(&w, "absent", (const uint8_t[8]){0}, 8);
	jw_obj_end(&w);
	is_int(jw_finish(&w), 0, "a well-formed document finishes without error");
	is_str(b.data,
	       "{\"s\":\"a\\\"b\\\\\\n\\u0001\xef\xbf\xbd\",\"none\":null,\"i\":-42,"
	       "\"u\":18446744073709551615,\"ns\":\"1700000000123456789\",\"d\":0.1,\"nan\":null,"
	       "\"f\":2.2,\"inf\":null,\"a\":[true,null,{},[],{\"x\":[1,2]},\"01ab\",7],\"no\":false,"
	       "\"id\":\"01ab\",\"absent\":\"\"}",
	       "commas, colons and escapes as the hand-written answers have them");

	struct json_doc doc;
	char err[200];
	is_int(json_doc_parse(&doc, b.data, b.len, 0, err, sizeof(err)), 0, "the output parses as JSON");
	json_doc_release(&doc);
	buf_release(&b);
}

static void test_inside(void)
{
	struct buf b;
	struct json_w w;
	buf_init(&b, BUF_NO_LIMIT);
	buf_puts(&b, "{\"a\":1");
	jw_init_inside(&w, &b, false, true);
	jw_kint(&w, "b", 2);
	is_int(jw_finish(&w), 0, "inside an object opened by hand: it may stay open");
	jw_obj_end(&w);
	is_str(b.data, "{\"a\":1,\"b\":2}", "inside an object with members: the first member gets its comma");
	is_int(jw_finish(&w), 0, "and closing it is allowed");

	buf_reset(&b);
	buf_puts(&b, "[");
	jw_init_inside(&w, &b, true, false);
	jw_uint(&w, 1);
	jw_uint(&w, 2);
	is_str(b.data, "[1,2", "inside an empty array: no comma before the first element");
	buf_release(&b);
}

static void test_lent(void)
{
	struct buf b;
	struct json_w w;
	uint8_t more[4];
	buf_init(&b, BUF_NO_LIMIT);
	jw_init(&w, &b);
	jw_lend_frames(&w, more, sizeof(more));
	for (int i = 0; i < JW_MAX_DEPTH + 4; i++)
		jw_arr_begin(&w);
	jw_int(&w, 1);
	jw_int(&w, 2);
	for (int i = 0; i < JW_MAX_DEPTH + 4; i++)
		jw_arr_end(&w);
	is_int(jw_finish(&w), 0, "frames lent: nesting past JW_MAX_DEPTH by as many");
	ok(b.len == 2 * (JW_MAX_DEPTH + 4) + 3 && !strncmp(b.data + JW_MAX_DEPTH + 3, "[1,2]]", 6),
	   "and the commas kept at the lent levels");
	buf_reset(&b);
	jw_init(&w, &b);
	jw_lend_frames(&w, more, sizeof(more));
	for (int i = 0; i <= JW_MAX_DEPTH + 4; i++)
		jw_arr_begin(&w);
	ok(w.err && b.len == JW_MAX_DEPTH + 4, "one past the lent frames: the error flag, nothing written");
	buf_release(&b);
}

static void test_members(void)
{
	struct buf b;
	struct json_w w;
	buf_init(&b, BUF_NO_LIMIT);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_members(&w, "{ }");
	jw_members(&w, "{\"a\":[1],\"b\":{}}");
	jw_kint(&w, "c", 3);
	jw_members(&w, "{}");
	jw_members(&w, "{\"d\":\"x\"}");
	jw_obj_end(&w);
	is_int(jw_finish(&w), 0, "members of stored objects: no error");
	is_str(b.data, "{\"a\":[1],\"b\":{},\"c\":3,\"d\":\"x\"}",
	       "members spliced with the commas they need, nothing for an empty object");
	buf_release(&b);
}

/* The writer's state after `steps` misuses it; its output must stop there. */
static void misuse(void (*steps)(struct json_w *), const char *what)
{
	struct buf b;
	struct json_w w;
	buf_init(&b, BUF_NO_LIMIT);
	jw_init(&w, &b);
	steps(&w);
	size_t len = b.len;
	jw_kint(&w, "later", 1);
	jw_obj_end(&w);
	ok(jw_finish(&w) < 0 && w.err && b.len == len,
	   "%s: the error flag is set and nothing more is written", what);
	buf_release(&b);
}

static void no_key(struct json_w *w)
{
	jw_obj_begin(w);
	jw_int(w, 1);
}

static void key_in_array(struct json_w *w)
{
	jw_arr_begin(w);
	jw_key(w, "k");
}

static void wrong_end(struct json_w *w)
{
	jw_arr_begin(w);
	jw_obj_end(w);
}

static void key_without_value(struct json_w *w)
{
	jw_obj_begin(w);
	jw_key(w, "a");
	jw_obj_end(w);
}

static void too_deep(struct json_w *w)
{
	for (int i = 0; i <= JW_MAX_DEPTH; i++)
		jw_arr_begin(w);
}

static void two_values(struct json_w *w)
{
	jw_int(w, 1);
	jw_int(w, 2);
}

static void members_in_array(struct json_w *w)
{
	jw_arr_begin(w);
	jw_members(w, "{\"a\":1}");
}

static void members_not_object(struct json_w *w)
{
	jw_obj_begin(w);
	jw_members(w, "[1]");
}

static void end_at_top(struct json_w *w)
{
	jw_obj_end(w);
}

static void test_misuse(void)
{
	misuse(no_key, "a value in an object without its key");
	misuse(key_in_array, "a key in an array");
	misuse(members_in_array, "members in an array");
	misuse(members_not_object, "members of what is not an object");
	misuse(wrong_end, "an array ended as an object");
	misuse(key_without_value, "an object ended after a key");
	misuse(too_deep, "more than JW_MAX_DEPTH levels");
	misuse(two_values, "a second value at the top");
	misuse(end_at_top, "an end with nothing open");

	struct json_w v;
	struct buf vb;
	buf_init(&vb, BUF_NO_LIMIT);
	jw_init(&v, &vb);
	jw_obj_begin(&v);
	ok(jw_value_buf(&v) == NULL && v.err, "a value buffer where a key is due: NULL and the error flag");
	buf_release(&vb);

	struct buf b;
	struct json_w w;
	buf_init(&b, BUF_NO_LIMIT);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	ok(jw_finish(&w) < 0, "a container left open is an error at the end");
	buf_release(&b);

	buf_init(&b, 8);
	jw_init(&w, &b);
	jw_arr_begin(&w);
	jw_str(&w, "longer than the buffer");
	ok(jw_finish(&w) < 0 && w.err, "a buffer past its limit sets the error flag");
	buf_release(&b);
}

int main(void)
{
	test_shape();
	test_inside();
	test_members();
	test_lent();
	test_misuse();
	return tap_done();
}
