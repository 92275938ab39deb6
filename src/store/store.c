/*
 * store.c - the store.h calls, each passed to the backend of the store it
 * is given (store/backend.h): the embedded SQLite store by default, or
 * ClickHouse when the options name one.  A call the backend does not have
 * answers ERR_UNSUPPORTED.
 */
#include "store/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "core/alloc.h"
#include "core/deadline.h"
#include "core/json_doc.h"
#include "core/log.h"
#include "store/backend.h"

static const struct store_backend *be_of(const struct store *s)
{
	return *(const struct store_backend *const *)s;
}

static int unsupported(const struct store *s, const char *call, char *err, size_t errlen)
{
	errf(err, errlen, "the %s store cannot answer this yet (%s)", be_of(s)->name, call);
	return ERR_UNSUPPORTED;
}

/*
 * Call the backend's `fn`, or answer that it has none.  Work whose time
 * limit has passed (core/deadline.h: an API read, or a background job cut
 * short, core/ticker.h) is refused any further call with ERR_TIMEOUT:
 * reads, and writes of what it computed from reads that stopped (it may
 * be partial).  A read under way stops by itself (the backends look at the
 * deadline as they go).
 */
#define REFUSE_PAST_DEADLINE()                                                                               \
	do {                                                                                                 \
		if (deadline_passed())                                                                       \
			return deadline_error(err, errlen);                                                  \
	} while (0)

#define DISPATCH(fn, call, ...)                                                                              \
	do {                                                                                                 \
		const struct store_backend *b_ = be_of(s);                                                   \
		REFUSE_PAST_DEADLINE();                                                                      \
		if (!b_->fn)                                                                                 \
			return unsupported(s, call, err, errlen);                                            \
		return b_->fn(s, __VA_ARGS__);                                                               \
	} while (0)

int store_open(struct store **out, const struct store_options *o, char *err, size_t errlen)
{
	*out = NULL;
	if (o->url && strncmp(o->url, "clickhouse://", 13) == 0)
		return clickhouse_backend.open(out, o, err, errlen);
	if (o->url) {
		errf(err, errlen,
		     "unknown store '%s': want clickhouse://HOST:PORT/DB (or no --store for the"
		     " embedded store)",
		     o->url);
		return ERR_INVALID;
	}
	return sqlite_backend.open(out, o, err, errlen);
}

void store_close(struct store *s)
{
	if (s)
		be_of(s)->close(s);
}

int store_submit(struct store *s, struct store_write *w, store_done_fn done, void *arg)
{
	return be_of(s)->submit(s, w, done, arg);
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int finished, status;
};

static void wake_waiter(void *arg, int status)
{
	struct waiter *wt = arg;
	pthread_mutex_lock(&wt->lock);
	wt->finished = 1;
	wt->status = status;
	pthread_cond_signal(&wt->cond);
	pthread_mutex_unlock(&wt->lock);
}

int store_submit_wait(struct store *s, struct store_write *w)
{
	struct waiter wt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	while (store_submit(s, w, wake_waiter, &wt) == ERR_BUSY) {
		int rc = be_of(s)->wait_space(s);
		if (rc < 0) {
			store_write_free(w);
			return rc;
		}
	}
	pthread_mutex_lock(&wt.lock);
	while (!wt.finished)
		pthread_cond_wait(&wt.cond, &wt.lock);
	pthread_mutex_unlock(&wt.lock);
	return wt.status;
}

int store_write_sync(struct store *s, struct batch *b)
{
	return store_submit_wait(s, store_prepare(b));
}

void store_get_stats(struct store *s, struct store_stats *st)
{
	be_of(s)->get_stats(s, st);
}

int store_unreachable(struct store *s, char *why, size_t len)
{
	return be_of(s)->unreachable ? be_of(s)->unreachable(s, why, len) : 0;
}

unsigned store_block_id_step(struct store *s)
{
	return be_of(s)->block_id_step ? be_of(s)->block_id_step : 1;
}

int store_lease_held(struct store *s)
{
	return be_of(s)->lease_held ? be_of(s)->lease_held(s) : 1;
}

