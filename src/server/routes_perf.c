/*
 * routes_perf.c - GET /api/v1/performance/{summary,timeseries,distribution,
 * heatmap,compare,breakdown}, and `q=` on GET /api/v1/traces.
 *
 * Owns parsing the parameters, choosing where an answer's rows come from
 * (the rollups, or for `q=` and the breakdown the raw spans, read by
 * src/query/rawrows.h), mapping errors to statuses and printing the JSON
 * shapes of docs/API.md.  The arithmetic is in src/analyze/latency.c; this
 * file neither scans the store nor does statistics of its own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/latency.h"
#include "analyze/spanql.h"
#include "core/alloc.h"
#include "core/log.h"
#include "query/rawrows.h"
#include "query/request_rows.h"
#include "server/filters.h"
#include "server/json_out.h"
#include "core/clock.h"
#include "server/http.h"
#include "server/routes_metrics.h"

/* Requests a breakdown covers (their spans: at most RAWROWS_MAX_SPANS). */
#define BREAKDOWN_REQUESTS 2000
/* Candidates GET /api/v1/traces?q= examines at most. */
#define TRACES_Q_MAX 10000

static const double quantiles[] = {0.50, 0.75, 0.90, 0.95, 0.99};
static const char *const quantile_keys[] = {"p50_ms", "p75_ms", "p90_ms", "p95_ms", "p99_ms"};
#define N_QUANTILES (sizeof(quantiles) / sizeof(quantiles[0]))

static void bad_request(struct http_request *req, const char *msg)
{
	http_error(req, 400, "bad_request", "%s", msg);
}

/* ---- the rows of an answer ---------------------------------------------- */

struct perf {
	struct http_request *req;
	struct store_query q;
	struct spanql *ql;
	unsigned res_s;
	uint64_t range_ns;
	struct rollup_row *rows;
	size_t n;
	int from_spans;
	struct json_w w; /* the answer, from perf_open() */
};

/* Parse the common filters and q=.  -1: the error answer is set. */
static int perf_begin(struct http_request *req, struct perf *p)
{
	char err[320];
	memset(p, 0, sizeof(*p));
	p->req = req;
	if (filters_parse(req, &p->q, clock_now_ns(), err, sizeof(err)) < 0 ||
	    filters_parse_q(req, &p->ql, err, sizeof(err)) < 0) {
		bad_request(req, err);
		return -1;
	}
	p->range_ns = p->q.to_ns - p->q.from_ns;
	p->res_s = latency_resolution(p->range_ns);
	filters_count_requests(&p->q, 0);
	return 0;
}

static void perf_end(struct perf *p)
{
	store_rollups_release(p->rows, p->n);
	spanql_free(p->ql);
}

/* Load the rows, grouped later by `by`: rollups restricted to the duration
 * bounds, or rows from spans when q= is given.  -1: the error answer is
 * set. */
static int perf_load(struct perf *p, enum latency_dim by)
{
	char err[320];
	int rc = 0, need_tool = p->q.tool || by == LATENCY_BY_TOOL;
	filters_count_requests(&p->q, by == LATENCY_BY_SERVICE || by == LATENCY_BY_ENDPOINT);
	if (p->ql) {
		p->from_spans = 1;
		if ((rc = rawrows_load(p->req->srv->store, &p->q, p->ql, p->res_s, need_tool, &p->req->arena,
				       &p->rows, &p->n, err, sizeof(err))) == 0)
			return 0;
	} else {
		struct latency_bounds b;
		latency_bounds_from_query(&b, &p->q);
		if (store_rollups(p->req->srv->store, &p->q, p->res_s, &p->req->arena, &p->rows, &p->n, err,
				  sizeof(err)) == 0 &&
		    latency_rows_restrict(p->rows, p->n, &b) == 0)
			return 0;
	}
	http_error_class(p->req, rc, rc == ERR_TOO_MUCH ? "range: %s" : "%s", err);
	return -1;
}

