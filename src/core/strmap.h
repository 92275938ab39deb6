/*
 * strmap.h - an open-addressing hash map from byte strings to int64.
 *
 * Keys are copied into the map.  Used for dictionaries (string -> id) on
 * the ingest path, so lookups are allocation-free.
 */
#ifndef HOTPATH_CORE_STRMAP_H
#define HOTPATH_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	char *key; /* NULL = empty */
	size_t len;
	uint64_t hash;
	int64_t value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap, count; /* cap is a power of two */
};

void strmap_init(struct strmap *m);
void strmap_release(struct strmap *m);
/* 0 and the value in *value if present, -1 if not. */
int strmap_get(const struct strmap *m, const void *key, size_t len, int64_t *value);
/* Insert or overwrite. */
void strmap_put(struct strmap *m, const void *key, size_t len, int64_t value);
/* `s` copied once into `a`: equal text gives the same pointer for as long
 * as `a` lives (the map's value holds it).  NULL stays NULL. */
struct arena;
const char *strmap_intern(struct strmap *m, struct arena *a, const char *s);
/* 64-bit hash of a byte string (FNV-1a with a final mix). */
uint64_t strmap_hash(const void *key, size_t len);

#endif
