/*
 * json_write.h - a structural JSON writer over a struct buf.
 *
 * The writer puts the commas and colons: a caller says what comes (begin
 * or end an object or array, a key, a value) and the writer knows where it
 * is.  Strings are escaped by buf_put_json_str (controls, quotes,
 * backslash; invalid UTF-8 becomes U+FFFD) and doubles printed by
 * buf_put_json_double (the shortest form that reads back the same), so an
 * answer written with it is byte for byte what the same answer written by
 * hand with those helpers was.
 *
 * Misuse (a value where a key is due, a key in an array, an end that does
 * not match, more than JW_MAX_DEPTH levels and those lent, a second value at the top) and
 * a buffer past its limit set an error flag and make every later call do
 * nothing; jw_finish() reports it.  Nothing asserts.
 *
 * Ownership: the writer borrows `b` (and frames lent to it) and owns
 * nothing; it needs no release.
 * Keys are escaped like any string.
 */
#ifndef HOTPATH_CORE_JSON_WRITE_H
#define HOTPATH_CORE_JSON_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Deep enough for a span tree of 512 levels written as objects with a
 * "children" array each (1,024 levels) inside an answer's own few; a
 * writer lent more frames (jw_lend_frames) nests deeper, as a flame tree of
 * a profile's stacks (up to 16,384 frames) does. */
#define JW_MAX_DEPTH 1040

/* The bits of a frame of struct json_w. */
enum {
	JW_F_ARRAY = 1, /* the container is an array, else an object */
	JW_F_ITEMS = 2, /* it holds a member or element already */
};

struct json_w {
	struct buf *b;
	int depth;		     /* open containers */
	int base;		     /* containers open when the writer began (0 or 1) */
	bool err;		     /* misuse or a full buffer: the writer has stopped */
	bool want_value;	     /* a key was written: its value comes next */
	bool top_done;		     /* the one top-level value is complete */
	uint8_t frame[JW_MAX_DEPTH]; /* per open container: JW_F_* bits */
	uint8_t *more;		     /* the frames past JW_MAX_DEPTH, lent */
	size_t n_more;
};

/* Start a writer that appends one JSON value to `b`. */
void jw_init(struct json_w *w, struct buf *b);
/* Start a writer inside an object (or, with `array`, an array) the caller
 * has already opened in `b`; `items` says whether it holds members yet, so
 * the first one written gets a comma or not.  jw_obj_end() / jw_arr_end()
 * may close it. */
void jw_init_inside(struct json_w *w, struct buf *b, bool array, bool items);
/* Let the writer nest `n` levels past JW_MAX_DEPTH, keeping their bits in
 * `more`; the caller owns `more` and keeps it until the writer is done. */
void jw_lend_frames(struct json_w *w, uint8_t *more, size_t n);
/* 0 when everything written was well-formed and fitted, and every container
 * begun was ended (for jw_init_inside: the one it started in may stay
 * open); -1 otherwise. */
int jw_finish(const struct json_w *w);

void jw_obj_begin(struct json_w *w);
void jw_obj_end(struct json_w *w);
void jw_arr_begin(struct json_w *w);
void jw_arr_end(struct json_w *w);
/* The key of the next member of the open object. */
void jw_key(struct json_w *w, const char *key);

/* A string, or null when `s` is NULL. */
void jw_str(struct json_w *w, const char *s);
void jw_int(struct json_w *w, int64_t v);
void jw_uint(struct json_w *w, uint64_t v);
/* An unsigned integer as a string ("123"): nanosecond times do not fit a
 * double, which is all most JSON readers have. */
void jw_uint_str(struct json_w *w, uint64_t v);
/* The shortest form that reads back as the same double; null when it is
 * not finite. */
void jw_double(struct json_w *w, double d);
/* A double printed with `fmt`, one printf conversion of a double fixed at
 * the call site ("%.1f", "%.0f", "%.4g"); null when it is not finite. */
void jw_double_fmt(struct json_w *w, const char *fmt, double d);
void jw_bool(struct json_w *w, bool v);
void jw_null(struct json_w *w);
/* `n` bytes as a lower-case hex string. */
void jw_hex(struct json_w *w, const uint8_t *p, size_t n);
/* A trace or span id of `n` bytes in hex, "" when all zero (absent). */
void jw_id(struct json_w *w, const uint8_t *id, size_t n);
/* An already well-formed JSON value, written as it is. */
void jw_raw(struct json_w *w, const char *json);
/* The members of `obj`, an already well-formed JSON object (a stored
 * document), written into the open object as they are: nothing for an
 * empty one. */
void jw_members(struct json_w *w, const char *obj);
/* For a value another module prints to a buffer (attributes, a flame
 * tree): the separator is written and the buffer returned, to which the
 * caller appends exactly one well-formed value; NULL (and nothing written)
 * when the writer has stopped or no value may come here. */
struct buf *jw_value_buf(struct json_w *w);

/* A member: jw_key() then the value. */
void jw_kstr(struct json_w *w, const char *key, const char *s);
void jw_kint(struct json_w *w, const char *key, int64_t v);
void jw_kuint(struct json_w *w, const char *key, uint64_t v);
void jw_kuint_str(struct json_w *w, const char *key, uint64_t v);
void jw_kdouble(struct json_w *w, const char *key, double d);
void jw_kdouble_fmt(struct json_w *w, const char *key, const char *fmt, double d);
void jw_kbool(struct json_w *w, const char *key, bool v);
void jw_knull(struct json_w *w, const char *key);
void jw_kraw(struct json_w *w, const char *key, const char *json);
void jw_kid(struct json_w *w, const char *key, const uint8_t *id, size_t n);
/* A member whose value is an object or array, begun here. */
void jw_kobj_begin(struct json_w *w, const char *key);
void jw_karr_begin(struct json_w *w, const char *key);

#endif
