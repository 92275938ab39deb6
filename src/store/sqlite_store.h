/*
 * sqlite_store.h - what the three files of the SQLite backend share: the
 * write path and the writer thread (sqlite_write.c), the reads
 * (sqlite_read.c) and the documents, events and profiles (sqlite_records.c).
 * Internal to src/store; the interface is store.h.
 */
#ifndef HOTPATH_STORE_SQLITE_STORE_H
#define HOTPATH_STORE_SQLITE_STORE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/strmap.h"
#include "ingest/batch.h"
#include "store/prepared.h"
#include "store/rollup.h"
#include "store/store.h"

#define READ_POOL_MAX 16
/* metric_series.type: enum metric_type, with this bit for DELTA temporality */
#define SERIES_TYPE_DELTA 0x10

enum stmt_id {
	ST_BLOCK,
	ST_TRACE,
	ST_REQUEST,
	ST_DICT_INSERT,
	ST_DICT_SELECT,
	ST_SERIES_INSERT,
	ST_SERIES_SELECT,
	ST_POINT_LOG,
	ST_DOC,
	ST_EVENT,
	ST_PROFILE,
	ST_AGG,
	ST_DOC_DELETE,
	ST_COUNT
};

struct store {
	const struct store_backend *be; /* first: store.c dispatches on it */
	char *path;
	sqlite3 *db; /* the writer's connection */
	sqlite3_stmt *st[ST_COUNT];
	struct strmap dict;	       /* kind byte + value -> id, writer thread only */
	struct strmap series;	       /* service id + name + attrs -> id, writer thread only */
	struct rollup_writer *rollups; /* writer thread only */
	uint64_t rollups_flushed_ns;   /* writer thread only */
	int64_t last_request_id;       /* writer thread only: ids count in write order */
	/* Under `lock`: rollups added in memory but not flushed, and flush
	 * requests from readers (tickets) and the last one served. */
	int rollups_dirty;
	uint64_t flush_wanted, flush_done;
	pthread_cond_t flushed;

	pthread_mutex_t lock; /* guards the queue and the read pool */
	pthread_cond_t wake, space;
	struct store_write *head, *tail;
	size_t queue_bytes, queue_writes, queue_max;
	int stopping;
	pthread_t writer;

	sqlite3 *readers[READ_POOL_MAX];
	size_t n_readers;

	_Atomic uint64_t commits, writes, spans, points, failed_writes, rollup_folded;

	/* Maintenance (sqlite_maint.c): retention and the state of the disk. */
	char *dir;
	struct store_retention retention;
	uint64_t maint_next_ns; /* writer thread only: when the next step is due */
	/* writer thread only: past the disk budget, the raw data before
	 * budget_cutoff goes; no more blocks are dropped while rows before it
	 * are left (budget_behind) */
	int64_t budget_cutoff;
	int budget_behind;
	_Atomic int read_only; /* writes refused: the disk is full or failing */
	_Atomic int retention_pending;
	char writer_error[160]; /* under lock */
	_Atomic uint64_t disk_errors, used_bytes, file_bytes, disk_free_bytes, retention_steps;
	/* Incremental vacuum: the database's free pages (bytes) and the pages
	 * given back to the file system so far; set only when the database
	 * was created with auto_vacuum=INCREMENTAL (vacuum_on). */
	int vacuum_on;
	_Atomic uint64_t free_bytes, vacuumed_pages;
	uint64_t vacuum_uncommitted; /* writer thread only: pages of a step not yet committed */
	uint64_t page_bytes;	     /* writer thread only: the page size, as last measured */
	int wal_truncate_due;	     /* writer thread only: the vacuum is done, the log is large */
	_Atomic uint64_t retention_step_max_ns;
	_Atomic uint64_t retention_deleted[KEPT_COUNT];
};

