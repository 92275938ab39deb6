/*
 * trace_join.h - the parts of a trace that a store scan hands over block by
 * block, joined again before a reader of whole traces sees them.
 *
 * A trace's spans arrive in several writes: each process exports its own,
 * and an SDK's batch processor exports on a timer, so a request's children
 * often leave before their parent.  store_scan() hands over each block's
 * share of a trace as its own part.  A joiner sits between the scan and the
 * reader (the pattern detectors):
 *
 *   part --(trace held?)--no--> looks whole? --yes--> fed as it is (no copy)
 *              |                    | no
 *              yes                  v
 *              +--------------> copied, held by trace id
 *                                   |
 *     the parts held look whole ----+---- fed, joined and by start time
 *     the scan moved past it  ------+
 *     memory full, end of run ------+
 *
 * A part looks whole when every parent it names is in it and it holds an
 * entry span (SERVER or CONSUMER).  The scan has moved past a held trace
 * when a block begins whose earliest start is JOIN_WAIT_NS past the
 * trace's last end, or JOIN_WAIT_BLOCKS blocks after its last part.
 * Memory: copies go into the current of two generations; when one has
 * taken JOIN_GEN_SPANS spans, the traces still held in the older one are
 * fed as they are and it is freed, so at most 2 x JOIN_GEN_SPANS copied
 * spans are held.  A trace fed before all its parts came is fed again, in
 * parts, with the later ones: the reader must tolerate parts (detect.h).
 *
 * Ownership: the joiner is the caller's.  Parts are borrowed for the call;
 * what is fed is valid during the `fn` call only.  One thread.
 */
#ifndef HOTPATH_ADVISOR_TRACE_JOIN_H
#define HOTPATH_ADVISOR_TRACE_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/batch.h"

#define JOIN_WAIT_NS	 (30 * 1000000000ull)
#define JOIN_WAIT_BLOCKS 256
#define JOIN_GEN_SPANS	 50000

/* What the reader is fed: a trace, or a part of one.  0 to go on. */
typedef int (*trace_join_fn)(void *arg, const struct span *spans, size_t n);

struct trace_join_stats {
	uint64_t parts;	 /* handed to the joiner */
	uint64_t held;	 /* of them, copied and held */
	uint64_t joined; /* of them, joined to an earlier part of their trace */
	uint64_t late;	 /* traces fed unfinished (moved past, memory, end of run) */
};

struct trace_join;

struct trace_join *trace_join_new(trace_join_fn fn, void *arg);
/* Frees what is still held, without feeding it. */
void trace_join_free(struct trace_join *j);

/* store_scan's callbacks, `arg` being the joiner: `.block` and `fn`. */
int trace_join_block(void *arg, uint64_t t_min);
int trace_join_part(void *arg, const struct span *spans, size_t n);
/* Feed everything held: at the end of a run of blocks. */
int trace_join_flush(struct trace_join *j);

void trace_join_get_stats(const struct trace_join *j, struct trace_join_stats *st);

#endif
