/*
 * test_idmap.c - 16-byte ids to numbers (src/core/idmap.c).
 *
 * Ids that share their first eight bytes (the hash) must still be told
 * apart by the other eight; a full map refuses new ids but still finds the
 * ones it holds, and a grown map keeps them.
 */
#include <string.h>

#include "core/idmap.h"
#include "tap.h"

#define N 5000

static void make_id(uint8_t id[16], uint32_t k, int same_hash)
{
	memset(id, 0, 16);
	if (!same_hash) /* spread over the hashed half, as random trace ids are */
		for (int i = 0; i < 8; i++)
			id[i] = (uint8_t)((k * 2654435761u) >> (i * 3));
	memcpy(id + 12, &k, 4);
}

static void test_numbers(int same_hash, uint32_t n)
{
	struct idmap m;
	uint8_t id[16];
	idmap_init(&m, n);
	int fresh = 1, found = 1;
	for (uint32_t k = 0; k < n; k++) {
		make_id(id, k, same_hash);
		uint32_t *v = idmap_slot(&m, id);
		fresh &= v && *v == IDMAP_NONE;
		if (v)
			*v = k;
	}
	ok(fresh, "%u new ids each get an empty slot (same hash: %d)", n, same_hash);
	for (uint32_t k = 0; k < n; k++) {
		make_id(id, k, same_hash);
		found &= idmap_get(&m, id) == k && *idmap_slot(&m, id) == k;
	}
	ok(found, "each id finds its number again (same hash: %d)", same_hash);
	make_id(id, n + 7, same_hash);
	ok(idmap_get(&m, id) == IDMAP_NONE, "an absent id is absent");
	ok(idmap_slot(&m, id) == NULL, "a full map refuses a new id");
	make_id(id, n / 2, same_hash);
	ok(idmap_get(&m, id) == n / 2, "and still finds what it holds");
	idmap_grow(&m, 2 * n);
	make_id(id, n + 7, same_hash);
	uint32_t *v = idmap_slot(&m, id);
	ok(v && *v == IDMAP_NONE, "a grown map takes a new id");
	if (v)
		*v = n + 7;
	found = idmap_get(&m, id) == n + 7;
	for (uint32_t k = 0; k < n; k++) {
		make_id(id, k, same_hash);
		found &= idmap_get(&m, id) == k;
	}
	ok(found, "and keeps the ids it held");
	idmap_release(&m);
	ok(idmap_get(&m, id) == IDMAP_NONE, "a released map is empty");
}

int main(void)
{
	test_numbers(0, N);
	test_numbers(1, 300); /* every probe collides: linear probing must still work */
	return tap_done();
}
