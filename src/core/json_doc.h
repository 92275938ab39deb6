/*
 * json_doc.h - parse untrusted JSON into a read-only tree in an arena.
 *
 * The JSON decoders of src/ingest (OTLP/JSON, the seeds' request model) and
 * the readers of JSON settings walk this tree.  It is built from yajl's event parser (see docs/DECISIONS.md,
 * "JSON library"): yajl checks the syntax and UTF-8, this module keeps the
 * values.  Numbers keep their literal text, so 64-bit integers are exact.
 *
 * Every node and string lives in the document's own blocks; json_doc_release()
 * frees them all at once.  Released blocks are kept for the thread's next
 * document (up to a few MiB): a server parses one body after another, and
 * asking the kernel for fresh pages each time costs as much as the parse.  Nesting deeper than JSON_DOC_MAX_DEPTH and more
 * than JSON_DOC_MAX_NODES values are refused: payloads are untrusted.
 */
#ifndef HOTPATH_CORE_JSON_DOC_H
#define HOTPATH_CORE_JSON_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define JSON_DOC_MAX_DEPTH 64
#define JSON_DOC_MAX_NODES (8u << 20)

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	/*
	 * JSON_STRING: the decoded text, NUL-terminated (it may also hold NULs).
	 * JSON_NUMBER: the literal as written, NUL-terminated.
	 */
	const char *s;
	/* Member name inside an object, `key_len` bytes, not NUL-terminated. */
	const char *key;
	struct json *child; /* first element or member */
	struct json *next;  /* next sibling */
	uint32_t len;	    /* bytes of `s`, or number of children */
	uint32_t key_len;
	uint32_t offset; /* byte offset in the input just after the value's first token */
	uint8_t type;	 /* enum json_type */
};

struct json_block;

struct json_doc {
	struct json_block *blocks;
	/*
	 * The value, or NULL when the input is empty or only white space.
	 * With JSON_DOC_MULTI, a JSON_ARRAY node listing every top-level value.
	 */
	struct json *root;
};

/* Accept a sequence of top-level values (NDJSON, or values side by side). */
#define JSON_DOC_MULTI 1

/*
 * Parse `len` bytes into `d` (which need not be initialised).  Returns 0, or
 * -1 with a message giving the parser's reason and the line, column and
 * byte offset of the error.  Release `d` in both cases.
 */
int json_doc_parse(struct json_doc *d, const char *data, size_t len, unsigned flags, char *err,
		   size_t errlen);
void json_doc_release(struct json_doc *d);
/* Free the calling thread's cache of blocks now (a thread that exits frees it). */
void json_doc_trim(void);

/* 1-based line and column of byte `offset` of `data`. */
void json_doc_position(const char *data, size_t offset, unsigned *line, unsigned *column);

/* Is `m` the object member named `key`? */
int json_key_is(const struct json *m, const char *key);
/* The member `key` of object `obj`, or NULL (also when `obj` is not an object). */
const struct json *json_get(const struct json *obj, const char *key);
/* The string of a JSON_STRING, else NULL. */
const char *json_str(const struct json *v);

/*
 * Integers given as a JSON number or as a string holding one (the protobuf
 * JSON mapping writes 64-bit integers as strings).  Exact for integer
 * literals; a literal with a fraction or exponent is accepted when its value
 * is integral and in range.  Return 0, or -1 when `v` is not such a value.
 */
int json_int64(const struct json *v, int64_t *out);
int json_uint64(const struct json *v, uint64_t *out);
/* A number, or a string holding one, "NaN", "Infinity" or "-Infinity". */
int json_double(const struct json *v, double *out);

/* Append `v` as compact JSON text. */
int json_write(struct buf *out, const struct json *v);
/* Append the member name of `m` as a JSON string literal. */
int json_write_key(struct buf *out, const struct json *m);

#endif
