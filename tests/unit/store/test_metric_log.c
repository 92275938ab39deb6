/*
 * test_metric_log.c - the metric log (store/metric_log.h): its bytes read
 * back as written and refused when cut short; the points and hours a store
 * keeps equal, to the last bit, what the per-point statements that wrote
 * them before the log gave (run here on a database of their own, in the
 * same order); a log row left by a crash is folded when the store opens,
 * and bytes that are no log row are dropped without holding up the rest.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/buf.h"
#include "store/metric_log.h"
#include "store/store.h"
#include "tap.h"
#include "temp_store.h"

#define HOUR_NS STORE_METRIC_HOUR_NS
#define T0	(1767225600ull * 1000000000ull) /* a whole hour */

static double bounds3[3] = {0.1, 1, 10};
static uint64_t counts4[4] = {1, 2, 3, 4};

static struct metric_point hist_point(uint64_t t, int with_buckets)
{
	return (struct metric_point){.type = METRIC_HISTOGRAM,
				     .time_ns = t,
				     .count = 10,
				     .sum = 12.5,
				     .n_bounds = with_buckets ? 3 : 0,
				     .bounds = with_buckets ? bounds3 : NULL,
				     .bucket_counts = with_buckets ? counts4 : NULL};
}

struct collected {
	struct metric_log_point p[8];
	int n;
};

static int collect(void *arg, const struct metric_log_point *p)
{
	struct collected *c = arg;
	if (c->n < 8)
		c->p[c->n] = *p;
	c->n++;
	return 0;
}

static void test_codec(void)
{
	struct metric_point pts[3] = {
		{.type = METRIC_GAUGE, .time_ns = T0 + 5, .value = -2.25},
		hist_point(T0 + 6, 1),
		hist_point(T0 + 7, 0),
	};
	int64_t series[3] = {1, 300, 70000};
	size_t ends[4];
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	for (size_t k = 0; k <= 3; k++) { /* where each point's bytes end */
		buf_reset(&b);
		metric_log_encode(&b, pts, series, k);
		ends[k] = b.len;
	}
	struct collected c = {0};
	ok(metric_log_decode((const uint8_t *)b.data, b.len, collect, &c) == 0, "codec: a row reads back");
	is_int(c.n, 3, "codec: three points");
	is_int(c.p[0].series, 1, "codec: series");
	ok(c.p[0].time_ns == T0 + 5 && c.p[0].value == -2.25 && !c.p[0].histogram, "codec: the gauge point");
	is_int(c.p[1].series, 300, "codec: a larger series id");
	ok(c.p[1].histogram && c.p[1].count == 10 && c.p[1].sum == 12.5 && c.p[1].n_bounds == 3,
	   "codec: the histogram's count, sum and bounds");
	ok(c.p[1].bounds && !memcmp(c.p[1].bounds, bounds3, sizeof(bounds3)) && c.p[1].buckets &&
		   !memcmp(c.p[1].buckets, counts4, sizeof(counts4)),
	   "codec: the histogram's bounds and bucket counts, byte for byte");
	ok(c.p[2].histogram && !c.p[2].bounds && !c.p[2].buckets && c.p[2].series == 70000,
	   "codec: a histogram without buckets keeps none");

	int wrong = 0;
	for (size_t len = 0; len < b.len; len++) {
		struct collected t = {0};
		int rc = metric_log_decode((const uint8_t *)b.data, len, collect, &t);
		int boundary = len == ends[0] || len == ends[1] || len == ends[2];
		wrong += boundary ? rc != 0 || (len != ends[0] && t.n == 0) : rc != -1;
	}
	is_int(wrong, 0, "codec: every cut row is refused, except at the end of a point");
	b.data[0] = 2;
	ok(metric_log_decode((const uint8_t *)b.data, b.len, collect, &c) < 0, "codec: an unknown version");
	buf_release(&b);
}

/* ---- the store against the statements it used to run per point ---------- */

struct sent {
	const char *name;
	uint64_t t;
	double v;
};

/* Gauges with duplicate and late points, a counter with a reset, over
 * three hours, sent as three writes. */
static const struct sent gauge_writes[][6] = {
	{{"g", T0 + 10, 0.1}, {"g", T0 + 20, 0.7}, {"c", T0 + 10, 5}, {"c", T0 + 20, 9}, {"g", T0 + 20, 0.3}},
	{{"g", T0 + 15, 1e-3},
	 {"c", T0 + HOUR_NS - 1, 2},
	 {"c", T0 + HOUR_NS, 4},
	 {"g", T0 + HOUR_NS + 5, 0.3}},
	{{"c", T0 + 2 * HOUR_NS + 1, 8.125}, {"g", T0 + 2 * HOUR_NS, 1e300}, {"g", T0 + 10, 0.2}},
};

