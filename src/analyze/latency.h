/*
 * latency.h - latency analytics over rollup rows: RED summaries, time
 * series, histograms, heatmaps, comparisons, and the self-time breakdown
 * of a set of traces.
 *
 * Owns the arithmetic behind the /api/v1/performance endpoints: merging
 * sketches per group and time bucket, restricting sketches to a latency
 * tier, choosing histogram bins from sketch buckets, and self time per
 * span name.  It
 * does not know about HTTP, SQL or JSON: callers hand it arrays of
 * struct rollup_row (from store_rollups(), or built from raw spans with
 * latency_rowbuilder) and print what it returns.
 *
 * Ownership: every result struct is caller-owned, set up by the function
 * that fills it and freed with its _release().  Results keep pointers to
 * the strings of the rows they were built from (dimension values, error
 * types), so the rows' arena must outlive them.
 */
#ifndef HOTPATH_ANALYZE_LATENCY_H
#define HOTPATH_ANALYZE_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#include "core/sketch.h"
#include "core/arena.h"
#include "core/strmap.h"
#include "store/store.h"

/* Most time buckets a series may have. */
#define LATENCY_MAX_BUCKETS 2000
/* Ranges up to this long are answered from minute rollups, longer ones
 * from hour rollups. */
#define LATENCY_MINUTES_UP_TO_NS (6ull * 3600 * 1000000000)

/* ---- duration bounds (tier, min/max_duration_ms) ---- */

struct latency_bounds {
	double lo_ns;	  /* inclusive; 0: no lower bound */
	double hi_ns;	  /* 0: no upper bound */
	int hi_exclusive; /* hi_ns is exclusive */
};

/* The bounds of a query's min_duration_ns / max_duration_ns. */
void latency_bounds_from_query(struct latency_bounds *b, const struct store_query *q);
/* 1 when the bounds restrict anything. */
int latency_bounds_active(const struct latency_bounds *b);
/* 1 when `ns` lies within the bounds. */
int latency_bounds_contain(const struct latency_bounds *b, double ns);

/*
 * Fill `dst` (initialised, empty) with the buckets of `src` whose
 * representative value (sketch_bucket_value) lies within `b`; the zero
 * bucket counts as value 0.  A bucket straddling a bound goes wholly to
 * one side, so values within SKETCH_ALPHA of a bound may land on the wrong
 * side; quantiles of the result keep the sketch's relative error bound.
 * min and max are exact when src's lie in a kept bucket, else the kept
 * extreme bucket's value; the sum is estimated from bucket values unless
 * every bucket is kept (then src is copied exactly).  0, or -1 on overflow.
 */
int latency_sketch_restrict(struct sketch *dst, const struct sketch *src, const struct latency_bounds *b);

/*
 * The tiers the bounds cover when they are a run of whole performance
 * tiers (a tier= filter, or min/max_duration_ms on tier bounds, max
 * exclusive): 1 with *first and *last set, else 0.
 */
int latency_bounds_tiers(const struct latency_bounds *b, int *first, int *last);

/*
 * Fill `dst` (initialised, empty) with the values of `src` in the tiers
 * [first, last], given src's exact counts per tier.  Buckets are handed to
 * tiers in ascending order, so a bucket straddling a tier bound is split
 * exactly as the counts say; its values are reported clamped into the
 * tier.  The result holds exactly the tiers' counts, and its quantiles keep
 * the sketch's relative error bound.  0; 1 when the tier counts do not add
 * up to src's count (nothing added: restrict by bucket values instead);
 * -1 on overflow.
 */
int latency_sketch_restrict_tiers(struct sketch *dst, const struct sketch *src,
				  const uint64_t tiers[TIER_COUNT], int first, int last);

/* Restrict every row's sketch in place; count and sum_ns follow the
 * restricted sketch, and tier counts outside the bounds become 0.  Rows
 * whose tier counts add up are restricted exactly by them when the bounds
 * are whole tiers (latency_sketch_restrict_tiers).  Does nothing when the
 * bounds are not active. */
