/*
 * clickhouse_schema.c - the ClickHouse backend's tables, created by hotpath
 * and numbered in `hotpath_schema`.  Each step is idempotent (CREATE ... IF
 * NOT EXISTS), so several instances starting at once do not fight.  The SQL
 * stays within what ClickHouse 18.16 (Debian's) and current releases both
 * accept: no LowCardinality, no Nullable in keys, no skip indexes, no
 * SimpleAggregateFunction (the exact minimum and maximum of the rollups are
 * AggregateFunction states, which SummingMergeTree merges).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/clickhouse_store.h"

/* The day a row belongs to, from its time in ns: the unit of retention. */
#define DAY_OF(col) "toYYYYMMDD(toDateTime(intDiv(" col ", 1000000000)))"

/* `blocks` in granules of 32 rows (~1 MB of spans) instead of 8192: a
 * trace by id reads the granules of its blocks whole, and 18.16 has no
 * adaptive granularity, so with 8192 it decompressed most of a part per
 * lookup (0.5 s at 10M spans, docs/PERFORMANCE.md).  A database created
 * before keeps its blocks table (docs/internals/CLICKHOUSE.md says how
 * to rebuild it). */
static const char *const step1[] = {
	"CREATE TABLE IF NOT EXISTS blocks (id UInt64, t_min UInt64, t_max UInt64, n_spans UInt32,"
	" data String) ENGINE = MergeTree PARTITION BY " DAY_OF(
		"t_min") " ORDER BY (t_min, id) SETTINGS index_granularity = 32",
	"CREATE TABLE IF NOT EXISTS trace_index (trace Int64, block UInt64, t_min UInt64)"
	" ENGINE = MergeTree PARTITION BY " DAY_OF("t_min") " ORDER BY (trace, t_min)",
	"CREATE TABLE IF NOT EXISTS requests (start_ns UInt64, duration_ns UInt64, trace_hi Int64,"
	" trace_lo Int64, span_id Int64, status UInt8, edge UInt8, service String, endpoint String,"
	" env String, version String, department String, intent String, tool String,"
	" error_type String) ENGINE = MergeTree PARTITION BY " DAY_OF(
		"start_ns") " ORDER BY (service, start_ns)",
	/* `key`: a hash of the dimensions, status and edge, so that merges and
	 * reads group by one integer; status and edge are in the sorting key
	 * so that SummingMergeTree does not add them up */
	"CREATE TABLE IF NOT EXISTS rollups (minute UInt32, key UInt64, service String, endpoint String,"
	" tool String, env String, version String, department String, intent String, error_type String,"
	" status UInt8, edge UInt8, bucket Int32, n UInt64, sum_ns UInt64, fast UInt64, normal UInt64,"
	" slow UInt64, critical UInt64, min_ns AggregateFunction(min, UInt64),"
	" max_ns AggregateFunction(max, UInt64)) ENGINE = SummingMergeTree"
	" PARTITION BY toYYYYMMDD(toDateTime(minute * 60)) ORDER BY (minute, key, status, edge, bucket)",
	"CREATE TABLE IF NOT EXISTS metric_points (service String, resource String, name String,"
	" unit String, type UInt8, attrs String, time_ns UInt64, value Float64, count UInt64, sum Float64)"
	" ENGINE = MergeTree PARTITION BY " DAY_OF(
		"time_ns") " ORDER BY (name, service, resource, attrs, time_ns)",
	"CREATE TABLE IF NOT EXISTS docs (kind String, id String, time_ns UInt64, json String, ver UInt64)"
	" ENGINE = ReplacingMergeTree(ver) ORDER BY (kind, id)",
	"CREATE TABLE IF NOT EXISTS events (kind String, id String, time_ns UInt64, json String)"
	" ENGINE = MergeTree ORDER BY (kind, id, time_ns)",
	NULL,
};

/* Leases among the instances of one database (clickhouse_lease.c): claims
 * appended, the valid ones read by name and expiry. */
static const char *const step2[] = {
	"CREATE TABLE IF NOT EXISTS leases (name String, holder String, term UInt64, expires UInt64,"
	" floor UInt64, at_ns UInt64) ENGINE = MergeTree PARTITION BY " DAY_OF(
		"at_ns") " ORDER BY (name, expires)",
	NULL,
};

