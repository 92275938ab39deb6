/*
 * folded.h - the flame tree: stacks merged by path, from folded lines
 * ("a;b;c 123"), pprof samples, or the span trees of traces.
 *
 * It is the one tree behind every flame graph: the renderer, the speedscope
 * export, the differential mode, the profile routes, and the span flame
 * graph of GET /api/v1/flamegraph.  Every node counts two sides: side 0 is
 * the only profile (or the "before" profile A of a diff), side 1 the
 * "after" profile B.  The root (node 0, named "") holds the grand totals.
 *
 * A tree holds either stacks (the sample counts below) or span frames (see
 * "Span-tree input"), never both.
 *
 * Input lines are "STACK COUNT" or, for a differential file such as
 * `hotpath diff` prints, "STACK COUNT_A COUNT_B"; counts are non-negative
 * integers, the separator before a count is one blank (space or tab), and a
 * trailing '\r' is ignored.  Empty lines are skipped; any other line that
 * does not parse is an error naming its line number.
 *
 * Not owned here: reading files, collapsing perf output
 * (profile/collapse_perf.h), walking a trace's spans (analyze/spanflame.h),
 * drawing (render/flamegraph_svg.h).
 *
 * Ownership: the tree owns everything it holds and copies the names it
 * keeps; a parser borrows its tree, which must outlive it.  Limits bound
 * the memory any input can make the tree use.
 */
#ifndef HOTPATH_PROFILE_FOLDED_H
#define HOTPATH_PROFILE_FOLDED_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/lines.h"

#define FOLDED_NONE UINT32_MAX

struct folded_node {
	uint32_t name;	 /* index into the tree's names */
	uint32_t parent; /* FOLDED_NONE for the root */
	uint32_t kids;	 /* first child in folded_tree.kids, after folded_tree_finish() */
	uint32_t n_kids;
	uint32_t depth; /* root 0 */
	uint64_t self[2];
	uint64_t total[2]; /* inclusive, after folded_tree_finish() */
};

/* Limits; a zero field takes the default shown. */
struct folded_limits {
	size_t max_line;  /* bytes of one line, 1 MiB */
	size_t max_depth; /* frames of one stack, 16384 */
	size_t max_nodes; /* distinct paths, 16 Mi (about 90 bytes each) */
	size_t max_bytes; /* bytes of distinct frame names, 1 GiB */
};

struct folded_tree {
	struct folded_node *nodes;
	size_t n_nodes, cap_nodes;
	uint32_t *kids; /* children of each node, by name; after finish */
	uint32_t max_depth;
	int sides;	/* 1, or 2 once side 1 got counts */
	uint64_t lines; /* stack lines read */

	/* names: distinct frame names, their bytes in `pool` */
	char *pool;
	size_t pool_len, pool_cap;
	struct folded_name {
		size_t off;
		uint32_t len;
	} * names;
	size_t n_names, cap_names;

	/* private: hash tables of names and of (parent, name) -> node */
	struct folded_name_slot *name_tab;
	struct folded_node_slot *node_tab;
	size_t name_tab_cap, node_tab_cap;
	void *scan; /* per-frame scratch of one stack */
	size_t scan_cap;
	struct folded_limits lim;
	int finished;
	struct folded_spans *spans; /* span frames, after folded_tree_init_spans(); else NULL */
};

/* Parser flags.  Without a count flag the first line decides, and every line must agree. */
enum {
	FOLDED_REVERSE = 1 << 0,    /* merge stacks leaf first (flamegraph.pl --reverse) */
	FOLDED_ONE_COUNT = 1 << 1,  /* every line has one count */
	FOLDED_TWO_COUNTS = 1 << 2, /* every line has two counts (A B) */
};

void folded_tree_init(struct folded_tree *t, const struct folded_limits *lim);
void folded_tree_release(struct folded_tree *t);

