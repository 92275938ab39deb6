/*
 * clickhouse_write.c - the ClickHouse backend's write path: a bounded queue
 * of prepared writes, writer threads (CH_WRITERS) that each take what is
 * queued and insert it in one INSERT per table (RowBinary), and acknowledge
 * each write only after ClickHouse accepted all of its rows.  Opening and closing.
 *
 * ClickHouse down or slow: the writer retries the same rows (from the table
 * that failed: the tables already written are not written twice), the
 * queue fills, and store_submit() refuses with ERR_BUSY (503 and
 * Retry-After for the client) until it drains.  Reads go on meanwhile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/strmap.h"
#include "core/sketch.h"
#include "store/clickhouse_store.h"

#define DEFAULT_QUEUE_BYTES (64u << 20)
#define GROUP_MAX_WRITES    256		/* writes per insert, at most */
#define GROUP_MAX_BYTES	    (32u << 20) /* bytes of rows per insert, about */
#define RETRY_MIN_MS	    200
#define RETRY_MAX_MS	    5000
#define CH_LEASE_DEFAULT_NS (30ull * 1000000000ull)

/* One INSERT per table, in this order; a group remembers how far it got. */
enum ch_table { T_BLOCKS, T_TRACES, T_REQUESTS, T_SLOW, T_KEYS, T_ROLLUPS, T_POINTS, T_COUNT };
static const char *const insert_sql[T_COUNT] = {
	"INSERT INTO blocks (id, t_min, t_max, n_spans, data) FORMAT RowBinary",
	"INSERT INTO trace_index (trace, block, t_min) FORMAT RowBinary",
	"INSERT INTO requests (start_ns, duration_ns, trace_hi, trace_lo, span_id, status, edge, service,"
	" endpoint, env, version, department, intent, tool, error_type) FORMAT RowBinary",
	"INSERT INTO slow_requests (id, start_ns, duration_ns, trace_hi, trace_lo, span_id, status, edge,"
	" service, endpoint, env, version, department, intent, tool) FORMAT RowBinary",
	"INSERT INTO rollup_keys (key, service, endpoint, tool, env, version, department, intent,"
	" error_type, status, edge) FORMAT RowBinary",
	"INSERT INTO rollups (minute, key, service, endpoint, tool, env, version, department, intent,"
	" error_type, status, edge, bucket, n, sum_ns, fast, normal, slow, critical, min_ns, max_ns)"
	" FORMAT RowBinary",
	"INSERT INTO metric_points (service, resource, name, unit, type, attrs, time_ns, value, count, sum,"
	" delta, bounds, buckets) FORMAT RowBinary",
};

/* The producer identity of a metric series, as the embedded store keeps it. */
static const char *const series_resource_keys[] = {"deployment.environment.name",
						   "deployment.environment",
						   "service.version",
						   "service.instance.id",
						   "host.name",
						   "process.runtime.name",
						   "telemetry.sdk.language"};

/* A request row's columns; with its error type (requests) or not (slow_requests). */
static void rows_request(struct buf *b, const struct prepared_request *pr, int with_error)
{
	const struct request_row *r = &pr->row;
	rbw_u64(b, r->start_ns);
	rbw_u64(b, r->duration_ns);
	rbw_u64(b, (uint64_t)be64(r->trace_id));
	rbw_u64(b, (uint64_t)be64(r->trace_id + 8));
	rbw_u64(b, (uint64_t)be64(r->span_id));
	rbw_u8(b, r->status);
	rbw_u8(b, r->edge);
	const char *dims[] = {r->service,    r->endpoint, r->env,  r->version,
			      r->department, r->intent,	  r->tool, pr->error_type};
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]) - !with_error; i++)
		rbw_str(b, dims[i]);
}

/* The slow requests of a write (STORE_SLOW_NS or longer) again, each
 * numbered by its block's id (the write's blocks are k0, k0 + 1, ... of
 * the group) and its place among the block's slow rows. */
static void rows_slow(struct buf *b, const struct store_write *w, uint64_t seq0, size_t k0, unsigned slot)
{
	uint32_t *seen = NULL;
	for (size_t i = 0; i < w->n_reqs; i++) {
		const struct prepared_request *pr = &w->reqs[i];
		if (pr->row.duration_ns < STORE_SLOW_NS || pr->block >= w->n_blocks)
			continue;
		if (!seen)
			seen = xcalloc(w->n_blocks, sizeof(*seen));
		uint64_t block = ch_block_id(seq0, k0 + pr->block, slot);
		rbw_u64(b, (uint64_t)CH_SLOW_ID(block, seen[pr->block]++));
		rows_request(b, pr, 0);
	}
	free(seen);
}

