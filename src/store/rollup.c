/*
 * rollup.c - latency rollups (see rollup.h).
 *
 * The writer keeps the aggregates it touched recently in memory (keyed by
 * resolution, bucket and key id), so adding a request never reads the
 * database; an aggregate not in memory is loaded once from its row.  A
 * flush writes every dirty aggregate whole (INSERT OR REPLACE) and the
 * watermark in one transaction, so the stored rollups and the watermark
 * always agree; the writer flushes about once a second rather than at
 * every commit, which keeps rollups off the ingest path's cost.
 */
#include "store/rollup.h"

#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/strmap.h"

#define CACHE_MAX 50000 /* aggregates kept in memory before the cache is reset */

struct agg {
	uint32_t res;
	int64_t t, key;
	uint64_t count, sum_ns, tiers[TIER_COUNT];
	struct sketch sketch;
	int dirty;
};

struct rollup_writer {
	sqlite3 *db;
	sqlite3_stmt *key_ins, *key_sel, *load, *save, *mark;
	struct strmap keys; /* rollup_dims bytes -> key id */
	struct strmap aggs; /* (res, t, key) -> index in agg */
	struct agg *agg;
	size_t n_agg, cap_agg;
	struct strmap endpoints;   /* (service, endpoint) seen in rollups -> 1 */
	struct strmap per_service; /* service -> endpoints seen */
	unsigned max_endpoints;
	int64_t other; /* dictionary id of the endpoint "other" */
	uint64_t folded;
};

static const char *const SQL_KEY_INS =
	"INSERT OR IGNORE INTO rollup_keys(service, endpoint, tool, env, version, department, intent,"
	" status, error_type, edge) VALUES(?,?,?,?,?,?,?,?,?,?)";
static const char *const SQL_KEY_SEL =
	"SELECT id FROM rollup_keys WHERE service=? AND endpoint=? AND tool=? AND env=? AND version=?"
	" AND department=? AND intent=? AND status=? AND error_type=? AND edge=?";
static const char *const SQL_LOAD = "SELECT count, sum_ns, sketch, fast, normal, slow, critical FROM rollups"
				    " WHERE res=? AND t=? AND key=?";
static const char *const SQL_SAVE = "INSERT OR REPLACE INTO rollups(res, t, key, count, sum_ns, sketch, fast,"
				    " normal, slow, critical) VALUES(?,?,?,?,?,?,?,?,?,?)";

const uint64_t request_tier_lo_ns[TIER_COUNT] = {0, 100000000, 500000000, 2000000000};
const char *const request_tier_names[TIER_COUNT] = {"fast", "normal", "slow", "critical"};

enum request_tier request_tier_of(uint64_t duration_ns)
{
	int t = TIER_CRITICAL;
	while (t > TIER_FAST && duration_ns < request_tier_lo_ns[t])
		t--;
	return (enum request_tier)t;
}
static const char *const SQL_MARK = "UPDATE meta SET value = ? WHERE key = 'rollup_watermark'";

static void load_endpoints(struct rollup_writer *w)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(w->db, "SELECT DISTINCT service, endpoint FROM rollup_keys", -1, &st, NULL) !=
	    SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t pair[2] = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)}, n = 0;
		strmap_put(&w->endpoints, pair, sizeof(pair), 1);
		strmap_get(&w->per_service, &pair[0], sizeof(pair[0]), &n);
		strmap_put(&w->per_service, &pair[0], sizeof(pair[0]), n + 1);
	}
	sqlite3_finalize(st);
}

