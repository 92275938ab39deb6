/*
 * sqlite_maint.c - what the writer thread does between writes: retention
 * (deleting what has outlived its period, or the oldest raw data past the
 * disk budget, in bounded steps), the incremental vacuum that gives the
 * freed pages back to the file system, and the state of the disk
 * (read-only while it is full or failing, probed until writes succeed
 * again).  docs/internals/STORE.md, "Retention", "Giving the disk back"
 * and "A full or failing disk".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "store/block.h"
#include "store/sqlite_store.h"

const char *const store_kept_names[KEPT_COUNT] = {"spans",  "requests", "minute_rollups", "hour_rollups",
						  "points", "profiles", "metric_hours"};

#define DEFAULT_INTERVAL_MS 10000u
#define DEFAULT_STEP_ROWS   500u
#define STEP_BUDGET_NS	    (20 * NS_PER_MS) /* a step's time at least: half for blocks, then rows */
#define PROBE_MS	    2000	     /* read-only: how often a write is tried */
#define PROBE_MIN_FREE	    (1u << 20)
#define RESERVE_BYTES	    (2u << 20)
/* The incremental vacuum: a step gives back at most this many pages (8 MiB
 * of 4 KiB pages; docs/PERFORMANCE.md has its time); it runs when the
 * free pages are at least VACUUM_MIN_FREE bytes and a tenth of the files,
 * or when the files are past the disk budget. */
#define VACUUM_STEP_PAGES 2048
#define VACUUM_MIN_FREE	  (16u << 20)

/* DIR/hotpath.reserve: room set aside while the disk has some, given back
 * when a full disk keeps the store from opening (the write-ahead log and
 * its index need a little room even to read). */
static void reserve_path(const char *dir, char *out, size_t len)
{
	snprintf(out, len, "%s/hotpath.reserve", dir);
}

int maint_reserve_release(const char *dir)
{
	char p[4096];
	reserve_path(dir, p, sizeof(p));
	return unlink(p);
}

/* Make the reserve if it is not there; -1 when the disk has no room for it. */
static int reserve_make(const struct store *s)
{
	char p[4096];
	struct stat sb;
	reserve_path(s->dir, p, sizeof(p));
	if (stat(p, &sb) == 0 && (uint64_t)sb.st_size >= RESERVE_BYTES)
		return 0;
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = posix_fallocate(fd, 0, RESERVE_BYTES);
	close(fd);
	if (rc != 0) {
		unlink(p);
		return -1;
	}
	return 0;
}

void maint_init(struct store *s, const struct store_options *o)
{
	s->retention = o->retention;
	if (!s->retention.interval_ms)
		s->retention.interval_ms = DEFAULT_INTERVAL_MS;
	if (!s->retention.step_rows)
		s->retention.step_rows = DEFAULT_STEP_ROWS;
	s->maint_next_ns = clock_now_ns(); /* a first look at once */
}

int maint_due(const struct store *s)
{
	return clock_now_ns() >= s->maint_next_ns;
}

int db_disk_error(sqlite3 *db)
{
	int rc = sqlite3_extended_errcode(db) & 0xff;
	return rc == SQLITE_FULL || rc == SQLITE_IOERR;
}

void maint_read_only(struct store *s, sqlite3 *db)
{
	atomic_fetch_add(&s->disk_errors, 1);
	if (db) {
		pthread_mutex_lock(&s->lock);
		snprintf(s->writer_error, sizeof(s->writer_error), "%s", sqlite3_errmsg(db));
		pthread_mutex_unlock(&s->lock);
	}
	if (!atomic_exchange(&s->read_only, 1))
		log_warn("store: writes refused (503) until the disk takes them again: %s", s->writer_error);
	s->maint_next_ns = clock_now_ns() + PROBE_MS * NS_PER_MS;
}

/* The database's pages in use and free, in bytes. */
static void measure_pages(struct store *s)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(
		    s->db,
		    "SELECT (SELECT page_count FROM pragma_page_count), (SELECT freelist_count FROM"
		    " pragma_freelist_count), (SELECT page_size FROM pragma_page_size)",
		    -1, &st, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t pages = (uint64_t)sqlite3_column_int64(st, 0),
			 free = (uint64_t)sqlite3_column_int64(st, 1);
		uint64_t size = (uint64_t)sqlite3_column_int64(st, 2);
		s->page_bytes = size;
		atomic_store(&s->used_bytes, (pages - (free < pages ? free : pages)) * size);
		atomic_store(&s->free_bytes, free * size);
	}
	sqlite3_finalize(st);
}

