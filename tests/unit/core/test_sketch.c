/*
 * test_sketch.c - the quantile sketch (src/core/sketch.c).
 *
 * Quantiles are checked against the exact ones of the sorted data, with
 * the rank definition of sketch.h: the q-quantile of n values is the r-th
 * smallest, r = ceil(q * n) clamped to [1, n].  Every estimate must be
 * within SKETCH_ALPHA of it (relative), for a single sketch and after
 * merging 1000 sketches of 100 values.  The binary form is checked for
 * round trips and against truncated, corrupt and random input.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/sketch.h"
#include "core/buf.h"
#include "tap.h"

#define N     100000
#define CHUNK 100

static const double qs[] = {0.5, 0.75, 0.9, 0.95, 0.99, 0.999};
#define NQ (sizeof(qs) / sizeof(qs[0]))

/* --- a seeded PRNG: xoshiro256** seeded by splitmix64 -------------------- */

static uint64_t rng_s[4];

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng_s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
	uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;
	rng_s[2] ^= rng_s[0];
	rng_s[3] ^= rng_s[1];
	rng_s[1] ^= rng_s[2];
	rng_s[0] ^= rng_s[3];
	rng_s[2] ^= t;
	rng_s[3] = rotl(rng_s[3], 45);
	return r;
}