/*
 * The rollup rows of a group: requests of the same (minute, key, bucket)
 * summed here first, so a group inserts one row per distinct one (and
 * ClickHouse sums the groups' rows as it merges).  The map's keys are the
 * key columns already in RowBinary, so a row is its key's bytes, then the
 * sums.
 */
struct rollup_agg {
	size_t key_at, key_len; /* in the keys buffer */
	uint64_t n, sum_ns, tiers[TIER_COUNT], min_ns, max_ns;
};

struct rollup_rows {
	struct strmap map; /* key bytes -> index into aggs */
	struct buf keys, key, dims;
	struct rollup_agg *aggs;
	size_t n, cap;
};

/* A rollup row's key bytes: minute (4), the key (8), status, edge, bucket (4). */
#define ROW_KEY_LEN 18

/*
 * A request into the group's rollup rows.  The row holds the key, a hash
 * of the dimensions, status and edge, not their strings: those go once
 * into rollup_keys (`keys_rows`), the first time this instance meets them.
 */
static void rollup_add(struct ch_store *s, struct rollup_rows *rr, const struct prepared_request *pr,
		       struct buf *keys_rows)
{
	const struct request_row *r = &pr->row;
	const char *endpoint = ch_guard_endpoint(s, r->service, r->endpoint);
	struct buf *dm = &rr->dims, *k = &rr->key;
	buf_reset(dm);
	const char *dims[] = {r->service, endpoint,	 r->tool,   r->env,
			      r->version, r->department, r->intent, pr->error_type};
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		rbw_str(dm, dims[i]);
	rbw_u8(dm, r->status);
	rbw_u8(dm, r->edge);
	uint64_t h = strmap_hash(dm->data, dm->len);
	if (ch_guard_new_key(s, h)) {
		rbw_u64(keys_rows, h);
		buf_append(keys_rows, dm->data, dm->len);
	}
	buf_reset(k);
	rbw_u32(k, (uint32_t)(r->start_ns / 60000000000ull));
	rbw_u64(k, h);
	rbw_u8(k, r->status);
	rbw_u8(k, r->edge);
	double d = (double)r->duration_ns;
	rbw_u32(k, (uint32_t)(d < SKETCH_MIN_VALUE ? CH_ZERO_BUCKET : sketch_index(d)));
	int64_t at;
	if (strmap_get(&rr->map, k->data, k->len, &at) < 0) {
		rr->aggs = xgrow(rr->aggs, &rr->cap, rr->n + 1, sizeof(*rr->aggs));
		at = (int64_t)rr->n++;
		rr->aggs[at] =
			(struct rollup_agg){.key_at = rr->keys.len, .key_len = k->len, .min_ns = UINT64_MAX};
		buf_append(&rr->keys, k->data, k->len);
		strmap_put(&rr->map, k->data, k->len, at);
	}
	struct rollup_agg *g = &rr->aggs[at];
	g->n++;
	g->sum_ns += r->duration_ns;
	g->tiers[request_tier_of(r->duration_ns)]++;
	g->min_ns = r->duration_ns < g->min_ns ? r->duration_ns : g->min_ns;
	g->max_ns = r->duration_ns > g->max_ns ? r->duration_ns : g->max_ns;
}

static void rollup_rows_write(struct rollup_rows *rr, struct buf *b)
{
	for (size_t i = 0; i < rr->n; i++) {
		const struct rollup_agg *g = &rr->aggs[i];
		const char *k = rr->keys.data + g->key_at;
		static const char no_dims[8] = {
			0};	      /* eight empty strings: the dimensions are in rollup_keys */
		buf_append(b, k, 12); /* minute, key */
		buf_append(b, no_dims, sizeof(no_dims));
		buf_append(b, k + 12, ROW_KEY_LEN - 12); /* status, edge, bucket */
		rbw_u64(b, g->n);
		rbw_u64(b, g->sum_ns);
		for (int t = 0; t < TIER_COUNT; t++)
			rbw_u64(b, g->tiers[t]);
		/* the states of min and max (AggregateFunction): a "has a value" byte, the value */
		rbw_u8(b, 1);
		rbw_u64(b, g->min_ns);
		rbw_u8(b, 1);
		rbw_u64(b, g->max_ns);
	}
}

