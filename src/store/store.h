/*
 * store.h - where spans and metric points are kept, and read back.
 *
 * Writes: a caller decodes a payload into a batch, turns it into a prepared
 * write with store_prepare() (encoding and compression happen here, in the
 * caller's thread, in parallel), and hands it to store_submit().  One writer
 * thread owns the database and commits every queued write in one
 * transaction (group commit); each write is atomic.  `done` is called after
 * the commit is durable on disk (WAL, synchronous=FULL), from the writer
 * thread, so a caller may acknowledge its client there and never sooner.
 *
 * Reads run on a small pool of read-only connections, concurrently with the
 * writer.  (That is the embedded SQLite store; `store_options.url` chooses
 * the ClickHouse one instead, whose writer threads call `done` once
 * ClickHouse has accepted the rows: docs/internals/CLICKHOUSE.md.)
 * Ownership: the store consumes prepared writes; results of reads live in
 * the arena or batch the caller passes in.
 */
#ifndef HOTPATH_STORE_STORE_H
#define HOTPATH_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/sketch.h"
#include "core/arena.h"
#include "ingest/annotate.h"
#include "ingest/batch.h"
#include "ingest/semconv.h"

struct store;
struct store_write;

/*
 * Retention: how long each kind of data is kept (0: for ever), and an
 * overall budget of bytes in use in the database (0: none) past which the
 * oldest raw data (spans, request rows, metric points, profiles) goes
 * first.  The writer deletes in the background, in bounded steps between
 * writes.  docs/CONFIG.md lists the defaults of `hotpath serve`.
 */
enum store_kept {
	KEPT_SPANS,
	KEPT_REQUESTS,
	KEPT_MINUTE_ROLLUPS,
	KEPT_HOUR_ROLLUPS,
	KEPT_POINTS,
	KEPT_PROFILES,
	KEPT_METRIC_HOURS, /* the hourly aggregates of metric points */
	KEPT_COUNT
};
extern const char *const store_kept_names[KEPT_COUNT]; /* "spans", "requests", ... */
struct store_retention {
	uint64_t keep_ns[KEPT_COUNT]; /* by enum store_kept; 0: for ever */
	uint64_t disk_budget;	      /* bytes; 0: no budget */
	unsigned interval_ms;	      /* between checks when idle; 0: default (10 s) */
	unsigned step_rows;	      /* rows deleted per statement; 0: default (500) */
	unsigned step_chunks;	      /* statements (or blocks) per kind and step at most; 0: as
					 many as the step's 20 ms allow */
};

struct store_options {
	const char *dir;	/* data directory; the database is DIR/hotpath.db */
	size_t queue_max_bytes; /* 0: default (64 MiB) */
	unsigned max_endpoints; /* per service in rollups; 0: default (500) */
	struct store_retention retention;

	/* NULL: the embedded store in `dir`; "clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/DB":
	 * a ClickHouse server (docs/internals/CLICKHOUSE.md).  Calls a backend
	 * does not have answer ERR_UNSUPPORTED. */
	const char *url;
	/* ClickHouse: how long a lease among instances lasts (docs/SCALING.md); 0: 30 s */
	uint64_t lease_ns;
};

int store_open(struct store **out, const struct store_options *o, char *err, size_t errlen);
/* Commit everything queued, stop the writer, checkpoint and close. */
void store_close(struct store *s);

/* Takes the batch's contents (the batch is left empty). */
struct store_write *store_prepare(struct batch *b);
void store_write_free(struct store_write *w);
/* Spans and points in a prepared write (for counters). */
size_t store_write_spans(const struct store_write *w);
size_t store_write_points(const struct store_write *w);

/* 0 = committed; ERR_BUSY: not written, retry later (the queue or the
 * disk is full: store_get_stats() says which). */
typedef void (*store_done_fn)(void *arg, int status);
/* Queue a write.  0: queued, `done` will be called.  ERR_BUSY: not
 * queued (the queue is full, or the store is read-only), the caller still
 * owns `w`. */
int store_submit(struct store *s, struct store_write *w, store_done_fn done, void *arg);
/* Prepare, submit and wait for the commit.  Waits while the queue is full. */
int store_write_sync(struct store *s, struct batch *b);

/* ---- reads ---- */

/* Append every stored span of the trace to `out`, ordered by start time.
 * Returns the number of spans (0: unknown trace) or -1. */
