/*
 * alerts.h - alert instances: their states, acknowledgement, silences and
 * history, and the audit trail of every change made through the API.
 *
 * One alert per source: "rule:ID" for a rule, "slo:ID:page" and
 * "slo:ID:ticket" for an SLO's burn-rate alerts.  Its state machine, run
 * once per evaluation with whether the condition holds:
 *
 *            holds                 held for `for`
 *   inactive ------> pending ----------------------> firing  (page)
 *      ^               | stops holding                 |
 *      +---------------+                               | stopped holding
 *                                                      v for `for`
 *   a new incident <-- resolved (after group_s) <--- resolved (notify)
 *                         |  holds again within group_s
 *                         +--> firing, same incident: no second page
 *
 * An acknowledged incident pages no more; a silenced one (until a time)
 * sends nothing.  Documents of kind "alert" keep each alert's state;
 * events of kind "alert.history" keep every transition, and the audit
 * trail too (actor WATCH_ACTOR for the evaluator's, action the state
 * reached: "pending", "firing", "resolved", "inactive").
 */
#ifndef HOTPATH_WATCH_ALERTS_H
#define HOTPATH_WATCH_ALERTS_H

#include <stdint.h>

#include "watch/slo.h"

#define ALERT_KIND	   "alert"
#define ALERT_HISTORY_KIND "alert.history"
#define AUDIT_KIND	   "audit"
/* Who the evaluator's transitions are by, in the history and the audit
 * trail.  Its audit entries are events of their own kind (AUDIT_SYSTEM_KIND,
 * id "alert"), so that their number never pushes people's actions out of
 * a read of the newest entries. */
#define WATCH_ACTOR	  "system"
#define AUDIT_SYSTEM_KIND "audit.system"

enum alert_st { ALERT_INACTIVE, ALERT_PENDING, ALERT_FIRING, ALERT_RESOLVED };
extern const char *const alert_state_names[4];

struct alert {
	const char *id, *name, *source, *severity; /* source: "rule" or "slo" */
	const char *source_id;
	enum alert_st state;
	uint64_t since_ns;    /* the condition began holding (pending) */
	uint64_t fired_ns;    /* the incident fired */
	uint64_t clear_ns;    /* the condition stopped holding while firing (0: holds) */
	uint64_t resolved_ns; /* 0 unless resolved */
	uint64_t acked_ns;    /* 0 unless acknowledged */
	const char *acked_by;
	uint64_t silenced_until_ns;
	uint64_t pages;	    /* firing notifications (and reminders) sent for this incident */
	uint64_t paged_ns;  /* the last of them */
	uint64_t repeat_ns; /* its rule's or SLO's "repeat" (not stored: set each evaluation) */
	double value, limit;
	const char *message;
	const char **channels;
	size_t n_channels;
	int seen; /* during an evaluation: its rule or SLO was evaluated */
};

/* What a step asks the caller to do. */
enum alert_step { STEP_NONE, STEP_CHANGED, STEP_FIRE, STEP_RESOLVE };

/* Advance `a` by one evaluation at `now_ns`.  STEP_FIRE: a new incident
 * fired (notify unless silenced); STEP_RESOLVE: it resolved (notify if
 * it paged); STEP_CHANGED: store the state, nothing to send. */
enum alert_step alert_step(struct alert *a, int holds, uint64_t now_ns, uint64_t for_ns, uint64_t group_ns);
/* Whether a firing notification goes out now. */
int alert_may_page(const struct alert *a, uint64_t now_ns);
/* Whether a reminder goes out now: firing for a while, paged, not
 * acknowledged nor silenced, and `repeat_ns` since the last page. */
int alert_may_remind(const struct alert *a, uint64_t now_ns);

void alert_write(struct buf *b, const struct alert *a);
int alert_parse(const struct json *o, struct arena *a, struct alert *out, char *err, size_t errlen);
/* Load every stored alert (strings in `a`). */
int alerts_load(struct store *s, struct arena *a, struct alert **out, size_t *n, char *err, size_t errlen);
/* Store the state and a history event `what` ("pending", "firing", ...). */
int alert_save(struct store *s, const struct alert *a, const char *what, const char *actor, uint64_t now_ns,
	       char *err, size_t errlen);

/* acknowledge, silence (until `until_ns`) or resolve one alert by hand. */
int alert_act(struct store *s, const char *id, const char *action, uint64_t until_ns, const char *actor,
	      uint64_t now_ns, char *err, size_t errlen);

/*
 * The audit trail: who did what to which object, with the object's JSON
 * before and after (NULL: none).  Kept as events of kind "audit" whose
 * id is the object's kind ("slo", "rule", "channel", "alert",
 * "recommendation").
 */
int watch_audit(struct store *s, const char *actor, const char *action, const char *object_kind,
		const char *object_id, const char *before, const char *after, uint64_t now_ns, char *err,
		size_t errlen);

#endif
