/*
 * sqlite_write.c - the embedded store: one SQLite file in WAL mode; its
 * write path, the writer thread, opening and closing (reads: sqlite_read.c,
 * records: sqlite_records.c).
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
#include "ingest/annotate.h"
#include "ingest/semconv.h"
#include "store/backend.h"
#include "store/block.h"
#include "store/metric_log.h"
#include "store/rollup.h"
#include "store/schema.h"
#include "store/sqlite_store.h"

#define BLOCK_SPANS	    4096	      /* a block is cut at the first trace's end past this */
#define BLOCK_MAX_SPANS	    (2 * BLOCK_SPANS) /* at most: a larger trace is split (cut_blocks) */
#define DEFAULT_QUEUE_BYTES (64u << 20)
#define GROUP_MAX_WRITES    256 /* writes per transaction, at most */
/* ---- prepared writes ------------------------------------------------- */

static int cmp_trace(const void *pa, const void *pb)
{
	const struct span *a = *(const struct span *const *)pa, *b = *(const struct span *const *)pb;
	int c = memcmp(a->trace_id, b->trace_id, 16);
	return c ? c : (a->start_ns > b->start_ns) - (a->start_ns < b->start_ns);
}

/* One block of spans[0, n); tools[] are the spans' tools, found over the
 * whole write so that a trace split into blocks finds the same ones. */
static void prepare_block(struct store_write *w, const struct span **spans, const char **tools, size_t n)
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
			r->error_type = annotate_request(&w->batch.arena, spans[i], &r->row);
			r->row.tool = tools[i];
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

/*
 * Cut blocks at trace boundaries, once a block has BLOCK_SPANS spans; a
 * trace that would take a block past BLOCK_MAX_SPANS is split: the whole
 * traces before it go first, then the trace in blocks of BLOCK_MAX_SPANS.
 * Each part lists the trace, so trace_index maps it to all its blocks,
 * and a reader of the trace finds them all.
 */
static void cut_blocks(struct store_write *w, const struct span **sorted, const char **tools, size_t n)
{
	size_t start = 0, trace_start = 0;
	for (size_t i = 1; i <= n; i++) {
		if (i == n || memcmp(sorted[i]->trace_id, sorted[i - 1]->trace_id, 16)) {
			if (i == n || i - start >= BLOCK_SPANS) {
				prepare_block(w, sorted + start, tools + start, i - start);
				start = i;
			}
			trace_start = i;
		} else if (i - start >= BLOCK_MAX_SPANS) {
			if (trace_start > start) {
				prepare_block(w, sorted + start, tools + start, trace_start - start);
				start = trace_start;
			}
			if (i - start >= BLOCK_MAX_SPANS) {
				prepare_block(w, sorted + start, tools + start, i - start);
				start = i;
			}
		}
	}
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
	const char **tools = xmalloc((n ? n : 1) * sizeof(*tools));
	annotate_tools(sorted, n, tools);
	cut_blocks(w, sorted, tools, n);
	free(tools);
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

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BLOCK] = "INSERT INTO blocks(t_min, t_max, n_spans, data) VALUES(?,?,?,?)",
	[ST_TRACE] = "INSERT OR IGNORE INTO trace_index(trace, block) VALUES(?,?)",
	[ST_REQUEST] = "INSERT INTO requests(start_ns, duration_ns, trace_hi, trace_lo, span_id, status,"
		       " service, endpoint, env, version, department, intent, tool, id, error_type, edge)"
		       " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_DICT_INSERT] = "INSERT OR IGNORE INTO dict(kind, value) VALUES(?,?)",
	[ST_DICT_SELECT] = "SELECT id FROM dict WHERE kind=? AND value=?",
	[ST_SERIES_INSERT] = "INSERT OR IGNORE INTO metric_series(service, name, unit, type, attrs, resource)"
			     " VALUES(?,?,?,?,?,?)",
	[ST_SERIES_SELECT] =
		"SELECT id FROM metric_series WHERE service=? AND name=? AND attrs=? AND resource=?",
	/* a write's points, folded into metric_points and metric_hours later (metric_log.h) */
	[ST_POINT_LOG] = "INSERT INTO metric_log(data) VALUES(?)",
	[ST_DOC] = "INSERT OR REPLACE INTO docs(kind, id, time_ns, json) VALUES(?,?,?,?)",
	[ST_EVENT] = "INSERT INTO events(kind, id, time_ns, json) VALUES(?,?,?,?)",
	[ST_PROFILE] = "INSERT INTO profiles(start_ns, end_ns, service, version, env, type, unit, labels,"
		       " total, raw_len, data) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
	[ST_AGG] = "INSERT OR REPLACE INTO aggregates(kind, t, key, data) VALUES(?,?,?,?)",
	[ST_DOC_DELETE] = "DELETE FROM docs WHERE kind = ? AND id = ?",
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

