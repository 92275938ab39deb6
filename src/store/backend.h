/*
 * backend.h - the store's backends behind store.h: one table of functions
 * per backend (the embedded SQLite store, ClickHouse).  store.c turns each
 * store.h call into a call through the table of the store it is given.
 *
 * Every backend's `struct store` starts with `const struct store_backend
 * *be`: that first member is all store.c reads of it.  A function a backend
 * does not have (NULL in its table) answers ERR_UNSUPPORTED with a message
 * naming the backend and the call.  Internal to src/store.
 */
#ifndef HOTPATH_STORE_BACKEND_H
#define HOTPATH_STORE_BACKEND_H

#include "store/store.h"

struct store_backend {
	const char *name; /* "sqlite", "clickhouse" */
	int (*open)(struct store **out, const struct store_options *o, char *err, size_t errlen);
	void (*close)(struct store *s);
	int (*submit)(struct store *s, struct store_write *w, store_done_fn done, void *arg);
	/* After submit() answered ERR_BUSY: wait until the queue may have room
	 * (0), or answer why the write cannot be queued at all (an error class:
	 * the store is closing, or read-only). */
	int (*wait_space)(struct store *s);
	void (*get_stats)(struct store *s, struct store_stats *st);
	int (*unreachable)(struct store *s, char *why, size_t len); /* NULL: never */
	int (*lease_held)(struct store *s);			    /* NULL: always */
	/* Before a write of a job of the lease holder (store_lease_begin()) on
	 * this thread: 0 when the lease is still held for longer than the write
	 * may take (the write's time limit then ends before the lease's
	 * margin; lease_write_end() after it), else an error class with a
	 * message.  NULL: always 0. */
	int (*lease_write_begin)(struct store *s, char *err, size_t errlen);
	void (*lease_write_end)(struct store *s);
	unsigned block_id_step; /* 0: 1 */

	long (*get_trace)(struct store *s, const uint8_t trace_id[16], struct batch *out, char *err,
			  size_t errlen);
	long (*trace_stamp)(struct store *s, const uint8_t trace_id[16], uint64_t *stamp, char *err,
			    size_t errlen);
	int (*latest_versions)(struct store *s, const struct store_query *q, struct arena *a,
			       struct service_version **pairs, size_t *n, char *err, size_t errlen);
	int (*search)(struct store *s, const struct store_query *q, struct arena *a,
		      struct request_row **rows, size_t *n, char *err, size_t errlen);
	int (*count)(struct store *s, const struct store_query *q, uint64_t *n, char *err, size_t errlen);
	int (*slow_since)(struct store *s, int64_t after, uint64_t from_ns, unsigned limit, struct arena *a,
			  struct request_row **rows, int64_t **ids, size_t *n, uint64_t *oldest_ns, char *err,
			  size_t errlen);
	long (*newest_requests)(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned n,
				uint64_t *start_ns, uint64_t *end_ns, char *err, size_t errlen);
	int (*filter_values)(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned kinds,
			     struct arena *a, struct store_dim_values *out, char *err, size_t errlen);
	int (*rollups)(struct store *s, const struct store_query *q, unsigned res_s, struct arena *a,
		       struct rollup_row **rows, size_t *n, char *err, size_t errlen);
	int (*scan)(struct store *s, const struct store_scan *sc, store_trace_fn fn, void *arg, char *err,
		    size_t errlen);
	int (*scan_spans)(struct store *s, uint64_t from_ns, uint64_t to_ns, store_span_fn fn, void *arg,
			  char *err, size_t errlen);
	int (*blocks_info)(struct store *s, uint64_t first_id, uint64_t last_id, struct store_blocks *out,
			   char *err, size_t errlen);
	int (*last_block)(struct store *s, uint64_t *id, char *err, size_t errlen);
	int (*scan_points)(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			   store_point_fn fn, void *arg, char *err, size_t errlen);
	int (*scan_series_points)(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
				  store_series_point_fn fn, void *arg, char *err, size_t errlen);
	int (*scan_series_hours)(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
				 store_series_hour_fn fn, void *arg, char *err, size_t errlen);
	int (*metric_series)(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			     unsigned limit, struct arena *a, struct metric_series_row **rows, size_t *n,
			     char *err, size_t errlen);

	int (*put_doc)(struct store *s, const struct store_record *r, char *err, size_t errlen);
	int (*put_aggs)(struct store *s, const struct store_agg *rows, size_t n, int replace_all, char *err,
			size_t errlen);
	int (*aggs)(struct store *s, int kind, uint64_t from_ns, uint64_t to_ns, store_agg_fn fn, void *arg,
		    char *err, size_t errlen);
	int (*add_event)(struct store *s, const struct store_record *r, char *err, size_t errlen);
	int (*delete_docs)(struct store *s, const char *kind, const char *const *ids, size_t n, char *err,
			   size_t errlen);
	int (*docs)(struct store *s, const char *kind, const char *id, struct arena *a,
		    struct store_record **rows, size_t *n, char *err, size_t errlen);
	int (*events)(struct store *s, const char *kind, const char *id, uint64_t from_ns, uint64_t to_ns,
		      unsigned limit, struct arena *a, struct store_record **rows, size_t *n, char *err,
		      size_t errlen);
	int (*put_profile)(struct store *s, const struct profile_row *p, int64_t *id, char *err,
			   size_t errlen);
	int (*profiles)(struct store *s, const struct profile_query *q, struct arena *a,
			struct profile_row **rows, size_t *n, char *err, size_t errlen);
};

/* Submit `w` and wait for its commit, waiting for room in the queue
 * (store.c).  The commit's status, or an error class (`w` freed). */
int store_submit_wait(struct store *s, struct store_write *w);

/* Attributes (strings, numbers, booleans) back from the JSON object a
 * backend keeps a metric series' attributes in; strings in `a`.  Their
 * count (0 for anything but an object). */
uint32_t store_attrs_from_json(struct arena *a, const char *json, size_t len, struct attr **out);

extern const struct store_backend sqlite_backend;     /* sqlite_write.c */
extern const struct store_backend clickhouse_backend; /* clickhouse_store.c */

/* A profile's folded stacks may take this many bytes before compression. */
#define PROFILE_MAX_RAW (256u << 20)

/*
 * The checks every backend makes of a profile to store (service, type and
 * unit named; stacks within PROFILE_MAX_RAW), then its folded stacks
 * zstd-compressed into *z (the caller frees it), *zlen bytes.  0, or an
 * error class with a message.
 */
int store_profile_pack(const struct profile_row *p, void **z, size_t *zlen, char *err, size_t errlen);

#endif
