/*
 * fuzz_sketch.c - the sketch decoder on arbitrary bytes.
 *
 * Whatever decodes must be a working sketch: quantiles within [min, max]
 * and non-decreasing in q, a re-encoding that decodes to the same bytes
 * again, and merges (with itself and with a small sketch) that keep the
 * count.  A broken promise aborts, so libFuzzer reports it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sketch.h"
#include "core/buf.h"

static void check_quantiles(const struct sketch *s)
{
	static const double qs[] = {0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1};
	double prev = -1;
	if (!sketch_count(s)) {
		if (!isnan(sketch_quantile(s, 0.5)))
			abort();
		return;
	}
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		double v = sketch_quantile(s, qs[k]);
		if (!(v >= sketch_min(s) && v <= sketch_max(s) && v >= prev))
			abort();
		prev = v;
	}
}

static void encode(const struct sketch *s, struct buf *b)
{
	buf_reset(b);
	if (sketch_encode(s, b) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct sketch s, t;
	struct buf a, b;
	sketch_init(&s);
	if (sketch_decode(&s, data, size, err, sizeof(err)) < 0) {
		sketch_release(&s);
		return 0;
	}
	check_quantiles(&s);

	sketch_init(&t);
	buf_init(&a, BUF_NO_LIMIT);
	buf_init(&b, BUF_NO_LIMIT);
	encode(&s, &a);
	if (sketch_decode(&t, a.data, a.len, err, sizeof(err)) < 0)
		abort();
	encode(&t, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();

	uint64_t n = sketch_count(&s);
	if (n <= UINT64_MAX / 2 && (sketch_merge(&t, &s) < 0 || sketch_count(&t) != 2 * n))
		abort();
	check_quantiles(&t);
	sketch_clear(&t);
	sketch_add(&t, 0.5);
	sketch_add(&t, 1e6);
	if (n < UINT64_MAX - 2 && sketch_merge(&t, &s) < 0)
		abort();
	check_quantiles(&t);

	buf_release(&a);
	buf_release(&b);
	sketch_release(&t);
	sketch_release(&s);
	return 0;
}
