/*
 * routes_change.c - change over time: deployments (POST, GET
 * /api/v1/deployments), the comparison of two versions and the gate on it
 * (GET /api/v1/versions/compare, /api/v1/versions/gate), the regression
 * timeline and its flags (GET, POST /api/v1/regressions,
 * POST /api/v1/regressions/dismiss).
 *
 * Owns parsing, the JSON shapes of docs/API.md and the audit records.  The
 * data comes from src/query/changes.h, the statistics from
 * src/analyze/abtest.h; deployments and regressions from
 * src/query/regressions.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/abtest.h"
#include "analyze/latency.h"
#include "core/clock.h"
#include "core/json_doc.h"
#include "core/json_field.h"
#include "query/changes.h"
#include "query/regressions.h"
#include "server/filters.h"
#include "server/http.h"
#include "server/routes_change.h"
#include "server/json_out.h"

/* Longest text field of a deployment or a flag. */
#define FIELD_MAX 256
#define LINK_MAX  2048
/* Requests sampled a side for a comparison, and bootstrap rounds. */
#define COMPARE_SAMPLE	  5000
#define COMPARE_RESAMPLES 1000

/* The body as JSON; -1: answered. */
int change_parse_body(struct http_request *req, struct json_doc *d)
{
	char err[256];
	memset(d, 0, sizeof(*d));
	if (req->body_too_large) {
		http_error(req, 413, "payload_too_large", "body: too large");
		return -1;
	}
	if (json_doc_parse(d, req->body.data ? req->body.data : "", req->body.len, 0, err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "body: not JSON: %s", err);
		return -1;
	}
	if (!d->root || d->root->type != JSON_OBJECT) {
		http_error(req, 400, "bad_request", "body: want a JSON object%s",
			   d->root ? "" : ", got nothing");
		return -1;
	}
	return 0;
}

/* A string member of at most `max` bytes; NULL when absent.  -1: answered. */
int change_body_str(struct http_request *req, const struct json *o, const char *key, size_t max, int required,
		    const char **out)
{
	char err[200];
	if (json_field_str(o, key, max, &req->arena, out, err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "body: %s", err);
		return -1;
	}
	if (!*out && required) {
		http_error(req, 400, "bad_request", "body: \"%s\" is required", key);
		return -1;
	}
	return 0;
}

/* "time": unix ms or RFC 3339; now when absent.  -1: answered. */
static int body_time(struct http_request *req, const struct json *o, const char *key, uint64_t *ns)
{
	const struct json *v = json_get(o, key);
	uint64_t ms;
	*ns = clock_now_ns();
	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type == JSON_NUMBER && json_uint64(v, &ms) == 0 && ms < UINT64_MAX / NS_PER_MS) {
		*ns = ms * NS_PER_MS;
		return 0;
	}
	if (v->type == JSON_STRING && filters_parse_time(v->s, ns) == 0)
		return 0;
	http_error(req, 400, "bad_request", "body: \"%s\" must be unix milliseconds or an RFC 3339 time",
		   key);
	return -1;
}

/* ---- deployments ---------------------------------------------------------- */

