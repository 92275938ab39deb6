/*
 * seeded.h - a seeded generator for the accuracy tests of the statistics:
 * uniform and normal draws that repeat exactly from run to run.
 */
#ifndef HOTPATH_TESTS_SEEDED_H
#define HOTPATH_TESTS_SEEDED_H

#include <math.h>
#include <stdint.h>

static inline uint64_t seeded_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static inline double seeded_uniform(uint64_t *s)
{
	return ((double)(seeded_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box–Muller). */
static inline double seeded_normal(uint64_t *s)
{
	double u = seeded_uniform(s), v = seeded_uniform(s);
	return sqrt(-2 * log(u)) * cos(2 * 3.14159265358979323846 * v);
}

#endif
