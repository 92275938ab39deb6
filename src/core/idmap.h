/*
 * idmap.h - a map from 16-byte ids (trace ids) to numbers, sized once.
 *
 * For numbering the traces of one answer: the ids are random, so the first
 * eight bytes are the hash, and the keys live in the table itself (no
 * allocation per key, unlike strmap).  The table holds at most the `max`
 * ids given to idmap_init() until idmap_grow() raises it.
 */
#ifndef HOTPATH_CORE_IDMAP_H
#define HOTPATH_CORE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#define IDMAP_NONE UINT32_MAX

struct idmap_slot {
	uint8_t id[16];
	uint32_t value; /* IDMAP_NONE: empty */
};

struct idmap {
	struct idmap_slot *slots;
	size_t mask, count, max;
};

void idmap_init(struct idmap *m, size_t max);
void idmap_release(struct idmap *m);
/* The value of `id`, or IDMAP_NONE. */
uint32_t idmap_get(const struct idmap *m, const uint8_t id[16]);
/* The value slot of `id`.  If absent, `id` is inserted and its slot holds
 * IDMAP_NONE until the caller stores the value; NULL when the map already
 * holds `max` ids. */
uint32_t *idmap_slot(struct idmap *m, const uint8_t id[16]);
/* Let the map hold `max` ids (more than now), keeping those it holds. */
void idmap_grow(struct idmap *m, size_t max);

#endif