struct rollup_writer *rollup_writer_new(sqlite3 *db, unsigned max_endpoints, char *err, size_t errlen)
{
	struct rollup_writer *w = xcalloc(1, sizeof(*w));
	w->db = db;
	w->max_endpoints = max_endpoints ? max_endpoints : 500;
	strmap_init(&w->keys);
	strmap_init(&w->aggs);
	strmap_init(&w->endpoints);
	strmap_init(&w->per_service);
	if (sqlite3_prepare_v3(db, SQL_KEY_INS, -1, SQLITE_PREPARE_PERSISTENT, &w->key_ins, NULL) ||
	    sqlite3_prepare_v3(db, SQL_KEY_SEL, -1, SQLITE_PREPARE_PERSISTENT, &w->key_sel, NULL) ||
	    sqlite3_prepare_v3(db, SQL_LOAD, -1, SQLITE_PREPARE_PERSISTENT, &w->load, NULL) ||
	    sqlite3_prepare_v3(db, SQL_SAVE, -1, SQLITE_PREPARE_PERSISTENT, &w->save, NULL) ||
	    sqlite3_prepare_v3(db, SQL_MARK, -1, SQLITE_PREPARE_PERSISTENT, &w->mark, NULL)) {
		errf(err, errlen, "rollups: %s", sqlite3_errmsg(db));
		rollup_writer_free(w);
		return NULL;
	}
	load_endpoints(w);
	sqlite3_stmt *st;
	char ins[96], sel[96];
	snprintf(ins, sizeof(ins), "INSERT OR IGNORE INTO dict(kind, value) VALUES(%d, 'other')",
		 DICT_ENDPOINT);
	snprintf(sel, sizeof(sel), "SELECT id FROM dict WHERE kind = %d AND value = 'other'", DICT_ENDPOINT);
	if (sqlite3_exec(db, ins, NULL, NULL, NULL) || sqlite3_prepare_v2(db, sel, -1, &st, NULL)) {
		errf(err, errlen, "rollups: %s", sqlite3_errmsg(db));
		rollup_writer_free(w);
		return NULL;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		w->other = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return w;
}

static void drop_aggs(struct rollup_writer *w)
{
	for (size_t i = 0; i < w->n_agg; i++)
		sketch_release(&w->agg[i].sketch);
	w->n_agg = 0;
	strmap_release(&w->aggs);
}

void rollup_writer_free(struct rollup_writer *w)
{
	if (!w)
		return;
	drop_aggs(w);
	free(w->agg);
	strmap_release(&w->keys);
	strmap_release(&w->endpoints);
	strmap_release(&w->per_service);
	sqlite3_finalize(w->key_ins);
	sqlite3_finalize(w->key_sel);
	sqlite3_finalize(w->load);
	sqlite3_finalize(w->save);
	sqlite3_finalize(w->mark);
	free(w);
}

void rollup_writer_forget(struct rollup_writer *w)
{
	drop_aggs(w);
	strmap_release(&w->keys);
	strmap_release(&w->endpoints);
	strmap_release(&w->per_service);
	load_endpoints(w);
}

uint64_t rollup_writer_folded(const struct rollup_writer *w)
{
	return w->folded;
}

int64_t rollup_writer_endpoint(struct rollup_writer *w, int64_t service, int64_t endpoint)
{
	int64_t other = w->other;
	int64_t pair[2] = {service, endpoint}, n = 0, seen;
	if (strmap_get(&w->endpoints, pair, sizeof(pair), &seen) == 0)
		return endpoint;
	strmap_get(&w->per_service, &service, sizeof(service), &n);
	if (n >= (int64_t)w->max_endpoints && endpoint != other) {
		if (w->folded++ == 0)
			log_warn("rollups: service %lld has %lld endpoints; more fold into \"other\"",
				 (long long)service, (long long)n);
		return other;
	}
	strmap_put(&w->endpoints, pair, sizeof(pair), 1);
	strmap_put(&w->per_service, &service, sizeof(service), n + 1);
	return endpoint;
}

static void bind_dims(sqlite3_stmt *st, const struct rollup_dims *d)
{
	const int64_t v[10] = {d->service,    d->endpoint, d->tool,   d->env,	     d->version,
			       d->department, d->intent,   d->status, d->error_type, d->edge};
	for (int i = 0; i < 10; i++)
		sqlite3_bind_int64(st, i + 1, v[i]);
}

static int64_t key_id(struct rollup_writer *w, const struct rollup_dims *d)
{
	int64_t id;
	if (strmap_get(&w->keys, d, sizeof(*d), &id) == 0)
		return id;
	bind_dims(w->key_ins, d);
	int rc = sqlite3_step(w->key_ins);
	sqlite3_reset(w->key_ins);
	if (rc != SQLITE_DONE)
		return -1;
	bind_dims(w->key_sel, d);
	id = sqlite3_step(w->key_sel) == SQLITE_ROW ? sqlite3_column_int64(w->key_sel, 0) : -1;
	sqlite3_reset(w->key_sel);
	if (id > 0)
		strmap_put(&w->keys, d, sizeof(*d), id);
	return id;
}

/* The in-memory aggregate of (res, t, key), loaded from its row if any. */
static struct agg *get_agg(struct rollup_writer *w, uint32_t res, int64_t t, int64_t key)
{
	int64_t k[3] = {res, t, key}, idx;
	if (strmap_get(&w->aggs, k, sizeof(k), &idx) == 0)
		return &w->agg[idx];
	w->agg = xgrow(w->agg, &w->cap_agg, w->n_agg + 1, sizeof(*w->agg));
	struct agg *a = &w->agg[w->n_agg];
	memset(a, 0, sizeof(*a));
	a->res = res;
	a->t = t;
	a->key = key;
	sketch_init(&a->sketch);
	sqlite3_bind_int(w->load, 1, (int)res);
	sqlite3_bind_int64(w->load, 2, t);
	sqlite3_bind_int64(w->load, 3, key);
	if (sqlite3_step(w->load) == SQLITE_ROW) {
		char err[128];
		a->count = (uint64_t)sqlite3_column_int64(w->load, 0);
		a->sum_ns = (uint64_t)sqlite3_column_int64(w->load, 1);
		for (int i = 0; i < TIER_COUNT; i++)
			a->tiers[i] = (uint64_t)sqlite3_column_int64(w->load, 3 + i);
		if (sketch_decode(&a->sketch, sqlite3_column_blob(w->load, 2),
				  (size_t)sqlite3_column_bytes(w->load, 2), err, sizeof(err)) < 0) {
			log_error("rollups: bucket %lld key %lld: %s; starting it afresh", (long long)t,
				  (long long)key, err);
			a->count = a->sum_ns = 0;
			memset(a->tiers, 0, sizeof(a->tiers));
			sketch_clear(&a->sketch);
		}
	}
	sqlite3_reset(w->load);
	strmap_put(&w->aggs, k, sizeof(k), (int64_t)w->n_agg);
	w->n_agg++;
	return a;
}

int rollup_writer_add(struct rollup_writer *w, const struct rollup_dims *d, uint64_t start_ns,
		      uint64_t duration_ns)
{
	static const uint32_t res[] = {ROLLUP_MINUTE, ROLLUP_HOUR};
	int64_t key = key_id(w, d);
	enum request_tier tier = request_tier_of(duration_ns);
	if (key < 0)
		return -1;
	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
		int64_t t = (int64_t)(start_ns / 1000000000u / res[i] * res[i]);
		struct agg *a = get_agg(w, res[i], t, key);
		a->count++;
		a->tiers[tier]++;
		a->sum_ns += duration_ns;
		sketch_add(&a->sketch, (double)duration_ns);
		a->dirty = 1;
	}
	return 0;
}

