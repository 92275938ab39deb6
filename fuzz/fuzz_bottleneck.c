/*
 * fuzz_bottleneck.c - the encoded bottleneck ranking (a kept aggregate read
 * back from the store) on arbitrary bytes.
 *
 * Whatever merges must be a working ranking: it finishes, its entries'
 * critical time sums to at most what it says it merged, and encoding it
 * again (compacted) and merging that into a fresh ranking gives the same
 * requests, entries and critical time.  A broken promise aborts, so
 * libFuzzer reports it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/bottleneck.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bottleneck b, again;
	struct buf enc;
	bottleneck_init(&b);
	bottleneck_init(&again);
	buf_init(&enc, BUF_NO_LIMIT);
	if (bottleneck_merge_encoded(&b, data, size, 0) == 0) {
		bottleneck_compact(&b);
		bottleneck_encode(&b, &enc);
		if (bottleneck_merge_encoded(&again, enc.data, enc.len, 0) < 0)
			abort();
		if (again.n != b.n || again.requests != b.requests || again.critical_ns != b.critical_ns)
			abort();
	}
	bottleneck_finish(&b);
	bottleneck_finish(&again);
	buf_release(&enc);
	bottleneck_release(&b);
	bottleneck_release(&again);
	return 0;
}