static int post_deployment(struct http_request *req)
{
	struct json_doc d;
	const char *service, *version, *env, *commit, *link;
	uint64_t t_ns;
	char err[256];
	if (change_parse_body(req, &d) < 0)
		goto out;
	const struct json *o = d.root;
	if (change_body_str(req, o, "service", FIELD_MAX, 1, &service) < 0 ||
	    change_body_str(req, o, "version", FIELD_MAX, 1, &version) < 0 ||
	    change_body_str(req, o, "env", FIELD_MAX, 0, &env) < 0 ||
	    change_body_str(req, o, "commit", FIELD_MAX, 0, &commit) < 0 ||
	    change_body_str(req, o, "link", LINK_MAX, 0, &link) < 0 || body_time(req, o, "time", &t_ns) < 0)
		goto out;
	struct buf j;
	struct json_w w;
	buf_init(&j, BUF_NO_LIMIT);
	jw_init(&w, &j);
	jw_obj_begin(&w);
	jw_kstr(&w, "service", service);
	jw_kstr(&w, "version", version);
	jw_kstr(&w, "env", env);
	jw_kstr(&w, "commit", commit);
	jw_kstr(&w, "link", link);
	jw_kuint(&w, "time_ms", t_ns / NS_PER_MS);
	jw_kstr(&w, "source", "api");
	jw_obj_end(&w);
	struct store_record r = {
		.kind = REGRESSIONS_DEPLOY_KIND, .id = service, .time_ns = t_ns, .json = j.data};
	int rc = store_add_event(req->srv->store, &r, err, sizeof(err));
	if (rc < 0)
		http_error_class(req, rc, "%s", err); /* 503 on a read-only store */
	else
		http_reply(req, 201, "application/json", j.data, j.len);
	buf_release(&j);
out:
	json_doc_release(&d);
	return HTTP_DONE;
}

/* Deployments of q's range, newest first.  -1: answered. */
static int load_deploys(struct http_request *req, const struct store_query *q, struct deployment **out,
			size_t *n)
{
	char err[256];
	int rc = regressions_deployments(req->srv->store, q, &req->arena, out, n, err, sizeof(err));
	if (rc < 0)
		http_error_class(req, rc, "%s", err);
	return rc < 0 ? -1 : 0;
}

static void put_deploy(struct json_w *w, const struct deployment *d)
{
	jw_obj_begin(w);
	jw_kstr(w, "service", d->service);
	jw_kstr(w, "version", d->version);
	jw_kstr(w, "env", d->env);
	jw_kstr(w, "commit", d->commit);
	jw_kstr(w, "link", d->link);
	jw_kuint(w, "time_ms", d->t_ns / NS_PER_MS);
	jw_kstr(w, "source", d->source);
	jw_obj_end(w);
}