int rollup_writer_flush(struct rollup_writer *w, int64_t last_request_id)
{
	struct buf blob;
	int ret = 0;
	buf_init(&blob, BUF_NO_LIMIT);
	for (size_t i = 0; i < w->n_agg && !ret; i++) {
		struct agg *a = &w->agg[i];
		if (!a->dirty)
			continue;
		buf_reset(&blob);
		sketch_encode(&a->sketch, &blob);
		sqlite3_bind_int(w->save, 1, (int)a->res);
		sqlite3_bind_int64(w->save, 2, a->t);
		sqlite3_bind_int64(w->save, 3, a->key);
		sqlite3_bind_int64(w->save, 4, (int64_t)a->count);
		sqlite3_bind_int64(w->save, 5, (int64_t)a->sum_ns);
		sqlite3_bind_blob(w->save, 6, blob.data, (int)blob.len, SQLITE_STATIC);
		for (int t = 0; t < TIER_COUNT; t++)
			sqlite3_bind_int64(w->save, 7 + t, (int64_t)a->tiers[t]);
		if (sqlite3_step(w->save) != SQLITE_DONE)
			ret = -1;
		sqlite3_reset(w->save);
		a->dirty = 0;
	}
	buf_release(&blob);
	sqlite3_bind_int64(w->mark, 1, last_request_id);
	if (!ret && sqlite3_step(w->mark) != SQLITE_DONE)
		ret = -1;
	sqlite3_reset(w->mark);
	/* Old buckets rarely change again: keep memory bounded. */
	if (!ret && w->n_agg > CACHE_MAX)
		drop_aggs(w);
	return ret;
}

