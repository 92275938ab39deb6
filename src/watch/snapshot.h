/*
 * snapshot.h - the counts every SLO of an evaluation reads, taken from the
 * rollups once per cycle instead of once per SLO and window.
 *
 * For every rollup key (its filter dimensions and status) the snapshot
 * holds the request count and the tier counts over each window an SLO
 * reads: the burn-rate windows (5 min .. 3 d) and the budget windows (7,
 * 28, 30 d), all ending at the same minute.  It reads six ranges: the
 * last 6 h by the minute, 30 d by the hour, and the minutes at the start
 * of the 3, 7, 28 and 30-day windows, twice (every key, and the keys of
 * edge requests, which the fleet counts).  An SLO's counts are then the
 * sum over the keys its filters select: exact, as slo_count() is, at a
 * cost that follows keys and SLOs, not requests.
 */
#ifndef HOTPATH_WATCH_SNAPSHOT_H
#define HOTPATH_WATCH_SNAPSHOT_H

#include "core/strmap.h"
#include "watch/slo.h"

#define SNAP_WINDOWS 8
/* Minutes whose request totals each key keeps: from the hour that holds
 * the start of the last 6 h to the end (exact.c compares them with its
 * counts). */
#define SNAP_MINUTES (7 * 60)
extern const uint64_t snapshot_windows_s[SNAP_WINDOWS]; /* ascending */

struct snap_key {
	const char *dims[7];  /* service, endpoint, tool, env, version, department, intent */
	uint8_t status, edge; /* edge: from the read of edge requests only */
	uint64_t count[SNAP_WINDOWS];
	uint64_t tiers[SNAP_WINDOWS][TIER_COUNT];
	uint32_t *minutes; /* SNAP_MINUTES totals from minutes_from (in the arena) */
};

struct slo_snapshot {
	uint64_t end_ns;
	uint64_t minutes_from; /* the first minute (since the epoch) of snap_key.minutes */
	struct arena a;
	struct strmap index, strings;
	struct buf key; /* scratch: the key being looked up */
	struct snap_key *keys;
	size_t n, cap;
};

/* Fill `sn` (which need not be initialised) for windows ending at the
 * minute after `now_ns`.  Release it with slo_snapshot_release() whatever
 * the result; its strings live in it. */
int slo_snapshot_take(struct slo_snapshot *sn, struct store *st, uint64_t now_ns, char *err, size_t errlen);
void slo_snapshot_release(struct slo_snapshot *sn);
/* The SLO's counts over the last `window_s` (one of snapshot_windows_s):
 * 0, or -1 when the snapshot has no such window. */
int slo_snapshot_counts(const struct slo_snapshot *sn, const struct slo *s, uint64_t window_s,
			struct slo_counts *out);

/* The requests of the scope per minute over [from_min, to_min) (minutes
 * since the epoch) into tot[to_min - from_min]: 0, or -1 when the range is
 * not within what the snapshot keeps. */
int slo_snapshot_minutes(const struct slo_snapshot *sn, const struct watch_scope *sc, uint64_t from_min,
			 uint64_t to_min, uint64_t *tot);

#endif
