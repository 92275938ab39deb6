/*
 * slowreqs.c - the slow requests kept in slowest-first order as they are
 * written (slowreqs.h): the list, its update from the store, and a
 * selection.
 *
 * The list is two sorted arrays: the main one, and the rows read since it
 * was last rebuilt (at most RECENT_MAX), merged into it when they pass that
 * (dropping the rows that start before what is kept).  A selection walks
 * both in one merge, so it meets the rows slowest first and stops at its
 * limit, or at the first row shorter than its minimum.
 */
#include "query/slowreqs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/strmap.h"

#define RECENT_MAX 4096
#define N_DIMS	   7 /* service, endpoint, env, version, department, intent, tool */

struct entry {
	int64_t id;
	uint64_t start_ns, duration_ns;
	uint8_t trace_id[16], span_id[8];
	uint32_t dim[N_DIMS]; /* string numbers; 0: none */
	uint8_t status, edge;
};

struct list {
	struct entry *e;
	size_t n, cap;
};

static struct {
	pthread_mutex_t upd; /* one update at a time */
	pthread_rwlock_t rw; /* everything below */
	struct store *store;
	int filled;
	int64_t last_id;
	uint64_t newest; /* the newest start seen */
	uint64_t oldest; /* the oldest start stored: retention deleted what is older */
	uint64_t floor;	 /* rows starting before were dropped for room (max_rows) */
	size_t max_rows;
	struct list main, recent;
	char **strs; /* strs[k - 1] is string number k */
	size_t n_strs, cap_strs;
	struct strmap str_no;
} g = {.upd = PTHREAD_MUTEX_INITIALIZER, .rw = PTHREAD_RWLOCK_INITIALIZER};

static uint64_t kept_from(void)
{
	uint64_t from = g.newest > SLOWREQS_KEEP_NS ? g.newest - SLOWREQS_KEEP_NS : 0;
	return from > g.floor ? from : g.floor;
}

void slowreqs_limit(size_t max_rows)
{
	pthread_rwlock_wrlock(&g.rw);
	g.max_rows = max_rows;
	pthread_rwlock_unlock(&g.rw);
}

static int cmp_u64(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return (a > b) - (a < b);
}

/* Past the most rows kept, raise the floor so that the newest nine tenths
 * of max_rows stay (a tenth of room before the next time): a range
 * starting before it reads the store (g.rw held for writing). */
static void keep_newest(void)
{
	size_t max = g.max_rows ? g.max_rows : SLOWREQS_MAX_ROWS;
	if (g.main.n <= max)
		return;
	max -= max / 10;
	uint64_t *starts = xmalloc(g.main.n * sizeof(*starts));
	for (size_t i = 0; i < g.main.n; i++)
		starts[i] = g.main.e[i].start_ns;
	qsort(starts, g.main.n, sizeof(*starts), cmp_u64);
	g.floor = starts[g.main.n - max - 1] + 1; /* drops that start and all before */
	free(starts);
	size_t k = 0;
	for (size_t i = 0; i < g.main.n; i++)
		if (g.main.e[i].start_ns >= g.floor)
			g.main.e[k++] = g.main.e[i];
	g.main.n = k;
}

/* Whether a comes before b slowest first (store_search()'s order). */
static int before(const struct entry *a, const struct entry *b)
{
	if (a->duration_ns != b->duration_ns)
		return a->duration_ns > b->duration_ns;
	if (a->start_ns != b->start_ns)
		return a->start_ns > b->start_ns;
	return a->id > b->id;
}

static int cmp_entry(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	return before(a, b) ? -1 : before(b, a);
}

/* ---- the list (g.rw held for writing) --------------------------------------------- */

static void reset_locked(void)
{
	for (size_t i = 0; i < g.n_strs; i++)
		free(g.strs[i]);
	free(g.strs);
	free(g.main.e);
	free(g.recent.e);
	if (g.cap_strs)
		strmap_release(&g.str_no);
	memset(&g.main, 0, sizeof(g.main));
	memset(&g.recent, 0, sizeof(g.recent));
	g.strs = NULL;
	g.n_strs = g.cap_strs = 0;
	g.store = NULL;
	g.filled = 0;
	g.last_id = 0;
	g.newest = g.oldest = g.floor = 0;
}

void slowreqs_reset(void)
{
	pthread_mutex_lock(&g.upd);
	pthread_rwlock_wrlock(&g.rw);
	reset_locked();
	pthread_rwlock_unlock(&g.rw);
	pthread_mutex_unlock(&g.upd);
}

