/*
 * routes_slow.c - slow operations, slow requests and bottlenecks
 * (docs/API.md): /api/v1/slow-operations/thresholds (GET, PUT, DELETE),
 * /api/v1/slow-operations/stats, /api/v1/slow-requests (JSON or CSV),
 * /api/v1/slow-requests/alerts and /api/v1/bottlenecks.
 *
 * Owns parsing these requests, mapping the query layer's errors to
 * statuses, and printing the answers.  The requests an answer covers come
 * from query/request_rows.h (filters and q=; for bottlenecks, all of the
 * range or whole traces sampled across it), their span trees from
 * query/request_trees.h (a listed slow request's details from
 * query/slow_details.h, which reads its trace once), the metric points
 * around them from
 * query/request_metrics.h; without filters, the statistics and bottlenecks
 * of a range come from the aggregates of query/opstats.h.  Thresholds,
 * classification, phases and spikes
 * are in analyze/slowops.c, the ranking in analyze/bottleneck.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/bottleneck.h"
#include "analyze/slowops.h"
#include "analyze/spanql.h"
#include "analyze/spantree.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/strmap.h"
#include "query/request_metrics.h"
#include "query/opstats.h"
#include "query/request_rows.h"
#include "query/request_trees.h"
#include "query/slow_details.h"
#include "server/filters.h"
#include "server/http.h"
#include "server/json_out.h"
#include "server/routes_metrics.h"

/* Requests the stats and bottlenecks read: default and most (newest first). */
#define ANALYSE_DEFAULT 10000
#define ANALYSE_MAX	100000
/* Slow requests listed with their details: default and most. */
#define DETAIL_DEFAULT 50
#define DETAIL_MAX     500
/* Slow requests counted in groups and the trend at most. */
#define SLOW_SCAN_MAX 50000
#define TREND_MAX     2000
#define TOP_DEFAULT   20
#define TOP_MAX	      200

static void bad_request(struct http_request *req, const char *msg)
{
	http_error(req, 400, "bad_request", "%s", msg);
}

static int effective_or_500(struct http_request *req, struct slowops_config *c)
{
	char err[256];
	if (slowops_effective(req->srv->store, c, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return -1;
	}
	return 0;
}

static void put_ms(struct json_w *w, const char *key, double ns)
{
	jw_kdouble(w, key, ns / 1e6);
}

static void put_links(struct json_w *w, const uint8_t trace_id[16])
{
	char hex[33], url[80];
	hex_encode(hex, trace_id, 16);
	snprintf(url, sizeof(url), "/dashboard/performance#trace=%s", hex);
	jw_kstr(w, "link", url);
	snprintf(url, sizeof(url), "/api/v1/flamegraph?trace_id=%s", hex);
	jw_kstr(w, "flamegraph", url);
}

/* The members a ranking or statistics answer counts its requests with. */
static void put_counts(struct json_w *w, uint64_t requests, uint64_t nested, unsigned limit, bool truncated)
{
	jw_kuint(w, "requests", requests);
	jw_kuint(w, "nested", nested);
	jw_kuint(w, "limit", limit);
	jw_kbool(w, "truncated", truncated);
}

/* "aggregated": the buckets an answer from the aggregates read. */
static void put_aggregated(struct json_w *w, uint64_t bucket_ns, uint64_t from_ns, uint64_t to_ns)
{
	jw_kobj_begin(w, "aggregated");
	jw_kuint(w, "bucket_s", bucket_ns / NS_PER_S);
	jw_kuint(w, "from_ns", from_ns);
	jw_kuint(w, "to_ns", to_ns);
	jw_obj_end(w);
}

/* ---- reading through the query layer ------------------------------------------ */

/* The answer for a failed request_rows_*() call. */
static void rows_error(struct http_request *req, int rc, const char *err)
{
	http_error_class(req, rc, rc == ERR_TOO_MUCH ? "q=: %s; narrow the range" : "%s", err);
}

/* The requests matching the filters and q=.  -1: the answer is set. */
static int select_rows(struct http_request *req, const struct store_query *q, const struct spanql *ql,
		       struct request_row **rows, size_t *n)
{
	char err[256];
	int rc = request_rows_select(req->srv->store, q, ql, &req->arena, rows, n, err, sizeof(err));
	if (rc < 0)
		rows_error(req, rc, err);
	return rc < 0 ? -1 : 0;
}

/* The answer for a failed read of the requests' traces. */
static void trees_error(struct http_request *req, int rc, const char *err)
{
	http_error_class(req, rc,
			 rc == ERR_TOO_MUCH  ? "q=: %s; narrow the range"
			 : rc == ERR_TOO_BIG ? "%s: lower limit"
					     : "%s",
			 err);
}

/* Load and hand on the rows' requests.  -1: the answer is set. */
static int load_requests(struct http_request *req, struct request_trees *rt, const struct store_query *q,
			 const struct request_row *rows, size_t n_rows, request_trees_fn fn, void *arg)
{
	char err[256];
	int rc = request_trees_load(rt, q, rows, n_rows, fn, arg, err, sizeof(err));
	if (rc < 0)
		trees_error(req, rc, err);
	return rc < 0 ? -1 : 0;
}

/* Common filters, q= and `limit` (default `def`, at most `max`).  -1: answer set. */
static int parse_selection(struct http_request *req, struct store_query *q, struct spanql **ql, unsigned def,
			   unsigned max)
{
	char err[320];
	if (filters_parse_prefixed(req, "", max, q, clock_now_ns(), err, sizeof(err)) < 0 ||
	    filters_parse_q(req, ql, err, sizeof(err)) < 0) {
		bad_request(req, err);
		return -1;
	}
	const char *v = http_query(req, "limit");
	if (!v || !*v)
		q->limit = def;
	return 0;
}

/* ---- thresholds ---------------------------------------------------------------- */

static void reply_thresholds(struct http_request *req)
{
	struct slowops_config c;
	if (effective_or_500(req, &c) == 0)
		slowops_config_to_json(http_json(req), &c, 1);
	slowops_config_release(&c);
}

static int get_thresholds(struct http_request *req)
{
	reply_thresholds(req);
	return HTTP_DONE;
}

static int put_override(struct http_request *req, const char *json)
{
	char err[256];
	struct store_record rec = {
		.kind = SLOWOPS_DOC_KIND, .id = SLOWOPS_DOC_ID, .time_ns = clock_now_ns(), .json = json};
	int rc = store_put_doc(req->srv->store, &rec, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err); /* 503 on a read-only store */
		return -1;
	}
	return 0;
}

