/*
 * upload.h - what a profile upload says: its body, in one of the formats
 * hotpath accepts, turned into the canonical folded text the store keeps;
 * and the syntax of the application name Pyroscope clients send.
 *
 * Formats: "folded" (Brendan Gregg's collapsed stacks, "a;b;c 12" lines),
 * "lines" (Pyroscope: one stack per line, each counting 1), "perf" (`perf
 * script` text, collapsed as stackcollapse-perf.pl does) and "pprof"
 * (profile.proto, gzip-compressed or raw).  The canonical text has one line
 * per distinct stack, sorted byte-wise, invalid UTF-8 bytes replaced by
 * '?' (the names end up in JSON).
 *
 * Not owned here: the HTTP side (server/routes_profiles.c), the store.
 *
 * Ownership: results live in the caller's arena.
 */
#ifndef HOTPATH_PROFILE_UPLOAD_H
#define HOTPATH_PROFILE_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/arena.h"
#include "profile/pprof.h"

enum upload_format { UPLOAD_FOLDED, UPLOAD_LINES, UPLOAD_PERF, UPLOAD_PPROF };

/* "folded" (also "collapsed"), "lines", "perf", "pprof".  0, or -1. */
int upload_format_parse(const char *name, enum upload_format *f);

struct upload_result {
	char *folded; /* canonical folded text, NUL-terminated */
	size_t folded_len;
	uint64_t total;	 /* sum of the values */
	uint64_t stacks; /* distinct stacks (lines of `folded`) */
	int is_pprof;
	struct pprof_info pprof; /* for UPLOAD_PPROF */
};

/*
 * Decode `data` (max_bytes bounds the folded text and a pprof's inflated
 * size; 0: 256 MiB).  Returns 0; ERR_TOO_BIG or -1 with a message
 * naming the problem (a line number for text formats).
 */
int upload_decode(enum upload_format f, const char *data, size_t len, const struct pprof_options *po,
		  size_t max_bytes, struct arena *a, struct upload_result *out, char *err, size_t errlen);

/* ---- Pyroscope's syntax ---- */

struct upload_label {
	const char *key, *value;
};

/*
 * "APP[.TYPE]{key=value,...}" as Pyroscope clients send in `name=`: the
 * application name (letters, digits and "._-/:"), an optional profile
 * type suffix Pyroscope knows (".cpu", ".alloc_objects", ".inuse_space",
 * ".wall", ...), and labels with keys of letters, digits and "._-" and
 * values without ',', '{' or '}'.  Spaces around keys and values are
 * dropped.  Returns 0, or -1 with a message naming the column at fault.
 */
struct upload_name {
	const char *app;
	const char *type; /* the suffix without its dot, or NULL */
	struct upload_label *labels;
	size_t n_labels;
};
int upload_parse_name(const char *s, struct arena *a, struct upload_name *out, char *err, size_t errlen);

#endif
