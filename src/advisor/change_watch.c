/*
 * change_watch.c - recording detected deployments and flagging new
 * regressions in the background (see change_watch.h).
 */
#include "advisor/change_watch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/latency.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "core/log.h"
#include "core/ticker.h"

/* Record the deployments that exist only in the rollups so far. */
static int record_deployments(struct store *s, const struct deployment *d, size_t n, size_t *recorded,
			      char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i].recorded)
			continue;
		struct buf j;
		struct json_w w;
		buf_init(&j, BUF_NO_LIMIT);
		jw_init(&w, &j);
		jw_obj_begin(&w);
		jw_kstr(&w, "service", d[i].service);
		jw_kstr(&w, "version", d[i].version);
		jw_kstr(&w, "env", d[i].env);
		jw_kuint(&w, "time_ms", d[i].t_ns / NS_PER_MS);
		jw_kstr(&w, "source", "detected");
		jw_obj_end(&w);
		struct store_record r = {.kind = REGRESSIONS_DEPLOY_KIND,
					 .id = d[i].service,
					 .time_ns = d[i].t_ns,
					 .json = j.data};
		int rc = store_add_event(s, &r, err, errlen);
		buf_release(&j);
		if (rc < 0)
			return ERR_INTERNAL;
		(*recorded)++;
	}
	return 0;
}

/* Whether a flag document covers r: the same series and measure within
 * `tolerance_ns` (a change point may move by a bucket from run to run). */
static int already_flagged(const struct store_record *flags, size_t n, const struct regression *r,
			   uint64_t tolerance_ns)
{
	const char *cut = strrchr(r->id, '|');
	size_t prefix = (size_t)(cut - r->id) + 1;
	for (size_t i = 0; i < n; i++) {
		const char *c = strrchr(flags[i].id, '|');
		if (!c || (size_t)(c - flags[i].id) + 1 != prefix || strncmp(flags[i].id, r->id, prefix))
			continue;
		uint64_t t = strtoull(c + 1, NULL, 10) * NS_PER_MS;
		if ((t > r->t_ns ? t - r->t_ns : r->t_ns - t) <= tolerance_ns)
			return 1;
	}
	return 0;
}

static void flag_json(struct buf *j, const struct regression *r)
{
	struct json_w w;
	jw_init(&w, j);
	jw_obj_begin(&w);
	jw_kstr(&w, "id", r->id);
	jw_kstr(&w, "service", r->service);
	jw_kstr(&w, "endpoint", r->endpoint);
	jw_kstr(&w, "measure", r->measure);
	jw_kstr(&w, "kind",
		r->kind == REGRESSION_WEEK_OVER_WEEK ? "week_over_week"
		: r->kind == REGRESSION_VERSION	     ? "version"
						     : "change_point");
	jw_kuint(&w, "t_ms", r->t_ns / NS_PER_MS);
	jw_kstr(&w, "state", "flagged");
	jw_kstr(&w, "source", "auto");
	jw_kobj_begin(&w, "evidence");
	jw_kdouble(&w, "before", r->before);
	jw_kdouble(&w, "after", r->after);
	jw_kdouble(&w, "rel_change", r->rel_change);
	jw_kdouble(&w, "p_value", r->p_value);
	if (r->kind == REGRESSION_VERSION) {
		jw_kstr(&w, "baseline", r->baseline);
		jw_kstr(&w, "candidate", r->version);
	}
	jw_key(&w, "deployment");
	if (r->deployment) {
		jw_obj_begin(&w);
		jw_kstr(&w, "version", r->deployment->version);
		jw_kstr(&w, "env", r->deployment->env);
		jw_kuint(&w, "time_ms", r->deployment->t_ns / NS_PER_MS);
		jw_obj_end(&w);
	} else {
		jw_null(&w);
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
}

/* Flag one regression: its document and the audit entry. */
static int flag(struct store *s, const struct regression *r, uint64_t now_ns, char *err, size_t errlen)
{
	struct buf j, ev;
	buf_init(&j, BUF_NO_LIMIT);
	buf_init(&ev, BUF_NO_LIMIT);
	flag_json(&j, r);
	struct json_w w;
	jw_init(&w, &ev);
	jw_obj_begin(&w);
	jw_kstr(&w, "action", "auto_flag");
	jw_kraw(&w, "regression", j.data);
	jw_obj_end(&w);
	struct store_record doc = {
		.kind = REGRESSIONS_FLAG_KIND, .id = r->id, .time_ns = now_ns, .json = j.data};
	struct store_record audit = {
		.kind = REGRESSIONS_AUDIT_KIND, .id = r->id, .time_ns = now_ns, .json = ev.data};
	int rc = store_put_doc(s, &doc, err, errlen) < 0 || store_add_event(s, &audit, err, errlen) < 0
			 ? ERR_INTERNAL
			 : 0;
	buf_release(&j);
	buf_release(&ev);
	return rc;
}

static int flag_new(struct store *s, const struct regression *r, size_t n, const struct store_record *flags,
		    size_t n_flags, uint64_t step_ns, uint64_t now_ns, size_t *flagged, char *err,
		    size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (!r[i].worse || already_flagged(flags, n_flags, &r[i], 2 * step_ns))
			continue;
		if (flag(s, &r[i], now_ns, err, errlen) < 0)
			return ERR_INTERNAL;
		(*flagged)++;
	}
	return 0;
}

