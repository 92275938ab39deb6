/*
 * sketch.c - DDSketch quantile sketch with a dense, bounded bucket store.
 *
 * Owns bucket indexing, the bucket array (grown at either end, collapsed
 * at the low end past SKETCH_MAX_BUCKETS), quantile estimation and the
 * binary form.  See sketch.h for the API and docs/internals/SKETCH.md for
 * the algorithm and the format.
 *
 * Indexing avoids log() on the insert path: for 1 <= x < 2^64 the exponent
 * and the top 6 mantissa bits of x pick one of 4096 sub-octaves.  A
 * sub-octave is narrower than a bucket (ratio 1 + 1/64 < gamma), so it
 * meets at most two buckets: a table gives the lower one and a single
 * comparison with gamma^i decides.  The result is exactly the index defined
 * by the bound table, not an approximation.
 */
#include "core/sketch.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"

#define FORMAT_VERSION 1
/* SKETCH_ALPHA in units of 1e-4, as stored in the binary form. */
#define ALPHA_E4     100
#define SUB_BITS     6
#define FAST_OCTAVES 64
/* Bound table entries: every index the fast path can produce, plus one. */
#define N_BOUNDS 2240

static struct {
	double gamma, ln_gamma, value_scale; /* value_scale = 2 / (gamma + 1) */
	int32_t index_max;		     /* index of DBL_MAX */
	double bound[N_BOUNDS];		     /* gamma^i */
	int16_t low_index[FAST_OCTAVES << SUB_BITS];
} T;

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static double bound_of(int32_t i)
{
	return i >= 0 && i < N_BOUNDS ? T.bound[i] : pow(T.gamma, i);
}

/* The smallest i with x <= gamma^i, from log() and then corrected against
 * the bound itself so every path agrees on the boundaries. */
static int32_t slow_index(double x)
{
	int32_t i = (int32_t)ceil(log(x) / T.ln_gamma);
	while (i > 0 && x <= bound_of(i - 1))
		i--;
	while (x > bound_of(i))
		i++;
	return i;
}

static void init_tables(void)
{
	T.gamma = (1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA);
	T.ln_gamma = log(T.gamma);
	T.value_scale = 2 / (T.gamma + 1);
	for (int32_t i = 0; i < N_BOUNDS; i++)
		T.bound[i] = pow(T.gamma, i);
	for (int k = 0; k < (FAST_OCTAVES << SUB_BITS); k++) {
		double lower =
			ldexp(1 + (double)(k & ((1 << SUB_BITS) - 1)) / (1 << SUB_BITS), k >> SUB_BITS);
		T.low_index[k] = (int16_t)slow_index(lower);
	}
	T.index_max = slow_index(DBL_MAX);
}

static void tables(void)
{
	pthread_once(&tables_once, init_tables);
}

/* x >= SKETCH_MIN_VALUE and finite; the tables are set up. */
static inline int32_t index_of(double x)
{
	uint64_t bits;
	memcpy(&bits, &x, sizeof(bits));
	uint32_t octave = (uint32_t)(bits >> 52) - 1023;
	if (octave < FAST_OCTAVES) {
		int32_t i = T.low_index[(octave << SUB_BITS) | (uint32_t)((bits >> (52 - SUB_BITS)) & 63)];
		return i + (x > T.bound[i]);
	}
	return slow_index(x);
}

int32_t sketch_index(double value)
{
	tables();
	return index_of(value);
}

double sketch_bucket_value(int32_t index)
{
	tables();
	return bound_of(index) * T.value_scale;
}

double sketch_error_bound(void)
{
	return SKETCH_ALPHA;
}

void sketch_init(struct sketch *s)
{
	tables();
	memset(s, 0, sizeof(*s));
	s->lo = INT32_MAX;
	s->hi = INT32_MIN;
	s->min = INFINITY;
	s->max = -INFINITY;
}

void sketch_release(struct sketch *s)
{
	free(s->counts);
	sketch_init(s);
}

void sketch_clear(struct sketch *s)
{
	sketch_release(s);
}

static int has_buckets(const struct sketch *s)
{
	return s->lo <= s->hi;
}

