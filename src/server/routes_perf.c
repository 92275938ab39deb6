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

/* ,"key":number|null */
static void put_field(struct buf *b, const char *key, double d)
{
	buf_printf(b, ",\"%s\":", key);
	buf_put_json_double(b, d);
}

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

static struct buf *perf_open(struct perf *p)
{
	struct buf *b = http_json(p->req);
	buf_printf(b, "{\"from_ms\":%llu,\"to_ms\":%llu,\"range_s\":",
		   (unsigned long long)(p->q.from_ns / NS_PER_MS),
		   (unsigned long long)(p->q.to_ns / NS_PER_MS));
	buf_put_json_double(b, (double)p->range_ns / 1e9);
	buf_printf(b, ",\"resolution_s\":%u,\"source\":\"%s\",\"error_bound\":", p->res_s,
		   p->from_spans ? "spans" : "rollups");
	buf_put_json_double(b, sketch_error_bound());
	buf_puts(b, ",\"counted\":");
	json_put_counted(b, &p->q);
	json_put_resolved_versions(b, &p->q);
	return b;
}

static void put_quantiles(struct buf *b, const struct latency_stats *s)
{
	for (size_t i = 0; i < N_QUANTILES; i++)
		put_field(b, quantile_keys[i], latency_stats_quantile_ms(s, quantiles[i]));
}

/* count, rps, errors, timeouts, error_rate (no leading comma) */
static void put_red(struct buf *b, const struct latency_stats *s, double seconds)
{
	buf_printf(b, "\"count\":%llu", (unsigned long long)s->count);
	put_field(b, "rps", seconds > 0 ? (double)s->count / seconds : NAN);
	buf_printf(b, ",\"errors\":%llu,\"timeouts\":%llu", (unsigned long long)s->by_status[REQUEST_ERROR],
		   (unsigned long long)s->by_status[REQUEST_TIMEOUT]);
	put_field(b, "error_rate", latency_stats_error_rate(s));
}

/* ,"by_tier":{...}: exact counts; null for a tier that the duration bounds
 * cut (its count is only part of the tier, and not exact). */
static void put_tiers(struct buf *b, const struct store_query *q, const struct latency_stats *s)
{
	struct latency_bounds bd;
	latency_bounds_from_query(&bd, q);
	buf_puts(b, ",\"by_tier\":{");
	for (int t = 0; t < TIER_COUNT; t++) {
		double lo = (double)request_tier_lo_ns[t];
		double hi = t < TIER_CRITICAL ? (double)request_tier_lo_ns[t + 1] : INFINITY;
		int whole = lo >= bd.lo_ns && (bd.hi_ns == 0 || hi <= bd.hi_ns);
		int none = (bd.hi_ns > 0 && lo >= bd.hi_ns) || hi <= bd.lo_ns;
		buf_printf(b, "%s\"%s\":", t ? "," : "", request_tier_names[t]);
		if (whole || none)
			buf_printf(b, "%llu", (unsigned long long)(whole ? s->by_tier[t] : 0));
		else
			buf_puts(b, "null");
	}
	buf_putc(b, '}');
}

static void put_types_object(struct buf *b, const struct latency_stats *s)
{
	buf_putc(b, '{');
	for (size_t i = 0; i < s->n_types; i++) {
		if (i)
			buf_putc(b, ',');
		buf_put_json_str(b, s->types[i].type);
		buf_printf(b, ":%llu", (unsigned long long)s->types[i].count);
	}
	buf_putc(b, '}');
}

static void put_times(struct buf *b, const struct latency_grid *g)
{
	buf_puts(b, ",\"times_ms\":[");
	for (size_t t = 0; t < g->n; t++)
		buf_printf(b, "%s%llu", t ? "," : "",
			   (unsigned long long)((g->t0_ns + t * g->step_ns) / NS_PER_MS));
	buf_putc(b, ']');
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
	struct buf *b = perf_open(&p);
	buf_putc(b, ',');
	put_red(b, &s, (double)p.range_ns / 1e9);
	buf_printf(b, ",\"by_status\":{\"success\":%llu,\"error\":%llu,\"timeout\":%llu}",
		   (unsigned long long)s.by_status[REQUEST_OK],
		   (unsigned long long)s.by_status[REQUEST_ERROR],
		   (unsigned long long)s.by_status[REQUEST_TIMEOUT]);
	put_tiers(b, &p.q, &s);
	buf_puts(b, ",\"errors_by_type\":[");
	for (size_t i = 0; i < s.n_types; i++) {
		buf_puts(b, i ? ",{\"type\":" : "{\"type\":");
		buf_put_json_str(b, s.types[i].type);
		buf_printf(b, ",\"count\":%llu}", (unsigned long long)s.types[i].count);
	}
	buf_putc(b, ']');
	put_field(b, "min_ms", latency_stats_min_ms(&s));
	put_field(b, "mean_ms", latency_stats_mean_ms(&s));
	put_quantiles(b, &s);
	put_field(b, "max_ms", latency_stats_max_ms(&s));
	buf_putc(b, '}');
out:
	latency_stats_release(&s);
	perf_end(&p);
	return HTTP_DONE;
}

