/* idmap.c - 16-byte ids to numbers, open addressing (see idmap.h). */
#include "core/idmap.h"

#include <string.h>

#include "core/alloc.h"

void idmap_init(struct idmap *m, size_t max)
{
	size_t cap = 16;
	while (cap < 2 * max) /* at most half full: probes stay short */
		cap *= 2;
	m->slots = xmalloc(cap * sizeof(*m->slots));
	for (size_t i = 0; i < cap; i++)
		m->slots[i].value = IDMAP_NONE;
	m->mask = cap - 1;
	m->count = 0;
	m->max = max;
}

void idmap_release(struct idmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static size_t home(const struct idmap *m, const uint8_t id[16])
{
	uint64_t h;
	memcpy(&h, id, 8);
	return (size_t)((h * 0x9e3779b97f4a7c15ull) >> 20) & m->mask;
}

uint32_t idmap_get(const struct idmap *m, const uint8_t id[16])
{
	if (!m->slots)
		return IDMAP_NONE;
	for (size_t i = home(m, id);; i = (i + 1) & m->mask) {
		const struct idmap_slot *s = &m->slots[i];
		if (s->value == IDMAP_NONE)
			return IDMAP_NONE;
		if (!memcmp(s->id, id, 16))
			return s->value;
	}
}

uint32_t *idmap_slot(struct idmap *m, const uint8_t id[16])
{
	for (size_t i = home(m, id);; i = (i + 1) & m->mask) {
		struct idmap_slot *s = &m->slots[i];
		if (s->value == IDMAP_NONE) {
			if (m->count >= m->max)
				return NULL;
			m->count++;
			memcpy(s->id, id, 16);
			return &s->value;
		}
		if (!memcmp(s->id, id, 16))
			return &s->value;
	}
}

void idmap_grow(struct idmap *m, size_t max)
{
	struct idmap bigger;
	idmap_init(&bigger, max);
	for (size_t i = 0; i <= m->mask; i++)
		if (m->slots[i].value != IDMAP_NONE)
			*idmap_slot(&bigger, m->slots[i].id) = m->slots[i].value;
	free(m->slots);
	*m = bigger;
}
