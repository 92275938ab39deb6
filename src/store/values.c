/*
 * values.c - the filter values and newest versions of a time range (see
 * values.h).
 *
 * A range is cut into at most five parts: request rows before its first
 * whole minute, minute rollups up to its first whole hour, hour rollups,
 * minute rollups after its last whole hour, request rows after its last
 * whole minute.  Each part yields dimension tuples (the dictionary ids of
 * service, endpoint, environment, version, department, intent, tool and
 * error type), deduplicated in memory; both answers are computed from the
 * tuples.  All reads run in one read transaction, so they see one state of
 * the store.
 */
#include "store/values.h"

#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/strmap.h"
#include "store/rollup.h"

#define MINUTE_NS (60ull * 1000000000ull)
#define HOUR_NS	  (3600ull * 1000000000ull)

enum { N_DIMS = DICT_KINDS - 1 }; /* dimension of kind k at index k - 1 */

/* A tuple's sources: the rollups (whose endpoint may be a folded "other")
 * and the request rows. */
enum { FROM_ROLLUPS = 1, FROM_ROWS = 2 };

struct tuple {
	int64_t dim[N_DIMS];
	int64_t first_row; /* lowest request id among the rows read; INT64_MAX: none */
	int from;
};

struct tuples {
	struct tuple *t;
	size_t n, cap;
	struct strmap index; /* dims -> index in t */
	int64_t other;	     /* dictionary id of the endpoint "other" (0: none) */
};

/* The parts of [from, to): request rows in rows[], rollups in roll[] (t in
 * seconds, as rollups store it); empty parts have lo == hi. */
struct parts {
	int64_t rows[2][2];
	struct {
		int64_t res, lo, hi;
	} roll[3];
};

static void split_range(uint64_t from, uint64_t to, struct parts *p)
{
	uint64_t m0 = (from + MINUTE_NS - 1) / MINUTE_NS * MINUTE_NS, m1 = to / MINUTE_NS * MINUTE_NS;
	memset(p, 0, sizeof(*p));
	if (m0 >= m1) { /* no whole minute */
		p->rows[0][0] = (int64_t)from;
		p->rows[0][1] = (int64_t)to;
		return;
	}
	p->rows[0][0] = (int64_t)from;
	p->rows[0][1] = (int64_t)m0;
	p->rows[1][0] = (int64_t)m1;
	p->rows[1][1] = (int64_t)to;
	uint64_t h0 = (m0 + HOUR_NS - 1) / HOUR_NS * HOUR_NS, h1 = m1 / HOUR_NS * HOUR_NS;
	if (h0 >= h1)
		h0 = h1 = m1; /* no whole hour: minutes all along */
	const uint64_t bounds[3][3] = {
		{ROLLUP_MINUTE, m0, h0}, {ROLLUP_HOUR, h0, h1}, {ROLLUP_MINUTE, h1, m1}};
	for (int i = 0; i < 3; i++) {
		p->roll[i].res = (int64_t)bounds[i][0];
		p->roll[i].lo = (int64_t)(bounds[i][1] / 1000000000ull);
		p->roll[i].hi = (int64_t)(bounds[i][2] / 1000000000ull);
	}
}

static void tuples_init(struct tuples *ts)
{
	memset(ts, 0, sizeof(*ts));
	strmap_init(&ts->index);
}

static void tuples_release(struct tuples *ts)
{
	free(ts->t);
	strmap_release(&ts->index);
}

static void tuples_add(struct tuples *ts, const int64_t *dim, int64_t first_row, int from)
{
	int64_t i;
	if (strmap_get(&ts->index, dim, N_DIMS * sizeof(*dim), &i) < 0) {
		ts->t = xgrow(ts->t, &ts->cap, ts->n + 1, sizeof(*ts->t));
		i = (int64_t)ts->n++;
		memcpy(ts->t[i].dim, dim, N_DIMS * sizeof(*dim));
		ts->t[i].first_row = INT64_MAX;
		ts->t[i].from = 0;
		strmap_put(&ts->index, dim, N_DIMS * sizeof(*dim), i);
	}
	if (first_row < ts->t[i].first_row)
		ts->t[i].first_row = first_row;
	ts->t[i].from |= from;
}

/* Read the tuples of `st` (N_DIMS ids, then the lowest request id when
 * from == FROM_ROWS) into ts. */