/* Uniform in (0, 1): never 0, so log() is safe. */
static double rng_unit(void)
{
	return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(void)
{
	return sqrt(-2 * log(rng_unit())) * cos(2 * M_PI * rng_unit());
}

static double lognormal(double median, double sigma)
{
	return median * exp(sigma * rng_normal());
}

/* --- data sets, in nanoseconds ------------------------------------------- */

static double gen_lognormal(void)
{
	return lognormal(1e6, 1.0); /* median 1 ms */
}

static double gen_pareto(void)
{
	return 1e5 / pow(rng_unit(), 1 / 1.16); /* 80/20 tail from 100 us */
}

static double gen_bimodal(void)
{
	return rng_unit() < 0.7 ? lognormal(2e5, 0.3) : lognormal(5e7, 0.5); /* cache hit / miss */
}

static double gen_uniform(void)
{
	return 1e3 + rng_unit() * (1e7 - 1e3);
}

static double gen_constant(void)
{
	return 12345.678;
}

static const struct dataset {
	const char *name;
	double (*gen)(void);
} datasets[] = {
	{"lognormal", gen_lognormal}, {"pareto", gen_pareto},	  {"bimodal", gen_bimodal},
	{"uniform", gen_uniform},     {"constant", gen_constant},
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The exact q-quantile of sorted[0..n-1] with sketch.h's rank definition. */
static double exact_quantile(const double *sorted, size_t n, double q)
{
	double r = ceil(q * (double)n);
	size_t rank = r < 1 ? 1 : r >= (double)n ? n : (size_t)r;
	return sorted[rank - 1];
}

/* One TAP line per quantile: the estimate is within alpha of the truth. */
static void check_quantiles(const struct sketch *s, const double *sorted, size_t n, const char *what)
{
	for (size_t k = 0; k < NQ; k++) {
		double want = exact_quantile(sorted, n, qs[k]), got = sketch_quantile(s, qs[k]);
		double rel = fabs(got - want) / want;
		if (!ok(fabs(got - want) <= SKETCH_ALPHA * want,
			"%s: q=%g within alpha (est %.6g, true %.6g, rel %.5f)", what, qs[k], got, want, rel))
			printf("#   got %.17g, want %.17g\n", got, want);
	}
	is_int(sketch_quantile(s, 0) == sorted[0], 1, "%s: q=0 is min exactly", what);
	is_int(sketch_quantile(s, 1) == sorted[n - 1], 1, "%s: q=1 is max exactly", what);
}

static int same_buckets(const struct sketch *a, const struct sketch *b)
{
	if (a->count != b->count || a->zero_count != b->zero_count || a->lo != b->lo || a->hi != b->hi)
		return 0;
	if (a->min != b->min || a->max != b->max)
		return 0;
	for (int32_t i = a->lo; i <= a->hi; i++)
		if (a->counts[i - a->base] != b->counts[i - b->base])
			return 0;
	return 1;
}

static void test_dataset(const struct dataset *ds, double *data, double *sorted)
{
	struct sketch s, merged;
	char what[64];
	double sum = 0;
	rng_seed(0x5eed0000 + (uint64_t)(ds - datasets));
	sketch_init(&s);
	for (size_t i = 0; i < N; i++) {
		data[i] = ds->gen();
		sum += data[i];
		sketch_add(&s, data[i]);
	}
	memcpy(sorted, data, N * sizeof(*data));
	qsort(sorted, N, sizeof(*sorted), cmp_double);

	snprintf(what, sizeof(what), "%s", ds->name);
	is_int(sketch_count(&s), N, "%s: count exact", what);
	ok(sketch_min(&s) == sorted[0] && sketch_max(&s) == sorted[N - 1], "%s: min %.17g max %.17g exact",
	   what, sketch_min(&s), sketch_max(&s));
	ok(sketch_sum(&s) == sum, "%s: sum exact (%.17g, want %.17g)", what, sketch_sum(&s), sum);
	ok(s.hi - s.lo < SKETCH_MAX_BUCKETS, "%s: %d buckets", what, s.hi - s.lo + 1);
	check_quantiles(&s, sorted, N, what);

	/* 1000 sketches of consecutive chunks, merged: the same buckets. */
	sketch_init(&merged);
	for (size_t c = 0; c < N; c += CHUNK) {
		struct sketch part;
		sketch_init(&part);
		for (size_t i = c; i < c + CHUNK; i++)
			sketch_add(&part, data[i]);
		sketch_merge(&merged, &part);
		sketch_release(&part);
	}
	snprintf(what, sizeof(what), "%s merged", ds->name);
	ok(same_buckets(&merged, &s), "%s: same buckets, count, min, max as one sketch", what);
	/* a different order of additions: equal up to rounding (n ulps) */
	ok(fabs(sketch_sum(&merged) - sum) <= N * DBL_EPSILON * sum, "%s: sum %.17g (want %.17g)", what,
	   sketch_sum(&merged), sum);
	check_quantiles(&merged, sorted, N, what);

	/* Round trip through the binary form. */
	struct buf b;
	struct sketch d;
	char err[256] = "";
	buf_init(&b, BUF_NO_LIMIT);
	sketch_init(&d);
	is_int(sketch_encode(&s, &b), 0, "%s: encodes", ds->name);
	is_int(sketch_decode(&d, b.data, b.len, err, sizeof(err)), 0, "%s: decodes (%zu bytes) %s", ds->name,
	       b.len, err);
	ok(same_buckets(&d, &s) && d.sum == s.sum, "%s: decoded sketch equals the original", ds->name);
	ok(b.len <= 4096, "%s: %zu bytes serialized", ds->name, b.len);
	struct buf b2;
	buf_init(&b2, BUF_NO_LIMIT);
	sketch_encode(&d, &b2);
	ok(b2.len == b.len && memcmp(b.data, b2.data, b.len) == 0, "%s: re-encoding gives the same bytes",
	   ds->name);
	buf_release(&b2);
	buf_release(&b);
	sketch_release(&d);
	sketch_release(&merged);
	sketch_release(&s);
}

/* The fast index is the smallest i with x <= gamma^i, and each bucket's
 * estimate is within alpha of every value in it. */
static void test_index(void)
{
	double gamma = (1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA);
	int bad_index = 0, bad_bound = 0, bad_estimate = 0;
	rng_seed(42);
	for (int k = 0; k < 2000000; k++) {
		/* log-uniform over 1 .. 1e300, denser in 1 .. 2^64 */
		double x = exp(rng_unit() * (k & 1 ? 690 : 44.4));
		if (x < 1)
			x = 1;
		int32_t i = sketch_index(x);
		double exact = ceil(log(x) / log(gamma));
		double up = pow(gamma, i), down = pow(gamma, i - 1);
		if (i != exact && fabs(log(x) / log(gamma) - round(log(x) / log(gamma))) > 1e-9)
			bad_index++;
		if (!(x <= up && (i == 0 || x > down)))
			bad_bound++;
		if (fabs(sketch_bucket_value(i) - x) > SKETCH_ALPHA * x)
			bad_estimate++;
	}
	is_int(bad_index, 0, "fast index agrees with ceil(log_gamma(x)) away from boundaries");
	is_int(bad_bound, 0, "gamma^(i-1) < x <= gamma^i");
	is_int(bad_estimate, 0, "bucket estimate 2 gamma^i / (gamma + 1) within alpha of x");

	/* exact boundaries and the edges of the fast path */
	is_int(sketch_index(1), 0, "index of 1 ns");
	int edges_ok = 1;
	for (int32_t i = 1; i < 3000; i++) {
		double b = pow(gamma, i);
		if (sketch_index(b) != i || sketch_index(nextafter(b, INFINITY)) != i + 1)
			edges_ok = 0;
	}
	ok(edges_ok, "gamma^i is in bucket i, the next double in bucket i+1");
	double two64 = ldexp(1, 64);
	ok(sketch_index(two64) == sketch_index(nextafter(two64, 0)) ||
		   sketch_index(two64) == sketch_index(nextafter(two64, 0)) + 1,
	   "index continuous across 2^64 (fast to slow path)");
	ok(sketch_index(1.7976931348623157e308) > 35000, "DBL_MAX has an index (%d)",
	   sketch_index(1.7976931348623157e308));
	ok(sketch_error_bound() == SKETCH_ALPHA, "error bound is alpha");
}

static void test_edges(void)
{
	struct sketch s, t;
	sketch_init(&s);
	ok(isnan(sketch_quantile(&s, 0.5)), "empty: quantile is NaN");
	is_int(sketch_count(&s), 0, "empty: count 0");
	ok(sketch_min(&s) == 0 && sketch_max(&s) == 0 && sketch_sum(&s) == 0, "empty: min, max, sum 0");
	is_int(sketch_add(&s, -1), -1, "negative refused");
	is_int(sketch_add(&s, NAN), -1, "NaN refused");
	is_int(sketch_add(&s, INFINITY), -1, "infinity refused");
	is_int(sketch_count(&s), 0, "refused values are not counted");

	/* zero bucket: [0, 1) ns */
	double v[] = {0, 0.5, 0.25, 10, 100};
	for (size_t i = 0; i < 5; i++)
		sketch_add(&s, v[i]);
	is_int(s.zero_count, 3, "three values in the zero bucket");
	ok(sketch_quantile(&s, 0.2) == 0 && sketch_quantile(&s, 0.6) == 0, "zero bucket ranks report min");
	ok(fabs(sketch_quantile(&s, 0.8) - 10) <= 0.1, "q=0.8 is 10 (%.6g)", sketch_quantile(&s, 0.8));
	ok(sketch_quantile(&s, 1) == 100 && sketch_quantile(&s, 0) == 0, "q=0 and q=1 exact");
	ok(isnan(sketch_quantile(&s, 1.5)) && isnan(sketch_quantile(&s, -0.1)) &&
		   isnan(sketch_quantile(&s, NAN)),
	   "q outside [0, 1] is NaN");

	/* add_n is n adds; merging with itself doubles */
	struct sketch a, b;
	sketch_init(&a);
	sketch_init(&b);
	for (int i = 0; i < 7; i++)
		sketch_add(&a, 1234.5);
	sketch_add(&a, 0.5);
	sketch_add_n(&b, 1234.5, 7);
	sketch_add_n(&b, 0.5, 1);
	sketch_add_n(&b, 99, 0);
	ok(same_buckets(&a, &b) && a.sum == b.sum, "add_n(v, 7) equals 7 adds");
	sketch_merge(&b, &b);
	sketch_add_n(&a, 1234.5, 7);
	sketch_add(&a, 0.5);
	ok(same_buckets(&a, &b), "merge with itself doubles every bucket");
	sketch_release(&a);
	sketch_release(&b);

	/* integer nanoseconds sum exactly in any order (below 2^53) */
	sketch_init(&a);
	sketch_init(&b);
	double isum = 0;
	for (int i = 0; i < 10000; i++) {
		double x = (double)(rng_next() % 1000000000);
		isum += x;
		sketch_add(i & 1 ? &a : &b, x);
	}
	sketch_merge(&a, &b);
	ok(sketch_sum(&a) == isum, "integer ns: merged sum exact (%.17g)", sketch_sum(&a));
	sketch_release(&a);
	sketch_release(&b);

	/* count overflow is refused and changes nothing */
	sketch_init(&t);
	is_int(sketch_add_n(&t, 5, UINT64_MAX), 0, "2^64-1 values at once");
	is_int(sketch_add(&t, 5), -1, "one more overflows: refused");
	is_int(sketch_merge(&t, &s), -1, "merge that overflows: refused");
	ok(t.count == UINT64_MAX && t.min == 5, "overflowing sketch unchanged");
	sketch_clear(&t);
	is_int(sketch_count(&t), 0, "clear empties");
	ok(sketch_add(&t, 3) == 0 && sketch_quantile(&t, 0.5) == 3, "usable after clear");
	sketch_release(&t);
	sketch_release(&s);
}

/* Past SKETCH_MAX_BUCKETS the lowest buckets collapse; the high quantiles
 * keep the guarantee and the result does not depend on the order. */
static void test_collapse(double *data, double *sorted)
{
	struct sketch up, down, halves, h2;
	size_t n = 20000;
	rng_seed(7);
	for (size_t i = 0; i < n; i++)
		data[i] = exp(rng_unit() * 69); /* 1 ns .. 1e30 ns: 3450 buckets wide */
	memcpy(sorted, data, n * sizeof(*data));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	sketch_init(&up);
	sketch_init(&down);
	sketch_init(&halves);
	sketch_init(&h2);
	for (size_t i = 0; i < n; i++) {
		sketch_add(&up, sorted[i]);
		sketch_add(&down, sorted[n - 1 - i]);
		sketch_add(i & 1 ? &halves : &h2, data[i]);
	}
	sketch_merge(&halves, &h2);
	is_int(up.hi - up.lo + 1, SKETCH_MAX_BUCKETS, "collapsed to the bucket bound");
	ok(up.cap <= SKETCH_MAX_BUCKETS, "array within the bound (%u)", up.cap);
	ok(same_buckets(&up, &down) && same_buckets(&up, &halves),
	   "ascending, descending and merged halves give the same sketch");
	is_int(sketch_count(&up), n, "count exact after collapsing");
	int bad = 0, checked = 0;
	double floor_value = pow((1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA), up.lo);
	for (double q = 0.01; q < 1; q += 0.01) {
		double want = exact_quantile(sorted, n, q);
		if (want <= floor_value)
			continue; /* in the collapsed bucket: no guarantee */
		checked++;
		if (fabs(sketch_quantile(&up, q) - want) > SKETCH_ALPHA * want)
			bad++;
	}
	ok(bad == 0 && checked > 50, "%d quantiles above the collapsed bucket within alpha, %d not", checked,
	   bad);
	ok(sketch_quantile(&up, 0.001) >= sorted[0] && sketch_quantile(&up, 0.001) <= sorted[n - 1],
	   "a collapsed quantile stays within [min, max]");

	struct buf b;
	struct sketch d;
	char err[256] = "";
	buf_init(&b, BUF_NO_LIMIT);
	sketch_init(&d);
	sketch_encode(&up, &b);
	is_int(sketch_decode(&d, b.data, b.len, err, sizeof(err)), 0, "collapsed sketch decodes %s", err);
	ok(same_buckets(&d, &up), "collapsed sketch round trip");
	buf_release(&b);
	sketch_release(&d);
	sketch_release(&up);
	sketch_release(&down);
	sketch_release(&halves);
	sketch_release(&h2);
}

/* A decoded sketch must behave: quantiles within [min, max], monotone,
 * and a second round trip exact. */
static int decoded_sane(const struct sketch *s)
{
	double prev = -1;
	for (double q = 0; q <= 1; q += 0.125) {
		double v = sketch_quantile(s, q);
		if (s->count && !(v >= s->min && v <= s->max && v >= prev))
			return 0;
		prev = v;
	}
	struct buf b;
	struct sketch t;
	char err[256];
	int same;
	buf_init(&b, BUF_NO_LIMIT);
	sketch_init(&t);
	sketch_encode(s, &b);
	same = sketch_decode(&t, b.data, b.len, err, sizeof(err)) == 0 && same_buckets(s, &t);
	buf_release(&b);
	sketch_release(&t);
	return same;
}

static int decode_bytes(const void *p, size_t len, char *err, size_t errlen)
{
	struct sketch s;
	sketch_init(&s);
	sketch_add(&s, 77); /* must survive a failed decode */
	int rc = sketch_decode(&s, p, len, err, errlen);
	if (rc < 0 && (s.count != 1 || s.max != 77))
		rc = -2;
	if (rc == 0 && !decoded_sane(&s))
		rc = -3;
	sketch_release(&s);
	return rc;
}

/* Hand-made encodings: header fields, then runs of (gap, len, counts). */
static void put_f64(struct buf *b, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, 8);
	for (int k = 0; k < 8; k++)
		buf_putc(b, (char)(bits >> (8 * k)));
}

static void put_header(struct buf *b, uint64_t count, double min, double max, uint64_t zero, uint64_t runs)
{
	buf_reset(b);
	buf_putc(b, 1);
	buf_put_varint(b, 100);
	buf_put_varint(b, count);
	put_f64(b, min);
	put_f64(b, max);
	put_f64(b, min + max);
	buf_put_varint(b, zero);
	buf_put_varint(b, runs);
}

static void test_decode_rejects(void)
{
	struct buf b;
	char err[256];
	buf_init(&b, BUF_NO_LIMIT);
	int32_t i100 = sketch_index(100);

	put_header(&b, 2, 100, 100, 0, 1);
	buf_put_varint(&b, (uint64_t)i100);
	buf_put_varint(&b, 1);
	buf_put_varint(&b, 2);
	is_int(decode_bytes(b.data, b.len, err, sizeof(err)), 0, "hand-made sketch decodes");
	buf_putc(&b, 0);
	is_int(decode_bytes(b.data, b.len, err, sizeof(err)), -1, "trailing byte: %s", err);

	const char *cases[] = {"version",    "alpha", "count", "overlong", "min>max", "nan",
			       "zero>count", "runs",  "len",   "index",	   "span",    "max bucket"};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		put_header(&b, 2, 100, 100, 0, 1);
		switch (c) {
		case 0: b.data[0] = 2; break;
		case 1: b.data[1] = 50; break;
		case 2: put_header(&b, 3, 100, 100, 0, 1); break;
		case 3: /* a count varint of 11 bytes */
			buf_reset(&b);
			buf_append(&b, "\x01\x64\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 12);
			break;
		case 4: put_header(&b, 2, 200, 100, 0, 1); break;
		case 5: put_header(&b, 2, NAN, 100, 0, 1); break;
		case 6: put_header(&b, 2, 100, 100, 3, 1); break;
		case 7: put_header(&b, 2, 100, 100, 0, 1u << 20); break;
		}
		if (c < 8) {
			buf_put_varint(&b, (uint64_t)i100);
			buf_put_varint(&b, 1);
			buf_put_varint(&b, 2);
		} else if (c == 8) {
			buf_put_varint(&b, (uint64_t)i100);
			buf_put_varint(&b, 1000000); /* run longer than the input */
			buf_put_varint(&b, 2);
		} else if (c == 9) {
			buf_put_varint(&b, 40000); /* past the index of DBL_MAX */
			buf_put_varint(&b, 1);
			buf_put_varint(&b, 2);
		} else if (c == 10) {
			put_header(&b, 2, 100, 100, 0, 2);
			buf_put_varint(&b, 0);
			buf_put_varint(&b, 1);
			buf_put_varint(&b, 1);
			buf_put_varint(&b, 3000); /* 3000 buckets apart */
			buf_put_varint(&b, 1);
			buf_put_varint(&b, 1);
		} else {
			buf_put_varint(&b, (uint64_t)i100 + 50); /* max says another bucket */
			buf_put_varint(&b, 1);
			buf_put_varint(&b, 2);
		}
		err[0] = 0;
		is_int(decode_bytes(b.data, b.len, err, sizeof(err)), -1, "rejects %s: %s", cases[c], err);
	}
	is_int(decode_bytes("", 0, err, sizeof(err)), -1, "rejects empty input: %s", err);
	is_int(decode_bytes("\x01\x64\x00", 3, err, sizeof(err)), 0, "empty sketch decodes");
	buf_release(&b);
}

/* Truncations, byte corruption and random bytes: no crash, and whatever
 * decodes is a sane sketch. */
static void test_decode_untrusted(void)
{
	struct sketch s;
	struct buf b;
	char err[256];
	sketch_init(&s);
	rng_seed(99);
	for (int i = 0; i < 3000; i++)
		sketch_add(&s, i % 10 == 0 ? rng_unit() : gen_bimodal());
	buf_init(&b, BUF_NO_LIMIT);
	sketch_encode(&s, &b);

	int truncated_ok = 1;
	for (size_t len = 0; len < b.len; len++)
		if (decode_bytes(b.data, len, err, sizeof(err)) != -1)
			truncated_ok = 0;
	ok(truncated_ok, "every one of %zu truncations rejected", b.len);

	int corrupt_bad = 0, accepted = 0;
	uint8_t *copy = malloc(b.len);
	for (size_t pos = 0; pos < b.len; pos++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, b.data, b.len);
			copy[pos] ^= (uint8_t)(1u << bit);
			int rc = decode_bytes(copy, b.len, err, sizeof(err));
			if (rc < -1)
				corrupt_bad++;
			accepted += rc == 0;
		}
	}
	free(copy);
	is_int(corrupt_bad, 0, "single bit flips: no insane result (%d of %zu accepted)", accepted,
	       b.len * 8);

	int random_bad = 0;
	uint8_t junk[64];
	for (int k = 0; k < 200000; k++) {
		size_t len = rng_next() % sizeof(junk);
		for (size_t i = 0; i < len; i++)
			junk[i] = (uint8_t)rng_next();
		if (len > 2 && k & 1) /* a valid start, so the fuzzing gets past it */
			junk[0] = 1, junk[1] = 100, junk[2] &= 0x0f;
		if (decode_bytes(junk, len, err, sizeof(err)) < -1)
			random_bad++;
	}
	is_int(random_bad, 0, "random bytes: no insane result");

	struct buf small;
	buf_init(&small, 10);
	is_int(sketch_encode(&s, &small), -1, "encode into a too small buffer fails");
	is_int(small.len, 0, "and leaves the buffer as it was");
	buf_release(&small);
	buf_release(&b);
	sketch_release(&s);
}

