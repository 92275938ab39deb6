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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "query/dbtime.h"
#include "query/health.h"
#include "query/metrics.h"
#include "server/filters.h"
#include "server/http.h"
#include "server/routes_metrics.h"

static const char *const type_names[] = {"", "gauge", "sum", "histogram"};

/* The common filters and instance=.  -1: the 400 answer is set. */
static int parse_filter(struct http_request *req, struct metrics_filter *f)
{
	struct store_query q;
	if (filters_parse_req(req, &q) < 0)
		return -1;
	memset(f, 0, sizeof(*f));
	f->from_ns = q.from_ns;
	f->to_ns = q.to_ns;
	f->service = q.service;
	f->env = q.env;
	f->version = q.version;
	f->instance = http_query(req, "instance");
	if (f->instance && !*f->instance)
		f->instance = NULL;
	return 0;
}

static void put_str_list(struct buf *b, const char *key, const char *const *v, size_t n)
{
	buf_printf(b, ",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ',');
		buf_put_json_str(b, v[i]);
	}
	buf_putc(b, ']');
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
	struct buf *b = http_json(req);
	buf_printf(b, "{\"from_ms\":%llu,\"to_ms\":%llu,\"metrics\":[",
		   (unsigned long long)(f.from_ns / NS_PER_MS), (unsigned long long)(f.to_ns / NS_PER_MS));
	for (size_t i = 0; i < n; i++) {
		buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
		buf_put_json_str(b, m[i].name);
		buf_puts(b, ",\"unit\":");
		buf_put_json_str(b, m[i].unit ? m[i].unit : "");
		buf_printf(b, ",\"type\":\"%s\",\"temporality\":%s,\"series\":%llu",
			   type_names[m[i].type > 0 && m[i].type <= 3 ? m[i].type : 0],
			   m[i].type == METRIC_GAUGE ? "null"
			   : m[i].delta		     ? "\"delta\""
						     : "\"cumulative\"",
			   (unsigned long long)m[i].series);
		put_str_list(b, "services", m[i].services, m[i].n_services);
		put_str_list(b, "resource_keys", m[i].resource_keys, m[i].n_resource_keys);
		put_str_list(b, "attribute_keys", m[i].attribute_keys, m[i].n_attribute_keys);
		buf_putc(b, '}');
	}
	buf_printf(b, "],\"count\":%zu}", n);
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
 * ,"times_ms":[...],"<lines>":[{"key", "points" if with_points, "values"}]:
 * the steps' times and each line's value at each step.
 */
static void put_times_and_lines(struct buf *b, const struct metrics_answer *ans, const char *lines,
				int with_points)
{
	buf_puts(b, ",\"times_ms\":[");
	for (size_t t = 0; t < ans->n_steps; t++)
		buf_printf(b, "%s%llu", t ? "," : "",
			   (unsigned long long)((ans->t0_ns + t * ans->step_ns) / NS_PER_MS));
	buf_printf(b, "],\"%s\":[", lines);
	for (size_t i = 0; i < ans->n_lines; i++) {
		buf_puts(b, i ? ",{\"key\":" : "{\"key\":");
		if (ans->lines[i].key)
			buf_put_json_str(b, ans->lines[i].key);
		else
			buf_puts(b, "null");
		if (with_points)
			buf_printf(b, ",\"points\":%llu", (unsigned long long)ans->lines[i].points);
		buf_puts(b, ",\"values\":[");
		for (size_t t = 0; t < ans->n_steps; t++) {
			if (t)
				buf_putc(b, ',');
			buf_put_json_double(b, ans->lines[i].values[t]);
		}
		buf_puts(b, "]}");
	}
	buf_putc(b, ']');
}

static void put_answer(struct buf *b, const struct metrics_answer *ans)
{
	buf_printf(b, ",\"step_s\":%llu,\"unit\":", (unsigned long long)(ans->step_ns / NS_PER_S));
	if (ans->unit)
		buf_put_json_str(b, ans->unit);
	else
		buf_puts(b, "null");
	buf_printf(b,
		   ",\"type\":%s%s%s,\"series_read\":%llu,\"points\":%llu,\"resets\":%llu,\"truncated\":%s",
		   ans->type ? "\"" : "", ans->type ? type_names[ans->type] : "null", ans->type ? "\"" : "",
		   (unsigned long long)ans->series, (unsigned long long)ans->points,
		   (unsigned long long)ans->resets, ans->truncated ? "true" : "false");
	put_times_and_lines(b, ans, "lines", 1);
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
	struct buf *b = http_json(req);
	buf_puts(b, "{\"name\":");
	buf_put_json_str(b, r.name ? r.name : resource_measure_names[r.measure]);
	buf_printf(b, ",\"measure\":%s,\"agg\":", r.measure ? "true" : "false");
	buf_put_json_str(b,
			 http_query(req, "agg") && *http_query(req, "agg") ? http_query(req, "agg") : "avg");
	buf_puts(b, ",\"group_by\":");
	if (r.group_by)
		buf_put_json_str(b, r.group_by);
	else
		buf_puts(b, "null");
	buf_printf(b, ",\"from_ms\":%llu,\"to_ms\":%llu", (unsigned long long)(r.f.from_ns / NS_PER_MS),
		   (unsigned long long)(r.f.to_ns / NS_PER_MS));
	put_answer(b, &ans);
	buf_putc(b, '}');
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

static void put_time_of_day(struct buf *b, const struct metrics_answer *ans, int tz)
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
	buf_printf(b, ",\"tz_offset_min\":%d,\"days\":[", tz);
	for (int d = 0; d < 7; d++)
		buf_printf(b, "%s\"%s\"", d ? "," : "", day_names[d]);
	buf_puts(b, "],\"values\":[");
	for (int d = 0; d < 7; d++) {
		buf_puts(b, d ? ",[" : "[");
		for (int h = 0; h < 24; h++) {
			if (h)
				buf_putc(b, ',');
			buf_put_json_double(b, grid[d][h]);
		}
		buf_putc(b, ']');
	}
	buf_putc(b, ']');
}

/* The heatmap's answer from its cells: rows by group, or the hour-of-week fold. */
static void put_heatmap(struct http_request *req, const char *kind, const char *by, int tod, long tz,
			unsigned every, const struct metrics_answer *ans)
{
	struct buf *b = http_json(req);
	buf_printf(b, "{\"kind\":\"%s\",\"by\":\"%s\",\"layout\":\"%s\",\"sample_every\":%u,\"unit\":", kind,
		   by, tod ? "time-of-day" : "time", every);
	buf_put_json_str(b, ans->unit ? ans->unit : "");
	buf_printf(b, ",\"points\":%llu,\"step_s\":%llu", (unsigned long long)ans->points,
		   (unsigned long long)(ans->step_ns / NS_PER_S));
	if (tod) {
		put_time_of_day(b, ans, (int)tz);
		buf_putc(b, '}');
		return;
	}
	double max = NAN;
	for (size_t i = 0; i < ans->n_lines; i++)
		for (size_t t = 0; t < ans->n_steps; t++)
			if (!isnan(ans->lines[i].values[t]) && !(ans->lines[i].values[t] <= max))
				max = ans->lines[i].values[t];
	buf_puts(b, ",\"max\":");
	buf_put_json_double(b, max);
	put_times_and_lines(b, ans, "rows", 0);
	buf_printf(b, ",\"truncated\":%s}", ans->truncated ? "true" : "false");
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

static void put_level(struct buf *b, const struct health_report *h, int i)
{
	buf_printf(b, "%s\"%s\":\"%s\"", i ? "," : "", health_indicator_names[i],
		   health_level_names[h->level[i]]);
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
	struct buf *b = http_json(req);
	buf_printf(b, "{\"status\":\"%s\",\"timestamp\":\"%s\",\"window_s\":%llu,\"performance_metrics\":{",
		   h.status, ts, (unsigned long long)(t.window_ns / NS_PER_S));
	buf_printf(b, "\"requests\":%llu,\"avg_response_time_ms\":", (unsigned long long)h.requests);
	buf_put_json_double(b, h.avg_ms);
	buf_puts(b, ",\"p95_ms\":");
	buf_put_json_double(b, h.p95_ms);
	buf_puts(b, ",\"error_rate\":");
	buf_put_json_double(b, h.error_rate);
	buf_puts(b, ",\"resource_usage\":");
	buf_put_json_double(b, h.resource_usage);
	buf_puts(b, ",\"resource\":");
	if (h.resource_kind) {
		buf_printf(b, "{\"kind\":\"%s\",\"key\":", h.resource_kind);
		if (h.resource_key)
			buf_put_json_str(b, h.resource_key);
		else
			buf_puts(b, "null");
		buf_putc(b, '}');
	} else {
		buf_puts(b, "null");
	}
	buf_puts(b, ",\"slowest_service\":");
	if (h.service) {
		buf_puts(b, "{\"service\":");
		buf_put_json_str(b, h.service);
		buf_puts(b, ",\"p95_ms\":");
		buf_put_json_double(b, h.service_p95_ms);
		buf_putc(b, '}');
	} else {
		buf_puts(b, "null");
	}
	buf_puts(b, "},\"health_indicators\":{");
	for (int i = 0; i < HEALTH_N; i++)
		put_level(b, &h, i);
	buf_puts(b, "},\"thresholds\":");
	health_thresholds_to_json(b, &t);
	buf_puts(b, "}");
	return HTTP_DONE;
}

/* ---- current resources ---------------------------------------------------------- */

void metrics_put_current_resources(struct http_request *req, struct buf *b)
{
	static const enum resource_measure ms[] = {MEASURE_CPU,	       MEASURE_MEMORY,	   MEASURE_HEAP,
						   MEASURE_HEAP_TOTAL, MEASURE_HEAP_LIMIT, MEASURE_POOL_USED,
						   MEASURE_POOL_MAX};
	static const char *const keys[] = {"cpu_cores",	       "memory_bytes",	   "heap_used_bytes",
					   "heap_total_bytes", "heap_limit_bytes", "pool_used",
					   "pool_max"};
	struct metrics_request r;
	char err[256];
	memset(&r, 0, sizeof(r));
	if (parse_filter(req, &r.f) < 0)
		return;
	r.f.from_ns = r.f.to_ns > 300 * NS_PER_S ? r.f.to_ns - 300 * NS_PER_S : 0;
	r.step_ns = r.f.to_ns - r.f.from_ns;
	buf_printf(b, ",\"currentResources\":{\"window_s\":300,\"to_ms\":%llu",
		   (unsigned long long)(r.f.to_ns / NS_PER_MS));
	for (size_t i = 0; i < sizeof(ms) / sizeof(*ms); i++) {
		struct metrics_answer ans;
		r.measure = ms[i];
		double v = NAN;
		if (metrics_query(req->srv->store, &r, &req->arena, &ans, err, sizeof(err)) == 0 &&
		    ans.n_lines)
			v = ans.lines[0].values[ans.n_steps - 1];
		buf_printf(b, ",\"%s\":", keys[i]);
		buf_put_json_double(b, v);
	}
	buf_putc(b, '}');
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
