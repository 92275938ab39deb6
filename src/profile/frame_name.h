/*
 * frame_name.h - frame names made safe for the folded format and JSON, and
 * read back into the function and file they name.
 *
 * A folded line separates frames with ';' and ends with a line break, and
 * every name may end up in a JSON string, which must be valid UTF-8.  Names
 * from profiles are untrusted bytes, so: ';', '\n' and '\r' inside a name
 * become '_', and each byte that does not start a valid UTF-8 sequence
 * becomes '?'.
 */
#ifndef HOTPATH_PROFILE_FRAME_NAME_H
#define HOTPATH_PROFILE_FRAME_NAME_H

#include <stddef.h>

#include "core/buf.h"

/* Append the name `s` (n bytes) made safe.  0, or -1 past the buffer's limit. */
int frame_name_put(struct buf *b, const char *s, size_t n);

/* Replace each invalid UTF-8 byte of `s` by '?', in place (folded text
 * keeps its separators). */
void frame_name_fix_utf8(char *s, size_t n);

/*
 * The function and the file a frame names.  @pyroscope/nodejs names a
 * frame "<file>:<function>:<line>" (the file may itself hold ':', as in
 * "file:///app/shop.mjs"; its runtime's nodes have no file:
 * ":Garbage Collection:0"); other profilers name the function alone.
 * `fn` is the function's name (the whole frame when it has no such form),
 * `file` its file's last path segment, or empty.
 */
struct frame_parts {
	const char *fn, *file;
	size_t fn_len, file_len;
};
void frame_name_parts(const char *s, size_t n, struct frame_parts *out);

#endif