/* The service id and resource identity of the resource last seen: the
 * points of a write mostly come resource by resource. */
struct series_resource {
	const struct resource *r;
	int64_t svc;
	struct buf ident; /* JSON of the identity attributes */
};

static int series_resource_of(struct store *s, const struct resource *r, struct series_resource *c)
{
	if (c->r == r)
		return 0;
	c->r = NULL;
	if ((c->svc = dict_id(s, DICT_SERVICE, r->service_name)) < 0)
		return -1;
	struct attr ident[sizeof(series_resource_keys) / sizeof(series_resource_keys[0])];
	uint32_t n_ident = 0;
	for (size_t i = 0; i < sizeof(ident) / sizeof(ident[0]); i++) {
		const struct attr *a = attr_find(r->attrs, r->n_attrs, series_resource_keys[i]);
		if (a)
			ident[n_ident++] = *a;
	}
	buf_reset(&c->ident);
	attrs_to_json(&c->ident, ident, n_ident);
	c->r = r;
	return 0;
}

static int64_t series_id(struct store *s, const struct metric_point *p, struct series_resource *c,
			 struct buf *key)
{
	int64_t id;
	if (series_resource_of(s, p->resource, c) < 0)
		return -1;
	int64_t svc = c->svc;
	/* the series key: service id | name | attributes NUL resource identity */
	buf_reset(key);
	buf_printf(key, "%lld|", (long long)svc);
	buf_puts(key, p->name);
	buf_putc(key, '|');
	size_t prefix = key->len;
	attrs_to_json(key, p->attrs, p->n_attrs);
	buf_putc(key, '\0');
	size_t res_at = key->len;
	buf_append(key, c->ident.data, c->ident.len);
	if (strmap_get(&s->series, key->data, key->len, &id) == 0)
		return id;
	const char *attrs = key->data + prefix, *resource = key->data + res_at;
	sqlite3_stmt *ins = s->st[ST_SERIES_INSERT], *sel = s->st[ST_SERIES_SELECT];
	sqlite3_bind_int64(ins, 1, svc);
	sqlite3_bind_text(ins, 2, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 3, p->unit ? p->unit : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(ins, 4, p->type | (p->delta ? SERIES_TYPE_DELTA : 0));
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

/* The write's points as one row of the metric log (metric_log.h). */
static int apply_points(struct store *s, struct store_write *w)
{
	if (!w->batch.n_points)
		return 0;
	struct buf key, log;
	struct series_resource res = {0};
	int ret = -1;
	int64_t *series = xmalloc(w->batch.n_points * sizeof(*series));
	buf_init(&key, BUF_NO_LIMIT);
	buf_init(&log, BUF_NO_LIMIT);
	buf_init(&res.ident, BUF_NO_LIMIT);
	for (size_t i = 0; i < w->batch.n_points; i++)
		if ((series[i] = series_id(s, &w->batch.points[i], &res, &key)) < 0)
			goto out;
	metric_log_encode(&log, w->batch.points, series, w->batch.n_points);
	sqlite3_stmt *st = s->st[ST_POINT_LOG];
	sqlite3_bind_blob(st, 1, log.data, (int)log.len, SQLITE_STATIC);
	ret = step_done(st);
out:
	free(series);
	buf_release(&key);
	buf_release(&log);
	buf_release(&res.ident);
	return ret;
}

/* Stored aggregates: t as a signed integer (UINT64_MAX: INT64_MAX). */
static int apply_aggs(struct store *s, const struct record *rec)
{
	if (rec->replace_all && sqlite3_exec(s->db, "DELETE FROM aggregates", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	sqlite3_stmt *st = s->st[ST_AGG];
	for (size_t i = 0; i < rec->n_aggs; i++) {
		const struct store_agg *a = &rec->aggs[i];
		sqlite3_bind_int64(st, 1, (int64_t)a->kind);
		sqlite3_bind_int64(st, 2, a->t_ns > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)a->t_ns);
		sqlite3_bind_text(st, 3, a->key ? a->key : "", -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, a->data ? a->data : "", (int)a->len, SQLITE_STATIC);
		if (step_done(st) < 0)
			return -1;
	}
	return 0;
}

/* Deleted documents, in the write's one transaction. */
static int apply_doc_deletes(struct store *s, const struct record *rec)
{
	sqlite3_stmt *st = s->st[ST_DOC_DELETE];
	for (size_t i = 0; i < rec->n_ids; i++) {
		sqlite3_bind_text(st, 1, rec->r.kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, rec->ids[i], -1, SQLITE_STATIC);
		if (step_done(st) < 0)
			return -1;
	}
	return 0;
}

static int apply_record(struct store *s, struct record *rec)
{
	if (rec->type == REC_AGGS)
		return apply_aggs(s, rec);
	if (rec->type == REC_DEL_DOCS)
		return apply_doc_deletes(s, rec);
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
	db_bind_text_or_null(st, 4, p->version);
	db_bind_text_or_null(st, 5, p->env);
	sqlite3_bind_text(st, 6, p->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, p->unit, -1, SQLITE_STATIC);
	db_bind_text_or_null(st, 8, p->labels);
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
		sqlite3_bind_int64(st, 14, ++s->last_request_id);
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

/* Write the aggregates and the watermark, and fold the metric log into
 * the points and their hours (inside a transaction). */
static int flush_rollups(struct store *s)
{
	char err[256];
	if (metric_log_fold(s->db, err, sizeof(err)) < 0) {
		log_error("store: %s", err);
		return -1;
	}
	return rollup_writer_flush(s->rollups, s->last_request_id);
}

/* The largest request id, from which the writer numbers the rows it adds. */
static int last_request_id(struct store *s)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT IFNULL(MAX(id), 0) FROM requests", -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		s->last_request_id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Roll up the requests past the watermark, in a transaction of its own.
 * ERR_BUSY when the disk is full or failing. */
static int catch_up_rollups(struct store *s)
{
	char err[256];
	if (exec(s->db, "BEGIN IMMEDIATE") < 0)
		return db_disk_error(s->db) ? ERR_BUSY : -1;
	long n = rollup_catch_up(s->rollups, err, sizeof(err)), points = 0;
	if (n >= 0 && (points = metric_log_fold(s->db, err, sizeof(err))) < 0)
		n = -1;
	if (n < 0 || exec(s->db, "COMMIT") < 0) {
		int disk = db_disk_error(s->db);
		log_error("store: %s", n < 0 ? err : sqlite3_errmsg(s->db));
		exec(s->db, "ROLLBACK");
		rollup_writer_forget(s->rollups);
		return disk ? ERR_BUSY : -1;
	}
	if (n)
		log_info("store: rolled up %ld requests stored after the last rollup flush", n);
	if (points)
		log_info("store: folded %ld metric points logged after the last flush", points);
	return 0;
}

int db_exec(sqlite3 *db, const char *sql)
{
	return exec(db, sql);
}

int db_catch_up_rollups(struct store *s)
{
	return catch_up_rollups(s);
}

/* Note a failure: a full or failing disk makes the store read-only. */
static int failed_on(struct store *s, int *disk)
{
	if (!*disk && db_disk_error(s->db)) {
		*disk = 1;
		pthread_mutex_lock(&s->lock);
		snprintf(s->writer_error, sizeof(s->writer_error), "%s", sqlite3_errmsg(s->db));
		pthread_mutex_unlock(&s->lock);
	}
	return 0;
}

/* The disk failed a write: read-only until a probe succeeds.  What was
 * rolled up in memory is dropped (the rollups catch up from the stored
 * requests when writing resumes); readers waiting for a flush get the
 * stored rollups. */
static void go_read_only(struct store *s)
{
	maint_read_only(s, NULL);
	drop_caches(s);
	rollup_writer_forget(s->rollups);
	pthread_mutex_lock(&s->lock);
	s->rollups_dirty = 0;
	s->flush_done = s->flush_wanted;
	pthread_cond_broadcast(&s->flushed);
	pthread_mutex_unlock(&s->lock);
}

/* Read-only: queued writes are answered "retry later" without a try. */
static void refuse_group(struct store *s, struct store_write *group)
{
	for (struct store_write *w = group, *next; w; w = next) {
		next = w->next;
		atomic_fetch_add(&s->failed_writes, 1);
		if (w->done)
			w->done(w->done_arg, ERR_BUSY);
		store_write_free(w);
	}
}

/* Commit a group of writes in one transaction, each under its own savepoint. */
static void write_group(struct store *s, struct store_write *group)
{
	if (atomic_load(&s->read_only)) {
		refuse_group(s, group);
		return;
	}
	int *status = NULL;
	size_t n = 0;
	for (struct store_write *w = group; w; w = w->next)
		n++;
	status = xcalloc(n, sizeof(*status));

	int disk = 0;
	uint64_t began = clock_now_ns();
	int ok = exec(s->db, "BEGIN IMMEDIATE") == 0 || failed_on(s, &disk);
	size_t i = 0;
	for (struct store_write *w = group; w && ok; w = w->next, i++) {
		exec(s->db, "SAVEPOINT w");
		status[i] = apply_write(s, w);
		if (status[i] < 0) {
			log_error("store: write failed: %s", sqlite3_errmsg(s->db));
			failed_on(s, &disk);
			exec(s->db, "ROLLBACK TO w");
			drop_caches(s);
		}
		exec(s->db, "RELEASE w");
	}
	/* A due retention step joins too: no commit (and fsync) of its own. */
	struct maint_step step = {0};
	if (ok)
		maint_join(s, &step, clock_now_ns() - began);
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
	if (!ok) {
		log_error("store: rollups failed: %s", sqlite3_errmsg(s->db));
		failed_on(s, &disk);
		exec(s->db, "ROLLBACK");
	}
	if (ok && exec(s->db, "COMMIT") < 0) {
		failed_on(s, &disk);
		exec(s->db, "ROLLBACK");
		ok = 0;
	}
	maint_joined(s, &step, ok);
	if (disk)
		go_read_only(s);
	else if (!ok) {
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
		if (st < 0 && disk)
			st = ERR_BUSY; /* not written: the client retries, nothing is lost */
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
			if (maint_due(s)) { /* retention, or a probe of a full disk */
				pthread_mutex_unlock(&s->lock);
				maint_step(s);
				pthread_mutex_lock(&s->lock);
				continue;
			}
			if (!s->rollups_dirty) {
				if (s->flush_wanted > s->flush_done) { /* nothing to flush */
					s->flush_done = s->flush_wanted;
					pthread_cond_broadcast(&s->flushed);
				}
				struct timespec until = {(time_t)(s->maint_next_ns / NS_PER_S),
							 (long)(s->maint_next_ns % NS_PER_S)};
				pthread_cond_timedwait(&s->wake, &s->lock, &until);
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

		write_group(s, group); /* with a retention step when one is due */

		pthread_mutex_lock(&s->lock);
		s->queue_bytes -= bytes;
		s->queue_writes -= n;
		pthread_cond_broadcast(&s->space);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int sqlite_submit(struct store *s, struct store_write *w, store_done_fn done, void *arg)
{
	pthread_mutex_lock(&s->lock);
	/* One write larger than the whole queue is still accepted when the queue is empty. */
	if (s->stopping || atomic_load(&s->read_only) ||
	    (s->queue_writes && s->queue_bytes + w->bytes > s->queue_max)) {
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

/* The queue was full: wait for room, unless the store is closing (-1) or
 * read-only (ERR_BUSY: answered 503). */
static int sqlite_wait_space(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	int rc = atomic_load(&s->read_only) ? ERR_BUSY : s->stopping ? -1 : 0;
	if (rc == 0)
		pthread_cond_wait(&s->space, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int configure(sqlite3 *db)
{
	return exec(db, "PRAGMA journal_mode=WAL") < 0 || exec(db, "PRAGMA synchronous=FULL") < 0 ||
			       exec(db, "PRAGMA foreign_keys=OFF") < 0 ||
			       exec(db, "PRAGMA cache_size=-16000") < 0
		       ? -1
		       : 0;
}

int db_open(const char *path, int readonly, sqlite3 **out, char *err, size_t errlen)
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

int sqlite_open(struct store **out, const struct store_options *o, char *err, size_t errlen)
{
	struct store *s = xcalloc(1, sizeof(*s));
	struct buf path;
	s->be = &sqlite_backend;
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
	s->dir = xstrdup(o->dir);
	if (db_open(s->path, 0, &s->db, err, errlen) < 0)
		goto fail;
	int full = 0; /* the disk was full: the reserve was given back to open */
	/* before the first table and before WAL, or it has no effect: a new
	 * database gives freed pages back (sqlite_maint.c); an older one keeps
	 * its mode, and VACUUM (hotpath compact) converts it */
	exec(s->db, "PRAGMA auto_vacuum=INCREMENTAL");
	while (configure(s->db) < 0) {
		if (full || !db_disk_error(s->db) || maint_reserve_release(o->dir) < 0) {
			errf(err, errlen, "cannot configure %s: %s%s", s->path, sqlite3_errmsg(s->db),
			     db_disk_error(s->db) ? " (is the disk full?)" : "");
			goto fail;
		}
		log_warn("store: the disk is full: opening with the room set aside for this");
		full = 1;
	}
	if (maint_vacuum_mode(s) < 0 || schema_migrate(s->db, err, errlen) < 0)
		goto fail;
	for (int i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
		    SQLITE_OK) {
			errf(err, errlen, "cannot prepare statement: %s", sqlite3_errmsg(s->db));
			goto fail;
		}
	strmap_init(&s->dict);
	strmap_init(&s->series);
	if (last_request_id(s) < 0) {
		errf(err, errlen, "cannot read the request ids: %s", sqlite3_errmsg(s->db));
		goto fail;
	}
	if (!(s->rollups = rollup_writer_new(s->db, o->max_endpoints, err, errlen)))
		goto fail;
	pthread_mutex_init(&s->lock, NULL);
	maint_init(s, o);
	/* rollups lost (or never built) while requests exist: rebuild them all */
	int rc = exec(s->db, "UPDATE meta SET value = 0 WHERE key = 'rollup_watermark' AND NOT EXISTS"
			     " (SELECT 1 FROM rollups)");
	if (rc < 0 && db_disk_error(s->db))
		rc = ERR_BUSY;
	if (rc == 0)
		rc = catch_up_rollups(s);
	if (rc < 0 || full) {
		if (rc < 0 && rc != ERR_BUSY) {
			errf(err, errlen, "cannot bring the rollups up to date: %s", sqlite3_errmsg(s->db));
			goto fail;
		}
		/* a full disk: serve reads, and write once it has room again */
		snprintf(s->writer_error, sizeof(s->writer_error), "the disk was full at start-up");
		maint_read_only(s, NULL);
	}
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
	free(s->dir);
	free(s);
	return -1;
}

void sqlite_close(struct store *s)
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
		db_reader_close(s->readers[i]);
	sqlite3_close(s->db);
	strmap_release(&s->dict);
	strmap_release(&s->series);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->space);
	pthread_cond_destroy(&s->flushed);
	free(s->path);
	free(s->dir);
	free(s);
}

void sqlite_get_stats(struct store *s, struct store_stats *st)
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
	st->writer_ready = !atomic_load(&s->read_only);
	pthread_mutex_lock(&s->lock);
	snprintf(st->writer_error, sizeof(st->writer_error), "%s", st->writer_ready ? "" : s->writer_error);
	pthread_mutex_unlock(&s->lock);
	st->disk_errors = atomic_load(&s->disk_errors);
	st->used_bytes = atomic_load(&s->used_bytes);
	st->free_bytes = atomic_load(&s->free_bytes);
	st->vacuumed_pages = s->vacuum_on ? (int64_t)atomic_load(&s->vacuumed_pages) : -1;
	st->file_bytes = atomic_load(&s->file_bytes);
	st->disk_free_bytes = atomic_load(&s->disk_free_bytes);
	for (int k = 0; k < KEPT_COUNT; k++)
		st->retention_deleted[k] = atomic_load(&s->retention_deleted[k]);
	st->retention_steps = atomic_load(&s->retention_steps);
	st->retention_step_max_ns = atomic_load(&s->retention_step_max_ns);
	st->retention_pending = atomic_load(&s->retention_pending);
}

const struct store_backend sqlite_backend = {
	.name = "embedded",
	.open = sqlite_open,
	.close = sqlite_close,
	.submit = sqlite_submit,
	.wait_space = sqlite_wait_space,
	.get_stats = sqlite_get_stats,
	.get_trace = sqlite_get_trace,
	.trace_stamp = sqlite_trace_stamp,
	.latest_versions = sqlite_latest_versions,
	.search = sqlite_search,
	.count = sqlite_count,
	.slow_since = sqlite_slow_since,
	.newest_requests = sqlite_newest_requests,
	.filter_values = sqlite_filter_values,
	.rollups = sqlite_rollups,
	.scan = sqlite_scan,
	.scan_spans = sqlite_scan_spans,
	.blocks_info = sqlite_blocks_info,
	.last_block = sqlite_last_block,
	.scan_points = sqlite_scan_points,
	.scan_series_points = sqlite_scan_series_points,
	.scan_series_hours = sqlite_scan_series_hours,
	.metric_series = sqlite_metric_series,
	.put_doc = sqlite_put_doc,
	.put_aggs = sqlite_put_aggs,
	.aggs = sqlite_aggs,
	.add_event = sqlite_add_event,
	.delete_docs = sqlite_delete_docs,
	.docs = sqlite_docs,
	.events = sqlite_events,
	.put_profile = sqlite_put_profile,
	.profiles = sqlite_profiles,
};
