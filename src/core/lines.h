/*
 * lines.h - split a byte stream, fed in chunks of any size, into lines.
 *
 * A line split between two chunks is kept (up to `max_line` bytes) until
 * the rest arrives; lines_finish() delivers a last line without a newline.
 * Lines are passed without their '\n'.
 */
#ifndef HOTPATH_CORE_LINES_H
#define HOTPATH_CORE_LINES_H

#include <stddef.h>

#include "core/error.h"
#include "core/buf.h"

struct lines {
	struct buf carry; /* a line split between two chunks */
	size_t max_line;
};

/* Called per line; a negative return stops the feed and is passed on. */
typedef int (*lines_fn)(void *arg, const char *line, size_t len);

void lines_init(struct lines *l, size_t max_line);
void lines_release(struct lines *l);
/* 0, the callback's negative value, or ERR_TOO_BIG. */
int lines_feed(struct lines *l, const char *data, size_t len, lines_fn fn, void *arg);
int lines_finish(struct lines *l, lines_fn fn, void *arg);

#endif
