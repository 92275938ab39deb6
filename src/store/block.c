/*
 * block.c - encode and decode compressed span blocks (see block.h).
 *
 * A block is two zstd frames: the head, which a tree of names and times
 * needs, and the rest (attributes, events, links), which it does not, so a
 * skeleton decompresses only the head.  Raw layout, every integer a LEB128
 * varint unless noted:
 *   head:  "HPB2"  strings  n_resources {n_attrs attr*}*n_resources
 *          n_spans  span*
 *   rest:  strings  {n_attrs attr*  n_events event*  n_links link*}*n_spans
 *   strings: n_strings {bytes NUL}*n_strings      NUL-terminated
 * span:  flags(u8)  [trace_id 16B]  span_id 8B  [parent 8B]  name
 *        kind(u8) status(u8) [status_message]  start_delta(zigzag) duration
 *        resource [scope_name] [scope_version]
 * event: time_delta(zigzag) name n_attrs attr*
 * link:  trace_id 16B span_id 8B n_attrs attr*
 * attr:  key type(u8) value   (string/json: string index; int: zigzag;
 *        bool: u8; double: 8 bytes little-endian)
 * Strings are indexes into the table of their frame.  Spans are sorted by
 * trace, so a set flag bit 0 means "same trace as the previous span" and
 * the id is omitted.
 *
 * Blocks written before the split ("HPB1") are one frame: the head's
 * strings serve both parts, and each span's rest follows its record.
 */
#include "store/block.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "core/alloc.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/strmap.h"

enum {
	F_SAME_TRACE = 1,
	F_PARENT = 2,
	F_STATUS_MSG = 4,
	F_SCOPE_NAME = 8,
	F_SCOPE_VERSION = 16,
};

static const char MAGIC_V1[4] = {'H', 'P', 'B', '1'}, MAGIC_V2[4] = {'H', 'P', 'B', '2'},
		  MAGIC[4] = {'H', 'P', 'B', '3'};
#define ZSTD_LEVEL 3

/* ---- encoding -------------------------------------------------------- */

struct encoder {
	struct buf strs, body;
	struct buf *out; /* where put_*() write: body, or a column of the head */
	struct strmap ids;
	uint64_t n_strs;
	int failed;
};

static void put_varint(struct encoder *e, uint64_t v)
{
	e->failed |= buf_put_varint(e->out, v);
}

static void put_svarint(struct encoder *e, int64_t v)
{
	e->failed |= buf_put_svarint(e->out, v);
}

static void put_bytes(struct encoder *e, const void *p, size_t n)
{
	e->failed |= buf_append(e->out, p, n);
}

static void put_str(struct encoder *e, const char *s)
{
	size_t len = strlen(s);
	int64_t id;
	if (strmap_get(&e->ids, s, len, &id) < 0) {
		id = (int64_t)e->n_strs++;
		strmap_put(&e->ids, s, len, id);
		e->failed |= buf_append(&e->strs, s, len + 1);
	}
	put_varint(e, (uint64_t)id);
}

static void put_attrs(struct encoder *e, const struct attr *a, uint32_t n)
{
	put_varint(e, n);
	for (uint32_t i = 0; i < n; i++) {
		put_str(e, a[i].key);
		uint8_t type = a[i].type;
		put_bytes(e, &type, 1);
		switch (type) {
		case ATTR_STRING:
		case ATTR_JSON: put_str(e, a[i].v.s ? a[i].v.s : ""); break;
		case ATTR_BOOL: {
			uint8_t b = a[i].v.i != 0;
			put_bytes(e, &b, 1);
			break;
		}
		case ATTR_INT: put_svarint(e, a[i].v.i); break;
		default: {
			uint64_t bits;
			memcpy(&bits, &a[i].v.d, 8);
			uint8_t le[8];
			for (int k = 0; k < 8; k++)
				le[k] = (uint8_t)(bits >> (8 * k));
			put_bytes(e, le, 8);
		}
		}
	}
}

static int cmp_span(const void *pa, const void *pb)
{
	const struct span *a = *(const struct span *const *)pa, *b = *(const struct span *const *)pb;
	int c = memcmp(a->trace_id, b->trace_id, 16);
	if (c)
		return c;
	return (a->start_ns > b->start_ns) - (a->start_ns < b->start_ns);
}

