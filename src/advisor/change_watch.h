/*
 * change_watch.h - the background watch over change.  Every so often it
 * looks at the last hours (query/regressions.h): each deployment it
 * detects (a version's first requests in an environment) is recorded as a
 * deployment event, and each new regression for the worse (a p95 or
 * error-rate change point, hours whose p95 is 20 % above the same hours
 * a week before, or a newest version whose gate fails against the one
 * before it) is flagged: a regression document with its evidence
 * (before, after, relative change, p-value, the deployment that brought
 * it) and an "auto_flag" entry in the audit trail.
 *
 * Alerts read those entries: the alert rule measure "regressions"
 * (watch/rule.h) counts them, and the default rule "regression" pages its
 * channels, so this layer needs no call into the alerting one.  A
 * regression dismissed as a false
 * positive keeps its document, so it is not flagged again; one already
 * flagged within two grid steps of the same series and measure neither.
 *
 * Threading: change_watch_run() may run on any thread (the store's reads
 * and writes are thread-safe); the watch runs it on its own ticker.
 */
#ifndef HOTPATH_ADVISOR_CHANGE_WATCH_H
#define HOTPATH_ADVISOR_CHANGE_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "query/regressions.h"
#include "store/store.h"

/* How far back each run looks. */
#define CHANGE_WATCH_RANGE_NS (6ull * 3600 * 1000000000)

struct change_watch_result {
	size_t deployments; /* detected deployments recorded as events */
	size_t flagged;	    /* regressions flagged */
};

/* One pass over [now_ns - range_ns, now_ns) (range 0: the default).
 * 0, or a negative class with a message. */
int change_watch_run(struct store *s, uint64_t now_ns, uint64_t range_ns, struct change_watch_result *res,
		     char *err, size_t errlen);

/* Run every interval_s seconds on a ticker of its own. */
int change_watch_start(struct store *s, unsigned interval_s, char *err, size_t errlen);
void change_watch_stop(void);

#endif
