/* sqlite_records.c - the embedded store's documents, events and profiles,
 * each written alone and durable when the call returns (see store.h). */
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "store/backend.h"
#include "store/sqlite_store.h"

/* ---- documents, events, profiles ------------------------------------- */

/* Write one record alone and wait until it is durable. */
static int write_record(struct store *s, struct record *rec, size_t bytes, char *err, size_t errlen)
{
	struct batch empty;
	batch_init(&empty);
	struct store_write *w = store_prepare(&empty);
	w->rec = rec;
	w->bytes += bytes;
	int rc = store_submit_wait(s, w);
	if (rc == ERR_BUSY) { /* the writer waits for room: busy means read-only */
		pthread_mutex_lock(&s->lock);
		snprintf(err, errlen,
			 "the store is read-only (%s): nothing was changed; retry once the disk takes writes "
			 "again",
			 s->writer_error[0] ? s->writer_error : "the disk is full or failing");
		pthread_mutex_unlock(&s->lock);
		return ERR_BUSY;
	}
	if (rc < 0)
		return errf(err, errlen, "the store could not write the record (see the server log)");
	return 0;
}

static int check_record(const struct store_record *r, char *err, size_t errlen)
{
	if (!r->kind || !r->id || !r->json)
		return errf(err, errlen, "a record needs a kind, an id and a JSON value");
	return 0;
}

int sqlite_put_doc(struct store *s, const struct store_record *r, char *err, size_t errlen)
{
	struct record rec = {.type = REC_DOC, .r = *r};
	if (check_record(r, err, errlen) < 0)
		return -1;
	return write_record(s, &rec, strlen(r->json), err, errlen);
}

int sqlite_add_event(struct store *s, const struct store_record *r, char *err, size_t errlen)
{
	struct record rec = {.type = REC_EVENT, .r = *r};
	if (check_record(r, err, errlen) < 0)
		return -1;
	return write_record(s, &rec, strlen(r->json), err, errlen);
}

int sqlite_delete_docs(struct store *s, const char *kind, const char *const *ids, size_t n, char *err,
		       size_t errlen)
{
	struct record rec = {.type = REC_DEL_DOCS, .r = {.kind = kind}, .ids = ids, .n_ids = n};
	size_t bytes = strlen(kind);
	for (size_t i = 0; i < n; i++)
		bytes += strlen(ids[i]);
	return write_record(s, &rec, bytes, err, errlen);
}

int sqlite_put_aggs(struct store *s, const struct store_agg *rows, size_t n, int replace_all, char *err,
		    size_t errlen)
{
	struct record rec = {.type = REC_AGGS, .aggs = rows, .n_aggs = n, .replace_all = replace_all};
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].len > (size_t)INT32_MAX)
			return errf(err, errlen, "an aggregate of %zu bytes is too large", rows[i].len);
		bytes += rows[i].len;
	}
	return write_record(s, &rec, bytes, err, errlen);
}

int sqlite_aggs(struct store *s, int kind, uint64_t from_ns, uint64_t to_ns, store_agg_fn fn, void *arg,
		char *err, size_t errlen)
{
	sqlite3 *db = db_reader_get(s, err, errlen);
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;
	if (!db)
		return -1;
	rc = sqlite3_prepare_v2(
		db,
		"SELECT kind, t, key, data FROM aggregates WHERE (?1 < 0 OR kind = ?1) AND t >= ?2"
		" AND t <= ?3 ORDER BY kind, t, key",
		-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, kind);
		sqlite3_bind_int64(st, 2, from_ns > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)from_ns);
		sqlite3_bind_int64(st, 3,
				   !to_ns || to_ns > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)to_ns - 1);
		while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			int64_t t = sqlite3_column_int64(st, 1);
			const char *key = (const char *)sqlite3_column_text(st, 2);
			struct store_agg row = {.kind = (uint32_t)sqlite3_column_int64(st, 0),
						.t_ns = t == INT64_MAX ? UINT64_MAX : (uint64_t)t,
						.key = key ? key : "",
						.data = sqlite3_column_blob(st, 3),
						.len = (size_t)sqlite3_column_bytes(st, 3)};
			stop = fn(arg, &row);
		}
	}
	int ok = stop || rc == SQLITE_DONE;
	if (!ok)
		errf(err, errlen, "stored aggregates: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_reader_put(s, db);
	return ok ? 0 : -1;
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
		r->kind = db_col_text(a, st, 0);
		r->id = db_col_text(a, st, 1);
		r->time_ns = (uint64_t)sqlite3_column_int64(st, 2);
		r->json = db_col_text(a, st, 3);
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
	sqlite3 *db = db_reader_get(s, err, errlen);
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
	db_bind_text_or_null(st, 2, id);
	sqlite3_bind_int64(st, 3, (int64_t)from_ns);
	sqlite3_bind_int64(st, 4, to_ns ? (int64_t)to_ns : INT64_MAX);
	sqlite3_bind_int64(st, 5, limit ? (int64_t)limit : -1);
	ret = read_records(st, a, rows, n, err, errlen);
out:
	sqlite3_finalize(st);
	db_reader_put(s, db);
	return ret;
}