static void rows_point(struct buf *b, const struct metric_point *p, struct buf *tmp)
{
	struct attr ident[sizeof(series_resource_keys) / sizeof(series_resource_keys[0])];
	uint32_t n_ident = 0;
	for (size_t i = 0; i < sizeof(ident) / sizeof(ident[0]); i++) {
		const struct attr *a =
			attr_find(p->resource->attrs, p->resource->n_attrs, series_resource_keys[i]);
		if (a)
			ident[n_ident++] = *a;
	}
	rbw_str(b, p->resource->service_name);
	buf_reset(tmp);
	attrs_to_json(tmp, ident, n_ident);
	rbw_bytes(b, tmp->data, tmp->len);
	rbw_str(b, p->name);
	rbw_str(b, p->unit);
	rbw_u8(b, p->type);
	buf_reset(tmp);
	attrs_to_json(tmp, p->attrs, p->n_attrs);
	rbw_bytes(b, tmp->data, tmp->len);
	rbw_u64(b, p->time_ns);
	rbw_f64(b, p->value);
	rbw_u64(b, p->type == METRIC_HISTOGRAM ? p->count : 0);
	rbw_f64(b, p->type == METRIC_HISTOGRAM ? p->sum : 0);
	rbw_u8(b, p->delta);
	int hist = p->type == METRIC_HISTOGRAM && p->bucket_counts;
	uint32_t nb = hist ? p->n_bounds : 0;
	buf_put_varint(b, nb);
	for (uint32_t i = 0; i < nb; i++)
		rbw_f64(b, p->bounds[i]);
	buf_put_varint(b, hist ? nb + 1 : 0);
	for (uint32_t i = 0; hist && i <= nb; i++)
		rbw_u64(b, p->bucket_counts[i]);
}

/* The rows of every write of a group, per table; its block ids are
 * reserved ones (clickhouse_lease.c: sequence and writer slot). */
