/*
 * metrics.h - metric series read back: the series list, and time series of
 * one metric (or one resource measure) on a grid of steps, aggregated and
 * grouped.  Owns the arithmetic: counters' increases across resets, rates,
 * quantiles over raw values and over histogram buckets, the time-of-day
 * fold.  It neither parses HTTP nor prints.
 *
 * How a cell (line, step) is made, from the points of its series in that
 * step:
 *   gauge, sum   avg: the mean of each series' mean; sum: the sum of the
 *                series' means; max / min: over the points; pNN: over the
 *                points' values; rate (sums only): the increases of each
 *                series (cumulative: across resets, a drop counts as a
 *                restart from 0; delta: the values) summed, per second.
 *   histogram    avg: sum / count of the observations in the step; sum: their
 *                sum; rate: their count per second; pNN: interpolated in
 *                the merged bucket counts of the step (cumulative points
 *                contribute their increase).
 *   a measure    the sum of its series' means (CPU states, heap spaces and
 *                instances add up), in the measure's unit
 *                (ingest/semconv_metrics.h); process CPU is multiplied by its
 *                host's CPU count when the producer, or another producer of
 *                the same host.name, reports system.cpu.* (the host-metrics
 *                packages and hotpath agent divide by it).
 *
 * Steps of whole hours read the store's hourly aggregates of gauges and
 * sums (store_scan_series_hours()) and the points of the partial hours at
 * the range's ends, except for percentiles, which read every point.
 *
 * Ownership: answers live in the caller's arena.  A struct metrics_acc is
 * the caller's (metrics_acc_release()); it serves one thread.  Other
 * modules (SLOs, alerts) call metrics_query() with a struct metrics_request.
 */
#ifndef HOTPATH_QUERY_METRICS_H
#define HOTPATH_QUERY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/strmap.h"
#include "ingest/semconv_metrics.h"
#include "store/store.h"

/* Steps in one answer at most; lines at most (more: `truncated`). */
#define METRICS_MAX_STEPS 1500
#define METRICS_MAX_LINES 200

enum metrics_agg { METRICS_AVG, METRICS_MAX, METRICS_MIN, METRICS_SUM, METRICS_RATE, METRICS_QUANTILE };

/* "avg", "p95", "p99.9" ... into *agg (and *q for a quantile).  -1: not one. */
int metrics_agg_parse(const char *s, enum metrics_agg *agg, double *q);

/* Which producers: NULL strings mean any. */
struct metrics_filter {
	uint64_t from_ns, to_ns;
	const char *service, *env, *version;
	const char *instance; /* service.instance.id, else host.name */
};

struct metrics_request {
	struct metrics_filter f;
	const char *name;	       /* a metric, exactly; or NULL and: */
	enum resource_measure measure; /* a resource measure */
	uint64_t step_ns;	       /* > 0 */
	enum metrics_agg agg;	       /* for `name` */
	double quantile;	       /* METRICS_QUANTILE: in (0, 1) */
	const char *group_by;	       /* NULL: one line; else service, instance, host, env,
					 * version, pool, or a point or resource attribute key */
	int cpu_share;		       /* MEASURE_CPU as reported (a share of the host, or of one core
			* when no CPU count is told), not in cores */
	int exact_from;		       /* the steps start at f.from_ns itself, not rounded down to
				* the step (an alert rule's window as one step); never the
				* hourly aggregates then */
};

struct metrics_line {
	const char *key; /* the group's value; NULL: none (no group_by, or absent) */
	double *values;	 /* n_steps; NAN: no data */
	uint64_t points;
};

struct metrics_answer {
	uint64_t t0_ns, step_ns; /* step i starts at t0_ns + i * step_ns */
	size_t n_steps;
	const char *unit; /* of the values ("cores", "By", "1/s" for rates ...) */
	int type;	  /* enum metric_type of the series read; 0: none */
	int delta;	  /* they were DELTA sums / histograms */
	struct metrics_line *lines;
	size_t n_lines;
	int truncated;		 /* groups past METRICS_MAX_LINES were left out */
	uint64_t points, series; /* read */
	uint64_t resets;	 /* restarts of cumulative series seen between points read one by
				  * one and between hours (a restart inside an aggregated hour is
				  * in that hour's increase, not counted here) */
	uint64_t skipped_bounds; /* histogram points whose bounds differ from their line's */
};