/* Pages in use and free, the files' size and the free space of the disk. */
static void measure(struct store *s)
{
	measure_pages(s);
	struct stat sb;
	uint64_t size = 0;
	char wal[4096];
	if (stat(s->path, &sb) == 0)
		size += (uint64_t)sb.st_size;
	snprintf(wal, sizeof(wal), "%s-wal", s->path);
	if (stat(wal, &sb) == 0)
		size += (uint64_t)sb.st_size;
	atomic_store(&s->file_bytes, size);
	struct statvfs vfs;
	if (statvfs(s->dir, &vfs) == 0)
		atomic_store(&s->disk_free_bytes, (uint64_t)vfs.f_bavail * vfs.f_frsize);
}

/* Read-only: try a small write; success ends the read-only state. */
static void probe(struct store *s)
{
	measure(s);
	s->maint_next_ns = clock_now_ns() + PROBE_MS * NS_PER_MS;
	if (atomic_load(&s->disk_free_bytes) < PROBE_MIN_FREE + RESERVE_BYTES || reserve_make(s) < 0)
		return;
	char sql[128];
	snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO meta VALUES('writer_probe', %llu)",
		 (unsigned long long)clock_now_ns());
	if (db_exec(s->db, "BEGIN IMMEDIATE") < 0)
		return;
	if (db_exec(s->db, sql) < 0 || db_exec(s->db, "COMMIT") < 0) {
		db_exec(s->db, "ROLLBACK");
		return;
	}
	atomic_store(&s->read_only, 0);
	log_info("store: the disk takes writes again; writing resumes");
	db_catch_up_rollups(s);
}

/* Run `sql` (?1 the cutoff, ?2 the row limit); rows changed, or -1. */
static long trim(struct store *s, const char *sql, int64_t cutoff, int64_t limit)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, cutoff);
	sqlite3_bind_int64(st, 2, limit);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(s->db) : -1;
}

/* Whether a step may take chunk n (counted from 0) of a kind: the first
 * always, the others while the step has time and, when the options set
 * step_chunks (the tests do), within that many. */
static int step_goes_on(const struct store *s, unsigned n, uint64_t until_ns)
{
	return n == 0 ||
	       (clock_now_ns() < until_ns && (!s->retention.step_chunks || n < s->retention.step_chunks));
}

/* A kind's rows before `cutoff`, chunk after chunk (`sql` as for trim())
 * while the step goes on; rows deleted, or -1; *more set when some may be
 * left. */
static long trim_kind(struct store *s, const char *sql, int64_t cutoff, uint64_t until_ns, int *more)
{
	long total = 0;
	for (unsigned n = 0;; n++) {
		if (!step_goes_on(s, n, until_ns)) {
			*more = 1;
			return total;
		}
		long got = trim(s, sql, cutoff, s->retention.step_rows);
		if (got < 0)
			return -1;
		total += got;
		if (got < (long)s->retention.step_rows)
			return total;
	}
}

struct trace_keys {
	int64_t *keys;
	size_t n, cap;
};

static int collect_trace(void *arg, const uint8_t trace_id[16])
{
	struct trace_keys *k = arg;
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 256;
		k->keys = realloc(k->keys, k->cap * sizeof(*k->keys));
	}
	if (k->keys)
		k->keys[k->n++] = be64(trace_id);
	return 0; /* no span is decoded past its ids */
}

/* Delete a block and its trace index entries; its span count, or -1. */
static long drop_block(struct store *s, int64_t id, const void *data, size_t len)
{
	struct trace_keys k = {0};
	struct batch b;
	char err[256];
	batch_init(&b);
	struct block_filter f = {.keep_trace = collect_trace, .keep_trace_arg = &k, .skeleton = 1};
	long spans = 0;
	/* a corrupt block cannot name its traces: it goes, its index entries stay (harmless) */
	if (block_decode(data, len, &f, &b, err, sizeof(err)) < 0)
		log_warn("store: retention: block %lld: %s", (long long)id, err);
	batch_release(&b);
	sqlite3_stmt *st;
	int ok = sqlite3_prepare_v2(s->db, "DELETE FROM trace_index WHERE trace = ?1 AND block = ?2", -1, &st,
				    NULL) == SQLITE_OK;
	for (size_t i = 0; ok && i < k.n; i++) {
		sqlite3_bind_int64(st, 1, k.keys[i]);
		sqlite3_bind_int64(st, 2, id);
		ok = sqlite3_step(st) == SQLITE_DONE;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	free(k.keys);
	ok = ok && sqlite3_prepare_v2(s->db, "DELETE FROM blocks WHERE id = ?1 RETURNING n_spans", -1, &st,
				      NULL) == SQLITE_OK;
	if (ok) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			spans = sqlite3_column_int64(st, 0);
		ok = sqlite3_step(st) == SQLITE_DONE;
		sqlite3_finalize(st);
	}
	return ok ? spans : -1;
}