/* zstd contexts are costly to create: one per thread, freed at thread exit. */
static pthread_key_t cctx_key, dctx_key;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void free_cctx(void *c)
{
	ZSTD_freeCCtx(c);
}

static void free_dctx(void *d)
{
	ZSTD_freeDCtx(d);
}

static void make_keys(void)
{
	pthread_key_create(&cctx_key, free_cctx);
	pthread_key_create(&dctx_key, free_dctx);
}

static ZSTD_CCtx *cctx(void)
{
	pthread_once(&keys_once, make_keys);
	ZSTD_CCtx *c = pthread_getspecific(cctx_key);
	if (!c) {
		c = ZSTD_createCCtx();
		pthread_setspecific(cctx_key, c);
	}
	return c;
}

static ZSTD_DCtx *dctx(void)
{
	pthread_once(&keys_once, make_keys);
	ZSTD_DCtx *d = pthread_getspecific(dctx_key);
	if (!d) {
		d = ZSTD_createDCtx();
		pthread_setspecific(dctx_key, d);
	}
	return d;
}

static void encoder_init(struct encoder *e)
{
	memset(e, 0, sizeof(*e));
	buf_init(&e->strs, BLOCK_MAX_RAW);
	buf_init(&e->body, BLOCK_MAX_RAW);
	e->out = &e->body;
	strmap_init(&e->ids);
}

static void encoder_release(struct encoder *e)
{
	buf_release(&e->strs);
	buf_release(&e->body);
	strmap_release(&e->ids);
}

/* Append `magic` (if any), e's strings and body as one zstd frame. */
static int put_frame(const char *magic, const struct encoder *e, struct buf *out)
{
	struct buf raw;
	int ret = -1;
	buf_init(&raw, BLOCK_MAX_RAW);
	if ((magic && buf_append(&raw, magic, 4) < 0) || buf_put_varint(&raw, e->n_strs) < 0 ||
	    buf_append(&raw, e->strs.data, e->strs.len) < 0 ||
	    buf_append(&raw, e->body.data, e->body.len) < 0)
		goto out;
	size_t bound = ZSTD_compressBound(raw.len);
	if (buf_reserve(out, bound) < 0)
		goto out;
	size_t z = ZSTD_compressCCtx(cctx(), out->data + out->len, bound, raw.data, raw.len, ZSTD_LEVEL);
	if (!ZSTD_isError(z)) {
		out->len += z;
		ret = 0;
	}
out:
	buf_release(&raw);
	return ret;
}

/* A span id and where its span is in the block: the sorted index of a
 * block's ids, from which a parent is found by id. */
struct id_at {
	uint64_t id;
	size_t at;
};

static int cmp_id_at(const void *pa, const void *pb)
{
	const struct id_at *a = pa, *b = pb;
	if (a->id != b->id)
		return (a->id > b->id) - (a->id < b->id);
	return (a->at > b->at) - (a->at < b->at);
}

static uint64_t id64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* How far back (1 ..) the parent of span i is among spans [first, i) of
 * its trace, or 0 when it is not there (then its id is written out). */
static uint64_t parent_back(const struct id_at *ix, size_t n, const struct span *s, size_t first, size_t i)
{
	uint64_t want = id64(s->parent_span_id);
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix[mid].id < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && ix[lo].id == want && ix[lo].at < i; lo++)
		if (ix[lo].at >= first)
			return i - ix[lo].at;
	return 0;
}

/* The columns of a head (HPB3): each field of the span records in a
 * column of its own, which zstd compresses better than records. */
enum { C_FLAGS, C_IDS, C_PARENT, C_STRS, C_START, C_DUR, N_COLS };

