/* arena.c - chunked bump allocator (see arena.h). */
#include "core/arena.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

#define CHUNK_MIN (64 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, off;
	_Alignas(16) unsigned char data[];
};

void arena_init(struct arena *a)
{
	a->head = NULL;
	a->used = 0;
}

void arena_release(struct arena *a)
{
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	arena_init(a);
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *keep = a->head;
	for (struct arena_chunk *c = a->head; c; c = c->next)
		if (c->size > keep->size)
			keep = c;
	for (struct arena_chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		if (c != keep)
			free(c);
	}
	a->head = keep;
	a->used = 0;
	if (keep) {
		keep->next = NULL;
		keep->off = 0;
	}
}

void *arena_alloc(struct arena *a, size_t size)
{
	struct arena_chunk *c = a->head;
	size = (size + 15) & ~(size_t)15;
	if (!c || c->size - c->off < size) {
		size_t want = size > CHUNK_MIN / 2 ? size : CHUNK_MIN;
		c = xmalloc(sizeof(*c) + want);
		c->size = want;
		c->off = 0;
		if (a->head && size > CHUNK_MIN / 2) {
			/* keep the partly used chunk at the head for small allocations */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	void *p = c->data + c->off;
	c->off += size;
	a->used += size;
	return p;
}

void *arena_zalloc(struct arena *a, size_t size)
{
	return memset(arena_alloc(a, size), 0, size);
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);
	memcpy(p, s, len);
	p[len] = 0;
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void *arena_grow(struct arena *a, void *ptr, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 8;
	if (need <= *cap)
		return ptr;
	while (n < need)
		n *= 2;
	void *p = arena_alloc(a, n * elem);
	if (ptr)
		memcpy(p, ptr, *cap * elem);
	*cap = n;
	return p;
}
