/*
 * fuzz_watch_stored.c - libFuzzer target for the documents the watch
 * keeps for itself and reads back at start: an hour of exact counts
 * (watch/exact.h) and a notification kept in the outbox (watch/notify.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "watch/exact.h"
#include "watch/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t hour_ms;
	uint32_t good[60], total[60];
	struct arena a;
	struct notify_kept k;
	if (exact_hour_parse((const char *)data, size, &hour_ms, good, total) == 0)
		for (int i = 0; i < 60; i++)
			if (good[i] > total[i])
				__builtin_trap(); /* never more good than total */
	arena_init(&a);
	if (notify_outbox_parse((const char *)data, size, &a, &k) == 0 && (!k.channel || !k.body))
		__builtin_trap();
	arena_release(&a);
	return 0;
}
