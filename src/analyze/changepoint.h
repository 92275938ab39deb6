/*
 * changepoint.h - where a series of measurements (a p95 per hour, an error
 * rate per hour) shifts to another level, and points that stand out against
 * a robust baseline.
 *
 * Change points follow Hunter (the DataStax variant of E-Divisive means
 * that Apache Otava continues): the split of a window that maximises the
 * energy-distance statistic of E-Divisive is the candidate, and a Welch
 * t-test between the two sides, not a permutation test, decides whether it
 * is kept; windows are bisected recursively at every kept point.  Why this
 * variant: docs/DECISIONS.md.  Anomalies compare each value with the median
 * and MAD of the other values of its slot (its hour of the week).
 *
 * Pure functions: no store, no time zones; callers pass plain arrays
 * without NaN (drop empty buckets first and map the indices back).
 * Ownership: outputs go to caller-provided arrays.
 */
#ifndef HOTPATH_ANALYZE_CHANGEPOINT_H
#define HOTPATH_ANALYZE_CHANGEPOINT_H

#include <stddef.h>
#include <stdint.h>

/* Longest series changepoint_find() takes (its cost grows with n²). */
#define CHANGEPOINT_MAX_N 5000

struct changepoint_options {
	size_t min_size; /* fewest points on each side of a change (>= 2); 0: 5 */
	double max_p;	 /* a change is kept when the t-test's p is below; 0: 0.001 */
	double min_rel;	 /* and |mean after / mean before - 1| at least this; 0: none */
};

struct changepoint {
	size_t index; /* the first point of the new level */
	double mean_before, mean_after;
	double rel_change; /* mean_after / mean_before - 1 (NaN when before is 0) */
	double p_value;	   /* Welch's t-test between the sides of its window */
	double energy;	   /* the E-Divisive statistic at the split */
};

/*
 * The change points of x[0..n), by index; at most max_out.  0, or -1 when
 * n > CHANGEPOINT_MAX_N, a value is NaN, or memory runs out.
 */
int changepoint_find(const double *x, size_t n, const struct changepoint_options *o, struct changepoint *out,
		     size_t max_out, size_t *n_out);

/* Welch's two-sided t-test of a[0..na) against b[0..nb): the p-value. */
double changepoint_welch_p(const double *a, size_t na, const double *b, size_t nb);

/* ---- robust anomalies ---- */

struct anomaly {
	double median, mad; /* of the other values of the slot */
	double score;	    /* (x - median) / (1.4826 * mad), NaN without history */
	int flagged;	    /* score > threshold with enough history */
};

/*
 * For each x[i], the median and MAD of the other values with the same
 * slot[i] (an hour of the week, 0..167), and whether x[i] lies more than
 * `threshold` robust standard deviations above it.  A slot needs
 * `min_history` other values before anything is flagged.  A MAD of 0 is
 * raised to 5 % of the median (or 1e-9) so that a flat history does not
 * flag every wiggle.  0, or -1 when memory runs out.
 */
int anomaly_mad(const double *x, const uint32_t *slot, size_t n, double threshold, size_t min_history,
		struct anomaly *out);

/* Median of x[0..n) (reordered); NaN when n is 0. */
double changepoint_median(double *x, size_t n);

#endif