long store_get_trace(struct store *s, const uint8_t trace_id[16], struct batch *out, char *err,
		     size_t errlen);
/*
 * What store_get_trace() would read for the trace, without reading it: a
 * stamp of the blocks that hold its spans (*stamp), equal as long as no
 * part of the trace is written nor deleted (ids of blocks sharing the
 * first 8 bytes of the trace id count too: a change to them changes it).
 * Returns the number of those blocks (0: unknown trace), -1 with a
 * message, or ERR_UNSUPPORTED from a backend that cannot tell.
 */
long store_trace_stamp(struct store *s, const uint8_t trace_id[16], uint64_t *stamp, char *err,
		       size_t errlen);

/*
 * Performance tiers of a request's duration: fast < 100 ms <= normal
 * < 500 ms <= slow < 2 s <= critical.  Rollups count each tier exactly.
 */
enum request_tier { TIER_FAST, TIER_NORMAL, TIER_SLOW, TIER_CRITICAL, TIER_COUNT };
/* Lower bound of each tier in ns (tier i holds [lo[i], lo[i + 1])). */
extern const uint64_t request_tier_lo_ns[TIER_COUNT];
extern const char *const request_tier_names[TIER_COUNT];
enum request_tier request_tier_of(uint64_t duration_ns);

/*
 * An entry span: a root span, or a SERVER or CONSUMER span.  `edge` is 1
 * for the entry span that starts its trace, the one the fleet counts: a
 * span without a parent span id.  A span with a parent is never the edge,
 * even when the parent never arrives (spans of one trace come in separate
 * writes, so ingest cannot know that a parent is missing for good).
 */

/* STORE_BY_TRACE: by trace id, so the first `limit` rows are whole traces
 * chosen at random (ids are random) from the whole range: a sample that
 * covers the range instead of its newest part. */
enum store_order { STORE_NEWEST, STORE_SLOWEST, STORE_BY_TRACE };

/* One service's version; version NULL: its requests that carry none. */
struct service_version {
	const char *service, *version;
};

/* The filters every query takes; NULL strings and zero bounds mean "any". */
struct store_query {
	uint64_t from_ns, to_ns;
	const char *service, *endpoint, *env, *version, *department, *intent, *tool;
	/* version=latest, resolved by store_latest_versions(): when `latest`
	 * is set, only requests whose (service, version) is one of these
	 * pairs, one per service (none: no request matches).  `version` is
	 * NULL then. */
	int latest;
	const struct service_version *latest_versions;
	size_t n_latest;
	int status;				   /* -1 any, else enum request_status */
	uint64_t min_duration_ns, max_duration_ns; /* max 0: no upper bound */
	int max_exclusive;			   /* max_duration_ns is exclusive */
	enum store_order order;
	unsigned limit;
	int ids_only;  /* search: leave the rows' strings NULL (faster) */
	int edge_only; /* only edge requests (request_row.edge): each trace once */
};

void store_query_init(struct store_query *q);
/* Whether a request of `service` at `version` (NULL: none) passes the
 * version filter of `q` (`version`, or the pairs of `latest`). */
int store_query_version_ok(const struct store_query *q, const char *service, const char *version);
/*
 * version=latest: per service, its newest version, the one whose first
 * request was stored last (first seen last), among the versions of its
 * requests in [q->from_ns, q->to_ns) in q's environment (q->env).  Only
 * services that q's service, endpoint, department, intent and tool filters
 * select are listed (status, duration and version filters are ignored:
 * the newest version does not change with them).  Pairs sorted by service;
 * strings live in `a`.
 */
int store_latest_versions(struct store *s, const struct store_query *q, struct arena *a,
			  struct service_version **pairs, size_t *n, char *err, size_t errlen);
/* Requests matching `q`; rows and their strings live in `a`. */
int store_search(struct store *s, const struct store_query *q, struct arena *a, struct request_row **rows,
		 size_t *n, char *err, size_t errlen);
/* How many requests match `q` (its order and limit do not apply). */
int store_count(struct store *s, const struct store_query *q, uint64_t *n, char *err, size_t errlen);

/*
 * The requests of at least STORE_SLOW_NS written after the one numbered
 * `after` (0: from the first), starting at or after from_ns, in write
 * order, at most `limit` (0: all): the rows (strings in `a`) and each one's
 * number (ids[i], in `a`), which grows with each write and breaks ties of
 * the slowest-first order as store_search() does; and *oldest_ns, the
 * start of the oldest request stored (of any duration; 0: none), below
 * which retention has deleted them.  What a list of the slow requests kept
 * as they are written reads (query/slowreqs.h).  ERR_UNSUPPORTED from a
 * backend without such numbers.
 */
