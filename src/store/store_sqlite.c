/*
 * store_sqlite.c - the embedded store: one SQLite file in WAL mode.
 *
 * Threads: callers prepare writes in parallel (block encoding and zstd);
 * one writer thread owns the write connection and commits everything queued
 * in one transaction with a savepoint per write, so a bad write fails alone
 * and a good one is all or nothing.  Durability policy: WAL with
 * synchronous=FULL, i.e. the WAL is fsynced at every commit, and `done` is
 * called only after that.  Readers borrow connections from a pool.
 */
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/strmap.h"
#include "core/json_doc.h"
#include "ingest/semconv.h"
#include "store/block.h"
#include "store/rollup.h"
#include "store/schema.h"
#include "store/values.h"

#define BLOCK_SPANS	    4096 /* spans per block, at most (a trace is never split) */
#define DEFAULT_QUEUE_BYTES (64u << 20)
#define GROUP_MAX_WRITES    256 /* writes per transaction, at most */
#define READ_POOL_MAX	    16

/* ---- prepared writes ------------------------------------------------- */

struct prepared_block {
	char *data;
	size_t len;
	size_t n_spans;
	uint64_t t_min, t_max;
	int64_t *traces; /* distinct trace keys */
	size_t n_traces;
};

struct prepared_request {
	struct request_row row;
	const char *error_type;
	size_t block; /* index into blocks */
};

/* A document, event or profile: written alone, by the store_put_*() calls. */
enum record_type { REC_DOC, REC_EVENT, REC_PROFILE };

struct record {
	enum record_type type;
	struct store_record r; /* REC_DOC, REC_EVENT */
	struct profile_row p;  /* REC_PROFILE; folded holds the compressed stacks */
	int64_t id;	       /* the profile's id, set by the writer */
};

struct store_write {
	struct batch batch; /* owns the strings the rows point to */
	struct record *rec; /* in the batch's arena, or NULL */
	struct prepared_block *blocks;
	size_t n_blocks;
	struct prepared_request *reqs;
	size_t n_reqs;
	size_t bytes; /* queue accounting */
	store_done_fn done;
	void *done_arg;
	struct store_write *next;
};

static int64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static void put_be64(uint8_t *p, int64_t sv)
{
	uint64_t v = (uint64_t)sv;
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static int cmp_trace(const void *pa, const void *pb)
{
	const struct span *a = *(const struct span *const *)pa, *b = *(const struct span *const *)pb;
	int c = memcmp(a->trace_id, b->trace_id, 16);
	return c ? c : (a->start_ns > b->start_ns) - (a->start_ns < b->start_ns);
}

/* The tool a request invoked: its own attribute, else the first span of the
 * same trace in this batch that names one. */
static const char *request_tool(const struct span **sorted, size_t n, size_t at)
{
	const char *t = span_tool(sorted[at]);
	for (size_t i = at; !t && i < n && !memcmp(sorted[i]->trace_id, sorted[at]->trace_id, 16); i++)
		t = span_tool(sorted[i]);
	for (size_t i = at; !t && i-- > 0 && !memcmp(sorted[i]->trace_id, sorted[at]->trace_id, 16);)
		t = span_tool(sorted[i]);
	return t;
}

static void prepare_block(struct store_write *w, const struct span **spans, size_t n)
{
	struct prepared_block *pb = &w->blocks[w->n_blocks];
	struct buf out;
	buf_init(&out, BUF_NO_LIMIT);
	memset(pb, 0, sizeof(*pb));
	pb->n_spans = n;
	pb->t_min = UINT64_MAX;
	pb->traces = xmalloc(n * sizeof(*pb->traces));
	for (size_t i = 0; i < n; i++) {
		if (spans[i]->start_ns < pb->t_min)
			pb->t_min = spans[i]->start_ns;
		if (spans[i]->end_ns > pb->t_max)
			pb->t_max = spans[i]->end_ns;
		if (!i || memcmp(spans[i]->trace_id, spans[i - 1]->trace_id, 16))
			pb->traces[pb->n_traces++] = be64(spans[i]->trace_id);
		if (span_is_entry(spans[i])) {
			struct prepared_request *r = &w->reqs[w->n_reqs++];
			const struct span *sp = spans[i];
			const struct resource *res = sp->resource;
			const char *intent = attr_str(sp->attrs, sp->n_attrs, "intent.category");
			memcpy(r->row.trace_id, sp->trace_id, 16);
			memcpy(r->row.span_id, sp->span_id, 8);
			r->row.start_ns = sp->start_ns;
			r->row.duration_ns = sp->end_ns - sp->start_ns;
			r->row.status = span_request_status(sp);
			r->row.edge = hex_is_zero(sp->parent_span_id, 8);
			r->row.service = res->service_name;
			r->row.endpoint = span_endpoint(&w->batch.arena, sp);
			r->row.env = res->environment;
			r->row.version = res->service_version;
			r->row.department = res->department;
			r->row.intent = intent ? intent : res->intent;
			r->row.tool = request_tool(spans, n, i);
			r->error_type = span_error_type(&w->batch.arena, sp, r->row.status);
			r->block = w->n_blocks;
		}
	}
	/* block_encode re-sorts; the spans are already in its order */
	if (block_encode(spans, n, &out) < 0)
		abort(); /* only an unlimited buffer is used: cannot fail */
	pb->data = buf_detach(&out, &pb->len);
	w->bytes += pb->len;
	w->n_blocks++;
}

struct store_write *store_prepare(struct batch *b)
{
	struct store_write *w = xcalloc(1, sizeof(*w));
	w->batch = *b;
	batch_init(b);

	size_t n = w->batch.n_spans;
	const struct span **sorted = xmalloc((n ? n : 1) * sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = &w->batch.spans[i];
	qsort(sorted, n, sizeof(*sorted), cmp_trace);

	w->blocks = xcalloc(n / BLOCK_SPANS + 2 + n / 64, sizeof(*w->blocks));
	w->reqs = xmalloc((n ? n : 1) * sizeof(*w->reqs));
	/* Cut blocks at trace boundaries; a trace larger than a block stays whole. */
	size_t start = 0;
	for (size_t i = 1; i <= n; i++) {
		int boundary = i == n || memcmp(sorted[i]->trace_id, sorted[i - 1]->trace_id, 16);
		if (boundary && (i == n || i - start >= BLOCK_SPANS)) {
			prepare_block(w, sorted + start, i - start);
			start = i;
		}
	}
	free(sorted);
	w->bytes += w->batch.arena.used + w->batch.n_points * sizeof(struct metric_point);
	return w;
}

void store_write_free(struct store_write *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_blocks; i++) {
		free(w->blocks[i].data);
		free(w->blocks[i].traces);
	}
	free(w->blocks);
	free(w->reqs);
	batch_release(&w->batch);
	free(w);
}

size_t store_write_spans(const struct store_write *w)
{
	return w->batch.n_spans;
}

size_t store_write_points(const struct store_write *w)
{
	return w->batch.n_points;
}

/* ---- the store ------------------------------------------------------- */

enum stmt_id {
	ST_BLOCK,
	ST_TRACE,
	ST_REQUEST,
	ST_DICT_INSERT,
	ST_DICT_SELECT,
	ST_SERIES_INSERT,
	ST_SERIES_SELECT,
	ST_POINT,
	ST_DOC,
	ST_EVENT,
	ST_PROFILE,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BLOCK] = "INSERT INTO blocks(t_min, t_max, n_spans, data) VALUES(?,?,?,?)",
	[ST_TRACE] = "INSERT OR IGNORE INTO trace_index(trace, block) VALUES(?,?)",
	[ST_REQUEST] = "INSERT INTO requests(start_ns, duration_ns, trace_hi, trace_lo, span_id, status,"
		       " service, endpoint, env, version, department, intent, tool, block, error_type, edge)"
		       " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_DICT_INSERT] = "INSERT OR IGNORE INTO dict(kind, value) VALUES(?,?)",
	[ST_DICT_SELECT] = "SELECT id FROM dict WHERE kind=? AND value=?",
	[ST_SERIES_INSERT] = "INSERT OR IGNORE INTO metric_series(service, name, unit, type, attrs, resource)"
			     " VALUES(?,?,?,?,?,?)",
	[ST_SERIES_SELECT] =
		"SELECT id FROM metric_series WHERE service=? AND name=? AND attrs=? AND resource=?",
	[ST_POINT] = "INSERT OR REPLACE INTO metric_points(series, time_ns, value, count, sum, bounds,"
		     " buckets) VALUES(?,?,?,?,?,?,?)",
	[ST_DOC] = "INSERT OR REPLACE INTO docs(kind, id, time_ns, json) VALUES(?,?,?,?)",
	[ST_EVENT] = "INSERT INTO events(kind, id, time_ns, json) VALUES(?,?,?,?)",
	[ST_PROFILE] = "INSERT INTO profiles(start_ns, end_ns, service, version, env, type, unit, labels,"
		       " total, raw_len, data) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
};

