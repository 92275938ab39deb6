/*
 * clickhouse_store.h - what the files of the ClickHouse backend share: the
 * schema (clickhouse_schema.c), the write path and its writer thread
 * (clickhouse_write.c) and the reads (clickhouse_read.c).  Internal to
 * src/store; the interface is store.h, the layout docs/internals/CLICKHOUSE.md.
 */
#ifndef HOTPATH_STORE_CLICKHOUSE_STORE_H
#define HOTPATH_STORE_CLICKHOUSE_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "store/backend.h"
#include "core/strmap.h"
#include "store/clickhouse_http.h"
#include "store/prepared.h"

/* A string of a request or rollup row: "" stands for none (NULL). */
#define CH_NONE ""

/* Writer threads: groups of writes inserted side by side, so that the
 * latency of an insert does not bound the rate. */
#define CH_WRITERS 2

/* The bucket of the sketch's zero bucket in the rollups table. */
#define CH_ZERO_BUCKET INT32_MIN

/* Writer slots: the low bits of a block id say which instance wrote it. */
#define CH_SLOT_BITS 4
#define CH_SLOTS     (1 << CH_SLOT_BITS)
/* A fresh claim is read back after this pause (clickhouse_lease.c). */
#define CH_LEASE_PAUSE_MS 1000
#define CH_HOLDER_LEN	  64
/* The stored aggregates (store_put_aggs), partitioned by day (schema 7). */
#define CH_AGGS_TABLE "aggregates_by_day"
/* The hourly rollups (schema 9): rollup rows summed per hour. */
#define CH_HOURS_TABLE "rollup_hours"
/* The number of a row of `slow_requests` (schema 8): its request's block id
 * and its place among the block's slow rows, above the numbers 1 ... of
 * the rows copied from before (fewer than CH_SLOW_BASE).  A block holds
 * at most 8192 spans, so at most 8192 entry spans. */
#define CH_SLOW_BASE	     (1ll << 40)
#define CH_SLOW_ID(block, i) (CH_SLOW_BASE + (int64_t)((block) << 13) + (int64_t)(i))

/* The endpoint cardinality guard of the rollups (clickhouse_guard.c). */
struct ch_guard {
	pthread_mutex_t lock;
	struct strmap pairs;	   /* service NUL endpoint -> 1 */
	struct strmap per_service; /* service -> endpoints let in */
	struct strmap keys;	   /* rollup keys this instance wrote to rollup_keys */
	struct buf key;
	unsigned max;
	_Atomic uint64_t folded; /* requests rolled up under "other" */
};

/* A lease among the instances (clickhouse_lease.c). */
struct ch_lease {
	char name[32];
	_Atomic uint64_t held_until; /* by this clock; 0: not held */
};

struct ch_store {
	const struct store_backend *be; /* first: store.c dispatches on it */
	struct ch_client *ch;

	pthread_mutex_t lock; /* guards the queue */
	pthread_cond_t wake, space;
	struct store_write *head, *tail;
	size_t queue_bytes, queue_writes, queue_max;
	int stopping;
	pthread_t writers[CH_WRITERS];
	size_t n_writers;

	/* leases and block ids (clickhouse_lease.c) */
	char instance[CH_HOLDER_LEN]; /* this process: host/pid/random */
	uint64_t lease_ns;
	struct ch_lease background, slot;
	pthread_mutex_t bg_lock; /* one renewal of the background lease at a time */
	pthread_mutex_t id_lock; /* guards the fields below */
	pthread_cond_t lease_wake;
	int slot_no;		       /* -1: none held */
	uint64_t seq;		       /* the next block id's sequence */
	uint64_t inflight[CH_WRITERS]; /* the first id of each group being inserted; 0: none */
	int lease_stop, lease_started;
	pthread_t leaser;

	/* retention (clickhouse_retention.c), run by the background lease's holder */
	struct store_retention retention;
	_Atomic uint64_t ret_deleted[KEPT_COUNT], ret_steps, ret_step_max_ns;
	_Atomic int ret_pending;
	uint64_t hours_seen;	  /* the last hour boundary the metric hours were computed at */
	uint64_t last_profile_id; /* under id_lock */
	struct ch_guard guard;

	_Atomic uint64_t commits, writes, spans, points, failed_writes;
	_Atomic uint64_t slow_groups; /* groups inserted with slow requests */

	/* what ch_slow_since() read last (slow_lock) */
	pthread_mutex_t slow_lock;
	uint64_t slow_groups_seen, slow_read_ns, slow_last_id, slow_oldest, slow_oldest_ns;
	_Atomic int failing; /* inserts failing now (retried): the writer is not ready */

	/* the hour the hourly rollups began in (hours_start() in clickhouse_read.c), +1; 0: not known */
	_Atomic uint64_t hours_start, hours_checked_ns;
};

static inline struct ch_store *ch_of(struct store *s)
{
	return (struct ch_store *)(void *)s;
}

/* Create the tables this version needs and record the version. */
int ch_schema_migrate(struct ch_client *c, char *err, size_t errlen);
int ch_schema_version(void);

/* Leases and block ids (clickhouse_lease.c).  ch_lease_start() claims a
 * writer slot before returning, then renews it and tries the background
 * lease every lease_ns / 3 on its own thread. */
int ch_lease_start(struct ch_store *s, uint64_t lease_ns, char *err, size_t errlen);
void ch_lease_stop(struct ch_store *s);
int ch_lease_tick(struct ch_store *s, struct ch_lease *l, uint64_t floor, char *err, size_t errlen);
int ch_lease_held(struct ch_lease *l);
int ch_lease_background(struct store *s);
/* Before and after a write of a job of the background lease's holder
 * (backend.h: lease_write_begin, lease_write_end). */
