/*
 * clickhouse_metrics.c - metric series in ClickHouse: the points by series
 * (a series' id is cityHash64 of its service, resource identity, name and
 * attributes), the series of a range, and the hourly aggregates of gauges
 * and sums (`metric_hours`), which the holder of the background lease
 * computes from the points of each finished hour and long ranges read.
 *
 * An hour is computed once it has ended CH_HOUR_GRACE ago, and again on
 * each of the next CH_HOUR_REDO hours (points that arrive later than that
 * are in the points, not in their hour's aggregate); its rows replace the
 * older ones (ReplacingMergeTree, read with FINAL).
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/clickhouse_store.h"

#define HOUR_NS	      STORE_METRIC_HOUR_NS
#define CH_HOUR_GRACE (2ull * 60ull * 1000000000ull)
#define CH_HOUR_REDO  3
#define HOURS_A_STEP  48 /* hours computed in one step, at most (a backfill goes on next step) */

/* positive as an int64: readers take negative ids for "none" */
#define SERIES_ID "bitAnd(cityHash64(service, resource, name, attrs), 9223372036854775807)"
#define POINT_COLS                                                                                           \
	SERIES_ID " AS sid, service, resource, name, unit, type, delta, attrs, time_ns AS t, value, count, " \
		  "sum,"                                                                                     \
		  " bounds, buckets"

/* One row: a point (hour 0) or an hour's aggregate (hour 1, value = its last). */
struct series_read {
	store_point_fn plain;
	store_series_point_fn series;
	store_series_hour_fn hours;
	void *arg;
	struct arena a; /* the current series' strings, reset when it changes */
	uint64_t sid;
	int have;
	struct resource res;
	struct metric_point p;
	double *bounds;
	uint64_t *counts;
	size_t cap_bounds, cap_counts;
	char *err;
	size_t errlen;
};

static void new_series(struct series_read *sr, uint64_t sid, const char *f[5], const size_t len[5],
		       uint8_t type, uint8_t delta)
{
	arena_reset(&sr->a);
	sr->sid = sid;
	sr->have = 1;
	sr->res = (struct resource){0};
	sr->res.n_attrs = store_attrs_from_json(&sr->a, f[1], len[1], &sr->res.attrs);
	resource_derive(&sr->res);
	sr->res.service_name = arena_strndup(&sr->a, f[0], len[0]);
	sr->p = (struct metric_point){.resource = &sr->res};
	sr->p.name = arena_strndup(&sr->a, f[2], len[2]);
	sr->p.unit = arena_strndup(&sr->a, f[3], len[3]);
	sr->p.type = type;
	sr->p.delta = delta;
	sr->p.n_attrs = store_attrs_from_json(&sr->a, f[4], len[4], &sr->p.attrs);
}

/* The histogram arrays of a row, into sr's buffers.  -1: the row is short. */
static int read_arrays(struct series_read *sr, struct rb *r, uint32_t *nb, size_t *nc)
{
	uint64_t n = rb_varint(r);
	if (r->short_read || n > (1u << 20))
		return -1;
	sr->bounds = xgrow(sr->bounds, &sr->cap_bounds, (size_t)n + 1, sizeof(double));
	for (uint64_t i = 0; i < n; i++)
		sr->bounds[i] = rb_f64(r);
	uint64_t c = rb_varint(r);
	if (r->short_read || c > (1u << 20))
		return -1;
	sr->counts = xgrow(sr->counts, &sr->cap_counts, (size_t)c + 1, sizeof(uint64_t));
	for (uint64_t i = 0; i < c; i++)
		sr->counts[i] = rb_u64(r);
	*nb = (uint32_t)n;
	*nc = (size_t)c;
	return r->short_read ? -1 : 0;
}