static struct resource *test_resource(struct batch *b)
{
	struct resource *r = arena_zalloc(&b->arena, sizeof(*r));
	r->attrs = arena_zalloc(&b->arena, 2 * sizeof(struct attr));
	r->attrs[0] = (struct attr){.key = "service.name", .type = ATTR_STRING, .v.s = "api"};
	r->attrs[1] = (struct attr){.key = "host.name", .type = ATTR_STRING, .v.s = "h1"};
	r->n_attrs = 2;
	resource_derive(r);
	return r;
}

/* What the per-point statements wrote, on a database of their own. */
static sqlite3 *oracle_open(void)
{
	sqlite3 *db;
	sqlite3_open(":memory:", &db);
	sqlite3_exec(db,
		     "CREATE TABLE metric_hours(series TEXT NOT NULL, t INTEGER NOT NULL, n INTEGER NOT NULL,"
		     " sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, first REAL NOT NULL,"
		     " last REAL NOT NULL, inc REAL NOT NULL, PRIMARY KEY(series, t)) WITHOUT ROWID;"
		     "CREATE TABLE metric_points(series TEXT NOT NULL, time_ns INTEGER NOT NULL, value REAL,"
		     " PRIMARY KEY(series, time_ns)) WITHOUT ROWID;",
		     NULL, NULL, NULL);
	return db;
}

static void oracle_point(sqlite3 *db, const struct sent *p)
{
	sqlite3_stmt *st;
	/* the statements of the store before the log, word for word */
	sqlite3_prepare_v2(db,
			   "INSERT INTO metric_hours(series, t, n, sum, min, max, first, last, inc)"
			   " VALUES(?1, ?2, 1, ?3, ?3, ?3, ?3, ?3, 0) ON CONFLICT(series, t) DO UPDATE SET"
			   " n = n + 1, sum = sum + ?3, min = min(min, ?3), max = max(max, ?3), last = ?3,"
			   " inc = inc + CASE WHEN ?3 >= last THEN ?3 - last ELSE ?3 END",
			   -1, &st, NULL);
	sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)(p->t / HOUR_NS * HOUR_NS));
	sqlite3_bind_double(st, 3, p->v);
	sqlite3_step(st);
	sqlite3_finalize(st);
	sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO metric_points VALUES(?,?,?)", -1, &st, NULL);
	sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)p->t);
	sqlite3_bind_double(st, 3, p->v);
	sqlite3_step(st);
	sqlite3_finalize(st);
}

/* Every row of `sql` as text, doubles to 17 digits. */
static void dump(sqlite3 *db, const char *sql, struct buf *out)
{
	sqlite3_stmt *st;
	buf_reset(out);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		buf_printf(out, "error: %s", sqlite3_errmsg(db));
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW)
		buf_printf(out, "%s\n", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	buf_putc(out, '\0');
}

static const char hours_sql_store[] =
	"SELECT printf('%s %d %d %.17g %.17g %.17g %.17g %.17g %.17g', s.name, h.t, h.n, h.sum, h.min,"
	" h.max, h.first, h.last, h.inc) FROM metric_hours h JOIN metric_series s ON s.id = h.series"
	" ORDER BY s.name, h.t";
static const char hours_sql_oracle[] =
	"SELECT printf('%s %d %d %.17g %.17g %.17g %.17g %.17g %.17g', series, t, n, sum, min, max, first,"
	" last, inc) FROM metric_hours ORDER BY series, t";
static const char points_sql_store[] =
	"SELECT printf('%s %d %.17g', s.name, p.time_ns, p.value) FROM metric_points p JOIN"
	" metric_series s ON s.id = p.series WHERE s.type != 3 ORDER BY s.name, p.time_ns";
static const char points_sql_oracle[] =
	"SELECT printf('%s %d %.17g', series, time_ns, value) FROM metric_points ORDER BY series, time_ns";

static int count_point(void *arg, const struct metric_point *p)
{
	(*(int *)arg)++;
	return 0;
}

static void write_sent(struct store *s, sqlite3 *oracle)
{
	int failed = 0;
	for (size_t w = 0; w < sizeof(gauge_writes) / sizeof(gauge_writes[0]); w++) {
		struct batch b;
		batch_init(&b);
		struct resource *r = test_resource(&b);
		for (size_t i = 0; i < 6 && gauge_writes[w][i].name; i++) {
			const struct sent *x = &gauge_writes[w][i];
			struct metric_point *p = batch_add_point(&b);
			*p = (struct metric_point){.resource = r,
						   .name = x->name,
						   .unit = "1",
						   .type = x->name[0] == 'c' ? METRIC_SUM : METRIC_GAUGE,
						   .time_ns = x->t,
						   .value = x->v};
			oracle_point(oracle, x);
		}
		/* a histogram in the same write: a point, no hour */
		struct metric_point *p = batch_add_point(&b);
		*p = hist_point(T0 + w, w != 1);
		p->resource = r;
		p->name = "h";
		p->unit = "ms";
		failed += store_write_sync(s, &b) != 0;
	}
	is_int(failed, 0, "store: three writes of gauges, a counter and histograms committed");
}

