/*
 * rng.h - the demo's deterministic pseudo-random numbers.
 *
 * xoshiro256** seeded through splitmix64 (Blackman and Vigna), plus the few
 * distributions the scenario needs: uniform, Bernoulli, normal (Box-Muller)
 * and log-normal.  The same seed gives the same sequence on every platform
 * that has IEEE doubles.  Not for cryptography.  Everything is inline: the
 * generator sits on the span-generation hot path.
 */
#ifndef HOTPATH_DEMO_RNG_H
#define HOTPATH_DEMO_RNG_H

#include <math.h>
#include <stdint.h>

struct rng {
	uint64_t s[4];
	double spare; /* second Box-Muller value */
	int has_spare;
};

/* One splitmix64 step: also a good 64-bit mixing function on its own. */
static inline uint64_t rng_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = rng_splitmix64(&seed);
	r->has_spare = 0;
	r->spare = 0;
}

static inline uint64_t rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rng_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static inline double rng_double(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n); n == 0 gives 0.  Lemire's multiply-shift, bias < 2^-32. */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* Uniform integer in [lo, hi]. */
static inline int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo) + 1);
}

/* True with probability p. */
static inline int rng_chance(struct rng *r, double p)
{
	return rng_double(r) < p;
}

/* Standard normal. */
static inline double rng_normal(struct rng *r)
{
	if (r->has_spare) {
		r->has_spare = 0;
		return r->spare;
	}
	double u1 = 1.0 - rng_double(r); /* (0, 1]: log() stays finite */
	double u2 = rng_double(r);
	double mag = sqrt(-2.0 * log(u1));
	double a = 6.283185307179586 * u2;
	r->spare = mag * sin(a);
	r->has_spare = 1;
	return mag * cos(a);
}

/* Log-normal with the given median and shape sigma (mean = median * e^(sigma^2/2)). */
static inline double rng_lognormal(struct rng *r, double median, double sigma)
{
	return median * exp(sigma * rng_normal(r));
}

#endif
