/*
 * rule.c - alert rule definitions and their measures over the rollups
 * (see rule.h).  What an alert does when a rule holds is alerts.c's.
 */
#include "watch/rule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/latency.h"
#include "analyze/slowops.h"
#include "core/alloc.h"
#include "core/json_field.h"
#include "core/log.h"
#include "core/strmap.h"
#include "query/regressions.h"
#include "watch/exact.h"

/* Sized by its initialiser: a missing name is a conflict with rule.h's
 * declaration, at compile time. */
const char *const rule_measure_names[] = {
	"p50",	       "p95",	     "p99",	    "error_rate",
	"throughput",  "slow_share", "slow_count",  "service_p95_mean",
	"slow_spikes", "metric",     "regressions",
};
static const char *const cmp_names[] = {">", ">=", "<", "<="};

#define RULE_MAX_WINDOW_S (7ull * 86400)

static int parse_measure(const struct json *o, struct alert_rule *r, char *err, size_t errlen)
{
	const char *m = json_str(json_get(o, "measure"));
	for (int i = 0; m && i < RULE_MEASURES; i++)
		if (!strcmp(m, rule_measure_names[i])) {
			r->measure = (enum rule_measure)i;
			return 0;
		}
	return errf(err, errlen,
		    "\"measure\" must be one of p50, p95, p99, error_rate, throughput, slow_share, "
		    "slow_count, service_p95_mean, slow_spikes, regressions, metric"),
	       ERR_INVALID;
}

/* "metric": {"name" | "measure", "agg", "group_by"} of a metric rule. */
static int parse_metric(const struct json *o, struct arena *a, struct alert_rule *r, char *err, size_t errlen)
{
	const struct json *m = json_get(o, "metric");
	struct rule_metric *x = &r->metric;
	const char *measure = NULL;
	char why[200] = "";
	if (!m || m->type != JSON_OBJECT)
		return errf(err, errlen,
			    "a metric rule needs \"metric\": {\"name\": a metric, or \"measure\": cpu, "
			    "memory, pool_used ..., \"agg\": avg, max, p95 ...}"),
		       ERR_INVALID;
	if (json_field_str(m, "name", 255, a, &x->name, why, sizeof(why)) < 0 ||
	    json_field_str(m, "measure", 32, a, &measure, why, sizeof(why)) < 0 ||
	    json_field_str(m, "agg", 16, a, &x->agg_name, why, sizeof(why)) < 0 ||
	    json_field_str(m, "group_by", 128, a, &x->group_by, why, sizeof(why)) < 0)
		return errf(err, errlen, "in \"metric\": %s", why), ERR_INVALID;
	if (!x->name == !measure)
		return errf(err, errlen,
			    "\"metric\" takes \"name\" (a metric) or \"measure\" (a resource measure), one "
			    "of them"),
		       ERR_INVALID;
	if (measure && !(x->measure = resource_measure_by_name(measure)))
		return errf(err, errlen,
			    "\"metric.measure\" must be cpu, host_cpu, memory, host_memory, heap, "
			    "heap_limit, "
			    "heap_total, loop_delay, gc_pause, pool_used, pool_idle, pool_max, pool_pending "
			    "or "
			    "pool_wait"),
		       ERR_INVALID;
	if (!x->agg_name)
		x->agg_name = "avg";
	if (metrics_agg_parse(x->agg_name, &x->agg, &x->quantile) < 0 || (measure && x->agg == METRICS_RATE))
		return errf(err, errlen,
			    "\"metric.agg\" must be avg, max, min, sum%s or a percentile like p95",
			    measure ? "" : ", rate"),
		       ERR_INVALID;
	const struct watch_scope *sc = &r->scope;
	if (sc->endpoint || sc->tool || sc->department || sc->intent)
		return errf(err, errlen,
			    "metric series are told by their producer: \"filters\" takes only \"service\", "
			    "\"env\" and \"version\""),
		       ERR_INVALID;
	return 0;
}

