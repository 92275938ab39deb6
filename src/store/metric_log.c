/*
 * metric_log.c - the log of metric points not yet folded into
 * metric_points and metric_hours, and the fold (see metric_log.h).
 *
 * A log row's bytes (integers are LEB128 varints, doubles 8 bytes LE):
 *
 *   version(1)  point*
 *   point = series  flags  time_ns(8 bytes LE)
 *           gauge or sum:  value
 *           histogram:     count  sum  n_bounds  [bounds: n_bounds doubles]
 *                          [buckets: n_bounds + 1 counts of 8 bytes]
 *   flags = 1 histogram | 2 bounds present | 4 buckets present
 *
 * The fold gives each table exactly what writing the points one by one in
 * log order gave: a point's row is replaced by a later point of the same
 * series and time, and each hour's figures are the same sums in the same
 * order (the hour's stored row, then its points in log order).
 */
#include "store/metric_log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "store/store.h"

#define LOG_VERSION	  1
#define POINTS_PER_INSERT 32 /* rows of one INSERT statement in the fold */
enum { F_HIST = 1, F_BOUNDS = 2, F_BUCKETS = 4 };

static void put_u64(struct buf *b, uint64_t v)
{
	uint8_t t[8];
	for (int i = 0; i < 8; i++)
		t[i] = (uint8_t)(v >> (8 * i));
	buf_append(b, t, 8);
}

static void put_double(struct buf *b, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	put_u64(b, v);
}

void metric_log_encode(struct buf *out, const struct metric_point *points, const int64_t *series, size_t n)
{
	buf_putc(out, LOG_VERSION);
	for (size_t i = 0; i < n; i++) {
		const struct metric_point *p = &points[i];
		int hist = p->type == METRIC_HISTOGRAM;
		uint8_t flags = (uint8_t)((hist ? F_HIST : 0) | (hist && p->bounds ? F_BOUNDS : 0) |
					  (hist && p->bucket_counts ? F_BUCKETS : 0));
		buf_put_varint(out, (uint64_t)series[i]);
		buf_putc(out, (char)flags);
		put_u64(out, p->time_ns);
		if (!hist) {
			put_double(out, p->value);
			continue;
		}
		buf_put_varint(out, p->count);
		put_double(out, p->sum);
		buf_put_varint(out, p->n_bounds);
		if (p->bounds)
			buf_append(out, p->bounds, (size_t)p->n_bounds * sizeof(double));
		if (p->bucket_counts)
			buf_append(out, p->bucket_counts, ((size_t)p->n_bounds + 1) * sizeof(uint64_t));
	}
}

struct reader {
	const uint8_t *p, *end;
	int bad;
};

static uint64_t get_varint(struct reader *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			break;
		uint8_t c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t v = 0;
	if (r->end - r->p < 8) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	return v;
}

static double get_double(struct reader *r)
{
	uint64_t v = get_u64(r);
	double d;
	memcpy(&d, &v, 8);
	return d;
}

/* `n` bytes in place, or NULL (and bad) when the row is shorter. */
static const uint8_t *get_bytes(struct reader *r, uint64_t n)
{
	if ((uint64_t)(r->end - r->p) < n) {
		r->bad = 1;
		return NULL;
	}
	const uint8_t *at = r->p;
	r->p += n;
	return at;
}

int metric_log_decode(const uint8_t *data, size_t len, metric_log_fn fn, void *arg)
{
	struct reader r = {data, data + len, 0};
	if (!len || *r.p++ != LOG_VERSION)
		return -1;
	while (r.p < r.end && !r.bad) {
		struct metric_log_point p = {0};
		p.series = (int64_t)get_varint(&r);
		uint8_t flags = r.p < r.end ? *r.p++ : (r.bad = 1, 0);
		p.time_ns = get_u64(&r);
		p.histogram = flags & F_HIST;
		if (!p.histogram) {
			p.value = get_double(&r);
		} else {
			p.count = get_varint(&r);
			p.sum = get_double(&r);
			uint64_t nb = get_varint(&r);
			if (nb > UINT32_MAX / 16)
				return -1;
			p.n_bounds = (uint32_t)nb;
			if (flags & F_BOUNDS)
				p.bounds = get_bytes(&r, nb * 8);
			if (flags & F_BUCKETS)
				p.buckets = get_bytes(&r, (nb + 1) * 8);
		}
		if (r.bad)
			return -1;
		if (fn(arg, &p) < 0)
			return -1;
	}
	return r.bad ? -1 : 0;
}