/*
 * Add one stack ("a;b;c", no count) with `count` to side 0 or 1.  Returns
 * 0, or -1 with a message when a limit is passed.
 */
int folded_tree_add(struct folded_tree *t, const char *stack, size_t len, int side, uint64_t count, char *err,
		    size_t errlen);

/*
 * Compute inclusive totals and order every node's children by name.
 * Call once, after the last add; the tree is read-only afterwards.
 * Fails (-1) when a total does not fit in 64 bits.
 */
int folded_tree_finish(struct folded_tree *t, char *err, size_t errlen);

static inline const char *folded_name(const struct folded_tree *t, uint32_t name, size_t *len)
{
	*len = t->names[name].len;
	return t->pool + t->names[name].off;
}

/* A streaming parser: feed chunks, lines may span them. */
struct folded_parser {
	struct folded_tree *tree;
	unsigned flags;
	int side;	    /* the side of one-count lines */
	int counts;	    /* 1 or 2 once decided, 0 before */
	uint64_t line;	    /* lines seen, for messages */
	struct lines lines; /* the input split into lines */
	struct buf rev;	    /* the reversed stack, for FOLDED_REVERSE */
	struct buf prev;    /* the previous stack, to reuse its path */
	uint32_t *path;	    /* node of each frame of the previous stack */
	size_t *ends;	    /* end offset of each frame in `prev` */
	uint64_t *phs;	    /* path hash of each frame */
	size_t path_len, path_cap;
	int failed;
};

void folded_parser_init(struct folded_parser *p, struct folded_tree *t, unsigned flags, int side);
void folded_parser_release(struct folded_parser *p);
int folded_parser_feed(struct folded_parser *p, const char *data, size_t len, char *err, size_t errlen);
/* End of input: parses a last line without a newline. */
int folded_parser_finish(struct folded_parser *p, char *err, size_t errlen);

/* One-shot: parse a whole buffer into `t` (not finished). */
int folded_parse_buffer(struct folded_tree *t, const char *data, size_t len, unsigned flags, int side,
			char *err, size_t errlen);

/*
 * Parse a file (stdin for NULL or "-") into `t`, reading large chunks.
 * Messages name the file: "FILE: line N: ...".
 */
int folded_parse_file(struct folded_tree *t, const char *path, unsigned flags, int side, char *err,
		      size_t errlen);

enum {
	FOLDED_WRITE_TWO = 1 << 0,	 /* "stack a b" (difffolded.pl) instead of "stack count" */
	FOLDED_WRITE_NORMALIZE = 1 << 1, /* scale A to B's total, as difffolded.pl -n */
};

/*
 * Write the finished tree back as folded lines, sorted byte-wise: one line
 * per node with a non-zero self count (side 0, or 1 when the tree has two
 * sides and FOLDED_WRITE_TWO is not set).  `emit` receives pieces of whole
 * lines and returns 0 to go on; its other values are returned.
 */
int folded_tree_write(const struct folded_tree *t, unsigned flags,
		      int (*emit)(void *ctx, const char *data, size_t len), void *ctx);

/*
 * A finished stack tree as JSON, from the root: {"name", "value" (total),
 * "self", "children": [...]}, children by name.  With `two`, each node also
 * has "base" and "compare" ({"value", "self"}) and "delta", compare's
 * value less base's times `scale` (side 1 only counts when `two` is set).
 */
void folded_tree_write_json(const struct folded_tree *t, struct buf *b, int two, double scale);

/*
 * Walk the stacks of a finished tree: for every node with a non-zero self
 * count on some side, `visit` gets the node and the path of nodes from the
 * root's child down to it.  Visit order is depth first, children by name.
 */
int folded_tree_walk(const struct folded_tree *t,
		     int (*visit)(void *ctx, const uint32_t *path, size_t depth, uint32_t node), void *ctx);