/* `step` (seconds, or 5m, 1h...) on the answer's grid.  -1: answered. */
static int perf_grid(struct perf *p, struct latency_grid *g)
{
	const char *v = http_query(p->req, "step");
	unsigned step = latency_auto_step(p->q.from_ns, p->q.to_ns, p->res_s);
	if (v && *v) {
		uint64_t ns = 0;
		char *end;
		unsigned long s = strtoul(v, &end, 10);
		if (end != v && !*end && s > 0 && s <= 30 * 86400)
			ns = s * NS_PER_S;
		else if (filters_parse_range(v, &ns) < 0 || ns % NS_PER_S || ns > 30 * 86400 * NS_PER_S)
			ns = 0;
		if (!ns) {
			http_error(p->req, 400, "bad_request",
				   "invalid step '%.64s': want seconds, e.g. 60, 300, 3600", v);
			return -1;
		}
		step = (unsigned)(ns / NS_PER_S);
		if (step % p->res_s) {
			http_error(p->req, 400, "bad_request",
				   "invalid step '%.64s': must be a multiple of %u s, the resolution of a %s "
				   "range",
				   v, p->res_s, p->res_s == 60 ? "6 h or shorter" : "longer than 6 h");
			return -1;
		}
	}
	if (latency_grid_init(g, p->q.from_ns, p->q.to_ns, step) < 0) {
		http_error(p->req, 400, "bad_request",
			   "invalid step '%u': the range would need more than %d buckets", step,
			   LATENCY_MAX_BUCKETS);
		return -1;
	}
	return 0;
}

/* A dimension parameter; `def` when absent.  -1: answered. */
static int perf_dim(struct perf *p, const char *name, const char *allowed, enum latency_dim def,
		    enum latency_dim *out)
{
	const char *v = http_query(p->req, name);
	*out = def;
	if (!v || !*v)
		return 0;
	if (latency_dim_parse(v, out) < 0 || !strstr(allowed, latency_dim_name(*out))) {
		http_error(p->req, 400, "bad_request", "invalid %s '%.64s': use %s", name, v, allowed);
		return -1;
	}
	return 0;
}

/* ---- printing ------------------------------------------------------------ */

/* Begin the answer's object with what every answer of this file has. */
static struct json_w *perf_open(struct perf *p)
{
	struct json_w *w = &p->w;
	jw_init(w, http_json(p->req));
	jw_obj_begin(w);
	jw_kuint(w, "from_ms", p->q.from_ns / NS_PER_MS);
	jw_kuint(w, "to_ms", p->q.to_ns / NS_PER_MS);
	jw_kdouble(w, "range_s", (double)p->range_ns / 1e9);
	jw_kuint(w, "resolution_s", p->res_s);
	jw_kstr(w, "source", p->from_spans ? "spans" : "rollups");
	jw_kdouble(w, "error_bound", sketch_error_bound());
	jw_key(w, "counted");
	json_out_counted(w, &p->q);
	json_out_resolved_versions(w, &p->q);
	return w;
}

static void put_quantiles(struct json_w *w, const struct latency_stats *s)
{
	for (size_t i = 0; i < N_QUANTILES; i++)
		jw_kdouble(w, quantile_keys[i], latency_stats_quantile_ms(s, quantiles[i]));
}

/* count, rps, errors, timeouts, error_rate */
static void put_red(struct json_w *w, const struct latency_stats *s, double seconds)
{
	jw_kuint(w, "count", s->count);
	jw_kdouble(w, "rps", seconds > 0 ? (double)s->count / seconds : NAN);
	jw_kuint(w, "errors", s->by_status[REQUEST_ERROR]);
	jw_kuint(w, "timeouts", s->by_status[REQUEST_TIMEOUT]);
	jw_kdouble(w, "error_rate", latency_stats_error_rate(s));
}

/* "by_tier":{...}: exact counts; null for a tier that the duration bounds
 * cut (its count is only part of the tier, and not exact). */
static void put_tiers(struct json_w *w, const struct store_query *q, const struct latency_stats *s)
{
	struct latency_bounds bd;
	latency_bounds_from_query(&bd, q);
	jw_kobj_begin(w, "by_tier");
	for (int t = 0; t < TIER_COUNT; t++) {
		double lo = (double)request_tier_lo_ns[t];
		double hi = t < TIER_CRITICAL ? (double)request_tier_lo_ns[t + 1] : INFINITY;
		int whole = lo >= bd.lo_ns && (bd.hi_ns == 0 || hi <= bd.hi_ns);
		int none = (bd.hi_ns > 0 && lo >= bd.hi_ns) || hi <= bd.lo_ns;
		if (whole || none)
			jw_kuint(w, request_tier_names[t], whole ? s->by_tier[t] : 0);
		else
			jw_knull(w, request_tier_names[t]);
	}
	jw_obj_end(w);
}

static void put_types_object(struct json_w *w, const struct latency_stats *s)
{
	jw_obj_begin(w);
	for (size_t i = 0; i < s->n_types; i++)
		jw_kuint(w, s->types[i].type, s->types[i].count);
	jw_obj_end(w);
}

