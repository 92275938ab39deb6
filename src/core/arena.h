/*
 * arena.h - a region allocator: one per request or ingest batch.
 *
 * Everything decoded from one payload lives in one arena and is freed at
 * once with arena_release().  Allocations are 16-byte aligned.  The arena
 * never returns NULL (see alloc.h for the out-of-memory policy).
 */
#ifndef HOTPATH_CORE_ARENA_H
#define HOTPATH_CORE_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head; /* newest chunk first */
	size_t used;		  /* bytes handed out, for accounting */
};

#define ARENA_INIT                                                                                           \
	{                                                                                                    \
		0                                                                                            \
	}

void arena_init(struct arena *a);
/* Free every chunk; the arena may be used again afterwards. */
void arena_release(struct arena *a);
/* Free everything but the largest chunk, which is kept for reuse: for a
 * loop that decodes one thing after another into the same arena. */
void arena_reset(struct arena *a);
void *arena_alloc(struct arena *a, size_t size);
void *arena_zalloc(struct arena *a, size_t size);
/* Copy `len` bytes and add a terminating NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);
/* Grow an arena array: returns a copy with room for `need` elements. */
void *arena_grow(struct arena *a, void *ptr, size_t *cap, size_t need, size_t elem);

#endif