struct store {
	char *path;
	sqlite3 *db; /* the writer's connection */
	sqlite3_stmt *st[ST_COUNT];
	struct strmap dict;	       /* kind byte + value -> id, writer thread only */
	struct strmap series;	       /* service id + name + attrs -> id, writer thread only */
	struct rollup_writer *rollups; /* writer thread only */
	uint64_t rollups_flushed_ns;   /* writer thread only */
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
};

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("store: %s: %s", sql, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int64_t dict_id(struct store *s, enum dict_kind kind, const char *value)
{
	if (!value)
		return 0;
	size_t len = strlen(value);
	char stackkey[256];
	char *key = len + 1 <= sizeof(stackkey) ? stackkey : xmalloc(len + 1);
	int64_t id = 0;
	key[0] = (char)kind;
	memcpy(key + 1, value, len);
	if (strmap_get(&s->dict, key, len + 1, &id) == 0)
		goto out;
	sqlite3_stmt *ins = s->st[ST_DICT_INSERT], *sel = s->st[ST_DICT_SELECT];
	sqlite3_bind_int(ins, 1, kind);
	sqlite3_bind_text(ins, 2, value, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(ins);
	sqlite3_reset(ins);
	if (rc != SQLITE_DONE) {
		id = -1;
		goto out;
	}
	sqlite3_bind_int(sel, 1, kind);
	sqlite3_bind_text(sel, 2, value, (int)len, SQLITE_STATIC);
	id = sqlite3_step(sel) == SQLITE_ROW ? sqlite3_column_int64(sel, 0) : -1;
	sqlite3_reset(sel);
	/* Cached only after commit would be exact; a rolled-back id is never
	 * reused by SQLite within this process run, see write_group(). */
	if (id > 0)
		strmap_put(&s->dict, key, len + 1, id);
out:
	if (key != stackkey)
		free(key);
	return id;
}

static void bind_dict(struct store *s, sqlite3_stmt *st, int col, enum dict_kind kind, const char *v,
		      int *failed)
{
	int64_t id = dict_id(s, kind, v);
	if (id < 0)
		*failed = 1;
	if (id > 0)
		sqlite3_bind_int64(st, col, id);
	else
		sqlite3_bind_null(st, col);
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * The resource attributes that tell the producers of one service apart, and
 * their runtime, which the CPU detector needs (a single-threaded runtime is
 * judged against one core); a producer's runtime does not change, so it
 * splits no series.
 */
static const char *const series_resource_keys[] = {"deployment.environment.name",
						   "deployment.environment",
						   "service.version",
						   "service.instance.id",
						   "host.name",
						   "process.runtime.name",
						   "telemetry.sdk.language"};

static int64_t series_id(struct store *s, const struct metric_point *p, struct buf *key)
{
	int64_t svc = dict_id(s, DICT_SERVICE, p->resource->service_name), id;
	if (svc < 0)
		return -1;
	struct attr ident[sizeof(series_resource_keys) / sizeof(series_resource_keys[0])];
	uint32_t n_ident = 0;
	for (size_t i = 0; i < sizeof(ident) / sizeof(ident[0]); i++) {
		const struct attr *a =
			attr_find(p->resource->attrs, p->resource->n_attrs, series_resource_keys[i]);
		if (a)
			ident[n_ident++] = *a;
	}
	/* the series key: service id | name | attributes NUL resource identity */
	buf_reset(key);
	buf_printf(key, "%lld|%s|", (long long)svc, p->name);
	size_t prefix = key->len;
	attrs_to_json(key, p->attrs, p->n_attrs);
	buf_putc(key, '\0');
	size_t res_at = key->len;
	attrs_to_json(key, ident, n_ident);
	if (strmap_get(&s->series, key->data, key->len, &id) == 0)
		return id;
	const char *attrs = key->data + prefix, *resource = key->data + res_at;
	sqlite3_stmt *ins = s->st[ST_SERIES_INSERT], *sel = s->st[ST_SERIES_SELECT];
	sqlite3_bind_int64(ins, 1, svc);
	sqlite3_bind_text(ins, 2, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 3, p->unit ? p->unit : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(ins, 4, p->type);
	sqlite3_bind_text(ins, 5, attrs, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 6, resource, -1, SQLITE_STATIC);
	if (step_done(ins) < 0)
		return -1;
	sqlite3_bind_int64(sel, 1, svc);
	sqlite3_bind_text(sel, 2, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(sel, 3, attrs, -1, SQLITE_STATIC);
	sqlite3_bind_text(sel, 4, resource, -1, SQLITE_STATIC);
	id = sqlite3_step(sel) == SQLITE_ROW ? sqlite3_column_int64(sel, 0) : -1;
	sqlite3_reset(sel);
	if (id > 0)
		strmap_put(&s->series, key->data, key->len, id);
	return id;
}

static int apply_points(struct store *s, struct store_write *w)
{
	struct buf key;
	int ret = 0;
	buf_init(&key, BUF_NO_LIMIT);
	sqlite3_stmt *st = s->st[ST_POINT];
	for (size_t i = 0; i < w->batch.n_points && !ret; i++) {
		const struct metric_point *p = &w->batch.points[i];
		int64_t series = series_id(s, p, &key);
		if (series < 0) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, series);
		sqlite3_bind_int64(st, 2, (int64_t)p->time_ns);
		if (p->type == METRIC_HISTOGRAM) {
			sqlite3_bind_int64(st, 4, (int64_t)p->count);
			sqlite3_bind_double(st, 5, p->sum);
			sqlite3_bind_blob(st, 6, p->bounds, (int)(p->n_bounds * sizeof(double)),
					  SQLITE_STATIC);
			sqlite3_bind_blob(st, 7, p->bucket_counts,
					  (int)((p->n_bounds + 1) * sizeof(uint64_t)), SQLITE_STATIC);
		} else {
			sqlite3_bind_double(st, 3, p->value);
		}
		ret = step_done(st);
	}
	buf_release(&key);
	return ret;
}

static void bind_text_or_null(sqlite3_stmt *st, int col, const char *v)
{
	if (v)
		sqlite3_bind_text(st, col, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

static int apply_record(struct store *s, struct record *rec)
{
	if (rec->type != REC_PROFILE) {
		sqlite3_stmt *st = s->st[rec->type == REC_DOC ? ST_DOC : ST_EVENT];
		sqlite3_bind_text(st, 1, rec->r.kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, rec->r.id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (int64_t)rec->r.time_ns);
		sqlite3_bind_text(st, 4, rec->r.json, -1, SQLITE_STATIC);
		return step_done(st);
	}
	const struct profile_row *p = &rec->p;
	sqlite3_stmt *st = s->st[ST_PROFILE];
	sqlite3_bind_int64(st, 1, (int64_t)p->start_ns);
	sqlite3_bind_int64(st, 2, (int64_t)p->end_ns);
	sqlite3_bind_text(st, 3, p->service, -1, SQLITE_STATIC);
	bind_text_or_null(st, 4, p->version);
	bind_text_or_null(st, 5, p->env);
	sqlite3_bind_text(st, 6, p->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, p->unit, -1, SQLITE_STATIC);
	bind_text_or_null(st, 8, p->labels);
	sqlite3_bind_int64(st, 9, (int64_t)p->total);
	sqlite3_bind_int64(st, 10, (int64_t)rec->id); /* the raw length, until written */
	sqlite3_bind_blob(st, 11, p->folded, (int)p->folded_len, SQLITE_STATIC);
	if (step_done(st) < 0)
		return -1;
	rec->id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static int apply_write(struct store *s, struct store_write *w)
{
	if (w->rec)
		return apply_record(s, w->rec);
	int failed = 0;
	int64_t *block_ids = xmalloc((w->n_blocks ? w->n_blocks : 1) * sizeof(*block_ids));
	for (size_t i = 0; i < w->n_blocks && !failed; i++) {
		struct prepared_block *pb = &w->blocks[i];
		sqlite3_stmt *st = s->st[ST_BLOCK];
		sqlite3_bind_int64(st, 1, (int64_t)pb->t_min);
		sqlite3_bind_int64(st, 2, (int64_t)pb->t_max);
		sqlite3_bind_int64(st, 3, (int64_t)pb->n_spans);
		sqlite3_bind_blob(st, 4, pb->data, (int)pb->len, SQLITE_STATIC);
		if (step_done(st) < 0) {
			failed = 1;
			break;
		}
		block_ids[i] = sqlite3_last_insert_rowid(s->db);
		for (size_t t = 0; t < pb->n_traces && !failed; t++) {
			sqlite3_bind_int64(s->st[ST_TRACE], 1, pb->traces[t]);
			sqlite3_bind_int64(s->st[ST_TRACE], 2, block_ids[i]);
			failed = step_done(s->st[ST_TRACE]) < 0;
		}
	}
	sqlite3_stmt *st = s->st[ST_REQUEST];
	for (size_t i = 0; i < w->n_reqs && !failed; i++) {
		const struct request_row *r = &w->reqs[i].row;
		sqlite3_bind_int64(st, 1, (int64_t)r->start_ns);
		sqlite3_bind_int64(st, 2, (int64_t)r->duration_ns);
		sqlite3_bind_int64(st, 3, be64(r->trace_id));
		sqlite3_bind_int64(st, 4, be64(r->trace_id + 8));
		sqlite3_bind_int64(st, 5, be64(r->span_id));
		sqlite3_bind_int(st, 6, r->status);
		bind_dict(s, st, 7, DICT_SERVICE, r->service, &failed);
		bind_dict(s, st, 8, DICT_ENDPOINT, r->endpoint ? r->endpoint : "", &failed);
		bind_dict(s, st, 9, DICT_ENV, r->env, &failed);
		bind_dict(s, st, 10, DICT_VERSION, r->version, &failed);
		bind_dict(s, st, 11, DICT_DEPARTMENT, r->department, &failed);
		bind_dict(s, st, 12, DICT_INTENT, r->intent, &failed);
		bind_dict(s, st, 13, DICT_TOOL, r->tool, &failed);
		sqlite3_bind_int64(st, 14, block_ids[w->reqs[i].block]);
		bind_dict(s, st, 15, DICT_ERROR_TYPE, w->reqs[i].error_type, &failed);
		sqlite3_bind_int(st, 16, r->edge);
		if (!failed)
			failed = step_done(st) < 0;
		else
			sqlite3_reset(st);
	}
	free(block_ids);
	if (!failed)
		failed = apply_points(s, w) < 0;
	return failed ? -1 : 0;
}

/* Forget cached ids that a rolled-back savepoint may have created. */
static void drop_caches(struct store *s)
{
	strmap_release(&s->dict);
	strmap_release(&s->series);
}

#define ROLLUP_FLUSH_NS 1000000000ull /* rollups reach the disk once a second */

/* Roll up the requests of a write about to commit (in memory; see rollup.h). */
static int rollup_write(struct store *s, const struct store_write *w)
{
	for (size_t i = 0; i < w->n_reqs; i++) {
		const struct request_row *r = &w->reqs[i].row;
		struct rollup_dims d = {
			.service = dict_id(s, DICT_SERVICE, r->service),
			.endpoint = dict_id(s, DICT_ENDPOINT, r->endpoint ? r->endpoint : ""),
			.tool = dict_id(s, DICT_TOOL, r->tool),
			.env = dict_id(s, DICT_ENV, r->env),
			.version = dict_id(s, DICT_VERSION, r->version),
			.department = dict_id(s, DICT_DEPARTMENT, r->department),
			.intent = dict_id(s, DICT_INTENT, r->intent),
			.status = r->status,
			.error_type = dict_id(s, DICT_ERROR_TYPE, w->reqs[i].error_type),
			.edge = r->edge,
		};
		if (d.service < 0 || d.endpoint < 0 || d.tool < 0 || d.env < 0 || d.version < 0 ||
		    d.department < 0 || d.intent < 0 || d.error_type < 0)
			return -1;
		d.endpoint = rollup_writer_endpoint(s->rollups, d.service, d.endpoint);
		if (rollup_writer_add(s->rollups, &d, r->start_ns, r->duration_ns) < 0)
			return -1;
	}
	return 0;
}

/* A flush committed: wake the readers whose tickets it served. */
static void rollups_flushed(struct store *s, uint64_t ticket)
{
	s->rollups_flushed_ns = clock_now_ns();
	pthread_mutex_lock(&s->lock);
	s->rollups_dirty = 0;
	if (ticket > s->flush_done)
		s->flush_done = ticket;
	pthread_cond_broadcast(&s->flushed);
	pthread_mutex_unlock(&s->lock);
}

/* Write the aggregates and the watermark (inside a transaction). */
static int flush_rollups(struct store *s)
{
	sqlite3_stmt *st;
	int64_t last = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT IFNULL(MAX(id), 0) FROM requests", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		last = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rollup_writer_flush(s->rollups, last);
}

/* Roll up the requests past the watermark, in a transaction of its own. */
static int catch_up_rollups(struct store *s)
{
	char err[256];
	if (exec(s->db, "BEGIN IMMEDIATE") < 0)
		return -1;
	long n = rollup_catch_up(s->rollups, err, sizeof(err));
	if (n < 0 || exec(s->db, "COMMIT") < 0) {
		log_error("store: %s", n < 0 ? err : sqlite3_errmsg(s->db));
		exec(s->db, "ROLLBACK");
		rollup_writer_forget(s->rollups);
		return -1;
	}
	if (n)
		log_info("store: rolled up %ld requests stored after the last rollup flush", n);
	return 0;
}

/* Commit a group of writes in one transaction, each under its own savepoint. */
static void write_group(struct store *s, struct store_write *group)
{
	int *status = NULL;
	size_t n = 0;
	for (struct store_write *w = group; w; w = w->next)
		n++;
	status = xcalloc(n, sizeof(*status));

	int ok = exec(s->db, "BEGIN IMMEDIATE") == 0;
	size_t i = 0;
	for (struct store_write *w = group; w && ok; w = w->next, i++) {
		exec(s->db, "SAVEPOINT w");
		status[i] = apply_write(s, w);
		if (status[i] < 0) {
			log_error("store: write failed: %s", sqlite3_errmsg(s->db));
			exec(s->db, "ROLLBACK TO w");
			drop_caches(s);
		}
		exec(s->db, "RELEASE w");
	}
	/* Rollups join the same transaction: spans and aggregates commit together. */
	i = 0;
	for (struct store_write *w = group; w && ok; w = w->next, i++)
		if (status[i] == 0 && rollup_write(s, w) < 0)
			ok = 0;
	/* Flush rollups once a second, or now when a reader waits for them. */
	uint64_t now = clock_now_ns(), ticket;
	pthread_mutex_lock(&s->lock);
	ticket = s->flush_wanted;
	s->rollups_dirty = 1;
	pthread_mutex_unlock(&s->lock);
	int flushing = ok && (now - s->rollups_flushed_ns >= ROLLUP_FLUSH_NS || ticket > s->flush_done);
	if (flushing)
		ok = flush_rollups(s) == 0;
	if (!ok)
		log_error("store: rollups failed: %s", sqlite3_errmsg(s->db));
	if (!ok)
		exec(s->db, "ROLLBACK");
	if (ok && exec(s->db, "COMMIT") < 0) {
		exec(s->db, "ROLLBACK");
		ok = 0;
	}
	if (!ok) {
		/* what was rolled up in memory may not have committed: start again
		 * from what the database holds */
		drop_caches(s);
		rollup_writer_forget(s->rollups);
		catch_up_rollups(s);
	} else if (flushing) {
		rollups_flushed(s, ticket);
	}
	atomic_fetch_add(&s->commits, 1);
	atomic_store(&s->rollup_folded, rollup_writer_folded(s->rollups));

	i = 0;
	for (struct store_write *w = group, *next; w; w = next, i++) {
		next = w->next;
		int st = ok ? status[i] : -1;
		if (st == 0) {
			atomic_fetch_add(&s->writes, 1);
			atomic_fetch_add(&s->spans, w->batch.n_spans);
			atomic_fetch_add(&s->points, w->batch.n_points);
		} else {
			atomic_fetch_add(&s->failed_writes, 1);
		}
		if (w->done)
			w->done(w->done_arg, st);
		store_write_free(w);
	}
	free(status);
}

/* Flush rollups in a transaction of their own (when ingest pauses). */
static void flush_rollups_alone(struct store *s, uint64_t ticket)
{
	if (exec(s->db, "BEGIN IMMEDIATE") < 0)
		return;
	if (flush_rollups(s) == 0 && exec(s->db, "COMMIT") == 0) {
		rollups_flushed(s, ticket);
		return;
	}
	exec(s->db, "ROLLBACK");
	rollup_writer_forget(s->rollups);
	catch_up_rollups(s);
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->head && !s->stopping) {
			if (!s->rollups_dirty) {
				if (s->flush_wanted > s->flush_done) { /* nothing to flush */
					s->flush_done = s->flush_wanted;
					pthread_cond_broadcast(&s->flushed);
				}
				pthread_cond_wait(&s->wake, &s->lock);
				continue;
			}
			/* idle with rollups in memory only: flush them now if a reader
			 * waits, else within a second */
			uint64_t ticket = s->flush_wanted;
			int timed_out = 0;
			if (ticket <= s->flush_done) {
				struct timespec until;
				clock_gettime(CLOCK_REALTIME, &until);
				until.tv_sec += 1;
				timed_out = pthread_cond_timedwait(&s->wake, &s->lock, &until) == ETIMEDOUT;
				ticket = s->flush_wanted;
			}
			if ((timed_out || ticket > s->flush_done) && !s->head) {
				pthread_mutex_unlock(&s->lock);
				flush_rollups_alone(s, ticket);
				pthread_mutex_lock(&s->lock);
			}
		}
		if (!s->head) {
			/* stopping and drained: the last rollups reach the disk */
			if (s->rollups_dirty) {
				uint64_t ticket = s->flush_wanted;
				pthread_mutex_unlock(&s->lock);
				flush_rollups_alone(s, ticket);
				pthread_mutex_lock(&s->lock);
			}
			break;
		}
		/* take up to GROUP_MAX_WRITES queued writes */
		struct store_write *group = s->head, *last = group;
		size_t n = 1, bytes = group->bytes;
		while (last->next && n < GROUP_MAX_WRITES) {
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

int store_submit(struct store *s, struct store_write *w, store_done_fn done, void *arg)
{
	pthread_mutex_lock(&s->lock);
	/* One write larger than the whole queue is still accepted when the queue is empty. */
	if (s->stopping || (s->queue_writes && s->queue_bytes + w->bytes > s->queue_max)) {
		pthread_mutex_unlock(&s->lock);
		return STORE_EBUSY;
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

/* Submit `w` and wait for its commit, waiting for space in the queue. */
static int submit_sync(struct store *s, struct store_write *w)
{
	struct waiter wt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	while (store_submit(s, w, wake_waiter, &wt) == STORE_EBUSY) {
		pthread_mutex_lock(&s->lock);
		if (s->stopping) {
			pthread_mutex_unlock(&s->lock);
			store_write_free(w);
			return -1;
		}
		pthread_cond_wait(&s->space, &s->lock);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_lock(&wt.lock);
	while (!wt.finished)
		pthread_cond_wait(&wt.cond, &wt.lock);
	pthread_mutex_unlock(&wt.lock);
	return wt.status;
}

int store_write_sync(struct store *s, struct batch *b)
{
	return submit_sync(s, store_prepare(b));
}

static int open_db(const char *path, int readonly, sqlite3 **out, char *err, size_t errlen)
{
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, out, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		errf(err, errlen, "cannot open %s: %s", path, *out ? sqlite3_errmsg(*out) : "out of memory");
		sqlite3_close(*out);
		*out = NULL;
		return -1;
	}
	sqlite3_busy_timeout(*out, 10000);
	return 0;
}

int store_open(struct store **out, const struct store_options *o, char *err, size_t errlen)
{
	struct store *s = xcalloc(1, sizeof(*s));
	struct buf path;
	buf_init(&path, 4096);
	if (mkdir(o->dir, 0755) < 0 && errno != EEXIST) {
		errf(err, errlen, "cannot create data directory %s: %s", o->dir, strerror(errno));
		goto fail;
	}
	if (buf_printf(&path, "%s/hotpath.db", o->dir) < 0) {
		errf(err, errlen, "data directory path too long");
		goto fail;
	}
	s->path = buf_detach(&path, NULL);
	if (open_db(s->path, 0, &s->db, err, errlen) < 0)
		goto fail;
	if (exec(s->db, "PRAGMA journal_mode=WAL") < 0 || exec(s->db, "PRAGMA synchronous=FULL") < 0 ||
	    exec(s->db, "PRAGMA foreign_keys=OFF") < 0 || exec(s->db, "PRAGMA cache_size=-16000") < 0) {
		errf(err, errlen, "cannot configure %s: %s", s->path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (schema_migrate(s->db, err, errlen) < 0)
		goto fail;
	for (int i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
		    SQLITE_OK) {
			errf(err, errlen, "cannot prepare statement: %s", sqlite3_errmsg(s->db));
			goto fail;
		}
	strmap_init(&s->dict);
	strmap_init(&s->series);
	if (!(s->rollups = rollup_writer_new(s->db, o->max_endpoints, err, errlen)))
		goto fail;
	/* rollups lost (or never built) while requests exist: rebuild them all */
	exec(s->db, "UPDATE meta SET value = 0 WHERE key = 'rollup_watermark' AND NOT EXISTS"
		    " (SELECT 1 FROM rollups)");
	if (catch_up_rollups(s) < 0) {
		errf(err, errlen, "cannot bring the rollups up to date: %s", sqlite3_errmsg(s->db));
		goto fail;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->space, NULL);
	pthread_cond_init(&s->flushed, NULL);
	s->queue_max = o->queue_max_bytes ? o->queue_max_bytes : DEFAULT_QUEUE_BYTES;
	if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
		errf(err, errlen, "cannot start the writer thread");
		goto fail;
	}
	log_info("store: %s (schema %d, WAL, synchronous=FULL)", s->path, schema_version_latest());
	*out = s;
	return 0;
fail:
	buf_release(&path);
	rollup_writer_free(s->rollups);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
	return -1;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->wake);
	pthread_cond_broadcast(&s->space);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->writer, NULL);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	rollup_writer_free(s->rollups);
	exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)");
	for (size_t i = 0; i < s->n_readers; i++)
		sqlite3_close(s->readers[i]);
	sqlite3_close(s->db);
	strmap_release(&s->dict);
	strmap_release(&s->series);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->space);
	pthread_cond_destroy(&s->flushed);
	free(s->path);
	free(s);
}

void store_get_stats(struct store *s, struct store_stats *st)
{
	st->commits = atomic_load(&s->commits);
	st->writes = atomic_load(&s->writes);
	st->spans = atomic_load(&s->spans);
	st->points = atomic_load(&s->points);
	st->failed_writes = atomic_load(&s->failed_writes);
	pthread_mutex_lock(&s->lock);
	st->queue_bytes = s->queue_bytes;
	st->queue_writes = s->queue_writes;
	pthread_mutex_unlock(&s->lock);
	st->rollup_folded = atomic_load(&s->rollup_folded);
}

/* ---- reads ----------------------------------------------------------- */

static sqlite3 *reader_get(struct store *s, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->n_readers)
		db = s->readers[--s->n_readers];
	pthread_mutex_unlock(&s->lock);
	if (!db && open_db(s->path, 1, &db, err, errlen) < 0)
		return NULL;
	return db;
}

static void reader_put(struct store *s, sqlite3 *db)
{
	pthread_mutex_lock(&s->lock);
	if (s->n_readers < READ_POOL_MAX) {
		s->readers[s->n_readers++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	sqlite3_close(db);
}

static int cmp_start(const void *pa, const void *pb)
{
	const struct span *a = pa, *b = pb;
	return (a->start_ns > b->start_ns) - (a->start_ns < b->start_ns);
}

long store_get_trace(struct store *s, const uint8_t trace_id[16], struct batch *out, char *err, size_t errlen)
{
	sqlite3 *db = reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	long total = 0;
	size_t first = out->n_spans;
	if (!db)
		return -1;
	if (sqlite3_prepare_v2(db,
			       "SELECT b.data FROM trace_index t JOIN blocks b ON b.id = t.block"
			       " WHERE t.trace = ? ORDER BY t.block",
			       -1, &st, NULL) != SQLITE_OK) {
		total = errf(err, errlen, "trace lookup: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, be64(trace_id));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long n = block_decode(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
				      &(struct block_filter){.trace_id = trace_id}, out, err, errlen);
		if (n < 0) {
			total = -1;
			goto out;
		}
		total += n;
	}
	if (rc != SQLITE_DONE)
		total = errf(err, errlen, "trace lookup: %s", sqlite3_errmsg(db));
	else if (out->n_spans > first)
		qsort(out->spans + first, out->n_spans - first, sizeof(*out->spans), cmp_start);
out:
	sqlite3_finalize(st);
	reader_put(s, db);
	return total;
}

void store_query_init(struct store_query *q)
{
	memset(q, 0, sizeof(*q));
	q->status = -1;
	q->limit = 50;
	q->order = STORE_NEWEST;
}

static int cmp_service_version(const void *a, const void *b)
{
	return strcmp(((const struct service_version *)a)->service,
		      ((const struct service_version *)b)->service);
}

int store_query_version_ok(const struct store_query *q, const char *service, const char *version)
{
	if (!q->latest)
		return !q->version || (version && !strcmp(q->version, version));
	if (!service || !q->n_latest)
		return 0;
	const struct service_version key = {.service = service};
	const struct service_version *p =
		bsearch(&key, q->latest_versions, q->n_latest, sizeof(key), cmp_service_version);
	if (!p)
		return 0;
	return p->version ? version && !strcmp(p->version, version) : !version;
}

/* Bind values collected while building a query. */
struct binds {
	int n;
	struct {
		int is_text;
		const char *text;
		int64_t num;
	} v[32];
};

static void add_text(struct buf *sql, struct binds *bd, const char *column, enum dict_kind kind,
		     const char *value)
{
	if (!value)
		return;
	buf_printf(sql, " AND r.%s = (SELECT id FROM dict WHERE kind = %d AND value = ?)", column, kind);
	bd->v[bd->n].is_text = 1;
	bd->v[bd->n++].text = value;
}

static void add_num(struct buf *sql, struct binds *bd, const char *cond, int64_t v)
{
	buf_printf(sql, " AND %s ?", cond);
	bd->v[bd->n].is_text = 0;
	bd->v[bd->n++].num = v;
}

/*
 * version=latest: the (service, version) pairs, bound as one JSON array of
 * [service, version|null] written into `json` (which must outlive the
 * statement).  A version the dictionary does not hold matches nothing.
 */
static void add_latest(struct buf *sql, struct binds *bd, const struct store_query *q, struct buf *json)
{
	if (!q->latest)
		return;
	buf_putc(json, '[');
	for (size_t i = 0; i < q->n_latest; i++) {
		buf_puts(json, i ? ",[" : "[");
		buf_put_json_str(json, q->latest_versions[i].service);
		buf_putc(json, ',');
		if (q->latest_versions[i].version)
			buf_put_json_str(json, q->latest_versions[i].version);
		else
			buf_puts(json, "null");
		buf_putc(json, ']');
	}
	buf_putc(json, ']');
	buf_printf(
		sql,
		" AND (r.service, IFNULL(r.version, 0)) IN (SELECT s.id, IFNULL(v.id, 0) FROM json_each(?) j"
		" JOIN dict s ON s.kind = %d AND s.value = json_extract(j.value, '$[0]')"
		" LEFT JOIN dict v ON v.kind = %d AND v.value = json_extract(j.value, '$[1]')"
		" WHERE v.id IS NOT NULL OR json_extract(j.value, '$[1]') IS NULL)",
		DICT_SERVICE, DICT_VERSION);
	bd->v[bd->n].is_text = 1;
	bd->v[bd->n++].text = json->data;
}

/* `json` holds the bound text of version=latest; NULL when q has none. */
static void where_clause(struct buf *sql, struct binds *bd, const struct store_query *q, struct buf *json)
{
	buf_puts(sql, " WHERE 1");
	if (q->to_ns)
		add_num(sql, bd, "r.start_ns <", (int64_t)q->to_ns);
	if (q->from_ns)
		add_num(sql, bd, "r.start_ns >=", (int64_t)q->from_ns);
	add_text(sql, bd, "service", DICT_SERVICE, q->service);
	add_text(sql, bd, "endpoint", DICT_ENDPOINT, q->endpoint);
	add_text(sql, bd, "env", DICT_ENV, q->env);
	add_text(sql, bd, "version", DICT_VERSION, q->version);
	if (json)
		add_latest(sql, bd, q, json);
	add_text(sql, bd, "department", DICT_DEPARTMENT, q->department);
	add_text(sql, bd, "intent", DICT_INTENT, q->intent);
	add_text(sql, bd, "tool", DICT_TOOL, q->tool);
	if (q->status >= 0)
		add_num(sql, bd, "r.status =", q->status);
	if (q->min_duration_ns)
		add_num(sql, bd, "r.duration_ns >=", (int64_t)q->min_duration_ns);
	if (q->max_duration_ns)
		add_num(sql, bd, q->max_exclusive ? "r.duration_ns <" : "r.duration_ns <=",
			(int64_t)q->max_duration_ns);
	if (q->edge_only)
		buf_puts(sql, " AND r.edge = 1");
}

static void bind_all(sqlite3_stmt *st, const struct binds *bd)
{
	for (int i = 0; i < bd->n; i++) {
		if (bd->v[i].is_text)
			sqlite3_bind_text(st, i + 1, bd->v[i].text, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, i + 1, bd->v[i].num);
	}
}

static const char *col_text(struct arena *a, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(st, col)) : NULL;
}

int store_search(struct store *s, const struct store_query *q, struct arena *a, struct request_row **rows,
		 size_t *n, char *err, size_t errlen)
{
	struct buf sql, json;
	struct binds bd = {0};
	sqlite3_stmt *st = NULL;
	int ret = -1;
	sqlite3 *db = reader_get(s, err, errlen);
	*rows = NULL;
	*n = 0;
	if (!db)
		return -1;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_init(&json, BUF_NO_LIMIT);
	buf_puts(&sql,
		 "SELECT r.start_ns, r.duration_ns, r.trace_hi, r.trace_lo, r.span_id, r.status, r.edge");
	static const char *const cols[] = {"service",	 "endpoint", "env", "version",
					   "department", "intent",   "tool"};
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]) && !q->ids_only; i++)
		buf_printf(&sql, ", (SELECT value FROM dict WHERE id = r.%s)", cols[i]);
	buf_puts(&sql, " FROM requests r");
	where_clause(&sql, &bd, q, &json);
	buf_printf(&sql, " ORDER BY %s LIMIT %u",
		   q->order == STORE_SLOWEST	? "r.duration_ns DESC"
		   : q->order == STORE_BY_TRACE ? "r.trace_lo, r.trace_hi, r.start_ns"
						: "r.start_ns DESC",
		   q->limit);
	if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "search: %s", sqlite3_errmsg(db));
		goto out;
	}
	bind_all(st, &bd);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*rows = arena_grow(a, *rows, &cap, *n + 1, sizeof(**rows));
		struct request_row *r = &(*rows)[(*n)++];
		memset(r, 0, sizeof(*r));
		r->start_ns = (uint64_t)sqlite3_column_int64(st, 0);
		r->duration_ns = (uint64_t)sqlite3_column_int64(st, 1);
		put_be64(r->trace_id, sqlite3_column_int64(st, 2));
		put_be64(r->trace_id + 8, sqlite3_column_int64(st, 3));
		put_be64(r->span_id, sqlite3_column_int64(st, 4));
		r->status = (uint8_t)sqlite3_column_int(st, 5);
		r->edge = (uint8_t)sqlite3_column_int(st, 6);
		if (q->ids_only)
			continue;
		r->service = col_text(a, st, 7);
		r->endpoint = col_text(a, st, 8);
		r->env = col_text(a, st, 9);
		r->version = col_text(a, st, 10);
		r->department = col_text(a, st, 11);
		r->intent = col_text(a, st, 12);
		r->tool = col_text(a, st, 13);
	}
	if (rc != SQLITE_DONE) {
		errf(err, errlen, "search: %s", sqlite3_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	buf_release(&sql);
	buf_release(&json);
	reader_put(s, db);
	return ret;
}

static void wait_rollups_flushed(struct store *s);

int store_latest_versions(struct store *s, const struct store_query *q, struct arena *a,
			  struct service_version **pairs, size_t *n, char *err, size_t errlen)
{
	wait_rollups_flushed(s);
	sqlite3 *db = reader_get(s, err, errlen);
	*pairs = NULL;
	*n = 0;
	if (!db)
		return -1;
	int rc = values_latest(db, q, a, pairs, n, err, errlen);
	reader_put(s, db);
	if (rc == 0 && *n)
		qsort(*pairs, *n, sizeof(**pairs), cmp_service_version);
	return rc;
}

int store_count(struct store *s, const struct store_query *q, uint64_t *n, char *err, size_t errlen)
{
	struct buf sql, json;
	struct binds bd = {0};
	sqlite3_stmt *st = NULL;
	int ret = -1;
	sqlite3 *db = reader_get(s, err, errlen);
	*n = 0;
	if (!db)
		return -1;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_init(&json, BUF_NO_LIMIT);
	buf_puts(&sql, "SELECT count(*) FROM requests r");
	where_clause(&sql, &bd, q, &json);
	if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "count: %s", sqlite3_errmsg(db));
		goto out;
	}
	bind_all(st, &bd);
	if (sqlite3_step(st) != SQLITE_ROW) {
		errf(err, errlen, "count: %s", sqlite3_errmsg(db));
		goto out;
	}
	*n = (uint64_t)sqlite3_column_int64(st, 0);
	ret = 0;
out:
	sqlite3_finalize(st);
	buf_release(&sql);
	buf_release(&json);
	reader_put(s, db);
	return ret;
}

/* One integer from `sql`, its parameters bound to args[0 .. n); 1, or 0
 * with no row (or NULL). */
static int query_int(sqlite3 *db, const char *sql, const int64_t *args, int n, int64_t *v, char *err,
		     size_t errlen)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return errf(err, errlen, "%s", sqlite3_errmsg(db));
	for (int i = 0; i < n; i++)
		sqlite3_bind_int64(st, i + 1, args[i]);
	int rc = sqlite3_step(st), ret = 0;
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*v = sqlite3_column_int64(st, 0);
		ret = 1;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = errf(err, errlen, "%s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return ret;
}

long store_newest_requests(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned n, uint64_t *start_ns,
			   uint64_t *end_ns, char *err, size_t errlen)
{
	int64_t to = to_ns ? (int64_t)to_ns : INT64_MAX, count = 0, v;
	long ret = -1;
	sqlite3 *db = reader_get(s, err, errlen);
	if (!db)
		return -1;
	*start_ns = from_ns;
	*end_ns = to_ns;
	/* the time index alone answers both: no request row is read */
	int64_t args[3] = {(int64_t)from_ns, to, n ? n - 1 : 0};
	int rc = query_int(db,
			   "SELECT start_ns FROM requests WHERE start_ns >= ?1 AND start_ns < ?2"
			   " ORDER BY start_ns DESC LIMIT 1 OFFSET ?3",
			   args, 3, &v, err, errlen);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		*start_ns = (uint64_t)v;
		count = n;
	} else if (query_int(db, "SELECT count(*) FROM requests WHERE start_ns >= ?1 AND start_ns < ?2", args,
			     2, &count, err, errlen) < 0) {
		goto out;
	}
	args[0] = (int64_t)*start_ns;
	rc = query_int(db, "SELECT max(t_max) FROM blocks WHERE t_max >= ?1 AND t_min < ?2", args, 2, &v, err,
		       errlen);
	if (rc < 0)
		goto out;
	if (rc == 1 && (uint64_t)v >= *end_ns)
		*end_ns = (uint64_t)v + 1;
	ret = n ? count : 0;
out:
	reader_put(s, db);
	return ret;
}