static int read_series_row(void *arg, struct rb *r)
{
	struct series_read *sr = arg;
	const char *f[5]; /* service, resource, name, unit, attrs */
	size_t len[5];
	uint64_t sid = rb_u64(r);
	for (int i = 0; i < 4; i++)
		f[i] = rb_str(r, &len[i]);
	uint8_t type = rb_u8(r), delta = rb_u8(r);
	f[4] = rb_str(r, &len[4]);
	uint64_t t = rb_u64(r);
	double value = rb_f64(r);
	uint64_t count = rb_u64(r);
	double sum = rb_f64(r);
	uint32_t nb = 0;
	size_t nc = 0;
	if (r->short_read || read_arrays(sr, r, &nb, &nc) < 0)
		return 0;
	struct store_metric_hour h;
	uint8_t is_hour = rb_u8(r);
	h.n = rb_u64(r);
	h.sum = rb_f64(r);
	h.min = rb_f64(r);
	h.max = rb_f64(r);
	h.first = rb_f64(r);
	h.inc = rb_f64(r);
	if (r->short_read)
		return 0;
	if (!sr->have || sid != sr->sid)
		new_series(sr, sid, f, len, type, delta);
	struct metric_point *p = &sr->p;
	p->time_ns = t;
	p->value = value;
	p->count = count;
	p->sum = sum;
	p->n_bounds = 0;
	p->bounds = NULL;
	p->bucket_counts = NULL;
	if (type == METRIC_HISTOGRAM && nc) {
		if (nc != (size_t)nb + 1) {
			errf(sr->err, sr->errlen,
			     "metric scan: a histogram's buckets do not match its bounds");
			return -1;
		}
		p->n_bounds = nb;
		p->bounds = sr->bounds;
		p->bucket_counts = sr->counts;
	}
	h.last = value;
	int stop = sr->hours	? sr->hours(sr->arg, (int64_t)sid, p, is_hour ? &h : NULL)
		   : sr->series ? sr->series(sr->arg, (int64_t)sid, p)
				: sr->plain(sr->arg, p);
	return stop ? 2 : 1;
}

static void where_name(struct buf *q, const char *prefix)
{
	if (prefix && *prefix) {
		buf_puts(q, " AND substring(name, 1, length(");
		ch_quote(q, prefix);
		buf_puts(q, ")) = ");
		ch_quote(q, prefix);
	}
}

/* named: a subquery keeps one of several columns of the same name */
static const char *const NO_HOUR = ", toUInt8(0) AS is_hour, toUInt64(0) AS h_n, toFloat64(0) AS h_sum,"
				   " toFloat64(0) AS h_min, toFloat64(0) AS h_max, toFloat64(0) AS h_first,"
				   " toFloat64(0) AS h_inc";

static int run_series(struct store *s, struct buf *q, struct series_read *sr, char *err, size_t errlen)
{
	buf_puts(q, " ORDER BY sid, t FORMAT RowBinary"); /* by series id, as the embedded store */
	arena_init(&sr->a);
	sr->err = err;
	sr->errlen = errlen;
	int rc = ch_stream(ch_of(s)->ch, q->data, read_series_row, sr, err, errlen);
	arena_release(&sr->a);
	free(sr->bounds);
	free(sr->counts);
	buf_release(q);
	return rc;
}

static void points_sql(struct buf *q, uint64_t from_ns, uint64_t to_ns, const char *prefix)
{
	buf_printf(q, "SELECT " POINT_COLS "%s FROM metric_points WHERE time_ns >= %llu AND time_ns < %llu",
		   NO_HOUR, (unsigned long long)from_ns, (unsigned long long)(to_ns ? to_ns : INT64_MAX));
	where_name(q, prefix);
}

int ch_scan_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix, store_point_fn fn,
		   void *arg, char *err, size_t errlen)
{
	struct series_read sr = {.plain = fn, .arg = arg};
	struct buf q;
	buf_init(&q, BUF_NO_LIMIT);
	points_sql(&q, from_ns, to_ns, prefix);
	return run_series(s, &q, &sr, err, errlen);
}

int ch_scan_series_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			  store_series_point_fn fn, void *arg, char *err, size_t errlen)
{
	struct series_read sr = {.series = fn, .arg = arg};
	struct buf q;
	buf_init(&q, BUF_NO_LIMIT);
	points_sql(&q, from_ns, to_ns, prefix);
	return run_series(s, &q, &sr, err, errlen);
}