/* Move the buckets to a new array whose window covers [lo, hi]
 * (hi - lo < SKETCH_MAX_BUCKETS); buckets below lo are added into lo. */
static void rebase(struct sketch *s, int32_t lo, int32_t hi)
{
	uint32_t need = (uint32_t)(hi - lo) + 1, cap = s->cap ? s->cap * 2 : 64;
	while (cap < need)
		cap *= 2;
	if (cap > SKETCH_MAX_BUCKETS)
		cap = SKETCH_MAX_BUCKETS;
	int32_t base, slack = (int32_t)(cap - need);
	if (!has_buckets(s))
		base = lo - slack / 2; /* no direction yet: room on both sides */
	else if (lo < s->base)
		base = lo - slack; /* growing down: room below */
	else
		base = lo; /* growing up: room above */
	if (base < 0 && lo >= 0)
		base = 0; /* indices are never negative */

	uint64_t *counts = xcalloc(cap, sizeof(*counts));
	if (has_buckets(s)) {
		for (int32_t i = s->lo; i <= s->hi; i++)
			counts[(i < lo ? lo : i) - base] += s->counts[i - s->base];
		if (s->lo < lo)
			s->lo = lo;
	}
	free(s->counts);
	s->counts = counts;
	s->base = base;
	s->cap = cap;
}

/* Make buckets [lo, hi] addressable, collapsing the lowest buckets if the
 * range would pass SKETCH_MAX_BUCKETS.  Returns the lowest bucket that may
 * be used now: lower indices must be added into it. */
static int32_t reserve(struct sketch *s, int32_t lo, int32_t hi)
{
	if (has_buckets(s)) {
		if (s->lo < lo)
			lo = s->lo;
		if (s->hi > hi)
			hi = s->hi;
	}
	if (hi - lo >= SKETCH_MAX_BUCKETS)
		lo = hi - SKETCH_MAX_BUCKETS + 1;
	if (!s->cap || lo < s->base || hi - s->base >= (int32_t)s->cap)
		rebase(s, lo, hi);
	return lo;
}

static void set_range(struct sketch *s, int32_t i)
{
	if (i < s->lo)
		s->lo = i;
	if (i > s->hi)
		s->hi = i;
}

static __attribute__((noinline)) void bucket_add_slow(struct sketch *s, int32_t i, uint64_t n)
{
	int32_t floor = reserve(s, i, i);
	if (i < floor)
		i = floor;
	s->counts[i - s->base] += n;
	set_range(s, i);
}

static inline void bucket_add(struct sketch *s, int32_t i, uint64_t n)
{
	uint32_t at = (uint32_t)i - (uint32_t)s->base;
	if (__builtin_expect(at >= s->cap, 0)) {
		bucket_add_slow(s, i, n);
		return;
	}
	s->counts[at] += n;
	set_range(s, i);
}

static inline int add(struct sketch *s, double value, uint64_t n)
{
	/* !(value >= 0) also refuses NaN */
	if (!(value >= 0) || value == INFINITY || s->count + n < n)
		return -1;
	if (value < SKETCH_MIN_VALUE)
		s->zero_count += n;
	else
		bucket_add(s, index_of(value), n);
	s->count += n;
	s->sum += n == 1 ? value : value * (double)n;
	if (value < s->min)
		s->min = value;
	if (value > s->max)
		s->max = value;
	return 0;
}

int sketch_add(struct sketch *s, double value)
{
	return add(s, value, 1);
}

int sketch_add_n(struct sketch *s, double value, uint64_t count)
{
	return count ? add(s, value, count) : 0;
}

int sketch_merge(struct sketch *dst, const struct sketch *src)
{
	if (!src->count)
		return 0;
	if (dst->count + src->count < src->count)
		return -1;
	if (has_buckets(src)) {
		int32_t lo = src->lo, hi = src->hi, base = src->base;
		const uint64_t *from = src->counts;
		/* with dst == src the range is already there: no new array */
		int32_t floor = reserve(dst, lo, hi);
		for (int32_t i = lo; i <= hi; i++) {
			uint64_t c = from[i - base];
			if (!c)
				continue;
			int32_t j = i < floor ? floor : i;
			dst->counts[j - dst->base] += c;
			set_range(dst, j);
		}
	}
	dst->zero_count += src->zero_count;
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	return 0;
}

