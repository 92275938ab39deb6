/*
 * clickhouse_http.h - a ClickHouse server through its HTTP interface
 * (libcurl), and the RowBinary format both ways.
 *
 * The URL is clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/DB (port 8123 by
 * default); HOTPATH_CLICKHOUSE_USER and HOTPATH_CLICKHOUSE_PASSWORD give
 * what the URL leaves out.  A client keeps a few connections open for
 * reuse and may be used from any number of threads.
 *
 * Failures: the server unreachable or too slow answers ERR_UNAVAILABLE
 * (the caller may retry later; the message names the store), and the client
 * remembers it until a request is answered again (ch_client_unreachable);
 * an error answered by the server, ERR_INTERNAL with its message.  Ownership: answers are appended to the caller's buffer.
 */
#ifndef HOTPATH_STORE_CLICKHOUSE_HTTP_H
#define HOTPATH_STORE_CLICKHOUSE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct ch_client;

struct ch_client *ch_client_new(const char *url, char *err, size_t errlen);
void ch_client_free(struct ch_client *c);
/* The database named by the URL (letters, digits and '_' only). */
const char *ch_client_db(const struct ch_client *c);

/* 1 when the last request found no server (or no answer in time) and none
 * was answered since, with a message naming the store in `why`; else 0. */
int ch_client_unreachable(struct ch_client *c, char *why, size_t len);
/* One small query: 0 when the server answers, else an error class. */
int ch_ping(struct ch_client *c, char *err, size_t errlen);

/* The calling thread's requests are given up at `at_ns` (clock_now_ns();
 * 0: 60 s after each starts), until set again. */
void ch_thread_deadline(uint64_t at_ns);

/* Run `sql` (a query, or an INSERT whose rows are `body`, `len` bytes;
 * body NULL: none) in the client's database; the answer is appended to
 * `out` (NULL: dropped), at most out's limit.  0 or an error class. */
int ch_exec(struct ch_client *c, const char *sql, const void *body, size_t len, struct buf *out, char *err,
	    size_t errlen);

/* Create the client's database unless it exists. */
int ch_create_database(struct ch_client *c, char *err, size_t errlen);

/* Rows of a RowBinary answer handed over as they arrive.  `row` parses one
 * row from r (see struct rb below) and returns 1 when it took it, 0 when
 * the row is not complete yet (r ran out: more bytes are awaited), or a
 * negative value to stop (-1: an error, in err; 2: stop early, no error). */
struct rb;
typedef int (*ch_row_fn)(void *arg, struct rb *r);
int ch_stream(struct ch_client *c, const char *sql, ch_row_fn row, void *arg, char *err, size_t errlen);

/* Append `s` as a quoted SQL string literal ('...' with \ and ' escaped). */
void ch_quote(struct buf *sql, const char *s);

/* ---- RowBinary: little-endian integers, strings as varint length + bytes ---- */

struct rb {
	const uint8_t *p, *end;
	int short_read; /* a read went past the end: the row is not complete */
};
uint8_t rb_u8(struct rb *r);
uint32_t rb_u32(struct rb *r);
uint64_t rb_u64(struct rb *r);
double rb_f64(struct rb *r);
/* A length (of a string or an array): LEB128. */
uint64_t rb_varint(struct rb *r);
/* `n` raw bytes: a pointer into the answer, NULL when they are not all there. */
const void *rb_bytes(struct rb *r, uint64_t n);
/* A string: a pointer into the answer (not NUL-terminated) and its length. */
const char *rb_str(struct rb *r, size_t *len);
/* The same copied into `a`, NUL-terminated; NULL for "" when empty_null. */
struct arena;
const char *rb_strdup(struct rb *r, struct arena *a, int empty_null);

void rbw_u8(struct buf *b, uint8_t v);
void rbw_u32(struct buf *b, uint32_t v);
void rbw_u64(struct buf *b, uint64_t v);
void rbw_f64(struct buf *b, double v);
/* A string; NULL is written as "". */
void rbw_str(struct buf *b, const char *s);
void rbw_bytes(struct buf *b, const void *p, size_t n);

#endif