int ch_lease_write_begin(struct store *s, char *err, size_t errlen);
void ch_lease_write_end(struct store *s);
/* Run a write statement of the holder's own work (retention, the metric
 * hours) under the same check, per statement: ERR_BUSY, not sent, when
 * the lease is no longer held long enough. */
int ch_holder_exec(struct ch_store *s, const char *sql, char *err, size_t errlen);
/* Reserve n block ids for a group (waits while no slot is held): the
 * group's in-flight index, -1 when the store is closing. */
int ch_ids_reserve(struct ch_store *s, size_t n, uint64_t *seq0, unsigned *slot);
void ch_ids_release(struct ch_store *s, int at);
uint64_t ch_block_id(uint64_t seq0, size_t k, unsigned slot);

/* One step of retention: drop the day partitions past their periods and,
 * past the disk budget, the oldest days of raw data. */
void ch_retention_step(struct ch_store *s);

/* The endpoint guard: load the endpoints the rollups hold; the endpoint a
 * request's rollup row takes ("other" past the limit of its service). */
int ch_guard_open(struct ch_store *s, unsigned max_endpoints, char *err, size_t errlen);
void ch_guard_close(struct ch_store *s);
const char *ch_guard_endpoint(struct ch_store *s, const char *service, const char *endpoint);
/* 1 the first time this instance meets a rollup key (its row goes to rollup_keys). */
int ch_guard_new_key(struct ch_store *s, uint64_t key);

/* Writes (clickhouse_write.c). */
int ch_open(struct store **out, const struct store_options *o, char *err, size_t errlen);
void ch_close(struct store *s);
int ch_submit(struct store *s, struct store_write *w, store_done_fn done, void *arg);
int ch_wait_space(struct store *s);
void ch_get_stats(struct store *s, struct store_stats *st);
int ch_unreachable(struct store *s, char *why, size_t len);
int ch_put_doc(struct store *s, const struct store_record *r, char *err, size_t errlen);
int ch_put_aggs(struct store *s, const struct store_agg *rows, size_t n, int replace_all, char *err,
		size_t errlen);
int ch_aggs(struct store *s, int kind, uint64_t from_ns, uint64_t to_ns, store_agg_fn fn, void *arg,
	    char *err, size_t errlen);
int ch_add_event(struct store *s, const struct store_record *r, char *err, size_t errlen);
int ch_delete_docs(struct store *s, const char *kind, const char *const *ids, size_t n, char *err,
		   size_t errlen);
int ch_slow_since(struct store *s, int64_t after, uint64_t from_ns, unsigned limit, struct arena *a,
		  struct request_row **rows, int64_t **ids, size_t *n, uint64_t *oldest_ns, char *err,
		  size_t errlen);

/* Reads (clickhouse_read.c). */
long ch_get_trace(struct store *s, const uint8_t trace_id[16], struct batch *out, char *err, size_t errlen);
int ch_latest_versions(struct store *s, const struct store_query *q, struct arena *a,
		       struct service_version **pairs, size_t *n, char *err, size_t errlen);
int ch_search(struct store *s, const struct store_query *q, struct arena *a, struct request_row **rows,
	      size_t *n, char *err, size_t errlen);
int ch_count(struct store *s, const struct store_query *q, uint64_t *n, char *err, size_t errlen);
long ch_newest_requests(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned n, uint64_t *start_ns,
			uint64_t *end_ns, char *err, size_t errlen);
int ch_filter_values(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned kinds, struct arena *a,
		     struct store_dim_values *out, char *err, size_t errlen);
int ch_rollups(struct store *s, const struct store_query *q, unsigned res_s, struct arena *a,
	       struct rollup_row **rows, size_t *n, char *err, size_t errlen);
int ch_scan(struct store *s, const struct store_scan *sc, store_trace_fn fn, void *arg, char *err,
	    size_t errlen);
int ch_scan_spans(struct store *s, uint64_t from_ns, uint64_t to_ns, store_span_fn fn, void *arg, char *err,
		  size_t errlen);
int ch_blocks_info(struct store *s, uint64_t first_id, uint64_t last_id, struct store_blocks *out, char *err,
		   size_t errlen);
int ch_last_block(struct store *s, uint64_t *id, char *err, size_t errlen);
int ch_scan_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix, store_point_fn fn,
		   void *arg, char *err, size_t errlen);
/* Metric series and their hours (clickhouse_metrics.c). */
int ch_scan_series_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			  store_series_point_fn fn, void *arg, char *err, size_t errlen);
int ch_scan_series_hours(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			 store_series_hour_fn fn, void *arg, char *err, size_t errlen);
int ch_metric_series(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix, unsigned limit,
		     struct arena *a, struct metric_series_row **rows, size_t *n, char *err, size_t errlen);
/* Profiles (clickhouse_profiles.c). */
int ch_put_profile(struct store *s, const struct profile_row *p, int64_t *id, char *err, size_t errlen);
int ch_profiles(struct store *s, const struct profile_query *q, struct arena *a, struct profile_row **rows,
		size_t *n, char *err, size_t errlen);
/* Compute the metric hours finished since the last step (the background
 * lease's holder, from the lease thread). */
void ch_hours_step(struct ch_store *s);
int ch_docs(struct store *s, const char *kind, const char *id, struct arena *a, struct store_record **rows,
	    size_t *n, char *err, size_t errlen);
int ch_events(struct store *s, const char *kind, const char *id, uint64_t from_ns, uint64_t to_ns,
	      unsigned limit, struct arena *a, struct store_record **rows, size_t *n, char *err,
	      size_t errlen);

#endif