long rollup_catch_up(struct rollup_writer *w, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long n = 0;
	int64_t last = 0;
	if (sqlite3_prepare_v2(
		    w->db,
		    "SELECT id, start_ns, duration_ns, service, endpoint, IFNULL(tool, 0), IFNULL(env, 0),"
		    " IFNULL(version, 0), IFNULL(department, 0), IFNULL(intent, 0), status,"
		    " IFNULL(error_type, 0), edge FROM requests WHERE id > (SELECT value FROM meta"
		    " WHERE key = 'rollup_watermark') ORDER BY id",
		    -1, &st, NULL) != SQLITE_OK)
		return errf(err, errlen, "rollup catch-up: %s", sqlite3_errmsg(w->db));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rollup_dims d = {
			.service = sqlite3_column_int64(st, 3),
			.endpoint = sqlite3_column_int64(st, 4),
			.tool = sqlite3_column_int64(st, 5),
			.env = sqlite3_column_int64(st, 6),
			.version = sqlite3_column_int64(st, 7),
			.department = sqlite3_column_int64(st, 8),
			.intent = sqlite3_column_int64(st, 9),
			.status = sqlite3_column_int64(st, 10),
			.error_type = sqlite3_column_int64(st, 11),
			.edge = sqlite3_column_int64(st, 12),
		};
		last = sqlite3_column_int64(st, 0);
		d.endpoint = rollup_writer_endpoint(w, d.service, d.endpoint);
		/* flush as we go: a long history must not pile up in memory */
		if (rollup_writer_add(w, &d, (uint64_t)sqlite3_column_int64(st, 1),
				      (uint64_t)sqlite3_column_int64(st, 2)) < 0 ||
		    (++n % 100000 == 0 && rollup_writer_flush(w, last) < 0)) {
			rc = SQLITE_ERROR;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || (n && rollup_writer_flush(w, last) < 0))
		return errf(err, errlen, "rollup catch-up: %s", sqlite3_errmsg(w->db));
	return n;
}

/* ---- queries ---------------------------------------------------------- */

struct key_info {
	const char *dims[8]; /* service, endpoint, tool, env, version, department, intent, error_type */
	uint8_t status;
};

static void where_key(struct buf *sql, const struct store_query *q, const char **binds, int *nb)
{
	static const struct {
		const char *col;
		enum dict_kind kind;
		size_t off;
	} f[] = {
		{"service", DICT_SERVICE, offsetof(struct store_query, service)},
		{"endpoint", DICT_ENDPOINT, offsetof(struct store_query, endpoint)},
		{"tool", DICT_TOOL, offsetof(struct store_query, tool)},
		{"env", DICT_ENV, offsetof(struct store_query, env)},
		{"version", DICT_VERSION, offsetof(struct store_query, version)},
		{"department", DICT_DEPARTMENT, offsetof(struct store_query, department)},
		{"intent", DICT_INTENT, offsetof(struct store_query, intent)},
	};
	buf_puts(sql, " WHERE 1");
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const char *v = *(const char *const *)((const char *)q + f[i].off);
		if (!v)
			continue;
		buf_printf(sql, " AND k.%s = IFNULL((SELECT id FROM dict WHERE kind = %d AND value = ?), -1)",
			   f[i].col, f[i].kind);
		binds[(*nb)++] = v;
	}
	if (q->status >= 0)
		buf_printf(sql, " AND k.status = %d", q->status);
	if (q->edge_only)
		buf_puts(sql, " AND k.edge = 1");
}

int rollup_query(sqlite3 *db, const struct store_query *q, unsigned res, struct arena *a,
		 struct rollup_row **rows, size_t *n, char *err, size_t errlen)
{
	static const char *const cols[8] = {"service", "endpoint",   "tool",   "env",
					    "version", "department", "intent", "error_type"};
	struct buf sql;
	const char *binds[8];
	int nb = 0, ret = -1;
	sqlite3_stmt *st = NULL;
	struct strmap key_index;
	struct key_info *keys = NULL;
	size_t n_keys = 0, cap_keys = 0, cap = 0;

	*rows = NULL;
	*n = 0;
	buf_init(&sql, BUF_NO_LIMIT);
	strmap_init(&key_index);