#define STORE_SLOW_NS 1000000000ull
int store_slow_since(struct store *s, int64_t after, uint64_t from_ns, unsigned limit, struct arena *a,
		     struct request_row **rows, int64_t **ids, size_t *n, uint64_t *oldest_ns, char *err,
		     size_t errlen);

/*
 * The newest `n` requests starting in [from_ns, to_ns), without reading
 * them: *start_ns is the start of the n-th newest (or from_ns when there are
 * fewer; requests that start at the same nanosecond as the n-th are among
 * them too), and *end_ns bounds the end of every span stored in a block
 * that overlaps [*start_ns, to_ns), so a scan of [*start_ns, *end_ns) meets
 * all their spans.  Returns min(n, the requests in the range).
 */
long store_newest_requests(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned n, uint64_t *start_ns,
			   uint64_t *end_ns, char *err, size_t errlen);

enum dict_kind {
	DICT_SERVICE = 1,
	DICT_ENDPOINT,
	DICT_ENV,
	DICT_VERSION,
	DICT_DEPARTMENT,
	DICT_INTENT,
	DICT_TOOL,
	DICT_ERROR_TYPE,
	DICT_KINDS
};
/*
 * The distinct values of the filter dimensions in `kinds` (a bit 1 << kind
 * for each) among the requests in [from_ns, to_ns): values[kind], n[kind]
 * sorted bytewise, at most 1000 each; the other kinds are left empty.
 * Read from the rollups and the request rows at the range's ends, so it
 * costs about the same for an hour as for a day; it sees every request
 * stored before the call.  Strings live in `a`.
 */
struct store_dim_values {
	const char **values[DICT_KINDS];
	size_t n[DICT_KINDS];
};
int store_filter_values(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned kinds, struct arena *a,
			struct store_dim_values *out, char *err, size_t errlen);
/* Distinct values of one filter dimension seen in [from_ns, to_ns). */
int store_values(struct store *s, enum dict_kind kind, uint64_t from_ns, uint64_t to_ns, struct arena *a,
		 const char ***values, size_t *n, char *err, size_t errlen);

/*
 * Latency rollups: one row per time bucket and key matching `q` (its
 * dimension and status filters; tier and duration bounds are the caller's
 * to apply to the sketches).  `res_s` is 60 (minutes) or 3600 (hours);
 * buckets cover [from_ns, to_ns) rounded out to whole buckets.  Rows and
 * strings live in `a`; release the sketches with store_rollups_release().
 */
struct rollup_row {
	uint64_t t_ns; /* bucket start */
	const char *service, *endpoint, *tool, *env, *version, *department, *intent, *error_type;
	uint8_t status; /* enum request_status */
	uint64_t count, sum_ns;
	uint64_t tiers[TIER_COUNT]; /* exact counts per enum request_tier */
	/* Durations in ns.  Rows come with the sketch still encoded (`blob`,
	 * in the arena; merging from it is cheaper than building it): use
	 * rollup_row_decode() before reading `sketch`. */
	const void *blob; /* NULL once decoded */
	size_t blob_len;
	struct sketch sketch;
};
int rollup_row_decode(struct rollup_row *r, char *err, size_t errlen);
/* Merge the row's durations into `dst`, from the encoded form if not decoded. */
int rollup_row_merge(struct sketch *dst, const struct rollup_row *r, char *err, size_t errlen);
int store_rollups(struct store *s, const struct store_query *q, unsigned res_s, struct arena *a,
		  struct rollup_row **rows, size_t *n, char *err, size_t errlen);
void store_rollups_release(struct rollup_row *rows, size_t n);

/*
 * Call `fn` for every stored span of a block overlapping [from_ns, to_ns)
 * (spans themselves may lie outside: check their times), block by block in
 * write order.  `fn` returns 0 to go on, non-zero to stop.  The span and
 * everything it points to are valid only during the call.  For queries that
 * rollups cannot answer (q= expressions, phase breakdowns).
 */
typedef int (*store_span_fn)(void *arg, const struct span *sp);
int store_scan_spans(struct store *s, uint64_t from_ns, uint64_t to_ns, store_span_fn fn, void *arg,
		     char *err, size_t errlen);