static uint32_t str_number(const char *s)
{
	int64_t no;
	if (!s)
		return 0;
	if (!g.cap_strs)
		strmap_init(&g.str_no);
	if (strmap_get(&g.str_no, s, strlen(s), &no) == 0)
		return (uint32_t)no;
	g.strs = xgrow(g.strs, &g.cap_strs, g.n_strs + 1, sizeof(*g.strs));
	g.strs[g.n_strs++] = xstrdup(s);
	strmap_put(&g.str_no, g.strs[g.n_strs - 1], strlen(s), (int64_t)g.n_strs);
	return (uint32_t)g.n_strs;
}

static void entry_of(struct entry *e, const struct request_row *r, int64_t id)
{
	const char *dims[N_DIMS] = {r->service,	   r->endpoint, r->env, r->version,
				    r->department, r->intent,	r->tool};
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->start_ns = r->start_ns;
	e->duration_ns = r->duration_ns;
	memcpy(e->trace_id, r->trace_id, 16);
	memcpy(e->span_id, r->span_id, 8);
	for (int k = 0; k < N_DIMS; k++)
		e->dim[k] = str_number(dims[k]);
	e->status = r->status;
	e->edge = r->edge;
}

/* Merge the recent rows into the main list, keeping those starting at or
 * after `from`. */
static void rebuild(uint64_t from)
{
	struct entry *out = xmalloc((g.main.n + g.recent.n + 1) * sizeof(*out));
	size_t i = 0, j = 0, k = 0;
	while (i < g.main.n || j < g.recent.n) {
		const struct entry *e = j == g.recent.n			       ? &g.main.e[i++]
					: i == g.main.n			       ? &g.recent.e[j++]
					: before(&g.recent.e[j], &g.main.e[i]) ? &g.recent.e[j++]
									       : &g.main.e[i++];
		if (e->start_ns >= from)
			out[k++] = *e;
	}
	free(g.main.e);
	g.main.e = out;
	g.main.n = g.main.cap = k;
	g.recent.n = 0;
	keep_newest();
}

/* Add rows read from the store, then rebuild when the recent ones are many. */
static void add_rows(const struct request_row *rows, const int64_t *ids, size_t n)
{
	size_t at = g.recent.n;
	g.recent.e = xgrow(g.recent.e, &g.recent.cap, g.recent.n + n, sizeof(*g.recent.e));
	for (size_t i = 0; i < n; i++) {
		entry_of(&g.recent.e[g.recent.n++], &rows[i], ids[i]);
		if (rows[i].start_ns > g.newest)
			g.newest = rows[i].start_ns;
		if (ids[i] > g.last_id)
			g.last_id = ids[i];
	}
	if (g.recent.n > at)
		qsort(g.recent.e, g.recent.n, sizeof(*g.recent.e), cmp_entry);
	if (g.recent.n > RECENT_MAX || !g.filled)
		rebuild(kept_from());
}

/* ---- update --------------------------------------------------------------------- */

static int update_locked(struct store *s, char *err, size_t errlen)
{
	struct arena a;
	struct request_row *rows;
	int64_t *ids;
	size_t n;
	uint64_t oldest;
	pthread_rwlock_rdlock(&g.rw);
	int same = g.store == s;
	int64_t after = same ? g.last_id : 0;
	uint64_t from = same ? kept_from() : 0;
	pthread_rwlock_unlock(&g.rw);
	arena_init(&a);
	int rc = store_slow_since(s, after, from, 0, &a, &rows, &ids, &n, &oldest, err, errlen);
	if (rc == 0) {
		pthread_rwlock_wrlock(&g.rw);
		if (!same)
			reset_locked();
		g.store = s;
		g.oldest = oldest;
		add_rows(rows, ids, n);
		g.filled = 1;
		pthread_rwlock_unlock(&g.rw);
	}
	arena_release(&a);
	return rc == 0 ? 0 : rc == ERR_UNSUPPORTED ? ERR_UNSUPPORTED : ERR_INTERNAL;
}

int slowreqs_update(struct store *s, char *err, size_t errlen)
{
	pthread_mutex_lock(&g.upd);
	int rc = update_locked(s, err, errlen);
	pthread_mutex_unlock(&g.upd);
	return rc;
}

void slowreqs_info(size_t *n, uint64_t *from_ns)
{
	pthread_rwlock_rdlock(&g.rw);
	*n = g.main.n + g.recent.n;
	*from_ns = g.filled ? kept_from() : 0;
	pthread_rwlock_unlock(&g.rw);
}

/* ---- a selection (g.rw held for reading) ------------------------------------------ */

struct want {
	const struct store_query *q;
	uint64_t from;	      /* q's start, or the oldest start stored if later */
	uint32_t dim[N_DIMS]; /* 0: any */
	int none;	      /* a filter names a value no kept row has */
};

