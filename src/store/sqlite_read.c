/* sqlite_read.c - the embedded store's reads: traces, request rows, rollups,
 * scans of blocks, metric points (see store.h). */
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/deadline.h"
#include "core/error.h"
#include "core/json_write.h"
#include "core/log.h"
#include "core/strmap.h"
#include "store/block.h"
#include "store/rollup.h"
#include "store/schema.h"
#include "store/backend.h"
#include "store/sqlite_store.h"
#include "store/values.h"

/* ---- reads ----------------------------------------------------------- */

/*
 * Readers map the database file (up to this many bytes) instead of copying
 * each page they read into their own cache: the searches that look rows up
 * one by one (slowest first, by trace) spent a third of their time in
 * read() copies.  Only reading connections map; the file is never shrunk
 * while the server runs (no VACUUM).
 */
#define READER_MMAP_BYTES "4294967296"

/* How many SQLite VM steps between two looks at the reading thread's
 * deadline: a look is one clock read, a step a few nanoseconds. */
#define DEADLINE_STEPS 2000

static int deadline_progress(void *arg)
{
	(void)arg;
	return deadline_passed(); /* non-zero interrupts the statement */
}

int db_read_error(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	if (deadline_passed())
		return deadline_error(err, errlen);
	errf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
	return ERR_INTERNAL;
}

sqlite3 *db_reader_get(struct store *s, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->n_readers)
		db = s->readers[--s->n_readers];
	pthread_mutex_unlock(&s->lock);
	if (!db) {
		if (db_open(s->path, 1, &db, err, errlen) < 0)
			return NULL;
		sqlite3_exec(db, "PRAGMA mmap_size=" READER_MMAP_BYTES, NULL, NULL, NULL); /* a hint */
		sqlite3_progress_handler(db, DEADLINE_STEPS, deadline_progress, NULL);
	}
	return db;
}