/*
 * The same, a trace at a time: `fn` gets the spans of one trace in a block,
 * by start time.  A trace whose spans arrived in several writes comes in
 * several parts (one per block), so analyses must tolerate missing parents.
 */
typedef int (*store_trace_fn)(void *arg, const struct span *spans, size_t n);
int store_scan_traces(struct store *s, uint64_t from_ns, uint64_t to_ns, store_trace_fn fn, void *arg,
		      char *err, size_t errlen);

/* A trace scan with choices. */
struct store_scan {
	uint64_t from_ns, to_ns; /* blocks overlapping [from_ns, to_ns); to_ns 0: no bound */
	/* Only the blocks whose id % every == offset (every 0: all): a sample of
	 * whole writes that costs 1 / every of the full scan, or (offsets
	 * 0 .. every - 1) disjoint parts of it for threads side by side. */
	unsigned every, offset;
	/* Only the attributes whose key this accepts (NULL: all): less to
	 * decode for an analysis that reads a few known keys. */
	int (*keep_key)(const char *key);
	/* Spans without attributes, events and links, for a tree of names and
	 * times. */
	int skeleton;
	/* Only the blocks with ids in [first_id, last_id] (last_id 0: no
	 * bound).  Block ids grow with each write and a block never changes,
	 * so a range of ids, once written, always holds the same spans. */
	uint64_t first_id, last_id;
	/* Only the traces this accepts (NULL: all), asked once per trace of a
	 * block: the spans of the others are not decoded past their ids. */
	int (*keep_trace)(void *arg, const uint8_t trace_id[16]);
	void *keep_trace_arg;
	/* Called (when not NULL) with `fn`'s arg before the traces of each
	 * block, with the earliest start of a span in it: where a reader
	 * joining a trace's parts learns that the scan has moved on.  Non-zero
	 * stops the scan. */
	int (*block)(void *arg, uint64_t t_min);
};
int store_scan(struct store *s, const struct store_scan *sc, store_trace_fn fn, void *arg, char *err,
	       size_t errlen);

/* The blocks with ids in [first_id, last_id]: how many, the largest id, and
 * the bounds of their times (all 0 when there are none). */
struct store_blocks {
	uint64_t count, max_id;
	uint64_t min_t_min, max_t_min, min_t_max, max_t_max;
};
int store_blocks_info(struct store *s, uint64_t first_id, uint64_t last_id, struct store_blocks *out,
		      char *err, size_t errlen);
/* The id of the newest block (0: none yet), from the index alone. */
int store_last_block(struct store *s, uint64_t *id, char *err, size_t errlen);
/* How far apart the ids of one writer's consecutive blocks are: 1 in the
 * embedded store; CH_SLOTS with ClickHouse, whose ids carry the writing
 * instance in their low bits.  Segments of ids are sized by it. */
unsigned store_block_id_step(struct store *s);

/*
 * Call `fn` for every stored metric point with time in [from_ns, to_ns)
 * (to 0: no bound) whose name starts with `prefix` (NULL: all), by series,
 * then time.  The point's resource holds the service name and the attributes
 * that identify a producer (environment, version, instance id, host name)
 * and its runtime (process.runtime.name, telemetry.sdk.language);
 * its attributes are those of its series.  Valid only during the call.
 */
typedef int (*store_point_fn)(void *arg, const struct metric_point *p);
int store_scan_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
		      store_point_fn fn, void *arg, char *err, size_t errlen);
/* The same, with each point's series id (metric_series_row.id): a reader
 * that keeps state per series learns where one ends.  Histogram points
 * come with their bounds and bucket counts. */
typedef int (*store_series_point_fn)(void *arg, int64_t series, const struct metric_point *p);
int store_scan_series_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			     store_series_point_fn fn, void *arg, char *err, size_t errlen);

/*
 * The same over a long range, reading hourly aggregates where it can: the
 * gauge and sum points of the whole hours inside [from_ns, to_ns) come as
 * one call per series and hour, with `h` set (the point's time is the
 * hour's start, its value the hour's last); the points of the partial hours
 * at the ends, and every histogram point, come one by one with `h` NULL.
 * By series, then time.  Aggregates are kept as points are written (points
 * of one series taken to arrive in time order); a point sent again counts
 * twice in its hour.
 */