/* The end of the hours computed so far: every hour before it is in metric_hours. */
static int hours_end(struct store *s, uint64_t *end, char *err, size_t errlen)
{
	struct buf out;
	buf_init(&out, 4096);
	int rc = ch_exec(ch_of(s)->ch, "SELECT max(hour) FROM metric_hours FORMAT TSV", NULL, 0, &out, err,
			 errlen);
	uint64_t h = rc == 0 && out.data ? strtoull(out.data, NULL, 10) : 0;
	*end = h ? h + HOUR_NS : 0;
	buf_release(&out);
	return rc;
}

int ch_scan_series_hours(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			 store_series_hour_fn fn, void *arg, char *err, size_t errlen)
{
	uint64_t to = to_ns ? to_ns : INT64_MAX, done;
	int rc = hours_end(s, &done, err, errlen);
	if (rc < 0)
		return rc;
	uint64_t h1 = (from_ns + HOUR_NS - 1) / HOUR_NS * HOUR_NS, h2 = to / HOUR_NS * HOUR_NS;
	if (h2 > done)
		h2 = done; /* hours not computed yet come as points */
	if (h2 <= h1)
		h1 = h2 = to; /* no whole hour: every point one by one */
	struct series_read sr = {.hours = fn, .arg = arg};
	struct buf q;
	buf_init(&q, BUF_NO_LIMIT);
	buf_puts(&q, "SELECT * FROM (");
	points_sql(&q, from_ns, to, prefix);
	buf_printf(&q, " AND (time_ns < %llu OR time_ns >= %llu OR type = %d)", (unsigned long long)h1,
		   (unsigned long long)h2, METRIC_HISTOGRAM);
	buf_printf(
		&q,
		" UNION ALL SELECT " SERIES_ID
		", service, resource, name, unit, type, delta, attrs, hour AS t,"
		" last, toUInt64(0) AS hc, toFloat64(0) AS hs, emptyArrayFloat64() AS hb, emptyArrayUInt64()"
		" AS hk, toUInt8(1), n, sum, min, max, first, inc FROM metric_hours FINAL WHERE hour >= %llu "
		"AND hour < %llu",
		(unsigned long long)h1, (unsigned long long)h2);
	where_name(&q, prefix);
	buf_puts(&q, ")");
	return run_series(s, &q, &sr, err, errlen);
}

/* ---- the series of a range ---- */

struct series_rows {
	struct arena *a;
	struct metric_series_row *v;
	size_t n, cap;
};

static int read_series_meta(void *arg, struct rb *r)
{
	struct series_rows *sr = arg;
	uint64_t id = rb_u64(r);
	const char *f[5];
	size_t len[5];
	for (int i = 0; i < 4; i++) /* service, name, unit, resource */
		f[i] = rb_str(r, &len[i]);
	uint8_t type = rb_u8(r), delta = rb_u8(r);
	f[4] = rb_str(r, &len[4]);
	if (r->short_read)
		return 0;
	sr->v = arena_grow(sr->a, sr->v, &sr->cap, sr->n + 1, sizeof(*sr->v));
	struct metric_series_row *m = &sr->v[sr->n++];
	m->id = (int64_t)id;
	m->service = arena_strndup(sr->a, f[0], len[0]);
	m->name = arena_strndup(sr->a, f[1], len[1]);
	m->unit = arena_strndup(sr->a, f[2], len[2]);
	m->resource = arena_strndup(sr->a, f[3], len[3]);
	m->type = type;
	m->delta = delta;
	m->attrs = arena_strndup(sr->a, f[4], len[4]);
	return 1;
}

