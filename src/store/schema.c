/*
 * schema.c - SQLite schema and migrations (see schema.h).
 *
 * Layout (docs/internals/STORE.md says why):
 *   dict          strings of the filter dimensions (service, endpoint, ...)
 *   blocks        compressed span blocks (store/block.c), one or more per write
 *   trace_index   first 8 bytes of a trace id -> blocks holding its spans
 *   requests      one row per entry span, the rows that search and analytics scan;
 *                 `edge` marks the one that starts its trace
 *   metric_series, metric_points   OTLP metric data points
 *   metric_hours  hourly aggregates of the gauge and sum points
 *   metric_log    points committed but not yet folded into the two above
 *   rollup_keys, rollups   per minute and per hour latency sketches and exact
 *                 counts per performance tier, per key
 *   meta          small named values (the rollup watermark)
 *   docs, events  analysis records: documents by (kind, id), an append-only log
 *   profiles      CPU and other profiles as zstd-compressed folded stacks
 */
#include "store/schema.h"

#include "core/log.h"

static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE dict(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, value TEXT NOT NULL,"
	"  UNIQUE(kind, value));"
	"CREATE TABLE blocks(id INTEGER PRIMARY KEY, t_min INTEGER NOT NULL, t_max INTEGER NOT NULL,"
	"  n_spans INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE TABLE trace_index(trace INTEGER NOT NULL, block INTEGER NOT NULL,"
	"  PRIMARY KEY(trace, block)) WITHOUT ROWID;"
	"CREATE TABLE requests(id INTEGER PRIMARY KEY, start_ns INTEGER NOT NULL,"
	"  duration_ns INTEGER NOT NULL, trace_hi INTEGER NOT NULL, trace_lo INTEGER NOT NULL,"
	"  span_id INTEGER NOT NULL, status INTEGER NOT NULL, service INTEGER NOT NULL,"
	"  endpoint INTEGER NOT NULL, env INTEGER, version INTEGER, department INTEGER,"
	"  intent INTEGER, tool INTEGER, block INTEGER NOT NULL);"
	"CREATE INDEX requests_by_time ON requests(start_ns);"
	"CREATE INDEX requests_by_service ON requests(service, start_ns);"
	"CREATE TABLE metric_series(id INTEGER PRIMARY KEY, service INTEGER NOT NULL,"
	"  name TEXT NOT NULL, unit TEXT NOT NULL, type INTEGER NOT NULL, attrs TEXT NOT NULL,"
	"  UNIQUE(service, name, attrs));"
	"CREATE TABLE metric_points(series INTEGER NOT NULL, time_ns INTEGER NOT NULL,"
	"  value REAL, count INTEGER, sum REAL, bounds BLOB, buckets BLOB,"
	"  PRIMARY KEY(series, time_ns)) WITHOUT ROWID;",
	/* 1 -> 2: latency rollups (store/rollup.c); absent dimensions are 0, not
	 * NULL, so that the unique index sees them as equal */
	"ALTER TABLE requests ADD COLUMN error_type INTEGER;"
	"CREATE TABLE rollup_keys(id INTEGER PRIMARY KEY, service INTEGER NOT NULL,"
	"  endpoint INTEGER NOT NULL, tool INTEGER NOT NULL, env INTEGER NOT NULL,"
	"  version INTEGER NOT NULL, department INTEGER NOT NULL, intent INTEGER NOT NULL,"
	"  status INTEGER NOT NULL, error_type INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX rollup_keys_dims ON rollup_keys(service, endpoint, tool, env, version,"
	"  department, intent, status, error_type);"
	"CREATE TABLE rollups(res INTEGER NOT NULL, t INTEGER NOT NULL, key INTEGER NOT NULL,"
	"  count INTEGER NOT NULL, sum_ns INTEGER NOT NULL, sketch BLOB NOT NULL,"
	"  PRIMARY KEY(res, t, key)) WITHOUT ROWID;"
	/* rollups hold exactly the requests with id <= meta 'rollup_watermark' */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO meta VALUES('rollup_watermark', 0);",
	/* 2 -> 3: analysis records and profiles; metric series keyed by their
	 * resource too (environment, version, instance), so that instances of a
	 * service no longer overwrite each other's points */
	"CREATE TABLE metric_series_3(id INTEGER PRIMARY KEY, service INTEGER NOT NULL,"
	"  resource TEXT NOT NULL DEFAULT '{}', name TEXT NOT NULL, unit TEXT NOT NULL,"
	"  type INTEGER NOT NULL, attrs TEXT NOT NULL, UNIQUE(service, resource, name, attrs));"
	"INSERT INTO metric_series_3(id, service, name, unit, type, attrs)"
	"  SELECT id, service, name, unit, type, attrs FROM metric_series;"
	"DROP TABLE metric_series;"
	"ALTER TABLE metric_series_3 RENAME TO metric_series;"
	"CREATE TABLE docs(kind TEXT NOT NULL, id TEXT NOT NULL, time_ns INTEGER NOT NULL,"
	"  json TEXT NOT NULL, PRIMARY KEY(kind, id)) WITHOUT ROWID;"
	"CREATE TABLE events(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, id TEXT NOT NULL,"
	"  time_ns INTEGER NOT NULL, json TEXT NOT NULL);"
	"CREATE INDEX events_by_kind ON events(kind, time_ns);"
	"CREATE TABLE profiles(id INTEGER PRIMARY KEY, start_ns INTEGER NOT NULL,"
	"  end_ns INTEGER NOT NULL, service TEXT NOT NULL, version TEXT, env TEXT,"
	"  type TEXT NOT NULL, unit TEXT NOT NULL, labels TEXT, total INTEGER NOT NULL,"
	"  raw_len INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE INDEX profiles_by_time ON profiles(start_ns);",
	/* 3 -> 4: requests.edge (the entry span that starts its trace, the one
	 * the fleet counts; store.h) and exact counts per performance tier in
	 * the rollups.  Rows written before did not record whether the span had
	 * a parent: the earliest entry span of each trace (ties: the first
	 * stored) is taken as its edge.  The rollups are emptied, and rebuilt
	 * from the requests when the store opens (their keys gain `edge`). */
	"ALTER TABLE requests ADD COLUMN edge INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX requests_by_trace_4 ON requests(trace_hi, trace_lo, start_ns);"
	"UPDATE requests SET edge = NOT EXISTS (SELECT 1 FROM requests o"
	"  WHERE o.trace_hi = requests.trace_hi AND o.trace_lo = requests.trace_lo"
	"  AND (o.start_ns < requests.start_ns OR (o.start_ns = requests.start_ns AND o.id < requests.id)));"
	"DROP INDEX requests_by_trace_4;"
	"DELETE FROM rollups;"
	"DELETE FROM rollup_keys;"
	"UPDATE meta SET value = 0 WHERE key = 'rollup_watermark';"
	"ALTER TABLE rollup_keys ADD COLUMN edge INTEGER NOT NULL DEFAULT 0;"
	"DROP INDEX rollup_keys_dims;"
	"CREATE UNIQUE INDEX rollup_keys_dims ON rollup_keys(service, endpoint, tool, env, version,"
	"  department, intent, status, error_type, edge);"
	"ALTER TABLE rollups ADD COLUMN fast INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE rollups ADD COLUMN normal INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE rollups ADD COLUMN slow INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE rollups ADD COLUMN critical INTEGER NOT NULL DEFAULT 0;",
	/* 4 -> 5: hourly aggregates of the gauge and sum points (not the
	 * histograms), kept as points are written, so that metric queries over
	 * weeks read an hour's row instead of its points (store.h,
	 * store_scan_series_hours).  inc: the increases of a cumulative counter
	 * between the hour's points (a drop is a restart from 0).  Filled from
	 * the points already stored. */
	"CREATE TABLE metric_hours(series INTEGER NOT NULL, t INTEGER NOT NULL, n INTEGER NOT NULL,"
	"  sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, first REAL NOT NULL,"
	"  last REAL NOT NULL, inc REAL NOT NULL, PRIMARY KEY(series, t)) WITHOUT ROWID;"
	"INSERT INTO metric_hours SELECT series, t, count(*), sum(value), min(value), max(value),"
	"  min(CASE WHEN time_ns = t_first THEN value END), min(CASE WHEN time_ns = t_last THEN value END),"
	"  sum(CASE WHEN prev IS NULL THEN 0 WHEN value >= prev THEN value - prev ELSE value END)"
	"  FROM (SELECT p.series, p.time_ns, p.value, p.time_ns / 3600000000000 * 3600000000000 AS t,"
	"    LAG(p.value) OVER (PARTITION BY p.series, p.time_ns / 3600000000000 ORDER BY p.time_ns) AS prev,"
	"    min(p.time_ns) OVER (PARTITION BY p.series, p.time_ns / 3600000000000) AS t_first,"
	"    max(p.time_ns) OVER (PARTITION BY p.series, p.time_ns / 3600000000000) AS t_last"
	"    FROM metric_points p JOIN metric_series s ON s.id = p.series"
	"    WHERE s.type & 15 != 3 AND p.value IS NOT NULL)"
	"  GROUP BY series, t;",
	/* 5 -> 6: request rows without the unread `block` column (its id in
	 * write order is the rollup watermark); the indexes are rebuilt packed.
	 * Keying the rows by (start_ns, id) to drop the time index was measured
	 * too: 2 bytes a span less, but a quarter more bytes written at ingest
	 * (rows land at random places in a time-ordered table). */
	"CREATE TABLE requests_5(id INTEGER PRIMARY KEY, start_ns INTEGER NOT NULL,"
	"  duration_ns INTEGER NOT NULL, trace_hi INTEGER NOT NULL, trace_lo INTEGER NOT NULL,"
	"  span_id INTEGER NOT NULL, status INTEGER NOT NULL, service INTEGER NOT NULL,"
	"  endpoint INTEGER NOT NULL, env INTEGER, version INTEGER, department INTEGER,"
	"  intent INTEGER, tool INTEGER, error_type INTEGER, edge INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO requests_5 SELECT id, start_ns, duration_ns, trace_hi, trace_lo, span_id, status,"
	"  service, endpoint, env, version, department, intent, tool, error_type, edge FROM requests"
	"  ORDER BY id;"
	"DROP TABLE requests;"
	"ALTER TABLE requests_5 RENAME TO requests;"
	"CREATE INDEX requests_by_time ON requests(start_ns);"
	"CREATE INDEX requests_by_service ON requests(service, start_ns);",
	/* 6 -> 7: the metric points of each write as one row, appended, until
	 * the writer folds them into metric_points and metric_hours (every
	 * second or so, and when a reader waits: store/metric_log.h); a commit
	 * then writes a page or two instead of one per series and table. */
	"CREATE TABLE metric_log(id INTEGER PRIMARY KEY, data BLOB NOT NULL);",
	/* 7 -> 8: aggregates a reader keeps of the data (query/opstats.c: the
	 * operation statistics and bottleneck rankings per time bucket), as
	 * opaque rows replaced whole, so a start loads them instead of reading
	 * every block again (store.h, store_put_aggs). */
	("CREATE TABLE aggregates(kind INTEGER NOT NULL, t INTEGER NOT NULL, key TEXT NOT NULL,"
	 "  data BLOB NOT NULL, PRIMARY KEY(kind, t, key)) WITHOUT ROWID;"),
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int schema_version_latest(void)
{
	return N_MIGRATIONS;
}

static int user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Indexes that are no migration (schema.h): created when missing. */
static const char extra_indexes[] =
	"CREATE INDEX IF NOT EXISTS requests_slow ON requests(duration_ns, start_ns)"
	" WHERE duration_ns >= " SCHEMA_SLOW_INDEX_SQL ";"
	"CREATE INDEX IF NOT EXISTS blocks_by_time ON blocks(t_max, t_min);";

int schema_migrate(sqlite3 *db, char *err, size_t errlen)
{
	if (schema_migrate_to(db, N_MIGRATIONS, err, errlen) < 0)
		return -1;
	char *msg = NULL;
	if (sqlite3_exec(db, extra_indexes, NULL, NULL, &msg) != SQLITE_OK) {
		errf(err, errlen, "cannot add indexes: %s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int schema_migrate_to(sqlite3 *db, int version, char *err, size_t errlen)
{
	int v = user_version(db);
	if (v < 0)
		return errf(err, errlen, "cannot read schema version: %s", sqlite3_errmsg(db));
	if (v > N_MIGRATIONS)
		return errf(err, errlen,
			    "database schema version %d is newer than this hotpath (%d); upgrade hotpath", v,
			    N_MIGRATIONS);
	for (; v < version && v < N_MIGRATIONS; v++) {
		char *msg = NULL;
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", v + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, pragma, NULL, NULL, &msg) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
			errf(err, errlen, "schema migration %d -> %d failed: %s", v, v + 1,
			     msg ? msg : "unknown error");
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		log_info("store: schema migrated to version %d", v + 1);
	}
	return 0;
}