static int parse_condition(const struct json *o, struct alert_rule *r, char *err, size_t errlen)
{
	const char *c = json_str(json_get(o, "comparison"));
	r->cmp = CMP_GT;
	if (c) {
		size_t i = 0;
		while (i < 4 && strcmp(c, cmp_names[i]))
			i++;
		if (i == 4)
			return errf(err, errlen, "\"comparison\" must be \">\", \">=\", \"<\" or \"<=\""),
			       ERR_INVALID;
		r->cmp = (enum rule_cmp)i;
	}
	const struct json *f = json_get(o, "factor"), *t = json_get(o, "threshold");
	if (f && f->type != JSON_NULL) {
		if (json_double(f, &r->factor) < 0 || !(r->factor > 0) || r->factor > 1e6)
			return errf(err, errlen, "\"factor\" must be a number above 0 (N x the baseline)"),
			       ERR_INVALID;
	} else if (json_double(t, &r->threshold) < 0 || !isfinite(r->threshold))
		return errf(err, errlen,
			    "a rule needs a \"threshold\" (a number) or a \"factor\" of its baseline"),
		       ERR_INVALID;
	return 0;
}

static int parse_severity(const struct json *o, struct alert_rule *r, char *err, size_t errlen)
{
	const char *s = json_str(json_get(o, "severity"));
	r->severity = "warning";
	if (!json_get(o, "severity"))
		return 0;
	if (s && (!strcmp(s, "info") || !strcmp(s, "warning") || !strcmp(s, "critical"))) {
		r->severity = !strcmp(s, "info") ? "info" : !strcmp(s, "warning") ? "warning" : "critical";
		return 0;
	}
	return errf(err, errlen, "\"severity\" must be \"info\", \"warning\" or \"critical\""), ERR_INVALID;
}

/* "slow_ms" of slow_share and slow_count: slow is at least this (500). */
static int parse_slow_ms(const struct json *o, struct alert_rule *r, char *err, size_t errlen)
{
	const struct json *v = json_get(o, "slow_ms");
	int slow = r->measure == RULE_SLOW_SHARE || r->measure == RULE_SLOW_COUNT;
	r->slow_ms = slow ? 500 : 0;
	if (!v || v->type == JSON_NULL)
		return 0;
	if (!slow)
		return errf(err, errlen, "\"slow_ms\" belongs to the measures slow_share and slow_count"),
		       ERR_INVALID;
	if (json_uint64(v, &r->slow_ms) < 0 || !r->slow_ms || r->slow_ms > EXACT_MAX_MS)
		return errf(err, errlen, "\"slow_ms\" must be a whole number of milliseconds from 1 to %llu",
			    (unsigned long long)EXACT_MAX_MS),
		       ERR_INVALID;
	return 0;
}

int rule_is_exact(const struct alert_rule *r)
{
	return r->slow_ms && exact_needed(r->slow_ms);
}

int rule_parse(const struct json *o, const char *id, struct arena *a, struct alert_rule *r, char *err,
	       size_t errlen)
{
	int rc;
	memset(r, 0, sizeof(*r));
	r->window_s = 300;
	r->baseline_s = 3600;
	r->enabled = 1;
	if (!o || o->type != JSON_OBJECT)
		return errf(err, errlen, "a rule is a JSON object"), ERR_INVALID;
	if ((rc = json_field_str(o, "id", 64, a, &r->id, err, errlen)) < 0 ||
	    (rc = json_field_str(o, "name", SLO_NAME_MAX, a, &r->name, err, errlen)) < 0 ||
	    (rc = parse_measure(o, r, err, errlen)) < 0 || (rc = parse_condition(o, r, err, errlen)) < 0 ||
	    (rc = parse_severity(o, r, err, errlen)) < 0 ||
	    (rc = watch_duration_member(o, "window", 60, RULE_MAX_WINDOW_S, &r->window_s, err, errlen)) < 0 ||
	    (rc = watch_duration_member(o, "baseline", 60, RULE_MAX_WINDOW_S, &r->baseline_s, err, errlen)) <
		    0 ||
	    (rc = watch_duration_member(o, "for", 0, 86400, &r->for_s, err, errlen)) < 0 ||
	    (rc = watch_scope_parse(json_get(o, "filters"), a, &r->scope, err, errlen)) < 0 ||
	    (rc = watch_channels_parse(o, a, &r->channels, &r->n_channels, err, errlen)) < 0 ||
	    (rc = watch_duration_member(o, "repeat", 0, WATCH_REPEAT_MAX_S, &r->repeat_s, err, errlen)) < 0)
		return rc;
	const struct json *mr = json_get(o, "min_requests"), *en = json_get(o, "enabled");
	if (mr && json_uint64(mr, &r->min_requests) < 0)
		return errf(err, errlen, "\"min_requests\" must be a count"), ERR_INVALID;
	if (en && en->type != JSON_TRUE && en->type != JSON_FALSE)
		return errf(err, errlen, "\"enabled\" must be true or false"), ERR_INVALID;
	r->enabled = !en || en->type == JSON_TRUE;
	if ((r->measure == RULE_SLOW_SPIKES || r->measure == RULE_REGRESSIONS) &&
	    (r->scope.endpoint || r->scope.tool || r->scope.env || r->scope.version || r->scope.department ||
	     r->scope.intent))
		return errf(err, errlen, "%s are found per service: \"filters\" takes only \"service\"",
			    rule_measure_names[r->measure]),
		       ERR_INVALID;
	if ((r->measure == RULE_METRIC && (rc = parse_metric(o, a, r, err, errlen)) < 0) ||
	    (rc = parse_slow_ms(o, r, err, errlen)) < 0)
		return rc;
	r->window_s = r->window_s / 60 * 60;
	r->baseline_s = r->baseline_s / 60 * 60;
	if (id)
		r->id = arena_strdup(a, id);
	if (!r->name)
		r->name = r->id ? r->id : "rule";
	return 0;
}