int ch_metric_series(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix, unsigned limit,
		     struct arena *a, struct metric_series_row **rows, size_t *n, char *err, size_t errlen)
{
	unsigned long long from = from_ns, to = to_ns ? to_ns : INT64_MAX;
	struct buf q;
	buf_init(&q, BUF_NO_LIMIT);
	buf_puts(&q,
		 "SELECT " SERIES_ID " AS id, service, name, any(unit), resource, any(type), any(delta),"
		 " attrs FROM (SELECT service, resource, name, attrs, unit, type, delta FROM metric_points");
	buf_printf(&q, " WHERE time_ns >= %llu AND time_ns < %llu", from, to);
	where_name(&q, prefix);
	buf_puts(&q, " UNION ALL SELECT service, resource, name, attrs, unit, type, delta FROM metric_hours");
	buf_printf(&q, " WHERE hour >= %llu AND hour < %llu", from / HOUR_NS * HOUR_NS, to);
	where_name(&q, prefix);
	buf_printf(&q,
		   ") GROUP BY service, resource, name, attrs ORDER BY name, id LIMIT %u"
		   " FORMAT RowBinary",
		   limit ? limit : 100000);
	struct series_rows sr = {.a = a};
	int rc = ch_stream(ch_of(s)->ch, q.data, read_series_meta, &sr, err, errlen);
	buf_release(&q);
	*rows = sr.v;
	*n = rc == 0 ? sr.n : 0;
	return rc;
}

/* ---- the hourly aggregates, computed by the background lease's holder ---- */

static int build_hour(struct ch_store *s, uint64_t h, char *err, size_t errlen)
{
	char sql[1400];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO metric_hours SELECT service, resource, name, u, ty, dl, attrs, %llu, n, s,"
		 " mn, mx, fst, lst, arraySum(arrayMap((a, b) -> if(b >= a, b - a, b), arrayPopBack(vs),"
		 " arrayPopFront(vs))), %llu FROM (SELECT service, resource, name, attrs, any(unit) AS u,"
		 " any(type) AS ty, any(delta) AS dl, count() AS n, sum(value) AS s, min(value) AS mn,"
		 " max(value) AS mx, argMin(value, time_ns) AS fst, argMax(value, time_ns) AS lst,"
		 " arrayMap(x -> x.2, arraySort(x -> x.1, groupArray((time_ns, value)))) AS vs"
		 " FROM metric_points WHERE time_ns >= %llu AND time_ns < %llu AND type != %d"
		 " GROUP BY service, resource, name, attrs)",
		 (unsigned long long)h, (unsigned long long)clock_now_ns(), (unsigned long long)h,
		 (unsigned long long)(h + HOUR_NS), METRIC_HISTOGRAM);
	return ch_holder_exec(s, sql, err, errlen); /* checks the lease first */
}

/* Where to start: after the hours already computed, less the ones redone;
 * with none, at the hour of the oldest point. */
static int hours_start(struct ch_store *s, uint64_t *start, char *err, size_t errlen)
{
	uint64_t end;
	int rc = hours_end((struct store *)(void *)s, &end, err, errlen);
	if (rc < 0)
		return rc;
	if (end) {
		*start = end > CH_HOUR_REDO * HOUR_NS ? end - CH_HOUR_REDO * HOUR_NS : 0;
		return 0;
	}
	struct buf out;
	buf_init(&out, 4096);
	rc = ch_exec(s->ch, "SELECT min(time_ns) FROM metric_points FORMAT TSV", NULL, 0, &out, err, errlen);
	uint64_t t = rc == 0 && out.data ? strtoull(out.data, NULL, 10) : 0;
	*start = t / HOUR_NS * HOUR_NS;
	buf_release(&out);
	return rc;
}

void ch_hours_step(struct ch_store *s)
{
	char err[512];
	uint64_t now = clock_now_ns();
	uint64_t finished = (now - CH_HOUR_GRACE) / HOUR_NS * HOUR_NS; /* hours before it are done */
	if (finished == s->hours_seen)
		return; /* no hour finished since the last step */
	uint64_t h;
	if (hours_start(s, &h, err, sizeof(err)) < 0)
		goto fail;
	if (!h)
		h = finished; /* no points at all */
	for (int k = 0; h < finished && k < HOURS_A_STEP; h += HOUR_NS, k++)
		if (build_hour(s, h, err, sizeof(err)) < 0)
			goto fail;
	if (h >= finished)
		s->hours_seen = finished;
	return;
fail:
	log_warn("clickhouse: metric hours: %s", err);
}
