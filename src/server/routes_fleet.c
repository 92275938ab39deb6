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

static void put_env(struct json_w *w, const struct env_side *e, const struct env_side *ref)
{
	double p50, p95, p99;
	jw_obj_begin(w);
	jw_kstr(w, "env", e->env);
	jw_kuint(w, "count", e->total);
	jw_kuint(w, "failed", e->failed);
	jw_kdouble(w, "error_rate", e->total ? (double)e->failed / (double)e->total : NAN);
	const struct abtest *t = &e->vs_ref;
	p50 = e == ref ? t->base_p50 : t->cand_p50;
	p95 = e == ref ? t->base_p95 : t->cand_p95;
	p99 = e == ref ? t->base_p99 : t->cand_p99;
	jw_kdouble(w, "p50_ms", p50);
	jw_kdouble(w, "p95_ms", p95);
	jw_kdouble(w, "p99_ms", p99);
	if (e == ref || !ref) {
		jw_kbool(w, "reference", true);
		jw_obj_end(w);
		return;
	}
	jw_kbool(w, "reference", false);
	jw_kobj_begin(w, "vs_reference");
	jw_kstr(w, "verdict", abtest_verdict_name(t->verdict));
	jw_kdouble(w, "p_value", t->p_value);
	jw_kdouble(w, "p95_delta_ms", p95 - t->base_p95);
	jw_kdouble(w, "p95_change", t->p95_change);
	jw_kdouble(w, "p95_lo", t->p95_lo);
	jw_kdouble(w, "p95_hi", t->p95_hi);
	double er = e->total ? (double)e->failed / (double)e->total : NAN;
	double rr = ref->total ? (double)ref->failed / (double)ref->total : NAN;
	jw_kdouble(w, "error_rate_delta", er - rr);
	jw_kdouble(w, "error_rate_p_value", e->err_p);
	jw_kbool(w, "significant",
		 t->verdict == ABTEST_SLOWER || t->verdict == ABTEST_FASTER || e->err_p < 0.05);
	jw_obj_end(w);
	jw_obj_end(w);
}

/* Problems of the reference alone: slower (p95 by more than PARITY_GAP)
 * or failing more than every other environment, significantly. */
static void put_reference_only(struct json_w *w, const struct env_side *envs, size_t n, size_t ref)
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
	jw_kobj_begin(w, "reference_only");
	jw_kbool(w, "slower", slower);
	jw_kbool(w, "more_errors", failing);
	jw_obj_end(w);
}

/* One service's environments.  -1: answered. */
static int parity_service(struct http_request *req, const struct store_query *q, const char *service,
			  const char **envs, size_t n_envs, const char *reference, struct json_w *w)
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
	jw_obj_begin(w);
	jw_kstr(w, "service", service);
	jw_karr_begin(w, "envs");
	for (size_t i = 0; i < n; i++)
		put_env(w, &es[i], ref < n ? &es[ref] : NULL);
	jw_arr_end(w);
	if (ref < n)
		put_reference_only(w, es, n, ref);
	jw_obj_end(w);
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
	struct buf rows; /* the services' array, before the answer is begun */
	struct json_w rw, w;
	buf_init(&rows, BUF_NO_LIMIT);
	jw_init(&rw, &rows);
	jw_arr_begin(&rw);
	for (size_t i = 0; i < n_services; i++)
		if (parity_service(req, &q, services[i], envs, n_envs, reference, &rw) < 0)
			goto out;
	jw_arr_end(&rw);
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kuint(&w, "from_ms", q.from_ns / NS_PER_MS);
	jw_kuint(&w, "to_ms", q.to_ns / NS_PER_MS);
	jw_kstr(&w, "reference", reference);
	jw_kstr(&w, "method", "mann-whitney-u, bootstrap p95, two-proportion z");
	jw_kraw(&w, "services", rows.data);
	jw_obj_end(&w);
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