static int read_tuples(sqlite3_stmt *st, struct tuples *ts, int from)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t dim[N_DIMS];
		for (int d = 0; d < N_DIMS; d++)
			dim[d] = sqlite3_column_int64(st, d);
		tuples_add(ts, dim, from == FROM_ROWS ? sqlite3_column_int64(st, N_DIMS) : INT64_MAX, from);
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

static const char *const SQL_KEYS =
	"SELECT k.service, k.endpoint, k.env, k.version, k.department, k.intent, k.tool, k.error_type"
	" FROM rollup_keys k WHERE k.id IN (SELECT key FROM rollups WHERE res = ?1 AND t >= ?2 AND t < ?3"
	" UNION SELECT key FROM rollups WHERE res = ?4 AND t >= ?5 AND t < ?6"
	" UNION SELECT key FROM rollups WHERE res = ?7 AND t >= ?8 AND t < ?9)";
static const char *const SQL_ROWS =
	"SELECT IFNULL(service, 0), IFNULL(endpoint, 0), IFNULL(env, 0), IFNULL(version, 0),"
	" IFNULL(department, 0), IFNULL(intent, 0), IFNULL(tool, 0), IFNULL(error_type, 0), min(id)"
	" FROM requests WHERE start_ns >= ?1 AND start_ns < ?2 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8";

static int has(const struct strmap *m, const void *key, size_t len)
{
	int64_t v;
	return strmap_get(m, key, len, &v) == 0;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return errf(err, errlen, "values: %s", sqlite3_errmsg(db));
	return 0;
}

