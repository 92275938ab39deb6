/*
 * clickhouse_retention.c - retention in ClickHouse by dropping whole day
 * partitions (every time-bound table is partitioned by day), run by the
 * holder of the background lease from the lease thread.
 *
 * A kind's partition is dropped once the whole day is older than its period
 * (so a row lives up to a day longer than the embedded store keeps it).
 * Past --disk-budget (the bytes of the database's active parts) the oldest
 * day of raw data (blocks, trace index, request rows, metric points,
 * profiles) goes from every raw table at once, one day a step, never the
 * current day; rollups and metric hours keep their periods.  Each drop
 * checks the lease first (ch_holder_exec): a holder that stood still past
 * its lease in the middle of a step drops nothing more.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/clickhouse_store.h"

#define NS_PER_S	1000000000ull
#define LEASES_KEEP_NS	(2ull * 86400ull * NS_PER_S)
#define BUDGET_MAX_DAYS 3 /* days dropped for the budget in one step, at most */
#define KIND_LEASES	(-1)
#define KIND_ROLLUPS	(-2) /* the longer of the minute and hour rollup periods */

struct day_table {
	const char *table;
	int kind;	   /* enum store_kept, or KIND_* */
	const char *count; /* what the kind's deleted counter counts; NULL: not counted */
	const char *day;   /* the partition expression */
	int raw;	   /* dropped for the disk budget */
};

#define DAY_NS(col) "toYYYYMMDD(toDateTime(intDiv(" col ", 1000000000)))"
static const struct day_table tables[] = {
	{"blocks", KEPT_SPANS, "sum(n_spans)", DAY_NS("t_min"), 1},
	{"trace_index", KEPT_SPANS, NULL, DAY_NS("t_min"), 1},
	{"requests", KEPT_REQUESTS, "count()", DAY_NS("start_ns"), 1},
	{"slow_requests", KEPT_REQUESTS, NULL, DAY_NS("start_ns"), 1}, /* a copy of some of them */
	{"rollups", KIND_ROLLUPS, "count()", "toYYYYMMDD(toDateTime(minute * 60))", 0},
	/* the hourly rollups (schema 9) go with the minutes they sum, so that
	 * an hour's answer stays that of its minutes */
	{CH_HOURS_TABLE, KIND_ROLLUPS, NULL, "toYYYYMMDD(toDateTime(hour * 3600))", 0},
	{"metric_points", KEPT_POINTS, "count()", DAY_NS("time_ns"), 1},
	{"profiles", KEPT_PROFILES, "count()", DAY_NS("start_ns"), 1},
	{"metric_hours", KEPT_METRIC_HOURS, "count()", DAY_NS("hour"), 0},
	{"leases", KIND_LEASES, NULL, DAY_NS("at_ns"), 0},
	/* the stored aggregates, with the minute rollups' period as in the
	 * embedded store; the state row's day (2100-01-01) is never past it */
	{CH_AGGS_TABLE, KEPT_MINUTE_ROLLUPS, NULL,
	 "toYYYYMMDD(toDateTime(intDiv(least(t, 4102444800000000000), 1000000000)))", 0},
};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

static uint64_t keep_of(const struct ch_store *s, int kind)
{
	const uint64_t *k = s->retention.keep_ns;
	if (kind == KIND_LEASES)
		return LEASES_KEEP_NS;
	if (kind == KIND_ROLLUPS)
		return !k[KEPT_MINUTE_ROLLUPS] || !k[KEPT_HOUR_ROLLUPS] ? 0
		       : k[KEPT_MINUTE_ROLLUPS] > k[KEPT_HOUR_ROLLUPS]	? k[KEPT_MINUTE_ROLLUPS]
									: k[KEPT_HOUR_ROLLUPS];
	return k[kind];
}

static int counter_of(int kind)
{
	return kind == KIND_ROLLUPS ? KEPT_MINUTE_ROLLUPS : kind;
}

/* The days (YYYYMMDD) of `table`'s active partitions before `before`
 * (a YYYYMMDD; 0: every day), oldest first, at most `max`. */
static int days_before(struct ch_store *s, const char *table, unsigned before, unsigned *days, int max,
		       int *n, char *err, size_t errlen)
{
	struct buf q, out;
	buf_init(&q, BUF_NO_LIMIT);
	buf_init(&out, 1 << 20);
	buf_puts(&q, "SELECT DISTINCT toUInt32(partition) AS d FROM system.parts WHERE database = ");
	ch_quote(&q, ch_client_db(s->ch));
	buf_puts(&q, " AND table = ");
	ch_quote(&q, table);
	buf_puts(&q, " AND active");
	if (before)
		buf_printf(&q, " AND toUInt32(partition) < %u", before);
	buf_printf(&q, " ORDER BY d LIMIT %d FORMAT TSV", max);
	int rc = ch_exec(s->ch, q.data, NULL, 0, &out, err, errlen);
	*n = 0;
	for (char *p = out.data; rc == 0 && p && *p && *n < max;) {
		char *end;
		unsigned long d = strtoul(p, &end, 10);
		if (end == p)
			break;
		days[(*n)++] = (unsigned)d;
		p = end + (*end == '\n');
	}
	buf_release(&q);
	buf_release(&out);
	return rc;
}