/* Metric points keep their temporality and histogram buckets; hourly
 * aggregates of gauges and sums (clickhouse_hours.c), recomputed rows of
 * an hour replacing the older ones.  18.16 has no ADD COLUMN IF NOT
 * EXISTS: a column "already exists" counts as added (clickhouse_schema.c). */
static const char *const step3[] = {
	"ALTER TABLE metric_points ADD COLUMN delta UInt8",
	"ALTER TABLE metric_points ADD COLUMN bounds Array(Float64)",
	"ALTER TABLE metric_points ADD COLUMN buckets Array(UInt64)",
	"CREATE TABLE IF NOT EXISTS metric_hours (service String, resource String, name String,"
	" unit String, type UInt8, delta UInt8, attrs String, hour UInt64, n UInt64, sum Float64,"
	" min Float64, max Float64, first Float64, last Float64, inc Float64, at_ns UInt64)"
	" ENGINE = ReplacingMergeTree(at_ns) PARTITION BY " DAY_OF(
		"hour") " ORDER BY (name, service, resource, attrs, hour)",
	NULL,
};

/* Profiles: their stacks zstd-compressed as in the embedded store. */
static const char *const step4[] = {
	"CREATE TABLE IF NOT EXISTS profiles (id Int64, start_ns UInt64, end_ns UInt64, service String,"
	" version String, env String, type String, unit String, labels String, total UInt64,"
	" raw_len UInt64, data String) ENGINE = MergeTree PARTITION BY " DAY_OF(
		"start_ns") " ORDER BY (start_ns, id)",
	NULL,
};

/* The rollups' dimensions once per key, so that rollup rows written from
 * now on carry none (their string columns are left empty); the keys of
 * the rows written before are copied (a key's rows are alike: copying
 * twice, by two instances at once, is harmless). */
static const char *const step5[] = {
	"CREATE TABLE IF NOT EXISTS rollup_keys (key UInt64, service String, endpoint String, tool String,"
	" env String, version String, department String, intent String, error_type String, status UInt8,"
	" edge UInt8) ENGINE = ReplacingMergeTree ORDER BY key",
	"INSERT INTO rollup_keys SELECT key, any(service), any(endpoint), any(tool), any(env), any(version),"
	" any(department), any(intent), any(error_type), any(status), any(edge) FROM rollups"
	" WHERE service != '' GROUP BY key",
	NULL,
};

/* The aggregates a reader keeps of the data (store_put_aggs): the newest
 * version of each (kind, t, key) row wins. */
static const char *const step6[] = {
	"CREATE TABLE IF NOT EXISTS aggregates (kind UInt32, t UInt64, key String, data String, ver UInt64)"
	" ENGINE = ReplacingMergeTree(ver) ORDER BY (kind, t, key)",
	NULL,
};

/* The aggregates partitioned by the day of their bucket, so that retention
 * drops them with the minute rollups' period as it does the other tables
 * (a table's partitioning cannot change: a new table, the rows copied, the
 * old one dropped).  The state row (t = UINT64_MAX) falls in the day of
 * the time capped at 2100-01-01, a partition no period reaches.  Two
 * instances migrating at once may both copy (the copies are alike: the
 * newest version wins) or find the old table dropped by the other. */
#define AGGS_DAY "toYYYYMMDD(toDateTime(intDiv(least(t, 4102444800000000000), 1000000000)))"
static const char *const step7[] = {
	"CREATE TABLE IF NOT EXISTS " CH_AGGS_TABLE " (kind UInt32, t UInt64, key String, data String,"
	" ver UInt64) ENGINE = ReplacingMergeTree(ver) PARTITION BY " AGGS_DAY " ORDER BY (kind, t, key)",
	"INSERT INTO " CH_AGGS_TABLE " SELECT kind, t, key, argMax(data, ver), max(ver) FROM aggregates"
	" GROUP BY kind, t, key",
	"DROP TABLE IF EXISTS aggregates",
	NULL,
};

/* The request rows of 1 s or more again, numbered in write order (what
 * store_slow_since() reads: the list of slow requests of query/slowreqs.h),
 * ordered by that number so that reading the rows written after one is a
 * range of the primary key.  Rows written from now on are numbered by
 * their block (clickhouse_write.c, CH_SLOW_ID); the ones stored before are
 * copied with the numbers 1, 2, ... in order of start, below every number
 * of a block. */