static void build_rows(struct ch_store *s, struct store_write *group, uint64_t seq0, unsigned slot,
		       struct buf rows[T_COUNT])
{
	size_t k = 0;
	struct buf tmp;
	struct rollup_rows rr = {0};
	buf_init(&tmp, BUF_NO_LIMIT);
	strmap_init(&rr.map);
	buf_init(&rr.keys, BUF_NO_LIMIT);
	buf_init(&rr.key, BUF_NO_LIMIT);
	buf_init(&rr.dims, BUF_NO_LIMIT);
	for (struct store_write *w = group; w; w = w->next) {
		rows_slow(&rows[T_SLOW], w, seq0, k, slot);
		for (size_t i = 0; i < w->n_blocks; i++) {
			const struct prepared_block *pb = &w->blocks[i];
			uint64_t id = ch_block_id(seq0, k++, slot);
			rbw_u64(&rows[T_BLOCKS], id);
			rbw_u64(&rows[T_BLOCKS], pb->t_min);
			rbw_u64(&rows[T_BLOCKS], pb->t_max);
			rbw_u32(&rows[T_BLOCKS], (uint32_t)pb->n_spans);
			rbw_bytes(&rows[T_BLOCKS], pb->data, pb->len);
			for (size_t t = 0; t < pb->n_traces; t++) {
				rbw_u64(&rows[T_TRACES], (uint64_t)pb->traces[t]);
				rbw_u64(&rows[T_TRACES], id);
				rbw_u64(&rows[T_TRACES], pb->t_min);
			}
		}
		for (size_t i = 0; i < w->n_reqs; i++) {
			rows_request(&rows[T_REQUESTS], &w->reqs[i], 1);
			rollup_add(s, &rr, &w->reqs[i], &rows[T_KEYS]);
		}
		for (size_t i = 0; i < w->batch.n_points; i++)
			rows_point(&rows[T_POINTS], &w->batch.points[i], &tmp);
	}
	rollup_rows_write(&rr, &rows[T_ROLLUPS]);
	buf_release(&tmp);
	strmap_release(&rr.map);
	buf_release(&rr.keys);
	buf_release(&rr.key);
	buf_release(&rr.dims);
	free(rr.aggs);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int stopping(struct ch_store *s)
{
	pthread_mutex_lock(&s->lock);
	int v = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* One table's INSERT of a group, retried (with a growing pause) until
 * ClickHouse accepts it; gives up only when the store is closing. */
struct table_insert {
	struct ch_store *s;
	int table;
	const struct buf *rows;
	int rc;
};

static void *insert_table(void *arg)
{
	struct table_insert *ti = arg;
	char err[512];
	unsigned pause = RETRY_MIN_MS;
	uint64_t t0 = clock_now_ns();
	while ((ti->rc = ch_exec(ti->s->ch, insert_sql[ti->table], ti->rows->data, ti->rows->len, NULL, err,
				 sizeof(err))) < 0) {
		log_warn("clickhouse: insert failed, retrying in %u ms: %s", pause, err);
		atomic_store(&ti->s->failing, 1);
		if (stopping(ti->s))
			break;
		sleep_ms(pause);
		pause = pause * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : pause * 2;
	}
	if (ti->rc == 0)
		atomic_store(&ti->s->failing, 0);
	log_debug("clickhouse: insert into table %d: %zu bytes in %.1f ms", ti->table, ti->rows->len,
		  (double)(clock_now_ns() - t0) / 1e6);
	return NULL;
}

/*
 * Insert the group's rows: one INSERT per table, one after the other
 * (measured: ClickHouse 18.16 answers a few inserts at once slower than the
 * same inserts in turn).  A table that fails is retried alone: rows
 * ClickHouse accepted are not sent twice.  0: every table took its rows.
 */
static int insert_group(struct ch_store *s, struct buf rows[T_COUNT])
{
	for (int t = 0; t < T_COUNT; t++) {
		struct table_insert ti = {.s = s, .table = t, .rows = &rows[t]};
		if (!rows[t].len)
			continue;
		insert_table(&ti);
		if (ti.rc < 0)
			return -1;
	}
	return 0;
}

static void write_group(struct ch_store *s, struct store_write *group)
{
	struct buf rows[T_COUNT];
	for (int t = 0; t < T_COUNT; t++)
		buf_init(&rows[t], BUF_NO_LIMIT);
	size_t n_blocks = 0;
	for (struct store_write *w = group; w; w = w->next)
		n_blocks += w->n_blocks;
	uint64_t seq0 = 0;
	unsigned slot = 0;
	int at = ch_ids_reserve(s, n_blocks, &seq0, &slot), status = -1;
	if (at >= 0) {
		build_rows(s, group, seq0, slot, rows);
		status = insert_group(s, rows);
		ch_ids_release(s, at);
	}
	int slow = rows[T_SLOW].len > 0;
	for (int t = 0; t < T_COUNT; t++)
		buf_release(&rows[t]);
	if (status == 0)
		atomic_fetch_add(&s->commits, 1);
	if (status == 0 && slow) /* before the clients hear of it: ch_slow_since() */
		atomic_fetch_add(&s->slow_groups, 1);
	for (struct store_write *w = group, *next; w; w = next) {
		next = w->next;
		if (status == 0) {
			atomic_fetch_add(&s->writes, 1);
			atomic_fetch_add(&s->spans, store_write_spans(w));
			atomic_fetch_add(&s->points, store_write_points(w));
		} else {
			atomic_fetch_add(&s->failed_writes, 1);
		}
		store_done_fn done = w->done;
		void *arg = w->done_arg;
		store_write_free(w);
		if (done)
			done(arg, status);
	}
}

static void *writer_main(void *arg)
{
	struct ch_store *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->wake, &s->lock);
		if (!s->head)
			break; /* stopping, and everything queued is written */
		struct store_write *group = s->head, *last = group;
		size_t n = 1, bytes = group->bytes;
		while (last->next && n < GROUP_MAX_WRITES && bytes + last->next->bytes <= GROUP_MAX_BYTES) {
			last = last->next;
			bytes += last->bytes;
			n++;
		}
		s->head = last->next;
		if (!s->head)
			s->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->lock);

		write_group(s, group);