int latency_rows_restrict(struct rollup_row *rows, size_t n, const struct latency_bounds *b);

/* ---- statistics of a set of rows ---- */

struct latency_type_count {
	const char *type;
	uint64_t count;
};

struct latency_stats {
	uint64_t count;
	uint64_t by_status[3];	      /* indexed by enum request_status */
	uint64_t by_tier[TIER_COUNT]; /* exact, from the rows' tier counts */
	double sum_ns;
	struct sketch sketch;
	struct latency_type_count *types; /* failures by error type */
	size_t n_types, cap_types;
};

void latency_stats_init(struct latency_stats *s);
void latency_stats_release(struct latency_stats *s);
/* Add one rollup row.  0, or -1 when a count would overflow. */
int latency_stats_add_row(struct latency_stats *s, const struct rollup_row *r);
/* Add every value of src. */
int latency_stats_merge(struct latency_stats *dst, const struct latency_stats *src);
/* q-quantile in milliseconds; NaN when empty. */
double latency_stats_quantile_ms(const struct latency_stats *s, double q);
/* (errors + timeouts) / count; NaN when empty. */
double latency_stats_error_rate(const struct latency_stats *s);
/* Mean, min and max in milliseconds; NaN when empty. */
double latency_stats_mean_ms(const struct latency_stats *s);
double latency_stats_min_ms(const struct latency_stats *s);
double latency_stats_max_ms(const struct latency_stats *s);
/* Order `types` by count, descending (ties by name). */
void latency_stats_sort_types(struct latency_stats *s);

/* Merge all rows into `out` (which this initialises). */
int latency_summary(struct latency_stats *out, const struct rollup_row *rows, size_t n);

/* ---- dimensions ---- */

enum latency_dim {
	LATENCY_BY_NONE = 0,
	LATENCY_BY_SERVICE,
	LATENCY_BY_ENDPOINT,
	LATENCY_BY_ENV,
	LATENCY_BY_VERSION,
	LATENCY_BY_DEPARTMENT,
	LATENCY_BY_INTENT,
	LATENCY_BY_TOOL,
	LATENCY_BY_STATUS,
	LATENCY_BY_ERROR_TYPE,
};

/* "service", "endpoint", "env" (or "environment"), "version", "department"
 * (or "team"), "intent", "tool", "status", "error_type".  0 or -1. */
int latency_dim_parse(const char *name, enum latency_dim *out);
/* The canonical name, or NULL for LATENCY_BY_NONE. */
const char *latency_dim_name(enum latency_dim d);
/* The row's value of a dimension (status as "success", "error",
 * "timeout"); NULL when absent or for LATENCY_BY_NONE. */
const char *latency_row_dim(const struct rollup_row *r, enum latency_dim d);

/* ---- time buckets ---- */

struct latency_grid {
	uint64_t t0_ns; /* start of the first bucket, a multiple of step */
	uint64_t step_ns;
	size_t n; /* buckets: the last one holds to_ns - 1 */
};

/* Rollup resolution for a range: 60 (minutes) up to 6 h, else 3600. */
unsigned latency_resolution(uint64_t range_ns);
/* The default step: the smallest of 60, 120, 300, ... 86400 s that is a
 * multiple of res_s and gives at most 120 buckets (else 86400 rounded up
 * to a multiple of res_s). */
unsigned latency_auto_step(uint64_t from_ns, uint64_t to_ns, unsigned res_s);
/* Buckets of step_s seconds over [from_ns, to_ns).  0, or -1 when step_s
 * is 0 or more than LATENCY_MAX_BUCKETS buckets would be needed. */
int latency_grid_init(struct latency_grid *g, uint64_t from_ns, uint64_t to_ns, unsigned step_s);
/* Bucket of time t, or -1 when outside the grid. */
long latency_grid_index(const struct latency_grid *g, uint64_t t_ns);

/* ---- time series, optionally one per value of a dimension ---- */

struct latency_series {
	const char *key; /* the dimension's value; NULL when absent or ungrouped */
	int other;	 /* the sum of the groups past `top` */
	struct latency_stats total;
	struct latency_stats *points; /* one per grid bucket */
};

