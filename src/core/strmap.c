/* strmap.c - open-addressing string hash map (see strmap.h). */
#include "core/strmap.h"

#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"

void strmap_init(struct strmap *m)
{
	m->slots = NULL;
	m->cap = m->count = 0;
}

void strmap_release(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	strmap_init(m);
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Eight bytes at a time: the keys are short strings on the ingest path. */
uint64_t strmap_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ mix(w)) * 0x100000001b3ULL;
	}
	uint64_t tail = 0;
	memcpy(&tail, p, len);
	return mix(h ^ tail);
}

static struct strmap_slot *find(const struct strmap *m, const void *key, size_t len, uint64_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->key || (s->hash == h && s->len == len && !memcmp(s->key, key, len)))
			return s;
	}
}

int strmap_get(const struct strmap *m, const void *key, size_t len, int64_t *value)
{
	if (!m->cap)
		return -1;
	struct strmap_slot *s = find(m, key, len, strmap_hash(key, len));
	if (!s->key)
		return -1;
	*value = s->value;
	return 0;
}

static void grow(struct strmap *m)
{
	struct strmap old = *m;
	m->cap = old.cap ? old.cap * 2 : 64;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].key)
			*find(m, old.slots[i].key, old.slots[i].len, old.slots[i].hash) = old.slots[i];
	free(old.slots);
}

void strmap_put(struct strmap *m, const void *key, size_t len, int64_t value)
{
	if ((m->count + 1) * 4 > m->cap * 3)
		grow(m);
	uint64_t h = strmap_hash(key, len);
	struct strmap_slot *s = find(m, key, len, h);
	if (!s->key) {
		s->key = xmalloc(len + 1);
		memcpy(s->key, key, len);
		s->key[len] = 0;
		s->len = len;
		s->hash = h;
		m->count++;
	}
	s->value = value;
}

const char *strmap_intern(struct strmap *m, struct arena *a, const char *s)
{
	int64_t v;
	if (!s)
		return NULL;
	size_t len = strlen(s);
	if (strmap_get(m, s, len, &v) == 0)
		return (const char *)(intptr_t)v;
	const char *copy = arena_strndup(a, s, len);
	strmap_put(m, s, len, (int64_t)(intptr_t)copy);
	return copy;
}