		pthread_mutex_lock(&s->lock);
		s->queue_bytes -= bytes;
		s->queue_writes -= n;
		pthread_cond_broadcast(&s->space);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int ch_submit(struct store *st, struct store_write *w, store_done_fn done, void *arg)
{
	struct ch_store *s = ch_of(st);
	pthread_mutex_lock(&s->lock);
	/* One write larger than the whole queue is still accepted when the queue is empty. */
	if (s->stopping || (s->queue_writes && s->queue_bytes + w->bytes > s->queue_max)) {
		pthread_mutex_unlock(&s->lock);
		return ERR_BUSY;
	}
	w->done = done;
	w->done_arg = arg;
	w->next = NULL;
	if (s->tail)
		s->tail->next = w;
	else
		s->head = w;
	s->tail = w;
	s->queue_bytes += w->bytes;
	s->queue_writes++;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* The queue was full: wait for room, unless the store is closing. */
int ch_wait_space(struct store *st)
{
	struct ch_store *s = ch_of(st);
	pthread_mutex_lock(&s->lock);
	int rc = s->stopping ? -1 : 0;
	if (rc == 0)
		pthread_cond_wait(&s->space, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int ch_open(struct store **out, const struct store_options *o, char *err, size_t errlen)
{
	struct ch_store *s = xcalloc(1, sizeof(*s));
	s->be = &clickhouse_backend;
	if (!(s->ch = ch_client_new(o->url, err, errlen))) {
		free(s);
		return ERR_INVALID;
	}
	int rc = ch_schema_migrate(s->ch, err, errlen);
	if (rc < 0) {
		ch_client_free(s->ch);
		free(s);
		return rc;
	}
	s->retention = o->retention;
	if ((rc = ch_guard_open(s, o->max_endpoints, err, errlen)) < 0 ||
	    (rc = ch_lease_start(s, o->lease_ns ? o->lease_ns : CH_LEASE_DEFAULT_NS, err, errlen)) < 0) {
		ch_lease_stop(s);
		ch_guard_close(s);
		ch_client_free(s->ch);
		free(s);
		return rc;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->slow_lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->space, NULL);
	s->queue_max = o->queue_max_bytes ? o->queue_max_bytes : DEFAULT_QUEUE_BYTES;
	for (; s->n_writers < CH_WRITERS; s->n_writers++)
		if (pthread_create(&s->writers[s->n_writers], NULL, writer_main, s) != 0)
			break;
	if (!s->n_writers) {
		ch_lease_stop(s);
		ch_guard_close(s);
		ch_client_free(s->ch);
		free(s);
		return errf(err, errlen, "cannot start the writer thread");
	}
	log_info("store: clickhouse database %s (schema %d)", ch_client_db(s->ch), ch_schema_version());
	*out = (struct store *)(void *)s;
	return 0;
}

void ch_close(struct store *st)
{
	struct ch_store *s = ch_of(st);
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->wake);
	pthread_cond_broadcast(&s->space);
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < s->n_writers; i++)
		pthread_join(s->writers[i], NULL);
	ch_lease_stop(s);
	ch_guard_close(s);
	ch_client_free(s->ch);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->slow_lock);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->space);
	free(s);
}

void ch_get_stats(struct store *st, struct store_stats *out)
{
	struct ch_store *s = ch_of(st);
	memset(out, 0, sizeof(*out));
	out->vacuumed_pages = -1; /* ClickHouse merges its parts itself */
	out->commits = atomic_load(&s->commits);
	out->writes = atomic_load(&s->writes);
	out->spans = atomic_load(&s->spans);
	out->points = atomic_load(&s->points);
	out->failed_writes = atomic_load(&s->failed_writes);
	/* Ready means ClickHouse answers now: asked, since no write may have
	 * tried it lately (a pause of the server shows only here). */
	char why[256];
	if (ch_ping(s->ch, why, sizeof(why)) < 0)
		snprintf(out->writer_error, sizeof(out->writer_error), "%.*s",
			 (int)sizeof(out->writer_error) - 1, why);
	else if (atomic_load(&s->failing))
		snprintf(out->writer_error, sizeof(out->writer_error), "ClickHouse is not accepting inserts");
	out->writer_ready = !out->writer_error[0];
	for (int k = 0; k < KEPT_COUNT; k++)
		out->retention_deleted[k] = atomic_load(&s->ret_deleted[k]);
	out->retention_steps = atomic_load(&s->ret_steps);
	out->retention_step_max_ns = atomic_load(&s->ret_step_max_ns);
	out->retention_pending = atomic_load(&s->ret_pending);
	out->rollup_folded = atomic_load(&s->guard.folded);
	pthread_mutex_lock(&s->lock);
	out->queue_bytes = s->queue_bytes;
	out->queue_writes = s->queue_writes;
	pthread_mutex_unlock(&s->lock);
}