#define STORE_METRIC_HOUR_NS (3600ull * 1000000000ull)
struct store_metric_hour {
	uint64_t n;
	double sum, min, max, first, last;
	double inc; /* increases between its points, a drop counted as a restart from 0 */
};
typedef int (*store_series_hour_fn)(void *arg, int64_t series, const struct metric_point *p,
				    const struct store_metric_hour *h);
int store_scan_series_hours(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			    store_series_hour_fn fn, void *arg, char *err, size_t errlen);

/*
 * The metric series with a point in [from_ns, to_ns) (to 0: no bound) whose
 * name starts with `prefix` (NULL: all), by name then id: the service, the
 * resource identity and the series attributes as JSON objects (see
 * store_scan_points), and how many points fall in the range.  Rows and
 * strings live in `a`; at most `limit` rows (0: 100,000).
 */
struct metric_series_row {
	int64_t id;
	const char *service, *name, *unit;
	uint8_t type;  /* enum metric_type */
	uint8_t delta; /* DELTA temporality (metric_point.delta) */
	const char *resource, *attrs;
};
int store_metric_series(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix, unsigned limit,
			struct arena *a, struct metric_series_row **rows, size_t *n, char *err,
			size_t errlen);

/* ---- beside the telemetry: documents, events, profiles ---- */

/*
 * What analysis keeps.  A document is a small JSON value under (kind, id),
 * replaced by the next put (a recommendation and its state).  An event is
 * appended under (kind, id) and never changed (an audit trail entry, an
 * alert).  Both are written by the writer thread like spans, and are
 * durable when the call returns 0.  These writes (documents, events,
 * aggregates, profiles) answer ERR_TIMEOUT and write nothing when the
 * calling thread's time limit has passed (core/deadline.h): a background
 * job cut short stores nothing partial.
 */
struct store_record {
	const char *kind, *id;
	uint64_t time_ns;
	const char *json;
};
int store_put_doc(struct store *s, const struct store_record *r, char *err, size_t errlen);
/*
 * Aggregates a reader keeps of the stored data (query/opstats.h), as
 * opaque rows by (kind, bucket start, key), each replaced whole when put
 * again.  Retention deletes the rows whose bucket started before the
 * minute rollups' cutoff.
 */
struct store_agg {
	uint32_t kind;	 /* the caller's family of rows */
	uint64_t t_ns;	 /* the bucket's start; UINT64_MAX: never deleted */
	const char *key; /* "" for none */
	const void *data;
	size_t len;
};
/* Put `rows` (all of them, or none) in one transaction, after deleting
 * every stored row when `replace_all`; durable when the call returns. */
int store_put_aggs(struct store *s, const struct store_agg *rows, size_t n, int replace_all, char *err,
		   size_t errlen);
/* Each stored row of `kind` (-1: any) whose bucket starts in [from_ns,
 * to_ns) (to_ns 0: no end, UINT64_MAX rows included) to `fn` (valid during
 * the call), by kind, start and key.  Non-zero from `fn` stops. */
typedef int (*store_agg_fn)(void *arg, const struct store_agg *row);
int store_aggs(struct store *s, int kind, uint64_t from_ns, uint64_t to_ns, store_agg_fn fn, void *arg,
	       char *err, size_t errlen);
int store_add_event(struct store *s, const struct store_record *r, char *err, size_t errlen);
/* Delete the documents (kind, ids[i]) that exist, at most
 * STORE_DELETE_MAX ids a call (ERR_TOO_MUCH past it); durable when the
 * call returns 0, after which store_docs() no longer answers them (with
 * ClickHouse: a tombstone at once, the rows themselves by a mutation). */
#define STORE_DELETE_MAX 1000
int store_delete_docs(struct store *s, const char *kind, const char *const *ids, size_t n, char *err,
		      size_t errlen);
/* Documents of `kind` (only `id` unless NULL), by id. */
int store_docs(struct store *s, const char *kind, const char *id, struct arena *a, struct store_record **rows,
	       size_t *n, char *err, size_t errlen);
/* Events of `kind` (only `id` unless NULL) with time in [from_ns, to_ns)
 * (to 0: no bound), newest first, at most `limit` (0: all). */
int store_events(struct store *s, const char *kind, const char *id, uint64_t from_ns, uint64_t to_ns,
		 unsigned limit, struct arena *a, struct store_record **rows, size_t *n, char *err,
		 size_t errlen);

