/*
 * json_doc.c - a JSON tree in bump-allocated blocks, built from yajl's events.
 *
 * Owns the parse of untrusted JSON text and the typed accessors the
 * decoders use; it knows nothing of OTLP or any other format.
 */
#include "core/json_doc.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "core/alloc.h"
#include "core/json_write.h"
#include "core/log.h"
#include "core/utf8.h"

/* --- memory: bump allocation in blocks, a per-thread cache of free blocks --- */

#define BLOCK_SIZE (256 * 1024)
#define CACHE_MAX  (16u << 20)

struct json_block {
	struct json_block *next;
	size_t size, off;
	_Alignas(16) unsigned char data[];
};

static _Thread_local struct json_block *block_cache;
static _Thread_local size_t cache_bytes;

/* A thread that exits frees its cache (json_doc_trim() by a key's destructor). */
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

static void trim_at_exit(void *unused)
{
	(void)unused;
	json_doc_trim();
}

static void make_cache_key(void)
{
	pthread_key_create(&cache_key, trim_at_exit);
}

/* Called when a thread first caches a block. */
static void watch_thread_exit(void)
{
	pthread_once(&cache_key_once, make_cache_key);
	pthread_setspecific(cache_key, &block_cache); /* non-NULL: the destructor runs */
}

static void *doc_alloc(struct json_doc *d, size_t size)
{
	struct json_block *b = d->blocks;
	size = (size + 15) & ~(size_t)15;
	if (!b || b->size - b->off < size) {
		if (size > BLOCK_SIZE / 4) { /* big: a block of its own, behind the current one */
			b = xmalloc(sizeof(*b) + size);
			b->size = b->off = size;
			if (d->blocks) {
				b->next = d->blocks->next;
				d->blocks->next = b;
			} else {
				b->next = NULL;
				d->blocks = b;
			}
			return b->data;
		}
		if (block_cache) {
			b = block_cache;
			block_cache = b->next;
			cache_bytes -= b->size;
		} else {
			b = xmalloc(sizeof(*b) + BLOCK_SIZE);
			b->size = BLOCK_SIZE;
		}
		b->off = 0;
		b->next = d->blocks;
		d->blocks = b;
	}
	void *p = b->data + b->off;
	b->off += size;
	return p;
}

/* The length of s[0 .. len) with each byte that starts no valid UTF-8
 * sequence counted as U+FFFD (3 bytes).  yajl decodes a lone surrogate
 * escape ("\udc00") into such bytes. */
static size_t utf8_clean_len(const unsigned char *s, size_t len)
{
	size_t out = 0;
	for (size_t i = 0; i < len;) {
		size_t k = s[i] < 0x80 ? 1 : utf8_decode(s + i, len - i, NULL);
		out += k ? k : 3;
		i += k ? k : 1;
	}
	return out;
}

/* A NUL-terminated copy, always valid UTF-8: what a writer prints back is
 * what was read, byte for byte. */
static char *doc_strndup(struct json_doc *d, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = utf8_clean_len(u, len);
	char *p = doc_alloc(d, n + 1);
	if (n == len) {
		memcpy(p, s, len);
	} else {
		size_t o = 0;
		for (size_t i = 0; i < len;) {
			size_t k = u[i] < 0x80 ? 1 : utf8_decode(u + i, len - i, NULL);
			if (k) {
				memcpy(p + o, s + i, k);
				o += k;
				i += k;
			} else {
				o += utf8_encode(p + o, 0xFFFD);
				i++;
			}
		}
	}
	p[n] = 0;
	return p;
}

void json_doc_release(struct json_doc *d)
{
	struct json_block *b = d->blocks;
	while (b) {
		struct json_block *next = b->next;
		if (b->size == BLOCK_SIZE && cache_bytes + BLOCK_SIZE <= CACHE_MAX) {
			if (!cache_bytes)
				watch_thread_exit();
			b->next = block_cache;
			block_cache = b;
			cache_bytes += BLOCK_SIZE;
		} else {
			free(b);
		}
		b = next;
	}
	d->blocks = NULL;
	d->root = NULL;
}