int ch_unreachable(struct store *st, char *why, size_t len)
{
	return ch_client_unreachable(ch_of(st)->ch, why, len);
}

/* ---- documents and events: one INSERT each, from the caller's thread ---- */

static int put_record(struct store *st, const char *sql, const struct store_record *r, int with_ver,
		      char *err, size_t errlen)
{
	if (!r->kind || !r->id || !r->json)
		return errf(err, errlen, "a record needs a kind, an id and a JSON value");
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	rbw_str(&b, r->kind);
	rbw_str(&b, r->id);
	rbw_u64(&b, r->time_ns);
	rbw_str(&b, r->json);
	if (with_ver)
		rbw_u64(&b, clock_now_ns());
	int rc = ch_exec(ch_of(st)->ch, sql, b.data, b.len, NULL, err, errlen);
	buf_release(&b);
	return rc;
}

int ch_put_doc(struct store *s, const struct store_record *r, char *err, size_t errlen)
{
	return put_record(s, "INSERT INTO docs (kind, id, time_ns, json, ver) FORMAT RowBinary", r, 1, err,
			  errlen);
}

/*
 * Deleting documents: a tombstone (an empty json, a newer version) for
 * each, in one INSERT, which ch_docs() reads as "none" at once; then a
 * mutation deletes the rows of those ids, tombstones included, when
 * ClickHouse gets to it (mutations run in the background).  A failed
 * mutation is only logged: the tombstones already answer.
 */
int ch_delete_docs(struct store *s, const char *kind, const char *const *ids, size_t n, char *err,
		   size_t errlen)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	uint64_t ver = clock_now_ns();
	for (size_t i = 0; i < n; i++) {
		rbw_str(&b, kind);
		rbw_str(&b, ids[i]);
		rbw_u64(&b, 0);
		rbw_str(&b, "");
		rbw_u64(&b, ver);
	}
	int rc = ch_exec(ch_of(s)->ch, "INSERT INTO docs (kind, id, time_ns, json, ver) FORMAT RowBinary",
			 b.data, b.len, NULL, err, errlen);
	buf_release(&b);
	if (rc < 0)
		return rc;
	char merr[256];
	buf_init(&b, BUF_NO_LIMIT);
	buf_puts(&b, "ALTER TABLE docs DELETE WHERE kind = ");
	ch_quote(&b, kind);
	buf_puts(&b, " AND id IN (");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(&b, ',');
		ch_quote(&b, ids[i]);
	}
	buf_putc(&b, ')');
	buf_putc(&b, 0);
	if (ch_exec(ch_of(s)->ch, b.data, NULL, 0, NULL, merr, sizeof(merr)) < 0)
		log_warn("clickhouse: deleted documents stay as tombstones for now: %s", merr);
	buf_release(&b);
	return 0;
}

/* ---- stored aggregates: one INSERT, so one block: all rows or none ---- */

int ch_put_aggs(struct store *s, const struct store_agg *rows, size_t n, int replace_all, char *err,
		size_t errlen)
{
	struct buf b;
	int rc;
	if (replace_all && (rc = ch_exec(ch_of(s)->ch, "ALTER TABLE " CH_AGGS_TABLE " DELETE WHERE 1", NULL,
					 0, NULL, err, errlen)) < 0)
		return rc;
	buf_init(&b, BUF_NO_LIMIT);
	uint64_t ver = clock_now_ns();
	for (size_t i = 0; i < n; i++) {
		rbw_u32(&b, rows[i].kind);
		rbw_u64(&b, rows[i].t_ns);
		rbw_str(&b, rows[i].key);
		rbw_bytes(&b, rows[i].data, rows[i].len);
		rbw_u64(&b, ver);
	}
	rc = ch_exec(ch_of(s)->ch, "INSERT INTO " CH_AGGS_TABLE " (kind, t, key, data, ver) FORMAT RowBinary",
		     b.data, b.len, NULL, err, errlen);
	buf_release(&b);
	return rc;
}

int ch_add_event(struct store *s, const struct store_record *r, char *err, size_t errlen)
{
	return put_record(s, "INSERT INTO events (kind, id, time_ns, json) FORMAT RowBinary", r, 0, err,
			  errlen);
}
