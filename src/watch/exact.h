/*
 * exact.h - exact counts of the requests faster than any latency threshold,
 * for the SLOs and rules whose threshold is not one of the rollups' tier
 * bounds (100, 500, 2000 ms: those the rollups count exactly already).
 *
 * An "objective" is a scope (the common filters) and a threshold.  For
 * each, good (faster than the threshold) and total requests are kept per
 * minute, counted from the stored request rows (start, duration and the
 * filter dimensions), never estimated.  The evaluator (watch.c) refreshes
 * each objective once per cycle:
 *
 *  - the minutes of the last 6 hours whose total differs from the minute
 *    rollups' total for the scope (as the cycle's SLO snapshot has them,
 *    watch/snapshot.h) are counted again from the request rows
 *    (a write adds a request to both: where they agree, every request of
 *    the minute has been counted; requests that arrive late, long after
 *    they started, are found this way);
 *  - older hours are compared with the hourly rollups when the objective is
 *    loaded and every EXACT_VERIFY_EVERY refreshes, and counted again where
 *    they differ;
 *  - a count never goes down (retention deleting request rows must not
 *    erase what was counted while they were there).
 *
 * At its first refresh an objective is back-filled from the request rows
 * still retained (--retention-requests, 7 days by default): `since` is the
 * first hour from which every hour agreed with the rollups; counts before
 * it are not known, and windows that reach further back count from `since`
 * only (the API shows it as `exactSince`).
 *
 * The counts are kept in the store's documents: kind "watch.exact", id the
 * objective's id, for its definition and `since`; kind "watch.exact/ID",
 * id the hour's slot (hours modulo EXACT_SLOTS), for each hour's minutes.
 * A restart loads them and verifies the hours.  In memory: 31 days of
 * minutes, 8 bytes each, per objective.
 *
 * Threads: exact_refresh() is the evaluator's (one thread); exact_counts()
 * may be called from any thread at the same time.
 */
#ifndef HOTPATH_WATCH_EXACT_H
#define HOTPATH_WATCH_EXACT_H

#include <stdint.h>

#include "watch/slo.h"

#define EXACT_KIND	   "watch.exact"
#define EXACT_KEEP_MIN	   (31u * 1440)	    /* minutes kept */
#define EXACT_RECENT_MIN   360		    /* minutes compared with the minute rollups each refresh */
#define EXACT_SLOTS	   (32u * 24)	    /* stored hours, by hour modulo this */
#define EXACT_VERIFY_EVERY 60		    /* refreshes between two checks of the older hours */
#define EXACT_MAX_MS	   (3600ull * 1000) /* the largest threshold */

/* Whether a latency threshold needs these counts (it is not a tier bound). */
int exact_needed(uint64_t threshold_ms);

/* Bring the objective's counts up to the minute after `now_ns` (back-fill
 * it the first time).  `sn` (NULL: none), a snapshot taken at `now_ns`,
 * gives the recent minutes' rollup totals without reading them again.
 * The store's error class with `err`. */
struct slo_snapshot;
int exact_refresh(struct store *s, const struct watch_scope *sc, uint64_t threshold_ms, uint64_t now_ns,
		  const struct slo_snapshot *sn, char *err, size_t errlen);

/* Good and total requests of the objective in [from_ns, to_ns) (whole
 * minutes), from `since` on; *since_ns: the start of the exact counts (0:
 * the objective has not been counted yet: counts 0, returns -1). */
int exact_counts(const struct watch_scope *sc, uint64_t threshold_ms, uint64_t from_ns, uint64_t to_ns,
		 struct slo_counts *out, uint64_t *since_ns);

/* One stored hour (a document of kind "watch.exact/ID"): its start and
 * the counts of its 60 minutes (0 where absent).  0, or -1 when it is not
 * such a document; entries that do not make sense are left out. */
int exact_hour_parse(const char *json, size_t len, uint64_t *hour_ms, uint32_t good[60], uint32_t total[60]);

/* Forget the objectives not refreshed for `idle_ns` before `now_ns` (their
 * SLO or rule is gone or changed; the store keeps their counts, loaded
 * again if they come back).  How many were forgotten. */
size_t exact_prune(uint64_t now_ns, uint64_t idle_ns);

/* Forget every objective held in memory (what a restart does): the next
 * refresh loads them from the store. */
void exact_forget(void);

#endif
