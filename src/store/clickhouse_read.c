/*
 * clickhouse_read.c - the ClickHouse backend's reads: traces by id, request
 * rows, rollups merged by ClickHouse, block scans, metric points, documents
 * and events.  Answers come in RowBinary and are parsed as they arrive
 * (clickhouse_http.h), so a scan holds one block at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/sketch.h"
#include "core/strmap.h"
#include "store/block.h"
#include "store/clickhouse_store.h"

static int run(struct store *s, struct buf *sql, ch_row_fn fn, void *arg, char *err, size_t errlen)
{
	buf_puts(sql, " FORMAT RowBinary");
	int rc = ch_stream(ch_of(s)->ch, sql->data, fn, arg, err, errlen);
	buf_release(sql);
	return rc;
}

/* ---- one row of UInt64 columns ---- */

struct u64_row {
	uint64_t v[8];
	int n, got;
};

static int read_u64_row(void *arg, struct rb *r)
{
	struct u64_row *u = arg;
	uint64_t v[8];
	for (int i = 0; i < u->n; i++)
		v[i] = rb_u64(r);
	if (r->short_read)
		return 0;
	if (!u->got)
		memcpy(u->v, v, sizeof(v));
	u->got = 1;
	return 1;
}

/* The first row of `sql`, its n columns UInt64; *got 0 when none. */
static int query_u64(struct store *s, const char *sql, uint64_t *v, int n, int *got, char *err, size_t errlen)
{
	struct u64_row u = {.n = n};
	struct buf q;
	buf_init(&q, BUF_NO_LIMIT);
	buf_puts(&q, sql);
	int rc = run(s, &q, read_u64_row, &u, err, errlen);
	memcpy(v, u.v, (size_t)n * sizeof(*v));
	if (got)
		*got = u.got;
	return rc;
}

/* ---- traces ---- */

struct trace_read {
	const uint8_t *trace_id;
	struct batch *out;
	long total;
	char *err;
	size_t errlen;
};

static int read_trace_block(void *arg, struct rb *r)
{
	struct trace_read *t = arg;
	size_t len;
	const char *data = rb_str(r, &len);
	if (r->short_read)
		return 0;
	long n = block_decode(data, len, &(struct block_filter){.trace_id = t->trace_id}, t->out, t->err,
			      t->errlen);
	if (n < 0)
		return -1;
	t->total += n;
	return 1;
}

static int cmp_start(const void *pa, const void *pb)
{
	const struct span *a = pa, *b = pb;
	return (a->start_ns > b->start_ns) - (a->start_ns < b->start_ns);
}

long ch_get_trace(struct store *s, const uint8_t trace_id[16], struct batch *out, char *err, size_t errlen)
{
	struct trace_read t = {trace_id, out, 0, err, errlen};
	size_t first = out->n_spans;
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_printf(&sql,
		   "SELECT data FROM blocks WHERE (t_min, id) IN (SELECT t_min, block FROM trace_index"
		   " WHERE trace = %lld) ORDER BY id",
		   (long long)be64(trace_id));
	int rc = run(s, &sql, read_trace_block, &t, err, errlen);
	if (rc < 0)
		return rc;
	if (out->n_spans > first)
		qsort(out->spans + first, out->n_spans - first, sizeof(*out->spans), cmp_start);
	return t.total;
}

/* ---- request rows ---- */

static void eq(struct buf *sql, const char *col, const char *v)
{
	if (!v)
		return;
	buf_printf(sql, " AND %s = ", col);
	ch_quote(sql, v);
}

static void where_latest(struct buf *sql, const struct store_query *q)
{
	if (!q->latest)
		return;
	if (!q->n_latest) {
		buf_puts(sql, " AND 0");
		return;
	}
	buf_puts(sql, " AND (service, version) IN (");
	for (size_t i = 0; i < q->n_latest; i++) {
		buf_puts(sql, i ? ", (" : "(");
		ch_quote(sql, q->latest_versions[i].service);
		buf_puts(sql, ", ");
		ch_quote(sql, q->latest_versions[i].version ? q->latest_versions[i].version : CH_NONE);
		buf_putc(sql, ')');
	}
	buf_putc(sql, ')');
}