static void metric_write(struct json_w *w, const struct rule_metric *m)
{
	jw_kobj_begin(w, "metric");
	jw_kstr(w, m->name ? "name" : "measure", m->name ? m->name : resource_measure_names[m->measure]);
	jw_kstr(w, "agg", m->agg_name ? m->agg_name : "avg");
	if (m->group_by)
		jw_kstr(w, "group_by", m->group_by);
	jw_obj_end(w);
}

void rule_write(struct buf *b, const struct alert_rule *r)
{
	struct json_w w;
	jw_init(&w, b);
	jw_obj_begin(&w);
	if (r->id)
		jw_kstr(&w, "id", r->id);
	jw_kstr(&w, "name", r->name ? r->name : "");
	jw_kstr(&w, "measure", rule_measure_names[r->measure]);
	jw_kstr(&w, "comparison", cmp_names[r->cmp]);
	if (r->factor > 0) {
		jw_kdouble(&w, "factor", r->factor);
		jw_kuint(&w, "baseline", r->baseline_s);
	} else {
		jw_kdouble(&w, "threshold", r->threshold);
	}
	jw_kuint(&w, "window", r->window_s);
	jw_kuint(&w, "for", r->for_s);
	jw_kuint(&w, "min_requests", r->min_requests);
	jw_kstr(&w, "severity", r->severity);
	jw_kbool(&w, "enabled", r->enabled);
	if (r->measure == RULE_METRIC)
		metric_write(&w, &r->metric);
	if (r->slow_ms)
		jw_kuint(&w, "slow_ms", r->slow_ms);
	if (r->repeat_s)
		jw_kuint(&w, "repeat", r->repeat_s);
	jw_key(&w, "filters");
	watch_scope_put(&w, &r->scope);
	watch_channels_put(&w, r->channels, r->n_channels);
	jw_obj_end(&w);
}

int rule_compare(enum rule_cmp c, double v, double limit)
{
	if (isnan(v) || isnan(limit))
		return 0;
	switch (c) {
	case CMP_GT: return v > limit;
	case CMP_GTE: return v >= limit;
	case CMP_LT: return v < limit;
	case CMP_LTE: return v <= limit;
	}
	return 0;
}

/* ---- measuring -------------------------------------------------------------- */

/* The mean over services of each service's p95, from rows of any order. */
static double service_p95_mean(struct rollup_row *rows, size_t n)
{
	double sum = 0;
	size_t services = 0;
	char *done = calloc(n ? n : 1, 1);
	if (!done)
		return NAN;
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		struct latency_stats s;
		latency_stats_init(&s);
		for (size_t j = i; j < n; j++)
			if (!done[j] && (rows[j].service == rows[i].service ||
					 (rows[j].service && rows[i].service &&
					  !strcmp(rows[j].service, rows[i].service)))) {
				done[j] = 1;
				latency_stats_add_row(&s, &rows[j]);
			}
		if (s.count) {
			sum += latency_stats_quantile_ms(&s, 0.95);
			services++;
		}
		latency_stats_release(&s);
	}
	free(done);
	return services ? sum / (double)services : NAN;
}

