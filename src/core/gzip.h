/*
 * gzip.h - bounded decompression of request bodies.
 *
 * The output limit is enforced while inflating, so a small "gzip bomb"
 * never allocates more than `max` bytes.
 */
#ifndef HOTPATH_CORE_GZIP_H
#define HOTPATH_CORE_GZIP_H

#include <stddef.h>

#include "core/error.h"
#include "core/buf.h"

/* Inflate gzip or zlib data into `out` (its own limit applies).  Returns 0,
 * ERR_TOO_BIG when the output would pass out->max, or -1 with a message
 * for corrupt input. */
int gzip_inflate(const void *in, size_t len, struct buf *out, char *err, size_t errlen);

#endif