/* The filters of `q` on the request rows; `time` the column of the range. */
static void where_requests(struct buf *sql, const struct store_query *q)
{
	buf_puts(sql, " WHERE 1");
	if (q->from_ns)
		buf_printf(sql, " AND start_ns >= %llu", (unsigned long long)q->from_ns);
	if (q->to_ns)
		buf_printf(sql, " AND start_ns < %llu", (unsigned long long)q->to_ns);
	eq(sql, "service", q->service);
	eq(sql, "endpoint", q->endpoint);
	eq(sql, "env", q->env);
	eq(sql, "version", q->version);
	where_latest(sql, q);
	eq(sql, "department", q->department);
	eq(sql, "intent", q->intent);
	eq(sql, "tool", q->tool);
	if (q->status >= 0)
		buf_printf(sql, " AND status = %d", q->status);
	if (q->min_duration_ns)
		buf_printf(sql, " AND duration_ns >= %llu", (unsigned long long)q->min_duration_ns);
	if (q->max_duration_ns)
		buf_printf(sql, " AND duration_ns %s %llu",
			   q->max_exclusive ? "<" : "<=", (unsigned long long)q->max_duration_ns);
	if (q->edge_only)
		buf_puts(sql, " AND edge = 1");
}

struct rows_read {
	struct arena *a;
	struct request_row **rows;
	size_t *n, cap;
	int ids_only;
};

static int read_request(void *arg, struct rb *r)
{
	struct rows_read *rr = arg;
	uint64_t v[5];
	for (int i = 0; i < 5; i++)
		v[i] = rb_u64(r);
	uint8_t status = rb_u8(r), edge = rb_u8(r);
	const char *str[7] = {0};
	size_t len[7] = {0};
	for (int i = 0; i < 7 && !rr->ids_only; i++)
		str[i] = rb_str(r, &len[i]);
	if (r->short_read)
		return 0;
	*rr->rows = arena_grow(rr->a, *rr->rows, &rr->cap, *rr->n + 1, sizeof(**rr->rows));
	struct request_row *row = &(*rr->rows)[(*rr->n)++];
	memset(row, 0, sizeof(*row));
	row->start_ns = v[0];
	row->duration_ns = v[1];
	put_be64(row->trace_id, (int64_t)v[2]);
	put_be64(row->trace_id + 8, (int64_t)v[3]);
	put_be64(row->span_id, (int64_t)v[4]);
	row->status = status;
	row->edge = edge;
	const char **dst[7] = {&row->service,	 &row->endpoint, &row->env, &row->version,
			       &row->department, &row->intent,	 &row->tool};
	for (int i = 0; i < 7 && !rr->ids_only; i++)
		*dst[i] = len[i] ? arena_strndup(rr->a, str[i], len[i]) : NULL;
	return 1;
}

int ch_search(struct store *s, const struct store_query *q, struct arena *a, struct request_row **rows,
	      size_t *n, char *err, size_t errlen)
{
	struct rows_read rr = {a, rows, n, 0, q->ids_only};
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_puts(&sql, "SELECT start_ns, duration_ns, trace_hi, trace_lo, span_id, status, edge");
	if (!q->ids_only)
		buf_puts(&sql, ", service, endpoint, env, version, department, intent, tool");
	buf_puts(&sql, " FROM requests");
	where_requests(&sql, q);
	/* slowest: ties newest first, as the embedded store and the slow list order them */
	buf_printf(&sql, " ORDER BY %s LIMIT %u",
		   q->order == STORE_SLOWEST	? "duration_ns DESC, start_ns DESC"
		   : q->order == STORE_BY_TRACE ? "trace_lo, trace_hi, start_ns"
						: "start_ns DESC",
		   q->limit);
	return run(s, &sql, read_request, &rr, err, errlen);
}

/* ---- slow requests by number (slow_requests, schema 8) ---- */

struct slow_read {
	struct rows_read rr;
	int64_t **ids;
	size_t cap_ids;
};

static int read_slow(void *arg, struct rb *r)
{
	struct slow_read *sr = arg;
	int64_t id = (int64_t)rb_u64(r);
	if (r->short_read)
		return 0;
	size_t n0 = *sr->rr.n;
	int rc = read_request(&sr->rr, r);
	if (rc == 0 || *sr->rr.n == n0)
		return rc;
	*sr->ids = arena_grow(sr->rr.a, *sr->ids, &sr->cap_ids, n0 + 1, sizeof(**sr->ids));
	(*sr->ids)[n0] = id;
	return rc;
}

/*
 * The rows numbered after `after`, up to the blocks every writer has
 * finished (store_last_block()): a row of a block still in flight, here or
 * on another instance, has a number above that bound and is read by a
 * later call, so none is passed over.  `LIMIT 1 BY id` reads a row once
 * when it is stored twice (an insert retried after its answer was lost,
 * or the copy of schema 8 made by two instances at once).
 *
 * A caller that read up to the last call's rows is told "none since"
 * without asking ClickHouse while this instance inserted no slow request
 * since and the last read is less than SLOW_RECHECK_NS old: the others'
 * rows reach it that much later on top of the watermark's delay.  The
 * oldest start stored is read again every SLOW_OLDEST_NS (retention drops
 * whole days).
 */
#define SLOW_RECHECK_NS (1000ull * 1000000ull)
#define SLOW_OLDEST_NS	(10000ull * 1000000ull)

