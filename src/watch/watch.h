/*
 * watch.h - what watches on its own: the evaluation of every SLO and
 * alert rule on a schedule, in one background thread (core/ticker), and
 * the SLO status the API shows.
 *
 * SLOs are documents of kind "slo", rules of kind "alert.rule", channels
 * of kind "alert.channel" (notify.h); each change made through the API
 * is an "audit" event (alerts.h) and the object's previous versions are
 * kept there.  One cycle (watch_cycle) reads the definitions, computes
 * each verdict from the rollups (metric rules from the metric points,
 * spike and regression rules from the events the checks stored), advances the alerts (alerts.h) and
 * queues the notifications (notify.h).
 */
#ifndef HOTPATH_WATCH_WATCH_H
#define HOTPATH_WATCH_WATCH_H

#include "watch/alerts.h"
#include "watch/notify.h"
#include "watch/rule.h"
#include "watch/slo.h"

#define SLO_KIND  "slo"
#define RULE_KIND "alert.rule"

struct watch_options {
	unsigned interval_s; /* evaluation period (default 30: detection within 2 min) */
	unsigned group_s;    /* a resolved alert that fires again within this is the same incident (300) */
	struct notify_options notify;
};
void watch_options_init(struct watch_options *o);

/* An SLO's figures at `now_ns`. */
struct slo_status {
	struct slo_counts window; /* its whole window (7/28/30 d) */
	struct slo_budget budget;
	struct slo_burn burn;	      /* over slo_burn_windows_s */
	double exhaustion_s;	      /* at the 1 h burn rate; -1: not being spent */
	int alert[SLO_ALERT_WINDOWS]; /* which multiwindow alerts hold */
	int exact;		      /* counted by watch/exact.h (slo_is_exact()) */
	uint64_t exact_since_ns;      /* exact: counts start here (0: not counted yet) */
};
int watch_slo_status(struct store *s, const struct slo *slo, uint64_t now_ns, struct slo_status *out,
		     char *err, size_t errlen);
/* The same from a snapshot of the rollups taken at the evaluation's time
 * (snapshot.h): what a cycle and a list of SLOs use. */
struct slo_snapshot;
void watch_slo_status_of(const struct slo_snapshot *sn, const struct slo *slo, struct slo_status *out);

/*
 * The SLO's window hour by hour, for a burn-down chart: points[i] counts
 * the requests of the hour that starts at first_ns + i hours (the first
 * and last hours are cut by the window: [end - window, end)).
 */
struct slo_burndown {
	uint64_t first_ns;
	size_t n;
	struct slo_counts *points; /* in the caller's arena */
};
int watch_slo_burndown(struct store *s, const struct slo *slo, uint64_t now_ns, struct arena *a,
		       struct slo_burndown *out, char *err, size_t errlen);

/* Load the definitions of `kind` (SLO_KIND or RULE_KIND) into `a`. */
int watch_load_slos(struct store *s, struct arena *a, struct slo **out, size_t *n, char *err, size_t errlen);
int watch_load_rules(struct store *s, struct arena *a, struct alert_rule **out, size_t *n, char *err,
		     size_t errlen);

struct watch_report {
	size_t slos, rules, fired, resolved, changed;
};
/* One evaluation of everything at `now_ns`. */
int watch_cycle(struct store *s, const struct watch_options *o, uint64_t now_ns, struct watch_report *r,
		char *err, size_t errlen);

/* The rules every store starts with (once: deleting one keeps it away):
 * the slow-request spike check ("slow-spike") and the regressions the
 * background change watch flags ("regression") as rules.  A default added
 * in a later release is installed once into a store made before it. */
int watch_install_defaults(struct store *s, char *err, size_t errlen);

int watch_start(struct store *s, const struct watch_options *o, char *err, size_t errlen);
void watch_stop(void);

#endif