static const char *const group_dims =
	"service, endpoint, env, version, department, intent, tool, status, error_type";

static void put_point(struct buf *b, const struct latency_stats *s, uint64_t t_ns, double step_s)
{
	buf_printf(b, "{\"t_ms\":%llu,", (unsigned long long)(t_ns / NS_PER_MS));
	put_red(b, s, step_s);
	buf_puts(b, ",\"errors_by_type\":");
	put_types_object(b, s);
	put_quantiles(b, s);
	put_field(b, "max_ms", latency_stats_max_ms(s));
	put_field(b, "mean_ms", latency_stats_mean_ms(s));
	buf_putc(b, '}');
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
	struct buf *b = perf_open(&p);
	double step_s = (double)g.step_ns / 1e9;
	buf_printf(b, ",\"step_s\":%llu,\"group_by\":", (unsigned long long)(g.step_ns / NS_PER_S));
	json_put_str_or_null(b, latency_dim_name(by));
	buf_printf(b, ",\"top\":%ld", top);
	put_times(b, &g);
	buf_puts(b, ",\"series\":[");
	for (size_t i = 0; i < ts.n_series; i++) {
		const struct latency_series *s = &ts.series[i];
		buf_puts(b, i ? ",{\"key\":" : "{\"key\":");
		json_put_str_or_null(b, s->key);
		buf_printf(b, ",\"other\":%s,\"count\":%llu,\"points\":[", s->other ? "true" : "false",
			   (unsigned long long)s->total.count);
		for (size_t t = 0; t < g.n; t++) {
			if (t)
				buf_putc(b, ',');
			put_point(b, &s->points[t], g.t0_ns + t * g.step_ns, step_s);
		}
		buf_puts(b, "]}");
	}
	buf_puts(b, "]}");
out:
	latency_timeseries_release(&ts);
	perf_end(&p);
	return HTTP_DONE;
}

static void put_bins(struct buf *b, const struct latency_bins *bins, const uint64_t *counts)
{
	buf_puts(b, ",\"bins\":[");
	for (size_t i = 0; i < bins->n; i++) {
		double lo, hi;
		latency_bins_edges(bins, i, &lo, &hi);
		buf_puts(b, i ? ",{\"lo_ms\":" : "{\"lo_ms\":");
		buf_put_json_double(b, lo / 1e6);
		buf_puts(b, ",\"hi_ms\":");
		buf_put_json_double(b, hi / 1e6);
		if (counts)
			buf_printf(b, ",\"count\":%llu", (unsigned long long)counts[i]);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
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
	struct buf *b = perf_open(&p);
	buf_printf(b, ",\"count\":%llu", (unsigned long long)s.count);
	put_field(b, "bucket_ratio", latency_bins_ratio(&bins));
	put_bins(b, &bins, counts);
	put_field(b, "min_ms", latency_stats_min_ms(&s));
	put_field(b, "mean_ms", latency_stats_mean_ms(&s));
	put_quantiles(b, &s);
	put_field(b, "max_ms", latency_stats_max_ms(&s));
	buf_putc(b, '}');
out:
	free(counts);
	latency_stats_release(&s);
	perf_end(&p);
	return HTTP_DONE;
}

static int get_heatmap(struct http_request *req)
{
	struct perf p;
	struct latency_grid g;
	struct latency_timeseries ts = {0};
	uint64_t *counts = NULL;
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
	struct buf *b = perf_open(&p);
	buf_printf(b, ",\"kind\":\"%s\",\"step_s\":%llu,\"count\":%llu",
		   percentile ? "percentile" : "latency", (unsigned long long)(g.step_ns / NS_PER_S),
		   (unsigned long long)s->total.count);
	put_times(b, &g);
	buf_puts(b, ",\"totals\":[");
	for (size_t t = 0; t < g.n; t++)
		buf_printf(b, "%s%llu", t ? "," : "", (unsigned long long)s->points[t].count);
	buf_putc(b, ']');
	if (percentile) {
		buf_puts(b, ",\"percentiles\":{");
		for (size_t i = 0; i < N_QUANTILES; i++) {
			buf_printf(b, "%s\"%s\":[", i ? "," : "", quantile_keys[i]);
			for (size_t t = 0; t < g.n; t++) {
				if (t)
					buf_putc(b, ',');
				buf_put_json_double(b,
						    latency_stats_quantile_ms(&s->points[t], quantiles[i]));
			}
			buf_putc(b, ']');
		}
		buf_puts(b, "}}");
		goto out;
	}
	struct latency_bins bins;
	latency_bins_plan(&bins, &s->total.sketch, (unsigned)(max_bins < 2 ? 2 : max_bins));
	put_bins(b, &bins, NULL);
	counts = xmalloc((bins.n ? bins.n : 1) * sizeof(*counts));
	buf_puts(b, ",\"counts\":[");
	for (size_t t = 0; t < g.n; t++) {
		memset(counts, 0, (bins.n ? bins.n : 1) * sizeof(*counts));
		latency_bins_count(&bins, &s->points[t].sketch, counts);
		buf_puts(b, t ? ",[" : "[");
		for (size_t i = 0; i < bins.n; i++)
			buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)counts[i]);
		buf_putc(b, ']');
	}
	buf_puts(b, "]}");