static int slow_read(struct store *st, int64_t after, uint64_t from_ns, unsigned limit, struct slow_read *sr,
		     char *err, size_t errlen)
{
	uint64_t last;
	int rc = ch_last_block(st, &last, err, errlen);
	if (rc < 0)
		return rc;
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_printf(&sql,
		   "SELECT id, start_ns, duration_ns, trace_hi, trace_lo, span_id, status, edge, service,"
		   " endpoint, env, version, department, intent, tool FROM slow_requests WHERE id > %lld"
		   " AND id < %lld AND start_ns >= %llu ORDER BY id LIMIT 1 BY id",
		   (long long)after, (long long)CH_SLOW_ID(last + 1, 0), (unsigned long long)from_ns);
	if (limit)
		buf_printf(&sql, " LIMIT %u", limit);
	return run(st, &sql, read_slow, sr, err, errlen);
}

int ch_slow_since(struct store *st, int64_t after, uint64_t from_ns, unsigned limit, struct arena *a,
		  struct request_row **rows, int64_t **ids, size_t *n, uint64_t *oldest_ns, char *err,
		  size_t errlen)
{
	struct ch_store *s = ch_of(st);
	uint64_t now = clock_now_ns(), groups = atomic_load(&s->slow_groups);
	pthread_mutex_lock(&s->slow_lock);
	int fresh = after == (int64_t)s->slow_last_id && groups == s->slow_groups_seen && s->slow_read_ns &&
		    now - s->slow_read_ns < SLOW_RECHECK_NS;
	int oldest_fresh = s->slow_oldest_ns && now - s->slow_oldest_ns < SLOW_OLDEST_NS;
	*oldest_ns = s->slow_oldest;
	pthread_mutex_unlock(&s->slow_lock);
	if (fresh)
		return 0;
	struct slow_read sr = {.rr = {a, rows, n, 0, 0}, .ids = ids};
	int rc = slow_read(st, after, from_ns, limit, &sr, err, errlen);
	if (rc == 0 && !oldest_fresh)
		rc = query_u64(st, "SELECT min(start_ns) FROM requests", oldest_ns, 1, NULL, err, errlen);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->slow_lock);
	s->slow_last_id = (uint64_t)(*n ? (*ids)[*n - 1] : after);
	s->slow_groups_seen = groups;
	s->slow_read_ns = limit && *n == limit ? 0 : now; /* more to read: no "none since" */
	if (!oldest_fresh) {
		s->slow_oldest = *oldest_ns;
		s->slow_oldest_ns = now;
	}
	pthread_mutex_unlock(&s->slow_lock);
	return 0;
}

int ch_count(struct store *s, const struct store_query *q, uint64_t *n, char *err, size_t errlen)
{
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_puts(&sql, "SELECT toUInt64(count()) FROM requests");
	where_requests(&sql, q);
	int rc = query_u64(s, sql.data, n, 1, NULL, err, errlen);
	buf_release(&sql);
	return rc;
}

long ch_newest_requests(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned n, uint64_t *start_ns,
			uint64_t *end_ns, char *err, size_t errlen)
{
	uint64_t to = to_ns ? to_ns : INT64_MAX, v = 0, count = 0;
	char sql[512];
	int got, rc;
	*start_ns = from_ns;
	*end_ns = to_ns;
	snprintf(sql, sizeof(sql),
		 "SELECT start_ns FROM requests WHERE start_ns >= %llu AND start_ns < %llu"
		 " ORDER BY start_ns DESC LIMIT %u, 1",
		 (unsigned long long)from_ns, (unsigned long long)to, n ? n - 1 : 0);
	if ((rc = query_u64(s, sql, &v, 1, &got, err, errlen)) < 0)
		return rc;
	if (got) {
		*start_ns = v;
		count = n;
	} else {
		snprintf(sql, sizeof(sql),
			 "SELECT toUInt64(count()) FROM requests WHERE start_ns >= %llu AND start_ns < %llu",
			 (unsigned long long)from_ns, (unsigned long long)to);
		if ((rc = query_u64(s, sql, &count, 1, NULL, err, errlen)) < 0)
			return rc;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT toUInt64(count()), max(t_max) FROM blocks WHERE t_max >= %llu AND t_min < %llu",
		 (unsigned long long)*start_ns, (unsigned long long)to);
	uint64_t bm[2];
	if ((rc = query_u64(s, sql, bm, 2, NULL, err, errlen)) < 0)
		return rc;
	if (bm[0] && bm[1] >= *end_ns)
		*end_ns = bm[1] + 1;
	return n ? (long)count : 0;
}

/* ---- filter values ---- */

struct strings_read {
	struct arena *a;
	const char **v;
	size_t n, cap;
};

