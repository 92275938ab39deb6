/*
 * advisor.h - recommendations kept over time.
 *
 * The detectors (analyze/detect.h) say what a window of data shows; the
 * advisor runs them over stored data and remembers what it recommended:
 * one recommendation per finding id (the id hashes the kind and subject, not
 * the numbers, so the same finding on new data updates the same
 * recommendation), with a status a user moves (open -> applied | dismissed)
 * and the advisor moves on evidence:
 *
 *   applied  -> verified   the pattern is absent from a window of data that
 *                          starts after it was applied;
 *   applied, persists      it is still found in such a window (said, not a
 *                          status change: the user decides what next);
 *   verified -> open       it came back.
 *
 * A finding about CPU (own work, CPU saturation) is given, before it is
 * kept, the function with the most self time in its service's stored
 * profiles of the window (CPU, else wall-clock; the newest 50).
 *
 * Every status change is appended to an audit trail (store events of kind
 * "recommendation.audit").  The state is a store document of kind
 * "recommendation", the latest finding's JSON one of kind
 * "recommendation.finding", both under the finding id.
 *
 * Not owned here: detecting (analyze/detect.c), the words
 * (analyze/recommend.c), HTTP (server/routes_analysis.c).
 */
#ifndef HOTPATH_ADVISOR_ADVISOR_H
#define HOTPATH_ADVISOR_ADVISOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "analyze/detect.h"
#include "core/arena.h"
#include "core/json_write.h"
#include "store/store.h"

/* The store kinds of a recommendation's documents and events. */
#define ADVISOR_KIND_STATE   "recommendation"
#define ADVISOR_KIND_FINDING "recommendation.finding"
#define ADVISOR_KIND_AUDIT   "recommendation.audit"

enum rec_status { REC_OPEN, REC_APPLIED, REC_DISMISSED, REC_VERIFIED, REC_STATUS_COUNT };

struct rec_state {
	char id[17];
	enum rec_status status;
	const char *reason; /* of the last status change, or NULL */
	uint64_t first_seen_ns, last_seen_ns, changed_ns;
	int active;   /* found by the latest complete analysis */
	int persists; /* applied, and found again in data that all came after */
};

const char *rec_status_name(enum rec_status s);
/* -1 for an unknown name. */
int rec_status_parse(const char *name);

/* The state as a JSON object, and back (-1 for a malformed document). */
void rec_state_json(struct buf *b, const struct rec_state *st);
/* Its members, written into the object open in `w`. */
void rec_state_members(struct json_w *w, const struct rec_state *st);
int rec_state_parse(struct rec_state *st, const char *json, struct arena *a);

/*
 * Move a state on the evidence of one analysis of [from_ns, ...), run at
 * `now_ns`: `found` says whether the finding was there.  Returns a message
 * for the audit trail when the status changed, else NULL.  `st` of a new
 * finding is zeroed with status REC_OPEN and first_seen_ns 0.
 */
const char *rec_state_observe(struct rec_state *st, int found, uint64_t from_ns, uint64_t now_ns);

/* A user's change: open, applied, or dismissed (with a reason).  -1 with a
 * message when the change is not allowed. */
int rec_state_set(struct rec_state *st, enum rec_status to, const char *reason, uint64_t now_ns, char *err,
		  size_t errlen);

struct advisor_options {
	uint64_t from_ns, to_ns;
	size_t max_traces; /* more requests in the window: analyse a sample of the stored
			      blocks (whole writes) that holds about this many (0: 200,000) */
	struct detect_config cfg;
	/* States of stored blocks kept from earlier runs (NULL: read them all;
	 * see advisor/detect_scan.h). */
	struct detect_cache *cache;
};

struct advisor_result {
	uint64_t traces, spans, points, requests_in_window;
	uint64_t kept_traces; /* of the traces, those merged from states kept by earlier runs */
	double sample_rate;   /* share of traces analysed; counts in findings are scaled by 1 / rate */
	size_t findings;
	double elapsed_ms;
	uint64_t analyzed_ns; /* when it ran (the end of its window); set by advisor_refresh() */
};

void advisor_options_init(struct advisor_options *o, uint64_t from_ns, uint64_t to_ns);

/* Analyse the window, then record the findings and move the states. */
int advisor_run(struct store *s, const struct advisor_options *o, struct advisor_result *res, char *err,
		size_t errlen);

