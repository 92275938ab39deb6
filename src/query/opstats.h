/*
 * opstats.h - the durations of operations by type, per minute, kept up to
 * date as blocks are committed: what the slow-operation statistics of a
 * range read instead of the spans of its newest requests.
 *
 * Per one-minute bucket (of the spans' start times) and operation type (the
 * stats slots of slowops_type_slots()): a quantile sketch of the durations
 * (count, sum, min and max exact; quantiles within SKETCH_ALPHA), and per
 * bucket the spans and the root requests counted.  The spans counted are
 * those of the root requests (entry spans without a parent: the requests
 * at the fleet's edge) and their descendants in the same trace part.  Thresholds are applied when reading, from the sketches
 * (sketch_count_at_least()), so a changed threshold applies to the past;
 * a changed set of custom type rules classifies spans differently, so it
 * empties the aggregates, which are then built again.
 *
 * Blocks are taken by id (ids grow with each write and a block never
 * changes), each once: a background job (opstats_start()) reads the blocks
 * written since its last pass, and a read first reads the few blocks
 * committed since (at most OPSTATS_READ_BLOCKS), so an answer covers every
 * span committed before it.  Each trace part of a block is classified on
 * its own (slowops_classify() and slowops_resolve() over the part).
 *
 * Per five-minute bucket (of the requests' start times), the bottleneck
 * ranking of the requests at the fleet's edge (analyze/bottleneck.h),
 * unfinished so buckets merge (bottleneck_merge(): self times in sketches).
 *
 * Kept in memory for the newest OPSTATS_KEEP_NS of span start times, and
 * stored: after each pass that read blocks, the job saves the buckets that
 * changed and the last block read in one transaction (opstats_save(),
 * store_put_aggs()); the first update after a start loads the newest
 * OPSTATS_KEEP_NS of them and reads only the blocks written after (a store
 * without them, or rows of other rules, is read block by block again).  A
 * range starting before the buckets kept reads the stored rows for that
 * part, from the minute they were first built from.  Until the first
 * update, while the job catches up, or for a range before what was ever
 * stored, opstats_read() says so (ERR_BUSY) and the caller reads the
 * spans as before.
 *
 * Thread-safe: one process-wide set of aggregates, for the store passed to
 * opstats_start().
 */
#ifndef HOTPATH_QUERY_OPSTATS_H
#define HOTPATH_QUERY_OPSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/bottleneck.h"
#include "analyze/slowops.h"
#include "core/sketch.h"
#include "store/store.h"

#define OPSTATS_BUCKET_NS    (60ull * 1000000000ull)
#define OPSTATS_KEEP_NS	     (48ull * 3600ull * 1000000000ull)
#define OPSTATS_READ_BLOCKS  256 /* most blocks a read catches up on */
#define OPSTATS_BN_BUCKET_NS (5ull * OPSTATS_BUCKET_NS)
/* Pairs of a service and an environment kept apart at most: the pairs
 * seen after are read from the spans. */
#define OPSTATS_MAX_PAIRS 1000

/* The statistics of a range: sketches per stats slot (owned). */
struct opstats_answer {
	uint64_t bucket_ns;	 /* OPSTATS_BUCKET_NS, or OPSTATS_BN_BUCKET_NS with a filter */
	uint64_t from_ns, to_ns; /* the buckets read: the range rounded out to whole buckets */
	uint64_t requests, spans;
	struct sketch *t;
	size_t n;
};
void opstats_answer_release(struct opstats_answer *a);

/* Start the background job for `s` (every interval_s seconds; 0: 5), and
 * bind the aggregates to `s`.  -1 with a message. */
int opstats_start(struct store *s, unsigned interval_s, char *err, size_t errlen);
/* Stop the job and forget the aggregates. */
void opstats_stop(void);

/*
 * Read up to `max_blocks` blocks not yet read (0: all) into the aggregates,
 * with the custom type rules of `c`.  *left: blocks still to read after.
 * -1 with a message (ERR_INTERNAL).
 */
int opstats_update(struct store *s, const struct slowops_config *c, uint64_t max_blocks, uint64_t *left,
		   char *err, size_t errlen);

/*
 * What a read covers: NULL or both NULL, the requests at the fleet's edge;
 * else one service's requests, one environment's, or those of one service
 * in one environment (both set), as the span-read answers with service=,
 * env= or both take them (kept per OPSTATS_BN_BUCKET_NS; see struct
 * kbucket in opstats.c).  A pair is kept apart once it is seen, for at
 * most OPSTATS_MAX_PAIRS pairs: past them, a pair not kept is ERR_BUSY.
 */
struct opstats_filter {
	const char *service, *env;
};

/*
 * The statistics of the spans starting in the buckets (minutes; five
 * minutes with a filter) overlapping [from_ns, to_ns) (to_ns 0: now), with
 * the rules of `c`, after reading the blocks committed since the last
 * update.  ERR_BUSY: not answerable from the aggregates (no job for `s`,
 * still catching up, the range starts before what is kept, a name too long
 * to be kept apart, or a pair of a service and an environment past
 * OPSTATS_MAX_PAIRS); the caller reads the spans instead.
 * Other < 0: error with a message.
 */
int opstats_read(struct store *s, const struct slowops_config *c, const struct opstats_filter *f,
		 uint64_t from_ns, uint64_t to_ns, struct opstats_answer *out, char *err, size_t errlen);

/*
 * The bottlenecks of the requests (of `f`) starting in the
 * OPSTATS_BN_BUCKET_NS buckets overlapping [from_ns, to_ns), merged into `into` (initialised,
 * not finished; its cpu function, when set, decides saturation per
 * bucket): each request is a root span with its descendants in the part
 * of its trace written with it.  *bucket_from_ns, *bucket_to_ns: the
 * buckets read.  ERR_BUSY and errors as opstats_read().
 */
int opstats_bottlenecks(struct store *s, const struct slowops_config *c, const struct opstats_filter *f,
			uint64_t from_ns, uint64_t to_ns, struct bottleneck *into, uint64_t *bucket_from_ns,
			uint64_t *bucket_to_ns, char *err, size_t errlen);

/*
 * Store the buckets changed since the last save, and the block they reach,
 * in one transaction (store_put_aggs(); all of them after the custom type
 * rules changed): what the job does after each pass that read blocks, so
 * that a start loads them (the first update of a store does, before
 * reading the blocks after them) instead of reading every block again.  A
 * store without stored aggregates is left alone.  0, or ERR_INTERNAL with
 * a message (everything is saved again next time).
 */
int opstats_save(struct store *s, char *err, size_t errlen);
/* The last block read, and the stored rows the last start loaded. */
void opstats_status(uint64_t *read_id, size_t *loaded_rows);

/* One slot's encoded sketch in a stored stats bucket. */
struct opstats_blob_view {
	const void *p;
	size_t len;
};
/* A stored stats bucket (the row of one minute, or five minutes and a key)
 * of n_slots sketches: its counts, and each slot's sketch bytes pointing
 * into `data`.  0, or -1 when the bytes are not one. */
int opstats_decode_stats(const void *data, size_t len, size_t n_slots, uint64_t *requests, uint64_t *spans,
			 struct opstats_blob_view *slots);

#endif
