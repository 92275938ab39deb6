/*
 * parallel.h - one function over a few items, side by side.
 *
 * For work split into a few disjoint parts (the blocks of a scan, the
 * traces of a merge): items 1 .. n-1 each get a thread, item 0 runs on the
 * calling thread, and the call returns when all are done.  An item whose
 * thread cannot start runs on the calling thread, so the work is always
 * done.
 */
#ifndef HOTPATH_CORE_PARALLEL_H
#define HOTPATH_CORE_PARALLEL_H

#include <stddef.h>

#define PARALLEL_MAX 8

/* fn(items + k * item_size) for k in [0, n), n <= PARALLEL_MAX. */
void parallel_run(void *(*fn)(void *), void *items, size_t item_size, unsigned n);

#endif