/*
 * The analyses the API and the background share (advisor/analysis_job.c).
 *
 * advisor_refresh() runs the advisor over the `range_ns` ending now
 * (sampling above `max_traces`, 0: the default) unless the last run with
 * the same parameters was less than `max_age_ns` ago (0: run).  The last
 * run of up to 16 parameter pairs is kept in memory, and its summary also
 * as a store document (kind ADVISOR_KIND_ANALYSIS), so that a restarted
 * process answers from it.  One run at a time per process, and one store:
 * the states of stored blocks it keeps between runs (advisor/detect_scan.h)
 * are that store's.  A failed run keeps the last good one.  *res gets the
 * summary of the last run with these parameters.  It writes (findings,
 * states, the audit trail, the summary): only background threads call it
 * (the watch below and the job of advisor_ask()), never a request.
 */
#define ADVISOR_KIND_ANALYSIS "recommendation.analysis"
int advisor_refresh(struct store *s, uint64_t range_ns, size_t max_traces, uint64_t max_age_ns,
		    struct advisor_result *res, char *err, size_t errlen);

/*
 * Read only, never waiting for a run in progress: the summary of the last
 * analysis of `s` with these parameters (kept in memory, else the stored
 * summary of an earlier process) and its age in *age_ns.  1 when there is
 * one, else 0 (nothing set).
 */
int advisor_last(struct store *s, uint64_t range_ns, size_t max_traces, struct advisor_result *res,
		 uint64_t *age_ns);

/*
 * Ask the analysis job (a thread of its own, started by the first ask) for
 * advisor_refresh() with these parameters.  With `wait`, block until it has
 * run and set *res; else return at once (the job runs it later, *res
 * untouched; an ask of the same parameters already queued stands for it).
 * Asks are run one at a time, in order, but for those that wait, which
 * run before those that do not.  0, or with a message
 * the analysis's error, or ERR_BUSY when the job is stopped
 * (advisor_watch_stop(), as the server shuts down, until
 * advisor_watch_start()).  Thread-safe; the caller writes nothing to the
 * store.
 */
int advisor_ask(struct store *s, uint64_t range_ns, size_t max_traces, uint64_t max_age_ns, int wait,
		struct advisor_result *res, char *err, size_t errlen);

/* What a request answers from: an analysis and whether a newer one is on its way. */
struct advisor_current {
	struct advisor_result res;
	uint64_t age_ns; /* now - res.analyzed_ns */
	int refreshing;	 /* a newer analysis of these parameters was asked of the job */
};

/*
 * The analysis a request answers from, what a GET does: with `refresh`,
 * ask the job and wait for its run.  Else the last analysis of these
 * parameters (advisor_last) at once, whatever its age; when it is
 * `max_age_ns` old or older the job is asked for a new one without
 * waiting.  Only when none was ever kept does it ask and wait.  The
 * range is noted as asked (with the default sample size, max_traces 0,
 * only): the watch keeps it analysed for an hour.  0, or advisor_ask()'s error (ERR_BUSY while stopped, only when it
 * had to wait).
 */
int advisor_current(struct store *s, uint64_t range_ns, size_t max_traces, uint64_t max_age_ns, int refresh,
		    struct advisor_current *cur, char *err, size_t errlen);

/*
 * A thread keeping analyses current without anyone asking (so verification
 * happens, and a request seldom waits).  At its start and then every
 * `interval_s` it asks the job (without waiting, in this order) for each
 * kept range (advisor_watch_keep: by default the dashboard's), the last
 * `range_ns` (0: ADVISOR_DEFAULT_RANGE), and each range a request asked
 * within the last hour, all with max_traces 0, each analysed
 * unless its last analysis is younger than half the interval.  One per
 * process; only the store's lease holder asks; a start forgets the analyses
 * kept in memory (the stored summaries stand).  advisor_watch_stop() stops
 * it and the job of advisor_ask() (waiting for a run in progress);
 * advisor_watch_start() lets asks run again.
 */
int advisor_watch_start(struct store *s, unsigned interval_s, uint64_t range_ns, char *err, size_t errlen);
void advisor_watch_stop(void);
/* The ranges the watch keeps analysed besides its own, copied (at most
 * 8); call before advisor_watch_start().  The default: the dashboard's
 * range choices (web/lib/state.js), 24h (its default) first, then 1h, 6h,
 * 15m, 7d and 30d. */
void advisor_watch_keep(const uint64_t *ranges_ns, size_t n);

#define ADVISOR_DEFAULT_RANGE (6 * 3600 * 1000000000ull)

/* A user's status change, recorded with the audit trail.  0, or with a
 * message ERR_NOT_FOUND (unknown id), ERR_INVALID (a status that does not
 * exist, or a change refused), ERR_INTERNAL (the store failed). */
int advisor_set_status(struct store *s, const char *id, const char *status, const char *reason,
		       const char *actor, char *err, size_t errlen);

#endif