double sketch_quantile(const struct sketch *s, double q)
{
	if (!s->count || !(q >= 0 && q <= 1))
		return NAN;
	if (q == 0)
		return s->min;
	if (q == 1)
		return s->max;
	double r = ceil(q * (double)s->count);
	uint64_t rank = r < 1 ? 1 : r >= (double)s->count ? s->count : (uint64_t)r;
	if (rank <= s->zero_count)
		return s->min; /* the estimate 0, clamped */
	uint64_t seen = s->zero_count;
	double v = s->max;
	for (int32_t i = s->lo; i <= s->hi; i++) {
		seen += s->counts[i - s->base];
		if (seen >= rank) {
			v = bound_of(i) * T.value_scale;
			break;
		}
	}
	return v < s->min ? s->min : v > s->max ? s->max : v;
}

uint64_t sketch_count_at_least(const struct sketch *s, double v)
{
	if (!s->count || !(v <= s->max))
		return 0;
	if (v <= s->min)
		return s->count;
	uint64_t n = 0;
	for (int32_t i = s->hi; i >= s->lo; i--) {
		/* the bucket's estimate; the highest holds the max */
		double est = i == s->hi ? s->max : bound_of(i) * T.value_scale;
		if (est < v)
			break;
		n += s->counts[i - s->base];
	}
	return n;
}

/* --- binary form ------------------------------------------------------- */

static void put_f64(uint8_t *p, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	for (int k = 0; k < 8; k++)
		p[k] = (uint8_t)(bits >> (8 * k));
}

/* A gap of this many empty buckets or fewer stays inside a run: each costs
 * one byte there, while a new run costs at least two. */
#define RUN_BRIDGE 2

/* The end of the run of buckets starting at the non-empty bucket i. */
static int32_t run_end(const struct sketch *s, int32_t i)
{
	int32_t end = i;
	for (int32_t j = i + 1; j <= s->hi && j - end <= RUN_BRIDGE + 1; j++)
		if (s->counts[j - s->base])
			end = j;
	return end;
}

static int encode_body(const struct sketch *s, struct buf *out)
{
	uint8_t head[1 + 10 + 10];
	size_t n = 0;
	head[n++] = FORMAT_VERSION;
	head[n++] = ALPHA_E4;
	if (buf_append(out, head, n) < 0 || buf_put_varint(out, s->count) < 0)
		return -1;
	if (!s->count)
		return 0;
	uint8_t f[24];
	put_f64(f, s->min);
	put_f64(f + 8, s->max);
	put_f64(f + 16, s->sum);
	if (buf_append(out, f, sizeof(f)) < 0 || buf_put_varint(out, s->zero_count) < 0)
		return -1;

	uint64_t runs = 0;
	for (int32_t i = s->lo; has_buckets(s) && i <= s->hi; i = run_end(s, i) + 1) {
		while (!s->counts[i - s->base])
			i++;
		runs++;
	}
	if (buf_put_varint(out, runs) < 0)
		return -1;
	int32_t prev_end = -1;
	for (int32_t i = s->lo; has_buckets(s) && i <= s->hi;) {
		while (!s->counts[i - s->base])
			i++;
		int32_t end = run_end(s, i);
		uint64_t gap = prev_end < 0 ? (uint64_t)i : (uint64_t)(i - prev_end - 1);
		if (buf_put_varint(out, gap) < 0 || buf_put_varint(out, (uint64_t)(end - i) + 1) < 0)
			return -1;
		for (int32_t j = i; j <= end; j++)
			if (buf_put_varint(out, s->counts[j - s->base]) < 0)
				return -1;
		prev_end = end;
		i = end + 1;
	}
	return 0;
}

int sketch_encode(const struct sketch *s, struct buf *out)
{
	size_t start = out->len;
	if (encode_body(s, out) < 0) {
		out->len = start;
		if (out->data)
			out->data[start] = 0;
		return -1;
	}
	return 0;
}