static int put_thresholds(struct http_request *req)
{
	struct slowops_config layer;
	struct buf doc;
	char err[320];
	slowops_config_init_layer(&layer);
	buf_init(&doc, BUF_NO_LIMIT);
	if (req->body_too_large) {
		http_error(req, 413, "payload_too_large", "body: too large");
		goto out;
	}
	if (slowops_config_parse_json(&layer, req->body.data ? req->body.data : "", req->body.len,
				      SLOWOPS_SRC_API, err, sizeof(err)) < 0) {
		bad_request(req, err);
		goto out;
	}
	slowops_config_to_json(&doc, &layer, 0);
	if (put_override(req, doc.data) == 0)
		reply_thresholds(req);
out:
	buf_release(&doc);
	slowops_config_release(&layer);
	return HTTP_DONE;
}

static int delete_thresholds(struct http_request *req)
{
	if (put_override(req, "{}") == 0)
		reply_thresholds(req);
	return HTTP_DONE;
}

/* ---- per-type statistics ------------------------------------------------------------- */

struct stats_run {
	const struct slowops_config *cfg;
	struct slowops_stats st;
	size_t spans;
};

static void stats_request(void *arg, const struct request_row *row, size_t idx, const struct spantree *t,
			  const struct slowops_class *cls, const struct bottleneck_span *desc)
{
	struct stats_run *sr = arg;
	for (size_t i = 0; i < t->n; i++)
		slowops_stats_add(&sr->st, sr->cfg, cls[i].type, t->spans[i].end_ns - t->spans[i].start_ns);
	sr->spans += t->n;
}

/* The threshold shown for a stats slot: its first type's. */
static uint64_t slot_threshold(const struct slowops_config *c, size_t slot)
{
	for (int ty = 0; ty < SLOWOPS_BUILTIN + (int)c->n_rules; ty++)
		if (slowops_type_slot(c, ty) == slot)
			return slowops_threshold_ns(c, ty);
	return 0;
}

static void put_type(struct json_w *w, const struct slowops_config *c, size_t slot, uint64_t n, uint64_t slow,
		     double sum_ns, double min_ns, double max_ns, double p95_ns)
{
	jw_obj_begin(w);
	jw_kstr(w, "type", slowops_slot_name(c, slot));
	put_ms(w, "threshold_ms", (double)slot_threshold(c, slot));
	jw_kuint(w, "count", n);
	jw_kuint(w, "slow", slow);
	jw_kdouble(w, "slow_pct", n ? 100.0 * (double)slow / (double)n : NAN);
	put_ms(w, "avg_ms", n ? sum_ns / (double)n : NAN);
	put_ms(w, "min_ms", n ? min_ns : NAN);
	put_ms(w, "max_ms", n ? max_ns : NAN);
	put_ms(w, "p95_ms", n ? p95_ns : NAN);
	jw_obj_end(w);
}

/* Whether only the range is asked, with service=, env= or both (no other
 * filter, q= nor limit): the aggregates can answer, for `f`. */
static int aggregates_answer(struct http_request *req, const struct store_query *q, const struct spanql *ql,
			     struct opstats_filter *f)
{
	const char *limit = http_query(req, "limit");
	f->service = q->service;
	f->env = q->env;
	return !ql && (!limit || !*limit) && !q->endpoint && !q->version && !q->department && !q->intent &&
	       !q->tool && !q->latest && q->status < 0 && !q->min_duration_ns && !q->max_duration_ns;
}

/* The end of a statistics answer, after its types: the slow spans of all
 * types and the resources at the range's end. */
