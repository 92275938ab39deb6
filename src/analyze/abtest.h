/*
 * abtest.h - is one sample of request durations slower than another?
 *
 * Owns the two-sample comparison behind version benchmarks, gates and
 * environment parity: a Mann–Whitney U test (with the normal approximation
 * and a tie correction) decides whether the candidate's durations are
 * stochastically larger or smaller than the baseline's, and a percentile
 * bootstrap gives the effect size a reader asks about, the relative change
 * of the p95 with its 95 % interval.  Why both: docs/DECISIONS.md.  It does
 * not read the store or know about versions: callers pass arrays of
 * durations (any unit, the same for both).
 *
 * Ownership: the result is a plain struct filled by abtest_run(); no
 * pointer to the inputs is kept.  Deterministic for a given seed.
 */
#ifndef HOTPATH_ANALYZE_ABTEST_H
#define HOTPATH_ANALYZE_ABTEST_H

#include <stddef.h>
#include <stdint.h>

/* Samples larger than this are thinned (every k-th value of a sorted
 * copy) before the bootstrap, which keeps its cost bounded. */
#define ABTEST_MAX_BOOTSTRAP_N 20000
/* Fewest values a side needs before a verdict is given. */
#define ABTEST_MIN_N 20

enum abtest_verdict { ABTEST_SAME = 0, ABTEST_SLOWER, ABTEST_FASTER, ABTEST_TOO_FEW };

struct abtest {
	size_t n_base, n_cand;
	double base_p50, base_p95, base_p99; /* quantiles (type 7) of each side */
	double cand_p50, cand_p95, cand_p99;
	double u;	    /* U of the candidate: pairs (b, c) with c > b, ties count 1/2 */
	double z;	    /* standardised U; > 0: the candidate tends to be slower */
	double p_value;	    /* two-sided */
	double prob_slower; /* U / (n_base * n_cand): P(candidate > baseline) */
	/* cand_p95 / base_p95 - 1, and its 95 % percentile-bootstrap interval
	 * (NaN when a side is empty or the baseline p95 is 0). */
	double p95_change, p95_lo, p95_hi;
	enum abtest_verdict verdict; /* at the level passed to abtest_run() */
};

/*
 * Compare `cand` against `base`.  `resamples` bootstrap rounds (0: no
 * interval), seeded with `seed`; `alpha` the test's level (0.05).
 * Verdict: ABTEST_TOO_FEW when a side has fewer than ABTEST_MIN_N values,
 * else SLOWER / FASTER when the two-sided p-value is below alpha, else SAME.
 * 0, or -1 when a value is NaN or memory runs out.
 */
int abtest_run(struct abtest *t, const double *base, size_t n_base, const double *cand, size_t n_cand,
	       unsigned resamples, uint64_t seed, double alpha);

enum abtest_gate { ABTEST_PASS = 0, ABTEST_FAIL, ABTEST_INCONCLUSIVE };

/*
 * The gate on a comparison: FAIL when the candidate's p95 rose by more
 * than `max_increase` (a fraction) and the slowdown is significant, by U
 * (the distribution moved) or by the p95 interval lying above 0 (the tail
 * moved: U misses a release that slows only the tail); INCONCLUSIVE with
 * too few requests; else PASS.
 */
enum abtest_gate abtest_gate(const struct abtest *t, double max_increase);

/* The q-quantile (type 7, linear between order statistics) of sorted x. */
double abtest_quantile_sorted(const double *x, size_t n, double q);
/* "slower", "faster", "no significant difference", "too few requests". */
const char *abtest_verdict_name(enum abtest_verdict v);

/* Two-sided p-value of the two-proportion z-test (pooled) that failures
 * f1 of n1 and f2 of n2 come from one rate; 1 when a side is empty or no
 * request failed. */
double abtest_proportions(uint64_t f1, uint64_t n1, uint64_t f2, uint64_t n2);

/* Normal upper-tail probability P(Z > z). */
double abtest_normal_sf(double z);

#endif
