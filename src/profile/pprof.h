/*
 * pprof.h - pprof profiles (perftools.profiles.Profile, gzip-compressed or
 * raw protobuf) decoded into folded stacks.
 *
 * One sample type is read (a pprof sample carries a value per type): the
 * one asked for by name, else the one named by `type_hint` if the profile
 * has it, else the profile's default_sample_type, else "cpu", else "wall",
 * else the last one (pprof's own default).  Each sample with a non-zero
 * value becomes a stack, root first; a frame is its function's name (the
 * system name, the file name or "[unknown]" when there is none), inlined
 * functions expanded, so one location may give several frames.  A location
 * without line information is named by its mapping's file and offset
 * ("libc.so.6+0x1a2b") or its address.  ';' and line breaks in names
 * become '_' and invalid UTF-8 bytes '?', so names are safe for the folded
 * format and for JSON.  drop_frames/keep_frames are not applied.
 *
 * Every index is checked: string table entries, function, location and
 * mapping ids (non-zero, unique, present), the number of values of every
 * sample; a negative value is an error (a pprof diff profile is not a
 * profile to store).  Limits: the input before and after decompression
 * (max_input), the memory protobuf-c may allocate (a multiple of the
 * input), and the tree's own limits (folded.h).
 *
 * Not owned here: the folded-stack tree (profile/folded.h), storing,
 * the HTTP side (server/routes_profiles.c).
 *
 * Ownership: the caller's tree receives the stacks (it copies names); the
 * strings of struct pprof_info live in the caller's arena.
 */
#ifndef HOTPATH_PROFILE_PPROF_H
#define HOTPATH_PROFILE_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/arena.h"
#include "profile/folded.h"

struct pprof_options {
	const char *sample_type; /* read this sample type (by name), or fail; NULL: choose */
	const char *type_hint;	 /* prefer a sample type of this name; NULL: none */
	size_t max_input;	 /* bytes of protobuf, before and after gunzip; 0: 64 MiB */
};

struct pprof_label {
	const char *key, *value;
};

struct pprof_info {
	const char *type, *unit; /* the sample type read, e.g. "cpu", "nanoseconds" */
	uint64_t time_ns;	 /* time_nanos, 0 if unset */
	uint64_t duration_ns;	 /* duration_nanos, 0 if unset */
	uint64_t period;	 /* period, 0 if unset */
	uint64_t samples;	 /* samples with a non-zero value */
	uint64_t total;		 /* the sum of their values */
	/* String labels that every counted sample carries with the same value
	 * (the profile's own labels, in effect), sorted by key. */
	struct pprof_label *labels;
	size_t n_labels;
	/* every sample type as "name/unit", for messages and listings */
	const char **types;
	size_t n_types;
};

/* Is this gzip data (the usual on-disk and on-the-wire form of a profile)? */
int pprof_is_gzip(const void *data, size_t len);

/*
 * Decode the profile in `data` and add its stacks to side `side` of `t`
 * (not finished).  Returns 0 with `info` filled; ERR_TOO_BIG or -1
 * with a message ("invalid pprof: ...") otherwise, after which the tree
 * may hold part of the profile and should be thrown away.
 */
int pprof_decode(const void *data, size_t len, const struct pprof_options *o, struct folded_tree *t, int side,
		 struct arena *a, struct pprof_info *info, char *err, size_t errlen);

#endif