static void put_times(struct json_w *w, const struct latency_grid *g)
{
	jw_karr_begin(w, "times_ms");
	for (size_t t = 0; t < g->n; t++)
		jw_uint(w, (g->t0_ns + t * g->step_ns) / NS_PER_MS);
	jw_arr_end(w);
}

/* ---- endpoints ----------------------------------------------------------- */

static int get_summary(struct http_request *req)
{
	struct perf p;
	struct latency_stats s;
	latency_stats_init(&s);
	if (perf_begin(req, &p) < 0 || perf_load(&p, LATENCY_BY_NONE) < 0)
		goto out;
	if (latency_summary(&s, p.rows, p.n) < 0) {
		http_error(req, 500, "internal", "counts overflow");
		goto out;
	}
	struct json_w *w = perf_open(&p);
	put_red(w, &s, (double)p.range_ns / 1e9);
	jw_kobj_begin(w, "by_status");
	jw_kuint(w, "success", s.by_status[REQUEST_OK]);
	jw_kuint(w, "error", s.by_status[REQUEST_ERROR]);
	jw_kuint(w, "timeout", s.by_status[REQUEST_TIMEOUT]);
	jw_obj_end(w);
	put_tiers(w, &p.q, &s);
	jw_karr_begin(w, "errors_by_type");
	for (size_t i = 0; i < s.n_types; i++) {
		jw_obj_begin(w);
		jw_kstr(w, "type", s.types[i].type);
		jw_kuint(w, "count", s.types[i].count);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_kdouble(w, "min_ms", latency_stats_min_ms(&s));
	jw_kdouble(w, "mean_ms", latency_stats_mean_ms(&s));
	put_quantiles(w, &s);
	jw_kdouble(w, "max_ms", latency_stats_max_ms(&s));
	jw_obj_end(w);
out:
	latency_stats_release(&s);
	perf_end(&p);
	return HTTP_DONE;
}

static const char *const group_dims =
	"service, endpoint, env, version, department, intent, tool, status, error_type";

static void put_point(struct json_w *w, const struct latency_stats *s, uint64_t t_ns, double step_s)
{
	jw_obj_begin(w);
	jw_kuint(w, "t_ms", t_ns / NS_PER_MS);
	put_red(w, s, step_s);
	jw_key(w, "errors_by_type");
	put_types_object(w, s);
	put_quantiles(w, s);
	jw_kdouble(w, "max_ms", latency_stats_max_ms(s));
	jw_kdouble(w, "mean_ms", latency_stats_mean_ms(s));
	jw_obj_end(w);
}

static int get_timeseries(struct http_request *req)
{
	struct perf p;
	struct latency_grid g;
	struct latency_timeseries ts = {0};
	enum latency_dim by;
	long top;
	if (perf_begin(req, &p) < 0 || perf_grid(&p, &g) < 0 ||
	    perf_dim(&p, "group_by", group_dims, LATENCY_BY_NONE, &by) < 0 ||
	    filters_int(req, "top", 1, 50, 10, &top) < 0 || perf_load(&p, by) < 0)
		goto out;
	if (latency_timeseries_build(&ts, p.rows, p.n, &g, by, (size_t)top) < 0) {
		http_error(req, 500, "internal", "counts overflow");
		goto out;
	}
	struct json_w *w = perf_open(&p);
	double step_s = (double)g.step_ns / 1e9;
	jw_kuint(w, "step_s", g.step_ns / NS_PER_S);
	jw_kstr(w, "group_by", latency_dim_name(by));
	jw_kint(w, "top", top);
	put_times(w, &g);
	jw_karr_begin(w, "series");
	for (size_t i = 0; i < ts.n_series; i++) {
		const struct latency_series *s = &ts.series[i];
		jw_obj_begin(w);
		jw_kstr(w, "key", s->key);
		jw_kbool(w, "other", s->other);
		jw_kuint(w, "count", s->total.count);
		jw_karr_begin(w, "points");
		for (size_t t = 0; t < g.n; t++)
			put_point(w, &s->points[t], g.t0_ns + t * g.step_ns, step_s);
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
out:
	latency_timeseries_release(&ts);
	perf_end(&p);
	return HTTP_DONE;
}

static void put_bins(struct json_w *w, const struct latency_bins *bins, const uint64_t *counts)
{
	jw_karr_begin(w, "bins");
	for (size_t i = 0; i < bins->n; i++) {
		double lo, hi;
		latency_bins_edges(bins, i, &lo, &hi);
		jw_obj_begin(w);
		jw_kdouble(w, "lo_ms", lo / 1e6);
		jw_kdouble(w, "hi_ms", hi / 1e6);
		if (counts)
			jw_kuint(w, "count", counts[i]);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static int get_distribution(struct http_request *req)
{
	struct perf p;
	struct latency_stats s;
	struct latency_bins bins;
	uint64_t *counts = NULL;
	long max_bins;
	latency_stats_init(&s);
	if (perf_begin(req, &p) < 0 || filters_int(req, "bins", 2, 200, 40, &max_bins) < 0 ||
	    perf_load(&p, LATENCY_BY_NONE) < 0)
		goto out;
	if (latency_summary(&s, p.rows, p.n) < 0) {
		http_error(req, 500, "internal", "counts overflow");
		goto out;
	}
	latency_bins_plan(&bins, &s.sketch, (unsigned)(max_bins < 2 ? 2 : max_bins));
	counts = xcalloc(bins.n ? bins.n : 1, sizeof(*counts));
	latency_bins_count(&bins, &s.sketch, counts);
	struct json_w *w = perf_open(&p);
	jw_kuint(w, "count", s.count);
	jw_kdouble(w, "bucket_ratio", latency_bins_ratio(&bins));
	put_bins(w, &bins, counts);
	jw_kdouble(w, "min_ms", latency_stats_min_ms(&s));
	jw_kdouble(w, "mean_ms", latency_stats_mean_ms(&s));
	put_quantiles(w, &s);
	jw_kdouble(w, "max_ms", latency_stats_max_ms(&s));
	jw_obj_end(w);
out:
	free(counts);
	latency_stats_release(&s);
	perf_end(&p);
	return HTTP_DONE;
}

/* "percentiles":{"p50_ms":[...], ...}: each quantile per bucket. */
static void put_percentiles(struct json_w *w, const struct latency_series *s, const struct latency_grid *g)
{
	jw_kobj_begin(w, "percentiles");
	for (size_t i = 0; i < N_QUANTILES; i++) {
		jw_karr_begin(w, quantile_keys[i]);
		for (size_t t = 0; t < g->n; t++)
			jw_double(w, latency_stats_quantile_ms(&s->points[t], quantiles[i]));
		jw_arr_end(w);
	}
	jw_obj_end(w);
}

/* "bins":[...],"counts":[[...], ...]: each bucket's counts in the bins of
 * the whole range. */
static void put_heat_counts(struct json_w *w, const struct latency_series *s, const struct latency_grid *g,
			    long max_bins)
{
	struct latency_bins bins;
	latency_bins_plan(&bins, &s->total.sketch, (unsigned)(max_bins < 2 ? 2 : max_bins));
	put_bins(w, &bins, NULL);
	uint64_t *counts = xmalloc((bins.n ? bins.n : 1) * sizeof(*counts));
	jw_karr_begin(w, "counts");
	for (size_t t = 0; t < g->n; t++) {
		memset(counts, 0, (bins.n ? bins.n : 1) * sizeof(*counts));
		latency_bins_count(&bins, &s->points[t].sketch, counts);
		jw_arr_begin(w);
		for (size_t i = 0; i < bins.n; i++)
			jw_uint(w, counts[i]);
		jw_arr_end(w);
	}
	jw_arr_end(w);
	free(counts);
}

static int get_heatmap(struct http_request *req)
{
	struct perf p;
	struct latency_grid g;
	struct latency_timeseries ts = {0};
	long max_bins;
	const char *kind = http_query(req, "kind");
	int percentile = kind && !strcmp(kind, "percentile");
	if (kind && metrics_heatmap_kind(kind))
		return metrics_heatmap(req, kind);
	if (perf_begin(req, &p) < 0)
		goto out;
	if (kind && *kind && strcmp(kind, "latency") && !percentile) {
		http_error(req, 400, "bad_request",
			   "invalid kind '%.64s': use latency, percentile, cpu, memory, pool or db", kind);
		goto out;
	}
	if (perf_grid(&p, &g) < 0 || filters_int(req, "bins", 2, 200, 30, &max_bins) < 0 ||
	    perf_load(&p, LATENCY_BY_NONE) < 0)
		goto out;
	if (latency_timeseries_build(&ts, p.rows, p.n, &g, LATENCY_BY_NONE, 0) < 0) {
		http_error(req, 500, "internal", "counts overflow");
		goto out;
	}
	const struct latency_series *s = &ts.series[0];
	struct json_w *w = perf_open(&p);
	jw_kstr(w, "kind", percentile ? "percentile" : "latency");
	jw_kuint(w, "step_s", g.step_ns / NS_PER_S);
	jw_kuint(w, "count", s->total.count);
	put_times(w, &g);
	jw_karr_begin(w, "totals");
	for (size_t t = 0; t < g.n; t++)
		jw_uint(w, s->points[t].count);
	jw_arr_end(w);
	if (percentile)
		put_percentiles(w, s, &g);
	else
		put_heat_counts(w, s, &g, max_bins);
	jw_obj_end(w);
out:
	latency_timeseries_release(&ts);
	perf_end(&p);
	return HTTP_DONE;
}

static int get_compare(struct http_request *req)
{
	static const char *const compare_dims = "service, env, version, department, endpoint, tool, intent";
	struct perf p;
	struct latency_grid g;
	struct latency_timeseries ts = {0};
	enum latency_dim by;
	long top;
	if (perf_begin(req, &p) < 0 || perf_dim(&p, "by", compare_dims, LATENCY_BY_SERVICE, &by) < 0 ||
	    perf_grid(&p, &g) < 0 || filters_int(req, "top", 1, 1000, 100, &top) < 0 || perf_load(&p, by) < 0)
		goto out;
	if (latency_timeseries_build(&ts, p.rows, p.n, &g, by, (size_t)top) < 0) {
		http_error(req, 500, "internal", "counts overflow");
		goto out;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < ts.n_series; i++)
		total += ts.series[i].total.count;
	struct json_w *w = perf_open(&p);
	jw_kstr(w, "by", latency_dim_name(by));
	jw_kuint(w, "step_s", g.step_ns / NS_PER_S);
	jw_kuint(w, "count", total);
	put_times(w, &g);
	jw_karr_begin(w, "rows");
	for (size_t i = 0; i < ts.n_series; i++) {
		const struct latency_series *s = &ts.series[i];
		jw_obj_begin(w);
		jw_kstr(w, "key", s->key);
		jw_kbool(w, "other", s->other);
		put_red(w, &s->total, (double)p.range_ns / 1e9);
		jw_kdouble(w, "p50_ms", latency_stats_quantile_ms(&s->total, 0.50));
		jw_kdouble(w, "p95_ms", latency_stats_quantile_ms(&s->total, 0.95));
		jw_kdouble(w, "p99_ms", latency_stats_quantile_ms(&s->total, 0.99));
		jw_kdouble(w, "max_ms", latency_stats_max_ms(&s->total));
		jw_kdouble(w, "mean_ms", latency_stats_mean_ms(&s->total));
		jw_karr_begin(w, "p95_trend_ms");
		for (size_t t = 0; t < g.n; t++)
			jw_double(w, latency_stats_quantile_ms(&s->points[t], 0.95));
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
out:
	latency_timeseries_release(&ts);
	perf_end(&p);
	return HTTP_DONE;
}

/* ---- breakdown ----------------------------------------------------------- */

static void put_breakdown_rows(struct json_w *w, const struct latency_breakdown *bd)
{
	jw_karr_begin(w, "rows");
	for (size_t i = 0; i < bd->n_rows; i++) {
		const struct latency_phase *r = &bd->rows[i];
		jw_obj_begin(w);
		jw_kstr(w, "service", r->service);
		jw_kstr(w, "name", r->name);
		jw_kuint(w, "count", r->count);
		jw_kdouble(w, "total_ms", r->total_ns / 1e6);
		jw_kdouble(w, "avg_ms", bd->requests ? r->total_ns / 1e6 / (double)bd->requests : NAN);
		jw_kdouble(w, "avg_span_ms", r->count ? r->total_ns / 1e6 / (double)r->count : NAN);
		jw_kdouble(w, "share", bd->total_ns > 0 ? r->total_ns / bd->total_ns : NAN);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static int get_breakdown(struct http_request *req)
{
	struct perf p;
	struct request_row *rows;
	size_t n = 0;
	char err[256];
	struct rawrows_spans sp = {0};
	struct latency_breakdown bd = {0};
	if (perf_begin(req, &p) < 0)
		goto out;
	p.from_spans = 1;
	p.q.order = STORE_NEWEST;
	p.q.limit = BREAKDOWN_REQUESTS;
	if (store_search(req->srv->store, &p.q, &req->arena, &rows, &n, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		goto out;
	}
	int rc = rawrows_request_spans(req->srv->store, rows, n, p.ql, &req->arena, &sp, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		goto out;
	}
	latency_breakdown_build(&bd, sp.spans, sp.n);
	struct json_w *w = perf_open(&p);
	jw_kuint(w, "requests", bd.requests);
	jw_kuint(w, "nested", bd.nested);
	jw_kint(w, "limit", BREAKDOWN_REQUESTS);
	jw_kbool(w, "truncated", n >= BREAKDOWN_REQUESTS || sp.truncated);
	jw_kuint(w, "spans", bd.spans);
	jw_kdouble(w, "total_ms", bd.total_ns / 1e6);
	jw_kdouble(w, "avg_request_ms", bd.requests ? bd.total_ns / 1e6 / (double)bd.requests : NAN);
	put_breakdown_rows(w, &bd);
	jw_obj_end(w);
out:
	latency_breakdown_release(&bd);
	free(sp.spans);
	perf_end(&p);
	return HTTP_DONE;
}

/* ---- GET /api/v1/traces?q= ---------------------------------------------- */

static const struct route *plain_traces_route(void)
{
	for (const struct route *r = query_routes; r->path; r++)
		if (!strcmp(r->method, "GET") && !strcmp(r->path, "/api/v1/traces"))
			return r;
	return NULL;
}

static int search_traces(struct http_request *req)
{
	struct spanql *ql = NULL;
	struct store_query q;
	struct request_row *rows = NULL;
	uint8_t *matched = NULL;
	size_t n = 0, want, fetch;
	char err[320];
	const struct route *plain = plain_traces_route();

	if (filters_parse_q(req, &ql, err, sizeof(err)) < 0) {
		bad_request(req, err);
		return HTTP_DONE;
	}
	if (!ql && plain)
		return plain->handle(req);
	if (filters_parse(req, &q, clock_now_ns(), err, sizeof(err)) < 0) {
		bad_request(req, err);
		goto out;
	}
	filters_count_requests(&q, 0);
	want = q.limit;
	fetch = want * 4 < 200 ? 200 : want * 4;
	size_t n_matched = 0;
	for (;;) {
		if (fetch > TRACES_Q_MAX)
			fetch = TRACES_Q_MAX;
		q.limit = (unsigned)fetch;
		if (store_search(req->srv->store, &q, &req->arena, &rows, &n, err, sizeof(err)) < 0)
			goto fail;
		free(matched);
		matched = xmalloc(n ? n : 1);
		int rc = request_rows_match(req->srv->store, ql, rows, n, matched, err, sizeof(err));
		if (rc == ERR_TOO_MUCH) {
			http_error(req, 400, "bad_request", "q=: %s; narrow the range", err);
			goto out;
		}
		if (rc < 0)
			goto fail;
		n_matched = 0;
		for (size_t i = 0; i < n; i++)
			n_matched += matched[i];
		if (n_matched >= want || n < fetch || fetch == TRACES_Q_MAX)
			break;
		fetch *= 4;
	}
	struct json_w w;
	size_t out_n = 0;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_karr_begin(&w, "traces");
	for (size_t i = 0; i < n && out_n < want; i++) {
		if (!matched[i])
			continue;
		out_n++;
		json_out_request(&w, &rows[i]);
	}
	jw_arr_end(&w);
	jw_kuint(&w, "count", out_n);
	jw_kuint(&w, "scanned", n);
	jw_kbool(&w, "truncated", n_matched < want && n == fetch);
	jw_key(&w, "counted");
	json_out_counted(&w, &q);
	json_out_resolved_versions(&w, &q);
	jw_obj_end(&w);
	goto out;
fail:
	http_error(req, 500, "internal", "%s", err);
out:
	free(matched);
	spanql_free(ql);
	return HTTP_DONE;
}

const struct route perf_routes[] = {
	{"GET", "/api/v1/performance/summary", get_summary, NULL, 0},
	{"GET", "/api/v1/performance/timeseries", get_timeseries, NULL, 0},
	{"GET", "/api/v1/performance/distribution", get_distribution, NULL, 0},
	{"GET", "/api/v1/performance/heatmap", get_heatmap, NULL, 0},
	{"GET", "/api/v1/performance/compare", get_compare, NULL, 0},
	{"GET", "/api/v1/performance/breakdown", get_breakdown, NULL, 0},
	{"GET", "/api/v1/traces", search_traces, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
