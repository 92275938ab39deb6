/*
 * bench_storebytes.c - what a store's bytes would be in other forms, to
 * choose where to shrink it (docs/PERFORMANCE.md, "Store size per span"):
 *
 * - span blocks: each block's two frames (head and rest,
 *   docs/internals/STORE.md "Block format") decompressed and compressed
 *   again at zstd levels 1 to 7; at level 3 with a dictionary trained
 *   (ZDICT_trainFromBuffer) on the first quarter of the blocks and used on
 *   the other three quarters; and 4 consecutive blocks' frames compressed
 *   as one (about what blocks 4 times as large would take).  Bytes per span
 *   of the blocks compressed, and raw MB/s on one core.
 * - request rows as compressed columns: the `requests` table in id order,
 *   65,536 rows at a time, each column alone (start as the difference from
 *   the previous row's, zigzag varints; ids as 8 raw bytes; the rest as
 *   varints, NULL as -1) at zstd level 3.  Bytes per row.
 *
 *   bench_storebytes DATA/hotpath.db     (a stopped store: opened read-only)
 *
 * A benchmark, not part of hotpath: it reads the SQLite file directly.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zdict.h>
#include <zstd.h>

#include "bench.h"
#include "core/alloc.h"

#define MAX_BLOCKS 100000

struct frame {
	char *p;
	size_t n;
};

struct blocks {
	struct frame *f[2]; /* head, rest */
	long *spans;
	int n;
};

static int decompress(const char *src, size_t n, struct frame *out)
{
	unsigned long long raw = ZSTD_getFrameContentSize(src, n);
	if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN || raw > (1ull << 30))
		return -1;
	out->p = xmalloc(raw ? raw : 1);
	out->n = ZSTD_decompress(out->p, raw, src, n);
	return ZSTD_isError(out->n) ? -1 : 0;
}

/* Blocks of the HPB2/HPB3 kind (two frames); HPB1 blocks are skipped. */
static int load(const char *path, struct blocks *b)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT data, n_spans FROM blocks ORDER BY id", -1, &st, NULL) !=
		    SQLITE_OK) {
		fprintf(stderr, "bench_storebytes: %s: %s\n", path, sqlite3_errmsg(db));
		return -1;
	}
	for (int k = 0; k < 2; k++)
		b->f[k] = xcalloc(MAX_BLOCKS, sizeof(struct frame));
	b->spans = xcalloc(MAX_BLOCKS, sizeof(long));
	while (b->n < MAX_BLOCKS && sqlite3_step(st) == SQLITE_ROW) {
		const char *p = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		size_t head = ZSTD_findFrameCompressedSize(p, n);
		if (ZSTD_isError(head) || head >= n)
			continue;
		if (decompress(p, head, &b->f[0][b->n]) || decompress(p + head, n - head, &b->f[1][b->n]))
			continue;
		b->spans[b->n++] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}

/* Compressed bytes of frames [from, n), with `dict` or at `level`. */
static size_t squeeze(const struct frame *f, int from, int n, int level, const ZSTD_CDict *dict, double *mbs)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t total = 0, raw = 0, cap = 0;
	char *out = NULL;
	double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	for (int i = from; i < n; i++) {
		if (ZSTD_compressBound(f[i].n) > cap) {
			cap = ZSTD_compressBound(f[i].n);
			out = xrealloc(out, cap);
		}
		size_t r = dict ? ZSTD_compress_usingCDict(c, out, cap, f[i].p, f[i].n, dict)
				: ZSTD_compressCCtx(c, out, cap, f[i].p, f[i].n, level);
		total += ZSTD_isError(r) ? f[i].n : r;
		raw += f[i].n;
	}
	*mbs = (double)raw / (clock_s(CLOCK_THREAD_CPUTIME_ID) - t0) / 1e6;
	free(out);
	ZSTD_freeCCtx(c);
	return total;
}

/* A dictionary of `size` bytes trained on frames [0, n), or NULL. */
static ZSTD_CDict *train(const struct frame *f, int n, size_t size)
{
	size_t total = 0, off = 0, got;
	for (int i = 0; i < n; i++)
		total += f[i].n;
	char *samples = xmalloc(total ? total : 1), *dict = xmalloc(size);
	size_t *sizes = xmalloc((size_t)n * sizeof(size_t));
	for (int i = 0; i < n; i++) {
		memcpy(samples + off, f[i].p, f[i].n);
		sizes[i] = f[i].n;
		off += f[i].n;
	}
	got = ZDICT_trainFromBuffer(dict, size, samples, sizes, (unsigned)n);
	ZSTD_CDict *cd = ZDICT_isError(got) ? NULL : ZSTD_createCDict(dict, got, 3);
	free(samples);
	free(dict);
	free(sizes);
	return cd;
}