/* Delete blocks one by one, oldest first: those ended before `cutoff`
 * (INT64_MAX: whatever their time), until `bytes` of them are gone (0: no
 * such limit) or the step's time is up.  Spans deleted, or -1; the newest
 * end among them in *t_max; *more set when some may be left. */
static long drop_blocks(struct store *s, int64_t cutoff, uint64_t bytes, uint64_t until_ns, int64_t *t_max,
			int *more)
{
	long spans = 0;
	uint64_t freed = 0;
	for (unsigned n = 0; !bytes || freed < bytes; n++) {
		if (!step_goes_on(s, n, until_ns)) {
			*more = 1;
			break;
		}
		sqlite3_stmt *st;
		/* in write order from the oldest (`+t_max`: not through
		 * blocks_by_time, which would sort every expired block's id
		 * at each step) */
		if (sqlite3_prepare_v2(
			    s->db, "SELECT id, t_max, data FROM blocks WHERE +t_max < ?1 ORDER BY id LIMIT 1",
			    -1, &st, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_int64(st, 1, cutoff);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_finalize(st);
			break; /* none (left) */
		}
		int64_t id = sqlite3_column_int64(st, 0);
		if (sqlite3_column_int64(st, 1) > *t_max)
			*t_max = sqlite3_column_int64(st, 1);
		/* the blob is copied: the row is deleted under it */
		size_t len = (size_t)sqlite3_column_bytes(st, 2);
		void *copy = malloc(len ? len : 1);
		if (copy)
			memcpy(copy, sqlite3_column_blob(st, 2), len);
		sqlite3_finalize(st);
		long got = copy ? drop_block(s, id, copy, len) : -1;
		free(copy);
		if (got < 0)
			return -1;
		spans += got;
		freed += len;
	}
	return spans;
}

static const char *const TRIM_SQL[KEPT_COUNT] = {
	[KEPT_REQUESTS] = "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE start_ns < ?1"
			  " ORDER BY start_ns LIMIT ?2)",
	[KEPT_MINUTE_ROLLUPS] = "DELETE FROM rollups WHERE (res, t, key) IN (SELECT res, t, key FROM rollups"
				" WHERE res = 60 AND t < ?1 / 1000000000 LIMIT ?2)",
	[KEPT_HOUR_ROLLUPS] = "DELETE FROM rollups WHERE (res, t, key) IN (SELECT res, t, key FROM rollups"
			      " WHERE res = 3600 AND t < ?1 / 1000000000 LIMIT ?2)",
	/* series by series, each a seek on its key: the cost is the series and
	 * the points deleted, not a scan of every point */
	[KEPT_POINTS] = "DELETE FROM metric_points WHERE (series, time_ns) IN (SELECT p.series, p.time_ns"
			" FROM metric_series s CROSS JOIN metric_points p WHERE p.series = s.id"
			" AND p.time_ns < ?1 LIMIT ?2)",
	[KEPT_PROFILES] = "DELETE FROM profiles WHERE id IN (SELECT id FROM profiles WHERE start_ns < ?1"
			  " AND end_ns < ?1 LIMIT ?2)",
	[KEPT_METRIC_HOURS] = "DELETE FROM metric_hours WHERE (series, t) IN (SELECT h.series, h.t"
			      " FROM metric_series s CROSS JOIN metric_hours h WHERE h.series = s.id"
			      " AND h.t < ?1 LIMIT ?2)",
};

/* The aggregates of query/opstats.c (store_put_aggs): kept as long as the
 * minute rollups they summarise alike. */
static const char AGGS_TRIM_SQL[] = "DELETE FROM aggregates WHERE (kind, t, key) IN (SELECT kind, t, key"
				    " FROM aggregates WHERE t < ?1 LIMIT ?2)";

int maint_vacuum_mode(struct store *s)
{
	sqlite3_stmt *st;
	int mode = 0, tables = 0;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT (SELECT auto_vacuum FROM pragma_auto_vacuum),"
			       " (SELECT count(*) FROM sqlite_master)",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		mode = sqlite3_column_int(st, 0);
		tables = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	s->vacuum_on = mode == 2; /* INCREMENTAL */
	if (!s->vacuum_on && tables)
		log_info("store: %s was created without incremental vacuum: the pages retention frees are "
			 "reused, but the file never shrinks; `hotpath compact --data %s` (with the server "
			 "stopped) converts it",
			 s->path, s->dir);
	return 0;
}

/* Are the free pages worth giving back to the file system? */
static int vacuum_wanted(struct store *s)
{
	uint64_t free = atomic_load(&s->free_bytes), file = atomic_load(&s->file_bytes);
	uint64_t budget = s->retention.disk_budget;
	if (!s->vacuum_on || !free)
		return 0;
	return (budget && file > budget) || (free >= VACUUM_MIN_FREE && free >= file / 10);
}

/* One bounded step of the incremental vacuum, in the caller's transaction
 * (the file shrinks at the next checkpoint): 1 when more is due, 0 when
 * not, -1 on failure. */
static int vacuum_step(struct store *s)
{
	if (!vacuum_wanted(s))
		return 0;
	uint64_t before = atomic_load(&s->free_bytes);
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%d)", VACUUM_STEP_PAGES);
	if (db_exec(s->db, sql) < 0)
		return -1;
	measure_pages(s);
	uint64_t after = atomic_load(&s->free_bytes);
	if (before > after && s->page_bytes)
		s->vacuum_uncommitted += (before - after) / s->page_bytes;
	return vacuum_wanted(s);
}