static void want_of(struct want *w, const struct store_query *q)
{
	const char *dims[N_DIMS] = {q->service,	   q->endpoint, q->env, q->latest ? NULL : q->version,
				    q->department, q->intent,	q->tool};
	memset(w, 0, sizeof(*w));
	w->q = q;
	w->from = q->from_ns > g.oldest ? q->from_ns : g.oldest;
	for (int k = 0; k < N_DIMS; k++) {
		int64_t no;
		if (!dims[k])
			continue;
		if (!g.cap_strs || strmap_get(&g.str_no, dims[k], strlen(dims[k]), &no) < 0)
			w->none = 1;
		else
			w->dim[k] = (uint32_t)no;
	}
}

static const char *str_of(uint32_t no)
{
	return no ? g.strs[no - 1] : NULL;
}

static int matches(const struct want *w, const struct entry *e)
{
	const struct store_query *q = w->q;
	if (e->start_ns < w->from || (q->to_ns && e->start_ns >= q->to_ns))
		return 0;
	for (int k = 0; k < N_DIMS; k++)
		if (w->dim[k] && e->dim[k] != w->dim[k])
			return 0;
	if (q->latest && !store_query_version_ok(q, str_of(e->dim[0]), str_of(e->dim[3])))
		return 0;
	if ((q->status >= 0 && e->status != q->status) || (q->edge_only && !e->edge))
		return 0;
	if (q->max_duration_ns &&
	    (q->max_exclusive ? e->duration_ns >= q->max_duration_ns : e->duration_ns > q->max_duration_ns))
		return 0;
	return 1;
}

/* The row of `e`, its strings copied once each into `a` (copies[no]). */
static void row_of(struct request_row *r, const struct entry *e, const struct store_query *q, struct arena *a,
		   const char **copies)
{
	const char **dims[N_DIMS] = {&r->service,    &r->endpoint, &r->env, &r->version,
				     &r->department, &r->intent,   &r->tool};
	memset(r, 0, sizeof(*r));
	memcpy(r->trace_id, e->trace_id, 16);
	memcpy(r->span_id, e->span_id, 8);
	r->start_ns = e->start_ns;
	r->duration_ns = e->duration_ns;
	r->status = e->status;
	r->edge = e->edge;
	for (int k = 0; k < N_DIMS && !q->ids_only; k++) {
		uint32_t no = e->dim[k];
		if (no && !copies[no])
			copies[no] = arena_strdup(a, g.strs[no - 1]);
		*dims[k] = no ? copies[no] : NULL;
	}
}

static void select_locked(const struct store_query *q, struct arena *a, struct request_row **rows, size_t *n)
{
	struct want w;
	size_t i = 0, j = 0, cap = 0;
	want_of(&w, q);
	if (w.none)
		return;
	const char **copies = xcalloc(g.n_strs + 1, sizeof(*copies));
	cap = q->limit < g.main.n + g.recent.n ? q->limit : g.main.n + g.recent.n;
	if (cap) /* at most this many: one allocation, not a copy at each doubling */
		*rows = arena_alloc(a, cap * sizeof(**rows));
	while (*n < q->limit && (i < g.main.n || j < g.recent.n)) {
		const struct entry *e = j == g.recent.n			       ? &g.main.e[i++]
					: i == g.main.n			       ? &g.recent.e[j++]
					: before(&g.recent.e[j], &g.main.e[i]) ? &g.recent.e[j++]
									       : &g.main.e[i++];
		if (e->duration_ns < q->min_duration_ns)
			break; /* slowest first: none of the rest is long enough */
		if (!matches(&w, e))
			continue;
		*rows = arena_grow(a, *rows, &cap, *n + 1, sizeof(**rows));
		row_of(&(*rows)[(*n)++], e, q, a, copies);
	}
	free(copies);
}

int slowreqs_search(struct store *s, const struct store_query *q, struct arena *a, struct request_row **rows,
		    size_t *n, char *err, size_t errlen)
{
	*rows = NULL;
	*n = 0;
	if (q->order != STORE_SLOWEST || q->min_duration_ns < STORE_SLOW_NS)
		return ERR_BUSY;
	pthread_rwlock_rdlock(&g.rw);
	int bound = g.store == s && g.filled;
	pthread_rwlock_unlock(&g.rw);
	if (!bound)
		return ERR_BUSY;
	int rc = slowreqs_update(s, err, errlen);
	if (rc < 0)
		return rc == ERR_UNSUPPORTED ? ERR_BUSY : rc;
	pthread_rwlock_rdlock(&g.rw);
	if (g.store != s || !g.filled || q->from_ns < kept_from()) {
		pthread_rwlock_unlock(&g.rw);
		return ERR_BUSY;
	}
	select_locked(q, a, rows, n);
	pthread_rwlock_unlock(&g.rw);
	return 0;
}