/* ---- the fold ---------------------------------------------------------- */

/* One hour of one series being folded: its stored row (if any), then the
 * log's points added in log order, as the per-point upsert did. */
struct hour {
	int64_t series;
	uint64_t t;
	int used, stored;
	uint64_t n;
	double sum, min, max, first, last, inc;
};

struct folded {
	struct metric_log_point p;
	size_t seq; /* log order */
};

struct fold {
	sqlite3 *db;
	sqlite3_stmt *hour_get, *hour_put, *point_put, *points_put;
	struct folded *points;
	size_t n_points, cap_points;
	struct hour *hours; /* open addressing by (series, t) */
	size_t hours_mask, n_hours;
	char *err;
	size_t errlen;
};

static uint64_t hour_hash(int64_t series, uint64_t t)
{
	uint64_t h = (uint64_t)series * 0x9e3779b97f4a7c15ull ^ (t / STORE_METRIC_HOUR_NS);
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

static void hours_grow(struct fold *f)
{
	size_t cap = f->hours ? (f->hours_mask + 1) * 2 : 256;
	struct hour *old = f->hours;
	size_t old_cap = old ? f->hours_mask + 1 : 0;
	f->hours = xcalloc(cap, sizeof(*f->hours));
	f->hours_mask = cap - 1;
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i].used)
			continue;
		size_t j = hour_hash(old[i].series, old[i].t) & f->hours_mask;
		while (f->hours[j].used)
			j = (j + 1) & f->hours_mask;
		f->hours[j] = old[i];
	}
	free(old);
}

/* The hour of (series, t), read from metric_hours the first time. */
static struct hour *hour_of(struct fold *f, int64_t series, uint64_t t)
{
	if (!f->hours || (f->n_hours + 1) * 2 > f->hours_mask + 1)
		hours_grow(f);
	size_t j = hour_hash(series, t) & f->hours_mask;
	while (f->hours[j].used) {
		if (f->hours[j].series == series && f->hours[j].t == t)
			return &f->hours[j];
		j = (j + 1) & f->hours_mask;
	}
	struct hour *h = &f->hours[j];
	*h = (struct hour){.series = series, .t = t, .used = 1};
	f->n_hours++;
	sqlite3_stmt *st = f->hour_get;
	sqlite3_bind_int64(st, 1, series);
	sqlite3_bind_int64(st, 2, (int64_t)t);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		h->stored = 1;
		h->n = (uint64_t)sqlite3_column_int64(st, 0);
		h->sum = sqlite3_column_double(st, 1);
		h->min = sqlite3_column_double(st, 2);
		h->max = sqlite3_column_double(st, 3);
		h->first = sqlite3_column_double(st, 4);
		h->last = sqlite3_column_double(st, 5);
		h->inc = sqlite3_column_double(st, 6);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		errf(f->err, f->errlen, "metric hours: %s", sqlite3_errmsg(f->db));
		return NULL;
	}
	return h;
}

/* Add one value to its hour: what `INSERT … ON CONFLICT DO UPDATE` did. */
static void hour_add(struct hour *h, double v)
{
	if (!h->stored) {
		h->stored = 1;
		h->n = 1;
		h->sum = h->min = h->max = h->first = h->last = v;
		h->inc = 0;
		return;
	}
	h->n++;
	h->sum = h->sum + v;
	h->min = v < h->min ? v : h->min;
	h->max = v > h->max ? v : h->max;
	h->inc = h->inc + (v >= h->last ? v - h->last : v);
	h->last = v;
}