/* The raw kinds the disk budget trims, oldest first. */
static int raw_kind(int k)
{
	return k == KEPT_SPANS || k == KEPT_REQUESTS || k == KEPT_POINTS || k == KEPT_PROFILES;
}

/* One bounded step of deletions, in the caller's transaction.  Rows
 * deleted per kind in `del`; 1 when more is due, 0 when done, -1. */
static int retention_step(struct store *s, uint64_t del[KEPT_COUNT], uint64_t budget_ns)
{
	uint64_t now = clock_now_ns();
	uint64_t blocks_until = now + budget_ns / 2, until = now + budget_ns;
	int64_t cutoff[KEPT_COUNT];
	/* (the commit, which writes what the step changed, comes on top) */
	int more = 0;
	for (int k = 0; k < KEPT_COUNT; k++) {
		uint64_t keep = s->retention.keep_ns[k];
		cutoff[k] = keep && keep < now ? (int64_t)(now - keep) : 0;
	}
	/* over the budget: the oldest blocks go, and the raw data as old as
	 * they; more blocks only once those rows are gone, so that no kind is
	 * emptied while another holds the bytes */
	uint64_t used = atomic_load(&s->used_bytes), budget = s->retention.disk_budget;
	if (budget && used > budget && !s->budget_behind) {
		int64_t t_max = 0;
		long n = drop_blocks(s, INT64_MAX, used - budget, blocks_until, &t_max, &more);
		if (n < 0)
			return -1;
		del[KEPT_SPANS] += (uint64_t)n;
		if (t_max + 1 > s->budget_cutoff)
			s->budget_cutoff = t_max + 1;
		more |= n > 0;
	}
	for (int k = 0; k < KEPT_COUNT; k++)
		if (raw_kind(k) && s->budget_cutoff > cutoff[k])
			cutoff[k] = s->budget_cutoff;
	if (cutoff[KEPT_SPANS]) {
		int64_t t_max = 0;
		long n = drop_blocks(s, cutoff[KEPT_SPANS], 0, blocks_until, &t_max, &more);
		if (n < 0)
			return -1;
		del[KEPT_SPANS] += (uint64_t)n;
	}
	if (cutoff[KEPT_MINUTE_ROLLUPS] && /* the stored aggregates: as long as the minute rollups */
	    trim_kind(s, AGGS_TRIM_SQL, cutoff[KEPT_MINUTE_ROLLUPS], until, &more) < 0)
		return -1;
	int rows_more = 0;
	for (int k = 0; k < KEPT_COUNT; k++) {
		if (!TRIM_SQL[k] || !cutoff[k])
			continue;
		int kind_more = 0;
		long n = trim_kind(s, TRIM_SQL[k], cutoff[k], until, &kind_more);
		if (n < 0)
			return -1;
		del[k] += (uint64_t)n;
		rows_more |= kind_more && raw_kind(k);
		more |= kind_more;
	}
	s->budget_behind = rows_more;
	measure_pages(s); /* what this step freed */
	/* past the step's time: only whether a vacuum is due, for the next step */
	int v = clock_now_ns() - now > budget_ns ? vacuum_wanted(s) : vacuum_step(s);
	if (v < 0)
		return -1;
	return more | v;
}