static void put_span_head(struct encoder *e, struct buf *col, const struct span *s, uint8_t flags,
			  uint64_t back, uint64_t res, uint64_t prev_start)
{
	uint8_t rec[3] = {flags, s->kind, s->status};
	e->out = &col[C_FLAGS];
	put_bytes(e, rec, 3);
	e->out = &col[C_IDS];
	if (!(flags & F_SAME_TRACE))
		put_bytes(e, s->trace_id, 16);
	put_bytes(e, s->span_id, 8);
	if (flags & F_PARENT) {
		if (!back)
			put_bytes(e, s->parent_span_id, 8);
		e->out = &col[C_PARENT];
		put_varint(e, back);
	}
	e->out = &col[C_STRS];
	put_str(e, s->name);
	if (flags & F_STATUS_MSG)
		put_str(e, s->status_message);
	put_varint(e, res);
	if (flags & F_SCOPE_NAME)
		put_str(e, s->scope_name);
	if (flags & F_SCOPE_VERSION)
		put_str(e, s->scope_version);
	e->out = &col[C_START];
	put_svarint(e, (int64_t)(s->start_ns - prev_start));
	e->out = &col[C_DUR];
	put_varint(e, s->end_ns - s->start_ns);
	e->out = &e->body;
}

static uint8_t span_flags(const struct span *const *spans, size_t i)
{
	const struct span *s = spans[i];
	uint8_t flags = 0;
	if (i && !memcmp(s->trace_id, spans[i - 1]->trace_id, 16))
		flags |= F_SAME_TRACE;
	if (!hex_is_zero(s->parent_span_id, 8))
		flags |= F_PARENT;
	if (s->status_message && *s->status_message)
		flags |= F_STATUS_MSG;
	if (s->scope_name)
		flags |= F_SCOPE_NAME;
	if (s->scope_version)
		flags |= F_SCOPE_VERSION;
	return flags;
}

static void put_span_rest(struct encoder *rest, const struct span *s)
{
	put_attrs(rest, s->attrs, s->n_attrs);
	put_varint(rest, s->n_events);
	for (uint32_t j = 0; j < s->n_events; j++) {
		const struct span_event *ev = &s->events[j];
		put_svarint(rest, (int64_t)(ev->time_ns - s->start_ns));
		put_str(rest, ev->name ? ev->name : "");
		put_attrs(rest, ev->attrs, ev->n_attrs);
	}
	put_varint(rest, s->n_links);
	for (uint32_t j = 0; j < s->n_links; j++) {
		put_bytes(rest, s->links[j].trace_id, 16);
		put_bytes(rest, s->links[j].span_id, 8);
		put_attrs(rest, s->links[j].attrs, s->links[j].n_attrs);
	}
}

/* The span records of the head, column by column, and each span's rest. */
static void put_spans(struct encoder *head, struct encoder *rest, const struct span **spans, size_t n,
		      const struct resource **res)
{
	struct buf col[N_COLS];
	struct id_at *ix = calloc(n ? n : 1, sizeof(*ix));
	if (!ix) {
		head->failed = 1;
		return;
	}
	for (size_t i = 0; i < n; i++)
		ix[i] = (struct id_at){id64(spans[i]->span_id), i};
	qsort(ix, n, sizeof(*ix), cmp_id_at);
	for (int c = 0; c < N_COLS; c++)
		buf_init(&col[c], BLOCK_MAX_RAW);
	uint64_t prev_start = 0;
	size_t first = 0; /* the first span of the current trace */
	for (size_t i = 0; i < n; i++) {
		const struct span *s = spans[i];
		uint8_t flags = span_flags(spans, i);
		if (!(flags & F_SAME_TRACE))
			first = i;
		uint64_t back = flags & F_PARENT ? parent_back(ix, n, s, first, i) : 0;
		size_t k = 0;
		while (res[k] != s->resource)
			k++;
		put_span_head(head, col, s, flags, back, k, prev_start);
		prev_start = s->start_ns;
		put_span_rest(rest, s);
	}
	for (int c = 0; c < N_COLS; c++) {
		put_varint(head, col[c].len);
		put_bytes(head, col[c].data, col[c].len);
		buf_release(&col[c]);
	}
	free(ix);
}