/*
 * Steps of `step_ns` covering [from_ns, to_ns): t0 = from rounded down to
 * the step.  ERR_TOO_MUCH with a message naming `step` when they pass
 * METRICS_MAX_STEPS.
 */
int metrics_grid(uint64_t from_ns, uint64_t to_ns, uint64_t step_ns, uint64_t *t0_ns, size_t *n_steps,
		 char *err, size_t errlen);
/* A step for the range: about 240 steps, rounded up to 10 s, 1, 5, 15 min, 1, 6 h, 1 d. */
uint64_t metrics_default_step(uint64_t range_ns);

/*
 * The answer of `r`.  0, or a negative enum err_class with a message:
 * ERR_INVALID when the aggregation does not fit the metric's type (naming
 * `agg`), ERR_TOO_MUCH for too many steps.  An unknown metric is an empty
 * answer (no lines), not an error.
 */
int metrics_query(struct store *s, const struct metrics_request *r, struct arena *a,
		  struct metrics_answer *out, char *err, size_t errlen);

/* ---- the arithmetic, for metrics_query() and its tests ---- */

/* The increase from `prev` to `cur` of a cumulative counter: a drop is a restart from 0. */
double metrics_counter_increase(double prev, double cur);
/* The q-quantile of n values (sorted in place), linear between closest
 * ranks; NAN for none. */
double metrics_quantile_values(double *v, size_t n, double q);
/*
 * The q-quantile of a histogram: the bucket holding rank q * total, linear
 * inside it; the first bucket starts at 0 (or at its bound if that is
 * negative), the overflow bucket answers the last bound.  NAN for none.
 */
double metrics_quantile_buckets(const double *bounds, uint32_t n_bounds, const uint64_t *counts, double q);

/* Feeding points by hand (metrics_query() does this from the store). */
struct metrics_acc;
struct metrics_acc *metrics_acc_new(const struct metrics_request *r, uint64_t t0_ns, size_t n_steps);
/* One point of series `series` (points of one series by time, series one
 * after the other).  `cpus`: the producer's CPU count for MEASURE_CPU (0:
 * unknown).  0, or ERR_INVALID when the aggregation does not fit the type. */
int metrics_acc_point(struct metrics_acc *m, int64_t series, const struct metric_point *p, double cpus,
		      char *err, size_t errlen);
/* An hour of a gauge or sum series at once (store_scan_series_hours()):
 * counts as its points would, but for quantiles, which it cannot give. */
int metrics_acc_hour(struct metrics_acc *m, int64_t series, const struct metric_point *p,
		     const struct store_metric_hour *h, double cpus, char *err, size_t errlen);
/* The answer so far, in `a`. */
void metrics_acc_answer(struct metrics_acc *m, struct arena *a, struct metrics_answer *out);
void metrics_acc_free(struct metrics_acc *m);

/*
 * Hour of day x day of week: the mean of the values of each hour of the
 * week (values[i] for the step at t0_ns + i * step_ns, step at most an
 * hour; NAN skipped), at `tz_offset_min` from UTC.  out[d][h], d = 0
 * Monday; NAN where nothing fell.
 */
void metrics_time_of_day(const double *values, size_t n, uint64_t t0_ns, uint64_t step_ns, int tz_offset_min,
			 double out[7][24]);

/* A metric name and what its series hold (GET /api/v1/metrics). */
#define METRICS_LIST_KEYS 32
struct metrics_name {
	const char *name, *unit;
	int type, delta;
	uint64_t series;
	const char *services[METRICS_LIST_KEYS];
	size_t n_services;
	const char *resource_keys[METRICS_LIST_KEYS]; /* of the producers' identity */
	size_t n_resource_keys;
	const char *attribute_keys[METRICS_LIST_KEYS]; /* of the points */
	size_t n_attribute_keys;
};
/*
 * The metrics with points in the filter's range whose name starts with
 * `prefix` (NULL: all), by name; each lists at most METRICS_LIST_KEYS
 * services and keys.  Strings live in `a`.
 */
int metrics_list(struct store *s, const struct metrics_filter *f, const char *prefix, struct arena *a,
		 struct metrics_name **out, size_t *n, char *err, size_t errlen);
/* The producer of a point passes the filter. */
int metrics_filter_match(const struct metrics_filter *f, const struct resource *r);

#endif