struct reader {
	const uint8_t *p, *end;
};

static int get_varint(struct reader *r, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p == r->end)
			return -1;
		uint8_t b = *r->p++;
		if (shift == 63 && b > 1)
			return -1; /* more than 64 bits */
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static int get_f64(struct reader *r, double *v)
{
	if (r->end - r->p < 8)
		return -1;
	uint64_t bits = 0;
	for (int k = 0; k < 8; k++)
		bits |= (uint64_t)r->p[k] << (8 * k);
	r->p += 8;
	memcpy(v, &bits, sizeof(*v));
	return 0;
}

struct decoded {
	uint64_t count, zero_count, runs, bucket_total;
	double min, max, sum;
	int32_t lo, hi; /* non-empty buckets; lo > hi when none */
};

/* Read and validate the runs in one pass, finding lo, hi and the total;
 * bucket i goes to counts[i - lo] (SKETCH_MAX_BUCKETS entries), with the
 * empty buckets between lo and hi set to zero. */
static int read_runs(struct reader *r, struct decoded *d, uint64_t *counts, char *err, size_t errlen)
{
	uint64_t next = 0, total = 0, budget = d->count - d->zero_count;
	d->lo = INT32_MAX;
	d->hi = INT32_MIN;
	for (uint64_t k = 0; k < d->runs; k++) {
		uint64_t gap, len;
		if (get_varint(r, &gap) < 0 || get_varint(r, &len) < 0)
			return errf(err, errlen, "sketch: truncated run %llu", (unsigned long long)k);
		if (gap > (uint64_t)T.index_max || next + gap > (uint64_t)T.index_max)
			return errf(err, errlen, "sketch: run %llu starts past the last bucket",
				    (unsigned long long)k);
		uint64_t start = next + gap;
		if (!len || len > (uint64_t)(r->end - r->p) || len - 1 > (uint64_t)T.index_max - start)
			return errf(err, errlen, "sketch: bad length %llu of run %llu",
				    (unsigned long long)len, (unsigned long long)k);
		for (uint64_t j = 0; j < len; j++) {
			uint64_t c;
			int32_t i = (int32_t)(start + j);
			if (get_varint(r, &c) < 0)
				return errf(err, errlen, "sketch: truncated bucket %d", i);
			if (c > budget - total)
				return errf(err, errlen, "sketch: buckets hold more than the count");
			if (!c)
				continue;
			total += c;
			if (d->lo == INT32_MAX) /* runs ascend: the first bucket is the lowest */
				d->lo = d->hi = i;
			if (i - d->lo >= SKETCH_MAX_BUCKETS)
				return errf(err, errlen, "sketch: more than %d buckets", SKETCH_MAX_BUCKETS);
			for (int32_t z = d->hi + 1; z < i; z++)
				counts[z - d->lo] = 0;
			counts[i - d->lo] = c;
			d->hi = i;
		}
		next = start + len;
	}
	d->bucket_total = total;
	return 0;
}

static int read_header(struct reader *r, struct decoded *d, char *err, size_t errlen)
{
	uint64_t alpha;
	memset(d, 0, sizeof(*d));
	if (r->p == r->end)
		return errf(err, errlen, "sketch: empty input");
	if (*r->p != FORMAT_VERSION)
		return errf(err, errlen, "sketch: unknown format version %u", *r->p);
	r->p++;
	if (get_varint(r, &alpha) < 0 || get_varint(r, &d->count) < 0)
		return errf(err, errlen, "sketch: truncated header or bad varint");
	if (alpha != ALPHA_E4)
		return errf(err, errlen, "sketch: relative accuracy %llu/10000, want %d",
			    (unsigned long long)alpha, ALPHA_E4);
	if (!d->count)
		return 0;
	if (get_f64(r, &d->min) < 0 || get_f64(r, &d->max) < 0 || get_f64(r, &d->sum) < 0 ||
	    get_varint(r, &d->zero_count) < 0 || get_varint(r, &d->runs) < 0)
		return errf(err, errlen, "sketch: truncated header");
	if (!(d->min >= 0 && d->min <= d->max && d->max < INFINITY && d->sum >= 0 && d->sum < INFINITY))
		return errf(err, errlen, "sketch: bad min, max or sum");
	if (d->zero_count > d->count)
		return errf(err, errlen, "sketch: zero bucket holds more than the count");
	/* a run takes at least three bytes */
	if (d->runs > SKETCH_MAX_BUCKETS || d->runs > (uint64_t)(r->end - r->p) / 3)
		return errf(err, errlen, "sketch: bad run count %llu", (unsigned long long)d->runs);
	return 0;
}