static inline void db_bind_text_or_null(sqlite3_stmt *st, int col, const char *v)
{
	if (v)
		sqlite3_bind_text(st, col, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

static inline const char *db_col_text(struct arena *a, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(st, col)) : NULL;
}

/* The connections: readers borrowed from a pool of READ_POOL_MAX (sqlite_read.c). */
int db_open(const char *path, int readonly, sqlite3 **out, char *err, size_t errlen);
sqlite3 *db_reader_get(struct store *s, char *err, size_t errlen);
void db_reader_put(struct store *s, sqlite3 *db);
/* A read on `db` failed: ERR_TIMEOUT when the reading thread's deadline
 * (core/deadline.h) stopped it, else ERR_INTERNAL; said in err. */
int db_read_error(sqlite3 *db, const char *what, char *err, size_t errlen);
/* Close a reading connection and the statements it keeps. */
void db_reader_close(sqlite3 *db);
/* Roll up the requests past the watermark, in a transaction of its own (sqlite_write.c). */
int db_catch_up_rollups(struct store *s);
int db_exec(sqlite3 *db, const char *sql);

/* Maintenance, run by the writer thread between writes (sqlite_maint.c). */
void maint_init(struct store *s, const struct store_options *o);
/* A retention step that joined a group of writes' transaction: what it
 * deleted is counted once that transaction commits. */
struct maint_step {
	uint64_t deleted[KEPT_COUNT];
	uint64_t took_ns;
	int more, joined;
};
/* Inside the writer's open transaction, after writes that took writes_ns:
 * run a step there when one is due (no commit of its own), for 20 ms or
 * half writes_ns, whichever is longer; 1 when it did.  Then
 * maint_joined() with whether the transaction committed. */
int maint_join(struct store *s, struct maint_step *m, uint64_t writes_ns);
void maint_joined(struct store *s, const struct maint_step *m, int committed);
/* At open, after the pragmas: whether the database gives freed pages back
 * (auto_vacuum=INCREMENTAL, set on new databases); logs how to convert an
 * older one.  -1 on failure. */
int maint_vacuum_mode(struct store *s);
/* Whether a step is due now; then maint_step() runs it (lock not held). */
int maint_due(const struct store *s);
void maint_step(struct store *s);
/* Whether the last error of `db` says the disk is full or failing. */
int db_disk_error(sqlite3 *db);
/* Give back the room set aside in DIR for a start on a full disk: 0 when
 * there was some. */
int maint_reserve_release(const char *dir);
/* Refuse writes until a probe succeeds (the disk is full or failing). */
void maint_read_only(struct store *s, sqlite3 *db);

/* The backend's entry points, the store.h functions of the same name
 * (store_*), called through sqlite_backend (store/backend.h). */
int sqlite_open(struct store **out, const struct store_options *o, char *err, size_t errlen);
void sqlite_close(struct store *s);
int sqlite_submit(struct store *s, struct store_write *w, store_done_fn done, void *arg);
void sqlite_get_stats(struct store *s, struct store_stats *st);
long sqlite_get_trace(struct store *s, const uint8_t trace_id[16], struct batch *out, char *err,
		      size_t errlen);
long sqlite_trace_stamp(struct store *s, const uint8_t trace_id[16], uint64_t *stamp, char *err,
			size_t errlen);
int sqlite_latest_versions(struct store *s, const struct store_query *q, struct arena *a,
			   struct service_version **pairs, size_t *n, char *err, size_t errlen);
int sqlite_search(struct store *s, const struct store_query *q, struct arena *a, struct request_row **rows,
		  size_t *n, char *err, size_t errlen);
int sqlite_count(struct store *s, const struct store_query *q, uint64_t *n, char *err, size_t errlen);
int sqlite_put_aggs(struct store *s, const struct store_agg *rows, size_t n, int replace_all, char *err,
		    size_t errlen);
int sqlite_aggs(struct store *s, int kind, uint64_t from_ns, uint64_t to_ns, store_agg_fn fn, void *arg,
		char *err, size_t errlen);
int sqlite_slow_since(struct store *s, int64_t after, uint64_t from_ns, unsigned limit, struct arena *a,
		      struct request_row **rows, int64_t **ids, size_t *n, uint64_t *oldest_ns, char *err,
		      size_t errlen);
long sqlite_newest_requests(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned n, uint64_t *start_ns,
			    uint64_t *end_ns, char *err, size_t errlen);
int sqlite_filter_values(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned kinds, struct arena *a,
			 struct store_dim_values *out, char *err, size_t errlen);
int sqlite_rollups(struct store *s, const struct store_query *q, unsigned res_s, struct arena *a,
		   struct rollup_row **rows, size_t *n, char *err, size_t errlen);
int sqlite_scan(struct store *s, const struct store_scan *sc, store_trace_fn fn, void *arg, char *err,
		size_t errlen);
int sqlite_scan_spans(struct store *s, uint64_t from_ns, uint64_t to_ns, store_span_fn fn, void *arg,
		      char *err, size_t errlen);
int sqlite_blocks_info(struct store *s, uint64_t first_id, uint64_t last_id, struct store_blocks *out,
		       char *err, size_t errlen);
int sqlite_last_block(struct store *s, uint64_t *id, char *err, size_t errlen);
int sqlite_scan_series_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			      store_series_point_fn fn, void *arg, char *err, size_t errlen);
int sqlite_scan_series_hours(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			     store_series_hour_fn fn, void *arg, char *err, size_t errlen);
int sqlite_metric_series(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			 unsigned limit, struct arena *a, struct metric_series_row **rows, size_t *n,
			 char *err, size_t errlen);
int sqlite_scan_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
		       store_point_fn fn, void *arg, char *err, size_t errlen);
int sqlite_put_doc(struct store *s, const struct store_record *r, char *err, size_t errlen);
int sqlite_add_event(struct store *s, const struct store_record *r, char *err, size_t errlen);
int sqlite_delete_docs(struct store *s, const char *kind, const char *const *ids, size_t n, char *err,
		       size_t errlen);
int sqlite_docs(struct store *s, const char *kind, const char *id, struct arena *a,
		struct store_record **rows, size_t *n, char *err, size_t errlen);
int sqlite_events(struct store *s, const char *kind, const char *id, uint64_t from_ns, uint64_t to_ns,
		  unsigned limit, struct arena *a, struct store_record **rows, size_t *n, char *err,
		  size_t errlen);
int sqlite_put_profile(struct store *s, const struct profile_row *p, int64_t *id, char *err, size_t errlen);
int sqlite_profiles(struct store *s, const struct profile_query *q, struct arena *a,
		    struct profile_row **rows, size_t *n, char *err, size_t errlen);

#endif