/* Each point of the log: kept for metric_points, added to its hour. */
static int fold_point(void *arg, const struct metric_log_point *p)
{
	struct fold *f = arg;
	if (f->n_points == f->cap_points) {
		f->cap_points = f->cap_points ? f->cap_points * 2 : 1024;
		f->points = xrealloc(f->points, f->cap_points * sizeof(*f->points));
	}
	f->points[f->n_points] = (struct folded){*p, f->n_points};
	f->n_points++;
	/* histograms have no hours; a value that is not finite has no sum */
	if (p->histogram || !isfinite(p->value))
		return 0;
	struct hour *h = hour_of(f, p->series, p->time_ns / STORE_METRIC_HOUR_NS * STORE_METRIC_HOUR_NS);
	if (!h)
		return -1;
	hour_add(h, p->value);
	return 0;
}

static int fold_write_hours(struct fold *f)
{
	sqlite3_stmt *st = f->hour_put;
	for (size_t i = 0; f->hours && i <= f->hours_mask; i++) {
		const struct hour *h = &f->hours[i];
		if (!h->used || !h->stored)
			continue;
		sqlite3_bind_int64(st, 1, h->series);
		sqlite3_bind_int64(st, 2, (int64_t)h->t);
		sqlite3_bind_int64(st, 3, (int64_t)h->n);
		sqlite3_bind_double(st, 4, h->sum);
		sqlite3_bind_double(st, 5, h->min);
		sqlite3_bind_double(st, 6, h->max);
		sqlite3_bind_double(st, 7, h->first);
		sqlite3_bind_double(st, 8, h->last);
		sqlite3_bind_double(st, 9, h->inc);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return errf(f->err, f->errlen, "metric hours: %s", sqlite3_errmsg(f->db));
	}
	return 0;
}

/* Series, then time, then log order: the B-tree is written in key order,
 * and of two points with the same key the later one is written last. */
static int cmp_point(const void *pa, const void *pb)
{
	const struct folded *a = pa, *b = pb;
	if (a->p.series != b->p.series)
		return a->p.series < b->p.series ? -1 : 1;
	if (a->p.time_ns != b->p.time_ns)
		return a->p.time_ns < b->p.time_ns ? -1 : 1;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Point i's seven columns from parameter `base` + 1 on. */
static void bind_point(sqlite3_stmt *st, int base, const struct metric_log_point *p)
{
	sqlite3_bind_int64(st, base + 1, p->series);
	sqlite3_bind_int64(st, base + 2, (int64_t)p->time_ns);
	if (!p->histogram) {
		sqlite3_bind_double(st, base + 3, p->value);
		return;
	}
	sqlite3_bind_int64(st, base + 4, (int64_t)p->count);
	sqlite3_bind_double(st, base + 5, p->sum);
	if (p->bounds)
		sqlite3_bind_blob(st, base + 6, p->bounds, (int)(p->n_bounds * sizeof(double)),
				  SQLITE_STATIC);
	if (p->buckets)
		sqlite3_bind_blob(st, base + 7, p->buckets, (int)((p->n_bounds + 1) * sizeof(uint64_t)),
				  SQLITE_STATIC);
}

/* The points in key order, POINTS_PER_INSERT rows a statement; of points
 * with the same key only the last written, the one the table kept. */
static int fold_write_points(struct fold *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->n_points; i++) {
		const struct metric_log_point *p = &f->points[i].p,
					      *q = i + 1 < f->n_points ? &f->points[i + 1].p : NULL;
		if (q && q->series == p->series && q->time_ns == p->time_ns)
			continue; /* replaced by the next */
		f->points[n++].p = *p;
	}
	for (size_t i = 0; i < n;) {
		int rows = n - i >= POINTS_PER_INSERT ? POINTS_PER_INSERT : 1;
		sqlite3_stmt *st = rows > 1 ? f->points_put : f->point_put;
		for (int r = 0; r < rows; r++)
			bind_point(st, r * 7, &f->points[i + (size_t)r].p);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_DONE)
			return errf(f->err, f->errlen, "metric points: %s", sqlite3_errmsg(f->db));
		i += (size_t)rows;
	}
	return 0;
}

