/*
 * collapse_perf.h - `perf script` text to folded stacks, streaming.
 *
 * Reads the text printed by `perf script` (a header line per sample, one
 * line per frame, a blank line after each sample) and sums identical stacks
 * into "frame;frame;...;frame COUNT" lines, root first, sorted byte-wise.
 * The output is byte-identical to the reference collapser,
 * stackcollapse-perf.pl of the FlameGraph project, for its options --pid,
 * --tid, --kernel, --jit, --all and --addrs (not --inline, --context,
 * --srcline, --event-filter: those run addr2line or are not offered).
 * Its quirks are kept too: only the first event type is counted, a sample
 * that no blank line ends is dropped, Java class names lose their leading
 * 'L' only when the command is exactly "java" -- with --pid and --tid too,
 * as the current script does (older versions compared the name with its
 * "-PID" suffix, and kept the 'L' under those two options).
 * collapse_perf.c states the rules.
 *
 * Not owned here: the folded-stack tree (profile/folded.h) and rendering.
 *
 * Input is untrusted: lines, stacks and the table of distinct stacks have
 * hard limits, and passing one is an error that names the line.  Memory use
 * is bounded by those limits, never by the input size alone.
 *
 * Ownership: the collapser copies what it keeps; callers own their buffers.
 */
#ifndef HOTPATH_PROFILE_COLLAPSE_PERF_H
#define HOTPATH_PROFILE_COLLAPSE_PERF_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum {
	COLLAPSE_PERF_PID = 1 << 0,    /* process name becomes "name-PID" */
	COLLAPSE_PERF_TID = 1 << 1,    /* "name-PID/TID" (wins over PID) */
	COLLAPSE_PERF_KERNEL = 1 << 2, /* kernel frames get "_[k]" */
	COLLAPSE_PERF_JIT = 1 << 3,    /* frames from /tmp/perf-N.map get "_[j]" */
	COLLAPSE_PERF_ADDRS = 1 << 4,  /* unknown symbols keep their address */
	COLLAPSE_PERF_ALL = COLLAPSE_PERF_KERNEL | COLLAPSE_PERF_JIT,
};

/* Limits; a zero field takes the default shown. */
struct collapse_perf_opts {
	unsigned flags;	   /* COLLAPSE_PERF_* */
	size_t max_line;   /* bytes of one input line, 1 MiB */
	size_t max_depth;  /* frames of one sample, 16384 */
	size_t max_stack;  /* bytes of one folded stack, 4 MiB */
	size_t max_memory; /* bytes held for distinct stacks, 1 GiB */
};

/* What the reference would have said on stderr, for the caller to report. */
struct collapse_perf_stats {
	uint64_t lines;		     /* input lines read */
	uint64_t samples;	     /* samples counted */
	uint64_t stacks;	     /* distinct stacks */
	uint64_t unrecognized;	     /* lines that are neither header nor frame */
	uint64_t first_unrecognized; /* its line number, 1-based; 0 = none */
	uint64_t filtered;	     /* samples skipped for their event type */
	char kept_event[64];	     /* the event type kept (the first seen) */
	char filtered_event[64];     /* the first event type skipped */
};

struct collapse_perf;

struct collapse_perf *collapse_perf_new(const struct collapse_perf_opts *opts);
void collapse_perf_free(struct collapse_perf *c);

/*
 * Feed the next `len` bytes of input; lines may span calls.  Returns 0, or
 * -1 with a message in err (the collapser must then only be freed).
 */
int collapse_perf_feed(struct collapse_perf *c, const char *data, size_t len, char *err, size_t errlen);

/*
 * End of input: processes a last line without a newline.  Like the
 * reference, a sample that no blank line ends is not counted.
 */
int collapse_perf_finish(struct collapse_perf *c, char *err, size_t errlen);

/*
 * The folded result, sorted byte-wise, handed to `emit` in pieces of whole
 * lines.  `emit` returns 0 to go on; its non-zero value is returned.
 */
int collapse_perf_write(struct collapse_perf *c, int (*emit)(void *ctx, const char *data, size_t len),
			void *ctx);

const struct collapse_perf_stats *collapse_perf_stats(const struct collapse_perf *c);

/* One-shot: collapse a whole buffer and append the folded text to `out`. */
int collapse_perf_buffer(const char *data, size_t len, const struct collapse_perf_opts *opts, struct buf *out,
			 char *err, size_t errlen);

#endif
