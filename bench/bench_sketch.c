/*
 * bench_sketch.c - the quantile sketch's costs, for `make bench`.
 *
 * A "typical latency sketch" is 100,000 log-normal durations (median 1 ms,
 * sigma 1, in nanoseconds): a busy key's minute.  Each figure is the
 * median of 5 runs.  Prints `name value unit` lines for bench/run.sh.
 *
 *   bench_sketch [--inserts N]     (default 10,000,000)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/sketch.h"
#include "core/alloc.h"
#include "core/buf.h"

#define RUNS	5
#define TYPICAL 100000

static uint64_t rng_state = 0x5eedull;

/* splitmix64: enough for benchmark data. */
static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit(void)
{
	return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double lognormal(void)
{
	double n = sqrt(-2 * log(rng_unit())) * cos(2 * M_PI * rng_unit());
	return 1e6 * exp(n);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void typical(struct sketch *s)
{
	sketch_init(s);
	for (int i = 0; i < TYPICAL; i++)
		sketch_add(s, lognormal());
}

static double bench_insert(const double *values, size_t n)
{
	struct sketch s;
	sketch_init(&s);
	double t0 = now_ns();
	for (size_t i = 0; i < n; i++)
		sketch_add(&s, values[i]);
	double t = now_ns() - t0;
	if (sketch_count(&s) != n)
		abort();
	sketch_release(&s);
	return t / (double)n;
}

/* Merge B into a fresh copy of A; the copy is made outside the clock. */
static double bench_merge(const struct sketch *a, const struct sketch *b)
{
	const int reps = 2000;
	double total = 0;
	for (int k = 0; k < reps; k++) {
		struct sketch t;
		sketch_init(&t);
		sketch_merge(&t, a);
		double t0 = now_ns();
		sketch_merge(&t, b);
		total += now_ns() - t0;
		sketch_release(&t);
	}
	return total / reps / 1e3;
}

static double bench_quantile(const struct sketch *s)
{
	static const double qs[] = {0.5, 0.9, 0.95, 0.99, 0.999};
	const int reps = 1000000;
	volatile double sink = 0;
	double t0 = now_ns();
	for (int k = 0; k < reps; k++)
		sink += sketch_quantile(s, qs[k % 5]);
	(void)sink;
	return (now_ns() - t0) / reps;
}

static void bench_codec(const struct sketch *s, double *enc_us, double *dec_us)
{
	const int reps = 20000;
	struct buf b;
	struct sketch d;
	char err[256];
	buf_init(&b, BUF_NO_LIMIT);
	sketch_init(&d);
	double t0 = now_ns();
	for (int k = 0; k < reps; k++) {
		buf_reset(&b);
		sketch_encode(s, &b);
	}
	*enc_us = (now_ns() - t0) / reps / 1e3;
	t0 = now_ns();
	for (int k = 0; k < reps; k++)
		if (sketch_decode(&d, b.data, b.len, err, sizeof(err)) < 0)
			abort();
	*dec_us = (now_ns() - t0) / reps / 1e3;
	sketch_release(&d);
	buf_release(&b);
}

static size_t encoded_size(const struct sketch *s)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	sketch_encode(s, &b);
	size_t n = b.len;
	buf_release(&b);
	return n;
}

int main(int argc, char **argv)
{
	size_t n = 10000000;
	if (argc == 3 && strcmp(argv[1], "--inserts") == 0)
		n = strtoull(argv[2], NULL, 10);
	double *values = xmalloc(n * sizeof(*values));
	for (size_t i = 0; i < n; i++)
		values[i] = lognormal();

	struct sketch a, b, small;
	typical(&a);
	typical(&b);
	sketch_init(&small);
	for (int i = 0; i < 1000; i++)
		sketch_add(&small, lognormal());

	double insert[RUNS], merge[RUNS], query[RUNS], enc[RUNS], dec[RUNS];
	for (int r = 0; r < RUNS; r++) {
		insert[r] = bench_insert(values, n);
		merge[r] = bench_merge(&a, &b);
		query[r] = bench_quantile(&a);
		bench_codec(&a, &enc[r], &dec[r]);
	}
	printf("sketch_insert %.1f ns/op (median of %d, %zu log-normal values)\n", median(insert, RUNS), RUNS,
	       n);
	printf("sketch_merge %.2f us/op (two sketches of %d values, %d buckets)\n", median(merge, RUNS),
	       TYPICAL, a.hi - a.lo + 1);
	printf("sketch_quantile %.0f ns/op (one quantile of a %d-value sketch)\n", median(query, RUNS),
	       TYPICAL);
	printf("sketch_encode %.2f us/op\n", median(enc, RUNS));
	printf("sketch_decode %.2f us/op\n", median(dec, RUNS));
	printf("sketch_bytes_typical %zu bytes (%d log-normal values)\n", encoded_size(&a), TYPICAL);
	printf("sketch_bytes_small %zu bytes (1000 log-normal values)\n", encoded_size(&small));
	sketch_release(&a);
	sketch_release(&b);
	sketch_release(&small);
	free(values);
	return 0;
}