static double measure_of(const struct alert_rule *r, const struct latency_stats *s, uint64_t minutes)
{
	uint64_t slow = 0, slow_ns = (r->slow_ms ? r->slow_ms : 500) * 1000000ull;
	for (int t = 0; t < TIER_COUNT; t++) /* the tiers at slow_ms or more (a tier bound) */
		slow += request_tier_lo_ns[t] >= slow_ns ? s->by_tier[t] : 0;
	switch (r->measure) {
	case RULE_P50: return latency_stats_quantile_ms(s, 0.50);
	case RULE_P95: return latency_stats_quantile_ms(s, 0.95);
	case RULE_P99: return latency_stats_quantile_ms(s, 0.99);
	case RULE_ERROR_RATE: return s->count ? 100.0 * latency_stats_error_rate(s) : NAN;
	case RULE_THROUGHPUT: return (double)s->count / (double)(minutes ? minutes : 1);
	case RULE_SLOW_SHARE: return s->count ? 100.0 * (double)slow / (double)s->count : NAN;
	case RULE_SLOW_COUNT: return (double)slow;
	default: return NAN;
	}
}

/* Spikes stored by the built-in check in [from_ns, to_ns): *value. */
static int spikes_in(struct store *st, const struct alert_rule *r, uint64_t from_ns, uint64_t to_ns,
		     double *value, uint64_t *requests, char *err, size_t errlen)
{
	struct arena a;
	struct store_record *ev;
	size_t n;
	arena_init(&a);
	int rc = store_events(st, SLOWOPS_EVENT_KIND, r->scope.service, from_ns, to_ns, 0, &a, &ev, &n, err,
			      errlen);
	*value = rc == 0 ? (double)n : NAN;
	*requests = rc == 0 ? n : 0;
	arena_release(&a);
	return rc;
}

/* ---- metric series and regressions ------------------------------------------- */

/* Whether a measure's agg folds its one-minute values (else the metric
 * query aggregates the whole step itself). */
static int folds_minutes(const struct rule_metric *m)
{
	return m->measure && m->agg != METRICS_AVG;
}

/* The agg of v[0 .. n) (NaN skipped; sorts v in place): a measure's
 * one-minute values folded into one step. */
static double fold(const struct rule_metric *m, double *v, size_t n)
{
	size_t k = 0;
	double acc = 0;
	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[k++] = v[i];
	if (!k)
		return NAN;
	if (m->agg == METRICS_QUANTILE)
		return metrics_quantile_values(v, k, m->quantile);
	acc = v[0];
	for (size_t i = 1; i < k; i++)
		acc = m->agg == METRICS_MAX   ? fmax(acc, v[i])
		      : m->agg == METRICS_MIN ? fmin(acc, v[i])
					      : acc + v[i];
	return acc;
}

/* The worse of a and b for the comparison (NaN: the other). */
static double worse(enum rule_cmp c, double a, double b)
{
	if (isnan(a))
		return b;
	if (isnan(b))
		return a;
	return c == CMP_GT || c == CMP_GTE ? fmax(a, b) : fmin(a, b);
}

/* The metric's values over [from_ns, from_ns + n * step_ns), one per
 * step: each group's aggregate, the worst group's.  *points: read. */
static int metric_values(struct store *st, const struct alert_rule *r, uint64_t from_ns, uint64_t step_ns,
			 size_t n, double *out, uint64_t *points, char *err, size_t errlen)
{
	const struct rule_metric *m = &r->metric;
	struct metrics_request q = {.name = m->name,
				    .measure = m->measure,
				    .agg = m->agg,
				    .quantile = m->quantile,
				    .group_by = m->group_by,
				    .exact_from = 1};
	struct metrics_answer ans;
	struct arena a;
	q.f = (struct metrics_filter){from_ns,	    from_ns + n * step_ns, r->scope.service,
				      r->scope.env, r->scope.version,	   NULL};
	q.step_ns = folds_minutes(m) ? NS_PER_MIN : step_ns;
	size_t per = (size_t)(step_ns / q.step_ns);
	arena_init(&a);
	int rc = metrics_query(st, &q, &a, &ans, err, errlen);
	for (size_t i = 0; i < n; i++)
		out[i] = NAN;
	*points = rc == 0 ? ans.points : 0;
	for (size_t l = 0; rc == 0 && l < ans.n_lines; l++)
		for (size_t i = 0; i < n && (i + 1) * per <= ans.n_steps; i++)
			out[i] = worse(r->cmp, out[i],
				       per == 1 ? ans.lines[l].values[i]
						: fold(m, ans.lines[l].values + i * per, per));
	arena_release(&a);
	return rc;
}