static void put_stats_end(struct http_request *req, struct json_w *w, uint64_t total_slow)
{
	jw_arr_end(w);
	jw_kuint(w, "totalSlowOperations", total_slow);
	metrics_put_current_resources(req, w);
	jw_obj_end(w);
}

/* From the per-minute aggregates: 1 answered, 0 not answerable, -1 answer set. */
static int stats_from_aggregates(struct http_request *req, const struct store_query *q,
				 const struct slowops_config *c, const struct opstats_filter *f)
{
	struct opstats_answer a;
	char err[256];
	int rc = opstats_read(req->srv->store, c, f, q->from_ns, q->to_ns, &a, err, sizeof(err));
	if (rc == ERR_BUSY)
		return 0;
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return -1;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	put_counts(&w, a.requests, 0, q->limit, false);
	jw_kuint(&w, "spans", a.spans);
	put_aggregated(&w, a.bucket_ns, a.from_ns, a.to_ns);
	jw_karr_begin(&w, "types");
	uint64_t total_slow = 0;
	for (size_t i = 0; i < a.n; i++) {
		const struct sketch *sk = &a.t[i];
		uint64_t n = sketch_count(sk), slow = sketch_count_at_least(sk, (double)slot_threshold(c, i));
		put_type(&w, c, i, n, slow, sketch_sum(sk), sketch_min(sk), sketch_max(sk),
			 n ? sketch_quantile(sk, 0.95) : 0);
		total_slow += slow;
	}
	put_stats_end(req, &w, total_slow);
	opstats_answer_release(&a);
	return 1;
}

static int get_stats(struct http_request *req)
{
	struct store_query q;
	struct spanql *ql = NULL;
	struct slowops_config c;
	struct request_row *rows;
	size_t n_rows = 0;
	struct request_trees rt;
	struct stats_run sr = {.cfg = &c};
	struct opstats_filter f;
	slowops_config_init(&c);
	request_trees_init(&rt, req->srv->store, &c, &req->arena);
	slowops_stats_init(&sr.st, &c);
	if (parse_selection(req, &q, &ql, ANALYSE_DEFAULT, ANALYSE_MAX) < 0 || effective_or_500(req, &c) < 0)
		goto out;
	if (aggregates_answer(req, &q, ql, &f) && stats_from_aggregates(req, &q, &c, &f) != 0)
		goto out;
	slowops_stats_release(&sr.st);
	slowops_stats_init(&sr.st, &c);
	q.order = STORE_NEWEST;
	rt.ql = ql; /* judged on the traces it reads: no scan of its own */
	if (select_rows(req, &q, NULL, &rows, &n_rows) < 0 ||
	    load_requests(req, &rt, &q, rows, n_rows, stats_request, &sr) < 0)
		goto out;
	slowops_stats_finish(&sr.st);
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	put_counts(&w, rt.requests, rt.nested, q.limit, n_rows >= q.limit);
	jw_kuint(&w, "spans", sr.spans);
	jw_karr_begin(&w, "types");
	for (size_t i = 0; i < sr.st.n; i++) {
		const struct slowops_type_stats *t = &sr.st.t[i];
		put_type(&w, &c, i, t->n, t->slow, (double)t->sum_ns, t->n ? (double)t->dur_ns[0] : 0,
			 t->n ? (double)t->dur_ns[t->n - 1] : 0, (double)t->p95_ns);
	}
	uint64_t total_slow = 0;
	for (size_t i = 0; i < sr.st.n; i++)
		total_slow += sr.st.t[i].slow;
	put_stats_end(req, &w, total_slow);
out:
	slowops_stats_release(&sr.st);
	request_trees_release(&rt);
	slowops_config_release(&c);
	spanql_free(ql);
	return HTTP_DONE;
}

/* ---- slow requests --------------------------------------------------------------- */

struct slow_run {
	struct slow_detail *d;
	size_t n_detail;
};

enum group_by { GROUP_NONE, GROUP_ENDPOINT, GROUP_TOOL, GROUP_SERVICE };

struct group {
	const char *key;
	uint64_t *dur;
	size_t n, cap;
	uint64_t sum;
	size_t slowest; /* row */
	int unsorted;	/* dur is not in descending order (rows come slowest first) */
};

/* Groups seen last, by the address of their key: the rows of the slow
 * list share one copy of each string, so most rows find theirs here
 * without hashing it. */
#define GROUP_MEMO 64
struct group_memo {
	const char *key[GROUP_MEMO];
	int64_t at[GROUP_MEMO];
};