/*
 * Profiles (CPU, wall, allocations ...): folded stacks with the service,
 * version and environment they come from and the time they cover.  The
 * stacks are kept zstd-compressed.
 */
struct profile_row {
	int64_t id;
	const char *service, *version, *env; /* version, env: NULL if unknown */
	const char *type;		     /* "cpu", "wall", "alloc_space", ... */
	const char *unit;		     /* of the values: "samples", "nanoseconds", "bytes" */
	const char *labels;		     /* JSON object of the other labels, or NULL */
	uint64_t start_ns, end_ns;
	uint64_t total;	    /* sum of the values */
	const char *folded; /* "frame;frame;frame value\n" lines (reads: only with_data) */
	size_t folded_len;
};
struct profile_query {
	uint64_t from_ns, to_ns; /* profiles overlapping [from, to); to 0: no bound */
	const char *service, *version, *env, *type;
	int64_t id; /* > 0: only this profile */
	unsigned limit;
	int with_data; /* also read the stacks */
};
/* Keep a profile; its id in *id.  The folded text is limited to 256 MiB. */
int store_put_profile(struct store *s, const struct profile_row *p, int64_t *id, char *err, size_t errlen);
/* Profiles matching `q`, newest first; rows and their data live in `a`. */
int store_profiles(struct store *s, const struct profile_query *q, struct arena *a, struct profile_row **rows,
		   size_t *n, char *err, size_t errlen);

struct store_stats {
	uint64_t commits, writes, spans, points, failed_writes;
	uint64_t queue_bytes, queue_writes;
	uint64_t rollup_folded; /* requests rolled up under endpoint "other" */
	/* The writer: 1 when it writes; 0 when read-only because the disk is
	 * full or failing (why in `writer_error`); it probes every few seconds
	 * and resumes by itself. */
	int writer_ready;
	char writer_error[160];
	uint64_t disk_errors;				  /* times a write met a full or failing disk */
	uint64_t used_bytes, file_bytes, disk_free_bytes; /* pages in use; the files; free space */
	uint64_t retention_deleted[KEPT_COUNT];		  /* rows (spans for KEPT_SPANS) deleted */
	uint64_t retention_steps;
	uint64_t retention_step_max_ns; /* the longest step so far (ingest waits for one at most) */
	int retention_pending;		/* more is due for deletion */
	/* Embedded store: its free pages (bytes), and pages given back to the
	 * file system by the incremental vacuum (-1 when the database was
	 * created without it: docs/internals/STORE.md) */
	uint64_t free_bytes;
	int64_t vacuumed_pages;
};
void store_get_stats(struct store *s, struct store_stats *st);

/*
 * The embedded store of `dir` rewritten whole (VACUUM) with incremental
 * vacuum on: its file shrinks to its data, and from then on gives the
 * pages retention frees back (docs/internals/STORE.md).  For a store made
 * before incremental vacuum; offline (no server on the directory); needs
 * free room about twice the store's size.  The files' sizes before and
 * after in *before, *after.  0, or -1 with a message.
 */
int store_compact(const char *dir, uint64_t *before, uint64_t *after, char *err, size_t errlen);

/* 1 when the store's server cannot be reached now (its last request failed
 * to connect or timed out, and none has succeeded since), with a message
 * naming the store in `why`; 0 for a store without a server (embedded). */
int store_unreachable(struct store *s, char *why, size_t len);

/* 1 when this instance runs the background jobs that write (analyses,
 * recommendation states, alert evaluation, retention, detected deployments):
 * always with the embedded store; with ClickHouse, while it holds the lease
 * that one instance among those on the same database holds (docs/SCALING.md).
 * A job checks it at the start of each cycle. */
int store_lease_held(struct store *s);
/*
 * A job of the lease holder on the calling thread: store_lease_begin()
 * answers store_lease_held() and, when 1, makes each store_put_doc(),
 * store_add_event() and store_put_aggs() of this thread until
 * store_lease_end() check first that the lease is still held for longer
 * than the write may take (with ClickHouse: from memory while the lease
 * is fresh, one renewal when not; docs/SCALING.md).  A write refused
 * fails with ERR_BUSY and is logged, and so are the job's writes after it
 * (counted in one line at store_lease_end()).  Calls nest; call
 * store_lease_end() only after a begin that answered 1.
 */
int store_lease_begin(struct store *s);
void store_lease_end(struct store *s);

#endif
