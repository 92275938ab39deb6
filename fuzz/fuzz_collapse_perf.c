/*
 * fuzz_collapse_perf.c - libFuzzer target for the `perf script` collapser.
 *
 * The first byte picks the options and where to split the input in two
 * feeds; small limits make the limit paths reachable.  Checks that feeding
 * in one piece or two gives the same result, and that the output is sorted
 * "stack COUNT" lines.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "profile/collapse_perf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int append(void *ctx, const char *d, size_t n)
{
	return buf_append(ctx, d, n);
}

static int run(const char *in, size_t n, size_t split, const struct collapse_perf_opts *o, struct buf *out)
{
	char err[256];
	struct collapse_perf *c = collapse_perf_new(o);
	int r = collapse_perf_feed(c, in, split, err, sizeof(err));
	if (!r)
		r = collapse_perf_feed(c, in + split, n - split, err, sizeof(err));
	if (!r)
		r = collapse_perf_finish(c, err, sizeof(err));
	if (!r)
		collapse_perf_write(c, append, out);
	collapse_perf_free(c);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct collapse_perf_opts o = {
		.flags = data[0] & 0x1f,
		.max_line = 4096,
		.max_depth = 64,
		.max_stack = 8192,
		.max_memory = 1 << 20,
	};
	const char *in = (const char *)data + 2;
	size_t n = size - 2, split = n ? data[1] % (n + 1) : 0;
	struct buf a, b;
	buf_init(&a, BUF_NO_LIMIT);
	buf_init(&b, BUF_NO_LIMIT);
	int ra = run(in, n, 0, &o, &a);
	int rb = run(in, n, split, &o, &b);
	if (ra != rb || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len)))
		abort(); /* chunking must not change the result */
	/* output: lines "STACK COUNT", stacks strictly increasing */
	const char *p = a.data, *end = a.data ? a.data + a.len : NULL, *prev = NULL;
	size_t prev_len = 0;
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *sp = nl ? memrchr(p, ' ', (size_t)(nl - p)) : NULL;
		if (!nl || !sp || sp + 1 == nl)
			abort();
		size_t len = (size_t)(sp - p), m = len < prev_len ? len : prev_len;
		if (prev) {
			int c = memcmp(prev, p, m);
			if (c > 0 || (c == 0 && prev_len >= len))
				abort();
		}
		prev = p;
		prev_len = len;
		p = nl + 1;
	}
	buf_release(&a);
	buf_release(&b);
	return 0;
}