static const char *const fold_sql[] = {
	"SELECT n, sum, min, max, first, last, inc FROM metric_hours WHERE series = ?1 AND t = ?2",
	"INSERT OR REPLACE INTO metric_hours(series, t, n, sum, min, max, first, last, inc)"
	" VALUES(?,?,?,?,?,?,?,?,?)",
	"INSERT OR REPLACE INTO metric_points(series, time_ns, value, count, sum, bounds, buckets)"
	" VALUES(?,?,?,?,?,?,?)",
};

static int prepare_points_put(struct fold *f)
{
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_puts(&sql, fold_sql[2]);
	for (int r = 1; r < POINTS_PER_INSERT; r++)
		buf_puts(&sql, ",(?,?,?,?,?,?,?)");
	int rc = sqlite3_prepare_v2(f->db, sql.data, (int)sql.len, &f->points_put, NULL);
	buf_release(&sql);
	if (rc != SQLITE_OK)
		return errf(f->err, f->errlen, "metric log: %s", sqlite3_errmsg(f->db));
	return 0;
}

/* Every log row's bytes, one after the other, and where each starts. */
static int read_log(sqlite3 *db, struct buf *bytes, size_t **starts, size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;
	if (sqlite3_prepare_v2(db, "SELECT data FROM metric_log ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return errf(err, errlen, "metric log: %s", sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n + 1 >= cap) {
			cap = cap ? cap * 2 : 256;
			*starts = xrealloc(*starts, cap * sizeof(**starts));
		}
		(*starts)[(*n)++] = bytes->len;
		buf_append(bytes, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return errf(err, errlen, "metric log: %s", sqlite3_errmsg(db));
	if (*starts)
		(*starts)[*n] = bytes->len;
	return 0;
}

long metric_log_fold(sqlite3 *db, char *err, size_t errlen)
{
	struct fold f = {.db = db, .err = err, .errlen = errlen};
	struct buf bytes;
	size_t *starts = NULL, n_rows = 0;
	long ret = -1;
	if (errlen)
		err[0] = '\0';
	buf_init(&bytes, BUF_NO_LIMIT);
	if (read_log(db, &bytes, &starts, &n_rows, err, errlen) < 0)
		goto out;
	if (!n_rows) {
		ret = 0;
		goto out;
	}
	sqlite3_stmt **sts[] = {&f.hour_get, &f.hour_put, &f.point_put};
	for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
		if (sqlite3_prepare_v2(db, fold_sql[i], -1, sts[i], NULL) != SQLITE_OK) {
			errf(err, errlen, "metric log: %s", sqlite3_errmsg(db));
			goto out;
		}
	for (size_t i = 0; i < n_rows; i++) {
		const uint8_t *row = (const uint8_t *)bytes.data + starts[i];
		if (metric_log_decode(row, starts[i + 1] - starts[i], fold_point, &f) < 0) {
			if (*err)
				goto out; /* the database failed */
			/* bytes this store did not write: what they held is unreadable */
			log_error("store: metric log: row %zu of %zu is not a log row; dropped", i + 1,
				  n_rows);
		}
	}
	if (prepare_points_put(&f) < 0)
		goto out;
	qsort(f.points, f.n_points, sizeof(*f.points), cmp_point);
	if (fold_write_points(&f) < 0 || fold_write_hours(&f) < 0)
		goto out;
	if (sqlite3_exec(db, "DELETE FROM metric_log", NULL, NULL, NULL) != SQLITE_OK) {
		errf(err, errlen, "metric log: %s", sqlite3_errmsg(db));
		goto out;
	}
	ret = (long)f.n_points;
out:
	sqlite3_finalize(f.hour_get);
	sqlite3_finalize(f.hour_put);
	sqlite3_finalize(f.point_put);
	sqlite3_finalize(f.points_put);
	free(f.points);
	free(f.hours);
	free(starts);
	buf_release(&bytes);
	return ret;
}