int store_filter_values(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned kinds, struct arena *a,
			struct store_dim_values *out, char *err, size_t errlen)
{
	wait_rollups_flushed(s);
	sqlite3 *db = reader_get(s, err, errlen);
	if (!db)
		return -1;
	int rc = values_read(db, from_ns, to_ns, kinds, a, out, err, errlen);
	reader_put(s, db);
	return rc;
}

int store_values(struct store *s, enum dict_kind kind, uint64_t from_ns, uint64_t to_ns, struct arena *a,
		 const char ***values, size_t *n, char *err, size_t errlen)
{
	struct store_dim_values v;
	*values = NULL;
	*n = 0;
	if (kind <= 0 || kind >= DICT_KINDS)
		return errf(err, errlen, "unknown dimension");
	if (store_filter_values(s, from_ns, to_ns, 1u << kind, a, &v, err, errlen) < 0)
		return -1;
	*values = v.values[kind];
	*n = v.n[kind];
	return 0;
}

/* Read-your-writes for rollups: every request committed before the query
 * is rolled up in what it reads (bounded wait: 2 s). */
static void wait_rollups_flushed(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->rollups_dirty && !s->stopping) {
		uint64_t ticket = ++s->flush_wanted;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		pthread_cond_signal(&s->wake);
		while (s->flush_done < ticket)
			if (pthread_cond_timedwait(&s->flushed, &s->lock, &until) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&s->lock);
}