/* Values >= a threshold: exact outside [min, max], else off by at most the
 * values in the threshold's bucket. */
static void test_count_at_least(void)
{
	struct sketch s;
	sketch_init(&s);
	is_int(sketch_count_at_least(&s, 5), 0, "count_at_least: empty sketch");
	for (int i = 1; i <= 1000; i++)
		sketch_add(&s, i * 1000.0);
	is_int(sketch_count_at_least(&s, 1), 1000, "count_at_least: below min, all");
	is_int(sketch_count_at_least(&s, 1000.0), 1000, "count_at_least: at min, all");
	is_int(sketch_count_at_least(&s, 1000001.0), 0, "count_at_least: above max, none");
	uint64_t top = sketch_count_at_least(&s, 1000000.0);
	ok(top >= 1 && top <= 21, "count_at_least(max) = %llu: the max and its bucket",
	   (unsigned long long)top);
	uint64_t got = sketch_count_at_least(&s, 500000.0); /* exactly 501 values */
	ok(got >= 501 - 11 && got <= 501 + 11,
	   "count_at_least(500000) = %llu, 501 within the bucket's values", (unsigned long long)got);
	ok(sketch_count_at_least(&s, NAN) == 0, "count_at_least: NaN counts nothing");
	sketch_release(&s);
}

int main(void)
{
	test_count_at_least();
	double *data = malloc(N * sizeof(*data)), *sorted = malloc(N * sizeof(*sorted));
	for (size_t i = 0; i < sizeof(datasets) / sizeof(datasets[0]); i++)
		test_dataset(&datasets[i], data, sorted);
	test_index();
	test_edges();
	test_collapse(data, sorted);
	test_decode_rejects();
	test_decode_untrusted();
	free(data);
	free(sorted);
	return tap_done();
}
