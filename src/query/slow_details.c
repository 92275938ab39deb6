/*
 * slow_details.c - the details of listed slow requests, computed from
 * their traces and kept while the traces, thresholds and services stay
 * the same (slow_details.h): the computation, the kept set and its checks.
 */
#include "query/slow_details.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json_write.h"
#include "core/strmap.h"
#include "query/request_trees.h"

/* ---- computing from the traces ------------------------------------------------------ */

static const char *const kind_names[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
					 "CLIENT",	"PRODUCER", "CONSUMER"};

/* One request's detail while it is computed. */
struct computing {
	struct slow_detail *d;
	struct buf slow_spans;
	size_t n_slow_spans;
};

struct compute_run {
	const struct slowops_config *cfg;
	struct arena *a;
	struct computing *c; /* one per row read */
};

static void put_slow_attrs(struct json_w *w, uint64_t dur, uint64_t thr)
{
	jw_kbool(w, "performance.slow", thr && dur >= thr);
	jw_kdouble(w, "performance.slow.threshold_ms", thr ? (double)thr / 1e6 : NAN);
	jw_kdouble(w, "performance.slow.ratio", thr ? (double)dur / (double)thr : NAN);
}

/* A span's object up to its attributes, open. */
static void put_span_head(struct json_w *w, const struct slowops_config *c, const struct span *sp, int type)
{
	uint64_t dur = sp->end_ns > sp->start_ns ? sp->end_ns - sp->start_ns : 0;
	jw_obj_begin(w);
	jw_kid(w, "span_id", sp->span_id, 8);
	jw_kstr(w, "name", sp->name ? sp->name : "");
	jw_kstr(w, "service",
		sp->resource && sp->resource->service_name ? sp->resource->service_name : "unknown");
	jw_kstr(w, "kind", kind_names[sp->kind < 6 ? sp->kind : 0]);
	jw_kstr(w, "type", slowops_type_name(c, type));
	jw_kdouble(w, "duration_ms", (double)dur / 1e6);
}

/* The entry span with its attributes and the performance.slow marks. */
static void on_entry(void *arg, size_t row, const struct span *sp, const struct slowops_class *cls)
{
	struct compute_run *run = arg;
	struct buf b, attrs;
	struct json_w w;
	uint64_t dur = sp->end_ns > sp->start_ns ? sp->end_ns - sp->start_ns : 0;
	buf_init(&b, BUF_NO_LIMIT);
	buf_init(&attrs, BUF_NO_LIMIT);
	attrs_to_json(&attrs, sp->attrs, sp->n_attrs);
	jw_init(&w, &b);
	put_span_head(&w, run->cfg, sp, cls->type);
	jw_kobj_begin(&w, "attributes");
	jw_members(&w, attrs.data);
	put_slow_attrs(&w, dur, slowops_threshold_ns(run->cfg, cls->type));
	jw_obj_end(&w);
	jw_obj_end(&w);
	run->c[row].d->span_json = arena_strdup(run->a, b.data);
	buf_release(&attrs);
	buf_release(&b);
}