int block_encode(const struct span **spans, size_t n, struct buf *out)
{
	struct encoder head, rest;
	const struct resource **res = NULL;
	size_t n_res = 0;
	int ret = -1;

	encoder_init(&head);
	encoder_init(&rest);
	qsort(spans, n, sizeof(*spans), cmp_span);

	/* Resources, numbered by first appearance (a block has few). */
	res = calloc(n ? n : 1, sizeof(*res));
	if (!res)
		goto out;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < n_res && res[k] != spans[i]->resource)
			k++;
		if (k == n_res)
			res[n_res++] = spans[i]->resource;
	}
	put_varint(&head, n_res);
	for (size_t k = 0; k < n_res; k++)
		put_attrs(&head, res[k]->attrs, res[k]->n_attrs);
	put_varint(&head, n);
	put_spans(&head, &rest, spans, n, res);
	if (head.failed || rest.failed)
		goto out;
	size_t at = out->len;
	ret = put_frame(MAGIC, &head, out) < 0 || put_frame(NULL, &rest, out) < 0 ? -1 : 0;
	if (ret < 0)
		out->len = at;
out:
	free(res);
	encoder_release(&head);
	encoder_release(&rest);
	return ret;
}

/* ---- decoding -------------------------------------------------------- */

/* The fewest bytes a span record of the head takes: flags, span id, name,
 * kind, status, start, duration and resource. */
#define SPAN_MIN_BYTES 15

struct reader {
	const uint8_t *p, *end;
	const char **strs;
	uint64_t n_strs;
	int bad;
	/* With a filter's keep_key: per string, -1 not asked yet, 0 or 1. */
	int (*keep_key)(const char *key);
	int8_t *key_ok;
};

static uint64_t get_varint_long(struct reader *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			break;
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

/* Most varints of a block (string indexes, counts, types) take one or two
 * bytes. */
static inline uint64_t get_varint(struct reader *r)
{
	if (r->end - r->p >= 2) {
		if (r->p[0] < 0x80)
			return *r->p++;
		if (r->p[1] < 0x80) {
			uint64_t v = (r->p[0] & 0x7fu) | (uint64_t)r->p[1] << 7;
			r->p += 2;
			return v;
		}
	}
	return get_varint_long(r);
}

static inline int64_t get_svarint(struct reader *r)
{
	uint64_t v = get_varint(r);
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static const uint8_t *get_bytes(struct reader *r, size_t n)
{
	static const uint8_t zero[16];
	if ((size_t)(r->end - r->p) < n) {
		r->bad = 1;
		r->p = r->end;
		return zero;
	}
	const uint8_t *p = r->p;
	r->p += n;
	return p;
}

static inline const char *get_str(struct reader *r)
{
	uint64_t id = get_varint(r);
	if (id >= r->n_strs) {
		r->bad = 1;
		return "";
	}
	return r->strs[id];
}

/* A count that cannot exceed the bytes left (each item takes ≥ 1 byte). */
static uint32_t get_count(struct reader *r)
{
	uint64_t n = get_varint(r);
	if (n > (uint64_t)(r->end - r->p)) {
		r->bad = 1;
		return 0;
	}
	return (uint32_t)n;
}

/* Whether attributes with key `id` (a valid string index) are kept. */
static int key_kept(struct reader *r, uint64_t id)
{
	if (!r->keep_key)
		return 1;
	if (r->key_ok[id] < 0)
		r->key_ok[id] = r->keep_key(r->strs[id]) != 0;
	return r->key_ok[id];
}

/* Step over an attribute's value of type `type`. */
static void skip_value(struct reader *r, uint8_t type)
{
	switch (type) {
	case ATTR_STRING:
	case ATTR_JSON:
	case ATTR_INT: get_varint(r); break;
	case ATTR_BOOL: get_bytes(r, 1); break;
	case ATTR_DOUBLE: get_bytes(r, 8); break;
	default: r->bad = 1;
	}
}

/* Read attributes into `a`, those the reader keeps.  Each is written in
 * place (a struct built on the stack and copied stalls on the copy). */
static struct attr *get_attrs(struct reader *r, struct arena *a, uint32_t *count)
{
	uint32_t n = get_count(r), kept = 0;
	struct attr *out = n ? arena_alloc(a, n * sizeof(*out)) : NULL;
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		uint64_t key = get_varint(r);
		if (key >= r->n_strs || r->p >= r->end) {
			r->bad = 1;
			break;
		}
		uint8_t type = *r->p++;
		if (!key_kept(r, key)) {
			skip_value(r, type);
			continue;
		}
		struct attr *x = &out[kept++];
		x->key = r->strs[key];
		x->type = type;
		switch (type) {
		case ATTR_STRING:
		case ATTR_JSON: x->v.s = get_str(r); break;
		case ATTR_BOOL: x->v.i = *get_bytes(r, 1) != 0; break;
		case ATTR_INT: x->v.i = get_svarint(r); break;
		case ATTR_DOUBLE: {
			const uint8_t *le = get_bytes(r, 8);
			uint64_t bits = 0;
			for (int k = 0; k < 8; k++)
				bits |= (uint64_t)le[k] << (8 * k);
			memcpy(&x->v.d, &bits, 8);
			break;
		}
		default: r->bad = 1;
		}
	}
	*count = r->bad ? 0 : kept;
	return out;
}

/* Step over attributes: a skeleton's, and those of spans not kept. */
static void skip_attrs(struct reader *r)
{
	uint32_t n = get_count(r);
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		get_varint(r); /* key */
		skip_value(r, *get_bytes(r, 1));
	}
}