int store_rollups(struct store *s, const struct store_query *q, unsigned res_s, struct arena *a,
		  struct rollup_row **rows, size_t *n, char *err, size_t errlen)
{
	wait_rollups_flushed(s);
	sqlite3 *db = reader_get(s, err, errlen);
	if (!db)
		return -1;
	int rc = rollup_query(db, q, res_s, a, rows, n, err, errlen);
	reader_put(s, db);
	return rc;
}

/* Decode every block the scan selects in write order and hand its spans
 * (and the earliest start among them) to `fn` until it returns non-zero. */
typedef int (*block_fn)(void *arg, const struct batch *b, uint64_t t_min);

static int scan_blocks(struct store *s, const struct store_scan *sc, block_fn fn, void *arg, char *err,
		       size_t errlen)
{
	sqlite3 *db = reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	struct batch b;
	int ret = -1, rc;
	if (!db)
		return -1;
	batch_init(&b);
	if (sqlite3_prepare_v2(db,
			       "SELECT data, t_min FROM blocks WHERE t_max >= ? AND t_min < ? AND id % ? = ?"
			       " AND id >= ? AND id <= ? ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "scan: %s", sqlite3_errmsg(db));
		goto out;
	}
	unsigned every = sc->every ? sc->every : 1;
	sqlite3_bind_int64(st, 1, (int64_t)sc->from_ns);
	sqlite3_bind_int64(st, 2, sc->to_ns ? (int64_t)sc->to_ns : INT64_MAX);
	sqlite3_bind_int64(st, 3, every);
	sqlite3_bind_int64(st, 4, sc->offset % every);
	sqlite3_bind_int64(st, 5, (int64_t)sc->first_id);
	sqlite3_bind_int64(st, 6, sc->last_id ? (int64_t)sc->last_id : INT64_MAX);
	struct block_filter want = {.keep_key = sc->keep_key,
				    .skeleton = sc->skeleton,
				    .keep_trace = sc->keep_trace,
				    .keep_trace_arg = sc->keep_trace_arg};
	int stop = 0;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		batch_reset(&b);
		if (block_decode(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &want, &b,
				 err, errlen) < 0)
			goto out;
		stop = fn(arg, &b, (uint64_t)sqlite3_column_int64(st, 1));
	}
	if (!stop && rc != SQLITE_DONE) {
		errf(err, errlen, "scan: %s", sqlite3_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	batch_release(&b);
	sqlite3_finalize(st);
	reader_put(s, db);
	return ret;
}

struct scan_cb {
	store_span_fn span;
	store_trace_fn trace;
	int (*block)(void *arg, uint64_t t_min);
	void *arg;
};

static int block_spans(void *arg, const struct batch *b, uint64_t t_min)
{
	(void)t_min;
	const struct scan_cb *cb = arg;
	int stop = 0;
	for (size_t i = 0; i < b->n_spans && !stop; i++)
		stop = cb->span(cb->arg, &b->spans[i]);
	return stop;
}

/* A block holds its spans by trace, then start time. */
static int block_traces(void *arg, const struct batch *b, uint64_t t_min)
{
	const struct scan_cb *cb = arg;
	int stop = cb->block ? cb->block(cb->arg, t_min) : 0;
	for (size_t i = 0, j; i < b->n_spans && !stop; i = j) {
		for (j = i + 1; j < b->n_spans && !memcmp(b->spans[j].trace_id, b->spans[i].trace_id, 16);
		     j++)
			;
		stop = cb->trace(cb->arg, &b->spans[i], j - i);
	}
	return stop;
}

int store_scan_spans(struct store *s, uint64_t from_ns, uint64_t to_ns, store_span_fn fn, void *arg,
		     char *err, size_t errlen)
{
	struct scan_cb cb = {.span = fn, .arg = arg};
	struct store_scan sc = {.from_ns = from_ns, .to_ns = to_ns};
	return scan_blocks(s, &sc, block_spans, &cb, err, errlen);
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
	struct scan_cb cb = {.trace = fn, .block = sc->block, .arg = arg};
	return scan_blocks(s, sc, block_traces, &cb, err, errlen);
}

int store_blocks_info(struct store *s, uint64_t first_id, uint64_t last_id, struct store_blocks *out,
		      char *err, size_t errlen)
{
	sqlite3 *db = reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	int ret = -1;
	memset(out, 0, sizeof(*out));
	if (!db)
		return -1;
	if (sqlite3_prepare_v2(db,
			       "SELECT count(*), max(id), min(t_min), max(t_min), min(t_max), max(t_max)"
			       " FROM blocks WHERE id >= ? AND id <= ?",
			       -1, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "blocks: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, (int64_t)first_id);
	sqlite3_bind_int64(st, 2, last_id ? (int64_t)last_id : INT64_MAX);
	if (sqlite3_step(st) != SQLITE_ROW) {
		errf(err, errlen, "blocks: %s", sqlite3_errmsg(db));
		goto out;
	}
	uint64_t *v[] = {&out->count,	  &out->max_id,	   &out->min_t_min,
			 &out->max_t_min, &out->min_t_max, &out->max_t_max};
	for (int i = 0; i < 6; i++)
		*v[i] = (uint64_t)sqlite3_column_int64(st, i); /* NULL reads as 0 */
	ret = 0;
out:
	sqlite3_finalize(st);
	reader_put(s, db);
	return ret;
}

int store_last_block(struct store *s, uint64_t *id, char *err, size_t errlen)
{
	sqlite3 *db = reader_get(s, err, errlen);
	int64_t v = 0;
	if (!db)
		return -1;
	int rc = query_int(db, "SELECT max(id) FROM blocks", NULL, 0, &v, err, errlen);
	reader_put(s, db);
	*id = (uint64_t)v;
	return rc < 0 ? -1 : 0;
}

/* Attributes of a series back from their JSON object (strings and numbers). */
static uint32_t series_attrs(struct arena *a, const char *json, struct attr **out)
{
	struct json_doc d;
	char err[128];
	uint32_t n = 0;
	*out = NULL;
	if (json_doc_parse(&d, json, strlen(json), 0, err, sizeof(err)) == 0 && d.root &&
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

int store_scan_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
		      store_point_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3 *db = reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	int ret = -1, rc;
	struct arena a;
	arena_init(&a);
	if (!db)
		return -1;
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT s.id, (SELECT value FROM dict WHERE id = s.service), s.name, s.unit,"
		    " s.type, s.attrs, p.time_ns, p.value, p.count, p.sum, s.resource"
		    " FROM metric_series s JOIN metric_points p ON p.series = s.id"
		    " WHERE substr(s.name, 1, length(?1)) = ?1 AND p.time_ns >= ?2 AND p.time_ns < ?3"
		    " ORDER BY s.id, p.time_ns",
		    -1, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "metric scan: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, prefix ? prefix : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)from_ns);
	sqlite3_bind_int64(st, 3, to_ns ? (int64_t)to_ns : INT64_MAX);
	int64_t series = -1;
	struct resource res = {0};
	struct metric_point p = {0};
	int stop = 0;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_int64(st, 0) != series) { /* a new series: its fields once */
			series = sqlite3_column_int64(st, 0);
			arena_release(&a);
			arena_init(&a);
			res = (struct resource){0};
			res.n_attrs = series_attrs(&a, (const char *)sqlite3_column_text(st, 10), &res.attrs);
			resource_derive(&res);
			res.service_name = col_text(&a, st, 1);
			p = (struct metric_point){.resource = &res};
			p.name = col_text(&a, st, 2);
			p.unit = col_text(&a, st, 3);
			p.type = (uint8_t)sqlite3_column_int(st, 4);
			p.n_attrs = series_attrs(&a, (const char *)sqlite3_column_text(st, 5), &p.attrs);
		}
		p.time_ns = (uint64_t)sqlite3_column_int64(st, 6);
		p.value = sqlite3_column_double(st, 7);
		p.count = (uint64_t)sqlite3_column_int64(st, 8);
		p.sum = sqlite3_column_double(st, 9);
		stop = fn(arg, &p);
	}
	if (!stop && rc != SQLITE_DONE) {
		errf(err, errlen, "metric scan: %s", sqlite3_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	arena_release(&a);
	sqlite3_finalize(st);
	reader_put(s, db);
	return ret;
}

/* ---- documents, events, profiles ------------------------------------- */

/* Write one record alone and wait until it is durable. */
static int write_record(struct store *s, struct record *rec, size_t bytes, char *err, size_t errlen)
{
	struct batch empty;
	batch_init(&empty);
	struct store_write *w = store_prepare(&empty);
	w->rec = rec;
	w->bytes += bytes;
	if (submit_sync(s, w) < 0)
		return errf(err, errlen, "the store could not write the record (see the server log)");
	return 0;
}

static int check_record(const struct store_record *r, char *err, size_t errlen)
{
	if (!r->kind || !r->id || !r->json)
		return errf(err, errlen, "a record needs a kind, an id and a JSON value");
	return 0;
}

int store_put_doc(struct store *s, const struct store_record *r, char *err, size_t errlen)
{
	struct record rec = {.type = REC_DOC, .r = *r};
	if (check_record(r, err, errlen) < 0)
		return -1;
	return write_record(s, &rec, strlen(r->json), err, errlen);
}

int store_add_event(struct store *s, const struct store_record *r, char *err, size_t errlen)
{
	struct record rec = {.type = REC_EVENT, .r = *r};
	if (check_record(r, err, errlen) < 0)
		return -1;
	return write_record(s, &rec, strlen(r->json), err, errlen);
}

/* Rows of a SELECT kind, id, time_ns, json into an array in `a`. */
static int read_records(sqlite3_stmt *st, struct arena *a, struct store_record **rows, size_t *n, char *err,
			size_t errlen)
{
	size_t cap = 0;
	int rc;
	*rows = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*rows = arena_grow(a, *rows, &cap, *n + 1, sizeof(**rows));
		struct store_record *r = &(*rows)[(*n)++];
		r->kind = col_text(a, st, 0);
		r->id = col_text(a, st, 1);
		r->time_ns = (uint64_t)sqlite3_column_int64(st, 2);
		r->json = col_text(a, st, 3);
	}
	if (rc != SQLITE_DONE)
		return errf(err, errlen, "records: %s", sqlite3_errmsg(sqlite3_db_handle(st)));
	return 0;
}

/* Records of `kind` (and `id` unless NULL) with time in [from_ns, to_ns)
 * from one of the record tables; `sql` selects kind, id, time_ns, json
 * with parameters ?1 kind, ?2 id, ?3 from, ?4 to, ?5 limit. */
static int query_records(struct store *s, const char *sql, const char *kind, const char *id, uint64_t from_ns,
			 uint64_t to_ns, unsigned limit, struct arena *a, struct store_record **rows,
			 size_t *n, char *err, size_t errlen)
{
	sqlite3 *db = reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	int ret = -1;
	*rows = NULL;
	*n = 0;
	if (!db)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "records: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	bind_text_or_null(st, 2, id);
	sqlite3_bind_int64(st, 3, (int64_t)from_ns);
	sqlite3_bind_int64(st, 4, to_ns ? (int64_t)to_ns : INT64_MAX);
	sqlite3_bind_int64(st, 5, limit ? (int64_t)limit : -1);
	ret = read_records(st, a, rows, n, err, errlen);
out:
	sqlite3_finalize(st);
	reader_put(s, db);
	return ret;
}

int store_docs(struct store *s, const char *kind, const char *id, struct arena *a, struct store_record **rows,
	       size_t *n, char *err, size_t errlen)
{
	return query_records(
		s,
		"SELECT kind, id, time_ns, json FROM docs WHERE kind = ?1 AND (?2 IS NULL OR id = ?2)"
		" AND time_ns >= ?3 AND time_ns < ?4 ORDER BY id LIMIT ?5",
		kind, id, 0, 0, 0, a, rows, n, err, errlen);
}

int store_events(struct store *s, const char *kind, const char *id, uint64_t from_ns, uint64_t to_ns,
		 unsigned limit, struct arena *a, struct store_record **rows, size_t *n, char *err,
		 size_t errlen)
{
	return query_records(
		s,
		"SELECT kind, id, time_ns, json FROM events WHERE kind = ?1 AND (?2 IS NULL OR id = ?2)"
		" AND time_ns >= ?3 AND time_ns < ?4 ORDER BY time_ns DESC, seq DESC LIMIT ?5",
		kind, id, from_ns, to_ns, limit, a, rows, n, err, errlen);
}

#define PROFILE_MAX_RAW (256u << 20)

int store_put_profile(struct store *s, const struct profile_row *p, int64_t *id, char *err, size_t errlen)
{
	if (!p->service || !p->type || !p->unit)
		return errf(err, errlen, "a profile needs a service, a type and a unit");
	if (p->folded_len > PROFILE_MAX_RAW)
		return errf(err, errlen, "profile of %zu bytes of stacks is over the limit of %u",
			    p->folded_len, PROFILE_MAX_RAW);
	size_t cap = ZSTD_compressBound(p->folded_len);
	void *z = xmalloc(cap ? cap : 1);
	size_t zlen = ZSTD_compress(z, cap, p->folded, p->folded_len, 3);
	if (ZSTD_isError(zlen)) {
		free(z);
		return errf(err, errlen, "cannot compress the profile: %s", ZSTD_getErrorName(zlen));
	}
	struct record rec = {.type = REC_PROFILE, .p = *p, .id = (int64_t)p->folded_len};
	rec.p.folded = z;
	rec.p.folded_len = zlen;
	int rc = write_record(s, &rec, zlen, err, errlen);
	free(z);
	if (rc == 0 && id)
		*id = rec.id;
	return rc;
}

int store_profiles(struct store *s, const struct profile_query *q, struct arena *a, struct profile_row **rows,
		   size_t *n, char *err, size_t errlen)
{
	sqlite3 *db = reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	int ret = -1, rc;
	size_t cap = 0;
	*rows = NULL;
	*n = 0;
	if (!db)
		return -1;
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT id, start_ns, end_ns, service, version, env, type, unit, labels, total,"
		    " raw_len, CASE WHEN ?1 THEN data END FROM profiles"
		    " WHERE end_ns >= ?2 AND start_ns < ?3 AND (?4 IS NULL OR service = ?4)"
		    " AND (?5 IS NULL OR version = ?5) AND (?6 IS NULL OR env = ?6)"
		    " AND (?7 IS NULL OR type = ?7) AND (?8 <= 0 OR id = ?8)"
		    " ORDER BY start_ns DESC, id DESC LIMIT ?9",
		    -1, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "profiles: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int(st, 1, q->with_data != 0);
	sqlite3_bind_int64(st, 2, (int64_t)q->from_ns);
	sqlite3_bind_int64(st, 3, q->to_ns ? (int64_t)q->to_ns : INT64_MAX);
	bind_text_or_null(st, 4, q->service);
	bind_text_or_null(st, 5, q->version);
	bind_text_or_null(st, 6, q->env);
	bind_text_or_null(st, 7, q->type);
	sqlite3_bind_int64(st, 8, q->id);
	sqlite3_bind_int64(st, 9, q->limit ? (int64_t)q->limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*rows = arena_grow(a, *rows, &cap, *n + 1, sizeof(**rows));
		struct profile_row *p = &(*rows)[(*n)++];
		memset(p, 0, sizeof(*p));
		p->id = sqlite3_column_int64(st, 0);
		p->start_ns = (uint64_t)sqlite3_column_int64(st, 1);
		p->end_ns = (uint64_t)sqlite3_column_int64(st, 2);
		p->service = col_text(a, st, 3);
		p->version = col_text(a, st, 4);
		p->env = col_text(a, st, 5);
		p->type = col_text(a, st, 6);
		p->unit = col_text(a, st, 7);
		p->labels = col_text(a, st, 8);
		p->total = (uint64_t)sqlite3_column_int64(st, 9);
		if (!q->with_data)
			continue;
		int64_t raw = sqlite3_column_int64(st, 10);
		if (raw < 0 || raw > PROFILE_MAX_RAW) {
			errf(err, errlen, "profile %lld: bad stored length", (long long)p->id);
			goto out;
		}
		char *text = arena_alloc(a, (size_t)raw + 1);
		size_t got = ZSTD_decompress(text, (size_t)raw, sqlite3_column_blob(st, 11),
					     (size_t)sqlite3_column_bytes(st, 11));
		if (ZSTD_isError(got) || got != (size_t)raw) {
			errf(err, errlen, "profile %lld: corrupt stacks", (long long)p->id);
			goto out;
		}
		text[raw] = '\0';
		p->folded = text;
		p->folded_len = (size_t)raw;
	}
	if (rc != SQLITE_DONE) {
		errf(err, errlen, "profiles: %s", sqlite3_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	reader_put(s, db);
	return ret;
}