	/* 1. the keys matching the filters, with their dimension values */
	buf_puts(&sql, "SELECT k.id, k.status");
	for (int i = 0; i < 8; i++)
		buf_printf(&sql, ", (SELECT value FROM dict WHERE id = k.%s)", cols[i]);
	buf_puts(&sql, " FROM rollup_keys k");
	where_key(&sql, q, binds, &nb);
	if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK)
		goto sqlerr;
	for (int i = 0; i < nb; i++)
		sqlite3_bind_text(st, i + 1, binds[i], -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		keys = arena_grow(a, keys, &cap_keys, n_keys + 1, sizeof(*keys));
		struct key_info *k = &keys[n_keys];
		int64_t id = sqlite3_column_int64(st, 0);
		k->status = (uint8_t)sqlite3_column_int(st, 1);
		for (int i = 0; i < 8; i++) {
			const unsigned char *t = sqlite3_column_text(st, 2 + i);
			k->dims[i] = t ? arena_strdup(a, (const char *)t) : NULL;
		}
		/* version=latest is told here: its pairs are few, the keys too */
		if (!store_query_version_ok(q, k->dims[0], k->dims[4]))
			continue;
		strmap_put(&key_index, &id, sizeof(id), (int64_t)n_keys++);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!n_keys) {
		ret = 0;
		goto out;
	}

	/* 2. their buckets in the range */
	int64_t from = (int64_t)(q->from_ns / 1000000000u / res * res);
	int64_t to = (int64_t)((q->to_ns + 999999999u) / 1000000000u);
	buf_reset(&sql);
	buf_puts(&sql,
		 "SELECT r.t, r.key, r.count, r.sum_ns, r.sketch, r.fast, r.normal, r.slow, r.critical"
		 " FROM rollups r"
		 " WHERE r.res = ? AND r.t >= ? AND r.t < ? AND r.key IN (SELECT k.id FROM rollup_keys k");
	nb = 0;
	where_key(&sql, q, binds, &nb);
	buf_puts(&sql, ") ORDER BY r.t");
	if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK)
		goto sqlerr;
	sqlite3_bind_int(st, 1, (int)res);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	for (int i = 0; i < nb; i++)
		sqlite3_bind_text(st, 4 + i, binds[i], -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t key = sqlite3_column_int64(st, 1), ki;
		if (strmap_get(&key_index, &key, sizeof(key), &ki) < 0)
			continue;
		*rows = arena_grow(a, *rows, &cap, *n + 1, sizeof(**rows));
		struct rollup_row *r = &(*rows)[*n];
		const struct key_info *k = &keys[ki];
		memset(r, 0, sizeof(*r));
		r->t_ns = (uint64_t)sqlite3_column_int64(st, 0) * 1000000000u;
		r->service = k->dims[0];
		r->endpoint = k->dims[1];
		r->tool = k->dims[2];
		r->env = k->dims[3];
		r->version = k->dims[4];
		r->department = k->dims[5];
		r->intent = k->dims[6];
		r->error_type = k->dims[7];
		r->status = k->status;
		r->count = (uint64_t)sqlite3_column_int64(st, 2);
		r->sum_ns = (uint64_t)sqlite3_column_int64(st, 3);
		for (int t = 0; t < TIER_COUNT; t++)
			r->tiers[t] = (uint64_t)sqlite3_column_int64(st, 5 + t);
		r->blob_len = (size_t)sqlite3_column_bytes(st, 4);
		r->blob = memcpy(arena_alloc(a, r->blob_len), sqlite3_column_blob(st, 4), r->blob_len);
		sketch_init(&r->sketch);
		(*n)++;
	}
	if (rc != SQLITE_DONE)
		goto sqlerr;
	ret = 0;
	goto out;
sqlerr:
	errf(err, errlen, "rollups: %s", sqlite3_errmsg(db));
	store_rollups_release(*rows, *n);
	*n = 0;
out:
	sqlite3_finalize(st);
	strmap_release(&key_index);
	buf_release(&sql);
	return ret;
}

int rollup_row_decode(struct rollup_row *r, char *err, size_t errlen)
{
	if (!r->blob)
		return 0;
	if (sketch_decode(&r->sketch, r->blob, r->blob_len, err, errlen) < 0)
		return -1;
	r->blob = NULL;
	return 0;
}

int rollup_row_merge(struct sketch *dst, const struct rollup_row *r, char *err, size_t errlen)
{
	if (r->blob)
		return sketch_merge_encoded(dst, r->blob, r->blob_len, err, errlen);
	return sketch_merge(dst, &r->sketch) < 0 ? errf(err, errlen, "sketch: count overflow") : 0;
}

void store_rollups_release(struct rollup_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sketch_release(&rows[i].sketch);
}