/* A span's attributes, events and links. */
static void get_rest(struct reader *r, struct arena *a, struct span *s)
{
	s->attrs = get_attrs(r, a, &s->n_attrs);
	s->n_events = get_count(r);
	s->events = s->n_events ? arena_zalloc(a, s->n_events * sizeof(*s->events)) : NULL;
	for (uint32_t j = 0; j < s->n_events && !r->bad; j++) {
		struct span_event *ev = &s->events[j];
		ev->time_ns = s->start_ns + (uint64_t)get_svarint(r);
		ev->name = get_str(r);
		ev->attrs = get_attrs(r, a, &ev->n_attrs);
	}
	s->n_links = get_count(r);
	s->links = s->n_links ? arena_zalloc(a, s->n_links * sizeof(*s->links)) : NULL;
	for (uint32_t j = 0; j < s->n_links && !r->bad; j++) {
		struct span_link *l = &s->links[j];
		memcpy(l->trace_id, get_bytes(r, 16), 16);
		memcpy(l->span_id, get_bytes(r, 8), 8);
		l->attrs = get_attrs(r, a, &l->n_attrs);
	}
	if (r->bad)
		s->n_events = s->n_links = 0;
}

static void skip_rest(struct reader *r)
{
	skip_attrs(r);
	uint32_t n = get_count(r);
	for (uint32_t j = 0; j < n && !r->bad; j++) {
		get_varint(r); /* time */
		get_varint(r); /* name */
		skip_attrs(r);
	}
	n = get_count(r);
	for (uint32_t j = 0; j < n && !r->bad; j++) {
		get_bytes(r, 24); /* trace and span id */
		skip_attrs(r);
	}
}

/* Decompress the zstd frame at the start of data[0 .. len) into `a`; its
 * compressed size goes to *used.  NULL with a message in err. */
