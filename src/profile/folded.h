/*
 * folded.h - folded stacks ("a;b;c 123" lines) merged into a tree by path.
 *
 * The tree is what the flame graph renderer, the speedscope export and the
 * differential mode read.  Every node counts two sides: side 0 is the only
 * profile (or the "before" profile A of a diff), side 1 the "after"
 * profile B.  The root (node 0, named "") holds the grand totals.
 *
 * Input lines are "STACK COUNT" or, for a differential file such as
 * `hotpath diff` prints, "STACK COUNT_A COUNT_B"; counts are non-negative
 * integers, the separator before a count is one blank (space or tab), and a
 * trailing '\r' is ignored.  Empty lines are skipped; any other line that
 * does not parse is an error naming its line number.
 *
 * Not owned here: reading files, collapsing perf output
 * (profile/collapse_perf.h), drawing (render/flamegraph_svg.h).
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
 * Walk the stacks of a finished tree: for every node with a non-zero self
 * count on some side, `visit` gets the node and the path of nodes from the
 * root's child down to it.  Visit order is depth first, children by name.
 */
int folded_tree_walk(const struct folded_tree *t,
		     int (*visit)(void *ctx, const uint32_t *path, size_t depth, uint32_t node), void *ctx);

#endif