static void put_forecast(struct json_w *w, const char *model, const struct forecast *f, uint64_t t_last_ns,
			 uint64_t step_ns, size_t every)
{
	jw_obj_begin(w);
	jw_kstr(w, "model", model);
	jw_kdouble(w, "slope_rps_per_day", f->slope * (double)(NS_PER_DAY / step_ns));
	jw_kdouble(w, "sigma_rps", f->sigma);
	if (!isnan(f->alpha)) {
		jw_kdouble(w, "alpha", f->alpha);
		jw_kdouble(w, "beta", f->beta);
		jw_kdouble(w, "gamma", f->gamma);
	}
	const size_t cross[3] = {f->cross, f->cross_early, f->cross_late};
	const char *const keys[3] = {"reach_ms", "reach_earliest_ms", "reach_latest_ms"};
	for (int i = 0; i < 3; i++) {
		if (cross[i])
			jw_kuint(w, keys[i], (t_last_ns + cross[i] * step_ns) / NS_PER_MS);
		else
			jw_knull(w, keys[i]);
	}
	jw_karr_begin(w, "points");
	for (size_t h = every - 1; h < f->horizon; h += every) {
		jw_obj_begin(w);
		jw_kuint(w, "t_ms", (t_last_ns + (h + 1) * step_ns) / NS_PER_MS);
		jw_kdouble(w, "mean", f->mean[h]);
		jw_kdouble(w, "lo", f->lo[h]);
		jw_kdouble(w, "hi", f->hi[h]);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

/* One service's history and forecasts, hourly. */
static void capacity_service(struct http_request *req, const struct changes_series *s, double capacity,
			     size_t horizon_h, struct json_w *w)
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
	jw_obj_begin(w);
	jw_kstr(w, "service", s->service);
	jw_kdouble(w, "capacity_rps", capacity);
	jw_kdouble(w, "current_rps", n ? rps[n - 1] : NAN);
	jw_kdouble(w, "mean_rps", n ? sum / (double)n : NAN);
	jw_kdouble(w, "peak_rps", n ? peak : NAN);
	jw_kdouble(w, "utilisation", n && capacity > 0 ? peak / capacity : NAN);
	jw_kuint(w, "step_s", s->step_ns / NS_PER_S);
	jw_karr_begin(w, "history");
	for (size_t t = 0; t < n; t++) {
		jw_arr_begin(w);
		jw_uint(w, (t0 + t * s->step_ns) / NS_PER_MS);
		jw_double(w, rps[t]);
		jw_arr_end(w);
	}
	jw_arr_end(w);
	jw_karr_begin(w, "forecasts");
	uint64_t t_last = t0 + (n ? n - 1 : 0) * s->step_ns;
	size_t every = horizon_h > 24 * 14 ? 6 : 1;
	struct forecast f;
	if (forecast_linear(&f, rps, n, horizon_h, capacity) == 0) {
		put_forecast(w, "linear", &f, t_last, s->step_ns, every);
		forecast_release(&f);
	}
	if (forecast_holt_winters(&f, rps, n, 24, horizon_h, capacity) == 0) {
		put_forecast(w, "holt_winters", &f, t_last, s->step_ns, every);
		forecast_release(&f);
	}
	jw_arr_end(w);
	jw_obj_end(w);
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
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kuint(&w, "from_ms", q.from_ns / NS_PER_MS);
	jw_kuint(&w, "to_ms", q.to_ns / NS_PER_MS);
	jw_kint(&w, "horizon_days", horizon_d);
	jw_karr_begin(&w, "services");
	for (size_t i = 0; i < n; i++) {
		double cap = !isnan(override) ? override : capacity_of(req, s[i].service);
		capacity_service(req, &s[i], cap, (size_t)horizon_d * 24, &w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
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
	struct json_w w;
	buf_init(&j, BUF_NO_LIMIT);
	jw_init(&w, &j);
	jw_obj_begin(&w);
	jw_kstr(&w, "service", service);
	jw_kdouble(&w, "capacity_rps", cap);
	jw_obj_end(&w);
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
static int put_error_anomalies(struct http_request *req, const struct store_query *q, struct json_w *w)
{
	char err[256];
	struct changes_series *s;
	size_t n;
	int weekly = q->to_ns - q->from_ns >= 14 * NS_PER_DAY;
	if (changes_series_load(req->srv->store, q, 3600, 0, 0, &req->arena, &s, &n, err, sizeof(err)) < 0)
		return -1;
	jw_kstr(w, "baseline", weekly ? "hour_of_week" : "hour_of_day");
	jw_karr_begin(w, "anomalies");
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
			jw_obj_begin(w);
			jw_kstr(w, "service", s[i].service);
			jw_kuint(w, "t_ms", (s[i].t0_ns + t * s[i].step_ns) / NS_PER_MS);
			jw_kuint(w, "errors", s[i].errors[t]);
			jw_kuint(w, "requests", s[i].count[t]);
			jw_kdouble(w, "median", an[t].median);
			jw_kdouble(w, "mad", an[t].mad);
			jw_kdouble(w, "score", an[t].score);
			jw_obj_end(w);
		}
	}
	jw_arr_end(w);
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
	struct json_w w;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += g[i].count;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kuint(&w, "from_ms", q.from_ns / NS_PER_MS);
	jw_kuint(&w, "to_ms", q.to_ns / NS_PER_MS);
	jw_kuint(&w, "failed", total);
	jw_karr_begin(&w, "groups");
	for (size_t i = 0; i < n; i++) {
		jw_obj_begin(&w);
		jw_kstr(&w, "error_type", g[i].error_type);
		jw_kstr(&w, "service", g[i].service);
		jw_kstr(&w, "severity", g[i].status == REQUEST_TIMEOUT ? "timeout" : "error");
		jw_kuint(&w, "count", g[i].count);
		jw_kdouble(&w, "share", total ? (double)g[i].count / (double)total : NAN);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	if (put_error_anomalies(req, &q, &w) < 0) {
		http_error(req, 500, "internal", "error anomalies: read failed");
		return HTTP_DONE;
	}
	jw_obj_end(&w);
	return HTTP_DONE;
}

const struct route fleet_routes[] = {
	{"GET", "/api/v1/parity", get_parity, NULL, 0},
	{"GET", "/api/v1/capacity", get_capacity, NULL, 0},
	{"POST", "/api/v1/capacity", post_capacity, NULL, 1},
	{"GET", "/api/v1/errors/patterns", get_error_patterns, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