static const char *const step8[] = {
	"CREATE TABLE IF NOT EXISTS slow_requests (id Int64, start_ns UInt64, duration_ns UInt64,"
	" trace_hi Int64, trace_lo Int64, span_id Int64, status UInt8, edge UInt8, service String,"
	" endpoint String, env String, version String, department String, intent String, tool String)"
	" ENGINE = MergeTree PARTITION BY " DAY_OF("start_ns") " ORDER BY id",
	"INSERT INTO slow_requests SELECT toInt64(rowNumberInAllBlocks() + 1), * FROM (SELECT start_ns,"
	" duration_ns, trace_hi, trace_lo, span_id, status, edge, service, endpoint, env, version,"
	" department, intent, tool FROM requests WHERE duration_ns >= 1000000000"
	" ORDER BY start_ns, trace_hi, trace_lo, span_id)",
	NULL,
};

/*
 * Hourly rollup rows beside the minutes (what ch_rollups() reads for the
 * whole hours of a range at hour resolution): `rollup_hours`, one row per
 * (hour, key, status, edge) once merged, its sketch buckets a nested map
 * (`bucketsMap`: SummingMergeTree sums a nested table named ...Map by its
 * first column), so that a day is 24 rows a key.  Kept by a materialized
 * view that ClickHouse feeds with every insert into `rollups`, from
 * whichever instance (or older hotpath) it comes.  The minutes stored
 * before the view are copied by hours_begin(): see there.
 * `rollup_hours_start` records the hour the view began in, once the copy
 * is done (clickhouse_read.c reads it).
 */
static const char *const step9[] = {
	"CREATE TABLE IF NOT EXISTS " CH_HOURS_TABLE " (hour UInt32, key UInt64, status UInt8, edge UInt8,"
	" n UInt64, sum_ns UInt64, fast UInt64, normal UInt64, slow UInt64, critical UInt64,"
	" min_ns AggregateFunction(min, UInt64), max_ns AggregateFunction(max, UInt64),"
	" bucketsMap Nested(bucket Int32, n UInt64)) ENGINE = SummingMergeTree"
	" PARTITION BY toYYYYMMDD(toDateTime(hour * 3600)) ORDER BY (hour, key, status, edge)",
	"CREATE TABLE IF NOT EXISTS rollup_hours_start (hour UInt32, at_ns UInt64) ENGINE = MergeTree"
	" ORDER BY hour",
	NULL,
};

/* The view's query: a plain projection (no GROUP BY, no alias shadowing
 * a column), which every ClickHouse release since 18.16 takes in a view:
 * each minute row becomes an hour row of one bucket, and SummingMergeTree
 * sums an hour's rows (their maps bucket by bucket) as it merges parts. */
#define HOURS_FEED                                                                                           \
	"CREATE MATERIALIZED VIEW rollup_hours_feed TO " CH_HOURS_TABLE " AS SELECT"                         \
	" toUInt32(intDiv(minute, 60)) AS hour, key, status, edge, n, sum_ns, fast, normal, slow,"           \
	" critical, min_ns, max_ns, [bucket] AS `bucketsMap.bucket`, [n] AS `bucketsMap.n` FROM rollups"

/*
 * Step 9's view, then the hours of the minutes stored before it: the view
 * is created first, so every row inserted from then on reaches the hours
 * through it; then the minutes of every hour but H, the hour the view was
 * created in, and H + 1 are copied (summed per hour): those two hours are
 * the ones whose rows arrive while the copy runs, and are never read from
 * the hours (their minutes inserted before the view are in neither).  H is
 * recorded only after the copy.  An instance that finds the view there
 * (another one is migrating, or a migration stopped half-way) copies and
 * records nothing: until H is recorded, ch_rollups() reads minutes only.
 * A row of another hour inserted while the copy runs (a span more than an
 * hour late or early, within those seconds) is counted twice in the hours.
 */