static int read_string(void *arg, struct rb *r)
{
	struct strings_read *sr = arg;
	size_t len;
	const char *s = rb_str(r, &len);
	if (r->short_read)
		return 0;
	sr->v = arena_grow(sr->a, sr->v, &sr->cap, sr->n + 1, sizeof(*sr->v));
	sr->v[sr->n++] = arena_strndup(sr->a, s, len);
	return 1;
}

static const char *const dim_column[DICT_KINDS] = {
	[DICT_SERVICE] = "service", [DICT_ENDPOINT] = "endpoint",     [DICT_ENV] = "env",
	[DICT_VERSION] = "version", [DICT_DEPARTMENT] = "department", [DICT_INTENT] = "intent",
	[DICT_TOOL] = "tool",	    [DICT_ERROR_TYPE] = "error_type",
};

int ch_filter_values(struct store *s, uint64_t from_ns, uint64_t to_ns, unsigned kinds, struct arena *a,
		     struct store_dim_values *out, char *err, size_t errlen)
{
	for (int k = 1; k < DICT_KINDS; k++) {
		if (!(kinds & (1u << k)))
			continue;
		struct strings_read sr = {.a = a};
		struct buf sql;
		buf_init(&sql, BUF_NO_LIMIT);
		buf_printf(&sql,
			   "SELECT DISTINCT %s AS v FROM requests WHERE start_ns >= %llu AND start_ns < %llu"
			   " AND v != '' ORDER BY v LIMIT 1000",
			   dim_column[k], (unsigned long long)from_ns,
			   (unsigned long long)(to_ns ? to_ns : INT64_MAX));
		int rc = run(s, &sql, read_string, &sr, err, errlen);
		if (rc < 0)
			return rc;
		out->values[k] = sr.v;
		out->n[k] = sr.n;
	}
	return 0;
}

struct pairs_read {
	struct arena *a;
	struct service_version *v;
	size_t n, cap;
};

static int read_pair(void *arg, struct rb *r)
{
	struct pairs_read *pr = arg;
	size_t ls, lv;
	const char *svc = rb_str(r, &ls), *ver = rb_str(r, &lv);
	if (r->short_read)
		return 0;
	pr->v = arena_grow(pr->a, pr->v, &pr->cap, pr->n + 1, sizeof(*pr->v));
	pr->v[pr->n].service = arena_strndup(pr->a, svc, ls);
	pr->v[pr->n++].version = lv ? arena_strndup(pr->a, ver, lv) : NULL;
	return 1;
}

/* Per service, the version whose first request starts last (the embedded
 * store takes the one stored last: the same unless clocks disagree). */
int ch_latest_versions(struct store *s, const struct store_query *q, struct arena *a,
		       struct service_version **pairs, size_t *n, char *err, size_t errlen)
{
	struct store_query f;
	store_query_init(&f);
	f.from_ns = q->from_ns;
	f.to_ns = q->to_ns;
	f.service = q->service;
	f.endpoint = q->endpoint;
	f.env = q->env;
	f.department = q->department;
	f.intent = q->intent;
	f.tool = q->tool;
	struct pairs_read pr = {.a = a};
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_puts(&sql, "SELECT service, argMax(version, first) FROM (SELECT service, version,"
		       " min(start_ns) AS first FROM requests");
	where_requests(&sql, &f);
	buf_puts(&sql, " AND service != '' GROUP BY service, version) GROUP BY service ORDER BY service");
	int rc = run(s, &sql, read_pair, &pr, err, errlen);
	*pairs = pr.v;
	*n = pr.n;
	return rc;
}

/* ---- rollups ---- */

struct key_dims;
struct rollup_read {
	struct strmap key_map; /* rollup key -> index into keys */
	struct key_dims *keys;
	size_t n_keys, keys_cap, missing;
	struct arena *a;
	struct rollup_row **rows;
	size_t *n, cap;
	int merge;	       /* rows of one (t, key) may come apart: add them up */
	struct strmap row_map; /* (t, key) -> index into rows, when merging */
	char *err;
	size_t errlen;
};

/* Add to a row's sketch its buckets (indexes, then counts), with the exact
 * count, sum, minimum and maximum the rollups keep (a new row is zeroed). */
static int row_sketch(struct rollup_read *rr, struct rollup_row *row, const uint8_t *idx, const uint8_t *cnt,
		      uint64_t n, const uint64_t v[8])
{
	int first = !row->count;
	double min = row->sketch.min, max = row->sketch.max;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t b = 0;
		uint64_t c = 0;
		for (int k = 3; k >= 0; k--)
			b = b << 8 | idx[i * 4 + (unsigned)k];
		for (int k = 7; k >= 0; k--)
			c = c << 8 | cnt[i * 8 + (unsigned)k];
		int32_t bucket = (int32_t)b;
		double value = bucket == CH_ZERO_BUCKET ? 0 : sketch_bucket_value(bucket);
		if (sketch_add_n(&row->sketch, value, c) < 0)
			return errf(rr->err, rr->errlen, "rollups: a sketch bucket out of range");
	}
	row->count += v[0];
	row->sum_ns += v[1];
	for (int i = 0; i < TIER_COUNT; i++)
		row->tiers[i] += v[2 + i];
	/* the sketch has its buckets' estimates; the rollups keep the exact figures */
	row->sketch.sum = (double)row->sum_ns;
	row->sketch.min = first || (double)v[6] < min ? (double)v[6] : min;
	row->sketch.max = first || (double)v[7] > max ? (double)v[7] : max;
	return 0;
}