long store_get_trace(struct store *s, const uint8_t trace_id[16], struct batch *out, char *err, size_t errlen)
{
	DISPATCH(get_trace, "trace by id", trace_id, out, err, errlen);
}

long store_trace_stamp(struct store *s, const uint8_t trace_id[16], uint64_t *stamp, char *err, size_t errlen)
{
	*stamp = 0;
	DISPATCH(trace_stamp, "trace's blocks", trace_id, stamp, err, errlen);
}

int store_latest_versions(struct store *s, const struct store_query *q, struct arena *a,
			  struct service_version **pairs, size_t *n, char *err, size_t errlen)
{
	*pairs = NULL;
	*n = 0;
	DISPATCH(latest_versions, "latest versions", q, a, pairs, n, err, errlen);
}

int store_search(struct store *s, const struct store_query *q, struct arena *a, struct request_row **rows,
		 size_t *n, char *err, size_t errlen)
{
	*rows = NULL;
	*n = 0;
	DISPATCH(search, "request search", q, a, rows, n, err, errlen);
}

int store_count(struct store *s, const struct store_query *q, uint64_t *n, char *err, size_t errlen)
{
	*n = 0;
	DISPATCH(count, "request count", q, n, err, errlen);
}

int store_slow_since(struct store *s, int64_t after, uint64_t from_ns, unsigned limit, struct arena *a,
		     struct request_row **rows, int64_t **ids, size_t *n, uint64_t *oldest_ns, char *err,
		     size_t errlen)
{
	*rows = NULL;
	*ids = NULL;
	*n = 0;
	*oldest_ns = 0;
	DISPATCH(slow_since, "slow requests by write order", after, from_ns, limit, a, rows, ids, n,
		 oldest_ns, err, errlen);
}

long store_newest_requests(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned n, uint64_t *start_ns,
			   uint64_t *end_ns, char *err, size_t errlen)
{
	DISPATCH(newest_requests, "newest requests", from_ns, to_ns, n, start_ns, end_ns, err, errlen);
}

int store_filter_values(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned kinds, struct arena *a,
			struct store_dim_values *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	DISPATCH(filter_values, "filter values", from_ns, to_ns, kinds, a, out, err, errlen);
}

int store_values(struct store *s, enum dict_kind kind, uint64_t from_ns, uint64_t to_ns, struct arena *a,
		 const char ***values, size_t *n, char *err, size_t errlen)
{
	struct store_dim_values v;
	*values = NULL;
	*n = 0;
	if (kind <= 0 || kind >= DICT_KINDS)
		return errf(err, errlen, "unknown dimension");
	int rc = store_filter_values(s, from_ns, to_ns, 1u << kind, a, &v, err, errlen);
	if (rc < 0)
		return rc;
	*values = v.values[kind];
	*n = v.n[kind];
	return 0;
}

int store_rollups(struct store *s, const struct store_query *q, unsigned res_s, struct arena *a,
		  struct rollup_row **rows, size_t *n, char *err, size_t errlen)
{
	*rows = NULL;
	*n = 0;
	DISPATCH(rollups, "rollups", q, res_s, a, rows, n, err, errlen);
}

int store_scan_spans(struct store *s, uint64_t from_ns, uint64_t to_ns, store_span_fn fn, void *arg,
		     char *err, size_t errlen)
{
	DISPATCH(scan_spans, "span scan", from_ns, to_ns, fn, arg, err, errlen);
}

int store_scan_traces(struct store *s, uint64_t from_ns, uint64_t to_ns, store_trace_fn fn, void *arg,
		      char *err, size_t errlen)
{
	struct store_scan sc = {.from_ns = from_ns, .to_ns = to_ns};
	return store_scan(s, &sc, fn, arg, err, errlen);
}

int store_scan(struct store *s, const struct store_scan *sc, store_trace_fn fn, void *arg, char *err,
	       size_t errlen)
{
	DISPATCH(scan, "trace scan", sc, fn, arg, err, errlen);
}

int store_blocks_info(struct store *s, uint64_t first_id, uint64_t last_id, struct store_blocks *out,
		      char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	DISPATCH(blocks_info, "block information", first_id, last_id, out, err, errlen);
}

