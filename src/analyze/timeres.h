/*
 * timeres.h - the timestamp resolution of span data, and overlap tests
 * that tolerate it.
 *
 * SDKs do not all time spans to the nanosecond: the OpenTelemetry JS SDK
 * takes a span's start from Date.now() (whole milliseconds) and its end
 * from a sub-millisecond clock, so a call that starts right after its
 * sibling ended seems to start up to 1 ms before that end.  The resolution
 * is inferred from the data, per resource (a service instance and its
 * SDK): when every start time of the resource's spans in a trace is a
 * whole millisecond, it is 1 ms; else when every one is a whole
 * microsecond, 1 µs; else 0.  An overlap shorter than the resolution of
 * the later span's start is no overlap.
 *
 * Not owned here: deciding what a sequence means (the detectors, the
 * critical path).  struct timeres is the caller's, on the stack; it
 * borrows the resources it is shown.  No allocation.
 */
#ifndef HOTPATH_ANALYZE_TIMERES_H
#define HOTPATH_ANALYZE_TIMERES_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/batch.h"

#define TIMERES_NOT_MS 1u /* a start that is not a whole millisecond was seen */
#define TIMERES_NOT_US 2u /* one that is not a whole microsecond */
/* Resources told apart; spans of further ones share the last slot. */
#define TIMERES_MAX_RESOURCES 32

/* Fold one start time into the flags of its resource. */
static inline void timeres_note(uint8_t *flags, uint64_t start_ns)
{
	if (start_ns % 1000000u)
		*flags |= TIMERES_NOT_MS;
	if (start_ns % 1000u)
		*flags |= TIMERES_NOT_US;
}

/* The resolution, in ns, that the flags of a resource's starts show. */
static inline uint64_t timeres_of_flags(uint8_t flags)
{
	return !(flags & TIMERES_NOT_MS) ? 1000000u : !(flags & TIMERES_NOT_US) ? 1000u : 0;
}

/*
 * Whether a span starting at `start_ns` (taken with resolution `res_ns`)
 * overlaps what ended at `prev_end_ns`: by at least the resolution, and at
 * all.
 */
static inline int timeres_overlaps(uint64_t prev_end_ns, uint64_t start_ns, uint64_t res_ns)
{
	return prev_end_ns > start_ns && prev_end_ns - start_ns >= res_ns;
}

/* The resolutions of the resources of one trace (or part of one). */
struct timeres {
	const struct resource *r[TIMERES_MAX_RESOURCES];
	uint8_t flags[TIMERES_MAX_RESOURCES];
	unsigned n;
};

/* Learn the resolutions from `n` spans. */
void timeres_learn(struct timeres *t, const struct span *spans, size_t n);
/* The resolution of the start times of `sp`'s resource, in ns. */
uint64_t timeres_of(const struct timeres *t, const struct span *sp);

#endif