static int hours_begin(struct ch_client *c, char *err, size_t errlen)
{
	uint64_t now = clock_now_ns(), hour = now / (3600ull * 1000000000ull);
	int rc = ch_exec(c, HOURS_FEED, NULL, 0, NULL, err, errlen);
	if (rc < 0) {
		if (!strstr(err, "already exists"))
			return rc;
		log_warn("clickhouse: the hourly rollups' view exists already (another instance builds the"
			 " hours); minutes are read until it is done");
		return 0;
	}
	char sql[1024];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO " CH_HOURS_TABLE " SELECT h, key, status, edge, s_n, s_sum, s_fast, s_normal,"
		 " s_slow, s_critical, s_min, s_max, tupleElement(m, 1), tupleElement(m, 2) FROM (SELECT"
		 " toUInt32(intDiv(minute, 60)) AS h, key, status, edge, sum(n) AS s_n, sum(sum_ns) AS s_sum,"
		 " sum(fast) AS s_fast, sum(normal) AS s_normal, sum(slow) AS s_slow, sum(critical) AS"
		 " s_critical, minMergeState(min_ns) AS s_min, maxMergeState(max_ns) AS s_max,"
		 " sumMap([bucket], [n]) AS m FROM rollups WHERE h < %llu OR h > %llu"
		 " GROUP BY h, key, status, edge)",
		 (unsigned long long)hour, (unsigned long long)hour + 1);
	uint64_t t0 = clock_now_ns();
	if ((rc = ch_exec(c, sql, NULL, 0, NULL, err, errlen)) < 0)
		return rc;
	log_info("clickhouse: hourly rollups built from the stored minutes in %.1f s",
		 (double)(clock_now_ns() - t0) / 1e9);
	snprintf(sql, sizeof(sql), "INSERT INTO rollup_hours_start VALUES (%llu, %llu)",
		 (unsigned long long)hour, (unsigned long long)now);
	return ch_exec(c, sql, NULL, 0, NULL, err, errlen);
}

static const char *const *const steps[] = {step1, step2, step3, step4, step5, step6, step7, step8, step9};
#define N_STEPS ((int)(sizeof(steps) / sizeof(steps[0])))

int ch_schema_version(void)
{
	return N_STEPS;
}

static int current_version(struct ch_client *c, int *v, char *err, size_t errlen)
{
	struct buf out;
	buf_init(&out, 4096);
	int rc = ch_exec(c, "SELECT max(version) FROM hotpath_schema FORMAT TSV", NULL, 0, &out, err, errlen);
	*v = rc < 0 ? 0 : atoi(out.data ? out.data : "0");
	buf_release(&out);
	return rc;
}

/* A step's statement that failed because another instance migrating at
 * the same time did it first: a column it added, a table it copied and
 * dropped. */
static int done_by_another(const char *sql, const char *err)
{
	if (strncmp(sql, "ALTER", 5) == 0)
		return strstr(err, "already exists") != NULL;
	if (strncmp(sql, "INSERT INTO " CH_AGGS_TABLE, strlen("INSERT INTO " CH_AGGS_TABLE)) == 0)
		return strstr(err, "aggregates doesn't exist") != NULL;
	return 0;
}

int ch_schema_migrate(struct ch_client *c, char *err, size_t errlen)
{
	int v, rc;
	if ((rc = ch_create_database(c, err, errlen)) < 0 ||
	    (rc = ch_exec(c,
			  "CREATE TABLE IF NOT EXISTS hotpath_schema (version UInt32, applied_ns UInt64)"
			  " ENGINE = MergeTree ORDER BY version",
			  NULL, 0, NULL, err, errlen)) < 0 ||
	    (rc = current_version(c, &v, err, errlen)) < 0)
		return rc;
	if (v > N_STEPS)
		return errf(err, errlen,
			    "the ClickHouse database %s has schema %d, newer than this hotpath (%d): upgrade"
			    " hotpath",
			    ch_client_db(c), v, N_STEPS);
	for (; v < N_STEPS; v++) {
		for (const char *const *q = steps[v]; *q; q++)
			if ((rc = ch_exec(c, *q, NULL, 0, NULL, err, errlen)) < 0 &&
			    !done_by_another(*q, err))
				return rc;
		if (v + 1 == 9 && (rc = hours_begin(c, err, errlen)) < 0)
			return rc;
		char sql[128];
		snprintf(sql, sizeof(sql), "INSERT INTO hotpath_schema VALUES (%d, %llu)", v + 1,
			 (unsigned long long)clock_now_ns());
		if ((rc = ch_exec(c, sql, NULL, 0, NULL, err, errlen)) < 0)
			return rc;
	}
	return 0;
}