int store_last_block(struct store *s, uint64_t *id, char *err, size_t errlen)
{
	*id = 0;
	DISPATCH(last_block, "last block", id, err, errlen);
}

int store_scan_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
		      store_point_fn fn, void *arg, char *err, size_t errlen)
{
	DISPATCH(scan_points, "metric points", from_ns, to_ns, prefix, fn, arg, err, errlen);
}

int store_scan_series_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			     store_series_point_fn fn, void *arg, char *err, size_t errlen)
{
	DISPATCH(scan_series_points, "metric points by series", from_ns, to_ns, prefix, fn, arg, err, errlen);
}

int store_scan_series_hours(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			    store_series_hour_fn fn, void *arg, char *err, size_t errlen)
{
	DISPATCH(scan_series_hours, "hourly metric aggregates", from_ns, to_ns, prefix, fn, arg, err, errlen);
}

int store_metric_series(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix, unsigned limit,
			struct arena *a, struct metric_series_row **rows, size_t *n, char *err, size_t errlen)
{
	DISPATCH(metric_series, "metric series", from_ns, to_ns, prefix, limit, a, rows, n, err, errlen);
}

/* ---- the writes of the background lease's holder ---- */

/* The calling thread's job between store_lease_begin() and _end(). */
static _Thread_local struct {
	struct store *s; /* NULL: none */
	unsigned depth;
	int lost;	  /* a write was refused: so is the rest of the job's */
	unsigned skipped; /* writes refused */
} lease_job;

int store_lease_begin(struct store *s)
{
	if (!store_lease_held(s))
		return 0;
	if (!lease_job.depth++) {
		lease_job.s = s;
		lease_job.lost = 0;
		lease_job.skipped = 0;
	}
	return 1;
}

void store_lease_end(struct store *s)
{
	if (!lease_job.depth || --lease_job.depth)
		return;
	if (lease_job.skipped)
		log_warn("background lease lost during a job: %u of its writes skipped", lease_job.skipped);
	lease_job.s = NULL;
}

/* Before a write: 0 when it is no job's (or the backend has no lease), 1
 * when it is the lease holder's and may go on (lease_write_end() after),
 * or an error class when the lease is no longer held long enough. */
static int lease_write_begin(struct store *s, const char *what, const char *kind, char *err, size_t errlen)
{
	const struct store_backend *b = be_of(s);
	if (lease_job.s != s || !b->lease_write_begin)
		return 0;
	if (!lease_job.lost && b->lease_write_begin(s, err, errlen) == 0)
		return 1;
	if (!lease_job.lost)
		log_warn("%s %s not written: %s", what, kind ? kind : "", err);
	else
		errf(err, errlen, "the background lease was lost during this job");
	lease_job.lost = 1;
	lease_job.skipped++;
	return ERR_BUSY;
}

#define LEASE_DISPATCH(fn, call, kind, ...)                                                                  \
	do {                                                                                                 \
		const struct store_backend *b_ = be_of(s);                                                   \
		REFUSE_PAST_DEADLINE();                                                                      \
		if (!b_->fn)                                                                                 \
			return unsupported(s, call, err, errlen);                                            \
		int g_ = lease_write_begin(s, call, kind, err, errlen);                                      \
		if (g_ < 0)                                                                                  \
			return g_;                                                                           \
		int rc_ = b_->fn(s, __VA_ARGS__);                                                            \
		if (g_)                                                                                      \
			b_->lease_write_end(s);                                                              \
		return rc_;                                                                                  \
	} while (0)

int store_put_aggs(struct store *s, const struct store_agg *rows, size_t n, int replace_all, char *err,
		   size_t errlen)
{
	LEASE_DISPATCH(put_aggs, "stored aggregates", "", rows, n, replace_all, err, errlen);
}

int store_aggs(struct store *s, int kind, uint64_t from_ns, uint64_t to_ns, store_agg_fn fn, void *arg,
	       char *err, size_t errlen)
{
	DISPATCH(aggs, "stored aggregates", kind, from_ns, to_ns, fn, arg, err, errlen);
}

int store_put_doc(struct store *s, const struct store_record *r, char *err, size_t errlen)
{
	LEASE_DISPATCH(put_doc, "document", r->kind, r, err, errlen);
}