/* Whether any period or a budget is set; the sizes are measured anyway. */
static int retention_wanted(struct store *s)
{
	int any = s->retention.disk_budget != 0;
	measure(s);
	reserve_make(s); /* gone or never made: made while there is room */
	for (int k = 0; k < KEPT_COUNT; k++)
		any |= s->retention.keep_ns[k] != 0;
	if (!any)
		s->maint_next_ns = clock_now_ns() + s->retention.interval_ms * NS_PER_MS;
	return any;
}

/* After the transaction holding a step committed: count it, plan the next. */
static void step_committed(struct store *s, const struct maint_step *m)
{
	if (m->took_ns > atomic_load(&s->retention_step_max_ns))
		atomic_store(&s->retention_step_max_ns, m->took_ns);
	for (int k = 0; k < KEPT_COUNT; k++)
		atomic_fetch_add(&s->retention_deleted[k], m->deleted[k]);
	atomic_fetch_add(&s->retention_steps, 1);
	atomic_fetch_add(&s->vacuumed_pages, s->vacuum_uncommitted);
	if (s->vacuum_uncommitted)
		s->wal_truncate_due = 1; /* the moved pages went through the log */
	s->vacuum_uncommitted = 0;
	atomic_store(&s->retention_pending, m->more);
	/* more to do (or the log to truncate): again soon, letting queued
	 * writes pass first */
	s->maint_next_ns =
		clock_now_ns() + (m->more || s->wal_truncate_due ? 20 : s->retention.interval_ms) * NS_PER_MS;
}

static void step_failed(struct store *s)
{
	s->vacuum_uncommitted = 0; /* rolled back */
	if (db_disk_error(s->db))
		maint_read_only(s, s->db);
	else
		log_error("store: retention: %s", sqlite3_errmsg(s->db));
	if (!atomic_load(&s->read_only))
		s->maint_next_ns = clock_now_ns() + s->retention.interval_ms * NS_PER_MS;
}

/* A step in a transaction of its own (the writer is idle). */
static void retention(struct store *s)
{
	struct maint_step m = {0};
	if (!retention_wanted(s))
		return;
	uint64_t t0 = clock_now_ns();
	if (db_exec(s->db, "BEGIN IMMEDIATE") < 0)
		goto failed;
	m.more = retention_step(s, m.deleted, STEP_BUDGET_NS);
	m.took_ns = clock_now_ns() - t0;
	if (m.more < 0 || db_exec(s->db, "COMMIT") < 0)
		goto failed;
	step_committed(s, &m);
	return;
failed:
	step_failed(s);
	db_exec(s->db, "ROLLBACK");
}

int maint_join(struct store *s, struct maint_step *m, uint64_t writes_ns)
{
	memset(m, 0, sizeof(*m));
	if (atomic_load(&s->read_only) || !maint_due(s) || !retention_wanted(s))
		return 0;
	uint64_t t0 = clock_now_ns();
	if (db_exec(s->db, "SAVEPOINT retention") < 0) {
		step_failed(s);
		return 0;
	}
	/* half the time the writes took, so that deleting keeps pace with them */
	m->more = retention_step(s, m->deleted,
				 writes_ns / 2 > STEP_BUDGET_NS ? writes_ns / 2 : STEP_BUDGET_NS);
	if (m->more < 0) {
		step_failed(s);
		db_exec(s->db, "ROLLBACK TO retention");
		db_exec(s->db, "RELEASE retention");
		return 0;
	}
	db_exec(s->db, "RELEASE retention");
	m->took_ns = clock_now_ns() - t0;
	m->joined = 1;
	return 1;
}

void maint_joined(struct store *s, const struct maint_step *m, int committed)
{
	if (!m->joined)
		return;
	if (committed)
		step_committed(s, m);
	else { /* rolled back with the writes: the same rows again next time */
		s->vacuum_uncommitted = 0;
		s->maint_next_ns = clock_now_ns() + 20 * NS_PER_MS;
	}
}

/*
 * After the vacuum gave pages back, the write-ahead log keeps the size the
 * moved pages gave it: once, with the writer idle, a checkpoint that
 * truncates it.  It does not wait for readers (busy: tried at the next
 * idle step), so the writer is never held.
 */
static void wal_truncate(struct store *s)
{
	int log_frames = 0, done = 0;
	sqlite3_busy_timeout(s->db, 0);
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &done);
	sqlite3_busy_timeout(s->db, 10000);
	if (rc == SQLITE_OK)
		s->wal_truncate_due = 0;
	measure(s);
}

void maint_step(struct store *s)
{
	if (atomic_load(&s->read_only)) {
		probe(s);
		return;
	}
	retention(s);
	if (s->wal_truncate_due && !atomic_load(&s->retention_pending))
		wal_truncate(s);
}