/* The phases and the slow spans of a request's tree. */
static void on_request(void *arg, const struct request_row *row, size_t idx, const struct spantree *t,
		       const struct slowops_class *cls, const struct bottleneck_span *desc)
{
	struct compute_run *run = arg;
	struct computing *c = &run->c[idx];
	struct json_w w;
	c->d->loaded = 1;
	slowops_phases(t, cls, c->d->phases);
	jw_init(&w, &c->slow_spans);
	jw_arr_begin(&w);
	for (size_t i = 0; i < t->n && c->n_slow_spans < SLOW_DETAILS_SPANS; i++) {
		const struct span *sp = &t->spans[i];
		uint64_t thr = slowops_threshold_ns(run->cfg, cls[i].type), dur = sp->end_ns - sp->start_ns;
		if (!thr || dur < thr)
			continue;
		c->n_slow_spans++;
		put_span_head(&w, run->cfg, sp, cls[i].type);
		jw_kobj_begin(&w, "attributes");
		put_slow_attrs(&w, dur, thr);
		jw_obj_end(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
}

/* Read the traces of rows[0 .. n) and compute their details into out. */
static int compute(struct store *s, const struct slowops_config *cfg, const struct store_query *q,
		   const struct request_row *rows, size_t n, struct arena *a, struct slow_detail *out,
		   char *err, size_t errlen)
{
	struct request_trees rt;
	struct compute_run run = {.cfg = cfg, .a = a, .c = xcalloc(n ? n : 1, sizeof(*run.c))};
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		run.c[i].d = &out[i];
		buf_init(&run.c[i].slow_spans, BUF_NO_LIMIT);
	}
	request_trees_init(&rt, s, cfg, a);
	rt.on_entry = on_entry;
	rt.all_entries = 1; /* every listed request gets its phases */
	rt.per_trace = 1;   /* a few requests: trace by trace */
	int rc = request_trees_load(&rt, q, rows, n, on_request, &run, err, errlen);
	for (size_t i = 0; i < n; i++) {
		out[i].slow_spans_json =
			run.c[i].slow_spans.data ? arena_strdup(a, run.c[i].slow_spans.data) : "[]";
		buf_release(&run.c[i].slow_spans);
	}
	request_trees_release(&rt);
	free(run.c);
	return rc;
}

/* ---- the kept details ----------------------------------------------------------------- */

struct kept {
	uint8_t key[24]; /* trace id, span id */
	uint64_t stamp;	 /* of the trace's blocks when it was read */
	uint64_t used;	 /* tick of the last use */
	int loaded;
	uint64_t phases[SLOWOPS_PHASES];
	char *span_json, *slow_spans_json;
	size_t bytes;
};

static struct {
	pthread_mutex_t mu;
	struct store *store;
	char *basis; /* the thresholds and services the kept details were computed with */
	struct kept *k;
	size_t n, cap, bytes, max_bytes;
	struct strmap index; /* key -> k[] */
	int has_index;
	uint64_t tick, hits, misses;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void forget_all_locked(void)
{
	for (size_t i = 0; i < g.n; i++) {
		free(g.k[i].span_json);
		free(g.k[i].slow_spans_json);
	}
	free(g.k);
	free(g.basis);
	if (g.has_index)
		strmap_release(&g.index);
	g.k = NULL;
	g.basis = NULL;
	g.n = g.cap = g.bytes = 0;
	g.has_index = 0;
	g.store = NULL;
}

void slow_details_reset(void)
{
	pthread_mutex_lock(&g.mu);
	forget_all_locked();
	g.tick = g.hits = g.misses = 0;
	pthread_mutex_unlock(&g.mu);
}

void slow_details_info(struct slow_details_info *out)
{
	pthread_mutex_lock(&g.mu);
	*out = (struct slow_details_info){.kept = g.n, .bytes = g.bytes, .hits = g.hits, .misses = g.misses};
	pthread_mutex_unlock(&g.mu);
}

static void reindex_locked(void)
{
	if (g.has_index)
		strmap_release(&g.index);
	strmap_init(&g.index);
	g.has_index = 1;
	for (size_t i = 0; i < g.n; i++)
		strmap_put(&g.index, g.k[i].key, sizeof(g.k[i].key), (int64_t)i);
}

static int newer_use(const void *pa, const void *pb)
{
	const struct kept *a = pa, *b = pb;
	return (a->used < b->used) - (a->used > b->used);
}

void slow_details_limit(size_t max_bytes)
{
	pthread_mutex_lock(&g.mu);
	g.max_bytes = max_bytes;
	pthread_mutex_unlock(&g.mu);
}

/* Past the bound, keep the most recently used down to half of it. */
static void trim_locked(void)
{
	size_t max = g.max_bytes ? g.max_bytes : SLOW_DETAILS_MAX_BYTES;
	if (g.bytes <= max)
		return;
	qsort(g.k, g.n, sizeof(*g.k), newer_use);
	size_t keep = 0, bytes = 0;
	while (keep < g.n && bytes + g.k[keep].bytes <= max / 2)
		bytes += g.k[keep++].bytes;
	for (size_t i = keep; i < g.n; i++) {
		free(g.k[i].span_json);
		free(g.k[i].slow_spans_json);
	}
	g.n = keep;
	g.bytes = bytes;
	reindex_locked();
}

static void key_of(uint8_t key[24], const struct request_row *r)
{
	memcpy(key, r->trace_id, 16);
	memcpy(key + 16, r->span_id, 8);
}

/* Keep a computed detail (g.mu held), replacing an older one of the same request. */
static void keep_locked(const struct request_row *r, uint64_t stamp, const struct slow_detail *d)
{
	uint8_t key[24];
	int64_t at;
	key_of(key, r);
	if (!g.has_index)
		reindex_locked();
	if (strmap_get(&g.index, key, sizeof(key), &at) == 0) {
		struct kept *old = &g.k[at];
		g.bytes -= old->bytes;
		free(old->span_json);
		free(old->slow_spans_json);
	} else {
		g.k = xgrow(g.k, &g.cap, g.n + 1, sizeof(*g.k));
		at = (int64_t)g.n++;
		strmap_put(&g.index, key, sizeof(key), at);
	}
	struct kept *k = &g.k[at];
	memcpy(k->key, key, sizeof(key));
	k->stamp = stamp;
	k->used = ++g.tick;
	k->loaded = d->loaded;
	memcpy(k->phases, d->phases, sizeof(k->phases));
	k->span_json = d->span_json ? xstrdup(d->span_json) : NULL;
	k->slow_spans_json = xstrdup(d->slow_spans_json);
	k->bytes = sizeof(*k) + 24 + (k->span_json ? strlen(k->span_json) + 1 : 0) +
		   strlen(k->slow_spans_json) + 1;
	g.bytes += k->bytes;
}

/* The kept detail of `r` with `stamp` into *d (strings in `a`): 1, or 0
 * when none is (g.mu held). */
static int find_locked(const struct request_row *r, uint64_t stamp, struct arena *a, struct slow_detail *d)
{
	uint8_t key[24];
	int64_t at;
	key_of(key, r);
	if (!g.has_index || strmap_get(&g.index, key, sizeof(key), &at) < 0 || g.k[at].stamp != stamp)
		return 0;
	struct kept *k = &g.k[at];
	k->used = ++g.tick;
	d->loaded = k->loaded;
	memcpy(d->phases, k->phases, sizeof(d->phases));
	d->span_json = k->span_json ? arena_strdup(a, k->span_json) : NULL;
	d->slow_spans_json = arena_strdup(a, k->slow_spans_json);
	return 1;
}

/* ---- a read ----------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What the details depend on besides the trace: the thresholds and rules,
 * and the services a call is judged against (xmalloc'd). */
static char *basis_of(struct store *s, const struct slowops_config *c, const struct store_query *q,
		      struct arena *a, char *err, size_t errlen)
{
	const char **values;
	size_t n;
	uint64_t from = q->from_ns > REQUEST_TREES_SERVICES_LOOKBACK_NS
				? q->from_ns - REQUEST_TREES_SERVICES_LOOKBACK_NS
				: 0;
	if (store_values(s, DICT_SERVICE, from, q->to_ns, a, &values, &n, err, errlen) < 0)
		return NULL;
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	slowops_config_to_json(&b, c, 0);
	if (n)
		qsort(values, n, sizeof(*values), cmp_str);
	for (size_t i = 0; i < n; i++) {
		buf_putc(&b, '\x1f');
		buf_puts(&b, values[i]);
	}
	size_t len;
	char *text = buf_detach(&b, &len);
	return text ? text : xstrdup("");
}

/* The stamps of the rows' traces: 1, 0 when the store has none, or < 0. */
static int read_stamps(struct store *s, const struct request_row *rows, size_t n, uint64_t *stamps, char *err,
		       size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		long rc = store_trace_stamp(s, rows[i].trace_id, &stamps[i], err, errlen);
		if (rc == ERR_UNSUPPORTED)
			return 0;
		if (rc < 0)
			return (int)rc;
	}
	return 1;
}

/* The kept details of the rows into out; the others' indexes into miss. */
static size_t find_kept(struct store *s, const char *basis, const struct request_row *rows, size_t n,
			const uint64_t *stamps, struct arena *a, struct slow_detail *out, size_t *miss)
{
	size_t n_miss = 0;
	pthread_mutex_lock(&g.mu);
	if (g.store != s || !g.basis || strcmp(g.basis, basis)) {
		forget_all_locked();
		g.store = s;
		g.basis = xstrdup(basis);
	}
	for (size_t i = 0; i < n; i++)
		if (!find_locked(&rows[i], stamps[i], a, &out[i]))
			miss[n_miss++] = i;
	g.hits += n - n_miss;
	g.misses += n_miss;
	pthread_mutex_unlock(&g.mu);
	return n_miss;
}

static void keep_computed(struct store *s, const char *basis, const struct request_row *rows,
			  const size_t *miss, size_t n_miss, const uint64_t *stamps,
			  const struct slow_detail *got)
{
	pthread_mutex_lock(&g.mu);
	if (g.store == s && g.basis && !strcmp(g.basis, basis)) {
		for (size_t j = 0; j < n_miss; j++)
			keep_locked(&rows[miss[j]], stamps[miss[j]], &got[j]);
		trim_locked();
	}
	pthread_mutex_unlock(&g.mu);
}

int slow_details_read(struct store *s, const struct slowops_config *c, const struct store_query *q,
		      const struct request_row *rows, size_t n, struct arena *a, struct slow_detail *out,
		      char *err, size_t errlen)
{
	uint64_t *stamps = xcalloc(n ? n : 1, sizeof(*stamps));
	size_t *miss = xcalloc(n ? n : 1, sizeof(*miss));
	struct request_row *miss_rows = NULL;
	struct slow_detail *got = NULL;
	char *basis = NULL;
	int rc = n ? read_stamps(s, rows, n, stamps, err, errlen) : 0;
	if (rc <= 0) { /* none kept by this store (or nothing asked): read them all */
		if (rc == 0)
			rc = compute(s, c, q, rows, n, a, out, err, errlen);
		goto out;
	}
	if (!(basis = basis_of(s, c, q, a, err, errlen))) {
		rc = ERR_INTERNAL;
		goto out;
	}
	size_t n_miss = find_kept(s, basis, rows, n, stamps, a, out, miss);
	miss_rows = xcalloc(n_miss ? n_miss : 1, sizeof(*miss_rows));
	got = xcalloc(n_miss ? n_miss : 1, sizeof(*got));
	for (size_t j = 0; j < n_miss; j++)
		miss_rows[j] = rows[miss[j]];
	rc = n_miss ? compute(s, c, q, miss_rows, n_miss, a, got, err, errlen) : 0;
	if (rc == 0) {
		for (size_t j = 0; j < n_miss; j++)
			out[miss[j]] = got[j];
		keep_computed(s, basis, rows, miss, n_miss, stamps, got);
	}
out:
	free(basis);
	free(got);
	free(miss_rows);
	free(miss);
	free(stamps);
	return rc;
}
