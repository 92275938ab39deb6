/*
 * detect_scan.h - the detectors over the stored traces of a window, on
 * both cores, with what was read before kept.
 *
 * Block ids grow with each write and a block never changes (nor goes away:
 * a retention that deleted blocks would have to drop the states of their
 * segments), so the blocks are taken in segments of consecutive ids.  A finished segment (one the
 * newest block has gone past) whose blocks all overlap the window is
 * analysed once: its detector state is kept in the cache and merged into
 * later analyses (detect_merge is exact) instead of being read again.
 * What is left, the unfinished newest segment and segments at the window's
 * edges, is read every time.  An analysis over the same window the next
 * minute therefore reads only the blocks written since, and the ones at
 * the edges.
 *
 * A sampled scan (every > 1) reads one block in `every` and keeps nothing:
 * kept states are whole, and a sample's counts are scaled afterwards.
 *
 * Not thread-safe: one analysis at a time per cache.
 */
#ifndef HOTPATH_ADVISOR_DETECT_SCAN_H
#define HOTPATH_ADVISOR_DETECT_SCAN_H

#include "analyze/detect.h"
#include "store/store.h"

/* Blocks a segment, and the most segment states a cache keeps (the least
 * recently used go first). */
#define DETECT_SEGMENT_BLOCKS 512
#define DETECT_CACHE_STATES   64

struct detect_cache;

/* A cache of segments of `segment_blocks` blocks (0: the default). */
struct detect_cache *detect_cache_new(unsigned segment_blocks);
void detect_cache_free(struct detect_cache *c);

struct detect_scan_stats {
	uint64_t traces, spans; /* fed into the detector */
	uint64_t kept_traces;	/* of the traces, those from states kept by earlier scans */
	uint64_t joined_parts;	/* parts joined to an earlier part of their trace (trace_join.h) */
};

/*
 * Feed `into` the traces of the blocks overlapping [from_ns, to_ns) (one
 * block in `every`), with `cache` (NULL: none) as described above.  The
 * detector's configuration must be `cfg`; a cache built with another is
 * emptied first.  -1 with a message in err.
 */
int detect_scan(struct store *s, struct detect_cache *cache, const struct detect_config *cfg,
		uint64_t from_ns, uint64_t to_ns, unsigned every, struct detector *into,
		struct detect_scan_stats *stats, char *err, size_t errlen);

#endif