/* min and max must fall in the buckets that say they hold them.  One
 * bucket of slack: another libm may round gamma^i differently. */
static int check_extremes(const struct decoded *d, char *err, size_t errlen)
{
	int has = d->lo <= d->hi;
	if ((d->zero_count > 0) != (d->min < SKETCH_MIN_VALUE))
		return errf(err, errlen, "sketch: min disagrees with the zero bucket");
	if (has != (d->max >= SKETCH_MIN_VALUE))
		return errf(err, errlen, "sketch: max disagrees with the buckets");
	if (has && llabs((long long)index_of(d->max) - d->hi) > 1)
		return errf(err, errlen, "sketch: max is not in the highest bucket");
	if (has && !d->zero_count && index_of(d->min) > d->lo + 1)
		return errf(err, errlen, "sketch: min is above the lowest bucket");
	return 0;
}

/* Decode and validate into a sketch whose buckets are `scratch`
 * (SKETCH_MAX_BUCKETS entries): a read-only view, never released. */
static int decode_view(struct sketch *v, uint64_t *scratch, const void *data, size_t len, char *err,
		       size_t errlen)
{
	struct reader r = {data, (const uint8_t *)data + len};
	struct decoded d;
	tables();
	if (read_header(&r, &d, err, errlen) < 0)
		return -1;
	if (d.count && read_runs(&r, &d, scratch, err, errlen) < 0)
		return -1;
	if (r.p != r.end)
		return errf(err, errlen, "sketch: %zu bytes after the end", (size_t)(r.end - r.p));
	if (d.bucket_total != d.count - d.zero_count)
		return errf(err, errlen, "sketch: buckets hold %llu values, count says %llu",
			    (unsigned long long)d.bucket_total, (unsigned long long)(d.count - d.zero_count));
	if (d.count && check_extremes(&d, err, errlen) < 0)
		return -1;
	sketch_init(v);
	if (d.count && d.lo <= d.hi) {
		v->counts = scratch;
		v->cap = SKETCH_MAX_BUCKETS;
		v->base = v->lo = d.lo;
		v->hi = d.hi;
	}
	v->count = d.count;
	v->zero_count = d.zero_count;
	v->min = d.min;
	v->max = d.max;
	v->sum = d.sum;
	return 0;
}

int sketch_decode(struct sketch *s, const void *data, size_t len, char *err, size_t errlen)
{
	uint64_t scratch[SKETCH_MAX_BUCKETS];
	struct sketch v;
	if (decode_view(&v, scratch, data, len, err, errlen) < 0)
		return -1;
	sketch_release(s);
	*s = v;
	if (v.counts) {
		uint32_t cap = 64, n = (uint32_t)(v.hi - v.lo) + 1;
		while (cap < n)
			cap *= 2;
		s->counts = xmalloc(cap * sizeof(*s->counts));
		memcpy(s->counts, scratch, n * sizeof(*s->counts));
		memset(s->counts + n, 0, (cap - n) * sizeof(*s->counts));
		s->cap = cap;
	}
	return 0;
}

int sketch_merge_encoded(struct sketch *dst, const void *data, size_t len, char *err, size_t errlen)
{
	uint64_t scratch[SKETCH_MAX_BUCKETS];
	struct sketch v;
	if (decode_view(&v, scratch, data, len, err, errlen) < 0)
		return -1;
	if (sketch_merge(dst, &v) < 0)
		return errf(err, errlen, "sketch: count overflow while merging");
	return 0;
}