/*
 * --- Span-tree input ----------------------------------------------------------
 *
 * A span tree holds a node per path of (service, span name) from the roots
 * of the traces merged into it.  A node's name is the service and the span
 * name, each ending in a NUL byte; its label in folded text and SVG is
 * "service: name" with ';', '\n' and '\r' made '_'.  Per node and side it
 * keeps the spans' time and own time in nanoseconds, how many traces passed
 * there and the last of them (by the caller's trace numbers), and when the
 * node was first met: children are listed in that order.  The node's
 * sample counts (self, total) are not used.
 *
 * A frame past the node limit is not made (its parent stands in for it),
 * and the tree says it is incomplete (folded_spans_too_many()): the caller
 * answers that rather than the tree.
 */
struct folded_frame {
	uint64_t total_ns[2], self_ns[2], traces[2];
	uint64_t last_trace[2]; /* 1 + the number of the last trace counted here; 0: none */
	uint64_t first;		/* side, trace number, nodes then made: the order first met */
};

/*
 * A tree for span frames: at most `max_frames` nodes, the root included (0:
 * the node limit of folded_limits).
 */
void folded_tree_init_spans(struct folded_tree *t, size_t max_frames);

/* Start trace number `no` (of `n_spans` spans) on side `side`: the frames counted next are its. */
void folded_spans_begin_trace(struct folded_tree *t, int side, uint64_t no, size_t n_spans);

/*
 * The child of `parent` for (service, name), made when missing; `parent`
 * itself past the node limit.  The strings are copied; a small cache
 * remembers recent ones by address, which folded_spans_forget() empties
 * before the strings are freed or reused.
 */
uint32_t folded_spans_frame(struct folded_tree *t, uint32_t parent, const char *service, const char *name);
void folded_spans_forget(struct folded_tree *t);

/* Count one span of the current trace at `node`. */
void folded_spans_count(struct folded_tree *t, uint32_t node, uint64_t total_ns, uint64_t self_ns);

/* Trace number `no` of side `side` has the id `id` (for example_trace_id). */
void folded_spans_name_trace(struct folded_tree *t, int side, uint64_t no, const uint8_t id[16]);

/* Add the frames of `from` (another span tree, of other traces) into `t`. */
void folded_spans_absorb(struct folded_tree *t, const struct folded_tree *from);

/* The service and span name of a node, NUL-terminated. */
const char *folded_spans_service(const struct folded_tree *t, uint32_t node);
const char *folded_spans_name(const struct folded_tree *t, uint32_t node);
const struct folded_frame *folded_spans_at(const struct folded_tree *t, uint32_t node);

/* Traces and spans merged into a side; whether the node limit was passed. */
uint64_t folded_spans_traces(const struct folded_tree *t, int side);
uint64_t folded_spans_count_spans(const struct folded_tree *t, int side);
int folded_spans_too_many(const struct folded_tree *t);

/*
 * Finish a span tree: the root's time is its children's, its traces all
 * of them, and every node's children are ordered as first met.  Call once,
 * after the last add; the tree is read-only afterwards.
 */
void folded_spans_finish(struct folded_tree *t);

/*
 * The outputs of a finished span tree, over one side or (`two`) both:
 * - JSON: the flame graph API's object (docs/API.md), `mode` its "mode";
 * - folded text: a line per node with own time ("labels self_us", or
 *   "labels base_us compare_us"), sorted as strings;
 * - stacks: the nodes' own time in microseconds added to `out`, a stack
 *   tree (folded_tree_init()), by label path, for the renderer and the
 *   speedscope export.  Nodes whose labels are equal merge there.  Returns
 *   0, or -1 with a message when a limit of `out` is passed.
 */
void folded_spans_write_json(const struct folded_tree *t, struct buf *b, const char *mode, int two);
void folded_spans_write_folded(const struct folded_tree *t, struct buf *b, int two);
int folded_spans_stacks(const struct folded_tree *t, int two, struct folded_tree *out, char *err,
			size_t errlen);

#endif