/* The dictionary id of a value; 0 when the dictionary does not hold it. */
static int64_t dict_lookup(sqlite3 *db, enum dict_kind kind, const char *value)
{
	sqlite3_stmt *st;
	int64_t id = 0;
	if (sqlite3_prepare_v2(db, "SELECT id FROM dict WHERE kind = ?1 AND value = ?2", -1, &st, NULL) !=
	    SQLITE_OK)
		return 0;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

/* The tuples of the requests in [from, to). */
static int read_range(sqlite3 *db, uint64_t from, uint64_t to, struct tuples *ts, char *err, size_t errlen)
{
	struct parts p;
	sqlite3_stmt *keys = NULL, *rows = NULL;
	int ret = -1;
	split_range(from, to, &p);
	ts->other = dict_lookup(db, DICT_ENDPOINT, "other");
	if (prepare(db, SQL_KEYS, &keys, err, errlen) < 0 || prepare(db, SQL_ROWS, &rows, err, errlen) < 0)
		goto out;
	for (int i = 0; i < 3; i++) {
		sqlite3_bind_int64(keys, 3 * i + 1, p.roll[i].res);
		sqlite3_bind_int64(keys, 3 * i + 2, p.roll[i].lo);
		sqlite3_bind_int64(keys, 3 * i + 3, p.roll[i].hi);
	}
	if (read_tuples(keys, ts, FROM_ROLLUPS) < 0)
		goto fail;
	for (int i = 0; i < 2; i++) {
		if (p.rows[i][0] >= p.rows[i][1])
			continue;
		sqlite3_reset(rows);
		sqlite3_bind_int64(rows, 1, p.rows[i][0]);
		sqlite3_bind_int64(rows, 2, p.rows[i][1]);
		if (read_tuples(rows, ts, FROM_ROWS) < 0)
			goto fail;
	}
	ret = 0;
	goto out;
fail:
	errf(err, errlen, "values: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(keys);
	sqlite3_finalize(rows);
	return ret;
}

/* Whether the tuple's endpoint may stand for others folded into "other". */
static int folded(const struct tuples *ts, const struct tuple *t)
{
	return ts->other && t->dim[DICT_ENDPOINT - 1] == ts->other && (t->from & FROM_ROLLUPS);
}

static void put_id(struct buf *json, struct strmap *seen, int64_t id)
{
	if (!id || has(seen, &id, sizeof(id)))
		return;
	strmap_put(seen, &id, sizeof(id), 1);
	buf_printf(json, "%s%lld", json->len > 1 ? "," : "", (long long)id);
}

/* Add the endpoints of each service with a folded key: from its request rows. */
static int folded_endpoints(sqlite3 *db, const struct tuples *ts, uint64_t from, uint64_t to,
			    struct buf *json, struct strmap *seen, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	struct strmap done;
	int rc = SQLITE_DONE;
	strmap_init(&done);
	if (prepare(db,
		    "SELECT DISTINCT endpoint FROM requests WHERE service = ?1 AND start_ns >= ?2"
		    " AND start_ns < ?3",
		    &st, err, errlen) < 0) {
		strmap_release(&done);
		return -1;
	}
	for (size_t i = 0; i < ts->n && rc == SQLITE_DONE; i++) {
		int64_t service = ts->t[i].dim[DICT_SERVICE - 1];
		if (!folded(ts, &ts->t[i]) || has(&done, &service, sizeof(service)))
			continue;
		strmap_put(&done, &service, sizeof(service), 1);
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, service);
		sqlite3_bind_int64(st, 2, (int64_t)from);
		sqlite3_bind_int64(st, 3, (int64_t)to);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			put_id(json, seen, sqlite3_column_int64(st, 0));
	}
	if (rc != SQLITE_DONE)
		errf(err, errlen, "values: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	strmap_release(&done);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The texts of the ids in `json` (an array), sorted bytewise, at most 1000. */
static int texts_of(sqlite3 *db, const char *json, struct arena *a, const char ***values, size_t *n,
		    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;
	if (prepare(db,
		    "SELECT value FROM dict WHERE id IN (SELECT value FROM json_each(?1))"
		    " ORDER BY value LIMIT 1000",
		    &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*values = arena_grow(a, *values, &cap, *n + 1, sizeof(**values));
		(*values)[(*n)++] = arena_strndup(a, (const char *)sqlite3_column_text(st, 0),
						  (size_t)sqlite3_column_bytes(st, 0));
	}
	if (rc != SQLITE_DONE)
		errf(err, errlen, "values: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The values of one kind of dimension in the tuples. */
static int kind_values(sqlite3 *db, const struct tuples *ts, enum dict_kind kind, uint64_t from, uint64_t to,
		       struct arena *a, struct store_dim_values *out, char *err, size_t errlen)
{
	struct buf json;
	struct strmap seen;
	int ret = 0;
	buf_init(&json, BUF_NO_LIMIT);
	strmap_init(&seen);
	buf_putc(&json, '[');
	for (size_t i = 0; i < ts->n; i++)
		if (kind != DICT_ENDPOINT || !folded(ts, &ts->t[i]))
			put_id(&json, &seen, ts->t[i].dim[kind - 1]);
	if (kind == DICT_ENDPOINT)
		ret = folded_endpoints(db, ts, from, to, &json, &seen, err, errlen);
	buf_putc(&json, ']');
	if (ret == 0)
		ret = texts_of(db, json.data, a, &out->values[kind], &out->n[kind], err, errlen);
	strmap_release(&seen);
	buf_release(&json);
	return ret;
}

/* Every read of one answer sees the same state of the store. */
static int begin(sqlite3 *db, char *err, size_t errlen)
{
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return errf(err, errlen, "values: %s", sqlite3_errmsg(db));
	return 0;
}

static void end(sqlite3 *db)
{
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

int values_read(sqlite3 *db, uint64_t from_ns, uint64_t to_ns, unsigned kinds, struct arena *a,
		struct store_dim_values *out, char *err, size_t errlen)
{
	struct tuples ts;
	uint64_t to = to_ns ? to_ns : INT64_MAX;
	int ret = -1;
	memset(out, 0, sizeof(*out));
	if (begin(db, err, errlen) < 0)
		return -1;
	tuples_init(&ts);
	if (read_range(db, from_ns, to, &ts, err, errlen) < 0)
		goto out;
	for (int k = DICT_SERVICE; k < DICT_KINDS; k++)
		if ((kinds & (1u << k)) &&
		    kind_values(db, &ts, (enum dict_kind)k, from_ns, to, a, out, err, errlen) < 0)
			goto out;
	ret = 0;
out:
	tuples_release(&ts);
	end(db);
	return ret;
}

/* ---- version=latest ---------------------------------------------------- */

/* Dictionary ids of q's filters (0: any). */
struct latest_filter {
	int64_t service, endpoint, env, department, intent, tool;
};

/* Whether q's filters name a value the dictionary lacks (nothing matches). */
static int resolve_filter(sqlite3 *db, const struct store_query *q, struct latest_filter *f)
{
	const char *v[6] = {q->service, q->endpoint, q->env, q->department, q->intent, q->tool};
	const enum dict_kind k[6] = {DICT_SERVICE,    DICT_ENDPOINT, DICT_ENV,
				     DICT_DEPARTMENT, DICT_INTENT,   DICT_TOOL};
	int64_t *id[6] = {&f->service, &f->endpoint, &f->env, &f->department, &f->intent, &f->tool};
	int missing = 0;
	for (int i = 0; i < 6; i++) {
		*id[i] = v[i] ? dict_lookup(db, k[i], v[i]) : 0;
		missing |= v[i] && !*id[i];
	}
	return missing;
}

static int dim_ok(int64_t want, int64_t have)
{
	return !want || want == have;
}

static int in_scope(const struct latest_filter *f, const struct tuple *t)
{
	return dim_ok(f->service, t->dim[DICT_SERVICE - 1]) && dim_ok(f->env, t->dim[DICT_ENV - 1]);
}

/* In scope and selected by every filter but the endpoint. */
static int selected_but_endpoint(const struct latest_filter *f, const struct tuple *t)
{
	return in_scope(f, t) && dim_ok(f->department, t->dim[DICT_DEPARTMENT - 1]) &&
	       dim_ok(f->intent, t->dim[DICT_INTENT - 1]) && dim_ok(f->tool, t->dim[DICT_TOOL - 1]);
}

/* Whether the service has a request in range that the filters select: for
 * a tuple whose endpoint was folded, asked of its request rows. */
static int service_serves(sqlite3 *db, const struct latest_filter *f, int64_t service, uint64_t from,
			  uint64_t to)
{
	sqlite3_stmt *st;
	int found = 0;
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT 1 FROM requests WHERE service = ?1 AND start_ns >= ?2 AND start_ns < ?3"
		    " AND endpoint = ?4 AND (?5 = 0 OR env = ?5) AND (?6 = 0 OR department = ?6)"
		    " AND (?7 = 0 OR intent = ?7) AND (?8 = 0 OR tool = ?8) LIMIT 1",
		    -1, &st, NULL) != SQLITE_OK)
		return -1;
	const int64_t v[8] = {service, (int64_t)from, (int64_t)to, f->endpoint,
			      f->env,  f->department, f->intent,   f->tool};
	for (int i = 0; i < 8; i++)
		sqlite3_bind_int64(st, i + 1, v[i]);
	int rc = sqlite3_step(st);
	found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return found;
}

/* The services the filters select (service id -> 1). */
static int select_services(sqlite3 *db, const struct tuples *ts, const struct latest_filter *f, uint64_t from,
			   uint64_t to, struct strmap *sel)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < ts->n; i++) {
			const struct tuple *t = &ts->t[i];
			int64_t service = t->dim[DICT_SERVICE - 1];
			if (!selected_but_endpoint(f, t) || has(sel, &service, sizeof(service)))
				continue;
			int sure = !f->endpoint || (f->endpoint == t->dim[DICT_ENDPOINT - 1] &&
						    (!folded(ts, t) || (t->from & FROM_ROWS)));
			int found = sure;
			if (!sure && pass == 1 && folded(ts, t)) /* after the sure ones */
				found = service_serves(db, f, service, from, to);
			if (found < 0)
				return -1;
			if (found)
				strmap_put(sel, &service, sizeof(service), 1);
		}
	}
	return 0;
}

struct pair {
	int64_t service, version, first_row, first_key;
};

/* Each (service, version) in scope and selected, with its lowest request
 * row read and its first rollup key (0: none yet). */
static int collect_pairs(sqlite3 *db, const struct tuples *ts, const struct latest_filter *f,
			 const struct strmap *sel, struct pair **pairs, size_t *n)
{
	struct strmap index;
	size_t cap = 0;
	sqlite3_stmt *st;
	int rc;
	strmap_init(&index);
	for (size_t i = 0; i < ts->n; i++) {
		const struct tuple *t = &ts->t[i];
		int64_t k[2] = {t->dim[DICT_SERVICE - 1], t->dim[DICT_VERSION - 1]}, at;
		if (!k[0] || !in_scope(f, t) || (sel && !has(sel, &k[0], sizeof(k[0]))))
			continue;
		if (strmap_get(&index, k, sizeof(k), &at) < 0) {
			*pairs = xgrow(*pairs, &cap, *n + 1, sizeof(**pairs));
			(*pairs)[*n] = (struct pair){k[0], k[1], INT64_MAX, 0};
			strmap_put(&index, k, sizeof(k), at = (int64_t)(*n)++);
		}
		if (t->first_row < (*pairs)[at].first_row)
			(*pairs)[at].first_row = t->first_row;
	}
	rc = sqlite3_prepare_v2(db, "SELECT service, version, min(id) FROM rollup_keys GROUP BY 1, 2", -1,
				&st, NULL);
	while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		int64_t k[2] = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)}, at;
		if (strmap_get(&index, k, sizeof(k), &at) == 0)
			(*pairs)[at].first_key = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	strmap_release(&index);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Whether pair a is newer than b: key ids are handed out in the order
 * requests are stored, so the greatest first key was first seen last; a
 * pair without a key yet came after every keyed one, and among those the
 * lowest request id tells. */
static int newer(const struct pair *a, const struct pair *b)
{
	if (!a->first_key != !b->first_key)
		return !a->first_key;
	return a->first_key ? a->first_key > b->first_key : a->first_row > b->first_row;
}

static const char *text_of(sqlite3 *db, struct arena *a, int64_t id)
{
	sqlite3_stmt *st;
	const char *text = NULL;
	if (!id || sqlite3_prepare_v2(db, "SELECT value FROM dict WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		text = arena_strndup(a, (const char *)sqlite3_column_text(st, 0),
				     (size_t)sqlite3_column_bytes(st, 0));
	sqlite3_finalize(st);
	return text;
}

/* Per service its newest pair, as texts. */
static void newest_pairs(sqlite3 *db, const struct pair *p, size_t n_pairs, struct arena *a,
			 struct service_version **out, size_t *n)
{
	struct strmap best; /* service -> index in p */
	size_t cap = 0;
	strmap_init(&best);
	for (size_t i = 0; i < n_pairs; i++) {
		int64_t at;
		if (strmap_get(&best, &p[i].service, sizeof(p[i].service), &at) < 0 || newer(&p[i], &p[at]))
			strmap_put(&best, &p[i].service, sizeof(p[i].service), (int64_t)i);
	}
	for (size_t i = 0; i < n_pairs; i++) {
		int64_t at;
		strmap_get(&best, &p[i].service, sizeof(p[i].service), &at);
		const char *service = at == (int64_t)i ? text_of(db, a, p[i].service) : NULL;
		if (!service)
			continue;
		*out = arena_grow(a, *out, &cap, *n + 1, sizeof(**out));
		(*out)[*n].service = service;
		(*out)[(*n)++].version = text_of(db, a, p[i].version);
	}
	strmap_release(&best);
}

int values_latest(sqlite3 *db, const struct store_query *q, struct arena *a, struct service_version **pairs,
		  size_t *n, char *err, size_t errlen)
{
	struct tuples ts;
	struct latest_filter f;
	struct strmap sel;
	struct pair *p = NULL;
	size_t n_p = 0;
	uint64_t to = q->to_ns ? q->to_ns : INT64_MAX;
	int ret = -1, selecting = q->endpoint || q->department || q->intent || q->tool;
	*pairs = NULL;
	*n = 0;
	if (begin(db, err, errlen) < 0)
		return -1;
	tuples_init(&ts);
	strmap_init(&sel);
	if (resolve_filter(db, q, &f)) { /* a value never stored: no request matches */
		ret = 0;
		goto out;
	}
	if (read_range(db, q->from_ns, to, &ts, err, errlen) < 0)
		goto out;
	if ((selecting && select_services(db, &ts, &f, q->from_ns, to, &sel) < 0) ||
	    collect_pairs(db, &ts, &f, selecting ? &sel : NULL, &p, &n_p) < 0) {
		errf(err, errlen, "latest versions: %s", sqlite3_errmsg(db));
		goto out;
	}
	newest_pairs(db, p, n_p, a, pairs, n);
	ret = 0;
out:
	free(p);
	strmap_release(&sel);
	tuples_release(&ts);
	end(db);
	return ret;
}