struct latency_timeseries {
	struct latency_grid grid;
	enum latency_dim by;
	struct latency_series *series; /* by total count, descending; `other` last */
	size_t n_series;
};

/*
 * Group rows by `by` (one series when LATENCY_BY_NONE), keep the `top`
 * groups with the most requests (0: all) and sum the rest into an `other`
 * series, and bucket each series on the grid.  Rows outside the grid are
 * ignored.  0, or -1 (ts is then empty).
 */
int latency_timeseries_build(struct latency_timeseries *ts, const struct rollup_row *rows, size_t n,
			     const struct latency_grid *g, enum latency_dim by, size_t top);
void latency_timeseries_release(struct latency_timeseries *ts);

/* ---- histogram bins made of whole sketch buckets ---- */

struct latency_bins {
	int zero;      /* bin 0 holds the values below SKETCH_MIN_VALUE */
	int32_t first; /* sketch index at which the first regular bin starts */
	int32_t width; /* sketch buckets per regular bin */
	size_t n;      /* bins, the zero bin included */
};

/* Plan at most max_bins (>= 2) bins covering every non-empty bucket of s:
 * `width` is the smallest that fits, bins are aligned to multiples of it. */
void latency_bins_plan(struct latency_bins *b, const struct sketch *s, unsigned max_bins);
/* Edges of bin i in ns: the bin holds (lo, hi] ([0, 1] for the zero bin). */
void latency_bins_edges(const struct latency_bins *b, size_t i, double *lo_ns, double *hi_ns);
/* hi / lo of every regular bin. */
double latency_bins_ratio(const struct latency_bins *b);
/* Add the counts of s into counts[0 .. b->n); buckets outside the plan go
 * to the nearest end bin. */
void latency_bins_count(const struct latency_bins *b, const struct sketch *s, uint64_t *counts);

/* ---- rollup rows built from raw spans (for q= queries) ---- */

struct latency_rowbuilder {
	struct arena *arena; /* where the rows array lives */
	unsigned res_s;
	struct strmap index; /* (bucket, key) -> row */
	struct rollup_row *rows;
	size_t n, cap;
};

void latency_rowbuilder_init(struct latency_rowbuilder *b, struct arena *a, unsigned res_s);
/*
 * Add one request: `key` gives its dimensions, status and error type (its
 * strings must outlive the rows; t_ns, count, sum_ns and sketch are
 * ignored), start_ns picks the time bucket.  0 or -1.
 */
int latency_rowbuilder_add(struct latency_rowbuilder *b, const struct rollup_row *key, uint64_t start_ns,
			   uint64_t duration_ns);
/* Free the index.  The rows stay: release them with store_rollups_release(). */
void latency_rowbuilder_release(struct latency_rowbuilder *b);

/* ---- self time by span name over a set of traces ---- */

struct latency_span {
	uint8_t trace_id[16], span_id[8], parent_span_id[8];
	uint64_t start_ns, end_ns;
	const char *service, *name;
	uint8_t selected; /* the entry span of a selected request */
};

struct latency_phase {
	const char *service, *name;
	uint64_t count;	 /* spans */
	double total_ns; /* self time summed */
};

struct latency_breakdown {
	size_t requests;	    /* selected spans not inside another selected span's subtree */
	size_t nested;		    /* selected spans inside another one's subtree */
	size_t spans;		    /* spans counted: every span in a selected subtree, once */
	double total_ns;	    /* self time of them all */
	struct latency_phase *rows; /* by total_ns, descending */
	size_t n_rows;
};

/*
 * Self time (duration minus the union of its children's intervals, clipped
 * to its own) of every span in the subtree of a selected span, summed per
 * (service, name).  Sorts `spans` in place.  Parent cycles and orphans are
 * tolerated (an orphan not selected is not counted).  0 or -1.
 */
int latency_breakdown_build(struct latency_breakdown *out, struct latency_span *spans, size_t n);
void latency_breakdown_release(struct latency_breakdown *b);

#endif