static void test_store_equals_statements(const char *dir)
{
	struct store *s = temp_store_open(dir);
	sqlite3 *oracle = oracle_open();
	struct buf got, want;
	char err[256];
	buf_init(&got, BUF_NO_LIMIT);
	buf_init(&want, BUF_NO_LIMIT);
	if (!s) {
		ok(0, "store: opened");
		return;
	}
	write_sent(s, oracle);
	int n = 0;
	/* read at once: the reader waits for the log to be folded */
	ok(store_scan_points(s, T0, T0 + 3 * HOUR_NS, "", count_point, &n, err, sizeof(err)) == 0,
	   "store: scan");
	is_int(n, 10 + 3,
	       "store: every distinct point readable at once (10 gauge and counter points, 3 histogram)");
	store_close(s);

	sqlite3 *db;
	char path[128];
	snprintf(path, sizeof(path), "%s/hotpath.db", dir);
	sqlite3_open(path, &db);
	dump(db, hours_sql_store, &got);
	dump(oracle, hours_sql_oracle, &want);
	is_str(got.data, want.data, "store: the hours equal the per-point upserts' to the last bit");
	dump(db, points_sql_store, &got);
	dump(oracle, points_sql_oracle, &want);
	is_str(got.data, want.data,
	       "store: the points equal INSERT OR REPLACE's, the later of a duplicate kept");
	dump(db,
	     "SELECT printf('%d %d %s %s', time_ns, count, hex(bounds), hex(buckets)) FROM metric_points"
	     " p JOIN metric_series s ON s.id = p.series WHERE s.name = 'h' ORDER BY time_ns",
	     &got);
	is_str(got.data,
	       "1767225600000000000 10 9A9999999999B93F000000000000F03F0000000000002440 "
	       "0100000000000000020000000000000003000000000000000400000000000000\n"
	       "1767225600000000001 10  \n"
	       "1767225600000000002 10 9A9999999999B93F000000000000F03F0000000000002440 "
	       "0100000000000000020000000000000003000000000000000400000000000000\n",
	       "store: histogram points with their bounds and buckets, and one without");
	dump(db, "SELECT count(*) FROM metric_log", &got);
	is_str(got.data, "0\n", "store: the log is empty after a clean close");
	sqlite3_close(db);
	sqlite3_close(oracle);
	buf_release(&got);
	buf_release(&want);
}

/* A log row committed but not folded (a crash between the two), and a row
 * of bytes that are no log row: the store folds the first when it opens. */
static void test_crash_fold(const char *dir)
{
	char path[128];
	sqlite3 *db;
	struct buf row, got;
	buf_init(&row, BUF_NO_LIMIT);
	buf_init(&got, BUF_NO_LIMIT);
	snprintf(path, sizeof(path), "%s/hotpath.db", dir);
	sqlite3_open(path, &db);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT id FROM metric_series WHERE name = 'g'", -1, &st, NULL);
	int64_t g = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	struct metric_point pts[2] = {{.type = METRIC_GAUGE, .time_ns = T0 + 2 * HOUR_NS + 7, .value = 3},
				      {.type = METRIC_GAUGE, .time_ns = T0 + 3 * HOUR_NS + 1, .value = 4}};
	int64_t series[2] = {g, g};
	metric_log_encode(&row, pts, series, 2);
	sqlite3_exec(db, "INSERT INTO metric_log(data) VALUES(x'0203')", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO metric_log(data) VALUES(?)", -1, &st, NULL);
	sqlite3_bind_blob(st, 1, row.data, (int)row.len, SQLITE_STATIC);
	ok(sqlite3_step(st) == SQLITE_DONE, "crash: a log row left unfolded");
	sqlite3_finalize(st);
	sqlite3_close(db);

	struct store *s = temp_store_open(dir);
	int n = 0;
	char err[256];
	ok(s && store_scan_points(s, T0 + 2 * HOUR_NS, T0 + 4 * HOUR_NS, "g", count_point, &n, err,
				  sizeof(err)) == 0,
	   "crash: reopened and scanned");
	is_int(n, 3, "crash: the logged points are read after the reopen (and the one written before)");
	store_close(s);
	sqlite3_open(path, &db);
	dump(db,
	     "SELECT printf('%d %d %.17g %.17g %.17g', t, n, sum, first, last) FROM metric_hours h JOIN"
	     " metric_series s ON s.id = h.series WHERE s.name = 'g' AND t >= 1767232800000000000 ORDER BY t",
	     &got);
	is_str(got.data,
	       "1767232800000000000 2 1e+300 1e+300 3\n"
	       "1767236400000000000 1 4 4 4\n",
	       "crash: the logged points are in their hours");
	dump(db, "SELECT count(*) FROM metric_log", &got);
	is_str(got.data, "0\n", "crash: the log is empty, the unreadable row dropped");
	sqlite3_close(db);
	buf_release(&row);
	buf_release(&got);
}

int main(void)
{
	char dir[] = "/tmp/hotpath-test-metric-log-XXXXXX";
	test_codec();
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	test_store_equals_statements(dir);
	test_crash_fold(dir);
	temp_dir_remove(dir);
	return tap_done();
}