/* A version's regression as a regression (its time: the candidate's
 * first request in the range). */
static struct regression version_as_regression(const struct version_regression *v)
{
	return (struct regression){
		.id = v->id,
		.service = v->service,
		.endpoint = v->endpoint,
		.measure = "p95_ms",
		.kind = REGRESSION_VERSION,
		.t_ns = v->t_ns,
		.before = v->t.base_p95,
		.after = v->t.cand_p95,
		.rel_change = v->t.p95_change,
		.p_value = v->t.p_value,
		.worse = 1,
		.version = v->candidate,
		.baseline = v->baseline,
	};
}

/* Whether a change point for the worse, brought by the deployment of the
 * candidate, already tells of this version's regression. */
static int told_by_change(const struct regression *cp, size_t n_cp, const struct version_regression *v)
{
	for (size_t i = 0; i < n_cp; i++)
		if (cp[i].worse && cp[i].deployment && !strcmp(cp[i].service, v->service) &&
		    (cp[i].endpoint == v->endpoint ||
		     (cp[i].endpoint && v->endpoint && !strcmp(cp[i].endpoint, v->endpoint))) &&
		    !strcmp(cp[i].deployment->version, v->candidate))
			return 1;
	return 0;
}

/* Flag each version whose gate fails, once (its id names the candidate),
 * unless a change point brought by its deployment tells of it. */
static int flag_versions(struct store *s, const struct store_query *q, double min_change,
			 const struct regression *cp, size_t n_cp, const struct store_record *flags,
			 size_t n_flags, uint64_t now_ns, size_t *flagged, struct arena *a, char *err,
			 size_t errlen)
{
	struct version_regression *v;
	size_t n;
	if (regressions_versions(s, q, min_change, 1, a, &v, &n, err, errlen) < 0)
		return ERR_INTERNAL;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < n_flags && strcmp(flags[j].id, v[i].id))
			j++;
		if (!v[i].gate_fail || j < n_flags || told_by_change(cp, n_cp, &v[i]))
			continue;
		struct regression r = version_as_regression(&v[i]);
		if (flag(s, &r, now_ns, err, errlen) < 0)
			return ERR_INTERNAL;
		(*flagged)++;
	}
	return 0;
}

int change_watch_run(struct store *s, uint64_t now_ns, uint64_t range_ns, struct change_watch_result *res,
		     char *err, size_t errlen)
{
	struct arena a;
	struct store_query q;
	struct deployment *d;
	struct regression *cp = NULL, *wow = NULL;
	struct store_record *flags;
	size_t n_d, n_cp = 0, n_wow = 0, n_flags;
	struct regressions_options o = {.top = 10, .min_change = 0.10};
	memset(res, 0, sizeof(*res));
	arena_init(&a);
	store_query_init(&q);
	q.to_ns = now_ns;
	q.from_ns = now_ns - (range_ns ? range_ns : CHANGE_WATCH_RANGE_NS);
	o.step_s = latency_auto_step(q.from_ns, q.to_ns, latency_resolution(q.to_ns - q.from_ns));
	int rc = regressions_deployments(s, &q, &a, &d, &n_d, err, errlen);
	if (rc == 0)
		rc = record_deployments(s, d, n_d, &res->deployments, err, errlen);
	if (rc == 0)
		rc = regressions_find(s, &q, &o, d, n_d, &a, &cp, &n_cp, err, errlen);
	if (rc == 0)
		rc = regressions_week_over_week(s, &q, d, n_d, &a, &wow, &n_wow, err, errlen);
	if (rc == 0 && store_docs(s, REGRESSIONS_FLAG_KIND, NULL, &a, &flags, &n_flags, err, errlen) < 0)
		rc = ERR_INTERNAL;
	uint64_t step_ns = (uint64_t)o.step_s * NS_PER_S;
	if (rc == 0)
		rc = flag_new(s, cp, n_cp, flags, n_flags, step_ns, now_ns, &res->flagged, err, errlen);
	if (rc == 0)
		rc = flag_new(s, wow, n_wow, flags, n_flags, step_ns, now_ns, &res->flagged, err, errlen);
	if (rc == 0)
		rc = flag_versions(s, &q, o.min_change, cp, n_cp, flags, n_flags, now_ns, &res->flagged, &a,
				   err, errlen);
	arena_release(&a);
	return rc;
}

/* ---- the background watch ---- */

static struct ticker watch = TICKER_INIT;
static struct store *watch_store;

static void change_tick(void *arg)
{
	struct change_watch_result res;
	char err[256];
	(void)arg;
	if (!store_lease_begin(watch_store))
		return; /* another instance on the same store runs it */
	uint64_t t0 = clock_now_ns();
	if (change_watch_run(watch_store, t0, 0, &res, err, sizeof(err)) < 0)
		log_warn("changes: watch failed: %s", err);
	else
		log_info("changes: %zu deployments recorded, %zu regressions flagged in %.0f ms",
			 res.deployments, res.flagged, (double)(clock_now_ns() - t0) / 1e6);
	store_lease_end(watch_store);
}

int change_watch_start(struct store *s, unsigned interval_s, char *err, size_t errlen)
{
	watch_store = s;
	return ticker_start_job(&watch, "change_watch", interval_s ? interval_s : 300, change_tick, NULL, err,
				errlen);
}

void change_watch_stop(void)
{
	ticker_stop(&watch);
}