static int get_deployments(struct http_request *req)
{
	struct store_query q;
	struct deployment *d;
	size_t n;
	if (filters_parse_req(req, &q) < 0)
		return HTTP_DONE;
	if (load_deploys(req, &q, &d, &n) < 0)
		return HTTP_DONE;
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kuint(&w, "from_ms", q.from_ns / NS_PER_MS);
	jw_kuint(&w, "to_ms", q.to_ns / NS_PER_MS);
	jw_karr_begin(&w, "deployments");
	for (size_t i = 0; i < n && i < q.limit; i++)
		put_deploy(&w, &d[i]);
	jw_arr_end(&w);
	jw_kuint(&w, "count", n);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* ---- versions: compare and gate ----------------------------------------- */

struct side {
	const char *version;
	double *ms;
	size_t n;
	uint64_t total, failed;
};

/* The requests of `version` under q's other filters.  -1: answered. */
static int load_side(struct http_request *req, const struct store_query *q, const char *version,
		     struct side *sd)
{
	char err[256];
	struct store_query vq = *q;
	vq.version = version;
	vq.latest = 0;
	sd->version = version;
	if (changes_durations(req->srv->store, &vq, COMPARE_SAMPLE, &req->arena, &sd->ms, &sd->n, err,
			      sizeof(err)) < 0 ||
	    changes_counts(req->srv->store, &vq, &sd->total, &sd->failed, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return -1;
	}
	return 0;
}

struct comparison {
	struct store_query q;
	struct side base, cand;
	struct abtest t;
};

/* service, candidate and baseline (required) and the common filters, then
 * the test.  -1: answered. */
static int compare_versions(struct http_request *req, struct comparison *c)
{
	const char *cand = http_query(req, "candidate"), *base = http_query(req, "baseline");
	if (filters_parse_req(req, &c->q) < 0)
		return -1;
	if (!c->q.service || !cand || !*cand || !base || !*base) {
		http_error(req, 400, "bad_request", "service, candidate and baseline are required");
		return -1;
	}
	filters_count_requests(&c->q, 1);
	if (load_side(req, &c->q, base, &c->base) < 0 || load_side(req, &c->q, cand, &c->cand) < 0)
		return -1;
	if (abtest_run(&c->t, c->base.ms, c->base.n, c->cand.ms, c->cand.n, COMPARE_RESAMPLES, 1, 0.05) < 0) {
		http_error(req, 500, "internal", "comparison failed");
		return -1;
	}
	return 0;
}

static void put_side(struct json_w *w, const char *key, const struct side *s, double p50, double p95,
		     double p99)
{
	jw_kobj_begin(w, key);
	jw_kstr(w, "version", s->version);
	jw_kuint(w, "count", s->total);
	jw_kuint(w, "failed", s->failed);
	jw_kuint(w, "sampled", s->n);
	jw_kdouble(w, "error_rate", s->total ? (double)s->failed / (double)s->total : NAN);
	jw_kdouble(w, "p50_ms", p50);
	jw_kdouble(w, "p95_ms", p95);
	jw_kdouble(w, "p99_ms", p99);
	jw_obj_end(w);
}

/* "2.5.0 is slower than 2.4.0 at p95 by 31 % (95 % interval 24–38 %)" */
static void summary_sentence(struct json_w *w, const struct comparison *c)
{
	const struct abtest *t = &c->t;
	char s[512];
	if (t->verdict == ABTEST_TOO_FEW)
		snprintf(s, sizeof(s), "too few requests to compare %s with %s (%zu and %zu, want %d a side)",
			 c->cand.version, c->base.version, c->cand.n, c->base.n, ABTEST_MIN_N);
	else if (t->verdict == ABTEST_SAME)
		snprintf(
			s, sizeof(s),
			"no significant difference between %s and %s (p = %.2g; p95 %+.0f %%, 95 %% interval "
			"%+.0f to %+.0f %%)",
			c->cand.version, c->base.version, t->p_value, t->p95_change * 100, t->p95_lo * 100,
			t->p95_hi * 100);
	else if ((t->verdict == ABTEST_SLOWER && t->p95_lo > 0) ||
		 (t->verdict == ABTEST_FASTER && t->p95_hi < 0))
		snprintf(s, sizeof(s),
			 "%s is %s than %s at p95 by %.0f %% (95 %% interval %+.0f to %+.0f %%; p = %.2g)",
			 c->cand.version, abtest_verdict_name(t->verdict), c->base.version,
			 fabs(t->p95_change) * 100, t->p95_lo * 100, t->p95_hi * 100, t->p_value);
	else /* the distributions differ, the p95 not significantly */
		snprintf(s, sizeof(s),
			 "%s is %s than %s overall (p = %.2g), but its p95 changed by %+.0f %% only (95 %% "
			 "interval "
			 "%+.0f to %+.0f %%)",
			 c->cand.version, abtest_verdict_name(t->verdict), c->base.version, t->p_value,
			 t->p95_change * 100, t->p95_lo * 100, t->p95_hi * 100);
	jw_kstr(w, "summary", s);
}

static void put_comparison(struct json_w *w, const struct comparison *c)
{
	const struct abtest *t = &c->t;
	jw_kstr(w, "service", c->q.service);
	jw_kstr(w, "env", c->q.env);
	jw_kuint(w, "from_ms", c->q.from_ns / NS_PER_MS);
	jw_kuint(w, "to_ms", c->q.to_ns / NS_PER_MS);
	put_side(w, "baseline", &c->base, t->base_p50, t->base_p95, t->base_p99);
	put_side(w, "candidate", &c->cand, t->cand_p50, t->cand_p95, t->cand_p99);
	jw_kobj_begin(w, "test");
	jw_kstr(w, "method", "mann-whitney-u");
	jw_kdouble(w, "alpha", 0.05);
	jw_kdouble(w, "u", t->u);
	jw_kdouble(w, "z", t->z);
	jw_kdouble(w, "p_value", t->p_value);
	jw_kdouble(w, "prob_slower", t->prob_slower);
	jw_obj_end(w);
	jw_kobj_begin(w, "p95_change");
	jw_kstr(w, "method", "bootstrap");
	jw_kint(w, "resamples", COMPARE_RESAMPLES);
	jw_kdouble(w, "estimate", t->p95_change);
	jw_kdouble(w, "lo", t->p95_lo);
	jw_kdouble(w, "hi", t->p95_hi);
	jw_obj_end(w);
	jw_kstr(w, "verdict",
		t->verdict == ABTEST_SLOWER   ? "slower"
		: t->verdict == ABTEST_FASTER ? "faster"
		: t->verdict == ABTEST_SAME   ? "same"
					      : "too_few");
	summary_sentence(w, c);
}

static int get_versions_compare(struct http_request *req)
{
	struct comparison c;
	memset(&c, 0, sizeof(c));
	if (compare_versions(req, &c) < 0)
		return HTTP_DONE;
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	put_comparison(&w, &c);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* A percentage: "10%" or "10" (`def` percent when absent); stored as a
 * fraction.  -1: answered. */
int change_parse_percent(struct http_request *req, const char *name, double def, double *out)
{
	const char *v = http_query(req, name);
	char *end;
	*out = def / 100;
	if (!v || !*v)
		return 0;
	double d = strtod(v, &end);
	if (end != v && *end == '%')
		end++;
	if (end == v || *end || !(d >= 0 && d <= 1000)) {
		http_error(req, 400, "bad_request", "invalid %s '%.64s': want a percentage, e.g. 10%%", name,
			   v);
		return -1;
	}
	*out = d / 100;
	return 0;
}

/*
 * Fail: the candidate is significantly slower (Mann–Whitney at 5 %) and
 * its p95 rose by more than the allowed increase.  Inconclusive: too few
 * requests on a side.
 */
static int get_versions_gate(struct http_request *req)
{
	struct comparison c;
	double max_inc;
	memset(&c, 0, sizeof(c));
	if (change_parse_percent(req, "max_p95_increase", 10, &max_inc) < 0 || compare_versions(req, &c) < 0)
		return HTTP_DONE;
	const char *status = "pass", *reason;
	char why[256];
	enum abtest_gate g = abtest_gate(&c.t, max_inc);
	if (g == ABTEST_INCONCLUSIVE) {
		status = "inconclusive";
		reason = "too few requests on a side";
	} else if (g == ABTEST_FAIL) {
		status = "fail";
		snprintf(why, sizeof(why),
			 "p95 rose by %.1f %% (allowed %.1f %%) and the slowdown is significant (%s)",
			 c.t.p95_change * 100, max_inc * 100,
			 c.t.verdict == ABTEST_SLOWER ? "Mann-Whitney" : "the p95 interval lies above 0");
		reason = why;
	} else if (c.t.verdict == ABTEST_SLOWER || c.t.p95_lo > 0) {
		snprintf(why, sizeof(why), "slower, but p95 rose by %.1f %%, within the allowed %.1f %%",
			 c.t.p95_change * 100, max_inc * 100);
		reason = why;
	} else {
		reason = "not significantly slower";
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kstr(&w, "status", status);
	if (g == ABTEST_INCONCLUSIVE)
		jw_knull(&w, "pass");
	else
		jw_kbool(&w, "pass", !strcmp(status, "pass"));
	jw_kstr(&w, "reason", reason);
	jw_kdouble(&w, "max_p95_increase", max_inc);
	put_comparison(&w, &c);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* ---- the regression timeline ---------------------------------------------- */

/* "flagged", "dismissed", or NULL: the state a flag document gives `id`. */
static const char *flag_state(const struct store_record *flags, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(flags[i].id, id))
			return strstr(flags[i].json, "\"state\":\"dismissed\"") ? "dismissed" : "flagged";
	return NULL;
}

static void put_regression(struct json_w *w, const struct regression *r, const char *state)
{
	jw_obj_begin(w);
	jw_kstr(w, "id", r->id);
	jw_kstr(w, "service", r->service);
	jw_kstr(w, "endpoint", r->endpoint);
	jw_kstr(w, "measure", r->measure);
	jw_kstr(w, "kind", r->kind == REGRESSION_WEEK_OVER_WEEK ? "week_over_week" : "change_point");
	jw_kuint(w, "t_ms", r->t_ns / NS_PER_MS);
	jw_kdouble(w, "before", r->before);
	jw_kdouble(w, "after", r->after);
	jw_kdouble(w, "rel_change", r->rel_change);
	if (r->kind == REGRESSION_WEEK_OVER_WEEK) {
		jw_kuint(w, "hours", r->hours);
		jw_kuint(w, "count", r->count);
		jw_kuint(w, "count_week_before", r->count_before);
	} else {
		jw_kdouble(w, "p_value", r->p_value);
		jw_kstr(w, "direction", r->worse ? "worse" : "better");
		jw_key(w, "deployment");
		if (r->deployment)
			put_deploy(w, r->deployment);
		else
			jw_null(w);
	}
	jw_kstr(w, "state", state);
	jw_obj_end(w);
}

static void put_version_regression(struct json_w *w, const struct version_regression *v, const char *state)
{
	jw_obj_begin(w);
	jw_kstr(w, "id", v->id);
	jw_kstr(w, "service", v->service);
	jw_kstr(w, "endpoint", v->endpoint ? v->endpoint : NULL);
	jw_kstr(w, "baseline", v->baseline);
	jw_kstr(w, "candidate", v->candidate);
	jw_kstr(w, "measure", "p95_ms");
	jw_kstr(w, "kind", "version");
	jw_kuint(w, "t_ms", v->t_ns / NS_PER_MS);
	jw_kstr(w, "verdict", abtest_verdict_name(v->t.verdict));
	jw_kdouble(w, "before", v->t.base_p95);
	jw_kdouble(w, "after", v->t.cand_p95);
	jw_kdouble(w, "rel_change", v->t.p95_change);
	jw_kdouble(w, "p95_lo", v->t.p95_lo);
	jw_kdouble(w, "p95_hi", v->t.p95_hi);
	jw_kdouble(w, "p_value", v->t.p_value);
	jw_kstr(w, "gate", v->gate_fail ? "fail" : "pass");
	jw_kstr(w, "state", state);
	jw_obj_end(w);
}

static int get_regressions(struct http_request *req)
{
	struct store_query q;
	struct deployment *d;
	struct regression *cp, *wow;
	struct version_regression *vr = NULL;
	struct store_record *flags;
	size_t n_d, n_cp, n_wow, n_vr, n_flags;
	struct regressions_options o = {0};
	char err[320];
	long top;
	if (filters_parse_req(req, &q) < 0)
		return HTTP_DONE;
	if (filters_int(req, "top", 0, 50, 10, &top) < 0 ||
	    change_parse_percent(req, "min_change", 10, &o.min_change) < 0)
		return HTTP_DONE;
	filters_count_requests(&q, 1);
	o.top = (size_t)top;
	o.step_s = latency_auto_step(q.from_ns, q.to_ns, latency_resolution(q.to_ns - q.from_ns));
	if (load_deploys(req, &q, &d, &n_d) < 0)
		return HTTP_DONE;
	int rc = regressions_find(req->srv->store, &q, &o, d, n_d, &req->arena, &cp, &n_cp, err, sizeof(err));
	if (rc == 0)
		rc = regressions_week_over_week(req->srv->store, &q, d, n_d, &req->arena, &wow, &n_wow, err,
						sizeof(err));
	n_vr = 0; /* two samples per service and endpoint: only for a chosen service */
	if (rc == 0 && q.service)
		rc = regressions_versions(req->srv->store, &q, o.min_change, o.top > 0, &req->arena, &vr,
					  &n_vr, err, sizeof(err));
	if (rc == 0 && store_docs(req->srv->store, REGRESSIONS_FLAG_KIND, NULL, &req->arena, &flags, &n_flags,
				  err, sizeof(err)) < 0)
		rc = ERR_INTERNAL;
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kuint(&w, "from_ms", q.from_ns / NS_PER_MS);
	jw_kuint(&w, "to_ms", q.to_ns / NS_PER_MS);
	jw_kuint(&w, "step_s", o.step_s);
	jw_kstr(&w, "method", "e-divisive-hunter");
	jw_karr_begin(&w, "changes");
	for (size_t i = 0; i < n_cp; i++)
		put_regression(&w, &cp[i], flag_state(flags, n_flags, cp[i].id));
	jw_arr_end(&w);
	jw_karr_begin(&w, "time_based");
	for (size_t i = 0; i < n_wow; i++)
		put_regression(&w, &wow[i], flag_state(flags, n_flags, wow[i].id));
	jw_arr_end(&w);
	jw_karr_begin(&w, "versions");
	for (size_t i = 0; i < n_vr; i++)
		put_version_regression(&w, &vr[i], flag_state(flags, n_flags, vr[i].id));
	jw_arr_end(&w);
	jw_karr_begin(&w, "deployments");
	for (size_t i = 0; i < n_d; i++)
		put_deploy(&w, &d[i]);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* ---- flags: by hand, and false positives --------------------------------- */

/* Keep the regression document and its audit entry.  -1: answered. */
static int put_flag(struct http_request *req, const char *id, const char *json, const char *action)
{
	char err[256];
	uint64_t now = clock_now_ns();
	struct store_record doc = {.kind = REGRESSIONS_FLAG_KIND, .id = id, .time_ns = now, .json = json};
	struct buf ev;
	buf_init(&ev, BUF_NO_LIMIT);
	struct json_w w;
	jw_init(&w, &ev);
	jw_obj_begin(&w);
	jw_kstr(&w, "action", action);
	jw_kraw(&w, "regression", json);
	jw_obj_end(&w);
	struct store_record audit = {
		.kind = REGRESSIONS_AUDIT_KIND, .id = id, .time_ns = now, .json = ev.data};
	int rc = store_put_doc(req->srv->store, &doc, err, sizeof(err));
	if (rc == 0)
		rc = store_add_event(req->srv->store, &audit, err, sizeof(err));
	buf_release(&ev);
	if (rc < 0) {
		http_error_class(req, rc, "%s", err); /* 503 on a read-only store */
		return -1;
	}
	return 0;
}

/* POST /api/v1/regressions {service, endpoint?, measure?, t_ms?, note?} */
static int post_regression(struct http_request *req)
{
	struct json_doc d;
	const char *service, *endpoint, *measure, *note, *candidate;
	uint64_t t_ns;
	if (change_parse_body(req, &d) < 0)
		goto out;
	if (change_body_str(req, d.root, "service", FIELD_MAX, 1, &service) < 0 ||
	    change_body_str(req, d.root, "endpoint", FIELD_MAX, 0, &endpoint) < 0 ||
	    change_body_str(req, d.root, "measure", FIELD_MAX, 0, &measure) < 0 ||
	    change_body_str(req, d.root, "note", LINK_MAX, 0, &note) < 0 ||
	    change_body_str(req, d.root, "candidate", FIELD_MAX, 0, &candidate) < 0 ||
	    body_time(req, d.root, "t_ms", &t_ns) < 0)
		goto out;
	if (measure && strcmp(measure, "p95_ms") && strcmp(measure, "error_rate")) {
		http_error(req, 400, "bad_request", "body: \"measure\" must be p95_ms or error_rate");
		goto out;
	}
	/* a version's regression is named by its candidate, a change by its time */
	const char *id = candidate ? regressions_version_id(&req->arena, service, endpoint, candidate)
				   : regressions_id(&req->arena, service, endpoint,
						    measure ? measure : "p95_ms", t_ns / NS_PER_MS);
	struct buf j;
	struct json_w w;
	buf_init(&j, BUF_NO_LIMIT);
	jw_init(&w, &j);
	jw_obj_begin(&w);
	jw_kstr(&w, "id", id);
	jw_kstr(&w, "service", service);
	jw_kstr(&w, "endpoint", endpoint);
	jw_kstr(&w, "measure", measure ? measure : "p95_ms");
	jw_kuint(&w, "t_ms", t_ns / NS_PER_MS);
	jw_kstr(&w, "state", "flagged");
	jw_kstr(&w, "source", "manual");
	jw_kstr(&w, "note", note);
	jw_obj_end(&w);
	if (put_flag(req, id, j.data, "flag") == 0)
		http_reply(req, 201, "application/json", j.data, j.len);
	buf_release(&j);
out:
	json_doc_release(&d);
	return HTTP_DONE;
}

/* POST /api/v1/regressions/dismiss {id, note?}: a false positive. */
static int post_dismiss(struct http_request *req)
{
	struct json_doc d;
	const char *id, *note;
	if (change_parse_body(req, &d) < 0)
		goto out;
	if (change_body_str(req, d.root, "id", 2 * FIELD_MAX + 64, 1, &id) < 0 ||
	    change_body_str(req, d.root, "note", LINK_MAX, 0, &note) < 0)
		goto out;
	struct buf j;
	struct json_w w;
	buf_init(&j, BUF_NO_LIMIT);
	jw_init(&w, &j);
	jw_obj_begin(&w);
	jw_kstr(&w, "id", id);
	jw_kstr(&w, "state", "dismissed");
	jw_kuint(&w, "time_ms", clock_now_ns() / NS_PER_MS);
	jw_kstr(&w, "note", note);
	jw_obj_end(&w);
	if (put_flag(req, id, j.data, "dismiss") == 0)
		http_reply(req, 200, "application/json", j.data, j.len);
	buf_release(&j);
out:
	json_doc_release(&d);
	return HTTP_DONE;
}

/* GET /api/v1/regressions/audit?id= : the trail, newest first. */
static int get_regression_audit(struct http_request *req)
{
	struct store_record *ev;
	size_t n;
	char err[256];
	const char *id = http_query(req, "id");
	if (store_events(req->srv->store, REGRESSIONS_AUDIT_KIND, id && *id ? id : NULL, 0, 0, 200,
			 &req->arena, &ev, &n, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_karr_begin(&w, "events");
	for (size_t i = 0; i < n; i++) {
		jw_obj_begin(&w);
		jw_kuint(&w, "time_ms", ev[i].time_ns / NS_PER_MS);
		jw_kraw(&w, "event", ev[i].json);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	return HTTP_DONE;
}

const struct route change_routes[] = {
	{"POST", "/api/v1/deployments", post_deployment, NULL, 1,
	 ROUTE_INGEST}, /* pipelines, like telemetry */
	{"GET", "/api/v1/deployments", get_deployments, NULL, 0},
	{"GET", "/api/v1/versions/compare", get_versions_compare, NULL, 0},
	{"GET", "/api/v1/versions/gate", get_versions_gate, NULL, 0},
	{"GET", "/api/v1/regressions", get_regressions, NULL, 0},
	{"POST", "/api/v1/regressions", post_regression, NULL, 1},
	{"POST", "/api/v1/regressions/dismiss", post_dismiss, NULL, 1},
	{"GET", "/api/v1/regressions/audit", get_regression_audit, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