void json_doc_trim(void)
{
	while (block_cache) {
		struct json_block *next = block_cache->next;
		free(block_cache);
		block_cache = next;
	}
	cache_bytes = 0;
}

/* --- the tree builder ------------------------------------------------------ */

struct builder {
	struct json_doc *d;
	const char *base; /* the input: member names inside it are not copied */
	size_t base_len;
	yajl_handle h;
	struct json *open[JSON_DOC_MAX_DEPTH]; /* the containers being filled */
	struct json *last[JSON_DOC_MAX_DEPTH]; /* their newest child */
	int depth;
	const char *key; /* the pending member name */
	uint32_t key_len;
	struct json *top_last; /* JSON_DOC_MULTI: the newest top-level value */
	int multi;
	size_t n_nodes;
	const char *fail; /* why a callback stopped the parse */
};

static struct json *add_node(struct builder *b, uint8_t type)
{
	if (++b->n_nodes > JSON_DOC_MAX_NODES) {
		b->fail = "too many values";
		return NULL;
	}
	struct json *n = doc_alloc(b->d, sizeof(*n));
	n->s = NULL;
	n->key = NULL;
	n->child = n->next = NULL;
	n->len = n->key_len = 0;
	n->type = type;
	n->offset = (uint32_t)yajl_get_bytes_consumed(b->h);
	if (b->depth == 0) {
		if (!b->multi) {
			b->d->root = n;
		} else {
			struct json *list = b->d->root;
			if (b->top_last)
				b->top_last->next = n;
			else
				list->child = n;
			b->top_last = n;
			list->len++;
		}
		return n;
	}
	struct json *parent = b->open[b->depth - 1];
	if (parent->type == JSON_OBJECT) {
		n->key = b->key;
		n->key_len = b->key_len;
	}
	if (b->last[b->depth - 1])
		b->last[b->depth - 1]->next = n;
	else
		parent->child = n;
	b->last[b->depth - 1] = n;
	parent->len++;
	return n;
}

static int on_null(void *ctx)
{
	return add_node(ctx, JSON_NULL) != NULL;
}

static int on_bool(void *ctx, int v)
{
	return add_node(ctx, v ? JSON_TRUE : JSON_FALSE) != NULL;
}

static int on_text(struct builder *b, uint8_t type, const char *s, size_t len)
{
	struct json *n = add_node(b, type);
	if (!n)
		return 0;
	if (len > UINT32_MAX) {
		b->fail = "string too long";
		return 0;
	}
	n->s = doc_strndup(b->d, s, len);
	n->len = (uint32_t)len;
	return 1;
}

static int on_number(void *ctx, const char *s, size_t len)
{
	return on_text(ctx, JSON_NUMBER, s, len);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
	return on_text(ctx, JSON_STRING, (const char *)s, len);
}

static int on_key(void *ctx, const unsigned char *key, size_t len)
{
	struct builder *b = ctx;
	const char *k = (const char *)key;
	if (len > UINT32_MAX) {
		b->fail = "member name too long";
		return 0;
	}
	/* yajl hands out names without escapes straight from the input */
	if (!((uintptr_t)k >= (uintptr_t)b->base && (uintptr_t)k + len <= (uintptr_t)b->base + b->base_len))
		k = doc_strndup(b->d, k, len);
	b->key = k;
	b->key_len = (uint32_t)len;
	return 1;
}

static int on_open(struct builder *b, uint8_t type)
{
	if (b->depth >= JSON_DOC_MAX_DEPTH) {
		b->fail = "nested too deeply";
		return 0;
	}
	struct json *n = add_node(b, type);
	if (!n)
		return 0;
	b->open[b->depth] = n;
	b->last[b->depth] = NULL;
	b->depth++;
	return 1;
}

static int on_start_map(void *ctx)
{
	return on_open(ctx, JSON_OBJECT);
}

static int on_start_array(void *ctx)
{
	return on_open(ctx, JSON_ARRAY);
}

static int on_close(void *ctx)
{
	struct builder *b = ctx;
	b->depth--;
	return 1;
}