static uint8_t *inflate_frame(const uint8_t *data, size_t len, struct arena *a, size_t *raw_len, size_t *used,
			      char *err, size_t errlen)
{
	size_t zlen = ZSTD_findFrameCompressedSize(data, len);
	unsigned long long want =
		ZSTD_isError(zlen) ? ZSTD_CONTENTSIZE_ERROR : ZSTD_getFrameContentSize(data, zlen);
	if (want == ZSTD_CONTENTSIZE_ERROR || want == ZSTD_CONTENTSIZE_UNKNOWN || want > BLOCK_MAX_RAW) {
		errf(err, errlen, "corrupt span block: bad frame header");
		return NULL;
	}
	uint8_t *raw = arena_alloc(a, want ? (size_t)want : 1);
	size_t got = ZSTD_decompressDCtx(dctx(), raw, (size_t)want, data, zlen);
	if (ZSTD_isError(got) || got != want) {
		errf(err, errlen, "corrupt span block: %s",
		     ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
		return NULL;
	}
	*raw_len = got;
	*used = zlen;
	return raw;
}

/* A frame's string table, which r then reads from. */
static void get_strings(struct reader *r, struct arena *a)
{
	r->n_strs = get_count(r);
	r->strs = arena_alloc(a, (r->n_strs ? r->n_strs : 1) * sizeof(*r->strs));
	for (uint64_t i = 0; i < r->n_strs && !r->bad; i++) {
		const uint8_t *nul = memchr(r->p, 0, (size_t)(r->end - r->p));
		if (!nul) {
			r->bad = 1;
			break;
		}
		r->strs[i] = (const char *)r->p;
		r->p = nul + 1;
	}
}

/* Where each field of the span records is read: all from the head's one
 * stream (HPB1, HPB2), or each from its column (HPB3). */
struct head_in {
	struct reader *c[N_COLS];
	struct reader cols[N_COLS];
	int v3;
	const uint8_t **ids; /* HPB3: each span's id, for parents given as a distance */
	size_t first;	     /* the first span of the current trace */
};

static void head_in_init(struct head_in *h, struct reader *r, int v3, uint32_t n, struct arena *a)
{
	h->v3 = v3;
	h->first = 0;
	for (int c = 0; c < N_COLS; c++) {
		h->c[c] = r;
		if (!v3)
			continue;
		uint64_t len = get_varint(r);
		if (len > (uint64_t)(r->end - r->p)) {
			r->bad = 1;
			len = 0;
		}
		h->cols[c] =
			(struct reader){.p = r->p, .end = r->p + len, .strs = r->strs, .n_strs = r->n_strs};
		r->p += len;
		h->c[c] = &h->cols[c];
	}
	h->ids = v3 ? arena_alloc(a, (n ? n : 1) * sizeof(*h->ids)) : NULL;
}

static int head_bad(const struct head_in *h)
{
	for (int c = 0; c < N_COLS; c++)
		if (h->c[c]->bad)
			return 1;
	return 0;
}

static void get_parent(struct head_in *h, struct span *s, size_t i)
{
	if (!h->v3) {
		memcpy(s->parent_span_id, get_bytes(h->c[C_IDS], 8), 8);
		return;
	}
	uint64_t back = get_varint(h->c[C_PARENT]);
	if (!back)
		memcpy(s->parent_span_id, get_bytes(h->c[C_IDS], 8), 8);
	else if (back <= i - h->first)
		memcpy(s->parent_span_id, h->ids[i - back], 8);
	else
		h->c[C_PARENT]->bad = 1;
}

/* Span i's head record, all but its trace id (a corrupt one marks a reader bad). */
static void get_span_head(struct head_in *h, struct span *s, uint8_t flags, size_t i, struct resource *res,
			  uint32_t n_res, uint64_t *start)
{
	const uint8_t *id = get_bytes(h->c[C_IDS], 8);
	memcpy(s->span_id, id, 8);
	if (h->ids)
		h->ids[i] = id;
	if (flags & F_PARENT)
		get_parent(h, s, i);
	struct reader *strs = h->c[C_STRS];
	s->name = get_str(strs);
	const uint8_t *ks = get_bytes(h->c[C_FLAGS], 2);
	s->kind = ks[0];
	s->status = ks[1];
	if (flags & F_STATUS_MSG)
		s->status_message = get_str(strs);
	*start += (uint64_t)get_svarint(h->c[C_START]);
	s->start_ns = *start;
	s->end_ns = *start + get_varint(h->c[C_DUR]);
	uint64_t ri = get_varint(strs);
	if (ri >= n_res) {
		strs->bad = 1;
		s->resource = NULL;
	} else {
		s->resource = &res[ri];
	}
	if (flags & F_SCOPE_NAME)
		s->scope_name = get_str(strs);
	if (flags & F_SCOPE_VERSION)
		s->scope_version = get_str(strs);
}

long block_decode(const void *data, size_t len, const struct block_filter *f, struct batch *b, char *err,
		  size_t errlen)
{
	static const struct block_filter all;
	if (!f)
		f = &all;
	size_t raw_len, used;
	uint8_t *raw = inflate_frame(data, len, &b->arena, &raw_len, &used, err, errlen);
	if (!raw)
		return -1;
	if (raw_len < 5 || (memcmp(raw, MAGIC, 4) && memcmp(raw, MAGIC_V2, 4) && memcmp(raw, MAGIC_V1, 4)))
		return errf(err, errlen, "corrupt span block: bad magic");
	int v1 = !memcmp(raw, MAGIC_V1, 4), v3 = !memcmp(raw, MAGIC, 4);
	if (v1 != (used == len)) /* a v1 block is one frame, a v2 block two */
		return errf(err, errlen, "corrupt span block: %s", v1 ? "trailing bytes" : "missing frame");

	struct reader r = {.p = raw + 4, .end = raw + raw_len}, rest_frame = {0};
	get_strings(&r, &b->arena);
	uint32_t n_res = get_count(&r);
	struct resource *res = arena_zalloc(&b->arena, (n_res ? n_res : 1) * sizeof(*res));
	for (uint32_t i = 0; i < n_res && !r.bad; i++) {
		res[i].attrs = get_attrs(&r, &b->arena, &res[i].n_attrs);
		resource_derive(&res[i]);
	}

	/* where each span's attributes, events and links are read (or stepped
	 * over): after its record in a v1 block, in the second frame in a v2
	 * one, and not at all for a v2 skeleton */
	struct reader *rest = &r;
	if (!v1 && f->skeleton) {
		rest = NULL;
	} else if (!v1) {
		size_t rest_len, rest_used;
		uint8_t *p = inflate_frame((const uint8_t *)data + used, len - used, &b->arena, &rest_len,
					   &rest_used, err, errlen);
		if (!p)
			return -1;
		if (used + rest_used != len)
			return errf(err, errlen, "corrupt span block: trailing bytes");
		rest_frame = (struct reader){.p = p, .end = p + rest_len};
		get_strings(&rest_frame, &b->arena);
		rest = &rest_frame;
	}
	if (rest && f->keep_key) { /* from here on: resources keep all theirs */
		rest->keep_key = f->keep_key;
		rest->key_ok = arena_alloc(&b->arena, rest->n_strs ? rest->n_strs : 1);
		memset(rest->key_ok, -1, rest->n_strs);
	}
	const uint8_t *trace_id = f->trace_id;
	uint32_t n = get_count(&r);
	struct head_in h;
	head_in_init(&h, &r, v3, n, &b->arena);
	long kept = 0;
	uint8_t cur_trace[16] = {0};
	int keep_cur = 1;
	uint64_t start = 0;
	if (!trace_id) { /* room for them all */
		size_t most = (size_t)(r.end - (v3 ? raw : r.p)) / SPAN_MIN_BYTES;
		b->spans =
			xgrow(b->spans, &b->cap_spans, b->n_spans + (n < most ? n : most), sizeof(*b->spans));
	}
	for (uint32_t i = 0; i < n && !head_bad(&h) && !(rest && rest->bad); i++) {
		/* decoded in place; dropped again if not kept */
		struct span *s = batch_add_span(b);
		uint8_t flags = *get_bytes(h.c[C_FLAGS], 1);
		if (!(flags & F_SAME_TRACE)) {
			memcpy(cur_trace, get_bytes(h.c[C_IDS], 16), 16);
			keep_cur = !f->keep_trace || f->keep_trace(f->keep_trace_arg, cur_trace);
			h.first = i;
		}
		int keep = trace_id ? !memcmp(cur_trace, trace_id, 16) : keep_cur;
		memcpy(s->trace_id, cur_trace, 16);
		get_span_head(&h, s, flags, i, res, n_res, &start);
		if (rest && keep && !f->skeleton)
			get_rest(rest, &b->arena, s);
		else if (rest)
			skip_rest(rest);
		if (keep && !head_bad(&h) && !(rest && rest->bad))
			kept++;
		else
			batch_drop_last_span(b);
	}
	if (head_bad(&h) || (rest && rest->bad)) {
		b->n_spans -= (size_t)kept;
		return errf(err, errlen, "corrupt span block: truncated or inconsistent record");
	}
	return kept;
}