/* The dimensions of a rollup key (rollup_keys), strings in the read's arena. */
struct key_dims {
	const char *dims[8]; /* service, endpoint, tool, env, version, department, intent, error type */
	uint8_t status;
};

static int read_key(void *arg, struct rb *r)
{
	struct rollup_read *rr = arg;
	uint64_t key = rb_u64(r);
	const char *dims[8];
	size_t len[8];
	for (int i = 0; i < 8; i++)
		dims[i] = rb_str(r, &len[i]);
	uint8_t status = rb_u8(r);
	if (r->short_read)
		return 0;
	rr->keys = arena_grow(rr->a, rr->keys, &rr->keys_cap, rr->n_keys + 1, sizeof(*rr->keys));
	struct key_dims *k = &rr->keys[rr->n_keys];
	for (int i = 0; i < 8; i++)
		k->dims[i] = len[i] ? arena_strndup(rr->a, dims[i], len[i]) : NULL;
	k->status = status;
	strmap_put(&rr->key_map, &key, sizeof(key), (int64_t)rr->n_keys++);
	return 1;
}

static int read_rollup(void *arg, struct rb *r)
{
	struct rollup_read *rr = arg;
	uint64_t t = (uint64_t)rb_u32(r) * 1000000000ull;
	uint64_t key = rb_u64(r);
	uint64_t n = rb_varint(r);
	const uint8_t *idx = n < (1u << 20) ? rb_bytes(r, n * 4) : NULL;
	uint64_t n2 = rb_varint(r);
	const uint8_t *cnt = n2 == n ? rb_bytes(r, n * 8) : NULL;
	uint64_t v[8];
	for (int i = 0; i < 8; i++)
		v[i] = rb_u64(r);
	if (r->short_read)
		return 0;
	if (!idx || !cnt)
		return errf(rr->err, rr->errlen, "rollups: a row's buckets do not match its counts");
	int64_t at;
	if (strmap_get(&rr->key_map, &key, sizeof(key), &at) < 0) {
		rr->missing++; /* its key's row is not there: cannot be told apart */
		return 1;
	}
	uint64_t tk[2] = {t, key};
	int64_t seen;
	if (rr->merge && strmap_get(&rr->row_map, tk, sizeof(tk), &seen) == 0)
		return row_sketch(rr, &(*rr->rows)[seen], idx, cnt, n, v) < 0 ? -1 : 1;
	if (rr->merge)
		strmap_put(&rr->row_map, tk, sizeof(tk), (int64_t)*rr->n);
	*rr->rows = arena_grow(rr->a, *rr->rows, &rr->cap, *rr->n + 1, sizeof(**rr->rows));
	struct rollup_row *row = &(*rr->rows)[(*rr->n)++];
	memset(row, 0, sizeof(*row));
	row->t_ns = t;
	const struct key_dims *k = &rr->keys[at];
	const char **dst[8] = {&row->service, &row->endpoint,	&row->tool,   &row->env,
			       &row->version, &row->department, &row->intent, &row->error_type};
	for (int i = 0; i < 8; i++)
		*dst[i] = k->dims[i];
	row->status = k->status;
	sketch_init(&row->sketch);
	return row_sketch(rr, row, idx, cnt, n, v) < 0 ? -1 : 1;
}

/* The filters of `q` on the columns of rollup_keys. */
static int where_keys(struct buf *sql, const struct store_query *q)
{
	size_t len = sql->len;
	eq(sql, "service", q->service);
	eq(sql, "endpoint", q->endpoint);
	eq(sql, "tool", q->tool);
	eq(sql, "env", q->env);
	eq(sql, "version", q->version);
	where_latest(sql, q);
	eq(sql, "department", q->department);
	eq(sql, "intent", q->intent);
	return sql->len > len;
}

/* The hourly rollups' first hour (rollup_hours_start, schema 9) + 1; 0
 * while none is recorded (asked again after HOURS_RECHECK_NS). */
#define HOURS_RECHECK_NS (10000ull * 1000000ull)

