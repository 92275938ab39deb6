/*
 * flamegraph_svg.h - a folded-stack tree drawn as a standalone interactive
 * SVG flame graph (in the manner of flamegraph.pl), and the same tree in
 * speedscope's JSON file format.
 *
 * The SVG carries its own script: hover shows a frame's name, count and
 * share; click zooms to a frame, "Reset Zoom" undoes it; "Search" (or
 * Ctrl-F) highlights frames whose name matches a regular expression and
 * shows the share they cover.  Colours are a hash of the frame name, so the
 * same function has the same colour in every graph.
 *
 * A tree with two sides (folded.h) gives a differential graph: frame width
 * is the mean of both profiles (A scaled to B's total unless told not to),
 * red frames grew and blue ones shrank (self change by default, inclusive
 * on request; the subtitle says which), and frames present in only one
 * profile are outlined with dashes.
 *
 * Not owned here: parsing (profile/folded.h), files and arguments (cli/).
 * The tree is only read; output goes to the caller's `emit` in pieces.
 */
#ifndef HOTPATH_RENDER_FLAMEGRAPH_SVG_H
#define HOTPATH_RENDER_FLAMEGRAPH_SVG_H

#include <stddef.h>

#include "profile/folded.h"

enum flame_palette {
	FLAME_HOT,
	FLAME_MEM,
	FLAME_IO,
	FLAME_JAVA, /* by frame kind: _[j] JIT, _[i] inlined, _[k] kernel, C++, Java */
	FLAME_JS,
	FLAME_RED,
	FLAME_GREEN,
	FLAME_BLUE,
	FLAME_AQUA,
	FLAME_YELLOW,
	FLAME_PURPLE,
	FLAME_ORANGE,
};

struct flame_opts {
	const char *title;     /* NULL: "Flame Graph", "Icicle Graph" or "Differential ..." */
	const char *subtitle;  /* NULL: none (a differential graph always has one) */
	const char *countname; /* "samples" */
	const char *nametype;  /* "Function:" */
	unsigned width;	       /* image width in pixels, 1200 */
	unsigned frame_height; /* 16 */
	unsigned font_size;    /* 12 */
	double minwidth;       /* frames narrower than this are left out: 0.1 pixels */
	int minwidth_percent;  /* minwidth is a percentage of the total instead */
	enum flame_palette palette;
	int inverted;	    /* icicle graph: the root at the top */
	int diff_inclusive; /* differential colour by inclusive instead of self change */
	int diff_raw;	    /* do not scale A to B's total */
};

/* The defaults above. */
void flame_opts_init(struct flame_opts *o);

/* "hot", "mem", ... as flamegraph.pl --colors.  0, or -1 for an unknown name. */
int flame_palette_from_name(const char *name, enum flame_palette *p);

/*
 * Set one option by name, as the command line (--NAME VALUE) and query
 * strings spell them: title, subtitle, countname, nametype, width, height
 * (of a frame), fontsize, minwidth (pixels, or "N%"), colors (a palette
 * name) take a value; inverted, inclusive (differential colour by inclusive
 * change) and raw (no normalisation) are switches, and take "1"/"0" or no
 * value (NULL).  Strings are borrowed: they must outlive the options.
 * Returns 0, or -1 with a message.
 */
int flame_opts_set(struct flame_opts *o, const char *name, const char *value, char *err, size_t errlen);
/* 1 if the option takes a value, 0 if it is a switch, -1 if there is none such. */
int flame_opts_takes_value(const char *name);

/*
 * Draw a finished tree (folded_tree_finish()).  Returns 0; -1 with a
 * message when the tree is empty; or the first non-zero value of `emit`.
 */
int flamegraph_svg(const struct folded_tree *t, const struct flame_opts *o,
		   int (*emit)(void *ctx, const char *data, size_t len), void *ctx, char *err, size_t errlen);

/*
 * The tree as a speedscope file (https://www.speedscope.app/file-format-schema.json):
 * one "sampled" profile per side, named `name` (or "A" and "B").  `unit` is
 * one of speedscope's units ("none", "nanoseconds", "microseconds",
 * "milliseconds", "seconds", "bytes"); anything else becomes "none".
 */
int flamegraph_speedscope(const struct folded_tree *t, const char *name, const char *unit,
			  int (*emit)(void *ctx, const char *data, size_t len), void *ctx, char *err,
			  size_t errlen);

#endif