/* Whether an audit entry of the regressions is a flag of the scope's service. */
static int is_flag_of(const char *json, const char *service)
{
	struct json_doc d;
	char msg[128];
	if (json_doc_parse(&d, json, strlen(json), 0, msg, sizeof(msg)) < 0)
		return 0;
	const char *action = json_str(json_get(d.root, "action"));
	const char *of = json_str(json_get(json_get(d.root, "regression"), "service"));
	int yes = action && !strcmp(action, "auto_flag") && (!service || (of && !strcmp(of, service)));
	json_doc_release(&d);
	return yes;
}

/* The regressions flagged in each step of [from_ns, from_ns + n * step_ns). */
static int regression_counts(struct store *st, const struct alert_rule *r, uint64_t from_ns, uint64_t step_ns,
			     size_t n, double *out, char *err, size_t errlen)
{
	struct arena a;
	struct store_record *ev;
	size_t ne;
	uint64_t to_ns = from_ns + n * step_ns;
	arena_init(&a);
	int rc = store_events(st, REGRESSIONS_AUDIT_KIND, NULL, from_ns, to_ns, 0, &a, &ev, &ne, err, errlen);
	for (size_t i = 0; i < n; i++)
		out[i] = rc == 0 ? 0 : NAN;
	for (size_t i = 0; rc == 0 && i < ne; i++)
		if (ev[i].time_ns >= from_ns && ev[i].time_ns < to_ns &&
		    is_flag_of(ev[i].json, r->scope.service))
			out[(ev[i].time_ns - from_ns) / step_ns] += 1;
	arena_release(&a);
	return rc;
}

/* The measures that are not read from the request rollups, over n steps. */
static int other_values(struct store *st, const struct alert_rule *r, uint64_t from_ns, uint64_t step_ns,
			size_t n, double *out, uint64_t *requests, char *err, size_t errlen)
{
	int rc;
	*requests = 0;
	if (r->measure == RULE_METRIC)
		return metric_values(st, r, from_ns, step_ns, n, out, requests, err, errlen);
	rc = regression_counts(st, r, from_ns, step_ns, n, out, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++)
		*requests += (uint64_t)out[i];
	return rc;
}

struct rule_cache {
	struct strmap index;
	struct latency_stats *stats;
	size_t n, cap;
	struct buf key;
};

struct rule_cache *rule_cache_new(void)
{
	struct rule_cache *c = xcalloc(1, sizeof(*c));
	strmap_init(&c->index);
	buf_init(&c->key, BUF_NO_LIMIT);
	return c;
}

void rule_cache_free(struct rule_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		latency_stats_release(&c->stats[i]);
	free(c->stats);
	strmap_release(&c->index);
	buf_release(&c->key);
	free(c);
}

/* The key of a question: the query's filters and range. */
static void cache_key(struct buf *b, const struct store_query *q)
{
	const char *v[] = {q->service, q->endpoint, q->tool, q->env, q->version, q->department, q->intent};
	buf_reset(b);
	buf_printf(b, "%llu/%llu/%d", (unsigned long long)q->from_ns, (unsigned long long)q->to_ns,
		   q->edge_only);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		buf_putc(b, v[i] ? 1 : 0);
		buf_append(b, v[i] ? v[i] : "", v[i] ? strlen(v[i]) + 1 : 1);
	}
}

/* The merged statistics of the query's rows (and the rows themselves,
 * when `rows` is not NULL: then nothing is cached). */
static int read_stats(struct store *st, const struct store_query *q, struct latency_stats *s, struct arena *a,
		      struct rollup_row **rows, size_t *n, char *err, size_t errlen)
{
	struct rollup_row *r;
	size_t nr;
	int rc = store_rollups(st, q, 60, a, &r, &nr, err, errlen);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < nr; i++)
		latency_stats_add_row(s, &r[i]);
	if (rows) {
		*rows = r;
		*n = nr;
	} else
		store_rollups_release(r, nr);
	return 0;
}