/* The group of `key` in `index` (added to g when new). */
static int64_t group_of(struct strmap *index, struct group_memo *memo, struct group **g, size_t *n_g,
			size_t *cap, const char *key, size_t row)
{
	size_t slot = ((uintptr_t)key >> 4) % GROUP_MEMO;
	int64_t at;
	if (key && memo->key[slot] == key)
		return memo->at[slot];
	const char *k = key ? key : "";
	size_t len = key ? strlen(key) + 1 : 0; /* null and "" apart */
	if (strmap_get(index, k, len, &at) < 0) {
		*g = xgrow(*g, cap, *n_g + 1, sizeof(**g));
		(*g)[*n_g] = (struct group){.key = key, .slowest = row};
		at = (int64_t)(*n_g)++;
		strmap_put(index, k, len, at);
	}
	memo->key[slot] = key;
	memo->at[slot] = at;
	return at;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int by_count(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	if (!x->key || !y->key)
		return !x->key - !y->key;
	return strcmp(x->key, y->key);
}

static void put_groups(struct json_w *w, enum group_by by, const struct request_row *rows, size_t n)
{
	static const char *const names[] = {NULL, "endpoint", "tool", "service"};
	struct strmap index;
	struct group_memo memo = {0};
	struct group *g = NULL;
	size_t n_g = 0, cap = 0;
	strmap_init(&index);
	for (size_t i = 0; i < n; i++) {
		const char *key = by == GROUP_ENDPOINT ? rows[i].endpoint
				  : by == GROUP_TOOL   ? rows[i].tool
						       : rows[i].service;
		int64_t at = group_of(&index, &memo, &g, &n_g, &cap, key, i);
		struct group *gr = &g[at];
		gr->dur = xgrow(gr->dur, &gr->cap, gr->n + 1, sizeof(*gr->dur));
		if (gr->n && gr->dur[gr->n - 1] < rows[i].duration_ns)
			gr->unsorted = 1;
		gr->dur[gr->n++] = rows[i].duration_ns;
		gr->sum += rows[i].duration_ns;
		if (rows[i].duration_ns > rows[gr->slowest].duration_ns)
			gr->slowest = i;
	}
	qsort(g, n_g, sizeof(*g), by_count);
	jw_kstr(w, "group_by", names[by]);
	jw_karr_begin(w, "groups");
	for (size_t i = 0; i < n_g; i++) {
		struct group *gr = &g[i];
		size_t rank = (size_t)ceil(0.95 * (double)gr->n);
		uint64_t p95, max;
		if (gr->unsorted) {
			qsort(gr->dur, gr->n, sizeof(*gr->dur), cmp_u64);
			p95 = gr->dur[rank - 1];
			max = gr->dur[gr->n - 1];
		} else { /* slowest first already */
			p95 = gr->dur[gr->n - rank];
			max = gr->dur[0];
		}
		jw_obj_begin(w);
		jw_kstr(w, "key", gr->key);
		jw_kuint(w, "count", gr->n);
		put_ms(w, "avg_ms", (double)gr->sum / (double)gr->n);
		put_ms(w, "p95_ms", (double)p95);
		put_ms(w, "max_ms", (double)max);
		jw_kid(w, "slowest_trace_id", rows[gr->slowest].trace_id, 16);
		jw_obj_end(w);
		free(gr->dur);
	}
	jw_arr_end(w);
	free(g);
	strmap_release(&index);
}

static void put_trend(struct json_w *w, const struct store_query *q, uint64_t bucket_ns,
		      const struct request_row *rows, size_t n)
{
	uint64_t from = q->from_ns / bucket_ns * bucket_ns;
	size_t nb = (size_t)((q->to_ns - from + bucket_ns - 1) / bucket_ns);
	uint64_t *counts = xcalloc(nb ? nb : 1, sizeof(*counts));
	for (size_t i = 0; i < n; i++)
		if (rows[i].start_ns >= from && rows[i].start_ns < q->to_ns)
			counts[(rows[i].start_ns - from) / bucket_ns]++;
	jw_kobj_begin(w, "trend");
	jw_kuint(w, "bucket_s", bucket_ns / NS_PER_S);
	jw_karr_begin(w, "times_ms");
	for (size_t i = 0; i < nb; i++)
		jw_uint(w, (from + i * bucket_ns) / NS_PER_MS);
	jw_arr_end(w);
	jw_karr_begin(w, "counts");
	for (size_t i = 0; i < nb; i++)
		jw_uint(w, counts[i]);
	jw_arr_end(w);
	jw_obj_end(w);
	free(counts);
}

/* One CSV field: quoted when it holds a comma, quote or line break. */
static void csv_field(struct buf *b, const char *s, int last)
{
	if (!s)
		s = "";
	if (strpbrk(s, ",\"\r\n")) {
		buf_putc(b, '"');
		for (const char *p = s; *p; p++) {
			if (*p == '"')
				buf_putc(b, '"');
			buf_putc(b, *p);
		}
		buf_putc(b, '"');
	} else {
		buf_puts(b, s);
	}
	buf_puts(b, last ? "\r\n" : ",");
}

static void csv_ms(struct buf *b, double ns, int last)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%.3f", ns / 1e6);
	csv_field(b, tmp, last);
}

