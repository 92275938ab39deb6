/*
 * routes_fleet.c - how the parts of the fleet compare and where they head:
 * environment parity (GET /api/v1/parity), throughput against capacity
 * with a forecast (GET, POST /api/v1/capacity), and error patterns with
 * anomalies (GET /api/v1/errors/patterns).
 *
 * Owns parsing and the JSON shapes of docs/API.md.  The data comes from
 * src/query/changes.h, the statistics from src/analyze/abtest.h,
 * forecast.h and changepoint.h (the median/MAD baseline).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/abtest.h"
#include "analyze/changepoint.h"
#include "analyze/forecast.h"
#include "core/clock.h"
#include "query/changes.h"
#include "server/filters.h"
#include "server/http.h"
#include "server/json_out.h"
#include "server/routes_change.h"

#define CAPACITY_KIND "capacity"
/* Requests sampled per service and environment for parity. */
#define PARITY_SAMPLE	2000
#define PARITY_MAX_ENVS 16
/* A production p95 this much above another environment's is a gap. */
#define PARITY_GAP 0.10

static int parse_filters(struct http_request *req, struct store_query *q)
{
	if (filters_parse_req(req, q) < 0)
		return -1;
	filters_count_requests(q, 1);
	return 0;
}

/* The services to answer for: q's, or every one seen in its range. */
static int services_of(struct http_request *req, const struct store_query *q, const char ***out, size_t *n)
{
	char err[256];
	if (q->service) {
		*out = arena_alloc(&req->arena, sizeof(char *));
		(*out)[0] = q->service;
		*n = 1;
		return 0;
	}
	if (store_values(req->srv->store, DICT_SERVICE, q->from_ns, q->to_ns, &req->arena, out, n, err,
			 sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return -1;
	}
	return 0;
}

/* ---- parity ---------------------------------------------------------------- */

struct env_side {
	const char *env;
	double *ms;
	size_t n;
	uint64_t total, failed;
	struct abtest vs_ref; /* this environment (candidate) against the reference */
	double err_p;	      /* two-proportion p against the reference */
};

static void put_env(struct buf *b, const struct env_side *e, const struct env_side *ref, int first)
{
	double p50, p95, p99;
	buf_puts(b, first ? "{\"env\":" : ",{\"env\":");
	buf_put_json_str(b, e->env);
	buf_printf(b, ",\"count\":%llu,\"failed\":%llu", (unsigned long long)e->total,
		   (unsigned long long)e->failed);
	buf_put_json_member_double(b, "error_rate", e->total ? (double)e->failed / (double)e->total : NAN);
	const struct abtest *t = &e->vs_ref;
	p50 = e == ref ? t->base_p50 : t->cand_p50;
	p95 = e == ref ? t->base_p95 : t->cand_p95;
	p99 = e == ref ? t->base_p99 : t->cand_p99;
	buf_put_json_member_double(b, "p50_ms", p50);
	buf_put_json_member_double(b, "p95_ms", p95);
	buf_put_json_member_double(b, "p99_ms", p99);
	if (e == ref || !ref) {
		buf_puts(b, ",\"reference\":true}");
		return;
	}
	buf_puts(b, ",\"reference\":false,\"vs_reference\":{");
	buf_printf(b, "\"verdict\":\"%s\"", abtest_verdict_name(t->verdict));
	buf_put_json_member_double(b, "p_value", t->p_value);
	buf_put_json_member_double(b, "p95_delta_ms", p95 - t->base_p95);
	buf_put_json_member_double(b, "p95_change", t->p95_change);
	buf_put_json_member_double(b, "p95_lo", t->p95_lo);
	buf_put_json_member_double(b, "p95_hi", t->p95_hi);
	double er = e->total ? (double)e->failed / (double)e->total : NAN;
	double rr = ref->total ? (double)ref->failed / (double)ref->total : NAN;
	buf_put_json_member_double(b, "error_rate_delta", er - rr);
	buf_put_json_member_double(b, "error_rate_p_value", e->err_p);
	buf_printf(b, ",\"significant\":%s}}",
		   t->verdict == ABTEST_SLOWER || t->verdict == ABTEST_FASTER || e->err_p < 0.05 ? "true"
												 : "false");
}

/* Problems of the reference alone: slower (p95 by more than PARITY_GAP)
 * or failing more than every other environment, significantly. */
static void put_reference_only(struct buf *b, const struct env_side *envs, size_t n, size_t ref)
{
	int slower = n > 1, failing = n > 1;
	for (size_t i = 0; i < n; i++) {
		if (i == ref)
			continue;
		const struct abtest *t = &envs[i].vs_ref; /* env i against the reference */
		slower &= t->verdict == ABTEST_FASTER && t->p95_change < -PARITY_GAP / (1 + PARITY_GAP);
		double er = envs[i].total ? (double)envs[i].failed / (double)envs[i].total : 0;
		double rr = envs[ref].total ? (double)envs[ref].failed / (double)envs[ref].total : 0;
		failing &= envs[i].err_p < 0.05 && rr > er;
	}
	buf_printf(b, ",\"reference_only\":{\"slower\":%s,\"more_errors\":%s}", slower ? "true" : "false",
		   failing ? "true" : "false");
}

/* One service's environments.  -1: answered. */
static int parity_service(struct http_request *req, const struct store_query *q, const char *service,
			  const char **envs, size_t n_envs, const char *reference, struct buf *b, int first)
{
	char err[256];
	struct env_side es[PARITY_MAX_ENVS];
	size_t n = 0, ref = (size_t)-1;
	for (size_t i = 0; i < n_envs && n < PARITY_MAX_ENVS; i++) {
		struct store_query eq = *q;
		struct env_side *e = &es[n];
		memset(e, 0, sizeof(*e));
		eq.service = service;
		eq.env = envs[i];
		e->env = envs[i];
		if (changes_durations(req->srv->store, &eq, PARITY_SAMPLE, &req->arena, &e->ms, &e->n, err,
				      sizeof(err)) < 0 ||
		    changes_counts(req->srv->store, &eq, &e->total, &e->failed, err, sizeof(err)) < 0) {
			http_error(req, 500, "internal", "%s", err);
			return -1;
		}
		if (e->total == 0)
			continue;
		if (!strcmp(envs[i], reference))
			ref = n;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		const struct env_side *r = ref < n ? &es[ref] : &es[i];
		unsigned rounds =
			r == &es[i] ? 0 : 500; /* the reference against itself: its quantiles only */
		if (abtest_run(&es[i].vs_ref, r->ms, r->n, es[i].ms, es[i].n, rounds, 1, 0.05) < 0) {
			http_error(req, 500, "internal", "comparison failed");
			return -1;
		}
		es[i].err_p = abtest_proportions(es[i].failed, es[i].total, r->failed, r->total);
	}
	buf_puts(b, first ? "{\"service\":" : ",{\"service\":");
	buf_put_json_str(b, service);
	buf_puts(b, ",\"envs\":[");
	for (size_t i = 0; i < n; i++)
		put_env(b, &es[i], ref < n ? &es[ref] : NULL, i == 0);
	buf_putc(b, ']');
	if (ref < n)
		put_reference_only(b, es, n, ref);
	buf_putc(b, '}');
	return 0;
}

static int get_parity(struct http_request *req)
{
	struct store_query q;
	const char **services, **envs;
	size_t n_services, n_envs;
	char err[256];
	const char *reference = http_query(req, "reference");
	if (!reference || !*reference)
		reference = "production";
	if (parse_filters(req, &q) < 0 || services_of(req, &q, &services, &n_services) < 0)
		return HTTP_DONE;
	if (store_values(req->srv->store, DICT_ENV, q.from_ns, q.to_ns, &req->arena, &envs, &n_envs, err,
			 sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return HTTP_DONE;
	}
	struct buf rows;
	buf_init(&rows, BUF_NO_LIMIT);
	for (size_t i = 0; i < n_services; i++)
		if (parity_service(req, &q, services[i], envs, n_envs, reference, &rows, i == 0) < 0)
			goto out;
	struct buf *b = http_json(req);
	buf_printf(b, "{\"from_ms\":%llu,\"to_ms\":%llu,\"reference\":",
		   (unsigned long long)(q.from_ns / NS_PER_MS), (unsigned long long)(q.to_ns / NS_PER_MS));
	buf_put_json_str(b, reference);
	buf_puts(b, ",\"method\":\"mann-whitney-u, bootstrap p95, two-proportion z\",\"services\":[");
	buf_append(b, rows.data ? rows.data : "", rows.len);
	buf_puts(b, "]}");
out:
	buf_release(&rows);
	return HTTP_DONE;
}

/* ---- capacity ---------------------------------------------------------------- */

/* The configured capacity of `service` in requests/s; NaN when none. */
static double capacity_of(struct http_request *req, const char *service)
{
	struct store_record *docs;
	size_t n;
	char err[256];
	double v = NAN;
	if (store_docs(req->srv->store, CAPACITY_KIND, service, &req->arena, &docs, &n, err, sizeof(err)) <
		    0 ||
	    n == 0)
		return NAN;
	struct json_doc d;
	if (json_doc_parse(&d, docs[0].json, strlen(docs[0].json), 0, err, sizeof(err)) == 0 && d.root)
		json_double(json_get(d.root, "capacity_rps"), &v);
	json_doc_release(&d);
	return v;
}

static void put_forecast(struct buf *b, const char *model, const struct forecast *f, uint64_t t_last_ns,
			 uint64_t step_ns, size_t every)
{
	buf_puts(b, "{\"model\":");
	buf_put_json_str(b, model);
	buf_put_json_member_double(b, "slope_rps_per_day", f->slope * (double)(NS_PER_DAY / step_ns));
	buf_put_json_member_double(b, "sigma_rps", f->sigma);
	if (!isnan(f->alpha)) {
		buf_put_json_member_double(b, "alpha", f->alpha);
		buf_put_json_member_double(b, "beta", f->beta);
		buf_put_json_member_double(b, "gamma", f->gamma);
	}
	const size_t cross[3] = {f->cross, f->cross_early, f->cross_late};
	const char *const keys[3] = {"reach_ms", "reach_earliest_ms", "reach_latest_ms"};
	for (int i = 0; i < 3; i++) {
		buf_printf(b, ",\"%s\":", keys[i]);
		if (cross[i])
			buf_printf(b, "%llu",
				   (unsigned long long)((t_last_ns + cross[i] * step_ns) / NS_PER_MS));
		else
			buf_puts(b, "null");
	}
	buf_puts(b, ",\"points\":[");
	for (size_t h = every - 1, k = 0; h < f->horizon; h += every, k++) {
		buf_printf(b, "%s{\"t_ms\":%llu", k ? "," : "",
			   (unsigned long long)((t_last_ns + (h + 1) * step_ns) / NS_PER_MS));
		buf_put_json_member_double(b, "mean", f->mean[h]);
		buf_put_json_member_double(b, "lo", f->lo[h]);
		buf_put_json_member_double(b, "hi", f->hi[h]);
		buf_putc(b, '}');
	}
	buf_puts(b, "]}");
}

/* One service's history and forecasts, hourly. */
static void capacity_service(struct http_request *req, const struct changes_series *s, double capacity,
			     size_t horizon_h, struct buf *b, int first)
{
	size_t n = s->n, lead = 0;
	uint64_t now = clock_now_ns();
	/* the current hour is partial: leave it out; so are the hours before
	 * the service's first request */
	while (n > 0 && s->t0_ns + n * s->step_ns > now)
		n--;
	while (lead < n && s->count[lead] == 0)
		lead++;
	n -= lead;
	uint64_t t0 = s->t0_ns + lead * s->step_ns;
	double *rps = arena_alloc(&req->arena, sizeof(double) * (n ? n : 1)), peak = 0, sum = 0;
	for (size_t t = 0; t < n; t++) {
		rps[t] = (double)s->count[lead + t] / ((double)s->step_ns / 1e9);
		peak = rps[t] > peak ? rps[t] : peak;
		sum += rps[t];
	}
	buf_puts(b, first ? "{\"service\":" : ",{\"service\":");
	buf_put_json_str(b, s->service);
	buf_put_json_member_double(b, "capacity_rps", capacity);
	buf_put_json_member_double(b, "current_rps", n ? rps[n - 1] : NAN);
	buf_put_json_member_double(b, "mean_rps", n ? sum / (double)n : NAN);
	buf_put_json_member_double(b, "peak_rps", n ? peak : NAN);
	buf_put_json_member_double(b, "utilisation", n && capacity > 0 ? peak / capacity : NAN);
	buf_printf(b, ",\"step_s\":%llu,\"history\":[", (unsigned long long)(s->step_ns / NS_PER_S));
	for (size_t t = 0; t < n; t++) {
		buf_printf(b, "%s[%llu,", t ? "," : "",
			   (unsigned long long)((t0 + t * s->step_ns) / NS_PER_MS));
		buf_put_json_double(b, rps[t]);
		buf_putc(b, ']');
	}
	buf_puts(b, "],\"forecasts\":[");
	uint64_t t_last = t0 + (n ? n - 1 : 0) * s->step_ns;
	size_t every = horizon_h > 24 * 14 ? 6 : 1;
	struct forecast f;
	int any = 0;
	if (forecast_linear(&f, rps, n, horizon_h, capacity) == 0) {
		put_forecast(b, "linear", &f, t_last, s->step_ns, every);
		forecast_release(&f);
		any = 1;
	}
	if (forecast_holt_winters(&f, rps, n, 24, horizon_h, capacity) == 0) {
		if (any)
			buf_putc(b, ',');
		put_forecast(b, "holt_winters", &f, t_last, s->step_ns, every);
		forecast_release(&f);
	}
	buf_puts(b, "]}");
}

static int get_capacity(struct http_request *req)
{
	struct store_query q;
	struct changes_series *s;
	size_t n;
	char err[320];
	long horizon_d;
	double override = NAN;
	const char *v = http_query(req, "capacity_rps");
	if (parse_filters(req, &q) < 0 || filters_int(req, "horizon_days", 1, 365, 30, &horizon_d) < 0)
		return HTTP_DONE;
	if (v && *v) {
		char *end;
		override = strtod(v, &end);
		if (end == v || *end || !(override > 0) || !q.service) {
			http_error(req, 400, "bad_request",
				   "invalid capacity_rps '%.64s': want a positive number, with service=", v);
			return HTTP_DONE;
		}
	}
	q.edge_only = 0;
	if (changes_series_load(req->srv->store, &q, 3600, 0, 0, &req->arena, &s, &n, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return HTTP_DONE;
	}
	struct buf *b = http_json(req);
	buf_printf(b, "{\"from_ms\":%llu,\"to_ms\":%llu,\"horizon_days\":%ld,\"services\":[",
		   (unsigned long long)(q.from_ns / NS_PER_MS), (unsigned long long)(q.to_ns / NS_PER_MS),
		   horizon_d);
	for (size_t i = 0; i < n; i++) {
		double cap = !isnan(override) ? override : capacity_of(req, s[i].service);
		capacity_service(req, &s[i], cap, (size_t)horizon_d * 24, b, i == 0);
	}
	buf_puts(b, "]}");
	return HTTP_DONE;
}

/* POST /api/v1/capacity {service, capacity_rps} */
static int post_capacity(struct http_request *req)
{
	struct json_doc d;
	const char *service;
	double cap = NAN;
	char err[256];
	if (change_parse_body(req, &d) < 0 || change_body_str(req, d.root, "service", 256, 1, &service) < 0)
		goto out;
	if (json_double(json_get(d.root, "capacity_rps"), &cap) < 0 || !(cap > 0) || cap > 1e12) {
		http_error(req, 400, "bad_request", "body: \"capacity_rps\" must be a positive number");
		goto out;
	}
	struct buf j;
	buf_init(&j, BUF_NO_LIMIT);
	buf_puts(&j, "{\"service\":");
	buf_put_json_str(&j, service);
	buf_put_json_member_double(&j, "capacity_rps", cap);
	buf_putc(&j, '}');
	struct store_record r = {
		.kind = CAPACITY_KIND, .id = service, .time_ns = clock_now_ns(), .json = j.data};
	int rc = store_put_doc(req->srv->store, &r, err, sizeof(err));
	if (rc < 0)
		http_error_class(req, rc, "%s", err); /* 503 on a read-only store */
	else
		http_reply(req, 200, "application/json", j.data, j.len);
	buf_release(&j);
out:
	json_doc_release(&d);
	return HTTP_DONE;
}

/* ---- error patterns ------------------------------------------------------------ */

/* Hourly failures of each service against the median/MAD of the same hour
 * of the week (or of the day, when the range holds less than two weeks). */
static int put_error_anomalies(struct http_request *req, const struct store_query *q, struct buf *b)
{
	char err[256];
	struct changes_series *s;
	size_t n, out = 0;
	int weekly = q->to_ns - q->from_ns >= 14 * NS_PER_DAY;
	if (changes_series_load(req->srv->store, q, 3600, 0, 0, &req->arena, &s, &n, err, sizeof(err)) < 0)
		return -1;
	buf_printf(b, ",\"baseline\":\"%s\",\"anomalies\":[", weekly ? "hour_of_week" : "hour_of_day");
	for (size_t i = 0; i < n; i++) {
		double *x = arena_alloc(&req->arena, sizeof(double) * (s[i].n ? s[i].n : 1));
		uint32_t *slot = arena_alloc(&req->arena, sizeof(uint32_t) * (s[i].n ? s[i].n : 1));
		struct anomaly *an = arena_alloc(&req->arena, sizeof(*an) * (s[i].n ? s[i].n : 1));
		for (size_t t = 0; t < s[i].n; t++) {
			uint64_t hours = (s[i].t0_ns + t * s[i].step_ns) / NS_PER_HOUR;
			x[t] = (double)s[i].errors[t];
			/* 1970-01-01 was a Thursday: +72 h makes slot 0 Monday 00:00 UTC */
			slot[t] = (uint32_t)(weekly ? (hours + 72) % 168 : hours % 24);
		}
		if (anomaly_mad(x, slot, s[i].n, 3.5, 3, an) < 0)
			return -1;
		for (size_t t = 0; t < s[i].n; t++) {
			if (!an[t].flagged || s[i].errors[t] < 5)
				continue;
			buf_puts(b, out++ ? ",{\"service\":" : "{\"service\":");
			buf_put_json_str(b, s[i].service);
			buf_printf(b, ",\"t_ms\":%llu,\"errors\":%llu,\"requests\":%llu",
				   (unsigned long long)((s[i].t0_ns + t * s[i].step_ns) / NS_PER_MS),
				   (unsigned long long)s[i].errors[t], (unsigned long long)s[i].count[t]);
			buf_put_json_member_double(b, "median", an[t].median);
			buf_put_json_member_double(b, "mad", an[t].mad);
			buf_put_json_member_double(b, "score", an[t].score);
			buf_putc(b, '}');
		}
	}
	buf_putc(b, ']');
	return 0;
}

static int get_error_patterns(struct http_request *req)
{
	struct store_query q;
	struct changes_error_group *g;
	size_t n;
	char err[256];
	if (parse_filters(req, &q) < 0)
		return HTTP_DONE;
	if (changes_error_groups(req->srv->store, &q, &req->arena, &g, &n, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return HTTP_DONE;
	}
	struct buf *b = http_json(req);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += g[i].count;
	buf_printf(b, "{\"from_ms\":%llu,\"to_ms\":%llu,\"failed\":%llu,\"groups\":[",
		   (unsigned long long)(q.from_ns / NS_PER_MS), (unsigned long long)(q.to_ns / NS_PER_MS),
		   (unsigned long long)total);
	for (size_t i = 0; i < n; i++) {
		buf_puts(b, i ? ",{\"error_type\":" : "{\"error_type\":");
		json_put_str_or_null(b, g[i].error_type);
		buf_puts(b, ",\"service\":");
		buf_put_json_str(b, g[i].service);
		buf_printf(b, ",\"severity\":\"%s\",\"count\":%llu",
			   g[i].status == REQUEST_TIMEOUT ? "timeout" : "error",
			   (unsigned long long)g[i].count);
		buf_put_json_member_double(b, "share", total ? (double)g[i].count / (double)total : NAN);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
	if (put_error_anomalies(req, &q, b) < 0) {
		http_error(req, 500, "internal", "error anomalies: read failed");
		return HTTP_DONE;
	}
	buf_putc(b, '}');
	return HTTP_DONE;
}

const struct route fleet_routes[] = {
	{"GET", "/api/v1/parity", get_parity, NULL, 0},
	{"GET", "/api/v1/capacity", get_capacity, NULL, 0},
	{"POST", "/api/v1/capacity", post_capacity, NULL, 1},
	{"GET", "/api/v1/errors/patterns", get_error_patterns, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
