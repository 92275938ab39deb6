/*
 * fuzz_json_write.c - libFuzzer target for the structural JSON writer.
 *
 * The input is a program: each byte chooses a writer call (begin or end an
 * object or array, a key, a string cut from the input, numbers of any bit
 * pattern, raw values, the members of a stored object), well-formed or not,
 * with or without frames lent past JW_MAX_DEPTH (the first byte's low bit).  Whatever the calls, nothing is
 * written once the error flag is set, and when the writer finishes without
 * error after closing what is open, the output is one JSON value that the
 * reader accepts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json_doc.h"
#include "core/json_write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated string of up to 15 input bytes. */
static const char *take_str(const uint8_t **p, const uint8_t *end, char *s)
{
	size_t n = *p < end ? (size_t)(**p & 15) : 0;
	if (*p < end)
		(*p)++;
	if (n > (size_t)(end - *p))
		n = (size_t)(end - *p);
	memcpy(s, *p, n);
	s[n] = 0;
	*p += n;
	return s;
}

static uint64_t take_u64(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	for (int i = 0; i < 8 && *p < end; i++)
		v = v << 8 | *(*p)++;
	return v;
}

static void step(struct json_w *w, uint8_t op, const uint8_t **p, const uint8_t *end)
{
	char s[16];
	uint64_t u;
	double d;
	switch (op % 16) {
	case 0: jw_obj_begin(w); break;
	case 1: jw_obj_end(w); break;
	case 2: jw_arr_begin(w); break;
	case 3: jw_arr_end(w); break;
	case 4: jw_key(w, take_str(p, end, s)); break;
	case 5: jw_str(w, take_str(p, end, s)); break;
	case 6: jw_int(w, (int64_t)take_u64(p, end)); break;
	case 7: jw_uint_str(w, take_u64(p, end)); break;
	case 8:
		u = take_u64(p, end);
		memcpy(&d, &u, sizeof(d));
		jw_double(w, d);
		break;
	case 9:
		u = take_u64(p, end);
		memcpy(&d, &u, sizeof(d));
		jw_double_fmt(w, "%.1f", d);
		break;
	case 10: jw_bool(w, op & 16); break;
	case 11: jw_null(w); break;
	case 12: jw_raw(w, "{\"a\":[1,2]}"); break;
	case 13: jw_members(w, "{\"m\":[1],\"n\":{}}"); break;
	case 14: jw_members(w, op & 16 ? "{}" : "{ \t}"); break;
	default: jw_hex(w, (const uint8_t *)take_str(p, end, s), strlen(s)); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct buf b;
	struct json_w w;
	uint8_t more[64]; /* levels past JW_MAX_DEPTH, as a flame tree lends them */
	buf_init(&b, 1u << 20);
	jw_init(&w, &b);
	if (size && data[0] & 1)
		jw_lend_frames(&w, more, sizeof(more));
	int deepest = 0;
	while (p < end) {
		uint8_t op = *p++;
		size_t len = b.len;
		int was_err = w.err;
		step(&w, op, &p, end);
		if (was_err && b.len != len)
			abort(); /* written past the error */
		deepest = w.depth > deepest ? w.depth : deepest;
	}
	/* close what is open: an object waiting for a value gets null */
	if (!w.err && w.want_value)
		jw_null(&w);
	while (!w.err && w.depth > 0) {
		int i = w.depth - 1;
		if ((i < JW_MAX_DEPTH ? w.frame[i] : w.more[i - JW_MAX_DEPTH]) & JW_F_ARRAY)
			jw_arr_end(&w);
		else
			jw_obj_end(&w);
	}
	/* the reader refuses nesting deeper than its own bound (a raw value
	 * nests two more levels) */
	if (jw_finish(&w) == 0 && b.len > 0 && deepest + 2 <= JSON_DOC_MAX_DEPTH) {
		struct json_doc doc;
		char err[256];
		if (json_doc_parse(&doc, b.data, b.len, 0, err, sizeof(err)) < 0)
			abort();
		json_doc_release(&doc);
	}
	buf_release(&b);
	return 0;
}