static void put_csv(struct http_request *req, const struct slow_run *run, const struct request_row *rows,
		    size_t n, uint64_t thr)
{
	static const char *const status_names[] = {"ok", "error", "timeout"};
	http_reply(req, 200, "text/csv; charset=utf-8", "", 0);
	struct buf *b = &req->res.body;
	buf_puts(b, "trace_id,span_id,start,service,endpoint,tool,env,version,status,duration_ms,threshold_"
		    "ms,ratio");
	for (int p = 0; p < SLOWOPS_PHASES; p++)
		buf_printf(b, ",%s_ms", slowops_phase_name(p));
	buf_puts(b, "\r\n");
	for (size_t i = 0; i < n; i++) {
		const struct request_row *r = &rows[i];
		char tid[33], sid[17], when[40], ratio[32];
		hex_encode(tid, r->trace_id, 16);
		hex_encode(sid, r->span_id, 8);
		time_t secs = (time_t)(r->start_ns / NS_PER_S);
		struct tm tm;
		gmtime_r(&secs, &tm);
		size_t w = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(when + w, sizeof(when) - w, ".%03lluZ",
			 (unsigned long long)(r->start_ns / NS_PER_MS % 1000));
		snprintf(ratio, sizeof(ratio), "%.3f", (double)r->duration_ns / (double)thr);
		csv_field(b, tid, 0);
		csv_field(b, sid, 0);
		csv_field(b, when, 0);
		csv_field(b, r->service, 0);
		csv_field(b, r->endpoint, 0);
		csv_field(b, r->tool, 0);
		csv_field(b, r->env, 0);
		csv_field(b, r->version, 0);
		csv_field(b, status_names[r->status < 3 ? r->status : 1], 0);
		csv_ms(b, (double)r->duration_ns, 0);
		csv_ms(b, (double)thr, 0);
		csv_field(b, ratio, 0);
		for (int p = 0; p < SLOWOPS_PHASES; p++) {
			if (run->d[i].loaded)
				csv_ms(b, (double)run->d[i].phases[p], p == SLOWOPS_PHASES - 1);
			else
				csv_field(b, "", p == SLOWOPS_PHASES - 1);
		}
	}
}

/* "phases": the request's time by phase, when its trace was loaded. */
static void put_phases(struct json_w *w, const struct slow_detail *d)
{
	uint64_t total = 0;
	char key[64];
	if (!d->loaded) {
		jw_knull(w, "phases");
		return;
	}
	jw_kobj_begin(w, "phases");
	for (int p = 0; p < SLOWOPS_PHASES; p++) {
		snprintf(key, sizeof(key), "%s_ms", slowops_phase_name(p));
		put_ms(w, key, (double)d->phases[p]);
		total += d->phases[p];
	}
	jw_obj_end(w);
	put_ms(w, "phases_total_ms", (double)total);
}

static void put_detail(struct json_w *w, const struct slow_run *run, const struct request_row *r, size_t i,
		       const struct request_metrics_snapshot *snap, uint64_t thr)
{
	const struct slow_detail *d = &run->d[i];
	jw_obj_begin(w);
	json_out_request_members(w, r);
	put_ms(w, "threshold_ms", (double)thr);
	jw_kdouble(w, "ratio", (double)r->duration_ns / (double)thr);
	put_phases(w, d);
	if (d->span_json)
		jw_kraw(w, "span", d->span_json);
	else
		jw_knull(w, "span");
	jw_kraw(w, "slow_spans", d->slow_spans_json);
	request_metrics_snapshot_put(w, snap->failed ? -1 : 0, snap, r->service, r->env, r->start_ns,
				     "the store failed");
	put_links(w, r->trace_id);
	jw_obj_end(w);
}

/* min_duration (or min_duration_ms) in ms, else the http threshold. */
static int slow_bound(struct http_request *req, const struct slowops_config *c, struct store_query *q)
{
	const char *v = http_query(req, "min_duration");
	if (v && *v) {
		char *end;
		double ms = strtod(v, &end);
		if (end == v || *end || !isfinite(ms) || ms < 0 || ms > 1e12) {
			http_error(req, 400, "bad_request", "invalid min_duration '%.64s': want milliseconds",
				   v);
			return -1;
		}
		q->min_duration_ns = (uint64_t)llround(ms * 1e6);
	} else if (!http_query(req, "min_duration_ms") && !http_query(req, "tier")) {
		q->min_duration_ns = c->threshold_ns[SLOWOPS_HTTP];
	}
	return 0;
}

static int parse_group_by(struct http_request *req, enum group_by *by)
{
	const char *v = http_query(req, "group_by");
	*by = GROUP_NONE;
	if (!v || !*v)
		return 0;
	if (!strcmp(v, "endpoint"))
		*by = GROUP_ENDPOINT;
	else if (!strcmp(v, "tool"))
		*by = GROUP_TOOL;
	else if (!strcmp(v, "service"))
		*by = GROUP_SERVICE;
	else {
		http_error(req, 400, "bad_request", "invalid group_by '%.64s': use endpoint, tool or service",
			   v);
		return -1;
	}
	return 0;
}