out:
	free(counts);
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
	struct buf *b = perf_open(&p);
	buf_printf(b, ",\"by\":\"%s\",\"step_s\":%llu,\"count\":%llu", latency_dim_name(by),
		   (unsigned long long)(g.step_ns / NS_PER_S), (unsigned long long)total);
	put_times(b, &g);
	buf_puts(b, ",\"rows\":[");
	for (size_t i = 0; i < ts.n_series; i++) {
		const struct latency_series *s = &ts.series[i];
		buf_puts(b, i ? ",{\"key\":" : "{\"key\":");
		json_put_str_or_null(b, s->key);
		buf_printf(b, ",\"other\":%s,", s->other ? "true" : "false");
		put_red(b, &s->total, (double)p.range_ns / 1e9);
		put_field(b, "p50_ms", latency_stats_quantile_ms(&s->total, 0.50));
		put_field(b, "p95_ms", latency_stats_quantile_ms(&s->total, 0.95));
		put_field(b, "p99_ms", latency_stats_quantile_ms(&s->total, 0.99));
		put_field(b, "max_ms", latency_stats_max_ms(&s->total));
		put_field(b, "mean_ms", latency_stats_mean_ms(&s->total));
		buf_puts(b, ",\"p95_trend_ms\":[");
		for (size_t t = 0; t < g.n; t++) {
			if (t)
				buf_putc(b, ',');
			buf_put_json_double(b, latency_stats_quantile_ms(&s->points[t], 0.95));
		}
		buf_puts(b, "]}");
	}
	buf_puts(b, "]}");
out:
	latency_timeseries_release(&ts);
	perf_end(&p);
	return HTTP_DONE;
}

/* ---- breakdown ----------------------------------------------------------- */

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
	struct buf *b = perf_open(&p);
	buf_printf(b, ",\"requests\":%zu,\"nested\":%zu,\"limit\":%d,\"truncated\":%s,\"spans\":%zu",
		   bd.requests, bd.nested, BREAKDOWN_REQUESTS,
		   n >= BREAKDOWN_REQUESTS || sp.truncated ? "true" : "false", bd.spans);
	put_field(b, "total_ms", bd.total_ns / 1e6);
	put_field(b, "avg_request_ms", bd.requests ? bd.total_ns / 1e6 / (double)bd.requests : NAN);
	buf_puts(b, ",\"rows\":[");
	for (size_t i = 0; i < bd.n_rows; i++) {
		const struct latency_phase *r = &bd.rows[i];
		buf_puts(b, i ? ",{\"service\":" : "{\"service\":");
		buf_put_json_str(b, r->service);
		buf_puts(b, ",\"name\":");
		buf_put_json_str(b, r->name);
		buf_printf(b, ",\"count\":%llu", (unsigned long long)r->count);
		put_field(b, "total_ms", r->total_ns / 1e6);
		put_field(b, "avg_ms", bd.requests ? r->total_ns / 1e6 / (double)bd.requests : NAN);
		put_field(b, "avg_span_ms", r->count ? r->total_ns / 1e6 / (double)r->count : NAN);
		put_field(b, "share", bd.total_ns > 0 ? r->total_ns / bd.total_ns : NAN);
		buf_putc(b, '}');
	}
	buf_puts(b, "]}");
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
	struct buf *b = http_json(req);
	size_t out_n = 0;
	buf_puts(b, "{\"traces\":[");
	for (size_t i = 0; i < n && out_n < want; i++) {
		if (!matched[i])
			continue;
		if (out_n++)
			buf_putc(b, ',');
		json_put_request(b, &rows[i]);
	}
	buf_printf(b, "],\"count\":%zu,\"scanned\":%zu,\"truncated\":%s,\"counted\":", out_n, n,
		   n_matched < want && n == fetch ? "true" : "false");
	json_put_counted(b, &q);
	json_put_resolved_versions(b, &q);
	buf_putc(b, '}');
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
