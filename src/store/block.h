/*
 * block.h - the on-disk form of spans: a compressed block.
 *
 * A block holds the spans of one write, grouped by trace, in a compact
 * binary form (a string table, then resources, then span records with
 * delta-coded times), compressed with zstd in two frames: the head, with
 * what a tree of names and times needs, and the rest (attributes, events
 * and links), which a skeleton does not decompress.  docs/internals/STORE.md
 * describes the layout byte by byte.
 */
#ifndef HOTPATH_STORE_BLOCK_H
#define HOTPATH_STORE_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ingest/batch.h"

/* Largest decompressed block accepted by block_decode(). */
#define BLOCK_MAX_RAW (64u << 20)

/*
 * Encode `n` spans into `out` (appended).  Sorts `spans` in place by trace
 * id, then start time.  Returns 0, or -1 if `out` hit its limit.
 */
int block_encode(const struct span **spans, size_t n, struct buf *out);

/* What block_decode() keeps; NULL or a zeroed filter keeps everything. */
struct block_filter {
	const uint8_t *trace_id; /* only the spans of this trace */
	/* Only the spans of the traces this accepts (asked once per trace of
	 * a block); the others' attributes are stepped over, not decoded. */
	int (*keep_trace)(void *arg, const uint8_t trace_id[16]);
	void *keep_trace_arg;
	/* Only the span attributes whose key this accepts (asked once per
	 * distinct key of a block); resources keep theirs. */
	int (*keep_key)(const char *key);
	/* Spans without attributes, events or links: ids, name, kind, status,
	 * times and resource (a tree of names and times). */
	int skeleton;
};

/*
 * Decode a block, appending its spans to `b` (strings live in b's arena).
 * Returns the number of spans appended, or -1 with a message for a corrupt
 * block.
 */
long block_decode(const void *data, size_t len, const struct block_filter *f, struct batch *b, char *err,
		  size_t errlen);

#endif