static int get_slow_requests(struct http_request *req)
{
	struct store_query q;
	struct spanql *ql = NULL;
	struct slowops_config c;
	struct request_row *rows;
	size_t n_rows = 0;
	struct slow_run run = {0};
	enum group_by by;
	char err[256];
	long bucket_s;
	const char *fmt = http_query(req, "format");
	slowops_config_init(&c);
	if (parse_selection(req, &q, &ql, DETAIL_DEFAULT, DETAIL_MAX) < 0 || effective_or_500(req, &c) < 0 ||
	    slow_bound(req, &c, &q) < 0 || parse_group_by(req, &by) < 0)
		goto out;
	uint64_t def_bucket = (q.to_ns - q.from_ns) / 60 / NS_PER_S;
	if (filters_int(req, "bucket", 1, 86400 * 31, def_bucket < 60 ? 60 : (long)def_bucket, &bucket_s) < 0)
		goto out;
	if ((q.to_ns - q.from_ns) / ((uint64_t)bucket_s * NS_PER_S) >= TREND_MAX) {
		http_error(req, 400, "bad_request", "invalid bucket '%ld': more than %d buckets in the range",
			   bucket_s, TREND_MAX);
		goto out;
	}
	if (fmt && *fmt && strcmp(fmt, "json") && strcmp(fmt, "csv")) {
		http_error(req, 400, "bad_request", "invalid format '%.64s': use json or csv", fmt);
		goto out;
	}
	unsigned limit = q.limit;
	q.order = STORE_SLOWEST;
	q.limit = SLOW_SCAN_MAX;
	filters_count_requests(&q, 0); /* groups split what the list counts */
	if (select_rows(req, &q, ql, &rows, &n_rows) < 0)
		goto out;
	run.n_detail = n_rows < limit ? n_rows : limit;
	run.d = arena_zalloc(&req->arena, (run.n_detail ? run.n_detail : 1) * sizeof(*run.d));
	int rc = slow_details_read(req->srv->store, &c, &q, rows, run.n_detail, &req->arena, run.d, err,
				   sizeof(err));
	if (rc < 0) {
		trees_error(req, rc, err);
		goto out;
	}
	uint64_t thr = q.min_duration_ns ? q.min_duration_ns : c.threshold_ns[SLOWOPS_HTTP];
	if (fmt && !strcmp(fmt, "csv")) {
		put_csv(req, &run, rows, run.n_detail, thr);
		goto out;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	put_ms(&w, "min_duration_ms", (double)q.min_duration_ns);
	jw_kuint(&w, "matched", n_rows);
	jw_kbool(&w, "truncated", n_rows >= SLOW_SCAN_MAX);
	jw_kuint(&w, "limit", limit);
	jw_kuint(&w, "count", run.n_detail);
	jw_key(&w, "thresholds");
	struct buf *tb = jw_value_buf(&w);
	if (tb)
		slowops_config_to_json(tb, &c, 0);
	jw_key(&w, "counted");
	json_out_counted(&w, &q);
	jw_karr_begin(&w, "requests");
	struct request_metrics_snapshot *snaps =
		arena_zalloc(&req->arena, (run.n_detail ? run.n_detail : 1) * sizeof(*snaps));
	request_metrics_snapshots_read(req->srv->store, rows, run.n_detail, snaps);
	for (size_t i = 0; i < run.n_detail; i++)
		put_detail(&w, &run, &rows[i], i, &snaps[i], thr);
	jw_arr_end(&w);
	if (by != GROUP_NONE)
		put_groups(&w, by, rows, n_rows);
	put_trend(&w, &q, (uint64_t)bucket_s * NS_PER_S, rows, n_rows);
	jw_obj_end(&w);
out:
	slowops_config_release(&c);
	spanql_free(ql);
	return HTTP_DONE;
}

/* A spike event: its kind and time, then the members of the stored object. */
static void put_alert(struct json_w *w, const struct store_record *ev)
{
	jw_obj_begin(w);
	jw_kstr(w, "kind", "slow_spike");
	jw_kuint_str(w, "time_ns", ev->time_ns);
	jw_kuint(w, "time_ms", ev->time_ns / NS_PER_MS);
	jw_members(w, ev->json);
	jw_obj_end(w);
}

static int get_alerts(struct http_request *req)
{
	struct store_query q;
	struct store_record *ev;
	size_t n;
	long limit;
	char err[320];
	if (filters_parse(req, &q, clock_now_ns(), err, sizeof(err)) < 0) {
		bad_request(req, err);
		return HTTP_DONE;
	}
	if (!http_query(req, "range") && !http_query(req, "from"))
		q.from_ns = q.to_ns > 86400 * NS_PER_S ? q.to_ns - 86400 * NS_PER_S : 0;
	if (filters_int(req, "limit", 1, 1000, 100, &limit) < 0)
		return HTTP_DONE;
	if (store_events(req->srv->store, SLOWOPS_EVENT_KIND, q.service, q.from_ns, q.to_ns, (unsigned)limit,
			 &req->arena, &ev, &n, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_karr_begin(&w, "alerts");
	for (size_t i = 0; i < n; i++)
		put_alert(&w, &ev[i]);
	jw_arr_end(&w);
	jw_kuint(&w, "count", n);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* ---- bottlenecks ------------------------------------------------------------------- */

static void bottleneck_request(void *arg, const struct request_row *row, size_t idx, const struct spantree *t,
			       const struct slowops_class *cls, const struct bottleneck_span *desc)
{
	bottleneck_add(arg, t, cls, desc, row->service, row->trace_id);
}

static void put_reason(struct json_w *w, const struct bottleneck_entry *e)
{
	struct buf r;
	buf_init(&r, BUF_NO_LIMIT);
	if (e->wait)
		buf_printf(&r, "waits for a connection pool, lock or queue in %s", e->service);
	else if (e->kind == BOTTLENECK_CONTENTION)
		buf_printf(&r, "on the critical path mostly while %s's CPU was at or above %.0f%%",
			   e->service, BOTTLENECK_CPU_SATURATED * 100);
	else if (e->call)
		buf_printf(&r, "%s waits for %s", e->service, e->target ? e->target : "a downstream call");
	else if (e->kind == BOTTLENECK_DEPENDENCY)
		buf_printf(&r, "work in %s, downstream of the requests", e->service);
	else
		buf_printf(&r, "own time of %s", e->service);
	jw_kstr(w, "reason", r.data);
	buf_release(&r);
}

/* A time in ms, or null for none. */
static void put_time_ms(struct json_w *w, const char *key, uint64_t ns)
{
	if (ns)
		jw_kuint(w, key, ns / NS_PER_MS);
	else
		jw_knull(w, key);
}

static void put_examples(struct json_w *w, const struct bottleneck_entry *e)
{
	jw_karr_begin(w, "examples");
	for (size_t i = 0; i < e->n_examples; i++) {
		jw_obj_begin(w);
		jw_kid(w, "trace_id", e->examples[i].trace_id, 16);
		put_ms(w, "critical_ms", (double)e->examples[i].critical_ns);
		put_time_ms(w, "start_ms", e->examples[i].start_ns);
		put_links(w, e->examples[i].trace_id);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void put_bottleneck(struct json_w *w, struct store *st, const char *env, const struct bottleneck *bn,
			   const struct bottleneck_entry *e, size_t rank)
{
	struct buf comp;
	buf_init(&comp, BUF_NO_LIMIT);
	buf_printf(&comp, "%s: %s", e->service, e->name);
	jw_obj_begin(w);
	jw_kuint(w, "rank", rank);
	jw_kstr(w, "component", comp.data);
	buf_release(&comp);
	jw_kstr(w, "service", e->service);
	jw_kstr(w, "name", e->name);
	jw_kstr(w, "span_name", e->span_name);
	jw_kstr(w, "span_kind", bottleneck_span_kind_name(e->span_kind));
	jw_kstr(w, "kind", bottleneck_kind_name(e->kind));
	jw_kstr(w, "target", e->target);
	put_reason(w, e);
	put_ms(w, "impact_ms", e->impact_ns);
	put_ms(w, "critical_ms_total", (double)e->critical_ns);
	put_ms(w, "critical_ms_per_request",
	       bn->requests ? (double)e->critical_ns / (double)bn->requests : NAN);
	put_ms(w, "critical_ms_per_affected_request",
	       e->requests ? (double)e->critical_ns / (double)e->requests : NAN);
	jw_kdouble(w, "share", bn->critical_ns ? (double)e->critical_ns / (double)bn->critical_ns : NAN);
	jw_kuint(w, "requests_affected", e->requests);
	jw_kdouble(w, "frequency", bn->requests ? (double)e->requests / (double)bn->requests : NAN);
	jw_kuint(w, "spans", e->spans);
	put_ms(w, "self_avg_ms", e->self_avg_ns);
	put_ms(w, "self_p95_ms", e->self_p95_ns);
	put_examples(w, e);
	/* the resources of its service when its worst example started */
	request_metrics_snapshot_put_at(w, st, e->service, env, e->n_examples ? e->examples[0].start_ns : 0,
					"no example request to read the resources at");
	jw_obj_end(w);
}

/* The requests a ranking covers.  -1: the answer is set. */
static int select_covering(struct http_request *req, struct store_query *q, struct request_cover *cov,
			   struct request_row **rows, size_t *n)
{
	char err[256];
	int rc = request_rows_cover(req->srv->store, q, &req->arena, cov, rows, n, err, sizeof(err));
	if (rc < 0)
		rows_error(req, rc, err);
	return rc < 0 ? -1 : 0;
}

/* What part of the range the ranking covers (docs/API.md). */
static void put_coverage(struct json_w *w, const struct store_query *q, uint64_t in_range, uint64_t matched,
			 uint64_t nested, bool sampled, const struct bottleneck *bn)
{
	jw_obj_begin(w);
	jw_kuint(w, "requests", bn->requests);
	jw_kuint(w, "requests_in_range", in_range);
	jw_kuint(w, "matched", matched);
	jw_kuint(w, "nested", nested);
	jw_kuint(w, "skipped", bn->skipped);
	jw_kuint(w, "limit", q->limit);
	jw_kbool(w, "sampled", sampled);
	jw_kbool(w, "truncated", sampled);
	put_time_ms(w, "range_from_ms", q->from_ns);
	put_time_ms(w, "range_to_ms", q->to_ns);
	put_time_ms(w, "covered_from_ms", bn->first_ns);
	put_time_ms(w, "covered_to_ms", bn->last_ns);
}

/* The ranked entries and the end of the answer. */
static void put_entries(struct json_w *w, struct store *st, const char *env, const struct bottleneck *bn,
			long top)
{
	put_ms(w, "total_critical_ms", (double)bn->critical_ns);
	jw_karr_begin(w, "bottlenecks");
	size_t shown = 0;
	for (size_t i = 0; i < bn->n && shown < (size_t)top; i++) {
		if (!bn->e[i].critical_ns)
			break;
		put_bottleneck(w, st, env, bn, &bn->e[i], ++shown);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

/* From the per-bucket rankings: 1 answered, 0 not answerable, -1 answer set. */
static int bottlenecks_from_aggregates(struct http_request *req, const struct store_query *q,
				       const struct slowops_config *c, const struct opstats_filter *f,
				       long top)
{
	struct bottleneck bn;
	struct request_metrics_cpu cm;
	uint64_t from, to;
	char err[256];
	bottleneck_init(&bn);
	request_metrics_cpu_init(&cm);
	int rc = request_metrics_cpu_read_range(&cm, req->srv->store, q->from_ns,
						q->to_ns ? q->to_ns : clock_now_ns(), err, sizeof(err));
	if (rc == 0 && request_metrics_cpu_any(&cm)) {
		bn.cpu = request_metrics_cpu_at;
		bn.cpu_arg = &cm;
	}
	if (rc == 0)
		rc = opstats_bottlenecks(req->srv->store, c, f, q->from_ns, q->to_ns, &bn, &from, &to, err,
					 sizeof(err));
	if (rc == 0) {
		bottleneck_finish(&bn);
		struct json_w w;
		jw_init(&w, http_json(req));
		put_coverage(&w, q, bn.requests + bn.skipped, bn.requests, 0, false, &bn);
		put_aggregated(&w, OPSTATS_BN_BUCKET_NS, from, to);
		put_entries(&w, req->srv->store, q->env, &bn, top);
	} else if (rc != ERR_BUSY) {
		http_error_class(req, rc < -1 ? rc : ERR_INTERNAL, "%s", err);
	}
	request_metrics_cpu_release(&cm);
	bottleneck_release(&bn);
	return rc == 0 ? 1 : rc == ERR_BUSY ? 0 : -1;
}

static int get_bottlenecks(struct http_request *req)
{
	struct store_query q;
	struct spanql *ql = NULL;
	struct slowops_config c;
	struct request_row *rows;
	size_t n_rows = 0;
	struct request_trees rt;
	struct bottleneck bn;
	struct request_metrics_cpu cm;
	struct request_cover cov;
	struct opstats_filter f;
	long top;
	char err[256];
	slowops_config_init(&c);
	request_trees_init(&rt, req->srv->store, &c, &req->arena);
	rt.describe = 1;
	bottleneck_init(&bn);
	request_metrics_cpu_init(&cm);
	if (parse_selection(req, &q, &ql, ANALYSE_DEFAULT, ANALYSE_MAX) < 0 ||
	    filters_int(req, "top", 1, TOP_MAX, TOP_DEFAULT, &top) < 0 || effective_or_500(req, &c) < 0)
		goto out;
	if (aggregates_answer(req, &q, ql, &f) && bottlenecks_from_aggregates(req, &q, &c, &f, top) != 0)
		goto out;
	if (select_covering(req, &q, &cov, &rows, &n_rows) < 0)
		goto out;
	rt.ql = ql;
	if (request_metrics_cpu_read(&cm, req->srv->store, rows, n_rows, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		goto out;
	}
	if (request_metrics_cpu_any(&cm)) {
		bn.cpu = request_metrics_cpu_at;
		bn.cpu_arg = &cm;
	}
	if (load_requests(req, &rt, &q, rows, n_rows, bottleneck_request, &bn) < 0)
		goto out;
	bottleneck_finish(&bn);
	struct json_w w;
	jw_init(&w, http_json(req));
	put_coverage(&w, &q, cov.in_range, rt.matched, rt.nested, cov.sampled, &bn);
	put_entries(&w, req->srv->store, q.env, &bn, top);
out:
	request_metrics_cpu_release(&cm);
	bottleneck_release(&bn);
	request_trees_release(&rt);
	slowops_config_release(&c);
	spanql_free(ql);
	return HTTP_DONE;
}

const struct route slow_routes[] = {
	{"GET", "/api/v1/slow-operations/thresholds", get_thresholds, NULL, 0},
	{"PUT", "/api/v1/slow-operations/thresholds", put_thresholds, NULL, 1},
	{"DELETE", "/api/v1/slow-operations/thresholds", delete_thresholds, NULL, 0},
	{"GET", "/api/v1/slow-operations/stats", get_stats, NULL, 0},
	{"GET", "/api/v1/slow-requests/alerts", get_alerts, NULL, 0},
	{"GET", "/api/v1/slow-requests", get_slow_requests, NULL, 0},
	{"GET", "/api/v1/bottlenecks", get_bottlenecks, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