/* From the cache, or read and kept there. */
static int cached_stats(struct store *st, struct rule_cache *c, const struct store_query *q,
			const struct latency_stats **out, char *err, size_t errlen)
{
	int64_t at;
	cache_key(&c->key, q);
	if (strmap_get(&c->index, c->key.data, c->key.len, &at) == 0) {
		*out = &c->stats[at];
		return 0;
	}
	struct arena a;
	struct latency_stats s;
	arena_init(&a);
	latency_stats_init(&s);
	int rc = read_stats(st, q, &s, &a, NULL, NULL, err, errlen);
	arena_release(&a);
	if (rc < 0) {
		latency_stats_release(&s);
		return rc;
	}
	c->stats = xgrow(c->stats, &c->cap, c->n + 1, sizeof(*c->stats));
	c->stats[c->n] = s;
	strmap_put(&c->index, c->key.data, c->key.len, (int64_t)c->n);
	*out = &c->stats[c->n++];
	return 0;
}

/* slow_share or slow_count of a threshold that is not a tier bound, from
 * the exact counts (watch/exact.h): NaN before they exist. */
static double exact_value(const struct alert_rule *r, uint64_t from_ns, uint64_t to_ns, uint64_t *requests)
{
	struct slo_counts c;
	uint64_t since;
	*requests = 0;
	if (exact_counts(&r->scope, r->slow_ms, from_ns, to_ns, &c, &since) < 0)
		return NAN;
	*requests = c.total;
	if (r->measure == RULE_SLOW_COUNT)
		return (double)(c.total - c.good);
	return c.total ? 100.0 * (double)(c.total - c.good) / (double)c.total : NAN;
}

int rule_value(struct store *st, struct rule_cache *cache, const struct alert_rule *r, uint64_t from_ns,
	       uint64_t to_ns, double *value, uint64_t *requests, char *err, size_t errlen)
{
	struct store_query q;
	struct arena a;
	struct rollup_row *rows = NULL;
	size_t n = 0;
	struct latency_stats s;
	const struct latency_stats *use = &s;
	int per_service = r->measure == RULE_SERVICE_P95_MEAN;
	*value = NAN;
	*requests = 0;
	if (r->measure == RULE_METRIC || r->measure == RULE_REGRESSIONS)
		return other_values(st, r, from_ns, to_ns - from_ns, 1, value, requests, err, errlen);
	if (r->measure == RULE_SLOW_SPIKES)
		return spikes_in(st, r, from_ns, to_ns, value, requests, err, errlen);
	if (rule_is_exact(r)) {
		*value = exact_value(r, from_ns, to_ns, requests);
		return 0;
	}
	watch_scope_query(&r->scope, from_ns, to_ns, &q);
	if (per_service)
		q.edge_only = 0; /* each service's own requests */
	arena_init(&a);
	latency_stats_init(&s);
	int rc = cache && !per_service ? cached_stats(st, cache, &q, &use, err, errlen)
				       : read_stats(st, &q, &s, &a, &rows, &n, err, errlen);
	if (rc == 0) {
		*requests = use->count;
		*value = per_service ? service_p95_mean(rows, n)
				     : measure_of(r, use, (to_ns - from_ns) / NS_PER_MIN);
	}
	if (rows)
		store_rollups_release(rows, n);
	latency_stats_release(&s);
	arena_release(&a);
	return rc;
}

/* The measure of rows[0 .. n) (one step of a series). */
static double step_value(const struct alert_rule *r, struct rollup_row *rows, size_t n, uint64_t minutes)
{
	struct latency_stats s;
	double v;
	if (r->measure == RULE_SERVICE_P95_MEAN)
		return service_p95_mean(rows, n);
	latency_stats_init(&s);
	for (size_t i = 0; i < n; i++)
		latency_stats_add_row(&s, &rows[i]);
	v = r->measure == RULE_SLOW_COUNT || r->measure == RULE_THROUGHPUT || s.count
		    ? measure_of(r, &s, minutes)
		    : NAN;
	latency_stats_release(&s);
	return v;
}

