/*
 * scenario_fixture.h - the demo scenario's traffic written into a store
 * minute by minute, as the tests of the analyses over a store want it.
 */
#ifndef HOTPATH_TESTS_SCENARIO_FIXTURE_H
#define HOTPATH_TESTS_SCENARIO_FIXTURE_H

#include "core/clock.h"
#include "demo/scenario.h"
#include "store/store.h"

/* `minutes` minutes of `sc`'s requests from `start_ns`, `per_min` a minute,
 * one write a minute; with the scenario's metrics at each minute's end
 * when `metrics`. */
static inline void scenario_write_minutes(struct store *s, struct scenario *sc, uint64_t start_ns,
					  int minutes, int per_min, int metrics)
{
	for (int m = 0; m < minutes; m++) {
		struct batch b;
		uint64_t from = start_ns + (uint64_t)m * 60 * NS_PER_S;
		batch_init(&b);
		scenario_generate(sc, &b, from, from + 60 * NS_PER_S, (unsigned)per_min);
		if (metrics)
			scenario_metrics(sc, &b, from + 60 * NS_PER_S);
		store_write_sync(s, &b);
		batch_release(&b);
	}
}

#endif
