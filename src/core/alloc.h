/*
 * alloc.h - the one allocation wrapper of hotpath.
 *
 * Out-of-memory policy: hotpath cannot do useful work without memory, and a
 * half-applied batch is worse than a restart, so every wrapper here logs and
 * aborts on failure.  Callers never check for NULL.
 */
#ifndef HOTPATH_CORE_ALLOC_H
#define HOTPATH_CORE_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grow an array so that it holds at least `need` elements of `elem` bytes. */
void *xgrow(void *ptr, size_t *cap, size_t need, size_t elem);
char *xstrdup(const char *s);

#endif
