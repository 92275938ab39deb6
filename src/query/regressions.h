/*
 * regressions.h - deployments and regressions of the selection: the
 * deployments recorded (events) and detected (first appearances of a
 * version), the change points of each service's and endpoint's p95 and
 * error rate with the deployment that brought each, and the p95 of the
 * last hour against the same hour a week before.
 *
 * Owns what the regression timeline, GET /api/v1/deployments and the
 * background watch (advisor/change_watch.h) read and find, so that the
 * dashboard and the automatic flags see the same regressions.  The change
 * points themselves are analyze/changepoint.h's; the reads are
 * query/changes.h's.
 *
 * Ownership: results and their strings live in the caller's arena.
 * Errors: 0, or a negative class of core/error.h with a message in `err`.
 */
#ifndef HOTPATH_QUERY_REGRESSIONS_H
#define HOTPATH_QUERY_REGRESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/abtest.h"
#include "core/arena.h"
#include "store/store.h"

/* Store records: deployments (events by service), regression flags
 * (documents by regression id) and their audit trail (events by id). */
#define REGRESSIONS_DEPLOY_KIND "deployment"
#define REGRESSIONS_FLAG_KIND	"regression"
#define REGRESSIONS_AUDIT_KIND	"regression_audit"
/* A week: how long a version must have been absent to count as deployed. */
#define REGRESSIONS_LOOKBACK_NS (7ull * 86400 * 1000000000)

struct deployment {
	const char *service, *version, *env, *commit, *link; /* env, commit, link may be NULL */
	const char *source;				     /* "api", "detected" */
	uint64_t t_ns;
	int recorded; /* kept as an event (else only found in the rollups now) */
};

/*
 * Deployments in q's range (q's service, env and version filters apply),
 * newest first: those recorded as events, then the versions first seen in the
 * range (changes_deployments()) that no event of the same service,
 * version and environment covers.
 */
int regressions_deployments(struct store *s, const struct store_query *q, struct arena *a,
			    struct deployment **out, size_t *n, char *err, size_t errlen);

/* The deployment of `service` nearest to t within [t - 2 step, t + step];
 * NULL when none. */
const struct deployment *regressions_deployment_near(const struct deployment *d, size_t n,
						     const char *service, uint64_t t_ns, uint64_t step_ns);

enum regression_kind { REGRESSION_CHANGE_POINT, REGRESSION_WEEK_OVER_WEEK, REGRESSION_VERSION };

struct regression {
	const char *id; /* "service|endpoint|measure|t_ms" */
	const char *service, *endpoint;
	const char *measure; /* "p95_ms" or "error_rate" */
	enum regression_kind kind;
	uint64_t t_ns;
	double before, after, rel_change, p_value; /* p_value NaN for week over week */
	int worse;
	/* week over week: the run of consecutive slower hours from t_ns, and
	 * the worst hour's p95 (before, after) and requests */
	size_t hours;
	uint64_t count, count_before;
	const struct deployment *deployment; /* the one that brought it, or NULL */
	const char *version, *baseline;	     /* REGRESSION_VERSION: candidate and baseline */
};

struct regressions_options {
	unsigned step_s;   /* grid of the series (a multiple of the range's rollup resolution) */
	size_t top;	   /* endpoints per service (0: services only) */
	double min_change; /* smallest relative p95 change reported */
};

/*
 * Change points of each service's (and its top endpoints') p95 and error
 * rate over q's range, by series then time; an error-rate change under one
 * point is left out, and so are p95 buckets of fewer than 5 requests.
 */
int regressions_find(struct store *s, const struct store_query *q, const struct regressions_options *o,
		     const struct deployment *d, size_t n_d, struct arena *a, struct regression **out,
		     size_t *n, char *err, size_t errlen);

/*
 * Each hour of q's range (on the clock) against the same hour a week
 * before, per service and top endpoint: hours whose p95 is 20 % or more
 * above it, with at least 20 requests in each and no deployment of the
 * service near, one entry per run of consecutive such hours.
 */
int regressions_week_over_week(struct store *s, const struct store_query *q, const struct deployment *d,
			       size_t n_d, struct arena *a, struct regression **out, size_t *n, char *err,
			       size_t errlen);

/* A service's newest version against the one before it, both serving in
 * the range (a canary, or a rollout not yet complete). */
struct version_regression {
	const char *id; /* "service|endpoint|p95_ms|version:CANDIDATE" */
	const char *service, *endpoint, *baseline, *candidate; /* endpoint NULL: the whole service */
	uint64_t t_ns;	 /* the candidate's first request in the range */
	struct abtest t; /* candidate against baseline */
	int gate_fail;	 /* abtest_gate(t, min_change) fails it */
};

/*
 * For each service with two versions or more in q's range, the highest
 * version (numbers compared as numbers) against the next one: samples of
 * up to 1,000 requests a side, the test and the p95 interval
 * (analyze/abtest.h); with `endpoints` (and no endpoint filter) each
 * endpoint of the range too, where a regression of one endpoint shows
 * that the whole service's mix hides.  Only those found slower or
 * failing the gate at `min_change` are listed.  It reads two samples per
 * service (and endpoint): ask it for a service or a few.
 */
int regressions_versions(struct store *s, const struct store_query *q, double min_change, int endpoints,
			 struct arena *a, struct version_regression **out, size_t *n, char *err,
			 size_t errlen);

/* -1, 0, 1 as version a is older than, the same as, or newer than b;
 * runs of digits compare as numbers ("2.10.0" is newer than "2.9.1"). */
int regressions_version_cmp(const char *a, const char *b);

/* The id of a version's regression (in `a`). */
const char *regressions_version_id(struct arena *a, const char *service, const char *endpoint,
				   const char *candidate);

/* The id of a regression (in `a`). */
const char *regressions_id(struct arena *a, const char *service, const char *endpoint, const char *measure,
			   uint64_t t_ms);

#endif