/* Frames [from, n) compressed `group` at a time, concatenated. */
static size_t grouped(const struct frame *f, int from, int n, int group)
{
	size_t total = 0, len = 0, cap = 0;
	char *raw = NULL, *out = NULL;
	for (int i = from; i < n; i++) {
		raw = xrealloc(raw, len + f[i].n + 1);
		memcpy(raw + len, f[i].p, f[i].n);
		len += f[i].n;
		if ((i - from) % group == group - 1 || i == n - 1) {
			if (ZSTD_compressBound(len) > cap) {
				cap = ZSTD_compressBound(len);
				out = xrealloc(out, cap);
			}
			total += ZSTD_compress(out, cap, raw, len, 3);
			len = 0;
		}
	}
	free(raw);
	free(out);
	return total;
}

#define ROW_COLS  15
#define ROW_CHUNK 65536

static void room(struct frame *c, size_t *cap)
{
	if (c->n + 10 > *cap) {
		*cap = *cap * 2 + 64;
		c->p = xrealloc(c->p, *cap);
	}
}

static void put_varint(struct frame *c, size_t *cap, int64_t v, int zigzag)
{
	uint64_t u = zigzag ? ((uint64_t)v << 1) ^ (uint64_t)(v >> 63) : (uint64_t)v;
	room(c, cap);
	do {
		c->p[c->n++] = (char)((u & 0x7f) | (u >= 0x80 ? 0x80 : 0));
		u >>= 7;
	} while (u);
}

static const char *const row_cols[ROW_COLS] = {
	"start_ns", "duration_ns", "trace_hi",	 "trace_lo", "span_id", "status",     "service", "endpoint",
	"env",	    "version",	   "department", "intent",   "tool",	"error_type", "edge"};

/* Adds each column's compressed size to sizes[] and empties it. */
static void flush_columns(struct frame *col, size_t *sizes)
{
	for (int k = 0; k < ROW_COLS; k++) {
		size_t bound = ZSTD_compressBound(col[k].n);
		char *out = xmalloc(bound);
		sizes[k] += ZSTD_compress(out, bound, col[k].p, col[k].n, 3);
		free(out);
		col[k].n = 0;
	}
}

static void request_columns(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	struct frame col[ROW_COLS] = {{0}};
	size_t cap[ROW_COLS] = {0}, sizes[ROW_COLS] = {0}, total = 0;
	long rows = 0;
	int64_t prev = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT start_ns, duration_ns, trace_hi, trace_lo, span_id, status, service, "
			       "endpoint, env, version, department, intent, tool, error_type, edge "
			       "FROM requests ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		printf("request rows: %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t start = sqlite3_column_int64(st, 0);
		put_varint(&col[0], &cap[0], start - prev, 1);
		prev = start;
		for (int k = 1; k < ROW_COLS; k++) {
			int64_t v =
				sqlite3_column_type(st, k) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, k);
			if (k >= 2 && k <= 4) { /* ids: 8 raw bytes */
				room(&col[k], &cap[k]);
				for (int j = 0; j < 8; j++)
					col[k].p[col[k].n++] = (char)((uint64_t)v >> (8 * j));
				continue;
			}
			put_varint(&col[k], &cap[k], v, 1);
		}
		if (++rows % ROW_CHUNK == 0)
			flush_columns(col, sizes);
	}
	flush_columns(col, sizes);
	sqlite3_finalize(st);
	sqlite3_close(db);
	for (int k = 0; k < ROW_COLS; k++) {
		free(col[k].p);
		total += sizes[k];
		printf("request_column_%s %.2f B/row\n", row_cols[k], rows ? (double)sizes[k] / rows : 0.0);
	}
	printf("request_rows %ld, as zstd columns %.2f B/row\n", rows, rows ? (double)total / rows : 0.0);
}

int main(int argc, char **argv)
{
	static const char *names[2] = {"head", "rest"};
	struct blocks b = {0};
	if (argc != 2) {
		fprintf(stderr, "usage: bench_storebytes DATA/hotpath.db\n");
		return 2;
	}
	if (load(argv[1], &b) || b.n < 8) {
		fprintf(stderr, "bench_storebytes: too few two-frame blocks (%d)\n", b.n);
		return 1;
	}
	int quarter = b.n / 4;
	long spans = 0;
	for (int i = quarter; i < b.n; i++)
		spans += b.spans[i];
	printf("blocks %d, measured on the last %d (%ld spans)\n", b.n, b.n - quarter, spans);
	for (int k = 0; k < 2; k++) {
		double mbs;
		for (int level = 1; level <= 7; level += 2) {
			size_t z = squeeze(b.f[k], quarter, b.n, level, NULL, &mbs);
			printf("%s_level_%d %.2f B/span %.0f MB/s\n", names[k], level, (double)z / spans,
			       mbs);
		}
		for (size_t size = 16384; size <= 131072; size *= 2) {
			ZSTD_CDict *cd = train(b.f[k], quarter, size);
			if (!cd)
				continue;
			size_t z = squeeze(b.f[k], quarter, b.n, 3, cd, &mbs);
			printf("%s_dict_%zuk_level_3 %.2f B/span %.0f MB/s\n", names[k], size / 1024,
			       (double)z / spans, mbs);
			ZSTD_freeCDict(cd);
		}
		size_t z = grouped(b.f[k], quarter, b.n, 4);
		printf("%s_4_blocks_as_one_level_3 %.2f B/span\n", names[k], (double)z / spans);
	}
	request_columns(argv[1]);
	return 0;
}