static uint64_t hours_start(struct store *st)
{
	struct ch_store *s = ch_of(st);
	uint64_t h = atomic_load(&s->hours_start), now = clock_now_ns(), v[2] = {0, 0};
	if (h || now - atomic_load(&s->hours_checked_ns) < HOURS_RECHECK_NS)
		return h;
	atomic_store(&s->hours_checked_ns, now);
	char err[256];
	if (query_u64(st, "SELECT toUInt64(count()), toUInt64(min(hour)) + 1 FROM rollup_hours_start", v, 2,
		      NULL, err, sizeof(err)) < 0) {
		log_warn("rollups: the hourly rollups' start not read (minutes are read): %s", err);
		return 0;
	}
	if (v[0])
		atomic_store(&s->hours_start, v[1]);
	return v[0] ? v[1] : 0;
}

/*
 * The rows of the rollups in [from, to) (s); `cond` the filters on key,
 * status and edge.  Returns 0 for rows summed by (t, key) in order of t, 1
 * for rows the caller adds up by (t, key) and sorts.  At hour resolution
 * the whole hours come from rollup_hours (a row per hour and key once
 * merged, its buckets a map), but for the two it began in (their minutes
 * stored before it are not all there, clickhouse_schema.c); the minutes of
 * those and of the partial hour at the end from rollups: the same rows
 * summed as by the minutes alone.  Those rows are read as stored, not
 * grouped: on 18.16, sumMap over the hours' maps took 10 times as long
 * as reading them, and the rows are few (24 a key for a day, and the parts
 * not merged yet).  The minutes are ranges of the primary key (an
 * intDiv(minute, 60) there had every minute read).
 */
static int rollup_rows_sql(struct buf *sql, unsigned res, uint64_t from, uint64_t to, uint64_t start1,
			   const char *cond)
{
	unsigned long long m0 = from / 60, mend = to / 60 + 1, h0 = from / 3600, hend = mend / 60;
	if (res != 3600 || !start1 || hend <= h0) {
		buf_printf(sql,
			   "SELECT toUInt32(intDiv(minute * 60, %u) * %u) AS t, key, sumMap([bucket], [n]),"
			   " sum(n), sum(sum_ns), sum(fast), sum(normal), sum(slow), sum(critical),"
			   " minMerge(min_ns), maxMerge(max_ns) FROM rollups WHERE minute >= %llu"
			   " AND minute < %llu AND t < %llu%s GROUP BY t, key ORDER BY t",
			   res, res, m0, mend, (unsigned long long)to, cond);
		return 0;
	}
	unsigned long long h = start1 - 1;
	buf_printf(
		sql,
		"SELECT toUInt32(hour * 3600), key, bucketsMap.bucket, bucketsMap.n, n, sum_ns, fast, normal,"
		" slow, critical, finalizeAggregation(min_ns), finalizeAggregation(max_ns) "
		"FROM " CH_HOURS_TABLE " WHERE hour >= %llu AND hour < %llu AND hour NOT IN (%llu, %llu)%s",
		h0, hend, h, h + 1, cond);
	buf_printf(sql,
		   " UNION ALL SELECT toUInt32(intDiv(minute * 60, 3600) * 3600) AS t, key, [bucket], [n], n,"
		   " sum_ns, fast, normal, slow, critical, finalizeAggregation(min_ns),"
		   " finalizeAggregation(max_ns) FROM rollups WHERE t < %llu",
		   (unsigned long long)to);
	buf_printf(sql, " AND minute >= %llu AND minute < %llu", m0, mend);
	buf_printf(sql, " AND (minute >= %llu OR (minute >= %llu AND minute < %llu))%s", hend * 60, h * 60,
		   (h + 2) * 60, cond);
	return 1;
}

static int cmp_row_t(const void *pa, const void *pb)
{
	const struct rollup_row *a = pa, *b = pb;
	return (a->t_ns > b->t_ns) - (a->t_ns < b->t_ns);
}

/*
 * Rollup rows carry a key, not the dimensions' strings: the keys the
 * filters select are read first (rollup_keys, small), then the rows of
 * those keys, summed by (time, key) with their buckets by sumMap.
 */
