/*
 * buf.h - a growable byte buffer with a hard maximum.
 *
 * Payloads are untrusted, so every buffer has a limit: an append that would
 * pass `max` fails with -1 and leaves the buffer unchanged.  The contents are
 * always NUL-terminated (the NUL is not counted in `len`).
 */
#ifndef HOTPATH_CORE_BUF_H
#define HOTPATH_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;
	size_t len, cap, max;
};

#define BUF_NO_LIMIT ((size_t)-1)

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Forget the contents, keep the memory. */
static inline void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Unsigned LEB128 varint and its zigzag-encoded signed form. */
int buf_put_varint(struct buf *b, uint64_t v);
int buf_put_svarint(struct buf *b, int64_t v);
/* Append `s` as a JSON string literal, quotes included; a byte that is no
 * valid UTF-8 becomes U+FFFD (JSON text must be UTF-8). */
int buf_put_json_str(struct buf *b, const char *s);
/* Append a double as a JSON number (the shortest form that reads back as
 * the same double), or null when it is not finite. */
int buf_put_json_double(struct buf *b, double d);
/* Append ,"key":"s" (buf_put_json_str), or ,"key":null when `s` is NULL.
 * `key` is written as it is: a name of the caller's, not untrusted text. */
int buf_put_json_member_str(struct buf *b, const char *key, const char *s);
/* Append ,"key":d (buf_put_json_double). */
int buf_put_json_member_double(struct buf *b, const char *key, double d);
/* Append `n` bytes as lower-case hex. */
int buf_put_hex(struct buf *b, const uint8_t *p, size_t n);
/* Append the whole file at `path`.  -1 with errno set when it cannot be
 * opened or read, or EFBIG when it passes the buffer's limit. */
int buf_read_file(struct buf *b, const char *path);
/* Take ownership of the data; the buffer is left empty. */
char *buf_detach(struct buf *b, size_t *len);

#endif
