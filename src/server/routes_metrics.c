/*
 * routes_metrics.c - metrics read back (docs/API.md): GET /api/v1/metrics
 * (the series list), GET /api/v1/metrics/query (time series of one metric
 * or resource measure), and the resource kinds of GET
 * /api/v1/performance/heatmap (cpu, memory, pool; routes_perf.c hands them
 * here), GET /health/performance and its thresholds
 * (/api/v1/health/thresholds: GET, PUT, DELETE), and the current resources
 * of the slow-operation statistics.
 *
 * Owns parsing these requests and printing the answers; the reading and
 * the arithmetic are query/metrics.h's.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/json_write.h"
#include "query/dbtime.h"
#include "query/health.h"
#include "query/metrics.h"
#include "server/filters.h"
#include "server/http.h"
#include "server/routes_metrics.h"

static const char *const type_names[] = {"", "gauge", "sum", "histogram"};

/* The common filters and instance=.  -1: the 400 answer is set. */
static void filter_of(struct http_request *req, const struct store_query *q, struct metrics_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->from_ns = q->from_ns;
	f->to_ns = q->to_ns;
	f->service = q->service;
	f->env = q->env;
	f->version = q->version;
	f->instance = http_query(req, "instance");
	if (f->instance && !*f->instance)
		f->instance = NULL;
}

static int parse_filter(struct http_request *req, struct metrics_filter *f)
{
	struct store_query q;
	if (filters_parse_req(req, &q) < 0)
		return -1;
	filter_of(req, &q, f);
	return 0;
}

static void put_str_list(struct json_w *w, const char *key, const char *const *v, size_t n)
{
	jw_karr_begin(w, key);
	for (size_t i = 0; i < n; i++)
		jw_str(w, v[i]);
	jw_arr_end(w);
}

