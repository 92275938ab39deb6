/*
 * health.c - the performance health of the last minutes (see health.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analyze/latency.h"
#include "core/clock.h"
#include "core/json_doc.h"
#include "core/log.h"
#include "query/health.h"
#include "core/json_write.h"
#include "query/metrics.h"

const char *const health_indicator_names[HEALTH_N] = {"response_time", "error_rate", "resource_usage",
						      "agent_performance"};
const char *const health_level_names[4] = {"green", "yellow", "red", "no_data"};
static const char *const threshold_keys[HEALTH_N] = {"response_time_ms", "error_rate", "resource_usage",
						     "service_p95_ms"};

void health_thresholds_init(struct health_thresholds *t)
{
	static const double yellow[HEALTH_N] = {500, 0.01, 0.70, 5000},
			    red[HEALTH_N] = {1000, 0.05, 0.85, 10000};
	memcpy(t->yellow, yellow, sizeof(yellow));
	memcpy(t->red, red, sizeof(red));
	t->window_ns = 300 * NS_PER_S;
}

static int parse_pair(const struct json *v, double *yellow, double *red)
{
	double y, r;
	if (!v || v->type != JSON_ARRAY || v->len != 2 || json_double(v->child, &y) < 0 ||
	    json_double(v->child->next, &r) < 0 || !(y >= 0) || !(r >= y))
		return -1;
	*yellow = y;
	*red = r;
	return 0;
}

int health_thresholds_parse(struct health_thresholds *t, const char *json, size_t len, char *err,
			    size_t errlen)
{
	struct json_doc d;
	int ret = -1;
	if (json_doc_parse(&d, json, len, 0, err, errlen) < 0)
		return -1;
	if (!d.root || d.root->type != JSON_OBJECT) {
		snprintf(err, errlen, "thresholds: want a JSON object");
		goto out;
	}
	for (const struct json *m = d.root->child; m; m = m->next) {
		int i;
		for (i = 0; i < HEALTH_N && !json_key_is(m, threshold_keys[i]); i++)
			;
		if (i < HEALTH_N) {
			if (parse_pair(m, &t->yellow[i], &t->red[i]) < 0) {
				snprintf(err, errlen,
					 "%s: want [yellow, red], two numbers, 0 <= yellow <= red",
					 threshold_keys[i]);
				goto out;
			}
		} else if (json_key_is(m, "window_s")) {
			double w;
			if (json_double(m, &w) < 0 || !(w >= 60 && w <= 3600)) {
				snprintf(err, errlen, "window_s: want seconds from 60 to 3600");
				goto out;
			}
			t->window_ns = (uint64_t)w * NS_PER_S;
		} else {
			snprintf(err, errlen,
				 "unknown member \"%.*s\": use response_time_ms, error_rate, "
				 "resource_usage, service_p95_ms or window_s",
				 (int)(m->key_len > 40 ? 40 : m->key_len), m->key);
			goto out;
		}
	}
	ret = 0;
out:
	json_doc_release(&d);
	return ret;
}

void health_thresholds_to_json(struct buf *b, const struct health_thresholds *t)
{
	struct json_w w;
	jw_init(&w, b);
	jw_obj_begin(&w);
	for (int i = 0; i < HEALTH_N; i++) {
		jw_karr_begin(&w, threshold_keys[i]);
		jw_double(&w, t->yellow[i]);
		jw_double(&w, t->red[i]);
		jw_arr_end(&w);
	}
	jw_kuint(&w, "window_s", t->window_ns / NS_PER_S);
	jw_obj_end(&w);
}

int health_thresholds_effective(struct store *s, struct health_thresholds *t, char *err, size_t errlen)
{
	struct arena a;
	struct store_record *docs;
	size_t n;
	char msg[256];
	health_thresholds_init(t);
	arena_init(&a);
	int ret = store_docs(s, HEALTH_DOC_KIND, HEALTH_DOC_ID, &a, &docs, &n, err, errlen);
	if (ret == 0 && n) {
		struct health_thresholds layer = *t;
		if (health_thresholds_parse(&layer, docs[0].json, strlen(docs[0].json), msg, sizeof(msg)) < 0)
			log_warn("stored health thresholds ignored: %s", msg);
		else
			*t = layer;
	}
	arena_release(&a);
	return ret < 0 ? ERR_INTERNAL : 0;
}

/* ---- the figures ---------------------------------------------------------------- */

/* The fleet's latency: its edge requests (each trace once), from the minute rollups. */
static int fleet_latency(struct store *s, struct health_report *r, struct arena *a, char *err, size_t errlen)
{
	struct store_query q;
	struct rollup_row *rows;
	struct latency_stats st;
	size_t n;
	store_query_init(&q);
	q.from_ns = r->from_ns;
	q.to_ns = r->to_ns;
	q.edge_only = 1;
	if (store_rollups(s, &q, 60, a, &rows, &n, err, errlen) < 0)
		return ERR_INTERNAL;
	int rc = latency_summary(&st, rows, n);
	r->requests = st.count;
	r->avg_ms = latency_stats_mean_ms(&st);
	r->p95_ms = latency_stats_quantile_ms(&st, 0.95);
	r->error_rate = latency_stats_error_rate(&st);
	latency_stats_release(&st);
	store_rollups_release(rows, n);
	if (rc < 0)
		snprintf(err, errlen, "latency counts overflow");
	return rc < 0 ? ERR_INTERNAL : 0;
}