int store_delete_docs(struct store *s, const char *kind, const char *const *ids, size_t n, char *err,
		      size_t errlen)
{
	if (!kind)
		return errf(err, errlen, "deleting documents needs their kind");
	if (n > STORE_DELETE_MAX) {
		errf(err, errlen, "at most %d documents are deleted at once, not %zu", STORE_DELETE_MAX, n);
		return ERR_TOO_MUCH;
	}
	for (size_t i = 0; i < n; i++)
		if (!ids[i])
			return errf(err, errlen, "deleting documents needs their ids");
	if (!n)
		return 0;
	DISPATCH(delete_docs, "deleting documents", kind, ids, n, err, errlen);
}

int store_add_event(struct store *s, const struct store_record *r, char *err, size_t errlen)
{
	LEASE_DISPATCH(add_event, "event", r->kind, r, err, errlen);
}

int store_docs(struct store *s, const char *kind, const char *id, struct arena *a, struct store_record **rows,
	       size_t *n, char *err, size_t errlen)
{
	*rows = NULL;
	*n = 0;
	DISPATCH(docs, "documents", kind, id, a, rows, n, err, errlen);
}

int store_events(struct store *s, const char *kind, const char *id, uint64_t from_ns, uint64_t to_ns,
		 unsigned limit, struct arena *a, struct store_record **rows, size_t *n, char *err,
		 size_t errlen)
{
	*rows = NULL;
	*n = 0;
	DISPATCH(events, "events", kind, id, from_ns, to_ns, limit, a, rows, n, err, errlen);
}

int store_profile_pack(const struct profile_row *p, void **z, size_t *zlen, char *err, size_t errlen)
{
	if (!p->service || !p->type || !p->unit)
		return errf(err, errlen, "a profile needs a service, a type and a unit");
	if (p->folded_len > PROFILE_MAX_RAW)
		return errf(err, errlen, "profile of %zu bytes of stacks is over the limit of %u",
			    p->folded_len, PROFILE_MAX_RAW);
	size_t cap = ZSTD_compressBound(p->folded_len);
	*z = xmalloc(cap ? cap : 1);
	*zlen = ZSTD_compress(*z, cap, p->folded, p->folded_len, 3);
	if (ZSTD_isError(*zlen)) {
		free(*z);
		*z = NULL;
		return errf(err, errlen, "cannot compress the profile: %s", ZSTD_getErrorName(*zlen));
	}
	return 0;
}

int store_put_profile(struct store *s, const struct profile_row *p, int64_t *id, char *err, size_t errlen)
{
	DISPATCH(put_profile, "profiles", p, id, err, errlen);
}

int store_profiles(struct store *s, const struct profile_query *q, struct arena *a, struct profile_row **rows,
		   size_t *n, char *err, size_t errlen)
{
	*rows = NULL;
	*n = 0;
	DISPATCH(profiles, "profiles", q, a, rows, n, err, errlen);
}

uint32_t store_attrs_from_json(struct arena *a, const char *json, size_t len, struct attr **out)
{
	struct json_doc d;
	char err[128];
	uint32_t n = 0;
	*out = NULL;
	if (json_doc_parse(&d, json, len, 0, err, sizeof(err)) == 0 && d.root &&
	    d.root->type == JSON_OBJECT) {
		*out = arena_zalloc(a, d.root->len * sizeof(**out));
		for (const struct json *m = d.root->child; m; m = m->next) {
			struct attr *at = &(*out)[n];
			at->key = arena_strndup(a, m->key, m->key_len);
			if (m->type == JSON_STRING) {
				at->type = ATTR_STRING;
				at->v.s = arena_strndup(a, m->s, m->len);
			} else if (m->type == JSON_NUMBER) {
				at->type = ATTR_DOUBLE;
				at->v.d = strtod(m->s, NULL);
			} else if (m->type == JSON_TRUE || m->type == JSON_FALSE) {
				at->type = ATTR_BOOL;
				at->v.i = m->type == JSON_TRUE;
			} else {
				continue;
			}
			n++;
		}
	}
	json_doc_release(&d);
	return n;
}