static int get_metrics(struct http_request *req)
{
	struct metrics_filter f;
	struct metrics_name *m;
	size_t n;
	char err[320];
	if (parse_filter(req, &f) < 0)
		return HTTP_DONE;
	int rc = metrics_list(req->srv->store, &f, http_query(req, "prefix"), &req->arena, &m, &n, err,
			      sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kuint(&w, "from_ms", f.from_ns / NS_PER_MS);
	jw_kuint(&w, "to_ms", f.to_ns / NS_PER_MS);
	jw_karr_begin(&w, "metrics");
	for (size_t i = 0; i < n; i++) {
		jw_obj_begin(&w);
		jw_kstr(&w, "name", m[i].name);
		jw_kstr(&w, "unit", m[i].unit ? m[i].unit : "");
		jw_kstr(&w, "type", type_names[m[i].type > 0 && m[i].type <= 3 ? m[i].type : 0]);
		jw_kstr(&w, "temporality",
			m[i].type == METRIC_GAUGE ? NULL
			: m[i].delta		  ? "delta"
						  : "cumulative");
		jw_kuint(&w, "series", m[i].series);
		put_str_list(&w, "services", m[i].services, m[i].n_services);
		put_str_list(&w, "resource_keys", m[i].resource_keys, m[i].n_resource_keys);
		put_str_list(&w, "attribute_keys", m[i].attribute_keys, m[i].n_attribute_keys);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_kuint(&w, "count", n);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* step= ("60s", "5m", "1h"), else one for the range. -1: the 400 answer is set. */
static int parse_step(struct http_request *req, const struct metrics_filter *f, uint64_t *step)
{
	const char *s = http_query(req, "step");
	if (!s || !*s) {
		*step = metrics_default_step(f->to_ns - f->from_ns);
		return 0;
	}
	if (filters_parse_range(s, step) < 0 || *step < NS_PER_S) {
		http_error(req, 400, "bad_request",
			   "invalid step '%.32s': want a duration of 1s or more like 60s, 5m, 1h", s);
		return -1;
	}
	return 0;
}

/*
 * "times_ms":[...],"<lines>":[{"key", "points" if with_points, "values"}]:
 * the steps' times and each line's value at each step.
 */
static void put_times_and_lines(struct json_w *w, const struct metrics_answer *ans, const char *lines,
				int with_points)
{
	jw_karr_begin(w, "times_ms");
	for (size_t t = 0; t < ans->n_steps; t++)
		jw_uint(w, (ans->t0_ns + t * ans->step_ns) / NS_PER_MS);
	jw_arr_end(w);
	jw_karr_begin(w, lines);
	for (size_t i = 0; i < ans->n_lines; i++) {
		jw_obj_begin(w);
		jw_kstr(w, "key", ans->lines[i].key);
		if (with_points)
			jw_kuint(w, "points", ans->lines[i].points);
		jw_karr_begin(w, "values");
		for (size_t t = 0; t < ans->n_steps; t++)
			jw_double(w, ans->lines[i].values[t]);
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void put_answer(struct json_w *w, const struct metrics_answer *ans)
{
	jw_kuint(w, "step_s", ans->step_ns / NS_PER_S);
	jw_kstr(w, "unit", ans->unit);
	jw_kstr(w, "type", ans->type ? type_names[ans->type] : NULL);
	jw_kuint(w, "series_read", ans->series);
	jw_kuint(w, "points", ans->points);
	jw_kuint(w, "resets", ans->resets);
	jw_kbool(w, "truncated", ans->truncated);
	put_times_and_lines(w, ans, "lines", 1);
}

/* name= or measure=, agg=, group_by=.  -1: the 400 answer is set. */
static int parse_request(struct http_request *req, struct metrics_request *r)
{
	const char *name = http_query(req, "name"), *measure = http_query(req, "measure");
	const char *agg = http_query(req, "agg");
	r->name = name && *name ? name : NULL;
	if (measure && *measure) {
		r->measure = resource_measure_by_name(measure);
		if (!r->measure) {
			http_error(req, 400, "bad_request",
				   "invalid measure '%.64s': use cpu, host_cpu, memory, host_memory, heap, "
				   "heap_limit, loop_delay, gc_pause, pool_used, pool_idle, pool_max, "
				   "pool_pending "
				   "or pool_wait",
				   measure);
			return -1;
		}
	}
	if (!r->name == !r->measure) {
		http_error(
			req, 400, "bad_request",
			"name or measure is required (one of them): a metric name from GET /api/v1/metrics, "
			"or a resource measure");
		return -1;
	}
	if (agg && *agg && metrics_agg_parse(agg, &r->agg, &r->quantile) < 0) {
		http_error(req, 400, "bad_request",
			   "invalid agg '%.32s': use avg, max, min, sum, rate or a percentile "
			   "like p95",
			   agg);
		return -1;
	}
	r->group_by = http_query(req, "group_by");
	if (r->group_by && !*r->group_by)
		r->group_by = NULL;
	return 0;
}

static int get_metrics_query(struct http_request *req)
{
	struct metrics_request r;
	struct metrics_answer ans;
	char err[320];
	memset(&r, 0, sizeof(r));
	if (parse_filter(req, &r.f) < 0 || parse_request(req, &r) < 0 ||
	    parse_step(req, &r.f, &r.step_ns) < 0)
		return HTTP_DONE;
	int rc = metrics_query(req->srv->store, &r, &req->arena, &ans, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	const char *agg = http_query(req, "agg");
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kstr(&w, "name", r.name ? r.name : resource_measure_names[r.measure]);
	jw_kbool(&w, "measure", r.measure);
	jw_kstr(&w, "agg", agg && *agg ? agg : "avg");
	jw_kstr(&w, "group_by", r.group_by);
	jw_kuint(&w, "from_ms", r.f.from_ns / NS_PER_MS);
	jw_kuint(&w, "to_ms", r.f.to_ns / NS_PER_MS);
	put_answer(&w, &ans);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* ---- heatmaps of resources ------------------------------------------------------ */

static const char *const day_names[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

int metrics_heatmap_kind(const char *kind)
{
	return !strcmp(kind, "cpu") || !strcmp(kind, "memory") || !strcmp(kind, "pool") ||
	       !strcmp(kind, "db");
}

/* by=: which groups are rows.  NULL: the 400 answer is set. */
static const char *parse_by(struct http_request *req, const char *kind)
{
	static const char *const ok[] = {"service", "instance", "host", "pool", "env", "version", "none"};
	const char *by = http_query(req, "by");
	if (!strcmp(kind, "db")) {
		if (!by || !*by || !strcmp(by, "db"))
			return "db";
		if (!strcmp(by, "statement"))
			return "statement";
		http_error(req, 400, "bad_request", "invalid by '%.32s' for kind=db: use db or statement",
			   by);
		return NULL;
	}
	if (!by || !*by)
		return !strcmp(kind, "pool") ? "pool" : "instance";
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
		if (!strcmp(by, ok[i]))
			return ok[i];
	http_error(req, 400, "bad_request",
		   "invalid by '%.32s': use service, instance, host, pool, env, version or none", by);
	return NULL;
}

/* The pool kind's cells: used / max where the pool's maximum is known, else NAN. */
static void pool_usage(struct metrics_answer *used, const struct metrics_answer *max)
{
	for (size_t i = 0; i < used->n_lines; i++) {
		const struct metrics_line *m = NULL;
		for (size_t j = 0; j < max->n_lines && !m; j++)
			if ((!used->lines[i].key && !max->lines[j].key) ||
			    (used->lines[i].key && max->lines[j].key &&
			     !strcmp(used->lines[i].key, max->lines[j].key)))
				m = &max->lines[j];
		for (size_t t = 0; t < used->n_steps; t++)
			used->lines[i].values[t] =
				m && m->values[t] > 0 ? used->lines[i].values[t] / m->values[t] : NAN;
	}
	used->unit = "1";
}

static void put_time_of_day(struct json_w *w, const struct metrics_answer *ans, int tz)
{
	double *total = calloc(ans->n_steps ? ans->n_steps : 1, sizeof(double)), grid[7][24];
	if (!total)
		return;
	for (size_t t = 0; t < ans->n_steps; t++) {
		double sum = 0, n = 0;
		for (size_t i = 0; i < ans->n_lines; i++)
			if (!isnan(ans->lines[i].values[t]))
				sum += ans->lines[i].values[t], n++;
		total[t] = n ? sum : NAN;
	}
	metrics_time_of_day(total, ans->n_steps, ans->t0_ns, ans->step_ns, tz, grid);
	free(total);
	jw_kint(w, "tz_offset_min", tz);
	jw_karr_begin(w, "days");
	for (int d = 0; d < 7; d++)
		jw_str(w, day_names[d]);
	jw_arr_end(w);
	jw_karr_begin(w, "values");
	for (int d = 0; d < 7; d++) {
		jw_arr_begin(w);
		for (int h = 0; h < 24; h++)
			jw_double(w, grid[d][h]);
		jw_arr_end(w);
	}
	jw_arr_end(w);
}

/* The heatmap's answer from its cells: rows by group, or the hour-of-week fold. */
static void put_heatmap(struct http_request *req, const char *kind, const char *by, int tod, long tz,
			unsigned every, const struct metrics_answer *ans)
{
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kstr(&w, "kind", kind);
	jw_kstr(&w, "by", by);
	jw_kstr(&w, "layout", tod ? "time-of-day" : "time");
	jw_kuint(&w, "sample_every", every);
	jw_kstr(&w, "unit", ans->unit ? ans->unit : "");
	jw_kuint(&w, "points", ans->points);
	jw_kuint(&w, "step_s", ans->step_ns / NS_PER_S);
	if (tod) {
		put_time_of_day(&w, ans, (int)tz);
		jw_obj_end(&w);
		return;
	}
	double max = NAN;
	for (size_t i = 0; i < ans->n_lines; i++)
		for (size_t t = 0; t < ans->n_steps; t++)
			if (!isnan(ans->lines[i].values[t]) && !(ans->lines[i].values[t] <= max))
				max = ans->lines[i].values[t];
	jw_kdouble(&w, "max", max);
	put_times_and_lines(&w, ans, "rows", 0);
	jw_kbool(&w, "truncated", ans->truncated);
	jw_obj_end(&w);
}

int metrics_heatmap(struct http_request *req, const char *kind)
{
	struct metrics_request r;
	struct metrics_answer ans, max;
	char err[320];
	long tz;
	const char *layout = http_query(req, "layout"), *by;
	int tod = layout && !strcmp(layout, "time-of-day");
	memset(&r, 0, sizeof(r));
	if (layout && *layout && !tod && strcmp(layout, "time")) {
		http_error(req, 400, "bad_request", "invalid layout '%.32s': use time or time-of-day",
			   layout);
		return HTTP_DONE;
	}
	if (parse_filter(req, &r.f) < 0 || !(by = parse_by(req, kind)) ||
	    filters_int(req, "tz_offset_min", -840, 840, 0, &tz) < 0 || parse_step(req, &r.f, &r.step_ns) < 0)
		return HTTP_DONE;
	if (tod) /* hours of the week: an hour a step */
		r.step_ns = 3600 * NS_PER_S;
	r.group_by = tod || !strcmp(by, "none") ? NULL : by;
	if (!strcmp(kind, "db")) {
		struct dbtime_request dr = {
			.f = r.f, .step_ns = r.step_ns, .by_statement = !strcmp(by, "statement")};
		int rc = dbtime_query(req->srv->store, &dr, &req->arena, &ans, err, sizeof(err));
		if (rc < 0)
			http_error_class(req, rc, "%s", err);
		else
			put_heatmap(req, kind, by, tod, tz, dr.every, &ans);
		return HTTP_DONE;
	}
	r.measure = !strcmp(kind, "cpu")      ? MEASURE_CPU
		    : !strcmp(kind, "memory") ? MEASURE_MEMORY
					      : MEASURE_POOL_USED;
	int rc = metrics_query(req->srv->store, &r, &req->arena, &ans, err, sizeof(err));
	if (rc == 0 && r.measure == MEASURE_POOL_USED) {
		r.measure = MEASURE_POOL_MAX;
		rc = metrics_query(req->srv->store, &r, &req->arena, &max, err, sizeof(err));
		if (rc == 0)
			pool_usage(&ans, &max);
	}
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	put_heatmap(req, kind, by, tod, tz, 1, &ans);
	return HTTP_DONE;
}

/* ---- health ------------------------------------------------------------------- */

static void reply_health_thresholds(struct http_request *req, const struct health_thresholds *t)
{
	struct buf *b = http_json(req);
	health_thresholds_to_json(b, t);
}

static int get_health_thresholds(struct http_request *req)
{
	struct health_thresholds t;
	char err[256];
	if (health_thresholds_effective(req->srv->store, &t, err, sizeof(err)) < 0)
		http_error(req, 500, "internal", "%s", err);
	else
		reply_health_thresholds(req, &t);
	return HTTP_DONE;
}

static int store_health_thresholds(struct http_request *req, const char *json)
{
	struct health_thresholds t;
	char err[256];
	health_thresholds_init(&t);
	if (health_thresholds_parse(&t, json, strlen(json), err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "%s", err);
		return HTTP_DONE;
	}
	struct store_record rec = {HEALTH_DOC_KIND, HEALTH_DOC_ID, clock_now_ns(), json};
	int rc = store_put_doc(req->srv->store, &rec, err, sizeof(err));
	if (rc < 0)
		http_error_class(req, rc, "%s", err); /* 503 on a read-only store */
	else
		reply_health_thresholds(req, &t);
	return HTTP_DONE;
}

static int put_health_thresholds(struct http_request *req)
{
	if (req->body_too_large) {
		http_error(req, 413, "payload_too_large", "body: too large");
		return HTTP_DONE;
	}
	if (buf_putc(&req->body, '\0') < 0) {
		http_error(req, 500, "internal", "out of memory");
		return HTTP_DONE;
	}
	return store_health_thresholds(req, req->body.data);
}

static int delete_health_thresholds(struct http_request *req)
{
	return store_health_thresholds(req, "{}");
}

/* "resource":{"kind","key"}|null and "slowest_service":{...}|null */
static void put_health_worst(struct json_w *w, const struct health_report *h)
{
	jw_key(w, "resource");
	if (h->resource_kind) {
		jw_obj_begin(w);
		jw_kstr(w, "kind", h->resource_kind);
		jw_kstr(w, "key", h->resource_key);
		jw_obj_end(w);
	} else {
		jw_null(w);
	}
	jw_key(w, "slowest_service");
	if (h->service) {
		jw_obj_begin(w);
		jw_kstr(w, "service", h->service);
		jw_kdouble(w, "p95_ms", h->service_p95_ms);
		jw_obj_end(w);
	} else {
		jw_null(w);
	}
}

static int get_health(struct http_request *req)
{
	struct health_thresholds t;
	struct health_report h;
	char err[320], ts[40];
	int rc = health_thresholds_effective(req->srv->store, &t, err, sizeof(err));
	uint64_t now = clock_now_ns();
	if (rc == 0)
		rc = health_compute(req->srv->store, now, &t, &req->arena, &h, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	time_t secs = (time_t)(now / NS_PER_S);
	struct tm tm;
	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kstr(&w, "status", h.status);
	jw_kstr(&w, "timestamp", ts);
	jw_kuint(&w, "window_s", t.window_ns / NS_PER_S);
	jw_kobj_begin(&w, "performance_metrics");
	jw_kuint(&w, "requests", h.requests);
	jw_kdouble(&w, "avg_response_time_ms", h.avg_ms);
	jw_kdouble(&w, "p95_ms", h.p95_ms);
	jw_kdouble(&w, "error_rate", h.error_rate);
	jw_kdouble(&w, "resource_usage", h.resource_usage);
	put_health_worst(&w, &h);
	jw_obj_end(&w);
	jw_kobj_begin(&w, "health_indicators");
	for (int i = 0; i < HEALTH_N; i++)
		jw_kstr(&w, health_indicator_names[i], health_level_names[h.level[i]]);
	jw_obj_end(&w);
	jw_key(&w, "thresholds");
	struct buf *b = jw_value_buf(&w);
	if (b)
		health_thresholds_to_json(b, &t);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* ---- current resources ---------------------------------------------------------- */

void metrics_put_current_resources(struct http_request *req, struct json_w *w)
{
	static const enum resource_measure ms[] = {MEASURE_CPU,	       MEASURE_MEMORY,	   MEASURE_HEAP,
						   MEASURE_HEAP_TOTAL, MEASURE_HEAP_LIMIT, MEASURE_POOL_USED,
						   MEASURE_POOL_MAX};
	static const char *const keys[] = {"cpu_cores",	       "memory_bytes",	   "heap_used_bytes",
					   "heap_total_bytes", "heap_limit_bytes", "pool_used",
					   "pool_max"};
	struct metrics_request r;
	char err[256];
	struct store_query q;
	memset(&r, 0, sizeof(r));
	/* the caller has judged the filters (its own limits among them): no
	 * answer of an error here, in the middle of its answer */
	if (filters_parse_prefixed(req, "", UINT_MAX, &q, clock_now_ns(), err, sizeof(err)) < 0)
		return;
	filter_of(req, &q, &r.f);
	r.f.from_ns = r.f.to_ns > 300 * NS_PER_S ? r.f.to_ns - 300 * NS_PER_S : 0;
	r.step_ns = r.f.to_ns - r.f.from_ns;
	jw_kobj_begin(w, "currentResources");
	jw_kuint(w, "window_s", 300);
	jw_kuint(w, "to_ms", r.f.to_ns / NS_PER_MS);
	for (size_t i = 0; i < sizeof(ms) / sizeof(*ms); i++) {
		struct metrics_answer ans;
		r.measure = ms[i];
		double v = NAN;
		if (metrics_query(req->srv->store, &r, &req->arena, &ans, err, sizeof(err)) == 0 &&
		    ans.n_lines)
			v = ans.lines[0].values[ans.n_steps - 1];
		jw_kdouble(w, keys[i], v);
	}
	jw_obj_end(w);
}

const struct route metrics_routes[] = {
	{"GET", "/api/v1/metrics", get_metrics, NULL, 0},
	{"GET", "/api/v1/metrics/query", get_metrics_query, NULL, 0},
	{"GET", "/health/performance", get_health, NULL, 0},
	{"GET", "/api/v1/health/thresholds", get_health_thresholds, NULL, 0},
	{"PUT", "/api/v1/health/thresholds", put_health_thresholds, NULL, 1},
	{"DELETE", "/api/v1/health/thresholds", delete_health_thresholds, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