static const yajl_callbacks callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_bool,
	.yajl_number = on_number,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_key,
	.yajl_end_map = on_close,
	.yajl_start_array = on_start_array,
	.yajl_end_array = on_close,
};

/* yajl's allocations follow hotpath's out-of-memory policy (alloc.h). */
static void *y_malloc(void *ctx, size_t size)
{
	return xmalloc(size);
}

static void *y_realloc(void *ctx, void *p, size_t size)
{
	return xrealloc(p, size);
}

static void y_free(void *ctx, void *p)
{
	free(p);
}

static yajl_alloc_funcs alloc_funcs = {y_malloc, y_realloc, y_free, NULL};

void json_doc_position(const char *data, size_t offset, unsigned *line, unsigned *column)
{
	unsigned l = 1, c = 1;
	for (size_t i = 0; i < offset; i++) {
		if (data[i] == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l;
	*column = c;
}

static int only_space(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return 0;
	return 1;
}

/* The parser's reason, on one line, and where. */
static int parse_error(struct builder *b, const char *data, size_t len, char *err, size_t errlen)
{
	size_t at = yajl_get_bytes_consumed(b->h);
	unsigned line, col;
	if (at > len)
		at = len;
	json_doc_position(data, at, &line, &col);
	if (b->fail)
		return errf(err, errlen, "invalid JSON at line %u, column %u (byte %zu): %s", line, col, at,
			    b->fail);
	unsigned char *msg = yajl_get_error(b->h, 0, (const unsigned char *)data, len);
	char *m = (char *)msg;
	size_t n = m ? strlen(m) : 0;
	while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
		m[--n] = 0;
	int rc = errf(err, errlen, "invalid JSON at line %u, column %u (byte %zu): %s", line, col, at,
		      m ? m : "syntax error");
	if (msg)
		yajl_free_error(b->h, msg);
	return rc;
}

int json_doc_parse(struct json_doc *d, const char *data, size_t len, unsigned flags, char *err, size_t errlen)
{
	struct builder b = {.d = d, .base = data, .base_len = len, .multi = !!(flags & JSON_DOC_MULTI)};
	int rc = 0;

	d->blocks = NULL;
	d->root = NULL;
	if (len > UINT32_MAX)
		return errf(err, errlen, "JSON text larger than 4 GiB");
	if (b.multi) {
		d->root = doc_alloc(d, sizeof(*d->root));
		memset(d->root, 0, sizeof(*d->root));
		d->root->type = JSON_ARRAY;
	}
	if (only_space(data, len))
		return 0;
	b.h = yajl_alloc(&callbacks, &alloc_funcs, &b);
	if (b.multi)
		yajl_config(b.h, yajl_allow_multiple_values, 1);
	if (yajl_parse(b.h, (const unsigned char *)data, len) != yajl_status_ok ||
	    yajl_complete_parse(b.h) != yajl_status_ok)
		rc = parse_error(&b, data, len, err, errlen);
	yajl_free(b.h);
	return rc;
}

int json_key_is(const struct json *m, const char *key)
{
	size_t n = strlen(key);
	return m->key_len == n && memcmp(m->key, key, n) == 0;
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	size_t n = strlen(key);
	for (const struct json *m = obj->child; m; m = m->next)
		if (m->key_len == n && memcmp(m->key, key, n) == 0)
			return m;
	return NULL;
}

const char *json_str(const struct json *v)
{
	return v && v->type == JSON_STRING ? v->s : NULL;
}

/* The text of an integer-valued number or string, else NULL. */
static const char *int_text(const struct json *v)
{
	if (!v || (v->type != JSON_NUMBER && v->type != JSON_STRING) || !v->len)
		return NULL;
	return v->s;
}

/* Digits only, no sign: the exact value, or -1 on overflow or other text. */
static int parse_digits(const char *p, uint64_t *out)
{
	uint64_t v = 0;
	if (!*p)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* A JSON-number-shaped text with a fraction or exponent, as a double. */
static int parse_real(const char *p, double *out)
{
	char *end;
	if (!*p || *p == ' ' || *p == '+' || *p == '\t' || *p == '\n')
		return -1;
	errno = 0;
	double d = strtod(p, &end);
	if (*end || errno == ERANGE || !isfinite(d))
		return -1;
	*out = d;
	return 0;
}

int json_uint64(const struct json *v, uint64_t *out)
{
	const char *p = int_text(v);
	double d;
	if (!p)
		return -1;
	if (parse_digits(p, out) == 0)
		return 0;
	if (*p == '-' || !strpbrk(p, ".eE") || parse_real(p, &d) < 0)
		return -1;
	if (d < 0 || d >= 18446744073709551616.0 || d != trunc(d))
		return -1;
	*out = (uint64_t)d;
	return 0;
}

int json_int64(const struct json *v, int64_t *out)
{
	const char *p = int_text(v);
	uint64_t u;
	double d;
	if (!p)
		return -1;
	int neg = *p == '-';
	if (parse_digits(p + neg, &u) == 0) {
		if (!neg && u > (uint64_t)INT64_MAX)
			return -1;
		if (neg && u > (uint64_t)INT64_MAX + 1)
			return -1;
		*out = neg ? (int64_t)(0 - u) : (int64_t)u;
		return 0;
	}
	if (!strpbrk(p, ".eE") || parse_real(p, &d) < 0)
		return -1;
	if (d < -9223372036854775808.0 || d >= 9223372036854775808.0 || d != trunc(d))
		return -1;
	*out = (int64_t)d;
	return 0;
}

int json_double(const struct json *v, double *out)
{
	if (!v)
		return -1;
	if (v->type == JSON_NUMBER) {
		/* yajl checked the syntax; overflow becomes +-HUGE_VAL */
		*out = strtod(v->s, NULL);
		return 0;
	}
	if (v->type != JSON_STRING)
		return -1;
	if (strcmp(v->s, "NaN") == 0) {
		*out = NAN;
		return 0;
	}
	if (strcmp(v->s, "Infinity") == 0 || strcmp(v->s, "-Infinity") == 0) {
		*out = v->s[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	return parse_real(v->s, out);
}

/* The member name of `m`, NUL-terminated (names in a document are not):
 * in `small` when it fits, else allocated (free it when it is not `small`). */
static char *key_copy(const struct json *m, char small[static 128])
{
	char *k = m->key_len < 128 ? small : xmalloc(m->key_len + 1);
	memcpy(k, m->key, m->key_len);
	k[m->key_len] = 0;
	return k;
}

int json_write_key(struct buf *out, const struct json *m)
{
	char small[128], *k = key_copy(m, small);
	int rc = buf_put_json_str(out, k);
	if (k != small)
		free(k);
	return rc;
}

/* `v` through the writer: numbers as their text, as they were read. */
static void write_value(struct json_w *w, const struct json *v)
{
	struct buf *b;
	switch (v->type) {
	case JSON_NULL: jw_null(w); return;
	case JSON_FALSE: jw_bool(w, false); return;
	case JSON_TRUE: jw_bool(w, true); return;
	case JSON_STRING: jw_str(w, v->s); return;
	case JSON_NUMBER:
		if ((b = jw_value_buf(w)) && buf_append(b, v->s, v->len) < 0)
			w->err = true;
		return;
	case JSON_ARRAY: jw_arr_begin(w); break;
	case JSON_OBJECT: jw_obj_begin(w); break;
	default: w->err = true; return;
	}
	for (const struct json *c = v->child; c && !w->err; c = c->next) {
		if (v->type == JSON_OBJECT) {
			char small[128], *k = key_copy(c, small);
			jw_key(w, k);
			if (k != small)
				free(k);
		}
		write_value(w, c);
	}
	if (v->type == JSON_ARRAY)
		jw_arr_end(w);
	else
		jw_obj_end(w);
}

int json_write(struct buf *out, const struct json *v)
{
	struct json_w w;
	jw_init(&w, out);
	write_value(&w, v);
	return jw_finish(&w);
}