/* The slowest service by p95 (all of its entry spans). */
static int slowest_service(struct store *s, struct health_report *r, struct arena *a, char *err,
			   size_t errlen)
{
	struct store_query q;
	struct rollup_row *rows;
	size_t n;
	store_query_init(&q);
	q.from_ns = r->from_ns;
	q.to_ns = r->to_ns;
	r->service_p95_ms = NAN;
	if (store_rollups(s, &q, 60, a, &rows, &n, err, errlen) < 0)
		return ERR_INTERNAL;
	for (size_t i = 0; i < n; i++) {
		const char *name = rows[i].service;
		int seen = !name;
		for (size_t j = 0; j < i && !seen; j++)
			seen = rows[j].service && !strcmp(rows[j].service, name);
		if (seen)
			continue;
		struct latency_stats svc;
		latency_stats_init(&svc);
		for (size_t j = i; j < n; j++)
			if (rows[j].service && !strcmp(rows[j].service, name))
				latency_stats_add_row(&svc, &rows[j]);
		double p95 = latency_stats_quantile_ms(&svc, 0.95);
		if (!isnan(p95) && !(p95 <= r->service_p95_ms)) {
			r->service_p95_ms = p95;
			r->service = name;
		}
		latency_stats_release(&svc);
	}
	store_rollups_release(rows, n);
	return 0;
}

/* The highest share of `used` over `limit` among the lines of one measure pair (limit MEASURE_NONE:
 * the used figure is a share already). */
static int usage_of(struct store *s, struct health_report *r, enum resource_measure used,
		    enum resource_measure limit, const char *by, const char *kind, struct arena *a, char *err,
		    size_t errlen)
{
	struct metrics_request q = {.measure = used, .group_by = by, .cpu_share = 1};
	struct metrics_answer u, m;
	q.f.from_ns = r->from_ns;
	q.f.to_ns = r->to_ns;
	q.step_ns = r->to_ns - r->from_ns;
	int rc = metrics_query(s, &q, a, &u, err, errlen);
	if (rc == 0 && limit) {
		q.measure = limit;
		rc = metrics_query(s, &q, a, &m, err, errlen);
	}
	for (size_t i = 0; rc == 0 && i < u.n_lines; i++) {
		double share = u.lines[i].values[u.n_steps - 1], lim = limit ? NAN : 1;
		for (size_t j = 0; limit && j < m.n_lines; j++)
			if (u.lines[i].key && m.lines[j].key && !strcmp(u.lines[i].key, m.lines[j].key))
				lim = m.lines[j].values[m.n_steps - 1];
		share = lim > 0 ? share / lim : NAN;
		if (!isnan(share) && !(share <= r->resource_usage)) {
			r->resource_usage = share;
			r->resource_kind = kind;
			r->resource_key = u.lines[i].key;
		}
	}
	return rc;
}

static enum health_level level_of(double v, double yellow, double red)
{
	if (isnan(v))
		return HEALTH_NO_DATA;
	return v >= red ? HEALTH_RED : v >= yellow ? HEALTH_YELLOW : HEALTH_GREEN;
}

int health_compute(struct store *s, uint64_t now_ns, const struct health_thresholds *t, struct arena *a,
		   struct health_report *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->to_ns = now_ns;
	out->from_ns = now_ns - t->window_ns;
	out->resource_usage = NAN;
	int rc = fleet_latency(s, out, a, err, errlen);
	if (!rc)
		rc = slowest_service(s, out, a, err, errlen);
	if (!rc)
		rc = usage_of(s, out, MEASURE_POOL_USED, MEASURE_POOL_MAX, "pool", "pool", a, err, errlen);
	if (!rc)
		rc = usage_of(s, out, MEASURE_HEAP, MEASURE_HEAP_LIMIT, "instance", "heap", a, err, errlen);
	if (!rc)
		rc = usage_of(s, out, MEASURE_CPU, MEASURE_NONE, "instance", "cpu", a, err, errlen);
	if (rc < 0)
		return rc;
	out->value[HEALTH_RESPONSE_TIME] = out->avg_ms;
	out->value[HEALTH_ERROR_RATE] = out->error_rate;
	out->value[HEALTH_RESOURCES] = out->resource_usage;
	out->value[HEALTH_SERVICES] = out->service_p95_ms;
	int red = 0, yellow = 0, known = 0;
	for (int i = 0; i < HEALTH_N; i++) {
		out->level[i] = level_of(out->value[i], t->yellow[i], t->red[i]);
		red += out->level[i] == HEALTH_RED;
		yellow += out->level[i] == HEALTH_YELLOW;
		known += out->level[i] != HEALTH_NO_DATA;
	}
	out->status = red ? "unhealthy" : yellow ? "degraded" : known ? "healthy" : "unknown";
	return 0;
}
