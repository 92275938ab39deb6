/*
 * rule.h - alert rules: a measure of the requests a scope selects (or of
 * its metric series, or of the spikes and regressions found in it), over a
 * window, compared with a threshold or with N times its own baseline.
 *
 *   measure  p50, p95, p99 (ms), error_rate (%), throughput (requests per
 *            minute), slow_share (% of requests at 500 ms or more: the
 *            slow and critical tiers, counted exactly), slow_count (both
 *            take "slow_ms", 500 by default: any threshold, counted
 *            exactly, from the rollups' tiers for 100, 500 and 2000 ms and
 *            by watch/exact.h otherwise), and
 *            service_p95_mean (ms: the mean of the p95 of each service in
 *            scope — a department's performance budget), and slow_spikes
 *            (the spikes of slow requests the built-in check found and
 *            stored in the window, of the service filtered or of all: the
 *            default rule "slow-spike" alerts on them).
 *            regressions (the regressions the background change watch
 *            flagged in the window, its "auto_flag" entries of the
 *            regression audit trail, of the service filtered or of all: the
 *            default rule "regression" alerts on them), and metric (a
 *            metric series, below).
 *   metric   {"name": a metric, or "measure": a resource measure (cpu,
 *            memory, pool_used ... query/metrics.h), "agg", "group_by"}:
 *            the metric's aggregate over the whole window (agg: avg, max,
 *            min, sum, rate, pNN; metrics_query() with the window as one
 *            step).  A resource measure's avg is the measure over the
 *            window; its max, min, sum and pNN are over its one-minute
 *            values.  Grouped, the value is the worst group's: the highest
 *            for > and >=, the lowest for < and <=.  The "requests" of a
 *            metric rule are the points read.  Filters: service, env,
 *            version.
 *   window   the last `window_s` (whole minutes, default 300)
 *   baseline "factor": N > 0 compares with N times the same measure over
 *            the `baseline_s` before the window (default 3600)
 *   for      the condition holds (or stops holding) this long before the
 *            alert fires (or resolves): no flapping
 *   repeat   while the alert fires and nobody acknowledged it, its channels
 *            get a "reminder" this often (0, the default: never)
 *
 * Strings of a parsed rule live in the caller's arena.
 */
#ifndef HOTPATH_WATCH_RULE_H
#define HOTPATH_WATCH_RULE_H

#include "query/metrics.h"
#include "watch/slo.h"

enum rule_measure {
	RULE_P50,
	RULE_P95,
	RULE_P99,
	RULE_ERROR_RATE,
	RULE_THROUGHPUT,
	RULE_SLOW_SHARE,
	RULE_SLOW_COUNT,
	RULE_SERVICE_P95_MEAN,
	RULE_SLOW_SPIKES, /* spikes the built-in check stored (analyze/slowops.h) */
	RULE_METRIC,	  /* a metric series (struct rule_metric) */
	RULE_REGRESSIONS, /* regressions the change watch flagged (query/regressions.h) */
	RULE_MEASURES
};
extern const char *const rule_measure_names[RULE_MEASURES];

enum rule_cmp { CMP_GT, CMP_GTE, CMP_LT, CMP_LTE };

/* What a RULE_METRIC rule reads: `name` or `measure` (one of them). */
struct rule_metric {
	const char *name;
	enum resource_measure measure;
	enum metrics_agg agg;
	double quantile;      /* METRICS_QUANTILE */
	const char *agg_name; /* as given: "avg", "p95" ... */
	const char *group_by; /* NULL: one line */
};

struct alert_rule {
	const char *id, *name;
	enum rule_measure measure;
	struct watch_scope scope;
	struct rule_metric metric; /* RULE_METRIC */
	enum rule_cmp cmp;
	double threshold;		      /* without a factor */
	double factor;			      /* > 0: compare with factor x baseline */
	uint64_t window_s, baseline_s, for_s; /* seconds */
	uint64_t min_requests;		      /* fewer requests in the window: no verdict */
	uint64_t slow_ms;		      /* slow_share, slow_count: slow is at least this (500) */
	const char *severity;		      /* "info", "warning", "critical" */
	const char **channels;
	size_t n_channels;
	uint64_t repeat_s; /* firing, not acknowledged: page again this often (0: never) */
	int enabled;
};

/* Whether the rule's slow requests are counted by watch/exact.h. */
int rule_is_exact(const struct alert_rule *r);
int rule_parse(const struct json *o, const char *id, struct arena *a, struct alert_rule *out, char *err,
	       size_t errlen);
void rule_write(struct buf *b, const struct alert_rule *r);

/*
 * What the rules of one evaluation read, kept for the others: the merged
 * latency statistics of each (filters, range) asked.  Rules that share
 * their filters and window (the rules of one service) read the rollups
 * once.  NULL where a cache is taken: no caching.
 */
struct rule_cache;
struct rule_cache *rule_cache_new(void);
void rule_cache_free(struct rule_cache *c);

/* The measure over [from_ns, to_ns) (whole minutes) and the requests it
 * saw.  NaN when there were none (for the ratios and percentiles). */
int rule_value(struct store *st, struct rule_cache *cache, const struct alert_rule *r, uint64_t from_ns,
	       uint64_t to_ns, double *value, uint64_t *requests, char *err, size_t errlen);

/*
 * The measure over [from_ns, to_ns) step by step (whole minutes; `step_s`
 * a multiple of 60): values[i] covers [from_ns + i * step, + step), NaN
 * where no request was seen.  A performance budget's consumption over
 * time.  Reads the range's minute rollups once; `values` lives in `a`.
 */
#define RULE_SERIES_MAX 2000
int rule_series(struct store *st, const struct alert_rule *r, uint64_t from_ns, uint64_t to_ns,
		uint64_t step_s, struct arena *a, double **values, size_t *n, char *err, size_t errlen);

/* Whether `value` passes the comparison against `limit`. */
int rule_compare(enum rule_cmp c, double value, double limit);

/* The rule's verdict at `now_ns`: *holds, the value and the limit it was
 * compared with (the threshold, or factor x baseline). */
struct rule_verdict {
	int holds;
	double value, limit;
	uint64_t requests;
};
int rule_evaluate(struct store *st, struct rule_cache *cache, const struct alert_rule *r, uint64_t now_ns,
		  struct rule_verdict *v, char *err, size_t errlen);

#endif