/* The day (YYYYMMDD, by ClickHouse's time zone, as the partitions) of a time. */
static int day_of(struct ch_store *s, uint64_t t_ns, unsigned *day, char *err, size_t errlen)
{
	char sql[128];
	struct buf out;
	buf_init(&out, 4096);
	snprintf(sql, sizeof(sql), "SELECT toYYYYMMDD(toDateTime(%llu)) FORMAT TSV",
		 (unsigned long long)(t_ns / NS_PER_S));
	int rc = ch_exec(s->ch, sql, NULL, 0, &out, err, errlen);
	*day = rc == 0 && out.data ? (unsigned)strtoul(out.data, NULL, 10) : 0;
	buf_release(&out);
	return rc;
}

/* Count what a day of a table holds (for the counters), then drop it:
 * the drop checks the lease first (ch_holder_exec), and is counted only
 * when ClickHouse took it. */
static int drop_day(struct ch_store *s, const struct day_table *t, unsigned day, char *err, size_t errlen)
{
	char sql[320];
	uint64_t rows = 0;
	int rc = 0;
	if (t->count) {
		struct buf out;
		buf_init(&out, 4096);
		snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE %s = %u FORMAT TSV", t->count, t->table,
			 t->day, day);
		rc = ch_exec(s->ch, sql, NULL, 0, &out, err, errlen);
		if (rc == 0 && out.data)
			rows = strtoull(out.data, NULL, 10);
		buf_release(&out);
		if (rc < 0)
			return rc;
	}
	snprintf(sql, sizeof(sql), "ALTER TABLE %s DROP PARTITION %u", t->table, day);
	if ((rc = ch_holder_exec(s, sql, err, errlen)) < 0)
		return rc;
	if (t->count)
		atomic_fetch_add(&s->ret_deleted[counter_of(t->kind)], rows);
	log_info("clickhouse retention: dropped %s of %u", t->table, day);
	return 0;
}

/* Every table: the days older than its kind's period. */
static int drop_expired(struct ch_store *s, uint64_t now, char *err, size_t errlen)
{
	for (size_t i = 0; i < N_TABLES; i++) {
		uint64_t keep = keep_of(s, tables[i].kind);
		unsigned cut, days[64];
		int n, rc;
		if (!keep || keep >= now)
			continue;
		if ((rc = day_of(s, now - keep, &cut, err, errlen)) < 0 ||
		    (rc = days_before(s, tables[i].table, cut, days, 64, &n, err, errlen)) < 0)
			return rc;
		for (int d = 0; d < n; d++)
			if ((rc = drop_day(s, &tables[i], days[d], err, errlen)) < 0)
				return rc;
	}
	return 0;
}

static int used_bytes(struct ch_store *s, uint64_t *bytes, char *err, size_t errlen)
{
	struct buf q, out;
	buf_init(&q, BUF_NO_LIMIT);
	buf_init(&out, 4096);
	buf_puts(&q, "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = ");
	ch_quote(&q, ch_client_db(s->ch));
	buf_puts(&q, " FORMAT TSV");
	int rc = ch_exec(s->ch, q.data, NULL, 0, &out, err, errlen);
	*bytes = rc == 0 && out.data ? strtoull(out.data, NULL, 10) : 0;
	buf_release(&q);
	buf_release(&out);
	return rc;
}

/* Past the budget: the oldest day of raw data, from every raw table, not today. */
static int drop_for_budget(struct ch_store *s, uint64_t now, char *err, size_t errlen)
{
	uint64_t budget = s->retention.disk_budget, used = 0;
	unsigned today;
	int rc;
	atomic_store(&s->ret_pending, 0);
	if (!budget || (rc = used_bytes(s, &used, err, errlen)) < 0 || used <= budget)
		return 0;
	if ((rc = day_of(s, now, &today, err, errlen)) < 0)
		return rc;
	for (int step = 0; step < BUDGET_MAX_DAYS && used > budget; step++) {
		unsigned oldest = 0, d;
		int n;
		for (size_t i = 0; i < N_TABLES; i++) {
			if (!tables[i].raw)
				continue;
			if ((rc = days_before(s, tables[i].table, today, &d, 1, &n, err, errlen)) < 0)
				return rc;
			if (n && (!oldest || d < oldest))
				oldest = d;
		}
		if (!oldest)
			return 0; /* only today is left: it stays, over the budget */
		for (size_t i = 0; i < N_TABLES; i++)
			if (tables[i].raw && (rc = drop_day(s, &tables[i], oldest, err, errlen)) < 0)
				return rc;
		if ((rc = used_bytes(s, &used, err, errlen)) < 0)
			return rc;
	}
	atomic_store(&s->ret_pending, used > budget);
	return 0;
}

void ch_retention_step(struct ch_store *s)
{
	char err[512];
	uint64_t t0 = clock_now_ns();
	if (drop_expired(s, t0, err, sizeof(err)) < 0 || drop_for_budget(s, t0, err, sizeof(err)) < 0) {
		log_warn("clickhouse retention: %s", err);
		return;
	}
	uint64_t took = clock_now_ns() - t0;
	atomic_fetch_add(&s->ret_steps, 1);
	if (took > atomic_load(&s->ret_step_max_ns))
		atomic_store(&s->ret_step_max_ns, took);
}