static int spike_series(struct store *st, const struct alert_rule *r, uint64_t from_ns, uint64_t to_ns,
			uint64_t step, struct arena *a, double **values, size_t *n, char *err, size_t errlen)
{
	struct store_record *ev;
	size_t ne;
	int rc = store_events(st, SLOWOPS_EVENT_KIND, r->scope.service, from_ns, to_ns, 0, a, &ev, &ne, err,
			      errlen);
	if (rc < 0)
		return rc;
	*n = (size_t)((to_ns - from_ns + step - 1) / step);
	*values = arena_zalloc(a, *n * sizeof(**values));
	for (size_t i = 0; i < ne; i++)
		if (ev[i].time_ns >= from_ns && ev[i].time_ns < to_ns)
			(*values)[(ev[i].time_ns - from_ns) / step] += 1;
	return 0;
}

int rule_series(struct store *st, const struct alert_rule *r, uint64_t from_ns, uint64_t to_ns,
		uint64_t step_s, struct arena *a, double **values, size_t *n, char *err, size_t errlen)
{
	struct store_query q;
	struct arena ra;
	struct rollup_row *rows;
	size_t nr;
	uint64_t step = step_s * NS_PER_S;
	*values = NULL;
	*n = 0;
	if (!step_s || step_s % 60 || to_ns <= from_ns || (to_ns - from_ns) / step > RULE_SERIES_MAX)
		return errf(err, errlen, "a series has whole-minute steps, at most %d of them",
			    RULE_SERIES_MAX),
		       ERR_TOO_MUCH;
	if (r->measure == RULE_SLOW_SPIKES)
		return spike_series(st, r, from_ns, to_ns, step, a, values, n, err, errlen);
	if (rule_is_exact(r)) {
		uint64_t seen;
		*n = (size_t)((to_ns - from_ns + step - 1) / step);
		*values = arena_alloc(a, *n * sizeof(**values));
		for (size_t i = 0; i < *n; i++)
			(*values)[i] = exact_value(r, from_ns + i * step, from_ns + (i + 1) * step, &seen);
		return 0;
	}
	if (r->measure == RULE_METRIC || r->measure == RULE_REGRESSIONS) {
		uint64_t seen;
		*n = (size_t)((to_ns - from_ns + step - 1) / step);
		*values = arena_alloc(a, *n * sizeof(**values));
		return other_values(st, r, from_ns, step, *n, *values, &seen, err, errlen);
	}
	watch_scope_query(&r->scope, from_ns, to_ns, &q);
	if (r->measure == RULE_SERVICE_P95_MEAN)
		q.edge_only = 0;
	arena_init(&ra);
	int rc = store_rollups(st, &q, 60, &ra, &rows, &nr, err, errlen);
	if (rc == 0) {
		*n = (size_t)((to_ns - from_ns + step - 1) / step);
		*values = arena_alloc(a, *n * sizeof(**values));
		size_t at = 0; /* rows come ordered by time */
		for (size_t i = 0; i < *n; i++) {
			uint64_t end = from_ns + (i + 1) * step;
			size_t first = at;
			while (at < nr && rows[at].t_ns < end)
				at++;
			(*values)[i] = step_value(r, rows + first, at - first, step_s / 60);
		}
		store_rollups_release(rows, nr);
	}
	arena_release(&ra);
	return rc;
}

int rule_evaluate(struct store *st, struct rule_cache *cache, const struct alert_rule *r, uint64_t now_ns,
		  struct rule_verdict *v, char *err, size_t errlen)
{
	uint64_t end = slo_window_end(now_ns), from = end - r->window_s * NS_PER_S;
	int rc = rule_value(st, cache, r, from, end, &v->value, &v->requests, err, errlen);
	v->holds = 0;
	v->limit = r->threshold;
	if (rc < 0)
		return rc;
	if (r->factor > 0) {
		double base;
		uint64_t base_n;
		rc = rule_value(st, cache, r, from - r->baseline_s * NS_PER_S, from, &base, &base_n, err,
				errlen);
		if (rc < 0)
			return rc;
		/* Counts scale with the window: compare like with like. */
		if (r->measure == RULE_SLOW_COUNT || r->measure == RULE_REGRESSIONS)
			base = base * (double)r->window_s / (double)r->baseline_s;
		v->limit = r->factor * base;
		if (!(base > 0))
			return 0; /* nothing to be N times of */
	}
	v->holds = v->requests >= r->min_requests && rule_compare(r->cmp, v->value, v->limit);
	return 0;
}