void db_reader_put(struct store *s, sqlite3 *db)
{
	pthread_mutex_lock(&s->lock);
	if (s->n_readers < READ_POOL_MAX) {
		s->readers[s->n_readers++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	db_reader_close(db);
}

void db_reader_close(sqlite3 *db)
{
	sqlite3_stmt *st;
	while (db && (st = sqlite3_next_stmt(db, NULL)))
		sqlite3_finalize(st); /* the statements kept (stmt_kept) */
	sqlite3_close(db);
}

/*
 * The statement of a reading connection for `sql`, prepared the first time
 * and kept with the connection: the reads an answer makes many times (a
 * trace by id, the metric points near a request) spent as long preparing
 * their statement as running it.  Give it back with stmt_give_back(), never
 * finalize it.  NULL with the error in `db`.
 */
static sqlite3_stmt *stmt_kept(sqlite3 *db, const char *sql)
{
	for (sqlite3_stmt *p = sqlite3_next_stmt(db, NULL); p; p = sqlite3_next_stmt(db, p))
		if (!sqlite3_stmt_busy(p) && strcmp(sqlite3_sql(p), sql) == 0)
			return p;
	sqlite3_stmt *st = NULL;
	return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) == SQLITE_OK ? st : NULL;
}

static void stmt_give_back(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

static int cmp_start(const void *pa, const void *pb)
{
	const struct span *a = pa, *b = pb;
	return (a->start_ns > b->start_ns) - (a->start_ns < b->start_ns);
}

long sqlite_get_trace(struct store *s, const uint8_t trace_id[16], struct batch *out, char *err,
		      size_t errlen)
{
	sqlite3 *db = db_reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	long total = 0;
	size_t first = out->n_spans;
	if (!db)
		return -1;
	if (!(st = stmt_kept(db, "SELECT b.data FROM trace_index t JOIN blocks b ON b.id = t.block"
				 " WHERE t.trace = ? ORDER BY t.block"))) {
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
	stmt_give_back(st);
	db_reader_put(s, db);
	return total;
}

long sqlite_trace_stamp(struct store *s, const uint8_t trace_id[16], uint64_t *stamp, char *err,
			size_t errlen)
{
	sqlite3 *db = db_reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	long n = 0;
	uint64_t h = 0; /* each block id, in order, hashed with the hash so far */
	if (!db)
		return -1;
	if (!(st = stmt_kept(db, "SELECT block FROM trace_index WHERE trace = ? ORDER BY block"))) {
		n = errf(err, errlen, "trace's blocks: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, be64(trace_id));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const uint64_t link[2] = {h, (uint64_t)sqlite3_column_int64(st, 0)};
		h = strmap_hash(link, sizeof(link));
		n++;
	}
	if (rc != SQLITE_DONE)
		n = errf(err, errlen, "trace's blocks: %s", sqlite3_errmsg(db));
	*stamp = h ^ (uint64_t)n;
out:
	stmt_give_back(st);
	db_reader_put(s, db);
	return n;
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
	struct json_w w;
	jw_init(&w, json);
	jw_arr_begin(&w);
	for (size_t i = 0; i < q->n_latest; i++) {
		jw_arr_begin(&w);
		jw_str(&w, q->latest_versions[i].service);
		jw_str(&w, q->latest_versions[i].version); /* null when none */
		jw_arr_end(&w);
	}
	jw_arr_end(&w);
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

/*
 * The dictionary values a search names, each looked up once and copied once
 * into the caller's arena (rows share the copy): a search of 50,000 rows
 * names a few dozen values, where a lookup per row and column cost as much
 * as reading the rows.
 */
struct dict_names {
	sqlite3_stmt *st;  /* SELECT value FROM dict WHERE id = ? */
	struct strmap ids; /* id (8 bytes) -> the value's pointer */
	struct arena *a;
};

static int dict_names_init(struct dict_names *d, sqlite3 *db, struct arena *a)
{
	strmap_init(&d->ids);
	d->a = a;
	return sqlite3_prepare_v2(db, "SELECT value FROM dict WHERE id = ?", -1, &d->st, NULL) == SQLITE_OK
		       ? 0
		       : -1;
}

static void dict_names_release(struct dict_names *d)
{
	sqlite3_finalize(d->st);
	strmap_release(&d->ids);
}

/* The value of the dictionary id in column `col` of `st` (NULL for NULL or
 * an id the dictionary lacks, as the subquery `(SELECT value FROM dict
 * WHERE id = r.col)` gives). */
static const char *dict_name(struct dict_names *d, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	int64_t id = sqlite3_column_int64(st, col), v;
	if (strmap_get(&d->ids, &id, sizeof(id), &v) == 0)
		return (const char *)(intptr_t)v;
	const char *name = NULL;
	sqlite3_bind_int64(d->st, 1, id);
	if (sqlite3_step(d->st) == SQLITE_ROW)
		name = db_col_text(d->a, d->st, 0);
	sqlite3_reset(d->st);
	strmap_put(&d->ids, &id, sizeof(id), (int64_t)(intptr_t)name);
	return name;
}

static void read_row(sqlite3_stmt *st, const struct store_query *q, struct dict_names *names,
		     struct request_row *r)
{
	memset(r, 0, sizeof(*r));
	r->start_ns = (uint64_t)sqlite3_column_int64(st, 0);
	r->duration_ns = (uint64_t)sqlite3_column_int64(st, 1);
	put_be64(r->trace_id, sqlite3_column_int64(st, 2));
	put_be64(r->trace_id + 8, sqlite3_column_int64(st, 3));
	put_be64(r->span_id, sqlite3_column_int64(st, 4));
	r->status = (uint8_t)sqlite3_column_int(st, 5);
	r->edge = (uint8_t)sqlite3_column_int(st, 6);
	if (q->ids_only)
		return;
	r->service = dict_name(names, st, 7);
	r->endpoint = dict_name(names, st, 8);
	r->env = dict_name(names, st, 9);
	r->version = dict_name(names, st, 10);
	r->department = dict_name(names, st, 11);
	r->intent = dict_name(names, st, 12);
	r->tool = dict_name(names, st, 13);
}

/* The search's SQL; `slow`: through the partial index of slow requests
 * (schema.h), only the requests it holds. */
static void search_sql(struct buf *sql, struct binds *bd, struct buf *json, const struct store_query *q,
		       int slow)
{
	static const char *const cols[] = {"service",	 "endpoint", "env", "version",
					   "department", "intent",   "tool"};
	buf_reset(sql);
	buf_reset(json);
	bd->n = 0;
	buf_puts(sql,
		 "SELECT r.start_ns, r.duration_ns, r.trace_hi, r.trace_lo, r.span_id, r.status, r.edge");
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]) && !q->ids_only; i++)
		buf_printf(sql, ", r.%s", cols[i]);
	buf_puts(sql, slow ? " FROM requests r INDEXED BY requests_slow" : " FROM requests r");
	where_clause(sql, bd, q, json);
	if (slow)
		buf_puts(sql, " AND r.duration_ns >= " SCHEMA_SLOW_INDEX_SQL);
	/* slowest: ties by start and row, as the slow index orders them */
	buf_printf(sql, " ORDER BY %s LIMIT %u",
		   q->order == STORE_SLOWEST	? "r.duration_ns DESC, r.start_ns DESC, r.id DESC"
		   : q->order == STORE_BY_TRACE ? "r.trace_lo, r.trace_hi, r.start_ns"
						: "r.start_ns DESC",
		   q->limit);
}

/*
 * Whether a slowest-first search reads the slow index rather than every
 * request of its range.  The index walk reads entries from the slowest down
 * until the limit is met, at worst every slow request of the store (about
 * a tenth of the rows, and an entry costs a fraction of a row); the range
 * scan reads every request of the range, row by row.  So: the walk when the
 * range is at least 1/64 of the stored time, and not for one service (its
 * own index reads only its rows).
 */
static int search_slow_first(sqlite3 *db, const struct store_query *q)
{
	if (q->order != STORE_SLOWEST || q->service || !q->limit)
		return 0;
	sqlite3_stmt *st;
	int64_t lo = 0, hi = 0;
	/* two selects: SQLite reads MIN or MAX alone from the index's end */
	if (sqlite3_prepare_v2(
		    db, "SELECT MIN(start_ns) FROM requests UNION ALL SELECT MAX(start_ns) FROM requests", -1,
		    &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		lo = sqlite3_column_int64(st, 0);
	if (sqlite3_step(st) == SQLITE_ROW)
		hi = sqlite3_column_int64(st, 0) + 1;
	sqlite3_finalize(st);
	uint64_t from = q->from_ns > (uint64_t)lo ? q->from_ns : (uint64_t)lo;
	uint64_t to = q->to_ns && q->to_ns < (uint64_t)hi ? q->to_ns : (uint64_t)hi;
	return hi > lo && to > from && (to - from) * 64 >= (uint64_t)(hi - lo);
}

/* Run the search's SQL into rows (appended to *rows, *n).  0 or -1. */
static int search_run(sqlite3 *db, const char *sql, const struct binds *bd, const struct store_query *q,
		      struct dict_names *names, struct arena *a, struct request_row **rows, size_t *n,
		      size_t *cap, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "search: %s", sqlite3_errmsg(db));
		return -1;
	}
	bind_all(st, bd);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*rows = arena_grow(a, *rows, cap, *n + 1, sizeof(**rows));
		read_row(st, q, names, &(*rows)[(*n)++]);
	}
	int ret = rc == SQLITE_DONE ? 0 : db_read_error(db, "search", err, errlen);
	sqlite3_finalize(st);
	return ret;
}

/*
 * Slowest first, the slow index answers alone when it holds every request
 * asked for: when the search asks only for requests at least as long as
 * the index's bound, or when the index gives the whole limit (every
 * request left out is shorter than the ones given).  Otherwise every
 * request of the range is read and sorted.
 */
int sqlite_search(struct store *s, const struct store_query *q, struct arena *a, struct request_row **rows,
		  size_t *n, char *err, size_t errlen)
{
	struct buf sql, json;
	struct binds bd = {0};
	struct dict_names names;
	int ret = -1;
	size_t cap = 0;
	sqlite3 *db = db_reader_get(s, err, errlen);
	*rows = NULL;
	*n = 0;
	if (!db)
		return -1;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_init(&json, BUF_NO_LIMIT);
	if (dict_names_init(&names, db, a) < 0) {
		errf(err, errlen, "search: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (search_slow_first(db, q)) {
		search_sql(&sql, &bd, &json, q, 1);
		if ((ret = search_run(db, sql.data, &bd, q, &names, a, rows, n, &cap, err, errlen)) < 0)
			goto out;
		if (*n == q->limit || q->min_duration_ns >= (uint64_t)SCHEMA_SLOW_INDEX_NS)
			goto out;
		*n = 0; /* not all: read the range */
	}
	search_sql(&sql, &bd, &json, q, 0);
	ret = search_run(db, sql.data, &bd, q, &names, a, rows, n, &cap, err, errlen);
out:
	dict_names_release(&names);
	buf_release(&sql);
	buf_release(&json);
	db_reader_put(s, db);
	return ret;
}

_Static_assert(STORE_SLOW_NS == (unsigned long long)SCHEMA_SLOW_INDEX_NS,
	       "store.h's slow bound is the slow index's");

/*
 * From the first row, the slow index holds every row asked for (a tenth
 * of the rows, sorted by number once); after it, the rows written since
 * are the end of the table, read by number.
 */
int sqlite_slow_since(struct store *s, int64_t after, uint64_t from_ns, unsigned limit, struct arena *a,
		      struct request_row **rows, int64_t **ids, size_t *n, uint64_t *oldest_ns, char *err,
		      size_t errlen)
{
	struct dict_names names;
	struct store_query q;
	sqlite3_stmt *st = NULL;
	size_t cap = 0, cap_ids = 0;
	int rc = SQLITE_ERROR;
	sqlite3 *db = db_reader_get(s, err, errlen);
	if (!db)
		return -1;
	store_query_init(&q);
	char sql[640];
	snprintf(sql, sizeof(sql),
		 "SELECT r.start_ns, r.duration_ns, r.trace_hi, r.trace_lo, r.span_id, r.status, r.edge,"
		 " r.service, r.endpoint, r.env, r.version, r.department, r.intent, r.tool, r.id"
		 " FROM requests r %s WHERE r.id > ? AND r.duration_ns >= " SCHEMA_SLOW_INDEX_SQL
		 " AND r.start_ns >= ? ORDER BY r.id LIMIT ?",
		 after > 0 ? "NOT INDEXED" : "INDEXED BY requests_slow");
	if (dict_names_init(&names, db, a) < 0 || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, (int64_t)from_ns);
	sqlite3_bind_int64(st, 3, limit ? (int64_t)limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*rows = arena_grow(a, *rows, &cap, *n + 1, sizeof(**rows));
		*ids = arena_grow(a, *ids, &cap_ids, *n + 1, sizeof(**ids));
		read_row(st, &q, &names, &(*rows)[*n]);
		(*ids)[(*n)++] = sqlite3_column_int64(st, 14);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_DONE &&
	    (rc = sqlite3_prepare_v2(db, "SELECT MIN(start_ns) FROM requests", -1, &st, NULL)) == SQLITE_OK) {
		if ((rc = sqlite3_step(st)) == SQLITE_ROW)
			*oldest_ns = (uint64_t)sqlite3_column_int64(st, 0);
		rc = rc == SQLITE_ROW ? SQLITE_DONE : rc;
	}
out:
	if (rc != SQLITE_DONE)
		errf(err, errlen, "slow requests: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	dict_names_release(&names);
	db_reader_put(s, db);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void wait_rollups_flushed(struct store *s);

int sqlite_latest_versions(struct store *s, const struct store_query *q, struct arena *a,
			   struct service_version **pairs, size_t *n, char *err, size_t errlen)
{
	wait_rollups_flushed(s);
	sqlite3 *db = db_reader_get(s, err, errlen);
	*pairs = NULL;
	*n = 0;
	if (!db)
		return -1;
	int rc = values_latest(db, q, a, pairs, n, err, errlen);
	db_reader_put(s, db);
	if (rc == 0 && *n)
		qsort(*pairs, *n, sizeof(**pairs), cmp_service_version);
	return rc;
}

int sqlite_count(struct store *s, const struct store_query *q, uint64_t *n, char *err, size_t errlen)
{
	struct buf sql, json;
	struct binds bd = {0};
	sqlite3_stmt *st = NULL;
	int ret = -1;
	sqlite3 *db = db_reader_get(s, err, errlen);
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
	db_reader_put(s, db);
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

long sqlite_newest_requests(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned n, uint64_t *start_ns,
			    uint64_t *end_ns, char *err, size_t errlen)
{
	int64_t to = to_ns ? (int64_t)to_ns : INT64_MAX, count = 0, v;
	long ret = -1;
	sqlite3 *db = db_reader_get(s, err, errlen);
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
	db_reader_put(s, db);
	return ret;
}

int sqlite_filter_values(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned kinds, struct arena *a,
			 struct store_dim_values *out, char *err, size_t errlen)
{
	wait_rollups_flushed(s);
	sqlite3 *db = db_reader_get(s, err, errlen);
	if (!db)
		return -1;
	int rc = values_read(db, from_ns, to_ns, kinds, a, out, err, errlen);
	db_reader_put(s, db);
	return rc;
}

/* Read-your-writes for rollups and metric points: every request committed
 * before the query is rolled up in what it reads, and every metric point is
 * folded from the log into metric_points and metric_hours (bounded wait:
 * 2 s). */
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

int sqlite_rollups(struct store *s, const struct store_query *q, unsigned res_s, struct arena *a,
		   struct rollup_row **rows, size_t *n, char *err, size_t errlen)
{
	wait_rollups_flushed(s);
	sqlite3 *db = db_reader_get(s, err, errlen);
	if (!db)
		return -1;
	int rc = rollup_query(db, q, res_s, a, rows, n, err, errlen);
	db_reader_put(s, db);
	return rc;
}

/* Decode every block the scan selects in write order and hand its spans
 * (and the earliest start among them) to `fn` until it returns non-zero. */
typedef int (*block_fn)(void *arg, const struct batch *b, uint64_t t_min);

static int scan_blocks(struct store *s, const struct store_scan *sc, block_fn fn, void *arg, char *err,
		       size_t errlen)
{
	sqlite3 *db = db_reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	struct batch b;
	int ret = -1, rc;
	if (!db)
		return -1;
	batch_init(&b);
	/* by time only: the blocks of the range found in the index by time
	 * (blocks_by_time), not by reading every row of the table */
	const char *sql =
		sc->first_id || sc->last_id
			? "SELECT data, t_min FROM blocks WHERE t_max >= ?1 AND t_min < ?2 AND id % ?3 = ?4"
			  " AND id >= ?5 AND id <= ?6 ORDER BY id"
			: "SELECT data, t_min FROM blocks WHERE id IN (SELECT id FROM blocks"
			  " WHERE t_max >= ?1 AND t_min < ?2) AND id % ?3 = ?4 AND id >= ?5 AND id <= ?6"
			  " ORDER BY id";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
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
		if (deadline_passed()) { /* decoding, not SQLite, takes a scan's time */
			ret = deadline_error(err, errlen);
			goto out;
		}
		batch_reset(&b);
		if (block_decode(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &want, &b,
				 err, errlen) < 0)
			goto out;
		stop = fn(arg, &b, (uint64_t)sqlite3_column_int64(st, 1));
	}
	if (!stop && rc != SQLITE_DONE) {
		ret = db_read_error(db, "scan", err, errlen);
		goto out;
	}
	ret = 0;
out:
	batch_release(&b);
	sqlite3_finalize(st);
	db_reader_put(s, db);
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

int sqlite_scan_spans(struct store *s, uint64_t from_ns, uint64_t to_ns, store_span_fn fn, void *arg,
		      char *err, size_t errlen)
{
	struct scan_cb cb = {.span = fn, .arg = arg};
	struct store_scan sc = {.from_ns = from_ns, .to_ns = to_ns};
	return scan_blocks(s, &sc, block_spans, &cb, err, errlen);
}

int sqlite_scan(struct store *s, const struct store_scan *sc, store_trace_fn fn, void *arg, char *err,
		size_t errlen)
{
	struct scan_cb cb = {.trace = fn, .block = sc->block, .arg = arg};
	return scan_blocks(s, sc, block_traces, &cb, err, errlen);
}

int sqlite_blocks_info(struct store *s, uint64_t first_id, uint64_t last_id, struct store_blocks *out,
		       char *err, size_t errlen)
{
	sqlite3 *db = db_reader_get(s, err, errlen);
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
	db_reader_put(s, db);
	return ret;
}

int sqlite_last_block(struct store *s, uint64_t *id, char *err, size_t errlen)
{
	sqlite3 *db = db_reader_get(s, err, errlen);
	int64_t v = 0;
	if (!db)
		return -1;
	int rc = query_int(db, "SELECT max(id) FROM blocks", NULL, 0, &v, err, errlen);
	db_reader_put(s, db);
	*id = (uint64_t)v;
	return rc < 0 ? -1 : 0;
}

/* A histogram point's bounds and buckets, copied out of the row (aligned). */
struct hist_copy {
	double *bounds;
	size_t cap; /* doubles; the bucket counts follow the bounds */
};

/* Columns `col` and `col` + 1 hold the bounds and the bucket counts. */
static int point_buckets(struct metric_point *p, sqlite3_stmt *st, int col, struct hist_copy *h)
{
	size_t nb = (size_t)sqlite3_column_bytes(st, col) / sizeof(double);
	size_t nc = (size_t)sqlite3_column_bytes(st, col + 1) / sizeof(uint64_t);
	p->n_bounds = 0;
	p->bounds = NULL;
	p->bucket_counts = NULL;
	if (nc == 0)
		return 0; /* written without buckets */
	if (nc != nb + 1)
		return -1;
	if (nb + nc > h->cap) {
		free(h->bounds);
		h->cap = (nb + nc) * 2;
		h->bounds = xmalloc(h->cap * sizeof(double));
	}
	if (nb)
		memcpy(h->bounds, sqlite3_column_blob(st, col), nb * sizeof(double));
	uint64_t *counts = (uint64_t *)(h->bounds + nb);
	memcpy(counts, sqlite3_column_blob(st, col + 1), nc * sizeof(uint64_t));
	p->n_bounds = (uint32_t)nb;
	p->bounds = h->bounds;
	p->bucket_counts = counts;
	return 0;
}

/* A series' point fields from columns 1 (service), 2 (name), 3 (unit), 4
 * (type), 5 (attributes) and `res_col` (resource), in `a`. */
static void series_point(struct arena *a, sqlite3_stmt *st, int res_col, struct resource *res,
			 struct metric_point *p)
{
	*res = (struct resource){0};
	const char *rj = (const char *)sqlite3_column_text(st, res_col);
	res->n_attrs = store_attrs_from_json(a, rj, rj ? strlen(rj) : 0, &res->attrs);
	resource_derive(res);
	res->service_name = db_col_text(a, st, 1);
	*p = (struct metric_point){.resource = res};
	p->name = db_col_text(a, st, 2);
	p->unit = db_col_text(a, st, 3);
	p->type = (uint8_t)(sqlite3_column_int(st, 4) & ~SERIES_TYPE_DELTA);
	p->delta = (sqlite3_column_int(st, 4) & SERIES_TYPE_DELTA) != 0;
	const char *pj = (const char *)sqlite3_column_text(st, 5);
	p->n_attrs = store_attrs_from_json(a, pj, pj ? strlen(pj) : 0, &p->attrs);
}

struct plain_scan {
	store_point_fn fn;
	void *arg;
};

static int plain_point(void *arg, int64_t series, const struct metric_point *p)
{
	struct plain_scan *ps = arg;
	return ps->fn(ps->arg, p);
}

int sqlite_scan_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
		       store_point_fn fn, void *arg, char *err, size_t errlen)
{
	struct plain_scan ps = {fn, arg};
	return sqlite_scan_series_points(s, from_ns, to_ns, prefix, plain_point, &ps, err, errlen);
}

int sqlite_scan_series_points(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			      store_series_point_fn fn, void *arg, char *err, size_t errlen)
{
	wait_rollups_flushed(s); /* and the metric log folded */
	sqlite3 *db = db_reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	int ret = -1, rc;
	struct hist_copy hist = {0};
	struct arena a;
	arena_init(&a);
	if (!db)
		return -1;
	if (!(st = stmt_kept(
		      db,
		      "SELECT s.id, (SELECT value FROM dict WHERE id = s.service), s.name, s.unit,"
		      " s.type, s.attrs, p.time_ns, p.value, p.count, p.sum, s.resource, p.bounds, p.buckets"
		      " FROM metric_series s JOIN metric_points p ON p.series = s.id"
		      " WHERE substr(s.name, 1, length(?1)) = ?1 AND p.time_ns >= ?2 AND p.time_ns < ?3"
		      " ORDER BY s.id, p.time_ns"))) {
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
			series_point(&a, st, 10, &res, &p);
		}
		p.time_ns = (uint64_t)sqlite3_column_int64(st, 6);
		p.value = sqlite3_column_double(st, 7);
		p.count = (uint64_t)sqlite3_column_int64(st, 8);
		p.sum = sqlite3_column_double(st, 9);
		if (p.type == METRIC_HISTOGRAM && point_buckets(&p, st, 11, &hist) < 0) {
			errf(err, errlen, "metric scan: a histogram's buckets do not match its bounds");
			goto out;
		}
		stop = fn(arg, series, &p);
	}
	if (!stop && rc != SQLITE_DONE) {
		ret = db_read_error(db, "metric scan", err, errlen);
		goto out;
	}
	ret = 0;
out:
	arena_release(&a);
	free(hist.bounds);
	stmt_give_back(st);
	db_reader_put(s, db);
	return ret;
}

int sqlite_metric_series(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			 unsigned limit, struct arena *a, struct metric_series_row **rows, size_t *n,
			 char *err, size_t errlen)
{
	wait_rollups_flushed(s); /* and the metric log folded */
	sqlite3 *db = db_reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int ret = -1, rc;
	*rows = NULL;
	*n = 0;
	if (!db)
		return -1;
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT s.id, (SELECT value FROM dict WHERE id = s.service), s.name, s.unit,"
		    " s.type, s.resource, s.attrs FROM metric_series s"
		    " WHERE substr(s.name, 1, length(?1)) = ?1 AND EXISTS (SELECT 1 FROM"
		    " metric_points p WHERE p.series = s.id AND p.time_ns >= ?2 AND p.time_ns < ?3)"
		    " ORDER BY s.name, s.id LIMIT ?4",
		    -1, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "metric series: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, prefix ? prefix : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)from_ns);
	sqlite3_bind_int64(st, 3, to_ns ? (int64_t)to_ns : INT64_MAX);
	sqlite3_bind_int64(st, 4, limit ? limit : 100000);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			struct metric_series_row *g = arena_alloc(a, (cap ? cap * 2 : 64) * sizeof(*g));
			if (*n)
				memcpy(g, *rows, *n * sizeof(*g));
			*rows = g;
			cap = cap ? cap * 2 : 64;
		}
		struct metric_series_row *r = &(*rows)[(*n)++];
		int type = sqlite3_column_int(st, 4);
		r->id = sqlite3_column_int64(st, 0);
		r->service = db_col_text(a, st, 1);
		r->name = db_col_text(a, st, 2);
		r->unit = db_col_text(a, st, 3);
		r->type = (uint8_t)(type & ~SERIES_TYPE_DELTA);
		r->delta = (type & SERIES_TYPE_DELTA) != 0;
		r->resource = db_col_text(a, st, 5);
		r->attrs = db_col_text(a, st, 6);
	}
	if (rc != SQLITE_DONE) {
		errf(err, errlen, "metric series: %s", sqlite3_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	db_reader_put(s, db);
	return ret;
}

/* One series' points and hours (see store_scan_series_hours).  1: stopped. */
static int series_hours(sqlite3_stmt *pts, int64_t series, struct metric_point *p, struct hist_copy *hist,
			store_series_hour_fn fn, void *arg, char *err, size_t errlen)
{
	int rc, stop = 0;
	sqlite3_bind_int64(pts, 1, series);
	while (!stop && (rc = sqlite3_step(pts)) == SQLITE_ROW) {
		struct store_metric_hour h;
		p->time_ns = (uint64_t)sqlite3_column_int64(pts, 0);
		p->value = sqlite3_column_double(pts, 1);
		p->count = (uint64_t)sqlite3_column_int64(pts, 2);
		p->sum = sqlite3_column_double(pts, 3);
		p->n_bounds = 0;
		p->bounds = NULL;
		p->bucket_counts = NULL;
		if (sqlite3_column_type(pts, 6) != SQLITE_NULL) {
			h.n = (uint64_t)sqlite3_column_int64(pts, 6);
			h.sum = sqlite3_column_double(pts, 7);
			h.min = sqlite3_column_double(pts, 8);
			h.max = sqlite3_column_double(pts, 9);
			h.first = sqlite3_column_double(pts, 10);
			h.inc = sqlite3_column_double(pts, 11);
			h.last = p->value;
			stop = fn(arg, series, p, &h);
			continue;
		}
		if (p->type == METRIC_HISTOGRAM && point_buckets(p, pts, 4, hist) < 0) {
			sqlite3_reset(pts);
			return errf(err, errlen,
				    "metric scan: a histogram's buckets do not match its bounds");
		}
		stop = fn(arg, series, p, NULL);
	}
	sqlite3_reset(pts);
	if (!stop && rc != SQLITE_DONE)
		return -1;
	return stop;
}

int sqlite_scan_series_hours(struct store *s, uint64_t from_ns, uint64_t to_ns, const char *prefix,
			     store_series_hour_fn fn, void *arg, char *err, size_t errlen)
{
	wait_rollups_flushed(s); /* and the metric log folded */
	sqlite3 *db = db_reader_get(s, err, errlen);
	sqlite3_stmt *ser = NULL, *pts = NULL;
	struct hist_copy hist = {0};
	struct arena a;
	int ret = -1, rc = SQLITE_DONE, stop = 0;
	if (errlen)
		err[0] = '\0';
	if (!db)
		return -1;
	arena_init(&a);
	uint64_t to = to_ns ? to_ns : INT64_MAX;
	uint64_t h1 = (from_ns + STORE_METRIC_HOUR_NS - 1) / STORE_METRIC_HOUR_NS * STORE_METRIC_HOUR_NS;
	uint64_t h2 = to / STORE_METRIC_HOUR_NS * STORE_METRIC_HOUR_NS;
	if (h2 <= h1)
		h1 = h2 = to; /* no whole hour: every point one by one */
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT s.id, (SELECT value FROM dict WHERE id = s.service), s.name, s.unit, s.type,"
		    " s.attrs, s.resource FROM metric_series s"
		    " WHERE substr(s.name, 1, length(?1)) = ?1 ORDER BY s.id",
		    -1, &ser, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(
		    db,
		    "SELECT time_ns, value, count, sum, bounds, buckets, NULL, NULL, NULL, NULL, NULL, NULL"
		    " FROM metric_points WHERE series = ?1 AND time_ns >= ?2 AND time_ns < ?4"
		    " UNION ALL SELECT t, last, NULL, NULL, NULL, NULL, n, sum, min, max, first, inc"
		    " FROM metric_hours WHERE series = ?1 AND t >= ?4 AND t < ?5"
		    " UNION ALL SELECT time_ns, value, count, sum, bounds, buckets, NULL, NULL, NULL, NULL,"
		    " NULL, NULL FROM metric_points WHERE series = ?1 AND time_ns >= ?5 AND time_ns < ?3"
		    " ORDER BY 1",
		    -1, &pts, NULL) != SQLITE_OK) {
		errf(err, errlen, "metric scan: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(ser, 1, prefix ? prefix : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(pts, 2, (int64_t)from_ns);
	sqlite3_bind_int64(pts, 3, (int64_t)to);
	while (!stop && (rc = sqlite3_step(ser)) == SQLITE_ROW) {
		struct resource res;
		struct metric_point p;
		arena_reset(&a);
		series_point(&a, ser, 6, &res, &p);
		/* histograms have no hours: all of the range one by one */
		int hist_series = p.type == METRIC_HISTOGRAM;
		sqlite3_bind_int64(pts, 4, (int64_t)(hist_series ? to : h1));
		sqlite3_bind_int64(pts, 5, (int64_t)(hist_series ? to : h2));
		stop = series_hours(pts, sqlite3_column_int64(ser, 0), &p, &hist, fn, arg, err, errlen);
		if (stop < 0) {
			if (!*err)
				errf(err, errlen, "metric scan: %s", sqlite3_errmsg(db));
			goto out;
		}
	}
	if (!stop && rc != SQLITE_DONE) {
		ret = db_read_error(db, "metric scan", err, errlen);
		goto out;
	}
	ret = 0;
out:
	arena_release(&a);
	free(hist.bounds);
	sqlite3_finalize(ser);
	sqlite3_finalize(pts);
	db_reader_put(s, db);
	return ret;
}