int ch_rollups(struct store *s, const struct store_query *q, unsigned res_s, struct arena *a,
	       struct rollup_row **rows, size_t *n, char *err, size_t errlen)
{
	unsigned res = res_s >= 3600 ? 3600 : 60;
	uint64_t from = q->from_ns / 1000000000u / res * res, to = (q->to_ns + 999999999u) / 1000000000u;
	struct rollup_read rr = {.a = a, .rows = rows, .n = n, .err = err, .errlen = errlen};
	strmap_init(&rr.key_map);
	struct buf sql, filter;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_init(&filter, BUF_NO_LIMIT);
	int filtered = where_keys(&filter, q);
	buf_puts(&sql,
		 "SELECT key, any(service), any(endpoint), any(tool), any(env), any(version),"
		 " any(department), any(intent), any(error_type), any(status) FROM rollup_keys WHERE 1");
	buf_puts(&sql, filter.data ? filter.data : "");
	buf_puts(&sql, " GROUP BY key");
	int rc = run(s, &sql, read_key, &rr, err, errlen);
	if (rc == 0) {
		struct buf cond;
		buf_init(&cond, BUF_NO_LIMIT);
		if (filtered)
			buf_printf(&cond, " AND key IN (SELECT key FROM rollup_keys WHERE 1%s)", filter.data);
		if (q->status >= 0)
			buf_printf(&cond, " AND status = %d", q->status);
		if (q->edge_only)
			buf_puts(&cond, " AND edge = 1");
		buf_init(&sql, BUF_NO_LIMIT);
		rr.merge = rollup_rows_sql(&sql, res, from, to, res == 3600 ? hours_start(s) : 0,
					   cond.data ? cond.data : "");
		buf_release(&cond);
		strmap_init(&rr.row_map);
		rc = run(s, &sql, read_rollup, &rr, err, errlen);
		strmap_release(&rr.row_map);
		if (rc == 0 && rr.merge && *n > 1)
			qsort(*rows, *n, sizeof(**rows), cmp_row_t);
	}
	if (rr.missing)
		log_warn("rollups: %zu rows of keys not in rollup_keys left out", rr.missing);
	buf_release(&filter);
	strmap_release(&rr.key_map);
	if (rc < 0) {
		store_rollups_release(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

/* ---- block scans ---- */

struct scan_read {
	const struct store_scan *sc;
	store_trace_fn trace;
	store_span_fn span;
	void *arg;
	struct batch b;
	char *err;
	size_t errlen;
};

static int read_block(void *arg, struct rb *r)
{
	struct scan_read *sr = arg;
	size_t len;
	const char *data = rb_str(r, &len);
	uint64_t t_min = rb_u64(r);
	if (r->short_read)
		return 0;
	const struct store_scan *sc = sr->sc;
	struct block_filter want = {.keep_key = sc->keep_key,
				    .skeleton = sc->skeleton,
				    .keep_trace = sc->keep_trace,
				    .keep_trace_arg = sc->keep_trace_arg};
	batch_reset(&sr->b);
	if (block_decode(data, len, &want, &sr->b, sr->err, sr->errlen) < 0)
		return -1;
	const struct batch *b = &sr->b;
	int stop = 0;
	if (sr->span) {
		for (size_t i = 0; i < b->n_spans && !stop; i++)
			stop = sr->span(sr->arg, &b->spans[i]);
		return stop ? 2 : 1;
	}
	if (sc->block)
		stop = sc->block(sr->arg, t_min);
	for (size_t i = 0, j; i < b->n_spans && !stop; i = j) {
		for (j = i + 1; j < b->n_spans && !memcmp(b->spans[j].trace_id, b->spans[i].trace_id, 16);
		     j++)
			;
		stop = sr->trace(sr->arg, &b->spans[i], j - i);
	}
	return stop ? 2 : 1;
}

static int scan_blocks(struct store *s, const struct store_scan *sc, struct scan_read *sr)
{
	unsigned every = sc->every ? sc->every : 1;
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_printf(&sql,
		   "SELECT data, t_min FROM blocks WHERE t_max >= %llu AND t_min < %llu AND id %% %u = %u"
		   " AND id >= %llu AND id <= %llu ORDER BY id",
		   (unsigned long long)sc->from_ns, (unsigned long long)(sc->to_ns ? sc->to_ns : INT64_MAX),
		   every, sc->offset % every, (unsigned long long)sc->first_id,
		   (unsigned long long)(sc->last_id ? sc->last_id : INT64_MAX));
	batch_init(&sr->b);
	int rc = run(s, &sql, read_block, sr, sr->err, sr->errlen);
	batch_release(&sr->b);
	return rc;
}

int ch_scan(struct store *s, const struct store_scan *sc, store_trace_fn fn, void *arg, char *err,
	    size_t errlen)
{
	struct scan_read sr = {.sc = sc, .trace = fn, .arg = arg, .err = err, .errlen = errlen};
	return scan_blocks(s, sc, &sr);
}

int ch_scan_spans(struct store *s, uint64_t from_ns, uint64_t to_ns, store_span_fn fn, void *arg, char *err,
		  size_t errlen)
{
	struct store_scan sc = {.from_ns = from_ns, .to_ns = to_ns};
	struct scan_read sr = {.sc = &sc, .span = fn, .arg = arg, .err = err, .errlen = errlen};
	return scan_blocks(s, &sc, &sr);
}

int ch_blocks_info(struct store *s, uint64_t first_id, uint64_t last_id, struct store_blocks *out, char *err,
		   size_t errlen)
{
	char sql[256];
	uint64_t v[6];
	snprintf(sql, sizeof(sql),
		 "SELECT toUInt64(count()), max(id), min(t_min), max(t_min), min(t_max), max(t_max)"
		 " FROM blocks WHERE id >= %llu AND id <= %llu",
		 (unsigned long long)first_id, (unsigned long long)(last_id ? last_id : INT64_MAX));
	int rc = query_u64(s, sql, v, 6, NULL, err, errlen);
	if (rc < 0 || !v[0])
		return rc;
	*out = (struct store_blocks){v[0], v[1], v[2], v[3], v[4], v[5]};
	return 0;
}

/* ---- documents and events ---- */

struct records_read {
	struct arena *a;
	struct store_record *v;
	size_t n, cap;
};

static int read_record(void *arg, struct rb *r)
{
	struct records_read *rr = arg;
	size_t lk, li, lj;
	const char *kind = rb_str(r, &lk), *id = rb_str(r, &li);
	uint64_t t = rb_u64(r);
	const char *json = rb_str(r, &lj);
	if (r->short_read)
		return 0;
	rr->v = arena_grow(rr->a, rr->v, &rr->cap, rr->n + 1, sizeof(*rr->v));
	struct store_record *rec = &rr->v[rr->n++];
	rec->kind = arena_strndup(rr->a, kind, lk);
	rec->id = arena_strndup(rr->a, id, li);
	rec->time_ns = t;
	rec->json = arena_strndup(rr->a, json, lj);
	return 1;
}

/* ---- stored aggregates ---- */

struct aggs_read {
	store_agg_fn fn;
	void *arg;
	char key[1024];
};

static int read_agg(void *arg, struct rb *r)
{
	struct aggs_read *ar = arg;
	size_t lk, ld;
	uint32_t kind = rb_u32(r);
	uint64_t t = rb_u64(r);
	const char *key = rb_str(r, &lk);
	const char *data = rb_str(r, &ld);
	if (r->short_read)
		return 0;
	if (lk >= sizeof(ar->key))
		lk = sizeof(ar->key) - 1; /* keys are a service or an environment: short */
	memcpy(ar->key, key, lk);
	ar->key[lk] = 0;
	struct store_agg row = {.kind = kind, .t_ns = t, .key = ar->key, .data = data, .len = ld};
	return ar->fn(ar->arg, &row) ? 2 : 1;
}

int ch_aggs(struct store *s, int kind, uint64_t from_ns, uint64_t to_ns, store_agg_fn fn, void *arg,
	    char *err, size_t errlen)
{
	struct aggs_read ar = {.fn = fn, .arg = arg};
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_printf(&sql, "SELECT kind, t, key, argMax(data, ver) FROM " CH_AGGS_TABLE " WHERE t >= %llu",
		   (unsigned long long)from_ns);
	if (to_ns)
		buf_printf(&sql, " AND t < %llu", (unsigned long long)to_ns);
	if (kind >= 0)
		buf_printf(&sql, " AND kind = %d", kind);
	buf_puts(&sql, " GROUP BY kind, t, key ORDER BY kind, t, key");
	return run(s, &sql, read_agg, &ar, err, errlen);
}

int ch_docs(struct store *s, const char *kind, const char *id, struct arena *a, struct store_record **rows,
	    size_t *n, char *err, size_t errlen)
{
	struct records_read rr = {.a = a};
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_puts(&sql, "SELECT kind, id, argMax(time_ns, ver), argMax(json, ver) FROM docs WHERE 1");
	eq(&sql, "kind", kind);
	eq(&sql, "id", id);
	/* a deleted document's newest row is a tombstone: an empty json */
	buf_puts(&sql, " GROUP BY kind, id HAVING argMax(json, ver) != '' ORDER BY id");
	int rc = run(s, &sql, read_record, &rr, err, errlen);
	*rows = rr.v;
	*n = rr.n;
	return rc;
}

int ch_events(struct store *s, const char *kind, const char *id, uint64_t from_ns, uint64_t to_ns,
	      unsigned limit, struct arena *a, struct store_record **rows, size_t *n, char *err,
	      size_t errlen)
{
	struct records_read rr = {.a = a};
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_printf(&sql,
		   "SELECT kind, id, time_ns, json FROM events WHERE time_ns >= %llu AND time_ns < %llu",
		   (unsigned long long)from_ns, (unsigned long long)(to_ns ? to_ns : INT64_MAX));
	eq(&sql, "kind", kind);
	eq(&sql, "id", id);
	buf_puts(&sql, " ORDER BY time_ns DESC");
	if (limit)
		buf_printf(&sql, " LIMIT %u", limit);
	int rc = run(s, &sql, read_record, &rr, err, errlen);
	*rows = rr.v;
	*n = rr.n;
	return rc;
}