int sqlite_docs(struct store *s, const char *kind, const char *id, struct arena *a,
		struct store_record **rows, size_t *n, char *err, size_t errlen)
{
	return query_records(
		s,
		"SELECT kind, id, time_ns, json FROM docs WHERE kind = ?1 AND (?2 IS NULL OR id = ?2)"
		" AND time_ns >= ?3 AND time_ns < ?4 ORDER BY id LIMIT ?5",
		kind, id, 0, 0, 0, a, rows, n, err, errlen);
}

int sqlite_events(struct store *s, const char *kind, const char *id, uint64_t from_ns, uint64_t to_ns,
		  unsigned limit, struct arena *a, struct store_record **rows, size_t *n, char *err,
		  size_t errlen)
{
	return query_records(
		s,
		"SELECT kind, id, time_ns, json FROM events WHERE kind = ?1 AND (?2 IS NULL OR id = ?2)"
		" AND time_ns >= ?3 AND time_ns < ?4 ORDER BY time_ns DESC, seq DESC LIMIT ?5",
		kind, id, from_ns, to_ns, limit, a, rows, n, err, errlen);
}

int sqlite_put_profile(struct store *s, const struct profile_row *p, int64_t *id, char *err, size_t errlen)
{
	void *z;
	size_t zlen;
	int rc = store_profile_pack(p, &z, &zlen, err, errlen);
	if (rc < 0)
		return rc;
	struct record rec = {.type = REC_PROFILE, .p = *p, .id = (int64_t)p->folded_len};
	rec.p.folded = z;
	rec.p.folded_len = zlen;
	rc = write_record(s, &rec, zlen, err, errlen);
	free(z);
	if (rc == 0 && id)
		*id = rec.id;
	return rc;
}

int sqlite_profiles(struct store *s, const struct profile_query *q, struct arena *a,
		    struct profile_row **rows, size_t *n, char *err, size_t errlen)
{
	sqlite3 *db = db_reader_get(s, err, errlen);
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
	db_bind_text_or_null(st, 4, q->service);
	db_bind_text_or_null(st, 5, q->version);
	db_bind_text_or_null(st, 6, q->env);
	db_bind_text_or_null(st, 7, q->type);
	sqlite3_bind_int64(st, 8, q->id);
	sqlite3_bind_int64(st, 9, q->limit ? (int64_t)q->limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*rows = arena_grow(a, *rows, &cap, *n + 1, sizeof(**rows));
		struct profile_row *p = &(*rows)[(*n)++];
		memset(p, 0, sizeof(*p));
		p->id = sqlite3_column_int64(st, 0);
		p->start_ns = (uint64_t)sqlite3_column_int64(st, 1);
		p->end_ns = (uint64_t)sqlite3_column_int64(st, 2);
		p->service = db_col_text(a, st, 3);
		p->version = db_col_text(a, st, 4);
		p->env = db_col_text(a, st, 5);
		p->type = db_col_text(a, st, 6);
		p->unit = db_col_text(a, st, 7);
		p->labels = db_col_text(a, st, 8);
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
	db_reader_put(s, db);
	return ret;
}
